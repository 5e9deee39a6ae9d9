"""Sources of price history: files (CSV, Parquet), exchanges (through ccxt) and the demo generator.

Every source ends in the same validated ingest of the :class:`~riskparams.store.Store`, so a file, a
fetch and the demo data obey the same rules and the same nothing-lost guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from riskparams.domain import Freq, IngestReport, Kind, validate_source, validate_symbol
from riskparams.exceptions import DataError, ExchangeError
from riskparams.returns import to_utc
from riskparams.store import Store, staging

_FREQ_IN_NAME = re.compile(r"(?:^|[_\-.])(1h|4h|1d)(?:[_\-.]|$)", re.IGNORECASE)


def guess_from_filename(path: str | Path) -> dict[str, str | None]:
    """Guess symbol, frequency and kind from names like ``BTC_1h_binance_usdm_perp.csv``.

    Returns
    -------
    dict
        ``symbol`` (the first name part, upper-cased), ``freq`` (``'1h' | '4h' | '1d'`` or None) and
        ``kind`` (``'perp'`` when the name mentions perp, else ``'spot'``).
    """
    stem = Path(path).name.split(".")[0]
    m = _FREQ_IN_NAME.search(stem)
    symbol = re.split(r"[_\-.\s]", stem)[0].upper() or None
    return {
        "symbol": symbol,
        "freq": m.group(1).lower() if m else None,
        "kind": "perp" if re.search(r"perp|swap|futures?", stem, re.IGNORECASE) else "spot",
    }


def _checked(symbol: str, source: str, kind: str | None, freq: str | None) -> tuple[str, str, str, str | None]:
    try:
        sym = validate_symbol(symbol)
        src = validate_source(source)
        k = Kind.parse(kind).value if kind is not None else Kind.SPOT.value
        f = Freq.parse(freq).value if freq is not None else None
    except ValueError as exc:
        raise DataError(str(exc) + ".") from None
    return sym, src, k, f


def ingest_file(
    store: Store,
    path: str | Path,
    *,
    symbol: str,
    source: str = "file",
    kind: str | None = None,
    freq: str | None = None,
    replace: bool = False,
) -> IngestReport:
    """Validate a CSV or Parquet file of OHLCV bars and add it to the store in one transaction.

    Parameters
    ----------
    store : Store
        Target store.
    path : str or Path
        CSV (header row; timestamps ISO-8601 or epoch s/ms; UTC) or Parquet file.
    symbol : str
        Series symbol (validated: letters, digits and ``. _ / : -``).
    source : str
        Source label, e.g. ``'binance'``; default ``'file'``.
    kind : {'spot', 'perp'}, optional
        Market kind; guessed from the file name (``perp`` in it) when omitted.
    freq : {'1h', '4h', '1d'}, optional
        Bar frequency; inferred from the data when omitted.
    replace : bool
        Overwrite stored bars whose values differ (otherwise that is an error).

    Raises
    ------
    DataError
        The file was rejected; the store is unchanged.

    Examples
    --------
    >>> import riskparams, tempfile
    >>> path = f"{tempfile.mkdtemp()}/BTC_1d_binance.csv"
    >>> with open(path, "w") as f:
    ...     print("timestamp,open,high,low,close,volume", file=f)
    ...     print("2024-01-01,42000,42900,41800,42600,1200", file=f)
    ...     print("2024-01-02,42600,45400,42400,45100,2100", file=f)
    >>> store = riskparams.open_store(":memory:")
    >>> report = riskparams.ingest_file(store, path, symbol="BTC", source="binance")
    >>> report.series.label, report.rows_added
    ('BTC 1d spot (binance)', 2)
    >>> riskparams.ingest_file(store, path, symbol="BTC", source="binance").rows_added  # nothing new
    0
    """
    if kind is None:
        kind = guess_from_filename(path)["kind"]
    sym, src, k, f = _checked(symbol, source, kind, freq)
    return store.ingest_file(path, symbol=sym, source=src, kind=k, freq=f, replace=replace)


def ingest_frame(
    store: Store,
    frame: pd.DataFrame,
    *,
    symbol: str,
    source: str,
    kind: str = "spot",
    freq: str | None = None,
    replace: bool = False,
    origin: str,
    synthetic: bool = False,
) -> IngestReport:
    """Validate and store an in-memory OHLCV frame (see :meth:`Store.ingest_frame`).

    The frame has the columns of an input file (a timestamp column, ``open, high, low, close``, optionally
    ``volume``); ``origin`` says where it came from in the ingest log.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import random_walk_ohlc
    >>> bars = random_walk_ohlc(800, seed=1, vol=0.02).reset_index(names="timestamp").assign(volume=1e6)
    >>> bars.columns.tolist()
    ['timestamp', 'open', 'high', 'low', 'close', 'volume']
    >>> store = riskparams.open_store(":memory:")
    >>> report = riskparams.ingest_frame(store, bars, symbol="ABC", source="example", origin="example")
    >>> report.rows_added, report.series.freq, str(report.series.last.date())
    (800, '1d', '2021-03-10')
    >>> riskparams.ingest_frame(store, bars.assign(close=-1.0), symbol="ABC", source="example", origin="example")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.DataError: example ABC: row 1, column 'close': price -1.0 is not positive.
    """
    sym, src, k, f = _checked(symbol, source, kind, freq)
    return store.ingest_frame(
        frame, symbol=sym, source=src, kind=k, freq=f, replace=replace, origin=origin, synthetic=synthetic
    )


def load_demo(store: Store, *, seed: int | None = None) -> list[IngestReport]:
    """Fill the store with the synthetic demo universe (idempotent: a second call adds nothing).

    Every demo symbol ends in ``-SYN`` and its source label is ``synthetic``.

    Examples
    --------
    >>> import riskparams
    >>> store = riskparams.open_store(":memory:")
    >>> reports = riskparams.load_demo(store)
    >>> [(r.series.symbol, r.series.freq, r.rows_added) for r in reports[:3]]
    [('BTC-SYN', '1d', 1491), ('BTC-SYN', '1h', 35784), ('ETH-SYN', '1d', 1491)]
    >>> len(reports), {r.series.kind for r in reports}
    (12, {'perp'})
    >>> all(r.series.synthetic for r in reports), sum(r.rows_added for r in riskparams.load_demo(store))
    (True, 0)
    """
    from riskparams.ingest import demo

    kwargs: dict[str, Any] = {} if seed is None else {"seed": seed}
    reports = []
    for series in demo.generate_demo_universe(**kwargs):
        reports.append(
            store.ingest_frame(
                series.frame,
                symbol=series.symbol,
                source=demo.SOURCE_LABEL,
                kind=series.kind,
                freq=series.freq,
                origin="demo",
                synthetic=True,
            )
        )
    return reports


def seed_demo_if_empty(store: Store) -> list[IngestReport]:
    """Load the demo universe when the store holds no bars; return what was loaded (empty otherwise)."""
    if store.is_empty():
        return load_demo(store)
    return []


def fetch(
    store: Store,
    *,
    exchange: str | Any,
    symbol: str,
    timeframe: str,
    since: datetime | str | None = None,
    store_symbol: str | None = None,
    kind: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    now_ms: Callable[[], int] | None = None,
) -> IngestReport:
    """Fetch OHLCV bars from an exchange through ccxt and store them.

    Resumes from the last stored bar of the series when there is one (``since`` only applies to a
    new series); the still-open bar is never stored.

    Parameters
    ----------
    exchange : str or ccxt exchange
        Exchange name (``'binance'``) or an exchange object (tests inject a fake one).
    symbol : str
        Exchange market, e.g. ``'BTC/USDT'``.
    timeframe : {'1h', '4h', '1d'}
    since : datetime or str, optional
        First bar to fetch for a new series (UTC); default 2019-01-01. A date in the future is a DataError;
        one before 2009-01-03 (no crypto market is older) starts at the exchange's first bar.
    store_symbol : str, optional
        Symbol of the stored series; default the market's base currency (``'BTC'``).
    kind : {'spot', 'perp'}, optional
        Default ``'perp'`` for swap markets (``BTC/USDT:USDT``), else ``'spot'``.
    progress : callable(done_bars, expected_bars), optional
        Called after each page.
    """
    from riskparams.ingest import exchange as ex

    try:
        freq = Freq.parse(timeframe).value
    except ValueError as exc:
        raise ExchangeError(str(exc) + ".") from None
    start = to_utc(since if since is not None else "2019-01-01", "since")
    if start > pd.Timestamp(staging.latest_bar(), tz="UTC"):
        raise DataError(f"since {since!r} is in the future: no closed bar opens after now.")
    start = max(start, pd.Timestamp(staging.EARLIEST_BAR, tz="UTC"))  # no crypto market traded earlier
    exch = ex.make_exchange(exchange) if isinstance(exchange, str) else exchange
    ex_id = str(getattr(exch, "id", exchange))
    if kind is None:
        kind = "perp" if ":" in symbol else "spot"
    sym, src, k, f = _checked(store_symbol or symbol.split("/")[0], ex_id, kind, freq)
    existing = store.find_series(sym, freq=f, source=src, kind=k)
    last = store.last_bar_time(existing[0].series_id) if existing else None
    bar_ms = Freq.parse(freq).seconds * 1000
    if last is not None:
        since_ms = int(pd.Timestamp(last).tz_localize("UTC").value // 1_000_000) + bar_ms
    else:
        since_ms = int(start.value // 1_000_000)
    kwargs: dict[str, Any] = {"since_ms": since_ms, "progress": progress}
    if now_ms is not None:
        kwargs["now_ms"] = now_ms
    frame = ex.fetch_ohlcv_frame(exch, symbol, freq, **kwargs)
    if frame.empty:
        info = existing[0] if existing else None
        when = "" if last is None else f" after {last:%Y-%m-%d %H:%M} UTC"
        if info is None:
            raise ExchangeError(f"{ex_id} returned no closed {freq} bars for {symbol}{when}.")
        return IngestReport(
            series=info, origin=f"exchange:{ex_id}", file_hash=None, rows_read=0,
            duplicates_dropped=0, rows_added=0, rows_replaced=0, rows_unchanged=0,
        )
    return store.ingest_frame(
        frame, symbol=sym, source=src, kind=k, freq=f, origin=f"exchange:{ex_id}"
    )


def utc_now() -> datetime:
    """Current time, naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


__all__ = [
    "fetch",
    "guess_from_filename",
    "ingest_file",
    "ingest_frame",
    "load_demo",
    "seed_demo_if_empty",
]

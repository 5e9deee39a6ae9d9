"""Opening the store and reading its series: the store, the stored assets, one series' bars and quality,
removing the demo data.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskparams.domain import SeriesInfo
from riskparams.quality import DEFAULT_OUTLIER_Z, QualityReport, quality_report
from riskparams.store import Store


def open_store(db: str | Path | None = None, *, read_only: bool = False) -> Store:
    """Open (creating and migrating when needed) the store at ``db`` or the default location.

    Raises
    ------
    StoreError
        The store cannot be opened, or ``db`` is a folder or an existing file that is not a DuckDB store
        (see :class:`riskparams.store.Store`).

    Examples
    --------
    A file is created (and its schema migrated) on first use; ``":memory:"`` is a store that lives as long
    as the object:

    >>> import riskparams, tempfile
    >>> store = riskparams.open_store(f"{tempfile.mkdtemp()}/risk.duckdb")
    >>> store.is_empty()
    True
    >>> riskparams.open_store(":memory:").list_series()
    []
    """
    return Store(db, read_only=read_only)


def list_assets(store: Store) -> list[SeriesInfo]:
    """All stored series, typed (:meth:`Store.list_series`); ``to_dict()`` of each is its JSON.

    Keys of ``to_dict()``: ``series_id, symbol, source, kind, freq, synthetic, rows, first, last`` (ISO-8601 UTC),
    as ``riskparams assets --json`` prints them.
    """
    return store.list_series()


def remove_demo(store: Store) -> list[SeriesInfo]:
    """Remove the synthetic demo data (every series flagged synthetic, with its bars, ingest-log entries and cached
    fits); market data is untouched. Returns the series removed (empty when there were none).

    Raises
    ------
    StoreError
        A stored proposal or backtest report used the demo data: stored records are immutable and keep their data
        resolvable, so nothing is removed (proposals over all assets leave synthetic assets out anyway, see
        :func:`propose`).

    Examples
    --------
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> [s.symbol for s in remove_demo(store)], store.list_series()
    (['ABC'], [])
    """
    return store.remove_synthetic()


def assets_frame(store: Store) -> pd.DataFrame:
    """The stored series as a table for display (one row per series)."""
    rows = [s.to_dict() for s in list_assets(store)]
    cols = ["symbol", "freq", "kind", "source", "synthetic", "rows", "first", "last", "series_id"]
    return pd.DataFrame(rows, columns=cols)


def load_series(
    store: Store,
    symbol: str,
    *,
    freq: str | None = None,
    source: str | None = None,
    kind: str | None = None,
) -> tuple[SeriesInfo, pd.DataFrame]:
    """Resolve a symbol to one series and load its bars (see :meth:`Store.load_prices`)."""
    info = store.resolve_series(symbol, freq=freq, source=source, kind=kind)
    return info, store.load_prices(info.series_id)


def series_quality(
    store: Store,
    symbol: str,
    *,
    freq: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    stale_min_bars: int | None = None,
    outlier_z: float = DEFAULT_OUTLIER_Z,
) -> tuple[SeriesInfo, QualityReport]:
    """Quality report of one stored series (see :func:`riskparams.quality.quality_report`)."""
    info, prices = load_series(store, symbol, freq=freq, source=source, kind=kind)
    return info, quality_report(prices, info.freq, stale_min_bars=stale_min_bars, outlier_z=outlier_z)

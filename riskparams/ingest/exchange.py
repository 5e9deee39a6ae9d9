"""Fetch OHLCV bars from a crypto exchange through ccxt.

This is the only module of riskparams that imports :mod:`ccxt`. It pages through an exchange's
``fetch_ohlcv`` endpoint, keeps ccxt's own request throttle, backs off when the exchange says a
rate limit was hit, drops the still-open last bar, and returns one tidy frame. Every failure is
raised as a :class:`~riskparams.exceptions.ExchangeError` with a one-sentence message.

Nothing here touches the network until :func:`fetch_ohlcv_frame` asks the exchange for bars:
building an exchange object with :func:`make_exchange` is offline.

Time conventions: every ``*_ms`` argument is a Unix timestamp in milliseconds (UTC), a bar is
labelled by its open time, and a bar is *closed* once ``open time + bar length <= now``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import time
from collections.abc import Callable
from typing import Any

import ccxt
import numpy as np
import pandas as pd

from riskparams.exceptions import ExchangeError

__all__ = ["COLUMNS", "TIMEFRAMES", "fetch_ohlcv_frame", "make_exchange"]

#: Timeframes riskparams works with, mapped to the bar length in milliseconds.
TIMEFRAMES: dict[str, int] = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}

#: Columns of the frame returned by :func:`fetch_ohlcv_frame`, in order.
COLUMNS: tuple[str, ...] = ("ts", "open", "high", "low", "close", "volume")

# Exchanges named in the hint when an unknown exchange id is given (all are ccxt ids).
_EXAMPLE_EXCHANGES: tuple[str, ...] = ("binance", "bybit", "coinbase", "kraken", "okx")

# Upper bound of one back-off sleep, in seconds.
_MAX_BACKOFF_S = 60.0

# Longest "reason" quoted from an exchange error, in characters.
_MAX_REASON_CHARS = 160


def _now_ms() -> int:
    """Current time as a Unix timestamp in milliseconds."""
    return time.time_ns() // 1_000_000


def make_exchange(name: str) -> Any:
    """Build a ccxt exchange object with ccxt's request throttle switched on.

    The constructor does not touch the network; markets are loaded lazily by ccxt on the first
    request.

    Parameters
    ----------
    name : str
        A ccxt exchange id such as ``"binance"`` or ``"kraken"`` (case and surrounding blanks are
        ignored).

    Returns
    -------
    ccxt.Exchange
        A synchronous ccxt exchange with ``enableRateLimit=True``, so consecutive requests are
        spaced by at least the exchange's ``rateLimit`` (milliseconds).

    Raises
    ------
    ExchangeError
        If ccxt does not know the exchange; the message suggests close spellings and a few
        well-known ids instead of listing all of them.
    """
    key = str(name).strip().lower()
    known: list[str] = list(ccxt.exchanges)
    if key not in known or not hasattr(ccxt, key):
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        examples = ", ".join(_EXAMPLE_EXCHANGES[:-1]) + f" or {_EXAMPLE_EXCHANGES[-1]}"
        raise ExchangeError(f"Unknown exchange {name!r}{hint}; use a ccxt exchange id such as {examples}.")
    try:
        return getattr(ccxt, key)({"enableRateLimit": True})
    except ccxt.BaseError as exc:  # pragma: no cover - ccxt constructors do not normally fail
        raise ExchangeError(f"Could not set up exchange {key}: {_short_reason(exc, key)}.") from exc


def fetch_ohlcv_frame(
    exchange: Any,
    symbol: str,
    timeframe: str,
    *,
    since_ms: int,
    until_ms: int | None = None,
    limit: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_retries: int = 3,
    backoff_s: float = 1.0,
    now_ms: Callable[[], int] = _now_ms,
) -> pd.DataFrame:
    """Fetch closed OHLCV bars for one market, paging through the exchange.

    Requests ``exchange.fetch_ohlcv(symbol, timeframe, since=cursor, limit=limit)`` starting at
    ``since_ms`` and moves the cursor to the open time of the last bar received plus one bar
    length, until the window ``[since_ms, until_ms)`` is covered, the exchange returns an empty
    page, or a page fails to move the cursor forward (an exchange that ignores ``since``; this
    guard prevents an endless loop). Short pages do not end the fetch, because many exchanges cap
    a page below ``limit``.

    Only closed bars are kept: a bar whose open time plus the bar length is later than
    ``now_ms()`` is still forming and is dropped.

    Parameters
    ----------
    exchange : ccxt.Exchange
        An exchange from :func:`make_exchange`, or any object with a ccxt-compatible
        ``fetch_ohlcv`` method. ``id`` (exchange name used in messages), ``timeframes`` (checked
        when present and non-empty) and ``has["fetchOHLCV"]`` (refused when ``False``) are used if
        present. ccxt's own throttle applies when the exchange was built with
        ``enableRateLimit=True``.
    symbol : str
        Unified ccxt market symbol, e.g. ``"BTC/USDT"``.
    timeframe : str
        One of the keys of :data:`TIMEFRAMES` (``"1h"``, ``"4h"``, ``"1d"``).
    since_ms : int
        Start of the window, Unix time in milliseconds (UTC), inclusive: bars opening at or after
        it are kept.
    until_ms : int, optional
        End of the window, Unix time in milliseconds (UTC), exclusive: bars opening at or after it
        are not kept. Defaults to now; a value in the future is treated as now.
    limit : int, default 1000
        Bars requested per page (the exchange may return fewer).
    progress : callable, optional
        Called as ``progress(done_bars, expected_total_bars)`` after each page. ``done_bars`` is
        the number of distinct bars kept so far; ``expected_total_bars`` is ``done_bars`` plus
        the bars still expected from the cursor to the end of the window (bar length divides the
        time left), so it can shrink when the exchange skips ahead (e.g. a market listed after
        ``since_ms``). The last call always has ``done == total``: when the fetch ends early (or
        no page was needed) one extra call completes the bar.
    sleep : callable, default time.sleep
        Sleeps for a number of seconds; injected in tests.
    max_retries : int, default 3
        Retries of one page after ``ccxt.RateLimitExceeded`` or ``ccxt.DDoSProtection``.
    backoff_s : float, default 1.0
        First back-off delay in seconds; the delay doubles on every retry of the same page
        (``backoff_s * 2**attempt``), is at least the exchange's ``rateLimit`` and at most 60 s.
    now_ms : callable, default current time
        Returns the current Unix time in milliseconds; injected in tests.

    Returns
    -------
    pandas.DataFrame
        Columns ``ts`` (bar open time, ``datetime64[ns, UTC]``), ``open``, ``high``, ``low``,
        ``close`` (prices in the quote currency, ``float64``) and ``volume`` (traded amount in the
        base currency, ``float64``; ``NaN`` where the exchange reports none), sorted by ``ts``
        with one row per bar (a bar received twice keeps the later copy) and a fresh
        ``RangeIndex``. The frame is empty when the window holds no closed bar. The first row can
        start after ``since_ms`` if the exchange has no older history.

    Raises
    ------
    ExchangeError
        If the timeframe is not one riskparams supports or not one the exchange offers; the window
        is empty (``until_ms <= since_ms``); the exchange cannot be reached
        (``ccxt.NetworkError``: "Could not reach ..."); the symbol is not a market there
        (``ccxt.BadSymbol``); the exchange keeps rate-limiting after ``max_retries`` retries; the
        exchange rejects the request (``ccxt.ExchangeError``); or it returns a malformed bar.
    ValueError
        If ``limit < 1``, ``max_retries < 0`` or ``backoff_s < 0``.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if max_retries < 0:
        raise ValueError(f"max_retries must be at least 0, got {max_retries}")
    if backoff_s < 0:
        raise ValueError(f"backoff_s must not be negative, got {backoff_s}")

    ex_id = str(getattr(exchange, "id", None) or type(exchange).__name__)
    bar_ms = _check_timeframe(exchange, ex_id, timeframe)
    _check_has_ohlcv(exchange, ex_id)
    since_ms = int(since_ms)
    if until_ms is not None and int(until_ms) <= since_ms:
        raise ExchangeError(
            f"The fetch window is empty: the start {_iso(since_ms)} is not before the end "
            f"{_iso(int(until_ms))}."
        )

    now = int(now_ms())
    # Bars opening before `stop` are both inside the window and closed (open + bar <= now).
    stop = now - bar_ms + 1
    if until_ms is not None:
        stop = min(stop, int(until_ms))

    what = f"{symbol} {timeframe} bars"
    rows: dict[int, list[float]] = {}
    cursor = since_ms
    last_report: tuple[int, int] | None = None
    while cursor < stop:
        page = _fetch_page(
            exchange, ex_id, symbol, timeframe, what, cursor, limit, sleep, max_retries, backoff_s
        )
        if not page:
            break
        last_open = cursor - 1
        for raw in page:
            ts, values = _parse_bar(raw, ex_id, what)
            last_open = max(last_open, ts)
            if since_ms <= ts < stop:
                rows[ts] = values
        advanced = last_open >= cursor
        if advanced:
            cursor = last_open + bar_ms
        if progress is not None:
            done = len(rows)
            total = done + (_bars_between(cursor, stop, bar_ms) if advanced else 0)
            last_report = (done, total)
            progress(done, total)
        if not advanced:
            break
    if progress is not None and (last_report is None or last_report[0] != last_report[1]):
        progress(len(rows), len(rows))

    return _to_frame(rows)


def _check_timeframe(exchange: Any, ex_id: str, timeframe: str) -> int:
    """Return the bar length in ms, or raise if riskparams or the exchange lacks the timeframe."""
    allowed = ", ".join(TIMEFRAMES)
    if timeframe not in TIMEFRAMES:
        raise ExchangeError(f"Timeframe {timeframe!r} is not supported by riskparams; use one of {allowed}.")
    offered = getattr(exchange, "timeframes", None)
    if isinstance(offered, dict) and offered and timeframe not in offered:
        usable = [tf for tf in TIMEFRAMES if tf in offered]
        choice = f"use one of {', '.join(usable)}" if usable else "choose another exchange"
        raise ExchangeError(f"{ex_id} does not offer {timeframe} bars; {choice}.")
    return TIMEFRAMES[timeframe]


def _check_has_ohlcv(exchange: Any, ex_id: str) -> None:
    """Raise if the exchange declares that it has no OHLCV endpoint."""
    has = getattr(exchange, "has", None)
    if isinstance(has, dict) and has.get("fetchOHLCV") is False:
        raise ExchangeError(f"{ex_id} does not provide OHLCV bars through ccxt; choose another exchange.")


def _fetch_page(
    exchange: Any,
    ex_id: str,
    symbol: str,
    timeframe: str,
    what: str,
    since: int,
    limit: int,
    sleep: Callable[[float], None],
    max_retries: int,
    backoff_s: float,
) -> list[Any]:
    """One ``fetch_ohlcv`` call, retried with exponential back-off when rate-limited."""
    floor_s = float(getattr(exchange, "rateLimit", 0) or 0) / 1000.0
    attempt = 0
    while True:
        try:
            page = exchange.fetch_ohlcv(symbol, timeframe, since=since, limit=limit)
        # RateLimitExceeded and DDoSProtection subclass NetworkError: keep this clause first.
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
            if attempt >= max_retries:
                raise ExchangeError(
                    f"{ex_id} kept refusing requests for {what} because of its rate limit "
                    f"({_short_reason(exc, ex_id)}) after {max_retries} retries; wait a few "
                    "minutes and try again."
                ) from exc
            sleep(min(max(backoff_s * 2.0**attempt, floor_s), _MAX_BACKOFF_S))
            attempt += 1
            continue
        except ccxt.NetworkError as exc:
            raise ExchangeError(
                f"Could not reach {ex_id} to fetch {what}: {_short_reason(exc, ex_id)}. "
                "Check the network connection and try again."
            ) from exc
        except ccxt.BadSymbol as exc:
            raise ExchangeError(
                f"{ex_id} has no market {symbol!r}; check the symbol, written BASE/QUOTE as in BTC/USDT."
            ) from exc
        except ccxt.NotSupported as exc:
            raise ExchangeError(f"{ex_id} cannot serve {what}: {_short_reason(exc, ex_id)}.") from exc
        except ccxt.BaseError as exc:  # ccxt.ExchangeError and anything else ccxt raises
            raise ExchangeError(
                f"{ex_id} rejected the request for {what}: {_short_reason(exc, ex_id)}."
            ) from exc
        if page is None:
            return []
        if not isinstance(page, list | tuple):
            raise ExchangeError(f"{ex_id} returned something other than a list of bars for {what}.")
        return list(page)


def _parse_bar(raw: Any, ex_id: str, what: str) -> tuple[int, list[float]]:
    """Split one ccxt OHLCV row ``[ts_ms, open, high, low, close, volume]``."""
    try:
        ts = int(raw[0])
        values = [math.nan if v is None else float(v) for v in raw[1:5]]
        volume = raw[5] if len(raw) > 5 else None
        values.append(math.nan if volume is None else float(volume))
    except (TypeError, ValueError, IndexError) as exc:
        raise ExchangeError(f"{ex_id} returned a malformed bar for {what}: {raw!r:.80}.") from exc
    if len(values) != 5:
        raise ExchangeError(f"{ex_id} returned a malformed bar for {what}: {raw!r:.80}.")
    return ts, values


def _bars_between(start_ms: int, stop_ms: int, bar_ms: int) -> int:
    """Number of bar open times on the UTC bar grid in ``[start_ms, stop_ms)``."""
    if stop_ms <= start_ms:
        return 0
    return max(0, -(-stop_ms // bar_ms) - -(-start_ms // bar_ms))


def _to_frame(rows: dict[int, list[float]]) -> pd.DataFrame:
    """Build the sorted output frame from ``{open_ms: [open, high, low, close, volume]}``."""
    stamps = np.array(sorted(rows), dtype="int64")
    values = np.array([rows[int(t)] for t in stamps], dtype="float64").reshape(len(stamps), 5)
    ts = pd.to_datetime(stamps, unit="ms", utc=True).astype("datetime64[ns, UTC]")
    frame = pd.DataFrame({"ts": ts})
    for i, column in enumerate(COLUMNS[1:]):
        frame[column] = values[:, i]
    return frame


def _iso(ms: int) -> str:
    """Format a Unix time in ms as ``YYYY-MM-DD HH:MM UTC`` for messages."""
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


_URL = re.compile(r"\bhttps?://\S+")
_METHOD = re.compile(r"^(GET|POST|PUT|DELETE|PATCH|HEAD)\b\s*")


def _short_reason(exc: BaseException, ex_id: str) -> str:
    """A short human reason for a ccxt error, without URLs, JSON noise or the exchange id."""
    if isinstance(exc, ccxt.RequestTimeout):
        return "the request timed out"
    chain = _chain_text(exc).lower()
    if any(
        k in chain for k in ("name resolution", "failed to resolve", "getaddrinfo", "nodename nor servname")
    ):
        return "the exchange's host name could not be resolved (is the machine offline?)"
    if "connection refused" in chain:
        return "the connection was refused"
    if isinstance(exc, ccxt.OnMaintenance):
        return "the exchange is under maintenance"

    text = " ".join(str(exc).split())
    if text.lower().startswith(ex_id.lower()):
        text = text[len(ex_id) :].strip()
    text = _METHOD.sub("", _URL.sub("", text)).strip()
    text = _json_message(text) or text
    text = text.strip().rstrip(".").strip()
    if not text:
        if isinstance(exc, ccxt.ExchangeNotAvailable):
            return "the exchange is not available"
        if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
            return "too many requests"
        if isinstance(exc, ccxt.NetworkError):
            return "the connection failed"
        return type(exc).__name__
    if len(text) > _MAX_REASON_CHARS:
        text = text[: _MAX_REASON_CHARS - 1].rstrip() + "…"
    return text


def _chain_text(exc: BaseException) -> str:
    """Messages of an exception and its causes, joined (bounded against cycles)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 10:
        seen.add(id(current))
        parts.append(str(current))
        current = current.__cause__ or current.__context__
    return " ".join(parts)


def _json_message(text: str) -> str | None:
    """The ``msg``/``message``/``error`` field of a JSON error body, if ``text`` is one."""
    if not text.startswith("{"):
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    for key in ("msg", "message", "retMsg", "error_description", "error"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "; ".join(value)
    return None

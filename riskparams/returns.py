"""Returns, bar frequencies, resampling and gaps: pure pandas/numpy.

A *price frame* is a :class:`pandas.DataFrame` indexed by a tz-aware UTC
:class:`pandas.DatetimeIndex` named ``ts`` (the bar **open** time), with float columns
``open, high, low, close, volume``. Its bar frequency is passed beside it as a string,
one of ``'1h'``, ``'4h'``, ``'1d'``.

Conventions
-----------
* Returns are natural-log close-to-close returns in plain fractions (0.03 = 3 %).
* The return stamped ``t`` is ``ln(close[t] / close[t - 1 bar])``: it belongs to the bar
  that opens at ``t``, i.e. it is known when that bar closes.
* Markets trade 24/7: a year has 365 days = 8,760 hours, so ``bars_per_year('1d') == 365``,
  ``bars_per_year('4h') == 2190``, ``bars_per_year('1h') == 8760``.
* A *gap* is a step between two consecutive bars longer than one bar. By default
  (``allow_gaps=False``) no return is computed across a gap: it would mix several bars
  of price change into one "bar" return and bias every volatility estimate upwards.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskparams.domain import Freq, Gap
from riskparams.exceptions import DataError, DataQualityWarning
from riskparams.jsonio import iso_z

__all__ = [
    "OHLCV_COLUMNS",
    "Freq",
    "Gap",
    "GapReport",
    "ReturnSeries",
    "bar_timedelta",
    "bars_per_year",
    "data_fingerprint",
    "find_gaps",
    "hours_per_bar",
    "horizon_to_bars",
    "iso_utc",
    "log_returns",
    "prices_as_of",
    "resample_ohlcv",
    "returns_with_report",
    "to_utc",
    "validate_prices",
]

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

HOURS_PER_YEAR = 8760  # 365 days x 24 hours: crypto markets trade 24/7


_HOURS: dict[Freq, int] = {Freq.H1: 1, Freq.H4: 4, Freq.D1: 24}
_FREQS: dict[str, Freq] = {f.value: f for f in Freq}  # hot paths parse the same few strings


def to_utc(value: Any, name: str) -> pd.Timestamp:
    """A user's date or time as a tz-aware UTC :class:`pandas.Timestamp` (a naive one is taken as UTC).

    Parameters
    ----------
    value : str, datetime or pandas.Timestamp
        E.g. ``'2024-01-31'`` or ``'2024-01-31T12:00Z'``.
    name : str
        Names the value in the error message, e.g. ``'start'`` or ``'as-of date'``.

    Raises
    ------
    DataError
        ``value`` is not a date, or not one in the years 1 to 9999.
    """
    try:
        ts: Any = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = None
    if not isinstance(ts, pd.Timestamp):  # unparsable, or NaT ('nan')
        raise DataError(f"{name} {value!r} is not a date (use e.g. 2024-01-31 or 2024-01-31T12:00Z).")
    if not 1 <= ts.year <= 9999:  # e.g. '-1', which pandas reads as the year -1
        raise DataError(f"{name} {value!r} is not a date between the years 1 and 9999.")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def iso_utc(value: Any, name: str = "time") -> str:
    """``value`` (see :func:`to_utc`; a naive time is taken as UTC) as ISO-8601 UTC with ``Z``,
    e.g. ``'2024-01-31T12:00:00Z'``."""
    return iso_z(to_utc(value, name))


def _freq(freq: str | Freq) -> Freq:
    """Parse ``freq`` into a :class:`riskparams.domain.Freq`; ``ValueError`` names the allowed values."""
    hit = _FREQS.get(freq) if isinstance(freq, str) else None  # a Freq is a str
    if hit is not None:
        return hit
    try:
        return Freq(str(freq))
    except ValueError:
        allowed = ", ".join(repr(f.value) for f in Freq)
        raise ValueError(f"freq must be one of {allowed}, got {freq!r}") from None


def hours_per_bar(freq: str | Freq) -> int:
    """Length of one bar in hours (1, 4 or 24)."""
    return _HOURS[_freq(freq)]


def bar_timedelta(freq: str | Freq) -> pd.Timedelta:
    """Length of one bar as a :class:`pandas.Timedelta`."""
    return pd.Timedelta(hours=hours_per_bar(freq))


def bars_per_year(freq: str | Freq) -> int:
    """Number of bars in a 365-day year of 24/7 trading (8760 / hours per bar)."""
    return HOURS_PER_YEAR // hours_per_bar(freq)


def horizon_to_bars(horizon_hours: float, freq: str | Freq) -> int:
    """Convert a horizon in hours into a whole number of bars, rounding a fraction **up**.

    Parameters
    ----------
    horizon_hours : float
        Horizon in hours, > 0 (e.g. the margin period of risk).
    freq : {'1h', '4h', '1d'}
        Bar frequency of the series.

    Returns
    -------
    int
        ``ceil(horizon_hours / hours_per_bar)``, at least 1. (A tolerance of 1e-9 bars
        keeps e.g. 48.0000000001 hours on daily bars at 2 bars.)
    """
    if not (isinstance(horizon_hours, int | float) and math.isfinite(horizon_hours) and horizon_hours > 0):
        raise ValueError(f"horizon_hours must be a finite number > 0, got {horizon_hours!r}")
    bars = horizon_hours / hours_per_bar(freq)
    return max(1, math.ceil(bars - 1e-9))


@dataclass(frozen=True, slots=True)
class GapReport:
    """Gaps found in a series and what was done about them.

    Attributes
    ----------
    gaps : tuple of riskparams.domain.Gap
        Every step longer than one bar, in time order (``after`` is the last bar before the
        gap, ``before`` the first bar after it).
    dropped_returns : int
        Returns not computed because they would span a gap (0 when gaps are allowed).
    """

    gaps: tuple[Gap, ...]
    dropped_returns: int

    @property
    def n_gaps(self) -> int:
        """Number of gaps."""
        return len(self.gaps)

    @property
    def missing_bars(self) -> int:
        """Total number of bars missing inside the series."""
        return sum(g.missing_bars for g in self.gaps)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dictionary (timestamps as ISO 8601 strings)."""
        return {
            "n_gaps": self.n_gaps,
            "missing_bars": self.missing_bars,
            "dropped_returns": self.dropped_returns,
            "gaps": [
                {
                    "after": pd.Timestamp(g.after).isoformat(),
                    "before": pd.Timestamp(g.before).isoformat(),
                    "missing_bars": g.missing_bars,
                }
                for g in self.gaps
            ],
        }


@dataclass(frozen=True, slots=True)
class ReturnSeries:
    """Log returns with the gap report that produced them.

    Attributes
    ----------
    returns : pandas.Series
        Log returns (fractions), float, shape (n,), indexed by ``ts`` of the later bar,
        without NaN.
    report : GapReport
        Gaps in the price index and the number of returns dropped because of them.
    """

    returns: pd.Series
    report: GapReport


def validate_prices(prices: pd.DataFrame, freq: str | Freq, *, label: str = "prices") -> None:
    """Check that ``prices`` is a price frame at bar frequency ``freq``.

    Raises
    ------
    DataError
        If the index is not a tz-aware UTC ``DatetimeIndex``, is unsorted or has duplicates,
        if bar times are not on ``freq`` boundaries or closer than one bar, if a column is
        missing, or if a close price is not finite and positive.
    ValueError
        If ``freq`` is not one of the supported frequencies.
    """
    f = _freq(freq)
    if not isinstance(prices, pd.DataFrame):
        raise DataError(f"{label} must be a pandas DataFrame, got {type(prices).__name__}", file=label)
    missing = [c for c in OHLCV_COLUMNS if c not in prices.columns]
    if missing:
        raise DataError(f"{label} is missing column(s) {', '.join(missing)}", file=label, column=missing[0])
    idx = prices.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise DataError(f"{label} must be indexed by a tz-aware UTC DatetimeIndex", file=label)
    if str(idx.tz) != "UTC":
        raise DataError(f"{label} index must be in UTC, got {idx.tz}", file=label)
    if idx.has_duplicates:
        dup = idx[idx.duplicated()][0]
        raise DataError(f"{label} has a duplicate timestamp {dup.isoformat()}", file=label, value=dup)
    if not idx.is_monotonic_increasing:
        raise DataError(f"{label} index must be sorted in increasing time order", file=label)
    step = bar_timedelta(f)
    if len(idx) > 0:
        off = (idx - idx[0].floor("D")) % step
        bad = np.flatnonzero(np.asarray(off != pd.Timedelta(0)))
        if bad.size:
            ts = idx[int(bad[0])]
            raise DataError(
                f"{label} bar at {ts.isoformat()} is not on a {f.value} UTC boundary", file=label, value=ts
            )
    close = prices["close"].to_numpy(dtype=float)
    bad_close = np.flatnonzero(~(np.isfinite(close) & (close > 0)))
    if bad_close.size:
        i = int(bad_close[0])
        raise DataError(
            f"{label} close at {idx[i].isoformat()} must be finite and > 0, got {close[i]}",
            file=label,
            column="close",
            value=close[i],
        )


def find_gaps(index: pd.DatetimeIndex, freq: str | Freq) -> tuple[Gap, ...]:
    """Steps longer than one bar in a sorted bar index.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Sorted bar open times.
    freq : {'1h', '4h', '1d'}
        Bar frequency.

    Returns
    -------
    tuple of Gap
        One entry per gap, with the number of bars missing in between.
    """
    step = bar_timedelta(freq)
    if len(index) < 2:
        return ()
    diffs = index[1:] - index[:-1]
    pos = np.flatnonzero(np.asarray(diffs > step))
    return tuple(
        Gap(after=index[int(i)], before=index[int(i) + 1], missing_bars=int(diffs[int(i)] // step) - 1)
        for i in pos
    )


def returns_with_report(
    prices: pd.DataFrame, freq: str | Freq, *, allow_gaps: bool = False, column: str = "close"
) -> ReturnSeries:
    """Log returns of one price column at the series' own frequency, with a gap report.

    Parameters
    ----------
    prices : pandas.DataFrame
        Price frame (see module docstring).
    freq : {'1h', '4h', '1d'}
        Bar frequency of ``prices``.
    allow_gaps : bool, default False
        If False, a return whose two bars are more than one bar apart is dropped and
        counted in ``report.dropped_returns``. If True it is kept (it then spans several bars).
    column : str, default 'close'
        Price column to use.

    Returns
    -------
    ReturnSeries
        Returns (fractions, shape (n,) with n <= len(prices) - 1) and the gap report.
    """
    validate_prices(prices, freq)
    idx = pd.DatetimeIndex(prices.index)
    px = prices[column].to_numpy(dtype=float)
    gaps = find_gaps(idx, freq)
    if len(px) < 2:
        empty = pd.Series([], index=idx[:0], dtype=float, name="log_return")
        return ReturnSeries(empty, GapReport(gaps, 0))
    r = np.log(px[1:] / px[:-1])
    keep = np.ones(r.shape[0], dtype=bool)
    dropped = 0
    if not allow_gaps:
        span = np.asarray(idx[1:] - idx[:-1])
        keep = span == np.timedelta64(bar_timedelta(freq).value, "ns")
        dropped = int((~keep).sum())
    out = pd.Series(r[keep], index=idx[1:][keep], name="log_return")
    out.index.name = "ts"
    return ReturnSeries(out, GapReport(gaps, dropped))


def log_returns(
    prices: pd.DataFrame, freq: str | Freq, *, allow_gaps: bool = False, column: str = "close"
) -> pd.Series:
    """Log returns (fractions) at the series' own frequency.

    Same as :func:`returns_with_report` but returns only the series; when returns spanning
    gaps are dropped a :class:`~riskparams.exceptions.DataQualityWarning` says how many.

    Returns
    -------
    pandas.Series
        Float log returns, shape (n,), indexed by ``ts`` of the later bar.
    """
    res = returns_with_report(prices, freq, allow_gaps=allow_gaps, column=column)
    if res.report.dropped_returns:
        warnings.warn(
            f"{res.report.dropped_returns} return(s) spanning {res.report.n_gaps} gap(s) "
            f"({res.report.missing_bars} missing bar(s)) were dropped",
            DataQualityWarning,
            stacklevel=2,
        )
    return res.returns


def resample_ohlcv(
    prices: pd.DataFrame,
    freq: str | Freq,
    to: str | Freq,
    *,
    min_bars: int | None = None,
) -> pd.DataFrame:
    """Aggregate bars to a coarser frequency on UTC boundaries (1h -> 4h -> 1d).

    Bars ``[t, t + to)`` form the new bar stamped ``t`` (UTC midnight for days, 00/04/08/...
    UTC for 4-hour bars): open = first open, high = max, low = min, close = last close,
    volume = sum.

    Parameters
    ----------
    prices : pandas.DataFrame
        Price frame at frequency ``freq``.
    freq : {'1h', '4h', '1d'}
        Frequency of ``prices``.
    to : {'1h', '4h', '1d'}
        Target frequency; must be a multiple of ``freq``.
    min_bars : int, optional
        Minimum number of source bars for a target bar to be kept. Default: all of them
        (24 hourly bars for a day), so only complete bars survive. A partial bar keeps
        first/last of what it has (its open and close are then not the true ones).

    Returns
    -------
    pandas.DataFrame
        Price frame at frequency ``to``, columns ``open, high, low, close, volume``.
    """
    validate_prices(prices, freq)
    src, dst = _freq(freq), _freq(to)
    ratio, rem = divmod(_HOURS[dst], _HOURS[src])
    if rem or ratio < 1:
        raise ValueError(f"to must be a coarser multiple of freq {src.value!r}, got {dst.value!r}")
    if min_bars is None:
        min_bars = ratio
    if not (isinstance(min_bars, int) and 1 <= min_bars <= ratio):
        raise ValueError(f"min_bars must be an integer in [1, {ratio}], got {min_bars!r}")
    frame = prices.loc[:, list(OHLCV_COLUMNS)].astype(float)
    keys = pd.DatetimeIndex(frame.index).floor(f"{_HOURS[dst]}h")
    grouped = frame.groupby(keys)
    out = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    counts = grouped.size()
    out = out.loc[counts.to_numpy() >= min_bars]
    out.index = pd.DatetimeIndex(out.index, name="ts")
    return out


def prices_as_of(prices: pd.DataFrame, as_of: object = None) -> pd.DataFrame:
    """Rows of ``prices`` with ``ts <= as_of`` (all rows when ``as_of`` is None).

    A tz-naive ``as_of`` is taken to be UTC.
    """
    if as_of is None:
        return prices
    ts = pd.Timestamp(as_of)  # type: ignore[arg-type]
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return prices.loc[prices.index <= ts]


def data_fingerprint(prices: pd.DataFrame) -> str:
    """SHA-256 of the bar times and OHLCV values: a cache key component for the data.

    Any change to a timestamp or a value (bit for bit) changes the fingerprint.
    """
    h = hashlib.sha256()
    h.update(np.asarray(pd.DatetimeIndex(prices.index).as_unit("ns").asi8, dtype="<i8").tobytes())
    for c in OHLCV_COLUMNS:
        h.update(c.encode())
        h.update(np.ascontiguousarray(prices[c].to_numpy(dtype="<f8")).tobytes())
    return h.hexdigest()

"""Data quality of one price series: coverage, gaps, stale runs, outlier returns, zero-volume bars.

Pure pandas/numpy; works on the frames :meth:`riskparams.store.Store.load_prices` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from riskparams.domain import Freq, Gap
from riskparams.jsonio import iso_z
from riskparams.returns import find_gaps

# a close repeated over this many bars in a row is a stale run (about half a day intraday, 3 days daily)
DEFAULT_STALE_BARS = {"1h": 12, "4h": 6, "1d": 3}
DEFAULT_OUTLIER_Z = 10.0
MAX_LISTED = 50


def _iso(ts: pd.Timestamp | datetime) -> str:
    return iso_z(pd.Timestamp(ts))


@dataclass(frozen=True, slots=True, kw_only=True)
class StaleRun:
    """Consecutive bars with the same close: from ``start`` to ``end`` (bar open times), ``bars`` long."""

    start: datetime
    end: datetime
    bars: int
    close: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Outlier:
    """A log return (fraction) whose robust z-score exceeds the threshold; ``ts`` is the bar it ends in."""

    ts: datetime
    log_return: float
    robust_z: float


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityReport:
    """Quality of one series.

    Attributes
    ----------
    bars : int
        Stored bars.
    expected_bars : int
        Bars a complete 24/7 series would have from first to last bar.
    coverage : float
        ``bars / expected_bars`` (fraction, 1.0 = no missing bar).
    gaps : tuple of Gap
        Runs of missing bars (at most ``MAX_LISTED`` listed; ``gap_count`` counts all).
    stale_runs : tuple of StaleRun
        Runs of at least ``stale_min_bars`` bars with an unchanged close.
    outliers : tuple of Outlier
        Returns with ``|robust z| > outlier_z``; robust z = (r - median) / (1.4826 MAD).
        Returns across gaps are not used.
    zero_volume_bars, missing_volume_bars : int
        Bars with volume 0, and bars without a volume value.
    """

    freq: str
    first: datetime | None
    last: datetime | None
    bars: int
    expected_bars: int
    coverage: float
    gap_count: int
    missing_bars: int
    gaps: tuple[Gap, ...]
    stale_min_bars: int
    stale_runs: tuple[StaleRun, ...]
    outlier_z: float
    outliers: tuple[Outlier, ...]
    zero_volume_bars: int
    missing_volume_bars: int
    zero_volume_examples: tuple[datetime, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when nothing was flagged."""
        return not (self.gap_count or self.stale_runs or self.outliers or self.zero_volume_bars)

    def findings(self) -> list[str]:
        """Plain-English lines, one per kind of finding (empty when clean)."""
        out = []
        if self.gap_count:
            out.append(f"{self.gap_count} gaps with {self.missing_bars} missing bars "
                       f"(coverage {self.coverage:.2%}).")
        if self.stale_runs:
            longest = max(self.stale_runs, key=lambda s: s.bars)
            out.append(f"{len(self.stale_runs)} stale runs of >= {self.stale_min_bars} unchanged closes "
                       f"(longest {longest.bars} bars from {_iso(longest.start)}).")
        if self.outliers:
            worst = max(self.outliers, key=lambda o: abs(o.robust_z))
            out.append(f"{len(self.outliers)} outlier returns beyond {self.outlier_z:g} robust z "
                       f"(largest {worst.log_return:+.1%} at {_iso(worst.ts)}, z = {worst.robust_z:.1f}).")
        if self.zero_volume_bars:
            out.append(f"{self.zero_volume_bars} bars with zero volume.")
        if self.missing_volume_bars:
            out.append(f"{self.missing_volume_bars} bars without volume.")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (timestamps ISO-8601 UTC)."""
        return {
            "freq": self.freq,
            "first": None if self.first is None else _iso(self.first),
            "last": None if self.last is None else _iso(self.last),
            "bars": self.bars,
            "expected_bars": self.expected_bars,
            "coverage": self.coverage,
            "gap_count": self.gap_count,
            "missing_bars": self.missing_bars,
            "gaps": [
                {"after": _iso(g.after), "before": _iso(g.before), "missing_bars": g.missing_bars}
                for g in self.gaps
            ],
            "stale_min_bars": self.stale_min_bars,
            "stale_runs": [
                {"start": _iso(s.start), "end": _iso(s.end), "bars": s.bars, "close": s.close}
                for s in self.stale_runs
            ],
            "outlier_z": self.outlier_z,
            "outliers": [
                {"ts": _iso(o.ts), "log_return": o.log_return, "robust_z": o.robust_z} for o in self.outliers
            ],
            "zero_volume_bars": self.zero_volume_bars,
            "missing_volume_bars": self.missing_volume_bars,
            "zero_volume_examples": [_iso(t) for t in self.zero_volume_examples],
            "ok": self.ok,
            "findings": self.findings(),
        }


def quality_report(
    prices: pd.DataFrame,
    freq: str,
    *,
    stale_min_bars: int | None = None,
    outlier_z: float = DEFAULT_OUTLIER_Z,
) -> QualityReport:
    """Measure the quality of one price series.

    Parameters
    ----------
    prices : pandas.DataFrame
        Index ``ts`` (UTC bar open times, ascending, unique), columns close and volume at least;
        shape (n_bars, >= 2).
    freq : {'1h', '4h', '1d'}
        Bar frequency of the series.
    stale_min_bars : int, optional
        Shortest run of unchanged closes that counts as stale; default by frequency
        (:data:`DEFAULT_STALE_BARS`).
    outlier_z : float
        Robust z-score threshold for outlier returns (> 0).

    Returns
    -------
    QualityReport
    """
    f = Freq.parse(freq)
    if outlier_z <= 0:
        raise ValueError(f"outlier_z must be positive, got {outlier_z}")
    stale_min = DEFAULT_STALE_BARS[f.value] if stale_min_bars is None else int(stale_min_bars)
    if stale_min < 2:
        raise ValueError(f"stale_min_bars must be at least 2, got {stale_min}")
    n = len(prices)
    if n == 0:
        return QualityReport(
            freq=f.value, first=None, last=None, bars=0, expected_bars=0, coverage=0.0, gap_count=0,
            missing_bars=0, gaps=(), stale_min_bars=stale_min, stale_runs=(), outlier_z=outlier_z,
            outliers=(), zero_volume_bars=0, missing_volume_bars=0,
        )
    idx = pd.DatetimeIndex(prices.index)
    naive = idx.tz_convert("UTC").tz_localize(None) if idx.tz is not None else idx
    secs = np.asarray(naive.as_unit("s").asi8, dtype=np.int64)
    diffs = np.diff(secs)
    expected = int((secs[-1] - secs[0]) // f.seconds) + 1
    all_gaps = find_gaps(naive, f.value)
    gaps = tuple(
        Gap(after=pd.Timestamp(g.after).to_pydatetime(), before=pd.Timestamp(g.before).to_pydatetime(),
            missing_bars=g.missing_bars)
        for g in all_gaps[:MAX_LISTED]
    )

    close = prices["close"].to_numpy(dtype=float)
    # stale runs: maximal runs of equal consecutive closes
    change = np.concatenate(([True], close[1:] != close[:-1]))
    run_start = np.flatnonzero(change)
    run_len = np.diff(np.append(run_start, n))
    stale = []
    for s, length in zip(run_start.tolist(), run_len.tolist(), strict=True):
        if length >= stale_min:
            stale.append(StaleRun(
                start=naive[s].to_pydatetime(), end=naive[s + length - 1].to_pydatetime(),
                bars=length, close=float(close[s]),
            ))

    # outliers among returns between adjacent bars only
    r = np.diff(np.log(close))
    adjacent = diffs == f.seconds
    r_ok = r[adjacent]
    outliers: list[Outlier] = []
    if r_ok.size >= 10:
        med = float(np.median(r_ok))
        mad = float(np.median(np.abs(r_ok - med))) * 1.4826
        if mad > 0:
            z = (r - med) / mad
            hits = np.flatnonzero(adjacent & (np.abs(z) > outlier_z))
            order = hits[np.argsort(-np.abs(z[hits]))][:MAX_LISTED]
            outliers = [
                Outlier(ts=naive[i + 1].to_pydatetime(), log_return=float(r[i]), robust_z=float(z[i]))
                for i in sorted(order)
            ]

    vol = prices["volume"].to_numpy(dtype=float) if "volume" in prices else np.full(n, np.nan)
    zero = np.flatnonzero(vol == 0)
    return QualityReport(
        freq=f.value,
        first=naive[0].to_pydatetime(),
        last=naive[-1].to_pydatetime(),
        bars=n,
        expected_bars=expected,
        coverage=n / expected,
        gap_count=len(all_gaps),
        missing_bars=sum(g.missing_bars for g in all_gaps),
        gaps=gaps,
        stale_min_bars=stale_min,
        stale_runs=tuple(stale),
        outlier_z=float(outlier_z),
        outliers=tuple(outliers),
        zero_volume_bars=int(zero.size),
        missing_volume_bars=int(np.isnan(vol).sum()),
        zero_volume_examples=tuple(naive[i].to_pydatetime() for i in zero[:10]),
    )


__all__ = ["DEFAULT_STALE_BARS", "Outlier", "QualityReport", "StaleRun", "quality_report"]

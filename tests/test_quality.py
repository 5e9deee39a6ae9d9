"""riskparams.quality.quality_report on small constructed series with known answers."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from riskparams.domain import Gap
from riskparams.quality import DEFAULT_STALE_BARS, Outlier, StaleRun, quality_report


def series(closes: list[float] | np.ndarray, *, freq: str = "1h", start: str = "2024-01-01",
           volume: list[float] | np.ndarray | None = None, drop: list[int] | None = None) -> pd.DataFrame:
    """Bars on a regular UTC grid (positions in ``drop`` removed afterwards)."""
    closes = np.asarray(closes, dtype=float)
    idx = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=len(closes), freq=freq.replace("d", "D"), name="ts")
    vol = np.ones(len(closes)) if volume is None else np.asarray(volume, dtype=float)
    frame = pd.DataFrame({"open": closes, "high": closes * 1.01, "low": closes * 0.99, "close": closes, "volume": vol},
                         index=idx)
    if drop:
        frame = frame.drop(frame.index[drop])
    return frame


def alternating(n: int, base: float = 100.0) -> np.ndarray:
    """Closes that never repeat twice in a row: 100, 101, 100, 101, ..."""
    return base + (np.arange(n) % 2)


def test_clean_series() -> None:
    rep = quality_report(series(alternating(48)), "1h")
    assert (rep.bars, rep.expected_bars, rep.coverage, rep.gap_count, rep.missing_bars) == (48, 48, 1.0, 0, 0)
    assert rep.gaps == () and rep.stale_runs == () and rep.outliers == ()
    assert (rep.zero_volume_bars, rep.missing_volume_bars) == (0, 0)
    assert rep.ok and rep.findings() == []
    assert (rep.first, rep.last) == (datetime(2024, 1, 1, 0), datetime(2024, 1, 2, 23))


def test_gaps_and_coverage() -> None:
    # 12 hourly slots, bars 3, 4 and 9 missing: 2 gaps, 3 missing bars, 9 of 12 bars
    rep = quality_report(series(alternating(12), drop=[3, 4, 9]), "1h")
    assert (rep.bars, rep.expected_bars, rep.gap_count, rep.missing_bars) == (9, 12, 2, 3)
    assert rep.coverage == pytest.approx(0.75)
    assert rep.gaps == (
        Gap(after=datetime(2024, 1, 1, 2), before=datetime(2024, 1, 1, 5), missing_bars=2),
        Gap(after=datetime(2024, 1, 1, 8), before=datetime(2024, 1, 1, 10), missing_bars=1),
    )
    assert not rep.ok
    assert rep.findings()[0] == "2 gaps with 3 missing bars (coverage 75.00%)."


def test_gaps_on_daily_and_4h_grids() -> None:
    daily = quality_report(series(alternating(10), freq="1d", drop=[5]), "1d")
    assert (daily.gap_count, daily.missing_bars, daily.expected_bars) == (1, 1, 10)
    four = quality_report(series(alternating(10), freq="4h", drop=[1, 2, 3]), "4h")
    assert four.gaps == (Gap(after=datetime(2024, 1, 1, 0), before=datetime(2024, 1, 1, 16), missing_bars=3),)


def test_stale_runs() -> None:
    closes = list(alternating(6)) + [50.0] * 5 + list(alternating(4)) + [60.0] * 3 + [61.0, 62.0] + [70.0] * 2
    rep = quality_report(series(closes, freq="1d"), "1d")  # default for 1d: 3 bars
    assert rep.stale_min_bars == DEFAULT_STALE_BARS["1d"] == 3
    assert rep.stale_runs == (
        StaleRun(start=datetime(2024, 1, 7), end=datetime(2024, 1, 11), bars=5, close=50.0),
        StaleRun(start=datetime(2024, 1, 16), end=datetime(2024, 1, 18), bars=3, close=60.0),
    )  # the run of 2 at 70.0 is too short
    assert "2 stale runs of >= 3 unchanged closes (longest 5 bars from 2024-01-07T00:00:00Z)." in rep.findings()
    longer = quality_report(series(closes, freq="1d"), "1d", stale_min_bars=4)
    assert [r.bars for r in longer.stale_runs] == [5]
    assert len(quality_report(series(closes, freq="1d"), "1d", stale_min_bars=2).stale_runs) == 3


def test_hourly_stale_default_is_half_a_day() -> None:
    closes = list(alternating(5)) + [42.0] * 12 + list(alternating(5)) + [43.0] * 11
    rep = quality_report(series(closes), "1h")
    assert [(r.bars, r.close) for r in rep.stale_runs] == [(12, 42.0)]


def log_return_path(returns: list[float], start: float = 100.0) -> np.ndarray:
    return start * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


# 10 x +1%, 10 x -1% (alternating), one 0, and one +30% and one -30% jump:
# median return 0, median |deviation| 0.01, robust sigma 1.4826 * 0.01, z of the jumps = +-20.23
RETURNS = [0.01, -0.01] * 5 + [0.0, 0.3] + [0.01, -0.01] * 5 + [-0.3]
Z_JUMP = 0.3 / (1.4826 * 0.01)


def test_outliers_by_robust_z() -> None:
    rep = quality_report(series(log_return_path(RETURNS)), "1h")
    assert [o.ts for o in rep.outliers] == [datetime(2024, 1, 1, 12), datetime(2024, 1, 1, 23)]
    up, down = rep.outliers
    assert up.log_return == pytest.approx(0.3) and up.robust_z == pytest.approx(Z_JUMP)
    assert down.log_return == pytest.approx(-0.3) and down.robust_z == pytest.approx(-Z_JUMP)
    assert rep.findings()[-1].startswith("2 outlier returns beyond 10 robust z (largest ")
    # above the threshold nothing is flagged
    assert quality_report(series(log_return_path(RETURNS)), "1h", outlier_z=21).outliers == ()
    # a lower threshold flags the same two, not the 1% moves (z = 0.67)
    assert len(quality_report(series(log_return_path(RETURNS)), "1h", outlier_z=1.0).outliers) == 2


def test_return_across_a_gap_is_not_an_outlier() -> None:
    closes = log_return_path(RETURNS[:-1] + [0.01])  # no -30% at the end
    assert len(quality_report(series(closes), "1h").outliers) == 1  # without the gap: flagged
    frame = series(closes, drop=[12])  # bar 12, where the +30% move ends, is missing
    rep = quality_report(frame, "1h")
    assert rep.gap_count == 1
    assert rep.outliers == ()  # the jump now spans the gap, so it is not an adjacent return


def test_too_few_returns_or_no_dispersion_gives_no_outliers() -> None:
    assert quality_report(series(log_return_path([0.01, -0.01, 0.5])), "1h").outliers == ()
    flat_moves = [0.01] * 15 + [0.9]  # MAD 0: no robust scale, no outliers
    assert quality_report(series(log_return_path(flat_moves)), "1h").outliers == ()


def test_zero_and_missing_volume() -> None:
    vol = np.ones(10)
    vol[[2, 7]] = 0.0
    vol[5] = np.nan
    rep = quality_report(series(alternating(10), volume=vol), "1h")
    assert (rep.zero_volume_bars, rep.missing_volume_bars) == (2, 1)
    assert rep.zero_volume_examples == (datetime(2024, 1, 1, 2), datetime(2024, 1, 1, 7))
    assert not rep.ok
    assert rep.findings() == ["2 bars with zero volume.", "1 bars without volume."]


def test_frame_without_volume_column() -> None:
    frame = series(alternating(6)).drop(columns=["volume"])
    rep = quality_report(frame, "1h")
    assert (rep.zero_volume_bars, rep.missing_volume_bars) == (0, 6)
    assert rep.ok  # missing volume alone is a remark, not a flag


def test_naive_index_and_to_dict_is_json() -> None:
    frame = series(log_return_path(RETURNS), drop=[3])
    frame.index = frame.index.tz_localize(None)
    rep = quality_report(frame, "1h")
    d = rep.to_dict()
    text = json.dumps(d)
    assert json.loads(text)["gaps"] == [
        {"after": "2024-01-01T02:00:00Z", "before": "2024-01-01T04:00:00Z", "missing_bars": 1}
    ]
    assert d["first"] == "2024-01-01T00:00:00Z" and d["ok"] is False and d["findings"] == rep.findings()
    assert isinstance(rep.outliers[0], Outlier)


def test_empty_series() -> None:
    rep = quality_report(series([]), "1d")
    assert (rep.bars, rep.expected_bars, rep.coverage, rep.first, rep.last) == (0, 0, 0.0, None, None)
    assert rep.ok and rep.findings() == []


def test_single_bar() -> None:
    rep = quality_report(series([5.0]), "4h")
    assert (rep.bars, rep.expected_bars, rep.coverage) == (1, 1, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outlier_z": 0}, "outlier_z must be positive"),
        ({"outlier_z": -3.0}, "outlier_z must be positive"),
        ({"stale_min_bars": 1}, "stale_min_bars must be at least 2"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        quality_report(series(alternating(5)), "1h", **kwargs)  # type: ignore[arg-type]


def test_invalid_frequency() -> None:
    with pytest.raises(ValueError, match="frequency must be one of 1h, 4h, 1d"):
        quality_report(series(alternating(5)), "15m")


def test_many_gaps_are_counted_but_listing_is_capped() -> None:
    n = 300
    drop = list(range(1, n, 3))  # 100 single-bar gaps
    rep = quality_report(series(alternating(n), drop=drop), "1h")
    assert rep.gap_count == len(drop) - (1 if drop[-1] == n - 1 else 0)
    assert len(rep.gaps) == 50  # MAX_LISTED
    assert rep.missing_bars == rep.expected_bars - rep.bars
    assert math.isclose(rep.coverage, rep.bars / rep.expected_bars)

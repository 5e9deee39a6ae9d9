"""Tests of riskparams.returns: frequencies, log returns, gaps, resampling, fingerprints."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskparams.exceptions import DataError, DataQualityWarning
from riskparams.returns import (
    bar_timedelta,
    bars_per_year,
    data_fingerprint,
    find_gaps,
    horizon_to_bars,
    hours_per_bar,
    log_returns,
    prices_as_of,
    resample_ohlcv,
    returns_with_report,
    validate_prices,
)

PRICES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prices"


def make_frame(n: int, freq: str = "1h", start: str = "2024-01-01", seed: int = 0) -> pd.DataFrame:
    """A random but consistent OHLCV frame (low <= open, close <= high)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.001, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.005, n)))
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="ts")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1, 10, n)}, index=idx
    )


def load_csv(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("timestamp"), utc=True), name="ts")
    return df.astype(float)


# --- frequencies -------------------------------------------------------------------------------


def test_bars_per_year_for_24_7_markets() -> None:
    assert bars_per_year("1d") == 365
    assert bars_per_year("4h") == 2190
    assert bars_per_year("1h") == 8760
    assert hours_per_bar("4h") == 4
    assert bar_timedelta("1d") == pd.Timedelta(days=1)


def test_unknown_frequency_message_names_argument_and_choices() -> None:
    with pytest.raises(ValueError, match=r"freq must be one of '1h', '4h', '1d', got '15m'"):
        bars_per_year("15m")


@pytest.mark.parametrize(
    ("hours", "freq", "bars"),
    [
        (24, "1d", 1),
        (25, "1d", 2),
        (36, "1d", 2),
        (48, "1d", 2),
        (1, "1d", 1),
        (1, "4h", 1),
        (4.5, "1h", 5),
        (8, "4h", 2),
        (9, "4h", 3),
        (72, "1h", 72),
    ],
)
def test_horizon_to_bars_rounds_fractions_up(hours: float, freq: str, bars: int) -> None:
    assert horizon_to_bars(hours, freq) == bars


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf])
def test_horizon_to_bars_rejects_non_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="horizon_hours must be a finite number > 0"):
        horizon_to_bars(bad, "1d")


# --- validation --------------------------------------------------------------------------------


def test_validate_rejects_naive_index() -> None:
    df = make_frame(5)
    df.index = df.index.tz_localize(None)
    with pytest.raises(DataError, match="tz-aware UTC DatetimeIndex"):
        validate_prices(df, "1h")


def test_validate_rejects_missing_column() -> None:
    with pytest.raises(DataError, match="missing column\\(s\\) volume") as info:
        validate_prices(make_frame(5).drop(columns="volume"), "1h")
    assert info.value.column == "volume"


def test_validate_rejects_non_positive_close() -> None:
    df = make_frame(5)
    df.iloc[2, df.columns.get_loc("close")] = 0.0
    with pytest.raises(DataError, match="close at 2024-01-01T02:00:00\\+00:00 must be finite and > 0"):
        validate_prices(df, "1h")


def test_validate_rejects_bars_off_the_utc_grid() -> None:
    df = make_frame(5, freq="4h", start="2024-01-01 02:00")
    with pytest.raises(DataError, match="not on a 4h UTC boundary"):
        validate_prices(df, "4h")


def test_validate_rejects_duplicates_and_disorder() -> None:
    df = make_frame(5)
    with pytest.raises(DataError, match="duplicate timestamp"):
        validate_prices(pd.concat([df, df.iloc[[1]]]), "1h")
    with pytest.raises(DataError, match="sorted"):
        validate_prices(df.iloc[::-1], "1h")


# --- log returns and gaps ----------------------------------------------------------------------


def test_log_returns_match_a_plain_loop() -> None:
    df = make_frame(50)
    r = log_returns(df, "1h")
    c = df["close"].tolist()
    expected = [math.log(c[i] / c[i - 1]) for i in range(1, len(c))]
    np.testing.assert_allclose(r.to_numpy(), expected, rtol=1e-14)
    assert list(r.index) == list(df.index[1:])  # stamped with the later bar


def test_returns_across_a_gap_are_dropped_and_reported() -> None:
    df = make_frame(20).drop(index=pd.Timestamp("2024-01-01 05:00", tz="UTC"))
    df = df.drop(index=pd.Timestamp("2024-01-01 06:00", tz="UTC"))
    with pytest.warns(DataQualityWarning, match="1 return\\(s\\) spanning 1 gap\\(s\\) \\(2 missing bar"):
        r = log_returns(df, "1h")
    assert len(r) == len(df) - 2
    assert pd.Timestamp("2024-01-01 07:00", tz="UTC") not in r.index
    rs = returns_with_report(df, "1h")
    assert rs.report.n_gaps == 1 and rs.report.missing_bars == 2 and rs.report.dropped_returns == 1
    gap = rs.report.gaps[0]
    assert gap.after == pd.Timestamp("2024-01-01 04:00", tz="UTC")
    assert gap.before == pd.Timestamp("2024-01-01 07:00", tz="UTC")
    assert rs.report.to_dict()["gaps"][0]["missing_bars"] == 2


def test_allow_gaps_keeps_the_multi_bar_return() -> None:
    df = make_frame(10).drop(index=pd.Timestamp("2024-01-01 05:00", tz="UTC"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when gaps are allowed
        r = log_returns(df, "1h", allow_gaps=True)
    ts = pd.Timestamp("2024-01-01 06:00", tz="UTC")
    expected = math.log(df.loc[ts, "close"] / df.loc[pd.Timestamp("2024-01-01 04:00", tz="UTC"), "close"])
    assert r.loc[ts] == pytest.approx(expected, rel=1e-14)
    assert len(r) == len(df) - 1


def test_find_gaps_on_regular_index_is_empty() -> None:
    assert find_gaps(make_frame(30).index, "1h") == ()


# --- resampling --------------------------------------------------------------------------------


def _manual_resample(df: pd.DataFrame, hours: int, need: int) -> dict[pd.Timestamp, tuple[float, ...]]:
    """Plain-loop OHLCV aggregation on UTC boundaries."""
    groups: dict[pd.Timestamp, list[tuple[float, ...]]] = {}
    for ts, row in df.iterrows():
        assert isinstance(ts, pd.Timestamp)
        key = ts.floor(f"{hours}h")
        groups.setdefault(key, []).append((row.open, row.high, row.low, row.close, row.volume))
    out = {}
    for key, rows in groups.items():
        if len(rows) >= need:
            out[key] = (
                rows[0][0],
                max(r[1] for r in rows),
                min(r[2] for r in rows),
                rows[-1][3],
                sum(r[4] for r in rows),
            )
    return out


def test_resample_1h_to_4h_and_1d_matches_a_loop() -> None:
    df = make_frame(24 * 3 + 5, start="2024-03-01 00:00")  # 3 full days and 5 hours of a 4th
    for to, hours in (("4h", 4), ("1d", 24)):
        got = resample_ohlcv(df, "1h", to)
        expected = _manual_resample(df, hours, hours)
        assert list(got.index) == sorted(expected)
        for ts, vals in expected.items():
            np.testing.assert_allclose(
                got.loc[ts, ["open", "high", "low", "close", "volume"]].to_numpy(), vals
            )
    # the partial 4th day is dropped; its one complete 4h bar is kept
    assert len(resample_ohlcv(df, "1h", "1d")) == 3
    assert len(resample_ohlcv(df, "1h", "4h")) == 3 * 6 + 1


def test_resample_drops_incomplete_bars_unless_configured() -> None:
    df = make_frame(48, start="2024-03-01").drop(index=pd.Timestamp("2024-03-01 13:00", tz="UTC"))
    daily = resample_ohlcv(df, "1h", "1d")
    assert list(daily.index) == [pd.Timestamp("2024-03-02", tz="UTC")]
    lenient = resample_ohlcv(df, "1h", "1d", min_bars=23)
    assert len(lenient) == 2
    with pytest.raises(ValueError, match="min_bars must be an integer in \\[1, 24\\], got 25"):
        resample_ohlcv(df, "1h", "1d", min_bars=25)


def test_resample_chain_equals_direct() -> None:
    df = make_frame(24 * 4, start="2024-03-01")
    direct = resample_ohlcv(df, "1h", "1d")
    chained = resample_ohlcv(resample_ohlcv(df, "1h", "4h"), "4h", "1d")
    pd.testing.assert_frame_equal(direct, chained)


def test_resample_refuses_finer_target() -> None:
    with pytest.raises(ValueError, match="to must be a coarser multiple of freq '1d', got '4h'"):
        resample_ohlcv(make_frame(10, freq="1D"), "1d", "4h")


@pytest.mark.integration
@pytest.mark.skipif(not PRICES.is_dir(), reason="shared price data not present")
def test_resampled_uni_hourly_matches_the_derived_daily_file() -> None:
    """SOURCES.md: UNI_1d_binance_usdm_perp_derived.csv is UNI_1h aggregated by complete UTC days."""
    hourly = load_csv(PRICES / "UNI_1h_binance_usdm_perp.csv")
    daily = load_csv(PRICES / "UNI_1d_binance_usdm_perp_derived.csv")
    ours = resample_ohlcv(hourly, "1h", "1d")
    common = ours.index.intersection(daily.index)
    assert len(common) == len(daily)
    np.testing.assert_allclose(
        ours.loc[common, ["open", "high", "low", "close"]],
        daily.loc[common, ["open", "high", "low", "close"]],
        rtol=1e-9,
    )
    np.testing.assert_allclose(ours.loc[common, "volume"], daily.loc[common, "volume"], rtol=1e-6)


# --- as-of and fingerprints --------------------------------------------------------------------


def test_prices_as_of_is_inclusive_and_naive_means_utc() -> None:
    df = make_frame(10)
    assert prices_as_of(df, "2024-01-01 03:00").index[-1] == pd.Timestamp("2024-01-01 03:00", tz="UTC")
    assert len(prices_as_of(df, None)) == 10


def test_fingerprint_changes_with_any_value_and_not_with_a_copy() -> None:
    df = make_frame(30)
    fp = data_fingerprint(df)
    assert data_fingerprint(df.copy()) == fp
    changed = df.copy()
    changed.iloc[7, changed.columns.get_loc("volume")] += 1e-9
    assert data_fingerprint(changed) != fp
    assert data_fingerprint(df.iloc[:-1]) != fp

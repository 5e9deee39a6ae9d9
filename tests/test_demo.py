"""Tests of the synthetic demo universe (riskparams.ingest.demo).

Stylized facts are measured on the generated data with the default seed, not assumed from the parameters.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from riskparams.ingest.demo import (
    ASSETS,
    SOURCE_LABEL,
    DemoSeries,
    demo_crash_date,
    generate_demo_universe,
)

COLUMNS = ["ts", "open", "high", "low", "close", "volume"]
MAJORS = ("BTC-SYN", "ETH-SYN")


@pytest.fixture(scope="module")
def universe() -> list[DemoSeries]:
    return generate_demo_universe()


@pytest.fixture(scope="module")
def daily(universe: list[DemoSeries]) -> dict[str, pd.DataFrame]:
    return {s.symbol: s.frame for s in universe if s.freq == "1d"}


@pytest.fixture(scope="module")
def hourly(universe: list[DemoSeries]) -> dict[str, pd.DataFrame]:
    return {s.symbol: s.frame for s in universe if s.freq == "1h"}


@pytest.fixture(scope="module")
def returns(daily: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Daily close-to-close log returns, one column per asset, indexed by day."""
    out = pd.DataFrame({sym: np.log(f.set_index("ts")["close"]).diff() for sym, f in daily.items()})
    return out.dropna()


@pytest.fixture(scope="module")
def pre_crash(returns: pd.DataFrame) -> pd.DataFrame:
    """Daily returns ending 30 days before the crash: facts that must not come from the crash alone."""
    return returns[returns.index < demo_crash_date() - pd.Timedelta(days=30)]


# --- shape of the universe ----------------------------------------------------------------------------


def test_source_label() -> None:
    assert SOURCE_LABEL == "synthetic"


def test_universe_has_eight_plus_daily_assets_and_two_hourly(universe: list[DemoSeries]) -> None:
    daily_syms = [s.symbol for s in universe if s.freq == "1d"]
    hourly_syms = [s.symbol for s in universe if s.freq == "1h"]
    assert len(daily_syms) >= 8
    assert len(set(daily_syms)) == len(daily_syms)
    assert set(hourly_syms) == set(MAJORS)
    assert {s.freq for s in universe} == {"1d", "1h"}
    assert all(s.kind == "perp" for s in universe)
    assert all(s.symbol.endswith("-SYN") for s in universe)
    assert daily_syms == [a.symbol for a in ASSETS]


def test_daily_span_is_fixed_and_longer_than_four_years(daily: dict[str, pd.DataFrame]) -> None:
    for sym, f in daily.items():
        assert len(f) == 4 * 365 + 31, sym
        assert f["ts"].iloc[0] == pd.Timestamp("2021-01-01", tz="UTC")
        assert f["ts"].iloc[-1] == pd.Timestamp("2025-01-30", tz="UTC")  # fixed, not today
        assert f["ts"].iloc[-1] - f["ts"].iloc[0] >= pd.Timedelta(days=4 * 365)


def test_hourly_span_equals_daily_span(
    hourly: dict[str, pd.DataFrame], daily: dict[str, pd.DataFrame]
) -> None:
    for sym, f in hourly.items():
        assert len(f) == 24 * len(daily[sym])
        assert f["ts"].iloc[0] == daily[sym]["ts"].iloc[0]
        assert f["ts"].iloc[-1] == daily[sym]["ts"].iloc[-1] + pd.Timedelta(hours=23)


def test_frame_columns_dtypes_and_regular_utc_timestamps(universe: list[DemoSeries]) -> None:
    for s in universe:
        f = s.frame
        assert list(f.columns) == COLUMNS
        assert isinstance(f["ts"].dtype, pd.DatetimeTZDtype)
        assert str(f["ts"].dt.tz) == "UTC"
        for col in COLUMNS[1:]:
            assert f[col].dtype == np.float64, (s.symbol, s.freq, col)
        step = pd.Timedelta(hours=1) if s.freq == "1h" else pd.Timedelta(days=1)
        assert f["ts"].is_unique
        assert f["ts"].is_monotonic_increasing
        assert (f["ts"].diff().iloc[1:] == step).all()
        assert isinstance(f.index, pd.RangeIndex)


def test_hourly_symbols_argument_selects_hourly_series() -> None:
    u = generate_demo_universe(seed=3, days=60, hourly_symbols=("SOL-SYN",))
    assert [s.symbol for s in u if s.freq == "1h"] == ["SOL-SYN"]
    none = generate_demo_universe(seed=3, days=60, hourly_symbols=())
    assert all(s.freq == "1d" for s in none)


# --- determinism ---------------------------------------------------------------------------------------


def _fingerprint(series: list[DemoSeries]) -> list[tuple[str, str, bytes]]:
    out = []
    for s in series:
        cols = [
            str(s.frame["ts"].dtype).encode(),
            s.frame["ts"].dt.tz_convert(None).to_numpy().view(np.int64).tobytes(),
        ]
        cols += [s.frame[c].to_numpy().tobytes() for c in COLUMNS[1:]]
        out.append((s.symbol, s.freq, b"".join(cols)))
    return out


def test_same_seed_gives_byte_identical_frames(universe: list[DemoSeries]) -> None:
    again = generate_demo_universe()
    assert _fingerprint(again) == _fingerprint(universe)
    for a, b in zip(again, universe, strict=True):
        pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)


def test_different_seed_gives_different_paths(daily: dict[str, pd.DataFrame]) -> None:
    other = {s.symbol: s.frame for s in generate_demo_universe(seed=7) if s.freq == "1d"}
    assert set(other) == set(daily)
    for sym in daily:
        # same calendar and starting price, different path
        assert (other[sym]["ts"] == daily[sym]["ts"]).all()
        assert other[sym]["open"].iloc[0] == daily[sym]["open"].iloc[0]
        assert not np.array_equal(other[sym]["close"].to_numpy(), daily[sym]["close"].to_numpy())
        assert not np.array_equal(other[sym]["volume"].to_numpy(), daily[sym]["volume"].to_numpy())


# --- price consistency ---------------------------------------------------------------------------------


def test_prices_positive_finite_and_ohlc_consistent(universe: list[DemoSeries]) -> None:
    for s in universe:
        f = s.frame
        values = f[COLUMNS[1:]].to_numpy()
        assert np.isfinite(values).all(), (s.symbol, s.freq)
        assert (values > 0).all(), (s.symbol, s.freq)
        body_lo = np.minimum(f["open"], f["close"])
        body_hi = np.maximum(f["open"], f["close"])
        assert (f["low"] <= body_lo).all(), (s.symbol, s.freq)
        assert (body_hi <= f["high"]).all(), (s.symbol, s.freq)
        # continuous 24/7 market: open of bar t is exactly the close of bar t-1
        assert np.array_equal(f["open"].to_numpy()[1:], f["close"].to_numpy()[:-1]), (s.symbol, s.freq)


def test_bars_have_wicks_from_an_intraday_path(universe: list[DemoSeries]) -> None:
    for s in universe:
        f = s.frame
        upper = f["high"] > np.maximum(f["open"], f["close"])
        lower = f["low"] < np.minimum(f["open"], f["close"])
        assert upper.mean() > 0.9 and lower.mean() > 0.9, (s.symbol, s.freq)


def test_hourly_high_low_are_consistent_with_close_to_close_variance(hourly: dict[str, pd.DataFrame]) -> None:
    # Parkinson variance from the high/low range vs realized variance of close-to-close returns:
    # both estimate the same diffusive variance when the extremes come from a Brownian path.
    for sym, f in hourly.items():
        parkinson = float((np.log(f["high"] / f["low"]) ** 2).mean() / (4 * np.log(2)))
        realized = float((np.log(f["close"]).diff() ** 2).mean())
        assert 0.8 < parkinson / realized < 1.25, sym


def test_starting_prices_realistic(daily: dict[str, pd.DataFrame]) -> None:
    assert 20_000 < daily["BTC-SYN"]["open"].iloc[0] < 40_000
    assert 500 < daily["ETH-SYN"]["open"].iloc[0] < 1_000


# --- hourly and daily bars agree exactly ---------------------------------------------------------------


def test_hourly_bars_aggregate_exactly_to_daily(
    hourly: dict[str, pd.DataFrame], daily: dict[str, pd.DataFrame]
) -> None:
    for sym, f in hourly.items():
        agg = (
            f.groupby(f["ts"].dt.floor("D"))
            .agg(
                open=("open", "first"),
                high=("high", "max"),
                low=("low", "min"),
                close=("close", "last"),
                volume=("volume", "sum"),
            )
            .rename_axis("ts")
            .reset_index()
        )
        pd.testing.assert_frame_equal(agg, daily[sym], check_exact=True, check_dtype=False)
        assert agg["ts"].dtype == daily[sym]["ts"].dtype


# --- stylized facts (measured) -------------------------------------------------------------------------


def test_annualised_volatility_realistic(returns: pd.DataFrame) -> None:
    vol = returns.std() * np.sqrt(365)
    assert 0.45 < vol["BTC-SYN"] < 0.75
    alts = vol.drop("BTC-SYN")
    assert (alts > 0.7).all() and (alts < 1.4).all(), alts.round(2).to_dict()
    assert alts.median() > vol["BTC-SYN"]


def test_daily_returns_fat_tailed_for_every_asset(returns: pd.DataFrame, pre_crash: pd.DataFrame) -> None:
    # full sample (includes the crash) and a pre-crash window (tails from GARCH, t innovations and jumps)
    assert (returns.kurt() > 1.0).all(), returns.kurt().round(2).to_dict()
    assert (pre_crash.kurt() > 1.0).all(), pre_crash.kurt().round(2).to_dict()


def test_volatility_clusters(pre_crash: pd.DataFrame, hourly: dict[str, pd.DataFrame]) -> None:
    acf_abs = pre_crash.abs().apply(lambda s: s.autocorr(1))
    acf_sq = (pre_crash**2).apply(lambda s: s.autocorr(1))
    for sym in MAJORS:
        assert acf_abs[sym] > 0.15, acf_abs.round(3).to_dict()
        assert acf_sq[sym] > 0.1, acf_sq.round(3).to_dict()
    assert acf_abs.median() > 0.15
    assert (acf_abs > 0.05).all(), acf_abs.round(3).to_dict()
    # persistence: still visible at a lag of 10 days
    assert pre_crash.abs().apply(lambda s: s.autocorr(10)).median() > 0.05
    # hourly: 35k observations, clustering must be clear
    for sym, f in hourly.items():
        r = np.log(f["close"]).diff().dropna()
        assert r.abs().autocorr(1) > 0.15, sym


def test_clustering_is_not_an_artefact_of_the_sample(pre_crash: pd.DataFrame) -> None:
    # shuffling the days destroys the dependence: the measured autocorrelation must then vanish
    rng = np.random.default_rng(0)
    shuffled = pre_crash.abs().apply(lambda s: pd.Series(rng.permutation(s.to_numpy())).autocorr(1))
    assert shuffled.abs().max() < 0.1


def test_cross_asset_correlation(returns: pd.DataFrame, pre_crash: pd.DataFrame) -> None:
    corr = returns.corr()
    assert 0.55 < corr.loc["BTC-SYN", "ETH-SYN"] < 0.9
    assert 0.5 < pre_crash.corr().loc["BTC-SYN", "ETH-SYN"] < 0.9
    off_diag = corr.to_numpy()[~np.eye(len(corr), dtype=bool)]
    assert off_diag.min() > 0.3 and off_diag.max() < 0.92
    # the small cap co-moves less with BTC than ETH does
    assert corr.loc["BTC-SYN", "INJ-SYN"] < corr.loc["BTC-SYN", "ETH-SYN"]


def test_crash_is_the_worst_day_market_wide(returns: pd.DataFrame) -> None:
    crash = demo_crash_date()
    market = returns.mean(axis=1)
    assert market.idxmin() == crash
    # clearly separated from the next worst day
    assert market.drop(crash).min() - market.min() > 0.1
    i = returns.index.get_loc(crash)
    two_day = np.expm1(returns.iloc[i : i + 2].sum())
    assert -0.5 < two_day["BTC-SYN"] < -0.3
    assert two_day.drop("BTC-SYN").mean() < two_day["BTC-SYN"]  # alts fall more
    assert (two_day < -0.3).all(), two_day.round(3).to_dict()


def test_volatility_elevated_after_crash(returns: pd.DataFrame) -> None:
    crash = demo_crash_date()
    market = returns.mean(axis=1)
    after = market[
        (market.index >= crash + pd.Timedelta(days=2)) & (market.index < crash + pd.Timedelta(days=16))
    ]
    typical = market.groupby(market.index.floor("14D")).std().median()
    assert after.std() > 1.5 * typical


def test_volumes_positive_sized_by_asset_and_tied_to_moves(
    daily: dict[str, pd.DataFrame], returns: pd.DataFrame
) -> None:
    adv = {}
    for sym, f in daily.items():
        v = f.set_index("ts")["volume"]
        assert np.isfinite(v).all() and (v > 0).all(), sym
        notional = v * f.set_index("ts")["close"]
        adv[sym] = float(notional.median())
        # more volume on days with larger moves (base units, as stored)
        corr = np.corrcoef(v.loc[returns.index], returns[sym].abs())[0, 1]
        assert corr > 0.1, (sym, corr)
        # lognormal noise: volume varies from day to day
        assert np.log(v).std() > 0.2, sym
    assert adv["BTC-SYN"] > 1e9  # billions of USD per day
    assert min(adv.values()) < 1e8  # a small cap in the tens of millions
    assert min(adv.values()) > 1e6
    assert adv["BTC-SYN"] == max(adv.values())


def test_hourly_volumes_positive(hourly: dict[str, pd.DataFrame]) -> None:
    for sym, f in hourly.items():
        assert (f["volume"] > 0).all(), sym


# --- crash placement, validation, speed ----------------------------------------------------------------


def test_crash_date_fixed_in_default_span_and_falls_back_inside_other_spans() -> None:
    assert demo_crash_date() == pd.Timestamp("2022-09-19", tz="UTC")
    fallback = demo_crash_date("2023-01-01", 400)
    assert fallback == pd.Timestamp("2023-01-01", tz="UTC") + pd.Timedelta(days=int(0.42 * 400))
    u = generate_demo_universe(seed=11, start="2023-01-01", days=400, hourly_symbols=())
    r = pd.DataFrame({s.symbol: np.log(s.frame.set_index("ts")["close"]).diff() for s in u}).dropna()
    assert r.mean(axis=1).idxmin() == fallback


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 10}, "days must be an integer >= 30, got 10"),
        ({"days": 100.0}, "days must be an integer >= 30, got 100.0"),
        ({"start": "not a date"}, "start must be an ISO date such as '2021-01-01', got 'not a date'"),
        ({"start": "2021-01-01T06:00"}, "start must be midnight UTC, got '2021-01-01T06:00'"),
        ({"hourly_symbols": ("BTC",)}, "hourly_symbols must be demo symbols"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_them(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_demo_universe(**kwargs)  # type: ignore[arg-type]


def test_start_with_timezone_is_converted_to_utc() -> None:
    u = generate_demo_universe(seed=1, start="2021-01-01T01:00+01:00", days=30, hourly_symbols=())
    assert u[0].frame["ts"].iloc[0] == pd.Timestamp("2021-01-01", tz="UTC")




def test_random_walk_ohlc_bars_are_consistent_and_reproducible() -> None:
    from riskparams.ingest.demo import random_walk_ohlc

    a = random_walk_ohlc(500, 3, vol=0.02, start="2022-01-01")
    pd.testing.assert_frame_equal(a, random_walk_ohlc(500, 3, vol=0.02, start="2022-01-01"))
    assert a.shape == (500, 4) and a.index[0] == pd.Timestamp("2022-01-01", tz="UTC")
    assert (a["high"] >= a[["open", "close"]].max(axis=1)).all() and (a["low"] <= a[["open", "close"]].min(axis=1)).all()
    assert (a["open"].iloc[1:].to_numpy() == a["close"].iloc[:-1].to_numpy()).all()
    assert np.log(a["close"]).diff().std() == pytest.approx(0.02, rel=0.2)

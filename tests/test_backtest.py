"""Tests of the backtest engine (:mod:`riskparams.backtest`) and its records in the store.

The statistics themselves are checked against published examples in ``test_coverage.py`` and the
liquidation model in ``test_liquidation.py``; here: no look-ahead, known exception counts on
constructed paths, the cadence, guardrails between consecutive proposals, fast vs arch engines,
reports stored / attached / immutable.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from riskparams.backtest import (
    AssetData,
    BacktestSpec,
    FixedParameters,
    backtest_asset,
    default_population,
    fixed_from_proposal,
    run_backtest,
)
from riskparams.config import policy_from_dict
from riskparams.coverage import kupiec_pof
from riskparams.domain import CurrentLending, CurrentPerp, CurrentPerpTier, Proposal
from riskparams.exceptions import HistoryError, PolicyError, RiskParamsError, StoreError
from riskparams.export import BACKTEST_RESULT_KEYS, validate_backtest
from riskparams.store import Store
from riskparams.store import backtest_records as br
from riskparams.store.records import save_proposal

# a small policy: 250-bar minimum history so that short synthetic series give a long enough period
POLICY = policy_from_dict({"model": {"model": "garch", "min_history": 250}})


def garch_prices(n: int, *, seed: int = 0, start: str = "2021-01-01", vol: float = 0.03,
                 crash_at: int | None = None, crash: float = -0.4) -> pd.DataFrame:
    """Daily OHLCV bars of a GARCH(1,1)-t log-price (fractions), highs/lows around the open and close."""
    rng = np.random.default_rng(seed)
    nu, alpha, beta = 5.0, 0.08, 0.9
    omega = vol**2 * (1 - alpha - beta)
    z = rng.standard_t(nu, size=n) / math.sqrt(nu / (nu - 2))
    s2 = vol**2
    r = np.empty(n)
    for t in range(n):
        r[t] = math.sqrt(s2) * z[t]
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    if crash_at is not None:
        r[crash_at] = math.log1p(crash)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    wick = np.abs(rng.normal(0.0, 0.4 * vol, size=(2, n)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    idx = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=n, freq="1D", name="ts")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": 1e6 * np.exp(rng.normal(0, 0.3, n))}, index=idx)


def perp_table(symbol: str, mmf: float = 0.05, lev: float = 10.0) -> CurrentPerp:
    return CurrentPerp(symbol=symbol, tiers=(
        CurrentPerpTier(notional_floor=0.0, notional_cap=1e6, max_leverage=lev, maintenance_rate=mmf,
                        liquidation_penalty=0.01),
        CurrentPerpTier(notional_floor=1e6, notional_cap=None, max_leverage=lev / 2, maintenance_rate=2 * mmf,
                        liquidation_penalty=0.015)))


def fixed(name: str, symbol: str, **kw: float) -> FixedParameters:
    return FixedParameters(name=name, source="test", profile="perp", assets={symbol: perp_table(symbol, **kw)})


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return garch_prices(700, seed=1)


@pytest.fixture(scope="module")
def asset(prices: pd.DataFrame) -> AssetData:
    return AssetData(symbol="SYN", freq="1d", prices=prices, source="test", kind="perp", synthetic=True)


@pytest.fixture(scope="module")
def base(asset: AssetData):  # type: ignore[no-untyped-def]
    """One backtest reused by several tests: start after 300 bars (window 300), weekly cadence."""
    spec = BacktestSpec(start="2021-10-28", cadence_days=7)
    return backtest_asset(asset, POLICY, spec, current=perp_table("SYN", mmf=0.04, lev=12.5),
                          fixed=[fixed("fixed5", "SYN", mmf=0.05)])


# ---------------------------------------------------------------------------------------------
# no look-ahead
# ---------------------------------------------------------------------------------------------


def test_removing_future_data_never_changes_a_past_margin_or_result(asset: AssetData, base) -> None:  # type: ignore[no-untyped-def]
    full = base
    cut = pd.Timestamp("2022-07-01", tz="UTC")
    short = backtest_asset(dataclasses.replace(asset, prices=asset.prices.loc[:cut]), POLICY,
                           BacktestSpec(start="2021-10-28", cadence_days=7),
                           current=perp_table("SYN", mmf=0.04, lev=12.5), fixed=[fixed("fixed5", "SYN", mmf=0.05)])
    n = len(short.dates)
    assert short.window == full.window and short.dates.equals(full.dates[:n])
    pf, ps = full.set("policy"), short.set("policy")
    np.testing.assert_array_equal(ps.margin, pf.margin[:n])
    np.testing.assert_array_equal(ps.imf, pf.imf[:n])
    assert [r.to_dict() for r in ps.cadence] == [r.to_dict() for r in pf.cadence[: len(ps.cadence)]]
    # observations whose horizon ends before the cut: same adverse moves and exceptions
    np.testing.assert_array_equal(short.adverse_long, full.adverse_long[: short.obs])
    np.testing.assert_array_equal(ps.exceptions, pf.exceptions[: short.obs])
    np.testing.assert_array_equal(short.set("fixed5").exceptions, full.set("fixed5").exceptions[: short.obs])


def test_the_end_option_never_reads_later_bars(asset: AssetData, base) -> None:  # type: ignore[no-untyped-def]
    later = asset.prices.copy()
    later.loc[later.index > pd.Timestamp("2022-07-01", tz="UTC"), ["open", "high", "low", "close"]] *= 3.0
    a = backtest_asset(asset, POLICY, BacktestSpec(start="2021-10-28", end="2022-07-01"),
                       current=perp_table("SYN", mmf=0.04, lev=12.5))
    b = backtest_asset(dataclasses.replace(asset, prices=later), POLICY,
                       BacktestSpec(start="2021-10-28", end="2022-07-01"), current=perp_table("SYN", mmf=0.04, lev=12.5))
    np.testing.assert_array_equal(a.set("policy").margin, b.set("policy").margin)
    assert a.end == pd.Timestamp("2022-07-01", tz="UTC") and a.set("policy").coverage.to_dict() == \
        b.set("policy").coverage.to_dict()


# ---------------------------------------------------------------------------------------------
# exceptions on a constructed path
# ---------------------------------------------------------------------------------------------


def spiky_prices(n: int = 500, spikes: tuple[int, ...] = (420, 440, 455, 480), depth: float = 0.10) -> pd.DataFrame:
    """A quiet random walk (0.5 % a day) whose lows dip ``depth`` below the previous close on ``spikes``."""
    rng = np.random.default_rng(7)
    r = rng.normal(0, 0.005, n)
    close = 100 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    for s in spikes:
        low[s] = close[s - 1] * (1 - depth)
    idx = pd.date_range(pd.Timestamp("2022-01-01", tz="UTC"), periods=n, freq="1D", name="ts")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1e6}, index=idx)


@pytest.mark.parametrize(("mmf", "expected"), [(0.05, 4), (0.12, 0)])
def test_static_set_has_the_known_exception_count(mmf: float, expected: int) -> None:
    px = spiky_prices()
    data = AssetData(symbol="SPK", freq="1d", prices=px)
    res = backtest_asset(data, POLICY, BacktestSpec(start="2022-12-01"),
                         fixed=[fixed("f", "SPK", mmf=mmf, lev=5.0)])
    s = res.set("f")
    assert s.side == "long"  # the long side has the dips
    assert s.coverage.non_overlapping.exceptions == expected == int(s.exceptions.sum())
    assert s.coverage.non_overlapping.expected == pytest.approx(res.obs * 0.01)
    # the exception is on the bar before the dip (the margin set at its close)
    got = [d for d, e in zip(res.dates[: res.obs], s.exceptions, strict=True) if e]
    want = [px.index[k - 1] for k in (420, 440, 455, 480)] if expected else []
    assert got == want
    if expected:
        assert s.coverage.non_overlapping.largest_exceedance == pytest.approx(0.10 - mmf, abs=0.011)
    assert s.capital.avg_margin == pytest.approx(mmf) and s.capital.peak_to_trough == 1.0 and s.changes == 0


def test_overlapping_horizons_use_every_hth_observation_for_the_tests() -> None:
    # a perp's horizon is its tier-1 margin period of risk: fixed at 48 hours here (2 daily bars) for every tier
    px = spiky_prices(spikes=(420, 440, 460, 480))
    pol = policy_from_dict({"mpor": {"fixed_hours": 48}, "model": {"model": "garch", "min_history": 250}})
    res = backtest_asset(AssetData(symbol="SPK", freq="1d", prices=px), pol, BacktestSpec(start="2022-12-01"),
                         fixed=[fixed("f", "SPK", mmf=0.05)])
    s = res.set("f")
    assert res.horizon_bars == 2 and [t.horizon_bars for t in s.tiers] == [2, 2]
    # each dip is inside two overlapping horizons: 8 overlapping exceptions, 4 in the non-overlapping sample
    assert s.coverage.overlapping.exceptions == 8 and s.coverage.overlapping.dependent
    assert s.coverage.non_overlapping.exceptions == 4 and s.coverage.non_overlapping.step == 2
    assert s.coverage.non_overlapping.n == math.ceil(res.obs / 2)


def test_lending_room_and_drops() -> None:
    px = spiky_prices(depth=0.12)
    lend = FixedParameters(name="aave", source="test", profile="lending", assets={
        "SPK": CurrentLending(symbol="SPK", ltv=0.8, liquidation_threshold=0.85, liquidation_bonus=0.05)})
    res = backtest_asset(AssetData(symbol="SPK", freq="1d", prices=px), POLICY,
                         BacktestSpec(profile="lending", start="2022-12-01"), fixed=[lend])
    s = res.set("aave")
    assert s.capital.avg_margin == pytest.approx(1 - 0.85 * 1.05)  # room 10.75 % < 12 % dips
    assert s.coverage.non_overlapping.exceptions == 4 and s.side == "long"
    assert s.capital.extra["avg_ltv"] == pytest.approx(0.8)
    pol_set = res.set("policy")
    assert {r.status for r in pol_set.cadence} <= {"ok", "unmarginable"}
    assert all("liquidation_threshold" in r.params for r in pol_set.cadence)


# ---------------------------------------------------------------------------------------------
# governance: cadence and guardrails
# ---------------------------------------------------------------------------------------------


def test_parameters_change_only_on_cadence_dates(base) -> None:  # type: ignore[no-untyped-def]
    s = base.set("policy")
    ts = base.dates
    cadence = s.version_bar
    assert cadence[0] == 0
    assert ((ts[cadence][1:] - ts[cadence][:-1]) == pd.Timedelta(days=7)).all()
    assert len(cadence) == math.ceil(len(ts) / 7)
    moved = np.flatnonzero(np.diff(s.margin) != 0) + 1
    assert moved.size > 0 and set(moved) <= set(cadence.tolist())
    assert s.changes == sum(r.changed for r in s.cadence[1:])


def test_daily_cadence_proposes_every_bar(asset: AssetData) -> None:
    res = backtest_asset(asset, POLICY, BacktestSpec(start="2022-06-01", end="2022-07-01", cadence_days=1))
    assert len(res.set("policy").cadence) == len(res.dates) == 31


def test_guardrails_hold_between_consecutive_proposals(asset: AssetData) -> None:
    pol = policy_from_dict({"model": {"model": "garch", "min_history": 250},
                            "guardrails": {"max_relative_change": 0.1, "dead_band": 0.02}})
    start = perp_table("SYN", mmf=0.02, lev=25.0)
    res = backtest_asset(asset, pol, BacktestSpec(start="2021-10-28", cadence_days=7), current=start)
    s = res.set("policy")
    mmf1 = [start.tiers[0].maintenance_rate] + [r.params["tiers"][0]["mmf"] for r in s.cadence]
    for prev, new in zip(mmf1[:-1], mmf1[1:], strict=True):
        assert abs(new - prev) <= 0.1 * prev + 1e-9, (prev, new)
    # the guardrail did bind (the model wants far more than 2 %), and each proposal saw the previous as current
    assert any("mmf tier 1: max_change" in r.guardrails for r in s.cadence)
    for prop, prev in zip(s.proposals, mmf1[:-1], strict=True):
        line = next(ln for ln in prop.lines if ln.parameter == "mmf" and ln.tier == 0)
        assert line.current == pytest.approx(prev)


def test_first_proposal_without_current_has_no_guardrail(base, asset: AssetData) -> None:  # type: ignore[no-untyped-def]
    res = backtest_asset(asset, POLICY, BacktestSpec(start="2021-10-28", end="2021-11-30"))
    first = res.set("policy").proposals[0]
    assert all(ln.current is None for ln in first.lines)


# ---------------------------------------------------------------------------------------------
# engines
# ---------------------------------------------------------------------------------------------


ENGINE_SPEC = BacktestSpec(start="2022-03-01", end="2022-03-20", cadence_days=14)


def test_fast_and_arch_engines_agree_on_sample_dates(asset: AssetData) -> None:
    # the covered move from the fitted law alone, every tier over one bar: both engines fit the same likelihood on
    # the same window and the one-bar law is exact in both (beyond one bar the fast engine scales the fitted law to
    # the horizon variance while arch simulates paths; the model-risk band's other two members are compared in
    # the next test)
    pol = policy_from_dict({"model": {"model": "garch", "min_history": 250}, "model_risk": {"combine": "fitted"},
                            "mpor": {"fixed_hours": 24}})
    fast = backtest_asset(asset, pol, ENGINE_SPEC).set("policy")
    arch = backtest_asset(asset, pol, dataclasses.replace(ENGINE_SPEC, engine="arch")).set("policy")
    assert len(fast.proposals) == len(arch.proposals) == 2
    for f, a in zip(fast.proposals, arch.proposals, strict=True):
        assert f.model_risk is not None and a.model_risk is not None
        assert f.model_risk.bound == a.model_risk.bound == "fitted"
        assert f.covered.vol_forecast == pytest.approx(a.covered.vol_forecast, rel=1e-3)
        assert f.covered.model == pytest.approx(a.covered.model, rel=1e-3)
        assert f.covered.final == pytest.approx(a.covered.final, rel=1e-3)
        assert [t.mmf for t in f.tiers] == pytest.approx([t.mmf for t in a.tiers], abs=0.0011)
    assert {r.engine for r in arch.cadence} == {"arch"} and {r.engine for r in fast.cadence} == {"fast"}


def test_fast_and_arch_engines_agree_on_the_model_risk_band(asset: AssetData) -> None:
    # the policy's default combination (median of fitted / FHS / historical simulation) reads all three: the fitted
    # law is the same fit; FHS resamples the same standardized residuals (the arch engine through arch's bootstrap
    # of n_sims paths: sampling noise of a few percent at most); historical simulation reads the same returns
    fast = backtest_asset(asset, POLICY, ENGINE_SPEC).set("policy")
    arch = backtest_asset(asset, POLICY, dataclasses.replace(ENGINE_SPEC, engine="arch")).set("policy")
    assert len(fast.proposals) == len(arch.proposals) == 2
    for rec, f, a in zip(fast.cadence, fast.proposals, arch.proposals, strict=True):
        fb, ab = f.model_risk, a.model_risk
        assert fb is not None and ab is not None and fb.horizon_hours == ab.horizon_hours
        assert fb.fitted == pytest.approx(ab.fitted, rel=1e-3)
        assert fb.fhs == pytest.approx(ab.fhs, rel=0.05), (rec.ts, fb, ab)
        assert fb.empirical == pytest.approx(ab.empirical, rel=1e-3), (rec.ts, fb, ab)
        assert f.covered.model == pytest.approx(a.covered.model, rel=0.05)


def test_auto_model_chooses_by_bic_each_day_as_arch_does(asset: AssetData) -> None:
    # policy model 'auto' in the fast engine: every candidate walks forward and each cadence bar uses the model
    # fit_volatility chooses on the same window: the lowest BIC among the fits it keeps (below the persistence
    # guard, or at the guard but <= 1 as an integrated model when the horizon is within
    # model.integrated_max_hours). The longest margin period of risk is one bar here (mpor.max_hours 24), so
    # EGARCH-t is a candidate (its one-bar variance is finite). As before the rewrite, one day of the eight may
    # differ where the two optimisers end on different sides of the guard.
    pol = policy_from_dict({"model": {"min_history": 250}, "mpor": {"max_hours": 24}})
    spec = BacktestSpec(start="2022-05-25", end="2022-07-14", cadence_days=7, window=257)
    fast = backtest_asset(asset, pol, spec)
    arch = backtest_asset(asset, pol, dataclasses.replace(spec, engine="arch"))
    assert fast.model == "auto-t (lowest BIC of garch, gjr, egarch at each refit; zero mean), fast engine"
    assert {k.split()[0] for k in fast.fast_status} == {"garch", "gjr", "egarch"}
    f_rec, a_rec = fast.set("policy").cadence, arch.set("policy").cadence
    assert len(f_rec) == len(a_rec) == 8
    same = [(f, a) for f, a in zip(f_rec, a_rec, strict=True) if f.model == a.model]
    assert len(same) >= 7, [(str(f.ts)[:10], f.model, a.model) for f, a in zip(f_rec, a_rec, strict=True)]
    for f, a in same:
        assert f.next_vol_annualised == pytest.approx(a.next_vol_annualised, rel=1e-3)


@pytest.mark.parametrize(("mpor", "h"), [({"fixed_hours": 72}, 3), ({}, 1)], ids=["tier1-3-bars", "tier1-1-bar"])
def test_auto_leaves_out_egarch_when_its_horizon_variance_is_infinite(asset: AssetData, mpor: dict[str, float],
                                                                      h: int) -> None:
    # t innovations and a term structure reaching 3 days (the policy's longest margin period of risk, 72 hours):
    # fit_volatility skips EGARCH, so does the fast engine, whether tier 1's own horizon is 3 bars or (its MPOR at
    # the one-bar floor) 1 bar; the report's model label names the candidates actually walked forward
    pol = policy_from_dict({"mpor": mpor, "model": {"min_history": 250}})
    res = backtest_asset(asset, pol, BacktestSpec(start="2022-03-01", end="2022-04-01"))
    assert res.horizon_bars == h
    assert {k.split()[0] for k in res.fast_status} == {"garch", "gjr"}
    assert {r.model.split("-")[0] for r in res.set("policy").cadence} <= {"garch", "gjr", "ewma"}
    assert res.model.startswith("auto-t (lowest BIC of garch, gjr at each refit"), res.model


@pytest.mark.parametrize("dist", ["t", "normal"])
def test_ewma_policy_needs_no_garch(asset: AssetData, dist: str) -> None:
    # EWMA keeps a Student-t fitted to its standardized residuals unless the policy asks for normal innovations
    pol = policy_from_dict({"model": {"model": "ewma", "min_history": 250, "dist": dist}})
    res = backtest_asset(asset, pol, BacktestSpec(start="2022-03-01", end="2022-04-01"))
    pset = res.set("policy")
    assert {r.model for r in pset.cadence} == {f"ewma-{dist}"} and res.fast_status == {}
    nus = [p.model_risk.nu for p in pset.proposals if p.model_risk is not None]
    assert len(nus) == len(pset.proposals)
    assert all(nu is not None and 2 < nu < 1000 for nu in nus) if dist == "t" else all(nu is None for nu in nus)
    # the report's label names the law the proposals used
    assert res.model.startswith(f"ewma-{dist} "), res.model


def test_claimed_coverage_is_tested_with_close_to_close_moves() -> None:
    # the policy replay against its own promise: each proposal's law gives the probability that the close-to-close
    # move over the tier-1 horizon (either side) is beyond the room its tier-1 MMF leaves after the close-out cost;
    # a fixed set makes no such claim
    px = garch_prices(560, seed=3, crash_at=500)
    res = backtest_asset(AssetData(symbol="SYN", freq="1d", prices=px), POLICY,
                         BacktestSpec(start="2021-10-28", cadence_days=7), fixed=[fixed("f", "SYN")])
    pset = res.set("policy")
    assert res.set("f").claimed is None
    c = pset.claimed
    assert c is not None
    # independently: the room of the proposal in force at each observation of the non-overlapping sample, against
    # the close h bars later
    h = res.horizon_bars
    close = px["close"].to_numpy()
    t0 = px.index.get_loc(res.dates[0])
    rooms = np.array([p.tiers[0].mmf - p.tiers[0].close_out_cost if p.status == "ok" and p.tiers else 1.0
                      for p in pset.proposals])
    in_force = np.searchsorted(pset.version_bar, np.arange(res.obs), side="right") - 1
    sample = np.arange(0, res.obs, h)
    ratio = close[t0 + sample + h] / close[t0 + sample]
    room = rooms[in_force[sample]]
    beyond = (1.0 - ratio > room) | (ratio - 1.0 > room)
    stressed = np.array([r.in_stress for r in pset.cadence])[in_force[sample]]
    assert c.n == sample.size == pset.coverage.non_overlapping.n
    assert c.exceptions == int(beyond.sum()) >= 1  # the -40 % close on bar 500 is beyond any tier-1 room
    crash = np.flatnonzero(t0 + sample + h == 500)
    assert crash.size == 1 and beyond[crash].all()
    assert c.steady_n == int((~stressed).sum()) and c.steady_exceptions == int(beyond[~stressed].sum())
    assert c.realised_rate == pytest.approx(beyond.mean())
    # the claim: a small positive rate per observation, Kupiec's test at that rate
    assert 0.0 < c.claimed_rate < 0.05 and c.expected == pytest.approx(c.claimed_rate * c.n)
    assert 0.0 < c.steady_expected <= c.expected
    assert c.kupiec_p == pytest.approx(kupiec_pof(c.n, c.exceptions, 1.0 - c.claimed_rate).p_value)


def test_hourly_perp_backtest_floors_the_horizon_at_one_bar_and_reports_the_live_policy() -> None:
    # hourly bars of a liquid market: tier 1 (a 1m cap) closes out in minutes, inside one bar; the backtest cannot
    # see moves inside a bar, so it evaluates the policy with every margin period of risk at least one bar and
    # reports what the policy itself (the shorter MPOR) would have asked for beside it
    daily = garch_prices(700, seed=4, vol=0.006)
    px = daily.set_axis(pd.date_range("2024-01-01", periods=len(daily), freq="1h", tz="UTC", name="ts"))
    adv = 5e9
    pol = policy_from_dict({"model": {"model": "garch", "min_history": 250},
                            "liquidity": {"adv_override": {"HRS": adv}}})
    res = backtest_asset(AssetData(symbol="HRS", freq="1h", prices=px), pol,
                         BacktestSpec(start=str(px.index[400]), cadence_days=1))
    m = pol.mpor
    mpor = (m.oracle_latency_minutes + m.liquidation_delay_minutes) / 60.0 + \
        pol.perp.tier_breakpoints[1] / (m.participation_rate * adv / 24.0)
    live = res.live_tier1
    assert live["mpor_hours"] == pytest.approx(mpor) and live["mpor_hours"] < 1.0
    assert res.horizon_bars == 1
    assert any("at least one bar (1h)" in n for n in res.notes), res.notes
    pset = res.set("policy")
    assert pset.proposals and all(t.horizon_hours >= 1.0 - 1e-9 for p in pset.proposals for t in p.tiers)
    # over its own (shorter) margin period of risk the policy asks for less margin than as evaluated
    assert 0.0 < live["avg_mmf"] < pset.capital.avg_margin
    assert live["avg_max_leverage"] >= pset.capital.avg_max_leverage


# ---------------------------------------------------------------------------------------------
# the other measures
# ---------------------------------------------------------------------------------------------


def test_capital_stats_and_es_backtest(base) -> None:  # type: ignore[no-untyped-def]
    s = base.set("policy")
    c = s.capital
    assert c.min_margin <= c.avg_margin <= c.max_margin and c.peak_to_trough == pytest.approx(c.max_margin / c.min_margin)
    m = s.margin
    assert c.max_increase_abs["1d"] == pytest.approx(np.max(np.diff(m)))
    assert c.max_increase["5d"] == pytest.approx(np.max(m[5:] / m[:-5] - 1))
    assert c.avg_imf >= c.avg_margin and c.avg_max_leverage == pytest.approx(np.mean(1 / s.imf))
    assert s.es is not None and s.es.n == s.coverage.non_overlapping.n and math.isfinite(s.es.z2)
    assert {y.name for y in s.coverage.by_year} == {"2021", "2022"} | {"2021"}
    assert sum(y.n for y in s.coverage.by_year) == base.obs


def test_every_set_runs_on_the_same_population(base) -> None:  # type: ignore[no-untyped-def]
    pop = default_population("perp", "1d")
    for s in base.sets:
        liq = s.liquidation
        assert liq.positions + liq.rejected + liq.outside_schedule == pop.count
        assert liq.outside_schedule == 0
        assert liq.insurance_fund.index.equals(base.dates)
    entries = [s.liquidation.positions_detail["entry_ts"] for s in base.sets]
    assert all(e.equals(entries[0]) for e in entries)


def test_shocks_and_stress_windows(asset: AssetData) -> None:
    px = garch_prices(700, seed=3, crash_at=560)
    res = backtest_asset(AssetData(symbol="SYN", freq="1d", prices=px), POLICY,
                         BacktestSpec(start="2021-10-28", windows=(("mine", "2022-03-01", "2022-03-31"),)),
                         fixed=[fixed("lev20", "SYN", mmf=0.025, lev=20.0)])
    crash_day = px.index[560]
    top = res.stress[0]
    assert top.source == "drawdown" and top.start <= crash_day <= top.end and top.depth >= 0.4
    assert res.stress[-1].name == "mine" and res.stress[-1].source == "user"
    s = res.set("lev20")
    assert crash_day - pd.Timedelta(days=1) in set(res.dates[: res.obs][s.exceptions_any])
    assert s.side_counts["long"]["overlapping_exceptions"] >= 1
    w = next(x for x in s.windows if x.name == top.name)
    assert w.exceptions >= 1 and w.liquidations > 0 and w.bad_debt > 0
    sh = s.shocks
    assert set(sh["shock"]) == {-0.3, -0.5, 0.3, 0.5}
    at_max = sh[(sh["start"] == "max_leverage") & (sh["shock"] == -0.5)]
    assert (at_max["bad_debt_fraction"] > 0).all()


def test_spec_validation_messages() -> None:
    with pytest.raises(PolicyError, match="cadence_days must be a number > 0"):
        BacktestSpec(cadence_days=0)
    with pytest.raises(PolicyError, match="engine must be one of 'fast', 'arch'"):
        BacktestSpec(engine="slow")
    with pytest.raises(PolicyError, match="window must be an integer >= 50"):
        BacktestSpec(window=10)
    with pytest.raises(PolicyError, match=re.escape("end (2020-01-01T00:00:00Z) is before start")):
        BacktestSpec(start="2021-01-01", end="2020-01-01")
    with pytest.raises(PolicyError, match="stress window 'x' ends before it starts"):
        BacktestSpec(windows=(("x", "2021-02-01", "2021-01-01"),))
    with pytest.raises(PolicyError, match="shocks must be non-zero fractions > -1"):
        BacktestSpec(shocks=(-1.5,))


def test_too_little_history_is_one_sentence(asset: AssetData) -> None:
    with pytest.raises(HistoryError, match="fewer than the policy's min_history"):
        backtest_asset(asset, POLICY, BacktestSpec(start="2021-03-01"))
    report = run_backtest([asset, dataclasses.replace(asset, symbol="TINY", prices=asset.prices.iloc[:100])], POLICY,
                          BacktestSpec(start="2022-06-01", end="2022-06-20"))
    assert [a.symbol for a in report.assets] == ["SYN"] and report.skipped[0][0] == "TINY"


def test_fixed_set_profile_and_names_are_checked(asset: AssetData) -> None:
    lend = FixedParameters(name="l", source="t", profile="lending", assets={})
    with pytest.raises(PolicyError, match="is for lending, the backtest is for perp"):
        run_backtest([asset], POLICY, BacktestSpec(), fixed=[lend])
    with pytest.raises(PolicyError, match="names must be unique"):
        run_backtest([asset], POLICY, BacktestSpec(), fixed=[fixed("policy", "SYN")])


# ---------------------------------------------------------------------------------------------
# the report: shape, determinism, parallel, progress
# ---------------------------------------------------------------------------------------------


def two_assets() -> list[AssetData]:
    return [AssetData(symbol=s, freq="1d", prices=garch_prices(520, seed=k)) for k, s in enumerate(("AAA", "BBB"))]


def test_report_rows_have_the_export_shape_and_ids_are_deterministic() -> None:
    spec = BacktestSpec(start="2021-11-01")
    calls: list[tuple[int, int, str]] = []
    a = run_backtest(two_assets(), POLICY, spec, fixed=[fixed("f", "AAA")], backend="serial")
    b = run_backtest(two_assets(), POLICY, spec, fixed=[fixed("f", "AAA")], backend="threads",
                     progress=lambda d, t, m: calls.append((d, t, m)))
    rows = a.results()  # typed rows; to_dict() is the payload row
    assert [tuple(r.to_dict()) for r in rows] == [BACKTEST_RESULT_KEYS] * 3
    assert [(r.symbol, r.parameter_set) for r in rows] == [("AAA", "policy"), ("AAA", "f"), ("BBB", "policy")]
    content = a.content()
    assert validate_backtest({"id": a.id, **content}) is not None
    assert a.id == b.id and len(a.id) == 64
    assert calls and calls[-1][0] == calls[-1][1] and [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert "no AAA" not in " ".join(a.asset("BBB").notes) and "'f' (test) has no BBB" in " ".join(a.asset("BBB").notes)


def test_fixed_set_from_a_proposal_content() -> None:
    content = {"profile": "perp", "assets": [
        {"symbol": "btc", "tiers": [{"notional_floor": 0, "notional_cap": None, "max_leverage": 10, "mmf": 0.04,
                                     "liquidation_penalty": 0.01}]},
        {"symbol": "LUNA", "tiers": []}]}
    fp = fixed_from_proposal(content, "proposal-abc", "proposal abc")
    assert set(fp.assets) == {"BTC"} and fp.assets["BTC"].tiers[0].maintenance_rate == 0.04  # type: ignore[union-attr]


def test_one_asset_of_1000_days_runs_on_the_fast_engine() -> None:
    # its speed is measured by benchmarks/backtest.py, not asserted here
    data = AssetData(symbol="PERF", freq="1d", prices=garch_prices(2000, seed=5))
    res = backtest_asset(data, POLICY, BacktestSpec())  # window 1000, ~1000 backtest days, weekly cadence
    assert res.obs >= 990
    assert "fast engine" in res.model


# ---------------------------------------------------------------------------------------------
# records: stored, attached, immutable
# ---------------------------------------------------------------------------------------------


def _proposal(store: Store, profile: str = "perp") -> str:
    p = Proposal(profile=profile, as_of=None, policy={"policy_key": "k"}, assets=(), skipped=(),
                 provenance={"note": profile})
    return save_proposal(store, p).id


@pytest.fixture(scope="module")
def small_report():  # type: ignore[no-untyped-def]
    return run_backtest(two_assets()[:1], POLICY, BacktestSpec(start="2022-03-01", end="2022-04-15"))


def test_reports_are_stored_once_and_verified(store: Store, small_report) -> None:  # type: ignore[no-untyped-def]
    content = small_report.content()
    first = br.save_report(store, content)
    again = br.save_report(store, content)
    assert first.is_new and not again.is_new and first.id == again.id == small_report.id
    assert again.created_at == first.created_at
    got = br.get_report(store, first.id[:8])
    assert got.content == content and got.export_payload()["results"] == [r.to_dict() for r in small_report.results()]
    assert got.backtest.results == tuple(small_report.results())  # the typed reader gives the same rows
    assert validate_backtest(got.export_payload()) is not None
    listed = br.list_reports(store)
    assert [r["id"] for r in listed] == [first.id] and listed[0]["symbols"] == ["AAA"]
    store.cursor().execute("UPDATE backtest_reports SET payload = replace(payload, '\"AAA\"', '\"ZZZ\"')")
    with pytest.raises(StoreError, match="does not match its content hash"):
        br.get_report(store, first.id)


def test_reports_attach_to_proposals_append_only(store: Store, small_report) -> None:  # type: ignore[no-untyped-def]
    rep = br.save_report(store, small_report.content())
    pid = _proposal(store)
    assert br.attach_report(store, pid[:10], rep.id, actor="alice") is True
    assert br.attach_report(store, pid, rep.id[:10]) is False
    att = br.attachments(store, pid)
    assert len(att) == 1 and att[0]["report_id"] == rep.id and att[0]["actor"] == "alice"
    assert br.latest_attached(store, pid).id == rep.id
    with pytest.raises(RiskParamsError, match="is for perp, proposal .* is for lending"):
        br.attach_report(store, _proposal(store, "lending"), rep.id)
    with pytest.raises(br.ReportNotFoundError, match="no stored backtest report has id 'abcdef'"):
        br.get_report(store, "abcdef")
    with pytest.raises(br.ReportNotFoundError, match="no backtest is attached"):
        br.latest_attached(store, _proposal(store, "lending"))


def test_backtest_records_only_select_and_insert() -> None:
    for sql in br.STATEMENTS:
        verb = sql.split()[0].upper()
        assert verb in ("SELECT", "INSERT"), sql
        assert not re.search(r"\b(UPDATE|DELETE|DROP|ALTER|TRUNCATE)\b", sql, re.IGNORECASE), sql


def test_service_backtest_end_to_end(store: Store) -> None:
    from riskparams import service

    for k, sym in enumerate(("AAA", "BBB")):
        store.ingest_frame(garch_prices(520, seed=k).reset_index(), symbol=sym, source="test", kind="perp", freq="1d",
                           origin="test")
    pid = _proposal(store)
    seen: list[int] = []
    run = service.backtest(store, profile="perp", policy=POLICY, spec=BacktestSpec(start="2022-04-01"),
                           attach=pid, progress=lambda d, t, m: seen.append(d))
    d = run.to_dict()
    assert d["id"] == run.stored.id and d["attached_to"] == pid and d["stored_now"]  # type: ignore[union-attr]
    assert {r["parameter_set"] for r in d["results"]} == {"policy"}  # the empty proposal has no asset tables
    assert "paths" not in d["assets"][0] and "paths" in run.to_dict(paths=True)["assets"][0]
    assert service.export_backtest_payload(store, "attached", pid)["id"] == run.id
    assert service.export_backtest_payload(store, run.id[:8], pid)["id"] == run.id
    assert seen


def test_backtest_figures(small_report) -> None:  # type: ignore[no-untyped-def]
    from riskparams.service import backtest_figures

    figs = backtest_figures(small_report.content(), "aaa")
    margins = figs["margins"]
    names = [t.name for t in margins.data]
    assert names[0].startswith("adverse move") and any(n.startswith("policy: tier-1 MMF") for n in names)
    n = next(r.exceptions for r in small_report.results() if r.symbol == "AAA" and r.parameter_set == "policy")
    # the legend counts what the table counts
    assert any(t.startswith(f"policy: {n} exception{'s' if n != 1 else ''}") for t in names)
    assert margins.layout.yaxis.tickformat == ".1~%" and "time (UTC)" in margins.layout.xaxis.title.text
    assert [t.name for t in figs["fund"].data] == ["policy"]
    assert "insurance fund" in figs["fund"].layout.yaxis.title.text
    assert {t.name for t in figs["sets"].data} >= {"policy", "expected"}
    with pytest.raises(RiskParamsError, match="no paths for 'ZZZ'"):
        backtest_figures(small_report.content(), "ZZZ")


def test_causal_inputs_match_the_proposal_service() -> None:
    """Stressed and long-run volatility and ADV on each cadence bar equal what propose() computes from the bars
    up to that bar."""
    from riskparams.backtest.prepare import _adv_at, _prepare
    from riskparams.service import average_daily_value
    from riskparams.volatility import stressed_vol
    from riskparams.volatility_fast import ExpandingVol

    r = np.random.default_rng(0).standard_normal(800) * 0.02
    h = ExpandingVol.build(r, 250)
    for k in (2, 100, 249, 250, 251, 600, 800):
        assert h.stressed[k] == pytest.approx(stressed_vol(r[:k], 250), rel=1e-9)
        assert h.lookback[k] == pytest.approx(np.std(r[:k], ddof=1), rel=1e-9)
    px = garch_prices(700, seed=1)
    p = _prepare(AssetData(symbol="S", freq="1d", prices=px), POLICY, BacktestSpec(start="2021-10-28"))
    for t in (300, 450, 699):
        assert _adv_at(p, t, 30) == pytest.approx(average_daily_value(px.iloc[: t + 1], "1d", 30), rel=1e-12)


@pytest.mark.parametrize(("side", "count"), [("both", 4), ("long", 4), ("short", 0)])
def test_exception_sides(side: str, count: int) -> None:
    res = backtest_asset(AssetData(symbol="SPK", freq="1d", prices=spiky_prices()), POLICY,
                         BacktestSpec(start="2022-12-01", side=side), fixed=[fixed("f", "SPK", mmf=0.05, lev=5.0)])
    s = res.set("f")
    assert s.side == side and s.coverage.non_overlapping.exceptions == count
    assert s.side_counts["long"]["exceptions"] == 4 and s.side_counts["short"]["exceptions"] == 0
    assert int(s.exceptions_any.sum()) == 4


def test_days_the_fast_engine_failed_are_fitted_by_arch(asset: AssetData, monkeypatch: pytest.MonkeyPatch) -> None:
    from riskparams import fastgarch

    real = fastgarch.walk_forward_many

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        return tuple(dataclasses.replace(r, sigma=np.full_like(r.sigma, np.nan)) for r in real(*args, **kwargs))

    monkeypatch.setattr(fastgarch, "walk_forward_many", failing)
    res = backtest_asset(asset, POLICY, BacktestSpec(start="2022-03-01", end="2022-03-20", cadence_days=14))
    assert {r.engine for r in res.set("policy").cadence} == {"arch (fast fit failed)"}
    assert any("fitted by arch after the fast fit failed" in n for n in res.notes)


def test_an_explosive_arch_fit_is_rejected_not_proposed_from(monkeypatch: pytest.MonkeyPatch) -> None:
    # regression: on this 257-return window arch's EGARCH-t reported success at alpha -84, gamma 92,
    # nu 2.05, with a next-day volatility of 4e16 and an infinite VaR; the arch engine's proposal math
    # then crashed on it (auto picked it). fit_volatility rejects such a fit and falls back to EWMA.
    # That optimum was reached with two BLAS threads; fits now run with one (riskparams._blas), where
    # arch ends elsewhere on this window, so the guard's threshold is lowered to make every fit explosive.
    from riskparams import volatility
    from riskparams.volatility import FitSpec, fit_volatility

    monkeypatch.setattr(volatility, "_EXPLOSIVE_VARIANCE", 1e-9)
    frame = garch_prices(700, seed=1).iloc[287:545]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = fit_volatility(frame, "1d", FitSpec(model="egarch", min_history=250, engine="arch"))
    assert est.model.value == "ewma" and est.fallback is not None and "explosive fit" in est.fallback
    assert math.isfinite(est.var) and est.next_vol < 0.2


# ---------------------------------------------------------------------------------------------
# execution lag, warm-up and steady state (issue 13, item 2)
# ---------------------------------------------------------------------------------------------

LAG_START = "2021-10-28"
# the replay starts far below the model's target (1.2 % MMF, 50x) and may move 20 % a proposal: a ramp
RAMP_POLICY = policy_from_dict({"model": {"model": "garch", "min_history": 250},
                                "guardrails": {"max_relative_change": 0.2, "dead_band": 0.05}})
RAMP_START = perp_table("SYN", mmf=0.012, lev=50.0)


@pytest.fixture(scope="module")
def lagged(asset: AssetData):  # type: ignore[no-untyped-def]
    """The ramp replay without lag and with a 5-day lag (daily bars: 5 bars), same decisions."""
    out = {}
    for lag in (0, 5):
        out[lag] = backtest_asset(asset, RAMP_POLICY, BacktestSpec(start=LAG_START, cadence_days=7, es_sims=0,
                                                                  execution_lag_days=lag), current=RAMP_START)
    return out


def test_lag_zero_is_todays_replay(base, asset: AssetData) -> None:  # type: ignore[no-untyped-def]
    """At lag 0 each decision is in force from its own bar (today's definition): the margin is the step function
    of the cadence records' tier-1 MMF, the versions start on the cadence bars, and an explicit lag of 0 gives the
    same margins, exceptions, coverage, capital and liquidations as the default spec."""
    s = base.set("policy")
    mmf = np.asarray([r.params["tiers"][0]["mmf"] for r in s.cadence])
    on = base.dates.get_indexer(pd.DatetimeIndex([r.ts for r in s.cadence]))
    np.testing.assert_array_equal(s.version_bar, on)
    np.testing.assert_array_equal(s.margin, mmf[np.searchsorted(on, np.arange(len(base.dates)), side="right") - 1])
    assert all(r.effective == r.ts for r in s.cadence)
    zero = backtest_asset(asset, POLICY, BacktestSpec(start="2021-10-28", cadence_days=7, execution_lag_days=0),
                          current=perp_table("SYN", mmf=0.04, lev=12.5), fixed=[fixed("fixed5", "SYN", mmf=0.05)])
    z = zero.set("policy")
    np.testing.assert_array_equal(z.margin, s.margin)
    np.testing.assert_array_equal(z.exceptions, s.exceptions)
    assert z.coverage.to_dict() == s.coverage.to_dict() and z.capital.to_dict() == s.capital.to_dict()
    assert z.liquidation.to_dict(path=False) == s.liquidation.to_dict(path=False)
    assert z.phases is not None and z.phases.execution_lag_days == 0.0


def test_lag_shifts_each_decision_by_the_lag_and_never_changes_a_decision(lagged) -> None:  # type: ignore[no-untyped-def]
    """The same decisions (each sees the previous decision as its guardrails' current value), each in force 5 daily
    bars later; until the first one is, the current parameters (1.2 % MMF) are."""
    s0, s5 = lagged[0].set("policy"), lagged[5].set("policy")
    assert [r.params for r in s0.cadence] == [r.params for r in s5.cadence]
    n = len(lagged[0].dates)
    assert (s5.margin[:5] == 0.012).all()
    np.testing.assert_array_equal(s5.margin[5:], s0.margin[: n - 5])
    dates = lagged[5].dates
    for r in s5.cadence:
        if r.effective is not None:
            assert r.effective == r.ts + pd.Timedelta(days=5)
        else:
            assert r.ts + pd.Timedelta(days=5) > dates[-1]
    assert s5.source.endswith("execution lag 5 days")


def test_lagged_decisions_do_not_look_ahead(asset: AssetData, lagged) -> None:  # type: ignore[no-untyped-def]
    """Prices after a decision's bar tripled: that decision and every earlier one are unchanged, and so is the margin
    up to the bar the next decision takes effect (the decision is in force 5 bars later, but decided on data up to
    its own bar)."""
    s5 = lagged[5].set("policy")
    d = s5.cadence[6].ts
    later = asset.prices.copy()
    later.loc[later.index > d, ["open", "high", "low", "close"]] *= 3.0
    other = backtest_asset(dataclasses.replace(asset, prices=later), RAMP_POLICY,
                           BacktestSpec(start=LAG_START, cadence_days=7, es_sims=0, execution_lag_days=5),
                           current=RAMP_START).set("policy")
    assert [r.to_dict() for r in other.cadence[:7]] == [r.to_dict() for r in s5.cadence[:7]]
    upto = lagged[5].dates.get_loc(s5.cadence[7].effective)
    np.testing.assert_array_equal(other.margin[:upto], s5.margin[:upto])
    assert other.cadence[7].to_dict() != s5.cadence[7].to_dict()  # the perturbation does reach the next decision


def test_warmup_ends_when_the_parameters_in_force_reach_the_target(lagged) -> None:  # type: ignore[no-untyped-def]
    for lag, res in lagged.items():
        s = res.set("policy")
        ph = s.phases
        assert ph is not None and ph.execution_lag_days == lag
        # the first decision at the target (no step limit bound) is the first without a max_change line
        first = next(r for r in s.cadence if r.at_target)
        assert all(any(g.endswith("max_change") for g in r.guardrails) for r in s.cadence[: s.cadence.index(first)])
        assert first.effective is not None and ph.warmup_end == riso(first.effective)
        assert first.effective == first.ts + pd.Timedelta(days=lag) and "reached the model's target" in ph.warmup_end_reason
        w, st = ph.warmup, ph.steady_state
        assert w.bars + st.bars == len(res.dates) and w.bars > 0 and st.bars > 0
        assert w.start == riso(res.dates[0]) and st.start == ph.warmup_end
        assert pd.Timestamp(w.end) + pd.Timedelta(days=1) == pd.Timestamp(st.start)
        # the blocks split the totals: observations, exceptions, changes
        cov = s.coverage.non_overlapping
        assert w.n + st.n == cov.n and w.exceptions + st.exceptions == cov.exceptions
        assert w.changes + st.changes == s.changes == ph.changes
        assert w.expected == pytest.approx(w.n * 0.01) and st.expected == pytest.approx(st.n * 0.01)
        assert w.kupiec_p == pytest.approx(kupiec_pof(w.n, w.exceptions, 0.99).p_value)
        k = len(res.dates) - st.bars
        m = s.margin[k:]
        assert st.peak_to_trough == pytest.approx(m.max() / m.min()) and st.avg_margin == pytest.approx(m.mean())
        assert w.actions_per_year == pytest.approx(w.changes / (w.bars / 365.25))
        # the ramp: the warm-up's margin climbs from 1.2 % (with a lag: in force until the first decision is; without:
        # the first decision, at most 20 % above it, is in force from the first bar); its peak-to-trough is larger
        assert s.margin[0] == 0.012 if lag else 0.012 < s.margin[0] <= 0.012 * 1.2 + 1e-12
        assert w.peak_to_trough > st.peak_to_trough
    # the lag delays the end of the warm-up by the lag
    e0, e5 = (pd.Timestamp(lagged[g].set("policy").phases.warmup_end) for g in (0, 5))
    assert e5 - e0 == pd.Timedelta(days=5)


def riso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_warmup_is_cut_at_its_stated_maximum(asset: AssetData) -> None:
    slow = policy_from_dict({"model": {"model": "garch", "min_history": 250},
                             "guardrails": {"max_relative_change": 0.02, "dead_band": 0.01}})
    res = backtest_asset(asset, slow, BacktestSpec(start=LAG_START, end="2022-03-01", cadence_days=7, es_sims=0,
                                                   warmup_max_days=30), current=RAMP_START)
    ph = res.set("policy").phases
    assert ph is not None and "30-day maximum warm-up" in ph.warmup_end_reason
    assert ph.warmup_end == riso(res.dates[0] + pd.Timedelta(days=30)) and ph.warmup.bars == 30


def test_no_current_parameters_means_no_warmup(asset: AssetData) -> None:
    res = backtest_asset(asset, POLICY, BacktestSpec(start="2022-03-01", end="2022-05-01", es_sims=0,
                                                     execution_lag_days=3))
    s = res.set("policy")
    assert s.phases is not None and s.phases.warmup.bars == 0 and s.phases.warmup.n == 0
    assert math.isnan(s.phases.warmup.kupiec_p) and s.phases.steady_state.bars == len(res.dates)
    assert s.version_bar[0] == 0  # the first decision is in force from the first bar


def test_dead_band_effect_counts_changes_it_suppressed_on_the_same_path(asset: AssetData) -> None:
    """With a wide dead-band the replay changes less often; the counterfactual (dead-band 0 at each decision, with
    the same parameters in force) changes at least as often, and only where the dead-band held a parameter. With a
    dead-band of 0 the two counts agree."""
    wide = policy_from_dict({"model": {"model": "garch", "min_history": 250},
                             "guardrails": {"max_relative_change": 0.5, "dead_band": 0.25}})
    res = backtest_asset(asset, wide, BacktestSpec(start=LAG_START, cadence_days=7, es_sims=0),
                         current=perp_table("SYN", mmf=0.04, lev=12.5))
    s = res.set("policy")
    ph = s.phases
    assert ph is not None and ph.dead_band == 0.25 and ph.changes == s.changes
    extra = [r for r in s.cadence[1:] if r.changed_without_dead_band and not r.changed]
    assert extra and all(any(g.endswith("dead_band") for g in r.guardrails) for r in extra)
    assert ph.changes_without_dead_band == ph.changes + len(extra)
    assert ph.warmup.changes_without_dead_band + ph.steady_state.changes_without_dead_band == ph.changes_without_dead_band
    none = policy_from_dict({"model": {"model": "garch", "min_history": 250}, "guardrails": {"dead_band": 0.0}})
    ph0 = backtest_asset(asset, none, BacktestSpec(start=LAG_START, cadence_days=7, es_sims=0),
                         current=perp_table("SYN", mmf=0.04, lev=12.5)).set("policy").phases
    assert ph0 is not None and ph0.changes_without_dead_band == ph0.changes


def test_lending_replay_with_a_lag_starts_from_the_current_parameters() -> None:
    px = spiky_prices(depth=0.12)
    cur = CurrentLending(symbol="SPK", ltv=0.5, liquidation_threshold=0.55, liquidation_bonus=0.05)
    res = backtest_asset(AssetData(symbol="SPK", freq="1d", prices=px), POLICY,
                         BacktestSpec(profile="lending", start="2022-12-01", execution_lag_days=2, es_sims=0),
                         current=cur)
    s = res.set("policy")
    assert s.margin[0] == pytest.approx(1 - 0.55 * 1.05) and s.version_bar[1] == 2
    assert s.phases is not None and s.phases.warmup.bars + s.phases.steady_state.bars == len(res.dates)


def test_phase_blocks_are_in_the_content_and_old_reports_still_load(lagged) -> None:  # type: ignore[no-untyped-def]
    from riskparams.backtest import BacktestReport
    from riskparams.backtest_content import REPORT_FORMAT, StoredBacktest
    from riskparams.jsonio import canonical_json, content_id

    a = lagged[5]
    rep = BacktestReport(profile="perp", spec=BacktestSpec(start=LAG_START, execution_lag_days=5), policy=RAMP_POLICY,
                         assets=(a,))
    content = rep.content(paths=False)
    assert content["format"] == REPORT_FORMAT == "riskparams-backtest-v2"
    assert content["spec"]["execution_lag_days"] == 5.0 and content["spec"]["warmup_max_days"] == 365.0
    pol = content["assets"][0]["sets"][0]
    assert set(pol["execution"]) == {"lag_days", "warmup_end", "warmup_end_reason", "warmup_max_days", "dead_band",
                                     "changes", "changes_without_dead_band"}
    assert pol["warmup"]["name"] == "warmup" and pol["steady_state"]["name"] == "steady_state"
    assert pol["warmup"]["changes"] + pol["steady_state"]["changes"] == pol["capital"]["changes"]
    assert all("effective" in p and "at_target" in p for p in pol["proposals"])
    typed = StoredBacktest.from_content(content)
    ps = typed.assets[0].policy_set
    assert ps is not None and ps.warmup == pol["warmup"] and ps.execution == pol["execution"]
    # a v1 report (before the lag and the split): same hash back, no phases
    old = json.loads(canonical_json(content))
    old["format"] = "riskparams-backtest-v1"
    del old["spec"]["execution_lag_days"], old["spec"]["warmup_max_days"]
    for r in old["results"]:
        del r["phases"]
    for s in old["assets"][0]["sets"]:
        for k in ("execution", "warmup", "steady_state"):
            s.pop(k, None)
        for p in s["proposals"]:
            del p["effective"], p["at_target"], p["changed_without_dead_band"]
    typed_old = StoredBacktest.from_content(old)
    assert typed_old.id == content_id(old) and typed_old.format == "riskparams-backtest-v1"
    assert typed_old.assets[0].policy_set.warmup is None and typed_old.assets[0].policy_set.execution is None


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, True, "5", 400])
def test_execution_lag_is_validated_in_one_sentence(bad: object) -> None:
    with pytest.raises(PolicyError, match=r"^execution_lag_days must be a number >= 0 and <= 365 \(one year\), got"):
        BacktestSpec(execution_lag_days=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -3, math.nan, False, 4000])
def test_warmup_max_days_is_validated_in_one_sentence(bad: object) -> None:
    with pytest.raises(PolicyError, match=r"^warmup_max_days must be a number > 0"):
        BacktestSpec(warmup_max_days=bad)  # type: ignore[arg-type]


def test_views_show_warmup_and_steady_state_side_by_side(lagged) -> None:  # type: ignore[no-untyped-def]
    from riskparams import views
    from riskparams.backtest import BacktestReport

    rep = BacktestReport(profile="perp", spec=BacktestSpec(start=LAG_START, execution_lag_days=5), policy=RAMP_POLICY,
                         assets=(lagged[5],))
    content = rep.content(paths=False)
    frame, note = views.backtest_phases(content, "SYN")
    assert frame is not None and list(frame.columns) == ["figure", "Warm-up", "Steady state"]
    ph = lagged[5].set("policy").phases
    cells = dict(zip(frame["figure"], frame["Steady state"], strict=True))
    st = ph.steady_state
    assert cells["exceptions / expected"] == f"{st.exceptions:,} / {st.expected:,.1f} in {st.n:,}"
    assert cells["peak-to-trough"] == f"{st.peak_to_trough:.2f}" and cells["changes (governance actions)"] == str(st.changes)
    assert note.startswith("**Execution lag** 5 days") and f"{ph.changes:,} changes as replayed" in note
    # the result row of the policy carries the same blocks (the export payload); fixed sets carry none
    row = next(r for r in content["results"] if r["parameter_set"] == "policy")
    assert row["phases"]["warmup"] == ph.warmup.to_dict() and row["phases"]["lag_days"] == 5.0
    # a report stored before the split: no table
    old = json.loads(json.dumps(content))
    for s in old["assets"][0]["sets"]:
        for k in ("execution", "warmup", "steady_state"):
            s.pop(k, None)
    assert views.backtest_phases(old, "SYN") == (None, "") and views.backtest_phases(content, "NOPE") == (None, "")

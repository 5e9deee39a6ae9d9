"""Proposal engine: invariants, invariances, property-style checks, golden numbers, real data.

The estimates are fitted once per module on synthetic returns (small ``n_sims``) and reused; every
proposal call after that is pure math, so the property loops run hundreds of cases in a few seconds.
"""

from __future__ import annotations

import importlib.util
import json
import math
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from riskparams.config import RiskPolicy, policy_from_dict
from riskparams.domain import (
    CurrentLending,
    CurrentPerp,
    CurrentPerpTier,
    LendingAssetProposal,
    PerpAssetProposal,
)
from riskparams.measures import Tail, log_to_price_move
from riskparams.proposals import (
    apply_guardrail,
    close_out_cost,
    covered_move,
    daily_vol,
    forecast_vol,
    lending_coverage,
    long_run_vol,
    maintenance_deductions,
    maintenance_margin,
    model_risk_band,
    perp_coverage,
    propose_lending,
    propose_tiers,
    regime,
    round_down,
    round_up,
)
from riskparams.volatility import FitSpec, HorizonQuantiles, VolEstimate, fit_returns, quantile_levels

GOLDEN = Path(__file__).resolve().parent / "golden"
TOL = 1e-12


def returns(n: int = 1200, *, seed: int = 7, scale: float = 0.03, nu: float = 5.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    sd = np.full(n, scale)
    sd[n // 2: n // 2 + 50] *= 2.5  # a stress episode
    r = sd * rng.standard_t(nu, n) / math.sqrt(nu / (nu - 2))
    return pd.Series(r, index=pd.date_range("2019-01-01", periods=n, freq="D", tz="UTC", name="ts"))


def fitspec(**kw: Any) -> FitSpec:
    """A FitSpec from plain strings (validated by FitSpec itself)."""
    return FitSpec.from_dict(kw)


def fit(spec: FitSpec, r: pd.Series | None = None) -> VolEstimate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_returns(returns() if r is None else r, "1d", spec)


def policy(**kw: Any) -> RiskPolicy:
    base: dict[str, Any] = {"model": {"n_sims": 500}}
    base.update(kw)
    return policy_from_dict(base)


@pytest.fixture(scope="module")
def est() -> VolEstimate:
    """GARCH-t on daily bars with a term structure over 72h (the default policy's longest margin period of
    risk): analytic one-bar tails, simulated at 2 and 3 bars."""
    return fit(fitspec(model="garch", dist="t", horizon_hours=72, n_sims=500))


@pytest.fixture(scope="module")
def est3() -> VolEstimate:
    """GJR-t over 72h (3 bars): simulated tails, FHS available, risk_method max."""
    return fit(fitspec(model="gjr", dist="t", horizon_hours=72, n_sims=2000, risk_method="max"))


@pytest.fixture(scope="module")
def est_normal() -> VolEstimate:
    """EWMA with normal innovations over 48h: normal tails in closed form."""
    return fit(fitspec(model="ewma", dist="normal", horizon_hours=48, n_sims=500))


def mpor_hours(notional: float, adv: float, pol: RiskPolicy) -> float:
    """A tier's margin period of risk from the policy's parts, computed here independently."""
    m = pol.mpor
    if m.fixed_hours > 0:
        return m.fixed_hours
    return max((m.oracle_latency_minutes + m.liquidation_delay_minutes) / 60 + notional / (
        m.participation_rate * adv / 24), m.min_hours)


CURRENT = CurrentPerp(symbol="TST", tiers=(
    CurrentPerpTier(notional_floor=0.0, notional_cap=1e6, max_leverage=20, maintenance_rate=0.025,
                    liquidation_penalty=0.01),
    CurrentPerpTier(notional_floor=1e6, notional_cap=1e7, max_leverage=10, maintenance_rate=0.05,
                    liquidation_penalty=0.015),
    CurrentPerpTier(notional_floor=1e7, notional_cap=None, max_leverage=4, maintenance_rate=0.1,
                    liquidation_penalty=0.02),
))


# ---------------------------------------------------------------------------------------------
# checks shared by many tests
# ---------------------------------------------------------------------------------------------


def check_perp_invariants(p: PerpAssetProposal, pol: RiskPolicy, current: CurrentPerp | None = None) -> None:
    """Every invariant of a perpetual proposal; raises AssertionError naming the one that fails."""
    if p.status == "unmarginable":
        assert p.tiers == () and p.lines == ()
        return
    tiers = p.tiers
    assert tiers, "an ok proposal has tiers"
    grid = set(pol.perp.leverage_grid) | {1.0}
    pen_floor = round_up(pol.liquidator_incentive, pol.rounding.penalty_step) if pol.liquidator_incentive > 0 else 0.0
    bounds = {(ln.tier, ln.parameter): ln.bound for ln in p.lines}
    for k, t in enumerate(tiers):
        assert 0.0 <= t.liquidation_penalty < t.mmf < t.imf <= 1.0, (k, t)
        assert t.imf == pytest.approx(1.0 / t.max_leverage, abs=TOL)
        cur_lev = None if current is None else current.at(t.notional_floor).max_leverage
        assert t.max_leverage in grid or t.max_leverage == cur_lev, f"tier {k} leverage {t.max_leverage} off grid"
        assert t.liquidation_penalty >= pen_floor - TOL, f"tier {k}: penalty below the liquidator incentive"
        if t.liquidation_penalty > max(0.0, t.mmf - t.covered_move) + TOL:  # only to pay the incentive
            assert bounds[(k, "liquidation_penalty")] == "incentive_floor", (k, t)
            assert t.liquidation_penalty == pytest.approx(pen_floor, abs=TOL)
        if t.max_leverage != 1.0 and t.max_leverage != cur_lev:
            assert t.imf >= t.mmf / pol.perp.maintenance_fraction - TOL, f"tier {k}: IMF below MMF / fraction"
        assert 0.0 <= t.coverage <= 1.0
        assert t.under_covered == (t.mmf < t.mmf_model - 1e-12), (k, t)
        assert 0 < t.horizon_hours <= pol.mpor.max_hours + 1e-9
    for k in range(1, len(tiers)):
        a, b = tiers[k - 1], tiers[k]
        assert b.mmf >= a.mmf - TOL and b.imf >= a.imf - TOL, f"tier {k} below tier {k - 1}"
        assert b.horizon_hours >= a.horizon_hours and b.covered_move >= a.covered_move - TOL, k
        assert a.notional_cap == b.notional_floor
        # the required maintenance margin is continuous at the edge
        n = b.notional_floor
        assert n * a.mmf - a.maintenance_deduction == pytest.approx(n * b.mmf - b.maintenance_deduction, rel=1e-12,
                                                                     abs=1e-6)
    assert tiers[0].notional_floor == 0.0 and tiers[0].maintenance_deduction == 0.0


def check_perp_guardrails(p: PerpAssetProposal, pol: RiskPolicy) -> None:
    """No guardrail is exceeded unless an invariant forces it, and then the line says so and it is forced."""
    g = pol.guardrails
    by_tier = {k: {ln.parameter: ln for ln in p.lines if ln.tier == k} for k in range(len(p.tiers))}
    for ln in p.lines:
        if ln.current is None:
            continue
        within = abs(ln.proposed - ln.current) <= g.max_relative_change * ln.current + 1e-9
        if ln.parameter in ("mmf",):
            if ln.bound == "monotonic":  # raised to the tier below, which an invariant may have raised
                assert ln.proposed == p.tiers[ln.tier - 1].mmf, ln  # type: ignore[operator]
            else:
                assert within or ln.bound == "invariant", f"MMF guardrail exceeded: {ln}"
        elif ln.parameter == "liquidation_penalty":
            if not within:
                assert ln.bound in ("maintenance_cap", "incentive_floor"), ln
                if ln.bound == "maintenance_cap":
                    t = p.tiers[ln.tier]  # type: ignore[index]
                    step = pol.rounding.penalty_step
                    cap = max(0.0, round_down(t.mmf - t.covered_move, step))
                    cap = cap if cap < t.mmf else max(0.0, round_down(t.mmf - step, step))
                    assert ln.proposed == pytest.approx(cap, abs=1e-12), (ln, cap)
        elif ln.parameter == "imf":
            if not within:
                assert ln.bound in ("invariant", "monotonic"), ln
                if ln.bound == "invariant":  # no feasible leverage inside the band
                    mmf = by_tier[ln.tier]["mmf"].proposed  # type: ignore[index]
                    need = mmf / pol.perp.maintenance_fraction
                    band = g.max_relative_change * ln.current
                    feasible = [lev for lev in set(pol.perp.leverage_grid) | {1.0, 1.0 / ln.current}
                                if (1.0 / lev >= need - 1e-12 or lev == 1.0) and abs(1 / lev - ln.current) <= band + 1e-12]
                    assert feasible == [], (ln, feasible)
        if ln.bound == "dead_band":
            assert ln.proposed == ln.current and ln.uncapped is not None
            assert abs(ln.uncapped - ln.current) <= g.dead_band * ln.current + 1e-9


def check_lending(p: LendingAssetProposal, pol: RiskPolicy, current: CurrentLending | None = None) -> None:
    if p.status == "unmarginable":
        assert p.ltv == 0.0 and 0.0 <= p.liquidation_threshold < 1.0
    else:
        assert 0.0 <= p.ltv < p.liquidation_threshold < 1.0
    assert p.liquidation_threshold * (1 + p.liquidation_bonus) <= 1.0 + TOL
    assert p.liquidation_bonus >= 0.0
    step = pol.rounding.lending_step
    for ln in p.lines:
        cur = ln.current
        if ln.proposed != cur:  # a kept current value may be off the grid
            assert abs(ln.proposed / step - round(ln.proposed / step)) < 1e-6, f"{ln.parameter} off the step grid"
        if cur is not None and ln.bound != "invariant":
            lim = min(pol.guardrails.max_relative_change * cur if cur > 0 else math.inf,
                      pol.guardrails.lending_max_change_bps[ln.parameter] / 1e4)
            assert abs(ln.proposed - cur) <= lim + 1e-9, f"lending guardrail exceeded: {ln}"


# ---------------------------------------------------------------------------------------------
# rounding and guardrails
# ---------------------------------------------------------------------------------------------


def test_rounding_is_exact_and_directional() -> None:
    assert round_up(0.0123, 0.001) == 0.013 and round_down(0.0123, 0.001) == 0.012
    assert round_up(0.013, 0.001) == 0.013 and round_down(0.013, 0.001) == 0.013  # no float-noise step
    assert round_up(0.1 + 0.2, 0.1) == 0.3 and round_down(0.7, 0.005) == 0.7
    rng = np.random.default_rng(1)
    for x in rng.uniform(0, 1, 500):
        for step in (0.001, 0.0005, 0.005):
            assert round_down(x, step) <= x + 1e-12 <= round_up(x, step) + 2e-12
            assert round_up(x, step) - round_down(x, step) <= step + 1e-12


def test_guardrail_dead_band_cap_and_rounding_toward_current() -> None:
    kw = {"max_relative_change": 0.5, "dead_band": 0.05, "step": 0.001}
    assert apply_guardrail(0.03, None, **kw).value == 0.03
    g = apply_guardrail(0.0204, 0.02, **kw)
    assert (g.value, g.bound, g.uncapped) == (0.02, "dead_band", 0.0204)
    g = apply_guardrail(0.10, 0.025, **kw)  # +300 % -> +50 % = 0.0375, rounded toward current: 0.037
    assert (g.value, g.bound, g.uncapped) == (0.037, "max_change", 0.10)
    g = apply_guardrail(0.001, 0.025, **kw)  # -96 % -> -50 % = 0.0125, rounded up toward current: 0.013
    assert (g.value, g.bound) == (0.013, "max_change")
    g = apply_guardrail(0.80, 0.70, max_relative_change=0.5, dead_band=0.0, step=0.005, abs_limit=0.05)
    assert (g.value, g.bound) == (0.75, "max_change")
    assert apply_guardrail(0.03, 0.025, **kw).value == 0.03  # +20 %: inside the band, outside the dead-band


# ---------------------------------------------------------------------------------------------
# the covered move and anti-procyclicality
# ---------------------------------------------------------------------------------------------


def test_covered_move_formulas_with_each_tool(est_normal: VolEstimate) -> None:
    e = est_normal
    h = 48.0
    s_c = forecast_vol(e)
    assert s_c == e.next_vol  # the regime and the ratios use the one-step forecast: the same for every tier
    x0 = max(e.term.tail_measure("fitted", h, 0.99, "es", t) for t in ("lower", "upper"))  # type: ignore[union-attr]
    # the grid's ES is the closed-form normal ES over 2 bars, sigma * phi(z_q) / (1 - q), to 0.2 %
    assert x0 == pytest.approx(math.sqrt(2) * s_c * stats.norm.pdf(stats.norm.ppf(0.99)) / 0.01, rel=2e-3)
    fitted = {"model_risk": {"combine": "fitted"}}
    off = policy(apc={"buffer_enabled": False, "long_run_floor_enabled": False}, **fitted)
    cm = covered_move(e, off, hours=h)
    assert cm.final == cm.model == pytest.approx(log_to_price_move(x0, "upper"), rel=1e-12) and cm.binding == ()
    # (c) long-run floor with a long-run volatility twice the forecast
    floor = policy(apc={"buffer_enabled": False, "long_run_floor_enabled": True}, **fitted)
    cm = covered_move(e, floor, lookback_vol=2 * s_c, hours=h)
    assert cm.binding == ("long_run_floor",) and cm.long_run_basis == "sample"
    assert cm.final == pytest.approx(log_to_price_move(2 * x0, "upper"), rel=1e-12)
    # (b) stressed weight w: x0 (1 - w) + w x0 s_S / s_c
    s_s = e.stressed_vol
    w = policy(apc={"buffer_enabled": False, "long_run_floor_enabled": False, "stressed_weight_enabled": True,
                    "stressed_weight": 0.4}, **fitted)
    cm = covered_move(e, w, hours=h)
    expect = 0.6 * x0 + 0.4 * x0 * max(1.0, s_s / s_c)
    assert cm.after_stressed_weight == pytest.approx(log_to_price_move(expect, "upper"), rel=1e-12)
    # (a) buffer, applied outside stress and released in stress
    b = policy(apc={"buffer_enabled": True, "buffer": 0.3, "long_run_floor_enabled": False,
                    "buffer_release_ratio": 0.5}, **fitted)
    calm = replace(e, stressed_vol=10 * s_c)
    cm = covered_move(calm, b, hours=h)
    assert not cm.in_stress and cm.binding == ("buffer",)
    assert cm.final == pytest.approx(1.3 * log_to_price_move(x0, "upper"), rel=1e-12)
    stressed = replace(e, stressed_vol=1.5 * s_c)  # forecast >= 0.5 x stressed: release
    cm = covered_move(stressed, b, hours=h)
    assert cm.in_stress and "buffer" not in cm.binding and cm.final == pytest.approx(cm.model)


def test_model_risk_band_and_its_combinations(est3: VolEstimate) -> None:
    """The band holds the worse tail's price move from each method; the policy's combination picks the
    median, the largest, the smallest or one method, and names it."""
    h = 30.0
    term = est3.term
    assert term is not None and set(term.methods) == {"fitted", "fhs", "empirical"}
    worse = {m: max(log_to_price_move(term.tail_measure(m, h, 0.99, "es", t), t) for t in ("lower", "upper"))
             for m in term.methods}
    for how in ("median", "max", "min", "fitted", "fhs", "empirical"):
        band, x0, bound = model_risk_band(est3, policy(model_risk={"combine": how}), h)
        assert (band.fitted, band.fhs, band.empirical) == pytest.approx((worse["fitted"], worse["fhs"],
                                                                        worse["empirical"]), rel=1e-12)
        assert band.nu == est3.nu and band.horizon_hours == h and band.combine == how
        for tail, x in x0.items():
            per = {m: term.tail_measure(m, h, 0.99, "es", tail) for m in term.methods}
            ranked = sorted(per.values())
            expect = {"median": ranked[1], "max": ranked[2], "min": ranked[0]}.get(how, per.get(how))
            assert x == pytest.approx(expect, rel=1e-12) and per[bound[tail]] == pytest.approx(x, rel=1e-12)
    lo = model_risk_band(est3, policy(model_risk={"combine": "min"}), h)[0].combined
    mid = model_risk_band(est3, policy(model_risk={"combine": "median"}), h)[0].combined
    hi = model_risk_band(est3, policy(model_risk={"combine": "max"}), h)[0].combined
    assert lo <= mid <= hi


def test_lending_covers_the_lower_tail_and_caps_at_one(est_normal: VolEstimate) -> None:
    cm = covered_move(est_normal, policy(), lending=True)
    assert cm.tail == "lower" and 0 < cm.final < 1
    huge = covered_move(est_normal.scaled(30), policy(apc={"buffer_enabled": True}), lending=True)
    assert huge.final <= 1.0


def test_long_run_sources(est: VolEstimate) -> None:
    v, basis = long_run_vol(est, "lookback")
    cv = est.conditional_vol.to_numpy()
    assert basis == "conditional" and v == pytest.approx(math.sqrt(np.mean(cv**2)))
    assert long_run_vol(est, "lookback", 0.05) == (0.05, "sample")
    assert long_run_vol(est, "model") == (est.long_run_vol, "model")
    absurd = replace(est, long_run_vol=est.stressed_vol * 3)  # near unit root: not believed
    assert long_run_vol(absurd, "model", 0.05) == (0.05, "sample")


# ---------------------------------------------------------------------------------------------
# the horizon distribution and coverage
# ---------------------------------------------------------------------------------------------


def test_quantile_grid_matches_the_normal_distribution(est_normal: VolEstimate) -> None:
    hq = est_normal.horizon_quantiles
    assert hq is not None and hq.method == "fitted"
    s = est_normal.horizon_vol
    for level in (1e-4, 1e-3, 0.01, 0.25, 0.5, 0.99, 0.9999):  # grid levels: exact
        assert hq.ppf(level) == pytest.approx(s * stats.norm.ppf(level), rel=1e-9, abs=1e-12)
    xs = np.linspace(-4 * s, 4 * s, 81)
    assert np.max(np.abs(np.asarray(hq.cdf(xs)) - stats.norm.cdf(xs / s))) < 2e-3  # interpolation error
    for b in (0.01, 0.05, 0.1):
        exact_lower = 1 - stats.norm.cdf(math.log(1 - b) / s)
        assert hq.prob_move_within(b, "lower") == pytest.approx(exact_lower, abs=2e-3)
        assert hq.prob_move_within(b, "upper") == pytest.approx(stats.norm.cdf(math.log(1 + b) / s), abs=2e-3)


def test_quantile_tails_beyond_the_grid_are_monotone_and_invert() -> None:
    hq = HorizonQuantiles.from_samples(np.random.default_rng(3).standard_t(3, 2000) * 0.02, 0.99)
    assert min(hq.levels) >= 1 / 2000 - 1e-15  # no level the sample cannot support
    xs = np.linspace(-2, 2, 2001)
    f = np.asarray(hq.cdf(xs))
    assert np.all(np.diff(f) >= -1e-15) and f[0] >= 0 and f[-1] <= 1
    assert hq.cdf(-np.inf) == 0.0 and hq.cdf(np.inf) == 1.0
    for p in (1e-7, 1e-5, 1e-4, 0.3, 0.999, 1 - 1e-6):
        assert hq.cdf(hq.ppf(p)) == pytest.approx(p, rel=1e-6)
    assert hq.cdf(hq.values[0] * 3) < hq.levels[0]  # beyond the grid the tail keeps thinning
    assert hq.prob_move_within(1.0, "lower") == 1.0 and hq.prob_move_within(-1.0, "upper") == 0.0


def test_quantiles_scale_serialise_and_old_payloads_read(est3: VolEstimate) -> None:
    hq = est3.horizon_quantiles
    assert hq is not None and hq.method == "max"
    assert est3.scaled(2.0).horizon_quantiles.values == pytest.approx([2 * v for v in hq.values])  # type: ignore[union-attr]
    back = VolEstimate.from_dict(json.loads(json.dumps(est3.to_dict())))
    assert back.horizon_quantiles == hq
    old = est3.to_dict()
    del old["horizon_quantiles"]
    assert VolEstimate.from_dict(old).horizon_quantiles is None
    # the grid agrees with the headline VaR: P(adverse move <= VaR) = confidence on the worse tail
    assert min(hq.prob_move_within(est3.var, "lower"), hq.prob_move_within(est3.var, "upper")) == pytest.approx(
        0.99, abs=2e-3)
    assert 0.99 in [round(x, 12) for x in quantile_levels(0.99)]


def test_proposed_margin_covers_at_least_the_confidence(est: VolEstimate, est3: VolEstimate) -> None:
    """Without guardrails, MMF - cost >= the covered move >= the model's VaR, so coverage >= q."""
    for e in (est, est3):
        for measure in ("var", "es"):
            pol = policy(measure=measure, apc={"buffer_enabled": False, "long_run_floor_enabled": False})
            p = propose_tiers(e, pol, adv=5e8)
            assert all(t.coverage >= 0.99 - 1e-9 for t in p.tiers), [t.coverage for t in p.tiers]
            lend = propose_lending(e, pol, adv=5e8)
            assert lend.coverage >= 0.99 - 1e-9
    # the coverage is the model's probability, not a restatement of the confidence: a thinner margin covers less
    assert perp_coverage(est, 0.5 * est.var) < 0.99 < perp_coverage(est, 2 * est.var)
    assert lending_coverage(est, 0.99, 0.0) < 0.99


# ---------------------------------------------------------------------------------------------
# perpetuals
# ---------------------------------------------------------------------------------------------


def test_perp_tiers_follow_the_formulas(est: VolEstimate) -> None:
    pol = policy()
    adv = 3e8
    p = propose_tiers(est, pol, adv=adv, symbol="TST")
    check_perp_invariants(p, pol)
    sd = daily_vol(est)
    bps = list(pol.perp.tier_breakpoints)
    caps = [*bps[1:], pol.perp.last_tier_cost_notional]
    hours = [mpor_hours(c, adv, pol) for c in caps]
    n_ok = sum(h <= pol.mpor.max_hours for h in hours)  # the horizons grow with the notional
    assert 2 <= len(p.tiers) == n_ok < len(caps) and p.position_limit == bps[n_ok]
    assert any("close out" in n for n in p.notes)
    assert p.horizon is not None and p.horizon.adv == adv
    assert p.horizon.tiers[0].close_out_hours == pytest.approx(1e6 / (0.1 * adv / 24), rel=1e-12)
    mmfs: list[float] = []
    for k, t in enumerate(p.tiers):
        c = 0.0005 + 1.0 * sd * math.sqrt(caps[k] / adv)
        assert t.horizon_hours == pytest.approx(hours[k], rel=1e-12)
        assert t.close_out_cost == pytest.approx(c, rel=1e-12)
        m = covered_move(est, pol, hours=hours[k]).final
        assert t.covered_move == pytest.approx(m, rel=1e-12)
        assert t.mmf == pytest.approx(max([round_up(m + c + 0.005, 0.001), *mmfs]), abs=1e-12)
        mmfs.append(t.mmf)
        lev = max(L for L in pol.perp.leverage_grid if 1 / L >= t.mmf / 0.5 - 1e-12)
        assert t.max_leverage == min([lev, *(x.max_leverage for x in p.tiers[:k])])
        pen = max(round_up(0.005, 0.0005), min(round_up(c + 0.005, 0.0005), round_down(t.mmf - m, 0.0005)))
        assert t.liquidation_penalty == pytest.approx(pen, abs=1e-12)
        _band, x0, bound = model_risk_band(est, pol, hours[k])
        worse = max(x0, key=lambda tl: log_to_price_move(x0[tl], tl))
        assert t.coverage == pytest.approx(perp_coverage(est, t.mmf - c, hours=hours[k], method=bound[worse]))
    assert p.model_risk is not None and p.model_risk.horizon_hours == pytest.approx(hours[0])
    assert p.capital_cost == p.tiers[0].imf  # the reference position (250k) sits in tier 1
    assert maintenance_deductions([0, 10, 20], [0.01, 0.02, 0.05]) == pytest.approx((0.0, 0.1, 0.7))
    for t in p.tiers[1:]:
        n = t.notional_floor
        assert maintenance_margin(n, p.tiers) == pytest.approx(n * t.mmf - t.maintenance_deduction)
        assert maintenance_margin(n - 1e-3, p.tiers) == pytest.approx(maintenance_margin(n, p.tiers), abs=1e-2)
    # below one bar the distribution is the bar's law scaled by the square root of time, and the rationale
    # says so
    assert hours[0] < 24 and "square-root" in p.horizon.tiers[0].basis and "square root of time" in p.rationale


def test_more_volatility_never_lowers_margin(est: VolEstimate, est3: VolEstimate) -> None:
    for e in (est, est3):
        for current in (None, CURRENT):
            pol = policy()
            base = propose_tiers(e, pol, adv=3e8, current=current)
            stressed = propose_tiers(e.scaled(2.0), pol, adv=3e8, current=current)
            assert len(stressed.tiers) <= len(base.tiers)
            for s, b in zip(stressed.tiers, base.tiers, strict=False):
                assert s.mmf >= b.mmf and s.imf >= b.imf and s.max_leverage <= b.max_leverage
            lend_b = propose_lending(e, pol, adv=3e8)
            lend_s = propose_lending(e.scaled(2.0), pol, adv=3e8)
            assert lend_s.liquidation_threshold <= lend_b.liquidation_threshold
            assert lend_s.ltv <= lend_b.ltv and lend_s.liquidation_bonus >= lend_b.liquidation_bonus


def test_a_longer_horizon_or_higher_confidence_never_lowers_margin(est: VolEstimate, est3: VolEstimate) -> None:
    for e in (est, est3):
        prev: PerpAssetProposal | None = None
        for hours in (0.05, 0.25, 1.0, 6.0, 24.0, 30.0, 48.0, 72.0):
            p = propose_tiers(e, policy(mpor={"fixed_hours": hours}), adv=3e8)
            if prev is not None:
                assert len(p.tiers) <= len(prev.tiers)
                assert all(t.mmf >= u.mmf for t, u in zip(p.tiers, prev.tiers, strict=False)), hours
            prev = p
        prev = None
        for q in (0.95, 0.975, 0.99, 0.995, 0.999):
            p = propose_tiers(e, policy(confidence=q), adv=3e8)
            if prev is not None:
                assert all(t.mmf >= u.mmf for t, u in zip(p.tiers, prev.tiers, strict=False)), q
            prev = p
        # a slower close-out (lower participation) or a longer liquidation delay lengthens every tier's horizon
        base = propose_tiers(e, policy(), adv=3e8)
        for slower in ({"participation_rate": 0.03}, {"liquidation_delay_minutes": 30.0}):
            q2 = propose_tiers(e, policy(mpor=slower), adv=3e8)
            assert all(t.mmf >= u.mmf and t.horizon_hours > u.horizon_hours
                       for t, u in zip(q2.tiers, base.tiers, strict=False))
        prev_lend = None
        for hours in (1.0, 12.0, 24.0, 48.0, 72.0):
            lend = propose_lending(e, policy(horizon_hours=hours), adv=3e8)
            if prev_lend is not None:
                assert lend.liquidation_threshold <= prev_lend.liquidation_threshold, hours
            prev_lend = lend


def test_guardrails_with_current_parameters(est: VolEstimate) -> None:
    pol = policy()
    adv = 3e8
    p = propose_tiers(est, pol, adv=adv, current=CURRENT)
    check_perp_invariants(p, pol, CURRENT)
    check_perp_guardrails(p, pol)
    assert [t.notional_floor for t in p.tiers] == [0.0, 1e6, 1e7][: len(p.tiers)] and len(p.tiers) >= 2
    assert p.current is not None and len(p.current) == 3
    method = p.model_risk.bound  # type: ignore[union-attr]
    for a, c in zip(p.current, CURRENT.tiers, strict=True):
        n = c.notional_cap or max(2e8, 2 * c.notional_floor)
        cost = close_out_cost(n, adv=adv, sigma_daily=daily_vol(est), policy=pol)
        h = min(mpor_hours(n, adv, pol), pol.mpor.max_hours)
        assert a.coverage == pytest.approx(perp_coverage(est, c.maintenance_rate - cost, hours=h, method=method))
        assert a.below_confidence == (a.coverage < 0.99)
    # the policy's brackets with the current rate of the bracket holding each floor as the reference
    other = propose_tiers(est, policy(perp={"use_current_brackets": False}), adv=adv, current=CURRENT)
    floors = [t.notional_floor for t in other.tiers]
    assert floors == list(policy().perp.tier_breakpoints)[: len(floors)]
    assert [ln.current for ln in other.lines if ln.parameter == "mmf"] == [CURRENT.at(f).maintenance_rate
                                                                           for f in floors]


LOW = CurrentPerp(symbol="LOW", tiers=(
    CurrentPerpTier(notional_floor=0.0, notional_cap=1e6, max_leverage=100, maintenance_rate=0.004,
                    liquidation_penalty=0.002),
    CurrentPerpTier(notional_floor=1e6, notional_cap=None, max_leverage=50, maintenance_rate=0.006,
                    liquidation_penalty=0.003),
))


def test_a_guardrail_that_holds_margin_down_leaves_the_tier_under_covered_but_pays_the_liquidator(
        est: VolEstimate) -> None:
    """Current margins far below the model's: the max-change guardrail caps the MMF at +50 %, the tier is
    flagged under-covered with the coverage it really has, and the penalty stays at the incentive (it used to
    be cut to 0 when maintenance left nothing after the covered move)."""
    pol = policy()
    p = propose_tiers(est, pol, adv=3e8, current=LOW)
    check_perp_invariants(p, pol, LOW)
    check_perp_guardrails(p, pol)
    t0 = p.tiers[0]
    ln = {(x.tier, x.parameter): x for x in p.lines}
    assert ln[(0, "mmf")].bound == "max_change" and t0.mmf <= 0.004 * 1.5 + 1e-12 < t0.mmf_model
    assert t0.under_covered and p.under_covered and t0.coverage < pol.confidence
    assert t0.liquidation_penalty == pytest.approx(0.005) and ln[(0, "liquidation_penalty")].bound in (
        "incentive_floor", "max_change")
    assert all(t.liquidation_penalty >= 0.005 - 1e-12 for t in p.tiers)
    assert "Under-covered" in p.rationale and f"coverage {t0.coverage:.2%}" in p.rationale


def test_no_margin_loosens_in_a_stressed_regime_unless_the_policy_allows_it(est: VolEstimate) -> None:
    high = CurrentPerp(symbol="HI", tiers=(
        CurrentPerpTier(notional_floor=0.0, notional_cap=1e6, max_leverage=2, maintenance_rate=0.3,
                        liquidation_penalty=0.01),
        CurrentPerpTier(notional_floor=1e6, notional_cap=None, max_leverage=2, maintenance_rate=0.35,
                        liquidation_penalty=0.01)))
    stressed = replace(est, stressed_vol=est.next_vol)  # forecast at the stressed level: stress
    pol = policy()
    assert regime(stressed, pol) == ("stress", True) and regime(est, pol)[1] is False
    p = propose_tiers(stressed, pol, adv=3e8, current=high)
    check_perp_invariants(p, pol, high)
    assert p.regime == "stress"
    for t, c in zip(p.tiers, high.tiers, strict=False):
        assert t.mmf >= c.maintenance_rate - 1e-12 and t.max_leverage <= c.max_leverage
    assert any(x.bound == "stress_hold" for x in p.lines)
    assert "no margin parameter loosens" in p.rationale
    # the same proposal outside stress loosens (within the guardrail), and a policy that allows it loosens in stress
    calm = propose_tiers(est, pol, adv=3e8, current=high)
    assert calm.tiers[0].mmf < 0.3
    allowed = propose_tiers(stressed, policy(guardrails={"loosen_in_stress": True}), adv=3e8, current=high)
    assert allowed.tiers[0].mmf < 0.3 and "allows loosening in stress" in allowed.rationale
    # lending: neither LTV nor LT rises in stress
    cur = CurrentLending(symbol="HI", ltv=0.2, liquidation_threshold=0.3, liquidation_bonus=0.05)
    lend = propose_lending(stressed, pol, adv=3e8, current=cur)
    assert lend.ltv <= 0.2 + 1e-12 and lend.liquidation_threshold <= 0.3 + 1e-12
    assert propose_lending(est, pol, adv=3e8, current=cur).liquidation_threshold > 0.3


def test_dead_band_keeps_the_current_value(est: VolEstimate) -> None:
    pol = policy(perp={"use_current_brackets": False, "tier_breakpoints": [0]},
                 guardrails={"dead_band": 0.2, "max_relative_change": 0.5})
    adv = 3e10  # the open tier (cost notional 200m) closes out within the longest margin period of risk
    model = propose_tiers(est, pol, adv=adv).tiers[0]
    near = CurrentPerp(symbol="X", tiers=(CurrentPerpTier(
        notional_floor=0.0, notional_cap=None, max_leverage=1.0 / model.imf, maintenance_rate=model.mmf * 1.1,
        liquidation_penalty=model.liquidation_penalty),))
    p = propose_tiers(est, pol, adv=adv, current=near)
    mmf = next(ln for ln in p.lines if ln.parameter == "mmf")
    assert mmf.bound == "dead_band" and mmf.proposed == model.mmf * 1.1 and mmf.uncapped == model.mmf
    check_perp_invariants(p, pol, near)


def test_unmarginable_asset_and_position_limit(est: VolEstimate) -> None:
    pol = policy()
    p = propose_tiers(est.scaled(40.0), pol, adv=3e8, symbol="BAD")
    assert p.status == "unmarginable" and p.tiers == () and "unmarginable" in p.rationale
    lend = propose_lending(est.scaled(40.0), pol, adv=3e8, symbol="BAD")
    assert lend.status == "unmarginable" and lend.ltv == 0.0 and "new borrowing frozen" in lend.rationale
    check_lending(lend, pol)
    # thin liquidity: larger tiers take longer to close out than the longest margin period of risk and are not
    # offered; thinner still, not even the first tier
    thin = propose_tiers(est, pol, adv=2e7)
    assert thin.status == "ok" and thin.position_limit is not None and thin.tiers[-1].notional_cap is not None
    assert thin.tiers[-1].notional_cap == thin.position_limit and len(thin.tiers) < 5
    assert any("beyond the longest margin period of risk" in n for n in thin.notes)
    check_perp_invariants(thin, pol)
    none = propose_tiers(est, pol, adv=2e5)
    assert none.status == "unmarginable" and "closing out" in none.notes[0] and "72h" in none.notes[0]


def test_property_random_policies_estimates_and_currents(est: VolEstimate, est3: VolEstimate) -> None:
    """Hundreds of random inputs: every invariant and guardrail holds, and doubling volatility never
    lowers any tier's margin."""
    rng = np.random.default_rng(2024)
    bases = (est, est3)
    n_ok = n_unmarginable = n_capped = 0
    for _case in range(250):
        e = bases[rng.integers(2)].scaled(float(np.exp(rng.uniform(-1.5, 1.2))))
        n_tiers = int(rng.integers(1, 6))
        bps = np.concatenate([[0.0], np.sort(rng.uniform(1e5, 5e8, n_tiers - 1))])
        if len(set(bps)) != len(bps):
            continue
        grid = sorted(set(rng.choice([1, 2, 3, 4, 5, 8, 10, 12.5, 20, 25, 33, 50, 75, 100], size=int(rng.integers(1, 8)))))
        pol = policy(
            measure=str(rng.choice(["var", "es"])),
            liquidator_incentive=float(rng.uniform(0, 0.02)),
            perp={"tier_breakpoints": [float(x) for x in bps], "last_tier_cost_notional": float(bps[-1] * 2 + 1e6),
                  "maintenance_fraction": float(rng.uniform(0.2, 0.8)), "leverage_grid": [float(x) for x in grid],
                  "use_current_brackets": bool(rng.integers(2))},
            liquidity={"half_spread": float(rng.uniform(0, 0.003)), "impact_k": float(rng.uniform(0, 2))},
            apc={"buffer_enabled": bool(rng.integers(2)), "buffer": float(rng.uniform(0.25, 0.5)),
                 "buffer_release_ratio": float(rng.uniform(0.3, 1.0)),
                 "stressed_weight_enabled": bool(rng.integers(2)), "stressed_weight": float(rng.uniform(0.25, 1)),
                 "long_run_floor_enabled": bool(rng.integers(2))},
            guardrails={"max_relative_change": float(rng.uniform(0.1, 1.0)), "dead_band": float(rng.uniform(0, 0.09))},
            rounding={"mmf_step": float(rng.choice([0.0005, 0.001, 0.0025])),
                      "penalty_step": float(rng.choice([0.0001, 0.0005, 0.001]))},
        )
        current = None
        if rng.integers(2):
            n_cur = int(rng.integers(1, 4))
            caps = sorted(rng.uniform(1e5, 1e8, n_cur - 1))
            mmr = np.sort(rng.uniform(0.002, 0.2, n_cur))
            tiers: list[CurrentPerpTier] = []
            floor = 0.0
            for i in range(n_cur):
                lev = float(max(1.0, math.floor(0.9 / (mmr[i] / 0.5)))) if i == 0 else min(
                    tiers[-1].max_leverage, float(max(1.0, math.floor(0.9 / (mmr[i] / 0.5)))))
                cap = float(caps[i]) if i < n_cur - 1 else None
                tiers.append(CurrentPerpTier(notional_floor=floor, notional_cap=cap, max_leverage=lev,
                                             maintenance_rate=float(mmr[i]),
                                             liquidation_penalty=float(mmr[i] * rng.uniform(0, 0.9))))
                floor = cap if cap is not None else floor
            current = CurrentPerp(symbol="R", tiers=tuple(tiers))
        adv = float(np.exp(rng.uniform(np.log(1e6), np.log(1e10))))
        p = propose_tiers(e, pol, adv=adv, current=current)
        check_perp_invariants(p, pol, current)
        if current is not None:
            check_perp_guardrails(p, pol)
            n_capped += any(ln.bound == "max_change" for ln in p.lines)
        n_ok += p.status == "ok"
        n_unmarginable += p.status == "unmarginable"
        more = propose_tiers(e.scaled(2.0), pol, adv=adv, current=current)
        for s, b in zip(more.tiers, p.tiers, strict=False):
            assert s.mmf >= b.mmf - 1e-12 and s.imf >= b.imf - 1e-12
        assert len(more.tiers) <= len(p.tiers)
        lcur = None
        if rng.integers(2):
            lt = float(rng.uniform(0.3, 0.9))
            lb = float(rng.uniform(0, min(0.15, 1 / lt - 1)))
            lcur = CurrentLending(symbol="R", ltv=float(lt * rng.uniform(0, 0.99)), liquidation_threshold=lt,
                                  liquidation_bonus=lb)
        lend = propose_lending(e, pol, adv=adv, current=lcur)
        check_lending(lend, pol, lcur)
        lend2 = propose_lending(e.scaled(2.0), pol, adv=adv, current=lcur)
        assert lend2.liquidation_threshold <= lend.liquidation_threshold + 1e-12
    # the random inputs exercise every branch
    assert n_ok > 100 and n_unmarginable > 0 and n_capped > 10


# ---------------------------------------------------------------------------------------------
# lending
# ---------------------------------------------------------------------------------------------


def test_lending_follows_the_formulas(est: VolEstimate) -> None:
    pol = policy()
    adv = 3e8
    p = propose_lending(est, pol, adv=adv, symbol="TST")
    check_lending(p, pol)
    d = p.covered.final
    # the bonus: incentive + slippage of the liquidation size at the stressed volatility + the liquidator's
    # 1-hour inventory risk (VaR 99 %) at the stressed volatility
    scale = max(1.0, est.stressed_vol / est.next_vol)
    slip = close_out_cost(5e6, adv=adv, sigma_daily=daily_vol(est) * scale, policy=pol)
    band, _x0, bound = model_risk_band(est, pol, 24.0, lending=True)
    inv = log_to_price_move(est.term.tail_measure(bound[Tail.LOWER], 1.0, 0.99, "var", "lower") * scale,  # type: ignore[union-attr]
                            "lower")
    b = p.bonus
    assert b is not None and b.slippage == pytest.approx(slip, rel=1e-12) and b.inventory_risk == pytest.approx(inv)
    assert b.total == pytest.approx(0.005 + slip + inv) and b.debt_asset == "USDC" and b.debt_stable
    assert p.liquidation_bonus == round_up(b.total, 0.005) and p.close_out_cost == b.slippage
    assert p.liquidation_threshold == round_down((1 - d) / (1 + p.liquidation_bonus), 0.005)
    assert p.ltv == round_down(p.liquidation_threshold - 0.05, 0.005)
    assert p.coverage == pytest.approx(lending_coverage(est, p.liquidation_threshold, p.liquidation_bonus,
                                                        hours=24.0, method=band.bound))
    assert p.capital_cost == pytest.approx(1 - p.ltv)
    # a depth curve's slippage replaces the square-root law and is named
    curve = propose_lending(est, pol, adv=adv, slippage=0.02, liquidity_source="dex curve")
    assert curve.bonus is not None and curve.bonus.slippage == 0.02 and "dex curve" in curve.rationale
    assert curve.liquidation_bonus >= p.liquidation_bonus
    out = p.to_dict()
    assert out["liquidation_bonus_bps"] == 10_000 + round(p.liquidation_bonus * 1e4)
    assert out["ltv_bps"] == round(p.ltv * 1e4) and out["liquidation_threshold_bps"] == round(
        p.liquidation_threshold * 1e4)
    assert "Debt asset USDC" in p.rationale and "inventory risk" in p.rationale


def test_lending_guardrails_relative_and_bps(est: VolEstimate) -> None:
    pol = policy(guardrails={"lending_max_change_bps": {"liquidation_threshold": 100, "ltv": 100}})
    cur = CurrentLending(symbol="T", ltv=0.3, liquidation_threshold=0.4, liquidation_bonus=0.2)
    model = propose_lending(est, pol, adv=3e8)
    assert model.liquidation_threshold > 0.41 and model.liquidation_bonus < 0.2 - 0.025  # both far from current
    p = propose_lending(est, pol, adv=3e8, current=cur)
    check_lending(p, pol, cur)
    lines = {ln.parameter: ln for ln in p.lines}
    assert lines["liquidation_threshold"].proposed == pytest.approx(0.41)  # +100 bps at most
    unc = lines["liquidation_threshold"].uncapped
    assert lines["liquidation_threshold"].bound == "max_change" and unc is not None and unc > 0.41
    assert lines["liquidation_bonus"].proposed == pytest.approx(0.175)  # -250 bps default limit
    method = p.model_risk.bound  # type: ignore[union-attr]
    assert p.current is not None and p.current.coverage == pytest.approx(
        lending_coverage(est, 0.4, 0.2, hours=24.0, method=method))


# ---------------------------------------------------------------------------------------------
# golden numbers (tests/golden/make_proposal_golden.py)
# ---------------------------------------------------------------------------------------------


def _golden_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_proposal_golden", GOLDEN / "make_proposal_golden.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys differ: {set(a) ^ set(b)}"
        for k in a:
            if k != "rationale":  # wording, not numbers: checked by the rationale tests
                _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, int | float):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12), f"{path}: {b} != golden {a}"
    else:
        assert a == b, f"{path}: {b!r} != golden {a!r}"


@pytest.mark.parametrize("profile", ["perp", "lending"])
def test_golden_numbers(profile: str) -> None:
    mod = _golden_module()
    golden = json.loads((GOLDEN / f"proposal_{profile}.json").read_text())
    fresh = json.loads(json.dumps(mod.build()[profile], sort_keys=True))
    _close(golden, fresh, profile)


def test_golden_case_checked_by_hand() -> None:
    """The golden covered move and first tier recomputed from closed forms, independently of the engine."""
    mod = _golden_module()
    g = mod.golden_inputs()
    e, pol = g["estimate"], g["policy"]
    golden = json.loads((GOLDEN / "proposal_perp.json").read_text())["no_current"]
    q = 0.99
    s = math.sqrt(2) * e.next_vol  # EWMA over 2 bars: variance 2 sigma^2, zero mean
    x0_exact = stats.norm.pdf(stats.norm.ppf(q)) / (1 - q) * s  # normal ES
    x0 = e.term.tail_measure("fitted", 48.0, q, "es", "upper")  # the grid's ES: the exact one to 0.2 %
    assert x0 == pytest.approx(x0_exact, rel=2e-3)
    s_c = e.next_vol  # the anti-procyclicality ratios use the one-step forecast
    x1 = 0.75 * x0 + 0.25 * x0 * max(1.0, e.stressed_vol / s_c)
    x2 = max(x1, x0 * g["lookback_vol"] / s_c)
    m = math.expm1(x2) * 1.25  # the upper tail is the worse one in price terms; not in stress
    assert golden["covered_move"]["final"] == pytest.approx(m, rel=1e-9)
    c0 = 0.0005 + e.next_vol * math.sqrt(1e6 / mod.ADV)
    t0 = golden["tiers"][0]
    assert t0["horizon_hours"] == 48.0 and t0["covered_move"] == pytest.approx(m, rel=1e-9)
    assert t0["mmf"] == pytest.approx(math.ceil((m + c0 + 0.005) / 0.001 - 1e-9) * 0.001)
    lev = max(L for L in pol.perp.leverage_grid if 1 / L >= t0["mmf"] / 0.5)
    assert t0["max_leverage"] == lev
    room = t0["mmf"] - c0
    cov = min(1 - stats.norm.cdf(math.log(1 - room) / s), stats.norm.cdf(math.log(1 + room) / s))
    assert t0["coverage"] == pytest.approx(cov, abs=1e-3)


# ---------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_real_daily_files_propose_without_crashing(prices_dir: Path) -> None:
    from riskparams.ingest import guess_from_filename, ingest_file
    from riskparams.service import propose
    from riskparams.store import Store

    with Store.memory() as store:
        files = sorted(prices_dir.glob("*_1d_*.csv"))
        assert files
        for f in files:
            g = guess_from_filename(f)
            ingest_file(store, f, symbol=str(g["symbol"]), source="binance", kind=g["kind"], freq=g["freq"])
        pol = RiskPolicy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            perp = propose(store, profile="perp", policy=pol)
            lending = propose(store, profile="lending", policy=pol)
    symbols = {a.symbol for a in perp.proposal.assets}
    assert {"BTC", "ETH", "LUNA"} <= symbols and not perp.proposal.skipped
    for a in perp.proposal.assets:
        assert isinstance(a, PerpAssetProposal)
        check_perp_invariants(a, pol)
        if a.status == "ok":
            assert all(t.coverage >= pol.confidence - 1e-9 for t in a.tiers), a.symbol
    luna = next(a for a in perp.proposal.assets if a.symbol == "LUNA")
    assert luna.status == "unmarginable" and "unmarginable" in luna.rationale
    btc = next(a for a in perp.proposal.assets if a.symbol == "BTC")
    assert isinstance(btc, PerpAssetProposal) and btc.status == "ok" and btc.tiers[0].max_leverage >= 2
    for a in lending.proposal.assets:
        assert isinstance(a, LendingAssetProposal)
        check_lending(a, pol)
    luna_l = next(a for a in lending.proposal.assets if a.symbol == "LUNA")
    assert isinstance(luna_l, LendingAssetProposal) and luna_l.status == "unmarginable" and luna_l.ltv == 0.0
    btc_l = next(a for a in lending.proposal.assets if a.symbol == "BTC")
    assert isinstance(btc_l, LendingAssetProposal) and 0.5 < btc_l.liquidation_threshold < 0.95


# ---------------------------------------------------------------------------------------------
# margin period of risk, options and peers
# ---------------------------------------------------------------------------------------------


def test_margin_period_is_built_from_its_parts(est: VolEstimate) -> None:
    from riskparams.proposals import margin_period

    pol = policy(mpor={"oracle_latency_minutes": 2.0, "liquidation_delay_minutes": 10.0,
                       "participation_rate": 0.05, "min_hours": 0.5})
    mp = margin_period([1e5, 1e7, 1e9], 2.4e8, pol, est.term)
    assert (mp.oracle_latency_hours, mp.liquidation_delay_hours) == pytest.approx((2 / 60, 10 / 60))
    # 1e5 at 5 % of 10m an hour closes in 0.2 h: with the fixed parts 0.4 h, floored at 0.5 h
    assert [t.close_out_hours for t in mp.tiers] == pytest.approx([0.2, 20.0, 2000.0])
    assert [t.horizon_hours for t in mp.tiers] == pytest.approx([0.5, 20.2, 2000.2])
    assert "square-root" in mp.tiers[0].basis and "not offered" in mp.tiers[2].basis
    flat = margin_period([1e5, 1e9], 2.4e8, policy(mpor={"fixed_hours": 24.0}), est.term)
    assert [t.horizon_hours for t in flat.tiers] == [24.0, 24.0] and flat.tiers[0].close_out_hours == 0.0
    assert mp.to_dict()["tiers"][1]["horizon_hours"] == pytest.approx(20.2)


def test_options_are_ordered_from_conservative_to_aggressive(est: VolEstimate, est3: VolEstimate) -> None:
    from riskparams.config import builtin_options, policy_differences, policy_with

    base = policy()
    table = builtin_options(base)
    pols = {name: policy_with(base, table[name]) for name in ("conservative", "moderate", "aggressive")}
    assert policy_differences(base, pols["moderate"]) == {}
    assert policy_differences(base, pols["aggressive"]) == {"measure": "var", "mpor.liquidation_delay_minutes": 2.5}
    for e in (est, est3):
        for adv in (3e8, 3e10):
            t1 = [propose_tiers(e, p, adv=adv).tiers for p in pols.values()]
            mmf = [t[0].mmf if t else 1.0 for t in t1]
            assert mmf[0] >= mmf[1] >= mmf[2], mmf
            assert len(t1[0]) <= len(t1[1]) <= len(t1[2])
            lend = [propose_lending(e, p, adv=adv) for p in pols.values()]
            assert lend[0].liquidation_threshold <= lend[1].liquidation_threshold <= lend[2].liquidation_threshold


def test_peer_comparison_reads_each_venue_at_the_tier_floor(est: VolEstimate) -> None:
    from riskparams.domain import PeerTable, PeerTier
    from riskparams.proposals import compare_peers

    p = propose_tiers(est, policy(), adv=3e9)
    venue = PeerTable(venue="v", symbol="TST", source="test", tiers=(
        PeerTier(notional_floor=0, notional_cap=2e6, max_leverage=50, maintenance_rate=0.01),
        PeerTier(notional_floor=2e6, notional_cap=1e7, max_leverage=20, maintenance_rate=0.025)))
    cmp = compare_peers(p.tiers, [venue])
    assert cmp is not None and cmp.venues == ("v",) and cmp.sources == {"v": "test"}
    got = {n: peers["v"] for n, _lev, _mmf, peers in cmp.rows}
    assert got[0.0] == (50, 0.01) and got[1e6] == (50, 0.01) and got[5e6] == (20, 0.025)
    assert got[2e7] is None  # beyond the venue's last cap: not offered there
    assert compare_peers(p.tiers, []) is None


def test_tiers_far_from_the_peers_explain_why(est: VolEstimate) -> None:
    """The realism rule: a tier more than twice (or less than half) the peers' median leverage or maintenance
    rate gets a sentence saying what drives it; a tier within a factor two gets none."""
    from riskparams.domain import PeerTable, PeerTier
    from riskparams.proposals import compare_peers, peer_gaps

    p = propose_tiers(est, policy(), adv=3e9)
    t0 = p.tiers[0]
    near = PeerTable(venue="near", symbol="TST", tiers=(PeerTier(
        notional_floor=0, notional_cap=None, max_leverage=t0.max_leverage * 1.5, maintenance_rate=t0.mmf / 1.5),))
    cmp = compare_peers(p.tiers[:1], [near])
    assert cmp is not None and peer_gaps(replace(p, tiers=p.tiers[:1]), cmp) == ()
    far = PeerTable(venue="far", symbol="TST", tiers=(PeerTier(
        notional_floor=0, notional_cap=None, max_leverage=t0.max_leverage * 3, maintenance_rate=t0.mmf / 3),))
    gaps = peer_gaps(p, compare_peers(p.tiers, [far]))  # type: ignore[arg-type]
    assert gaps and gaps[0].startswith("Tier 1 (from 0) is tighter") and "margin period of risk" in gaps[0]
    assert "rely on open-interest caps" in gaps[-1]  # the shared reason is said once, after the tiers
    assert sum("open-interest caps" in g for g in gaps) == 1
    loose = PeerTable(venue="loose", symbol="TST", tiers=(PeerTier(
        notional_floor=0, notional_cap=None, max_leverage=max(1.0, t0.max_leverage / 3),
        maintenance_rate=min(0.9 / max(1.0, t0.max_leverage / 3), t0.mmf * 3)),))
    gaps = peer_gaps(p, compare_peers(p.tiers, [loose]))  # type: ignore[arg-type]
    assert gaps and "is looser than the peer venues" in gaps[0] and "check the liquidity" in gaps[-1]

"""Tests of riskparams.coverage against published worked examples and independent computations.

Sources (each test names the one it uses):

* [BCBS96] Basel Committee on Banking Supervision (1996), "Supervisory framework for the use of
  'backtesting' in conjunction with the internal models approach to market risk capital
  requirements", Table 2 (250 observations, 99 % VaR).
* [MW-TL] MathWorks Risk Management Toolbox, ``varbacktest/tl`` documentation (zone rule from the
  binomial CDF: green <= 0.95, yellow <= 0.9999, red above).
* [MW-CC] MathWorks ``varbacktest/pof``, ``cci`` and ``cc`` documentation examples
  (https://mathworks.com/help/risk/varbacktest.cc.html): 1043 observations, 95 % VaR, 57
  failures, N00 = 932, N10 = 53, N01 = 53, N11 = 4; POF LR 0.46147 (p 0.49694), CCI LR 0.25866
  (p 0.61104), CC LR 0.72013 (p 0.69763).
* [MW-POF] MathWorks ``risk.validation.proportionOfFailuresTest`` example: 3 events in 250
  trials reject a 5 % probability and accept 1 %.
* [K95/J] Kupiec (1995), "Techniques for verifying the accuracy of risk measurement models",
  J. Derivatives 3, non-rejection regions at 95 % test confidence, as reproduced in Jorion,
  "Value at Risk" (the backtesting chapter); the T = 1000, p = 1 % cell "4 < N < 17" also appears
  in FRM practice questions (edupristine forum, "accepted if the number of exceptions fall
  within a range of 4 and 17").
* [CFRM] cfrm17.github.io "Backtesting KPI's": n = 750, p0 = 0.005 -> yellow from 7, red from 13;
  cfrm17.github.io "VAR Backtesting Methodology": the Basel red-zone type-I error is 0.0003.
* [AS14] Acerbi & Szekely (2014), "Backtesting expected shortfall", MSCI / Risk (December 2014):
  ``E[Z2] = 0`` under the null, negative when ES is understated; Z2 significance thresholds
  about -0.70 at 5 % (T = 250, 97.5 % ES), nearly the same across distributions.
* [C98] Christoffersen (1998), "Evaluating interval forecasts", Int. Economic Review 39: the
  first-order Markov likelihood maximised over (pi01, pi11).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from riskparams import coverage as cov
from riskparams.coverage import (
    Zone,
    acerbi_szekely_z2,
    adverse_moves,
    christoffersen,
    coverage_report,
    es_backtest,
    kupiec_pof,
    kupiec_region,
    traffic_light,
    traffic_light_bounds,
    traffic_light_table,
    transition_counts,
)
from riskparams.jsonio import iso_z

# ---------------------------------------------------------------------------------------------
# Basel traffic light
# ---------------------------------------------------------------------------------------------

BASEL_CUMULATIVE_PCT = [8.11, 28.58, 54.32, 75.81, 89.22, 95.88, 98.63, 99.60, 99.89, 99.97, 99.99]
BASEL_ZONES = ["green"] * 5 + ["yellow"] * 5 + ["red"] * 3


def test_basel_table_zones_and_cumulative_probabilities() -> None:
    """[BCBS96] Table 2: 250 days at 99 %: green 0-4, yellow 5-9, red >= 10, with the published
    cumulative probabilities 8.11 % ... 99.99 % for 0 ... 10 exceptions."""
    assert [traffic_light(250, x, 0.99).value for x in range(13)] == BASEL_ZONES
    table = traffic_light_table(250, 0.99, up_to=10)
    assert [r.exceptions for r in table] == list(range(11))
    assert [round(100 * r.cumulative, 2) for r in table] == BASEL_CUMULATIVE_PCT
    assert [r.zone.value for r in table] == BASEL_ZONES[:11]
    b = traffic_light_bounds(250, 0.99)
    assert (b.yellow_from, b.red_from) == (5, 10)


def test_basel_red_zone_type_one_error() -> None:
    """[CFRM]: with a correct 99 % model, P(10 or more exceptions in 250 days) = 0.0003."""
    table = traffic_light_table(250, 0.99, up_to=9)
    assert round(1.0 - table[9].cumulative, 4) == 0.0003


def test_traffic_light_bounds_for_other_n_and_q() -> None:
    """[CFRM]: n = 750 observations at 99.5 %: the yellow zone starts at 7 and the red at 13."""
    b = traffic_light_bounds(750, 0.995)
    assert (b.yellow_from, b.red_from) == (7, 13)


@pytest.mark.parametrize("n, q", [(250, 0.99), (500, 0.975), (1000, 0.99), (120, 0.95), (2000, 0.999)])
def test_traffic_light_bounds_match_the_binomial_cdf(n: int, q: float) -> None:
    """[MW-TL] rule, checked with an exact binomial sum (math.comb, not scipy)."""
    p = 1 - q

    def cdf(x: int) -> float:
        return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x + 1))

    b = traffic_light_bounds(n, q)
    assert cdf(b.yellow_from - 1) < 0.95 <= cdf(b.yellow_from)
    assert cdf(b.red_from - 1) < 0.9999 <= cdf(b.red_from)
    assert traffic_light(n, b.yellow_from - 1, q) is Zone.GREEN
    assert traffic_light(n, b.yellow_from, q) is Zone.YELLOW
    assert traffic_light(n, b.red_from - 1, q) is Zone.YELLOW
    assert traffic_light(n, b.red_from, q) is Zone.RED


def test_zero_exceptions_is_always_green() -> None:
    """For a tiny sample F(0) = q^n passes 0.95; zero exceptions still cannot signal a low margin."""
    assert 0.99**3 > 0.95
    assert traffic_light(3, 0, 0.99) is Zone.GREEN
    assert traffic_light(3, 1, 0.99) is Zone.YELLOW  # F(1) = 0.999702
    assert traffic_light(3, 2, 0.99) is Zone.RED  # F(2) = 1 - 1e-6
    assert traffic_light_bounds(3, 0.99).yellow_from >= 1


def test_traffic_light_validation() -> None:
    with pytest.raises(ValueError, match="exceptions must be <= n"):
        traffic_light(10, 11, 0.99)
    with pytest.raises(ValueError, match=r"confidence must be in \(0.5, 1\)"):
        traffic_light(10, 1, 1.5)
    with pytest.raises(TypeError, match="n must be an integer"):
        traffic_light(10.0, 1, 0.99)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Kupiec
# ---------------------------------------------------------------------------------------------


def test_kupiec_mathworks_example() -> None:
    """[MW-CC] pof: 1043 observations, 57 failures at 95 % VaR -> LR 0.46147, p 0.49694."""
    r = kupiec_pof(1043, 57, 0.95)
    assert r.lr == pytest.approx(0.46147, abs=5e-6)
    assert r.p_value == pytest.approx(0.49694, abs=5e-6)
    assert r.df == 1 and not r.rejects(0.05)


def test_kupiec_mathworks_pof_decisions() -> None:
    """[MW-POF]: 3 events in 250 trials: reject p = 5 %, accept p = 1 % (95 % test level)."""
    assert kupiec_pof(250, 3, 0.95).rejects(0.05)
    assert not kupiec_pof(250, 3, 0.99).rejects(0.05)


def test_kupiec_edge_cases_have_closed_forms() -> None:
    """x = 0: LR = -2 n ln(1-p); x = n: LR = -2 n ln p; x = n p exactly: LR = 0."""
    assert kupiec_pof(250, 0, 0.99).lr == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)
    assert kupiec_pof(40, 40, 0.99).lr == pytest.approx(-2 * 40 * math.log(0.01), rel=1e-12)
    assert kupiec_pof(500, 25, 0.95).lr == pytest.approx(0.0, abs=1e-9)
    assert kupiec_pof(500, 25, 0.95).p_value == pytest.approx(1.0)
    r = kupiec_pof(250, 7, 0.99)
    direct = -2 * (243 * math.log(0.99) + 7 * math.log(0.01)) + 2 * (243 * math.log(243 / 250) + 7 * math.log(7 / 250))
    assert r.lr == pytest.approx(direct, rel=1e-12)
    assert r.p_value == pytest.approx(stats.chi2.sf(direct, 1), rel=1e-12)


# Kupiec (1995) non-rejection regions at 95 % test confidence, as printed: "lo < N < hi"
# (None: no lower bound printed). Rows: p; columns T = 255, 510, 1000.
KUPIEC_TABLE = {
    0.01: [(None, 7), (1, 11), (4, 17)],
    0.025: [(2, 12), (6, 21), (15, 36)],
    0.05: [(6, 21), (16, 36), (37, 65)],
    0.075: [(11, 28), (27, 51), (59, 92)],
    0.10: [(16, 36), (38, 65), (81, 120)],
}


@pytest.mark.parametrize("p", sorted(KUPIEC_TABLE))
@pytest.mark.parametrize("col, n", [(0, 255), (1, 510), (2, 1000)])
def test_kupiec_non_rejection_regions_match_published_table(p: float, col: int, n: int) -> None:
    """[K95/J]: the accepted counts are exactly lo+1 .. hi-1 of the published region.

    The one printed cell without a lower bound (p = 1 %, T = 255: "N < 7") is the table's
    rounding of the LR test at N = 0, where LR = -2 * 255 ln 0.99 = 5.13 > 3.84 rejects: the
    upper bound is asserted there, and the N = 0 rejection is asserted explicitly.
    """
    lo, hi = KUPIEC_TABLE[p][col]
    got_lo, got_hi = kupiec_region(n, 1 - p)
    assert got_hi == hi - 1
    if lo is None:
        assert got_lo == 1 and kupiec_pof(n, 0, 1 - p).lr > stats.chi2.ppf(0.95, 1)
    else:
        assert got_lo == lo + 1


@pytest.mark.parametrize("n, lo, hi", [(252, None, 7), (510, 1, 11), (1000, 4, 17)])
def test_kupiec_region_jorion_trading_year(n: int, lo: int | None, hi: int) -> None:
    """[K95/J] p = 1 % with a 252-day year: N < 7; 1 < N < 11; 4 < N < 17."""
    got_lo, got_hi = kupiec_region(n, 0.99)
    assert got_hi == hi - 1
    assert got_lo == (1 if lo is None else lo + 1)


# ---------------------------------------------------------------------------------------------
# Christoffersen
# ---------------------------------------------------------------------------------------------


def sequence_with_counts(n: int, runs: int, doubles: int, gap: int = 15) -> np.ndarray:
    """0/1 sequence of length n starting and ending with 0: ``runs`` runs of ones, ``doubles`` of
    them of length 2 (so N01 = N10 = runs, N11 = doubles)."""
    e = np.zeros(n, dtype=bool)
    pos = 5
    for r in range(runs):
        length = 2 if r < doubles else 1
        e[pos : pos + length] = True
        pos += length + gap
    assert pos < n
    return e


def test_christoffersen_mathworks_example() -> None:
    """[MW-CC] cci and cc: N00 = 932, N10 = 53, N01 = 53, N11 = 4 in 1043 observations with 57
    failures at 95 %: LR_ind 0.25866 (p 0.61104), LR_cc 0.72013 (p 0.69763)."""
    e = sequence_with_counts(1043, runs=53, doubles=4)
    r = christoffersen(e, 0.95)
    assert (r.n, r.exceptions, r.n00, r.n10, r.n01, r.n11) == (1043, 57, 932, 53, 53, 4)
    assert r.independence.lr == pytest.approx(0.25866, abs=5e-6)
    assert r.independence.p_value == pytest.approx(0.61104, abs=5e-6)
    assert r.unconditional.lr == pytest.approx(0.46147, abs=5e-6)
    assert r.conditional.lr == pytest.approx(0.72013, abs=5e-6)
    assert r.conditional.p_value == pytest.approx(0.69763, abs=5e-6)
    assert r.conditional.df == 2


def _neg_loglik(params: np.ndarray, n00: int, n01: int, n10: int, n11: int) -> float:
    p01, p11 = params
    return -(n00 * math.log(1 - p01) + n01 * math.log(p01) + n10 * math.log(1 - p11) + n11 * math.log(p11))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_christoffersen_matches_brute_force_likelihood(seed: int) -> None:
    """[C98]: LR_ind = 2 (max over (pi01, pi11) of the Markov log-likelihood - max over pi of the
    Bernoulli one), both maximised numerically with scipy; p-value from the chi2(1) tail."""
    rng = np.random.default_rng(seed)
    # a clustered 0/1 Markov chain: P(1|0) = 0.03, P(1|1) = 0.25
    e = np.zeros(1500, dtype=bool)
    for t in range(1, e.size):
        e[t] = rng.random() < (0.25 if e[t - 1] else 0.03)
    a, b = e[:-1], e[1:]
    n00, n01 = int(np.sum(~a & ~b)), int(np.sum(~a & b))
    n10, n11 = int(np.sum(a & ~b)), int(np.sum(a & b))
    assert transition_counts(e) == (n00, n01, n10, n11)
    alt = optimize.minimize(_neg_loglik, x0=[0.5, 0.5], args=(n00, n01, n10, n11),
                            bounds=[(1e-9, 1 - 1e-9)] * 2, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12})
    null = optimize.minimize_scalar(
        lambda p: -((n00 + n10) * math.log(1 - p) + (n01 + n11) * math.log(p)),
        bounds=(1e-9, 1 - 1e-9), method="bounded", options={"xatol": 1e-12},
    )
    lr = 2 * (-alt.fun - (-null.fun))
    r = christoffersen(e, 0.97)
    assert r.independence.lr == pytest.approx(lr, rel=1e-5)
    assert r.independence.p_value == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-4)
    assert r.independence.rejects(0.05)  # the chain is clustered on purpose
    assert (r.pi01, r.pi11) == pytest.approx(tuple(alt.x), rel=1e-4)


def test_christoffersen_edge_cases() -> None:
    none = christoffersen(np.zeros(300, dtype=bool), 0.99)
    assert (none.n00, none.n01, none.n10, none.n11) == (299, 0, 0, 0)
    assert none.independence.lr == 0.0 and none.independence.p_value == 1.0
    assert math.isnan(none.pi11) and none.pi01 == 0.0
    assert none.unconditional.lr == pytest.approx(-2 * 300 * math.log(0.99))

    every = christoffersen(np.ones(50, dtype=bool), 0.99)
    assert (every.n11, every.n00) == (49, 0) and math.isnan(every.pi01)
    assert every.independence.lr == 0.0

    isolated = sequence_with_counts(400, runs=6, doubles=0)  # exceptions, never two in a row
    r = christoffersen(isolated, 0.99)
    assert r.n11 == 0 and r.pi11 == 0.0
    assert math.isfinite(r.independence.lr) and r.independence.lr >= 0
    assert r.conditional.lr == pytest.approx(r.unconditional.lr + r.independence.lr)

    one = christoffersen([True], 0.99)
    assert one.independence.lr == 0.0 and one.n == 1

    with pytest.raises(ValueError, match="at least one observation"):
        christoffersen([], 0.99)
    with pytest.raises(ValueError, match="booleans"):
        christoffersen([0, 2, 1], 0.99)


# ---------------------------------------------------------------------------------------------
# Expected shortfall (Acerbi & Szekely)
# ---------------------------------------------------------------------------------------------

Q975 = 0.975
V_N = stats.norm.ppf(Q975)
ES_N = stats.norm.pdf(V_N) / (1 - Q975)


def test_z2_has_zero_mean_under_the_null() -> None:
    """[AS14]: E[Z2] = 0 when losses follow the forecast distribution (normal, sigma = 1)."""
    rng = np.random.default_rng(11)
    z = np.array([acerbi_szekely_z2(rng.standard_normal(250), V_N, ES_N, Q975) for _ in range(3000)])
    se = z.std(ddof=1) / math.sqrt(z.size)
    assert abs(z.mean()) < 4 * se


def test_z2_is_negative_when_es_is_understated() -> None:
    """[AS14]: Z2 < 0 when the true tail is fatter than forecast (true sigma 1.5x the model's)."""
    rng = np.random.default_rng(12)
    z = np.array([acerbi_szekely_z2(1.5 * rng.standard_normal(250), V_N, ES_N, Q975) for _ in range(500)])
    assert z.mean() < -1.0
    losses = 1.5 * np.random.default_rng(13).standard_normal(500)
    r = es_backtest(losses, V_N, ES_N, Q975, n_sims=2000, seed=1)
    assert r.z2 < 0 and r.p_value < 0.01
    assert r.published_zone is Zone.RED
    # E[1.5 Z | 1.5 Z > VaR] / ES = 1.5 phi(c) / (1 - Phi(c)) / ES with c = VaR / 1.5
    c = V_N / 1.5
    expected_ratio = 1.5 * stats.norm.pdf(c) / stats.norm.sf(c) / ES_N
    assert expected_ratio > 1.1
    assert r.mean_exceedance_ratio == pytest.approx(expected_ratio, abs=0.1)


@pytest.mark.parametrize("null, dof", [("normal", 5.0), ("student_t", 5.0), ("student_t", 10.0)])
def test_z2_five_percent_threshold_is_near_published_value(null: str, dof: float) -> None:
    """[AS14]: the 5 % significance threshold of Z2 for T = 250 and the 97.5 % ES is about -0.70
    and barely depends on the distribution. Simulated here with an independent implementation of
    the statistic (vectorised) and checked against the module's constant."""
    rng = np.random.default_rng(21)
    if null == "normal":
        y = rng.standard_normal((20_000, 250))
        v, e = V_N, ES_N
    else:
        y = rng.standard_t(dof, size=(20_000, 250))
        v = stats.t.ppf(Q975, dof)
        e = stats.t.pdf(v, dof) / (1 - Q975) * (dof + v * v) / (dof - 1)
    z = 1 - np.where(y > v, y / e, 0.0).sum(axis=1) / (250 * (1 - Q975))
    assert np.quantile(z, 0.05) == pytest.approx(cov.AS_Z2_THRESHOLDS_975[0], abs=0.08)


def test_es_backtest_p_value_under_the_null_and_determinism() -> None:
    rng = np.random.default_rng(31)
    sigma = np.exp(rng.normal(0, 0.3, 400))  # time-varying scale; forecasts scale with it
    losses = sigma * rng.standard_normal(400)
    a = es_backtest(losses, sigma * V_N, sigma * ES_N, Q975, n_sims=3000, seed=7, null="normal")
    b = es_backtest(losses, sigma * V_N, sigma * ES_N, Q975, n_sims=3000, seed=7, null="normal")
    c = es_backtest(losses, sigma * V_N, sigma * ES_N, Q975, n_sims=3000, seed=8, null="normal")
    assert a == b
    assert a.p_value != c.p_value and abs(a.p_value - c.p_value) < 0.05
    # the MC p-value is P(Z2_sim <= z2): check it against a direct simulation of the same null
    sims = 1 - np.where((y := np.random.default_rng(99).standard_normal((3000, 400))) > V_N, y / ES_N, 0).sum(1) / (400 * 0.025)
    assert a.p_value == pytest.approx(np.mean(sims <= a.z2), abs=0.03)
    assert 0.0 < a.p_value <= 1.0


def test_mean_exceedance_ratio_hand_computed() -> None:
    """Ratio = mean of L_t / ES_t over the exceptions; Z2 by hand."""
    losses = np.array([0.01, 0.05, 0.02, 0.08, 0.00])
    var = np.array([0.03, 0.03, 0.03, 0.04, 0.03])
    es = np.array([0.04, 0.04, 0.04, 0.05, 0.04])
    r = es_backtest(losses, var, es, 0.9, n_sims=0)
    assert r.exceptions == 2 and math.isnan(r.p_value) and r.published_zone is None
    assert r.mean_exceedance_ratio == pytest.approx((0.05 / 0.04 + 0.08 / 0.05) / 2)
    assert r.mean_loss_beyond_var == pytest.approx(0.065)
    assert r.mean_predicted_es == pytest.approx(0.045)
    assert r.z2 == pytest.approx(1 - (0.05 / 0.04 + 0.08 / 0.05) / (5 * 0.1))


def test_es_backtest_validation() -> None:
    with pytest.raises(ValueError, match="es must be >= var"):
        es_backtest([0.1, 0.2], 0.05, 0.04, 0.975)
    with pytest.raises(ValueError, match="shape"):
        es_backtest([0.1, 0.2], [0.05, 0.05, 0.05], 0.06, 0.975)
    with pytest.raises(ValueError, match="null must be"):
        es_backtest([0.1, 0.2], 0.05, 0.06, 0.975, null="cauchy")


# ---------------------------------------------------------------------------------------------
# adverse moves, a constructed path, the coverage report
# ---------------------------------------------------------------------------------------------


def flat_path_with_drops(n: int, drop_days: list[int], spike_days: list[int]) -> pd.DataFrame:
    """Close 100 every day, high 101 / low 99, except that the bar after each drop day has low 88
    (a 12 % fall from the previous close) and the bar after each spike day has high 113."""
    idx = pd.date_range("2021-12-20", periods=n, freq="D", tz="UTC")
    df = pd.DataFrame({"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0}, index=idx)
    for d in drop_days:
        df.iloc[d + 1, df.columns.get_loc("low")] = 88.0
    for d in spike_days:
        df.iloc[d + 1, df.columns.get_loc("high")] = 113.0
    return df


def test_constructed_path_has_exactly_the_known_exceptions() -> None:
    """A static 10 % margin; adverse moves exceed 10 % on exactly the 5 constructed days."""
    drops, spikes = [10, 40, 41, 200], [300]
    df = flat_path_with_drops(400, drops, spikes)
    adv = adverse_moves(df["close"], df["high"], df["low"], horizon_bars=1)
    assert np.isnan(adv[-1]) and np.isfinite(adv[:-1]).all()
    valid = slice(0, 399)
    exc = adv[valid] > 0.10
    assert sorted(np.flatnonzero(exc).tolist()) == sorted(drops + spikes)
    long_only = adverse_moves(df["close"], df["high"], df["low"], 1, side="long")[valid] > 0.10
    assert np.flatnonzero(long_only).tolist() == drops
    rep = coverage_report(exc, 0.99, horizon_bars=1, dates=df.index[valid],
                          exceedances=adv[valid] - 0.10, margins=np.full(399, 0.10))
    o = rep.overlapping
    assert (o.n, o.exceptions) == (399, 5) and not o.dependent
    assert o.expected == pytest.approx(3.99)
    assert o.largest_exceedance == pytest.approx(0.13 - 0.10)
    assert o.mean_exceedance == pytest.approx((4 * 0.02 + 0.03) / 5)
    assert o.average_margin == pytest.approx(0.10)
    assert rep.non_overlapping.exceptions == 5 and rep.non_overlapping.n == 399
    assert o.christoffersen is not None and o.christoffersen.n11 == 1  # days 40 and 41
    assert [(p.name, p.n, p.exceptions) for p in rep.by_year] == [("2021", 12, 1), ("2022", 365, 4), ("2023", 22, 0)]


def test_adverse_moves_over_a_horizon() -> None:
    close = np.array([100.0, 100, 100, 100, 100])
    low = np.array([99.0, 95, 97, 80, 99])
    high = np.array([101.0, 101, 104, 101, 101])
    adv = adverse_moves(close, high, low, horizon_bars=2, side="both")
    np.testing.assert_allclose(adv[:3], [0.05, 0.20, 0.20])
    assert np.isnan(adv[3:]).all()
    np.testing.assert_allclose(adverse_moves(close, high, low, 2, side="short")[:3], [0.04, 0.04, 0.01])


def test_overlapping_horizon_report() -> None:
    """h = 5: the headline uses observations 0, 5, 10, ...; every offset is summarised; the
    overlapping sample is labelled dependent."""
    h, n = 5, 1000
    e = np.zeros(n, dtype=bool)
    e[[3, 4, 5, 6, 7, 500, 501, 502, 503, 504]] = True  # two clusters of 5 overlapping exceptions
    rep = coverage_report(e, 0.99, horizon_bars=h)
    assert rep.non_overlapping.n == 200 and rep.non_overlapping.step == 5 and rep.non_overlapping.offset == 0
    assert rep.non_overlapping.exceptions == int(e[0::5].sum()) == 2
    assert not rep.non_overlapping.dependent and rep.overlapping.dependent
    assert [o.exceptions for o in rep.offsets] == [int(e[k::5].sum()) for k in range(5)] == [2, 2, 2, 2, 2]
    assert rep.overlapping.exceptions == 10
    assert rep.overlapping.christoffersen is not None and rep.overlapping.christoffersen.independence.rejects()
    assert rep.non_overlapping.kupiec == kupiec_pof(200, 2, 0.99)
    assert rep.offset_exception_range == (2, 2)
    assert "every 5-th observation" in rep.method and "dependent" in rep.method


def test_windows_and_json_round_trip() -> None:
    idx = pd.date_range("2022-01-01", periods=730, freq="D", tz="UTC")
    rng = np.random.default_rng(5)
    e = rng.random(730) < 0.02
    exceed = np.where(e, rng.uniform(0, 0.05, 730), np.nan)
    rep = coverage_report(e, 0.99, horizon_bars=2, dates=idx, exceedances=exceed,
                          windows=[("june 2022", "2022-06-01", "2022-06-30"), ("empty", "2030-01-01", "2030-02-01")])
    june = rep.by_window[0]
    mask = (idx >= pd.Timestamp("2022-06-01", tz="UTC")) & (idx <= pd.Timestamp("2022-06-30", tz="UTC"))
    assert (june.n, june.exceptions) == (30, int(e[mask].sum()))
    pos = np.arange(730)
    assert june.n_independent == int((mask & (pos % 2 == 0)).sum())
    empty = rep.by_window[1]
    assert empty.n == 0 and empty.zone is None and math.isnan(empty.rate)
    d = rep.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert d["by_window"][1]["rate"] is None and d["overlapping"]["average_margin"] is None
    assert d["overlapping"]["zone"] in ("green", "yellow", "red")
    for r in (kupiec_pof(10, 1, 0.9), christoffersen(e, 0.99), es_backtest(exceed[e], 0.01, 0.02, 0.975, n_sims=10)):
        assert json.loads(json.dumps(r.to_dict(), allow_nan=False)) == r.to_dict()


def test_coverage_report_validation() -> None:
    with pytest.raises(ValueError, match="windows need dates"):
        coverage_report([True, False], 0.99, horizon_bars=1, windows=[("w", "2020-01-01", "2020-02-01")])
    with pytest.raises(ValueError, match="shape"):
        coverage_report([True, False], 0.99, horizon_bars=1, margins=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="horizon_bars must be >= 1"):
        coverage_report([True, False], 0.99, horizon_bars=0)
    with pytest.raises(ValueError, match="dates must have length 2"):
        coverage_report([True, False], 0.99, horizon_bars=1, dates=pd.date_range("2020-01-01", periods=3))


def test_windows_accept_stress_windows_from_liquidation() -> None:
    """Drawdown episodes found by riskparams.liquidation feed the per-window breakdown directly."""
    from riskparams.liquidation import drawdown_episodes

    closes = np.r_[np.linspace(100, 150, 50), np.linspace(150, 90, 30), np.linspace(90, 160, 40)]
    idx = pd.date_range("2023-01-01", periods=closes.size, freq="D", tz="UTC")
    wins = drawdown_episodes(pd.Series(closes, index=idx), n=1)
    e = np.zeros(closes.size, dtype=bool)
    e[[55, 60, 100]] = True
    rep = coverage_report(e, 0.99, horizon_bars=1, dates=idx, windows=wins)
    w = rep.by_window[0]
    assert w.name == "drawdown 1" and w.start == iso_z(wins[0].start) and w.start.endswith("Z")  # stored times: Z
    inside = (idx >= wins[0].start) & (idx <= wins[0].end)
    assert (w.n, w.exceptions) == (int(inside.sum()), int(e[inside].sum())) == (w.n, 3)

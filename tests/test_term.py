"""The horizon term structure: quantile grids, their VaR/ES, interpolation between horizons, square-root-of-time
below one bar, monotonicity and serialisation (riskparams.term)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from riskparams.term import (
    HorizonQuantiles,
    RiskTerm,
    TermMethod,
    empirical_grids,
    parametric_term,
    term_bars,
)


def normal_grid(sigma: float, mu: float = 0.0) -> HorizonQuantiles:
    return HorizonQuantiles.from_ppf(lambda u: np.asarray(stats.norm.ppf(u), dtype=float), mu, sigma, None)


def t_grid(nu: float, sigma: float) -> HorizonQuantiles:
    scale = math.sqrt((nu - 2) / nu)
    return HorizonQuantiles.from_ppf(lambda u: np.asarray(stats.t.ppf(u, nu), dtype=float) * scale, 0.0, sigma, None)


@pytest.mark.parametrize("q", [0.95, 0.975, 0.99, 0.995])
def test_tail_measures_of_a_normal_grid_match_the_closed_forms(q: float) -> None:
    """Reference: VaR = sigma z_q, ES = sigma phi(z_q) / (1 - q) (e.g. McNeil, Frey & Embrechts, Quantitative Risk
    Management, 2015, eq. 2.24). The grid's VaR is exact at its levels; its ES integrates the piecewise-linear
    quantile function, within 0.1 % at these levels (it errs on the high side)."""
    g = normal_grid(0.02, mu=0.001)
    z = stats.norm.ppf(q)
    es = 0.02 * stats.norm.pdf(z) / (1 - q)
    assert g.tail_measure(q, "var", "lower") == pytest.approx(0.02 * z - 0.001, rel=1e-12)
    assert g.tail_measure(q, "var", "upper") == pytest.approx(0.02 * z + 0.001, rel=1e-12)
    for tail, shift in (("lower", -0.001), ("upper", 0.001)):
        got = g.tail_measure(q, "es", tail)
        assert 0 <= got / (es + shift) - 1 < 1e-3, (tail, got, es + shift)


def test_tail_measures_of_a_student_t_grid_match_the_closed_forms() -> None:
    """Student-t ES (unit variance, nu = 4): ES = s f_t(x) (nu + x^2) / ((nu - 1)(1 - q)), x = t_q, s = sqrt((nu-2)/nu)
    (McNeil, Frey & Embrechts 2015, example 2.15)."""
    nu, q = 4.0, 0.99
    g = t_grid(nu, 1.0)
    x = stats.t.ppf(q, nu)
    s = math.sqrt((nu - 2) / nu)
    es = s * stats.t.pdf(x, nu) * (nu + x * x) / ((nu - 1) * (1 - q))
    assert g.tail_measure(q, "es", "upper") == pytest.approx(es, rel=2e-3)
    assert g.tail_measure(q, "var", "lower") == pytest.approx(s * x, rel=1e-12)
    # a level beyond the grid's lowest (1e-4) uses the power tail: still finite and above the VaR
    assert g.tail_measure(0.99995, "es", "lower") > g.tail_measure(0.99995, "var", "lower") > g.tail_measure(
        0.9999, "var", "lower")
    with pytest.raises(ValueError, match="confidence must be in"):
        g.tail_measure(0.3, "es", "lower")
    with pytest.raises(ValueError, match="measure must be"):
        g.tail_measure(0.99, "cvar", "lower")


def test_empirical_es_matches_an_independent_computation() -> None:
    rng = np.random.default_rng(5)
    r = rng.standard_t(3, 40_000) * 0.01
    (g1, g4) = empirical_grids(r, (1, 4))
    for k, g in ((1, g1), (4, g4)):
        sums = np.convolve(r, np.ones(k), mode="valid")
        worst = np.sort(sums)[: int(math.floor(sums.size * 0.01))]
        assert g.tail_measure(0.99, "es", "lower") == pytest.approx(-worst.mean(), rel=0.02)
        assert g.tail_measure(0.99, "var", "lower") == pytest.approx(-np.quantile(sums, 0.01), rel=1e-9)
    with pytest.raises(ValueError, match="need at least 4"):
        empirical_grids(r[:5], (4,))


def make_term(sigmas: list[float], bars: tuple[int, ...] = (1, 2, 4)) -> RiskTerm:
    grids = [normal_grid(s) for s in sigmas]
    return RiskTerm.from_grids(1.0, bars, [s * s for s in sigmas], {"fitted": grids}, "normal")


def test_below_one_bar_is_square_root_of_time_and_says_so() -> None:
    term = make_term([0.01, 0.01 * math.sqrt(2), 0.02])
    for hours in (0.05, 0.25, 0.5, 0.9):
        hq = term.quantiles("fitted", hours)
        assert hq.values == pytest.approx([v * math.sqrt(hours) for v in term.grids["fitted"][0].values], rel=1e-12)
        assert "square-root-of-time" in term.basis(hours)
        assert term.variance(hours) == pytest.approx(hours * 1e-4, rel=1e-12)
    assert term.basis(1.0) == "1 bar of 1h bars" and term.basis(4.0) == "4 bars of 1h bars"
    assert "variance-interpolated between 2 and 4 bars" in term.basis(3.0)


def test_interpolation_between_stored_horizons_is_linear_in_variance() -> None:
    """A normal law with variance growing linearly in the horizon is reproduced exactly between stored bars."""
    term = make_term([0.01, 0.01 * math.sqrt(2), 0.02])
    exact = normal_grid(0.01 * math.sqrt(3.0))
    assert term.quantiles("fitted", 3.0).values == pytest.approx(exact.values, rel=1e-9, abs=1e-15)
    assert term.variance(3.0) == pytest.approx(3e-4, rel=1e-12)
    with pytest.raises(ValueError, match="beyond the term structure"):
        term.quantiles("fitted", 4.5)
    with pytest.raises(ValueError, match="no 'fhs' distribution"):
        term.quantiles("fhs", 1.0)


def test_a_longer_horizon_never_has_a_thinner_tail() -> None:
    """Grids that shrink with the horizon (a forecast of falling volatility, or sampling noise) are made
    monotone at construction: every tail quantile and so every VaR and ES is non-decreasing in the horizon."""
    term = make_term([0.02, 0.015, 0.03])  # the 2-bar law is narrower than the 1-bar one
    assert term.grids["fitted"][1].values == pytest.approx(term.grids["fitted"][0].values)
    hours = np.linspace(0.1, 4.0, 40)
    for q in (0.95, 0.99, 0.999):
        for measure in ("var", "es"):
            for tail in ("lower", "upper"):
                xs = [term.tail_measure("fitted", h, q, measure, tail) for h in hours]
                assert np.all(np.diff(xs) >= -1e-15), (q, measure, tail)
    # and non-decreasing in the confidence
    es = [term.tail_measure("fitted", 2.0, q, "es", "lower") for q in (0.9, 0.95, 0.99, 0.995, 0.999)]
    assert np.all(np.diff(es) > 0)


def test_parametric_term_and_serialisation_round_trip() -> None:
    bars = term_bars(24)
    assert bars == (1, 2, 3, 4, 6, 8, 12, 16, 24) and term_bars(5) == (1, 2, 3, 4, 5)
    with pytest.raises(ValueError):
        term_bars(0)
    variances = [k * 1e-4 for k in bars]
    rng = np.random.default_rng(1)
    emp = empirical_grids(rng.normal(0, 0.01, 5000), bars)
    term = parametric_term(1.0, bars, variances, lambda u: np.asarray(stats.norm.ppf(u), dtype=float),
                           law="normal", extra={TermMethod.EMPIRICAL.value: emp})
    assert term.methods == ("fitted", "empirical") and term.max_hours == 24.0
    back = RiskTerm.from_dict(json.loads(json.dumps(term.to_dict())))
    for m in term.methods:
        for h in (0.3, 1.0, 5.0, 24.0):
            assert back.quantiles(m, h).values == pytest.approx(term.quantiles(m, h).values, rel=1e-15)
    twice = term.scaled(2.0)
    assert twice.tail_measure("fitted", 7.0, 0.99, "es", "lower") == pytest.approx(
        2 * term.tail_measure("fitted", 7.0, 0.99, "es", "lower"), rel=1e-12)
    assert twice.variance(7.0) == pytest.approx(4 * term.variance(7.0), rel=1e-12)


def test_construction_is_validated() -> None:
    g = normal_grid(0.01)
    with pytest.raises(ValueError, match="strictly increasing from 1"):
        RiskTerm.from_grids(1.0, (2, 3), [1e-4, 2e-4], {"fitted": [g, g]})
    with pytest.raises(ValueError, match="has 1 grids for 2 horizons"):
        RiskTerm.from_grids(1.0, (1, 2), [1e-4, 2e-4], {"fitted": [g]})
    with pytest.raises(ValueError):
        RiskTerm.from_grids(1.0, (1, 2), [1e-4, 2e-4], {"bogus": [g, g]})
    with pytest.raises(ValueError, match="variances must be finite"):
        RiskTerm.from_grids(1.0, (1,), [float("nan")], {"fitted": [g]})


@pytest.mark.parametrize("seed", range(6))
def test_scalar_cdf_is_the_array_cdf(seed: int) -> None:
    """The scalar path of ``HorizonQuantiles.cdf`` (replays call it per tier and decision) gives exactly what the
    array path gives, inside the grid, in both power tails, at the grid's edges, at +-inf and for a point mass."""
    rng = np.random.default_rng(seed)
    sample = rng.standard_t(3 + seed, size=400) * 0.02 + rng.normal(0, 0.001)
    if seed == 5:  # ties at the extremes (a bootstrap sample repeats them)
        sample = np.r_[sample, [sample.min()] * 5, [sample.max()] * 5]
    hq = HorizonQuantiles.from_samples(sample, 0.99)
    v = np.asarray(hq.values)
    xs = np.r_[rng.uniform(v[0] * 3, v[-1] * 3, 300), v, v[0] - 1e-9, v[-1] + 1e-9, -np.inf, np.inf, 0.0]
    arr = np.asarray(hq.cdf(xs))
    for x, want in zip(xs, arr, strict=True):
        assert hq.cdf(float(x)) == want
    flat = HorizonQuantiles((0.1, 0.2, 0.8, 0.9), (0.01, 0.01, 0.01, 0.01))
    assert [flat.cdf(x) for x in (0.0, 0.01, 0.02)] == np.asarray(flat.cdf([0.0, 0.01, 0.02])).tolist()

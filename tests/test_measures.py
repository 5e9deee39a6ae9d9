"""Tests of riskparams.measures against closed forms and brute-force computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from riskparams.measures import (
    HorizonRisk,
    Tail,
    TailRisk,
    annualise_vol,
    empirical_var_es,
    garch_horizon_variance,
    impact_cost,
    log_to_price_move,
    mse_loss,
    normal_var_es,
    ppf_var_es,
    qlike_loss,
    student_t_var_es,
    tail_risk_from_samples,
)

# --- normal closed form ------------------------------------------------------------------------


def test_normal_var_es_textbook_constants() -> None:
    """N(0, sigma^2) at 99 %: VaR = 2.326348 sigma, ES = phi(z)/(1-q) sigma = 2.665214 sigma
    (e.g. McNeil, Frey & Embrechts 2015, Example 2.14)."""
    var, es = normal_var_es(0.02, 0.99)
    assert var == pytest.approx(2.3263479 * 0.02, rel=1e-6)
    assert es == pytest.approx(2.6652142 * 0.02, rel=1e-6)


def test_normal_var_es_with_mean_and_both_tails() -> None:
    z = stats.norm.ppf(0.975)
    lo = normal_var_es(0.1, 0.975, mu=0.01, tail="lower")
    up = normal_var_es(0.1, 0.975, mu=0.01, tail="upper")
    assert lo[0] == pytest.approx(z * 0.1 - 0.01)
    assert up[0] == pytest.approx(z * 0.1 + 0.01)
    assert lo[1] == pytest.approx(stats.norm.pdf(z) / 0.025 * 0.1 - 0.01)


def test_normal_es_equals_tail_integral() -> None:
    """ES = -(1/p) * integral of x f(x) over x <= VaR quantile, done by quadrature."""
    sigma, q = 0.03, 0.99
    cut = stats.norm.ppf(1 - q, scale=sigma)
    integral, _ = integrate.quad(lambda x: x * stats.norm.pdf(x, scale=sigma), -np.inf, cut)
    assert normal_var_es(sigma, q)[1] == pytest.approx(-integral / (1 - q), rel=1e-8)


# --- Student-t closed form ---------------------------------------------------------------------


@pytest.mark.parametrize("nu", [2.5, 4.0, 8.0, 30.0])
def test_student_t_es_matches_numerical_tail_integral(nu: float) -> None:
    """Closed form ES of the t (McNeil, Frey & Embrechts 2015, Ex. 2.15) vs quadrature of x f(x)."""
    sigma, q = 0.05, 0.99
    s = sigma * math.sqrt((nu - 2) / nu)  # standardized: unit variance innovations
    var, es = student_t_var_es(sigma, q, nu)
    assert var == pytest.approx(s * stats.t.ppf(q, nu), rel=1e-10)
    cut = stats.t.ppf(1 - q, nu)
    integral, _ = integrate.quad(lambda x: x * stats.t.pdf(x, nu), -np.inf, cut)
    assert es == pytest.approx(-s * integral / (1 - q), rel=1e-7)


def test_student_t_standardized_has_the_requested_standard_deviation() -> None:
    nu, sigma = 5.0, 0.04
    scale = sigma * math.sqrt((nu - 2) / nu)
    assert stats.t.std(nu, scale=scale) == pytest.approx(sigma)
    unstd = student_t_var_es(sigma, 0.99, nu, standardized=False)
    assert unstd[0] == pytest.approx(sigma * stats.t.ppf(0.99, nu))


def test_student_t_rejects_nu_without_variance() -> None:
    with pytest.raises(ValueError, match="nu must be > 2 for a standardized Student-t, got 2.0"):
        student_t_var_es(0.1, 0.99, 2.0)


def test_student_t_tends_to_normal() -> None:
    assert student_t_var_es(0.02, 0.99, 1e7)[1] == pytest.approx(normal_var_es(0.02, 0.99)[1], rel=1e-5)


# --- quantile-function ES ----------------------------------------------------------------------


def test_ppf_var_es_reproduces_normal_and_t_closed_forms() -> None:
    for tail in ("lower", "upper"):
        got = ppf_var_es(stats.norm.ppf, 0.99, mu=0.001, sigma=0.02, tail=tail)
        assert got == pytest.approx(normal_var_es(0.02, 0.99, 0.001, tail), rel=1e-7)
    nu = 4.0
    scale = math.sqrt((nu - 2) / nu)
    got_t = ppf_var_es(lambda u: stats.t.ppf(u, nu) * scale, 0.995, sigma=0.03)
    assert got_t == pytest.approx(student_t_var_es(0.03, 0.995, nu), rel=1e-6)


def test_ppf_var_es_sees_skew() -> None:
    """A right-skewed innovation (standardized lognormal) has a heavier upper tail."""

    def ppf(u: np.ndarray) -> np.ndarray:
        d = stats.lognorm(0.5)
        return (d.ppf(u) - d.mean()) / d.std()

    lo = ppf_var_es(ppf, 0.99, tail="lower")
    up = ppf_var_es(ppf, 0.99, tail="upper")
    assert up[0] > lo[0] and up[1] > lo[1]


# --- empirical ---------------------------------------------------------------------------------


def test_empirical_var_es_converge_to_normal_closed_form() -> None:
    x = np.random.default_rng(1).normal(0, 0.02, 2_000_000)
    var, es = empirical_var_es(x, 0.99)
    exact = normal_var_es(0.02, 0.99)
    assert var == pytest.approx(exact[0], rel=0.01)
    assert es == pytest.approx(exact[1], rel=0.01)
    up = empirical_var_es(x, 0.99, "upper")
    assert up[0] == pytest.approx(exact[0], rel=0.01)


def test_empirical_es_is_mean_beyond_var_on_a_small_sample() -> None:
    x = np.arange(1.0, 101.0) / 100 - 0.505  # -0.495 ... 0.495
    var, es = empirical_var_es(x, 0.95)
    cut = np.quantile(x, 0.05)
    assert var == pytest.approx(-cut)
    assert es == pytest.approx(-x[x <= cut].mean())
    assert es >= var


def test_tail_risk_from_samples_both_tails() -> None:
    x = np.random.default_rng(2).standard_t(4, 200_000) * 0.01 + 0.002
    hr = tail_risk_from_samples(x, 0.99, "fhs")
    assert hr.method == "fhs"
    assert hr.lower.var_log < hr.upper.var_log  # positive drift shifts risk to the upper tail
    assert hr.worse_tail is Tail.UPPER


# --- price fractions, horizon risk record ------------------------------------------------------


def test_log_to_price_move() -> None:
    assert log_to_price_move(0.1, "lower") == pytest.approx(1 - math.exp(-0.1))
    assert log_to_price_move(0.1, "upper") == pytest.approx(math.exp(0.1) - 1)
    assert log_to_price_move(5.0, "lower") < 1.0
    assert log_to_price_move(800.0, "lower") <= 1.0  # a price cannot fall more than 100 %
    assert log_to_price_move(0.0, Tail.UPPER) == 0.0


def test_horizon_risk_worse_tail_scaling_and_roundtrip() -> None:
    hr = HorizonRisk(
        method="fitted",
        confidence=0.99,
        lower=TailRisk.from_log(0.10, 0.12, "lower"),
        upper=TailRisk.from_log(0.08, 0.11, "upper"),
    )
    # upper: exp(0.08)-1 = 0.0833 < lower: 1-exp(-0.10) = 0.0952
    assert hr.worse_tail is Tail.LOWER
    assert hr.var == pytest.approx(1 - math.exp(-0.10))
    assert hr.es == pytest.approx(max(1 - math.exp(-0.12), math.exp(0.11) - 1))
    doubled = hr.scaled(2.0)
    assert doubled.lower.var_log == pytest.approx(0.20)
    assert doubled.upper.es_price == pytest.approx(math.exp(0.22) - 1)
    assert HorizonRisk.from_dict(hr.to_dict()) == hr


# --- horizon aggregation -----------------------------------------------------------------------


def _brute_force_sum(s1: float, omega: float, phi: float, h: int) -> float:
    total, s = 0.0, s1
    for _ in range(h):
        total += s
        s = omega + phi * s
    return total


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9, 0.99, 0.999999, 1 - 1e-9, 1.0, 1 + 1e-9, 1.01])
@pytest.mark.parametrize("h", [1, 2, 24, 500])
def test_garch_horizon_variance_equals_the_recursion(phi: float, h: int) -> None:
    s1, omega = 2.5, 0.03
    assert garch_horizon_variance(s1, omega, phi, h) == pytest.approx(
        _brute_force_sum(s1, omega, phi, h), rel=1e-9
    )


def test_garch_horizon_variance_is_continuous_at_unit_persistence() -> None:
    at_one = garch_horizon_variance(1.0, 0.01, 1.0, 100)
    assert at_one == pytest.approx(100 * 1.0 + 0.01 * 100 * 99 / 2)
    for eps in (1e-6, 1e-8, 1e-10):
        assert garch_horizon_variance(1.0, 0.01, 1 - eps, 100) == pytest.approx(at_one, rel=1e-3)


def test_garch_horizon_variance_rejects_zero_horizon() -> None:
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        garch_horizon_variance(1.0, 0.1, 0.9, 0)


# --- misc --------------------------------------------------------------------------------------


def test_annualise_vol_uses_365_days() -> None:
    assert annualise_vol(0.05, "1d") == pytest.approx(0.05 * math.sqrt(365))
    np.testing.assert_allclose(annualise_vol([0.01, 0.02], "1h"), np.array([0.01, 0.02]) * math.sqrt(8760))


def test_losses() -> None:
    proxy = np.array([1.0, 4.0])
    # QLIKE is minimised by the true variance
    grid = np.linspace(0.5, 8, 2001)
    best = grid[np.argmin([qlike_loss(4.0, g) for g in grid])]
    assert best == pytest.approx(4.0, abs=0.01)
    np.testing.assert_allclose(mse_loss(proxy, [2.0, 2.0]), [1.0, 4.0])
    np.testing.assert_allclose(qlike_loss(proxy, [1.0, 4.0]), [1.0, math.log(4.0) + 1.0])


def test_impact_cost_square_root_law() -> None:
    cost = impact_cost(1_000_000, adv=100_000_000, sigma_daily=0.04, k=0.8, half_spread=0.0005)
    assert cost == pytest.approx(0.0005 + 0.8 * 0.04 * math.sqrt(0.01))
    sizes = np.array([0.0, 1e5, 1e6, 1e7])
    costs = impact_cost(sizes, adv=5e7, sigma_daily=0.05)
    assert isinstance(costs, np.ndarray) and np.all(np.diff(costs) > 0)
    # four times the size, twice the impact
    assert impact_cost(4e6, 1e8, 0.05) == pytest.approx(2 * impact_cost(1e6, 1e8, 0.05))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"adv": 0.0}, "adv must be a finite number > 0, got 0.0"),
        ({"sigma_daily": -0.1}, "sigma_daily must be a finite number >= 0, got -0.1"),
        ({"k": math.nan}, "k must be a finite number >= 0, got nan"),
        ({"notional": -1.0}, "notional must be finite and >= 0"),
    ],
)
def test_impact_cost_validation(kwargs: dict[str, float], message: str) -> None:
    args: dict[str, float] = {"notional": 1.0, "adv": 1e6, "sigma_daily": 0.05} | kwargs
    with pytest.raises(ValueError, match=message):
        impact_cost(args.pop("notional"), **args)


def test_confidence_validation_message() -> None:
    with pytest.raises(ValueError, match="confidence must be in \\(0.5, 1\\), got 1.0"):
        normal_var_es(0.1, 1.0)

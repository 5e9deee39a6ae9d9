"""Tests of riskparams.diagnostics: statsmodels' tests re-derived from their textbook formulas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from riskparams.diagnostics import ResidualDiagnostics, half_life, residual_diagnostics


def simulate_garch(n: int, omega: float, alpha: float, beta: float, seed: int) -> np.ndarray:
    """GARCH(1,1) returns with normal innovations, started at the unconditional variance."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n + 500)
    s2 = omega / (1 - alpha - beta)
    out = np.empty(n + 500)
    for t in range(n + 500):
        out[t] = math.sqrt(s2) * z[t]
        s2 = omega + alpha * out[t] ** 2 + beta * s2
    return out[500:]


def ljung_box(x: np.ndarray, lags: int) -> float:
    """Ljung & Box (1978): Q = n (n + 2) sum_k rho_k^2 / (n - k)."""
    n = x.size
    d = x - x.mean()
    denom = float(np.sum(d * d))
    q = 0.0
    for k in range(1, lags + 1):
        rho = float(np.sum(d[k:] * d[:-k])) / denom
        q += rho * rho / (n - k)
    return n * (n + 2) * q


def arch_lm(x: np.ndarray, lags: int) -> float:
    """Engle (1982): LM = T * R^2 of x_t^2 on a constant and x_{t-1}^2 .. x_{t-lags}^2."""
    e2 = x**2
    y = e2[lags:]
    cols = [np.ones_like(y)] + [e2[lags - k : -k] for k in range(1, lags + 1)]
    xmat = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(xmat, y, rcond=None)
    resid = y - xmat @ coef
    r2 = 1 - resid @ resid / np.sum((y - y.mean()) ** 2)
    return float(y.size * r2)


def jarque_bera(x: np.ndarray) -> float:
    """Jarque & Bera (1980): JB = n/6 (S^2 + (K - 3)^2 / 4)."""
    d = x - x.mean()
    m2 = np.mean(d**2)
    s = np.mean(d**3) / m2**1.5
    k = np.mean(d**4) / m2**2
    return float(x.size / 6 * (s * s + (k - 3) ** 2 / 4))


def test_half_life() -> None:
    assert half_life(0.5) == pytest.approx(1.0)
    assert half_life(0.9) == pytest.approx(math.log(0.5) / math.log(0.9))
    assert half_life(1.0) == math.inf
    assert half_life(1.2) == math.inf
    assert half_life(0.0) == 0.0
    assert math.isnan(half_life(math.nan))


def test_half_life_for_persistence_at_or_below_zero() -> None:
    """Defined for every persistence: 0 has no memory (0 bars, the limit of ln 0.5 / ln p as p -> 0+); a negative
    persistence (an EGARCH beta) alternates in sign while its size halves in ln 0.5 / ln |p| bars; at or below
    -1 the size never shrinks (inf). Continuous at 0 from both sides."""
    assert half_life(-0.5) == pytest.approx(1.0)
    assert half_life(-0.9) == pytest.approx(half_life(0.9))
    assert half_life(-1e-12) == pytest.approx(0.0, abs=0.05) and half_life(1e-12) == pytest.approx(0.0, abs=0.05)
    assert half_life(-0.0) == 0.0
    assert half_life(-1.0) == math.inf and half_life(-3.0) == math.inf
    assert half_life(-math.inf) == math.inf and half_life(math.inf) == math.inf
    # |p| ** half_life == 1/2 wherever it is finite and positive
    for p in (-0.99, -0.3, 0.3, 0.99):
        assert abs(p) ** half_life(p) == pytest.approx(0.5)


def test_statistics_match_textbook_formulas() -> None:
    z = np.random.default_rng(3).standard_t(6, 1500)
    d = residual_diagnostics(z, lags=7, persistence=0.95, hours_per_bar=24)
    assert d.lags == 7 and d.n_obs == 1500
    assert d.ljung_box_stat == pytest.approx(ljung_box(z, 7), rel=1e-10)
    assert d.ljung_box_pvalue == pytest.approx(stats.chi2.sf(ljung_box(z, 7), 7), rel=1e-8)
    assert d.ljung_box_sq_stat == pytest.approx(ljung_box(z**2, 7), rel=1e-10)
    assert d.arch_lm_stat == pytest.approx(arch_lm(z, 7), rel=1e-8)
    assert d.arch_lm_pvalue == pytest.approx(stats.chi2.sf(arch_lm(z, 7), 7), rel=1e-6)
    assert d.jarque_bera_stat == pytest.approx(jarque_bera(z), rel=1e-10)
    assert d.half_life_bars == pytest.approx(math.log(0.5) / math.log(0.95))
    assert d.half_life_hours == pytest.approx(24 * d.half_life_bars)


def test_tests_detect_volatility_clustering_and_accept_iid() -> None:
    clustered = simulate_garch(3000, 0.05, 0.15, 0.8, seed=4)
    d = residual_diagnostics(clustered / clustered.std())
    assert d.arch_lm_pvalue < 1e-6 and d.ljung_box_sq_pvalue < 1e-6
    iid = residual_diagnostics(np.random.default_rng(5).standard_normal(3000))
    assert iid.arch_lm_pvalue > 0.01 and iid.ljung_box_pvalue > 0.01 and iid.jarque_bera_pvalue > 0.01


def test_to_dict_is_json_safe_and_round_trips() -> None:
    z = np.random.default_rng(6).standard_normal(400)
    d = residual_diagnostics(z, loglik=-500.0, aic=1004.0, bic=1012.0, persistence=1.0)
    out = d.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["half_life_bars"] is None  # infinite: no mean reversion
    assert all(type(v) in (int, float, type(None)) for v in out.values())
    back = ResidualDiagnostics.from_dict(out)
    assert back.ljung_box_stat == d.ljung_box_stat and back.loglik == -500.0
    assert math.isnan(back.half_life_bars)


def test_constant_residuals_give_nan_tests_not_errors() -> None:
    d = residual_diagnostics(np.zeros(100), lags=5)
    assert math.isnan(d.arch_lm_stat) and math.isnan(d.jarque_bera_stat) and math.isnan(d.ljung_box_stat)


def test_validation_messages() -> None:
    with pytest.raises(ValueError, match="lags must be an integer >= 1, got 0"):
        residual_diagnostics(np.ones(100), lags=0)
    with pytest.raises(ValueError, match="std_resid must have at least 22 finite values for lags=10, got 21"):
        residual_diagnostics(np.ones(21), lags=10)


def test_ljung_box_by_fft_equals_statsmodels() -> None:
    """The FFT autocorrelations give statsmodels' acorr_ljungbox statistic and p-value (reference)."""
    import numpy as np
    from statsmodels.stats.diagnostic import acorr_ljungbox

    from riskparams.diagnostics import _ljung_box

    z = np.random.default_rng(3).standard_t(4, 3000)
    for x in (z, z**2, np.cumsum(z) / 50):
        ref = acorr_ljungbox(x, lags=[12], return_df=True)
        q, p = _ljung_box(x, 12)
        assert q == pytest.approx(float(ref["lb_stat"].iloc[0]), rel=1e-9)
        assert p == pytest.approx(float(ref["lb_pvalue"].iloc[0]), rel=1e-7, abs=1e-300)


@pytest.mark.parametrize(("n", "lags", "seed"), [(60, 1, 1), (500, 10, 2), (20_000, 10, 3), (3_000, 25, 4)])
def test_arch_lm_equals_statsmodels_het_arch(n: int, lags: int, seed: int) -> None:
    """The ARCH-LM statistic by one least-squares solve equals statsmodels' ``het_arch`` (1e-9 relative, p-value
    1e-9 absolute) on fat-tailed residuals with and without left-over clustering."""
    from statsmodels.stats.diagnostic import het_arch

    from riskparams.diagnostics import _arch_lm

    rng = np.random.default_rng(seed)
    z = rng.standard_t(4, n)
    clustered = z * np.sqrt(1.0 + 0.5 * np.concatenate([[0.0], z[:-1] ** 2]))
    for x in (z, clustered):
        want = het_arch(x, nlags=lags, result_object=True)
        lm, p = _arch_lm(x, lags)
        assert lm == pytest.approx(float(want[0]), rel=1e-9)
        assert p == pytest.approx(float(want[1]), abs=1e-9)

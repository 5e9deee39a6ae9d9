"""Tests of riskparams.volatility: realized estimators, GARCH fits, guards, horizon risk.

Every estimator is checked against an independent plain-Python computation of its textbook
formula; the GARCH(1,1) fit against the published Bollerslev-Ghysels DEM/GBP benchmark.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from riskparams import volatility
from riskparams.exceptions import FallbackWarning, HistoryError
from riskparams.measures import normal_var_es, student_t_var_es
from riskparams.volatility import (
    DistName,
    FitEngine,
    FitSpec,
    ModelName,
    RiskMethod,
    VolEstimate,
    close_to_close_vol,
    compare_models,
    ewma_variance,
    ewma_vol,
    fit_cache_key,
    fit_returns,
    fit_volatility,
    garman_klass_vol,
    parkinson_vol,
    realized_vol,
    rogers_satchell_vol,
    stressed_vol,
    yang_zhang_vol,
)

DATA = Path(__file__).resolve().parent / "data"
PRICES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prices"
LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def simulate_garch(
    n: int,
    omega: float,
    alpha: float,
    beta: float,
    *,
    gamma: float = 0.0,
    nu: float | None = None,
    seed: int = 0,
    burn: int = 1000,
) -> np.ndarray:
    """GJR-GARCH(1,1) returns in percent, our own recursion (gamma = 0: GARCH).

    Innovations are standard normal, or Student-t(nu) rescaled to unit variance.
    """
    rng = np.random.default_rng(seed)
    if nu is None:
        z = rng.standard_normal(n + burn)
    else:
        z = rng.standard_t(nu, n + burn) * math.sqrt((nu - 2) / nu)
    s2 = omega / (1 - alpha - 0.5 * gamma - beta)
    y = np.empty(n + burn)
    for t in range(n + burn):
        y[t] = math.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (y[t] < 0)) * y[t] ** 2 + beta * s2
    return y[burn:]


def frame_from_returns(r: np.ndarray, freq: str = "1d", start: str = "2018-01-01") -> pd.DataFrame:
    """A price frame whose close-to-close log returns are ``r`` (fractions)."""
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.concatenate([[100.0], close[:-1]])
    idx = pd.date_range(start, periods=len(r), freq=freq.replace("d", "D"), tz="UTC", name="ts")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": 1.0,
        },
        index=idx,
    )


def intrabar_ohlc(
    n_bars: int, sigma: float, *, steps: int = 400, jump_sd: float = 0.0, seed: int = 0
) -> pd.DataFrame:
    """OHLC of bars of a driftless Brownian log price (``steps`` points a bar, per-bar vol
    ``sigma``), with optional normal opening jumps of sd ``jump_sd``."""
    rng = np.random.default_rng(seed)
    rows = []
    last_close = 0.0
    for _ in range(n_bars):
        start = last_close + rng.normal(0.0, jump_sd) if jump_sd else last_close
        path = start + np.concatenate([[0.0], np.cumsum(rng.normal(0.0, sigma / math.sqrt(steps), steps))])
        rows.append((path[0], path.max(), path.min(), path[-1]))
        last_close = path[-1]
    a = np.exp(np.array(rows)) * 100
    idx = pd.date_range("2022-01-01", periods=n_bars, freq="1D", tz="UTC", name="ts")
    return pd.DataFrame(
        {"open": a[:, 0], "high": a[:, 1], "low": a[:, 2], "close": a[:, 3], "volume": 1.0}, index=idx
    )


def load_csv(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("timestamp"), utc=True), name="ts")
    return df.astype(float)


def quiet_fit(*args: Any, **kwargs: Any) -> VolEstimate:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)  # a test that expects no fallback fails on one
        return fit_volatility(*args, **kwargs)


@pytest.fixture(scope="module")
def garch_frame() -> pd.DataFrame:
    """3,000 daily bars of GARCH(1,1): omega=0.05 %^2, alpha=0.08, beta=0.90, normal."""
    return frame_from_returns(simulate_garch(3000, 0.05, 0.08, 0.90, seed=11) / 100)


@pytest.fixture(scope="module")
def garch_fit(garch_frame: pd.DataFrame) -> VolEstimate:
    return quiet_fit(garch_frame, "1d", FitSpec(model="garch", dist="normal", mean="zero", horizon_hours=120))


# ---------------------------------------------------------------------------------------------
# realized estimators against loops over the textbook formulas
# ---------------------------------------------------------------------------------------------


def test_close_to_close_matches_loop() -> None:
    r = pd.Series(np.random.default_rng(0).normal(0, 0.02, 60))
    got = close_to_close_vol(r, 20)
    for t in range(19, 60):
        w = r.iloc[t - 19 : t + 1].tolist()
        m = sum(w) / 20
        assert got.iloc[t] == pytest.approx(math.sqrt(sum((x - m) ** 2 for x in w) / 19), rel=1e-12)
    assert got.iloc[:19].isna().all()
    rms = close_to_close_vol(r, 20, demean=False)
    assert rms.iloc[-1] == pytest.approx(math.sqrt(sum(x * x for x in r.iloc[-20:]) / 20), rel=1e-12)


def test_ewma_matches_riskmetrics_loop() -> None:
    """RiskMetrics Technical Document (J.P. Morgan/Reuters 1996): s2_t = lam s2_{t-1} + (1-lam) r_t^2."""
    r = np.random.default_rng(1).normal(0, 0.03, 100)
    lam = 0.97
    s2 = sum(x * x for x in r[:30]) / 30
    expected = []
    for x in r:
        s2 = lam * s2 + (1 - lam) * x * x
        expected.append(s2)
    np.testing.assert_allclose(ewma_variance(r, lam), expected, rtol=1e-12)
    np.testing.assert_allclose(ewma_vol(pd.Series(r), lam).to_numpy(), np.sqrt(expected), rtol=1e-12)
    with pytest.raises(ValueError, match="lam must be in \\(0, 1\\), got 1.0"):
        ewma_variance(r, 1.0)


@pytest.fixture(scope="module")
def ohlc() -> pd.DataFrame:
    return intrabar_ohlc(80, 0.02, steps=50, jump_sd=0.003, seed=2)


def _bars(df: pd.DataFrame) -> list[tuple[float, float, float, float]]:
    return list(zip(df["open"], df["high"], df["low"], df["close"], strict=True))


def test_parkinson_matches_loop(ohlc: pd.DataFrame) -> None:
    """Parkinson (1980), J. Business 53(1): sigma^2 = 1/(4 n ln 2) sum ln(H/L)^2."""
    n = 20
    got = parkinson_vol(ohlc, n)
    bars = _bars(ohlc)
    for t in range(n - 1, len(bars)):
        s = sum(math.log(h / lo) ** 2 for _, h, lo, _ in bars[t - n + 1 : t + 1])
        assert got.iloc[t] == pytest.approx(math.sqrt(s / (4 * n * LN2)), rel=1e-12)


def test_garman_klass_matches_loop(ohlc: pd.DataFrame) -> None:
    """Garman & Klass (1980), J. Business 53(1): 1/n sum [0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2]."""
    n = 15
    got = garman_klass_vol(ohlc, n)
    bars = _bars(ohlc)
    for t in range(n - 1, len(bars)):
        s = sum(
            0.5 * math.log(h / lo) ** 2 - (2 * LN2 - 1) * math.log(c / o) ** 2
            for o, h, lo, c in bars[t - n + 1 : t + 1]
        )
        assert got.iloc[t] == pytest.approx(math.sqrt(s / n), rel=1e-12)


def test_rogers_satchell_matches_loop(ohlc: pd.DataFrame) -> None:
    """Rogers & Satchell (1991), Ann. Appl. Prob. 1(4): 1/n sum [ln(H/C) ln(H/O) + ln(L/C) ln(L/O)]."""
    n = 10
    got = rogers_satchell_vol(ohlc, n)
    bars = _bars(ohlc)
    for t in range(n - 1, len(bars)):
        s = sum(
            math.log(h / c) * math.log(h / o) + math.log(lo / c) * math.log(lo / o)
            for o, h, lo, c in bars[t - n + 1 : t + 1]
        )
        assert got.iloc[t] == pytest.approx(math.sqrt(s / n), rel=1e-12)


def test_yang_zhang_matches_loop(ohlc: pd.DataFrame) -> None:
    """Yang & Zhang (2000), J. Business 73(3), eq. (10): V = V_O + k V_C + (1 - k) V_RS,
    k = 0.34 / (1.34 + (n + 1)/(n - 1)), V_O and V_C sample variances (n - 1 divisor)."""
    n = 12
    got = yang_zhang_vol(ohlc, "1d", n)
    bars = _bars(ohlc)
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    assert got.iloc[:n].isna().all()  # the first bar has no previous close
    for t in range(n, len(bars)):
        window = range(t - n + 1, t + 1)
        o_ = [math.log(bars[i][0] / bars[i - 1][3]) for i in window]
        c_ = [math.log(bars[i][3] / bars[i][0]) for i in window]
        rs = [
            math.log(bars[i][1] / bars[i][3]) * math.log(bars[i][1] / bars[i][0])
            + math.log(bars[i][2] / bars[i][3]) * math.log(bars[i][2] / bars[i][0])
            for i in window
        ]
        mo, mc = sum(o_) / n, sum(c_) / n
        v_o = sum((x - mo) ** 2 for x in o_) / (n - 1)
        v_c = sum((x - mc) ** 2 for x in c_) / (n - 1)
        v = v_o + k * v_c + (1 - k) * sum(rs) / n
        assert got.iloc[t] == pytest.approx(math.sqrt(v), rel=1e-12)


def test_range_estimators_recover_the_true_volatility() -> None:
    """On bars of a Brownian log price with per-bar vol 2 %, every estimator is close to 2 %
    (the discrete path's range is a little short of the continuous one, hence 6 %)."""
    df = intrabar_ohlc(1500, 0.02, steps=400, seed=3)
    n = len(df) - 1
    for fn in (parkinson_vol, garman_klass_vol, rogers_satchell_vol):
        assert fn(df, n).iloc[-1] == pytest.approx(0.02, rel=0.06), fn.__name__
    assert yang_zhang_vol(df, "1d", n).iloc[-1] == pytest.approx(0.02, rel=0.06)
    assert realized_vol(df, "1d", "close_to_close", n - 1).iloc[-1] == pytest.approx(0.02, rel=0.06)


def test_yang_zhang_does_not_use_an_opening_jump_across_a_gap(ohlc: pd.DataFrame) -> None:
    gapped = ohlc.drop(index=ohlc.index[40])
    got = yang_zhang_vol(gapped, "1d", 5)
    # position 40 is now the first bar after the gap: the 5 windows that contain it are NaN
    assert got.iloc[40:45].isna().all()
    assert np.isfinite(got.iloc[39]) and np.isfinite(got.iloc[45])
    assert np.isfinite(yang_zhang_vol(gapped, "1d", 5, allow_gaps=True).iloc[40:45]).all()


def test_realized_vol_dispatch_and_errors(ohlc: pd.DataFrame) -> None:
    pd.testing.assert_series_equal(realized_vol(ohlc, "1d", "parkinson", 10), parkinson_vol(ohlc, 10))
    assert realized_vol(ohlc, "1d", "ewma", lam=0.9).notna().all()
    with pytest.raises(ValueError, match="method must be one of 'close_to_close', 'ewma', 'parkinson'"):
        realized_vol(ohlc, "1d", "garch")
    with pytest.raises(ValueError, match="window must be an integer >= 2, got 1"):
        parkinson_vol(ohlc, 1)


def test_stressed_vol_is_the_worst_window() -> None:
    r = np.random.default_rng(4).normal(0, 0.01, 400)
    r[200:230] *= 5  # a stress episode
    n = 50
    worst = max(float(np.std(r[t - n + 1 : t + 1], ddof=1)) for t in range(n - 1, len(r)))
    assert stressed_vol(r, n) == pytest.approx(worst, rel=1e-12)
    assert stressed_vol(r[:30], n) == pytest.approx(float(np.std(r[:30], ddof=1)))


# ---------------------------------------------------------------------------------------------
# FitSpec
# ---------------------------------------------------------------------------------------------


def test_fitspec_defaults_and_enum_coercion() -> None:
    spec = FitSpec(model="gjr", dist="skewt", mean="constant", candidates=["egarch", "garch", "garch"])
    assert spec.model is ModelName.GJR and spec.dist is DistName.SKEWT
    assert spec.candidates == (ModelName.EGARCH, ModelName.GARCH)
    d = FitSpec()
    assert (d.model, d.min_history, d.ewma_lambda, d.confidence) == (ModelName.AUTO, 500, 0.94, 0.99)
    assert (d.n_sims, d.integrated_max_hours, d.engine) == (10_000, 168.0, FitEngine.FAST)
    assert FitSpec(engine="arch").engine is FitEngine.ARCH
    with pytest.raises(AttributeError):
        d.model = ModelName.GARCH  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "arima"}, "model must be one of 'auto', 'garch', 'gjr', 'egarch', 'ewma', got 'arima'"),
        ({"dist": "ged"}, "dist must be one of 'normal', 't', 'skewt', got 'ged'"),
        ({"mean": "ar1"}, "mean must be one of 'constant', 'zero', got 'ar1'"),
        ({"risk_method": "hs"}, "risk_method must be one of 'fitted', 'fhs', 'max', got 'hs'"),
        (
            {"candidates": ("garch", "ewma")},
            "candidates must contain only 'garch', 'gjr', 'egarch', got 'ewma'",
        ),
        ({"candidates": ()}, "candidates must be a non-empty sequence"),
        ({"min_history": 5}, "min_history must be an integer >= 10, got 5"),
        ({"ewma_lambda": 1.0}, "ewma_lambda must be in \\(0, 1\\), got 1.0"),
        ({"horizon_hours": 0}, "horizon_hours must be a number in \\(0, 8760\\] \\(at most a year\\), got 0"),
        ({"horizon_hours": 8761}, "horizon_hours must be a number in \\(0, 8760\\] \\(at most a year\\), got 8761"),
        ({"horizon_hours": math.inf}, "horizon_hours must be a number in \\(0, 8760\\] \\(at most a year\\), got inf"),
        ({"confidence": 0.4}, "confidence must be in \\(0.5, 1\\), got 0.4"),
        ({"n_sims": 10}, "n_sims must be an integer in \\[100, 1000000\\], got 10"),
        ({"n_sims": 1_000_001}, "n_sims must be an integer in \\[100, 1000000\\], got 1000001"),
        ({"n_sims": 1000.0}, "n_sims must be an integer in \\[100, 1000000\\], got 1000.0"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"benchmark_mode": "yes"}, "benchmark_mode must be True or False, got 'yes'"),
        ({"stress_window": 1}, "stress_window must be None or an integer >= 2, got 1"),
        ({"diagnostic_lags": 0}, "diagnostic_lags must be an integer >= 1, got 0"),
        ({"max_persistence": 1.5}, "max_persistence must be in \\(0, 1\\], got 1.5"),
        ({"integrated_max_hours": -1}, "integrated_max_hours must be a number in \\[0, 8760\\], got -1"),
        ({"integrated_max_hours": 9000}, "integrated_max_hours must be a number in \\[0, 8760\\], got 9000"),
        ({"integrated_max_hours": True}, "integrated_max_hours must be a number in \\[0, 8760\\], got True"),
        ({"engine": "gpu"}, "engine must be one of 'fast', 'arch', got 'gpu'"),
    ],
)
def test_fitspec_validation_messages(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FitSpec(**kwargs)


def test_fitspec_key_is_stable_and_discriminating() -> None:
    a = FitSpec(model="garch", horizon_hours=24)
    b = FitSpec(model=ModelName.GARCH, horizon_hours=24.0)
    assert a.key() == b.key() and a.key().startswith("fitspec-v1-")
    assert FitSpec(model="garch", seed=1).key() != a.key()
    assert FitSpec.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_fit_cache_key_normalises_as_of() -> None:
    spec = FitSpec()
    k1 = fit_cache_key("BTC/1d", "abc", spec, "2024-01-01")
    k2 = fit_cache_key("BTC/1d", "abc", spec, pd.Timestamp("2024-01-01", tz="UTC"))
    assert k1 == k2
    assert fit_cache_key("BTC/1d", "abc", spec, "2024-01-02") != k1
    assert fit_cache_key("BTC/1d", "abd", spec, "2024-01-01") != k1


# ---------------------------------------------------------------------------------------------
# GARCH fits
# ---------------------------------------------------------------------------------------------


def test_benchmark_bollerslev_ghysels_dem_gbp() -> None:
    """GARCH(1,1) benchmark of Fiorentini, Calzolari & Panattoni (1996, J. Appl. Econometrics
    11, 399-417), adopted by McCullough & Renfro (1999) and Brooks, Burke & Persand (2001):
    DEM/GBP daily percentage returns of Bollerslev & Ghysels (1996), 1974 observations.
    Published estimates (as in rugarch R/rugarch-benchmarks.R and fGarch's unit tests):
    mu = -0.00619041, omega = 0.0107613, alpha = 0.153134, beta = 0.805974; log-likelihood
    -1106.608 (fGarch garchFit on the same data). Data: tests/data/dem2gbp.csv (see README)."""
    x = pd.read_csv(DATA / "dem2gbp.csv")["DEM2GBP"].to_numpy(dtype=float)
    assert x.size == 1974
    # fGarch's garch11Fit trace starts at mu = mean(x) = -0.0164268, omega = var(x)/10 = 0.0221130
    assert x.mean() == pytest.approx(-0.0164268, abs=5e-8)
    assert x.var(ddof=1) / 10 == pytest.approx(0.0221130, abs=5e-8)
    r = pd.Series(x / 100.0, index=pd.date_range("1984-01-03", periods=x.size, freq="1D", tz="UTC"))
    spec = FitSpec(model="garch", dist="normal", mean="constant", benchmark_mode=True, min_history=500)
    est = fit_returns(r, "1d", spec)
    assert est.fallback is None and est.converged
    published = {"mu": -0.00619041, "omega": 0.0107613, "alpha[1]": 0.153134, "beta[1]": 0.805974}
    for name, value in published.items():
        assert est.params[name] == pytest.approx(value, rel=1e-3), name
    assert est.loglik == pytest.approx(-1106.608, abs=1e-3)


def test_default_backcast_is_not_the_benchmark() -> None:
    """Why benchmark mode exists: arch's EWMA backcast gives a visibly different estimate."""
    x = pd.read_csv(DATA / "dem2gbp.csv")["DEM2GBP"].to_numpy(dtype=float)
    r = pd.Series(x / 100.0, index=pd.date_range("1984-01-03", periods=x.size, freq="1D", tz="UTC"))
    est = fit_returns(r, "1d", FitSpec(model="garch", dist="normal", mean="constant"))
    assert abs(est.params["omega"] / 0.0107613 - 1) > 1e-2


def test_garch_recovers_simulated_parameters(garch_fit: VolEstimate) -> None:
    p = garch_fit.params
    assert garch_fit.model is ModelName.GARCH and garch_fit.fallback is None
    assert p["alpha[1]"] == pytest.approx(0.08, abs=0.03)
    assert p["beta[1]"] == pytest.approx(0.90, abs=0.04)
    assert garch_fit.persistence == pytest.approx(0.98, abs=0.015)
    # long-run vol of the simulation: sqrt(0.05 / 0.02) % = 1.58 % a day
    assert garch_fit.long_run_vol == pytest.approx(math.sqrt(0.05 / 0.02) / 100, rel=0.2)
    assert garch_fit.long_run_vol == pytest.approx(
        math.sqrt(p["omega"] / (1 - garch_fit.persistence)) / 100, rel=1e-12
    )


def test_gjr_with_student_t_recovers_asymmetry_and_tails() -> None:
    y = simulate_garch(4000, 0.05, 0.04, 0.85, gamma=0.12, nu=6.0, seed=12)
    est = quiet_fit(frame_from_returns(y / 100), "1d", FitSpec(model="gjr", dist="t", mean="zero"))
    assert est.params["gamma[1]"] == pytest.approx(0.12, abs=0.06)
    assert est.params["nu"] == pytest.approx(6.0, abs=2.0)
    expected = est.params["alpha[1]"] + 0.5 * est.params["gamma[1]"] + est.params["beta[1]"]
    assert est.persistence == pytest.approx(expected, rel=1e-12)


def test_auto_picks_the_lowest_bic(garch_frame: pd.DataFrame) -> None:
    est = quiet_fit(garch_frame, "1d", FitSpec(model="auto", dist="normal"))
    assert set(est.candidates) == {"garch", "gjr", "egarch"}
    assert est.model.value == min(est.candidates, key=lambda m: est.candidates[m])
    assert est.bic == pytest.approx(est.candidates[est.model.value])
    assert est.bic == pytest.approx(-2 * est.loglik + len(est.params) * math.log(est.n_obs))


def test_egarch_and_skewt_fit() -> None:
    y = simulate_garch(2500, 0.05, 0.08, 0.9, seed=13)
    est = quiet_fit(
        frame_from_returns(y / 100),
        "1d",
        FitSpec(model="egarch", dist="skewt", mean="constant", horizon_hours=72),
    )
    assert {"omega", "alpha[1]", "gamma[1]", "beta[1]", "eta", "lambda", "mu"} <= set(est.params)
    assert est.persistence == est.params["beta[1]"]
    assert 0 < est.long_run_vol < 0.05
    assert est.horizon_bars == 3 and est.horizon_vol > est.next_vol
    assert est.fhs_risk is not None
    assert any("no finite multi-step expected variance" in n for n in est.notes)


def test_egarch_horizon_variance_is_the_log_variance_recursion(garch_frame: pd.DataFrame) -> None:
    """Nelson (1991) EGARCH(1,1): E[ln s2_{T+k+1}] = omega + beta E[ln s2_{T+k}] for normal
    innovations (arch centres |z| at sqrt(2/pi)); horizon variance = sum of exp(E ln s2)."""
    est = quiet_fit(garch_frame, "1d", FitSpec(model="egarch", dist="normal", horizon_hours=96))
    p = est.params
    m = 2 * math.log(100 * est.next_vol)
    total = 0.0
    for _ in range(4):
        total += math.exp(m)
        m = p["omega"] + p["beta[1]"] * m
    assert 100 * est.horizon_vol == pytest.approx(math.sqrt(total), rel=1e-9)
    assert est.long_run_vol == pytest.approx(math.exp(p["omega"] / (1 - p["beta[1]"]) / 2) / 100, rel=1e-9)
    assert est.notes == ()


def test_auto_leaves_out_egarch_for_fat_tails_over_several_bars(garch_frame: pd.DataFrame) -> None:
    one_bar = quiet_fit(garch_frame, "1d", FitSpec(model="auto", dist="t", horizon_hours=24))
    assert "egarch" in one_bar.candidates
    two_bars = quiet_fit(garch_frame, "1d", FitSpec(model="auto", dist="t", horizon_hours=48))
    assert "egarch" not in two_bars.candidates and two_bars.model is not ModelName.EGARCH
    assert (
        two_bars.rejected["egarch"]
        == "egarch: skipped, its 2-bar variance forecast is infinite with t innovations"
    )


# ---------------------------------------------------------------------------------------------
# guards and fallbacks
# ---------------------------------------------------------------------------------------------


def ewma_standardized(r: np.ndarray, lam: float = 0.94, init_window: int = 30) -> np.ndarray:
    """EWMA-standardized residuals r_t / sigma_{t|t-1} by a plain loop: sigma2 starts at the mean of the first
    ``init_window`` squares and is updated after each return."""
    s2 = sum(x * x for x in r[:init_window]) / min(len(r), init_window)
    out = []
    for x in r:
        out.append(x / math.sqrt(s2))
        s2 = lam * s2 + (1 - lam) * x * x
    return np.array(out)


def unit_t_nu_mle(z: np.ndarray) -> float:
    """Degrees of freedom of a unit-variance Student-t by maximum likelihood, through scipy's t density
    (scale sqrt((nu - 2) / nu)), searched over [2.05, 500] like arch's bounds."""
    from scipy import optimize

    def negll(nu: float) -> float:
        scale = math.sqrt((nu - 2) / nu)
        return -float(np.sum(stats.t.logpdf(z / scale, nu) - math.log(scale)))

    return float(optimize.minimize_scalar(negll, bounds=(2.05, 500.0), method="bounded",
                                          options={"xatol": 1e-8}).x)


def test_short_history_falls_back_to_ewma(garch_frame: pd.DataFrame) -> None:
    short = garch_frame.iloc[:301]
    with pytest.warns(FallbackWarning, match="short history: 300 returns < min_history 500"):
        est = fit_volatility(short, "1d", FitSpec(model="garch"))
    assert est.model is ModelName.EWMA and est.fallback == "short history: 300 returns < min_history 500"
    r = np.log(short["close"]).diff().dropna().to_numpy()
    assert est.next_vol == pytest.approx(math.sqrt(ewma_variance(r, 0.94)[-1]), rel=1e-10)
    # the requested fat tail survives the fallback: a unit-variance t fitted to the EWMA residuals
    assert est.dist is DistName.T and set(est.params) == {"lambda", "nu"} and est.params["lambda"] == 0.94
    assert est.nu == est.params["nu"] == pytest.approx(unit_t_nu_mle(ewma_standardized(r)), rel=1e-4)
    assert est.engine == "ewma"
    with pytest.warns(FallbackWarning, match="short history"):
        normal = fit_volatility(short, "1d", FitSpec(model="garch", dist="normal"))
    assert normal.dist is DistName.NORMAL and normal.params == {"lambda": 0.94} and normal.nu is None
    assert normal.next_vol == est.next_vol
    # a smaller configured minimum lets GARCH run
    assert (
        quiet_fit(short, "1d", FitSpec(model="garch", dist="normal", min_history=250)).model
        is ModelName.GARCH
    )


def test_constant_series_falls_back_with_zero_risk() -> None:
    df = frame_from_returns(np.zeros(800))
    with pytest.warns(FallbackWarning, match="constant series: all 799 returns are equal"):
        est = fit_volatility(df, "1d", FitSpec())
    assert est.model is ModelName.EWMA and est.next_vol == 0.0 and est.var == 0.0
    json.dumps(est.to_dict(), allow_nan=False)


def test_non_convergence_falls_back(garch_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(volatility, "_OPTIMIZER_OPTIONS", {"maxiter": 1})
    with pytest.warns(FallbackWarning, match="garch: optimizer did not converge \\(flag 9"):
        est = fit_volatility(garch_frame, "1d", FitSpec(model="garch", dist="normal", engine="arch"))
    assert est.model is ModelName.EWMA and est.fallback is not None
    assert "garch" in est.rejected
    # the compiled engine does not use arch's optimiser: the same starved options do not touch it
    fast = quiet_fit(garch_frame, "1d", FitSpec(model="garch", dist="normal"))
    assert fast.model is ModelName.GARCH and fast.engine == "fast" and fast.fallback is None


def test_fit_exception_falls_back(garch_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(volatility, "_make_model", boom)
    with pytest.warns(FallbackWarning, match="egarch: fit failed \\(LinAlgError: singular matrix\\)"):
        est = fit_volatility(garch_frame, "1d", FitSpec(model="auto"))
    assert est.model is ModelName.EWMA
    assert set(est.rejected) == {"garch", "gjr", "egarch"}  # all three reasons are recorded
    assert est.fallback is not None and est.fallback.count("fit failed") == 3


def test_persistence_guard_falls_back(garch_frame: pd.DataFrame) -> None:
    """A fit at the guard (here a guard of 0.9 under a persistence of 0.98) is rejected when integrated models
    are off (integrated_max_hours=0) or the horizon is longer than integrated_max_hours."""
    off = FitSpec(model="garch", dist="normal", max_persistence=0.9, integrated_max_hours=0)
    with pytest.warns(FallbackWarning, match="garch: persistence 0\\.9[0-9]+ >= max_persistence 0\\.9"):
        est = fit_volatility(garch_frame, "1d", off)
    assert est.model is ModelName.EWMA and not est.integrated
    too_long = FitSpec(model="garch", dist="normal", max_persistence=0.9, integrated_max_hours=24, horizon_hours=48,
                       n_sims=500)
    with pytest.warns(FallbackWarning, match="garch: persistence 0\\.9[0-9]+ >= max_persistence 0\\.9"):
        longer = fit_volatility(garch_frame, "1d", too_long)
    assert longer.model is ModelName.EWMA and not longer.integrated


def test_persistence_at_the_guard_is_kept_as_integrated_for_short_horizons(garch_frame: pd.DataFrame) -> None:
    """The same fit with the default integrated_max_hours (168) and a 24h horizon: kept, no fallback, flagged
    integrated, long-run volatility undefined; at exactly integrated_max_hours it is still kept."""
    est = quiet_fit(garch_frame, "1d", FitSpec(model="garch", dist="normal", max_persistence=0.9))
    assert est.model is ModelName.GARCH and est.fallback is None and est.integrated
    assert est.persistence >= 0.9 and est.long_run_vol == math.inf
    assert any("kept as an integrated model for the 24h horizon" in n for n in est.notes), est.notes
    plain = quiet_fit(garch_frame, "1d", FitSpec(model="garch", dist="normal"))
    assert not plain.integrated and math.isfinite(plain.long_run_vol)
    assert est.params == plain.params and est.next_vol == plain.next_vol  # the guard changes no estimate
    edge = quiet_fit(garch_frame, "1d", FitSpec(model="garch", dist="normal", max_persistence=0.9,
                                                 integrated_max_hours=48, horizon_hours=48, n_sims=500))
    assert edge.integrated and edge.model is ModelName.GARCH
    back = VolEstimate.from_dict(json.loads(json.dumps(est.to_dict(), allow_nan=False)))
    assert back.integrated and back.to_dict() == est.to_dict()


def test_non_finite_guard_falls_back(garch_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(volatility, "persistence", lambda *a, **k: math.nan)
    with pytest.warns(FallbackWarning, match="garch: non-finite parameters, likelihood or variance"):
        est = fit_volatility(garch_frame, "1d", FitSpec(model="garch", dist="normal"))
    assert est.model is ModelName.EWMA


def test_auto_keeps_the_candidates_that_pass(
    garch_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = volatility._fit_garch_family

    def only_egarch_fails(y: np.ndarray, model: ModelName, spec: FitSpec, **kwargs: Any) -> Any:
        return "egarch: fit failed (test)" if model is ModelName.EGARCH else real(y, model, spec, **kwargs)

    monkeypatch.setattr(volatility, "_fit_garch_family", only_egarch_fails)
    est = quiet_fit(garch_frame, "1d", FitSpec(model="auto", dist="normal"))
    assert est.model in (ModelName.GARCH, ModelName.GJR) and est.fallback is None
    assert est.rejected == {"egarch": "egarch: fit failed (test)"}


def test_too_little_data_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="need at least 2 returns to estimate volatility, got 1"):
        fit_volatility(frame_from_returns(np.array([0.01, 0.02])), "1d", FitSpec())


# ---------------------------------------------------------------------------------------------
# as-of, horizon risk, serialisation
# ---------------------------------------------------------------------------------------------


def test_as_of_uses_no_later_data(garch_frame: pd.DataFrame) -> None:
    spec = FitSpec(model="garch", dist="normal", n_sims=500)
    cut = garch_frame.index[2000]
    a = quiet_fit(garch_frame, "1d", spec, as_of=cut)
    future_changed = garch_frame.copy()
    future_changed.loc[future_changed.index > cut, ["open", "high", "low", "close"]] *= 3.0
    b = quiet_fit(future_changed, "1d", spec, as_of=cut)
    assert a.to_dict() == b.to_dict()
    assert a.as_of == cut and a.n_obs == 2000
    c = quiet_fit(garch_frame.loc[:cut], "1d", spec)
    assert c.to_dict() == a.to_dict()


def test_forecasts_follow_the_garch_recursion(garch_fit: VolEstimate, garch_frame: pd.DataFrame) -> None:
    """sigma2_{T+1} = omega + alpha r_T^2 + beta sigma2_T, and the horizon variance is the sum
    of E[sigma2_{T+k}] = omega + (alpha + beta) E[sigma2_{T+k-1}], by a plain loop (percent)."""
    p = garch_fit.params
    r_last = 100 * math.log(garch_frame["close"].iloc[-1] / garch_frame["close"].iloc[-2])
    s_last = 100 * garch_fit.conditional_vol.iloc[-1]
    s2 = p["omega"] + p["alpha[1]"] * r_last**2 + p["beta[1]"] * s_last**2
    assert 100 * garch_fit.next_vol == pytest.approx(math.sqrt(s2), rel=1e-9)
    assert garch_fit.horizon_bars == 5
    total = 0.0
    for _ in range(5):
        total += s2
        s2 = p["omega"] + (p["alpha[1]"] + p["beta[1]"]) * s2
    assert 100 * garch_fit.horizon_vol == pytest.approx(math.sqrt(total), rel=1e-9)


def test_one_step_var_es_are_the_closed_forms(garch_frame: pd.DataFrame) -> None:
    normal = quiet_fit(
        garch_frame, "1d", FitSpec(model="garch", dist="normal", horizon_hours=24, confidence=0.99)
    )
    var, es = normal_var_es(normal.next_vol, 0.99)
    assert normal.fitted_risk.lower.var_log == pytest.approx(var, rel=1e-9)
    assert normal.fitted_risk.upper.es_log == pytest.approx(es, rel=1e-9)
    assert normal.var == pytest.approx(math.exp(var) - 1, rel=1e-9)  # upper tail is worse in price
    assert normal.worse_tail == "upper"
    t = quiet_fit(garch_frame, "1d", FitSpec(model="garch", dist="t", horizon_hours=24, confidence=0.995))
    tv, te = student_t_var_es(t.next_vol, 0.995, t.params["nu"])
    assert t.fitted_risk.lower.var_log == pytest.approx(tv, rel=1e-9)
    assert t.fitted_risk.lower.es_log == pytest.approx(te, rel=1e-9)
    assert t.fitted_risk.lower.var_price == pytest.approx(1 - math.exp(-tv), rel=1e-9)


def test_multi_step_monte_carlo_is_close_to_normal_aggregate(garch_fit: VolEstimate) -> None:
    """Five-day sums of conditionally normal GARCH returns are nearly normal: the simulated VaR
    is within 10 % of z * horizon_vol, and ES exceeds VaR."""
    z = stats.norm.ppf(0.99)
    for tail in (garch_fit.fitted_risk.lower, garch_fit.fitted_risk.upper):
        assert tail.var_log == pytest.approx(z * garch_fit.horizon_vol, rel=0.10)
        assert tail.es_log > tail.var_log
    assert garch_fit.fhs_risk is not None
    assert garch_fit.fhs_risk.lower.var_log == pytest.approx(garch_fit.fitted_risk.lower.var_log, rel=0.15)


def test_simulations_are_reproducible_and_seeded(garch_frame: pd.DataFrame) -> None:
    spec = FitSpec(model="garch", dist="t", horizon_hours=72, n_sims=2000, seed=7)
    a = quiet_fit(garch_frame, "1d", spec)
    b = quiet_fit(garch_frame, "1d", spec)
    c = quiet_fit(garch_frame, "1d", FitSpec(model="garch", dist="t", horizon_hours=72, n_sims=2000, seed=8))
    assert a.fitted_risk == b.fitted_risk and a.fhs_risk == b.fhs_risk
    assert a.fitted_risk != c.fitted_risk and a.fhs_risk != c.fhs_risk
    assert a.fitted_risk.lower.var_log == pytest.approx(c.fitted_risk.lower.var_log, rel=0.1)


def test_risk_method_selects_the_headline(garch_frame: pd.DataFrame) -> None:
    base = {"model": "garch", "dist": "normal", "horizon_hours": 48, "n_sims": 2000}
    fitted = quiet_fit(garch_frame, "1d", FitSpec(**base, risk_method="fitted"))
    fhs = quiet_fit(garch_frame, "1d", FitSpec(**base, risk_method="fhs"))
    mx = quiet_fit(garch_frame, "1d", FitSpec(**base, risk_method=RiskMethod.MAX))
    assert fitted.var == fitted.fitted_risk.var and fhs.fhs_risk is not None and fhs.var == fhs.fhs_risk.var
    assert mx.var == max(fitted.var, fhs.var) and mx.es == max(fitted.es, fhs.es)


def test_scaling_returns_scales_the_estimate(garch_frame: pd.DataFrame) -> None:
    """Invariance: fitting returns x2 gives (up to optimizer tolerance) estimate.scaled(2)."""
    spec = FitSpec(model="garch", dist="normal", horizon_hours=24)
    base = quiet_fit(garch_frame, "1d", spec)
    r = np.log(garch_frame["close"]).diff().dropna().to_numpy()
    doubled = quiet_fit(frame_from_returns(np.concatenate([[0.0], 2 * r])), "1d", spec)
    predicted = base.scaled(2.0)
    for name in ("next_vol", "horizon_vol", "long_run_vol", "stressed_vol"):
        assert getattr(doubled, name) == pytest.approx(getattr(predicted, name), rel=2e-3), name
    assert doubled.fitted_risk.lower.var_log == pytest.approx(predicted.fitted_risk.lower.var_log, rel=2e-3)
    assert doubled.params["omega"] == pytest.approx(predicted.params["omega"], rel=2e-2)
    assert predicted.var > base.var and predicted.stressed_vol == 2 * base.stressed_vol
    assert base.scaled(1.0).to_dict() == base.to_dict()
    with pytest.raises(ValueError, match="factor must be a finite number > 0, got 0"):
        base.scaled(0)


def _walk(x: Any) -> None:
    if isinstance(x, dict):
        assert all(isinstance(k, str) for k in x)
        for v in x.values():
            _walk(v)
    elif isinstance(x, list):
        for v in x:
            _walk(v)
    else:
        assert type(x) in (str, int, float, bool, type(None)), type(x)
        if isinstance(x, float):
            assert math.isfinite(x)


def test_to_dict_is_json_safe_and_round_trips(garch_fit: VolEstimate) -> None:
    d = garch_fit.to_dict()
    _walk(d)
    text = json.dumps(d, allow_nan=False)
    back = VolEstimate.from_dict(json.loads(text))
    assert back.to_dict() == d
    pd.testing.assert_series_equal(
        back.conditional_vol, garch_fit.conditional_vol, check_names=False, check_freq=False
    )
    assert back.model is ModelName.GARCH and back.fitted_risk == garch_fit.fitted_risk
    assert back.diagnostics is not None and back.diagnostics.lags == 10
    with pytest.raises(TypeError):
        garch_fit.params["omega"] = 1.0  # type: ignore[index]


def test_result_shapes_units_and_diagnostics(garch_fit: VolEstimate, garch_frame: pd.DataFrame) -> None:
    assert garch_fit.n_obs == len(garch_frame) - 1
    assert list(garch_fit.conditional_vol.index) == list(garch_frame.index[1:])
    assert garch_fit.conditional_vol.iloc[-1] == garch_fit.last_vol
    assert garch_fit.stress_window == 250 and garch_fit.stressed_vol >= garch_fit.conditional_vol.median()
    assert garch_fit.next_vol_annualised == pytest.approx(garch_fit.next_vol * math.sqrt(365))
    diag = garch_fit.diagnostics
    assert diag is not None
    assert diag.persistence == garch_fit.persistence and diag.loglik == garch_fit.loglik
    assert diag.half_life_hours == pytest.approx(24 * math.log(0.5) / math.log(garch_fit.persistence))
    assert diag.arch_lm_pvalue > 0.001  # the model absorbed the simulated clustering


def test_gap_note_is_recorded(garch_frame: pd.DataFrame) -> None:
    gapped = garch_frame.drop(index=garch_frame.index[[100, 101, 500]])
    est = quiet_fit(gapped, "1d", FitSpec(model="garch", dist="normal"))
    assert est.notes == ("2 return(s) spanning 2 gap(s) (3 missing bar(s)) were dropped",)
    assert est.n_obs == len(gapped) - 1 - 2


def test_hourly_horizon_in_bars(garch_frame: pd.DataFrame) -> None:
    hourly = garch_frame.copy()
    hourly.index = pd.date_range("2023-01-01", periods=len(hourly), freq="1h", tz="UTC", name="ts")
    est = quiet_fit(hourly, "1h", FitSpec(model="garch", dist="normal", horizon_hours=7.5, n_sims=1000))
    assert est.horizon_bars == 8 and est.term is not None and est.term.bars == (1, 2, 3, 4, 6, 8)
    # 7.5 bars is not rounded up: variance-linear between the stored 6- and 8-bar distributions
    assert est.horizon_basis == "variance-interpolated between 6 and 8 bars of 1h bars"
    assert est.horizon_vol**2 == pytest.approx(0.25 * est.term.variance(6) + 0.75 * est.term.variance(8), rel=1e-12)
    six, eight = (est.term.tail_measure("fitted", h, 0.99, "var", "lower") for h in (6, 8))
    assert six < est.fitted_risk.lower.var_log < eight
    assert est.stress_window == 6000 and est.stressed_vol == pytest.approx(
        float(np.std(np.log(hourly["close"]).diff().dropna(), ddof=1))
    )


# ---------------------------------------------------------------------------------------------
# model comparison
# ---------------------------------------------------------------------------------------------


def test_compare_models_scores_fixed_parameter_forecasts(garch_frame: pd.DataFrame) -> None:
    table = compare_models(garch_frame, "1d", holdout=500, dist="normal")
    assert list(table.columns) == [
        "model",
        "dist",
        "mean",
        "proxy",
        "n_train",
        "n_holdout",
        "qlike",
        "mse",
        "status",
    ]
    assert set(table["model"]) == {"garch", "gjr", "egarch", "ewma"}
    assert (table["status"] == "ok").all() and (table["n_holdout"] == 500).all()
    assert table["qlike"].is_monotonic_increasing
    # EWMA row by hand: forecast of r_t is the EWMA variance through t-1
    r = np.log(garch_frame["close"]).diff().dropna().to_numpy()
    s2 = ewma_variance(r, 0.94)
    fc, proxy = s2[-501:-1], r[-500:] ** 2
    ewma = table.set_index("model").loc["ewma"]
    assert ewma["qlike"] == pytest.approx(float(np.mean(np.log(fc) + proxy / fc)), rel=1e-10)
    assert ewma["mse"] == pytest.approx(float(np.mean((proxy - fc) ** 2)), rel=1e-10)
    # the data are GARCH: the GARCH forecasts beat EWMA out of sample
    assert table.set_index("model").loc["garch", "qlike"] < ewma["qlike"]


def test_compare_models_with_parkinson_proxy_and_errors() -> None:
    df = intrabar_ohlc(700, 0.02, steps=20, seed=5)
    table = compare_models(
        df, "1d", holdout=200, candidates=["garch", "ewma"], dist="normal", proxy="parkinson"
    )
    assert set(table["proxy"]) == {"parkinson"} and len(table) == 2
    with pytest.raises(ValueError, match="proxy must be one of 'squared_returns', 'parkinson', got 'rv'"):
        compare_models(df, "1d", holdout=200, proxy="rv")
    with pytest.raises(HistoryError, match="need at least 100 returns before a holdout of 650, got 49"):
        compare_models(df, "1d", holdout=650)


# ---------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------

DAILY = sorted(PRICES.glob("*_1d_*.csv")) if PRICES.is_dir() else []


@pytest.mark.integration
@pytest.mark.skipif(not PRICES.is_dir(), reason="shared price data not present")
@pytest.mark.parametrize("path", DAILY, ids=[p.stem for p in DAILY])
def test_fits_every_daily_file(path: Path) -> None:
    prices = load_csv(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        est = fit_volatility(prices, "1d", FitSpec(horizon_hours=48, n_sims=2000))
    assert est.horizon_bars == 2
    for v in (est.next_vol, est.horizon_vol, est.var, est.es, est.stressed_vol):
        assert math.isfinite(v) and v > 0
    assert est.es >= est.var
    assert est.fitted_risk.lower.var_price < 1.0  # a long cannot lose more than the price
    back = VolEstimate.from_dict(json.loads(json.dumps(est.to_dict(), allow_nan=False)))
    assert back.to_dict() == est.to_dict()
    if path.name.startswith("LUNA"):
        # the collapse: daily log returns of -279 % and -812 % in the last days
        assert est.stressed_vol > 0.3 and est.next_vol > 1.0
        assert est.notes and "gap" in est.notes[0]


@pytest.mark.parametrize("model", ["garch", "gjr"])
def test_small_scale_returns_are_fitted_not_left_at_the_starting_values(model: str) -> None:
    """Hourly-size returns (sd about 0.3%): arch's SLSQP on percent data stopped at its starting
    values (GARCH-t alpha 0.2, beta 0.78) with a success flag on the synthetic BTC-SYN hourly series.
    The rescaled fit must move well away from them to a far better likelihood (regression test)."""
    from riskparams.ingest.demo import generate_demo_universe
    from riskparams.volatility import DistName, MeanName, _arch_fit, _fit_rescaled, _make_model

    frame = next(s.frame for s in generate_demo_universe() if s.symbol == "BTC-SYN" and s.freq == "1h")
    y = np.diff(np.log(frame["close"].to_numpy())) * 100
    m = ModelName(model)
    direct = _arch_fit(_make_model(y, m, DistName.T, MeanName.ZERO), None)
    res, converged = _fit_rescaled(y, m, DistName.T, MeanName.ZERO)
    assert converged
    assert res.params["alpha[1]"] < 0.15  # not arch's starting value 0.2
    assert res.params["beta[1]"] > 0.85
    # the same optimum as a fit of the well-scaled data y * 10, mapped back (ll + n ln 10)
    ten = _arch_fit(_make_model(y * 10, m, DistName.T, MeanName.ZERO), None)
    assert float(res.loglikelihood) == pytest.approx(float(ten.loglikelihood) + y.size * math.log(10), abs=1e-3)
    assert float(res.loglikelihood) >= float(direct.loglikelihood)


def test_half_life_guard_depends_on_bar_length() -> None:
    """Persistence 0.99 halves a shock in 69 bars: 69 days on daily bars, 69 hours on hourly bars. On daily bars
    the 30-day guard trips: rejected when integrated models are off, kept as integrated (24h horizon <=
    integrated_max_hours) by default. On hourly bars it does not trip at all."""
    y = simulate_garch(4000, 0.02, 0.08, 0.91, seed=21)
    daily = FitSpec(model="garch", dist="normal", max_half_life_days=30, integrated_max_hours=0)
    with pytest.warns(FallbackWarning, match="max_half_life_days"):
        est = quiet_fit_returns(y, "1d", daily)
    assert est.fallback is not None and est.model is ModelName.EWMA
    kept = quiet_fit_returns(y, "1d", FitSpec(model="garch", dist="normal", max_half_life_days=30))
    assert kept.fallback is None and kept.integrated and kept.model is ModelName.GARCH
    assert kept.persistence >= volatility.persistence_limit(FitSpec(max_half_life_days=30), "1d")
    assert kept.long_run_vol == math.inf
    hourly = quiet_fit_returns(y, "1h", daily)  # 69 hours < 30 days
    assert hourly.fallback is None and not hourly.integrated
    assert hourly.persistence == pytest.approx(0.99, abs=0.01)
    assert volatility.persistence_limit(daily, "1d") == pytest.approx(0.5 ** (1 / 30))
    assert volatility.persistence_limit(FitSpec(), "1h") == pytest.approx(0.5 ** (1 / (365 * 24)))


def quiet_fit_returns(y: np.ndarray, freq: str, spec: FitSpec) -> VolEstimate:
    idx = pd.date_range("2018-01-01", periods=y.size, freq="h" if freq == "1h" else "D", tz="UTC", name="ts")
    return fit_returns(pd.Series(y / 100, index=idx), freq, spec)


def test_egarch_long_run_vol_closed_form_and_its_limits() -> None:
    from riskparams.volatility import egarch_long_run_vol

    # exp(E[ln s] / 2), E[ln s] = (omega + alpha (E|z| - sqrt(2/pi))) / (1 - beta); normal z: E|z| = sqrt(2/pi)
    assert egarch_long_run_vol(0.02, 0.1, 0.98, math.sqrt(2 / math.pi)) == pytest.approx(math.exp(0.5 * 0.02 / 0.02))
    assert egarch_long_run_vol(0.02, 0.1, 1.0, 0.8) == math.inf  # no mean reversion
    assert egarch_long_run_vol(5.0, 0.0, 0.997, 0.8) == math.inf  # exp(833) overflows: inf, not an OverflowError
    assert egarch_long_run_vol(4.0, 0.0, 0.997, 0.8) == pytest.approx(math.exp(2.0 / 0.003))  # exp(667) does not


# ---------------------------------------------------------------------------------------------
# the compiled engine, sub-bar horizons, EWMA-t, the term structure
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dist", ["normal", "t"])
@pytest.mark.parametrize("model", ["garch", "gjr"])
def test_fast_engine_reaches_arch_optimum_on_dem_gbp(model: str, dist: str) -> None:
    """The compiled engine maximises arch's own likelihood: on the DEM/GBP returns it reaches the maximum that
    arch's optimiser reaches (log-likelihood within 1e-4 relative, parameters close), and the log-likelihood it
    reports is the one arch computes for its parameters (arch_model(...).fix)."""
    from arch import arch_model

    x = pd.read_csv(DATA / "dem2gbp.csv")["DEM2GBP"].to_numpy(dtype=float)
    r = pd.Series(x / 100.0, index=pd.date_range("1984-01-03", periods=x.size, freq="1D", tz="UTC"))
    base = {"model": model, "dist": dist, "mean": "constant", "n_sims": 500}
    fast = fit_returns(r, "1d", FitSpec(**base, engine="fast"))
    slow = fit_returns(r, "1d", FitSpec(**base, engine="arch"))
    assert (fast.engine, slow.engine) == ("fast", "arch")
    assert fast.fallback is None and slow.fallback is None
    assert fast.loglik == pytest.approx(slow.loglik, rel=1e-4)
    assert fast.loglik >= slow.loglik - 1e-6 * abs(slow.loglik)  # not a worse optimum
    assert set(fast.params) == set(slow.params)
    for name, value in slow.params.items():
        tol = 1e-2 * value if name == "nu" else 2e-3
        assert fast.params[name] == pytest.approx(value, abs=tol), name
    # independent: arch's likelihood at the compiled engine's parameters (percent returns)
    vol = {"garch": {"p": 1, "o": 0, "q": 1}, "gjr": {"p": 1, "o": 1, "q": 1}}[model]
    am = arch_model(x, mean="Constant", vol="GARCH", dist=dist, rescale=False, **vol)
    fixed = am.fix([fast.params[n] for n in am._all_parameter_names()])
    assert float(fixed.loglikelihood) == pytest.approx(fast.loglik, rel=1e-9)


def _daily(y: np.ndarray) -> pd.Series:
    return pd.Series(y, index=pd.date_range("2018-01-01", periods=y.size, freq="D", tz="UTC", name="ts"))


@pytest.fixture(scope="module")
def t_returns() -> pd.Series:
    """3,000 daily GARCH(1,1)-t(5) returns (fractions)."""
    return _daily(simulate_garch(3000, 0.05, 0.08, 0.90, nu=5.0, seed=11) / 100)


def test_a_horizon_below_one_bar_is_scaled_by_the_square_root_of_time(t_returns: pd.Series) -> None:
    """A 6h horizon on daily bars is not rounded up to a day: it is the one-bar law scaled by sqrt(6/24) = 0.5
    (VaR exactly the analytic one-bar VaR x 0.5, the horizon variance a quarter of the one-bar variance, ES the
    one-bar ES x 0.5), and horizon_basis says so."""
    q = 0.99
    one = fit_returns(t_returns, "1d", FitSpec(model="garch", dist="t", horizon_hours=24))
    six = fit_returns(t_returns, "1d", FitSpec(model="garch", dist="t", horizon_hours=6))
    assert six.params == one.params and six.next_vol == one.next_vol
    assert "square-root-of-time" in six.horizon_basis and "square-root-of-time" not in one.horizon_basis
    assert any("square-root-of-time" in n for n in six.notes)
    assert six.horizon_bars == 1 and six.horizon_hours == 6.0
    assert six.horizon_vol == pytest.approx(0.5 * one.horizon_vol, rel=1e-12)
    tv, _te = student_t_var_es(one.next_vol, q, one.params["nu"])
    for tail in ("lower", "upper"):
        six_tail, one_tail = getattr(six.fitted_risk, tail), getattr(one.fitted_risk, tail)
        assert one_tail.var_log == pytest.approx(tv, rel=1e-9)
        assert six_tail.var_log == pytest.approx(0.5 * one_tail.var_log, rel=1e-9)
        assert six_tail.es_log == pytest.approx(0.5 * one_tail.es_log, rel=1e-9)
        assert six_tail.var_price == pytest.approx(
            1 - math.exp(-six_tail.var_log) if tail == "lower" else math.exp(six_tail.var_log) - 1, rel=1e-12)
        assert six_tail.var_log < one_tail.var_log
    assert six.fhs_risk is not None
    assert one.fhs_risk is not None
    assert six.fhs_risk.lower.var_log == pytest.approx(0.5 * one.fhs_risk.lower.var_log, rel=1e-9)
    # the headline is a price fraction of the worse tail
    assert six.es == max(six.fitted_risk.lower.es_price, six.fitted_risk.upper.es_price)


def test_sub_bar_headline_es_is_the_one_bar_headline_es_scaled(t_returns: pd.Series) -> None:
    """The headline ES below one bar is the one-bar headline ES x sqrt(tau) (1e-9 relative, log terms), so the
    headline ES never falls as the horizon grows to a whole bar."""
    one = fit_returns(t_returns, "1d", FitSpec(model="garch", dist="t", horizon_hours=24))
    six = fit_returns(t_returns, "1d", FitSpec(model="garch", dist="t", horizon_hours=6))
    assert six.fitted_risk.lower.es_log == pytest.approx(one.fitted_risk.lower.es_log * math.sqrt(6 / 24), rel=1e-9)
    almost = fit_returns(t_returns, "1d", FitSpec(model="garch", dist="t", horizon_hours=23.99))
    assert almost.es <= one.es


def simulate_ewma_t(n: int, nu: float, lam: float = 0.94, *, seed: int = 0) -> np.ndarray:
    """Returns (fractions) r_t = sigma_t z_t with sigma2_{t+1} = lam sigma2_t + (1 - lam) r_t**2 and z_t a
    Student-t(nu) scaled to unit variance, by a plain loop. (An EWMA variance has no mean reversion and
    drifts down over a long sample; the filter is scale-free, so the standardized residuals do not care.)"""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n) * math.sqrt((nu - 2) / nu)
    r = np.empty(n)
    s2 = 0.01**2
    for t in range(n):
        r[t] = math.sqrt(s2) * z[t]
        s2 = lam * s2 + (1 - lam) * r[t] ** 2
    return r


def test_ewma_keeps_a_fitted_student_t() -> None:
    """EWMA-t: on 20,000 returns with an EWMA variance and t(4) innovations the fitted nu is 4 +/- 0.6, and the
    one-bar VaR/ES are the Student-t closed forms at that nu; with dist='normal' EWMA stays normal (RiskMetrics)."""
    r = simulate_ewma_t(20_000, 4.0, seed=3)
    s = pd.Series(r, index=pd.date_range("2020-01-01", periods=r.size, freq="h", tz="UTC", name="ts"))
    est = fit_returns(s, "1h", FitSpec(model="ewma", horizon_hours=1))
    assert est.model is ModelName.EWMA and est.fallback is None and est.engine == "ewma"
    assert est.dist is DistName.T and est.nu == est.params["nu"] == pytest.approx(4.0, abs=0.6)
    tv, te = student_t_var_es(est.next_vol, 0.99, est.params["nu"])
    assert est.fitted_risk.lower.var_log == pytest.approx(tv, rel=1e-9)
    assert est.fitted_risk.upper.es_log == pytest.approx(te, rel=1e-9)
    normal = fit_returns(s, "1h", FitSpec(model="ewma", dist="normal", horizon_hours=1))
    assert normal.dist is DistName.NORMAL and normal.nu is None and normal.params == {"lambda": 0.94}
    assert normal.next_vol == est.next_vol
    nv, ne = normal_var_es(normal.next_vol, 0.99)
    assert normal.fitted_risk.lower.var_log == pytest.approx(nv, rel=1e-9)
    assert normal.fitted_risk.lower.es_log == pytest.approx(ne, rel=1e-9)
    assert est.fitted_risk.lower.es_log > normal.fitted_risk.lower.es_log  # the t(4) tail is fatter
    assert "nu" in est.term.law and est.term.law.startswith("ewma-t")


@pytest.fixture(scope="module")
def hourly_returns() -> pd.Series:
    """20,000 hourly GARCH(1,1) returns (fractions)."""
    y = simulate_garch(20_000, 0.05, 0.08, 0.90, seed=31) / 100
    return pd.Series(y, index=pd.date_range("2020-01-01", periods=y.size, freq="h", tz="UTC", name="ts"))


@pytest.fixture(scope="module")
def hourly_term_fit(hourly_returns: pd.Series) -> VolEstimate:
    """GARCH-t fit of ``hourly_returns`` with a 24h horizon (term up to 24 bars)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        return fit_returns(hourly_returns, "1h", FitSpec(model="garch", dist="t", horizon_hours=24, n_sims=2000))


def test_term_tail_measures_are_monotone_in_horizon_and_confidence(hourly_term_fit: VolEstimate) -> None:
    """For every method, tail and measure, VaR/ES never fall as the horizon grows (below a bar, between stored
    bars and at them) or as the confidence rises. (1e-12 relative slack for floating-point rounding.)"""
    term = hourly_term_fit.term
    assert term is not None and term.bars[-1] == hourly_term_fit.horizon_bars == 24 and term.max_hours == 24.0
    assert set(term.methods) == {"fitted", "fhs", "empirical"}
    hours = np.concatenate([np.linspace(0.05, 1.0, 8), np.linspace(1.0, 24.0, 93)[1:]])
    confidences = (0.9, 0.95, 0.975, 0.99, 0.995, 0.999)
    for method in term.methods:
        for tail in ("lower", "upper"):
            for measure in ("var", "es"):
                for q in (0.95, 0.99, 0.999):
                    v = np.array([term.tail_measure(method, h, q, measure, tail) for h in hours])
                    assert np.all(v > 0)
                    assert np.all(np.diff(v) >= -1e-12 * v[1:]), (method, tail, measure, q)
                for h in (0.5, 1.0, 5.0, 7.0, 24.0):
                    c = np.array([term.tail_measure(method, h, q, measure, tail) for q in confidences])
                    assert np.all(np.diff(c) >= -1e-12 * c[1:]), (method, tail, measure, h)
            for h in (0.5, 3.0, 24.0):
                for q in confidences:
                    assert term.tail_measure(method, h, q, "es", tail) >= term.tail_measure(method, h, q, "var", tail)
    with pytest.raises(ValueError, match="beyond the term structure"):
        term.tail_measure("fitted", 25.0, 0.99, "es", "lower")


def test_empirical_term_is_the_es_of_overlapping_sums(hourly_term_fit: VolEstimate, hourly_returns: pd.Series) -> None:
    """The empirical method at k bars is historical simulation: the ES of the overlapping k-bar sums of the
    returns. Checked against numpy: mean of the worst floor(n (1 - q)) sums. 2% relative because the term
    stores a quantile grid (linear between levels, power tail beyond 1 - 1/n) and a sample ES gives the most
    extreme sum a full 1/m weight."""
    term = hourly_term_fit.term
    assert term is not None
    y = hourly_returns.to_numpy()
    assert y.size == hourly_term_fit.n_obs
    for k in term.bars:
        sums = np.convolve(y, np.ones(k), mode="valid")
        assert sums.size == y.size - k + 1
        srt = np.sort(sums)
        for q in (0.95, 0.975, 0.99):
            m = math.floor(sums.size * (1 - q))
            lower, upper = -float(np.mean(srt[:m])), float(np.mean(srt[-m:]))
            assert term.tail_measure("empirical", k, q, "es", "lower") == pytest.approx(lower, rel=0.02), (k, q)
            assert term.tail_measure("empirical", k, q, "es", "upper") == pytest.approx(upper, rel=0.02), (k, q)


# ---------------------------------------------------------------------------------------------
# speed without a change of numbers: closed forms, frozen laws, vectorised JSON, one compiled fit per model
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nu", [2.05, 2.5, 3.24, 5.0, 30.0, 499.0])
def test_abs_mean_closed_form_equals_the_quadrature_of_arch_t(nu: float) -> None:
    """EGARCH's E|z| of arch's standardized Student-t: the closed form now used equals the quadrature of arch's
    quantile function that it replaces (1e-8 relative; the quadrature itself is accurate to ~1e-10)."""
    from arch.univariate import Normal, StudentsT

    quad = volatility._quad_abs_mean(StudentsT(), np.array([nu]))
    assert volatility._abs_mean(StudentsT(), np.array([nu]), DistName.T) == pytest.approx(quad, rel=1e-8)
    normal = volatility._quad_abs_mean(Normal(), np.empty(0))
    assert volatility._abs_mean(Normal(), np.empty(0), DistName.NORMAL) == pytest.approx(normal, rel=1e-8)


@pytest.mark.parametrize("nu", [2.05, 3.24, 8.0])
def test_simulation_draws_are_arch_students_t_bit_for_bit(nu: float) -> None:
    """The innovations fed to arch's simulation forecast come from one frozen scipy t instead of arch's
    ``StudentsT.ppf`` (which freezes a new one per call): the same numbers exactly."""
    from arch.univariate import StudentsT

    dist = StudentsT()
    fit = volatility._Fit(model=ModelName.GARCH, dist=DistName.T, mean=volatility.MeanName.ZERO, params={},
                          loglik=0.0, aic=0.0, bic=0.0, converged=True, cond_vol=np.ones(1), std_resid=np.ones(1),
                          sigma2_next=1.0, persistence=0.9, mu=0.0, dist_obj=dist, dist_params=np.array([nu]))
    draw = volatility._rng_callable(fit, 7)
    gen = np.random.default_rng(7)
    for size in [(500, 1), (3, 4), (1000,)]:
        got = draw(size)
        u = gen.random(size)
        want = np.asarray(dist.ppf(u.ravel(), np.array([nu])), dtype=float).reshape(u.shape)
        assert np.array_equal(got, want)


@pytest.mark.parametrize("index", [
    pd.date_range("2020-01-01", periods=5000, freq="h", tz="UTC", name="ts"),
    pd.date_range("2020-01-01", periods=50, freq="D", tz="UTC").as_unit("us"),
    pd.date_range("1969-12-31 23:59:58", periods=5, freq="1s", tz="UTC"),
    pd.date_range("2020-01-01", periods=5, freq="1500ms", tz="UTC"),
    pd.DatetimeIndex(["2020-01-01", None], tz="UTC"),
    pd.date_range("2020-01-01", periods=5, freq="h", tz="Europe/Paris"),
    pd.date_range("2020-01-01", periods=5, freq="h"),
    pd.DatetimeIndex([], tz="UTC"),
], ids=["hourly-ns", "daily-us", "pre-1970", "sub-second", "NaT", "other-zone", "naive", "empty"])
def test_vectorised_json_of_the_conditional_volatility_is_the_same_text(index: pd.DatetimeIndex) -> None:
    """The stored estimate's conditional volatility is serialised without a Python loop where that gives the same
    strings as ``Timestamp.isoformat`` (UTC, whole seconds) and loops otherwise; values likewise."""
    assert volatility._iso_index(index) == [t.isoformat() for t in index]
    values = np.linspace(0.001, 0.002, len(index))
    assert volatility._json_floats(values) == [volatility._jf(x) for x in values]
    if len(index):
        values[0] = np.nan
        assert volatility._json_floats(values) == [volatility._jf(x) for x in values]


def test_one_compiled_fit_per_model_and_returns_is_reused_across_horizons(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fits of the same model to the same returns for other horizons (the panel's, then the sensitivity grid's
    ``auto`` candidates) reuse the compiled estimate; the results equal a fit from an empty memo."""
    from riskparams import fastgarch

    calls: list[tuple[str, int]] = []
    real = fastgarch.fit_garch

    def counting(y: Any, **kw: Any) -> Any:
        calls.append((str(kw["model"]), len(y)))
        return real(y, **kw)

    r = _daily(simulate_garch(1500, 0.05, 0.08, 0.90, nu=6.0, seed=123) / 100)
    monkeypatch.setattr(fastgarch, "fit_garch", counting)
    monkeypatch.setattr(volatility, "_FAST_FITS", OrderedDict())
    a = quiet_daily_fit(r, FitSpec(model="garch", horizon_hours=24, n_sims=500))
    b = quiet_daily_fit(r, FitSpec(model="garch", horizon_hours=72, n_sims=1000, confidence=0.995))
    c = quiet_daily_fit(r, FitSpec(model="auto", horizon_hours=72, n_sims=1000))  # garch reused; gjr fitted
    assert calls == [("garch", 1500), ("gjr", 1500)]
    assert a.params == b.params and a.engine == b.engine == "fast"
    assert c.candidates["garch"] == pytest.approx(a.bic, rel=1e-12)
    monkeypatch.setattr(volatility, "_FAST_FITS", OrderedDict())
    fresh = quiet_daily_fit(r, FitSpec(model="garch", horizon_hours=72, n_sims=1000, confidence=0.995))
    assert fresh.to_dict() == b.to_dict()
    assert len(calls) == 3


def quiet_daily_fit(r: pd.Series, spec: FitSpec) -> VolEstimate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_returns(r, "1d", spec)


@pytest.mark.parametrize("dist", ["t", "normal"])
def test_compare_models_compiled_engine_equals_arch(garch_frame: pd.DataFrame, dist: str) -> None:
    """Model comparison with the compiled engine (the default) scores what arch's optimiser scores: QLIKE within
    1e-5 and MSE within 1e-4 relative (the parameters agree to arch's optimiser tolerance; with t innovations on
    these normal returns nu is large and barely identified, so arch stops where the MSE still moves by ~2e-5)."""
    fast = compare_models(garch_frame, "1d", holdout=250, dist=dist).set_index("model").sort_index()
    slow = compare_models(garch_frame, "1d", holdout=250, dist=dist, engine="arch").set_index("model").sort_index()
    assert list(fast.index) == list(slow.index) == ["egarch", "ewma", "garch", "gjr"]
    assert (fast["status"] == "ok").all() and (slow["status"] == "ok").all()
    np.testing.assert_allclose(fast["qlike"].to_numpy(), slow["qlike"].to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(fast["mse"].to_numpy(), slow["mse"].to_numpy(), rtol=1e-4)

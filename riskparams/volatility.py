"""Volatility: realized estimators, GARCH-family fits and forecasts, fallbacks.

This is the only module that imports :mod:`arch`.

Units
-----
Inputs and outputs are plain fractions (0.03 = 3 %) and volatilities are **per bar** of the
series unless a name says *annualised* (24/7 markets: 365 days, 8,760 hours a year).
Internally, returns are scaled to percent for the optimizer (``arch`` works best with
variances of order 1-1000); reported model parameters (``VolEstimate.params``) keep arch's
names and convention **for percent returns** (``omega`` in percent squared).

Realized estimators (rolling windows of ``n`` bars)
---------------------------------------------------
* close-to-close: sample standard deviation of log returns;
* EWMA (RiskMetrics 1996): ``s2_t = lam * s2_{t-1} + (1 - lam) * r_t**2``;
* Parkinson (1980): ``sigma**2 = mean(ln(H/L)**2) / (4 ln 2)``;
* Garman & Klass (1980): ``mean(0.5 ln(H/L)**2 - (2 ln 2 - 1) ln(C/O)**2)``;
* Rogers & Satchell (1991): ``mean(ln(H/C) ln(H/O) + ln(L/C) ln(L/O))``;
* Yang & Zhang (2000): ``s2_open + k s2_close + (1 - k) s2_RS``,
  ``k = 0.34 / (1.34 + (n + 1) / (n - 1))``.

Conditional models (through arch)
---------------------------------
GARCH(1,1), GJR-GARCH(1,1,1) and EGARCH(1,1,1) (Nelson's, with the asymmetry term), with
normal, Student-t or Hansen's skewed-t innovations and a constant or zero mean.
``model="auto"`` fits every candidate and keeps the lowest BIC. Guards, each of which falls
back to EWMA with the reason recorded in :attr:`VolEstimate.fallback` and a
:class:`~riskparams.exceptions.FallbackWarning`:

* constant series (all returns equal);
* short history (fewer returns than ``FitSpec.min_history``, default 500);
* the optimizer failed or did not converge (``convergence_flag != 0``);
* persistence ``>= FitSpec.max_persistence`` (default 1: no mean reversion);
* an explosive fit: a one-step variance forecast above 1e6 times the variance of the returns;
* non-finite parameters, likelihood, conditional variances or forecasts.

Benchmark mode
--------------
arch starts the variance recursion from an EWMA backcast of the first 75 squared residuals.
Textbook benchmarks (Fiorentini, Calzolari & Panattoni 1996; McCullough & Renfro 1999;
Brooks, Burke & Persand 2001) start it from the sample mean of the squared residuals,
``sigma2_0 = e_0**2 = mean((y - mu)**2)``, which moves with ``mu``. With
``FitSpec(benchmark_mode=True)`` the fit uses that backcast: for a zero mean it is passed to
arch directly; for a constant mean, ``mu`` is profiled out (a bounded scalar search over
``mu``, each step an arch fit of ``y - mu`` with zero mean and backcast ``mean((y - mu)**2)``),
which maximises exactly the benchmark likelihood. This reproduces the published GARCH(1,1)
estimates on the Bollerslev-Ghysels DEM/GBP returns (see ``tests/test_volatility.py``).

Horizon risk
------------
The horizon is given in hours and converted to ``h`` bars (rounded up). The h-period log
return's variance is the sum of the 1..h-step variance forecasts (closed form for GARCH/GJR,
see :func:`riskparams.measures.garch_horizon_variance`; for EGARCH the geometric forecast
from the log-variance recursion, because with Student-t innovations its expected future
variance is infinite, which is also why ``model="auto"`` leaves EGARCH out for fat tails and
horizons over one bar; ``h * s2`` for EWMA). VaR and ES of both tails come from (a) the fitted distribution:
analytic for ``h = 1``, Monte-Carlo through arch's simulation forecast with a fixed seed for
``h > 1`` (EWMA: normal with the summed variance) and (b) filtered historical simulation:
standardized residuals bootstrapped with a fixed seed and fed through the fitted variance
recursion over the horizon (arch's bootstrap forecast; EWMA: the same with the EWMA
recursion). Beside the single VaR/ES level, :attr:`VolEstimate.horizon_quantiles` keeps the whole
h-period distribution from the same source as a quantile grid (levels 1e-4 .. 1 - 1e-4; the
analytic quantile function for one bar, the sample quantiles of the same simulated paths for
more), with a CDF by interpolation and power-law tails beyond the grid
(:class:`HorizonQuantiles`): the proposal engine uses it for the coverage of a margin level.

Speed without other numbers
---------------------------
* GARCH, GJR and EGARCH with normal or t innovations are estimated by the compiled engine
  (``FitSpec(engine='fast')``, the default, and :func:`compare_models`): arch's likelihood, constraints and
  starting values, so arch's optimum (log-likelihood never worse than arch's by more than ~1e-6 relative on
  the Binance BTC daily and hourly series, parameters within ~1e-5), about 20x faster than arch's SLSQP;
  residuals, forecasts and simulations stay arch's (``arch_model(...).fix``).
* One compiled estimate per (returns, model, innovation law, mean) in a process (a small memo,
  ``FAST_FIT_MEMO``): a second spec of the same model on the same returns (another horizon, confidence or
  number of paths: the dashboard's panel, then the sensitivity grid's candidates) reuses it.
* EGARCH's ``E|z|`` is the closed form of :func:`standardized_abs_mean` for the normal and t (the
  quadrature of arch's quantile function, which it equals to ~1e-10, took ~0.6 s per call); the skewed t
  keeps the quadrature.
* Student-t innovations for arch's simulation forecast come from one frozen scipy distribution (the same
  draws bit for bit as arch's ``StudentsT.ppf``, which freezes one per horizon step).
* The stored estimate's conditional volatility is serialised without a per-bar Python loop (the same JSON).
"""

from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskparams._blas import one_blas_thread
from riskparams._lazy import LazyModule
from riskparams.diagnostics import ResidualDiagnostics, residual_diagnostics
from riskparams.domain import DistName, MeanName, ModelName, parse_choice
from riskparams.exceptions import FallbackWarning, FitError, HistoryError, SpecError
from riskparams.jsonio import canonical_json, clean_float, sha256_hex
from riskparams.measures import (
    HorizonRisk,
    Tail,
    TailRisk,
    garch_horizon_variance,
    mse_loss,
    parametric_risk,
    ppf_var_es,
    qlike_loss,
    tail_risk_from_samples,
    unit_ppf,
)
from riskparams.returns import (
    Freq,
    bars_per_year,
    horizon_to_bars,
    hours_per_bar,
    prices_as_of,
    returns_with_report,
    validate_prices,
)
from riskparams.term import (
    HorizonQuantiles,
    RiskTerm,
    TermMethod,
    empirical_grids,
    quantile_levels,
    term_bars,
)

integrate: Any = LazyModule("scipy.integrate")
optimize: Any = LazyModule("scipy.optimize")

if TYPE_CHECKING:
    from arch.univariate.distribution import Distribution


__all__ = [
    "DistName",
    "EwmaFilter",
    "FitEngine",
    "FitSpec",
    "HorizonQuantiles",
    "MeanName",
    "ModelName",
    "RealizedMethod",
    "RiskMethod",
    "VolEstimate",
    "close_to_close_vol",
    "compare_models",
    "egarch_long_run_vol",
    "ewma_filter",
    "ewma_variance",
    "ewma_vol",
    "fit_cache_key",
    "fit_returns",
    "fit_t_nu",
    "fit_volatility",
    "garman_klass_vol",
    "horizon_variance_sums",
    "integrated_allowed",
    "parkinson_variance",
    "parkinson_vol",
    "persistence",
    "persistence_limit",
    "quantile_levels",
    "realized_vol",
    "rogers_satchell_vol",
    "sample_vol",
    "standardized_abs_mean",
    "stress_window_bars",
    "stressed_vol",
    "unconditional_vol",
    "yang_zhang_vol",
]

FloatArray = npt.NDArray[np.float64]

# Options passed to scipy's SLSQP through arch. Tests monkeypatch this to force non-convergence.
_OPTIMIZER_OPTIONS: dict[str, Any] = {"maxiter": 1000}


# ---------------------------------------------------------------------------------------------
# choices and the fit specification
# ---------------------------------------------------------------------------------------------








class RiskMethod(StrEnum):
    """Which horizon risk supplies ``VolEstimate.var``/``es``: the fitted distribution,
    filtered historical simulation, or the larger of the two."""

    FITTED = "fitted"
    FHS = "fhs"
    MAX = "max"


class FitEngine(StrEnum):
    """Who estimates GARCH-family parameters: the compiled engine (arch's likelihood) or arch itself."""

    FAST = "fast"
    ARCH = "arch"


class RealizedMethod(StrEnum):
    """Realized (rolling-window) volatility estimators."""

    CLOSE_TO_CLOSE = "close_to_close"
    EWMA = "ewma"
    PARKINSON = "parkinson"
    GARMAN_KLASS = "garman_klass"
    ROGERS_SATCHELL = "rogers_satchell"
    YANG_ZHANG = "yang_zhang"


GARCH_FAMILY: tuple[ModelName, ...] = (ModelName.GARCH, ModelName.GJR, ModelName.EGARCH)

MAX_SIMS = 1_000_000
"""Largest ``FitSpec.n_sims``."""
MAX_HORIZON_HOURS = 8760
"""Largest ``FitSpec.horizon_hours``: one year. A margin period of risk is hours or days; beyond a year a
volatility forecast says nothing and the simulated paths only cost memory."""
MAX_SIM_CELLS = 40_000_000
"""Largest ``n_sims x horizon bars`` a fit simulates (about 320 MB of float64 per path set)."""


_choice = parse_choice  # the one parser of choices (riskparams.domain): SpecError naming the field


def _is_int(x: object) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


@dataclass(frozen=True, slots=True, kw_only=True)
class FitSpec:
    """What to fit and how to turn it into horizon risk. Frozen and validated.

    Parameters
    ----------
    model : {'auto', 'garch', 'gjr', 'egarch', 'ewma'}, default 'auto'
        Volatility model; ``auto`` fits ``candidates`` and keeps the lowest BIC.
    dist : {'normal', 't', 'skewt'}, default 't'
        Innovation distribution of the GARCH-family models (EWMA uses the normal for its
        fitted-distribution tails; its FHS tails come from its own residuals).
    mean : {'constant', 'zero'}, default 'zero'
        Mean model. Zero is the default: a drift estimated from a rising sample would
        shrink the lower-tail margin.
    candidates : tuple of {'garch', 'gjr', 'egarch'}, default all three
        Models tried by ``model='auto'``.
    min_history : int, default 500
        Minimum number of returns for a GARCH-family fit; fewer falls back to EWMA.
    ewma_lambda : float, default 0.94
        EWMA decay, in (0, 1).
    horizon_hours : float, default 24.0
        Risk horizon (margin period of risk) in hours, in (0, 8760] (:data:`MAX_HORIZON_HOURS`).
    confidence : float, default 0.99
        VaR/ES confidence ``q``, in (0.5, 1).
    risk_method : {'fitted', 'fhs', 'max'}, default 'fitted'
        Source of the headline ``var``/``es`` (both are always computed).
    n_sims : int, default 10000
        Monte-Carlo / bootstrap paths, >= 100.
    seed : int, default 20240501
        Seed of every random draw (results are reproducible), >= 0.
    benchmark_mode : bool, default False
        Start the variance recursion from the sample mean of squared residuals as textbook
        benchmarks do, instead of arch's EWMA backcast (see the module docstring).
    stress_window : int, optional
        Window (bars) of the stressed volatility; default: 250 days of bars (250 for daily).
    diagnostic_lags : int, default 10
        Lags of the Ljung-Box and ARCH-LM tests, >= 1.
    max_persistence : float, default 1.0
        A fit whose persistence is >= this falls back to EWMA; in (0, 1].
    max_half_life_days : float, default 365.0
        A fit whose volatility shocks take longer than this to halve (persistence
        ``>= 0.5 ** (1 / bars in max_half_life_days)``: 0.9981 for daily bars, 0.99992 for hourly)
        is treated as having no mean reversion and falls back to EWMA too; > 0. Without this, a
        persistence of 0.9999999 passes and gives absurd long-run volatilities.
    allow_gaps : bool, default False
        Keep returns that span gaps in the price index (see :mod:`riskparams.returns`).
    integrated_max_hours : float, default 168.0
        A GARCH-family fit at the persistence guard but not explosive (persistence in
        [guard, 1]: the alpha + beta = 1 boundary, typical of hourly crypto returns) is **kept as an
        integrated model** when ``horizon_hours`` is at most this: over a few days the lack of mean
        reversion barely matters and the fitted fat tail is kept (its long-run volatility is then
        undefined, ``inf``). Beyond, or with 0, such a fit is rejected as before. In [0, 8760].
    engine : {'fast', 'arch'}, default 'fast'
        ``fast``: GARCH-family fits with normal or t innovations are estimated by the compiled
        engine (:func:`riskparams.fastgarch.fit_garch`, arch's exact likelihood and constraints, so
        arch's optimum) and handed to arch (``arch_model(...).fix``) for residuals and forecasts;
        a failed compiled fit, skewed-t innovations and benchmark mode use arch's own optimiser.
        ``arch``: always arch's optimiser.

    Examples
    --------
    >>> import riskparams
    >>> spec = riskparams.FitSpec(model="gjr", horizon_hours=48, confidence=0.995)
    >>> str(spec.model), spec.horizon_hours, spec.key() == riskparams.FitSpec().key()
    ('gjr', 48, False)
    >>> riskparams.FitSpec(model="arima")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.SpecError: model must be one of 'auto', 'garch', 'gjr', 'egarch', 'ewma', got 'arima'
    """

    model: ModelName = ModelName.AUTO
    dist: DistName = DistName.T
    mean: MeanName = MeanName.ZERO
    candidates: tuple[ModelName, ...] = GARCH_FAMILY
    min_history: int = 500
    ewma_lambda: float = 0.94
    horizon_hours: float = 24.0
    confidence: float = 0.99
    risk_method: RiskMethod = RiskMethod.FITTED
    n_sims: int = 10_000
    seed: int = 20240501
    benchmark_mode: bool = False
    stress_window: int | None = None
    diagnostic_lags: int = 10
    max_persistence: float = 1.0
    max_half_life_days: float = 365.0
    allow_gaps: bool = False
    integrated_max_hours: float = 168.0
    engine: FitEngine = FitEngine.FAST

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", _choice(ModelName, "model", self.model))
        object.__setattr__(self, "dist", _choice(DistName, "dist", self.dist))
        object.__setattr__(self, "mean", _choice(MeanName, "mean", self.mean))
        object.__setattr__(self, "risk_method", _choice(RiskMethod, "risk_method", self.risk_method))
        cands = self.candidates
        if isinstance(cands, str) or not isinstance(cands, Sequence) or len(cands) == 0:
            raise SpecError(
                f"candidates must be a non-empty sequence of 'garch', 'gjr', 'egarch', got {cands!r}"
            )
        parsed = []
        for c in cands:
            m = _choice(ModelName, "candidates", c)
            if m not in GARCH_FAMILY:
                raise SpecError(f"candidates must contain only 'garch', 'gjr', 'egarch', got {c!r}")
            if m not in parsed:
                parsed.append(m)
        object.__setattr__(self, "candidates", tuple(parsed))
        if not (_is_int(self.min_history) and self.min_history >= 10):
            raise SpecError(f"min_history must be an integer >= 10, got {self.min_history!r}")
        if not (isinstance(self.ewma_lambda, int | float) and 0.0 < self.ewma_lambda < 1.0):
            raise SpecError(f"ewma_lambda must be in (0, 1), got {self.ewma_lambda!r}")
        hh = self.horizon_hours
        if not (isinstance(hh, int | float) and not isinstance(hh, bool) and math.isfinite(hh)
                and 0 < hh <= MAX_HORIZON_HOURS):
            raise SpecError(f"horizon_hours must be a number in (0, {MAX_HORIZON_HOURS}] (at most a year), got {hh!r}")
        if not (isinstance(self.confidence, int | float) and 0.5 < self.confidence < 1.0):
            raise SpecError(f"confidence must be in (0.5, 1), got {self.confidence!r}")
        if not (_is_int(self.n_sims) and 100 <= self.n_sims <= MAX_SIMS):
            raise SpecError(f"n_sims must be an integer in [100, {MAX_SIMS}], got {self.n_sims!r}")
        if not (_is_int(self.seed) and self.seed >= 0):
            raise SpecError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.benchmark_mode, bool):
            raise SpecError(f"benchmark_mode must be True or False, got {self.benchmark_mode!r}")
        if self.stress_window is not None and not (_is_int(self.stress_window) and self.stress_window >= 2):
            raise SpecError(f"stress_window must be None or an integer >= 2, got {self.stress_window!r}")
        if not (_is_int(self.diagnostic_lags) and self.diagnostic_lags >= 1):
            raise SpecError(f"diagnostic_lags must be an integer >= 1, got {self.diagnostic_lags!r}")
        mp = self.max_persistence
        if not (isinstance(mp, int | float) and 0.0 < mp <= 1.0):
            raise SpecError(f"max_persistence must be in (0, 1], got {mp!r}")
        hl = self.max_half_life_days
        if not (isinstance(hl, int | float) and not isinstance(hl, bool) and math.isfinite(hl) and hl > 0):
            raise SpecError(f"max_half_life_days must be a finite number > 0, got {hl!r}")
        if not isinstance(self.allow_gaps, bool):
            raise SpecError(f"allow_gaps must be True or False, got {self.allow_gaps!r}")
        ih = self.integrated_max_hours
        if not (isinstance(ih, int | float) and not isinstance(ih, bool) and math.isfinite(ih) and 0 <= ih <= 8760):
            raise SpecError(f"integrated_max_hours must be a number in [0, 8760], got {ih!r}")
        object.__setattr__(self, "engine", _choice(FitEngine, "engine", self.engine))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the fields (enums as their string values, real-valued
        fields as floats so that ``24`` and ``24.0`` give the same key)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, StrEnum):
                v = v.value
            elif isinstance(v, tuple):
                v = [x.value for x in v]
            elif f.name in _FLOAT_FIELDS:
                v = float(v)
            elif _is_int(v):
                v = int(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitSpec:
        """Inverse of :meth:`to_dict`."""
        kw = dict(d)
        if "candidates" in kw:
            kw["candidates"] = tuple(kw["candidates"])
        return cls(**kw)

    def key(self) -> str:
        """Stable identifier of the specification: ``"fitspec-v1-"`` + SHA-256 of its
        canonical JSON. Equal specs (however their values were spelled) give equal keys."""
        return "fitspec-v1-" + sha256_hex(canonical_json(self.to_dict(), ascii_only=True))


_FLOAT_FIELDS = frozenset(
    {"ewma_lambda", "horizon_hours", "confidence", "max_persistence", "max_half_life_days", "integrated_max_hours"}
)


def persistence_limit(spec: FitSpec, freq: str) -> float:
    """The persistence at or above which a fit falls back to EWMA for bars of ``freq``:
    ``min(max_persistence, 0.5 ** (1 / (max_half_life_days * bars per day)))``."""
    bars_per_day = 24.0 / hours_per_bar(freq)
    return min(float(spec.max_persistence), 0.5 ** (1.0 / (float(spec.max_half_life_days) * bars_per_day)))


def integrated_allowed(spec: FitSpec, horizon_hours: float | None = None) -> bool:
    """Whether a fit at the persistence guard (persistence in [guard, 1]) may be kept as an **integrated**
    model for a horizon of ``horizon_hours`` (default ``spec.horizon_hours``): ``0 < integrated_max_hours``
    and the horizon at most that."""
    hours = spec.horizon_hours if horizon_hours is None else horizon_hours
    return 0 < spec.integrated_max_hours and hours <= spec.integrated_max_hours


def stress_window_bars(spec: FitSpec, freq: str) -> int:
    """Window (bars) of the stressed volatility: ``spec.stress_window``, else 250 days of ``freq`` bars."""
    return int(spec.stress_window) if spec.stress_window is not None else 250 * 24 // hours_per_bar(freq)


def fit_cache_key(series: str, fingerprint: str, spec: FitSpec, as_of: object = None) -> str:
    """Cache key of a fit: SHA-256 over (series id, data fingerprint, spec key, as-of).

    ``as_of`` is normalised to an ISO 8601 UTC timestamp (``None`` stays ``None``), so a
    ``datetime``, ``Timestamp`` or string for the same instant give the same key.
    """
    ts: str | None = None
    if as_of is not None:
        t = pd.Timestamp(as_of)  # type: ignore[arg-type]
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        ts = t.isoformat()
    return sha256_hex(canonical_json([series, fingerprint, spec.key(), ts], ascii_only=True))


# ---------------------------------------------------------------------------------------------
# realized estimators
# ---------------------------------------------------------------------------------------------


def _check_window(window: int, name: str = "window") -> int:
    if not (_is_int(window) and window >= 2):
        raise ValueError(f"{name} must be an integer >= 2, got {window!r}")
    return int(window)


def close_to_close_vol(returns: pd.Series, window: int, *, demean: bool = True) -> pd.Series:
    """Rolling close-to-close volatility per bar.

    Parameters
    ----------
    returns : pandas.Series
        Log returns (fractions), shape (n,).
    window : int
        Window length in bars, >= 2.
    demean : bool, default True
        Sample standard deviation (``ddof=1``) if True; root mean square (zero mean) if False.

    Returns
    -------
    pandas.Series
        Per-bar volatility, same index; NaN for the first ``window - 1`` bars.
    """
    n = _check_window(window)
    r = returns.astype(float)
    if demean:
        return r.rolling(n, min_periods=n).std(ddof=1).rename("vol")
    return np.sqrt((r**2).rolling(n, min_periods=n).mean()).rename("vol")


def ewma_variance(returns: npt.ArrayLike, lam: float = 0.94, *, init_window: int = 30) -> FloatArray:
    """EWMA (RiskMetrics) variance filtered through each bar.

    ``s2[t] = lam * s2[t-1] + (1 - lam) * r[t]**2`` with ``s2[-1]`` the mean of the squares of
    the first ``min(n, init_window)`` returns. ``s2[t]`` uses returns up to and including ``t``
    and is the one-step forecast for ``t + 1``.

    Parameters
    ----------
    returns : array_like, shape (n,)
        (Demeaned) log returns, fractions.
    lam : float, default 0.94
        Decay in (0, 1).
    init_window : int, default 30
        Number of leading returns whose mean square starts the recursion.

    Returns
    -------
    ndarray, shape (n,)
        Variances (fractions squared).
    """
    if not 0.0 < lam < 1.0:
        raise ValueError(f"lam must be in (0, 1), got {lam!r}")
    r = np.asarray(returns, dtype=float).ravel()
    out = np.empty_like(r)
    if r.size == 0:
        return out
    prev = float(np.mean(r[: max(1, min(r.size, int(init_window)))] ** 2))
    for t in range(r.size):
        prev = lam * prev + (1.0 - lam) * r[t] * r[t]
        out[t] = prev
    return out


def ewma_vol(returns: pd.Series, lam: float = 0.94, *, init_window: int = 30) -> pd.Series:
    """EWMA volatility per bar through each bar (see :func:`ewma_variance`)."""
    return pd.Series(
        np.sqrt(ewma_variance(returns.to_numpy(dtype=float), lam, init_window=init_window)),
        index=returns.index,
        name="vol",
    )


@dataclass(frozen=True, slots=True, eq=False)
class EwmaFilter:
    """The EWMA model filtered through a sample (:func:`ewma_filter`), in the units of its returns.

    Attributes
    ----------
    mu : float
        Mean (the sample mean for a constant mean, else 0).
    e : ndarray, shape (n,)
        Demeaned returns.
    cond_var : ndarray, shape (n,)
        ``sigma2_{t|t-1}``: the one-step forecast of each bar's variance (the first: the mean square of the
        first ``min(n, 30)`` residuals).
    cond_vol : ndarray, shape (n,)
        Its square root.
    z : ndarray, shape (n,)
        Standardized residuals ``e / cond_vol`` (0 where ``cond_vol`` is 0).
    sigma2_next : float
        The one-step forecast after the last bar.
    """

    mu: float
    e: FloatArray
    cond_var: FloatArray
    cond_vol: FloatArray
    z: FloatArray
    sigma2_next: float


def ewma_filter(returns: npt.ArrayLike, lam: float, mean: MeanName) -> EwmaFilter:
    """Filter the EWMA (RiskMetrics) model with decay ``lam`` through ``returns`` (any units: fractions or
    percent), with a zero or constant (sample) mean. The one EWMA of the volatility layer: arch-path fits and
    the compiled walk-forward's estimates both use it.

    Parameters
    ----------
    returns : array_like, shape (n,), n >= 1
        Log returns.
    lam : float
        Decay in (0, 1).
    mean : MeanName

    Returns
    -------
    EwmaFilter
    """
    y = np.asarray(returns, dtype=float)
    mu = float(np.mean(y)) if mean is MeanName.CONSTANT else 0.0
    e = y - mu
    filt = ewma_variance(e, lam)
    init = float(np.mean(e[: max(1, min(e.size, 30))] ** 2))
    cond_var = np.concatenate([[init], filt[:-1]])  # sigma2_{t|t-1}
    cond_vol = np.sqrt(cond_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(cond_vol > 0, e / np.where(cond_vol > 0, cond_vol, 1.0), 0.0)
    return EwmaFilter(mu=mu, e=e, cond_var=cond_var, cond_vol=cond_vol, z=z, sigma2_next=float(filt[-1]))


def _ohlc_logs(prices: pd.DataFrame) -> dict[str, pd.Series]:
    """Log ratios of each bar's OHLC (validated: positive, high >= low)."""
    o, h, low, c = (prices[k].astype(float) for k in ("open", "high", "low", "close"))
    bad = ~((o > 0) & (h > 0) & (low > 0) & (c > 0) & (h >= low))
    if bool(bad.any()):
        ts = prices.index[np.flatnonzero(bad.to_numpy())[0]]
        raise ValueError(f"prices must have positive OHLC with high >= low; bar {ts} does not")
    pairs = {"hl": (h, low), "co": (c, o), "hc": (h, c), "ho": (h, o), "lc": (low, c), "lo": (low, o)}
    return {
        k: pd.Series(np.log(a.to_numpy() / b.to_numpy()), index=prices.index) for k, (a, b) in pairs.items()
    }


def parkinson_variance(prices: pd.DataFrame) -> pd.Series:
    """Parkinson (1980) variance of each bar: ``ln(H/L)**2 / (4 ln 2)`` (fractions squared)."""
    lg = _ohlc_logs(prices)
    return (lg["hl"] ** 2 / (4.0 * math.log(2.0))).rename("variance")


def parkinson_vol(prices: pd.DataFrame, window: int) -> pd.Series:
    """Rolling Parkinson (1980) volatility per bar: ``sqrt(mean(ln(H/L)**2) / (4 ln 2))``."""
    n = _check_window(window)
    return np.sqrt(parkinson_variance(prices).rolling(n, min_periods=n).mean()).rename("vol")


def garman_klass_vol(prices: pd.DataFrame, window: int) -> pd.Series:
    """Rolling Garman & Klass (1980) volatility per bar.

    ``sigma**2 = mean(0.5 ln(H/L)**2 - (2 ln 2 - 1) ln(C/O)**2)`` (their estimator for a
    driftless process with no opening jump).
    """
    n = _check_window(window)
    lg = _ohlc_logs(prices)
    per_bar = 0.5 * lg["hl"] ** 2 - (2.0 * math.log(2.0) - 1.0) * lg["co"] ** 2
    return np.sqrt(per_bar.rolling(n, min_periods=n).mean()).rename("vol")


def _rs_per_bar(prices: pd.DataFrame) -> pd.Series:
    lg = _ohlc_logs(prices)
    return lg["hc"] * lg["ho"] + lg["lc"] * lg["lo"]


def rogers_satchell_vol(prices: pd.DataFrame, window: int) -> pd.Series:
    """Rolling Rogers & Satchell (1991) volatility per bar (drift-independent):
    ``sigma**2 = mean(ln(H/C) ln(H/O) + ln(L/C) ln(L/O))``."""
    n = _check_window(window)
    return np.sqrt(_rs_per_bar(prices).rolling(n, min_periods=n).mean()).rename("vol")


def yang_zhang_vol(prices: pd.DataFrame, freq: str, window: int, *, allow_gaps: bool = False) -> pd.Series:
    """Rolling Yang & Zhang (2000) volatility per bar.

    ``sigma**2 = s2_o + k s2_c + (1 - k) s2_RS`` over ``n`` bars, with ``s2_o`` the sample
    variance (``ddof=1``) of the opening jumps ``ln(O_t / C_{t-1})``, ``s2_c`` that of
    ``ln(C_t / O_t)``, ``s2_RS`` the Rogers-Satchell mean and
    ``k = 0.34 / (1.34 + (n + 1) / (n - 1))``. An opening jump across a gap in the index is
    undefined (NaN) unless ``allow_gaps``, so windows containing it are NaN.
    """
    n = _check_window(window)
    validate_prices(prices, freq)
    lg = _ohlc_logs(prices)
    prev_close = prices["close"].astype(float).shift(1)
    jump = pd.Series(np.log(prices["open"].to_numpy(dtype=float) / prev_close.to_numpy()), index=prices.index)
    if not allow_gaps:
        step = pd.Timedelta(hours=hours_per_bar(freq))
        spans = prices.index.to_series().diff()
        jump = jump.where(spans == step)
    k = 0.34 / (1.34 + (n + 1.0) / (n - 1.0))
    s2_o = jump.rolling(n, min_periods=n).var(ddof=1)
    s2_c = lg["co"].rolling(n, min_periods=n).var(ddof=1)
    s2_rs = _rs_per_bar(prices).rolling(n, min_periods=n).mean()
    return (s2_o + k * s2_c + (1.0 - k) * s2_rs).pow(0.5).rename("vol")


def realized_vol(
    prices: pd.DataFrame,
    freq: str,
    method: RealizedMethod | str = RealizedMethod.CLOSE_TO_CLOSE,
    window: int = 30,
    *,
    lam: float = 0.94,
    allow_gaps: bool = False,
) -> pd.Series:
    """Realized volatility per bar by any of the :class:`RealizedMethod` estimators.

    ``window`` is ignored by EWMA (which uses ``lam``). Close-to-close and EWMA use the log
    returns of :func:`riskparams.returns.returns_with_report` (indexed by the later bar); the
    range estimators use each bar's own OHLC.
    """
    m: RealizedMethod = _choice(RealizedMethod, "method", method)
    validate_prices(prices, freq)
    if m in (RealizedMethod.CLOSE_TO_CLOSE, RealizedMethod.EWMA):
        r = returns_with_report(prices, freq, allow_gaps=allow_gaps).returns
        if m is RealizedMethod.EWMA:
            return ewma_vol(r, lam)
        return close_to_close_vol(r, window)
    if m is RealizedMethod.PARKINSON:
        return parkinson_vol(prices, window)
    if m is RealizedMethod.GARMAN_KLASS:
        return garman_klass_vol(prices, window)
    if m is RealizedMethod.ROGERS_SATCHELL:
        return rogers_satchell_vol(prices, window)
    return yang_zhang_vol(prices, freq, window, allow_gaps=allow_gaps)


def stressed_vol(returns: pd.Series | npt.ArrayLike, window: int) -> float:
    """Worst rolling-window close-to-close volatility in the history (per bar).

    The anti-procyclicality floor: ``max_t std(r[t-window+1 .. t])``. With fewer than
    ``window`` returns, the whole-sample standard deviation is returned (NaN below 2).
    """
    n = _check_window(window)
    r = pd.Series(np.asarray(returns, dtype=float))
    if r.size < 2:
        return math.nan
    if r.size < n:
        return float(r.std(ddof=1))
    return float(close_to_close_vol(r, n).max())


def sample_vol(returns: npt.ArrayLike) -> float:
    """Sample standard deviation (``ddof=1``) of the finite returns, per bar; NaN below two. The lookback
    (long-run) volatility of the anti-procyclicality floor and the EWMA model's long-run volatility."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    return float(np.std(r, ddof=1)) if r.size > 1 else math.nan


# ---------------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------------


_jf = clean_float  # JSON-safe float: non-finite -> None (riskparams.jsonio)


def _fj(x: object) -> float:
    return math.nan if x is None else float(x)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class VolEstimate:
    """Read-only result of :func:`fit_volatility`. Volatilities per bar, fractions.

    Attributes
    ----------
    model, dist, mean : str enums
        The model actually used (``ewma`` after a fallback), its distribution and mean.
    params : Mapping[str, float]
        Parameters with arch's names and convention, for **percent** returns (``mu``,
        ``omega``, ``alpha[1]``, ``gamma[1]``, ``beta[1]``, ``nu``, ``eta``, ``lambda``);
        EWMA: ``lambda`` (and ``mu``).
    loglik, aic, bic : float
        Of the percent returns (EWMA: Gaussian quasi-likelihood, no free parameters).
    converged : bool
        The optimizer's flag was 0 (True for EWMA, which has nothing to optimise).
    fallback : str or None
        Why the requested model was replaced by EWMA, or None.
    n_obs : int
        Number of returns used.
    freq : str
        Bar frequency.
    as_of : pandas.Timestamp or None
        Time stamp of the last return used.
    last_vol : float
        In-sample conditional volatility of the last bar (known one bar before it).
    next_vol : float
        One-step-ahead forecast volatility.
    horizon_hours : float
        Requested horizon in hours.
    horizon_bars : int
        Horizon in bars (hours / hours per bar, rounded up).
    horizon_vol : float
        ``sqrt`` of the summed 1..h-step variance forecasts (fraction, over the horizon).
    var, es : float
        Headline VaR and ES as fractions of price, worse tail, from ``risk_method``.
    worse_tail : str
        ``'lower'`` or ``'upper'``: the tail that gave ``var``.
    confidence : float
        Confidence ``q`` of VaR and ES.
    risk_method : str
        ``'fitted'``, ``'fhs'`` or ``'max'``.
    fitted_risk : HorizonRisk
        Per-tail detail from the fitted distribution.
    fhs_risk : HorizonRisk or None
        Per-tail detail from filtered historical simulation.
    long_run_vol : float
        Unconditional volatility of the model (EGARCH: ``exp(E[ln sigma2] / 2)``; EWMA:
        sample standard deviation).
    stressed_vol : float
        Worst rolling-window close-to-close volatility in the history.
    stress_window : int
        Its window, in bars.
    persistence : float
        Persistence of the variance process (EWMA: 1).
    conditional_vol : pandas.Series
        Conditional volatility per bar (``sigma_{t|t-1}``), indexed by ``ts``. Treat as
        read-only.
    diagnostics : ResidualDiagnostics or None
        Residual tests and fit statistics (None if too few residuals).
    candidates : Mapping[str, float]
        BIC of every candidate that passed the guards (``auto``).
    rejected : Mapping[str, str]
        Candidates that tripped a guard, with the reason.
    notes : tuple of str
        Remarks on the data (e.g. returns dropped at gaps).
    spec_key : str
        ``FitSpec.key()`` of the specification used.
    horizon_quantiles : HorizonQuantiles or None
        Quantile grid of the h-period log return from the same source as ``var``/``es`` (levels
        1e-4 .. 1 - 1e-4; see :class:`HorizonQuantiles` for its CDF and tail extrapolation).
        None in estimates serialised before it existed.
    term : RiskTerm or None
        The distribution at every horizon up to ``horizon_bars`` bars from the fitted law, filtered
        historical simulation and plain historical simulation (:class:`riskparams.term.RiskTerm`): the
        policy reads one horizon per margin tier from it, and the model-risk band.
    nu : float or None
        Degrees of freedom of the Student-t (or skewed-t) innovation law, None for the normal.
    integrated : bool
        The fit sits at the persistence guard and was kept as an integrated model (see
        ``FitSpec.integrated_max_hours``); ``long_run_vol`` is then ``inf``.
    horizon_basis : str
        How ``var``/``es`` over ``horizon_hours`` were obtained (whole bars, or the scaling or
        interpolation used for a horizon below a bar or between bars).
    engine : str
        ``'fast'`` (parameters from the compiled engine, arch's likelihood), ``'arch'`` or ``'ewma'``.

    Notes
    -----
    Instances compare by identity (the conditional volatility is a Series); compare
    ``to_dict()`` outputs for equality of content.

    Examples
    --------
    An estimate from :func:`riskparams.fit` (through the store) or :func:`fit_volatility` (a price frame):

    >>> import json
    >>> from riskparams.ingest.demo import random_walk_ohlc
    >>> from riskparams.jsonio import canonical_json
    >>> from riskparams.volatility import FitSpec, VolEstimate, fit_volatility
    >>> bars = random_walk_ohlc(800, seed=1, vol=0.02).assign(volume=1e6)
    >>> est = fit_volatility(bars, "1d", FitSpec(model="garch", n_sims=1000))
    >>> str(est.model), str(est.dist), est.horizon_bars, est.fallback
    ('garch', 't', 1, None)
    >>> 0.01 < est.next_vol < 0.03 and 0 < est.var < est.es and est.worse_tail in ("lower", "upper")
    True
    >>> back = VolEstimate.from_dict(json.loads(canonical_json(est.to_dict())))  # what the store keeps
    >>> back.to_dict() == est.to_dict()
    True
    """

    model: ModelName
    dist: DistName
    mean: MeanName
    params: Mapping[str, float]
    loglik: float
    aic: float
    bic: float
    converged: bool
    fallback: str | None
    n_obs: int
    freq: str
    as_of: pd.Timestamp | None
    last_vol: float
    next_vol: float
    horizon_hours: float
    horizon_bars: int
    horizon_vol: float
    var: float
    es: float
    worse_tail: str
    confidence: float
    risk_method: RiskMethod
    fitted_risk: HorizonRisk
    fhs_risk: HorizonRisk | None
    long_run_vol: float
    stressed_vol: float
    stress_window: int
    persistence: float
    conditional_vol: pd.Series = field(repr=False)
    diagnostics: ResidualDiagnostics | None = field(default=None, repr=False)
    candidates: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    rejected: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[str, ...] = ()
    spec_key: str = ""
    horizon_quantiles: HorizonQuantiles | None = field(default=None, repr=False)
    term: RiskTerm | None = field(default=None, repr=False)
    nu: float | None = None
    integrated: bool = False
    horizon_basis: str = ""
    engine: str = "arch"

    def __post_init__(self) -> None:
        for name in ("params", "candidates", "rejected"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    # -- convenience -------------------------------------------------------------------------
    @property
    def next_vol_annualised(self) -> float:
        """One-step forecast volatility, annualised (``* sqrt(bars_per_year)``)."""
        return self.next_vol * math.sqrt(bars_per_year(self.freq))

    @property
    def long_run_vol_annualised(self) -> float:
        """Long-run volatility, annualised."""
        return self.long_run_vol * math.sqrt(bars_per_year(self.freq))

    @property
    def stressed_vol_annualised(self) -> float:
        """Stressed volatility, annualised."""
        return self.stressed_vol * math.sqrt(bars_per_year(self.freq))

    # -- invariance helper -------------------------------------------------------------------
    def scaled(self, factor: float) -> VolEstimate:
        """The estimate for returns multiplied by ``factor`` (> 0).

        Every volatility and every log-return VaR/ES is multiplied by ``factor`` (price
        fractions recomputed from them); ``mu`` scales by ``factor``, ``omega`` by
        ``factor**2`` (GARCH/GJR) or shifts by ``2 (1 - beta) ln factor`` (EGARCH); the
        log-likelihood drops by ``n ln factor`` (AIC/BIC rise by twice that); the horizon
        quantile grid is multiplied by ``factor``. Shape parameters, persistence and the
        residual tests are unchanged.
        """
        c = float(factor)
        if not (math.isfinite(c) and c > 0):
            raise ValueError(f"factor must be a finite number > 0, got {factor!r}")
        p = dict(self.params)
        if "mu" in p:
            p["mu"] *= c
        if "omega" in p:
            if self.model is ModelName.EGARCH:
                p["omega"] += 2.0 * (1.0 - p.get("beta[1]", 0.0)) * math.log(c)
            else:
                p["omega"] *= c * c
        shift = self.n_obs * math.log(c)
        fitted = self.fitted_risk.scaled(c)
        fhs = self.fhs_risk.scaled(c) if self.fhs_risk is not None else None
        var, es, worse = _headline(self.risk_method, fitted, fhs)
        diag = self.diagnostics
        if diag is not None:
            diag = replace(
                diag, loglik=diag.loglik - shift, aic=diag.aic + 2 * shift, bic=diag.bic + 2 * shift
            )
        return replace(
            self,
            params=p,
            loglik=self.loglik - shift,
            aic=self.aic + 2 * shift,
            bic=self.bic + 2 * shift,
            last_vol=self.last_vol * c,
            next_vol=self.next_vol * c,
            horizon_vol=self.horizon_vol * c,
            var=var,
            es=es,
            worse_tail=worse,
            fitted_risk=fitted,
            fhs_risk=fhs,
            long_run_vol=self.long_run_vol * c,
            stressed_vol=self.stressed_vol * c,
            conditional_vol=self.conditional_vol * c,
            diagnostics=diag,
            horizon_quantiles=None if self.horizon_quantiles is None else self.horizon_quantiles.scaled(c),
            term=None if self.term is None else self.term.scaled(c),
        )

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: only str, int, float, bool, None, lists and dicts; NaN and
        infinities become ``None``; timestamps are ISO 8601 strings."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "conditional_vol":
                s: pd.Series = v
                out[f.name] = {"index": _iso_index(s.index), "values": _json_floats(s.to_numpy(dtype=float))}
            elif f.name in ("fitted_risk", "fhs_risk"):
                out[f.name] = None if v is None else _json_tree(v.to_dict())
            elif f.name == "diagnostics":
                out[f.name] = None if v is None else v.to_dict()
            elif f.name in ("horizon_quantiles", "term"):
                out[f.name] = None if v is None else v.to_dict()
            elif f.name == "nu":
                out[f.name] = None if v is None else _jf(v)
            elif f.name == "as_of":
                out[f.name] = None if v is None else v.isoformat()
            elif f.name in ("params", "candidates"):
                out[f.name] = {str(k): _jf(x) for k, x in v.items()}
            elif f.name == "rejected":
                out[f.name] = {str(k): str(x) for k, x in v.items()}
            elif f.name == "notes":
                out[f.name] = list(v)
            elif isinstance(v, StrEnum):
                out[f.name] = v.value
            elif isinstance(v, bool) or v is None or isinstance(v, str):
                out[f.name] = v
            elif _is_int(v):
                out[f.name] = int(v)
            else:
                out[f.name] = _jf(v)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VolEstimate:
        """Inverse of :meth:`to_dict` (non-finite values come back as NaN)."""
        cv = d["conditional_vol"]
        idx = pd.DatetimeIndex(pd.to_datetime(cv["index"], utc=True), name="ts")
        series = pd.Series([_fj(x) for x in cv["values"]], index=idx, dtype=float, name="conditional_vol")
        return cls(
            model=ModelName(d["model"]),
            dist=DistName(d["dist"]),
            mean=MeanName(d["mean"]),
            params={k: _fj(v) for k, v in d["params"].items()},
            loglik=_fj(d["loglik"]),
            aic=_fj(d["aic"]),
            bic=_fj(d["bic"]),
            converged=bool(d["converged"]),
            fallback=d["fallback"],
            n_obs=int(d["n_obs"]),
            freq=str(d["freq"]),
            as_of=None if d["as_of"] is None else pd.Timestamp(d["as_of"]),
            last_vol=_fj(d["last_vol"]),
            next_vol=_fj(d["next_vol"]),
            horizon_hours=_fj(d["horizon_hours"]),
            horizon_bars=int(d["horizon_bars"]),
            horizon_vol=_fj(d["horizon_vol"]),
            var=_fj(d["var"]),
            es=_fj(d["es"]),
            worse_tail=str(d["worse_tail"]),
            confidence=_fj(d["confidence"]),
            risk_method=RiskMethod(d["risk_method"]),
            fitted_risk=HorizonRisk.from_dict(d["fitted_risk"]),
            fhs_risk=None if d["fhs_risk"] is None else HorizonRisk.from_dict(d["fhs_risk"]),
            long_run_vol=_fj(d["long_run_vol"]),
            stressed_vol=_fj(d["stressed_vol"]),
            stress_window=int(d["stress_window"]),
            persistence=_fj(d["persistence"]),
            conditional_vol=series,
            diagnostics=None if d["diagnostics"] is None else ResidualDiagnostics.from_dict(d["diagnostics"]),
            candidates={k: _fj(v) for k, v in d["candidates"].items()},
            rejected=dict(d["rejected"]),
            notes=tuple(d["notes"]),
            spec_key=str(d["spec_key"]),
            horizon_quantiles=(
                None if d.get("horizon_quantiles") is None
                else HorizonQuantiles.from_dict(d["horizon_quantiles"])
            ),
            term=None if d.get("term") is None else RiskTerm.from_dict(d["term"]),
            nu=None if d.get("nu") is None else float(d["nu"]),
            integrated=bool(d.get("integrated", False)),
            horizon_basis=str(d.get("horizon_basis", "")),
            engine=str(d.get("engine", "arch")),
        )


def _iso_index(index: pd.Index) -> list[str]:
    """``[t.isoformat() for t in index]``, vectorised for the usual case (a UTC index of whole seconds, where
    every stamp reads ``'YYYY-MM-DDTHH:MM:SS+00:00'``; 37,659 hourly stamps in ~20 ms instead of ~200 ms)."""
    if isinstance(index, pd.DatetimeIndex) and index.tz is not None and str(index.tz) == "UTC":
        naive = index.tz_convert(None).to_numpy()  # datetime64 in the index's own unit (ns, us, ...)
        seconds = naive.astype("datetime64[s]")
        if not np.isnat(naive).any() and bool(np.all(seconds == naive)):
            stamps = np.datetime_as_string(seconds, unit="s")
            return list(np.char.add(stamps, "+00:00").tolist())
    return [t.isoformat() for t in index]


def _json_floats(values: FloatArray) -> list[float | None]:
    """``[_jf(x) for x in values]`` (non-finite -> None), vectorised when every value is finite."""
    if bool(np.all(np.isfinite(values))):
        return list(values.astype(float).tolist())
    return [_jf(x) for x in values]


def _json_tree(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _json_tree(v) for k, v in x.items()}
    if isinstance(x, float):
        return _jf(x)
    return x


def _headline(method: RiskMethod, fitted: HorizonRisk, fhs: HorizonRisk | None) -> tuple[float, float, str]:
    chosen = fitted
    if method is RiskMethod.FHS and fhs is not None:
        chosen = fhs
    elif method is RiskMethod.MAX and fhs is not None:
        chosen = fhs if fhs.var > fitted.var else fitted
        return max(fitted.var, fhs.var), max(fitted.es, fhs.es), chosen.worse_tail.value
    return chosen.var, chosen.es, chosen.worse_tail.value


# ---------------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------------


@dataclass
class _Fit:
    """Internal: a fitted model in percent units, ready for forecasting."""

    model: ModelName
    dist: DistName
    mean: MeanName
    params: dict[str, float]
    loglik: float
    aic: float
    bic: float
    converged: bool
    cond_vol: FloatArray  # percent, sigma_{t|t-1}
    std_resid: FloatArray
    sigma2_next: float  # percent^2
    persistence: float
    mu: float  # percent per bar
    result: Any = None  # arch ARCHModelResult (None for EWMA)
    mu_outside: bool = False  # benchmark mode: arch result is for y - mu (zero mean)
    dist_obj: Distribution | None = None
    dist_params: FloatArray = field(default_factory=lambda: np.empty(0))
    integrated: bool = False  # kept at the persistence guard as an integrated model (short horizons)
    engine: str = "arch"  # who estimated the parameters: 'fast' (compiled, arch's likelihood) or 'arch'
    note: str | None = None


_DIST_ARCH = {DistName.NORMAL: "normal", DistName.T: "t", DistName.SKEWT: "skewt"}
_VOL_ARCH: dict[ModelName, dict[str, Any]] = {
    ModelName.GARCH: {"vol": "GARCH", "p": 1, "o": 0, "q": 1},
    ModelName.GJR: {"vol": "GARCH", "p": 1, "o": 1, "q": 1},
    ModelName.EGARCH: {"vol": "EGARCH", "p": 1, "o": 1, "q": 1},
}


def _dist_object(dist: DistName) -> Distribution:
    from arch.univariate import Normal, SkewStudent, StudentsT  # arch (and numba) load on the first fit

    if dist is DistName.NORMAL:
        return Normal()
    if dist is DistName.T:
        return StudentsT()
    return SkewStudent()


def _make_model(y: FloatArray, model: ModelName, dist: DistName, mean: MeanName) -> Any:
    dist_name: Any = _DIST_ARCH[dist]
    from arch import arch_model

    return arch_model(
        y,
        mean="Constant" if mean is MeanName.CONSTANT else "Zero",
        dist=dist_name,
        rescale=False,
        **_VOL_ARCH[model],
    )


def _arch_fit(am: Any, backcast: float | None, starting_values: FloatArray | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return am.fit(
            disp="off", show_warning=False, options=dict(_OPTIMIZER_OPTIONS), backcast=backcast,
            starting_values=starting_values,
        )


def _fit_rescaled(y: FloatArray, model: ModelName, dist: DistName, mean: MeanName) -> tuple[Any, bool]:
    """arch fit of percent returns that survives small-scale data; returns ``(result, converged)``.

    arch's SLSQP can stop at its starting values with a success flag when percent returns are
    small (hourly crypto returns: standard deviation about 0.3%); arch itself advises a standard
    deviation of at least 1. So the model is also fitted to ``y * s`` with ``s`` a power of ten that
    brings the standard deviation to at least 1; its parameters are mapped back to the percent scale
    (``mu / s``, GARCH/GJR ``omega / s**2``, EGARCH ``omega - 2 (1 - beta) ln s``; the rest is
    scale-free) and the percent-scale model is refitted from there, so the result keeps arch's
    percent convention. The fit with the highest percent-scale log-likelihood wins. SLSQP's exit 8
    ("positive directional derivative", typical when a constraint such as persistence <= 1 binds)
    counts as converged only when that fit is as good as the best one found (relative 1e-8).
    """
    direct = _arch_fit(_make_model(y, model, dist, mean), None)
    sd = float(np.std(y))
    if not (math.isfinite(sd) and 0.0 < sd < 1.0):
        return direct, int(direct.convergence_flag) == 0
    scale = 10.0 ** math.ceil(-math.log10(sd))
    scaled = _arch_fit(_make_model(y * scale, model, dist, mean), None)
    start = scaled.params.copy()
    if "mu" in start:
        start["mu"] /= scale
    if model is ModelName.EGARCH:
        start["omega"] -= 2.0 * (1.0 - float(start["beta[1]"])) * math.log(scale)
    else:
        start["omega"] /= scale**2
    mapped = _arch_fit(_make_model(y, model, dist, mean), None, starting_values=start.to_numpy())
    mapped_ll = float(scaled.loglikelihood) + y.size * math.log(scale)  # same optimum, percent scale
    best_ll = max(float(direct.loglikelihood), float(mapped.loglikelihood), mapped_ll)
    tol = 1e-8 * abs(best_ll)
    for res in (mapped, direct):
        flag = int(res.convergence_flag)
        if float(res.loglikelihood) >= best_ll - tol and flag in (0, 8):
            return res, True
    return (mapped if float(mapped.loglikelihood) >= float(direct.loglikelihood) else direct), False


def _neg_share(dist_obj: Distribution, dist_params: FloatArray, dist: DistName) -> float:
    """kappa = E[z**2 1{z<0}] of the standardized innovation (0.5 if symmetric)."""
    if dist is not DistName.SKEWT:
        return 0.5
    f0 = float(np.asarray(dist_obj.cdf(np.array([0.0]), dist_params))[0])

    def g(u: float) -> float:
        return float(np.asarray(dist_obj.ppf(np.array([u]), dist_params))[0]) ** 2

    val, _ = integrate.quad(g, 0.0, f0, limit=200)
    return float(val)


def _abs_mean(dist_obj: Distribution, dist_params: FloatArray, dist: DistName) -> float:
    """E|z| of the standardized innovation: closed form for the normal and arch's standardized Student-t
    (:func:`standardized_abs_mean`; equal to the quadrature of its quantile function to ~1e-10 relative, see
    ``tests/test_volatility.py``), quadrature of the quantile function for the skewed t."""
    if dist is DistName.NORMAL:
        return math.sqrt(2.0 / math.pi)
    if dist is DistName.T:
        return standardized_abs_mean(float(dist_params[0]))
    return _quad_abs_mean(dist_obj, dist_params)


def _quad_abs_mean(dist_obj: Distribution, dist_params: FloatArray) -> float:
    """E|z| by quadrature of the quantile function (any of arch's distributions; ~0.6 s: each quantile
    evaluation freezes a scipy distribution)."""

    def g(u: float) -> float:
        return abs(float(np.asarray(dist_obj.ppf(np.array([u]), dist_params))[0]))

    val, _ = integrate.quad(g, 0.0, 1.0, limit=200, points=[0.5])
    return float(val)


def persistence(model: ModelName, params: Mapping[str, float], kappa: float = 0.5) -> float:
    """Persistence of a GARCH-family fit (arch's parameter names): GARCH ``alpha + beta``, GJR
    ``alpha + kappa gamma + beta`` with ``kappa = E[z**2 1{z < 0}]`` of the innovation (0.5 when it is
    symmetric), EGARCH ``beta`` (the persistence of ``ln sigma2``)."""
    if model is ModelName.GARCH:
        return params["alpha[1]"] + params["beta[1]"]
    if model is ModelName.GJR:
        return params["alpha[1]"] + kappa * params["gamma[1]"] + params["beta[1]"]
    return params["beta[1]"]  # EGARCH: persistence of ln sigma2


_EXPLOSIVE_VARIANCE = 1e6
"""A candidate whose one-step variance forecast exceeds this multiple of the variance of its
returns is rejected (arch bounds its conditional variances by about the same multiple)."""


_FAST_FITS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_FAST_FITS_LOCK = threading.Lock()
FAST_FIT_MEMO = 32
"""How many compiled GARCH-family estimates (:class:`riskparams.fastgarch.GarchFit`: parameters, log-likelihood,
a few hundred bytes each) the process keeps; the least recently used is dropped first."""


def _compiled_fit(y: FloatArray, model: ModelName, dist: DistName, mean: MeanName) -> Any:
    """:func:`riskparams.fastgarch.fit_garch` of percent returns ``y`` (a ``GarchFit``), or the exception it
    raised (returned, not raised).

    One estimate per (returns, model, innovation law, mean) in a process: the estimate does not depend on the
    rest of a :class:`FitSpec` (horizon, confidence, simulations, guards), so fits of the same model to the same
    returns for another horizon (the Volatility page's panel, then the sensitivity grid's ``auto`` candidates)
    reuse it from a small memo (:data:`FAST_FIT_MEMO` entries, keyed by a digest of the returns' bytes). Only
    the estimate is kept: arch's residuals and forecasts are made afresh from it by each caller."""
    import hashlib

    from riskparams import fastgarch

    key = (hashlib.blake2b(np.ascontiguousarray(y).tobytes(), digest_size=20).hexdigest(), y.size, model, dist,
           mean)
    with _FAST_FITS_LOCK:
        if key in _FAST_FITS:
            _FAST_FITS.move_to_end(key)
            return _FAST_FITS[key]
    out: Any
    try:
        out = fastgarch.fit_garch(y / 100.0, model=model, dist=dist, mean=mean)
    except Exception as exc:  # numba raises many kinds; the callers fall back to arch's optimiser
        out = exc
    with _FAST_FITS_LOCK:
        _FAST_FITS[key] = out
        while len(_FAST_FITS) > FAST_FIT_MEMO:
            _FAST_FITS.popitem(last=False)
    return out


def _fast_fit(y: FloatArray, model: ModelName, spec: FitSpec) -> tuple[Any, float, float] | str:
    """The compiled engine's fit (:func:`_compiled_fit`) handed to arch: ``(arch fixed result, mu, loglik)`` or
    why it failed."""
    gf = _compiled_fit(y, model, spec.dist, spec.mean)
    if isinstance(gf, Exception):
        return f"compiled fit failed ({type(gf).__name__}: {gf})"
    if not gf.converged:
        return "compiled fit did not converge"
    am = _make_model(y, model, spec.dist, spec.mean)
    names = list(am._all_parameter_names())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = am.fix([float(gf.params[n]) for n in names])
    mu = float(gf.params["mu"]) if spec.mean is MeanName.CONSTANT else 0.0
    return res, mu, float(gf.loglikelihood)


def _compiled_params(y: FloatArray, model: ModelName, dist: DistName, mean: MeanName) -> FloatArray | None:
    """The compiled engine's estimates for percent returns ``y`` in arch's parameter order, or None when the
    compiled fit fails or does not converge (the caller then uses arch's optimiser)."""
    gf = _compiled_fit(y, model, dist, mean)
    if isinstance(gf, Exception) or not gf.converged:
        return None
    names = list(_make_model(y, model, dist, mean)._all_parameter_names())
    out = np.array([float(gf.params[n]) for n in names], dtype=float)
    return out if bool(np.all(np.isfinite(out))) else None


def _fit_garch_family(y: FloatArray, model: ModelName, spec: FitSpec, *, integrated_ok: bool = False) -> _Fit | str:
    """Fit one GARCH-family model to percent returns; a reason string if a guard trips.

    ``spec.max_persistence`` is the guard (the caller folds the half-life limit into it). A fit at or
    above it but not above 1 is kept as an **integrated** model when ``integrated_ok``.
    """
    dist, mean = spec.dist, spec.mean
    engine = "arch"
    fast_note = None
    fast_ok = spec.engine is FitEngine.FAST and not spec.benchmark_mode and dist in (DistName.NORMAL, DistName.T)
    try:
        fast = _fast_fit(y, model, spec) if fast_ok else None
        if isinstance(fast, tuple):
            res, mu, loglik = fast
            mu_outside, ok, engine = False, True, "fast"
        else:
            if isinstance(fast, str):
                fast_note = f"{model.value}: {fast}; fitted by arch's optimiser"
            if spec.benchmark_mode and mean is MeanName.CONSTANT:
                res, mu = _benchmark_profile_fit(y, model, dist)
                mu_outside = True
                ok = int(res.convergence_flag) == 0
            elif spec.benchmark_mode:
                res = _arch_fit(_make_model(y, model, dist, mean), float(np.mean(y**2)))
                mu, mu_outside = 0.0, False
                ok = int(res.convergence_flag) == 0
            else:
                res, ok = _fit_rescaled(y, model, dist, mean)
                mu, mu_outside = (float(res.params["mu"]) if mean is MeanName.CONSTANT else 0.0), False
            loglik = float(res.loglikelihood)
    except Exception as exc:  # arch raises many kinds; each is a reason to fall back
        return f"{model.value}: fit failed ({type(exc).__name__}: {exc})"
    if not ok:
        flag = int(res.convergence_flag)
        msg = getattr(res.optimization_result, "message", "")
        return f"{model.value}: optimizer did not converge (flag {flag}: {msg})"
    params = {str(k): float(v) for k, v in res.params.items()}
    if mu_outside:
        params = {"mu": mu, **params}
    k = len(params)
    n = y.size
    aic = -2.0 * loglik + 2.0 * k
    bic = -2.0 * loglik + k * math.log(n)
    dist_obj = res.model.distribution
    dist_names = dist_obj.parameter_names()
    dist_params = np.array([params[nm] for nm in dist_names], dtype=float)
    cond_vol = np.asarray(res.conditional_volatility, dtype=float)
    std_resid = np.asarray(res.std_resid, dtype=float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sigma2_next = float(res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])
        kappa = _neg_share(dist_obj, dist_params, dist) if model is ModelName.GJR else 0.5
    except Exception as exc:
        return f"{model.value}: forecast failed ({type(exc).__name__}: {exc})"
    pers = persistence(model, params, kappa)
    checks = [*params.values(), loglik, sigma2_next, pers]
    if not (all(math.isfinite(v) for v in checks) and np.all(np.isfinite(cond_vol)) and sigma2_next > 0):
        return f"{model.value}: non-finite parameters, likelihood or variance"
    if sigma2_next > _EXPLOSIVE_VARIANCE * float(np.var(y)):
        # the forecast has left arch's own variance bounds (1e6 x the data's variance): seen on a
        # 400-day window where arch's EGARCH-t ended at alpha -84, gamma 92, nu 2.05 with "success"
        # and a next-day volatility of 4e16 (and an infinite VaR)
        return (
            f"{model.value}: explosive fit (one-step variance forecast {sigma2_next:.3g} is more than "
            f"{_EXPLOSIVE_VARIANCE:g} x the variance of the returns)"
        )
    integrated = False
    note = fast_note
    if pers >= spec.max_persistence:
        if not (integrated_ok and pers <= 1.0 + 1e-6):
            return (
                f"{model.value}: persistence {pers:.6f} >= max_persistence {spec.max_persistence:g} "
                "(shocks to volatility would not halve within max_half_life_days: no usable mean reversion)"
            )
        integrated = True
        note = (f"{model.value}: persistence {pers:.6f} at the guard {spec.max_persistence:.6f} (no usable mean "
                f"reversion): kept as an integrated model for the {spec.horizon_hours:g}h horizon "
                f"(<= integrated_max_hours {spec.integrated_max_hours:g}); its long-run volatility is undefined")
    return _Fit(
        model=model,
        dist=dist,
        mean=mean,
        params=params,
        loglik=loglik,
        aic=aic,
        bic=bic,
        converged=True,
        cond_vol=cond_vol,
        std_resid=std_resid,
        sigma2_next=sigma2_next,
        persistence=pers,
        mu=mu,
        result=res,
        mu_outside=mu_outside,
        dist_obj=dist_obj,
        dist_params=dist_params,
        integrated=integrated,
        engine=engine,
        note=note,
    )


def _benchmark_profile_fit(y: FloatArray, model: ModelName, dist: DistName) -> tuple[Any, float]:
    """Constant-mean fit with the benchmark backcast ``mean((y - mu)**2)``, ``mu`` profiled out.

    Returns the arch result of the zero-mean model for ``y - mu_hat`` and ``mu_hat`` (percent).
    """
    n = y.size
    se = float(np.std(y, ddof=1)) / math.sqrt(n)
    centre = float(np.mean(y))

    def fit_at(mu: float) -> Any:
        e = y - mu
        return _arch_fit(_make_model(e, model, dist, MeanName.ZERO), float(np.mean(e**2)))

    def negll(mu: float) -> float:
        res = fit_at(mu)
        ll = float(res.loglikelihood)
        return -ll if math.isfinite(ll) else 1e300

    opt = optimize.minimize_scalar(
        negll,
        bounds=(centre - 6 * se, centre + 6 * se),
        method="bounded",
        options={"xatol": 1e-10 * max(1.0, se)},
    )
    mu_hat = float(opt.x)
    return fit_at(mu_hat), mu_hat


def fit_t_nu(z: FloatArray) -> tuple[float, float]:
    """Degrees of freedom of a unit-variance Student-t by maximum likelihood on standardized
    residuals ``z`` (bounded in arch's [2.05, 500]); returns ``(nu, log-likelihood of z)``."""
    from scipy import special

    zz = z[np.isfinite(z)] ** 2

    def negll(nu: float) -> float:
        c = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * math.log(math.pi * (nu - 2))
        return -float(zz.size * c - (nu + 1) / 2 * np.sum(np.log1p(zz / (nu - 2))))

    opt = optimize.minimize_scalar(negll, bounds=(2.05, 500.0), method="bounded", options={"xatol": 1e-6})
    return float(opt.x), -float(opt.fun)


def _fit_ewma(y: FloatArray, spec: FitSpec) -> _Fit:
    """EWMA on percent returns: the filter has no estimated parameter; with ``dist`` t (or skewed t,
    which EWMA replaces by t) the innovation law is a unit-variance Student-t whose degrees of freedom
    are estimated by maximum likelihood on the EWMA-standardized residuals, so a fallback keeps the
    fat tail; with ``dist`` normal it is the normal (RiskMetrics)."""
    lam = float(spec.ewma_lambda)
    ew = ewma_filter(y, lam, spec.mean)
    mu, e, cond_var, cond_vol, z = ew.mu, ew.e, ew.cond_var, ew.cond_vol, ew.z
    params: dict[str, float] = {"lambda": lam}
    if spec.mean is MeanName.CONSTANT:
        params = {"mu": mu, "lambda": lam}
    k = 1 if spec.mean is MeanName.CONSTANT else 0
    dist, dist_obj, dist_params = DistName.NORMAL, None, np.empty(0)
    positive = bool(np.all(cond_var > 0))
    if spec.dist is not DistName.NORMAL and positive and np.ptp(z) > 0 and z.size >= 30:
        from arch.univariate import StudentsT

        nu, ll_z = fit_t_nu(z)
        loglik = ll_z - 0.5 * float(np.sum(np.log(cond_var)))
        params["nu"] = nu
        dist, dist_obj, dist_params = DistName.T, StudentsT(), np.array([nu])
        k += 1
    elif positive:
        loglik = float(-0.5 * np.sum(np.log(2 * np.pi) + np.log(cond_var) + e**2 / cond_var))
    else:
        loglik = math.nan
    return _Fit(
        model=ModelName.EWMA,
        dist=dist,
        mean=spec.mean,
        params=params,
        loglik=loglik,
        aic=-2 * loglik + 2 * k,
        bic=-2 * loglik + k * math.log(max(y.size, 1)),
        converged=True,
        cond_vol=cond_vol,
        std_resid=z,
        sigma2_next=ew.sigma2_next,
        persistence=1.0,
        mu=mu,
        dist_obj=dist_obj,
        dist_params=dist_params,
    )


def _select(
    y: FloatArray, spec: FitSpec, h: int
) -> tuple[_Fit, str | None, dict[str, float], dict[str, str]]:
    """Run the guards and the candidates; return the chosen fit and the fallback reason.

    With ``model='auto'``, fat-tailed innovations and a horizon of more than one bar, EGARCH is
    not a candidate: its multi-step expected variance is infinite (see
    :func:`horizon_variance_sums`), so its horizon risk is not reliable.
    """
    n = y.size
    if spec.model is ModelName.EWMA:
        return _fit_ewma(y, spec), None, {}, {}
    if np.ptp(y) == 0:
        reason = f"constant series: all {n} returns are equal"
        return _fit_ewma(y, spec), reason, {}, {}
    if n < spec.min_history:
        reason = f"short history: {n} returns < min_history {spec.min_history}"
        return _fit_ewma(y, spec), reason, {}, {}
    models = spec.candidates if spec.model is ModelName.AUTO else (spec.model,)
    fits: list[_Fit] = []
    rejected: dict[str, str] = {}
    if (
        spec.model is ModelName.AUTO
        and spec.dist is not DistName.NORMAL
        and h > 1
        and ModelName.EGARCH in models
    ):
        models = tuple(m for m in models if m is not ModelName.EGARCH)
        rejected[ModelName.EGARCH.value] = (
            f"egarch: skipped, its {h}-bar variance forecast is infinite with {spec.dist.value} innovations"
        )
    integrated_ok = integrated_allowed(spec)
    for m in models:
        out = _fit_garch_family(y, m, spec, integrated_ok=integrated_ok)
        if isinstance(out, str):
            rejected[m.value] = out
        else:
            fits.append(out)
    bics = {f.model.value: f.bic for f in fits}
    if not fits:
        return _fit_ewma(y, spec), "; ".join(rejected.values()), bics, rejected
    best = min(fits, key=lambda f: f.bic)
    return best, None, bics, rejected


# ---------------------------------------------------------------------------------------------
# horizon risk
# ---------------------------------------------------------------------------------------------


def _rng_callable(fit: _Fit, seed: int) -> Callable[[Any], FloatArray]:
    """Innovations for arch's simulation forecast: uniforms from ``seed`` through the fitted law's quantile
    function. For the Student-t, the scipy distribution arch's ``StudentsT.ppf`` builds on every call is
    frozen once here (the same numbers, bit for bit: arch would freeze it again for each of the ``h`` steps,
    about a millisecond each)."""
    gen = np.random.default_rng(seed)
    dist_obj = fit.dist_obj
    assert dist_obj is not None
    params = fit.dist_params
    ppf: Callable[[FloatArray], Any]
    if fit.dist is DistName.T:
        from scipy import stats

        nu = float(params[0])
        ppf = stats.t(nu, scale=1.0 / math.sqrt(nu / (nu - 2.0))).ppf
    else:
        def ppf(u: FloatArray) -> Any:
            return dist_obj.ppf(u, params)

    def draw(size: Any) -> FloatArray:
        u = gen.random(size)
        return np.asarray(ppf(u.ravel()), dtype=float).reshape(u.shape)

    return draw


def _simulate(fit: _Fit, h: int, spec: FitSpec, method: str) -> FloatArray:
    """Simulated per-bar returns over ``h`` bars (percent, shape (n_sims, h)) through arch's forecast:
    ``simulation`` draws innovations from the fitted law, ``bootstrap`` resamples the standardized
    residuals (filtered historical simulation)."""
    res = fit.result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "simulation":
            fc = res.forecast(
                horizon=h,
                method="simulation",
                simulations=spec.n_sims,
                rng=_rng_callable(fit, spec.seed),
                reindex=False,
            )
        else:
            fc = res.forecast(
                horizon=h,
                method="bootstrap",
                simulations=spec.n_sims,
                random_state=np.random.RandomState(spec.seed),
                reindex=False,
            )
    paths = np.asarray(fc.simulations.values, dtype=float)[-1]  # (n_sims, h)
    if fit.mu_outside:
        paths = paths + fit.mu
    return paths


def _ewma_paths(fit: _Fit, h: int, spec: FitSpec, method: str) -> FloatArray:
    """Per-bar returns over ``h`` bars through the EWMA recursion (percent, shape (n_sims, h)):
    ``bootstrap`` resamples the EWMA-standardized residuals (filtered historical simulation),
    ``simulation`` draws from the fitted innovation law (unit-variance t or normal)."""
    gen = np.random.default_rng(spec.seed)
    lam = float(spec.ewma_lambda)
    z = fit.std_resid[np.isfinite(fit.std_resid)]
    s2 = np.full(spec.n_sims, fit.sigma2_next)
    out = np.zeros((spec.n_sims, h))
    nu = float(fit.dist_params[0]) if fit.dist is DistName.T and fit.dist_params.size else None
    for k in range(h):
        if method == "bootstrap":
            draw = gen.choice(z, size=spec.n_sims) if z.size else np.zeros(spec.n_sims)
        elif nu is not None:
            draw = gen.standard_t(nu, size=spec.n_sims) * math.sqrt((nu - 2.0) / nu)
        else:
            draw = gen.standard_normal(spec.n_sims)
        eps = np.sqrt(s2) * draw
        out[:, k] = fit.mu + eps
        s2 = lam * s2 + (1.0 - lam) * eps * eps
    return out


def _analytic_one_step(fit: _Fit, q: float) -> HorizonRisk:
    """VaR/ES of a one-bar log return (fractions) from the fitted distribution."""
    mu, sigma = fit.mu / 100.0, math.sqrt(fit.sigma2_next) / 100.0
    if fit.dist is DistName.NORMAL or fit.dist_obj is None:
        return parametric_risk(mu, sigma, q)
    if fit.dist is DistName.T:
        return parametric_risk(mu, sigma, q, float(fit.dist_params[0]))
    dist_obj, dp = fit.dist_obj, fit.dist_params

    def ppf(u: FloatArray) -> FloatArray:
        return np.asarray(dist_obj.ppf(u, dp), dtype=float)

    out: dict[Tail, TailRisk] = {}
    for tail in (Tail.LOWER, Tail.UPPER):
        v, e = ppf_var_es(ppf, q, mu, sigma, tail)
        out[tail] = TailRisk.from_log(v, e, tail)
    return HorizonRisk(method="fitted", confidence=q, lower=out[Tail.LOWER], upper=out[Tail.UPPER])


def _one_step_quantiles(fit: _Fit, q: float) -> HorizonQuantiles:
    """Quantile grid of the one-bar log return (fractions) from the fitted distribution."""
    mu, sigma = fit.mu / 100.0, math.sqrt(fit.sigma2_next) / 100.0
    dist_obj, dp = fit.dist_obj, fit.dist_params
    if dist_obj is None:  # EWMA: normal
        return HorizonQuantiles.from_ppf(unit_ppf(None), mu, sigma, q)

    def ppf(u: FloatArray, dist_obj: Distribution = dist_obj, dp: FloatArray = dp) -> FloatArray:
        return np.asarray(dist_obj.ppf(u, dp), dtype=float)

    return HorizonQuantiles.from_ppf(ppf, mu, sigma, q)


@dataclass(frozen=True, slots=True)
class _HorizonOut:
    sum_var: float  # fraction^2, headline horizon
    fitted: HorizonRisk
    fhs: HorizonRisk | None
    notes: tuple[str, ...]
    fitted_q: HorizonQuantiles
    fhs_q: HorizonQuantiles | None
    term: RiskTerm | None
    basis: str


def _variances(fit: _Fit, bars: Sequence[int]) -> list[float]:
    """Sums of the 1..k-step variance forecasts of the fit at each ``k`` of ``bars`` (percent squared;
    :func:`horizon_variance_sums`). EGARCH's one-bar value is the forecast itself."""
    egarch = fit.model is ModelName.EGARCH
    abs_mean = None
    if egarch and max(bars) > 1:
        assert fit.dist_obj is not None
        abs_mean = _abs_mean(fit.dist_obj, fit.dist_params, fit.dist)
    if egarch and abs_mean is None:
        return [fit.sigma2_next for _k in bars]
    sums = horizon_variance_sums(fit.model, fit.params, fit.sigma2_next, bars, persistence=fit.persistence,
                                 abs_mean=abs_mean)
    return [fit.sigma2_next if egarch and k == 1 else v for k, v in zip(bars, sums, strict=True)]


def _law(fit: _Fit) -> str:
    nu = fit.params.get("nu")
    law = f"{fit.model.value}-{fit.dist.value}" + (f" (nu {nu:.2f})" if nu is not None else "")
    return law + (", integrated" if fit.integrated else "")


def _horizon(fit: _Fit, tau: float, spec: FitSpec, y: FloatArray, bar_hours: float) -> _HorizonOut:
    """Horizon risk at ``tau`` bars and the term structure up to ``ceil(tau)`` bars.

    One set of simulated paths over ``K = ceil(tau)`` bars gives every stored horizon (cumulative
    sums). The headline VaR/ES: at whole bars from the paths (analytic for one bar); below one bar the
    one-bar law scaled by square-root of time; between whole bars from the term structure's
    interpolation. Each is named in ``basis``.
    """
    q = float(spec.confidence)
    notes: list[str] = []
    big_k = max(1, math.ceil(tau - 1e-9))
    bars = term_bars(big_k)
    ewma = fit.model is ModelName.EWMA
    # the fitted law: analytic at one bar, simulated paths beyond (EWMA-normal: analytic everywhere)
    fitted_1 = _analytic_one_step(fit, q)
    fitted_q1 = _one_step_quantiles(fit, q)
    fitted_paths: FloatArray | None = None
    if big_k > 1 and not (ewma and fit.dist is DistName.NORMAL):
        fitted_paths = _ewma_paths(fit, big_k, spec, "simulation") if ewma else _simulate(fit, big_k, spec, "simulation")
    if fit.model is ModelName.EGARCH and big_k > 1 and fit.dist is not DistName.NORMAL:
        notes.append("EGARCH with fat-tailed innovations has no finite multi-step expected variance: horizon_vol is "
                     "the geometric (log-variance) forecast and the simulated ES is unstable")
    fhs_paths: FloatArray | None = None
    try:
        fhs_paths = _ewma_paths(fit, big_k, spec, "bootstrap") if ewma else _simulate(fit, big_k, spec, "bootstrap")
    except Exception as exc:  # arch needs >= 100 observations for its bootstrap
        notes.append(f"filtered historical simulation unavailable ({type(exc).__name__}: {exc})")
    variances = [v / 1e4 for v in _variances(fit, bars)]

    def normal_grid(k: int) -> HorizonQuantiles:
        return HorizonQuantiles.from_ppf(unit_ppf(None), k * fit.mu / 100.0, math.sqrt(variances[bars.index(k)]), q)

    fitted_grids: list[HorizonQuantiles] = []
    fhs_grids: list[HorizonQuantiles] = []
    cum_f = None if fitted_paths is None else np.cumsum(fitted_paths, axis=1) / 100.0
    cum_b = None if fhs_paths is None else np.cumsum(fhs_paths, axis=1) / 100.0
    for k in bars:
        if k == 1:
            fitted_grids.append(fitted_q1)
        elif cum_f is None:
            fitted_grids.append(normal_grid(k))
        else:
            fitted_grids.append(HorizonQuantiles.from_samples(cum_f[:, k - 1], q, "fitted"))
        if cum_b is not None:
            fhs_grids.append(HorizonQuantiles.from_samples(cum_b[:, k - 1], q, "fhs"))
    grids: dict[str, Sequence[HorizonQuantiles]] = {TermMethod.FITTED.value: fitted_grids}
    if cum_b is not None:
        grids[TermMethod.FHS.value] = fhs_grids
    try:
        grids[TermMethod.EMPIRICAL.value] = empirical_grids(y / 100.0, bars)
    except ValueError as exc:
        notes.append(f"historical simulation unavailable: {exc}")
    term = RiskTerm.from_grids(bar_hours, bars, variances, grids, _law(fit))
    # headline at tau
    hours = tau * bar_hours
    whole = abs(tau - round(tau)) <= 1e-9 and tau >= 1 - 1e-9
    if whole:
        k = int(round(tau))
        sum_var = variances[-1]
        if k == 1:
            fitted, fitted_q = fitted_1, fitted_q1
        elif cum_f is None:
            fitted = parametric_risk(k * fit.mu / 100.0, math.sqrt(sum_var), q)
            fitted_q = fitted_grids[-1]
        else:
            fitted = tail_risk_from_samples(cum_f[:, -1], q, "fitted")
            fitted_q = HorizonQuantiles.from_samples(cum_f[:, -1], q, "fitted")
        fhs = None if cum_b is None else tail_risk_from_samples(cum_b[:, -1], q, "fhs")
        fhs_q = None if cum_b is None else HorizonQuantiles.from_samples(cum_b[:, -1], q, "fhs")
        basis = f"{k} bar{'s' if k > 1 else ''} of {bar_hours:g}h"
    else:
        # the headline between whole bars: the exact VaR/ES at the stored horizons around tau, interpolated
        # linearly in variance as the term interpolates its quantiles (below one bar: the one-bar figures
        # times sqrt(tau)), so it is continuous in the horizon and exact at whole bars
        sum_var = term.variance(hours)
        i, j, w = term._bracket(tau)
        hi_k, lo_k = bars[j - 1], (bars[i - 1] if i > 0 else 0)

        def exact(cum: FloatArray | None, k: int, method: str) -> HorizonRisk:
            if k == 1 and method == "fitted":
                return fitted_1
            if cum is None:  # EWMA with normal innovations: closed form
                return replace(parametric_risk(k * fit.mu / 100.0, math.sqrt(variances[bars.index(k)]), q),
                               method=method)
            return tail_risk_from_samples(cum[:, k - 1], q, method)

        fitted = _interpolate_risk(None if lo_k == 0 else exact(cum_f, lo_k, "fitted"), exact(cum_f, hi_k, "fitted"),
                                   w)
        fitted_q = term.quantiles(TermMethod.FITTED, hours)
        fhs = None if cum_b is None else _interpolate_risk(
            None if lo_k == 0 else exact(cum_b, lo_k, "fhs"), exact(cum_b, hi_k, "fhs"), w)
        fhs_q = term.quantiles(TermMethod.FHS, hours) if cum_b is not None else None
        basis = term.basis(hours)
        notes.append(f"the {hours:g}h horizon is shorter than a bar or not a whole number of bars: {basis}")
    return _HorizonOut(sum_var, fitted, fhs, tuple(notes), fitted_q, fhs_q, term, basis)


def _interpolate_risk(lo: HorizonRisk | None, hi: HorizonRisk, w: float) -> HorizonRisk:
    """VaR/ES between two horizons, linear in variance: ``x = sign(v) sqrt(|v|)``, ``v = (1 - w) s(x_lo) + w
    s(x_hi)``, ``s(x) = sign(x) x**2`` (``lo`` None: a zero horizon, so ``x = sqrt(w) x_hi``)."""

    def mix(a: float, b: float) -> float:
        v = (1.0 - w) * math.copysign(a * a, a) + w * math.copysign(b * b, b)
        return math.copysign(math.sqrt(abs(v)), v)

    tails = {}
    for t in (Tail.LOWER, Tail.UPPER):
        h = hi.lower if t is Tail.LOWER else hi.upper
        low = None if lo is None else (lo.lower if t is Tail.LOWER else lo.upper)
        a_var, a_es = (0.0, 0.0) if low is None else (low.var_log, low.es_log)
        tails[t] = TailRisk.from_log(mix(a_var, h.var_log), mix(a_es, h.es_log), t)
    return HorizonRisk(hi.method, hi.confidence, tails[Tail.LOWER], tails[Tail.UPPER])


def _headline_quantiles(
    method: RiskMethod, fitted: HorizonQuantiles, fhs: HorizonQuantiles | None
) -> HorizonQuantiles:
    """The grid matching :func:`_headline`: fitted, FHS (fitted when FHS is unavailable) or,
    for ``max``, the envelope of the two."""
    if fhs is None or method is RiskMethod.FITTED:
        return fitted
    if method is RiskMethod.FHS:
        return fhs
    return HorizonQuantiles.envelope(fitted, fhs)


def horizon_variance_sums(
    model: ModelName,
    params: Mapping[str, float],
    sigma2_next: float,
    bars: Sequence[int],
    *,
    persistence: float,
    abs_mean: float | None = None,
) -> list[float]:
    """Sums of the 1..k-step variance forecasts at each horizon ``k`` of ``bars`` (increasing), in the units
    of ``sigma2_next`` (arch's percent squared for arch's parameters).

    EWMA: ``k sigma2_next``. GARCH / GJR: :func:`~riskparams.measures.garch_horizon_variance` with the
    fit's ``persistence``. EGARCH: the sum over ``j = 1..k`` of ``exp(m_j)``, ``m_j = E[ln sigma2_{T+j}]``,
    ``m_1 = ln sigma2_next``, ``m_{j+1} = omega + alpha (E|z| - sqrt(2/pi)) + beta m_j`` (``abs_mean`` is
    ``E|z|`` of the innovation, required). This is the geometric forecast of the variance, below the
    arithmetic expectation by Jensen's inequality; the latter is infinite for EGARCH with Student-t
    innovations (``E[exp(alpha |z|)]`` diverges) and dominated by a few exploding paths in simulations.
    """
    if model is ModelName.EWMA:
        return [k * sigma2_next for k in bars]
    if model is ModelName.EGARCH:
        if abs_mean is None:
            raise ValueError("abs_mean (E|z| of the innovation) is required for EGARCH")
        drift = params["omega"] + params["alpha[1]"] * (abs_mean - math.sqrt(2.0 / math.pi))
        out, total, m, done = [], 0.0, math.log(sigma2_next), 0
        for k in bars:
            while done < k:
                total += math.exp(m)
                m = drift + params["beta[1]"] * m
                done += 1
            out.append(total)
        return out
    return [garch_horizon_variance(sigma2_next, params["omega"], persistence, k) for k in bars]


def standardized_abs_mean(nu: float | None) -> float:
    """``E|z|`` of a unit-variance innovation in closed form: ``sqrt(2 / pi)`` for the normal (``nu`` None),
    ``sqrt(nu - 2) Gamma((nu - 1) / 2) / (sqrt(pi) Gamma(nu / 2))`` for the standardized Student-t(``nu``).
    (arch-path fits integrate their distribution's quantile function instead, which also covers the
    skewed t.)"""
    if nu is None:
        return math.sqrt(2.0 / math.pi)
    from scipy import special

    return float(math.sqrt(nu - 2.0) * math.exp(special.gammaln((nu - 1.0) / 2.0) - special.gammaln(nu / 2.0))
                 / math.sqrt(math.pi))


def egarch_long_run_vol(omega: float, alpha: float, beta: float, abs_mean: float) -> float:
    """Unconditional volatility of an EGARCH(1,1,1) in the units of its returns: ``exp(E[ln s] / 2)``
    with ``E[ln s] = (omega + alpha (E|z| - sqrt(2/pi))) / (1 - beta)``; ``inf`` when ``beta >= 1`` or
    the value overflows (a log-variance with no usable mean reversion)."""
    if beta >= 1.0:
        return math.inf
    half = 0.5 * (omega + alpha * (abs_mean - math.sqrt(2.0 / math.pi))) / (1.0 - beta)
    return math.exp(half) if half < 709.0 else math.inf


def unconditional_vol(model: ModelName, params: Mapping[str, float], persistence: float,
                      abs_mean: float | None = None) -> float:
    """Unconditional volatility of a GARCH-family fit in the units of its returns: GARCH / GJR
    ``sqrt(omega / (1 - persistence))`` (``inf`` at persistence >= 1), EGARCH :func:`egarch_long_run_vol`
    (``abs_mean``, ``E|z|`` of the innovation, required)."""
    if model is ModelName.EGARCH:
        if abs_mean is None:
            raise ValueError("abs_mean (E|z| of the innovation) is required for EGARCH")
        return egarch_long_run_vol(params["omega"], params["alpha[1]"], params["beta[1]"], abs_mean)
    return math.sqrt(params["omega"] / (1.0 - persistence)) if persistence < 1 else math.inf


def _long_run_vol(fit: _Fit, y: FloatArray) -> float:
    """Unconditional volatility per bar in percent."""
    if fit.model is ModelName.EWMA:
        return sample_vol(y)
    abs_mean = None
    if fit.model is ModelName.EGARCH:
        assert fit.dist_obj is not None
        abs_mean = _abs_mean(fit.dist_obj, fit.dist_params, fit.dist)
    return unconditional_vol(fit.model, fit.params, fit.persistence, abs_mean)


def fit_returns(
    returns: pd.Series, freq: str, spec: FitSpec | None = None, *, notes: Sequence[str] = ()
) -> VolEstimate:
    """:func:`_fit_returns` with one BLAS thread (:class:`one_blas_thread`): reproducible on any machine.

    Parameters, returns and errors as :func:`_fit_returns`.
    """
    with one_blas_thread():
        return _fit_returns(returns, freq, spec, notes=notes)


def _fit_returns(
    returns: pd.Series, freq: str, spec: FitSpec | None = None, *, notes: Sequence[str] = ()
) -> VolEstimate:
    """Fit a volatility model to log returns and compute horizon risk.

    Parameters
    ----------
    returns : pandas.Series
        Log returns (fractions), shape (n,), n >= 2, indexed by a UTC ``DatetimeIndex`` (any
        index is accepted; a non-datetime one gives ``as_of=None``). Returns are treated as
        consecutive bars.
    freq : {'1h', '4h', '1d'}
        Bar frequency.
    spec : FitSpec, optional
        Defaults to ``FitSpec()``.
    notes : sequence of str
        Remarks to carry into the result.

    Returns
    -------
    VolEstimate

    Raises
    ------
    HistoryError
        Fewer than 2 finite returns.
    """
    spec = FitSpec() if spec is None else spec
    f = Freq(freq)
    r = returns.astype(float)
    r = r[np.isfinite(r.to_numpy())]
    n = int(r.size)
    if n < 2:
        raise HistoryError(f"need at least 2 returns to estimate volatility, got {n}")
    y: FloatArray = np.asarray(r.to_numpy(dtype=float) * 100.0, dtype=np.float64)
    h = horizon_to_bars(float(spec.horizon_hours), f)
    if spec.n_sims * h > MAX_SIM_CELLS:
        raise FitError(f"a {spec.horizon_hours:g}h horizon on {f.value} bars is {h} bars; with n_sims "
                           f"{spec.n_sims} that is {spec.n_sims * h:,} simulated returns, more than {MAX_SIM_CELLS:,}: "
                           "lower n_sims or the horizon")
    guarded = replace(spec, max_persistence=persistence_limit(spec, f))
    fit, reason, bics, rejected = _select(y, guarded, h)
    if reason is not None:
        warnings.warn(f"fell back to EWMA: {reason}", FallbackWarning, stacklevel=2)
    bar_h = float(hours_per_bar(f))
    out = _horizon(fit, float(spec.horizon_hours) / bar_h, spec, y, bar_h)
    sum_var, fitted, fhs, fitted_q, fhs_q = out.sum_var, out.fitted, out.fhs, out.fitted_q, out.fhs_q
    all_notes = list(notes) + ([fit.note] if fit.note else []) + list(out.notes)
    var, es, worse = _headline(spec.risk_method, fitted, fhs)
    window = stress_window_bars(spec, f)
    try:
        diag = residual_diagnostics(
            fit.std_resid,
            lags=spec.diagnostic_lags,
            loglik=fit.loglik,
            aic=fit.aic,
            bic=fit.bic,
            persistence=fit.persistence,
            hours_per_bar=hours_per_bar(f),
        )
    except ValueError:
        diag = None
    as_of = r.index[-1] if isinstance(r.index, pd.DatetimeIndex) else None
    cond = pd.Series(fit.cond_vol / 100.0, index=r.index, name="conditional_vol")
    return VolEstimate(
        model=fit.model,
        dist=fit.dist,
        mean=fit.mean,
        params=fit.params,
        loglik=fit.loglik,
        aic=fit.aic,
        bic=fit.bic,
        converged=fit.converged,
        fallback=reason,
        n_obs=n,
        freq=f.value,
        as_of=as_of,
        last_vol=float(fit.cond_vol[-1]) / 100.0,
        next_vol=math.sqrt(fit.sigma2_next) / 100.0,
        horizon_hours=float(spec.horizon_hours),
        horizon_bars=h,
        horizon_vol=math.sqrt(sum_var),
        var=var,
        es=es,
        worse_tail=worse,
        confidence=float(spec.confidence),
        risk_method=spec.risk_method,
        fitted_risk=fitted,
        fhs_risk=fhs,
        long_run_vol=math.inf if fit.integrated else _long_run_vol(fit, y) / 100.0,
        stressed_vol=stressed_vol(r.to_numpy(), window),
        stress_window=int(window),
        persistence=fit.persistence,
        conditional_vol=cond,
        diagnostics=diag,
        candidates=bics,
        rejected=rejected,
        notes=tuple(all_notes),
        spec_key=spec.key(),
        horizon_quantiles=_headline_quantiles(spec.risk_method, fitted_q, fhs_q),
        term=out.term,
        nu=fit.params.get("nu"),
        integrated=fit.integrated,
        horizon_basis=out.basis,
        engine=fit.engine if fit.model is not ModelName.EWMA else "ewma",
    )


def fit_volatility(
    prices: pd.DataFrame, freq: str, spec: FitSpec | None = None, *, as_of: object = None
) -> VolEstimate:
    """Fit the volatility model of ``spec`` to a price frame and compute horizon risk.

    Parameters
    ----------
    prices : pandas.DataFrame
        Price frame: UTC ``DatetimeIndex`` named ``ts``, columns ``open, high, low, close,
        volume``.
    freq : {'1h', '4h', '1d'}
        Bar frequency of ``prices``.
    spec : FitSpec, optional
        Defaults to ``FitSpec()``.
    as_of : timestamp-like, optional
        Use only bars with ``ts <= as_of`` (no look-ahead). Naive times are UTC.

    Returns
    -------
    VolEstimate
        All volatilities per bar (fractions); VaR/ES as fractions of price over
        ``spec.horizon_hours``.

    Raises
    ------
    DataError
        The frame is not a valid price frame.
    HistoryError
        Fewer than 2 usable returns up to ``as_of``.

    Warns
    -----
    FallbackWarning
        A guard tripped and EWMA was used (the reason is in ``VolEstimate.fallback``).
    """
    spec = FitSpec() if spec is None else spec
    validate_prices(prices, freq)
    px = prices_as_of(prices, as_of)
    rs = returns_with_report(px, freq, allow_gaps=spec.allow_gaps)
    notes = []
    if rs.report.dropped_returns:
        notes.append(
            f"{rs.report.dropped_returns} return(s) spanning {rs.report.n_gaps} gap(s) "
            f"({rs.report.missing_bars} missing bar(s)) were dropped"
        )
    return fit_returns(rs.returns, freq, spec, notes=notes)


# ---------------------------------------------------------------------------------------------
# model comparison
# ---------------------------------------------------------------------------------------------


def compare_models(
    prices: pd.DataFrame,
    freq: str,
    *,
    holdout: int,
    candidates: Sequence[ModelName | str] = ("garch", "gjr", "egarch", "ewma"),
    dist: DistName | str = DistName.T,
    mean: MeanName | str = MeanName.ZERO,
    proxy: str = "squared_returns",
    ewma_lambda: float = 0.94,
    as_of: object = None,
    allow_gaps: bool = False,
    engine: FitEngine | str = FitEngine.FAST,
) -> pd.DataFrame:
    """Out-of-sample one-step variance forecast losses of candidate models.

    Parameters are estimated **once**, on the returns before the holdout window; the model
    is then filtered through the holdout with those fixed parameters (no re-estimation), and
    the conditional variance ``sigma2_{t|t-1}`` is the one-step forecast of bar ``t``. EWMA
    has no estimated parameters and is filtered the same way.

    Parameters
    ----------
    prices : pandas.DataFrame
        Price frame.
    freq : {'1h', '4h', '1d'}
        Bar frequency.
    holdout : int
        Number of final returns held out, >= 10, leaving >= 100 for estimation.
    candidates : sequence of {'garch', 'gjr', 'egarch', 'ewma'}
        Models to compare.
    dist, mean : str
        Distribution and mean of the GARCH-family candidates.
    proxy : {'squared_returns', 'parkinson'}
        Variance proxy the forecasts are scored against: squared log returns, or the
        Parkinson (1980) variance of the bar.
    ewma_lambda : float, default 0.94
    as_of : timestamp-like, optional
        Use only bars up to ``as_of``.
    allow_gaps : bool, default False
    engine : {'fast', 'arch'}, default 'fast'
        Who estimates the GARCH-family parameters, as :attr:`FitSpec.engine`: ``fast``, the compiled engine
        (:func:`riskparams.fastgarch.fit_garch`: arch's likelihood, constraints and starting values, so arch's
        optimum, in ~1/20 of the time) for normal and t innovations, arch's optimiser when the compiled fit
        fails and for the skewed t; ``arch``: always arch's optimiser. Where arch's own SLSQP stops early
        (hourly crypto returns are small in percent, see :func:`_fit_rescaled`) the compiled fit is at the
        maximum arch reaches from a rescaled start.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, columns ``model, dist, mean, proxy, n_train, n_holdout,
        qlike, mse, status``: mean QLIKE (``log h + proxy/h``) and MSE of the variance
        forecasts in fractions squared; ``status`` is ``'ok'`` or why the model could not be
        scored. Sorted by QLIKE (lower is better).
    """
    if not (_is_int(holdout) and holdout >= 10):
        raise ValueError(f"holdout must be an integer >= 10, got {holdout!r}")
    if proxy not in ("squared_returns", "parkinson"):
        raise ValueError(f"proxy must be one of 'squared_returns', 'parkinson', got {proxy!r}")
    d: DistName = _choice(DistName, "dist", dist)
    mn: MeanName = _choice(MeanName, "mean", mean)
    models: list[ModelName] = [_choice(ModelName, "candidates", c) for c in candidates]
    if ModelName.AUTO in models:
        raise ValueError("candidates must not contain 'auto'")
    fast_ok = _choice(FitEngine, "engine", engine) is FitEngine.FAST and d in (DistName.NORMAL, DistName.T)
    validate_prices(prices, freq)
    px = prices_as_of(prices, as_of)
    r = returns_with_report(px, freq, allow_gaps=allow_gaps).returns
    n = int(r.size)
    n_train = n - holdout
    if n_train < 100:
        raise HistoryError(f"need at least 100 returns before a holdout of {holdout}, got {n_train}")
    y = r.to_numpy(dtype=float) * 100.0
    if proxy == "squared_returns":
        target = (r.to_numpy(dtype=float) ** 2)[n_train:]
    else:
        target = parkinson_variance(px).reindex(r.index).to_numpy(dtype=float)[n_train:]
    rows = []
    for m in models:
        status = "ok"
        fc: FloatArray | None = None
        try:
            if m is ModelName.EWMA:
                mu = float(np.mean(y[:n_train])) if mn is MeanName.CONSTANT else 0.0
                e = y - mu
                filt = ewma_variance(e, ewma_lambda)
                fc = filt[n_train - 1 : n - 1] / 1e4
            else:
                params = _compiled_params(y[:n_train], m, d, mn) if fast_ok else None
                if params is None:
                    res = _arch_fit(_make_model(y[:n_train], m, d, mn), None)
                    if int(res.convergence_flag) != 0:
                        status = f"optimizer did not converge (flag {int(res.convergence_flag)})"
                    else:
                        params = res.params.to_numpy()
                if params is not None:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        full = _make_model(y, m, d, mn).fix(params)
                    fc = np.asarray(full.conditional_volatility, dtype=float)[n_train:] ** 2 / 1e4
        except Exception as exc:
            status = f"fit failed ({type(exc).__name__}: {exc})"
        if fc is not None and not (np.all(np.isfinite(fc)) and np.all(fc > 0)):
            status, fc = "non-finite or zero variance forecasts", None
        ok = fc is not None
        mask = np.isfinite(target)
        rows.append(
            {
                "model": m.value,
                "dist": DistName.NORMAL.value if m is ModelName.EWMA else d.value,
                "mean": mn.value,
                "proxy": proxy,
                "n_train": n_train,
                "n_holdout": int(mask.sum()),
                "qlike": float(np.mean(qlike_loss(target[mask], fc[mask])))
                if ok and fc is not None
                else math.nan,
                "mse": float(np.mean(mse_loss(target[mask], fc[mask])))
                if ok and fc is not None
                else math.nan,
                "status": status,
            }
        )
    out = pd.DataFrame(rows)
    return out.sort_values("qlike", na_position="last", kind="stable").reset_index(drop=True)

"""Volatility estimates from the compiled walk-forward: a :class:`~riskparams.volatility.VolEstimate` at any
bar from the fitted state of :func:`riskparams.fastgarch.walk_forward_many`, without arch.

Part of the volatility layer (with :mod:`riskparams.volatility`, which it shares every formula with, and
:mod:`riskparams.fastgarch`); the backtest's fast engine (:mod:`riskparams.backtest`) reads its estimates
here. Units as in :mod:`riskparams.volatility`: returns and volatilities are fractions per bar; model
parameters keep arch's names and its percent convention.

What an estimate is built from
------------------------------
On a bar, the walk-forward's state for that bar (:class:`FastDay`: the parameters of the last refit, the
one-step forecast) and the window of returns it was fitted on give:

* ``params``, ``next_vol`` (the one-step forecast), ``persistence``
  (:func:`~riskparams.volatility.persistence`, ``kappa = 0.5``: the compiled engine runs symmetric laws);
* the term structure over ``term_k`` bars: ``V_k`` the **sum of the 1..k-step variance forecasts**
  (:func:`~riskparams.volatility.horizon_variance_sums`; EGARCH with the closed-form ``E|z|`` of
  :func:`~riskparams.volatility.standardized_abs_mean`), and per stored horizon three grids: the **fitted
  innovation law (unit-variance t(nu) or normal) scaled to** ``sqrt(V_k)`` around ``k mu``
  (:func:`~riskparams.measures.unit_ppf`; exact for one bar, for ``k > 1`` an approximation: a sum of
  GARCH-t returns is not t, and arch's own path simulates), filtered historical simulation (the window's
  standardized residuals, :func:`riskparams.fastgarch.std_residuals`, scaled the same way; at least 100)
  and the caller's historical-simulation grids;
* ``horizon_vol`` at ``h`` bars from that term, the fitted VaR/ES of both tails from the same law
  (:func:`~riskparams.measures.parametric_risk`), ``long_run_vol``
  (:func:`~riskparams.volatility.unconditional_vol`; ``inf`` for an integrated fit), and the caller's
  stressed volatility (:class:`ExpandingVol` gives it, with the lookback volatility, for every bar).

Guards as in :func:`~riskparams.volatility.fit_returns`: a fit at or above
:func:`~riskparams.volatility.persistence_limit` is kept as an **integrated** model when
:func:`~riskparams.volatility.integrated_allowed` for the term's longest horizon (persistence at most 1),
and otherwise falls back to EWMA (:func:`~riskparams.volatility.ewma_filter`; a Student-t fitted on its
residuals unless the policy asks for the normal). Not available here: skewed-t innovations (replaced by t,
:func:`fast_dist`), residual diagnostics, information criteria of the estimate (NaN), and ``risk_method``
'fhs' / 'max' (the fitted law is the headline; noted).

Automatic model choice: with ``model='auto'`` every candidate of :func:`fast_models` is walked forward and
:func:`day_selector` keeps, bar by bar, the lowest BIC among the valid fits as
:func:`~riskparams.volatility.fit_volatility` does (fits past the persistence guard ranked last). One
difference stays: ``fit_volatility`` leaves EGARCH out of ``auto`` for fat tails beyond one bar even when
it is the only candidate (and then falls back to EWMA), while the walk-forward keeps a lone EGARCH.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskparams import fastgarch
from riskparams.measures import parametric_risk, unit_ppf
from riskparams.returns import hours_per_bar
from riskparams.term import HorizonQuantiles, RiskTerm, TermMethod, quantile_levels, term_bars
from riskparams.volatility import (
    DistName,
    FitSpec,
    MeanName,
    ModelName,
    RiskMethod,
    VolEstimate,
    ewma_filter,
    fit_t_nu,
    horizon_variance_sums,
    integrated_allowed,
    persistence,
    persistence_limit,
    sample_vol,
    standardized_abs_mean,
    unconditional_vol,
)

__all__ = [
    "ExpandingVol",
    "FastDay",
    "FastLaw",
    "day_selector",
    "fast_day",
    "fast_dist",
    "fast_law",
    "fast_models",
    "law_estimate",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ExpandingVol:
    """Sample and stressed volatility of every prefix of a return series: entry ``k`` is computed from the
    first ``k`` returns only (no look-ahead), in one pass.

    Attributes
    ----------
    lookback : ndarray, shape (n + 1,)
        ``lookback[k]``: the sample standard deviation (``ddof=1``) of ``r[:k]`` (NaN below two returns), the
        long-run volatility of the anti-procyclicality floor (:func:`~riskparams.volatility.sample_vol`, by
        running sums).
    stressed : ndarray, shape (n + 1,)
        ``stressed[k]``: :func:`~riskparams.volatility.stressed_vol` of ``r[:k]`` over ``window`` bars.
    """

    lookback: FloatArray
    stressed: FloatArray

    @classmethod
    def build(cls, r: FloatArray, window: int) -> ExpandingVol:
        """From log returns ``r`` (fractions, finite) and the stressed-volatility window (bars)."""
        n = r.size
        k = np.arange(n + 1, dtype=float)
        c1 = np.concatenate([[0.0], np.cumsum(r)])
        c2 = np.concatenate([[0.0], np.cumsum(r * r)])
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (c2 - c1 * c1 / np.where(k > 0, k, 1.0)) / np.where(k > 1, k - 1.0, np.nan)
        lookback = np.sqrt(np.maximum(var, 0.0))
        lookback[:2] = np.nan
        roll = pd.Series(r).rolling(window, min_periods=window).std(ddof=1).to_numpy(dtype=float)
        run_max = pd.Series(roll).cummax().to_numpy(dtype=float)  # NaN until the first full window
        stressed = np.empty(n + 1)
        stressed[: window] = lookback[: window]
        stressed[window:] = run_max[window - 1:]
        return cls(lookback=lookback, stressed=stressed)


def fast_models(spec: FitSpec, h: int) -> tuple[ModelName, ...]:
    """The models the walk-forward runs for ``spec`` and a horizon of ``h`` bars: ``spec.model``, or for
    ``auto`` every candidate (each forecast then keeps the lowest BIC, :func:`day_selector`), without
    EGARCH when its ``h``-bar variance is infinite (t or skewed-t innovations and ``h > 1``, which
    :func:`~riskparams.volatility.fit_volatility` skips too) unless it is the only candidate."""
    if spec.model is not ModelName.AUTO:
        return (spec.model,)
    models = tuple(spec.candidates)
    if spec.dist is not DistName.NORMAL and h > 1 and len(models) > 1:
        models = tuple(m for m in models if m is not ModelName.EGARCH)
    return models


def fast_dist(spec: FitSpec) -> tuple[DistName, str]:
    """The innovation law the compiled engine fits for ``spec`` and a note when it differs (skewed t -> t)."""
    if spec.dist is DistName.SKEWT:
        return DistName.T, "skewed-t innovations replaced by Student-t in the fast engine"
    return spec.dist, ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FastDay:
    """The walk-forward's state for one forecast.

    Attributes
    ----------
    params : dict
        The last refit's parameters (arch's names, percent convention).
    mu : float
        Mean log return per bar, fraction.
    sigma, hsig, last_sigma : float
        Next-bar volatility, the engine's own horizon volatility and the previous bar's forecast, fractions.
    loglik : float
        Log-likelihood of the last finite refit (arch's, percent returns).
    ok : bool
        Finite forecast and parameters.
    """

    params: dict[str, float]
    mu: float
    sigma: float
    hsig: float
    last_sigma: float
    loglik: float
    ok: bool


EWMA_DAY = FastDay(params={}, mu=0.0, sigma=math.nan, hsig=math.nan, last_sigma=math.nan, loglik=math.nan, ok=True)
"""The state the estimate (:func:`law_estimate`) takes for a policy model ``ewma`` (filtered from the window itself)."""


def fast_day(res: fastgarch.WalkForwardResult, j: int) -> FastDay:
    """Forecast ``j`` of a walk-forward result."""
    params = {n: float(v) for n, v in zip(res.param_names, res.params[j], strict=True)}
    ok = bool(np.isfinite(res.sigma[j])) and all(math.isfinite(v) for v in params.values())
    last = float(res.sigma[j - 1]) if j > 0 else math.nan
    ll_hist = res.loglikelihood[: j + 1]
    fin = np.flatnonzero(np.isfinite(ll_hist))
    ll = float(ll_hist[fin[-1]]) if fin.size else math.nan
    return FastDay(params=params, mu=float(res.mu[j]), sigma=float(res.sigma[j]), hsig=float(res.horizon_sigma[j]),
                   last_sigma=last, loglik=ll, ok=ok)


def day_selector(
    fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None, persistence_max: float, integrated_ok: bool = False
) -> Callable[[int], tuple[ModelName, FastDay]]:
    """Forecast ``j``'s model and state. With several models (policy model ``auto``), as
    :func:`~riskparams.volatility.fit_volatility` chooses: among the fits that are valid and usable, the
    lowest BIC ``-2 loglik + k ln(window)`` at their last refit (the fast engine's log-likelihood is arch's).
    A fit at or above the persistence guard (``persistence_max``) is usable when ``integrated_ok`` (kept as
    an integrated model: persistence at most 1) and ranked after the usable ones otherwise (when every valid
    fit is past the guard, the lowest BIC of those: the estimate then falls back to EWMA, as arch's path
    does); when none is valid, the first model's failed day (the caller then fits with arch)."""

    def day(j: int) -> tuple[ModelName, FastDay]:
        assert fast
        ranked: list[tuple[bool, float, int, ModelName, FastDay]] = []
        first: tuple[ModelName, FastDay] | None = None
        for order, (model, res) in enumerate(fast.items()):
            d = fast_day(res, j)
            if first is None:
                first = (model, d)
            if not (d.ok and math.isfinite(d.loglik)):
                continue
            pers = persistence(model, d.params)
            guarded = pers >= persistence_max and not (integrated_ok and pers <= 1.0 + 1e-6)
            bic = -2.0 * d.loglik + len(res.param_names) * math.log(res.window)
            ranked.append((guarded, bic, order, model, d))
        if not ranked:
            assert first is not None
            return first
        _g, _b, _o, model, d = min(ranked)
        return model, d

    return day


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FastLaw:
    """The fitted law of one bar and its term structure (:func:`fast_law`): everything of an estimate but its
    headline (the VaR/ES at ``h`` bars and the policy's confidence, the estimate (:func:`law_estimate`)). Shared by the
    estimates of every confidence whose quantile grid is the same (:func:`riskparams.term.quantile_levels`:
    every ``1 - q`` among its standard tail levels, 99 %, 99.5 % and 99.9 % among them) and every headline
    horizon within the term; read-only.

    Attributes
    ----------
    model, dist : ModelName, DistName
        The law as estimated (EWMA after a fallback).
    params : mapping
        arch's names and percent convention.
    mu : float
        Mean return per bar (fraction); 0 for the zero mean.
    nu : float or None
        Student-t degrees of freedom (None: normal).
    sigma, last : float
        One-step forecast and the last in-sample conditional volatility, per bar (fractions).
    term : RiskTerm
        The term structure over ``max(term_k, h)`` bars.
    unit_levels, unit : ndarray, shape (m,)
        The quantile grid's levels and the standardized innovation's quantiles there.
    """

    model: ModelName
    dist: DistName
    params: Mapping[str, float]
    mu: float
    nu: float | None
    sigma: float
    last: float
    loglik: float
    fallback: str | None
    persistence: float
    integrated: bool
    long_run: float
    term: RiskTerm
    unit_levels: FloatArray
    unit: FloatArray
    freq: str
    bar_hours: float
    n_obs: int
    engine: str


def fast_law(
    *,
    model: ModelName,
    dist: DistName,
    spec: FitSpec,
    freq: str,
    h: int,
    term_k: int,
    day: FastDay,
    window_returns: FloatArray,
    empirical: Sequence[HorizonQuantiles] | None,
) -> FastLaw:
    """The fitted law and term structure of the estimate (:func:`law_estimate`) (its parameters; ``h`` only sets the term's
    reach, ``max(term_k, h)`` bars)."""
    q = float(spec.confidence)
    p = day.params
    fallback = None
    pers = math.nan
    integrated = False
    bar_h = float(hours_per_bar(freq))
    if model is not ModelName.EWMA:
        pers = persistence(model, p)
        limit = persistence_limit(spec, freq)
        if pers >= limit:
            if integrated_allowed(spec, term_k * bar_h) and pers <= 1 + 1e-6:
                integrated = True
            else:
                fallback = f"persistence {pers:.6f} >= {limit:.6f} (max half-life or max_persistence)"
    use_ewma = model is ModelName.EWMA or fallback is not None
    y = window_returns
    if use_ewma:
        lam = float(spec.ewma_lambda)
        ew = ewma_filter(y, lam, spec.mean)
        mu, z, n = ew.mu, ew.z, y.size
        last = float(ew.cond_vol[-1]) if n else math.nan
        sigma = math.sqrt(ew.sigma2_next)
        nu = None
        if spec.dist is not DistName.NORMAL and n >= 30 and np.ptp(z) > 0:
            nu, _ll = fit_t_nu(z)
        params = {"lambda": lam} if spec.mean is MeanName.ZERO else {"mu": mu * 100.0, "lambda": lam}
        if nu is not None:
            params["nu"] = nu
        est_model, est_dist, pers = ModelName.EWMA, (DistName.NORMAL if nu is None else DistName.T), 1.0
        long_run = sample_vol(y)
        loglik = math.nan
        s2_pct = ew.sigma2_next * 1e4
    else:
        nu = p.get("nu") if dist is DistName.T else None
        sigma, mu, last = day.sigma, day.mu, day.last_sigma
        params = dict(p)
        est_model, est_dist = model, dist
        abs_mean = standardized_abs_mean(nu) if model is ModelName.EGARCH else None
        long_run = math.inf if integrated else unconditional_vol(model, p, pers, abs_mean) / 100.0
        loglik = day.loglik
        s2_pct = (sigma * 100.0) ** 2
        z = fastgarch.std_residuals(p, y, model=model, dist=dist, mean=spec.mean)
    bars = term_bars(max(term_k, h))
    sums = horizon_variance_sums(est_model, params, s2_pct, bars, persistence=pers,
                                 abs_mean=standardized_abs_mean(nu) if est_model is ModelName.EGARCH else None)
    variances = [v / 1e4 for v in sums]
    levels = quantile_levels(q)
    unit = np.asarray(unit_ppf(nu)(levels), dtype=float)  # the law's standardized quantiles, once
    zz = np.asarray(z, dtype=float)
    zz = zz[np.isfinite(zz)]
    grids: dict[str, list[HorizonQuantiles]] = {
        TermMethod.FITTED.value: [HorizonQuantiles.from_unit(levels, unit, k * mu, math.sqrt(v), "fitted")
                                  for k, v in zip(bars, variances, strict=True)]}
    if zz.size >= 100:
        grids[TermMethod.FHS.value] = [HorizonQuantiles.from_samples(k * mu + math.sqrt(v) * zz, q, "fhs")
                                       for k, v in zip(bars, variances, strict=True)]
    if empirical is not None:
        grids[TermMethod.EMPIRICAL.value] = list(empirical)
    law = f"{est_model.value}-{est_dist.value}" + (f" (nu {nu:.2f})" if nu is not None else "") + (
        ", integrated" if integrated else "")
    return FastLaw(model=est_model, dist=est_dist, params=params, mu=float(mu), nu=nu, sigma=float(sigma),
                   last=float(last), loglik=float(loglik), fallback=fallback, persistence=float(pers),
                   integrated=integrated, long_run=float(long_run),
                   term=RiskTerm.from_grids(bar_h, bars, variances, grids, law), unit_levels=levels, unit=unit, freq=freq,
                   bar_hours=bar_h,
                   n_obs=int(window_returns.size), engine="fast" if not use_ewma else "ewma")


def law_estimate(law: FastLaw, *, spec: FitSpec, h: int, as_of: pd.Timestamp, stressed: float, stress_window: int,
                 notes: tuple[str, ...]) -> VolEstimate:
    """The :class:`~riskparams.volatility.VolEstimate` of a fitted law with its headline: the horizon
    volatility, VaR and ES at ``h`` bars (within the law's term) and ``spec.confidence``."""
    q = float(spec.confidence)
    term, mu, nu, bar_h = law.term, law.mu, law.nu, law.bar_hours
    hsig = math.sqrt(term.variance(h * bar_h))
    risk = parametric_risk(h * mu, hsig, q, nu)
    hq = HorizonQuantiles.from_unit(law.unit_levels, law.unit, h * mu, hsig)
    all_notes = list(notes)
    if spec.risk_method is not RiskMethod.FITTED:
        all_notes.append(f"risk_method '{spec.risk_method.value}': the fast engine's filtered historical simulation "
                         "scales the window's standardized residuals to each horizon; the fitted distribution is used")
    return VolEstimate(
        model=law.model, dist=law.dist, mean=spec.mean, params=dict(law.params), loglik=law.loglik, aic=math.nan,
        bic=math.nan, converged=True, fallback=law.fallback, n_obs=law.n_obs, freq=law.freq, as_of=as_of,
        last_vol=law.last, next_vol=law.sigma, horizon_hours=float(spec.horizon_hours), horizon_bars=h,
        horizon_vol=hsig, var=risk.var, es=risk.es, worse_tail=risk.worse_tail.value, confidence=q,
        risk_method=RiskMethod.FITTED, fitted_risk=risk, fhs_risk=None, long_run_vol=law.long_run,
        stressed_vol=stressed, stress_window=stress_window, persistence=law.persistence,
        conditional_vol=pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float), notes=tuple(all_notes),
        spec_key=spec.key(), horizon_quantiles=hq, term=term, nu=nu, integrated=law.integrated,
        horizon_basis=term.basis(h * bar_h), engine=law.engine,
    )

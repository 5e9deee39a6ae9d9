"""Public API of :mod:`riskparams.fastgarch`: fits, log-likelihoods and walk-forwards.

Part of :mod:`riskparams.fastgarch` (see its docstring for the method).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from scipy import special

from riskparams.domain import DistName, MeanName, ModelName
from riskparams.fastgarch._common import (
    _DIST_CODE,
    _FALLBACK_STATUSES,
    _FULL_NAMES,
    _MAXIT_WARM,
    _MEANS,
    _MODEL_CODE,
    _NFULL,
    _S_CALLBACK,
    _S_FAILED,
    _TOL,
    RECHECK_EVERY,
    FitStatus,
    FloatArray,
    _backcast_at,
    _i64,
    _window_stats,
)
from riskparams.fastgarch._fit import (
    _horizon_variance,
    _std_resids,
)
from riskparams.fastgarch._walk import (
    _fit_single,
    _forecast_at,
    _loglik_at,
    _walk_many_parallel,
    _walk_many_serial,
)

# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

_SCALE = 100.0  # fractions -> percent, arch's recommended scale


def _param_names(model: ModelName, dist: DistName, mean: MeanName) -> tuple[str, ...]:
    names = []
    if mean is MeanName.CONSTANT:
        names.append("mu")
    names += ["omega", "alpha[1]"]
    if model is not ModelName.GARCH:
        names.append("gamma[1]")
    names.append("beta[1]")
    if dist is DistName.T:
        names.append("nu")
    return tuple(names)


def _full_index(names: tuple[str, ...]) -> list[int]:
    return [_FULL_NAMES.index(nm) for nm in names]


def _choice(supported: Sequence[StrEnum], name: str, value: object) -> Any:
    """The member of ``supported`` (the engine's subset of a shared choice) named by ``value``."""
    for member in supported:
        if value is member or (isinstance(value, str) and value == member.value):
            return member
    allowed = ", ".join(repr(e.value) for e in supported)
    raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_confidence(confidence: object) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0.5 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence!r}")
    return float(confidence)


def _as_returns(returns: npt.ArrayLike, name: str = "returns") -> FloatArray:
    arr = np.ascontiguousarray(np.asarray(returns, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _std_quantile(dist: DistName, nu: FloatArray, p: float) -> FloatArray:
    """Lower-tail ``p`` quantile of the unit-variance innovation (Student-t scaled by sqrt((nu-2)/nu))."""
    if dist is DistName.T:
        with np.errstate(invalid="ignore"):
            return np.asarray(special.stdtrit(nu, p) * np.sqrt((nu - 2.0) / nu), dtype=np.float64)
    return np.full(nu.shape, special.ndtri(p))


def _freeze(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True, kw_only=True)
class GarchFit:
    """One window's maximum-likelihood fit (arch's conventions, see the module docstring).

    Attributes
    ----------
    params : Mapping[str, float]
        Estimates keyed by arch's names (``mu``, ``omega``, ``alpha[1]``, ``gamma[1]``,
        ``beta[1]``, ``nu``), for **percent** returns (read-only).
    loglikelihood : float
        Log-likelihood at ``params`` (percent returns; equals arch's ``loglikelihood``).
    status : FitStatus
        ``COLD_INITIAL`` when the compiled fit converged, ``FAILED`` otherwise (params NaN).
    n_passes : int
        Likelihood passes used (value and gradient; the cold fit's also give the Hessian).
    sigma_next : float
        One-step-ahead conditional volatility, fraction per bar.
    model, dist, mean : ModelName, DistName, MeanName
        The specification.
    nobs : int
        Number of returns in the window.
    """

    params: Mapping[str, float]
    loglikelihood: float
    status: FitStatus
    n_passes: int
    sigma_next: float
    model: ModelName
    dist: DistName
    mean: MeanName
    nobs: int

    @property
    def converged(self) -> bool:
        """Whether the optimiser met its convergence test."""
        return self.status is not FitStatus.FAILED

    @property
    def persistence(self) -> float:
        """``alpha + gamma/2 + beta`` (GARCH/GJR) or ``beta`` (EGARCH)."""
        if self.model is ModelName.EGARCH:
            return self.params["beta[1]"]
        return self.params["alpha[1]"] + 0.5 * self.params.get("gamma[1]", 0.0) + self.params["beta[1]"]


def fit_garch(
    returns: npt.ArrayLike,
    *,
    model: ModelName | str = ModelName.GARCH,
    dist: DistName | str = DistName.T,
    mean: MeanName | str = MeanName.CONSTANT,
    tol: float = _TOL,
) -> GarchFit:
    """Fit one window cold (arch's starting values, compiled Newton optimiser).

    Parameters
    ----------
    returns : array_like, shape (n_obs,)
        Log returns as fractions; scaled to percent internally.
    model : {'garch', 'gjr', 'egarch'}
        Variance model.
    dist : {'t', 'normal'}
        Innovation distribution.
    mean : {'constant', 'zero'}
        Mean model.
    tol : float
        Convergence threshold on the Newton decrement (log-likelihood units).

    Returns
    -------
    GarchFit
        The fit; the same optimum as ``arch_model(100 * returns, ...).fit()`` up to arch's
        optimiser tolerance (arch stops within ~1e-6 of the maximum log-likelihood; this fit
        stops within ~``tol / 2``).
    """
    model_e = _choice(tuple(_MODEL_CODE), "model", model)
    dist_e = _choice(tuple(_DIST_CODE), "dist", dist)
    mean_e = _choice(_MEANS, "mean", mean)
    y = _as_returns(returns) * _SCALE
    if y.shape[0] < 20:
        raise ValueError(f"returns must have at least 20 observations, got {y.shape[0]}")
    x = np.zeros(_NFULL)
    status, f, passes, s_next = _fit_single(
        y, _MODEL_CODE[model_e], _DIST_CODE[dist_e], mean_e is MeanName.CONSTANT, float(tol), x
    )
    names = _param_names(model_e, dist_e, mean_e)
    ok = status != _S_FAILED
    params = {nm: float(x[i]) if ok else math.nan for nm, i in zip(names, _full_index(names), strict=True)}
    return GarchFit(
        params=MappingProxyType(params),
        loglikelihood=float(f) if ok else math.nan,
        status=FitStatus(status),
        n_passes=int(passes),
        sigma_next=math.sqrt(s_next) / _SCALE if ok else math.nan,
        model=model_e,
        dist=dist_e,
        mean=mean_e,
        nobs=int(y.shape[0]),
    )


def fit_garch_t(returns: npt.ArrayLike, *, mean: MeanName | str = MeanName.CONSTANT) -> GarchFit:
    """GARCH(1,1) with Student-t innovations on one window: :func:`fit_garch` with its defaults.

    Parameters
    ----------
    returns : array_like, shape (n_obs,)
        Log returns as fractions.
    mean : {'constant', 'zero'}
        Mean model.

    Returns
    -------
    GarchFit
        The fit (parameters for percent returns).
    """
    return fit_garch(returns, model=ModelName.GARCH, dist=DistName.T, mean=mean)


def _params_to_full(
    params: Any, model: ModelName, dist: DistName, mean: MeanName
) -> FloatArray:
    names = _param_names(model, dist, mean)
    if isinstance(params, Mapping):
        missing = [nm for nm in names if nm not in params]
        if missing:
            raise ValueError(f"params is missing {missing}")
        values = [float(params[nm]) for nm in names]
    else:
        values = [float(v) for v in np.asarray(params, dtype=np.float64).ravel()]
        if len(values) != len(names):
            raise ValueError(f"params must have {len(names)} values {names}, got {len(values)}")
    x = np.zeros(_NFULL)
    for i, v in zip(_full_index(names), values, strict=True):
        x[i] = v
    return x


def loglikelihood(
    params: Any,
    returns: npt.ArrayLike,
    *,
    model: ModelName | str = ModelName.GARCH,
    dist: DistName | str = DistName.T,
    mean: MeanName | str = MeanName.CONSTANT,
    gradient: bool = False,
) -> Any:
    """Compiled log-likelihood of arch's model at given parameters.

    Parameters
    ----------
    params : Mapping[str, float] or array_like
        Parameters for percent returns, keyed by arch's names or in arch's order.
    returns : array_like, shape (n_obs,)
        Log returns as fractions (scaled to percent internally).
    model, dist, mean : str
        The specification, as in :func:`fit_garch`.
    gradient : bool
        Also return the analytic gradient and Hessian.

    Returns
    -------
    float or tuple[float, ndarray, ndarray]
        ``arch_model(100 * returns, ...).fix(params).loglikelihood``; with ``gradient`` also
        the gradient, shape (k,), and Hessian, shape (k, k), in arch's parameter order.
    """
    model_e = _choice(tuple(_MODEL_CODE), "model", model)
    dist_e = _choice(tuple(_DIST_CODE), "dist", dist)
    mean_e = _choice(_MEANS, "mean", mean)
    y = _as_returns(returns) * _SCALE
    x = _params_to_full(params, model_e, dist_e, mean_e)
    k = len(_param_names(model_e, dist_e, mean_e))
    g = np.zeros(k)
    h = np.zeros((k, k))
    f = float(_loglik_at(y, _MODEL_CODE[model_e], _DIST_CODE[dist_e], mean_e is MeanName.CONSTANT, x, g, h))
    if gradient:
        return f, g, h
    return f


def std_residuals(
    params: Any,
    returns: npt.ArrayLike,
    *,
    model: ModelName | str = ModelName.GARCH,
    dist: DistName | str = DistName.T,
    mean: MeanName | str = MeanName.CONSTANT,
) -> FloatArray:
    """Standardized residuals of arch's model at given parameters (as ``arch_model(...).fix(params)``).

    Parameters
    ----------
    params : Mapping[str, float] or array_like
        Parameters for percent returns, keyed by arch's names or in arch's order.
    returns : array_like, shape (n_obs,)
        Log returns as fractions.
    model, dist, mean : str
        The specification, as in :func:`fit_garch`.

    Returns
    -------
    ndarray, shape (n_obs,)
        ``(y_t - mu) / sigma_t`` with arch's EWMA backcast at the given mean and its variance bounds
        (for filtered historical simulation).
    """
    model_e = _choice(tuple(_MODEL_CODE), "model", model)
    dist_e = _choice(tuple(_DIST_CODE), "dist", dist)
    mean_e = _choice(_MEANS, "mean", mean)
    y = _as_returns(returns) * _SCALE
    x = _params_to_full(params, model_e, dist_e, mean_e)
    n = int(y.shape[0])
    lb, ub = np.empty(n), np.empty(n)
    _window_stats(y, 0, n, mean_e is MeanName.CONSTANT, lb, ub)
    bc = _backcast_at(y, 0, n, float(x[0]))
    if model_e is ModelName.EGARCH:
        bc = math.log(bc)
    out = np.empty(n)
    _std_resids(_MODEL_CODE[model_e], y, 0, n, x, bc, lb, ub, out)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkForwardResult:
    """Daily (per-bar) walk-forward forecasts of one asset; every array has shape (n_fc,).

    Forecast ``j`` is for bar ``index[j]`` and uses only the ``window`` returns before it
    (``returns[index[j] - window : index[j]]``): no look-ahead. The last forecast may be for the
    bar after the data (``index[-1] == n_obs``).

    Attributes
    ----------
    index : ndarray of int64
        Bar each forecast is for (position in the input returns).
    params : ndarray, shape (n_fc, k)
        Parameters in force (arch's percent convention), columns ``param_names``.
    param_names : tuple[str, ...]
        arch's parameter names.
    status : ndarray of int8
        :class:`FitStatus` code of the day.
    loglikelihood : ndarray
        Maximised log-likelihood on refit days (NaN on filtered days).
    n_passes : ndarray of int32
        Likelihood passes spent on the day's fit, re-checks included (0 when filtered).
    mu : ndarray
        Conditional mean of the next bar's log return, fraction.
    sigma : ndarray
        Conditional volatility of the next bar's log return, fraction.
    var_lower, var_upper, var : ndarray
        One-bar Value-at-Risk at ``confidence`` as a fraction of the price: the loss of a long
        (``1 - exp(mu + sigma q_p)``), of a short (``exp(mu + sigma q_{1-p}) - 1``) and the
        worse of the two; ``q`` the quantiles of the unit-variance innovation distribution.
    horizon_sigma : ndarray
        ``sqrt(V_h)``, ``V_h`` the sum of the 1..``horizon_bars``-step variance forecasts,
        fraction.
    margin_lower, margin_upper, margin : ndarray
        Horizon margin, fraction of the price: the same quantiles for the ``horizon_bars``-bar
        log return taken as ``h mu + sqrt(V_h) Z`` with ``Z`` the fitted unit-variance
        innovation (an approximation: a sum of GARCH-t returns is not exactly t).
    model, dist, mean : ModelName, DistName, MeanName
        Specification.
    window, refit_every, horizon_bars : int
        Rolling-window length, refit schedule, margin horizon (bars).
    confidence : float
        VaR / margin confidence.
    schedule : str
        Plain-words schedule, e.g. ``"refit every bar"`` or ``"refit every 24 bars, filter every
        bar (not a daily re-estimation)"``.
    """

    index: npt.NDArray[np.int64]
    params: FloatArray
    param_names: tuple[str, ...]
    status: npt.NDArray[np.int8]
    loglikelihood: FloatArray
    n_passes: npt.NDArray[np.int32]
    mu: FloatArray
    sigma: FloatArray
    var_lower: FloatArray
    var_upper: FloatArray
    var: FloatArray
    horizon_sigma: FloatArray
    margin_lower: FloatArray
    margin_upper: FloatArray
    margin: FloatArray
    model: ModelName
    dist: DistName
    mean: MeanName
    window: int
    refit_every: int
    horizon_bars: int
    confidence: float
    schedule: str = field(default="")

    @property
    def refitted(self) -> npt.NDArray[np.bool_]:
        """Days whose parameters were re-estimated (not merely filtered)."""
        return np.asarray(self.status != FitStatus.FILTERED)

    @property
    def converged(self) -> npt.NDArray[np.bool_]:
        """Days with valid parameters (every status but ``FAILED``)."""
        return np.asarray(self.status != FitStatus.FAILED)

    @property
    def fallback(self) -> npt.NDArray[np.bool_]:
        """Days on which a guard fired: cold fallback, edge re-check, callback or failure."""
        return np.isin(self.status, [int(s) for s in _FALLBACK_STATUSES])

    @property
    def n_fallbacks(self) -> int:
        """Number of days on which a guard fired."""
        return int(self.fallback.sum())

    def status_counts(self) -> dict[str, int]:
        """Count of days per :class:`FitStatus` name."""
        return {s.name: int((self.status == s).sum()) for s in FitStatus}


def _schedule(refit_every: int) -> str:
    if refit_every == 1:
        return "refit every bar"
    return f"refit every {refit_every} bars, filter every bar (not a daily re-estimation)"


@dataclass(frozen=True, slots=True)
class _Spec:
    model: ModelName
    dist: DistName
    mean: MeanName
    window: int
    refit_every: int
    horizon_bars: int
    confidence: float
    edge_check: bool
    recheck_every: int
    tol: float
    maxit_warm: int


def _make_spec(
    window: object,
    model: object,
    dist: object,
    mean: object,
    refit_every: object,
    horizon_bars: object,
    confidence: object,
    edge_check: bool,
    recheck_every: object,
    tol: float,
    maxit_warm: object,
) -> _Spec:
    if not (isinstance(tol, int | float) and 0.0 < float(tol) < 1.0):
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    return _Spec(
        model=_choice(tuple(_MODEL_CODE), "model", model),
        dist=_choice(tuple(_DIST_CODE), "dist", dist),
        mean=_choice(_MEANS, "mean", mean),
        window=_check_int("window", window, 50),
        refit_every=_check_int("refit_every", refit_every, 1),
        horizon_bars=_check_int("horizon_bars", horizon_bars, 1),
        confidence=_check_confidence(confidence),
        edge_check=bool(edge_check),
        recheck_every=_check_int("recheck_every", recheck_every, 0),
        tol=float(tol),
        maxit_warm=_check_int("maxit_warm", maxit_warm, 1),
    )


def _prepare(
    series: Sequence[npt.ArrayLike] | npt.ArrayLike, spec: _Spec, start: int | None
) -> tuple[FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], list[int]]:
    """Concatenate percent returns; leading NaNs of an asset are skipped (listed later)."""
    if isinstance(series, np.ndarray) and series.ndim == 2:
        rows: list[Any] = list(series)
    elif isinstance(series, np.ndarray) and series.ndim == 1:
        rows = [series]
    else:
        rows = list(series)  # type: ignore[arg-type]
    ys: list[FloatArray] = []
    firsts: list[int] = []
    starts: list[int] = []
    short: list[int] = []
    for a, r in enumerate(rows):
        arr = np.asarray(r, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"returns of asset {a} must be one-dimensional, got shape {arr.shape}")
        finite = np.isfinite(arr)
        first = int(np.argmax(finite)) if finite.any() else arr.shape[0]
        if not finite[first:].all():
            raise ValueError(f"returns of asset {a} have NaN or inf after the first finite value")
        body = arr[first:] * _SCALE
        st = first + spec.window if start is None else int(start)
        if st < first + spec.window:
            raise ValueError(
                f"start must be >= the first finite return + window ({first + spec.window}) for asset {a}, "
                f"got {st}"
            )
        if st > arr.shape[0]:
            short.append(a)
        ys.append(body)
        firsts.append(first)
        starts.append(st - first)
    if short:
        from riskparams.exceptions import HistoryError

        raise HistoryError(
            f"not enough returns for a {spec.window}-bar window and the requested start in assets {short}"
        )
    lengths = np.array([y.shape[0] for y in ys], dtype=np.int64)
    offsets = np.zeros(len(ys) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    st_arr = np.array(starts, dtype=np.int64)
    n_fc = lengths - st_arr + 1
    out_offsets = np.zeros(len(ys) + 1, dtype=np.int64)
    np.cumsum(n_fc, out=out_offsets[1:])
    y_all = np.ascontiguousarray(np.concatenate(ys)) if ys else np.zeros(0)
    return y_all, offsets, st_arr, out_offsets, firsts


def _run_compiled(
    y_all: FloatArray,
    offsets: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    out_offsets: npt.NDArray[np.int64],
    spec: _Spec,
    parallel: bool,
) -> dict[str, np.ndarray]:
    total = int(out_offsets[-1])
    out = {
        "x": np.full((total, _NFULL), np.nan),
        "s": np.full(total, np.nan),
        "hv": np.full(total, np.nan),
        "ll": np.full(total, np.nan),
        "status": np.zeros(total, dtype=np.int8),
        "passes": np.zeros(total, dtype=np.int32),
    }
    # assets differ a lot in cost (re-checks, fallbacks): numba threads hand them out one at a time
    # instead of in equal chunks per thread
    walk = _walk_many_parallel if parallel else _walk_many_serial
    with numba.parallel_chunksize(1) if parallel else contextlib.nullcontext():
        walk(
            y_all, offsets, starts, out_offsets, spec.window, _MODEL_CODE[spec.model], _DIST_CODE[spec.dist],
            spec.mean is MeanName.CONSTANT, spec.refit_every, spec.horizon_bars, spec.maxit_warm, spec.tol,
            spec.edge_check, spec.recheck_every, out["x"], out["s"], out["hv"], out["ll"], out["status"],
            out["passes"],
        )
    return out


def _apply_callback(
    fallback: Callable[[FloatArray], Any],
    y: FloatArray,
    start: int,
    spec: _Spec,
    x: FloatArray,
    s: FloatArray,
    hv: FloatArray,
    ll: FloatArray,
    status: npt.NDArray[np.int8],
) -> None:
    """Replace FAILED days with the caller's fit (percent-return window in, arch params out)."""
    mc, dc, has_mu = _MODEL_CODE[spec.model], _DIST_CODE[spec.dist], spec.mean is MeanName.CONSTANT
    for j in np.flatnonzero(status == _S_FAILED):
        t = start + int(j)
        win = np.ascontiguousarray(y[t - spec.window : t])
        try:
            xf = _params_to_full(fallback(win.copy()), spec.model, spec.dist, spec.mean)
        except Exception:  # a failing callback leaves the day FAILED
            continue
        if not np.all(np.isfinite(xf)):
            continue
        f, s_next = _forecast_at(win, _i64(0), win.shape[0], mc, dc, has_mu, xf)
        if not (math.isfinite(s_next) and s_next > 0.0):
            continue
        x[j] = xf
        s[j] = s_next
        hv[j] = _horizon_variance(mc, xf, s_next, spec.horizon_bars)
        ll[j] = f
        status[j] = _S_CALLBACK


def _build_result(
    index: npt.NDArray[np.int64],
    x: FloatArray,
    s: FloatArray,
    hv: FloatArray,
    ll: FloatArray,
    status: npt.NDArray[np.int8],
    passes: npt.NDArray[np.int32],
    spec: _Spec,
) -> WalkForwardResult:
    names = _param_names(spec.model, spec.dist, spec.mean)
    params = np.ascontiguousarray(x[:, _full_index(names)])
    p = 1.0 - spec.confidence
    nu = x[:, 5] if spec.dist is DistName.T else np.zeros(x.shape[0])
    q = _std_quantile(spec.dist, nu, p)  # lower-tail quantile (< 0); upper is -q
    mu = x[:, 0] / _SCALE if spec.mean is MeanName.CONSTANT else np.where(np.isnan(s), np.nan, 0.0)
    sigma = np.sqrt(s) / _SCALE
    hsig = np.sqrt(hv) / _SCALE
    h = spec.horizon_bars
    var_lower = -np.expm1(mu + sigma * q)
    var_upper = np.expm1(mu - sigma * q)
    m_lower = -np.expm1(h * mu + hsig * q)
    m_upper = np.expm1(h * mu - hsig * q)
    return WalkForwardResult(
        index=_freeze(index),
        params=_freeze(params),
        param_names=names,
        status=_freeze(status),
        loglikelihood=_freeze(ll),
        n_passes=_freeze(passes),
        mu=_freeze(np.asarray(mu, dtype=np.float64)),
        sigma=_freeze(sigma),
        var_lower=_freeze(var_lower),
        var_upper=_freeze(var_upper),
        var=_freeze(np.fmax(var_lower, var_upper)),
        horizon_sigma=_freeze(hsig),
        margin_lower=_freeze(m_lower),
        margin_upper=_freeze(m_upper),
        margin=_freeze(np.fmax(m_lower, m_upper)),
        model=spec.model,
        dist=spec.dist,
        mean=spec.mean,
        window=spec.window,
        refit_every=spec.refit_every,
        horizon_bars=spec.horizon_bars,
        confidence=spec.confidence,
        schedule=_schedule(spec.refit_every),
    )


def _split(
    y_all: FloatArray,
    offsets: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    out_offsets: npt.NDArray[np.int64],
    firsts: list[int],
    out: dict[str, np.ndarray],
    spec: _Spec,
    fallback: Callable[[FloatArray], Any] | None,
) -> tuple[WalkForwardResult, ...]:
    results = []
    for a in range(starts.shape[0]):
        sl = slice(int(out_offsets[a]), int(out_offsets[a + 1]))
        x, s, hv, ll = out["x"][sl].copy(), out["s"][sl].copy(), out["hv"][sl].copy(), out["ll"][sl].copy()
        status, passes = out["status"][sl].copy(), out["passes"][sl].copy()
        if fallback is not None and (status == _S_FAILED).any():
            y = y_all[int(offsets[a]) : int(offsets[a + 1])]
            _apply_callback(fallback, y, int(starts[a]), spec, x, s, hv, ll, status)
        index = np.arange(x.shape[0], dtype=np.int64) + int(starts[a]) + firsts[a]
        results.append(_build_result(index, x, s, hv, ll, status, passes, spec))
    return tuple(results)


def walk_forward(
    returns: npt.ArrayLike,
    *,
    window: int = 1000,
    start: int | None = None,
    model: ModelName | str = ModelName.GARCH,
    dist: DistName | str = DistName.T,
    mean: MeanName | str = MeanName.CONSTANT,
    refit_every: int = 1,
    horizon_bars: int = 10,
    confidence: float = 0.99,
    fallback: Callable[[FloatArray], Any] | None = None,
    edge_check: bool = True,
    recheck_every: int = RECHECK_EVERY,
    tol: float = _TOL,
    maxit_warm: int = _MAXIT_WARM,
) -> WalkForwardResult:
    """Rolling-window walk-forward of a GARCH-family model, re-estimated every bar by default.

    Parameters
    ----------
    returns : array_like, shape (n_obs,)
        Log returns as fractions, oldest first, finite.
    window : int
        Rolling estimation window in bars (>= 50; arch's fits are unreliable below ~500).
    start : int, optional
        First bar to forecast (>= ``window``; default ``window``). Forecasts run to bar
        ``n_obs`` inclusive (the bar after the data).
    model : {'garch', 'gjr', 'egarch'}
        Variance model.
    dist : {'t', 'normal'}
        Innovation distribution.
    mean : {'constant', 'zero'}
        Mean model.
    refit_every : int
        Re-estimate every ``refit_every`` bars. ``1`` (default) is a daily refit on daily data.
        Any other value is a **different model**: the parameters are held for ``refit_every``
        bars while the variance is filtered through every new bar (e.g. hourly data with
        ``refit_every=24``: refit daily, filter hourly). The result's ``schedule`` says so.
    horizon_bars : int
        Margin horizon ``h`` in bars (e.g. 10 for a 10-day margin on daily bars).
    confidence : float
        VaR and margin confidence in (0.5, 1), e.g. 0.99.
    fallback : callable, optional
        ``fallback(y_pct) -> params`` called for days on which every compiled fit failed, with
        the window's **percent** returns, shape (window,); returns parameters in arch's order
        (or a dict by arch's names), e.g.
        ``lambda y: arch_model(y, vol='GARCH', p=1, q=1, dist='t').fit(disp='off').params``.
        Such days get status ``CALLBACK``; without it they stay ``FAILED`` (NaN).
    edge_check : bool
        Re-check warm optima at an edge with a cold fit (see the module docstring).
    recheck_every : int
        Also re-check with a cold fit every ``recheck_every`` refits without one (0: never).
        GARCH likelihoods of real crypto windows can have two maxima (e.g. ``alpha + beta``
        0.99 and 0.6); a warm path stays on one while arch, starting cold, may pick the other.
        A re-check adopts the cold fit; when it disagreed with the warm one, the next
        ``RECHECK_ALERT`` (20) refits are all re-checked. Cost: one cold fit (~4 warm fits)
        per ``recheck_every`` refits, more in such stretches.
    tol : float
        Newton-decrement convergence threshold (log-likelihood units).
    maxit_warm : int
        Newton iterations allowed to a warm start before it falls back to a cold fit.

    Returns
    -------
    WalkForwardResult
        Per-bar parameters, statuses, next-bar volatility, 1-bar VaR and horizon margin.

    Raises
    ------
    ValueError
        On an invalid argument (the message names it).
    riskparams.exceptions.HistoryError
        When there are fewer than ``start`` returns.
    """
    spec = _make_spec(
        window, model, dist, mean, refit_every, horizon_bars, confidence, edge_check, recheck_every, tol, maxit_warm
    )
    arr = _as_returns(returns)
    if start is not None:
        _check_int("start", start, spec.window)
    y_all, offsets, starts, out_offsets, firsts = _prepare([arr], spec, start)
    out = _run_compiled(y_all, offsets, starts, out_offsets, spec, parallel=False)
    return _split(y_all, offsets, starts, out_offsets, firsts, out, spec, fallback)[0]


def _pool_worker(args: tuple[list[FloatArray], dict[str, Any]]) -> tuple[WalkForwardResult, ...]:
    rows, kwargs = args
    return walk_forward_many(rows, backend="serial", **kwargs)


def walk_forward_many(
    returns: Sequence[npt.ArrayLike] | npt.ArrayLike,
    *,
    window: int = 1000,
    start: int | None = None,
    model: ModelName | str = ModelName.GARCH,
    dist: DistName | str = DistName.T,
    mean: MeanName | str = MeanName.CONSTANT,
    refit_every: int = 1,
    horizon_bars: int = 10,
    confidence: float = 0.99,
    fallback: Callable[[FloatArray], Any] | None = None,
    edge_check: bool = True,
    recheck_every: int = RECHECK_EVERY,
    tol: float = _TOL,
    maxit_warm: int = _MAXIT_WARM,
    backend: str = "threads",
    n_workers: int | None = None,
) -> tuple[WalkForwardResult, ...]:
    """:func:`walk_forward` for many assets, in parallel across assets.

    Parameters
    ----------
    returns : ndarray, shape (n_assets, n_obs), or sequence of 1-D array_like
        Log returns as fractions, one row (or array) per asset. Leading NaNs of a row mean the
        asset starts later (its ``index`` stays relative to the row); NaN after the first finite
        value is an error.
    window, start, model, dist, mean, refit_every, horizon_bars, confidence, fallback, edge_check, recheck_every
        As in :func:`walk_forward` (``start`` counts from the start of each row); also ``tol``
        and ``maxit_warm``.
    backend : {'threads', 'processes', 'serial'}
        ``'threads'`` (default): compiled ``numba.prange`` over assets, handed out one at a time,
        one asset's days sequential (warm starts). ``'processes'``: a pool of spawned processes
        over equal chunks of assets (each worker loads the cached machine code: ~1 s more).
        ``'serial'``: one thread. The benchmark measures them side by side.
    n_workers : int, optional
        Threads or processes (default: numba's thread count / CPU count).

    Returns
    -------
    tuple of WalkForwardResult
        One result per asset, in input order.
    """
    spec = _make_spec(
        window, model, dist, mean, refit_every, horizon_bars, confidence, edge_check, recheck_every, tol, maxit_warm
    )
    if backend not in ("threads", "processes", "serial"):
        raise ValueError(f"backend must be one of 'threads', 'processes', 'serial', got {backend!r}")
    if start is not None:
        _check_int("start", start, spec.window)
    if backend == "processes":
        rows: list[Any] = list(np.asarray(returns, dtype=np.float64)) if isinstance(returns, np.ndarray) else [
            np.asarray(r, dtype=np.float64) for r in returns  # type: ignore[union-attr]
        ]
        workers = n_workers or os.cpu_count() or 1
        chunks = [c for c in np.array_split(np.arange(len(rows)), workers) if c.size]
        kwargs = dict(
            window=window, start=start, model=model, dist=dist, mean=mean, refit_every=refit_every,
            horizon_bars=horizon_bars, confidence=confidence, fallback=fallback, edge_check=edge_check,
            recheck_every=recheck_every, tol=tol, maxit_warm=maxit_warm,
        )
        # spawned (not forked) workers: numba's workqueue threading layer is not fork-safe once
        # it has run; each worker loads the cached machine code
        with ProcessPoolExecutor(max_workers=len(chunks), mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_pool_worker, [([np.asarray(rows[i]) for i in c], kwargs) for c in chunks]))
        return tuple(r for part in parts for r in part)
    y_all, offsets, starts, out_offsets, firsts = _prepare(returns, spec, start)
    if backend == "threads":
        previous = numba.get_num_threads()
        if n_workers is not None:
            numba.set_num_threads(_check_int("n_workers", n_workers, 1))
        try:
            out = _run_compiled(y_all, offsets, starts, out_offsets, spec, parallel=True)
        finally:
            numba.set_num_threads(previous)
    else:
        out = _run_compiled(y_all, offsets, starts, out_offsets, spec, parallel=False)
    return _split(y_all, offsets, starts, out_offsets, firsts, out, spec, fallback)


def compile_all() -> None:
    """Compile (or load from numba's on-disk cache) every compiled entry point.

    All compiled functions use ``cache=True``: the first use in a fresh environment compiles
    them (measured ~33 s on the 2-core benchmark machine, ~25 s when idle); every later process
    loads the cached machine code (~0.7 s for everything). Calling this once after installation
    moves that cost out of the first backtest.
    """
    r = np.random.default_rng(0).standard_normal(80) * 0.01
    walk_forward(r, window=60)
    walk_forward_many([r, r], window=60)
    fit_garch(r[:60])
    loglikelihood(fit_garch(r[:60]).params, r[:60])
    walk_forward(r, window=60, fallback=lambda y: [0.0, 0.1, 0.1, 0.8, 8.0])

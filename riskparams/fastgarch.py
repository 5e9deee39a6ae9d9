"""Fast walk-forward GARCH engine: daily re-estimation in compiled code, equal to arch's fits.

This is the only module that imports :mod:`numba`; it does not import :mod:`arch`, but it
reproduces arch's (8.x) conventions exactly so that its maximum-likelihood optimum is arch's:

* returns are scaled to **percent** (x100) before fitting; reported parameters keep arch's names
  and its percent convention (``omega`` in percent squared, ``mu`` in percent per bar);
* constant mean (``mu`` estimated) or zero mean;
* the presample variance is arch's **EWMA backcast**: ``sum_i w_i e_i**2`` over the first
  ``tau = min(75, n)`` residuals, ``w_i = 0.94**i / sum_j 0.94**j``, computed from the residuals at
  the *starting* mean (the sample mean) and held fixed during the optimisation;
* arch's loose conditional-variance bounds (an EWMA of the squared starting residuals, times
  ``1e-6`` and ``1e6``, floored at ``var / 1e8`` and capped at ``1e7 (1 + max e**2)``, with arch's
  logarithmic squashing above the upper bound) are applied in every recursion;
* arch's standardized Student-t (or normal) log-likelihood;
* arch's bounds and linear constraints (the feasible set is arch's): GARCH/GJR
  ``1e-8 v <= omega <= 10 v`` (``v`` the mean squared starting residual), ``0 <= alpha <= 1``,
  ``-1 <= gamma <= 2``, ``alpha + gamma >= 0``, ``0 <= beta <= 1``,
  ``alpha + gamma / 2 + beta <= 1``; EGARCH ``|omega - ln v| <= ln 1e4``, ``0 <= beta <= 1``;
  Student-t ``2.05 <= nu <= 500``;
* arch's starting values for a cold fit (its 64-point grid scored by the Gaussian likelihood, the
  kurtosis-based ``nu``, the sample mean);
* arch's one-step forecast, whose backcast is recomputed from the residuals at the *fitted* mean.

Models: GARCH(1,1), GJR-GARCH(1,1,1) and EGARCH(1,1,1) (``p=1, o=1, q=1``, Nelson's, with the
asymmetry term), each with normal or Student-t innovations.

How it is fast
--------------
arch spends ~85 ns per observation per likelihood evaluation and ~85 evaluations per fit (SLSQP
with numerical gradients, in Python). Here:

* one compiled pass over the window gives the log-likelihood and its **analytic gradient**
  (~10 ns per observation for GARCH-t) or also its **exact Hessian** (~24 ns), from forward-mode
  recursions of the first and second derivatives of the conditional variance (GARCH's variance
  is linear in ``omega, alpha, gamma`` for fixed ``mu, beta``, so few second derivatives are
  non-zero); sums of logs are taken as logs of running products;
* the optimiser is an **active-set Newton method** on arch's linear constraints (exact KKT
  solves, the Hessian shifted only where it is not positive definite on the null space of the
  active constraints, a ratio test, Armijo backtracking, a step expansion when the quadratic
  model is too timid), working in ``ln omega`` for GARCH/GJR, all compiled: no Python per
  iteration;
* a daily refit is **warm-started** from the previous day's optimum with the previous day's
  Hessian, updated by BFGS along the steps and recomputed only when the decrement stops
  falling fast: about 3.5 gradient passes per day instead of ~85 evaluations;
* ``walk_forward_many`` runs assets in parallel threads (``numba.prange``; measured faster than
  a process pool on 2 cores, which pays for spawning workers and moving results).

EGARCH with a constant mean is not smooth in ``mu`` (``|y_t - mu|`` enters the recursion) and its
optimum often sits on a data value; the optimiser handles these kinks explicitly (see
:func:`_newton`). EGARCH's recursion has an ``exp`` on its critical path, so a value-and-gradient
pass costs about 1.5x GARCH's (15-16 ns per observation against 10-11) however the rest is
arranged; the engine keeps everything else off that path: the recursion carries ``-ln(s)/2`` so
that a multiply and an add separate one ``exp`` from the next, arch's forecast backcast is applied
as a first-order shift of the last variance instead of a second pass, the 48-point starting grid
runs as SIMD with a batched ``exp`` (:func:`_exp_batch`), the scans for the nearest kink are
vectorised min/max reductions, and a cold fit switches to value-and-gradient passes once it is
close (``_CHORD_SWITCH``) and computes no Hessian for line-search trials after a rejection.

Guards and fallbacks
--------------------
A warm fit falls back to a **cold fit** (arch's starting values, the same compiled Newton
optimiser) when it is non-finite, fails its line search, or does not converge within
``maxit_warm`` iterations (status ``COLD_FALLBACK``). A converged warm fit at an *edge* is
re-checked by a cold fit, whose result is kept when it converges (status ``EDGE_RECHECK``): it
is what arch returns, even where the warm path followed another local maximum. Edges are
persistence ``>= 0.999`` and ``omega`` within 100x of its lower bound (after a re-check that
confirms the warm optimum these are not re-checked for the next 20 refits: such stretches
last), ``nu >= 100``, for GARCH ``alpha < 1e-4`` and for GARCH/GJR ``beta < 1e-4`` (always
re-checked: ``beta`` is then barely identified, or the model has collapsed to ARCH(1), and the
likelihood often has a second maximum). Independently of edges, a cold re-check runs every
``recheck_every`` (default 10) refits, and every refit for the next 20 once a re-check found the
warm path on another maximum (real windows can have two). If the cold fit fails too
(for instance a constant window, or a window where the model is not identified), the day is
``FAILED`` and, when the caller supplies ``fallback`` (a callable, e.g. an arch fit), its
parameters are used instead (status ``CALLBACK``); otherwise the day's outputs are NaN. Every
result counts its fallbacks.

Schedules
---------
``refit_every=1`` (default) re-estimates every bar. ``refit_every=k`` is a **different model**:
parameters are re-estimated every ``k`` bars and the variance is filtered through every bar in
between with the last parameters (the result's ``schedule`` says so); on hourly data
``refit_every=HOURLY_DAILY_REFIT`` (24) refits daily and filters hourly.

Units
-----
Public inputs are **log returns as fractions** (0.01 = 1 %). Outputs are fractions per bar
(``sigma``, ``mu``) and fractions of the price (VaR, margin). Parameters are in arch's percent
convention.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from numba import njit, prange
from scipy import special

from riskparams.domain import DistName, MeanName, ModelName

__all__ = [
    "EDGE_NU",
    "EDGE_PERSISTENCE",
    "HOURLY_DAILY_REFIT",
    "DistName",
    "FitStatus",
    "GarchFit",
    "MeanName",
    "ModelName",
    "WalkForwardResult",
    "compile_all",
    "fit_garch",
    "fit_garch_t",
    "loglikelihood",
    "walk_forward",
    "walk_forward_many",
]

FloatArray = npt.NDArray[np.float64]

# --------------------------------------------------------------------------------------------
# Choices
# --------------------------------------------------------------------------------------------








class FitStatus(IntEnum):
    """How the parameters in force on a day were obtained (``WalkForwardResult.status``)."""

    WARM = 0
    """Refit, warm-started from the previous optimum, converged."""
    COLD_INITIAL = 1
    """Refit from arch's starting values because there was no previous optimum (first day)."""
    COLD_FALLBACK = 2
    """The warm fit failed (non-finite, line search, no convergence); a cold fit replaced it."""
    EDGE_RECHECK = 3
    """The warm optimum was at an edge; a cold fit re-checked it (and replaced it if converged)."""
    CALLBACK = 4
    """Compiled fits failed; the caller's ``fallback`` callable supplied the parameters."""
    FAILED = 5
    """Every fit failed; the day's outputs are NaN."""
    FILTERED = 6
    """No refit that day (``refit_every > 1``): the last parameters, filtered with new data."""
    RECHECK = 7
    """Periodic cold re-check (every ``recheck_every`` refits); the cold fit was kept if converged."""


_FALLBACK_STATUSES = (FitStatus.COLD_FALLBACK, FitStatus.EDGE_RECHECK, FitStatus.CALLBACK, FitStatus.FAILED)

# integer codes used inside compiled code
_GARCH, _GJR, _EGARCH = 0, 1, 2
_NORMAL, _T = 0, 1
# the engine's subset of the shared choices (riskparams.domain), in the order errors list them
_MODEL_CODE = {ModelName.GARCH: _GARCH, ModelName.GJR: _GJR, ModelName.EGARCH: _EGARCH}
_DIST_CODE = {DistName.T: _T, DistName.NORMAL: _NORMAL}
_MEANS = (MeanName.CONSTANT, MeanName.ZERO)

# full parameter layout inside compiled code: [mu, omega, alpha, gamma, beta, nu]
_NFULL = 6
_FULL_NAMES = ("mu", "omega", "alpha[1]", "gamma[1]", "beta[1]", "nu")

_LN_SIGMA_MAX = float(np.log(np.finfo(np.float64).max) - 0.1)
_SQRT2_OV_PI = 0.79788456080286541
_LOG_2PI = math.log(2.0 * math.pi)
_DBL_MAX = float(np.finfo(np.float64).max)
_EWMA_LAM = 0.94
# EGARCH forecast: largest |d ln s_last / d bc x change of the log backcast| applied as a
# first-order shift instead of a second pass (the second-order error is ~1e-18 relative)
_BC_SHIFT_MAX = 1e-9
_BACKCAST_TAU = 75

# solver settings
_TOL = 1e-8  # Newton decrement (twice the predicted log-likelihood gain) at convergence
_MAXIT_WARM = 20
_MAXIT_COLD = 100
_CHORD_SWITCH = 1e-2  # a cold fit keeps its Hessian (chord steps) once the decrement is below this
# edge guards on a converged warm optimum (re-checked by a cold fit)
EDGE_PERSISTENCE = 0.999
EDGE_OMEGA_FACTOR = 100.0  # omega < 100 x its lower bound (1e-8 v)
EDGE_ALPHA = 1e-4
EDGE_BETA = 1e-4
EDGE_NU = 100.0
EDGE_BACKOFF = 20  # refits without re-check after a re-check that confirmed the warm optimum

RECHECK_EVERY = 10  # default periodic cold re-check (refits); 0 disables
RECHECK_ALERT = 20  # refits re-checked one by one after a re-check found another maximum

HOURLY_DAILY_REFIT = 24
"""``refit_every`` for hourly bars re-estimated once a day and filtered every hour."""

# status codes (same values as FitStatus)
_S_WARM, _S_COLD_INITIAL, _S_COLD_FALLBACK, _S_EDGE, _S_CALLBACK, _S_FAILED, _S_FILTERED, _S_RECHECK = range(8)
# solver return codes
_OK, _NOT_CONVERGED, _LINE_SEARCH, _NONFINITE = 0, 1, 2, 3


# Typed scalar constructors for compiled code. Passing ``_i64(2)`` instead of a literal ``2``
# keeps numba from compiling one specialisation per literal value (which multiplied the cold
# compile time); typed as ``Any`` for mypy, which does not know numba's dispatch rules.
_i64: Any = np.int64
_bool: Any = np.bool_
_f64: Any = np.float64


# --------------------------------------------------------------------------------------------
# Special functions (compiled)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _digamma(x: float) -> float:
    r = 0.0
    while x < 10.0:
        r -= 1.0 / x
        x += 1.0
    x2 = 1.0 / (x * x)
    return (
        r
        + math.log(x)
        - 0.5 / x
        - x2 * (1.0 / 12.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 252.0 - x2 * (1.0 / 240.0 - x2 / 132.0))))
    )


@njit(cache=True)
def _trigamma(x: float) -> float:
    r = 0.0
    while x < 10.0:
        r += 1.0 / (x * x)
        x += 1.0
    x2 = 1.0 / (x * x)
    return r + 1.0 / x + 0.5 * x2 + (1.0 / x) * x2 * (
        1.0 / 6.0 - x2 * (1.0 / 30.0 - x2 * (1.0 / 42.0 - x2 * (1.0 / 30.0 - x2 * 5.0 / 66.0)))
    )


@njit(cache=True)
def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# --------------------------------------------------------------------------------------------
# Parameter layout, window statistics and constraints (compiled)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _layout(model: int, dist: int, has_mu: bool) -> tuple[npt.NDArray[np.int64], int, int]:
    """Local index of each full parameter (-1 when fixed), number of variance-side and all free."""
    pos = np.full(_NFULL, -1, dtype=np.int64)
    k = 0
    if has_mu:
        pos[0] = k
        k += 1
    pos[1] = k
    pos[2] = k + 1
    k += 2
    if model != _GARCH:
        pos[3] = k
        k += 1
    pos[4] = k
    k += 1
    m = k
    if dist == _T:
        pos[5] = k
        k += 1
    return pos, m, k


@njit(cache=True)
def _window_stats(
    y: FloatArray, lo: int, n: int, has_mu: bool, lb: FloatArray, ub: FloatArray
) -> tuple[float, float, float]:
    """arch's starting mean, EWMA backcast and variance bounds for the window ``y[lo:lo+n]``.

    Returns ``(ybar, backcast, v)`` with ``v = mean(e**2)`` of the starting residuals and fills
    ``lb``/``ub`` (length ``n``) with arch's ``variance_bounds``.
    """
    ybar = 0.0
    if has_mu:
        acc = 0.0
        for i in range(n):
            acc += y[lo + i]
        ybar = acc / n
    tau = min(_BACKCAST_TAU, n)
    wsum = 0.0
    wi = 1.0
    for _i in range(tau):
        wsum += wi
        wi *= _EWMA_LAM
    bc = 0.0
    wi = 1.0
    for i in range(tau):
        e = y[lo + i] - ybar
        bc += e * e * (wi / wsum)
        wi *= _EWMA_LAM
    s2 = 0.0
    mean_e = 0.0
    max_e2 = 0.0
    for i in range(n):
        e = y[lo + i] - ybar
        s2 += e * e
        mean_e += e
        if e * e > max_e2:
            max_e2 = e * e
    v = s2 / n
    mean_e /= n
    var = 0.0
    for i in range(n):
        d = y[lo + i] - ybar - mean_e
        var += d * d
    var /= n
    lower = var / 1e8
    min_upper = 1.0 + max_e2
    upper = 1e7 * (1.0 + max_e2)
    vb = bc
    for i in range(n):
        if i > 0:
            e = y[lo + i - 1] - ybar
            vb = 0.0 + (1.0 - _EWMA_LAM) * (e * e) + _EWMA_LAM * vb
        a = vb / 1e6
        lb[i] = lower if a < lower else a
        c = vb * 1e6
        if c < min_upper:
            c = min_upper
        if c > upper:
            c = upper
        ub[i] = c
    return ybar, bc, v


@njit(cache=True)
def _backcast_at(y: FloatArray, lo: int, n: int, mu: float) -> float:
    """arch's EWMA backcast of ``(y - mu)**2`` over the first ``min(75, n)`` observations."""
    tau = min(_BACKCAST_TAU, n)
    wsum = 0.0
    wi = 1.0
    for _i in range(tau):
        wsum += wi
        wi *= _EWMA_LAM
    bc = 0.0
    wi = 1.0
    for i in range(tau):
        e = y[lo + i] - mu
        bc += e * e * (wi / wsum)
        wi *= _EWMA_LAM
    return bc


@njit(cache=True)
def _constraints(
    model: int, dist: int, pos: npt.NDArray[np.int64], k: int, v: float, a: FloatArray, b: FloatArray
) -> int:
    """Fill ``a @ x >= b`` rows (arch's bounds and linear constraints); returns their number."""
    nc = 0
    a[:, :] = 0.0
    po, pa, pg, pb, pn = pos[1], pos[2], pos[3], pos[4], pos[5]
    if model == _EGARCH:
        lnv = math.log(v)
        lc = math.log(10000.0)
        a[nc, po] = 1.0
        b[nc] = lnv - lc
        nc += 1
        a[nc, po] = -1.0
        b[nc] = -(lnv + lc)
        nc += 1
        a[nc, pb] = 1.0
        b[nc] = 0.0
        nc += 1
        a[nc, pb] = -1.0
        b[nc] = -1.0
        nc += 1
    else:
        a[nc, po] = 1.0
        b[nc] = 1e-8 * v
        nc += 1
        a[nc, po] = -1.0
        b[nc] = -10.0 * v
        nc += 1
        # arch's bounds alpha <= 1, beta <= 1 and -1 <= gamma <= 2 are implied by the rows below
        # (alpha <= 1 only for GARCH): leaving them out keeps vertices such as alpha = 0,
        # beta = 1 non-degenerate for the active-set method; the feasible set is arch's
        a[nc, pa] = 1.0
        b[nc] = 0.0
        nc += 1
        if model == _GJR:
            a[nc, pa] = -1.0
            b[nc] = -1.0
            nc += 1
            a[nc, pa] = 1.0
            a[nc, pg] = 1.0
            b[nc] = 0.0
            nc += 1
        a[nc, pb] = 1.0
        b[nc] = 0.0
        nc += 1
        a[nc, pa] = -1.0
        if model == _GJR:
            a[nc, pg] = -0.5
        a[nc, pb] = -1.0
        b[nc] = -1.0
        nc += 1
    if dist == _T:
        a[nc, pn] = 1.0
        b[nc] = 2.05
        nc += 1
        a[nc, pn] = -1.0
        b[nc] = -500.0
        nc += 1
    return nc


# --------------------------------------------------------------------------------------------
# Likelihood passes: value, analytic gradient and exact Hessian in one sweep (compiled)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _dist_consts(dist: int, nu: float, want: int) -> tuple[float, float, float]:
    if dist == _T:
        km = nu - 2.0
        w = 0.5 * (nu + 1.0)
        cst = math.lgamma(w) - math.lgamma(0.5 * nu) - 0.5 * math.log(math.pi * km)
        dc = 0.0
        d2c = 0.0
        if want >= 1:
            dc = 0.5 * _digamma(w) - 0.5 * _digamma(0.5 * nu) - 0.5 / km
        if want >= 2:
            d2c = 0.25 * _trigamma(w) - 0.25 * _trigamma(0.5 * nu) + 0.5 / (km * km)
        return cst, dc, d2c
    return -0.5 * _LOG_2PI, 0.0, 0.0


@njit(cache=True)
def _lik_terms(
    t_dist: bool, want: int, inv_s: float, e: float, ikm: float, w: float
) -> tuple[float, float, float, float, float, float, float, float, float, float]:
    """Per-observation pieces of the log-likelihood ``l(s, e, nu)`` and its derivatives.

    Student-t (``ikm = 1/(nu - 2)``, ``w = (nu + 1)/2``, ``q = e**2 ikm / s``, ``r = 1/(1 + q)``):
    ``l = c(nu) - ln(s)/2 - w ln(1 + q)``, ``l_s = (w q r - 1/2)/s``, ``l_e = -2 w r e ikm / s``,
    ``l_nu = c'(nu) - ln(1 + q)/2 + w q r ikm``. Normal: ``l = -(ln 2 pi + ln s + e**2/s)/2``.

    Returns ``(a, l_s, l_e, q r, l_ss, l_se, l_ee, l_snu, l_enu, q r (1 + r))`` where ``a`` is
    ``1 + q`` (t) or ``e**2 / s`` (normal); second-order terms are zero unless ``want >= 2``.
    """
    if t_dist:
        q = e * e * inv_s * ikm
        onez = 1.0 + q
        if want < 1:
            return onez, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        r = 1.0 / onez
        zr = q * r
        wr = w * r
        ls = (w * zr - 0.5) * inv_s
        le = -2.0 * wr * e * inv_s * ikm
        if want < 2:
            return onez, ls, le, zr, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        is2 = inv_s * inv_s
        lss = (0.5 - w * zr * (1.0 + r)) * is2
        lse = 2.0 * wr * r * e * is2 * ikm
        lee = 2.0 * wr * inv_s * ikm * (2.0 * r * q - 1.0)
        lsn = zr * (0.5 - wr * ikm) * inv_s
        lenu = r * e * inv_s * ikm * (2.0 * wr * ikm - 1.0)
        return onez, ls, le, zr, lss, lse, lee, lsn, lenu, zr * (1.0 + r)
    e2s = e * e * inv_s
    if want < 1:
        return e2s, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    ls = 0.5 * (e2s - 1.0) * inv_s
    le = -e * inv_s
    if want < 2:
        return e2s, ls, le, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    is2 = inv_s * inv_s
    return e2s, ls, le, 0.0, (0.5 - e2s) * is2, e * is2, -inv_s, 0.0, 0.0, 0.0


@njit(cache=True)
def _store_hessian(
    h: FloatArray,
    pos: npt.NDArray[np.int64],
    hmm: float,
    hmo: float,
    hma: float,
    hmg: float,
    hmb: float,
    hmn: float,
    hoo: float,
    hoa: float,
    hog: float,
    hob: float,
    hon: float,
    haa: float,
    hag: float,
    hab: float,
    han: float,
    hgg: float,
    hgb: float,
    hgn: float,
    hbb: float,
    hbn: float,
    hnn: float,
) -> None:
    """Scatter the full-layout Hessian entries (upper triangle) to the free parameters."""
    full = (
        (hmm, hmo, hma, hmg, hmb, hmn),
        (0.0, hoo, hoa, hog, hob, hon),
        (0.0, 0.0, haa, hag, hab, han),
        (0.0, 0.0, 0.0, hgg, hgb, hgn),
        (0.0, 0.0, 0.0, 0.0, hbb, hbn),
        (0.0, 0.0, 0.0, 0.0, 0.0, hnn),
    )
    for i in range(_NFULL):
        a = pos[i]
        if a < 0:
            continue
        row = full[i]
        for j in range(i, _NFULL):
            b = pos[j]
            if b >= 0:
                h[a, b] = row[j]


@njit(cache=True)
def _pass_garch(
    gjr: bool,
    dist: int,
    has_mu: bool,
    y: FloatArray,
    lo: int,
    n: int,
    x: FloatArray,
    pos: npt.NDArray[np.int64],
    bc: float,
    lb: FloatArray,
    ub: FloatArray,
    want: int,
    g: FloatArray,
    h: FloatArray,
) -> tuple[float, float, float, float, float]:
    """GARCH/GJR log-likelihood over ``y[lo:lo+n]`` with its gradient (``want >= 1``) and
    Hessian (``want >= 2``, upper triangle of ``h``) in the local order given by ``pos``.

    The variance ``s_t = omega + (alpha + gamma I[e<0]) e_{t-1}**2 + beta s_{t-1}`` is linear in
    ``(omega, alpha, gamma)`` for fixed ``(mu, beta)``, so its Hessian has only the entries
    ``(mu, mu), (mu, alpha), (mu, gamma)`` and the ``beta`` column, carried as scalars.
    Returns ``(loglik, s_last, e_last, 0.0, 0.0)``: the last conditional variance and residual
    (the last two items are :func:`_pass_egarch`'s kink term and backcast derivative, unused
    here: the GARCH recursion is linear in its backcast).
    """
    mu = x[0] if has_mu else 0.0
    om = x[1]
    al = x[2]
    ga = x[3] if gjr else 0.0
    be = x[4]
    nu = x[5]
    t_dist = dist == _T
    cst, dc, d2c = _dist_consts(dist, nu, want)
    km = nu - 2.0
    w = 0.5 * (nu + 1.0)
    # first derivatives of s: mu, omega, alpha, gamma, beta
    dm = 0.0
    do = 0.0
    da = 0.0
    dg = 0.0
    db = 0.0
    # non-zero second derivatives of s
    smm = 0.0
    sma = 0.0
    smg = 0.0
    smb = 0.0
    sob = 0.0
    sab = 0.0
    sgb = 0.0
    sbb = 0.0
    # gradient and Hessian accumulators
    gm = 0.0
    go = 0.0
    gal = 0.0
    gg = 0.0
    gb = 0.0
    gn = 0.0
    hmm = 0.0
    hmo = 0.0
    hma = 0.0
    hmg = 0.0
    hmb = 0.0
    hmn = 0.0
    hoo = 0.0
    hoa = 0.0
    hog = 0.0
    hob = 0.0
    hon = 0.0
    haa = 0.0
    hag = 0.0
    hab = 0.0
    han = 0.0
    hgg = 0.0
    hgb = 0.0
    hgn = 0.0
    hbb = 0.0
    hbn = 0.0
    hnn = 0.0
    ikm = 1.0 / km
    ps = 1.0
    pz = 1.0
    sum_ls = 0.0
    sum_lz = 0.0
    sum_e2s = 0.0
    szr = 0.0
    szr1r = 0.0
    f = 0.0
    s = 0.0
    e = 0.0
    for t in range(n):
        if t == 0:
            s = om + al * bc
            if gjr:
                s += ga * 0.5 * bc
            s += be * bc
            do = 1.0
            da = bc
            dg = 0.5 * bc if gjr else 0.0
            db = bc
        else:
            ep = e
            e2 = ep * ep
            # branch-free indicator (the sign of a return is unpredictable); adding 0.0 keeps
            # arch's order of operations bit for bit
            ind = _f64(ep < 0.0) if gjr else 0.0
            sp = s
            s = om + al * e2
            s += ga * e2 * ind
            s += be * sp
            if want >= 1:
                aa = al + ga * ind
                if want >= 2:
                    if has_mu:
                        smm = be * smm + 2.0 * aa
                        sma = be * sma - 2.0 * ep
                        smb = be * smb + dm
                        if gjr:
                            smg = be * smg - 2.0 * ep * ind
                    sob = be * sob + do
                    sab = be * sab + da
                    sgb = be * sgb + dg
                    sbb = be * sbb + 2.0 * db
                if has_mu:
                    dm = be * dm - 2.0 * ep * aa
                do = 1.0 + be * do
                da = e2 + be * da
                if gjr:
                    dg = e2 * ind + be * dg
                db = sp + be * db
        # arch's bounds check (never binding for sane parameters)
        if s < lb[t]:
            s = lb[t]
            dm = do = da = dg = db = 0.0
            smm = sma = smg = smb = sob = sab = sgb = sbb = 0.0
        elif s > ub[t]:
            if s > _DBL_MAX:
                s = ub[t] + 1000.0
                dm = do = da = dg = db = 0.0
                smm = sma = smg = smb = sob = sab = sgb = sbb = 0.0
            else:
                # s -> ub + ln(s / ub): first derivatives exact; the second derivatives keep
                # only the sparse entries (an approximate Hessian in this pathological case)
                sr = s
                s = ub[t] + math.log(sr / ub[t])
                dm /= sr
                do /= sr
                da /= sr
                dg /= sr
                db /= sr
                smm /= sr
                sma /= sr
                smg /= sr
                smb /= sr
                sob /= sr
                sab /= sr
                sgb /= sr
                sbb /= sr
        e = y[lo + t] - mu
        inv_s = 1.0 / s
        # sum of logs as logs of running products (a log per ~10-100 bars instead of two per bar)
        ps *= s
        if ps > 1e100 or ps < 1e-100:
            sum_ls += math.log(ps)
            ps = 1.0
        av, ls, le, zr, lss, lse, lee, lsn, lenu, zr1r = _lik_terms(t_dist, want, inv_s, e, ikm, w)
        if t_dist:
            pz *= av
            if pz > 1e100:
                sum_lz += math.log(pz)
                pz = 1.0
        else:
            sum_e2s += av
        if want >= 1:
            go += ls * do
            gal += ls * da
            gb += ls * db
            if gjr:
                gg += ls * dg
            if has_mu:
                gm += ls * dm - le
            szr += zr
            if want >= 2:
                szr1r += zr1r
                xo = lss * do
                xa = lss * da
                xb = lss * db
                hoo += xo * do
                hoa += xo * da
                hob += xo * db + ls * sob
                haa += xa * da
                hab += xa * db + ls * sab
                hbb += xb * db + ls * sbb
                hon += lsn * do
                han += lsn * da
                hbn += lsn * db
                if gjr:
                    xg = lss * dg
                    hog += xo * dg
                    hag += xa * dg
                    hgg += xg * dg
                    hgb += xg * db + ls * sgb
                    hgn += lsn * dg
                if has_mu:
                    xm = lss * dm - lse
                    hmm += xm * dm + ls * smm - lse * dm + lee
                    hmo += xm * do
                    hma += xm * da + ls * sma
                    hmb += xm * db + ls * smb
                    hmn += lsn * dm - lenu
                    if gjr:
                        hmg += xm * dg + ls * smg
    sum_ls += math.log(ps)
    sum_lz += math.log(pz)
    if t_dist:
        f = n * cst - 0.5 * sum_ls - w * sum_lz
        gn = n * dc - 0.5 * sum_lz + w * ikm * szr
        hnn = n * d2c + ikm * szr - w * ikm * ikm * szr1r
    else:
        f = -0.5 * (n * _LOG_2PI + sum_ls + sum_e2s)
    if want >= 1:
        if has_mu:
            g[pos[0]] = gm
        g[pos[1]] = go
        g[pos[2]] = gal
        if gjr:
            g[pos[3]] = gg
        g[pos[4]] = gb
        if t_dist:
            g[pos[5]] = gn
    if want >= 2:
        _store_hessian(
            h, pos, hmm, hmo, hma, hmg, hmb, hmn, hoo, hoa, hog, hob, hon, haa, hag, hab, han, hgg, hgb, hgn,
            hbb, hbn, hnn,
        )
    return f, s, e, 0.0, 0.0


@njit(cache=True)
def _pass_egarch(
    dist: int,
    has_mu: bool,
    y: FloatArray,
    lo: int,
    n: int,
    x: FloatArray,
    pos: npt.NDArray[np.int64],
    bc: float,
    lb: FloatArray,
    ub: FloatArray,
    want: int,
    g: FloatArray,
    h: FloatArray,
) -> tuple[float, float, float, float, float]:
    """EGARCH(1,1,1) log-likelihood (gradient, Hessian) over ``y[lo:lo+n]``; ``bc = ln backcast``.

    State ``h_t = ln s_t = omega + alpha (|z| - sqrt(2/pi)) + gamma z + beta h_{t-1}`` with
    ``z = e_{t-1} exp(-h_{t-1}/2)``. With ``G = alpha sign(z) + gamma`` and ``A = beta - G z/2``
    the first derivatives obey ``Dh_i = A Dh'_i + (direct terms)`` and the second
    ``Hh_ij = A Hh'_ij + (G z/4) Dh'_i Dh'_j + (direct terms)``; the likelihood is chained
    through ``s = exp(h)``.

    Returns ``(loglik, s_last, e_last, jump, dbc)``. ``jump`` is half the jump of
    ``d loglik / d mu`` at a kink: ``sum_k alpha u_k d loglik / d h_{k+1}`` over the
    observations with ``e_k == 0`` (``u_k = exp(-h_k / 2)``), so the one-sided derivatives are
    ``g_mu +- jump``. ``dbc = d h_last / d bc`` (with ``want >= 1``; NaN otherwise) moves the
    last variance to another backcast without a second pass (see :func:`_fit_window`).

    The recursion is latency-bound (each step waits for the previous step's ``exp``), so it
    carries ``m = -h/2`` and, since ``u > 0``, writes the news term through the residual:
    ``m_t = (-(omega - alpha sqrt(2/pi))/2 + beta m_{t-1}) + u_{t-1} w_{t-1}`` with
    ``w = -(alpha |e| + gamma e)/2`` (known as soon as ``e`` is) and ``u_t = exp(m_t)``. Only a
    multiply, an add and the ``exp`` separate ``u_{t-1}`` from ``u_t``. (Scaling by ``-1/2`` is
    exact, so ``h = -2 m`` loses nothing; the regrouping changes the last bit of some steps, far
    below arch's optimiser tolerance.)
    """
    mu = x[0] if has_mu else 0.0
    om = x[1]
    al = x[2]
    ga = x[3]
    be = x[4]
    nu = x[5]
    t_dist = dist == _T
    cst, dc, d2c = _dist_consts(dist, nu, want)
    km = nu - 2.0
    w = 0.5 * (nu + 1.0)
    dm = 0.0
    do = 0.0
    da = 0.0
    dg = 0.0
    db = 0.0
    cmm = 0.0
    cmo = 0.0
    cma = 0.0
    cmg = 0.0
    cmb = 0.0
    coo = 0.0
    coa = 0.0
    cog = 0.0
    cob = 0.0
    caa = 0.0
    cag = 0.0
    cab = 0.0
    cgg = 0.0
    cgb = 0.0
    cbb = 0.0
    gm = 0.0
    go = 0.0
    gal = 0.0
    gg = 0.0
    gb = 0.0
    gn = 0.0
    hmm = 0.0
    hmo = 0.0
    hma = 0.0
    hmg = 0.0
    hmb = 0.0
    hmn = 0.0
    hoo = 0.0
    hoa = 0.0
    hog = 0.0
    hob = 0.0
    hon = 0.0
    haa = 0.0
    hag = 0.0
    hab = 0.0
    han = 0.0
    hgg = 0.0
    hgb = 0.0
    hgn = 0.0
    hbb = 0.0
    hbn = 0.0
    hnn = 0.0
    ikm = 1.0 / km
    pz = 1.0
    sum_ls = 0.0
    sum_lz = 0.0
    sum_e2s = 0.0
    szr = 0.0
    szr1r = 0.0
    f = 0.0
    s = 1.0
    lns = 0.0
    e = 0.0
    zs = 0.0
    u = 1.0
    # kinks: d ln s_t / d ln s_{k+1} for observations k with e_k == 0 (see _newton)
    dd = 0.0
    jump = 0.0
    dbc = 0.0
    # m = -ln(s)/2 on the critical path (see the docstring)
    hk = -0.5 * (om - al * _SQRT2_OV_PI)
    ha = -0.5 * al
    hg = -0.5 * ga
    mh = 0.0
    we = 0.0
    for t in range(n):
        if t == 0:
            lns = om + be * bc
            mh = -0.5 * lns
            do = 1.0
            db = bc
            dbc = be
        else:
            sg = _f64(zs > 0.0) - _f64(zs < 0.0)  # branch-free sign
            gz = al * sg + ga
            lns_prev = lns
            az = abs(zs)
            # (-alpha |z| - gamma z) / 2 = u (-alpha |e| - gamma e) / 2: the bracket is known as
            # soon as e is, so only u * we and one add stand between the last exp and this one
            mh = (hk + be * mh) + u * we
            lns = -2.0 * mh
            if want >= 1:
                aa = be - 0.5 * gz * zs
                hz = -0.5 * zs
                zm = hz * dm - u
                zo = hz * do
                za = hz * da
                zg = hz * dg
                zb = hz * db
                if want >= 2:
                    bb = 0.25 * gz * zs
                    coo = aa * coo + bb * do * do
                    coa = aa * coa + bb * do * da + sg * zo
                    cog = aa * cog + bb * do * dg + zo
                    cob = aa * cob + bb * do * db + do
                    caa = aa * caa + bb * da * da + 2.0 * sg * za
                    cag = aa * cag + bb * da * dg + sg * zg + za
                    cab = aa * cab + bb * da * db + sg * zb + da
                    cgg = aa * cgg + bb * dg * dg + 2.0 * zg
                    cgb = aa * cgb + bb * dg * db + zb + dg
                    cbb = aa * cbb + bb * db * db + 2.0 * db
                    if has_mu:
                        cu = 0.5 * gz * u
                        cmm = aa * cmm + bb * dm * dm + 2.0 * cu * dm
                        cmo = aa * cmo + bb * dm * do + cu * do
                        cma = aa * cma + bb * dm * da + cu * da + sg * zm
                        cmg = aa * cmg + bb * dm * dg + cu * dg + zm
                        cmb = aa * cmb + bb * dm * db + cu * db + dm
                if has_mu:
                    dm = aa * dm - gz * u
                    dd = aa * dd
                    if e == 0.0:
                        dd += al * u
                do = aa * do + 1.0
                da = aa * da + az - _SQRT2_OV_PI
                dg = aa * dg + zs
                db = aa * db + lns_prev
                dbc = aa * dbc
        if lns > _LN_SIGMA_MAX:
            lns = _LN_SIGMA_MAX
            mh = -0.5 * lns
            dm = do = da = dg = db = dd = dbc = 0.0
            cmm = cmo = cma = cmg = cmb = coo = coa = cog = cob = 0.0
            caa = cag = cab = cgg = cgb = cbb = 0.0
        # u = 1/sqrt(s) straight from ln s keeps one exp (no division) on the recursion's
        # critical path; s itself is off it
        u = math.exp(mh)
        inv_s = u * u
        s = 1.0 / inv_s
        if s < lb[t]:
            s = lb[t]
            lns = math.log(s)
            mh = -0.5 * lns
            u = 1.0 / math.sqrt(s)
            inv_s = u * u
            dm = do = da = dg = db = dd = dbc = 0.0
            cmm = cmo = cma = cmg = cmb = coo = coa = cog = cob = 0.0
            caa = cag = cab = cgg = cgb = cbb = 0.0
        elif s > ub[t]:
            # s -> ub + ln s - ln ub; new state ln(s): Dh -> Dh / s, Hh -> Hh / s - Dh Dh' / s**2
            s = ub[t] + lns - math.log(ub[t])
            lns = math.log(s)
            mh = -0.5 * lns
            u = 1.0 / math.sqrt(s)
            inv_s = u * u
            q1 = 1.0 / s
            q2 = q1 * q1
            cmm = cmm * q1 - dm * dm * q2
            cmo = cmo * q1 - dm * do * q2
            cma = cma * q1 - dm * da * q2
            cmg = cmg * q1 - dm * dg * q2
            cmb = cmb * q1 - dm * db * q2
            coo = coo * q1 - do * do * q2
            coa = coa * q1 - do * da * q2
            cog = cog * q1 - do * dg * q2
            cob = cob * q1 - do * db * q2
            caa = caa * q1 - da * da * q2
            cag = cag * q1 - da * dg * q2
            cab = cab * q1 - da * db * q2
            cgg = cgg * q1 - dg * dg * q2
            cgb = cgb * q1 - dg * db * q2
            cbb = cbb * q1 - db * db * q2
            dm *= q1
            do *= q1
            da *= q1
            dg *= q1
            db *= q1
            dd *= q1
            dbc *= q1
        e = y[lo + t] - mu
        zs = e * u
        we = ha * abs(e) + hg * e
        sum_ls += lns
        av, ls, le, zr, lss, lse, lee, lsn, lenu, zr1r = _lik_terms(t_dist, want, inv_s, e, ikm, w)
        if t_dist:
            pz *= av
            if pz > 1e100:
                sum_lz += math.log(pz)
                pz = 1.0
        else:
            sum_e2s += av
        if want >= 1:
            lh = s * ls
            go += lh * do
            gal += lh * da
            gg += lh * dg
            gb += lh * db
            szr += zr
            if has_mu:
                gm += lh * dm - le
                jump += lh * dd
            if want >= 2:
                szr1r += zr1r
                lhh = s * s * lss + lh
                lhe = s * lse
                lhn = s * lsn
                hoo += lhh * do * do + lh * coo
                hoa += lhh * do * da + lh * coa
                hog += lhh * do * dg + lh * cog
                hob += lhh * do * db + lh * cob
                haa += lhh * da * da + lh * caa
                hag += lhh * da * dg + lh * cag
                hab += lhh * da * db + lh * cab
                hgg += lhh * dg * dg + lh * cgg
                hgb += lhh * dg * db + lh * cgb
                hbb += lhh * db * db + lh * cbb
                hon += lhn * do
                han += lhn * da
                hgn += lhn * dg
                hbn += lhn * db
                if has_mu:
                    xm = lhh * dm - lhe
                    hmm += xm * dm + lh * cmm - lhe * dm + lee
                    hmo += xm * do + lh * cmo
                    hma += xm * da + lh * cma
                    hmg += xm * dg + lh * cmg
                    hmb += xm * db + lh * cmb
                    hmn += lhn * dm - lenu
    sum_lz += math.log(pz)
    if t_dist:
        f = n * cst - 0.5 * sum_ls - w * sum_lz
        gn = n * dc - 0.5 * sum_lz + w * ikm * szr
        hnn = n * d2c + ikm * szr - w * ikm * ikm * szr1r
    else:
        f = -0.5 * (n * _LOG_2PI + sum_ls + sum_e2s)
    if want >= 1:
        if has_mu:
            g[pos[0]] = gm
        g[pos[1]] = go
        g[pos[2]] = gal
        g[pos[3]] = gg
        g[pos[4]] = gb
        if t_dist:
            g[pos[5]] = gn
    if want >= 2:
        _store_hessian(
            h, pos, hmm, hmo, hma, hmg, hmb, hmn, hoo, hoa, hog, hob, hon, haa, hag, hab, han, hgg, hgb, hgn,
            hbb, hbn, hnn,
        )
    return f, s, e, jump, (dbc if want >= 1 else np.nan)


@njit(cache=True)
def _evaluate(
    model: int,
    dist: int,
    has_mu: bool,
    y: FloatArray,
    lo: int,
    n: int,
    x: FloatArray,
    pos: npt.NDArray[np.int64],
    bc: float,
    lb: FloatArray,
    ub: FloatArray,
    want: int,
    g: FloatArray,
    h: FloatArray,
) -> tuple[float, float, float, float, float]:
    """Log-likelihood pass of the model (see :func:`_pass_garch`, :func:`_pass_egarch`)."""
    if model == _EGARCH:
        return _pass_egarch(dist, has_mu, y, lo, n, x, pos, bc, lb, ub, want, g, h)
    return _pass_garch(model == _GJR, dist, has_mu, y, lo, n, x, pos, bc, lb, ub, want, g, h)


# --------------------------------------------------------------------------------------------
# Active-set Newton optimiser (compiled)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _cholesky_ok(a: FloatArray, k: int, work: FloatArray) -> bool:
    for i in range(k):
        for j in range(k):
            work[i, j] = a[i, j]
    for j in range(k):
        d = work[j, j]
        for p in range(j):
            d -= work[j, p] * work[j, p]
        if not d > 0.0:
            return False
        d = math.sqrt(d)
        work[j, j] = d
        for i in range(j + 1, k):
            v = work[i, j]
            for p in range(j):
                v -= work[i, p] * work[j, p]
            work[i, j] = v / d
    return True


@njit(cache=True)
def _solve(mat: FloatArray, rhs: FloatArray, size: int, out: FloatArray) -> bool:
    """Gaussian elimination with partial pivoting on ``mat[:size, :size]`` (overwritten)."""
    for c in range(size):
        piv = c
        big = abs(mat[c, c])
        for r in range(c + 1, size):
            if abs(mat[r, c]) > big:
                big = abs(mat[r, c])
                piv = r
        if not big > 0.0:
            return False
        if piv != c:
            for j in range(size):
                tmp = mat[c, j]
                mat[c, j] = mat[piv, j]
                mat[piv, j] = tmp
            tmp = rhs[c]
            rhs[c] = rhs[piv]
            rhs[piv] = tmp
        for r in range(c + 1, size):
            fct = mat[r, c] / mat[c, c]
            if fct != 0.0:
                for j in range(c, size):
                    mat[r, j] -= fct * mat[c, j]
                rhs[r] -= fct * rhs[c]
    for c in range(size - 1, -1, -1):
        v = rhs[c]
        for j in range(c + 1, size):
            v -= mat[c, j] * out[j]
        out[c] = v / mat[c, c]
    return True


@njit(cache=True)
def _gather(x: FloatArray, pos: npt.NDArray[np.int64], xf: FloatArray) -> None:
    for i in range(_NFULL):
        if pos[i] >= 0:
            xf[pos[i]] = x[i]


@njit(cache=True)
def _scatter(xf: FloatArray, pos: npt.NDArray[np.int64], x: FloatArray) -> None:
    for i in range(_NFULL):
        if pos[i] >= 0:
            x[i] = xf[pos[i]]


@njit(cache=True, fastmath={"nnan", "nsz"})
def _nearest_kink(y: FloatArray, lo: int, n: int, mu: float, direction: float) -> float:
    """Nearest data value strictly beyond ``mu`` in ``direction`` among ``y[lo:lo+n-1]`` (or nan).

    With EGARCH, ``|y_t - mu|`` enters the recursion for ``t < n - 1``: the log-likelihood has a
    kink in ``mu`` at each of those values. (A min/max reduction over finite data, which the
    ``nnan``/``nsz`` flags let the vectoriser batch: ~4x faster than a branchy scan.)
    """
    if direction > 0.0:
        best = np.inf
        for i in range(n - 1):
            v = y[lo + i]
            best = min(best, v if v > mu else np.inf)
        return best if best < np.inf else np.nan
    best = -np.inf
    for i in range(n - 1):
        v = y[lo + i]
        best = max(best, v if v < mu else -np.inf)
    return best if best > -np.inf else np.nan


@njit(cache=True)
def _is_kink(y: FloatArray, lo: int, n: int, mu: float) -> bool:
    hits = 0
    for i in range(n - 1):
        hits += y[lo + i] == mu
    return hits > 0


@njit(cache=True)
def _reduced_shift(h: FloatArray, k: int, qb: FloatArray, nq: int, hm: FloatArray, work: FloatArray) -> float:
    """``hm = -h + tau D`` (full symmetric) with the smallest ``tau`` in {0, 1e-8, 1e-7, ...} that
    makes it positive definite on the null space of the orthonormal rows ``qb[:nq]``.

    ``D = diag(max(|h_ii|, tiny))``. Definiteness on the null space is tested with
    ``P hm P + s Q'Q`` (``P = I - Q'Q``, ``s`` the largest diagonal), which is positive definite
    exactly when ``hm`` is on the null space. Returns ``tau`` (> 1e12: failure).
    """
    scale = 0.0
    for i in range(k):
        if abs(h[i, i]) > scale:
            scale = abs(h[i, i])
    scale = max(scale, 1e-300)
    tau = 0.0
    while True:
        for i in range(k):
            for j in range(i, k):
                hm[i, j] = -h[i, j]
                hm[j, i] = -h[i, j]
            hm[i, i] += tau * max(abs(h[i, i]), 1e-12 * scale)
        if nq == 0:
            if _cholesky_ok(hm, k, work):
                return tau
        else:
            # tmp = P hm P + scale Q'Q
            pmat = np.eye(k)
            for r in range(nq):
                for i in range(k):
                    for j in range(k):
                        pmat[i, j] -= qb[r, i] * qb[r, j]
            hp = np.zeros((k, k))
            for i in range(k):
                for j in range(k):
                    acc = 0.0
                    for m in range(k):
                        acc += hm[i, m] * pmat[m, j]
                    hp[i, j] = acc
            tmp = np.zeros((k, k))
            for i in range(k):
                for j in range(k):
                    acc = 0.0
                    for m in range(k):
                        acc += pmat[i, m] * hp[m, j]
                    for r in range(nq):
                        acc += scale * qb[r, i] * qb[r, j]
                    tmp[i, j] = acc
            if _cholesky_ok(tmp, k, work):
                return tau
        tau = 1e-8 if tau == 0.0 else tau * 10.0
        if tau > 1e12:
            return tau


@njit(cache=True)
def _independent_active(
    ca: FloatArray,
    nc: int,
    k: int,
    active: npt.NDArray[np.bool_],
    act_idx: npt.NDArray[np.int64],
    pinned: bool,
    pm: int,
    qb: FloatArray,
) -> int:
    """Indices of the active constraints whose normals are linearly independent (of each other
    and of the ``mu`` pin), in ``act_idx``; returns their number.

    At a corner such as ``alpha = 0, beta = 1`` three constraints are active on two parameters;
    the dependent one is implied by the others and left out of the KKT system (it stays flagged
    active, so the ratio test ignores it).
    """
    nq = 0
    if pinned:
        for j in range(k):
            qb[0, j] = 0.0
        qb[0, pm] = 1.0
        nq = 1
    na = 0
    for c in range(nc):
        if not active[c]:
            continue
        norm0 = 0.0
        for j in range(k):
            qb[nq, j] = ca[c, j]
            norm0 += ca[c, j] * ca[c, j]
        for r in range(nq):
            dot = 0.0
            for j in range(k):
                dot += qb[nq, j] * qb[r, j]
            for j in range(k):
                qb[nq, j] -= dot * qb[r, j]
        norm = 0.0
        for j in range(k):
            norm += qb[nq, j] * qb[nq, j]
        if norm <= 1e-18 * norm0 or nq >= k:
            continue
        norm = math.sqrt(norm)
        for j in range(k):
            qb[nq, j] /= norm
        nq += 1
        act_idx[na] = c
        na += 1
    return na


@njit(cache=True)
def _bfgs_update(
    h: FloatArray, x0: FloatArray, x1: FloatArray, g0: FloatArray, g1: FloatArray, k: int, sv: FloatArray,
    bs: FloatArray,
) -> None:
    """BFGS update of ``B = -h`` (``h`` the log-likelihood Hessian, upper triangle) for the step
    ``x0 -> x1`` with log-likelihood gradients ``g0 -> g1``; skipped without positive curvature.
    ``sv`` and ``bs`` are scratch vectors of length >= k."""
    ys = 0.0
    for i in range(k):
        sv[i] = x1[i] - x0[i]
        ys += -(g1[i] - g0[i]) * sv[i]
    sbs = 0.0
    for i in range(k):
        acc = 0.0
        for j in range(k):
            hij = h[i, j] if j >= i else h[j, i]
            acc -= hij * sv[j]
        bs[i] = acc
        sbs += sv[i] * acc
    if not (ys > 1e-12 * sbs and sbs > 0.0):
        return
    for i in range(k):
        yi = -(g1[i] - g0[i])
        for j in range(i, k):
            yj = -(g1[j] - g0[j])
            # B += y y'/(y's) - B s s' B/(s'Bs);  h = -B
            h[i, j] -= yi * yj / ys - bs[i] * bs[j] / sbs


@njit(cache=True)
def _to_internal(x: FloatArray, pos: npt.NDArray[np.int64], xf: FloatArray, log_om: bool) -> None:
    """Full layout -> free vector of the optimiser (``ln omega`` when ``log_om``)."""
    _gather(x, pos, xf)
    if log_om:
        xf[pos[1]] = math.log(x[1])


@njit(cache=True)
def _to_full(xf: FloatArray, pos: npt.NDArray[np.int64], x: FloatArray, log_om: bool) -> None:
    """Free vector of the optimiser -> full layout."""
    _scatter(xf, pos, x)
    if log_om:
        x[1] = math.exp(xf[pos[1]])


@njit(cache=True)
def _log_omega_chain(g: FloatArray, h: FloatArray, po: int, k: int, om: float, with_h: bool) -> None:
    """Chain rule from ``omega`` to ``theta = ln omega`` for the gradient (and Hessian)."""
    go = g[po]
    if with_h:
        for j in range(k):
            if j > po:
                h[po, j] *= om
            elif j < po:
                h[j, po] *= om
        h[po, po] = om * om * h[po, po] + om * go
    g[po] = om * go


@njit(cache=True)
def _newton(
    model: int,
    dist: int,
    has_mu: bool,
    y: FloatArray,
    lo: int,
    n: int,
    x: FloatArray,
    pos: npt.NDArray[np.int64],
    k: int,
    bc: float,
    lb: FloatArray,
    ub: FloatArray,
    ca: FloatArray,
    cb: FloatArray,
    nc: int,
    maxit: int,
    tol: float,
    chord_start: bool,
    reuse_h: bool,
    ws: FloatArray,
) -> tuple[int, float, int, float, float, float]:
    """Maximise the log-likelihood from the feasible start ``x`` (full layout, updated in place).

    Minimises ``F = -loglik`` by Newton steps on the active set of the constraints
    ``ca @ xf >= cb`` (KKT systems solved exactly; the Hessian is shifted towards a multiple of
    its diagonal when it is not positive definite), with a ratio test that stops at the first
    blocking constraint and an Armijo backtracking line search. Converged when every active
    multiplier is non-negative and the Newton decrement ``-G @ d`` is below ``tol``.

    With ``chord_start`` (warm starts) the Hessian of the starting point is kept and later points
    only get the value and gradient (a pass 2-2.5x cheaper), with BFGS updates along the steps;
    it is recomputed when the decrement stops falling by 4x per step or a line search fails. A
    cold fit takes full Newton steps until the decrement falls below ``_CHORD_SWITCH`` and then
    goes on in the same chord mode (its last steps cost a gradient pass instead of a Hessian
    pass). With ``reuse_h`` the Hessian already in
    the workspace (the previous day's) is used from the start, so a typical warm fit computes no
    Hessian at all. Near the optimum, which a warm start is, this converges about as fast as
    full Newton.

    EGARCH with a constant mean is not smooth in ``mu`` (``|y_t - mu|`` enters the recursion),
    and its optimum often sits exactly on a data value. The line search therefore also tries
    the nearest such kink, where ``mu`` is then pinned while the other parameters move. The
    pass returns the jump of ``d loglik / d mu`` there, so the pin is kept while both one-sided
    derivatives point back to the kink (a local maximum in ``mu``) and released otherwise (at
    most 8 times), stepping off on the rising side.

    Returns ``(code, loglik, passes, s_last, e_last, dbc_last)`` (``dbc_last``: see
    :func:`_pass_egarch`).
    """
    g = ws[0, :k]
    h = ws[1 : 1 + k, :k]
    g2 = ws[15, :k]
    h2 = ws[16 : 16 + k, :k]
    xf = ws[22, :k]
    xn = ws[23, :k]
    d = ws[24, :k]
    hm = ws[25 : 25 + k, :k]
    chol = ws[31 : 31 + k, :k]
    kkt = ws[37:49, :12]
    rhs = ws[49, :12]
    sol = ws[50, :12]
    xfull = ws[51, :_NFULL]
    active = np.zeros(nc, dtype=np.bool_)
    dropped = np.zeros(nc, dtype=np.bool_)
    locked = np.zeros(nc, dtype=np.bool_)
    act_idx = np.zeros(nc, dtype=np.int64)
    qb = np.zeros((_NFULL + 1, _NFULL))
    pm = pos[0]
    kinky = model == _EGARCH and has_mu
    # GARCH/GJR: Newton works in ln(omega), whose optimum is often at (or near) its lower bound
    # 1e-8 v, where Newton steps in omega itself only shrink it by a fraction per iteration
    log_om = model != _EGARCH
    cbl = np.empty(nc)
    for c in range(nc):
        cbl[c] = cb[c]
        if log_om and ca[c, pos[1]] != 0.0:
            cbl[c] = math.log(cb[c]) if ca[c, pos[1]] > 0.0 else -math.log(-cb[c])
    pinned = False
    releases = 0
    want1 = _i64(1)  # typed variables, not literals: one compiled specialisation
    want2 = _i64(2)
    chord = chord_start
    trial_want = _i64(1) if chord else _i64(2)
    fresh = True
    dec_prev = np.inf

    _to_internal(x, pos, xf, log_om)
    if reuse_h:
        f, s_last, e_last, jmp, dbc_last = _evaluate(model, dist, has_mu, y, lo, n, x, pos, bc, lb, ub, trial_want, g, h)
        fresh = False
    else:
        f, s_last, e_last, jmp, dbc_last = _evaluate(model, dist, has_mu, y, lo, n, x, pos, bc, lb, ub, want2, g, h)
    if log_om:
        _log_omega_chain(g, h, pos[1], k, x[1], not reuse_h)
    passes = 1
    if not math.isfinite(f):
        return _NONFINITE, f, passes, s_last, e_last, dbc_last
    for i in range(k):
        if not math.isfinite(g[i]):
            return _NONFINITE, f, passes, s_last, e_last, dbc_last
    for c in range(nc):
        slack = cbl[c]
        for j in range(k):
            slack -= ca[c, j] * xf[j]
        # slack = b - a x <= 0 when feasible; active when within rounding
        active[c] = slack > -1e-12 * (1.0 + abs(cbl[c]))
    if kinky and _is_kink(y, lo, n, xf[pm]):
        pinned = True
    for _it in range(maxit):
        # minimisation: gradient G = -g, Hessian Hn = -h (upper triangle stored). Equality-
        # constrained QP on the active set; constraints with negative multipliers are dropped,
        # unless the direction found without one would cross it (possible when the Hessian
        # shift differs between the two active sets): it is then put back and locked.
        for c in range(nc):
            dropped[c] = False
            locked[c] = False
        while True:
            na = _independent_active(ca, nc, k, active, act_idx, pinned, pm, qb)
            nq = na + (1 if pinned else 0)
            # the Hessian only matters on the null space of the active constraints: shift it
            # towards a multiple of its diagonal until it is positive definite there
            tau = _reduced_shift(h, k, qb, nq, hm, chol)
            if tau > 1e12:
                return _NONFINITE, f, passes, s_last, e_last, dbc_last
            size = k + na + (1 if pinned else 0)
            for i in range(size):
                rhs[i] = 0.0
                for j in range(size):
                    kkt[i, j] = 0.0
            for i in range(k):
                for j in range(k):
                    kkt[i, j] = hm[i, j]
                rhs[i] = g[i]  # -G
            for r in range(na):
                c = act_idx[r]
                for j in range(k):
                    kkt[k + r, j] = ca[c, j]
                    kkt[j, k + r] = -ca[c, j]
            if pinned:
                kkt[k + na, pm] = 1.0
                kkt[pm, k + na] = -1.0
            if not _solve(kkt, rhs, size, sol):
                return _NONFINITE, f, passes, s_last, e_last, dbc_last
            back = False
            for c in range(nc):
                if dropped[c] and not active[c]:
                    ad = 0.0
                    for j in range(k):
                        ad += ca[c, j] * sol[j]
                    if ad < 0.0:
                        active[c] = True
                        locked[c] = True
                        back = True
            if back:
                continue
            worst = -1
            worst_val = -1e-10
            for r in range(na):
                if sol[k + r] < worst_val and not locked[act_idx[r]]:
                    worst_val = sol[k + r]
                    worst = act_idx[r]
            if worst < 0:
                break
            active[worst] = False
            dropped[worst] = True
        dec = 0.0
        for i in range(k):
            d[i] = sol[i]
            dec += g[i] * d[i]  # -G @ d
        if pinned and dec < tol and releases < 8:
            # mu sits on a kink and the other parameters have converged. The pin's multiplier
            # is d F / d mu, so -lam +- jump are the one-sided derivatives of the log-likelihood:
            # keep the pin if both point back to the kink, else step off it on the side that
            # rises faster
            lam = sol[k + na]
            gp = -lam + jmp
            gq = -lam - jmp
            slack = math.sqrt(tol * max(hm[pm, pm], 0.0))
            if gp > slack or gq < -slack:
                side = 1.0 if gp > -gq else -1.0
                mu0 = xf[pm]
                nxt = _nearest_kink(y, lo, n, mu0, side)
                gap = abs(nxt - mu0) if math.isfinite(nxt) else 1.0
                xf[pm] = mu0 + side * min(0.25 * gap, 1e-6 * (1.0 + abs(mu0)))
                _to_full(xf, pos, x, log_om)
                f, s_last, e_last, jmp, dbc_last = _evaluate(
                    model, dist, has_mu, y, lo, n, x, pos, bc, lb, ub, trial_want, g, h2
                )
                passes += 1
                releases += 1
                pinned = False
                if not chord:
                    for i in range(k):
                        for j in range(k):
                            h[i, j] = h2[i, j]
                dec_prev = np.inf
                continue
        if dec < tol:
            _to_full(xf, pos, x, log_om)
            return _OK, f, passes, s_last, e_last, dbc_last
        if not chord and dec < _CHORD_SWITCH and not pinned:
            # close to the optimum (a cold fit's last steps): keep this exact Hessian and go on
            # with value-and-gradient passes and BFGS updates, as a warm fit does
            chord = True
            trial_want = _i64(1)
            fresh = True
            dec_prev = np.inf
        if not fresh and dec > 0.25 * dec_prev:
            # the kept Hessian is no longer good enough: refresh it here
            for i in range(_NFULL):
                xfull[i] = x[i]
            _to_full(xf, pos, xfull, log_om)
            f, s_last, e_last, jmp, dbc_last = _evaluate(model, dist, has_mu, y, lo, n, xfull, pos, bc, lb, ub, want2, g, h)
            if log_om:
                _log_omega_chain(g, h, pos[1], k, xfull[1], True)
            passes += 1
            fresh = True
            dec_prev = np.inf
            continue
        dec_prev = dec
        # ratio test against the inactive constraints (and the nearest kink of mu)
        amax = 1e6
        block = -1
        for c in range(nc):
            if active[c]:
                continue
            ad = 0.0
            ax = 0.0
            for j in range(k):
                ad += ca[c, j] * d[j]
                ax += ca[c, j] * xf[j]
            if ad < 0.0:
                tmax = (ax - cbl[c]) / (-ad)
                if tmax < 0.0:
                    tmax = 0.0
                if tmax < amax:
                    amax = tmax
                    block = c
        amax_ext = amax  # distance to the nearest constraint along d (for an expansion)
        block_ext = block
        if amax >= 1.0:
            amax = 1.0
            block = -1
        kink_val = np.nan
        tk = np.inf
        if kinky and not pinned and d[pm] != 0.0:
            kv = _nearest_kink(y, lo, n, xf[pm], d[pm])
            if math.isfinite(kv):
                tk = (kv - xf[pm]) / d[pm]
                kink_val = kv
        # first the step to the nearest constraint (crossing kinks, as a smooth optimiser would),
        # then, if it fails, the step to the nearest kink, then backtracking
        step = amax
        accepted = False
        at_kink = False
        tried_kink = False
        fn = f
        sn = s_last
        en = e_last
        dn = dbc_last
        for n_try in range(60):
            for j in range(k):
                xn[j] = xf[j] + step * d[j]
            if at_kink:
                xn[pm] = kink_val
            for i in range(_NFULL):
                xfull[i] = x[i]
            _to_full(xn, pos, xfull, log_om)
            # the first trial (usually accepted) also gets the Hessian it will need; a trial after
            # a rejection gets only the value and gradient, and the Hessian is computed once a
            # trial is accepted (the same numbers, fewer Hessian passes where steps are rejected)
            tw = trial_want if n_try == 0 else want1
            fn, sn, en, jn, dn = _evaluate(model, dist, has_mu, y, lo, n, xfull, pos, bc, lb, ub, tw, g2, h2)
            if log_om:
                _log_omega_chain(g2, h2, pos[1], k, xfull[1], tw == want2)
            passes += 1
            ok = math.isfinite(fn)
            if ok:
                for i in range(k):
                    if not math.isfinite(g2[i]):
                        ok = False
            if ok and fn >= f + 1e-4 * step * dec - 1e-12 * abs(f):
                accepted = True
                if tw != trial_want:
                    fn, sn, en, jn, dn = _evaluate(
                        model, dist, has_mu, y, lo, n, xfull, pos, bc, lb, ub, trial_want, g2, h2
                    )
                    if log_om:
                        _log_omega_chain(g2, h2, pos[1], k, xfull[1], True)
                    passes += 1
                break
            if tk < step and not tried_kink:
                step = tk
                at_kink = True
                tried_kink = True
                continue
            at_kink = False
            step *= 0.5
            if step < 1e-17:
                break
        if (
            accepted
            and step == 1.0
            and not at_kink
            and amax_ext > 1.0
            and fn - f > 0.75 * dec
        ):
            # the full step gained more than the quadratic model predicts (dec / 2): the model
            # is too timid (e.g. omega drifting towards its bound along alpha + beta = 1).
            # Double the step while the likelihood keeps rising, up to the nearest constraint.
            g3 = ws[52, :k]
            h3 = ws[53 : 53 + k, :k]
            for i in range(k):
                g3[i] = g2[i]
                if not chord:
                    for j in range(k):
                        h3[i, j] = h2[i, j]
            best = step
            for _ in range(30):
                trial = min(2.0 * best, amax_ext)
                for j in range(k):
                    xn[j] = xf[j] + trial * d[j]
                for i in range(_NFULL):
                    xfull[i] = x[i]
                _to_full(xn, pos, xfull, log_om)
                f3, s3, e3, j3, d3 = _evaluate(model, dist, has_mu, y, lo, n, xfull, pos, bc, lb, ub, trial_want, g2, h2)
                if log_om:
                    _log_omega_chain(g2, h2, pos[1], k, xfull[1], not chord)
                passes += 1
                if not (math.isfinite(f3) and f3 > fn):
                    break
                best = trial
                fn, sn, en, jn, dn = f3, s3, e3, j3, d3
                for i in range(k):
                    g3[i] = g2[i]
                    if not chord:
                        for j in range(k):
                            h3[i, j] = h2[i, j]
                if trial >= amax_ext:
                    break
            for i in range(k):
                g2[i] = g3[i]
                if not chord:
                    for j in range(k):
                        h2[i, j] = h3[i, j]
                xn[i] = xf[i] + best * d[i]
            for i in range(_NFULL):
                xfull[i] = x[i]
            _to_full(xn, pos, xfull, log_om)
            step = best
            if best >= amax_ext:
                amax = amax_ext
                block = block_ext
        if not accepted:
            if fresh:
                return _LINE_SEARCH, f, passes, s_last, e_last, dbc_last
            # a kept Hessian may be too stale for this step: refresh it and try again
            f, s_last, e_last, jmp, dbc_last = _evaluate(model, dist, has_mu, y, lo, n, x, pos, bc, lb, ub, want2, g, h)
            if log_om:
                _log_omega_chain(g, h, pos[1], k, x[1], True)
            passes += 1
            fresh = True
            dec_prev = np.inf
            continue
        if at_kink:
            pinned = True
        elif block >= 0 and step == amax:
            active[block] = True
        if chord:
            # BFGS update of the kept Hessian along the step (secant condition on the gradient),
            # unless the step crossed (or landed on) a kink of mu: the gradient jumps there
            if not (at_kink or tk < step):
                _bfgs_update(h, xf, xn, g, g2, k, d, sol)
            fresh = False
        for j in range(k):
            xf[j] = xn[j]
        for i in range(_NFULL):
            x[i] = xfull[i]
        f = fn
        s_last = sn
        e_last = en
        jmp = jn
        dbc_last = dn
        for i in range(k):
            g[i] = g2[i]
        if not chord:
            for i in range(k):
                for j in range(k):
                    h[i, j] = h2[i, j]
    return _NOT_CONVERGED, f, passes, s_last, e_last, dbc_last


# --------------------------------------------------------------------------------------------
# Cold starts (arch's starting values), single fits, forecasts (compiled)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _grid_gaussian_loglik(
    y: FloatArray,
    lo: int,
    n: int,
    ybar: float,
    bc: float,
    lb: FloatArray,
    ub: FloatArray,
    om: FloatArray,
    al: FloatArray,
    ga: FloatArray,
    be: FloatArray,
    out: FloatArray,
) -> None:
    """Gaussian log-likelihoods of many GARCH/GJR parameter sets in one pass over the window
    (arch scores its starting-value grid this way; inner loops over the sets vectorise)."""
    nc = om.shape[0]
    s = np.empty(nc)
    prod = np.ones(nc)
    slog = np.zeros(nc)
    se2s = np.zeros(nc)
    ep = 0.0
    for t in range(n):
        lbt = lb[t]
        ubt = ub[t]
        if t == 0:
            for c in range(nc):
                s[c] = om[c] + al[c] * bc + ga[c] * 0.5 * bc + be[c] * bc
        else:
            e2 = ep * ep
            ind = _f64(ep < 0.0)
            for c in range(nc):
                s[c] = om[c] + al[c] * e2 + ga[c] * e2 * ind + be[c] * s[c]
        over = False
        for c in range(nc):
            v = s[c]
            v = lbt if v < lbt else v
            over = over or v > ubt
            s[c] = v
        if over:
            for c in range(nc):
                if s[c] > ubt:
                    s[c] = ubt + 1000.0 if s[c] > _DBL_MAX else ubt + math.log(s[c] / ubt)
        e = y[lo + t] - ybar
        e2t = e * e
        for c in range(nc):
            se2s[c] += e2t / s[c]
            prod[c] *= s[c]
        if (t & 7) == 7:  # products of 8 bounded variances stay far from over/underflow
            for c in range(nc):
                slog[c] += math.log(prod[c])
                prod[c] = 1.0
        ep = e
    for c in range(nc):
        out[c] = -0.5 * (n * _LOG_2PI + slog[c] + math.log(prod[c]) + se2s[c])


# exp for loops over independent values (the EGARCH starting-value grid): libm's exp is a call
# the loop vectoriser cannot batch; this one is a few multiply-adds and two table lookups, so a
# loop of them runs as SIMD. exp(x) = 2**(k/64) exp(r), r = x - k ln2/64 (|r| <= ln2/128),
# exp(r) by its degree-5 Taylor polynomial (truncation < 4e-17); relative error below 5e-16
# for |x| <= 700 (tested against math.exp).
_EXP_TABLE = np.array([2.0 ** (j / 64.0) for j in range(64)])
_EXP_POW2 = np.array([2.0**m for m in range(-1022, 1024)])
_EXP_INV = 64.0 / math.log(2.0)
_EXP_LN2_HI = 6.93147180369123816490e-01 / 64.0  # fdlibm's split of ln 2 (hi has 32 zero bits)
_EXP_LN2_LO = 1.90821492927058770002e-10 / 64.0
_EXP_ROUND = 6755399441055744.0  # 1.5 * 2**52: adding and subtracting it rounds to an integer


@njit(cache=True)
def _exp_batch(x: float) -> float:
    """``exp(x)`` for ``|x| <= 700`` in a form the loop vectoriser can batch (see above)."""
    kf = (x * _EXP_INV + _EXP_ROUND) - _EXP_ROUND
    r = (x - kf * _EXP_LN2_HI) - kf * _EXP_LN2_LO
    k = np.int64(kf)
    j = k & 63
    m = (k - j) >> 6
    r2 = r * r
    p = 1.0 + r + r2 * (0.5 + r * (1.0 / 6.0)) + (r2 * r2) * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0)))
    return _EXP_TABLE[j] * _EXP_POW2[m + 1022] * p


@njit(cache=True)
def _grid_step_egarch(
    om: FloatArray,
    al: FloatArray,
    ga: FloatArray,
    be: FloatArray,
    lns: FloatArray,
    zs: FloatArray,
    slog: FloatArray,
    se2s: FloatArray,
    e: float,
    lbt: float,
    ubt: float,
) -> int:
    """One observation of every grid set (a branch-free loop over the sets, vectorised).

    ``h = omega + alpha (|z| - sqrt(2/pi)) + gamma z + beta h_prev`` with ``h_prev = lns[c]``
    and ``z = zs[c]``; the first observation passes ``alpha = gamma = 0`` and ``h_prev = ln bc``,
    which gives ``omega + beta ln bc`` exactly.

    Returns how many sets came within 1e-6 of arch's variance bounds ;
    their terms are left for the caller to add exactly. (Few arrays and no branches: the
    vectoriser gives up on loops with more.)
    """
    nbad = 0
    e2 = e * e
    for c in range(om.shape[0]):
        z = zs[c]
        v = om[c] + al[c] * (abs(z) - _SQRT2_OV_PI) + ga[c] * z + be[c] * lns[c]
        v = v if v < _LN_SIGMA_MAX else _LN_SIGMA_MAX
        xh = -0.5 * v
        xh = xh if xh > -700.0 else -700.0  # v <= _LN_SIGMA_MAX keeps xh above -355
        xh = xh if xh < 700.0 else 700.0
        u = _exp_batch(xh)
        u2 = u * u
        near = (u2 * lbt > 0.999999) | (u2 * ubt < 1.000001)
        lns[c] = v
        zs[c] = e * u
        # a set near a bound adds nothing here: the caller adds its exact terms (adding and
        # later subtracting a huge e**2/s would wipe out the sum)
        slog[c] += 0.0 if near else v
        se2s[c] += 0.0 if near else e2 * u2
        nbad += near
    return nbad


@njit(cache=True)
def _grid_gaussian_loglik_egarch(
    y: FloatArray,
    lo: int,
    n: int,
    ybar: float,
    bc: float,
    lb: FloatArray,
    ub: FloatArray,
    om: FloatArray,
    al: FloatArray,
    ga: FloatArray,
    be: FloatArray,
    out: FloatArray,
) -> None:
    """:func:`_grid_gaussian_loglik` for EGARCH (``bc`` is the log backcast).

    The sets are independent, so each observation updates all of them in one vectorised loop
    (:func:`_grid_step_egarch`, with :func:`_exp_batch`); the rare sets near arch's variance
    bounds are then redone exactly as arch does (``s = exp(h)`` clipped below at ``lb``,
    squashed above ``ub``).
    """
    nc = om.shape[0]
    lns = np.full(nc, bc)
    zs = np.zeros(nc)
    slog = np.zeros(nc)
    se2s = np.zeros(nc)
    zero = np.zeros(nc)
    for t in range(n):
        lbt = lb[t]
        ubt = ub[t]
        e = y[lo + t] - ybar
        if t == 0:
            nbad = _grid_step_egarch(om, zero, zero, be, lns, zs, slog, se2s, e, lbt, ubt)
        else:
            nbad = _grid_step_egarch(om, al, ga, be, lns, zs, slog, se2s, e, lbt, ubt)
        if nbad == 0:
            continue
        e2 = e * e
        for c in range(nc):
            v = lns[c]
            xh = min(max(-0.5 * v, -700.0), 700.0)
            u = _exp_batch(xh)  # the same test as in the vectorised loop
            u2 = u * u
            if not ((u2 * lbt > 0.999999) or (u2 * ubt < 1.000001)):
                continue
            sv = math.exp(v)
            if sv < lbt:
                sv = lbt
                v = math.log(sv)
            elif sv > ubt:
                sv = ubt + v - math.log(ubt)
                v = math.log(sv)
            slog[c] += v
            se2s[c] += e2 / sv
            lns[c] = v
            zs[c] = e / math.sqrt(sv)
    for c in range(nc):
        out[c] = -0.5 * (n * _LOG_2PI + slog[c] + se2s[c])


@njit(cache=True)
def _starting_values(
    model: int,
    dist: int,
    has_mu: bool,
    y: FloatArray,
    lo: int,
    n: int,
    ybar: float,
    bc: float,
    lb: FloatArray,
    ub: FloatArray,
    x: FloatArray,
    ws: FloatArray,
) -> None:
    """arch's starting values (mean, best of its variance grid by Gaussian likelihood, nu)."""
    alphas = (0.01, 0.05, 0.1, 0.2)
    betas = (0.5, 0.7, 0.9, 0.98)
    acc = 0.0
    for i in range(n):
        e = y[lo + i] - ybar
        acc += e * e
    target = acc / n
    xt = np.zeros(_NFULL)
    xt[0] = ybar
    best = -np.inf
    for x0 in range(_NFULL):
        x[x0] = 0.0
    x[0] = ybar
    if model == _EGARCH:
        lt = math.log(target)
        gammas = (-0.1, 0.0, 0.1)
        ncomb = 48
        om = np.empty(ncomb)
        al = np.empty(ncomb)
        ga = np.empty(ncomb)
        be = np.empty(ncomb)
        c = 0
        for ia in range(4):  # arch's order: itertools.product(alphas, gammas, betas)
            for ig in range(3):
                for ib in range(4):
                    om[c] = (1.0 - betas[ib]) * lt
                    al[c] = alphas[ia]
                    ga[c] = gammas[ig]
                    be[c] = betas[ib]
                    c += 1
        lls = np.empty(ncomb)
        _grid_gaussian_loglik_egarch(y, lo, n, ybar, bc, lb, ub, om, al, ga, be, lls)
        for c in range(ncomb):
            if lls[c] > best:  # first maximum, as np.argmax
                best = lls[c]
                x[1] = om[c]
                x[2] = al[c]
                x[3] = ga[c]
                x[4] = be[c]
    else:
        ng = 4 if model == _GJR else 1
        ncomb = 4 * ng * 4
        om = np.empty(ncomb)
        al = np.empty(ncomb)
        ga = np.zeros(ncomb)
        be = np.empty(ncomb)
        c = 0
        for ia in range(4):  # arch's order: itertools.product(alphas, gammas, betas)
            for ig in range(ng):
                for ib in range(4):
                    agb = betas[ib]
                    om[c] = (1.0 - agb) * target
                    al[c] = alphas[ia]
                    agb -= alphas[ia]
                    if model == _GJR:
                        ga[c] = alphas[ig]
                        agb -= alphas[ig] / 2.0
                    be[c] = agb
                    c += 1
        lls = np.empty(ncomb)
        _grid_gaussian_loglik(y, lo, n, ybar, bc, lb, ub, om, al, ga, be, lls)
        for c in range(ncomb):
            if lls[c] > best:  # first maximum, as np.argmax
                best = lls[c]
                x[1] = om[c]
                x[2] = al[c]
                x[3] = ga[c]
                x[4] = be[c]
    if not has_mu:
        x[0] = 0.0
    if dist == _T:
        # kurtosis of the standardized residuals at the starting variance parameters
        xt[0] = ybar
        for j in range(1, 5):
            xt[j] = x[j]
        std = np.empty(n)
        _std_resids(model, y, lo, n, xt, bc, lb, ub, std)
        mz = 0.0
        for i in range(n):
            mz += std[i]
        mz /= n
        m2 = 0.0
        m4 = 0.0
        for i in range(n):
            dd = (std[i] - mz) ** 2
            m2 += dd
            m4 += dd * dd
        m2 /= n
        m4 /= n
        kurt = m4 / (m2 * m2)
        sv = (4.0 * kurt - 6.0) / (kurt - 3.0) if kurt > 3.75 else 12.0
        x[5] = max(sv, 4.0)
    else:
        x[5] = 0.0


@njit(cache=True)
def _std_resids(
    model: int, y: FloatArray, lo: int, n: int, x: FloatArray, bc: float, lb: FloatArray, ub: FloatArray, out: FloatArray
) -> None:
    """Standardized residuals ``(y - x[0]) / sqrt(s)`` of the fitted recursion (no derivatives)."""
    mu = x[0]
    om, al, ga, be = x[1], x[2], x[3], x[4]
    s = 0.0
    lns = 0.0
    e = 0.0
    zs = 0.0
    for t in range(n):
        if model == _EGARCH:
            if t == 0:
                lns = om + be * bc
            else:
                lns = om + al * (abs(zs) - _SQRT2_OV_PI) + ga * zs + be * lns
            if lns > _LN_SIGMA_MAX:
                lns = _LN_SIGMA_MAX
            s = math.exp(lns)
            if s < lb[t]:
                s = lb[t]
                lns = math.log(s)
            elif s > ub[t]:
                s = ub[t] + lns - math.log(ub[t])
                lns = math.log(s)
        else:
            if t == 0:
                s = om + al * bc
                if model == _GJR:
                    s += ga * 0.5 * bc
                s += be * bc
            else:
                s_prev = s
                s = om + al * e * e
                if model == _GJR and e < 0.0:
                    s += ga * e * e
                s += be * s_prev
            if s < lb[t]:
                s = lb[t]
            elif s > ub[t]:
                s = ub[t] + 1000.0 if s > _DBL_MAX else ub[t] + math.log(s / ub[t])
        e = y[lo + t] - mu
        zs = e / math.sqrt(s)
        out[t] = zs


@njit(cache=True)
def _next_variance(model: int, x: FloatArray, s_last: float, e_last: float) -> float:
    """One-step variance from the last variance and residual (arch's forecast recursion)."""
    om, al, ga, be = x[1], x[2], x[3], x[4]
    if model == _EGARCH:
        zs = e_last / math.sqrt(s_last)
        lns = om + al * (abs(zs) - _SQRT2_OV_PI) + ga * zs + be * math.log(s_last)
        if lns > _LN_SIGMA_MAX:
            lns = _LN_SIGMA_MAX
        return math.exp(lns)
    s = om + al * e_last * e_last
    if model == _GJR and e_last < 0.0:
        s += ga * e_last * e_last
    return s + be * s_last


@njit(cache=True)
def _egarch_mgf(lam: float, al: float, ga: float) -> float:
    """``E[exp(lam * (al (|z| - sqrt(2/pi)) + ga z))]`` for a standard normal ``z``."""
    a = lam * al
    b = lam * ga
    return math.exp(-a * _SQRT2_OV_PI) * (
        math.exp(0.5 * (a + b) ** 2) * _norm_cdf(a + b) + math.exp(0.5 * (a - b) ** 2) * _norm_cdf(a - b)
    )


@njit(cache=True)
def _horizon_variance(model: int, x: FloatArray, s1: float, horizon: int) -> float:
    """Sum of the 1..h-step variance forecasts given the one-step variance ``s1``.

    GARCH/GJR: ``E[s(k+1)] = omega + phi E[s(k)]``, ``phi = alpha + gamma/2 + beta`` (arch's
    analytic forecast). EGARCH: the closed form of ``E[s(k)]`` under Gaussian innovations
    (Nelson 1991), also used for Student-t innovations (for which it does not exist).
    """
    om, al, ga, be = x[1], x[2], x[3], x[4]
    total = s1
    if model == _EGARCH:
        l1 = math.log(s1)
        prod = 1.0
        geo = 0.0
        bk = 1.0  # beta ** (k - 1)
        for _kk in range(1, horizon):
            prod *= _egarch_mgf(bk, al, ga)
            geo += bk
            bk *= be
            total += math.exp(om * geo + bk * l1) * prod
        return total
    phi = al + 0.5 * ga + be
    ek = s1
    for _ in range(1, horizon):
        ek = om + phi * ek
        total += ek
    return total


@njit(cache=True)
def _edge(model: int, dist: int, x: FloatArray, v: float) -> int:
    """Kind of edge of an optimum: 0 none; 1 persistent (``alpha + gamma/2 + beta >= 0.999``
    or ``omega`` within 100x of its lower bound, stretches that last; re-checks back off);
    2 always re-checked (``nu >= 100``; GARCH ``alpha < 1e-4``, where ``beta`` is barely
    identified; GARCH/GJR ``beta < 1e-4``, an ARCH(1) corner: the likelihood then often has a
    second maximum)."""
    if dist == _T and x[5] >= EDGE_NU:
        return 2
    if model == _EGARCH:
        return 1 if x[4] >= EDGE_PERSISTENCE else 0
    if model == _GARCH and x[2] < EDGE_ALPHA:
        return 2
    if x[4] < EDGE_BETA:
        return 2
    if x[2] + 0.5 * x[3] + x[4] >= EDGE_PERSISTENCE:
        return 1
    return 1 if x[1] < EDGE_OMEGA_FACTOR * 1e-8 * v else 0


@njit(cache=True)
def _cold_fit(
    model: int,
    dist: int,
    has_mu: bool,
    y: FloatArray,
    lo: int,
    n: int,
    x: FloatArray,
    pos: npt.NDArray[np.int64],
    k: int,
    ybar: float,
    bc: float,
    lb: FloatArray,
    ub: FloatArray,
    ca: FloatArray,
    cb: FloatArray,
    nc: int,
    tol: float,
    ws: FloatArray,
) -> tuple[int, float, int, float, float, float]:
    _starting_values(model, dist, has_mu, y, lo, n, ybar, bc, lb, ub, x, ws)
    return _newton(
        model, dist, has_mu, y, lo, n, x, pos, k, bc, lb, ub, ca, cb, nc, _i64(_MAXIT_COLD), tol, _bool(False),
        _bool(False), ws,
    )


@njit(cache=True)
def _fit_window(
    model: int,
    dist: int,
    has_mu: bool,
    y: FloatArray,
    lo: int,
    n: int,
    x: FloatArray,
    warm: bool,
    maxit_warm: int,
    tol: float,
    edge_check: bool,
    edge_backoff: bool,
    recheck: bool,
    lb: FloatArray,
    ub: FloatArray,
    ca: FloatArray,
    cb: FloatArray,
    ws: FloatArray,
    xtmp: FloatArray,
) -> tuple[int, float, int, float, int]:
    """Fit one window; ``x`` holds the warm start on entry (if ``warm``) and the optimum on exit.

    Returns ``(status, loglik, passes, s_next, check)`` with ``s_next`` arch's one-step variance
    forecast (backcast recomputed at the fitted mean) and ``check`` the outcome of a cold
    re-check of the warm optimum: 0 none, 1 agreed at a persistent edge (the caller then sets
    ``edge_backoff`` for ``EDGE_BACKOFF`` refits), 2 agreed, 3 disagreed (the warm path had
    followed another local maximum: the caller then re-checks every refit for a while).
    """
    pos, _m, k = _layout(model, dist, has_mu)
    ybar, bc, v = _window_stats(y, lo, n, has_mu, lb, ub)
    if not (v > 0.0 and math.isfinite(v)):
        return _S_FAILED, np.nan, 0, np.nan, 0
    if model == _EGARCH:
        bc = math.log(bc)
    nc = _constraints(model, dist, pos, k, v, ca, cb)
    status = _S_COLD_INITIAL
    code = _NONFINITE
    f = np.nan
    passes = 0
    s_last = np.nan
    e_last = np.nan
    dbc_last = np.nan
    check = 0
    if warm:
        # project the previous optimum on today's box (omega's bounds move with the window)
        xf = ws[22, :k]
        _gather(x, pos, xf)
        for c in range(nc):
            nz = -1
            cnt = 0
            for j in range(k):
                if ca[c, j] != 0.0:
                    cnt += 1
                    nz = j
            if cnt == 1:
                lim = cb[c] / ca[c, nz]
                if ca[c, nz] > 0.0 and xf[nz] < lim:
                    xf[nz] = lim
                elif ca[c, nz] < 0.0 and xf[nz] > lim:
                    xf[nz] = lim
        _scatter(xf, pos, x)
        code, f, passes, s_last, e_last, dbc_last = _newton(
            model, dist, has_mu, y, lo, n, x, pos, k, bc, lb, ub, ca, cb, nc, maxit_warm, tol, _bool(True), warm, ws
        )
        status = _S_WARM
        kind = _edge(model, dist, x, v) if code == _OK and edge_check else 0
        if kind == 2 or (kind == 1 and not edge_backoff) or (recheck and code == _OK):
            for i in range(_NFULL):
                xtmp[i] = x[i]
            code2, f2, p2, s2, e2, d2 = _cold_fit(
                model, dist, has_mu, y, lo, n, x, pos, k, ybar, bc, lb, ub, ca, cb, nc, tol, ws
            )
            passes += p2
            status = _S_EDGE if kind > 0 else _S_RECHECK
            # adopt the cold fit: started from arch's starting values, it is what arch itself
            # returns, even where the warm path has followed another local maximum (seen on
            # real data: alpha = 0, beta -> 1 with a higher likelihood but a variance that no
            # longer reacts to returns); keep the warm optimum only if the cold fit fails
            # they disagree when the one-step variance differs by more than 1e-3 (EGARCH's kinks
            # make the two optima differ slightly in the likelihood even when they agree)
            if code2 == _OK:
                sw = _next_variance(model, xtmp, s_last, e_last)
                sc = _next_variance(model, x, s2, e2)
                check = 3 if abs(sc - sw) > 1e-3 * sc else (1 if kind == 1 else 2)
            if code2 == _OK:
                f, s_last, e_last, dbc_last = f2, s2, e2, d2
            else:
                for i in range(_NFULL):
                    x[i] = xtmp[i]
        elif code != _OK:
            status = _S_COLD_FALLBACK
    if status == _S_COLD_INITIAL or status == _S_COLD_FALLBACK:
        code, f2, p2, s_last, e_last, dbc_last = _cold_fit(
            model, dist, has_mu, y, lo, n, x, pos, k, ybar, bc, lb, ub, ca, cb, nc, tol, ws
        )
        f = f2
        passes += p2
        if code != _OK:
            return _S_FAILED, f, passes, np.nan, False
    # forecast: arch recomputes the backcast from the residuals at the fitted mean
    mu = x[0] if has_mu else 0.0
    bc_fc = _backcast_at(y, lo, n, mu)
    if model == _EGARCH:
        bc_fc = math.log(bc_fc)
        shift = (bc_fc - bc) * dbc_last
        if abs(shift) <= _BC_SHIFT_MAX:
            # ln s_last moves by d ln s_last / d bc times the change of the log backcast; the
            # influence of the backcast decays geometrically, so the shift is usually ~1e-20
            # and the neglected second-order term is below rounding (no second pass)
            s_last *= math.exp(shift)
        else:
            _f_fc, s_last, e_last, _j, _d = _evaluate(
                model, dist, has_mu, y, lo, n, x, pos, bc_fc, lb, ub, _i64(0), ws[0, :k], ws[1 : 1 + k, :k]
            )
    else:
        # the GARCH recursion is linear in the backcast: ds_{n-1}/dbc = (a + g/2 + b) b**(n-1)
        phi = x[2] + 0.5 * x[3] + x[4]
        s_last += phi * x[4] ** (n - 1) * (bc_fc - bc)
    s_next = _next_variance(model, x, s_last, e_last)
    if not (math.isfinite(s_next) and s_next > 0.0 and math.isfinite(f)):
        return _S_FAILED, f, passes, np.nan, False
    return status, f, passes, s_next, check


# --------------------------------------------------------------------------------------------
# Walk-forward drivers (compiled)
# --------------------------------------------------------------------------------------------

_WS_ROWS, _WS_COLS = 60, 12


@njit(cache=True)
def _walk_one(
    y: FloatArray,
    lo: int,
    n_obs: int,
    window: int,
    start: int,
    model: int,
    dist: int,
    has_mu: bool,
    refit_every: int,
    horizon: int,
    maxit_warm: int,
    tol: float,
    edge_check: bool,
    recheck_every: int,
    out_x: FloatArray,
    out_s: FloatArray,
    out_hv: FloatArray,
    out_ll: FloatArray,
    out_status: npt.NDArray[np.int8],
    out_passes: npt.NDArray[np.int32],
    o0: int,
) -> None:
    """Walk forward over one series ``y[lo:lo+n_obs]``; writes rows ``o0 ..`` of the outputs.

    Forecast ``j`` is for bar ``t = start + j`` (``t = n_obs`` is the bar after the data) and
    uses only ``y[lo + t - window : lo + t]``.
    """
    lb = np.empty(window)
    ub = np.empty(window)
    ca = np.zeros((12, 6))
    cb = np.zeros(12)
    ws = np.zeros((_WS_ROWS, _WS_COLS))
    x = np.zeros(_NFULL)
    xtmp = np.zeros(_NFULL)
    have = _bool(False)
    s_prev = np.nan
    n_fc = n_obs - start + 1
    since = 0
    edge_skip = 0
    since_cold = 0
    alert = 0
    for j in range(n_fc):
        t = start + j
        row = o0 + j
        refit = (j == 0) or (since + 1 >= refit_every) or (not have)
        if refit:
            recheck = recheck_every > 0 and (alert > 0 or since_cold + 1 >= recheck_every)
            status, f, passes, s_next, check = _fit_window(
                model, dist, has_mu, y, lo + t - window, window, x, have, maxit_warm, tol,
                edge_check, edge_skip > 0, recheck, lb, ub, ca, cb, ws, xtmp,
            )
            if status == _S_WARM:
                since_cold += 1
            else:
                since_cold = 0
            since = 0
            if edge_skip > 0:
                edge_skip -= 1
            if alert > 0:
                alert -= 1
            if check == 1:
                edge_skip = EDGE_BACKOFF
            elif check == 3:
                alert = RECHECK_ALERT
            if status == _S_FAILED:
                have = _bool(False)
                for i in range(_NFULL):
                    out_x[row, i] = np.nan
                out_s[row] = np.nan
                out_hv[row] = np.nan
                out_ll[row] = np.nan
                out_status[row] = _S_FAILED
                out_passes[row] = passes
                s_prev = np.nan
                continue
            have = _bool(True)
            out_ll[row] = f
            out_passes[row] = passes
            out_status[row] = status
        else:
            since += 1
            e_prev = y[lo + t - 1] - (x[0] if has_mu else 0.0)
            s_next = _next_variance(model, x, s_prev, e_prev)
            out_ll[row] = np.nan
            out_passes[row] = 0
            out_status[row] = _S_FILTERED
        for i in range(_NFULL):
            out_x[row, i] = x[i]
        out_s[row] = s_next
        out_hv[row] = _horizon_variance(model, x, s_next, horizon)
        s_prev = s_next


@njit(cache=True, parallel=True)
def _walk_many_parallel(
    y: FloatArray,
    offsets: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    out_offsets: npt.NDArray[np.int64],
    window: int,
    model: int,
    dist: int,
    has_mu: bool,
    refit_every: int,
    horizon: int,
    maxit_warm: int,
    tol: float,
    edge_check: bool,
    recheck_every: int,
    out_x: FloatArray,
    out_s: FloatArray,
    out_hv: FloatArray,
    out_ll: FloatArray,
    out_status: npt.NDArray[np.int8],
    out_passes: npt.NDArray[np.int32],
) -> None:
    n_assets = starts.shape[0]
    for a in prange(n_assets):
        _walk_one(
            y, offsets[a], offsets[a + 1] - offsets[a], window, starts[a], model, dist, has_mu, refit_every,
            horizon, maxit_warm, tol, edge_check, recheck_every, out_x, out_s, out_hv, out_ll, out_status, out_passes,
            out_offsets[a],
        )


@njit(cache=True)
def _walk_many_serial(
    y: FloatArray,
    offsets: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    out_offsets: npt.NDArray[np.int64],
    window: int,
    model: int,
    dist: int,
    has_mu: bool,
    refit_every: int,
    horizon: int,
    maxit_warm: int,
    tol: float,
    edge_check: bool,
    recheck_every: int,
    out_x: FloatArray,
    out_s: FloatArray,
    out_hv: FloatArray,
    out_ll: FloatArray,
    out_status: npt.NDArray[np.int8],
    out_passes: npt.NDArray[np.int32],
) -> None:
    for a in range(starts.shape[0]):
        _walk_one(
            y, offsets[a], offsets[a + 1] - offsets[a], window, starts[a], model, dist, has_mu, refit_every,
            horizon, maxit_warm, tol, edge_check, recheck_every, out_x, out_s, out_hv, out_ll, out_status, out_passes,
            out_offsets[a],
        )


@njit(cache=True)
def _fit_single(
    y: FloatArray, model: int, dist: int, has_mu: bool, tol: float, out_x: FloatArray
) -> tuple[int, float, int, float]:
    n = y.shape[0]
    lb = np.empty(n)
    ub = np.empty(n)
    ca = np.zeros((12, 6))
    cb = np.zeros(12)
    ws = np.zeros((_WS_ROWS, _WS_COLS))
    xtmp = np.zeros(_NFULL)
    no = _bool(False)
    status, f, passes, s_next, _check = _fit_window(
        model, dist, has_mu, y, _i64(0), n, out_x, no, _i64(0), tol, no, no, no, lb, ub, ca, cb, ws, xtmp
    )
    return status, f, passes, s_next


@njit(cache=True)
def _loglik_at(
    y: FloatArray, model: int, dist: int, has_mu: bool, x: FloatArray, grad: FloatArray, hess: FloatArray
) -> float:
    n = y.shape[0]
    lb = np.empty(n)
    ub = np.empty(n)
    lo = _i64(0)
    ybar, bc, v = _window_stats(y, lo, n, has_mu, lb, ub)
    if model == _EGARCH:
        bc = math.log(bc)
    pos, _m, k = _layout(model, dist, has_mu)
    hw = np.zeros((_NFULL, _NFULL))
    h = hw[:k, :k]
    f = _evaluate(model, dist, has_mu, y, lo, n, x, pos, bc, lb, ub, _i64(2), grad, h)[0]
    for i in range(k):
        for j in range(k):
            hess[i, j] = h[i, j] if j >= i else h[j, i]
    return f


@njit(cache=True)
def _forecast_at(
    y: FloatArray, lo: int, n: int, model: int, dist: int, has_mu: bool, x: FloatArray
) -> tuple[float, float]:
    """Log-likelihood and arch's one-step variance forecast at given parameters (no fitting)."""
    lb = np.empty(n)
    ub = np.empty(n)
    ybar, bc, v = _window_stats(y, lo, n, has_mu, lb, ub)
    if model == _EGARCH:
        bc = math.log(bc)
    pos, _m, k = _layout(model, dist, has_mu)
    g = np.zeros(k)
    hw = np.zeros((_NFULL, _NFULL))
    h = hw[:k, :k]
    want0 = _i64(0)
    f = _evaluate(model, dist, has_mu, y, lo, n, x, pos, bc, lb, ub, want0, g, h)[0]
    bc_fc = _backcast_at(y, lo, n, x[0] if has_mu else 0.0)
    if model == _EGARCH:
        bc_fc = math.log(bc_fc)
    s_last, e_last = _evaluate(model, dist, has_mu, y, lo, n, x, pos, bc_fc, lb, ub, want0, g, h)[1:3]
    return f, _next_variance(model, x, s_last, e_last)


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
    if parallel:
        # assets differ a lot in cost (re-checks, fallbacks): hand them out one at a time
        # instead of numba's default equal chunks per thread
        with numba.parallel_chunksize(1):
            _walk_many_parallel(
                y_all, offsets, starts, out_offsets, spec.window, _MODEL_CODE[spec.model], _DIST_CODE[spec.dist],
                spec.mean is MeanName.CONSTANT, spec.refit_every, spec.horizon_bars, spec.maxit_warm, spec.tol,
                spec.edge_check, spec.recheck_every, out["x"], out["s"], out["hv"], out["ll"], out["status"],
                out["passes"],
            )
        return out
    _walk_many_serial(
        y_all, offsets, starts, out_offsets, spec.window, _MODEL_CODE[spec.model], _DIST_CODE[spec.dist],
        spec.mean is MeanName.CONSTANT, spec.refit_every, spec.horizon_bars, spec.maxit_warm, spec.tol,
        spec.edge_check, spec.recheck_every, out["x"], out["s"], out["hv"], out["ll"], out["status"], out["passes"],
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

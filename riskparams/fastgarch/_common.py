"""Shared constants, status codes, special functions, the parameter layout, window statistics and arch's constraints (compiled).

Part of :mod:`riskparams.fastgarch` (see its docstring for the method).
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from riskparams.domain import DistName, MeanName, ModelName

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
    bc = _backcast_at(y, lo, n, ybar)
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



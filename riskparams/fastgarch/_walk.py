"""Walk-forward drivers over one or many series (compiled).

Part of :mod:`riskparams.fastgarch` (see its docstring for the method).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from riskparams.fastgarch._common import (
    _EGARCH,
    _NFULL,
    _S_FAILED,
    _S_FILTERED,
    _S_WARM,
    EDGE_BACKOFF,
    RECHECK_ALERT,
    FloatArray,
    _backcast_at,
    _bool,
    _i64,
    _layout,
    _window_stats,
)
from riskparams.fastgarch._fit import (
    _fit_window,
    _horizon_variance,
    _next_variance,
)
from riskparams.fastgarch._passes import (
    _evaluate,
)

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



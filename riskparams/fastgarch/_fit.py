"""Cold starts (arch's starting values), one window's fit with its guards, forecasts (compiled).

Part of :mod:`riskparams.fastgarch` (see its docstring for the method).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from riskparams.fastgarch._common import (
    _BC_SHIFT_MAX,
    _DBL_MAX,
    _EGARCH,
    _GARCH,
    _GJR,
    _LN_SIGMA_MAX,
    _LOG_2PI,
    _MAXIT_COLD,
    _NFULL,
    _NONFINITE,
    _OK,
    _S_COLD_FALLBACK,
    _S_COLD_INITIAL,
    _S_EDGE,
    _S_FAILED,
    _S_RECHECK,
    _S_WARM,
    _SQRT2_OV_PI,
    _T,
    EDGE_ALPHA,
    EDGE_BETA,
    EDGE_NU,
    EDGE_OMEGA_FACTOR,
    EDGE_PERSISTENCE,
    FloatArray,
    _backcast_at,
    _bool,
    _constraints,
    _f64,
    _i64,
    _layout,
    _norm_cdf,
    _window_stats,
)
from riskparams.fastgarch._newton import (
    _gather,
    _newton,
    _scatter,
)
from riskparams.fastgarch._passes import (
    _evaluate,
)

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
            if code2 == _OK:
                # the two disagree when the one-step variance differs by more than 1e-3 (EGARCH's
                # kinks make the optima differ slightly in the likelihood even when they agree)
                sw = _next_variance(model, xtmp, s_last, e_last)
                sc = _next_variance(model, x, s2, e2)
                check = 3 if abs(sc - sw) > 1e-3 * sc else (1 if kind == 1 else 2)
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
            return _S_FAILED, f, passes, np.nan, 0
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
        return _S_FAILED, f, passes, np.nan, 0
    return status, f, passes, s_next, check



"""The active-set Newton optimiser on arch's linear constraints, with EGARCH's kinks in mu (compiled).

Part of :mod:`riskparams.fastgarch` (see its docstring for the method).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from riskparams.fastgarch._common import (
    _CHORD_SWITCH,
    _EGARCH,
    _LINE_SEARCH,
    _NFULL,
    _NONFINITE,
    _NOT_CONVERGED,
    _OK,
    FloatArray,
    _i64,
)
from riskparams.fastgarch._passes import (
    _evaluate,
)

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



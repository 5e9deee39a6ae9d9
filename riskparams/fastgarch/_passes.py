"""Likelihood passes: value, analytic gradient and exact Hessian in one sweep (compiled).

Part of :mod:`riskparams.fastgarch` (see its docstring for the method).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from riskparams.fastgarch._common import (
    _DBL_MAX,
    _EGARCH,
    _GJR,
    _LN_SIGMA_MAX,
    _LOG_2PI,
    _NFULL,
    _SQRT2_OV_PI,
    _T,
    FloatArray,
    _digamma,
    _f64,
    _trigamma,
)

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



"""Evaluation of one parameter set on one asset: margins in force at each bar, exceptions (headline side, per
side, per tier over its own margin period of risk), Kupiec, the ES backtest, claimed coverage, capital
and procyclicality, the liquidation schedule and simulation, shocks and stress windows. Part of
:mod:`riskparams.backtest`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskparams.backtest.params import _imf_of, _LendSet, _margin_of, _Params, _PerpSet
from riskparams.backtest.prepare import _policy_adv, _Prepared
from riskparams.backtest.results import (
    CadenceRecord,
    CapitalStats,
    ClaimedCoverage,
    SetBacktest,
    TierCoverage,
    WindowOutcome,
)
from riskparams.backtest.spec import BacktestSpec, Side
from riskparams.config import RiskPolicy
from riskparams.coverage import ESBacktestResult, adverse_moves, coverage_report, es_backtest, kupiec_pof
from riskparams.domain import LendingAssetProposal, PerpAssetProposal
from riskparams.exceptions import PolicyError
from riskparams.liquidation import (
    MarginSchedule,
    ScheduleVersion,
    StressWindow,
    shock_bad_debt,
    simulate_liquidations,
)
from riskparams.measures import impact_cost
from riskparams.proposals import margin_period
from riskparams.returns import horizon_to_bars, hours_per_bar

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _kupiec_at(n: int, x: int, rate: float) -> float:
    """Kupiec's p-value of ``x`` exceptions in ``n`` at an exception rate ``rate`` (NaN when undefined)."""
    if n < 1 or not 0.0 < rate < 0.5:
        return math.nan
    return kupiec_pof(n, x, 1.0 - rate).p_value



def _max_increase(m: FloatArray, lag: int) -> tuple[float, float]:
    """Largest ``m_t / m_{t-lag} - 1`` and ``m_t - m_{t-lag}`` (NaN when the path is too short)."""
    if lag < 1 or m.size <= lag:
        return math.nan, math.nan
    a, b = m[lag:], m[:-lag]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(b > 0, a / b - 1.0, np.nan)
    return float(np.nanmax(rel)) if np.isfinite(rel).any() else math.nan, float(np.max(a - b))


def _capital(margin: FloatArray, imf: FloatArray, vidx: npt.NDArray[np.int64], versions: Sequence[_Params],
             freq: str) -> CapitalStats:
    bpd = max(1, 24 // hours_per_bar(freq))
    incs = {f"{d}d": _max_increase(margin, d * bpd) for d in (1, 5, 30)}
    changes = sum(1 for a, b in zip(versions[:-1], versions[1:], strict=True) if a.values() != b.values())
    with np.errstate(divide="ignore"):
        lev = 1.0 / imf
    extra: dict[str, float] = {}
    if versions and isinstance(versions[0], _LendSet):
        ltv = np.asarray([versions[i].ltv for i in vidx], dtype=float)  # type: ignore[union-attr]
        lt = np.asarray([versions[i].lt for i in vidx], dtype=float)  # type: ignore[union-attr]
        lb = np.asarray([versions[i].lb for i in vidx], dtype=float)  # type: ignore[union-attr]
        extra = {"avg_ltv": float(ltv.mean()), "avg_liquidation_threshold": float(lt.mean()),
                 "avg_liquidation_bonus": float(lb.mean())}
    lo, hi = float(np.min(margin)), float(np.max(margin))
    return CapitalStats(
        avg_margin=float(np.mean(margin)), min_margin=lo, max_margin=hi,
        peak_to_trough=hi / lo if lo > 0 else math.inf, avg_imf=float(np.mean(imf)),
        avg_max_leverage=float(np.mean(lev)), max_increase={k: v[0] for k, v in incs.items()},
        max_increase_abs={k: v[1] for k, v in incs.items()}, changes=int(changes), extra=extra,
    )


def _schedule(name: str, ts: pd.DatetimeIndex, bars: npt.NDArray[np.int64], versions: Sequence[_Params]) -> MarginSchedule:
    """Liquidation schedule: the first version from the start; later ones from the bar after their
    proposal; frozen versions keep the tiers before them; unchanged ones are merged."""
    out: list[ScheduleVersion] = []
    last: tuple[Any, ...] | None = None
    for i, (b, v) in enumerate(zip(bars, versions, strict=True)):
        if v.frozen:
            continue
        vals = v.values()
        if vals == last:
            continue
        if i == 0 or not out:
            out.append(ScheduleVersion(effective_from=None, tiers=v.tiers()))
        else:
            if int(b) + 1 >= len(ts):
                continue
            out.append(ScheduleVersion(effective_from=ts[int(b) + 1], tiers=v.tiers()))
        last = vals
    if not out:  # every version frozen: no leverage from the start
        base = versions[0]
        assert isinstance(base, _PerpSet)
        out.append(ScheduleVersion(effective_from=None, tiers=replace(base, frozen=False).tiers()))
    return MarginSchedule(name=name, versions=tuple(out))


def _side_series(adv_long: FloatArray, adv_short: FloatArray, margin: FloatArray, side: Side,
                 lending: bool) -> tuple[str, FloatArray]:
    if lending or side is Side.LONG:
        return "long", adv_long
    if side is Side.SHORT:
        return "short", adv_short
    if side is Side.BOTH:
        return "both", np.fmax(adv_long, adv_short)
    n_long = int(np.count_nonzero(adv_long > margin))
    n_short = int(np.count_nonzero(adv_short > margin))
    return ("short", adv_short) if n_short > n_long else ("long", adv_long)


def _evaluate_set(
    p: _Prepared,
    *,
    name: str,
    kind: str,
    source: str,
    bars: npt.NDArray[np.int64],
    versions: Sequence[_Params],
    es_ratio: FloatArray,
    records: Sequence[CadenceRecord],
    proposals: Sequence[PerpAssetProposal | LendingAssetProposal],
    policy: RiskPolicy,
    spec: BacktestSpec,
    adv_long: FloatArray,
    adv_short: FloatArray,
    stress: Sequence[StressWindow],
    prices_period: pd.DataFrame,
    population: Any,
    cost: Callable[[FloatArray], FloatArray] | None,
    tier_moves: Callable[[float], tuple[int, FloatArray, FloatArray]] | None = None,
    claimed: tuple[FloatArray, FloatArray, BoolArray] | None = None,
) -> SetBacktest:
    q = policy.confidence
    lending = spec.profile == "lending"
    t0, t1, h = p.t0, p.t1, p.h
    period = np.arange(t0, t1 + 1)
    vidx = np.asarray(np.searchsorted(bars, period, side="right") - 1, dtype=np.int64)
    if (vidx < 0).any():
        raise AssertionError("a bar of the period has no parameters in force")
    mv = np.asarray([_margin_of(v) for v in versions], dtype=float)
    iv = np.asarray([_imf_of(v) for v in versions], dtype=float)
    margin, imf = mv[vidx], iv[vidx]
    n_obs = adv_long.size
    m_obs = margin[:n_obs]
    side, adverse = _side_series(adv_long, adv_short, m_obs, spec.side, lending)
    exc = adverse > m_obs
    any_exc = (np.fmax(adv_long, adv_short) > m_obs) if not lending else exc
    idx_h = np.arange(0, n_obs, h)
    side_counts: dict[str, dict[str, float]] = {}
    for nm, arr in (("long", adv_long), ("short", adv_short)) if not lending else (("long", adv_long),):
        e_all = arr > m_obs
        e0 = e_all[idx_h]
        side_counts[nm] = {"exceptions": int(e0.sum()), "n": int(e0.size), "overlapping_exceptions": int(e_all.sum()),
                           "kupiec_p": kupiec_pof(int(e0.size), int(e0.sum()), q).p_value if e0.size else math.nan}
    dates = p.ts[t0: t0 + n_obs]
    cov = coverage_report(exc, q, horizon_bars=h, dates=dates, exceedances=adverse - m_obs, margins=m_obs,
                          windows=stress)
    # ES backtest on the offset-0 non-overlapping sample
    idx0 = np.arange(0, n_obs, h)
    ratio = es_ratio[:n_obs][idx0]  # per period bar
    var0 = m_obs[idx0]
    es_res: ESBacktestResult | None = None
    if idx0.size and (var0 > 0).all():
        es_res = es_backtest(adverse[idx0], var0, var0 * ratio, q, n_sims=spec.es_sims, seed=0)
    # tiers (perps): exceptions of each tier's MMF at its floor notional, over the tier's own horizon
    tier_cov: list[TierCoverage] = []
    if not lending:
        first = versions[0]
        assert isinstance(first, _PerpSet)
        perp_versions = [v for v in versions if isinstance(v, _PerpSet)]
        for k, floor in enumerate(first.floors):
            cap = first.caps[k]
            hk, al, ash = (h, adv_long, adv_short) if tier_moves is None else tier_moves(
                float(cap) if cap is not None else max(policy.perp.last_tier_cost_notional, 2.0 * floor))
            nk_obs = al.size
            tm = np.asarray([v.mmf_at(floor) for v in perp_versions], dtype=np.float64)[vidx]
            _sd, tadv = _side_series(al, ash, tm[:nk_obs], spec.side, lending)
            te = tadv > tm[:nk_obs]
            e0 = te[np.arange(0, nk_obs, hk)]
            tier_cov.append(TierCoverage(
                tier=k, notional=float(floor), avg_mmf=float(tm.mean()), n=int(e0.size),
                exceptions=int(e0.sum()), expected=float(e0.size * (1 - q)),
                kupiec_p=kupiec_pof(int(e0.size), int(e0.sum()), q).p_value if e0.size else math.nan,
                overlapping_exceptions=int(te.sum()), horizon_bars=int(hk)))
    claimed_cov = None
    if claimed is not None:
        rate_v, room_v, stressed_v = claimed
        rate, room = rate_v[vidx][:n_obs], room_v[vidx][:n_obs]
        c0, c_h = p.close[t0: t0 + n_obs], p.close[t0 + h: t0 + h + n_obs]
        ratio = c_h / c0
        exc_c = (1.0 - ratio > room) if lending else ((1.0 - ratio > room) | (ratio - 1.0 > room))
        in_stress = stressed_v[vidx][:n_obs]
        sel = np.zeros(n_obs, dtype=bool)
        sel[idx_h] = True
        steady = sel & ~in_stress
        n_all, x_all, exp_all = int(sel.sum()), int(exc_c[sel].sum()), float(rate[sel].sum())
        n_st, x_st, e_st = int(steady.sum()), int(exc_c[steady].sum()), float(rate[steady].sum())
        claimed_cov = ClaimedCoverage(
            n=n_all, exceptions=x_all, expected=exp_all, claimed_rate=exp_all / n_all if n_all else math.nan,
            kupiec_p=_kupiec_at(n_all, x_all, exp_all / n_all if n_all else math.nan), steady_n=n_st,
            steady_exceptions=x_st, steady_expected=e_st,
            steady_kupiec_p=_kupiec_at(n_st, x_st, e_st / n_st if n_st else math.nan))
    capital = _capital(margin, imf, vidx, versions, p.data.freq)
    try:
        sched = _schedule(name, p.ts, bars, versions)
    except ValueError as err:
        raise PolicyError(f"parameter set {name!r} ({source}) for {p.data.symbol}: {err}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        liq = simulate_liquidations(prices_period, sched, population, close_out="worst", horizon_bars=h,
                                    close_out_cost=cost, insurance_fund_start=spec.insurance_fund_start)
    # shocks on the parameters in force at the end (the last non-frozen ones)
    end_tiers = sched.latest
    shocks = shock_bad_debt(end_tiers, spec.shock_list, close_out_cost=cost,
                            notionals=(policy.lending.reference_liquidation_notional,) if lending else None)
    # stress windows
    detail = liq.positions_detail
    lts = pd.DatetimeIndex(pd.to_datetime(detail["liquidation_ts"], utc=True))
    liq_bd = detail["bad_debt"].to_numpy(dtype=float)
    period_ts = p.ts[t0: t1 + 1]
    wins = []
    for w in stress:
        in_w = np.asarray((lts >= w.start) & (lts <= w.end))
        mask = np.asarray((period_ts >= w.start) & (period_ts <= w.end))
        omask = mask[:n_obs]
        wm = margin[mask]
        wins.append(WindowOutcome(
            name=w.name, exceptions=int(any_exc[omask].sum()), n=int(omask.sum()), liquidations=int(in_w.sum()),
            bad_debt=float(np.nansum(liq_bd[in_w])), margin_start=float(wm[0]) if wm.size else math.nan,
            margin_max=float(wm.max()) if wm.size else math.nan))
    return SetBacktest(
        name=name, kind=kind, source=source, margin=margin, imf=imf, version_bar=np.asarray(bars - t0, dtype=np.int64),
        versions=tuple(versions), cadence=tuple(records), proposals=tuple(proposals), exceptions=exc,
        exceptions_any=any_exc, side_counts=side_counts, side=side, coverage=cov, es=es_res, capital=capital, tiers=tuple(tier_cov),
        liquidation=liq, shocks=shocks, windows=tuple(wins), claimed=claimed_cov,
    )



def _cost_model(p: _Prepared, policy: RiskPolicy, lookback_vol: float) -> tuple[Callable[[FloatArray], FloatArray],
                                                                                 dict[str, float]]:
    """Square-root close-out cost with ADV and daily volatility as of the first period bar, and its inputs."""
    adv = _policy_adv(p, policy, p.t0)
    sd = lookback_vol * math.sqrt(24.0 / hours_per_bar(p.data.freq))
    liq = policy.liquidity
    inputs = {"adv": adv, "sigma_daily": sd, "half_spread": float(liq.half_spread), "impact_k": float(liq.impact_k)}
    if not (math.isfinite(adv) and adv > 0 and math.isfinite(sd)):
        half = float(liq.half_spread)
        return (lambda n: np.full(np.shape(n), half)), inputs

    def cost(n: FloatArray) -> FloatArray:
        return np.minimum(np.asarray(impact_cost(np.asarray(n, dtype=float), adv, sd, k=liq.impact_k,
                                                 half_spread=liq.half_spread), dtype=float), 0.5)

    return cost, inputs


def _tier_moves(p: _Prepared, policy: RiskPolicy, close: FloatArray, high: FloatArray,
                low: FloatArray) -> Callable[[float], tuple[int, FloatArray, FloatArray]]:
    """For a tier closing out ``notional``: its horizon in bars (the policy's margin period of risk at the first
    bar's ADV, at least one bar) and the long and short adverse excursions over it at each observation."""
    adv0 = _policy_adv(p, policy, p.t0)
    cache: dict[int, tuple[FloatArray, FloatArray]] = {}
    longest = max(1, p.t1 - p.t0 - 1)

    def moves(notional: float) -> tuple[int, FloatArray, FloatArray]:
        hours = margin_period([notional], adv0, policy).tiers[0].horizon_hours if adv0 > 0 else math.inf
        hk = min(horizon_to_bars(min(hours, policy.mpor.max_hours), p.data.freq), longest)
        if hk not in cache:
            n_obs = p.t1 + 1 - p.t0 - hk
            cache[hk] = (adverse_moves(close, high, low, hk, "long")[p.t0: p.t0 + n_obs],
                         adverse_moves(close, high, low, hk, "short")[p.t0: p.t0 + n_obs])
        return (hk, *cache[hk])

    return moves

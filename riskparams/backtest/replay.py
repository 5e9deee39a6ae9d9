"""The walk-forward replay of the policy: a proposal on each cadence bar from the volatility estimate of that
bar, with guardrails and anti-procyclicality relative to the parameters in force, and what each proposal's
own law claims about its coverage. Part of :mod:`riskparams.backtest`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskparams import fastgarch
from riskparams.backtest.estimates import _FALLBACK, _es_ratio, _Estimates
from riskparams.backtest.params import _LendSet, _Params, _PerpSet
from riskparams.backtest.prepare import _policy_adv, _Prepared
from riskparams.backtest.results import CadenceRecord
from riskparams.backtest.spec import BacktestSpec
from riskparams.config import RiskPolicy
from riskparams.domain import CurrentLending, CurrentPerp, LendingAssetProposal, PerpAssetProposal
from riskparams.exceptions import HistoryError
from riskparams.measures import Tail
from riskparams.proposals import propose_lending, propose_tiers
from riskparams.returns import iso_utc
from riskparams.volatility import ModelName, VolEstimate

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Replay:
    version_bar: npt.NDArray[np.int64]  # absolute bar of each version
    versions: tuple[_Params, ...]
    records: tuple[CadenceRecord, ...]
    proposals: tuple[PerpAssetProposal | LendingAssetProposal, ...]
    es_ratio: FloatArray  # per version
    arch_fallbacks: int
    claimed_rate: FloatArray  # per version: the probability the proposal gives a close-to-close move beyond its room
    room: FloatArray  # per version: tier-1 MMF less its close-out cost (lending: 1 - LT (1 + LB))
    stressed: BoolArray  # per version: proposed in a stressed regime
    live: FloatArray  # per version, perps: (tier-1 MMF, max leverage) the policy itself gives (no guardrails)
    decision_bar: npt.NDArray[np.int64] | None = None  # absolute bar of each version's decision (-1: in force before)
    at_target: BoolArray | None = None  # per version: no step limit bound (the model's target within the dead-band)
    param_changes: npt.NDArray[np.int64] | None = None  # per version: parameter values changed from the previous
    changed_no_db: BoolArray | None = None  # per version: would have changed with dead_band = 0, same path


def quiet(_message: str) -> None:
    """A progress callback that reports nothing (a sweep's replays; the replay then skips its messages)."""


def _n_param_changes(old: _Params | None, new: _Params) -> int:
    """Parameter values of ``new`` that differ from ``old`` (perps: MMF, max leverage, penalty, floor and cap of
    each tier, and the frozen flag; lending: LTV, LT, bonus); all of ``new``'s when there is no ``old`` to
    compare with."""
    if isinstance(new, _LendSet):
        if not isinstance(old, _LendSet):
            return 3
        return sum(a != b for a, b in zip(old.values(), new.values(), strict=True))
    if not isinstance(old, _PerpSet) or len(old.mmf) != len(new.mmf):
        return 5 * len(new.mmf) + (1 if new.frozen else 0)
    n = int(old.frozen != new.frozen)
    for arr in ("floors", "caps", "mmf", "max_leverage", "penalty"):
        n += sum(a != b for a, b in zip(getattr(old, arr), getattr(new, arr), strict=True))
    return n


def _at_target(prop: PerpAssetProposal | LendingAssetProposal) -> bool:
    """The proposal is the model's target within the dead-band: it is marginable and no step limit
    (``max_change``) bound any parameter."""
    if isinstance(prop, PerpAssetProposal) and (prop.status != "ok" or not prop.tiers):
        return False
    return not any(ln.bound == "max_change" for ln in prop.lines)


def _guard_lines(prop: PerpAssetProposal | LendingAssetProposal) -> tuple[str, ...]:
    out = []
    for ln in prop.lines:
        if ln.bound in ("dead_band", "max_change", "invariant"):
            where = "" if ln.tier is None else f" tier {ln.tier + 1}"
            out.append(f"{ln.parameter}{where}: {ln.bound}")
    return tuple(out)



def _replay_policy(
    p: _Prepared,
    policy: RiskPolicy,
    spec: BacktestSpec,
    profile: str,
    current: CurrentPerp | CurrentLending | None,
    fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None,
    tick: Callable[[str], None],
    estimates: _Estimates | None = None,
    lean: bool = False,
) -> _Replay:
    """``estimates``: shared with other replays of the same asset (a sweep's variants, :meth:`_Estimates.keys`);
    built here when not given. ``lean`` (a sweep, which reports the decisions' parameters and what they
    give): the proposals without their narrative (``propose_tiers(detail=False)``), no counterfactual
    without the dead-band (``changed_no_db`` is ``changed``) and no live-horizon tier 1 (NaN)."""
    sym = p.data.symbol.upper()
    if estimates is None:
        estimates = _Estimates(p, policy, spec, fast)
    fallbacks = 0
    in_force = current
    prev: _Params | None = None
    if current is not None:
        prev = _PerpSet.from_current(current) if isinstance(current, CurrentPerp) else _LendSet.from_current(current)
    last_ok_perp = prev if isinstance(prev, _PerpSet) else None
    bars: list[int] = []
    versions: list[_Params] = []
    records: list[CadenceRecord] = []
    proposals: list[PerpAssetProposal | LendingAssetProposal] = []
    ratios: list[float] = []
    claimed: list[tuple[float, float]] = []
    live: list[tuple[float, float]] = []
    at_target: list[bool] = []
    n_changes: list[int] = []
    no_db: list[bool] = []
    g = policy.guardrails
    policy_no_db = replace(policy, guardrails=replace(g, dead_band=0.0)) if g.dead_band > 0 else policy

    stamps = list(p.ts[p.cadence])  # the decision times, indexed once
    for t, ts_t in zip(p.cadence.tolist(), stamps, strict=True):
        k = int(p.nk[t])
        est, engine_used = estimates.at(t)
        fallbacks += engine_used == _FALLBACK
        adv = _policy_adv(p, policy, t, estimates.adv)
        if not (math.isfinite(adv) and adv > 0):
            raise HistoryError(f"{sym}: no volume data to estimate ADV at {iso_utc(ts_t)}; set "
                               f"liquidity.adv_override.{sym} in the policy.")
        lookback = float(estimates.history.lookback[k])
        new: _Params
        before = in_force  # the parameters the guardrails see (the previous decision)
        if profile == "perp":
            cur_perp = in_force if isinstance(in_force, CurrentPerp) else None
            prop: PerpAssetProposal | LendingAssetProposal = propose_tiers(
                est, policy, adv=adv, current=cur_perp, symbol=sym, lookback_vol=lookback, detail=not lean)
            assert isinstance(prop, PerpAssetProposal)
            if prop.status == "ok" and prop.tiers:
                new = _PerpSet.from_proposal(prop)
                last_ok_perp = new
                in_force = new.to_current(sym)
            else:
                new = last_ok_perp.frozen_copy() if last_ok_perp is not None else _PerpSet.placeholder()
        else:
            cur_l = in_force if isinstance(in_force, CurrentLending) else None
            prop = propose_lending(est, policy, adv=adv, current=cur_l, symbol=sym, lookback_vol=lookback)
            assert isinstance(prop, LendingAssetProposal)
            new = _LendSet(prop.ltv, prop.liquidation_threshold, prop.liquidation_bonus)
            in_force = new.to_current(sym)
        changed = prev is None or new.values() != prev.values()
        would = changed
        if not lean and not changed and any(ln.bound == "dead_band" for ln in prop.lines):
            # same estimate, same parameters in force, dead-band 0: would this decision have changed them?
            if profile == "perp":
                alt = propose_tiers(est, policy_no_db, adv=adv, current=before if isinstance(before, CurrentPerp)
                                    else None, symbol=sym, lookback_vol=lookback)
                would = (isinstance(alt, PerpAssetProposal) and alt.status == "ok" and bool(alt.tiers)
                         and prev is not None and _PerpSet.from_proposal(alt).values() != prev.values())
            else:
                alt_l = propose_lending(est, policy_no_db, adv=adv, current=before if isinstance(
                    before, CurrentLending) else None, symbol=sym, lookback_vol=lookback)
                would = prev is not None and (alt_l.ltv, alt_l.liquidation_threshold,
                                              alt_l.liquidation_bonus) != prev.values()
        at_target.append(_at_target(prop))
        n_changes.append(_n_param_changes(prev, new) if changed else 0)
        no_db.append(bool(would))
        cm = prop.covered
        records.append(CadenceRecord(
            ts=ts_t, params=new.to_dict(), changed=bool(changed), model=f"{est.model.value}-{est.dist.value}",
            engine=engine_used, next_vol_annualised=est.next_vol_annualised, covered_move=cm.final,
            in_stress=cm.in_stress, binding=tuple(cm.binding), guardrails=_guard_lines(prop), status=prop.status,
            at_target=at_target[-1], changed_without_dead_band=bool(would),
        ))
        bars.append(t)
        versions.append(new)
        proposals.append(prop)
        ratios.append(_es_ratio(est, profile == "lending"))
        claimed.append(_claimed(est, prop))
        live_mmf, live_lev = math.nan, math.nan
        if lean:
            pass
        elif profile == "perp" and p.live_policy is not policy:
            lp = propose_tiers(est, p.live_policy, adv=adv, symbol=sym, lookback_vol=lookback)
            if lp.tiers:
                live_mmf, live_lev = lp.tiers[0].mmf, lp.tiers[0].max_leverage
        elif profile == "perp" and isinstance(prop, PerpAssetProposal) and prop.tiers:
            live_mmf, live_lev = prop.tiers[0].mmf_model, prop.tiers[0].max_leverage
        live.append((live_mmf, live_lev))
        prev = new
        if tick is not quiet:
            tick(f"{sym} {iso_utc(ts_t)[:10]}")
    return _Replay(version_bar=np.asarray(bars, dtype=np.int64), versions=tuple(versions), records=tuple(records),
                   proposals=tuple(proposals), es_ratio=np.asarray(ratios, dtype=float), arch_fallbacks=fallbacks,
                   claimed_rate=np.asarray([c[0] for c in claimed], dtype=float),
                   room=np.asarray([c[1] for c in claimed], dtype=float),
                   stressed=np.asarray([r.in_stress for r in records], dtype=bool),
                   live=np.asarray(live, dtype=float).reshape(-1, 2),
                   decision_bar=np.asarray(bars, dtype=np.int64), at_target=np.asarray(at_target, dtype=bool),
                   param_changes=np.asarray(n_changes, dtype=np.int64), changed_no_db=np.asarray(no_db, dtype=bool))


def _apply_lag(rp: _Replay, p: _Prepared, lag_days: float, current: CurrentPerp | CurrentLending | None) -> _Replay:
    """The replay with its execution lag: each decision is in force from the first bar at or after its
    bar's time plus ``lag_days`` (a decision at the close of bar ``t`` is then "set at" that bar, as a
    decision without lag is at ``t``); decisions in force only after the period's last bar are dropped
    (their records keep ``effective = None``). Until the first decision is in force the current parameters
    (when given) are, as a version at the first bar that claims nothing (rate 0, room 1); without current
    parameters the first decision is in force from the first bar, as without a lag. ``lag_days = 0``
    returns ``rp`` with each record's ``effective`` set to its own bar."""
    assert rp.decision_bar is not None and rp.at_target is not None
    assert rp.param_changes is not None and rp.changed_no_db is not None
    if lag_days <= 0:
        recs = tuple(replace(r, effective=r.ts) for r in rp.records)
        return replace(rp, records=recs)
    t0, t1 = p.t0, p.t1
    when = p.ts[rp.decision_bar] + pd.Timedelta(days=lag_days)
    eff = np.asarray(p.ts.searchsorted(when, side="left"), dtype=np.int64)
    keep = eff <= t1
    keep[:-1] &= eff[:-1] != eff[1:]  # a decision superseded before it took effect (a gap in the data) never did
    recs = tuple(replace(r, effective=p.ts[int(e)] if k else None)
                 for r, e, k in zip(rp.records, eff, keep, strict=True))
    idx = np.flatnonzero(keep)
    bars = eff[idx]
    versions = [rp.versions[i] for i in idx]
    es_ratio, rate, room = rp.es_ratio[idx], rp.claimed_rate[idx], rp.room[idx]
    stressed, live = rp.stressed[idx], rp.live[idx]
    dec, tgt = rp.decision_bar[idx], rp.at_target[idx]
    nch, nodb = rp.param_changes[idx], rp.changed_no_db[idx]
    if current is not None and (bars.size == 0 or bars[0] > t0):
        first: _Params = (_PerpSet.from_current(current) if isinstance(current, CurrentPerp)
                          else _LendSet.from_current(current))
        versions.insert(0, first)
        bars = np.r_[t0, bars]
        es_ratio = np.r_[rp.es_ratio[0], es_ratio]
        rate, room, stressed = np.r_[0.0, rate], np.r_[1.0, room], np.r_[False, stressed]
        live = np.vstack([np.full((1, 2), np.nan), live])
        dec, tgt, nch, nodb = np.r_[-1, dec], np.r_[False, tgt], np.r_[0, nch], np.r_[False, nodb]
    elif bars.size == 0 or bars[0] > t0:  # no current parameters: the first decision is in force from the start
        first_i = 0 if bars.size == 0 else None
        if first_i == 0:  # no decision takes effect inside the period
            versions, bars = [rp.versions[0]], np.asarray([t0], dtype=np.int64)
            es_ratio, rate, room = rp.es_ratio[:1], rp.claimed_rate[:1], rp.room[:1]
            stressed, live = rp.stressed[:1], rp.live[:1]
            dec, tgt, nch, nodb = rp.decision_bar[:1], rp.at_target[:1], rp.param_changes[:1], rp.changed_no_db[:1]
        else:
            bars = bars.copy()
            bars[0] = t0
    return replace(rp, version_bar=np.asarray(bars, dtype=np.int64), versions=tuple(versions), records=recs,
                   es_ratio=np.asarray(es_ratio, dtype=float), claimed_rate=np.asarray(rate, dtype=float),
                   room=np.asarray(room, dtype=float), stressed=np.asarray(stressed, dtype=bool),
                   live=np.asarray(live, dtype=float).reshape(-1, 2), decision_bar=np.asarray(dec, dtype=np.int64),
                   at_target=np.asarray(tgt, dtype=bool), param_changes=np.asarray(nch, dtype=np.int64),
                   changed_no_db=np.asarray(nodb, dtype=bool))



def _claimed(est: VolEstimate, prop: PerpAssetProposal | LendingAssetProposal) -> tuple[float, float]:
    """(rate, room): the probability the proposal's own law gives to a close-to-close move over its tier-1
    horizon (lending: its horizon) beyond the room its margin leaves (perps: tier-1 MMF less close-out cost,
    either side, the two tails summed; lending ``1 - LT (1 + LB)``): what its coverage claims. A frozen or
    unmarginable proposal promises nothing (rate 0, room 1)."""
    term, band = est.term, prop.model_risk
    if term is None or band is None:
        return 0.0, 1.0
    if isinstance(prop, PerpAssetProposal):
        if prop.status != "ok" or not prop.tiers:
            return 0.0, 1.0
        t = prop.tiers[0]
        room = t.mmf - t.close_out_cost
        hq = term.quantiles(band.bound, min(t.horizon_hours, term.max_hours))
        return (1.0 - hq.prob_move_within(room, Tail.LOWER)) + (1.0 - hq.prob_move_within(room, Tail.UPPER)), room
    room = 1.0 - prop.liquidation_threshold * (1.0 + prop.liquidation_bonus)
    hq = term.quantiles(band.bound, min(band.horizon_hours, term.max_hours))
    return 1.0 - hq.prob_move_within(room, Tail.LOWER), room

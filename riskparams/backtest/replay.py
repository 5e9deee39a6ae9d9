"""The walk-forward replay of the policy: a proposal on each cadence bar from the volatility estimate of that
bar, with guardrails and anti-procyclicality relative to the parameters in force, and what each proposal's
own law claims about its coverage. Part of :mod:`riskparams.backtest`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskparams import fastgarch
from riskparams.backtest.estimates import _es_ratio, _Estimates
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
) -> _Replay:
    sym = p.data.symbol.upper()
    estimates = _Estimates(p, policy, spec, fast)
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

    for t in p.cadence:
        t = int(t)
        k = int(p.nk[t])
        est, engine_used = estimates.at(t)
        adv = _policy_adv(p, policy, t)
        if not (math.isfinite(adv) and adv > 0):
            raise HistoryError(f"{sym}: no volume data to estimate ADV at {iso_utc(p.ts[t])}; set "
                               f"liquidity.adv_override.{sym} in the policy.")
        lookback = float(estimates.history.lookback[k])
        new: _Params
        if profile == "perp":
            cur_perp = in_force if isinstance(in_force, CurrentPerp) else None
            prop: PerpAssetProposal | LendingAssetProposal = propose_tiers(
                est, policy, adv=adv, current=cur_perp, symbol=sym, lookback_vol=lookback)
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
        cm = prop.covered
        records.append(CadenceRecord(
            ts=p.ts[t], params=new.to_dict(), changed=bool(changed), model=f"{est.model.value}-{est.dist.value}",
            engine=engine_used, next_vol_annualised=est.next_vol_annualised, covered_move=cm.final,
            in_stress=cm.in_stress, binding=tuple(cm.binding), guardrails=_guard_lines(prop), status=prop.status,
        ))
        bars.append(t)
        versions.append(new)
        proposals.append(prop)
        ratios.append(_es_ratio(est, profile == "lending"))
        claimed.append(_claimed(est, prop))
        live_mmf, live_lev = math.nan, math.nan
        if profile == "perp" and p.live_policy is not policy:
            lp = propose_tiers(est, p.live_policy, adv=adv, symbol=sym, lookback_vol=lookback)
            if lp.tiers:
                live_mmf, live_lev = lp.tiers[0].mmf, lp.tiers[0].max_leverage
        elif profile == "perp" and isinstance(prop, PerpAssetProposal) and prop.tiers:
            live_mmf, live_lev = prop.tiers[0].mmf_model, prop.tiers[0].max_leverage
        live.append((live_mmf, live_lev))
        prev = new
        tick(f"{sym} {iso_utc(p.ts[t])[:10]}")
    return _Replay(version_bar=np.asarray(bars, dtype=np.int64), versions=tuple(versions), records=tuple(records),
                   proposals=tuple(proposals), es_ratio=np.asarray(ratios, dtype=float), arch_fallbacks=estimates.arch_fallbacks,
                   claimed_rate=np.asarray([c[0] for c in claimed], dtype=float),
                   room=np.asarray([c[1] for c in claimed], dtype=float),
                   stressed=np.asarray([r.in_stress for r in records], dtype=bool),
                   live=np.asarray(live, dtype=float).reshape(-1, 2))



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

"""Parameter sets a backtest evaluates: fixed sets (current parameters, files, stored proposals) and the
internal per-version tables of both profiles (:class:`_PerpSet`, :class:`_LendSet`). Part of
:mod:`riskparams.backtest`."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from riskparams.backtest.spec import CURRENT_SET
from riskparams.domain import (
    CurrentLending,
    CurrentParams,
    CurrentPerp,
    CurrentPerpTier,
    PerpAssetProposal,
    Profile,
)
from riskparams.exceptions import PolicyError
from riskparams.liquidation import Tier
from riskparams.tiers import TierTable

_FROZEN_MARGIN = 1.0
_MAX_MMF = 0.999  # lending LT = 0 maps to a maintenance fraction below 1 (Tier needs mmf < 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedParameters:
    """A fixed parameter set: one table per asset, in force over the whole period.

    Attributes
    ----------
    name : str
        Label in the report (``current``, a file stem, ``proposal-<id>``).
    source : str
        Where it came from (file name or proposal id).
    profile : {'perp', 'lending'}
    assets : Mapping[str, CurrentPerp | CurrentLending]
        By upper-case symbol.
    """

    name: str
    source: str
    profile: Profile
    assets: Mapping[str, CurrentPerp | CurrentLending]

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", Profile.parse(self.profile, error=PolicyError))


def fixed_from_current(current: CurrentParams, name: str = CURRENT_SET) -> FixedParameters:
    """A fixed set from parameters read by :func:`riskparams.params_io.load_current`."""
    return FixedParameters(name=name, source=current.source, profile=Profile.parse(current.profile),
                           assets=dict(current.assets))


def fixed_from_proposal(content: Mapping[str, Any], name: str, source: str) -> FixedParameters:
    """A fixed set from a stored proposal's content (its proposed tiers or lending parameters).

    Unmarginable assets (no tiers) are left out.
    """
    profile = Profile.parse(content.get("profile"), error=PolicyError)
    assets: dict[str, CurrentPerp | CurrentLending] = {}
    for a in content.get("assets", []):
        sym = str(a["symbol"]).upper()
        if profile == "perp":
            if not a.get("tiers"):
                continue
            assets[sym] = CurrentPerp(symbol=sym, tiers=tuple(
                CurrentPerpTier(notional_floor=float(t["notional_floor"]),
                                notional_cap=None if t["notional_cap"] is None else float(t["notional_cap"]),
                                max_leverage=float(t["max_leverage"]), maintenance_rate=float(t["mmf"]),
                                liquidation_penalty=None if t.get("liquidation_penalty") is None
                                else float(t["liquidation_penalty"]))
                for t in a["tiers"]))
        else:
            assets[sym] = CurrentLending(symbol=sym, ltv=float(a["ltv"]),
                                         liquidation_threshold=float(a["liquidation_threshold"]),
                                         liquidation_bonus=float(a["liquidation_bonus"]))
    return FixedParameters(name=name, source=source, profile=profile, assets=assets)


@dataclass(frozen=True, slots=True)
class _PerpSet:
    """One perpetual tier table in force (a validated :class:`~riskparams.tiers.TierTable`; fractions, notionals
    in quote currency); ``frozen``: no schedule could be proposed, positions are margined at 100 %."""

    table: TierTable[Any]
    frozen: bool = False
    _cols: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        t = self.table  # the columns, once: replays and evaluations read them at every bar and decision
        object.__setattr__(self, "_cols", (t.floors, t.caps, t.mmfs, t.max_leverages, t.penalties))

    @classmethod
    def from_current(cls, cur: CurrentPerp) -> _PerpSet:
        return cls(TierTable(cur.tiers, symbol=cur.symbol))

    @classmethod
    def from_proposal(cls, p: PerpAssetProposal) -> _PerpSet:
        tiers = p.tiers  # a proposal's tiers are a checked TierTable already (propose_tiers builds one)
        return cls(tiers if isinstance(tiers, TierTable) else TierTable(tiers, symbol=p.symbol))

    @classmethod
    def placeholder(cls) -> _PerpSet:
        """A one-tier table (MMF 50 %, 1x) standing in, frozen, before any proposal could be made."""
        return cls(TierTable([CurrentPerpTier(notional_floor=0.0, notional_cap=None, max_leverage=1.0,
                                              maintenance_rate=0.5, liquidation_penalty=0.0)]), frozen=True)

    @property
    def floors(self) -> tuple[float, ...]:
        return self._cols[0]  # type: ignore[no-any-return]

    @property
    def caps(self) -> tuple[float | None, ...]:
        return self._cols[1]  # type: ignore[no-any-return]

    @property
    def mmf(self) -> tuple[float, ...]:
        return self._cols[2]  # type: ignore[no-any-return]

    @property
    def max_leverage(self) -> tuple[float, ...]:
        return self._cols[3]  # type: ignore[no-any-return]

    @property
    def penalty(self) -> tuple[float, ...]:
        return self._cols[4]  # type: ignore[no-any-return]

    def frozen_copy(self) -> _PerpSet:
        return replace(self, frozen=True)

    def values(self) -> tuple[Any, ...]:
        return (self.floors, self.caps, self.mmf, self.max_leverage, self.penalty, self.frozen)

    def mmf_at(self, notional: float) -> float:
        """MMF of a position of ``notional`` (1.0 beyond a finite last cap, or when frozen)."""
        if self.frozen:
            return _FROZEN_MARGIN
        last = self.caps[-1]
        if last is not None and notional >= last:
            return _FROZEN_MARGIN
        k = bisect.bisect_right(self.floors, notional) - 1  # np.searchsorted(..., side="right") of sorted floors
        return self.mmf[max(k, 0)]

    def to_current(self, symbol: str) -> CurrentPerp:
        return CurrentPerp(symbol=symbol, tiers=tuple(
            CurrentPerpTier(notional_floor=f, notional_cap=c, max_leverage=lv, maintenance_rate=m,
                            liquidation_penalty=p)
            for f, c, m, lv, p in zip(self.floors, self.caps, self.mmf, self.max_leverage, self.penalty, strict=True)))

    def tiers(self) -> tuple[Tier, ...]:
        ded = self.table.deductions()
        return tuple(
            Tier(notional_floor=f, notional_cap=c, mmf=m, penalty=min(p, m * 0.999), imf=1.0 / lv,
                 maintenance_deduction=d)
            for f, c, m, lv, p, d in zip(self.floors, self.caps, self.mmf, self.max_leverage, self.penalty, ded,
                                         strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {"frozen": self.frozen, "tiers": [
            {"notional_floor": f, "notional_cap": c, "mmf": m, "max_leverage": lv, "imf": 1.0 / lv,
             "liquidation_penalty": p}
            for f, c, m, lv, p in zip(self.floors, self.caps, self.mmf, self.max_leverage, self.penalty, strict=True)]}


@dataclass(frozen=True, slots=True)
class _LendSet:
    """One lending parameter triple in force (fractions)."""

    ltv: float
    lt: float
    lb: float

    @classmethod
    def from_current(cls, cur: CurrentLending) -> _LendSet:
        return cls(float(cur.ltv), float(cur.liquidation_threshold), float(cur.liquidation_bonus))

    @property
    def room(self) -> float:
        """``1 - LT (1 + LB)``: the drop the threshold and bonus leave room for."""
        return 1.0 - self.lt * (1.0 + self.lb)

    @property
    def frozen(self) -> bool:
        return False

    def values(self) -> tuple[Any, ...]:
        return (self.ltv, self.lt, self.lb)

    def to_current(self, symbol: str) -> CurrentLending:
        return CurrentLending(symbol=symbol, ltv=self.ltv, liquidation_threshold=self.lt, liquidation_bonus=self.lb)

    def tiers(self) -> tuple[Tier, ...]:
        mmf = min(1.0 - self.lt, _MAX_MMF)
        imf = max(1.0 - self.ltv, mmf + 1e-6)
        return (Tier(notional_floor=0.0, mmf=mmf, imf=min(imf, 1.0), penalty=0.0,
                     close_out_cost=min(self.lb * self.lt, 0.5)),)

    def to_dict(self) -> dict[str, Any]:
        return {"ltv": self.ltv, "liquidation_threshold": self.lt, "liquidation_bonus": self.lb, "room": self.room}


_Params = _PerpSet | _LendSet


def _margin_of(v: _Params) -> float:
    if isinstance(v, _PerpSet):
        return v.mmf_at(0.0)
    return v.room


def _imf_of(v: _Params) -> float:
    if isinstance(v, _PerpSet):
        return 1.0 if v.frozen else 1.0 / v.max_leverage[0]
    return 1.0 - v.ltv


"""Phased execution plans: from a proposal's current parameters to its target under steward limits.

A committee does not jump to the model's target in one change. Risk stewards bound every update: Aave's
Risk Stewards (``RiskSteward.sol`` in aave-dao/aave-v3-risk-stewards: per-parameter ``maxPercentChange``
and a ``minDelay`` of days between updates of the same parameter) and Chaos Labs' edge risk oracles, whose
automated updates are capped at +/-3% per update (larger moves are phased by hand over several updates).
:func:`make_plan` turns a stored proposal into such a dated schedule of intermediate parameter sets.

Rules (pure functions, no store access)
---------------------------------------
* **Step limit.** Every parameter changes by at most a relative ``max_step`` = R per step, measured
  multiplicatively in either direction: ``new / old`` lies in ``[1 / (1 + R), 1 + R]``. Hence
  ``|new - old| / old <= R`` always holds, and a rise and the fall back take the same number of steps.
* **Path.** Per asset, every parameter moves geometrically with one common fraction of the way,
  ``v_s = v_0 (v_target / v_0) ** (s / n_a)`` at step ``s`` of the asset's ``n_a`` steps, then stays at its
  target; ``n_a = ceil(log(ratio) / log(1 + R))`` for the asset's largest ratio ``max(to/from, from/to)``,
  the fewest steps that R allows. The plan has ``n = max_a n_a`` steps; the last step sets every value to its
  target exactly. Max leverage moves geometrically and ``IMF = 1 / max leverage`` with it.
* **Validity.** A common geometric fraction keeps every invariant of the tier table
  (:class:`riskparams.tiers.TierTable`: ``penalty < MMF < IMF = 1 / leverage``, MMF not falling and leverage
  not rising with size, the target's brackets) because a weighted geometric mean preserves ``<`` and ``<=``
  between pairs ordered at both ends; for lending ``LTV < LT`` likewise, and ``LT (1 + bonus) <= 1`` because
  ``1 + GM(b) <= GM(1 + b)`` (superadditivity of the geometric mean). Each step is checked anyway.
* **No relative limit applies** to a parameter with no current value (None) or 0, or with target 0: a
  parameter going to 0 (penalty, LTV: always valid) is set at step 1; a liquidation penalty (perp) or LTV
  (lending) without a current value follows its anchor (``target x MMF_s / MMF_target``, ``target x LT_s /
  LT_target``) so that it stays below it; an asset without any current parameters takes its target at step
  1. The plan's ``notes`` say which.
* **Dates.** Step 1 on ``start``, step ``s`` on ``start + (s - 1) x min_days`` (UTC dates, ISO 8601).

Coverage and capital cost per step
----------------------------------
``coverage`` per asset is the proposal's coverage model at the step's margins, the worst tier (perp) or the
asset (lending). The stored proposal keeps, per tier, the probability ``c`` that a liquidation at maintenance
completes without bad debt, ``P(move <= MMF - close-out cost)``, over the tier's margin period of risk, and
per asset the model-risk band's Student-t ``nu``. The adverse move of each tier is taken as ``scale x T_nu``
(normal when ``nu`` is absent) with the scale calibrated so that the proposal's own coverage is reproduced at
the target (``scale = room / T_nu^{-1}(c)``; when ``c`` is 0 or 1 or the room is not positive, from the
covered move: the policy's ES or VaR at its confidence); a step's coverage is ``T_nu((MMF_s - cost) /
scale)``. Lending: the room is ``1 - LT (1 + bonus)`` (the proposal's formula), calibrated on the asset's
coverage. ``avg_margin`` is the capital cost: perp, the notional-weighted average MMF over the tiers (weights:
each bracket's width, the open last bracket up to its cost notional); lending, ``1 - LTV`` (the proposal's
``capital_cost`` measure).

Units: fractions (0.03 = 3%), max leverage in x, notionals in quote currency. Parameter keys
``SYMBOL:param[:tier]`` use 1-based tiers, as ``riskparams override --set`` does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from scipy import stats

from riskparams.content import _ShapeError as _Shape
from riskparams.content import get_field, short
from riskparams.domain import LendingAssetProposal, OptionAsset, PerpAssetProposal, Proposal, check_format
from riskparams.exceptions import SpecError, TierError
from riskparams.jsonio import clean_float, content_id
from riskparams.tiers import TierTable

__all__ = [
    "MAX_STEPS",
    "PLAN_FORMAT",
    "ParamChange",
    "Plan",
    "PlanSpec",
    "PlanStep",
    "make_plan",
    "percent_cells",
    "plan_rows",
    "steps_needed",
]

PLAN_FORMAT = "riskparams-plan-v1"
"""Format tag of a plan's JSON content."""

MAX_STEPS = 500
"""Most steps a plan may have (a smaller step limit is refused beyond it)."""

_EPS = 1e-9
_PERP = ("max_leverage", "imf", "mmf", "liquidation_penalty")
_LENDING = ("ltv", "liquidation_threshold", "liquidation_bonus")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSpec:
    """Steward limits of a plan.

    Attributes
    ----------
    max_step : float
        Largest relative change of any parameter per step, R in (0, 10] (0.25 = 25%).
    min_days : int
        Days between two steps, in [1, 365].
    budget : int or None
        Most steps allowed, in [1, MAX_STEPS]; None: no cap beyond :data:`MAX_STEPS`.
    start : date
        Date of step 1 (UTC).
    """

    max_step: float
    min_days: int
    start: date
    budget: int | None = None

    def __post_init__(self) -> None:
        r = self.max_step
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not (math.isfinite(r) and 0 < r <= 10):
            raise SpecError(f"max_step must be a relative change in (0, 10] (0.25 = 25%), got {r!r}.")
        d = self.min_days
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 365:
            raise SpecError(f"min_days must be a whole number of days in [1, 365], got {d!r}.")
        b = self.budget
        if b is not None and (isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= MAX_STEPS):
            raise SpecError(f"budget must be a whole number of steps in [1, {MAX_STEPS}], got {b!r}.")
        if not isinstance(self.start, date):
            raise SpecError(f"start must be a date, got {self.start!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamChange:
    """One parameter changed by one step: ``key`` is ``SYMBOL:param[:tier]`` (tier 1-based); ``old`` is None
    where no current value was known."""

    key: str
    old: float | None
    new: float

    def to_dict(self) -> dict[str, Any]:
        """``{"from", "to"}``."""
        return {"from": clean_float(self.old), "to": clean_float(self.new)}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanStep:
    """One dated parameter set of a plan.

    Attributes
    ----------
    number : int
        1-based.
    date : str
        ISO 8601 date (UTC).
    changes : tuple of ParamChange
        What this step changes (symbol, tier, parameter order).
    values : mapping
        Every parameter's value after the step, by key.
    coverage : mapping
        Per symbol: coverage at the step's margins (worst tier for perps), a probability.
    avg_margin : mapping
        Per symbol: capital cost (perp: notional-weighted average MMF; lending: 1 - LTV), a fraction.
    """

    number: int
    date: str
    changes: tuple[ParamChange, ...]
    values: Mapping[str, float]
    coverage: Mapping[str, float]
    avg_margin: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """``{"step", "date", "changes": {key: {"from", "to"}}, "coverage", "avg_margin", "values"}``."""
        return {"step": self.number, "date": self.date, "changes": {c.key: c.to_dict() for c in self.changes},
                "coverage": {k: clean_float(v) for k, v in self.coverage.items()},
                "avg_margin": {k: clean_float(v) for k, v in self.avg_margin.items()},
                "values": {k: clean_float(v) for k, v in self.values.items()}}


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A phased execution plan of a proposal (see the module docstring).

    Attributes
    ----------
    proposal_id, profile : str
    spec : PlanSpec
    steps : tuple of PlanStep
        At least one; the last one sets every parameter to its target.
    initial : mapping
        Every parameter's current value by key (None: unknown).
    target : mapping
        Every parameter's target value by key.
    steps_per_asset : mapping
        Per symbol, the steps its own largest ratio needs.
    notes : tuple of str
    """

    proposal_id: str
    profile: str
    spec: PlanSpec
    steps: tuple[PlanStep, ...]
    initial: Mapping[str, float | None]
    target: Mapping[str, float]
    steps_per_asset: Mapping[str, int]
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The JSON content: ``format, proposal_id, profile, max_step, min_days, budget, start, steps,
        steps_per_asset, initial, target, notes``."""
        return {
            "format": PLAN_FORMAT, "proposal_id": self.proposal_id, "profile": self.profile,
            "max_step": self.spec.max_step, "min_days": self.spec.min_days, "budget": self.spec.budget,
            "start": self.spec.start.isoformat(), "steps": [s.to_dict() for s in self.steps],
            "steps_per_asset": dict(self.steps_per_asset),
            "initial": {k: clean_float(v) for k, v in self.initial.items()},
            "target": {k: clean_float(v) for k, v in self.target.items()}, "notes": list(self.notes),
        }

    @property
    def id(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`to_dict` (the stored plan's id)."""
        return content_id(self.to_dict())

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> Plan:
        """Read a stored plan's content (:meth:`to_dict`) back, typed; the round trip is exact
        (``Plan.from_content(c).to_dict()`` has the canonical JSON, hence the id, of ``c``).

        Values a plan stores as ``null`` (a coverage or value that was not finite) are read as NaN, which
        :meth:`to_dict` writes as ``null`` again; ``initial`` keeps ``None`` (no current value).

        Raises
        ------
        ValueError
            Another format (the message names the version found), content without this riskparams' shape
            (a missing or unknown key, a wrong type, a non-finite number, steps not numbered 1..n), or content
            that does not rebuild to the same hash; always one sentence.

        Examples
        --------
        >>> from riskparams.plan import Plan
        >>> Plan.from_content({"format": "riskparams-plan-v2"})
        Traceback (most recent call last):
        ...
        ValueError: this plan has format 'riskparams-plan-v2', newer than the 'riskparams-plan-v1' this riskparams reads; upgrade riskparams to read it.
        """
        check_format(content, PLAN_FORMAT, "plan")
        try:
            unknown = sorted(set(content) - set(_PLAN_KEYS), key=str)
            if unknown:
                raise _Shape(f"unknown key {unknown[0]!r}")
            start = _get(content, "start", str)
            try:
                day = date.fromisoformat(start)
            except ValueError:
                raise _Shape(f"'start' is {short(start)}, not a date") from None
            spec = PlanSpec(max_step=_get(content, "max_step", (int, float)), min_days=_get(content, "min_days", int),
                            budget=_get(content, "budget", int, optional=True), start=day)
            raw_steps = _get(content, "steps", list)
            if not raw_steps:
                raise _Shape("'steps' is empty")
            spa = _get(content, "steps_per_asset", Mapping)
            plan = cls(
                proposal_id=_get(content, "proposal_id", str), profile=_get(content, "profile", str), spec=spec,
                steps=tuple(_read_step(s, k) for k, s in enumerate(raw_steps, start=1)),
                initial=_numbers(content, "initial", "initial", keep_none=True),
                target=_numbers(content, "target", "target"),
                steps_per_asset={_key_str(k, "steps_per_asset"): _get(spa, k, int) for k in spa},
                notes=tuple(_get(content, "notes", list)),
            )
            bad = next((n for n in plan.notes if not isinstance(n, str)), None)
            if bad is not None:
                raise _Shape(f"a note is {short(bad)}")
        except (_Shape, SpecError) as exc:
            raise ValueError(f"the stored plan content does not have this riskparams' shape ({str(exc).rstrip('.')}); "
                             "it was written by another version of riskparams.") from None
        if plan.id != content_id(content):
            raise ValueError("the stored plan content does not rebuild to the same hash; it was written by another "
                             "version of riskparams.")
        return plan


_PLAN_KEYS = ("format", "proposal_id", "profile", "max_step", "min_days", "budget", "start", "steps",
              "steps_per_asset", "initial", "target", "notes")
_STEP_KEYS = ("step", "date", "changes", "coverage", "avg_margin", "values")


def _get(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    """:func:`riskparams.content.get_field`, numbers finite (a plan never stores NaN as a number)."""
    return get_field(d, key, kind, optional=optional, finite=True)


def _key_str(k: Any, where: str) -> str:
    if not isinstance(k, str):
        raise _Shape(f"a key of {where!r} is {short(k)}")
    return k


def _number(v: Any, where: str, *, keep_none: bool = False) -> float | None:
    """A stored number: finite int or float (kept as it is: the round trip is exact); ``null`` is NaN, or
    None with ``keep_none``."""
    if v is None:
        return None if keep_none else math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _Shape(f"{where} is {short(v)}")
    return v


def _numbers(d: Mapping[str, Any], key: str, where: str, *, keep_none: bool = False) -> dict[str, Any]:
    m = _get(d, key, Mapping)
    return {_key_str(k, where): _number(v, f"{where}[{k!r}]", keep_none=keep_none) for k, v in m.items()}


def _read_step(s: Any, k: int) -> PlanStep:
    if not isinstance(s, Mapping):
        raise _Shape(f"step {k} is {short(s)}")
    unknown = sorted(set(s) - set(_STEP_KEYS), key=str)
    if unknown:
        raise _Shape(f"step {k} has an unknown key {unknown[0]!r}")
    number = _get(s, "step", int)
    if number != k:
        raise _Shape(f"step {k} is numbered {number}")
    changes = []
    for key, ch in _get(s, "changes", Mapping).items():
        where = f"step {k} change {short(key)}"
        if not isinstance(ch, Mapping) or set(ch) != {"from", "to"}:
            raise _Shape(f"{where} is {short(ch)}, not {{'from', 'to'}}")
        changes.append(ParamChange(key=_key_str(key, f"step {k} changes"),
                                   old=_number(ch["from"], f"{where} 'from'", keep_none=True),
                                   new=_number(ch["to"], f"{where} 'to'")))  # type: ignore[arg-type]
    day = _get(s, "date", str)
    try:
        date.fromisoformat(day)
    except ValueError:
        raise _Shape(f"step {k}'s date is {short(day)}") from None
    return PlanStep(number=number, date=day, changes=tuple(changes),
                    values=_numbers(s, "values", f"step {k} values"),
                    coverage=_numbers(s, "coverage", f"step {k} coverage"),
                    avg_margin=_numbers(s, "avg_margin", f"step {k} avg_margin"))


def steps_needed(ratio: float, max_step: float) -> int:
    """Fewest steps that move a value by ``ratio`` (> 0) with every step's ``new / old`` within
    ``[1 / (1 + max_step), 1 + max_step]``: ``ceil(log(max(ratio, 1 / ratio)) / log(1 + max_step))``.

    >>> steps_needed(2.0, 0.25), steps_needed(0.5, 0.25), steps_needed(1.25, 0.25), steps_needed(1.0, 0.25)
    (4, 4, 1, 0)
    """
    x = abs(math.log(ratio))
    if x <= 1e-12:
        return 0
    return max(1, math.ceil(x / math.log1p(max_step) - _EPS))


def _key(symbol: str, param: str, tier: int | None) -> str:
    return f"{symbol}:{param}" if tier is None else f"{symbol}:{param}:{tier + 1}"


def _usable(v: float | None) -> bool:
    return v is not None and math.isfinite(v) and v > 0


@dataclass(frozen=True, slots=True)
class _Law:
    """The adverse move of one tier: ``scale x T_nu`` (normal when ``nu`` is None), and the close-out cost."""

    scale: float
    nu: float | None
    cost: float

    def prob_within(self, room: float) -> float:
        if not room > 0:
            return 0.0
        z = room / self.scale
        return float(stats.norm.cdf(z) if self.nu is None else stats.t.cdf(z, self.nu))


def _unit_measure(confidence: float, nu: float | None, measure: str) -> float:
    """VaR or ES at ``confidence`` of a unit-scale normal or Student-t (upper tail)."""
    if nu is None:
        q = float(stats.norm.ppf(confidence))
        return q if measure == "var" else float(stats.norm.pdf(q) / (1 - confidence))
    q = float(stats.t.ppf(confidence, nu))
    if measure == "var":
        return q
    return float((nu + q * q) / (nu - 1) * stats.t.pdf(q, nu) / (1 - confidence))


def _calibrate(room: float, coverage: float | None, covered_move: float | None, confidence: float,
               measure: str, nu: float | None, cost: float) -> _Law | None:
    nu = None if nu is None or not (math.isfinite(nu) and nu > 1) else float(nu)
    if coverage is not None and 0 < coverage < 1 and room > 0:
        q = float(stats.norm.ppf(coverage) if nu is None else stats.t.ppf(coverage, nu))
        if q > 0:
            return _Law(room / q, nu, cost)
    if covered_move is not None and covered_move > 0 and 0.5 < confidence < 1:
        return _Law(covered_move / _unit_measure(confidence, nu, measure), nu, cost)
    return None


@dataclass(slots=True)
class _Asset:
    """One asset's parameters, paths and coverage model (internal)."""

    symbol: str
    keys: list[tuple[str, int | None]]
    old: dict[tuple[str, int | None], float | None]
    new: dict[tuple[str, int | None], float]
    n: int
    laws: list[_Law | None]
    perp: PerpAssetProposal | None
    lending: LendingAssetProposal | None
    no_current: bool

    def value(self, k: tuple[str, int | None], s: int) -> float | None:
        """The parameter's value after step ``s`` (0: the current value)."""
        if s == 0:
            return self.old[k]
        tgt = self.new[k]
        if s >= self.n or self.no_current:
            return tgt
        p, tier = k
        frm = self.old[k]
        if tgt == 0:
            return 0.0
        if _usable(frm):
            assert frm is not None
            if p == "imf":
                lev = self.value(("max_leverage", tier), s)
                assert lev is not None
                return 1.0 / lev
            return frm * (tgt / frm) ** (s / self.n)
        anchor = {"liquidation_penalty": "mmf", "ltv": "liquidation_threshold"}.get(p)
        if anchor is not None:
            a_s, a_t = self.value((anchor, tier), s), self.new[(anchor, tier)]
            if a_s is not None and a_t > 0:
                return tgt * a_s / a_t
        return tgt

    def state(self, s: int) -> dict[tuple[str, int | None], float]:
        out = {}
        for k in self.keys:
            v = self.value(k, s)
            out[k] = self.new[k] if v is None else v
        return out


def _option_target(a: PerpAssetProposal | LendingAssetProposal, x: OptionAsset, option: str) -> None:
    """Check that an option's parameters of ``a`` can be the plan's target (same brackets)."""
    if isinstance(a, PerpAssetProposal):
        rows = x.tiers or ()
        same = len(rows) == len(a.tiers) and all(
            float(r.get("notional_floor", math.nan)) == float(t.notional_floor) for r, t in zip(rows, a.tiers, strict=False))
        if x.status != "ok" or not same:
            raise SpecError(f"option {option!r} gives {a.symbol} other brackets than the proposal ({len(rows)} tiers "
                            f"against {len(a.tiers)}); a plan toward it is not supported.")
    elif None in (x.ltv, x.liquidation_threshold, x.liquidation_bonus):
        raise SpecError(f"option {option!r} gives no LTV, liquidation threshold or bonus for {a.symbol}.")


def _read_asset(a: PerpAssetProposal | LendingAssetProposal, max_step: float, notes: list[str],
                policy: Mapping[str, Any], chosen: OptionAsset | None = None) -> _Asset | None:
    current = {(ln.parameter, ln.tier): ln.current for ln in a.lines}
    nu = None if a.model_risk is None else a.model_risk.nu
    confidence = float(policy.get("confidence", 0.99) or 0.99)
    measure = str(policy.get("measure", "es") or "es").lower()
    if isinstance(a, PerpAssetProposal):
        if a.status != "ok" or not a.tiers:
            notes.append(f"{a.symbol} is unmarginable in the proposal: it has no tiers to phase and is left out.")
            return None
        keys: list[tuple[str, int | None]] = [(p, k) for k in range(len(a.tiers)) for p in _PERP]
        new: dict[tuple[str, int | None], float] = {}
        laws: list[_Law | None] = []
        for k, t in enumerate(a.tiers):
            if chosen is not None and chosen.tiers is not None:  # the chosen option's tier; the cost is the proposal's
                o = chosen.tiers[k]
                mmf, cov = float(o["mmf"]), o.get("coverage")
                new.update({("max_leverage", k): float(o["max_leverage"]), ("imf", k): float(o["imf"]),
                            ("mmf", k): mmf, ("liquidation_penalty", k): float(o["liquidation_penalty"])})
                laws.append(_calibrate(mmf - t.close_out_cost, None if cov is None else float(cov), None, confidence,
                                       measure, nu, t.close_out_cost))
                continue
            new.update({("max_leverage", k): float(t.max_leverage), ("imf", k): float(t.imf),
                        ("mmf", k): float(t.mmf), ("liquidation_penalty", k): float(t.liquidation_penalty)})
            laws.append(_calibrate(t.mmf - t.close_out_cost, t.coverage, t.covered_move, confidence, measure, nu,
                                   t.close_out_cost))
        perp, lending = a, None
    else:
        keys = [(p, None) for p in _LENDING]
        src: Any = a if chosen is None else chosen
        new = {("ltv", None): float(src.ltv), ("liquidation_threshold", None): float(src.liquidation_threshold),
               ("liquidation_bonus", None): float(src.liquidation_bonus)}
        room = 1.0 - float(src.liquidation_threshold) * (1.0 + float(src.liquidation_bonus))
        laws = [_calibrate(room, src.coverage, a.covered.final if chosen is None else None, confidence, measure, nu,
                           0.0)]
        perp, lending = None, a
    old: dict[tuple[str, int | None], float | None] = {
        k: (None if current.get(k) is None else float(current[k])) for k in keys  # type: ignore[arg-type]
    }
    main = [k for k in keys if k[0] not in ("liquidation_penalty", "ltv", "imf")]
    no_current = all(old[k] is None for k in main)
    if no_current:
        notes.append(f"{a.symbol} has no current parameters in the proposal: it takes its target at step 1 "
                     "(no relative limit can apply).")
        return _Asset(a.symbol, keys, old, new, 1, laws, perp, lending, True)
    n = 0
    free = []
    for key in keys:
        frm, tgt = old[key], new[key]
        if _usable(frm) and tgt > 0:
            assert frm is not None
            n = max(n, steps_needed(tgt / frm, max_step))
        elif frm is None or frm != tgt:
            free.append(_key(a.symbol, *key))
            n = max(n, 1)
    if free:
        notes.append(f"{', '.join(free)}: no relative limit applies (no current value, a current value of 0 or a "
                     "target of 0); set at step 1, or kept in proportion to the MMF (penalty) or the liquidation "
                     "threshold (LTV).")
    return _Asset(a.symbol, keys, old, new, n, laws, perp, lending, False)


def _check_step(asset: _Asset, values: Mapping[tuple[str, int | None], float], step: int) -> None:
    if asset.perp is not None:
        rows = [{"notional_floor": t.notional_floor, "notional_cap": t.notional_cap,
                 "max_leverage": values[("max_leverage", k)], "imf": values[("imf", k)], "mmf": values[("mmf", k)],
                 "liquidation_penalty": values[("liquidation_penalty", k)]} for k, t in enumerate(asset.perp.tiers)]
        try:
            TierTable.from_rows(rows, symbol=asset.symbol)
        except TierError as exc:
            raise SpecError(f"step {step} of the plan would break the tier table: {exc}") from None
        return
    ltv, lt, b = values[("ltv", None)], values[("liquidation_threshold", None)], values[("liquidation_bonus", None)]
    if not (0 <= ltv < lt or ltv == lt == 0) or lt * (1 + b) > 1 + 1e-12:
        raise SpecError(f"step {step} of the plan would break {asset.symbol}'s lending invariants (LTV {ltv:.4%}, "
                        f"LT {lt:.4%}, bonus {b:.4%}).")


def _coverage(asset: _Asset, values: Mapping[tuple[str, int | None], float]) -> tuple[float, float]:
    """(coverage, avg_margin) of an asset at ``values``."""
    if asset.perp is not None:
        covs, num, den = [], 0.0, 0.0
        for k, (t, law) in enumerate(zip(asset.perp.tiers, asset.laws, strict=True)):
            mmf = values[("mmf", k)]
            covs.append(math.nan if law is None else law.prob_within(mmf - law.cost))
            top = t.notional_cap if t.notional_cap is not None else t.cost_notional
            w = float(top) - float(t.notional_floor)
            w = w if w > 0 else max(float(t.notional_floor), 1.0)
            num, den = num + w * mmf, den + w
        finite = [c for c in covs if math.isfinite(c)]
        return (min(finite) if finite else math.nan), num / den
    lt, b = values[("liquidation_threshold", None)], values[("liquidation_bonus", None)]
    law = asset.laws[0]
    cov = math.nan if law is None else law.prob_within(1.0 - lt * (1.0 + b))
    return cov, 1.0 - values[("ltv", None)]


def make_plan(content: Mapping[str, Any] | Proposal, *, proposal_id: str, spec: PlanSpec,
              option: str | None = None) -> Plan:
    """A dated schedule of parameter sets from a proposal's current values to its proposed ones (pure).

    Parameters
    ----------
    content : mapping or Proposal
        The stored proposal's content (or the typed proposal); its lines' ``current`` values are where the plan
        starts, its proposed tiers (perp) or LTV / LT / bonus (lending) where it ends.
    proposal_id : str
        The proposal's id (recorded in the plan).
    spec : PlanSpec
        Steward limits and the start date.
    option : str, optional
        The option the committee approved: the plan ends at that option's parameters (venue payloads carry
        them) instead of the recommended ones; its coverage is calibrated on the option's own tier coverage with
        the proposal's close-out costs.

    Returns
    -------
    Plan
        ``steps`` of ``max_a ceil(log(ratio_a) / log(1 + R))`` dated parameter sets (module docstring).

    Raises
    ------
    SpecError
        Nothing to phase (every parameter already at its target, or no marginable asset), more steps than the
        budget (or :data:`MAX_STEPS`) allows under R, or a step that would break a tier-table invariant.
    """
    proposal = content if isinstance(content, Proposal) else Proposal.from_content(content)
    notes: list[str] = []
    opt = None if option is None else next((o for o in proposal.options if o.name == option), None)
    if option is not None and opt is None:
        raise SpecError(f"proposal {proposal_id[:12]} has no option {option!r}.")
    chosen = {} if opt is None or opt.recommended else {x.symbol: x for x in opt.assets}
    if chosen:
        notes.append(f"The plan ends at option {option!r}, the one the committee approved.")
    for ap in proposal.assets:
        if ap.symbol in chosen:
            _option_target(ap, chosen[ap.symbol], str(option))
    assets = [x for ap in proposal.assets
              if (x := _read_asset(ap, spec.max_step, notes, proposal.policy, chosen.get(ap.symbol))) is not None]
    if not assets:
        raise SpecError(f"proposal {proposal_id[:12]} has no marginable asset: there is nothing to phase.")
    n = max(a.n for a in assets)
    if n == 0:
        raise SpecError(f"proposal {proposal_id[:12]}'s current parameters already equal its target: there is "
                        "nothing to phase.")
    worst = max(assets, key=lambda a: a.n)
    cap = MAX_STEPS if spec.budget is None else spec.budget
    if n > cap:
        raise SpecError(f"the target cannot be reached within {cap} steps of at most {spec.max_step:.4g} "
                        f"({spec.max_step:.2%}) each: {worst.symbol} needs {n} steps; raise --budget or --max-step.")
    initial: dict[str, float | None] = {}
    target: dict[str, float] = {}
    for a in assets:
        for k in a.keys:
            initial[_key(a.symbol, *k)] = a.old[k]
            target[_key(a.symbol, *k)] = a.new[k]
    steps = []
    prev = {a.symbol: {k: a.value(k, 0) for k in a.keys} for a in assets}
    for s in range(1, n + 1):
        changes, values, cov, avg = [], {}, {}, {}
        for a in assets:
            state = a.state(s)
            _check_step(a, state, s)
            for k in a.keys:
                old, new = prev[a.symbol][k], state[k]
                values[_key(a.symbol, *k)] = new
                if old is None or abs(new - old) > 1e-15 * max(1.0, abs(old)):
                    changes.append(ParamChange(key=_key(a.symbol, *k), old=old, new=new))
            cov[a.symbol], avg[a.symbol] = _coverage(a, state)
            prev[a.symbol] = dict(state)
        day = spec.start + timedelta(days=(s - 1) * spec.min_days)
        steps.append(PlanStep(number=s, date=day.isoformat(), changes=tuple(changes), values=values, coverage=cov,
                              avg_margin=avg))
    return Plan(proposal_id=proposal_id, profile=str(proposal.profile), spec=spec, steps=tuple(steps),
                initial=initial, target=target, steps_per_asset={a.symbol: a.n for a in assets}, notes=tuple(notes))


def percent_cells(values: Any) -> str:
    """A step's per-symbol fractions (``coverage`` or ``avg_margin`` of a stored plan) as one table cell: the
    symbols sorted, each with its value in percent to two decimals, ``-`` for a missing or non-finite value, and
    ``-`` alone when there is nothing. The one rendering of the Governance page (:func:`plan_rows`) and of
    ``riskparams plan``.

    Parameters
    ----------
    values : mapping of str to float or None
        Symbol -> fraction (0.9912 is 99.12 %); anything else gives ``"-"``.

    Returns
    -------
    str
        E.g. ``"BTC 99.12%, ETH -"``.
    """
    if not isinstance(values, Mapping) or not values:
        return "-"
    return ", ".join(f"{k} {v:.2%}" if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                     else f"{k} -" for k, v in sorted(values.items()))


def _shown(key: str, v: Any) -> str:
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return "-"
    return f"{v:.4g}x" if ":max_leverage" in key else f"{v:.3%}"


def plan_rows(plan: Plan | Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per step of a plan, as the Governance page shows it: ``step``, ``date``, ``changes``
    (``'BTC:mmf:1 1.000% -> 1.189%; ...'``, max leverage in x), ``coverage`` and ``avg margin`` (per symbol,
    percent).

    ``plan`` is typed (a :class:`Plan`, e.g. ``StoredPlan.plan``), or a plan's dictionary (``riskparams plan
    --json``); both give the same rows."""
    if isinstance(plan, Plan):
        return [{"step": s.number, "date": s.date,
                 "changes": "; ".join(f"{c.key} {_shown(c.key, c.old)} -> {_shown(c.key, c.new)}"
                                      for c in s.changes) or "-",
                 "coverage": percent_cells(s.coverage), "avg margin": percent_cells(s.avg_margin)}
                for s in plan.steps]
    rows = []
    for k, s in enumerate(plan.get("steps", []), start=1):
        changes = s.get("changes") or {}
        text = "; ".join(f"{key} {_shown(key, c.get('from'))} -> {_shown(key, c.get('to'))}"
                         for key, c in changes.items())
        rows.append({"step": s.get("step", k), "date": s.get("date"), "changes": text or "-",
                     "coverage": percent_cells(s.get("coverage")),
                     "avg margin": percent_cells(s.get("avg_margin"))})
    return rows

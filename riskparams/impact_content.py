"""The stored impact of a proposal on open positions, typed and versioned: what
:func:`riskparams.service.proposal_impact` computes and :mod:`riskparams.store.impact_records` keeps under its
SHA-256, read back as read-only values (:class:`StoredImpact`).

:meth:`StoredImpact.from_content` reads the content (or the payload with its ``id`` and ``created_at``) and
refuses, in one sentence, content of another format or of another shape; :meth:`StoredImpact.content` gives the
stored content back exactly (same canonical JSON, same id) and :meth:`StoredImpact.to_dict` the payload the
export and ``riskparams propose --positions --json`` have always shown (the content plus ``id`` and
``created_at`` when known).

What is typed and what is not
-----------------------------
Typed: the header (``format``, ``proposal_id``, ``profile``, ``covered_moves``, ``order``, ``notes``,
``parameters_source``), the positions summary (:class:`ImpactPositions`: per symbol and side, cross and isolated),
each parameter set's headline (:class:`ImpactSet`: liquidatable now, bad debt at the covered move, VaR of
insolvent debt and LaR, top-N concentration, the fund figures of the stress run) and every scenario and stress
window row (:class:`ImpactScenario`). The rest (the simulation block, the waterfall settings, a lending set's
parameters, a stress row's day-by-day detail, ...) stays a read-only mapping (``extra``), exactly as stored.

Versions
--------
``format`` is :data:`IMPACT_FORMAT`. Keys added to v1 after its first release (the top-N share of a stress row,
the stress fund figures of a set, ``parameters_source``) may be absent: they read back as None (shown as "-")
and the content re-hashes without them. Another format is refused with the version it names.

Examples
--------
>>> content = {"format": IMPACT_FORMAT, "proposal_id": "ab" * 32, "profile": "perp", "covered_moves": {},
...            "positions": {"source": "book.csv", "synthetic": False, "n_positions": 1, "n_accounts": 1,
...                          "snapshot": None, "sha256": None},
...            "sets": {"proposal": {"liquidatable_now": 1, "liquidatable_now_notional": 100000.0,
...                                  "bad_debt_at_move": None, "scenarios": []}},
...            "order": ["proposal"], "notes": []}
>>> imp = StoredImpact.from_content(content)
>>> imp.set("proposal").liquidatable_now, imp.set("proposal").var_p99
(1, None)
>>> imp.content() == content
True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

from riskparams.content import _ShapeError as _Shape
from riskparams.content import short
from riskparams.domain import check_format
from riskparams.exceptions import DataError
from riskparams.jsonio import content_id

__all__ = [
    "IMPACT_FORMAT",
    "ImpactModeSummary",
    "ImpactPercentiles",
    "ImpactPositions",
    "ImpactRecordInfo",
    "ImpactScenario",
    "ImpactSet",
    "ImpactSymbolSide",
    "StoredImpact",
]

IMPACT_FORMAT = "riskparams-impact-v1"
"""Format tag inside every impact record's content."""

EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return EMPTY


def _freeze(x: Any, where: str) -> Any:
    """A read-only copy of a JSON value (mappings as ``MappingProxyType``, lists as tuples); refuses anything that
    is not JSON (non-finite numbers included)."""
    if x is None or isinstance(x, bool | str):
        return x
    if isinstance(x, numbers.Real):
        if not math.isfinite(float(x)):
            raise _Shape(f"{where} is {short(x)}, not a finite number")
        return x
    if isinstance(x, Mapping):
        for k in x:
            if not isinstance(k, str):
                raise _Shape(f"{where} has the key {short(k)}, not a string")
        return MappingProxyType({k: _freeze(v, f"{where}.{k}") for k, v in x.items()})
    if isinstance(x, list | tuple):
        return tuple(_freeze(v, f"{where}[{i}]") for i, v in enumerate(x))
    raise _Shape(f"{where} is a {type(x).__name__}, not a JSON value")


def _thaw(x: Any) -> Any:
    if isinstance(x, _Row):
        return x.to_dict()
    if isinstance(x, Mapping):
        return {k: _thaw(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return [_thaw(v) for v in x]
    return x


def _check(v: Any, kind: str, where: str) -> Any:
    """``v`` checked against ``kind`` (``int``, ``num``, ``str``, ``bool``, ``strs``, ``nums`` (a mapping of
    numbers), ``json``); None is always allowed (a missing figure)."""
    if v is None:
        return None
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise _Shape(f"{where} is {short(v)}, not a whole number")
        return v
    if kind == "num":
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise _Shape(f"{where} is {short(v)}, not a number")
        if not math.isfinite(float(v)):
            raise _Shape(f"{where} is {short(v)}, not a finite number")
        return v
    if kind == "str":
        if not isinstance(v, str):
            raise _Shape(f"{where} is {short(v)}, not a string")
        return v
    if kind == "bool":
        if not isinstance(v, bool):
            raise _Shape(f"{where} is {short(v)}, not true or false")
        return v
    if kind == "strs":
        if not isinstance(v, list | tuple):
            raise _Shape(f"{where} is {short(v)}, not a list")
        return tuple(_check(s, "str", f"{where}[{i}]") for i, s in enumerate(v))
    if kind == "nums":
        if not isinstance(v, Mapping):
            raise _Shape(f"{where} is {short(v)}, not an object")
        return MappingProxyType({_check(k, "str", f"{where} key"): _check(x, "num", f"{where}.{k}")
                                 for k, x in v.items()})
    return _freeze(v, where)


class _Row:
    """Common reading and writing of the typed parts: ``_KINDS`` maps each typed key to its kind (or to a
    :class:`_Row` subclass, or ``(cls,)`` for a list of them); ``_REQUIRED`` keys must be present (their value may
    be None where the kind allows). ``keys`` keeps the stored keys in their order and ``extra`` the untyped ones,
    so :meth:`to_dict` gives back exactly what was read."""

    __slots__ = ()
    _KINDS: Mapping[str, Any] = EMPTY
    _REQUIRED: tuple[str, ...] = ()
    _WHAT = "row"

    keys: tuple[str, ...]
    extra: Mapping[str, Any]

    @classmethod
    def _read(cls, d: Any, where: str, **more: Any) -> Any:
        if not isinstance(d, Mapping):
            raise _Shape(f"{where} is {type(d).__name__}, not an object")
        for k in cls._REQUIRED:
            if k not in d:
                raise _Shape(f"{where} has no {k!r}")
        kw: dict[str, Any] = dict(more)
        extra: dict[str, Any] = {}
        for k, v in d.items():
            if not isinstance(k, str):
                raise _Shape(f"{where} has the key {short(k)}, not a string")
            kind = cls._KINDS.get(k)
            if kind is None:
                extra[k] = _freeze(v, f"{where}.{k}")
            elif isinstance(kind, tuple):
                if not isinstance(v, list | tuple):
                    raise _Shape(f"{where}.{k} is {short(v)}, not a list")
                kw[k] = tuple(kind[0]._read(x, f"{where}.{k}[{i}]") for i, x in enumerate(v))
            elif isinstance(kind, type):
                kw[k] = None if v is None else cast(Any, kind)._read(v, f"{where}.{k}")
            else:
                kw[k] = _check(v, kind, f"{where}.{k}")
        row = cast(Any, cls)(keys=tuple(d), extra=MappingProxyType(extra), **kw)
        row._after(where)
        return row

    def _after(self, where: str) -> None:
        """Checks across keys, after reading (none by default)."""

    def to_dict(self) -> dict[str, Any]:
        """The stored dictionary, exactly (same keys, same order, same values)."""
        return {k: _thaw(getattr(self, k) if k in self._KINDS else self.extra[k]) for k in self.keys}

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its dictionary (read-only mappings do not pickle; ``st.cache_data`` pickles)."""
        return (_rebuild, (type(self), self.to_dict(), {k: getattr(self, k) for k in self._OUTSIDE}))

    _OUTSIDE: tuple[str, ...] = ()


def _rebuild(cls: Any, d: Mapping[str, Any], more: Mapping[str, Any]) -> Any:
    try:
        return cls._read(d, cls.__name__, **more)
    except _Shape as exc:
        raise DataError(f"a pickled {cls.__name__} does not read back ({exc}).") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactScenario(_Row):
    """One scenario of a parameter set (``now``, the covered move down / up, a standard shock) or one stress
    window / correlated shock through the liquidation waterfall.

    Attributes
    ----------
    name : str
    accounts : int or None
        Accounts liquidated (None: a stress window not in the data).
    notional : float or None
        Liquidated notional after the move (quote currency; perps).
    debt : float or None
        Debt of the liquidatable accounts (quote currency; lending).
    bad_debt : float or None
        Quote currency.
    top_share : float or None
        Share of the liquidated notional in the top-N accounts (None: nothing liquidated, a lending scenario, or
        a stress row stored before the share was kept).
    moves : Mapping[str, float] or None
        Price move per symbol (fraction; scenarios).
    status, kind : str or None
        Stress rows: ``ok`` / ``not in the data``; ``window`` / ``hypothetical``.
    fund_paid, socialised_loss, insurance_fund_min : float or None
        Stress rows: what the insurance fund paid, the loss socialised by auto-deleveraging, the fund's lowest
        balance (quote currency).
    extra : Mapping
        Every other stored key (read-only).
    """

    name: str
    accounts: int | None = None
    notional: float | None = None
    debt: float | None = None
    bad_debt: float | None = None
    top_share: float | None = None
    moves: Mapping[str, float | None] | None = None
    status: str | None = None
    kind: str | None = None
    fund_paid: float | None = None
    socialised_loss: float | None = None
    insurance_fund_min: float | None = None
    keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    _KINDS = MappingProxyType({"name": "str", "accounts": "int", "notional": "num", "debt": "num",
                               "bad_debt": "num", "top_share": "num", "moves": "nums", "status": "str", "kind": "str",
                               "fund_paid": "num", "socialised_loss": "num", "insurance_fund_min": "num"})
    _REQUIRED = ("name", "accounts", "bad_debt")

    def _after(self, where: str) -> None:
        if self.name is None:
            raise _Shape(f"{where}.name is None, not a string")
        if "notional" not in self.keys and "debt" not in self.keys:
            raise _Shape(f"{where} has neither 'notional' nor 'debt'")

    @property
    def amount(self) -> float | None:
        """The liquidated notional (perps) or the debt of the liquidatable accounts (lending)."""
        return self.notional if "notional" in self.keys else self.debt

    @property
    def in_data(self) -> bool:
        """False for a stress window the stored prices do not cover."""
        return self.status != "not in the data"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactPercentiles(_Row):
    """The 95th and 99th percentiles of a simulated figure (quote currency): VaR of insolvent debt, or LaR."""

    p95: float | None = None
    p99: float | None = None
    keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    _KINDS = MappingProxyType({"p95": "num", "p99": "num"})
    _REQUIRED = ("p99",)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactTopConcentration(_Row):
    """Share of the liquidated notional held by the ``n`` accounts with most of it, now and at the covered move
    (None: nothing liquidated)."""

    n: int | None = None
    now: float | None = None
    at_move: float | None = None
    keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    _KINDS = MappingProxyType({"n": "int", "now": "num", "at_move": "num"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactSet(_Row):
    """The impact of one parameter set (current, the proposal, an option) on the book.

    Attributes
    ----------
    name : str
        The set's key in the payload (``current``, ``proposal``, an option's name).
    liquidatable_now : int
        Accounts liquidatable at today's prices.
    liquidatable_now_notional : float or None
        Their notional (lending: their debt), quote currency.
    bad_debt_at_move : float or None
        Bad debt at the covered move, worse direction (None: no covered move known).
    var_insolvent_debt, lar : ImpactPercentiles or None
        Simulated VaR of insolvent debt and liquidations at risk (None: not simulated).
    top_concentration : ImpactTopConcentration or None
        Perps.
    scenarios : tuple of ImpactScenario
    stress_windows : tuple of ImpactScenario or None
        Joint stress windows and correlated shocks (perps, when run).
    fund_target, fund_adequacy, socialised_loss, insurance_fund_min : float or None
        The stress run's insurance fund figures (quote currency; adequacy a ratio).
    label, source : str or None
    n_positions, n_accounts : int or None
    open_notional : float or None
    covered_moves : Mapping[str, float] or None
    notes : tuple of str
    extra : Mapping
        ``simulation``, ``waterfall``, a lending set's ``params``, ... (read-only, as stored).
    """

    name: str
    liquidatable_now: int
    liquidatable_now_notional: float | None = None
    bad_debt_at_move: float | None = None
    var_insolvent_debt: ImpactPercentiles | None = None
    lar: ImpactPercentiles | None = None
    top_concentration: ImpactTopConcentration | None = None
    scenarios: tuple[ImpactScenario, ...] = ()
    stress_windows: tuple[ImpactScenario, ...] | None = None
    fund_target: float | None = None
    fund_adequacy: float | None = None
    socialised_loss: float | None = None
    insurance_fund_min: float | None = None
    label: str | None = None
    source: str | None = None
    n_positions: int | None = None
    n_accounts: int | None = None
    open_notional: float | None = None
    covered_moves: Mapping[str, float | None] | None = None
    notes: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    _KINDS = MappingProxyType({
        "liquidatable_now": "int", "liquidatable_now_notional": "num", "bad_debt_at_move": "num",
        "var_insolvent_debt": ImpactPercentiles, "lar": ImpactPercentiles,
        "top_concentration": ImpactTopConcentration, "scenarios": (ImpactScenario,),
        "stress_windows": (ImpactScenario,), "fund_target": "num", "fund_adequacy": "num", "socialised_loss": "num",
        "insurance_fund_min": "num", "label": "str", "source": "str", "n_positions": "int", "n_accounts": "int",
        "open_notional": "num", "covered_moves": "nums", "notes": "strs"})
    _REQUIRED = ("liquidatable_now", "liquidatable_now_notional", "bad_debt_at_move")
    _OUTSIDE = ("name",)

    def _after(self, where: str) -> None:
        if self.liquidatable_now is None:
            raise _Shape(f"{where}.liquidatable_now is None, not a whole number")

    @property
    def at_move(self) -> ImpactScenario | None:
        """The worse (more bad debt, then more notional or debt) of the covered move down and up; None when
        neither is there."""
        moved = [s for s in self.scenarios if s.name in ("covered move down", "covered move up")]
        return max(moved, key=lambda s: (s.bad_debt or 0.0, s.amount or 0.0), default=None)

    @property
    def var_p99(self) -> float | None:
        """99th percentile of simulated insolvent debt (None: not simulated)."""
        return None if self.var_insolvent_debt is None else self.var_insolvent_debt.p99

    @property
    def lar_p99(self) -> float | None:
        """99th percentile of simulated liquidated notional (None: not simulated)."""
        return None if self.lar is None else self.lar.p99

    @property
    def top_share_at_move(self) -> float | None:
        """Top-N share of the notional liquidated at the covered move (None: unknown or nothing liquidated)."""
        return None if self.top_concentration is None else self.top_concentration.at_move

    @property
    def stress_rows(self) -> tuple[ImpactScenario, ...]:
        """The stress windows and correlated shocks (empty when not run)."""
        return self.stress_windows or ()

    @property
    def waterfall(self) -> Mapping[str, Any]:
        """The stress run's waterfall settings and outcome (read-only; empty when not run)."""
        w = self.extra.get("waterfall")
        return w if isinstance(w, Mapping) else EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactSymbolSide(_Row):
    """Open positions of one symbol and side: count and notional (quote currency)."""

    symbol: str
    side: str
    positions: int | None = None
    notional: float | None = None
    keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    _KINDS = MappingProxyType({"symbol": "str", "side": "str", "positions": "int", "notional": "num"})
    _REQUIRED = ("symbol", "side")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactModeSummary(_Row):
    """Open positions in one margin mode (cross or isolated): positions, accounts, notional (quote currency)."""

    positions: int | None = None
    accounts: int | None = None
    notional: float | None = None
    keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    _KINDS = MappingProxyType({"positions": "int", "accounts": "int", "notional": "num"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactPositions(_Row):
    """The book the impact was computed on.

    Attributes
    ----------
    source : str
        The positions file's name or the demo book's label.
    synthetic : bool
        The synthetic demo book.
    n_positions, n_accounts : int or None
    snapshot, sha256 : str or None
        When the positions were taken; the file's SHA-256.
    open_notional : float or None
        Perps (quote currency).
    symbols : tuple of str
    by_symbol : tuple of ImpactSymbolSide
        Perps.
    cross, isolated : ImpactModeSummary or None
        Perps.
    """

    source: str = ""
    synthetic: bool | None = None
    n_positions: int | None = None
    n_accounts: int | None = None
    snapshot: str | None = None
    sha256: str | None = None
    open_notional: float | None = None
    symbols: tuple[str, ...] = ()
    by_symbol: tuple[ImpactSymbolSide, ...] = ()
    cross: ImpactModeSummary | None = None
    isolated: ImpactModeSummary | None = None
    keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    _KINDS = MappingProxyType({"source": "str", "synthetic": "bool", "n_positions": "int", "n_accounts": "int",
                               "snapshot": "str", "sha256": "str", "open_notional": "num", "symbols": "strs",
                               "by_symbol": (ImpactSymbolSide,), "cross": ImpactModeSummary,
                               "isolated": ImpactModeSummary})
    _REQUIRED = ("source", "n_positions", "n_accounts")

    def _after(self, where: str) -> None:
        if self.source is None:
            raise _Shape(f"{where}.source is None, not a string")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredImpact(_Row):
    """The impact of a proposal's parameter sets (or of current parameters alone) on a book, as stored.

    Attributes
    ----------
    format : str
        :data:`IMPACT_FORMAT`.
    proposal_id : str or None
        None for the impact of current parameters alone (never stored).
    profile : str
        ``perp`` or ``lending``.
    positions : ImpactPositions
    covered_moves : Mapping[str, float]
        The proposal's covered move per asset (fraction).
    sets : tuple of ImpactSet
        In the stored order (stored JSON sorts keys; :meth:`ordered_sets` gives the display order).
    order : tuple of str
        The set names: current, proposal, then the options.
    notes : tuple of str
    parameters_source : str or None
        The current-parameters file (impact of current parameters alone).
    id : str or None
        The record's id (the SHA-256 of :meth:`content`) once stored.
    created_at : str or None
        When it was stored (ISO-8601 UTC, ``Z``), for a record read from the store.
    """

    format: str
    proposal_id: str | None
    profile: str
    positions: ImpactPositions
    covered_moves: Mapping[str, float | None] = field(default_factory=_empty)
    sets: tuple[ImpactSet, ...] = ()
    order: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    parameters_source: str | None = None
    id: str | None = None
    created_at: str | None = None
    keys: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=_empty)

    _KINDS = MappingProxyType({"format": "str", "proposal_id": "str", "profile": "str", "positions": ImpactPositions,
                               "covered_moves": "nums", "order": "strs", "notes": "strs",
                               "parameters_source": "str"})
    _REQUIRED = ("format", "proposal_id", "profile", "positions")

    @classmethod
    def from_content(cls, content: Mapping[str, Any], *, id: str | None = None,
                     created_at: str | None = None) -> StoredImpact:
        """Read an impact's stored content, or the payload of :meth:`to_dict` (``id`` and ``created_at`` keys
        are taken as the record's); the round trip is exact.

        Raises
        ------
        DataError
            Another format, or content without this riskparams' shape (a key missing, a value of the wrong type,
            a number that is not finite), or an ``id`` that is not the content's hash; one sentence naming where.
        """
        try:
            check_format(content, IMPACT_FORMAT, "impact")
        except ValueError as exc:
            raise DataError(str(exc)) from None
        body = {k: v for k, v in content.items() if k not in ("id", "created_at")}
        rid = id if id is not None else content.get("id")
        when = created_at if created_at is not None else content.get("created_at")
        try:
            sets = body.get("sets")
            if not isinstance(sets, Mapping):
                raise _Shape(f"sets is {type(sets).__name__}, not an object")
            typed_sets = tuple(ImpactSet._read(r, f"sets.{str(n)[:40]}", name=_check(n, "str", "a set name"))
                               for n, r in sets.items())
            imp = cls._read({k: v for k, v in body.items() if k != "sets"}, "impact",
                            id=_check(rid, "str", "id"), created_at=_check(when, "str", "created_at"),
                            sets=typed_sets)
            if imp.positions is None:
                raise _Shape("positions is None, not an object")
            if imp.profile not in ("perp", "lending"):
                raise _Shape(f"profile is {short(imp.profile)}, not 'perp' or 'lending'")
        except _Shape as exc:
            raise DataError(f"the stored impact content does not have this riskparams' shape ({exc}).") from None
        # the keys of the content in their order, "sets" included (it was read apart)
        object.__setattr__(imp, "keys", tuple(body))
        if rid is not None and content_id(imp.content()) != rid:
            raise DataError(f"the stored impact {str(rid)[:12]!r} does not match its content (its id is not the "
                            "SHA-256 of the content).")
        return imp

    from_dict = from_content

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its payload (:meth:`to_dict`)."""
        return (StoredImpact.from_content, (self.to_dict(),))

    def content(self) -> dict[str, Any]:
        """The stored content, exactly (its canonical JSON hashes to :attr:`id`)."""
        return {k: ({s.name: s.to_dict() for s in self.sets} if k == "sets" else
                    _thaw(getattr(self, k) if k in self._KINDS else self.extra[k])) for k in self.keys}

    def to_dict(self) -> dict[str, Any]:
        """The impact payload: :meth:`content` with ``id`` (once stored) and ``created_at`` (read from the store)
        added, as :func:`riskparams.service.proposal_impact` and the export have always given it."""
        out = self.content()
        if self.id is not None:
            out["id"] = self.id
        if self.created_at is not None:
            out["created_at"] = self.created_at
        return out

    def with_record(self, *, id: str, created_at: str | None = None) -> StoredImpact:
        """The same impact with its record's id (and storage time)."""
        from dataclasses import replace

        return replace(self, id=id, created_at=created_at if created_at is not None else self.created_at)

    @property
    def lending(self) -> bool:
        """A lending book (amounts are the debt of the liquidatable accounts)."""
        return self.profile == "lending"

    def set(self, name: str) -> ImpactSet | None:
        """The parameter set called ``name`` (None if absent)."""
        return next((s for s in self.sets if s.name == name), None)

    def ordered_sets(self) -> list[ImpactSet]:
        """The parameter sets in :attr:`order` (current, proposal, options), any set not named there after them
        (current, proposal, then by name)."""
        names = [s.name for s in self.sets]
        order = [n for n in self.order if n in names]
        order += sorted((n for n in names if n not in order), key=lambda n: (n != "current", n != "proposal", n))
        return [s for n in order if (s := self.set(n)) is not None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactRecordInfo:
    """One stored impact record of a proposal, without its content (:func:`riskparams.store.impact_records.
    list_impacts`).

    Attributes
    ----------
    id : str
        The record's id (SHA-256 of its content).
    created_at : str
        When it was stored (ISO-8601 UTC, ``Z``).
    source : str
        The positions file's name or the demo book's label.
    """

    id: str
    created_at: str
    source: str

    def __post_init__(self) -> None:
        for name in ("id", "created_at", "source"):
            if not isinstance(getattr(self, name), str):
                raise DataError(f"impact record {name} must be a string, got {short(getattr(self, name))}.")

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "created_at", "source"}``."""
        return {"id": self.id, "created_at": self.created_at, "source": self.source}

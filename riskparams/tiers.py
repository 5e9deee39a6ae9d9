"""The one validated tier table: the brackets of a perpetual market's margin schedule.

A :class:`TierTable` is a tuple of tiers (a venue's current brackets, :class:`~riskparams.domain.CurrentPerpTier`,
or proposed ones, :class:`~riskparams.domain.PerpTier`) whose invariants are checked once, when it is made:

* at least one tier; the first starts at notional 0;
* each tier starts where the previous one ends (its ``notional_floor`` is the previous ``notional_cap``), and
  its cap is above its floor (caps strictly increasing); only the last tier may be open-ended (cap None);
* ``max_leverage`` in [1, 1000] and ``imf = 1 / max_leverage``;
* ``0 < mmf < imf``, and a liquidation penalty, when given, in ``[0, mmf)``;
* rates do not fall and leverage does not rise with size.

A violation raises :class:`~riskparams.exceptions.TierError` (a :class:`~riskparams.exceptions.SpecError`)
naming the tier (1-based), the field and the value; its ``tier``, ``field``, ``value`` and ``problem`` let a
file reader point at the row that holds it (:mod:`riskparams.params_io`).

Being a tuple, a table is immutable, compares equal to the tuple of its tiers and serialises like one, so
stored content does not change. It is used by the current parameters (:class:`~riskparams.domain.CurrentPerp`
holds one), the proposals (:func:`riskparams.proposals.propose_tiers` builds one), the backtest's parameter
sets (:mod:`riskparams.backtest.params`) and the venue exports (:mod:`riskparams.export`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from riskparams.exceptions import TierError

__all__ = ["MAX_LEVERAGE", "TierLike", "TierTable", "maintenance_deductions"]

MAX_LEVERAGE = 1000.0
"""Largest max leverage of a tier."""
_TOL = 1e-9


class TierLike(Protocol):
    """What a tier of a :class:`TierTable` offers (fields or properties)."""

    @property
    def notional_floor(self) -> float: ...

    @property
    def notional_cap(self) -> float | None: ...

    @property
    def mmf(self) -> float: ...

    @property
    def imf(self) -> float: ...

    @property
    def max_leverage(self) -> float: ...

    @property
    def liquidation_penalty(self) -> float | None: ...


T = TypeVar("T", bound=TierLike)


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


class TierTable(tuple[T, ...]):
    """A validated tuple of tiers, in ascending notional order (see the module docstring).

    Parameters
    ----------
    tiers : iterable of tiers
        Each with ``notional_floor``, ``notional_cap``, ``mmf``, ``imf``, ``max_leverage`` and
        ``liquidation_penalty`` (None: not given).
    symbol : str, optional
        Named in messages.

    Raises
    ------
    TierError
        One sentence naming the tier, the field and the value.

    Examples
    --------
    >>> from riskparams.domain import CurrentPerpTier
    >>> table = TierTable([
    ...     CurrentPerpTier(notional_floor=0, notional_cap=1e6, max_leverage=20, maintenance_rate=0.02),
    ...     CurrentPerpTier(notional_floor=1e6, notional_cap=None, max_leverage=10, maintenance_rate=0.04),
    ... ], symbol="BTC")
    >>> len(table), table.at(2e6).max_leverage, table.mmfs, table.deductions()
    (2, 10, (0.02, 0.04), (0.0, 20000.0))
    >>> TierTable([CurrentPerpTier(notional_floor=0, notional_cap=None, max_leverage=20, maintenance_rate=0.06)])
    Traceback (most recent call last):
    ...
    riskparams.exceptions.TierError: tier 1: mmf 0.06 must be below the initial margin 1 / max_leverage = 5.0000%.
    """

    __slots__ = ()

    def __new__(cls, tiers: Iterable[T] = (), *, symbol: str = "") -> TierTable[T]:
        items = tuple(tiers)
        _check(items, symbol)
        return super().__new__(cls, items)

    def __repr__(self) -> str:
        return f"TierTable({tuple(self)!r})"

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], *, symbol: str = "") -> TierTable[Any]:
        """A table of stored tier rows (mappings with ``notional_floor``, ``notional_cap``, ``mmf`` or
        ``maintenance_rate``, ``max_leverage``, optional ``imf`` and ``liquidation_penalty``), e.g. a stored
        proposal's or option's tiers; a missing field is a :class:`TierError` too."""
        views: list[Any] = [_Row(i, r, symbol) for i, r in enumerate(rows)]
        return TierTable(views, symbol=symbol)

    def at(self, notional: float) -> T:
        """The tier that holds a position of ``notional`` (the last tier beyond its cap)."""
        for t in self:
            if t.notional_cap is None or notional < t.notional_cap:
                return t
        return self[-1]

    @property
    def floors(self) -> tuple[float, ...]:
        """Notional floors (quote currency)."""
        return tuple(float(t.notional_floor) for t in self)

    @property
    def caps(self) -> tuple[float | None, ...]:
        """Notional caps (None: open-ended)."""
        return tuple(None if t.notional_cap is None else float(t.notional_cap) for t in self)

    @property
    def mmfs(self) -> tuple[float, ...]:
        """Maintenance margin fractions."""
        return tuple(float(t.mmf) for t in self)

    @property
    def max_leverages(self) -> tuple[float, ...]:
        """Max leverages (``1 / imf``)."""
        return tuple(float(t.max_leverage) for t in self)

    @property
    def penalties(self) -> tuple[float, ...]:
        """Liquidation penalties (0 where not given)."""
        return tuple(float(t.liquidation_penalty or 0.0) for t in self)

    def deductions(self) -> tuple[float, ...]:
        """Maintenance deductions keeping ``MM(N) = N mmf_k - d_k`` continuous at the floors (quote currency)."""
        return maintenance_deductions(self.floors, self.mmfs)


def maintenance_deductions(floors: Sequence[float], mmfs: Sequence[float]) -> tuple[float, ...]:
    """Maintenance deductions ``d_k`` (quote currency) keeping ``MM(N) = N mmf_k - d_k`` continuous.

    ``d_0 = 0``, ``d_k = d_{k-1} + floor_k (mmf_k - mmf_{k-1})``.

    Parameters
    ----------
    floors, mmfs : sequence of float, shape (n_tiers,)
        Tier notional floors (quote currency) and maintenance fractions.
    """
    out = [0.0]
    for k in range(1, len(floors)):
        out.append(out[-1] + float(floors[k]) * (float(mmfs[k]) - float(mmfs[k - 1])))
    return tuple(out)


class _Row:
    """A stored tier row (a mapping) read as a tier."""

    __slots__ = ("notional_floor", "notional_cap", "mmf", "imf", "max_leverage", "liquidation_penalty")

    def __init__(self, i: int, row: Mapping[str, Any], symbol: str) -> None:
        def get(*names: str, required: bool = True) -> Any:
            for n in names:
                if n in row:
                    return row[n]
            if required:
                head = f"{symbol} " if symbol else ""
                raise TierError(f"{head}tier {i + 1}: {names[0]} is missing.", tier=i, field=names[0],
                                problem="is missing")
            return None

        self.notional_floor = get("notional_floor")
        self.notional_cap = get("notional_cap")
        self.mmf = get("mmf", "maintenance_rate")
        self.max_leverage = get("max_leverage")
        imf = get("imf", required=False)
        self.imf = 1.0 / _num(self.max_leverage) if imf is None and _num(self.max_leverage) else imf
        self.liquidation_penalty = get("liquidation_penalty", required=False)


def _check(tiers: tuple[Any, ...], symbol: str) -> None:
    """Raise :class:`TierError` at the first broken invariant (module docstring)."""
    head = f"{symbol} " if symbol else ""
    if not tiers:
        raise TierError(f"{head}tier table needs at least one tier.", field="tiers", value=())

    def fail(i: int, name: str, value: object, problem: str) -> TierError:
        shown = f"{value:g}" if isinstance(value, float) else repr(value)
        return TierError(f"{head}tier {i + 1}: {name} {shown} {problem}.", tier=i, field=name, value=value,
                         problem=problem)

    prev_cap: float | None = None
    prev_mmf = prev_lev = math.nan
    last = len(tiers) - 1
    for i, t in enumerate(tiers):
        floor = _num(t.notional_floor)
        if not (math.isfinite(floor) and floor >= 0):
            raise fail(i, "notional_floor", t.notional_floor, "must be a finite notional >= 0")
        if i == 0 and floor != 0:
            raise fail(i, "notional_floor", floor, "must be 0: the first tier starts at notional 0")
        if i > 0 and prev_cap is not None and abs(floor - prev_cap) > _TOL * max(1.0, prev_cap):
            raise fail(i, "notional_floor", floor, f"must equal tier {i}'s notional_cap {prev_cap:g}: tiers follow "
                                                   "one another")
        cap_raw = t.notional_cap
        if cap_raw is None:
            if i != last:
                raise fail(i, "notional_cap", None, f"leaves tier {i + 1} open-ended although tier {i + 2} follows")
        else:
            cap = _num(cap_raw)
            if not (math.isfinite(cap) and cap > floor):
                raise fail(i, "notional_cap", cap, f"is not above the tier's floor {floor:g}: caps must be strictly "
                                                   "increasing")
        lev = _num(t.max_leverage)
        if not (math.isfinite(lev) and 1.0 <= lev <= MAX_LEVERAGE):
            raise fail(i, "max_leverage", t.max_leverage, f"must be in [1, {MAX_LEVERAGE:g}]")
        imf = _num(t.imf)
        if not abs(imf * lev - 1.0) <= _TOL:
            raise fail(i, "imf", t.imf, f"must equal 1 / max_leverage = {1.0 / lev:.6g}")
        mmf = _num(t.mmf)
        if not (math.isfinite(mmf) and mmf > 0):
            raise fail(i, "mmf", t.mmf, "must be a fraction > 0")
        if not mmf < imf:
            raise fail(i, "mmf", mmf, f"must be below the initial margin 1 / max_leverage = {imf:.4%}")
        pen = t.liquidation_penalty
        if pen is not None and not 0.0 <= _num(pen) < mmf:
            raise fail(i, "liquidation_penalty", pen, f"must be >= 0 and below the maintenance rate {mmf:g}")
        if mmf < prev_mmf:
            raise fail(i, "mmf", mmf, f"is below tier {i}'s {prev_mmf:g}: rates must not fall with size")
        if lev > prev_lev:
            raise fail(i, "max_leverage", lev, f"is above tier {i}'s {prev_lev:g}: leverage must not rise with size")
        prev_cap = None if cap_raw is None else float(cap_raw)
        prev_mmf, prev_lev = mmf, lev

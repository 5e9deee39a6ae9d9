"""Liquidation simulation, stress windows and instantaneous shocks: pure numpy/pandas.

Units: prices and notionals in quote currency; margin fractions, penalties, costs, leverage
inverses, moves and shocks are fractions (0.03 = 3 %); times are UTC.

Liquidation model (one isolated-margin position, :func:`simulate_liquidations`)
------------------------------------------------------------------------------
* Opened at the **close** of its entry bar, price ``P0``, notional ``N`` (quote), quantity
  ``Q = N / P0``, side ``s`` (+1 long, -1 short), leverage ``L`` = the population's leverage capped
  at the tier's max leverage ``1 / IMF`` in force at entry (and at ``max_leverage`` if given).
  Initial margin ``IM = N / L`` is the whole equity ``E0`` of the position. A position whose
  ``E0`` does not exceed its maintenance margin at entry is *rejected* (never opened).
* Maintenance margin at price ``P``: ``MM(P) = Q P mmf_k - d_k`` (the exchanges' "maintenance
  amount" ``d_k``, 0 unless given), tier ``k`` from the entry notional ``N`` in the schedule in
  force at the bar. Equity ``E(P) = E0 + s Q (P - P0)``.
* Trigger: during bar ``t`` the adverse price (low for longs, high for shorts) brings equity
  below maintenance, ``E(P) < MM(P)``, i.e. the price crosses::

      long:  P* = (Q P0 - E0 - d) / (Q (1 - mmf))        short:  P* = (E0 + Q P0 + d) / (Q (1 + mmf))

* Close-out over the margin period of risk of ``horizon_bars = H`` bars (:class:`CloseOut`):
  ``worst`` (**default**, conservative): the most adverse price over bars ``t .. t+H`` (low for
  longs, high for shorts); ``close``: the close of bar ``t+H``; ``trigger``: at ``P*`` (at the
  bar's open when the price gapped through ``P*``), no delay. Windows are cut at the last bar.
* Close-out cost ``c`` (fraction of the close-out notional ``Nc = Q Pc``): the tier's
  ``close_out_cost``, a flat fraction, or a function of ``Nc``. Remaining equity
  ``R = E0 + s Q (Pc - P0) - c Nc``; the penalty ``min(max(R, 0), penalty_k Nc)`` goes to the
  insurance fund; **bad debt** ``max(0, -R)`` (the loss beyond the equity) is paid by it.
* The insurance fund starts at ``insurance_fund_start`` and moves by ``penalty - bad debt`` on
  the close-out bar (``t+H``, or ``t`` for ``trigger``). Positions not liquidated are closed by
  their owner at the end of the holding period and cost the fund nothing. Funding, fees and
  partial liquidations are not modelled.

With ``close_out='worst'``, a time-invariant schedule, the same IMF, ``d = 0`` and ``c <= mmf``,
raising MMF never increases the bad debt of a position held to the end of the data (an earlier
trigger's window contains every worse price a later trigger could see). Two honest exceptions:
``close`` does not have the property (the close ``H`` bars later can be a recovery), and with a
finite holding period a higher MMF that triggers within the last ``H`` bars of the holding
period hands the position to a close-out that runs past the bar where, under the lower MMF, the
owner would have closed it without loss to the fund.

Stress windows and shocks
-------------------------
* :func:`drawdown_episodes`: the ``n`` deepest peak-to-trough drawdown episodes of a close
  series, found automatically; user date ranges pass through.
* :func:`shock_bad_debt`: an instantaneous jump ``x`` and close-out at cost ``c`` (fraction of the
  post-jump notional), per tier, for a position starting at max leverage (equity fraction
  ``e = IMF``) or at the maintenance boundary (``e = mmf - d / N``). Per unit of pre-jump
  notional::

      loss = |x| + c (1 + x),     bad debt = max(0, loss - e),
      penalty paid = min(max(e - loss, 0), penalty (1 + x))

  (a long is hurt by ``x < 0``, a short by ``x > 0``). E.g. a long at maintenance with
  ``mmf = 0.05``, ``c = 0.01`` and ``x = -0.3`` loses ``0.3 + 0.007`` and leaves bad debt
  ``0.257 N``. The loss grows with ``|x|``, so a larger shock never reduces bad debt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskparams.domain import parse_choice
from riskparams.exceptions import SpecError
from riskparams.jsonio import clean_float, iso_z

__all__ = [
    "CloseOut",
    "DiscreteLeverage",
    "DiscreteNotional",
    "Entry",
    "LiquidationResult",
    "LognormalLeverage",
    "LognormalNotional",
    "MarginSchedule",
    "Population",
    "PopulationSpec",
    "ScheduleVersion",
    "StressWindow",
    "Tier",
    "TierOutcome",
    "compare_parameter_sets",
    "drawdown_episodes",
    "generate_population",
    "shock_bad_debt",
    "simulate_liquidations",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CostSpec = float | Callable[[FloatArray], FloatArray] | None


_jf = clean_float  # JSON-safe float (riskparams.jsonio)


def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else iso_z(pd.Timestamp(ts))


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _num(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise SpecError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise SpecError(f"{name} must be finite, got {value!r}")
    return v


# ---------------------------------------------------------------------------------------------
# margin schedule
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    """One notional bracket of a perpetual market's margin schedule.

    Attributes
    ----------
    notional_floor : float
        Lower bound of the bracket (quote currency), >= 0; the first tier starts at 0.
    notional_cap : float or None
        Upper bound (informational; brackets are read from the floors), None for open-ended.
    mmf : float
        Maintenance margin fraction, ``0 < mmf < 1``.
    penalty : float
        Liquidation penalty, fraction of the close-out notional paid to the insurance fund out of
        the remaining equity, ``0 <= penalty < 1``.
    imf : float or None
        Initial margin fraction ``1 / max leverage``, ``mmf < imf <= 1``; None: no cap from the tier.
    maintenance_deduction : float
        ``d`` in ``MM(N) = N mmf - d`` (quote currency, >= 0).
    close_out_cost : float
        Cost of closing out, fraction of the close-out notional, ``0 <= c < 1``.
    """

    notional_floor: float = 0.0
    notional_cap: float | None = None
    mmf: float
    penalty: float = 0.0
    imf: float | None = None
    maintenance_deduction: float = 0.0
    close_out_cost: float = 0.0

    def __post_init__(self) -> None:
        floor = _num("notional_floor", self.notional_floor)
        if floor < 0:
            raise SpecError(f"notional_floor must be >= 0, got {floor}")
        if self.notional_cap is not None and _num("notional_cap", self.notional_cap) <= floor:
            raise SpecError(f"notional_cap must be > notional_floor ({floor}), got {self.notional_cap}")
        m = _num("mmf", self.mmf)
        if not 0.0 < m < 1.0:
            raise SpecError(f"mmf must be in (0, 1), got {self.mmf}")
        if not 0.0 <= _num("penalty", self.penalty) < 1.0:
            raise SpecError(f"penalty must be in [0, 1), got {self.penalty}")
        if self.imf is not None and not m < _num("imf", self.imf) <= 1.0:
            raise SpecError(f"imf must be in (mmf, 1] = ({m}, 1], got {self.imf}")
        if _num("maintenance_deduction", self.maintenance_deduction) < 0:
            raise SpecError(f"maintenance_deduction must be >= 0, got {self.maintenance_deduction}")
        if not 0.0 <= _num("close_out_cost", self.close_out_cost) < 1.0:
            raise SpecError(f"close_out_cost must be in [0, 1), got {self.close_out_cost}")

    @property
    def max_leverage(self) -> float | None:
        """``1 / imf`` (None without an IMF)."""
        return None if self.imf is None else 1.0 / self.imf

    @classmethod
    def coerce(cls, obj: Any) -> Tier:
        """A :class:`Tier` from itself or from a tier-like object (``riskparams.domain.PerpTier`` or
        ``CurrentPerpTier``): reads ``notional_floor``, ``notional_cap``, ``mmf`` or
        ``maintenance_rate``, ``liquidation_penalty`` or ``penalty``, ``imf`` or ``max_leverage``,
        ``maintenance_deduction`` and ``close_out_cost`` (missing ones take the defaults)."""
        if isinstance(obj, Tier):
            return obj
        mmf = getattr(obj, "mmf", None)
        if mmf is None:
            mmf = getattr(obj, "maintenance_rate", None)
        if mmf is None:
            raise TypeError(f"{type(obj).__name__} has no mmf or maintenance_rate")
        pen = getattr(obj, "liquidation_penalty", None)
        if pen is None:
            pen = getattr(obj, "penalty", 0.0)
        imf = getattr(obj, "imf", None)
        if imf is None and getattr(obj, "max_leverage", None):
            imf = 1.0 / float(obj.max_leverage)
        return cls(
            notional_floor=float(getattr(obj, "notional_floor", 0.0)),
            notional_cap=getattr(obj, "notional_cap", None),
            mmf=float(mmf),
            penalty=float(pen or 0.0),
            imf=None if imf is None else float(imf),
            maintenance_deduction=float(getattr(obj, "maintenance_deduction", 0.0) or 0.0),
            close_out_cost=float(getattr(obj, "close_out_cost", 0.0) or 0.0),
        )


def _coerce_tiers(tiers: Iterable[Any]) -> tuple[Tier, ...]:
    out = tuple(Tier.coerce(t) for t in tiers)
    if not out:
        raise SpecError("a schedule needs at least one tier")
    floors = [t.notional_floor for t in out]
    if floors[0] != 0.0:
        raise SpecError(f"the first tier must start at notional 0, got {floors[0]}")
    if any(b <= a for a, b in zip(floors, floors[1:], strict=False)):
        raise SpecError(f"tier notional floors must be strictly increasing, got {floors}")
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleVersion:
    """The tiers in force from ``effective_from`` (UTC; None: from the beginning) until the next version."""

    effective_from: pd.Timestamp | None
    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", _coerce_tiers(self.tiers))
        if self.effective_from is not None:
            object.__setattr__(self, "effective_from", _utc(self.effective_from))

    def arrays(self) -> dict[str, FloatArray]:
        """Per-tier arrays, shape (n_tiers,): floor, mmf, d, penalty, cost, imf (NaN: none)."""
        t = self.tiers
        return {
            "floor": np.array([x.notional_floor for x in t], dtype=float),
            "mmf": np.array([x.mmf for x in t], dtype=float),
            "d": np.array([x.maintenance_deduction for x in t], dtype=float),
            "penalty": np.array([x.penalty for x in t], dtype=float),
            "cost": np.array([x.close_out_cost for x in t], dtype=float),
            "imf": np.array([np.nan if x.imf is None else x.imf for x in t], dtype=float),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginSchedule:
    """A named parameter set: tiers, possibly changing over time (versions in time order).

    Bars before the first version's ``effective_from`` have no schedule: positions entering then
    are not opened (``outside_schedule`` in the result).
    """

    name: str
    versions: tuple[ScheduleVersion, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError("a schedule needs a non-empty name")
        if not self.versions:
            raise SpecError("a schedule needs at least one version")
        times = [v.effective_from for v in self.versions]
        if any(t is None for t in times[1:]):
            raise SpecError("only the first version may have effective_from=None")
        stamps = [t for t in times if t is not None]
        if any(b <= a for a, b in zip(stamps, stamps[1:], strict=False)):
            raise SpecError("schedule versions must be in strictly increasing effective_from order")

    @classmethod
    def static(cls, name: str, tiers: Iterable[Any]) -> MarginSchedule:
        """One set of tiers for all time (tiers may be :class:`Tier` or tier-like objects)."""
        return cls(name=name, versions=(ScheduleVersion(effective_from=None, tiers=tuple(tiers)),))

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame) -> MarginSchedule:
        """A schedule from a tidy frame: one row per (date, tier).

        Columns: ``effective_from`` (UTC; the date the row's parameters take effect), ``notional_floor``,
        ``mmf``; optional ``notional_cap``, ``penalty``, ``imf`` or ``max_leverage``,
        ``maintenance_deduction``, ``close_out_cost`` (NaN = not given).
        """
        required = {"effective_from", "notional_floor", "mmf"}
        missing = sorted(required - set(frame.columns))
        if missing:
            raise SpecError(f"schedule frame is missing column(s) {', '.join(missing)}")
        data = frame.assign(effective_from=pd.to_datetime(frame["effective_from"], utc=True))
        data = data.sort_values(["effective_from", "notional_floor"], kind="stable").reset_index(drop=True)
        m = len(data)

        def col(key: str) -> FloatArray:
            if key not in data.columns:
                return np.full(m, np.nan)
            return np.asarray(pd.to_numeric(data[key], errors="raise").astype("float64").to_numpy(na_value=np.nan))

        floor, cap, mmf, pen = col("notional_floor"), col("notional_cap"), col("mmf"), col("penalty")
        imf, lev, ded, cost = col("imf"), col("max_leverage"), col("maintenance_deduction"), col("close_out_cost")
        imf = np.where(np.isnan(imf) & ~np.isnan(lev), 1.0 / lev, imf)
        stamps = pd.DatetimeIndex(data["effective_from"])
        starts = np.flatnonzero(np.r_[True, stamps[1:] != stamps[:-1]])
        bounds = np.r_[starts, m]

        def opt(a: FloatArray, i: int) -> float | None:
            return None if math.isnan(a[i]) else float(a[i])

        versions = []
        for lo_, hi_ in zip(bounds[:-1], bounds[1:], strict=True):
            tiers = tuple(
                Tier(notional_floor=float(floor[i]), notional_cap=opt(cap, i), mmf=float(mmf[i]),
                     penalty=opt(pen, i) or 0.0, imf=opt(imf, i), maintenance_deduction=opt(ded, i) or 0.0,
                     close_out_cost=opt(cost, i) or 0.0)
                for i in range(int(lo_), int(hi_))
            )
            versions.append(ScheduleVersion(effective_from=stamps[int(lo_)], tiers=tiers))
        return cls(name=name, versions=tuple(versions))

    @property
    def latest(self) -> tuple[Tier, ...]:
        """The tiers of the last version."""
        return self.versions[-1].tiers

    def version_of_bars(self, index: pd.DatetimeIndex) -> IntArray:
        """Index of the version in force at each bar time, shape (len(index),); -1 before the first."""
        stamps = [v.effective_from for v in self.versions]
        if stamps[0] is None:
            if len(stamps) == 1:
                return np.zeros(len(index), dtype=np.int64)
            later = pd.DatetimeIndex(stamps[1:])
            return np.asarray(later.searchsorted(index, side="right"), dtype=np.int64)
        return np.asarray(pd.DatetimeIndex(stamps).searchsorted(index, side="right"), dtype=np.int64) - 1


# ---------------------------------------------------------------------------------------------
# population
# ---------------------------------------------------------------------------------------------


def _weights(values: tuple[float, ...], weights: tuple[float, ...] | None, what: str) -> FloatArray:
    if not values:
        raise SpecError(f"{what} values must not be empty")
    if weights is None:
        return np.full(len(values), 1.0 / len(values))
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(values),) or (w < 0).any() or w.sum() <= 0:
        raise SpecError(f"{what} weights must be {len(values)} non-negative numbers with a positive sum")
    return w / w.sum()


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscreteLeverage:
    """Leverage drawn from ``values`` (each >= 1) with ``weights`` (default: equal)."""

    values: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0, 20.0)
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        _weights(self.values, self.weights, "leverage")
        if any(float(v) < 1.0 for v in self.values):
            raise SpecError(f"leverage values must be >= 1, got {self.values}")

    def draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        """``size`` draws."""
        p = _weights(self.values, self.weights, "leverage")
        return np.asarray(rng.choice(np.asarray(self.values, dtype=float), size=size, p=p), dtype=float)


@dataclass(frozen=True, slots=True, kw_only=True)
class LognormalLeverage:
    """Leverage ``median * exp(sigma Z)``, floored at 1 (the venue's max leverage caps it later)."""

    median: float = 5.0
    sigma: float = 0.7

    def __post_init__(self) -> None:
        if _num("median", self.median) < 1.0 or _num("sigma", self.sigma) < 0.0:
            raise SpecError(f"leverage median must be >= 1 and sigma >= 0, got {self.median}, {self.sigma}")

    def draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        """``size`` draws."""
        return np.maximum(1.0, self.median * np.exp(self.sigma * rng.standard_normal(size)))


@dataclass(frozen=True, slots=True, kw_only=True)
class LognormalNotional:
    """Notional (quote currency) ``median * exp(sigma Z)`` clipped to ``[minimum, maximum]``."""

    median: float = 10_000.0
    sigma: float = 1.5
    minimum: float = 10.0
    maximum: float = math.inf

    def __post_init__(self) -> None:
        if _num("median", self.median) <= 0 or _num("sigma", self.sigma) < 0:
            raise SpecError(f"notional median must be > 0 and sigma >= 0, got {self.median}, {self.sigma}")
        if not 0 < float(self.minimum) <= float(self.maximum):
            raise SpecError(f"notional bounds must satisfy 0 < minimum <= maximum, got {self.minimum}, {self.maximum}")

    def draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        """``size`` draws."""
        x = self.median * np.exp(self.sigma * rng.standard_normal(size))
        return np.clip(x, self.minimum, self.maximum)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscreteNotional:
    """Notional (quote currency) drawn from ``values`` (e.g. one per tier) with ``weights``."""

    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        _weights(self.values, self.weights, "notional")
        if any(float(v) <= 0 for v in self.values):
            raise SpecError(f"notional values must be > 0, got {self.values}")

    def draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        """``size`` draws."""
        p = _weights(self.values, self.weights, "notional")
        return np.asarray(rng.choice(np.asarray(self.values, dtype=float), size=size, p=p), dtype=float)


class Entry(StrEnum):
    """How entry bars are chosen: ``uniform`` at random over the window, or ``every_bar`` (spread
    evenly, ``count / (n_bars - 1)`` positions a bar)."""

    UNIFORM = "uniform"
    EVERY_BAR = "every_bar"


@dataclass(frozen=True, slots=True, kw_only=True)
class PopulationSpec:
    """A synthetic population of positions.

    Attributes
    ----------
    count : int
        Number of positions.
    leverage : DiscreteLeverage or LognormalLeverage
        Desired leverage; each parameter set caps it at its max leverage in force at entry.
    long_fraction : float
        Probability that a position is long (0.5: balanced).
    notional : LognormalNotional or DiscreteNotional
        Entry notional in ``quote_currency`` (decides the tier).
    entry : Entry
        Entry bars: ``uniform`` or ``every_bar``; entries are at bars ``0 .. n_bars - 2``.
    holding_bars : int, (int, int) or None
        Bars a position stays open unless liquidated: fixed, uniform between two bounds
        (inclusive), or None (until the last bar). Cut at the last bar.
    seed : int
        Seed; each attribute has its own stream (``SeedSequence(seed).spawn``), so changing e.g. the
        leverage law leaves entry bars and sides unchanged.
    quote_currency : str
        Label of the notional unit.
    """

    count: int = 10_000
    leverage: DiscreteLeverage | LognormalLeverage = field(default_factory=DiscreteLeverage)
    long_fraction: float = 0.5
    notional: LognormalNotional | DiscreteNotional = field(default_factory=LognormalNotional)
    entry: Entry = Entry.UNIFORM
    holding_bars: int | tuple[int, int] | None = 30
    seed: int = 0
    quote_currency: str = "USD"

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise SpecError(f"count must be an integer >= 1, got {self.count!r}")
        if not 0.0 <= _num("long_fraction", self.long_fraction) <= 1.0:
            raise SpecError(f"long_fraction must be in [0, 1], got {self.long_fraction}")
        object.__setattr__(self, "entry", parse_choice(Entry, "entry", self.entry))
        hb = self.holding_bars
        if isinstance(hb, tuple):
            if len(hb) != 2 or not all(isinstance(v, int) for v in hb) or not 1 <= hb[0] <= hb[1]:
                raise SpecError(f"holding_bars must be (lo, hi) with 1 <= lo <= hi, got {hb!r}")
        elif hb is not None and (isinstance(hb, bool) or not isinstance(hb, int) or hb < 1):
            raise SpecError(f"holding_bars must be an integer >= 1, a (lo, hi) pair or None, got {hb!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        def dist(d: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"kind": type(d).__name__}
            for k in d.__slots__:
                v = getattr(d, k)
                out[k] = list(v) if isinstance(v, tuple) else _jf(v) if isinstance(v, float) else v
            return out
        return {
            "count": self.count, "leverage": dist(self.leverage), "long_fraction": self.long_fraction,
            "notional": dist(self.notional), "entry": self.entry.value,
            "holding_bars": list(self.holding_bars) if isinstance(self.holding_bars, tuple) else self.holding_bars,
            "seed": self.seed, "quote_currency": self.quote_currency,
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Population:
    """Positions drawn from a :class:`PopulationSpec` on a bar index (arrays of shape (count,)).

    ``entry_bar``: bar whose close opens the position; ``exit_bar``: last bar it is monitored
    (inclusive); ``side``: +1 long, -1 short; ``leverage``: desired (before the venue's cap);
    ``notional``: entry notional, quote currency.
    """

    spec: PopulationSpec
    index: pd.DatetimeIndex
    entry_bar: IntArray
    exit_bar: IntArray
    side: IntArray
    leverage: FloatArray
    notional: FloatArray

    def __post_init__(self) -> None:
        T = len(self.index)
        arrays = {k: np.asarray(getattr(self, k)) for k in ("entry_bar", "exit_bar", "side", "leverage", "notional")}
        n = arrays["entry_bar"].shape
        if len(n) != 1 or any(a.shape != n for a in arrays.values()):
            raise SpecError("population arrays must be one-dimensional and of the same length")
        e, x = arrays["entry_bar"], arrays["exit_bar"]
        if ((e < 0) | (e > T - 2) | (x <= e) | (x > T - 1)).any():
            raise SpecError(f"entry bars must be in [0, {T - 2}] and exit bars in (entry, {T - 1}]")
        if not np.isin(arrays["side"], (-1, 1)).all():
            raise SpecError("side must be +1 (long) or -1 (short)")
        if not (arrays["leverage"] >= 1).all() or not (arrays["notional"] > 0).all():
            raise SpecError("leverage must be >= 1 and notional > 0")

    @property
    def size(self) -> int:
        """Number of positions."""
        return int(self.entry_bar.size)


def generate_population(spec: PopulationSpec, index: pd.DatetimeIndex | pd.Index) -> Population:
    """Draw the positions of ``spec`` on the bars of ``index`` (deterministic for ``spec.seed``).

    Parameters
    ----------
    spec : PopulationSpec
    index : pandas.DatetimeIndex, shape (n_bars,)
        Bar times of the price frame to simulate on (``prices.index``), ``n_bars >= 2``.
    """
    idx = pd.DatetimeIndex(index)
    T = len(idx)
    if T < 2:
        raise ValueError(f"the price index needs at least 2 bars, got {T}")
    r_lev, r_side, r_not, r_entry, r_hold = (np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(5))
    n = spec.count
    leverage = spec.leverage.draw(r_lev, n)
    side = np.where(r_side.random(n) < spec.long_fraction, 1, -1).astype(np.int64)
    notional = spec.notional.draw(r_not, n)
    if spec.entry is Entry.UNIFORM:
        entry = r_entry.integers(0, T - 1, size=n).astype(np.int64)
    else:
        entry = (np.arange(n, dtype=np.int64) * (T - 1)) // n
    hb = spec.holding_bars
    if hb is None:
        exit_ = np.full(n, T - 1, dtype=np.int64)
    else:
        hold = np.full(n, hb, dtype=np.int64) if isinstance(hb, int) else r_hold.integers(hb[0], hb[1] + 1, size=n)
        exit_ = np.minimum(entry + hold, T - 1).astype(np.int64)
    return Population(spec=spec, index=idx, entry_bar=entry, exit_bar=exit_, side=side,
                      leverage=leverage, notional=notional)


# ---------------------------------------------------------------------------------------------
# simulation
# ---------------------------------------------------------------------------------------------


class CloseOut(StrEnum):
    """Close-out price convention (see the module docstring); ``worst`` is the default."""

    WORST = "worst"
    CLOSE = "close"
    TRIGGER = "trigger"


@dataclass(frozen=True, slots=True, kw_only=True)
class TierOutcome:
    """Outcome per tier (tier at entry for ``positions``; tier at the trigger for liquidations)."""

    tier: int
    positions: int
    liquidations: int
    liquidated_notional: float
    penalties: float
    bad_debt: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"tier": self.tier, "positions": self.positions, "liquidations": self.liquidations,
                "liquidated_notional": _jf(self.liquidated_notional), "penalties": _jf(self.penalties),
                "bad_debt": _jf(self.bad_debt)}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LiquidationResult:
    """Outcome of one parameter set on one population.

    Attributes
    ----------
    parameter_set : str
        The schedule's name.
    positions, rejected, outside_schedule : int
        Positions opened; not opened because the initial margin did not exceed maintenance; not
        opened because no schedule was in force at entry.
    liquidations : int
        Positions liquidated.
    liquidated_notional : float
        Sum of close-out notionals ``Q Pc`` (quote currency).
    penalties, bad_debt : float
        Sums paid to and by the insurance fund (quote currency).
    tiers : tuple of TierOutcome
        Breakdown by tier index.
    insurance_fund : pandas.Series
        Balance after each bar (quote currency), indexed like the prices.
    insurance_fund_start : float
        Balance before the first bar.
    close_out : CloseOut
    horizon_bars : int
    positions_detail : pandas.DataFrame
        One row per position: ``entry_ts``, ``side``, ``leverage`` (after the cap), ``notional``,
        ``tier`` at entry (-1 outside the schedule), ``status`` (``open``, ``rejected``,
        ``outside_schedule``), ``liquidated``, ``liquidation_ts`` (trigger bar), ``close_out_price``,
        ``penalty``, ``bad_debt`` (NaN when not liquidated).
    """

    parameter_set: str
    positions: int
    rejected: int
    outside_schedule: int
    liquidations: int
    liquidated_notional: float
    penalties: float
    bad_debt: float
    tiers: tuple[TierOutcome, ...]
    insurance_fund: pd.Series
    insurance_fund_start: float
    close_out: CloseOut
    horizon_bars: int
    positions_detail: pd.DataFrame

    @property
    def bad_debt_by_tier(self) -> tuple[float, ...]:
        """Bad debt per tier index (quote currency)."""
        return tuple(t.bad_debt for t in self.tiers)

    @property
    def insurance_fund_end(self) -> float:
        """Balance after the last bar."""
        return float(self.insurance_fund.iloc[-1])

    @property
    def insurance_fund_min(self) -> float:
        """Lowest balance over the run (including the start)."""
        return float(min(self.insurance_fund_start, float(self.insurance_fund.min())))

    def to_dict(self, *, path: bool = True) -> dict[str, Any]:
        """JSON-safe dictionary; ``path=True`` adds the insurance-fund balance per bar."""
        out: dict[str, Any] = {
            "parameter_set": self.parameter_set, "positions": self.positions, "rejected": self.rejected,
            "outside_schedule": self.outside_schedule, "liquidations": self.liquidations,
            "liquidated_notional": _jf(self.liquidated_notional), "penalties": _jf(self.penalties),
            "bad_debt": _jf(self.bad_debt), "tiers": [t.to_dict() for t in self.tiers],
            "insurance_fund_start": _jf(self.insurance_fund_start),
            "insurance_fund_end": _jf(self.insurance_fund_end),
            "insurance_fund_min": _jf(self.insurance_fund_min),
            "close_out": self.close_out.value, "horizon_bars": self.horizon_bars,
        }
        if path:
            out["insurance_fund"] = [
                {"ts": iso_z(ts), "balance": _jf(v)}
                for ts, v in zip(self.insurance_fund.index, self.insurance_fund.to_numpy(), strict=True)
            ]
        return out


def _check_prices(prices: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    if not isinstance(prices, pd.DataFrame):
        raise TypeError(f"prices must be a pandas DataFrame, got {type(prices).__name__}")
    missing = [c for c in ("open", "high", "low", "close") if c not in prices.columns]
    if missing:
        raise ValueError(f"prices is missing column(s) {', '.join(missing)}")
    idx = prices.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None or str(idx.tz) != "UTC":
        raise ValueError("prices must be indexed by a UTC DatetimeIndex")
    if not idx.is_monotonic_increasing or idx.has_duplicates:
        raise ValueError("prices index must be strictly increasing")
    cols = [prices[c].to_numpy(dtype=float) for c in ("open", "high", "low", "close")]
    for name, a in zip(("open", "high", "low", "close"), cols, strict=True):
        if not (np.isfinite(a) & (a > 0)).all():
            raise ValueError(f"prices column {name} must be finite and > 0")
    o, h, lo, c = cols
    return o, h, lo, c


def _tier_index(floors: FloatArray, notional: FloatArray) -> IntArray:
    return np.asarray(np.searchsorted(floors, notional, side="right") - 1, dtype=np.int64).clip(0)


def _forward_extreme(a: FloatArray, width: int, worst: Callable[..., FloatArray], pad: float) -> FloatArray:
    """``worst(a[t : t + width])`` for each t (window cut at the end)."""
    padded = np.concatenate([a, np.full(width - 1, pad)])
    return np.asarray(worst(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1), dtype=float)


def simulate_liquidations(
    prices: pd.DataFrame,
    schedule: MarginSchedule,
    population: Population,
    *,
    close_out: CloseOut | str = CloseOut.WORST,
    horizon_bars: int = 1,
    close_out_cost: CostSpec = None,
    insurance_fund_start: float = 0.0,
    max_leverage: float | None = None,
) -> LiquidationResult:
    """Run a population of positions through a margin schedule on a price path.

    Parameters
    ----------
    prices : pandas.DataFrame, shape (n_bars, >= 4)
        ``open``, ``high``, ``low``, ``close`` (quote currency), UTC ``DatetimeIndex`` equal to
        ``population.index``.
    schedule : MarginSchedule
        The parameter set (may change over time).
    population : Population
        From :func:`generate_population` on ``prices.index``.
    close_out : {'worst', 'close', 'trigger'}, default 'worst'
        Close-out price convention (module docstring).
    horizon_bars : int, default 1
        ``H >= 0``: the margin period of risk in bars (ignored by ``trigger``).
    close_out_cost : float, callable or None
        Close-out cost as a fraction of the close-out notional: None uses each tier's
        ``close_out_cost``; a float applies to all; a callable maps close-out notionals (quote,
        ndarray) to fractions (ndarray).
    insurance_fund_start : float, default 0
        Insurance-fund balance before the first bar (quote currency).
    max_leverage : float, optional
        A cap on leverage on top of the tiers' IMF.

    Returns
    -------
    LiquidationResult
    """
    o, hi, lo, c = _check_prices(prices)
    if not population.index.equals(prices.index):
        raise ValueError("population was generated on a different index than prices")
    mode = CloseOut(close_out)
    if isinstance(horizon_bars, bool) or not isinstance(horizon_bars, int) or horizon_bars < 0:
        raise ValueError(f"horizon_bars must be an integer >= 0, got {horizon_bars!r}")
    H = int(horizon_bars)
    if max_leverage is not None and _num("max_leverage", max_leverage) < 1.0:
        raise ValueError(f"max_leverage must be >= 1, got {max_leverage}")
    fund0 = _num("insurance_fund_start", insurance_fund_start)
    if close_out_cost is not None and not callable(close_out_cost):
        cc = _num("close_out_cost", close_out_cost)
        if not 0.0 <= cc < 1.0:
            raise ValueError(f"close_out_cost must be in [0, 1), got {close_out_cost}")

    T = len(prices)
    n = population.size
    ver_bar = schedule.version_of_bars(pd.DatetimeIndex(prices.index))
    varr = [v.arrays() for v in schedule.versions]
    n_tiers = max(len(v.tiers) for v in schedule.versions)

    N = population.notional
    s = population.side
    is_long = s > 0
    entry = population.entry_bar
    exit_ = population.exit_bar
    P0 = c[entry]
    Q = N / P0

    # entry: leverage cap, equity, acceptance (version in force at the entry bar)
    v_entry = ver_bar[entry]
    outside = v_entry < 0
    lev = population.leverage.astype(float).copy()
    tier_entry = np.full(n, -1, dtype=np.int64)
    mm_entry = np.zeros(n)
    for v in np.unique(v_entry[~outside]):
        sel = np.flatnonzero(v_entry == v)
        a = varr[int(v)]
        k = _tier_index(a["floor"], N[sel])
        cap = np.where(np.isnan(a["imf"][k]), np.inf, 1.0 / a["imf"][k])
        lev[sel] = np.minimum(lev[sel], cap)
        tier_entry[sel] = k
        mm_entry[sel] = N[sel] * a["mmf"][k] - a["d"][k]
    if max_leverage is not None:
        lev = np.minimum(lev, float(max_leverage))
    E0 = N / lev
    rejected = ~outside & (E0 <= mm_entry)
    opened = ~outside & ~rejected

    # monitoring: a position is liquidated at the first bar after its entry, up to its exit, whose low (long)
    # or high (short) crosses its trigger under the version in force. Within a run of bars of one version
    # the triggers are fixed, so the first crossing of every open position is found at once (a bars x
    # positions matrix of the positions open in the run, in chunks of bounded size).
    liq_bar = np.full(n, -1, dtype=np.int64)
    liq_trig = np.full(n, np.nan)
    liq_ver = np.full(n, -1, dtype=np.int64)
    first = int(entry[opened].min()) + 1 if opened.any() else T
    if first < T:
        cuts = np.flatnonzero(np.diff(ver_bar[first:])) + first + 1
        starts = np.concatenate([[first], cuts]).astype(np.int64)
        stops = np.concatenate([cuts, [T]]).astype(np.int64)
        open_idx = np.flatnonzero(opened)
        o_entry, o_exit = entry[open_idx], exit_[open_idx]
        for t_a, t_b in zip(starts.tolist(), stops.tolist(), strict=True):
            v = int(ver_bar[t_a])
            live = (o_entry < t_b - 1) & (o_exit >= t_a)  # open at some bar of the run
            if not live.any():
                continue
            idx = open_idx[live]
            a = varr[v]
            k = _tier_index(a["floor"], N[idx])
            m, d = a["mmf"][k], a["d"][k]
            q, p0, e0, lg = Q[idx], P0[idx], E0[idx], is_long[idx]
            trig = np.where(lg, (q * p0 - e0 - d) / (q * (1.0 - m)), (e0 + q * p0 + d) / (q * (1.0 + m)))
            step = max(1, 4_000_000 // idx.size)  # bars per chunk: bounded memory
            pending = np.ones(idx.size, dtype=bool)
            for c_a in range(t_a, t_b, step):
                c_b = min(t_b, c_a + step)
                bars = np.arange(c_a, c_b)[:, None]
                cross = np.where(lg, lo[c_a:c_b, None] < trig, hi[c_a:c_b, None] > trig)
                hit_m = cross & pending & (entry[idx] < bars) & (exit_[idx] >= bars)
                hit = hit_m.any(axis=0)
                if hit.any():
                    at = c_a + hit_m.argmax(axis=0)[hit]
                    who = idx[hit]
                    liq_bar[who] = at
                    liq_trig[who] = trig[hit]
                    liq_ver[who] = v
                    pending &= ~hit
            gone = idx[~pending]
            if gone.size:
                keep = ~np.isin(open_idx, gone)
                open_idx, o_entry, o_exit = open_idx[keep], o_entry[keep], o_exit[keep]

    # close-out
    liq = np.flatnonzero(liq_bar >= 0)
    tb = liq_bar[liq]
    end = np.minimum(tb + H, T - 1)
    lg = is_long[liq]
    if mode is CloseOut.WORST:
        fmin = _forward_extreme(lo, H + 1, np.min, np.inf)
        fmax = _forward_extreme(hi, H + 1, np.max, -np.inf)
        pc = np.where(lg, fmin[tb], fmax[tb])
        book = end
    elif mode is CloseOut.CLOSE:
        pc = c[end]
        book = end
    else:
        pc = np.where(lg, np.minimum(o[tb], liq_trig[liq]), np.maximum(o[tb], liq_trig[liq]))
        book = tb
    qc = Q[liq]
    nc = qc * pc
    tier_liq = np.zeros(liq.size, dtype=np.int64)
    pen_frac = np.zeros(liq.size)
    cost_frac = np.zeros(liq.size)
    for v in np.unique(liq_ver[liq]):
        sel = np.flatnonzero(liq_ver[liq] == v)
        a = varr[int(v)]
        k = _tier_index(a["floor"], N[liq][sel])
        tier_liq[sel] = k
        pen_frac[sel] = a["penalty"][k]
        cost_frac[sel] = a["cost"][k]
    if callable(close_out_cost):
        cost_frac = np.broadcast_to(np.asarray(close_out_cost(nc), dtype=np.float64), nc.shape).copy()
        if not (np.isfinite(cost_frac) & (cost_frac >= 0)).all():
            raise ValueError("close_out_cost function must return finite fractions >= 0")
    elif close_out_cost is not None:
        cost_frac = np.full(liq.size, float(close_out_cost))
    remaining = E0[liq] + s[liq] * qc * (pc - P0[liq]) - cost_frac * nc
    penalty = np.clip(remaining, 0.0, pen_frac * nc)
    bad = np.maximum(0.0, -remaining)

    flows = np.bincount(book, weights=penalty - bad, minlength=T) if liq.size else np.zeros(T)
    fund = pd.Series(fund0 + np.cumsum(flows), index=prices.index, name="insurance_fund")

    tiers = []
    for tier_no in range(n_tiers):
        on = tier_liq == tier_no
        tiers.append(TierOutcome(
            tier=tier_no, positions=int(np.count_nonzero(opened & (tier_entry == tier_no))),
            liquidations=int(np.count_nonzero(on)), liquidated_notional=float(nc[on].sum()),
            penalties=float(penalty[on].sum()), bad_debt=float(bad[on].sum()),
        ))

    status = np.where(outside, "outside_schedule", np.where(rejected, "rejected", "open"))
    detail = pd.DataFrame({
        "entry_ts": prices.index[entry], "side": np.where(is_long, "long", "short"), "leverage": lev,
        "notional": N, "tier": tier_entry, "status": status, "liquidated": liq_bar >= 0,
    })
    detail["liquidation_ts"] = pd.Series(prices.index[np.clip(liq_bar, 0, None)]).where(liq_bar >= 0).to_numpy()
    for name, vals in (("close_out_price", pc), ("penalty", penalty), ("bad_debt", bad)):
        col = np.full(n, np.nan)
        col[liq] = vals
        detail[name] = col

    return LiquidationResult(
        parameter_set=schedule.name, positions=int(opened.sum()), rejected=int(rejected.sum()),
        outside_schedule=int(outside.sum()), liquidations=int(liq.size),
        liquidated_notional=float(nc.sum()), penalties=float(penalty.sum()), bad_debt=float(bad.sum()),
        tiers=tuple(tiers), insurance_fund=fund, insurance_fund_start=fund0, close_out=mode,
        horizon_bars=H, positions_detail=detail,
    )


def compare_parameter_sets(
    prices: pd.DataFrame,
    schedules: Mapping[str, MarginSchedule] | Sequence[MarginSchedule],
    spec: PopulationSpec,
    **kwargs: Any,
) -> pd.DataFrame:
    """Run several parameter sets on the **same** population (one draw from ``spec``).

    Parameters
    ----------
    prices : pandas.DataFrame
        As in :func:`simulate_liquidations`.
    schedules : sequence of MarginSchedule, or mapping label -> MarginSchedule
        The parameter sets (labels must be unique).
    spec : PopulationSpec
        Drawn once with its seed on ``prices.index``.
    **kwargs
        Passed to :func:`simulate_liquidations` (``close_out``, ``horizon_bars``, ...).

    Returns
    -------
    pandas.DataFrame
        Tidy: one row per (parameter set, tier) and one total row per parameter set with
        ``tier`` = <NA>. Columns ``parameter_set, tier, positions, rejected, liquidations,
        liquidated_notional, penalties, bad_debt, insurance_fund_end, insurance_fund_min``
        (``rejected`` and the fund columns only on total rows).
    """
    items = list(schedules.items()) if isinstance(schedules, Mapping) else [(sc.name, sc) for sc in schedules]
    labels = [k for k, _ in items]
    if len(set(labels)) != len(labels):
        raise ValueError(f"parameter set labels must be unique, got {labels}")
    population = generate_population(spec, pd.DatetimeIndex(prices.index))
    rows: list[dict[str, Any]] = []
    for label, sc in items:
        r = simulate_liquidations(prices, sc, population, **kwargs)
        rows.append({
            "parameter_set": label, "tier": pd.NA, "positions": r.positions, "rejected": r.rejected,
            "liquidations": r.liquidations, "liquidated_notional": r.liquidated_notional,
            "penalties": r.penalties, "bad_debt": r.bad_debt,
            "insurance_fund_end": r.insurance_fund_end, "insurance_fund_min": r.insurance_fund_min,
        })
        for t in r.tiers:
            rows.append({
                "parameter_set": label, "tier": t.tier, "positions": t.positions, "rejected": pd.NA,
                "liquidations": t.liquidations, "liquidated_notional": t.liquidated_notional,
                "penalties": t.penalties, "bad_debt": t.bad_debt,
                "insurance_fund_end": np.nan, "insurance_fund_min": np.nan,
            })
    out = pd.DataFrame(rows)
    out["tier"] = out["tier"].astype("Int64")
    out["rejected"] = out["rejected"].astype("Int64")
    return out


# ---------------------------------------------------------------------------------------------
# stress windows and shocks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StressWindow:
    """A stress period.

    Attributes
    ----------
    name : str
    start : pandas.Timestamp
        The peak (drawdown episodes) or the user's start.
    trough : pandas.Timestamp or None
        Lowest close in the window.
    end : pandas.Timestamp
        The first close back at or above the peak (recovered), else the last bar; or the user's end.
    depth : float
        Peak-to-trough fall, ``1 - trough / peak`` (fraction); for a user window the largest
        drawdown inside it.
    recovered : bool or None
        Whether the price regained the peak (None for user windows).
    source : str
        ``'drawdown'`` or ``'user'``.
    """

    name: str
    start: pd.Timestamp
    trough: pd.Timestamp | None
    end: pd.Timestamp
    depth: float
    recovered: bool | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (times ISO-8601)."""
        return {"name": self.name, "start": _iso(self.start), "trough": _iso(self.trough), "end": _iso(self.end),
                "depth": _jf(self.depth), "recovered": self.recovered, "source": self.source}


def _max_drawdown(x: FloatArray) -> tuple[float, int]:
    """Largest ``1 - x[j] / max(x[:j+1])`` and its trough position (0, 0 for an empty or rising series)."""
    if x.size == 0:
        return 0.0, 0
    dd = 1.0 - x / np.maximum.accumulate(x)
    j = int(np.argmax(dd))
    return float(dd[j]), j


def drawdown_episodes(
    close: pd.Series,
    n: int = 5,
    min_days: float = 0.0,
    windows: Iterable[tuple[str, Any, Any]] = (),
) -> tuple[StressWindow, ...]:
    """The ``n`` deepest drawdown episodes of ``close``, then the user's windows.

    An episode runs from a running peak through the bars below it to the first close at or above
    the peak again (or the last bar). Episodes are disjoint (consecutive ones share at most the
    recovery bar of one as the peak of the next). Episodes whose peak-to-trough span is shorter
    than ``min_days`` days are dropped before taking the ``n`` deepest.

    Parameters
    ----------
    close : pandas.Series, shape (n_bars,)
        Close prices (quote currency), UTC ``DatetimeIndex``, increasing.
    n : int, default 5
        Number of episodes to return (fewer if the series has fewer).
    min_days : float, default 0
        Minimum peak-to-trough duration in days.
    windows : iterable of (name, start, end)
        User date ranges (inclusive), passed through with their depth measured inside them.

    Returns
    -------
    tuple of StressWindow
        Episodes by decreasing depth (named ``drawdown 1``, ...), then the user windows in order.
    """
    if not isinstance(close, pd.Series) or not isinstance(close.index, pd.DatetimeIndex):
        raise TypeError("close must be a pandas Series with a DatetimeIndex")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    if _num("min_days", min_days) < 0:
        raise ValueError(f"min_days must be >= 0, got {min_days}")
    x = close.to_numpy(dtype=float)
    if not (np.isfinite(x) & (x > 0)).all():
        raise ValueError("close must be finite and > 0")
    idx = close.index if close.index.tz is not None else close.index.tz_localize("UTC")
    T = x.size
    episodes = []
    peak_val, peak_pos = -math.inf, -1
    i = 0
    while i < T:
        if x[i] >= peak_val:
            peak_val, peak_pos = x[i], i
            i += 1
            continue
        j = i
        while j < T and x[j] < peak_val:
            j += 1
        run = x[i:j]
        tr = i + int(np.argmin(run))
        recovered = j < T
        endp = j if recovered else T - 1
        span_days = (idx[tr] - idx[peak_pos]).total_seconds() / 86_400.0
        if span_days >= min_days:
            episodes.append((1.0 - x[tr] / peak_val, peak_pos, tr, endp, recovered))
        i = j
    episodes.sort(key=lambda e: (-e[0], e[1]))
    out = [
        StressWindow(name=f"drawdown {r + 1}", start=idx[p], trough=idx[tr], end=idx[e], depth=float(dep),
                     recovered=bool(rec), source="drawdown")
        for r, (dep, p, tr, e, rec) in enumerate(episodes[:n])
    ]
    for w in windows:
        if len(w) != 3:
            raise ValueError(f"a window must be (name, start, end), got {w!r}")
        name, start, end = w
        s_, e_ = _utc(start), _utc(end)
        if e_ < s_:
            raise ValueError(f"window {name!r} ends before it starts")
        mask = np.asarray((idx >= s_) & (idx <= e_))
        seg = x[mask]
        depth, j = _max_drawdown(seg)
        trough = idx[np.flatnonzero(mask)[j]] if seg.size and depth > 0 else None
        out.append(StressWindow(name=str(name), start=s_, trough=trough, end=e_, depth=depth,
                                recovered=None, source="user"))
    return tuple(out)


def shock_bad_debt(
    tiers: Iterable[Any] | MarginSchedule,
    shocks: Sequence[float] = (-0.3, -0.5),
    *,
    notionals: Sequence[float] | None = None,
    close_out_cost: CostSpec = None,
) -> pd.DataFrame:
    """Bad debt per tier from instantaneous price jumps (formula in the module docstring).

    Parameters
    ----------
    tiers : iterable of Tier (or tier-like objects), or MarginSchedule (its latest version)
    shocks : sequence of float, default (-0.3, -0.5)
        Jumps as fractions of price, ``> -1``; negative hurts longs, positive hurts shorts.
    notionals : sequence of float, optional
        Representative notional per tier (quote currency) for the amounts and the deduction
        ``d / N``; default the tier's cap, or its floor for an open-ended tier (1 if that is 0).
    close_out_cost : float, callable or None
        Fraction of the post-jump notional; None uses each tier's ``close_out_cost``; a callable maps
        post-jump notionals (ndarray) to fractions.

    Returns
    -------
    pandas.DataFrame
        One row per (tier, shock, start) with ``start`` in ``max_leverage`` (``e = imf``; skipped for
        a tier without IMF) and ``maintenance`` (``e = mmf - d / N``). Columns ``tier, shock, side, start,
        equity_fraction, close_out_cost, loss_fraction, bad_debt_fraction, penalty_fraction, notional,
        bad_debt, penalty_paid`` (fractions per unit of pre-jump notional; amounts in quote currency).
    """
    ts = tiers.latest if isinstance(tiers, MarginSchedule) else _coerce_tiers(tiers)
    xs = [_num("shock", x) for x in shocks]
    if any(x <= -1.0 for x in xs):
        raise ValueError(f"shocks must be > -1 (a price cannot fall 100 %), got {list(shocks)}")
    if notionals is None:
        nots = [t.notional_cap if t.notional_cap is not None else (t.notional_floor or 1.0) for t in ts]
    else:
        nots = [float(v) for v in notionals]
        if len(nots) != len(ts) or any(v <= 0 for v in nots):
            raise ValueError(f"notionals must be {len(ts)} positive numbers, one per tier")
    rows = []
    for k, (t, nk) in enumerate(zip(ts, nots, strict=True)):
        for x in xs:
            post = nk * (1.0 + x)
            if callable(close_out_cost):
                cf = float(np.asarray(close_out_cost(np.array([post]))).ravel()[0])
            elif close_out_cost is not None:
                cf = _num("close_out_cost", close_out_cost)
            else:
                cf = t.close_out_cost
            loss = abs(x) + cf * (1.0 + x)
            starts = [("maintenance", t.mmf - t.maintenance_deduction / nk)]
            if t.imf is not None:
                starts.insert(0, ("max_leverage", t.imf))
            for start, e in starts:
                bd = max(0.0, loss - e)
                pen = min(max(e - loss, 0.0), t.penalty * (1.0 + x))
                rows.append({
                    "tier": k, "shock": x, "side": "long" if x < 0 else "short", "start": start,
                    "equity_fraction": e, "close_out_cost": cf, "loss_fraction": loss,
                    "bad_debt_fraction": bd, "penalty_fraction": pen, "notional": nk,
                    "bad_debt": bd * nk, "penalty_paid": pen * nk,
                })
    return pd.DataFrame(rows)

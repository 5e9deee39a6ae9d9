"""The stored content of a backtest report, typed and versioned: what
:meth:`riskparams.backtest.BacktestReport.content` writes and the store keeps under its SHA-256, read back
as read-only values (:class:`StoredBacktest`), and the one result row type both share
(:class:`BacktestResultRow`).

A live :class:`~riskparams.backtest.BacktestReport` holds arrays, fitted laws and full proposals that the
content does not keep (the content has daily paths and summaries), so a stored report does not rebuild
one; :meth:`StoredBacktest.from_content` rebuilds the content itself, exactly: ``content -> StoredBacktest
-> content`` gives the same canonical JSON and the same id.

What is typed and what is not
-----------------------------
Typed: the header (``format``, ``profile``, ``start``, ``end``), the result rows, each asset's header
(series, period, window, horizon, model, refit schedule, notes, live tier 1, cost model, stress windows)
and each parameter set's header (name, kind, source, side, the models of the policy replay's proposals,
the claimed coverage, the average margin), and the policy replay's warm-up / steady-state split (a row's
``phases`` and the policy set's ``execution``, ``warmup`` and ``steady_state`` blocks, read as
:class:`PhaseSplit`, the type the live report holds). The rest (the policy and spec copies, coverage detail,
liquidation detail, shocks, paths, ...) stays a read-only mapping (``extra`` / ``detail``), exactly as
stored; the spec and the policy also read back typed (:attr:`StoredBacktest.backtest_spec`,
:attr:`StoredBacktest.risk_policy`, :func:`spec_from_dict`).

Versions and times
------------------
``format`` is :data:`REPORT_FORMAT`; v1 reports (before the execution lag and the warm-up / steady-state split
of issue 13) still load, as stored, and their phases read as absent (``None``); a newer version is refused in one
sentence that names it (upgrade riskparams to read it). v1 reports stored before issue 11 lack the keys in :data:`LATER_V1_KEYS` (the live
tier 1 and the claimed coverage); they read back without them, exactly. Times are ISO-8601 UTC strings kept as stored (so the hash never changes); reports
written before times were all ``Z`` have stress-window and coverage-period times with ``+00:00``, and the
``*_time`` properties read both.

Examples
--------
>>> import riskparams
>>> from riskparams.ingest.demo import example_store
>>> store = example_store()
>>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
>>> run = riskparams.backtest_policy(store, profile="perp", symbols=["ABC"], spec=spec)
>>> stored = riskparams.service.get_backtest(store, run.id).backtest  # typed reader of what the store holds
>>> row = stored.results[0]
>>> row.symbol, row.parameter_set, row.n, row.exceptions, row.traffic_light
('ABC', 'policy', 282, 0, 'green')
>>> stored.id == run.id and stored.content() == run.report.content()
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from riskparams.content import _ShapeError as _Shape
from riskparams.content import freeze as _freeze
from riskparams.content import get_field as _get
from riskparams.content import thaw as _thaw
from riskparams.domain import check_format
from riskparams.jsonio import clean_float, content_id, parse_time

if TYPE_CHECKING:  # the backtest package imports this module: its spec loads on first use
    from riskparams.backtest import BacktestSpec
    from riskparams.config import RiskPolicy

__all__ = [
    "LATER_V1_KEYS",
    "READABLE_FORMATS",
    "REPORT_FORMAT",
    "BacktestResultRow",
    "StoredBacktest",
    "StoredBacktestAsset",
    "StoredClaimedCoverage",
    "StoredParameterSet",
    "PhaseStats",
    "PhaseSplit",
    "StoredStressWindow",
    "spec_from_dict",
]

REPORT_FORMAT = "riskparams-backtest-v2"
"""Format tag inside every backtest report's content (v2, issue 13: the policy replay's ``execution``,
``warmup`` and ``steady_state`` blocks, each proposal's ``effective`` bar, the spec's ``execution_lag_days`` and
``warmup_max_days``)."""

READABLE_FORMATS: tuple[str, ...] = ("riskparams-backtest-v1", REPORT_FORMAT)
"""Formats this riskparams reads: v1 reports (no execution lag, no warm-up split) load as they were stored."""

LATER_V1_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType({"asset": ("live_tier1",), "set": ("claimed",)})
"""Keys added to the v1 content after its first release (issue 11) without a new format tag: a v1 report
stored before then does not have them, and reads back (and re-hashes) without them."""


# -------------------------------------------------------------------------------------------------
# helpers: read-only copies and checked fields
# -------------------------------------------------------------------------------------------------


_NUM = (int, float)


def _rest(d: Mapping[str, Any], known: Sequence[str]) -> Mapping[str, Any]:
    return _freeze({k: v for k, v in d.items() if k not in known})


def _mapping(d: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _freeze(dict(_get(d, key, Mapping)))  # type: ignore[no-any-return]


# -------------------------------------------------------------------------------------------------
# the policy replay's phases (v2): typed readers of what PhaseSplit / PhaseStats write
# -------------------------------------------------------------------------------------------------


def _num_or_nan(d: Mapping[str, Any], key: str) -> float:
    """A stored float (``None``, written for NaN and infinities, reads as NaN)."""
    v = _get(d, key, _NUM, optional=True)
    return math.nan if v is None else float(v)


_PHASE_KEYS = ("name", "start", "end", "bars", "years", "n", "exceptions", "expected", "kupiec_p",
               "christoffersen_p", "avg_margin", "peak_to_trough", "changes", "parameter_changes",
               "actions_per_year", "changes_without_dead_band")
_PHASE_INTS = frozenset({"bars", "n", "exceptions", "changes", "parameter_changes", "changes_without_dead_band"})
_EXECUTION_KEYS = ("lag_days", "warmup_end", "warmup_end_reason", "warmup_max_days", "dead_band", "changes",
                   "changes_without_dead_band")


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseStats:
    """One phase of the policy replay (``warmup`` or ``steady_state``): bars ``[start, end]`` of the period.

    Attributes
    ----------
    name : {'warmup', 'steady_state'}
    start, end : str or None
        First and last bar (ISO-8601 UTC); None for an empty phase.
    bars : int
        Period bars in the phase.
    years : float
        Its length, ``bars x hours per bar / 8766``.
    n, exceptions : int
        Observations of the non-overlapping offset-0 sample (every ``h``-th observation from the period's
        first) in the phase, and headline-side exceptions among them.
    expected : float
        ``n (1 - q)``.
    kupiec_p, christoffersen_p : float
        Kupiec's POF p-value and Christoffersen's independence p-value on that sample (NaN when ``n = 0``).
    avg_margin, peak_to_trough : float
        Time average and ``max / min`` of the margin in force (tier-1 MMF; lending: the room), fraction.
    changes : int
        Governance actions: versions taking effect in the phase that changed any parameter (one per
        decision date).
    parameter_changes : int
        Individual parameter values changed by those actions (perps: MMF, max leverage, penalty and brackets
        per tier; lending: LTV, LT, bonus).
    actions_per_year : float
        ``changes / years``.
    changes_without_dead_band : int
        Actions had the dead-band been 0 on the same path (same parameters in force at each decision).

    Stored reports read back as the same type (:meth:`from_dict`; a number stored as ``null``, i.e. NaN, reads
    as NaN). Light: defined here so reading a stored report loads neither numba nor scipy;
    :mod:`riskparams.backtest` re-exports it.
    """

    name: str
    start: str | None
    end: str | None
    bars: int
    years: float
    n: int
    exceptions: int
    expected: float
    kupiec_p: float
    christoffersen_p: float
    avg_margin: float
    peak_to_trough: float
    changes: int
    parameter_changes: int
    actions_per_year: float
    changes_without_dead_band: int

    def __post_init__(self) -> None:
        if self.name not in ("warmup", "steady_state"):
            raise ValueError(f"a phase is 'warmup' or 'steady_state', got {self.name!r}.")
        counts = (self.bars, self.n, self.exceptions, self.changes, self.parameter_changes,
                  self.changes_without_dead_band)
        if min(counts) < 0 or self.exceptions > self.n or self.changes_without_dead_band < self.changes:
            raise ValueError(f"phase {self.name} has inconsistent counts {counts}.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, as stored (NaN written as ``null``)."""
        return {k: (getattr(self, k) if k in _PHASE_INTS or k in ("name", "start", "end")
                    else clean_float(getattr(self, k))) for k in _PHASE_KEYS}

    @classmethod
    def from_dict(cls, d: Any, *, where: str = "a phase") -> PhaseStats:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            Not an object, a key missing or unknown, a value of the wrong type, or inconsistent counts.
        """
        if not isinstance(d, Mapping):
            raise _Shape(f"{where} is {type(d).__name__}, not an object")
        unknown = sorted(str(k) for k in set(d) - set(_PHASE_KEYS))
        if unknown:
            raise _Shape(f"unknown {where} key {unknown[0]!r}")
        kw: dict[str, Any] = {"name": _get(d, "name", str), "start": _get(d, "start", str, optional=True),
                              "end": _get(d, "end", str, optional=True)}
        for k in _PHASE_KEYS[3:]:
            kw[k] = _get(d, k, int) if k in _PHASE_INTS else _num_or_nan(d, k)
        try:
            return cls(**kw)
        except ValueError as exc:
            raise _Shape(str(exc).rstrip(".")) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseSplit:
    """The policy replay split into warm-up and steady state, with the execution lag and the dead-band's effect.

    Attributes
    ----------
    execution_lag_days : float
        The spec's lag between a decision and the bar from which it is in force.
    warmup_end : str or None
        First bar of the steady state (ISO-8601 UTC); None when the warm-up lasts the whole period.
    warmup_end_reason : str
        One sentence: why the warm-up ended there.
    warmup_max_days : float
    dead_band : float
        The policy's relative dead-band.
    changes, changes_without_dead_band : int
        Governance actions over the whole period as replayed and had the dead-band been 0 on the same path.
    warmup, steady_state : PhaseStats

    Written as the policy set's ``execution`` block (:meth:`execution_dict`) beside its ``warmup`` and
    ``steady_state`` blocks, and as a result row's ``phases`` (:meth:`to_dict`); read back as the same type.
    """

    execution_lag_days: float
    warmup_end: str | None
    warmup_end_reason: str
    warmup_max_days: float
    dead_band: float
    changes: int
    changes_without_dead_band: int
    warmup: PhaseStats
    steady_state: PhaseStats

    def execution_dict(self) -> dict[str, Any]:
        """The ``execution`` block as stored (:meth:`riskparams.backtest.PhaseSplit.to_dict`)."""
        return {"lag_days": clean_float(self.execution_lag_days), "warmup_end": self.warmup_end,
                "warmup_end_reason": self.warmup_end_reason, "warmup_max_days": clean_float(self.warmup_max_days),
                "dead_band": clean_float(self.dead_band), "changes": self.changes,
                "changes_without_dead_band": self.changes_without_dead_band}

    def to_dict(self) -> dict[str, Any]:
        """A result row's ``phases`` as stored: the ``execution`` keys with ``warmup`` and ``steady_state``."""
        return {**self.execution_dict(), "warmup": self.warmup.to_dict(), "steady_state": self.steady_state.to_dict()}

    @classmethod
    def from_dict(cls, d: Any) -> PhaseSplit:
        """Inverse of :meth:`to_dict` (a row's ``phases``).

        Raises
        ------
        ValueError
            Not an object, a key missing or unknown, or a value of the wrong type.
        """
        if not isinstance(d, Mapping):
            raise _Shape(f"phases is {type(d).__name__}, not an object")
        unknown = sorted(str(k) for k in set(d) - {*_EXECUTION_KEYS, "warmup", "steady_state"})
        if unknown:
            raise _Shape(f"unknown phases key {unknown[0]!r}")
        return cls.from_blocks(d, _get(d, "warmup", Mapping), _get(d, "steady_state", Mapping))

    @classmethod
    def from_blocks(cls, execution: Mapping[str, Any], warmup: Mapping[str, Any],
                    steady_state: Mapping[str, Any]) -> PhaseSplit:
        """From the policy set's ``execution``, ``warmup`` and ``steady_state`` blocks."""
        ws = PhaseStats.from_dict(warmup, where="warmup"), PhaseStats.from_dict(steady_state, where="steady_state")
        if (ws[0].name, ws[1].name) != ("warmup", "steady_state"):
            raise _Shape(f"the phases are named {ws[0].name!r} and {ws[1].name!r}")
        return cls(execution_lag_days=_num_or_nan(execution, "lag_days"),
                   warmup_end=_get(execution, "warmup_end", str, optional=True),
                   warmup_end_reason=_get(execution, "warmup_end_reason", str),
                   warmup_max_days=_num_or_nan(execution, "warmup_max_days"),
                   dead_band=_num_or_nan(execution, "dead_band"), changes=_get(execution, "changes", int),
                   changes_without_dead_band=_get(execution, "changes_without_dead_band", int),
                   warmup=ws[0], steady_state=ws[1])


# -------------------------------------------------------------------------------------------------
# the result row (live and stored reports)
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResultRow:
    """One (asset, parameter set) of a backtest: the headline coverage tests on the non-overlapping sample
    and the capital and liquidation figures (fractions; ``bad_debt`` in quote currency). ``None`` where a
    statistic is undefined (e.g. no Christoffersen test without two exceptions' worth of data).

    :meth:`to_dict` gives the row of a backtest payload (keys :data:`riskparams.export.BACKTEST_RESULT_KEYS`,
    in that order), the JSON boundary of exports and ``riskparams backtest --json``.
    """

    symbol: str
    parameter_set: str
    n: int
    exceptions: int
    expected: float | None
    confidence: float
    kupiec_lr: float | None
    kupiec_p: float | None
    christoffersen_lr: float | None
    christoffersen_p: float | None
    cc_lr: float | None
    cc_p: float | None
    traffic_light: str | None
    avg_margin: float | None
    peak_to_trough: float | None
    max_5d_increase: float | None
    bad_debt: float | None
    liquidations: int
    phases: PhaseSplit | Mapping[str, Any] | None = None
    """The policy replay's execution lag, warm-up end and dead-band effect with its ``warmup`` and ``steady_state``
    (v2; None for fixed sets and in v1 reports). Always a :class:`PhaseSplit` once built: a mapping as
    :meth:`to_dict` writes it (what the live report passes) is read with :meth:`PhaseSplit.from_dict`;
    :attr:`typed_phases` gives the narrowed type."""

    def __post_init__(self) -> None:
        if self.phases is not None and not isinstance(self.phases, PhaseSplit):
            if not isinstance(self.phases, Mapping):
                raise ValueError(f"phases must be a mapping or None, got {type(self.phases).__name__}.")
            try:
                object.__setattr__(self, "phases", PhaseSplit.from_dict(self.phases))
            except _Shape as exc:
                raise ValueError(f"the phases of {self.symbol} {self.parameter_set} do not have this riskparams' "
                                 f"shape ({exc}).") from None

    @property
    def typed_phases(self) -> PhaseSplit | None:
        """:attr:`phases` (a :class:`PhaseSplit` or None)."""
        assert self.phases is None or isinstance(self.phases, PhaseSplit)
        return self.phases

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary in the documented key order (``phases`` as :meth:`PhaseSplit.to_dict`)."""
        return {f.name: (v.to_dict() if isinstance(v, PhaseSplit) else _thaw(v))
                for f in fields(self) for v in (getattr(self, f.name),)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BacktestResultRow:
        """Inverse of :meth:`to_dict` (values kept as they are: the round trip is exact).

        Raises
        ------
        ValueError
            A key missing or unknown, or a value of the wrong type.
        """
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        try:
            if unknown:
                raise _Shape(f"unknown key {unknown[0]!r}")
            ints, strs = {"n", "exceptions", "liquidations"}, {"symbol", "parameter_set"}
            kw: dict[str, Any] = {}
            for k in names:
                if k == "phases":  # v2 only: absent from v1 rows
                    v = _get(d, k, Mapping, optional=True) if k in d else None
                    kw[k] = None if v is None else PhaseSplit.from_dict(v)
                elif k in ints:
                    kw[k] = _get(d, k, int)
                elif k in strs:
                    kw[k] = _get(d, k, str)
                elif k == "traffic_light":
                    kw[k] = _get(d, k, str, optional=True)
                elif k == "confidence":
                    kw[k] = _get(d, k, _NUM)
                else:
                    kw[k] = _get(d, k, _NUM, optional=True)
        except _Shape as exc:
            raise ValueError(f"a backtest result row does not have this riskparams' shape ({exc}).") from None
        return cls(**kw)


# -------------------------------------------------------------------------------------------------
# stored parts
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredStressWindow:
    """A stress window of an asset's period: a drawdown episode (``source='drawdown'``) or the user's.

    ``start``, ``trough``, ``end`` are ISO-8601 UTC strings as stored (``Z``, or ``+00:00`` in older
    reports); the ``*_time`` properties parse either."""

    name: str
    start: str
    trough: str | None
    end: str
    depth: float | None
    recovered: bool | None
    source: str

    @property
    def start_time(self) -> datetime:
        """``start`` as an aware UTC datetime."""
        return parse_time(self.start)

    @property
    def end_time(self) -> datetime:
        """``end`` as an aware UTC datetime."""
        return parse_time(self.end)

    @property
    def trough_time(self) -> datetime | None:
        """``trough`` as an aware UTC datetime (None for a user window)."""
        return None if self.trough is None else parse_time(self.trough)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, as stored."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StoredStressWindow:
        """Inverse of :meth:`to_dict`."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise _Shape(f"unknown stress-window key {unknown[0]!r}")
        return cls(name=_get(d, "name", str), start=_get(d, "start", str), trough=_get(d, "trough", str, optional=True),
                   end=_get(d, "end", str), depth=_get(d, "depth", _NUM, optional=True),
                   recovered=_get(d, "recovered", bool, optional=True), source=_get(d, "source", str))


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredClaimedCoverage:
    """The policy replay's claimed coverage against the realised close-to-close moves (see
    :class:`riskparams.backtest.ClaimedCoverage`), as stored."""

    n: int
    exceptions: int
    expected: float | None
    claimed_rate: float | None
    realised_rate: float | None
    kupiec_p: float | None
    steady_n: int
    steady_exceptions: int
    steady_expected: float | None
    steady_kupiec_p: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, as stored."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StoredClaimedCoverage:
        """Inverse of :meth:`to_dict`."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise _Shape(f"unknown claimed-coverage key {unknown[0]!r}")
        ints = {"n", "exceptions", "steady_n", "steady_exceptions"}
        return cls(**{f.name: _get(d, f.name, int) if f.name in ints else _get(d, f.name, _NUM, optional=True)
                      for f in fields(cls)})


_SET_KEYS = ("name", "kind", "source", "side", "claimed")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredParameterSet:
    """One parameter set on one asset, as stored.

    Attributes
    ----------
    name, kind, source, side : str
        ``kind`` is ``'policy'`` (the walk-forward replay) or ``'fixed'``; ``side`` the headline side.
    claimed : StoredClaimedCoverage or None
        The policy replay's claimed coverage (None for fixed sets).
    detail : Mapping
        Everything else of the set as stored (read-only): ``sides``, ``coverage``, ``es_backtest``,
        ``capital``, ``tiers``, ``liquidation``, ``shocks``, ``stress_windows``, ``exception_dates``,
        ``versions``, ``proposals`` and ``paths``.
    absent : tuple of str
        Keys of :data:`LATER_V1_KEYS` this record does not have (written before they were added).
    """

    name: str
    kind: str
    source: str
    side: str
    claimed: StoredClaimedCoverage | None
    detail: Mapping[str, Any]
    absent: tuple[str, ...] = ()

    @property
    def proposal_models(self) -> tuple[str, ...]:
        """The model of each proposal of the policy replay, in order (empty for a fixed set)."""
        return tuple(str(p["model"]) for p in self.detail.get("proposals", ()))

    @property
    def avg_margin(self) -> float | None:
        """Time-averaged margin as evaluated (tier-1 MMF; lending: the room), fraction."""
        v = self.detail.get("capital", {}).get("avg_margin")
        return None if v is None else float(v)

    @property
    def execution(self) -> Mapping[str, Any] | None:
        """The policy replay's execution lag, warm-up end (and why) and the dead-band's effect on the number of
        changes (``lag_days``, ``warmup_end``, ``warmup_end_reason``, ``warmup_max_days``, ``dead_band``,
        ``changes``, ``changes_without_dead_band``); None for fixed sets and v1 reports."""
        v = self.detail.get("execution")
        return None if v is None else v  # type: ignore[no-any-return]

    @property
    def warmup(self) -> Mapping[str, Any] | None:
        """The policy replay's warm-up block (keys of :meth:`riskparams.backtest.PhaseStats.to_dict`); None for
        fixed sets and v1 reports."""
        v = self.detail.get("warmup")
        return None if v is None else v  # type: ignore[no-any-return]

    @property
    def steady_state(self) -> Mapping[str, Any] | None:
        """The policy replay's steady-state block; None for fixed sets and v1 reports."""
        v = self.detail.get("steady_state")
        return None if v is None else v  # type: ignore[no-any-return]

    @property
    def phases(self) -> PhaseSplit | None:
        """:attr:`execution`, :attr:`warmup` and :attr:`steady_state` typed (the same values as the policy row's
        :attr:`BacktestResultRow.phases`); None for fixed sets and v1 reports.

        Raises
        ------
        ValueError
            The blocks do not have this riskparams' shape (the message names the key).
        """
        ex, wu, ss = self.execution, self.warmup, self.steady_state
        if ex is None or wu is None or ss is None:
            return None
        try:
            return PhaseSplit.from_blocks(ex, wu, ss)
        except _Shape as exc:
            raise ValueError(f"the phases of parameter set {self.name!r} do not have this riskparams' shape "
                             f"({exc}).") from None

    @property
    def margin_path(self) -> tuple[float | None, ...]:
        """Margin in force (daily), empty when the report was stored without paths."""
        return tuple(self.detail.get("paths", {}).get("margin", ()))

    @property
    def insurance_fund_path(self) -> tuple[float | None, ...]:
        """Insurance-fund balance (daily), empty when the report was stored without paths."""
        return tuple(self.detail.get("paths", {}).get("insurance_fund", ()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, as stored."""
        out = {"name": self.name, "kind": self.kind, "source": self.source, "side": self.side,
               "claimed": None if self.claimed is None else self.claimed.to_dict(), **_thaw(self.detail)}
        return {k: v for k, v in out.items() if k not in self.absent}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StoredParameterSet:
        """Inverse of :meth:`to_dict`."""
        absent = tuple(k for k in LATER_V1_KEYS["set"] if k not in d)
        claimed = None if "claimed" in absent else _get(d, "claimed", Mapping, optional=True)
        return cls(name=_get(d, "name", str), kind=_get(d, "kind", str), source=_get(d, "source", str),
                   side=_get(d, "side", str),
                   claimed=None if claimed is None else StoredClaimedCoverage.from_dict(claimed),
                   detail=_rest(d, _SET_KEYS), absent=absent)


_ASSET_KEYS = ("symbol", "freq", "source", "kind", "synthetic", "fingerprint", "start", "end", "bars", "observations",
               "horizon_bars", "window", "model", "schedule", "fast_status", "notes", "stress_windows",
               "cost_model", "live_tier1", "sets")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredBacktestAsset:
    """One asset of a stored backtest report.

    Attributes
    ----------
    symbol, freq, source, kind : str
    synthetic : bool
    fingerprint : str
        SHA-256 of the rows used.
    start, end : str
        First and last bar of the period (ISO-8601 UTC).
    bars, observations, horizon_bars, window : int
    model, schedule : str
        How the forecasts were made (model label; the fast engine's refit schedule).
    fast_status : Mapping[str, int]
    notes : tuple of str
    stress_windows : tuple of StoredStressWindow
    cost_model, live_tier1 : Mapping[str, float or None]
        See :class:`riskparams.backtest.AssetBacktest`.
    sets : tuple of StoredParameterSet
    detail : Mapping
        The rest as stored (read-only): ``population`` and ``paths`` (daily ``ts``, adverse moves).
    absent : tuple of str
        Keys of :data:`LATER_V1_KEYS` this record does not have (``live_tier1`` is then empty).
    """

    symbol: str
    freq: str
    source: str
    kind: str
    synthetic: bool
    fingerprint: str
    start: str
    end: str
    bars: int
    observations: int
    horizon_bars: int
    window: int
    model: str
    schedule: str
    fast_status: Mapping[str, int]
    notes: tuple[str, ...]
    stress_windows: tuple[StoredStressWindow, ...]
    cost_model: Mapping[str, float | None]
    live_tier1: Mapping[str, float | None]
    sets: tuple[StoredParameterSet, ...]
    detail: Mapping[str, Any]
    absent: tuple[str, ...] = ()

    @property
    def has_paths(self) -> bool:
        """The report was stored with the daily paths (the charts need them)."""
        return "paths" in self.detail

    @property
    def path_times(self) -> tuple[str, ...]:
        """Times of the daily paths (ISO-8601 UTC), empty without paths."""
        return tuple(self.detail.get("paths", {}).get("ts", ()))

    def adverse(self, side: str) -> tuple[float | None, ...]:
        """Realised adverse moves of ``side`` (``'long'`` or ``'short'``) on the daily paths."""
        return tuple(self.detail.get("paths", {}).get(f"adverse_{side}", ()))

    def set(self, name: str) -> StoredParameterSet:
        """The parameter set called ``name`` (KeyError names the asset)."""
        for s in self.sets:
            if s.name == name:
                return s
        raise KeyError(f"no parameter set {name!r} for {self.symbol}")

    @property
    def policy_set(self) -> StoredParameterSet | None:
        """The policy replay (None when only fixed sets ran)."""
        return next((s for s in self.sets if s.kind == "policy"), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, as stored."""
        head = {k: getattr(self, k) for k in _ASSET_KEYS}
        head.update(fast_status=dict(self.fast_status), notes=list(self.notes),
                    stress_windows=[w.to_dict() for w in self.stress_windows], cost_model=dict(self.cost_model),
                    live_tier1=dict(self.live_tier1), sets=[s.to_dict() for s in self.sets])
        return {k: v for k, v in {**head, **_thaw(self.detail)}.items() if k not in self.absent}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StoredBacktestAsset:
        """Inverse of :meth:`to_dict`."""
        absent = tuple(k for k in LATER_V1_KEYS["asset"] if k not in d)
        return cls(
            symbol=_get(d, "symbol", str), freq=_get(d, "freq", str), source=_get(d, "source", str),
            kind=_get(d, "kind", str), synthetic=_get(d, "synthetic", bool), fingerprint=_get(d, "fingerprint", str),
            start=_get(d, "start", str), end=_get(d, "end", str), bars=_get(d, "bars", int),
            observations=_get(d, "observations", int), horizon_bars=_get(d, "horizon_bars", int),
            window=_get(d, "window", int), model=_get(d, "model", str), schedule=_get(d, "schedule", str),
            fast_status=_mapping(d, "fast_status"), notes=tuple(str(n) for n in _get(d, "notes", list)),
            stress_windows=tuple(StoredStressWindow.from_dict(w) for w in _get(d, "stress_windows", list)),
            cost_model=_mapping(d, "cost_model"),
            live_tier1=_freeze({}) if "live_tier1" in absent else _mapping(d, "live_tier1"),
            sets=tuple(StoredParameterSet.from_dict(s) for s in _get(d, "sets", list)),
            detail=_rest(d, _ASSET_KEYS), absent=absent,
        )


# -------------------------------------------------------------------------------------------------
# the report
# -------------------------------------------------------------------------------------------------


def _row_as_stored(row: BacktestResultRow, fmt: str) -> dict[str, Any]:
    """A result row as a report of format ``fmt`` stores it (v1 rows have no ``phases``)."""
    d = row.to_dict()
    if fmt == "riskparams-backtest-v1":
        del d["phases"]
    return d


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredBacktest:
    """A backtest report as the store holds it, typed and read-only (see the module docstring).

    Attributes
    ----------
    format : str
        :data:`REPORT_FORMAT`.
    profile : str
        ``'perp'`` or ``'lending'``.
    start, end : str or None
        First and last bar of any asset's period (ISO-8601 UTC).
    spec, policy : Mapping
        The :class:`~riskparams.backtest.BacktestSpec` and the policy (with ``policy_key``) as stored; typed:
        :attr:`backtest_spec` and :attr:`risk_policy`.
    results : tuple of BacktestResultRow
    assets : tuple of StoredBacktestAsset
    skipped : tuple of (symbol, reason)
    provenance : Mapping
        ``packages`` (name -> version) and ``data`` (symbol -> fingerprint).

    Examples
    --------
    What the store holds for a backtest, read back typed (a stored record's ``.backtest`` does the same):

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.backtest_policy(store, profile="perp", symbols=["ABC"], spec=spec)
    >>> stored = riskparams.StoredBacktest.from_content(run.stored.content)
    >>> stored.id == run.id, stored.start, stored.symbols
    (True, '2020-06-01T00:00:00Z', ('ABC',))
    >>> row = stored.results[0]  # a BacktestResultRow
    >>> row.parameter_set, row.n, row.exceptions, row.traffic_light
    ('policy', 282, 0, 'green')
    >>> stored.asset("ABC").policy_set.claimed.n
    282

    Content of a newer format is refused, naming the version:

    >>> riskparams.StoredBacktest.from_content({**run.stored.content, "format": "riskparams-backtest-v3"})
    Traceback (most recent call last):
    ...
    ValueError: this backtest report has format 'riskparams-backtest-v3', newer than the 'riskparams-backtest-v2' this riskparams reads; upgrade riskparams to read it.
    """

    format: str
    profile: str
    start: str | None
    end: str | None
    spec: Mapping[str, Any]
    policy: Mapping[str, Any]
    results: tuple[BacktestResultRow, ...]
    assets: tuple[StoredBacktestAsset, ...]
    skipped: tuple[tuple[str, str], ...]
    provenance: Mapping[str, Any]

    @property
    def start_time(self) -> datetime | None:
        """``start`` as an aware UTC datetime."""
        return None if self.start is None else parse_time(self.start)

    @property
    def end_time(self) -> datetime | None:
        """``end`` as an aware UTC datetime."""
        return None if self.end is None else parse_time(self.end)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The assets backtested, in report order."""
        return tuple(a.symbol for a in self.assets)

    @property
    def backtest_spec(self) -> BacktestSpec:
        """``spec`` as the :class:`~riskparams.backtest.BacktestSpec` the report was run with (see
        :func:`spec_from_dict`): ``run.backtest.backtest_spec == run.report.spec``.

        Raises
        ------
        DataError
            The stored spec does not make a valid spec (the message names the key).
        """
        return spec_from_dict(self.spec)

    @property
    def risk_policy(self) -> RiskPolicy:
        """``policy`` as the :class:`~riskparams.config.RiskPolicy` the report was run with (read with
        :func:`riskparams.config.policy_from_dict`; its key equals the stored ``policy_key``).

        Raises
        ------
        DataError
            The stored policy is not a valid policy, or it rebuilds to another ``policy_key``.
        """
        from riskparams.config import policy_from_stored

        return policy_from_stored(_thaw(self.policy), "the stored backtest policy")

    def asset(self, symbol: str) -> StoredBacktestAsset:
        """One asset (case-insensitive).

        Raises
        ------
        KeyError
            Not in the report; the message lists the assets.
        """
        for a in self.assets:
            if a.symbol == symbol.upper():
                return a
        raise KeyError(f"no asset {symbol!r} in the backtest (assets: {', '.join(self.symbols) or 'none'})")

    def content(self) -> dict[str, Any]:
        """The content as stored (JSON-safe): ``from_content(c).content() == c``."""
        return {
            "format": self.format, "profile": self.profile, "start": self.start, "end": self.end,
            "spec": _thaw(self.spec), "policy": _thaw(self.policy), "results": [_row_as_stored(r, self.format)
                                                                                for r in self.results],
            "assets": [a.to_dict() for a in self.assets],
            "skipped": [{"symbol": s, "reason": r} for s, r in self.skipped],
            "provenance": _thaw(self.provenance),
        }

    @property
    def id(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`content` (the stored report's id)."""
        return content_id(self.content())

    @classmethod
    def from_content(cls, content: Mapping[str, Any], *, check_hash: bool = True) -> StoredBacktest:
        """Read a stored report's content (:meth:`riskparams.backtest.BacktestReport.content`).

        Parameters
        ----------
        content : Mapping
        check_hash : bool
            Check that the typed report rebuilds content with the same hash (the round trip is exact).

        Raises
        ------
        ValueError
            Another format version (the message names it), content without this riskparams' shape, or
            content that does not rebuild to the same hash.
        """
        if not (isinstance(content, Mapping) and content.get("format") in READABLE_FORMATS):
            check_format(content, REPORT_FORMAT, "backtest report")
        known = ("format", "profile", "start", "end", "spec", "policy", "results", "assets", "skipped", "provenance")
        try:
            unknown = sorted(set(content) - set(known))
            if unknown:
                raise _Shape(f"unknown key {unknown[0]!r}")
            report = cls(
                format=_get(content, "format", str), profile=_get(content, "profile", str),
                start=_get(content, "start", str, optional=True), end=_get(content, "end", str, optional=True),
                spec=_mapping(content, "spec"), policy=_mapping(content, "policy"),
                results=tuple(BacktestResultRow.from_dict(r) for r in _get(content, "results", list)),
                assets=tuple(StoredBacktestAsset.from_dict(a) for a in _get(content, "assets", list)),
                skipped=tuple((str(s["symbol"]), str(s["reason"])) for s in _get(content, "skipped", list)),
                provenance=_mapping(content, "provenance"),
            )
        except (_Shape, KeyError, TypeError) as exc:
            raise ValueError(f"the stored backtest report does not have this riskparams' shape ({exc}); it was "
                             "written by another version of riskparams.") from None
        if check_hash and content_id(report.content()) != content_id(content):
            raise ValueError("the stored backtest report does not rebuild to the same hash; it was written by another "
                             "version of riskparams.")
        return report


# -------------------------------------------------------------------------------------------------
# the stored spec, typed
# -------------------------------------------------------------------------------------------------

_DISTRIBUTIONS = ("DiscreteLeverage", "LognormalLeverage", "LognormalNotional", "DiscreteNotional")


def _distribution(d: Mapping[str, Any], key: str) -> Any:
    from riskparams import liquidation

    kind = d.get("kind")
    if kind not in _DISTRIBUTIONS:
        raise _Shape(f"population.{key}.kind is {kind!r}")
    # to_dict writes an infinite bound (the default maximum) as None: a None field takes its default
    args = {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in d.items() if k != "kind" and v is not None}
    return getattr(liquidation, kind)(**args)


def spec_from_dict(d: Mapping[str, Any]) -> BacktestSpec:
    """A :class:`~riskparams.backtest.BacktestSpec` from its :meth:`~riskparams.backtest.BacktestSpec.to_dict`
    (as a stored report keeps it): ``spec_from_dict(spec.to_dict()) == spec``.

    ``to_dict`` writes the shocks used, the profile's default included; shocks equal to the profile's default
    read back as ``None`` (the same :attr:`~riskparams.backtest.BacktestSpec.shock_list`). Keys a v1 report did
    not write (``execution_lag_days``, ``warmup_max_days``) take their defaults.

    Raises
    ------
    DataError
        An unknown key, or a value the spec refuses (the message names it).

    Examples
    --------
    >>> import riskparams
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> spec_from_dict(spec.to_dict()) == spec
    True
    """
    from riskparams.backtest.spec import BacktestSpec
    from riskparams.exceptions import DataError, SpecError
    from riskparams.liquidation import PopulationSpec

    allowed = {f.name for f in fields(BacktestSpec)}
    try:
        if not isinstance(d, Mapping):
            raise _Shape(f"the spec is {type(d).__name__}, not a mapping")
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise _Shape(f"unknown key {unknown[0]!r}")
        kw: dict[str, Any] = dict(_thaw(d))
        kw["windows"] = tuple(tuple(w) for w in kw.get("windows") or ())
        pop = kw.get("population")
        if pop is not None:
            pop = dict(pop)
            pop["leverage"] = _distribution(pop["leverage"], "leverage")
            pop["notional"] = _distribution(pop["notional"], "notional")
            if isinstance(pop.get("holding_bars"), list):
                pop["holding_bars"] = tuple(pop["holding_bars"])
            kw["population"] = PopulationSpec(**pop)
        spec = BacktestSpec(**{**kw, "shocks": None})
        if kw.get("shocks") is not None and tuple(float(x) for x in kw["shocks"]) != spec.shock_list:
            spec = BacktestSpec(**kw)
    except (_Shape, SpecError, KeyError, TypeError) as exc:
        raise DataError(f"the stored backtest spec is not a valid spec ({exc}); it was written by another version "
                        "of riskparams.") from None
    return spec

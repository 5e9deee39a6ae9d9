"""A backtest's input series and its results, from one proposal of the policy replay to the report, and
their JSON-safe serialisation (the report's hashed content). Part of :mod:`riskparams.backtest`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskparams.backtest.params import _Params
from riskparams.backtest.spec import BacktestSpec
from riskparams.backtest_content import REPORT_FORMAT, BacktestResultRow, PhaseSplit, PhaseStats  # noqa: F401 (re-exported)
from riskparams.config import RiskPolicy
from riskparams.coverage import CoverageReport, ESBacktestResult
from riskparams.domain import LendingAssetProposal, PerpAssetProposal
from riskparams.jsonio import clean_float, clean_floats, content_id
from riskparams.liquidation import LiquidationResult, PopulationSpec, StressWindow
from riskparams.returns import hours_per_bar, iso_utc

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AssetData:
    """One asset's price series (the engine's input).

    Attributes
    ----------
    symbol : str
        Upper-case symbol, matched against parameter sets.
    freq : {'1h', '4h', '1d'}
    prices : pandas.DataFrame
        OHLCV bars, UTC ``DatetimeIndex`` (bar open times), shape (n_bars, 5).
    source, kind : str
        Provenance labels.
    synthetic : bool
        Demo data.
    fingerprint : str
        SHA-256 of the rows (provenance), optional.
    """

    symbol: str
    freq: str
    prices: pd.DataFrame
    source: str = ""
    kind: str = ""
    synthetic: bool = False
    fingerprint: str = ""


_jf = clean_float  # the one float cleaning (riskparams.jsonio)


@dataclass(frozen=True, slots=True, kw_only=True)
class CadenceRecord:
    """One proposal of the policy replay.

    Attributes
    ----------
    ts : pandas.Timestamp
        The bar whose close the proposal used (data up to and including it).
    params : dict
        The parameters proposed (perp: ``frozen`` and ``tiers``; lending: LTV, LT, bonus, room).
    changed : bool
        Differs from the parameters in force before.
    model : str
        Model used that day, e.g. ``'garch-t'`` (``'ewma-normal'`` after a fallback).
    engine : str
        ``'fast'``, ``'arch'`` or ``'arch (fast fit failed)'``.
    next_vol_annualised, covered_move : float
        Forecast volatility and the covered move (fraction) of the proposal.
    in_stress : bool
    binding : tuple of str
        Anti-procyclicality tools that bound.
    guardrails : tuple of str
        ``'<parameter>[ tier k]: <bound>'`` for every line a guardrail or invariant changed.
    status : str
        ``'ok'`` or ``'unmarginable'``.
    """

    ts: pd.Timestamp
    params: dict[str, Any]
    changed: bool
    model: str
    engine: str
    next_vol_annualised: float
    covered_move: float
    in_stress: bool
    binding: tuple[str, ...]
    guardrails: tuple[str, ...]
    status: str
    effective: pd.Timestamp | None = None
    at_target: bool = False
    changed_without_dead_band: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``effective``: the bar from which the decision is in force after the execution
        lag, None when that is after the period; ``at_target``: no step limit bound, the proposal is the model's
        target within the dead-band; ``changed_without_dead_band``: with ``dead_band = 0`` and the same
        parameters in force this decision would have changed them)."""
        return {"ts": iso_utc(self.ts), "params": self.params, "changed": self.changed, "model": self.model,
                "engine": self.engine, "next_vol_annualised": _jf(self.next_vol_annualised),
                "covered_move": _jf(self.covered_move), "in_stress": self.in_stress, "binding": list(self.binding),
                "guardrails": list(self.guardrails), "status": self.status,
                "effective": None if self.effective is None else iso_utc(self.effective), "at_target": self.at_target,
                "changed_without_dead_band": self.changed_without_dead_band}


@dataclass(frozen=True, slots=True, kw_only=True)
class CapitalStats:
    """Capital cost and procyclicality of a margin path (see the module docstring).

    ``avg_margin`` is the tier-1 MMF (lending: the room ``1 - LT (1 + LB)``); ``avg_imf`` and
    ``avg_max_leverage`` tier 1 (lending: ``1 - LTV`` and ``1 / (1 - LTV)``); ``max_increase`` maps
    ``'1d'``, ``'5d'``, ``'30d'`` to the largest relative increase ``m_t / m_{t-n} - 1`` and
    ``max_increase_abs`` to the largest absolute one (fraction points); ``changes`` counts parameter
    changes. Lending adds ``avg_ltv``, ``avg_lt``, ``avg_lb``.
    """

    avg_margin: float
    min_margin: float
    max_margin: float
    peak_to_trough: float
    avg_imf: float
    avg_max_leverage: float
    max_increase: Mapping[str, float]
    max_increase_abs: Mapping[str, float]
    changes: int
    extra: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"avg_margin": _jf(self.avg_margin), "min_margin": _jf(self.min_margin),
                "max_margin": _jf(self.max_margin), "peak_to_trough": _jf(self.peak_to_trough),
                "avg_imf": _jf(self.avg_imf), "avg_max_leverage": _jf(self.avg_max_leverage),
                "max_increase": {k: _jf(v) for k, v in self.max_increase.items()},
                "max_increase_abs": {k: _jf(v) for k, v in self.max_increase_abs.items()},
                "changes": self.changes, **{k: _jf(v) for k, v in self.extra.items()}}


@dataclass(frozen=True, slots=True, kw_only=True)
class TierCoverage:
    """Exceptions of one tier's MMF (at the tier's floor notional) over the tier's own margin period of risk
    (``horizon_bars``, at least one bar), non-overlapping offset-0 sample."""

    tier: int
    notional: float
    avg_mmf: float
    n: int
    exceptions: int
    expected: float
    kupiec_p: float
    overlapping_exceptions: int
    horizon_bars: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``tier`` 1-based)."""
        return {"tier": self.tier + 1, "notional": self.notional, "avg_mmf": _jf(self.avg_mmf), "n": self.n,
                "exceptions": self.exceptions, "expected": _jf(self.expected), "kupiec_p": _jf(self.kupiec_p),
                "overlapping_exceptions": self.overlapping_exceptions, "horizon_bars": self.horizon_bars}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedCoverage:
    """The policy replay's own promise, tested: each proposal's law gives a probability ``p_t`` that the
    close-to-close move over its tier-1 horizon (either side) exceeds the room its tier-1 MMF leaves after
    close-out cost; the realised exceptions are counted on the non-overlapping sample and Kupiec's test
    is run at the mean claimed rate. ``steady_*`` keep the observations whose proposal was made outside a
    stressed regime (the regime the proposal itself reports)."""

    n: int
    exceptions: int
    expected: float
    claimed_rate: float
    kupiec_p: float
    steady_n: int
    steady_exceptions: int
    steady_expected: float
    steady_kupiec_p: float

    @property
    def realised_rate(self) -> float:
        """Exceptions per observation."""
        return self.exceptions / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (with ``realised_rate``)."""
        return {"n": self.n, "exceptions": self.exceptions, "expected": _jf(self.expected),
                "claimed_rate": _jf(self.claimed_rate), "realised_rate": _jf(self.realised_rate),
                "kupiec_p": _jf(self.kupiec_p), "steady_n": self.steady_n,
                "steady_exceptions": self.steady_exceptions, "steady_expected": _jf(self.steady_expected),
                "steady_kupiec_p": _jf(self.steady_kupiec_p)}



@dataclass(frozen=True, slots=True, kw_only=True)
class WindowOutcome:
    """A parameter set inside one stress window: exceptions (either side, all observations), liquidations and bad debt
    triggered in it, the margin at its start and its maximum inside it (fractions)."""

    name: str
    exceptions: int
    n: int
    liquidations: int
    bad_debt: float
    margin_start: float
    margin_max: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"name": self.name, "exceptions": self.exceptions, "n": self.n, "liquidations": self.liquidations,
                "bad_debt": _jf(self.bad_debt), "margin_start": _jf(self.margin_start),
                "margin_max": _jf(self.margin_max)}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SetBacktest:
    """One parameter set on one asset.

    Attributes
    ----------
    name, kind, source : str
        ``kind`` is ``'policy'`` (walk-forward replay) or ``'fixed'``.
    margin : ndarray, shape (n_bars,)
        Margin set at each bar of the period (tier-1 MMF; lending: room), fraction.
    imf : ndarray, shape (n_bars,)
        Tier-1 IMF (lending: ``1 - LTV``).
    version_bar : ndarray of int, shape (n_versions,)
        Period bar from which each version is in force (its proposal's bar).
    versions : tuple
        The parameters of each version (internal representation; see ``to_dict``).
    cadence : tuple of CadenceRecord
        The proposals (policy replay only).
    proposals : tuple of PerpAssetProposal or LendingAssetProposal
        The full proposals (policy replay only; not serialised).
    exceptions : ndarray of bool, shape (n_obs,)
        Headline-side exceptions at each observation.
    exceptions_any : ndarray of bool, shape (n_obs,)
        Either side beyond the margin (lending: the long side); stress windows and ``exception_dates``
        count these, so an event on the side that is not the headline is never hidden.
    side_counts : Mapping[str, Mapping[str, float]]
        Per side (``long``, ``short``; lending ``long`` only): exceptions in the non-overlapping
        sample and their Kupiec p-value, and on all observations.
    side : str
        Headline side.
    coverage : CoverageReport
    es : ESBacktestResult or None
    capital : CapitalStats
    tiers : tuple of TierCoverage
    liquidation : LiquidationResult
    shocks : pandas.DataFrame
        :func:`~riskparams.liquidation.shock_bad_debt` of the parameters in force at the end.
    windows : tuple of WindowOutcome
    claimed : ClaimedCoverage or None
        The policy replay's claimed coverage against the realised close-to-close moves.
    phases : PhaseSplit or None
        The policy replay's warm-up and steady state (None for fixed sets).
    """

    name: str
    kind: str
    source: str
    margin: FloatArray
    imf: FloatArray
    version_bar: npt.NDArray[np.int64]
    versions: tuple[_Params, ...]
    cadence: tuple[CadenceRecord, ...]
    proposals: tuple[PerpAssetProposal | LendingAssetProposal, ...]
    exceptions: BoolArray
    exceptions_any: BoolArray
    side_counts: Mapping[str, Mapping[str, float]]
    side: str
    coverage: CoverageReport
    es: ESBacktestResult | None
    capital: CapitalStats
    tiers: tuple[TierCoverage, ...]
    liquidation: LiquidationResult
    shocks: pd.DataFrame
    windows: tuple[WindowOutcome, ...]
    claimed: ClaimedCoverage | None = None
    phases: PhaseSplit | None = None

    @property
    def changes(self) -> int:
        """Number of parameter changes."""
        return self.capital.changes


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AssetBacktest:
    """All parameter sets on one asset.

    Attributes
    ----------
    symbol, freq, source, kind : str
    synthetic : bool
    fingerprint : str
        Of the rows used (up to ``end``).
    dates : pandas.DatetimeIndex, shape (n_bars,)
        Bars of the period (margins are set at each).
    obs : int
        Observations (bars whose ``h``-bar horizon is complete): the first ``obs`` bars.
    adverse : ndarray, shape (n_obs,)
        Adverse move of the headline side (perps: per set the side may differ, see ``adverse_long`` /
        ``adverse_short``), fraction.
    adverse_long, adverse_short : ndarray, shape (n_obs,)
    horizon_bars, window : int
    model : str
        Model label (engine, model used, policy's model).
    schedule : str
        The fast engine's refit schedule.
    fast_status : Mapping[str, int]
        Fast-engine day counts per status (empty for ``engine='arch'``; keyed ``'gjr WARM'`` per model when the
        policy model ``auto`` ran every candidate).
    notes : tuple of str
    stress : tuple of StressWindow
    sets : tuple of SetBacktest
    population : PopulationSpec
        The synthetic positions drawn on the period (the same for every set).
    cost_model : Mapping[str, float]
        Perps: ``adv`` (quote currency per day) and ``sigma_daily`` (fraction) as of the first bar, with
        the policy's ``half_spread`` and ``impact_k``, of the close-out cost of the liquidation simulation.
    live_tier1 : Mapping[str, float]
        Perps: the policy's own tier-1 margin period of risk at the first bar (``mpor_hours``) and the time
        averages of the tier-1 MMF and max leverage the policy itself gives on each cadence bar's estimate
        (model only, no guardrails): the capital cost of the live policy when the backtest evaluated it with
        every MPOR at least one bar.
    """

    symbol: str
    freq: str
    source: str
    kind: str
    synthetic: bool
    fingerprint: str
    dates: pd.DatetimeIndex
    obs: int
    adverse_long: FloatArray
    adverse_short: FloatArray
    horizon_bars: int
    window: int
    model: str
    schedule: str
    fast_status: Mapping[str, int]
    notes: tuple[str, ...]
    stress: tuple[StressWindow, ...]
    sets: tuple[SetBacktest, ...]
    population: PopulationSpec
    cost_model: Mapping[str, float] = field(default_factory=dict)
    live_tier1: Mapping[str, float] = field(default_factory=dict)

    @property
    def start(self) -> pd.Timestamp:
        """First bar of the period."""
        return pd.Timestamp(self.dates[0])

    @property
    def end(self) -> pd.Timestamp:
        """Last bar of the period."""
        return pd.Timestamp(self.dates[-1])

    def set(self, name: str) -> SetBacktest:
        """The parameter set called ``name``."""
        for s in self.sets:
            if s.name == name:
                return s
        raise KeyError(f"no parameter set {name!r} for {self.symbol}")



def _daily_positions(dates: pd.DatetimeIndex, freq: str) -> npt.NDArray[np.intp]:
    """Positions to keep in stored paths: every bar for daily bars, the last bar of each UTC day otherwise."""
    if hours_per_bar(freq) >= 24:
        return np.arange(len(dates))
    day = np.asarray(dates.normalize().asi8)
    last = np.r_[day[1:] != day[:-1], True]
    return np.flatnonzero(last)


def _floats(a: npt.ArrayLike) -> list[float | None]:
    return clean_floats(np.asarray(a, dtype=float))


def _set_dict(s: SetBacktest, a: AssetBacktest, *, paths: bool) -> dict[str, Any]:
    n_obs = a.obs
    dates = a.dates
    exc_dates = [iso_utc(dates[int(i)]) for i in np.flatnonzero(s.exceptions_any)]
    out: dict[str, Any] = {
        "name": s.name, "kind": s.kind, "source": s.source, "side": s.side,
        "sides": {k: {kk: _jf(vv) if isinstance(vv, float) else vv for kk, vv in v.items()}
                  for k, v in s.side_counts.items()},
        "coverage": s.coverage.to_dict(),
        "es_backtest": None if s.es is None else s.es.to_dict(),
        "capital": s.capital.to_dict(),
        "tiers": [t.to_dict() for t in s.tiers],
        "liquidation": s.liquidation.to_dict(path=False),
        "shocks": [{k: (_jf(v) if isinstance(v, float | np.floating) else (int(v) if isinstance(v, np.integer) else v))
                    for k, v in row.items()} for row in s.shocks.to_dict(orient="records")],
        "stress_windows": [w.to_dict() for w in s.windows],
        "claimed": None if s.claimed is None else s.claimed.to_dict(),
        "exception_dates": exc_dates,  # either side
        "versions": [{"from": iso_utc(dates[int(b)]), **v.to_dict()} for b, v in zip(s.version_bar, s.versions,
                                                                                  strict=True)]
        if s.kind == "fixed" else [],
        "proposals": [r.to_dict() for r in s.cadence],
    }
    if s.phases is not None:  # the policy replay: execution lag, warm-up and steady state
        out["execution"] = s.phases.execution_dict()
        out["warmup"] = s.phases.warmup.to_dict()
        out["steady_state"] = s.phases.steady_state.to_dict()
    if paths:
        keep = _daily_positions(dates, a.freq)
        fund = s.liquidation.insurance_fund.to_numpy(dtype=float)
        out["paths"] = {"margin": _floats(s.margin[keep]), "imf": _floats(s.imf[keep]),
                        "insurance_fund": _floats(fund[keep])}
    del n_obs
    return out


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BacktestReport:
    """A backtest of one or more assets under one policy: every parameter set side by side.

    Attributes
    ----------
    profile : str
    spec : BacktestSpec
    policy : RiskPolicy
    assets : tuple of AssetBacktest
    skipped : tuple of (symbol, reason)
        Assets left out, with the reason (one sentence).
    provenance : Mapping
        ``packages`` (name -> version) and ``data`` (symbol -> fingerprint), given by the caller.

    Examples
    --------
    The report of :func:`riskparams.backtest_policy` (``run.report``):

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> bt = riskparams.backtest_policy(store, profile="perp", symbols=["ABC"], spec=spec).report
    >>> bt.start, bt.end, len(bt.id)
    ('2020-06-01T00:00:00Z', '2021-03-10T00:00:00Z', 64)
    >>> abc = bt.asset("abc")
    >>> abc.freq, abc.window, [s.name for s in abc.sets]
    ('1d', 250, ['policy'])
    >>> cov = abc.sets[0].coverage.non_overlapping  # one-day 99% ES margin vs the next day's move
    >>> cov.n, cov.exceptions, cov.zone.value
    (282, 0, 'green')
    """

    profile: str
    spec: BacktestSpec
    policy: RiskPolicy
    assets: tuple[AssetBacktest, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> str | None:
        """First bar of any asset's period (ISO-8601 UTC), None without assets."""
        return min((iso_utc(a.start) for a in self.assets), default=None)

    @property
    def end(self) -> str | None:
        """Last bar of any asset's period."""
        return max((iso_utc(a.end) for a in self.assets), default=None)

    def results(self) -> list[BacktestResultRow]:
        """One row per (asset, parameter set) (headline: the non-overlapping offset-0 sample); a row's
        ``to_dict()`` has the keys :data:`riskparams.export.BACKTEST_RESULT_KEYS`."""
        q = self.policy.confidence
        rows = []
        for a in self.assets:
            for s in a.sets:
                st = s.coverage.non_overlapping
                ch = st.christoffersen
                rows.append(BacktestResultRow(
                    symbol=a.symbol, parameter_set=s.name, n=st.n, exceptions=st.exceptions,
                    expected=_jf(st.expected), confidence=q,
                    kupiec_lr=None if st.kupiec is None else _jf(st.kupiec.lr),
                    kupiec_p=None if st.kupiec is None else _jf(st.kupiec.p_value),
                    christoffersen_lr=None if ch is None else _jf(ch.independence.lr),
                    christoffersen_p=None if ch is None else _jf(ch.independence.p_value),
                    cc_lr=None if ch is None else _jf(ch.conditional.lr),
                    cc_p=None if ch is None else _jf(ch.conditional.p_value),
                    traffic_light=None if st.zone is None else st.zone.value,
                    avg_margin=_jf(s.capital.avg_margin), peak_to_trough=_jf(s.capital.peak_to_trough),
                    max_5d_increase=_jf(s.capital.max_increase["5d"]),
                    bad_debt=_jf(s.liquidation.bad_debt), liquidations=int(s.liquidation.liquidations),
                    phases=s.phases,
                ))
        return rows

    def content(self, *, paths: bool = True) -> dict[str, Any]:
        """The hashed content (JSON-safe): ``format, profile, start, end, spec, policy, results, assets,
        skipped, provenance``; ``paths`` adds the margin, IMF and insurance-fund paths (daily) and the
        adverse moves."""
        assets = []
        for a in self.assets:
            d: dict[str, Any] = {
                "symbol": a.symbol, "freq": a.freq, "source": a.source, "kind": a.kind, "synthetic": a.synthetic,
                "fingerprint": a.fingerprint, "start": iso_utc(a.start), "end": iso_utc(a.end), "bars": len(a.dates),
                "observations": a.obs, "horizon_bars": a.horizon_bars, "window": a.window, "model": a.model,
                "schedule": a.schedule, "fast_status": dict(a.fast_status), "notes": list(a.notes),
                "stress_windows": [w.to_dict() for w in a.stress],
                "population": a.population.to_dict(), "cost_model": {k: _jf(v) for k, v in a.cost_model.items()},
                "live_tier1": {k: _jf(v) for k, v in a.live_tier1.items()},
                "sets": [_set_dict(s, a, paths=paths) for s in a.sets],
            }
            if paths:
                keep = _daily_positions(a.dates, a.freq)
                keep_obs = keep[keep < a.obs]
                d["paths"] = {"ts": [iso_utc(a.dates[i]) for i in keep],
                              "adverse_long": _floats(a.adverse_long[keep_obs]),
                              "adverse_short": _floats(a.adverse_short[keep_obs])}
            assets.append(d)
        pol = {**self.policy.to_dict(), "policy_key": self.policy.key()}
        return {
            "format": REPORT_FORMAT, "profile": self.profile, "start": self.start, "end": self.end,
            "spec": self.spec.to_dict(), "policy": pol, "results": [r.to_dict() for r in self.results()], "assets": assets,
            "skipped": [{"symbol": s, "reason": r} for s, r in self.skipped],
            "provenance": dict(self.provenance),
        }

    @property
    def id(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`content` (with paths)."""
        return content_id(self.content())

    def asset(self, symbol: str) -> AssetBacktest:
        """The result of one asset."""
        for a in self.assets:
            if a.symbol == symbol.upper():
                return a
        raise KeyError(f"no asset {symbol!r} in the backtest")


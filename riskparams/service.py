"""Use-cases that chain the library for the command line, the dashboard and notebooks.

Each function takes a :class:`~riskparams.store.Store` and plain arguments and returns domain
values; none of them prints or draws.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskparams.config import RiskPolicy
from riskparams.domain import (
    AssetContext,
    CurrentLending,
    CurrentParams,
    CurrentPerp,
    LendingAssetProposal,
    PerpAssetProposal,
    Proposal,
    SeriesInfo,
    SkippedAsset,
)
from riskparams.exceptions import DataError, HistoryError, PolicyError, RiskParamsError
from riskparams.proposals import daily_vol, propose_lending, propose_tiers
from riskparams.quality import DEFAULT_OUTLIER_Z, QualityReport, quality_report
from riskparams.returns import data_fingerprint, hours_per_bar, iso_utc, returns_with_report, to_utc
from riskparams.store import Store
from riskparams.store.backtest_records import (
    StoredReport,
    attach_report,
    get_report,
    latest_attached,
    list_reports,
    save_report,
)
from riskparams.store.records import StoredProposal, get_proposal, list_proposals, save_proposal
from riskparams.volatility import FitSpec, VolEstimate, fit_volatility

if TYPE_CHECKING:  # the backtest engine (scipy.stats, numba) loads on first use: pages start faster
    from riskparams.backtest import AssetData, BacktestReport, BacktestSpec, FixedParameters, ProgressFn


def open_store(db: str | Path | None = None, *, read_only: bool = False) -> Store:
    """Open (creating and migrating when needed) the store at ``db`` or the default location."""
    return Store(db, read_only=read_only)


def list_assets(store: Store) -> list[dict[str, object]]:
    """All stored series as JSON-safe dictionaries.

    Keys: ``series_id, symbol, source, kind, freq, synthetic, rows, first, last`` (ISO-8601 UTC).
    """
    return [s.to_dict() for s in store.list_series()]


def assets_frame(store: Store) -> pd.DataFrame:
    """The stored series as a table for display (one row per series)."""
    rows = list_assets(store)
    cols = ["symbol", "freq", "kind", "source", "synthetic", "rows", "first", "last", "series_id"]
    return pd.DataFrame(rows, columns=cols)


def load_series(
    store: Store,
    symbol: str,
    *,
    freq: str | None = None,
    source: str | None = None,
    kind: str | None = None,
) -> tuple[SeriesInfo, pd.DataFrame]:
    """Resolve a symbol to one series and load its bars (see :meth:`Store.load_prices`)."""
    info = store.resolve_series(symbol, freq=freq, source=source, kind=kind)
    return info, store.load_prices(info.series_id)


def series_quality(
    store: Store,
    symbol: str,
    *,
    freq: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    stale_min_bars: int | None = None,
    outlier_z: float = DEFAULT_OUTLIER_Z,
) -> tuple[SeriesInfo, QualityReport]:
    """Quality report of one stored series (see :func:`riskparams.quality.quality_report`)."""
    info, prices = load_series(store, symbol, freq=freq, source=source, kind=kind)
    return info, quality_report(prices, info.freq, stale_min_bars=stale_min_bars, outlier_z=outlier_z)


@dataclass(frozen=True, slots=True)
class FitRun:
    """A volatility fit of one stored series: the series, the estimate, and whether it came from the cache.

    ``fingerprint`` is the SHA-256 of the exact price rows used (provenance); ``prices`` are those rows
    (index ``ts``, OHLCV columns), so callers that also need the bars do not load them again.
    """

    series: SeriesInfo
    estimate: VolEstimate
    fingerprint: str
    cached: bool
    prices: pd.DataFrame = field(repr=False, compare=False, default_factory=pd.DataFrame)

    def to_dict(self, *, with_series: bool = False) -> dict[str, Any]:
        """JSON-safe dictionary for ``riskparams fit --json``.

        The conditional-volatility series is left out unless ``with_series``.
        """
        est = self.estimate.to_dict()
        if not with_series:
            est.pop("conditional_vol", None)
        s = self.series
        head = {
            "symbol": s.symbol, "freq": s.freq, "source": s.source, "kind": s.kind, "synthetic": s.synthetic,
            "data_fingerprint": self.fingerprint, "cached": self.cached,
            "next_vol_annualised": _finite_or_none(self.estimate.next_vol_annualised),
        }
        return {**head, **est}


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def fit_series(
    store: Store,
    symbol: str,
    *,
    freq: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    spec: FitSpec | None = None,
    as_of: datetime | pd.Timestamp | str | None = None,
    use_cache: bool = True,
) -> FitRun:
    """Fit the volatility model of ``spec`` to a stored series, using the fit cache.

    Fits are cached in the store keyed by series, data fingerprint (exact rows used), spec and the
    time of the last bar used, so a page or command never refits what it already has.

    Parameters
    ----------
    as_of : datetime, Timestamp or str, optional
        Use only bars up to this UTC time (no look-ahead); default all bars.

    Raises
    ------
    SeriesNotFoundError, AmbiguousSeriesError
        The symbol does not name exactly one stored series.
    HistoryError
        Too little data up to ``as_of``.
    """
    info = store.resolve_series(symbol, freq=freq, source=source, kind=kind)
    end = None if as_of is None else to_utc(as_of, "as-of date")
    prices = store.load_prices(info.series_id, end=end)
    if len(prices) < 3:
        when = "" if end is None else f" up to {end:%Y-%m-%d %H:%M} UTC"
        raise HistoryError(f"{info.label} has {len(prices)} bars{when}; a fit needs at least 3.")
    return fit_prices(store, info, prices, spec=spec, use_cache=use_cache)


def fit_prices(
    store: Store, info: SeriesInfo, prices: pd.DataFrame, *, spec: FitSpec | None = None, use_cache: bool = True
) -> FitRun:
    """:func:`fit_series` on bars already loaded from the store (``prices``, of the series ``info``), through
    the same fit cache: callers that fit several specs to one series load it once."""
    spec = FitSpec() if spec is None else spec
    fingerprint = data_fingerprint(prices)
    last = prices.index[-1].to_pydatetime()
    if use_cache:
        payload = store.get_fit(info.series_id, fingerprint, _cache_key(spec), last)
        if payload is not None:
            return FitRun(info, VolEstimate.from_dict(json.loads(payload)), fingerprint, True, prices)
    estimate = fit_volatility(prices, info.freq, spec)
    store.put_fit(info.series_id, fingerprint, _cache_key(spec), last,
                  json.dumps(estimate.to_dict(), allow_nan=False))
    return FitRun(info, estimate, fingerprint, False, prices)


ESTIMATE_FORMAT = 2
"""Version of the cached :class:`VolEstimate` payload; bump it when the estimate gains or changes fields,
so fits cached by an older riskparams are recomputed instead of read back incomplete."""


def _cache_key(spec: FitSpec) -> str:
    return f"{spec.key()}|estimate-v{ESTIMATE_FORMAT}"


# -------------------------------------------------------------------------------------------------
# proposals
# -------------------------------------------------------------------------------------------------

PROVENANCE_PACKAGES: tuple[str, ...] = ("riskparams", "numpy", "pandas", "scipy", "arch", "statsmodels", "duckdb")
"""Packages whose versions are recorded in every proposal."""

_FREQ_PREFERENCE = ("1d", "4h", "1h")


@dataclass(frozen=True, slots=True)
class ProposalRun:
    """A computed proposal and, when saved, its stored record (id, status, creation time)."""

    proposal: Proposal
    stored: StoredProposal | None

    @property
    def id(self) -> str:
        """The content hash of the proposal."""
        return self.proposal.id

    def to_dict(self) -> dict[str, Any]:
        """JSON for ``riskparams propose --json``: ``id, status, created_at, stored_now`` and the content
        (``profile, as_of, policy, assets, skipped, provenance``)."""
        head: dict[str, Any] = {"id": self.id, "status": None, "created_at": None, "stored_now": False}
        if self.stored is not None:
            head.update(status=self.stored.status, created_at=self.stored.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        stored_now=self.stored.is_new)
        return {**head, **self.proposal.content()}


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`PROVENANCE_PACKAGES` (``'unknown'`` when not installed)."""
    from importlib import metadata

    out = {}
    for name in PROVENANCE_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _pick_series(found: list[SeriesInfo]) -> SeriesInfo | str:
    """One series per symbol: the only one, else the unique series of the first frequency of 1d, 4h, 1h
    that has any; a reason string when that is ambiguous."""
    if len(found) == 1:
        return found[0]
    for f in _FREQ_PREFERENCE:
        at = [s for s in found if s.freq == f]
        if len(at) == 1:
            return at[0]
        if len(at) > 1:
            labels = "; ".join(s.label for s in at)
            return f"several {f} series ({labels}); propose for one of them with a store that holds only it"
    return "no series"


def select_series(
    store: Store, symbols: list[str] | None = None
) -> tuple[list[SeriesInfo], list[SkippedAsset]]:
    """The series to propose for: one per symbol (daily preferred), and the symbols left out with why.

    Parameters
    ----------
    symbols : list of str, optional
        Symbols to use (case-insensitive); default every stored symbol.

    Raises
    ------
    SeriesNotFoundError
        A requested symbol has no stored series.
    """
    chosen: list[SeriesInfo] = []
    skipped: list[SkippedAsset] = []
    if symbols is None:
        by_symbol: dict[str, list[SeriesInfo]] = {}
        for s in store.list_series():
            if s.rows > 0:
                by_symbol.setdefault(s.symbol.upper(), []).append(s)
        groups = sorted(by_symbol.items())
    else:
        groups = []
        for sym in dict.fromkeys(s.strip().upper() for s in symbols if s.strip()):
            found = [s for s in store.find_series(sym) if s.rows > 0]
            if not found:
                store.resolve_series(sym)  # raises SeriesNotFoundError with the stored symbols
                found = store.find_series(sym)
            groups.append((sym, found))
    for sym, found in groups:
        pick = _pick_series(found)
        if isinstance(pick, str):
            skipped.append(SkippedAsset(symbol=sym, reason=pick))
        else:
            chosen.append(pick)
    return chosen, skipped


def average_daily_value(prices: pd.DataFrame, freq: str, window_days: int) -> float:
    """ADV: mean daily traded value (``volume * close``, quote currency) over the last ``window_days`` days
    of bars (hourly bars are summed per day: total value / days covered). NaN without volume data."""
    bars = max(1, int(round(window_days * 24 / hours_per_bar(freq))))
    tail = prices.iloc[-bars:]
    value = (tail["volume"] * tail["close"]).to_numpy(dtype=float)
    ok = np.isfinite(value)
    if not ok.any():
        return math.nan
    days = ok.sum() * hours_per_bar(freq) / 24.0
    return float(np.sum(value[ok]) / days)


def lookback_vol(prices: pd.DataFrame, freq: str, *, allow_gaps: bool = False) -> float:
    """Sample standard deviation (``ddof=1``) per bar of the log returns a fit of ``prices`` uses (returns
    across gaps dropped unless ``allow_gaps``): the long-run volatility of the anti-procyclicality floor."""
    r = returns_with_report(prices, freq, allow_gaps=allow_gaps).returns.to_numpy(dtype=float)
    r = r[np.isfinite(r)]
    return float(np.std(r, ddof=1)) if r.size > 1 else math.nan


def propose(
    store: Store,
    *,
    profile: str,
    policy: RiskPolicy | None = None,
    current: CurrentParams | None = None,
    symbols: list[str] | None = None,
    as_of: datetime | pd.Timestamp | str | None = None,
    save: bool = True,
    use_cache: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> ProposalRun:
    """Propose perpetual tiers or lending parameters for stored assets, and store the proposal.

    For each asset: fit ``policy.model`` through the fit cache (:func:`fit_series`), measure ADV from the
    stored volume x close (or the policy's override), and run :func:`riskparams.proposals.propose_tiers` or
    :func:`~riskparams.proposals.propose_lending` with the asset's current parameters. An asset whose fit or
    ADV fails is **skipped with its reason** (``Proposal.skipped``); the rest of the run goes on.

    Parameters
    ----------
    profile : {'perp', 'lending'}
    policy : RiskPolicy, optional
        Default ``RiskPolicy()`` (= ``riskparams/examples/policy.toml``).
    current : CurrentParams, optional
        Current parameters (:func:`riskparams.params_io.load_current`); their profile must match.
    symbols : list of str, optional
        Default: every stored symbol (one series each, daily preferred).
    as_of : datetime, Timestamp or str, optional
        Use only bars up to this UTC time.
    save : bool
        Store the proposal (status ``draft``; the same content is stored once; nothing is stored when
        every asset was skipped).
    use_cache : bool
        Use the fit cache.
    progress : callable(done, total, symbol), optional
        Called before each asset is fitted (for progress bars).

    Raises
    ------
    PolicyError
        Unknown profile, or current parameters of the other profile.
    SeriesNotFoundError
        A requested symbol is not stored.
    DataError
        ``as_of`` is not a date.
    """
    if profile not in ("perp", "lending"):
        raise PolicyError(f"profile must be 'perp' or 'lending', got {profile!r}")
    policy = RiskPolicy() if policy is None else policy
    if current is not None and current.profile != profile:
        raise PolicyError(f"the current parameters ({current.source}) are for {current.profile}, the proposal is "
                          f"for {profile}")
    end = None if as_of is None else to_utc(as_of, "as-of date")
    series, skipped = select_series(store, symbols)
    wanted = None if symbols is None else {s.strip().upper() for s in symbols}
    assets: list[PerpAssetProposal | LendingAssetProposal] = []
    for i, info in enumerate(series):
        sym = info.symbol.upper()
        if progress is not None:
            progress(i, len(series), sym)
        try:
            run = fit_series(store, info.symbol, freq=info.freq, source=info.source, kind=info.kind,
                             spec=policy.model, as_of=end, use_cache=use_cache)
        except RiskParamsError as exc:
            skipped.append(SkippedAsset(symbol=sym, reason=f"fit failed: {exc}"))
            continue
        except Exception as exc:  # arch and scipy raise many kinds; one asset must not stop the run
            skipped.append(SkippedAsset(symbol=sym, reason=f"fit failed ({type(exc).__name__}: {exc})"))
            continue
        prices = run.prices
        window = policy.liquidity.adv_window_days
        if sym in policy.liquidity.adv_override:
            adv, adv_source = float(policy.liquidity.adv_override[sym]), "policy override"
        else:
            adv = average_daily_value(prices, info.freq, window)
            adv_source = f"stored volume x close over {window} days"
        if not (math.isfinite(adv) and adv > 0):
            skipped.append(SkippedAsset(
                symbol=sym, reason=f"no volume data to estimate ADV over the last {window} days; set "
                f"liquidity.adv_override.{sym} in the policy"))
            continue
        est = run.estimate
        cur = None if current is None else current.assets.get(sym)
        lookback = lookback_vol(prices, info.freq, allow_gaps=policy.model.allow_gaps)
        if profile == "perp":
            asset: PerpAssetProposal | LendingAssetProposal = propose_tiers(
                est, policy, adv=adv, current=cur if isinstance(cur, CurrentPerp) else None, symbol=sym,
                lookback_vol=lookback)
        else:
            asset = propose_lending(est, policy, adv=adv, current=cur if isinstance(cur, CurrentLending) else None,
                                    symbol=sym, lookback_vol=lookback)
        ctx = AssetContext(
            symbol=info.symbol, freq=info.freq, source=info.source, kind=info.kind, synthetic=info.synthetic,
            fingerprint=run.fingerprint, first_bar=iso_utc(prices.index[0]), last_bar=iso_utc(prices.index[-1]),
            spec_key=est.spec_key, model=f"{est.model.value}-{est.dist.value}", fallback=est.fallback, adv=adv,
            adv_source=adv_source, sigma_daily=daily_vol(est),
        )
        assets.append(replace(asset, context=ctx))
    if current is not None:
        done = {a.symbol for a in assets} | {s.symbol for s in skipped}
        for sym in current.assets:
            if sym not in done and (wanted is None or sym in wanted):
                skipped.append(SkippedAsset(symbol=sym, reason=f"in {current.source} but no stored series"))
    proposal = Proposal(
        profile=profile,
        as_of=None if end is None else iso_utc(end),
        policy={**policy.to_dict(), "policy_key": policy.key()},
        assets=tuple(sorted(assets, key=lambda a: a.symbol)),
        skipped=tuple(sorted(skipped, key=lambda s: s.symbol)),
        provenance={"packages": package_versions(), "model_specs": {policy.model.key(): policy.model.to_dict()}},
    )
    stored = save_proposal(store, proposal) if save and proposal.assets else None
    return ProposalRun(proposal, stored)


# -------------------------------------------------------------------------------------------------
# backtests
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BacktestRun:
    """A computed backtest report and, when saved, its stored record (and the proposal it was attached to)."""

    report: BacktestReport
    stored: StoredReport | None
    attached_to: str | None = None

    @property
    def id(self) -> str:
        """The content hash of the report."""
        return self.stored.id if self.stored is not None else self.report.id

    def to_dict(self, *, paths: bool = False) -> dict[str, Any]:
        """JSON for ``riskparams backtest --json``: ``id, created_at, start, end, profile, results`` (the rows
        :func:`riskparams.export.validate_backtest` reads), ``stored_now``, ``attached_to``, then the detail
        (``assets``, ``skipped``, ``spec``, ``policy``, ``provenance``); per-bar paths only with ``paths``."""
        content = self.report.content(paths=paths)
        head = {
            "id": self.id, "created_at": None if self.stored is None else self.stored.created_at_iso,
            "start": content["start"], "end": content["end"], "profile": content["profile"],
            "results": content["results"], "stored_now": bool(self.stored is not None and self.stored.is_new),
            "attached_to": self.attached_to,
        }
        return {**head, **{k: v for k, v in content.items() if k not in head}}


def _compare_sets(store: Store, refs: list[str], profile: str) -> list[FixedParameters]:
    """Fixed parameter sets from files (params_io CSV/JSON, named by the file stem) or stored proposal ids."""
    from riskparams.backtest import fixed_from_current, fixed_from_proposal
    from riskparams.params_io import load_current

    out: list[FixedParameters] = []
    for ref in refs:
        path = Path(ref).expanduser()
        if path.exists():
            cur = load_current(path, profile)
            name = path.stem
        elif len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref.lower()):
            stored = get_proposal(store, ref)
            if stored.profile != profile:
                raise PolicyError(f"proposal {stored.id[:12]} is for {stored.profile}, the backtest is for {profile}")
            out.append(fixed_from_proposal(stored.content, f"proposal-{stored.id[:12]}", f"proposal {stored.id}"))
            continue
        else:
            raise DataError(f"--compare {ref}: no such file, and not a stored proposal id.")
        names = {f.name for f in out}
        base, k = name, 2
        while name in names or name in ("policy", "current"):
            name, k = f"{base}-{k}", k + 1
        out.append(fixed_from_current(cur, name))
    return out


def backtest_data(
    store: Store,
    symbols: list[str] | None = None,
    *,
    freq: str | None = None,
    end: datetime | pd.Timestamp | str | None = None,
) -> tuple[list[AssetData], list[SkippedAsset]]:
    """The price series to backtest (one per symbol, daily preferred, or of ``freq``), bars up to ``end``."""
    from riskparams.backtest import AssetData

    stop = None if end is None else to_utc(end, "as-of date")
    if freq is None:
        series, skipped = select_series(store, symbols)
    else:
        series, skipped = [], []
        if symbols is None:
            series = [s for s in store.list_series() if s.freq == freq and s.rows > 0]
        else:
            for sym in dict.fromkeys(s.strip().upper() for s in symbols if s.strip()):
                series.append(store.resolve_series(sym, freq=freq))
    out = []
    for info in series:
        prices = store.load_prices(info.series_id, end=stop)
        out.append(AssetData(symbol=info.symbol.upper(), freq=info.freq, prices=prices, source=info.source,
                             kind=info.kind, synthetic=info.synthetic, fingerprint=data_fingerprint(prices)))
    return out, skipped


def backtest(
    store: Store,
    *,
    profile: str,
    policy: RiskPolicy | None = None,
    current: CurrentParams | None = None,
    compare: list[str] | None = None,
    symbols: list[str] | None = None,
    freq: str | None = None,
    spec: BacktestSpec | None = None,
    attach: str | None = None,
    actor: str | None = None,
    save: bool = True,
    progress: ProgressFn | None = None,
    backend: str = "threads",
) -> BacktestRun:
    """Backtest the policy's walk-forward replay, the current parameters and other sets on stored series.

    Parameters
    ----------
    profile : {'perp', 'lending'}
    policy : RiskPolicy, optional
        Default ``RiskPolicy()``.
    current : CurrentParams, optional
        Current parameters: the replay's first guardrails, and a fixed set named ``current``.
    compare : list of str, optional
        More fixed sets: params_io CSV/JSON files (named by the file stem) or stored proposal ids.
    symbols : list of str, optional
        Default: every stored symbol (one series each, daily preferred; or of ``freq``).
    spec : BacktestSpec, optional
        Period, cadence, engine, ... (its ``profile`` is replaced by ``profile``).
    attach : str, optional
        A stored proposal id: its proposed parameters are added as a fixed set (``proposal-<id>``) and the
        stored report is attached to it.
    save : bool
        Store the report (and attach it); ``attach`` needs it.
    progress : callable, optional
        ``progress(done, total, message)``.

    Raises
    ------
    PolicyError
        Unknown profile, parameters of the other profile, ``attach`` without ``save``.
    SeriesNotFoundError
        A requested symbol is not stored.
    HistoryError
        No asset has enough history.
    """
    from riskparams.backtest import BacktestSpec, fixed_from_current, run_backtest

    if profile not in ("perp", "lending"):
        raise PolicyError(f"profile must be 'perp' or 'lending', got {profile!r}")
    policy = RiskPolicy() if policy is None else policy
    spec = BacktestSpec(profile=profile) if spec is None else replace(spec, profile=profile)
    if current is not None and current.profile != profile:
        raise PolicyError(f"the current parameters ({current.source}) are for {current.profile}, the backtest is "
                          f"for {profile}")
    if attach is not None and not save:
        raise PolicyError("attaching a backtest needs it stored (save=True)")
    fixed: list[FixedParameters] = [] if current is None else [fixed_from_current(current)]
    refs = list(compare or [])
    target = None
    if attach is not None:
        target = get_proposal(store, attach)
        if target.profile != profile:
            raise PolicyError(f"proposal {target.id[:12]} is for {target.profile}, the backtest is for {profile}")
        if target.id not in [r.lower() for r in refs]:
            refs.append(target.id)
    fixed += _compare_sets(store, refs, profile)
    data, skipped = backtest_data(store, symbols, freq=freq, end=spec.end)
    report = run_backtest(data, policy, spec, current=None if current is None else dict(current.assets), fixed=fixed,
                          progress=progress, backend=backend, provenance={"packages": package_versions()})
    if skipped:
        report = replace(report, skipped=tuple(sorted([*report.skipped, *((s.symbol, s.reason) for s in skipped)])))
    if not report.assets:
        reasons = "; ".join(f"{s}: {r}" for s, r in report.skipped) or "no stored series"
        raise HistoryError(f"no asset could be backtested ({reasons}).")
    stored = save_report(store, report.content()) if save else None
    attached = None
    if target is not None and stored is not None:
        attach_report(store, target.id, stored.id, actor=actor)
        attached = target.id
    return BacktestRun(report, stored, attached)


def attach_backtest(store: Store, proposal_id: str, report_id: str, *, actor: str | None = None) -> bool:
    """Attach a stored backtest report to a stored proposal; True when a new link was written."""
    return attach_report(store, proposal_id, report_id, actor=actor)


def proposal(store: Store, proposal_id: str) -> StoredProposal:
    """A stored proposal by id or unique prefix, hash verified, with its current status (for the pages:
    :func:`riskparams.store.records.get_proposal`)."""
    return get_proposal(store, proposal_id)


def proposals(store: Store, *, limit: int = 50) -> list[dict[str, Any]]:
    """Stored proposals, newest first (:func:`riskparams.store.records.list_proposals`)."""
    return list_proposals(store, limit=limit)


def get_backtest(store: Store, report_id: str) -> StoredReport:
    """A stored backtest report by id or unique prefix (hash verified)."""
    return get_report(store, report_id)


def list_backtests(store: Store, *, profile: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Stored backtest reports, newest first (see :func:`riskparams.store.backtest_records.list_reports`)."""
    return list_reports(store, profile=profile, limit=limit)


def export_backtest_payload(store: Store, ref: str, proposal_id: str) -> dict[str, Any]:
    """The backtest payload an export embeds: ``ref`` is a JSON file (:func:`riskparams.export.load_backtest`),
    a stored report id (or prefix), or ``attached`` (the report attached last to ``proposal_id``)."""
    from riskparams.export import load_backtest, validate_backtest

    if ref == "attached":
        payload = latest_attached(store, proposal_id).export_payload()
    elif Path(ref).expanduser().exists():
        return load_backtest(ref)
    elif len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref.lower()):
        payload = get_report(store, ref).export_payload()
    else:
        return load_backtest(ref)  # raises "backtest file ... not found"
    out = validate_backtest(payload)
    assert out is not None
    return out


def backtest_figures(content: Mapping[str, Any], symbol: str) -> dict[str, Any]:
    """Figures of a backtest report's content (stored with paths): ``margins`` (margin in force of each set
    against the realised adverse moves of ``symbol``, exceptions marked), ``fund`` (insurance-fund paths of
    ``symbol``) and ``sets`` (every asset and parameter set side by side).

    Raises
    ------
    DataError
        ``symbol`` is not in the report, or the content has no paths.
    """
    from riskparams import charts

    asset = next((a for a in content.get("assets", []) if a["symbol"] == symbol.upper()), None)
    if asset is None or "paths" not in asset:
        raise DataError(f"the backtest has no paths for {symbol!r} (assets: "
                        f"{', '.join(a['symbol'] for a in content.get('assets', []))}).")
    paths = asset["paths"]
    ts = pd.to_datetime(paths["ts"], utc=True)
    lending = content.get("profile") == "lending"
    if lending:
        adverse = paths["adverse_long"]
    else:
        adverse = [None if a is None or b is None else max(a, b)
                   for a, b in zip(paths["adverse_long"], paths["adverse_short"], strict=True)]
    margins = {s["name"]: s["paths"]["margin"] for s in asset["sets"]}
    fund = {s["name"]: s["paths"]["insurance_fund"] for s in asset["sets"]}
    label = ("room 1 - LT(1 + LB)", "collateral drop over the horizon") if lending else (
        "tier-1 MMF in force", "adverse move over the horizon (worse of long and short)")
    return {
        "margins": charts.margin_vs_moves(ts, adverse, margins, title=f"{asset['symbol']}: margin in force and "
                                          "realised adverse moves", margin_label=label[0], move_label=label[1]),
        "fund": charts.insurance_fund_paths(ts, fund, title=f"{asset['symbol']}: insurance fund, same population "
                                            "under each parameter set"),
        "sets": charts.parameter_sets_side_by_side(content["results"]),
    }

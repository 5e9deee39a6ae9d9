"""Use-cases that chain the library for the command line, the dashboard and notebooks.

Each function takes a :class:`~riskparams.store.Store` and plain arguments and returns domain
values; none of them prints or draws.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from riskparams.backtest_content import StoredBacktest
from riskparams.config import RiskPolicy
from riskparams.domain import (
    AssetContext,
    CurrentLending,
    CurrentParams,
    CurrentPerp,
    LendingAssetProposal,
    OptionAsset,
    PeerTable,
    PerpAssetProposal,
    Profile,
    Proposal,
    ProposalOption,
    Sensitivity,
    SensitivityCell,
    SeriesInfo,
    SkippedAsset,
)
from riskparams.exceptions import (
    DataError,
    HistoryError,
    PolicyError,
    RiskParamsError,
    SeriesNotFoundError,
)
from riskparams.fmt import format_notional
from riskparams.jsonio import canonical_json, clean_float, iso_z
from riskparams.measures import Tail, log_to_price_move, mean_daily_value
from riskparams.params_io import LiquidityCurve
from riskparams.proposals import (
    compare_peers,
    daily_vol,
    peer_gaps,
    propose_lending,
    propose_tiers,
    term_hours,
)
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
from riskparams.volatility import FitSpec, VolEstimate, fit_volatility, sample_vol

if TYPE_CHECKING:  # the backtest engine (scipy.stats, numba) loads on first use: pages start faster
    import numpy as np

    from riskparams.backtest import AssetData, BacktestReport, BacktestSpec, FixedParameters, ProgressFn
    from riskparams.book.impact import ImpactReport


def open_store(db: str | Path | None = None, *, read_only: bool = False) -> Store:
    """Open (creating and migrating when needed) the store at ``db`` or the default location.

    Raises
    ------
    StoreError
        The store cannot be opened, or ``db`` is a folder or an existing file that is not a DuckDB store
        (see :class:`riskparams.store.Store`).

    Examples
    --------
    A file is created (and its schema migrated) on first use; ``":memory:"`` is a store that lives as long
    as the object:

    >>> import riskparams, tempfile
    >>> store = riskparams.open_store(f"{tempfile.mkdtemp()}/risk.duckdb")
    >>> store.is_empty()
    True
    >>> riskparams.open_store(":memory:").list_series()
    []
    """
    return Store(db, read_only=read_only)


def list_assets(store: Store) -> list[dict[str, object]]:
    """All stored series as JSON-safe dictionaries.

    Keys: ``series_id, symbol, source, kind, freq, synthetic, rows, first, last`` (ISO-8601 UTC).
    """
    return [s.to_dict() for s in store.list_series()]


def remove_demo(store: Store) -> list[SeriesInfo]:
    """Remove the synthetic demo data (every series flagged synthetic, with its bars, ingest-log entries and cached
    fits); market data is untouched. Returns the series removed (empty when there were none).

    Raises
    ------
    StoreError
        A stored proposal or backtest report used the demo data: stored records are immutable and keep their data
        resolvable, so nothing is removed (proposals over all assets leave synthetic assets out anyway, see
        :func:`propose`).

    Examples
    --------
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> [s.symbol for s in remove_demo(store)], store.list_series()
    (['ABC'], [])
    """
    return store.remove_synthetic()


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

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> run = riskparams.fit(store, "ABC")
    >>> run.series.label, run.cached, run.fingerprint == riskparams.fit(store, "ABC").fingerprint
    ('ABC 1d spot (example)', False, True)
    >>> run.to_dict()["next_vol_annualised"] == run.estimate.next_vol_annualised
    True
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
            "next_vol_annualised": clean_float(self.estimate.next_vol_annualised),
        }
        return {**head, **est}


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

    Examples
    --------
    ``riskparams.fit`` is this function. By default the GARCH-family model of lowest BIC with Student-t
    innovations, a 24h horizon and 99% VaR / ES:

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> run = riskparams.fit(store, "ABC")
    >>> est = run.estimate
    >>> str(est.model), str(est.dist), est.horizon_hours, est.fallback
    ('garch', 't', 24.0, None)
    >>> 0.2 < est.next_vol_annualised < 0.6 and 0 < est.var < est.es
    True
    >>> riskparams.fit(store, "ABC").cached  # the second time it comes from the store
    True
    >>> spec = riskparams.FitSpec(model="gjr", horizon_hours=48, confidence=0.995)
    >>> str(riskparams.fit(store, "ABC", spec=spec, as_of="2020-12-31").estimate.model)
    'gjr'
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
                  canonical_json(estimate.to_dict()))
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

@dataclass(frozen=True, slots=True)
class ProposalRun:
    """A computed proposal and, when saved, its stored record (id, status, creation time).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> run = riskparams.propose(store, profile="perp", symbols=["ABC"])
    >>> run.id == run.proposal.id == run.stored.id, run.stored.status, run.stored.is_new
    (True, 'draft', True)
    >>> riskparams.propose(store, profile="perp", symbols=["ABC"]).stored.is_new  # same content, stored once
    False
    >>> sorted(run.to_dict())[:5]
    ['as_of', 'assets', 'created_at', 'format', 'id']
    """

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
            head.update(status=self.stored.status, created_at=iso_z(self.stored.created_at),
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


MIN_HISTORY_DAYS = 365
"""A series has "enough history" for the default choice when it spans at least a year (EMIR's minimum
lookback, which should include a stress period) and holds at least the policy's ``min_history`` returns."""

_FINEST_FIRST = ("1h", "4h", "1d")


def _span_days(s: SeriesInfo) -> float:
    if s.first is None or s.last is None:
        return 0.0
    return (s.last - s.first).total_seconds() / 86_400.0


def _enough(s: SeriesInfo, min_returns: int) -> bool:
    return s.rows - 1 >= min_returns and _span_days(s) >= MIN_HISTORY_DAYS


def _pick_series(
    found: list[SeriesInfo], profile: str, freq: str | None, kind: str | None, min_returns: int
) -> tuple[SeriesInfo, str] | str:
    """One series per symbol, and why: the ``freq``/``kind`` asked for, else the profile's preference
    (perpetuals: perp prices first, then spot; lending: spot first), then the finest frequency with
    enough history (:data:`MIN_HISTORY_DAYS`, ``min_returns``); a reason string when nothing fits or
    several sources tie."""
    cands = [s for s in found if (freq is None or s.freq == freq) and (kind is None or s.kind == kind)]
    if not cands:
        want = " ".join(x for x in (freq, kind) if x)
        have = "; ".join(s.label for s in found) or "none"
        return f"no {want} series stored (stored: {have})"
    kinds = ([kind] if kind else (["perp", "spot"] if profile == "perp" else ["spot", "perp"]))
    freqs = [freq] if freq else list(_FINEST_FIRST)
    order = [(k, f) for k in kinds for f in freqs]
    for need_enough in (True, False):
        for k, f in order:
            at = [s for s in cands if s.kind == k and s.freq == f and (_enough(s, min_returns) or not need_enough)]
            if not at:
                continue
            if len(at) > 1:
                labels = "; ".join(s.label for s in at)
                return f"several {f} {k} series ({labels}); keep one source per symbol, frequency and kind"
            pick = at[0]
            asked = [x for x, given in ((f"--freq {freq}", freq), (f"--kind {kind}", kind)) if given]
            if asked:
                why = "asked for with " + " and ".join(asked)
            else:
                pref = "perp prices preferred for perpetuals" if profile == "perp" else "spot prices preferred " \
                    "for lending"
                why = f"{pref}, then the finest frequency with enough history"
            if not need_enough:
                why += (f"; short history: {pick.rows - 1} returns over {_span_days(pick):.0f} days (wanted "
                        f"{min_returns} returns and {MIN_HISTORY_DAYS} days)")
            if kind is None and profile == "perp" and pick.kind == "spot":
                why += "; no perp series, so spot prices and spot volume are used"
            if kind is None and profile == "lending" and pick.kind == "perp":
                why += "; no spot series, so perp prices and perp volume are used"
            return pick, why
    return "no series"


def select_series(
    store: Store,
    symbols: list[str] | None = None,
    *,
    profile: str = "perp",
    freq: str | None = None,
    kind: str | None = None,
    min_returns: int = 500,
    include_synthetic: bool = True,
) -> tuple[list[tuple[SeriesInfo, str]], list[SkippedAsset]]:
    """The series to propose or backtest with: one per symbol, with why, and the symbols left out.

    Parameters
    ----------
    symbols : list of str, optional
        Symbols to use (case-insensitive); default every stored symbol.
    profile : {'perp', 'lending'}
        Sets the preferred kind (perp prices for perpetuals, spot for lending).
    freq : {'1h', '4h', '1d'}, optional
        Use only series of this frequency.
    kind : {'spot', 'perp'}, optional
        Use only series of this kind.
    min_returns : int
        Returns a series needs (with a year of span) to count as "enough history" for the default choice.
    include_synthetic : bool
        Without ``symbols``: also use synthetic (demo) series when the store holds market data. A store of
        synthetic series only always uses them; symbols named in ``symbols`` are always used.

    Raises
    ------
    SeriesNotFoundError
        A requested symbol has no stored series.
    """
    chosen: list[tuple[SeriesInfo, str]] = []
    skipped: list[SkippedAsset] = []
    if symbols is None:
        by_symbol: dict[str, list[SeriesInfo]] = {}
        usable = [s for s in store.list_series() if s.rows > 0]
        if not include_synthetic and any(not s.synthetic for s in usable):
            usable = [s for s in usable if not s.synthetic]  # market data stored: demo series only when asked
        for s in usable:
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
        pick = _pick_series(found, profile, freq, kind, min_returns)
        if isinstance(pick, str):
            if symbols is None and (freq or kind):
                continue  # every stored symbol, filtered: the others are simply not of that kind
            skipped.append(SkippedAsset(symbol=sym, reason=pick))
        else:
            chosen.append(pick)
    if symbols is None and (freq or kind) and not chosen and groups:
        want = " ".join(x for x in (freq, kind) if x)
        stored = "; ".join(sorted({f"{s.freq} {s.kind}" for _sym, found in groups for s in found}))
        raise SeriesNotFoundError(f"no {want} series is stored (stored: {stored}).")
    return chosen, skipped


def average_daily_value(prices: pd.DataFrame, freq: str, window_days: int) -> float:
    """ADV: mean daily traded value (``volume * close``, quote currency) over the last ``window_days`` days
    of bars (hourly bars are summed per day: total value / days covered). NaN without volume data."""
    bars = max(1, int(round(window_days * 24 / hours_per_bar(freq))))
    tail = prices.iloc[-bars:]
    return mean_daily_value((tail["volume"] * tail["close"]).to_numpy(dtype=float), hours_per_bar(freq), window_days)


def lookback_vol(prices: pd.DataFrame, freq: str, *, allow_gaps: bool = False) -> float:
    """Sample standard deviation (``ddof=1``) per bar of the log returns a fit of ``prices`` uses (returns
    across gaps dropped unless ``allow_gaps``): the long-run volatility of the anti-procyclicality floor."""
    return sample_vol(returns_with_report(prices, freq, allow_gaps=allow_gaps).returns.to_numpy(dtype=float))


def fit_spec_for(policy: RiskPolicy, profile: str) -> FitSpec:
    """The volatility specification a proposal fits: the policy's model with a term structure reaching the
    longest horizon the profile reads (:func:`riskparams.proposals.term_hours`)."""
    return replace(policy.model, horizon_hours=term_hours(policy, profile))


def ratio_prices(collateral: pd.DataFrame, debt: pd.DataFrame) -> pd.DataFrame:
    """Collateral priced in a non-stable debt asset: the ratio of closes on common bar times (open, high
    and low are set to the ratio close: only close-to-close returns are used), volume of the collateral.

    Raises
    ------
    HistoryError
        Fewer than 3 common bars.
    """
    joined = collateral[["close", "volume"]].join(debt[["close"]], how="inner", rsuffix="_debt")
    if len(joined) < 3:
        raise HistoryError(f"the collateral and debt series share {len(joined)} bar times; a ratio needs more.")
    ratio = joined["close"] / joined["close_debt"]
    out = pd.DataFrame({"open": ratio, "high": ratio, "low": ratio, "close": ratio,
                        "volume": joined["volume"] * joined["close"] / ratio}, index=joined.index)
    out.index.name = "ts"
    return out


def _option_policies(policy: RiskPolicy, names: list[str] | None) -> list[tuple[str, RiskPolicy, dict[str, Any]]]:
    """(name, policy, differences) of the requested options, in the order asked."""
    if not names:
        return []
    from riskparams.config import policy_differences, policy_with

    table = policy.option_overrides()
    out = []
    for name in dict.fromkeys(n.strip().lower() for n in names if n.strip()):
        if name not in table:
            raise PolicyError(f"unknown option {name!r} (known: {', '.join(sorted(table))}; define others as "
                              "[options.NAME] tables in the policy file)")
        pol = policy_with(policy, table[name]) if table[name] else policy
        out.append((name, pol, policy_differences(policy, pol)))
    return out


def _same_fit(a: FitSpec, b: FitSpec) -> bool:
    """Two specifications give the same term structure (the confidence only changes the headline)."""
    return replace(a, confidence=b.confidence) == b


def _liquidity(
    policy: RiskPolicy, sym: str, info: SeriesInfo, adv: float, curves: tuple[LiquidityCurve, ...]
) -> tuple[float | None, str]:
    """Slippage of the lending liquidation size from a depth curve (None: use the ADV law) and the named source."""
    venue = policy.lending.liquidity_venue
    for c in curves:
        if c.symbol == sym and (not venue or c.venue == venue.lower()):
            return c.slippage(policy.lending.reference_liquidation_notional), c.describe()
    name = venue or f"{info.source} {info.kind}"
    return None, f"square-root law on the {name} ADV of {format_notional(adv)} at the stressed volatility"


def _propose_one(
    policy: RiskPolicy,
    est: VolEstimate,
    *,
    profile: str,
    adv: float,
    current: CurrentPerp | CurrentLending | None,
    symbol: str,
    lookback: float,
    series: str,
    peers: tuple[PeerTable, ...] | None,
    info: SeriesInfo,
    curves: tuple[LiquidityCurve, ...],
    debt: str,
) -> PerpAssetProposal | LendingAssetProposal:
    """One asset's proposal under one policy (the pure math, with the service's market inputs)."""
    if profile == "perp":
        a = propose_tiers(est, policy, adv=adv, current=current if isinstance(current, CurrentPerp) else None,
                          symbol=symbol, lookback_vol=lookback, series=series)
        table = tuple(t for t in (peers or ()) if t.symbol == symbol)
        cmp = compare_peers(a.tiers, table)
        if cmp is None:
            return a
        gaps = peer_gaps(a, cmp)
        return replace(a, peers=cmp, notes=(*a.notes, *gaps))
    slip, source = _liquidity(policy, symbol, info, adv, curves)
    return propose_lending(est, policy, adv=adv, current=current if isinstance(current, CurrentLending) else None,
                           symbol=symbol, lookback_vol=lookback, series=series, slippage=slip,
                           liquidity_source=source, debt_asset=debt)


def propose(
    store: Store,
    *,
    profile: Profile | str,
    policy: RiskPolicy | None = None,
    current: CurrentParams | None = None,
    symbols: list[str] | None = None,
    as_of: datetime | pd.Timestamp | str | None = None,
    save: bool = True,
    use_cache: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
    freq: str | None = None,
    kind: str | None = None,
    options: list[str] | None = None,
    peers: tuple[PeerTable, ...] | None = None,
    debt_asset: str | None = None,
    include_synthetic: bool = False,
) -> ProposalRun:
    """Propose perpetual tiers or lending parameters for stored assets, and store the proposal.

    For each asset: choose its series (:func:`select_series`), fit ``policy.model`` with a term structure
    reaching the profile's longest horizon (:func:`fit_spec_for`) through the fit cache, measure ADV from
    the stored volume x close of the same series (or the policy's override), and run
    :func:`riskparams.proposals.propose_tiers` or :func:`~riskparams.proposals.propose_lending` with the
    asset's current parameters. An asset whose fit or ADV fails is **skipped with its reason**
    (``Proposal.skipped``); the rest of the run goes on.

    Parameters
    ----------
    profile : {'perp', 'lending'}
    policy : RiskPolicy, optional
        Default ``RiskPolicy()`` (= ``riskparams/examples/policy.toml``).
    current : CurrentParams, optional
        Current parameters (:func:`riskparams.params_io.load_current`); their profile must match.
    symbols : list of str, optional
        Default: every stored symbol (one series each); synthetic (demo) symbols only as ``include_synthetic``
        says. Symbols named here are always used, synthetic or not.
    as_of : datetime, Timestamp or str, optional
        Use only bars up to this UTC time.
    save : bool
        Store the proposal (status ``draft``; the same content is stored once; nothing is stored when
        every asset was skipped).
    use_cache : bool
        Use the fit cache.
    progress : callable(done, total, symbol), optional
        Called before each asset is fitted (for progress bars).
    freq : {'1h', '4h', '1d'}, optional
        Use series of this frequency only.
    kind : {'spot', 'perp'}, optional
        Use series of this kind only.
    options : list of str, optional
        Named policy options to compute side by side (``conservative``, ``moderate``, ``aggressive`` or the
        policy file's ``[options.NAME]``); ``assets`` stays the recommended one (the policy itself).
    peers : tuple of PeerTable, optional
        Other venues' tier tables (:func:`riskparams.params_io.load_peers`): perpetual assets get a peer
        comparison.
    debt_asset : str, optional
        Lending: the debt asset (default ``policy.lending.debt_asset``). A stablecoin prices the collateral
        as stored; another stored symbol prices it in that asset (the ratio of the two series).
    include_synthetic : bool
        Without ``symbols``, when the store holds market (non-synthetic) series: also propose for the synthetic
        demo assets. Default False: a real proposal never includes synthetic assets unless asked. A store of
        synthetic series only (the demo) proposes for them either way.

    Raises
    ------
    PolicyError
        Unknown profile or option, or current parameters of the other profile.
    SeriesNotFoundError
        A requested symbol (or a non-stable debt asset) is not stored.
    DataError
        ``as_of`` is not a date; the policy's liquidity curve file is invalid.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> run = riskparams.propose(store, profile="perp", symbols=["ABC"])
    >>> asset = run.proposal.assets[0]
    >>> [(t.notional_cap, t.max_leverage, t.mmf) for t in asset.tiers]
    [(1000000.0, 12.0, 0.037), (5000000.0, 5.0, 0.076), (20000000.0, 3.0, 0.143)]
    >>> asset.rationale.split(";")[0]
    'ABC: model garch-t, nu 2.94 on ABC 1d spot (example)'

    Lending parameters, and named options side by side (``assets`` stays the recommended one):

    >>> lend = riskparams.propose(store, profile="lending", symbols=["ABC"], save=False).proposal.assets[0]
    >>> lend.ltv < lend.liquidation_threshold
    True
    >>> run = riskparams.propose(store, profile="perp", symbols=["ABC"], options=["conservative", "aggressive"])
    >>> [(o.name, dict(o.assets[0].tiers[0])["max_leverage"]) for o in run.proposal.options]
    [('conservative', 5.0), ('aggressive', 20.0)]
    """
    profile = Profile.parse(profile, error=PolicyError)
    policy = RiskPolicy() if policy is None else policy
    if current is not None and current.profile != profile:
        raise PolicyError(f"the current parameters ({current.source}) are for {current.profile}, the proposal is "
                          f"for {profile}")
    opts = _option_policies(policy, options)
    end = None if as_of is None else to_utc(as_of, "as-of date")
    debt = (debt_asset or policy.lending.debt_asset).strip().upper()
    debt_stable = policy.lending.debt_is_stable(debt)
    curves: tuple[LiquidityCurve, ...] = ()
    if profile == "lending" and policy.lending.liquidity_curve:
        from riskparams.params_io import load_liquidity_curves

        curves = load_liquidity_curves(policy.lending.liquidity_curve)
    if profile == "lending" and not debt_stable and not store.find_series(debt):
        raise SeriesNotFoundError(f"the debt asset {debt} is not a stablecoin ({', '.join(policy.lending.stablecoins)}) "
                                  "and no series of it is stored: ingest its prices to price the collateral in it.")
    series, skipped = select_series(store, symbols, profile=profile, freq=freq, kind=kind,
                                    min_returns=policy.model.min_history, include_synthetic=include_synthetic)
    wanted = None if symbols is None else {s.strip().upper() for s in symbols}
    spec = fit_spec_for(policy, profile)
    assets: list[PerpAssetProposal | LendingAssetProposal] = []
    per_option: list[list[PerpAssetProposal | LendingAssetProposal]] = [[] for _ in opts]
    for i, (info, why) in enumerate(series):
        sym = info.symbol.upper()
        if progress is not None:
            progress(i, len(series), sym)
        try:
            prices = store.load_prices(info.series_id, end=end)
            if len(prices) < 3:
                raise HistoryError(f"{info.label} has {len(prices)} bars; a fit needs at least 3.")
            fit_px = prices
            if profile == "lending" and not debt_stable:
                if debt == sym:
                    raise PolicyError(f"the debt asset {debt} is the collateral itself")
                dinfo = store.resolve_series(debt, freq=info.freq, kind=info.kind)
                fit_px = ratio_prices(prices, store.load_prices(dinfo.series_id, end=end))
            run = fit_prices(store, info, fit_px, spec=spec, use_cache=use_cache)
        except RiskParamsError as exc:
            skipped.append(SkippedAsset(symbol=sym, reason=f"fit failed: {exc}"))
            continue
        except Exception as exc:  # arch and scipy raise many kinds; one asset must not stop the run
            skipped.append(SkippedAsset(symbol=sym, reason=f"fit failed ({type(exc).__name__}: {exc})"))
            continue
        window = policy.liquidity.adv_window_days
        if sym in policy.liquidity.adv_override:
            adv, adv_source = float(policy.liquidity.adv_override[sym]), "policy override"
        else:
            adv = average_daily_value(prices, info.freq, window)
            adv_source = f"stored {info.kind} volume x close of {info.label} over {window} days"
        if not (math.isfinite(adv) and adv > 0):
            skipped.append(SkippedAsset(
                symbol=sym, reason=f"no volume data to estimate ADV over the last {window} days; set "
                f"liquidity.adv_override.{sym} in the policy"))
            continue
        cur = None if current is None else current.assets.get(sym)
        lookback = lookback_vol(fit_px, info.freq, allow_gaps=policy.model.allow_gaps)
        label = info.label + ("" if profile == "perp" or debt_stable else f" in {debt}")

        est = run.estimate
        ctx = AssetContext(
            symbol=info.symbol, freq=info.freq, source=info.source, kind=info.kind, synthetic=info.synthetic,
            fingerprint=run.fingerprint, first_bar=iso_utc(prices.index[0]), last_bar=iso_utc(prices.index[-1]),
            spec_key=est.spec_key, model=f"{est.model.value}-{est.dist.value}", fallback=est.fallback, adv=adv,
            adv_source=adv_source, sigma_daily=daily_vol(est), selection=why,
            debt_asset=debt if profile == "lending" else None,
        )
        common = dict(profile=profile, adv=adv, current=cur, symbol=sym, lookback=lookback, series=label,
                      peers=peers, info=info, curves=curves, debt=debt)
        assets.append(replace(_propose_one(policy, est, **common), context=ctx))  # type: ignore[arg-type]
        for j, (_name, pol, _diff) in enumerate(opts):
            o_spec = fit_spec_for(pol, profile)
            o_est = est if _same_fit(o_spec, spec) else fit_prices(store, info, fit_px, spec=o_spec,
                                                                   use_cache=use_cache).estimate
            per_option[j].append(_propose_one(pol, o_est, **common))  # type: ignore[arg-type]
    if current is not None:
        done = {a.symbol for a in assets} | {s.symbol for s in skipped}
        for sym in current.assets:
            if sym not in done and (wanted is None or sym in wanted):
                skipped.append(SkippedAsset(symbol=sym, reason=f"in {current.source} but no stored series"))
    rec = policy.recommended_option
    option_records = tuple(
        ProposalOption(name=name, recommended=(name == rec), differences=diff,
                       assets=tuple(OptionAsset.of(a) for a in sorted(per_option[j], key=lambda a: a.symbol)))
        for j, (name, _pol, diff) in enumerate(opts)
    )
    prov: dict[str, Any] = {"packages": package_versions(), "model_specs": {spec.key(): spec.to_dict()}}
    if peers:
        prov["peers"] = sorted({f"{t.venue}: {t.source}" for t in peers})
    proposal = Proposal(
        profile=profile,
        as_of=None if end is None else iso_utc(end),
        policy={**policy.to_dict(), "policy_key": policy.key()},
        assets=tuple(sorted(assets, key=lambda a: a.symbol)),
        skipped=tuple(sorted(skipped, key=lambda s: s.symbol)),
        provenance=prov,
        options=option_records,
    )
    stored = save_proposal(store, proposal) if save and proposal.assets else None
    return ProposalRun(proposal, stored)


def sensitivity(
    store: Store,
    symbol: str,
    *,
    policy: RiskPolicy | None = None,
    horizons: Sequence[float] = (1.0, 4.0, 8.0, 24.0),
    confidences: Sequence[float] = (0.99, 0.995),
    freq: str | None = None,
    kind: str | None = None,
    as_of: datetime | pd.Timestamp | str | None = None,
    use_cache: bool = True,
) -> Sensitivity:
    """Tier 1 of one perpetual market over a grid of margin periods of risk and confidences.

    One fit (through the cache) gives the term structure; each cell runs the policy math with every tier's
    MPOR fixed at the cell's horizon (``mpor.fixed_hours``) and the cell's confidence. Tier-1 MMF is
    non-decreasing in both (the term structure is monotone in the horizon, tail measures in the confidence).

    Parameters
    ----------
    horizons : sequence of float
        Margin periods of risk, hours, each in (0, 720].
    confidences : sequence of float
        Each in [0.9, 0.9999].

    Raises
    ------
    PolicyError
        A horizon or confidence out of range, or an empty grid.
    SeriesNotFoundError
        The symbol is not stored.
    HistoryError
        Too little history.
    """
    from riskparams.config import policy_with

    policy = RiskPolicy() if policy is None else policy
    hs = sorted({float(h) for h in horizons})
    qs = sorted({float(q) for q in confidences})
    if not hs or not qs:
        raise PolicyError("sensitivity needs at least one horizon and one confidence")
    for h in hs:
        if not (math.isfinite(h) and 0 < h <= 720):
            raise PolicyError(f"horizons must be hours in (0, 720], got {h:g}")
    for q in qs:
        if not 0.9 <= q <= 0.9999:
            raise PolicyError(f"confidence must be in [0.9, 0.9999], got {q:g}")
    series, skipped = select_series(store, [symbol], profile="perp", freq=freq, kind=kind,
                                    min_returns=policy.model.min_history)
    if not series:
        raise HistoryError(skipped[0].reason if skipped else f"no series for {symbol}")
    info, _why = series[0]
    end = None if as_of is None else to_utc(as_of, "as-of date")
    prices = store.load_prices(info.series_id, end=end)
    if len(prices) < 3:
        raise HistoryError(f"{info.label} has {len(prices)} bars; a fit needs at least 3.")
    max_h = max(hs[-1], policy.mpor.max_hours)
    base = policy_with(policy, {"mpor.max_hours": max_h})
    est = fit_prices(store, info, prices, spec=fit_spec_for(base, "perp"), use_cache=use_cache).estimate
    sym = info.symbol.upper()
    adv = (float(policy.liquidity.adv_override[sym]) if sym in policy.liquidity.adv_override
           else average_daily_value(prices, info.freq, policy.liquidity.adv_window_days))
    if not (math.isfinite(adv) and adv > 0):
        raise HistoryError(f"no volume data to estimate the ADV of {info.label}; set liquidity.adv_override.{sym}")
    lookback = lookback_vol(prices, info.freq, allow_gaps=policy.model.allow_gaps)
    term = est.term
    assert term is not None
    cells = []
    for h in hs:
        for q in qs:
            pol = policy_with(base, {"confidence": q, "mpor.fixed_hours": h})
            prop = propose_tiers(est, pol, adv=adv, symbol=sym, lookback_vol=lookback)
            t0 = prop.tiers[0] if prop.tiers else None

            def es(method: str, h: float = h, q: float = q) -> float | None:
                if method not in term.methods:
                    return None
                return max(log_to_price_move(max(0.0, term.tail_measure(method, h, q, "es", t)), t)
                           for t in (Tail.LOWER, Tail.UPPER))

            cells.append(SensitivityCell(
                horizon_hours=h, confidence=q, tier1_mmf=1.0 if t0 is None else t0.mmf,
                tier1_max_leverage=1.0 if t0 is None else t0.max_leverage, es_fitted=float(es("fitted") or 0.0),
                es_fhs=es("fhs"), es_empirical=es("empirical"), nu=est.nu))
    return Sensitivity(symbol=sym, series=info.label, model=term.law, basis=term.basis(hs[0]), cells=tuple(cells))


# -------------------------------------------------------------------------------------------------
# backtests
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BacktestRun:
    """A computed backtest report and, when saved, its stored record (and the proposal it was attached to).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> proposal = riskparams.propose(store, profile="perp", symbols=["ABC"])
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.backtest_policy(store, profile="perp", spec=spec, attach=proposal.id)
    >>> run.attached_to == proposal.id, run.stored.id == run.id
    (True, True)
    >>> sorted({row["parameter_set"] for row in run.to_dict()["results"]})
    ['policy', 'proposal-...']
    """

    report: BacktestReport
    stored: StoredReport | None
    attached_to: str | None = None

    @property
    def id(self) -> str:
        """The content hash of the report."""
        return self.stored.id if self.stored is not None else self.report.id

    @property
    def backtest(self) -> StoredBacktest:
        """The report as the store reads it back (typed, read-only): the stored record's, or, unsaved, the
        report's content read the same way."""
        if self.stored is not None:
            return self.stored.backtest
        return StoredBacktest.from_content(self.report.content(paths=False), check_hash=False)

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
    kind: str | None = None,
    profile: str = "perp",
    end: datetime | pd.Timestamp | str | None = None,
    min_returns: int = 500,
) -> tuple[list[AssetData], list[SkippedAsset]]:
    """The price series to backtest: one per symbol, chosen as for a proposal (:func:`select_series`: the
    ``freq``/``kind`` asked for, else the profile's preference), bars up to ``end``."""
    from riskparams.backtest import AssetData

    stop = None if end is None else to_utc(end, "as-of date")
    series, skipped = select_series(store, symbols, profile=profile, freq=freq, kind=kind, min_returns=min_returns)
    out = []
    for info, _why in series:
        prices = store.load_prices(info.series_id, end=stop)
        out.append(AssetData(symbol=info.symbol.upper(), freq=info.freq, prices=prices, source=info.source,
                             kind=info.kind, synthetic=info.synthetic, fingerprint=data_fingerprint(prices)))
    return out, skipped


def backtest(
    store: Store,
    *,
    profile: Profile | str,
    policy: RiskPolicy | None = None,
    current: CurrentParams | None = None,
    compare: list[str] | None = None,
    symbols: list[str] | None = None,
    freq: str | None = None,
    kind: str | None = None,
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
        Default: every stored symbol (one series each, chosen as for a proposal).
    freq, kind : str, optional
        Use series of this frequency / kind only (see :func:`select_series`).
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

    Examples
    --------
    ``riskparams.backtest_policy`` is this function. A short run: monthly proposals over the last nine
    months of the history, a 250-bar estimation window, no Monte-Carlo p-value for the ES test:

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.backtest_policy(store, profile="perp", symbols=["ABC"], spec=spec)
    >>> row = run.report.results()[0]
    >>> row.symbol, row.parameter_set, row.n, row.exceptions, row.traffic_light
    ('ABC', 'policy', 282, 0, 'green')
    """
    from riskparams.backtest import BacktestSpec, fixed_from_current, run_backtest

    profile = Profile.parse(profile, error=PolicyError)
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
    data, skipped = backtest_data(store, symbols, freq=freq, kind=kind, profile=profile, end=spec.end,
                                  min_returns=policy.model.min_history)
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


def stored_backtest(report: StoredBacktest | StoredReport | Mapping[str, Any]) -> StoredBacktest:
    """A stored backtest report, typed: a :class:`StoredBacktest` as is, a :class:`StoredReport`'s
    :attr:`~StoredReport.backtest`, or stored content read with :meth:`StoredBacktest.from_content`.

    Raises
    ------
    DataError
        Content of another format version (the message names it) or shape.
    """
    if isinstance(report, StoredBacktest):
        return report
    content = report.content if isinstance(report, StoredReport) else report
    try:
        return StoredBacktest.from_content(content, check_hash=False)
    except ValueError as exc:
        raise DataError(str(exc)) from None


def backtest_exception_marks(report: StoredBacktest | Mapping[str, Any], symbol: str
                             ) -> tuple[dict[str, tuple[int, list[int]]], str]:
    """The exceptions the Backtest page's chart marks for one asset, counted as the results table counts them.

    The table (:meth:`riskparams.backtest.BacktestReport.results`) counts each parameter set's **headline side**
    (its ``side``: long, short or the worse of both; lending: the collateral drop) on the **non-overlapping
    sample** (every ``horizon_bars``-th observation from the first). The stored paths hold one point per bar for
    daily series, but only the last bar of each UTC day for intraday ones.

    Returns
    -------
    marks : dict
        Set name -> ``(count, positions)``: ``count`` is the table's exception count; ``positions`` index the
        drawn points where the set's headline-side move exceeded its margin, in the same sample. Daily series:
        ``len(positions) == count``; intraday: the exceptions that fall on the drawn (end-of-day) bars.
    note : str
        One sentence saying which exceptions the legend and the table count (and, intraday, what the crosses
        show).
    """
    bt = stored_backtest(report)
    asset = bt.asset(symbol)
    h = max(1, int(asset.horizon_bars))
    every_bar = len(asset.path_times) == int(asset.bars)  # daily series: one drawn point per bar
    rows = {r.parameter_set: r for r in bt.results if r.symbol == asset.symbol}
    lending = bt.profile == "lending"
    longs, shorts = asset.adverse("long"), asset.adverse("short")
    marks: dict[str, tuple[int, list[int]]] = {}
    sides = []
    for st in asset.sets:
        side = "long" if lending else st.side
        sides.append(side)
        moves = (longs if side == "long" else shorts if side == "short" else
                 [None if a is None or b is None else max(a, b) for a, b in zip(longs, shorts, strict=True)])
        pos = [i for i, (v, m) in enumerate(zip(moves, st.margin_path, strict=False))
               if v is not None and m is not None and v > m and (not every_bar or i % h == 0)]
        row = rows.get(st.name)
        marks[st.name] = (len(pos) if row is None else int(row.exceptions), pos)
    words = {"long": "long positions' adverse move", "short": "short positions' adverse move",
             "both": "worse of the long and short adverse moves"}
    which = ("the collateral drop beyond the room" if lending else
             " / ".join(words.get(x, x) for x in dict.fromkeys(sides)) + " beyond the tier-1 MMF in force")
    sample = ("every observation (a one-bar horizon)" if h == 1 else
              f"the non-overlapping sample (every {h}th {asset.freq} observation from the first)")
    note = f"Exceptions in the legend, the badges and the table: the {which}, over {sample}."
    if not every_bar:
        note += (f" The chart draws the last {asset.freq} bar of each UTC day, so its crosses mark only the "
                 "exceptions on those bars.")
    return marks, note


def backtest_figures(report: StoredBacktest | Mapping[str, Any], symbol: str) -> dict[str, Any]:
    """Figures of a stored backtest report (stored with paths; typed, or its content): ``margins`` (margin in
    force of each set against the realised adverse moves of ``symbol``, exceptions marked and counted as the
    results table counts them, see :func:`backtest_exception_marks`), ``exceptions_note`` (the sentence saying
    which exceptions), ``fund`` (insurance-fund paths of ``symbol``) and ``sets`` (every asset and parameter set
    side by side).

    Raises
    ------
    DataError
        ``symbol`` is not in the report, or the content has no paths.
    """
    from riskparams import charts

    bt = stored_backtest(report)
    asset = next((a for a in bt.assets if a.symbol == symbol.upper()), None)
    if asset is None or not asset.has_paths:
        raise DataError(f"the backtest has no paths for {symbol!r} (assets: {', '.join(bt.symbols)}).")
    ts: Any = pd.to_datetime(list(asset.path_times), utc=True)
    lending = bt.profile == "lending"
    longs, shorts = asset.adverse("long"), asset.adverse("short")
    if lending:
        adverse = list(longs)
    else:
        adverse = [None if a is None or b is None else max(a, b) for a, b in zip(longs, shorts, strict=True)]
    margins = {s.name: list(s.margin_path) for s in asset.sets}
    fund = {s.name: list(s.insurance_fund_path) for s in asset.sets}
    label = ("room 1 - LT(1 + LB)", "collateral drop over the horizon") if lending else (
        "tier-1 MMF in force", "adverse move over the horizon (worse of long and short)")
    marks, note = backtest_exception_marks(bt, asset.symbol)
    return {
        "margins": charts.margin_vs_moves(ts, adverse, margins, title=f"{asset.symbol}: margin in force and "
                                          "realised adverse moves", margin_label=label[0], move_label=label[1],
                                          exceptions=marks),
        "exceptions_note": note,
        "fund": charts.insurance_fund_paths(ts, fund, title=f"{asset.symbol}: insurance fund, same population "
                                            "under each parameter set"),
        "sets": charts.parameter_sets_side_by_side([r.to_dict() for r in bt.results]),
    }


# -- book impact (issue 14, first slice) ------------------------------------------------------------


def impact_tables(params: str | Path, store: Store | None = None) -> tuple[str, dict[str, Any], dict[str, float] | None,
                                                                          list[str]]:
    """The perpetual tier tables of a parameter set: a current-parameters file (:func:`riskparams.params_io.
    load_current`) or a stored proposal id (or unique prefix, read from ``store``).

    Returns
    -------
    (label, tables, covered_moves, notes)
        ``tables`` maps symbol -> tier table; ``covered_moves`` maps symbol -> the proposal's tier-1 covered move
        (None for a file: it holds no covered move).

    Raises
    ------
    DataError
        Not a file and not a proposal id, or a lending proposal.
    """
    from riskparams.params_io import load_current
    from riskparams.tiers import TierTable

    ref = str(params)
    path = Path(ref).expanduser()
    if path.exists() or path.suffix.lower() in (".csv", ".json"):
        cur = load_current(path, "perp")
        tables: dict[str, Any] = {s: a.tiers for s, a in cur.assets.items() if isinstance(a, CurrentPerp)}
        return path.name, tables, None, ["current parameters carry no close-out cost: bad debt counts the price "
                                         "loss beyond equity only."]
    if not (len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref.lower())):
        raise DataError(f"--params {ref}: no such file, and not a stored proposal id.")
    if store is None:
        raise DataError(f"--params {ref}: a stored proposal needs a store.")
    stored = get_proposal(store, ref)
    if stored.profile != Profile.PERP:
        raise DataError(f"proposal {stored.id[:12]} is for {stored.profile}; impact on positions needs a perp "
                        "proposal.")
    prop = Proposal.from_content(stored.content)
    tables, moves, notes = {}, {}, []
    for a in prop.assets:
        if isinstance(a, PerpAssetProposal) and a.tiers:
            tables[a.symbol] = TierTable(a.tiers, symbol=a.symbol)
            moves[a.symbol] = float(a.covered.final)
        elif isinstance(a, PerpAssetProposal):
            notes.append(f"{a.symbol} is {a.status} in the proposal: no tier table.")
    return f"proposal {stored.id[:12]}", tables, moves, notes


def joint_daily_returns(store: Store, symbols: Sequence[str]) -> np.ndarray:
    """Simple daily close-to-close returns of ``symbols`` on the days all of them have (shape (days, k), columns
    in the order given), from each symbol's daily series (:func:`load_series`).

    Raises
    ------
    DataError
        A symbol without a daily series, or fewer than 30 common days.
    """
    closes = {}
    for sym in symbols:
        try:
            _, frame = load_series(store, sym, freq="1d")
        except SeriesNotFoundError:
            raise DataError(f"no daily price series of {sym} in the store: the simulation draws from joint daily "
                            "returns.") from None
        closes[sym] = frame["close"]
    joint = pd.DataFrame(closes).dropna()
    rets = joint.pct_change().dropna()
    if len(rets) < 30:
        raise DataError(f"only {len(rets)} days of joint daily returns of {', '.join(symbols)}; the simulation "
                        "needs at least 30.")
    return rets[list(symbols)].to_numpy(dtype=float)


def impact(params: str | Path, positions: str | Path, *, store: Store | None = None, move: float | None = None,
           top_n: int = 5, sims: int = 0, horizon_days: int = 1, seed: int = 0) -> ImpactReport:
    """The impact of a parameter set on a book of perpetual positions (:func:`riskparams.book.impact.book_impact`).

    Parameters
    ----------
    params : str or Path
        A current-parameters file or a stored proposal id (needs ``store``).
    positions : str or Path
        A positions CSV or Parquet file (:func:`riskparams.book.load_positions`, profile perp).
    store : Store, optional
    move : float, optional
        Covered move for every symbol (fraction in (0, 1)); default the proposal's tier-1 covered move per
        asset; a parameters file without ``move`` has no covered-move scenario.
    top_n : int
        Accounts in the concentration share.
    sims, horizon_days, seed : int
        With ``sims > 0`` (needs ``store``): VaR of insolvent debt and LaR from ``sims`` bootstraps of
        ``horizon_days`` joint daily returns (:func:`riskparams.book.impact.simulate_impact`).

    Returns
    -------
    riskparams.book.impact.ImpactReport

    Raises
    ------
    DataError
        A bad file, an unknown id, or a symbol of the book without a tier table.
    """
    from riskparams.book import Book, load_positions
    from riskparams.book.impact import book_impact, simulate_impact

    label, tables, covered, notes = impact_tables(params, store)
    book = load_positions(positions, "perp")
    assert isinstance(book, Book)
    if move is not None:
        if not (math.isfinite(move) and 0 < move < 1):
            raise DataError(f"--move {move:g} must be a price move in (0, 1), e.g. 0.1 for 10%.")
        covered = {s: move for s in book.symbol_ids}
    elif covered is None:
        notes.append("no covered move is known for a parameters file: give --move to add the covered-move scenario.")
    else:
        covered = {s: covered[s] for s in book.symbol_ids if s in covered}
    report = book_impact(book, tables, covered_moves=covered, top_n=top_n, label=label, notes=notes)
    if sims > 0:
        if store is None:
            raise DataError("the simulation needs the store's daily prices.")
        returns = joint_daily_returns(store, book.symbol_ids)
        report = replace(report, simulation=simulate_impact(book, tables, returns, n_sims=sims,
                                                            horizon_days=horizon_days, seed=seed))
    return report

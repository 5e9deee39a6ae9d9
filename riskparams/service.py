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
    price: float | None = None,
) -> PerpAssetProposal | LendingAssetProposal:
    """One asset's proposal under one policy (the pure math, with the service's market inputs; ``price``: the
    last close, quote per unit, for the lending caps' ``cap_price``)."""
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
    venue = policy.lending.liquidity_venue
    curve = next((c for c in curves if c.symbol == symbol and (not venue or c.venue == venue.lower())), None)
    return propose_lending(est, policy, adv=adv, current=current if isinstance(current, CurrentLending) else None,
                           symbol=symbol, lookback_vol=lookback, series=series, slippage=slip,
                           liquidity_source=source, debt_asset=debt, price=price,
                           slippage_curve=None if curve is None else curve.slippage)


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
                      peers=peers, info=info, curves=curves, debt=debt, price=float(prices["close"].iloc[-1]))
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


# -- policy sweeps (issue 16) -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepRun:
    """A computed policy sweep and, when saved, its stored record (and the proposal it was attached to).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.sweep(store, profile="perp", grid=["confidence=0.99,0.995"], spec=spec)
    >>> run.report.fits, [v.changes for v in run.report.variants]
    (2, [{'confidence': 0.99}, {'confidence': 0.995}])
    """

    report: Any  # riskparams.backtest.sweep.SweepReport
    stored: Any  # riskparams.store.sweep_records.StoredSweep | None
    attached_to: str | None = None
    wall_s: float = 0.0

    @property
    def id(self) -> str:
        """The content hash of the sweep (the same under every executor)."""
        return str(self.stored.id if self.stored is not None else self.report.id)

    def to_dict(self) -> dict[str, Any]:
        """JSON for ``riskparams sweep --json``: ``id, created_at, stored_now, attached_to, executor, tasks,
        tasks_cached, wall_s`` (this run), then the content (``profile, grid, fits, n_variants, variants,
        frontier, ...``)."""
        content = self.report.content()
        head = {"id": self.id, "created_at": None if self.stored is None else self.stored.created_at_iso,
                "stored_now": bool(self.stored is not None and self.stored.is_new), "attached_to": self.attached_to,
                "executor": self.report.executor, "tasks": self.report.tasks,
                "tasks_cached": self.report.tasks_cached, "wall_s": clean_float(round(self.wall_s, 3))}
        return {**head, **content}


def sweep(
    store: Store,
    *,
    profile: Profile | str,
    grid: Any,
    policy: RiskPolicy | None = None,
    symbols: list[str] | None = None,
    freq: str | None = None,
    kind: str | None = None,
    spec: BacktestSpec | None = None,
    current: CurrentParams | None = None,
    executor: Any = None,
    scheduler: str | None = None,
    chunk: int | None = None,
    cache_dir: str | Path | None = None,
    attach: str | None = None,
    actor: str | None = None,
    save: bool = True,
    progress: ProgressFn | None = None,
    positions: str | Path | None = None,
) -> SweepRun:
    """Backtest every variant of a policy grid walk-forward on stored series, the fits shared, and find the
    frontier of average margin against bad debt (:mod:`riskparams.backtest.sweep`).

    Parameters
    ----------
    profile : {'perp', 'lending'}
    grid : SweepGrid, list of ``'KEY=V1,V2'`` or mapping key -> values
        Policy keys (as :func:`riskparams.config.policy_with` takes them) and their values.
    policy : RiskPolicy, optional
        The base policy (default ``RiskPolicy()``).
    symbols, freq, kind : optional
        The series, chosen as for a backtest (:func:`backtest_data`).
    spec : BacktestSpec, optional
        Period, cadence, engine, ... (its ``profile`` is replaced by ``profile``; default ``es_sims=0``: the
        sweep reports no ES backtest).
    current : CurrentParams, optional
        Parameters in force at the start of every replay.
    executor : ExecutorSpec or str, optional
        ``serial`` (default), ``threads[:N]``, ``processes[:N]``, ``dask[:N]``; ``scheduler`` joins an existing
        Dask cluster.
    chunk : int, optional
        Assets per task (default: all assets over twice the workers, at most 8).
    cache_dir : path, optional
        Finished tasks by content key: a rerun skips them.
    attach : str, optional
        A stored proposal id (same profile) to attach the stored sweep to.
    save : bool
        Store the sweep (one transaction, after every task finished: a failed sweep stores nothing).
    positions : path, optional
        Perpetual positions (:func:`riskparams.book.load_positions`): each variant also gets
        ``var_insolvent_debt``, the 99th percentile of the book's one-day bad debt over 1,000 bootstrapped joint
        daily moves (:func:`joint_daily_returns`) under the tier tables the variant had in force at the end.

    Raises
    ------
    PolicyError
        A bad grid key or value, an unknown profile, ``attach`` without ``save`` or of the other profile.
    SpecError
        A bad executor or scheduler address.
    HistoryError
        No asset could be backtested.

    Examples
    --------
    Two confidences on one synthetic asset, monthly proposals: both share the walk-forward fits (GARCH and
    GJR; EGARCH sits out beyond one bar), the higher confidence costs margin:

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.sweep(store, profile="perp", grid={"confidence": [0.99, 0.995]}, spec=spec)
    >>> low, high = run.report.variants
    >>> run.report.fits, high.avg_margin > low.avg_margin, len(run.id)
    (2, True, 64)
    """
    import time

    from riskparams.backtest import BacktestSpec
    from riskparams.backtest.sweep import SweepGrid, parse_grid, run_sweep
    from riskparams.executors import ExecutorSpec
    from riskparams.store.sweep_records import attach_sweep, save_sweep

    t0 = time.perf_counter()
    profile = Profile.parse(profile, error=PolicyError)
    policy = RiskPolicy() if policy is None else policy
    spec = BacktestSpec(profile=profile, es_sims=0) if spec is None else replace(spec, profile=profile)
    if isinstance(grid, SweepGrid):
        g = grid
    elif isinstance(grid, Mapping):
        g = SweepGrid(axes=tuple((str(k), tuple(v)) for k, v in grid.items()))
    else:
        g = parse_grid(list(grid))
    ex = executor if isinstance(executor, ExecutorSpec) else ExecutorSpec.parse(executor, scheduler=scheduler)
    if current is not None and current.profile != profile:
        raise PolicyError(f"the current parameters ({current.source}) are for {current.profile}, the sweep is for "
                          f"{profile}")
    if attach is not None and not save:
        raise PolicyError("attaching a sweep needs it stored (save=True)")
    target = None
    if attach is not None:
        target = get_proposal(store, attach)
        if target.profile != profile:
            raise PolicyError(f"proposal {target.id[:12]} is for {target.profile}, the sweep is for {profile}")
    data, skipped = backtest_data(store, symbols, freq=freq, kind=kind, profile=profile, end=spec.end,
                                  min_returns=policy.model.min_history)
    if not data:
        reasons = "; ".join(f"{s.symbol}: {s.reason}" for s in skipped) or "no stored series"
        raise HistoryError(f"no asset can be swept ({reasons}).")
    book, book_returns = None, None
    if positions is not None:
        from riskparams.book import load_positions

        if profile is not Profile.PERP:
            raise PolicyError("--positions is supported for perp sweeps only")
        from riskparams.book import Book

        book = load_positions(positions, "perp")
        assert isinstance(book, Book)
        book_returns = joint_daily_returns(store, list(book.symbol_ids))
    if chunk is None:
        chunk = max(1, min(8, -(-len(data) // (2 * ex.n_workers))))
    report = run_sweep(data, policy, g, spec, current=None if current is None else dict(current.assets), executor=ex,
                       chunk=chunk, cache_dir=cache_dir, progress=progress,
                       provenance={"packages": package_versions()}, book=book, book_returns=book_returns)
    if skipped:
        report = replace(report, skipped=tuple(sorted([*report.skipped, *((-1, s.symbol, s.reason) for s in skipped)])))
    stored = save_sweep(store, report.content()) if save else None
    attached = None
    if target is not None and stored is not None:
        attach_sweep(store, target.id, stored.id, actor=actor)
        attached = target.id
    wall = time.perf_counter() - t0
    return SweepRun(replace(report, wall_s=wall), stored, attached, wall)


def get_sweep(store: Store, sweep_id: str) -> Any:
    """A stored sweep by id or unique prefix, hash verified (:class:`riskparams.store.sweep_records.StoredSweep`)."""
    from riskparams.store.sweep_records import get_sweep as _get

    return _get(store, sweep_id)


def list_sweeps(store: Store, *, limit: int = 100) -> list[dict[str, Any]]:
    """Stored sweeps, newest first: ``id, profile, created_at, symbols, variants, attachments``."""
    from riskparams.store.sweep_records import list_sweeps as _list

    return _list(store, limit=limit)


def attach_sweep(store: Store, proposal_id: str, sweep_id: str, *, actor: str | None = None) -> bool:
    """Attach a stored sweep to a stored proposal; True when a new link was written."""
    from riskparams.store.sweep_records import attach_sweep as _attach

    return _attach(store, proposal_id, sweep_id, actor=actor)


def attached_sweep(store: Store, proposal_id: str) -> dict[str, Any] | None:
    """The content (with ``id``) of the sweep attached last to a proposal, or None (for exports)."""
    from riskparams.store.sweep_records import latest_attached_sweep

    got = latest_attached_sweep(store, proposal_id)
    return None if got is None else {"id": got.id, **got.content}


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


def joint_daily_closes(store: Store, symbols: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Daily closes of ``symbols`` on the union of their days, for stress windows.

    Returns
    -------
    (days, closes, missing)
        ``days`` datetime64[D] of shape (m,), ascending; ``closes`` shape (m, k) in the order given, NaN where a
        symbol has no bar; ``missing`` the symbols without a daily series (all-NaN columns).
    """
    import numpy as np

    closes, missing = {}, []
    for sym in symbols:
        try:
            _, frame = load_series(store, sym, freq="1d")
        except SeriesNotFoundError:
            missing.append(sym)
            continue
        idx = pd.DatetimeIndex(frame.index).tz_convert("UTC").tz_localize(None).normalize()
        closes[sym] = pd.Series(frame["close"].to_numpy(dtype=float), index=idx)
    joint = pd.DataFrame(closes, columns=list(symbols)).sort_index()
    joint = joint[~joint.index.duplicated(keep="last")]
    days = joint.index.to_numpy().astype("datetime64[D]") if len(joint) else np.array([], dtype="datetime64[D]")
    return days, joint.to_numpy(dtype=float).reshape(len(joint), len(symbols)), missing


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
           top_n: int = 5, sims: int = 0, horizon_days: int = 1, seed: int = 0,
           windows: Sequence[Any] | None = None, hypothetical: bool = True, close_factor: float = 1.0,
           slice_above: float | None = None, backstop: bool = False, insurance_fund: float | str = 0.0,
           adl: bool = False, penalty_to_fund: float = 0.0, fund_target: str = "cover-2",
           fund_percentile: float = 99.0, rho: float | None = None) -> ImpactReport:
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
    windows : sequence of StressWindow or str, optional
        Joint historical stress windows (``NAME=YYYY-MM-DD:YYYY-MM-DD`` strings allowed); default the named ones
        (:data:`riskparams.book.stress.STRESS_WINDOWS`); ``()`` for none. Read from ``store``'s daily closes; a
        window the data do not cover is reported "not in the data". Without a store no stress is run (a note
        says so).
    hypothetical : bool
        Add the correlated hypothetical shocks (lead -30 % / -50 %, stressed correlation ``rho``, default 0.9).
    close_factor, slice_above, backstop, insurance_fund, adl, penalty_to_fund, fund_target, fund_percentile
        The liquidation waterfall (:class:`riskparams.book.waterfall.WaterfallSpec`) the stress paths run
        through; ``insurance_fund="target"`` starts the fund at the target of the ``fund_target`` rule. The
        defaults are today's behaviour (full close, no fund, no ADL).
    rho : float, optional
        Stressed correlation of the hypothetical shocks, in [0, 1].

    Returns
    -------
    riskparams.book.impact.ImpactReport
        With ``stress`` set when stress paths were run.

    Raises
    ------
    DataError
        A bad file, an unknown id, or a symbol of the book without a tier table.

    Examples
    --------
    One isolated long of 100k notional with 1k of equity, against a 2.5 % maintenance margin:

    >>> import riskparams, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "book.csv").write_text("account,symbol,side,notional,equity,margin_mode\\n"
    ...                                      "a1,BTC,long,100000,1000,isolated\\n")
    >>> _ = (folder / "current.csv").write_text("symbol,notional_cap,max_leverage,maintenance_rate,unit\\n"
    ...                                         "BTC,,20,0.025,fraction\\n")
    >>> r = riskparams.impact(folder / "current.csv", folder / "book.csv", move=0.1)
    >>> r.liquidatable_now, r.liquidatable_now_notional  # 1k of equity < 2.5k of margin: liquidatable now
    (1, 100000.0)
    >>> r.bad_debt_at_move  # at -10 %: a loss of 10k against 1k of equity (no close-out cost in a file)
    9000.0
    """
    from riskparams.book import Book, load_positions
    from riskparams.book.impact import book_impact, simulate_impact

    spec, size_fund = _waterfall_spec(close_factor=close_factor, slice_above=slice_above, backstop=backstop,
                                      insurance_fund=insurance_fund, adl=adl, penalty_to_fund=penalty_to_fund,
                                      fund_target=fund_target, fund_percentile=fund_percentile)
    if rho is not None and not (isinstance(rho, int | float) and math.isfinite(rho) and 0 <= rho <= 1):
        raise DataError(f"--rho {rho} must be a stressed correlation in [0, 1], e.g. 0.9.")
    wins = _stress_windows(windows)
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
    if sims > 0 and store is None:
        raise DataError("the simulation needs the store's daily prices.")
    if store is None:
        if wins or hypothetical:
            report = replace(report, notes=(*report.notes, "stress windows and correlated shocks need the store's "
                                            "daily prices: not run."))
    elif wins or hypothetical:
        report = replace(report, stress=_book_stress(store, book, tables, wins, hypothetical=hypothetical, spec=spec,
                                                     size_fund=size_fund, rho=rho))
    if sims > 0:
        assert store is not None
        # the simulated bad debt is also set against the fund when one is asked for (a number, or the target)
        fund = None
        if size_fund or spec.insurance_fund > 0 or spec.adl:
            fund = report.stress.spec.insurance_fund if report.stress is not None else spec.insurance_fund
        returns = joint_daily_returns(store, book.symbol_ids)
        report = replace(report, simulation=simulate_impact(book, tables, returns, n_sims=sims,
                                                            horizon_days=horizon_days, seed=seed,
                                                            insurance_fund=fund))
    return report


def _waterfall_spec(*, close_factor: float, slice_above: float | None, backstop: bool, insurance_fund: float | str,
                    adl: bool, penalty_to_fund: float, fund_target: str, fund_percentile: float) -> tuple[Any, bool]:
    """The waterfall spec of :func:`impact`'s arguments, with messages naming the command's options."""
    from riskparams.book.waterfall import WaterfallSpec

    def bad(flag: str, value: Any, want: str) -> DataError:
        return DataError(f"{flag} {value} must be {want}.")

    if not (isinstance(close_factor, int | float) and math.isfinite(close_factor) and 0 < close_factor <= 1):
        raise bad("--close-factor", close_factor, "a share of the position in (0, 1], e.g. 0.5")
    if not (isinstance(penalty_to_fund, int | float) and math.isfinite(penalty_to_fund) and 0 <= penalty_to_fund <= 1):
        raise bad("--penalty-to-fund", penalty_to_fund, "a share of the penalty in [0, 1], e.g. 0.5")
    if slice_above is not None and not (isinstance(slice_above, int | float) and math.isfinite(slice_above)
                                        and slice_above > 0):
        raise bad("--slice-above", slice_above, "a notional above 0 in quote currency")
    size_fund = isinstance(insurance_fund, str) and insurance_fund.strip().lower() == "target"
    fund = 0.0
    if not size_fund:
        try:
            fund = float(insurance_fund)
        except (TypeError, ValueError):
            raise bad("--insurance-fund", insurance_fund, "an amount >= 0 in quote currency, or 'target'") from None
        if not (math.isfinite(fund) and 0 <= fund <= 1e15):
            raise bad("--insurance-fund", insurance_fund, "an amount >= 0 in quote currency, or 'target'")
    if fund_target not in ("cover-2", "percentile"):
        raise bad("--fund-target", fund_target, "'cover-2' or 'percentile'")
    if not (isinstance(fund_percentile, int | float) and 0 < fund_percentile <= 100):
        raise bad("--fund-percentile", fund_percentile, "in (0, 100]")
    spec = WaterfallSpec(close_factor=float(close_factor), slice_above=slice_above, backstop=bool(backstop),
                         penalty_to_fund=float(penalty_to_fund), insurance_fund=fund, adl=bool(adl),
                         fund_target=fund_target, fund_percentile=float(fund_percentile))
    return spec, size_fund


def _stress_windows(windows: Sequence[Any] | None) -> list[Any]:
    from riskparams.book.stress import STRESS_WINDOWS, StressWindow, parse_window

    if windows is None:
        return list(STRESS_WINDOWS)
    out = [w if isinstance(w, StressWindow) else parse_window(str(w)) for w in windows]
    names = [w.name for w in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise DataError(f"--window {dup}: two stress windows have this name.")
    return out


def _book_stress(store: Store, book: Any, tables: Mapping[str, Any], windows: Sequence[Any], *, hypothetical: bool,
                 spec: Any, size_fund: bool, rho: float | None, carry_fund: bool = False,
                 paths: tuple[list[Any], list[str]] | None = None) -> Any:
    """The stress windows and hypothetical shocks of ``book`` from the store's daily closes, through the waterfall
    (``paths``: those of :func:`_stress_paths` for this book, when several parameter sets share them)."""
    from riskparams.book.stress import stress_book

    got, notes = paths if paths is not None else _stress_paths(store, book, windows, hypothetical=hypothetical, rho=rho)
    return stress_book(book, tables, got, spec, size_fund=size_fund, carry_fund=carry_fund, notes=notes)


def _stress_paths(store: Store, book: Any, windows: Sequence[Any], *, hypothetical: bool,
                  rho: float | None) -> tuple[list[Any], list[str]]:
    """The joint stress paths of ``book``'s symbols (windows, then correlated shocks) and the notes on what could
    not run; one read of the store's daily closes. They do not depend on the parameter set."""
    import numpy as np

    from riskparams.book.stress import DEFAULT_RHO, hypothetical_paths, window_path

    syms = list(book.symbol_ids)
    days, closes, missing = joint_daily_closes(store, syms)
    notes = []
    if missing:
        notes.append(f"no daily price series of {', '.join(missing)} in the store: windows need it.")
    paths = [window_path(days, closes, syms, w) for w in windows]
    for p in paths:
        if not p.in_data:
            notes.append(f"stress window {p.name} ({p.start} to {p.end}) is not in the data for "
                         f"{', '.join(p.missing)}.")
    if hypothetical:
        joint = closes[np.all(np.isfinite(closes), axis=1)]
        rets = joint[1:] / joint[:-1] - 1.0 if len(joint) > 1 else np.empty((0, len(syms)))
        if missing or len(rets) < 30:
            notes.append("correlated shocks not run: they need at least 30 days of joint daily returns of "
                         f"{', '.join(syms)} (found {len(rets)}).")
        else:
            per_sym = np.bincount(book.symbols, weights=book.notionals, minlength=len(syms))
            paths += hypothetical_paths(syms, per_sym, rets, rho=DEFAULT_RHO if rho is None else float(rho))
    return paths, notes


def portfolio_stress(store: Store, params: str | Path, positions: Any, *, windows: Sequence[Any] | None = None,
                     hypothetical: bool = True, carry_fund: bool = True, close_factor: float = 1.0,
                     slice_above: float | None = None, backstop: bool = False, insurance_fund: float | str = 0.0,
                     adl: bool = False, penalty_to_fund: float = 0.0, fund_target: str = "cover-2",
                     fund_percentile: float = 99.0, rho: float | None = None) -> Any:
    """The joint stress windows (and hypothetical shocks) of a book against ONE insurance fund, for a portfolio
    backtest (``riskparams backtest --positions FILE --portfolio`` can call this).

    Parameters
    ----------
    store : Store
        Its daily closes give the windows.
    params : str or Path
        A current-parameters file or a stored proposal id (:func:`impact_tables`).
    positions : str, Path or Book
        A positions file (profile perp) or a :class:`~riskparams.book.Book`.
    carry_fund : bool
        The windows run in the order given (the named ones are chronological), the fund carried from one to the
        next (default); False starts each from ``insurance_fund``.
    windows, hypothetical, close_factor, slice_above, backstop, insurance_fund, adl, penalty_to_fund, fund_target,
    fund_percentile, rho
        As in :func:`impact`.

    Returns
    -------
    riskparams.book.stress.StressImpact
        ``to_dict()`` gives ``stress_windows``, ``waterfall``, ``fund_target``, ``fund_adequacy``,
        ``socialised_loss``, ``insurance_fund_min``.
    """
    from riskparams.book import Book, load_positions

    spec, size_fund = _waterfall_spec(close_factor=close_factor, slice_above=slice_above, backstop=backstop,
                                      insurance_fund=insurance_fund, adl=adl, penalty_to_fund=penalty_to_fund,
                                      fund_target=fund_target, fund_percentile=fund_percentile)
    if rho is not None and not (isinstance(rho, int | float) and math.isfinite(rho) and 0 <= rho <= 1):
        raise DataError(f"--rho {rho} must be a stressed correlation in [0, 1], e.g. 0.9.")
    wins = _stress_windows(windows)
    _, tables, _, _ = impact_tables(params, store)
    book = positions if isinstance(positions, Book) else load_positions(positions, "perp")
    assert isinstance(book, Book)
    return _book_stress(store, book, tables, wins, hypothetical=hypothetical, spec=spec, size_fund=size_fund,
                        rho=rho, carry_fund=carry_fund)


# -- impact of a proposal's parameter sets on a book (issue 14: propose --positions, the Book page, export) ----

IMPACT_SETS_NOTE = ("every set is evaluated under the same moves (the proposal's covered move per asset, the "
                    "standard shocks); a set whose tiers carry no close-out cost borrows the proposal's cost at each "
                    "tier's floor, so sets differ only by their margins.")
"""How :func:`proposal_impact` makes the parameter sets comparable (said in every payload's notes)."""


WATERFALL_DEFAULTS: dict[str, Any] = {"close_factor": 1.0, "slice_above": None, "backstop": False,
                                      "insurance_fund": "target", "adl": True, "penalty_to_fund": 0.0,
                                      "fund_target": "cover-2", "fund_percentile": 99.0}
"""The liquidation waterfall :func:`proposal_impact` runs stress paths through: full close, an insurance fund
sized to the Cover-2 target of each set (the stress loss of the two accounts losing most, as clearing houses size
default funds) and auto-deleveraging once it is empty, as perpetual venues run (``riskparams impact`` takes other
settings)."""


def positions_from_upload(name: str, data: bytes, profile: str = "perp") -> Any:
    """A positions file uploaded from the dashboard (CSV or Parquet bytes), read and validated as
    :func:`riskparams.book.load_positions` reads files; messages name the uploaded file (its base name).

    Raises
    ------
    DataError
        One sentence naming the file, row, column and value.
    """
    import tempfile

    from riskparams.book import load_positions

    safe = Path(str(name)).name or "positions.csv"
    with tempfile.TemporaryDirectory(prefix="riskparams-positions-") as tmp:
        path = Path(tmp) / safe
        path.write_bytes(data)
        return load_positions(path, profile)


def demo_positions(symbols: Sequence[str] | None = None, *, n_positions: int = 2_000) -> Any:
    """The synthetic demo book (:func:`riskparams.ingest.demo_book.demo_book`) over ``symbols`` (default the
    demo universe's BTC-SYN, ETH-SYN, SOL-SYN); its source label says it is synthetic."""
    from riskparams.ingest.demo_book import DEFAULT_SYMBOLS, demo_book

    return demo_book(n_positions, symbols=tuple(symbols) if symbols else DEFAULT_SYMBOLS)


def _subset_perp(book: Any, keep: set[str]) -> Any:
    import numpy as np

    from riskparams.book import Book

    mask = np.isin(np.asarray(book.symbol_ids, dtype=object)[book.symbols], list(keep))
    if mask.all():
        return book
    acc = np.asarray(book.account_ids, dtype=object)[book.accounts[mask]]
    sym = np.asarray(book.symbol_ids, dtype=object)[book.symbols[mask]]
    acc_ids, acc_codes = np.unique(acc.astype(str), return_inverse=True)
    sym_ids, sym_codes = np.unique(sym.astype(str), return_inverse=True)
    return Book(account_ids=tuple(str(a) for a in acc_ids), symbol_ids=tuple(str(s) for s in sym_ids),
                accounts=acc_codes.astype(np.int64), symbols=sym_codes.astype(np.int64),
                sides=book.sides[mask].copy(), notionals=book.notionals[mask].copy(),
                equity=book.equity[mask].copy(), cross=book.cross[mask].copy(), rows=book.rows[mask].copy(),
                source=book.source)


def _subset_lending(book: Any, keep: set[str]) -> Any:
    import numpy as np

    from riskparams.book import LendingBook

    mask = np.isin(np.asarray(book.asset_ids, dtype=object)[book.collateral_assets], list(keep))
    if mask.all():
        return book
    acc = np.asarray(book.account_ids, dtype=object)[book.accounts[mask]].astype(str)
    assets = np.asarray(book.asset_ids, dtype=object)
    coll = assets[book.collateral_assets[mask]].astype(str)
    debt = assets[book.debt_assets[mask]].astype(str)
    acc_ids, acc_codes = np.unique(acc, return_inverse=True)
    asset_ids, codes = np.unique(np.concatenate([coll, debt]), return_inverse=True)
    n = int(mask.sum())
    return LendingBook(account_ids=tuple(str(a) for a in acc_ids), asset_ids=tuple(str(a) for a in asset_ids),
                       accounts=acc_codes.astype(np.int64), collateral_assets=codes[:n].astype(np.int64),
                       collateral_amounts=book.collateral_amounts[mask].copy(), debt_assets=codes[n:].astype(np.int64),
                       debt_amounts=book.debt_amounts[mask].copy(), rows=book.rows[mask].copy(), source=book.source)


def _with_costs(schedule: Any, reference: Any) -> Any:
    """``schedule`` with the close-out cost of ``reference`` at each tier floor when it carries none."""
    import numpy as np

    from riskparams.book.impact import MarginSchedule

    if reference is None or np.any(schedule.costs > 0):
        return schedule
    k = np.clip(np.searchsorted(reference.floors, schedule.floors, side="right") - 1, 0, len(reference.floors) - 1)
    return MarginSchedule(floors=schedule.floors, mmfs=schedule.mmfs, deductions=schedule.deductions,
                          costs=reference.costs[k].copy(), penalties=schedule.penalties)


def perp_parameter_sets(proposal: Proposal, current: CurrentParams | None = None) -> tuple[dict[str, dict[str, Any]],
                                                                                         list[str]]:
    """The margin schedules of a perp proposal's parameter sets, for :func:`proposal_impact`.

    Returns
    -------
    (sets, notes)
        ``sets`` maps ``current`` (``current`` if given, else the current brackets stored in the proposal; absent
        when neither has any), ``proposal`` and each option's name (``option NAME`` when it is ``current`` or
        ``proposal``) to ``{symbol: MarginSchedule}``; ``notes`` says what was left out.
    """
    from riskparams.book.impact import MarginSchedule
    from riskparams.tiers import TierTable

    notes: list[str] = []
    prop: dict[str, Any] = {}
    for a in proposal.assets:
        if isinstance(a, PerpAssetProposal) and a.tiers:
            prop[a.symbol] = MarginSchedule.from_tiers(TierTable(a.tiers, symbol=a.symbol), symbol=a.symbol)
    cur: dict[str, Any] = {}
    if current is not None:
        for sym, c in current.assets.items():
            if isinstance(c, CurrentPerp) and sym in prop:
                cur[sym] = _with_costs(MarginSchedule.from_tiers(c.tiers, symbol=sym), prop[sym])
    else:
        for a in proposal.assets:
            if isinstance(a, PerpAssetProposal) and a.current and a.symbol in prop:
                cur[a.symbol] = _with_costs(MarginSchedule.from_tiers(TierTable(a.current, symbol=a.symbol),
                                                                      symbol=a.symbol), prop[a.symbol])
    sets: dict[str, dict[str, Any]] = {}
    if cur:
        sets["current"] = cur
    sets["proposal"] = prop
    for o in proposal.options:
        name = o.name if o.name not in ("current", "proposal") else f"option {o.name}"
        tables = {}
        for oa in o.assets:
            if oa.tiers and oa.status == "ok" and oa.symbol in prop:
                tables[oa.symbol] = _with_costs(MarginSchedule.from_tiers(TierTable.from_rows(oa.tiers,
                                                                                              symbol=oa.symbol)),
                                                prop[oa.symbol])
        sets[name] = tables
    return sets, notes


def _positions_info(book: Any, *, snapshot: str | None, sha256: str | None) -> dict[str, Any]:
    import numpy as np

    synthetic = "synthetic" in str(book.source) or all(str(a).startswith("syn-") for a in book.account_ids[:50])
    info: dict[str, Any] = {"source": str(book.source), "synthetic": bool(synthetic), "n_positions": len(book),
                            "n_accounts": len(book.account_ids), "snapshot": snapshot, "sha256": sha256}
    if hasattr(book, "notionals"):
        info["open_notional"] = clean_float(float(np.sum(book.notionals)))
        sym = np.asarray(book.symbol_ids, dtype=object)[book.symbols]
        info["symbols"] = sorted(set(map(str, book.symbol_ids)))
        info["by_symbol"] = [
            {"symbol": str(s), "side": side, "positions": int(m.sum()), "notional": clean_float(float(book.notionals[m].sum()))}
            for s in book.symbol_ids for side, sgn in (("long", 1), ("short", -1))
            for m in [(sym == s) & (book.sides == sgn)] if m.any()]
        info["cross"] = {"positions": int(book.cross.sum()),
                         "accounts": int(len(np.unique(book.accounts[book.cross]))),
                         "notional": clean_float(float(book.notionals[book.cross].sum()))}
        info["isolated"] = {"positions": int((~book.cross).sum()),
                            "accounts": int(len(np.unique(book.accounts[~book.cross]))),
                            "notional": clean_float(float(book.notionals[~book.cross].sum()))}
    else:
        info["symbols"] = sorted(set(map(str, book.asset_ids)))
    return info


def _last_closes(store: Store, assets: Sequence[str], stable: Sequence[str]) -> tuple[dict[str, float], list[str]]:
    prices: dict[str, float] = {}
    notes: list[str] = []
    for a in assets:
        try:
            _, frame = load_series(store, a)
        except (SeriesNotFoundError, RiskParamsError):
            if a in stable:
                prices[a] = 1.0
                notes.append(f"{a} has no stored prices: priced at 1 (a stablecoin).")
                continue
            raise DataError(f"no stored prices of {a}: the lending impact prices the book at the store's last "
                            "close.") from None
        if frame.empty:
            raise DataError(f"no stored bars of {a}: the lending impact prices the book at the store's last close.")
        prices[a] = float(frame["close"].iloc[-1])
    return prices, notes


def _lending_set_report(book: Any, name: str, params: Mapping[str, Any], prices: Mapping[str, float],
                        covered: Mapping[str, float], shocks: Sequence[float], stable: Sequence[str]) -> dict[str, Any]:
    from riskparams.book.impact import lending_scenario

    volatile = [a for a in book.asset_ids if a not in stable]
    scen = [lending_scenario(book, params, prices, name="now")]
    if covered:
        scen.append(lending_scenario(book, params, prices, {a: -m for a, m in covered.items()},
                                     name="covered move down"))
    for s in shocks:
        scen.append(lending_scenario(book, params, prices, {a: s for a in volatile}, name=f"shock {s:+.0%}"))
    at = next((s for s in scen if s.name == "covered move down"), None)
    return {"liquidatable_now": scen[0].accounts, "liquidatable_now_notional": clean_float(scen[0].debt),
            "bad_debt_at_move": None if at is None else clean_float(at.bad_debt),
            "label": name, "source": str(book.source), "n_positions": len(book), "n_accounts": len(book.account_ids),
            "covered_moves": {k: clean_float(v) for k, v in covered.items()} or None,
            "scenarios": [s.to_dict() for s in scen], "notes": [],
            "params": {a: {"liquidation_threshold": clean_float(p.liquidation_threshold),
                           "liquidation_bonus": clean_float(p.liquidation_bonus)} for a, p in params.items()}}


def proposal_impact(store: Store, proposal: Proposal | str, book: Any, *, current: CurrentParams | None = None,
                    sims: int = 500, seed: int = 0, top_n: int = 5, snapshot: str | None = None,
                    sha256: str | None = None, save: bool = True, stress: bool = True) -> dict[str, Any]:
    """The impact of a proposal's parameter sets (current, proposal, each option) on one book, stored with the
    proposal (:mod:`riskparams.store.impact_records`) so the export and the Book page show it.

    Perpetual books: :func:`riskparams.book.impact.book_impact` per set (now, the proposal's covered move down and
    up, the standard shocks) and, with ``sims > 0`` and joint daily prices in the store, the VaR of insolvent
    debt and LaR (:func:`riskparams.book.impact.simulate_impact`, the same draws for every set). Lending books:
    :func:`riskparams.book.impact.lending_scenario` now, after the covered move (each collateral asset down by
    the proposal's covered move) and after the standard down-shocks, priced at the store's last close
    (stablecoins without prices at 1). Positions in assets the proposal does not cover are left out (a note
    says so); a set missing an asset of the book is left out with a note.

    Parameters
    ----------
    store : Store
    proposal : Proposal or str
        A proposal or a stored proposal id (the payload is stored only for a stored proposal).
    book : Book or LendingBook
        Of the proposal's profile (:func:`riskparams.book.load_positions`, :func:`positions_from_upload`,
        :func:`demo_positions`).
    current : CurrentParams, optional
        Current parameters (default: the current parameters stored in the proposal).
    sims, seed, top_n : int
    snapshot, sha256 : str, optional
        When the positions were taken and the file's SHA-256 (shown in the export).
    save : bool
        Store the payload with the proposal.
    stress : bool
        Perp books: also run the named joint stress windows and the correlated hypothetical shocks from the store's
        daily closes through the default liquidation waterfall (as :func:`impact` does), per set
        (``stress_windows``, ``waterfall``, ``fund_target``, ... in each set's dictionary).

    Returns
    -------
    dict
        ``format, proposal_id, profile, positions`` (``source, synthetic, n_positions, n_accounts, snapshot,
        sha256``, perp: ``open_notional, by_symbol, cross, isolated``), ``covered_moves``, ``sets``
        (set name -> :meth:`riskparams.book.impact.ImpactReport.to_dict` for perps; lending: the same headline
        keys, ``liquidatable_now_notional`` being the debt of the liquidatable accounts), ``order`` (the set
        names: current, proposal, then the options), ``notes``; plus ``id`` (the record's id) when stored.

    Raises
    ------
    DataError
        A book of the other profile, no asset of the book in the proposal, or (lending) an asset without prices.
    """
    from riskparams.book import Book, LendingBook
    from riskparams.book.impact import STANDARD_SHOCKS, book_impact, simulate_impact
    from riskparams.store.impact_records import IMPACT_FORMAT, save_impact

    stored_id: str | None = None
    if isinstance(proposal, str):
        sp = get_proposal(store, proposal)
        stored_id = sp.id
        prop = Proposal.from_content(sp.content)
    else:
        prop = proposal
        try:
            stored_id = get_proposal(store, prop.id).id
        except RiskParamsError:
            stored_id = None
    profile = str(prop.profile)
    want = Book if profile == "perp" else LendingBook
    if not isinstance(book, want):
        raise DataError(f"{getattr(book, 'source', 'positions')}: a {'lending' if profile == 'perp' else 'perp'} "
                        f"positions file does not fit a {profile} proposal.")
    notes: list[str] = [IMPACT_SETS_NOTE]
    covered = {a.symbol: float(a.covered.final) for a in prop.assets if a.status == "ok"}
    sets_out: dict[str, Any] = {}
    if isinstance(book, Book):
        sets, set_notes = perp_parameter_sets(prop, current)
        notes += set_notes
        keep = set(sets["proposal"]) & set(book.symbol_ids)
        if not keep:
            raise DataError(f"{book.source}: none of the book's symbols ({', '.join(book.symbol_ids[:5])}) has "
                            f"tiers in proposal {prop.id[:12]}.")
        left = sorted(set(book.symbol_ids) - keep)
        if left:
            notes.append(f"positions in {', '.join(left)} are left out: the proposal has no tiers for them.")
        sub = _subset_perp(book, keep)
        moves = {s: covered[s] for s in sub.symbol_ids}
        returns = None
        stress_ok = True
        shared_paths: tuple[list[Any], list[str]] | None = None  # read once, shared by every set
        if sims > 0:
            try:
                returns = joint_daily_returns(store, sub.symbol_ids)
            except DataError as exc:
                notes.append(f"no VaR / LaR simulation: {str(exc).rstrip('.')}.")
        for name, tables in sets.items():
            missing = [s for s in sub.symbol_ids if s not in tables]
            if missing:
                notes.append(f"set {name} is left out: it has no tiers for {', '.join(missing)}.")
                continue
            rep = book_impact(sub, tables, covered_moves=moves, top_n=top_n, label=name)
            if returns is not None:
                rep = replace(rep, simulation=simulate_impact(sub, tables, returns, n_sims=sims, seed=seed))
            if stress and stress_ok:
                try:
                    spec, size_fund = _waterfall_spec(**WATERFALL_DEFAULTS)
                    if shared_paths is None:
                        shared_paths = _stress_paths(store, sub, _stress_windows(None), hypothetical=True, rho=None)
                    rep = replace(rep, stress=_book_stress(store, sub, tables, (), hypothetical=True, spec=spec,
                                                           size_fund=size_fund, rho=None, paths=shared_paths))
                except DataError as exc:
                    notes.append(f"no stress windows: {str(exc).rstrip('.')}.")
                    stress_ok = False
            sets_out[name] = rep.to_dict()
        used = sub
    else:
        stable = tuple((prop.policy.get("lending") or {}).get("stablecoins", ()))
        params: dict[str, dict[str, Any]] = {"proposal": {a.symbol: a for a in prop.assets
                                                          if isinstance(a, LendingAssetProposal)}}
        cur: dict[str, Any] = {s: c for s, c in (current.assets.items() if current is not None else ())
                               if isinstance(c, CurrentLending)}
        if current is None:
            cur = {a.symbol: a.current for a in prop.assets if isinstance(a, LendingAssetProposal) and a.current}
        if cur:
            params = {"current": cur, **params}
        for o in prop.options:
            name = o.name if o.name not in ("current", "proposal") else f"option {o.name}"
            params[name] = {oa.symbol: oa for oa in o.assets if oa.liquidation_threshold is not None}
        keep = set(params["proposal"]) & {book.asset_ids[i] for i in set(book.collateral_assets.tolist())}
        if not keep:
            raise DataError(f"{book.source}: none of the book's collateral assets has parameters in proposal "
                            f"{prop.id[:12]}.")
        sub = _subset_lending(book, keep)
        left = sorted({book.asset_ids[i] for i in set(book.collateral_assets.tolist())} - keep)
        if left:
            notes.append(f"loans against {', '.join(left)} are left out: the proposal has no parameters for them.")
        prices, price_notes = _last_closes(store, sub.asset_ids, stable)
        notes += price_notes
        colls = {sub.asset_ids[i] for i in set(sub.collateral_assets.tolist())}
        moves = {s: covered[s] for s in colls if s in covered}
        for name, p in params.items():
            missing = sorted(colls - set(p))
            if missing:
                notes.append(f"set {name} is left out: it has no parameters for {', '.join(missing)}.")
                continue
            sets_out[name] = _lending_set_report(sub, name, p, prices, moves,
                                                 [s for s in STANDARD_SHOCKS if s < 0], stable)
        used = sub
    payload: dict[str, Any] = {
        "format": IMPACT_FORMAT, "proposal_id": prop.id, "profile": profile,
        "positions": _positions_info(used, snapshot=snapshot, sha256=sha256),
        "covered_moves": {k: clean_float(v) for k, v in sorted(moves.items())},
        "sets": sets_out, "order": list(sets_out), "notes": notes,
    }
    if save and stored_id is not None:
        rid, _ = save_impact(store, payload)
        payload = {**payload, "id": rid}
    return payload


def stored_impact(store: Store, proposal_id: str) -> dict[str, Any] | None:
    """The impact payload stored last with a proposal (:func:`proposal_impact`), or None."""
    from riskparams.store.impact_records import latest_impact

    return latest_impact(store, proposal_id)


def current_impact(store: Store, book: Any, current: CurrentParams, *, sims: int = 500, seed: int = 0,
                   top_n: int = 5) -> dict[str, Any]:
    """The impact of current perpetual parameters alone on a book (no proposal: no covered move, nothing stored);
    the payload has the shape of :func:`proposal_impact` with one set, ``current``.

    Raises
    ------
    DataError
        A lending book, or no symbol of the book in the parameters.
    """
    from riskparams.book import Book
    from riskparams.book.impact import MarginSchedule, book_impact, simulate_impact
    from riskparams.store.impact_records import IMPACT_FORMAT

    if not isinstance(book, Book):
        raise DataError(f"{getattr(book, 'source', 'positions')}: the impact of current parameters alone is for perp "
                        "books; choose a lending proposal for a lending book.")
    tables = {s: MarginSchedule.from_tiers(c.tiers, symbol=s) for s, c in current.assets.items()
              if isinstance(c, CurrentPerp)}
    keep = set(tables) & set(book.symbol_ids)
    if not keep:
        raise DataError(f"{book.source}: none of the book's symbols ({', '.join(book.symbol_ids[:5])}) has tiers in "
                        f"{current.source}.")
    notes = ["current parameters carry no close-out cost and no covered move: bad debt counts the price loss beyond "
             "equity, under the standard shocks only."]
    left = sorted(set(book.symbol_ids) - keep)
    if left:
        notes.append(f"positions in {', '.join(left)} are left out: the parameters have no tiers for them.")
    sub = _subset_perp(book, keep)
    rep = book_impact(sub, tables, top_n=top_n, label="current")
    if sims > 0:
        try:
            returns = joint_daily_returns(store, sub.symbol_ids)
            rep = replace(rep, simulation=simulate_impact(sub, tables, returns, n_sims=sims, seed=seed))
        except DataError as exc:
            notes.append(f"no VaR / LaR simulation: {str(exc).rstrip('.')}.")
    return {"format": IMPACT_FORMAT, "proposal_id": None, "profile": "perp",
            "positions": _positions_info(sub, snapshot=None, sha256=None), "covered_moves": {},
            "sets": {"current": rep.to_dict()}, "order": ["current"], "notes": notes,
            "parameters_source": str(current.source)}


# -------------------------------------------------------------------------------------------------
# execution plans and the one export path of the command line and the dashboard (issue 13)
# -------------------------------------------------------------------------------------------------


def _plan_start(start: Any) -> Any:
    from datetime import UTC
    from datetime import date as _date

    from riskparams.exceptions import SpecError

    if start is None:
        return datetime.now(UTC).date()
    if isinstance(start, _date):
        return start
    try:
        return _date.fromisoformat(str(start).strip()[:10])
    except ValueError:
        raise SpecError(f"start {str(start)[:40]!r} must be a date as YYYY-MM-DD.") from None


def plan_proposal(store: Store, proposal_id: str, *, max_step: float, min_days: int, budget: int | None = None,
                  start: Any = None, save: bool = True, actor: str | None = None) -> dict[str, Any]:
    """A phased execution plan of a stored proposal (:func:`riskparams.plan.make_plan`), stored with it.

    Parameters
    ----------
    max_step : float
        Largest relative change per step (0.25 = 25%).
    min_days : int
        Days between steps.
    budget : int, optional
        Most steps allowed (an error when the target needs more).
    start : date or str, optional
        Date of step 1 (``YYYY-MM-DD``); default today (UTC).
    save : bool
        Store the plan (the Governance page and the exports show the newest plan of a proposal).
    actor : str, optional
        Who made it (recorded with the plan).

    Returns
    -------
    dict
        :meth:`riskparams.plan.Plan.to_dict`, with ``id`` and ``created_at`` when stored. When the committee
        approved a named option, the plan ends at that option's parameters.

    Raises
    ------
    SpecError
        Bad limits or start date, a target out of the budget's reach, nothing to phase.
    ProposalNotFoundError
        Unknown id.
    """
    from riskparams.governance import workflow
    from riskparams.plan import PlanSpec, make_plan
    from riskparams.store.plan_records import get_plan, save_plan

    stored = get_proposal(store, proposal_id)
    spec = PlanSpec(max_step=max_step, min_days=min_days, budget=budget, start=_plan_start(start))
    decision = workflow(store, stored.id).to_dict().get("decision") or {}  # the approved option is the target
    option = (decision.get("detail") or {}).get("option") if decision.get("action") == "approved" else None
    content = make_plan(stored.content, proposal_id=stored.id, spec=spec,
                        option=None if option is None else str(option)).to_dict()
    if not save:
        return content
    plan_id, _ = save_plan(store, content, actor=actor)
    return get_plan(store, plan_id)


def latest_plan(store: Store, proposal_id: str) -> dict[str, Any] | None:
    """The newest stored plan of a proposal (with ``id`` and ``created_at``), or None."""
    from riskparams.store.plan_records import latest_plan as _latest

    return _latest(store, proposal_id)


def _step_overrides(content: Mapping[str, Any], values: Mapping[str, Any]) -> list[Any]:
    """Overrides moving a proposal's proposed values to a plan step's ``values`` (keys ``SYMBOL:param[:tier]``,
    tiers 1-based); the IMF follows max leverage."""
    from riskparams.governance import Override

    proposed = {(a["symbol"], ln["parameter"], ln["tier"]): float(ln["proposed"])
                for a in content["assets"] for ln in a["lines"]}
    out = []
    for key, value in values.items():
        parts = str(key).split(":")
        sym, param = parts[0], parts[1]
        tier = int(parts[2]) - 1 if len(parts) > 2 else None
        if param == "imf" or value is None:
            continue
        old = proposed.get((sym, param, tier))
        if old is None or abs(float(value) - old) > 1e-12:
            out.append(Override(symbol=sym, parameter=param, tier=tier, value=float(value)))
    return out


def create_plan_revisions(store: Store, plan_id: str, who: Any, *, committee: Any = None) -> dict[str, Any]:
    """Carry a stored plan's steps through the workflow as linked revisions, one step at a time.

    Step 1 becomes a revision (a draft, :func:`riskparams.governance.revise`) of the plan's approved proposal
    holding step 1's values; step ``s`` a revision of step ``s - 1``'s revision once that one is approved (or
    exported, or superseded by a later approval). The governance rules allow one open revision per parent and
    supersede an open parent that is revised, so each step is voted before the next one is created, as
    stewards execute bounded updates one at a time. Calling again after a vote creates the next step.

    Returns
    -------
    dict
        ``plan_id``, ``created`` (``[{"step", "revision_id"}]``, empty when nothing could be created now),
        ``steps`` (``[{"step", "date", "revision_id", "status"}]``: every step, ``revision_id`` None where not
        created yet) and ``waiting`` (a sentence saying what the next step waits for, or None when done).

    Raises
    ------
    GovernanceError
        The plan's proposal is not approved, a step's revision was rejected or withdrawn, or the member may not
        override.
    """
    from riskparams.exceptions import GovernanceError
    from riskparams.governance import revise, workflow
    from riskparams.store.plan_records import get_plan, link_step, step_revisions

    plan = get_plan(store, plan_id)
    pid = str(plan["proposal_id"])
    base = workflow(store, pid, committee=committee)
    if base.status not in ("approved", "exported", "superseded"):
        raise GovernanceError(f"plan revisions start from an approved proposal; proposal {pid[:12]} is "
                              f"{base.status}.")
    steps = plan["steps"]
    n = len(steps)
    links = step_revisions(store, plan["id"])
    parent, created, waiting = pid, [], None
    for s, step in enumerate(steps, start=1):
        rid = links.get(s)
        if rid is not None:
            status = workflow(store, rid, committee=committee).status
            if status in ("approved", "exported", "superseded"):
                parent = rid
                continue
            if status in ("rejected", "withdrawn"):
                raise GovernanceError(f"step {s}'s revision {rid[:12]} was {status}; make a new plan.")
            waiting = f"step {s}'s revision {rid[:12]} is {status}: it must be approved before step {s + 1} is created."
            if s == n:
                waiting = f"step {s}'s revision {rid[:12]} (the target) is {status}: approve it to finish the plan."
            break
        overrides = _step_overrides(get_proposal(store, parent).content, step["values"])
        if not overrides:  # nothing to change against the parent (cannot happen for a plan's step)
            raise GovernanceError(f"step {s} of plan {plan['id'][:12]} changes nothing against {parent[:12]}.")
        r = plan["max_step"]
        just = (f"Execution plan {plan['id'][:12]}, step {s} of {n} (on {step['date']}): every parameter moves by at "
                f"most a relative {r:.4g} per step, steps at least {plan['min_days']} days apart, toward proposal "
                f"{pid[:12]}.")
        rev = revise(store, parent, who, overrides, justification=just, committee=committee)
        link_step(store, plan["id"], s, rev.id)
        created.append({"step": s, "revision_id": rev.id})
        waiting = f"step {s}'s revision {rev.id[:12]} is draft: it must be approved before the next step."
        break
    links = step_revisions(store, plan["id"])
    rows = [{"step": s, "date": st["date"], "revision_id": links.get(s),
             "status": None if links.get(s) is None else workflow(store, links[s], committee=committee).status}
            for s, st in enumerate(steps, start=1)]
    return {"plan_id": plan["id"], "created": created, "steps": rows, "waiting": waiting}


def export_bytes(store: Store, proposal_id: str, fmt: str, who: Any, *, committee: Any = None,
                 backtest: str | None = "auto", dydx_first_id: int = 1000, out: str | Path | None = None,
                 asset_addresses: Mapping[str, str] | None = None, report_url: str | None = None) -> Any:
    """Export a proposal as the command line and the dashboard both do (one path, so both give the same bytes).

    The export embeds the backtest chosen by ``backtest`` and, through
    :func:`riskparams.governance.export_proposal`, the proposal's newest execution plan and impact record.

    Parameters
    ----------
    backtest : str or None
        ``"auto"`` (default): the report attached last to the proposal, if any; ``None`` or ``"none"``: no
        backtest; else a stored report id (prefix), ``"attached"`` (required) or a payload JSON file
        (:func:`export_backtest_payload`).
    committee, dydx_first_id, out, asset_addresses, report_url
        As :func:`riskparams.governance.export_proposal` (token addresses by symbol for the Aave, Safe and
        risk-update formats; the published report's URL for Snapshot and the AIP).

    Returns
    -------
    riskparams.governance.ExportResult
    """
    from riskparams.governance import export_proposal
    from riskparams.store.backtest_records import attachments

    payload = None
    if backtest == "auto":
        if attachments(store, proposal_id):
            payload = export_backtest_payload(store, "attached", proposal_id)
    elif backtest is not None and backtest != "none":
        payload = export_backtest_payload(store, backtest, proposal_id)
    return export_proposal(store, proposal_id, fmt, who, committee=committee, backtest=payload,
                           dydx_first_id=dydx_first_id, out=out, asset_addresses=asset_addresses,
                           report_url=report_url)

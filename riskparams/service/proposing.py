"""Proposals from stored prices (the market inputs, the policy options, storing) and the sensitivity grid.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd

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
    HistoryError,
    PolicyError,
    RiskParamsError,
    SeriesNotFoundError,
)
from riskparams.fmt import format_notional
from riskparams.jsonio import iso_z
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
from riskparams.returns import hours_per_bar, iso_utc, returns_with_report, to_utc
from riskparams.service.fit import fit_prices
from riskparams.service.provenance import package_versions
from riskparams.service.selection import select_series
from riskparams.store import Store
from riskparams.store.records import StoredProposal, save_proposal
from riskparams.volatility import FitSpec, VolEstimate, sample_vol


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

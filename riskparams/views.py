"""View models: the tables and series the dashboard pages (and notebooks) draw.

Each function takes a store or a price frame plus plain arguments and returns pandas objects or
small records, so the pages only read inputs, call one function and draw. No Streamlit here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from riskparams.backtest_content import BacktestResultRow, PhaseStats, StoredBacktest
from riskparams.diagnostics import half_life
from riskparams.domain import (
    LendingAssetProposal,
    LendingCurrentAssessment,
    PerpAssetProposal,
    Proposal,
    SeriesInfo,
)
from riskparams.exceptions import DataError, FallbackWarning, RiskParamsWarning
from riskparams.export import escape_markdown, parameter_change_cells, specification_cells, specification_rows
from riskparams.fmt import format_notional
from riskparams.impact_content import StoredImpact
from riskparams.jsonio import clean_float
from riskparams.returns import bars_per_year, returns_with_report
from riskparams.service import FitRun, fit_prices, stored_backtest
from riskparams.store import Store
from riskparams.store.records import StoredProposal, get_proposal, list_proposals
from riskparams.volatility import (
    DistName,
    FitEngine,
    FitSpec,
    MeanName,
    ModelName,
    RealizedMethod,
    compare_models,
    ewma_vol,
    realized_vol,
)

REALIZED_LABELS = {
    RealizedMethod.CLOSE_TO_CLOSE: "close-to-close",
    RealizedMethod.EWMA: "EWMA",
    RealizedMethod.PARKINSON: "Parkinson",
    RealizedMethod.GARMAN_KLASS: "Garman-Klass",
    RealizedMethod.ROGERS_SATCHELL: "Rogers-Satchell",
    RealizedMethod.YANG_ZHANG: "Yang-Zhang",
}

PANEL_MODELS = ("garch", "gjr", "egarch", "ewma")


def realized_panel(
    prices: pd.DataFrame, freq: str, *, window: int = 30, lam: float = 0.94
) -> pd.DataFrame:
    """All realized estimators side by side, annualised (fractions: 0.6 = 60% a year).

    Returns
    -------
    pandas.DataFrame
        Index ``ts`` (UTC), one column per estimator (see :data:`REALIZED_LABELS`);
        shape (n_bars, 6).
    """
    scale = math.sqrt(bars_per_year(freq))
    cols = {
        label: realized_vol(prices, freq, method, window, lam=lam) * scale
        for method, label in REALIZED_LABELS.items()
    }
    return pd.DataFrame(cols)


@dataclass(frozen=True, slots=True)
class ModelPanel:
    """Fits of several models of one series with the same horizon and confidence.

    ``entries`` pairs the model asked for with its fit (which may be an EWMA fallback).
    """

    series: SeriesInfo
    entries: tuple[tuple[str, FitRun], ...]

    def table(self) -> pd.DataFrame:
        """One row per requested model: what was used, fit statistics and horizon risk.

        Volatilities are annualised fractions; ``var`` and ``es`` are fractions of price over the
        horizon (worse tail); ``half_life_bars`` in bars of the series. An integrated fit has no long-run
        volatility and no half-life: NaN there (a blank cell, not "Infinity"), and its ``note`` says why.
        """
        rows: list[dict[str, Any]] = []
        for requested, run in self.entries:
            e = run.estimate
            rows.append({
                "requested": requested,
                "model": e.model.value,
                "dist": e.dist.value + ("" if e.nu is None else f" (nu {e.nu:.2f})"),
                "fallback": e.fallback or "",
                "note": ("integrated: persistence at the alpha + beta = 1 boundary (no mean reversion; kept for "
                         "short horizons, long-run volatility undefined)") if e.integrated else "",
                "converged": e.converged,
                "loglik": e.loglik,
                "bic": e.bic,
                "persistence": e.persistence,
                "half_life_bars": _finite_or_nan(half_life(e.persistence)),
                "next_vol_ann": e.next_vol_annualised,
                "long_run_vol_ann": _finite_or_nan(e.long_run_vol_annualised),
                "stressed_vol_ann": e.stressed_vol_annualised,
                "horizon_vol": e.horizon_vol,
                "var": e.var,
                "es": e.es,
                "tail": e.worse_tail,
            })
        return pd.DataFrame(rows)

    def params_table(self) -> pd.DataFrame:
        """Parameters per model (arch's names, percent-return convention); NaN where not used."""
        return pd.DataFrame({req: dict(run.estimate.params) for req, run in self.entries})

    def diagnostics_table(self) -> pd.DataFrame:
        """Residual diagnostics per model (statistics and p-values); one column per model."""
        out: dict[str, dict[str, Any]] = {}
        for req, run in self.entries:
            d = run.estimate.diagnostics
            out[req] = {} if d is None else {
                k: v for k, v in d.to_dict().items() if not isinstance(v, dict | list)
            }
        return pd.DataFrame(out)

    def conditional_vol(self) -> pd.DataFrame:
        """Conditional volatility per model, annualised fractions; index ``ts``."""
        return pd.DataFrame({
            req: run.estimate.conditional_vol * math.sqrt(bars_per_year(run.estimate.freq))
            for req, run in self.entries
        })


def model_panel(
    store: Store,
    series_id: int,
    *,
    models: tuple[str, ...] = PANEL_MODELS,
    dist: str = "t",
    mean: str = "zero",
    horizon_hours: float = 24.0,
    confidence: float = 0.99,
    n_sims: int = 2_000,
    engine: str = "fast",
    progress: Callable[[int, int, str], None] | None = None,
) -> ModelPanel:
    """Fit each of ``models`` to one stored series (through the store's fit cache).

    One fit per model: the series is loaded once and each model is fitted once (GARCH, GJR and EGARCH with
    normal or t innovations by the compiled engine, :attr:`~riskparams.volatility.FitSpec.engine` ``'fast'``:
    arch's likelihood and optimum, residuals and forecasts through arch; the estimate is kept in the process,
    so the sensitivity grid's candidates of the same model reuse it: "Speed without other numbers" in
    :mod:`riskparams.volatility`). Equal to ``engine='arch'`` within the tolerances of
    ``tests/test_views.py::test_model_panel_compiled_engine_equals_arch`` (parameters 1e-3, next-bar and horizon
    volatility, VaR and ES 1e-3 relative; measured <= 2e-4 on the Binance BTC daily and hourly series).

    Parameters
    ----------
    horizon_hours : float
        Margin period of risk, hours.
    confidence : float
        VaR/ES confidence.
    n_sims : int, default 2000
        Simulated paths of the fitted law and of filtered historical simulation beyond one bar.
    engine : {'fast', 'arch'}, default 'fast'
        Who estimates GARCH-family parameters (:class:`~riskparams.volatility.FitEngine`).
    progress : callable, optional
        ``progress(done, total, model)`` before each model's fit (``done`` models fitted so far).

    Raises
    ------
    ValueError
        A spec value is out of range (the message names it).
    """
    info = store.get_series(series_id)
    prices = store.load_prices(series_id)  # once for every model (the fits share the series)
    entries = []
    for k, m in enumerate(models):
        if progress is not None:
            progress(k, len(models), m)
        spec = FitSpec(model=ModelName(m), dist=DistName(dist), mean=MeanName(mean), horizon_hours=horizon_hours,
                       confidence=confidence, n_sims=n_sims, engine=FitEngine(engine))
        with warnings.catch_warnings():
            # a fallback is part of the panel (each row says so), not a warning for the server log
            warnings.simplefilter("ignore", FallbackWarning)
            run = fit_prices(store, info, prices, spec=spec)
        entries.append((m, run))
    return ModelPanel(series=info, entries=tuple(entries))


def model_losses(
    prices: pd.DataFrame, freq: str, *, holdout: int = 250, dist: str = "t", mean: str = "zero",
    proxy: str = "squared_returns", engine: str = "fast",
) -> pd.DataFrame:
    """Out-of-sample one-step losses (QLIKE, MSE) of the panel models over the last ``holdout`` bars.

    See :func:`riskparams.volatility.compare_models` (parameters estimated once on the bars before the holdout,
    by the compiled engine unless ``engine='arch'``; a different sample from the panel's full-series fits, so
    these are fits of their own); lower is better.
    """
    holdout = max(10, min(int(holdout), len(prices) - 101))
    return compare_models(prices, freq, holdout=holdout, candidates=PANEL_MODELS, dist=dist, mean=mean, proxy=proxy,
                          engine=engine)


def specification_frame(proposal: Proposal) -> pd.DataFrame:
    """The specification table of a proposal as the Proposal page shows it, one row per asset x parameter x tier:
    ``symbol, parameter, tier, notional`` (the tier's bracket, e.g. ``1M-5M``), ``current, proposed, change``,
    ``uncapped (model)`` (the value before guardrails), ``bound by``, ``overridden``; values as the forum post
    prints them (fractions in percent, max leverage in x, changes in basis points or x with the relative change)."""
    rows = []
    for r in specification_rows(proposal):
        label, current, proposed, change = parameter_change_cells(r["parameter"], None, r["current"], r["proposed"])
        model = None if r["model"] is None else parameter_change_cells(r["parameter"], None, r["model"], None)[1]
        bracket = ("" if r["notional_floor"] is None else
                   f"{format_notional(r['notional_floor'])}-{format_notional(r['notional_cap'])}")
        rows.append({"symbol": r["symbol"], "parameter": r["label"], "tier": r["tier_number"], "notional": bracket,
                     "current": current, "proposed": proposed, "change": change, "uncapped (model)": model,
                     "bound by": r["bound"], "overridden": bool(r["overridden"])})
    return pd.DataFrame(rows, columns=["symbol", "parameter", "tier", "notional", "current", "proposed", "change",
                                       "uncapped (model)", "bound by", "overridden"])


def rationale(proposal: Proposal) -> dict[str, str]:
    """Per asset, the plain-English rationale of a proposal (without its leading ``'SYMBOL: '``), followed by its
    notes (peer-venue gaps, stress holds, overrides) as the export prints them."""
    out = {}
    for a in proposal.assets:
        text = str(a.rationale).removeprefix(f"{a.symbol}: ")
        if a.notes:
            text += " Notes: " + " ".join(str(n) for n in a.notes)
        out[a.symbol] = text
    return out


def stale_series(proposal: Proposal, now: Any, *, days: float = 7.0) -> list[str]:
    """``'BTC: 1h perp data end 2024-04-18 (960 days before now)'`` for every asset whose last bar is more than
    ``days`` before ``now`` (a proposal on old data describes the market as it was then)."""
    now_ts = pd.Timestamp(now)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts
    out = []
    for a in proposal.assets:
        c = a.context
        last = None if c is None else c.last_bar
        if c is None or not last:
            continue
        age = (now_ts - pd.Timestamp(last)).total_seconds() / 86_400
        if age > days:
            out.append(f"{a.symbol}: {c.freq} {c.kind} data end {str(last)[:10]} ({age:.0f} days before now)")
    return out


def typed_proposal(stored: StoredProposal) -> Proposal:
    """A stored proposal's content read back typed (:meth:`Proposal.from_content`).

    Raises
    ------
    DataError
        The content has another format or shape, or does not rebuild to its id (written by another version of
        riskparams); one sentence naming the proposal.
    """
    try:
        return Proposal.from_content(stored.content)
    except ValueError as exc:
        raise DataError(f"stored proposal {stored.id[:12]} cannot be read: {exc}") from None


def coverage_flags(store: Store, *, limit: int = 20) -> pd.DataFrame:
    """Assets whose current parameters fall below the policy's confidence, from the newest proposals.

    One row per profile and asset (newest proposal that assessed current parameters wins): ``profile,
    symbol, proposal_id, created_at, current_coverage, confidence``; coverage as a probability. Each proposal is
    read typed (:func:`typed_proposal`); one this riskparams cannot read (written by another version) is left out
    with a :class:`~riskparams.exceptions.RiskParamsWarning` naming it, and its sentence is listed in the frame's
    ``attrs["unreadable"]``.
    """
    seen: set[tuple[str, str]] = set()
    rows: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for item in list_proposals(store, limit=limit):
        stored = get_proposal(store, item["id"])
        try:
            proposal = typed_proposal(stored)
            conf = proposal.risk_policy.confidence
        except DataError as exc:
            unreadable.append(str(exc))
            warnings.warn(f"{exc} It is left out of the coverage flags.", RiskParamsWarning, stacklevel=2)
            continue
        for a in proposal.assets:
            key = (str(proposal.profile), a.symbol)
            cov = _current_coverage(a)
            if key in seen or cov is None:
                continue
            seen.add(key)
            rows.append({"profile": str(proposal.profile), "symbol": a.symbol, "proposal_id": stored.id[:12],
                         "created_at": stored.created_at, "current_coverage": cov, "confidence": conf,
                         "below": cov < conf})
    frame = pd.DataFrame(rows, columns=["profile", "symbol", "proposal_id", "created_at", "current_coverage",
                                        "confidence", "below"])
    frame.attrs["unreadable"] = unreadable
    return frame


def _current_coverage(asset: PerpAssetProposal | LendingAssetProposal) -> float | None:
    """The current parameters' coverage under today's model: a lending asset's, or the lowest of a perpetual
    market's current brackets (brackets without a finite coverage ignored); None without current parameters."""
    cur = asset.current
    if cur is None:
        return None
    if isinstance(cur, LendingCurrentAssessment):
        return clean_float(cur.coverage)
    covs = [c for t in cur if (c := clean_float(t.coverage)) is not None]
    return min(covs) if covs else None


REGIMES = ((0.75, "calm"), (1.25, "normal"), (2.0, "elevated"), (math.inf, "stressed"))
"""Volatility regime by the ratio of current (EWMA) to long-run (sample) volatility: below 0.75 calm, below
1.25 normal, below 2 elevated, else stressed."""


def overview(store: Store, *, lam: float = 0.94) -> pd.DataFrame:
    """One row per stored series: data freshness and the volatility regime.

    Columns: ``symbol, freq, kind, source, synthetic, last, bars, ewma_vol, long_run_vol, ratio, regime``;
    volatilities annualised fractions (EWMA with ``lam``; long-run = sample volatility of all returns).
    Cheap enough for 50 series (no model fits).
    """
    rows = []
    for s in store.list_series():
        prices = store.load_prices(s.series_id)
        r = pd.Series(dtype=float) if len(prices) < 3 else realized_returns(prices, s.freq)
        scale = math.sqrt(bars_per_year(s.freq))
        if len(r) >= 30:
            ewma = float(ewma_vol(r, lam).iloc[-1]) * scale
            long_run = float(r.std()) * scale
            ratio = ewma / long_run if long_run > 0 else math.nan
            regime = next(label for bound, label in REGIMES if ratio < bound) if math.isfinite(ratio) else "n/a"
        else:
            ewma = long_run = ratio = math.nan
            regime = "too little data"
        rows.append({"symbol": s.symbol, "freq": s.freq, "kind": s.kind, "source": s.source,
                     "synthetic": s.synthetic, "last": s.last, "bars": s.rows, "ewma_vol": ewma,
                     "long_run_vol": long_run, "ratio": ratio, "regime": regime})
    return pd.DataFrame(rows, columns=["symbol", "freq", "kind", "source", "synthetic", "last", "bars", "ewma_vol",
                                       "long_run_vol", "ratio", "regime"])


def realized_returns(prices: pd.DataFrame, freq: str) -> pd.Series:
    """Log returns between adjacent bars (none across gaps), fractions."""
    return returns_with_report(prices, freq).returns


def audit_frame(events: Any) -> pd.DataFrame:
    """The audit trail of a proposal for display: one row per event, oldest first, ``at`` as a UTC timestamp
    (the page prints it to the second; the store keeps microseconds), details as JSON text, ``-`` where an event
    has no previous status or no comment."""
    from riskparams.jsonio import inline_json

    rows = []
    for e in events:
        d = e.to_dict()
        rows.append({"at": d["at"], "actor": d["actor"], "role": d["actor_role"], "action": d["action"],
                     "from": d["from_status"] or "-", "to": d["to_status"], "comment": d["comment"] or "-",
                     "detail": inline_json(d["detail"], sort_keys=True) if d["detail"] else ""})
    frame = pd.DataFrame(rows, columns=["at", "actor", "role", "action", "from", "to", "comment", "detail"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    return frame


BACKTEST_COLUMNS = ("symbol", "parameter_set", "n", "exceptions", "expected", "confidence", "traffic_light",
                    "kupiec_lr", "kupiec_p", "christoffersen_lr", "christoffersen_p", "cc_lr", "cc_p", "avg_margin",
                    "peak_to_trough", "max_5d_increase", "liquidations", "bad_debt")


def backtest_frame(results: Sequence[BacktestResultRow | Mapping[str, Any]]) -> pd.DataFrame:
    """Backtest results (typed rows, or their dicts) in the documented column order (see ``riskparams backtest
    --json``); the nested ``phases`` of the policy rows are left out (:func:`backtest_phases` shows them)."""
    frame = pd.DataFrame([{k: v for k, v in (r.to_dict() if isinstance(r, BacktestResultRow) else dict(r)).items()
                           if k != "phases"} for r in results])
    cols = [c for c in BACKTEST_COLUMNS if c in frame.columns]
    return frame[cols + [c for c in frame.columns if c not in cols]]


def backtest_model_caption(report: StoredBacktest | Mapping[str, Any], symbol: str) -> str:
    """One line on how an asset's forecasts were made in a stored backtest report (typed, or its content): the
    model label, window, horizon and refit schedule, and, when the policy's model varies (``auto``) or fell
    back, how many proposals each model made, e.g. ``'egarch-t at 30 proposals, garch-t at 12'``."""
    asset = stored_backtest(report).asset(symbol)
    policy_set = asset.policy_set
    counts: dict[str, int] = {}
    for model in () if policy_set is None else policy_set.proposal_models:
        counts[model] = counts.get(model, 0) + 1
    line = f"{symbol}: model {asset.model}; window {asset.window} bars, horizon {asset.horizon_bars} bar(s)"
    if asset.schedule:
        line += f", {asset.schedule}"
    if len(counts) > 1:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        line += "; " + ", ".join(f"{m} at {n} proposal{'s' if n != 1 else ''}" for m, n in ranked)
    return line + "."


GOVERNANCE_COLUMNS = ("id", "status", "profile", "assets", "revision", "sign_offs", "dissents", "quorum", "created_at")


def governance_frame(rows: list[Mapping[str, Any]]) -> pd.DataFrame:
    """The proposals table of the Governance page from :func:`riskparams.governance.list_governance` rows:
    ids shortened to 12 characters, lists (assets, sign-offs, dissents) joined, ``created_at`` as a UTC
    timestamp (the page prints it to the minute), in ``GOVERNANCE_COLUMNS``."""
    frame = pd.DataFrame(list(rows), columns=list(GOVERNANCE_COLUMNS))
    frame["id"] = frame["id"].str[:12]
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    for col in ("assets", "sign_offs", "dissents"):
        frame[col] = frame[col].map(", ".join)
    return frame


def proposal_label(row: Mapping[str, Any]) -> str:
    """``'<id12> (<status>, <profile>: <assets>)'`` for a proposal picker."""
    return f"{row['id'][:12]} ({row['status']}, {row['profile']}: {', '.join(row['assets'])})"


def diff_frame(diff: Any) -> pd.DataFrame:
    """A :class:`riskparams.governance.ProposalDiff` between two revisions as the Governance page shows it:
    Asset | Parameter (with its tier) | Parent | This revision | Change, values as the forum post prints them
    (fractions in percent, max leverage in x, changes in basis points or x with the relative change)."""
    rows = []
    for r in diff.rows:
        rows.append([r.symbol, *parameter_change_cells(r.parameter, r.tier, r.old, r.new)])
    return pd.DataFrame(rows, columns=["Asset", "Parameter", "Parent", "This revision", "Change"])


ACTION_BUTTONS: dict[str, str] = {
    "submit": "Submit for review", "sign_off": "Sign off", "dissent": "Dissent", "retract": "Retract my vote",
    "approve": "Approve", "reject": "Reject", "withdraw": "Withdraw", "comment": "Comment",
}
"""The Governance page's action buttons: verb (see :func:`riskparams.governance.perform`) -> label."""

SIGNED_BUTTONS: dict[str, str] = {"sign_off": "Sign off", "dissent": "Dissent", "approve": "Approve",
                                  "reject": "Reject", "retract": "Retract my vote"}
"""Actions the page records with a pasted signature."""

SIGNED_ACTIONS: dict[str, str] = {"sign_off": "signed_off", "dissent": "dissented", "approve": "approved",
                                  "reject": "rejected", "retract": "retracted"}
"""Verb -> the audit action its typed data names."""

_VERB_OF = {v: k for k, v in SIGNED_ACTIONS.items()}


def typed_data_text(data: Mapping[str, Any]) -> str:
    """Typed data as the JSON text a wallet's ``eth_signTypedData_v4`` takes."""
    from riskparams.jsonio import pretty_json

    return pretty_json(data, sort_keys=False, ascii_only=True)


def typed_data_summary(data: Mapping[str, Any]) -> str:
    """What the typed data says, in one Markdown line (the wallet shows the same fields)."""
    from datetime import UTC, datetime

    m = data["message"]
    at = datetime.fromtimestamp(int(m["timestamp"]), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [f"**{SIGNED_BUTTONS.get(_VERB_OF.get(m['action'], ''), m['action'])}** by @{m['member']} on proposal "
             f"`{str(m['proposal'])[2:14]}`", f"committee `{str(m['committee'])[2:14]}`", f"signed at {at}"]
    if m.get("option"):
        parts.append(f"option {escape_markdown(str(m['option']))}")
    parts.append("comment: " + (f"\u201c{escape_markdown(str(m['comment']))}\u201d" if m.get("comment") else "none"))
    return "You sign: " + "; ".join(parts) + "."


def signature_of(scheme: str, text: str, data: Mapping[str, Any]) -> Any:
    """The :class:`riskparams.signing.Signature` of pasted hex for prepared typed data (its timestamp)."""
    from riskparams.signing import Signature

    return Signature(scheme=scheme, signature=text.strip(), timestamp=int(data["message"]["timestamp"]))


def verification_summary(report: Any) -> str:
    """One line on a :class:`riskparams.verify.Verification`: verified (with what was checked) or how many
    problems."""
    c = report.checked
    def n(k: str, word: str) -> str:
        v = int(c.get(k, 0))
        return f"{v} {word}{'' if v == 1 else 's'}"

    what = f"{n('events', 'audit event')} chained, {n('signatures', 'signature')}, " \
           f"{n('workflow events', 'workflow step')} replayed"
    if report.ok:
        return (f"Records verify: {what}. Chain head `{report.chain_head[:16]}...` (publish it to anchor this "
                "history).")
    k = len(report.problems)
    return f"Records do NOT verify: {k} problem{'s' if k != 1 else ''} ({what}); venue payloads are refused."


def verification_frame(report: Any) -> pd.DataFrame:
    """The problems of a verification: Kind | Event | Problem."""
    return pd.DataFrame([[p.kind, "" if p.event_id is None else p.event_id, p.message] for p in report.problems],
                        columns=["Kind", "Event", "Problem"])


def signing_frame(proposal: Proposal) -> pd.DataFrame:
    """What a member signs: the proposal's specification table exactly as its forum export prints it
    (Asset | Parameter with tier bracket | Current | Proposed | Change)."""
    # the export's cell function, so the page and the post cannot disagree
    return pd.DataFrame([specification_cells(r) for r in specification_rows(proposal)],
                        columns=["Asset", "Parameter", "Current", "Proposed", "Change"])


# -------------------------------------------------------------------------------------------------
# proposal detail: tiers and their margin periods of risk, model risk, options, peers, sensitivity
# -------------------------------------------------------------------------------------------------


def tiers_frame(proposal: Proposal) -> pd.DataFrame:
    """Per perpetual asset and tier: notional bracket, margin period of risk (hours), covered move, close-out
    cost, MMF, IMF, max leverage, penalty, coverage and whether a guardrail leaves it under-covered."""
    rows = []
    for a in proposal.assets:
        if not isinstance(a, PerpAssetProposal):
            continue
        for k, t in enumerate(a.tiers):
            rows.append({"symbol": a.symbol, "tier": k + 1, "from": format_notional(t.notional_floor),
                         "to": format_notional(t.notional_cap), "MPOR (h)": t.horizon_hours,
                         "covered move": t.covered_move, "close-out cost": t.close_out_cost,
                         "MMF": t.mmf, "IMF": t.imf, "max leverage": f"{t.max_leverage:g}x",
                         "penalty": t.liquidation_penalty, "coverage": t.coverage,
                         "under-covered": bool(t.under_covered)})
    return pd.DataFrame(rows, columns=["symbol", "tier", "from", "to", "MPOR (h)", "covered move", "close-out cost",
                                       "MMF", "IMF", "max leverage", "penalty", "coverage", "under-covered"])


def model_risk_frame(proposal: Proposal) -> pd.DataFrame:
    """Per asset, the model-risk band (covered move from the fitted law, FHS and historical simulation at tier
    1's horizon), nu, how the policy combined them, the regime and the series used."""
    rows = []
    for a in proposal.assets:
        m, c = a.model_risk, a.context
        rows.append({"symbol": a.symbol, "series": "  ()" if c is None else f"{c.freq} {c.kind} ({c.source})",
                     "data to": "" if c is None else str(c.last_bar or "")[:10],
                     "horizon (h)": None if m is None else m.horizon_hours, "fitted": None if m is None else m.fitted,
                     "FHS": None if m is None else m.fhs, "historical": None if m is None else m.empirical,
                     "nu": None if m is None else m.nu, "combined": None if m is None else m.combined,
                     "bound by": None if m is None else m.bound, "regime": a.regime,
                     "capital cost": a.capital_cost, "caps": caps_text(a)})
    return pd.DataFrame(rows, columns=["symbol", "series", "data to", "horizon (h)", "fitted", "FHS", "historical",
                                       "nu", "combined", "bound by", "regime", "capital cost", "caps"])


def caps_text(asset: PerpAssetProposal | LendingAssetProposal) -> str:
    """An asset's caps in quote currency with the binding limit, e.g. ``'OI 545.9M (liquidity)'`` or
    ``'supply 1.253bn, borrow 1.003bn (liquidity)'``; ``''`` when none binds or the proposal predates caps."""
    if isinstance(asset, PerpAssetProposal):
        if asset.open_interest_cap is None:
            return ""
        return f"OI {format_notional(asset.open_interest_cap)} ({asset.cap_reason})"
    if asset.supply_cap is None:
        return ""
    dc = "" if asset.debt_ceiling is None else f", debt ceiling {format_notional(asset.debt_ceiling)}"
    return (f"supply {format_notional(asset.supply_cap)}, borrow {format_notional(asset.borrow_cap)}{dc} "
            f"({asset.cap_reason})")


def options_frame(proposal: Proposal) -> pd.DataFrame:
    """One row per asset and option: tier 1 (perps) or LTV / LT / bonus (lending), coverage and capital cost."""
    rows = []
    perp = proposal.profile == "perp"
    for o in proposal.options:
        for x in o.assets:
            row: dict[str, Any] = {"symbol": x.symbol, "option": o.name + (" (recommended)" if o.recommended else "")}
            if perp:
                t = x.tiers[0] if x.tiers else None
                row.update({"tier-1 max leverage": "-" if t is None else f"{t.max_leverage:g}x",
                            "tier-1 MMF": None if t is None else t.mmf,
                            "tier-1 penalty": None if t is None else t.liquidation_penalty,
                            "tier-1 coverage": None if t is None else t.coverage, "tiers": len(x.tiers or ())})
            else:
                row.update({"LTV": x.ltv, "LT": x.liquidation_threshold, "bonus": x.liquidation_bonus,
                            "coverage": x.coverage})
            row["capital cost"] = x.capital_cost
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["symbol"], kind="stable") if rows else pd.DataFrame()


def peers_frame(proposal: Proposal) -> pd.DataFrame:
    """Per perpetual asset and proposed tier floor: the proposal beside each peer venue (max leverage /
    maintenance rate)."""
    rows = []
    for a in proposal.assets:
        pe = a.peers if isinstance(a, PerpAssetProposal) else None
        if pe is None:
            continue
        for notional, lev, mmf, peers in pe.rows:
            row = {"symbol": a.symbol, "from notional": format_notional(notional), "proposed": f"{lev:g}x / {mmf:.2%}"}
            for v in pe.venues:
                x = peers.get(v)
                row[v] = "-" if x is None else f"{x[0]:g}x / {x[1]:.2%}"
            rows.append(row)
    return pd.DataFrame(rows)


def under_covered(proposal: Proposal) -> list[str]:
    """``'BTC tier 2: MMF 1.20% against the model's 1.80%, coverage 97.10%'`` for every under-covered tier."""
    out = []
    for a in proposal.assets:
        if not isinstance(a, PerpAssetProposal):
            continue
        for k, t in enumerate(a.tiers):
            if t.under_covered:
                out.append(f"{a.symbol} tier {k + 1}: MMF {t.mmf:.2%} against the model's {t.mmf_model:.2%}, "
                           f"coverage {t.coverage:.2%}")
    return out


def backtest_claims(report: StoredBacktest | Mapping[str, Any], symbol: str) -> list[str]:
    """Markdown lines for one asset of a backtest report (typed, or its content): the policy replay's claimed
    against realised coverage (overall and outside stressed regimes) and its capital cost next to the policy's
    own tier-1 margin."""
    bt = stored_backtest(report)
    a = next((x for x in bt.assets if x.symbol == symbol), None)
    if a is None:
        return []
    pol = next((s for s in a.sets if s.name == "policy"), None)
    out = []
    c = None if pol is None else pol.claimed
    if c is not None:
        def p(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"

        def e(x: float | None) -> str:
            return "-" if x is None else f"{x:,.1f}"

        out.append(f"**Claimed coverage** (close-to-close moves against the room each proposal leaves): "
                   f"{c.exceptions:,} exceptions in {c.n:,} against {e(c.expected)} claimed, Kupiec p {p(c.kupiec_p)}; "
                   f"outside stressed regimes {c.steady_exceptions:,} in {c.steady_n:,} against "
                   f"{e(c.steady_expected)}, p {p(c.steady_kupiec_p)}.")
    live = a.live_tier1
    if pol is not None and live.get("avg_mmf") is not None and pol.avg_margin is not None:
        h = live.get("mpor_hours")
        hs = "-" if h is None else (f"{h * 60:.0f} min" if h < 1 else f"{h:.3g} h")
        out.append(f"**Capital**: tier-1 MMF {pol.avg_margin:.2%} on average as evaluated (every margin "
                   f"period of risk at least one bar); the policy itself (tier-1 margin period of risk {hs} at the "
                   f"start) gives {live['avg_mmf']:.2%} on average, max leverage {live.get('avg_max_leverage') or 0:.1f}x "
                   "on average over the period.")
    return out


def _p_text(x: float | None) -> str:
    return "-" if x is None else (f"{x:.3f}" if x >= 0.001 else f"{x:.0e}")


def backtest_phases(report: StoredBacktest | Mapping[str, Any], symbol: str) -> tuple[pd.DataFrame | None, str]:
    """The policy replay's warm-up and steady state of one asset side by side (typed report, or its content).

    Returns
    -------
    (DataFrame or None, str)
        Rows ``figure`` (period, years, exceptions / expected, Kupiec p, Christoffersen p, average margin,
        peak-to-trough, changes, parameter values changed, governance actions a year, changes without the
        dead-band) and columns ``Warm-up`` and ``Steady state``, formatted as text; and one Markdown line on the
        execution lag, where the warm-up ended and the dead-band's effect. ``(None, '')`` for a report without the
        split (stored before it) or an unknown asset.
    """
    bt = stored_backtest(report)
    a = next((x for x in bt.assets if x.symbol == symbol), None)
    pol = None if a is None else a.policy_set
    ex = None if pol is None else pol.phases  # typed (PhaseSplit); None before the split
    if ex is None:
        return None, ""

    def col(b: PhaseStats) -> list[str]:
        if not b.bars:
            return ["none"] + ["-"] * 10
        years, expected, avg_margin, pt, apy = (clean_float(x) for x in (
            b.years, b.expected, b.avg_margin, b.peak_to_trough, b.actions_per_year))
        return [f"{str(b.start)[:10]} to {str(b.end)[:10]}", f"{years or 0:.2f}",
                f"{b.exceptions:,} / {expected or 0:,.1f} in {b.n:,}", _p_text(clean_float(b.kupiec_p)),
                _p_text(clean_float(b.christoffersen_p)), "-" if avg_margin is None else f"{avg_margin:.2%}",
                "-" if pt is None else f"{pt:.2f}", f"{b.changes:,}", f"{b.parameter_changes:,}",
                "-" if apy is None else f"{apy:.1f}", f"{b.changes_without_dead_band:,}"]

    frame = pd.DataFrame({
        "figure": ["period", "years", "exceptions / expected", "Kupiec p", "Christoffersen p (independence)",
                   "average margin", "peak-to-trough", "changes (governance actions)", "parameter values changed",
                   "governance actions a year", "changes without the dead-band"],
        "Warm-up": col(ex.warmup), "Steady state": col(ex.steady_state)})
    lag = clean_float(ex.execution_lag_days) or 0.0
    note = (f"**Execution lag** {lag:g} days (a decision is in force that many days after it is taken). **Warm-up** "
            f"ends: {ex.warmup_end_reason} **Dead-band** {(clean_float(ex.dead_band) or 0):.1%}: {ex.changes:,} "
            f"changes as replayed, {ex.changes_without_dead_band:,} without it (dead-band 0 on the same path).")
    return frame, note


def option_names(store: Store, proposal_id: str) -> list[str]:
    """The options a stored proposal carries, the recommended one first (empty without options)."""
    opts = typed_proposal(get_proposal(store, proposal_id)).options
    return [o.name for o in sorted(opts, key=lambda o: not o.recommended)]


def _finite_or_nan(x: float) -> float:
    """``x`` for a table cell: NaN when it is infinite (undefined for an integrated model)."""
    return float(x) if math.isfinite(x) else math.nan


# -- book impact (issue 14): the Book page, the impact table of `riskparams propose --positions` --------------

def _money(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format_notional(float(x))


def impact_rows(impact: StoredImpact) -> list[dict[str, Any]]:
    """One row of text per parameter set of an impact (:func:`riskparams.service.proposal_impact`), in its order:
    ``set``, ``accounts now``, ``notional now`` (lending: the debt of the liquidatable accounts),
    ``bad debt at move``, ``VaR p99`` (insolvent debt) and ``LaR p99`` (``-`` when not simulated)."""
    return [{"set": r.name, "accounts now": f"{int(r.liquidatable_now or 0):,}",
             "notional now": _money(r.liquidatable_now_notional), "bad debt at move": _money(r.bad_debt_at_move),
             "VaR p99": _money(r.var_p99), "LaR p99": _money(r.lar_p99)}
            for r in impact.ordered_sets()]


def impact_sentence(impact: StoredImpact, set_name: str = "proposal") -> str:
    """The forum sentence of a parameter set of an impact (:func:`riskparams.export.impact_sentence`)."""
    from riskparams.export import impact_sentence as sentence

    return sentence(impact, set_name)


def positions_frames(impact: StoredImpact) -> dict[str, pd.DataFrame]:
    """The positions summary of an impact: ``by_symbol`` (symbol, side, positions, notional) and ``modes``
    (cross vs isolated: positions, accounts, notional), as text (counts with thousands separators, notionals
    ``1.2M``); empty frames for a lending book."""
    pos = impact.positions
    by = pd.DataFrame([r.to_dict() for r in pos.by_symbol], columns=["symbol", "side", "positions", "notional"])
    modes = pd.DataFrame([{"margin mode": name, **m.to_dict()} for name, m in (("cross", pos.cross),
                                                                               ("isolated", pos.isolated))
                          if m is not None and m.keys],
                         columns=["margin mode", "positions", "accounts", "notional"])
    for f in (by, modes):
        f["notional"] = [_money(x) for x in f["notional"]]
        for col in ("positions", "accounts"):
            if col in f:
                f[col] = [f"{int(x):,}" for x in f[col]]
    return {"by_symbol": by, "modes": modes}


def impact_frame(impact: StoredImpact) -> pd.DataFrame:
    """The impact table of an impact: :func:`impact_rows` with, after the accounts and notional liquidatable
    now, those liquidated at the covered move, and (perps) the top-5 share of the notional liquidated at the move."""
    lending = impact.lending
    amount = "debt" if lending else "notional"
    rows = []
    for row, r in zip(impact_rows(impact), impact.ordered_sets(), strict=True):
        at = r.at_move
        out = {"set": row["set"], "accounts now": row["accounts now"], f"{amount} now": row["notional now"],
               "accounts at move": "-" if at is None else f"{int(at.accounts or 0):,}",
               f"{amount} at move": "-" if at is None else _money(at.amount),
               "bad debt at move": row["bad debt at move"], "VaR p99": row["VaR p99"], "LaR p99": row["LaR p99"]}
        if not lending:
            out["top-5 share at move"] = r.top_share_at_move
        rows.append(out)
    return pd.DataFrame(rows)


def impact_scenarios_records(impact: StoredImpact) -> list[dict[str, Any]]:
    """Every set's scenarios as records ``set, scenario, accounts, notional, bad_debt, top_share`` (quote currency;
    lending: ``notional`` is the debt of the liquidatable accounts), scenarios in the stored order, then the stress
    windows when the sets carry them (``top_share`` None where a stored row has none)."""
    out = []
    for r in impact.ordered_sets():
        for s in (*r.scenarios, *r.stress_rows):
            out.append({"set": r.name, "scenario": s.name + ("" if s.in_data else " (not in the data)"),
                        "accounts": s.accounts, "notional": s.amount, "bad_debt": s.bad_debt,
                        "top_share": s.top_share})
    return out


def impact_scenarios_frame(impact: StoredImpact, set_name: str | None = None) -> pd.DataFrame:
    """:func:`impact_scenarios_records` as a table (one set, or all), notionals formatted."""
    recs = [r for r in impact_scenarios_records(impact) if set_name is None or r["set"] == set_name]
    frame = pd.DataFrame(recs, columns=["set", "scenario", "accounts", "notional", "bad_debt", "top_share"])
    frame["notional"] = [_money(x) for x in frame["notional"]]
    frame["bad_debt"] = [_money(x) for x in frame["bad_debt"]]
    if impact.lending:
        frame = frame.drop(columns=["top_share"]).rename(columns={"notional": "debt"})
    return frame.rename(columns={"bad_debt": "bad debt", "top_share": "top-5 share"})


@dataclass(frozen=True, slots=True)
class BookView:
    """What the Book page draws (:func:`book_view`).

    Attributes
    ----------
    impact : StoredImpact
        The impact (:func:`riskparams.service.proposal_impact`, typed).
    origin : str
        ``stored`` (read from the store), ``computed`` or ``stored now``.
    sentences : list of str
        :func:`impact_sentence` for the current parameters and the proposal.
    figure : plotly Figure
        :func:`riskparams.charts.impact_by_scenario`.
    """

    impact: StoredImpact
    origin: str
    sentences: list[str]
    figure: Any

    @property
    def sets(self) -> list[str]:
        """The parameter sets, in the impact's order."""
        return [s.name for s in self.impact.ordered_sets()]

    @property
    def synthetic(self) -> bool:
        """The positions are the synthetic demo book."""
        return bool(self.impact.positions.synthetic)

    def caption(self) -> str:
        """Where the positions came from, in one line."""
        pos = self.impact.positions
        text = (f"Positions: {escape_markdown(pos.source)}, {int(pos.n_positions or 0):,} positions "
                f"in {int(pos.n_accounts or 0):,} accounts")
        if pos.open_notional is not None:
            text += f", open notional {_money(pos.open_notional)}"
        if pos.snapshot:
            text += f", taken {escape_markdown(pos.snapshot)}"
        text += "."
        if self.impact.parameters_source:
            text += f" Parameters: current parameters from {escape_markdown(self.impact.parameters_source)}."
        if self.synthetic:
            text += " This is the **synthetic demo book**, not a venue's positions."
        if self.origin == "stored":
            text += f" Stored with the proposal {escape_markdown((self.impact.created_at or '')[:16])} UTC."
        return text


EXAMPLE_CURRENT_PERP = "current_perp.csv"
"""The example current perpetual parameters (``riskparams/examples``; the demo universe's symbols) the Book page
uses when no proposal is chosen and no current parameters are uploaded."""


def book_view(store: Store, proposal_id: str | None, *, upload: tuple[str, bytes] | None = None, current: Any = None,
              use_stored: bool = True, save: bool = False, sims: int = 300) -> BookView | None:
    """The Book page in one call: the impact of a stored proposal's parameter sets (or of current parameters
    alone, ``proposal_id`` None) on a book.

    The book is ``upload`` (file name, bytes; validated as :func:`riskparams.book.load_positions` validates
    files), else the impact stored last with the proposal (when ``use_stored``), else the synthetic demo book
    over the proposal's symbols (perpetual proposals; None for a lending proposal without a file). Without a
    proposal, ``current`` (default :data:`EXAMPLE_CURRENT_PERP`) is the one set.

    Raises
    ------
    DataError
        A bad positions file (one sentence naming file, row, column and value); nothing is stored then.
    """
    from riskparams import charts
    from riskparams.service import (
        current_impact,
        demo_positions,
        positions_from_upload,
        proposal_impact,
        stored_impact,
    )

    payload: StoredImpact | None = None
    origin = "computed"
    title = "Impact per scenario"
    if proposal_id is None:
        from pathlib import Path

        from riskparams.params_io import load_current

        if current is None:
            current = load_current(Path(__file__).resolve().parent / "examples" / EXAMPLE_CURRENT_PERP, "perp")
        book = (positions_from_upload(upload[0], upload[1], "perp") if upload is not None
                else demo_positions(sorted(current.assets), current=current))
        payload = current_impact(store, book, current, sims=sims)
        title += f", current parameters ({current.source})"
    else:
        stored = get_proposal(store, proposal_id)
        profile = str(stored.profile)
        title += f", proposal {stored.id[:12]}"
        if upload is not None:
            import hashlib

            book = positions_from_upload(upload[0], upload[1], profile)
            payload = proposal_impact(store, stored.id, book, current=current, sims=sims, save=save,
                                      sha256=hashlib.sha256(upload[1]).hexdigest())
            origin = "stored now" if save else "computed"
        elif use_stored and current is None and (found := stored_impact(store, stored.id)) is not None:
            payload, origin = found, "stored"
        elif profile == "perp":
            symbols = [a.symbol for a in typed_proposal(stored).assets if a.status == "ok"]
            book = demo_positions(symbols, proposal=typed_proposal(stored), current=current)
            payload = proposal_impact(store, stored.id, book, current=current, sims=sims, save=save)
            origin = "stored now" if save else "computed"
    if payload is None:
        return None
    sentences = [s for s in (impact_sentence(payload, "current"), impact_sentence(payload, "proposal")) if s]
    fig = charts.impact_by_scenario(impact_scenarios_records(payload), title=title,
                                    amount_label=("debt of liquidatable accounts" if payload.lending
                                                  else "liquidated notional"),
                                    synthetic=bool(payload.positions.synthetic))
    return BookView(impact=payload, origin=origin, sentences=sentences, figure=fig)


# -- policy sweeps (issue 16) -------------------------------------------------------------------------------


def sweep_variant_label(changes: Mapping[str, Any]) -> str:
    """``key=value, key=value`` of a variant's policy changes (plain text): the one label of a variant,
    :func:`riskparams.charts.sweep_variant_label`, so the table and the frontier chart name it identically."""
    from riskparams.charts import sweep_variant_label as label

    return label(changes)


SWEEP_COLUMNS = ("variant", "changes", "avg_margin", "bad_debt", "exceptions", "expected", "kupiec_p", "liquidations",
                 "changes_per_year", "frontier", "var_insolvent_debt")
"""Columns of :func:`sweep_frame`, in order (``var_insolvent_debt`` only when the sweep had positions)."""


def _number(x: Any) -> float:
    """A stored number as a float; ``nan`` for a missing one (``None``), so the column stays numeric."""
    return math.nan if x is None else float(x)


def sweep_frame(sweep: Any) -> pd.DataFrame:
    """The variants of a sweep as the Sweep page's table, numeric so that it sorts by value.

    Parameters
    ----------
    sweep : StoredSweepReport, SweepReport or sequence of SweepVariant
        A stored sweep read typed (:attr:`riskparams.store.sweep_records.StoredSweep.report`), a live sweep
        (:class:`riskparams.backtest.sweep.SweepReport`) or their ``variants``.

    Returns
    -------
    pandas.DataFrame
        One row per variant, columns :data:`SWEEP_COLUMNS`: ``variant`` (int), ``changes``
        (:func:`sweep_variant_label`), ``avg_margin`` (fraction, e.g. 0.0150 for 1.50 %), ``bad_debt`` (quote
        currency), ``exceptions`` (int), ``expected`` (float), ``kupiec_p`` (fraction), ``liquidations`` (int),
        ``changes_per_year`` (float), ``frontier`` (bool) and, when the sweep had positions, ``var_insolvent_debt``
        (quote currency). Missing numbers are ``nan``; the page formats the columns (``riskparams.ui``).
    """
    variants = list(getattr(sweep, "variants", sweep))
    book = any(v.var_insolvent_debt is not None for v in variants)
    rows = []
    for v in variants:
        row = {
            "variant": int(v.index), "changes": sweep_variant_label(v.changes),
            "avg_margin": _number(v.avg_margin), "bad_debt": _number(v.bad_debt),
            "exceptions": int(v.exceptions), "expected": _number(v.expected),
            "kupiec_p": _number(v.kupiec_p), "liquidations": int(v.liquidations),
            "changes_per_year": _number(v.changes_per_year), "frontier": bool(v.on_frontier),
        }
        if book:
            row["var_insolvent_debt"] = _number(v.var_insolvent_debt)
        rows.append(row)
    return pd.DataFrame(rows, columns=[c for c in SWEEP_COLUMNS if book or c != "var_insolvent_debt"])


def sweep_variant_detail(sweep: Any, index: int) -> dict[str, Any]:
    """One variant of a stored sweep: its numbers (:meth:`riskparams.backtest.sweep.SweepVariant.to_dict`), the
    policy keys it changes and its full policy (the base policy with the changes applied): ``policy_key``,
    ``differences``, ``policy``.

    Parameters
    ----------
    sweep : StoredSweepReport
        A stored sweep read typed (:attr:`riskparams.store.sweep_records.StoredSweep.report`).
    index : int
        The variant's number.

    Raises
    ------
    KeyError
        No such variant.
    DataError
        The stored base policy is not a valid policy.
    """
    return {**sweep.variant(index).to_dict(), **sweep.variant_policy(index)}

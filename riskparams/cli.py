"""The ``riskparams`` command.

A user mistake (bad file, unknown symbol, bad option) prints one line on stderr and exits with 2;
an unexpected failure prints one line and exits with 1 (``RISKPARAMS_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from riskparams import __version__
from riskparams.domain import LendingAssetProposal, PerpAssetProposal, Profile
from riskparams.exceptions import RiskParamsError, UsageError
from riskparams.fmt import format_notional
from riskparams.jsonio import clean_float as _f
from riskparams.jsonio import pretty_json

if TYPE_CHECKING:
    from riskparams.config import RiskPolicy
    from riskparams.domain import CurrentParams, Proposal
    from riskparams.impact_content import StoredImpact

EXIT_USAGE = 2
PROFILES = [p.value for p in Profile]
"""The ``--profile`` choices."""


def _usage_error(exc: Exception) -> UsageError:
    """A validation error as one sentence (a period added when it has none)."""
    text = str(exc).strip()
    return UsageError(text if text.endswith(".") else text + ".")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"riskparams: error: {message} (see `{self.prog} --help`)\n")


def _print_json(obj: Any) -> None:
    print(pretty_json(obj, sort_keys=False, ascii_only=True))


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


# -- commands ------------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from riskparams.service import open_store

    with open_store(args.db) as store:
        print(f"store ready: {store.path} (schema version {store.schema_version()})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from riskparams.ingest import load_demo
    from riskparams.service import open_store

    with open_store(args.db) as store:
        if args.remove:
            from riskparams.service import remove_demo

            removed = remove_demo(store)
            print(f"removed {len(removed)} synthetic series ({', '.join(s.label for s in removed)}) from {store.path}"
                  if removed else f"no synthetic series in {store.path}")
            return 0
        reports = load_demo(store, seed=args.seed)
        for r in reports:
            print(r.summary() + " [synthetic]")
        print(f"demo data in {store.path}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from riskparams.ingest import ingest_file
    from riskparams.service import open_store

    with open_store(args.db) as store:
        report = ingest_file(
            store, args.path, symbol=args.symbol, source=args.source, kind=args.kind, freq=args.freq,
            replace=args.replace,
        )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
        for g in report.gaps[:5]:
            print(f"  gap: {g.missing_bars} missing bars after {g.after:%Y-%m-%d %H:%M} UTC")
        if len(report.gaps) > 5:
            print(f"  ... and {len(report.gaps) - 5} more gaps")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from riskparams.ingest import fetch
    from riskparams.service import open_store

    bar = tqdm(total=0, unit="bar", desc=f"{args.exchange} {args.symbol} {args.timeframe}",
               file=sys.stderr, disable=args.quiet or None)

    def progress(done: int, total: int) -> None:
        bar.total = max(total, done)
        bar.n = done
        bar.refresh()

    try:
        with open_store(args.db) as store:
            report = fetch(
                store, exchange=args.exchange, symbol=args.symbol, timeframe=args.timeframe,
                since=args.since, store_symbol=args.as_symbol, kind=args.kind, progress=progress,
            )
    finally:
        bar.close()
    print(report.summary())
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    from riskparams.service import list_assets, open_store

    with open_store(args.db) as store:
        rows = [s.to_dict() for s in list_assets(store)]
    if args.json:
        _print_json(rows)
    elif not rows:
        print("the store is empty: run `riskparams demo` or `riskparams ingest FILE --symbol SYM`")
    else:
        for r in rows:
            r["synthetic"] = "synthetic" if r["synthetic"] else ""
        print(_table(rows, ["symbol", "freq", "kind", "source", "rows", "first", "last", "synthetic"]))
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    from riskparams.service import open_store, series_quality

    with open_store(args.db) as store:
        info, report = series_quality(
            store, args.symbol, freq=args.freq, source=args.source, kind=args.kind,
            stale_min_bars=args.stale_bars, outlier_z=args.outlier_z,
        )
    if args.json:
        _print_json({"series": info.to_dict(), **report.to_dict()})
        return 0
    print(f"{info.label}: {report.bars} bars from {report.first:%Y-%m-%d %H:%M} to "
          f"{report.last:%Y-%m-%d %H:%M} UTC, coverage {report.coverage:.2%}")
    findings = report.findings()
    if not findings:
        print("no gaps, stale runs, outliers or zero-volume bars found")
    for line in findings:
        print(f"- {line}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from riskparams.measures import log_to_price_move
    from riskparams.service import fit_series, open_store
    from riskparams.volatility import FitSpec

    try:
        spec = FitSpec(
            model=args.model, dist=args.dist, mean=args.mean, horizon_hours=args.horizon_hours,
            confidence=args.confidence, min_history=args.min_history,
        )
    except ValueError as exc:
        raise _usage_error(exc) from None
    with open_store(args.db) as store:
        run = fit_series(store, args.symbol, freq=args.freq, source=args.source, kind=args.kind, spec=spec,
                         as_of=args.as_of)
    if args.json:
        _print_json(run.to_dict())
        return 0
    e = run.estimate
    print(f"{run.series.label}: {e.n_obs} returns up to {e.as_of:%Y-%m-%d %H:%M} UTC"
          + (" (cached)" if run.cached else ""))
    params = ", ".join(f"{k}={v:.6g}" for k, v in e.params.items())
    print(f"model {e.model.value}-{e.dist.value} ({e.mean.value} mean): {params}")
    if e.fallback:
        print(f"fallback to EWMA: {e.fallback}")
    print(f"loglik {e.loglik:.2f}, BIC {e.bic:.2f}, persistence {e.persistence:.4f}, converged {e.converged}")
    print(f"volatility: next bar {e.next_vol:.4%} ({e.next_vol_annualised:.1%} annualised), long-run "
          f"{e.long_run_vol_annualised:.1%}, stressed {e.stressed_vol_annualised:.1%} annualised")
    nu = f", nu {e.nu:.2f}" if e.nu is not None else ""
    integrated = " (integrated: persistence at the alpha + beta = 1 boundary)" if e.integrated else ""
    engine = {"fast": "the compiled engine (arch's likelihood)", "arch": "arch's optimiser",
              "ewma": "EWMA (no variance parameters estimated)"}.get(e.engine, e.engine)
    print(f"law {e.model.value}-{e.dist.value}{nu}{integrated}; fitted by {engine}")
    print(f"horizon {e.horizon_hours:g}h ({e.horizon_basis}): vol {e.horizon_vol:.2%}, "
          f"VaR {e.var:.2%}, ES {e.es:.2%} of price at {e.confidence:.1%} ({e.worse_tail} tail)")
    if e.term is not None:
        for m in e.term.methods:
            es = max(log_to_price_move(e.term.tail_measure(m, e.horizon_hours, e.confidence, "es", t), t)
                     for t in ("lower", "upper"))
            print(f"  ES {e.confidence:.1%} over {e.horizon_hours:g}h by {m:9}: {es:.2%}")
    for note in e.notes:
        print(f"note: {note}")
    return 0


def _pct(x: float | None, digits: int = 2) -> str:
    if x is None:
        return ""
    return ">1000%" if x > 10 else f"{x:.{digits}%}"  # beyond 1000% the digits only distract


def _series_head(a: PerpAssetProposal | LendingAssetProposal) -> str:
    ctx, cm = a.context, a.covered
    head = f"{a.symbol}  "
    if ctx is not None:  # set for every asset the service proposes
        syn = " [synthetic]" if ctx.synthetic and ctx.source != "synthetic" else ""
        fb = " (EWMA fallback)" if ctx.fallback else ""
        head += f"{ctx.freq} {ctx.kind} ({ctx.source}){syn}  model {ctx.model}{fb}  "
    return (head + f"vol {_pct(_f(cm.vol_forecast_annualised), 0)} a year (long-run "
            f"{_pct(_f(cm.vol_long_run_annualised), 0)}, stressed {_pct(_f(cm.vol_stressed_annualised), 0)})  covered "
            f"move {_pct(_f(cm.final))} (model {_pct(_f(cm.model))})"
            + ("" if ctx is None else f"  ADV {format_notional(_f(ctx.adv))}"))


def _current_value(a: PerpAssetProposal | LendingAssetProposal, tier: int, parameter: str) -> float | None:
    for ln in a.lines:
        if ln.tier == tier and ln.parameter == parameter:
            return _f(ln.current)
    return None


def _hours_text(h: float | None) -> str:
    if h is None:
        return "-"
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.3g}h"


def _band_line(a: PerpAssetProposal | LendingAssetProposal) -> str:
    mr = a.model_risk
    if mr is None:
        return ""
    nu = f", nu {mr.nu:.2f}" if _f(mr.nu) is not None else ""
    return (f"  model risk over {_hours_text(_f(mr.horizon_hours))} ({mr.measure.upper()} "
            f"{mr.confidence:.1%}): fitted {_pct(_f(mr.fitted))}{nu}, FHS {_pct(_f(mr.fhs)) or 'n/a'}, historical "
            f"{_pct(_f(mr.empirical)) or 'n/a'}; {mr.combine} -> {mr.bound} bound; regime {a.regime or '-'}")


def _format_perp(a: PerpAssetProposal) -> str:
    """The text block of one perpetual market of a proposal, read from the typed asset."""
    out = [_series_head(a)]
    band = _band_line(a)
    if band:
        out.append(band)
    if a.status != "ok":
        out.append(f"  UNMARGINABLE: {a.notes[0] if a.notes else 'no tier can be margined'}")
    cur = a.current
    rows = []
    for k, t in enumerate(a.tiers):
        row = {
            "tier": k + 1,
            "notional": f"{format_notional(_f(t.notional_floor))} - {format_notional(_f(t.notional_cap))}",
            "MPOR": _hours_text(_f(t.horizon_hours)),
            "max lev": f"{t.max_leverage:g}x", "IMF": _pct(_f(t.imf)), "MMF": _pct(_f(t.mmf)),
            "deduction": f"{t.maintenance_deduction:,.0f}", "penalty": _pct(_f(t.liquidation_penalty)),
            "coverage": _pct(_f(t.coverage)) + (" UNDER" if t.under_covered else ""),
        }
        if cur is not None:
            lev = _current_value(a, k, "max_leverage")
            row["current lev/MMF/penalty"] = (
                f"{lev:g}x / {_pct(_current_value(a, k, 'mmf'))} / {_pct(_current_value(a, k, 'liquidation_penalty')) or '-'}"
                if lev is not None else "")
            held = [c for c in cur if c.notional_floor <= t.notional_floor
                    and (c.notional_cap is None or t.notional_floor < c.notional_cap)]
            if held:
                flag = " (!)" if held[0].below_confidence else ""
                row["current coverage"] = _pct(_f(held[0].coverage)) + flag
        rows.append(row)
    if rows:
        cols = list(rows[0])
        out += ["  " + line for line in _table(rows, cols).splitlines()]
    elif cur is not None:
        worst = min(c.coverage for c in cur)
        out.append(f"  current brackets cover at worst {_pct(_f(worst))}")
    peers = a.peers
    if peers is not None and peers.rows:
        prow = []
        for notional, lev, mmf, by_venue in peers.rows:
            row = {"from notional": format_notional(_f(notional)), "proposed": f"{lev:g}x / {_pct(_f(mmf))}"}
            for v in peers.venues:
                x = by_venue[v]
                row[v] = "-" if x is None else f"{x[0]:g}x / {_pct(_f(x[1]))}"
            prow.append(row)
        out.append("  peers (max leverage / maintenance rate at the tier's floor):")
        out += ["  " + line for line in _table(prow, list(prow[0])).splitlines()]
    if _f(a.open_interest_cap) is not None:
        out.append(f"  open-interest cap {format_notional(_f(a.open_interest_cap))} ({a.cap_reason} binds)")
    return "\n".join(out)


def _format_options(p: Proposal) -> str:
    """The options side by side: tier-1 (perp) or LTV/LT/bonus (lending) per asset, and the capital cost."""
    perp = p.profile == "perp"
    lines = ["options (tier 1 per asset; capital cost = initial margin of the reference position)"
             if perp else "options (per asset; capital cost = 1 - LTV)"]
    for o in p.options:
        diff = ", ".join(f"{k}={v}" for k, v in o.differences.items()) or "the policy itself"
        lines.append(f"  {o.name}{' (recommended)' if o.recommended else ''}: {diff}")
    rows = []
    syms = sorted({x.symbol for o in p.options for x in o.assets})
    for sym in syms:
        row: dict[str, Any] = {"asset": sym}
        for o in p.options:
            x = next((y for y in o.assets if y.symbol == sym), None)
            if x is None or (perp and not x.tiers):
                row[o.name] = "-"
            elif perp and x.tiers:
                t = x.tiers[0]
                row[o.name] = (f"{t.max_leverage:g}x MMF {_pct(_f(t.mmf))} pen {_pct(_f(t.liquidation_penalty))} "
                               f"cost {_pct(_f(x.capital_cost))}")
            else:
                row[o.name] = (f"LTV {_pct(_f(x.ltv))} LT {_pct(_f(x.liquidation_threshold))} "
                               f"LB {_pct(_f(x.liquidation_bonus))}")
        rows.append(row)
    lines += ["  " + line for line in _table(rows, list(rows[0])).splitlines()] if rows else []
    return "\n".join(lines)


def _csv_list(text: str | None, flag: str, example: str) -> list[str] | None:
    if text is None:
        return None
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise UsageError(f"{flag} needs at least one value, e.g. {flag} {example}.")
    return items


def _float_list(text: str, flag: str, example: str) -> list[float]:
    out = []
    for x in _csv_list(text, flag, example) or []:
        try:
            v = float(x)
        except ValueError:
            raise UsageError(f"{flag}: {x!r} is not a number (e.g. {flag} {example}).") from None
        if not math.isfinite(v):
            raise UsageError(f"{flag}: {x!r} is not a finite number.")
        out.append(v)
    return out


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from riskparams.config import RiskPolicy, load_policy
    from riskparams.service import open_store, sensitivity

    policy = load_policy(args.policy) if args.policy else RiskPolicy()
    horizons = _float_list(args.horizons, "--horizons", "1,4,8,24")
    qs = _float_list(args.confidence, "--confidence", "0.99,0.995")
    if len(horizons) * len(qs) > 200:
        raise UsageError(f"the grid has {len(horizons) * len(qs)} cells; at most 200.")
    with open_store(args.db) as store:  # the fit goes through the store's fit cache
        grid = sensitivity(store, args.symbol, policy=policy, horizons=horizons, confidences=qs, freq=args.freq,
                           kind=args.kind, as_of=args.as_of)
    d = grid.to_dict()
    if args.json:
        _print_json(d)
        return 0
    print(f"{d['symbol']}: tier-1 MMF (max leverage) by margin period of risk and confidence; {d['series']}, "
          f"{d['model']}")
    rows = []
    for h in sorted({c["horizon_hours"] for c in d["cells"]}):
        row: dict[str, Any] = {"MPOR": _hours_text(h)}
        for c in (c for c in d["cells"] if c["horizon_hours"] == h):
            row[f"{c['confidence']:.2%}"] = f"{_pct(c['tier1_mmf'])} ({c['tier1_max_leverage']:g}x)"
            row[f"ES {c['confidence']:.2%} fitted/FHS/hist"] = (
                f"{_pct(c['es_fitted'])} / {_pct(c['es_fhs']) or '-'} / {_pct(c['es_empirical']) or '-'}")
        rows.append(row)
    print(_table(rows, list(rows[0])))
    return 0


def _format_lending(a: LendingAssetProposal) -> str:
    """The text block of one lending collateral asset of a proposal, read from the typed asset."""
    from riskparams.domain import lending_bps

    out = [_series_head(a)]
    if a.status != "ok":
        out.append(f"  NOT USABLE AS COLLATERAL: {a.notes[0] if a.notes else ''}")
    rows = []
    cur = a.current
    bps_of = lending_bps(a.ltv, a.liquidation_threshold, a.liquidation_bonus)
    for name, bps in (("ltv", "ltv_bps"), ("liquidation_threshold", "liquidation_threshold_bps"),
                      ("liquidation_bonus", "liquidation_bonus_bps")):
        ln = next((x for x in a.lines if x.parameter == name), None)
        change = None if ln is None else _f(ln.change)
        rows.append({
            "parameter": name, "current": _pct(None if cur is None else _f(getattr(cur, name))),
            "proposed": _pct(_f(getattr(a, name))), "bps": bps_of[bps],
            "change": "" if change is None else f"{change * 1e4:+.0f} bps",
            "model": _pct(None if ln is None else _f(ln.model)), "bound": "" if ln is None else ln.bound,
        })
    out += ["  " + line for line in _table(rows, list(rows[0])).splitlines()]
    cov = f"  coverage {_pct(_f(a.coverage))}"
    if cur is not None:
        cov += f"; current {_pct(_f(cur.coverage))}" + (" (below the policy's confidence)" if cur.below_confidence
                                                         else "")
    out.append(cov)
    if _f(a.supply_cap) is not None:
        dc = "" if _f(a.debt_ceiling) is None else f", debt ceiling {format_notional(_f(a.debt_ceiling))}"
        out.append(f"  supply cap {format_notional(_f(a.supply_cap))}, borrow cap {format_notional(_f(a.borrow_cap))}"
                   f"{dc} ({a.cap_reason} binds)")
    return "\n".join(out)


def _policy_current_symbols(args: argparse.Namespace) -> tuple[RiskPolicy, CurrentParams | None, list[str] | None]:
    """The policy (``--policy`` or the defaults), the current parameters (``--current``, else ``None``) and
    the symbols (``--symbols``, else ``None`` for every series) shared by ``propose`` and ``backtest``."""
    from riskparams.config import RiskPolicy, load_policy
    from riskparams.params_io import load_current

    policy = load_policy(args.policy) if args.policy else RiskPolicy()
    current = load_current(args.current, args.profile) if args.current else None
    symbols = None
    if args.symbols is not None:
        symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
        if not symbols:
            raise UsageError("--symbols needs at least one symbol, e.g. --symbols BTC,ETH.")
    return policy, current, symbols


def cmd_propose(args: argparse.Namespace) -> int:
    import textwrap

    from riskparams.params_io import load_peers
    from riskparams.service import open_store, propose

    policy, current, symbols = _policy_current_symbols(args)
    options = _csv_list(args.options, "--options", "conservative,moderate,aggressive")
    peers = load_peers(args.peers) if args.peers else None
    if args.debt_asset is not None and args.profile != "lending":
        raise UsageError("--debt-asset applies to --profile lending only.")
    book, book_hash = _positions_arg(args)  # a bad positions file stops the run before anything is stored
    with open_store(args.db) as store:
        if store.is_empty():
            raise UsageError("the store is empty: run `riskparams demo` or `riskparams ingest FILE --symbol SYM`.")
        if book is not None:
            _check_book_symbols(book, symbols or sorted({s.symbol for s in store.list_series()}))
        run = propose(store, profile=args.profile, policy=policy, current=current, symbols=symbols,
                      as_of=args.as_of, freq=args.freq, kind=args.kind, options=options, peers=peers,
                      debt_asset=args.debt_asset, include_synthetic=args.include_synthetic)
        d = run.to_dict()
        impact = None
        if book is not None and d["assets"]:
            from riskparams.service import proposal_impact

            impact = proposal_impact(store, run.proposal, book, current=current, sims=args.impact_sims,
                                     sha256=book_hash, snapshot=args.positions_date, save=run.stored is not None)
    prop = run.proposal  # the text below is rendered from the typed proposal
    if not prop.assets:
        reasons = "; ".join(f"{s.symbol}: {s.reason}" for s in prop.skipped)
        raise UsageError(f"no asset could be proposed ({reasons}).")
    if impact is not None:  # the JSON boundary: the typed impact's payload, sets apart
        d["impact"] = {r.name: r.to_dict() for r in impact.sets}
        d["impact_positions"] = {k: v for k, v in impact.to_dict().items() if k != "sets"}
    if args.json:
        _print_json(d)
        return 0
    state = "stored now" if d["stored_now"] else "already stored"
    when = f" as of {prop.as_of}" if prop.as_of else ""
    print(f"proposal {run.id[:12]} ({prop.profile}, {d['status']}, {state}){when}: {len(prop.assets)} assets, "
          f"{len(prop.skipped)} skipped")
    print(f"policy: {policy.describe()}")
    for a in prop.assets:
        print()
        print(_format_perp(a) if isinstance(a, PerpAssetProposal) else _format_lending(a))
        print(textwrap.fill(a.rationale, width=110, initial_indent="  why: ", subsequent_indent="       "))
    if prop.options:
        print()
        print(_format_options(prop))
    if prop.skipped:
        print()
        for s in prop.skipped:
            print(f"skipped {s.symbol}: {s.reason}")
    if impact is not None:
        print()
        print(_format_proposal_impact(impact))
    return 0


PROPOSE_IMPACT_SIMS = 500
"""Default ``--impact-sims`` of ``riskparams propose --positions``."""


def _positions_arg(args: argparse.Namespace) -> tuple[Any, str | None]:
    """The ``--positions`` book of ``propose`` (validated) and the file's SHA-256, or (None, None)."""
    if getattr(args, "positions", None) is None:
        for flag in ("positions_date", "impact_sims"):
            if getattr(args, flag, None) not in (None, PROPOSE_IMPACT_SIMS):
                raise UsageError(f"--{flag.replace('_', '-')} needs --positions FILE.")
        return None, None
    import datetime
    import hashlib

    from riskparams.book import load_positions

    if args.impact_sims < 0 or args.impact_sims > 100_000:
        raise UsageError(f"--impact-sims {args.impact_sims} must be between 0 and 100000.")
    if args.positions_date is not None:
        try:
            datetime.date.fromisoformat(args.positions_date)
        except ValueError:
            raise UsageError(f"--positions-date {args.positions_date!r} is not a date (YYYY-MM-DD).") from None
    book = load_positions(args.positions, args.profile)
    return book, hashlib.sha256(Path(args.positions).expanduser().read_bytes()).hexdigest()


def _check_book_symbols(book: Any, symbols: Sequence[str]) -> None:
    """Refuse, before anything is stored, a positions file none of whose symbols (lending: collateral assets) is
    among the symbols to propose for."""
    held = (book.symbol_ids if hasattr(book, "symbol_ids")
            else sorted({book.asset_ids[i] for i in set(book.collateral_assets.tolist())}))
    wanted = {str(s).upper() for s in symbols}
    if not wanted & set(held):
        raise UsageError(f"{book.source}: none of the book's symbols ({', '.join(list(held)[:5])}) is among the symbols "
                         f"to propose for ({', '.join(sorted(wanted)[:5])}).")


def _format_proposal_impact(impact: StoredImpact) -> str:
    """The compact impact table printed after a proposal (one row per parameter set)."""
    from riskparams.views import impact_rows

    pos = impact.positions
    head = (f"impact on open positions: {pos.source} ({pos.n_positions or 0:,} positions, {pos.n_accounts or 0:,} "
            f"accounts{'; SYNTHETIC demo book' if pos.synthetic else ''})"
            + (f", stored with the proposal as {impact.id[:12]}" if impact.id else ""))
    rows = impact_rows(impact)
    cols = ["set", "accounts now", "debt now" if impact.lending else "notional now", "bad debt at move", "VaR p99",
            "LaR p99"]
    out = [head, _table([dict(zip(cols, r.values(), strict=False)) for r in rows], cols)]
    out += [f"  note: {n}" for n in impact.notes[1:]]
    return "\n".join(out)


# -- backtest -------------------------------------------------------------------------------------
def _stress_window(text: str) -> tuple[str, str, str]:
    name, sep, rng = text.partition("=")
    start, sep2, end = rng.partition("..")
    if not (sep and sep2 and name.strip() and start.strip() and end.strip()):
        raise argparse.ArgumentTypeError(f"a stress window is NAME=START..END, e.g. covid=2020-03-01..2020-04-30, got "
                                         f"{text!r}")
    return name.strip(), start.strip(), end.strip()


def _money_short(x: float | None) -> str:
    if x is None:
        return "-"
    return format_notional(x) if abs(x) >= 1 else f"{x:.0f}"


def _p(x: float | None) -> str:
    return "-" if x is None else (f"{x:.3f}" if x >= 0.001 else f"{x:.0e}")


def _phase_text(label: str, blk: Any) -> str:
    """One line of the policy replay's warm-up or steady-state block (a stored ``warmup`` / ``steady_state``)."""
    if not blk["bars"]:
        return f"    {label}: none"
    pt = blk["peak_to_trough"]
    apy = blk["actions_per_year"]
    return (f"    {label} {blk['start'][:10]}..{blk['end'][:10]} ({blk['years'] or 0:.2f} y): {blk['exceptions']} "
            f"exceptions in {blk['n']} against {blk['expected'] or 0:.1f} expected, Kupiec p {_p(blk['kupiec_p'])}, "
            f"Christoffersen p {_p(blk['christoffersen_p'])}; margin {_pct(blk['avg_margin'])} on average, peak/trough "
            f"{'-' if pt is None else f'{pt:.2f}'}; {blk['changes']} changes ({blk['parameter_changes']} parameter "
            f"values), {'-' if apy is None else f'{apy:.1f}'} governance actions a year")


def _format_backtest(run: Any, policy_text: str) -> str:
    """The text of ``riskparams backtest``: a :class:`riskparams.service.BacktestRun` rendered from its typed
    report (:attr:`~riskparams.service.BacktestRun.backtest`)."""
    bt = run.backtest
    spec = bt.backtest_spec
    stored_now = run.stored is not None and run.stored.is_new
    out = [f"backtest {run.id[:12]} ({bt.profile}, {'stored now' if stored_now else 'already stored'}"
           + (f", attached to proposal {run.attached_to[:12]}" if run.attached_to else "")
           + f"): {(bt.start or '')[:10]} to {(bt.end or '')[:10]}, {len(bt.assets)} asset(s)",
           f"policy: {policy_text}",
           f"replay: proposals every {spec.cadence_days:g} days, engine {spec.engine.value}; exceptions: "
           + ("collateral drop over the horizon vs 1 - LT(1+LB)" if bt.profile == "lending" else
              f"adverse excursion (highs/lows, {spec.side.value} side) over the horizon vs tier-1 MMF in force")
           + "; tests on non-overlapping horizons"]
    missing: dict[str, list[str]] = {}
    for a in bt.assets:
        syn = " [synthetic]" if a.synthetic else ""
        out.append(f"  {a.symbol} {a.freq} {a.kind or ''}{syn}: {a.start[:10]}..{a.end[:10]}, "
                   f"{a.observations} obs, horizon {a.horizon_bars} bar(s), window {a.window}, model {a.model}")
        pol = next((s for s in a.sets if s.name == "policy"), None)
        c = None if pol is None else pol.claimed
        if c is not None:
            out.append(f"    claimed coverage (policy, close-to-close, either side): {c.exceptions} exceptions in "
                       f"{c.n} against {c.expected or 0:.1f} claimed ({_pct(c.claimed_rate, 3)} a horizon), Kupiec "
                       f"p {_p(c.kupiec_p)}; outside stressed regimes {c.steady_exceptions} in {c.steady_n} "
                       f"against {c.steady_expected or 0:.1f}, p {_p(c.steady_kupiec_p)}")
        ex = None if pol is None else pol.execution
        if ex is not None and pol is not None and pol.warmup is not None and pol.steady_state is not None:
            out.append(f"    execution lag {ex['lag_days'] or 0:g} days (a decision is in force that many days after it "
                       f"is taken); warm-up ends: {ex['warmup_end_reason']}")
            out.append(_phase_text("warm-up", pol.warmup))
            out.append(_phase_text("steady state", pol.steady_state))
            out.append(f"    dead-band {_pct(ex['dead_band'], 1)}: {ex['changes']} changes as replayed, "
                       f"{ex['changes_without_dead_band']} without it (dead-band 0, same path)")
        live = a.live_tier1
        if pol is not None and live.get("avg_mmf") is not None and bt.profile == "perp":
            capital = pol.detail["capital"]
            out.append(f"    capital: tier-1 MMF {_pct(pol.avg_margin)} on average as evaluated (max "
                       f"leverage {capital['avg_max_leverage'] or 0:.1f}x on average over the period); the "
                       f"policy itself (tier-1 MPOR {_hours_text(live.get('mpor_hours'))} at the start): "
                       f"{_pct(live['avg_mmf'])} ({live.get('avg_max_leverage') or 0:.1f}x on average)")
        for note in a.notes:
            if note.startswith("parameter set ") and " has no " in note:
                missing.setdefault(note.split(" has no ")[0], []).append(a.symbol)
            else:
                out.append(f"    note: {note}")
    for what, syms in missing.items():
        out.append(f"  {what} has no {_assets_text(syms, 60)}")
    rows = []
    for r in bt.results:
        s = bt.asset(r.symbol).set(r.parameter_set)
        rows.append({
            "asset": r.symbol, "set": r.parameter_set, "n": r.n, "exc": r.exceptions,
            "exp": f"{r.expected or 0:.1f}", "Kupiec p": _p(r.kupiec_p), "CC p": _p(r.cc_p),
            "light": r.traffic_light or "-", "avg margin": _pct(r.avg_margin),
            "P/T": "-" if r.peak_to_trough is None else f"{r.peak_to_trough:.2f}",
            "max 5d": _pct(r.max_5d_increase, 0) or "-", "changes": s.detail["capital"]["changes"],
            "liq": r.liquidations, "bad debt": _money_short(r.bad_debt),
            "fund min": _money_short(s.detail["liquidation"]["insurance_fund_min"]),
        })
    out.append("")
    out += _table(rows, list(rows[0])).splitlines() if rows else ["(no results)"]
    for a in bt.assets:
        wins = ([w for w in a.stress_windows if w.source == "drawdown"][:3]
                + [w for w in a.stress_windows if w.source != "drawdown"])
        if not wins:
            continue
        parts = []
        for w in wins:
            exc = ", ".join(f"{s.name} {next(x for x in s.detail['stress_windows'] if x['name'] == w.name)['exceptions']}"
                            for s in a.sets)
            parts.append(f"{w.name} {w.start_time:%Y-%m-%d}..{w.end_time:%Y-%m-%d} (-{w.depth or 0:.0%}; "
                         f"exceptions {exc})")
        out.append(f"stress {a.symbol}: " + "; ".join(parts))
    for sym, reason in bt.skipped:
        out.append(f"skipped {sym}: {reason}")
    return "\n".join(out)


def _progress_bar(desc: str, unit: str, quiet: bool) -> tuple[Any, Callable[[int, int, str], None]]:
    """A tqdm bar on stderr and the ``progress(done, total, message)`` callback that moves it."""
    from tqdm import tqdm

    bar = tqdm(total=1, unit=unit, desc=desc, file=sys.stderr, disable=quiet or None)

    def progress(done: int, total: int, message: str) -> None:
        bar.total = max(total, done)
        bar.n = done
        bar.set_postfix_str(message[:40], refresh=False)
        bar.refresh()

    return bar, progress


def cmd_backtest(args: argparse.Namespace) -> int:

    from riskparams.backtest import BacktestSpec
    from riskparams.service import backtest, open_store

    policy, current, symbols = _policy_current_symbols(args)
    try:
        spec = BacktestSpec(profile=args.profile, start=args.start, end=args.end, cadence_days=args.cadence,
                            engine=args.engine, window=args.window, refit_every=args.refit_every,
                            side=args.side, windows=tuple(args.stress or ()),
                            execution_lag_days=args.execution_lag_days, warmup_max_days=args.warmup_max_days)
    except ValueError as exc:
        raise _usage_error(exc) from None
    book, sets = _portfolio_inputs(args)
    bar, progress = _progress_bar("backtest", "step", args.quiet)

    portfolio: dict[str, Any] = {}
    try:
        with open_store(args.db) as store:
            if store.is_empty():
                raise UsageError("the store is empty: run `riskparams demo` or `riskparams ingest FILE --symbol SYM`.")
            if book is not None:  # before the backtest: a set the book cannot use fails before anything is stored
                from riskparams.service import portfolio_stress

                fund = args.insurance_fund if args.insurance_fund == "target" else _fund_amount(args.insurance_fund)
                portfolio = {name: portfolio_stress(store, ref, book, insurance_fund=fund, adl=args.adl)
                             for name, ref in sets}
            run = backtest(store, profile=args.profile, policy=policy, current=current, compare=args.compare or [],
                           symbols=symbols, freq=args.freq, kind=args.kind, spec=spec, attach=args.attach,
                           actor=args.member, progress=progress)
    finally:
        bar.close()
    if args.json:
        out = run.to_dict(paths=args.paths)
        if book is not None:
            out["portfolio"] = {"positions": book.source, "n_positions": len(book),
                                "sets": {name: r.to_dict() for name, r in portfolio.items()},
                                "note": PORTFOLIO_NOTE}
        _print_json(out)
        return 0
    print(_format_backtest(run, policy.describe()))
    if book is not None:
        print(_format_portfolio(book, portfolio))
    return 0


PORTFOLIO_NOTE = ("the policy replay is left out of the portfolio stress: its parameters change over time, and the "
                  "book is replayed against fixed parameter sets")


def _fund_amount(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--insurance-fund {text!r} must be an amount in quote currency or 'target'.") from None
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(f"--insurance-fund {text!r} must be an amount >= 0 in quote currency or 'target'.")
    return value


def _portfolio_inputs(args: argparse.Namespace) -> tuple[Any, list[tuple[str, str]]]:
    """``(book, [(set name, parameters file or proposal id)])`` for ``backtest --portfolio``, checked before
    anything runs; ``(None, [])`` without ``--portfolio``."""
    if not args.portfolio:
        if args.positions:
            raise UsageError("--positions on backtest needs --portfolio (the joint stress windows against one "
                             "insurance fund).")
        return None, []
    if not args.positions:
        raise UsageError("--portfolio needs --positions FILE (a perpetual positions file).")
    if args.profile != "perp":
        raise UsageError("--portfolio replays perpetual positions: use it with --profile perp.")
    from riskparams.book import load_positions

    if args.insurance_fund != "target":
        _fund_amount(args.insurance_fund)
    sets = ([("current", str(args.current))] if args.current else []) + \
        [(Path(str(c)).stem if Path(str(c)).suffix else str(c)[:12], str(c)) for c in (args.compare or [])] + \
        ([(f"proposal {args.attach[:12]}", str(args.attach))] if args.attach else [])
    if not sets:
        raise UsageError("--portfolio needs a fixed parameter set: --current FILE, --compare FILE|ID or --attach ID.")
    return load_positions(args.positions, "perp"), sets


def _format_portfolio(book: Any, results: Mapping[str, Any]) -> str:
    """The portfolio stress per parameter set as text: windows in order, one fund carried through them."""
    lines = [f"\nPortfolio stress: {book.source} ({len(book):,} positions) through the joint stress windows, one "
             "insurance fund carried from window to window; " + PORTFOLIO_NOTE + "."]
    for name, r in results.items():
        d = r.to_dict()
        wf = d["waterfall"]
        lines.append(f"\n{name}: fund {format_notional(wf.get('insurance_fund'))} (target "
                     f"{format_notional(d['fund_target'])}, adequacy "
                     f"{'-' if d['fund_adequacy'] is None else format(d['fund_adequacy'], '.2f')}), "
                     f"ADL {'on' if wf.get('adl') else 'off'}")
        rows = [{"window": w["name"] + ("" if w.get("accounts") is not None else " (not in the data)"),
                 "accounts": "-" if w.get("accounts") is None else f"{w['accounts']:,}",
                 "liquidated": format_notional(w.get("notional")), "bad debt": format_notional(w.get("bad_debt")),
                 "fund paid": format_notional(w.get("fund_paid")),
                 "socialised": format_notional(w.get("socialised_loss")),
                 "fund min": format_notional(w.get("insurance_fund_min"))} for w in d["stress_windows"]]
        lines.append(_table(rows, list(rows[0])) if rows else "no stress window")
        lines.append(f"largest socialised loss {format_notional(d['socialised_loss'])}; fund minimum "
                     f"{format_notional(d['insurance_fund_min'])}"
                     + ("; the fund went NEGATIVE (ADL off)" if wf.get("fund_went_negative") else ""))
    return "\n".join(lines)


def cmd_sweep(args: argparse.Namespace) -> int:

    from riskparams.backtest import BacktestSpec
    from riskparams.executors import ExecutorSpec
    from riskparams.service import open_store, sweep

    policy, current, symbols = _policy_current_symbols(args)
    if not args.grid:
        raise UsageError("a sweep needs at least one --grid KEY=V1,V2, e.g. --grid confidence=0.99,0.995.")
    try:
        spec = BacktestSpec(profile=args.profile, start=args.start, end=args.end, cadence_days=args.cadence,
                            window=args.window, refit_every=args.refit_every, side=args.side, es_sims=0,
                            execution_lag_days=args.execution_lag_days, engine=args.engine)
        ex = ExecutorSpec.parse(args.executor, scheduler=args.scheduler, threads_per_worker=args.threads_per_worker)
    except ValueError as exc:
        raise _usage_error(exc) from None
    bar, progress = _progress_bar("sweep", "task", args.quiet)

    try:
        with open_store(args.db) as store:
            if store.is_empty():
                raise UsageError("the store is empty: run `riskparams demo` or `riskparams ingest FILE --symbol SYM`.")
            run = sweep(store, profile=args.profile, grid=args.grid, policy=policy, current=current, symbols=symbols,
                        freq=args.freq, kind=args.kind, spec=spec, executor=ex, chunk=args.chunk,
                        cache_dir=args.cache, attach=args.attach, actor=args.member, progress=progress,
                        positions=args.positions)
    finally:
        bar.close()
    if args.json:
        _print_json(run.to_dict())
        return 0
    from riskparams.jsonio import inline_json

    rep = run.report
    print(f"sweep {run.id[:12]}: {len(rep.variants)} variants x {len(rep.symbols)} asset(s), {rep.fits} fits, "
          f"{rep.tasks} task(s) ({rep.tasks_cached} from the cache) on {rep.executor} in {run.wall_s:.1f}s")
    keys = sorted({k for v in rep.variants for k in v.changes})
    tails = [k.rsplit(".", 1)[-1] for k in keys]
    short = {k: (t if tails.count(t) == 1 else k) for k, t in zip(keys, tails, strict=True)}  # unambiguous names
    labels = [", ".join(f"{short[k]}={inline_json(x)}" for k, x in v.changes.items()) for v in rep.variants]
    width = min(max([len("variant"), *map(len, labels)]), 70) + 1
    print(f"{'':2}{'variant':<{width}}{'avg margin':>11}{'exc/exp':>12}{'kupiec p':>9}{'bad debt':>14}{'liqs':>7}"
          f"{'chg/yr':>7}")
    for v, label in zip(rep.variants, labels, strict=True):
        am = "-" if v.avg_margin is None else f"{v.avg_margin:.2%}"
        kp = "-" if v.kupiec_p is None else f"{v.kupiec_p:.3f}"
        cy = "-" if v.changes_per_year is None else f"{v.changes_per_year:.1f}"
        print(f"{'*' if v.on_frontier else ' ':2}{label[:width - 1]:<{width}}{am:>11}"
              f"{f'{v.exceptions}/{v.expected:.1f}':>12}{kp:>9}{format_notional(v.bad_debt):>14}{v.liquidations:>7}"
              f"{cy:>7}")
    print("* on the frontier of average margin against bad debt" + (f"; attached to {run.attached_to[:12]}"
                                                                   if run.attached_to else ""))
    return 0


# -- governance: listing, workflow, overrides, diff, export -------------------------------------
def _committee(args: argparse.Namespace) -> Any:
    """The committee file the user named (``--committee`` or ``$RISKPARAMS_COMMITTEE``), else None: the store's
    registered committee decides (the example committee for a store that has none yet)."""
    from riskparams.governance import COMMITTEE_ENV_VAR, load_committee

    if args.committee or os.environ.get(COMMITTEE_ENV_VAR):
        return load_committee(args.committee)
    return None


def _signing(args: argparse.Namespace) -> dict[str, Any]:
    """``key`` / ``signature`` keyword arguments of a governance action from ``--key`` or ``--signature``."""
    from riskparams import signing

    key_file = getattr(args, "key", None)
    sig = getattr(args, "signature", None)
    if key_file and sig:
        raise UsageError("give either --key (sign here) or --signature (signed elsewhere), not both.")
    if key_file:
        return {"key": signing.load_key(key_file)}
    if sig:
        if args.signed_at is None:
            raise UsageError("--signature needs --signed-at: the timestamp of the typed data that was signed "
                             "(`riskparams typed-data` prints it).")
        return {"signature": signing.Signature(scheme=args.scheme, signature=sig, timestamp=args.signed_at)}
    return {}


def _who(args: argparse.Namespace) -> str:
    from riskparams.governance import MEMBER_ENV_VAR

    who = args.member or os.environ.get(MEMBER_ENV_VAR, "")
    if not who.strip():
        raise UsageError(f"say which committee member acts: --as HANDLE (or set {MEMBER_ENV_VAR}).")
    return str(who)


def _assets_text(assets: list[str], width: int = 40) -> str:
    text = ", ".join(assets)
    if len(text) <= width:
        return text
    shown: list[str] = []
    for a in assets:
        if len(", ".join([*shown, a])) > width - 8:
            break
        shown.append(a)
    return ", ".join(shown) + f", ... (+{len(assets) - len(shown)})"


def _status_label(status: str) -> str:
    return status.replace("_", " ")


def _workflow_line(wf: Any) -> str:
    counted = len(wf.counted_sign_offs)
    line = f"proposal {wf.proposal_id[:12]} (revision {wf.revision}) is {_status_label(wf.status)}"
    if wf.status == "in_review":
        line += f"; {counted} of {wf.quorum} sign-offs"
        if wf.dissents:
            line += "; dissent from " + ", ".join(f"@{v.member}" for v in wf.dissents)
        line += "; ready to approve" if wf.approval_blocker is None else ""
    return line


def cmd_proposals(args: argparse.Namespace) -> int:
    from riskparams.governance import list_governance
    from riskparams.service import open_store

    committee = _committee(args)
    with open_store(args.db) as store:
        rows = list_governance(store, committee=committee, profile=args.profile, limit=args.limit)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no proposals stored: run `riskparams propose --profile perp` (or lending)")
        return 0
    table = [{
        "id": r["id"][:12], "status": _status_label(r["status"]), "profile": r["profile"], "rev": r["revision"],
        "assets": _assets_text(r["assets"]),
        "sign-offs": f"{len(r['sign_offs'])}/{r['quorum']}" + (f" ({', '.join(r['sign_offs'])})" if r["sign_offs"]
                                                              else ""),
        "dissents": ", ".join(r["dissents"]), "created (UTC)": r["created_at"],
    } for r in rows]
    print(_table(table, list(table[0])))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from riskparams.governance import workflow
    from riskparams.service import open_store

    committee = _committee(args)
    with open_store(args.db) as store:
        wf = workflow(store, args.id, committee=committee)
    if args.json:
        _print_json(wf.to_dict())
        return 0
    print(_workflow_line(wf))
    if wf.parent_id:
        print(f"parent: {wf.parent_id[:12]}")
    if wf.children:
        print("revisions: " + ", ".join(c[:12] for c in wf.children))
    for v in wf.sign_offs:
        note = "" if v.counted else " (not counted)"
        print(f"signed off: @{v.member}{note}" + (f": {v.comment}" if v.comment else ""))
    for v in wf.dissents:
        print(f"dissent: @{v.member}: {v.comment}")
    if wf.status == "in_review" and wf.approval_blocker:
        print(f"cannot approve yet: {wf.approval_blocker}")
    if wf.events:
        print()
        rows = [{"time (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"), "member": f"@{e.actor}", "action": e.action,
                 "status": f"{e.from_status or '-'} -> {e.to_status or '-'}", "comment": e.comment or ""}
                for e in wf.events]
        print(_table(rows, list(rows[0])))
    return 0


def _action(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from riskparams import governance as gov
        from riskparams.service import open_store

        committee = _committee(args)
        who = _who(args)
        funcs: dict[str, Callable[..., Any]] = {
            "review": gov.submit_for_review, "sign": gov.sign_off, "dissent": gov.dissent, "retract": gov.retract,
            "approve": gov.approve, "reject": gov.reject, "withdraw": gov.withdraw,
        }
        sign = _signing(args)
        with open_store(args.db) as store:
            if name == "comment":
                wf = gov.comment(store, args.id, who, text=args.comment or "", committee=committee, **sign)
            elif name in ("dissent", "reject"):
                wf = funcs[name](store, args.id, who, comment=args.comment or "", committee=committee, **sign)
            elif name == "approve":
                wf = gov.approve(store, args.id, who, comment=args.comment, committee=committee, option=args.option,
                                 **sign)
            else:
                wf = funcs[name](store, args.id, who, comment=args.comment, committee=committee, **sign)
        if args.json:
            _print_json(wf.to_dict())
        else:
            print(_workflow_line(wf))
        return 0

    return run


def cmd_override(args: argparse.Namespace) -> int:
    from riskparams.governance import Override, revise
    from riskparams.service import open_store

    committee = _committee(args)
    who = _who(args)
    overrides = [Override.parse(text) for text in args.set]
    with open_store(args.db) as store:
        rev = revise(store, args.id, who, overrides, justification=args.justification or "", committee=committee,
                     **_signing(args))
    if args.json:
        _print_json({"id": rev.id, "workflow": rev.workflow.to_dict(), "parent": rev.parent.to_dict()})
        return 0
    print(f"revision {rev.workflow.revision} stored as proposal {rev.id[:12]} (draft); parent "
          f"{rev.parent.proposal_id[:12]} is {_status_label(rev.parent.status)}")
    for o in overrides:
        print(f"  {o.label} = {o.value:g}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from riskparams.plan import percent_cells
    from riskparams.service import create_plan_revisions, open_store, plan_proposal

    committee = _committee(args) if args.create_revisions else None
    who = _who(args) if args.create_revisions else (args.member or os.environ.get("RISKPARAMS_MEMBER") or None)
    with open_store(args.db) as store:
        plan = plan_proposal(store, args.id, max_step=args.max_step, min_days=args.min_days, budget=args.budget,
                             start=args.start, actor=who)
        revisions = create_plan_revisions(store, plan.id, who, committee=committee) if args.create_revisions else None
    if args.json:
        body = plan.to_dict()  # the stored plan's dictionary (content keys sorted, then id and created_at)
        if revisions is not None:
            body["revisions"] = revisions
        _print_json({"plan": body})
        return 0
    steps, r = plan.steps, plan.spec.max_step
    print(f"plan {plan.id[:12]} of proposal {plan.proposal_id[:12]}: {len(steps)} step"
          f"{'s' if len(steps) != 1 else ''}, at most {r:.4g} ({r:.2%}) per parameter "
          f"per step, {plan.spec.min_days} days apart; the last step is the proposal's target")
    rows = [{"step": st.number, "date": st.date, "changes": len(st.changes),
             "coverage": percent_cells(st.coverage), "avg margin": percent_cells(st.avg_margin)} for st in steps]
    print(_table(rows, ["step", "date", "changes", "coverage", "avg margin"]))
    for note in plan.notes:
        print(f"note: {note}")
    if revisions is not None:
        for c in revisions["created"]:
            print(f"step {c['step']} stored as revision {c['revision_id'][:12]} (draft), linked to its parent")
        if revisions["waiting"]:
            print(revisions["waiting"])
    return 0


_TYPED_ACTIONS = {"sign": "signed_off", "dissent": "dissented", "retract": "retracted", "approve": "approved",
                  "reject": "rejected", "review": "submitted", "withdraw": "withdrawn", "comment": "commented",
                  "override": "revised", "committee-propose": "committee_change_proposed",
                  "committee-sign": "signed_off", "committee-dissent": "dissented",
                  "committee-approve": "committee_changed"}


def cmd_typed_data(args: argparse.Namespace) -> int:
    from riskparams.governance import Override, typed_data
    from riskparams.service import open_store

    overrides = [Override.parse(t) for t in args.set or []]
    with open_store(args.db) as store:
        data = typed_data(store, args.id, _who(args), _TYPED_ACTIONS[args.action], comment=args.comment,
                          option=args.option, overrides=overrides, committee=_committee(args))
    _print_json(data)
    print(f"sign this within 24 hours, then pass --signature HEX --signed-at {data['message']['timestamp']}",
          file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from riskparams.service import open_store
    from riskparams.verify import verify

    with open_store(args.db) as store:
        report = verify(store, args.id, anchor=args.anchor)
    if args.json:
        _print_json(report.to_dict())
        return 0 if report.ok else 1
    scope = f"proposal {report.proposal_id[:12]} and its revisions" if report.proposal_id else "every proposal"
    counts = ", ".join(f"{v} {k if v != 1 else k.removesuffix('s')}" for k, v in report.checked.items())
    if report.ok:
        print(f"verified: {scope}; {counts}; chain head {report.chain_head}")
    else:
        n = len(report.problems)
        print(f"NOT VERIFIED: {n} problem{'s' if n != 1 else ''} in {scope} ({counts})")
        for prob in report.problems:
            print(f"  [{prob.kind}] {prob.message}")
    for note in report.notes[:10]:
        print(f"note: {note}")
    return 0 if report.ok else 1


def cmd_keys(args: argparse.Namespace) -> int:
    from riskparams import signing

    if args.what == "new":
        key = signing.new_key(args.scheme)
        path = signing.save_key(key, args.key)
        field = "address" if key.scheme == "eip712" else "ed25519"
        print(f"wrote {path} (readable by you only; keep it secret). Add to your [[members]] entry in the "
              f"committee file:\n{field} = \"{key.public}\"")
        return 0
    key = signing.load_key(args.key)
    if args.what == "show":
        print(key.public)
        return 0
    if args.path is None:
        raise UsageError("keys sign needs the typed data: a JSON file from `riskparams typed-data`, or - for "
                         "standard input.")
    text = sys.stdin.read() if args.path == "-" else _read_text_file(args.path)
    try:
        msg = signing.message_from_typed_data(json.loads(text))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.path}: not JSON ({exc}).") from None
    sig = signing.sign(msg, key)
    print(sig.signature)
    print(f"pass --signature {sig.signature[:10]}... --signed-at {sig.timestamp} --scheme {sig.scheme}",
          file=sys.stderr)
    return 0


def _read_text_file(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}.") from None


def cmd_committee(args: argparse.Namespace) -> int:
    from riskparams import governance as gov
    from riskparams.service import open_store

    with open_store(args.db) as store:
        if args.what == "show":
            c = gov.store_committee(store, _committee(args))
            if args.json:
                _print_json({**c.to_dict(), "hash": c.hash})
                return 0
            print(f"committee {c.hash[:12]} ({c.source}): quorum {c.quorum}, author_may_sign "
                  f"{str(c.author_may_sign).lower()}, require_signatures {str(c.require_signatures).lower()}")
            rows = [{"handle": f"@{m.handle}", "name": m.name, "role": m.role,
                     "keys": ", ".join(k for k, v in (("address", m.eth_address), ("ed25519", m.ed25519),
                                                      ("email", m.email)) if v) or "-"} for m in c.members]
            print(_table(rows, list(rows[0])))
            return 0
        if args.what == "changes":
            changes = gov.committee_changes(store)
            if args.json:
                _print_json([ch.to_dict() for ch in changes])
                return 0
            if not changes:
                print("no committee changes proposed")
            for ch in changes:
                print(f"change {ch.committee_hash[:12]} ({ch.status}) by @{ch.proposer}: adds "
                      f"{', '.join(ch.added) or 'nobody'}, removes {', '.join(ch.removed) or 'nobody'}, changes "
                      f"{', '.join(ch.changed_rules) or 'no rule'}; {len(ch.sign_offs)} of {ch.quorum} sign-offs")
            return 0
        if args.target is None:
            raise UsageError(f"committee {args.what} needs "
                             f"{'the new committee file' if args.what == 'propose' else 'the change id'}.")
        who, sign = _who(args), _signing(args)
        if args.what == "propose":
            ch = gov.propose_committee_change(store, gov.load_committee(args.target), who, comment=args.comment,
                                              **sign)
        elif args.what == "approve":
            ch = gov.approve_committee_change(store, args.target, who, comment=args.comment, **sign)
        else:
            vote = {"sign": "sign_off", "dissent": "dissent", "retract": "retract"}[args.what]
            ch = gov.vote_committee_change(store, args.target, who, vote, comment=args.comment, **sign)
    if args.json:
        _print_json(ch.to_dict())
        return 0
    print(f"committee change {ch.committee_hash[:12]} is {ch.status}: {len(ch.sign_offs)} of {ch.quorum} sign-offs"
          + (f"; dissent from {', '.join('@' + d for d in ch.dissents)}" if ch.dissents else ""))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from riskparams.governance import diff
    from riskparams.service import open_store

    with open_store(args.db) as store:
        d = diff(store, args.old, args.new, changed_only=not args.all)
    if args.json:
        _print_json(d.to_dict())
        return 0
    noun = "parameter" if args.all else "changed parameter"
    print(f"{d.old_id[:12]} -> {d.new_id[:12]} ({d.profile}): {len(d.rows)} {noun}{'' if len(d.rows) == 1 else 's'}")
    if d.rows:
        def value(param: str, x: float | None) -> str:
            return "-" if x is None else (f"{x:g}x" if param == "max_leverage" else _pct(x))

        rows = [{"asset": r.symbol, "parameter": r.parameter, "tier": "" if r.tier is None else r.tier + 1,
                 "old": value(r.parameter, r.old), "new": value(r.parameter, r.new),
                 "change": "" if r.change is None else (f"{r.change:+g}x" if r.parameter == "max_leverage"
                                                        else f"{r.change * 1e4:+.0f} bps")}
                for r in d.rows]
        print(_table(rows, list(rows[0])))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from riskparams.service import export_bytes, open_store

    committee = _committee(args)
    who = _who(args)
    addresses = _addresses(args.address or [])
    report_url = _report_url(args.report_url)
    with open_store(args.db) as store:
        out = None if args.out == "-" else Path(args.out or ".")
        # the one export path of the command line and the dashboard (same bytes for the same choices)
        result = export_bytes(store, args.id, args.format, who, committee=committee, backtest=args.backtest,
                              dydx_first_id=args.dydx_first_id, out=out, asset_addresses=addresses,
                              report_url=report_url)
    state = "" if result.final else " (marked DRAFT: not approved)"
    if out is None:
        sys.stdout.buffer.write(result.data)
        sys.stdout.flush()
        print(f"exported {len(result.data):,} bytes, sha256 {result.sha256}{state}", file=sys.stderr)
        return 0
    print(f"wrote {result.path} ({len(result.data):,} bytes, sha256 {result.sha256[:16]}...){state}; proposal is "
          f"{_status_label(result.status)}")
    return 0


_URL = re.compile(r"https://[^\s<>\"'`]{1,2000}")


def _addresses(items: Sequence[str]) -> dict[str, str] | None:
    """``--address SYMBOL=0x...`` (repeatable) as ``{SYMBOL: address}``; the export checks each address."""
    out: dict[str, str] = {}
    for item in items:
        sym, sep, addr = str(item).partition("=")
        if not sep or not sym.strip() or not re.fullmatch(r"[A-Za-z0-9._-]{1,20}", sym.strip()):
            raise UsageError(f"--address {item!r} must be SYMBOL=0xADDRESS, e.g. WBTC=0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599.")
        out[sym.strip().upper()] = addr.strip()
    return out or None


def _report_url(url: str | None) -> str | None:
    """``--report-url``: an https URL without spaces or quotes (at most 2,000 characters), or None."""
    if url is None:
        return None
    if not _URL.fullmatch(url):
        raise UsageError(f"--report-url {url[:80]!r} must be an https:// URL without spaces or quotes.")
    return url


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _format_impact(r: Any) -> str:
    """An impact report as text a committee member reads."""
    d = r.to_dict()
    lines = [f"Impact of {r.label} on {r.source}: {r.n_positions:,} positions in {r.n_accounts:,} accounts, "
             f"{format_notional(r.open_notional)} open notional."]
    rows = []
    for s in r.scenarios:
        moves = sorted(set(s.moves.values()))
        move = "" if len(moves) != 1 else f"{moves[0]:+.1%}"
        if len(moves) > 1:
            move = f"{min(moves):+.1%} .. {max(moves):+.1%}"
        rows.append({"scenario": s.name, "price move": move, "accounts liquidated": f"{s.accounts:,}",
                     "notional liquidated": format_notional(s.notional), "bad debt": format_notional(s.bad_debt),
                     f"top-{r.top_n} share": _share(s.top_share)})
    lines.append(_table(rows, list(rows[0])))
    at = r.at_move
    lines.append(f"Liquidatable now: {r.liquidatable_now:,} accounts, {format_notional(r.liquidatable_now_notional)}.")
    if at is None:
        lines.append("Bad debt at the covered move: not computed (no covered move known; give --move).")
    else:
        lines.append(f"Bad debt at the covered move ({at.name.removeprefix('covered move ')}, the worse side): "
                     f"{format_notional(at.bad_debt)}; the {r.top_n} largest accounts hold "
                     f"{_share(d['top_concentration']['at_move'])} of the notional liquidated there.")
    sim = r.simulation
    if sim is None:
        lines.append("VaR of insolvent debt and liquidations-at-risk: not simulated (give --sims N).")
    else:
        lines.append(f"Simulated ({sim.n_sims:,} bootstraps of {sim.horizon_days} joint day(s) drawn from {sim.days:,} "
                     f"days, seed {sim.seed}): VaR of insolvent debt 95% {format_notional(sim.var_insolvent_debt['p95'])}, "
                     f"99% {format_notional(sim.var_insolvent_debt['p99'])}; liquidations-at-risk 95% "
                     f"{format_notional(sim.lar['p95'])}, 99% {format_notional(sim.lar['p99'])}.")
        if sim.insurance_fund is not None and sim.beyond_fund is not None:
            lines.append(f"Bad debt beyond the insurance fund of {format_notional(sim.insurance_fund)} in "
                         f"{sim.p_beyond_fund:.1%} of the simulations; 95% {format_notional(sim.beyond_fund['p95'])}, "
                         f"99% {format_notional(sim.beyond_fund['p99'])} (penalties to the fund not counted).")
    lines += [f"Note: {n}" for n in r.notes]
    st = r.stress
    if st is None:
        lines.append("Stress windows, correlated shocks and the liquidation waterfall: not run (they need the "
                     "store's daily prices: give --db).")
        return "\n".join(lines)
    sd = st.to_dict()
    w = sd["waterfall"]
    fund_how = " (sized by the fund-target rule)" if w["fund_sized_by_rule"] else ""
    lines.append(f"Liquidation waterfall: close factor {w['close_factor']:g}"
                 + ("" if w["slice_above"] is None else f" above {format_notional(w['slice_above'])}")
                 + f", backstop {'on' if w['backstop'] else 'off'}, {w['penalty_to_fund']:.0%} of penalties to the "
                 f"fund, insurance fund {format_notional(w['insurance_fund'])}{fund_how}, "
                 f"auto-deleveraging {'on' if w['adl'] else 'off'}.")
    rows = []
    for d in sd["stress_windows"]:
        span = "" if d["start"] is None else f"{d['start']}..{d['end']}"
        if d["status"] != "ok":
            rows.append({"stress": d["name"], "days": span, "accounts": "-", "notional": "-",
                         "bad debt": f"not in the data ({', '.join(d['missing'])})", "fund paid": "-",
                         "socialised": "-", "fund min": "-"})
            continue
        rows.append({"stress": d["name"], "days": span or "1 (hypothetical)", "accounts": f"{d['accounts']:,}",
                     "notional": format_notional(d["notional"]), "bad debt": format_notional(d["bad_debt"]),
                     "fund paid": format_notional(d["fund_paid"]),
                     "socialised": format_notional(d["socialised_loss"]),
                     "fund min": format_notional(d["insurance_fund_min"])})
    if rows:
        lines.append(_table(rows, list(rows[0])))
    adequacy = sd["fund_adequacy"]
    lines.append(f"Fund target ({w['fund_target_rule']}): {format_notional(sd['fund_target'])}; adequacy "
                 + ("- (no stress path leaves bad debt)" if adequacy is None else f"{adequacy:.0%}")
                 + f". Worst socialised loss {format_notional(sd['socialised_loss'])}; lowest fund balance "
                 f"{format_notional(sd['insurance_fund_min'])}.")
    if w["fund_went_negative"]:
        lines.append("Warning: the insurance fund goes negative: bad debt beyond it is left with nobody to pay it "
                     "(auto-deleveraging is off; --adl socialises it).")
    lines += [f"Note: {n}" for n in w["notes"]]
    return "\n".join(lines)


def cmd_impact(args: argparse.Namespace) -> int:
    from riskparams.exceptions import StoreError
    from riskparams.service import impact, open_store
    from riskparams.store import default_db_path

    ref = Path(args.params).expanduser()
    is_file = ref.exists() or ref.suffix.lower() in (".csv", ".json")
    stress = {"windows": ([] if args.no_windows else None) if not args.window else
              ([] if args.no_windows else _default_windows()) + list(args.window),
              "close_factor": args.close_factor, "slice_above": args.slice_above, "backstop": args.backstop,
              "insurance_fund": args.insurance_fund, "adl": args.adl, "penalty_to_fund": args.penalty_to_fund,
              "fund_target": args.fund_target, "fund_percentile": args.fund_percentile, "rho": args.rho}
    common = {"move": args.move, "top_n": args.top, **stress}
    if is_file and not args.sims:
        db = Path(args.db).expanduser() if args.db else default_db_path()
        report = None
        if db.exists():
            try:
                with open_store(args.db) as store:
                    report = impact(ref, args.positions, store=store, **common)
            except StoreError:
                report = None
        if report is None:
            report = impact(ref, args.positions, **common)
    else:
        with open_store(args.db) as store:
            report = impact(args.params, args.positions, store=store, sims=args.sims,
                            horizon_days=args.horizon_days, seed=args.seed, **common)
    if args.json:
        _print_json({"impact": {"proposal" if report.label.startswith("proposal ") else "current": report.to_dict()}})
        return 0
    print(_format_impact(report))
    return 0


def _default_windows() -> list[Any]:
    from riskparams.book.stress import STRESS_WINDOWS

    return list(STRESS_WINDOWS)


def app_path() -> Path:
    """The dashboard's ``app.py`` (beside the package in a project checkout)."""
    return Path(__file__).resolve().parents[1] / "app.py"


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib.util

    from riskparams import auth
    from riskparams.governance import COMMITTEE_ENV_VAR, load_committee
    from riskparams.store import ENV_VAR, default_db_path

    app = app_path()
    if not app.exists():
        raise UsageError(f"the dashboard is not installed here ({app} is missing); install from a checkout.")
    db = Path(args.db).expanduser().resolve() if args.db else default_db_path().resolve()
    trusted = None if not args.trusted_proxy else [t for arg in args.trusted_proxy for t in arg.split(",") if t.strip()]
    config = auth.load_auth_config(
        mode=args.auth, config_file=args.auth_config, header=args.auth_header, trusted_proxies=trusted,
        issuer=args.oidc_issuer, server_metadata_url=args.oidc_metadata_url, client_id=args.oidc_client_id,
        redirect_uri=args.oidc_redirect_uri, address=args.address, port=args.port)
    # the dashboard learns its mode from the environment; secrets reach Streamlit only through the secrets file
    env = {k: v for k, v in os.environ.items() if k not in (*auth.ENV_OIDC.values(), auth.ENV_CONFIG)}
    env.update({ENV_VAR: str(db), **config.to_env()})
    if args.committee:
        committee = Path(args.committee).expanduser().resolve()
        load_committee(committee)  # a bad committee file stops here with one line, not in the browser
        env[COMMITTEE_ENV_VAR] = str(committee)
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.port", str(args.port), "--server.headless", "true",
        "--server.address", args.address, "--browser.gatherUsageStats", "false",
    ]
    if config.oidc is not None:
        if importlib.util.find_spec("authlib") is None:
            raise UsageError("--auth oidc needs Authlib: pip install 'streamlit[auth]' (in the project's dependencies).")
        secrets_file = auth.write_secrets_file(config.oidc)
        auth.remove_when_process_exits(secrets_file.parent)  # the secrets live as long as the server
        cmd += ["--secrets.files", str(secrets_file)]
        sign_in = (f"sign-in with OpenID Connect ({config.oidc.server_metadata_url}, redirect URI "
                   f"{config.oidc.redirect_uri})")
    elif config.mode is auth.AuthMode.PROXY_HEADER:
        sign_in = (f"sign-in by the reverse proxy's {config.header} header, believed from "
                   f"{', '.join(config.trusted_proxies)}")
    else:
        sign_in = "no sign-in (local mode: anyone who can open the page can act as any member)"
        if args.address not in ("127.0.0.1", "localhost", "::1"):
            print(f"riskparams: warning: local mode on {args.address}: anyone who reaches this address can act as "
                  "any committee member; use --auth oidc or --auth proxy-header", file=sys.stderr)
    print(f"riskparams dashboard on http://{args.address}:{args.port} (store {db}; {sign_in}); Ctrl+C stops it",
          file=sys.stderr)
    if os.name == "posix":
        # become the Streamlit server (same process id), so whoever stops `riskparams serve` stops the server
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(app.parent)
        os.execve(sys.executable, cmd, env)
    try:  # pragma: no cover - Windows
        return subprocess.call(cmd, env=env, cwd=str(app.parent))
    except KeyboardInterrupt:  # pragma: no cover
        return 0


# -- parser --------------------------------------------------------------------------------------
def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a whole number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return value


def _whole(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``lo`` to ``hi``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected a whole number from {lo:,} to {hi:,}, got {text!r}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``riskparams`` command."""
    parser = _Parser(
        prog="riskparams",
        description="Margin and liquidation parameters for DAO risk committees: price store, volatility "
        "models, proposals, backtests and governance exports.",
        epilog="The store defaults to data/riskparams.duckdb; --db PATH or $RISKPARAMS_DB choose another.",
    )
    parser.add_argument("--version", action="version", version=f"riskparams {__version__}")
    parser.add_argument("--db", metavar="PATH", help="DuckDB store file (default: $RISKPARAMS_DB or "
                        "data/riskparams.duckdb)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def series_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--freq", choices=["1h", "4h", "1d"], default=None,
                       help="use series of this frequency (default: the finest with a year of history)")
        p.add_argument("--kind", choices=["spot", "perp"], default=None,
                       help="use series of this kind (default: perp prices for perpetuals, spot for lending)")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "create (or upgrade) the store")
    p = add("demo", cmd_demo, "load the synthetic demo universe (labelled synthetic)")
    p.add_argument("--seed", type=_whole(0, 2**32 - 1), default=None,
                   help="generator seed (default: the documented one)")
    p.add_argument("--remove", action="store_true",
                   help="remove the synthetic demo data instead (refused when a stored proposal or backtest used it)")

    p = add("ingest", cmd_ingest, "validate and store a CSV or Parquet file of OHLCV bars")
    p.add_argument("path", help="CSV or Parquet file")
    p.add_argument("--symbol", required=True, help="symbol of the series, e.g. BTC")
    p.add_argument("--source", default="file", help="source label, e.g. binance (default: file)")
    p.add_argument("--kind", choices=["spot", "perp"], default=None,
                   help="market kind (default: perp if the file name says perp, else spot)")
    p.add_argument("--freq", choices=["1h", "4h", "1d"], default=None, help="bar frequency (default: inferred)")
    p.add_argument("--replace", action="store_true", help="overwrite stored bars whose values differ")
    p.add_argument("--json", action="store_true", help="print the ingest report as JSON")

    p = add("fetch", cmd_fetch, "fetch OHLCV bars from an exchange (ccxt), resuming from the last stored bar")
    p.add_argument("--exchange", default="binance", help="ccxt exchange id (default: binance)")
    p.add_argument("--symbol", required=True, help="exchange market, e.g. BTC/USDT or BTC/USDT:USDT (perp)")
    p.add_argument("--timeframe", choices=["1h", "4h", "1d"], default="1d")
    p.add_argument("--since", default=None, help="first bar of a new series, e.g. 2019-01-01 (UTC)")
    p.add_argument("--as", dest="as_symbol", default=None, help="stored symbol (default: the base currency)")
    p.add_argument("--kind", choices=["spot", "perp"], default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("assets", cmd_assets, "list the stored series")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = add("quality", cmd_quality, "data quality of one series: coverage, gaps, stale runs, outliers, zero volume")
    p.add_argument("symbol")
    p.add_argument("--freq", choices=["1h", "4h", "1d"], default=None)
    p.add_argument("--source", default=None)
    p.add_argument("--kind", choices=["spot", "perp"], default=None)
    p.add_argument("--stale-bars", type=_whole(2, 1_000_000), default=None, help="shortest stale run in bars (>= 2)")
    p.add_argument("--outlier-z", type=_positive_float, default=10.0, help="robust z-score threshold")
    p.add_argument("--json", action="store_true")

    p = add("fit", cmd_fit, "fit a volatility model to one series and print horizon VaR/ES (cached in the store)")
    p.add_argument("symbol")
    p.add_argument("--freq", choices=["1h", "4h", "1d"], default=None)
    p.add_argument("--source", default=None)
    p.add_argument("--kind", choices=["spot", "perp"], default=None)
    p.add_argument("--model", choices=["auto", "garch", "gjr", "egarch", "ewma"], default="auto")
    p.add_argument("--dist", choices=["normal", "t", "skewt"], default="t")
    p.add_argument("--mean", choices=["constant", "zero"], default="zero")
    p.add_argument("--as-of", default=None, help="use bars up to this UTC date/time only")
    p.add_argument("--horizon-hours", type=_positive_float, default=24.0, help="margin period of risk in hours")
    p.add_argument("--confidence", type=_positive_float, default=0.99, help="VaR/ES confidence in (0.5, 1)")
    p.add_argument("--min-history", type=_whole(10, 1_000_000), default=500,
                   help="bars needed for a GARCH fit (else EWMA)")
    p.add_argument("--json", action="store_true")

    p = add("propose", cmd_propose, "propose perpetual margin tiers or lending parameters from volatility "
            "forecasts (stored as a draft)")
    p.add_argument("--profile", choices=PROFILES, required=True,
                   help="perp: margin tiers and liquidation penalties; lending: LTV, threshold and bonus")
    p.add_argument("--policy", metavar="FILE", default=None,
                   help="risk policy TOML (default: the documented riskparams/examples/policy.toml)")
    p.add_argument("--current", metavar="FILE", default=None,
                   help="current parameters, CSV or JSON (see riskparams/examples/current_*.csv)")
    p.add_argument("--symbols", metavar="A,B", default=None,
                   help="comma-separated symbols (default: every stored symbol; synthetic demo symbols only in a "
                   "store of demo data, or with --include-synthetic)")
    p.add_argument("--include-synthetic", action="store_true",
                   help="without --symbols: also propose for the synthetic demo assets when market data is stored")
    series_options(p)
    p.add_argument("--as-of", default=None, help="use bars up to this UTC date/time only")
    p.add_argument("--options", metavar="A,B", default=None,
                   help="policy options side by side, e.g. conservative,moderate,aggressive (or the policy "
                   "file's [options.NAME]); the proposal's assets stay the recommended one")
    p.add_argument("--peers", metavar="FILE", default=None,
                   help="other venues' tier tables (CSV: venue,symbol,notional_cap,max_leverage,maintenance_rate; "
                   "see riskparams/examples/peers.csv) for a peer comparison")
    p.add_argument("--debt-asset", metavar="SYMBOL", default=None,
                   help="lending: the debt asset (default the policy's, USDC); a non-stable stored symbol prices the "
                   "collateral in it")
    p.add_argument("--positions", metavar="FILE", default=None,
                   help="open positions, CSV or Parquet (perp: account,symbol,side,notional,equity,margin_mode; "
                   "lending: account,collateral_asset,collateral_amount,debt_asset,debt_amount): the impact of the "
                   "current set, the proposal and each option, stored with the proposal")
    p.add_argument("--positions-date", metavar="YYYY-MM-DD", default=None,
                   help="with --positions: when the positions were taken (shown in the export)")
    p.add_argument("--impact-sims", type=int, default=PROPOSE_IMPACT_SIMS, metavar="N",
                   help=f"with --positions (perp): bootstrap draws of joint daily returns for the VaR of insolvent "
                   f"debt and LaR (default {PROPOSE_IMPACT_SIMS}; 0: none)")
    p.add_argument("--json", action="store_true", help="print the proposal as JSON")

    p = add("sensitivity", cmd_sensitivity, "tier-1 margin of one perpetual market over a grid of margin periods "
            "of risk and confidences")
    p.add_argument("symbol")
    series_options(p)
    p.add_argument("--policy", metavar="FILE", default=None,
                   help="risk policy TOML (default: the documented riskparams/examples/policy.toml)")
    p.add_argument("--horizons", metavar="H,H", default="1,4,8,24", help="margin periods of risk in hours "
                   "(default 1,4,8,24)")
    p.add_argument("--confidence", metavar="Q,Q", default="0.99,0.995", help="confidences (default 0.99,0.995)")
    p.add_argument("--as-of", default=None, help="use bars up to this UTC date/time only")
    p.add_argument("--json", action="store_true", help="print the grid as JSON")

    p = add("backtest", cmd_backtest, "walk-forward backtest of the policy's proposals, the current parameters and "
            "other parameter sets: coverage tests, capital, liquidations, stress windows (stored in the store)")
    p.add_argument("--profile", choices=PROFILES, default="perp",
                   help="perp: margin tiers (default); lending: LTV, threshold and bonus")
    p.add_argument("--policy", metavar="FILE", default=None,
                   help="risk policy TOML (default: the documented riskparams/examples/policy.toml)")
    p.add_argument("--current", metavar="FILE", default=None,
                   help="current parameters, CSV or JSON: the replay's starting point and a parameter set 'current'")
    p.add_argument("--compare", metavar="FILE", action="extend", nargs="+", default=None,
                   help="other parameter sets to replay: CSV/JSON files in the current-parameters schema (each named by "
                   "its file stem) or stored proposal ids")
    p.add_argument("--symbols", metavar="A,B", default=None,
                   help="comma-separated symbols (default: every stored symbol)")
    series_options(p)
    p.add_argument("--start", default=None, help="first bar of the backtest (UTC date); default: first bar with a "
                   "full estimation window")
    p.add_argument("--end", default=None, help="last bar used (UTC date); later bars are never read")
    p.add_argument("--cadence", type=_positive_float, default=7.0, metavar="DAYS",
                   help="days between the policy replay's proposals (default 7)")
    p.add_argument("--engine", choices=["fast", "arch"], default="fast",
                   help="fast: compiled daily GARCH walk-forward (default); arch: exact arch fits on cadence dates "
                   "(slow)")
    p.add_argument("--window", type=int, default=None, metavar="BARS",
                   help="rolling estimation window (default 1000 bars, fewer when less history)")
    p.add_argument("--refit-every", type=int, default=1, metavar="BARS",
                   help="fast engine: re-estimate every BARS bars, filter in between (24 on hourly data: daily refits)")
    p.add_argument("--side", choices=["worse", "both", "long", "short"], default="worse",
                   help="perp exceptions: the worse side (default), either side, longs or shorts")
    p.add_argument("--execution-lag-days", type=float, default=0.0, metavar="N",
                   help="days from a replayed decision to the bar it is in force (vote plus timelock; default 0)")
    p.add_argument("--warmup-max-days", type=float, default=365.0, metavar="DAYS",
                   help="longest warm-up of the policy replay before its steady state (default 365)")
    p.add_argument("--stress", metavar="NAME=START..END", type=_stress_window, action="append", default=None,
                   help="a stress window of your own, e.g. covid=2020-03-01..2020-04-30; repeat for several")
    p.add_argument("--attach", metavar="PROPOSAL_ID", default=None,
                   help="add the proposal's parameters as a set and attach the stored report to it")
    p.add_argument("--as", dest="member", metavar="HANDLE", default=None, help="recorded with the attachment")
    p.add_argument("--positions", metavar="FILE", default=None,
                   help="with --portfolio: a perpetual positions file (CSV or Parquet) replayed through the joint "
                   "stress windows")
    p.add_argument("--portfolio", action="store_true",
                   help="replay the book of --positions through every joint stress window against ONE insurance "
                   "fund, per fixed parameter set (--current, --compare, --attach)")
    p.add_argument("--insurance-fund", default="target", metavar="USD|target",
                   help="with --portfolio: the starting fund, or 'target' (Cover-2, the default)")
    p.add_argument("--adl", action=argparse.BooleanOptionalAction, default=True,
                   help="with --portfolio: auto-deleveraging pays what the fund cannot (default on)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--paths", action="store_true", help="with --json: include the per-bar paths")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("sweep", cmd_sweep, "backtest a grid of policy variants walk-forward (the fits shared) and find the "
            "frontier of average margin against bad debt (stored in the store)")
    p.add_argument("--profile", choices=PROFILES, default="perp",
                   help="perp: margin tiers (default); lending: LTV, threshold and bonus")
    p.add_argument("--policy", metavar="FILE", default=None, help="base risk policy TOML (default: the defaults)")
    p.add_argument("--current", metavar="FILE", default=None,
                   help="current parameters, CSV or JSON: every replay's starting point")
    p.add_argument("--symbols", metavar="A,B", default=None,
                   help="comma-separated symbols (default: every stored symbol)")
    series_options(p)
    p.add_argument("--grid", metavar="KEY=V1,V2", action="append", default=None,
                   help="a policy key and its values, e.g. confidence=0.99,0.995 or mpor.fixed_hours=1,4; repeat for "
                   "more keys (the variants are the product)")
    p.add_argument("--executor", metavar="KIND[:N]", default="serial",
                   help="serial (default), threads[:N], processes[:N] or dask[:N] (a local Dask cluster of N workers)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="join an existing Dask cluster through its scheduler (implies --executor dask)")
    p.add_argument("--threads-per-worker", type=_whole(1, 1024), default=1, metavar="N",
                   help="threads (and numba threads) of each process or Dask worker (default 1)")
    p.add_argument("--chunk", type=_whole(1, 10_000), default=None, metavar="ASSETS",
                   help="assets per task (default: spread over twice the workers, at most 8)")
    p.add_argument("--cache", metavar="DIR", default=None,
                   help="keep finished tasks here by content key: a rerun skips them")
    p.add_argument("--positions", metavar="FILE", default=None,
                   help="perp positions CSV/Parquet: each variant's 99%% one-day VaR of insolvent debt on this book")
    p.add_argument("--start", default=None, help="first bar of the backtests (UTC date)")
    p.add_argument("--end", default=None, help="last bar used (UTC date); later bars are never read")
    p.add_argument("--cadence", type=_positive_float, default=7.0, metavar="DAYS",
                   help="days between each replay's proposals (default 7)")
    p.add_argument("--window", type=int, default=None, metavar="BARS", help="rolling estimation window")
    p.add_argument("--refit-every", type=int, default=1, metavar="BARS",
                   help="re-estimate every BARS bars, filter in between")
    p.add_argument("--engine", choices=["fast", "arch"], default="fast",
                   help="fast: the compiled walk-forward (default); arch: arch fits on every decision bar (slow; "
                   "variants with the same model and horizon share them)")
    p.add_argument("--side", choices=["worse", "both", "long", "short"], default="worse",
                   help="perp exceptions: the worse side (default), either side, longs or shorts")
    p.add_argument("--execution-lag-days", type=float, default=0.0, metavar="N",
                   help="days from a replayed decision to the bar it is in force (default 0)")
    p.add_argument("--attach", metavar="PROPOSAL_ID", default=None, help="attach the stored sweep to this proposal")
    p.add_argument("--as", dest="member", metavar="HANDLE", default=None, help="recorded with the attachment")
    p.add_argument("--json", action="store_true", help="print the sweep as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    def gov_options(p: argparse.ArgumentParser, *, member: bool = True, comment: str | None = None) -> None:
        p.add_argument("--committee", metavar="FILE", default=None,
                       help="committee TOML (default: $RISKPARAMS_COMMITTEE or riskparams/examples/committee.toml)")
        if member:
            p.add_argument("--as", dest="member", metavar="HANDLE", default=None,
                           help="the committee member acting: handle or address (default: $RISKPARAMS_MEMBER)")
        if comment is not None:
            p.add_argument("--comment", "-m", default=None, help=comment)

    p = add("proposals", cmd_proposals, "list stored proposals with status, profile, assets, sign-offs and "
            "creation time (newest first)")
    p.add_argument("--profile", choices=PROFILES, default=None)
    p.add_argument("--limit", type=_whole(1, 1_000_000), default=100, help="at most this many (default 100)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    gov_options(p, member=False)

    p = add("status", cmd_status, "show a proposal's workflow: status, sign-offs, dissents, revisions, audit log")
    p.add_argument("id", help="proposal id or unique prefix (>= 6 hex characters)")
    p.add_argument("--json", action="store_true")
    gov_options(p, member=False)

    actions = (
        ("review", "submit a draft for committee review", "optional comment"),
        ("sign", "sign off a proposal in review", "optional comment"),
        ("dissent", "dissent from a proposal in review (blocks approval until retracted)", "why (required)"),
        ("retract", "withdraw your own sign-off or dissent", "optional comment"),
        ("approve", "approve a proposal in review (chair; needs the quorum of sign-offs and no dissent)",
         "optional comment"),
        ("reject", "reject a proposal in review (chair)", "why (required)"),
        ("withdraw", "withdraw a draft or a proposal in review", "optional comment"),
        ("comment", "add a comment to a proposal's audit log", "the comment (required)"),
    )
    def sign_options(p: argparse.ArgumentParser) -> None:
        g = p.add_argument_group("signing (required when the committee sets require_signatures)")
        g.add_argument("--key", metavar="FILE", default=None,
                       help="sign the action with your key file (`riskparams keys new`)")
        g.add_argument("--signature", metavar="HEX", default=None,
                       help="a signature made elsewhere (a wallet's eth_signTypedData_v4 of `riskparams typed-data`)")
        g.add_argument("--signed-at", type=int, default=None, metavar="UNIX",
                       help="with --signature: the timestamp in the signed typed data")
        g.add_argument("--scheme", choices=["eip712", "ed25519"], default="eip712",
                       help="with --signature: eip712 (a wallet, default) or ed25519")

    for name, help_, comment_help in actions:
        p = add(name, _action(name), help_)
        p.add_argument("id", help="proposal id or unique prefix (>= 6 hex characters)")
        p.add_argument("--json", action="store_true", help="print the workflow as JSON")
        gov_options(p, comment=comment_help)
        sign_options(p)
        if name == "approve":
            p.add_argument("--option", default=None, metavar="NAME",
                           help="the option the committee chose, when the proposal has options (default: the "
                           "recommended one); venue payloads carry its parameters")

    p = add("override", cmd_override, "override proposed parameters: stores a NEW revision linked to the "
            "proposal, with a required justification")
    p.add_argument("id", help="proposal id or unique prefix")
    p.add_argument("--set", action="append", required=True, metavar="SYM:PARAM[:TIER]=VALUE",
                   help="e.g. BTC:mmf:1=0.05 (tier 1 is the first), BTC:max_leverage:2=10x, ETH:ltv=75%%; repeat "
                   "for several")
    p.add_argument("--justification", "-j", required=True, help="why the model's value is overridden")
    p.add_argument("--json", action="store_true")
    gov_options(p)
    sign_options(p)

    p = add("plan", cmd_plan, "a phased execution plan: dated intermediate parameter sets from the proposal's current "
            "values to its target under steward limits (stored with the proposal, shown and exported)")
    p.add_argument("id", help="proposal id or unique prefix")
    p.add_argument("--max-step", type=_positive_float, required=True, metavar="R",
                   help="largest relative change of any parameter per step (0.25 = 25%%; new / old within "
                   "[1/(1+R), 1+R])")
    p.add_argument("--min-days", type=_whole(1, 365), required=True, metavar="D", help="days between steps")
    p.add_argument("--budget", type=_whole(1, 500), default=None, metavar="N",
                   help="most steps allowed: an error when the target needs more under --max-step")
    p.add_argument("--start", default=None, metavar="DATE", help="date of step 1, YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--create-revisions", action="store_true",
                   help="carry the steps through the workflow as linked revisions (needs --as and an approved "
                   "proposal): creates the next step's revision once the previous one is approved")
    p.add_argument("--json", action="store_true", help='print {"plan": {...}}')
    gov_options(p)

    p = add("typed-data", cmd_typed_data, "print the EIP-712 typed data of an action for a wallet to sign "
            "(eth_signTypedData_v4); pass the signature back with --signature and --signed-at")
    p.add_argument("id", help="proposal id or prefix (a committee change: committee:HASH)")
    p.add_argument("--action", required=True, choices=["sign", "dissent", "retract", "approve", "reject", "review",
                                                       "withdraw", "comment", "override", "committee-propose",
                                                       "committee-sign", "committee-dissent", "committee-approve"],
                   help="the action to sign")
    p.add_argument("--option", default=None, help="approve: the option chosen")
    p.add_argument("--set", action="append", default=None, metavar="SYM:PARAM[:TIER]=VALUE",
                   help="override: the overrides, exactly as you will pass them")
    gov_options(p, comment="the comment or justification, exactly as you will pass it")

    p = add("verify", cmd_verify, "re-check the store's governance records: the audit hash chain, content hashes, "
            "status logs, signatures and the workflow rules replayed; exits 1 naming each problem")
    p.add_argument("id", nargs="?", default=None, help="check this proposal's lineage (default: every proposal)")
    p.add_argument("--anchor", metavar="HASH", default=None,
                   help="a chain head published earlier (exports print it): it must still be in the chain")
    p.add_argument("--json", action="store_true")

    p = add("keys", cmd_keys, "make a signing key, or sign typed data with one")
    p.add_argument("what", choices=["new", "sign", "show"],
                   help="new: a fresh key file; sign: sign typed data (JSON file or -); show: the public key")
    p.add_argument("path", nargs="?", default=None, help="sign: the typed data JSON (- for standard input)")
    p.add_argument("--key", metavar="FILE", required=True, help="the key file (new: where to write it)")
    p.add_argument("--scheme", choices=["ed25519", "eip712"], default="ed25519",
                   help="new: ed25519 (default) or eip712 (an Ethereum account)")

    p = add("committee", cmd_committee, "show the store's committee, or change it: propose a new committee file, "
            "vote on the change, and approve it with the quorum of the committee in force")
    p.add_argument("what", choices=["show", "changes", "propose", "sign", "dissent", "retract", "approve"])
    p.add_argument("target", nargs="?", default=None,
                   help="propose: the new committee TOML; sign/dissent/retract/approve: the change id (prefix)")
    p.add_argument("--json", action="store_true")
    gov_options(p, comment="optional comment (required for dissent)")
    sign_options(p)

    p = add("diff", cmd_diff, "compare two proposals per asset and parameter (one id: a revision with its parent)")
    p.add_argument("old", help="proposal id (or the revision, when NEW is left out)")
    p.add_argument("new", nargs="?", default=None, help="the newer proposal id")
    p.add_argument("--all", action="store_true", help="list unchanged parameters too")
    p.add_argument("--json", action="store_true")

    p = add("export", cmd_export, "export a proposal: forum Markdown, JSON bundle, CSV, offline HTML report, or a "
            "dYdX / Aave payload (recorded in the audit log)")
    p.add_argument("id", help="proposal id or unique prefix")
    p.add_argument("--format", "-f", required=True,
                   choices=["md", "json", "csv", "html", "dydx", "aave", "aave-config", "aave-aip", "snapshot", "safe",
                            "risk-updates"],
                   help="md, json, csv, html; venue formats (riskparams.venues): dydx (perp), aave-config, aave-aip, "
                   "safe (lending), snapshot, risk-updates (both), aave (the earlier Aave JSON)")
    p.add_argument("--out", "-o", metavar="PATH", default=None,
                   help="output file (default: proposal-<id>.<ext> here; - for standard output)")
    p.add_argument("--backtest", metavar="ID|FILE", default="auto",
                   help="backtest to include: a stored report id (or prefix), 'attached' (the report attached last to "
                   "the proposal, required), a payload JSON file, or 'none'; default 'auto': the report attached last, "
                   "if any (as the dashboard's export)")
    p.add_argument("--dydx-first-id", type=_whole(0, 2**32 - 1), default=1000,
                   help="id of the first dYdX liquidity tier")
    p.add_argument("--address", metavar="SYMBOL=0xADDRESS", action="append", default=None,
                   help="token address of an asset for the aave, safe and risk-updates formats (repeat; default: the "
                   "Aave v3 Ethereum address book shipped with riskparams)")
    p.add_argument("--report-url", metavar="URL", default=None,
                   help="https URL of the published report (forum post): Snapshot's discussion field and the link in "
                   "a shortened body; the AIP's reference")
    gov_options(p)

    p = add("impact", cmd_impact, "impact of a parameter set on open perpetual positions: accounts and notional "
            "liquidatable now, at the covered move and under standard shocks, bad debt, concentration; joint stress windows "
            "and correlated shocks through the liquidation waterfall (insurance fund, ADL)")
    p.add_argument("--params", required=True, metavar="FILE|ID",
                   help="a current-parameters file (.csv/.json, profile perp) or a stored proposal id (or prefix)")
    p.add_argument("--positions", required=True, metavar="FILE",
                   help="positions CSV or Parquet: account,symbol,side,notional,equity,margin_mode")
    p.add_argument("--move", type=_positive_float, default=None, metavar="FRACTION",
                   help="covered move for every symbol, e.g. 0.1 for 10%% (default: a proposal's tier-1 covered move)")
    p.add_argument("--top", type=_whole(1, 1000), default=5, metavar="N",
                   help="accounts in the concentration share (default 5)")
    p.add_argument("--sims", type=_whole(0, 100_000), default=0, metavar="N",
                   help="bootstrap N joint daily moves from the store's daily prices for VaR of insolvent debt and "
                   "liquidations-at-risk (default 0: not simulated)")
    p.add_argument("--horizon-days", type=_whole(1, 30), default=1, metavar="D",
                   help="days compounded per simulated move (default 1)")
    p.add_argument("--seed", type=_whole(0, 2**32 - 1), default=0, help="simulation seed (default 0)")
    p.add_argument("--window", action="append", default=[], metavar="NAME=YYYY-MM-DD:YYYY-MM-DD",
                   help="a joint stress window replayed day by day from the store's daily closes (repeatable; added "
                   "to the named ones: 2020-03-12, 2021-05-19, LUNA, FTX, 2025-10-10)")
    p.add_argument("--no-windows", action="store_true", help="leave the named stress windows out")
    p.add_argument("--close-factor", type=float, default=1.0, metavar="F",
                   help="share of a liquidatable position closed at a time, in (0, 1] (default 1: all of it)")
    p.add_argument("--slice-above", type=float, default=None, metavar="USD",
                   help="close by --close-factor slices only positions above this notional (default: all)")
    p.add_argument("--backstop", action=argparse.BooleanOptionalAction, default=False,
                   help="a backstop vault takes over bankrupt positions without close-out cost (default off)")
    p.add_argument("--insurance-fund", default="0", metavar="USD|target",
                   help="starting insurance fund in quote currency, or 'target' for the fund-target rule (default 0)")
    p.add_argument("--adl", action=argparse.BooleanOptionalAction, default=False,
                   help="auto-deleveraging / socialised loss pays what the fund cannot (default off: the fund goes "
                   "negative and the report says so)")
    p.add_argument("--penalty-to-fund", type=float, default=0.0, metavar="F",
                   help="share of liquidation penalties paid to the insurance fund, in [0, 1] (default 0)")
    p.add_argument("--fund-target", choices=["cover-2", "percentile"], default="cover-2",
                   help="fund target: the two accounts losing most in the worst stress (cover-2, default) or a "
                   "percentile of stress bad debt")
    p.add_argument("--fund-percentile", type=float, default=99.0, metavar="Q",
                   help="percentile for --fund-target percentile (default 99)")
    p.add_argument("--rho", type=float, default=None, metavar="R",
                   help="stressed correlation of the hypothetical shocks, in [0, 1] (default 0.9)")
    p.add_argument("--json", action="store_true")

    p = add("serve", cmd_serve, "start the dashboard (Streamlit)")
    p.add_argument("--port", type=_port, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--committee", metavar="FILE", default=None,
                   help="committee TOML (default: $RISKPARAMS_COMMITTEE or riskparams/examples/committee.toml)")
    p.add_argument("--auth", choices=["local", "oidc", "proxy-header"], default=None,
                   help="who the user is: local (no sign-in; anyone can act as any member), oidc (OpenID Connect "
                   "sign-in) or proxy-header (a reverse proxy's header); default $RISKPARAMS_AUTH, the auth config "
                   "file, else local")
    p.add_argument("--auth-config", metavar="FILE", default=None,
                   help="TOML with mode, [proxy] and [oidc] settings (default $RISKPARAMS_AUTH_CONFIG; see "
                   "riskparams/examples/auth.toml)")
    p.add_argument("--auth-header", metavar="NAME", default=None,
                   help="proxy-header: the header with the user's email (default X-Forwarded-Email)")
    p.add_argument("--trusted-proxy", metavar="ADDR", action="append", default=None,
                   help="proxy-header: address or network of the proxy the header is believed from (repeatable; "
                   "default 127.0.0.1 and ::1)")
    p.add_argument("--oidc-issuer", metavar="URL", default=None,
                   help="oidc: the identity provider (its /.well-known/openid-configuration is read)")
    p.add_argument("--oidc-metadata-url", metavar="URL", default=None,
                   help="oidc: the provider's discovery document, instead of --oidc-issuer")
    p.add_argument("--oidc-client-id", metavar="ID", default=None, help="oidc: the dashboard's client id")
    p.add_argument("--oidc-redirect-uri", metavar="URL", default=None,
                   help="oidc: the dashboard's URL + /oauth2callback (default http://ADDRESS:PORT/oauth2callback); "
                   "the client secret and cookie secret come from $RISKPARAMS_OIDC_CLIENT_SECRET, "
                   "$RISKPARAMS_OIDC_COOKIE_SECRET or the auth config file")
    return parser


def _no_warning(*args: Any, **kwargs: Any) -> None:
    """``warnings.showwarning`` outside debug mode: the command prints results and one-line errors only."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(os.environ.get("RISKPARAMS_DEBUG"))
    try:
        with warnings.catch_warnings():
            if not debug:
                warnings.simplefilter("ignore")
                # statsmodels adds "always" filters for its warnings when first imported (inside this block)
                warnings.showwarning = _no_warning
            code = int(args.func(args))
    except RiskParamsError as exc:
        if debug:
            raise
        print(f"riskparams: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("riskparams: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal failure: one line, not a traceback
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"riskparams: internal error: {type(exc).__name__}: {first} "
              "(set RISKPARAMS_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

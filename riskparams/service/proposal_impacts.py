"""Impact of a proposal's parameter sets on a book (issue 14: ``propose --positions``, the Book page, the
export), stored with the proposal.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from riskparams.domain import (
    CurrentLending,
    CurrentParams,
    CurrentPerp,
    LendingAssetProposal,
    PerpAssetProposal,
    Proposal,
)
from riskparams.exceptions import (
    DataError,
    RiskParamsError,
    SeriesNotFoundError,
)
from riskparams.impact_content import StoredImpact
from riskparams.jsonio import clean_float
from riskparams.service.impacts import (
    _book_stress,
    _stress_paths,
    _stress_windows,
    _waterfall_spec,
    joint_daily_closes,
    joint_daily_returns,
)
from riskparams.service.store import load_series
from riskparams.store import Store
from riskparams.store.records import get_proposal

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


def demo_positions(symbols: Sequence[str] | None = None, *, n_positions: int = 2_000, proposal: Any = None,
                   current: Any = None) -> Any:
    """The synthetic demo book (:func:`riskparams.ingest.demo_book.demo_book`) over ``symbols`` (default the
    demo universe's BTC-SYN, ETH-SYN, SOL-SYN); its source label says it is synthetic. Its positions open at or
    above the initial margin of the tiers in force (:func:`riskparams.ingest.demo_book.entry_tiers`: ``current``
    parameters, else the proposal's current brackets, else its tiers)."""
    from riskparams.ingest.demo_book import DEFAULT_SYMBOLS, demo_book, entry_tiers

    return demo_book(n_positions, symbols=tuple(symbols) if symbols else DEFAULT_SYMBOLS,
                     tiers=entry_tiers(proposal, current) or None)


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
                    sha256: str | None = None, save: bool = True, stress: bool = True) -> StoredImpact:
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
    riskparams.impact_content.StoredImpact
        Typed; its :meth:`~riskparams.impact_content.StoredImpact.to_dict` is the payload: ``format, proposal_id,
        profile, positions`` (``source, synthetic, n_positions, n_accounts, snapshot, sha256``, perp:
        ``open_notional, by_symbol, cross, isolated``), ``covered_moves``, ``sets`` (set name ->
        :meth:`riskparams.book.impact.ImpactReport.to_dict` for perps; lending: the same headline keys,
        ``liquidatable_now_notional`` being the debt of the liquidatable accounts), ``order`` (the set names:
        current, proposal, then the options), ``notes``; plus ``id`` (the record's id) when stored.

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
        daily = joint_daily_closes(store, sub.symbol_ids) if sims > 0 or stress else None  # one read of the closes
        if sims > 0:
            try:
                returns = joint_daily_returns(store, sub.symbol_ids, daily=daily)
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
                        shared_paths = _stress_paths(store, sub, _stress_windows(None), hypothetical=True, rho=None,
                                                     daily=daily)
                    rep = replace(rep, stress=_book_stress(store, sub, tables, (), hypothetical=True, spec=spec,
                                                           size_fund=size_fund, rho=None, paths=shared_paths,
                                                           top_n=top_n))
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
    typed = StoredImpact.from_content(payload)
    if save and stored_id is not None:
        rid, _ = save_impact(store, typed)
        typed = typed.with_record(id=rid)
    return typed


def stored_impact(store: Store, proposal_id: str) -> StoredImpact | None:
    """The impact stored last with a proposal (:func:`proposal_impact`), typed, with its ``id`` and
    ``created_at``, or None."""
    from riskparams.store.impact_records import latest_impact

    return latest_impact(store, proposal_id)


def current_impact(store: Store, book: Any, current: CurrentParams, *, sims: int = 500, seed: int = 0,
                   top_n: int = 5) -> StoredImpact:
    """The impact of current perpetual parameters alone on a book (no proposal: no covered move, nothing stored);
    typed as :func:`proposal_impact`'s, with one set, ``current``, ``proposal_id`` None and ``parameters_source``.

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
    return StoredImpact.from_content({"format": IMPACT_FORMAT, "proposal_id": None, "profile": "perp",
                                      "positions": _positions_info(sub, snapshot=None, sha256=None),
                                      "covered_moves": {}, "sets": {"current": rep.to_dict()}, "order": ["current"],
                                      "notes": notes, "parameters_source": str(current.source)})

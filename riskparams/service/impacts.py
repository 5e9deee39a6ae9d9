"""Impact of a parameter set on a book of perpetual positions (issue 14): tier tables, joint daily prices,
stress windows through the liquidation waterfall.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from riskparams.domain import (
    CurrentPerp,
    PerpAssetProposal,
    Profile,
    Proposal,
)
from riskparams.exceptions import (
    DataError,
    SeriesNotFoundError,
)
from riskparams.service.store import load_series
from riskparams.store import Store
from riskparams.store.records import get_proposal

if TYPE_CHECKING:  # numpy and the book engine load on first use: pages start faster
    import numpy as np

    from riskparams.book.impact import ImpactReport


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


def joint_daily_returns(store: Store, symbols: Sequence[str], *,
                        daily: tuple[np.ndarray, np.ndarray, list[str]] | None = None) -> np.ndarray:
    """Simple daily close-to-close returns of ``symbols`` on the days all of them have (shape (days, k), columns
    in the order given), from :func:`joint_daily_closes` (``daily``: its result for ``symbols``, already read,
    so the store is not read again) through :func:`riskparams.book.stress.joint_returns`.

    Raises
    ------
    DataError
        A symbol without a daily series, or fewer than 30 common days.
    """
    from riskparams.book.stress import joint_returns

    _, closes, missing = daily if daily is not None else joint_daily_closes(store, symbols)
    if missing:
        raise DataError(f"no daily price series of {missing[0]} in the store: the simulation draws from joint daily "
                        "returns.")
    rets = joint_returns(closes)
    if len(rets) < 30:
        raise DataError(f"only {len(rets)} days of joint daily returns of {', '.join(symbols)}; the simulation "
                        "needs at least 30.")
    return rets


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
    wins = _stress_windows(windows, rho)
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
    # the daily closes are read once, for the stress paths and the simulation's returns alike
    daily = (joint_daily_closes(store, book.symbol_ids) if store is not None and (wins or hypothetical or sims > 0)
             else None)
    if store is not None and (wins or hypothetical):
        paths = _stress_paths(store, book, wins, hypothetical=hypothetical, rho=rho, daily=daily)
        report = replace(report, stress=_book_stress(store, book, tables, wins, hypothetical=hypothetical, spec=spec,
                                                     size_fund=size_fund, rho=rho, paths=paths, top_n=top_n))
    if sims > 0:
        assert store is not None
        # the simulated bad debt is also set against the fund when one is asked for (a number, or the target)
        fund = None
        if size_fund or spec.insurance_fund > 0 or spec.adl:
            fund = report.stress.spec.insurance_fund if report.stress is not None else spec.insurance_fund
        returns = joint_daily_returns(store, book.symbol_ids, daily=daily)
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


def _stress_windows(windows: Sequence[Any] | None, rho: float | None = None) -> list[Any]:
    """The stress windows to replay (the standard ones when None), with ``--rho`` checked beside them."""
    from riskparams.book.stress import STRESS_WINDOWS, StressWindow, parse_window

    if rho is not None and not (isinstance(rho, int | float) and math.isfinite(rho) and 0 <= rho <= 1):
        raise DataError(f"--rho {rho} must be a stressed correlation in [0, 1], e.g. 0.9.")
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
                 paths: tuple[list[Any], list[str]] | None = None, top_n: int = 5) -> Any:
    """The stress windows and hypothetical shocks of ``book`` from the store's daily closes, through the waterfall
    (``paths``: those of :func:`_stress_paths` for this book, when several parameter sets share them; ``top_n``:
    accounts in each path's concentration share)."""
    from riskparams.book.stress import stress_book

    got, notes = paths if paths is not None else _stress_paths(store, book, windows, hypothetical=hypothetical, rho=rho)
    return stress_book(book, tables, got, spec, size_fund=size_fund, carry_fund=carry_fund, notes=notes, top_n=top_n)


def _stress_paths(store: Store, book: Any, windows: Sequence[Any], *, hypothetical: bool,
                  rho: float | None, daily: tuple[Any, Any, list[str]] | None = None) -> tuple[list[Any], list[str]]:
    """The joint stress paths of ``book``'s symbols (windows, then correlated shocks) and the notes on what could
    not run; one read of the store's daily closes (``daily``: :func:`joint_daily_closes` of the book's symbols,
    already read). They do not depend on the parameter set."""
    import numpy as np

    from riskparams.book.stress import DEFAULT_RHO, hypothetical_paths, window_path

    syms = list(book.symbol_ids)
    days, closes, missing = daily if daily is not None else joint_daily_closes(store, syms)
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
    wins = _stress_windows(windows, rho)
    _, tables, _, _ = impact_tables(params, store)
    book = positions if isinstance(positions, Book) else load_positions(positions, "perp")
    assert isinstance(book, Book)
    return _book_stress(store, book, tables, wins, hypothetical=hypothetical, spec=spec, size_fund=size_fund,
                        rho=rho, carry_fund=carry_fund)

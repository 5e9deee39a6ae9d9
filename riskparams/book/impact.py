"""Impact of a margin schedule on a book of open perpetual positions: who is liquidated and what is lost.

Pure numpy functions of a :class:`~riskparams.book.Book` and one tier table per symbol; nothing here reads
a file or the store (:func:`riskparams.service.impact` does that).

Arithmetic (quote currency; a move ``r`` is a fraction of price, -0.3 = price down 30 %)
---------------------------------------------------------------------------------------
For a position of notional ``N``, side ``s`` (+1 long, -1 short) in a symbol whose price moves by ``r``:

* P&L ``p = s N r``; notional after the move ``N' = N (1 + r)``;
* maintenance margin ``MM = N' mmf_k - d_k`` in the tier ``k`` holding ``N'`` (the largest floor <= ``N'``;
  ``d_k`` the deduction keeping it continuous: :meth:`riskparams.tiers.TierTable.deductions`; the same
  semantics as :func:`riskparams.proposals.maintenance_margin`);
* close-out cost ``C = N' c_k``, ``c_k`` the tier's ``close_out_cost`` (a proposal's tiers carry one; current
  parameters do not, and their cost is 0).

An **isolated** position with equity ``E`` is liquidated when ``E + p < MM``; its bad debt is
``max(0, C - (E + p)) = max(0, loss + close-out cost - equity)``.
A **cross** account has one equity ``E_a`` against all its cross positions: it is liquidated (all of them)
when ``E_a + sum p < sum MM``; its bad debt is ``max(0, sum C - (E_a + sum p))``. Netting means a hedged cross
account never has more bad debt than the same positions isolated with its equity split among them, as long
as no position's close-out cost exceeds its maintenance margin (``C <= MM``; true whenever every tier's cost is
at most the tier-1 MMF, since ``MM(N) >= N mmf_1``).

Liquidated notional is ``N'`` summed over liquidated positions; an account counts once when any of its
positions is liquidated. Top-N concentration is the share of the liquidated notional held by the N accounts
with the most of it (None when nothing is liquidated).

Scenarios: ``now`` (``r = 0``); the covered move down and up (every symbol by its own covered move, all in the
same direction, the worse of the two is ``bad_debt_at_move``); the standard shocks -30 %, -50 %, +30 %, +50 %
applied to every symbol at once. :func:`simulate_impact` bootstraps joint historical daily returns for the 95th
and 99th percentiles of bad debt (VaR of insolvent debt) and of liquidated notional (LaR). Lending books:
:func:`lending_scenario`. The simulation evaluates every bootstrap at once (:func:`evaluate_many`, in chunks of
:data:`SIM_CHUNK_CELLS` positions x scenarios). Named joint stress windows and correlated hypothetical shocks
(:mod:`riskparams.book.stress`) run through the liquidation waterfall (:mod:`riskparams.book.waterfall`: partial
liquidation, backstop, insurance fund, auto-deleveraging), whose defaults give exactly this module's figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from riskparams.book.positions import Book
from riskparams.exceptions import DataError, SpecError
from riskparams.jsonio import clean_float
from riskparams.tiers import TierLike, TierTable

if TYPE_CHECKING:
    from riskparams.book.stress import StressImpact

__all__ = [
    "STANDARD_SHOCKS",
    "ImpactReport",
    "LendingScenario",
    "MarginSchedule",
    "Marks",
    "ScenarioImpact",
    "SimulatedImpact",
    "book_impact",
    "evaluate_many",
    "lending_scenario",
    "maintenance_margins",
    "mark_positions",
    "net_accounts",
    "scenario_impact",
    "simulate_impact",
]

STANDARD_SHOCKS: tuple[float, ...] = (-0.30, -0.50, 0.30, 0.50)
"""Price moves applied to every symbol at once (fractions of price)."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MarginSchedule:
    """One symbol's tier table as arrays.

    Attributes
    ----------
    floors : ndarray, shape (k,)
        Tier notional floors (quote currency), ascending from 0.
    mmfs : ndarray, shape (k,)
        Maintenance margin fractions.
    deductions : ndarray, shape (k,)
        ``d_k`` (quote currency): ``MM(N) = N mmf_k - d_k``.
    costs : ndarray, shape (k,)
        Close-out cost per tier (fraction of notional; 0 when the table has none).
    penalties : ndarray, shape (k,), optional
        Liquidation penalty per tier (fraction of the notional closed), used by the liquidation waterfall
        (:mod:`riskparams.book.waterfall`); None, or NaN for a tier, when the table has none: the waterfall then
        takes the tier's MMF (the remaining maintenance margin, as venues that pass it to their fund do).
    """

    floors: np.ndarray
    mmfs: np.ndarray
    deductions: np.ndarray
    costs: np.ndarray
    penalties: np.ndarray | None = None

    def penalty_rates(self) -> np.ndarray:
        """Penalty per tier (fraction), the MMF where none is known; shape (k,)."""
        if self.penalties is None:
            return self.mmfs.copy()
        p = np.asarray(self.penalties, dtype=np.float64)
        return np.where(np.isfinite(p), p, self.mmfs)

    @classmethod
    def from_tiers(cls, tiers: Sequence[TierLike], *, symbol: str = "") -> MarginSchedule:
        """The schedule of a tier table (validated as a :class:`~riskparams.tiers.TierTable`); a tier's
        ``close_out_cost`` is used when it has one (a proposed :class:`~riskparams.domain.PerpTier`)."""
        table = tiers if isinstance(tiers, TierTable) else TierTable(tiers, symbol=symbol)
        costs = [float(getattr(t, "close_out_cost", 0.0) or 0.0) for t in table]
        pens = [getattr(t, "liquidation_penalty", None) for t in table]
        return cls(floors=np.asarray(table.floors, dtype=np.float64), mmfs=np.asarray(table.mmfs, dtype=np.float64),
                   deductions=np.asarray(table.deductions(), dtype=np.float64),
                   costs=np.nan_to_num(np.asarray(costs, dtype=np.float64)),
                   penalties=np.array([np.nan if p is None else float(p) for p in pens], dtype=np.float64))

    def scaled(self, factor: float) -> MarginSchedule:
        """Every MMF times ``factor`` (deductions recomputed); for sensitivity tests."""
        mmfs = self.mmfs * factor
        d = np.concatenate([[0.0], np.cumsum(self.floors[1:] * np.diff(mmfs))])
        return MarginSchedule(floors=self.floors, mmfs=mmfs, deductions=d, costs=self.costs, penalties=self.penalties)


def maintenance_margins(notionals: np.ndarray, schedule: MarginSchedule) -> np.ndarray:
    """Maintenance margin of each position (quote currency): ``N mmf_k - d_k`` in the tier holding ``N``.

    Parameters
    ----------
    notionals : ndarray, shape (n,)
        Quote currency, >= 0.
    schedule : MarginSchedule

    Examples
    --------
    >>> s = MarginSchedule(floors=np.array([0.0, 1e6]), mmfs=np.array([0.02, 0.04]),
    ...                    deductions=np.array([0.0, 2e4]), costs=np.zeros(2))
    >>> maintenance_margins(np.array([5e5, 2e6]), s).tolist()  # 5e5 * 0.02; 2e6 * 0.04 - 2e4
    [10000.0, 60000.0]
    """
    k = np.searchsorted(schedule.floors, notionals, side="right") - 1
    k = np.clip(k, 0, len(schedule.floors) - 1)
    return notionals * schedule.mmfs[k] - schedule.deductions[k]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioImpact:
    """What one scenario liquidates and loses.

    Attributes
    ----------
    name : str
    moves : Mapping[str, float]
        Price move per symbol (fraction).
    accounts : int
        Accounts with at least one liquidated position.
    notional : float
        Liquidated notional after the move (quote currency).
    bad_debt : float
        Dollar bad debt (quote currency): module docstring.
    top_share : float or None
        Share of the liquidated notional in the ``top_n`` largest liquidated accounts (None: none liquidated).
    """

    name: str
    moves: Mapping[str, float]
    accounts: int
    notional: float
    bad_debt: float
    top_share: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"name": self.name, "moves": {k: clean_float(v) for k, v in self.moves.items()},
                "accounts": self.accounts, "notional": clean_float(self.notional),
                "bad_debt": clean_float(self.bad_debt), "top_share": clean_float(self.top_share)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactReport:
    """The impact of one parameter set on a book (see the module docstring for every formula).

    Attributes
    ----------
    label : str
        The parameter set (a file name or ``proposal <id>``).
    source : str
        The positions file.
    n_positions, n_accounts : int
    open_notional : float
        Sum of notionals (quote currency).
    top_n : int
    covered_moves : Mapping[str, float] or None
        Covered move per symbol (None: not known, the covered-move scenarios are left out).
    scenarios : tuple of ScenarioImpact
        ``now``, ``covered move down`` and ``up`` (when known), then the standard shocks.
    notes : tuple of str
    simulation : SimulatedImpact or None
        VaR of insolvent debt and LaR (:func:`simulate_impact`), when simulated.
    stress : StressImpact or None
        Joint stress windows and correlated shocks through the liquidation waterfall
        (:func:`riskparams.book.stress.stress_book`), when run.
    """

    label: str
    source: str
    n_positions: int
    n_accounts: int
    open_notional: float
    top_n: int
    covered_moves: Mapping[str, float] | None
    scenarios: tuple[ScenarioImpact, ...]
    notes: tuple[str, ...] = field(default=())
    simulation: SimulatedImpact | None = None
    stress: StressImpact | None = None

    def scenario(self, name: str) -> ScenarioImpact | None:
        """The scenario called ``name`` (None if absent)."""
        return next((s for s in self.scenarios if s.name == name), None)

    @property
    def now(self) -> ScenarioImpact:
        """The ``now`` scenario (no move)."""
        s = self.scenario("now")
        assert s is not None
        return s

    @property
    def at_move(self) -> ScenarioImpact | None:
        """The worse (more bad debt, then more notional) of the covered move down and up; None when unknown."""
        both = [s for s in (self.scenario("covered move down"), self.scenario("covered move up")) if s is not None]
        return max(both, key=lambda s: (s.bad_debt, s.notional)) if both else None

    @property
    def liquidatable_now(self) -> int:
        """Accounts liquidatable at today's prices."""
        return self.now.accounts

    @property
    def liquidatable_now_notional(self) -> float:
        """Notional liquidatable at today's prices (quote currency)."""
        return self.now.notional

    @property
    def bad_debt_at_move(self) -> float | None:
        """Bad debt at the covered move, worse direction (quote currency); None when the move is unknown."""
        s = self.at_move
        return None if s is None else s.bad_debt

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: ``liquidatable_now``, ``liquidatable_now_notional``, ``bad_debt_at_move``,
        ``top_concentration`` (``n``, ``now``, ``at_move``), then ``label, source, n_positions, n_accounts,
        open_notional, covered_moves, scenarios, notes``, when simulated ``var_insolvent_debt`` and ``lar``
        (``p95``, ``p99``) and ``simulation``, and when stressed ``stress_windows``, ``waterfall``, ``fund_target``,
        ``fund_adequacy``, ``socialised_loss``, ``insurance_fund_min``
        (:meth:`riskparams.book.stress.StressImpact.to_dict`)."""
        at = self.at_move
        return {
            "liquidatable_now": self.liquidatable_now,
            "liquidatable_now_notional": clean_float(self.liquidatable_now_notional),
            "bad_debt_at_move": clean_float(self.bad_debt_at_move),
            "top_concentration": {"n": self.top_n, "now": clean_float(self.now.top_share),
                                  "at_move": None if at is None else clean_float(at.top_share)},
            "label": self.label,
            "source": self.source,
            "n_positions": self.n_positions,
            "n_accounts": self.n_accounts,
            "open_notional": clean_float(self.open_notional),
            "covered_moves": None if self.covered_moves is None else {k: clean_float(v)
                                                                       for k, v in self.covered_moves.items()},
            "scenarios": [s.to_dict() for s in self.scenarios],
            "notes": list(self.notes),
            **({} if self.simulation is None else {
                "var_insolvent_debt": dict(self.simulation.to_dict()["var_insolvent_debt"]),
                "lar": dict(self.simulation.to_dict()["lar"]),
                "simulation": self.simulation.to_dict()}),
            **({} if self.stress is None else self.stress.to_dict()),
        }


def _groups(book: Book) -> list[np.ndarray]:
    return [np.flatnonzero(book.symbols == j) for j in range(len(book.symbol_ids))]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Marks:
    """Positions marked after a price move (module docstring; quote currency, every array of shape (n,)).

    Attributes
    ----------
    after : ndarray
        Notional after the move, ``N (1 + r)``.
    pnl : ndarray
        P&L of the move, ``s N r``.
    mm : ndarray
        Maintenance margin of ``after`` in its tier, ``N' mmf_k - d_k``.
    cost : ndarray
        Close-out cost, ``N' c_k``.
    tier : ndarray of int
        The tier ``k`` holding ``after`` (index into the symbol's schedule).
    """

    after: np.ndarray
    pnl: np.ndarray
    mm: np.ndarray
    cost: np.ndarray
    tier: np.ndarray


def mark_positions(schedules: Sequence[MarginSchedule], symbols: np.ndarray, notionals: np.ndarray,
                   sides: np.ndarray, moves: np.ndarray, groups: Sequence[np.ndarray] | None = None) -> Marks:
    """The margin and cost kernel shared by the one-step impact (:func:`scenario_impact`) and the liquidation
    waterfall (:func:`riskparams.book.waterfall.run_waterfall`): each position marked after one move per symbol.

    Parameters
    ----------
    schedules : sequence of MarginSchedule
        One per symbol (index = symbol id).
    symbols : ndarray of int, shape (n,)
        Symbol id of each position.
    notionals : ndarray, shape (n,)
        Quote currency, >= 0 (0 for a closed position: every figure is then 0).
    sides : ndarray, shape (n,)
        +1 long, -1 short.
    moves : ndarray, shape (n_symbols,)
        Price move per symbol (fraction > -1).
    groups : sequence of ndarray, optional
        The positions of each symbol (``flatnonzero(symbols == j)``), when already known.
    """
    r = moves[symbols]
    after = notionals * (1.0 + r)
    pnl = sides * notionals * r
    mm = np.empty_like(after)
    cost = np.empty_like(after)
    tier = np.zeros(len(after), dtype=np.intp)
    for j, s in enumerate(schedules):
        idx = groups[j] if groups is not None else np.flatnonzero(symbols == j)
        if idx.size:
            a = after[idx]
            k = np.clip(np.searchsorted(s.floors, a, side="right") - 1, 0, len(s.floors) - 1)
            mm[idx] = a * s.mmfs[k] - s.deductions[k]  # maintenance_margins(a, s)
            cost[idx] = a * s.costs[k]
            tier[idx] = k
    return Marks(after=after, pnl=pnl, mm=mm, cost=cost, tier=tier)


def net_accounts(accounts: np.ndarray, n_accounts: int, pnl: np.ndarray, mm: np.ndarray, cost: np.ndarray,
                 equity: np.ndarray, live: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cross netting: one equity per account against the sums of its positions (module docstring).

    Parameters
    ----------
    accounts : ndarray of int, shape (m,)
        Account id of each cross position.
    n_accounts : int
    pnl, mm, cost : ndarray, shape (m,)
        Of the cross positions (:class:`Marks`).
    equity : ndarray, shape (n_accounts,)
        Each account's cross equity before the move (0 for accounts without cross positions).
    live : ndarray of bool, shape (m,), optional
        Open positions (default all): an account with none is never liquidated.

    Returns
    -------
    (value, mm, cost, has) : ndarray, shape (n_accounts,) each
        Equity after the move ``E_a + sum p``, ``sum MM``, ``sum C`` and whether the account holds a live cross
        position; the account is liquidated where ``has & (value < mm)``, with bad debt ``max(0, cost - value)``.
    """
    pnl_acc = np.bincount(accounts, weights=pnl, minlength=n_accounts)
    mm_acc = np.bincount(accounts, weights=mm, minlength=n_accounts)
    cost_acc = np.bincount(accounts, weights=cost, minlength=n_accounts)
    if live is None:
        has = np.bincount(accounts, minlength=n_accounts) > 0
    else:
        has = np.bincount(accounts, weights=live.astype(np.float64), minlength=n_accounts) > 0
    return equity + pnl_acc, mm_acc, cost_acc, has


def _evaluate(book: Book, schedules: Sequence[MarginSchedule], moves: np.ndarray, groups: list[np.ndarray],
              top_n: int) -> tuple[int, float, float, float | None]:
    """(accounts, liquidated notional, bad debt, top-N share) for one vector of per-symbol moves."""
    m = mark_positions(schedules, book.symbols, book.notionals, book.sides, moves, groups)
    after = m.after
    value = book.equity + m.pnl  # isolated: the position's equity after the move
    cross = book.cross
    iso = ~cross
    liq = iso & (value < m.mm)
    bad = float(np.maximum(0.0, m.cost - value)[liq].sum())
    n_acc = len(book.account_ids)
    if cross.any():
        acc = book.accounts[cross]
        eq_acc = np.zeros(n_acc)
        eq_acc[acc] = book.equity[cross]
        value_acc, mm_acc, cost_acc, has = net_accounts(acc, n_acc, m.pnl[cross], m.mm[cross], m.cost[cross], eq_acc)
        liq_acc = has & (value_acc < mm_acc)
        bad += float(np.maximum(0.0, cost_acc - value_acc)[liq_acc].sum())
        liq = liq | (cross & liq_acc[book.accounts])
    per_acc = np.bincount(book.accounts, weights=np.where(liq, after, 0.0), minlength=n_acc)
    hit = np.bincount(book.accounts, weights=liq.astype(np.float64), minlength=n_acc) > 0
    total = float(per_acc.sum())
    if total > 0:
        k = min(top_n, n_acc)
        top = float(np.partition(per_acc, n_acc - k)[n_acc - k:].sum())
        share: float | None = top / total
    else:
        share = None
    return int(hit.sum()), total, bad, share


SIM_CHUNK_CELLS = 1_000_000
"""Positions x scenarios evaluated at once by :func:`evaluate_many` (bounds memory; small enough for the
per-symbol slices to stay in the CPU cache)."""


def _tier_values(a: np.ndarray, s: MarginSchedule) -> tuple[np.ndarray, np.ndarray | None]:
    """Maintenance margin and close-out cost (None when the table has none) of notionals ``a`` (any shape).

    Most positions sit in the first tier: it is computed for all, and only cells at or above the second floor
    are looked up (same numbers as :func:`maintenance_margins`)."""
    mm = a * s.mmfs[0]
    has_cost = bool(s.costs.any())
    cost = a * s.costs[0] if has_cost else None
    if len(s.floors) > 1:
        big = a >= s.floors[1]
        if big.any():
            ab = a[big]
            k = np.clip(np.searchsorted(s.floors, ab, side="right") - 1, 0, len(s.floors) - 1)
            mm[big] = ab * s.mmfs[k] - s.deductions[k]
            if cost is not None:
                cost[big] = ab * s.costs[k]
    return mm, cost


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Thresholds:
    """Isolated positions of one symbol and one side that stay in the first tier in every scenario, as sorted
    thresholds and prefix sums (:func:`evaluate_many`).

    Long (``side = 1``): liquidated when ``r < t = (N mmf - E) / (N (1 - mmf))``, bankrupt when
    ``r < b = (N c - E) / (N (1 - c))``; short: liquidated when ``r > t = (E - N mmf) / (N (1 + mmf))``, bankrupt
    when ``r > b = (E - N c) / (N (1 + c))``. The bad debt of a bankrupt one is ``A + r B`` with ``A = N c - E``
    and ``B = N (c - side)``. The positions are ordered so that the liquidated (bankrupt) ones are a prefix.
    """

    side: int
    t_key: np.ndarray  # ascending keys: -t (long) or t (short)
    n_prefix: np.ndarray  # (m + 1,) prefix sums of N in t order
    b_key: np.ndarray
    a_prefix: np.ndarray
    b_prefix: np.ndarray

    @classmethod
    def build(cls, side: int, n: np.ndarray, e: np.ndarray, mmf: float, c: float) -> _Thresholds:
        if side > 0:
            t = (n * mmf - e) / (n * (1.0 - mmf))
            b = (n * c - e) / (n * (1.0 - c))
            t_key, b_key = -t, -b
        else:
            t_key = (e - n * mmf) / (n * (1.0 + mmf))
            b_key = (e - n * c) / (n * (1.0 + c))
        ot = np.argsort(t_key, kind="stable")
        ob = np.argsort(b_key, kind="stable")

        def prefix(x: np.ndarray) -> np.ndarray:
            return np.concatenate([[0.0], np.cumsum(x)])

        return cls(side=side, t_key=t_key[ot], n_prefix=prefix(n[ot]), b_key=b_key[ob],
                   a_prefix=prefix((n * c - e)[ob]), b_prefix=prefix((n * (c - side))[ob]))

    def evaluate(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(liquidated notional, bad debt) for moves ``r`` of shape (c,)."""
        key = -r if self.side > 0 else r
        k = np.searchsorted(self.t_key, key, side="left")  # thresholds strictly beyond the move
        kb = np.searchsorted(self.b_key, key, side="left")
        return self.n_prefix[k] * (1.0 + r), self.a_prefix[kb] + r * self.b_prefix[kb]


def evaluate_many(book: Book, schedules: Sequence[MarginSchedule], moves: np.ndarray, *,
                  chunk_cells: int = SIM_CHUNK_CELLS) -> tuple[np.ndarray, np.ndarray]:
    """Liquidated notional and bad debt of many scenarios at once (the arithmetic of :func:`scenario_impact`).

    An isolated position that stays in its symbol's first tier in every scenario is liquidated exactly when the
    move passes a threshold of its own (and bankrupt past another; :class:`_Thresholds`), so those positions are
    summed per scenario from sorted thresholds and prefix sums, without a pass over them; the others (large
    positions that may change tier, and tables whose first-tier close-out cost exceeds the MMF) and all cross
    positions are evaluated cell by cell, in chunks of scenarios.

    Parameters
    ----------
    book : Book
    schedules : sequence of MarginSchedule
        One per symbol, in ``book.symbol_ids`` order.
    moves : ndarray, shape (n_scenarios, n_symbols)
        Price move per scenario and symbol (fractions > -1).
    chunk_cells : int
        Scenarios are evaluated cell by cell in chunks of about ``chunk_cells / len(book)`` (at least 1) to
        bound memory (about 8 float arrays of ``chunk_cells`` cells at most).

    Returns
    -------
    (notional, bad_debt) : ndarray, shape (n_scenarios,) each
        Quote currency; equal to :func:`scenario_impact`'s up to the order of summation (and a move exactly on a
        threshold).
    """
    mv = np.asarray(moves, dtype=np.float64)
    k_sym = len(book.symbol_ids)
    order = np.lexsort((book.symbols, book.cross))  # isolated first, then cross; by symbol within each
    sym = book.symbols[order]
    cross = book.cross[order]
    n_iso = int((~cross).sum())
    b_iso = np.searchsorted(sym[:n_iso], np.arange(k_sym + 1))
    b_x = n_iso + np.searchsorted(sym[n_iso:], np.arange(k_sym + 1))
    n = book.notionals[order]
    sides = book.sides[order]
    sides_n = sides * n
    equity = book.equity[order]
    n_acc = len(book.account_ids)
    n_x = len(n) - n_iso
    acc_x = book.accounts[order][n_iso:]
    eq_acc = np.zeros(n_acc)
    eq_acc[acc_x] = equity[n_iso:]
    has = np.bincount(acc_x, minlength=n_acc) > 0
    # isolated positions per symbol: threshold sets (first tier throughout) and the rest, cell by cell
    fast: list[list[_Thresholds]] = []
    slow: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    rmax = mv.max(axis=0) if len(mv) else np.zeros(k_sym)
    for j, s in enumerate(schedules):
        lo, hi = int(b_iso[j]), int(b_iso[j + 1])
        idx = np.arange(lo, hi)
        mmf, c = float(s.mmfs[0]), float(s.costs[0])
        ok = c <= mmf < 1.0
        small = np.zeros(hi - lo, dtype=bool)
        if ok:
            small = n[lo:hi] * (1.0 + rmax[j]) < s.floors[1] if len(s.floors) > 1 else np.ones(hi - lo, dtype=bool)
        sets = []
        for side in (1, -1):
            pick = idx[small & (sides[lo:hi] == side)]
            if pick.size:
                sets.append(_Thresholds.build(side, n[pick], equity[pick], mmf, c))
        fast.append(sets)
        rest = idx[~small]
        slow.append((n[rest], sides_n[rest], equity[rest]))
    out_liq = np.zeros(len(mv))
    out_bad = np.zeros(len(mv))
    n_slow = sum(len(x[0]) for x in slow) + n_x
    step = max(1, int(chunk_cells) // max(1, n_slow))
    for first in range(0, len(mv), step):
        m = mv[first:first + step]
        c = m.shape[0]
        bad = np.zeros(c)
        liq_n = np.zeros(c)
        for j, s in enumerate(schedules):
            for th in fast[j]:
                ln, bd = th.evaluate(m[:, j])
                liq_n += ln
                bad += bd
            n_s, sn_s, e_s = slow[j]
            if not n_s.size:
                continue
            rj = m[:, j:j + 1]
            a = n_s * (1.0 + rj)
            value = sn_s * rj
            value += e_s
            mm, cost = _tier_values(a, s)
            liq = value < mm
            if cost is None:  # bad debt max(0, -value); value < 0 <= MM implies liquidated: no mask needed
                bad -= np.minimum(value, 0.0).sum(axis=1)
            else:
                bad += np.where(liq, np.maximum(0.0, cost - value), 0.0).sum(axis=1)
            liq_n += np.where(liq, a, 0.0).sum(axis=1)
        if n_x:
            a_x = np.empty((c, n_x))
            pnl_x = np.empty((c, n_x))
            mm_x = np.empty((c, n_x))
            cost_x = np.zeros((c, n_x))
            for j, s in enumerate(schedules):
                lo, hi = int(b_x[j]), int(b_x[j + 1])
                if hi <= lo:
                    continue
                rj = m[:, j:j + 1]
                a = n[lo:hi] * (1.0 + rj)
                a_x[:, lo - n_iso:hi - n_iso] = a
                pnl_x[:, lo - n_iso:hi - n_iso] = sides_n[lo:hi] * rj
                mm, cost = _tier_values(a, s)
                mm_x[:, lo - n_iso:hi - n_iso] = mm
                if cost is not None:
                    cost_x[:, lo - n_iso:hi - n_iso] = cost
            rows = (np.arange(c)[:, None] * n_acc + acc_x[None, :]).ravel()

            def per_account(x: np.ndarray, rows: np.ndarray = rows, c: int = c) -> np.ndarray:
                return np.bincount(rows, weights=x.ravel(), minlength=c * n_acc).reshape(c, n_acc)

            value_acc = eq_acc + per_account(pnl_x)
            liq_acc = has & (value_acc < per_account(mm_x))
            bad += np.where(liq_acc, np.maximum(0.0, per_account(cost_x) - value_acc), 0.0).sum(axis=1)
            liq_n += np.where(liq_acc[:, acc_x], a_x, 0.0).sum(axis=1)
        out_bad[first:first + c] = bad
        out_liq[first:first + c] = liq_n
    return out_liq, out_bad


def _schedules(book: Book, tables: Mapping[str, MarginSchedule | Sequence[TierLike]]) -> list[MarginSchedule]:
    out = []
    for j, sym in enumerate(book.symbol_ids):
        t = tables.get(sym)
        if t is None:
            row = int(book.rows[np.flatnonzero(book.symbols == j)[0]])
            raise DataError(f"{book.source}: row {row}, column 'symbol': value {sym!r} has no tier table in the "
                            "parameters.", file=book.source, row=row, column="symbol", value=sym)
        out.append(t if isinstance(t, MarginSchedule) else MarginSchedule.from_tiers(t, symbol=sym))
    return out


def _move_vector(book: Book, moves: Mapping[str, float] | float) -> np.ndarray:
    if isinstance(moves, Mapping):
        missing = [s for s in book.symbol_ids if s not in moves]
        if missing:
            raise SpecError(f"no price move for {missing[0]}")
        vec = np.array([float(moves[s]) for s in book.symbol_ids])
    else:
        vec = np.full(len(book.symbol_ids), float(moves))
    if not (np.all(np.isfinite(vec)) and np.all(vec > -1.0)):
        raise SpecError(f"price moves must be finite and above -100%, got {vec.min():g}")
    return vec


def scenario_impact(book: Book, tables: Mapping[str, MarginSchedule | Sequence[TierLike]],
                    moves: Mapping[str, float] | float, *, name: str = "scenario", top_n: int = 5) -> ScenarioImpact:
    """Accounts and notional liquidated and the bad debt after one price move per symbol.

    Parameters
    ----------
    book : Book
    tables : Mapping[str, MarginSchedule or tier table]
        Per symbol of the book (upper-case).
    moves : Mapping[str, float] or float
        Price move per symbol, or one for all (fraction, > -1).
    name : str
    top_n : int
        Accounts in the concentration share.

    Raises
    ------
    DataError
        A symbol of the book has no table (names its first row).
    """
    if top_n < 1:
        raise SpecError(f"top_n must be >= 1, got {top_n}")
    sched = _schedules(book, tables)
    vec = _move_vector(book, moves)
    accounts, notional, bad, share = _evaluate(book, sched, vec, _groups(book), top_n)
    return ScenarioImpact(name=name, moves=dict(zip(book.symbol_ids, vec.tolist(), strict=True)), accounts=accounts,
                          notional=notional, bad_debt=bad, top_share=share)


def book_impact(book: Book, tables: Mapping[str, MarginSchedule | Sequence[TierLike]], *,
                covered_moves: Mapping[str, float] | float | None = None,
                shocks: Sequence[float] = STANDARD_SHOCKS, top_n: int = 5, label: str = "",
                notes: Sequence[str] = ()) -> ImpactReport:
    """The impact of a parameter set on a book: now, at the covered move (down and up) and under shocks.

    Parameters
    ----------
    book : Book
    tables : Mapping[str, MarginSchedule or tier table]
        One per symbol of the book.
    covered_moves : Mapping[str, float] or float, optional
        Covered (adverse) move size per symbol, or one for all (fraction > 0); None leaves the covered-move
        scenarios out (``bad_debt_at_move`` is then None).
    shocks : sequence of float
        Moves applied to every symbol at once.
    top_n : int
    label : str
        Names the parameter set.
    notes : sequence of str

    Examples
    --------
    >>> from riskparams.book import Book, PerpPosition
    >>> from riskparams.domain import CurrentPerpTier
    >>> tiers = [CurrentPerpTier(notional_floor=0, notional_cap=None, max_leverage=20, maintenance_rate=0.02)]
    >>> book = Book.from_positions([PerpPosition(account="a", symbol="BTC", side="long", notional=1e5,
    ...                                          equity=5e3, margin_mode="isolated")])
    >>> r = book_impact(book, {"BTC": tiers}, covered_moves=0.1)
    >>> r.liquidatable_now, r.bad_debt_at_move  # after -10%: loss 1e4 - equity 5e3 = 5e3
    (0, 5000.0)
    """
    if top_n < 1:
        raise SpecError(f"top_n must be >= 1, got {top_n}")
    sched = _schedules(book, tables)
    groups = _groups(book)
    syms = book.symbol_ids

    def run(name: str, vec: np.ndarray) -> ScenarioImpact:
        accounts, notional, bad, share = _evaluate(book, sched, vec, groups, top_n)
        return ScenarioImpact(name=name, moves=dict(zip(syms, vec.tolist(), strict=True)), accounts=accounts,
                              notional=notional, bad_debt=bad, top_share=share)

    scenarios = [run("now", np.zeros(len(syms)))]
    covered: dict[str, float] | None = None
    if covered_moves is not None:
        m = _move_vector(book, covered_moves)
        if not np.all((m > 0) & (m < 1)):
            raise SpecError(f"covered moves must be in (0, 1), got {m.min():g}")
        covered = dict(zip(syms, m.tolist(), strict=True))
        scenarios += [run("covered move down", -m), run("covered move up", m)]
    for shock in shocks:
        scenarios.append(run(f"shock {shock:+.0%}", _move_vector(book, shock)))
    return ImpactReport(label=label, source=book.source, n_positions=len(book), n_accounts=len(book.account_ids),
                        open_notional=float(book.notionals.sum()), top_n=top_n, covered_moves=covered,
                        scenarios=tuple(scenarios), notes=tuple(notes))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedImpact:
    """Percentiles of insolvent debt (VaR) and of liquidated notional (LaR) over bootstrapped joint moves.

    Attributes
    ----------
    n_sims, horizon_days, seed : int
    days : int
        Joint daily returns drawn from.
    var_insolvent_debt, lar : Mapping[str, float]
        ``{"p95": ..., "p99": ...}`` (quote currency).
    insurance_fund : float or None
        The fund the simulated bad debt is set against (None: not asked).
    beyond_fund : Mapping[str, float] or None
        ``{"p95": ..., "p99": ...}`` of ``max(0, bad debt - insurance_fund)``: what auto-deleveraging / socialised
        loss would pay (or nobody, with ADL off); penalties paid to the fund in the same move are not counted
        (a conservative figure).
    p_beyond_fund : float or None
        Share of simulations whose bad debt exceeds the fund.
    """

    n_sims: int
    horizon_days: int
    seed: int
    days: int
    var_insolvent_debt: Mapping[str, float]
    lar: Mapping[str, float]
    insurance_fund: float | None = None
    beyond_fund: Mapping[str, float] | None = None
    p_beyond_fund: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``insurance_fund``, ``beyond_fund``, ``p_beyond_fund`` when a fund was given)."""
        out: dict[str, Any] = {
            "n_sims": self.n_sims, "horizon_days": self.horizon_days, "seed": self.seed, "days": self.days,
            "var_insolvent_debt": {k: clean_float(v) for k, v in self.var_insolvent_debt.items()},
            "lar": {k: clean_float(v) for k, v in self.lar.items()}}
        if self.insurance_fund is not None:
            out.update({"insurance_fund": clean_float(self.insurance_fund),
                        "beyond_fund": {k: clean_float(v) for k, v in (self.beyond_fund or {}).items()},
                        "p_beyond_fund": clean_float(self.p_beyond_fund)})
        return out


def simulate_impact(book: Book, tables: Mapping[str, MarginSchedule | Sequence[TierLike]], returns: np.ndarray, *,
                    n_sims: int = 1000, horizon_days: int = 1, seed: int = 0,
                    insurance_fund: float | None = None) -> SimulatedImpact:
    """VaR of insolvent debt and liquidations-at-risk by bootstrap of joint historical daily returns.

    Each simulation draws ``horizon_days`` whole days (rows of ``returns``, so the assets move together as they
    did) with replacement, compounds them into one move per symbol, ``prod(1 + r) - 1``, and evaluates the book
    as a scenario (module docstring); the 95th and 99th percentiles of the bad debt and of the liquidated
    notional are reported.

    Parameters
    ----------
    book : Book
    tables : Mapping[str, MarginSchedule or tier table]
    returns : ndarray, shape (days, n_symbols)
        Simple daily price returns, columns in the order of ``book.symbol_ids``, days aligned (no NaN).
    n_sims, horizon_days, seed : int
    insurance_fund : float, optional
        Quote currency (>= 0): also report the bad debt beyond it (:class:`SimulatedImpact`).

    Raises
    ------
    SpecError
        A bad shape, a NaN, fewer than 2 days, or non-positive counts.
    """
    ret = np.asarray(returns, dtype=np.float64)
    if ret.ndim != 2 or ret.shape[1] != len(book.symbol_ids):
        raise SpecError(f"returns must have shape (days, {len(book.symbol_ids)}), got {ret.shape}")
    if ret.shape[0] < 2 or not np.all(np.isfinite(ret)) or np.any(ret <= -1):
        raise SpecError("returns need at least 2 days of finite returns above -100%")
    if n_sims < 1 or horizon_days < 1:
        raise SpecError(f"n_sims and horizon_days must be >= 1, got {n_sims} and {horizon_days}")
    sched = _schedules(book, tables)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, ret.shape[0], size=(n_sims, horizon_days))
    moves = np.prod(1.0 + ret[draws], axis=1) - 1.0
    liq, bad = evaluate_many(book, sched, moves)
    q = {"p95": 95.0, "p99": 99.0}
    extra: dict[str, Any] = {}
    if insurance_fund is not None:
        if not (np.isfinite(insurance_fund) and insurance_fund >= 0):
            raise SpecError(f"insurance_fund must be a finite amount >= 0, got {insurance_fund!r}")
        beyond = np.maximum(0.0, bad - insurance_fund)
        extra = {"insurance_fund": float(insurance_fund),
                 "beyond_fund": {k: float(np.percentile(beyond, v)) for k, v in q.items()},
                 "p_beyond_fund": float((bad > insurance_fund).mean())}
    return SimulatedImpact(n_sims=n_sims, horizon_days=horizon_days, seed=seed, days=int(ret.shape[0]),
                           var_insolvent_debt={k: float(np.percentile(bad, v)) for k, v in q.items()},
                           lar={k: float(np.percentile(liq, v)) for k, v in q.items()}, **extra)


# ---------------------------------------------------------------------------------------------
# lending
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingScenario:
    """What one price move liquidates and loses on a lending book.

    ``accounts`` liquidatable (health factor below 1), their ``debt`` (quote currency, after the move) and the
    ``bad_debt`` (quote currency): per liquidatable account ``max(0, D' - C' / (1 + b))`` with ``D'`` the debt
    value, ``C'`` the collateral value after the move and ``b`` the collateral-weighted liquidation bonus (a
    liquidator repays at most what the collateral pays for, bonus included).
    """

    name: str
    accounts: int
    debt: float
    bad_debt: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"name": self.name, "accounts": self.accounts, "debt": clean_float(self.debt),
                "bad_debt": clean_float(self.bad_debt)}


def lending_scenario(book: Any, params: Mapping[str, Any], prices: Mapping[str, float],
                     moves: Mapping[str, float] | None = None, *, name: str = "scenario") -> LendingScenario:
    """Liquidatable accounts and bad debt of a :class:`~riskparams.book.LendingBook` after a price move.

    An account's loans are pooled (one health factor per account, as on Aave):
    ``HF = sum(C_i LT_i) / sum(D_j)`` with collateral values ``C_i = amount_i p_i (1 + r_i)`` and debt values
    ``D_j = amount_j p_j (1 + r_j)``; liquidatable when ``HF < 1`` and the debt is positive.

    Parameters
    ----------
    book : LendingBook
    params : Mapping[str, CurrentLending]
        Per collateral asset: ``liquidation_threshold`` and ``liquidation_bonus`` (fractions).
    prices : Mapping[str, float]
        Price of every asset of the book (quote currency per unit).
    moves : Mapping[str, float], optional
        Price move per asset (fraction > -1); an asset not named does not move.

    Raises
    ------
    DataError
        An asset without a price, or a collateral asset without parameters (names its first row).
    """
    moves = moves or {}
    ids = book.asset_ids
    p = np.empty(len(ids))
    for j, a in enumerate(ids):
        price = prices.get(a)
        if price is None or not (np.isfinite(price) and price > 0):
            raise DataError(f"{book.source}: asset {a!r} has no positive price.", file=book.source, value=a)
        r = float(moves.get(a, 0.0))
        if not (np.isfinite(r) and r > -1):
            raise SpecError(f"price moves must be finite and above -100%, got {r:g} for {a}")
        p[j] = price * (1.0 + r)
    lt = np.full(len(ids), np.nan)
    bonus = np.full(len(ids), np.nan)
    for j, a in enumerate(ids):
        if a in params:
            lt[j] = float(params[a].liquidation_threshold)
            bonus[j] = float(params[a].liquidation_bonus)
    missing = np.isnan(lt[book.collateral_assets])
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        a = ids[book.collateral_assets[i]]
        raise DataError(f"{book.source}: row {int(book.rows[i])}, column 'collateral_asset': value {a!r} has no "
                        "lending parameters.", file=book.source, row=int(book.rows[i]), column="collateral_asset",
                        value=a)
    n_acc = len(book.account_ids)
    cv = book.collateral_amounts * p[book.collateral_assets]
    coll = np.bincount(book.accounts, weights=cv, minlength=n_acc)
    room = np.bincount(book.accounts, weights=cv * lt[book.collateral_assets], minlength=n_acc)
    bonus_w = np.bincount(book.accounts, weights=cv * bonus[book.collateral_assets], minlength=n_acc)
    debt = np.bincount(book.accounts, weights=book.debt_amounts * p[book.debt_assets], minlength=n_acc)
    liq = (debt > 0) & (room < debt)
    b = np.divide(bonus_w, coll, out=np.zeros(n_acc), where=coll > 0)
    bad = np.maximum(0.0, debt - coll / (1.0 + b))[liq]
    return LendingScenario(name=name, accounts=int(liq.sum()), debt=float(debt[liq].sum()), bad_debt=float(bad.sum()))

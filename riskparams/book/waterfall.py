"""The liquidation waterfall along a path of joint price moves: who is closed, who pays the bad debt.

Pure numpy functions of a :class:`~riskparams.book.Book`, one :class:`~riskparams.book.impact.MarginSchedule`
per symbol and a path of daily joint moves (shape ``(steps, n_symbols)``); nothing here reads the store.

A **unit** is an isolated position, or a cross account with all its cross positions (it has one equity).
Each step moves every open position (P&L ``s N r``, notional ``N (1 + r)``, the arithmetic of
:mod:`riskparams.book.impact`, through the same kernel: :func:`~riskparams.book.impact.mark_positions` and
:func:`~riskparams.book.impact.net_accounts`) and then checks every open unit: one whose equity ``E`` is below its maintenance
margin ``MM`` is liquidated.

* **Bankrupt** (``E < C``, ``C`` the close-out cost of closing it all): closed in full; its bad debt is
  ``C - E``. With ``backstop`` on, the backstop (a vault, as Hyperliquid's HLP) takes such a unit over at the
  mark price instead of the market, without close-out cost: the bad debt is ``max(0, -E)``; the vault keeps the
  positions to the end of the path (``backstop_notional`` taken over; ``backstop_pnl`` = equity received plus
  the vault's later P&L on them).
* **Solvent** (``E >= C``): a share ``f`` of it is closed (``f = close_factor``, partial liquidation as on Aave
  or Hyperliquid; with ``slice_above`` only units whose notional is above it are closed by slices of
  ``close_factor``, smaller ones in full, as Hyperliquid closes large positions in parts). It pays the close-out
  cost ``f C`` and a penalty ``min(f N p, E - C)`` (``p`` the tier's liquidation penalty, the MMF when the
  table has none), so the penalty never eats the equity the remainder needs for its own close-out and never
  creates bad debt. A unit still below its margin after a partial close
  is checked again at the same prices, up to :data:`MAX_ROUNDS` rounds per step.

The **insurance fund** starts at ``insurance_fund`` (quote currency) and receives ``penalty_to_fund`` of every
penalty; then it pays the step's bad debt while its balance lasts (``fund_paid``). What it cannot pay is
``socialised_loss`` (auto-deleveraging / socialised loss) when ``adl`` is on, so the fund never goes below 0;
with ``adl`` off the fund goes negative by that amount (``unfunded``: bad debt nobody pays) and the result says
so. ``bad_debt = fund_paid + socialised_loss + unfunded``.

With the defaults (``close_factor=1``, no slices, no backstop, ``penalty_to_fund=0``, fund 0, ``adl`` off) a
one-step path gives exactly the accounts, liquidated notional and bad debt of
:func:`riskparams.book.impact.scenario_impact` for that move.

Which properties hold: the fund's minimum is >= 0 whenever ``adl`` is on; a larger starting fund never raises
the socialised loss (nor the bad debt, which does not depend on the fund); on a one-step path a close factor
below 1 gives the same bad debt (a bankrupt unit is always closed in full; this needs close-out cost rates that
do not fall with size, as every proposed table has) and never more liquidated notional. Units do not interact
through prices here (no price impact of the liquidation volume), so over several steps a close factor below 1
never *lowers* the bad debt (a solvent unit closed in full leaves none) and may raise it (the open remainder
keeps losing): partial liquidation is a choice of how much notional is closed and how much the trader keeps,
not of bad debt, in this model.

**Fund target** (:func:`fund_target`), from the per-account bad debt of a set of stress scenarios (run with no
fund): ``cover-2`` (as clearing houses size default funds: the largest, over scenarios, of the summed bad debt
of the two accounts losing most in that scenario) or ``percentile`` (the ``fund_percentile``-th percentile of
the scenarios' total bad debt, linear interpolation). ``fund_adequacy = insurance_fund / target``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np

from riskparams.book.impact import MarginSchedule, _groups, _schedules, mark_positions, net_accounts
from riskparams.book.positions import Book
from riskparams.exceptions import SpecError
from riskparams.jsonio import clean_float
from riskparams.tiers import TierLike

__all__ = ["MAX_ROUNDS", "FundTargetRule", "WaterfallResult", "WaterfallSpec", "fund_target", "run_waterfall",
           "with_fund"]

MAX_ROUNDS = 10
"""Liquidation rounds per step (a partially closed unit still below its margin is checked again)."""


class FundTargetRule(StrEnum):
    """How the insurance fund's target is set (module docstring)."""

    COVER2 = "cover-2"
    PERCENTILE = "percentile"


@dataclass(frozen=True, slots=True, kw_only=True)
class WaterfallSpec:
    """The liquidation waterfall's settings.

    Attributes
    ----------
    close_factor : float
        Share of a solvent liquidatable unit closed per round, in (0, 1].
    slice_above : float or None
        Notional (quote currency, > 0) above which units are closed by ``close_factor`` slices; below it in full.
        None: ``close_factor`` applies to every unit.
    backstop : bool
        A backstop vault takes over bankrupt units (no close-out cost).
    penalty_to_fund : float
        Share of the liquidation penalty paid to the insurance fund, in [0, 1].
    insurance_fund : float
        Starting balance (quote currency, >= 0).
    adl : bool
        Auto-deleveraging / socialised loss covers what the fund cannot.
    fund_target : FundTargetRule or str
        ``cover-2`` or ``percentile``.
    fund_percentile : float
        Percentile for the ``percentile`` rule, in (0, 100].
    """

    close_factor: float = 1.0
    slice_above: float | None = None
    backstop: bool = False
    penalty_to_fund: float = 0.0
    insurance_fund: float = 0.0
    adl: bool = False
    fund_target: FundTargetRule | str = FundTargetRule.COVER2
    fund_percentile: float = 99.0

    def __post_init__(self) -> None:
        if not (isinstance(self.close_factor, int | float) and 0 < self.close_factor <= 1):
            raise SpecError(f"close_factor must be in (0, 1], got {self.close_factor!r}")
        if self.slice_above is not None and not (math.isfinite(self.slice_above) and self.slice_above > 0):
            raise SpecError(f"slice_above must be a notional above 0, got {self.slice_above!r}")
        if not (isinstance(self.penalty_to_fund, int | float) and 0 <= self.penalty_to_fund <= 1):
            raise SpecError(f"penalty_to_fund must be in [0, 1], got {self.penalty_to_fund!r}")
        if not (isinstance(self.insurance_fund, int | float) and math.isfinite(self.insurance_fund)
                and self.insurance_fund >= 0):
            raise SpecError(f"insurance_fund must be a finite amount >= 0, got {self.insurance_fund!r}")
        try:
            rule = FundTargetRule(self.fund_target)
        except ValueError:
            raise SpecError(f"fund_target must be 'cover-2' or 'percentile', got {self.fund_target!r}") from None
        object.__setattr__(self, "fund_target", rule)
        if not (isinstance(self.fund_percentile, int | float) and 0 < self.fund_percentile <= 100):
            raise SpecError(f"fund_percentile must be in (0, 100], got {self.fund_percentile!r}")

    @property
    def is_default(self) -> bool:
        """True for today's behaviour: full close, no backstop, nothing to the fund, fund 0, no ADL."""
        return (self.close_factor == 1 and self.slice_above is None and not self.backstop
                and self.penalty_to_fund == 0 and self.insurance_fund == 0 and not self.adl)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        rule = FundTargetRule(self.fund_target)
        return {"close_factor": clean_float(self.close_factor), "slice_above": clean_float(self.slice_above),
                "backstop": self.backstop, "penalty_to_fund": clean_float(self.penalty_to_fund),
                "insurance_fund": clean_float(self.insurance_fund), "adl": self.adl,
                "fund_target_rule": rule.value,
                "fund_percentile": clean_float(self.fund_percentile) if rule is FundTargetRule.PERCENTILE else None}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class WaterfallResult:
    """What a path of moves liquidates and who pays (quote currency; module docstring).

    Attributes
    ----------
    steps : int
    accounts : int
        Accounts with a position liquidated (or taken over) at any step.
    notional : float
        Notional closed in the market or taken over by the backstop, summed over steps.
    bad_debt, fund_paid, socialised_loss, unfunded : float
        ``bad_debt = fund_paid + socialised_loss + unfunded``.
    insurance_fund_start, insurance_fund_end, insurance_fund_min : float
        Balance before the path, after it, and its lowest value (after each step's payments).
    penalties, penalties_to_fund : float
        Liquidation penalties paid by liquidated units, and the share credited to the fund.
    backstop_notional, backstop_pnl : float
        Notional taken over by the backstop; equity it received plus its later P&L on the positions.
    account_bad_debt : ndarray, shape (n_accounts,)
        Bad debt per account of the book (``book.account_ids`` order).
    account_notional : ndarray, shape (n_accounts,)
        Notional closed or taken over per account, summed over steps (same order; :meth:`top_share`).
    step_bad_debt, step_penalties : ndarray, shape (steps,)
        Bad debt and penalties of each step (:func:`with_fund` recomputes the fund from them).
    """

    steps: int
    accounts: int
    notional: float
    bad_debt: float
    fund_paid: float
    socialised_loss: float
    unfunded: float
    insurance_fund_start: float
    insurance_fund_end: float
    insurance_fund_min: float
    penalties: float
    penalties_to_fund: float
    backstop_notional: float
    backstop_pnl: float
    account_bad_debt: np.ndarray = field(repr=False)
    account_notional: np.ndarray = field(repr=False)
    step_bad_debt: np.ndarray = field(repr=False)
    step_penalties: np.ndarray = field(repr=False)

    def top_share(self, n: int = 5) -> float | None:
        """Share of the liquidated notional in the ``n`` accounts with the most of it (None: nothing liquidated;
        as :attr:`riskparams.book.impact.ScenarioImpact.top_share`)."""
        a = self.account_notional
        total = float(a.sum())
        if not total > 0:
            return None
        k = min(int(n), len(a))
        return float(np.partition(a, len(a) - k)[len(a) - k:].sum()) / total

    @property
    def fund_went_negative(self) -> bool:
        """True when bad debt was left with nobody to pay it (ADL off and the fund exhausted)."""
        return self.insurance_fund_min < 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (without the per-account array)."""
        return {"steps": self.steps, "accounts": self.accounts, "notional": clean_float(self.notional),
                "bad_debt": clean_float(self.bad_debt), "fund_paid": clean_float(self.fund_paid),
                "socialised_loss": clean_float(self.socialised_loss), "unfunded": clean_float(self.unfunded),
                "insurance_fund_start": clean_float(self.insurance_fund_start),
                "insurance_fund_end": clean_float(self.insurance_fund_end),
                "insurance_fund_min": clean_float(self.insurance_fund_min),
                "fund_went_negative": self.fund_went_negative,
                "penalties": clean_float(self.penalties), "penalties_to_fund": clean_float(self.penalties_to_fund),
                "backstop_notional": clean_float(self.backstop_notional),
                "backstop_pnl": clean_float(self.backstop_pnl)}


def _path_array(book: Book, path: np.ndarray | Sequence[Mapping[str, float]]) -> np.ndarray:
    if isinstance(path, np.ndarray):
        arr = np.asarray(path, dtype=np.float64)
    else:
        rows = []
        for step in path:
            missing = [s for s in book.symbol_ids if s not in step]
            if missing:
                raise SpecError(f"no price move for {missing[0]}")
            rows.append([float(step[s]) for s in book.symbol_ids])
        arr = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(book.symbol_ids))
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != len(book.symbol_ids) or arr.shape[0] < 1:
        raise SpecError(f"a path must have shape (steps >= 1, {len(book.symbol_ids)}), got {arr.shape}")
    if not (np.all(np.isfinite(arr)) and np.all(arr > -1.0)):
        raise SpecError(f"price moves must be finite and above -100%, got {np.nanmin(arr):g}")
    return arr


def run_waterfall(book: Book, tables: Mapping[str, MarginSchedule | Sequence[TierLike]],
                  path: np.ndarray | Sequence[Mapping[str, float]], spec: WaterfallSpec | None = None
                  ) -> WaterfallResult:
    """Liquidations, bad debt and the insurance fund along a path of joint price moves (module docstring).

    Parameters
    ----------
    book : Book
    tables : Mapping[str, MarginSchedule or tier table]
        One per symbol of the book.
    path : ndarray, shape (steps, n_symbols), or sequence of Mapping[str, float]
        Simple price move of each step (fraction > -1; columns in ``book.symbol_ids`` order), each relative to
        the previous step's price.
    spec : WaterfallSpec, optional
        Default: today's behaviour (:attr:`WaterfallSpec.is_default`).

    Raises
    ------
    SpecError
        A bad path shape or a move at or below -100 %.
    DataError
        A symbol of the book without a table.

    Examples
    --------
    >>> from riskparams.book import Book, PerpPosition
    >>> from riskparams.domain import CurrentPerpTier
    >>> tiers = [CurrentPerpTier(notional_floor=0, notional_cap=None, max_leverage=20, maintenance_rate=0.02)]
    >>> book = Book.from_positions([PerpPosition(account="a", symbol="BTC", side="long", notional=1e5,
    ...                                          equity=5e3, margin_mode="isolated")])
    >>> r = run_waterfall(book, {"BTC": tiers}, [{"BTC": -0.1}], WaterfallSpec(insurance_fund=2e3, adl=True))
    >>> r.bad_debt, r.fund_paid, r.socialised_loss, r.insurance_fund_min  # loss 1e4 - equity 5e3
    (5000.0, 2000.0, 3000.0, 0.0)
    """
    spec = spec or WaterfallSpec()
    moves = _path_array(book, path)
    sched = _schedules(book, tables)
    groups = _groups(book)
    pen_rates = [s.penalty_rates() for s in sched]
    n_acc = len(book.account_ids)
    cross = book.cross
    acc_x = book.accounts[cross]

    notional = book.notionals.astype(np.float64).copy()
    equity = book.equity.astype(np.float64).copy()  # isolated rows: their equity; cross rows: unused
    eq_acc = np.zeros(n_acc)
    eq_acc[acc_x] = book.equity[cross]
    open_ = np.ones(len(book), dtype=bool)
    hit = np.zeros(n_acc, dtype=bool)
    acc_bad = np.zeros(n_acc)
    acc_not = np.zeros(n_acc)
    vault = np.zeros(len(book.symbol_ids))  # backstop's signed notional per symbol
    tot = {"notional": 0.0, "bs_not": 0.0, "bs_pnl": 0.0}
    f_cf = float(spec.close_factor)

    all_pos = np.arange(len(book))

    def round_(vec: np.ndarray, ix: np.ndarray | None) -> np.ndarray | None:
        """One liquidation round after the price move ``vec`` over the positions ``ix`` (None: all); adds to
        ``step_tot`` and returns the positions of partially closed units (None when there are none)."""
        nonlocal notional, equity
        full = ix is None
        sel = all_pos if ix is None else ix
        sym = book.symbols[sel]
        acc = book.accounts[sel]
        crs = cross[sel]
        isx = ~crs
        nt = notional[sel]
        op = open_[sel]
        grp = groups if full else [np.flatnonzero(sym == j) for j in range(len(sched))]
        marks = mark_positions(sched, sym, nt, book.sides[sel], vec, grp)
        after, pnl, mm, cost = marks.after, marks.pnl, marks.mm, marks.cost
        pen_rate = np.empty_like(after)
        for j, idx in enumerate(grp):
            if idx.size:
                pen_rate[idx] = pen_rates[j][marks.tier[idx]]
        value = equity[sel] + pnl
        liq = isx & op & (value < mm)
        # isolated units
        bankrupt = liq & (value < cost)
        taken = bankrupt if spec.backstop else np.zeros_like(bankrupt)
        unit_bad = np.where(taken, np.maximum(0.0, -value), np.maximum(0.0, cost - value))
        bad = float(unit_bad[liq].sum())
        frac = np.ones_like(after)
        if f_cf < 1:
            big = after > spec.slice_above if spec.slice_above is not None else np.ones_like(liq)
            frac = np.where(liq & ~bankrupt & big, f_cf, 1.0)
        pen = np.where(liq & ~bankrupt, np.minimum(frac * after * pen_rate, value - cost), 0.0)
        bad_acc = np.bincount(acc, weights=np.where(liq, unit_bad, 0.0), minlength=n_acc)
        liq_all = liq
        taken_all = taken
        new_equity = np.where(liq, np.where(bankrupt, 0.0, value - frac * cost - pen), value)
        pens = float(pen.sum())
        # cross units (one per account)
        if crs.any():
            ax = acc[crs]
            value_acc, mm_acc, cost_acc, has = net_accounts(ax, n_acc, pnl[crs], mm[crs], cost[crs], eq_acc,
                                                            live=op[crs])
            liq_acc = has & (value_acc < mm_acc)
            bank_acc = liq_acc & (value_acc < cost_acc)
            taken_acc = bank_acc if spec.backstop else np.zeros_like(bank_acc)
            acc_unit_bad = np.where(taken_acc, np.maximum(0.0, -value_acc), np.maximum(0.0, cost_acc - value_acc))
            bad += float(acc_unit_bad[liq_acc].sum())
            bad_acc += np.where(liq_acc, acc_unit_bad, 0.0)
            frac_acc = np.ones(n_acc)
            if f_cf < 1:
                gross = np.bincount(ax, weights=after[crs], minlength=n_acc)
                big_acc = gross > spec.slice_above if spec.slice_above is not None else np.ones(n_acc, dtype=bool)
                frac_acc = np.where(liq_acc & ~bank_acc & big_acc, f_cf, 1.0)
            pen_base = np.bincount(ax, weights=(after * pen_rate)[crs], minlength=n_acc)
            pen_acc = np.where(liq_acc & ~bank_acc, np.minimum(frac_acc * pen_base, value_acc - cost_acc), 0.0)
            pens += float(pen_acc.sum())
            in_liq = crs & liq_acc[acc] & op
            liq_all = liq | in_liq
            taken_all = taken | (crs & taken_acc[acc] & op)
            frac = np.where(in_liq, frac_acc[acc], frac)
            eq_acc[:] = np.where(liq_acc, np.where(bank_acc, 0.0, value_acc - frac_acc * cost_acc - pen_acc),
                                 value_acc)
            if spec.backstop:
                tot["bs_pnl"] += float(np.maximum(0.0, value_acc)[taken_acc].sum())
        if spec.backstop:
            tot["bs_pnl"] += float(np.maximum(0.0, value)[taken].sum())
            tot["bs_not"] += float(after[taken_all].sum())
            np.add.at(vault, sym[taken_all], (book.sides[sel] * after)[taken_all])
        closed = np.where(liq_all, frac * after, 0.0)
        per_acc = np.bincount(acc, weights=closed, minlength=n_acc)
        tot["notional"] += float(per_acc.sum())
        acc_not[:] += per_acc
        hit[np.bincount(acc, weights=liq_all.astype(np.float64), minlength=n_acc) > 0] = True
        acc_bad[:] += bad_acc
        partial = liq_all & (frac < 1.0)
        still = op & ~(liq_all & ~partial)
        notional[sel] = np.where(still, np.where(liq_all, after * (1.0 - frac), after), 0.0)
        equity[sel] = np.where(isx, new_equity, equity[sel])
        open_[sel] = still
        step_tot[0] += bad
        step_tot[1] += pens
        if not partial.any():
            return None
        # next round: the partially closed isolated positions and every open position of a partially closed
        # cross account (nothing else changed, so nothing else can be liquidated at the same prices)
        again = np.zeros(len(book), dtype=bool)
        again[sel[partial & isx]] = True
        part_acc = np.zeros(n_acc, dtype=bool)
        part_acc[acc[partial & crs]] = True
        again |= cross & part_acc[book.accounts] & open_
        return np.flatnonzero(again)

    zero = np.zeros(len(book.symbol_ids))
    step_tot = np.zeros(2)  # bad debt and penalties of the current step
    step_bad: list[float] = []
    step_pen: list[float] = []
    for vec in moves:
        if spec.backstop:
            tot["bs_pnl"] += float((vault * vec).sum())
            vault *= 1.0 + vec
        step_tot[:] = 0.0
        nxt = round_(vec, None)
        for _ in range(MAX_ROUNDS - 1):
            if nxt is None:
                break
            nxt = round_(zero, nxt)
        step_bad.append(float(step_tot[0]))
        step_pen.append(float(step_tot[1]))
    res = WaterfallResult(steps=int(moves.shape[0]), accounts=int(hit.sum()), notional=tot["notional"],
                          bad_debt=0.0, fund_paid=0.0, socialised_loss=0.0, unfunded=0.0,
                          insurance_fund_start=0.0, insurance_fund_end=0.0, insurance_fund_min=0.0, penalties=0.0,
                          penalties_to_fund=0.0, backstop_notional=tot["bs_not"], backstop_pnl=tot["bs_pnl"],
                          account_bad_debt=acc_bad, account_notional=acc_not, step_bad_debt=np.asarray(step_bad),
                          step_penalties=np.asarray(step_pen))
    return with_fund(res, spec)


def with_fund(result: WaterfallResult, spec: WaterfallSpec, *, start: float | None = None) -> WaterfallResult:
    """The fund's side of ``result`` recomputed for ``spec``'s fund, penalty share and ADL (module docstring).

    The liquidations and the bad debt of each step do not depend on the fund, so a different starting fund needs
    no new run. Each step: the fund receives ``penalty_to_fund`` of the step's penalties, then pays the step's
    bad debt while its balance lasts; the rest is socialised (ADL on) or unfunded (the fund goes negative).
    ``start`` (quote currency, may be negative: a fund carried over from an earlier path with ADL off) replaces
    ``spec.insurance_fund``.
    """
    fund = fund0 = float(spec.insurance_fund) if start is None else float(start)
    fund_min = fund
    paid_t = social = unfunded = pen_fund = 0.0
    for bad, pens in zip(result.step_bad_debt.tolist(), result.step_penalties.tolist(), strict=True):
        to_fund = spec.penalty_to_fund * pens
        fund += to_fund
        paid = min(bad, max(fund, 0.0))
        fund -= paid
        rest = bad - paid
        if spec.adl:
            social += rest
        else:
            fund -= rest
            unfunded += rest
        fund_min = min(fund_min, fund)
        paid_t += paid
        pen_fund += to_fund
    return replace(result, bad_debt=float(result.step_bad_debt.sum()), fund_paid=paid_t, socialised_loss=social,
                   unfunded=unfunded, insurance_fund_start=fund0,
                   insurance_fund_end=fund,
                   insurance_fund_min=fund_min, penalties=float(result.step_penalties.sum()),
                   penalties_to_fund=pen_fund)


def fund_target(account_bad_debts: Sequence[np.ndarray], rule: FundTargetRule | str = FundTargetRule.COVER2, *,
                percentile: float = 99.0) -> float:
    """The insurance fund's target from the per-account bad debt of stress scenarios (quote currency).

    Parameters
    ----------
    account_bad_debts : sequence of ndarray, each shape (n_accounts,)
        One array per scenario (:attr:`WaterfallResult.account_bad_debt`, run without a fund).
    rule : FundTargetRule or str
        ``cover-2``: the largest, over scenarios, of the two largest accounts' summed bad debt; ``percentile``:
        the ``percentile``-th percentile of the scenarios' total bad debt (linear interpolation).
    percentile : float
        In (0, 100].

    Examples
    --------
    >>> fund_target([np.array([5.0, 1.0, 3.0]), np.array([0.0, 7.0, 0.5])])  # max(5 + 3, 7 + 0.5)
    8.0
    >>> fund_target([np.array([5.0, 1.0, 3.0]), np.array([0.0, 7.0, 0.5])], "percentile", percentile=100)
    9.0
    """
    try:
        r = FundTargetRule(rule)
    except ValueError:
        raise SpecError(f"fund_target must be 'cover-2' or 'percentile', got {rule!r}") from None
    if not 0 < percentile <= 100:
        raise SpecError(f"fund_percentile must be in (0, 100], got {percentile!r}")
    arrays = [np.asarray(a, dtype=np.float64) for a in account_bad_debts]
    if not arrays:
        return 0.0
    if r is FundTargetRule.COVER2:
        best = 0.0
        for a in arrays:
            if a.size:
                top = np.sort(a)[-2:]
                best = max(best, float(top.sum()))
        return best
    return float(np.percentile([float(a.sum()) for a in arrays], percentile))

"""The synthetic demo book opens every account at or above the initial margin of its tier (issue 14 review,
item 4): only the unrealised P&L since entry can take one below maintenance, as on a real venue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskparams.book.impact import MarginSchedule, book_impact
from riskparams.domain import CurrentPerpTier
from riskparams.ingest.demo_book import demo_book, entry_leverage_caps, entry_tiers
from riskparams.params_io import load_current

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"


def tier(floor: float, cap: float | None, lev: float, mmf: float) -> CurrentPerpTier:
    return CurrentPerpTier(notional_floor=floor, notional_cap=cap, max_leverage=lev, maintenance_rate=mmf)


# AAA: [0, 50k) 20x, [50k, 500k) 5x, [500k, open) 2x; maintenance half the initial margin (2.5%, 10%, 25%)
AAA = [tier(0, 5e4, 20, 0.025), tier(5e4, 5e5, 5, 0.10), tier(5e5, None, 2, 0.25)]


def initial_margin_aaa(n: np.ndarray) -> np.ndarray:
    """Written out: N / 20 below 50k, N / 5 below 500k, N / 2 above."""
    return np.where(n < 5e4, n / 20, np.where(n < 5e5, n / 5, n / 2))


def initial_margin_default(n: np.ndarray) -> np.ndarray:
    """The demo venue's ladder (DEMO_VENUE_LADDER, tier 1 at max_leverage 20x): N / 20 below 1M, N / 10 below 5M,
    N / 5 below 20M, N / 3 above."""
    return np.where(n < 1e6, n / 20, np.where(n < 5e6, n / 10, np.where(n < 2e7, n / 5, n / 3)))


def _initial_margins(book, fns):  # type: ignore[no-untyped-def]
    im = np.empty(len(book))
    for j, sym in enumerate(book.symbol_ids):
        idx = book.symbols == j
        im[idx] = fns[sym](book.notionals[idx])
    return im


@pytest.mark.parametrize("seed", [1, 7, 20260101])
def test_every_demo_account_opens_at_or_above_its_initial_margin(seed: int) -> None:
    # large notionals so that many positions sit in the upper tiers
    book = demo_book(3_000, symbols=("AAA", "BBB"), seed=seed, pnl_sigma=0.0, median_notional=1e5,
                     tiers={"AAA": AAA}, cross_share=0.3)
    im = _initial_margins(book, {"AAA": initial_margin_aaa, "BBB": initial_margin_default})
    iso = ~book.cross
    assert (book.equity[iso] >= im[iso] * (1 - 1e-12)).all()
    # a cross account: its one equity against the sum of its positions' initial margins
    acc = book.accounts[book.cross]
    need = np.bincount(acc, weights=im[book.cross], minlength=len(book.account_ids))
    eq = np.zeros(len(book.account_ids))
    eq[acc] = book.equity[book.cross]
    has = np.bincount(acc, minlength=len(book.account_ids)) > 0
    assert (eq[has] >= need[has] * (1 - 1e-12)).all()
    # the upper tiers are populated (else the test proves nothing)
    n_aaa = book.notionals[book.symbols == book.symbol_ids.index("AAA")]
    assert (n_aaa >= 5e5).sum() >= 20 and ((n_aaa >= 5e4) & (n_aaa < 5e5)).sum() >= 200
    # under the tiers it was opened at, nobody is liquidatable at entry (MMF = IMF / 2)
    tables = {"AAA": AAA, "BBB": [tier(0, 1e6, 20, 0.025), tier(1e6, 5e6, 10, 0.05), tier(5e6, 2e7, 5, 0.10),
                                  tier(2e7, None, 3, 1 / 6)]}
    assert book_impact(book, tables).liquidatable_now == 0


def test_only_pnl_since_entry_moves_equity_below_entry_margin() -> None:
    """With P&L since entry, a survivor keeps at least half its entry margin (SURVIVE): so nobody is below the
    maintenance margin of the tiers it opened under (MMF = IMF / 2), and some are near it."""
    book = demo_book(3_000, symbols=("AAA",), seed=3, median_notional=1e5, tiers={"AAA": AAA})
    r = book_impact(book, {"AAA": AAA}, covered_moves=0.05)
    assert r.liquidatable_now == 0
    assert r.at_move is not None and r.at_move.accounts >= 1  # some sit near maintenance


def test_the_old_generator_broke_the_invariant() -> None:
    """Without the tiers, tier-1 leverage (20x) was drawn at every size: a 2M position at 15x has 6.7 % of equity
    against tier 2's 10 % initial margin (and SOL-SYN at 20x against its 10x table)."""
    cur = load_current(EXAMPLES / "current_perp.csv", "perp")
    tables = {s: MarginSchedule.from_tiers(a.tiers, symbol=s) for s, a in cur.assets.items()}  # type: ignore[union-attr]
    old = demo_book(2_000, pnl_sigma=0.0, tiers={s: [tier(0, None, 20, 0.025)] for s in cur.assets})
    assert book_impact(old, tables).liquidatable_now > 0  # opened above the venue's leverage: liquidatable at once
    new = demo_book(2_000, pnl_sigma=0.0, tiers=entry_tiers(None, cur))
    assert book_impact(new, tables).liquidatable_now == 0
    assert book_impact(demo_book(2_000, tiers=entry_tiers(None, cur)), tables).liquidatable_now == 0


def test_entry_leverage_caps_and_tiers_by_hand() -> None:
    caps = entry_leverage_caps(np.array([0, 0, 0, 1]), np.array([1e4, 6e4, 6e5, 3e6]), ["AAA", "BBB"],
                               {"aaa": AAA}, 12.0)
    assert caps.tolist() == [12.0, 5.0, 2.0, 10.0]  # min(12, 20); 5x; 2x; BBB on the ladder: 10x in [1M, 5M)
    cur = load_current(EXAMPLES / "current_perp.csv", "perp")
    t = entry_tiers(None, cur)
    assert sorted(t) == ["BTC-SYN", "ETH-SYN", "SOL-SYN"] and [x.max_leverage for x in t["SOL-SYN"]] == [10, 5, 3]


def test_demo_positions_opens_at_the_proposal_tiers() -> None:
    """service.demo_positions (the Book page's demo book) takes the tiers in force from the current parameters."""
    from riskparams.service import demo_positions

    cur = load_current(EXAMPLES / "current_perp.csv", "perp")
    book = demo_positions(sorted(cur.assets), current=cur)
    sol = book.symbols == book.symbol_ids.index("SOL-SYN")
    iso = ~book.cross
    lev = book.notionals[sol & iso] / book.equity[sol & iso]
    assert lev.size > 50
    # SOL-SYN opens at <= 10x; P&L since entry can at most halve the entry margin: <= 20x
    assert float(lev.max()) <= 20 + 1e-9
    tables = {s: MarginSchedule.from_tiers(a.tiers, symbol=s) for s, a in cur.assets.items()}  # type: ignore[union-attr]
    assert book_impact(book, tables).liquidatable_now == 0

"""The margin / cost / netting kernel shared by the one-step impact and the liquidation waterfall
(riskparams.book.impact.mark_positions, net_accounts), by hand, and both users go through it."""

from __future__ import annotations

import numpy as np
import pytest

import riskparams.book.impact as impact_mod
import riskparams.book.waterfall as waterfall_mod
from riskparams.book import Book, PerpPosition
from riskparams.book.impact import MarginSchedule, mark_positions, net_accounts, scenario_impact
from riskparams.book.waterfall import run_waterfall

# tier 1: [0, 1M) MMF 2%, cost 0.1%; tier 2: [1M, open) MMF 4%, cost 0.2%; deduction of tier 2 = 1M x 2% = 20,000
SCHED = MarginSchedule(floors=np.array([0.0, 1e6]), mmfs=np.array([0.02, 0.04]), deductions=np.array([0.0, 2e4]),
                       costs=np.array([0.001, 0.002]))


def test_mark_positions_by_hand() -> None:
    # long 900k up 20%: N' = 1.08M (tier 2), MM = 1.08M x 4% - 20,000 = 23,200, C = 1.08M x 0.2% = 2,160, p = +180k
    # short 500k up 20%: N' = 600k (tier 1), MM = 12,000, C = 600, p = -100k
    # a closed position (notional 0): all 0
    m = mark_positions([SCHED], np.array([0, 0, 0]), np.array([9e5, 5e5, 0.0]), np.array([1.0, -1.0, 1.0]),
                       np.array([0.2]))
    assert m.after.tolist() == pytest.approx([1.08e6, 6e5, 0.0])
    assert m.mm.tolist() == pytest.approx([23_200.0, 12_000.0, 0.0])
    assert m.cost.tolist() == pytest.approx([2_160.0, 600.0, 0.0])
    assert m.pnl.tolist() == pytest.approx([180_000.0, -100_000.0, 0.0])
    assert m.tier.tolist() == [1, 0, 0]


def test_net_accounts_by_hand() -> None:
    # account 0 holds both (equity 50,000): value 50,000 + 180,000 - 100,000 = 130,000; MM 35,200; C 2,760
    # account 1 holds one closed position: not live, never liquidated
    value, mm, cost, has = net_accounts(np.array([0, 0, 1]), 2, np.array([180_000.0, -100_000.0, 0.0]),
                                        np.array([23_200.0, 12_000.0, 0.0]), np.array([2_160.0, 600.0, 0.0]),
                                        np.array([50_000.0, 10.0]), live=np.array([True, True, False]))
    assert value.tolist() == pytest.approx([130_000.0, 10.0])
    assert mm.tolist() == pytest.approx([35_200.0, 0.0]) and cost.tolist() == pytest.approx([2_760.0, 0.0])
    assert has.tolist() == [True, False]


def test_impact_and_waterfall_share_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    book = Book.from_positions([
        PerpPosition(account="a", symbol="BTC", side="long", notional=1e5, equity=5e3, margin_mode="isolated"),
        PerpPosition(account="x", symbol="BTC", side="long", notional=2e5, equity=1e4, margin_mode="cross"),
        PerpPosition(account="x", symbol="ETH", side="short", notional=1e5, equity=1e4, margin_mode="cross")])
    calls = {"mark": 0, "net": 0}

    def mark(*a: object, **kw: object) -> object:
        calls["mark"] += 1
        return mark_positions(*a, **kw)  # type: ignore[arg-type]

    def net(*a: object, **kw: object) -> object:
        calls["net"] += 1
        return net_accounts(*a, **kw)  # type: ignore[arg-type]

    for mod in (impact_mod, waterfall_mod):
        monkeypatch.setattr(mod, "mark_positions", mark)
        monkeypatch.setattr(mod, "net_accounts", net)
    tables = {"BTC": SCHED, "ETH": SCHED}
    one = scenario_impact(book, tables, -0.08)
    assert calls == {"mark": 1, "net": 1}
    w = run_waterfall(book, tables, np.array([[-0.08, -0.08]]))
    assert calls == {"mark": 2, "net": 2}
    # a: -8,000 against 5,000 of equity: bad debt 3,000 + 92,000 x 0.1% = 3,092; x: 10,000 - 16,000 + 8,000 = 2,000
    # against MM 184,000 x 2% + 92,000 x 2% = 5,520: liquidated, solvent (cost 276)
    assert (one.accounts, one.bad_debt) == (2, pytest.approx(3_092.0))
    assert (w.accounts, w.bad_debt, w.notional) == (one.accounts, one.bad_debt, one.notional)


def test_waterfall_top_share_equals_the_one_step_share() -> None:
    """The stress rows of the Book page get a top-5 share (it showed "None"): the waterfall's, which on a one-step
    path with the defaults is the one-step impact's."""
    from riskparams.book.stress import StressPath, stress_book
    from riskparams.ingest.demo_book import demo_book

    book = demo_book(2_000, symbols=("AAA", "BBB"), seed=5, cross_share=0.4)
    tables = {"AAA": SCHED, "BBB": SCHED}
    for move in (-0.3, -0.08, 0.25):
        one = scenario_impact(book, tables, move, top_n=5)
        w = run_waterfall(book, tables, np.full((1, 2), move))
        assert one.top_share is not None and w.top_share(5) == pytest.approx(one.top_share, rel=1e-12)
        assert w.account_notional.sum() == pytest.approx(one.notional, rel=1e-12)
    assert run_waterfall(book, tables, np.zeros((1, 2))).top_share(5) is None  # nothing liquidated: no share
    # by hand: accounts closing 6, 3 and 1: the top 2 hold 9 / 10
    w = run_waterfall(book, tables, np.zeros((1, 2)))
    object.__setattr__(w, "account_notional", np.array([6.0, 1.0, 3.0]))
    assert w.top_share(2) == pytest.approx(0.9)
    paths = [StressPath(name="crash", kind="hypothetical", start=None, end=None, moves=np.array([[-0.3, -0.3]])),
             StressPath(name="gone", kind="window", start=None, end=None, moves=None, missing=("AAA",))]
    d = stress_book(book, tables, paths).window_dicts()
    assert d[0]["top_share"] == pytest.approx(scenario_impact(book, tables, -0.3).top_share, rel=1e-12)
    assert d[1]["top_share"] is None

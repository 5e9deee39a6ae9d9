"""The liquidation waterfall (riskparams.book.waterfall): hand-computed books, the regression against today's
book impact, and the properties that hold (see the module docstring for which do not)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_impact import TIERS, _random_book, _random_schedule, pos, three_isolated

from riskparams.book import Book
from riskparams.book.impact import MarginSchedule, book_impact
from riskparams.book.waterfall import FundTargetRule, WaterfallSpec, fund_target, run_waterfall
from riskparams.exceptions import SpecError
from riskparams.ingest.demo_book import demo_book


def two_accounts() -> Book:
    # after -10%: A loses 10,000 on equity 5,000 -> bad debt 5,000; B loses 20,000 on 10,000 -> bad debt 10,000
    return Book.from_positions([pos("A", "long", 100_000, 5_000), pos("B", "long", 200_000, 10_000)])


def test_fund_pays_first_then_adl_by_hand() -> None:
    r = run_waterfall(two_accounts(), {"BTC": TIERS}, [{"BTC": -0.10}], WaterfallSpec(insurance_fund=8_000, adl=True))
    # bad debt 15,000: the fund pays its 8,000, ADL the other 7,000; the fund ends at 0, never below
    assert (r.bad_debt, r.fund_paid, r.socialised_loss, r.unfunded) == (15_000, 8_000, 7_000, 0)
    assert (r.insurance_fund_start, r.insurance_fund_end, r.insurance_fund_min) == (8_000, 0, 0)
    assert r.account_bad_debt.tolist() == [5_000, 10_000] and (r.accounts, r.notional) == (2, 90_000 + 180_000)
    # ADL off: the fund pays 8,000 and goes to -7,000, said plainly
    off = run_waterfall(two_accounts(), {"BTC": TIERS}, [{"BTC": -0.10}], WaterfallSpec(insurance_fund=8_000))
    assert (off.fund_paid, off.socialised_loss, off.unfunded, off.insurance_fund_min) == (8_000, 0, 7_000, -7_000)
    assert off.fund_went_negative and off.to_dict()["fund_went_negative"] is True
    json.dumps(r.to_dict())


def test_penalty_share_feeds_the_fund_by_hand() -> None:
    book = Book.from_positions([pos("A", "long", 100_000, 5_000), pos("B", "long", 200_000, 10_000),
                                pos("C", "long", 100_000, 11_500)])
    # C after -10%: equity 11,500 - 10,000 = 1,500 < MM 90,000 x 2% = 1,800: liquidated, solvent; its penalty is
    # min(90,000 x 2% (no penalty in the table: the MMF), 1,500) = 1,500, half to the fund: 750
    spec = WaterfallSpec(insurance_fund=8_000, adl=True, penalty_to_fund=0.5)
    r = run_waterfall(book, {"BTC": TIERS}, [{"BTC": -0.10}], spec)
    assert (r.penalties, r.penalties_to_fund) == (1_500, 750)
    assert (r.bad_debt, r.fund_paid, r.socialised_loss, r.insurance_fund_end) == (15_000, 8_750, 6_250, 0)
    assert (r.accounts, r.notional) == (3, 90_000 + 180_000 + 90_000)


def test_the_fund_is_carried_along_the_path_by_hand() -> None:
    book = Book.from_positions([pos("A", "long", 100_000, 5_000)])
    # day 1 -3%: equity 2,000 >= MM 97,000 x 2% = 1,940; day 2 -10%: P&L -9,700, equity -7,700: bad debt 7,700
    r = run_waterfall(book, {"BTC": TIERS}, np.array([[-0.03], [-0.10]]), WaterfallSpec(insurance_fund=5_000, adl=True))
    assert r.steps == 2 and r.notional == pytest.approx(87_300)
    assert (r.bad_debt, r.fund_paid, r.socialised_loss, r.insurance_fund_min) == pytest.approx((7_700, 5_000, 2_700, 0))


def test_backstop_takes_over_without_close_out_cost_by_hand() -> None:
    s = MarginSchedule.from_tiers(TIERS)
    s = MarginSchedule(floors=s.floors, mmfs=s.mmfs, deductions=s.deductions, costs=np.array([0.01, 0.01]))
    book = Book.from_positions([pos("A", "long", 100_000, 5_000)])
    path = np.array([[-0.10], [0.10]])
    # market: equity -5,000, close-out cost 90,000 x 1% = 900: bad debt 5,900
    assert run_waterfall(book, {"BTC": s}, path).bad_debt == pytest.approx(5_900)
    # backstop: no close-out cost, bad debt 5,000; it holds 90,000 long and gains 10% of it the next day
    r = run_waterfall(book, {"BTC": s}, path, WaterfallSpec(backstop=True))
    assert (r.bad_debt, r.backstop_notional, r.backstop_pnl) == pytest.approx((5_000, 90_000, 9_000))


def test_partial_liquidation_by_hand() -> None:
    book = Book.from_positions([pos("A", "long", 100_000, 2_000)])
    # -1%: equity 1,000 < MM 99,000 x 2% = 1,980; solvent. Close factor 0.5: 49,500 closed, penalty
    # min(49,500 x 2%, 1,000) = 990, equity 10 on the 49,500 left (MM 990): closed again at the same prices,
    # 24,750 closed, penalty min(495, 10) = 10, equity 0 ... until MAX_ROUNDS (10) rounds: 99,000 x (1 - 2^-10)
    r = run_waterfall(book, {"BTC": TIERS}, [{"BTC": -0.01}], WaterfallSpec(close_factor=0.5))
    assert r.bad_debt == 0 and r.penalties == pytest.approx(1_000)
    assert r.notional == pytest.approx(99_000 * (1 - 2**-10))
    # slices only above 200,000 notional: this position is closed in full
    r = run_waterfall(book, {"BTC": TIERS}, [{"BTC": -0.01}], WaterfallSpec(close_factor=0.5, slice_above=2e5))
    assert r.notional == pytest.approx(99_000)


def test_default_waterfall_equals_todays_book_impact() -> None:
    from test_impact import EXAMPLES

    from riskparams.params_io import load_current

    cur = load_current(EXAMPLES / "current_perp.csv", "perp")
    tables = {s: a.tiers for s, a in cur.assets.items()}  # type: ignore[union-attr]
    cases = [(demo_book(3_000, seed=3), tables), (three_isolated(), {"BTC": TIERS})]
    for book, tabs in cases:
        report = book_impact(book, tabs, covered_moves=0.1)  # type: ignore[arg-type]
        for s in report.scenarios:
            path = np.array([[s.moves[x] for x in book.symbol_ids]])
            w = run_waterfall(book, tabs, path)  # type: ignore[arg-type]
            assert (w.accounts, w.notional, w.bad_debt) == (s.accounts, s.notional, s.bad_debt), s.name
            assert w.unfunded == w.bad_debt and w.insurance_fund_min == -w.bad_debt
    assert WaterfallSpec().is_default and not WaterfallSpec(adl=True).is_default


def _random_case(rng: np.random.Generator) -> tuple[Book, dict[str, MarginSchedule], np.ndarray]:
    symbols = ["BTC", "ETH", "SOL"]
    book = _random_book(rng, int(rng.integers(2, 60)), symbols, float(rng.uniform(0, 0.6)))
    tables = {}
    for s in symbols:  # close-out cost rates not falling with size, as in every proposed table
        sch = _random_schedule(rng)
        tables[s] = MarginSchedule(floors=sch.floors, mmfs=sch.mmfs, deductions=sch.deductions,
                                   costs=np.sort(sch.costs))
    steps = int(rng.integers(1, 6))
    path = np.clip(rng.standard_t(3, (steps, len(book.symbol_ids))) * 0.08, -0.9, 2.0)
    return book, tables, path


def test_properties_on_random_books() -> None:
    rng = np.random.default_rng(2026)
    for _ in range(150):
        book, tables, path = _random_case(rng)
        fund = float(rng.uniform(0, 2e5))
        base = run_waterfall(book, tables, path, WaterfallSpec(insurance_fund=fund, adl=True))
        # ADL on: the fund never goes below 0 and the bad debt is paid by the fund or socialised
        assert base.insurance_fund_min >= 0
        assert base.fund_paid + base.socialised_loss == pytest.approx(base.bad_debt)
        # a larger starting fund never raises the socialised loss, and does not change the bad debt
        more = run_waterfall(book, tables, path, WaterfallSpec(insurance_fund=fund * 2 + 1e4, adl=True))
        assert more.socialised_loss <= base.socialised_loss + 1e-6 and more.bad_debt == base.bad_debt
        # a penalty share for the fund never raises the socialised loss
        fed = run_waterfall(book, tables, path, WaterfallSpec(insurance_fund=fund, adl=True, penalty_to_fund=0.7))
        assert fed.socialised_loss <= base.socialised_loss + 1e-6
        # partial liquidation: units do not interact, so the remainder of a partial close can only add bad debt
        # (a solvent unit closed in full leaves none); on one step the bad debt is the same and the notional
        # closed no larger
        cf = float(rng.uniform(0.1, 0.9))
        part = run_waterfall(book, tables, path, WaterfallSpec(close_factor=cf))
        full = run_waterfall(book, tables, path)
        assert part.bad_debt >= full.bad_debt - 1e-6
        one_p = run_waterfall(book, tables, path[:1], WaterfallSpec(close_factor=cf))
        one_f = run_waterfall(book, tables, path[:1])
        assert one_p.bad_debt == pytest.approx(one_f.bad_debt) and one_p.notional <= one_f.notional + 1e-6
        # the backstop saves the close-out cost of bankrupt units on one step
        bs = run_waterfall(book, tables, path[:1], WaterfallSpec(backstop=True))
        assert bs.bad_debt <= one_f.bad_debt + 1e-6


def test_partial_close_can_raise_bad_debt_over_a_path() -> None:
    # why "close factor < 1 never raises bad debt" is not a property: the remainder keeps losing
    book = Book.from_positions([pos("A", "long", 100_000, 2_000)])
    path = np.array([[-0.01], [-0.5]])
    assert run_waterfall(book, {"BTC": TIERS}, path).bad_debt == 0  # closed in full on day 1, solvent
    r = run_waterfall(book, {"BTC": TIERS}, path, WaterfallSpec(close_factor=0.5))
    # 99,000 / 2^10 left open with 0 equity loses 50% the next day
    assert r.bad_debt == pytest.approx(99_000 / 2**10 * 0.5)


def test_hedged_cross_account_on_stress_paths() -> None:
    rng = np.random.default_rng(1415)
    symbols = ["BTC", "ETH", "SOL", "DOGE"]
    for _ in range(200):
        m = int(rng.integers(2, 5))
        syms = list(rng.choice(symbols, m, replace=False))
        sides = ["long", "short"] + list(rng.choice(["long", "short"], m - 2))
        notional = np.exp(rng.normal(np.log(2e5), 1.0, m))
        equity = float(notional.sum() / rng.uniform(1.5, 25))
        split = rng.dirichlet(np.ones(m)) * equity
        tables = {s: _random_schedule(rng) for s in symbols}
        cross = Book.from_columns(["X"] * m, syms, sides, notional, [equity] * m, ["cross"] * m)
        iso = Book.from_columns(["X"] * m, syms, sides, notional, split, ["isolated"] * m)
        # a common factor move, the way a stress window moves assets together
        common = rng.normal(0, 0.1, 5)
        path = np.clip(common[:, None] * rng.uniform(0.5, 1.5, (1, m)) + rng.normal(0, 0.02, (5, m)), -0.9, 1)
        c = run_waterfall(cross, tables, path[:1])
        i = run_waterfall(iso, tables, path[:1])
        assert c.bad_debt <= i.bad_debt + 1e-6


def test_fund_target_rules_by_hand() -> None:
    a = [np.array([5_000.0, 10_000.0, 1_000.0]), np.array([0.0, 2_000.0, 20_000.0])]
    assert fund_target(a) == 22_000  # scenario 2: 20,000 + 2,000 > scenario 1: 10,000 + 5,000
    assert fund_target(a, "percentile", percentile=50) == pytest.approx((16_000 + 22_000) / 2)
    assert fund_target([]) == 0.0
    assert fund_target([np.array([3.0])]) == 3.0
    assert WaterfallSpec(fund_target="percentile").fund_target is FundTargetRule.PERCENTILE


def test_bad_specs_and_paths() -> None:
    for kwargs, msg in [({"close_factor": 0}, "close_factor must be in"), ({"close_factor": 1.5}, "close_factor"),
                        ({"penalty_to_fund": -0.1}, "penalty_to_fund must be in"),
                        ({"insurance_fund": -1}, "insurance_fund must be"),
                        ({"insurance_fund": float("nan")}, "insurance_fund must be"),
                        ({"slice_above": 0}, "slice_above must be"), ({"fund_target": "cover-3"}, "fund_target"),
                        ({"fund_percentile": 0}, "fund_percentile")]:
        with pytest.raises(SpecError, match=msg):
            WaterfallSpec(**kwargs)  # type: ignore[arg-type]
    book = three_isolated()
    with pytest.raises(SpecError, match="above -100%"):
        run_waterfall(book, {"BTC": TIERS}, np.array([[-1.0]]))
    with pytest.raises(SpecError, match=r"shape \(steps >= 1, 1\)"):
        run_waterfall(book, {"BTC": TIERS}, np.zeros((2, 3)))
    with pytest.raises(SpecError, match="no price move for BTC"):
        run_waterfall(book, {"BTC": TIERS}, [{"ETH": 0.1}])
    with pytest.raises(SpecError, match="fund_target"):
        fund_target([], "x")


def test_with_fund_recomputes_the_fund_side_only() -> None:
    from riskparams.book.waterfall import with_fund

    gross = run_waterfall(two_accounts(), {"BTC": TIERS}, [{"BTC": -0.10}])
    r = with_fund(gross, WaterfallSpec(insurance_fund=8_000, adl=True))
    assert (r.bad_debt, r.fund_paid, r.socialised_loss, r.insurance_fund_min) == (15_000, 8_000, 7_000, 0)
    # a fund carried in at -1,000 (ADL off earlier): it pays nothing and ends at -16,000
    c = with_fund(gross, WaterfallSpec(), start=-1_000)
    assert (c.insurance_fund_start, c.fund_paid, c.unfunded, c.insurance_fund_end) == (-1_000, 0, 15_000, -16_000)

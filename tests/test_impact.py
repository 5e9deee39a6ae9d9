"""Impact on open positions (riskparams.book.impact, service.impact, ``riskparams impact``): hand-computed books,
properties, the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import cli_fails, run_cli

from riskparams.book import Book, PerpPosition
from riskparams.book.impact import MarginSchedule, book_impact, maintenance_margins, scenario_impact
from riskparams.domain import CurrentPerpTier
from riskparams.exceptions import DataError, SpecError
from riskparams.ingest.demo_book import demo_book

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"

# tier 1: [0, 1M) 20x, MMF 2%; tier 2: [1M, open) 10x, MMF 4%; deduction of tier 2 = 1M x (4% - 2%) = 20,000
TIERS = [CurrentPerpTier(notional_floor=0, notional_cap=1e6, max_leverage=20, maintenance_rate=0.02),
         CurrentPerpTier(notional_floor=1e6, notional_cap=None, max_leverage=10, maintenance_rate=0.04)]


def pos(account: str, side: str, notional: float, equity: float, mode: str = "isolated",
        symbol: str = "BTC") -> PerpPosition:
    return PerpPosition(account=account, symbol=symbol, side=side, notional=notional, equity=equity, margin_mode=mode)


def three_isolated() -> Book:
    return Book.from_positions([
        pos("A", "long", 100_000, 1_500),      # MM now 100k x 2% = 2,000 > 1,500: liquidatable now
        pos("B", "short", 200_000, 20_000),    # MM now 4,000
        pos("C", "long", 2_000_000, 100_000),  # MM now 2M x 4% - 20k = 60,000
    ])


def test_maintenance_margin_matches_the_tier_semantics() -> None:
    from riskparams.proposals import maintenance_margin

    s = MarginSchedule.from_tiers(TIERS)
    assert s.deductions.tolist() == [0.0, 20_000.0]
    n = np.array([0.0, 5e5, 999_999.0, 1e6, 3e6])
    assert maintenance_margins(n, s).tolist() == pytest.approx([0, 10_000, 19_999.98, 20_000, 100_000])

    class T:  # a proposed tier's fields, as proposals.maintenance_margin reads them
        def __init__(self, floor: float, mmf: float, d: float) -> None:
            self.notional_floor, self.mmf, self.maintenance_deduction = floor, mmf, d

    tiers: Any = [T(0, 0.02, 0), T(1e6, 0.04, 20_000)]
    assert maintenance_margins(n, s).tolist() == pytest.approx([maintenance_margin(float(x), tiers) for x in n])


def test_isolated_book_by_hand() -> None:
    r = book_impact(three_isolated(), {"BTC": TIERS}, covered_moves=0.10, top_n=1)
    # now: only A (1,500 < 2,000)
    assert (r.liquidatable_now, r.liquidatable_now_notional) == (1, 100_000)
    down = r.scenario("covered move down")
    assert down is not None
    # -10%: A: P&L -10,000, equity left 1,500 - 10,000 = -8,500 < MM 90k x 2% = 1,800: bad debt 8,500
    #       B (short): +20,000, fine; C: P&L -200,000, left -100,000 < MM 1.8M x 4% - 20k = 52,000: bad debt 100,000
    assert down.accounts == 2
    assert down.notional == pytest.approx(90_000 + 1_800_000)
    assert down.bad_debt == pytest.approx(8_500 + 100_000)
    assert down.top_share == pytest.approx(1_800_000 / 1_890_000)
    up = r.scenario("covered move up")
    assert up is not None
    # +10%: B (short): P&L -20,000, left 0 < MM 220k x 2% = 4,400: liquidated, bad debt max(0, 0 - 0) = 0
    assert (up.accounts, up.notional, up.bad_debt) == (1, pytest.approx(220_000), 0.0)
    assert r.bad_debt_at_move == pytest.approx(108_500) and r.at_move is down
    d = r.to_dict()
    assert {"liquidatable_now", "liquidatable_now_notional", "bad_debt_at_move", "top_concentration"} <= set(d)
    assert d["top_concentration"] == {"n": 1, "now": 1.0, "at_move": pytest.approx(1_800_000 / 1_890_000)}
    assert [s["name"] for s in d["scenarios"]] == ["now", "covered move down", "covered move up", "shock -30%",
                                                   "shock -50%", "shock +30%", "shock +50%"]
    json.dumps(d)


def test_close_out_cost_adds_to_bad_debt() -> None:
    s = MarginSchedule.from_tiers(TIERS)
    s = MarginSchedule(floors=s.floors, mmfs=s.mmfs, deductions=s.deductions, costs=np.array([0.005, 0.01]))
    down = scenario_impact(three_isolated(), {"BTC": s}, -0.10)
    # A: 8,500 + cost 90k x 0.5% = 450; C: 100,000 + cost 1.8M x 1% = 18,000
    assert down.bad_debt == pytest.approx(8_950 + 118_000)


def test_cross_account_nets_its_positions() -> None:
    hedged = [pos("X", "long", 500_000, 30_000, "cross", "BTC"), pos("X", "short", 500_000, 30_000, "cross", "ETH")]
    tables = {"BTC": TIERS, "ETH": TIERS}
    cross = Book.from_positions(hedged)
    # -30% on both: P&L -150,000 + 150,000 = 0; equity 30,000 >= MM 2 x 350k x 2% = 14,000: nothing liquidated
    s = scenario_impact(cross, tables, -0.30)
    assert (s.accounts, s.notional, s.bad_debt) == (0, 0.0, 0.0)
    # the same positions isolated with the equity split 15,000 / 15,000: the long loses 150,000 alone
    iso = Book.from_positions([pos("X", "long", 500_000, 15_000, "isolated", "BTC"),
                               pos("X", "short", 500_000, 15_000, "isolated", "ETH")])
    s_iso = scenario_impact(iso, tables, -0.30)
    assert (s_iso.accounts, s_iso.notional, s_iso.bad_debt) == (1, 350_000, 135_000)  # 150,000 - 15,000
    # BTC -10%, ETH unchanged: P&L -50,000, equity left -20,000 < MM 450k x 2% + 500k x 2% = 19,000:
    # the whole account goes (notional 450,000 + 500,000), bad debt 20,000
    s = scenario_impact(cross, tables, {"BTC": -0.10, "ETH": 0.0})
    assert (s.accounts, s.notional, s.bad_debt) == (1, 950_000, 20_000)


def test_cross_rows_mixed_with_isolated_rows_of_the_same_account() -> None:
    b = Book.from_positions([pos("X", "long", 100_000, 10_000, "cross"), pos("X", "long", 100_000, 1_000)])
    s = scenario_impact(b, {"BTC": TIERS}, -0.05)
    # cross: 10,000 - 5,000 = 5,000 >= 95k x 2% = 1,900; isolated: 1,000 - 5,000 = -4,000 < 1,900: bad debt 4,000
    assert (s.accounts, s.notional, s.bad_debt) == (1, 95_000, 4_000)


def _random_schedule(rng: np.random.Generator) -> MarginSchedule:
    k = int(rng.integers(1, 5))
    floors = np.concatenate([[0.0], np.cumsum(rng.uniform(1e5, 5e6, k - 1))])
    mmfs = np.cumsum(rng.uniform(0.005, 0.04, k))
    d = np.concatenate([[0.0], np.cumsum(floors[1:] * np.diff(mmfs))])
    costs = rng.uniform(0, 1, k) * mmfs[0]  # close-out cost never above the maintenance margin
    return MarginSchedule(floors=floors, mmfs=mmfs, deductions=d, costs=costs)


def _random_book(rng: np.random.Generator, n: int, symbols: list[str], cross_share: float) -> Book:
    accounts = [f"a{int(i)}" for i in rng.integers(0, max(1, n // 3), n)]
    lev = np.exp(rng.normal(np.log(8), 0.8, n))
    notional = np.exp(rng.normal(np.log(5e4), 1.5, n))
    equity = notional / lev
    cross_accounts = {a for a in accounts if rng.random() < cross_share}
    eq_acc: dict[str, float] = {}
    for i, a in enumerate(accounts):
        if a in cross_accounts:
            equity[i] = eq_acc.setdefault(a, float(equity[i]))
    return Book.from_columns(accounts, list(rng.choice(symbols, n)), list(rng.choice(["long", "short"], n)),
                             notional, equity, ["cross" if a in cross_accounts else "isolated" for a in accounts])


def test_raising_every_mmf_never_lowers_liquidatable_now_notional() -> None:
    rng = np.random.default_rng(14)
    symbols = ["BTC", "ETH", "SOL"]
    for _ in range(200):
        book = _random_book(rng, int(rng.integers(1, 60)), symbols, float(rng.uniform(0, 0.6)))
        base = {s: _random_schedule(rng) for s in symbols}
        raised = {}
        for s, sch in base.items():  # every MMF up by its own amount, still not falling with size
            mmfs = np.maximum.accumulate(sch.mmfs + rng.uniform(0, 0.03, len(sch.mmfs)))
            d = np.concatenate([[0.0], np.cumsum(sch.floors[1:] * np.diff(mmfs))])
            raised[s] = MarginSchedule(floors=sch.floors, mmfs=mmfs, deductions=d, costs=sch.costs)
        a = book_impact(book, base, shocks=())
        b = book_impact(book, raised, shocks=())
        assert b.liquidatable_now_notional >= a.liquidatable_now_notional - 1e-9
        assert b.liquidatable_now >= a.liquidatable_now


def test_a_hedged_cross_account_never_has_more_bad_debt_than_isolated() -> None:
    rng = np.random.default_rng(1414)
    symbols = ["BTC", "ETH", "SOL", "DOGE"]
    for _ in range(300):
        m = int(rng.integers(2, 5))
        syms = list(rng.choice(symbols, m, replace=False))
        sides = ["long", "short"] + list(rng.choice(["long", "short"], m - 2))
        notional = np.exp(rng.normal(np.log(2e5), 1.0, m))
        equity = float(notional.sum() / rng.uniform(1.5, 25))
        split = rng.dirichlet(np.ones(m)) * equity
        tables = {s: _random_schedule(rng) for s in symbols}
        moves = {s: float(rng.uniform(-0.6, 0.6)) for s in syms}
        cross = Book.from_columns(["X"] * m, syms, sides, notional, [equity] * m, ["cross"] * m)
        iso = Book.from_columns(["X"] * m, syms, sides, notional, split, ["isolated"] * m)
        c = scenario_impact(cross, tables, moves)
        i = scenario_impact(iso, tables, moves)
        assert c.bad_debt <= i.bad_debt + 1e-6


def test_scaling_a_schedule_scales_its_margin() -> None:
    s = MarginSchedule.from_tiers(TIERS)
    n = np.array([5e5, 3e6])
    assert maintenance_margins(n, s.scaled(2.0)).tolist() == pytest.approx((2 * maintenance_margins(n, s)).tolist())


def test_bad_arguments() -> None:
    book = three_isolated()
    with pytest.raises(DataError, match=r"row 1, column 'symbol': value 'BTC' has no tier table"):
        book_impact(book, {"ETH": TIERS})
    with pytest.raises(SpecError, match="above -100%"):
        scenario_impact(book, {"BTC": TIERS}, -1.0)
    with pytest.raises(SpecError, match="no price move for BTC"):
        scenario_impact(book, {"BTC": TIERS}, {"ETH": 0.1})
    with pytest.raises(SpecError, match="covered moves must be in"):
        book_impact(book, {"BTC": TIERS}, covered_moves=1.5)
    with pytest.raises(SpecError, match="top_n"):
        book_impact(book, {"BTC": TIERS}, top_n=0)


def test_demo_book_against_the_example_parameters() -> None:
    from riskparams.params_io import load_current

    cur = load_current(EXAMPLES / "current_perp.csv", "perp")
    book = demo_book(5_000, seed=3)
    r = book_impact(book, {s: a.tiers for s, a in cur.assets.items()}, covered_moves=0.1)  # type: ignore[union-attr]
    worst = r.scenario("shock -50%")
    assert worst is not None and worst.bad_debt > (r.bad_debt_at_move or 0) > 0
    assert r.liquidatable_now_notional < 0.1 * r.open_notional


# -- the command ------------------------------------------------------------------------------------

def _book_file(tmp_path: Path, symbols: tuple[str, ...] = ("BTC-SYN", "ETH-SYN", "SOL-SYN")) -> Path:
    return demo_book(500, symbols=symbols, seed=5).write_csv(tmp_path / "book.csv")


def test_cli_with_a_parameters_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _book_file(tmp_path)
    code, out, err = run_cli(capsys, "impact", "--params", str(EXAMPLES / "current_perp.csv"), "--positions",
                             str(book), "--move", "0.1")
    assert code == 0, err
    assert out.startswith("Impact of current_perp.csv on book.csv: ")
    assert "covered move down" in out and "shock -50%" in out and "Bad debt at the covered move" in out
    assert "liquidations-at-risk: not simulated (give --sims N)" in out
    code, out, _ = run_cli(capsys, "impact", "--params", str(EXAMPLES / "current_perp.csv"), "--positions",
                           str(book), "--json")
    d = json.loads(out)["impact"]["current"]
    assert d["bad_debt_at_move"] is None and any("--move" in n for n in d["notes"])
    assert d["n_positions"] == len(demo_book(500, symbols=("BTC-SYN", "ETH-SYN", "SOL-SYN"), seed=5))


def test_cli_with_a_stored_proposal(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    proposals: dict[str, Any]) -> None:
    from riskparams.service import open_store
    from riskparams.store.records import save_proposal

    db = tmp_path / "s.duckdb"
    with open_store(db) as store:
        stored = save_proposal(store, proposals["perp"])
    book = _book_file(tmp_path, ("BTC-SYN", "ETH-SYN"))
    code, out, err = run_cli(capsys, "--db", str(db), "impact", "--params", stored.id[:10], "--positions", str(book),
                             "--json")
    assert code == 0, err
    d = json.loads(out)["impact"]["proposal"]
    moves = {a.symbol: a.covered.final for a in proposals["perp"].assets}
    assert d["covered_moves"] == pytest.approx(moves)
    assert d["label"] == f"proposal {stored.id[:12]}" and d["bad_debt_at_move"] is not None
    code, out, _ = run_cli(capsys, "--db", str(db), "impact", "--params", stored.id, "--positions", str(book))
    assert code == 0 and out.startswith(f"Impact of proposal {stored.id[:12]} on book.csv")
    # a symbol the proposal does not hold
    line = cli_fails(capsys, "--db", str(db), "impact", "--params", stored.id, "--positions", str(_book_file(tmp_path)))
    assert "has no tier table in the parameters" in line


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = str(EXAMPLES / "current_perp.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("account,symbol,side,notional,equity,margin_mode\n=HYPERLINK(1),BTC-SYN,long,1,1,isolated\n")
    line = cli_fails(capsys, "impact", "--params", params, "--positions", str(bad))
    assert line == ("riskparams: error: bad.csv: row 2, column 'account': value '=HYPERLINK(1)' is not an account id "
                    "(1-64 letters, digits and . _ : - starting with a letter or digit).")
    book = str(_book_file(tmp_path))
    assert "not found" in cli_fails(capsys, "impact", "--params", params, "--positions", str(tmp_path / "no.csv"))
    assert "must be a price move in (0, 1)" in cli_fails(capsys, "impact", "--params", params, "--positions", book,
                                                          "--move", "5")
    assert "--move" in cli_fails(capsys, "impact", "--params", params, "--positions", book, "--move", "-1")
    assert "no such file, and not a stored proposal id" in cli_fails(capsys, "impact", "--params", "nope",
                                                                      "--positions", book)
    assert "no stored proposal has id" in cli_fails(capsys, "--db", str(tmp_path / "e.duckdb"), "impact", "--params",
                                                    "abcdef12", "--positions", book)
    assert "not found" in cli_fails(capsys, "impact", "--params", str(tmp_path / "p.csv"), "--positions", book)


def test_benchmark_script_runs(run_benchmark: Any) -> None:
    out = run_benchmark("impact", "--positions", "2000", "--assets", "3", "--repeat", "2", "--sims", "20")
    assert out["positions"] == 2000 and out["assets"] == 3 and out["impact_median_s"] > 0
    assert out["sims"] == 20 and out["simulation_s"] > 0 and out["simulation_within_target"] is True
    assert out["waterfall_steps"] == 5 and out["waterfall_s"] > 0


# -- lending ----------------------------------------------------------------------------------------

def _lending_book(tmp_path: Path) -> Any:
    from riskparams.book import load_positions

    p = tmp_path / "loans.csv"
    p.write_text("account,collateral_asset,collateral_amount,debt_asset,debt_amount\n"
                 "u1,WETH,10,USDC,15000\nu2,WBTC,1,USDC,30000\nu2,WETH,5,USDC,0\n", encoding="utf-8")
    return load_positions(p, "lending")


def test_lending_book_by_hand(tmp_path: Path) -> None:
    from riskparams.book.impact import lending_scenario
    from riskparams.domain import CurrentLending

    book = _lending_book(tmp_path)
    params = {"WETH": CurrentLending(symbol="WETH", ltv=0.8, liquidation_threshold=0.825, liquidation_bonus=0.05),
              "WBTC": CurrentLending(symbol="WBTC", ltv=0.73, liquidation_threshold=0.78, liquidation_bonus=0.075)}
    prices = {"WETH": 2_000.0, "WBTC": 40_000.0, "USDC": 1.0}
    # now: u1 room 20,000 x 0.825 = 16,500 >= 15,000; u2 (pooled) 40,000 x 0.78 + 10,000 x 0.825 = 39,450 >= 30,000
    now = lending_scenario(book, params, prices, name="now")
    assert (now.accounts, now.debt, now.bad_debt) == (0, 0.0, 0.0)
    # WETH -20%, WBTC -30%: u1 room 16,000 x 0.825 = 13,200 < 15,000: liquidated, 15,000 - 16,000 / 1.05 < 0: no
    # bad debt; u2 room 28,000 x 0.78 + 8,000 x 0.825 = 28,440 < 30,000: liquidated, bonus (2,100 + 400) / 36,000,
    # 36,000 / 1.0694 = 33,662 > 30,000: no bad debt
    s = lending_scenario(book, params, prices, {"WETH": -0.2, "WBTC": -0.3})
    assert (s.accounts, s.debt, s.bad_debt) == (2, 45_000.0, 0.0)
    # WETH -40%: u1 room 12,000 x 0.825 = 9,900 < 15,000; bad debt 15,000 - 12,000 / 1.05 = 3,571.43;
    # u2 room 6,000 x 0.825 + 31,200 = 36,150 >= 30,000
    s = lending_scenario(book, params, prices, {"WETH": -0.4})
    assert (s.accounts, s.debt) == (1, 15_000.0) and s.bad_debt == pytest.approx(15_000 - 12_000 / 1.05)
    assert s.to_dict()["bad_debt"] == pytest.approx(3_571.428571)
    with pytest.raises(DataError, match=r"row 3, column 'collateral_asset': value 'WBTC' has no lending parameters"):
        lending_scenario(book, {"WETH": params["WETH"]}, prices)
    with pytest.raises(DataError, match="asset 'USDC' has no positive price"):
        lending_scenario(book, params, {"WETH": 2_000.0, "WBTC": 40_000.0})


# -- simulation -------------------------------------------------------------------------------------

def test_simulation_of_one_repeated_day_is_that_scenario() -> None:
    from riskparams.book.impact import simulate_impact

    book = three_isolated()
    # every drawn day is -10%: each simulation is the covered-move-down scenario of test_isolated_book_by_hand
    sim = simulate_impact(book, {"BTC": TIERS}, np.full((5, 1), -0.10), n_sims=50, seed=3)
    assert sim.var_insolvent_debt == pytest.approx({"p95": 108_500, "p99": 108_500})
    assert sim.lar == pytest.approx({"p95": 1_890_000, "p99": 1_890_000})
    # two days compound: 0.9 x 0.9 - 1 = -19%; A: 1,500 - 19,000 = -17,500; C: 100,000 - 380,000 = -280,000
    # against a fund of 100,000: 8,500 beyond it in every simulation
    funded = simulate_impact(book, {"BTC": TIERS}, np.full((5, 1), -0.10), n_sims=50, seed=3, insurance_fund=1e5)
    assert funded.beyond_fund == pytest.approx({"p95": 8_500, "p99": 8_500}) and funded.p_beyond_fund == 1.0
    assert funded.to_dict()["insurance_fund"] == 1e5 and "beyond_fund" not in sim.to_dict()
    with pytest.raises(SpecError, match="insurance_fund must be"):
        simulate_impact(book, {"BTC": TIERS}, np.full((5, 1), -0.10), insurance_fund=-1.0)
    two = simulate_impact(book, {"BTC": TIERS}, np.full((5, 1), -0.10), n_sims=10, horizon_days=2)
    assert two.var_insolvent_debt["p99"] == pytest.approx(17_500 + 280_000)
    assert two.lar["p99"] == pytest.approx(81_000 + 1_620_000)


def test_simulation_percentiles_and_arguments() -> None:
    from riskparams.book.impact import simulate_impact

    rng = np.random.default_rng(0)
    book = demo_book(1_000, symbols=("BTC", "ETH"), seed=2)
    returns = rng.standard_t(4, (400, 2)) * 0.04
    returns[:, 1] = 0.7 * returns[:, 0] + 0.3 * returns[:, 1]
    tables = {"BTC": TIERS, "ETH": TIERS}
    a = simulate_impact(book, tables, returns, n_sims=300, seed=9)
    assert a == simulate_impact(book, tables, returns, n_sims=300, seed=9)  # seeded
    assert 0 <= a.var_insolvent_debt["p95"] <= a.var_insolvent_debt["p99"]
    assert 0 < a.lar["p95"] <= a.lar["p99"]
    with pytest.raises(SpecError, match=r"returns must have shape \(days, 2\)"):
        simulate_impact(book, tables, returns[:, :1])
    with pytest.raises(SpecError, match="at least 2 days of finite returns"):
        simulate_impact(book, tables, np.array([[0.1, np.nan], [0.0, 0.0]]))
    with pytest.raises(SpecError, match="n_sims and horizon_days must be >= 1"):
        simulate_impact(book, tables, returns, n_sims=0)


def test_cli_simulation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import bars

    from riskparams.ingest import ingest_frame
    from riskparams.service import open_store

    db = tmp_path / "p.duckdb"
    with open_store(db) as store:
        ingest_frame(store, bars(400, seed=1), symbol="BTC-SYN", source="unit", kind="perp", origin="test")
        ingest_frame(store, bars(400, seed=2), symbol="ETH-SYN", source="unit", kind="perp", origin="test")
    params = str(EXAMPLES / "current_perp.csv")
    book = str(_book_file(tmp_path, ("BTC-SYN", "ETH-SYN")))
    code, out, err = run_cli(capsys, "--db", str(db), "impact", "--params", params, "--positions", book, "--sims",
                             "200", "--json")
    assert code == 0, err
    d = json.loads(out)["impact"]["current"]
    assert set(d["var_insolvent_debt"]) == {"p95", "p99"} and set(d["lar"]) == {"p95", "p99"}
    assert d["simulation"]["days"] == 399 and d["simulation"]["n_sims"] == 200
    code, out, _ = run_cli(capsys, "--db", str(db), "impact", "--params", params, "--positions", book, "--sims", "50")
    assert code == 0 and "VaR of insolvent debt 95%" in out
    line = cli_fails(capsys, "--db", str(db), "impact", "--params", params, "--positions", str(_book_file(tmp_path)),
                     "--sims", "50")
    assert "SOL-SYN" in line


def test_vectorised_simulation_equals_a_plain_loop() -> None:
    from riskparams.book.impact import _schedules, evaluate_many, simulate_impact

    rng = np.random.default_rng(1404)
    symbols = ["BTC", "ETH", "SOL"]
    for _ in range(20):
        book = _random_book(rng, int(rng.integers(5, 80)), symbols, float(rng.uniform(0, 0.7)))
        tables = {s: _random_schedule(rng) for s in book.symbol_ids}
        if rng.random() < 0.4:  # a close-out cost above the first MMF: evaluated cell by cell, not by thresholds
            t = tables[book.symbol_ids[0]]
            tables[book.symbol_ids[0]] = MarginSchedule(floors=t.floors, mmfs=t.mmfs, deductions=t.deductions,
                                                        costs=t.mmfs * 1.5)
        moves = np.clip(rng.standard_t(3, (40, len(book.symbol_ids))) * 0.1, -0.9, 1.5)
        sched = _schedules(book, tables)
        loop = [scenario_impact(book, tables, dict(zip(book.symbol_ids, m.tolist(), strict=True))) for m in moves]
        for cells in (1, 7 * len(book), 10**6):  # one scenario per chunk, several, all at once
            liq, bad = evaluate_many(book, sched, moves, chunk_cells=cells)
            assert liq.tolist() == pytest.approx([s.notional for s in loop], rel=1e-12, abs=1e-6)
            assert bad.tolist() == pytest.approx([s.bad_debt for s in loop], rel=1e-12, abs=1e-6)
    # the percentiles of the simulation are those of the plain loop over the same draws
    book = demo_book(600, symbols=("BTC", "ETH"), seed=4)
    returns = rng.standard_t(4, (300, 2)) * 0.05
    sim = simulate_impact(book, {"BTC": TIERS, "ETH": TIERS}, returns, n_sims=200, horizon_days=2, seed=8)
    draws = np.random.default_rng(8).integers(0, 300, size=(200, 2))
    moves = np.prod(1.0 + returns[draws], axis=1) - 1.0
    plain = [scenario_impact(book, {"BTC": TIERS, "ETH": TIERS}, {"BTC": a, "ETH": b}) for a, b in moves.tolist()]
    assert sim.var_insolvent_debt["p99"] == pytest.approx(float(np.percentile([s.bad_debt for s in plain], 99)))
    assert sim.lar["p95"] == pytest.approx(float(np.percentile([s.notional for s in plain], 95)))

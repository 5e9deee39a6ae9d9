"""Issue 14 in the product: the impact of every parameter set of a proposal on a book (`riskparams propose
--positions`), stored with the proposal, exported as "Impact on open positions", and the front door."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import cli_fails as fails
from conftest import run_cli as run

from riskparams import export, service
from riskparams.book import Book, PerpPosition
from riskparams.book.impact import MarginSchedule, book_impact
from riskparams.ingest import ingest_frame
from riskparams.ingest.demo_book import demo_book
from riskparams.params_io import load_current
from riskparams.store import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
FAST = """
[model]
model = "garch"
n_sims = 300

[liquidity.adv_override]
"BTC-SYN" = 2e9
"ETH-SYN" = 1e9
"""
PERP_BOOK = ("account,symbol,side,notional,equity,margin_mode\n"
             "a1,BTC-SYN,long,100000,1000,isolated\n"     # 1% equity: liquidatable now under any MMF above 1%
             "b2,BTC-SYN,long,50000,10000,isolated\n"     # 20% equity: safe now and at a covered move of a few %
             "c3,ETH-SYN,short,20000,5000,isolated\n"     # 25% equity
             "z9,DOGE,long,1000,100,isolated\n")          # not in the proposal: left out with a note
HEADLINE = ("liquidatable_now", "liquidatable_now_notional", "bad_debt_at_move", "var_insolvent_debt", "lar")


def bars(n: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.standard_t(5, n) * 0.025))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame({
        "ts": pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC"),
        "open": open_, "high": np.maximum(open_, close) * 1.01, "low": np.minimum(open_, close) * 0.99,
        "close": close, "volume": rng.uniform(1e5, 2e5, n),
    })


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "p.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    with Store(path) as s:
        ingest_frame(s, bars(600, seed=1), symbol="BTC-SYN", source="unit", kind="perp", origin="test")
        ingest_frame(s, bars(600, seed=2), symbol="ETH-SYN", source="unit", kind="perp", origin="test")
    return path


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "fast.toml"
    p.write_text(FAST)
    return p


# -------------------------------------------------------------------------------------------------
# the property: more margin never liquidates less today
# -------------------------------------------------------------------------------------------------


def _hand_book() -> Book:
    rows = [("h1", "BTC-SYN", "long", 2e6, 3e4, "isolated"), ("h2", "ETH-SYN", "short", 8e5, 2e4, "isolated"),
            ("x1", "BTC-SYN", "long", 5e5, 3e4, "cross"), ("x1", "ETH-SYN", "short", 4.5e5, 3e4, "cross"),
            ("x2", "SOL-SYN", "long", 3e6, 1.2e5, "cross"), ("x2", "BTC-SYN", "long", 1e6, 1.2e5, "cross")]
    return Book.from_positions([PerpPosition(account=a, symbol=s, side=d, notional=n, equity=e, margin_mode=m)
                                for a, s, d, n, e, m in rows])


@pytest.mark.parametrize("book", [demo_book(3000, seed=1, max_leverage=80), demo_book(3000, seed=7, max_leverage=60),
                                  demo_book(2000, seed=11, max_leverage=40, cross_share=0.6), _hand_book()],
                         ids=["demo-1", "demo-7", "demo-11-cross", "hand"])
def test_raising_every_mmf_never_lowers_the_notional_liquidatable_now(book: Book) -> None:
    current = load_current(EXAMPLES / "current_perp.csv", "perp")
    base = {s: MarginSchedule.from_tiers(c.tiers, symbol=s) for s, c in current.assets.items()}
    factors = (0.5, 0.8, 1.0, 1.25, 1.6, 2.0, 3.0, 5.0)
    reports = [book_impact(book, {s: t.scaled(f) for s, t in base.items()}, shocks=()) for f in factors]
    notional = [r.liquidatable_now_notional for r in reports]
    accounts = [r.liquidatable_now for r in reports]
    assert notional == sorted(notional) and accounts == sorted(accounts), (notional, accounts)
    assert notional[-1] > notional[0]  # not vacuous: five times the MMF liquidates more of every book here


# -------------------------------------------------------------------------------------------------
# riskparams propose --positions
# -------------------------------------------------------------------------------------------------


def test_propose_with_positions_gives_every_set_and_stores_it(db: Path, policy: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "venue.csv"
    book.write_text(PERP_BOOK)
    code, out, err = run(capsys, "propose", "--profile", "perp", "--policy", str(policy), "--symbols",
                         "BTC-SYN,ETH-SYN", "--current", str(EXAMPLES / "current_perp.csv"), "--options",
                         "conservative,moderate,aggressive", "--positions", str(book), "--positions-date",
                         "2026-12-01", "--impact-sims", "200", "--json")
    assert code == 0, err
    d = json.loads(out)
    imp = d["impact"]
    assert list(imp) == ["current", "proposal", "conservative", "moderate", "aggressive"]
    for r in imp.values():
        assert set(HEADLINE) <= set(r) and set(r["var_insolvent_debt"]) == {"p95", "p99"}
        assert r["n_positions"] == 3  # z9 (DOGE) left out
    # a1 is liquidatable now under every set (its 1% equity is below every MMF); b2 and c3 are not
    assert all(r["liquidatable_now"] == 1 and r["liquidatable_now_notional"] == 100_000 for r in imp.values())
    # hand-computed bad debt at the covered move (down is the worse side for the longs a1, b2; c3 is a short):
    # a1 loses 1e5 m, closes 1e5 (1 - m) at the tier-1 close-out cost c: bad debt max(0, 1e5 m + 1e5 (1 - m) c - 1e3)
    # b2 (equity 1e4 against a loss of 5e4 m) and c3 stay solvent
    m = d["impact_positions"]["covered_moves"]["BTC-SYN"]
    btc = next(a for a in d["assets"] if a["symbol"] == "BTC-SYN")
    c = btc["tiers"][0]["close_out_cost"]
    assert 0 < m < 0.2 and c > 0
    expected = max(0.0, 1e5 * m + 1e5 * (1 - m) * c - 1e3)
    assert imp["proposal"]["bad_debt_at_move"] == pytest.approx(expected, rel=1e-9)
    assert imp["current"]["bad_debt_at_move"] == pytest.approx(expected, rel=1e-9)  # cost borrowed at floor 0
    # the recommended option is the proposal itself: the same numbers
    for key in HEADLINE:
        assert imp["moderate"][key] == imp["proposal"][key]
    pos = d["impact_positions"]["positions"]
    assert pos["source"] == "venue.csv" and pos["snapshot"] == "2026-12-01" and pos["synthetic"] is False
    assert len(pos["sha256"]) == 64
    assert any("DOGE" in n for n in d["impact_positions"]["notes"])
    with Store(db) as store:
        stored = service.stored_impact(store, d["id"])
    assert stored is not None and stored.id == d["impact_positions"]["id"]
    assert stored.to_dict()["sets"] == imp and list(stored.order) == list(imp)


def test_propose_with_positions_prints_the_impact_table(db: Path, policy: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "venue.csv"
    book.write_text(PERP_BOOK)
    code, out, err = run(capsys, "propose", "--profile", "perp", "--policy", str(policy), "--symbols", "BTC-SYN",
                         "--positions", str(book), "--impact-sims", "0")
    assert code == 0, err
    text = out.split("impact on open positions: ")[1]
    lines = text.splitlines()
    assert lines[0].startswith("venue.csv (2 positions, 2 accounts)")  # ETH-SYN and DOGE are not in the proposal
    assert lines[1].split() == ["set", "accounts", "now", "notional", "now", "bad", "debt", "at", "move", "VaR", "p99",
                                "LaR", "p99"]
    assert lines[2].split()[:3] == ["proposal", "1", "100k"] and lines[2].split()[-2:] == ["-", "-"]  # not simulated
    assert "note: positions in DOGE, ETH-SYN are left out" in text


def test_a_bad_positions_file_stops_propose_before_anything_is_stored(db: Path, policy: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "venue.csv"
    bad.write_text(PERP_BOOK.replace("b2,BTC-SYN,long,50000", "b2,BTC-SYN,sideways,50000"))
    line = fails(capsys, "propose", "--profile", "perp", "--policy", str(policy), "--positions", str(bad))
    assert line == "riskparams: error: venue.csv: row 3, column 'side': value 'sideways' must be 'long' or 'short'."
    with Store(db) as store:
        assert service.proposals(store) == []
    assert fails(capsys, "propose", "--profile", "perp", "--positions-date", "2026-01-01") == (
        "riskparams: error: --positions-date needs --positions FILE.")
    good = tmp_path / "good.csv"
    good.write_text(PERP_BOOK)
    assert fails(capsys, "propose", "--profile", "perp", "--positions", str(good), "--positions-date", "yesterday") == (
        "riskparams: error: --positions-date 'yesterday' is not a date (YYYY-MM-DD).")
    doge = tmp_path / "doge.csv"
    doge.write_text("account,symbol,side,notional,equity,margin_mode\nz9,DOGE,long,1000,100,isolated\n")
    assert fails(capsys, "propose", "--profile", "perp", "--positions", str(doge)) == (
        "riskparams: error: doge.csv: none of the book's symbols (DOGE) is among the symbols to propose for "
        "(BTC-SYN, ETH-SYN).")
    lending = tmp_path / "loans.csv"
    lending.write_text("account,collateral_asset,collateral_amount,debt_asset,debt_amount\nl1,BTC-SYN,1,USDC,10\n")
    assert "venue.csv" not in fails(capsys, "propose", "--profile", "perp", "--positions", str(lending))
    with Store(db) as store:
        assert service.proposals(store) == []


def test_lending_propose_with_positions(db: Path, policy: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    p = float(bars(600, seed=1)["close"].iloc[-1])  # the store's last BTC-SYN close prices the book
    loans = tmp_path / "loans.csv"
    # l1 borrows 99% of its collateral's value: liquidatable now under any threshold below 99%;
    # l2 borrows 10%: safe now and after the covered move
    loans.write_text("account,collateral_asset,collateral_amount,debt_asset,debt_amount\n"
                     f"l1,BTC-SYN,10,USDC,{10 * p * 0.99!r}\nl2,BTC-SYN,5,USDC,{5 * p * 0.10!r}\n")
    code, out, err = run(capsys, "propose", "--profile", "lending", "--policy", str(policy), "--symbols", "BTC-SYN",
                         "--current", str(EXAMPLES / "current_lending.csv"), "--positions", str(loans), "--json")
    assert code == 0, err
    d = json.loads(out)
    imp = d["impact"]
    assert list(imp) == ["current", "proposal"]
    asset = d["assets"][0]
    m = d["impact_positions"]["covered_moves"]["BTC-SYN"]
    for name, lt, b in (("current", 0.78, 0.05), ("proposal", asset["liquidation_threshold"],
                                                  asset["liquidation_bonus"])):
        r = imp[name]
        assert r["liquidatable_now"] == 1 and r["liquidatable_now_notional"] == pytest.approx(10 * p * 0.99)
        # hand-computed: after the covered move l1's collateral is 10 p (1 - m); bad debt max(0, D - C' / (1 + b));
        # l2 is liquidated only if 5 p (1 - m) LT < 0.5 p
        c_after = 10 * p * (1 - m)
        bad = max(0.0, 10 * p * 0.99 - c_after / (1 + b))
        if 5 * (1 - m) * lt < 0.5:
            bad += max(0.0, 0.5 * p - 5 * p * (1 - m) / (1 + b))
        assert r["bad_debt_at_move"] == pytest.approx(bad, rel=1e-9)
    assert "USDC has no stored prices: priced at 1 (a stablecoin)." in d["impact_positions"]["notes"]


# -------------------------------------------------------------------------------------------------
# the export
# -------------------------------------------------------------------------------------------------


@pytest.fixture
def stored(db: Path, policy: Path) -> tuple[Path, str]:
    from riskparams.config import load_policy

    with Store(db) as store:
        run_ = service.propose(store, profile="perp", symbols=["BTC-SYN"], policy=load_policy(policy))
    return db, run_.id


def _section(md: str) -> str:
    return md.split("## Impact on open positions\n")[1].split("\n## ")[0]


def test_export_without_positions_says_so(stored: tuple[Path, str]) -> None:
    with Store(stored[0]) as store:
        sp = service.proposal(store, stored[1])
    md = export.to_markdown(sp).decode()
    assert _section(md).strip().startswith("No positions attached")
    assert json.loads(export.to_json_bundle(sp))["impact"] is None


def test_export_shows_the_impact_with_a_forum_sentence(stored: tuple[Path, str]) -> None:
    db, pid = stored
    with Store(db) as store:
        imp = service.proposal_impact(store, pid, service.demo_positions(["BTC-SYN"], n_positions=300), sims=0)
        sp = service.proposal(store, pid)
        from riskparams.governance import export_proposal

        md = export_proposal(store, pid, "md", "erin").data.decode()
        bundle = json.loads(export_proposal(store, pid, "json", "erin").data)
    section = _section(md)
    assert "demo book (synthetic), 300 positions" in section
    assert "> These are the synthetic demo positions generated by riskparams, not the venue's book" in section
    n = imp.to_dict()["sets"]["proposal"]["liquidatable_now"]
    assert export.impact_sentence(imp) in section
    assert export.impact_sentence(imp).startswith(f"Under the proposal, {n:,} account")
    assert "| Set | Accounts liquidatable now | Notional liquidatable now |" in section
    assert bundle["impact"]["sets"]["proposal"]["liquidatable_now"] == n
    assert bundle["impact"]["positions"]["synthetic"] is True
    assert export.to_markdown(sp, impact=imp) == export.to_markdown(sp, impact=imp)  # deterministic


def _payload(sets: dict[str, Any], *, profile: str = "perp", **positions: Any) -> dict[str, Any]:
    """An impact payload around ``sets`` with the keys the typed reader (riskparams.impact_content) needs."""
    return {"format": "riskparams-impact-v1", "proposal_id": None, "profile": profile,
            "positions": {"source": "book.csv", "n_positions": 10, "n_accounts": 10, **positions}, "sets": sets}


def test_export_sentence_hand_computed() -> None:
    imp = _payload({"proposal": {"liquidatable_now": 3, "liquidatable_now_notional": 1.2e6,
                                 "bad_debt_at_move": 4e4}})
    assert export.impact_sentence(imp) == ("Under the proposal, 3 accounts (1.2M notional) are liquidatable at "
                                           "today's prices; at the covered move the bad debt is 40k.")
    # with the covered-move scenarios: the worse direction (more bad debt) says who is liquidated at the move
    imp["sets"]["proposal"]["scenarios"] = [
        {"name": "now", "accounts": 3, "notional": 1.2e6, "bad_debt": 0.0},
        {"name": "covered move down", "accounts": 16, "notional": 1.897e6, "bad_debt": 4e4},
        {"name": "covered move up", "accounts": 20, "notional": 3e6, "bad_debt": 1e3}]
    assert export.impact_sentence(imp) == ("Under the proposal, 3 accounts (1.2M notional) are liquidatable at "
                                           "today's prices; at the covered move 16 accounts (1.897M notional) are "
                                           "liquidated and the bad debt is 40k.")
    one = _payload({"current": {"liquidatable_now": 1, "liquidatable_now_notional": 500, "bad_debt_at_move": None}},
                   profile="lending")
    assert export.impact_sentence(one, "current") == ("Under the current parameters, 1 account (500 debt) is "
                                                       "liquidatable at today's prices.")


HOSTILE = ["<script>alert(1)</script>", "[click](javascript:alert(1))", "**bold** | cell", "# heading",
           "<img src=x onerror=alert(1)>", "line\nbreak"]


def test_hostile_text_in_an_impact_payload_cannot_inject_markup(stored: tuple[Path, str]) -> None:
    with Store(stored[0]) as store:
        sp = service.proposal(store, stored[1])
    row = {"liquidatable_now": 1, "liquidatable_now_notional": 1e5, "bad_debt_at_move": None,
           "var_insolvent_debt": {"p99": None}, "lar": None}
    imp = _payload({h: row for h in HOSTILE}, source=HOSTILE[0] + ".csv", snapshot=HOSTILE[1], sha256=HOSTILE[2],
                   synthetic=False)
    imp["notes"] = HOSTILE
    # a value of the wrong type (markup where a number belongs) is refused in one sentence naming it
    for key, bad in (("bad_debt_at_move", "<b>nan</b>"), ("var_insolvent_debt", {"p99": "x"})):
        wrong = _payload({"proposal": {**row, key: bad}})
        with pytest.raises(export.ExportError, match=r"\(sets\.proposal\."):
            export.to_markdown(sp, impact=wrong)
    md = export.to_markdown(sp, impact=imp).decode()
    section = _section(md)
    for bad in ("<script", "<img", "\n# heading"):
        assert bad not in section, bad
    assert "\\[click\\](javascript\\:alert(1))" in section  # brackets and scheme escaped: no link
    assert not re.search(r"(?<!\\)\]\(javascript", section)
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in section or "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    table = [ln for ln in section.splitlines() if ln.startswith("| ")]
    assert all(ln.count(" | ") == 5 for ln in table)  # a '|' in a set name does not add a column
    page = export.to_html(sp, impact=imp).decode()
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    with pytest.raises(export.ExportError, match="must be a JSON object with positions and sets"):
        export.to_markdown(sp, impact={"sets": ["no"]})


# -------------------------------------------------------------------------------------------------
# the front door
# -------------------------------------------------------------------------------------------------


def test_front_door_names() -> None:
    import riskparams

    assert riskparams.impact is service.impact
    from riskparams.book import load_positions

    assert riskparams.load_positions is load_positions


def test_markdown_stress_table_under_the_proposal(stored: tuple[Path, str]) -> None:
    """The forum post's joint-stress table under the proposal: every window (one not in the data says so), the
    fund's settings, and a hostile window name kept inert."""
    with Store(stored[0]) as store:
        sp = service.proposal(store, stored[1])
    prop = {"liquidatable_now": 0, "liquidatable_now_notional": 0.0, "bad_debt_at_move": 0.0,
            "fund_target": 7.5e6, "fund_adequacy": 1.0,
            "waterfall": {"insurance_fund": 7.5e6, "adl": True, "fund_went_negative": False},
            "stress_windows": [
                {"name": "2020-03-12", "accounts": 461, "notional": 4.787e7, "bad_debt": 1.882e7, "fund_paid": 7.5e6,
                 "socialised_loss": 1.132e7, "insurance_fund_min": 0.0},
                {"name": HOSTILE[0] + HOSTILE[1], "accounts": None, "notional": None, "bad_debt": None,
                 "fund_paid": None, "socialised_loss": None, "insurance_fund_min": None}]}
    imp = _payload({"proposal": prop}, synthetic=True)
    section = _section(export.to_markdown(sp, impact=imp).decode())
    assert "insurance fund 7.5M, auto-deleveraging on; fund target 7.5M" in section and "adequacy 1.00" in section
    assert "| 2020-03-12 | 461 | 47.87M | 18.82M | 7.5M | 11.32M | 0 |" in section
    assert "(not in the data) | - |" in section and "<script" not in section
    assert not re.search(r"(?<!\\)\]\(javascript", section)
    prop["waterfall"] = {"insurance_fund": 0.0, "adl": False, "fund_went_negative": True}
    assert "goes negative" in _section(export.to_markdown(sp, impact=imp).decode())
    del prop["stress_windows"]
    assert "Joint stress" not in _section(export.to_markdown(sp, impact=imp).decode())

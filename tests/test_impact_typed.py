"""Typed stored impacts (issue 15, item 2): :class:`riskparams.impact_content.StoredImpact` reads what the store
holds and gives it back exactly; the store, the service, the views, the export and the CLI pass the typed object;
an older payload without the newer keys still loads; foreign or malformed content is refused in one sentence;
hostile text is escaped as the export escaped it before; exports and CLI JSON are byte-identical."""

from __future__ import annotations

import copy
import json
import math
import pickle
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli as run

from riskparams import export, service, views
from riskparams.exceptions import DataError
from riskparams.impact_content import IMPACT_FORMAT, ImpactRecordInfo, StoredImpact
from riskparams.ingest import load_demo
from riskparams.jsonio import canonical_json, content_id
from riskparams.params_io import load_current
from riskparams.store import Store
from riskparams.store.impact_records import latest_impact, list_impacts, save_impact

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ["<script>alert(1)</script>", "[click](javascript:alert(1))", "**bold** | cell", "# heading",
           "<img src=x onerror=alert(1)>"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo store, a perp proposal over BTC-SYN and ETH-SYN (current parameters, two options) and its impact
    on the synthetic demo book (simulated, with stress windows), stored; and a lending proposal's impact."""
    path = tmp_path_factory.mktemp("typed") / "demo.duckdb"
    lend = path.parent / "loans.csv"
    lend.write_text("account,collateral_asset,collateral_amount,debt_asset,debt_amount\n"
                    "a1,ETH-SYN,10,USDC,15000\na2,BTC-SYN,1,USDC,30000\na3,ETH-SYN,5,USDC,100\n")
    from riskparams.book import load_positions

    with Store(path) as store:
        load_demo(store)
        run_ = service.propose(store, profile="perp", symbols=["BTC-SYN", "ETH-SYN"],
                               options=["conservative", "aggressive"],
                               current=load_current(ROOT / "riskparams" / "examples" / "current_perp.csv", "perp"))
        book = service.demo_positions(["BTC-SYN", "ETH-SYN"], n_positions=300, proposal=run_.proposal)
        computed = service.proposal_impact(store, run_.id, book, sims=50)
        lrun = service.propose(store, profile="lending", symbols=["BTC-SYN", "ETH-SYN"], options=["conservative"])
        lending = service.proposal_impact(store, lrun.id, load_positions(lend, "lending"), sims=0)
    return {"path": path, "pid": run_.id, "computed": computed, "lending": lending, "lending_pid": lrun.id}


def _raw(path: Path, rid: str) -> tuple[str, str]:
    """The stored payload text and its storage time (ISO, Z) of one impact record, straight from the table."""
    with Store(path) as store:
        text, created = store.fetchone("SELECT payload, created_at FROM impact_reports WHERE impact_id = ?", [rid])
    from riskparams.jsonio import iso_z

    return str(text), iso_z(created)


def _perp_payload() -> dict[str, Any]:
    """A hand-written perp payload (figures chosen to read off the tables below)."""
    stress = [{"name": "covid", "kind": "window", "status": "ok", "accounts": 2, "notional": 2e5, "bad_debt": 500.0,
               "fund_paid": 500.0, "socialised_loss": 0.0, "insurance_fund_min": 1e4, "top_share": 1.0},
              {"name": "ftx", "kind": "window", "status": "not in the data", "accounts": None, "notional": None,
               "bad_debt": None, "fund_paid": None, "socialised_loss": None, "insurance_fund_min": None,
               "top_share": None, "missing": ["BTC"]}]
    proposal = {"liquidatable_now": 3, "liquidatable_now_notional": 1.2e6, "bad_debt_at_move": 4e4,
                "top_concentration": {"n": 5, "now": 0.5, "at_move": 0.75}, "label": "proposal", "source": "b.csv",
                "n_positions": 40, "n_accounts": 30, "open_notional": 5e6, "covered_moves": {"BTC": 0.1},
                "scenarios": [{"name": "now", "moves": {"BTC": 0.0}, "accounts": 3, "notional": 1.2e6,
                               "bad_debt": 0.0, "top_share": 0.5},
                              {"name": "covered move down", "moves": {"BTC": -0.1}, "accounts": 16,
                               "notional": 1.897e6, "bad_debt": 4e4, "top_share": 0.75},
                              {"name": "covered move up", "moves": {"BTC": 0.1}, "accounts": 20, "notional": 3e6,
                               "bad_debt": 1e3, "top_share": 0.6}],
                "notes": [], "var_insolvent_debt": {"p95": 1e4, "p99": 2.5e4}, "lar": {"p95": 1e6, "p99": 3e6},
                "simulation": {"n_sims": 10, "seed": 0}, "stress_windows": stress,
                "waterfall": {"insurance_fund": 1e4, "adl": True}, "fund_target": 2e4, "fund_adequacy": 0.5,
                "socialised_loss": 0.0, "insurance_fund_min": 1e4}
    current = {"liquidatable_now": 1, "liquidatable_now_notional": 1e5, "bad_debt_at_move": None,
               "top_concentration": {"n": 5, "now": 1.0, "at_move": None}, "scenarios": [
                   {"name": "now", "moves": {"BTC": 0.0}, "accounts": 1, "notional": 1e5, "bad_debt": 0.0,
                    "top_share": 1.0}], "notes": []}
    return {"format": IMPACT_FORMAT, "proposal_id": "ab" * 32, "profile": "perp",
            "positions": {"source": "b.csv", "synthetic": False, "n_positions": 40, "n_accounts": 30,
                          "snapshot": "2026-12-01", "sha256": None, "open_notional": 5e6, "symbols": ["BTC"],
                          "by_symbol": [{"symbol": "BTC", "side": "long", "positions": 40, "notional": 5e6}],
                          "cross": {"positions": 10, "accounts": 5, "notional": 1e6},
                          "isolated": {"positions": 30, "accounts": 25, "notional": 4e6}},
            "covered_moves": {"BTC": 0.1}, "sets": {"proposal": proposal, "current": current},
            "order": ["current", "proposal"], "notes": ["n1"]}


# -- round trips -------------------------------------------------------------------------------------------


def test_a_computed_impact_round_trips_through_the_store(demo: dict[str, Any]) -> None:
    computed: StoredImpact = demo["computed"]
    assert isinstance(computed, StoredImpact) and computed.id is not None and computed.created_at is None
    text, created = _raw(demo["path"], computed.id)
    content = json.loads(text)
    # the stored text is the canonical JSON of the typed content, and hashes to the id
    assert canonical_json(computed.content()) == text and content_id(computed.content()) == computed.id
    with Store(demo["path"]) as store:
        stored = service.stored_impact(store, demo["pid"])
        latest = latest_impact(store, demo["pid"])
        infos = list_impacts(store, demo["pid"])
    assert isinstance(stored, StoredImpact) and stored == latest
    # to_dict is exactly what latest_impact returned before it was typed: the content, id, created_at
    assert stored.to_dict() == {**content, "id": computed.id, "created_at": created}
    assert list(stored.to_dict()) == [*content, "id", "created_at"]
    assert computed.to_dict() == {**computed.content(), "id": computed.id}
    assert infos == [ImpactRecordInfo(id=computed.id, created_at=created, source="demo book (synthetic)")]
    # typed fields read the stored values
    prop = stored.set("proposal")
    assert prop is not None
    raw = content["sets"]["proposal"]
    assert prop.liquidatable_now == raw["liquidatable_now"]
    assert prop.var_p99 == raw["var_insolvent_debt"]["p99"] and prop.lar_p99 == raw["lar"]["p99"]
    assert prop.stress_windows is not None and len(prop.stress_windows) == len(raw["stress_windows"]) > 0
    assert [s.name for s in prop.scenarios] == [s["name"] for s in raw["scenarios"]]
    assert prop.waterfall["adl"] is True and prop.extra["simulation"]["n_sims"] == 50
    assert [s.name for s in stored.ordered_sets()] == ["current", "proposal", "conservative", "aggressive"]
    assert stored.positions.synthetic is True and stored.positions.n_positions == 300
    # the Book page's cache pickles it
    assert pickle.loads(pickle.dumps(stored)) == stored


def test_a_lending_impact_round_trips(demo: dict[str, Any]) -> None:
    lending: StoredImpact = demo["lending"]
    assert lending.lending and lending.id is not None
    text, _ = _raw(demo["path"], lending.id)
    assert canonical_json(StoredImpact.from_content(json.loads(text), id=lending.id).content()) == text
    now = lending.set("proposal").scenarios[0]  # type: ignore[union-attr]
    assert now.name == "now" and now.notional is None and now.debt == now.amount == 15000.0  # a1's debt
    frame = views.impact_scenarios_frame(lending, "proposal")
    assert list(frame.columns) == ["set", "scenario", "accounts", "debt", "bad debt"]


def test_an_older_payload_without_the_newer_keys_loads(demo: dict[str, Any], tmp_path: Path) -> None:
    """Stress rows stored before the top-5 share was kept have no ``top_share``: they load (None, shown as "-"),
    and re-hash without it; stored as such, the record reads back exactly."""
    old = copy.deepcopy(demo["computed"].content())
    for r in old["sets"].values():
        for w in r["stress_windows"]:
            del w["top_share"]
    typed = StoredImpact.from_content(old)
    assert typed.content() == old and content_id(typed.content()) == content_id(old)
    rows = typed.set("proposal").stress_windows  # type: ignore[union-attr]
    assert rows and all(w.top_share is None and "top_share" not in w.to_dict() for w in rows)
    recs = [r for r in views.impact_scenarios_records(typed) if r["set"] == "proposal"]
    assert [r["top_share"] for r in recs[-len(rows):]] == [None] * len(rows)
    from riskparams import ui

    assert ui.percent_text([None, 0.5]) == ["-", "50.00%"]  # what the Book page shows for it
    db = tmp_path / "old.duckdb"
    db.write_bytes(demo["path"].read_bytes())
    with Store(db) as store:
        rid, new = save_impact(store, old)
        back = latest_impact(store, demo["pid"])
    assert new and rid == content_id(old) and back is not None and back.content() == old


# -- refused --------------------------------------------------------------------------------------------------


def _with(path: str, value: Any) -> dict[str, Any]:
    d = _perp_payload()
    keys = path.split(".")
    target: Any = d
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]
    last: Any = int(keys[-1]) if isinstance(target, list) else keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return d


@pytest.mark.parametrize(("content", "message"), [
    ([1, 2], "stored impact content must be a JSON object, got list"),
    ({**_perp_payload(), "format": "riskparams-proposal-v1"}, "this is not a stored impact: its format is "
                                                              "'riskparams-proposal-v1'"),
    ({**_perp_payload(), "format": "riskparams-impact-v2"}, "newer than the 'riskparams-impact-v1' this riskparams "
                                                           "reads; upgrade riskparams to read it"),
    (_with("positions", KeyError), "(impact has no 'positions')"),
    (_with("sets", ["proposal"]), "(sets is list, not an object)"),
    (_with("sets.proposal.liquidatable_now", "3"), "(sets.proposal.liquidatable_now is '3', not a whole number)"),
    (_with("sets.proposal.liquidatable_now", True), "(sets.proposal.liquidatable_now is True, not a whole number)"),
    (_with("sets.proposal.bad_debt_at_move", math.nan), "(sets.proposal.bad_debt_at_move is nan, not a finite "
                                                        "number)"),
    (_with("sets.proposal.scenarios.1.notional", math.inf), "(sets.proposal.scenarios[1].notional is inf, not a "
                                                            "finite number)"),
    (_with("sets.proposal.simulation.n_sims", -math.inf), "(sets.proposal.simulation.n_sims is -inf, not a finite "
                                                          "number)"),
    (_with("sets.proposal.scenarios.0", "now"), "(sets.proposal.scenarios[0] is str, not an object)"),
    (_with("sets.proposal.scenarios.0.bad_debt", KeyError), "(sets.proposal.scenarios[0] has no 'bad_debt')"),
    (_with("positions.synthetic", "no"), "(impact.positions.synthetic is 'no', not true or false)"),
    (_with("profile", "spot"), "(profile is 'spot', not 'perp' or 'lending')"),
    (_with("notes", [1]), "(impact.notes[0] is 1, not a string)"),
])
def test_foreign_or_malformed_content_is_refused_in_one_sentence(content: Any, message: str) -> None:
    with pytest.raises(DataError) as err:
        StoredImpact.from_content(content)
    text = str(err.value)
    assert message in text, text
    assert text.endswith(".") and "\n" not in text and text.count(". ") == 0, text


def test_an_id_that_is_not_the_hash_of_the_content_is_refused() -> None:
    with pytest.raises(DataError, match=r"the stored impact 'ffffffffffff' does not match its content"):
        StoredImpact.from_content({**_perp_payload(), "id": "f" * 64})
    good = content_id(_perp_payload())
    assert StoredImpact.from_content({**_perp_payload(), "id": good}).id == good


def test_a_malformed_payload_is_not_stored(demo: dict[str, Any], tmp_path: Path) -> None:
    db = tmp_path / "bad.duckdb"
    db.write_bytes(demo["path"].read_bytes())
    bad = {**_perp_payload(), "proposal_id": demo["pid"]}
    bad["sets"]["proposal"]["liquidatable_now"] = "many"
    with Store(db) as store:
        before = store.fetchall("SELECT impact_id FROM impact_reports ORDER BY impact_id")
        with pytest.raises(DataError, match=r"sets\.proposal\.liquidatable_now is 'many'"):
            save_impact(store, bad)
        assert store.fetchall("SELECT impact_id FROM impact_reports ORDER BY impact_id") == before


# -- hostile text: loaded, and escaped where it is shown, as before -------------------------------------------


def test_hostile_text_is_escaped_as_the_export_escaped_it(demo: dict[str, Any]) -> None:
    d = _perp_payload()
    d["positions"]["source"] = HOSTILE[0] + ".csv"
    d["positions"]["snapshot"] = HOSTILE[1]
    d["notes"] = HOSTILE
    d["sets"][HOSTILE[4]] = d["sets"]["current"]
    d["sets"]["proposal"]["scenarios"][0]["name"] = HOSTILE[3]
    typed = StoredImpact.from_content(d)
    assert typed.content() == d
    with Store(demo["path"]) as store:
        sp = service.proposal(store, demo["pid"])
    md_typed = export.to_markdown(sp, impact=typed)
    assert md_typed == export.to_markdown(sp, impact=d)  # what the export made of the payload before
    section = md_typed.decode().split("## Impact on open positions\n")[1].split("\n## ")[0]
    for bad in ("<script", "<img", "\n# heading"):
        assert bad not in section, bad
    assert "\\[click\\](javascript\\:alert(1))" in section
    caption = views.BookView(impact=typed, origin="stored", sentences=[], figure=None).caption()
    assert "&lt;script&gt;" in caption and "<script" not in caption and "\\[click\\]" in caption


# -- the views, the export and the CLI give what they gave before -----------------------------------------------


def test_to_dict_keeps_every_key_in_its_order() -> None:
    """What pretty_json(sort_keys=False) prints (``propose --json``) is the same text for the typed impact."""
    d = _perp_payload()
    imp = StoredImpact.from_content(d)
    assert json.dumps(imp.to_dict()) == json.dumps(d)
    assert json.dumps(imp.with_record(id=content_id(d)).to_dict()) == json.dumps({**d, "id": content_id(d)})


def test_views_read_the_typed_impact_hand_computed() -> None:
    imp = StoredImpact.from_content(_perp_payload())
    assert views.impact_rows(imp) == [
        {"set": "current", "accounts now": "1", "notional now": "100k", "bad debt at move": "-", "VaR p99": "-",
         "LaR p99": "-"},
        {"set": "proposal", "accounts now": "3", "notional now": "1.2M", "bad debt at move": "40k",
         "VaR p99": "25k", "LaR p99": "3M"}]
    frame = views.impact_frame(imp)
    # at the covered move: down (bad debt 40k) is worse than up (1k): 16 accounts, 1.897M
    assert frame.to_dict("records")[1] == {
        "set": "proposal", "accounts now": "3", "notional now": "1.2M", "accounts at move": "16",
        "notional at move": "1.897M", "bad debt at move": "40k", "VaR p99": "25k", "LaR p99": "3M",
        "top-5 share at move": 0.75}
    assert frame.to_dict("records")[0]["accounts at move"] == "-"
    scen = views.impact_scenarios_frame(imp, "proposal")
    recs = scen.to_dict("records")
    assert recs[-2] == {"set": "proposal", "scenario": "covid", "accounts": 2, "notional": "200k", "bad debt": "500",
                        "top-5 share": 1.0}
    # a window not in the data: no accounts, no share (NaN in the frame; the page shows "-")
    ftx = recs[-1]
    assert math.isnan(ftx.pop("accounts")) and math.isnan(ftx.pop("top-5 share"))
    assert ftx == {"set": "proposal", "scenario": "ftx (not in the data)", "notional": "-", "bad debt": "-"}
    frames = views.positions_frames(imp)
    assert frames["modes"].to_dict("records") == [
        {"margin mode": "cross", "positions": "10", "accounts": "5", "notional": "1M"},
        {"margin mode": "isolated", "positions": "30", "accounts": "25", "notional": "4M"}]
    assert views.impact_sentence(imp) == ("Under the proposal, 3 accounts (1.2M notional) are liquidatable at "
                                          "today's prices; at the covered move 16 accounts (1.897M notional) are "
                                          "liquidated and the bad debt is 40k.")
    view = views.BookView(impact=imp, origin="computed", sentences=[], figure=None)
    assert view.sets == ["current", "proposal"] and not view.synthetic
    assert view.caption() == "Positions: b\\.csv, 40 positions in 30 accounts, open notional 5M, taken 2026-12-01."


def test_exports_are_byte_identical_for_a_stored_impact(demo: dict[str, Any]) -> None:
    """Every export format renders the typed impact exactly as it rendered the payload latest_impact returned
    before it was typed (the stored content with id and created_at), and the governance export reads it."""
    with Store(demo["path"]) as store:
        typed = latest_impact(store, demo["pid"])
        sp = service.proposal(store, demo["pid"])
        from riskparams.governance import export_proposal

        bundle = json.loads(export_proposal(store, demo["pid"], "json", "erin").data)
    assert typed is not None and typed.id is not None
    text, created = _raw(demo["path"], typed.id)
    payload = {**json.loads(text), "id": typed.id, "created_at": created}
    md = export.to_markdown(sp, impact=typed)
    assert md == export.to_markdown(sp, impact=payload)
    # each set's row, written out from the raw stored payload (not through the typed reader)
    section = md.decode().split("## Impact on open positions\n")[1].split("\n## ")[0]
    from riskparams.fmt import format_notional as money

    for name in payload["order"]:
        r = payload["sets"][name]
        row = (f"| {name} | {r['liquidatable_now']:,} | {money(r['liquidatable_now_notional'])} | "
               f"{money(r['bad_debt_at_move'])} | {money(r['var_insolvent_debt']['p99'])} | "
               f"{money(r['lar']['p99'])} |")
        assert row in section, row
    assert export.to_json_bundle(sp, impact=typed) == export.to_json_bundle(sp, impact=payload)
    assert export.to_html(sp, impact=typed) == export.to_html(sp, impact=payload)
    assert bundle["impact"] == payload


def test_propose_positions_json_is_the_stored_payload(demo: dict[str, Any], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "cli.duckdb"
    db.write_bytes(demo["path"].read_bytes())
    monkeypatch.setenv("RISKPARAMS_DB", str(db))
    book = tmp_path / "venue.csv"
    book.write_text("account,symbol,side,notional,equity,margin_mode\na1,BTC-SYN,long,100000,1000,isolated\n"
                    "b2,BTC-SYN,long,50000,10000,cross\n")
    code, out, err = run(capsys, "propose", "--profile", "perp", "--symbols", "BTC-SYN", "--positions", str(book),
                         "--impact-sims", "20", "--json")
    assert code == 0, err
    d = json.loads(out)
    rid = d["impact_positions"]["id"]
    stored = json.loads(_raw(db, rid)[0])
    # the printed sections are the stored payload, key for key and in the computed order
    assert d["impact"] == stored["sets"] and list(d["impact"]) == stored["order"]
    expected = {k: v for k, v in stored.items() if k != "sets"}
    assert d["impact_positions"] == {**expected, "id": rid}
    code, out, err = run(capsys, "propose", "--profile", "perp", "--symbols", "BTC-SYN", "--positions", str(book),
                         "--impact-sims", "20")
    assert code == 0, err
    assert "impact on open positions: venue.csv (2 positions, 2 accounts)" in out
    assert f"stored with the proposal as {rid[:12]}" in out


def test_module_examples_run() -> None:
    import doctest

    import riskparams.impact_content as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and result.failed == 0

"""Exports: every format parses, repeated exports are byte-identical, DRAFT marking, CSV neutralisation, the
dYdX and Aave payload mappings, the backtest payload, and the HTML report opening offline."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from riskparams import charts
from riskparams import export as ex
from riskparams import governance as gov
from riskparams.config import policy_from_dict
from riskparams.domain import Proposal
from riskparams.governance import Override, committee_from_dict
from riskparams.store import Store
from riskparams.store.records import StoredProposal, get_proposal, save_proposal

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
POLICY = policy_from_dict({"model": {"model": "ewma", "n_sims": 200}})
COMMITTEE = committee_from_dict({"quorum": 2, "members": [
    {"name": "Ann Chair", "handle": "ann", "role": "chair"},
    {"name": "Ben Member", "handle": "ben", "role": "member"},
    {"name": "Cat Member", "handle": "cat", "role": "member"},
    {"name": "Eve Observer", "handle": "eve", "role": "observer"},
]}, source="test committee")
MD_SECTIONS = ["## Summary", "## Motivation", "## Specification", "## Methodology", "## Backtest results",
               "## Risks and next steps"]

BACKTEST: dict[str, Any] = {
    "id": "bt-0001", "created_at": "2025-02-01T00:00:00Z", "start": "2022-01-01", "end": "2024-12-31",
    "results": [
        {"symbol": "BTC-SYN", "parameter_set": "proposed", "n": 750, "exceptions": 9, "expected": 7.5,
         "confidence": 0.99, "kupiec_lr": 0.29, "kupiec_p": 0.59, "christoffersen_lr": 0.2, "christoffersen_p": 0.65,
         "cc_lr": 0.49, "cc_p": 0.78, "traffic_light": "green", "avg_margin": 0.081, "peak_to_trough": 2.4,
         "max_5d_increase": 0.35, "bad_debt": 0.0, "liquidations": 41},
        {"symbol": "BTC-SYN", "parameter_set": "current", "n": 750, "exceptions": 24, "expected": 7.5,
         "confidence": 0.99, "kupiec_p": float("nan"), "traffic_light": "red", "bad_debt": 125000.0},
    ],
}






def stored(proposal: Proposal) -> tuple[Store, StoredProposal]:
    s = Store.memory()
    return s, save_proposal(s, proposal)


def approve(s: Store, pid: str) -> None:
    gov.submit_for_review(s, pid, "ann", committee=COMMITTEE)
    gov.sign_off(s, pid, "ben", committee=COMMITTEE)
    gov.sign_off(s, pid, "cat", committee=COMMITTEE)
    gov.approve(s, pid, "ann", committee=COMMITTEE)


def test_markdown_has_the_arfc_sections(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["perp"])
    md = ex.to_markdown(sp).decode("utf-8")
    assert md.startswith("# [ARFC] Risk parameter update: perpetual margin tiers for BTC-SYN, ETH-SYN\n")
    for head in ("**Author:**", "**Date:** " + sp.created_at.strftime("%Y-%m-%d"), f"**Proposal id:** `{sp.id}`"):
        assert head in md
    positions = [md.index(s) for s in MD_SECTIONS]
    assert positions == sorted(positions)
    assert "| Asset | Parameter | Current | Proposed | Change |" in md
    assert "| BTC-SYN | Maintenance margin fraction (MMF), tier 1 (0-1m) | 2.50% | 3.70% | +120 bps (+48.0%) |" in md
    assert "| BTC-SYN | Max leverage, tier 1 (0-1m) | 20x | 10x | -10x (-50.0%) |" in md
    assert "No backtest attached to this export." in md
    for needle in ("confidence 99.00%", "24 hours", "Anti-procyclicality", "Data fingerprint (SHA-256)",
                   proposals["perp"].assets[0].context.fingerprint, "policy-v1-", "numpy ", "SOL-SYN"):  # type: ignore[union-attr]
        assert needle in md, needle
    assert "> **DRAFT - not approved by the committee (status: draft).**" in md


def test_json_bundle_carries_everything_with_provenance(proposals: dict[str, Proposal]) -> None:
    s, sp = stored(proposals["perp"])
    wf = gov.workflow(s, sp.id, committee=COMMITTEE).to_dict(for_export=True)
    bundle = json.loads(ex.to_json_bundle(sp, workflow=wf, backtest=BACKTEST))
    assert bundle["format"] == ex.BUNDLE_FORMAT and bundle["proposal_id"] == sp.id
    assert bundle["proposal_hash"] == {"algorithm": "sha256", "of": bundle["proposal_hash"]["of"], "value": sp.id,
                                       "verified": True}
    assert bundle["proposal"] == sp.content and bundle["final"] is False and bundle["status"] == "draft"
    prov = bundle["provenance"]
    assert [d["symbol"] for d in prov["data"]] == ["BTC-SYN", "ETH-SYN"]
    assert all(len(d["fingerprint"]) == 64 for d in prov["data"])
    assert prov["policy_key"] == POLICY.key() and set(prov["packages"]) >= {"riskparams", "numpy", "arch"}
    assert list(prov["model_specs"]) == [POLICY.model.key()]
    assert bundle["workflow"]["status"] == "draft" and bundle["backtest"]["id"] == "bt-0001"
    assert bundle["backtest"]["results"][1]["kupiec_p"] is None  # NaN -> null
    assert len(bundle["specification"]) == sum(len(a.lines) for a in proposals["perp"].assets)


def test_csv_has_one_row_per_asset_parameter_tier(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["perp"])
    rows = list(csv.DictReader(io.StringIO(ex.to_csv(sp).decode("utf-8"))))
    assert list(rows[0]) == list(ex.CSV_COLUMNS)
    assert len(rows) == sum(len(a.lines) for a in proposals["perp"].assets)
    keys = {(r["symbol"], r["parameter"], r["tier"]) for r in rows}
    assert len(keys) == len(rows) and ("BTC-SYN", "mmf", "1") in keys
    r = next(r for r in rows if (r["symbol"], r["parameter"], r["tier"]) == ("BTC-SYN", "mmf", "1"))
    assert (r["current"], r["proposed"], r["change"], r["notional_floor"], r["notional_cap"]) == (
        "0.025", "0.037", "0.012", "0", "1000000")
    assert r["status"] == "draft" and r["unit"] == "fraction" and r["overridden"] == "false"
    assert any(r["change"].startswith("-") for r in rows)  # negative numbers are not neutralised


@pytest.mark.parametrize(("cell", "expected"), [
    ("=SUM(A1:A2)", "'=SUM(A1:A2)"), ("+cmd", "'+cmd"), ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("@SUM(1)", "'@SUM(1)"), ("\t=1", "'\t=1"), ("-0.05", "-0.05"), ("+1e-3", "+1e-3"), ("-5%", "-5%"),
    ("BTC-SYN", "BTC-SYN"), ("", ""), (None, ""), (-0.5, "-0.5"),
])
def test_csv_cells_that_start_a_formula_are_neutralised(cell: object, expected: str) -> None:
    assert ex.neutralise_csv_cell(cell) == expected


def test_csv_neutralises_a_justification_starting_with_a_formula(proposals: dict[str, Proposal]) -> None:
    s, sp = stored(proposals["perp"])
    rev = gov.revise(s, sp.id, "ben", [Override.parse("BTC-SYN:mmf:1=0.05"), Override.parse("ETH-SYN:mmf:1=0.05")],
                     justification='=HYPERLINK("http://x","click") @risk', committee=COMMITTEE)
    text = ex.to_csv(get_proposal(s, rev.id)).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    over = [r for r in rows if r["overridden"] == "true"]
    assert {(r["symbol"], r["parameter"]) for r in over} == {("BTC-SYN", "mmf"), ("ETH-SYN", "mmf")}
    assert all(r["override_justification"] == '\'=HYPERLINK("http://x","click") @risk' for r in over)
    assert all(not (v or "").startswith(("=", "+", "@")) for r in rows for v in r.values())


def test_html_report_opens_offline_with_inline_plotly(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["perp"])
    page = ex.to_html(sp, backtest=BACKTEST).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<script[^>]+src\s*=", page, flags=re.I)
    assert not re.search(r"<link[^>]+href\s*=\s*[\"']https?:", page, flags=re.I)
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S)
    assert max(len(s) for s in scripts) > 1_000_000  # plotly.js itself, inline
    assert "Plotly.newPlot" in page and page.count("plotly.js v") >= 1
    ids = re.findall(r'<div id="(riskparams-fig-\d+)"', page)
    assert ids == [f"riskparams-fig-{k}" for k in range(1, len(ids) + 1)] and len(ids) == 4  # 2 ladders, moves, bt
    for section in ("Summary", "Motivation", "Specification", "Methodology", "Backtest results",
                    "Risks and next steps"):
        assert f"<h2>{section}</h2>" in page
    assert "bt-0001" in page and "DRAFT - not approved" in page


def test_html_escapes_committee_text(proposals: dict[str, Proposal]) -> None:
    s, sp = stored(proposals["lending"])
    gov.comment(s, sp.id, "eve", text="<script>alert(1)</script>", committee=COMMITTEE)
    wf = gov.workflow(s, sp.id, committee=COMMITTEE).to_dict(for_export=True)
    page = ex.to_html(sp, workflow=wf).decode("utf-8")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_every_format_exports_identical_bytes_twice(proposals: dict[str, Proposal]) -> None:
    for profile, venue in (("perp", "dydx"), ("lending", "aave")):
        s, sp = stored(proposals[profile])
        approve(s, sp.id)
        for fmt in ("md", "json", "csv", "html", venue):
            first = gov.export_proposal(s, sp.id, fmt, "eve", committee=COMMITTEE, backtest=BACKTEST)
            second = gov.export_proposal(s, sp.id, fmt, "eve", committee=COMMITTEE, backtest=BACKTEST)
            assert first.data == second.data, (profile, fmt)  # approved -> exported does not change the bytes
            assert first.final and first.sha256 == second.sha256
            wf = gov.workflow(s, sp.id, committee=COMMITTEE).to_dict(for_export=True)
            assert ex.render(fmt, get_proposal(s, sp.id), workflow=wf, backtest=BACKTEST) == first.data


def test_approved_exports_carry_no_draft_banner(proposals: dict[str, Proposal]) -> None:
    s, sp = stored(proposals["lending"])
    approve(s, sp.id)
    md = gov.export_proposal(s, sp.id, "md", "ann", committee=COMMITTEE).data.decode()
    assert "DRAFT" not in md and "**Status:** approved" in md and "Decision: approved by Ann Chair (@ann)" in md
    bundle = json.loads(gov.export_proposal(s, sp.id, "json", "ann", committee=COMMITTEE).data)
    assert bundle["final"] is True and bundle["banner"] is None and bundle["status"] == "approved"
    rejected_s, rsp = stored(proposals["perp"])
    gov.submit_for_review(rejected_s, rsp.id, "ann", committee=COMMITTEE)
    gov.reject(rejected_s, rsp.id, "ann", comment="no", committee=COMMITTEE)
    md = gov.export_proposal(rejected_s, rsp.id, "md", "ann", committee=COMMITTEE).data.decode()
    assert "REJECTED - exported for the record only; do not implement" in md


def test_dydx_payload_mapping(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["perp"])
    payload = json.loads(ex.to_dydx(sp, first_id=7))
    msgs = payload["messages"]
    tiers = [t for a in proposals["perp"].assets for t in a.tiers]  # type: ignore[union-attr]
    assert len(msgs) == len(tiers) and payload["metadata"] == f"riskparams:{sp.id}"
    for k, (m, t) in enumerate(zip(msgs, tiers, strict=True)):
        assert m["@type"] == "/dydxprotocol.perpetuals.MsgSetLiquidityTier"
        assert m["authority"] == "dydx10d07y265gmmuvt4z0w9aw880jnsr700jnmapky"
        lt = m["liquidity_tier"]
        assert set(lt) == {"id", "name", "initial_margin_ppm", "maintenance_fraction_ppm", "impact_notional",
                           "open_interest_lower_cap", "open_interest_upper_cap"}
        assert lt["id"] == 7 + k and all(isinstance(lt[key], int) for key in set(lt) - {"name"})
        assert lt["initial_margin_ppm"] == math.ceil(round(t.imf * 1e6, 6))
        assert lt["maintenance_fraction_ppm"] == math.ceil(round(t.mmf / t.imf * 1e6, 6))
        assert lt["initial_margin_ppm"] * lt["maintenance_fraction_ppm"] / 1e12 >= t.mmf - 1e-12
        assert lt["impact_notional"] == round(500 * 1e6 / (lt["initial_margin_ppm"] / 1e6))
        assert lt["open_interest_lower_cap"] == lt["open_interest_upper_cap"] == 0
    first = msgs[0]["liquidity_tier"]
    assert first["name"] == "BTC-SYN tier 1" and first["initial_margin_ppm"] == 100_000  # 10x
    assert first["maintenance_fraction_ppm"] == 370_000 and first["impact_notional"] == 5_000_000_000
    assert payload["riskparams"]["final"] is False and "maintenance_fraction_ppm" in payload["riskparams"]["mapping"]
    with pytest.raises(ex.ExportError, match="first dYdX liquidity tier id must be a whole number >= 0"):
        ex.to_dydx(sp, first_id=-1)


def test_aave_payload_mapping(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["lending"])
    assert ex.KEEP_CURRENT == 2**256 - 1 - 42
    payload = json.loads(ex.to_aave(sp, asset_addresses={"btc-syn": "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"}))
    assert payload["KEEP_CURRENT"] == ex.KEEP_CURRENT
    ups = {u["asset"]: u for u in payload["collateralUpdates"]}
    btc = ups["0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"]
    assert set(btc) == {"asset", "ltv", "liqThreshold", "liqBonus", "debtCeiling", "liqProtocolFee"}
    by = {a.symbol: a for a in proposals["lending"].assets}
    assert btc["ltv"] == round(by["BTC-SYN"].ltv * 1e4)  # type: ignore[union-attr]
    assert btc["liqThreshold"] == round(by["BTC-SYN"].liquidation_threshold * 1e4)  # type: ignore[union-attr]
    assert btc["liqBonus"] == round(by["BTC-SYN"].liquidation_bonus * 1e4) < 10_000  # type: ignore[union-attr]
    assert btc["debtCeiling"] == btc["liqProtocolFee"] == ex.KEEP_CURRENT
    eth = ups["ETH-SYN"]  # proposed LTV equals the current 80%: kept
    assert by["ETH-SYN"].ltv == 0.8 and eth["ltv"] == ex.KEEP_CURRENT  # type: ignore[union-attr]
    assert eth["liqThreshold"] == 8750 and eth["liqBonus"] == 450


def test_a_payload_of_the_other_profile_is_a_one_line_error(proposals: dict[str, Proposal]) -> None:
    _, perp = stored(proposals["perp"])
    _, lending = stored(proposals["lending"])
    with pytest.raises(ex.ExportError, match=r"^a perp proposal cannot be exported as a venue payload for aave "):
        ex.render("aave", perp)
    with pytest.raises(ex.ExportError, match=r"^a lending proposal cannot be exported as a venue payload for dydx "):
        ex.to_dydx(lending)
    with pytest.raises(ex.ExportError, match="export format must be one of"):
        ex.render("xlsx", perp)


def test_backtest_payload_is_rendered_and_checked(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["perp"])
    md = ex.to_markdown(sp, backtest=BACKTEST).decode()
    assert "Backtest `bt-0001` over 2022-01-01 to 2024-12-31 (computed 2025-02-01T00:00:00Z)" in md
    assert "| BTC-SYN | proposed | 750 | 9 | 7.5 | 99.00% | 0.590 | 0.650 | 0.780 | green | 8.10% | 2.40 | 35.00% | 0 " \
           "| 41 |" in md
    assert "| BTC-SYN | current | 750 | 24 | 7.5 | 99.00% | - |" in md and "No backtest attached" not in md
    for bad, message in ((["x"], "must be a JSON object"), ({"id": "b"}, "missing 'start'"),
                         ({**BACKTEST, "results": [{"symbol": "X"}]}, "result 1 is missing 'parameter_set'")):
        with pytest.raises(ex.ExportError, match=message):
            ex.to_markdown(sp, backtest=bad)  # type: ignore[arg-type]


def test_load_backtest_reads_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "bt.json"
    path.write_text(json.dumps(BACKTEST).replace("NaN", "null"))
    assert ex.load_backtest(path)["id"] == "bt-0001"
    path.write_text("{")
    with pytest.raises(ex.ExportError, match="is not valid JSON"):
        ex.load_backtest(path)
    with pytest.raises(ex.ExportError, match="not found"):
        ex.load_backtest(tmp_path / "none.json")


def test_an_altered_proposal_is_not_exported(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["perp"])
    d = sp.to_dict()
    d["assets"][0]["tiers"][0]["mmf"] = 0.001
    with pytest.raises(ex.ExportError, match="does not hash to its id"):
        ex.to_markdown(d)


def test_a_revision_exports_its_overrides(proposals: dict[str, Proposal]) -> None:
    s, sp = stored(proposals["lending"])
    rev = gov.revise(s, sp.id, "ben", [Override.parse("ETH-SYN:liquidation_bonus=5%")],
                     justification="liquidator depth is thin", committee=COMMITTEE)
    md = ex.to_markdown(get_proposal(s, rev.id)).decode()
    assert "### Manual overrides" in md and "liquidator depth is thin" in md and "5.00% (override)" in md
    assert f"**Revision:** 2 (parent `{sp.id}`; made by @ben)" in md
    aave = json.loads(ex.to_aave(get_proposal(s, rev.id)))
    eth = next(u for u in aave["collateralUpdates"] if u["asset"] == "ETH-SYN")
    assert eth["liqBonus"] == ex.KEEP_CURRENT  # back to the current 5%


def test_tier_ladder_chart_steps_current_and_proposed() -> None:
    proposed = [(0.0, 1e6, 10.0, 0.037), (1e6, None, 5.0, 0.075)]
    current = [(0.0, 1e6, 20.0, 0.025), (1e6, None, 10.0, 0.05)]
    fig = charts.tier_ladder(proposed, current, title="BTC", open_end=2e8)
    names = [(t.name, tuple(t.y)) for t in fig.data]
    assert names[0] == ("proposed", (10.0, 10.0, 5.0, 5.0)) and names[3] == ("current", (0.025, 0.025, 0.05, 0.05))
    assert fig.data[0].x[0] == pytest.approx(1e5) and fig.data[0].x[-1] == pytest.approx(2e8)
    html_a = charts.figure_html(fig, "fig-x", include_plotlyjs=False)
    assert html_a == charts.figure_html(fig, "fig-x", include_plotlyjs=False) and 'id="fig-x"' in html_a

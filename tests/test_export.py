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
from riskparams.domain import LendingAssetProposal, PerpAssetProposal, Proposal
from riskparams.governance import Override, committee_from_dict
from riskparams.service import fit_spec_for
from riskparams.store import Store
from riskparams.store.records import StoredProposal, get_proposal, save_proposal

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
# the policy of the conftest ``proposals`` fixture (ADV overrides of a liquid market)
POLICY = policy_from_dict({"model": {"model": "ewma", "n_sims": 200},
                           "liquidity": {"adv_override": {"BTC-SYN": 2e9, "ETH-SYN": 1e9}}})
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






def raised_mmf(a: PerpAssetProposal) -> float:
    """A tier-1 MMF above the proposed one that keeps every invariant (below tier 1's IMF, at most tier 2's MMF)."""
    t0, t1 = a.tiers[0], a.tiers[1]
    v = round((t0.mmf + min(t0.imf, t1.mmf)) / 2, 4)
    assert t0.mmf < v < t0.imf and v <= t1.mmf
    return v


def stored(proposal: Proposal) -> tuple[Store, StoredProposal]:
    s = Store.memory()
    return s, save_proposal(s, proposal)


def approve(s: Store, pid: str) -> None:
    gov.submit_for_review(s, pid, "ann", committee=COMMITTEE)
    gov.sign_off(s, pid, "ben", committee=COMMITTEE)
    gov.sign_off(s, pid, "cat", committee=COMMITTEE)
    gov.approve(s, pid, "ann", committee=COMMITTEE)


def notional(x: float | None) -> str:
    """Bracket label of a round notional as the exports print it: 0, 1M, 20M, open."""
    if x is None:
        return "open"
    return "0" if x == 0 else f"{x / 1e6:g}M"


def spec_row(a: PerpAssetProposal, parameter: str, tier: int) -> str:
    """The Markdown specification row of one perp line, rebuilt from the proposal's numbers."""
    names = {"mmf": "Maintenance margin fraction (MMF)", "max_leverage": "Max leverage",
             "liquidation_penalty": "Liquidation penalty"}
    ln = next(x for x in a.lines if (x.parameter, x.tier) == (parameter, tier))
    t = a.tiers[tier]
    assert ln.current is not None
    if parameter == "max_leverage":
        cur, new, step = f"{ln.current:g}x", f"{ln.proposed:g}x", f"{ln.proposed - ln.current:+g}x"
        change = "0x" if ln.proposed == ln.current else f"{step} ({ln.proposed / ln.current - 1:+.1%})"
    else:
        bps = round((ln.proposed - ln.current) * 1e4)
        cur, new = f"{ln.current:.2%}", f"{ln.proposed:.2%}"
        change = "0 bps" if bps == 0 else f"{bps:+d} bps ({ln.proposed / ln.current - 1:+.1%})"
    label = f"{names[parameter]}, tier {tier + 1} ({notional(t.notional_floor)}-{notional(t.notional_cap)})"
    return f"| {a.symbol} | {label} | {cur} | {new} | {change} |"


def test_markdown_has_the_arfc_sections(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["perp"])
    md = ex.to_markdown(sp).decode("utf-8")
    assert md.startswith("# [ARFC] Risk parameter update: perpetual margin tiers for BTC-SYN, ETH-SYN\n")
    for head in ("**Author:**", "**Date:** " + sp.created_at.strftime("%Y-%m-%d"), f"**Proposal id:** `{sp.id}`"):
        assert head in md
    positions = [md.index(s) for s in MD_SECTIONS]
    assert positions == sorted(positions)
    assert "| Asset | Parameter | Current | Proposed | Change |" in md
    assets: list[PerpAssetProposal] = list(proposals["perp"].assets)  # type: ignore[arg-type]
    btc = assets[0]
    assert btc.symbol == "BTC-SYN"
    assert spec_row(btc, "mmf", 0) in md and spec_row(btc, "max_leverage", 0) in md
    # one row of each kind of change, wherever the model put it (formats: bps and x with the relative change)
    for parameter, moved in (("mmf", lambda ln: ln.proposed > ln.current),
                             ("max_leverage", lambda ln: ln.proposed != ln.current),
                             ("liquidation_penalty", lambda ln: ln.proposed < ln.current)):
        a, ln = next((a, ln) for a in assets for ln in a.lines if ln.parameter == parameter and moved(ln))
        assert ln.tier is not None
        row = spec_row(a, parameter, ln.tier)
        assert row in md and ("bps (" in row or "x (" in row), row
    assert "No backtest attached to this export." in md
    mpor = proposals["perp"].policy["mpor"]
    t1 = btc.tiers[0]
    assert t1.horizon_hours < 1  # tier 1 closes out within the hour: printed in minutes
    for needle in ("confidence 99.00%", f"{mpor['oracle_latency_minutes']:g} min oracle latency",
                   f"{mpor['liquidation_delay_minutes']:g} min liquidation delay", f"at most {mpor['max_hours']:g} hours",
                   f"| BTC-SYN | 1 | 1M | {t1.horizon_hours * 60:.0f} min | {t1.covered_move:.2%} | ",
                   "Anti-procyclicality", "Data fingerprint (SHA-256)",
                   btc.context.fingerprint, "policy-v1-", "numpy ", "SOL-SYN"):  # type: ignore[union-attr]
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
    assert list(prov["model_specs"]) == [fit_spec_for(POLICY, "perp").key()]
    assert bundle["workflow"]["status"] == "draft" and bundle["backtest"]["id"] == "bt-0001"
    assert bundle["backtest"]["results"][1]["kupiec_p"] is None  # NaN -> null
    assert len(bundle["specification"]) == sum(len(a.lines) for a in proposals["perp"].assets)


def csv_number(x: float) -> str:
    """A number as the CSV writes it: whole numbers without a decimal point, others to 12 significant digits."""
    return str(int(x)) if x == int(x) else format(x, ".12g")


def test_csv_has_one_row_per_asset_parameter_tier(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["perp"])
    rows = list(csv.DictReader(io.StringIO(ex.to_csv(sp).decode("utf-8"))))
    assert list(rows[0]) == list(ex.CSV_COLUMNS)
    assert len(rows) == sum(len(a.lines) for a in proposals["perp"].assets)
    keys = {(r["symbol"], r["parameter"], r["tier"]) for r in rows}
    assert len(keys) == len(rows) and ("BTC-SYN", "mmf", "1") in keys
    r = next(r for r in rows if (r["symbol"], r["parameter"], r["tier"]) == ("BTC-SYN", "mmf", "1"))
    btc: PerpAssetProposal = proposals["perp"].assets[0]  # type: ignore[assignment]
    ln = next(x for x in btc.lines if (x.parameter, x.tier) == ("mmf", 0))
    assert ln.current is not None
    assert (r["current"], r["proposed"], r["change"], r["notional_floor"], r["notional_cap"]) == (
        csv_number(ln.current), csv_number(ln.proposed), csv_number(ln.proposed - ln.current), "0", "1000000")
    for row in rows:  # every change is proposed - current
        if row["current"]:
            assert float(row["change"]) == pytest.approx(float(row["proposed"]) - float(row["current"]), abs=1e-9)
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
    rev = gov.revise(s, sp.id, "ben", [Override(symbol=a.symbol, parameter="mmf", tier=0, value=raised_mmf(a))
                                       for a in proposals["perp"].assets],  # type: ignore[arg-type]
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
    # the liquidity tiers; the MsgUpdatePerpetualParams that follow them are checked in tests/test_venues.py
    msgs = [m for m in payload["messages"] if m["@type"] == ex.DYDX_MSG_TYPE]
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
        caps = (lt["open_interest_lower_cap"], lt["open_interest_upper_cap"])  # 0, 0 without a proposed OI cap
        assert caps == (0, 0) or 0 < caps[0] < caps[1]
    first, t0 = msgs[0]["liquidity_tier"], tiers[0]
    # tier 1 from its max leverage L: IMF 1/L, maintenance fraction MMF x L of it, impact 500 USDC x L
    assert first["name"] == "BTC-SYN tier 1" and first["initial_margin_ppm"] == round(1e6 / t0.max_leverage)
    assert first["maintenance_fraction_ppm"] == round(t0.mmf * t0.max_leverage * 1e6)
    assert first["impact_notional"] == round(500 * 1e6 * t0.max_leverage)
    assert payload["riskparams"]["final"] is False and "maintenance_fraction_ppm" in payload["riskparams"]["mapping"]
    with pytest.raises(ex.ExportError, match="first dYdX liquidity tier id must be a whole number >= 0"):
        ex.to_dydx(sp, first_id=-1)


def test_aave_payload_mapping(proposals: dict[str, Proposal]) -> None:
    _, sp = stored(proposals["lending"])
    assert ex.KEEP_CURRENT == 2**256 - 1 - 42
    payload = json.loads(ex.to_aave(sp, asset_addresses={"btc-syn": "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"}))
    assert payload["KEEP_CURRENT"] == ex.KEEP_CURRENT
    ups = {u["asset"]: u for u in payload["collateralUpdates"]}
    addresses = {"BTC-SYN": "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", "ETH-SYN": "ETH-SYN"}
    kept = written = 0
    for a in proposals["lending"].assets:
        assert isinstance(a, LendingAssetProposal) and a.current is not None
        # ltv and threshold floor to bps, the bonus rounds up (bps without the 100% base); a value equal to the
        # current one is KEEP_CURRENT; an asset with nothing to change is left out
        fields = {
            "ltv": (math.floor(round(a.ltv * 1e4, 6)), math.floor(round(a.current.ltv * 1e4, 6))),
            "liqThreshold": (math.floor(round(a.liquidation_threshold * 1e4, 6)),
                             math.floor(round(a.current.liquidation_threshold * 1e4, 6))),
            "liqBonus": (math.ceil(round(a.liquidation_bonus * 1e4, 6)),
                         math.ceil(round(a.current.liquidation_bonus * 1e4, 6))),
        }
        expected = {k: ex.KEEP_CURRENT if new == cur else new for k, (new, cur) in fields.items()}
        kept += sum(v == ex.KEEP_CURRENT for v in expected.values())
        written += sum(v != ex.KEEP_CURRENT for v in expected.values())
        if all(v == ex.KEEP_CURRENT for v in expected.values()):
            assert a.symbol in payload["riskparams"]["unchanged"] and addresses[a.symbol] not in ups
            continue
        up = ups[addresses[a.symbol]]
        assert set(up) == {"asset", "ltv", "liqThreshold", "liqBonus", "debtCeiling", "liqProtocolFee"}
        assert {k: up[k] for k in expected} == expected
        assert up["debtCeiling"] == up["liqProtocolFee"] == ex.KEEP_CURRENT
        assert up["liqBonus"] == ex.KEEP_CURRENT or up["liqBonus"] < 10_000
    assert kept and written  # both branches of the mapping are exercised by the fixture


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
    eth = next(a for a in proposals["lending"].assets if a.symbol == "ETH-SYN")
    assert isinstance(eth, LendingAssetProposal) and eth.current is not None
    back = eth.current.liquidation_bonus  # the bonus back to the current one, the LTV down by 5 points
    assert back != eth.liquidation_bonus and eth.ltv >= 0.05
    lower_ltv = round(eth.ltv - 0.05, 4)
    rev = gov.revise(s, sp.id, "ben", [Override.parse(f"ETH-SYN:liquidation_bonus={back * 100:g}%"),
                                       Override(symbol="ETH-SYN", parameter="ltv", value=lower_ltv)],
                     justification="liquidator depth is thin", committee=COMMITTEE)
    md = ex.to_markdown(get_proposal(s, rev.id)).decode()
    assert "### Manual overrides" in md and "liquidator depth is thin" in md and f"{back:.2%} (override)" in md
    assert f"**Revision:** 2 (parent `{sp.id}`; made by @ben)" in md
    aave = json.loads(ex.to_aave(get_proposal(s, rev.id)))
    up = next(u for u in aave["collateralUpdates"] if u["asset"] == "ETH-SYN")
    assert up["liqBonus"] == ex.KEEP_CURRENT  # back to the current bonus
    assert up["ltv"] == math.floor(round(lower_ltv * 1e4, 6))


def test_tier_ladder_chart_steps_current_and_proposed() -> None:
    proposed = [(0.0, 1e6, 10.0, 0.037), (1e6, None, 5.0, 0.075)]
    current = [(0.0, 1e6, 20.0, 0.025), (1e6, None, 10.0, 0.05)]
    fig = charts.tier_ladder(proposed, current, title="BTC", open_end=2e8)
    names = [(t.name, tuple(t.y)) for t in fig.data]
    assert names[0] == ("proposed", (10.0, 10.0, 5.0, 5.0)) and names[3] == ("current", (0.025, 0.025, 0.05, 0.05))
    assert fig.data[0].x[0] == pytest.approx(1e5) and fig.data[0].x[-1] == pytest.approx(2e8)
    html_a = charts.figure_html(fig, "fig-x", include_plotlyjs=False)
    assert html_a == charts.figure_html(fig, "fig-x", include_plotlyjs=False) and 'id="fig-x"' in html_a


# -- options and under-covered tiers ----------------------------------------------------------------
OPTION_NAMES = ["conservative", "moderate", "aggressive"]


@pytest.fixture(scope="module")
def calibrated() -> dict[str, Proposal]:
    """Perp proposals of the conftest data (synthetic bars, ADV overrides of a liquid market), not stored:

    * ``options``: BTC-SYN and ETH-SYN with the three built-in options, no current parameters;
    * ``under``: BTC-SYN against current parameters whose tier-1 MMF is half the model's, so the max-change
      guardrail holds the proposed MMF below the model's (an under-covered tier).
    """
    import warnings

    from conftest import syn_perp_store

    from riskparams.params_io import parse_current
    from riskparams.service import propose

    s = syn_perp_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with_options = propose(s, profile="perp", policy=POLICY, options=OPTION_NAMES, save=False).proposal
        model_mmf = with_options.assets[0].tiers[0].mmf_model  # type: ignore[union-attr]
        low = round(model_mmf / 2, 4)
        current = parse_current("symbol,notional_cap,max_leverage,maintenance_rate,liquidation_penalty,unit\n"
                                f"BTC-SYN,1000000,20,{low},,fraction\nBTC-SYN,,3,0.2,,fraction\n",
                                name="low.csv", profile="perp", fmt="csv")
        under = propose(s, profile="perp", policy=POLICY, current=current, symbols=["BTC-SYN"], save=False).proposal
    s.close()
    return {"options": with_options, "under": under}


def section(md: str, head: str, end: str) -> str:
    start = md.index(head)
    return md[start:md.index(end, start)]


def cells(row: str) -> list[str]:
    """The cells of a Markdown table row, split as GFM does: at every pipe that no backslash escapes."""
    return [c.strip() for c in re.findall(r"\|((?:\\.|[^|\\])*)(?=\|)", row)]


def table_after(md: str, head: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``head`` (without its header and rule)."""
    lines = md[md.index(head):].splitlines()
    first = next(k for k, ln in enumerate(lines) if ln.startswith("|"))
    rows = []
    for ln in lines[first + 2:]:
        if not ln.startswith("|"):
            break
        rows.append(cells(ln))
    return rows


def option_assets(p: Proposal, name: str) -> dict[str, dict[str, Any]]:
    opt = next(o for o in p.content()["options"] if o["name"] == name)
    return {a["symbol"]: a for a in opt["assets"]}


def test_markdown_options_table_and_worst_coverage(calibrated: dict[str, Proposal]) -> None:
    p = calibrated["options"]
    _, sp = stored(p)
    md = ex.to_markdown(sp).decode()
    spec = section(md, "## Specification", "## Methodology")
    assert "### Options" in spec
    recommended = [o["name"] for o in p.content()["options"] if o["recommended"]]
    assert recommended == ["moderate"] and "**moderate** (recommended)" in spec
    rows = table_after(spec, "### Options")
    assert [(r[0], r[1]) for r in rows] == [(sym, name) for sym in ("BTC-SYN", "ETH-SYN") for name in OPTION_NAMES]
    for sym in ("BTC-SYN", "ETH-SYN"):
        mmfs = [float(r[3].rstrip("%")) / 100 for r in rows if r[0] == sym]
        # the table shows each option's own tier 1 ...
        assert mmfs == pytest.approx([option_assets(p, n)[sym]["tiers"][0]["mmf"] for n in OPTION_NAMES], abs=5e-5)
        # ... and margins only fall from conservative to aggressive (the conservative one strictly above)
        assert mmfs[0] >= mmfs[1] >= mmfs[2] and mmfs[0] > mmfs[2], (sym, mmfs)
    # the recommended option is the specification itself
    moderate = option_assets(p, "moderate")
    for a in p.assets:
        assert [t["mmf"] for t in moderate[a.symbol]["tiers"]] == [t.mmf for t in a.tiers]  # type: ignore[union-attr]
    # Summary: the least-covered tier, found here independently
    conf = p.policy["confidence"]
    cov, sym, k = min((t.coverage, a.symbol, k) for a in p.assets for k, t in enumerate(a.tiers))  # type: ignore[union-attr]
    verdict = "meets" if cov >= conf else "falls short of"
    summary = section(md, "## Summary", "## Motivation")
    assert (f"Coverage as proposed: the worst tier is {sym} tier {k + 1} at {cov:.2%}, which {verdict} the "
            f"{conf:.2%} target.") in summary
    assert "Under-covered" not in md  # no guardrail without current parameters


def test_markdown_names_an_under_covered_tier_in_summary_and_risks(calibrated: dict[str, Proposal]) -> None:
    p = calibrated["under"]
    btc = p.assets[0]
    assert isinstance(btc, PerpAssetProposal) and btc.current is not None
    t0, cur0 = btc.tiers[0], btc.current[0]
    mmf_line = next(ln for ln in btc.lines if (ln.parameter, ln.tier) == ("mmf", 0))
    # the premise: the max-change guardrail holds tier 1 below the model's MMF
    assert mmf_line.bound == "max_change" and t0.mmf < t0.mmf_model and t0.under_covered
    g = p.policy["guardrails"]["max_relative_change"]
    assert t0.mmf == pytest.approx(cur0.mmf * (1 + g))
    _, sp = stored(p)
    md = ex.to_markdown(sp).decode()
    named = [f"BTC-SYN tier {k + 1} (MMF {t.mmf:.2%} against the model's {t.mmf_model:.2%}, coverage {t.coverage:.2%})"
             for k, t in enumerate(btc.tiers) if t.under_covered]
    assert named[0].startswith("BTC-SYN tier 1 (")
    summary = section(md, "## Summary", "## Motivation")
    risks = section(md, "## Risks and next steps", "### Next steps")
    assert "Under-covered because a guardrail holds the margin below the model's: " + "; ".join(named) + "." in summary
    assert "Under-covered tiers" in risks and "; ".join(named) + "." in risks
    cov, k = min((t.coverage, k) for k, t in enumerate(btc.tiers))
    verdict = "meets" if cov >= p.policy["confidence"] else "falls short of"
    assert f"the worst tier is BTC-SYN tier {k + 1} at {cov:.2%}, which {verdict} the" in summary
    # held below the model's MMF, tier 1 covers less than the model's own tier 1 on the same data (0-1m)
    model_t0 = calibrated["options"].assets[0].tiers[0]  # type: ignore[union-attr]
    assert (model_t0.notional_cap, model_t0.mmf) == (t0.notional_cap, t0.mmf_model)
    assert t0.coverage < model_t0.coverage
    assert "(under-covered)" in section(md, "### Margin period of risk and coverage per tier", "### Model risk")
    covered = [k for k, t in enumerate(btc.tiers) if not t.under_covered]
    assert covered  # the second bracket's current MMF is above the model's: held, not under-covered
    for k in covered:  # a covered tier is not named
        assert f"BTC-SYN tier {k + 1} (MMF" not in md


def test_a_dydx_payload_carries_the_chosen_option(calibrated: dict[str, Proposal]) -> None:
    p = calibrated["options"]
    chosen = option_assets(p, "conservative")
    recommended = {a.symbol: a for a in p.assets}
    # the premise: the conservative option proposes other tiers than the recommended one
    assert any([t["mmf"] for t in chosen[sym]["tiers"]] != [t.mmf for t in a.tiers]  # type: ignore[union-attr]
               for sym, a in recommended.items())
    for option, expected in (("conservative", {sym: a["tiers"] for sym, a in chosen.items()}),
                             (None, {sym: [t.to_dict() for t in a.tiers]  # type: ignore[union-attr]
                                     for sym, a in recommended.items()})):
        s, sp = stored(p)
        gov.submit_for_review(s, sp.id, "ann", committee=COMMITTEE)
        gov.sign_off(s, sp.id, "ben", committee=COMMITTEE)
        gov.sign_off(s, sp.id, "cat", committee=COMMITTEE)
        gov.approve(s, sp.id, "ann", option=option, committee=COMMITTEE)
        payload = json.loads(gov.export_proposal(s, sp.id, "dydx", "eve", committee=COMMITTEE).data)
        assert payload["riskparams"]["option"] == (option or "moderate") and payload["riskparams"]["final"] is True
        want = [(sym, k + 1, t) for sym in sorted(expected) for k, t in enumerate(expected[sym])]
        got = payload["riskparams"]["tiers"]
        assert [(g["symbol"], g["tier"]) for g in got] == [(sym, k) for sym, k, _ in want]
        tier_msgs = [m for m in payload["messages"] if m["@type"] == ex.DYDX_MSG_TYPE]
        for g, m, (_, _, t) in zip(got, tier_msgs, want, strict=True):
            assert (g["max_leverage"], g["imf"], g["mmf"], g["notional_floor"]) == (
                t["max_leverage"], t["imf"], t["mmf"], t["notional_floor"])
            lt = m["liquidity_tier"]
            assert lt["initial_margin_ppm"] == math.ceil(round(t["imf"] * 1e6, 6))
            assert lt["maintenance_fraction_ppm"] == math.ceil(round(t["mmf"] / t["imf"] * 1e6, 6))
        md = gov.export_proposal(s, sp.id, "md", "eve", committee=COMMITTEE).data.decode()
        assert f"The committee chose the **{option or 'moderate'}** option (see Options)." in md

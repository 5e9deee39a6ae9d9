"""The governance commands: `proposals`, `status`, `review`/`sign`/`dissent`/`approve`..., `override`, `diff`
and `export`: exit codes, output files, JSON keys and one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import cli_fails as fails
from conftest import run_cli as run

from riskparams.config import policy_from_dict
from riskparams.domain import LendingAssetProposal, Proposal
from riskparams.governance import COMMITTEE_ENV_VAR, MEMBER_ENV_VAR
from riskparams.store import Store
from riskparams.store.records import save_proposal

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
POLICY = policy_from_dict({"model": {"model": "ewma", "n_sims": 200}})






@pytest.fixture
def ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proposals: dict[str, Proposal]) -> dict[str, str]:
    """A store file (``$RISKPARAMS_DB``) with a perp and a lending draft; the example committee."""
    path = tmp_path / "g.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    monkeypatch.delenv(COMMITTEE_ENV_VAR, raising=False)
    monkeypatch.delenv(MEMBER_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with Store(path) as s:
        return {p: save_proposal(s, proposals[p]).id for p in ("perp", "lending")}


def approve(capsys: pytest.CaptureFixture[str], pid: str) -> None:
    for args in (("review", pid, "--as", "alice"), ("sign", pid, "--as", "bob"), ("sign", pid, "--as", "carol"),
                 ("approve", pid, "--as", "alice", "-m", "vote 7")):
        assert run(capsys, *args)[0] == 0


def test_proposals_lists_status_profile_assets_sign_offs_and_time(capsys: pytest.CaptureFixture[str],
                                                                 ids: dict[str, str]) -> None:
    code, out, _ = run(capsys, "proposals")
    assert code == 0 and out.splitlines()[0].split()[:5] == ["id", "status", "profile", "rev", "assets"]
    assert ids["perp"][:12] in out and "BTC-SYN, ETH-SYN" in out and "0/2" in out
    code, out, _ = run(capsys, "proposals", "--json")
    rows = json.loads(out)
    assert code == 0 and {r["id"] for r in rows} == set(ids.values())
    assert set(rows[0]) >= {"id", "status", "profile", "assets", "sign_offs", "dissents", "quorum", "created_at"}
    assert json.loads(run(capsys, "proposals", "--json", "--profile", "lending")[1])[0]["id"] == ids["lending"]


def test_workflow_commands_and_their_exit_codes(capsys: pytest.CaptureFixture[str], ids: dict[str, str]) -> None:
    pid = ids["perp"][:10]
    code, out, _ = run(capsys, "review", pid, "--as", "alice", "-m", "please review")
    assert code == 0 and out.strip() == f"proposal {ids['perp'][:12]} (revision 1) is in review; 0 of 2 sign-offs"
    assert "may not sign it off" in fails(capsys, "sign", pid, "--as", "alice")
    assert run(capsys, "sign", pid, "--as", "bob")[0] == 0
    assert "has already signed off" in fails(capsys, "sign", pid, "--as", "bob")
    assert "1 of the 2 sign-offs" in fails(capsys, "approve", pid, "--as", "alice")
    assert "a dissent needs a comment" in fails(capsys, "dissent", pid, "--as", "dave")
    assert run(capsys, "dissent", pid, "--as", "dave", "-m", "tier 1 too thin")[0] == 0
    assert run(capsys, "sign", pid, "--as", "carol")[0] == 0
    assert "unresolved dissent from @dave" in fails(capsys, "approve", pid, "--as", "alice")
    code, out, _ = run(capsys, "retract", pid, "--as", "dave", "--json")
    assert code == 0 and json.loads(out)["quorum_met"] is True
    assert "only a chair may approve" in fails(capsys, "approve", pid, "--as", "bob")
    assert run(capsys, "approve", pid, "--as", "alice")[0] == 0
    assert "approved and cannot change" in fails(capsys, "withdraw", pid, "--as", "bob")
    assert run(capsys, "comment", pid, "--as", "erin", "-m", "noted")[0] == 0
    code, out, _ = run(capsys, "status", pid)
    assert code == 0 and "is approved" in out and "signed off: @bob" in out and "dissented" in out
    wf = json.loads(run(capsys, "status", pid, "--json")[1])
    assert [e["action"] for e in wf["events"]] == ["created", "submitted", "signed_off", "dissented", "signed_off", "retracted",
                                                   "approved", "commented"]
    assert json.loads(run(capsys, "proposals", "--json")[1])[-1]["status"] in ("approved", "draft")


def test_who_acts_must_be_a_listed_member(capsys: pytest.CaptureFixture[str], ids: dict[str, str],
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = ids["perp"][:10]
    assert "unknown committee member 'mallory'" in fails(capsys, "review", pid, "--as", "mallory")
    assert "--as HANDLE (or set RISKPARAMS_MEMBER)" in fails(capsys, "review", pid)
    monkeypatch.setenv(MEMBER_ENV_VAR, "bob")
    assert run(capsys, "review", pid)[0] == 0
    other = tmp_path / "other.toml"
    other.write_text('quorum = 1\n[[members]]\nname = "Zed"\nhandle = "zed"\nrole = "chair"\n')
    # the store's committee was registered by the first action: a private one-person file changes nothing
    assert "the committee in other.toml is not this store's committee" in fails(capsys, "sign", pid, "--committee",
                                                                                str(other))
    monkeypatch.setenv(COMMITTEE_ENV_VAR, str(other))
    assert "is not this store's committee" in fails(capsys, "sign", pid, "--as", "zed")
    monkeypatch.delenv(COMMITTEE_ENV_VAR)
    assert "unknown committee member 'zed'" in fails(capsys, "sign", pid, "--as", "zed")
    monkeypatch.setenv(COMMITTEE_ENV_VAR, str(other))
    (tmp_path / "bad.toml").write_text('quorum = 0\n[[members]]\nname = "Z"\nhandle = "z"\nrole = "chair"\n')
    assert "quorum must be a whole number in [1, 1]" in fails(capsys, "proposals", "--committee",
                                                               str(tmp_path / "bad.toml"))
    assert "no stored proposal has id 'abcdef01'" in fails(capsys, "status", "abcdef01", "--committee", str(other))


def test_export_writes_each_format_and_records_it(capsys: pytest.CaptureFixture[str], ids: dict[str, str],
                                                  tmp_path: Path) -> None:
    pid = ids["perp"]
    approve(capsys, pid[:10])
    for fmt, check in (("md", lambda b: b.decode().startswith("# [ARFC]")), ("json", lambda b: json.loads(b)),
                       ("csv", lambda b: list(csv.reader(io.StringIO(b.decode())))[1:]),
                       ("html", lambda b: b"Plotly.newPlot" in b), ("dydx", lambda b: json.loads(b)["messages"])):
        out = tmp_path / f"p.{fmt}"
        code, text, err = run(capsys, "export", pid[:10], "--format", fmt, "--out", str(out), "--as", "erin")
        assert code == 0 and err == "" and f"wrote {out}" in text and "proposal is exported" in text
        first = out.read_bytes()
        assert check(first)
        assert run(capsys, "export", pid[:10], "-f", fmt, "-o", str(out), "--as", "erin")[0] == 0
        assert out.read_bytes() == first  # identical bytes
    code, _, _ = run(capsys, "export", pid[:10], "-f", "md", "--as", "erin")  # default file name, here
    assert code == 0 and (tmp_path / f"proposal-{pid[:12]}.md").exists()
    wf = json.loads(run(capsys, "status", pid[:10], "--json")[1])
    assert wf["status"] == "exported" and [e["action"] for e in wf["events"]].count("exported") == 11


def test_export_errors_are_one_line(capsys: pytest.CaptureFixture[str], ids: dict[str, str], tmp_path: Path) -> None:
    perp, lending = ids["perp"][:10], ids["lending"][:10]
    assert "a perp proposal cannot be exported as a venue payload for aave" in fails(
        capsys, "export", perp, "-f", "aave", "--as", "erin")
    assert "a lending proposal cannot be exported as a venue payload for dydx" in fails(
        capsys, "export", lending, "-f", "dydx", "--as", "erin")
    assert "venue payloads are exported only from approved proposals" in fails(
        capsys, "export", lending, "-f", "aave", "--as", "erin")
    assert "invalid choice: 'pdf'" in fails(capsys, "export", perp, "-f", "pdf", "--as", "erin")
    assert "backtest file" in fails(capsys, "export", perp, "-f", "md", "--as", "erin", "--backtest",
                                    str(tmp_path / "none.json"))
    assert "cannot write" in fails(capsys, "export", perp, "-f", "md", "--as", "erin", "-o",
                                   str(tmp_path / "no" / "such" / "dir.md"))


def test_a_draft_exports_to_stdout_marked_draft(capsys: pytest.CaptureFixture[str], ids: dict[str, str],
                                                tmp_path: Path) -> None:
    bt = tmp_path / "bt.json"
    bt.write_text(json.dumps({"id": "bt-9", "start": "2022-01-01", "end": "2024-12-31", "results": [
        {"symbol": "ETH-SYN", "parameter_set": "proposed", "exceptions": 3, "expected": 2.5}]}))
    code, out, err = run(capsys, "export", ids["lending"][:10], "-f", "md", "-o", "-", "--as", "erin",
                         "--backtest", str(bt))
    assert code == 0 and out.startswith("# [ARFC]") and "DRAFT - not approved" in out and "bt-9" in out
    assert "marked DRAFT" in err and len(err.strip().splitlines()) == 1


def test_override_and_diff_commands(capsys: pytest.CaptureFixture[str], ids: dict[str, str],
                                    proposals: dict[str, Proposal]) -> None:
    lid = ids["lending"][:10]
    by = {a.symbol: a for a in proposals["lending"].assets}
    btc, eth = by["BTC-SYN"], by["ETH-SYN"]
    assert isinstance(btc, LendingAssetProposal) and isinstance(eth, LendingAssetProposal)
    # ETH-SYN's LTV 5 points down (in %), BTC-SYN's bonus 100 bps up (in bps): both still valid
    btc_bonus_bps, eth_ltv_pct = round(btc.liquidation_bonus * 1e4) + 100, round(eth.ltv * 100) - 5
    assert btc.liquidation_threshold * (1 + btc_bonus_bps / 1e4) <= 1 and 0 <= eth_ltv_pct
    assert "an override needs a written justification" in fails(
        capsys, "override", lid, "--as", "bob", "--set", f"ETH-SYN:ltv={eth_ltv_pct / 100}", "-j", " ")
    assert "must look like SYMBOL:PARAMETER[:TIER]=VALUE" in fails(
        capsys, "override", lid, "--as", "bob", "--set", "ETH-SYN ltv 0.7", "-j", "x")
    code, out, _ = run(capsys, "override", lid, "--as", "bob", "--set", f"ETH-SYN:ltv={eth_ltv_pct}%", "--set",
                       f"BTC-SYN:liquidation_bonus={btc_bonus_bps}bps", "-j", "@risk: align with peers", "--json")
    assert code == 0
    d = json.loads(out)
    new = d["id"]
    assert d["workflow"]["revision"] == 2 and d["parent"]["status"] == "superseded"
    code, out, _ = run(capsys, "diff", new[:10])
    ltv_bps = round((eth_ltv_pct / 100 - eth.ltv) * 1e4)
    assert code == 0 and "2 changed parameters" in out and "ETH-SYN  ltv" in out and f"{ltv_bps:+d} bps" in out
    rows = json.loads(run(capsys, "diff", ids["lending"][:10], new[:10], "--json")[1])["rows"]
    assert [(r["symbol"], r["parameter"], r["old"], r["new"]) for r in rows] == [
        ("BTC-SYN", "liquidation_bonus", btc.liquidation_bonus, pytest.approx(btc_bonus_bps / 1e4)),
        ("ETH-SYN", "ltv", eth.ltv, pytest.approx(eth_ltv_pct / 100))]
    assert len(json.loads(run(capsys, "diff", new[:10], "--all", "--json")[1])["rows"]) == 6
    assert "has no parent revision" in fails(capsys, "diff", lid)
    assert "cannot compare a perp proposal with a lending proposal" in fails(capsys, "diff", ids["perp"][:10], lid)
    csv_text = run(capsys, "export", new[:10], "-f", "csv", "-o", "-", "--as", "bob")[1]
    over = [r for r in csv.DictReader(io.StringIO(csv_text)) if r["overridden"] == "true"]
    assert len(over) == 2 and all(r["override_justification"] == "'@risk: align with peers" for r in over)


def test_approve_option_needs_a_proposal_with_options(capsys: pytest.CaptureFixture[str], ids: dict[str, str],
                                                      proposals: dict[str, Proposal]) -> None:
    assert proposals["perp"].content()["options"] == []
    pid = ids["perp"][:10]
    for args in (("review", pid, "--as", "alice"), ("sign", pid, "--as", "bob"), ("sign", pid, "--as", "carol")):
        assert run(capsys, *args)[0] == 0
    msg = fails(capsys, "approve", pid, "--as", "alice", "--option", "moderate")
    assert f"proposal {ids['perp'][:12]} has no options to choose from; approve it without one." in msg
    wf = json.loads(run(capsys, "status", pid, "--json")[1])
    assert wf["status"] == "in_review" and "approved" not in [e["action"] for e in wf["events"]]
    assert run(capsys, "approve", pid, "--as", "alice")[0] == 0

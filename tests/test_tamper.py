"""Tamper evidence: every kind of direct edit of the DuckDB file we could think of is caught by
``riskparams verify`` (and blocks venue payloads), and an untouched history verifies.

Each case copies one real store file with a signed committee history, edits it with plain SQL through
duckdb (as someone with write access to the file would), and re-verifies.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from riskparams import governance as gov
from riskparams import signing
from riskparams.domain import Proposal
from riskparams.governance import GovernanceError, Override, committee_from_dict
from riskparams.store import Store
from riskparams.store import governance_records as gr
from riskparams.store.records import save_proposal
from riskparams.verify import verify

KEYS = {h: signing.new_key("eip712" if h in ("ann", "cat") else "ed25519") for h in ("ann", "ben", "cat", "dan")}


def committee(require: bool) -> Any:
    members = []
    for h, role in (("ann", "chair"), ("ben", "member"), ("cat", "member"), ("dan", "member")):
        k = KEYS[h]
        m = {"name": h.title(), "handle": h, "role": role}
        m["address" if k.scheme == "eip712" else "ed25519"] = k.public
        members.append(m)
    members.append({"name": "Eve", "handle": "eve", "role": "observer"})
    return committee_from_dict({"quorum": 2, "require_signatures": require, "members": members},
                               source="signed committee")


@pytest.fixture(scope="module", params=[True, False], ids=["signatures-required", "signatures-optional"])
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            proposals: dict[str, Proposal]) -> dict[str, Any]:
    """A store file with: a proposal reviewed (two signed sign-offs, a dissent then retracted), approved and
    exported; a revision of it by override, in review with one sign-off."""
    require = bool(request.param)
    c = committee(require)
    path = tmp_path_factory.mktemp("history") / "store.duckdb"
    s = Store(path)
    pid = save_proposal(s, proposals["perp"]).id
    gov.submit_for_review(s, pid, "ann", committee=c)
    gov.sign_off(s, pid, "ben", committee=c, key=KEYS["ben"])
    gov.dissent(s, pid, "dan", comment="tier 3 too loose", committee=c, key=KEYS["dan"])
    gov.retract(s, pid, "dan", committee=c)
    gov.sign_off(s, pid, "cat", comment="ok", committee=c, key=KEYS["cat"])
    gov.approve(s, pid, "ann", comment="vote 7", committee=c, key=KEYS["ann"])
    gov.export_proposal(s, pid, "md", "eve", committee=c)
    a = proposals["perp"].assets[0]
    rev = gov.revise(s, pid, "ben", [Override(symbol=a.symbol, parameter="liquidation_penalty", tier=0,
                                              value=round(a.tiers[0].liquidation_penalty + 0.001, 4))],
                     justification="liquidators asked for more", committee=c, key=KEYS["ben"])
    gov.submit_for_review(s, rev.id, "cat", committee=c)
    gov.sign_off(s, rev.id, "dan", committee=c, key=KEYS["dan"])
    report = verify(s)
    head = report.chain_head
    s.close()
    return {"path": path, "pid": pid, "rev": rev.id, "committee": c, "require": require, "report": report,
            "head": head}


def test_the_untouched_history_verifies(history: dict[str, Any]) -> None:
    report = history["report"]
    assert report.ok, [p.message for p in report.problems]
    assert report.checked["proposals"] == 2 and report.checked["signatures"] == 6
    assert report.checked["events"] == report.checked["chain links"] >= 14


def tampered(history: dict[str, Any], tmp_path: Path, sql: Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], None]
             ) -> Any:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(history["path"], copy)
    con = duckdb.connect(str(copy))
    sql(con, history)
    con.close()
    with Store(copy) as s:
        return verify(s), verify(s, anchor=history["head"]), s


def event_id(con: duckdb.DuckDBPyConnection, pid: str, action: str, actor: str | None = None) -> int:
    q = "SELECT max(event_id) FROM governance_events WHERE proposal_id = ? AND action = ?"
    args: list[Any] = [pid, action]
    if actor is not None:
        q += " AND actor = ?"
        args.append(actor)
    row = con.execute(q, args).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def append_chained(con: duckdb.DuckDBPyConnection, **ev: Any) -> int:
    """Append an event WITH a correct chain row, as an attacker who knows the hashing scheme would."""
    eid = int(con.execute("SELECT max(event_id) + 1 FROM governance_events").fetchone()[0])  # type: ignore[index]
    head = con.execute("SELECT event_hash FROM audit_chain ORDER BY event_id DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
    at = con.execute("SELECT max(event_at) FROM governance_events").fetchone()[0] + timedelta(minutes=1)  # type: ignore[index]
    row = {"event_id": eid, "proposal_id": ev["pid"], "at": at, "actor": ev["actor"], "actor_name": ev["actor"].title(),
           "actor_role": ev["role"], "actor_address": None, "action": ev["action"], "from_status": ev["frm"],
           "to_status": ev["to"], "comment": ev.get("comment"), "detail": ev.get("detail", {}),
           "signature": ev.get("signature")}
    con.execute("INSERT INTO governance_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [eid, ev["pid"], at, ev["actor"], row["actor_name"], ev["role"], None, ev["action"], ev["frm"], ev["to"],
                 row["comment"], json.dumps(row["detail"]) if row["detail"] else None,
                 None if row["signature"] is None else json.dumps(row["signature"])])
    con.execute("INSERT INTO audit_chain VALUES (?, ?, ?)", [eid, head, gr.event_hash(row, head)])
    if ev["to"] != ev["frm"]:
        seq = con.execute("SELECT max(seq) + 1 FROM proposal_status_log WHERE proposal_id = ?", [ev["pid"]]).fetchone()[0]  # type: ignore[index]
        con.execute("INSERT INTO proposal_status_log VALUES (?, ?, ?, ?, ?, NULL)", [ev["pid"], seq, ev["to"], at,
                                                                                   ev["actor"]])
    return eid


def swap(con: duckdb.DuckDBPyConnection, a: int, b: int) -> None:
    for old, new in ((a, -1), (b, a), (-1, b)):
        con.execute("UPDATE governance_events SET event_id = ? WHERE event_id = ?", [new, old])


# (name, the edit, the kind of problem verify must report, a phrase of its message)
CASES: list[tuple[str, Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], None], str, str]] = [
    ("edit a sign-off's comment",
     lambda c, h: c.execute("UPDATE governance_events SET comment = 'lgtm' WHERE event_id = ?",
                            [event_id(c, h["pid"], "signed_off", "cat")]), "chain", "was edited"),
    ("promote an actor to chair",
     lambda c, h: c.execute("UPDATE governance_events SET actor_role = 'chair' WHERE event_id = ?",
                            [event_id(c, h["pid"], "signed_off", "ben")]), "chain", "was edited"),
    ("backdate an event",
     lambda c, h: c.execute("UPDATE governance_events SET event_at = event_at - INTERVAL 3 DAY WHERE event_id = ?",
                            [event_id(c, h["pid"], "approved")]), "chain", "was edited"),
    ("delete the retraction (the dissent stands again)",
     lambda c, h: c.execute("DELETE FROM governance_events WHERE event_id = ?",
                            [event_id(c, h["pid"], "retracted")]), "chain", "was deleted"),
    ("delete an event and its chain row",
     lambda c, h: [c.execute(f"DELETE FROM {t} WHERE event_id = ?",  # noqa: S608 - constant table names
                             [event_id(c, h["pid"], "dissented")])
                   for t in ("audit_chain", "governance_events")], "chain", "the audit chain breaks"),
    ("insert a forged approval without a chain row",
     lambda c, h: c.execute(
         "INSERT INTO governance_events (event_id, proposal_id, event_at, actor, actor_name, actor_role, action, "
         "from_status, to_status) VALUES (999, ?, now(), 'ann', 'Ann', 'chair', 'approved', 'in_review', 'approved')",
         [h["rev"]]), "chain", "inserted behind the store's back"),
    ("append a correctly chained approval without the quorum",
     lambda c, h: append_chained(c, pid=h["rev"], actor="ann", role="chair", action="approved", frm="in_review",
                                 to="approved"), "workflow", "counted sign-offs"),
    ("append a correctly chained sign-off by a non-member",
     lambda c, h: append_chained(c, pid=h["rev"], actor="mallory", role="member", action="signed_off",
                                 frm="in_review", to="in_review"), "workflow", "is not a member"),
    ("reorder two events", lambda c, h: swap(c, event_id(c, h["pid"], "signed_off", "ben"),
                                             event_id(c, h["pid"], "dissented")), "chain", "was edited"),
    ("set the status log to approved",
     lambda c, h: c.execute("UPDATE proposal_status_log SET status = 'approved' WHERE proposal_id = ? AND seq = "
                            "(SELECT max(seq) FROM proposal_status_log WHERE proposal_id = ?)", [h["rev"], h["rev"]]),
     "record", "the status log was edited"),
    ("append an approved row to the status log",
     lambda c, h: c.execute("INSERT INTO proposal_status_log VALUES (?, 99, 'approved', now(), 'ann', NULL)",
                            [h["rev"]]), "record", "the status log was edited"),
    ("edit the proposal content",
     lambda c, h: c.execute("UPDATE proposals SET content = replace(content, '\"max_leverage\":', "
                            "'\"max_leverage\": ') WHERE proposal_id = ?", [h["pid"]]), "content",
     "content was edited"),
    ("delete a proposal",
     lambda c, h: c.execute("DELETE FROM proposals WHERE proposal_id = ?", [h["rev"]]), "record", "was deleted"),
    ("insert a proposal behind the store's back",
     lambda c, h: c.execute("INSERT INTO proposals SELECT '" + "f" * 64 + "', profile, as_of, created_at, policy_key, "
                            "riskparams_version, n_assets, n_skipped, content FROM proposals WHERE proposal_id = ?",
                            [h["pid"]]), "content", "content was edited"),
    ("edit the data index",
     lambda c, h: c.execute("UPDATE proposal_data SET symbol = 'XRP' WHERE proposal_id = ? AND symbol = "
                            "(SELECT min(symbol) FROM proposal_data WHERE proposal_id = ?)", [h["pid"], h["pid"]]),
     "record", "the index was edited"),
    ("re-parent a revision",
     lambda c, h: c.execute("UPDATE proposal_revisions SET parent_id = ? WHERE proposal_id = ?", ["0" * 64, h["rev"]]),
     "record", "does not match its revision_created event"),
    ("rewrite a revision's justification",
     lambda c, h: c.execute("UPDATE proposal_revisions SET justification = 'the model said so' WHERE proposal_id = ?",
                            [h["rev"]]), "record", "does not match its revision_created event"),
    ("delete a revision link",
     lambda c, h: c.execute("DELETE FROM proposal_revisions WHERE proposal_id = ?", [h["rev"]]), "record",
     "the link was deleted"),
    ("lower the stored committee's quorum",
     lambda c, h: c.execute("UPDATE committees SET content = replace(content, '\"quorum\":2', '\"quorum\":1')"),
     "committee", "does not match its hash"),
    ("make another committee active with a chained event",
     lambda c, h: append_chained(c, pid="committee", actor="ann", role="chair", action="committee_changed", frm=None,
                                 to=None, detail={"committee": "e" * 64}), "committee", ""),
    ("attach a backtest behind the store's back",
     lambda c, h: c.execute("INSERT INTO backtest_attachments VALUES (?, ?, now(), 'ann')", [h["pid"], "d" * 64]),
     "record", "attachment was inserted"),
    ("swap a signature for another member's",
     lambda c, h: c.execute("UPDATE governance_events SET signature = (SELECT signature FROM governance_events WHERE "
                            "event_id = ?) WHERE event_id = ?", [event_id(c, h["pid"], "signed_off", "ben"),
                                                                  event_id(c, h["rev"], "signed_off", "dan")]),
     "chain", "was edited"),
    ("drop the signature of an approval",
     lambda c, h: c.execute("UPDATE governance_events SET signature = NULL WHERE event_id = ?",
                            [event_id(c, h["pid"], "approved")]), "chain", "was edited"),
]


@pytest.mark.parametrize(("name", "edit", "kind", "phrase"), CASES, ids=[c[0] for c in CASES])
def test_every_direct_edit_is_caught(history: dict[str, Any], tmp_path: Path, name: str,
                                     edit: Callable[..., None], kind: str, phrase: str) -> None:
    report, anchored, s = tampered(history, tmp_path, edit)
    assert not report.ok, name
    kinds = {p.kind for p in report.problems}
    assert kind in kinds, [p.message for p in report.problems]
    if phrase:
        assert any(phrase in p.message for p in report.problems), [p.message for p in report.problems]
    assert all("\n" not in p.message and p.message.endswith(".") for p in report.problems)
    assert not anchored.ok


def test_a_rewritten_history_is_caught_by_a_published_anchor(history: dict[str, Any], tmp_path: Path) -> None:
    """Delete the retraction and re-hash the whole chain consistently: the chain alone is fine again (and, when
    signatures are required, the forged state still fails replay only if it breaks a rule), but the chain head
    published before (an export prints it) is gone."""
    def rewrite(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> None:
        con.execute("DELETE FROM governance_events WHERE event_id = ?", [event_id(con, h["pid"], "retracted")])
        con.execute("DELETE FROM audit_chain")
        cols = ("event_id, proposal_id, event_at, actor, actor_name, actor_role, actor_address, action, from_status, "
                "to_status, comment, detail, signature")
        prev = gr.GENESIS
        for r in con.execute(f"SELECT {cols} FROM governance_events ORDER BY event_id").fetchall():  # noqa: S608
            ev = gr._event(r)
            hsh = gr.event_hash(ev, prev)
            con.execute("INSERT INTO audit_chain VALUES (?, ?, ?)", [ev["event_id"], prev, hsh])
            prev = hsh

    report, anchored, _ = tampered(history, tmp_path, rewrite)
    assert not any(p.kind == "chain" for p in report.problems)
    # the dissent stands again, so the approval breaks the rules: replay catches it even without the anchor
    assert any("standing dissent from @dan" in p.message for p in report.problems)
    assert any("the anchor" in p.message and "rewritten" in p.message for p in anchored.problems)


def test_a_venue_payload_is_refused_from_a_tampered_store(history: dict[str, Any], tmp_path: Path) -> None:
    def forge(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> None:
        con.execute("UPDATE governance_events SET comment = 'forged' WHERE event_id = ?",
                    [event_id(con, h["pid"], "approved")])

    copy = tmp_path / "copy.duckdb"
    shutil.copy(history["path"], copy)
    con = duckdb.connect(str(copy))
    forge(con, history)
    con.close()
    with Store(copy) as s:
        with pytest.raises(GovernanceError, match=r"does not verify \(2 problems, first: event \d+ \(approved .* it was edited\); no venue payload"):
            gov.export_proposal(s, history["pid"], "dydx", "ann")
        before = s.fetchone("SELECT count(*) FROM governance_events")[0]
        assert s.fetchone("SELECT count(*) FROM governance_events")[0] == before  # nothing recorded


def test_a_store_from_before_the_chain_is_sealed_by_its_next_write(tmp_path: Path,
                                                                   proposals: dict[str, Proposal]) -> None:
    """A store written by riskparams before schema 7 (a proposal in review with a sign-off, no chain): it
    verifies with a note, the next action seals the old events into the chain, and from then on an edit of
    an old event is caught."""
    import riskparams.store.core as core
    from riskparams.domain import canonical_json, content_id

    db = tmp_path / "v6.duckdb"
    con = duckdb.connect(str(db))
    core._migrate(con, target=6)
    con.execute("UPDATE schema_version SET applied_at = TIMESTAMP '2025-01-01'")
    content = proposals["perp"].content()
    pid = content_id(content)
    con.execute("INSERT INTO proposals VALUES (?, 'perp', NULL, TIMESTAMP '2025-02-01', 'k', '0.1.0', ?, 0, ?)",
                [pid, len(proposals["perp"].assets), canonical_json(content)])
    for a in proposals["perp"].assets:
        ctx = a.context
        assert ctx is not None
        con.execute("INSERT INTO proposal_data VALUES (?, ?, NULL, ?, ?, ?, ?, NULL)",
                    [pid, a.symbol, ctx.freq, ctx.source, ctx.kind, ctx.fingerprint])
    con.execute("INSERT INTO proposal_status_log VALUES (?, 1, 'draft', TIMESTAMP '2025-02-01', NULL, NULL), "
                "(?, 2, 'in_review', TIMESTAMP '2025-02-02', 'ann', NULL)", [pid, pid])
    con.execute("INSERT INTO governance_events (proposal_id, event_at, actor, actor_name, actor_role, action, "
                "from_status, to_status) VALUES (?, TIMESTAMP '2025-02-02', 'ann', 'Ann', 'chair', 'submitted', "
                "'draft', 'in_review'), (?, TIMESTAMP '2025-02-03', 'ben', 'Ben', 'member', 'signed_off', "
                "'in_review', 'in_review')", [pid, pid])
    con.close()
    c = committee(False)
    with Store(db) as s:  # upgraded to schema 7
        before = verify(s)
        assert before.ok, [p.message for p in before.problems]
        assert any("2 audit events were recorded before this store had the audit chain" in n for n in before.notes)
        gov.sign_off(s, pid, "cat", committee=c, key=KEYS["cat"])
        after = verify(s)
        assert after.ok and after.checked["chain links"] == 4  # 2 sealed, the registration, the sign-off
        assert not any("before this store had the audit chain" in n for n in after.notes)
        s.cursor().execute("UPDATE governance_events SET actor = 'dan' WHERE actor = 'ben'")
        edited = verify(s)
        assert any(p.kind == "chain" and "was edited" in p.message for p in edited.problems)

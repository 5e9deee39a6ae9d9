"""The committee workflow: committee file, transitions and their one-sentence errors, dissent, revisions by
override, diff, immutability of approved proposals, and the append-only audit log."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from riskparams import governance as gov
from riskparams.config import policy_from_dict
from riskparams.domain import LendingAssetProposal, PerpAssetProposal, Proposal, canonical_json
from riskparams.governance import (
    Committee,
    CommitteeError,
    GovernanceError,
    Override,
    committee_from_dict,
    load_committee,
)
from riskparams.store import Store
from riskparams.store.records import append_status, get_proposal, proposal_history, save_proposal

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "riskparams" / "examples"
POLICY = policy_from_dict({"model": {"model": "ewma", "n_sims": 200}})

COMMITTEE = committee_from_dict({
    "quorum": 2,
    "members": [
        {"name": "Ann Chair", "handle": "ann", "role": "chair", "address": "0xA11CE"},
        {"name": "Ben Member", "handle": "ben", "role": "member"},
        {"name": "Cat Member", "handle": "cat", "role": "member"},
        {"name": "Dan Member", "handle": "dan", "role": "member"},
        {"name": "Eve Observer", "handle": "eve", "role": "observer"},
    ],
}, source="test committee")






def asset(proposal: Proposal, symbol: str) -> PerpAssetProposal | LendingAssetProposal:
    return next(a for a in proposal.assets if a.symbol == symbol)


def raised_mmf(a: PerpAssetProposal) -> float:
    """A tier-1 MMF above the proposed one that keeps every invariant: at most tier 2's MMF and below the IMF
    of tier 2's leverage (the override test moves tier 1 to that leverage)."""
    t0, t1 = a.tiers[0], a.tiers[1]
    v = round((t0.mmf + min(t1.mmf, t1.imf)) / 2, 4)
    assert t0.mmf < v <= t1.mmf and v < t1.imf
    return v


def fresh(proposal: Proposal) -> tuple[Store, str]:
    s = Store.memory()
    return s, save_proposal(s, proposal).id


def in_review(proposal: Proposal) -> tuple[Store, str]:
    s, pid = fresh(proposal)
    gov.submit_for_review(s, pid, "ann", committee=COMMITTEE)
    return s, pid


def approved_ready(proposal: Proposal) -> tuple[Store, str]:
    """In review with the quorum of sign-offs: the chair may approve."""
    s, pid = in_review(proposal)
    gov.sign_off(s, pid, "ben", committee=COMMITTEE)
    gov.sign_off(s, pid, "cat", committee=COMMITTEE)
    return s, pid


def approved(proposal: Proposal) -> tuple[Store, str]:
    s, pid = approved_ready(proposal)
    gov.approve(s, pid, "ann", committee=COMMITTEE)
    return s, pid


def refused(match: str, func: object, *args: object, **kw: object) -> str:
    """Call and expect a one-line GovernanceError matching ``match``; return the message."""
    with pytest.raises(GovernanceError, match=match) as info:
        func(*args, committee=COMMITTEE, **kw)  # type: ignore[operator]
    msg = str(info.value)
    assert "\n" not in msg and msg.endswith(".")
    return msg


# -- committee ------------------------------------------------------------------------------------
def test_the_example_committee_is_the_default_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gov.COMMITTEE_ENV_VAR, raising=False)
    c = load_committee()
    assert gov.example_committee_path().name == "committee.toml" and c.source == "committee.toml"
    assert c.quorum == 2 and c.author_may_sign is False
    assert [m.role for m in c.members].count("chair") >= 1 and len(c.voters) >= 3
    alice = c.member("alice")
    assert c.member("@ALICE") == alice and alice.address is not None and c.member(alice.address.upper()) == alice
    with pytest.raises(CommitteeError, match=r"^unknown committee member 'mallory' in committee.toml \(members: "):
        c.member("mallory")


def test_committee_file_from_option_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('quorum = 1\n[[members]]\nname = "Z"\nhandle = "zed"\nrole = "chair"\n')
    assert load_committee(path).member("zed").role == "chair"
    monkeypatch.setenv(gov.COMMITTEE_ENV_VAR, str(path))
    assert load_committee().quorum == 1
    with pytest.raises(CommitteeError, match="committee file .*missing.toml not found"):
        load_committee(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("quorum = \n")
    with pytest.raises(CommitteeError, match="is not valid TOML"):
        load_committee(tmp_path / "bad.toml")


@pytest.mark.parametrize(("data", "message"), [
    ({"quorum": 2, "chairs": []}, "unknown key 'chairs'"),
    ({"members": [{"name": "A", "handle": "a", "role": "boss"}]}, r"members\[0\].role must be one of chair, member"),
    ({"members": [{"name": "A", "handle": "a b", "role": "chair"}]}, r"members\[0\].handle must be 1-40"),
    ({"members": [{"name": "A", "handle": "a", "role": "chair"}, {"name": "B", "handle": "A", "role": "member"}]},
     "already names"),
    ({"members": [{"name": "A", "handle": "a", "role": "member"}, {"name": "B", "handle": "b", "role": "member"}]},
     "needs at least one chair"),
    ({"quorum": 3, "members": [{"name": "A", "handle": "a", "role": "chair"},
                               {"name": "B", "handle": "b", "role": "observer"}]}, r"quorum must be .* in \[1, 1\]"),
    ({"members": [{"name": "A", "role": "chair"}]}, r"members\[0\] needs a handle"),
])
def test_invalid_committee_files_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(CommitteeError, match=message) as info:
        committee_from_dict(data, source="c.toml")
    assert str(info.value).startswith("c.toml") and "\n" not in str(info.value)


# -- the happy path -------------------------------------------------------------------------------
def test_draft_review_two_sign_offs_approved_exported(proposals: dict[str, Proposal]) -> None:
    s, pid = fresh(proposals["perp"])
    assert gov.workflow(s, pid, committee=COMMITTEE).status == "draft"
    wf = gov.submit_for_review(s, pid[:8], "ann", comment="for the weekly call", committee=COMMITTEE)
    assert wf.status == "in_review" and wf.authors == ("ann",)
    wf = gov.sign_off(s, pid, "ben", comment="checked the tiers", committee=COMMITTEE)
    assert not wf.quorum_met and "1 of the 2 sign-offs" in (wf.approval_blocker or "")
    wf = gov.sign_off(s, pid, "cat", committee=COMMITTEE)
    assert wf.quorum_met and wf.approval_blocker is None
    wf = gov.approve(s, pid, "0xA11CE", comment="vote 12", committee=COMMITTEE)  # a chair named by address
    assert wf.status == "approved" and wf.decision is not None and wf.decision.actor == "ann"
    result = gov.export_proposal(s, pid, "md", "eve", committee=COMMITTEE)
    assert result.final and result.status == "exported" and result.filename == f"proposal-{pid[:12]}.md"
    again = gov.export_proposal(s, pid, "md", "eve", committee=COMMITTEE)
    assert again.data == result.data and again.status == "exported"
    wf = gov.workflow(s, pid, committee=COMMITTEE)
    assert wf.status == "exported"
    assert [e.action for e in wf.events] == ["created", "submitted", "signed_off", "signed_off", "approved", "exported",
                                             "exported"]
    assert [(e.from_status, e.to_status) for e in wf.events][4:6] == [("in_review", "approved"),
                                                                       ("approved", "exported")]
    ev = wf.events[-1]
    assert ev.actor == "eve" and ev.actor_role == "observer" and ev.detail["format"] == "md"
    assert ev.detail["sha256"] == result.sha256
    assert [h["status"] for h in proposal_history(s, pid)] == ["draft", "in_review", "approved", "exported"]
    assert [h["actor"] for h in proposal_history(s, pid)][1:] == ["ann", "ann", "eve"]
    d = wf.to_dict()
    assert d["status"] == "exported" and [v["member"] for v in d["sign_offs"]] == ["ben", "cat"]
    exported_view = wf.to_dict(for_export=True)
    assert exported_view["status"] == "approved"
    assert "exported" not in [e["action"] for e in exported_view["events"]]


# -- refused transitions --------------------------------------------------------------------------
def test_transitions_are_validated_with_one_sentence_errors(proposals: dict[str, Proposal]) -> None:
    s, pid = fresh(proposals["perp"])
    short = pid[:12]
    refused(f"^proposal {short} is a draft; members sign off only while it is in review", gov.sign_off, s, pid, "ben")
    refused(f"^proposal {short} is draft; only a proposal in review can be approved", gov.approve, s, pid, "ann")
    refused("only a proposal in review can be rejected", gov.reject, s, pid, "ann", comment="no")
    refused("^@eve is an observer; only chairs and members may submit", gov.submit_for_review, s, pid, "eve")
    gov.submit_for_review(s, pid, "ben", committee=COMMITTEE)
    refused(f"^proposal {short} is already in review", gov.submit_for_review, s, pid, "cat")
    refused("^@ben is an author of proposal .* may not sign it off", gov.sign_off, s, pid, "ben")
    refused("^@eve is an observer; only chairs and members may sign off", gov.sign_off, s, pid, "eve")
    gov.sign_off(s, pid, "cat", committee=COMMITTEE)
    refused(f"^@cat has already signed off proposal {short}", gov.sign_off, s, pid, "cat")
    refused(f"^proposal {short} has 1 of the 2 sign-offs it needs to be approved", gov.approve, s, pid, "ann")
    gov.sign_off(s, pid, "dan", committee=COMMITTEE)
    refused("^@dan is a member; only a chair may approve", gov.approve, s, pid, "dan")
    refused("^a rejection needs a comment saying why", gov.reject, s, pid, "ann", comment="  ")
    refused("^@ben has no sign-off or dissent", gov.retract, s, pid, "ben")  # ben is an author: never voted
    with pytest.raises(CommitteeError, match="^unknown committee member 'zoe'"):
        gov.sign_off(s, pid, "zoe", committee=COMMITTEE)
    gov.approve(s, pid, "ann", committee=COMMITTEE)
    for func, kw in ((gov.sign_off, {}), (gov.dissent, {"comment": "late"}), (gov.withdraw, {}),
                     (gov.submit_for_review, {}), (gov.reject, {"comment": "no"})):
        refused(f"^proposal {short} is approved and cannot change; an override creates a new revision", func, s, pid,
                "ann", **kw)
    refused(f"^proposal {short} is already approved", gov.approve, s, pid, "ann")
    gov.comment(s, pid, "eve", text="observed", committee=COMMITTEE)  # comments are always allowed
    refused("^a comment cannot be empty", gov.comment, s, pid, "eve", text="")
    assert gov.workflow(s, pid, committee=COMMITTEE).status == "approved"


def test_a_refused_action_writes_nothing(proposals: dict[str, Proposal]) -> None:
    s, pid = in_review(proposals["perp"])
    before = s.cursor().execute("SELECT count(*) FROM governance_events").fetchone()
    with pytest.raises(GovernanceError):
        gov.approve(s, pid, "ann", committee=COMMITTEE)
    assert s.cursor().execute("SELECT count(*) FROM governance_events").fetchone() == before
    assert get_proposal(s, pid).status == "in_review"


def test_author_may_sign_when_the_committee_allows_it(proposals: dict[str, Proposal]) -> None:
    lenient = Committee(members=COMMITTEE.members, quorum=1, author_may_sign=True, source="lenient")
    s, pid = fresh(proposals["perp"])
    gov.submit_for_review(s, pid, "ann", committee=lenient)
    gov.sign_off(s, pid, "ann", committee=lenient)
    assert gov.approve(s, pid, "ann", committee=lenient).status == "approved"


# -- dissent and rejection ------------------------------------------------------------------------
def test_unresolved_dissent_blocks_approval_until_the_dissenter_resolves_it(proposals: dict[str, Proposal]) -> None:
    s, pid = in_review(proposals["perp"])
    refused("^a dissent needs a comment saying why", gov.dissent, s, pid, "dan", comment="")
    gov.sign_off(s, pid, "ben", committee=COMMITTEE)
    gov.sign_off(s, pid, "cat", committee=COMMITTEE)
    wf = gov.dissent(s, pid, "dan", comment="tier 1 MMF too low for this volatility", committee=COMMITTEE)
    assert [v.member for v in wf.dissents] == ["dan"] and wf.quorum_met
    refused("^proposal .* has unresolved dissent from @dan; it cannot be approved until the dissent is retracted or "
            "changed to a sign-off", gov.approve, s, pid, "ann")
    refused("^@dan has already dissented", gov.dissent, s, pid, "dan", comment="again")
    wf = gov.sign_off(s, pid, "dan", comment="convinced by the backtest", committee=COMMITTEE)  # dissent -> sign-off
    assert wf.dissents == () and len(wf.counted_sign_offs) == 3
    gov.retract(s, pid, "dan", committee=COMMITTEE)
    wf = gov.dissent(s, pid, "ben", comment="changed my mind", committee=COMMITTEE)  # sign-off -> dissent
    assert [v.member for v in wf.sign_offs] == ["cat"] and [v.member for v in wf.dissents] == ["ben"]
    wf = gov.retract(s, pid, "ben", comment="resolved offline", committee=COMMITTEE)
    assert wf.dissents == () and not wf.quorum_met
    gov.sign_off(s, pid, "dan", committee=COMMITTEE)
    assert gov.approve(s, pid, "ann", committee=COMMITTEE).status == "approved"
    actions = [e.action for e in gov.workflow(s, pid, committee=COMMITTEE).events]
    assert actions.count("dissented") == 2 and actions.count("retracted") == 2


def test_a_private_committee_file_cannot_act_on_the_stores_proposals(proposals: dict[str, Proposal]) -> None:
    """The store's committee is registered by its first governance action; another committee file (a
    one-person committee that would let its author approve alone) is refused for every action, and
    removing a dissenter from the file does not remove the dissent."""
    s, pid = in_review(proposals["perp"])
    for who in ("ben", "cat"):
        gov.sign_off(s, pid, who, committee=COMMITTEE)
    gov.dissent(s, pid, "dan", comment="no", committee=COMMITTEE)
    smaller = Committee(members=tuple(m for m in COMMITTEE.members if m.handle != "dan"), quorum=2, source="smaller")
    solo = committee_from_dict({"quorum": 1, "author_may_sign": True, "members": [
        {"name": "Mallory", "handle": "mallory", "role": "chair"}]}, source="solo.toml")
    for other in (smaller, solo):
        with pytest.raises(CommitteeError, match=r"^the committee in (smaller|solo.toml) is not this store's committee"):
            gov.approve(s, pid, "ann" if other is smaller else "mallory", committee=other)
    with pytest.raises(CommitteeError, match="unknown committee member 'mallory'"):
        gov.sign_off(s, pid, "mallory")  # no file given: the store's committee decides who is a member
    with pytest.raises(GovernanceError, match="unresolved dissent from @dan"):
        gov.approve(s, pid, "ann")
    assert gov.store_committee(s).hash == COMMITTEE.hash


def test_a_committee_change_needs_a_quorum_of_the_committee_in_force(proposals: dict[str, Proposal]) -> None:
    """Changing the committee is itself a quorum-approved, audited action; reviews under the old committee
    must start again, and verify accepts the whole history."""
    from riskparams.verify import verify

    s, pid = in_review(proposals["perp"])
    gov.dissent(s, pid, "dan", comment="no", committee=COMMITTEE)
    smaller = Committee(members=tuple(m for m in COMMITTEE.members if m.handle != "dan"), quorum=2, source="smaller")
    with pytest.raises(GovernanceError, match="only a chair and members|is an observer"):
        gov.propose_committee_change(s, smaller, "eve")
    change = gov.propose_committee_change(s, smaller, "ben", comment="Dan left the DAO")
    assert change.status == "open" and change.removed == ("dan",) and change.quorum == 2
    with pytest.raises(GovernanceError, match="proposed committee change .* and may not sign it off"):
        gov.vote_committee_change(s, change.committee_hash[:8], "ben", "sign_off")
    gov.vote_committee_change(s, change.committee_hash[:8], "cat", "sign_off")
    with pytest.raises(GovernanceError, match="has 1 of the 2 sign-offs it needs"):
        gov.approve_committee_change(s, change.committee_hash[:8], "ann")
    gov.vote_committee_change(s, change.committee_hash[:8], "dan", "dissent", comment="I am still here")
    gov.vote_committee_change(s, change.committee_hash[:8], "ann", "sign_off")
    with pytest.raises(GovernanceError, match="unresolved dissent from @dan"):
        gov.approve_committee_change(s, change.committee_hash[:8], "ann")
    gov.vote_committee_change(s, change.committee_hash[:8], "dan", "retract")
    with pytest.raises(GovernanceError, match="only a chair may approve a committee change"):
        gov.approve_committee_change(s, change.committee_hash[:8], "cat")
    done = gov.approve_committee_change(s, change.committee_hash[:8], "ann")
    assert done.status == "approved" and gov.store_committee(s).hash == smaller.hash
    # the proposal in review was bound to the old committee: it must be reviewed again
    with pytest.raises(GovernanceError, match="the committee changed since proposal .* entered review; withdraw it"):
        gov.sign_off(s, pid, "ben")
    gov.withdraw(s, pid, "ann")
    with pytest.raises(CommitteeError, match="unknown committee member 'dan'"):
        gov.sign_off(s, pid, "dan")
    report = verify(s)
    assert report.ok, [p.message for p in report.problems]
    assert report.checked["committee change events"] == 5  # proposed, 3 votes, a retraction


def test_rejection_and_withdrawal_are_final_for_the_revision(proposals: dict[str, Proposal]) -> None:
    s, pid = in_review(proposals["perp"])
    wf = gov.reject(s, pid, "ann", comment="penalties too low", committee=COMMITTEE)
    assert wf.status == "rejected" and wf.decision is not None and wf.decision.comment == "penalties too low"
    refused("was rejected; an override creates a new revision to review", gov.sign_off, s, pid, "ben")
    rev = gov.revise(s, pid, "ben", [Override(symbol="BTC-SYN", parameter="liquidation_penalty", tier=0, value=0.002)],
                     justification="raise the penalty as asked", committee=COMMITTEE)
    assert rev.workflow.status == "draft" and rev.parent.status == "rejected"
    s2, pid2 = fresh(proposals["lending"])
    assert gov.withdraw(s2, pid2, "cat", committee=COMMITTEE).status == "withdrawn"
    refused("was withdrawn", gov.submit_for_review, s2, pid2, "cat")
    refused("was withdrawn and cannot be revised", gov.revise, s2, pid2, "cat",
            [Override(symbol="ETH-SYN", parameter="ltv", value=0.7)], justification="x")


def test_legacy_submitted_status_reads_as_in_review(proposals: dict[str, Proposal]) -> None:
    s, pid = fresh(proposals["perp"])
    append_status(s, pid, "submitted", actor="old-tool")
    assert gov.workflow(s, pid, committee=COMMITTEE).status == "in_review"
    gov.sign_off(s, pid, "ben", committee=COMMITTEE)
    assert gov.list_governance(s, committee=COMMITTEE)[0]["status"] == "in_review"


# -- revisions, overrides, diff -------------------------------------------------------------------
def test_an_override_creates_a_linked_revision_and_supersedes_an_open_parent(proposals: dict[str, Proposal]) -> None:
    s, pid = in_review(proposals["perp"])
    gov.sign_off(s, pid, "cat", committee=COMMITTEE)
    parent_before = get_proposal(s, pid)
    btc = asset(proposals["perp"], "BTC-SYN")
    t0_old, t1_old = btc.tiers[0], btc.tiers[1]
    # tier 1 down to tier 2's leverage (its IMF follows) and its MMF up into the room that leaves below tier 2's
    new_lev, new_mmf = t1_old.max_leverage, raised_mmf(btc)
    assert new_lev < t0_old.max_leverage and t0_old.mmf < new_mmf <= t1_old.mmf
    overrides = [Override.parse(f"btc-syn:mmf:1={new_mmf * 100:g}%"), Override.parse(f"BTC-SYN:max_leverage:1={new_lev:g}x")]
    assert overrides[0].value == pytest.approx(new_mmf)
    new_mmf = overrides[0].value
    rev = gov.revise(s, pid, "ben", overrides, justification="Tier 1 must cover the 2022 drawdown.",
                     committee=COMMITTEE)
    assert rev.id != pid and rev.workflow.revision == 2 and rev.workflow.parent_id == pid
    assert rev.workflow.root_id == pid and rev.workflow.status == "draft" and rev.workflow.sign_offs == ()
    assert rev.workflow.authors == ("ben",)
    assert rev.parent.status == "superseded" and rev.parent.children == (rev.id,)
    assert get_proposal(s, pid).content == parent_before.content  # the parent never changes
    content = get_proposal(s, rev.id).content
    meta = content["provenance"]["revision"]
    assert meta["number"] == 2 and meta["parent"] == pid and meta["by"] == "ben"
    assert meta["justification"] == "Tier 1 must cover the 2022 drawdown."
    assert [(o["parameter"], o["tier"], o["old"], o["new"]) for o in meta["overrides"]] == [
        ("mmf", 0, t0_old.mmf, new_mmf), ("max_leverage", 0, t0_old.max_leverage, new_lev)]
    btc_new = next(a for a in content["assets"] if a["symbol"] == "BTC-SYN")
    t0, t1 = btc_new["tiers"][0], btc_new["tiers"][1]
    assert (t0["mmf"], t0["max_leverage"]) == (new_mmf, new_lev) and t0["imf"] == pytest.approx(1 / new_lev)
    assert t1["maintenance_deduction"] == pytest.approx(t1["notional_floor"] * (t1["mmf"] - t0["mmf"]))
    lines = {(ln["parameter"], ln["tier"]): ln for ln in btc_new["lines"]}
    assert lines[("imf", 0)]["bound"] == "override" and lines[("imf", 0)]["proposed"] == pytest.approx(1 / new_lev)
    current_t0 = btc.current[0]  # type: ignore[index]
    assert lines[("mmf", 0)]["change"] == pytest.approx(new_mmf - current_t0.mmf)
    assert any("Manual override in revision 2" in n for n in btc_new["notes"])
    events = [(e.proposal_id, e.action, e.to_status) for e in (*rev.parent.events, *rev.workflow.events)
              if e.action in ("revised", "revision_created")]
    assert events == [(pid, "revised", "superseded"), (rev.id, "revision_created", "draft")]
    assert rev.parent.events[-1].comment == "Tier 1 must cover the 2022 drawdown."
    refused(f"^proposal {pid[:12]} was superseded by {rev.id[:12]}; act on the latest revision", gov.sign_off, s, pid,
            "dan")
    refused("superseded by .*; revise the latest revision instead", gov.revise, s, pid, "dan", overrides,
            justification="x")
    d = gov.diff(s, rev.id)  # one id: against the parent
    assert d.old_id == pid and d.new_id == rev.id
    assert [(r.symbol, r.parameter, r.tier, r.old, r.new) for r in d.rows] == [
        ("BTC-SYN", "max_leverage", 0, t0_old.max_leverage, new_lev),
        ("BTC-SYN", "imf", 0, t0_old.imf, pytest.approx(1 / new_lev)),
        ("BTC-SYN", "mmf", 0, t0_old.mmf, new_mmf)]
    assert d.rows[2].change == pytest.approx(new_mmf - t0_old.mmf)
    assert d.rows[0].relative_change == pytest.approx(new_lev / t0_old.max_leverage - 1)
    assert len(gov.diff(s, pid, rev.id, changed_only=False).rows) > 3
    with pytest.raises(GovernanceError, match="has no parent revision; give two ids to compare"):
        gov.diff(s, pid)
    eth = asset(proposals["perp"], "ETH-SYN")
    lower_penalty = eth.tiers[0].liquidation_penalty / 2
    rev3 = gov.revise(s, rev.id, "cat", [Override.parse(f"ETH-SYN:liquidation_penalty:1={lower_penalty!r}")],
                      justification="a small penalty", committee=COMMITTEE)
    meta3 = get_proposal(s, rev3.id).content["provenance"]["revision"]
    assert meta3["number"] == 3 and meta3["root"] == pid and len(meta3["overrides"]) == 3  # overrides accumulate


def test_an_approved_proposal_is_immutable_and_revised_by_a_new_revision(proposals: dict[str, Proposal]) -> None:
    s, pid = approved(proposals["lending"])
    text = s.cursor().execute("SELECT content FROM proposals WHERE proposal_id = ?", [pid]).fetchone()
    rev = gov.revise(s, pid, "cat", [Override(symbol="ETH-SYN", parameter="liquidation_bonus", value=0.04)],
                     justification="keep a 4% bonus for liquidator depth", committee=COMMITTEE)
    assert rev.parent.status == "approved" and [v.member for v in rev.parent.sign_offs] == ["ben", "cat"]
    assert s.cursor().execute("SELECT content FROM proposals WHERE proposal_id = ?", [pid]).fetchone() == text
    refused(f"already has an open revision {rev.id[:12]} \\(draft\\); revise that one instead", gov.revise, s, pid,
            "dan", [Override(symbol="ETH-SYN", parameter="ltv", value=0.7)], justification="another")
    gov.submit_for_review(s, rev.id, "dan", committee=COMMITTEE)
    gov.sign_off(s, rev.id, "ben", committee=COMMITTEE)
    refused("is an author", gov.sign_off, s, rev.id, "cat")  # cat made the revision
    gov.sign_off(s, rev.id, "ann", committee=COMMITTEE)
    gov.approve(s, rev.id, "ann", committee=COMMITTEE)
    parent = gov.workflow(s, pid, committee=COMMITTEE)
    assert parent.status == "superseded" and parent.events[-1].detail == {"by": rev.id}


def _perp_case(name: str, make: Callable[[PerpAssetProposal], tuple[Override, str]]) -> Any:
    return pytest.param(make, id=name)


# each case builds its override from the BTC-SYN asset of the fixture proposal, so that the refusal condition
# holds whatever the model proposes (the preconditions are asserted)
def _unchanged_mmf(btc: PerpAssetProposal) -> tuple[Override, str]:
    mmf = btc.tiers[0].mmf
    return Override(symbol="BTC-SYN", parameter="mmf", tier=0, value=mmf), re.escape(
        f"is already {mmf:.2%}; an override must change")


def _mmf_at_the_imf(btc: PerpAssetProposal) -> tuple[Override, str]:
    t0 = btc.tiers[0]
    v = t0.imf  # MMF must stay strictly below the IMF
    assert t0.liquidation_penalty < v
    return (Override(symbol="BTC-SYN", parameter="mmf", tier=0, value=v),
            re.escape(f"the MMF ({v:.2%}) must stay below the IMF"))


def _mmf_below_the_tier_before(btc: PerpAssetProposal) -> tuple[Override, str]:
    t0, t1 = btc.tiers[0], btc.tiers[1]
    v = (t1.liquidation_penalty + t0.mmf) / 2  # above tier 2's penalty, below tier 1's MMF
    assert t1.liquidation_penalty < v < t0.mmf < t1.imf
    return Override(symbol="BTC-SYN", parameter="mmf", tier=1, value=v), "would fall below tier 1's .*must not fall"


def _tier_1_leverage_below_tier_2(btc: PerpAssetProposal) -> tuple[Override, str]:
    t0, t1 = btc.tiers[0], btc.tiers[1]
    v = max(1.0, t1.max_leverage / 2)  # tier 2 would then offer more leverage than tier 1
    assert v < t1.max_leverage and t0.mmf < 1 / v
    return (Override(symbol="BTC-SYN", parameter="max_leverage", tier=0, value=v),
            re.escape(f"tier 2: the max leverage ({t1.max_leverage:g}x) would exceed tier 1's ({v:g}x)"))


def _penalty_at_the_mmf(btc: PerpAssetProposal) -> tuple[Override, str]:
    v = btc.tiers[0].mmf
    return Override(symbol="BTC-SYN", parameter="liquidation_penalty", tier=0, value=v), "must stay below the MMF"


def _no_such_tier(btc: PerpAssetProposal) -> tuple[Override, str]:
    n = len(btc.tiers)
    return (Override(symbol="BTC-SYN", parameter="mmf", tier=n, value=0.1),
            f"has tiers 1 to {n}; tier {n + 1} does not exist")


def _no_tier(btc: PerpAssetProposal) -> tuple[Override, str]:
    return (Override(symbol="BTC-SYN", parameter="mmf", value=0.1),
            f"a perp override needs a tier: BTC-SYN has tiers 1 to {len(btc.tiers)}")


@pytest.mark.parametrize("make", [
    _perp_case("unknown asset", lambda _: (Override(symbol="XRP", parameter="mmf", tier=0, value=0.1),
                                           r"no asset 'XRP' \(assets: BTC-SYN, ETH-SYN\)")),
    _perp_case("lending parameter", lambda _: (Override(symbol="BTC-SYN", parameter="ltv", tier=0, value=0.1),
                                               "'ltv' is not a perp parameter")),
    _perp_case("no tier", _no_tier),
    _perp_case("no such tier", _no_such_tier),
    _perp_case("leverage below 1", lambda _: (Override(symbol="BTC-SYN", parameter="max_leverage", tier=0, value=0.5),
                                              r"max leverage must be in \[1, 1000\]")),
    _perp_case("unchanged", _unchanged_mmf),
    _perp_case("mmf at the imf", _mmf_at_the_imf),
    _perp_case("mmf below the tier before", _mmf_below_the_tier_before),
    _perp_case("leverage above the tier before", _tier_1_leverage_below_tier_2),
    _perp_case("penalty at the mmf", _penalty_at_the_mmf),
])
def test_invalid_perp_overrides_are_refused(proposals: dict[str, Proposal],
                                            make: Callable[[PerpAssetProposal], tuple[Override, str]]) -> None:
    override, message = make(asset(proposals["perp"], "BTC-SYN"))  # type: ignore[arg-type]
    s, pid = fresh(proposals["perp"])
    refused(message, gov.revise, s, pid, "ben", [override], justification="test")
    assert gov.workflow(s, pid, committee=COMMITTEE).children == ()


def _ltv_above_the_threshold(eth: LendingAssetProposal) -> tuple[list[Override], str]:
    v = round(eth.liquidation_threshold + (1 - eth.liquidation_threshold) / 2, 4)
    assert eth.liquidation_threshold < v < 1
    return ([Override(symbol="ETH-SYN", parameter="ltv", value=v)],
            re.escape(f"the LTV ({v:.2%}) must stay below the liquidation threshold ({eth.liquidation_threshold:.2%})"))


def _bonus_beyond_the_collateral(eth: LendingAssetProposal) -> tuple[list[Override], str]:
    v = round(1 / eth.liquidation_threshold - 1 + 0.01, 4)  # LT x (1 + bonus) > 1
    assert eth.liquidation_threshold * (1 + v) > 1 and v < 1 and v != eth.liquidation_bonus
    return [Override(symbol="ETH-SYN", parameter="liquidation_bonus", value=v)], "must not exceed 1"


@pytest.mark.parametrize("make", [
    _ltv_above_the_threshold,
    _bonus_beyond_the_collateral,
    lambda _: ([Override(symbol="ETH-SYN", parameter="ltv", tier=0, value=0.7)], "lending parameters have no tiers"),
    lambda _: ([Override(symbol="ETH-SYN", parameter="mmf", value=0.7)], "'mmf' is not a lending parameter"),
    lambda _: ([Override(symbol="ETH-SYN", parameter="ltv", value=0.7)] * 2, "two overrides for ETH-SYN ltv"),
    lambda _: ([], "needs at least one parameter change"),
], ids=["ltv above the threshold", "bonus beyond the collateral", "tier", "perp parameter", "twice", "none"])
def test_invalid_lending_overrides_are_refused(
        proposals: dict[str, Proposal], make: Callable[[LendingAssetProposal], tuple[list[Override], str]]) -> None:
    overrides, message = make(asset(proposals["lending"], "ETH-SYN"))  # type: ignore[arg-type]
    s, pid = fresh(proposals["lending"])
    refused(message, gov.revise, s, pid, "ben", overrides, justification="test")
    assert gov.workflow(s, pid, committee=COMMITTEE).children == ()


def test_an_override_needs_a_justification_and_a_voting_member(proposals: dict[str, Proposal]) -> None:
    s, pid = fresh(proposals["lending"])
    ov = [Override(symbol="ETH-SYN", parameter="ltv", value=0.7)]
    refused("^an override needs a written justification", gov.revise, s, pid, "ben", ov, justification=" ")
    refused("^@eve is an observer", gov.revise, s, pid, "eve", ov, justification="x")
    refused("^the justification is too long", gov.revise, s, pid, "ben", ov, justification="x" * 10_001)


def test_override_text_form() -> None:
    assert Override.parse("btc:mmf:1=0.05") == Override(symbol="BTC", parameter="mmf", tier=0, value=0.05)
    assert Override.parse(" ETH : LTV = 75% ").value == pytest.approx(0.75)
    assert Override.parse("ETH:liquidation_bonus=450bps").value == pytest.approx(0.045)
    assert Override.parse("BTC:max_leverage:3=10x") == Override(symbol="BTC", parameter="max_leverage", tier=2,
                                                                value=10.0)
    for bad in ("BTC=0.1", "BTC:mmf", "BTC:mmf:0=0.1", "BTC:mmf:1=abc", "BTC:mmf:1=nan", "=x:mmf=1"):
        with pytest.raises(GovernanceError) as info:
            Override.parse(bad)
        assert "\n" not in str(info.value)


def test_proposal_content_round_trips_exactly(proposals: dict[str, Proposal]) -> None:
    for p in proposals.values():
        s, pid = fresh(p)
        stored = get_proposal(s, pid)
        rebuilt = gov.proposal_from_content(stored.content)
        assert canonical_json(rebuilt.content()) == canonical_json(stored.content) and rebuilt.id == pid


def test_list_governance(proposals: dict[str, Proposal]) -> None:
    s, pid = in_review(proposals["perp"])
    lid = save_proposal(s, proposals["lending"]).id
    gov.sign_off(s, pid, "ben", committee=COMMITTEE)
    gov.dissent(s, pid, "cat", comment="no", committee=COMMITTEE)
    rows = {r["id"]: r for r in gov.list_governance(s, committee=COMMITTEE)}
    assert rows[pid]["status"] == "in_review" and rows[pid]["sign_offs"] == ["ben"]
    assert rows[pid]["dissents"] == ["cat"] and rows[pid]["assets"] == ["BTC-SYN", "ETH-SYN"]
    assert rows[lid]["profile"] == "lending" and rows[lid]["revision"] == 1 and rows[lid]["quorum"] == 2
    assert set(rows[pid]) >= {"id", "status", "profile", "assets", "sign_offs", "created_at"}
    assert [r["id"] for r in gov.list_governance(s, committee=COMMITTEE, profile="lending")] == [lid]


# -- options: the committee's choice --------------------------------------------------------------
OPTION_NAMES = ["conservative", "moderate", "aggressive"]


@pytest.fixture(scope="module")
def with_options() -> Proposal:
    """A perp proposal of BTC-SYN and ETH-SYN (as the conftest fixture, without current parameters) with the
    three built-in options side by side."""
    import warnings

    from conftest import syn_perp_store

    from riskparams.service import propose

    policy = policy_from_dict({"model": {"model": "ewma", "n_sims": 200},
                               "liquidity": {"adv_override": {"BTC-SYN": 2e9, "ETH-SYN": 1e9}}})
    s = syn_perp_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = propose(s, profile="perp", policy=policy, options=OPTION_NAMES, save=False).proposal
    s.close()
    return p


def approval_event(s: Store, pid: str) -> gov.AuditEvent:
    events = [e for e in gov.workflow(s, pid, committee=COMMITTEE).events if e.action == "approved"]
    assert len(events) == 1
    return events[0]


def test_the_approval_records_the_chosen_option(with_options: Proposal) -> None:
    options = with_options.content()["options"]
    assert [o["name"] for o in options] == OPTION_NAMES
    recommended = [o["name"] for o in options if o["recommended"]]
    assert recommended == [with_options.policy["options"]["recommended"]]
    chosen = next(n for n in OPTION_NAMES if n != recommended[0])
    s, pid = approved_ready(with_options)
    wf = gov.approve(s, pid, "ann", comment="the committee prefers it", option=chosen, committee=COMMITTEE)
    assert wf.status == "approved" and wf.decision is not None
    assert wf.decision.detail == {"option": chosen, "recommended": False}
    ev = approval_event(s, pid)
    assert ev.detail == {"option": chosen, "recommended": False} and ev.comment == "the committee prefers it"
    assert wf.to_dict()["decision"]["detail"]["option"] == chosen
    # without a choice the approval records the recommended option
    s2, pid2 = approved_ready(with_options)
    gov.approve(s2, pid2, "ann", committee=COMMITTEE)
    assert approval_event(s2, pid2).detail == {"option": recommended[0], "recommended": True}


def test_an_unknown_option_is_refused_and_writes_nothing(with_options: Proposal) -> None:
    s, pid = approved_ready(with_options)
    before = s.cursor().execute("SELECT count(*) FROM governance_events").fetchone()
    msg = refused(re.escape(f"proposal {pid[:12]} has no option 'reckless' (options: {', '.join(OPTION_NAMES)})"),
                  gov.approve, s, pid, "ann", option="reckless")
    assert msg.count(".") == 1  # one sentence
    assert s.cursor().execute("SELECT count(*) FROM governance_events").fetchone() == before
    assert gov.workflow(s, pid, committee=COMMITTEE).status == "in_review"
    assert gov.approve(s, pid, "ann", option="aggressive", committee=COMMITTEE).status == "approved"


def test_an_option_on_a_proposal_without_options_is_refused(proposals: dict[str, Proposal]) -> None:
    assert proposals["perp"].content()["options"] == []
    s, pid = approved_ready(proposals["perp"])
    msg = refused(f"^proposal {pid[:12]} has no options to choose from; approve it without one", gov.approve, s, pid,
                  "ann", option="moderate")
    assert msg.count(".") == 1
    assert gov.workflow(s, pid, committee=COMMITTEE).status == "in_review"
    wf = gov.approve(s, pid, "ann", committee=COMMITTEE)  # without one it is approved, with no option recorded
    assert wf.status == "approved" and "option" not in (approval_event(s, pid).detail or {})


# -- exports through the workflow -----------------------------------------------------------------
def test_exports_are_recorded_and_venue_payloads_need_approval(proposals: dict[str, Proposal]) -> None:
    s, pid = in_review(proposals["perp"])
    draft = gov.export_proposal(s, pid, "json", "eve", committee=COMMITTEE)
    assert not draft.final and draft.status == "in_review"
    refused("^venue payloads are exported only from approved proposals; proposal .* is in_review", gov.export_proposal,
            s, pid, "dydx", "ann")
    with pytest.raises(gov.RiskParamsError, match="cannot be exported as a venue payload for aave"):
        gov.export_proposal(s, pid, "aave", "ann", committee=COMMITTEE)
    with pytest.raises(gov.RiskParamsError, match="export format must be one of md, json, csv, html, dydx, aave"):
        gov.export_proposal(s, pid, "pdf", "ann", committee=COMMITTEE)
    wf = gov.workflow(s, pid, committee=COMMITTEE)
    assert wf.status == "in_review" and [e.action for e in wf.events] == ["created", "submitted", "exported"]
    assert wf.events[-1].detail["final"] is False


# -- append-only audit log ------------------------------------------------------------------------
def test_governance_records_never_update_or_delete() -> None:
    """The audit log and revision links are append-only by construction: only SELECT and INSERT."""
    src = (ROOT / "riskparams" / "store" / "governance_records.py").read_text()
    strings = [n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    sql = " ".join(" ".join(s.split()).upper() for s in strings)
    assert "INSERT INTO GOVERNANCE_EVENTS" in sql and "INSERT INTO PROPOSAL_REVISIONS" in sql
    forbidden = [r"\bUPDATE\s+\w+\s+SET\b", r"\bDELETE\s+FROM\b", r"\bDROP\s+(TABLE|VIEW)\b", r"\bALTER\s+TABLE\b",
                 r"\bOR\s+REPLACE\b", r"\bDO\s+UPDATE\b", r"\bTRUNCATE\b"]
    assert [f for f in forbidden if re.search(f, sql)] == []
    gov_src = (ROOT / "riskparams" / "governance.py").read_text()
    assert ".execute(" not in gov_src  # all SQL lives in the store package


def test_the_audit_log_only_grows(proposals: dict[str, Proposal]) -> None:
    s, pid = in_review(proposals["perp"])
    snapshots = []
    for step in (lambda: gov.sign_off(s, pid, "ben", committee=COMMITTEE),
                 lambda: gov.retract(s, pid, "ben", committee=COMMITTEE),
                 lambda: gov.comment(s, pid, "eve", text="noted", committee=COMMITTEE)):
        step()
        snapshots.append(s.cursor().execute(
            "SELECT event_id, action, actor, comment FROM governance_events ORDER BY event_id").fetchall())
    for before, after in zip(snapshots, snapshots[1:], strict=False):
        assert after[: len(before)] == before and len(after) == len(before) + 1

"""Tamper evidence: re-check a store's governance records from scratch (``riskparams verify``).

:func:`verify` trusts nothing the store says about itself. It re-derives, from the raw rows:

1. **The audit chain.** Every event's SHA-256 over its fields and the previous hash; every event in the
   chain and every chain row with its event; the links in order. An edited, deleted, inserted or reordered
   event breaks it. With ``anchor`` (a chain head published earlier, e.g. in an export) it also proves that
   the history up to that point was not rewritten as a whole.
2. **Contents.** Every proposal and attached backtest report still hashes to its id; every committee to
   its hash; the per-asset data index matches the proposal's content.
3. **Records against the log.** Each proposal's status log is exactly the status changes of its audit
   events; each revision link matches its ``revision_created`` event; each backtest attachment has its
   event; each proposal has its ``created`` event and each ``created`` event its proposal.
4. **The workflow, replayed.** The events of each proposal are replayed through the committee rules with
   the committee bound at review: who may act (role and membership, as recorded and as the committee
   says), in which status, and that an approval had a quorum of counted sign-offs and no standing dissent.
5. **Signatures.** Every signature verifies under the acting member's key in the bound committee, none is
   used twice, and where the committee requires signatures every vote and decision carries one.

What it cannot see: someone with write access who appends new, correctly chained events. Signatures
(``require_signatures = true``) make a forged vote or approval fail check 5; an anchor published outside the
store (the chain head is printed in every export) makes a rewritten history fail check 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from riskparams import signing
from riskparams.jsonio import canonical_json, content_id
from riskparams.store import Store
from riskparams.store import governance_records as gr
from riskparams.store.records import resolve_proposal_id

__all__ = ["Problem", "Verification", "verify"]

_OPEN = ("draft", "in_review")
_DECIDED = ("approved", "exported")
_VOTERS = ("chair", "member")


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One finding: ``kind`` (chain, content, record, workflow, signature, committee), the proposal and
    event concerned (when there is one) and a one-sentence ``message``."""

    kind: str
    message: str
    proposal_id: str | None = None
    event_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "proposal_id": self.proposal_id,
                "event_id": self.event_id}


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """The result of :func:`verify`.

    Attributes
    ----------
    proposal_id : str or None
        The proposal whose lineage was checked (None: every proposal).
    problems : tuple of Problem
        Empty when everything verifies.
    checked : mapping
        Counts of what was checked (events, proposals, signatures, ...).
    chain_head : str
        Hash of the newest event: publish it to anchor the history.
    notes : tuple of str
        Limits of the check (events recorded before the chain existed, ...).
    """

    proposal_id: str | None
    problems: tuple[Problem, ...]
    checked: Mapping[str, int] = field(default_factory=dict)
    chain_head: str = gr.GENESIS
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "ok": self.ok, "problems": [p.to_dict() for p in self.problems],
                "checked": dict(self.checked), "chain_head": self.chain_head, "notes": list(self.notes)}


def _short(x: str | None) -> str:
    return "?" if x is None else str(x)[:12]


def _norm(status: str | None) -> str | None:
    return "in_review" if status == "submitted" else status


class _Checker:
    def __init__(self, cur: Any, scope: set[str] | None) -> None:
        self.cur = cur
        self.scope = scope
        self.problems: list[Problem] = []
        self.checked: dict[str, int] = {}
        self.notes: list[str] = []

    def add(self, kind: str, message: str, pid: str | None = None, eid: int | None = None) -> None:
        self.problems.append(Problem(kind=kind, message=message, proposal_id=pid, event_id=eid))

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    def in_scope(self, pid: str | None) -> bool:
        return self.scope is None or pid in self.scope

    # -- 1. chain ----------------------------------------------------------------------------------
    def chain(self, events: list[dict[str, Any]], anchor: str | None) -> str:
        rows = gr.chain_rows(self.cur)
        by_event = {e["event_id"]: e for e in events}
        chained = {eid for eid, _, _ in rows}
        started = gr.chain_started_at(self.cur)
        first = min(chained) if chained else None
        legacy = 0
        for e in events:
            if e["event_id"] not in chained and started is not None and e["at"] < started \
                    and (first is None or e["event_id"] < first):
                legacy += 1  # recorded before the upgrade to the chain and not yet sealed by a write
            elif e["event_id"] not in chained:
                self.add("chain", f"event {e['event_id']} ({e['action']} on {_short(e['proposal_id'])}) is not in "
                         "the audit chain: it was inserted behind the store's back.", e["proposal_id"], e["event_id"])
        prev = gr.GENESIS
        hashes = set()
        for eid, prev_hash, h in rows:
            self.count("chain links")
            hashes.add(h)
            ev = by_event.get(eid)
            if prev_hash != prev:
                self.add("chain", f"the audit chain breaks before event {eid}: its previous hash is not the hash of "
                         "the event before it (an event was deleted, inserted or reordered).", None, eid)
            if ev is None:
                self.add("chain", f"event {eid} is in the audit chain but not in the audit log: it was deleted.",
                         None, eid)
            elif gr.event_hash(ev, prev_hash) != h:
                self.add("chain", f"event {eid} ({ev['action']} on {_short(ev['proposal_id'])} by @{ev['actor']}) "
                         "no longer matches its chain hash: it was edited.", ev["proposal_id"], eid)
            prev = h
        if legacy:
            self.notes.append(f"{legacy} audit events were recorded before this store had the audit chain (upgraded "
                              f"{started:%Y-%m-%d}); the next governance action seals them into it, and until then "
                              "their order and content rest on the store alone.")
        if anchor is not None and anchor.lower() not in hashes:
            self.add("chain", f"the anchor {anchor[:16]}... is not in the audit chain: the history it anchored was "
                     "rewritten.")
        self.count("events", len(events))
        return prev

    # -- committees --------------------------------------------------------------------------------
    def committees(self) -> dict[str, Any]:
        from riskparams.governance import CommitteeError, committee_from_content

        out: dict[str, Any] = {}
        for h, text in gr.committee_rows(self.cur):
            self.count("committees")
            try:
                out[h] = committee_from_content(text, h)
            except (CommitteeError, json.JSONDecodeError) as exc:
                self.add("committee", str(exc))
        return out


def _lineage(cur: Any, pid: str) -> set[str]:
    links = {r["proposal_id"]: r for r in gr.revision_links(cur, [p for p, _, _ in gr.proposal_rows(cur)]).values()}
    root = links[pid]["root_id"] if pid in links else pid
    return {root} | {p for p, r in links.items() if r["root_id"] == root}


def verify(store: Store, proposal_id: str | None = None, *, anchor: str | None = None) -> Verification:
    """Re-check the store's governance records (see the module notes); never raises on tampering.

    Parameters
    ----------
    store : Store
    proposal_id : str, optional
        Check this proposal's lineage (its root and every revision) besides the whole audit chain and the
        committees; default every proposal. An id or unique prefix of >= 6 hex characters.
    anchor : str, optional
        A chain head published earlier; it must still be in the chain.

    Raises
    ------
    ProposalNotFoundError
        ``proposal_id`` matches no stored proposal.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> pid = riskparams.propose(store, profile="perp", symbols=["ABC"]).id
    >>> state = riskparams.perform(store, pid, "bob", "submit")
    >>> check = riskparams.verify(store)
    >>> check.ok, check.problems, check.checked["proposals"]
    (True, (), 1)
    >>> riskparams.verify(store, pid, anchor=check.chain_head).ok  # the published head is still in the chain
    True
    """
    pid = None
    if proposal_id is not None:
        pid = resolve_proposal_id(store, proposal_id)
    with store.reading() as cur:
        chk = _Checker(cur, None if pid is None else _lineage(cur, pid))
        events = gr.all_events(cur)
        head = chk.chain(events, anchor)
        committees = chk.committees()
        _contents(chk, events)
        _replay(chk, events, committees)
    return Verification(proposal_id=pid, problems=tuple(chk.problems), checked=chk.checked, chain_head=head,
                        notes=tuple(chk.notes))


# -- 2 and 3: contents and records against the log ----------------------------------------------------
def _contents(chk: _Checker, events: list[dict[str, Any]]) -> None:
    cur = chk.cur
    rows = gr.proposal_rows(cur)
    stored = {p for p, _, _ in rows}
    started = gr.chain_started_at(cur)
    created = {e["proposal_id"]: e for e in events if e["action"] == "created"}
    assets = gr.proposal_assets(cur, sorted(stored))
    for p, created_at, text in rows:
        if not chk.in_scope(p):
            continue
        chk.count("proposals")
        content: dict[str, Any] = {}
        try:
            content = json.loads(text)
            ok = content_id(content) == p and canonical_json(content) == text
        except (json.JSONDecodeError, TypeError, ValueError):
            ok = False
        if not ok:
            chk.add("content", f"proposal {_short(p)} no longer matches its content hash: its content was edited.", p)
        if p not in created:
            if started is None or created_at >= started:
                chk.add("record", f"proposal {_short(p)} has no 'created' event in the audit log: it was inserted "
                        "behind the store's back.", p)
            else:
                chk.notes.append(f"proposal {_short(p)} was stored before the audit chain (schema 7) existed.")
        want = sorted(a["symbol"] for a in content.get("assets", []) if a.get("context")) if ok else None
        if want is not None and assets.get(p, []) != want:
            chk.add("record", f"the data index of proposal {_short(p)} lists {assets.get(p, [])}, its content "
                    f"{want}: the index was edited.", p)
    for p, e in created.items():
        if p not in stored and chk.in_scope(p):
            chk.add("record", f"proposal {_short(p)} was created (event {e['event_id']}) but is no longer in the "
                    "store: it was deleted.", p, e["event_id"])
    # status logs against the status changes in the audit log
    logs = gr.status_logs(cur)
    per: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        per.setdefault(e["proposal_id"], []).append(e)
    for p in sorted(stored | set(logs)):
        if not chk.in_scope(p):
            continue
        log = [_norm(x) for x in logs.get(p, [])]
        evs = per.get(p, [])
        expected: list[str | None] = ["draft"] if p in created or log[:1] == ["draft"] else []
        for e in evs:
            if e["action"] in ("created", "revision_created"):
                continue
            if _norm(e["to_status"]) != _norm(e["from_status"]):
                expected.append(_norm(e["to_status"]))
        legacy = p not in created and started is not None
        if log != expected and not (legacy and not evs):
            chk.add("record", f"the status log of proposal {_short(p)} reads {' -> '.join(map(str, log)) or 'empty'} "
                    f"but its audit events give {' -> '.join(map(str, expected))}: the status log was edited.", p)
    # revision links
    links = gr.revision_links(cur, sorted(stored))
    made = {e["proposal_id"]: e for e in events if e["action"] == "revision_created"}
    for p, link in links.items():
        if not chk.in_scope(p):
            continue
        made_by = made.get(p)
        if made_by is None or made_by["detail"].get("parent") != link["parent_id"] or \
                int(made_by["detail"].get("revision", -1)) != int(link["revision"]) or \
                made_by["comment"] != link["justification"]:
            chk.add("record", f"the revision link of proposal {_short(p)} (parent {_short(link['parent_id'])}, "
                    f"revision {link['revision']}) does not match its revision_created event: it was edited.", p)
    for p, e in made.items():
        if chk.in_scope(p) and p not in links:
            chk.add("record", f"proposal {_short(p)} has a revision_created event but no revision link: the link was "
                    "deleted.", p, e["event_id"])
    # backtest attachments
    attached = {(e["proposal_id"], e["detail"].get("report")) for e in events if e["action"] == "backtest_attached"}
    for p, r in gr.attachment_rows(cur):
        if chk.in_scope(p) and (p, r) not in attached and (started is None or p in created):
            chk.add("record", f"backtest {_short(r)} is attached to proposal {_short(p)} without a backtest_attached "
                    "event: the attachment was inserted behind the store's back.", p)
        if chk.in_scope(p):
            chk.count("backtest attachments")
            _check_report(chk, p, r)


def _check_report(chk: _Checker, pid: str, rid: str) -> None:
    from riskparams.store.backtest_records import SELECT_PAYLOAD

    row = chk.cur.execute(SELECT_PAYLOAD, [rid]).fetchone()
    if row is None:
        chk.add("record", f"backtest {_short(rid)} attached to proposal {_short(pid)} is no longer stored.", pid)
        return
    try:
        content = json.loads(str(row[0]))
        ok = content_id(content) == rid and canonical_json(content) == str(row[0])
    except (json.JSONDecodeError, TypeError, ValueError):
        ok = False
    if not ok:
        chk.add("content", f"backtest {_short(rid)} attached to proposal {_short(pid)} no longer matches its content "
                "hash: it was edited.", pid)


# -- 4 and 5: the workflow replayed, signatures ---------------------------------------------------------
def _member(committee: Any, handle: str) -> Any:
    return None if committee is None else committee.find(handle)


def _sig_problem(e: Mapping[str, Any], committee: Any, chash: str) -> str | None:
    from riskparams.governance import action_message

    try:
        sig = signing.Signature.from_dict(e["signature"])
        m = _member(committee, e["actor"])
        if m is None:
            return f"@{e['actor']} is not in the committee that should verify the signature."
        msg = action_message(e["proposal_id"] if not str(e["proposal_id"]).startswith("committee:")
                             else str(e["proposal_id"]).split(":", 1)[1],
                             e["action"], m, chash, detail=e["detail"], comment=e["comment"], timestamp=sig.timestamp)
        return signing.verify(msg, sig, address=m.eth_address, ed25519=m.ed25519)
    except signing.SignatureError as exc:
        return str(exc)


def _replay(chk: _Checker, events: list[dict[str, Any]], committees: dict[str, Any]) -> None:
    active: str | None = None
    unjudged: set[str] = set()
    seen_sigs: dict[str, int] = {}
    state: dict[str, dict[str, Any]] = {}
    changes: dict[str, dict[str, Any]] = {}
    for e in events:
        pid, action, eid = e["proposal_id"], e["action"], e["event_id"]
        if e.get("signature"):
            s = str(e["signature"].get("signature"))
            if s in seen_sigs:
                chk.add("signature", f"event {eid} reuses the signature of event {seen_sigs[s]}: a replayed "
                        "signature.", pid, eid)
            seen_sigs[s] = eid
        if pid == gr.COMMITTEE_LOG:
            h = str(e["detail"].get("committee"))
            if h not in committees:
                chk.add("committee", f"event {eid} names committee {_short(h)}, which is not stored.", None, eid)
            if action == "committee_registered" and active is not None:
                chk.add("committee", f"event {eid} registers a committee although {_short(active)} was already "
                        "registered; only an approved change may replace it.", None, eid)
            if action == "committee_changed":
                _check_change(chk, e, changes.get(h), committees.get(active) if active else None, active)
            active = h
            continue
        if str(pid).startswith("committee:"):
            _replay_change(chk, e, changes, committees.get(active) if active else None, active)
            continue
        st = state.setdefault(pid, {"status": None, "votes": {}, "bound": None, "authors": set()})
        if action == "created":
            st["status"] = "draft"
            if e["actor"] != "riskparams":
                st["authors"].add(e["actor"])
            continue
        if action == "revision_created":
            st["status"] = "draft"
            st["authors"].add(e["actor"])
            continue
        if not chk.in_scope(pid):
            st["status"] = _norm(e["to_status"])
            continue
        chk.count("workflow events")
        frm = _norm(e["from_status"])
        if st["status"] is not None and frm != st["status"]:
            chk.add("workflow", f"event {eid} ({action} on {_short(pid)}) starts from status {frm}, but the "
                    f"proposal was {st['status']}: an event is missing or was altered.", pid, eid)
        committee_hash = st["bound"] or active
        committee = committees.get(committee_hash) if committee_hash else None
        m = _member(committee, e["actor"])
        role = None if m is None else m.role
        if committee is None:
            unjudged.add(pid)
        elif action in ("submitted", "signed_off", "dissented", "retracted", "approved", "rejected", "withdrawn",
                        "revised"):
            if m is None:
                chk.add("workflow", f"event {eid}: @{e['actor']} ({action} on {_short(pid)}) is not a member of the "
                        f"committee {_short(committee_hash)} that governs the proposal.", pid, eid)
            elif role != e["actor_role"]:
                chk.add("workflow", f"event {eid}: @{e['actor']} acted as {e['actor_role']} but is a {role} in "
                        f"committee {_short(committee_hash)}.", pid, eid)
        if action == "submitted":
            if frm not in (None, "draft"):
                chk.add("workflow", f"event {eid}: {_short(pid)} was submitted from {frm}, not from a draft.", pid, eid)
            b = e["detail"].get("committee")
            if b is not None and b != active:
                chk.add("workflow", f"event {eid}: {_short(pid)} was bound to committee {_short(b)} while "
                        f"{_short(active)} governed the store.", pid, eid)
            st["bound"] = b
            st["votes"] = {}
            st["authors"].add(e["actor"])
        elif action in ("signed_off", "dissented", "retracted"):
            if frm != "in_review":
                chk.add("workflow", f"event {eid}: a vote ({action}) on {_short(pid)} while it was {frm}.", pid, eid)
            if role not in _VOTERS and m is not None:
                chk.add("workflow", f"event {eid}: @{e['actor']} is an observer and cannot vote.", pid, eid)
            st["votes"][e["actor"]] = action
        elif action in ("approved", "rejected"):
            if frm != "in_review":
                chk.add("workflow", f"event {eid}: {_short(pid)} was {action} while it was {frm}.", pid, eid)
            if role != "chair" and m is not None:
                chk.add("workflow", f"event {eid}: @{e['actor']} is a {role}; only a chair may record a decision.",
                        pid, eid)
            if action == "approved" and committee is not None:
                dissent = sorted(h for h, v in st["votes"].items() if v == "dissented")
                counted = [h for h, v in st["votes"].items() if v == "signed_off"
                           and (mm := committee.find(h)) is not None and mm.can_vote
                           and (committee.author_may_sign or h not in st["authors"])]
                if dissent:
                    chk.add("workflow", f"event {eid}: {_short(pid)} was approved with standing dissent from "
                            f"{', '.join('@' + h for h in dissent)}.", pid, eid)
                if len(counted) < committee.quorum:
                    chk.add("workflow", f"event {eid}: {_short(pid)} was approved with {len(counted)} counted "
                            f"sign-offs; the committee's quorum is {committee.quorum}.", pid, eid)
        elif action == "withdrawn" and frm not in _OPEN:
            chk.add("workflow", f"event {eid}: {_short(pid)} was withdrawn while it was {frm}.", pid, eid)
        elif action == "exported" and e["detail"].get("final") and frm not in _DECIDED:
            chk.add("workflow", f"event {eid}: {_short(pid)} was exported as final while it was {frm}.", pid, eid)
        _check_signature(chk, e, committee, committee_hash, _short(pid))
        st["status"] = _norm(e["to_status"])
    if unjudged:
        chk.notes.append(f"{len(unjudged)} proposal{'s' if len(unjudged) != 1 else ''} had actions before any "
                         "committee was registered in the store (an older riskparams): who acted was not checked "
                         "against a committee for those actions.")


def _replay_change(chk: _Checker, e: Mapping[str, Any], changes: dict[str, dict[str, Any]], committee: Any,
                   active: str | None) -> None:
    """A proposed committee change and the votes on it (under the committee in force)."""
    h = str(e["proposal_id"]).split(":", 1)[1]
    ch = changes.setdefault(h, {"votes": {}, "base": active})
    eid, action = e["event_id"], e["action"]
    chk.count("committee change events")
    m = _member(committee, e["actor"])
    if m is None or not m.can_vote:
        chk.add("committee", f"event {eid}: @{e['actor']} ({action} on the committee change {_short(h)}) is not a "
                "voting member of the committee in force.", None, eid)
    if ch["base"] != active:
        chk.add("committee", f"event {eid}: a vote on the committee change {_short(h)} after the committee it "
                "would replace changed.", None, eid)
    _check_signature(chk, e, committee, active, f"the committee change {_short(h)}")
    if action in ("signed_off", "dissented", "retracted"):
        ch["votes"][e["actor"]] = action


def _check_signature(chk: _Checker, e: Mapping[str, Any], committee: Any, chash: str | None, what: str) -> None:
    from riskparams.governance import SIGNED_ACTIONS

    if e.get("signature"):
        chk.count("signatures")
        why = _sig_problem(e, committee, str(chash or ""))
        if why is not None:
            chk.add("signature", f"event {e['event_id']} ({e['action']} on {what} by @{e['actor']}): {why}",
                    None, e["event_id"])
    elif committee is not None and committee.require_signatures and e["action"] in SIGNED_ACTIONS:
        chk.add("signature", f"event {e['event_id']} ({e['action']} on {what} by @{e['actor']}) carries no "
                "signature although the committee requires one.", None, e["event_id"])


def _check_change(chk: _Checker, e: Mapping[str, Any], ch: dict[str, Any] | None, committee: Any,
                  active: str | None) -> None:
    """A committee change made active: by a chair of the committee in force, with its quorum, no dissent."""
    eid = e["event_id"]
    h = str(e["detail"].get("committee"))
    if ch is None or ch["base"] != active:
        chk.add("committee", f"event {eid} makes committee {_short(h)} active without a change proposed to the "
                "committee in force.", None, eid)
        return
    if committee is None:
        return
    m = committee.find(e["actor"])
    if m is None or m.role != "chair":
        chk.add("committee", f"event {eid}: the committee change {_short(h)} was approved by @{e['actor']}, not by a "
                "chair of the committee in force.", None, eid)
    n = sum(1 for k, v in ch["votes"].items() if v == "signed_off" and (mm := committee.find(k)) is not None
            and mm.can_vote)
    dissent = sorted(k for k, v in ch["votes"].items() if v == "dissented")
    if n < committee.quorum or dissent:
        chk.add("committee", f"event {eid}: the committee change {_short(h)} was approved with {n} sign-offs (quorum "
                f"{committee.quorum}){' and standing dissent' if dissent else ''}.", None, eid)
    _check_signature(chk, {**e, "proposal_id": f"committee:{h}"}, committee, active, f"the committee change {_short(h)}")

"""The committee workflow for proposals: review, sign-offs, dissent, decision, revisions, audit log.

A stored proposal (:mod:`riskparams.store.records`) is immutable content addressed by its SHA-256. This
module moves it through the committee's workflow and records every action, with the member who took it,
in an append-only audit log (:mod:`riskparams.store.governance_records`). Members come from a committee
file (:func:`load_committee`; default ``riskparams/examples/committee.toml``).

Workflow rules
--------------
Statuses: ``draft -> in_review -> approved | rejected``; ``approved -> exported`` (the first export);
``draft | in_review -> withdrawn``; ``superseded`` (replaced by a revision). ``approved``, ``exported``,
``rejected``, ``superseded`` and ``withdrawn`` are final for that revision.

==============  ==================  ========================================================================
action          who                 rule
==============  ==================  ========================================================================
submit (review) chair, member       only a ``draft``; the submitter becomes an author of the revision
sign off        chair, member       only ``in_review``; once per member (a second sign-off is refused);
                                    not an author unless ``author_may_sign``; replaces the member's dissent
dissent         chair, member       only ``in_review``; a comment is required; replaces the member's sign-off
retract         chair, member       only ``in_review``; withdraws the member's own sign-off or dissent
approve         chair               only ``in_review``, with at least ``quorum`` sign-offs (default 2) and
                                    no unresolved dissent; approving a revision supersedes its approved
                                    (or exported) ancestors
reject          chair               only ``in_review``; a comment is required
withdraw        chair, member       only ``draft`` or ``in_review``
comment         anyone listed       any status; a comment is required
override        chair, member       a written justification is required; creates a NEW revision (a draft)
                                    linked to its parent; refused on ``superseded`` / ``withdrawn`` and
                                    when the proposal already has an open (draft or in review) revision.
                                    An open parent (draft, in review) becomes ``superseded``; an approved
                                    or rejected parent keeps its status (an approved proposal never
                                    changes: its revision must be approved in turn)
export          anyone listed       any status; a proposal not approved is marked DRAFT (or REJECTED,
                                    WITHDRAWN, SUPERSEDED) in the output; venue payloads (dYdX, Aave) only
                                    from ``approved`` / ``exported``; the first export of an approved
                                    proposal sets ``exported``
==============  ==================  ========================================================================

*Unresolved dissent*: a member's latest vote is a dissent. It is resolved only by that member, who
retracts it or changes it into a sign-off; a chair cannot overrule it (the committee can revise the
proposal, reject it, or let the dissenter be persuaded). A dissent blocks even if its author has since left
the committee file. *Sign-offs counted* toward the quorum are the latest votes of members who are in the
committee file now with a voting role and, unless ``author_may_sign``, are not authors of the revision.
Votes belong to one revision: a revision starts with none.

Overrides
---------
An :class:`Override` sets one parameter of one asset (perp: ``max_leverage``, ``imf``, ``mmf``,
``liquidation_penalty`` per tier; lending: ``ltv``, ``liquidation_threshold``, ``liquidation_bonus``) and
:func:`revise` stores the result as a new proposal whose content records, under
``provenance.revision``, its number, parent, root, author, justification and every override since the
model run (old and new value). Overridden lines say ``bound='override'``; IMF and max leverage move
together (IMF = 1 / max leverage); maintenance deductions are recomputed; coverage and close-out figures
stay the model's (a note says so). The invariants of :mod:`riskparams.proposals` are enforced:
``0 <= penalty < MMF < IMF <= 1`` and margins that never fall as positions grow (perp);
``0 <= LTV < LT`` and ``LT x (1 + bonus) <= 1`` (lending).

Units: fractions (0.03 = 3 %); max leverage in x. Tier numbers are 0-based in the library and the JSON
(as in ``ParamLine.tier``) and 1-based in messages, ``Override.parse`` and the Markdown / CSV exports.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from riskparams import export as _export
from riskparams import signing
from riskparams.domain import (
    LendingAssetProposal,
    ParamLine,
    PerpAssetProposal,
    Proposal,
    validate_symbol,
)
from riskparams.exceptions import CommitteeError, GovernanceError, RiskParamsError  # noqa: F401 (re-exported)
from riskparams.jsonio import canonical_json, sha256_hex
from riskparams.store import Store, iso_z, now_utc
from riskparams.store import governance_records as gr
from riskparams.store.records import (
    StoredProposal,
    append_status_in,
    get_proposal,
    latest_status,
    list_proposals,
    save_proposal_in,
)

__all__ = [
    "ACTIONS",
    "COMMITTEE_ENV_VAR",
    "MEMBER_ENV_VAR",
    "ROLES",
    "Action",
    "AuditEvent",
    "CommitteeChange",
    "Committee",
    "CommitteeError",
    "DiffRow",
    "ExportResult",
    "GovernanceError",
    "Member",
    "Override",
    "ProposalDiff",
    "Revision",
    "Status",
    "Vote",
    "Workflow",
    "action_message",
    "apply_overrides",
    "approve",
    "approve_committee_change",
    "committee_changes",
    "committee_from_content",
    "comment",
    "committee_from_dict",
    "diff",
    "diff_contents",
    "dissent",
    "example_committee_path",
    "export_proposal",
    "list_governance",
    "load_committee",
    "perform",
    "propose_committee_change",
    "proposal_from_content",
    "reject",
    "retract",
    "revise",
    "sign_off",
    "store_committee",
    "submit_for_review",
    "typed_data",
    "vote_committee_change",
    "withdraw",
    "workflow",
]

COMMITTEE_ENV_VAR = "RISKPARAMS_COMMITTEE"
"""Environment variable naming the committee file (``--committee FILE`` wins over it)."""

MEMBER_ENV_VAR = "RISKPARAMS_MEMBER"
"""Environment variable the command line reads when ``--as`` is not given."""

ROLES: tuple[str, ...] = ("chair", "member", "observer")
"""Committee roles; chairs and members vote, observers comment and export."""

VOTING_ROLES: tuple[str, ...] = ("chair", "member")

MAX_COMMENT = 10_000
"""Longest comment or justification, in characters."""

_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{1,99}$")
_ETH = re.compile(r"^0x[0-9a-fA-F]{40}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")
_ED25519 = re.compile(r"^[0-9a-fA-F]{64}$")


class Status(StrEnum):
    """Workflow statuses of a proposal revision."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPORTED = "exported"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    """Actions written to the audit log."""

    SUBMITTED = "submitted"
    SIGNED_OFF = "signed_off"
    DISSENTED = "dissented"
    RETRACTED = "retracted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    COMMENTED = "commented"
    REVISED = "revised"
    REVISION_CREATED = "revision_created"
    SUPERSEDED = "superseded"
    EXPORTED = "exported"
    CREATED = "created"
    BACKTEST_ATTACHED = "backtest_attached"
    COMMITTEE_REGISTERED = "committee_registered"
    COMMITTEE_CHANGE_PROPOSED = "committee_change_proposed"
    COMMITTEE_CHANGED = "committee_changed"


SIGNED_ACTIONS: tuple[str, ...] = (
    Action.SIGNED_OFF.value, Action.DISSENTED.value, Action.APPROVED.value, Action.REJECTED.value,
    Action.REVISED.value, Action.COMMITTEE_CHANGE_PROPOSED.value, Action.COMMITTEE_CHANGED.value,
)
"""Actions that carry a signature when the committee sets ``require_signatures`` (any action may carry one)."""

COMMITTEE_LOG = gr.COMMITTEE_LOG
"""``proposal_id`` of the audit events that register or change the store's committee."""


_OPEN = (Status.DRAFT.value, Status.IN_REVIEW.value)
_DECIDED = (Status.APPROVED.value, Status.EXPORTED.value)


def _norm(status: str | None) -> str:
    """Workflow status of a logged one (``submitted``, written by older code, reads as ``in_review``)."""
    if status is None:
        return Status.DRAFT.value
    return Status.IN_REVIEW.value if status == "submitted" else str(status)


def _short(pid: str) -> str:
    return pid[:12]


# -------------------------------------------------------------------------------------------------
# committee
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A committee member.

    Attributes
    ----------
    name : str
        Display name.
    handle : str
        1-40 letters, digits and ``. _ -``; unique in the committee (case-insensitive).
    role : str
        ``chair``, ``member`` or ``observer``.
    address : str or None
        Wallet or account address (unique); members may be named by it too. An Ethereum address
        (``0x`` + 40 hex digits) verifies the member's EIP-712 signatures.
    email : str or None
        The identity the dashboard's OIDC provider or authenticating proxy reports for the member (unique,
        case-insensitive); in those modes a user acts only as the member with their email.
    ed25519 : str or None
        The member's Ed25519 public key (64 hex digits), for members without a wallet: it verifies their
        Ed25519 signatures.
    """

    name: str
    handle: str
    role: str
    address: str | None = None
    email: str | None = None
    ed25519: str | None = None

    @property
    def can_vote(self) -> bool:
        """Chairs and members vote; observers do not."""
        return self.role in VOTING_ROLES

    @property
    def label(self) -> str:
        """``'Name (@handle)'``."""
        return f"{self.name} (@{self.handle})"

    @property
    def eth_address(self) -> str | None:
        """The address when it is an Ethereum address (``0x`` + 40 hex digits), else None."""
        return self.address if self.address is not None and _ETH.match(self.address) else None

    def to_dict(self) -> dict[str, Any]:
        """``{"handle", "name", "role", "address"}`` (what the audit log records of the actor)."""
        return {"handle": self.handle, "name": self.name, "role": self.role, "address": self.address}

    def keys_dict(self) -> dict[str, Any]:
        """Everything the committee file says of the member (``to_dict`` plus ``email`` and ``ed25519``)."""
        return {**self.to_dict(), "email": self.email, "ed25519": self.ed25519}


@dataclass(frozen=True, slots=True, kw_only=True)
class Committee:
    """The committee: its members and approval rules (validated on construction).

    Attributes
    ----------
    members : tuple of Member
    quorum : int
        Sign-offs needed to approve, in [1, number of voting members]; default 2.
    author_may_sign : bool
        May an author of a revision (its submitter, or the member whose override made it) sign it off?
    require_signatures : bool
        Refuse sign-offs, dissents, approvals, rejections and overrides that carry no valid signature of the
        acting member (every voting member then needs a key).
    source : str
        Where it was read from (used in error messages).
    """

    members: tuple[Member, ...]
    quorum: int = 2
    author_may_sign: bool = False
    require_signatures: bool = False
    source: str = "committee"

    def __post_init__(self) -> None:
        src = self.source
        if not self.members:
            raise CommitteeError(f"{src}: the committee has no members; add [[members]] entries.")
        seen: dict[str, str] = {}
        for k, m in enumerate(self.members):
            where = f"{src}: members[{k}]"
            if not isinstance(m.name, str) or not m.name.strip():
                raise CommitteeError(f"{where}.name must be a non-empty string.")
            if not isinstance(m.handle, str) or not _HANDLE.match(m.handle):
                raise CommitteeError(f"{where}.handle must be 1-40 letters, digits and . _ - starting with a "
                                     f"letter or digit, got {m.handle!r}.")
            if m.role not in ROLES:
                raise CommitteeError(f"{where}.role must be one of {', '.join(ROLES)}, got {m.role!r}.")
            if m.address is not None and (not isinstance(m.address, str) or not _ADDRESS.match(m.address)):
                raise CommitteeError(f"{where}.address must be 2-100 letters, digits and . : _ -, got {m.address!r}.")
            if m.email is not None and (not isinstance(m.email, str) or not _EMAIL.match(m.email)):
                raise CommitteeError(f"{where}.email must be an email address, got {m.email!r}.")
            if m.ed25519 is not None and (not isinstance(m.ed25519, str) or not _ED25519.match(m.ed25519)):
                raise CommitteeError(f"{where}.ed25519 must be an Ed25519 public key of 64 hex digits, got "
                                     f"{m.ed25519!r}.")
            for key in (m.handle, m.address, m.email, m.ed25519):
                if key is None:
                    continue
                if key.lower() in seen:
                    raise CommitteeError(f"{where}: {key!r} already names {seen[key.lower()]}; handles and "
                                         "addresses must be unique.")
                seen[key.lower()] = f"members[{k}]" if key == m.handle else f"@{m.handle}"
        if not any(m.role == "chair" for m in self.members):
            raise CommitteeError(f"{src}: the committee needs at least one chair to record decisions.")
        voters = sum(m.can_vote for m in self.members)
        if isinstance(self.quorum, bool) or not isinstance(self.quorum, int) or not 1 <= self.quorum <= voters:
            raise CommitteeError(f"{src}: quorum must be a whole number in [1, {voters}] (the voting members), "
                                 f"got {self.quorum!r}.")
        if not isinstance(self.author_may_sign, bool):
            raise CommitteeError(f"{src}: author_may_sign must be true or false, got {self.author_may_sign!r}.")
        if not isinstance(self.require_signatures, bool):
            raise CommitteeError(f"{src}: require_signatures must be true or false, got "
                                 f"{self.require_signatures!r}.")
        if self.require_signatures:
            unkeyed = [m.handle for m in self.voters if m.eth_address is None and m.ed25519 is None]
            if unkeyed:
                raise CommitteeError(f"{src}: require_signatures is true but voting member @{unkeyed[0]} has no key "
                                     "(an Ethereum address or an ed25519 public key).")

    def find_email(self, email: str) -> Member | None:
        """The member whose ``email`` is ``email`` (case-insensitive), None if nobody's."""
        key = str(email).strip().lower()
        return next((m for m in self.members if m.email is not None and m.email.lower() == key), None)

    def find(self, who: str) -> Member | None:
        """The member named by handle (``@`` optional) or address, case-insensitive; None if not listed."""
        key = str(who).strip().lstrip("@").lower()
        for m in self.members:
            if m.handle.lower() == key or (m.address is not None and m.address.lower() == key):
                return m
        return None

    def member(self, who: str | Member) -> Member:
        """The member named by ``who`` (handle or address), else :class:`CommitteeError`."""
        if isinstance(who, Member):
            found = self.find(who.handle)
            if found != who:
                raise CommitteeError(f"@{who.handle} is not a member of the committee in {self.source}.")
            return who
        if not str(who).strip():
            raise CommitteeError("say which committee member acts (a handle or an address).")
        found = self.find(who)
        if found is None:
            handles = ", ".join(m.handle for m in self.members)
            raise CommitteeError(f"unknown committee member {who!r} in {self.source} (members: {handles}).")
        return found

    @property
    def voters(self) -> tuple[Member, ...]:
        """Members with a vote (chairs and members)."""
        return tuple(m for m in self.members if m.can_vote)

    def content(self) -> dict[str, Any]:
        """What the committee decides (its rules and members, not where it was read from): the canonical
        JSON of this is what :attr:`hash` hashes and what the store keeps."""
        return {"quorum": self.quorum, "author_may_sign": self.author_may_sign,
                "require_signatures": self.require_signatures, "members": [m.keys_dict() for m in self.members]}

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`content`."""
        return sha256_hex(canonical_json(self.content()))

    def to_dict(self) -> dict[str, Any]:
        """``{"source", "quorum", "author_may_sign", "require_signatures", "members": [...]}``."""
        return {"source": self.source, "quorum": self.quorum, "author_may_sign": self.author_may_sign,
                "require_signatures": self.require_signatures, "members": [m.keys_dict() for m in self.members]}


def example_committee_path() -> Path:
    """Path of the documented example committee, ``riskparams/examples/committee.toml`` (the default)."""
    return Path(str(resources.files("riskparams") / "examples" / "committee.toml"))


def committee_from_dict(d: Mapping[str, Any], *, source: str = "committee") -> Committee:
    """Build a :class:`Committee` from a TOML-shaped mapping; unknown keys are errors.

    Keys: ``quorum`` [2], ``author_may_sign`` [false], ``members`` (list of tables with ``name``,
    ``handle``, ``role`` and optionally ``address``).
    """
    allowed = ("quorum", "author_may_sign", "require_signatures", "members")
    extra = sorted(set(d) - set(allowed))
    if extra:
        raise CommitteeError(f"{source}: unknown key {extra[0]!r}; allowed keys are {', '.join(allowed)}.")
    raw = d.get("members", [])
    if not isinstance(raw, list):
        raise CommitteeError(f"{source}: members must be an array of tables ([[members]]).")
    members = []
    for k, m in enumerate(raw):
        if not isinstance(m, Mapping):
            raise CommitteeError(f"{source}: members[{k}] must be a table with name, handle and role.")
        bad = sorted(set(m) - {"name", "handle", "role", "address", "email", "ed25519"})
        if bad:
            raise CommitteeError(f"{source}: members[{k}] has unknown key {bad[0]!r}; allowed keys are name, "
                                 "handle, role, address, email, ed25519.")
        for key in ("name", "handle", "role"):
            if key not in m:
                raise CommitteeError(f"{source}: members[{k}] needs a {key}.")
        members.append(Member(name=m["name"], handle=m["handle"], role=m["role"], address=m.get("address"),
                              email=m.get("email"), ed25519=m.get("ed25519")))
    return Committee(members=tuple(members), quorum=d.get("quorum", 2),
                     author_may_sign=d.get("author_may_sign", False),
                     require_signatures=d.get("require_signatures", False), source=source)


def load_committee(path: str | Path | None = None) -> Committee:
    """Read the committee file: ``path``, else ``$RISKPARAMS_COMMITTEE``, else the example file.

    Raises
    ------
    CommitteeError
        The file is missing, not TOML, or invalid (one sentence naming the file and the key).

    Examples
    --------
    >>> import riskparams
    >>> committee = riskparams.load_committee()  # riskparams/examples/committee.toml
    >>> [(m.handle, m.role) for m in committee.members], committee.quorum
    ([('alice', 'chair'), ('bob', 'member'), ('carol', 'member'), ('dave', 'member'), ('erin', 'observer')], 2)

    Give it to the first governance action (``perform(..., committee=committee)``): the store then keeps it.
    """
    chosen = path if path is not None else (os.environ.get(COMMITTEE_ENV_VAR) or None)
    p = example_committee_path() if chosen is None else Path(chosen).expanduser()
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CommitteeError(f"committee file {p} not found.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommitteeError(f"committee file {p} cannot be read ({exc}).") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CommitteeError(f"committee file {p} is not valid TOML ({exc}).") from None
    return committee_from_dict(data, source=p.name)


def committee_from_content(text: str, committee_hash: str) -> Committee:
    """The committee stored under ``committee_hash`` (its canonical JSON ``text``), after checking the hash.

    Raises
    ------
    CommitteeError
        The text no longer hashes to ``committee_hash`` (the store was altered) or is not a committee.
    """
    if sha256_hex(text) != committee_hash:
        raise CommitteeError(f"the stored committee {committee_hash[:12]} does not match its hash; the store was "
                             "altered.")
    raw = json.loads(text)
    raw["members"] = [{k: v for k, v in m.items() if v is not None} for m in raw.get("members", [])]
    return committee_from_dict(raw, source=f"committee {committee_hash[:12]}")


def _stored_committee(cur: Any, committee_hash: str) -> Committee:
    text = gr.committee_content(cur, committee_hash)
    if text is None:
        raise CommitteeError(f"the committee {committee_hash[:12]} named in the audit log is not in the store; the "
                             "store was altered.")
    return committee_from_content(text, committee_hash)


def _resolve(cur: Any, given: Committee | None) -> tuple[Committee, bool]:
    """The committee that governs the store now, and whether it is registered there.

    The store's committee is the last one registered or changed (by a quorum) in its audit log. A committee
    given by the caller (a ``--committee`` file) must be that one; when the store has none yet, the given
    one (default :func:`load_committee`) is used and registered by the first action.
    """
    active = gr.active_committee_hash(cur)
    if active is None:
        return (load_committee() if given is None else given), False
    stored = _stored_committee(cur, active)
    if given is not None and given.hash != active:
        raise CommitteeError(
            f"the committee in {given.source} is not this store's committee ({active[:12]}, registered in its "
            "audit log); changing the committee needs a change approved by a quorum of the current one "
            "(riskparams committee propose FILE)."
        )
    return stored, True


def _register(cur: Any, committee: Committee, member: Member, now: datetime) -> None:
    """Record ``committee`` as the store's committee (its first governance action)."""
    gr.put_committee(cur, committee.hash, canonical_json(committee.content()), now)
    gr.insert_event(cur, proposal_id=COMMITTEE_LOG, at=now, actor=member.to_dict(),
                    action=Action.COMMITTEE_REGISTERED.value, from_status=None, to_status=None,
                    comment=f"committee read from {committee.source}",
                    detail={"committee": committee.hash, "quorum": committee.quorum,
                            "members": [m.handle for m in committee.members]})


def _bound(cur: Any, pid: str) -> str | None:
    """Hash of the committee a proposal was bound to when it last entered review (None: never submitted)."""
    for e in reversed(gr.events(cur, pid)):
        if e["action"] == Action.SUBMITTED:
            h = e["detail"].get("committee")
            return None if h is None else str(h)
    return None


def _judge(cur: Any, pid: str, status: str, committee: Committee) -> Committee:
    """The committee that counts for a proposal: the one bound at review while it is in review or decided,
    else the store's committee."""
    h = _bound(cur, pid)
    if h is None or h == committee.hash:
        return committee
    return _stored_committee(cur, h)


def store_committee(store: Store, committee: Committee | None = None) -> Committee:
    """The committee governing ``store`` (see :func:`_resolve`): the registered one, else ``committee`` /
    :func:`load_committee`.

    Raises
    ------
    CommitteeError
        ``committee`` is given and is not the store's registered committee.
    """
    with store.reading() as cur:
        return _resolve(cur, committee)[0]


def _unix(t: datetime) -> int:
    return calendar.timegm(t.timetuple())


def _message_detail(detail: Mapping[str, Any] | None) -> str:
    """What a signature covers of an action's detail besides the option: the overrides of a revision."""
    if not detail:
        return ""
    if "override_labels" in detail:
        return "; ".join(str(x) for x in detail["override_labels"])
    return ""


def action_message(proposal_id: str, action: str, member: Member, committee_hash: str, *,
                   detail: Mapping[str, Any] | None = None, comment: str | None = None,
                   timestamp: int) -> signing.ActionMessage:
    """The message a member signs for one action (see :mod:`riskparams.signing`)."""
    return signing.ActionMessage(
        proposal=proposal_id, action=str(action), member=member.handle, committee=committee_hash,
        option=str((detail or {}).get("option") or ""), detail=_message_detail(detail), comment=comment or "",
        timestamp=int(timestamp),
    )


_NOUNS = {"signed_off": "a sign-off", "dissented": "a dissent", "approved": "an approval", "rejected": "a rejection",
          "revised": "an override", "committee_change_proposed": "a committee change",
          "committee_changed": "the approval of a committee change"}


def _signature(cur: Any, committee: Committee, message: signing.ActionMessage, member: Member, now: datetime,
               key: signing.KeyPair | None, signature: signing.Signature | None) -> dict[str, Any] | None:
    """Sign or check the signature of an action; None when unsigned and the committee allows it."""
    action = message.action
    if key is None and signature is None:
        if committee.require_signatures and action in SIGNED_ACTIONS:
            raise GovernanceError(
                f"the committee requires signed votes and decisions: {_NOUNS.get(action, action)} by "
                f"@{member.handle} needs a signature (--key FILE, or a wallet signature of the typed data "
                "from `riskparams typed-data`)."
            )
        return None
    if key is not None:
        if key.public.lower() not in {(member.eth_address or "").lower(), (member.ed25519 or "").lower()}:
            raise GovernanceError(f"the {key.scheme} key given is not @{member.handle}'s key in the committee file.")
        sig = signing.sign(message, key)
    else:
        assert signature is not None
        sig = signature
        age = _unix(now) - sig.timestamp
        if age > signing.MAX_AGE_SECONDS:
            raise GovernanceError(f"the signature is {age / 3600:.1f} hours old (at most "
                                  f"{signing.MAX_AGE_SECONDS // 3600} hours); sign the action again.")
        if -age > signing.MAX_SKEW_SECONDS:
            raise GovernanceError("the signature is dated in the future; check the signing machine's clock.")
    problem = signing.verify(message, sig, address=member.eth_address, ed25519=member.ed25519)
    if problem is not None:
        raise GovernanceError(problem)
    if gr.signature_used(cur, sig.signature):
        raise GovernanceError("this signature was already used for another action; sign this action anew.")
    return sig.to_dict()


# -------------------------------------------------------------------------------------------------
# workflow state
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One row of the audit log.

    Attributes
    ----------
    event_id : int
        Increasing over the whole store.
    proposal_id : str
    at : datetime
        Naive UTC.
    actor, actor_name, actor_role, actor_address
        The member as listed at the time (handle, name, role, address).
    action : str
        An :class:`Action` value.
    from_status, to_status : str or None
        Status before and after (equal when the action did not change it).
    comment : str or None
    detail : dict
        E.g. ``{"revision": id}``, ``{"format": "md", "sha256": ...}``.
    signature : dict or None
        ``{"scheme", "signature", "timestamp"}`` of a signed action (see :mod:`riskparams.signing`).
    chain_hash : str or None
        The event's hash in the audit chain (an anchor for ``riskparams verify --anchor``).
    """

    event_id: int
    proposal_id: str
    at: datetime
    actor: str
    actor_name: str
    actor_role: str
    actor_address: str | None
    action: str
    from_status: str | None
    to_status: str | None
    comment: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    signature: Mapping[str, Any] | None = None
    chain_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``at`` as ISO-8601 with ``Z``)."""
        return {
            "event_id": self.event_id, "proposal_id": self.proposal_id, "at": iso_z(self.at), "actor": self.actor,
            "actor_name": self.actor_name, "actor_role": self.actor_role, "actor_address": self.actor_address,
            "action": self.action, "from_status": self.from_status, "to_status": self.to_status,
            "comment": self.comment, "detail": dict(self.detail),
            "signature": None if self.signature is None else dict(self.signature), "chain_hash": self.chain_hash,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    """A member's standing vote on one revision.

    ``vote`` is ``sign_off`` or ``dissent``; ``counted`` says whether a sign-off counts toward the quorum
    (see the module notes); ``signed`` is the scheme of its signature (None: unsigned).
    """

    member: str
    name: str
    role: str
    vote: str
    at: datetime
    comment: str | None
    counted: bool
    signed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``signed``: the signature scheme, None when unsigned)."""
        return {"member": self.member, "name": self.name, "role": self.role, "vote": self.vote, "at": iso_z(self.at),
                "comment": self.comment, "counted": self.counted, "signed": self.signed}


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    """Where one proposal revision stands in the workflow.

    Attributes
    ----------
    proposal_id, profile : str
    created_at : datetime
        When the proposal was first stored (naive UTC).
    status : str
        A :class:`Status` value.
    revision : int
        1 for a model run, n + 1 for a revision of revision n.
    parent_id : str or None
        The revision this one was made from (None for a model run).
    root_id : str
        The first proposal of the lineage.
    children : tuple of str
        Revisions made from this one.
    authors : tuple of str
        Handles of its submitters and of the member whose override made it.
    sign_offs, dissents : tuple of Vote
        Standing votes (retracted ones left out).
    quorum : int
    author_may_sign : bool
    events : tuple of AuditEvent
        The audit log of this revision, oldest first.
    committee : str
        Hash of the committee whose members count: the one bound when the proposal entered review, else the
        store's committee.
    """

    proposal_id: str
    profile: str
    created_at: datetime
    status: str
    revision: int
    parent_id: str | None
    root_id: str
    children: tuple[str, ...]
    authors: tuple[str, ...]
    sign_offs: tuple[Vote, ...]
    dissents: tuple[Vote, ...]
    quorum: int
    author_may_sign: bool
    events: tuple[AuditEvent, ...]
    committee: str = ""

    @property
    def counted_sign_offs(self) -> tuple[Vote, ...]:
        """Sign-offs that count toward the quorum."""
        return tuple(v for v in self.sign_offs if v.counted)

    @property
    def quorum_met(self) -> bool:
        """At least ``quorum`` counted sign-offs."""
        return len(self.counted_sign_offs) >= self.quorum

    @property
    def approval_blocker(self) -> str | None:
        """Why a chair cannot approve now (one sentence), or None when approval is possible."""
        pid = _short(self.proposal_id)
        if self.status != Status.IN_REVIEW:
            if self.status in _DECIDED:
                return f"proposal {pid} is already approved."
            return f"proposal {pid} is {self.status}; only a proposal in review can be approved."
        if self.dissents:
            who = ", ".join(f"@{v.member}" for v in self.dissents)
            return (f"proposal {pid} has unresolved dissent from {who}; it cannot be approved until the dissent "
                    "is retracted or changed to a sign-off.")
        if not self.quorum_met:
            n = len(self.counted_sign_offs)
            return f"proposal {pid} has {n} of the {self.quorum} sign-offs it needs to be approved."
        return None

    @property
    def decision(self) -> AuditEvent | None:
        """The approval or rejection event, if any."""
        for e in reversed(self.events):
            if e.action in (Action.APPROVED, Action.REJECTED):
                return e
        return None

    def to_dict(self, *, for_export: bool = False) -> dict[str, Any]:
        """JSON-safe dictionary.

        Parameters
        ----------
        for_export : bool
            The record embedded in exports: ``exported`` events left out and status ``exported`` shown as
            ``approved``, so that exporting again gives identical bytes.
        """
        events = [e for e in self.events if not (for_export and e.action == Action.EXPORTED)]
        status = Status.APPROVED.value if for_export and self.status == Status.EXPORTED else self.status
        decision = self.decision
        return {
            "proposal_id": self.proposal_id, "profile": self.profile, "created_at": iso_z(self.created_at),
            "status": status, "revision": self.revision, "parent_id": self.parent_id, "root_id": self.root_id,
            "children": list(self.children), "authors": list(self.authors), "quorum": self.quorum,
            "author_may_sign": self.author_may_sign, "quorum_met": self.quorum_met, "committee": self.committee,
            "anchor": next((e.chain_hash for e in reversed(events) if e.chain_hash), None),
            "sign_offs": [v.to_dict() for v in self.sign_offs],
            "dissents": [v.to_dict() for v in self.dissents],
            "decision": None if decision is None else decision.to_dict(),
            "events": [e.to_dict() for e in events],
        }


def _state(cur: Any, stored: StoredProposal, committee: Committee) -> Workflow:
    """The workflow of a stored proposal, read with ``cur``; votes count under the committee bound to it at
    review (:func:`_judge`), ``committee`` being the store's."""
    pid = stored.id
    status = _norm(latest_status(cur, pid))
    committee = _judge(cur, pid, status, committee)
    events = tuple(AuditEvent(**e) for e in gr.events(cur, pid))
    link = gr.revision_link(cur, pid)
    kids = tuple(gr.children(cur, pid))
    authors = sorted({e.actor for e in events if e.action == Action.SUBMITTED} | ({link["actor"]} if link else set()))
    sign_offs: list[Vote] = []
    dissents: list[Vote] = []
    for handle, ev in sorted(gr.latest_votes(cur, [pid]).get(pid, {}).items(), key=lambda kv: kv[1]["event_id"]):
        if ev["action"] == Action.RETRACTED:
            continue
        m = committee.find(handle)
        if ev["action"] == Action.SIGNED_OFF:
            counted = m is not None and m.can_vote and (committee.author_may_sign or handle not in authors)
            sign_offs.append(Vote(member=handle, name=ev["actor_name"], role=ev["actor_role"], vote="sign_off",
                                  at=ev["at"], comment=ev["comment"], counted=counted, signed=_scheme_of(ev)))
        else:
            dissents.append(Vote(member=handle, name=ev["actor_name"], role=ev["actor_role"], vote="dissent",
                                 at=ev["at"], comment=ev["comment"], counted=True, signed=_scheme_of(ev)))
    return Workflow(
        proposal_id=pid, profile=stored.profile, created_at=stored.created_at, status=status,
        revision=1 if link is None else int(link["revision"]), parent_id=None if link is None else link["parent_id"],
        root_id=pid if link is None else link["root_id"], children=kids, authors=tuple(authors),
        sign_offs=tuple(sign_offs), dissents=tuple(dissents), quorum=committee.quorum,
        author_may_sign=committee.author_may_sign, events=events, committee=committee.hash,
    )


def _scheme_of(ev: Mapping[str, Any]) -> str | None:
    sig = ev.get("signature")
    return None if not sig else str(sig.get("scheme"))


def workflow(store: Store, proposal_id: str, *, committee: Committee | None = None,
        key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """Where a proposal (id or unique prefix of >= 6 hex characters) stands in the workflow.

    Raises
    ------
    ProposalNotFoundError
        No (or more than one) stored proposal matches.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> pid = riskparams.propose(store, profile="perp", symbols=["ABC"]).id
    >>> state = riskparams.workflow(store, pid)
    >>> state.status, state.revision, state.quorum
    ('draft', 1, 2)
    >>> riskparams.perform(store, pid, "bob", "submit").status
    'in_review'
    >>> riskparams.workflow(store, pid).approval_blocker
    'proposal ... has 0 of the 2 sign-offs it needs to be approved.'
    """
    stored = get_proposal(store, proposal_id)
    with store.reading() as cur:
        return _state(cur, stored, _resolve(cur, committee)[0])


# -------------------------------------------------------------------------------------------------
# actions
# -------------------------------------------------------------------------------------------------


def _text(value: str | None, *, required: str | None = None, what: str = "comment") -> str | None:
    """A stripped comment (None when empty); ``required`` is the error message when it must be given."""
    text = None if value is None else str(value).strip()
    if not text:
        if required is not None:
            raise GovernanceError(required)
        return None
    if len(text) > MAX_COMMENT:
        raise GovernanceError(f"the {what} is too long ({len(text):,} characters; at most {MAX_COMMENT:,}).")
    return text


def _require_voter(member: Member, doing: str) -> None:
    if not member.can_vote:
        raise GovernanceError(f"@{member.handle} is an observer; only chairs and members may {doing}.")


def _require_chair(member: Member, doing: str) -> None:
    if member.role != "chair":
        raise GovernanceError(f"@{member.handle} is a {member.role}; only a chair may {doing}.")


def _final_message(state: Workflow) -> str | None:
    pid = _short(state.proposal_id)
    if state.status in _DECIDED:
        return f"proposal {pid} is approved and cannot change; an override creates a new revision."
    if state.status == Status.REJECTED:
        return f"proposal {pid} was rejected; an override creates a new revision to review."
    if state.status == Status.SUPERSEDED:
        later = state.children[-1][:12] if state.children else "a later revision"
        return f"proposal {pid} was superseded by {later}; act on the latest revision."
    if state.status == Status.WITHDRAWN:
        return f"proposal {pid} was withdrawn."
    return None


def _require_review(state: Workflow, doing: str) -> None:
    final = _final_message(state)
    if final is not None:
        raise GovernanceError(final)
    if state.status != Status.IN_REVIEW:
        raise GovernanceError(f"proposal {_short(state.proposal_id)} is a {state.status}; members {doing} only while "
                              "it is in review (submit it for review first).")


Check = Callable[[Workflow, Member], None]
Extra = Callable[[Any, Workflow, Member, datetime], None]


def _act(
    store: Store,
    proposal_id: str,
    who: str | Member,
    committee: Committee | None,
    action: Action,
    check: Check,
    *,
    to_status: str | None = None,
    comment: str | None = None,
    detail: Mapping[str, Any] | None = None,
    extra: Extra | None = None,
    key: signing.KeyPair | None = None,
    signature: signing.Signature | None = None,
) -> Workflow:
    """Validate and record one action in one transaction; returns the workflow after it.

    Everything that decides whether the action is allowed (the store's committee, the proposal's status and
    votes, the signature) is read inside the write transaction, which holds the store's write lock: two
    actors racing on one proposal are serialised and the second sees the first one's action.
    """
    with store.lease():  # one opening of the file for the whole action
        stored = get_proposal(store, proposal_id)
        now = now_utc()
        with store.transaction() as cur:
            active, registered = _resolve(cur, committee)
            member = active.member(who)
            status = _norm(latest_status(cur, stored.id))
            bound = _bound(cur, stored.id)
            stale_ok = (Action.WITHDRAWN, Action.COMMENTED)
            if status == Status.IN_REVIEW and bound is not None and bound != active.hash and action not in stale_ok:
                raise GovernanceError(
                    f"the committee changed since proposal {_short(stored.id)} entered review; withdraw it and submit "
                    "it again so that the current committee reviews it."
                )
            state = _state(cur, stored, active)
            check(state, member)
            if action == Action.SUBMITTED:
                detail = {**(detail or {}), "committee": active.hash}
            chash = active.hash if action == Action.SUBMITTED or bound is None else bound
            stamp = _unix(now) if signature is None else signature.timestamp
            message = action_message(stored.id, action.value, member, chash, detail=detail, comment=comment,
                                     timestamp=stamp)
            sig = _signature(cur, active, message, member, now, key, signature)
            if not registered:
                _register(cur, active, member, now)
            to = state.status if to_status is None else to_status
            if to != state.status:
                append_status_in(cur, stored.id, to, actor=member.handle, note=comment, at=now)
            gr.insert_event(cur, proposal_id=stored.id, at=now, actor=member.to_dict(), action=action.value,
                            from_status=state.status, to_status=to, comment=comment, detail=detail, signature=sig)
            if extra is not None:
                extra(cur, state, member, now)
            return _state(cur, stored, active)


def submit_for_review(store: Store, proposal_id: str, who: str | Member, *, comment: str | None = None,
                      committee: Committee | None = None,
        key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """``draft -> in_review`` (chair or member); the submitter becomes an author of the revision.

    Parameters
    ----------
    store : Store
    proposal_id : str
        Id or unique prefix (>= 6 hex characters).
    who : str or Member
        Handle or address of the member acting.
    comment : str, optional
    committee : Committee, optional
        Default :func:`load_committee`.

    Raises
    ------
    CommitteeError
        ``who`` is not in the committee.
    GovernanceError
        The rule refuses it (one sentence).
    """
    text = _text(comment)

    def check(state: Workflow, member: Member) -> None:
        _require_voter(member, "submit a proposal for review")
        final = _final_message(state)
        if final is not None:
            raise GovernanceError(final)
        if state.status == Status.IN_REVIEW:
            raise GovernanceError(f"proposal {_short(state.proposal_id)} is already in review.")

    return _act(store, proposal_id, who, committee, Action.SUBMITTED, check, to_status=Status.IN_REVIEW.value,
                comment=text, key=key, signature=signature)


def _vote_of(state: Workflow, handle: str) -> str | None:
    for v in (*state.sign_offs, *state.dissents):
        if v.member == handle:
            return v.vote
    return None


def sign_off(store: Store, proposal_id: str, who: str | Member, *, comment: str | None = None,
             committee: Committee | None = None,
        key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """Sign off a proposal in review (chair or member; once; replaces the member's own dissent).

    Raises
    ------
    GovernanceError
        Not in review, already signed off, an observer, or an author when ``author_may_sign`` is false.
    """
    text = _text(comment)

    def check(state: Workflow, member: Member) -> None:
        _require_voter(member, "sign off")
        _require_review(state, "sign off")
        if _vote_of(state, member.handle) == "sign_off":
            raise GovernanceError(f"@{member.handle} has already signed off proposal {_short(state.proposal_id)}.")
        if not state.author_may_sign and member.handle in state.authors:
            raise GovernanceError(f"@{member.handle} is an author of proposal {_short(state.proposal_id)} and may not "
                                  "sign it off (the committee's author_may_sign is false).")

    return _act(store, proposal_id, who, committee, Action.SIGNED_OFF, check, comment=text, key=key, signature=signature)


def dissent(store: Store, proposal_id: str, who: str | Member, *, comment: str,
            committee: Committee | None = None,
        key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """Dissent from a proposal in review, with a comment saying why (chair or member; replaces the member's
    own sign-off). An unresolved dissent blocks approval.

    Raises
    ------
    GovernanceError
        No comment, not in review, already dissenting, or an observer.
    """
    text = _text(comment, required="a dissent needs a comment saying why.")

    def check(state: Workflow, member: Member) -> None:
        _require_voter(member, "dissent")
        _require_review(state, "dissent")
        if _vote_of(state, member.handle) == "dissent":
            raise GovernanceError(f"@{member.handle} has already dissented on proposal {_short(state.proposal_id)}.")

    return _act(store, proposal_id, who, committee, Action.DISSENTED, check, comment=text, key=key, signature=signature)


def retract(store: Store, proposal_id: str, who: str | Member, *, comment: str | None = None,
            committee: Committee | None = None,
        key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """Withdraw one's own sign-off or dissent on a proposal in review (this resolves a dissent).

    Raises
    ------
    GovernanceError
        Not in review, or the member has no standing vote.
    """
    text = _text(comment)

    def check(state: Workflow, member: Member) -> None:
        _require_voter(member, "retract a vote")
        _require_review(state, "retract votes")
        if _vote_of(state, member.handle) is None:
            raise GovernanceError(f"@{member.handle} has no sign-off or dissent on proposal "
                                  f"{_short(state.proposal_id)} to retract.")

    return _act(store, proposal_id, who, committee, Action.RETRACTED, check, comment=text, key=key, signature=signature)


ACTIONS: dict[str, Action] = {
    "submit": Action.SUBMITTED, "sign_off": Action.SIGNED_OFF, "dissent": Action.DISSENTED,
    "retract": Action.RETRACTED, "approve": Action.APPROVED, "reject": Action.REJECTED,
    "withdraw": Action.WITHDRAWN, "comment": Action.COMMENTED,
}
"""The workflow actions :func:`perform` runs, by verb, with the audit action each records."""


def perform(store: Store, proposal_id: str, who: str | Member, verb: str, *, comment: str | None = None,
            option: str | None = None, committee: Committee | None = None, key: signing.KeyPair | None = None,
            signature: signing.Signature | None = None) -> Workflow:
    """Run one workflow action named by its verb (a key of :data:`ACTIONS`): what the dashboard's buttons call.

    ``option`` is used by ``approve`` only; ``comment`` is the text of ``comment``.

    Examples
    --------
    With the example committee (the default: chair ``alice``, members ``bob``, ``carol`` and ``dave``,
    observer ``erin``, quorum 2; the first action records it in the store):

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> pid = riskparams.propose(store, profile="perp", symbols=["ABC"]).id
    >>> riskparams.perform(store, pid, "bob", "submit").status
    'in_review'
    >>> riskparams.perform(store, pid, "bob", "sign_off")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.GovernanceError: @bob is an author of proposal ... and may not sign it off (...).
    >>> for member in ("carol", "dave"):
    ...     state = riskparams.perform(store, pid, member, "sign_off", comment="tiers checked")
    >>> state.quorum_met
    True
    >>> riskparams.perform(store, pid, "alice", "approve", comment="vote 12").status
    'approved'
    """
    if verb not in ACTIONS:
        raise GovernanceError(f"unknown action {verb!r}; one of {', '.join(ACTIONS)}.")
    sign: dict[str, Any] = {"key": key, "signature": signature, "committee": committee}
    if verb == "comment":
        return _add_comment(store, proposal_id, who, text=comment or "", **sign)
    if verb == "approve":
        return approve(store, proposal_id, who, comment=comment, option=option, **sign)
    funcs: dict[str, Callable[..., Workflow]] = {
        "submit": submit_for_review, "sign_off": sign_off, "dissent": dissent, "retract": retract, "reject": reject,
        "withdraw": withdraw,
    }
    text = comment or ("" if verb in ("dissent", "reject") else None)
    return funcs[verb](store, proposal_id, who, comment=text, **sign)


def _supersede_ancestors(cur: Any, state: Workflow, member: Member, now: datetime) -> None:
    """Mark approved / exported ancestors of a newly approved revision as superseded."""
    pid = state.parent_id
    while pid is not None:
        status = _norm(latest_status(cur, pid))
        if status in _DECIDED:
            note = f"superseded by revision {state.proposal_id[:12]}"
            append_status_in(cur, pid, Status.SUPERSEDED.value, actor=member.handle, note=note, at=now)
            gr.insert_event(cur, proposal_id=pid, at=now, actor=member.to_dict(), action=Action.SUPERSEDED.value,
                            from_status=status, to_status=Status.SUPERSEDED.value, comment=note,
                            detail={"by": state.proposal_id})
        link = gr.revision_link(cur, pid)
        pid = None if link is None else link["parent_id"]


def _approval_detail(stored: StoredProposal, option: str | None) -> tuple[list[str], str | None,
                                                                          dict[str, Any] | None]:
    """The proposal's option names, the option an approval chooses (default the recommended one) and the
    approval event's detail."""
    opts = [str(o["name"]) for o in stored.content.get("options") or []]
    rec = next((str(o["name"]) for o in stored.content.get("options") or [] if o.get("recommended")),
               opts[0] if opts else None)
    choice = rec if option is None else str(option).strip().lower()
    return opts, choice, (None if choice is None else {"option": choice, "recommended": choice == rec})


def typed_data(store: Store, proposal_id: str, who: str | Member, action: str, *, comment: str | None = None,
               option: str | None = None, overrides: Sequence[Override] = (), committee: Committee | None = None,
               at: datetime | None = None) -> dict[str, Any]:
    """The EIP-712 typed data a member signs (in a wallet, or with ``riskparams keys sign``) for one action,
    stamped now; pass the signature back with its timestamp (``message.timestamp``).

    Parameters
    ----------
    proposal_id : str
        A proposal id or prefix; for a committee change, ``'committee:'`` + the change id (or the new
        committee's hash for ``committee_change_proposed``).
    action : str
        An :class:`Action` value: ``signed_off``, ``dissented``, ``approved``, ``rejected``, ``revised``, ...
    comment, option, overrides
        Exactly as the action will be given them (the comment is stripped as the action strips it).
    """
    act = Action(action)
    text = _text(comment)
    now = now_utc() if at is None else at
    ref = str(proposal_id)
    with store.reading() as cur:
        active, _ = _resolve(cur, committee)
        member = active.member(who)
        if ref.lower().startswith("committee:"):
            h = ref.split(":", 1)[1].lower()
            if act != Action.COMMITTEE_CHANGE_PROPOSED:
                h = _change_hash(cur, h)
            msg = action_message(h, act.value, member, active.hash, comment=text, timestamp=_unix(now))
            return signing.typed_data(msg)
        stored = get_proposal(store, ref)
        detail: dict[str, Any] | None = None
        if act == Action.APPROVED:
            detail = _approval_detail(stored, option)[2]
        elif act == Action.REVISED:
            detail = {"override_labels": [f"{o.label} = {o.value:.10g}" for o in overrides]}
        bound = _bound(cur, stored.id)
        chash = active.hash if act == Action.SUBMITTED or bound is None else bound
        msg = action_message(stored.id, act.value, member, chash, detail=detail, comment=text, timestamp=_unix(now))
    return signing.typed_data(msg)


def approve(store: Store, proposal_id: str, who: str | Member, *, comment: str | None = None,
            committee: Committee | None = None, option: str | None = None,
            key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """Record the committee's approval (a chair; in review; quorum of sign-offs; no unresolved dissent).

    Approving a revision marks its approved or exported ancestors ``superseded``. When the proposal carries
    options, the approval records the option the committee chose (``option``; default the recommended one) in
    the event's detail; venue payloads then carry that option's parameters.

    Raises
    ------
    GovernanceError
        Not a chair, not in review, too few sign-offs, unresolved dissent, or an option the proposal does
        not have.
    """
    text = _text(comment)
    stored = get_proposal(store, proposal_id)
    opts, choice, detail = _approval_detail(stored, option)

    def check(state: Workflow, member: Member) -> None:
        _require_chair(member, "approve a proposal")
        final = _final_message(state)
        if final is not None and state.status not in _DECIDED:
            raise GovernanceError(final)
        if option is not None and not opts:
            raise GovernanceError(f"proposal {_short(stored.id)} has no options to choose from; approve it without "
                                  "one.")
        if opts and choice not in opts:
            raise GovernanceError(f"proposal {_short(stored.id)} has no option {option!r} (options: "
                                  f"{', '.join(opts)}).")
        blocker = state.approval_blocker
        if blocker is not None:
            raise GovernanceError(blocker)

    return _act(store, proposal_id, who, committee, Action.APPROVED, check, to_status=Status.APPROVED.value,
                comment=text, detail=detail, extra=_supersede_ancestors, key=key, signature=signature)


def reject(store: Store, proposal_id: str, who: str | Member, *, comment: str,
           committee: Committee | None = None,
        key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """Record the committee's rejection, with the reason (a chair; in review).

    Raises
    ------
    GovernanceError
        No comment, not a chair, or not in review.
    """
    text = _text(comment, required="a rejection needs a comment saying why.")

    def check(state: Workflow, member: Member) -> None:
        _require_chair(member, "reject a proposal")
        final = _final_message(state)
        if final is not None:
            raise GovernanceError(final)
        if state.status != Status.IN_REVIEW:
            raise GovernanceError(f"proposal {_short(state.proposal_id)} is a draft; only a proposal in review can "
                                  "be rejected (withdraw a draft instead).")

    return _act(store, proposal_id, who, committee, Action.REJECTED, check, to_status=Status.REJECTED.value,
                comment=text, key=key, signature=signature)


def withdraw(store: Store, proposal_id: str, who: str | Member, *, comment: str | None = None,
             committee: Committee | None = None,
        key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """``draft | in_review -> withdrawn`` (chair or member).

    Raises
    ------
    GovernanceError
        The proposal is approved, rejected, superseded or already withdrawn.
    """
    text = _text(comment)

    def check(state: Workflow, member: Member) -> None:
        _require_voter(member, "withdraw a proposal")
        final = _final_message(state)
        if final is not None:
            raise GovernanceError(final)

    return _act(store, proposal_id, who, committee, Action.WITHDRAWN, check, to_status=Status.WITHDRAWN.value,
                comment=text, key=key, signature=signature)


def comment(store: Store, proposal_id: str, who: str | Member, *, text: str,
            committee: Committee | None = None,
        key: signing.KeyPair | None = None, signature: signing.Signature | None = None) -> Workflow:
    """Add a comment to the audit log of a proposal (anyone listed, any status)."""
    body = _text(text, required="a comment cannot be empty.")

    def check(state: Workflow, member: Member) -> None:
        return None

    return _act(store, proposal_id, who, committee, Action.COMMENTED, check, comment=body, key=key, signature=signature)


_add_comment = comment  # for perform(), whose ``comment`` argument shadows the function


# -------------------------------------------------------------------------------------------------
# committee changes
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitteeChange:
    """A proposed replacement of the store's committee.

    Attributes
    ----------
    committee_hash : str
        Hash of the proposed committee (its id; ``riskparams committee`` commands take a prefix).
    base : str
        Hash of the committee it would replace (the one in force when it was proposed).
    status : str
        ``open``, ``approved`` (it is the store's committee now or was) or ``stale`` (another change was
        approved first).
    proposer : str
    sign_offs, dissents : tuple of str
        Handles of the standing votes of the committee in force.
    quorum : int
        Sign-offs needed (the quorum of the committee in force).
    added, removed : tuple of str
        Handles the change adds to or removes from the committee.
    changed_rules : tuple of str
        Rules it changes (``quorum``, ``author_may_sign``, ``require_signatures``, roles and keys of members).
    """

    committee_hash: str
    base: str
    status: str
    proposer: str
    sign_offs: tuple[str, ...]
    dissents: tuple[str, ...]
    quorum: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed_rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"committee_hash": self.committee_hash, "base": self.base, "status": self.status,
                "proposer": self.proposer, "sign_offs": list(self.sign_offs), "dissents": list(self.dissents),
                "quorum": self.quorum, "added": list(self.added), "removed": list(self.removed),
                "changed_rules": list(self.changed_rules)}


def _change_id(h: str) -> str:
    return f"committee:{h}"


def _differences(old: Committee, new: Committee) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    o = {m.handle: m for m in old.members}
    n = {m.handle: m for m in new.members}
    rules = [k for k in ("quorum", "author_may_sign", "require_signatures") if getattr(old, k) != getattr(new, k)]
    rules += [f"@{h}" for h in sorted(set(o) & set(n)) if o[h].keys_dict() != n[h].keys_dict()]
    return tuple(sorted(set(n) - set(o))), tuple(sorted(set(o) - set(n))), tuple(rules)


def _change_state(cur: Any, h: str) -> CommitteeChange:
    evs = gr.events(cur, _change_id(h))
    if not evs:
        raise GovernanceError(f"no committee change {h[:12]} was proposed.")
    base = str(evs[0]["detail"].get("base"))
    old, new = _stored_committee(cur, base), _stored_committee(cur, h)
    active = gr.active_committee_hash(cur)
    done = any(e["action"] == Action.COMMITTEE_CHANGED and e["detail"].get("committee") == h
               for e in gr.events(cur, COMMITTEE_LOG))
    status = "approved" if done else ("open" if active == base else "stale")
    votes = gr.latest_votes(cur, [_change_id(h)]).get(_change_id(h), {})
    added, removed, rules = _differences(old, new)
    return CommitteeChange(
        committee_hash=h, base=base, status=status, proposer=str(evs[0]["actor"]),
        sign_offs=tuple(sorted(k for k, e in votes.items() if e["action"] == Action.SIGNED_OFF)),
        dissents=tuple(sorted(k for k, e in votes.items() if e["action"] == Action.DISSENTED)),
        quorum=old.quorum, added=added, removed=removed, changed_rules=rules,
    )


def _change_hash(cur: Any, ref: str) -> str:
    key = str(ref).strip().lower().removeprefix("committee:")
    if len(key) < 6 or any(c not in "0123456789abcdef" for c in key):
        raise GovernanceError(f"{ref!r} is not a committee change id (at least 6 hex characters).")
    found = sorted({str(e["detail"].get("committee")) for e in gr.events_like(cur, "committee:" + key)})
    if not found:
        raise GovernanceError(f"no committee change {ref!r} was proposed.")
    if len(found) > 1:
        raise GovernanceError(f"several committee changes start with {ref!r}; give more characters.")
    return found[0]


def _open_change(cur: Any, change: str, who: str | Member, *, chair: bool
                 ) -> tuple[Committee, Member, str, CommitteeChange]:
    """The committee in force, the member acting (a chair, or any voter), and the open change ``change``."""
    active, _ = _resolve(cur, None)
    member = active.member(who)
    if chair:
        _require_chair(member, "approve a committee change")
    else:
        _require_voter(member, "vote on a committee change")
    h = _change_hash(cur, change)
    state = _change_state(cur, h)
    if state.status != "open":
        raise GovernanceError(f"committee change {h[:12]} is {state.status}; only an open change takes votes or an "
                              "approval.")
    return active, member, h, state


def _change_signature(cur: Any, active: Committee, member: Member, h: str, action: Action, text: str | None,
                      now: datetime, key: signing.KeyPair | None, signature: signing.Signature | None
                      ) -> dict[str, Any] | None:
    msg = action_message(h, action.value, member, active.hash, comment=text,
                         timestamp=_unix(now) if signature is None else signature.timestamp)
    return _signature(cur, active, msg, member, now, key, signature)


def propose_committee_change(store: Store, new: Committee, who: str | Member, *, comment: str | None = None,
                             key: signing.KeyPair | None = None,
                             signature: signing.Signature | None = None) -> CommitteeChange:
    """Propose replacing the store's committee by ``new`` (a voting member of the committee in force).

    The change takes effect when a chair of the committee in force approves it with a quorum of that
    committee's sign-offs and no standing dissent (:func:`vote_committee_change`,
    :func:`approve_committee_change`). Proposals in review when it takes effect must be submitted again.
    """
    text = _text(comment)
    now = now_utc()
    with store.transaction() as cur:
        active, registered = _resolve(cur, None)
        if not registered:
            raise GovernanceError("this store has no committee yet: its first governance action registers the "
                                  "committee it is given; no change is needed.")
        member = active.member(who)
        _require_voter(member, "propose a committee change")
        h = new.hash
        if h == active.hash:
            raise GovernanceError("the proposed committee is the committee in force; nothing would change.")
        if gr.events(cur, _change_id(h)):
            raise GovernanceError(f"committee change {h[:12]} was already proposed.")
        gr.put_committee(cur, h, canonical_json(new.content()), now)
        detail = {"committee": h, "base": active.hash}
        sig = _change_signature(cur, active, member, h, Action.COMMITTEE_CHANGE_PROPOSED, text, now, key, signature)
        gr.insert_event(cur, proposal_id=_change_id(h), at=now, actor=member.to_dict(),
                        action=Action.COMMITTEE_CHANGE_PROPOSED.value, from_status=None, to_status="open",
                        comment=text, detail=detail, signature=sig)
        return _change_state(cur, h)


def vote_committee_change(store: Store, change: str, who: str | Member, vote: str, *, comment: str | None = None,
                          key: signing.KeyPair | None = None,
                          signature: signing.Signature | None = None) -> CommitteeChange:
    """Sign off (``vote='sign_off'``), dissent (``'dissent'``, with a comment) or retract (``'retract'``) on an
    open committee change, as a voting member of the committee in force."""
    actions = {"sign_off": Action.SIGNED_OFF, "dissent": Action.DISSENTED, "retract": Action.RETRACTED}
    if vote not in actions:
        raise GovernanceError(f"vote must be one of {', '.join(actions)}, got {vote!r}.")
    action = actions[vote]
    text = _text(comment, required="a dissent needs a comment saying why." if vote == "dissent" else None)
    now = now_utc()
    with store.transaction() as cur:
        active, member, h, state = _open_change(cur, change, who, chair=False)
        mine = "sign_off" if member.handle in state.sign_offs else "dissent" if member.handle in state.dissents \
            else None
        if vote == "retract" and mine is None:
            raise GovernanceError(f"@{member.handle} has no vote on committee change {h[:12]} to retract.")
        if vote != "retract" and mine == vote:
            raise GovernanceError(f"@{member.handle} has already voted {vote.replace('_', ' ')} on committee change "
                                  f"{h[:12]}.")
        if vote == "sign_off" and not active.author_may_sign and member.handle == state.proposer:
            raise GovernanceError(f"@{member.handle} proposed committee change {h[:12]} and may not sign it off "
                                  "(the committee's author_may_sign is false).")
        sig = _change_signature(cur, active, member, h, action, text, now, key, signature)
        gr.insert_event(cur, proposal_id=_change_id(h), at=now, actor=member.to_dict(), action=action.value,
                        from_status="open", to_status="open", comment=text, detail={"committee": h}, signature=sig)
        return _change_state(cur, h)


def approve_committee_change(store: Store, change: str, who: str | Member, *, comment: str | None = None,
                             key: signing.KeyPair | None = None,
                             signature: signing.Signature | None = None) -> CommitteeChange:
    """Make an open committee change the store's committee (a chair of the committee in force; its quorum of
    counted sign-offs; no standing dissent)."""
    text = _text(comment)
    now = now_utc()
    with store.transaction() as cur:
        active, member, h, state = _open_change(cur, change, who, chair=True)
        if state.dissents:
            raise GovernanceError(f"committee change {h[:12]} has unresolved dissent from "
                                  f"{', '.join('@' + d for d in state.dissents)}.")
        counted = [x for x in state.sign_offs if (m := active.find(x)) is not None and m.can_vote
                   and (active.author_may_sign or x != state.proposer)]
        if len(counted) < active.quorum:
            raise GovernanceError(f"committee change {h[:12]} has {len(counted)} of the {active.quorum} sign-offs it "
                                  "needs.")
        sig = _change_signature(cur, active, member, h, Action.COMMITTEE_CHANGED, text, now, key, signature)
        gr.insert_event(cur, proposal_id=COMMITTEE_LOG, at=now, actor=member.to_dict(),
                        action=Action.COMMITTEE_CHANGED.value, from_status=None, to_status=None, comment=text,
                        detail={"committee": h, "base": active.hash}, signature=sig)
        return _change_state(cur, h)


def committee_changes(store: Store) -> list[CommitteeChange]:
    """Every proposed committee change, oldest first."""
    with store.reading() as cur:
        hashes = [str(e["detail"].get("committee")) for e in gr.events_like(cur, "committee:")
                  if e["action"] == Action.COMMITTEE_CHANGE_PROPOSED]
        return [_change_state(cur, h) for h in hashes]


# -------------------------------------------------------------------------------------------------
# revisions: overrides, content round trip, diff
# -------------------------------------------------------------------------------------------------

PERP_PARAMETERS: tuple[str, ...] = ("max_leverage", "imf", "mmf", "liquidation_penalty")
LENDING_PARAMETERS: tuple[str, ...] = ("ltv", "liquidation_threshold", "liquidation_bonus")
_PARAM_ORDER = {p: k for k, p in enumerate((*PERP_PARAMETERS, *LENDING_PARAMETERS))}
_TOL = 1e-12


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    """A manual change of one proposed parameter.

    Attributes
    ----------
    symbol : str
        Upper-cased.
    parameter : str
        Perp: ``max_leverage`` (x), ``imf``, ``mmf``, ``liquidation_penalty``; lending: ``ltv``,
        ``liquidation_threshold``, ``liquidation_bonus`` (fractions: 0.05 = 5 %).
    value : float
    tier : int or None
        0-based tier (perp); None for lending.
    """

    symbol: str
    parameter: str
    value: float
    tier: int | None = None

    @classmethod
    def parse(cls, text: str) -> Override:
        """Parse ``SYMBOL:PARAMETER[:TIER]=VALUE`` with a **1-based** tier, e.g. ``BTC:mmf:1=0.05``,
        ``BTC:max_leverage:2=10x``, ``ETH:ltv=0.75``, ``ETH:liquidation_bonus=500bps``, ``ETH:ltv=75%``.

        Raises
        ------
        GovernanceError
            The text does not have that shape (one sentence with an example).
        """
        shape = (f"override {text!r} must look like SYMBOL:PARAMETER[:TIER]=VALUE, e.g. BTC:mmf:1=0.05 "
                 "(tier 1 is the first; VALUE a fraction, N%, Nbps or Nx).")
        left, sep, right = str(text).partition("=")
        parts = [p.strip() for p in left.split(":")]
        if not sep or len(parts) not in (2, 3) or not all(parts) or not right.strip():
            raise GovernanceError(shape)
        try:
            symbol = validate_symbol(parts[0])
        except ValueError as exc:
            raise GovernanceError(f"{exc}.") from None
        parameter = parts[1].lower()
        tier: int | None = None
        if len(parts) == 3:
            if not parts[2].isdigit() or int(parts[2]) < 1:
                raise GovernanceError(f"override {text!r}: the tier must be a whole number from 1, got {parts[2]!r}.")
            tier = int(parts[2]) - 1
        raw = right.strip().lower().replace("_", "")
        scale = 1.0
        for suffix, s in (("bps", 1e-4), ("%", 1e-2), ("x", 1.0)):
            if raw.endswith(suffix):
                raw, scale = raw[: -len(suffix)].strip(), s
                break
        try:
            value = float(raw) * scale
        except ValueError:
            raise GovernanceError(shape) from None
        if not math.isfinite(value):
            raise GovernanceError(f"override {text!r}: the value must be a finite number.")
        return cls(symbol=symbol, parameter=parameter, value=value, tier=tier)

    @property
    def label(self) -> str:
        """``'BTC mmf tier 1'`` (1-based tier)."""
        return f"{self.symbol} {self.parameter}" + ("" if self.tier is None else f" tier {self.tier + 1}")

    def to_dict(self) -> dict[str, Any]:
        """``{"symbol", "parameter", "tier", "value"}`` (0-based tier)."""
        return {"symbol": self.symbol, "parameter": self.parameter, "tier": self.tier, "value": self.value}


def proposal_from_content(content: Mapping[str, Any]) -> Proposal:
    """Rebuild a :class:`~riskparams.domain.Proposal` from its stored content (:meth:`Proposal.from_content`).

    Raises
    ------
    GovernanceError
        The content has another format, or does not rebuild to the same hash.
    """
    try:
        return Proposal.from_content(content)
    except ValueError as exc:
        raise GovernanceError(str(exc)) from None


def _fmt_value(parameter: str, x: float | None) -> str:
    if x is None:
        return "none"
    return f"{x:g}x" if parameter == "max_leverage" else f"{x:.2%}"


def _line_updates(
    lines: Sequence[ParamLine], new: Mapping[tuple[str, int | None], float]
) -> tuple[ParamLine, ...]:
    out = []
    for ln in lines:
        v = new.get((ln.parameter, ln.tier))
        if v is not None and abs(v - ln.proposed) > _TOL:
            ln = replace(ln, proposed=v, uncapped=None, bound="override")
        out.append(ln)
    return tuple(out)


def _override_perp(
    a: PerpAssetProposal, overrides: Sequence[Override], revision: int
) -> tuple[PerpAssetProposal, list[dict[str, Any]]]:
    sym = a.symbol
    if a.status != "ok" or not a.tiers:
        raise GovernanceError(f"{sym} is unmarginable in this proposal; it has no tiers to override.")
    n = len(a.tiers)
    values = {
        "max_leverage": [t.max_leverage for t in a.tiers], "imf": [t.imf for t in a.tiers],
        "mmf": [t.mmf for t in a.tiers], "liquidation_penalty": [t.liquidation_penalty for t in a.tiers],
    }
    records: list[dict[str, Any]] = []
    for ov in overrides:
        if ov.parameter not in PERP_PARAMETERS:
            raise GovernanceError(f"{ov.parameter!r} is not a perp parameter; use one of {', '.join(PERP_PARAMETERS)}.")
        if ov.tier is None:
            raise GovernanceError(f"a perp override needs a tier: {sym} has tiers 1 to {n}.")
        k = ov.tier
        if not 0 <= k < n:
            raise GovernanceError(f"{sym} has tiers 1 to {n}; tier {k + 1} does not exist.")
        v = float(ov.value)
        p = ov.parameter
        if p == "max_leverage" and not 1.0 <= v <= 1000.0:
            raise GovernanceError(f"{ov.label}: max leverage must be in [1, 1000] x, got {v:g}.")
        if p == "imf" and not 0.001 <= v <= 1.0:
            raise GovernanceError(f"{ov.label}: the IMF must be in [0.001, 1] (a fraction), got {v:g}.")
        if p in ("mmf", "liquidation_penalty") and not 0.0 <= v < 1.0:
            raise GovernanceError(f"{ov.label}: the value must be a fraction in [0, 1), got {v:g}.")
        old = values[p][k]
        if abs(v - old) <= _TOL:
            raise GovernanceError(f"{ov.label} is already {_fmt_value(p, old)}; an override must change the value.")
        values[p][k] = v
        if p == "max_leverage":
            values["imf"][k] = 1.0 / v
        elif p == "imf":
            values["max_leverage"][k] = 1.0 / v
        records.append({"symbol": sym, "parameter": p, "tier": k, "old": old, "new": v})
    lev, imf, mmf, pen = values["max_leverage"], values["imf"], values["mmf"], values["liquidation_penalty"]
    for k in range(n):
        t = f"{sym} tier {k + 1}"
        if mmf[k] <= 0:
            raise GovernanceError(f"{t}: the MMF must be positive.")
        if not pen[k] < mmf[k]:
            raise GovernanceError(f"{t}: the liquidation penalty ({pen[k]:.2%}) must stay below the MMF ({mmf[k]:.2%}).")
        if not mmf[k] < imf[k]:
            raise GovernanceError(f"{t}: the MMF ({mmf[k]:.2%}) must stay below the IMF ({imf[k]:.2%}, max leverage "
                                  f"{lev[k]:g}x).")
        if k and mmf[k] < mmf[k - 1] - _TOL:
            raise GovernanceError(f"{t}: the MMF ({mmf[k]:.2%}) would fall below tier {k}'s ({mmf[k - 1]:.2%}); "
                                  "margins must not fall as positions grow.")
        if k and imf[k] < imf[k - 1] - _TOL:
            raise GovernanceError(f"{t}: the max leverage ({lev[k]:g}x) would exceed tier {k}'s ({lev[k - 1]:g}x); "
                                  "margins must not fall as positions grow.")
    from riskparams.proposals import maintenance_deductions

    ded = maintenance_deductions([t.notional_floor for t in a.tiers], mmf)
    tiers = tuple(replace(t, max_leverage=lev[k], imf=imf[k], mmf=mmf[k], liquidation_penalty=pen[k],
                          maintenance_deduction=ded[k], under_covered=mmf[k] < t.mmf_model - 1e-12)
                  for k, t in enumerate(a.tiers))
    new: dict[tuple[str, int | None], float] = {(p, k): values[p][k] for p in PERP_PARAMETERS for k in range(n)}
    changes = "; ".join(f"{r['parameter']} tier {r['tier'] + 1} {_fmt_value(r['parameter'], r['old'])} -> "
                        f"{_fmt_value(r['parameter'], r['new'])}" for r in records)
    note = (f"Manual override in revision {revision}: {changes}. Coverage and close-out figures are the model's "
            "for the values before the override.")
    return replace(a, tiers=tiers, lines=_line_updates(a.lines, new), notes=(*a.notes, note)), records


def _override_lending(
    a: LendingAssetProposal, overrides: Sequence[Override], revision: int
) -> tuple[LendingAssetProposal, list[dict[str, Any]]]:
    sym = a.symbol
    values = {"ltv": a.ltv, "liquidation_threshold": a.liquidation_threshold,
              "liquidation_bonus": a.liquidation_bonus}
    records: list[dict[str, Any]] = []
    for ov in overrides:
        p = ov.parameter
        if p not in LENDING_PARAMETERS:
            raise GovernanceError(f"{p!r} is not a lending parameter; use one of {', '.join(LENDING_PARAMETERS)}.")
        if ov.tier is not None:
            raise GovernanceError(f"{ov.label}: lending parameters have no tiers; leave the tier out.")
        v = float(ov.value)
        if not 0.0 <= v < 1.0:
            raise GovernanceError(f"{ov.label}: the value must be a fraction in [0, 1), got {v:g}.")
        old = values[p]
        if abs(v - old) <= _TOL:
            raise GovernanceError(f"{ov.label} is already {_fmt_value(p, old)}; an override must change the value.")
        values[p] = v
        records.append({"symbol": sym, "parameter": p, "tier": None, "old": old, "new": v})
    ltv, lt, lb = values["ltv"], values["liquidation_threshold"], values["liquidation_bonus"]
    if not (ltv < lt or (ltv == 0.0 and lt == 0.0)):
        raise GovernanceError(f"{sym}: the LTV ({ltv:.2%}) must stay below the liquidation threshold ({lt:.2%}).")
    if lt * (1.0 + lb) > 1.0 + _TOL:
        raise GovernanceError(f"{sym}: the liquidation threshold x (1 + bonus) would be {lt * (1 + lb):.4f}; it must "
                              "not exceed 1 (a liquidation would pay out more than the collateral).")
    new: dict[tuple[str, int | None], float] = {(p, None): v for p, v in values.items()}
    changes = "; ".join(f"{r['parameter']} {_fmt_value(r['parameter'], r['old'])} -> "
                        f"{_fmt_value(r['parameter'], r['new'])}" for r in records)
    note = (f"Manual override in revision {revision}: {changes}. Coverage and close-out figures are the model's "
            "for the values before the override.")
    status = "ok" if ltv > 0 else a.status
    return replace(a, status=status, ltv=ltv, liquidation_threshold=lt, liquidation_bonus=lb,
                   lines=_line_updates(a.lines, new), notes=(*a.notes, note)), records


def apply_overrides(
    content: Mapping[str, Any],
    overrides: Sequence[Override],
    *,
    parent_id: str,
    root_id: str,
    revision: int,
    author: str,
    justification: str,
) -> Proposal:
    """The revision of a proposal's content with ``overrides`` applied (pure; nothing is stored).

    The result's ``provenance.revision`` holds ``number``, ``parent``, ``root``, ``by``, ``justification``
    and ``overrides`` (those of earlier revisions, then these: ``symbol, parameter, tier, old, new,
    revision, by, justification``).

    Raises
    ------
    GovernanceError
        An unknown asset or parameter, a missing or extra tier, a value out of range, an unchanged value,
        two overrides of the same parameter, or an invariant the change would break.
    """
    base = proposal_from_content(content)
    if not overrides:
        raise GovernanceError("an override needs at least one parameter change.")
    seen: set[tuple[str, str, int | None]] = set()
    grouped: dict[str, list[Override]] = {}
    symbols = [a.symbol for a in base.assets]
    for ov in overrides:
        key = (ov.symbol, ov.parameter, ov.tier)
        if key in seen:
            raise GovernanceError(f"two overrides for {ov.label}; give each parameter once.")
        seen.add(key)
        if ov.symbol not in symbols:
            raise GovernanceError(f"the proposal has no asset {ov.symbol!r} (assets: {', '.join(symbols)}).")
        grouped.setdefault(ov.symbol, []).append(ov)
    records: list[dict[str, Any]] = []
    assets: list[PerpAssetProposal | LendingAssetProposal] = []
    for a in base.assets:
        if a.symbol in grouped:
            if isinstance(a, PerpAssetProposal):
                new_a: PerpAssetProposal | LendingAssetProposal
                new_a, recs = _override_perp(a, grouped[a.symbol], revision)
            else:
                new_a, recs = _override_lending(a, grouped[a.symbol], revision)
            a = new_a
            records += recs
        assets.append(a)
    for r in records:
        r.update(revision=revision, by=author, justification=justification)
    earlier = list(dict(base.provenance).get("revision", {}).get("overrides", []))
    provenance = {**dict(base.provenance), "revision": {
        "number": revision, "parent": parent_id, "root": root_id, "by": author, "justification": justification,
        "overrides": [*earlier, *records],
    }}
    if base.options:  # the options were the model's variants of the parent; overrides would not reach them
        provenance["options_dropped"] = [o.name for o in base.options]
    return replace(base, assets=tuple(assets), provenance=provenance, options=())


@dataclass(frozen=True, slots=True)
class Revision:
    """The result of :func:`revise`: the new revision as stored, its workflow and its parent's."""

    proposal: StoredProposal
    workflow: Workflow
    parent: Workflow

    @property
    def id(self) -> str:
        """Id of the new revision."""
        return self.proposal.id


def _check_revisable(state: Workflow, cur: Any) -> None:
    pid = _short(state.proposal_id)
    if state.status == Status.SUPERSEDED:
        later = state.children[-1][:12] if state.children else "a later revision"
        raise GovernanceError(f"proposal {pid} was superseded by {later}; revise the latest revision instead.")
    if state.status == Status.WITHDRAWN:
        raise GovernanceError(f"proposal {pid} was withdrawn and cannot be revised.")
    for child in state.children:
        status = _norm(latest_status(cur, child))
        if status in _OPEN:
            raise GovernanceError(f"proposal {pid} already has an open revision {child[:12]} ({status}); revise "
                                  "that one instead.")


def revise(
    store: Store,
    proposal_id: str,
    who: str | Member,
    overrides: Sequence[Override],
    *,
    justification: str,
    committee: Committee | None = None,
    key: signing.KeyPair | None = None,
    signature: signing.Signature | None = None,
) -> Revision:
    """Override parameters: store a NEW revision (a draft) linked to the proposal, with the justification.

    The proposal itself never changes. An open parent (draft or in review) becomes ``superseded``; an
    approved, exported or rejected parent keeps its status. Both get an audit event (``revised`` on the
    parent, ``revision_created`` on the new revision) with the justification and the changes.

    Parameters
    ----------
    overrides : sequence of Override
        At least one; tiers 0-based (see :meth:`Override.parse` for the 1-based text form).
    justification : str
        Required written justification (recorded in the audit log and in the revision's content).
    key, signature : optional
        Sign the override (the ``revised`` event) with the member's key, or pass a signature made elsewhere
        (a wallet) of :func:`typed_data` for action ``revised``; required when the committee sets
        ``require_signatures``.

    Raises
    ------
    CommitteeError
        ``who`` is not listed.
    GovernanceError
        An observer, no justification, a superseded / withdrawn proposal, an open revision already exists,
        or an invalid override (see :func:`apply_overrides`).
    """
    just = _text(justification, required="an override needs a written justification.", what="justification")
    assert just is not None
    parent = get_proposal(store, proposal_id)
    now = now_utc()
    with store.transaction() as cur:
        active, registered = _resolve(cur, committee)
        member = active.member(who)
        _require_voter(member, "override parameters")
        state = _state(cur, parent, active)
        _check_revisable(state, cur)
        number = state.revision + 1
        proposal = apply_overrides(parent.content, overrides, parent_id=parent.id, root_id=state.root_id,
                                   revision=number, author=member.handle, justification=just)
        rev = proposal.provenance_info.revision
        assert rev is not None  # apply_overrides always writes it
        records = rev.to_dict()["overrides"][-max(1, len(overrides)):]
        labels = [f"{o.label} = {o.value:.10g}" for o in overrides]
        chash = _bound(cur, parent.id) or active.hash
        stamp = _unix(now) if signature is None else signature.timestamp
        message = action_message(parent.id, Action.REVISED.value, member, chash,
                                 detail={"override_labels": labels}, comment=just, timestamp=stamp)
        sig = _signature(cur, active, message, member, now, key, signature)
        if not registered:
            _register(cur, active, member, now)
        new_id, is_new = save_proposal_in(cur, store, proposal, actor=member.handle)
        if not is_new:
            raise GovernanceError(f"this revision is already stored as proposal {_short(new_id)}.")
        gr.insert_revision(cur, proposal_id=new_id, parent_id=parent.id, root_id=state.root_id, revision=number,
                           at=now, actor=member.handle, justification=just)
        parent_to = Status.SUPERSEDED.value if state.status in _OPEN else state.status
        if parent_to != state.status:
            append_status_in(cur, parent.id, parent_to, actor=member.handle,
                             note=f"superseded by revision {new_id[:12]}", at=now)
        gr.insert_event(cur, proposal_id=parent.id, at=now, actor=member.to_dict(), action=Action.REVISED.value,
                        from_status=state.status, to_status=parent_to, comment=just,
                        detail={"revision": new_id, "overrides": records, "override_labels": labels}, signature=sig)
        gr.insert_event(cur, proposal_id=new_id, at=now, actor=member.to_dict(),
                        action=Action.REVISION_CREATED.value, from_status=None, to_status=Status.DRAFT.value,
                        comment=just, detail={"parent": parent.id, "revision": number, "overrides": records})
    new = get_proposal(store, new_id)
    with store.reading() as cur2:
        return Revision(new, _state(cur2, new, active), _state(cur2, parent, active))


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffRow:
    """One parameter compared between two revisions.

    ``tier`` is 0-based (None for lending); ``old`` / ``new`` are None where the asset, tier or
    parameter is missing on that side. Fractions (0.03 = 3 %), max leverage in x.
    """

    symbol: str
    parameter: str
    tier: int | None
    old: float | None
    new: float | None

    @property
    def change(self) -> float | None:
        """``new - old`` (None when a side is missing)."""
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def relative_change(self) -> float | None:
        """``(new - old) / old`` (None when a side is missing or ``old`` is 0)."""
        return None if self.old is None or self.new is None or self.old == 0 else (self.new - self.old) / self.old

    @property
    def changed(self) -> bool:
        """The values differ (or one side is missing)."""
        return self.old is None or self.new is None or abs(self.new - self.old) > _TOL

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (0-based ``tier`` and 1-based ``tier_number``)."""
        return {"symbol": self.symbol, "parameter": self.parameter, "tier": self.tier,
                "tier_number": None if self.tier is None else self.tier + 1, "old": self.old, "new": self.new,
                "change": self.change, "relative_change": self.relative_change}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalDiff:
    """Differences between two proposals of one profile, per asset and parameter."""

    old_id: str
    new_id: str
    profile: str
    rows: tuple[DiffRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"old_id", "new_id", "profile", "rows": [...]}``."""
        return {"old_id": self.old_id, "new_id": self.new_id, "profile": self.profile,
                "rows": [r.to_dict() for r in self.rows]}


def _proposed_values(content: Mapping[str, Any]) -> dict[tuple[str, str, int | None], float]:
    out = {}
    for a in content["assets"]:
        for ln in a["lines"]:
            out[(a["symbol"], ln["parameter"], ln["tier"])] = ln["proposed"]
    return out


def diff_contents(old: Mapping[str, Any], new: Mapping[str, Any], *, changed_only: bool = True) -> tuple[DiffRow, ...]:
    """Per asset, tier and parameter: the proposed value in ``old`` and in ``new`` (pure).

    Rows are ordered by symbol, tier, then parameter; with ``changed_only`` unchanged rows are left out.
    """
    a, b = _proposed_values(old), _proposed_values(new)
    keys = sorted(set(a) | set(b), key=lambda k: (k[0], -1 if k[2] is None else k[2], _PARAM_ORDER.get(k[1], 99), k[1]))
    rows = (DiffRow(symbol=k[0], parameter=k[1], tier=k[2], old=a.get(k), new=b.get(k)) for k in keys)
    return tuple(r for r in rows if r.changed or not changed_only)


def diff(store: Store, old_id: str, new_id: str | None = None, *, changed_only: bool = True) -> ProposalDiff:
    """Compare two stored proposals; with one id, compare a revision with its parent.

    Raises
    ------
    GovernanceError
        One id of a proposal without a parent, or proposals of different profiles.
    """
    if new_id is None:
        child = get_proposal(store, old_id)
        with store.reading() as cur:
            link = gr.revision_link(cur, child.id)
        if link is None:
            raise GovernanceError(f"proposal {_short(child.id)} has no parent revision; give two ids to compare.")
        older, newer = get_proposal(store, link["parent_id"]), child
    else:
        older, newer = get_proposal(store, old_id), get_proposal(store, new_id)
    if older.profile != newer.profile:
        raise GovernanceError(f"cannot compare a {older.profile} proposal with a {newer.profile} proposal.")
    return ProposalDiff(old_id=older.id, new_id=newer.id, profile=newer.profile,
                        rows=diff_contents(older.content, newer.content, changed_only=changed_only))


# -------------------------------------------------------------------------------------------------
# listing and export
# -------------------------------------------------------------------------------------------------


def list_governance(
    store: Store, *, committee: Committee | None = None, profile: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest proposals first, with their workflow: ``id, status, profile, assets, n_assets, sign_offs,
    dissents, quorum, revision, parent_id, created_at, as_of`` (``sign_offs`` / ``dissents``: handles of the
    standing votes; timestamps ISO-8601 with ``Z``)."""
    committee = store_committee(store, committee)
    rows = list_proposals(store, profile=profile, limit=limit)
    ids = [r["id"] for r in rows]
    with store.reading() as cur:
        assets, links, votes = gr.proposal_assets(cur, ids), gr.revision_links(cur, ids), gr.latest_votes(cur, ids)
    out = []
    for r in rows:
        pid = r["id"]
        v = votes.get(pid, {})
        link = links.get(pid)
        out.append({
            "id": pid, "status": _norm(r["status"]), "profile": r["profile"], "assets": assets.get(pid, []),
            "n_assets": r["n_assets"],
            "sign_offs": sorted(h for h, e in v.items() if e["action"] == Action.SIGNED_OFF),
            "dissents": sorted(h for h, e in v.items() if e["action"] == Action.DISSENTED),
            "quorum": committee.quorum, "revision": 1 if link is None else link["revision"],
            "parent_id": None if link is None else link["parent_id"], "created_at": r["created_at"],
            "as_of": r["as_of"],
        })
    return out


@dataclass(frozen=True, slots=True)
class ExportResult:
    """An export: the bytes, what they are, and how the workflow recorded it.

    Attributes
    ----------
    data : bytes
    format : str
        One of :data:`riskparams.export.FORMATS`.
    filename : str
        Suggested file name, e.g. ``proposal-1a2b3c4d5e6f.md``.
    sha256 : str
        SHA-256 (hex) of ``data``, as written to the audit log.
    final : bool
        The proposal was approved (not marked DRAFT).
    status : str
        The proposal's status after the export.
    path : Path or None
        The file written (``out``), None when only the bytes were returned.
    """

    data: bytes
    format: str
    filename: str
    sha256: str
    final: bool
    status: str
    path: Path | None = None


def _sweep_payload(stored: Any) -> Any:
    """The attached sweep as the export reads it (typed, :attr:`riskparams.store.sweep_records.StoredSweep.report`),
    or None."""
    return None if stored is None else stored.report


def export_proposal(
    store: Store,
    proposal_id: str,
    fmt: str,
    who: str | Member,
    *,
    committee: Committee | None = None,
    backtest: Mapping[str, Any] | None = None,
    dydx_first_id: int = _export.DYDX_FIRST_TIER_ID,
    out: str | Path | None = None,
    asset_addresses: Mapping[str, str] | None = None,
    report_url: str | None = None,
) -> ExportResult:
    """Export a proposal (see :mod:`riskparams.export`) and record it: an ``exported`` audit event with the
    format and the SHA-256 of the bytes, and status ``exported`` on the first export of an approved proposal.

    Anyone listed may export. A proposal that is not approved exports marked DRAFT (or REJECTED, ...);
    venue payloads (``dydx``, ``aave``) are refused unless it is approved and its records verify
    (:func:`riskparams.verify.verify`).

    With ``out`` the bytes are written to that file in the same step as the record: the file is written
    under a temporary name first and renamed into place inside the recording transaction, so a file that
    cannot be written records nothing, and nothing is recorded without its file.

    Raises
    ------
    CommitteeError
        ``who`` is not listed.
    ExportError
        Unknown format, a payload of the other profile, or an invalid backtest payload.
    GovernanceError
        A venue payload of a proposal that is not approved.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> pid = riskparams.propose(store, profile="perp", symbols=["ABC"]).id
    >>> md = riskparams.export_proposal(store, pid, "md", "erin")  # an observer may export
    >>> md.filename == f"proposal-{pid[:12]}.md", md.final, md.status
    (True, False, 'draft')
    >>> print(md.data.decode().splitlines()[0])
    # [ARFC] Risk parameter update: perpetual margin tiers for ABC
    >>> "DRAFT - not approved" in md.data.decode()
    True
    >>> riskparams.export_proposal(store, pid, "dydx", "erin")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.GovernanceError: venue payloads are exported only from approved proposals; proposal ... is draft.

    ``out=`` writes the file (a folder: under ``filename``) in the same step as the record.
    """
    fmt = _export.check_format(fmt)
    stored = get_proposal(store, proposal_id)
    _export.check_profile(fmt, stored.profile)
    with store.reading() as cur:
        active, _ = _resolve(cur, committee)
        member = active.member(who)
        state = _state(cur, stored, active)
    if fmt in _export.VENUE_FORMATS:
        if state.status not in _DECIDED:
            raise GovernanceError(f"venue payloads are exported only from approved proposals; proposal "
                                  f"{_short(stored.id)} is {state.status}.")
        from riskparams.verify import verify

        check = verify(store, stored.id)
        if not check.ok:
            raise GovernanceError(f"proposal {_short(stored.id)} does not verify ({len(check.problems)} problem"
                                  f"{'s' if len(check.problems) != 1 else ''}, first: {check.problems[0].message.rstrip('.')}); "
                                  "no venue payload is exported from records that may have been altered (run "
                                  "riskparams verify).")
    from riskparams.store.impact_records import latest_impact  # the impact stored with it (issue 14), if any
    from riskparams.store.plan_records import latest_plan  # its newest execution plan (issue 13), if any
    from riskparams.store.sweep_records import latest_attached_sweep  # the sweep attached last (issue 16)

    data = _export.render(fmt, stored, workflow=state.to_dict(for_export=True), backtest=backtest,
                          dydx_first_id=dydx_first_id, impact=latest_impact(store, stored.id),
                          plan=latest_plan(store, stored.id), sweep=_sweep_payload(latest_attached_sweep(store, stored.id)),
                          asset_addresses=asset_addresses, report_url=report_url)
    digest = hashlib.sha256(data).hexdigest()
    target = None if out is None else Path(out).expanduser()
    if target is not None and target.is_dir():
        target = target / _export.default_filename(stored.id, fmt)
    tmp = None if target is None else _write_temp(target, data)
    now = now_utc()
    try:
        with store.transaction() as cur:
            status = _norm(latest_status(cur, stored.id))
            to = Status.EXPORTED.value if status == Status.APPROVED else status
            if to != status:
                append_status_in(cur, stored.id, to, actor=member.handle, note=f"exported as {fmt}", at=now)
            gr.insert_event(cur, proposal_id=stored.id, at=now, actor=member.to_dict(),
                            action=Action.EXPORTED.value, from_status=status, to_status=to, comment=None,
                            detail={"format": fmt, "sha256": digest, "bytes": len(data),
                                    "final": status in _DECIDED,
                                    "backtest": None if backtest is None else backtest.get("id")})
            if tmp is not None and target is not None:
                try:
                    os.replace(tmp, target)  # the file appears only with its record; a failure records nothing
                except OSError as exc:
                    raise GovernanceError(f"cannot write {target}: {exc.strerror or exc}; nothing was "
                                          "recorded.") from None
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
    return ExportResult(data=data, format=fmt, filename=_export.default_filename(stored.id, fmt), sha256=digest,
                        final=state.status in _DECIDED, status=to, path=target)


def _write_temp(target: Path, data: bytes) -> Path:
    """Write ``data`` beside ``target`` under a temporary name (renamed into place by the caller)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
    except OSError as exc:
        raise GovernanceError(f"cannot write {target}: {exc.strerror or exc}; nothing was recorded.") from None
    return tmp

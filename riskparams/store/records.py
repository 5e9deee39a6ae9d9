"""Proposal records: immutable, content-addressed storage of proposals in the store.

With :mod:`riskparams.store.core` the only place with SQL for proposals. Every statement is
parameterised (``?``) and runs through :meth:`Store.transaction` or :meth:`Store.cursor`.

Immutability
------------
A proposal's id is the SHA-256 of the canonical JSON of its content
(:func:`riskparams.domain.content_id`; the creation time and the status are not content). Storing the
same content again returns the first record (same id, same ``created_at``) and adds no row. Nothing
here updates or deletes a proposal; :func:`get_proposal` recomputes the hash of the stored text and
refuses a record whose content no longer matches its id. The status lives apart, in the append-only
``proposal_status_log`` (seq 1 is ``'draft'``, written with the proposal); later status changes append
rows (:func:`append_status`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from riskparams.domain import Proposal
from riskparams.exceptions import ProposalNotFoundError, RiskParamsError, StoreError
from riskparams.jsonio import canonical_json, content_id
from riskparams.store import governance_records as gr
from riskparams.store.core import Store, iso_z, naive_utc, now_utc

__all__ = [
    "STATUSES",
    "ProposalNotFoundError",
    "StoredProposal",
    "append_status",
    "append_status_in",
    "get_proposal",
    "latest_status",
    "list_proposals",
    "proposal_history",
    "save_proposal",
]

STATUSES: tuple[str, ...] = (
    "draft", "submitted", "in_review", "approved", "rejected", "exported", "superseded", "withdrawn",
)
"""Statuses a proposal can be given (the first is ``draft``).

The committee workflow (:mod:`riskparams.governance`) uses ``draft -> in_review -> approved | rejected``,
``approved -> exported``, and ``superseded`` / ``withdrawn``; it reads ``submitted`` (written by older code
through :func:`append_status`) as ``in_review``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredProposal:
    """A proposal as stored.

    Attributes
    ----------
    id : str
        SHA-256 (hex) of the canonical content.
    profile : str
    as_of : datetime or None
        Requested as-of (naive UTC).
    created_at : datetime
        When it was first stored (naive UTC); not part of the id.
    status : str
        Latest status in the log.
    content : dict
        The content (``Proposal.content()``), as stored.
    is_new : bool
        True when this call stored it; False when it was already there.
    """

    id: str
    profile: str
    as_of: datetime | None
    created_at: datetime
    status: str
    content: dict[str, Any]
    is_new: bool = False

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "status", "created_at", **content}`` (JSON-safe)."""
        return {
            "id": self.id,
            "status": self.status,
            "created_at": iso_z(self.created_at),
            **self.content,
        }


def _altered(what: str, rid: str) -> StoreError:
    return StoreError(f"stored {what} {rid[:12]} does not match its content hash; the store was altered.")


def existing_matches(cur: duckdb.DuckDBPyConnection, select_sql: str, rid: str, text: str, what: str) -> bool:
    """Whether a content-addressed record ``rid`` is already stored (checked before a save).

    Parameters
    ----------
    cur : duckdb.DuckDBPyConnection
        The cursor of the saving transaction.
    select_sql : str
        Parameterised SQL returning the stored canonical text for the id ``?`` (a module constant).
    rid : str
        The content hash (id) of the record being saved.
    text : str
        Its canonical JSON.
    what : str
        Names the record in the message, e.g. ``'proposal'``.

    Returns
    -------
    bool
        True when stored with the same text, False when not stored.

    Raises
    ------
    StoreError
        Stored with different text (the store was altered).
    """
    row = cur.execute(select_sql, [rid]).fetchone()
    if row is None:
        return False
    if str(row[0]) != text:
        raise _altered(what, rid)
    return True


def load_verified(text: str, rid: str, what: str) -> dict[str, Any]:
    """The content of a stored record, after checking that its canonical text still hashes to ``rid``.

    Raises
    ------
    StoreError
        The stored text no longer matches its id (the store was altered).
    """
    content: dict[str, Any] = json.loads(text)
    if content_id(content) != rid or canonical_json(content) != text:
        raise _altered(what, rid)
    return content


def save_proposal_in(cur: duckdb.DuckDBPyConnection, store: Store, proposal: Proposal, *,
                     actor: str | None = None) -> tuple[str, bool]:
    """:func:`save_proposal` inside the caller's transaction ``cur``; returns ``(id, is_new)``.

    A new proposal also gets a ``created`` audit event (in the audit chain), so that a proposal inserted or
    deleted behind the store's back is found by ``riskparams verify``.
    """
    content = proposal.content()
    text = canonical_json(content)
    pid = content_id(content)
    if existing_matches(cur, "SELECT content FROM proposals WHERE proposal_id = ?", pid, text, "proposal"):
        return pid, False
    now = now_utc()
    policy = content.get("policy", {})
    versions = content.get("provenance", {}).get("packages", {})
    cur.execute(
        """INSERT INTO proposals (proposal_id, profile, as_of, created_at, policy_key, riskparams_version,
               n_assets, n_skipped, content)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [pid, proposal.profile, naive_utc(proposal.as_of), now, str(policy.get("policy_key", "")),
         str(versions.get("riskparams", "")), len(proposal.assets), len(proposal.skipped), text],
    )
    for a in proposal.assets:
        ctx = a.context
        if ctx is None:
            continue
        found = store.find_series(ctx.symbol, freq=ctx.freq, source=ctx.source, kind=ctx.kind)
        cur.execute(
            """INSERT INTO proposal_data (proposal_id, symbol, series_id, freq, source, kind, fingerprint,
                   last_bar)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [pid, ctx.symbol, found[0].series_id if len(found) == 1 else None, ctx.freq, ctx.source,
             ctx.kind, ctx.fingerprint, naive_utc(ctx.last_bar)],
        )
    cur.execute(
        "INSERT INTO proposal_status_log (proposal_id, seq, status, changed_at, actor, note) "
        "VALUES (?, 1, 'draft', ?, ?, NULL)",
        [pid, now, actor],
    )
    who = actor or "riskparams"
    gr.insert_event(cur, proposal_id=pid, at=now, actor={"handle": who, "name": who, "role": "system"},
                    action="created", from_status=None, to_status="draft", comment=None,
                    detail={"profile": proposal.profile, "assets": sorted(a.symbol for a in proposal.assets)})
    return pid, True


def save_proposal(store: Store, proposal: Proposal, *, actor: str | None = None) -> StoredProposal:
    """Store a proposal (status ``draft``) unless the same content is already stored.

    Parameters
    ----------
    store : Store
    proposal : Proposal
    actor : str, optional
        Recorded with the initial status.

    Returns
    -------
    StoredProposal
        ``is_new`` tells whether a row was written.

    Raises
    ------
    StoreError
        A stored record with this id has different content (it was tampered with).
    """
    with store.transaction() as cur:
        pid, is_new = save_proposal_in(cur, store, proposal, actor=actor)
    stored = get_proposal(store, pid)
    return StoredProposal(
        id=stored.id, profile=stored.profile, as_of=stored.as_of, created_at=stored.created_at,
        status=stored.status, content=stored.content, is_new=is_new,
    )


def resolve_prefix(store: Store, ref: str, *, select: str, what: str,
                   error: type[RiskParamsError]) -> str:
    """The one stored id that starts with ``ref`` (at least 6 hex characters).

    Parameters
    ----------
    select : str
        Parameterised SQL returning up to two ids that start with ``?`` (a module constant, no user value).
    what : str
        Names the record in messages, e.g. ``'proposal'``.
    error : type
        Raised (one sentence) when the reference is malformed, unknown or ambiguous.
    """
    key = str(ref).strip().lower()
    if len(key) < 6 or any(c not in "0123456789abcdef" for c in key):
        raise error(f"{ref!r} is not a {what} id (at least 6 hex characters).")
    rows = store.fetchall(select, [key])
    if not rows:
        raise error(f"no stored {what} has id {ref!r}.")
    if len(rows) > 1:
        raise error(f"several stored {what}s start with {ref!r}; give more characters.")
    return str(rows[0][0])


_SELECT_PREFIX = "SELECT proposal_id FROM proposals WHERE starts_with(proposal_id, ?) ORDER BY proposal_id LIMIT 2"


def resolve_proposal_id(store: Store, proposal_id: str) -> str:
    """The full id of the one stored proposal ``proposal_id`` (id or unique prefix of >= 6 hex characters).

    Raises
    ------
    ProposalNotFoundError
        Malformed, unknown or ambiguous.
    """
    return resolve_prefix(store, proposal_id, select=_SELECT_PREFIX, what="proposal", error=ProposalNotFoundError)


_resolve_id = resolve_proposal_id


def get_proposal(store: Store, proposal_id: str) -> StoredProposal:
    """A stored proposal by id or unique id prefix (>= 6 hex characters), its hash verified.

    Raises
    ------
    ProposalNotFoundError
        No (or more than one) stored proposal matches.
    StoreError
        The stored content no longer hashes to its id.
    """
    pid = _resolve_id(store, proposal_id)
    row = store.fetchone(
        """SELECT p.profile, p.as_of, p.created_at, p.content,
                  (SELECT s.status FROM proposal_status_log s WHERE s.proposal_id = p.proposal_id
                   ORDER BY s.seq DESC LIMIT 1)
           FROM proposals p WHERE p.proposal_id = ?""",
        [pid],
    )
    assert row is not None
    content = load_verified(str(row[3]), pid, "proposal")
    return StoredProposal(
        id=pid, profile=str(row[0]), as_of=row[1], created_at=row[2], status=str(row[4] or "draft"),
        content=content,
    )


def list_proposals(store: Store, *, profile: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest stored proposals first: ``id, profile, as_of, created_at, status, n_assets, n_skipped,
    policy_key, riskparams_version`` (timestamps as ISO-8601 strings with ``Z``)."""
    sql = """SELECT p.proposal_id, p.profile, p.as_of, p.created_at,
                    (SELECT s.status FROM proposal_status_log s WHERE s.proposal_id = p.proposal_id
                     ORDER BY s.seq DESC LIMIT 1),
                    p.n_assets, p.n_skipped, p.policy_key, p.riskparams_version
             FROM proposals p"""
    params: list[Any] = []
    if profile is not None:
        sql += " WHERE p.profile = ?"
        params.append(profile)
    sql += " ORDER BY p.created_at DESC, p.proposal_id LIMIT ?"
    params.append(int(limit))

    return [
        {"id": r[0], "profile": r[1], "as_of": iso_z(r[2]), "created_at": iso_z(r[3]), "status": r[4],
         "n_assets": int(r[5]), "n_skipped": int(r[6]), "policy_key": r[7], "riskparams_version": r[8]}
        for r in store.fetchall(sql, params)
    ]


def append_status(
    store: Store, proposal_id: str, status: str, *, actor: str | None = None, note: str | None = None
) -> str:
    """Append a status change to the log (the content is untouched); returns the new status.

    Raises
    ------
    ProposalNotFoundError
        Unknown id.
    RiskParamsError
        ``status`` is not one of :data:`STATUSES`.
    """
    if status not in STATUSES:
        raise RiskParamsError(f"status must be one of {', '.join(STATUSES)}, got {status!r}.")
    pid = _resolve_id(store, proposal_id)
    with store.transaction() as cur:
        append_status_in(cur, pid, status, actor=actor, note=note)
    return status


def append_status_in(
    cur: duckdb.DuckDBPyConnection, proposal_id: str, status: str, *, actor: str | None = None, note: str | None = None,
    at: datetime | None = None,
) -> int:
    """Append a status change with a cursor of an open :meth:`Store.transaction` (so a caller can write it
    together with other rows, e.g. the governance audit log); returns the new ``seq``.

    ``proposal_id`` must be a full stored id; ``at`` defaults to now (naive UTC).

    Raises
    ------
    RiskParamsError
        ``status`` is not one of :data:`STATUSES`.
    """
    if status not in STATUSES:
        raise RiskParamsError(f"status must be one of {', '.join(STATUSES)}, got {status!r}.")
    row = cur.execute(
        "SELECT coalesce(max(seq), 0) FROM proposal_status_log WHERE proposal_id = ?", [proposal_id]
    ).fetchone()
    seq = (int(row[0]) if row else 0) + 1
    cur.execute(
        "INSERT INTO proposal_status_log (proposal_id, seq, status, changed_at, actor, note) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [proposal_id, seq, status, now_utc() if at is None else at, actor, note],
    )
    return seq


def latest_status(cur: duckdb.DuckDBPyConnection, proposal_id: str) -> str | None:
    """The latest status in the log of a full stored id, read with ``cur`` (None when there is none)."""
    row = cur.execute(
        "SELECT status FROM proposal_status_log WHERE proposal_id = ? ORDER BY seq DESC LIMIT 1", [proposal_id]
    ).fetchone()
    return None if row is None else str(row[0])


def proposal_history(store: Store, proposal_id: str) -> list[Mapping[str, Any]]:
    """The status log of a proposal, oldest first: ``seq, status, changed_at, actor, note``."""
    pid = _resolve_id(store, proposal_id)
    rows = store.fetchall(
        "SELECT seq, status, changed_at, actor, note FROM proposal_status_log WHERE proposal_id = ? ORDER BY seq",
        [pid],
    )
    return [{"seq": int(r[0]), "status": r[1], "changed_at": r[2], "actor": r[3], "note": r[4]} for r in rows]

"""Governance records: the append-only audit log of committee actions and the revision links.

With :mod:`riskparams.store.records` the only place with SQL for proposals. Every statement is
parameterised (``?``) and runs on a cursor from :meth:`Store.transaction` (writes, and reads that decide a
write) or :meth:`Store.cursor` (plain reads).

Append-only by construction
---------------------------
Nothing here updates or deletes: the only SQL verbs are ``SELECT`` and ``INSERT`` (a test reads this
module's string constants and fails on any statement that changes or removes rows or tables). A change of
mind is a new row: a retracted sign-off is a ``retracted`` event after the
``signed_off`` one; a changed proposal is a new revision linked to its parent.

Tables (schema migrations 4 and 7)
----------------------------------
``governance_events``
    One row per action: ``event_id`` (increasing), ``proposal_id``, ``event_at`` (naive UTC), the member as known
    at the time (``actor`` handle, ``actor_name``, ``actor_role``, ``actor_address``), ``action``,
    ``from_status`` / ``to_status`` (equal when the status did not change), ``comment`` and ``detail``
    (canonical JSON). Sign-offs and dissents are events (``signed_off``, ``dissented``, ``retracted``):
    a member's vote is their latest such event.
``proposal_revisions``
    One row per revision made by an override: ``proposal_id`` (the new revision), ``parent_id``,
    ``root_id`` (the first proposal of the lineage), ``revision`` (the root is 1), ``created_at``,
    ``actor`` and ``justification``.
``audit_chain``
    One row per event: ``event_id``, ``prev_hash`` (the previous event's hash; 64 zeros for the first) and
    ``event_hash`` = SHA-256 of :func:`event_preimage` (the event's fields and ``prev_hash``). Written by
    :func:`insert_event` in the event's own transaction.
``committees``
    ``committee_hash`` (SHA-256 of the canonical JSON ``content``), ``content``, ``stored_at``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb

from riskparams.jsonio import canonical_json, sha256_hex
from riskparams.store.core import now_utc

__all__ = [
    "COMMITTEE_LOG",
    "events_like",
    "attachment_rows",
    "chain_started_at",
    "committee_rows",
    "proposal_rows",
    "status_logs",
    "GENESIS",
    "active_committee_hash",
    "signature_used",
    "VOTE_ACTIONS",
    "all_events",
    "chain_rows",
    "children",
    "committee_content",
    "event_hash",
    "event_preimage",
    "events",
    "put_committee",
    "insert_event",
    "insert_revision",
    "latest_votes",
    "proposal_assets",
    "revision_link",
    "revision_links",
]

VOTE_ACTIONS: tuple[str, ...] = ("signed_off", "dissented", "retracted")
"""Audit actions that set a member's vote on a proposal (the latest one counts)."""

Cursor = duckdb.DuckDBPyConnection


GENESIS = "0" * 64
"""``prev_hash`` of the first event of the chain."""

_COLUMNS = ("event_id, proposal_id, event_at, actor, actor_name, actor_role, actor_address, action, from_status, "
            "to_status, comment, detail, signature")


def event_preimage(ev: Mapping[str, Any], prev_hash: str) -> str:
    """The canonical JSON the chain hashes for one event (as :func:`events` returns it) after ``prev_hash``."""
    at = ev["at"]
    return canonical_json({
        "prev_hash": prev_hash, "event_id": int(ev["event_id"]), "proposal_id": ev["proposal_id"],
        # the chain's own time form (naive UTC, microseconds, no Z), not iso_z: every sealed hash depends on it
        "at": at.isoformat(timespec="microseconds") if isinstance(at, datetime) else str(at),
        "actor": ev["actor"], "actor_name": ev["actor_name"], "actor_role": ev["actor_role"],
        "actor_address": ev["actor_address"], "action": ev["action"], "from_status": ev["from_status"],
        "to_status": ev["to_status"], "comment": ev["comment"], "detail": ev["detail"], "signature": ev["signature"],
    })


def event_hash(ev: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of :func:`event_preimage`."""
    return sha256_hex(event_preimage(ev, prev_hash))


def _chain_head(cur: Cursor) -> tuple[int, str]:
    row = cur.execute("SELECT event_id, event_hash FROM audit_chain ORDER BY event_id DESC LIMIT 1").fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _seal(cur: Cursor) -> str:
    """Chain the events that have no chain row yet (written before schema 7), in order; returns the head."""
    last, head = _chain_head(cur)
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM governance_events e WHERE NOT EXISTS "  # noqa: S608 - constant column list
        "(SELECT 1 FROM audit_chain c WHERE c.event_id = e.event_id) ORDER BY event_id"
    ).fetchall()
    for r in rows:
        ev = _event(r)
        if ev["event_id"] < last:
            # an unchained event older than the head: inserted behind the chain's back; leave it for verify
            continue
        h = event_hash(ev, head)
        cur.execute("INSERT INTO audit_chain (event_id, prev_hash, event_hash) VALUES (?, ?, ?)",
                    [ev["event_id"], head, h])
        last, head = ev["event_id"], h
    return head


def insert_event(
    cur: Cursor,
    *,
    proposal_id: str,
    at: datetime,
    actor: Mapping[str, Any],
    action: str,
    from_status: str | None,
    to_status: str | None,
    comment: str | None = None,
    detail: Mapping[str, Any] | None = None,
    signature: Mapping[str, Any] | None = None,
) -> int:
    """Append one audit event and its chain row; returns its ``event_id``.

    Parameters
    ----------
    cur : duckdb cursor
        From :meth:`Store.transaction` (the event and its chain row commit together).
    actor : mapping
        ``handle``, ``name``, ``role`` and optionally ``address`` of the member acting.
    detail : mapping, optional
        Stored as canonical JSON.
    signature : mapping, optional
        The action's signature (``scheme``, ``signature``, ``timestamp``), stored as canonical JSON.
    """
    head = _seal(cur)
    row = cur.execute(
        """INSERT INTO governance_events (proposal_id, event_at, actor, actor_name, actor_role, actor_address, action,
               from_status, to_status, comment, detail, signature)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           RETURNING event_id""",
        [proposal_id, at, str(actor["handle"]), str(actor["name"]), str(actor["role"]), actor.get("address"),
         action, from_status, to_status, comment, None if detail is None else canonical_json(dict(detail)),
         None if signature is None else canonical_json(dict(signature))],
    ).fetchone()
    assert row is not None
    event_id = int(row[0])
    stored = cur.execute(f"SELECT {_COLUMNS} FROM governance_events WHERE event_id = ?",  # noqa: S608
                         [event_id]).fetchone()
    assert stored is not None
    cur.execute("INSERT INTO audit_chain (event_id, prev_hash, event_hash) VALUES (?, ?, ?)",
                [event_id, head, event_hash(_event(stored), head)])
    return event_id


def _event(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "event_id": int(row[0]), "proposal_id": row[1], "at": row[2], "actor": row[3], "actor_name": row[4],
        "actor_role": row[5], "actor_address": row[6], "action": row[7], "from_status": row[8],
        "to_status": row[9], "comment": row[10], "detail": {} if row[11] is None else json.loads(row[11]),
        "signature": None if row[12] is None else json.loads(row[12]),
    }


def all_events(cur: Cursor) -> list[dict[str, Any]]:
    """Every audit event of the store, oldest first (by ``event_id``)."""
    rows = cur.execute(f"SELECT {_COLUMNS} FROM governance_events ORDER BY event_id").fetchall()  # noqa: S608
    return [_event(r) for r in rows]


def chain_rows(cur: Cursor) -> list[tuple[int, str, str]]:
    """The chain, ``(event_id, prev_hash, event_hash)`` by ``event_id``."""
    return [(int(r[0]), str(r[1]), str(r[2])) for r in
            cur.execute("SELECT event_id, prev_hash, event_hash FROM audit_chain ORDER BY event_id").fetchall()]


COMMITTEE_LOG = "committee"
"""``proposal_id`` of the events that register the store's committee or change it."""


def active_committee_hash(cur: Cursor) -> str | None:
    """Hash of the store's committee: that of its latest ``committee_registered`` or ``committee_changed``
    event (None when no committee was registered yet)."""
    row = cur.execute(
        "SELECT detail FROM governance_events WHERE proposal_id = ? AND action IN "
        "('committee_registered', 'committee_changed') ORDER BY event_id DESC LIMIT 1",
        [COMMITTEE_LOG],
    ).fetchone()
    return None if row is None or row[0] is None else str(json.loads(row[0]).get("committee"))


def signature_used(cur: Cursor, signature_hex: str) -> bool:
    """Whether an event already carries this signature (a replayed signature)."""
    row = cur.execute(
        "SELECT 1 FROM governance_events WHERE signature IS NOT NULL "
        "AND json_extract_string(signature, '$.signature') = ? LIMIT 1",
        [signature_hex],
    ).fetchone()
    return row is not None


def put_committee(cur: Cursor, committee_hash: str, content: str, at: datetime) -> None:
    """Store a committee's canonical JSON under its hash (kept when already stored)."""
    cur.execute("INSERT INTO committees (committee_hash, content, stored_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [committee_hash, content, at])


def committee_content(cur: Cursor, committee_hash: str) -> str | None:
    """The stored canonical JSON of a committee, or None."""
    row = cur.execute("SELECT content FROM committees WHERE committee_hash = ?", [committee_hash]).fetchone()
    return None if row is None else str(row[0])


def events(cur: Cursor, proposal_id: str) -> list[dict[str, Any]]:
    """The audit events of one proposal (full id), oldest first (by ``event_id``), each with its
    ``chain_hash`` (None for an event not yet sealed into the chain)."""
    rows = cur.execute(
        f"SELECT {_COLUMNS}, (SELECT c.event_hash FROM audit_chain c WHERE c.event_id = g.event_id) "  # noqa: S608
        "FROM governance_events g WHERE proposal_id = ? ORDER BY event_id",
        [proposal_id],
    ).fetchall()
    return [{**_event(r), "chain_hash": None if r[13] is None else str(r[13])} for r in rows]


def events_like(cur: Cursor, prefix: str) -> list[dict[str, Any]]:
    """Audit events whose ``proposal_id`` starts with ``prefix`` (committee changes), oldest first."""
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM governance_events WHERE starts_with(proposal_id, ?) ORDER BY event_id",  # noqa: S608
        [prefix],
    ).fetchall()
    return [_event(r) for r in rows]


def latest_votes(cur: Cursor, proposal_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each member's latest vote event per proposal: ``{proposal_id: {handle: event}}``.

    The event's ``action`` is ``signed_off``, ``dissented`` or ``retracted`` (no vote).
    """
    if not proposal_ids:
        return {}
    rows = cur.execute(
        f"""SELECT {_COLUMNS}
           FROM governance_events e
           WHERE list_contains(?, e.proposal_id)
             AND list_contains(?, e.action)
             AND e.event_id = (SELECT max(f.event_id) FROM governance_events f
                               WHERE f.proposal_id = e.proposal_id AND f.actor = e.actor
                                 AND list_contains(?, f.action))
           ORDER BY e.event_id""",  # noqa: S608 - constant column list
        [list(proposal_ids), list(VOTE_ACTIONS), list(VOTE_ACTIONS)],
    ).fetchall()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        ev = _event(r)
        out.setdefault(ev["proposal_id"], {})[ev["actor"]] = ev
    return out


def insert_revision(
    cur: Cursor,
    *,
    proposal_id: str,
    parent_id: str,
    root_id: str,
    revision: int,
    at: datetime,
    actor: str,
    justification: str,
) -> None:
    """Link a new revision to its parent (one row per revision; a second link of the same id fails)."""
    cur.execute(
        """INSERT INTO proposal_revisions (proposal_id, parent_id, root_id, revision, created_at, actor,
               justification)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        [proposal_id, parent_id, root_id, int(revision), at, actor, justification],
    )


def _link(row: Sequence[Any]) -> dict[str, Any]:
    return {"proposal_id": row[0], "parent_id": row[1], "root_id": row[2], "revision": int(row[3]),
            "created_at": row[4], "actor": row[5], "justification": row[6]}


def revision_link(cur: Cursor, proposal_id: str) -> dict[str, Any] | None:
    """The revision row of a proposal (None for a proposal no override made): ``proposal_id, parent_id,
    root_id, revision, created_at, actor, justification``."""
    row = cur.execute(
        "SELECT proposal_id, parent_id, root_id, revision, created_at, actor, justification "
        "FROM proposal_revisions WHERE proposal_id = ?",
        [proposal_id],
    ).fetchone()
    return None if row is None else _link(row)


def revision_links(cur: Cursor, proposal_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Revision rows of several proposals, by id (proposals without one are left out)."""
    if not proposal_ids:
        return {}
    rows = cur.execute(
        "SELECT proposal_id, parent_id, root_id, revision, created_at, actor, justification "
        "FROM proposal_revisions WHERE list_contains(?, proposal_id)",
        [list(proposal_ids)],
    ).fetchall()
    return {str(r[0]): _link(r) for r in rows}


def children(cur: Cursor, proposal_id: str) -> list[str]:
    """Ids of the revisions made from a proposal, oldest first."""
    rows = cur.execute(
        "SELECT proposal_id FROM proposal_revisions WHERE parent_id = ? ORDER BY created_at, proposal_id",
        [proposal_id],
    ).fetchall()
    return [str(r[0]) for r in rows]


def proposal_assets(cur: Cursor, proposal_ids: Sequence[str]) -> dict[str, list[str]]:
    """The symbols each proposal covers (from ``proposal_data``), sorted, by id."""
    if not proposal_ids:
        return {}
    rows = cur.execute(
        "SELECT proposal_id, symbol FROM proposal_data WHERE list_contains(?, proposal_id) "
        "ORDER BY proposal_id, symbol",
        [list(proposal_ids)],
    ).fetchall()
    out: dict[str, list[str]] = {}
    for pid, sym in rows:
        out.setdefault(str(pid), []).append(str(sym))
    return out


def proposal_rows(cur: Cursor) -> list[tuple[str, datetime, str]]:
    """Every stored proposal: ``(proposal_id, created_at, content)`` in creation order."""
    return [(str(r[0]), r[1], str(r[2])) for r in
            cur.execute("SELECT proposal_id, created_at, content FROM proposals ORDER BY created_at, proposal_id")
            .fetchall()]


def status_logs(cur: Cursor) -> dict[str, list[str]]:
    """Every proposal's status log, ``{proposal_id: [status by seq]}``."""
    out: dict[str, list[str]] = {}
    for pid, status in cur.execute(
            "SELECT proposal_id, status FROM proposal_status_log ORDER BY proposal_id, seq").fetchall():
        out.setdefault(str(pid), []).append(str(status))
    return out


def attachment_rows(cur: Cursor) -> list[tuple[str, str]]:
    """Every backtest attachment, ``(proposal_id, report_id)``."""
    return [(str(r[0]), str(r[1])) for r in
            cur.execute("SELECT proposal_id, report_id FROM backtest_attachments ORDER BY attached_at").fetchall()]


def committee_rows(cur: Cursor) -> list[tuple[str, str]]:
    """Every stored committee, ``(committee_hash, content)``."""
    return [(str(r[0]), str(r[1])) for r in
            cur.execute("SELECT committee_hash, content FROM committees ORDER BY stored_at").fetchall()]


def chain_started_at(cur: Cursor) -> datetime | None:
    """When the store was upgraded to the audit chain (schema 7); None for a store created with it."""
    row = cur.execute("SELECT min(applied_at) FROM schema_version WHERE version = 7").fetchone()
    first = cur.execute("SELECT min(applied_at) FROM schema_version").fetchone()
    if row is None or row[0] is None or first is None or first[0] is None:
        return None
    return None if (row[0] - first[0]).total_seconds() < 5 else row[0]


SELECT_CURRENT_STATUS = "SELECT status FROM proposal_status_log WHERE proposal_id = ? ORDER BY seq DESC LIMIT 1"


def link_record(cur: Cursor, *, proposal_id: str, record_id: str, actor: str | None, select_link: str,
                insert_link: str, action: str, detail_key: str) -> bool:
    """Link a stored record (a backtest report, a sweep) to a proposal, append-only, with an audit event that
    leaves the status as it is; False when the link exists already.

    Parameters
    ----------
    cur : duckdb cursor
        From :meth:`Store.transaction`.
    select_link, insert_link : str
        The link table's ``SELECT ... WHERE proposal_id = ? AND <record> = ?`` and its
        ``INSERT (proposal_id, <record>, attached_at, actor) VALUES (?, ?, ?, ?)``.
    action, detail_key : str
        The audit event's action (e.g. ``backtest_attached``) and the key naming the record in its detail.
    """
    if cur.execute(select_link, [proposal_id, record_id]).fetchone() is not None:
        return False
    now = now_utc()
    cur.execute(insert_link, [proposal_id, record_id, now, actor])
    who = actor or "riskparams"
    status = cur.execute(SELECT_CURRENT_STATUS, [proposal_id]).fetchone()
    insert_event(cur, proposal_id=proposal_id, at=now, actor={"handle": who, "name": who, "role": "system"},
                 action=action, from_status=status[0] if status else None, to_status=status[0] if status else None,
                 detail={detail_key: record_id})
    return True

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

Tables (schema migration 4)
---------------------------
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
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb

from riskparams.domain import canonical_json

__all__ = [
    "VOTE_ACTIONS",
    "children",
    "events",
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
) -> int:
    """Append one audit event; returns its ``event_id``.

    Parameters
    ----------
    cur : duckdb cursor
        From :meth:`Store.transaction`.
    actor : mapping
        ``handle``, ``name``, ``role`` and optionally ``address`` of the member acting.
    detail : mapping, optional
        Stored as canonical JSON.
    """
    row = cur.execute(
        """INSERT INTO governance_events (proposal_id, event_at, actor, actor_name, actor_role, actor_address, action,
               from_status, to_status, comment, detail)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           RETURNING event_id""",
        [proposal_id, at, str(actor["handle"]), str(actor["name"]), str(actor["role"]), actor.get("address"),
         action, from_status, to_status, comment, None if detail is None else canonical_json(dict(detail))],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _event(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "event_id": int(row[0]), "proposal_id": row[1], "at": row[2], "actor": row[3], "actor_name": row[4],
        "actor_role": row[5], "actor_address": row[6], "action": row[7], "from_status": row[8],
        "to_status": row[9], "comment": row[10], "detail": {} if row[11] is None else json.loads(row[11]),
    }


def events(cur: Cursor, proposal_id: str) -> list[dict[str, Any]]:
    """The audit events of one proposal (full id), oldest first (by ``event_id``)."""
    rows = cur.execute(
        "SELECT event_id, proposal_id, event_at, actor, actor_name, actor_role, actor_address, action, from_status, "
        "to_status, comment, detail FROM governance_events WHERE proposal_id = ? ORDER BY event_id",
        [proposal_id],
    ).fetchall()
    return [_event(r) for r in rows]


def latest_votes(cur: Cursor, proposal_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each member's latest vote event per proposal: ``{proposal_id: {handle: event}}``.

    The event's ``action`` is ``signed_off``, ``dissented`` or ``retracted`` (no vote).
    """
    if not proposal_ids:
        return {}
    rows = cur.execute(
        """SELECT event_id, proposal_id, event_at, actor, actor_name, actor_role, actor_address, action, from_status,
                  to_status, comment, detail
           FROM governance_events e
           WHERE list_contains(?, e.proposal_id)
             AND list_contains(?, e.action)
             AND e.event_id = (SELECT max(f.event_id) FROM governance_events f
                               WHERE f.proposal_id = e.proposal_id AND f.actor = e.actor
                                 AND list_contains(?, f.action))
           ORDER BY e.event_id""",
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

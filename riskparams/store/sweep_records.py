"""Sweep records: immutable, content-addressed policy sweeps and their attachments to proposals.

The only place with SQL for sweeps; every statement is parameterised (``?``), writes run in one
:meth:`Store.transaction`. Like backtest reports: a sweep's id is the SHA-256 of the canonical JSON of its
content (:meth:`riskparams.backtest.sweep.SweepReport.content`); storing the same content again returns the
first record; nothing updates or deletes (SELECT and INSERT only); :func:`get_sweep` re-checks the hash.

Tables (the schema migration after impact reports and plans)
-------------------------------------------------------------
``sweep_reports``
    ``sweep_id``, ``profile``, ``created_at`` (naive UTC), ``symbols`` (comma-separated), ``variants``
    (count), ``payload`` (canonical JSON content).
``sweep_attachments``
    ``proposal_id``, ``sweep_id``, ``attached_at`` (naive UTC), ``actor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from riskparams.exceptions import ReportNotFoundError, RiskParamsError
from riskparams.jsonio import canonical_json, content_id
from riskparams.store import governance_records as gr
from riskparams.store.core import Store, iso_z, now_utc
from riskparams.store.records import existing_matches, get_proposal, load_verified, resolve_prefix

INSERT_SWEEP = """INSERT INTO sweep_reports (sweep_id, profile, created_at, symbols, variants, payload)
    VALUES (?, ?, ?, ?, ?, ?)"""
SELECT_PAYLOAD = "SELECT payload FROM sweep_reports WHERE sweep_id = ?"
SELECT_SWEEP = "SELECT profile, created_at, payload FROM sweep_reports WHERE sweep_id = ?"
SELECT_PREFIX = "SELECT sweep_id FROM sweep_reports WHERE starts_with(sweep_id, ?) ORDER BY sweep_id LIMIT 2"
SELECT_LIST = """SELECT s.sweep_id, s.profile, s.created_at, s.symbols, s.variants,
    (SELECT count(*) FROM sweep_attachments a WHERE a.sweep_id = s.sweep_id) FROM sweep_reports s"""
INSERT_ATTACHMENT = "INSERT INTO sweep_attachments (proposal_id, sweep_id, attached_at, actor) VALUES (?, ?, ?, ?)"
SELECT_ATTACHMENT = "SELECT attached_at FROM sweep_attachments WHERE proposal_id = ? AND sweep_id = ?"
SELECT_ATTACHED = """SELECT sweep_id FROM sweep_attachments WHERE proposal_id = ?
    ORDER BY attached_at DESC, sweep_id LIMIT 1"""

STATEMENTS: tuple[str, ...] = (INSERT_SWEEP, SELECT_PAYLOAD, SELECT_SWEEP, SELECT_PREFIX, SELECT_LIST,
                               INSERT_ATTACHMENT, SELECT_ATTACHMENT, SELECT_ATTACHED)
"""Every SQL statement of this module (SELECT and INSERT only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSweep:
    """A sweep as stored: ``id`` (SHA-256 of the content), ``profile``, ``created_at`` (naive UTC, not
    content), ``content`` (JSON-safe dict) and ``is_new`` (this call stored it)."""

    id: str
    profile: str
    created_at: datetime
    content: dict[str, Any]
    is_new: bool = False

    @property
    def created_at_iso(self) -> str:
        """``created_at`` as ISO-8601 with ``Z``."""
        return str(iso_z(self.created_at))


def save_sweep(store: Store, content: Mapping[str, Any]) -> StoredSweep:
    """Store a sweep's content (one transaction) unless the same content is already stored."""
    data = dict(content)
    text = canonical_json(data)
    sid = content_id(data)
    with store.transaction() as cur:
        if existing_matches(cur, SELECT_PAYLOAD, sid, text, "sweep"):
            is_new = False
        else:
            cur.execute(INSERT_SWEEP, [sid, str(data["profile"]), now_utc(), ",".join(map(str, data.get("symbols", []))),
                                       len(data.get("variants", [])), text])
            is_new = True
    got = get_sweep(store, sid)
    return StoredSweep(id=got.id, profile=got.profile, created_at=got.created_at, content=got.content, is_new=is_new)


def get_sweep(store: Store, sweep_id: str) -> StoredSweep:
    """A stored sweep by id or unique prefix (>= 6 hex characters), its hash verified.

    Raises
    ------
    ReportNotFoundError
        No (or more than one) stored sweep matches.
    StoreError
        The stored content no longer hashes to its id.
    """
    sid = resolve_prefix(store, sweep_id, select=SELECT_PREFIX, what="sweep", error=ReportNotFoundError)
    row = store.fetchone(SELECT_SWEEP, [sid])
    assert row is not None
    return StoredSweep(id=sid, profile=str(row[0]), created_at=row[1], content=load_verified(str(row[2]), sid, "sweep"))


def list_sweeps(store: Store, *, limit: int = 100) -> list[dict[str, Any]]:
    """Newest sweeps first: ``id, profile, created_at, symbols, variants, attachments``."""
    rows = store.fetchall(SELECT_LIST + " ORDER BY s.created_at DESC, s.sweep_id LIMIT ?", [int(limit)])
    return [{"id": r[0], "profile": r[1], "created_at": iso_z(r[2]), "symbols": [s for s in str(r[3]).split(",") if s],
             "variants": int(r[4]), "attachments": int(r[5])} for r in rows]


def attach_sweep(store: Store, proposal_id: str, sweep_id: str, *, actor: str | None = None) -> bool:
    """Attach a stored sweep to a stored proposal of the same profile (append-only, audited); True when new."""
    proposal = get_proposal(store, proposal_id)
    sweep = get_sweep(store, sweep_id)
    if sweep.profile != proposal.profile:
        raise RiskParamsError(f"sweep {sweep.id[:12]} is for {sweep.profile}, proposal {proposal.id[:12]} is for "
                              f"{proposal.profile}.")
    with store.transaction() as cur:
        return gr.link_record(cur, proposal_id=proposal.id, record_id=sweep.id, actor=actor,
                              select_link=SELECT_ATTACHMENT, insert_link=INSERT_ATTACHMENT, action="sweep_attached",
                              detail_key="sweep")


def latest_attached_sweep(store: Store, proposal_id: str) -> StoredSweep | None:
    """The sweep attached last to a proposal, or None."""
    pid = get_proposal(store, proposal_id).id
    row = store.fetchone(SELECT_ATTACHED, [pid])
    return None if row is None else get_sweep(store, str(row[0]))

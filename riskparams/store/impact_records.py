"""Impact records: what a proposal's parameter sets do to a book of open positions, stored with the proposal.

With :mod:`riskparams.store.core` the only place with SQL for impact records. Every statement is parameterised
(``?``); the only SQL verbs are ``SELECT`` and ``INSERT`` (records are immutable, like backtest reports).

A record's content is the impact payload of :func:`riskparams.service.proposal_impact`
(``format``, ``proposal_id``, ``profile``, ``positions``, ``covered_moves``, ``sets``, ``notes``); its id is
the SHA-256 of the canonical JSON of the content, so storing the same impact again adds nothing. A proposal
may have several records (other books, other days); :func:`latest_impact` reads the newest, which the export
and the Book page show, typed (:class:`riskparams.impact_content.StoredImpact`; its ``to_dict()`` is the payload
with ``id`` and ``created_at``, as this module returned it before it was typed).

Table (schema migration 8)
--------------------------
``impact_reports``
    ``impact_id`` (the hash), ``proposal_id``, ``created_at`` (naive UTC), ``source`` (the positions file name or
    the demo book's label) and ``payload`` (the canonical JSON content).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riskparams.exceptions import StoreError
from riskparams.impact_content import IMPACT_FORMAT, ImpactRecordInfo, StoredImpact
from riskparams.jsonio import canonical_json, content_id
from riskparams.store.core import Store, iso_z, now_utc
from riskparams.store.records import existing_matches, get_proposal, load_verified

__all__ = ["IMPACT_FORMAT", "STATEMENTS", "latest_impact", "list_impacts", "save_impact"]

INSERT_IMPACT = """INSERT INTO impact_reports (impact_id, proposal_id, created_at, source, payload)
    VALUES (?, ?, ?, ?, ?)"""
SELECT_PAYLOAD = "SELECT payload FROM impact_reports WHERE impact_id = ?"
SELECT_LATEST = """SELECT impact_id, created_at, payload FROM impact_reports WHERE proposal_id = ?
    ORDER BY created_at DESC, impact_id LIMIT 1"""
SELECT_LIST = """SELECT impact_id, created_at, source FROM impact_reports WHERE proposal_id = ?
    ORDER BY created_at DESC, impact_id"""

STATEMENTS: tuple[str, ...] = (INSERT_IMPACT, SELECT_PAYLOAD, SELECT_LATEST, SELECT_LIST)
"""Every SQL statement of this module (SELECT and INSERT only)."""


def save_impact(store: Store, content: StoredImpact | Mapping[str, Any]) -> tuple[str, bool]:
    """Store an impact (its :meth:`~riskparams.impact_content.StoredImpact.content`, or a payload mapping) for its
    ``proposal_id`` unless the same content is stored; ``(id, is_new)``.

    Raises
    ------
    ProposalNotFoundError
        The payload's proposal is not stored.
    StoreError
        The payload has no ``proposal_id`` or another format, or a stored record with this id has other content.
    DataError
        The payload does not have the shape :class:`~riskparams.impact_content.StoredImpact` reads (nothing is
        stored then).
    """
    data = content.content() if isinstance(content, StoredImpact) else dict(content)
    if data.get("format") != IMPACT_FORMAT or not isinstance(data.get("proposal_id"), str):
        raise StoreError(f"an impact record needs format {IMPACT_FORMAT!r} and a proposal_id.")
    data = {k: v for k, v in data.items() if k not in ("id", "created_at")}
    StoredImpact.from_content(data)  # what is stored must read back (DataError otherwise, nothing stored)
    pid = get_proposal(store, data["proposal_id"]).id
    text = canonical_json(data)
    rid = content_id(data)
    source = str((data.get("positions") or {}).get("source", ""))
    with store.transaction() as cur:
        if existing_matches(cur, SELECT_PAYLOAD, rid, text, "impact"):
            return rid, False
        cur.execute(INSERT_IMPACT, [rid, pid, now_utc(), source, text])
    return rid, True


def latest_impact(store: Store, proposal_id: str) -> StoredImpact | None:
    """The newest impact stored for a proposal (hash verified), typed, with its ``id`` and ``created_at``, or
    None when there is none.

    Raises
    ------
    ProposalNotFoundError
        No such proposal.
    DataError
        The stored content does not have the shape this riskparams reads (one sentence naming where).
    """
    pid = get_proposal(store, proposal_id).id
    row = store.fetchone(SELECT_LATEST, [pid])
    if row is None:
        return None
    content = load_verified(str(row[2]), str(row[0]), "impact")
    return StoredImpact.from_content(content, id=str(row[0]), created_at=iso_z(row[1]))


def list_impacts(store: Store, proposal_id: str) -> list[ImpactRecordInfo]:
    """Impact records of a proposal, newest first (``id, created_at, source``, without their content)."""
    pid = get_proposal(store, proposal_id).id
    return [ImpactRecordInfo(id=str(r[0]), created_at=iso_z(r[1]) or "", source=str(r[2]))
            for r in store.fetchall(SELECT_LIST, [pid])]

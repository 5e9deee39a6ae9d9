"""Backtest records: immutable, content-addressed reports and their attachments to proposals.

With :mod:`riskparams.store.core` the only place with SQL for backtest reports. Every statement is
parameterised (``?``) and runs through :meth:`Store.transaction` (writes) or :meth:`Store.cursor`
(reads).

Immutability and append-only attachments
----------------------------------------
A report's id is the SHA-256 of the canonical JSON of its content
(:meth:`riskparams.backtest.BacktestReport.content`; the creation time is not content). Storing the
same content again returns the first record (same id, same ``created_at``) and adds no row; nothing
here updates or deletes (the only SQL verbs are ``SELECT`` and ``INSERT``; a test reads this module's
statements and fails on any other). :func:`get_report` recomputes the hash of the stored text and
refuses a record that no longer matches its id. An attachment links a report to a proposal (of the
same profile) with the time and who attached it; attaching the same pair again adds nothing.

Tables (schema migration 6)
---------------------------
``backtest_reports``
    ``report_id`` (the hash), ``profile``, ``created_at`` (naive UTC), ``start_ts`` / ``end_ts`` (the
    period), ``symbols`` (comma-separated), ``policy_key``, ``riskparams_version``, ``spec`` and
    ``policy`` (JSON copies of parts of the content) and ``payload`` (the canonical JSON content).
``backtest_attachments``
    ``proposal_id``, ``report_id``, ``attached_at`` (naive UTC), ``actor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from riskparams.backtest_content import StoredBacktest
from riskparams.exceptions import ReportNotFoundError, RiskParamsError
from riskparams.jsonio import canonical_json, content_id
from riskparams.store import governance_records as gr
from riskparams.store.core import Store, iso_z, naive_utc, now_utc
from riskparams.store.records import existing_matches, get_proposal, load_verified, resolve_prefix

__all__ = [
    "ReportNotFoundError",
    "StoredReport",
    "attach_report",
    "attachments",
    "get_report",
    "latest_attached",
    "list_reports",
    "save_report",
]

INSERT_REPORT = """INSERT INTO backtest_reports (report_id, profile, created_at, start_ts, end_ts, symbols, policy_key,
    riskparams_version, spec, policy, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
SELECT_PAYLOAD = "SELECT payload FROM backtest_reports WHERE report_id = ?"
SELECT_REPORT = "SELECT profile, created_at, payload FROM backtest_reports WHERE report_id = ?"
SELECT_PREFIX = ("SELECT report_id FROM backtest_reports WHERE starts_with(report_id, ?) ORDER BY report_id LIMIT 2")
SELECT_LIST = """SELECT r.report_id, r.profile, r.created_at, r.start_ts, r.end_ts, r.symbols, r.policy_key,
    r.riskparams_version, (SELECT count(*) FROM backtest_attachments a WHERE a.report_id = r.report_id)
    FROM backtest_reports r"""
INSERT_ATTACHMENT = """INSERT INTO backtest_attachments (proposal_id, report_id, attached_at, actor)
    VALUES (?, ?, ?, ?)"""
SELECT_ATTACHMENT = "SELECT attached_at FROM backtest_attachments WHERE proposal_id = ? AND report_id = ?"
SELECT_ATTACHMENTS = """SELECT a.report_id, a.attached_at, a.actor, r.created_at, r.start_ts, r.end_ts, r.symbols
    FROM backtest_attachments a JOIN backtest_reports r USING (report_id)
    WHERE a.proposal_id = ? ORDER BY a.attached_at DESC, a.report_id"""

STATEMENTS: tuple[str, ...] = (INSERT_REPORT, SELECT_PAYLOAD, SELECT_REPORT, SELECT_PREFIX, SELECT_LIST,
                               INSERT_ATTACHMENT, SELECT_ATTACHMENT, SELECT_ATTACHMENTS)
"""Every SQL statement of this module (checked by the tests: SELECT and INSERT only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredReport:
    """A backtest report as stored.

    Attributes
    ----------
    id : str
        SHA-256 (hex) of the canonical content.
    profile : str
    created_at : datetime
        When it was first stored (naive UTC); not part of the id.
    content : dict
        The content (:meth:`riskparams.backtest.BacktestReport.content`) as JSON-safe dicts; :attr:`backtest`
        reads it typed.
    is_new : bool
        True when this call stored it.
    """

    id: str
    profile: str
    created_at: datetime
    content: dict[str, Any]
    is_new: bool = False

    @property
    def created_at_iso(self) -> str:
        """``created_at`` as ISO-8601 with ``Z``."""
        return str(iso_z(self.created_at))

    @property
    def backtest(self) -> StoredBacktest:
        """The content, typed and read-only (:meth:`StoredBacktest.from_content`; the hash was checked when the
        record was read).

        Raises
        ------
        ValueError
            The content is of another format version (e.g. written by a newer riskparams; the message names it).
        """
        return StoredBacktest.from_content(self.content, check_hash=False)

    def export_payload(self) -> dict[str, Any]:
        """The summary that exports embed (:func:`riskparams.export.validate_backtest`): ``id, created_at,
        start, end, profile, results`` (no per-bar paths)."""
        b = self.backtest
        return {"id": self.id, "created_at": self.created_at_iso, "start": b.start, "end": b.end,
                "profile": b.profile, "results": [r.to_dict() for r in b.results]}


def save_report(store: Store, content: Mapping[str, Any]) -> StoredReport:
    """Store a report's content unless the same content is already stored.

    Parameters
    ----------
    store : Store
    content : mapping
        :meth:`riskparams.backtest.BacktestReport.content` (JSON-safe, with ``profile``, ``start``,
        ``end``, ``spec``, ``policy`` and ``provenance``).

    Returns
    -------
    StoredReport
        ``is_new`` tells whether a row was written.

    Raises
    ------
    StoreError
        A stored record with this id has different content (the store was altered).
    """
    data = dict(content)
    text = canonical_json(data)
    rid = content_id(data)
    with store.transaction() as cur:
        if existing_matches(cur, SELECT_PAYLOAD, rid, text, "backtest"):
            is_new = False
        else:
            policy = data.get("policy", {})
            versions = data.get("provenance", {}).get("packages", {})
            symbols = ",".join(str(a.get("symbol")) for a in data.get("assets", []))
            cur.execute(INSERT_REPORT, [
                rid, str(data["profile"]), now_utc(), naive_utc(data.get("start")), naive_utc(data.get("end")), symbols,
                str(policy.get("policy_key", "")), str(versions.get("riskparams", "")),
                canonical_json(data.get("spec", {})), canonical_json(policy), text,
            ])
            is_new = True
    stored = get_report(store, rid)
    return StoredReport(id=stored.id, profile=stored.profile, created_at=stored.created_at, content=stored.content,
                        is_new=is_new)


def _resolve_id(store: Store, report_id: str) -> str:
    return resolve_prefix(store, report_id, select=SELECT_PREFIX, what="backtest report", error=ReportNotFoundError)


def get_report(store: Store, report_id: str) -> StoredReport:
    """A stored report by id or unique id prefix (>= 6 hex characters), its hash verified.

    Raises
    ------
    ReportNotFoundError
        No (or more than one) stored report matches.
    StoreError
        The stored content no longer hashes to its id.
    """
    rid = _resolve_id(store, report_id)
    row = store.fetchone(SELECT_REPORT, [rid])
    assert row is not None
    content = load_verified(str(row[2]), rid, "backtest")
    return StoredReport(id=rid, profile=str(row[0]), created_at=row[1], content=content)


def list_reports(store: Store, *, profile: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest stored reports first: ``id, profile, created_at, start, end, symbols, policy_key,
    riskparams_version, attachments`` (timestamps ISO-8601 with ``Z``)."""
    sql = SELECT_LIST
    params: list[Any] = []
    if profile is not None:
        sql += " WHERE r.profile = ?"
        params.append(profile)
    sql += " ORDER BY r.created_at DESC, r.report_id LIMIT ?"
    params.append(int(limit))
    return [
        {"id": r[0], "profile": r[1], "created_at": iso_z(r[2]), "start": iso_z(r[3]), "end": iso_z(r[4]),
         "symbols": [s for s in str(r[5]).split(",") if s], "policy_key": r[6], "riskparams_version": r[7],
         "attachments": int(r[8])}
        for r in store.fetchall(sql, params)
    ]


def attach_report(store: Store, proposal_id: str, report_id: str, *, actor: str | None = None) -> bool:
    """Attach a stored report to a stored proposal (append-only); returns True when a link was added.

    Raises
    ------
    ProposalNotFoundError, ReportNotFoundError
        Unknown ids.
    RiskParamsError
        The report is for the other profile.
    """
    proposal = get_proposal(store, proposal_id)
    report = get_report(store, report_id)
    if report.profile != proposal.profile:
        raise RiskParamsError(f"backtest {report.id[:12]} is for {report.profile}, proposal {proposal.id[:12]} is for "
                              f"{proposal.profile}.")
    with store.transaction() as cur:
        return gr.link_record(cur, proposal_id=proposal.id, record_id=report.id, actor=actor,
                              select_link=SELECT_ATTACHMENT, insert_link=INSERT_ATTACHMENT,
                              action="backtest_attached", detail_key="report")


def attachments(store: Store, proposal_id: str) -> list[dict[str, Any]]:
    """Reports attached to a proposal, newest attachment first: ``report_id, attached_at, actor, created_at,
    start, end, symbols``."""
    pid = get_proposal(store, proposal_id).id
    return [
        {"report_id": r[0], "attached_at": iso_z(r[1]), "actor": r[2], "created_at": iso_z(r[3]), "start": iso_z(r[4]),
         "end": iso_z(r[5]), "symbols": [s for s in str(r[6]).split(",") if s]}
        for r in store.fetchall(SELECT_ATTACHMENTS, [pid])
    ]


def latest_attached(store: Store, proposal_id: str) -> StoredReport:
    """The report attached last to a proposal.

    Raises
    ------
    ReportNotFoundError
        Nothing is attached to it.
    """
    found = attachments(store, proposal_id)
    if not found:
        raise ReportNotFoundError(f"no backtest is attached to proposal {str(proposal_id)[:12]}; attach one with "
                                  "`riskparams backtest --attach ID`.")
    return get_report(store, str(found[0]["report_id"]))

"""Plan records: phased execution plans of proposals and the revisions that carry their steps.

With :mod:`riskparams.store.core` the only place with SQL for plans. Every statement is parameterised
(``?``); the only SQL verbs are ``SELECT`` and ``INSERT`` (records are immutable, like backtest reports).

A record's content is :meth:`riskparams.plan.Plan.to_dict` (``format``, ``proposal_id``, ``max_step``,
``min_days``, ``steps``, ...); its id is the SHA-256 of the canonical JSON of the content, so storing the same
plan again adds nothing. A proposal may have several plans (other limits, other start dates);
:func:`latest_plan` reads the newest, which the Governance page and the exports show.

Tables (schema migration 9)
---------------------------
``plans``
    ``plan_id`` (the hash), ``proposal_id``, ``created_at`` (naive UTC), ``actor`` and ``payload`` (the
    canonical JSON content).
``plan_revisions``
    ``plan_id``, ``step`` (1-based), ``revision_id`` (the stored revision carrying that step's parameters),
    ``created_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riskparams.exceptions import StoreError
from riskparams.jsonio import canonical_json, content_id
from riskparams.store.core import Store, iso_z, now_utc
from riskparams.store.records import existing_matches, get_proposal, load_verified

__all__ = ["STATEMENTS", "get_plan", "latest_plan", "link_step", "list_plans", "save_plan", "step_revisions"]

INSERT_PLAN = "INSERT INTO plans (plan_id, proposal_id, created_at, actor, payload) VALUES (?, ?, ?, ?, ?)"
SELECT_PAYLOAD = "SELECT payload FROM plans WHERE plan_id = ?"
SELECT_PLAN = "SELECT plan_id, created_at, payload FROM plans WHERE plan_id = ?"
SELECT_PREFIX = "SELECT plan_id FROM plans WHERE starts_with(plan_id, ?) ORDER BY plan_id LIMIT 2"
SELECT_LATEST = """SELECT plan_id, created_at, payload FROM plans WHERE proposal_id = ?
    ORDER BY created_at DESC, plan_id LIMIT 1"""
SELECT_LIST = "SELECT plan_id, created_at, actor FROM plans WHERE proposal_id = ? ORDER BY created_at DESC, plan_id"
INSERT_STEP = "INSERT INTO plan_revisions (plan_id, step, revision_id, created_at) VALUES (?, ?, ?, ?)"
SELECT_STEPS = "SELECT step, revision_id FROM plan_revisions WHERE plan_id = ? ORDER BY step"
SELECT_STEP = "SELECT revision_id FROM plan_revisions WHERE plan_id = ? AND step = ?"

STATEMENTS: tuple[str, ...] = (INSERT_PLAN, SELECT_PAYLOAD, SELECT_PLAN, SELECT_PREFIX, SELECT_LATEST, SELECT_LIST,
                               INSERT_STEP, SELECT_STEPS, SELECT_STEP)
"""Every SQL statement of this module (SELECT and INSERT only)."""


def save_plan(store: Store, content: Mapping[str, Any], *, actor: str | None = None) -> tuple[str, bool]:
    """Store a plan for its ``proposal_id`` unless the same content is stored; ``(id, is_new)``.

    Raises
    ------
    ProposalNotFoundError
        The plan's proposal is not stored.
    StoreError
        The content has no ``proposal_id``, or a stored record with this id has other content.
    """
    data = dict(content)
    if not isinstance(data.get("proposal_id"), str):
        raise StoreError("a plan record needs a proposal_id.")
    pid = get_proposal(store, data["proposal_id"]).id
    text = canonical_json(data)
    rid = content_id(data)
    with store.transaction() as cur:
        if existing_matches(cur, SELECT_PAYLOAD, rid, text, "plan"):
            return rid, False
        cur.execute(INSERT_PLAN, [rid, pid, now_utc(), actor, text])
    return rid, True


def _with_id(row: Any) -> dict[str, Any]:
    content = load_verified(str(row[2]), str(row[0]), "plan")
    return {**content, "id": str(row[0]), "created_at": iso_z(row[1])}


def get_plan(store: Store, plan_id: str) -> dict[str, Any]:
    """A stored plan by id or unique prefix (>= 6 characters), hash verified, with ``id`` and ``created_at``.

    Raises
    ------
    StoreError
        No plan, or more than one, matches; or the stored text no longer hashes to its id.
    """
    ref = str(plan_id).strip().lower()
    rows = store.fetchall(SELECT_PREFIX, [ref]) if len(ref) >= 6 else []
    if len(rows) != 1:
        what = "no stored plan" if not rows else "more than one stored plan"
        raise StoreError(f"{what} has an id starting with {plan_id!r}; give at least 6 characters of a plan id.")
    row = store.fetchone(SELECT_PLAN, [rows[0][0]])
    assert row is not None
    return _with_id(row)


def latest_plan(store: Store, proposal_id: str) -> dict[str, Any] | None:
    """The newest plan stored for a proposal (hash verified) with ``id`` and ``created_at``, or None."""
    pid = get_proposal(store, proposal_id).id
    row = store.fetchone(SELECT_LATEST, [pid])
    return None if row is None else _with_id(row)


def list_plans(store: Store, proposal_id: str) -> list[dict[str, Any]]:
    """Plans of a proposal, newest first: ``id, created_at, actor``."""
    pid = get_proposal(store, proposal_id).id
    return [{"id": r[0], "created_at": iso_z(r[1]), "actor": r[2]} for r in store.fetchall(SELECT_LIST, [pid])]


def step_revisions(store: Store, plan_id: str) -> dict[int, str]:
    """The revisions created for a plan's steps: ``{step: revision_id}``."""
    return {int(r[0]): str(r[1]) for r in store.fetchall(SELECT_STEPS, [plan_id])}


def link_step(store: Store, plan_id: str, step: int, revision_id: str) -> None:
    """Record that ``revision_id`` carries step ``step`` of plan ``plan_id`` (append-only).

    Raises
    ------
    StoreError
        The step already has a revision.
    """
    with store.transaction() as cur:
        if cur.execute(SELECT_STEP, [plan_id, int(step)]).fetchone() is not None:
            raise StoreError(f"step {step} of plan {plan_id[:12]} already has a revision.")
        cur.execute(INSERT_STEP, [plan_id, int(step), revision_id, now_utc()])

"""Plan records: phased execution plans of proposals and the revisions that carry their steps.

With :mod:`riskparams.store.core` the only place with SQL for plans. Every statement is parameterised
(``?``); the only SQL verbs are ``SELECT`` and ``INSERT`` (records are immutable, like backtest reports).

A record's content is :meth:`riskparams.plan.Plan.to_dict` (``format``, ``proposal_id``, ``max_step``,
``min_days``, ``steps``, ...); its id is the SHA-256 of the canonical JSON of the content, so storing the same
plan again adds nothing. A proposal may have several plans (other limits, other start dates);
:func:`latest_plan` reads the newest, which the Governance page and the exports show.

Readers return typed records (issue 15): :class:`StoredPlan` (the hash-verified content read back as a
:class:`~riskparams.plan.Plan` with :meth:`~riskparams.plan.Plan.from_content`, plus ``id`` and
``created_at``) and :class:`PlanSummary`. ``StoredPlan.to_dict()`` is the dictionary these readers returned
before (the content with its keys sorted as stored, then ``id`` and ``created_at``), so ``riskparams plan
--json`` and the exports print the same bytes.

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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from riskparams.exceptions import DataError, StoreError
from riskparams.jsonio import canonical_json, content_id, parse_time
from riskparams.plan import Plan, PlanSpec, PlanStep
from riskparams.store.core import Store, iso_z, now_utc
from riskparams.store.records import existing_matches, get_proposal, load_verified

__all__ = ["STATEMENTS", "PlanSummary", "StoredPlan", "get_plan", "latest_plan", "link_step", "list_plans",
           "save_plan", "step_revisions"]

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

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _sorted_keys(value: Any) -> Any:
    """``value`` with every mapping's keys in sorted order, recursively: the order of a record read back from
    its canonical JSON (sorted keys), which the CLI's ``--json`` and the Markdown export iterate."""
    if isinstance(value, Mapping):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def _naive_utc(t: Any, what: str) -> datetime:
    if not isinstance(t, datetime):
        raise DataError(f"{what} must be a datetime (UTC), got {str(t)[:40]!r}.")
    return t if t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredPlan:
    """An execution plan as stored, typed and read-only.

    Attributes
    ----------
    id : str
        SHA-256 (hex, 64 lower-case characters) of the canonical JSON of the content (:meth:`content`); checked
        by :meth:`from_content` and :meth:`from_row`, not by the constructor.
    created_at : datetime
        When it was first stored (naive UTC; an aware time is converted); not part of the id.
    plan : Plan
        The content, typed (:meth:`riskparams.plan.Plan.from_content`).

    Examples
    --------
    >>> from datetime import date, datetime
    >>> from riskparams.plan import ParamChange, Plan, PlanSpec, PlanStep
    >>> step = PlanStep(number=1, date="2026-01-05", changes=(ParamChange(key="BTC:mmf:1", old=0.01, new=0.0125),),
    ...                 values={"BTC:mmf:1": 0.0125}, coverage={"BTC": 0.99}, avg_margin={"BTC": 0.0125})
    >>> plan = Plan(proposal_id="b2" * 32, profile="perp", spec=PlanSpec(max_step=0.25, min_days=3,
    ...             start=date(2026, 1, 5)), steps=(step,), initial={"BTC:mmf:1": 0.01}, target={"BTC:mmf:1": 0.0125},
    ...             steps_per_asset={"BTC": 1})
    >>> stored = StoredPlan.from_content(plan.to_dict(), id=plan.id, created_at=datetime(2026, 1, 1, 12))
    >>> stored.steps[0].changes[0].new, stored.to_dict()["created_at"], list(stored.to_dict())[:3]
    (0.0125, '2026-01-01T12:00:00Z', ['budget', 'format', 'initial'])
    >>> StoredPlan.from_content({**plan.to_dict(), "steps": []}, id=plan.id, created_at=datetime(2026, 1, 1))
    Traceback (most recent call last):
    ...
    riskparams.exceptions.DataError: stored plan ... cannot be read: the stored plan content does not have this riskparams' shape ('steps' is empty); it was written by another version of riskparams.
    """

    id: str
    created_at: datetime
    plan: Plan

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or _HEX64.fullmatch(self.id) is None:
            raise DataError(f"a stored plan's id must be 64 lower-case hex characters, got {str(self.id)[:70]!r}.")
        object.__setattr__(self, "created_at", _naive_utc(self.created_at, f"created_at of plan {self.id[:12]}"))
        if not isinstance(self.plan, Plan):
            raise DataError(f"plan {self.id[:12]} must hold a riskparams.plan.Plan, got {type(self.plan).__name__}.")

    @property
    def proposal_id(self) -> str:
        """The planned proposal's id."""
        return self.plan.proposal_id

    @property
    def spec(self) -> PlanSpec:
        """The steward limits and start date."""
        return self.plan.spec

    @property
    def steps(self) -> tuple[PlanStep, ...]:
        """The dated steps (at least one; the last sets the target)."""
        return self.plan.steps

    @property
    def notes(self) -> tuple[str, ...]:
        """The plan's remarks."""
        return self.plan.notes

    @property
    def created_at_iso(self) -> str:
        """``created_at`` as ISO-8601 with ``Z``."""
        return str(iso_z(self.created_at))

    def content(self) -> dict[str, Any]:
        """The stored content (:meth:`riskparams.plan.Plan.to_dict`); its content id is :attr:`id` for a
        record read from the store."""
        return self.plan.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The content with its keys sorted (as read back from the stored canonical JSON), then ``id`` and
        ``created_at`` (ISO-8601 with ``Z``): the dictionary the plan readers returned before they were typed."""
        return {**_sorted_keys(self.plan.to_dict()), "id": self.id, "created_at": self.created_at_iso}

    @classmethod
    def from_content(cls, content: Mapping[str, Any], *, id: str, created_at: datetime) -> StoredPlan:
        """A stored plan from its content (:meth:`riskparams.plan.Plan.to_dict`), id and storage time.

        Raises
        ------
        DataError
            The content is of another format (the message names the version), does not have this riskparams'
            shape, does not rebuild to the same hash, or does not hash to ``id``; one sentence naming the plan.
        """
        ref = str(id)[:12]
        try:
            plan = Plan.from_content(content)
        except ValueError as exc:
            raise DataError(f"stored plan {ref} cannot be read: {exc}") from None
        if plan.id != id:
            raise DataError(f"stored plan {ref} cannot be read: its content hashes to {plan.id[:12]}, not to its id.")
        return cls(id=id, created_at=created_at, plan=plan)

    @classmethod
    def from_row(cls, row: Any) -> StoredPlan:
        """A stored plan from a ``plans`` row ``(plan_id, created_at, payload)``, the payload's hash verified.

        Raises
        ------
        StoreError
            The stored text no longer hashes to its id (the store was altered).
        DataError
            As :meth:`from_content`.
        """
        rid = str(row[0])
        return cls.from_content(load_verified(str(row[2]), rid, "plan"), id=rid, created_at=row[1])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredPlan:
        """The inverse of :meth:`to_dict` (a plan as ``riskparams plan --json`` prints it, under ``"plan"``).

        Raises
        ------
        DataError
            Not an object, no ``id`` or ``created_at`` (ISO-8601), or content refused as :meth:`from_content`.
        """
        if not isinstance(data, Mapping):
            raise DataError(f"a stored plan must be a JSON object, got {type(data).__name__}.")
        rid, at = data.get("id"), data.get("created_at")
        if not isinstance(rid, str) or not isinstance(at, str):
            raise DataError("a stored plan needs its 'id' and 'created_at' (ISO-8601) beside its content.")
        try:
            when = parse_time(at)
        except ValueError:
            raise DataError(f"plan {rid[:12]}: created_at {at[:40]!r} is not an ISO-8601 time.") from None
        content = {k: v for k, v in data.items() if k not in ("id", "created_at", "revisions")}
        return cls.from_content(content, id=rid, created_at=when)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSummary:
    """One line of :func:`list_plans`: ``id``, ``created_at`` (naive UTC) and ``actor`` (who made it, or None)."""

    id: str
    created_at: datetime
    actor: str | None

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "created_at" (ISO-8601 with Z), "actor"}``."""
        return {"id": self.id, "created_at": iso_z(self.created_at), "actor": self.actor}


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


def get_plan(store: Store, plan_id: str) -> StoredPlan:
    """A stored plan by id or unique prefix (>= 6 characters), hash verified, typed.

    Raises
    ------
    StoreError
        No plan, or more than one, matches; or the stored text no longer hashes to its id.
    DataError
        The stored content cannot be read by this riskparams (another format version, another shape).
    """
    ref = str(plan_id).strip().lower()
    rows = store.fetchall(SELECT_PREFIX, [ref]) if len(ref) >= 6 else []
    if len(rows) != 1:
        what = "no stored plan" if not rows else "more than one stored plan"
        raise StoreError(f"{what} has an id starting with {plan_id!r}; give at least 6 characters of a plan id.")
    row = store.fetchone(SELECT_PLAN, [rows[0][0]])
    assert row is not None
    return StoredPlan.from_row(row)


def latest_plan(store: Store, proposal_id: str) -> StoredPlan | None:
    """The newest plan stored for a proposal (hash verified, typed), or None.

    Raises
    ------
    DataError
        The stored content cannot be read by this riskparams.
    """
    pid = get_proposal(store, proposal_id).id
    row = store.fetchone(SELECT_LATEST, [pid])
    return None if row is None else StoredPlan.from_row(row)


def list_plans(store: Store, proposal_id: str) -> list[PlanSummary]:
    """Plans of a proposal, newest first."""
    pid = get_proposal(store, proposal_id).id
    return [PlanSummary(id=str(r[0]), created_at=r[1], actor=None if r[2] is None else str(r[2]))
            for r in store.fetchall(SELECT_LIST, [pid])]


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

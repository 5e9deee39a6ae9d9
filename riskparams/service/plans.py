"""Execution plans of a proposal and their revisions through the workflow (issue 13).

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from riskparams.store import Store
from riskparams.store.records import get_proposal

if TYPE_CHECKING:
    from riskparams.plan import Plan
    from riskparams.store.plan_records import StoredPlan


def _plan_start(start: Any) -> Any:
    from datetime import UTC
    from datetime import date as _date

    from riskparams.exceptions import SpecError

    if start is None:
        return datetime.now(UTC).date()
    if isinstance(start, _date):
        return start
    try:
        return _date.fromisoformat(str(start).strip()[:10])
    except ValueError:
        raise SpecError(f"start {str(start)[:40]!r} must be a date as YYYY-MM-DD.") from None


@overload
def plan_proposal(store: Store, proposal_id: str, *, max_step: float, min_days: int, budget: int | None = None,
                  start: Any = None, save: Literal[True] = True, actor: str | None = None) -> StoredPlan: ...


@overload
def plan_proposal(store: Store, proposal_id: str, *, max_step: float, min_days: int, budget: int | None = None,
                  start: Any = None, save: Literal[False], actor: str | None = None) -> Plan: ...


def plan_proposal(store: Store, proposal_id: str, *, max_step: float, min_days: int, budget: int | None = None,
                  start: Any = None, save: bool = True, actor: str | None = None) -> StoredPlan | Plan:
    """A phased execution plan of a stored proposal (:func:`riskparams.plan.make_plan`), stored with it.

    Parameters
    ----------
    max_step : float
        Largest relative change per step (0.25 = 25%).
    min_days : int
        Days between steps.
    budget : int, optional
        Most steps allowed (an error when the target needs more).
    start : date or str, optional
        Date of step 1 (``YYYY-MM-DD``); default today (UTC).
    save : bool
        Store the plan (the Governance page and the exports show the newest plan of a proposal).
    actor : str, optional
        Who made it (recorded with the plan).

    Returns
    -------
    StoredPlan or Plan
        The stored plan, typed (:class:`riskparams.store.plan_records.StoredPlan`: ``id``, ``created_at``,
        ``plan``; ``to_dict()`` is the dictionary ``riskparams plan --json`` prints); with ``save=False`` the
        :class:`riskparams.plan.Plan` alone. When the committee approved a named option, the plan ends at that
        option's parameters.

    Raises
    ------
    SpecError
        Bad limits or start date, a target out of the budget's reach, nothing to phase.
    ProposalNotFoundError
        Unknown id.
    """
    from riskparams.governance import workflow
    from riskparams.plan import PlanSpec, make_plan
    from riskparams.store.plan_records import get_plan, save_plan

    stored = get_proposal(store, proposal_id)
    spec = PlanSpec(max_step=max_step, min_days=min_days, budget=budget, start=_plan_start(start))
    decision = workflow(store, stored.id).to_dict().get("decision") or {}  # the approved option is the target
    option = (decision.get("detail") or {}).get("option") if decision.get("action") == "approved" else None
    plan = make_plan(stored.content, proposal_id=stored.id, spec=spec, option=None if option is None else str(option))
    if not save:
        return plan
    plan_id, _ = save_plan(store, plan.to_dict(), actor=actor)
    return get_plan(store, plan_id)


def latest_plan(store: Store, proposal_id: str) -> StoredPlan | None:
    """The newest stored plan of a proposal, typed (:class:`riskparams.store.plan_records.StoredPlan`), or None.

    Raises
    ------
    ProposalNotFoundError
        Unknown id.
    DataError
        The stored plan cannot be read by this riskparams (another format version).
    """
    from riskparams.store.plan_records import latest_plan as _latest

    return _latest(store, proposal_id)


def _step_overrides(content: Mapping[str, Any], values: Mapping[str, Any]) -> list[Any]:
    """Overrides moving a proposal's proposed values to a plan step's ``values`` (keys ``SYMBOL:param[:tier]``,
    tiers 1-based); the IMF follows max leverage."""
    from riskparams.governance import Override

    proposed = {(a["symbol"], ln["parameter"], ln["tier"]): float(ln["proposed"])
                for a in content["assets"] for ln in a["lines"]}
    out = []
    for key, value in values.items():
        parts = str(key).split(":")
        sym, param = parts[0], parts[1]
        tier = int(parts[2]) - 1 if len(parts) > 2 else None
        if param == "imf" or value is None or value != value:  # a value stored as null is read as NaN
            continue
        old = proposed.get((sym, param, tier))
        if old is None or abs(float(value) - old) > 1e-12:
            out.append(Override(symbol=sym, parameter=param, tier=tier, value=float(value)))
    return out


def create_plan_revisions(store: Store, plan_id: str, who: Any, *, committee: Any = None) -> dict[str, Any]:
    """Carry a stored plan's steps through the workflow as linked revisions, one step at a time.

    Step 1 becomes a revision (a draft, :func:`riskparams.governance.revise`) of the plan's approved proposal
    holding step 1's values; step ``s`` a revision of step ``s - 1``'s revision once that one is approved (or
    exported, or superseded by a later approval). The governance rules allow one open revision per parent and
    supersede an open parent that is revised, so each step is voted before the next one is created, as
    stewards execute bounded updates one at a time. Calling again after a vote creates the next step.

    Returns
    -------
    dict
        ``plan_id``, ``created`` (``[{"step", "revision_id"}]``, empty when nothing could be created now),
        ``steps`` (``[{"step", "date", "revision_id", "status"}]``: every step, ``revision_id`` None where not
        created yet) and ``waiting`` (a sentence saying what the next step waits for, or None when done).

    Raises
    ------
    GovernanceError
        The plan's proposal is not approved, a step's revision was rejected or withdrawn, or the member may not
        override.
    """
    from riskparams.exceptions import GovernanceError
    from riskparams.governance import revise, workflow
    from riskparams.store.plan_records import get_plan, link_step, step_revisions

    plan = get_plan(store, plan_id)
    pid = plan.proposal_id
    base = workflow(store, pid, committee=committee)
    if base.status not in ("approved", "exported", "superseded"):
        raise GovernanceError(f"plan revisions start from an approved proposal; proposal {pid[:12]} is "
                              f"{base.status}.")
    steps = plan.steps
    n = len(steps)
    links = step_revisions(store, plan.id)
    parent, created, waiting = pid, [], None
    for s, step in enumerate(steps, start=1):
        rid = links.get(s)
        if rid is not None:
            status = workflow(store, rid, committee=committee).status
            if status in ("approved", "exported", "superseded"):
                parent = rid
                continue
            if status in ("rejected", "withdrawn"):
                raise GovernanceError(f"step {s}'s revision {rid[:12]} was {status}; make a new plan.")
            waiting = f"step {s}'s revision {rid[:12]} is {status}: it must be approved before step {s + 1} is created."
            if s == n:
                waiting = f"step {s}'s revision {rid[:12]} (the target) is {status}: approve it to finish the plan."
            break
        overrides = _step_overrides(get_proposal(store, parent).content, step.values)
        if not overrides:  # nothing to change against the parent (cannot happen for a plan's step)
            raise GovernanceError(f"step {s} of plan {plan.id[:12]} changes nothing against {parent[:12]}.")
        r = plan.spec.max_step
        just = (f"Execution plan {plan.id[:12]}, step {s} of {n} (on {step.date}): every parameter moves by at "
                f"most a relative {r:.4g} per step, steps at least {plan.spec.min_days} days apart, toward proposal "
                f"{pid[:12]}.")
        rev = revise(store, parent, who, overrides, justification=just, committee=committee)
        link_step(store, plan.id, s, rev.id)
        created.append({"step": s, "revision_id": rev.id})
        waiting = f"step {s}'s revision {rev.id[:12]} is draft: it must be approved before the next step."
        break
    links = step_revisions(store, plan.id)
    rows = [{"step": s, "date": st.date, "revision_id": links.get(s),
             "status": None if links.get(s) is None else workflow(store, links[s], committee=committee).status}
            for s, st in enumerate(steps, start=1)]
    return {"plan_id": plan.id, "created": created, "steps": rows, "waiting": waiting}

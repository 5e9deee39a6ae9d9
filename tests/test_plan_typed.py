"""Typed stored plans (issue 15, "typed results end to end"): :meth:`riskparams.plan.Plan.from_content`,
:class:`riskparams.store.plan_records.StoredPlan` and the callers that read them.

What is proved here:

* the round trip content -> typed -> content is exact (same canonical JSON, same content id) for plans made by
  :func:`riskparams.plan.make_plan` (perp and lending) and for a hand-written plan;
* ``StoredPlan.to_dict()`` is the dictionary the plan readers returned before they were typed (the stored
  canonical JSON read back, then ``id`` and ``created_at``), key order included;
* hostile or foreign stored content is refused in one sentence (``ValueError`` from ``Plan.from_content``,
  ``DataError`` from the store readers, exit code 2 from the command line, the store unchanged);
* ``riskparams plan --json`` prints the old dictionary byte for byte, and the Markdown export's "Execution plan"
  section and the JSON bundle's ``plan`` are those of the code before the change (literal below).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_fails, run_cli, store_snapshot

from riskparams.exceptions import DataError, ExportError
from riskparams.governance import COMMITTEE_ENV_VAR, MEMBER_ENV_VAR
from riskparams.jsonio import canonical_json, content_id, iso_z, pretty_json
from riskparams.plan import Plan, PlanSpec, make_plan, plan_rows
from riskparams.store import Store
from riskparams.store.plan_records import (
    SELECT_PLAN,
    PlanSummary,
    StoredPlan,
    get_plan,
    latest_plan,
    list_plans,
    save_plan,
)
from riskparams.store.records import get_proposal, save_proposal

START = date(2026, 1, 5)


def _one_sentence(message: str) -> None:
    assert "\n" not in message and message.endswith(".") and len(message) < 400, message


def _old_dict(s: Store, plan_id: str) -> dict[str, Any]:
    """The dictionary ``get_plan`` returned before it was typed, rebuilt from the stored row exactly as that code
    did: ``{**json.loads(payload), "id": plan_id, "created_at": iso_z(created_at)}``."""
    row = s.fetchone(SELECT_PLAN, [plan_id])
    assert row is not None
    return {**json.loads(row[2]), "id": str(row[0]), "created_at": iso_z(row[1])}


def _ordered(value: Any) -> Any:
    """A value with its key order made visible (nested lists of pairs), to compare orders too."""
    if isinstance(value, dict):
        return [(k, _ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def _hand_plan(pid: str) -> dict[str, Any]:
    """A plan's content written by hand: keys out of order, a missing current value and coverage (null), a
    note with Markdown and HTML characters."""
    values = {"BTC-SYN:mmf:1": 0.0125, "BTC-SYN:max_leverage:1": 40.0, "BTC-SYN:imf:1": 0.025,
              "ETH-SYN:liquidation_penalty:1": 0.005}
    return {
        "format": "riskparams-plan-v1", "proposal_id": pid, "profile": "perp", "max_step": 0.25, "min_days": 3,
        "budget": None, "start": "2026-01-05",
        "steps": [
            {"step": 1, "date": "2026-01-05",
             "changes": {"BTC-SYN:mmf:1": {"from": 0.01, "to": 0.0125},
                         "BTC-SYN:max_leverage:1": {"from": 50.0, "to": 40.0},
                         "BTC-SYN:imf:1": {"from": 0.02, "to": 0.025},
                         "ETH-SYN:liquidation_penalty:1": {"from": None, "to": 0.005}},
             "coverage": {"ETH-SYN": None, "BTC-SYN": 0.98761}, "avg_margin": {"BTC-SYN": 0.0125, "ETH-SYN": 0.1234},
             "values": values},
            {"step": 2, "date": "2026-01-08", "changes": {"BTC-SYN:mmf:1": {"from": 0.0125, "to": 0.015}},
             "coverage": {"BTC-SYN": 0.99}, "avg_margin": {"BTC-SYN": 0.015, "ETH-SYN": 0.1234},
             "values": {**values, "BTC-SYN:mmf:1": 0.015}},
        ],
        "steps_per_asset": {"BTC-SYN": 2, "ETH-SYN": 1},
        "initial": {"BTC-SYN:mmf:1": 0.01, "BTC-SYN:max_leverage:1": 50.0, "BTC-SYN:imf:1": 0.02,
                    "ETH-SYN:liquidation_penalty:1": None},
        "target": {**values, "BTC-SYN:mmf:1": 0.015},
        "notes": ["ETH-SYN:liquidation_penalty:1 has no current value | set at step 1 <b>."],
    }


# The "Execution plan" section of `riskparams export -f md` for _hand_plan, rendered by the code before this
# change (plan readers returning dicts; the /work/ciclone snapshot of riskparams, 2026-12-05), the plan id
# replaced by <id>. Percentages by hand: 0.98761 -> 98.76%, 0.0125 -> 1.25%, 0.1234 -> 12.34%; changes in key
# order (imf, max_leverage, mmf: the stored canonical JSON sorts them); null -> "-".
OLD_SECTION = (
    "## Execution plan\n\nPlan `<id>`: 2 steps from 2026-01-05 to 2026-01-08, every parameter changing by at most a "
    "relative 0.25 (25%) per step (new / old within [1 / (1 + R), 1 + R]), steps at least 3 days apart; the last "
    "step sets the proposed values. Coverage: the proposal's coverage model at the step's margins (worst tier); "
    "average margin: notional-weighted average MMF (lending: 1 - LTV).\n\n"
    "| Step | Date | Changes | Coverage | Average margin |\n|---|---|---|---|---|\n"
    "| 1 | 2026-01-05 | BTC-SYN imf tier 1: 2.00% -> 2.50%; BTC-SYN max\\_leverage tier 1: 50x -> 40x; BTC-SYN mmf "
    "tier 1: 1.00% -> 1.25%; ETH-SYN liquidation\\_penalty tier 1: - -> 0.50% | BTC-SYN 98.76%, ETH-SYN - | "
    "BTC-SYN 1.25%, ETH-SYN 12.34% |\n"
    "| 2 | 2026-01-08 | BTC-SYN mmf tier 1: 1.25% -> 1.50% | BTC-SYN 99.00% | BTC-SYN 1.50%, ETH-SYN 12.34% |\n\n"
    "- ETH-SYN\\:liquidation\\_penalty\\:1 has no current value \\| set at step 1 &lt;b&gt;.\n"
)


@pytest.fixture
def stored(proposals: dict[str, Any]) -> Any:
    """An in-memory store with the perp and lending proposals: ``(store, {"perp": id, "lending": id})``."""
    s = Store.memory()
    ids = {p: save_proposal(s, proposals[p]).id for p in ("perp", "lending")}
    yield s, ids
    s.close()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proposals: dict[str, Any]) -> dict[str, str]:
    """A store file (``$RISKPARAMS_DB``) with the perp draft; the example committee."""
    path = tmp_path / "typed.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    monkeypatch.delenv(COMMITTEE_ENV_VAR, raising=False)
    monkeypatch.delenv(MEMBER_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with Store(path) as s:
        pid = save_proposal(s, proposals["perp"]).id
    return {"perp": pid, "path": str(path)}


# -------------------------------------------------------------------------------------------------
# round trip
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["perp", "lending"])
def test_made_plan_round_trips_exactly(proposals: dict[str, Any], profile: str) -> None:
    plan = make_plan(proposals[profile], proposal_id="c" * 64, spec=PlanSpec(max_step=0.25, min_days=3, start=START))
    content = plan.to_dict()
    as_stored = json.loads(canonical_json(content))  # what the store gives back: sorted keys, floats as text
    for source in (content, as_stored):
        typed = Plan.from_content(source)
        assert canonical_json(typed.to_dict()) == canonical_json(content)
        assert typed.id == content_id(content) == plan.id
    typed = Plan.from_content(as_stored)
    assert typed.spec == plan.spec and len(typed.steps) == len(plan.steps) >= 1
    assert [c.key for c in typed.steps[0].changes] == sorted(c.key for c in plan.steps[0].changes)
    assert typed.steps[-1].values == pytest.approx(dict(plan.target))


def test_hand_plan_round_trips_and_reads_null_as_nan(stored: Any) -> None:
    s, ids = stored
    content = _hand_plan(ids["perp"])
    typed = Plan.from_content(content)
    assert math.isnan(typed.steps[0].coverage["ETH-SYN"])  # a stored null is NaN typed ...
    assert typed.initial["ETH-SYN:liquidation_penalty:1"] is None  # ... but an unknown current value stays None
    assert typed.steps[0].changes[3].old is None and typed.steps[0].changes[3].new == 0.005
    assert canonical_json(typed.to_dict()) == canonical_json(content)
    plan_id, is_new = save_plan(s, content, actor="bob")
    assert is_new and plan_id == typed.id == content_id(content)


def test_stored_plan_is_the_old_readers_dict(stored: Any) -> None:
    """Every reader is typed; ``to_dict()`` is the old dictionary with its key order (the CLI prints it unsorted)."""
    from riskparams.service import latest_plan as service_latest
    from riskparams.service import plan_proposal

    s, ids = stored
    pid = ids["perp"]
    assert latest_plan(s, pid) is None and list_plans(s, pid) == []
    made = plan_proposal(s, pid, max_step=0.25, min_days=3, start="2026-01-05", actor="bob")
    assert isinstance(made, StoredPlan) and isinstance(made.plan, Plan) and made.proposal_id == pid
    old = _old_dict(s, made.id)
    assert made.to_dict() == old and _ordered(made.to_dict()) == _ordered(old)
    for again in (get_plan(s, made.id[:8].upper()), latest_plan(s, pid), service_latest(s, pid)):
        assert isinstance(again, StoredPlan) and again.id == made.id and again.to_dict() == old
    assert made.created_at.tzinfo is None and made.created_at_iso == old["created_at"]
    assert made.steps is made.plan.steps and made.spec.max_step == 0.25 and made.notes == made.plan.notes
    summary = list_plans(s, pid)
    assert summary == [PlanSummary(id=made.id, created_at=made.created_at, actor="bob")]
    assert summary[0].to_dict() == {"id": made.id, "created_at": old["created_at"], "actor": "bob"}
    unsaved = plan_proposal(s, pid, max_step=0.25, min_days=3, start="2026-01-05", save=False)
    assert isinstance(unsaved, Plan) and unsaved.id == made.id
    back = StoredPlan.from_dict(made.to_dict())
    assert _ordered(back.to_dict()) == _ordered(old) and back.created_at == made.created_at
    assert plan_rows(made.plan) == plan_rows(old)  # the Governance page's table: typed = dictionary


def test_stored_plan_validates_its_fields(stored: Any) -> None:
    s, ids = stored
    plan = Plan.from_content(_hand_plan(ids["perp"]))
    aware = datetime(2026, 1, 1, 13, tzinfo=UTC) + timedelta(0)
    assert StoredPlan(id=plan.id, created_at=aware, plan=plan).created_at == datetime(2026, 1, 1, 13)
    for kw, words in (({"id": "not-a-hash"}, "64 lower-case hex"), ({"created_at": "2026-01-01"}, "must be a datetime"),
                      ({"plan": _hand_plan(ids["perp"])}, "must hold a riskparams.plan.Plan")):
        args: dict[str, Any] = {"id": plan.id, "created_at": aware, "plan": plan, **kw}
        with pytest.raises(DataError, match=words) as exc:
            StoredPlan(**args)
        _one_sentence(str(exc.value))
    with pytest.raises(DataError, match="hashes to .*, not to its id") as exc:
        StoredPlan.from_content(_hand_plan(ids["perp"]), id="0" * 64, created_at=aware)
    _one_sentence(str(exc.value))


# -------------------------------------------------------------------------------------------------
# hostile and foreign content
# -------------------------------------------------------------------------------------------------


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], Any]:
    def edit(c: dict[str, Any]) -> Any:
        target = c
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value
        return c
    return edit


def _drop(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda c: {k: v for k, v in c.items() if k != key}


HOSTILE: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("newer format", _set(("format",), "riskparams-plan-v2"), "newer than the 'riskparams-plan-v1' this riskparams "
                                                              "reads; upgrade riskparams"),
    ("older format", _set(("format",), "riskparams-plan-v0"), "older than the 'riskparams-plan-v1'"),
    ("a proposal", _set(("format",), "riskparams-proposal-v1"), "this is not a stored plan"),
    ("no format", _drop("format"), "this is not a stored plan: its format is None"),
    ("a list", lambda c: [c], "stored plan content must be a JSON object, got list"),
    ("missing steps", _drop("steps"), "shape (missing 'steps')"),
    ("no steps", _set(("steps",), []), "'steps' is empty"),
    ("unknown key", _set(("drop_table",), "x"), "unknown key 'drop_table'"),
    ("bool step limit", _set(("max_step",), True), "'max_step' is True"),
    ("step limit too big", _set(("max_step",), 11.0), "max_step must be a relative change in (0, 10]"),
    ("text days", _set(("min_days",), "3; DROP TABLE plans"), "'min_days' is '3; DROP TABLE plans'"),
    ("bad start", _set(("start",), "2026-13-01"), "'start' is '2026-13-01', not a date"),
    ("step renumbered", _set(("steps", 1, "step"), 7), "step 2 is numbered 7"),
    ("step not an object", _set(("steps", 0), "x" * 500), "step 1 is 'xxxxxxxx"),
    ("bad step date", _set(("steps", 0, "date"), "=cmd|' /C calc'!A0"), "step 1's date is"),
    ("change without to", _set(("steps", 0, "changes", "BTC-SYN:mmf:1"), {"from": 0.01}), "not {'from', 'to'}"),
    ("text coverage", _set(("steps", 0, "coverage", "BTC-SYN"), "0.99"), "step 1 coverage['BTC-SYN'] is '0.99'"),
    ("NaN value", _set(("steps", 0, "values", "BTC-SYN:mmf:1"), float("nan")), "step 1 values['BTC-SYN:mmf:1'] is nan"),
    ("infinite target", _set(("target", "BTC-SYN:mmf:1"), float("inf")), "target['BTC-SYN:mmf:1'] is inf"),
    ("non-text note", _set(("notes",), [{"a": 1}]), "a note is {'a': 1}"),
    ("integer value", _set(("steps", 0, "values", "BTC-SYN:max_leverage:1"), 40), "does not rebuild to the same hash"),
    ("unknown step key", _set(("steps", 0, "extra"), 1), "step 1 has an unknown key 'extra'"),
]


@pytest.mark.parametrize(("case", "edit", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_content_is_refused_in_one_sentence(case: str, edit: Callable[[dict[str, Any]], Any],
                                                    words: str) -> None:
    content = edit(copy.deepcopy(_hand_plan("d" * 64)))
    with pytest.raises(ValueError) as exc:
        Plan.from_content(content)
    assert words in str(exc.value), str(exc.value)
    _one_sentence(str(exc.value))
    with pytest.raises(DataError) as exc2:  # the store's reader: a DataError naming the plan
        StoredPlan.from_content(content, id="e" * 64, created_at=datetime(2026, 1, 1))
    assert str(exc2.value).startswith("stored plan eeeeeeeeeeee cannot be read: ") and words in str(exc2.value)
    _one_sentence(str(exc2.value))


def test_a_newer_stored_plan_is_refused_by_readers_cli_and_export_leaving_the_store_unchanged(
        capsys: pytest.CaptureFixture[str], db: dict[str, str]) -> None:
    """A plan row written by a newer riskparams (hash intact) is refused by name; `export` exits 2, records nothing."""
    pid = db["perp"]
    content = {**_hand_plan(pid), "format": "riskparams-plan-v2"}
    with Store(db["path"]) as s:
        rid = content_id(content)  # the store keeps its hash: only the reader can refuse it
        with s.transaction() as cur:
            cur.execute("INSERT INTO plans (plan_id, proposal_id, created_at, actor, payload) VALUES (?, ?, ?, ?, ?)",
                        [rid, pid, datetime(2026, 1, 1), "mallory", canonical_json(content)])
        for read in (lambda: get_plan(s, rid), lambda: latest_plan(s, pid)):
            with pytest.raises(DataError, match="format 'riskparams-plan-v2', newer than") as exc:
                read()
            _one_sentence(str(exc.value))
        assert [p.actor for p in list_plans(s, pid)] == ["mallory"]  # the summary needs no content
        before = store_snapshot(s)
    line = cli_fails(capsys, "export", pid, "-f", "md", "--as", "bob", "-o", "-")
    assert f"stored plan {rid[:12]} cannot be read" in line and "upgrade riskparams" in line
    with Store(db["path"]) as s:
        assert store_snapshot(s) == before


# -------------------------------------------------------------------------------------------------
# the command line and the exports are unchanged
# -------------------------------------------------------------------------------------------------


def test_cli_plan_json_and_text_are_unchanged(capsys: pytest.CaptureFixture[str], db: dict[str, str]) -> None:
    pid = db["perp"]
    code, out, err = run_cli(capsys, "plan", pid, "--max-step", "0.25", "--min-days", "3", "--start", "2026-01-05",
                             "--json")
    assert (code, err) == (0, "")
    with Store(db["path"]) as s:
        plan = latest_plan(s, pid)
        assert plan is not None
        old = _old_dict(s, plan.id)
    # the old command printed pretty_json({"plan": dict(get_plan(...))}, sort_keys=False, ascii_only=True)
    assert out == pretty_json({"plan": old}, sort_keys=False, ascii_only=True) + "\n"
    code, out, err = run_cli(capsys, "plan", pid, "--max-step", "0.25", "--min-days", "3", "--start", "2026-01-05")
    n = len(plan.steps)
    assert code == 0 and out.startswith(f"plan {plan.id[:12]} of proposal {pid[:12]}: {n} step{'s' if n != 1 else ''}, "
                                        "at most 0.25 (25.00%) per parameter per step, 3 days apart")
    assert len([ln for ln in out.splitlines() if ln[:1].isdigit()]) == n  # one table row per step


def test_export_renders_the_typed_plan_as_before(stored: Any) -> None:
    from riskparams import export

    s, ids = stored
    pid = ids["perp"]
    rid, _ = save_plan(s, _hand_plan(pid), actor="bob")
    plan = get_plan(s, rid)
    proposal = get_proposal(s, pid)
    md = export.render("md", proposal, plan=plan).decode()
    section = md[md.index("## Execution plan"):]
    section = section[:section.index("\n## ", 5)]
    assert section.replace(rid, "<id>") == OLD_SECTION
    # the JSON bundle carries the old dictionary (sorted anyway by the bundle's encoder)
    bundle = json.loads(export.render("json", proposal, plan=plan))
    assert bundle["plan"] == _old_dict(s, rid)
    # a plan given as its dictionary (riskparams plan --json) renders the same bytes
    assert export.render("md", proposal, plan=plan.to_dict()).decode() == md
    other = StoredPlan.from_content(_hand_plan(ids["lending"]), id=content_id(_hand_plan(ids["lending"])),
                                    created_at=datetime(2026, 1, 1))
    for bad, words in ((other, f"the plan is for proposal {ids['lending'][:12]}, not {pid[:12]}."),
                       ({**plan.to_dict(), "max_step": 0.5}, "cannot be read: its content hashes to"),
                       ({"steps": []}, "needs its 'id' and 'created_at'"), (["x"], "must be a stored plan"),
                       (42, "(riskparams.store.plan_records.StoredPlan), got int.")):
        with pytest.raises(ExportError) as exc:
            export.render("md", proposal, plan=bad)  # type: ignore[arg-type]
        assert words in str(exc.value), str(exc.value)
        _one_sentence(str(exc.value))

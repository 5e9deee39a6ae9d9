"""Phased execution plans (issue 13 item 1): limits never exceeded, the target reached, the fewest steps, valid
tier tables at every step, the coverage model, storage, the `plan` command, linked revisions, and the plan
in the exports (issue 13 items 2 and 4: the one export path of the command line and the dashboard).

Property tests are seeded random loops (hypothesis is not installed): random current parameters that are
valid tier tables on the proposal's brackets, random step limits R and spacings D."""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_fails as fails
from conftest import run_cli as run

from riskparams.domain import Proposal
from riskparams.exceptions import SpecError
from riskparams.governance import COMMITTEE_ENV_VAR, MEMBER_ENV_VAR
from riskparams.plan import MAX_STEPS, PlanSpec, _calibrate, make_plan, steps_needed
from riskparams.store import Store
from riskparams.store.records import save_proposal
from riskparams.tiers import TierTable

START = date(2026, 1, 5)
TOL = 1e-9
_ORIGINAL: dict[str, dict[str, Any]] = {}


def _content(p: Proposal) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(p.content()))
    _ORIGINAL[out["profile"]] = copy.deepcopy(out)
    return out


def _typed(content: dict[str, Any]) -> Proposal:
    """The content (lines' ``current`` edited) as a typed proposal: each line rebuilt with its new current value."""
    base = Proposal.from_content(_ORIGINAL[content["profile"]])
    cur = {(a["symbol"], ln["parameter"], ln["tier"]): ln["current"] for a in content["assets"] for ln in a["lines"]}
    assets = tuple(replace(a, lines=tuple(replace(ln, current=cur[(a.symbol, ln.parameter, ln.tier)])
                                          for ln in a.lines)) for a in base.assets)
    return replace(base, assets=assets)


def _spec(r: float = 0.25, d: int = 3, budget: int | None = None) -> PlanSpec:
    return PlanSpec(max_step=r, min_days=d, start=START, budget=budget)


def _random_perp_current(content: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The content with random current values forming a valid tier table on the proposal's brackets."""
    c = copy.deepcopy(content)
    for a in c["assets"]:
        n = len(a["tiers"])
        mmf = sorted(rng.uniform(0.003, 0.12) for _ in range(n))
        levs: list[float] = []
        for k in range(n):
            top = min(1.0 / (mmf[k] * rng.uniform(1.1, 3.0)), levs[-1] if levs else 1000.0)
            levs.append(max(top, 1.0 / 0.99))
        cur = {"mmf": mmf, "max_leverage": levs, "imf": [1.0 / v for v in levs],
               "liquidation_penalty": [m * rng.uniform(0.05, 0.9) for m in mmf]}
        for ln in a["lines"]:
            ln["current"] = cur[ln["parameter"]][ln["tier"]]
    return c


def _random_lending_current(content: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    c = copy.deepcopy(content)
    for a in c["assets"]:
        bonus = rng.uniform(0.01, 0.15)
        lt = rng.uniform(0.3, 1.0 / (1.0 + bonus))
        cur = {"liquidation_bonus": bonus, "liquidation_threshold": lt, "ltv": lt * rng.uniform(0.5, 0.99)}
        for ln in a["lines"]:
            ln["current"] = cur[ln["parameter"]]
    return c


def _fewest_steps(plan: Any, r: float) -> int:
    """Independent count: ceil(log(ratio) / log(1 + R)) for the largest ratio of any parameter with a current value."""
    worst = 1.0
    for key, tgt in plan.target.items():
        frm = plan.initial[key]
        if frm and tgt:
            worst = max(worst, tgt / frm, frm / tgt)
    return 0 if worst == 1.0 else math.ceil(math.log(worst) / math.log(1.0 + r) - 1e-9)


def _check_plan(plan: Any, r: float, d: int) -> None:
    steps = plan.steps
    assert steps[-1].values == plan.target  # the last step is the target, exactly
    assert len(steps) == _fewest_steps(plan, r)
    worst = max(max(t / f, f / t) for k, t in plan.target.items() if (f := plan.initial[k]))
    if len(steps) > 1:  # minimal: one step fewer would need a larger step than R
        assert worst ** (1.0 / (len(steps) - 1)) > 1.0 + r
    prev = dict(plan.initial)
    for k, s in enumerate(steps):
        assert date.fromisoformat(s.date) == START + timedelta(days=k * d)  # D days apart, from the start
        for key, new in s.values.items():
            old = prev[key]
            assert new > 0 or key.split(":")[1] in ("liquidation_penalty", "ltv")
            if old:
                assert 1.0 / (1.0 + r) - TOL <= new / old <= 1.0 + r + TOL, (key, old, new, r)
                assert abs(new - old) / old <= r + TOL
        prev = dict(s.values)


def _perp_tables(plan: Any, content: dict[str, Any]) -> None:
    """Every step is a valid TierTable (continuity, IMF >= MMF, leverage = 1 / IMF, ascending floors)."""
    for s in plan.steps:
        for a in content["assets"]:
            sym = a["symbol"]
            rows = [{"notional_floor": t["notional_floor"], "notional_cap": t["notional_cap"],
                     "max_leverage": s.values[f"{sym}:max_leverage:{k + 1}"], "imf": s.values[f"{sym}:imf:{k + 1}"],
                     "mmf": s.values[f"{sym}:mmf:{k + 1}"],
                     "liquidation_penalty": s.values[f"{sym}:liquidation_penalty:{k + 1}"]}
                    for k, t in enumerate(a["tiers"])]
            TierTable.from_rows(rows, symbol=sym)


# -------------------------------------------------------------------------------------------------
# pure: properties
# -------------------------------------------------------------------------------------------------


def test_steps_needed_counts_the_fewest_steps_both_ways() -> None:
    # 2x at 25%: 1.25^3 = 1.953 < 2 <= 1.25^4 = 2.441 -> 4; halving takes as many; 3% caps (Chaos Labs): 1.5x ->
    # log(1.5) / log(1.03) = 13.72 -> 14
    assert (steps_needed(2.0, 0.25), steps_needed(0.5, 0.25), steps_needed(1.5, 0.03)) == (4, 4, 14)
    assert steps_needed(1.25 ** 3, 0.25) == 3  # exactly on the limit: no extra step for rounding
    assert steps_needed(1.0, 0.25) == 0


def test_perp_plans_never_exceed_the_limit_and_reach_the_target(proposals: dict[str, Proposal]) -> None:
    base = _content(proposals["perp"])
    assert len(base["assets"][0]["tiers"]) >= 2
    rng = random.Random(13)
    for _ in range(60):
        content = _random_perp_current(base, rng)
        r, d = rng.choice([0.03, 0.1, 0.25, 0.5, 1.0]), rng.randint(1, 14)
        plan = make_plan(_typed(content), proposal_id="p" * 64, spec=_spec(r, d))
        _check_plan(plan, r, d)
        _perp_tables(plan, content)


def test_lending_plans_keep_ltv_below_lt_and_lt_times_bonus_within_one(proposals: dict[str, Proposal]) -> None:
    base = _content(proposals["lending"])
    rng = random.Random(7)
    for _ in range(60):
        content = _random_lending_current(base, rng)
        r, d = rng.choice([0.03, 0.1, 0.25]), rng.randint(1, 7)
        plan = make_plan(_typed(content), proposal_id="l" * 64, spec=_spec(r, d))
        _check_plan(plan, r, d)
        for s in plan.steps:
            for a in base["assets"]:
                v = {p: s.values[f"{a['symbol']}:{p}"] for p in ("ltv", "liquidation_threshold", "liquidation_bonus")}
                assert 0 <= v["ltv"] < v["liquidation_threshold"]
                assert v["liquidation_threshold"] * (1 + v["liquidation_bonus"]) <= 1 + 1e-12


def test_example_plan_by_hand(proposals: dict[str, Proposal]) -> None:
    """One tier-1 MMF from 1% to 2% at R = 25%: 1.25^3 < 2 <= 1.25^4, so 4 steps of 2^(1/4) = 1.18921 each."""
    content = _content(proposals["perp"])
    for a in content["assets"]:
        for ln in a["lines"]:
            ln["current"] = ln["proposed"]
    btc = next(a for a in content["assets"] if a["symbol"] == "BTC-SYN")
    line = next(ln for ln in btc["lines"] if ln["parameter"] == "mmf" and ln["tier"] == 0)
    line["current"] = line["proposed"] / 2.0
    plan = make_plan(_typed(content), proposal_id="h" * 64, spec=_spec(0.25, 5))
    key = "BTC-SYN:mmf:1"
    assert [s.date for s in plan.steps] == ["2026-01-05", "2026-01-10", "2026-01-15", "2026-01-20"]
    assert [round(s.values[key] / line["current"], 5) for s in plan.steps] == [1.18921, 1.41421, 1.68179, 2.0]
    assert all(set(c.key for c in s.changes) == {key} for s in plan.steps)  # nothing else moves
    first = plan.steps[0].to_dict()["changes"][key]
    assert first == {"from": line["current"], "to": plan.steps[0].values[key]}
    # coverage rises with the margin and ends at the proposal's own (worst tier) coverage
    covs = [s.coverage["BTC-SYN"] for s in plan.steps]
    assert covs == sorted(covs) and covs[-1] == pytest.approx(min(t["coverage"] for t in btc["tiers"]), abs=1e-9)
    # avg_margin: notional-weighted MMF; weights are bracket widths (the open bracket up to its cost notional)
    w = [(t["notional_cap"] or t["cost_notional"]) - t["notional_floor"] for t in btc["tiers"]]
    last = sum(wk * t["mmf"] for wk, t in zip(w, btc["tiers"], strict=True)) / sum(w)
    assert plan.steps[-1].avg_margin["BTC-SYN"] == pytest.approx(last, rel=1e-12)


def test_coverage_model_by_hand() -> None:
    # normal law calibrated on coverage 99% at room 2%: scale = 0.02 / 2.3263479 = 0.0085972; at a room of 1%:
    # Phi(0.01 / 0.0085972) = Phi(1.163174); standard normal table: Phi(1.16) = 0.87698, Phi(1.17) = 0.87900,
    # interpolated 0.87698 + 0.3174 x 0.00202 = 0.87762
    law = _calibrate(0.02, 0.99, None, 0.99, "es", None, 0.0)
    assert law is not None and law.scale == pytest.approx(0.0085972, rel=1e-4)
    assert law.prob_within(0.01) == pytest.approx(0.87762, abs=1e-5)
    assert law.prob_within(0.02) == pytest.approx(0.99, abs=1e-12) and law.prob_within(-0.01) == 0.0
    # without a usable coverage: from the covered move = normal ES 99% = phi(2.3263) / 0.01 = 2.665214 x scale
    law = _calibrate(0.02, 1.0, 0.02665214, 0.99, "es", None, 0.0)
    assert law is not None and law.scale == pytest.approx(0.01, rel=1e-5)


def test_budget_and_bad_limits_are_one_sentence(proposals: dict[str, Proposal]) -> None:
    content = _random_perp_current(_content(proposals["perp"]), random.Random(1))
    n = len(make_plan(_typed(content), proposal_id="b" * 64, spec=_spec(0.1)).steps)
    assert len(make_plan(_typed(content), proposal_id="b" * 64, spec=_spec(0.1, budget=n)).steps) == n
    with pytest.raises(SpecError, match=rf"cannot be reached within {n - 1} steps of at most 0.1 .*needs {n} steps"):
        make_plan(_typed(content), proposal_id="b" * 64, spec=_spec(0.1, budget=n - 1))
    for bad in (dict(max_step=0.0), dict(max_step=-0.1), dict(max_step=math.nan), dict(max_step=11.0),
                dict(max_step=True), dict(min_days=0), dict(min_days=2.5), dict(budget=0),
                dict(budget=MAX_STEPS + 1)):
        kw: dict[str, Any] = {"max_step": 0.25, "min_days": 3, "start": START, **bad}
        with pytest.raises(SpecError) as err:
            PlanSpec(**kw)
        assert str(err.value).count(".") <= 3 and "\n" not in str(err.value)
    same = _content(proposals["perp"])
    for a in same["assets"]:
        for ln in a["lines"]:
            ln["current"] = ln["proposed"]
    with pytest.raises(SpecError, match="already equal its target"):
        make_plan(_typed(same), proposal_id="s" * 64, spec=_spec())


def test_missing_current_values_take_the_target_at_step_one(proposals: dict[str, Proposal]) -> None:
    content = _random_perp_current(_content(proposals["perp"]), random.Random(3))
    eth = next(a for a in content["assets"] if a["symbol"] == "ETH-SYN")
    for ln in eth["lines"]:
        ln["current"] = None
    plan = make_plan(_typed(content), proposal_id="m" * 64, spec=_spec(0.25))
    assert plan.steps_per_asset["ETH-SYN"] == 1 and any("ETH-SYN has no current parameters" in n for n in plan.notes)
    assert all(plan.steps[0].values[k] == v for k, v in plan.target.items() if k.startswith("ETH-SYN:"))
    assert all(not c.key.startswith("ETH-SYN:") for s in plan.steps[1:] for c in s.changes)
    _perp_tables(plan, content)
    # a penalty without a current value follows the MMF, so it stays below it
    content = _random_perp_current(_content(proposals["perp"]), random.Random(4))
    for a in content["assets"]:
        for ln in a["lines"]:
            if ln["parameter"] == "liquidation_penalty":
                ln["current"] = None
    plan = make_plan(_typed(content), proposal_id="q" * 64, spec=_spec(0.1))
    _perp_tables(plan, content)
    assert plan.steps[-1].values == plan.target


# -------------------------------------------------------------------------------------------------
# stored plans, the command, linked revisions, exports
# -------------------------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proposals: dict[str, Proposal]) -> dict[str, str]:
    """A store file (``$RISKPARAMS_DB``) with the perp and lending drafts; the example committee."""
    path = tmp_path / "plan.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    monkeypatch.delenv(COMMITTEE_ENV_VAR, raising=False)
    monkeypatch.delenv(MEMBER_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with Store(path) as s:
        ids = {p: save_proposal(s, proposals[p]).id for p in ("perp", "lending")}
    return {**ids, "path": str(path)}


def _approve(capsys: pytest.CaptureFixture[str], pid: str) -> None:
    for args in (("review", pid, "--as", "alice"), ("sign", pid, "--as", "bob"), ("sign", pid, "--as", "carol"),
                 ("approve", pid, "--as", "alice", "-m", "vote")):
        assert run(capsys, *args)[0] == 0, args


_COUNTS = {"plans": "SELECT count(*) FROM plans", "proposals": "SELECT count(*) FROM proposals"}


def _count(path: str, table: str) -> int:
    with Store(path) as s:
        return int(s.fetchone(_COUNTS[table])[0])


def test_plan_command_json_store_and_errors(capsys: pytest.CaptureFixture[str], db: dict[str, str]) -> None:
    pid = db["perp"]
    code, out, _ = run(capsys, "plan", pid[:10], "--max-step", "0.25", "--min-days", "3", "--start", "2026-01-05",
                       "--json")
    assert code == 0
    plan = json.loads(out)["plan"]
    assert {"proposal_id", "max_step", "min_days", "steps", "id"} <= set(plan) and plan["proposal_id"] == pid
    step = plan["steps"][0]
    assert step["date"] == "2026-01-05" and {"date", "changes", "coverage", "avg_margin"} <= set(step)
    key, change = next(iter(step["changes"].items()))
    assert key.count(":") in (1, 2) and set(change) == {"from", "to"}
    assert plan["steps"][-1]["values"] == plan["target"]
    assert _count(db["path"], "plans") == 1
    assert run(capsys, "plan", pid[:10], "--max-step", "0.25", "--min-days", "3", "--start", "2026-01-05")[0] == 0
    assert _count(db["path"], "plans") == 1  # the same plan again adds nothing
    code, out, _ = run(capsys, "plan", pid[:10], "--max-step", "0.25", "--min-days", "3", "--start", "2026-01-05")
    assert "step" in out and "2026-01-05" in out and "coverage" in out
    n = len(plan["steps"])
    line = fails(capsys, "plan", pid[:10], "--max-step", "0.25", "--min-days", "3", "--budget", str(n - 1))
    assert f"within {n - 1} steps" in line
    assert "max_step" in fails(capsys, "plan", pid[:10], "--max-step", "50", "--min-days", "3")
    assert "start" in fails(capsys, "plan", pid[:10], "--max-step", "0.2", "--min-days", "3", "--start", "'; DROP")
    fails(capsys, "plan", "ffffffffffff", "--max-step", "0.2", "--min-days", "3")
    assert run(capsys, "plan", pid[:10], "--max-step", "0", "--min-days", "3")[0] == 2
    assert run(capsys, "plan", pid[:10], "--max-step", "0.2", "--min-days", "0")[0] == 2
    assert _count(db["path"], "plans") == 1  # refused plans store nothing


def test_steps_go_through_the_workflow_as_linked_revisions(capsys: pytest.CaptureFixture[str],
                                                          db: dict[str, str]) -> None:
    pid = db["perp"]
    args = ("plan", pid, "--max-step", "0.5", "--min-days", "7", "--start", "2026-02-01", "--json")
    assert "approved proposal" in fails(capsys, *args, "--create-revisions", "--as", "bob")
    assert _count(db["path"], "proposals") == 2
    _approve(capsys, pid)
    code, out, _ = run(capsys, *args, "--create-revisions", "--as", "bob")
    plan = json.loads(out)["plan"]
    assert code == 0 and len(plan["steps"]) >= 2
    created = plan["revisions"]["created"]
    assert [c["step"] for c in created] == [1]
    step1 = created[0]["revision_id"]
    from riskparams.governance import diff, workflow
    from riskparams.store.records import get_proposal
    with Store(db["path"]) as s:
        wf = workflow(s, step1)
        assert wf.parent_id == pid and wf.status == "draft"
        proposed = {f"{a['symbol']}:{ln['parameter']}:{ln['tier'] + 1}": ln["proposed"]
                    for a in get_proposal(s, step1).content["assets"] for ln in a["lines"]}
        assert all(proposed[k] == pytest.approx(v, rel=1e-12) for k, v in plan["steps"][0]["values"].items())
        assert diff(s, step1).rows  # the revision differs from its parent (the target)
    # nothing more until step 1 is approved
    code, out, _ = run(capsys, *args, "--create-revisions", "--as", "bob")
    again = json.loads(out)["plan"]["revisions"]
    assert again["created"] == [] and "must be approved" in again["waiting"]
    for a in (("review", step1, "--as", "carol"), ("sign", step1, "--as", "dave"), ("sign", step1, "--as", "alice"),
              ("approve", step1, "--as", "alice", "-m", "step 1")):
        assert run(capsys, *a)[0] == 0, a
    code, out, _ = run(capsys, *args, "--create-revisions", "--as", "bob")
    rev = json.loads(out)["plan"]["revisions"]
    step2 = rev["created"][0]["revision_id"]
    assert rev["created"][0]["step"] == 2 and [r["status"] for r in rev["steps"][:2]] == ["approved", "draft"]
    with Store(db["path"]) as s:
        assert workflow(s, step2).parent_id == step1
        from riskparams.verify import verify
        assert verify(s).ok


def test_exports_show_the_plan_and_the_attached_backtest_through_one_path(
        capsys: pytest.CaptureFixture[str], db: dict[str, str], tmp_path: Path) -> None:
    from riskparams.service import export_bytes
    pid = db["perp"]
    assert run(capsys, "export", pid, "-f", "md", "--as", "erin", "-o", "before.md")[0] == 0
    before = (tmp_path / "before.md").read_text()
    assert "## Execution plan" not in before and "No backtest attached" in before
    assert "plan" not in json.loads(run(capsys, "export", pid, "-f", "json", "--as", "erin", "-o", "-")[1])
    assert run(capsys, "plan", pid, "--max-step", "0.25", "--min-days", "3", "--start", "2026-01-05")[0] == 0
    md = run(capsys, "export", pid, "-f", "md", "--as", "erin", "-o", "-")[1]
    section = md.split("## Execution plan", 1)[1].split("\n## ", 1)[0]
    assert "| Step | Date | Changes | Coverage | Average margin |" in section and "2026-01-05" in section
    # step 1 of BTC-SYN's tier-4 MMF, by hand from the inputs: riskparams/examples/current_perp.csv sets it at
    # 0.15 (row "BTC-SYN,,3,0.15,0.025"); the proposal's target m4 and the asset's largest move come from the
    # proposal's lines (current vs proposed; its tier-3 penalty halves, 2% -> 1%, a ratio of 2). n =
    # ceil(log(2) / log(1.25)) = 4 steps (1.25^3 = 1.953 < 2), every value moving by the common fraction
    # (m4 / 0.15)^(1/4) per step: with m4 = 0.1610, 0.15 x 1.07333^0.25 = 0.15 x 1.01785 = 0.15268 -> "15.27%"
    btc = next(a for a in proposals_content(db) if a["symbol"] == "BTC-SYN")
    m4 = next(ln["proposed"] for ln in btc["lines"] if (ln["parameter"], ln["tier"]) == ("mmf", 3))
    worst = max(max(ln["proposed"] / ln["current"], ln["current"] / ln["proposed"]) for ln in btc["lines"]
                if ln["current"] and ln["proposed"])
    n = math.ceil(math.log(worst) / math.log(1.25) - 1e-9)
    assert n == 4 and 1.25 ** 3 < worst <= 1.25 ** 4
    first, third = 0.15 * (m4 / 0.15) ** (1 / n), 0.15 * (m4 / 0.15) ** (3 / n)
    assert f"BTC-SYN mmf tier 4: 15.00% -> {100 * first:.2f}%" in section
    assert f"BTC-SYN mmf tier 4: {100 * third:.2f}% -> {100 * m4:.2f}%" in section  # the last step: the target
    assert section.count("\n| ") == 1 + len(json.loads(run(capsys, "plan", pid, "--max-step", "0.25", "--min-days", "3",
                                                          "--start", "2026-01-05", "--json")[1])["plan"]["steps"])
    bundle = json.loads(run(capsys, "export", pid, "-f", "json", "--as", "erin", "-o", "-")[1])
    assert bundle["plan"]["proposal_id"] == pid and bundle["plan"]["steps"][0]["date"] == "2026-01-05"
    # an attached backtest goes into the default export; the library function gives the CLI's bytes
    _attach_backtest(db["path"], pid)
    code, out, _ = run(capsys, "export", pid, "-f", "md", "--as", "erin", "-o", "cli.md")
    cli = (tmp_path / "cli.md").read_bytes()
    assert code == 0 and b"No backtest attached" not in cli and b"## Backtest results" in cli
    with Store(db["path"]) as s:
        assert export_bytes(s, pid, "md", "erin").data == cli
        assert b"No backtest attached" in export_bytes(s, pid, "md", "erin", backtest="none").data
    assert b"No backtest attached" in run_bytes(capsys, "export", pid, "-f", "md", "--as", "erin", "--backtest",
                                                "none", "-o", "-")


def proposals_content(db: dict[str, str]) -> list[dict[str, Any]]:
    """The stored perp proposal's assets, read back from the store file."""
    from riskparams.store.records import get_proposal
    with Store(db["path"]) as s:
        assets: list[dict[str, Any]] = get_proposal(s, db["perp"]).content["assets"]
    return assets


def run_bytes(capsys: pytest.CaptureFixture[str], *args: str) -> bytes:
    code, out, _ = run(capsys, *args)
    assert code == 0
    return out.encode()


def _attach_backtest(path: str, pid: str) -> str:
    """Store and attach a small report: a stored fixed parameter-set backtest of the proposal's assets."""
    from riskparams.store.backtest_records import attach_report, save_report
    content = _report_content(pid)
    with Store(path) as s:
        rep = save_report(s, content)
        attach_report(s, pid, rep.id, actor="bob")
        return rep.id


def _report_content(pid: str) -> dict[str, Any]:
    import warnings

    from conftest import syn_perp_store

    from riskparams.backtest import BacktestSpec
    from riskparams.config import policy_from_dict
    from riskparams.service import backtest as backtest_policy

    s = syn_perp_store()
    spec = BacktestSpec(cadence_days=30, window=250, es_sims=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_ = backtest_policy(s, profile="perp", symbols=["BTC-SYN"], policy=policy_from_dict(
            {"model": {"model": "ewma", "n_sims": 200}}), spec=spec, save=False)
    s.close()
    return run_.report.content()


def test_governance_page_makes_shows_and_exports_the_plan_like_the_cli(
        capsys: pytest.CaptureFixture[str], db: dict[str, str], tmp_path: Path) -> None:
    """AppTest (no browser): the page stores a plan, draws its table and step chart, and its prepared export
    (attached backtest and plan included) has the CLI export's bytes."""
    from streamlit.testing.v1 import AppTest

    from riskparams import ui

    pid = db["perp"]
    _attach_backtest(db["path"], pid)
    ui._open_store.clear()
    ui.clear_data_caches()
    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "pages" / "5_Governance.py"), default_timeout=120)
    at.session_state["proposal_id"] = pid
    at.run()
    assert not at.exception and not at.error
    assert next(b for b in at.button if b.label == "Make plan").disabled  # nobody acts yet: view only
    at.selectbox(key="member").set_value("bob").run()
    next(n for n in at.number_input if n.label == "Max step (relative)").set_value(0.25)
    next(n for n in at.number_input if n.label == "Days between steps").set_value(3)
    next(d for d in at.date_input if d.label == "First step (UTC)").set_value(START)
    next(b for b in at.button if b.label == "Make plan").click().run()
    assert not at.exception and not at.error
    assert any("Plan" in s.value and "stored" in s.value for s in at.success)
    table = next(d.value for d in at.dataframe if "avg margin" in d.value.columns)
    assert list(table["date"])[:2] == ["2026-01-05", "2026-01-08"]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    steps = next(s for s in specs if "tier-1 MMF" in json.dumps(s["layout"].get("title", "")))
    assert {t["name"] for t in steps["data"]} == {"BTC-SYN", "ETH-SYN"} and steps["data"][0]["line"]["shape"] == "hv"
    next(s for s in at.selectbox if s.label == "Format").set_value("md")
    next(b for b in at.button if b.label == "Prepare export").click().run()
    assert not at.exception and not at.error
    browser = at.session_state["export"][2]
    assert b"## Execution plan" in browser and b"No backtest attached" not in browser
    assert run(capsys, "export", pid, "-f", "md", "--as", "bob", "-o", "cli.md")[0] == 0
    assert (tmp_path / "cli.md").read_bytes() == browser
    ui._open_store.clear()
    ui.clear_data_caches()


def test_plan_ends_at_the_option_the_committee_approved(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from conftest import syn_perp_store

    from riskparams.config import policy_from_dict
    from riskparams.params_io import load_current
    from riskparams.service import propose

    examples = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
    policy = policy_from_dict({"model": {"model": "ewma", "n_sims": 200},
                               "liquidity": {"adv_override": {"BTC-SYN": 2e9, "ETH-SYN": 1e9}}})
    s = syn_perp_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = propose(s, profile="perp", policy=policy, current=load_current(examples / "current_perp.csv", "perp"),
                    symbols=["BTC-SYN"], options=["conservative", "aggressive"], save=False).proposal
    s.close()
    cons = next(o for o in p.options if o.name == "conservative")
    assert not cons.recommended
    plan = make_plan(p, proposal_id="o" * 64, spec=_spec(0.25), option="conservative")
    tiers = cons.assets[0].tiers
    assert tiers is not None
    assert all(plan.target[f"BTC-SYN:mmf:{k + 1}"] == t["mmf"] for k, t in enumerate(tiers))
    assert plan.steps[-1].values == plan.target and any("option 'conservative'" in n for n in plan.notes)
    with pytest.raises(SpecError, match="has no option 'nope'"):
        make_plan(p, proposal_id="o" * 64, spec=_spec(0.25), option="nope")
    # through the store: the chair approves the conservative option; `riskparams plan` targets it
    path = tmp_path / "opt.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    monkeypatch.delenv(COMMITTEE_ENV_VAR, raising=False)
    with Store(path) as st:
        pid = save_proposal(st, p).id
    for args in (("review", pid, "--as", "alice"), ("sign", pid, "--as", "bob"), ("sign", pid, "--as", "carol"),
                 ("approve", pid, "--as", "alice", "--option", "conservative")):
        assert run(capsys, *args)[0] == 0, args
    code, out, _ = run(capsys, "plan", pid, "--max-step", "0.25", "--min-days", "2", "--start", "2026-03-01", "--json")
    stored = json.loads(out)["plan"]
    assert code == 0 and stored["target"] == {k: pytest.approx(v) for k, v in plan.target.items()}


# -------------------------------------------------------------------------------------------------
# one rendering of a plan's per-symbol cells (the Governance page's table and `riskparams plan`)
# -------------------------------------------------------------------------------------------------

_HAND_PLAN: dict[str, Any] = {
    "id": "a1" * 32, "proposal_id": "b2" * 32, "max_step": 0.25, "min_days": 3, "notes": ["ETH has no current value."],
    "steps": [
        {"step": 1, "date": "2026-01-05", "changes": {"BTC:mmf:1": {"from": 0.01, "to": 0.0125},
                                                     "ETH:mmf:1": {"from": None, "to": 0.02}},
         "coverage": {"ETH": None, "BTC": 0.98761}, "avg_margin": {"BTC": 0.0125, "ETH": 0.1234}},
        {"step": 2, "date": "2026-01-08", "changes": {"BTC:mmf:1": {"from": 0.0125, "to": 0.015}},
         "coverage": {}, "avg_margin": None},
    ],
}
"""A stored plan's dictionary written by hand: two steps, a missing value, an empty and an absent mapping."""


def _hand_stored_plan() -> Any:
    """:data:`_HAND_PLAN` typed, as ``plan_proposal`` returns a stored plan (issue 15): the missing coverage is
    NaN (a stored null), the absent average margins an empty mapping."""
    from datetime import datetime

    from riskparams.plan import ParamChange, Plan, PlanStep
    from riskparams.store.plan_records import StoredPlan

    steps = (PlanStep(number=1, date="2026-01-05", changes=(ParamChange(key="BTC:mmf:1", old=0.01, new=0.0125),
                                                             ParamChange(key="ETH:mmf:1", old=None, new=0.02)),
                      values={}, coverage={"ETH": math.nan, "BTC": 0.98761}, avg_margin={"BTC": 0.0125, "ETH": 0.1234}),
             PlanStep(number=2, date="2026-01-08", changes=(ParamChange(key="BTC:mmf:1", old=0.0125, new=0.015),),
                      values={}, coverage={}, avg_margin={}))
    plan = Plan(proposal_id="b2" * 32, profile="perp", spec=PlanSpec(max_step=0.25, min_days=3, start=START),
                steps=steps, initial={}, target={}, steps_per_asset={}, notes=("ETH has no current value.",))
    return StoredPlan(id="a1" * 32, created_at=datetime(2026, 1, 1), plan=plan)


def test_plan_command_table_is_unchanged_and_shares_the_pages_cells(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`riskparams plan` prints this exact text (the output before the CLI's copy of the cell formatter was
    removed); its coverage and average-margin cells are the Governance page's (:func:`plan_rows`)."""
    import riskparams.service as service
    from riskparams.plan import percent_cells, plan_rows

    monkeypatch.setenv("RISKPARAMS_DB", str(tmp_path / "cells.duckdb"))
    monkeypatch.setattr(service, "plan_proposal", lambda store, pid, **kw: _hand_stored_plan())
    code, out, err = run(capsys, "plan", "b2b2b2b2b2", "--max-step", "0.25", "--min-days", "3")
    assert (code, err) == (0, "")
    # by hand: 0.98761 -> 98.76%, 0.0125 -> 1.25%, 0.1234 -> 12.34%, None -> '-', symbols sorted; an empty or
    # missing mapping is '-'; max_step 0.25 -> 0.25 (25.00%)
    assert out == (
        "plan a1a1a1a1a1a1 of proposal b2b2b2b2b2b2: 2 steps, at most 0.25 (25.00%) per parameter per step, 3 days "
        "apart; the last step is the proposal's target\n"
        "step  date        changes  coverage           avg margin           \n"
        "1     2026-01-05  2        BTC 98.76%, ETH -  BTC 1.25%, ETH 12.34%\n"
        "2     2026-01-08  1        -                  -                    \n"
        "note: ETH has no current value.\n")
    rows = plan_rows(_HAND_PLAN)
    assert plan_rows(_hand_stored_plan().plan) == rows  # the typed plan gives the dictionary's rows
    assert [(r["coverage"], r["avg margin"]) for r in rows] == [("BTC 98.76%, ETH -", "BTC 1.25%, ETH 12.34%"),
                                                                ("-", "-")]
    assert percent_cells({"X": float("nan"), "Y": True, "Z": 1}) == "X -, Y -, Z 100.00%"
    assert percent_cells(["not", "a", "mapping"]) == "-"

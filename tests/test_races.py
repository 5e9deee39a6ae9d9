"""Concurrent actors never leave an inconsistent state: real processes (the CLI, a notebook) and threads
sharing one Store (the dashboard's sessions) race on one proposal, many trials each.

Every trial starts from a fresh store file; two actors are released together by a barrier; exactly the
outcomes the rules allow must be seen, and the store must verify afterwards.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path
from typing import Any

import pytest

from riskparams import governance as gov
from riskparams.domain import Proposal
from riskparams.exceptions import RiskParamsError
from riskparams.store import Store
from riskparams.store.records import save_proposal
from riskparams.verify import verify

pytestmark = pytest.mark.slow

COMMITTEE = gov.committee_from_dict({
    "quorum": 2,
    "members": [
        {"name": "Ann", "handle": "ann", "role": "chair"},
        {"name": "Ben", "handle": "ben", "role": "member"},
        {"name": "Cat", "handle": "cat", "role": "member"},
        {"name": "Dan", "handle": "dan", "role": "member"},
    ],
}, source="race committee")

TRIALS = 12

# scenario: (setup votes before the race, actor A, actor B)
SCENARIOS: dict[str, tuple[tuple[str, ...], tuple[str, str], tuple[str, str]]] = {
    "approve-vs-dissent": (("ben", "cat"), ("approve", "ann"), ("dissent", "dan")),
    "double-sign-off": ((), ("sign_off", "ben"), ("sign_off", "ben")),
    "sign-off-vs-withdraw": ((), ("sign_off", "ben"), ("withdraw", "cat")),
    "approve-vs-retract": (("ben", "cat"), ("approve", "ann"), ("retract", "cat")),
}


def act(store: Store, pid: str, action: str, who: str) -> str:
    """Run one action; ``'ok'`` or the refusal's message."""
    try:
        if action == "dissent":
            gov.dissent(store, pid, who, comment="not yet")
        else:
            getattr(gov, action)(store, pid, who)
        return "ok"
    except RiskParamsError as exc:
        return f"refused: {exc}"


def _worker(conn: Any, barrier: Any) -> None:
    """A separate process: for each trial, open the store, wait for the other actor, act, report."""
    while True:
        job = conn.recv()
        if job is None:
            return
        path, pid, action, who = job
        store = Store(path, linger=0.0)
        barrier.wait()
        out = act(store, pid, action, who)
        store.close()
        conn.send(out)


def prepare(path: Path, proposal: Proposal, votes: tuple[str, ...]) -> str:
    with Store(path) as s:
        pid = save_proposal(s, proposal).id
        gov.submit_for_review(s, pid, "ann", committee=COMMITTEE)
        for v in votes:
            gov.sign_off(s, pid, v)
    return pid


def check(name: str, path: Path, pid: str, a: str, b: str) -> None:
    """The outcomes the rules allow, and a store that verifies."""
    with Store(path) as s:
        wf = gov.workflow(s, pid)
        report = verify(s)
        events = [e.action for e in wf.events]
    assert report.ok, (name, [p.message for p in report.problems])
    assert not any("Exception" in x or "database" in x.lower() for x in (a, b)), (a, b)
    if name == "approve-vs-dissent":
        assert (a == "ok") != (b == "ok"), (a, b)  # exactly one wins
        if a == "ok":
            assert wf.status == "approved" and not wf.dissents and "is approved and cannot change" in b
        else:
            assert wf.status == "in_review" and [v.member for v in wf.dissents] == ["dan"]
            assert "unresolved dissent from @dan" in a
    elif name == "double-sign-off":
        assert sorted([a == "ok", b == "ok"]) == [False, True], (a, b)
        assert events.count("signed_off") == 1 and [v.member for v in wf.sign_offs] == ["ben"]
        assert "has already signed off" in (a if a != "ok" else b)
    elif name == "sign-off-vs-withdraw":
        assert b == "ok" and wf.status == "withdrawn"
        if a == "ok":  # the sign-off came first: it was recorded while in review
            assert events.index("signed_off") < events.index("withdrawn")
        else:
            assert "was withdrawn" in a and "signed_off" not in events
    elif name == "approve-vs-retract":
        assert (a == "ok") != (b == "ok"), (a, b)
        if a == "ok":
            assert wf.status == "approved" and "retracted" not in events
        else:
            assert wf.status == "in_review" and "1 of the 2 sign-offs" in a


def test_real_processes_racing_on_one_proposal(tmp_path: Path, proposals: dict[str, Proposal]) -> None:
    """Two worker processes (as two `riskparams` commands, or a command and a notebook) race in every trial of
    every scenario."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    pipes, procs = [], []
    for _ in range(2):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_worker, args=(child, barrier), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    winners: dict[str, set[tuple[bool, bool]]] = {}
    try:
        for name, (votes, (act_a, who_a), (act_b, who_b)) in SCENARIOS.items():
            for trial in range(TRIALS):
                path = tmp_path / f"{name}-{trial}.duckdb"
                pid = prepare(path, proposals["perp"], votes)
                pipes[0].send((str(path), pid, act_a, who_a))
                pipes[1].send((str(path), pid, act_b, who_b))
                a, b = pipes[0].recv(), pipes[1].recv()
                check(name, path, pid, a, b)
                winners.setdefault(name, set()).add((a == "ok", b == "ok"))
    finally:
        for conn in pipes:
            conn.send(None)
        for p in procs:
            p.join(timeout=30)
    assert set(winners) == set(SCENARIOS)  # every scenario ran; which actor won varies with scheduling


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_dashboard_sessions_racing_on_one_store(name: str, tmp_path: Path, proposals: dict[str, Proposal]) -> None:
    """Two sessions of one dashboard: threads sharing one Store object, as the server shares it."""
    votes, (act_a, who_a), (act_b, who_b) = SCENARIOS[name]
    for trial in range(TRIALS):
        path = tmp_path / f"{trial}.duckdb"
        pid = prepare(path, proposals["perp"], votes)
        store = Store(path)
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}

        def run(key: str, action: str, who: str, barrier: threading.Barrier = barrier, store: Store = store,
                pid: str = pid, results: dict[str, str] = results) -> None:
            barrier.wait()
            results[key] = act(store, pid, action, who)

        threads = [threading.Thread(target=run, args=("a", act_a, who_a)),
                   threading.Thread(target=run, args=("b", act_b, who_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        store.close()
        check(name, path, pid, results["a"], results["b"])

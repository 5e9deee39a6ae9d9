"""Executors (riskparams.executors): every kind returns results in task order, tasks run where they are sent,
bad specs are refused, and a Dask worker killed mid-run has its task retried (slow)."""

from __future__ import annotations

import os
import time

import pytest

from riskparams.exceptions import SpecError
from riskparams.executors import ExecutorSpec, run_tasks


def square(x: int) -> tuple[int, int]:
    """A module-level pure task: (x^2, the pid that ran it)."""
    return x * x, os.getpid()


def slow_square(x: int) -> tuple[int, int]:
    time.sleep(1.0)
    return x * x, os.getpid()


@pytest.mark.parametrize("text", ["serial", "threads:3", "processes:2"])
def test_results_in_task_order(text: str) -> None:
    done: list[int] = []
    out = run_tasks(square, list(range(7)), ExecutorSpec.parse(text), on_done=lambda i, _r: done.append(i))
    assert [r[0] for r in out] == [x * x for x in range(7)]
    assert sorted(done) == list(range(7))
    pids = {r[1] for r in out}
    if text == "processes:2":
        assert os.getpid() not in pids  # ran in worker processes
    else:
        assert pids == {os.getpid()}


def test_in_process_dask_cluster() -> None:
    ex = ExecutorSpec(kind="dask", workers=1, threads_per_worker=2, processes=False)
    out = run_tasks(square, [3, 1, 2], ex, keys=["a", "b", "c"])
    assert [r[0] for r in out] == [9, 1, 4]


def test_parse_and_labels() -> None:
    assert ExecutorSpec.parse("dask:3").n_workers == 3
    assert ExecutorSpec.parse(None).kind == "serial"
    assert ExecutorSpec.parse(None, scheduler="tcp://10.0.0.5:8786").label == "dask (scheduler tcp://10.0.0.5:8786)"
    assert ExecutorSpec.parse("processes").label == "processes (2 processes x 1 thread)"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "gpu"}, "executor must be one of"),
    ({"kind": "threads", "workers": 0}, "workers must be an integer from 1"),
    ({"kind": "threads", "workers": True}, "workers must be an integer"),
    ({"kind": "threads", "scheduler": "tcp://h:1"}, "needs the dask executor"),
    ({"kind": "dask", "scheduler": "tcp://h:1\nX"}, "scheduler must be an address"),
])
def test_bad_spec_one_sentence(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        ExecutorSpec(**kwargs)  # type: ignore[arg-type]


def test_keys_must_match_tasks() -> None:
    with pytest.raises(SpecError, match="2 keys for 3 tasks"):
        run_tasks(square, [1, 2, 3], ExecutorSpec(), keys=["a", "b"])


def test_unreachable_scheduler_is_one_sentence() -> None:
    with pytest.raises(SpecError, match="could not reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_tasks(square, [1], ExecutorSpec.parse("dask", scheduler="tcp://127.0.0.1:9"))


@pytest.mark.slow
def test_killed_dask_worker_task_is_retried() -> None:
    """Two worker processes; once the first result is in, the worker that ran it is killed while the others
    run: every result still arrives, in order."""
    import signal

    ex = ExecutorSpec(kind="dask", workers=2, retries=3)
    killed: list[int] = []

    def on_done(_i: int, r: tuple[int, int]) -> None:
        if not killed:
            killed.append(r[1])
            os.kill(r[1], signal.SIGKILL)

    out = run_tasks(slow_square, list(range(6)), ex, keys=[f"k{i}" for i in range(6)], on_done=on_done)
    assert killed
    assert [r[0] for r in out] == [x * x for x in range(6)]

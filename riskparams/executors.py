"""Where independent tasks run: serially, on threads, on a process pool, or on a Dask cluster, behind one
function, :func:`run_tasks`. The only module that imports :mod:`dask` / :mod:`distributed`.

A task is a picklable value and the function applied to it a module-level pure function of that value
(a policy sweep ships arrays and policy dictionaries, never a store handle: workers never open DuckDB).
Results come back in the order of the tasks, whatever order they finish in; ``on_done(i, result)`` is
called in the calling process as each one finishes (progress bars).

Choices (:meth:`ExecutorSpec.parse` reads ``serial``, ``threads[:N]``, ``processes[:N]``, ``dask[:N]``):

* ``serial`` -- one after the other in the calling process.
* ``threads`` -- a thread pool of ``N`` (default 2) in the calling process.
* ``processes`` -- a pool of ``N`` spawned processes; each worker sets ``NUMBA_NUM_THREADS`` to
  ``threads_per_worker`` before anything imports numba and warms the compiled engine once
  (:func:`riskparams.fastgarch.compile_all`, read from numba's on-disk cache). A worker that dies breaks
  the pool: the tasks not finished are resubmitted on a new pool, at most ``retries`` times.
* ``dask`` -- a :class:`distributed.LocalCluster` of ``N`` worker processes (``threads_per_worker``
  threads each, the numba thread count the same, so ``N x threads`` never exceeds the cores), or, with
  ``scheduler='tcp://host:port'``, the existing cluster behind that scheduler (its workers need riskparams
  installed, the same version). A worker plugin warms numba on every worker, also on workers that join or
  restart later. Tasks are submitted with ``retries``: a task whose worker was killed or crashed is run
  again on another worker (Dask's scheduler notices the lost worker and reschedules its tasks; the
  retries cover tasks that raised because of it). ``processes=False`` runs the workers as threads of the
  calling process (an in-process cluster, for tests).
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from riskparams.exceptions import SpecError

T = TypeVar("T")
R = TypeVar("R")

KINDS = ("serial", "threads", "processes", "dask")
"""The executors."""
MAX_WORKERS = 1024
"""Largest worker count accepted."""
SCHEDULER_PATTERN = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[A-Za-z0-9._\-\[\]:/]{1,200}$")
"""A Dask scheduler address (``tcp://host:port``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorSpec:
    """Where tasks run (frozen, validated).

    Parameters
    ----------
    kind : {'serial', 'threads', 'processes', 'dask'}
    workers : int, optional
        Threads, processes or Dask workers (default 2; ignored when joining a scheduler).
    threads_per_worker : int, default 1
        Threads of each process or Dask worker, and its numba thread count.
    scheduler : str, optional
        ``tcp://host:port`` of an existing Dask scheduler (``kind='dask'`` only).
    processes : bool, default True
        Dask without a scheduler: worker processes (True) or threads of this process (an in-process
        cluster).
    retries : int, default 2
        How often a task whose worker died is run again.

    Examples
    --------
    >>> from riskparams.executors import ExecutorSpec
    >>> ExecutorSpec.parse("dask:4").label
    'dask (local cluster, 4 workers x 1 thread)'
    >>> ExecutorSpec.parse("gpu")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.SpecError: executor must be serial, threads[:N], processes[:N] or dask[:N], got 'gpu'
    """

    kind: str = "serial"
    workers: int | None = None
    threads_per_worker: int = 1
    scheduler: str | None = None
    processes: bool = True
    retries: int = 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpecError(f"executor must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for name, lo in (("workers", 1), ("threads_per_worker", 1), ("retries", 0)):
            v = getattr(self, name)
            if v is None and name == "workers":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= MAX_WORKERS:
                raise SpecError(f"{name} must be an integer from {lo} to {MAX_WORKERS}, got {v!r}")
        if self.scheduler is not None:
            if self.kind != "dask":
                raise SpecError(f"a scheduler address needs the dask executor, got executor {self.kind!r}")
            if not isinstance(self.scheduler, str) or not SCHEDULER_PATTERN.match(self.scheduler):
                raise SpecError(f"scheduler must be an address like tcp://host:8786, got {self.scheduler!r}")

    @classmethod
    def parse(cls, text: str | None, *, scheduler: str | None = None, threads_per_worker: int = 1) -> ExecutorSpec:
        """``serial``, ``threads[:N]``, ``processes[:N]`` or ``dask[:N]``; a ``scheduler`` implies ``dask``."""
        text = (text or ("dask" if scheduler else "serial")).strip().lower()
        m = re.fullmatch(r"(serial|threads|processes|dask)(?::(\d{1,4}))?", text)
        if m is None or (m.group(1) == "serial" and m.group(2)):
            raise SpecError(f"executor must be serial, threads[:N], processes[:N] or dask[:N], got {text!r}")
        return cls(kind=m.group(1), workers=None if m.group(2) is None else int(m.group(2)), scheduler=scheduler,
                   threads_per_worker=threads_per_worker)

    @property
    def n_workers(self) -> int:
        """Workers used (1 for serial)."""
        return 1 if self.kind == "serial" else (self.workers or 2)

    @property
    def label(self) -> str:
        """Plain words, e.g. ``'dask (local cluster, 2 workers x 1 thread)'``."""
        if self.kind == "serial":
            return "serial"
        if self.kind == "dask" and self.scheduler:
            return f"dask (scheduler {self.scheduler})"
        t = self.threads_per_worker
        if self.kind == "threads":
            return f"threads ({self.n_workers})"
        unit = "workers" if self.kind == "dask" else "processes"
        where = " (local cluster" + ("" if self.processes else ", in-process") + ", " if self.kind == "dask" else " ("
        return f"{self.kind}{where}{self.n_workers} {unit} x {t} thread{'s' if t > 1 else ''})"


def warm_worker(threads: int = 1) -> int:
    """Set this process's numba thread count (``NUMBA_NUM_THREADS`` before numba loads) and compile (from the
    on-disk cache) the engine once; returns the process id. Run once per worker process."""
    os.environ.setdefault("NUMBA_NUM_THREADS", str(threads))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    from riskparams import fastgarch

    fastgarch.compile_all()
    return os.getpid()


def _pool_init(threads: int) -> None:
    warm_worker(threads)


def run_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    executor: ExecutorSpec,
    *,
    keys: Sequence[str] | None = None,
    on_done: Callable[[int, R], None] | None = None,
) -> list[R]:
    """Apply ``fn`` to every task on ``executor``; results in the order of ``tasks``.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by reference for processes and Dask).
    tasks : sequence
        Picklable values.
    executor : ExecutorSpec
    keys : sequence of str, optional
        Unique names of the tasks (Dask task keys; content hashes make a resubmission of the same task reuse
        the scheduler's result).
    on_done : callable, optional
        ``on_done(i, result)``, called in the calling process as task ``i`` finishes.

    Raises
    ------
    Exception
        The first exception a task raised (after its retries).
    """
    n = len(tasks)
    if keys is not None and len(keys) != n:
        raise SpecError(f"keys must name every task: {len(keys)} keys for {n} tasks")
    out: list[Any] = [None] * n

    def done(i: int, r: R) -> None:
        out[i] = r
        if on_done is not None:
            on_done(i, r)

    if n == 0:
        return []
    if executor.kind == "serial":
        for i, t in enumerate(tasks):
            done(i, fn(t))
    elif executor.kind == "threads":
        from riskparams._blas import one_blas_thread

        # one BLAS thread as in the other executors' workers (the same digest everywhere), set from this thread
        with one_blas_thread(), ThreadPoolExecutor(max_workers=executor.n_workers) as ex:
            _drain({ex.submit(fn, t): i for i, t in enumerate(tasks)}, done)
    elif executor.kind == "processes":
        todo = list(range(n))
        attempt = 0
        while todo:
            ctx = multiprocessing.get_context("spawn")
            try:
                with ProcessPoolExecutor(max_workers=executor.n_workers, mp_context=ctx, initializer=_pool_init,
                                         initargs=(executor.threads_per_worker,)) as pool:
                    _drain({pool.submit(fn, tasks[i]): i for i in todo}, done)
                todo = []
            except BrokenProcessPool:
                attempt += 1
                todo = [i for i in todo if out[i] is None]
                if attempt > executor.retries:
                    raise
    else:
        _run_dask(fn, tasks, executor, keys, done)
    return out


def _drain(futs: dict[Future[Any], int], done: Callable[[int, Any], None]) -> None:
    pending = set(futs)
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for f in finished:
            done(futs[f], f.result())


class _WarmPlugin:
    """Dask worker plugin: numba threads and a warm compiled engine on every worker, also on one that (re)joins."""

    name = "riskparams-warm"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def setup(self, worker: Any) -> None:
        warm_worker(self.threads)


def _run_dask(fn: Callable[[T], R], tasks: Sequence[T], executor: ExecutorSpec, keys: Sequence[str] | None,
              done: Callable[[int, Any], None]) -> None:
    from distributed import Client, LocalCluster, WorkerPlugin, as_completed

    plugin_cls = type("RiskparamsWarm", (_WarmPlugin, WorkerPlugin), {})
    cluster = None
    if executor.scheduler:
        try:
            client = Client(executor.scheduler, timeout="10s")
        except OSError as exc:
            raise SpecError(f"could not reach the Dask scheduler at {executor.scheduler}: {exc}") from None
    else:
        tpw = executor.threads_per_worker
        kwargs: dict[str, Any] = {}
        if executor.processes:
            kwargs["env"] = {"NUMBA_NUM_THREADS": str(tpw), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                             "MKL_NUM_THREADS": "1"}
        cluster = LocalCluster(n_workers=executor.n_workers, threads_per_worker=tpw, processes=executor.processes,
                               dashboard_address=":0", silence_logs=40, **kwargs)
        client = Client(cluster)
    try:
        client.register_plugin(plugin_cls(executor.threads_per_worker))
        futs = {}
        for i, t in enumerate(tasks):
            key = None if keys is None else f"riskparams-{keys[i]}"
            futs[client.submit(fn, t, key=key, retries=executor.retries, pure=keys is not None)] = i
        for fut in as_completed(list(futs)):
            done(futs[fut], fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

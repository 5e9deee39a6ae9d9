"""One BLAS thread for numerical work whose result must not depend on the machine (:class:`one_blas_thread`)."""

from __future__ import annotations

import threading
from typing import Any

_BLAS_LOCK = threading.Lock()
_BLAS_STATE: list[Any] = [0, None]  # (fits running, the limit they set)


class one_blas_thread:  # a context manager named like a function
    """Run the enclosed numerical work with **one BLAS thread** (``threadpoolctl``), restoring the previous limit
    when the last concurrent user leaves.

    arch's optimiser and simulations call BLAS; with several BLAS threads the order of a few sums follows the
    thread count, so the same fit on the same data could differ in the last bits between a 2-core laptop, a
    64-core server and a Dask worker (which runs with one BLAS thread), and once in a while a rounded margin
    with them: one thread makes every fit reproducible everywhere. Fits are small; extra BLAS threads never
    made them faster. Nested uses share one limit. The limit is process-wide, but OpenBLAS honours a limit
    set from a worker thread only sometimes: enter it in the thread that starts a thread pool
    (:func:`riskparams.executors.run_tasks` does) rather than in the pool's threads.
    """

    def __enter__(self) -> one_blas_thread:
        from threadpoolctl import threadpool_limits

        with _BLAS_LOCK:
            if _BLAS_STATE[0] == 0:
                _BLAS_STATE[1] = threadpool_limits(limits=1, user_api="blas")
            _BLAS_STATE[0] += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with _BLAS_LOCK:
            _BLAS_STATE[0] -= 1
            if _BLAS_STATE[0] == 0 and _BLAS_STATE[1] is not None:
                _BLAS_STATE[1].restore_original_limits()
                _BLAS_STATE[1] = None

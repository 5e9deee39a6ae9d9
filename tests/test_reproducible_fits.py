"""Fits run with one BLAS thread (riskparams.volatility.one_blas_thread): the same fit on the same data gives the
same bits on a laptop, a server and a Dask worker (which runs with one BLAS thread). Found by the sweep
benchmark: 50 assets x 24 variants gave another digest on a Dask worker than in the calling process, because one
arch fallback fit of one asset differed in the last bits with 2 BLAS threads and moved a rounded margin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from riskparams import volatility
from riskparams.volatility import FitSpec, fit_returns, one_blas_thread


def _blas_threads() -> set[int]:
    return {int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"}


needs_blas = pytest.mark.skipif(not _blas_threads(), reason="no BLAS library loaded by numpy")


@needs_blas
def test_one_blas_thread_inside_and_the_old_limit_after() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads() == {2}
        with one_blas_thread():
            assert _blas_threads() == {1}
            with one_blas_thread():  # nested
                assert _blas_threads() == {1}
            assert _blas_threads() == {1}  # the outer use still holds the limit
        assert _blas_threads() == {2}


def _record(_task: int) -> set[int]:
    return _blas_threads()


@needs_blas
def test_a_thread_pool_sweep_runs_with_one_blas_thread() -> None:
    """The threads executor holds the limit from the calling thread (OpenBLAS does not always honour a limit set
    in a pool thread), so every task sees one BLAS thread, as on a Dask worker; the old limit comes back."""
    from riskparams.executors import ExecutorSpec, run_tasks

    with threadpool_limits(limits=2, user_api="blas"):
        seen = run_tasks(_record, list(range(6)), ExecutorSpec(kind="threads", workers=2))
        assert _blas_threads() == {2}
    assert seen == [{1}] * 6


@needs_blas
def test_fit_returns_runs_with_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[set[int]] = []
    real = volatility._fit_returns

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(_blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(volatility, "_fit_returns", spy)
    r = pd.Series(np.random.default_rng(3).standard_t(5, 600) * 0.02,
                  index=pd.date_range("2021-01-01", periods=600, freq="D", tz="UTC"))
    with threadpool_limits(limits=2, user_api="blas"):
        est = fit_returns(r, "1d", FitSpec(model="garch", engine="arch"))
        assert _blas_threads() == {2}
    assert seen == [{1}] and est.next_vol > 0

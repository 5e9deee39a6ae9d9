"""Policy sweeps (issue 16): running, storing and attaching them.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskparams.config import RiskPolicy
from riskparams.domain import (
    CurrentParams,
    Profile,
)
from riskparams.exceptions import (
    HistoryError,
    PolicyError,
)
from riskparams.jsonio import clean_float
from riskparams.service.backtests import backtest_data
from riskparams.service.impacts import joint_daily_returns
from riskparams.service.provenance import package_versions
from riskparams.store import Store
from riskparams.store.records import get_proposal

if TYPE_CHECKING:  # the backtest engine (scipy.stats, numba) loads on first use: pages start faster
    from riskparams.backtest import BacktestSpec, ProgressFn
    from riskparams.store.sweep_records import StoredSweepReport


@dataclass(frozen=True, slots=True)
class SweepRun:
    """A computed policy sweep and, when saved, its stored record (and the proposal it was attached to).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.sweep(store, profile="perp", grid=["confidence=0.99,0.995"], spec=spec)
    >>> run.report.fits, [v.changes for v in run.report.variants]
    (2, [{'confidence': 0.99}, {'confidence': 0.995}])
    """

    report: Any  # riskparams.backtest.sweep.SweepReport
    stored: Any  # riskparams.store.sweep_records.StoredSweep | None
    attached_to: str | None = None
    wall_s: float = 0.0

    @property
    def id(self) -> str:
        """The content hash of the sweep (the same under every executor)."""
        return str(self.stored.id if self.stored is not None else self.report.id)

    def to_dict(self) -> dict[str, Any]:
        """JSON for ``riskparams sweep --json``: ``id, created_at, stored_now, attached_to, executor, tasks,
        tasks_cached, wall_s`` (this run), then the content (``profile, grid, fits, n_variants, variants,
        frontier, ...``)."""
        content = self.report.content()
        head = {"id": self.id, "created_at": None if self.stored is None else self.stored.created_at_iso,
                "stored_now": bool(self.stored is not None and self.stored.is_new), "attached_to": self.attached_to,
                "executor": self.report.executor, "tasks": self.report.tasks,
                "tasks_cached": self.report.tasks_cached, "wall_s": clean_float(round(self.wall_s, 3))}
        return {**head, **content}


def sweep(
    store: Store,
    *,
    profile: Profile | str,
    grid: Any,
    policy: RiskPolicy | None = None,
    symbols: list[str] | None = None,
    freq: str | None = None,
    kind: str | None = None,
    spec: BacktestSpec | None = None,
    current: CurrentParams | None = None,
    executor: Any = None,
    scheduler: str | None = None,
    chunk: int | None = None,
    cache_dir: str | Path | None = None,
    attach: str | None = None,
    actor: str | None = None,
    save: bool = True,
    progress: ProgressFn | None = None,
    positions: str | Path | None = None,
) -> SweepRun:
    """Backtest every variant of a policy grid walk-forward on stored series, the fits shared, and find the
    frontier of average margin against bad debt (:mod:`riskparams.backtest.sweep`).

    Parameters
    ----------
    profile : {'perp', 'lending'}
    grid : SweepGrid, list of ``'KEY=V1,V2'`` or mapping key -> values
        Policy keys (as :func:`riskparams.config.policy_with` takes them) and their values.
    policy : RiskPolicy, optional
        The base policy (default ``RiskPolicy()``).
    symbols, freq, kind : optional
        The series, chosen as for a backtest (:func:`backtest_data`).
    spec : BacktestSpec, optional
        Period, cadence, engine, ... (its ``profile`` is replaced by ``profile``; default ``es_sims=0``: the
        sweep reports no ES backtest).
    current : CurrentParams, optional
        Parameters in force at the start of every replay.
    executor : ExecutorSpec or str, optional
        ``serial`` (default), ``threads[:N]``, ``processes[:N]``, ``dask[:N]``; ``scheduler`` joins an existing
        Dask cluster.
    chunk : int, optional
        Assets per task (default: all assets over twice the workers, at most 8).
    cache_dir : path, optional
        Finished tasks by content key: a rerun skips them.
    attach : str, optional
        A stored proposal id (same profile) to attach the stored sweep to.
    save : bool
        Store the sweep (one transaction, after every task finished: a failed sweep stores nothing).
    positions : path, optional
        Perpetual positions (:func:`riskparams.book.load_positions`): each variant also gets
        ``var_insolvent_debt``, the 99th percentile of the book's one-day bad debt over 1,000 bootstrapped joint
        daily moves (:func:`joint_daily_returns`) under the tier tables the variant had in force at the end.

    Raises
    ------
    PolicyError
        A bad grid key or value, an unknown profile, ``attach`` without ``save`` or of the other profile.
    SpecError
        A bad executor or scheduler address.
    HistoryError
        No asset could be backtested.

    Examples
    --------
    Two confidences on one synthetic asset, monthly proposals: both share the walk-forward fits (GARCH and
    GJR; EGARCH sits out beyond one bar), the higher confidence costs margin:

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.sweep(store, profile="perp", grid={"confidence": [0.99, 0.995]}, spec=spec)
    >>> low, high = run.report.variants
    >>> run.report.fits, high.avg_margin > low.avg_margin, len(run.id)
    (2, True, 64)
    """
    import time

    from riskparams.backtest import BacktestSpec
    from riskparams.backtest.sweep import SweepGrid, parse_grid, run_sweep
    from riskparams.executors import ExecutorSpec
    from riskparams.store.sweep_records import attach_sweep, save_sweep

    t0 = time.perf_counter()
    profile = Profile.parse(profile, error=PolicyError)
    policy = RiskPolicy() if policy is None else policy
    spec = BacktestSpec(profile=profile, es_sims=0) if spec is None else replace(spec, profile=profile)
    if isinstance(grid, SweepGrid):
        g = grid
    elif isinstance(grid, Mapping):
        g = SweepGrid(axes=tuple((str(k), tuple(v)) for k, v in grid.items()))
    else:
        g = parse_grid(list(grid))
    ex = executor if isinstance(executor, ExecutorSpec) else ExecutorSpec.parse(executor, scheduler=scheduler)
    if current is not None and current.profile != profile:
        raise PolicyError(f"the current parameters ({current.source}) are for {current.profile}, the sweep is for "
                          f"{profile}")
    if attach is not None and not save:
        raise PolicyError("attaching a sweep needs it stored (save=True)")
    target = None
    if attach is not None:
        target = get_proposal(store, attach)
        if target.profile != profile:
            raise PolicyError(f"proposal {target.id[:12]} is for {target.profile}, the sweep is for {profile}")
    data, skipped = backtest_data(store, symbols, freq=freq, kind=kind, profile=profile, end=spec.end,
                                  min_returns=policy.model.min_history)
    if not data:
        reasons = "; ".join(f"{s.symbol}: {s.reason}" for s in skipped) or "no stored series"
        raise HistoryError(f"no asset can be swept ({reasons}).")
    book, book_returns = None, None
    if positions is not None:
        from riskparams.book import load_positions

        if profile is not Profile.PERP:
            raise PolicyError("--positions is supported for perp sweeps only")
        from riskparams.book import Book

        book = load_positions(positions, "perp")
        assert isinstance(book, Book)
        book_returns = joint_daily_returns(store, list(book.symbol_ids))
    if chunk is None:
        chunk = max(1, min(8, -(-len(data) // (2 * ex.n_workers))))
    report = run_sweep(data, policy, g, spec, current=None if current is None else dict(current.assets), executor=ex,
                       chunk=chunk, cache_dir=cache_dir, progress=progress,
                       provenance={"packages": package_versions()}, book=book, book_returns=book_returns)
    if skipped:
        report = replace(report, skipped=tuple(sorted([*report.skipped, *((-1, s.symbol, s.reason) for s in skipped)])))
    stored = save_sweep(store, report.content()) if save else None
    attached = None
    if target is not None and stored is not None:
        attach_sweep(store, target.id, stored.id, actor=actor)
        attached = target.id
    wall = time.perf_counter() - t0
    return SweepRun(replace(report, wall_s=wall), stored, attached, wall)


def attach_sweep(store: Store, proposal_id: str, sweep_id: str, *, actor: str | None = None) -> bool:
    """Attach a stored sweep to a stored proposal; True when a new link was written."""
    from riskparams.store.sweep_records import attach_sweep as _attach

    return _attach(store, proposal_id, sweep_id, actor=actor)


def attached_sweep(store: Store, proposal_id: str) -> StoredSweepReport | None:
    """The sweep attached last to a proposal, typed (:class:`~riskparams.store.sweep_records.StoredSweepReport`:
    ``.id``, ``.variants``, ``.frontier``, ...; ``.to_dict()`` is its content with ``id``), or None.

    Raises
    ------
    ProposalNotFoundError
        No stored proposal matches ``proposal_id``.
    DataError
        The attached sweep's content is of another format or shape.
    """
    from riskparams.store.sweep_records import latest_attached_sweep

    got = latest_attached_sweep(store, proposal_id)
    return None if got is None else got.report

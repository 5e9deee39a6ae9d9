"""Orchestration of a backtest: validation of the run, preparation of every asset, the compiled walk-forward of
all of them at once, the per-asset evaluation (serial, threads or processes) with progress, and the report.
Part of :mod:`riskparams.backtest`."""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from riskparams import fastgarch
from riskparams.backtest.estimates import _Estimates, _fast_runs, _fast_schedule, _fast_status, _model_label
from riskparams.backtest.evaluate import _cost_model, _evaluate_set, _tier_moves
from riskparams.backtest.params import FixedParameters, _LendSet, _Params, _PerpSet
from riskparams.backtest.phases import split_phases
from riskparams.backtest.prepare import _prepare, _Prepared
from riskparams.backtest.replay import _apply_lag, _replay_policy, quiet
from riskparams.backtest.results import AssetBacktest, AssetData, BacktestReport
from riskparams.backtest.spec import POLICY_SET, BacktestSpec, Engine, default_population
from riskparams.config import RiskPolicy
from riskparams.coverage import adverse_moves
from riskparams.domain import CurrentLending, CurrentPerp, Profile
from riskparams.exceptions import PolicyError, RiskParamsError
from riskparams.liquidation import drawdown_episodes, generate_population
from riskparams.volatility import ModelName, sample_vol

ProgressFn = Callable[[int, int, str], None]
"""``progress(done, total, message)``: called as work completes (from worker threads too)."""


class _Progress:
    """Thread-safe counter around the caller's ``progress(done, total, message)``."""

    def __init__(self, fn: ProgressFn | None, total: int) -> None:
        self.fn = fn
        self.total = max(int(total), 1)
        self.done = 0
        self.lock = threading.Lock()

    def add(self, total: int) -> None:
        with self.lock:
            self.total += total

    def step(self, message: str, n: int = 1) -> None:
        with self.lock:
            self.done = min(self.done + n, self.total)
            done, total = self.done, self.total
        if self.fn is not None:
            self.fn(done, total, message)



def _evaluate_asset(
    p: _Prepared,
    policy: RiskPolicy,
    spec: BacktestSpec,
    fixed: Sequence[FixedParameters],
    current: CurrentPerp | CurrentLending | None,
    fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None,
    tick: Callable[[str], None],
    estimates: _Estimates | None = None,
    lean: bool = False,
) -> AssetBacktest:
    lending = spec.profile is Profile.LENDING
    sym = p.data.symbol.upper()
    t0, t1, h = p.t0, p.t1, p.h
    policy = p.policy  # as evaluated: perps with every margin period of risk at least one bar
    replay = _apply_lag(_replay_policy(p, policy, spec, spec.profile, current, fast, tick, estimates, lean), p,
                        spec.execution_lag_days, current)
    # adverse moves over the period (windows cut at the last bar of the data read)
    close, high, low = p.close[: t1 + 1], p.high[: t1 + 1], p.low[: t1 + 1]
    a_long = adverse_moves(close, high, low, h, "long")[t0: t1 + 1]
    a_short = adverse_moves(close, high, low, h, "short")[t0: t1 + 1]
    n_obs = t1 + 1 - t0 - h
    a_long, a_short = a_long[:n_obs], a_short[:n_obs]
    prices_period = p.data.prices.iloc[t0: t1 + 1][["open", "high", "low", "close"]]
    stress = drawdown_episodes(prices_period["close"], n=spec.n_episodes, windows=spec.windows)
    pop_spec = spec.population or default_population(spec.profile, p.data.freq)
    population = generate_population(pop_spec, pd.DatetimeIndex(prices_period.index))
    hist_lookback = sample_vol(p.r[: int(p.nk[t0])])
    cost, cost_inputs = (None, {}) if lending else _cost_model(p, policy, hist_lookback)
    # ES/VaR ratio of the policy's estimate in force at each period bar (used by every set's ES test)
    period = np.arange(t0, t1 + 1)
    ratio_bar = replay.es_ratio[np.searchsorted(replay.version_bar, period, side="right") - 1]
    tier_moves = None if lending else _tier_moves(p, policy, close, high, low)
    common = dict(policy=policy, spec=spec, adv_long=a_long, adv_short=a_short, stress=stress,
                  prices_period=prices_period, population=population, cost=cost, tier_moves=tier_moves)
    lag_text = f", execution lag {spec.execution_lag_days:g} days" if spec.execution_lag_days > 0 else ""
    pol_set = _evaluate_set(p, name=POLICY_SET, kind="policy", source=f"walk-forward replay, cadence "
                            f"{spec.cadence_days:g} days{lag_text}", bars=replay.version_bar, versions=replay.versions,
                            es_ratio=ratio_bar, records=replay.records, proposals=replay.proposals,
                            claimed=(replay.claimed_rate, replay.room, replay.stressed),
                            **common)  # type: ignore[arg-type]
    phases = split_phases(replay, t0=t0, dates=p.ts[t0: t1 + 1], freq=p.data.freq, margin=pol_set.margin,
                          exceptions=pol_set.exceptions, horizon_bars=h, confidence=policy.confidence,
                          lag_days=spec.execution_lag_days, max_days=spec.warmup_max_days,
                          dead_band=policy.guardrails.dead_band)
    sets = [replace(pol_set, phases=phases)]
    notes = list(p.notes)
    for fp in fixed:
        par = fp.assets.get(sym)
        if par is None:
            notes.append(f"parameter set {fp.name!r} ({fp.source}) has no {sym}")
            continue
        v: _Params = _PerpSet.from_current(par) if isinstance(par, CurrentPerp) else _LendSet.from_current(par)
        sets.append(_evaluate_set(p, name=fp.name, kind="fixed", source=fp.source,
                                  bars=np.asarray([t0], dtype=np.int64), versions=(v,), es_ratio=ratio_bar,
                                  records=(), proposals=(), **common))  # type: ignore[arg-type]
    model_label = _model_label(policy.model, spec, p.term_k)
    live_tier1: dict[str, float] = {}
    if not lending:
        period = np.arange(t0, t1 + 1)
        vix = np.searchsorted(replay.version_bar, period, side="right") - 1
        lv = replay.live[vix]
        live_tier1 = {"mpor_hours": p.live_hours, "avg_mmf": float(np.nanmean(lv[:, 0])) if np.isfinite(
            lv[:, 0]).any() else math.nan, "avg_max_leverage": float(np.nanmean(lv[:, 1])) if np.isfinite(
            lv[:, 1]).any() else math.nan}
    return AssetBacktest(
        symbol=sym, freq=p.data.freq, source=p.data.source, kind=p.data.kind, synthetic=p.data.synthetic,
        fingerprint=p.data.fingerprint, dates=p.ts[t0: t1 + 1], obs=n_obs, adverse_long=a_long,
        adverse_short=a_short, horizon_bars=h, window=p.window, model=model_label,
        schedule=_fast_schedule(fast) if spec.engine is Engine.FAST else "refit on cadence bars",
        fast_status=_fast_status(fast), notes=tuple(notes)
        + ((f"{replay.arch_fallbacks} cadence bar(s) fitted by arch after the fast fit failed",)
           if replay.arch_fallbacks else ()),
        stress=stress, sets=tuple(sets), population=pop_spec, cost_model=cost_inputs, live_tier1=live_tier1,
    )


def _asset_job(args: tuple[Any, ...]) -> AssetBacktest:
    """Worker entry of a process pool (module level; the policy travels as its dictionary, since its
    read-only mappings do not pickle)."""
    from riskparams.config import policy_from_dict

    p, policy_dict, spec, fixed, current, fast = args
    return _evaluate_asset(p, policy_from_dict(policy_dict), spec, fixed, current, fast, quiet)


def backtest_asset(
    data: AssetData,
    policy: RiskPolicy,
    spec: BacktestSpec,
    *,
    current: CurrentPerp | CurrentLending | None = None,
    fixed: Sequence[FixedParameters] = (),
) -> AssetBacktest:
    """Backtest one asset (see the module docstring): the policy replay and the fixed sets.

    Parameters
    ----------
    data : AssetData
    policy : RiskPolicy
    spec : BacktestSpec
    current : CurrentPerp or CurrentLending, optional
        The parameters in force at the start: the policy replay's first guardrails. (To also evaluate
        them as a fixed set, pass them in ``fixed`` too.)
    fixed : sequence of FixedParameters

    Raises
    ------
    HistoryError
        Too little history for the window and one horizon, or no volume for the ADV.
    """
    report = run_backtest([data], policy, spec, current=None if current is None else {data.symbol.upper(): current},
                          fixed=fixed, backend="serial", skip_failures=False)
    return report.assets[0]


def run_backtest(
    data: Sequence[AssetData],
    policy: RiskPolicy,
    spec: BacktestSpec,
    *,
    current: Mapping[str, CurrentPerp | CurrentLending] | None = None,
    fixed: Sequence[FixedParameters] = (),
    progress: ProgressFn | None = None,
    backend: str = "threads",
    n_workers: int | None = None,
    provenance: Mapping[str, Any] | None = None,
    skip_failures: bool = True,
) -> BacktestReport:
    """Backtest several assets: the policy replay and every fixed set, side by side.

    Parameters
    ----------
    data : sequence of AssetData
        One series per asset (symbols unique).
    policy : RiskPolicy
    spec : BacktestSpec
    current : mapping symbol -> CurrentPerp or CurrentLending, optional
        Parameters in force at the start of the policy replay (its first guardrails).
    fixed : sequence of FixedParameters
        Fixed sets to evaluate (``current`` as a set, files, stored proposals); names unique and not
        ``'policy'``.
    progress : callable, optional
        ``progress(done, total, message)``; may be called from worker threads.
    backend : {'threads', 'processes', 'serial'}
        How assets are evaluated in parallel (the fast engine always runs all assets in one compiled
        call with numba threads unless ``'serial'``). Measured on 2 cores (``benchmarks/backtest.py``,
        10 assets x 1000 days, weekly cadence): threads 3.4 s, processes (2 spawned workers) 4.3 s,
        serial 4.8 s; threads are the default (numpy and scipy release the GIL in the heavy parts, a
        process pool pays for spawning and for pickling the frames and results).
    n_workers : int, optional
        Workers for the per-asset evaluation (default: 2).
    provenance : mapping, optional
        Stored in the report (package versions; the data fingerprints are added from ``data``).
    skip_failures : bool
        An asset with too little history (or another :class:`RiskParamsError`) is skipped with its
        reason instead of failing the run.

    Returns
    -------
    BacktestReport
    """
    if backend not in ("threads", "processes", "serial"):
        raise PolicyError(f"backend must be 'threads', 'processes' or 'serial', got {backend!r}")
    names = [f.name for f in fixed]
    if len(set(names)) != len(names) or POLICY_SET in names:
        raise PolicyError(f"parameter set names must be unique and not {POLICY_SET!r}, got {names}")
    for f in fixed:
        if f.profile != spec.profile:
            raise PolicyError(f"parameter set {f.name!r} ({f.source}) is for {f.profile}, the backtest is for "
                              f"{spec.profile}")
    syms = [d.symbol.upper() for d in data]
    if len(set(syms)) != len(syms):
        raise PolicyError(f"each asset may appear once, got {syms}")
    cur_map = {k.upper(): v for k, v in (current or {}).items()}
    for sym, c in cur_map.items():
        want = CurrentPerp if spec.profile is Profile.PERP else CurrentLending
        if not isinstance(c, want):
            raise PolicyError(f"current parameters of {sym} are not {spec.profile} parameters")
    skipped: list[tuple[str, str]] = []
    prepared: list[_Prepared] = []
    for d in data:
        try:
            prepared.append(_prepare(d, policy, spec))
        except RiskParamsError as exc:
            if not skip_failures:
                raise
            skipped.append((d.symbol.upper(), str(exc)))
    per_asset = [len(p.cadence) if spec.engine is Engine.ARCH else 1 for p in prepared]
    prog = _Progress(progress, 1 + sum(per_asset))
    t_fast = time.perf_counter()
    fast = _fast_runs(prepared, policy, spec, backend)
    prog.step(f"forecasts for {len(prepared)} asset(s) in {time.perf_counter() - t_fast:.1f}s")
    results: dict[int, AssetBacktest] = {}
    jobs = [(p, policy, spec, tuple(fixed), cur_map.get(p.data.symbol.upper()), fast[i])
            for i, p in enumerate(prepared)]

    def run_one(i: int) -> AssetBacktest:
        if spec.engine is Engine.ARCH:
            return _evaluate_asset(*jobs[i], lambda m: prog.step(m))  # type: ignore[misc]
        return _evaluate_asset(*jobs[i], quiet)  # type: ignore[misc]

    def record(i: int, res: AssetBacktest | None, err: BaseException | None) -> None:
        sym = prepared[i].data.symbol.upper()
        if err is not None:
            if not skip_failures or not isinstance(err, RiskParamsError):
                raise err
            skipped.append((sym, str(err)))
        else:
            assert res is not None
            results[i] = res
        if spec.engine is not Engine.ARCH:
            prog.step(f"{sym} done")

    if backend == "serial" or len(jobs) <= 1:
        for i in range(len(jobs)):
            try:
                record(i, run_one(i), None)
            except RiskParamsError as exc:
                record(i, None, exc)
    else:
        workers = n_workers or 2
        executor: Executor
        if backend == "processes":
            executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        else:
            executor = ThreadPoolExecutor(max_workers=workers)
        with executor as ex:
            pol_dict = policy.to_dict()
            futs = {(ex.submit(_asset_job, (jobs[i][0], pol_dict, *jobs[i][2:])) if backend == "processes"
                     else ex.submit(run_one, i)): i for i in range(len(jobs))}
            for fut in as_completed(futs):
                i = futs[fut]
                err = fut.exception()
                if err is not None and not isinstance(err, RiskParamsError):
                    raise err
                if backend == "processes" and spec.engine is Engine.ARCH:
                    prog.step(f"{prepared[i].data.symbol.upper()} done", n=per_asset[i])
                record(i, None if err is not None else fut.result(), err)
    assets = tuple(results[i] for i in sorted(results))
    prov = dict(provenance or {})
    prov["data"] = {a.symbol: a.fingerprint for a in assets}
    return BacktestReport(profile=spec.profile, spec=spec, policy=policy,
                          assets=tuple(sorted(assets, key=lambda a: a.symbol)),
                          skipped=tuple(sorted(skipped)), provenance=prov)

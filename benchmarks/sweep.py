"""Benchmark of policy sweeps (issue 16): shared fits against independent backtests, and Dask scaling.

Usage::

    python benchmarks/sweep.py [--assets 50] [--years 5] [--variants 24] [--independent 3] [--hourly N]
                               [--db /tmp/r1.duckdb] [--reps 1] [--json]

* Daily: ``--assets`` **synthetic** daily series (:func:`riskparams.ingest.demo.random_walk_ohlc`, fat-tailed,
  volatilities 2-6 %, ``--years`` of bars each), a 24-variant grid (confidence 0.99/0.995/0.999 x margin period
  24/48h x APC buffer on/off x long-run floor on/off), a 500-bar window, weekly proposals, no ES p-value.
* ``wall_s``: the sweep on the serial executor (the compiled walk-forward still uses numba's threads across
  assets, as a backtest does); ``fits``: walk-forwards it ran; ``variants``.
* ``speedup_shared``: the time of 24 independent backtests (:func:`riskparams.backtest.run_backtest` of each
  variant, default thread backend) / ``wall_s``. With ``--independent K < variants`` only K of them are timed
  and the total is extrapolated (``independent_extrapolated`` says so: every variant of this grid costs about
  the same alone).
* ``dask_scaling``: the same sweep on a 1-worker / a 2-worker local Dask cluster (1 thread and 1 numba thread
  per worker, fresh cache), time ratio; ``--chunk`` assets per task (default a tenth of the daily assets, an
  eighth of the hourly series: equal shares for 2 workers).
* ``--assets 0``: the hourly case only; ``--independent 0``: no independent backtests (no ``speedup_shared``).
* ``--hourly N``: the same on N hourly perp series x 1 year of real data read from a copy of ``--db`` (the
  shared store ``/tmp/r1.duckdb``), window 24 x 250 bars, daily refits (``refit_every=24``).

The machine may be shared: ``load_avg`` (1-minute load average before and after) is in the output; take the
median of ``--reps`` repetitions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

from riskparams.backtest import AssetData, BacktestSpec, run_backtest
from riskparams.backtest.sweep import clear_memo, grid_policies, parse_grid, run_sweep
from riskparams.config import RiskPolicy
from riskparams.executors import ExecutorSpec
from riskparams.ingest.demo import random_walk_ohlc
from riskparams.jsonio import pretty_json
from riskparams.returns import data_fingerprint

GRID = ["confidence=0.99,0.995,0.999", "mpor.fixed_hours=24,48", "apc.buffer_enabled=false,true",
        "apc.long_run_floor_enabled=true,false"]


def synthetic(n: int, years: float) -> list[AssetData]:
    bars = int(years * 365.25)
    out = []
    for i in range(n):
        px = random_walk_ohlc(bars, seed=100 + i, vol=0.02 + 0.04 * (i % 5) / 4, start="2019-01-01").assign(volume=1e7)
        out.append(AssetData(symbol=f"S{i:03d}-SYN", freq="1d", prices=px, source="synthetic", synthetic=True,
                             fingerprint=data_fingerprint(px)))
    return out


def hourly(db: str, n: int) -> list[AssetData]:
    from riskparams.service import backtest_data, open_store

    tmp = tempfile.mkdtemp(prefix="sweepbench-")
    path = os.path.join(tmp, "r1.duckdb")
    shutil.copy(db, path)
    with open_store(path) as store:  # a copy: upgraded to this schema when opened
        syms = sorted({s.symbol for s in store.list_series() if s.freq == "1h" and s.kind == "perp"})[:n]
        data, _ = backtest_data(store, syms, freq="1h", kind="perp", profile="perp")
    shutil.rmtree(tmp, ignore_errors=True)
    out = []
    for d in data:  # the last year of each series (plus the window)
        px = d.prices.iloc[-(24 * 365 + 24 * 250):]
        out.append(AssetData(symbol=d.symbol, freq=d.freq, prices=px, source=d.source, kind=d.kind,
                             fingerprint=data_fingerprint(px)))
    return out


def load() -> float:
    return os.getloadavg()[0]


def timed(fn: Any, reps: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(reps):
        clear_memo()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def case(data: list[AssetData], spec: BacktestSpec, grid: list[str], independent: int, reps: int,
         dask: bool, chunk: int) -> dict[str, Any]:
    g = parse_grid(grid)
    base = RiskPolicy()
    la0 = load()
    wall, rep = timed(lambda: run_sweep(data, base, g, spec, executor="serial"), reps)
    pols = [p for _c, p in grid_policies(base, g)]
    k = min(independent, len(pols))
    out: dict[str, Any] = {
        "assets": len(data), "freq": data[0].freq, "bars": len(data[0].prices), "wall_s": round(wall, 2),
        "fits": rep.fits, "variants": len(rep.variants), "frontier": len(rep.frontier), "digest": rep.id,
    }
    if k:  # --independent 0: the sweep and Dask only
        t = time.perf_counter()
        for pol in pols[:k]:
            run_backtest(data, pol, spec)
        indep = (time.perf_counter() - t) * len(pols) / k
        out.update({"independent_s": round(indep, 2), "independent_timed": k,
                    "independent_extrapolated": k < len(pols), "speedup_shared": round(indep / wall, 2)})
    if dask:
        out["chunk"] = chunk
        one, r1 = timed(lambda: run_sweep(data, base, g, spec, chunk=chunk, executor=ExecutorSpec(kind="dask", workers=1)),
                        reps)
        two, r2 = timed(lambda: run_sweep(data, base, g, spec, chunk=chunk, executor=ExecutorSpec(kind="dask", workers=2)),
                        reps)
        out.update({"dask_1_worker_s": round(one, 2), "dask_2_workers_s": round(two, 2),
                    "dask_scaling": round(one / two, 2), "same_digest": r1.id == r2.id == rep.id})
    out["load_avg"] = [round(la0, 2), round(load(), 2)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, default=50)
    ap.add_argument("--years", type=float, default=5.0)
    ap.add_argument("--variants", type=int, default=24, help="first N variants of the 24-variant grid")
    ap.add_argument("--independent", type=int, default=24, help="independent backtests timed (rest extrapolated)")
    ap.add_argument("--hourly", type=int, default=0, help="also N hourly perp series x 1 year of real data")
    ap.add_argument("--db", default="/tmp/r1.duckdb")
    ap.add_argument("--chunk", type=int, default=0,
                    help="assets per Dask task (default: a tenth of the daily assets, an eighth of the hourly "
                         "series, so 2 workers get equal shares)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    grid = GRID
    if args.variants < 24:  # shrink the last axes first
        grid = ["confidence=0.99,0.995,0.999", "mpor.fixed_hours=24,48"][: 1 + (args.variants > 3)]
    spec = BacktestSpec(window=500, cadence_days=7, es_sims=0)
    result: dict[str, Any] = {"cores": os.cpu_count(), "grid": grid}
    if args.assets > 0:  # --assets 0: the hourly case only
        result["daily"] = case(synthetic(args.assets, args.years), spec, grid, args.independent, args.reps,
                               not args.no_dask, args.chunk or max(1, args.assets // 10))
        result["daily"]["synthetic"] = True
        print(pretty_json(result["daily"]), file=sys.stderr)
    if args.hourly:
        hspec = BacktestSpec(window=24 * 250, cadence_days=7, es_sims=0, refit_every=24)
        result["hourly"] = case(hourly(args.db, args.hourly), hspec, grid, args.independent, args.reps,
                                not args.no_dask, args.chunk or max(1, args.hourly // 8))
    first = result.get("daily") or result.get("hourly") or {}
    for k in ("wall_s", "fits", "variants", "speedup_shared", "dask_scaling"):
        result[k] = first.get(k)
    if args.json:
        print(pretty_json(result))
    else:
        for name in ("daily", "hourly"):
            if name in result:
                print(name, " ".join(f"{k}={v}" for k, v in result[name].items() if k != "digest"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

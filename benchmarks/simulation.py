"""Benchmark of the two simulations that run before a user sees a number: the liquidation
simulation of a backtest and the demo universe seeded into an empty store.

Usage::

    python benchmarks/simulation.py [--positions N] [--bars B] [--repeats R] [--json]

What it does
------------
* **Liquidation simulation.** :func:`riskparams.liquidation.simulate_liquidations` of ``N``
  positions (default 10,000; holding 10 to 200 bars, the default leverage and notional draws) over
  ``B`` daily bars (default 2,000) of a Student-t(3) random walk with 3 % daily volatility, under a
  static three-tier schedule (3/5/10 % maintenance margin), a 2-bar close-out horizon. The
  population is drawn once; the figure is the median of ``R`` runs (default 5) of the simulation.
* **Demo universe.** :func:`riskparams.ingest.demo.generate_demo_universe` with its defaults
  (10 assets, ~4 years of daily bars, hourly bars for two): median of ``R`` runs.

The machine is shared: the load average at start and end is printed next to the timings. These
figures used to be assertions in the tests (``< 3 s``, ``< 5 s``); they are measured here instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from riskparams.ingest.demo import generate_demo_universe, random_walk_ohlc
from riskparams.liquidation import (
    MarginSchedule,
    PopulationSpec,
    Tier,
    generate_population,
    simulate_liquidations,
)

TIERS = (
    Tier(notional_floor=0, notional_cap=100_000, mmf=0.03, penalty=0.01, imf=0.05, close_out_cost=0.002),
    Tier(notional_floor=100_000, notional_cap=1_000_000, mmf=0.05, penalty=0.015, imf=0.10, close_out_cost=0.005),
    Tier(notional_floor=1_000_000, mmf=0.10, penalty=0.02, imf=0.20, close_out_cost=0.01),
)


def _median_time(fn: Any, repeats: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs


def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"positions": args.positions, "bars": args.bars, "repeats": args.repeats}
    out["load_avg_start"] = os.getloadavg()[0]
    prices = random_walk_ohlc(args.bars, 7, vol=0.03, start="2020-01-01")
    population = generate_population(PopulationSpec(count=args.positions, seed=2, holding_bars=(10, 200)),
                                     prices.index)
    schedule = MarginSchedule.static("s", TIERS)
    result = simulate_liquidations(prices, schedule, population, horizon_bars=2)  # warm-up
    out["liquidations"] = int(result.liquidations)
    med, runs = _median_time(lambda: simulate_liquidations(prices, schedule, population, horizon_bars=2),
                             args.repeats)
    out["liquidation_s"] = med
    out["liquidation_runs_s"] = runs
    med, runs = _median_time(lambda: generate_demo_universe(seed=5), args.repeats)
    out["demo_universe_s"] = med
    out["demo_universe_runs_s"] = runs
    out["load_avg_end"] = os.getloadavg()[0]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--positions", type=int, default=10_000)
    p.add_argument("--bars", type=int, default=2_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.positions < 1 or args.bars < 250 or args.repeats < 1:
        p.error("--positions and --repeats must be >= 1 and --bars >= 250")
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"load avg {out['load_avg_start']:.2f} -> {out['load_avg_end']:.2f} on {os.cpu_count()} cores")
    print(f"liquidation simulation  {out['positions']:,} positions x {out['bars']:,} bars: "
          f"{out['liquidation_s']:.3f} s (median of {out['repeats']}; {out['liquidations']:,} liquidations)")
    print(f"demo universe           {out['demo_universe_s']:.3f} s (median of {out['repeats']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

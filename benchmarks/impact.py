"""Benchmark of the book impact: :func:`riskparams.book.impact.book_impact` on a large synthetic book.

Usage::

    python benchmarks/impact.py [--positions N] [--assets K] [--repeat R] [--json]

A book of N positions (default 100,000) over K assets (default 10) is drawn once with the demo-book shapes
(lognormal notionals, leverage about 7x with a tail, a fifth of the positions in cross accounts of two to
four positions; :mod:`riskparams.ingest.demo_book`), each asset with a four-tier table. Each timed run is one
full :func:`~riskparams.book.impact.book_impact`: now, the covered move down and up, and the four standard shocks
(7 scenarios). Reading the file is timed separately (``load_median_s``: CSV of the same book), and one
simulation of ``--sims`` bootstraps of Student-t joint returns (``simulation_s``: all bootstraps evaluated at
once, in chunks: :func:`~riskparams.book.impact.evaluate_many`; target 1,000 bootstraps under 5 s,
``simulation_within_target``), and one liquidation waterfall along a 5-day stress path with partial liquidation,
a fund and ADL (``waterfall_s``: :func:`~riskparams.book.waterfall.run_waterfall`). The medians over
``--repeat`` runs are reported; the target is under 5 s for the impact on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from riskparams.book import load_positions
from riskparams.book.impact import book_impact, simulate_impact
from riskparams.book.waterfall import WaterfallSpec, run_waterfall
from riskparams.domain import CurrentPerpTier
from riskparams.ingest.demo_book import demo_book

TARGET_S = 5.0


def _tiers() -> list[CurrentPerpTier]:
    return [CurrentPerpTier(notional_floor=0, notional_cap=1e6, max_leverage=20, maintenance_rate=0.025),
            CurrentPerpTier(notional_floor=1e6, notional_cap=5e6, max_leverage=10, maintenance_rate=0.05),
            CurrentPerpTier(notional_floor=5e6, notional_cap=2e7, max_leverage=5, maintenance_rate=0.1),
            CurrentPerpTier(notional_floor=2e7, notional_cap=None, max_leverage=3, maintenance_rate=0.15)]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the medians (``--json``: as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--assets", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sims", type=int, default=1000, help="bootstraps of the simulation, timed once (0: skip)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    symbols = [f"A{i:02d}" for i in range(args.assets)]
    book = demo_book(args.positions + 8, symbols=symbols, seed=1)
    # exactly N positions: the first N rows of the drawn book (a cut cross account keeps one equity: still valid)
    with tempfile.TemporaryDirectory() as tmp:
        path = book.write_csv(Path(tmp) / "full.csv")
        lines = path.read_text(encoding="utf-8").splitlines()[: args.positions + 1]
        exact = Path(tmp) / "book.csv"
        exact.write_text("\n".join(lines) + "\n", encoding="utf-8")
        loads = []
        for _ in range(max(1, min(args.repeat, 3))):
            t0 = time.perf_counter()
            loaded = load_positions(exact, "perp")
            loads.append(time.perf_counter() - t0)
    tables = {s: _tiers() for s in symbols}
    times = []
    report: Any = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        report = book_impact(loaded, tables, covered_moves=0.1)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
    sim_s = None
    if args.sims > 0:
        import numpy as np

        returns = np.random.default_rng(0).standard_t(4, (1500, len(symbols))) * 0.03
        t0 = time.perf_counter()
        simulate_impact(loaded, tables, returns, n_sims=args.sims)  # type: ignore[arg-type]
        sim_s = time.perf_counter() - t0
    import numpy as np

    path = np.tile(np.linspace(-0.02, -0.12, len(symbols)), (5, 1))
    t0 = time.perf_counter()
    run_waterfall(loaded, tables, path, WaterfallSpec(close_factor=0.5, insurance_fund=1e6, adl=True,  # type: ignore[arg-type]
                                                      penalty_to_fund=0.5))
    waterfall_s = time.perf_counter() - t0
    out = {
        "positions": len(loaded), "assets": len(loaded.symbol_ids), "accounts": len(loaded.account_ids),  # type: ignore[union-attr]
        "scenarios": len(report.scenarios), "repeat": args.repeat,
        "impact_median_s": statistics.median(times), "load_median_s": statistics.median(loads),
        "sims": args.sims, "simulation_s": sim_s, "target_s": TARGET_S, "within_target": statistics.median(times) < TARGET_S,
        "simulation_within_target": None if sim_s is None else sim_s * 1000 / args.sims < TARGET_S,
        "waterfall_steps": int(path.shape[0]), "waterfall_s": waterfall_s,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"impact of {out['positions']:,} positions x {out['assets']} assets ({out['accounts']:,} accounts, "
              f"{out['scenarios']} scenarios): median {out['impact_median_s']:.3f} s over {args.repeat} runs "
              f"(target < {TARGET_S:g} s); reading the CSV: median {out['load_median_s']:.3f} s"
              + ("" if sim_s is None else f"; simulation of {args.sims:,} bootstraps: {sim_s:.2f} s")
              + f"; waterfall along a {path.shape[0]}-day path: {waterfall_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

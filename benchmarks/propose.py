"""Benchmark of ``riskparams propose`` on real data: every hourly perp and daily series, nothing cached.

Usage::

    python benchmarks/propose.py [--prices ../shared/data/prices] [--repeats R] [--options] [--json]
    python benchmarks/propose.py --synthetic [--json]   # no real data: synthetic hourly and daily series

What it does
------------
* **Data.** Every ``*_1h_binance_usdm_perp.csv`` (8 series) and every daily file (``*_1d_*.csv``: the
  10 spot series and the 2 derived perp series) of the price folder, ingested into a fresh DuckDB file.
  With ``--synthetic`` (or when the folder is missing) 8 hourly series of 30,000 bars and 12 daily series
  of 2,500 bars from :func:`riskparams.ingest.demo.random_walk_ohlc`-style GARCH paths.
* **Run.** :func:`riskparams.service.propose` with the default policy, ``use_cache=False`` (every model is
  fitted again), twice per repeat: ``freq='1h'`` over the 8 hourly series and ``freq='1d'`` over the 12
  daily ones; with ``--options`` also the three built-in options side by side. The JIT of the compiled
  engine is loaded first (its compile cache is not "the fit cache"): timings exclude compilation.
* **Figures.** Medians of ``R`` repeats (default 3) of the hourly run, the daily run and their sum, the
  seconds per hourly and per daily series, and the target (20 s on the 2-core machine).

The machine is shared: the load average at start and end is printed next to the timings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskparams.ingest import ingest_file, ingest_frame
from riskparams.service import propose
from riskparams.store import Store

TARGET_S = 20.0
DEFAULT_PRICES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prices"


def _garch_bars(n: int, freq: str, seed: int) -> pd.DataFrame:
    """A GARCH(1,1)-t OHLCV series of ``n`` bars (synthetic stand-in for real data)."""
    rng = np.random.default_rng(seed)
    per_bar = 0.04 if freq == "1d" else 0.008
    alpha, beta = (0.08, 0.9) if freq == "1d" else (0.06, 0.935)
    omega = per_bar**2 * (1 - alpha - beta)
    z = rng.standard_t(4, n) / math.sqrt(2.0)
    s2, r = per_bar**2, np.empty(n)
    for i in range(n):
        r[i] = math.sqrt(s2) * z[i]
        s2 = omega + alpha * r[i] ** 2 + beta * s2
    close = 100 * np.exp(np.cumsum(r))
    open_ = np.concatenate([[100.0], close[:-1]])
    ts = pd.date_range("2020-01-01", periods=n, freq="1D" if freq == "1d" else "1h", tz="UTC")
    return pd.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.002,
                         "low": np.minimum(open_, close) * 0.998, "close": close,
                         "volume": rng.uniform(1e6, 3e6, n)})


def load(store: Store, prices: Path | None, sizes: tuple[int, int, int, int] = (8, 30_000, 12, 2_500)
         ) -> tuple[int, int, str]:
    """Ingest the series; returns (hourly count, daily count, what). ``sizes``: synthetic hourly series and
    their bars, daily series and their bars."""
    if prices is not None and prices.is_dir():
        hourly = sorted(prices.glob("*_1h_binance_usdm_perp.csv"))
        daily = sorted(prices.glob("*_1d_*.csv"))
        for f in hourly:
            ingest_file(store, f, symbol=f.name.split("_")[0], source="binance", kind="perp", freq="1h")
        for f in daily:
            kind = "perp" if "usdm_perp" in f.name else "spot"
            ingest_file(store, f, symbol=f.name.split("_")[0], source="binance", kind=kind, freq="1d")
        return len(hourly), len(daily), f"real data in {prices}"
    n_h, bars_h, n_d, bars_d = sizes
    for i in range(n_h):
        ingest_frame(store, _garch_bars(bars_h, "1h", i), symbol=f"H{i}", source="synthetic", kind="perp",
                     origin="benchmark", freq="1h")
    for i in range(n_d):
        ingest_frame(store, _garch_bars(bars_d, "1d", 100 + i), symbol=f"D{i}", source="synthetic", kind="spot",
                     origin="benchmark", freq="1d")
    return n_h, n_d, f"synthetic GARCH-t series ({n_h} x {bars_h} hourly, {n_d} x {bars_d} daily bars)"


def run(args: argparse.Namespace) -> dict[str, Any]:
    from riskparams import fastgarch

    fastgarch.compile_all()
    load0 = os.getloadavg()[0]
    prices = None if args.synthetic else Path(args.prices)
    options = ["conservative", "moderate", "aggressive"] if args.options else None
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        n_h, n_d, what = load(store, prices, tuple(args.sizes))
        hourly_s, daily_s = [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(args.repeats):
                t = time.perf_counter()
                h = propose(store, profile="perp", freq="1h", use_cache=False, save=False, options=options)
                hourly_s.append(time.perf_counter() - t)
                t = time.perf_counter()
                d = propose(store, profile="perp", freq="1d", use_cache=False, save=False, options=options)
                daily_s.append(time.perf_counter() - t)
        store.close()
    med_h, med_d = statistics.median(hourly_s), statistics.median(daily_s)
    return {
        "data": what, "hourly_series": n_h, "daily_series": n_d, "repeats": args.repeats,
        "options": bool(args.options), "hourly_s": med_h, "daily_s": med_d, "total_s": med_h + med_d,
        "per_hourly_series_s": med_h / max(n_h, 1), "per_daily_series_s": med_d / max(n_d, 1),
        "proposed": len(h.proposal.assets) + len(d.proposal.assets),
        "skipped": [s.symbol for s in (*h.proposal.skipped, *d.proposal.skipped)],
        "target_s": TARGET_S, "target_met": med_h + med_d <= TARGET_S,
        "load_avg_start": load0, "load_avg_end": os.getloadavg()[0], "cores": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prices", default=str(DEFAULT_PRICES), help="folder of the real price files")
    p.add_argument("--synthetic", action="store_true", help="synthetic series instead of real data")
    p.add_argument("--sizes", type=int, nargs=4, default=[8, 30_000, 12, 2_500],
                   metavar=("NH", "BARS_H", "ND", "BARS_D"), help="synthetic: hourly series and bars, daily series "
                   "and bars (default 8 30000 12 2500)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--options", action="store_true", help="also the three built-in options")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"load avg {out['load_avg_start']:.2f} -> {out['load_avg_end']:.2f} on {out['cores']} cores; {out['data']}")
    print(f"propose, nothing cached ({'with' if out['options'] else 'without'} options), median of {out['repeats']}:")
    print(f"  {out['hourly_series']} hourly series   {out['hourly_s']:6.2f} s ({out['per_hourly_series_s']:.2f} s each)")
    print(f"  {out['daily_series']} daily series    {out['daily_s']:6.2f} s ({out['per_daily_series_s']:.2f} s each)")
    print(f"  total              {out['total_s']:6.2f} s (target <= {TARGET_S:g} s: "
          f"{'met' if out['target_met'] else 'NOT met'}); {out['proposed']} assets proposed"
          + (f", skipped {out['skipped']}" if out["skipped"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

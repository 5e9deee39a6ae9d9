"""Benchmark of the backtest engine (:mod:`riskparams.backtest`): one asset and ten assets.

Usage::

    python benchmarks/backtest.py [--days D] [--repeats R] [--seed S] [--json] [--no-arch]

What it does
------------
* **Data.** Synthetic daily OHLCV series, each a GARCH(1,1) with unit-variance Student-t(5)
  innovations (persistence 0.98, unconditional daily volatility 2-5 %), highs and lows around the
  open and close, with ``1000 + D`` bars (default ``D = 1000``): the default 1000-bar window leaves
  ``D`` backtest days.
* **Run.** :func:`riskparams.backtest.run_backtest` with the default policy (``model='auto'``: GARCH-t,
  GJR-t and EGARCH-t walk forward and each proposal takes the lowest BIC), weekly cadence, the fast engine, one fixed parameter set beside the policy
  replay (so two liquidation simulations of 5,000 positions each), everything the report contains
  (coverage, ES backtest with 2,000 draws, capital, stress windows, shocks). The JIT is warmed up
  first: times exclude compilation.
* **Figures.** Medians of ``R`` runs (default 5) of: one asset (``backend='serial'``); ten assets with
  the per-asset evaluation in ``threads`` (2 workers), ``processes`` (2 spawned workers) and
  ``serial``; the fast engine alone (``fastgarch.walk_forward_many`` on the ten assets, numba threads)
  and one asset's walk-forward. With ``--no-arch`` left out, also the ``arch`` engine on one asset
  over 13 weekly proposals (``fit_volatility`` per proposal), per proposal.

The machine is shared: the load average at start and end is printed next to the timings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from riskparams import fastgarch
from riskparams.backtest import AssetData, BacktestSpec, FixedParameters, run_backtest
from riskparams.config import RiskPolicy
from riskparams.domain import CurrentPerp, CurrentPerpTier

TARGET_ONE_ASSET_S = 2.0


def synthetic(n_assets: int, n_bars: int, seed: int) -> list[AssetData]:
    """``n_assets`` daily GARCH(1,1)-t OHLCV series of ``n_bars`` bars."""
    rng = np.random.default_rng(seed)
    out = []
    idx = pd.date_range("2019-01-01", periods=n_bars, freq="1D", tz="UTC", name="ts")
    for a in range(n_assets):
        vol = rng.uniform(0.02, 0.05)
        alpha, beta, nu = 0.08, 0.90, 5.0
        omega = vol**2 * (1 - alpha - beta)
        z = rng.standard_t(nu, n_bars) / math.sqrt(nu / (nu - 2))
        s2, r = vol**2, np.empty(n_bars)
        for t in range(n_bars):
            r[t] = math.sqrt(s2) * z[t]
            s2 = omega + alpha * r[t] ** 2 + beta * s2
        close = 100 * np.exp(np.cumsum(r))
        open_ = np.r_[100.0, close[:-1]]
        wick = np.abs(rng.normal(0, 0.4 * vol, (2, n_bars)))
        frame = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * np.exp(wick[0]),
                              "low": np.minimum(open_, close) * np.exp(-wick[1]), "close": close,
                              "volume": 1e6 * np.exp(rng.normal(0, 0.3, n_bars))}, index=idx)
        out.append(AssetData(symbol=f"A{a:02d}", freq="1d", prices=frame, synthetic=True))
    return out


def venue(symbols: list[str]) -> FixedParameters:
    table = (CurrentPerpTier(notional_floor=0.0, notional_cap=1e6, max_leverage=20.0, maintenance_rate=0.025,
                             liquidation_penalty=0.01),
             CurrentPerpTier(notional_floor=1e6, notional_cap=None, max_leverage=10.0, maintenance_rate=0.05,
                             liquidation_penalty=0.015))
    return FixedParameters(name="venue", source="benchmark", profile="perp",
                           assets={s: CurrentPerp(symbol=s, tiers=table) for s in symbols})


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=1000, help="backtest days per asset (after a 1000-bar window)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-arch", action="store_true", help="skip the arch-engine figure")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    load0 = os.getloadavg()
    data = synthetic(10, 1000 + args.days + 1, args.seed)
    policy = RiskPolicy()
    spec = BacktestSpec(cadence_days=7)
    fixed = [venue([d.symbol for d in data])]
    t = time.perf_counter()
    fastgarch.compile_all()
    run_backtest(data[:2], policy, spec, fixed=fixed, backend="threads")  # warm-up (JIT, caches)
    warm = time.perf_counter() - t

    out: dict[str, Any] = {"days": args.days, "repeats": args.repeats, "warmup_s": warm}
    rep = run_backtest(data[:1], policy, spec, fixed=fixed, backend="serial")
    out["one_asset_observations"] = rep.assets[0].obs
    out["one_asset_proposals"] = len(rep.assets[0].set("policy").cadence)
    out["one_asset_s"], _ = median_time(lambda: run_backtest(data[:1], policy, spec, fixed=fixed, backend="serial"),
                                        args.repeats)
    for backend in ("threads", "processes", "serial"):
        reps = max(1, args.repeats // 2) if backend == "processes" else args.repeats
        out[f"ten_assets_{backend}_s"], _ = median_time(
            lambda b=backend: run_backtest(data, policy, spec, fixed=fixed, backend=b), reps)  # type: ignore[misc]
    rows = []
    for d in data:
        r = np.log(d.prices["close"].to_numpy())
        rows.append(np.diff(r))
    out["fast_engine_ten_assets_s"], _ = median_time(
        lambda: fastgarch.walk_forward_many(rows, window=1000, horizon_bars=1, mean="zero"), args.repeats)
    out["fast_engine_one_asset_s"], _ = median_time(
        lambda: fastgarch.walk_forward(rows[0], window=1000, horizon_bars=1, mean="zero"), args.repeats)
    if not args.no_arch:
        end = str(data[0].prices.index[1000 + 90].date())
        arch_spec = BacktestSpec(cadence_days=7, engine="arch", start=str(data[0].prices.index[1000].date()), end=end)
        t = time.perf_counter()
        a = run_backtest(data[:1], policy, arch_spec, backend="serial")
        n_fits = len(a.assets[0].set("policy").cadence)
        out["arch_engine_per_proposal_s"] = (time.perf_counter() - t) / n_fits
        out["arch_engine_proposals"] = n_fits
    out["load_average_start"], out["load_average_end"] = load0[0], os.getloadavg()[0]
    out["cpus"] = os.cpu_count()
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"backtest benchmark: {args.days} backtest days per asset, weekly cadence, fast engine, policy replay + 1 "
          f"fixed set, medians of {args.repeats} runs (JIT warm-up {warm:.1f}s excluded); {out['cpus']} CPUs, load "
          f"{load0[0]:.2f} -> {out['load_average_end']:.2f}")
    print(f"  1 asset  ({out['one_asset_observations']} observations, {out['one_asset_proposals']} proposals): "
          f"{out['one_asset_s']:.2f}s  (target < {TARGET_ONE_ASSET_S:.0f}s: "
          f"{'met' if out['one_asset_s'] < TARGET_ONE_ASSET_S else 'NOT met'})")
    for backend in ("threads", "processes", "serial"):
        print(f"  10 assets, per-asset evaluation in {backend:<9}: {out[f'ten_assets_{backend}_s']:.2f}s")
    print(f"  fast engine alone: 10 assets {out['fast_engine_ten_assets_s']:.2f}s (numba threads), 1 asset "
          f"{out['fast_engine_one_asset_s']:.2f}s")
    if "arch_engine_per_proposal_s" in out:
        print(f"  arch engine: {out['arch_engine_per_proposal_s']:.2f}s per proposal "
              f"({out['arch_engine_proposals']} proposals; policy model auto = 3 candidate fits + FHS)")


if __name__ == "__main__":
    main()

"""Benchmark of the validated ingest: rows per second from CSV and from Parquet into a fresh store.

Usage::

    python benchmarks/ingest.py [--rows N] [--repeat R] [--json] [--profile] [--keep DIR]

A synthetic hourly OHLCV series of N rows (default 10,000,000; from 2009-01-03, the earliest bar the store
accepts, so past today for more than about 150,000 rows) is written once as CSV (the layout of
the files in ``shared/data/prices``: ``timestamp,open,high,low,close,volume`` with ISO-8601 ``Z``
timestamps) and once as Parquet; writing them is not part of the timing. Each timed run opens a
fresh store on a real DuckDB file, calls :meth:`riskparams.store.Store.ingest_file` (sniffing,
reading, typing, every validation, de-duplication, gap detection, the transaction and the file
hash) and closes the store (which checkpoints it to disk). The median over ``--repeat`` runs is
reported as rows/s; ``--profile`` adds the time of every SQL statement of one extra run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from riskparams.store import Store, staging

START = np.datetime64(staging.EARLIEST_BAR, "s")  # the earliest bar the store accepts
TARGET_ROWS_PER_S = 2_000_000


def synthetic_table(rows: int, seed: int = 7) -> pa.Table:
    """A valid hourly OHLCV random walk of ``rows`` bars as an Arrow table (timestamp[s, UTC])."""
    rng = np.random.default_rng(seed)
    # a random walk in log price, reflected into [log 1,000, log 100,000] so it never reaches 0
    walk = np.cumsum(rng.normal(0.0, 0.004, rows))
    lo, width = np.log(1_000.0), np.log(100.0)
    folded = np.mod(walk + np.log(30.0), 2.0 * width)
    close = np.round(np.exp(lo + width - np.abs(folded - width)), 2)
    open_ = np.empty_like(close)
    open_[0] = close[0]
    open_[1:] = close[:-1]
    wick = np.abs(rng.normal(0.0, 0.002, (2, rows)))
    high = np.round(np.maximum(open_, close) * (1.0 + wick[0]), 2)
    low = np.round(np.minimum(open_, close) * (1.0 - wick[1]), 2)
    high = np.maximum(high, np.maximum(open_, close))  # rounding must not break high >= max(open, close)
    low = np.minimum(low, np.minimum(open_, close))
    volume = np.round(rng.gamma(2.0, 500.0, rows), 5)
    ts = pa.array(START.astype("int64") + np.arange(rows, dtype=np.int64) * 3_600, type=pa.timestamp("s", "UTC"))
    return pa.table({
        "timestamp": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume,
    })


def write_inputs(table: pa.Table, folder: Path) -> tuple[Path, Path]:
    """Write the table as CSV (ISO-8601 ``Z`` timestamps, no quotes) and as Parquet; return both paths."""
    csv_path = folder / "BENCH_1h_synthetic.csv"
    iso = pc.strftime(table["timestamp"], format="%Y-%m-%dT%H:%M:%SZ")
    as_text = table.set_column(0, "timestamp", iso)
    with csv_path.open("wb") as fh:
        fh.write(b"timestamp,open,high,low,close,volume\n")
        pacsv.write_csv(as_text, fh, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
    pq_path = folder / "BENCH_1h_synthetic.parquet"
    pq.write_table(table.set_column(0, "timestamp", pc.cast(table["timestamp"], pa.timestamp("us", "UTC"))),
                   pq_path)
    return csv_path, pq_path


class _TimedCursor:
    """Wraps a DuckDB cursor and adds the wall time of every statement to ``sink``."""

    def __init__(self, cur: Any, sink: dict[str, list[float]]) -> None:
        self._cur = cur
        self._sink = sink

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        key = " ".join(sql.split())[:110]
        t0 = time.perf_counter()
        out = self._cur.execute(sql, *args, **kwargs)
        self._sink[key].append(time.perf_counter() - t0)
        return self if out is self._cur else out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class _TimedConnection:
    def __init__(self, con: Any, sink: dict[str, list[float]]) -> None:
        self._con = con
        self._sink = sink

    def cursor(self) -> _TimedCursor:
        return _TimedCursor(self._con.cursor(), self._sink)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def time_ingest(path: Path, rows: int, repeat: int, workdir: Path) -> dict[str, Any]:
    """Median wall time of open + ingest_file + close, each into a fresh store file."""
    totals, ingests = [], []
    for i in range(repeat):
        db = workdir / f"bench_{path.suffix[1:]}_{i}.duckdb"
        t0 = time.perf_counter()
        store = Store(db)
        t1 = time.perf_counter()
        report = store.ingest_file(path, symbol="BENCH", source="synthetic", kind="spot")
        t2 = time.perf_counter()
        store.close()
        t3 = time.perf_counter()
        if report.rows_added != rows:
            raise SystemExit(f"expected {rows} rows added, got {report.rows_added}")
        totals.append(t3 - t0)
        ingests.append(t2 - t1)
        db.unlink()
        Path(str(db) + ".wal").unlink(missing_ok=True)
    median = statistics.median(totals)
    return {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "runs_s": [round(t, 3) for t in totals],
        "median_s": round(median, 3),
        "median_ingest_only_s": round(statistics.median(ingests), 3),
        "rows_per_s": round(rows / median),
        "rows_per_s_ingest_only": round(rows / statistics.median(ingests)),
    }


def profile_ingest(path: Path, workdir: Path) -> list[tuple[str, float]]:
    """Seconds per SQL statement (summed over repeats of the same statement) of one ingest."""
    sink: dict[str, list[float]] = defaultdict(list)
    db = workdir / "bench_profile.duckdb"
    store = Store(db)
    store._con = _TimedConnection(store._con, sink)  # type: ignore[assignment]
    t0 = time.perf_counter()
    store.ingest_file(path, symbol="BENCH", source="synthetic", kind="spot")
    total = time.perf_counter() - t0
    store._con = store._con._con
    store.close()
    db.unlink()
    rows = sorted(((k, sum(v)) for k, v in sink.items()), key=lambda kv: -kv[1])
    rows.append(("(total ingest_file, incl. Python and the file hash)", total))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="bars in the synthetic file (default 10,000,000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per format (default 3); the median is reported")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ap.add_argument("--profile", action="store_true", help="also time each SQL statement of one CSV ingest")
    ap.add_argument("--keep", type=Path, help="write the inputs and stores in this folder and keep the inputs")
    args = ap.parse_args(argv)
    if args.rows < 2 or args.repeat < 1:
        ap.error("--rows must be >= 2 and --repeat >= 1")
    # the synthetic hourly series starts at the earliest accepted bar, so 10 million bars run to the year 3150:
    # let the plausible-date check admit them here (it still runs and is timed)
    staging.MAX_FUTURE = max(staging.MAX_FUTURE, timedelta(hours=args.rows))

    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="riskparams-bench-")
        workdir = Path(tmp.name)
    else:
        workdir = args.keep
        workdir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        csv_path, pq_path = write_inputs(synthetic_table(args.rows), workdir)
        prep = time.perf_counter() - t0
        result: dict[str, Any] = {
            "rows": args.rows,
            "repeat": args.repeat,
            "prepare_s": round(prep, 2),
            "target_rows_per_s": TARGET_ROWS_PER_S,
            "csv": time_ingest(csv_path, args.rows, args.repeat, workdir),
            "parquet": time_ingest(pq_path, args.rows, args.repeat, workdir),
        }
        if args.profile:
            result["profile_csv"] = [(k, round(v, 3)) for k, v in profile_ingest(csv_path, workdir)]
    finally:
        if tmp is not None:
            tmp.cleanup()

    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.rows:,} hourly bars; inputs written in {prep:.1f} s (not timed); median of {args.repeat} runs")
        for fmt in ("csv", "parquet"):
            r = result[fmt]
            print(
                f"  {fmt:8s} {r['file_bytes'] / 1e6:8.1f} MB  {r['median_s']:7.2f} s  {r['rows_per_s']:>12,} rows/s"
                f"  (ingest_file alone {r['rows_per_s_ingest_only']:,} rows/s; runs {r['runs_s']})"
            )
        ok = result["csv"]["rows_per_s"] >= TARGET_ROWS_PER_S
        print(f"  CSV target {TARGET_ROWS_PER_S:,} rows/s: {'met' if ok else 'MISSED'}")
        if args.profile:
            print("  per-statement seconds of one CSV ingest:")
            for k, v in result["profile_csv"]:
                print(f"    {v:8.3f}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

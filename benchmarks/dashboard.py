"""Dashboard responsiveness: first render after `riskparams serve`, and pages with 50 assets.

    python benchmarks/dashboard.py [--assets 50] [--repeat 3] [--json]

1. First render: a store seeded with the demo universe; `riskparams serve` is started and headless Chromium
   (Debian's, through Playwright) opens the home page; the time from starting the server until the
   "Stored series" table is on screen (median of --repeat runs; a fresh server each run).
2. Fifty assets: a store with --assets synthetic daily series (the demo generator under several seeds,
   renamed); the time of one AppTest run of the Overview, Data, Volatility and Governance pages (cold
   caches; the Volatility page fits four models to one series).
3. Volatility page (``--scenario volatility``): one cold AppTest run of ``pages/2_Volatility.py`` (Streamlit
   caches cleared, the store's fit cache emptied, a fresh copy of the store each run) on a daily and on an
   hourly real series: Binance BTC daily spot and BTC hourly perp from ``/work/shared/data/prices`` (see
   SOURCES.md there), or the synthetic demo's BTC-SYN daily and hourly series when that folder is absent;
   ``--store PATH`` uses a copy of an existing store instead (``--daily`` / ``--hourly`` pick the series by
   label). ``--profile`` adds one cProfile'd run per series with the time split by section (model panel:
   fits, term structure, diagnostics; model comparison; sensitivity; realized estimators; charts).

    python benchmarks/dashboard.py --scenario volatility [--repeat 3] [--store /tmp/r1.duckdb] [--profile]

Prints medians (``--json``: JSON); nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskparams.ingest import demo, ingest_frame, load_demo  # noqa: E402
from riskparams.store import Store  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_render(db: Path) -> float:
    from playwright.sync_api import sync_playwright

    port = _port()
    env = dict(os.environ, RISKPARAMS_DB=str(db))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "riskparams.cli", "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                        break
                except OSError:
                    time.sleep(0.05)
            page.goto(f"http://127.0.0.1:{port}")
            page.get_by_text("Stored series").wait_for(timeout=60_000)
            page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
            elapsed = time.monotonic() - start
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            browser.close()
    return elapsed


def many_assets_store(path: Path, n: int) -> None:
    with Store(path) as store:
        made = 0
        seed = 1
        while made < n:
            for s in demo.generate_demo_universe(seed=seed, hourly_symbols=()):
                if made >= n:
                    break
                symbol = f"{s.symbol.removesuffix('-SYN')}{seed}-SYN"
                ingest_frame(store, s.frame, symbol=symbol, source="synthetic", kind="perp", freq="1d",
                             origin="demo", synthetic=True)
                made += 1
            seed += 1


def page_times(db: Path) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    from riskparams import ui

    os.environ["RISKPARAMS_DB"] = str(db)
    out = {}
    for name, path in (("overview", ROOT / "app.py"), ("data", ROOT / "pages" / "1_Data.py"),
                       ("volatility", ROOT / "pages" / "2_Volatility.py"),
                       ("governance", ROOT / "pages" / "5_Governance.py")):
        ui._open_store.clear()
        ui.clear_data_caches()
        start = time.monotonic()
        at = AppTest.from_file(str(path), default_timeout=600).run()
        out[name] = time.monotonic() - start
        if at.exception or at.error:
            raise SystemExit(f"{name} page failed: {at.exception or [e.value for e in at.error]}")
    return out


# -- scenario: the Volatility page, cold, on a daily and an hourly series ---------------------------------
SHARED_PRICES = Path("/work/shared/data/prices")
VOL_PAGE = ROOT / "pages" / "2_Volatility.py"
SECTIONS = (
    # (label, module, attribute): wall-clock seconds spent in that callable during one run (nested sections
    # are indented; a wrapper costs microseconds, unlike cProfile, which inflates pure-Python code such as
    # the deep copies of plotly and st.cache_data several times)
    ("prices (load)", "riskparams.ui", "cached_prices"),
    ("realized estimators", "riskparams.views", "realized_panel"),
    ("model panel", "riskparams.views", "model_panel"),
    ("  fits (parameters, incl. fallbacks)", "riskparams.volatility", "_select"),
    ("  term structure / horizon risk", "riskparams.volatility", "_horizon"),
    ("  residual diagnostics", "riskparams.volatility", "residual_diagnostics"),
    ("model comparison (losses)", "riskparams.views", "model_losses"),
    ("sensitivity grid", "riskparams.service", "sensitivity"),
    ("figures (riskparams.charts)", "riskparams.charts", "vol_lines"),
    ("figures (riskparams.charts)", "riskparams.charts", "price_and_vol"),
    ("figures (riskparams.charts)", "riskparams.charts", "loss_bars"),
    ("figures (riskparams.charts)", "riskparams.charts", "sensitivity_heatmap"),
    ("st.plotly_chart (serialise)", "streamlit", "plotly_chart"),
    ("st.dataframe (serialise)", "streamlit", "dataframe"),
)


def volatility_store(path: Path) -> tuple[str, str, str]:
    """A store with one daily and one hourly series; returns ``(daily label, hourly label, origin)``."""
    daily, hourly = SHARED_PRICES / "BTC_1d_binance_spot.csv", SHARED_PRICES / "BTC_1h_binance_usdm_perp.csv"
    with Store(path) as store:
        if daily.is_file() and hourly.is_file():
            from riskparams.ingest import ingest_file

            ingest_file(store, daily, symbol="BTC", source="binance", kind="spot", freq="1d")
            ingest_file(store, hourly, symbol="BTC", source="binance", kind="perp", freq="1h")
            origin = f"real Binance data ({SHARED_PRICES})"
        else:
            load_demo(store)
            origin = "synthetic demo data (/work/shared absent)"
        labels = {s.freq: s.label for s in store.list_series() if s.symbol.startswith("BTC")}
    return labels["1d"], labels["1h"], origin


def _cold_copy(src: Path, dst: Path) -> None:
    """A copy of ``src`` with an empty fit cache (nothing cached in the store)."""
    dst.unlink(missing_ok=True)
    dst.write_bytes(src.read_bytes())
    import duckdb

    con = duckdb.connect(str(dst))
    try:
        con.execute("DELETE FROM fit_cache")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _series(db: Path, label: str) -> tuple[int, int]:
    with Store(db) as store:  # a copy: opened for writing so that an older store is migrated first
        for s in store.list_series():
            if s.label == label:
                return s.series_id, s.rows
    raise SystemExit(f"no series labelled {label!r} in {db}")


def _timed(sections: dict[str, float], label: str, fn: Any) -> Any:
    def wrapper(*a: Any, **k: Any) -> Any:
        t0 = time.monotonic()
        try:
            return fn(*a, **k)
        finally:
            sections[label] = sections.get(label, 0.0) + time.monotonic() - t0

    return wrapper


def volatility_page_time(src: Path, work: Path, label: str, *, mode: str = "plain") -> dict[str, Any]:
    """One cold AppTest run of the Volatility page on the series ``label``: ``{'total': seconds}``; with
    ``mode='sections'`` also the wall-clock seconds of each of :data:`SECTIONS`; with ``mode='cprofile'`` a
    ``pstats.Stats`` of the script thread under ``'stats'``."""
    import importlib

    from streamlit.testing.v1 import AppTest

    from riskparams import ui

    # a new file each run: a store still open in this process under the same path would be found again (with
    # the previous run's fits in its cache)
    db = work / f"cold-{time.monotonic_ns()}.duckdb"
    _cold_copy(src, db)
    sid, _rows = _series(db, label)
    os.environ["RISKPARAMS_DB"] = str(db)
    ui._open_store.clear()
    ui.clear_data_caches()
    from riskparams import volatility

    memo = getattr(volatility, "_FAST_FITS", None)
    if memo is not None:
        memo.clear()  # the process's compiled estimates: cold means none
    at = AppTest.from_file(str(VOL_PAGE), default_timeout=900)
    at.session_state["selected_series_id"] = sid
    sections: dict[str, float] = {}
    patched: list[tuple[Any, str, Any]] = []
    if mode == "sections":
        for sec, module, attr in SECTIONS:
            mod = importlib.import_module(module)
            orig = getattr(mod, attr)
            patched.append((mod, attr, orig))
            setattr(mod, attr, _timed(sections, sec, orig))
    prof = None
    if mode == "cprofile":
        # AppTest runs the script in its own thread: a profile hook for new threads enables cProfile in the
        # script runner's thread, which then replaces the hook with its own
        import cProfile
        import threading

        prof = cProfile.Profile()
        armed = [True]

        def trampoline(_frame: object, _event: str, _arg: object) -> None:
            sys.setprofile(None)
            if armed[0] and "ScriptRunner" in threading.current_thread().name:
                armed[0] = False
                prof.enable()

        threading.setprofile(trampoline)
    start, cpu = time.monotonic(), time.process_time()
    try:
        at.run()
    finally:
        elapsed, cpu = time.monotonic() - start, time.process_time() - cpu
        if prof is not None:
            threading.setprofile(None)  # type: ignore[arg-type]
        for mod, attr, orig in patched:
            setattr(mod, attr, orig)
    ui._open_store().close()
    ui._open_store.clear()
    db.unlink(missing_ok=True)
    if at.exception or at.error:
        raise SystemExit(f"Volatility page failed on {label}: {at.exception or [e.value for e in at.error]}")
    out: dict[str, Any] = {"total": elapsed, "cpu": cpu}
    if mode == "sections":
        out.update({sec: sections.get(sec, 0.0) for sec, _m, _a in SECTIONS})
    if prof is not None:
        import pstats

        out["stats"] = pstats.Stats(prof)
    return out


def volatility_scenario(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.store:
            src = work / "source.duckdb"
            src.write_bytes(Path(args.store).read_bytes())  # the given store is never opened for writing
            daily, hourly, origin = args.daily, args.hourly, f"copy of {args.store}"
        else:
            src = work / "source.duckdb"
            daily, hourly, origin = volatility_store(src)
            daily, hourly = args.daily or daily, args.hourly or hourly
        # warm the process (numba's on-disk cache, the first import of arch, statsmodels and plotly: what a
        # server pays once) with one untimed run, so that the timed runs measure the page with cold caches
        from riskparams import fastgarch

        fastgarch.compile_all()
        first = volatility_page_time(src, work, daily)["total"]
        result: dict[str, object] = {"scenario": "volatility", "data": origin, "repeat": args.repeat,
                                     "first_run_in_process_s": round(first, 2)}
        for name, label in (("daily", daily), ("hourly", hourly)):
            _sid, rows = _series(src, label)
            timed = [volatility_page_time(src, work, label) for _ in range(args.repeat)]
            runs = [t["total"] for t in timed]
            cpus = [t["cpu"] for t in timed]
            entry: dict[str, object] = {"series": label, "bars": rows, "median_s": statistics.median(runs),
                                        "runs_s": [round(x, 2) for x in runs], "cpu_median_s": statistics.median(cpus)}
            if args.profile:
                sections = volatility_page_time(src, work, label, mode="sections")
                entry["sections_s"] = {k: round(v, 3) for k, v in sections.items()}
                if not args.json:
                    stats = volatility_page_time(src, work, label, mode="cprofile")["stats"]
                    print(f"--- cProfile of one cold run on {label} (top 30 by cumulative time; cProfile "
                          "inflates pure-Python code, see the wall-clock sections below)")
                    stats.sort_stats("cumulative").print_stats(30)
            result[name] = entry
    return result


def print_volatility(result: dict[str, object]) -> None:
    print(f"Volatility page, one cold AppTest run ({result['data']}), median of {result['repeat']} "
          f"(first run in the process, untimed warm-up: {result['first_run_in_process_s']} s):")
    for name in ("daily", "hourly"):
        e = result[name]
        assert isinstance(e, dict)
        print(f"  {name:<7} {e['series']:<28} {e['bars']:>6} bars  median {e['median_s']:7.2f} s wall, "
              f"{e['cpu_median_s']:7.2f} s CPU  (runs {e['runs_s']})")
        for k, v in (e.get("sections_s") or {}).items():
            print(f"            {k:<42} {v:8.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", choices=("all", "volatility"), default="all",
                    help="'all': first render and fifty assets (the default); 'volatility': the Volatility page "
                         "on a daily and an hourly series")
    ap.add_argument("--assets", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--store", help="volatility: use a copy of this store (default: build one from real data)")
    ap.add_argument("--daily", help="volatility: label of the daily series (default 'BTC 1d spot (binance)')")
    ap.add_argument("--hourly", help="volatility: label of the hourly series (default 'BTC 1h perp (binance)')")
    ap.add_argument("--profile", action="store_true", help="volatility: also one cProfile'd run per series")
    args = ap.parse_args()
    if args.scenario == "volatility":
        if args.store and not (args.daily and args.hourly):
            args.daily = args.daily or "BTC 1d spot (binance)"
            args.hourly = args.hourly or "BTC 1h perp (binance)"
        vol = volatility_scenario(args)
        if args.json:
            print(json.dumps(vol, indent=2))
        else:
            print_volatility(vol)
        return
    with tempfile.TemporaryDirectory() as tmp:
        demo_db = Path(tmp) / "demo.duckdb"
        with Store(demo_db) as store:
            load_demo(store)
        renders = [first_render(demo_db) for _ in range(args.repeat)]
        many = Path(tmp) / "many.duckdb"
        many_assets_store(many, args.assets)
        runs = [page_times(many) for _ in range(args.repeat)]
    result = {
        "first_render_s_median": statistics.median(renders),
        "first_render_s_runs": [round(x, 2) for x in renders],
        "assets": args.assets,
        "page_s_median": {k: statistics.median(r[k] for r in runs) for k in runs[0]},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"first render after `riskparams serve` (demo store): median {result['first_render_s_median']:.2f} s "
          f"(runs {result['first_render_s_runs']})")
    print(f"pages with {args.assets} assets (AppTest, cold caches), median of {args.repeat}:")
    for k, v in result["page_s_median"].items():
        print(f"  {k:<11} {v:6.2f} s")


if __name__ == "__main__":
    main()

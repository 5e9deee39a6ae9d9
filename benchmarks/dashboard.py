"""Dashboard responsiveness: first render after `riskparams serve`, and pages with 50 assets.

    python benchmarks/dashboard.py [--assets 50] [--repeat 3] [--json]

1. First render: a store seeded with the demo universe; `riskparams serve` is started and headless Chromium
   (Debian's, through Playwright) opens the home page; the time from starting the server until the
   "Stored series" table is on screen (median of --repeat runs; a fresh server each run).
2. Fifty assets: a store with --assets synthetic daily series (the demo generator under several seeds,
   renamed); the time of one AppTest run of the Overview, Data, Volatility and Governance pages (cold
   caches; the Volatility page fits four models to one series).
Prints medians; nothing here is a test.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
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

"""The dashboard and the command line share one store: while `riskparams serve` has pages open in Chromium
(and reruns them), `riskparams assets`, `ingest`, `propose`, `review`, `sign` and `verify` all work from
another process, and the dashboard shows what the command line wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_e2e import CHROMIUM, CHROMIUM_ARGS, ROOT, _idle, _no_errors, serving

pytestmark = pytest.mark.e2e


def cli(db: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "riskparams.cli", "--db", str(db), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=str(ROOT), env=dict(os.environ, RISKPARAMS_DB=str(db)))


def test_the_cli_works_while_the_dashboard_serves(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    db = tmp_path / "shared.duckdb"
    assert cli(db, "demo").returncode == 0
    csv = tmp_path / "new.csv"
    csv.write_text("ts,open,high,low,close,volume\n" + "".join(
        f"2024-01-{d:02d}T00:00:00Z,{100 + d},{101 + d},{99 + d},{100.5 + d},1000\n" for d in range(1, 29)))
    with serving(db) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = [browser.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
        pages[0].goto(url)
        pages[0].get_by_text("Stored series").wait_for(timeout=120_000)
        pages[1].goto(f"{url}/Volatility")
        _idle(pages[1])
        started = time.monotonic()
        steps = [
            ("assets",),
            ("ingest", str(csv), "--symbol", "NEW", "--source", "file"),
            ("propose", "--profile", "perp", "--symbols", "BTC-SYN"),
        ]
        for step in steps:
            out = cli(db, *step)
            assert out.returncode == 0, (step, out.stderr)
        listed = cli(db, "proposals", "--json")
        assert listed.returncode == 0
        pid = json.loads(listed.stdout)[0]["id"]
        for step in (("review", pid, "--as", "bob"), ("sign", pid, "--as", "carol"), ("verify", pid)):
            out = cli(db, *step)
            assert out.returncode == 0, (step, out.stderr)
        elapsed = time.monotonic() - started
        # the dashboard sees what the command line wrote, and still works
        pages[0].reload()
        pages[0].get_by_text("NEW", exact=True).first.wait_for(state="attached", timeout=120_000)
        _no_errors(pages[0])
        pages[1].goto(f"{url}/Governance")
        _idle(pages[1])
        pages[1].get_by_text(pid[:12]).first.wait_for(state="attached", timeout=60_000)
        _no_errors(pages[1])
        # a write from the dashboard meanwhile does not lock the command line out
        done: dict[str, int] = {}

        def cli_while_page_runs() -> None:
            done["assets"] = cli(db, "assets").returncode

        t = threading.Thread(target=cli_while_page_runs)
        pages[0].goto(f"{url}/Proposal")
        t.start()
        _idle(pages[0])
        t.join(timeout=120)
        assert done.get("assets") == 0
        browser.close()
    assert elapsed < 240

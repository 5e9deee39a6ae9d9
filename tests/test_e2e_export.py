"""End to end in a real browser (issue 13 item 4): the Governance page's download is the CLI's export, byte for byte.

A store holds a perp proposal of BTC-SYN and ETH-SYN against the example current parameters, a stored backtest
attached to it (as the Backtest page's "Attach" does) and an execution plan. Debian's chromium, driven by
Playwright against `riskparams serve`, prepares and downloads the forum Markdown; `riskparams export` writes the
same format; the two files must be identical and must carry the backtest and the plan.

Needs ``/usr/bin/chromium`` (``.ci/run`` installs it with apt-get); no browser is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_e2e import CHROMIUM, CHROMIUM_ARGS, _click, _idle, _no_errors, _select, serving

from riskparams.store import Store

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


def _prepare(db: Path, proposal: Any) -> tuple[str, str]:
    """Bars, the proposal, an attached backtest and a plan in the store ``db``; returns the proposal and report
    ids."""
    import warnings

    from conftest import bars

    from riskparams.backtest import BacktestSpec
    from riskparams.config import policy_from_dict
    from riskparams.ingest import ingest_frame
    from riskparams.service import backtest, plan_proposal
    from riskparams.store.backtest_records import attach_report
    from riskparams.store.records import save_proposal

    with Store(db) as s:
        ingest_frame(s, bars(400, seed=1), symbol="BTC-SYN", source="unit", kind="perp", origin="test")
        ingest_frame(s, bars(400, seed=2), symbol="ETH-SYN", source="unit", kind="perp", origin="test")
        pid = save_proposal(s, proposal).id
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = backtest(s, profile="perp", symbols=["BTC-SYN"], spec=BacktestSpec(cadence_days=30, window=250,
                           es_sims=0), policy=policy_from_dict({"model": {"model": "ewma", "n_sims": 200}}))
        assert run.stored is not None
        attach_report(s, pid, run.stored.id, actor="bob")
        plan_proposal(s, pid, max_step=0.25, min_days=3, start="2026-01-05", actor="bob")
    return str(pid), str(run.stored.id)


def test_browser_export_is_the_cli_export_byte_for_byte(tmp_path: Path, proposals: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    db = tmp_path / "export.duckdb"
    pid, report = _prepare(db, proposals["perp"])
    # no file watcher: a source file saved while the test runs must not reload the app's modules mid-session
    quiet = {"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none", "STREAMLIT_SERVER_RUN_ON_SAVE": "false"}
    with serving(db, env=quiet) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 3000}, accept_downloads=True)
            page.goto(f"{url}/Governance")
            page.get_by_text("Audit trail").wait_for(timeout=120_000)
            _idle(page)
            _no_errors(page)
            page.get_by_text("Execution plan").first.wait_for(timeout=30_000)
            _select(page, "Acting as", "Erin Example (observer)")
            _no_errors(page)
            page.get_by_role("button", name="Prepare export", exact=True).wait_for(timeout=120_000)
            _click(page, "Prepare export")
            with page.expect_download(timeout=60_000) as info:
                page.get_by_role("button", name="Download proposal-", exact=False).click()
            browser_file = tmp_path / "browser" / info.value.suggested_filename
            browser_file.parent.mkdir()
            info.value.save_as(str(browser_file))
            _idle(page)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "export-governance.png"), full_page=True)
            page.close()
        finally:
            browser.close()
    cli_file = tmp_path / "cli.md"
    done = subprocess.run([sys.executable, "-m", "riskparams.cli", "export", pid, "-f", "md", "--as", "erin", "-o",
                           str(cli_file)], env=dict(os.environ, RISKPARAMS_DB=str(db)), cwd=str(ROOT),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = browser_file.read_bytes()
    assert browser_file.name == f"proposal-{pid[:12]}.md"
    assert data == cli_file.read_bytes()
    text = data.decode("utf-8")
    assert "No backtest attached" not in text and "## Backtest results" in text and report in text
    assert "## Execution plan" in text and "2026-01-05" in text

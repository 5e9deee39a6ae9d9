"""End to end in a real browser: Playwright drives Debian's chromium against `riskparams serve`.

A committee session: open the overview, look at every page, generate a proposal, run a backtest, take the
proposal through review and approval by two members and a chair, export the forum Markdown and check the
file. Screenshots of each page go to ``test-artifacts/e2e/`` (kept by CI as artifacts).

Needs ``/usr/bin/chromium`` (``.ci/run`` installs it with apt-get); no browser is downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from riskparams.ui import READY_TESTID

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("RISKPARAMS_CHROMIUM", "/usr/bin/chromium")
READY = f'[data-testid="{READY_TESTID}"]'  # the app's own "this page run has finished" marker
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("e2e") / "e2e.duckdb") as url:
        yield url


@contextmanager
def serving(db: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `riskparams serve --port FREE OPTIONS` on the store ``db`` (environment: this one plus ``env``)
    until the block ends; yields its URL."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    port = _free_port()
    log = tempfile.TemporaryFile()  # not a pipe: a server that logs much must never block on it
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskparams.cli", "serve", "--port", str(port), *options],
        env=dict(os.environ, RISKPARAMS_DB=str(db), **(env or {})), stdout=log, stderr=subprocess.STDOUT,
        cwd=str(ROOT),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            proc.kill()
            proc.wait()
            log.seek(0)
            pytest.fail(f"riskparams serve did not come up on {url}: {log.read().decode()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _run(page: object) -> int:
    """The newest run number of the app's ready markers on the page (0 before the first finished run)."""
    runs = page.locator(READY).evaluate_all(  # type: ignore[attr-defined]
        "els => els.map(e => parseInt(e.dataset.run || '0', 10))")
    return max(runs, default=0)


def _idle(page: object, timeout: float = 180.0, *, after: int = 0) -> None:
    """Wait until the app says a page run has finished: its own ready marker (``riskparams.ui.page_ready``, drawn
    at the end of every page run, also when the page stopped at an ``st.error``) with a run number above
    ``after`` (the number before an action; 0 after a page load, which starts a new session)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _run(page) > after:
            return
        time.sleep(0.2)
    raise AssertionError(f"the page did not finish a run within {timeout:.0f} s (ready marker run > {after})")


def _no_errors(page: object) -> None:
    errors = page.locator('[data-testid="stException"]')  # type: ignore[attr-defined]
    assert errors.count() == 0, errors.first.inner_text()
    alerts = page.locator('[data-testid="stAlertContentError"]')  # type: ignore[attr-defined]
    assert alerts.count() == 0, alerts.first.inner_text()


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _select(page: object, label: str, option: str) -> None:
    before = _run(page)
    page.get_by_role("combobox", name=label, exact=True).click()  # type: ignore[attr-defined]
    page.get_by_role("option", name=option, exact=True).click()  # type: ignore[attr-defined]
    _idle(page, after=before)


def _click(page: object, label: str) -> None:
    before = _run(page)
    page.get_by_role("button", name=label, exact=True).click()  # type: ignore[attr-defined]
    _idle(page, after=before)


def _local_banner(page: object) -> None:
    """The page says it is in unauthenticated single-user mode (`riskparams serve` without --auth)."""
    from riskparams.auth import LOCAL_BANNER

    page.get_by_text(LOCAL_BANNER).wait_for(timeout=30_000)  # type: ignore[attr-defined]


def _metric(page: object, label: str) -> str:
    m = page.locator('[data-testid="stMetric"]', has_text=label).first  # type: ignore[attr-defined]
    return str(m.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def test_committee_session_in_a_real_browser(server: str, browser: object, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)  # type: ignore[attr-defined]
    page.goto(server)
    page.get_by_text("Stored series").wait_for(timeout=120_000)
    _idle(page)
    _no_errors(page)
    assert page.get_by_text("synthetic demo data", exact=False).count() >= 1
    _local_banner(page)
    _shot(page, "1-overview")

    for path, marker, name in (("Data", "Ingest log", "2-data"), ("Volatility", "Conditional models", "3-volatility")):
        page.goto(f"{server}/{path}")
        page.get_by_text(marker).first.wait_for(timeout=180_000)
        _idle(page)
        _no_errors(page)
        _local_banner(page)
        _shot(page, name)

    # generate a proposal for one asset
    page.goto(f"{server}/Proposal")
    page.get_by_text("Generate proposal").wait_for(timeout=60_000)
    _idle(page)
    assets = page.locator('[data-testid="stMultiSelect"]', has_text="Assets (all when empty)").first
    assets.locator("input").click()
    assets.locator("input").fill("BTC-SYN")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    _click(page, "Generate proposal")
    page.get_by_text("status draft").wait_for(timeout=180_000)
    page.get_by_role("heading", name="Rationale").wait_for(timeout=60_000)
    _idle(page)
    _no_errors(page)
    _local_banner(page)
    _shot(page, "4-proposal")

    # run a backtest of the proposal's policy
    page.goto(f"{server}/Backtest")
    page.get_by_role("button", name="Run backtest").wait_for(timeout=60_000)
    _idle(page)
    _click(page, "Run backtest")
    page.get_by_text("Coverage statistics").wait_for(timeout=300_000)
    _idle(page)
    _no_errors(page)
    _local_banner(page)
    _shot(page, "5-backtest")

    # review, two sign-offs, approval by the chair
    page.goto(f"{server}/Governance")
    page.get_by_text("Audit trail").wait_for(timeout=60_000)
    _idle(page)
    assert _metric(page, "Status") == "draft"
    _local_banner(page)
    _select(page, "Acting as", "Bob Example (member)")
    _click(page, "Submit for review")
    assert _metric(page, "Status") == "in_review"
    _select(page, "Acting as", "Carol Example (member)")
    _click(page, "Sign off")
    _select(page, "Acting as", "Dave Example (member)")
    _click(page, "Sign off")
    assert _metric(page, "Sign-offs") == "2 of 2"
    _select(page, "Acting as", "Alice Example (chair)")
    _click(page, "Approve")
    _no_errors(page)
    assert _metric(page, "Status") == "approved"

    # export the forum Markdown and check the file
    _click(page, "Prepare export")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Download proposal-", exact=False).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(str(target))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(target, ARTIFACTS / target.name)
    text = target.read_text(encoding="utf-8")
    for section in ("## Summary", "## Motivation", "## Specification", "## Methodology", "## Backtest results",
                    "## Risks and next steps"):
        assert section in text, section
    assert "BTC-SYN" in text and "DRAFT" not in text
    assert "| Asset | Parameter | Current | Proposed | Change |" in text.replace("  ", " ")
    _idle(page)
    _shot(page, "6-governance")
    page.close()
    # how fast the first page renders is measured by benchmarks/dashboard.py, not asserted here

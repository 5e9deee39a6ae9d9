"""AppTest smoke tests of the dashboard pages (no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from riskparams import ui
from riskparams.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dashboard_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "dash.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    ui._open_store.clear()
    ui.clear_data_caches()  # every cached frame and fit: each test has a fresh store
    yield path
    ui._open_store.clear()
    ui.clear_data_caches()


def test_home_seeds_demo_data_on_first_start(dashboard_db: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert not at.error
    frame = at.dataframe[0].value
    assert len(frame) >= 10 and set(frame["source"]) == {"synthetic"}
    assert any("synthetic demo data" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 1
    ui._open_store.clear()
    with Store(dashboard_db) as store:
        assert not store.is_empty()


def test_home_switches_series(dashboard_db: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    options = at.selectbox[0].options
    assert len(options) >= 10
    at.selectbox[0].select_index(len(options) - 1).run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 1


def _run_on_a_bad_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app run once on a file that is not a DuckDB store."""
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_text("this is not a duckdb file")
    monkeypatch.setenv("RISKPARAMS_DB", str(bad))
    ui._open_store.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    ui._open_store.clear()
    return at


def test_home_shows_a_store_error_as_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run_on_a_bad_store(tmp_path, monkeypatch)
    assert not at.exception
    assert len(at.error) == 1
    assert "cannot open the store" in at.error[0].value


def test_pages_are_named_as_a_user_says_them_and_kept_in_pages() -> None:
    assert [title for _file, title, _icon in ui.PAGES] == ["Overview", "Data", "Volatility", "Proposal", "Backtest",
                                                           "Governance", "Book", "Sweep"]
    for file, _title, _icon in ui.PAGES:
        assert (ROOT / "pages" / file).exists(), file
    assert sorted(p.name for p in (ROOT / "pages").glob("*.py")) == sorted(f for f, _t, _i in ui.PAGES)


def test_each_page_run_ends_with_the_ready_marker(dashboard_db: Path) -> None:
    """app.py runs the chosen page through st.navigation and then draws the hidden marker browser tests wait on
    (also when the page stops early, and with a new run number on every run)."""
    def markers(at: AppTest) -> list[str]:
        return [e.proto.body for e in at.get("html") if ui.READY_TESTID in e.proto.body]

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Overview"
    (first,) = markers(at)
    assert 'data-page="Overview"' in first and 'data-run="1"' in first and 'data-state="done"' in first
    at.run()
    (second,) = markers(at)
    assert 'data-run="2"' in second


def test_a_page_that_stops_early_still_says_it_is_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run_on_a_bad_store(tmp_path, monkeypatch)
    assert len(at.error) == 1
    (marker,) = [e.proto.body for e in at.get("html") if ui.READY_TESTID in e.proto.body]
    assert 'data-state="stopped"' in marker

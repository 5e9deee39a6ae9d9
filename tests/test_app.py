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


def test_home_shows_a_store_error_as_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_text("this is not a duckdb file")
    monkeypatch.setenv("RISKPARAMS_DB", str(bad))
    ui._open_store.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    ui._open_store.clear()
    assert not at.exception
    assert len(at.error) == 1
    assert "cannot open the store" in at.error[0].value

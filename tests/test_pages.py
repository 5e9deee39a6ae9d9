"""AppTest tests of the Data and Volatility pages (no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from riskparams import ui
from riskparams.ingest import load_demo
from riskparams.store import Store

ROOT = Path(__file__).resolve().parents[1]
CSV = """timestamp,open,high,low,close,volume
2024-01-01T00:00:00Z,100,110,95,105,10
2024-01-02T00:00:00Z,105,112,101,108,12
"""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "pages.duckdb"
    with Store(path) as store:
        load_demo(store)
    return path


@pytest.fixture
def db(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(demo_db.read_bytes())
    monkeypatch.setenv("RISKPARAMS_DB", str(copy))
    ui._open_store.clear()
    ui.clear_data_caches()
    yield copy
    ui._open_store.clear()
    ui.clear_data_caches()


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / name), default_timeout=180)


def test_data_page_renders_series_and_quality(db: Path) -> None:
    at = page("1_Data.py").run()
    assert not at.exception and not at.error
    assert len(at.dataframe[0].value) >= 10
    labels = [m.label for m in at.metric]
    assert {"Bars", "Coverage", "Gaps"} <= set(labels)


def test_data_page_rejects_a_missing_symbol_with_one_error(db: Path) -> None:
    at = page("1_Data.py").run()
    upload_button = next(b for b in at.button if b.label == "Validate and store")
    upload_button.click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Choose a file first."]


def test_volatility_page_fits_models_side_by_side(db: Path) -> None:
    at = page("2_Volatility.py").run()
    assert not at.exception, at.exception
    assert not at.error
    frames = [d.value for d in at.dataframe]
    table = frames[0]
    assert list(table["requested"]) == ["garch", "gjr", "egarch", "ewma"]
    assert (table["var"] > 0).all() and (table["es"] >= table["var"]).all()
    assert len(at.get("plotly_chart")) == 3


def test_upload_goes_through_the_validated_ingest(db: Path) -> None:
    """The Data page's upload action: errors name the uploaded file; the store is unchanged."""
    from riskparams.exceptions import DataError

    store = Store(db)
    try:
        before = store.counts()
        bad = CSV + "2024-01-03T00:00:00Z,100,90,95,105,10\n"
        with pytest.raises(DataError, match=r"^my bars\.csv: row 4, column 'high': high 90 is below"):
            ui.ingest_upload(store, "my bars.csv", bad.encode(), symbol="UP", source="upload", kind=None,
                             freq=None, replace=False)
        assert store.counts() == before
        report = ui.ingest_upload(store, "../../etc/evil.csv", CSV.encode(), symbol="UP", source="upload",
                                  kind=None, freq="1d", replace=False)
        assert report.rows_added == 2 and report.origin.endswith("evil.csv")
    finally:
        store.close()


def test_overview_flags_and_regimes(db: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception and not at.error
    overview = at.dataframe[0].value
    assert {"regime", "ewma_vol", "long_run_vol"} <= set(overview.columns)
    assert set(overview["regime"]) <= {"calm", "normal", "elevated", "stressed", "too little data"}
    labels = {m.label: m.value for m in at.metric}
    assert labels["Current parameters below target coverage"] == "0"  # no proposal has assessed any yet

    # a proposal against loose current parameters (20x on ETH-SYN) is flagged on the overview
    from riskparams.params_io import load_current
    from riskparams.service import propose

    with Store(db) as s:
        run = propose(s, profile="perp", symbols=["ETH-SYN"],
                      current=load_current(ROOT / "riskparams" / "examples" / "current_perp.csv", "perp"))
    below = [a for a in run.proposal.content()["assets"] if a["current"]["below_confidence"]]
    assert below, "the example current parameters should fall short on ETH-SYN"
    ui._open_store.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Current parameters below target coverage"] == "1"
    flags = at.dataframe[0].value
    assert list(flags["symbol"]) == ["ETH-SYN"] and (flags["current_coverage"] < flags["confidence"]).all()


def test_proposal_page_generates_and_shows_changes(db: Path) -> None:
    at = page("3_Proposal.py").run()
    assert not at.exception and not at.error
    at.multiselect[0].set_value(["BTC-SYN"])
    next(b for b in at.button if b.label == "Generate proposal").click().run()
    assert not at.exception and not at.error
    assert at.success and "perp, status draft" in at.success[0].value
    spec = at.dataframe[0].value
    assert set(spec["symbol"]) == {"BTC-SYN"}
    assert {"Max leverage", "Maintenance margin fraction (MMF)"} <= set(spec["parameter"])
    assert len(at.get("plotly_chart")) >= 2  # tier ladder and covered move
    # an override without a justification is one st.error line, and creates nothing
    next(t for t in at.text_input if t.label == "New value").set_value("0.05")
    next(b for b in at.button if b.label == "Create revision").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "justification" in at.error[0].value


def test_governance_page_review_and_refused_self_sign(db: Path) -> None:
    prop = page("3_Proposal.py").run()
    prop.multiselect[0].set_value(["ETH-SYN"])
    next(b for b in prop.button if b.label == "Generate proposal").click().run()
    at = page("5_Governance.py").run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "draft"
    next(b for b in at.button if b.label == "Submit for review").click().run()
    assert {m.label: m.value for m in at.metric}["Status"] == "in_review"
    audit = at.dataframe[-1].value
    assert list(audit["to"])[-1] == "in_review"
    next(b for b in at.button if b.label == "Sign off").click().run()  # the submitter may not sign (four eyes)
    assert len(at.error) == 1 and "may not sign it off" in at.error[0].value


def test_backtest_page_runs_and_shows_statistics(db: Path) -> None:
    at = page("4_Backtest.py").run()
    assert not at.exception and not at.error
    next(b for b in at.button if b.label == "Run backtest").click().run()
    assert not at.exception and not at.error
    assert at.success and "Report" in at.success[0].value
    stats = at.dataframe[0].value
    assert {"symbol", "parameter_set", "n", "exceptions", "expected", "traffic_light", "kupiec_p"} <= set(stats.columns)
    assert set(stats["symbol"]) == {"BTC-SYN"} and (stats["n"] > 100).all()
    assert len(at.get("plotly_chart")) == 3
    # how the forecasts were made: the policy's model 'auto', and which candidate each proposal used
    model_line = next(c.value for c in at.caption if c.value.startswith("BTC-SYN: model "))
    assert "auto-t (lowest BIC of garch, gjr, egarch at each refit" in model_line
    assert "window" in model_line and "refit every bar" in model_line
    with Store(db) as s:
        assert s.cursor().execute("SELECT count(*) FROM backtest_reports").fetchone()[0] == 1

"""AppTest tests of the pages and the overview (no browser)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from riskparams import ui
from riskparams.ingest import load_demo
from riskparams.store import Store
from riskparams.store import backtest_records as br

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


def plotly_specs(at: AppTest) -> list[dict[str, Any]]:
    """The figures the page drew, as plotly JSON."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_volatility_page_fits_models_side_by_side(db: Path) -> None:
    at = page("2_Volatility.py").run()
    assert not at.exception, at.exception
    assert not at.error
    frames = [d.value for d in at.dataframe]
    table = frames[0]
    assert list(table["requested"]) == ["garch", "gjr", "egarch", "ewma"]
    assert (table["var"] > 0).all() and (table["es"] >= table["var"]).all()
    # realized estimators, price and conditional volatility, model losses and the sensitivity heat map
    assert len(at.get("plotly_chart")) == 4


def test_volatility_page_sensitivity_heat_map(db: Path) -> None:
    at = page("2_Volatility.py").run()
    assert not at.exception and not at.error
    assert "Sensitivity: tier-1 margin by margin period of risk and confidence" in [h.value for h in at.subheader]
    horizons = next(t for t in at.text_input if t.label == "Horizons (hours)")
    confidences = next(t for t in at.text_input if t.label == "Confidences")
    horizons.set_value("1,4,24")
    confidences.set_value("0.99,0.995,0.999")
    at.run()
    assert not at.exception and not at.error
    heat = next(f for f in plotly_specs(at) if f["data"][0]["type"] == "heatmap")["data"][0]
    assert heat["x"] == ["99.00%", "99.50%", "99.90%"] and heat["y"] == ["1 h", "4 h", "24 h"]
    z = np.asarray(heat["z"], dtype=float)  # tier-1 MMF: rows horizons, columns confidences
    assert z.shape == (3, 3) and ((z > 0) & (z < 1)).all()
    assert (np.diff(z, axis=0) >= 0).all() and (np.diff(z, axis=1) >= 0).all()  # never lower for longer or surer
    assert z[-1, -1] > z[0, 0]
    # a bad entry is one st.error line, no traceback; the sections above still render
    next(t for t in at.text_input if t.label == "Horizons (hours)").set_value("abc").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["horizons: 'abc' is not a number; write numbers separated by commas."]
    assert len(at.get("plotly_chart")) == 3 and list(at.dataframe[0].value["requested"])[0] == "garch"
    next(t for t in at.text_input if t.label == "Horizons (hours)").set_value("1,4").run()
    next(t for t in at.text_input if t.label == "Confidences").set_value("0.5").run()
    assert not at.exception and len(at.error) == 1 and "confidence" in at.error[0].value


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
    assert labels["Below target coverage"] == "0"  # no proposal has assessed any yet

    # a proposal against loose current parameters (20x on ETH-SYN) is flagged on the overview
    from riskparams.config import policy_from_dict
    from riskparams.params_io import load_current
    from riskparams.service import propose

    # (ETH-SYN's hourly perp series is liquid: its 1m tier closes out in minutes, and over minutes 20x holds; over a
    # one-day margin period of risk it does not)
    with Store(db) as s:
        run = propose(s, profile="perp", symbols=["ETH-SYN"], policy=policy_from_dict({"mpor": {"fixed_hours": 24}}),
                      current=load_current(ROOT / "riskparams" / "examples" / "current_perp.csv", "perp"))
    below = [a for a in run.proposal.content()["assets"] if a["current"]["below_confidence"]]
    assert below, "the example current parameters should fall short on ETH-SYN over a day"
    ui._open_store.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Below target coverage"] == "1"
    flags = at.dataframe[0].value
    assert list(flags["symbol"]) == ["ETH-SYN"] and (flags["current_coverage"] < flags["confidence"]).all()


PEERS = b"""venue,symbol,notional_cap,max_leverage,maintenance_rate
venuex,BTC-SYN,1000000,50,0.01
venuex,BTC-SYN,,20,0.025
"""


def test_proposal_page_generates_and_shows_changes(db: Path) -> None:
    at = page("3_Proposal.py").run()
    assert not at.exception and not at.error
    # the form: MPOR inputs, model-risk combination, series and options choices, peers
    labels = {w.label for w in (*at.number_input, *at.selectbox, *at.multiselect, *at.checkbox, *at.text_input)}
    assert {"Oracle latency (minutes)", "Liquidation delay (minutes)", "Participation rate (share of volume)",
            "Model risk: combine fitted / FHS / historical", "Frequency", "Kind", "Options side by side",
            "Compare with the shipped Binance / Hyperliquid / dYdX tables", "Include synthetic demo assets"} <= labels
    assert next(c for c in at.checkbox if c.label == "Include synthetic demo assets").value is False
    assert next(m for m in at.multiselect if m.label == "Options side by side").value == \
        ["conservative", "moderate", "aggressive"]
    assert next(c for c in at.checkbox if c.label.startswith("Compare with the shipped")).value is True
    assert [u.label for u in at.file_uploader] == ["Current parameters (CSV or JSON, optional)",
                                                   "Peer venues' tier tables (CSV, optional)"]
    next(m for m in at.multiselect if m.label == "Assets (all when empty)").set_value(["BTC-SYN"])
    next(u for u in at.file_uploader if u.label.startswith("Peer venues")).set_value(("peers.csv", PEERS, "text/csv"))
    next(b for b in at.button if b.label == "Generate proposal").click().run()
    assert not at.exception and not at.error
    assert at.success and "perp, status draft" in at.success[0].value
    heads = [h.value for h in at.subheader]
    assert {"Model risk, caps and series", "Tiers: margin period of risk and coverage", "Options", "Changes"} <= set(heads)
    spec = frame_with(at, "parameter")
    assert set(spec["symbol"]) == {"BTC-SYN"}
    assert {"Max leverage", "Maintenance margin fraction (MMF)"} <= set(spec["parameter"])
    # model risk: the combined move is the median of the three (the policy's default), at tier 1's horizon
    risk = frame_with(at, "bound by")
    assert list(risk["symbol"]) == ["BTC-SYN"] and risk["series"][0].startswith("1h perp")
    row = risk.iloc[0]
    assert row["combined"] == pytest.approx(np.median([row["fitted"], row["FHS"], row["historical"]]))
    # tiers: each with its own margin period of risk, longer for larger notionals
    tiers = frame_with(at, "MPOR (h)")
    assert list(tiers["tier"]) == list(range(1, len(tiers) + 1)) and len(tiers) >= 2
    assert tiers["MPOR (h)"].is_monotonic_increasing and tiers["MMF"].is_monotonic_increasing
    assert tiers["MPOR (h)"].iloc[0] == pytest.approx(row["horizon (h)"])
    # options side by side: looser from conservative to aggressive
    opts = frame_with(at, "option").set_index("option")
    assert list(opts.index) == ["conservative", "moderate (recommended)", "aggressive"]
    mmf = opts["tier-1 MMF"]
    assert mmf["conservative"] >= mmf["moderate (recommended)"] >= mmf["aggressive"]
    assert mmf["moderate (recommended)"] == pytest.approx(tiers["MMF"].iloc[0])
    # the uploaded peer table beside the proposal at each tier's floor
    peers = frame_with(at, "venuex")
    assert len(peers) == len(tiers) and peers["venuex"].iloc[0] == "50x / 1.00%"
    assert len(at.get("plotly_chart")) >= 2  # tier ladder and covered move
    # an override without a justification is one st.error line, and creates nothing
    at.selectbox(key="member").set_value("bob").run()  # nobody acts until chosen (local mode)
    next(t for t in at.text_input if t.label == "New value").set_value("0.05")
    next(b for b in at.button if b.label == "Create revision").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "justification" in at.error[0].value


def test_governance_page_review_and_refused_self_sign(db: Path) -> None:
    prop = page("3_Proposal.py").run()
    next(m for m in prop.multiselect if m.label == "Assets (all when empty)").set_value(["ETH-SYN"])
    next(b for b in prop.button if b.label == "Generate proposal").click().run()
    at = page("5_Governance.py").run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "draft"
    at.selectbox(key="member").set_value("alice").run()  # nobody acts until chosen (local mode)
    next(b for b in at.button if b.label == "Submit for review").click().run()
    assert {m.label: m.value for m in at.metric}["Status"] == "in_review"
    audit = at.dataframe[-1].value
    assert list(audit["to"])[-1] == "in_review"
    next(b for b in at.button if b.label == "Sign off").click().run()  # the submitter may not sign (four eyes)
    assert len(at.error) == 1 and "may not sign it off" in at.error[0].value


def test_backtest_page_runs_and_shows_statistics(db: Path) -> None:
    at = page("4_Backtest.py").run()
    assert not at.exception and not at.error
    assert {"Frequency", "Kind"} <= {s.label for s in at.selectbox}
    assert next(s for s in at.selectbox if s.label == "Frequency").value == "auto"
    next(b for b in at.button if b.label == "Run backtest").click().run()
    assert not at.exception and not at.error
    assert at.success and "Report" in at.success[0].value
    stats = at.dataframe[0].value
    assert {"symbol", "parameter_set", "n", "exceptions", "expected", "traffic_light", "kupiec_p"} <= set(stats.columns)
    assert set(stats["symbol"]) == {"BTC-SYN"} and (stats["n"] > 100).all()
    assert len(at.get("plotly_chart")) == 3
    # the chart legend counts the exceptions the table counts (headline side, non-overlapping sample), and says so
    legend = {t["name"] for t in plotly_specs(at)[0]["data"] if t.get("mode") == "markers"}
    for row in stats.itertuples():
        n = row.exceptions
        assert any(name.startswith(f"{row.parameter_set}: {n} exception{'s' if n != 1 else ''}") for name in legend), \
            (legend, n)
    assert any(c.value.startswith("Exceptions in the legend, the badges and the table: ") for c in at.caption)
    # how the forecasts were made: the policy's model 'auto', and which candidate each proposal used
    model_line = next(c.value for c in at.caption if c.value.startswith("BTC-SYN: model "))
    assert model_line.startswith("BTC-SYN: model auto-t (lowest BIC of ")
    assert "window" in model_line and "refit every bar" in model_line
    with Store(db) as s:
        assert s.cursor().execute("SELECT count(*) FROM backtest_reports").fetchone()[0] == 1
        content = br.get_report(s, br.list_reports(s)[0]["id"]).content
    asset = content["assets"][0]
    claimed = next(x for x in asset["sets"] if x["name"] == "policy")["claimed"]
    # the policy replay's claimed coverage and its capital beside the policy's own tier-1 margin
    lines = [m.value for m in at.markdown]
    claim = next(ln for ln in lines if ln.startswith("**Claimed coverage**"))
    assert (f"{claimed['exceptions']:,} exceptions in {claimed['n']:,} against {claimed['expected']:,.1f} claimed"
            in claim)
    assert f"outside stressed regimes {claimed['steady_exceptions']:,} in {claimed['steady_n']:,}" in claim
    capital = next(ln for ln in lines if ln.startswith("**Capital**"))
    live = asset["live_tier1"]
    assert asset["freq"] == "1h" and live["mpor_hours"] < 1  # the finest series; tier 1 closes out within the bar
    assert f"{live['mpor_hours'] * 60:.0f} min at the start" in capital and f"{live['avg_mmf']:.2%}" in capital
    # another frequency: the daily series
    next(s for s in at.selectbox if s.label == "Frequency").set_value("1d")
    next(b for b in at.button if b.label == "Run backtest").click().run()
    assert not at.exception and not at.error
    with Store(db) as s:
        reports = br.list_reports(s)
        assert len(reports) == 2
        daily = [br.get_report(s, r["id"]).content["assets"][0]["freq"] for r in reports]
    assert sorted(daily) == ["1d", "1h"]


def test_data_page_shows_an_upload_at_once(db: Path) -> None:
    """After a successful upload the page runs again: the series table (drawn above the upload form) already lists
    the new series, and the result is said at the top."""
    at = page("1_Data.py").run()
    assert "UP" not in set(at.dataframe[0].value["symbol"])
    at.file_uploader[0].set_value(("bars.csv", CSV.encode(), "text/csv"))
    next(t for t in at.text_input if t.label == "Symbol").set_value("UP")
    next(s for s in at.selectbox if s.label == "Frequency").set_value("1d")
    next(b for b in at.button if b.label == "Validate and store").click().run()
    assert not at.exception and not at.error
    assert "UP" in set(at.dataframe[0].value["symbol"])
    assert len(at.success) == 1 and "UP" in at.success[0].value


def test_data_page_removes_the_demo_data_after_confirmation(db: Path) -> None:
    with Store(db) as s:
        ui.ingest_upload(s, "real.csv", CSV.encode(), symbol="REAL", source="upload", kind=None, freq="1d",
                         replace=False)
    at = page("1_Data.py").run()
    remove = next(b for b in at.button if b.label == "Remove demo data")
    assert remove.disabled  # not before the confirmation
    next(c for c in at.checkbox if c.label.startswith("Yes, delete the")).check().run()
    next(b for b in at.button if b.label == "Remove demo data").click().run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value["symbol"]) == ["REAL"]
    assert at.success and at.success[0].value.startswith("Removed ") and "synthetic series" in at.success[0].value
    assert not [b for b in at.button if b.label == "Remove demo data"]  # nothing synthetic left


def test_data_page_refuses_to_remove_demo_data_a_proposal_used(db: Path) -> None:
    from riskparams.config import policy_from_dict
    from riskparams.service import propose

    with Store(db) as s:
        propose(s, profile="perp", symbols=["BTC-SYN"], policy=policy_from_dict({"model": {"model": "ewma"}}))
        n = len(s.list_series())
    at = page("1_Data.py").run()
    next(c for c in at.checkbox if c.label.startswith("Yes, delete the")).check().run()
    next(b for b in at.button if b.label == "Remove demo data").click().run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("the demo data cannot be removed: 1 stored proposal")
    with Store(db) as s:
        assert len(s.list_series()) == n


def test_governance_page_warns_about_an_unreadable_plan_and_draws_the_rest(db: Path) -> None:
    """A plan row written by a newer riskparams (its hash intact) cannot be read: the page says so in one warning,
    shows no plan, and still draws the export and the audit trail below it (the reader used to stop the page)."""
    from datetime import datetime

    from riskparams.jsonio import canonical_json, content_id
    from riskparams.store.records import list_proposals

    prop = page("3_Proposal.py").run()
    next(m for m in prop.multiselect if m.label == "Assets (all when empty)").set_value(["ETH-SYN"])
    next(b for b in prop.button if b.label == "Generate proposal").click().run()
    with Store(db) as s:
        pid = list_proposals(s)[0]["id"]
        content = {"format": "riskparams-plan-v2", "proposal_id": pid, "steps": [], "notes": ["**bold** <b>x</b>"]}
        with s.transaction() as cur:
            cur.execute("INSERT INTO plans (plan_id, proposal_id, created_at, actor, payload) VALUES (?, ?, ?, ?, ?)",
                        [content_id(content), pid, datetime(2026, 1, 1), "mallory", canonical_json(content)])
    ui.clear_data_caches()
    at = page("5_Governance.py").run()
    assert not at.exception and not at.error
    plan_warnings = [w.value for w in at.warning if "plan" in w.value]  # (the local-mode sign-in warning aside)
    assert len(plan_warnings) == 1
    warning = plan_warnings[0]
    assert warning.startswith("The stored plan is not shown: ") and "riskparams-plan-v2" in warning
    assert not any("<b>" in c.value for c in at.caption)  # the unread plan's notes are not drawn
    assert list(at.dataframe[-1].value["to"])[-1] == "draft"  # the audit trail below the plan still draws

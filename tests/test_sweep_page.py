"""The Sweep page and the presentation of a sweep (issue 16 follow-ups): one label per variant for the frontier
chart and the table, a numeric table formatted like the other pages' tables, the stored sweep read and
hash-checked once per sweep id (not on every click), and hostile input refused in one sentence."""

from __future__ import annotations

import html
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from riskparams import charts, views

PAGE = Path(__file__).resolve().parents[1] / "pages" / "8_Sweep.py"

# A sweep content's variants written by hand (the keys the page reads; numbers chosen so that text order and
# numeric order differ: "10.00%" < "2.00%" and "950k" < "2M" as text). The last value is hostile text.
VARIANTS: list[dict[str, Any]] = [
    {"variant": 0, "changes": {"confidence": 0.99, "mpor.fixed_hours": 24}, "avg_margin": 0.1, "bad_debt": 950_000.0,
     "exceptions": 7, "expected": 27.62, "kupiec_p": 2.5e-6, "liquidations": 206, "changes_per_year": 45.3,
     "on_frontier": True},
    {"variant": 1, "changes": {"confidence": 0.995, "mpor.fixed_hours": 48}, "avg_margin": 0.02, "bad_debt": 2e6,
     "exceptions": 30, "expected": 13.81, "kupiec_p": None, "liquidations": 1_500, "changes_per_year": None,
     "on_frontier": True},
    {"variant": 2, "changes": {"measure": "<b>es</b> & 'x'"}, "avg_margin": 0.15, "bad_debt": 3e6, "exceptions": 0,
     "expected": 1.5, "kupiec_p": 0.4, "liquidations": 3, "changes_per_year": 12.0, "on_frontier": False},
]


def typed(rows: list[dict[str, Any]]) -> list[Any]:
    """The hand-written rows as the typed variants the views and charts read (the keys they do not read filled)."""
    from riskparams.backtest.sweep import SweepVariant

    return [SweepVariant(index=r["variant"], changes=r["changes"], policy_key="", assets=1, n=0,
                         exceptions=r["exceptions"], expected=r["expected"], kupiec_p=r["kupiec_p"],
                         avg_margin=r["avg_margin"], bad_debt=r["bad_debt"], liquidations=r["liquidations"],
                         changes_per_year=r["changes_per_year"], on_frontier=r["on_frontier"],
                         var_insolvent_debt=r.get("var_insolvent_debt")) for r in rows]


# -------------------------------------------------------------------------------------------------------------------
# pure: labels and the table
# -------------------------------------------------------------------------------------------------------------------


def test_chart_and_table_name_every_variant_identically() -> None:
    fig = charts.sweep_frontier(typed(VARIANTS))
    on_chart = {int(c): html.unescape(t) for trace in fig.data for c, t in zip(trace.customdata, trace.text,
                                                                               strict=True)}
    frame = views.sweep_frame(typed(VARIANTS))
    in_table = dict(zip(frame["variant"], frame["changes"], strict=True))
    assert on_chart == in_table == {  # written out: key=value in the sweep's order, joined by ", "
        0: "confidence=0.99, mpor.fixed_hours=24", 1: "confidence=0.995, mpor.fixed_hours=48",
        2: "measure=<b>es</b> & 'x'"}
    # the hover text is escaped for plotly's HTML, never raw markup
    assert "&lt;b&gt;es&lt;/b&gt; &amp; &#x27;x&#x27;" in next(t for trace in fig.data for t in trace.text
                                                             if "measure" in t)
    assert views.sweep_variant_label({}) == charts.sweep_variant_label({}) == ""


def test_sweep_frame_is_numeric_and_sorts_by_value() -> None:
    frame = views.sweep_frame(typed(VARIANTS))
    assert list(frame.columns) == [c for c in views.SWEEP_COLUMNS if c != "var_insolvent_debt"]  # no positions
    for col in ("avg_margin", "bad_debt", "expected", "kupiec_p", "changes_per_year"):
        assert frame[col].dtype.kind == "f", col
    for col in ("variant", "exceptions", "liquidations"):
        assert frame[col].dtype.kind == "i", col
    assert frame["frontier"].dtype.kind == "b" and list(frame["frontier"]) == [True, True, False]
    # sorted by value, not by text: 2% < 10% < 15% and 950k < 2M < 3M
    assert list(frame.sort_values("avg_margin")["variant"]) == [1, 0, 2]
    assert list(frame.sort_values("bad_debt")["variant"]) == [0, 1, 2]
    assert frame.loc[1, "avg_margin"] == 0.02 and frame.loc[0, "bad_debt"] == 950_000.0  # fractions, quote units
    assert math.isnan(frame["kupiec_p"].iloc[1]) and math.isnan(frame["changes_per_year"].iloc[1])  # missing: nan
    with_book = views.sweep_frame(typed([{**VARIANTS[0], "var_insolvent_debt": 1.25e6}, VARIANTS[2]]))
    assert with_book["var_insolvent_debt"].iloc[0] == 1.25e6 and math.isnan(with_book["var_insolvent_debt"].iloc[1])
    assert list(views.sweep_frame([]).columns) == list(frame.columns)


def test_sweep_columns_use_the_shared_formats() -> None:
    from riskparams import ui

    frame = views.sweep_frame(typed([{**VARIANTS[0], "var_insolvent_debt": 1.0}]))
    assert set(frame.columns) == set(ui.SWEEP_COLUMNS)  # every column formatted, none left raw
    assert ui.SWEEP_COLUMNS["avg_margin"] == ui.percent("avg margin", help="average tier-1 margin over the replay")
    assert ui.SWEEP_COLUMNS["avg_margin"]["type_config"]["format"] == "percent"
    for col in ("bad_debt", "var_insolvent_debt"):  # notionals as on the Backtest page: 2.5M, not 2500000
        assert ui.SWEEP_COLUMNS[col]["type_config"]["format"] == ui.BACKTEST_COLUMNS["bad_debt"]["type_config"][
            "format"] == "compact"


# -------------------------------------------------------------------------------------------------------------------
# the page (AppTest, no browser)
# -------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A store file with one stored sweep of two variants (one synthetic daily series, as tests/test_sweep.py)."""
    from riskparams.backtest import BacktestSpec
    from riskparams.ingest.demo import example_store
    from riskparams.service import sweep

    db = tmp_path_factory.mktemp("sweep_page") / "p.duckdb"
    store = example_store(path=str(db))
    spec = BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    run = sweep(store, profile="perp", symbols=["ABC"], grid=["confidence=0.99,0.995"], spec=spec)
    store.close()
    return {"path": str(db), "id": run.id}


@pytest.fixture
def page_env(sweep_db: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from riskparams import ui

    monkeypatch.setenv("RISKPARAMS_DB", sweep_db["path"])
    monkeypatch.delenv("RISKPARAMS_AUTH", raising=False)
    for f in (ui._open_store, ui.cached_sweep_report, ui.cached_sweep_frontier):
        f.clear()
    yield sweep_db
    for f in (ui._open_store, ui.cached_sweep_report, ui.cached_sweep_frontier):
        f.clear()


def test_page_reads_the_stored_sweep_once_per_id(page_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Clicking through the variants reruns the page; the stored sweep is read and hash-checked on the first run
    only. The table is numeric and formatted; chart, table and variant picker name a variant alike."""
    from streamlit.testing.v1 import AppTest

    import riskparams.service as service

    reads: list[str] = []
    real = service.get_sweep

    def counting(store: Any, sweep_id: str) -> Any:
        reads.append(sweep_id)
        return real(store, sweep_id)

    monkeypatch.setattr(service, "get_sweep", counting)
    at = AppTest.from_file(str(PAGE), default_timeout=120).run()
    assert not at.exception and not at.error
    assert reads == [page_env["id"]]
    table = at.dataframe[0].value
    assert table["avg_margin"].dtype.kind == "f" and table["bad_debt"].dtype.kind == "f"
    assert list(table["changes"]) == ["confidence=0.99", "confidence=0.995"]
    variant = next(s for s in at.selectbox if s.label == "Variant")
    assert variant.options == ["0: confidence=0.99", "1: confidence=0.995"]
    times = []
    for k in (1, 0, 1, 0, 1):
        t = time.perf_counter()
        next(s for s in at.selectbox if s.label == "Variant").set_value(k).run()
        times.append(time.perf_counter() - t)
        assert not at.exception and not at.error
    assert reads == [page_env["id"]]  # five reruns, no further read
    assert any(h.value == "Variant 1: confidence=0.995" for h in at.subheader)
    print(f"Sweep page rerun (variant click), cached: median {sorted(times)[2] * 1000:.0f} ms")


def test_page_refuses_a_bad_grid_and_a_tampered_sweep_in_one_sentence(
        page_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from streamlit.testing.v1 import AppTest

    from riskparams import ui

    own = tmp_path / "own.duckdb"  # a copy: this test alters the stored sweep
    shutil.copy(page_env["path"], own)
    monkeypatch.setenv("RISKPARAMS_DB", str(own))
    at = AppTest.from_file(str(PAGE), default_timeout=120).run()
    for grid in ("confidence=2", "'; DROP TABLE sweep_reports; --=1", "nonsense"):
        at.text_area[0].set_value(grid)
        next(b for b in at.button if b.label == "Run sweep").click().run()
        assert not at.exception
        assert len(at.error) == 1 and "\n" not in at.error[0].value and at.error[0].value.endswith("."), grid
    store = ui._open_store()  # the page's own connection (one per process, as under `riskparams serve`)
    assert store.fetchone("SELECT count(*) FROM sweep_reports")[0] == 1  # nothing stored by the refused runs
    with store.transaction() as cur:  # another program edits the stored content: it no longer hashes to its id
        cur.execute("UPDATE sweep_reports SET payload = replace(payload, '\"n_variants\":2', '\"n_variants\":3')")
    ui.cached_sweep_report.clear()  # a new server process: nothing cached yet
    ui.cached_sweep_frontier.clear()
    at = AppTest.from_file(str(PAGE), default_timeout=120).run()
    assert not at.exception and len(at.error) == 1 and "\n" not in at.error[0].value
    assert not at.dataframe  # nothing of the altered sweep is drawn

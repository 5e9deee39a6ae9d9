"""AppTest tests of the Book page (pages/7_Book.py): the synthetic demo book out of the box, a proposal's
parameter sets side by side, a bad upload as one error with nothing stored, a good upload stored with the
proposal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from riskparams import service, ui
from riskparams.ingest import load_demo
from riskparams.params_io import load_current
from riskparams.store import Store

ROOT = Path(__file__).resolve().parents[1]
GOOD = ("account,symbol,side,notional,equity,margin_mode\n"
        "a1,BTC-SYN,long,100000,1000,isolated\n"  # 1% equity: below any MMF, liquidatable now
        "b2,BTC-SYN,long,50000,10000,isolated\n")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("book") / "book.duckdb"
    with Store(path) as store:
        load_demo(store)
        run = service.propose(store, profile="perp", symbols=["BTC-SYN"], options=["conservative", "aggressive"],
                              current=load_current(ROOT / "riskparams" / "examples" / "current_perp.csv", "perp"))
    return path, run.id


@pytest.fixture
def db(demo_db: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(demo_db[0].read_bytes())
    monkeypatch.setenv("RISKPARAMS_DB", str(copy))
    ui._open_store.clear()
    ui.clear_data_caches()
    yield copy
    ui._open_store.clear()
    ui.clear_data_caches()


def page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / "7_Book.py"), default_timeout=180)


def frame_with(at: AppTest, column: str) -> Any:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def impact_rows(path: Path) -> int:
    with Store(path) as store:
        return int(store.fetchone("SELECT count(*) FROM impact_reports")[0])


def test_book_page_shows_the_proposal_sets_on_the_demo_book(db: Path, demo_db: tuple[Path, str]) -> None:
    at = page().run()
    assert not at.exception, at.exception
    assert not at.error
    assert any("Synthetic demo book" in w.value for w in at.warning)
    table = frame_with(at, "accounts now")
    # current (stored in the proposal), the proposal, then the options in the order asked for
    assert list(table["set"]) == ["current", "proposal", "conservative", "aggressive"]
    assert all(v != "-" for v in table["VaR p99"])  # the demo store has joint daily prices: simulated
    scen = frame_with(at, "scenario")
    assert list(scen["scenario"][:3]) == ["now", "covered move down", "covered move up"]
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in fig["data"]} == {"current", "proposal", "conservative", "aggressive"}
    assert any("Under the proposal" in m.value for m in at.markdown)
    assert impact_rows(db) == 0  # looking stores nothing


def test_book_page_current_parameters_alone(db: Path) -> None:
    at = page().run()
    at.selectbox[0].set_value("(current parameters only)")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert list(frame_with(at, "accounts now")["set"]) == ["current"]
    # markdown source: the file name escaped (it is user text), shown as "current_perp.csv"
    assert any("current parameters from current\\_perp\\.csv" in c.value for c in at.caption)


def test_a_bad_upload_is_one_error_and_stores_nothing(db: Path) -> None:
    at = page().run()
    at.file_uploader[0].set_value(("my book.csv", b"account,symbol,side,notional,equity,margin_mode\n"
                                   b"<b>x</b>,BTC-SYN,long,100,10,isolated\n", "text/csv"))
    at.checkbox[0].check()
    at.button[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "my book.csv: row 2, column 'account': value '<b>x</b>' is not an account id (1-64 letters, digits and . _ : "
        "- starting with a letter or digit)."]
    assert impact_rows(db) == 0


def test_an_upload_stored_with_the_proposal_reaches_the_export(db: Path, demo_db: tuple[Path, str]) -> None:
    at = page().run()
    at.file_uploader[0].set_value(("venue book.csv", GOOD.encode(), "text/csv"))
    at.checkbox[0].check()
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert not any("Synthetic demo book" in w.value for w in at.warning)  # a real file: no synthetic banner
    table = frame_with(at, "accounts now")
    # a1 holds 1k of equity against 100k: liquidatable under every set (any MMF above 1%)
    assert list(table["accounts now"]) == ["1", "1", "1", "1"]
    assert impact_rows(db) == 1
    with Store(db) as store:
        stored = service.stored_impact(store, demo_db[1])
        assert stored is not None and stored.positions.source == "venue book.csv"
        from riskparams.governance import export_proposal

        md = export_proposal(store, demo_db[1], "md", "erin").data.decode()
    section = md.split("## Impact on open positions")[1].split("## ")[0]
    assert "venue book\\.csv" in section and "2 positions in 2 accounts" in section
    assert "Under the proposal, 1 account (100k notional) is liquidatable at today's prices" in section


def test_book_page_caches_the_impact_by_its_inputs(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second visit (a new session) with the same inputs draws from the cache: views.book_view is not called
    again; a new upload is computed; storing runs uncached and clears the cache."""
    from riskparams import views

    calls: list[tuple[Any, ...]] = []
    real = views.book_view

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append((args[1], kwargs.get("upload"), kwargs.get("save")))
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "book_view", counted)
    first = page().run()
    assert not first.exception and not first.error and len(calls) == 1
    again = page().run()  # a new session: same proposal, no upload, same data
    assert not again.exception and len(calls) == 1
    assert frame_with(again, "accounts now").equals(frame_with(first, "accounts now"))
    again.file_uploader[0].set_value(("venue book.csv", GOOD.encode(), "text/csv"))
    again.button[0].click().run()
    assert len(calls) == 2 and calls[-1][1] == ("venue book.csv", GOOD.encode())
    again.button[0].click().run()  # the same upload again: cached
    assert len(calls) == 2
    again.checkbox[0].check()
    again.button[0].click().run()  # store it: computed (never from the cache), then the cache is cleared
    assert len(calls) == 3 and calls[-1][2] is True and impact_rows(db) == 1
    page().run()  # the stored impact is new: the cache does not answer with the old demo-book view
    assert len(calls) == 4


def test_top5_share_shows_a_dash_not_none(db: Path) -> None:
    at = page().run()
    assert not at.exception and not at.error
    table = frame_with(at, "accounts now")
    scen = frame_with(at, "scenario")
    shares = [*table["top-5 share at move"], *scen["top-5 share"]]
    assert all(isinstance(v, str) and (v == "-" or v.endswith("%")) for v in shares), shares
    assert "None" not in shares and "nan" not in shares
    now = scen[scen["scenario"] == "now"]["top-5 share"].iloc[0]
    assert now == "-" or float(now.rstrip("%")) > 0
    # stress rows carry the waterfall's share (they showed "None"); a window not in the data shows "-"
    stress = scen[scen["scenario"].str.contains("rho")]
    assert len(stress) == 2 and all(v.endswith("%") for v in stress["top-5 share"])
    missing = scen[scen["scenario"].str.contains("not in the data")]
    assert all(v == "-" for v in missing["top-5 share"]) and all(v == "-" for v in missing["accounts"])
    assert "None" not in list(scen["accounts"])
    # the positions summary counts with thousands separators, as the scenario table (they showed 1196)
    by_symbol, modes = frame_with(at, "side"), frame_with(at, "margin mode")
    counts = [*by_symbol["positions"], *modes["positions"], *modes["accounts"]]
    assert all(isinstance(v, str) and v.replace(",", "").isdigit() for v in counts), counts
    assert sum(int(v.replace(",", "")) for v in by_symbol["positions"]) == sum(
        int(v.replace(",", "")) for v in modes["positions"]) >= 1000
    assert any("," in v for v in counts)


def test_percent_text() -> None:
    assert ui.percent_text([0.9413, None, float("nan"), 1.0, "x"]) == ["94.13%", "-", "-", "100.00%", "-"]
    assert ui.count_text([1151, None, float("nan"), 0, 3.0]) == ["1,151", "-", "-", "0", "3"]

"""Integration: every real Binance file in ../shared/data/prices goes into one real store file.

Row counts, gaps and the largest return of each file must match the table in SOURCES.md; ingesting
everything a second time must change nothing. Skipped when the data folder is absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskparams.domain import IngestReport
from riskparams.ingest import guess_from_filename, ingest_file
from riskparams.quality import quality_report
from riskparams.store import Store

pytestmark = pytest.mark.integration

N_FILES = 28


@dataclass(frozen=True)
class Documented:
    """One row of the SOURCES.md table."""

    file: str
    rows: int
    first: datetime
    last: datetime
    gaps: int
    missing_bars: int
    top_return_at: datetime
    top_return_pct: float


_ROW = re.compile(
    r"^\|\s*`(?P<file>[^`]+\.csv)`\s*\|\s*(?P<rows>\d+)\s*\|\s*(?P<first>[\d\-T:]+)Z\s*→\s*(?P<last>[\d\-T:]+)Z\s*\|"
    r"\s*(?P<gaps>\d+) gaps / (?P<missing>\d+) missing bars\s*\|\s*(?P<top>[^;|]+);"
)


def _parse_top(text: str) -> tuple[datetime, float]:
    """'2020-03-12 -50.3%' or '2020-03-12 20:00 -22.9%' -> (datetime, -50.3)."""
    *when, pct = text.split()
    return datetime.fromisoformat(" ".join(when)), float(pct.rstrip("%"))


def documented_table(folder: Path) -> dict[str, Documented]:
    out = {}
    for line in (folder / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line)
        if m:
            at, pct = _parse_top(m["top"])
            out[m["file"]] = Documented(
                file=m["file"], rows=int(m["rows"]),
                first=datetime.fromisoformat(m["first"]), last=datetime.fromisoformat(m["last"]),
                gaps=int(m["gaps"]), missing_bars=int(m["missing"]),
                top_return_at=at, top_return_pct=pct,
            )
    return out


def ingest_folder(store: Store, folder: Path) -> dict[str, IngestReport]:
    reports = {}
    for path in sorted(folder.glob("*.csv")):
        guess = guess_from_filename(path)
        assert guess["symbol"] and guess["freq"], path.name
        reports[path.name] = ingest_file(
            store, path, symbol=str(guess["symbol"]), source="binance", kind=guess["kind"], freq=guess["freq"]
        )
    return reports


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from conftest import PRICES_DIR

    if not PRICES_DIR.is_dir():
        pytest.skip(f"real price data not found at {PRICES_DIR}")
    db = tmp_path_factory.mktemp("real") / "real.duckdb"
    store = Store(db)
    reports = ingest_folder(store, PRICES_DIR)
    yield store, reports, documented_table(PRICES_DIR)
    store.close()


def test_sources_table_lists_every_file(loaded: Any, prices_dir: Path) -> None:
    _, reports, table = loaded
    files = sorted(p.name for p in prices_dir.glob("*.csv"))
    assert len(files) == N_FILES
    assert sorted(table) == files
    assert sorted(reports) == files


def test_every_file_is_stored_whole(loaded: Any) -> None:
    store, reports, table = loaded
    for name, report in reports.items():
        doc = table[name]
        guess = guess_from_filename(name)
        s = report.series
        assert (s.symbol, s.freq, s.kind, s.source) == (guess["symbol"], guess["freq"], guess["kind"], "binance"), name
        assert (report.rows_read, report.rows_added, report.duplicates_dropped) == (doc.rows, doc.rows, 0), name
        assert (s.rows, s.first, s.last) == (doc.rows, doc.first, doc.last), name
        assert (len(report.gaps), report.missing_bars) == (doc.gaps, doc.missing_bars), name
    assert len(store.list_series()) == N_FILES
    assert store.counts()["prices"] == sum(d.rows for d in table.values())
    assert store.counts()["ingest_log"] == N_FILES


def test_perp_and_spot_are_separate_series(loaded: Any) -> None:
    store, _, _ = loaded
    btc = {(s.freq, s.kind) for s in store.find_series("BTC")}
    assert btc == {("1d", "spot"), ("4h", "spot"), ("1h", "perp")}
    assert store.resolve_series("BTC").freq == "1d"  # the daily series is preferred


def test_luna_hourly_gaps(loaded: Any) -> None:
    store, reports, _ = loaded
    report = reports["LUNA_1h_binance_spot.csv"]
    assert (len(report.gaps), report.missing_bars) == (9, 18)
    assert all(datetime(2020, 11, 1) <= g.after < datetime(2021, 10, 1) for g in report.gaps)
    luna = store.resolve_series("LUNA", freq="1h")
    q = quality_report(store.load_prices(luna.series_id), "1h")
    assert (q.gap_count, q.missing_bars, q.bars) == (9, 18, 15_093)
    assert q.expected_bars == 15_093 + 18


def test_largest_returns_match_the_table(loaded: Any) -> None:
    store, reports, table = loaded
    for name, report in reports.items():
        doc = table[name]
        frame = store.load_prices(report.series.series_id)
        r = np.diff(np.log(frame["close"].to_numpy()))
        i = int(np.argmax(np.abs(r)))
        at = frame.index[i + 1].tz_localize(None).to_pydatetime()
        assert at == doc.top_return_at, name
        assert round(100 * r[i], 1) == pytest.approx(doc.top_return_pct, abs=0.11), name


def test_stress_events_are_present(loaded: Any) -> None:
    store, _, _ = loaded
    btc = store.load_prices(store.resolve_series("BTC", freq="1d").series_id)
    r = np.log(btc["close"]).diff()
    assert r.loc[pd.Timestamp("2020-03-12", tz="UTC")] == pytest.approx(-0.503, abs=0.001)
    sol = store.load_prices(store.resolve_series("SOL", freq="1d").series_id)
    assert np.log(sol["close"]).diff().loc[pd.Timestamp("2022-11-09", tz="UTC")] == pytest.approx(-0.549, abs=0.001)


def test_reingesting_everything_changes_nothing(
    loaded: Any, prices_dir: Path, snapshot: Callable[[Store], dict[str, Any]]
) -> None:
    store, first, _ = loaded
    before = snapshot(store)
    again = ingest_folder(store, prices_dir)
    assert all(not r.changed and r.rows_unchanged == r.rows_read for r in again.values())
    assert {n: r.file_hash for n, r in again.items()} == {n: r.file_hash for n, r in first.items()}
    assert snapshot(store) == before
    # and the file on disk holds the same: checkpoint, copy it, open the copy
    store.cursor().execute("CHECKPOINT")
    db = Path(store.path)
    copy = db.with_name("copy.duckdb")
    copy.write_bytes(db.read_bytes())
    with Store(copy, read_only=True) as reopened:
        assert snapshot(reopened) == before

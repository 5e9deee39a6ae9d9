"""Ingest into the store: one transaction per ingest, idempotent re-ingest, overlaps and replace,
failures injected mid-write, and the riskparams.ingest entry points (files, frames, demo, fetch)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import bar_lines, make_frame

from riskparams import ingest as ing
from riskparams.exceptions import DataError, ExchangeError
from riskparams.store import Store

Snapshot = Callable[[Store], dict[str, Any]]


def ingest(store: Store, path: Path, **kw: Any) -> Any:
    kw.setdefault("symbol", "BTC")
    kw.setdefault("source", "test")
    kw.setdefault("kind", "spot")
    return store.ingest_file(path, **kw)


# ---------------------------------------------------------------------------------------------------
# failures injected in the middle of the write


class Boom(RuntimeError):
    pass


class _FailingCursor:
    """A DuckDB cursor that raises ``exc`` instead of running a statement matching ``pattern``."""

    def __init__(self, cur: Any, pattern: str, exc: BaseException, seen: list[str]) -> None:
        self._cur, self._pattern, self._exc, self._seen = cur, re.compile(pattern), exc, seen

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        flat = " ".join(sql.split())
        if self._pattern.search(flat):
            self._seen.append(flat)
            raise self._exc
        out = self._cur.execute(sql, *args, **kwargs)
        return self if out is self._cur else out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class _FailingConnection:
    def __init__(self, con: Any, pattern: str, exc: BaseException, seen: list[str]) -> None:
        self._con, self._args = con, (pattern, exc, seen)

    def cursor(self) -> _FailingCursor:
        return _FailingCursor(self._con.cursor(), *self._args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def inject_failure(monkeypatch: pytest.MonkeyPatch, store: Store, pattern: str, exc: BaseException) -> list[str]:
    """Make the ingest cursors of ``store`` raise ``exc`` at the first statement matching ``pattern``."""
    seen: list[str] = []
    monkeypatch.setattr(store, "_con", _FailingConnection(store._con, pattern, exc, seen))
    return seen


WRITE_STEPS = [
    r"^INSERT INTO series",
    r"^INSERT INTO prices",
    r"^INSERT INTO ingest_log",
    r"^COMMIT",
]


@pytest.mark.parametrize("step", WRITE_STEPS)
@pytest.mark.parametrize("exc", [Boom("disk on fire"), KeyboardInterrupt()], ids=["error", "interrupt"])
def test_failure_mid_write_of_a_new_series_rolls_back_everything(
    step: str,
    exc: BaseException,
    tmp_store: Store,
    write_csv: Callable[..., Path],
    snapshot: Snapshot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest(tmp_store, write_csv("eth.csv", bar_lines(5, step="1D")), symbol="ETH")
    before = snapshot(tmp_store)
    path = write_csv("btc.csv", bar_lines(24))
    seen = inject_failure(monkeypatch, tmp_store, step, exc)
    with pytest.raises(type(exc)):
        ingest(tmp_store, path)
    assert seen, f"the ingest never reached {step}"
    monkeypatch.undo()
    after = snapshot(tmp_store)
    assert after == before
    assert [s.symbol for s in tmp_store.list_series()] == ["ETH"]  # the new series row is gone too
    # the store still works, and the same file now goes in whole
    report = ingest(tmp_store, path)
    assert report.rows_added == 24
    assert tmp_store.counts()["ingest_log"] == 2


@pytest.mark.parametrize("step", [r"^DELETE FROM prices", r"^INSERT INTO prices", r"^INSERT INTO ingest_log"])
def test_failure_mid_replace_keeps_the_stored_bars(
    step: str,
    tmp_store: Store,
    write_csv: Callable[..., Path],
    snapshot: Snapshot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest(tmp_store, write_csv("v1.csv", bar_lines(10)))
    before = snapshot(tmp_store)
    changed = write_csv("v2.csv", bar_lines(12, base=200.0))
    inject_failure(monkeypatch, tmp_store, step, Boom("power cut"))
    with pytest.raises(Boom):
        ingest(tmp_store, changed, replace=True)
    monkeypatch.undo()
    assert snapshot(tmp_store) == before
    db = Path(tmp_store.path)
    tmp_store.close()
    with Store(db) as reopened:
        assert snapshot(reopened) == before


def test_failure_while_staging_changes_nothing(
    tmp_store: Store, write_csv: Callable[..., Path], snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(tmp_store, write_csv("a.csv", bar_lines(4)))
    before = snapshot(tmp_store)
    inject_failure(monkeypatch, tmp_store, r"stg_typed", Boom("out of memory"))
    with pytest.raises(Boom):
        ingest(tmp_store, write_csv("b.csv", bar_lines(8)))
    monkeypatch.undo()
    assert snapshot(tmp_store) == before


# ---------------------------------------------------------------------------------------------------
# re-ingest, overlap, replace


def test_reingesting_the_same_file_changes_nothing(
    tmp_store: Store, write_csv: Callable[..., Path], snapshot: Snapshot
) -> None:
    path = write_csv("btc.csv", bar_lines(48))
    first = ingest(tmp_store, path)
    assert (first.rows_added, first.rows_unchanged, first.changed) == (48, 0, True)
    before = snapshot(tmp_store)
    again = ingest(tmp_store, path)
    assert (again.rows_read, again.rows_added, again.rows_replaced, again.rows_unchanged) == (48, 0, 0, 48)
    assert not again.changed
    assert again.file_hash == first.file_hash
    assert "0 bars added, 48 already stored" in again.summary()
    assert snapshot(tmp_store) == before  # no new log row, nothing else either
    # also with replace: identical bars are not "replaced"
    third = ingest(tmp_store, path, replace=True)
    assert (third.rows_added, third.rows_replaced) == (0, 0)
    assert snapshot(tmp_store) == before


def test_overlapping_file_adds_only_the_new_bars(tmp_store: Store, write_csv: Callable[..., Path]) -> None:
    lines = bar_lines(30)
    ingest(tmp_store, write_csv("a.csv", lines[:20]))
    report = ingest(tmp_store, write_csv("b.csv", lines[15:]))
    assert (report.rows_read, report.rows_added, report.rows_unchanged, report.rows_replaced) == (15, 10, 5, 0)
    assert report.series.rows == 30
    frame = tmp_store.load_prices(report.series.series_id)
    assert frame["open"].tolist() == [100.0 + i for i in range(30)]
    log = tmp_store.ingest_log()
    assert log["rows_added"].tolist() == [10, 20]  # newest first
    assert log["origin"].tolist()[0].endswith("b.csv")


def test_conflicting_overlap_is_an_error_naming_row_and_value(
    tmp_store: Store, write_csv: Callable[..., Path], snapshot: Snapshot
) -> None:
    lines = bar_lines(10)
    ingest(tmp_store, write_csv("a.csv", lines))
    before = snapshot(tmp_store)
    changed = list(lines[5:]) + bar_lines(3, start="2024-01-01T10:00:00Z", base=110.0)
    fields = changed[2].split(",")
    fields[4] = "107.5"  # close of the 07:00 bar (stored: 108), still within high/low
    changed[2] = ",".join(fields)
    with pytest.raises(DataError) as info:
        ingest(tmp_store, write_csv("b.csv", changed))
    err = info.value
    assert str(err) == (
        "b.csv: row 4, column 'timestamp': the bar at 2024-01-01T07:00:00Z differs from the stored bar of "
        "BTC 1h (close 107.5 vs stored 108; 1 conflicting bars in all); use replace (--replace) to "
        "overwrite them."
    )
    assert (err.file, err.row, err.column, err.value) == ("b.csv", 4, "timestamp", "2024-01-01T07:00:00Z")
    assert snapshot(tmp_store) == before  # not even the 3 new bars were added


def test_replace_overwrites_and_counts(tmp_store: Store, write_csv: Callable[..., Path]) -> None:
    ingest(tmp_store, write_csv("a.csv", bar_lines(10)))
    new = bar_lines(12, base=500.0)  # all 10 stored bars differ, 2 are new
    report = ingest(tmp_store, write_csv("b.csv", new), replace=True)
    assert (report.rows_added, report.rows_replaced, report.rows_unchanged) == (2, 10, 0)
    assert "10 replaced" in report.summary()
    frame = tmp_store.load_prices(report.series.series_id)
    assert frame["open"].tolist() == [500.0 + i for i in range(12)]
    assert tmp_store.counts()["prices"] == 12
    log = tmp_store.ingest_log()
    assert (int(log.loc[0, "rows_added"]), int(log.loc[0, "rows_replaced"])) == (2, 10)


def test_replace_with_partly_identical_bars(tmp_store: Store, write_csv: Callable[..., Path]) -> None:
    lines = bar_lines(6)
    ingest(tmp_store, write_csv("a.csv", lines))
    fields = lines[3].split(",")
    fields[5] = "999"  # only the volume differs
    changed = [*lines[:3], ",".join(fields), *lines[4:]]
    report = ingest(tmp_store, write_csv("b.csv", changed), replace=True)
    assert (report.rows_added, report.rows_replaced, report.rows_unchanged) == (0, 1, 5)
    assert tmp_store.load_prices(report.series.series_id)["volume"].tolist()[3] == 999.0


def test_tiny_float_noise_is_not_a_conflict(tmp_store: Store, write_csv: Callable[..., Path]) -> None:
    ingest(tmp_store, write_csv("a.csv", ["2024-01-01T00:00:00Z,0.1,0.3,0.05,0.2,1"]), freq="1d")
    report = ingest(
        tmp_store, write_csv("b.csv", ["2024-01-01T00:00:00Z,0.10000000000000001,0.3,0.05,0.2,1.0"]), freq="1d"
    )
    assert (report.rows_unchanged, report.rows_replaced) == (1, 0)


def test_series_are_kept_apart_by_source_kind_and_frequency(store: Store, write_csv: Callable[..., Path]) -> None:
    path = write_csv("a.csv", bar_lines(5))
    ingest(store, path)
    ingest(store, path, source="other")
    ingest(store, path, kind="perp")
    ingest(store, write_csv("d.csv", bar_lines(5, step="1D")))
    labels = [s.label for s in store.list_series()]
    assert labels == ["BTC 1d spot (test)", "BTC 1h perp (test)", "BTC 1h spot (other)", "BTC 1h spot (test)"]
    assert store.counts()["prices"] == 20


def test_frame_ingest_is_idempotent_and_marks_synthetic(store: Store) -> None:
    frame = make_frame(30)
    report = store.ingest_frame(frame, symbol="X-SYN", source="synthetic", kind="spot", origin="demo", synthetic=True)
    assert report.series.synthetic and report.series.label == "X-SYN 1d spot (synthetic)"
    assert report.file_hash is None and report.origin == "demo"
    again = store.ingest_frame(frame, symbol="X-SYN", source="synthetic", kind="spot", origin="demo", synthetic=True)
    assert not again.changed and store.counts()["ingest_log"] == 1


def test_frame_with_naive_and_shuffled_timestamps(store: Store) -> None:
    frame = make_frame(5, freq="4h").sample(frac=1.0, random_state=3)
    frame["ts"] = frame["ts"].dt.tz_localize(None)
    report = store.ingest_frame(frame, symbol="N", source="t", kind="spot", origin="unit")
    got = store.load_prices(report.series.series_id)
    assert list(got.index) == list(pd.date_range("2024-01-01", periods=5, freq="4h", tz="UTC"))


# ---------------------------------------------------------------------------------------------------
# riskparams.ingest entry points


def test_ingest_file_validates_symbol_source_and_kind(store: Store, write_csv: Callable[..., Path]) -> None:
    path = write_csv("a.csv", bar_lines(3))
    with pytest.raises(DataError, match=r"symbol '=cmd\|calc' is not valid"):
        ing.ingest_file(store, path, symbol="=cmd|calc")
    with pytest.raises(DataError, match=r"source label 'bad source' is not valid"):
        ing.ingest_file(store, path, symbol="BTC", source="bad source")
    with pytest.raises(DataError, match="kind must be spot or perp"):
        ing.ingest_file(store, path, symbol="BTC", kind="option")
    with pytest.raises(DataError, match="frequency must be one of 1h, 4h, 1d"):
        ing.ingest_file(store, path, symbol="BTC", freq="1w")
    assert store.counts()["series"] == 0
    report = ing.ingest_file(store, path, symbol="btc/usdt", source="Binance")
    assert (report.series.symbol, report.series.source, report.series.kind) == ("BTC/USDT", "binance", "spot")


def test_ingest_file_guesses_kind_from_the_file_name(store: Store, write_csv: Callable[..., Path]) -> None:
    report = ing.ingest_file(store, write_csv("BTC_1h_binance_usdm_perp.csv", bar_lines(3)), symbol="BTC")
    assert report.series.kind == "perp"
    report = ing.ingest_file(store, write_csv("BTC_1h_binance_spot.csv", bar_lines(3)), symbol="BTC")
    assert report.series.kind == "spot"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BTC_1h_binance_usdm_perp.csv", {"symbol": "BTC", "freq": "1h", "kind": "perp"}),
        ("LUNA_1d_binance_spot_derived.csv", {"symbol": "LUNA", "freq": "1d", "kind": "spot"}),
        ("eth-4H-swap.parquet", {"symbol": "ETH", "freq": "4h", "kind": "perp"}),
        ("/some/dir/sol.csv", {"symbol": "SOL", "freq": None, "kind": "spot"}),
        ("doge_1hour.csv", {"symbol": "DOGE", "freq": None, "kind": "spot"}),
    ],
)
def test_guess_from_filename(name: str, expected: dict[str, Any]) -> None:
    assert ing.guess_from_filename(name) == expected


def test_ingest_frame_entry_point(store: Store) -> None:
    report = ing.ingest_frame(store, make_frame(4), symbol="eth", source="Unit", origin="unit")
    assert (report.series.symbol, report.series.source, report.series.freq) == ("ETH", "unit", "1d")
    with pytest.raises(DataError, match="symbol"):
        ing.ingest_frame(store, make_frame(4), symbol="", source="unit", origin="unit")


def test_load_demo_is_idempotent(store: Store) -> None:
    reports = ing.load_demo(store)
    assert reports and all(r.changed for r in reports)
    assert all(r.series.symbol.endswith("-SYN") and r.series.synthetic for r in reports)
    assert {r.series.source for r in reports} == {"synthetic"}
    before = store.counts()
    assert before["prices"] == sum(r.rows_added for r in reports)
    again = ing.load_demo(store)
    assert not any(r.changed for r in again)
    assert store.counts() == before
    assert ing.seed_demo_if_empty(store) == []


def test_seed_demo_if_empty_fills_an_empty_store(store: Store) -> None:
    assert store.is_empty()
    reports = ing.seed_demo_if_empty(store)
    assert reports and not store.is_empty()


# --- fetch through a fake exchange (no network) ----------------------------------------------------

DAY_MS = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01


class FakeExchange:
    id = "fakex"
    rateLimit = 0
    timeframes = {"1h": "1h", "4h": "4h", "1d": "1d"}
    has = {"fetchOHLCV": True}

    def __init__(self, n_days: int) -> None:
        self.rows = [[T0 + i * DAY_MS, 100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i, 5.0] for i in range(n_days)]
        self.sinces: list[int | None] = []

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None,
                    params: dict[str, Any] | None = None) -> list[list[float]]:
        self.sinces.append(since)
        return [list(r) for r in self.rows if since is None or r[0] >= since][: limit or 1000]


def test_fetch_stores_closed_bars_and_resumes(store: Store) -> None:
    fake = FakeExchange(10)
    now = T0 + 10 * DAY_MS  # all 10 daily bars are closed
    report = ing.fetch(store, exchange=fake, symbol="BTC/USDT", timeframe="1d", since="2024-01-01",
                       now_ms=lambda: now)
    assert (report.series.symbol, report.series.source, report.series.kind) == ("BTC", "fakex", "spot")
    assert report.rows_added == 10 and report.origin == "exchange:fakex"
    assert fake.sinces[0] == T0
    # later: two more days; the fetch resumes after the last stored bar
    fake.rows += [[T0 + i * DAY_MS, 100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i, 5.0] for i in (10, 11)]
    again = ing.fetch(store, exchange=fake, symbol="BTC/USDT", timeframe="1d", now_ms=lambda: now + 2 * DAY_MS)
    assert fake.sinces[-1] == T0 + 10 * DAY_MS or T0 + 10 * DAY_MS in fake.sinces
    assert (again.rows_added, again.series.rows) == (2, 12)
    # nothing new: an empty report, the store unchanged
    before = store.counts()
    none = ing.fetch(store, exchange=fake, symbol="BTC/USDT", timeframe="1d", now_ms=lambda: now + 2 * DAY_MS)
    assert (none.rows_read, none.rows_added, none.changed) == (0, 0, False)
    assert store.counts() == before


def test_fetch_perp_kind_and_errors(store: Store) -> None:
    fake = FakeExchange(3)
    report = ing.fetch(store, exchange=fake, symbol="ETH/USDT:USDT", timeframe="1d", since="2024-01-01",
                       now_ms=lambda: T0 + 3 * DAY_MS)
    assert (report.series.symbol, report.series.kind) == ("ETH", "perp")
    with pytest.raises(ExchangeError, match="frequency must be one of"):
        ing.fetch(store, exchange=fake, symbol="BTC/USDT", timeframe="5m")
    with pytest.raises(ExchangeError, match="returned no closed 1d bars for SOL/USDT"):
        ing.fetch(store, exchange=FakeExchange(0), symbol="SOL/USDT", timeframe="1d", since="2024-01-01",
                  now_ms=lambda: T0 + 3 * DAY_MS)
    assert [s.symbol for s in store.list_series()] == ["ETH"]


# --- the ingest benchmark still runs ----------------------------------------------------------------


def test_benchmark_script_smoke(run_benchmark: Callable[..., dict[str, Any]]) -> None:
    result = run_benchmark("ingest", "--rows", "2000", "--repeat", "1")
    assert result["rows"] == 2000
    for fmt in ("csv", "parquet"):
        assert result[fmt]["rows_per_s"] > 0 and len(result[fmt]["runs_s"]) == 1


def test_a_synthetic_series_says_so_in_its_label(store: Store) -> None:
    labelled = store.ingest_frame(make_frame(5), symbol="Y", source="lab", kind="spot", origin="demo", synthetic=True)
    assert labelled.series.label == "Y 1d spot (lab) [synthetic]"

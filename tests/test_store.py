"""The DuckDB store: where it lives, schema migrations, locking, series lookup, fingerprints,
thread-local cursors, price loading and the fit cache."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import bar_lines, make_frame

import riskparams.store.core as core
from riskparams.exceptions import AmbiguousSeriesError, SeriesNotFoundError, StoreError
from riskparams.store import ENV_VAR, SCHEMA_VERSION, Store, default_db_path
from riskparams.store.schema import MIGRATIONS

# ---------------------------------------------------------------------------------------------------
# where the store lives


def test_default_path_is_data_folder_of_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    root = Path(core.__file__).resolve().parents[2]
    assert (root / "app.py").exists()
    assert default_db_path() == root / "data" / "riskparams.duckdb"


def test_default_path_of_an_installed_package_is_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(core, "__file__", str(tmp_path / "site-packages" / "riskparams" / "store" / "core.py"))
    monkeypatch.chdir(tmp_path)
    assert default_db_path() == tmp_path / "data" / "riskparams.duckdb"


def test_env_variable_overrides_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "from-env" / "rp.duckdb"
    monkeypatch.setenv(ENV_VAR, str(target))
    assert default_db_path() == target
    with Store() as s:
        assert s.path == str(target)
        assert s.schema_version() == SCHEMA_VERSION
    assert target.exists()


def test_env_variable_expands_the_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(ENV_VAR, "~/stores/rp.duckdb")
    assert default_db_path() == tmp_path / "stores" / "rp.duckdb"


def test_explicit_path_wins_and_creates_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.duckdb"))
    target = tmp_path / "a" / "b" / "explicit.duckdb"
    with Store(target) as s:
        assert s.path == str(target)
    assert target.exists() and not (tmp_path / "env.duckdb").exists()


def test_memory_store_is_private_and_empty() -> None:
    a, b = Store.memory(), Store.memory()
    a.ingest_frame(make_frame(3), symbol="X", source="t", kind="spot", origin="unit")
    assert a.counts()["prices"] == 3 and b.counts() == {"series": 0, "prices": 0, "ingest_log": 0, "fit_cache": 0}
    assert b.is_empty() and not a.is_empty()


def test_data_survives_reopening(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        s.ingest_frame(make_frame(5), symbol="X", source="t", kind="spot", origin="unit")
        fp = s.fingerprint(s.resolve_series("X").series_id)
    with Store(db, read_only=True) as ro:
        info = ro.resolve_series("X")
        assert info.rows == 5 and ro.fingerprint(info.series_id) == fp


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match=r"^cannot open the store .*notes\.duckdb: "):
        Store(bogus)


def test_read_only_store_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(tmp_path / "missing.duckdb", read_only=True)


# ---------------------------------------------------------------------------------------------------
# migrations


def build_version_1_store(db: Path) -> None:
    con = duckdb.connect(str(db))
    assert core._migrate(con, target=1) == 0
    con.execute(
        "INSERT INTO series (symbol, source, kind, freq, created_at) VALUES "
        "('BTC', 'binance', 'spot', '1d', TIMESTAMP '2024-01-01'), "
        "('BTC-SYN', 'synthetic', 'perp', '1h', TIMESTAMP '2024-01-01')"
    )
    con.execute(
        "INSERT INTO prices VALUES (1, TIMESTAMP '2024-01-01', 1, 2, 0.5, 1.5, 10), "
        "(1, TIMESTAMP '2024-01-02', 1.5, 2, 1, 1.8, NULL), (2, TIMESTAMP '2024-01-01 05:00', 3, 4, 2, 3.5, 7)"
    )
    con.execute(
        "INSERT INTO ingest_log (ingested_at, series_id, origin, file_hash, rows_read, rows_added, rows_replaced) "
        "VALUES (TIMESTAMP '2024-01-03', 1, 'btc.csv', 'abc', 2, 2, 0)"
    )
    con.close()


def test_version_1_store_is_upgraded_with_data_intact(tmp_path: Path) -> None:
    db = tmp_path / "v1.duckdb"
    build_version_1_store(db)
    con = duckdb.connect(str(db))
    assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
    assert "synthetic" not in [r[0] for r in con.execute("DESCRIBE series").fetchall()]
    con.close()

    with Store(db) as s:
        assert s.schema_version() == SCHEMA_VERSION
        cur = s.cursor()
        versions = [r[0] for r in cur.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        # data intact
        assert cur.execute("SELECT series_id, ts, open, high, low, close, volume FROM prices ORDER BY 1, 2").fetchall() == [
            (1, datetime(2024, 1, 1), 1.0, 2.0, 0.5, 1.5, 10.0),
            (1, datetime(2024, 1, 2), 1.5, 2.0, 1.0, 1.8, None),
            (2, datetime(2024, 1, 1, 5), 3.0, 4.0, 2.0, 3.5, 7.0),
        ]
        # the new columns and tables
        assert [(x.symbol, x.synthetic, x.rows) for x in s.list_series()] == [("BTC", False, 2), ("BTC-SYN", True, 1)]
        log = s.ingest_log()
        assert log[["origin", "rows_added", "duplicates_dropped", "gaps", "missing_bars"]].values.tolist() == [
            ["btc.csv", 2, 0, 0, 0]
        ]
        assert s.counts()["fit_cache"] == 0
        # and it is a working store: the sequences continue after the old rows
        report = s.ingest_frame(make_frame(3), symbol="ETH", source="binance", kind="spot", origin="unit")
        assert report.series.series_id == 3
        assert s.ingest_log()["origin"].tolist() == ["unit", "btc.csv"]
    with Store(db) as again:  # opening an upgraded store again does not migrate twice
        assert again.cursor().execute("SELECT count(*) FROM schema_version").fetchone() == (SCHEMA_VERSION,)


def test_migrations_run_in_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "v1.duckdb"
    build_version_1_store(db)
    broken = (*MIGRATIONS[:1], (*MIGRATIONS[1][:2], "ALTER TABLE no_such_table ADD COLUMN x INTEGER"))
    monkeypatch.setattr(core, "MIGRATIONS", broken)
    with pytest.raises(duckdb.Error) as info:
        Store(db)
    monkeypatch.undo()
    # the failed open released the file: another process can open it while the error is still alive
    assert info.value is not None
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, duckdb; duckdb.connect(sys.argv[1]).close()", str(db)],
        capture_output=True, text=True, timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    con = duckdb.connect(str(db))
    assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
    assert "synthetic" not in [r[0] for r in con.execute("DESCRIBE series").fetchall()]
    con.close()
    with Store(db) as s:  # the real migration still works afterwards
        assert s.schema_version() == SCHEMA_VERSION


def test_store_from_a_newer_riskparams_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    with Store(db) as s:
        s.cursor().execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError) as info:
        Store(db)
    assert str(info.value) == (
        f"the store was written by a newer riskparams (schema version {SCHEMA_VERSION + 1}, this version "
        f"knows up to {SCHEMA_VERSION}); upgrade riskparams to open it."
    )
    with pytest.raises(StoreError, match=f"has schema version {SCHEMA_VERSION + 1}"):
        Store(db, read_only=True)


def test_read_only_open_of_an_old_store_asks_for_an_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "v1.duckdb"
    build_version_1_store(db)
    with pytest.raises(StoreError, match="has schema version 1, this riskparams needs .*open it once for writing"):
        Store(db, read_only=True)


# ---------------------------------------------------------------------------------------------------
# another process holds the file


def test_store_locked_by_another_process(tmp_path: Path) -> None:
    db = tmp_path / "locked.duckdb"
    Store(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, duckdb\n"
         "con = duckdb.connect(sys.argv[1])\n"
         "print('ready', flush=True)\n"
         "time.sleep(60)\n",
         str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        t0 = time.monotonic()
        with pytest.raises(StoreError) as info:
            Store(db, lock_timeout=0.5)
        waited = time.monotonic() - t0
        assert str(info.value) == (
            f"the store {db} stayed busy for 0.5 s: another process (process {holder.pid}) holds it (for example "
            "`riskparams serve` in a long write); try again, or raise $RISKPARAMS_LOCK_TIMEOUT."
        )
        assert 0.5 <= waited < 5  # it retried for the bounded time, then gave up
        assert "\n" not in str(info.value)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with Store(db) as s:  # free again once the other process is gone
        assert s.schema_version() == SCHEMA_VERSION


# ---------------------------------------------------------------------------------------------------
# series lookup


@pytest.fixture
def three_btc(store: Store, write_csv: Callable[..., Path]) -> Store:
    """BTC 1d and 1h from source a, BTC 1h from source b, ETH 4h perp."""
    store.ingest_file(write_csv("d.csv", bar_lines(5, step="1D")), symbol="BTC", source="a", kind="spot")
    store.ingest_file(write_csv("h.csv", bar_lines(5)), symbol="BTC", source="a", kind="spot")
    store.ingest_file(write_csv("h.csv", bar_lines(5)), symbol="BTC", source="b", kind="spot")
    store.ingest_file(write_csv("e.csv", bar_lines(5, step="4h")), symbol="ETH", source="a", kind="perp")
    return store


def test_resolve_series_prefers_the_single_daily_series(three_btc: Store) -> None:
    s = three_btc.resolve_series("btc")  # case-insensitive
    assert (s.symbol, s.freq, s.source) == ("BTC", "1d", "a")
    assert three_btc.resolve_series("BTC", freq="1h", source="b").source == "b"
    assert three_btc.resolve_series("ETH").freq == "4h"


def test_resolve_series_ambiguous_lists_the_choices(three_btc: Store) -> None:
    with pytest.raises(AmbiguousSeriesError) as info:
        three_btc.resolve_series("BTC", freq="1h")
    assert str(info.value) == (
        "several series match 'BTC'; pick one with --freq 1h --source a --kind spot; "
        "--freq 1h --source b --kind spot."
    )


def test_resolve_series_not_found_lists_the_symbols(three_btc: Store) -> None:
    with pytest.raises(SeriesNotFoundError) as info:
        three_btc.resolve_series("DOGE")
    assert str(info.value) == "no stored series for symbol 'DOGE'. Stored symbols: BTC, ETH."
    with pytest.raises(SeriesNotFoundError, match=r"^no stored series for symbol 'ETH' freq 1d kind spot\. Stored symbols: BTC, ETH\.$"):
        three_btc.resolve_series("ETH", freq="1d", kind="spot")


def test_resolve_series_in_an_empty_store(store: Store) -> None:
    with pytest.raises(SeriesNotFoundError, match="The store is empty: run `riskparams demo` or `riskparams ingest`"):
        store.resolve_series("BTC")


def test_get_series_and_find_series(three_btc: Store) -> None:
    found = three_btc.find_series("BTC")
    assert [(s.freq, s.source) for s in found] == [("1d", "a"), ("1h", "a"), ("1h", "b")]
    first = three_btc.get_series(found[0].series_id)
    assert first == found[0]
    assert (first.rows, first.first, first.last) == (5, datetime(2024, 1, 1), datetime(2024, 1, 5))
    with pytest.raises(SeriesNotFoundError, match="no stored series has id 999"):
        three_btc.get_series(999)


# ---------------------------------------------------------------------------------------------------
# prices, fingerprints


def test_load_prices_bounds_and_types(store: Store) -> None:
    report = store.ingest_frame(make_frame(10), symbol="X", source="t", kind="spot", origin="unit")
    sid = report.series.series_id
    all_bars = store.load_prices(sid)
    assert str(all_bars.index.tz) == "UTC" and all_bars.index.name == "ts"
    assert list(all_bars.columns) == ["open", "high", "low", "close", "volume"]
    assert all(str(t) == "float64" for t in all_bars.dtypes)
    part = store.load_prices(sid, start=datetime(2024, 1, 3), end=pd.Timestamp("2024-01-05T02:00", tz="Europe/Berlin"))
    assert list(part.index.day) == [3, 4, 5]  # 02:00 Berlin = 01:00 UTC, so Jan 5 is included
    assert store.last_bar_time(sid) == datetime(2024, 1, 10)
    assert store.load_prices(999).empty


def test_fingerprint_changes_when_one_bar_changes(store: Store) -> None:
    frame = make_frame(50)
    a = store.ingest_frame(frame, symbol="A", source="t", kind="spot", origin="unit").series.series_id
    b = store.ingest_frame(frame, symbol="B", source="t", kind="spot", origin="unit").series.series_id
    assert store.fingerprint(a) == store.fingerprint(b)  # same bars, same fingerprint
    fp = store.fingerprint(a)
    assert re.fullmatch(r"[0-9a-f]{64}", fp)  # a SHA-256 in hex

    changed = frame.copy()
    changed.loc[17, "close"] = changed.loc[17, "close"] + 1e-6
    report = store.ingest_frame(changed, symbol="A", source="t", kind="spot", origin="unit", replace=True)
    assert report.rows_replaced == 1
    assert store.fingerprint(a) != fp
    # up to the bar before the change nothing differs
    cut = datetime(2024, 1, 17)
    assert store.fingerprint(a, end=cut) == store.fingerprint(b, end=cut)
    # volume counts too, and so does an added bar
    vol = frame.copy()
    vol.loc[3, "volume"] = 0.0
    store.ingest_frame(vol, symbol="B", source="t", kind="spot", origin="unit", replace=True)
    assert store.fingerprint(b) != fp
    fp_b = store.fingerprint(b)
    store.ingest_frame(make_frame(1, start="2024-02-20"), symbol="B", source="t", kind="spot", origin="unit", freq="1d")
    assert store.fingerprint(b) != fp_b


# ---------------------------------------------------------------------------------------------------
# threads


def test_cursor_is_thread_local(store: Store) -> None:
    mine = store.cursor()
    assert store.cursor() is mine
    other: list[object] = []
    t = threading.Thread(target=lambda: other.append(store.cursor()))
    t.start()
    t.join()
    assert other and other[0] is not mine


def test_concurrent_readers_in_threads(tmp_store: Store) -> None:
    for sym in ("A", "B", "C"):
        tmp_store.ingest_frame(make_frame(2_000, freq="1h"), symbol=sym, source="t", kind="spot", origin="unit")
    sids = [s.series_id for s in tmp_store.list_series()]
    expected = {sid: tmp_store.fingerprint(sid) for sid in sids}
    barrier = threading.Barrier(8)

    def reader(i: int) -> list[tuple[int, str, int]]:
        barrier.wait()  # start together
        out = []
        for k in range(10):
            sid = sids[(i + k) % len(sids)]
            frame = tmp_store.load_prices(sid)
            out.append((sid, tmp_store.fingerprint(sid), len(frame)))
            assert len(tmp_store.list_series()) == 3
        return out

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for chunk in pool.map(reader, range(8)) for r in chunk]
    assert len(results) == 80
    assert all(fp == expected[sid] and n == 2_000 for sid, fp, n in results)


def test_reads_in_threads_while_another_thread_ingests(tmp_store: Store) -> None:
    tmp_store.ingest_frame(make_frame(500, freq="1h"), symbol="A", source="t", kind="spot", origin="unit")
    sid = tmp_store.resolve_series("A").series_id
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                n = len(tmp_store.load_prices(sid))
                assert n in (500, 1_000)  # a reader sees all of an ingest or none of it
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        tmp_store.ingest_frame(
            make_frame(500, start="2024-01-21 20:00", freq="1h"), symbol="A", source="t", kind="spot", origin="unit"
        )
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors
    assert len(tmp_store.load_prices(sid)) == 1_000


# ---------------------------------------------------------------------------------------------------
# fit cache and transactions


def test_fit_cache_round_trip(store: Store) -> None:
    as_of = datetime(2024, 5, 1)
    assert store.get_fit(1, "fp", "garch", as_of) is None
    store.put_fit(1, "fp", "garch", as_of, '{"sigma": 0.5}')
    store.put_fit(1, "fp", "garch", as_of, '{"sigma": 0.9}')  # an existing entry is kept
    assert store.get_fit(1, "fp", "garch", pd.Timestamp(as_of, tz="UTC")) == '{"sigma": 0.5}'
    assert store.get_fit(1, "other", "garch", as_of) is None
    assert store.counts()["fit_cache"] == 1


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(ZeroDivisionError):
        with store.transaction() as cur:
            cur.execute("INSERT INTO fit_cache VALUES (1, 'f', 's', TIMESTAMP '2024-01-01', now(), 'x')")
            1 / 0  # noqa: B018
    assert store.counts()["fit_cache"] == 0
    with store.transaction() as cur:
        cur.execute("INSERT INTO fit_cache VALUES (1, 'f', 's', TIMESTAMP '2024-01-01', now(), 'x')")
    assert store.counts()["fit_cache"] == 1


def test_store_as_context_manager_closes(tmp_path: Path) -> None:
    with Store(tmp_path / "c.duckdb") as s:
        assert s.schema_version() == SCHEMA_VERSION
    assert not s.is_open
    with pytest.raises(StoreError, match="is closed"):
        s.list_series()
    # closed means released: another process opens the file at once
    out = subprocess.run([sys.executable, "-c", "import sys, duckdb; duckdb.connect(sys.argv[1]); print('ok')",
                          str(tmp_path / "c.duckdb")], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_a_file_store_holds_its_file_only_while_it_works(tmp_path: Path) -> None:
    """Between operations (after the short linger) the file is free for other processes; a pinned cursor
    holds it until release()."""
    db = tmp_path / "lease.duckdb"
    s = Store(db, linger=0.05)
    s.list_series()
    time.sleep(0.3)
    assert not s.is_open
    probe = [sys.executable, "-c", "import sys, duckdb; duckdb.connect(sys.argv[1]).close(); print('ok')", str(db)]
    assert subprocess.run(probe, capture_output=True, text=True, timeout=60).stdout.strip() == "ok"
    s.cursor().execute("SELECT 1")
    time.sleep(0.3)
    assert s.is_open  # pinned
    assert "lock" in subprocess.run(probe, capture_output=True, text=True, timeout=60).stderr.lower()
    s.release()
    assert not s.is_open
    s.close()


def test_prices_have_no_index_but_bars_stay_unique(tmp_path: Path) -> None:
    """Schema 5 dropped the (series_id, ts) primary key for ingest speed; the ingest keeps bars unique."""
    import pandas as pd

    from riskparams.ingest import ingest_frame

    store = Store(tmp_path / "u.duckdb")
    idx = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    frame = pd.DataFrame({"ts": idx, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0})
    for lo, hi in ((0, 20), (10, 30), (5, 40), (0, 40)):  # overlapping re-ingests
        ingest_frame(store, frame.iloc[lo:hi], symbol="U", source="t", origin="test")
    n, distinct = store.cursor().execute("SELECT count(*), count(DISTINCT (series_id, ts)) FROM prices").fetchone()
    assert n == distinct == 40
    indexes = store.cursor().execute("SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'prices'").fetchone()
    constraints = store.cursor().execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'prices' AND constraint_type = 'PRIMARY KEY'"
    ).fetchone()
    assert indexes == (0,) and constraints == (0,)
    store.close()


def test_a_concurrent_write_to_the_same_series_is_refused_and_stores_nothing(tmp_path: Path) -> None:
    import pandas as pd

    from riskparams.exceptions import StoreError
    from riskparams.ingest import ingest_frame

    store = Store(tmp_path / "c.duckdb")
    idx = pd.date_range("2024-01-01", periods=10, freq="D", tz="UTC")
    frame = pd.DataFrame({"ts": idx, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0})
    report = ingest_frame(store, frame.iloc[:5], symbol="C", source="t", origin="test")
    before = store.counts()
    with store.transaction() as other:  # another writer holds the series row, uncommitted
        other.execute("UPDATE series SET updated_at = now()::TIMESTAMP WHERE series_id = ?",
                      [report.series.series_id])
        with pytest.raises(StoreError, match="another write to C 1d"):
            ingest_frame(store, frame, symbol="C", source="t", origin="test")
    assert store.counts() == before
    assert ingest_frame(store, frame, symbol="C", source="t", origin="test").rows_added == 5
    store.close()


def test_a_refused_write_is_one_sentence_and_keeps_nothing(store: Store) -> None:
    """A database exception never reaches the user: a write the database refuses (here a duplicate key)
    becomes one StoreError sentence and nothing of the transaction is kept."""
    with store.transaction() as cur:
        cur.execute("INSERT INTO fit_cache VALUES (1, 'f', 's', TIMESTAMP '2024-01-01', now(), 'x')")
    with pytest.raises(StoreError) as info:
        with store.transaction() as cur:
            cur.execute("INSERT INTO fit_cache VALUES (2, 'g', 's', TIMESTAMP '2024-01-01', now(), 'y')")
            cur.execute("INSERT INTO fit_cache VALUES (1, 'f', 's', TIMESTAMP '2024-01-01', now(), 'x')")
    msg = str(info.value)
    assert msg.startswith(f"the store {store.path} refused the write: a record with the same key is already stored")
    assert "\n" not in msg and msg.endswith(".") and "Exception" not in msg
    assert store.counts()["fit_cache"] == 1

"""The :class:`Store`: all database work of riskparams goes through it.

One DuckDB file (default ``data/riskparams.duckdb``) holds the price series, the ingest log, cached
fits and, in later schema versions, proposals and reports. Every write is one transaction. Each
thread takes its own cursor (``Store.cursor()`` is thread-local), so one ``Store`` can serve all the
sessions of the dashboard.

Sharing one file between processes
----------------------------------
DuckDB lets one process at a time open a file for writing, and while it is open nobody else can open it,
not even to read. So a file store does not keep its connection: every operation takes a *lease*
(:meth:`Store.lease`; reads and :meth:`Store.transaction` take one themselves) that opens the file when
no lease of this store holds it and closes it shortly (``linger`` seconds) after the last lease ends. Opening
a file another process holds is retried with back-off for up to ``lock_timeout`` seconds (default 30,
``$RISKPARAMS_LOCK_TIMEOUT``) before a :class:`StoreError` says who holds it. The dashboard, the command
line and a notebook thereby use one store at the same time: each waits at most for the others' current
operation, never for their whole session. Heavy computation (fits, backtests) runs outside any lease.

Writes in one process are serialised by a per-file lock held for the whole transaction, so a transaction
that checks a precondition and then writes (the governance workflow) sees every earlier write; between
processes the file lock does the same. An in-memory store keeps its connection (closing it would lose it).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload
from weakref import WeakSet

import duckdb
import pandas as pd

from riskparams.domain import Freq, IngestReport, Kind, SeriesInfo
from riskparams.exceptions import AmbiguousSeriesError, DataError, SeriesNotFoundError, StoreError
from riskparams.jsonio import iso_z as _iso_z
from riskparams.returns import data_fingerprint
from riskparams.store import staging
from riskparams.store.schema import MIGRATIONS, SCHEMA_VERSION

ENV_VAR = "RISKPARAMS_DB"
LOCK_TIMEOUT_ENV_VAR = "RISKPARAMS_LOCK_TIMEOUT"
MEMORY = ":memory:"

# one write lock per database file in this process: transactions on one file never interleave
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: str) -> threading.RLock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.RLock())


def _check_store_file(path: Path) -> None:
    """Refuse a folder, or an existing non-empty file that is not a DuckDB database (DuckDB 2 opens a CSV file
    as a throw-away database: every write would be lost without a word)."""
    head = b""
    try:
        if path.is_dir():
            raise StoreError(f"cannot open the store {path}: it is a folder; give a file such as "
                             f"{path / 'riskparams.duckdb'} with --db.")
        if path.is_file():
            with path.open("rb") as fh:
                head = fh.read(12)
    except OSError as exc:
        raise StoreError(f"cannot open the store {path}: {exc.strerror or exc}.") from None
    if head and head[8:12] != b"DUCK":  # the magic bytes of a DuckDB database file
        raise StoreError(f"cannot open the store {path}: the file exists but is not a DuckDB store; choose another "
                         "file with --db.")


def _write_failed(path: str, exc: BaseException) -> str:
    """One sentence for a write the database refused (nothing of it was kept)."""
    if isinstance(exc, duckdb.TransactionException):
        return (f"the store {path} refused the write because another write changed the same records at the same "
                "moment; nothing was recorded, try again.")
    if isinstance(exc, duckdb.ConstraintException):
        return (f"the store {path} refused the write: a record with the same key is already stored (another "
                "action may have recorded it first); nothing was recorded.")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the store {path} refused the write ({first}); nothing was recorded."


def _lock_timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV_VAR)
    if raw is None or not raw.strip():
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        raise StoreError(f"${LOCK_TIMEOUT_ENV_VAR} must be a number of seconds, got {raw!r}.") from None
    if not 0 <= value <= 3600:
        raise StoreError(f"${LOCK_TIMEOUT_ENV_VAR} must be between 0 and 3600 seconds, got {raw!r}.")
    return value

# the temporary objects of an ingest (stg_bars is a view on stg_typed when the input was sorted)
_DROP_STAGING = tuple(
    f"DROP {what} IF EXISTS {name}"
    for name in ("stg_overlap", "stg_bars", "stg_raw", "stg_typed")
    for what in ("VIEW", "TABLE")
)


def default_db_path() -> Path:
    """Where the store lives when no ``--db`` is given.

    ``$RISKPARAMS_DB`` when set; otherwise ``data/riskparams.duckdb`` in the project checkout that
    holds this package (the folder with ``app.py``), or in the current folder for an installed package.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    root = Path(__file__).resolve().parents[2]
    if (root / "app.py").exists() and (root / "riskparams").is_dir():
        return root / "data" / "riskparams.duckdb"
    return Path.cwd() / "data" / "riskparams.duckdb"


def now_utc() -> datetime:
    """The current time as naive UTC (how the store keeps timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None)


@overload
def naive_utc(value: None) -> None: ...


@overload
def naive_utc(value: datetime | pd.Timestamp | str) -> datetime: ...


def naive_utc(value: datetime | pd.Timestamp | str | None) -> datetime | None:
    """``value`` as a naive UTC ``datetime`` (an aware time is converted to UTC, a naive one is taken as
    UTC); ``None`` stays ``None``."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def iso_z(t: datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO-8601 with ``Z`` (``2024-01-31T12:00:00Z``); ``None`` stays ``None``."""
    return None if t is None else _iso_z(t)


def _migrate(con: duckdb.DuckDBPyConnection, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema to ``target`` in one transaction; return the version found before."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    found = int(row[0]) if row else 0
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"the store was written by a newer riskparams (schema version {found}, this version knows "
            f"up to {SCHEMA_VERSION}); upgrade riskparams to open it."
        )
    if found >= target:
        return found
    con.execute("BEGIN TRANSACTION")
    try:
        for version in range(found + 1, target + 1):
            for statement in MIGRATIONS[version - 1]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, now_utc()])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return found


_LIVE: WeakSet[Store] = WeakSet()  # stores alive in this process (released at exit)


def _release_stores_at_exit() -> None:
    for store in list(_LIVE):
        try:
            store._release_at_exit()
        except Exception:  # exiting: a store that cannot close now is closed by the OS
            pass


atexit.register(_release_stores_at_exit)


class Store:
    """A riskparams store in one DuckDB file.

    Parameters
    ----------
    path : str or Path, optional
        The DuckDB file; created (with its folder) when missing. ``":memory:"`` for a throw-away
        store. Defaults to :func:`default_db_path`.
    read_only : bool
        Open without write access (several processes may read at once).

    Raises
    ------
    StoreError
        When the file is locked by another process, is not a DuckDB file, or has a newer schema.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        read_only: bool = False,
        lock_timeout: float | None = None,
        linger: float = 0.25,
    ) -> None:
        target = default_db_path() if path is None else path
        self.path: str = str(target) if str(target) == MEMORY else str(Path(target).expanduser())
        self.read_only = read_only
        self.lock_timeout = _lock_timeout() if lock_timeout is None else float(lock_timeout)
        self.linger = float(linger)
        self._local = threading.local()
        self._guard = threading.Lock()  # protects the lease state below
        self._con: duckdb.DuckDBPyConnection | None = None
        self._gen = 0  # bumped on every (re)open: thread-local cursors of an older connection are stale
        self._leases = 0
        self._pinned = self.path == MEMORY  # an in-memory store keeps its connection
        self._timer: threading.Timer | None = None
        self._closed = False
        _LIVE.add(self)
        self._wlock = _write_lock(self.path) if self.path != MEMORY else threading.RLock()
        if self.path != MEMORY:
            _check_store_file(Path(self.path))
        if self.path != MEMORY and not read_only:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of the store {self.path}: "
                                 f"{exc.strerror or exc}.") from None
        try:
            self._open_and_migrate()
        except BaseException:  # a newer schema or a failed migration: do not keep the file locked
            self.close()
            raise

    def _open_and_migrate(self) -> None:
        with self.lease():
            con = self._con
            assert con is not None
            if self.read_only:
                version = self.schema_version()
                if version != SCHEMA_VERSION:
                    raise StoreError(
                        f"the store {self.path} has schema version {version}, this riskparams needs "
                        f"{SCHEMA_VERSION}; open it once for writing to upgrade it."
                    )
            else:
                with self._wlock:
                    _migrate(con)

    # -- connection handling -------------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying with back-off while another process holds it (up to ``lock_timeout``)."""
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        while True:
            try:
                con = duckdb.connect(self.path, read_only=self.read_only)
                con.execute("SET TimeZone = 'UTC'")
                return con
            except duckdb.IOException as exc:
                msg = str(exc)
                if "lock" not in msg.lower():
                    raise StoreError(f"cannot open the store {self.path}: {msg.splitlines()[0]}") from None
                if time.monotonic() >= deadline:
                    holder = re.search(r"PID (\d+)", msg)
                    who = f" (process {holder.group(1)})" if holder else ""
                    raise StoreError(
                        f"the store {self.path} stayed busy for {self.lock_timeout:g} s: another process{who} "
                        f"holds it (for example `riskparams serve` in a long write); try again, or raise "
                        f"${LOCK_TIMEOUT_ENV_VAR}."
                    ) from None
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 1.6, 0.25)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open the store {self.path}: {str(exc).splitlines()[0]}") from None

    @contextmanager
    def lease(self) -> Iterator[None]:
        """Hold the file open for the block (re-entrant, thread-safe).

        The first lease opens the file (waiting for other processes, see the module notes); the file closes
        ``linger`` seconds after the last lease ends, so a burst of operations opens it once.
        """
        with self._guard:
            if self._closed:
                raise StoreError(f"the store {self.path} is closed.")
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._con is None:
                self._con = self._connect()
                self._gen += 1
            self._leases += 1
        try:
            yield
        finally:
            with self._guard:
                self._leases -= 1
                if self._leases == 0 and not self._pinned and self._con is not None:
                    if self.linger <= 0:
                        self._release()
                    else:
                        self._timer = threading.Timer(self.linger, self._release_if_idle)
                        self._timer.daemon = True
                        self._timer.start()

    def _release_at_exit(self) -> None:
        """At interpreter exit: stop a pending release timer and close an idle connection on this thread.
        (The timer is a daemon thread: left to fire during interpreter shutdown, it would be unwound inside
        DuckDB's ``close`` and abort the process.)"""
        with self._guard:
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
            if self._leases == 0 and not self._pinned and self._con is not None:
                self._release()
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5.0)

    def _release_if_idle(self) -> None:
        with self._guard:
            if self._leases == 0 and not self._pinned:
                self._release()

    def _release(self) -> None:
        """Close the connection (caller holds ``_guard``; no lease is active)."""
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None
                self._timer = None

    def release(self) -> None:
        """Close the file now if no lease holds it (also ends :meth:`cursor`'s pin): other processes may
        open it at once."""
        with self._guard:
            self._pinned = self.path == MEMORY
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._leases == 0 and not self._pinned:
                self._release()

    @property
    def is_open(self) -> bool:
        """Whether this store holds its file open right now."""
        return self._con is not None

    @classmethod
    def memory(cls) -> Store:
        """A fresh in-memory store (tests, notebooks)."""
        return cls(MEMORY)

    def _thread_cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the open connection (a lease or the pin must hold it)."""
        cur = getattr(self._local, "cur", None)
        if cur is None or getattr(self._local, "gen", None) != self._gen:
            assert self._con is not None
            cur = self._con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cur = cur
            self._local.gen = self._gen
        return cur

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """This thread's cursor for plain reads, under a lease."""
        with self.lease():
            yield self._thread_cursor()

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of one parameterised read (under a lease)."""
        with self.reading() as cur:
            return cur.execute(sql, list(params)).fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """First row (or None) of one parameterised read (under a lease)."""
        with self.reading() as cur:
            return cur.execute(sql, list(params)).fetchone()

    def fetchdf(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """One parameterised read as a DataFrame (under a lease)."""
        with self.reading() as cur:
            return cur.execute(sql, list(params)).df()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor on the store, for interactive use (tests, notebooks).

        It *pins* the file open until :meth:`release` or :meth:`close`; library code uses :meth:`reading`
        and :meth:`transaction` instead, which hold the file only while they run.
        """
        with self._guard:
            self._pinned = True
        with self.lease():
            return self._thread_cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A dedicated cursor inside one transaction: committed on success, rolled back on any error.

        Holds a lease and this file's write lock for the whole block: a check made inside it still holds
        when the block writes (see the module notes).
        """
        with self.lease(), self._wlock:
            assert self._con is not None
            cur = self._con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException as exc:
                try:
                    cur.execute("ROLLBACK")
                finally:
                    cur.close()
                if isinstance(exc, duckdb.Error):  # never a database exception for the user: one sentence
                    raise StoreError(_write_failed(self.path, exc)) from None
                raise
            try:
                cur.execute("COMMIT")
            except duckdb.Error as exc:
                raise StoreError(_write_failed(self.path, exc)) from None
            finally:
                cur.close()

    def close(self) -> None:
        """Close the store; the object is unusable afterwards."""
        with self._guard:
            if self._timer is not None:
                self._timer.cancel()
            self._closed = True
            self._leases = 0
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version stored in the file."""
        try:
            row = self.fetchone("SELECT coalesce(max(version), 0) FROM schema_version")
        except duckdb.CatalogException:
            return 0
        return int(row[0]) if row else 0

    # -- series --------------------------------------------------------------------------------
    _SERIES_SQL = """
        SELECT s.series_id, s.symbol, s.source, s.kind, s.freq, s.synthetic,
               coalesce(p.n, 0), p.first, p.last
        FROM series s
        LEFT JOIN (SELECT series_id, count(*) AS n, min(ts) AS first, max(ts) AS last
                   FROM prices GROUP BY series_id) p USING (series_id)
    """

    @staticmethod
    def _series_row(row: tuple[Any, ...]) -> SeriesInfo:
        return SeriesInfo(
            series_id=int(row[0]),
            symbol=str(row[1]),
            source=str(row[2]),
            kind=str(row[3]),
            freq=str(row[4]),
            synthetic=bool(row[5]),
            rows=int(row[6]),
            first=row[7],
            last=row[8],
        )

    def list_series(self) -> list[SeriesInfo]:
        """All series with their extent, ordered by symbol, frequency and source."""
        rows = self.fetchall(self._SERIES_SQL + " ORDER BY s.symbol, s.freq, s.kind, s.source")
        return [self._series_row(r) for r in rows]

    def get_series(self, series_id: int) -> SeriesInfo:
        """One series by id; SeriesNotFoundError when absent."""
        row = self.fetchone(self._SERIES_SQL + " WHERE s.series_id = ?", [series_id])
        if row is None:
            raise SeriesNotFoundError(f"no stored series has id {series_id}.")
        return self._series_row(row)

    def is_empty(self) -> bool:
        """True when no price bar is stored."""
        row = self.fetchone("SELECT count(*) FROM (SELECT 1 FROM prices LIMIT 1)")
        return not row or row[0] == 0

    def find_series(
        self,
        symbol: str,
        *,
        freq: str | None = None,
        source: str | None = None,
        kind: str | None = None,
    ) -> list[SeriesInfo]:
        """Series matching ``symbol`` (case-insensitive) and, when given, frequency, source and kind."""
        sql = self._SERIES_SQL + " WHERE upper(s.symbol) = upper(?)"
        params: list[Any] = [symbol]
        for col, val in (("freq", freq), ("source", source), ("kind", kind)):
            if val is not None:
                sql += f" AND lower(s.{col}) = lower(?)"
                params.append(val)
        rows = self.fetchall(sql + " ORDER BY s.freq, s.kind, s.source", params)
        return [self._series_row(r) for r in rows]

    def resolve_series(
        self,
        symbol: str,
        *,
        freq: str | None = None,
        source: str | None = None,
        kind: str | None = None,
    ) -> SeriesInfo:
        """The one series meant by ``symbol`` and the optional filters.

        When several match and no frequency was given, a single daily series is preferred.

        Raises
        ------
        SeriesNotFoundError
            Nothing matches; the message lists the stored symbols.
        AmbiguousSeriesError
            Several match; the message lists them and the options that pick one.
        """
        found = self.find_series(symbol, freq=freq, source=source, kind=kind)
        if not found:
            known = sorted({s.symbol for s in self.list_series()})
            hint = f" Stored symbols: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''}." if known else (
                " The store is empty: run `riskparams demo` or `riskparams ingest`."
            )
            filt = "".join(
                f" {k} {v}" for k, v in (("freq", freq), ("source", source), ("kind", kind)) if v is not None
            )
            raise SeriesNotFoundError(f"no stored series for symbol {symbol!r}{filt}.{hint}")
        if len(found) > 1 and freq is None:
            daily = [s for s in found if s.freq == Freq.D1.value]
            if len(daily) == 1:
                return daily[0]
        if len(found) > 1:
            choices = "; ".join(f"--freq {s.freq} --source {s.source} --kind {s.kind}" for s in found)
            raise AmbiguousSeriesError(f"several series match {symbol!r}; pick one with {choices}.")
        return found[0]

    # -- prices --------------------------------------------------------------------------------
    def load_prices(
        self,
        series_id: int,
        *,
        start: datetime | pd.Timestamp | None = None,
        end: datetime | pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """OHLCV bars of one series.

        Parameters
        ----------
        series_id : int
            From :meth:`resolve_series` or :meth:`list_series`.
        start, end : datetime, optional
            Inclusive bounds on the bar open time (naive values are UTC).

        Returns
        -------
        pandas.DataFrame
            Index ``ts`` (tz-aware UTC, ascending), columns open, high, low, close, volume (float64);
            shape (n_bars, 5).
        """
        sql = "SELECT ts, open, high, low, close, volume FROM prices WHERE series_id = ?"
        params: list[Any] = [series_id]
        if start is not None:
            sql += " AND ts >= ?"
            params.append(naive_utc(start))
        if end is not None:
            sql += " AND ts <= ?"
            params.append(naive_utc(end))
        frame = self.fetchdf(sql + " ORDER BY ts", params)
        frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize("UTC")
        frame = frame.set_index("ts")
        return frame.astype("float64")

    def last_bar_time(self, series_id: int) -> datetime | None:
        """Open time (naive UTC) of the newest stored bar, or None."""
        row = self.fetchone("SELECT max(ts) FROM prices WHERE series_id = ?", [series_id])
        return None if row is None else row[0]

    def fingerprint(self, series_id: int, *, end: datetime | pd.Timestamp | None = None) -> str:
        """SHA-256 (hex) of the exact price rows of a series up to ``end``: the data's provenance.

        See :func:`riskparams.returns.data_fingerprint`: any changed, added or removed bar changes it.
        """
        return data_fingerprint(self.load_prices(series_id, end=end))

    # -- ingest --------------------------------------------------------------------------------
    def ingest_file(
        self,
        path: str | Path,
        *,
        symbol: str,
        source: str,
        kind: str,
        freq: str | None = None,
        replace: bool = False,
    ) -> IngestReport:
        """Validate a CSV or Parquet file and store its bars in one transaction.

        Identical duplicate rows are dropped, the input is sorted, gaps are reported. Bars already
        stored with the same values are skipped; stored bars with different values are an error
        unless ``replace``. Re-ingesting a file changes nothing.

        Raises
        ------
        DataError
            One sentence naming file, row, column and value; the store is left as it was.
        """
        p = Path(path)
        f = None if freq is None else Freq.parse(freq)
        with self.lease():
            assert self._con is not None
            cur = self._con.cursor()
            hasher = _FileHasher(p)  # hashes the file in a thread while DuckDB reads and checks it
            try:
                cur.execute("SET TimeZone = 'UTC'")
                staged = staging.stage_file(cur, p, f)
                file_hash = hasher.result()
                return self._commit_staged(
                    cur, staged, symbol=symbol, source=source, kind=kind, replace=replace,
                    origin=str(p), file_hash=file_hash, synthetic=False,
                )
            finally:
                hasher.join()
                cur.close()

    def ingest_frame(
        self,
        frame: pd.DataFrame,
        *,
        symbol: str,
        source: str,
        kind: str,
        freq: str | None = None,
        replace: bool = False,
        origin: str,
        synthetic: bool = False,
    ) -> IngestReport:
        """Validate an OHLCV frame (exchange fetch, demo data) and store it like :meth:`ingest_file`.

        Parameters
        ----------
        frame : pandas.DataFrame
            Columns ts (UTC datetimes), open, high, low, close and optionally volume.
        origin : str
            Recorded in the ingest log, e.g. ``'exchange:binance'`` or ``'demo'``.
        synthetic : bool
            Marks the series as synthetic wherever it is shown.
        """
        f = None if freq is None else Freq.parse(freq)
        with self.lease():
            assert self._con is not None
            cur = self._con.cursor()
            try:
                cur.execute("SET TimeZone = 'UTC'")
                staged = staging.stage_frame(cur, frame, f"{origin} {symbol}", f)
                return self._commit_staged(
                    cur, staged, symbol=symbol, source=source, kind=kind, replace=replace,
                    origin=origin, file_hash=None, synthetic=synthetic,
                )
            finally:
                cur.close()

    def _commit_staged(
        self,
        cur: duckdb.DuckDBPyConnection,
        staged: staging.Staged,
        *,
        symbol: str,
        source: str,
        kind: str,
        replace: bool,
        origin: str,
        file_hash: str | None,
        synthetic: bool,
    ) -> IngestReport:
        k = Kind.parse(kind).value
        freq = staged.freq.value
        self._wlock.acquire()
        cur.execute("BEGIN TRANSACTION")
        try:
            row = cur.execute(
                "SELECT series_id FROM series WHERE symbol = ? AND source = ? AND kind = ? AND freq = ?",
                [symbol, source, k, freq],
            ).fetchone()
            if row is None:
                row = cur.execute(
                    """INSERT INTO series (symbol, source, kind, freq, created_at, synthetic)
                       VALUES (?, ?, ?, ?, ?, ?) RETURNING series_id""",
                    [symbol, source, k, freq, now_utc(), synthetic],
                ).fetchone()
            assert row is not None
            sid = int(row[0])
            # the per-series write lock: a concurrent write to this series conflicts here or at COMMIT
            try:
                cur.execute("UPDATE series SET updated_at = ? WHERE series_id = ?", [now_utc(), sid])
            except duckdb.TransactionException:
                raise StoreError(
                    f"another write to {symbol} {freq} is in progress; nothing was stored, try again."
                ) from None
            same = """abs(p.open - s.open) <= 1e-9 * abs(p.open) AND abs(p.high - s.high) <= 1e-9 * abs(p.high)
                  AND abs(p.low - s.low) <= 1e-9 * abs(p.low) AND abs(p.close - s.close) <= 1e-9 * abs(p.close)
                  AND ((p.volume IS NULL AND s.volume IS NULL)
                       OR abs(p.volume - s.volume) <= 1e-9 * abs(p.volume) + 1e-12)"""
            cur.execute(
                f"""CREATE OR REPLACE TEMP TABLE stg_overlap AS
                    SELECT s.r, s.ts, s.close AS new_close, p.close AS old_close, ({same}) AS same
                    FROM stg_bars s JOIN prices p ON p.series_id = ? AND p.ts = s.ts""",  # noqa: S608
                [sid],
            )
            counts = cur.execute(
                "SELECT count(*) FILTER (WHERE same), count(*) FILTER (WHERE NOT same) FROM stg_overlap"
            ).fetchone()
            assert counts is not None
            unchanged, conflicting = int(counts[0]), int(counts[1])
            if conflicting and not replace:
                r, ts, new_close, old_close = cur.execute(
                    "SELECT r, ts, new_close, old_close FROM stg_overlap WHERE NOT same ORDER BY ts LIMIT 1"
                ).fetchone() or (0, None, 0.0, 0.0)
                label = staged.label
                raise DataError(
                    f"{label}: row {r}, column '{staged.ts_column}': the bar at "
                    f"{staging._fmt_ts(ts)} differs from the stored bar of {symbol} {freq} "
                    f"(close {new_close:.10g} vs stored {old_close:.10g}; {conflicting} conflicting bars "
                    "in all); use replace (--replace) to overwrite them.",
                    file=label,
                    row=int(r),
                    column=staged.ts_column,
                    value=staging._fmt_ts(ts),
                )
            if conflicting:
                cur.execute(
                    """DELETE FROM prices WHERE series_id = ?
                       AND ts IN (SELECT ts FROM stg_overlap WHERE NOT same)""",
                    [sid],
                )
            # stg_bars is in time order already, and INSERT keeps that order
            if unchanged:
                cur.execute(
                    """INSERT INTO prices
                       SELECT ?, s.ts, s.open, s.high, s.low, s.close, s.volume FROM stg_bars s
                       WHERE NOT EXISTS (SELECT 1 FROM stg_overlap o WHERE o.ts = s.ts AND o.same)""",
                    [sid],
                )
            else:
                cur.execute(
                    "INSERT INTO prices SELECT ?, ts, open, high, low, close, volume FROM stg_bars", [sid]
                )
            n_bars = staged.rows_read - staged.duplicates_dropped
            added = n_bars - unchanged - conflicting
            if added or conflicting:
                cur.execute(
                    """INSERT INTO ingest_log (ingested_at, series_id, origin, file_hash, rows_read, rows_added,
                           rows_replaced, duplicates_dropped, gaps, missing_bars)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [
                        now_utc(), sid, origin, file_hash, staged.rows_read, added, conflicting,
                        staged.duplicates_dropped, len(staged.gaps),
                        sum(g.missing_bars for g in staged.gaps),
                    ],
                )
                try:
                    cur.execute("COMMIT")
                except duckdb.TransactionException:
                    raise StoreError(
                        f"another write to {symbol} {freq} ran at the same time; nothing was stored, try again."
                    ) from None
            else:
                cur.execute("ROLLBACK")  # nothing new: leave the store exactly as it was
        except BaseException:
            try:
                cur.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        finally:
            self._wlock.release()
            for statement in _DROP_STAGING:
                try:
                    cur.execute(statement)
                except duckdb.Error:
                    pass
        info = self.find_series(symbol, freq=freq, source=source, kind=k)
        series = info[0] if info else SeriesInfo(
            series_id=sid, symbol=symbol, source=source, kind=k, freq=freq, synthetic=synthetic
        )
        return IngestReport(
            series=series,
            origin=origin,
            file_hash=file_hash,
            rows_read=staged.rows_read,
            duplicates_dropped=staged.duplicates_dropped,
            rows_added=added,
            rows_replaced=conflicting,
            rows_unchanged=unchanged,
            gaps=staged.gaps,
        )

    def ingest_log(self, limit: int = 200) -> pd.DataFrame:
        """The newest ingest log entries with their series, newest first."""
        return self.fetchdf(
            """SELECT l.ingest_id, l.ingested_at, s.symbol, s.source, s.kind, s.freq, l.origin, l.file_hash,
                      l.rows_read, l.rows_added, l.rows_replaced, l.duplicates_dropped, l.gaps,
                      l.missing_bars
               FROM ingest_log l JOIN series s USING (series_id)
               ORDER BY l.ingest_id DESC LIMIT ?""",
            [int(limit)],
        )

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables (series, prices, ingest_log, fit_cache)."""
        out = {}
        for table in ("series", "prices", "ingest_log", "fit_cache"):
            row = self.fetchone(f"SELECT count(*) FROM {table}")  # noqa: S608
            out[table] = int(row[0]) if row else 0
        return out

    def remove_synthetic(self) -> list[SeriesInfo]:
        """Delete every synthetic (demo) series: its bars, ingest-log entries, cached fits and the series row, in one
        transaction; market (non-synthetic) series are untouched. Returns the series removed (empty: none stored).

        Stored proposals and backtest reports are immutable, hash-addressed records (proposals also sit in the
        audit chain) and keep the series they used resolvable, so nothing is removed when one of them used a
        synthetic series.

        Raises
        ------
        StoreError
            A stored proposal or backtest report used synthetic data (one sentence naming how many, and one id).
        """
        with self.transaction() as cur:
            series = [self._series_row(r) for r in cur.execute(
                self._SERIES_SQL + " WHERE s.synthetic ORDER BY s.symbol, s.freq, s.kind").fetchall()]
            if not series:
                return []
            proposals = [str(r[0]) for r in cur.execute(
                """SELECT DISTINCT d.proposal_id FROM proposal_data d JOIN series s USING (series_id)
                   WHERE s.synthetic ORDER BY 1""").fetchall()]
            reports = [str(r[0]) for r in cur.execute(
                """SELECT r.report_id FROM backtest_reports r WHERE EXISTS (
                       SELECT 1 FROM series s
                       WHERE s.synthetic AND list_contains(string_split(r.symbols, ','), s.symbol))
                   ORDER BY 1""").fetchall()]
            if proposals or reports:
                used = " and ".join(f"{len(ids)} stored {what}{'s' if len(ids) != 1 else ''}"
                                    for ids, what in ((proposals, "proposal"), (reports, "backtest report")) if ids)
                first = (proposals or reports)[0][:12]
                raise StoreError(f"the demo data cannot be removed: {used} (e.g. {first}) used it, and stored "
                                 "records are immutable; proposals over all assets leave it out unless asked.")
            for table in ("prices", "fit_cache", "ingest_log"):
                cur.execute(f"DELETE FROM {table} WHERE series_id IN (SELECT series_id FROM series WHERE synthetic)")  # noqa: S608
            cur.execute("DELETE FROM series WHERE synthetic")
        return series

    # -- fit cache -----------------------------------------------------------------------------
    def get_fit(self, series_id: int, fingerprint: str, spec_key: str, as_of: datetime) -> str | None:
        """Cached fit payload (JSON text) or None."""
        row = self.fetchone(
            """SELECT payload FROM fit_cache
               WHERE series_id = ? AND fingerprint = ? AND spec_key = ? AND as_of = ?""",
            [series_id, fingerprint, spec_key, naive_utc(as_of)],
        )
        return None if row is None else str(row[0])

    def put_fit(self, series_id: int, fingerprint: str, spec_key: str, as_of: datetime, payload: str) -> None:
        """Store a fit payload (JSON text); an existing entry for the same key is kept."""
        with self.transaction() as cur:
            cur.execute(
                """INSERT INTO fit_cache VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                [series_id, fingerprint, spec_key, naive_utc(as_of), now_utc(), payload],
            )


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class _FileHasher:
    """SHA-256 of a file, computed in a background thread (hashlib releases the GIL)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._digest: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="riskparams-file-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._digest = _file_sha256(self._path)
        except BaseException as exc:  # re-raised by result()
            self._error = exc

    def join(self) -> None:
        self._thread.join()

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest

"""Read and validate OHLCV input into a temporary DuckDB table, with DuckDB's native readers.

Nothing here touches the persistent tables: staging happens in temporary tables of the ingest's own
cursor, so a rejected input leaves the store exactly as it was.

Row numbers in messages count like a spreadsheet: for a CSV file the header is row 1, so the first
bar is row 2 (the line number, for files with one record per line); for Parquet files and frames the
first bar is row 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from riskparams.domain import Freq, Gap
from riskparams.exceptions import DataError

CANONICAL = ("ts", "open", "high", "low", "close", "volume")

# accepted column names (lower-cased, spaces/dashes as underscores), first match wins
ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("timestamp", "open_time", "opentime", "time", "datetime", "date", "ts", "t", "unix", "time_utc"),
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price"),
    "volume": ("volume", "v", "vol", "base_volume", "volume_base"),
}
REQUIRED = ("ts", "open", "high", "low", "close")

_TS_NAMES = "a timestamp column (timestamp, time, date or open_time)"

RAW = "stg_raw"
BARS = "stg_bars"

PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True, slots=True)
class Staged:
    """A validated input waiting in the temporary table ``stg_bars`` of one cursor.

    ``stg_bars`` has columns ``r`` (row number for messages), ``ts`` (TIMESTAMP, UTC), ``open``,
    ``high``, ``low``, ``close``, ``volume`` (DOUBLE); timestamps are unique.
    """

    label: str
    rows_read: int
    duplicates_dropped: int
    freq: Freq
    gaps: tuple[Gap, ...]
    ts_column: str
    row_offset: int


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _map_columns(label: str, columns: list[str]) -> dict[str, str]:
    """Map canonical names to the input's column names; DataError for missing ones."""
    normed = {_norm(c): c for c in reversed(columns)}  # first occurrence wins
    mapping: dict[str, str] = {}
    for canon, aliases in ALIASES.items():
        for alias in aliases:
            if alias in normed:
                mapping[canon] = normed[alias]
                break
    missing = [c for c in REQUIRED if c not in mapping]
    if missing:
        names = [_TS_NAMES if c == "ts" else c for c in missing]
        found = ", ".join(repr(c) for c in columns) or "none"
        raise DataError(
            f"{label}: missing column{'s' if len(missing) > 1 else ''} {', '.join(names)} "
            f"(found {found}); expected timestamp, open, high, low, close and optionally volume "
            "(o, h, l, c, v also accepted).",
            file=label,
            column=missing[0],
        )
    return mapping


def _quote(ident: str) -> str:
    """Quote an identifier read from a file header (not a value: values always go through ``?``)."""
    return '"' + ident.replace('"', '""') + '"'


def sniff_file(path: Path) -> str:
    """Return ``'parquet'`` or ``'csv'`` for a readable input file, or raise DataError.

    Parameters
    ----------
    path : Path
        The input file.
    """
    label = path.name
    if not path.exists():
        raise DataError(f"{path}: no such file.", file=str(path))
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file.", file=str(path))
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{label}: the file is empty.", file=label)
    with path.open("rb") as fh:
        head = fh.read(65_536)
    if head[:4] == PARQUET_MAGIC:
        return "parquet"
    if b"\x00" in head:
        raise DataError(
            f"{label}: is neither a CSV text file nor a Parquet file (it contains binary data).", file=label
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a multi-byte character cut at the chunk end
            raise DataError(
                f"{label}: is not UTF-8 text (undecodable byte at offset {exc.start}); "
                "save the CSV as UTF-8.",
                file=label,
            ) from None
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise DataError(f"{label}: the file is empty.", file=label)
    return "csv"


def _read_raw(cur: duckdb.DuckDBPyConnection, path: Path, kind: str, label: str) -> int:
    """Load a file into ``stg_raw`` as it is; return the row offset (row number of rowid 0)."""
    cur.execute(f"DROP TABLE IF EXISTS {RAW}")
    try:
        if kind == "parquet":
            cur.execute(f"CREATE TEMP TABLE {RAW} AS SELECT * FROM read_parquet(?)", [str(path)])
            return 1
        cur.execute(
            f"CREATE TEMP TABLE {RAW} AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )
        return 2
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        what = "Parquet" if kind == "parquet" else "CSV"
        raise DataError(f"{label}: could not be read as {what}: {reason}", file=label) from None


def _columns(cur: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    rows = cur.execute(f"DESCRIBE {table}").fetchall()  # table name is one of this module's constants
    return [(str(r[0]), str(r[1])) for r in rows]


def _ts_expression(cur: duckdb.DuckDBPyConnection, col: str, dtype: str) -> str:
    """SQL expression turning the raw timestamp column into a UTC TIMESTAMP (NULL where unparsable)."""
    q = _quote(col)
    t = dtype.upper()
    if t == "TIMESTAMP WITH TIME ZONE":
        return f"({q} AT TIME ZONE 'UTC')"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST({q} AS TIMESTAMP)"
    numeric_types = ("INTEGER", "BIGINT", "DOUBLE", "FLOAT", "HUGEINT", "SMALLINT", "UBIGINT", "UINTEGER")
    if t in numeric_types or t.startswith("DECIMAL"):
        text = f"CAST({q} AS DOUBLE)"
        all_numeric = True
    else:
        text = f"TRY_CAST(trim(CAST({q} AS VARCHAR)) AS DOUBLE)"
        bad = cur.execute(
            f"SELECT count(*) FROM {RAW} WHERE {q} IS NOT NULL AND {text} IS NULL"  # noqa: S608
        ).fetchone()
        all_numeric = bad is not None and bad[0] == 0
    if all_numeric:
        row = cur.execute(f"SELECT max(abs({text})) FROM {RAW}").fetchone()  # noqa: S608
        biggest = float(row[0]) if row and row[0] is not None else 0.0
        # epoch unit by magnitude: seconds < 1e11 (year 5138) <= milliseconds < 1e14 <= microseconds
        if biggest < 1e11:
            mult = "1e6"
        elif biggest < 1e14:
            mult = "1e3"
        elif biggest < 1e17:
            mult = "1"
        else:
            mult = "1e-3"
        return f"make_timestamp(CAST(round({text} * {mult}) AS BIGINT))"
    return f"(TRY_CAST(trim(CAST({q} AS VARCHAR)) AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"


def _num_expression(col: str | None) -> str:
    if col is None:
        return "CAST(NULL AS DOUBLE)"
    return f"TRY_CAST(trim(CAST({_quote(col)} AS VARCHAR)) AS DOUBLE)"


def _raw_value(cur: duckdb.DuckDBPyConnection, col: str, rowid: int) -> Any:
    row = cur.execute(
        f"SELECT CAST({_quote(col)} AS VARCHAR) FROM {RAW} WHERE rowid = ?",  # noqa: S608
        [rowid],
    ).fetchone()
    return None if row is None else row[0]


def _fmt_ts(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if (ts.hour or ts.minute or ts.second) else ts.strftime(
        "%Y-%m-%d"
    )


def _fmt_num(x: float) -> str:
    return f"{x:.10g}"


def _fmt_span(seconds: float) -> str:
    td = timedelta(seconds=seconds)
    if seconds % 86_400 == 0:
        days = int(seconds // 86_400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3_600 == 0:
        return f"{int(seconds // 3_600)}h"
    return str(td)


def _validate_and_stage(
    cur: duckdb.DuckDBPyConnection,
    label: str,
    mapping: dict[str, str],
    dtypes: dict[str, str],
    row_offset: int,
    freq: Freq | None,
) -> Staged:
    """Type, validate, de-duplicate and sort ``stg_raw`` into ``stg_bars``."""
    ts_col = mapping["ts"]
    n_row = cur.execute(f"SELECT count(*) FROM {RAW}").fetchone()  # noqa: S608
    rows_read = int(n_row[0]) if n_row else 0
    if rows_read == 0:
        raise DataError(f"{label}: the file has a header but no data rows.", file=label)

    ts_expr = _ts_expression(cur, ts_col, dtypes[ts_col])
    cols = {c: _num_expression(mapping.get(c)) for c in CANONICAL[1:]}
    cur.execute("DROP TABLE IF EXISTS stg_typed")
    cur.execute(
        f"""CREATE TEMP TABLE stg_typed AS SELECT
                rowid AS rid, {ts_expr} AS ts,
                {cols["open"]} AS open, {cols["high"]} AS high, {cols["low"]} AS low,
                {cols["close"]} AS close, {cols["volume"]} AS volume
            FROM {RAW}"""  # noqa: S608  (identifiers come from the file header, quoted; no values)
    )
    has_volume = "volume" in mapping
    vol_check = (
        "WHEN volume IS NULL THEN 'volume' WHEN NOT isfinite(volume) THEN 'volume:nan' "
        "WHEN volume < 0 THEN 'volume:neg' "
        if has_volume
        else ""
    )
    price_null = " ".join(f"WHEN {c} IS NULL THEN '{c}' " for c in ("open", "high", "low", "close"))
    price_nan = " ".join(f"WHEN NOT isfinite({c}) THEN '{c}:nan' " for c in ("open", "high", "low", "close"))
    price_pos = " ".join(f"WHEN {c} <= 0 THEN '{c}:pos' " for c in ("open", "high", "low", "close"))
    problem = cur.execute(
        f"""SELECT rid, problem FROM (
                SELECT rid, CASE WHEN ts IS NULL THEN 'ts' {price_null} {price_nan} {vol_check}
                    {price_pos}
                    WHEN high < greatest(open, close) THEN 'high:below'
                    WHEN low > least(open, close) THEN 'low:above'
                    END AS problem
                FROM stg_typed)
            WHERE problem IS NOT NULL ORDER BY rid LIMIT 1"""  # noqa: S608
    ).fetchone()
    if problem is not None:
        _raise_row_problem(cur, label, mapping, int(problem[0]), str(problem[1]), row_offset)

    # duplicates: identical ones are dropped, conflicting ones are an error
    counts = cur.execute("SELECT count(*), count(DISTINCT ts) FROM stg_typed").fetchone()
    assert counts is not None
    duplicates_dropped = 0
    if counts[0] != counts[1]:
        conflict = cur.execute(
            """SELECT ts, min(rid), list_sort(list(rid))[2] FROM (
                   SELECT DISTINCT ON (ts, open, high, low, close, volume) * FROM stg_typed
                   ORDER BY ts, open, high, low, close, volume, rid)
               GROUP BY ts HAVING count(*) > 1 ORDER BY min(rid) LIMIT 1"""
        ).fetchone()
        if conflict is not None:
            ts, first, second = conflict
            raise DataError(
                f"{label}: row {int(second) + row_offset}, column '{ts_col}': timestamp {_fmt_ts(ts)} "
                f"appears again (first at row {int(first) + row_offset}) with different prices or volume.",
                file=label,
                row=int(second) + row_offset,
                column=ts_col,
                value=_fmt_ts(ts),
            )
        cur.execute(
            """CREATE OR REPLACE TEMP TABLE stg_typed AS
               SELECT * FROM stg_typed QUALIFY row_number() OVER (PARTITION BY ts ORDER BY rid) = 1"""
        )
        duplicates_dropped = int(counts[0]) - int(counts[1])

    cur.execute(f"DROP TABLE IF EXISTS {BARS}")
    cur.execute(
        f"""CREATE TEMP TABLE {BARS} AS
            SELECT rid + {int(row_offset)} AS r, ts, open, high, low, close, volume,
                   epoch_us(ts) - lag(epoch_us(ts)) OVER (ORDER BY ts) AS d
            FROM stg_typed ORDER BY ts"""  # noqa: S608
    )
    cur.execute("DROP TABLE IF EXISTS stg_typed")

    n_bars = rows_read - duplicates_dropped
    inferred: Freq | None = None
    mode = cur.execute(
        f"SELECT d, count(*) AS n FROM {BARS} WHERE d IS NOT NULL GROUP BY d ORDER BY n DESC, d LIMIT 1"  # noqa: S608
    ).fetchone()
    if mode is not None:
        spacing = int(mode[0]) / 1e6
        inferred = next((f for f in Freq if f.seconds == spacing), None)
        if inferred is None and freq is None:
            raise DataError(
                f"{label}: cannot infer the bar frequency: the most common spacing between bars is "
                f"{_fmt_span(spacing)}; supported are 1h, 4h and 1d.",
                file=label,
                column=ts_col,
            )
    if freq is None:
        if inferred is None:
            raise DataError(
                f"{label}: a single bar cannot tell its frequency; give it (1h, 4h or 1d).", file=label
            )
        freq = inferred
    elif inferred is not None and inferred != freq and n_bars > 2:
        raise DataError(
            f"{label}: the bars are {inferred.value} apart (most common spacing) but the frequency "
            f"given is {freq.value}.",
            file=label,
            column=ts_col,
        )
    step_us = freq.seconds * 1_000_000
    off = cur.execute(
        f"""SELECT r, ts, d FROM {BARS}
            WHERE d IS NOT NULL AND d % ? <> 0 ORDER BY ts LIMIT 1""",  # noqa: S608
        [step_us],
    ).fetchone()
    if off is not None:
        r, ts, d = off
        raise DataError(
            f"{label}: row {int(r)}, column '{ts_col}': timestamp {_fmt_ts(ts)} is {_fmt_span(d / 1e6)} "
            f"after the previous bar, which does not fit {freq.value} bars.",
            file=label,
            row=int(r),
            column=ts_col,
            value=_fmt_ts(ts),
        )
    gap_rows = cur.execute(
        f"""SELECT ts, d FROM {BARS} WHERE d > ? ORDER BY ts""",  # noqa: S608
        [step_us],
    ).fetchall()
    gaps = tuple(
        Gap(
            after=ts - timedelta(microseconds=int(d)),
            before=ts,
            missing_bars=int(d // step_us) - 1,
        )
        for ts, d in gap_rows
    )
    return Staged(
        label=label,
        rows_read=rows_read,
        duplicates_dropped=duplicates_dropped,
        freq=freq,
        gaps=gaps,
        ts_column=ts_col,
        row_offset=row_offset,
    )


def _raise_row_problem(
    cur: duckdb.DuckDBPyConnection,
    label: str,
    mapping: dict[str, str],
    rid: int,
    problem: str,
    row_offset: int,
) -> None:
    row = rid + row_offset
    canon, _, what = problem.partition(":")
    col = mapping[canon]
    raw = _raw_value(cur, col, rid)
    where = f"{label}: row {row}, column '{col}'"

    def err(msg: str, value: Any = raw) -> DataError:
        return DataError(f"{where}: {msg}", file=label, row=row, column=col, value=value)

    if canon == "ts":
        if raw is None or not str(raw).strip():
            raise err("the timestamp is missing.")
        raise err(
            f"value '{raw}' is not a timestamp (expected ISO-8601 such as 2024-01-31T00:00:00Z, "
            "or epoch seconds or milliseconds)."
        )
    if not what:
        if raw is None or not str(raw).strip():
            raise err("the value is missing.")
        raise err(f"value '{raw}' is not a number.")
    if what == "nan":
        raise err(f"value '{raw}' is not a finite number.")
    if what == "pos":
        raise err(f"price {raw} is not positive.")
    if what == "neg":
        raise err(f"volume {raw} is negative.")
    vals = cur.execute("SELECT open, close FROM stg_typed WHERE rid = ?", [rid]).fetchone()
    assert vals is not None
    o, c = float(vals[0]), float(vals[1])
    if what == "below":
        raise err(f"high {raw} is below max(open, close) = {_fmt_num(max(o, c))}.")
    raise err(f"low {raw} is above min(open, close) = {_fmt_num(min(o, c))}.")


def stage_file(cur: duckdb.DuckDBPyConnection, path: Path, freq: Freq | None) -> Staged:
    """Read a CSV or Parquet file into ``stg_bars`` and validate it.

    Parameters
    ----------
    cur : duckdb.DuckDBPyConnection
        The ingest's own cursor (temporary tables are private to it).
    path : Path
        CSV (UTF-8 text with a header row) or Parquet file.
    freq : Freq or None
        Bar frequency; inferred from the most common spacing when None.

    Raises
    ------
    DataError
        One sentence naming file, row, column and value.
    """
    kind = sniff_file(path)
    label = path.name
    row_offset = _read_raw(cur, path, kind, label)
    columns = _columns(cur, RAW)
    mapping = _map_columns(label, [n for n, _ in columns])
    return _validate_and_stage(cur, label, mapping, dict(columns), row_offset, freq)


def stage_frame(cur: duckdb.DuckDBPyConnection, frame: pd.DataFrame, label: str, freq: Freq | None) -> Staged:
    """Validate an in-memory OHLCV frame (exchange fetch, demo generator) into ``stg_bars``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``ts`` (tz-aware UTC or naive UTC datetimes) and open, high, low, close[, volume];
        shape (n_bars, 5 or 6). Row numbers in messages count from 1.
    label : str
        Names the input in messages (e.g. ``'binance BTC/USDT 1d'``).
    """
    if frame is None or len(frame) == 0:
        raise DataError(f"{label}: no bars to store.", file=label)
    mapping = _map_columns(label, [str(c) for c in frame.columns])
    data = pd.DataFrame({canon: frame[src] for canon, src in mapping.items()})
    ts = pd.to_datetime(data["ts"], utc=True, errors="coerce")
    data["ts"] = ts.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    cur.execute(f"DROP TABLE IF EXISTS {RAW}")
    cur.register("stg_frame_view", data)
    try:
        cur.execute(f"CREATE TEMP TABLE {RAW} AS SELECT * FROM stg_frame_view")
    finally:
        cur.unregister("stg_frame_view")
    columns = _columns(cur, RAW)
    ident = {c: c for c in mapping}
    return _validate_and_stage(cur, label, ident, dict(columns), 1, freq)

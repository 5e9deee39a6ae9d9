"""Read and validate OHLCV input into a temporary DuckDB table, with DuckDB's native readers.

Nothing here touches the persistent tables: staging happens in temporary tables of the ingest's own
cursor, so a rejected input leaves the store exactly as it was.

A file is read once, straight into the typed table ``stg_typed`` (a CSV file's dialect is sniffed
once; a valid CSV file is parsed by the reader itself, anything else through ``TRY_CAST`` so that the
first bad row can be named). The checks of the bar order, duplicates and spacing run on the
timestamps in numpy. The raw value quoted in a message is read again from the file by position.

Row numbers in messages count like a spreadsheet: for a CSV file the header is row 1, so the first
bar is row 2 (the line number, for files with one record per line); for Parquet files and frames the
first bar is row 1.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
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

BARS = "stg_bars"

PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True, slots=True)
class Staged:
    """A validated input waiting in ``stg_bars`` of one cursor (a temporary view on ``stg_typed`` when
    the input was sorted without repeats, else a temporary table).

    ``stg_bars`` has columns ``r`` (row number for messages), ``ts`` (TIMESTAMP, UTC), ``open``,
    ``high``, ``low``, ``close``, ``volume`` (DOUBLE), in time order; timestamps are unique.
    """

    label: str
    rows_read: int
    duplicates_dropped: int
    freq: Freq
    gaps: tuple[Gap, ...]
    ts_column: str
    row_offset: int


SOURCE = "stg_raw"  # name of the frame table (frames only; files are read in place)
TYPED = "stg_typed"

EARLIEST_BAR = datetime(2009, 1, 3)
"""No bar may open before 2009-01-03, the day of the Bitcoin genesis block: no crypto asset traded
earlier, so an older timestamp is a mistake (a wrong epoch unit, a typo such as 1700 or 0202)."""
MAX_FUTURE = timedelta(days=1)
"""A bar may open at most this long after now (a clock a little ahead is tolerated); a later one, such
as 2300 or 9999, is a mistake."""
MAX_PRICE = 1e12
"""Largest accepted price, in quote units: about ten million times Bitcoin's all-time high in US dollars,
and above any crypto asset in any currency (Bitcoin in Indonesian rupiah is about 2e9). A larger price is
a unit or typing mistake (1e308 would overflow every return and variance computed from it)."""
MIN_PRICE = 1e-12
"""Smallest accepted price, in quote units: ten thousand times below the finest tick exchanges quote
(1e-8, one satoshi on Bitcoin-quoted markets). Quote such an asset per thousand or million tokens, as
exchanges do (1000PEPE); without this floor a price ratio such as 1e12 / 1e-300 overflows."""
MAX_VOLUME = 1e18
"""Largest accepted volume of one bar, in base-asset units: more than the whole supply of nearly every
token (SHIB has about 6e14); a larger volume is a unit or typing mistake."""

_HEAD_BYTES = 65_536
_MAX_TS_US = 9.2e18  # TIMESTAMP holds microseconds up to about 2**63
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True, slots=True)
class _Source:
    """Where the raw input can be read (again): a table function call or table name, with its parameters.

    Files are not copied into a table: they are read once for the typed table, and read again only to
    quote the raw value of a rejected row in its message.
    """

    sql: str
    params: tuple[Any, ...]
    kind: str  # 'csv' | 'parquet' | 'frame'


def _csv_source(cur: duckdb.DuckDBPyConnection, path: Path, label: str) -> _Source:
    """Sniff the CSV dialect once; every later read of the file uses it (no sniffing again)."""
    try:
        row = cur.execute(
            """SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, Columns
               FROM sniff_csv(?, header = true, all_varchar = true)""",
            [str(path)],
        ).fetchone()
    except duckdb.Error as exc:
        raise _read_error(exc, path, label, "csv") from None
    assert row is not None

    def opt(value: Any) -> str:
        return "" if value is None or value == "(empty)" else str(value)

    delim, quote, escape, new_line, comment, skip, columns = row
    return _Source(
        "read_csv(?, auto_detect = false, header = true, delim = ?, quote = ?, escape = ?, new_line = ?, "
        "comment = ?, skip = ?, columns = ?)",
        (
            str(path), opt(delim), opt(quote), opt(escape), opt(new_line), opt(comment), int(skip or 0),
            {str(c["name"]): "VARCHAR" for c in columns},
        ),
        "csv",
    )


def _parquet_source(path: Path) -> _Source:
    return _Source("read_parquet(?)", (str(path),), "parquet")


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
        head = fh.read(_HEAD_BYTES)
    if head[:4] == PARQUET_MAGIC:
        return "parquet"
    if b"\x00" in head:
        raise DataError(
            f"{label}: is neither a CSV text file nor a Parquet file (it contains binary data).", file=label
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the chunk is fine; anything else is not UTF-8
        cut = size > len(head) and exc.reason == "unexpected end of data"
        if not cut:
            raise _not_utf8_error(path, label) from None
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise DataError(f"{label}: the file is empty.", file=label)
    return "csv"


def _guess_delimiter(header: str) -> str:
    return max(_DELIMITERS, key=header.count)


def _not_utf8_error(path: Path, label: str) -> DataError:
    """The DataError for the first byte of ``path`` that is not UTF-8 (row, column and byte named)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0  # file bytes before ``chunk``
    newlines = 0  # line breaks before the bad byte
    line = b""  # the current line up to the bad byte
    header: bytes | None = None
    bad: tuple[int, int] | None = None  # (offset in the file, byte)
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                held = len(exc.object) - len(chunk)  # bytes of an unfinished character kept from before
                bad = (consumed + exc.start - held, exc.object[exc.start])
            part = chunk if bad is None else chunk[: max(bad[0] - consumed, 0)]
            if header is None and b"\n" in part:
                header = line + part[: part.index(b"\n")]
            newlines += part.count(b"\n")
            cut = part.rfind(b"\n")
            line = part[cut + 1 :] if cut >= 0 else line + part
            if bad is not None or not chunk:
                break
            consumed += len(chunk)
    if bad is None:  # pragma: no cover - only called when a decoder or DuckDB found a bad byte
        return DataError(f"{label}: is not UTF-8 text; save the CSV as UTF-8.", file=label)
    offset, byte = bad
    row = newlines + 1
    value = f"\\x{byte:02x}"
    column: str | None = None
    if header is not None:
        names = header.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r")
        delim = _guess_delimiter(names)
        fields = names.split(delim)
        index = line.count(delim.encode())
        if index < len(fields):
            column = fields[index].strip().strip('"')
    where = f"{label}: row {row}" + (f", column '{column}'" if column is not None else "")
    return DataError(
        f"{where}: byte {value} at offset {offset} is not UTF-8 text; save the CSV as UTF-8.",
        file=label,
        row=row,
        column=column,
        value=value,
    )


def _ragged_row_error(path: Path, label: str) -> DataError | None:
    """The DataError for the first CSV row whose number of fields differs from the header's, if any."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        first = fh.readline()
        delim = _guess_delimiter(first)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delim)
        header = next(reader, None)
        if not header:
            return None
        width = len(header)
        for fields in reader:
            if fields and len(fields) != width:
                row = reader.line_num
                value = delim.join(fields)
                return DataError(
                    f"{label}: row {row}: has {len(fields)} fields but the header has {width} "
                    f"('{value[:80]}'); every row needs the columns of the header.",
                    file=label,
                    row=row,
                    value=value,
                )
    return None


def _read_error(exc: duckdb.Error, path: Path, label: str, kind: str) -> DataError:
    """Turn a DuckDB reader error into a DataError naming, where it can, the row and the value."""
    text = str(exc)
    low = text.lower()
    if kind == "csv":
        if "unicode" in low or "utf-8" in low or "utf8" in low:
            return _not_utf8_error(path, label)
        if "number of columns" in low or "sniffing" in low or "dialect" in low:
            ragged = _ragged_row_error(path, label)
            if ragged is not None:
                return ragged
    reason = text.strip().splitlines()[0]
    what = "Parquet" if kind == "parquet" else "CSV"
    return DataError(f"{label}: could not be read as {what}: {reason}", file=label)


def _columns(cur: duckdb.DuckDBPyConnection, source: _Source) -> list[tuple[str, str]]:
    rows = cur.execute(f"DESCRIBE SELECT * FROM {source.sql}", list(source.params)).fetchall()  # noqa: S608
    return [(str(r[0]), str(r[1])) for r in rows]


_NUMERIC_TYPES = ("INTEGER", "BIGINT", "DOUBLE", "FLOAT", "HUGEINT", "SMALLINT", "UBIGINT", "UINTEGER")


def _ts_expression(cur: duckdb.DuckDBPyConnection, source: _Source, col: str, dtype: str) -> tuple[str, bool]:
    """SQL expression reading the raw timestamp column, and whether it gives epoch numbers.

    Either a UTC TIMESTAMP (NULL where unparsable), or for epoch input a DOUBLE that
    :func:`_epoch_to_timestamp` converts once the unit is known. A text column holds epoch numbers
    when its first value is a number; values that do not fit its kind become NULL, so the message
    names the first row that is not like the others.
    """
    q = _quote(col)
    t = dtype.upper()
    if t == "TIMESTAMP WITH TIME ZONE":
        return f"({q} AT TIME ZONE 'UTC')", False
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST({q} AS TIMESTAMP)", False
    if t in _NUMERIC_TYPES or t.startswith("DECIMAL"):
        return f"CAST({q} AS DOUBLE)", True
    raw = f"trim(CAST({q} AS VARCHAR))"
    first = cur.execute(
        f"SELECT TRY_CAST({raw} AS DOUBLE) IS NOT NULL FROM {source.sql} "  # noqa: S608
        f"WHERE {q} IS NOT NULL AND {raw} <> '' LIMIT 1",
        list(source.params),
    ).fetchone()
    if first is not None and first[0]:
        return f"TRY_CAST({raw} AS DOUBLE)", True
    return f"(TRY_CAST({raw} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')", False


def _read_typed_csv(
    cur: duckdb.DuckDBPyConnection, source: _Source, mapping: dict[str, str], epoch: bool
) -> bool:
    """Fast path for CSV: let the reader parse the columns as timestamps and numbers into ``stg_typed``.

    This reads a valid file about twice as fast as parsing text columns with ``TRY_CAST``. Returns
    False, with nothing created, when some value does not parse: the text path then finds the first
    bad row and names it. Values that parse are the same either way (the reader trims blanks, reads
    an empty field as NULL and accepts ``nan`` and ``inf``, which the checks after it reject).
    """
    *params, columns = source.params
    types = dict(columns)
    types[mapping["ts"]] = "DOUBLE" if epoch else "TIMESTAMPTZ"
    for canon in CANONICAL[1:]:
        if canon in mapping:
            types[mapping[canon]] = "DOUBLE"

    def col(canon: str) -> str:
        return _quote(mapping[canon]) if canon in mapping else "CAST(NULL AS DOUBLE)"

    ts = col("ts") if epoch else f"({col('ts')} AT TIME ZONE 'UTC')"
    try:
        cur.execute(
            f"""CREATE TEMP TABLE {TYPED} AS SELECT
                    {ts} AS ts, {col("open")} AS open, {col("high")} AS high, {col("low")} AS low,
                    {col("close")} AS close, {col("volume")} AS volume
                FROM {source.sql}""",  # noqa: S608  (identifiers come from the file header, quoted; no values)
            [*params, types],
        )
    except duckdb.Error:
        cur.execute(f"DROP TABLE IF EXISTS {TYPED}")
        return False
    return True


def _epoch_to_timestamp(cur: duckdb.DuckDBPyConnection) -> None:
    """Replace the epoch numbers in ``stg_typed.ts`` by timestamps, the unit chosen by magnitude."""
    row = cur.execute(f"SELECT max(abs(ts)) FILTER (WHERE isfinite(ts)) FROM {TYPED}").fetchone()  # noqa: S608
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
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE {TYPED} AS SELECT
                CASE WHEN isfinite(ts) AND abs(ts * {mult}) < {_MAX_TS_US}
                     THEN make_timestamp(CAST(round(ts * {mult}) AS BIGINT)) END AS ts,
                open, high, low, close, volume
            FROM {TYPED}"""  # noqa: S608
    )


def _num_expression(col: str | None, dtype: str | None = None) -> str:
    if col is None:
        return "CAST(NULL AS DOUBLE)"
    t = (dtype or "").upper()
    if t in _NUMERIC_TYPES or t.startswith("DECIMAL"):  # typed input (Parquet, frames): no text round trip
        return f"CAST({_quote(col)} AS DOUBLE)"
    return f"TRY_CAST(trim(CAST({_quote(col)} AS VARCHAR)) AS DOUBLE)"


def _raw_value(cur: duckdb.DuckDBPyConnection, source: _Source, col: str, rowid: int) -> Any:
    row = cur.execute(
        f"SELECT CAST({_quote(col)} AS VARCHAR) FROM {source.sql} LIMIT 1 OFFSET {int(rowid)}",  # noqa: S608
        list(source.params),
    ).fetchone()
    return None if row is None else row[0]


def _fmt_ts(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if (ts.hour or ts.minute or ts.second) else ts.strftime(
        "%Y-%m-%d"
    )


_EPOCH = datetime(1970, 1, 1)


def latest_bar() -> datetime:
    """The latest open time a bar may have: now (naive UTC) plus :data:`MAX_FUTURE`."""
    return datetime.now(UTC).replace(tzinfo=None) + MAX_FUTURE


def _us_to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _fmt_num(x: float) -> str:
    return f"{x:.10g}"


def _is_number(raw: Any) -> bool:
    try:
        float(str(raw))
    except ValueError:
        return False
    return True


def _fmt_bound(x: float) -> str:
    """A power-of-ten bound as written in the docs: ``1e12``, ``1e-12``."""
    return f"{x:g}".replace("e+", "e")


def _fmt_span(seconds: float) -> str:
    td = timedelta(seconds=seconds)
    if seconds % 86_400 == 0:
        days = int(seconds // 86_400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3_600 == 0:
        return f"{int(seconds // 3_600)}h"
    return str(td)


def _mode(d: np.ndarray) -> int:
    """Most common value of ``d`` (the smallest of equally common ones), as the SQL ``GROUP BY`` did."""
    for f in Freq:
        step = f.seconds * 1_000_000
        if 2 * int(np.count_nonzero(d == step)) > d.size:
            return step
    values, counts = np.unique(d, return_counts=True)
    return int(values[int(np.argmax(counts))])


def _validate_and_stage(
    cur: duckdb.DuckDBPyConnection,
    label: str,
    source: _Source,
    mapping: dict[str, str],
    dtypes: dict[str, str],
    row_offset: int,
    freq: Freq | None,
    path: Path | None = None,
) -> Staged:
    """Type, validate, de-duplicate and sort the input into ``stg_bars``.

    The input is read once into the typed table ``stg_typed`` (its ``rowid`` is the record's position
    in the input); sorted input without duplicates, the usual case, is not copied again: ``stg_bars``
    is then a view on it.
    """
    ts_col = mapping["ts"]
    cols = {
        c: _num_expression(mapping.get(c), dtypes.get(mapping[c]) if c in mapping else None)
        for c in CANONICAL[1:]
    }
    cur.execute(f"DROP TABLE IF EXISTS {TYPED}")
    try:
        ts_expr, epoch = _ts_expression(cur, source, ts_col, dtypes[ts_col])
        if not (source.kind == "csv" and _read_typed_csv(cur, source, mapping, epoch)):
            cur.execute(
                f"""CREATE TEMP TABLE {TYPED} AS SELECT
                        {ts_expr} AS ts,
                        {cols["open"]} AS open, {cols["high"]} AS high, {cols["low"]} AS low,
                        {cols["close"]} AS close, {cols["volume"]} AS volume
                    FROM {source.sql}""",  # noqa: S608  (identifiers come from the file header, quoted; no values)
                list(source.params),
            )
    except duckdb.Error as exc:
        if path is None:
            raise
        raise _read_error(exc, path, label, source.kind) from None
    n_row = cur.execute(f"SELECT count(*) FROM {TYPED}").fetchone()  # noqa: S608
    rows_read = int(n_row[0]) if n_row else 0
    if rows_read == 0:
        raise DataError(f"{label}: the file has a header but no data rows.", file=label)
    if epoch:
        _epoch_to_timestamp(cur)

    has_volume = "volume" in mapping
    vol_check = (
        "WHEN volume IS NULL THEN 'volume' WHEN NOT isfinite(volume) THEN 'volume:nan' "
        f"WHEN volume < 0 THEN 'volume:neg' WHEN volume > {MAX_VOLUME!r} THEN 'volume:big' "
        if has_volume
        else ""
    )
    prices = ("open", "high", "low", "close")
    price_null = " ".join(f"WHEN {c} IS NULL THEN '{c}' " for c in prices)
    price_nan = " ".join(f"WHEN NOT isfinite({c}) THEN '{c}:nan' " for c in prices)
    price_pos = " ".join(f"WHEN {c} <= 0 THEN '{c}:pos' " for c in prices)
    price_range = " ".join(
        f"WHEN {c} > {MAX_PRICE!r} THEN '{c}:big' WHEN {c} < {MIN_PRICE!r} THEN '{c}:small' " for c in prices
    )
    problem = cur.execute(
        f"""SELECT rid, problem FROM (
                SELECT rowid AS rid, CASE
                    WHEN ts IS NULL OR NOT (ts BETWEEN TIMESTAMP '0001-01-01' AND TIMESTAMP '9999-12-31')
                    THEN 'ts' WHEN ts < ? THEN 'ts:early' WHEN ts > ? THEN 'ts:late'
                    {price_null} {price_nan} {vol_check}
                    {price_pos} {price_range}
                    WHEN high < greatest(open, close) THEN 'high:below'
                    WHEN low > least(open, close) THEN 'low:above'
                    END AS problem
                FROM {TYPED})
            WHERE problem IS NOT NULL ORDER BY rid LIMIT 1""",  # noqa: S608  (module constants only)
        [EARLIEST_BAR, latest_bar()],
    ).fetchone()
    if problem is not None:
        _raise_row_problem(cur, label, source, mapping, int(problem[0]), str(problem[1]), row_offset)

    stamps = cur.execute(f"SELECT epoch_us(ts) AS t FROM {TYPED}").fetchnumpy()["t"]  # noqa: S608
    ts = np.asarray(stamps, dtype=np.int64)
    cur.execute(f"DROP VIEW IF EXISTS {BARS}")
    cur.execute(f"DROP TABLE IF EXISTS {BARS}")
    duplicates_dropped = 0
    rows: np.ndarray | None = None  # row number of each bar in time order; None: row_offset + position
    if ts.size > 1 and not bool((ts[1:] > ts[:-1]).all()):
        rows, ts, duplicates_dropped = _sort_and_deduplicate(cur, label, ts_col, ts, row_offset)
    else:
        cur.execute(
            f"""CREATE TEMP VIEW {BARS} AS
                SELECT rowid + {int(row_offset)} AS r, ts, open, high, low, close, volume FROM {TYPED}"""  # noqa: S608
        )

    def row_of(i: int) -> int:
        return int(rows[i]) if rows is not None else i + row_offset

    n_bars = rows_read - duplicates_dropped
    d = np.diff(ts)  # spacing before bar i + 1, microseconds
    inferred: Freq | None = None
    mode_at = -1
    if d.size:
        mode_us = _mode(d)
        mode_at = int(np.argmax(d == mode_us)) + 1  # first bar that follows the common spacing
        spacing = mode_us / 1e6
        inferred = next((f for f in Freq if f.seconds == spacing), None)
        if inferred is None and freq is None:
            at = _fmt_ts(_us_to_datetime(ts[mode_at]))
            raise DataError(
                f"{label}: row {row_of(mode_at)}, column '{ts_col}': cannot infer the bar frequency: the most "
                f"common spacing between bars is {_fmt_span(spacing)} (first at timestamp {at}); supported "
                "are 1h, 4h and 1d.",
                file=label,
                row=row_of(mode_at),
                column=ts_col,
                value=at,
            )
    if freq is None:
        if inferred is None:
            raise DataError(
                f"{label}: a single bar cannot tell its frequency; give it (1h, 4h or 1d).", file=label
            )
        freq = inferred
    elif inferred is not None and inferred != freq and n_bars > 2:
        at = _fmt_ts(_us_to_datetime(ts[mode_at]))
        raise DataError(
            f"{label}: row {row_of(mode_at)}, column '{ts_col}': the bars are {inferred.value} apart (most "
            f"common spacing, first at timestamp {at}) but the frequency given is {freq.value}.",
            file=label,
            row=row_of(mode_at),
            column=ts_col,
            value=at,
        )
    step_us = freq.seconds * 1_000_000
    off = np.flatnonzero(d % step_us != 0)
    if off.size:
        i = int(off[0]) + 1
        at = _fmt_ts(_us_to_datetime(ts[i]))
        raise DataError(
            f"{label}: row {row_of(i)}, column '{ts_col}': timestamp {at} is {_fmt_span(int(d[i - 1]) / 1e6)} "
            f"after the previous bar, which does not fit {freq.value} bars.",
            file=label,
            row=row_of(i),
            column=ts_col,
            value=at,
        )
    gap_at = np.flatnonzero(d > step_us)
    gaps = tuple(
        Gap(
            after=_us_to_datetime(ts[i]),
            before=_us_to_datetime(ts[i + 1]),
            missing_bars=int(d[i] // step_us) - 1,
        )
        for i in gap_at.tolist()
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


def _sort_and_deduplicate(
    cur: duckdb.DuckDBPyConnection, label: str, ts_col: str, ts: np.ndarray, row_offset: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Unsorted input or input with repeated timestamps: drop identical repeats (conflicting ones are
    an error) and write the bars sorted into the table ``stg_bars``.

    Returns the row numbers and timestamps (microseconds) of the bars in time order and the number of
    rows dropped.
    """
    ordered = np.sort(ts)
    duplicates = int(np.count_nonzero(ordered[1:] == ordered[:-1]))
    src = f"(SELECT rowid AS rid, * FROM {TYPED})"  # noqa: S608  (module constants only)
    if duplicates:
        conflict = cur.execute(
            f"""SELECT ts, min(rid), list_sort(list(rid))[2] FROM (
                   SELECT DISTINCT ON (ts, open, high, low, close, volume) * FROM {src}
                   ORDER BY ts, open, high, low, close, volume, rid)
               GROUP BY ts HAVING count(*) > 1 ORDER BY min(rid) LIMIT 1"""  # noqa: S608
        ).fetchone()
        if conflict is not None:
            at, first, second = conflict
            raise DataError(
                f"{label}: row {int(second) + row_offset}, column '{ts_col}': timestamp {_fmt_ts(at)} "
                f"appears again (first at row {int(first) + row_offset}) with different prices or volume.",
                file=label,
                row=int(second) + row_offset,
                column=ts_col,
                value=_fmt_ts(at),
            )
        src = f"(SELECT * FROM {src} QUALIFY row_number() OVER (PARTITION BY ts ORDER BY rid) = 1)"  # noqa: S608
    cur.execute(
        f"""CREATE TEMP TABLE {BARS} AS
            SELECT rid + {int(row_offset)} AS r, ts, open, high, low, close, volume
            FROM {src} ORDER BY ts"""  # noqa: S608
    )
    got = cur.execute(f"SELECT r, epoch_us(ts) AS t FROM {BARS} ORDER BY ts").fetchnumpy()  # noqa: S608
    return (
        np.asarray(got["r"], dtype=np.int64),
        np.asarray(got["t"], dtype=np.int64),
        duplicates,
    )


def _raise_row_problem(
    cur: duckdb.DuckDBPyConnection,
    label: str,
    source: _Source,
    mapping: dict[str, str],
    rid: int,
    problem: str,
    row_offset: int,
) -> None:
    row = rid + row_offset
    canon, _, what = problem.partition(":")
    col = mapping[canon]
    raw = _raw_value(cur, source, col, rid)
    where = f"{label}: row {row}, column '{col}'"

    def err(msg: str, value: Any = raw) -> DataError:
        return DataError(f"{where}: {msg}", file=label, row=row, column=col, value=value)

    if canon == "ts":
        if raw is None or not str(raw).strip():
            raise err("the timestamp is missing.")
        if what:  # a timestamp outside the plausible range
            shown = f"'{raw}'"
            if _is_number(raw):  # epoch seconds or milliseconds: say which time they are
                got = cur.execute(f"SELECT ts FROM {TYPED} WHERE rowid = ?", [rid]).fetchone()  # noqa: S608
                shown += f" ({_fmt_ts(got[0])})" if got is not None else ""
            if what == "early":
                raise err(f"value {shown} is before {EARLIEST_BAR:%Y-%m-%d}, the Bitcoin genesis block: no crypto "
                          "market has older bars.")
            raise err(f"value {shown} is more than {_fmt_span(MAX_FUTURE.total_seconds())} in the future.")
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
    if what == "big" and canon == "volume":
        raise err(f"volume {raw} is above {_fmt_bound(MAX_VOLUME)} base-asset units, the largest accepted volume.")
    if what == "big":
        raise err(f"price {raw} is above {_fmt_bound(MAX_PRICE)} quote units, the largest accepted price.")
    if what == "small":
        raise err(f"price {raw} is below {_fmt_bound(MIN_PRICE)} quote units, the smallest accepted price (quote the "
                  "asset per thousand or million tokens).")
    vals = cur.execute(f"SELECT open, close FROM {TYPED} WHERE rowid = ?", [rid]).fetchone()  # noqa: S608
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
    source = _parquet_source(path) if kind == "parquet" else _csv_source(cur, path, label)
    try:
        columns = _columns(cur, source)
    except duckdb.Error as exc:
        raise _read_error(exc, path, label, kind) from None
    names = [n for n, _ in columns]
    if kind == "csv" and len(names) == 1 and any(d in names[0] for d in _DELIMITERS):
        # the reader saw one column named like a whole header line: its rows do not agree on a layout
        ragged = _ragged_row_error(path, label)
        if ragged is not None:
            raise ragged
    mapping = _map_columns(label, names)
    row_offset = 1 if kind == "parquet" else 2
    return _validate_and_stage(cur, label, source, mapping, dict(columns), row_offset, freq, path)


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
    unparsed = np.flatnonzero((ts.isna() & data["ts"].notna()).to_numpy())
    if unparsed.size:
        i = int(unparsed[0])
        raw = data["ts"].iloc[i]
        raise DataError(
            f"{label}: row {i + 1}, column 'ts': value '{raw}' is not a timestamp (expected ISO-8601 such "
            "as 2024-01-31T00:00:00Z, or epoch seconds or milliseconds).",
            file=label,
            row=i + 1,
            column="ts",
            value=raw,
        )
    data["ts"] = ts.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    cur.execute(f"DROP TABLE IF EXISTS {SOURCE}")
    cur.register("stg_frame_view", data)
    try:
        cur.execute(f"CREATE TEMP TABLE {SOURCE} AS SELECT * FROM stg_frame_view")  # noqa: S608
    finally:
        cur.unregister("stg_frame_view")
    source = _Source(SOURCE, (), "frame")
    columns = _columns(cur, source)
    ident = {c: c for c in mapping}
    return _validate_and_stage(cur, label, source, ident, dict(columns), 1, freq)

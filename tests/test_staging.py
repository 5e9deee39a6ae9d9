"""Validation of ingested files (riskparams.store.staging through Store.ingest_file).

Every rejected input must give one sentence naming file, row, column and value (as the message and
as the DataError attributes) and leave the store exactly as it was; every accepted variant must be
stored with the right UTC timestamps and values.

Row numbers: in a CSV file the header is row 1, so the first bar is row 2; in Parquet files and
frames the first bar is row 1.
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
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import HEADER, bar_lines, make_frame

from riskparams.domain import Gap, IngestReport
from riskparams.exceptions import DataError
from riskparams.store import Store

# ---------------------------------------------------------------------------------------------------
# helpers


def ingest(store: Store, path: Path, **kw: Any) -> IngestReport:
    kw.setdefault("symbol", "BTC")
    kw.setdefault("source", "test")
    kw.setdefault("kind", "spot")
    return store.ingest_file(path, **kw)


def assert_one_sentence(message: str, label: str) -> None:
    """One plain sentence that starts with the file name: no line break, one final period."""
    assert message.startswith(f"{label}: "), message
    assert "\n" not in message and "Traceback" not in message, message
    assert message.endswith("."), message
    # no second sentence: a period followed by a space and a capital letter
    assert not re.search(r"\.\s+[A-Z]", message), message


def replace_line(lines: list[str], index: int, **fields: str) -> list[str]:
    """Copy of ``lines`` with fields of line ``index`` replaced (names as in HEADER)."""
    names = HEADER.split(",")
    out = list(lines)
    values = out[index].split(",")
    for k, v in fields.items():
        values[names.index(k)] = v
    out[index] = ",".join(values)
    return out


GOOD = bar_lines(6)  # 2024-01-01 00:00 .. 05:00, hourly; line i is CSV row i + 2


@dataclass(frozen=True)
class Bad:
    """A rejected input: file contents and what the DataError must say."""

    id: str
    content: bytes
    row: int | None
    column: str | None
    value: Any
    message: str  # full expected message after "<file>: "; "{file}" is replaced by the file name
    freq: str | None = None
    name: str = "bad.csv"


def csv_bytes(lines: list[str], header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


BAD_INPUTS: list[Bad] = [
    Bad(
        "missing-close-column",
        csv_bytes([",".join(x.split(",")[:4] + x.split(",")[5:]) for x in GOOD], "timestamp,open,high,low,volume"),
        None, "close", None,
        "missing column close (found 'timestamp', 'open', 'high', 'low', 'volume'); expected timestamp, "
        "open, high, low, close and optionally volume (o, h, l, c, v also accepted).",
    ),
    Bad(
        "missing-timestamp-column",
        csv_bytes([x.split(",", 1)[1] for x in GOOD], "open,high,low,close,volume"),
        None, "ts", None,
        "missing column a timestamp column (timestamp, time, date or open_time) (found 'open', 'high', "
        "'low', 'close', 'volume'); expected timestamp, open, high, low, close and optionally volume "
        "(o, h, l, c, v also accepted).",
    ),
    Bad(
        "non-numeric", csv_bytes(replace_line(GOOD, 2, open="abc")), 4, "open", "abc",
        "row 4, column 'open': value 'abc' is not a number.",
    ),
    Bad(
        "missing-value", csv_bytes(replace_line(GOOD, 3, high="")), 5, "high", None,
        "row 5, column 'high': the value is missing.",
    ),
    Bad(
        "missing-volume-value", csv_bytes(replace_line(GOOD, 0, volume="")), 2, "volume", None,
        "row 2, column 'volume': the value is missing.",
    ),
    Bad(
        "nan", csv_bytes(replace_line(GOOD, 4, close="nan")), 6, "close", "nan",
        "row 6, column 'close': value 'nan' is not a finite number.",
    ),
    Bad(
        "inf", csv_bytes(replace_line(GOOD, 1, high="inf")), 3, "high", "inf",
        "row 3, column 'high': value 'inf' is not a finite number.",
    ),
    Bad(
        "minus-inf-volume", csv_bytes(replace_line(GOOD, 1, volume="-inf")), 3, "volume", "-inf",
        "row 3, column 'volume': value '-inf' is not a finite number.",
    ),
    Bad(
        "negative-price", csv_bytes(replace_line(GOOD, 2, open="-101")), 4, "open", "-101",
        "row 4, column 'open': price -101 is not positive.",
    ),
    Bad(
        "zero-price", csv_bytes(replace_line(GOOD, 5, low="0")), 7, "low", "0",
        "row 7, column 'low': price 0 is not positive.",
    ),
    Bad(
        "negative-volume", csv_bytes(replace_line(GOOD, 5, volume="-3")), 7, "volume", "-3",
        "row 7, column 'volume': volume -3 is negative.",
    ),
    Bad(
        # line 2 is open 102, close 103: high 102.5 is below 103
        "high-below-max-open-close", csv_bytes(replace_line(GOOD, 2, high="102.5")), 4, "high", "102.5",
        "row 4, column 'high': high 102.5 is below max(open, close) = 103.",
    ),
    Bad(
        "low-above-min-open-close", csv_bytes(replace_line(GOOD, 2, low="102.5")), 4, "low", "102.5",
        "row 4, column 'low': low 102.5 is above min(open, close) = 102.",
    ),
    Bad(
        "conflicting-duplicate", csv_bytes([*GOOD, replace_line(GOOD, 1, close="101.5")[1]]), 8, "timestamp",
        "2024-01-01T01:00:00Z",
        "row 8, column 'timestamp': timestamp 2024-01-01T01:00:00Z appears again (first at row 3) with "
        "different prices or volume.",
    ),
    Bad("empty-file", b"", None, None, None, "the file is empty."),
    Bad("blank-file", b"  \n\r\n\n", None, None, None, "the file is empty."),
    Bad("header-only", (HEADER + "\n").encode(), None, None, None, "the file has a header but no data rows."),
    Bad(
        "binary", bytes(range(256)) * 4, None, None, None,
        "is neither a CSV text file nor a Parquet file (it contains binary data).",
    ),
    Bad(
        # the 5th line (row 5) ends in a Latin-1 "é" inside the volume field
        "not-utf8",
        csv_bytes(GOOD[:3]) + GOOD[3].encode() + "\xe9\n".encode("latin-1") + csv_bytes(GOOD[4:], "")[1:],
        5, "volume", "\\xe9",
        "row 5, column 'volume': byte \\xe9 at offset {offset} is not UTF-8 text; save the CSV as UTF-8.",
    ),
    Bad(
        "not-utf8-header", "t\xe9mestamp,open,high,low,close\n".encode("latin-1") + b"x,1,1,1,1\n",
        1, None, "\\xe9", "row 1: byte \\xe9 at offset 1 is not UTF-8 text; save the CSV as UTF-8.",
    ),
    Bad(
        "bad-timestamp", csv_bytes(replace_line(GOOD, 2, timestamp="yesterday")), 4, "timestamp", "yesterday",
        "row 4, column 'timestamp': value 'yesterday' is not a timestamp (expected ISO-8601 such as "
        "2024-01-31T00:00:00Z, or epoch seconds or milliseconds).",
    ),
    Bad(
        "missing-timestamp", csv_bytes(replace_line(GOOD, 4, timestamp="")), 6, "timestamp", None,
        "row 6, column 'timestamp': the timestamp is missing.",
    ),
    Bad(
        "misaligned-spacing", csv_bytes(replace_line(GOOD, 3, timestamp="2024-01-01T03:30:00Z")), 5,
        "timestamp", "2024-01-01T03:30:00Z",
        "row 5, column 'timestamp': timestamp 2024-01-01T03:30:00Z is 1:30:00 after the previous bar, "
        "which does not fit 1h bars.",
    ),
    Bad(
        "given-frequency-contradicts-data", csv_bytes(GOOD), 3, "timestamp", "2024-01-01T01:00:00Z",
        "row 3, column 'timestamp': the bars are 1h apart (most common spacing, first at timestamp "
        "2024-01-01T01:00:00Z) but the frequency given is 1d.",
        freq="1d",
    ),
    Bad(
        "unknown-frequency-spacing", csv_bytes(bar_lines(8, step="15min")), 3, "timestamp", "2024-01-01T00:15:00Z",
        "row 3, column 'timestamp': cannot infer the bar frequency: the most common spacing between bars "
        "is 0:15:00 (first at timestamp 2024-01-01T00:15:00Z); supported are 1h, 4h and 1d.",
    ),
    Bad(
        "unknown-frequency-2h", csv_bytes(bar_lines(5, step="2h")), 3, "timestamp", "2024-01-01T02:00:00Z",
        "row 3, column 'timestamp': cannot infer the bar frequency: the most common spacing between bars "
        "is 2h (first at timestamp 2024-01-01T02:00:00Z); supported are 1h, 4h and 1d.",
    ),
    Bad(
        "single-bar-without-frequency", csv_bytes(GOOD[:1]), None, None, None,
        "a single bar cannot tell its frequency; give it (1h, 4h or 1d).",
    ),
    Bad(
        "epoch-column-with-text", csv_bytes(
            [f"{1_704_067_200 + 3600 * i},1,2,0.5,1.5,3" for i in range(4)] + ["soon,1,2,0.5,1.5,3"]
        ), 6, "timestamp", "soon",
        "row 6, column 'timestamp': value 'soon' is not a timestamp (expected ISO-8601 such as "
        "2024-01-31T00:00:00Z, or epoch seconds or milliseconds).",
    ),
    Bad(
        "row-with-extra-field", csv_bytes([*GOOD[:2], GOOD[2] + ",7", *GOOD[3:]]), 4, None, GOOD[2] + ",7",
        "row 4: has 7 fields but the header has 6 ('" + GOOD[2] + ",7'); every row needs the columns of "
        "the header.",
    ),
]


def expected_message(case: Bad, path: Path) -> str:
    msg = case.message
    if "{offset}" in msg:
        msg = msg.replace("{offset}", str(case.content.index(b"\xe9")))
    return f"{path.name}: {msg}"


# ---------------------------------------------------------------------------------------------------
# rejected inputs: message, attributes, and nothing lost


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.id for c in BAD_INPUTS])
def test_rejected_input_names_file_row_column_value(case: Bad, store: Store, tmp_path: Path) -> None:
    path = tmp_path / case.name
    path.write_bytes(case.content)
    with pytest.raises(DataError) as info:
        ingest(store, path, freq=case.freq)
    err = info.value
    assert str(err) == expected_message(case, path)
    assert_one_sentence(str(err), path.name)
    assert (err.file, err.row, err.column, err.value) == (path.name, case.row, case.column, case.value)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.id for c in BAD_INPUTS])
def test_rejected_input_leaves_file_store_exactly_as_it_was(
    case: Bad,
    tmp_store: Store,
    write_csv: Callable[..., Path],
    snapshot: Callable[[Store], dict[str, Any]],
    tmp_path: Path,
) -> None:
    # the store already holds the same series (overlapping the rejected file) and another one
    ingest(tmp_store, write_csv("old.csv", bar_lines(3)))
    ingest(tmp_store, write_csv("eth.csv", bar_lines(4, step="1D")), symbol="ETH")
    before = snapshot(tmp_store)
    assert before["counts"]["prices"] == 7 and before["counts"]["ingest_log"] == 2
    path = tmp_path / case.name
    path.write_bytes(case.content)
    with pytest.raises(DataError):
        ingest(tmp_store, path, freq=case.freq)
    assert snapshot(tmp_store) == before
    # and on disk: reopen the file
    db = Path(tmp_store.path)
    tmp_store.close()
    with Store(db) as again:
        assert snapshot(again) == before


def test_row_numbers_count_physical_lines_with_crlf(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(csv_bytes(replace_line(GOOD, 4, close="x")).replace(b"\n", b"\r\n"))
    with pytest.raises(DataError) as info:
        ingest(store, path)
    assert info.value.row == 6 and info.value.value == "x"


def test_error_in_a_large_file_names_the_right_row(tmp_path: Path, store: Store) -> None:
    """Row numbers stay right past the reader's first chunks (the raw value is read again by position)."""
    n = 30_000
    lines = bar_lines(n)
    lines[25_000] = replace_line(lines, 25_000, low="99999")[25_000]
    path = tmp_path / "big.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    with pytest.raises(DataError) as info:
        ingest(store, path)
    err = info.value
    assert (err.row, err.column, err.value) == (25_002, "low", "99999")
    assert str(err) == "big.csv: row 25002, column 'low': low 99999 is above min(open, close) = 25100."


def test_not_utf8_far_into_a_large_file(tmp_path: Path, store: Store) -> None:
    """A bad byte after the first 64 KiB is found by the reader and still named by row and column."""
    lines = bar_lines(3_000)
    body = ("\n".join([HEADER, *lines[:2_500]]) + "\n").encode()
    bad_line = lines[2_500].encode()
    bad_line = bad_line.replace(b",", b"\xff,", 1)  # a bad byte at the end of the timestamp field
    data = body + bad_line + b"\n" + ("\n".join(lines[2_501:]) + "\n").encode()
    assert len(body) > 65_536
    path = tmp_path / "late.csv"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        ingest(store, path)
    err = info.value
    assert (err.row, err.column, err.value) == (2_502, "timestamp", "\\xff")
    offset = data.index(b"\xff")
    assert f"at offset {offset} is not UTF-8 text" in str(err)


def test_multibyte_character_at_the_sniff_boundary_is_fine(tmp_path: Path, store: Store) -> None:
    """A UTF-8 character cut by the 64 KiB sniffing window is not mistaken for bad text."""
    head = (HEADER + ",note\n").encode()
    lines = bar_lines(3_000)
    body = b""
    i = 0
    while len(head) + len(body) < 65_000:
        body += (lines[i] + ",ok\n").encode()
        i += 1
    prefix = (lines[i] + ",").encode()
    pad = 65_535 - len(head) - len(body) - len(prefix)  # the euro sign takes bytes 65,535 to 65,537
    tail = "".join(x + ",ok\n" for x in lines[i + 1 :]).encode()
    data = head + body + prefix + ("a" * pad + "\u20ac").encode() + b"\n" + tail
    assert data[65_535:65_538] == "\u20ac".encode()
    path = tmp_path / "euro.csv"
    path.write_bytes(data)
    report = ingest(store, path)
    assert report.rows_added == 3_000


def test_parquet_rows_count_from_one(tmp_path: Path, store: Store) -> None:
    frame = make_frame(6, freq="4h")
    frame.loc[3, "high"] = 1.0
    path = tmp_path / "bad.parquet"
    frame.rename(columns={"ts": "timestamp"}).to_parquet(path)
    with pytest.raises(DataError) as info:
        ingest(store, path)
    err = info.value
    assert (err.file, err.row, err.column, err.value) == ("bad.parquet", 4, "high", "1.0")
    assert str(err) == "bad.parquet: row 4, column 'high': high 1.0 is below max(open, close) = 104."


def test_parquet_nan_value_is_not_finite(tmp_path: Path, store: Store) -> None:
    ts = pa.array(pd.date_range("2024-01-01", periods=3, freq="1D", tz="UTC"))
    table = pa.table({
        "timestamp": ts,
        "open": pa.array([1.0, float("nan"), 1.0]),  # a real NaN, not a null
        "high": [2.0, 2.0, 2.0], "low": [0.5, 0.5, 0.5], "close": [1.0, 1.0, 1.0],
    })
    path = tmp_path / "nan.parquet"
    pq.write_table(table, path)
    with pytest.raises(DataError) as info:
        ingest(store, path)
    assert (info.value.row, info.value.column, info.value.value) == (2, "open", "nan")
    assert str(info.value) == "nan.parquet: row 2, column 'open': value 'nan' is not a finite number."


def test_frame_rows_count_from_one(store: Store) -> None:
    frame = make_frame(5)
    frame.loc[2, "close"] = -1.0
    with pytest.raises(DataError) as info:
        store.ingest_frame(frame, symbol="BTC", source="test", kind="spot", origin="unit")
    err = info.value
    assert (err.file, err.row, err.column, err.value) == ("unit BTC", 3, "close", "-1.0")
    assert str(err) == "unit BTC: row 3, column 'close': price -1.0 is not positive."


def test_frame_with_unparsable_timestamp_names_the_value(store: Store) -> None:
    frame = make_frame(4).astype({"ts": object})
    frame.loc[2, "ts"] = "not a date"
    with pytest.raises(DataError) as info:
        store.ingest_frame(frame, symbol="BTC", source="test", kind="spot", origin="unit")
    assert (info.value.row, info.value.column, info.value.value) == (3, "ts", "not a date")
    assert "value 'not a date' is not a timestamp" in str(info.value)


def test_empty_frame_is_rejected(store: Store) -> None:
    with pytest.raises(DataError, match=r"^unit BTC: no bars to store\.$"):
        store.ingest_frame(make_frame(0), symbol="BTC", source="test", kind="spot", origin="unit")


def test_missing_and_folder_paths(tmp_path: Path, store: Store) -> None:
    with pytest.raises(DataError, match="no such file"):
        ingest(store, tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder, not a file"):
        ingest(store, tmp_path)


def test_unreadable_parquet_is_a_data_error(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"garbage" * 10)
    with pytest.raises(DataError) as info:
        ingest(store, path)
    assert str(info.value).startswith("broken.parquet: could not be read as Parquet: ")
    assert info.value.file == "broken.parquet"


# ---------------------------------------------------------------------------------------------------
# accepted variants


def stored(store: Store, report: Any) -> pd.DataFrame:
    return store.load_prices(report.series.series_id)


def utc(*args: int) -> pd.Timestamp:
    return pd.Timestamp(datetime(*args), tz="UTC")  # type: ignore[arg-type]


EXPECTED_1H = [utc(2024, 1, 1, h) for h in range(4)]


@pytest.mark.parametrize(
    ("header", "stamps"),
    [
        ("timestamp", [f"2024-01-01T{h:02d}:00:00Z" for h in range(4)]),
        ("timestamp", [f"2024-01-01T{h + 2:02d}:00:00+02:00" for h in range(4)]),
        ("timestamp", [f"2023-12-31T{h + 19:02d}:00:00-05:00" for h in range(4)]),
        ("timestamp", [f"2024-01-01 {h:02d}:00:00" for h in range(4)]),  # naive = UTC
        ("timestamp", [f"2024-01-01T{h:02d}:00:00.000Z" for h in range(4)]),
        ("time", [str(1_704_067_200 + 3_600 * h) for h in range(4)]),  # epoch seconds
        ("open_time", [str(1_704_067_200_000 + 3_600_000 * h) for h in range(4)]),  # epoch milliseconds
        ("date", [f"{1_704_067_200 + 3_600 * h}.0" for h in range(4)]),  # epoch seconds as decimals
    ],
    ids=["iso-z", "offset+02", "offset-05", "naive", "millis-iso", "epoch-s", "epoch-ms", "epoch-float"],
)
def test_timestamp_variants_are_stored_as_utc(
    header: str, stamps: list[str], write_csv: Callable[..., Path], store: Store
) -> None:
    lines = [f"{t},100,102,99,101,5" for t in stamps]
    report = ingest(store, write_csv("v.csv", lines, header=f"{header},open,high,low,close,volume"))
    assert report.series.freq == "1h"
    frame = stored(store, report)
    assert list(frame.index) == EXPECTED_1H
    assert frame.iloc[0].to_dict() == {"open": 100.0, "high": 102.0, "low": 99.0, "close": 101.0, "volume": 5.0}


def test_date_only_timestamps_are_daily(write_csv: Callable[..., Path], store: Store) -> None:
    lines = [f"2024-02-{d:02d},1,2,0.5,1.5,3" for d in range(27, 30)] + ["2024-03-01,1,2,0.5,1.5,3"]
    report = ingest(store, write_csv("d.csv", lines, header="date,open,high,low,close,volume"))
    assert report.series.freq == "1d"
    assert list(stored(store, report).index) == [utc(2024, 2, 27), utc(2024, 2, 28), utc(2024, 2, 29), utc(2024, 3, 1)]


def test_dst_changing_offsets_convert_to_a_regular_utc_grid(write_csv: Callable[..., Path], store: Store) -> None:
    """Local times whose offset changes (+02:00 -> +03:00, as in the UNI/AAVE sources) give regular UTC bars."""
    utc_stamps = pd.date_range("2024-03-31T00:00Z", periods=4, freq="1h")
    local = [t.tz_convert("Europe/Athens").isoformat() for t in utc_stamps]
    assert local[0].endswith("+02:00") and local[-1].endswith("+03:00")
    report = ingest(store, write_csv("dst.csv", [f"{t},1,2,0.5,1.5,3" for t in local]))
    assert list(stored(store, report).index) == list(utc_stamps)
    assert report.gaps == ()


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,open,high,low,close,volume",
        "Time,O,H,L,C,V",
        " Open Time , Open , High , Low , Close , Volume ",
        "DATE,OPEN,HIGH,LOW,CLOSE,VOL",
        "open-time,o,h,l,c,v",
        "date,open,high,low,close,volume,notes",  # extra columns are ignored
    ],
)
def test_column_name_variants(header: str, write_csv: Callable[..., Path], store: Store) -> None:
    extra = ",x" if header.endswith("notes") else ""
    lines = [f"2024-01-01T{h:02d}:00:00Z,100,102,99,101,5{extra}" for h in range(4)]
    report = ingest(store, write_csv("cols.csv", lines, header=header))
    frame = stored(store, report)
    assert list(frame.index) == EXPECTED_1H
    assert frame["volume"].tolist() == [5.0] * 4
    assert frame["high"].tolist() == [102.0] * 4


def test_volume_is_optional(write_csv: Callable[..., Path], store: Store) -> None:
    lines = [f"2024-01-0{d}T00:00:00Z,100,102,99,101" for d in range(1, 5)]
    report = ingest(store, write_csv("nov.csv", lines, header="timestamp,open,high,low,close"))
    frame = stored(store, report)
    assert len(frame) == 4 and frame["volume"].isna().all()
    assert frame["close"].tolist() == [101.0] * 4


def test_semicolon_separated_csv(write_csv: Callable[..., Path], store: Store) -> None:
    lines = [x.replace(",", ";") for x in GOOD]
    report = ingest(store, write_csv("semi.csv", lines, header=HEADER.replace(",", ";")))
    assert report.rows_added == 6


def test_byte_order_mark_and_crlf(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_bytes(GOOD).replace(b"\n", b"\r\n"))
    report = ingest(store, path)
    assert report.rows_added == 6
    assert stored(store, report).index[0] == utc(2024, 1, 1, 0)


@pytest.mark.parametrize("tz", ["UTC", None, "Europe/Berlin"])
def test_parquet_input(tz: str | None, tmp_path: Path, store: Store) -> None:
    ts = pd.date_range("2024-01-01", periods=5, freq="4h", tz="UTC")
    frame = make_frame(5, freq="4h").rename(columns={"ts": "open_time"})
    frame["open_time"] = ts.tz_convert(tz) if tz else ts.tz_localize(None)
    path = tmp_path / "bars.parquet"
    frame.to_parquet(path)
    report = ingest(store, path)
    assert report.series.freq == "4h" and report.rows_added == 5 and report.file_hash
    got = stored(store, report)
    assert list(got.index) == list(ts)
    assert got["open"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]


def test_parquet_epoch_milliseconds(tmp_path: Path, store: Store) -> None:
    ms = 1_704_067_200_000 + 86_400_000 * np.arange(3)
    table = pa.table({"t": ms, "o": [1.0] * 3, "h": [2.0] * 3, "l": [0.5] * 3, "c": [1.5] * 3})
    path = tmp_path / "ms.parquet"
    pq.write_table(table, path)
    report = ingest(store, path)
    assert report.series.freq == "1d"
    assert list(stored(store, report).index) == [utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 3)]


def test_unsorted_input_is_sorted(write_csv: Callable[..., Path], store: Store) -> None:
    shuffled = [GOOD[i] for i in (3, 0, 5, 1, 4, 2)]
    report = ingest(store, write_csv("shuffled.csv", shuffled))
    frame = stored(store, report)
    assert frame.index.is_monotonic_increasing
    assert frame["open"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    other = Store.memory()
    sorted_report = ingest(other, write_csv("sorted.csv", GOOD))
    assert store.fingerprint(report.series.series_id) == other.fingerprint(sorted_report.series.series_id)


def test_error_row_in_unsorted_input_is_the_file_row(write_csv: Callable[..., Path], store: Store) -> None:
    """Misaligned spacing found after sorting still names the row in the file."""
    lines = [GOOD[i] for i in (3, 0, 5, 1, 4, 2)]
    lines[2] = replace_line(lines, 2, timestamp="2024-01-01T05:30:00Z")[2]  # row 4 of the file
    with pytest.raises(DataError) as info:
        ingest(store, write_csv("u.csv", lines))
    assert (info.value.row, info.value.value) == (4, "2024-01-01T05:30:00Z")
    assert "is 1:30:00 after the previous bar" in str(info.value)


def test_identical_duplicates_are_dropped_and_counted(write_csv: Callable[..., Path], store: Store) -> None:
    lines = [*GOOD, GOOD[2], GOOD[0], GOOD[2]]
    report = ingest(store, write_csv("dups.csv", lines))
    assert (report.rows_read, report.duplicates_dropped, report.rows_added) == (9, 3, 6)
    assert "3 duplicate rows dropped" in report.summary()
    assert len(stored(store, report)) == 6
    log = store.ingest_log()
    assert int(log.loc[0, "duplicates_dropped"]) == 3


def test_gaps_are_reported_not_fatal(write_csv: Callable[..., Path], store: Store) -> None:
    lines = bar_lines(12)
    kept = lines[:3] + lines[5:9] + lines[10:]  # drop 03:00, 04:00 and 09:00
    report = ingest(store, write_csv("gaps.csv", kept))
    assert report.rows_added == 9
    assert report.gaps == (
        Gap(after=datetime(2024, 1, 1, 2), before=datetime(2024, 1, 1, 5), missing_bars=2),
        Gap(after=datetime(2024, 1, 1, 8), before=datetime(2024, 1, 1, 10), missing_bars=1),
    )
    assert report.missing_bars == 3
    assert report.summary().endswith("2 gaps (3 missing bars).")
    log = store.ingest_log()
    assert (int(log.loc[0, "gaps"]), int(log.loc[0, "missing_bars"])) == (2, 3)


@pytest.mark.parametrize(("step", "freq"), [("1h", "1h"), ("4h", "4h"), ("1D", "1d")])
def test_frequency_is_inferred(step: str, freq: str, write_csv: Callable[..., Path], store: Store) -> None:
    report = ingest(store, write_csv("f.csv", bar_lines(5, step=step)))
    assert report.series.freq == freq


def test_frequency_inferred_from_the_most_common_spacing_despite_gaps(
    write_csv: Callable[..., Path], store: Store
) -> None:
    lines = bar_lines(20, step="4h")
    kept = lines[:2] + lines[4:6] + lines[8:]  # gaps of 12h twice, most spacings still 4h
    report = ingest(store, write_csv("g.csv", kept))
    assert report.series.freq == "4h" and len(report.gaps) == 2


def test_frequency_given(write_csv: Callable[..., Path], store: Store) -> None:
    report = ingest(store, write_csv("given.csv", bar_lines(5, step="1D")), freq="1D")
    assert report.series.freq == "1d"
    # a single bar needs it
    one = ingest(store, write_csv("one.csv", bar_lines(1)), freq="4h", symbol="ONE")
    assert (one.series.freq, one.rows_added) == ("4h", 1)
    # two bars with a gap: the spacing (3h) alone could not tell, the given frequency can
    two = ingest(store, write_csv("two.csv", [GOOD[0], GOOD[3]]), freq="1h", symbol="TWO")
    assert (two.series.freq, two.missing_bars) == ("1h", 2)


def test_invalid_frequency_argument(write_csv: Callable[..., Path], store: Store) -> None:
    with pytest.raises(ValueError, match="frequency must be one of 1h, 4h, 1d"):
        ingest(store, write_csv("x.csv", GOOD), freq="5m")


def test_values_are_stored_exactly(write_csv: Callable[..., Path], store: Store) -> None:
    lines = [
        "2024-01-01T00:00:00Z,0.000012345678,0.0000124,0.0000121,0.000012399,123456789.123456",
        "2024-01-02T00:00:00Z,65000.12,65500.5,64000.01,65432.1,0",
    ]
    report = ingest(store, write_csv("exact.csv", lines))
    frame = stored(store, report)
    assert frame.iloc[0].tolist() == [0.000012345678, 0.0000124, 0.0000121, 0.000012399, 123456789.123456]
    assert frame.iloc[1].tolist() == [65000.12, 65500.5, 64000.01, 65432.1, 0.0]


def test_no_staging_tables_are_left_behind(
    write_csv: Callable[..., Path], store: Store, snapshot: Callable[[Store], dict[str, Any]]
) -> None:
    ingest(store, write_csv("ok.csv", GOOD))
    with pytest.raises(DataError):
        ingest(store, write_csv("bad.csv", replace_line(GOOD, 1, open="x")))
    assert snapshot(store)["temp_tables"] == []
    rows = store.cursor().execute(
        "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND view_name LIKE 'stg_%'"
    ).fetchone()
    assert rows == (0,)


def test_row_with_missing_fields_far_into_a_large_file(tmp_path: Path, store: Store) -> None:
    """A short row after the reader's sniffing sample is still named by its row."""
    lines = bar_lines(30_000)
    short = lines[27_000].rsplit(",", 2)[0]
    lines[27_000] = short
    path = tmp_path / "short.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    with pytest.raises(DataError) as info:
        ingest(store, path)
    err = info.value
    assert (err.file, err.row, err.column, err.value) == ("short.csv", 27_002, None, short)
    assert str(err) == (
        f"short.csv: row 27002: has 4 fields but the header has 6 ('{short}'); every row needs the columns "
        "of the header."
    )

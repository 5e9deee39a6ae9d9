"""Bad input (issue 12, item 8): implausible bar dates, absurd prices and volumes, out-of-range options and an
unusable ``--db`` are refused with one sentence naming what is wrong (file, row, column and value, or the
option), exit code 2 on the command line, and the store exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import HEADER, bar_lines, cli_fails, make_frame, run_cli

from riskparams.exceptions import DataError
from riskparams.ingest import ingest_frame
from riskparams.store import Store

Snapshot = Callable[[Store], dict[str, Any]]

GOOD = bar_lines(2, start="2024-01-01T00:00:00Z", step="1D")  # rows 2 and 3 of a CSV file; the bad row is 4


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store file holding one valid daily series, BTC."""
    path = tmp_path / "store.duckdb"
    with Store(path) as s:
        ingest_frame(s, make_frame(30), symbol="BTC", source="unit", origin="test")
    return path


def contents(db: Path, snapshot: Snapshot) -> dict[str, Any]:
    with Store(db) as s:
        return snapshot(s)


def csv_with(tmp_path: Path, bad_line: str, name: str = "eth.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *GOOD, bad_line]) + "\n", encoding="utf-8")
    return path


# -- bar dates ---------------------------------------------------------------------------------
EARLY = "is before 2009-01-03, the Bitcoin genesis block: no crypto market has older bars."
LATE = "is more than 1 day in the future."


@pytest.mark.parametrize(
    ("stamp", "shown", "reason"),
    [
        ("1700-01-01", "'1700-01-01'", EARLY),
        ("2009-01-02T23:00:00Z", "'2009-01-02T23:00:00Z'", EARLY),
        ("2300-01-01", "'2300-01-01'", LATE),
        ("9999-12-31", "'9999-12-31'", LATE),
    ],
)
def test_ingest_refuses_implausible_bar_dates(
    stamp: str, shown: str, reason: str, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    snapshot: Snapshot,
) -> None:
    before = contents(db, snapshot)
    path = csv_with(tmp_path, f"{stamp},100,110,95,105,10")
    line = cli_fails(capsys, "--db", str(db), "ingest", str(path), "--symbol", "ETH")
    assert line == f"riskparams: error: eth.csv: row 4, column 'timestamp': value {shown} {reason}"
    assert contents(db, snapshot) == before


def test_an_epoch_timestamp_out_of_range_is_named_with_its_date(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: Snapshot
) -> None:
    before = contents(db, snapshot)
    path = tmp_path / "epoch.csv"
    path.write_text(f"{HEADER}\n1704067200,100,110,95,105,10\n32503680000,100,110,95,105,10\n", encoding="utf-8")
    line = cli_fails(capsys, "--db", str(db), "ingest", str(path), "--symbol", "ETH")
    assert line == f"riskparams: error: epoch.csv: row 3, column 'timestamp': value '32503680000' (3000-01-01) {LATE}"
    assert contents(db, snapshot) == before


@pytest.mark.parametrize(("start", "reason"), [("1700-01-01", EARLY), ("2300-01-01", LATE), ("9999-01-01", LATE)])
def test_frames_with_implausible_dates_are_refused(
    start: str, reason: str, db: Path, snapshot: Snapshot
) -> None:
    before = contents(db, snapshot)
    with Store(db) as s, pytest.raises(DataError) as info:
        ingest_frame(s, make_frame(3, start=start), symbol="ETH", source="unit", origin="test")
    err = info.value
    assert str(err) == f"test ETH: row 1, column 'ts': value '{start} 00:00:00' {reason}"
    assert (err.file, err.row, err.column, err.value) == ("test ETH", 1, "ts", f"{start} 00:00:00")
    assert contents(db, snapshot) == before


# -- prices and volumes ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("2024-01-03,1e308,1e308,100,1e308,10", "open", "price 1e308 is above 1e12 quote units, the largest accepted price."),
        ("2024-01-03,100,1.5e12,95,105,10", "high", "price 1.5e12 is above 1e12 quote units, the largest accepted price."),
        ("2024-01-03,100,inf,95,105,10", "high", "value 'inf' is not a finite number."),
        ("2024-01-03,100,110,-inf,105,10", "low", "value '-inf' is not a finite number."),
        (
            "2024-01-03,1e-13,1e-13,1e-13,1e-13,10", "open",
            "price 1e-13 is below 1e-12 quote units, the smallest accepted price (quote the asset per thousand or "
            "million tokens).",
        ),
        ("2024-01-03,100,110,95,105,1e19", "volume",
         "volume 1e19 is above 1e18 base-asset units, the largest accepted volume."),
        ("2024-01-03,100,110,95,105,1e400", "volume", "value '1e400' is not a finite number."),
    ],
)
def test_ingest_refuses_absurd_prices_and_volumes(
    line: str, column: str, message: str, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    snapshot: Snapshot,
) -> None:
    before = contents(db, snapshot)
    path = csv_with(tmp_path, line)
    got = cli_fails(capsys, "--db", str(db), "ingest", str(path), "--symbol", "ETH")
    assert got == f"riskparams: error: eth.csv: row 4, column '{column}': {message}"
    assert contents(db, snapshot) == before


def test_a_frame_with_an_absurd_price_is_refused(db: Path, snapshot: Snapshot) -> None:
    before = contents(db, snapshot)
    frame = make_frame(3)
    frame.loc[1, ["high", "close"]] = 1e308
    with Store(db) as s, pytest.raises(DataError) as info:
        ingest_frame(s, frame, symbol="ETH", source="unit", origin="test")
    assert str(info.value) == ("test ETH: row 2, column 'high': price 1e+308 is above 1e12 quote units, the largest "
                               "accepted price.")
    assert (info.value.row, info.value.column) == (2, "high")
    assert contents(db, snapshot) == before


def test_the_bounds_themselves_are_accepted(tmp_store: Store) -> None:
    frame = make_frame(3, start="2009-01-03")
    frame.loc[0, ["open", "high", "low", "close"]] = [1e-12, 1e-12, 1e-12, 1e-12]
    frame.loc[1, ["open", "high", "low", "close", "volume"]] = [1e12, 1e12, 1e12, 1e12, 1e18]
    report = ingest_frame(tmp_store, frame, symbol="EDGE", source="unit", origin="test")
    assert report.rows_added == 3


def test_fit_and_sensitivity_on_extreme_but_accepted_prices_give_results_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # hourly closes anywhere between the smallest and the largest accepted price: log returns of +-55 a bar
    rng = np.random.default_rng(1)
    close = np.exp(rng.uniform(np.log(1e-12), np.log(1e12), 600))
    frame = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=600, freq="h", tz="UTC"), "open": close,
                          "high": close, "low": close, "close": close, "volume": 1e3})
    db = tmp_path / "wild.duckdb"
    with Store(db) as s:
        ingest_frame(s, frame, symbol="WILD", source="unit", origin="test")
    policy = tmp_path / "policy.toml"
    policy.write_text("[model]\nn_sims = 200\n", encoding="utf-8")
    for args in (["fit", "WILD", "--json"], ["sensitivity", "WILD", "--horizons", "1,720", "--policy", str(policy)]):
        code, out, err = run_cli(capsys, "--db", str(db), *args)
        assert (code, err) == (0, ""), args
        assert out.strip()


# -- command-line options ----------------------------------------------------------------------
SQL = "'; DROP TABLE prices; --"
STALE = "a whole number from 2 to 1,000,000"
NAME_RULE = "use 1-40 letters, digits, spaces and . _ : - starting with a letter or digit."


def refused(command: str, option: str, expected: str, got: str) -> str:
    """The argparse refusal of ``option``'s value ``got``."""
    return f"argument {option}: expected {expected}, got {got!r} (see `riskparams {command} --help`)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quality", "BTC", "--stale-bars", "0"], refused("quality", "--stale-bars", STALE, "0")),
        (["quality", "BTC", "--stale-bars", "-1"], refused("quality", "--stale-bars", STALE, "-1")),
        (["quality", "BTC", "--outlier-z", "inf"], refused("quality", "--outlier-z", "a finite positive number", "inf")),
        (["proposals", "--limit", "-1"], refused("proposals", "--limit", "a whole number from 1 to 1,000,000", "-1")),
        (["proposals", "--limit", "9" * 23],
         refused("proposals", "--limit", "a whole number from 1 to 1,000,000", "9" * 23)),
        (["demo", "--seed", "-1"], refused("demo", "--seed", "a whole number from 0 to 4,294,967,295", "-1")),
        (["fit", "BTC", "--min-history", SQL], refused("fit", "--min-history", "a whole number", SQL)),
        (["fit", "BTC", "--horizon-hours", "9000"], "horizon_hours must be a number in (0, 8760] (at most a year), got "
         "9000.0."),
        (["fit", "BTC", "--as-of", "-1"], "as-of date '-1' is not a date between the years 1 and 9999."),
        (["fit", "BTC", "--as-of", "<script>alert(1)</script>"],
         "as-of date '<script>alert(1)</script>' is not a date (use e.g. 2024-01-31 or 2024-01-31T12:00Z)."),
        (["backtest", "--quiet", "--start", "-1"], "start '-1' is not a date between the years 1 and 9999."),
        (["backtest", "--quiet", "--end", "nan"], "end 'nan' is not a date (use e.g. 2024-01-31 or 2024-01-31T12:00Z)."),
        (["backtest", "--quiet", "--cadence", "1e300"],
         "cadence_days must be a number > 0 and <= 3650 (ten years), got 1e+300."),
        (["backtest", "--quiet", "--refit-every", "99999999999999999999999"],
         "refit_every must be an integer >= 1 and <= 1,000,000, got 99999999999999999999999."),
        (["backtest", "--quiet", "--stress", "<script>x</script>=2022-01-01..2022-02-01"],
         f"stress window name '<script>x</script>' is not valid: {NAME_RULE}"),
        (["backtest", "--quiet", "--stress", "| x |=2022-01-01..2022-02-01"],
         f"stress window name '| x |' is not valid: {NAME_RULE}"),
        (["fetch", "--quiet", "--symbol", "BTC/USDT", "--since", "notadate"],
         "since 'notadate' is not a date (use e.g. 2024-01-31 or 2024-01-31T12:00Z)."),
        (["fetch", "--quiet", "--symbol", "BTC/USDT", "--since", "2300-01-01"],
         "since '2300-01-01' is in the future: no closed bar opens after now."),
        (["export", "abcdef", "-f", "dydx", "--dydx-first-id", "-1"],
         refused("export", "--dydx-first-id", "a whole number from 0 to 4,294,967,295", "-1")),
    ],
)
def test_cli_refuses_bad_option_values(
    args: list[str], message: str, db: Path, capsys: pytest.CaptureFixture[str], snapshot: Snapshot
) -> None:
    before = contents(db, snapshot)
    assert cli_fails(capsys, "--db", str(db), *args) == f"riskparams: error: {message}"
    assert contents(db, snapshot) == before


# -- the store file ----------------------------------------------------------------------------
def test_db_below_a_regular_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "note.txt"
    note.write_text("a file, not a folder\n", encoding="utf-8")
    target = note / "sub" / "x.duckdb"
    line = cli_fails(capsys, "--db", str(target), "init")
    assert line == f"riskparams: error: cannot create the folder of the store {target}: Not a directory."
    assert note.read_text(encoding="utf-8") == "a file, not a folder\n"


def test_db_that_is_a_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = cli_fails(capsys, "--db", str(tmp_path), "init")
    assert line == (f"riskparams: error: cannot open the store {tmp_path}: it is a folder; give a file such as "
                    f"{tmp_path / 'riskparams.duckdb'} with --db.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["assets"], ["init"]])
def test_db_that_is_not_a_duckdb_file_is_refused(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # DuckDB would open a CSV file as a throw-away database: every write would report success and be lost
    prices = tmp_path / "prices.csv"
    prices.write_text("\n".join([HEADER, *GOOD]) + "\n", encoding="utf-8")
    original = prices.read_bytes()
    line = cli_fails(capsys, "--db", str(prices), *command)
    assert line == (f"riskparams: error: cannot open the store {prices}: the file exists but is not a DuckDB store; "
                    "choose another file with --db.")
    assert prices.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prices.csv"]

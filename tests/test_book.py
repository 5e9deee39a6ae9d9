"""Positions input (riskparams.book): reading, validation of hostile files, the demo book."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskparams.book import Book, LendingBook, PerpPosition, load_positions, parse_positions
from riskparams.book import positions as bk
from riskparams.exceptions import DataError, SpecError
from riskparams.ingest.demo_book import demo_book

HEADER = "account,symbol,side,notional,equity,margin_mode"
GOOD = [
    "0xA1,btc,long,250000,25000,isolated",
    "0xB2,BTC,long,400000,60000,cross",
    "0xB2,eth,Short,380000,60000,CROSS",
]


def write(tmp_path: Path, lines: list[str], name: str = "book.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_reads_a_perp_book(tmp_path: Path) -> None:
    b = load_positions(write(tmp_path, [HEADER, *GOOD]), "perp")
    assert isinstance(b, Book) and len(b) == 3
    assert b.symbol_ids == ("BTC", "ETH") and b.account_ids == ("0xA1", "0xB2")
    assert b.sides.tolist() == [1, 1, -1]
    assert b.notionals.tolist() == [250000.0, 400000.0, 380000.0]
    assert b.cross.tolist() == [False, True, True]
    assert b.rows.tolist() == [2, 3, 4]
    assert [p.side for p in b.positions()] == ["long", "long", "short"]
    with pytest.raises(ValueError):
        b.notionals[0] = 1.0  # read-only arrays


def test_columns_in_any_order_and_round_trip(tmp_path: Path) -> None:
    b = load_positions(write(tmp_path, ["margin_mode,equity,notional,side,symbol,account",
                                        "isolated,100,1000,short,SOL,x1"]), "perp")
    assert isinstance(b, Book)
    again = load_positions(b.write_csv(tmp_path / "again.csv"), "perp")
    assert isinstance(again, Book) and again.to_rows() == b.to_rows()


def test_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({"account": ["a", "b"], "symbol": ["BTC", "ETH"], "side": ["long", "short"],
                          "notional": [1e5, 2e5], "equity": [1e4, 3e4], "margin_mode": ["isolated", "isolated"]})
    p = tmp_path / "book.parquet"
    frame.to_parquet(p)
    b = load_positions(p, "perp")
    assert isinstance(b, Book) and b.notionals.tolist() == [1e5, 2e5]
    frame.assign(account=[7, 8]).to_parquet(p)  # numeric account ids
    numeric = load_positions(p, "perp")
    assert isinstance(numeric, Book) and numeric.account_ids == ("7", "8")
    frame.assign(notional=[1e5, float("nan")]).to_parquet(p)
    with pytest.raises(DataError, match=r"^book.parquet: row 2, column 'notional': value nan is not a finite number\.$"):
        load_positions(p, "perp")


def test_lending_book(tmp_path: Path) -> None:
    p = write(tmp_path, ["account,collateral_asset,collateral_amount,debt_asset,debt_amount",
                         "u1,WETH,10,USDC,15000", "u2,wbtc,1.5,USDC,0"])
    b = load_positions(p, "lending")
    assert isinstance(b, LendingBook) and len(b) == 2
    assert b.asset_ids == ("USDC", "WBTC", "WETH")
    assert [b.asset_ids[i] for i in b.collateral_assets] == ["WETH", "WBTC"]
    with pytest.raises(DataError, match=r"row 3, column 'collateral_amount': value '-1' must be in"):
        load_positions(write(tmp_path, ["account,collateral_asset,collateral_amount,debt_asset,debt_amount",
                                        "u1,WETH,10,USDC,15000", "u2,WBTC,-1,USDC,0"]), "lending")


@pytest.mark.parametrize(("line", "message"), [
    ("=cmd|' /C calc'!A0,BTC,long,1,1,isolated",
     "row 2, column 'account': value \"=cmd|' /C calc'!A0\" is not an account id"),
    ("<script>alert(1)</script>,BTC,long,1,1,isolated", "row 2, column 'account': value '<script>alert(1)</script>'"),
    ("a,<b>BTC</b>,long,1,1,isolated", "row 2, column 'symbol': value '<b>BTC</b>' is not a valid symbol"),
    ("a,+BTC,long,1,1,isolated", "row 2, column 'symbol': value '+BTC' is not a valid symbol"),
    ("a,BTC,sideways,1,1,isolated", "row 2, column 'side': value 'sideways' must be 'long' or 'short'"),
    ("a,BTC,long,-5,1,isolated", "row 2, column 'notional': value '-5' must be a notional in (0, 1e+12]"),
    ("a,BTC,long,0,1,isolated", "row 2, column 'notional': value '0' must be a notional"),
    ("a,BTC,long,1e300,1,isolated", "row 2, column 'notional': value '1e300' must be a notional"),
    ("a,BTC,long,nan,1,isolated", "row 2, column 'notional': value 'nan' is not a finite number"),
    ("a,BTC,long,inf,1,isolated", "row 2, column 'notional': value 'inf' is not a finite number"),
    ("a,BTC,long,10,-inf,isolated", "row 2, column 'equity': value '-inf' is not a finite number"),
    ("a,BTC,long,10,1e13,isolated", "row 2, column 'equity': value '1e13' is larger than 1e+12"),
    ("a,BTC,long,ten,1,isolated", "row 2, column 'notional': value 'ten' is not a number"),
    ("a,BTC,long,,1,isolated", "row 2, column 'notional': value empty is missing"),
    ("a,BTC,long,10,1,portfolio", "row 2, column 'margin_mode': value 'portfolio' must be 'isolated' or 'cross'"),
    ("a" * 65 + ",BTC,long,10,1,isolated", "row 2, column 'account': value 'aaaa"),
])
def test_hostile_cells_are_refused_in_one_sentence(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(DataError) as info:
        load_positions(write(tmp_path, [HEADER, line]), "perp")
    text = str(info.value)
    assert text.startswith("book.csv: ") and message in text and text.endswith(".") and "\n" not in text
    assert info.value.file == "book.csv" and info.value.row == 2


def test_error_names_the_right_row(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_positions(write(tmp_path, [HEADER, *GOOD, "c,BTC,short,1,1,isolated", "d,BTC,long,-1,1,isolated"]),
                       "perp")
    assert info.value.row == 6 and info.value.column == "notional" and info.value.value == "-1"


def test_cross_account_has_one_equity(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^book.csv: row 4, column 'equity': value 61000.0 differs from the equity "
                                        r"60000 on an earlier cross row of account 0xB2: a cross account has one "
                                        r"equity\.$"):
        load_positions(write(tmp_path, [HEADER, GOOD[0], GOOD[1], "0xB2,ETH,short,380000,61000,cross"]), "perp")


@pytest.mark.parametrize(("lines", "message"), [
    ([], "the file is empty"),
    ([HEADER], "no positions after the header"),
    (["account,symbol,side,notional,equity", "a,BTC,long,1,1"], "the required column 'margin_mode' is missing"),
    ([HEADER + ",extra", "a,BTC,long,1,1,isolated,x"], "unknown column 'extra'"),
    ([HEADER + ",side", "a,BTC,long,1,1,isolated,long"], "column 'side' appears twice"),
    ([HEADER, "a,BTC,long,1,1"], "row 2 has 5 cells, the header has 6"),
])
def test_bad_layout(tmp_path: Path, lines: list[str], message: str) -> None:
    p = tmp_path / "book.csv"
    p.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_positions(p, "perp")


def test_file_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match=r"book.txt: a positions file must be a .csv or .parquet file"):
        load_positions(tmp_path / "book.txt", "perp")
    with pytest.raises(DataError, match="not found"):
        load_positions(tmp_path / "missing.csv", "perp")
    p = write(tmp_path, [HEADER, *GOOD])
    monkeypatch.setattr(bk, "MAX_FILE_BYTES", 50)
    with pytest.raises(DataError, match=r"^book.csv: the positions file is larger than 0 MB\.$"):
        load_positions(p, "perp")
    monkeypatch.setattr(bk, "MAX_FILE_BYTES", 10**9)
    monkeypatch.setattr(bk, "MAX_ROWS", 2)
    with pytest.raises(DataError, match="more than 2 positions"):
        load_positions(p, "perp")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        load_positions(tmp_path / "bin.csv", "perp")
    with pytest.raises(DataError, match="profile"):
        parse_positions(HEADER, name="x.csv", profile="options")


def test_perp_position_validates() -> None:
    with pytest.raises(SpecError, match="side must be"):
        PerpPosition(account="a", symbol="BTC", side="up", notional=1.0, equity=1.0, margin_mode="cross")
    with pytest.raises(SpecError, match="notional must be"):
        PerpPosition(account="a", symbol="BTC", side="long", notional=float("nan"), equity=1.0, margin_mode="cross")


def test_demo_book_is_seeded_and_realistic() -> None:
    a, b = demo_book(3000, seed=7), demo_book(3000, seed=7)
    assert a.to_rows() == b.to_rows()
    assert demo_book(3000, seed=8).to_rows() != a.to_rows()
    assert all(x.startswith("syn-") for x in a.account_ids)
    lev = a.notionals[~a.cross] / a.equity[~a.cross]
    # entry leverage 1.1x..20x; unrealised P&L moves it, but a survivor keeps half its entry margin: <= 40x
    assert 5 <= float(np.median(lev)) <= 10 and float(lev.max()) <= 40 + 1e-9 and float(lev.min()) > 0
    assert float(lev.max()) > 20  # some positions are near their maintenance margin, as in a real book
    entry = demo_book(3000, seed=7, pnl_sigma=0.0)
    lev0 = entry.notionals[~entry.cross] / entry.equity[~entry.cross]
    assert float(lev0.max()) <= 20 + 1e-9 and float(lev0.min()) >= 1.1 - 1e-9
    with pytest.raises(ValueError, match="pnl_sigma"):
        demo_book(100, pnl_sigma=-0.1)
    assert 0.15 <= float(a.cross.mean()) <= 0.25
    # cross accounts with a hedge: a long and a short in one account
    cross_acc = a.accounts[a.cross]
    longs = set(cross_acc[a.sides[a.cross] > 0].tolist())
    shorts = set(cross_acc[a.sides[a.cross] < 0].tolist())
    assert len(longs & shorts) >= 0.3 * len(set(cross_acc.tolist()))
    # lognormal notionals: a heavy right tail
    assert float(np.mean(a.notionals)) > 2 * float(np.median(a.notionals))

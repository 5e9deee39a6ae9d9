"""Current parameters from CSV and JSON: the documented schemas, units, and one-sentence errors naming file,
row, column and value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskparams.domain import CurrentLending, CurrentPerp
from riskparams.exceptions import DataError
from riskparams.params_io import load_current, parse_current

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
PERP_HEAD = "symbol,notional_cap,max_leverage,maintenance_rate,liquidation_penalty,unit\n"
LEND_HEAD = "symbol,ltv,liquidation_threshold,liquidation_bonus,unit\n"


def perp_csv(rows: str, head: str = PERP_HEAD) -> CurrentPerp:
    cur = parse_current(head + rows, name="cur.csv", profile="perp", fmt="csv")
    (only,) = cur.assets.values()
    assert isinstance(only, CurrentPerp)
    return only


def test_examples_load_and_csv_equals_json() -> None:
    a = load_current(EXAMPLES / "current_perp.csv", "perp")
    b = load_current(EXAMPLES / "current_perp.json", "perp")  # the same brackets in bps
    assert a.profile == "perp" and set(a.assets) == {"BTC-SYN", "ETH-SYN", "SOL-SYN"}
    for sym in b.assets:
        assert a.assets[sym] == b.assets[sym]
    btc = a.assets["BTC-SYN"]
    assert isinstance(btc, CurrentPerp)
    assert [t.notional_floor for t in btc.tiers] == [0, 1e6, 5e6, 2e7]
    assert [t.notional_cap for t in btc.tiers] == [1e6, 5e6, 2e7, None]
    assert btc.tiers[0].imf == 0.05 and btc.tiers[0].liquidation_penalty == 0.01
    assert btc.at(0).notional_floor == 0 and btc.at(1e6).notional_floor == 1e6 and btc.at(1e12).notional_cap is None
    lend = load_current(EXAMPLES / "current_lending.csv", "lending")
    eth = lend.assets["ETH-SYN"]
    assert eth == CurrentLending(symbol="ETH-SYN", ltv=0.8, liquidation_threshold=0.825, liquidation_bonus=0.05)


def test_brackets_in_any_order_optional_penalty_and_inf_cap() -> None:
    p = perp_csv("btc,inf,5,0.1,,fraction\nBTC,1000000,20,0.02,0.005,fraction\n")
    assert p.symbol == "BTC" and [t.max_leverage for t in p.tiers] == [20, 5]
    assert p.tiers[1].liquidation_penalty is None and p.tiers[1].notional_floor == 1e6
    no_pen = perp_csv("ETH,,10,50,bps\n", head="symbol,notional_cap,max_leverage,maintenance_rate,unit\n")
    assert no_pen.tiers[0].maintenance_rate == 0.005 and no_pen.tiers[0].notional_cap is None


def test_lending_json_bps_is_aave_style() -> None:
    doc = {"profile": "lending", "unit": "bps",
           "assets": {"WETH": {"ltv": 8000, "liquidation_threshold": 8250, "liquidation_bonus": 10500}}}
    cur = parse_current(json.dumps(doc), name="l.json", profile="lending", fmt="json")
    assert cur.assets["WETH"] == CurrentLending(symbol="WETH", ltv=0.8, liquidation_threshold=0.825,
                                                liquidation_bonus=0.05)


PERP_ERRORS = [
    ("BTC,1000000,20,-0.01,,fraction\n", 2, "maintenance_rate", "'-0.01'", "must be in (0, 1)"),
    ("BTC,1000000,20,0.06,,fraction\n", 2, "maintenance_rate", "'0.06'", "below the initial margin"),
    ("BTC,1000000,20,0.02,0.03,fraction\n", 2, "liquidation_penalty", "'0.03'", "below the maintenance rate"),
    ("BTC,1000000,2000,0.0001,,fraction\n", 2, "max_leverage", "'2000'", "must be in [1, 1000]"),
    ("BTC,abc,20,0.02,,fraction\n", 2, "notional_cap", "'abc'", "is not a number"),
    ("BTC,1000000,20,0.02,,percent\n", 2, "unit", "'percent'", "must be 'fraction' or 'bps'"),
    ("BTC,1000000,20,,,fraction\n", 2, "maintenance_rate", "empty", "is missing"),
    ("BTC,,20,0.02,,fraction\nBTC,,10,0.05,,fraction\n", 2, "notional_cap", "empty", "open-ended"),
    ("BTC,1000000,20,0.02,,fraction\nBTC,1000000,10,0.05,,fraction\n", 3, "notional_cap", "'1000000'",
     "strictly increasing"),
    ("BTC,1000000,20,0.04,,fraction\nBTC,,10,0.03,,fraction\n", 3, "maintenance_rate", "'0.03'", "must not fall"),
    ("BTC,1000000,10,0.02,,fraction\nBTC,,20,0.03,,fraction\n", 3, "max_leverage", "'20'", "must not rise"),
    ("B C,1000000,10,0.02,,fraction\n", 2, "symbol", "'B C'", "not a valid symbol"),
]


@pytest.mark.parametrize(("rows", "row", "column", "value", "problem"), PERP_ERRORS,
                         ids=[e[4].split()[-1] for e in PERP_ERRORS])
def test_perp_csv_errors_name_file_row_column_value(rows: str, row: int, column: str, value: str,
                                                    problem: str) -> None:
    with pytest.raises(DataError) as exc:
        perp_csv(rows)
    msg = str(exc.value)
    assert msg.startswith(f"cur.csv: row {row}, column '{column}': value {value} "), msg
    assert problem in msg and "\n" not in msg and msg.endswith(".")
    assert (exc.value.file, exc.value.row, exc.value.column) == ("cur.csv", row, column)


LENDING_ERRORS = [
    ("WETH,0.9,0.85,0.05,fraction\n", "ltv", "at most the liquidation threshold"),
    ("WETH,0.5,1.2,0.05,fraction\n", "liquidation_threshold", "must be in (0, 1)"),
    ("WETH,5000,8000,500,bps\n", "liquidation_bonus", "Aave-style bps in [10000, 15000]"),
    ("WETH,0.8,0.97,0.05,fraction\n", "liquidation_threshold", "under water"),
    ("WETH,0.8,0.85,0.6,fraction\n", "liquidation_bonus", "must be in [0, 0.5]"),
    ("WETH,0.8,0.85,0.05,\n", "unit", "must be 'fraction' or 'bps'"),
]


@pytest.mark.parametrize(("rows", "column", "problem"), LENDING_ERRORS, ids=[e[2].split()[-1] for e in LENDING_ERRORS])
def test_lending_csv_errors(rows: str, column: str, problem: str) -> None:
    with pytest.raises(DataError) as exc:
        parse_current(LEND_HEAD + rows, name="lend.csv", profile="lending", fmt="csv")
    msg = str(exc.value)
    assert msg.startswith(f"lend.csv: row 2, column '{column}': value ") and problem in msg, msg
    assert "\n" not in msg


def test_structural_csv_errors() -> None:
    cases = [
        (LEND_HEAD + "WETH,0.8,0.85,0.05,fraction\nweth,0.7,0.8,0.05,fraction\n", "lending", "row 3, column 'symbol'"),
        ("symbol,ltv,liquidation_threshold,unit\nX,0.5,0.6,fraction\n", "lending", "missing column 'liquidation_bonus'"),
        (PERP_HEAD.strip() + ",colour\nBTC,1,2,0.01,,fraction,red\n", "perp", "unknown column 'colour'"),
        (LEND_HEAD + "WETH,0.8,0.85,0.05,fraction\n", "perp", "are those of a lending parameter file"),
        (PERP_HEAD, "perp", "no data rows"),
        ("", "perp", "the file is empty"),
        (PERP_HEAD + "BTC,1,2\n", "perp", "row 2: 3 cells where the header has 6"),
    ]
    for text, profile, expected in cases:
        with pytest.raises(DataError) as exc:
            parse_current(text, name="x.csv", profile=profile, fmt="csv")
        assert expected in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


def test_json_errors_name_the_path() -> None:
    def err(doc: object, profile: str = "perp") -> str:
        with pytest.raises(DataError) as exc:
            parse_current(json.dumps(doc), name="c.json", profile=profile, fmt="json")
        assert "\n" not in str(exc.value)
        return str(exc.value)

    good = {"notional_cap": 1e6, "max_leverage": 20, "maintenance_rate": 0.02}
    bad = {"notional_cap": None, "max_leverage": 10, "maintenance_rate": 1.5}
    msg = err({"profile": "perp", "unit": "fraction", "assets": {"BTC": [good, bad]}})
    assert msg.startswith("c.json: assets.BTC[1], key 'maintenance_rate': value 1.5 must be in (0, 1)"), msg
    assert "does not match the proposal's profile 'perp'" in err({"profile": "lending", "unit": "bps", "assets": {}})
    assert "key 'unit'" in err({"profile": "perp", "unit": "pct", "assets": {"BTC": [good]}})
    assert "unknown key" in err({"profile": "perp", "unit": "fraction", "assets": {"BTC": [{**good, "x": 1}]}})
    assert "non-empty list of brackets" in err({"profile": "perp", "unit": "fraction", "assets": {"BTC": {}}})
    assert "key 'liquidation_bonus'" in err(
        {"profile": "lending", "unit": "fraction",
         "assets": {"W": {"ltv": 0.5, "liquidation_threshold": 0.6, "liquidation_bonus": True}}}, "lending")
    with pytest.raises(DataError, match=r"not valid JSON \(line 1"):
        parse_current("{", name="c.json", profile="perp", fmt="json")


def test_load_current_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_current(tmp_path / "missing.csv", "perp")
    txt = tmp_path / "cur.txt"
    txt.write_text("x")
    with pytest.raises(DataError, match=r"must be a \.csv or \.json file"):
        load_current(txt, "perp")

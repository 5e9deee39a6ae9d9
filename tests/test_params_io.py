"""Current parameters from CSV and JSON: the documented schemas, units, and one-sentence errors naming file,
row, column and value."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from riskparams.domain import CurrentLending, CurrentPerp
from riskparams.exceptions import DataError
from riskparams.params_io import (
    load_current,
    load_liquidity_curves,
    load_peers,
    parse_current,
    parse_liquidity_curves,
    parse_peers,
)

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
    ("WETH,0.5,1.2,0.05,fraction\n", "liquidation_threshold", "looks like bps although the row's unit is fraction"),
    ("WETH,0,-0.2,0.05,fraction\n", "liquidation_threshold", "must be in (0, 1) (fraction)"),
    ("WETH,5000,10000,10500,bps\n", "liquidation_threshold", "must be in (0, 10000) (bps)"),
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
    assert msg.startswith("c.json: assets.BTC[1], key 'maintenance_rate': value 1.5 looks like bps although the "
                          "row's unit is fraction"), msg
    negative = {**bad, "maintenance_rate": -0.01}
    msg = err({"profile": "perp", "unit": "fraction", "assets": {"BTC": [good, negative]}})
    assert msg.startswith("c.json: assets.BTC[1], key 'maintenance_rate': value -0.01 must be in (0, 1)"), msg
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


# ---------------------------------------------------------------------------------------------
# unit checks: a rate whose size contradicts the row's unit
# ---------------------------------------------------------------------------------------------

AS_FRACTION = "looks like a fraction although the row's unit is bps"
AS_BPS = "looks like bps although the row's unit is fraction"

UNIT_MISTAKES = [
    # (profile, header, row, column, value, mistake)
    ("perp", PERP_HEAD, "BTC,1000000,20,0.01,,bps\n", "maintenance_rate", "0.01", AS_FRACTION),
    ("perp", PERP_HEAD, "BTC,1000000,20,100,,fraction\n", "maintenance_rate", "100", AS_BPS),
    ("perp", PERP_HEAD, "BTC,1000000,20,100,0.5,bps\n", "liquidation_penalty", "0.5", AS_FRACTION),
    ("perp", PERP_HEAD, "BTC,1000000,20,0.02,5,fraction\n", "liquidation_penalty", "5", AS_BPS),
    ("lending", LEND_HEAD, "WETH,0.7,8000,10500,bps\n", "ltv", "0.7", AS_FRACTION),
    ("lending", LEND_HEAD, "WETH,7000,0.8,0.05,fraction\n", "ltv", "7000", AS_BPS),
    ("lending", LEND_HEAD, "WETH,7000,0.8,10500,bps\n", "liquidation_threshold", "0.8", AS_FRACTION),
    ("lending", LEND_HEAD, "WETH,7000,8000,0.05,bps\n", "liquidation_bonus", "0.05", AS_FRACTION),
    ("lending", LEND_HEAD, "WETH,0.7,0.8,500,fraction\n", "liquidation_bonus", "500", AS_BPS),
]


@pytest.mark.parametrize(("profile", "head", "rows", "column", "value", "mistake"), UNIT_MISTAKES,
                         ids=[f"{m[0]}-{m[3]}-{m[4]}" for m in UNIT_MISTAKES])
def test_a_rate_in_the_wrong_unit_is_rejected_naming_the_mistake(profile: str, head: str, rows: str, column: str,
                                                                 value: str, mistake: str) -> None:
    with pytest.raises(DataError) as exc:
        parse_current(head + rows, name="cur.csv", profile=profile, fmt="csv")
    msg = str(exc.value)
    assert msg.startswith(f"cur.csv: row 2, column '{column}': value '{value}' {mistake}"), msg
    assert "\n" not in msg and msg.endswith(".") and ". " not in msg  # one sentence
    assert "set unit to" in msg  # and the fix
    assert (exc.value.file, exc.value.row, exc.value.column) == ("cur.csv", 2, column)


@pytest.mark.parametrize(("unit", "rate", "mistake"), [("bps", 0.01, AS_FRACTION), ("fraction", 100, AS_BPS)])
def test_a_json_rate_in_the_wrong_unit_is_rejected_naming_the_path(unit: str, rate: float, mistake: str) -> None:
    doc = {"profile": "perp", "unit": unit,
           "assets": {"BTC": [{"notional_cap": None, "max_leverage": 20, "maintenance_rate": rate}]}}
    with pytest.raises(DataError) as exc:
        parse_current(json.dumps(doc), name="c.json", profile="perp", fmt="json")
    msg = str(exc.value)
    assert msg.startswith(f"c.json: assets.BTC[0], key 'maintenance_rate': value {rate} {mistake}"), msg
    assert "\n" not in msg and msg.endswith(".")
    doc = {"profile": "lending", "unit": "bps",
           "assets": {"WETH": {"ltv": 0.7, "liquidation_threshold": 8000, "liquidation_bonus": 10500}}}
    with pytest.raises(DataError, match=r"^c\.json: assets\.WETH, key 'ltv': value 0\.7 looks like a fraction"):
        parse_current(json.dumps(doc), name="c.json", profile="lending", fmt="json")


def test_the_unit_check_stops_at_its_boundaries() -> None:
    """1 bps and a fraction just under 1 are plausible rates and pass; an LTV of 0 (borrowing frozen) is not a
    fraction-looking bps value."""
    one_bps = perp_csv("BTC,,20,1,,bps\n")
    assert one_bps.tiers[0].maintenance_rate == pytest.approx(1e-4)
    high = perp_csv("BTC,,1,0.99,,fraction\n")
    assert high.tiers[0].maintenance_rate == 0.99
    frozen = parse_current(LEND_HEAD + "WETH,0,8000,10500,bps\n", name="l.csv", profile="lending", fmt="csv")
    assert frozen.assets["WETH"] == CurrentLending(symbol="WETH", ltv=0.0, liquidation_threshold=0.8,
                                                   liquidation_bonus=0.05)


# ---------------------------------------------------------------------------------------------
# peers: other venues' tier tables
# ---------------------------------------------------------------------------------------------

PEER_HEAD = "venue,symbol,notional_floor,notional_cap,max_leverage,maintenance_rate,source\n"


def test_peers_parse_with_floors_from_the_previous_cap() -> None:
    text = PEER_HEAD + (
        "binance,BTC,,800000,100,0.005,binance:docs\n"  # rows in any order
        "binance,btc,0,300000,150,0.004,binance:docs\n"
        "binance,BTC,,,75,0.0065,binance:docs\n"
        "hyperliquid,BTC,0,,40,0.0125,hyperliquid:gitbook\n"
    )
    tables = parse_peers(text, name="peers.csv")
    assert [(t.venue, t.symbol) for t in tables] == [("binance", "BTC"), ("hyperliquid", "BTC")]
    b = tables[0]
    assert [(t.notional_floor, t.notional_cap, t.max_leverage, t.maintenance_rate) for t in b.tiers] == [
        (0.0, 3e5, 150.0, 0.004), (3e5, 8e5, 100.0, 0.005), (8e5, None, 75.0, 0.0065)]
    assert b.source == "binance:docs"
    assert [getattr(b.at(n), "max_leverage", None) for n in (0, 299_999, 3e5, 8e5, 1e12)] == [150, 150, 100, 75, 75]
    h = tables[1]
    assert len(h.tiers) == 1 and h.tiers[0].notional_cap is None and h.tiers[0].maintenance_rate == 0.0125
    # without the optional columns
    (only,) = parse_peers("venue,symbol,notional_cap,max_leverage,maintenance_rate\ndydx_v4,ETH,,50,0.012\n",
                          name="p.csv")
    assert (only.venue, only.symbol, only.source, only.tiers[0].notional_floor) == ("dydx_v4", "ETH", "", 0.0)


def test_the_example_peers_file_parses() -> None:
    """riskparams/examples/peers.csv: binance, hyperliquid and dydx_v4 tables for BTC, each with the values of
    its CSV rows (read back with the csv module), brackets contiguous from 0, maintenance at most the IMF."""
    import csv

    path = EXAMPLES / "peers.csv"
    tables = load_peers(path)
    by_key = {(t.venue, t.symbol): t for t in tables}
    assert {"binance", "hyperliquid", "dydx_v4"} <= {v for v, s in by_key if s == "BTC"}
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert sum(len(t.tiers) for t in tables) == len(rows)
    for (venue, symbol), table in by_key.items():
        mine = sorted((r for r in rows if (r["venue"], r["symbol"]) == (venue, symbol)),
                      key=lambda r: float(r["notional_cap"] or "inf"))
        assert [(t.max_leverage, t.maintenance_rate) for t in table.tiers] == [
            (float(r["max_leverage"]), float(r["maintenance_rate"])) for r in mine]
        assert table.tiers[0].notional_floor == 0.0
        for prev, nxt in zip(table.tiers, table.tiers[1:], strict=False):
            assert prev.notional_cap == nxt.notional_floor
        for t in table.tiers:
            assert 0 < t.maintenance_rate <= 1 / t.max_leverage + 1e-12
    hl = by_key[("hyperliquid", "BTC")]
    assert [(t.max_leverage, t.maintenance_rate, t.notional_cap) for t in hl.tiers] == [
        (40.0, 0.0125, 1.5e8), (20.0, 0.025, None)]
    dydx = by_key[("dydx_v4", "BTC")]
    assert [(t.max_leverage, t.maintenance_rate, t.notional_cap) for t in dydx.tiers] == [(50.0, 0.012, None)]
    binance = by_key[("binance", "BTC")]
    assert [(t.max_leverage, t.maintenance_rate) for t in binance.tiers][:2] == [(150.0, 0.004), (100.0, 0.005)]
    assert binance.at(binance.tiers[-1].notional_cap or math.inf) is None  # beyond the last (finite) cap


PEER_ERRORS = [
    # (rows, row, column, problem)
    ("=cmd|x,BTC,0,,10,0.05,x\n", 2, "venue", "is not a venue name"),
    ("binance,BTC,0,,10,0.05,<script>alert(1)</script>\n", 2, "source", "(no markup)"),
    ("binance,BTC,0,,10,0.05,a | b\n", 2, "source", "(no markup)"),
    ("binance,BTC,0,,10,0.05,[x](javascript:y)\n", 2, "source", "(no markup)"),
    ("binance,BTC,0,-5,10,0.05,x\n", 2, "notional_cap", "must be a notional > 0"),
    ("binance,BTC,-1,,10,0.05,x\n", 2, "notional_floor", "must be a notional >= 0"),
    ("binance,BTC,0,1000,10,0.05,x\nbinance,BTC,,1000,5,0.1,x\n", 3, "notional_cap", "caps must be strictly increasing"),
    ("binance,BTC,0,1000,10,0.05,x\nbinance,BTC,2000,1500,5,0.1,x\n", 3, "notional_cap",
     "caps must be strictly increasing"),
    ("binance,BTC,0,1000,10,0.05,x\nbinance,BTC,,,5,0.1,x\nbinance,BTC,,,3,0.2,x\n", 3, "notional_cap",
     "open-ended although another one follows"),
    ("binance,BTC,0,,10,0.2,x\n", 2, "maintenance_rate", "must be a fraction in (0, 1 / max_leverage = 10.0000%]"),
    ("binance,BTC,0,,10,50,x\n", 2, "maintenance_rate", "looks like bps although the row's unit is fraction"),
    ("binance,BTC,0,,10,0,x\n", 2, "maintenance_rate", "must be a fraction in (0, 1 / max_leverage"),
    ("binance,BTC,0,,2000,0.0001,x\n", 2, "max_leverage", "must be in [1, 1000]"),
    ("binance,BTC,0,,,0.05,x\n", 2, "max_leverage", "is missing"),
    ("binance,B C,0,,10,0.05,x\n", 2, "symbol", "is not a valid symbol"),
]


def test_peer_file_structure_errors(tmp_path: Path) -> None:
    for text, expected in [
        ("", "the file is empty"),
        (PEER_HEAD, "no data rows after the header"),
        ("venue,symbol,max_leverage,maintenance_rate\nx,BTC,10,0.05\n", "missing column 'notional_cap'"),
        (PEER_HEAD.strip() + ",colour\nbinance,BTC,0,,10,0.05,x,red\n", "unknown column 'colour'"),
        (PEER_HEAD + "binance,BTC,0\n", "row 2: 3 cells where the header has 7"),
    ]:
        with pytest.raises(DataError) as exc:
            parse_peers(text, name="peers.csv")
        assert str(exc.value).startswith("peers.csv: ") and expected in str(exc.value), str(exc.value)
        assert "\n" not in str(exc.value)
    txt = tmp_path / "peers.txt"
    txt.write_text(PEER_HEAD)
    with pytest.raises(DataError, match=r"must be a \.csv file"):
        load_peers(txt)
    with pytest.raises(DataError, match="not found"):
        load_peers(tmp_path / "missing.csv")


# ---------------------------------------------------------------------------------------------
# liquidity curves
# ---------------------------------------------------------------------------------------------

CURVE_HEAD = "venue,symbol,notional,slippage,source\n"


def test_liquidity_curves_parse_and_interpolate(tmp_path: Path) -> None:
    text = CURVE_HEAD + ("uniswap-v3,WETH,1000000,0.003,uniswap:pool\n"
                         "uniswap-v3,weth,100000,0.001,uniswap:pool\n"
                         "uniswap-v3,WETH,10000000,0.02,\n"
                         "curve,WBTC,500000,0.002,\n")
    path = tmp_path / "curves.csv"
    path.write_text(text)
    curves = load_liquidity_curves(path)
    assert curves == parse_liquidity_curves(text, name="curves.csv")
    by_key = {(c.venue, c.symbol): c for c in curves}
    weth = by_key[("uniswap-v3", "WETH")]
    assert weth.notionals == (1e5, 1e6, 1e7) and weth.slippages == (0.001, 0.003, 0.02)
    assert weth.source == "uniswap:pool" and by_key[("curve", "WBTC")].source == ""
    assert weth.slippage(1e4) == 0.001  # below the first point: the first slippage
    assert weth.slippage(1e6) == pytest.approx(0.003)
    # log-linear between points: sqrt(10) x 1e5 is half-way in log notional
    assert weth.slippage(math.sqrt(10) * 1e5) == pytest.approx(0.002, rel=1e-12)
    assert weth.slippage(4e7) == pytest.approx(0.02 * 2, rel=1e-12)  # square-root law beyond the last point
    assert weth.slippage(1e15) == 1.0


CURVE_ERRORS = [
    ("uniswap-v3,WETH,1000000,0.003,x\nuniswap-v3,WETH,1000000,0.004,x\n", 3, "notional", "repeats a notional"),
    ("uniswap-v3,WETH,1000000,0.003,x\nuniswap-v3,WETH,2000000,0.002,x\n", 3, "slippage",
     "slippage must not fall with size"),
    ("uniswap-v3,WETH,-1,0.003,x\n", 2, "notional", "must be a notional > 0"),
    ("uniswap-v3,WETH,1000,30,x\n", 2, "slippage", "looks like bps although the row's unit is fraction"),
    ("uniswap-v3,WETH,1000,-0.1,x\n", 2, "slippage", "must be a fraction in [0, 1)"),
    ("=x,WETH,1000,0.01,x\n", 2, "venue", "is not a venue name"),
    ("uniswap-v3,WETH,1000,0.01,<b>bold</b>\n", 2, "source", "(no markup)"),
    ("uniswap-v3,WETH,1000,0.01,a|b\n", 2, "source", "(no markup)"),
]


HOSTILE_ROWS = [("peers.csv", *e) for e in PEER_ERRORS] + [("curves.csv", *e) for e in CURVE_ERRORS]


@pytest.mark.parametrize(("name", "rows", "row", "column", "problem"), HOSTILE_ROWS,
                         ids=[f"{e[0]}-{e[3]}-{i}" for i, e in enumerate(HOSTILE_ROWS)])
def test_hostile_peer_and_curve_rows_are_rejected_naming_row_and_column(
        name: str, rows: str, row: int, column: str, problem: str) -> None:
    """Peer tables and liquidity curves reject a bad row with one sentence naming file, row, column and value."""
    parse = {"peers.csv": lambda text: parse_peers(PEER_HEAD + text, name=name),
             "curves.csv": lambda text: parse_liquidity_curves(CURVE_HEAD + text, name=name)}[name]
    with pytest.raises(DataError) as exc:
        parse(rows)
    msg = str(exc.value)
    assert msg.startswith(f"{name}: row {row}, column '{column}': value "), msg
    assert problem in msg and "\n" not in msg and msg.endswith("."), msg
    assert (exc.value.file, exc.value.row, exc.value.column) == (name, row, column)

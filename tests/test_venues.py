"""The venues' own formats (issue 13, item 3): each export validated against the venue's schema or reference code
vendored in ``tests/data/venues/`` (README there names repository, path and commit of every file), the mappings
with hand-computed values, hostile symbols and titles, byte-stable output and the CLI."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import cli_fails as fails
from conftest import run_cli as run

from riskparams import export as ex
from riskparams.domain import Proposal, content_id
from riskparams.governance import COMMITTEE_ENV_VAR, MEMBER_ENV_VAR
from riskparams.store import Store
from riskparams.store.records import StoredProposal, save_proposal
from riskparams.venues import _common, aave, safe, snapshot

DATA = Path(__file__).resolve().parent / "data" / "venues"
NEW_FORMATS = ("dydx", "aave-config", "aave-aip", "snapshot", "safe", "risk-updates")
HOSTILE = '"quote\' <script>alert(1)</script> **md** [x](javascript:y)\nnew line\u2028sep `code` */ //'


# -------------------------------------------------------------------------------------------------------------------
# helpers
# -------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(proposals: dict[str, Proposal]) -> dict[str, dict[str, Any]]:
    """The conftest perp and lending proposals as stored (``to_dict()``: id, created_at, content)."""
    s = Store.memory()
    out = {k: save_proposal(s, p).to_dict() for k, p in proposals.items()}
    s.close()
    return out


def edited(d: dict[str, Any], edit: Any) -> dict[str, Any]:
    """A copy of a stored proposal with ``edit(copy)`` applied to its content and the id recomputed."""
    d = copy.deepcopy(d)
    edit(d)
    d["id"] = content_id({k: d[k] for k in ex._CONTENT_KEYS if k in d})
    return d


def set_caps(caps: dict[str, dict[str, Any]]) -> Any:
    """An edit setting cap fields per symbol (None clears one)."""
    def edit(d: dict[str, Any]) -> None:
        for a in d["assets"]:
            for k, v in caps.get(a["symbol"], {}).items():
                a[k] = v
    return edit


def config_of(text: str) -> tuple[list[str], dict[str, Any]]:
    """``(header comment lines, ConfigFile object)`` of an ``aave-config`` export."""
    head, sep, rest = text.partition("import {ConfigFile} from '../../generator/types';\n")
    assert sep and rest.startswith("export const config: ConfigFile = ") and rest.endswith("};\n")
    return head.splitlines(), json.loads(rest.removeprefix("export const config: ConfigFile = ")[:-2])


def proto_messages(*names: str) -> dict[str, dict[str, tuple[str, bool]]]:
    """``{message: {field: (type, deprecated)}}`` of the vendored dYdX .proto files (enums as ``enum:NAME``)."""
    text = "\n".join((DATA / "dydx" / f"{n}.proto").read_text() for n in names)
    text = re.sub(r"//[^\n]*", "", text)
    out: dict[str, dict[str, tuple[str, bool]]] = {}
    for name, body in re.findall(r"message (\w+) \{([^{}]*)\}", text):
        fields = re.findall(r"(?:repeated )?([\w.]+) (\w+) = \d+\s*(\[[^;]*\])?;", body)
        out[name] = {f: (t, "deprecated = true" in opts) for t, f, opts in fields}
    for name in re.findall(r"enum (\w+) \{", text):
        out[f"enum:{name}"] = {v: ("enum", False) for v in re.findall(
            rf"enum {name} \{{(.*?)\}}", text, re.S)[0].split() if v.isupper()}
    return out


def check_proto(value: Any, message: str, protos: dict[str, dict[str, tuple[str, bool]]], *, every: bool) -> None:
    """``value`` (proto JSON, original field names) has only fields ``message`` declares, of their types; with
    ``every`` it sets every field that is not deprecated."""
    spec = protos[message]
    assert set(value) <= set(spec), (message, set(value) - set(spec))
    if every:
        assert {f for f, (_, dep) in spec.items() if not dep} <= set(value), message
    ranges = {"uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1), "sint32": (-2**31, 2**31 - 1)}
    for f, v in value.items():
        t = spec[f][0]
        if t in ranges:
            assert isinstance(v, int) and not isinstance(v, bool) and ranges[t][0] <= v <= ranges[t][1], (f, v)
        elif t == "string":
            assert isinstance(v, str), (f, v)
        elif f"enum:{t}" in protos:
            assert v in protos[f"enum:{t}"], (f, v)
        else:
            check_proto(v, t, protos, every=every)


# -------------------------------------------------------------------------------------------------------------------
# dYdX
# -------------------------------------------------------------------------------------------------------------------


def test_dydx_messages_match_the_vendored_protos_and_attach_each_market(stored: dict[str, dict[str, Any]]) -> None:
    # BTC-SYN with a 1M USD open-interest cap, ETH-SYN with none
    sp = edited(stored["perp"], set_caps({"BTC-SYN": {"open_interest_cap": 1_000_000.0},
                                          "ETH-SYN": {"open_interest_cap": None}}))
    payload = json.loads(ex.render("dydx", sp, dydx_first_id=7))
    assert {"title", "summary", "metadata", "deposit", "expedited", "messages"} <= set(payload)
    assert payload["expedited"] is False and payload["deposit"] == "10000000000000000000000adydx"
    # the struct cosmos-sdk's parseSubmitProposal unmarshals: strings, a bool, and a deposit sdk.ParseCoins reads
    assert all(isinstance(payload[k], str) for k in ("title", "summary", "metadata", "deposit"))
    assert re.fullmatch(r"[0-9]+[a-zA-Z][a-zA-Z0-9/:._-]{2,127}", payload["deposit"])
    protos = proto_messages("perpetual", "tx")
    kinds = [m["@type"] for m in payload["messages"]]
    # every liquidity tier first, then the markets (messages run in order); the type URLs name tx.proto's package
    # and messages (vendored: "package dydxprotocol.perpetuals;", "message MsgSetLiquidityTier", ...)
    tx = (DATA / "dydx" / "tx.proto").read_text()
    assert "package dydxprotocol.perpetuals;" in tx and all(f"message {m} {{" in tx for m in (
        "MsgSetLiquidityTier", "MsgUpdatePerpetualParams"))
    n_tiers = kinds.count("/dydxprotocol.perpetuals.MsgSetLiquidityTier")
    assert kinds == ["/dydxprotocol.perpetuals.MsgSetLiquidityTier"] * n_tiers + [
        "/dydxprotocol.perpetuals.MsgUpdatePerpetualParams"] * 2
    for m in payload["messages"]:
        body = {k: v for k, v in m.items() if k != "@type"}
        name = m["@type"].rsplit(".", 1)[1]
        check_proto(body, name, protos, every=True)
    tiers = {m["liquidity_tier"]["name"]: m["liquidity_tier"] for m in payload["messages"][:n_tiers]}
    # hand-computed: cap 1,000,000 USD -> upper 1e12 quote quantums (1 USDC = 1e6), lower half of it
    btc = tiers["BTC-SYN tier 1"]
    assert (btc["open_interest_lower_cap"], btc["open_interest_upper_cap"]) == (500_000_000_000, 1_000_000_000_000)
    assert 0 < btc["open_interest_lower_cap"] < btc["open_interest_upper_cap"]
    assert (tiers["ETH-SYN tier 1"]["open_interest_lower_cap"], tiers["ETH-SYN tier 1"]["open_interest_upper_cap"]) \
        == (0, 0)
    assert any(n.startswith("ETH-SYN: no open-interest cap proposed") for n in payload["riskparams"]["notes"])
    markets = {m["perpetual_params"]["ticker"]: m["perpetual_params"] for m in payload["messages"][n_tiers:]}
    # BTC-USD is perpetual 0 / market 0 / atomic resolution -10 in dYdX's sample genesis; attached to its tier 1
    assert markets["BTC-USD"] == {"id": 0, "ticker": "BTC-USD", "market_id": 0, "atomic_resolution": -10,
                                  "default_funding_ppm": 100, "liquidity_tier": btc["id"],
                                  "market_type": "PERPETUAL_MARKET_TYPE_CROSS"}
    assert btc["id"] == 7 and markets["ETH-USD"]["liquidity_tier"] == tiers["ETH-SYN tier 1"]["id"]


def test_dydx_messages_parse_as_the_chain_protobufs(stored: dict[str, dict[str, Any]]) -> None:
    """The messages read by dYdX's own generated protobuf classes (the ``v4-proto`` package from PyPI)."""
    tx_pb2 = pytest.importorskip("v4_proto.dydxprotocol.perpetuals.tx_pb2")
    from google.protobuf import json_format

    for m in json.loads(ex.render("dydx", stored["perp"]))["messages"]:
        cls = getattr(tx_pb2, m["@type"].rsplit(".", 1)[1])
        msg = json_format.ParseDict({k: v for k, v in m.items() if k != "@type"}, cls())  # strict: unknown fields fail
        # the x/gov module account of the dYdX chain (dYdX's gov proposals are sent with this authority)
        assert msg.authority == "dydx10d07y265gmmuvt4z0w9aw880jnsr700jnmapky"


def test_dydx_unknown_market_is_left_unattached_and_markets_override(stored: dict[str, dict[str, Any]]) -> None:
    sp = edited(stored["perp"], lambda d: d["assets"][0].update(symbol="ZZZ-SYN") or
                d["assets"][0]["context"].update(symbol="ZZZ-SYN"))
    payload = json.loads(ex.to_dydx(sp))
    assert [u["ticker"] for u in payload["riskparams"]["unattached"]] == ["ZZZ-USD"]
    given = json.loads(ex.to_dydx(sp, markets={"zzz-usd": {"id": 99, "market_id": 98, "atomic_resolution": -6,
                                                            "default_funding_ppm": 0}}))
    params = [m["perpetual_params"] for m in given["messages"] if "perpetual_params" in m]
    assert {p["ticker"]: p["id"] for p in params}["ZZZ-USD"] == 99 and not given["riskparams"]["unattached"]
    with pytest.raises(ex.ExportError, match="^the dYdX market given for ZZZ-USD must be an object"):
        ex.to_dydx(sp, markets={"ZZZ-USD": {"id": 1}})


# -------------------------------------------------------------------------------------------------------------------
# Aave
# -------------------------------------------------------------------------------------------------------------------


def test_aave_config_validates_against_the_generator_schema(stored: dict[str, dict[str, Any]]) -> None:
    schema = json.loads((DATA / "aave" / "config-file.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    # the generator's own config files validate (the caps one after its pool is taken as listed)
    for example in ("example_collaterals_config.ts", "example_caps_config.ts"):
        text = (DATA / "aave" / example).read_text()
        obj = re.sub(r"(?<=[{\s,])(\w+):(?=\s)", r'"\1":', text.split("= ", 1)[1].rstrip().rstrip(";").replace("'", '"'))
        obj = re.sub(r",(\s*[}\]])", r"\1", obj)
        jsonschema.validate({**json.loads(obj), **({"rootOptions": {**json.loads(obj)["rootOptions"], "author": "x",
                                                                    "discussion": "", "snapshot": ""}})}, schema)
    # BTC-SYN: supply cap 1M USD at 50,000 per token -> 20 tokens, no borrow cap, debt ceiling 2,500,000.7 -> 2500000
    sp = edited(stored["lending"], set_caps({
        "BTC-SYN": {"supply_cap": 1_000_000.0, "borrow_cap": None, "debt_ceiling": 2_500_000.7, "cap_price": 50_000.0},
        "ETH-SYN": {"supply_cap": None, "borrow_cap": None, "debt_ceiling": None}}))
    head, cfg = config_of(ex.render("aave-config", sp).decode())
    jsonschema.validate(cfg, schema)
    assert all(line.startswith("// ") for line in head)
    pool = cfg["poolOptions"]["AaveV3Ethereum"]["configs"]
    assert pool["CAPS_UPDATE"] == [{"asset": "WBTC", "supplyCap": "20", "borrowCap": ""}]
    btc = next(c for c in pool["COLLATERALS_UPDATE"] if c["asset"] == "WBTC")
    assert btc["debtCeiling"] == "2500000" and btc["liqProtocolFee"] == ""
    assert any("ETH-SYN: no supply cap proposed" in line for line in head)


def set_lending(values: dict[str, tuple[float, float, float]]) -> Any:
    """An edit setting the proposed (LTV, liquidation threshold, liquidation bonus) fractions per symbol and clearing
    every cap (the current values stay those of riskparams/examples/current_lending.csv). The stored ``*_bps``
    display fields are re-derived so that the content still rebuilds to its hash (they are not what Aave reads)."""
    from riskparams.domain import LendingAssetProposal

    def edit(d: dict[str, Any]) -> None:
        for a in d["assets"]:
            a.update(supply_cap=None, borrow_cap=None, debt_ceiling=None)
            if a["symbol"] in values:
                a["ltv"], a["liquidation_threshold"], a["liquidation_bonus"] = values[a["symbol"]]
                a.update({k: v for k, v in LendingAssetProposal.from_dict(a).to_dict().items() if k.endswith("_bps")})
    return edit


# hand-set proposed values against current_lending.csv (BTC-SYN 0.73 / 0.78 / 0.05 = 7300 / 7800 / 500 bps; ETH-SYN
# 8000 / 8250 / 10500 bps = 500 bps without the base). Aave takes LTV and threshold rounded down, the bonus rounded up
# (never more lenient than proposed) to whole bps:
#   BTC-SYN LTV 0.73495 -> 7349.5 -> 7349 bps "73.49"; threshold 0.78125 -> 7812.5 -> 7812 "78.12"; bonus 0.04501 ->
#           450.1 -> 451 "4.51"; all three differ from the current values, so all three are written;
#   ETH-SYN LTV 0.80005 -> 8000.5 -> 8000 = current (kept, ""); threshold 0.8251 -> 8251 "82.51"; bonus 0.04995 ->
#           499.5 -> 500 = current (kept, "").
HAND_LENDING = set_lending({"BTC-SYN": (0.73495, 0.78125, 0.04501), "ETH-SYN": (0.80005, 0.8251, 0.04995)})


def test_aave_config_collateral_updates_by_hand(stored: dict[str, dict[str, Any]]) -> None:
    schema = json.loads((DATA / "aave" / "config-file.schema.json").read_text())
    head, cfg = config_of(ex.render("aave-config", edited(stored["lending"], HAND_LENDING)).decode())
    jsonschema.validate(cfg, schema)
    pool = cfg["poolOptions"]["AaveV3Ethereum"]["configs"]
    assert pool["COLLATERALS_UPDATE"] == [
        {"asset": "WBTC", "ltv": "73.49", "liqThreshold": "78.12", "liqBonus": "4.51", "debtCeiling": "",
         "liqProtocolFee": ""},
        {"asset": "WETH", "ltv": "", "liqThreshold": "82.51", "liqBonus": "", "debtCeiling": "", "liqProtocolFee": ""},
    ]
    assert "CAPS_UPDATE" not in pool  # no cap proposed: nothing to update
    assert any("BTC-SYN: no supply cap proposed" in line for line in head)


def test_aave_percent_strings_are_the_generators_units() -> None:
    # percentPrompt: '80' is 80 % (80_00 bps in Solidity), '82.5' 82.50 %, '5.05' a 5.05 % bonus without the base
    assert [aave._pct(x) for x in (8000, 8250, 505, 50, 0)] == ["80", "82.5", "5.05", "0.5", "0"]
    assert aave.address_book_symbol("btc-syn") == "WBTC" and aave.address_book_symbol("wsteth/usd") == "wstETH"
    assert aave.address_book_symbol("1INCH") == "_1INCH"


def test_aave_aip_follows_the_generator_template(stored: dict[str, dict[str, Any]]) -> None:
    md = ex.render("aave-aip", stored["lending"]).decode()
    template = (DATA / "aave" / "aip.template.ts").read_text()
    for heading in re.findall(r"^## [\w ]+$", template, re.M):
        assert f"\n{heading}\n" in md
    front = md.split("---\n")[1]
    assert [line.split(":")[0] for line in front.splitlines()] == ["title", "author", "discussions", "snapshot"]
    assert json.loads(front.splitlines()[0].removeprefix("title: ")).startswith("Risk parameter update")
    assert "| WBTC (BTC-SYN) | Liquidation bonus |" in md


def test_aave_legacy_format_is_kept(stored: dict[str, dict[str, Any]]) -> None:
    assert json.loads(ex.render("aave", stored["lending"]))["struct"] == "CollateralUpdate"


# -------------------------------------------------------------------------------------------------------------------
# Snapshot
# -------------------------------------------------------------------------------------------------------------------


def filled(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its placeholders filled as a proposer would."""
    return {**message, "from": "0x" + "ab" * 20, "space": "aavedao.eth", "timestamp": 1_767_225_600,
            "start": 1_767_312_000, "end": 1_767_571_200, "snapshot": 21_000_000}


def test_snapshot_typed_data_matches_snapshot_js(stored: dict[str, dict[str, Any]]) -> None:
    from eth_account.messages import encode_typed_data

    types_ts = (DATA / "snapshot" / "types.ts").read_text()
    block = re.search(r"export const proposalTypes = \{\s*Proposal: \[(.*?)\]\s*\};", types_ts, re.S)
    assert block is not None
    reference = [{"name": n, "type": t} for n, t in re.findall(r"\{ name: '(\w+)', type: '([\w\[\]]+)' \}", block[1])]
    head = (DATA / "snapshot" / "index.head.ts").read_text()
    assert {"name": re.search(r"NAME = '(.+)'", head)[1], "version": re.search(  # type: ignore[index]
        r"VERSION = '(.+)'", head)[1]} == snapshot.SNAPSHOT_DOMAIN == {"name": "snapshot", "version": "0.1.4"}
    schema = json.loads((DATA / "snapshot" / "proposal.json").read_text())
    for profile in ("perp", "lending"):
        data = json.loads(ex.render("snapshot", stored[profile]))
        assert data["types"]["Proposal"] == reference and data["domain"] == snapshot.SNAPSHOT_DOMAIN
        m = data["message"]
        assert set(m) == {f["name"] for f in reference}
        assert m["choices"] == ["For", "Against", "Abstain"] and m["type"] == "basic"
        assert _common.js_length(m["body"]) <= snapshot.SNAPSHOT_BODY_LIMIT == 10_000
        assert set(data["riskparams"]["placeholders"]) >= {"start", "end", "snapshot", "space", "from", "timestamp"}
        assert m["start"] == m["end"] == m["snapshot"] == 0  # placeholders, stated as such
        full = filled(m)
        payload = {"name": full["title"], "body": full["body"], "choices": full["choices"], "labels": full["labels"],
                   "type": full["type"], "snapshot": full["snapshot"], "start": full["start"], "end": full["end"],
                   "app": full["app"], "privacy": full["privacy"], "metadata": {}}
        jsonschema.validate(payload, schema["definitions"]["Proposal"])
        signable = encode_typed_data(full_message={k: data[k] for k in ("types", "primaryType", "domain")}
                                     | {"message": full})
        assert len(signable.body) == 32


def test_snapshot_body_is_cut_within_the_limit_with_a_link() -> None:
    # hand-computed: 'x' * 20_000 -> cut to fit 10,000 JavaScript characters including the closing note
    body, cut = snapshot.snapshot_body("x" * 20_000, link="https://forum.example/t/1")
    assert cut and _common.js_length(body) <= 10_000 and body.rstrip().endswith("Full report: https://forum.example/t/1*")
    assert snapshot.snapshot_body("short", link="l") == ("short", False)
    # an astral character is two JavaScript characters: 6,000 of them are 12,000 > 10,000
    assert _common.js_length("\U0001d11e") == 2
    body, cut = snapshot.snapshot_body("\U0001d11e" * 6_000, link="l")
    assert cut and _common.js_length(body) <= 10_000


def test_snapshot_offers_the_options_when_none_is_chosen(stored: dict[str, dict[str, Any]]) -> None:
    names = [o["name"] for o in stored["perp"]["options"]]
    m = json.loads(ex.render("snapshot", stored["perp"]))["message"]
    if len(names) >= 2:
        assert m["type"] == "single-choice" and m["choices"] == names
    else:
        assert m["choices"] == ["For", "Against", "Abstain"]


# -------------------------------------------------------------------------------------------------------------------
# Safe
# -------------------------------------------------------------------------------------------------------------------


def test_safe_checksum_matches_the_transaction_builders_reference() -> None:
    text = (DATA / "safe" / "checksum.test.js").read_text()
    obj = text.split("const batchFileObject = ", 1)[1].split("\n}\n", 1)[0] + "\n}"
    obj = re.sub(r"(\w+):", r'"\1":', obj.replace("'", '"').replace('"0x"', "0x"))
    obj = re.sub(r",(\s*[}\]])", r"\1", obj)
    expected = re.search(r"toBe\(\s*'(0x[0-9a-f]{64})'", text)
    assert expected is not None
    assert safe.batch_checksum(json.loads(obj)) == expected[1] == \
        "0x4ecbfd364aa6759983915644e73f8bd411e85a2dc306f252a387c2728c4db64c"


def test_safe_batch_validates_and_encodes_against_the_steward_abi(stored: dict[str, dict[str, Any]]) -> None:
    import eth_abi

    schema = json.loads((DATA / "safe" / "batch-file.schema.json").read_text())
    sp = edited(stored["lending"], set_caps({"BTC-SYN": {"supply_cap": 1_000_000.0, "borrow_cap": 500_000.0,
                                                         "cap_price": 50_000.0},
                                             "ETH-SYN": {"supply_cap": None, "borrow_cap": None}}))
    batch = json.loads(ex.render("safe", sp))
    jsonschema.validate(batch, schema)
    meta = dict(batch["meta"])
    assert safe.batch_checksum({**batch, "meta": {k: v for k, v in meta.items() if k != "checksum"}}) == meta["checksum"]
    engine = (DATA / "safe" / "IAaveV3ConfigEngine.sol").read_text()
    steward = (DATA / "safe" / "IRiskSteward.sol").read_text()
    for tx in batch["transactions"]:
        method = tx["contractMethod"]
        assert tx["to"] == "0xF3911922bd054Bf6f4d6A02B8ADAC444921B0c51" and tx["value"] == "0"
        (inp,) = method["inputs"]
        struct = inp["internalType"].split(".")[1].removesuffix("[]")
        assert f"function {method['name']}(IEngine.{struct}[] calldata {inp['name']}) external;" in steward
        body = re.search(rf"struct {struct} \{{(.*?)\}}", engine, re.S)
        assert body is not None
        fields = re.findall(r"(\w+) (\w+);", re.sub(r"//[^\n]*", "", body[1]))
        assert [(c["type"], c["name"]) for c in inp["components"]] == fields
        values = json.loads(tx["contractInputsValues"][inp["name"]])
        typ = "(" + ",".join(t for t, _ in fields) + ")[]"
        eth_abi.encode([typ], [[tuple(int(v) if t == "uint256" else v for v, (t, _) in zip(row, fields, strict=True))
                                for row in values]])  # the values type-check against the ABI
    caps = next(tx for tx in batch["transactions"] if tx["contractMethod"]["name"] == "updateCaps")
    # hand-computed: 1,000,000 USD / 50,000 = 20 WBTC supply cap, 500,000 / 50,000 = 10 borrow cap
    assert json.loads(caps["contractInputsValues"]["capUpdates"]) == [
        ["0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", "20", "10"]]


def test_safe_refuses_perps_and_unknown_tokens_in_one_sentence(stored: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(ex.ExportError, match=r"^a perp proposal cannot be exported as a venue payload for safe "):
        ex.render("safe", stored["perp"])
    sp = edited(stored["lending"], lambda d: [a.update(symbol=f"Q{k}") or a["context"].update(symbol=f"Q{k}")
                                              for k, a in enumerate(d["assets"])])
    with pytest.raises(ex.ExportError, match=r"^proposal \w+ gives no Safe transaction: no token address is known"):
        ex.render("safe", sp)
    with pytest.raises(ex.ExportError, match="must be 0x and 40 hex digits"):
        ex.render("safe", sp, asset_addresses={"Q0": "0x12"})
    ok = json.loads(ex.render("safe", sp, asset_addresses={"Q0": "0x" + "11" * 20, "Q1": "0x" + "22" * 20}))
    assert ok["transactions"]


# -------------------------------------------------------------------------------------------------------------------
# risk-updates
# -------------------------------------------------------------------------------------------------------------------


def test_risk_updates_match_the_risk_oracle_struct(stored: dict[str, dict[str, Any]]) -> None:
    sol = (DATA / "risk_oracle" / "RiskOracle.sol").read_text()
    body = re.search(r"struct RiskParameterUpdate \{(.*?)\}", sol, re.S)
    assert body is not None
    struct = re.findall(r"(\w+) (\w+);", re.sub(r"//[^\n]*", "", body[1]))
    patterns = {"bytes": r"0x([0-9a-f]{2})*", "string": r"[^\x00]*", "address": r"0x[0-9a-fA-F]{40}"}
    for profile in ("perp", "lending"):
        data = json.loads(ex.render("risk-updates", stored[profile]))
        assert [(f["type"], f["name"]) for f in data["fields"]] == struct
        assert data["updates"]
        for k, (u, r) in enumerate(zip(data["updates"], data["riskparams"]["records"], strict=True)):
            assert set(u) == {n for _, n in struct}
            for t, n in struct:
                if t == "uint256":
                    assert isinstance(u[n], int) and 0 <= u[n] < 2**256
                else:
                    assert re.fullmatch(patterns[t], u[n]), (n, u[n])
            assert u["updateId"] == k + 1 and int(u["newValue"], 16) == r["new"]
            assert json.loads(bytes.fromhex(u["additionalData"][2:]))["symbol"] == r["symbol"]


def test_risk_updates_of_a_lending_proposal_by_hand(stored: dict[str, dict[str, Any]]) -> None:
    """The records of the hand-set lending proposal (see HAND_LENDING), every field written out: values in bps
    (rounded as Aave does), abi.encode(uint256) as 32-byte big-endian hex, the Aave V3 Ethereum token addresses
    (bgd-labs/aave-address-book AaveV3Ethereum.sol: WBTC 0x2260FA..., WETH 0xC02aaA...)."""
    sp = edited(stored["lending"], HAND_LENDING)
    pid = sp["id"]
    data = json.loads(ex.render("risk-updates", sp))
    wbtc, weth = "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"

    def word(digits: str) -> str:  # 7349 = 0x1cb5 -> 0x00...001cb5 (64 hex digits, big-endian)
        return "0x" + digits.rjust(64, "0")

    # (symbol, updateType, new hex, previous hex, market): 7349 = 0x1cb5 from 7300 = 0x1c84; 7812 = 0x1e84 from
    # 7800 = 0x1e78; 451 = 0x1c3 from 500 = 0x1f4; ETH-SYN threshold 8251 = 0x203b from 8250 = 0x203a
    want = [("BTC-SYN", "ltv", "1cb5", "1c84", wbtc), ("BTC-SYN", "liquidationThreshold", "1e84", "1e78", wbtc),
            ("BTC-SYN", "liquidationBonus", "1c3", "1f4", wbtc), ("ETH-SYN", "liquidationThreshold", "203b", "203a", weth)]
    assert [(u["updateId"], u["referenceId"], u["updateType"], u["newValue"], u["previousValue"], u["market"])
            for u in data["updates"]] == [
        (k, f"riskparams:{pid}:{sym}:{kind}", kind, word(new), word(prev), market)
        for k, (sym, kind, new, prev, market) in enumerate(want, start=1)]
    assert [json.loads(bytes.fromhex(u["additionalData"][2:])) for u in data["updates"]] == [
        {"proposal": pid, "symbol": sym, "tier": None, "unit": "bps"} for sym, *_ in want]
    assert [(r["new"], r["previous"]) for r in data["riskparams"]["records"]] == [
        (7349, 7300), (7812, 7800), (451, 500), (8251, 8250)]


# -------------------------------------------------------------------------------------------------------------------
# every format: hostile text, byte-stable, the CLI
# -------------------------------------------------------------------------------------------------------------------


def hostile(d: dict[str, Any]) -> None:
    for a in d["assets"]:
        old = a["symbol"]
        a["symbol"] = a["context"]["symbol"] = f"{HOSTILE} {old}"
        a["rationale"] = a["notes"] and HOSTILE
        for o in d["options"]:
            for x in o["assets"]:
                if x["symbol"] == old:
                    x["symbol"] = a["symbol"]
        for o in (d["provenance"].get("revision") or {}).get("overrides", []):
            if o["symbol"] == old:
                o["symbol"] = a["symbol"]
    for o in d["options"]:
        o["name"] = f"{HOSTILE} {o['name']}"


@pytest.mark.parametrize("fmt", NEW_FORMATS)
def test_hostile_symbols_and_titles_stay_escaped_text(stored: dict[str, dict[str, Any]], fmt: str) -> None:
    profiles = ("perp", "lending") if fmt in ("snapshot", "risk-updates") else (
        ("perp",) if fmt == "dydx" else ("lending",))
    for profile in profiles:
        check_hostile(fmt, edited(stored[profile], hostile))


def check_hostile(fmt: str, sp: dict[str, Any]) -> None:
    addresses = {a["symbol"]: "0x" + f"{k + 1:02x}" * 20 for k, a in enumerate(sp["assets"])}
    data = ex.render(fmt, sp, asset_addresses=addresses)
    assert data == ex.render(fmt, sp, asset_addresses=addresses)  # byte-stable
    text = data.decode("utf-8")
    if fmt == "aave-config":
        head, cfg = config_of(text)
        assert all(line.startswith("// ") for line in head)  # no line of user text escapes the comments
        jsonschema.validate(cfg, json.loads((DATA / "aave" / "config-file.schema.json").read_text()))
        assert "<script>" in cfg["rootOptions"]["title"] and "\n" not in cfg["rootOptions"]["title"]
    elif fmt == "aave-aip":
        after = text.split("---\n", 2)[2]
        assert "<script>" not in after and not re.search(r"(?<!\\)\]\(javascript", after) and "&lt;script&gt;" in after
        front = text.split("---\n")[1].splitlines()
        assert len(front) == 4 and "<script>" in json.loads(front[0].removeprefix("title: "))
    else:
        payload = json.loads(text)  # valid JSON, the text carried as it is
        assert HOSTILE.split("\n")[0][:20] in text or "\\\"quote'" in text
        if fmt == "snapshot":
            m = payload["message"]
            assert "\n" not in m["title"] and "<script>" not in m["body"]
            assert _common.js_length(m["body"]) <= snapshot.SNAPSHOT_BODY_LIMIT
        if fmt == "dydx":
            assert all(m["liquidity_tier"]["name"].endswith(tuple(f"tier {k}" for k in range(1, 9)))
                       for m in payload["messages"] if "liquidity_tier" in m)


@pytest.mark.parametrize("fmt", ("snapshot", "risk-updates"))
def test_formats_of_both_profiles_are_byte_stable(stored: dict[str, dict[str, Any]], fmt: str) -> None:
    for profile in ("perp", "lending"):
        assert ex.render(fmt, stored[profile]) == ex.render(fmt, copy.deepcopy(stored[profile]))


def test_format_tuples_extensions_and_profiles() -> None:
    assert set(NEW_FORMATS) | {"aave"} <= set(ex.VENUE_FORMATS) <= set(ex.FORMATS)
    names = {f: ex.default_filename("a" * 64, f) for f in NEW_FORMATS}
    assert names["aave-config"].endswith(".aave-config.ts") and names["safe"].endswith(".safe.json")
    assert len(set(names.values())) == len(names)
    with pytest.raises(ex.ExportError, match="^export format must be one of"):
        ex.check_format("xlsx")


@pytest.fixture
def store_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proposals: dict[str, Proposal]) -> dict[str, str]:
    path = tmp_path / "v.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    monkeypatch.delenv(COMMITTEE_ENV_VAR, raising=False)
    monkeypatch.delenv(MEMBER_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with Store(path) as s:
        return {p: save_proposal(s, proposals[p]).id for p in ("perp", "lending")}


def test_cli_exports_every_venue_format(capsys: pytest.CaptureFixture[str], store_ids: dict[str, str],
                                       tmp_path: Path) -> None:
    for pid in store_ids.values():
        for args in (("review", pid, "--as", "alice"), ("sign", pid, "--as", "bob"),
                     ("sign", pid, "--as", "carol"), ("approve", pid, "--as", "alice", "-m", "vote 7")):
            assert run(capsys, *args)[0] == 0
    for fmt in NEW_FORMATS:
        for profile in ("perp", "lending") if fmt in ("snapshot", "risk-updates") else (
                ("perp",) if fmt == "dydx" else ("lending",)):
            out = tmp_path / f"{profile}.{fmt}"
            code, text, err = run(capsys, "export", store_ids[profile][:10], "-f", fmt, "-o", str(out), "--as", "erin")
            assert code == 0 and err == "" and f"wrote {out}" in text, (fmt, err)
            first = out.read_bytes()
            if fmt == "aave-config":
                config_of(first.decode())
            elif fmt != "aave-aip":
                json.loads(first)
            assert run(capsys, "export", store_ids[profile][:10], "-f", fmt, "-o", str(out), "--as", "erin")[0] == 0
            assert out.read_bytes() == first
    line = fails(capsys, "export", store_ids["perp"][:10], "-f", "xlsx", "--as", "erin")
    assert "invalid choice: 'xlsx'" in line
    assert "cannot be exported as a venue payload for safe" in fails(
        capsys, "export", store_ids["perp"][:10], "-f", "safe", "--as", "erin")


def test_stored_proposal_objects_are_accepted(proposals: dict[str, Proposal]) -> None:
    s = Store.memory()
    sp = save_proposal(s, proposals["lending"])
    assert isinstance(sp, StoredProposal)
    assert ex.render("risk-updates", sp) == ex.render("risk-updates", sp.to_dict())
    s.close()


def test_governance_page_lists_the_formats_of_the_proposals_profile(proposals: dict[str, Proposal], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from riskparams import ui

    path = tmp_path / "page.duckdb"
    with Store(path) as s:
        save_proposal(s, proposals["perp"])
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    ui._open_store.clear()
    ui.clear_data_caches()
    try:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "5_Governance.py"),
                               default_timeout=180).run()
        assert not at.exception
        formats = next(s for s in at.selectbox if s.label == "Format").options
        assert formats == list(ex.formats_for("perp")) and "dydx" in formats and "safe" not in formats
        assert set(ex.formats_for("lending")) >= {"aave-config", "aave-aip", "safe", "snapshot", "risk-updates"}
    finally:
        ui._open_store.clear()
        ui.clear_data_caches()


def test_cli_passes_token_addresses_and_the_report_url(capsys: pytest.CaptureFixture[str],
                                                       store_ids: dict[str, str], tmp_path: Path) -> None:
    """``export --address SYMBOL=0x...`` reaches the Safe batch (overriding the shipped address book),
    ``--report-url`` reaches Snapshot's ``discussion``; bad values are one line, exit 2."""
    pid = store_ids["lending"]
    for args in (("review", pid, "--as", "alice"), ("sign", pid, "--as", "bob"), ("sign", pid, "--as", "carol"),
                 ("approve", pid, "--as", "alice", "-m", "vote 7")):
        assert run(capsys, *args)[0] == 0
    btc = "0x1111111111111111111111111111111111111111"  # in no address book: only --address can put it there
    out = tmp_path / "batch.safe.json"
    code, text, err = run(capsys, "export", pid[:10], "-f", "safe", "-o", str(out), "--as", "erin",
                          "--address", f"BTC-SYN={btc}")
    assert code == 0, err
    batch = json.loads(out.read_bytes())
    assert btc.lower() in json.dumps(batch).lower()
    url = "https://forum.example.org/t/arfc-riskparams/123"
    snap = tmp_path / "p.snapshot.json"
    assert run(capsys, "export", pid[:10], "-f", "snapshot", "-o", str(snap), "--as", "erin", "--report-url",
               url)[0] == 0
    assert json.loads(snap.read_bytes())["message"]["discussion"] == url
    for bad, message in ((("--address", "BTC-SYN=0x12"), "must be 0x and 40 hex digits"),
                         (("--address", "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"), "must be SYMBOL=0xADDRESS"),
                         (("--report-url", "javascript:alert(1)"), "must be an https:// URL"),
                         (("--report-url", "https://x.org/a b"), "must be an https:// URL")):
        line = fails(capsys, "export", pid[:10], "-f", "safe", "--as", "erin", *bad)
        assert message in line and len(line.strip().splitlines()) == 1, line

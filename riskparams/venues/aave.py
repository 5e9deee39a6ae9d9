"""Aave formats (lending proposals): ``aave-config`` (the proposal generator's ``config.ts``), ``aave-aip`` (the AIP
Markdown the generator writes beside it) and ``aave`` (the earlier riskparams JSON of config-engine entries).

``aave-config``
    The file ``npm run generate -- -c config.ts`` of bgd-labs/aave-proposals-v3 reads: ``import {ConfigFile} from
    '../../generator/types'; export const config: ConfigFile = {...};`` (as the generator itself writes it,
    ``generator/generator.ts``), the object being JSON: ``rootOptions`` (``Options``: ``pools``, ``title``,
    ``shortName``, ``date``, ``author``, ``discussion``, ``snapshot``) and ``poolOptions.<pool>`` with ``configs``
    (``COLLATERALS_UPDATE``: ``CollateralUpdate[]``; ``CAPS_UPDATE``: ``CapsUpdate[]`` when caps are proposed) and
    ``cache.blockNumber``. Types: ``generator/types.ts`` and ``generator/features/types.ts`` at commit
    ff6a99cdbf6e8f97f16dde051305b213e7890c0d (vendored in ``tests/data/venues/aave/``, with the JSON Schema the
    tests validate against).
``aave-aip``
    The AIP Markdown of ``generator/templates/aip.template.ts``: front matter (title, author, discussions,
    snapshot), Simple Summary, Motivation, Specification (the table of changes), References, Copyright.
``aave``
    The earlier custom JSON (``collateralUpdates`` with ``KEEP_CURRENT = type(uint256).max - 42``), kept as it was
    for files and scripts that read it; no Aave tool reads it: prefer ``aave-config``.

Generator units (``generator/prompts/percentPrompt.ts``, ``numberPrompt.ts``)
-----------------------------------------------------------------------------
* ``ltv``, ``liqThreshold``, ``liqBonus``: percent as a decimal string with at most 2 decimals (``'80'``,
  ``'82.5'``; the bonus WITHOUT the 100 % base, ``'5'`` for 5 %): ``floor`` of LTV and threshold and ``ceil`` of
  the bonus in basis points, as before;
* ``supplyCap``, ``borrowCap``: whole tokens (``floor(cap USD / cap_price)``); ``debtCeiling``: whole USD;
* a value not proposed, or equal to the current one, is ``''``: ``translateJsPercentToSol`` and
  ``translateJsNumberToSol`` turn an empty value into ``EngineFlags.KEEP_CURRENT`` (the generator's own files
  write ``''``, e.g. ``src/20260208_AaveV3Polygon_IncreaseWBTCLiquidationBonus.../config.ts``);
* ``asset``: the Aave address book's symbol (``AaveV3EthereumAssets.<asset>_UNDERLYING``): the symbol's base,
  ``BTC`` -> ``WBTC`` and ``ETH`` -> ``WETH``, non-identifier characters replaced by ``_``;
* ``cache.blockNumber`` is 0: run the generator with ``-u`` to set it to the current block.

Caps come from the proposal's ``supply_cap``, ``borrow_cap``, ``debt_ceiling`` (USD) and ``cap_price`` (quote per
token) when present; when a cap is absent the value is kept (``''``) and the header and the AIP say so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from riskparams.exceptions import ExportError
from riskparams.jsonio import inline_json, pretty_json
from riskparams.venues._common import asset_cap, plain_line, symbol_base

if TYPE_CHECKING:
    from riskparams.store.records import StoredProposal

__all__ = [
    "AAVE_ASSET_ALIASES",
    "AAVE_V3_ETHEREUM",
    "DEFAULT_POOL",
    "GENERATOR_SOURCE",
    "LendingRow",
    "lending_rows",
    "to_aave",
    "to_aave_aip",
    "to_aave_config",
]

GENERATOR_SOURCE = "bgd-labs/aave-proposals-v3@ff6a99cdbf6e8f97f16dde051305b213e7890c0d: generator/"
"""The generator whose config file and AIP template these formats follow."""

DEFAULT_POOL = "AaveV3Ethereum"
"""The pool (``PoolIdentifier``) a config is written for."""

AAVE_ASSET_ALIASES = {"BTC": "WBTC", "ETH": "WETH"}
"""Base symbols whose Aave reserve is a wrapped token."""

# Aave V3 Ethereum (bgd-labs/aave-address-book@be65fa2d7470c8f4da59365890c646efb1066cb7, src/AaveV3Ethereum.sol):
# the risk steward and the underlying tokens of a few reserves: symbol -> (address, decimals)
AAVE_V3_ETHEREUM: dict[str, Any] = {
    "chain_id": "1",
    "RISK_STEWARD": "0xF3911922bd054Bf6f4d6A02B8ADAC444921B0c51",
    "assets": {
        "WETH": ("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", 18),
        "wstETH": ("0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0", 18),
        "WBTC": ("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", 8),
        "USDC": ("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6),
        "DAI": ("0x6B175474E89094C44Da98b954EedeAC495271d0F", 18),
        "LINK": ("0x514910771AF9Ca656af840dff83E8264EcF986CA", 18),
        "AAVE": ("0x7Fc66500c84A76Ad7e9c93437bFc5Ac33E2DDaE9", 18),
        "cbETH": ("0xBe9895146f7AF43049ca1c1AE358B0541Ea49704", 18),
    },
}
"""Addresses on Ethereum mainnet (chain id 1) from the Aave address book."""

_IDENT = re.compile(r"[^A-Za-z0-9_]")
_WORD = re.compile(r"[^A-Za-z0-9_]", re.ASCII)


def address_book_symbol(symbol: str) -> str:
    """The Aave address-book symbol of a riskparams symbol: its base (aliases applied), as an identifier."""
    base = symbol_base(symbol)
    base = AAVE_ASSET_ALIASES.get(base, base)
    for known in AAVE_V3_ETHEREUM["assets"]:
        if known.upper() == base:
            return str(known)
    ident = _IDENT.sub("_", base) or "_"
    return ident if not ident[0].isdigit() else "_" + ident


def token_address(symbol: str, addresses: Mapping[str, str]) -> str | None:
    """The token address of ``symbol``: ``addresses`` (by symbol or address-book symbol), else the address book."""
    s = str(symbol).strip().upper()
    book = address_book_symbol(symbol)
    if s in addresses:
        return addresses[s]
    if book.upper() in addresses:
        return addresses[book.upper()]
    entry = AAVE_V3_ETHEREUM["assets"].get(book)
    return None if entry is None else str(entry[0])


def _pct(bps: int) -> str:
    """Basis points as the generator's percent string: 8000 -> '80', 8250 -> '82.5', 505 -> '5.05'."""
    whole, frac = divmod(bps, 100)
    return str(whole) if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")


class LendingRow:
    """One asset of a lending payload: proposed and current values in the engine's units (bps, whole tokens,
    whole USD; None where riskparams has no value)."""

    __slots__ = ("symbol", "asset", "proposed", "current", "cap_notes")

    def __init__(self, symbol: str, asset: str, proposed: dict[str, int | None], current: dict[str, int | None],
                 cap_notes: list[str]) -> None:
        self.symbol = symbol
        self.asset = asset
        self.proposed = proposed
        self.current = current
        self.cap_notes = cap_notes

    def changed(self, key: str) -> bool:
        """A proposed value that differs from the current one (or has no current one)."""
        new = self.proposed.get(key)
        return new is not None and new != self.current.get(key)


def lending_rows(doc: Any) -> tuple[list[LendingRow], list[str]]:
    """Rows of the assets a lending payload carries (the committee's chosen option) and the symbols left out
    (not ``ok``). Caps in whole tokens need ``cap_price``; without it a cap is not written and a note says so."""
    from riskparams import export as ex

    by_symbol = {a.symbol: a for a in doc.assets}
    rows, skipped = [], []
    for v in ex._payload_assets(doc):
        a = v.lending
        if a is None:
            continue
        if a.status != "ok":
            skipped.append(a.symbol)
            continue
        src = by_symbol.get(a.symbol)
        proposed: dict[str, int | None] = {
            "ltv": ex._floor(a.ltv * 1e4), "liqThreshold": ex._floor(a.liquidation_threshold * 1e4),
            "liqBonus": ex._ceil(a.liquidation_bonus * 1e4)}
        cur = a.current
        current: dict[str, int | None] = {"ltv": None, "liqThreshold": None, "liqBonus": None} if cur is None else {
            "ltv": ex._floor(cur.ltv * 1e4), "liqThreshold": ex._floor(cur.liquidation_threshold * 1e4),
            "liqBonus": ex._ceil(cur.liquidation_bonus * 1e4)}
        notes = []
        ctx = getattr(src, "context", None)
        if ctx is not None and ctx.synthetic:
            notes.append(f"{a.symbol}: synthetic (demo) data, mapped to the Aave reserve {address_book_symbol(a.symbol)} "
                         "by its base symbol only; not for submission.")
        price = asset_cap(src, "cap_price")
        for key, name in (("supplyCap", "supply_cap"), ("borrowCap", "borrow_cap")):
            usd = asset_cap(src, name)
            if usd is None:
                proposed[key] = None
                notes.append(f"{a.symbol}: no {name.replace('_', ' ')} proposed (kept as it is).")
            elif price is None:
                proposed[key] = None
                notes.append(f"{a.symbol}: {name.replace('_', ' ')} {usd:,.0f} USD has no cap_price to convert it "
                             "to tokens (kept as it is).")
            else:
                proposed[key] = int(math.floor(usd / price))
        ceiling = asset_cap(src, "debt_ceiling")
        proposed["debtCeiling"] = None if ceiling is None else int(math.floor(ceiling))
        if ceiling is None:
            notes.append(f"{a.symbol}: no debt ceiling proposed (kept as it is).")
        reason = getattr(src, "cap_reason", None)
        if reason and any(proposed.get(k) is not None for k in ("supplyCap", "borrowCap", "debtCeiling")):
            notes.append(f"{a.symbol}: caps: {reason}")
        rows.append(LendingRow(a.symbol, address_book_symbol(a.symbol), proposed, current, notes))
    return rows, skipped


def _generator_title(doc: Any) -> str:
    from riskparams import export as ex

    return plain_line(ex._unmarked(ex._title(doc)).removeprefix("[ARFC] "))


def _pascal(text: str) -> str:
    """The generator's ``pascalCase`` (``generator/common.ts``): non-word characters become spaces, each word is
    capitalised, spaces removed."""
    words = _WORD.sub(" ", text).split()
    name = "".join(w[0].upper() + w[1:] for w in words)[:80]
    return name if name and not name[0].isdigit() else "P" + name


def _date(doc: Any) -> str:
    return (doc.created_at or "1970-01-01")[:10].replace("-", "")


def config_object(doc: Any, rows: list[LendingRow], *, pool: str = DEFAULT_POOL) -> dict[str, Any]:
    """The generator's ``ConfigFile`` object (see the module notes)."""
    title = _generator_title(doc)
    collaterals, caps = [], []
    for r in rows:
        def pct(key: str, row: LendingRow = r) -> str:
            v = row.proposed.get(key)
            return "" if v is None or not row.changed(key) else _pct(v)

        entry = {"asset": r.asset, "ltv": pct("ltv"), "liqThreshold": pct("liqThreshold"),
                 "liqBonus": pct("liqBonus"),
                 "debtCeiling": "" if r.proposed.get("debtCeiling") is None else str(r.proposed["debtCeiling"]),
                 "liqProtocolFee": ""}
        if any(entry[k] for k in ("ltv", "liqThreshold", "liqBonus", "debtCeiling")):
            collaterals.append(entry)
        if r.proposed.get("supplyCap") is not None or r.proposed.get("borrowCap") is not None:
            caps.append({"asset": r.asset,
                         "supplyCap": "" if r.proposed.get("supplyCap") is None else str(r.proposed["supplyCap"]),
                         "borrowCap": "" if r.proposed.get("borrowCap") is None else str(r.proposed["borrowCap"])})
    configs: dict[str, Any] = {}
    if caps:
        configs["CAPS_UPDATE"] = caps
    if collaterals:
        configs["COLLATERALS_UPDATE"] = collaterals
    return {
        "rootOptions": {"pools": [pool], "title": title, "shortName": _pascal(title), "date": _date(doc),
                        "author": "riskparams risk committee", "discussion": "", "snapshot": ""},
        "poolOptions": {pool: {"configs": configs, "cache": {"blockNumber": 0}}},
    }


def to_aave_config(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    pool: str = DEFAULT_POOL,
) -> bytes:
    """The Aave proposal generator's ``config.ts`` for a lending proposal (see the module notes).

    A header of ``//`` comments states the proposal, its status, the units and every note (a missing cap, an
    asset left out); the object after ``export const config: ConfigFile =`` is JSON.

    Raises
    ------
    ExportError
        A perp proposal, or no asset with a parameter to change.
    """
    from riskparams import export as ex

    doc = ex._doc(proposal, workflow, backtest)
    ex.check_profile("aave-config", doc.profile)
    rows, skipped = lending_rows(doc)
    cfg = config_object(doc, rows, pool=pool)
    if not cfg["poolOptions"][pool]["configs"]:
        raise ExportError(f"proposal {doc.id[:12]} changes no Aave parameter (every value equals the current one); "
                          "there is no config to generate.")
    status = ex._STATUS_LABEL.get(doc.status, doc.status)
    head = [f"riskparams proposal {doc.id} ({status}), created {doc.created_at or '-'}.",
            f"Aave proposal generator config ({GENERATOR_SOURCE}): npm run generate -- -c <this file> -u",
            "Units: ltv/liqThreshold/liqBonus percent (bonus without the 100% base); caps whole tokens; debtCeiling "
            "whole USD; '' keeps the current value (EngineFlags.KEEP_CURRENT).",
            "cache.blockNumber 0 is a placeholder: -u sets it to the current block."]
    if doc.banner:
        head.insert(0, doc.banner)
    notes = [n for r in rows for n in r.cap_notes] + [f"{s}: left out (not ok)." for s in skipped]
    lines = ["// " + plain_line(t).replace("*/", "* /") for t in head + notes]
    text = "\n".join([*lines, "import {ConfigFile} from '../../generator/types';",
                      f"export const config: ConfigFile = {pretty_json(cfg, sort_keys=False)};", ""])
    return text.encode("utf-8")


def _md_change(key: str, row: LendingRow) -> tuple[str, str, str]:
    unit = "pct" if key in ("ltv", "liqThreshold", "liqBonus") else "n"
    cur, new = row.current.get(key), row.proposed.get(key)

    def show(v: int | None) -> str:
        if v is None:
            return "-"
        return f"{_pct(v)} %" if unit == "pct" else f"{v:,}"

    return show(cur), show(new), "KEEP_CURRENT" if not row.changed(key) else "change"


def to_aave_aip(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    pool: str = DEFAULT_POOL,
    report_url: str | None = None,
) -> bytes:
    """The AIP Markdown of the generator's ``aip.template.ts`` for a lending proposal: front matter (values as
    JSON strings, which are YAML double-quoted scalars), Simple Summary, Motivation, Specification, References and
    Copyright. User text (symbols) goes through :func:`riskparams.export.escape_markdown`.

    Raises
    ------
    ExportError
        A perp proposal.
    """
    from riskparams import export as ex

    doc = ex._doc(proposal, workflow, backtest)
    ex.check_profile("aave-aip", doc.profile)
    rows, skipped = lending_rows(doc)
    cfg = config_object(doc, rows, pool=pool)
    opts = cfg["rootOptions"]
    url = plain_line(report_url) if report_url else ""
    folder = f"{opts['date']}_{pool}_{opts['shortName']}"
    contract = f"{pool}_{opts['shortName']}_{opts['date']}"
    out = ["---", f"title: {inline_json(opts['title'])}", f"author: {inline_json(opts['author'])}",
           f"discussions: {inline_json(url) if url else 'TODO'}", "snapshot: TODO", "---", ""]
    if doc.banner:
        out += [f"> **{doc.banner}**", ""]
    syms = ", ".join(ex.escape_markdown(r.symbol) for r in rows) or "no asset"
    out += ["## Simple Summary", "",
            f"Update the collateral parameters{' and caps' if 'CAPS_UPDATE' in cfg['poolOptions'][pool]['configs'] else ''}"
            f" of {syms} on {pool}, as proposed by the risk committee (riskparams proposal `{doc.id}`).", "",
            "## Motivation", "",
            "Volatility-adjusted LTV, liquidation threshold and liquidation bonus from a volatility forecast of each "
            "asset at the committee's policy; the forum post gives the methodology, the backtest and the committee "
            "record.", "", "## Specification", "",
            "| Asset | Parameter | Current | Proposed | Engine |", "| --- | --- | --- | --- | --- |"]
    labels = {"ltv": "LTV", "liqThreshold": "Liquidation threshold", "liqBonus": "Liquidation bonus",
              "supplyCap": "Supply cap (tokens)", "borrowCap": "Borrow cap (tokens)", "debtCeiling": "Debt ceiling (USD)"}
    for r in rows:
        for key, label in labels.items():
            cur, new, engine = _md_change(key, r)
            out.append(f"| {ex.escape_markdown(r.asset)} ({ex.escape_markdown(r.symbol)}) | {label} | {cur} | {new} "
                       f"| {engine} |")
    notes = [n for r in rows for n in r.cap_notes] + [f"{s}: left out (not ok)." for s in skipped]
    if notes:
        out += ["", *[f"- {ex.escape_markdown(n)}" for n in notes]]
    out += ["", "## References", "",
            f"- Implementation: [{pool}](https://github.com/aave-dao/aave-proposals-v3/blob/main/src/{folder}/"
            f"{contract}.sol)",
            f"- Tests: [{pool}](https://github.com/aave-dao/aave-proposals-v3/blob/main/src/{folder}/{contract}.t.sol)",
            "[Snapshot](TODO)", f"- [Discussion]({url or 'TODO'})", "",
            "## Copyright", "",
            "Copyright and related rights waived via [CC0](https://creativecommons.org/publicdomain/zero/1.0/).", ""]
    return "\n".join(out).encode("utf-8")


def to_aave(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    asset_addresses: Mapping[str, str] | None = None,
) -> bytes:
    """The earlier riskparams JSON of Aave v3 config-engine ``CollateralUpdate`` entries (lending only), bps with
    ``KEEP_CURRENT``; kept unchanged for readers of it (see :func:`to_aave_config` for the generator's file).

    Raises
    ------
    ExportError
        A perp proposal.
    """
    from riskparams import export as ex

    doc = ex._doc(proposal, workflow, backtest)
    ex.check_profile("aave", doc.profile)
    addresses = {str(k).upper(): str(v) for k, v in (asset_addresses or {}).items()}
    updates, unchanged = [], []
    for v in ex._payload_assets(doc):
        a = v.lending
        if a is None:
            continue
        proposed = {"ltv": ex._floor(a.ltv * 1e4), "liqThreshold": ex._floor(a.liquidation_threshold * 1e4),
                    "liqBonus": ex._ceil(a.liquidation_bonus * 1e4)}
        cur = a.current
        current = None if cur is None else {
            "ltv": ex._floor(cur.ltv * 1e4), "liqThreshold": ex._floor(cur.liquidation_threshold * 1e4),
            "liqBonus": ex._ceil(cur.liquidation_bonus * 1e4)}
        values = {k: (ex.KEEP_CURRENT if current is not None and current[k] == x else x) for k, x in proposed.items()}
        if all(x == ex.KEEP_CURRENT for x in values.values()):
            unchanged.append(a.symbol)
            continue
        updates.append({"asset": addresses.get(a.symbol, a.symbol), **values, "debtCeiling": ex.KEEP_CURRENT,
                        "liqProtocolFee": ex.KEEP_CURRENT})
    payload = {
        "engine": "IAaveV3ConfigEngine", "function": "collateralsUpdates", "struct": "CollateralUpdate",
        "KEEP_CURRENT": ex.KEEP_CURRENT, "collateralUpdates": updates,
        "riskparams": {
            "proposal_id": doc.id, "status": doc.status, "final": doc.final, "banner": doc.banner,
            "title": ex._unmarked(ex._title(doc)), "created_at": doc.created_at,
            "unchanged": unchanged, "option": ex._chosen_option(doc),
            "mapping": {
                "ltv": "floor(LTV x 1e4) bps (0.80 -> 8000)",
                "liqThreshold": "floor(liquidation threshold x 1e4) bps (0.825 -> 8250)",
                "liqBonus": "ceil(bonus x 1e4) bps WITHOUT the 100% base, as the config engine takes it (0.05 -> "
                            "500; the pool stores 10500)",
                "debtCeiling": "KEEP_CURRENT: riskparams does not propose debt ceilings",
                "liqProtocolFee": "KEEP_CURRENT: riskparams does not propose the protocol's share of the bonus",
                "KEEP_CURRENT": "EngineFlags.KEEP_CURRENT = type(uint256).max - 42: the engine keeps the value in "
                                "force; also used for a value equal to the current one",
                "asset": "the symbol unless an address was given; use the reserve's underlying token address",
            },
        },
    }
    return ex._dumps(ex._jsonable(payload))

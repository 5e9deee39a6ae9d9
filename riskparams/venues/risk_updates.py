"""``risk-updates``: Chaos-style ``RiskParameterUpdate`` records, one per asset x parameter (x tier), as a risk
oracle publishes them (perp and lending proposals).

Record fields and types: ``struct RiskParameterUpdate`` of ChaosLabsInc/risk-oracle@be09f47d749985f9537e185016d0f81c003a9fc9
``src/RiskOracle.sol`` (vendored in ``tests/data/venues/risk_oracle/``): ``timestamp`` (uint256), ``newValue``
(bytes), ``referenceId`` (string), ``previousValue`` (bytes), ``updateType`` (string), ``updateId`` (uint256),
``market`` (address), ``additionalData`` (bytes). In JSON: integers for the two uint256, ``0x`` hex for bytes, a
checksummed-or-not ``0x`` address for ``market``.

* ``newValue`` / ``previousValue``: ``abi.encode(uint256)`` (32 bytes) of the value in the unit of
  ``riskparams.records[i].unit``; ``previousValue`` is ``0x`` (empty) when there is no current value.
  Lending: ``ltv``, ``liquidationThreshold``, ``liquidationBonus`` in bps (bonus without the 100 % base, as the Aave
  steward takes it), ``supplyCap`` / ``borrowCap`` in whole tokens (the update types and encoding Aave's
  ``AaveStewardInjectorCaps`` reads, aave-dao/aave-v3-risk-stewards), ``debtCeiling`` in whole USD. Perps:
  ``initialMarginFraction``, ``maintenanceMarginFraction``, ``liquidationPenalty`` in ppm per tier,
  ``openInterestCap`` in whole USD.
* ``referenceId``: ``riskparams:<proposal id>:<symbol>:<updateType>[:tier N]`` (the symbol as JSON escapes it).
* ``market``: the asset's token address (``asset_addresses``, else the Aave address book for lending), else the zero
  address as a placeholder (perps have no address: ``additionalData`` names the market).
* ``additionalData``: UTF-8 bytes of canonical JSON ``{"proposal", "symbol", "tier", "unit"}``.
* ``timestamp``: the proposal's creation time (Unix seconds) and ``updateId``: 1, 2, ... in order. Both are
  placeholders: the oracle sets ``block.timestamp`` and its own counter when it publishes.

Only changed values are written (a value equal to the current one is no update); caps only when proposed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from riskparams.domain import PerpAssetProposal
from riskparams.jsonio import canonical_json
from riskparams.venues._common import (
    ZERO_ADDRESS,
    asset_cap,
    check_addresses,
    epoch_seconds,
    uint256_hex,
    utf8_hex,
)

if TYPE_CHECKING:
    from riskparams.store.records import StoredProposal

__all__ = ["RECORD_FIELDS", "SOURCE", "to_risk_updates"]

SOURCE = ("ChaosLabsInc/risk-oracle@be09f47d749985f9537e185016d0f81c003a9fc9 src/RiskOracle.sol (struct "
          "RiskParameterUpdate); aave-dao/aave-v3-risk-stewards@ab499683d120323e70349fbe210f65da08bcff5e "
          "src/contracts/AaveStewardInjectorCaps.sol (update types supplyCap, borrowCap)")
"""Where the record struct and the cap update types come from."""

RECORD_FIELDS: tuple[tuple[str, str], ...] = (
    ("timestamp", "uint256"), ("newValue", "bytes"), ("referenceId", "string"), ("previousValue", "bytes"),
    ("updateType", "string"), ("updateId", "uint256"), ("market", "address"), ("additionalData", "bytes"),
)
"""``RiskParameterUpdate`` fields and Solidity types, in struct order."""

_PERP_TYPES = (("imf", "initialMarginFraction"), ("mmf", "maintenanceMarginFraction"),
               ("liquidation_penalty", "liquidationPenalty"))


def _ppm(x: float | None) -> int | None:
    from riskparams import export as ex

    return None if x is None else ex._ceil(x * 1e6)


def to_risk_updates(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    asset_addresses: Mapping[str, str] | None = None,
) -> bytes:
    """``RiskParameterUpdate`` records of a proposal (see the module notes): JSON with ``updates`` (the records) and a
    ``riskparams`` block (``records``: symbol, parameter, tier, unit, new and previous values in plain numbers).

    Raises
    ------
    ExportError
        A malformed token address.
    """
    from riskparams import export as ex
    from riskparams.venues.aave import lending_rows, token_address

    doc = ex._doc(proposal, workflow, backtest)
    addresses = check_addresses(asset_addresses)
    created = epoch_seconds(doc.created_at)
    items: list[tuple[str, str, int | None, str, int, int | None]] = []  # symbol, type, tier, unit, new, previous
    if doc.profile == "perp":
        by_symbol = {a.symbol: a for a in doc.assets}
        for v in ex._payload_assets(doc):
            src = by_symbol.get(v.symbol)
            if v.status != "ok" or not v.tier_rows:
                continue
            current: dict[tuple[str, int | None], float | None] = {}
            if isinstance(src, PerpAssetProposal):
                current = {(ln.parameter, ln.tier): ln.current for ln in src.lines}
            for k, t in enumerate(ex._venue_tiers(v)):
                for field, kind in _PERP_TYPES:
                    new = _ppm(getattr(t, field))
                    prev = _ppm(current.get((field, k)))
                    if new is not None and new != prev:
                        items.append((v.symbol, kind, k + 1, "ppm", new, prev))
            cap = asset_cap(src, "open_interest_cap")
            if cap is not None:
                items.append((v.symbol, "openInterestCap", None, "USD", int(round(cap)), None))
        market_of = {s: addresses.get(s.upper(), ZERO_ADDRESS) for s in by_symbol}
    else:
        rows, _ = lending_rows(doc)
        names = {"ltv": "ltv", "liqThreshold": "liquidationThreshold", "liqBonus": "liquidationBonus"}
        for r in rows:
            for key, kind in names.items():
                new = r.proposed.get(key)
                if new is not None and r.changed(key):
                    items.append((r.symbol, kind, None, "bps", new, r.current.get(key)))
            for key, unit in (("supplyCap", "tokens"), ("borrowCap", "tokens"), ("debtCeiling", "USD")):
                new = r.proposed.get(key)
                if new is not None:
                    items.append((r.symbol, key, None, unit, new, None))
        market_of = {r.symbol: token_address(r.symbol, addresses) or ZERO_ADDRESS for r in rows}
    updates, records = [], []
    for n, (symbol, kind, tier, unit, new, prev) in enumerate(items, start=1):
        ref = f"riskparams:{doc.id}:{symbol}:{kind}" + ("" if tier is None else f":tier {tier}")
        extra = canonical_json({"proposal": doc.id, "symbol": symbol, "tier": tier, "unit": unit})
        updates.append({
            "timestamp": created, "newValue": uint256_hex(new), "referenceId": ref,
            "previousValue": "0x" if prev is None else uint256_hex(prev), "updateType": kind, "updateId": n,
            "market": market_of.get(symbol, ZERO_ADDRESS), "additionalData": utf8_hex(extra),
        })
        records.append({"updateId": n, "symbol": symbol, "updateType": kind, "tier": tier, "unit": unit, "new": new,
                        "previous": prev})
    payload = {
        "struct": "RiskParameterUpdate", "fields": [{"name": n, "type": t} for n, t in RECORD_FIELDS],
        "updates": updates,
        "riskparams": {
            "proposal_id": doc.id, "status": doc.status, "final": doc.final, "banner": doc.banner,
            "profile": doc.profile, "option": ex._chosen_option(doc), "source": SOURCE, "records": records,
            "placeholders": {"timestamp": "the proposal's creation time; the oracle sets block.timestamp",
                             "updateId": "1, 2, ...; the oracle assigns its own counter",
                             "market": f"{ZERO_ADDRESS} where no token address is known"},
        },
    }
    return ex._dumps(ex._jsonable(payload))

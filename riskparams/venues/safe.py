"""``safe`` (lending proposals): a Safe Transaction Builder batch for the multisig that executes an Aave change
through the Aave v3 risk steward.

dYdX v4 is a Cosmos chain governed by x/gov proposals, not by a Safe: ``safe`` takes lending proposals only (a
perp proposal is refused with one sentence; use ``dydx``).

Batch file (safe-global/safe-react-apps@b823488a161e49ba2df510ec0d04018116ed6c63,
``apps/tx-builder/src/typings/models.ts`` ``BatchFile``; checksum ``apps/tx-builder/src/lib/checksum.ts``):
``version`` ``'1.0'``, ``chainId`` (string), ``createdAt`` (ms: the proposal's creation time, so the file is
byte-stable), ``meta`` (``name``, ``description``, ``txBuilderVersion``, ``createdFromSafeAddress``,
``createdFromOwnerAddress``, ``checksum``) and ``transactions[]`` with ``to``, ``value`` ``'0'``,
``contractMethod`` (the ABI entry) and ``contractInputsValues`` (tuple arrays as JSON text: the builder's
``parseInputValue`` in ``apps/tx-builder/src/utils.ts`` reads a tuple value with ``JSON.parse``; uint256 values as
decimal strings). The checksum is the builder's: keccak-256 of its key-sorted serialisation with ``meta.name`` null.

Transactions (to the risk steward ``RISK_STEWARD`` of Aave V3 Ethereum, aave-address-book@be65fa2d):

* ``updateCollateralSide((address asset, uint256 ltv, uint256 liqThreshold, uint256 liqBonus, uint256
  liqProtocolFee)[])`` when an LTV, threshold or bonus changes;
* ``updateCaps((address asset, uint256 supplyCap, uint256 borrowCap)[])`` when caps are proposed.

ABI: ``src/interfaces/IRiskSteward.sol`` of aave-dao/aave-v3-risk-stewards@ab499683d120323e70349fbe210f65da08bcff5e
with ``IAaveV3ConfigEngine.CollateralUpdate`` / ``CapsUpdate`` of aave-dao/aave-v3-origin@fd1fbd91 (the current
engine has no ``debtCeiling`` in ``CollateralUpdate``: debt ceilings go through ``aave-config``). Values: bps
(bonus without the 100 % base), caps in whole tokens, ``EngineFlags.KEEP_CURRENT = type(uint256).max - 42`` for a
value not changed. The steward enforces its own ``minDelay`` and ``maxPercentChange``: a larger move needs a
governance proposal (``aave-config``) or a phased plan. Assets need a token address: ``asset_addresses`` or the
address book; an asset without one is left out and named in ``meta.description``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from riskparams.exceptions import ExportError
from riskparams.jsonio import canonical_json
from riskparams.venues._common import ADDRESS, check_addresses, epoch_seconds, plain_line
from riskparams.venues.aave import AAVE_V3_ETHEREUM, lending_rows, token_address

if TYPE_CHECKING:
    from riskparams.store.records import StoredProposal

__all__ = ["SAFE_TX_BUILDER_VERSION", "SOURCE", "UPDATE_CAPS", "UPDATE_COLLATERAL_SIDE", "batch_checksum", "to_safe"]

SOURCE = ("safe-global/safe-react-apps@b823488a161e49ba2df510ec0d04018116ed6c63 apps/tx-builder/src/typings/models.ts, "
          "src/lib/checksum.ts; aave-dao/aave-v3-risk-stewards@ab499683d120323e70349fbe210f65da08bcff5e "
          "src/interfaces/IRiskSteward.sol; aave-dao/aave-v3-origin@fd1fbd9150426ca8ace9cee45b4acf912ae84f5b "
          "src/contracts/extensions/v3-config-engine/IAaveV3ConfigEngine.sol; "
          "bgd-labs/aave-address-book@be65fa2d7470c8f4da59365890c646efb1066cb7 src/AaveV3Ethereum.sol")
"""Where the batch format, the ABI and the addresses come from."""

SAFE_TX_BUILDER_VERSION = "1.18.3"
"""``apps/tx-builder/package.json`` version at the commit above."""

_UINT = {"internalType": "uint256", "type": "uint256"}
UPDATE_COLLATERAL_SIDE: dict[str, Any] = {
    "inputs": [{"internalType": "struct IAaveV3ConfigEngine.CollateralUpdate[]", "name": "collateralUpdates",
                "type": "tuple[]", "components": [
                    {"internalType": "address", "name": "asset", "type": "address"},
                    {**_UINT, "name": "ltv"}, {**_UINT, "name": "liqThreshold"}, {**_UINT, "name": "liqBonus"},
                    {**_UINT, "name": "liqProtocolFee"}]}],
    "name": "updateCollateralSide", "payable": False,
}
"""``IRiskSteward.updateCollateralSide`` as a Transaction Builder ``ContractMethod``."""

UPDATE_CAPS: dict[str, Any] = {
    "inputs": [{"internalType": "struct IAaveV3ConfigEngine.CapsUpdate[]", "name": "capUpdates", "type": "tuple[]",
                "components": [{"internalType": "address", "name": "asset", "type": "address"},
                               {**_UINT, "name": "supplyCap"}, {**_UINT, "name": "borrowCap"}]}],
    "name": "updateCaps", "payable": False,
}
"""``IRiskSteward.updateCaps`` as a Transaction Builder ``ContractMethod``."""


def _serialise(value: Any) -> str:
    """The Transaction Builder's ``serializeJSONObject``: objects as the JSON list of their sorted keys followed by
    each value and a comma, arrays as ``[a,b]``, scalars as ``JSON.stringify``."""
    if isinstance(value, list):
        return "[" + ",".join(_serialise(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value)
        return "{" + canonical_json(keys) + "".join(_serialise(value[k]) + "," for k in keys) + "}"
    return canonical_json(value)


def batch_checksum(batch: Mapping[str, Any]) -> str:
    """The Transaction Builder's checksum of a batch (``0x`` + keccak-256 hex of :func:`_serialise` of the batch with
    ``meta.name`` null); ``meta.checksum`` is left out when absent, as on import."""
    from eth_hash.auto import keccak

    data = {**batch, "meta": {**batch["meta"], "name": None}}
    return "0x" + keccak(_serialise(data).encode("utf-8")).hex()


def to_safe(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    asset_addresses: Mapping[str, str] | None = None,
    safe_address: str = "",
) -> bytes:
    """Safe Transaction Builder batch executing a lending proposal through the Aave v3 risk steward (see the module
    notes).

    Raises
    ------
    ExportError
        A perp proposal, a malformed address, or no asset with a change and a known token address.
    """
    from riskparams import export as ex

    doc = ex._doc(proposal, workflow, backtest)
    ex.check_profile("safe", doc.profile)
    addresses = check_addresses(asset_addresses)
    if safe_address and not ADDRESS.match(str(safe_address)):
        raise ExportError(f"the Safe address must be 0x and 40 hex digits, got {plain_line(safe_address)!r}.")
    rows, skipped = lending_rows(doc)
    keep = str(ex.KEEP_CURRENT)
    collateral, caps, missing, notes = [], [], [], []
    for r in rows:
        address = token_address(r.symbol, addresses)
        values = {k: str(r.proposed[k]) if r.changed(k) else keep for k in ("ltv", "liqThreshold", "liqBonus")}
        has_caps = r.proposed.get("supplyCap") is not None or r.proposed.get("borrowCap") is not None
        if all(v == keep for v in values.values()) and not has_caps:
            continue
        if address is None:
            missing.append(r.symbol)
            continue
        if any(v != keep for v in values.values()):
            collateral.append([address, values["ltv"], values["liqThreshold"], values["liqBonus"], keep])
        if has_caps:
            caps.append([address, *(keep if r.proposed.get(k) is None else str(r.proposed[k])
                                    for k in ("supplyCap", "borrowCap"))])
        notes += r.cap_notes
        if r.proposed.get("debtCeiling") is not None:
            notes.append(f"{r.symbol}: debt ceiling {r.proposed['debtCeiling']:,} USD is not set by the risk steward "
                         "(use aave-config).")
    transactions: list[dict[str, Any]] = []
    steward = str(AAVE_V3_ETHEREUM["RISK_STEWARD"])
    if collateral:
        transactions.append({"to": steward, "value": "0", "contractMethod": UPDATE_COLLATERAL_SIDE,
                             "contractInputsValues": {"collateralUpdates": canonical_json(collateral)}})
    if caps:
        transactions.append({"to": steward, "value": "0", "contractMethod": UPDATE_CAPS,
                             "contractInputsValues": {"capUpdates": canonical_json(caps)}})
    if not transactions:
        what = (f"no token address is known for {', '.join(plain_line(s) for s in missing)} (pass asset addresses)"
                if missing else "every value equals the current one")
        raise ExportError(f"proposal {doc.id[:12]} gives no Safe transaction: {what}.")
    status = ex._STATUS_LABEL.get(doc.status, doc.status)
    desc = [f"riskparams proposal {doc.id} ({status}) through the Aave V3 Ethereum risk steward {steward}.",
            "Values in bps (bonus without the 100% base), caps in whole tokens, "
            f"{keep} = EngineFlags.KEEP_CURRENT. The steward refuses moves beyond its maxPercentChange or before "
            "its minDelay."]
    if doc.banner:
        desc.insert(0, doc.banner)
    desc += notes + [f"{s}: left out, no token address known." for s in missing]
    desc += [f"{s}: left out (not ok)." for s in skipped]
    batch: dict[str, Any] = {
        "version": "1.0", "chainId": str(AAVE_V3_ETHEREUM["chain_id"]), "createdAt": epoch_seconds(doc.created_at) * 1000,
        "meta": {"name": plain_line(ex._unmarked(ex._title(doc)))[:200], "description": plain_line(" ".join(desc)),
                 "txBuilderVersion": SAFE_TX_BUILDER_VERSION, "createdFromSafeAddress": safe_address,
                 "createdFromOwnerAddress": ""},
        "transactions": transactions,
    }
    batch["meta"]["checksum"] = batch_checksum(batch)
    return ex._dumps(batch)

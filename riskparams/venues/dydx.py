"""``dydx``: a dYdX v4 governance proposal file (the JSON ``dydxprotocold tx gov submit-proposal FILE`` reads).

Keys: ``title``, ``summary``, ``metadata``, ``deposit``, ``expedited``, ``messages`` (the ``proposal`` struct
that ``parseSubmitProposal`` in cosmos-sdk ``x/gov/client/cli/util.go`` reads with Go's ``json.Unmarshal``, e.g. at
4251905d56e0e7a3350145beedceafe786953295) and a ``riskparams`` block (mapping, notes, tiers), which that reader
ignores as it ignores every unknown key; each message is read strictly (``UnmarshalInterfaceJSON``). ``messages`` holds, in this order:

1. one ``/dydxprotocol.perpetuals.MsgSetLiquidityTier`` per asset and notional tier (creates or updates the
   liquidity tier: messages run in order, so the tiers exist before a market is attached to one);
2. one ``/dydxprotocol.perpetuals.MsgUpdatePerpetualParams`` per asset whose dYdX market is known, attaching the
   market to the liquidity tier of the asset's tier 1 (dYdX v4 has one liquidity tier per market and no notional
   brackets: the higher riskparams tiers are created for the record and attached to no market).

Field names and types follow ``proto/dydxprotocol/perpetuals/perpetual.proto`` and ``tx.proto`` of
dydxprotocol/v4-chain (vendored in ``tests/data/venues/dydx/``, checked by ``tests/test_venues.py``).

Mapping
-------
* ``initial_margin_ppm = ceil(IMF x 1e6)``, ``maintenance_fraction_ppm = ceil(MMF / IMF x 1e6)`` (dYdX's
  maintenance margin is a fraction of the initial margin; rounding up keeps it at or above the proposed MMF);
* ``impact_notional = round(500 USDC / IMF)`` in quote quantums (1 USDC = 1e6), dYdX's recommended value;
* open-interest caps: dYdX scales the IMF linearly from the base IMF at ``open_interest_lower_cap`` to 100 % at
  ``open_interest_upper_cap`` (``LiquidityTier.GetAdjustedInitialMarginPpm`` in
  ``protocol/x/perpetuals/types/liquidity_tier.go``; an upper cap of 0 turns the scaling off). With a proposed
  ``open_interest_cap`` C (USD) of the asset: ``upper = round(C x 1e6)`` quote quantums (no new position can
  open once the open interest reaches C, the IMF being 100 %) and ``lower = upper / 2`` (half, the ratio of
  dYdX's Long-Tail, Isolated and FX tiers in ``protocol/scripts/genesis/sample_pregenesis.json``), so that the
  IMF starts rising at half the cap. Without a cap both are 0 and the notes say so.
* ``MsgUpdatePerpetualParams.perpetual_params``: ``ticker = BASE-USD`` from the symbol (``BTC-SYN`` -> ``BTC-USD``);
  ``id``, ``market_id``, ``atomic_resolution``, ``default_funding_ppm`` and ``market_type`` from
  :data:`DYDX_PERPETUALS` (copied from ``sample_pregenesis.json``) or from ``markets`` when given. The message
  overwrites every field of the perpetual: check them against ``dydxprotocold query perpetuals
  get-perpetual ID`` before submitting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from riskparams.exceptions import ExportError
from riskparams.venues._common import asset_cap, symbol_base

if TYPE_CHECKING:
    from riskparams.store.records import StoredProposal

__all__ = [
    "DYDX_DEPOSIT",
    "DYDX_OI_LOWER_SHARE",
    "DYDX_PERPETUALS",
    "DYDX_UPDATE_PERPETUAL_TYPE",
    "SOURCE",
    "to_dydx",
]

SOURCE = ("dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30: proto/dydxprotocol/perpetuals/"
          "{perpetual,tx}.proto, protocol/x/perpetuals/types/liquidity_tier.go, "
          "protocol/scripts/genesis/sample_pregenesis.json")
"""Where the message shapes, the open-interest rule and the market table come from."""

DYDX_UPDATE_PERPETUAL_TYPE = "/dydxprotocol.perpetuals.MsgUpdatePerpetualParams"
"""Type URL of the message that sets a perpetual's parameters (and its liquidity tier)."""

DYDX_DEPOSIT = "10000000000000000000000adydx"
"""Initial deposit: 10,000 DYDX (18 decimals), the ``min_deposit`` amount of dYdX's sample genesis."""

DYDX_OI_LOWER_SHARE = 0.5
"""``open_interest_lower_cap`` as a share of the upper cap."""

_MARKET_TYPES = {1: "PERPETUAL_MARKET_TYPE_CROSS", 2: "PERPETUAL_MARKET_TYPE_ISOLATED"}

# ticker: (perpetual id, market_id, atomic_resolution, default_funding_ppm, liquidity_tier, market_type), copied
# from protocol/scripts/genesis/sample_pregenesis.json of dydxprotocol/v4-chain@84d4664b (app_state.perpetuals)
DYDX_PERPETUALS: dict[str, tuple[int, int, int, int, int, int]] = {
    "BTC-USD": (0, 0, -10, 100, 0, 1), "ETH-USD": (1, 1, -9, 100, 0, 1), "LINK-USD": (2, 2, -6, 100, 1, 1),
    "POL-USD": (3, 3, -5, 100, 1, 1), "CRV-USD": (4, 4, -5, 100, 1, 1), "SOL-USD": (5, 5, -7, 100, 1, 1),
    "ADA-USD": (6, 6, -5, 100, 1, 1), "AVAX-USD": (7, 7, -7, 100, 1, 1), "FIL-USD": (8, 8, -6, 100, 1, 1),
    "LTC-USD": (9, 9, -7, 100, 1, 1), "DOGE-USD": (10, 10, -4, 100, 1, 1), "ATOM-USD": (11, 11, -6, 100, 1, 1),
    "DOT-USD": (12, 12, -6, 100, 1, 1), "UNI-USD": (13, 13, -6, 100, 1, 1), "BCH-USD": (14, 14, -8, 100, 1, 1),
    "TRX-USD": (15, 15, -4, 100, 1, 1), "NEAR-USD": (16, 16, -6, 100, 1, 1), "MKR-USD": (17, 17, -9, 100, 2, 1),
    "XLM-USD": (18, 18, -5, 100, 1, 1), "ETC-USD": (19, 19, -7, 100, 1, 1), "COMP-USD": (20, 20, -7, 100, 2, 1),
    "WLD-USD": (21, 21, -6, 100, 1, 1), "APE-USD": (22, 22, -6, 100, 2, 1), "APT-USD": (23, 23, -6, 100, 1, 1),
    "ARB-USD": (24, 24, -6, 100, 1, 1), "BLUR-USD": (25, 25, -5, 100, 2, 1), "LDO-USD": (26, 26, -6, 100, 2, 1),
    "OP-USD": (27, 27, -6, 100, 1, 1), "PEPE-USD": (28, 28, 1, 100, 1, 1), "SEI-USD": (29, 29, -5, 100, 2, 1),
    "SHIB-USD": (30, 30, 0, 100, 1, 1), "SUI-USD": (31, 31, -5, 100, 1, 1), "XRP-USD": (32, 32, -5, 100, 1, 1),
    "EIGEN-USD": (300, 300, -6, 0, 4, 2), "BOME-USD": (301, 301, -3, 0, 4, 2),
}
"""dYdX perpetuals by ticker: ``(id, market_id, atomic_resolution, default_funding_ppm, liquidity_tier,
market_type)`` (market type 1 cross, 2 isolated)."""

_PERP_KEYS = ("id", "market_id", "atomic_resolution", "default_funding_ppm", "liquidity_tier", "market_type")


def _market(ticker: str, markets: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The perpetual params of ``ticker`` (from ``markets``, else :data:`DYDX_PERPETUALS`), or None."""
    given = {str(k).upper(): v for k, v in (markets or {}).items()}
    if ticker in given:
        m = given[ticker]
        if not isinstance(m, Mapping) or any(k not in m for k in _PERP_KEYS[:4]):
            raise ExportError(f"the dYdX market given for {ticker} must be an object with id, market_id, "
                              "atomic_resolution and default_funding_ppm.")
        for k in _PERP_KEYS[:4]:
            if isinstance(m[k], bool) or not isinstance(m[k], int):
                raise ExportError(f"the dYdX market given for {ticker} has {k} {m[k]!r}, not a whole number.")
        return {"id": m["id"], "market_id": m["market_id"], "atomic_resolution": m["atomic_resolution"],
                "default_funding_ppm": m["default_funding_ppm"],
                "market_type": _MARKET_TYPES.get(m.get("market_type", 1), "PERPETUAL_MARKET_TYPE_CROSS")}
    row = DYDX_PERPETUALS.get(ticker)
    if row is None:
        return None
    return {"id": row[0], "market_id": row[1], "atomic_resolution": row[2], "default_funding_ppm": row[3],
            "market_type": _MARKET_TYPES[row[5]]}


def to_dydx(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    first_id: int | None = None,
    markets: Mapping[str, Any] | None = None,
) -> bytes:
    """dYdX v4 governance proposal file (perp only): ``MsgSetLiquidityTier`` per asset and tier, then
    ``MsgUpdatePerpetualParams`` attaching each known market to its tier-1 liquidity tier (see the module notes).

    Parameters
    ----------
    first_id : int, optional
        Id of the first liquidity tier (>= 0; default :data:`riskparams.export.DYDX_FIRST_TIER_ID`).
    markets : mapping, optional
        ``{TICKER: {"id", "market_id", "atomic_resolution", "default_funding_ppm"[, "market_type"]}}`` overriding
        :data:`DYDX_PERPETUALS` (e.g. from ``dydxprotocold query perpetuals list-perpetual``).

    Raises
    ------
    ExportError
        A lending proposal, a negative ``first_id`` or a malformed ``markets`` entry.
    """
    from riskparams import export as ex

    first_id = ex.DYDX_FIRST_TIER_ID if first_id is None else first_id
    doc = ex._doc(proposal, workflow, backtest)
    ex.check_profile("dydx", doc.profile)
    if isinstance(first_id, bool) or not isinstance(first_id, int) or first_id < 0:
        raise ExportError(f"the first dYdX liquidity tier id must be a whole number >= 0, got {first_id!r}.")
    by_symbol = {a.symbol: a for a in doc.assets}
    tier_msgs: list[dict[str, Any]] = []
    market_msgs: list[dict[str, Any]] = []
    tiers, left_out, unattached, notes = [], [], [], []
    next_id = first_id
    for a in ex._payload_assets(doc):
        if a.status != "ok" or not a.tier_rows:
            left_out.append({"symbol": a.symbol, "reason": f"{a.status}: no tier can be offered"})
            continue
        ctx = getattr(by_symbol.get(a.symbol), "context", None)
        if ctx is not None and ctx.synthetic:
            notes.append(f"{a.symbol}: synthetic (demo) data, mapped to a dYdX market by its base symbol only; not for "
                         "submission.")
        cap = asset_cap(by_symbol.get(a.symbol), "open_interest_cap")
        if cap is None:
            upper = lower = 0
            notes.append(f"{a.symbol}: no open-interest cap proposed; open_interest_lower_cap = "
                         "open_interest_upper_cap = 0 (the IMF does not scale with open interest).")
        else:
            upper = int(round(cap * ex.QUOTE_QUANTUMS_PER_USDC))
            lower = int(upper * DYDX_OI_LOWER_SHARE)
            reason = getattr(by_symbol.get(a.symbol), "cap_reason", None)
            notes.append(f"{a.symbol}: open-interest cap {cap:,.0f} USD -> IMF rises linearly from "
                         f"{lower / 1e6:,.0f} USD of open interest and reaches 100% at {upper / 1e6:,.0f} USD"
                         + (f" ({reason})." if reason else "."))
        tier1_id = next_id
        for k, t in enumerate(ex._venue_tiers(a)):
            imf_ppm = min(1_000_000, ex._ceil(t.imf * 1e6))
            mf_ppm = min(1_000_000, ex._ceil(t.mmf / t.imf * 1e6))
            impact = int(round(ex.DYDX_IMPACT_USDC * ex.QUOTE_QUANTUMS_PER_USDC * 1e6 / imf_ppm))
            tier_msgs.append({"@type": ex.DYDX_MSG_TYPE, "authority": ex.DYDX_GOV_AUTHORITY, "liquidity_tier": {
                "id": next_id, "name": f"{a.symbol} tier {k + 1}", "initial_margin_ppm": imf_ppm,
                "maintenance_fraction_ppm": mf_ppm, "impact_notional": impact, "open_interest_lower_cap": lower,
                "open_interest_upper_cap": upper,
            }})
            tiers.append({
                "id": next_id, "symbol": a.symbol, "tier": k + 1, "notional_floor": t.notional_floor,
                "notional_cap": t.notional_cap, "max_leverage": t.max_leverage, "imf": t.imf, "mmf": t.mmf,
                "liquidation_penalty": t.liquidation_penalty, "maintenance_deduction": t.maintenance_deduction,
                "effective_imf": imf_ppm / 1e6, "effective_mmf": imf_ppm * mf_ppm / 1e12,
                "attached": k == 0,
            })
            next_id += 1
        ticker = f"{symbol_base(a.symbol)}-USD"
        market = _market(ticker, markets)
        if market is None:
            unattached.append({"symbol": a.symbol, "ticker": ticker, "liquidity_tier": tier1_id,
                               "reason": "no known dYdX perpetual with this ticker; attach it by hand or pass markets"})
            continue
        market_msgs.append({"@type": DYDX_UPDATE_PERPETUAL_TYPE, "authority": ex.DYDX_GOV_AUTHORITY,
                            "perpetual_params": {**market, "ticker": ticker, "liquidity_tier": tier1_id}})
    title = ex._unmarked(ex._title(doc))
    summary = (f"{title}. riskparams proposal {doc.id} ({ex._STATUS_LABEL.get(doc.status, doc.status)}), "
               f"created {doc.created_at or '-'}. One liquidity tier per asset and notional tier; each market is "
               "attached to the liquidity tier of its first notional tier. IMF and MMF from a volatility forecast at "
               "the committee's policy. See the forum post for the methodology.")
    payload = {
        "title": title.removeprefix("[ARFC] ")[:140], "summary": summary, "metadata": f"riskparams:{doc.id}",
        "deposit": DYDX_DEPOSIT, "expedited": False, "messages": tier_msgs + market_msgs,
        "riskparams": {
            "proposal_id": doc.id, "status": doc.status, "final": doc.final, "banner": doc.banner,
            "option": ex._chosen_option(doc), "source": SOURCE,
            "mapping": {
                "initial_margin_ppm": "ceil(IMF x 1e6), IMF = 1 / max leverage",
                "maintenance_fraction_ppm": "ceil(MMF / IMF x 1e6): dYdX's maintenance margin is a fraction of the "
                                            "initial margin; rounding up keeps it at or above the proposed MMF",
                "impact_notional": "round(500 USDC / IMF) in quote quantums (1 USDC = 1e6), dYdX's recommended value",
                "open_interest_upper_cap": "round(open_interest_cap USD x 1e6) quote quantums: dYdX raises the IMF "
                                           "linearly to 100% as open interest approaches it (0 = no scaling, used "
                                           "when no cap is proposed)",
                "open_interest_lower_cap": f"{DYDX_OI_LOWER_SHARE:g} x the upper cap: the IMF starts rising there",
                "id": f"sequential from {first_id}, one per asset and tier in symbol then tier order; map them to the "
                      "venue's free liquidity tier ids before submitting",
                "name": "SYMBOL tier N",
                "perpetual_params": "ticker BASE-USD; id, market_id, atomic_resolution, default_funding_ppm and "
                                    "market_type from dYdX's sample genesis (check them on chain: the message "
                                    "overwrites every field); liquidity_tier = the asset's tier-1 liquidity tier",
                "authority": "the dYdX x/gov module account",
                "deposit": "10,000 DYDX in adydx (18 decimals); check the chain's gov min_deposit",
            },
            "not_mapped": [
                "notional brackets: dYdX v4 has one liquidity tier per market, so the market is attached to its "
                "tier-1 liquidity tier and the higher tiers are created for the record only",
                "liquidation_penalty: dYdX sets liquidation fees module-wide",
                "maintenance_deduction and position_limit",
            ],
            "notes": notes, "tiers": tiers, "left_out": left_out, "unattached": unattached,
        },
    }
    return ex._dumps(ex._jsonable(payload))

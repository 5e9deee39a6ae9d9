"""Proposal: policy form, generate, tier ladders current vs proposed, changes with guardrail marks,
rationale, and manual overrides that need a written justification."""

from __future__ import annotations

import streamlit as st

from riskparams import config, governance, service, ui, views

ui.setup_page("Proposal")
with ui.guarded("Opening the store"):
    store = ui.get_store()
    base = config.RiskPolicy()
    committee = ui.store_committee(store)
who = ui.acting_member(committee)

symbols = sorted({s.symbol for s in store.list_series()})
AUTO = "auto"
with st.form("policy"):
    st.markdown("**Policy** (defaults from `riskparams/examples/policy.toml`)")
    c1, c2, c3, c4 = st.columns(4)
    profile = c1.selectbox("Profile", ["perp", "lending"])
    confidence = c2.number_input("Confidence", min_value=0.9, max_value=0.9999, value=base.confidence, step=0.005,
                                 format="%.4f")
    measure = c3.selectbox("Measure", ["es", "var"], index=0 if base.measure.value == "es" else 1)
    combine = c4.selectbox("Model risk: combine fitted / FHS / historical",
                           ["median", "max", "min", "fitted", "fhs", "empirical"],
                           index=["median", "max", "min", "fitted", "fhs", "empirical"].index(
                               base.model_risk.combine.value))
    st.markdown("**Margin period of risk** (perpetuals: per tier, oracle latency + liquidation delay + close-out "
                "time of the tier's notional at a share of the market's volume; lending: one horizon)")
    c1, c2, c3, c4 = st.columns(4)
    oracle = c1.number_input("Oracle latency (minutes)", min_value=0.0, max_value=1440.0,
                             value=base.mpor.oracle_latency_minutes, step=0.5)
    delay = c2.number_input("Liquidation delay (minutes)", min_value=0.0, max_value=1440.0,
                            value=base.mpor.liquidation_delay_minutes, step=1.0)
    participation = c3.number_input("Participation rate (share of volume)", min_value=0.01, max_value=1.0,
                                    value=base.mpor.participation_rate, step=0.01)
    horizon = c4.number_input("Lending horizon (hours)", min_value=0.25, max_value=720.0, value=base.horizon_hours)
    c1, c2, c3, c4 = st.columns(4)
    buffer_on = c1.checkbox("APC buffer (25%, released in stress)", value=base.apc.buffer_enabled)
    stressed_on = c2.checkbox("APC stressed-period weight", value=base.apc.stressed_weight_enabled)
    floor_on = c3.checkbox("APC long-run floor", value=base.apc.long_run_floor_enabled)
    incentive = c4.number_input("Liquidator incentive (fraction)", min_value=0.0, max_value=0.2,
                                value=base.liquidator_incentive, step=0.001, format="%.4f")
    c1, c2, c3, c4 = st.columns(4)
    max_change = c1.number_input("Guardrail: max relative change", min_value=0.01, max_value=10.0,
                                 value=base.guardrails.max_relative_change, step=0.05)
    dead_band = c2.number_input("Guardrail: dead-band (relative)", min_value=0.0, max_value=1.0,
                                value=base.guardrails.dead_band, step=0.01)
    mmf_share = c3.number_input("Maintenance as a share of initial margin", min_value=0.05, max_value=0.95,
                                value=base.perp.maintenance_fraction, step=0.05)
    loosen = c4.checkbox("Allow loosening in a stressed regime", value=base.guardrails.loosen_in_stress)
    st.markdown("**Data and comparisons**")
    c1, c2, c3, c4 = st.columns(4)
    freq = c1.selectbox("Frequency", [AUTO, "1h", "4h", "1d"],
                        help="auto: the finest frequency with a year of history")
    kind = c2.selectbox("Kind", [AUTO, "perp", "spot"], help="auto: perp prices for perpetuals, spot for lending")
    option_names = c3.multiselect("Options side by side", sorted(base.option_overrides()),
                                  default=["conservative", "moderate", "aggressive"])
    debt = c4.text_input("Lending debt asset", value=base.lending.debt_asset,
                         help="a stablecoin prices the collateral as stored; another stored symbol uses the ratio")
    c1, c2 = st.columns([3, 1])
    chosen = c1.multiselect("Assets (all when empty)", symbols)
    with_synthetic = c2.checkbox("Include synthetic demo assets", value=False, help="Only matters when market data "
                                 "is stored and no assets are chosen: then 'all' means the market data only. "
                                 "Assets chosen by name are always used.")
    c1, c2 = st.columns(2)
    current_file = c1.file_uploader("Current parameters (CSV or JSON, optional)", type=["csv", "json"])
    peers_file = c2.file_uploader("Peer venues' tier tables (CSV, optional)", type=["csv"])
    example_peers = c2.checkbox("Compare with the shipped Binance / Hyperliquid / dYdX tables", value=True)
    generate = st.form_submit_button("Generate proposal", type="primary", disabled=not ui.can_change_data())

if generate:
    with ui.guarded("Proposal"):
        policy = config.policy_with(base, {
            "confidence": confidence, "horizon_hours": horizon, "measure": measure,
            "model_risk.combine": combine, "mpor.oracle_latency_minutes": oracle,
            "mpor.liquidation_delay_minutes": delay, "mpor.participation_rate": participation,
            "liquidator_incentive": incentive, "apc.buffer_enabled": buffer_on,
            "apc.stressed_weight_enabled": stressed_on, "apc.long_run_floor_enabled": floor_on,
            "guardrails.max_relative_change": max_change, "guardrails.dead_band": dead_band,
            "guardrails.loosen_in_stress": loosen, "perp.maintenance_fraction": mmf_share,
        })
        current = ui.current_from_upload(current_file, profile)
        peers = ui.peers_from_upload(peers_file, example=example_peers) if profile == "perp" else None
        run = ui.generate_proposal(store, profile=profile, policy=policy, current=current, symbols=chosen or None,
                                   freq=None if freq == AUTO else freq, kind=None if kind == AUTO else kind,
                                   options=option_names or None, peers=peers,
                                   debt_asset=debt.strip() or None if profile == "lending" else None,
                                   include_synthetic=with_synthetic)
    st.session_state["proposal_id"] = run.id

proposal_id = st.session_state.get("proposal_id")
if not proposal_id:
    st.info("Set the policy and generate a proposal. Proposals are stored as drafts; the Governance page "
            "takes them through review, sign-off and export.")
    ui.stop()

with ui.guarded("Loading the proposal"):
    stored = service.proposal(store, proposal_id)
    proposal = ui.cached_typed_proposal(stored.id)
    figures = ui.cached_proposal_figures(stored.id)
perp = proposal.profile == "perp"
st.success(f"Proposal `{stored.id[:12]}` ({proposal.profile}, status {stored.status}): "
           f"{len(proposal.assets)} assets, {len(proposal.skipped)} skipped.")
for s in proposal.skipped:
    st.warning(f"{s.symbol} skipped: {s.reason}")

stale = views.stale_series(proposal, ui.now())
if stale:
    st.warning("Proposed on data that stopped some time ago (the parameters describe the market as it was then): "
               + "; ".join(stale) + ".")
under = views.under_covered(proposal)
if under:
    st.error("Under-covered (a guardrail holds the margin below the model's): " + "; ".join(under) + ".")

st.subheader("Tier ladders: current vs proposed" if perp else "Current vs proposed")
for fig in figures["spec"]:
    st.plotly_chart(fig, width="stretch")
st.plotly_chart(figures["covered"][0], width="stretch")

st.subheader("Model risk, caps and series")
st.caption("The covered move before anti-procyclicality at tier 1's margin period of risk (lending: the policy's "
           "horizon) from the fitted law, filtered historical simulation (FHS) and plain historical simulation; "
           "the policy combines them and the rationale says which one bound. Caps (quote currency): open interest "
           "(perp) or supply and borrow (lending), with the limit that binds: liquidity (the liquidations after "
           "the extreme move close with slippage below the penalty or bonus) or the policy's loss budget.")
st.dataframe(views.model_risk_frame(proposal), hide_index=True, width="stretch", column_order=(
    "symbol", "combined", "fitted", "FHS", "historical", "bound by", "horizon (h)", "nu", "regime", "capital cost",
    "caps", "series", "data to"), column_config={
    c: ui.percent(c) for c in ("fitted", "FHS", "historical", "combined",
                                                                    "capital cost")
} | {"horizon (h)": st.column_config.NumberColumn("horizon (h)", format="%.3g"),
     "nu": st.column_config.NumberColumn("nu", format="%.2f")})
if perp:
    st.subheader("Tiers: margin period of risk and coverage")
    st.dataframe(views.tiers_frame(proposal), hide_index=True, width="stretch", column_config={
        c: ui.percent(c) for c in ("covered move", "close-out cost", "MMF",
                                                                        "IMF", "penalty", "coverage")
    } | {"MPOR (h)": st.column_config.NumberColumn("MPOR (h)", format="%.3g")},
        column_order=("symbol", "tier", "from", "to", "max leverage", "IMF", "MMF", "penalty", "coverage",
                      "under-covered", "MPOR (h)", "covered move", "close-out cost"))
options = views.options_frame(proposal)
if not options.empty:
    st.subheader("Options")
    st.caption("The same data under named variants of the policy. Each option's coverage is under its own "
               "model-risk choice and margin period of risk; capital cost is the initial margin of the reference "
               "position (lending: 1 - LTV).")
    st.dataframe(options, hide_index=True, width="stretch", column_config={
        c: ui.percent(c) for c in ("tier-1 MMF", "tier-1 penalty",
                                                                        "tier-1 coverage", "capital cost", "LTV",
                                                                        "LT", "bonus", "coverage")
    })
peers_table = views.peers_frame(proposal)
if not peers_table.empty:
    st.subheader("Peer venues (max leverage / maintenance rate at each tier's floor)")
    st.dataframe(peers_table, hide_index=True, width="stretch")

st.subheader("Changes")
st.caption("`bound by` says what set the value: the model, a guardrail (max_change, dead_band), an invariant, "
           "rounding or the grid; `uncapped (model)` is the value before guardrails.")
st.dataframe(views.specification_frame(proposal), hide_index=True, width="stretch", column_config={
    "tier": st.column_config.NumberColumn("tier", format="%d"),
    "notional": st.column_config.TextColumn("notional", help="the tier's position-notional bracket (quote currency)"),
})

st.subheader("Rationale")
for symbol, text in views.rationale(proposal).items():
    st.markdown(f"**{symbol}**: {text}")

st.subheader("Manual override")
st.caption("An override creates a new revision (a draft linked to this proposal) and needs a written "
           "justification; both go to the audit log.")
with st.form("override"):
    c1, c2, c3, c4 = st.columns(4)
    o_symbol = c1.selectbox("Asset", [a.symbol for a in proposal.assets])
    params = (["max_leverage", "imf", "mmf", "liquidation_penalty"] if perp
              else ["ltv", "liquidation_threshold", "liquidation_bonus"])
    o_param = c2.selectbox("Parameter", params)
    o_tier = c3.number_input("Tier (1-based, perps)", min_value=1, max_value=20, value=1)
    o_value = c4.text_input("New value", placeholder="e.g. 0.05, 5%, 10x, 500bps")
    justification = st.text_area("Justification (required)")
    override = st.form_submit_button("Create revision", disabled=who is None)
if who is None:
    st.caption(f"Overrides are made by a committee member. {ui.identity_note()}")
elif override:
    with ui.guarded("Override"):
        spec = f"{o_symbol}:{o_param}" + (f":{int(o_tier)}" if perp else "") + f"={o_value}"
        revision = governance.revise(store, stored.id, who, [governance.Override.parse(spec)],
                                     justification=justification, committee=committee)
    st.session_state["proposal_id"] = revision.id
    st.success(f"Revision `{revision.id[:12]}` created from `{stored.id[:12]}`.")
    st.rerun()

"""Proposal: policy form, generate, tier ladders current vs proposed, changes with guardrail marks,
rationale, and manual overrides that need a written justification."""

from __future__ import annotations

import streamlit as st

from riskparams import config, governance, service, ui, views

ui.setup_page("Proposal")
with ui.guarded("Opening the store"):
    store = ui.get_store()
    base = config.RiskPolicy()
    committee = governance.load_committee()
who = ui.member_picker(committee)

symbols = sorted({s.symbol for s in store.list_series()})
with st.form("policy"):
    st.markdown("**Policy** (defaults from `riskparams/examples/policy.toml`)")
    c1, c2, c3, c4 = st.columns(4)
    profile = c1.selectbox("Profile", ["perp", "lending"])
    confidence = c2.number_input("Confidence", min_value=0.9, max_value=0.9999, value=base.confidence, step=0.005,
                                 format="%.4f")
    horizon = c3.number_input("Horizon (hours, margin period of risk)", min_value=1.0, max_value=720.0,
                              value=base.horizon_hours)
    measure = c4.selectbox("Measure", ["es", "var"], index=0 if base.measure.value == "es" else 1)
    c1, c2, c3, c4 = st.columns(4)
    buffer_on = c1.checkbox("APC buffer (25%, released in stress)", value=base.apc.buffer_enabled)
    stressed_on = c2.checkbox("APC stressed-period weight", value=base.apc.stressed_weight_enabled)
    floor_on = c3.checkbox("APC long-run floor", value=base.apc.long_run_floor_enabled)
    incentive = c4.number_input("Liquidator incentive (fraction)", min_value=0.0, max_value=0.2,
                                value=base.liquidator_incentive, step=0.001, format="%.4f")
    c1, c2, c3 = st.columns(3)
    max_change = c1.number_input("Guardrail: max relative change", min_value=0.01, max_value=10.0,
                                 value=base.guardrails.max_relative_change, step=0.05)
    dead_band = c2.number_input("Guardrail: dead-band (relative)", min_value=0.0, max_value=1.0,
                                value=base.guardrails.dead_band, step=0.01)
    mmf_share = c3.number_input("Maintenance as a share of initial margin", min_value=0.05, max_value=0.95,
                                value=base.perp.maintenance_fraction, step=0.05)
    chosen = st.multiselect("Assets (all when empty)", symbols)
    current_file = st.file_uploader("Current parameters (CSV or JSON, optional)", type=["csv", "json"])
    generate = st.form_submit_button("Generate proposal", type="primary")

if generate:
    with ui.guarded("Proposal"):
        policy = views.policy_with(base, {
            "confidence": confidence, "horizon_hours": horizon, "measure": measure,
            "liquidator_incentive": incentive, "apc.buffer_enabled": buffer_on,
            "apc.stressed_weight_enabled": stressed_on, "apc.long_run_floor_enabled": floor_on,
            "guardrails.max_relative_change": max_change, "guardrails.dead_band": dead_band,
            "perp.maintenance_fraction": mmf_share,
        })
        current = ui.current_from_upload(current_file, profile)
        run = ui.generate_proposal(store, profile=profile, policy=policy, current=current,
                                   symbols=chosen or None)
    st.session_state["proposal_id"] = run.id

proposal_id = st.session_state.get("proposal_id")
if not proposal_id:
    st.info("Set the policy and generate a proposal. Proposals are stored as drafts; the Governance page "
            "takes them through review, sign-off and export.")
    st.stop()

with ui.guarded("Loading the proposal"):
    stored = service.proposal(store, proposal_id)
    figures = ui.cached_proposal_figures(stored.id)
content = stored.content
st.success(f"Proposal `{stored.id[:12]}` ({content['profile']}, status {stored.status}): "
           f"{len(content['assets'])} assets, {len(content.get('skipped', []))} skipped.")
for s in content.get("skipped", []):
    st.warning(f"{s['symbol']} skipped: {s['reason']}")

st.subheader("Tier ladders: current vs proposed" if content["profile"] == "perp" else "Current vs proposed")
for fig in figures["spec"]:
    st.plotly_chart(fig, width="stretch")
st.plotly_chart(figures["covered"][0], width="stretch")

st.subheader("Changes")
st.caption("`bound by` says what set the value: the model, a guardrail (max_change, dead_band), an invariant, "
           "rounding or the grid; `uncapped (model)` is the value before guardrails.")
st.dataframe(views.specification_frame(content), hide_index=True, width="stretch")

st.subheader("Rationale")
for symbol, text in views.rationale(content).items():
    st.markdown(f"**{symbol}**: {text}")

st.subheader("Manual override")
st.caption("An override creates a new revision (a draft linked to this proposal) and needs a written "
           "justification; both go to the audit log.")
with st.form("override"):
    c1, c2, c3, c4 = st.columns(4)
    o_symbol = c1.selectbox("Asset", [a["symbol"] for a in content["assets"]])
    params = (["max_leverage", "imf", "mmf", "liquidation_penalty"] if content["profile"] == "perp"
              else ["ltv", "liquidation_threshold", "liquidation_bonus"])
    o_param = c2.selectbox("Parameter", params)
    o_tier = c3.number_input("Tier (1-based, perps)", min_value=1, max_value=20, value=1)
    o_value = c4.text_input("New value", placeholder="e.g. 0.05, 5%, 10x, 500bps")
    justification = st.text_area("Justification (required)")
    override = st.form_submit_button("Create revision")
if override:
    with ui.guarded("Override"):
        spec = f"{o_symbol}:{o_param}" + (f":{int(o_tier)}" if content["profile"] == "perp" else "") + f"={o_value}"
        revision = governance.revise(store, stored.id, who, [governance.Override.parse(spec)],
                                     justification=justification, committee=committee)
    st.session_state["proposal_id"] = revision.id
    st.success(f"Revision `{revision.id[:12]}` created from `{stored.id[:12]}`.")
    st.rerun()

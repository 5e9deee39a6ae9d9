"""Book: who a parameter set liquidates and what the insurance fund loses, on the venue's open positions (an
uploaded positions file) or the synthetic demo book: current parameters, the proposal and its options side by
side, now, at the covered move and under the standard shocks."""

from __future__ import annotations

import streamlit as st

from riskparams import service, ui, views

ui.setup_page("Book")
ui.acting_member()
with ui.guarded("Opening the store"):
    store = ui.get_store()
    proposals = service.proposals(store, limit=50)

CURRENT_ONLY = "(current parameters only)"
labels = {p.id: f"{p.id[:12]} · {p.profile} · {p.status} · {p.created_at_iso[:16]}" for p in proposals}
with st.form("book"):
    c1, c2 = st.columns([3, 2])
    choice = c1.selectbox("Parameter sets: a stored proposal (its current parameters, the proposal and its options) "
                          "or current parameters alone", [*labels, CURRENT_ONLY],
                          format_func=lambda i: labels.get(i, i))
    positions = c2.file_uploader("Positions (CSV or Parquet; empty: the stored impact or the synthetic demo book)",
                                 type=["csv", "parquet"])
    c1, c2 = st.columns([3, 2])
    current_file = c1.file_uploader("Current parameters (CSV or JSON, optional; default: those stored in the proposal)",
                                    type=["csv", "json"])
    save = c2.checkbox("Store the impact with the proposal (the export shows it)", value=False,
                       disabled=not ui.can_change_data())
    submitted = st.form_submit_button("Compute impact", type="primary")

pid = None if choice == CURRENT_ONLY else choice
if submitted or st.session_state.get("book_for") != choice:
    with ui.guarded("Impact"):
        profile = "perp" if pid is None else next(p.profile.value for p in proposals if p.id == pid)
        view = ui.book_view(store, pid, profile=profile, positions=positions if submitted else None,
                            current=current_file if submitted else None, save=submitted and save)
    st.session_state["book_view"], st.session_state["book_for"] = view, choice
view = st.session_state.get("book_view")
if view is None:
    st.info("A lending proposal needs a positions file (account, collateral_asset, collateral_amount, debt_asset, "
            "debt_amount): upload one above.")
    ui.stop()

impact = view.impact  # typed (riskparams.impact_content.StoredImpact)
if view.synthetic:
    st.warning("Synthetic demo book: generated positions (accounts `syn-...`), not a venue's book. Upload the "
               "venue's positions for a real answer.", icon=":material/science:")
st.caption(view.caption())
for sentence in view.sentences:
    st.markdown(f"**{sentence}**")

st.subheader("Impact per parameter set")
table = views.impact_frame(impact)
if "top-5 share at move" in table:  # "-": nothing liquidated at the move, so no share
    table["top-5 share at move"] = ui.percent_text(table["top-5 share at move"])
st.dataframe(table, hide_index=True, width="stretch",
             column_config={"top-5 share at move": st.column_config.TextColumn(
                 "top-5 share at move", help="share of the notional liquidated at the covered move held by the 5 "
                 "largest accounts (-: nothing liquidated)")})
st.caption("Liquidatable now: equity below maintenance margin at today's prices (cross accounts net their "
           "positions). Bad debt at move: every asset by the proposal's covered move, worse direction. VaR p99: "
           "99th percentile of insolvent debt; LaR p99: of liquidated notional, over bootstrap draws of joint daily "
           "returns. Quote currency. In a one-step move the bad debt does not depend on the margin level (a position "
           "whose loss exceeds its equity is liquidated under any MMF): the sets differ in who is liquidated, and "
           "when, more than in this bad debt.")

st.plotly_chart(view.figure, width="stretch")

st.subheader("Scenarios")
chosen = st.selectbox("Parameter set", view.sets, index=view.sets.index("proposal") if "proposal" in view.sets else 0)
scenarios = views.impact_scenarios_frame(impact, chosen)
if "top-5 share" in scenarios:  # "-": nothing liquidated (or the window is not in the data)
    scenarios["top-5 share"] = ui.percent_text(scenarios["top-5 share"])
scenarios["accounts"] = ui.count_text(scenarios["accounts"])  # "-": a window not in the data
st.dataframe(scenarios, hide_index=True, width="stretch", height=36 * (len(scenarios) + 1) + 2,
             column_config={"top-5 share": st.column_config.TextColumn(
                 "top-5 share", help="share of the liquidated notional held by the 5 largest accounts (-: nothing "
                 "liquidated)")})
st.caption("now: today's prices; covered move: every asset by the proposal's covered move together; shocks: every "
           "asset at once; stress windows (when the store has the daily prices): the joint historical moves of each "
           "window and correlated hypothetical shocks, through the liquidation waterfall (full close; an insurance fund sized to the Cover-2 target; "
           "auto-deleveraging once it is empty).")

st.subheader("Positions")
frames = views.positions_frames(impact)
c1, c2 = st.columns([3, 2])
c1.dataframe(frames["by_symbol"], hide_index=True, width="stretch")
c2.dataframe(frames["modes"], hide_index=True, width="stretch")
for note in impact.notes:
    st.caption(ui.plain(note))

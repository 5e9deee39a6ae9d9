"""Volatility: realized estimators and GARCH-family fits side by side, diagnostics, forecasts, model losses."""

from __future__ import annotations

import streamlit as st

from riskparams import charts, ui

ui.setup_page("Volatility")
ui.acting_member()
with ui.guarded("Opening the store"):
    store = ui.get_store()
info = ui.series_picker(store)
ui.synthetic_badge(info.synthetic)

st.sidebar.subheader("Model settings")
dist = st.sidebar.selectbox("Innovations", ["t", "skewt", "normal"])
mean = st.sidebar.selectbox("Mean", ["zero", "constant"])
horizon = st.sidebar.number_input("Horizon (hours, margin period of risk)", min_value=0.05, max_value=24.0 * 30,
                                  value=24.0, step=1.0, help="shorter than a bar: the bar's law scaled by the square "
                                  "root of time (named in the table)")
confidence = st.sidebar.number_input("Confidence", min_value=0.9, max_value=0.9999, value=0.99, step=0.005,
                                     format="%.4f")
window = st.sidebar.number_input("Realized window (bars)", min_value=5, max_value=1000, value=30)

# what is being computed, above the page while it fills in (removed at the end)
progress = st.progress(0.0, text="Loading prices...")
with ui.guarded("Loading prices"):
    prices = ui.cached_prices(info.series_id, info.rows, info.last)
progress.progress(0.05, text="Realized estimators...")

st.subheader("Realized volatility (annualised)")
with ui.guarded("Realized estimators"):
    realized = ui.cached_realized(info.series_id, info.rows, info.last, int(window), 0.94)
st.plotly_chart(charts.vol_lines(realized, title=f"{info.label}: realized estimators, {int(window)}-bar window"),
                width="stretch")

st.subheader("Conditional models")
progress.progress(0.2, text="Fitting GARCH, GJR, EGARCH and EWMA, then their horizon risk...")
with ui.guarded("Model fits"):
    panel = ui.cached_model_panel(info.series_id, info.rows, info.last, dist, mean, float(horizon), float(confidence))
progress.progress(0.6, text="Drawing the conditional volatility...")
table = panel.table()
for row in table.itertuples():
    if row.fallback:
        st.warning(f"{row.requested}: fell back to EWMA ({row.fallback}).")
st.dataframe(
    table, hide_index=True, width="stretch",
    column_config={
        "next_vol_ann": ui.percent("next-bar vol (ann.)"),
        "long_run_vol_ann": ui.percent("long-run vol (ann.)"),
        "stressed_vol_ann": ui.percent("stressed vol (ann.)"),
        "horizon_vol": ui.percent(f"{horizon:g}h vol"),
        "var": ui.percent(f"VaR {confidence:.2%} (of price)"),
        "es": ui.percent(f"ES {confidence:.2%} (of price)"),
        "half_life_bars": st.column_config.NumberColumn("half-life (bars)", format="%.1f"),
        "persistence": st.column_config.NumberColumn("persistence", format="%.4f"),
        "loglik": st.column_config.NumberColumn("log-likelihood", format="%.1f"),
        "bic": st.column_config.NumberColumn("BIC", format="%.1f"),
        "note": st.column_config.TextColumn("note", width="small"),
    },
    column_order=ui.MODEL_TABLE_ORDER,  # VaR and ES first: visible without scrolling sideways
)
st.plotly_chart(charts.price_and_vol(prices, panel.conditional_vol(), title=f"{info.label}: price and "
                                     "conditional volatility"), width="stretch")

c1, c2 = st.columns(2)
with c1:
    st.markdown("**Parameters** (arch's names, percent returns)")
    st.dataframe(panel.params_table(), width="stretch")
with c2:
    st.markdown("**Residual diagnostics** (Ljung-Box, ARCH-LM, Jarque-Bera: statistics and p-values)")
    st.dataframe(panel.diagnostics_table(), width="stretch")

progress.progress(0.75, text="Model comparison: fitting before the holdout...")
st.subheader("Model comparison: out-of-sample one-step losses")
c1, c2 = st.columns(2)
holdout = c1.number_input("Holdout (bars)", min_value=10, max_value=5000, value=250)
proxy = c2.selectbox("Scored against", ["squared_returns", "parkinson"])
with ui.guarded("Model comparison"):
    losses = ui.cached_losses(info.series_id, info.rows, info.last, int(holdout), dist, mean, proxy)
st.caption("Parameters are estimated once on the data before the holdout, then filtered through it.")
st.dataframe(losses, hide_index=True, width="stretch", column_config={
    "qlike": st.column_config.NumberColumn("QLIKE", format="%.4f"),
    "mse": st.column_config.NumberColumn("MSE", format="%.3e", help="mean squared error of the variance forecast"),
    "n_train": st.column_config.NumberColumn("bars before", format="localized"),
    "n_holdout": st.column_config.NumberColumn("holdout bars", format="localized"),
})
st.plotly_chart(charts.loss_bars(losses), width="stretch")

progress.progress(0.85, text="Sensitivity grid: one fit, then the policy at each horizon and confidence...")
st.subheader("Sensitivity: tier-1 margin by margin period of risk and confidence")
st.caption("The default policy's tier-1 MMF and max leverage with every tier's margin period of risk fixed at each "
           "horizon, at each confidence (one fit, through the cache). Longer horizons and higher confidence never "
           "lower the margin.")
c1, c2 = st.columns(2)
hs_text = c1.text_input("Horizons (hours)", value="0.25,1,4,8,24")
qs_text = c2.text_input("Confidences", value="0.99,0.995")
try:
    with ui.guarded("Sensitivity"):
        grid = ui.cached_sensitivity(info.series_id, info.rows, info.last, info.symbol, info.freq, info.kind,
                                     ui.number_list(hs_text, "horizons"), ui.number_list(qs_text, "confidences"))
        st.plotly_chart(charts.sensitivity_heatmap([c.to_dict() for c in grid.cells],
                                                   title=f"{grid.series}: tier-1 MMF ({grid.model})"), width="stretch")
finally:  # also when a bad entry stops the page with one st.error line
    progress.empty()

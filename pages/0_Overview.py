"""Overview: stored series, freshness, volatility regime, coverage flags, prices (the dashboard's first page;
`app.py` lists the pages with ``st.navigation``)."""

from __future__ import annotations

import streamlit as st

from riskparams import charts, ui

ui.setup_page("Overview")
ui.acting_member()
st.caption("Margin and liquidation parameters for DAO risk committees: data, volatility, proposals, "
           "backtests, governance.")

with ui.guarded("Loading the store"):
    store = ui.get_store()
    overview = ui.cached_overview(ui.data_version(store))
    flags = ui.cached_flags(store)

st.sidebar.caption(f"Store: `{store.path}`")
if overview.empty:
    st.warning("The store is empty. Load data on the Data page or run `riskparams demo`.")
    ui.stop()

n_syn = int(overview["synthetic"].sum())
if n_syn:
    st.info(f"{n_syn} of {len(overview)} series are synthetic demo data (symbols ending in -SYN, source "
            "`synthetic`), not market data.", icon=":material/science:")

below = flags[flags["below"]] if not flags.empty else flags
c1, c2, c3, c4 = st.columns(4)
c1.metric("Series", len(overview))
c2.metric("Assets", overview["symbol"].nunique())
c3.metric("Elevated or stressed vol.", int(overview["regime"].isin(["elevated", "stressed"]).sum()))
c4.metric("Below target coverage", int(len(below)), help="Assets whose current parameters, as the newest proposal "
          "that assessed them found, cover less than the policy's confidence")

if not below.empty:
    st.subheader("Coverage flags")
    st.caption("From the newest proposal that assessed each asset's current parameters: the probability that a "
               "liquidation at maintenance completes without bad debt, against the policy's confidence.")
    st.dataframe(below, hide_index=True, width="stretch", column_config={
        "current_coverage": ui.percent("current coverage"),
        "confidence": ui.percent("target"),
        "created_at": st.column_config.DatetimeColumn("proposed (UTC)", format="YYYY-MM-DD HH:mm"),
        "below": None,
    })

st.subheader("Stored series")
st.caption("Volatility regime: current EWMA volatility (lambda 0.94) against the long-run sample volatility, "
           "both annualised.")
st.dataframe(
    overview, hide_index=True, width="stretch",
    column_config={
        "synthetic": st.column_config.CheckboxColumn("synthetic"),
        "ewma_vol": ui.percent("current vol (ann.)"),
        "long_run_vol": ui.percent("long-run vol (ann.)"),
        "ratio": st.column_config.NumberColumn("current / long-run", format="%.2f"),
        "last": st.column_config.DatetimeColumn("last bar (UTC)", format="YYYY-MM-DD HH:mm"),
        "bars": st.column_config.NumberColumn("bars", format="localized"),
    },
    column_order=["symbol", "freq", "kind", "regime", "ewma_vol", "long_run_vol", "ratio", "last", "bars", "source",
                  "synthetic"],
)

info = ui.series_picker(store, label="Series to chart", sidebar=False)
log_scale = st.toggle("Logarithmic price axis", value=True)
with ui.guarded("Loading prices"):
    prices = ui.cached_prices(info.series_id, info.rows, info.last)
st.plotly_chart(charts.price_chart(prices, title=info.label, synthetic=info.synthetic, log_scale=log_scale),
                width="stretch")

"""riskparams dashboard: home page (stored series and a price chart)."""

from __future__ import annotations

import streamlit as st

from riskparams import charts, service, ui

ui.setup_page("riskparams")
st.caption("Margin and liquidation parameters for DAO risk committees: data, volatility, proposals, "
           "backtests, governance.")

with ui.guarded("Loading the store"):
    store = ui.get_store()
    assets = service.assets_frame(store)

st.sidebar.caption(f"Store: `{store.path}`")

if assets.empty:
    st.warning("The store is empty. Load data on the Data page or run `riskparams demo`.")
    st.stop()

st.subheader("Stored series")
n_syn = int(assets["synthetic"].sum())
if n_syn:
    st.info(f"{n_syn} of {len(assets)} series are synthetic demo data (symbols ending in -SYN, source "
            "`synthetic`), not market data.", icon=":material/science:")
st.dataframe(
    assets.drop(columns=["series_id"]),
    hide_index=True,
    width="stretch",
    column_config={
        "synthetic": st.column_config.CheckboxColumn("synthetic"),
        "rows": st.column_config.NumberColumn("bars"),
    },
)

labels = [f"{r.symbol} · {r.freq} · {r.kind} · {r.source}" for r in assets.itertuples()]
choice = st.selectbox("Series", range(len(labels)), format_func=lambda i: labels[i])
log_scale = st.toggle("Logarithmic price axis", value=True)
row = assets.iloc[int(choice or 0)]
with ui.guarded("Loading prices"):
    prices = ui.cached_prices(int(row["series_id"]), int(row["rows"]), row["last"])
    fig = charts.price_chart(prices, title=labels[int(choice or 0)], synthetic=bool(row["synthetic"]),
                             log_scale=log_scale)
st.plotly_chart(fig, width="stretch")

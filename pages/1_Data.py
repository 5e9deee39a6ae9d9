"""Data: stored series, quality report, upload through the validated ingest, exchange fetch."""

from __future__ import annotations

import streamlit as st

from riskparams import service, ui

ui.setup_page("Data")
ui.acting_member()
writable = ui.can_change_data()
with ui.guarded("Opening the store"):
    store = ui.get_store()
ui.show_notice()  # what the last action did (it reran the page so every table shows the new data)

tab_series, tab_quality, tab_upload, tab_fetch = st.tabs(["Series", "Quality", "Upload", "Exchange fetch"])

with tab_series:
    assets = service.assets_frame(store)
    st.dataframe(assets.drop(columns=["series_id"]), hide_index=True, width="stretch",
                 column_config=ui.SERIES_COLUMNS)
    n_synthetic = 0 if assets.empty else int(assets["synthetic"].sum())
    if n_synthetic:
        st.caption("Rows marked synthetic are generated demo data, not market data. Proposals over all assets leave "
                   "them out when market data is stored (unless asked on the Proposal page).")
    c1, c2 = st.columns(2)
    if c1.button("Load synthetic demo data", help="Adds the demo universe (symbols ending in -SYN); idempotent",
                 disabled=not writable):
        with ui.guarded("Loading demo data"):
            reports = ui.load_demo(store)
        ui.notice(f"Demo data: {sum(r.rows_added for r in reports)} bars added over {len(reports)} series.")
    if n_synthetic:
        with c2.popover("Remove the demo data", disabled=not writable):
            st.markdown(f"Deletes the {n_synthetic} synthetic series (bars, ingest-log entries, cached fits); market "
                        "data stays. Refused when a stored proposal or backtest report used them. A dashboard "
                        "started on an empty store loads the demo again.")
            sure = st.checkbox(f"Yes, delete the {n_synthetic} synthetic series", key="confirm-remove-demo")
            if st.button("Remove demo data", type="primary", disabled=not sure):
                with ui.guarded("Removing the demo data"):
                    removed = ui.remove_demo(store)
                ui.notice(f"Removed {len(removed)} synthetic series.")
    st.subheader("Ingest log")
    st.dataframe(store.ingest_log(), hide_index=True, width="stretch", column_config=ui.INGEST_LOG_COLUMNS,
                 column_order=ui.INGEST_LOG_ORDER)

with tab_quality:
    info = ui.series_picker(store, key="quality_series", sidebar=False)
    ui.synthetic_badge(info.synthetic)
    c1, c2 = st.columns(2)
    stale = c1.number_input("Stale run: unchanged closes in a row (bars)", min_value=2, max_value=1000, value=None,
                            placeholder="default for the frequency")
    z = c2.number_input("Outlier threshold (robust z-score)", min_value=1.0, max_value=100.0, value=10.0)
    with ui.guarded("Quality report"):
        report = ui.cached_quality(info.series_id, info.rows, info.last, stale, float(z))
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric("Bars", f"{report.bars:,}")
    m2.metric("Coverage", f"{report.coverage:.2%}")
    m3.metric("Gaps", report.gap_count, help=f"{report.missing_bars} missing bars")
    m4.metric("Outlier returns", len(report.outliers))
    m5.metric("Zero-volume bars", report.zero_volume_bars)
    findings = report.findings()
    if findings:
        for line in findings:
            st.warning(line)
    else:
        st.success("No gaps, stale runs, outliers or zero-volume bars.")
    detail = report.to_dict()
    for key, title in (("gaps", "Gaps"), ("stale_runs", "Stale runs"), ("outliers", "Outlier returns")):
        if detail[key]:
            st.markdown(f"**{title}**")
            st.dataframe(detail[key], width="stretch")

with tab_upload:
    st.markdown("CSV (header row) or Parquet with a timestamp column and open, high, low, close "
                "(and optionally volume). Timestamps ISO-8601 or epoch seconds/milliseconds, UTC.")
    with st.form("upload"):
        upload = st.file_uploader("File", type=["csv", "parquet", "txt"])
        c1, c2, c3, c4 = st.columns(4)
        symbol = c1.text_input("Symbol", placeholder="e.g. BTC")
        source = c2.text_input("Source label", value="upload")
        kind = c3.selectbox("Kind", ["from file name", "spot", "perp"])
        freq = c4.selectbox("Frequency", ["infer", "1h", "4h", "1d"])
        replace = st.checkbox("Replace stored bars whose values differ")
        submitted = st.form_submit_button("Validate and store", disabled=not writable)
    if submitted:
        if upload is None:
            st.error("Choose a file first.")
        elif not symbol.strip():
            st.error("Give the series a symbol, for example BTC.")
        else:
            with ui.guarded("Ingest"):
                result = ui.ingest_upload(
                    store, upload.name, upload.getvalue(), symbol=symbol.strip(), source=source.strip() or "upload",
                    kind=None if kind == "from file name" else kind, freq=None if freq == "infer" else freq,
                    replace=replace,
                )
            ui.notice(result.summary())

with tab_fetch:
    st.markdown("Fetches OHLCV bars through ccxt, resuming from the last stored bar. Needs network access "
                "to the exchange.")
    with st.form("fetch"):
        c1, c2, c3, c4 = st.columns(4)
        exchange = c1.text_input("Exchange (ccxt id)", value="binance")
        market = c2.text_input("Market", value="BTC/USDT")
        timeframe = c3.selectbox("Timeframe", ["1d", "4h", "1h"])
        since = c4.text_input("First bar of a new series (UTC)", value="2019-01-01")
        fetched = st.form_submit_button("Fetch", disabled=not writable)
    if fetched:
        with ui.guarded("Fetch"):
            result = ui.run_fetch(store, exchange=exchange.strip(), market=market.strip(), timeframe=timeframe,
                                  since=since.strip() or None)
        ui.notice(result.summary())

"""Backtest: walk-forward replay of the policy and of fixed parameter sets, coverage statistics with
traffic lights, margin in force against realized moves, liquidation simulation, sets side by side."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from riskparams import backtest, service, ui, views

ui.setup_page("Backtest")
ui.acting_member()
with ui.guarded("Opening the store"):
    store = ui.get_store()
    proposals = service.proposals(store, limit=50)

symbols = sorted({s.symbol for s in store.list_series()})
with st.form("backtest"):
    c1, c2, c3, c4 = st.columns(4)
    profile = c1.selectbox("Profile", ["perp", "lending"])
    cadence = c2.number_input("Proposal cadence (days)", min_value=1, max_value=365, value=7)
    engine = c3.selectbox("Engine", ["fast", "arch"], help="fast: compiled daily refits of the policy's model ('auto': "
                          "lowest BIC each day; skewed t as t); arch: arch fits at each proposal date (exact, "
                          "slower)")
    start = c4.date_input("Start", value=None, min_value=dt.date(2010, 1, 1))
    c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
    lag = c4.number_input("Execution lag (days)", min_value=0.0, max_value=365.0, value=0.0, step=1.0,
                          help="vote plus timelock: a replayed decision is in force this many days after it is taken")
    freq = c1.selectbox("Frequency", ["auto", "1h", "4h", "1d"], help="auto: the finest frequency with a year of "
                        "history")
    kind = c2.selectbox("Kind", ["auto", "perp", "spot"], help="auto: perp prices for perpetuals, spot for lending")
    default = [s for s in ("BTC", "BTC-SYN") if s in symbols][:1] or symbols[:1]
    chosen = c3.multiselect(f"Assets (default: {', '.join(default) or 'none stored'})", symbols)
    proposal_ids = ["(none)"] + [p.id for p in proposals]
    attach = st.selectbox("Compare with and attach to a proposal", proposal_ids,
                          format_func=lambda i: i if i == "(none)" else f"{i[:12]}")
    current_file = st.file_uploader("Current parameters to compare (CSV or JSON, optional)", type=["csv", "json"])
    submitted = st.form_submit_button("Run backtest", type="primary", disabled=not ui.can_change_data())

if submitted:
    with ui.guarded("Backtest"):
        current = ui.current_from_upload(current_file, profile)
        spec = backtest.BacktestSpec(profile=profile, cadence_days=float(cadence), engine=engine,
                                     start=None if start is None else start.isoformat(),
                                     execution_lag_days=float(lag))
        run = ui.run_backtest(store, profile=profile, current=current, symbols=chosen or default, spec=spec,
                              attach=None if attach == "(none)" else attach, freq=None if freq == "auto" else freq,
                              kind=None if kind == "auto" else kind)
    st.session_state["backtest_id"] = run.id

report_id = st.session_state.get("backtest_id")
if not report_id:
    st.info("Choose assets and run a backtest: the policy is replayed walk-forward (no look-ahead) at the "
            "proposal cadence, beside any fixed parameter sets, and the report is stored.")
    ui.stop()

with ui.guarded("Loading the report"):
    report = service.stored_backtest(ui.cached_backtest_content(report_id))  # typed, read-only
results = [r.to_dict() for r in report.results]
st.success(f"Report `{report_id[:12]}`: {len(report.assets)} assets, {report.start} to {report.end}.")

st.subheader("Coverage statistics")
ui.traffic_badges(results)
frame = views.backtest_frame(report.results)
st.dataframe(frame, hide_index=True, width="stretch", column_config=ui.BACKTEST_COLUMNS,
             column_order=ui.BACKTEST_ORDER)
st.caption("Exceptions: the adverse excursion over the horizon (highs and lows) beyond the tier-1 maintenance "
           "margin in force at its start, on each set's headline side (long, short or the worse of both), over the "
           "non-overlapping sample (every horizon-th observation from the first). The chart legend below counts "
           "the same exceptions; the report JSON has the overlapping counts, years and stress windows.")

symbol = st.selectbox("Asset", list(report.symbols))
st.caption(views.backtest_model_caption(report, symbol))
for line in views.backtest_claims(report, symbol):
    st.markdown(line)
phases, phases_note = views.backtest_phases(report, symbol)
if phases is not None:
    st.subheader("Warm-up vs steady state")
    st.markdown(phases_note)
    st.dataframe(phases, hide_index=True, width="stretch")
with ui.guarded("Charts"):
    figures = ui.cached_backtest_figures(report_id, symbol)
st.plotly_chart(figures["margins"], width="stretch")
st.caption(figures["exceptions_note"])
st.subheader("Liquidation simulation")
st.plotly_chart(figures["fund"], width="stretch")
st.subheader("Parameter sets side by side")
st.plotly_chart(figures["sets"], width="stretch")

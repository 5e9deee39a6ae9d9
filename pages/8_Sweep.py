"""Sweep: backtest a grid of policy variants (fits shared) and pick a policy on the frontier of average margin
against bad debt; click a point (or choose a variant) to see its policy."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from riskparams import backtest, service, ui, views

ui.setup_page("Sweep")
ui.acting_member()
with ui.guarded("Opening the store"):
    store = ui.get_store()
    proposals = service.proposals(store, limit=50)
    stored = service.list_sweeps(store, limit=50)

symbols = sorted({s.symbol for s in store.list_series()})
with st.form("sweep"):
    c1, c2, c3, c4 = st.columns(4)
    profile = c1.selectbox("Profile", ["perp", "lending"])
    cadence = c2.number_input("Proposal cadence (days)", min_value=1, max_value=365, value=7)
    executor = c3.selectbox("Executor", ["serial", "threads:2", "processes:2", "dask:2"],
                            help="where the tasks run; dask:2 starts a local Dask cluster of two workers")
    start = c4.date_input("Start", value=None, min_value=dt.date(2010, 1, 1))
    c1, c2 = st.columns([1, 3])
    freq = c1.selectbox("Frequency", ["auto", "1h", "4h", "1d"])
    default = [s for s in ("BTC", "BTC-SYN") if s in symbols][:1] or symbols[:1]
    chosen = c2.multiselect(f"Assets (default: {', '.join(default) or 'none stored'})", symbols)
    grid_text = st.text_area("Grid: one policy key per line, KEY=V1,V2", value="confidence=0.99,0.995\n"
                             "mpor.fixed_hours=24,48", help="any policy key: confidence, horizon_hours, mpor.*, "
                             "measure, apc.*, guardrails.*, ...")
    attach = st.selectbox("Attach to a proposal", ["(none)"] + [p.id for p in proposals],
                          format_func=lambda i: i if i == "(none)" else f"{i[:12]}")
    submitted = st.form_submit_button("Run sweep", type="primary", disabled=not ui.can_change_data())

if submitted:
    bar = st.progress(0.0, text="sweep")
    with ui.guarded("Sweep"):
        spec = backtest.BacktestSpec(profile=profile, cadence_days=float(cadence), es_sims=0,
                                     start=None if start is None else start.isoformat())
        run = service.sweep(store, profile=profile, grid=[g for g in grid_text.splitlines() if g.strip()],
                            symbols=chosen or default, freq=None if freq == "auto" else freq, spec=spec,
                            executor=executor, attach=None if attach == "(none)" else attach,
                            progress=lambda d, t, m: bar.progress(min(d / max(t, 1), 1.0), text=m[:60]))
    st.session_state["sweep_id"] = run.id
    stored = service.list_sweeps(store, limit=50)

if not stored:
    st.info("No sweep stored yet: choose a grid and run one.")
    ui.stop()
ids = [s.id for s in stored]
current_id = st.session_state.get("sweep_id")
pick = st.selectbox("Stored sweep", ids, index=ids.index(current_id) if current_id in ids else 0,
                    format_func=lambda i: next(f"{i[:12]}  {s.created_at_iso}  {', '.join(s.symbols)}  "
                                               f"{s.variants} variants" for s in stored if s.id == i))
with ui.guarded("Reading the sweep"):  # read and hash-checked once per sweep id, not on every click
    report = ui.cached_sweep_report(pick)
    frontier = ui.cached_sweep_frontier(pick)
st.caption(f"{report.n_variants} variants x {len(report.symbols)} asset(s), {report.fits} walk-forward "
           "fits shared by all variants of a model; frontier (red, ticked): no variant has both a lower average "
           "margin and less bad debt. Click a point, or choose a variant below, to see its policy.")
event = st.plotly_chart(frontier, on_select="rerun", selection_mode="points", key="frontier")
st.dataframe(views.sweep_frame(report), hide_index=True, width="stretch", column_config=ui.SWEEP_COLUMNS,
             column_order=ui.SWEEP_ORDER, height=38 + 35 * min(report.n_variants, 25))  # all rows up to 25
labels = {v.index: views.sweep_variant_label(v.changes) for v in report.variants}
picked = [int(p["customdata"]) for p in (event.selection.points if event else []) if p.get("customdata") is not None]
options = list(labels)
chosen_variant = st.selectbox("Variant", options, index=options.index(picked[0]) if picked and picked[0] in labels
                              else 0, format_func=lambda i: f"{i}: {labels[i] or 'base policy'}")
with ui.guarded("Reading the variant's policy"):
    detail = views.sweep_variant_detail(report, chosen_variant)
st.subheader(f"Variant {chosen_variant}: {ui.plain(labels[chosen_variant] or 'base policy')}")
st.write(f"Policy key `{detail['policy_key']}`; differs from the base policy in: "
         + (", ".join(f"`{k}` = {ui.plain(v)}" for k, v in detail["differences"].items()) or "nothing"))
with st.expander("Full policy"):
    st.json(detail["policy"])

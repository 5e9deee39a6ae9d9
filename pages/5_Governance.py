"""Governance: proposals and their status, sign-offs, dissent, approval, the audit trail, diffs and exports."""

from __future__ import annotations

import streamlit as st

from riskparams import charts, governance, service, ui, views
from riskparams.export import formats_for
from riskparams.plan import plan_rows
from riskparams.verify import verify

ui.setup_page("Governance")
with ui.guarded("Opening the store"):
    store = ui.get_store()
    committee = ui.store_committee(store)
who = ui.acting_member(committee)

with ui.guarded("Listing proposals"):
    rows = governance.list_governance(store, committee=committee)
if not rows:
    st.info("No proposals yet: generate one on the Proposal page or with `riskparams propose`.")
    ui.stop()

st.dataframe(views.governance_frame(rows), hide_index=True, width="stretch", column_config={
    "sign_offs": st.column_config.TextColumn("sign-offs"), "created_at": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm"),
})

ids = [r["id"] for r in rows]
remembered = st.session_state.get("proposal_id")
index = ids.index(remembered) if remembered in ids else 0
pid = st.selectbox("Proposal", ids, index=index, format_func=lambda i: views.proposal_label(rows[ids.index(i)]))
st.session_state["proposal_id"] = pid

with ui.guarded("Loading the workflow"):
    wf = governance.workflow(store, pid, committee=committee)
    check = verify(store, pid)
    signing = views.signing_frame(ui.cached_typed_proposal(pid))
    changes = views.diff_frame(governance.diff(store, pid)) if wf.parent_id else None
c1, c2, c3, c4 = st.columns(4)
c1.metric("Status", wf.status)
c2.metric("Revision", wf.revision)
c3.metric("Sign-offs", f"{len(wf.sign_offs)} of {wf.quorum}")
c4.metric("Dissents", len(wf.dissents))
if wf.approval_blocker:
    st.caption(f"Approval: {wf.approval_blocker}")
if check.ok:
    st.success(views.verification_summary(check), icon=":material/verified:")
else:
    st.error(views.verification_summary(check), icon=":material/gpp_bad:")
    st.dataframe(views.verification_frame(check), hide_index=True, width="stretch")

st.subheader("What you sign" if who is not None else "What members sign")
st.caption(f"Proposal `{pid[:12]}` as its forum post states it: fractions in percent of notional, changes in basis "
           "points (max leverage in x) with the relative change.")
st.dataframe(signing, hide_index=True, width="stretch", height=min(36 * (len(signing) + 1) + 2, 320))
if changes is None:
    st.caption("The first revision: there is no parent revision to compare with.")
elif changes.empty:
    st.caption(f"No parameter differs from the parent revision `{wf.parent_id[:12]}`.")
else:
    st.markdown(f"**Changes against the parent revision `{wf.parent_id[:12]}`**")
    st.dataframe(changes, hide_index=True, width="stretch")

st.subheader("Act")
if who is None:
    st.info(ui.identity_note(), icon=":material/visibility:")
else:
    st.markdown(f"**Acting as {who.name}** (@{who.handle}, {who.role}) on proposal `{pid[:12]}`")
c1, c2 = st.columns([3, 1])
with c1:
    comment = ui.comment_box("Comment (required to dissent or reject)", scope=(who and who.handle, pid),
                             disabled=who is None)
option_names = views.option_names(store, pid)
option = c2.selectbox("Option the chair approves", option_names) if option_names else None
verbs = views.ACTION_BUTTONS
cols = st.columns(4)
clicked = [verb for k, (verb, label) in enumerate(verbs.items())
           if cols[k % 4].button(label, key=f"act-{label}", disabled=who is None, width="stretch")]
if committee.require_signatures:
    st.caption("This committee requires signed votes and decisions: sign-offs, dissents, approvals and rejections "
               "are recorded from **Sign with a wallet or key** below (or `riskparams sign ID --key FILE`).")
if clicked and who is not None:
    with ui.guarded(verbs[clicked[0]]):
        governance.perform(store, pid, who, clicked[0], comment=comment, option=option, committee=committee)
    ui.clear_comment()  # recorded: the next action, by anyone, starts with an empty comment
    st.rerun()

with st.expander("Sign with a wallet or key", expanded=committee.require_signatures and who is not None):
    st.caption("1. Choose the action; the comment and option above are part of what is signed. 2. Prepare the "
               "typed data and sign it in your wallet (`eth_signTypedData_v4`, as for a Snapshot vote) or with "
               "`riskparams keys sign FILE --key KEY` (Ed25519 keys). 3. Paste the signature within 24 hours.")
    c1, c2, c3 = st.columns([2, 1, 1])
    signed_verb = c1.selectbox("Action to sign", list(views.SIGNED_BUTTONS),
                               format_func=lambda v: views.SIGNED_BUTTONS[v], disabled=who is None)
    scheme = c2.selectbox("Scheme", ["eip712", "ed25519"], disabled=who is None)
    if c3.button("Prepare typed data", disabled=who is None, width="stretch") and who is not None:
        with ui.guarded("Preparing the typed data"):
            data = governance.typed_data(store, pid, who, views.SIGNED_ACTIONS[signed_verb], comment=comment,
                                         option=option, committee=committee)
        st.session_state["typed"] = (pid, who.handle, signed_verb, comment, option, data)
    typed = st.session_state.get("typed")
    if typed and who is not None and typed[:5] == (pid, who.handle, signed_verb, comment, option):
        st.markdown(views.typed_data_summary(typed[5]))
        st.code(views.typed_data_text(typed[5]), language="json", height=220)
        sig_text = st.text_input("Signature (hex)", key="signature-hex", placeholder="0x...")
        if st.button(f"Record signed {views.SIGNED_BUTTONS[signed_verb].lower()}", disabled=not sig_text):
            with ui.guarded("Recording the signed action"):
                governance.perform(store, pid, who, signed_verb, comment=comment, option=option, committee=committee,
                                   signature=views.signature_of(scheme, sig_text, typed[5]))
            st.session_state.pop("typed", None)
            st.session_state.pop("signature-hex", None)
            ui.clear_comment()
            st.rerun()
    elif typed:
        st.caption("The action, comment or option changed since the typed data was prepared: prepare it again.")

st.subheader("Execution plan")
ui.show_notice()  # what the last plan action did (it reran the page so every table shows the new data)
st.caption("A dated schedule from the current parameters to this proposal's target under steward limits (as Aave's "
           "risk stewards and Chaos Labs' capped updates): every parameter changes by at most the max step per step, "
           "steps are the given days apart, the last step is the target. Stored with the proposal and exported.")
c1, c2, c3, c4 = st.columns(4)
max_step = c1.number_input("Max step (relative)", min_value=0.001, max_value=10.0, value=0.25, step=0.05,
                           format="%.3f", disabled=who is None)
min_days = c2.number_input("Days between steps", min_value=1, max_value=365, value=3, step=1, disabled=who is None)
budget = c3.number_input("Step budget (0: none)", min_value=0, max_value=500, value=0, step=1, disabled=who is None)
start = c4.date_input("First step (UTC)", disabled=who is None)
b1, b2 = st.columns(2)
if b1.button("Make plan", disabled=who is None, width="stretch") and who is not None:
    with ui.guarded("Making the plan"):
        made = service.plan_proposal(store, pid, max_step=float(max_step), min_days=int(min_days),
                                     budget=int(budget) or None, start=start, actor=who.handle)
    ui.notice(f"Plan {made.id[:12]} stored: {len(made.steps)} steps.")
plan = ui.optional(lambda: service.latest_plan(store, pid), "The stored plan")
if plan is None:
    st.caption("No plan for this proposal yet (or `riskparams plan ID --max-step R --min-days D`).")
else:
    st.markdown(f"**Plan `{plan.id[:12]}`**: {len(plan.steps)} step{'s' if len(plan.steps) != 1 else ''} from {plan.steps[0].date} to "
                f"{plan.steps[-1].date}, at most {plan.spec.max_step:.4g} per parameter per step, "
                f"{plan.spec.min_days} days apart.")
    st.dataframe(plan_rows(plan.plan), hide_index=True, width="stretch")
    st.plotly_chart(charts.plan_steps(plan.plan), width="stretch")
    for note in plan.notes:
        st.caption(ui.plain(note))
    if b2.button("Create the next step's revision", disabled=who is None or wf.status not in ("approved", "exported"),
                 width="stretch", help="Carries the next step through the workflow as a revision linked to the "
                 "previous one (needs an approved proposal and the previous step approved).") and who is not None:
        with ui.guarded("Creating the step's revision"):
            done = service.create_plan_revisions(store, plan.id, who, committee=committee)
        ui.notice(done["waiting"] or "Every step of the plan has its revision.")

st.subheader("Export")
c1, c2 = st.columns([1, 3])
fmt = c1.selectbox("Format", list(formats_for(rows[ids.index(pid)]["profile"])))
if c1.button("Prepare export", disabled=who is None):
    with ui.guarded("Export"):  # the command line's export path: the attached backtest and the plan included
        result = service.export_bytes(store, pid, fmt, who, committee=committee)
    st.session_state["export"] = (pid, result.filename, result.data, result.sha256, result.final)
prepared = st.session_state.get("export")
if prepared and prepared[0] == pid:
    _, filename, data, sha, final = prepared
    c2.download_button(f"Download {filename}", data=data, file_name=filename)
    c2.caption(f"SHA-256 {sha}" + ("" if final else " (not approved: marked DRAFT)"))

st.subheader("Audit trail")
st.dataframe(views.audit_frame(wf.events), hide_index=True, width="stretch",
             column_config={"at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss")})

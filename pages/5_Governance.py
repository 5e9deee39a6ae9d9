"""Governance: proposals and their status, sign-offs, dissent, approval, the audit trail, diffs and exports."""

from __future__ import annotations

import streamlit as st

from riskparams import governance, ui, views
from riskparams.export import FORMATS

ui.setup_page("Governance")
with ui.guarded("Opening the store"):
    store = ui.get_store()
    committee = governance.load_committee()
who = ui.member_picker(committee)

with ui.guarded("Listing proposals"):
    rows = governance.list_governance(store, committee=committee)
if not rows:
    st.info("No proposals yet: generate one on the Proposal page or with `riskparams propose`.")
    st.stop()

st.dataframe(views.governance_frame(rows), hide_index=True, width="stretch")

ids = [r["id"] for r in rows]
remembered = st.session_state.get("proposal_id")
index = ids.index(remembered) if remembered in ids else 0
pid = st.selectbox("Proposal", ids, index=index, format_func=lambda i: views.proposal_label(rows[ids.index(i)]))
st.session_state["proposal_id"] = pid

with ui.guarded("Loading the workflow"):
    wf = governance.workflow(store, pid, committee=committee)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Status", wf.status)
c2.metric("Revision", wf.revision)
c3.metric("Sign-offs", f"{len(wf.sign_offs)} of {wf.quorum}")
c4.metric("Dissents", len(wf.dissents))
if wf.approval_blocker:
    st.caption(f"Approval: {wf.approval_blocker}")

st.subheader("Act")
comment = st.text_input("Comment (required to dissent or reject)")
option_names = views.option_names(store, pid)
option = st.selectbox("Option the chair approves", option_names) if option_names else None
actions = {
    "Submit for review": lambda: governance.submit_for_review(store, pid, who, comment=comment or None,
                                                              committee=committee),
    "Sign off": lambda: governance.sign_off(store, pid, who, comment=comment or None, committee=committee),
    "Dissent": lambda: governance.dissent(store, pid, who, comment=comment, committee=committee),
    "Retract my vote": lambda: governance.retract(store, pid, who, comment=comment or None, committee=committee),
    "Approve": lambda: governance.approve(store, pid, who, comment=comment or None, committee=committee,
                                          option=option),
    "Reject": lambda: governance.reject(store, pid, who, comment=comment, committee=committee),
    "Withdraw": lambda: governance.withdraw(store, pid, who, comment=comment or None, committee=committee),
    "Comment": lambda: governance.comment(store, pid, who, text=comment, committee=committee),
}
cols = st.columns(len(actions))
for col, (label, act) in zip(cols, actions.items(), strict=True):
    if col.button(label, key=f"act-{label}"):
        with ui.guarded(label):
            act()
        st.rerun()

st.subheader("Export")
c1, c2 = st.columns([1, 3])
fmt = c1.selectbox("Format", list(FORMATS))
if c1.button("Prepare export"):
    with ui.guarded("Export"):
        result = governance.export_proposal(store, pid, fmt, who, committee=committee)
    st.session_state["export"] = (pid, result.filename, result.data, result.sha256, result.final)
prepared = st.session_state.get("export")
if prepared and prepared[0] == pid:
    _, filename, data, sha, final = prepared
    c2.download_button(f"Download {filename}", data=data, file_name=filename)
    c2.caption(f"SHA-256 {sha}" + ("" if final else " (not approved: marked DRAFT)"))

if wf.parent_id:
    st.subheader("Changes against the parent revision")
    with ui.guarded("Diff"):
        d = governance.diff(store, wf.parent_id, pid)
    st.dataframe(views.diff_frame(d), hide_index=True, width="stretch")

st.subheader("Audit trail")
st.dataframe(views.audit_frame(wf.events), hide_index=True, width="stretch")

"""The dashboard's sign-in modes and the Governance page's acting (AppTest, no browser).

Local mode: every page carries the unauthenticated banner, and nobody acts until chosen. Signed-in modes
without an identity (as AppTest runs them: no cookie, no proxy header) are view-only, with no picker.
Governance: the page shows what the member signs, and the comment never carries over to another action
or member.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from riskparams import auth, config, governance, service, ui
from riskparams.ingest import load_demo
from riskparams.store import Store

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["app.py", "pages/1_Data.py", "pages/2_Volatility.py", "pages/3_Proposal.py", "pages/4_Backtest.py",
         "pages/5_Governance.py"]
COMMITTEE = """
quorum = 2
[[members]]
name = "Alice Chair"
handle = "alice"
role = "chair"
email = "alice@dao.example"
[[members]]
name = "Bob Member"
handle = "bob"
role = "member"
email = "bob@dao.example"
[[members]]
name = "Carol Member"
handle = "carol"
role = "member"
email = "carol@dao.example"
[[members]]
name = "Dave Member"
handle = "dave"
role = "member"
email = "dave@dao.example"
[[members]]
name = "Olga Observer"
handle = "olga"
role = "observer"
"""


@pytest.fixture(scope="module")
def governed_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    return make_governed_store(tmp_path_factory.mktemp("auth-pages"))


def make_governed_store(folder: Path) -> tuple[Path, Path, str, str]:
    """In ``folder``: the committee file above and a demo store with a proposal for ETH-SYN and a revision of it
    by bob (max leverage 20x); returns (store, committee file, proposal id, revision id)."""
    committee_file = folder / "committee.toml"
    committee_file.write_text(COMMITTEE)
    committee = governance.load_committee(committee_file)
    path = folder / "governed.duckdb"
    with Store(path) as store:
        load_demo(store)
        run = service.propose(store, profile="perp", policy=config.RiskPolicy(), current=None, symbols=["ETH-SYN"])
        rev = governance.revise(store, run.id, "bob", [governance.Override.parse("ETH-SYN:max_leverage:1=20x")],
                                justification="room for the next listing", committee=committee)
    return path, committee_file, run.id, rev.id


@pytest.fixture
def dashboard(governed_db: tuple[Path, Path, str, str], tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    path, committee_file, parent, revision = governed_db
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(path.read_bytes())
    monkeypatch.setenv("RISKPARAMS_DB", str(copy))
    monkeypatch.setenv("RISKPARAMS_COMMITTEE", str(committee_file))
    for name in ("RISKPARAMS_AUTH", "RISKPARAMS_AUTH_HEADER", "RISKPARAMS_TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    ui._open_store.clear()
    ui.clear_data_caches()
    yield copy, parent, revision
    ui._open_store.clear()
    ui.clear_data_caches()


def run(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=180).run()
    assert not at.exception, at.exception
    return at


def sidebar_text(at: AppTest) -> str:
    return " ".join(str(getattr(e, "value", "")) for e in at.sidebar)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_local_mode_banner_on_every_page_and_nobody_acts_by_default(dashboard: tuple[Path, str, str],
                                                                    page: str) -> None:
    at = run(page)
    assert not at.error, [e.value for e in at.error]
    assert auth.LOCAL_BANNER in [w.value for w in at.warning]
    picker = at.selectbox(key="member")
    assert picker.label == "Acting as" and picker.value is None  # no default: not the chair, not anyone
    assert "Sign-in: none (local mode)" in sidebar_text(at)


def test_governance_shows_what_is_signed_and_the_change_against_the_parent(dashboard: tuple[Path, str, str]) -> None:
    _, parent, revision = dashboard
    at = run("pages/5_Governance.py")
    assert next(s for s in at.selectbox if s.label == "Proposal").value == revision
    frames = [d.value for d in at.dataframe]
    spec = next(f for f in frames if list(f.columns) == ["Asset", "Parameter", "Current", "Proposed", "Change"])
    lev = spec[spec["Parameter"].str.startswith("Max leverage, tier 1")].iloc[0]
    assert lev["Asset"] == "ETH-SYN" and lev["Proposed"] == "20x (override)"
    diff = next(f for f in frames if list(f.columns) == ["Asset", "Parameter", "Parent", "This revision", "Change"])
    row = diff[diff["Parameter"] == "Max leverage, tier 1"].iloc[0]
    assert (row["Parent"], row["This revision"], row["Change"]) == ("25x", "20x", "-5x (-20.0%)")
    assert f"**Changes against the parent revision `{parent[:12]}`**" in [m.value for m in at.markdown]
    # nobody acts yet: every action is disabled, and the page says why
    acts = [b for b in at.button if b.key and b.key.startswith("act-")]
    assert len(acts) == 8 and all(b.disabled for b in acts)
    assert at.text_input(key="comment").disabled
    assert any("choose who you are" in i.value for i in at.info)


def last_event(db: Path, pid: str) -> dict[str, object]:
    ui._open_store.clear()
    with Store(db) as store:
        return governance.workflow(store, pid, committee=governance.load_committee()).events[-1].to_dict()


def test_comment_is_cleared_after_each_action_and_member_switch(dashboard: tuple[Path, str, str]) -> None:
    db, _, revision = dashboard
    at = run("pages/5_Governance.py")

    def act(who: str, label: str, comment: str = "") -> None:
        if at.selectbox(key="member").value != who:
            at.selectbox(key="member").set_value(who).run()
        if comment:
            at.text_input(key="comment").input(comment)
        at.button(key=f"act-{label}").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]

    act("carol", "Submit for review")
    act("dave", "Dissent", "Too loose for a thin book.")
    assert at.text_input(key="comment").value == ""  # recorded, so cleared
    event = last_event(db, revision)
    assert (event["actor"], event["action"], event["comment"]) == ("dave", "dissented", "Too loose for a thin book.")

    # text typed for one member is gone when another member acts
    at.text_input(key="comment").input("Dave's second thought").run()
    at.selectbox(key="member").set_value("alice").run()
    assert at.text_input(key="comment").value == ""
    at.text_input(key="comment").input("Alice's draft remark").run()
    assert at.text_input(key="comment").value == "Alice's draft remark"  # kept while alice stays
    at.selectbox(key="member").set_value("carol").run()
    assert at.text_input(key="comment").value == ""
    act("alice", "Sign off")  # before the fix this sign-off could carry another member's text
    event = last_event(db, revision)
    assert (event["actor"], event["action"], event["comment"]) == ("alice", "signed_off", None)

    # a refused action records nothing, so the text stays for a retry
    at.selectbox(key="member").set_value("olga").run()
    at.text_input(key="comment").input("Observers cannot dissent.")
    at.button(key="act-Dissent").click().run()
    assert len(at.error) == 1 and "observer" in at.error[0].value
    assert at.text_input(key="comment").value == "Observers cannot dissent."
    assert last_event(db, revision)["actor"] == "alice"


@pytest.mark.parametrize("mode", ["oidc", "proxy-header"])
def test_signed_in_modes_without_an_identity_are_view_only(dashboard: tuple[Path, str, str], mode: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKPARAMS_AUTH", mode)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "")
    at = run("pages/5_Governance.py")
    assert not at.error
    assert auth.LOCAL_BANNER not in [w.value for w in at.warning]
    assert not [s for s in at.selectbox if s.label == "Acting as"]  # no picker: users act only as themselves
    assert all(b.disabled for b in at.button if b.key and b.key.startswith("act-"))
    assert next(b for b in at.button if b.label == "Prepare export").disabled
    label = "Sign-in: OpenID Connect" if mode == "oidc" else "Sign-in: reverse proxy"
    assert label in sidebar_text(at)
    info = " ".join(i.value for i in at.info)
    if mode == "oidc":
        assert "Not signed in: view only" in info
        assert [b.label for b in at.sidebar.button] == ["Log in"]
    else:
        assert "X-Forwarded-Email header" in info and "view only" in info  # AppTest has no headers nor address
    data = run("pages/1_Data.py")  # and no data changes either
    assert next(b for b in data.button if b.label == "Load synthetic demo data").disabled


def test_a_misconfigured_mode_is_one_error_and_view_only(dashboard: tuple[Path, str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKPARAMS_AUTH", "proxy-header")  # without FORWARDED_ALLOW_IPS="" (not from `serve`)
    at = run("pages/5_Governance.py")
    assert len(at.error) == 1 and "Sign-in is misconfigured" in at.error[0].value
    assert all(b.disabled for b in at.button if b.key and b.key.startswith("act-"))


def test_a_signed_sign_off_from_the_page_and_the_verification_state(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With require_signatures the page refuses the unsigned button, prepares the typed data, records the
    pasted signature, and shows that the records verify."""
    import json

    from riskparams import signing
    from riskparams.store.records import save_proposal

    keys = {"alice": signing.new_key("eip712"), "bob": signing.new_key("ed25519")}
    (tmp_path / "c.toml").write_text(
        "quorum = 1\nrequire_signatures = true\n"
        f'[[members]]\nname = "Alice"\nhandle = "alice"\nrole = "chair"\naddress = "{keys["alice"].public}"\n'
        f'[[members]]\nname = "Bob"\nhandle = "bob"\nrole = "member"\ned25519 = "{keys["bob"].public}"\n')
    db = tmp_path / "signed.duckdb"
    with Store(db) as store:
        load_demo(store)
        proposal = service.propose(store, profile="perp", policy=config.RiskPolicy(), symbols=["BTC-SYN"],
                                   save=False).proposal
        pid = save_proposal(store, proposal).id
        governance.submit_for_review(store, pid, "alice", committee=governance.load_committee(tmp_path / "c.toml"))
    monkeypatch.setenv("RISKPARAMS_DB", str(db))
    monkeypatch.setenv("RISKPARAMS_COMMITTEE", str(tmp_path / "c.toml"))
    monkeypatch.delenv("RISKPARAMS_AUTH", raising=False)
    ui._open_store.clear()
    ui.clear_data_caches()
    try:
        at = run("pages/5_Governance.py")
        assert any(s.value.startswith("Records verify:") for s in at.success)
        at.selectbox(key="member").set_value("bob").run()
        at.button(key="act-Sign off").click().run()
        assert len(at.error) == 1 and "a sign-off by @bob needs a signature" in at.error[0].value
        at.text_input(key="comment").input("tiers checked").run()
        next(s for s in at.selectbox if s.label == "Scheme").set_value("ed25519").run()
        next(b for b in at.button if b.label == "Prepare typed data").click().run()
        data = json.loads(at.code[0].value)
        assert data["message"]["member"] == "bob" and data["message"]["comment"] == "tiers checked"
        sig = signing.sign(signing.message_from_typed_data(data), keys["bob"])
        at.text_input(key="signature-hex").input(sig.signature).run()
        next(b for b in at.button if b.label.startswith("Record signed")).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        event = last_event(db, pid)
        assert (event["actor"], event["action"], event["comment"]) == ("bob", "signed_off", "tiers checked")
        assert event["signature"]["scheme"] == "ed25519"  # type: ignore[index]
        assert any("1 signature," in s.value for s in at.success)
    finally:
        ui._open_store.clear()
        ui.clear_data_caches()

"""Sign-in in a real browser: Playwright drives chromium against `riskparams serve --auth ...`, offline.

* local: every page carries the unauthenticated banner; nobody acts until chosen in the picker.
* oidc: a mock OpenID Connect provider (``oidc-provider-mock``) runs in this process on 127.0.0.1; the real
  login flow (Streamlit's st.login, the provider's authorize form, the callback) ends on the Governance page
  acting as the member whose email the provider vouched for, with no picker; a user the committee does not
  know may only view.
* proxy-header: the X-Forwarded-Email header (Playwright's extra HTTP headers) names the member; without it,
  or from an address that is not the trusted proxy, the pages are view-only.

Screenshots of the Governance page in each mode go to ``test-artifacts/e2e/auth-*.png``.
"""

from __future__ import annotations

import re
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_auth_pages import make_governed_store
from test_e2e import ARTIFACTS, _click, _idle, _metric, _no_errors, _select, _shot, browser, serving

from riskparams.auth import LOCAL_BANNER

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the shared module-scoped chromium fixture

PAGES = [("", "Overview"), ("Data", "Data"), ("Volatility", "Volatility"), ("Proposal", "Proposal"),
         ("Backtest", "Backtest"), ("Governance", "Governance")]  # path, page title
VIEWPORT = {"width": 1400, "height": 2000}  # tall: the screenshots show the whole Governance page


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    return make_governed_store(tmp_path_factory.mktemp("auth-e2e"))


@pytest.fixture
def store(governed: tuple[Path, Path, str, str], tmp_path: Path) -> Path:
    copy = tmp_path / "served.duckdb"
    copy.write_bytes(governed[0].read_bytes())
    return copy


def sidebar(page: object) -> str:
    return str(page.locator('[data-testid="stSidebar"]').inner_text())  # type: ignore[attr-defined]


def open_governance(page: object, url: str) -> None:
    page.goto(f"{url}/Governance")  # type: ignore[attr-defined]
    page.get_by_text("Audit trail").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    _idle(page)
    _no_errors(page)


def action_buttons(page: object) -> list[bool]:
    """Whether each of the eight committee actions is enabled."""
    return [page.get_by_role("button", name=label, exact=True).is_enabled()  # type: ignore[attr-defined]
            for label in ("Submit for review", "Sign off", "Dissent", "Retract my vote", "Approve", "Reject",
                          "Withdraw", "Comment")]


def no_picker(page: object) -> bool:
    return page.get_by_role("combobox", name="Acting as").count() == 0  # type: ignore[attr-defined]


def test_local_mode_banner_on_every_page(store: Path, governed: tuple[Path, Path, str, str],
                                         browser: object) -> None:
    with serving(store, "--committee", str(governed[1])) as url:
        page = browser.new_page(viewport=VIEWPORT)  # type: ignore[attr-defined]
        for path, title in PAGES:
            page.goto(f"{url}/{path}")
            page.get_by_role("heading", name=title, exact=True).wait_for(timeout=180_000)
            page.get_by_text(LOCAL_BANNER).wait_for(timeout=60_000)
            page.get_by_text("Sign-in: none (local mode)").wait_for(timeout=60_000)
        page.get_by_text("Audit trail").wait_for(timeout=120_000)
        _idle(page)
        assert not any(action_buttons(page))  # nobody acts until chosen: no default member
        assert "Nobody acts yet" in sidebar(page)
        _select(page, "Acting as", "Carol Member (member)")
        assert all(action_buttons(page)) and "You are acting as Carol Member" in sidebar(page)
        from playwright.sync_api import expect

        box = page.get_by_label("Comment (required to dissent or reject)")
        box.fill("Reviewed the 20x tier.")
        _click(page, "Comment")
        _no_errors(page)
        expect(box).to_have_value("", timeout=30_000)  # recorded, so the next action starts empty
        _shot(page, "auth-local")
        page.close()


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A mock OpenID Connect provider on 127.0.0.1 (any client id and secret) with two one-click users:
    carol (a committee member's email) and eve (nobody's)."""
    import oidc_provider_mock
    from werkzeug.serving import make_server

    users = [oidc_provider_mock.User(sub="carol", claims={"email": "carol@dao.example", "email_verified": True,
                                                           "name": "Carol M."}),
             oidc_provider_mock.User(sub="eve", claims={"email": "eve@elsewhere.example", "email_verified": True,
                                                         "name": "Eve"})]
    server = make_server("127.0.0.1", 0, oidc_provider_mock.app(user_claims=users), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def log_in(page: object, url: str, user: str) -> None:
    """The real flow: Log in -> the provider's authorize form -> one-click user -> callback -> the app."""
    page.goto(url)  # type: ignore[attr-defined]
    page.get_by_text("Stored series").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    _idle(page)
    assert "Not signed in: view only" in sidebar(page)
    page.get_by_role("button", name="Log in", exact=True).click()  # type: ignore[attr-defined]
    page.get_by_role("button", name=user, exact=True).click(timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(re.escape(url) + r"/?$"), timeout=60_000)  # type: ignore[attr-defined]
    page.get_by_text("Stored series").wait_for(timeout=120_000)  # type: ignore[attr-defined]


def test_oidc_login_acts_as_the_member_with_that_email(store: Path, governed: tuple[Path, Path, str, str],
                                                       provider: str, browser: object, tmp_path: Path) -> None:
    private = tmp_path / "tmp"  # where `serve` puts the secrets file for Streamlit
    private.mkdir()
    env = {"RISKPARAMS_OIDC_CLIENT_SECRET": "mock-client-secret", "TMPDIR": str(private)}
    with serving(store, "--auth", "oidc", "--oidc-issuer", provider, "--oidc-client-id", "riskparams",
                 "--committee", str(governed[1]), env=env) as url:
        (secrets_file,) = private.glob("riskparams-auth-*/secrets.toml")
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600 and "mock-client-secret" in secrets_file.read_text()
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
        page = context.new_page()
        log_in(page, url, "carol")
        open_governance(page, url)
        text = sidebar(page)
        assert "Signed in as carol@dao.example: acting as Carol Member (@carol, member)." in text
        assert "Sign-in: OpenID Connect" in text and LOCAL_BANNER not in page.content()
        assert no_picker(page)  # acts only as herself
        assert page.get_by_role("button", name="Log out").count() == 1
        assert all(action_buttons(page))
        _click(page, "Submit for review")  # recorded under her handle
        _no_errors(page)
        assert _metric(page, "Status") == "in_review"
        _shot(page, "auth-oidc")
        context.close()

        # a user the committee does not know may only view
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
        page = context.new_page()
        log_in(page, url, "eve")
        open_governance(page, url)
        assert "Signed in as eve@elsewhere.example, who is not a member of the committee" in sidebar(page)
        assert no_picker(page) and not any(action_buttons(page))
        assert not page.get_by_role("button", name="Prepare export").is_enabled()
        context.close()
    assert last_event(store, governed) == ("carol", "submitted")  # the audit log names her
    deadline = time.monotonic() + 20
    while secrets_file.parent.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not secrets_file.parent.exists()  # the secrets went with the server


def last_event(db: Path, governed: tuple[Path, Path, str, str]) -> tuple[str, str]:
    from riskparams import governance
    from riskparams.store import Store

    with Store(db) as s:
        event = governance.workflow(s, governed[3], committee=governance.load_committee(governed[1])).events[-1]
    return event.actor, event.action


def test_proxy_header_names_the_member_and_nothing_else_does(store: Path, governed: tuple[Path, Path, str, str],
                                                            browser: object) -> None:
    with serving(store, "--auth", "proxy-header", "--committee", str(governed[1])) as url:
        context = browser.new_context(viewport=VIEWPORT,  # type: ignore[attr-defined]
                                      extra_http_headers={"X-Forwarded-Email": "dave@dao.example"})
        page = context.new_page()
        open_governance(page, url)
        text = sidebar(page)
        assert "Signed in by the proxy as dave@dao.example: acting as Dave Member (@dave, member)." in text
        assert "Sign-in: reverse proxy" in text
        assert no_picker(page) and all(action_buttons(page))
        _shot(page, "auth-proxy")
        context.close()

        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
        page = context.new_page()  # no header: view only
        open_governance(page, url)
        assert "No X-Forwarded-Email header from the proxy: not signed in; view only." in sidebar(page)
        assert no_picker(page) and not any(action_buttons(page))
        context.close()

    # the header from an address that is not the trusted proxy is ignored, and X-Forwarded-For does not help
    with serving(store, "--auth", "proxy-header", "--trusted-proxy", "10.9.9.9", "--committee",
                 str(governed[1])) as url:
        context = browser.new_context(  # type: ignore[attr-defined]
            viewport=VIEWPORT,
            extra_http_headers={"X-Forwarded-Email": "dave@dao.example", "X-Forwarded-For": "10.9.9.9"})
        page = context.new_page()
        open_governance(page, url)
        assert ("This connection comes from this machine, not from the trusted proxy (10.9.9.9): its "
                "X-Forwarded-Email header is ignored; view only.") in sidebar(page)
        assert not any(action_buttons(page))
        context.close()
    assert ARTIFACTS.exists()

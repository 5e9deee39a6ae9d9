"""riskparams.auth: the sign-in settings of `riskparams serve` and who acts (pure functions, no browser)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from riskparams import auth
from riskparams.auth import AuthConfig, AuthConfigError, AuthMode
from riskparams.governance import committee_from_dict, example_committee_path

MEMBERS = [
    {"name": "Alice Chair", "handle": "alice", "role": "chair", "email": "alice@dao.example"},
    {"name": "Bob Member", "handle": "bob", "role": "member", "email": "Bob@DAO.example"},
    {"name": "Olga Observer", "handle": "olga", "role": "observer", "email": "olga@dao.example"},
    {"name": "Nadia Noemail", "handle": "nadia", "role": "member"},
]
COMMITTEE = committee_from_dict({"quorum": 2, "members": MEMBERS}, source="test-committee.toml")
OIDC_ENV = {"RISKPARAMS_OIDC_ISSUER": "https://id.dao.example/realms/risk",
            "RISKPARAMS_OIDC_CLIENT_ID": "riskparams", "RISKPARAMS_OIDC_CLIENT_SECRET": "s3cret-client"}


def load(environ: dict[str, str] | None = None, **options: object) -> AuthConfig:
    return auth.load_auth_config(environ={} if environ is None else environ, **options)  # type: ignore[arg-type]


def fails(match: str, environ: dict[str, str] | None = None, **options: object) -> str:
    with pytest.raises(AuthConfigError, match=match) as info:
        load(environ, **options)
    return str(info.value)


# -- settings ------------------------------------------------------------------------------------------
def test_local_is_the_default_and_sets_only_the_mode() -> None:
    config = load()
    assert config == AuthConfig(mode=AuthMode.LOCAL) and config.oidc is None
    assert config.to_env() == {"RISKPARAMS_AUTH": "local"}
    assert AuthConfig.from_env({}) == config


def test_mode_from_option_then_environment_then_file(tmp_path: Path) -> None:
    file = tmp_path / "auth.toml"
    file.write_text('mode = "proxy-header"\n[proxy]\nheader = "X-Auth-Request-Email"\ntrusted = ["10.0.0.5"]\n')
    from_file = load(config_file=file)
    assert from_file.mode is AuthMode.PROXY_HEADER and from_file.header == "X-Auth-Request-Email"
    assert from_file.trusted_proxies == ("10.0.0.5",)
    env = {"RISKPARAMS_AUTH_CONFIG": str(file), "RISKPARAMS_AUTH_HEADER": "X-Email",
           "RISKPARAMS_TRUSTED_PROXIES": "10.0.0.6, 192.168.0.0/24"}
    from_env = load(env)
    assert (from_env.header, from_env.trusted_proxies) == ("X-Email", ("10.0.0.6", "192.168.0.0/24"))
    from_options = load(env, header="X-Opt", trusted_proxies=["127.0.0.1"])
    assert (from_options.header, from_options.trusted_proxies) == ("X-Opt", ("127.0.0.1",))
    assert load(env, mode="local").mode is AuthMode.LOCAL
    assert load({"RISKPARAMS_AUTH": "local", "RISKPARAMS_AUTH_CONFIG": str(file)}).mode is AuthMode.LOCAL


def test_proxy_defaults_and_what_the_dashboard_reads() -> None:
    config = load(mode="proxy-header")
    assert config.header == "X-Forwarded-Email" and config.trusted_proxies == ("127.0.0.1", "::1")
    env = config.to_env()
    # the server must see the proxy's own address, not one rewritten from X-Forwarded-For
    assert env == {"RISKPARAMS_AUTH": "proxy-header", "RISKPARAMS_AUTH_HEADER": "X-Forwarded-Email",
                   "RISKPARAMS_TRUSTED_PROXIES": "127.0.0.1,::1", "FORWARDED_ALLOW_IPS": ""}
    assert AuthConfig.from_env(env) == config
    with pytest.raises(AuthConfigError, match="FORWARDED_ALLOW_IPS set to an empty string"):
        AuthConfig.from_env({k: v for k, v in env.items() if k != "FORWARDED_ALLOW_IPS"})
    assert load(mode="proxy-header", trusted_proxies=["localhost"]).trusted_proxies == ("127.0.0.1", "::1")


@pytest.mark.parametrize(("options", "environ", "match"), [
    ({"mode": "ldap"}, {}, r"^--auth: the sign-in mode must be one of local, oidc, proxy-header, got 'ldap'\.$"),
    ({}, {"RISKPARAMS_AUTH": "kerberos"}, r"^\$RISKPARAMS_AUTH: the sign-in mode must be one of"),
    ({"mode": "proxy-header", "header": "X Email"}, {}, r"^--auth-header: 'X Email' is not an HTTP header name"),
    ({"mode": "proxy-header", "trusted_proxies": ["proxy.internal"]}, {},
     r"^--trusted-proxy: trusted proxy 'proxy.internal' is not an IP address or network"),
    ({"mode": "proxy-header", "trusted_proxies": []}, {}, r"give at least one trusted proxy address"),
    ({"mode": "oidc"}, {}, r"^oidc mode needs the identity provider: --oidc-issuer URL"),
    ({"mode": "oidc", "issuer": "https://id.example"}, {}, r"^oidc mode needs the client id"),
    ({"mode": "oidc", "issuer": "https://id.example", "client_id": "x"}, {},
     r"^oidc mode needs the client secret: \$RISKPARAMS_OIDC_CLIENT_SECRET .* \(not a command-line option"),
    ({"mode": "oidc", "issuer": "http://id.example"}, OIDC_ENV,
     r"^--oidc-issuer: 'http://id.example' must use https \(plain http only on this machine"),
    ({"mode": "oidc", "issuer": "ftp://id.example"}, OIDC_ENV, r"is not an http\(s\) URL"),
    ({"mode": "oidc", "redirect_uri": "https://risk.example/callback"}, OIDC_ENV,
     r"^--oidc-redirect-uri: 'https://risk.example/callback' must end with /oauth2callback"),
    ({"mode": "oidc", "address": "0.0.0.0"}, OIDC_ENV, r"on all addresses needs the URL users open"),
    ({"mode": "oidc"}, {**OIDC_ENV, "RISKPARAMS_OIDC_COOKIE_SECRET": "short"},
     r"^\$RISKPARAMS_OIDC_COOKIE_SECRET: the cookie secret must be at least 16 characters"),
])
def test_bad_settings_are_one_sentence_naming_where(options: dict[str, object], environ: dict[str, str],
                                                    match: str) -> None:
    fails(match, environ, **options)


def test_bad_config_files(tmp_path: Path) -> None:
    fails(r"^auth config file .*missing\.toml not found\.$", config_file=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    for text, match in (("mode = ", "is not valid TOML"),
                        ("users = 1", r"unknown key 'users'; allowed keys are mode, \[proxy\], \[oidc\]"),
                        ("[oidc]\nsecret = 'x'", r"\[oidc\] has unknown key 'secret'; allowed keys are issuer,"),
                        ("[proxy]\ntrusted = '127.0.0.1'", r"\[proxy\] trusted must be a list"),
                        ("oidc = 3", r"oidc must be a table")):
        bad.write_text(text)
        fails(match, config_file=bad)


def test_oidc_settings_and_the_secrets_file_streamlit_reads(tmp_path: Path) -> None:
    config = load(OIDC_ENV, mode="oidc", port=8600)
    o = config.oidc
    assert o is not None
    assert o.server_metadata_url == "https://id.dao.example/realms/risk/.well-known/openid-configuration"
    assert o.redirect_uri == "http://127.0.0.1:8600/oauth2callback" and o.client_id == "riskparams"
    assert len(o.cookie_secret) >= 32 and o.cookie_secret != load(OIDC_ENV, mode="oidc").oidc.cookie_secret  # type: ignore[union-attr]
    assert "s3cret-client" not in repr(config) and o.cookie_secret not in repr(config)  # secrets never printed
    assert config.to_env() == {"RISKPARAMS_AUTH": "oidc"}  # the dashboard never sees the secrets
    # the metadata URL wins over the issuer; a configured cookie secret is kept; IPv6 default redirect
    meta = load({**OIDC_ENV, "RISKPARAMS_OIDC_COOKIE_SECRET": "c" * 40}, mode="oidc", address="::1", port=9000,
                server_metadata_url="http://127.0.0.1:5000/.well-known/openid-configuration").oidc
    assert meta is not None and meta.server_metadata_url.startswith("http://127.0.0.1:5000/")
    assert meta.cookie_secret == "c" * 40 and meta.redirect_uri == "http://[::1]:9000/oauth2callback"

    path = auth.write_secrets_file(o, directory=tmp_path)
    assert path.name == "secrets.toml" and path.parent.parent == tmp_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    section = tomllib.loads(path.read_text())["auth"]
    assert section == {"redirect_uri": o.redirect_uri, "cookie_secret": o.cookie_secret, "client_id": "riskparams",
                       "client_secret": "s3cret-client", "server_metadata_url": o.server_metadata_url}


def test_secrets_with_quotes_survive_the_toml(tmp_path: Path) -> None:
    env = {**OIDC_ENV, "RISKPARAMS_OIDC_CLIENT_SECRET": 'a"b\\c\'d ü'}
    o = load(env, mode="oidc").oidc
    assert o is not None
    path = auth.write_secrets_file(o, directory=tmp_path)
    assert tomllib.loads(path.read_text())["auth"]["client_secret"] == 'a"b\\c\'d ü'


def test_the_secrets_folder_goes_when_its_process_exits(tmp_path: Path) -> None:
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "secrets.toml").write_text("[auth]\n")
    # the watcher follows the process that starts it: here a helper that starts it, waits a little and exits
    code = ("import sys, time; from riskparams import auth; auth.remove_when_process_exits(sys.argv[1]); "
            "time.sleep(1.5)")
    starter = subprocess.Popen([sys.executable, "-c", code, str(folder)])
    time.sleep(0.8)
    assert folder.exists()  # its process is still running
    starter.wait(timeout=30)
    deadline = time.monotonic() + 15
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not folder.exists()


def test_the_example_auth_file_is_valid() -> None:
    path = example_committee_path().parent / "auth.toml"
    assert load(config_file=path).mode is AuthMode.LOCAL
    oidc = load({"RISKPARAMS_OIDC_CLIENT_SECRET": "x"}, config_file=path, mode="oidc").oidc
    assert oidc is not None and oidc.redirect_uri == "https://risk.example.org/oauth2callback"
    assert load(config_file=path, mode="proxy-header").header == "X-Forwarded-Email"


# -- who acts --------------------------------------------------------------------------------------------
def test_local_mode_acts_as_the_chosen_member_and_nobody_by_default() -> None:
    nobody = auth.local_identity(None, COMMITTEE)
    assert nobody.member is None and nobody.may_change_data and "choose who you are" in nobody.note
    assert nobody.mode_label == "Sign-in: none (local mode)"
    bob = auth.local_identity("bob", COMMITTEE)
    assert bob.member is not None and bob.member.handle == "bob" and "not verified" in bob.note
    assert auth.local_identity("mallory", COMMITTEE).member is None
    assert "anyone with this page can act as any member" in auth.LOCAL_BANNER


def test_oidc_maps_the_verified_email_to_its_member() -> None:
    user = {"is_logged_in": True, "email": "bob@dao.example", "email_verified": True, "name": "Bob"}
    me = auth.oidc_identity(user, COMMITTEE)
    assert me.member is not None and me.member.handle == "bob"  # emails compare case-insensitively
    assert me.signed_in and me.subject == "bob@dao.example" and me.may_change_data
    assert me.note == "Signed in as bob@dao.example: acting as Bob Member (@bob, member)."
    no_claim = auth.oidc_identity({"is_logged_in": True, "email": "alice@dao.example"}, COMMITTEE)
    assert no_claim.member is not None and no_claim.member.handle == "alice"  # email_verified absent: accepted


@pytest.mark.parametrize(("user", "note"), [
    (None, "Not signed in: view only. Log in to act as your committee member."),
    ({"is_logged_in": False}, "Not signed in: view only."),
    ({"is_logged_in": True, "name": "X"}, "sent no email claim"),
    ({"is_logged_in": True, "email": "bob@dao.example", "email_verified": False}, "has not verified that email"),
    ({"is_logged_in": True, "email": "bob@dao.example", "email_verified": "false"}, "has not verified that email"),
    ({"is_logged_in": True, "email": "eve@elsewhere.example", "email_verified": True},
     "Signed in as eve@elsewhere.example, who is not a member of the committee (test-committee.toml): view only."),
])
def test_oidc_without_a_verified_member_email_is_view_only(user: dict[str, object] | None, note: str) -> None:
    who = auth.oidc_identity(user, COMMITTEE)
    assert who.member is None and not who.may_change_data and note in who.note
    assert who.signed_in == bool(user and user.get("is_logged_in"))


def test_proxy_header_from_the_trusted_proxy_names_the_member() -> None:
    config = load(mode="proxy-header")
    me = auth.proxy_identity({"X-Forwarded-Email": ["olga@dao.example"]}, None, config, COMMITTEE)
    assert me.member is not None and me.member.role == "observer" and me.subject == "olga@dao.example"
    # header names compare case-insensitively; the value is trimmed
    lower = auth.proxy_identity({"x-forwarded-email": [" alice@dao.example "]}, None, config, COMMITTEE)
    assert lower.member is not None and lower.member.handle == "alice"
    custom = load(mode="proxy-header", header="X-Auth-Request-Email", trusted_proxies=["10.1.0.0/16"])
    via = auth.proxy_identity({"X-Auth-Request-Email": ["bob@dao.example"]}, "10.1.2.3", custom, COMMITTEE)
    assert via.member is not None and via.member.handle == "bob"


@pytest.mark.parametrize(("headers", "peer", "note"), [
    ({}, None, "No X-Forwarded-Email header from the proxy: not signed in; view only."),
    ({"X-Forwarded-Email": [""]}, None, "No X-Forwarded-Email header"),
    ({"X-Forwarded-Email": ["bob@dao.example"]}, "203.0.113.7",
     "This connection comes from 203.0.113.7, not from the trusted proxy (127.0.0.1, ::1): its X-Forwarded-Email "
     "header is ignored; view only."),
    ({"X-Forwarded-Email": ["bob@dao.example", "alice@dao.example"]}, None, "2 different X-Forwarded-Email headers"),
    ({"X-Forwarded-Email": ["eve@elsewhere.example"]}, None, "eve@elsewhere.example, who is not a member"),
    ({"X-Other": ["bob@dao.example"]}, None, "No X-Forwarded-Email header"),
])
def test_proxy_header_missing_untrusted_or_unknown_is_view_only(headers: dict[str, list[str]], peer: str | None,
                                                                 note: str) -> None:
    who = auth.proxy_identity(headers, peer, load(mode="proxy-header"), COMMITTEE)
    assert who.member is None and not who.may_change_data and note in who.note


def test_trusted_peers() -> None:
    loopback = ("127.0.0.1", "::1")
    assert auth.is_trusted_peer(None, loopback)  # Streamlit reports loopback as no address
    assert auth.is_trusted_peer("::ffff:127.0.0.1", ["127.0.0.1"])
    assert not auth.is_trusted_peer(None, ["10.9.9.9"])
    assert auth.is_trusted_peer("10.9.9.9", ["10.9.9.9"]) and auth.is_trusted_peer("10.2.3.4", ["10.0.0.0/8"])
    assert not auth.is_trusted_peer("10.9.9.8", ["10.9.9.9"]) and not auth.is_trusted_peer("garbage", loopback)
    assert not auth.is_trusted_peer("::1", ["127.0.0.1"])


def test_the_example_committee_binds_emails() -> None:
    from riskparams.governance import load_committee

    committee = load_committee(example_committee_path())
    found = committee.find_email("carol@example.org")
    if found is None:
        pytest.skip("the example committee has no emails")
    assert found.handle == "carol"


def test_auth_imports_neither_streamlit_nor_the_store() -> None:
    code = ("import sys, riskparams.auth; bad = {'streamlit', 'duckdb'} & set(sys.modules); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


@pytest.mark.parametrize(("argv", "message"), [
    (["serve", "--auth", "oidc"], "riskparams: error: oidc mode needs the identity provider: --oidc-issuer URL"),
    (["serve", "--auth", "proxy-header", "--trusted-proxy", "proxy.lan"],
     "riskparams: error: --trusted-proxy: trusted proxy 'proxy.lan' is not an IP address or network"),
    (["serve", "--auth-config", "/nonexistent/auth.toml"], "riskparams: error: auth config file /nonexistent/auth.toml "
                                                           "not found."),
    (["serve", "--committee", "/nonexistent/committee.toml"], "riskparams: error: committee file "),
])
def test_serve_refuses_bad_sign_in_settings_in_one_line(argv: list[str], message: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from riskparams.cli import main

    for name in ("RISKPARAMS_AUTH", "RISKPARAMS_AUTH_CONFIG", *auth.ENV_OIDC.values()):
        monkeypatch.delenv(name, raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and len(err.splitlines()) == 1, err

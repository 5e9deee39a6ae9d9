"""Who uses the dashboard: the sign-in modes of ``riskparams serve --auth`` and the mapping of a signed-in
identity to a committee member. Pure (no Streamlit): :mod:`riskparams.ui` makes the Streamlit calls.

Modes
-----
``local`` (default)
    No sign-in. A sidebar picker says who acts, with no default; every page says that anyone with the page
    can act as any member. For one person on their own machine.
``oidc``
    Streamlit's built-in OpenID Connect sign-in (``st.login``). The ``email`` claim (unless
    ``email_verified`` is false) names the committee member (``email`` in the committee file); the user acts
    only as that member. Anyone else, or nobody signed in, may only view.
``proxy-header``
    A reverse proxy that authenticates users (oauth2-proxy, an SSO gateway) puts the user's email in a
    header (default ``X-Forwarded-Email``); it is believed only on connections from the trusted proxy
    addresses (default the loopback addresses). Missing header, another address or an unknown email: view
    only.

Settings come from ``riskparams serve`` options, else environment variables, else an auth config file
(``--auth-config FILE`` or ``$RISKPARAMS_AUTH_CONFIG``; see ``riskparams/examples/auth.toml``), else the
defaults. Secrets (the OIDC client secret and cookie secret) come only from the environment or the file,
never from the command line (it shows in the process list), and reach Streamlit through a ``secrets.toml``
written for the one server in a private temporary folder that is removed when the server stops
(:func:`write_secrets_file`, :func:`remove_when_process_exits`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from riskparams.exceptions import AuthConfigError
from riskparams.jsonio import inline_json

if TYPE_CHECKING:
    from riskparams.governance import Committee, Member

__all__ = [
    "DEFAULT_HEADER",
    "DEFAULT_TRUSTED_PROXIES",
    "LOCAL_BANNER",
    "AuthConfig",
    "AuthConfigError",
    "AuthMode",
    "Identity",
    "OidcSettings",
    "is_trusted_peer",
    "load_auth_config",
    "local_identity",
    "oidc_identity",
    "proxy_identity",
    "remove_when_process_exits",
    "write_secrets_file",
]

ENV_MODE = "RISKPARAMS_AUTH"
ENV_CONFIG = "RISKPARAMS_AUTH_CONFIG"
ENV_HEADER = "RISKPARAMS_AUTH_HEADER"
ENV_TRUSTED = "RISKPARAMS_TRUSTED_PROXIES"
ENV_OIDC = {
    "issuer": "RISKPARAMS_OIDC_ISSUER",
    "server_metadata_url": "RISKPARAMS_OIDC_METADATA_URL",
    "client_id": "RISKPARAMS_OIDC_CLIENT_ID",
    "client_secret": "RISKPARAMS_OIDC_CLIENT_SECRET",
    "cookie_secret": "RISKPARAMS_OIDC_COOKIE_SECRET",
    "redirect_uri": "RISKPARAMS_OIDC_REDIRECT_URI",
}
"""Environment variables of the OIDC settings (the two secrets have no command-line option)."""

DEFAULT_HEADER = "X-Forwarded-Email"
DEFAULT_TRUSTED_PROXIES: tuple[str, ...] = ("127.0.0.1", "::1")

LOCAL_BANNER = "Unauthenticated single-user mode: anyone with this page can act as any member."
"""What every page says in ``local`` mode."""

_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")  # an HTTP header name (RFC 9110 token)
_CALLBACK = "/oauth2callback"  # Streamlit's OIDC redirect route


class AuthMode(StrEnum):
    """How the dashboard learns who its user is."""

    LOCAL = "local"
    OIDC = "oidc"
    PROXY_HEADER = "proxy-header"


MODE_LABELS = {
    AuthMode.LOCAL: "none (local mode)",
    AuthMode.OIDC: "OpenID Connect",
    AuthMode.PROXY_HEADER: "reverse proxy",
}
"""How each mode is named on the pages ("Sign-in: ...")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcSettings:
    """The OpenID Connect client of the dashboard (what Streamlit's ``[auth]`` secrets section holds).

    Attributes
    ----------
    server_metadata_url : str
        The provider's discovery document (``<issuer>/.well-known/openid-configuration``).
    client_id, client_secret : str
        The dashboard's client registration at the provider.
    cookie_secret : str
        Signs the sign-in cookie (at least 16 characters); random per server start when not configured.
    redirect_uri : str
        ``<the dashboard's URL>/oauth2callback``, registered at the provider.
    """

    server_metadata_url: str
    client_id: str
    client_secret: str = field(repr=False)
    cookie_secret: str = field(repr=False)
    redirect_uri: str

    def secrets_toml(self) -> str:
        """The ``[auth]`` section of a Streamlit ``secrets.toml`` for these settings."""
        keys = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
        # a JSON string (non-ASCII kept as is) is a valid TOML basic string
        lines = [f"{k} = {inline_json(getattr(self, k))}" for k in keys]
        return "[auth]\n" + "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    """The dashboard's sign-in mode and its settings.

    Attributes
    ----------
    mode : AuthMode
    header : str
        ``proxy-header``: the header that carries the user's email.
    trusted_proxies : tuple of str
        ``proxy-header``: the addresses or networks (``10.0.0.0/8``) the header is believed from.
    oidc : OidcSettings or None
        ``oidc``, as ``riskparams serve`` reads it; None in the dashboard itself, which never sees secrets.
    """

    mode: AuthMode = AuthMode.LOCAL
    header: str = DEFAULT_HEADER
    trusted_proxies: tuple[str, ...] = DEFAULT_TRUSTED_PROXIES
    oidc: OidcSettings | None = None

    def to_env(self) -> dict[str, str]:
        """The environment variables that tell the dashboard process its mode (no secrets)."""
        env = {ENV_MODE: self.mode.value}
        if self.mode is AuthMode.PROXY_HEADER:
            env[ENV_HEADER] = self.header
            env[ENV_TRUSTED] = ",".join(self.trusted_proxies)
            # uvicorn (Streamlit's server) replaces the peer address by X-Forwarded-For on connections from the
            # addresses in FORWARDED_ALLOW_IPS (default loopback); trust none, so the peer check sees the real peer
            env["FORWARDED_ALLOW_IPS"] = ""
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthConfig:
        """The dashboard's view of the mode, from the variables :meth:`to_env` sets (``local`` when unset).

        Raises
        ------
        AuthConfigError
            A bad value, or ``proxy-header`` mode in a server that rewrites peer addresses from
            ``X-Forwarded-For`` (start the dashboard with ``riskparams serve``).
        """
        mode = _mode(environ.get(ENV_MODE) or AuthMode.LOCAL.value, f"${ENV_MODE}")
        if mode is not AuthMode.PROXY_HEADER:
            return cls(mode=mode)
        if environ.get("FORWARDED_ALLOW_IPS") != "":
            raise AuthConfigError("proxy-header mode needs FORWARDED_ALLOW_IPS set to an empty string, so that the "
                                  "server sees the proxy's own address; start the dashboard with "
                                  "`riskparams serve --auth proxy-header`.")
        header = _header(environ.get(ENV_HEADER) or DEFAULT_HEADER, f"${ENV_HEADER}")
        trusted = _trusted(_split(environ.get(ENV_TRUSTED) or ",".join(DEFAULT_TRUSTED_PROXIES)), f"${ENV_TRUSTED}")
        return cls(mode=mode, header=header, trusted_proxies=trusted)


# -------------------------------------------------------------------------------------------------
# reading the settings: options > environment > config file > defaults
# -------------------------------------------------------------------------------------------------


def _mode(value: Any, where: str) -> AuthMode:
    try:
        return AuthMode(str(value).strip().lower())
    except ValueError:
        raise AuthConfigError(f"{where}: the sign-in mode must be one of local, oidc, proxy-header, got "
                              f"{value!r}.") from None


def _header(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HEADER.match(value.strip()):
        raise AuthConfigError(f"{where}: {value!r} is not an HTTP header name (letters, digits and - such as "
                              f"{DEFAULT_HEADER}).")
    return value.strip()


def _split(text: str) -> list[str]:
    return [p.strip() for p in str(text).split(",") if p.strip()]


def _trusted(values: Sequence[Any], where: str) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        text = str(v).strip()
        if text.lower() == "localhost":
            out.extend(DEFAULT_TRUSTED_PROXIES)
            continue
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise AuthConfigError(f"{where}: trusted proxy {text!r} is not an IP address or network (such as "
                                  "127.0.0.1 or 10.0.0.0/8).") from None
        out.append(text)
    if not out:
        raise AuthConfigError(f"{where}: give at least one trusted proxy address (such as 127.0.0.1).")
    return tuple(dict.fromkeys(out))


def _is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(value: str, where: str, *, callback: bool = False) -> str:
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(
            ord(c) < 33 for c in text):
        raise AuthConfigError(f"{where}: {value!r} is not an http(s) URL.")
    if parts.scheme == "http" and not _is_loopback_host(parts.hostname):
        raise AuthConfigError(f"{where}: {value!r} must use https (plain http only on this machine: localhost, "
                              "127.0.0.1, ::1).")
    if callback and not parts.path.endswith(_CALLBACK):
        raise AuthConfigError(f"{where}: {value!r} must end with {_CALLBACK} (the dashboard's sign-in callback).")
    return text


def _read_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path).expanduser()
    try:
        data = tomllib.loads(p.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise AuthConfigError(f"auth config file {p} not found.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthConfigError(f"auth config file {p} cannot be read ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise AuthConfigError(f"auth config file {p} is not valid TOML ({exc}).") from None
    allowed = {"mode": None, "proxy": ("header", "trusted"), "oidc": tuple(ENV_OIDC)}
    for key, value in data.items():
        if key not in allowed:
            raise AuthConfigError(f"auth config file {p}: unknown key {key!r}; allowed keys are mode, [proxy], "
                                  "[oidc].")
        sub = allowed[key]
        if sub is None:
            continue
        if not isinstance(value, dict):
            raise AuthConfigError(f"auth config file {p}: {key} must be a table ([{key}]).")
        for k, v in value.items():
            if k not in sub:
                raise AuthConfigError(f"auth config file {p}: [{key}] has unknown key {k!r}; allowed keys are "
                                      f"{', '.join(sub)}.")
            if k == "trusted":
                if not isinstance(v, list):
                    raise AuthConfigError(f"auth config file {p}: [proxy] trusted must be a list of addresses.")
            elif not isinstance(v, str):
                raise AuthConfigError(f"auth config file {p}: [{key}] {k} must be a string.")
    return data


def _pick(option: Any, env_name: str, environ: Mapping[str, str], file_value: Any, file_where: str,
          option_name: str) -> tuple[Any, str]:
    """The first of option, environment variable and file value that is set, with where it came from."""
    if option is not None:
        return option, option_name
    if environ.get(env_name):
        return environ[env_name], f"${env_name}"
    if file_value is not None:
        return file_value, file_where
    return None, ""


def load_auth_config(
    *,
    mode: str | None = None,
    config_file: str | Path | None = None,
    header: str | None = None,
    trusted_proxies: Sequence[str] | None = None,
    issuer: str | None = None,
    server_metadata_url: str | None = None,
    client_id: str | None = None,
    redirect_uri: str | None = None,
    address: str = "127.0.0.1",
    port: int = 8501,
    environ: Mapping[str, str] | None = None,
) -> AuthConfig:
    """The sign-in settings of ``riskparams serve``: each from its option, else its environment variable,
    else the auth config file (``config_file`` or ``$RISKPARAMS_AUTH_CONFIG``), else the default.

    Parameters
    ----------
    mode, header, trusted_proxies, issuer, server_metadata_url, client_id, redirect_uri
        The command-line options (None when not given). ``server_metadata_url`` wins over ``issuer``.
    address, port
        Where the dashboard listens: the default ``redirect_uri`` is ``http://ADDRESS:PORT/oauth2callback``.
    environ
        The environment (default ``os.environ``).

    Raises
    ------
    AuthConfigError
        One sentence naming the setting and where it came from.
    """
    env = os.environ if environ is None else environ
    path = config_file if config_file is not None else (env.get(ENV_CONFIG) or None)
    data = _read_config_file(path) if path is not None else {}
    where = f"auth config file {Path(path).name}" if path is not None else ""
    proxy, oidc = data.get("proxy", {}), data.get("oidc", {})

    value, src = _pick(mode, ENV_MODE, env, data.get("mode"), where, "--auth")
    chosen = _mode(value, src) if value is not None else AuthMode.LOCAL
    if chosen is AuthMode.LOCAL:
        return AuthConfig(mode=chosen)
    if chosen is AuthMode.PROXY_HEADER:
        value, src = _pick(header, ENV_HEADER, env, proxy.get("header"), where, "--auth-header")
        head = _header(value, src) if value is not None else DEFAULT_HEADER
        if trusted_proxies is not None:
            trusted = _trusted(trusted_proxies, "--trusted-proxy")
        elif env.get(ENV_TRUSTED):
            trusted = _trusted(_split(env[ENV_TRUSTED]), f"${ENV_TRUSTED}")
        elif proxy.get("trusted") is not None:
            trusted = _trusted(proxy["trusted"], f"{where} [proxy] trusted")
        else:
            trusted = DEFAULT_TRUSTED_PROXIES
        return AuthConfig(mode=chosen, header=head, trusted_proxies=trusted)

    def setting(key: str, option: str | None, option_name: str) -> tuple[str | None, str]:
        value, src = _pick(option, ENV_OIDC[key], env, oidc.get(key), f"{where} [oidc] {key}", option_name)
        text = None if value is None else str(value).strip()
        return (text or None), src

    metadata, src = setting("server_metadata_url", server_metadata_url, "--oidc-metadata-url")
    if metadata is None:
        iss, src = setting("issuer", issuer, "--oidc-issuer")
        if iss is None:
            raise AuthConfigError("oidc mode needs the identity provider: --oidc-issuer URL (or "
                                  "--oidc-metadata-url), $RISKPARAMS_OIDC_ISSUER, or issuer in [oidc] of the auth "
                                  "config file.")
        metadata = _url(iss, src).rstrip("/") + "/.well-known/openid-configuration"
    metadata = _url(metadata, src)
    cid, _ = setting("client_id", client_id, "--oidc-client-id")
    if cid is None:
        raise AuthConfigError("oidc mode needs the client id registered at the identity provider: "
                              "--oidc-client-id, $RISKPARAMS_OIDC_CLIENT_ID, or client_id in [oidc] of the auth "
                              "config file.")
    secret, _ = setting("client_secret", None, "")
    if secret is None:
        raise AuthConfigError("oidc mode needs the client secret: $RISKPARAMS_OIDC_CLIENT_SECRET or client_secret in "
                              "[oidc] of the auth config file (not a command-line option: it would show in the "
                              "process list).")
    cookie, src = setting("cookie_secret", None, "")
    if cookie is None:
        cookie = secrets.token_urlsafe(32)  # sign-ins then last until the server restarts
    elif len(cookie) < 16:
        raise AuthConfigError(f"{src}: the cookie secret must be at least 16 characters (random, e.g. "
                              "`openssl rand -hex 32`).")
    uri, src = setting("redirect_uri", redirect_uri, "--oidc-redirect-uri")
    if uri is None:
        if address in ("", "0.0.0.0", "::"):
            raise AuthConfigError("oidc mode on all addresses needs the URL users open: --oidc-redirect-uri "
                                  "https://HOST/oauth2callback (or $RISKPARAMS_OIDC_REDIRECT_URI).")
        host = f"[{address}]" if ":" in address else address
        uri, src = f"http://{host}:{port}{_CALLBACK}", "the default redirect URI"
    return AuthConfig(mode=chosen, oidc=OidcSettings(
        server_metadata_url=metadata, client_id=cid, client_secret=secret, cookie_secret=cookie,
        redirect_uri=_url(uri, src, callback=True)))


# -------------------------------------------------------------------------------------------------
# handing the OIDC secrets to Streamlit
# -------------------------------------------------------------------------------------------------


def write_secrets_file(settings: OidcSettings, *, directory: str | Path | None = None) -> Path:
    """Write Streamlit's ``secrets.toml`` for ``settings`` into a new private folder (mode 0700, the file
    0600) under ``directory`` (default the system's temporary folder); returns the file's path.

    Pass it to Streamlit as ``--secrets.files PATH`` and remove the folder when the server stops
    (:func:`remove_when_process_exits`).
    """
    folder = Path(tempfile.mkdtemp(prefix="riskparams-auth-", dir=directory))
    path = folder / "secrets.toml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(settings.secrets_toml())
    return path


_CLEANER = """\
import os, shutil, sys, time
parent = int(sys.argv[2])
while os.getppid() == parent:
    time.sleep(0.5)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


def remove_when_process_exits(folder: str | Path, pid: int | None = None) -> subprocess.Popen[bytes]:
    """Start a small watcher that removes ``folder`` once process ``pid`` (default: this one) has exited.

    The watcher is this process's child in its own session (Ctrl+C in the terminal does not stop it before
    it cleans up); when its parent exits it is handed to init, which is how it notices. ``riskparams serve``
    starts it and then becomes the Streamlit server (same process id), so the secrets folder lives exactly
    as long as the server.
    """
    parent = os.getpid() if pid is None else int(pid)
    return subprocess.Popen(
        [sys.executable, "-c", _CLEANER, str(folder), str(parent)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


# -------------------------------------------------------------------------------------------------
# who is acting
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who uses a page and whether they act as a committee member.

    Attributes
    ----------
    mode : AuthMode
    member : Member or None
        The committee member the user acts as; None: the page is view-only.
    subject : str or None
        Who the identity provider or proxy says the user is (their email), None if it says nothing.
    note : str
        One sentence for the page: who acts, or why nobody does.
    signed_in : bool
        ``oidc``: the user has signed in (they may sign out).
    may_change_data : bool
        May the user add data, proposals and backtest reports? Anyone in ``local`` mode; with sign-in, only
        a committee member.
    """

    mode: AuthMode
    member: Member | None
    subject: str | None = None
    note: str = ""
    signed_in: bool = False
    may_change_data: bool = False

    def __post_init__(self) -> None:
        if self.member is not None and not self.may_change_data:
            object.__setattr__(self, "may_change_data", True)

    @property
    def mode_label(self) -> str:
        """``'Sign-in: ...'`` naming the mode."""
        return f"Sign-in: {MODE_LABELS[self.mode]}"


def _acting(member: Member) -> str:
    return f"acting as {member.name} (@{member.handle}, {member.role})"


def local_identity(handle: str | None, committee: Committee) -> Identity:
    """``local`` mode: the member chosen in the picker (``handle``; None: nobody chosen yet)."""
    member = committee.find(handle) if handle else None
    if member is None:
        return Identity(mode=AuthMode.LOCAL, member=None, may_change_data=True,
                        note="Nobody acts yet: choose who you are under Acting as to sign off, vote or "
                             "comment.")
    return Identity(mode=AuthMode.LOCAL, member=member,
                    note=f"You are {_acting(member)}: chosen here, not verified.")


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def oidc_identity(user: Mapping[str, Any] | None, committee: Committee) -> Identity:
    """``oidc`` mode: the member whose email is the signed-in user's ``email`` claim.

    ``user`` is what Streamlit knows of the user (``st.user``: ``is_logged_in`` and the ID token's claims).
    An ``email_verified`` claim that is false, no email claim, or an email no member has: view-only.
    """
    mode = AuthMode.OIDC
    user = user or {}
    if not user.get("is_logged_in"):
        return Identity(mode=mode, member=None, note="Not signed in: view only. Log in to act as your committee "
                                                     "member.")
    email = str(user.get("email") or "").strip()
    if not email:
        return Identity(mode=mode, member=None, signed_in=True,
                        note="Signed in, but the identity provider sent no email claim, so no committee member "
                             "can be matched: view only.")
    if _is_false(user.get("email_verified")):
        return Identity(mode=mode, member=None, subject=email, signed_in=True,
                        note=f"Signed in as {email}, but the identity provider has not verified that email: "
                             "view only.")
    member = committee.find_email(email)
    if member is None:
        return Identity(mode=mode, member=None, subject=email, signed_in=True,
                        note=f"Signed in as {email}, who is not a member of the committee ({committee.source}): "
                             "view only.")
    return Identity(mode=mode, member=member, subject=email, signed_in=True,
                    note=f"Signed in as {email}: {_acting(member)}.")


def is_trusted_peer(peer: str | None, trusted: Sequence[str]) -> bool:
    """Does a connection from ``peer`` come from one of the ``trusted`` addresses or networks?

    ``peer`` None means a loopback connection (Streamlit reports 127.0.0.1 and ::1 as no address).
    """
    candidates = ["127.0.0.1", "::1"] if peer is None else [peer]
    nets = [ipaddress.ip_network(t, strict=False) for t in trusted]
    for text in candidates:
        try:
            ip = ipaddress.ip_address(text.strip().strip("[]"))
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip.version == n.version and ip in n for n in nets):
            return True
    return False


def proxy_identity(headers: Mapping[str, Sequence[str]], peer: str | None, config: AuthConfig,
                   committee: Committee) -> Identity:
    """``proxy-header`` mode: the member whose email the trusted proxy put in ``config.header``.

    Parameters
    ----------
    headers
        The request's headers, each name with all its values (names compared case-insensitively).
    peer
        The address the connection comes from (None: loopback).
    """
    mode, name = AuthMode.PROXY_HEADER, config.header
    if not is_trusted_peer(peer, config.trusted_proxies):
        where = "this machine" if peer is None else peer
        return Identity(mode=mode, member=None,
                        note=f"This connection comes from {where}, not from the trusted proxy "
                             f"({', '.join(config.trusted_proxies)}): its {name} header is ignored; view only.")
    values = [str(v).strip() for k, vs in headers.items() if k.lower() == name.lower() for v in vs]
    values = [v for v in values if v]
    if not values:
        return Identity(mode=mode, member=None, note=f"No {name} header from the proxy: not signed in; view only.")
    if len(set(values)) > 1:
        return Identity(mode=mode, member=None,
                        note=f"The proxy sent {len(values)} different {name} headers, not one: view only.")
    email = values[0]
    member = committee.find_email(email)
    if member is None:
        return Identity(mode=mode, member=None, subject=email,
                        note=f"Signed in by the proxy as {email}, who is not a member of the committee "
                             f"({committee.source}): view only.")
    return Identity(mode=mode, member=member, subject=email, note=f"Signed in by the proxy as {email}: "
                                                                   f"{_acting(member)}.")

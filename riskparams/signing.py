"""Signed committee actions: EIP-712 typed data (wallets) and Ed25519 (members without a wallet).

The one door to ``eth_account`` and ``cryptography``. A committee action (sign-off, dissent, approval,
rejection, override, committee change) is described by an :class:`ActionMessage`; its EIP-712 digest is
what both schemes sign:

* ``eip712``: an Ethereum account signs the typed data (``eth_signTypedData_v4``, as Snapshot and Safe
  ask wallets to), and the signer is the address recovered from the signature; it must be the member's
  ``address`` in the committee file.
* ``ed25519``: the member's Ed25519 key signs the same 32-byte digest; it must verify under the member's
  ``ed25519`` public key.

Typed data
----------
Domain ``{"name": "riskparams", "version": "1"}`` (no chain id: nothing is executed on chain). Primary type
``CommitteeAction``::

    proposal   bytes32  the proposal's content hash (its id), or the new committee's hash for a change
    action     string   signed_off | dissented | approved | rejected | revised | committee_change ...
    member     string   the acting member's handle
    committee  bytes32  hash of the committee the proposal is bound to (all zero before the binding)
    option     string   the option chosen at approval ('' otherwise)
    detail     string   what else the action decides (the overrides of a revision), '' when nothing
    comment    string   the comment or justification as recorded ('' when none)
    timestamp  uint64   when it was signed, Unix seconds (UTC)

A signature is accepted at most :data:`MAX_AGE_SECONDS` after its timestamp (and at most
:data:`MAX_SKEW_SECONDS` before it) and only once: a replayed signature is refused and fails verification.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskparams.exceptions import SignatureError
from riskparams.jsonio import pretty_json

__all__ = [
    "DOMAIN",
    "MAX_AGE_SECONDS",
    "MAX_SKEW_SECONDS",
    "SCHEMES",
    "TYPES",
    "ActionMessage",
    "KeyPair",
    "Signature",
    "SignatureError",
    "digest",
    "key_from_private",
    "load_key",
    "message_from_typed_data",
    "new_key",
    "recover",
    "save_key",
    "sign",
    "typed_data",
    "verify",
]

SCHEMES: tuple[str, ...] = ("eip712", "ed25519")
DOMAIN: dict[str, str] = {"name": "riskparams", "version": "1"}
TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}],
    "CommitteeAction": [
        {"name": "proposal", "type": "bytes32"},
        {"name": "action", "type": "string"},
        {"name": "member", "type": "string"},
        {"name": "committee", "type": "bytes32"},
        {"name": "option", "type": "string"},
        {"name": "detail", "type": "string"},
        {"name": "comment", "type": "string"},
        {"name": "timestamp", "type": "uint64"},
    ],
}
MAX_AGE_SECONDS = 86_400
"""A signature older than a day is refused: sign again (it cannot be replayed much later)."""
MAX_SKEW_SECONDS = 300
"""A signature dated more than five minutes in the future is refused (clock skew allowance)."""

_NOUNS = {"signed_off": "sign-off", "dissented": "dissent", "retracted": "retraction", "approved": "approval",
          "rejected": "rejection", "revised": "override", "submitted": "submission", "withdrawn": "withdrawal",
          "commented": "comment", "committee_change_proposed": "committee change",
          "committee_changed": "approval of a committee change"}
_HEX32 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_SIG_HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")
ZERO32 = "0" * 64


def _hex32(value: str, what: str) -> str:
    text = str(value).strip()
    if not _HEX32.match(text):
        raise SignatureError(f"{what} must be 64 hex digits, got {text[:80]!r}.")
    return text.lower().removeprefix("0x")


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionMessage:
    """What a member signs for one committee action (see the module notes for the fields)."""

    proposal: str
    action: str
    member: str
    committee: str
    option: str = ""
    detail: str = ""
    comment: str = ""
    timestamp: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "proposal", _hex32(self.proposal, "the proposal id"))
        object.__setattr__(self, "committee", _hex32(self.committee or ZERO32, "the committee hash"))
        if isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int) or not 0 <= self.timestamp < 2**63:
            raise SignatureError(f"the signature timestamp must be Unix seconds, got {self.timestamp!r}.")

    def to_dict(self) -> dict[str, Any]:
        """The typed-data message (``0x``-prefixed hashes)."""
        return {"proposal": "0x" + self.proposal, "action": self.action, "member": self.member,
                "committee": "0x" + self.committee, "option": self.option, "detail": self.detail,
                "comment": self.comment, "timestamp": self.timestamp}


def typed_data(message: ActionMessage) -> dict[str, Any]:
    """The full EIP-712 typed data (``types``, ``primaryType``, ``domain``, ``message``) a wallet signs with
    ``eth_signTypedData_v4``."""
    return {"types": TYPES, "primaryType": "CommitteeAction", "domain": dict(DOMAIN), "message": message.to_dict()}


def message_from_typed_data(data: Any) -> ActionMessage:
    """The :class:`ActionMessage` of typed data printed by ``riskparams typed-data`` (domain and types must
    be riskparams')."""
    if not isinstance(data, dict) or data.get("domain") != DOMAIN or data.get("types") != TYPES \
            or data.get("primaryType") != "CommitteeAction" or not isinstance(data.get("message"), dict):
        raise SignatureError("this is not riskparams typed data (domain riskparams, primary type CommitteeAction).")
    m = data["message"]
    try:
        return ActionMessage(proposal=str(m["proposal"]).removeprefix("0x"), action=str(m["action"]),
                             member=str(m["member"]), committee=str(m["committee"]).removeprefix("0x"),
                             option=str(m["option"]), detail=str(m["detail"]), comment=str(m["comment"]),
                             timestamp=m["timestamp"])
    except KeyError as exc:
        raise SignatureError(f"the typed data's message lacks {exc.args[0]!r}.") from None


def _signable(message: ActionMessage | dict[str, Any]) -> Any:
    from eth_account.messages import encode_typed_data

    full = typed_data(message) if isinstance(message, ActionMessage) else message
    try:
        return encode_typed_data(full_message=full)
    except Exception as exc:  # eth_account raises several types for malformed typed data
        raise SignatureError(f"the typed data cannot be encoded: {str(exc).splitlines()[0]}.") from None


def digest(message: ActionMessage | dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest ``keccak256(0x1901 || domainSeparator || hashStruct(message))``.

    ``message`` may also be any full typed-data dictionary (used by the reference test of EIP-712's own
    example).
    """
    from eth_account.messages import _hash_eip191_message

    return bytes(_hash_eip191_message(_signable(message)))


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPair:
    """A signing key: ``scheme``, ``private_key`` (hex) and ``public`` (the Ethereum address for
    ``eip712``, the 64-hex public key for ``ed25519``)."""

    scheme: str
    private_key: str
    public: str

    def to_dict(self) -> dict[str, str]:
        return {"scheme": self.scheme, "private_key": self.private_key, "public": self.public}


def _scheme(scheme: str) -> str:
    s = str(scheme).strip().lower()
    if s not in SCHEMES:
        raise SignatureError(f"unknown signature scheme {scheme!r}; use one of {', '.join(SCHEMES)}.")
    return s


def _ed_public(private_hex: str) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private_hex))
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def new_key(scheme: str = "ed25519") -> KeyPair:
    """A fresh random key pair of ``scheme`` (``ed25519`` or ``eip712``, an Ethereum account)."""
    s = _scheme(scheme)
    if s == "eip712":
        from eth_account import Account

        acct = Account.create()
        return KeyPair(scheme=s, private_key=acct.key.hex().removeprefix("0x"), public=acct.address)
    private = os.urandom(32).hex()
    return KeyPair(scheme=s, private_key=private, public=_ed_public(private))


def key_from_private(scheme: str, private_hex: str) -> KeyPair:
    """The key pair of a known private key (hex, 32 bytes)."""
    s = _scheme(scheme)
    private = _hex32(private_hex, "the private key")
    if s == "eip712":
        from eth_account import Account

        return KeyPair(scheme=s, private_key=private, public=Account.from_key(bytes.fromhex(private)).address)
    return KeyPair(scheme=s, private_key=private, public=_ed_public(private))


def save_key(key: KeyPair, path: str | Path) -> Path:
    """Write a key file (JSON) readable by its owner only (mode 0600); refuses to overwrite a file."""
    p = Path(path).expanduser()
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        raise SignatureError(f"key file {p} already exists; choose another path (keys are never "
                             "overwritten).") from None
    except OSError as exc:
        raise SignatureError(f"cannot write the key file {p}: {exc.strerror or exc}.") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(pretty_json(key.to_dict(), indent=1, sort_keys=False, ascii_only=True) + "\n")
    return p


def load_key(path: str | Path) -> KeyPair:
    """Read a key file written by :func:`save_key` (``riskparams keys new``)."""
    p = Path(path).expanduser()
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SignatureError(f"key file {p} not found.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignatureError(f"key file {p} cannot be read as a riskparams key ({str(exc).splitlines()[0]}).") \
            from None
    if not isinstance(raw, dict) or not {"scheme", "private_key"} <= set(raw):
        raise SignatureError(f"key file {p} is not a riskparams key (it needs scheme and private_key).")
    return key_from_private(str(raw["scheme"]), str(raw["private_key"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """A signature as recorded with an action: ``scheme``, ``signature`` (hex, no ``0x``) and the
    ``timestamp`` of the signed message."""

    scheme: str
    signature: str
    timestamp: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "scheme", _scheme(self.scheme))
        sig = str(self.signature).strip()
        if not _SIG_HEX.match(sig) or len(sig.removeprefix("0x")) not in (128, 130):
            raise SignatureError(f"a {self.scheme} signature must be 64 or 65 bytes of hex, got {sig[:40]!r}"
                                 f"{'...' if len(sig) > 40 else ''}.")
        object.__setattr__(self, "signature", sig.lower().removeprefix("0x"))
        if isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int) or self.timestamp < 0:
            raise SignatureError(f"the signature timestamp must be Unix seconds, got {self.timestamp!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "signature": self.signature, "timestamp": self.timestamp}

    @classmethod
    def from_dict(cls, d: Any) -> Signature:
        if not isinstance(d, dict):
            raise SignatureError("a recorded signature must be an object with scheme, signature and timestamp.")
        try:
            return cls(scheme=d["scheme"], signature=d["signature"], timestamp=d["timestamp"])
        except KeyError as exc:
            raise SignatureError(f"a recorded signature lacks {exc.args[0]!r}.") from None


def sign(message: ActionMessage, key: KeyPair) -> Signature:
    """Sign ``message`` with ``key`` (both schemes sign the EIP-712 digest)."""
    if key.scheme == "eip712":
        from eth_account import Account

        signed = Account.sign_message(_signable(message), private_key=bytes.fromhex(key.private_key))
        return Signature(scheme="eip712", signature=bytes(signed.signature).hex(), timestamp=message.timestamp)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key.private_key))
    return Signature(scheme="ed25519", signature=sk.sign(digest(message)).hex(), timestamp=message.timestamp)


def recover(message: ActionMessage | dict[str, Any], signature: str) -> str:
    """The Ethereum address that made an ``eip712`` signature of ``message`` (checksummed)."""
    from eth_account import Account

    try:
        return str(Account.recover_message(_signable(message), signature=bytes.fromhex(
            signature.removeprefix("0x"))))
    except SignatureError:
        raise
    except Exception as exc:  # malformed signature bytes (bad v, s out of range, ...)
        raise SignatureError(f"the signature cannot be recovered: {str(exc).splitlines()[0]}.") from None


def verify(message: ActionMessage, signature: Signature, *, address: str | None, ed25519: str | None) -> str | None:
    """Check a signature against the member's keys; returns None when it verifies, else why not (one
    sentence).

    Parameters
    ----------
    address : str or None
        The member's Ethereum address (for ``eip712``).
    ed25519 : str or None
        The member's Ed25519 public key, 64 hex digits (for ``ed25519``).
    """
    what = _NOUNS.get(message.action, message.action.replace("_", " "))
    if signature.timestamp != message.timestamp:
        return "the signature's timestamp is not the signed message's."
    if signature.scheme == "eip712":
        if not address:
            return f"@{message.member} has no Ethereum address in the committee file to verify an EIP-712 signature."
        try:
            signer = recover(message, signature.signature)
        except SignatureError as exc:
            return str(exc)
        if signer.lower() != address.lower():
            return (f"the EIP-712 signature does not verify for this {what} by "
                    f"@{message.member} (address {address}): it was made by another key ({signer}) or for another "
                    "action, comment or time.")
        return None
    if not ed25519:
        return f"@{message.member} has no ed25519 key in the committee file to verify an Ed25519 signature."
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(ed25519)).verify(bytes.fromhex(signature.signature),
                                                                          digest(message))
    except (InvalidSignature, ValueError):
        return (f"the Ed25519 signature does not verify for this {what} by "
                f"@{message.member}: it was made by another key or for another action, comment or time.")
    return None

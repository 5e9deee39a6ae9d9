"""Signed votes: the EIP-712 encoding against the standard's own example, Ed25519 keys against RFC 8032,
key files, and the committee workflow with require_signatures (keys, wallet signatures, replays)."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from riskparams import governance as gov
from riskparams import signing
from riskparams.domain import Proposal
from riskparams.governance import CommitteeError, GovernanceError, committee_from_dict
from riskparams.store import Store, now_utc
from riskparams.store.records import save_proposal
from riskparams.verify import verify

# EIP-712 (https://eips.ethereum.org/EIPS/eip-712), "Example": the Ether Mail message, its digest and the
# signature by the key keccak256("cow") as published with the standard's reference implementation (Example.js).
MAIL = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                         {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"},
                 {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
               "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
    "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                "contents": "Hello, Bob!"},
}
MAIL_DIGEST = "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
COW_KEY = "c85ef7d79691fe79573b1a7064c19c1a9819ebdbd1faaab1a8ec92344438aaf4"
COW_SIGNATURE = ("4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
                 "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562" "1c")

# RFC 8032, section 7.1, TEST 1: an Ed25519 secret key and its public key
RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def test_the_eip712_encoding_reproduces_the_standards_example() -> None:
    assert signing.digest(MAIL).hex() == MAIL_DIGEST
    assert signing.recover(MAIL, COW_SIGNATURE) == "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
    cow = signing.key_from_private("eip712", COW_KEY)
    assert cow.public == "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"


def test_ed25519_keys_follow_rfc8032() -> None:
    key = signing.key_from_private("ed25519", RFC8032_SECRET)
    assert key.public == RFC8032_PUBLIC


def message(**kw: Any) -> signing.ActionMessage:
    base: dict[str, Any] = {"proposal": "ab" * 32, "action": "signed_off", "member": "bob", "committee": "cd" * 32,
                            "comment": "checked", "timestamp": 1_800_000_000}
    return signing.ActionMessage(**{**base, **kw})


@pytest.mark.parametrize("scheme", signing.SCHEMES)
def test_a_signature_covers_every_field(scheme: str) -> None:
    key = signing.new_key(scheme)
    keys = {"address": key.public if scheme == "eip712" else None, "ed25519": key.public if scheme == "ed25519"
            else None}
    msg = message()
    sig = signing.sign(msg, key)
    assert signing.verify(msg, sig, **keys) is None
    for change in ({"proposal": "ac" * 32}, {"action": "dissented"}, {"member": "carol"}, {"committee": "ce" * 32},
                   {"option": "aggressive"}, {"detail": "BTC mmf tier 1 = 0.02"}, {"comment": "checked!"},
                   {"timestamp": 1_800_000_001}):
        other = message(**change)
        assert signing.verify(other, signing.Signature(scheme=scheme, signature=sig.signature,
                                                       timestamp=other.timestamp), **keys) is not None, change
    stranger = signing.new_key(scheme)
    assert "another key" in (signing.verify(msg, signing.sign(msg, stranger), **keys) or "")


def test_key_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    key = signing.new_key("ed25519")
    path = signing.save_key(key, tmp_path / "k.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert signing.load_key(path) == key
    with pytest.raises(signing.SignatureError, match="already exists"):
        signing.save_key(signing.new_key("ed25519"), path)
    (tmp_path / "bad.json").write_text('{"scheme": "rsa", "private_key": "00"}')
    with pytest.raises(signing.SignatureError, match="unknown signature scheme 'rsa'"):
        signing.load_key(tmp_path / "bad.json")


@pytest.mark.parametrize(("kw", "phrase"), [
    ({"scheme": "eip712", "signature": "zz", "timestamp": 1}, "64 or 65 bytes of hex"),
    ({"scheme": "eip712", "signature": "00" * 65, "timestamp": -1}, "Unix seconds"),
    ({"scheme": "rsa", "signature": "00" * 65, "timestamp": 1}, "unknown signature scheme"),
])
def test_malformed_signatures_are_one_sentence(kw: dict[str, Any], phrase: str) -> None:
    with pytest.raises(signing.SignatureError, match=phrase) as info:
        signing.Signature(**kw)
    assert "\n" not in str(info.value)


# -- the workflow with require_signatures ---------------------------------------------------------------------
KEYS = {"ann": signing.new_key("eip712"), "ben": signing.new_key("ed25519"), "cat": signing.new_key("eip712")}


def signed_committee() -> gov.Committee:
    return committee_from_dict({"quorum": 2, "require_signatures": True, "members": [
        {"name": "Ann", "handle": "ann", "role": "chair", "address": KEYS["ann"].public},
        {"name": "Ben", "handle": "ben", "role": "member", "ed25519": KEYS["ben"].public},
        {"name": "Cat", "handle": "cat", "role": "member", "address": KEYS["cat"].public},
    ]}, source="signed.toml")


def test_require_signatures_needs_a_key_for_every_voter() -> None:
    with pytest.raises(CommitteeError, match="require_signatures is true but voting member @dan has no key"):
        committee_from_dict({"require_signatures": True, "quorum": 1, "members": [
            {"name": "A", "handle": "ann", "role": "chair", "address": KEYS["ann"].public},
            {"name": "D", "handle": "dan", "role": "member"}]})


@pytest.fixture
def review(proposals: dict[str, Proposal]) -> tuple[Store, str]:
    s = Store.memory()
    pid = save_proposal(s, proposals["perp"]).id
    gov.submit_for_review(s, pid, "ann", committee=signed_committee())
    return s, pid


def test_unsigned_votes_are_refused_and_signed_ones_recorded(review: tuple[Store, str]) -> None:
    s, pid = review
    with pytest.raises(GovernanceError, match="requires signed votes and decisions: a sign-off by @ben needs a "):
        gov.sign_off(s, pid, "ben")
    with pytest.raises(GovernanceError, match="the ed25519 key given is not @cat's key"):
        gov.sign_off(s, pid, "cat", key=KEYS["ben"])
    wf = gov.sign_off(s, pid, "ben", comment="tiers ok", key=KEYS["ben"])
    assert wf.sign_offs[0].signed == "ed25519"
    event = wf.events[-1]
    assert event.signature is not None and event.signature["scheme"] == "ed25519"
    assert verify(s).ok


def test_a_wallet_signature_of_the_typed_data_is_accepted_once(review: tuple[Store, str]) -> None:
    """The dashboard / `riskparams typed-data` flow: the typed data is signed by a wallet (here eth_account's
    own sign_typed_data, as MetaMask's eth_signTypedData_v4 would) and pasted back."""
    from eth_account import Account

    s, pid = review
    data = gov.typed_data(s, pid, "cat", "signed_off", comment="  looks right ")
    assert data["message"]["comment"] == "looks right" and data["message"]["proposal"] == "0x" + pid
    signed = Account.sign_typed_data(bytes.fromhex(KEYS["cat"].private_key), full_message=data)
    sig = signing.Signature(scheme="eip712", signature=bytes(signed.signature).hex(),
                            timestamp=data["message"]["timestamp"])
    with pytest.raises(GovernanceError, match="does not verify for this sign-off by @cat"):
        gov.sign_off(s, pid, "cat", comment="something else", signature=sig)
    wf = gov.sign_off(s, pid, "cat", comment="looks right", signature=sig)
    assert wf.sign_offs[0].signed == "eip712"
    gov.retract(s, pid, "cat")
    with pytest.raises(GovernanceError, match="already used for another action"):
        gov.sign_off(s, pid, "cat", comment="looks right", signature=sig)
    report = verify(s)
    assert report.ok and report.checked["signatures"] == 1


def test_stale_and_future_signatures_are_refused(review: tuple[Store, str]) -> None:
    s, pid = review
    for delta, phrase in ((timedelta(hours=25), "hours old"), (timedelta(minutes=-10), "dated in the future")):
        data = gov.typed_data(s, pid, "ben", "signed_off", at=now_utc() - delta)
        msg = signing.message_from_typed_data(data)
        with pytest.raises(GovernanceError, match=phrase):
            gov.sign_off(s, pid, "ben", signature=signing.sign(msg, KEYS["ben"]))


def test_a_signed_approval_with_the_chosen_option_and_a_signed_override(review: tuple[Store, str],
                                                                         proposals: dict[str, Proposal]) -> None:
    s, pid = review
    gov.sign_off(s, pid, "ben", key=KEYS["ben"])
    gov.sign_off(s, pid, "cat", key=KEYS["cat"])
    with pytest.raises(GovernanceError, match="an approval by @ann needs a signature"):
        gov.approve(s, pid, "ann")
    wf = gov.approve(s, pid, "ann", comment="vote 3", key=KEYS["ann"])
    assert wf.status == "approved" and wf.decision is not None and wf.decision.signature is not None
    a = proposals["perp"].assets[0]
    override = gov.Override(symbol=a.symbol, parameter="liquidation_penalty", tier=0,
                            value=round(a.tiers[0].liquidation_penalty + 0.001, 4))
    with pytest.raises(GovernanceError, match="an override by @ben needs a signature"):
        gov.revise(s, pid, "ben", [override], justification="more for liquidators")
    rev = gov.revise(s, pid, "ben", [override], justification="more for liquidators", key=KEYS["ben"])
    revised = next(e for e in rev.parent.events if e.action == "revised")
    assert revised.signature is not None and revised.detail["override_labels"] == [
        f"{a.symbol} liquidation_penalty tier 1 = {override.value:.10g}"]
    report = verify(s)
    assert report.ok, [p.message for p in report.problems]
    assert report.checked["signatures"] == 4


def test_the_cli_signs_with_a_key_file_and_verifies(tmp_path: Path, proposals: dict[str, Proposal],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import run_cli

    db = tmp_path / "s.duckdb"
    for h in ("ann", "ben", "cat"):
        signing.save_key(KEYS[h], tmp_path / f"{h}.key")
    (tmp_path / "c.toml").write_text(
        "quorum = 2\nrequire_signatures = true\n" + "".join(
            f'[[members]]\nname = "{h}"\nhandle = "{h}"\nrole = "{"chair" if h == "ann" else "member"}"\n'
            f'{"address" if KEYS[h].scheme == "eip712" else "ed25519"} = "{KEYS[h].public}"\n' for h in KEYS))
    with Store(db) as s:
        pid = save_proposal(s, proposals["perp"]).id
    base = ["--db", str(db)]
    assert run_cli(capsys, *base, "review", pid[:10], "--as", "ann", "--committee", str(tmp_path / "c.toml"))[0] == 0
    code, _, err = run_cli(capsys, *base, "sign", pid[:10], "--as", "ben")
    assert code == 2 and "needs a signature" in err
    for h in ("ben", "cat"):
        assert run_cli(capsys, *base, "sign", pid[:10], "--as", h, "--key", str(tmp_path / f"{h}.key"))[0] == 0
    code, out, _ = run_cli(capsys, *base, "typed-data", pid[:10], "--action", "approve", "--as", "ann", "-m", "go")
    data = json.loads(out)
    (tmp_path / "td.json").write_text(out)
    code, sig, _ = run_cli(capsys, *base, "keys", "sign", str(tmp_path / "td.json"), "--key",
                           str(tmp_path / "ann.key"))
    assert code == 0
    code, out, err = run_cli(capsys, *base, "approve", pid[:10], "--as", "ann", "-m", "go", "--signature",
                             "0x" + sig.strip(), "--signed-at", str(data["message"]["timestamp"]))
    assert code == 0, err
    code, out, _ = run_cli(capsys, *base, "verify", pid[:10])
    assert code == 0 and out.startswith("verified: proposal") and "3 signatures" in out


def test_governance_benchmark_script_runs(run_benchmark: Any) -> None:
    out = run_benchmark("governance", "--proposals", "2", "--repeats", "1")
    assert out["proposals"] == 2 and out["verified_ok"] is True
    assert out["events"] >= 2 * 5  # created, submitted, two sign-offs, approval per proposal
    assert out["read_reopen_ms"] > 0 and out["verify_all_s"] > 0

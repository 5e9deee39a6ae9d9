"""``snapshot``: a Snapshot proposal as EIP-712 typed data, ready for ``eth_signTypedData_v4`` once its
placeholders are filled.

Shape (snapshot-labs/snapshot.js@efa5de1589d97d891b7c384c4015f1206d1ef726, ``src/sign/index.ts`` and
``src/sign/types.ts``, vendored in ``tests/data/venues/snapshot/``): ``domain`` ``{"name": "snapshot", "version":
"0.1.4"}``, ``primaryType`` ``Proposal``, ``types`` (``EIP712Domain`` and ``Proposal`` with the fields of
``proposalTypes``: from, space, timestamp, type, title, body, discussion, choices, labels, start, end, snapshot,
plugins, privacy, app) and ``message``; plus a ``riskparams`` block (placeholders, notes) that signing ignores.

* ``body``: the forum post (:func:`riskparams.export.to_markdown`) when it fits Snapshot's limit of
  :data:`SNAPSHOT_BODY_LIMIT` characters (JavaScript length, UTF-16 code units; the default space's
  ``MAX_BODY_LENGTH`` in snapshot-labs/sx-monorepo ``apps/ui/src/helpers/turbo.ts``, the limit snapshot.js's
  schema carried as ``maxLengthWithSpaceType.default`` until it moved to the UI and sequencer); otherwise cut at a
  line break and ended with a note linking to the full report (``report_url``, else the file name and SHA-256
  of the Markdown export, which anyone can check).
* ``choices``: ``For``, ``Against``, ``Abstain`` (type ``basic``); with named options and no option chosen yet,
  the option names (type ``single-choice``).
* ``title``: the forum post's title (at most 256 characters, the schema's ``name`` limit), marked ``[DRAFT]`` (or
  the status) when the proposal is not approved.
* Placeholders, stated in ``riskparams.placeholders``: ``from`` (the signer's address; snapshot.js fills it),
  ``space`` (the Snapshot space, e.g. ``aavedao.eth``), ``timestamp`` (0: snapshot.js sets the signing time),
  ``start``, ``end`` (Unix seconds of the voting period) and ``snapshot`` (the block number): 0 until set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from riskparams.exceptions import ExportError
from riskparams.venues._common import js_length, plain_line

if TYPE_CHECKING:
    from riskparams.store.records import StoredProposal

__all__ = ["SNAPSHOT_BODY_LIMIT", "SNAPSHOT_DOMAIN", "SNAPSHOT_PROPOSAL_TYPES", "SOURCE", "to_snapshot"]

SOURCE = ("snapshot-labs/snapshot.js@efa5de1589d97d891b7c384c4015f1206d1ef726 src/sign/{index,types}.ts, "
          "src/schemas/proposal.json; snapshot-labs/sx-monorepo@81ff275079ff64a8c4411cf274cb44bd41f1f341 "
          "apps/ui/src/helpers/turbo.ts (MAX_BODY_LENGTH)")
"""Where the typed data, the schema and the body limit come from."""

SNAPSHOT_BODY_LIMIT = 10_000
"""Snapshot's body limit for a (non-turbo) space, in JavaScript characters (UTF-16 code units)."""

SNAPSHOT_TITLE_LIMIT = 256
"""Snapshot's limit of a proposal title (``name`` in the schema) and of each choice."""

SNAPSHOT_DOMAIN = {"name": "snapshot", "version": "0.1.4"}
"""The EIP-712 domain snapshot.js signs with (no chainId)."""

SNAPSHOT_PROPOSAL_TYPES: list[dict[str, str]] = [
    {"name": "from", "type": "string"}, {"name": "space", "type": "string"}, {"name": "timestamp", "type": "uint64"},
    {"name": "type", "type": "string"}, {"name": "title", "type": "string"}, {"name": "body", "type": "string"},
    {"name": "discussion", "type": "string"}, {"name": "choices", "type": "string[]"},
    {"name": "labels", "type": "string[]"}, {"name": "start", "type": "uint64"}, {"name": "end", "type": "uint64"},
    {"name": "snapshot", "type": "uint64"}, {"name": "plugins", "type": "string"},
    {"name": "privacy", "type": "string"}, {"name": "app", "type": "string"},
]
"""``proposalTypes.Proposal`` of snapshot.js, in its order (the order is part of the EIP-712 type hash)."""

PLACEHOLDERS = {
    "from": "the proposer's address (snapshot.js sets it to the signer's checksum address)",
    "space": "the Snapshot space id, e.g. aavedao.eth",
    "timestamp": "0: snapshot.js sets the signing time",
    "start": "0: Unix seconds when voting opens (the space's voting delay after the timestamp)",
    "end": "0: Unix seconds when voting closes (start + the space's voting period)",
    "snapshot": "0: the block number voting power is read at",
}
"""The message fields riskparams cannot know, left at ``''`` / 0, and what to put there."""


def _cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` of at most ``limit`` JavaScript characters, ending at a line break when there
    is one in its second half."""
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix within the limit (UTF-16 length grows with the prefix)
        mid = (lo + hi + 1) // 2
        if js_length(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    prefix = text[:lo]
    brk = prefix.rfind("\n")
    return prefix[:brk] if brk > lo // 2 else prefix


def snapshot_body(markdown: str, *, link: str, limit: int = SNAPSHOT_BODY_LIMIT) -> tuple[str, bool]:
    """``(body, truncated)``: ``markdown`` itself when it fits ``limit``, else a prefix of it and a closing note
    pointing to ``link`` (the full report), the whole within ``limit``."""
    if js_length(markdown) <= limit:
        return markdown, False
    note = (f"\n\n---\n\n*Shortened to fit Snapshot's {limit:,}-character limit. Full report: {link}*\n")
    room = limit - js_length(note)
    if room <= 0:
        raise ExportError(f"the link to the full report is too long for Snapshot's {limit:,}-character body.")
    return _cut(markdown, room).rstrip() + note, True


def to_snapshot(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    report_url: str | None = None,
    markdown_options: Mapping[str, Any] | None = None,
) -> bytes:
    """A Snapshot proposal as EIP-712 typed data (JSON, sorted keys), for perp and lending proposals (see the module
    notes).

    Parameters
    ----------
    report_url : str, optional
        Where the full report is published (the forum post): the ``discussion`` field and the link at the end of a
        shortened body. Without it the body names the Markdown export's file and SHA-256 and ``discussion`` is a
        placeholder.
    markdown_options : mapping, optional
        Further keyword arguments of :func:`riskparams.export.to_markdown` (``impact``, ``plan``), so that the body
        is the ``md`` export of the same call.
    """
    from riskparams import export as ex

    doc = ex._doc(proposal, workflow, backtest)
    extra = {k: v for k, v in (markdown_options or {}).items() if v is not None}
    markdown = ex.to_markdown(proposal, workflow=workflow, backtest=backtest, **extra)
    url = plain_line(report_url) if report_url else ""
    if url and (len(url) > 256 or not url.startswith(("https://", "http://"))):
        raise ExportError(f"the report URL must start with https:// or http:// and have at most 256 characters, "
                          f"got {url[:80]!r}.")
    link = url or (f"{ex.default_filename(doc.id, 'md')} (SHA-256 {hashlib.sha256(markdown).hexdigest()}), the "
                   "riskparams Markdown export of this proposal")
    body, truncated = snapshot_body(markdown.decode("utf-8"), link=link)
    title = ex._unmarked(ex._title(doc))
    if not doc.final:
        title = f"[{'DRAFT' if doc.status in ('draft', 'in_review') else doc.status.upper()}] {title}"
    title = _cut(plain_line(title), SNAPSHOT_TITLE_LIMIT)
    options = [plain_line(o.name) for o in doc.proposal.options]
    chosen = ex._chosen_option(doc)
    if len(options) >= 2 and chosen is None and len(set(options)) == len(options) and all(options):
        kind, choices = "single-choice", [_cut(o, SNAPSHOT_TITLE_LIMIT) for o in options]
    else:
        kind, choices = "basic", ["For", "Against", "Abstain"]
    message = {
        "from": "", "space": "", "timestamp": 0, "type": kind, "title": title, "body": body, "discussion": url,
        "choices": choices, "labels": [], "start": 0, "end": 0, "snapshot": 0, "plugins": "{}", "privacy": "",
        "app": "riskparams",
    }
    placeholders = dict(PLACEHOLDERS)
    if not url:
        placeholders["discussion"] = "'': the forum post's URL (pass report_url)"
    payload = {
        "domain": dict(SNAPSHOT_DOMAIN), "primaryType": "Proposal",
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}],
                  "Proposal": [dict(t) for t in SNAPSHOT_PROPOSAL_TYPES]},
        "message": message,
        "riskparams": {
            "proposal_id": doc.id, "status": doc.status, "final": doc.final, "banner": doc.banner,
            "option": chosen, "source": SOURCE, "placeholders": placeholders,
            "body": {"limit": SNAPSHOT_BODY_LIMIT, "length": js_length(body), "truncated": truncated,
                     "full_report": link},
        },
    }
    return ex._dumps(ex._jsonable(payload))

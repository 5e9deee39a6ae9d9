"""Governance exports: a stored proposal (+ its committee record and an optional backtest payload) -> bytes.

Pure: nothing here reads the store or the clock. :func:`riskparams.governance.export_proposal` calls
:func:`render` and records the export in the audit log.

Formats (:data:`FORMATS`)
-------------------------
``md``
    Forum post in the Aave ARFC style: title, author, date; Summary; Motivation; Specification (table
    Asset | Parameter | Current | Proposed | Change, then manual overrides and assets left out);
    Methodology (model, policy, confidence, horizon, anti-procyclicality, guardrails, data fingerprints,
    package versions, proposal hash); Backtest results; Impact on open positions (the impact payload of
    :func:`riskparams.service.proposal_impact`: positions, a table per parameter set, a forum sentence, or "No
    positions attached"); Risks and next steps; Committee record.
``json``
    Bundle of everything (format ``riskparams-export-bundle-v1``): the proposal content, the
    specification rows, provenance (data fingerprint per asset, policy and its key, model specs, package
    versions, proposal hash), the committee record (sign-offs, dissents, decision, audit events), the
    backtest payload and the impact payload.
``csv``
    One row per asset x parameter x tier (:data:`CSV_COLUMNS`); text cells that a spreadsheet would read as
    a formula are neutralised (:func:`neutralise_csv_cell`).
``html``
    Standalone report with the same sections and interactive plotly charts (covered move by asset, tier
    ladders current vs proposed or lending parameters, backtest exceptions). plotly.js is embedded inline:
    the file opens offline, with no CDN and no ``<script src>``.
``dydx`` (perp proposals)
    A dYdX v4 governance proposal file (``title, summary, metadata, deposit, expedited, messages``) with one
    ``MsgSetLiquidityTier`` per asset and tier and a ``MsgUpdatePerpetualParams`` attaching each known market to
    its tier-1 liquidity tier, plus a ``riskparams`` block stating the mapping (:mod:`riskparams.venues.dydx`).
``aave`` (lending proposals)
    Aave v3 config-engine ``CollateralUpdate`` entries in bps with the ``KEEP_CURRENT`` sentinel, plus a
    ``riskparams`` block stating the mapping (the earlier custom JSON, kept; prefer ``aave-config``).
``aave-config``, ``aave-aip`` (lending), ``snapshot``, ``safe`` (lending), ``risk-updates``
    The Aave proposal generator's ``config.ts`` and AIP Markdown, a Snapshot proposal as EIP-712 typed data, a
    Safe Transaction Builder batch for the Aave risk steward, Chaos-style ``RiskParameterUpdate`` records: see
    :mod:`riskparams.venues`, which documents each format, its mapping and the public source it follows.

Mappings
--------
dYdX ``LiquidityTier`` (per riskparams tier; dYdX v4 has one liquidity tier per market, so each tier of
each asset becomes its own liquidity tier):

* ``initial_margin_ppm = ceil(IMF x 1e6)`` with ``IMF = 1 / max leverage``;
* ``maintenance_fraction_ppm = ceil(MMF / IMF x 1e6)`` (dYdX's maintenance margin is a fraction of the
  initial margin; rounding up keeps it at or above the proposed MMF);
* ``impact_notional = round(500 USDC / IMF)`` in quote quantums (1 USDC = 1e6), dYdX's recommended value;
* ``open_interest_upper_cap = round(open_interest_cap x 1e6)`` and ``open_interest_lower_cap`` half of it when
  the asset has a proposed open-interest cap (dYdX raises the IMF linearly to 100 % between them), else both 0
  (no scaling) with a note; each market is attached to its tier-1 liquidity tier by
  ``MsgUpdatePerpetualParams`` (see :mod:`riskparams.venues.dydx`);
* ``id``: sequential from ``dydx_first_id`` (default 1000, so a payload creates new tiers rather than
  overwrite the venue's) in symbol then tier order; ``name``: ``"SYMBOL tier N"``;
* ``authority``: the dYdX x/gov module account ``dydx10d07y265gmmuvt4z0w9aw880jnsr700jnmapky``.

Not mapped: liquidation penalties (dYdX sets liquidation fees module-wide), maintenance deductions,
position limits; they stay in the ``riskparams`` block.

Aave ``CollateralUpdate`` (per asset): ``ltv = floor(LTV x 1e4)``, ``liqThreshold = floor(LT x 1e4)``,
``liqBonus = ceil(bonus x 1e4)`` in bps, the bonus WITHOUT the 100 % base as the config engine takes it
(5 % -> 500; the pool stores 10500); ``debtCeiling`` and ``liqProtocolFee`` are
``EngineFlags.KEEP_CURRENT = type(uint256).max - 42`` (riskparams does not set them), and so is any value
equal to the current one; an asset with nothing to change is left out. ``asset`` holds the symbol unless
``asset_addresses`` maps it to the token address.

Determinism
-----------
The same inputs give identical bytes: no time of "now" (the date is the proposal's stored creation
time), sorted JSON keys, fixed number formats, fixed plotly div ids. The committee record given by
:meth:`riskparams.governance.Workflow.to_dict` with ``for_export=True`` leaves export events out, so
exporting again does not change the output.

Draft marking
-------------
A proposal whose status (from the committee record, else the stored one) is not ``approved`` (or
``exported``) exports with a banner (DRAFT, REJECTED, WITHDRAWN or SUPERSEDED), ``"final": false`` in JSON
and its status in every CSV row.

User text
---------
Whatever a person or a file wrote (member names and handles, comments, justifications, symbols, series
sources, peer venues and their sources, liquidity sources, option names, notes, rationales, the backtest
payload's labels) is shown as literal text, never as markup: in Markdown through :func:`escape_markdown` (one
line; no raw HTML, heading, list, quote, table cell, link, image, autolink, emphasis, code span or mention can
start in it), in HTML through :func:`escape_html`, in chart labels as HTML entities. Line breaks in it become
spaces; control and direction-changing characters show as ``[U+XXXX]``. CSV cells go through
:func:`neutralise_csv_cell`; JSON and venue payloads carry the text as it is (whoever shows it escapes it).

Backtest payload
----------------
``backtest`` is an optional mapping ``{"id": str, "created_at": str, "start": str, "end": str,
"results": [{"symbol", "parameter_set", "n", "exceptions", "expected", "confidence", "kupiec_lr",
"kupiec_p", "christoffersen_lr", "christoffersen_p", "cc_lr", "cc_p", "traffic_light", "avg_margin",
"peak_to_trough", "max_5d_increase", "bad_debt", "liquidations"}, ...]}`` (fractions for ``confidence``,
``avg_margin`` and ``max_5d_increase``; ``peak_to_trough`` a ratio; ``bad_debt`` in quote currency). Only
``id``, ``start``, ``end`` and ``results`` (each with ``symbol`` and ``parameter_set``, not null) are required;
missing values print as ``-``. Non-finite numbers become null in JSON. The Markdown and HTML exports render the
payload typed (:class:`BacktestPayload`, :func:`read_backtest`; a stored report's payload is
:meth:`BacktestPayload.of` its :class:`~riskparams.backtest_content.StoredBacktest`); the JSON bundle carries it as
given.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskparams.backtest_content import BacktestResultRow, PhaseSplit, StoredBacktest
from riskparams.domain import (
    LendingAssetProposal,
    OptionTier,
    ParamLine,
    PerpAssetProposal,
    PerpTier,
    Proposal,
)
from riskparams.exceptions import DataError, ExportError, RiskParamsError, TierError  # noqa: F401 (re-exported)
from riskparams.fmt import format_notional
from riskparams.impact_content import ImpactSet, StoredImpact
from riskparams.jsonio import clean_float, content_id, iso_z, json_bytes, to_jsonable
from riskparams.sweep_content import variant_label
from riskparams.tiers import TierTable

if TYPE_CHECKING:
    from riskparams.store.plan_records import StoredPlan
    from riskparams.store.records import StoredProposal
    from riskparams.store.sweep_records import StoredSweepReport

__all__ = [
    "BACKTEST_RESULT_KEYS",
    "BUNDLE_FORMAT",
    "BacktestPayload",
    "BacktestPayloadRow",
    "CSV_COLUMNS",
    "DYDX_FIRST_TIER_ID",
    "DYDX_GOV_AUTHORITY",
    "DYDX_MSG_TYPE",
    "FORMATS",
    "KEEP_CURRENT",
    "VENUE_FORMATS",
    "ExportError",
    "check_format",
    "check_profile",
    "default_filename",
    "escape_html",
    "escape_markdown",
    "formats_for",
    "impact_sentence",
    "load_backtest",
    "neutralise_csv_cell",
    "read_backtest",
    "parameter_change_cells",
    "render",
    "specification_cells",
    "specification_rows",
    "sweep_markdown",
    "to_aave",
    "to_csv",
    "to_dydx",
    "to_html",
    "to_json_bundle",
    "to_markdown",
    "validate_backtest",
    "validate_impact",
]

FORMATS: tuple[str, ...] = ("md", "json", "csv", "html", "dydx", "aave", "aave-config", "aave-aip", "snapshot",
                            "safe", "risk-updates")
"""Export formats (the venue formats are built in :mod:`riskparams.venues`)."""

VENUE_FORMATS: tuple[str, ...] = ("dydx", "aave", "aave-config", "aave-aip", "snapshot", "safe", "risk-updates")
"""Formats a venue or its governance tooling takes as they are (exported only from approved proposals by the
workflow)."""

_EXTENSIONS = {"md": "md", "json": "json", "csv": "csv", "html": "html", "dydx": "dydx.json", "aave": "aave.json",
               "aave-config": "aave-config.ts", "aave-aip": "aip.md", "snapshot": "snapshot.json",
               "safe": "safe.json", "risk-updates": "risk-updates.json"}
_PROFILE_OF = {"dydx": "perp", "aave": "lending", "aave-config": "lending", "aave-aip": "lending", "safe": "lending"}


def formats_for(profile: str) -> tuple[str, ...]:
    """The formats a proposal of ``profile`` (``perp`` or ``lending``) exports to, in :data:`FORMATS` order."""
    return tuple(f for f in FORMATS if _PROFILE_OF.get(f, profile) == profile)

BUNDLE_FORMAT = "riskparams-export-bundle-v1"
"""Format tag of the JSON bundle."""

KEEP_CURRENT = 2**256 - 1 - 42
"""Aave config engine ``EngineFlags.KEEP_CURRENT`` (``type(uint256).max - 42``): keep the value in force."""

DYDX_GOV_AUTHORITY = "dydx10d07y265gmmuvt4z0w9aw880jnsr700jnmapky"
"""The dYdX chain's x/gov module account, the ``authority`` of governance messages."""

DYDX_MSG_TYPE = "/dydxprotocol.perpetuals.MsgSetLiquidityTier"
"""Type URL of the dYdX message that creates or updates a liquidity tier."""

DYDX_FIRST_TIER_ID = 1000
"""Default id of the first liquidity tier in a dYdX payload."""

DYDX_IMPACT_USDC = 500
"""dYdX's recommended impact notional is this many USDC divided by the IMF."""

QUOTE_QUANTUMS_PER_USDC = 1_000_000
"""USDC has 6 decimals: 1 USDC = 1e6 quote quantums."""

BACKTEST_RESULT_KEYS: tuple[str, ...] = (
    "symbol", "parameter_set", "n", "exceptions", "expected", "confidence", "kupiec_lr", "kupiec_p",
    "christoffersen_lr", "christoffersen_p", "cc_lr", "cc_p", "traffic_light", "avg_margin", "peak_to_trough",
    "max_5d_increase", "bad_debt", "liquidations", "phases",
)
"""Keys of one row of a backtest payload's ``results`` (``phases``: the policy replay's warm-up and steady state,
None for fixed sets; absent from payloads written before it)."""

CSV_COLUMNS: tuple[str, ...] = (
    "proposal_id", "status", "profile", "symbol", "tier", "notional_floor", "notional_cap", "parameter", "unit",
    "current", "proposed", "change", "relative_change", "model", "bound", "overridden", "override_justification",
)
"""CSV header. ``tier`` is 1-based (empty for lending); ``unit`` is ``x`` (max leverage) or ``fraction``."""

_STATUSES = ("draft", "in_review", "approved", "rejected", "superseded", "withdrawn")
_LABELS = {
    "max_leverage": "Max leverage", "imf": "Initial margin fraction (IMF)", "mmf": "Maintenance margin fraction (MMF)",
    "liquidation_penalty": "Liquidation penalty", "ltv": "LTV", "liquidation_threshold": "Liquidation threshold",
    "liquidation_bonus": "Liquidation bonus", "status": "Status",
}
_STATUS_LABEL = {"in_review": "in review"}


# -------------------------------------------------------------------------------------------------
# checks and small helpers
# -------------------------------------------------------------------------------------------------


def check_format(fmt: str) -> str:
    """``fmt`` lower-cased if it is one of :data:`FORMATS`, else :class:`ExportError`."""
    f = str(fmt).strip().lower()
    if f not in FORMATS:
        raise ExportError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    return f


def check_profile(fmt: str, profile: str) -> None:
    """Refuse a venue payload of the other profile (a perp proposal as ``aave``, lending as ``dydx``)."""
    fmt = check_format(fmt)
    want = _PROFILE_OF.get(fmt)
    if want is not None and profile != want:
        other = ", ".join(f for f in VENUE_FORMATS if _PROFILE_OF.get(f, profile) == profile)
        raise ExportError(f"a {profile} proposal cannot be exported as a venue payload for {fmt} ({fmt} takes "
                          f"{want} proposals; use {other}, or md, json, csv, html).")


def default_filename(proposal_id: str, fmt: str) -> str:
    """Suggested file name, e.g. ``proposal-1a2b3c4d5e6f.md`` or ``proposal-1a2b3c4d5e6f.dydx.json``."""
    return f"proposal-{proposal_id[:12]}.{_EXTENSIONS[check_format(fmt)]}"


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")
_FORMULA_START = re.compile("^[ \t\r\n]*[=+\\-@\t\r\n\uff1d\uff0b\uff0d\uff20]")  # also full-width = + - @


def neutralise_csv_cell(value: object) -> str:
    """A CSV cell that no spreadsheet runs as a formula (OWASP CSV injection).

    Text whose first character other than a space is ``=``, ``+``, ``-``, ``@`` (or their full-width forms),
    a tab, a carriage return or a line feed gets a leading single quote, unless it is a plain number
    (``-0.05``, ``+1e-3``, ``-5%`` stay as they are). None is the empty cell.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _FORMULA_START.match(text) and not _NUMBER.match(text):
        return "'" + text
    return text


# -------------------------------------------------------------------------------------------------
# user text: marked where it enters a report, made inert by each renderer
# -------------------------------------------------------------------------------------------------
# Every piece of text that did not come from this module (member names, handles, comments, justifications,
# symbols, venues, sources, option names, notes, rationales, backtest labels, ...) enters a report block
# through :func:`_u` (or :func:`_code`). The Markdown renderer passes it through :func:`escape_markdown`, the
# HTML renderer through :func:`escape_html`; the report's own markup (``**bold**``, ``code`` spans, table
# pipes) lives only in the text around it.

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters around user text inside a block's text
_MARKED = re.compile("\ue000([^\ue000\ue001]*)\ue001")
# shown as [U+XXXX]: C0/C1 controls, bidi embeddings / overrides / isolates / marks, zero-width spaces, BOM,
# lone surrogates and the two marker characters
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
                        "\ufeff\ud800-\udfff\ue000\ue001]")
# Markdown: characters that start inline markup anywhere (backslash-escaped) or raw HTML (entities); a URL
# scheme's ``:`` (after a letter, before a non-space) and ``.`` before a letter (``www.example.com``): no autolink
_MD_INLINE = re.compile(r"""[\\`*_~\[\]|#@$^{}&<>]|(?<=[A-Za-z]):(?!\s)|:(?=/)|\.(?=[A-Za-z])""")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# ... and what would start a block at the beginning of a line: a list item, a thematic break, a setext underline
_MD_LEADING = re.compile(r"^(\d{1,9}(?=[.)](?:\s|$))|)([-+=]|[.)](?=\s|$))")


def _plain(value: object) -> str:
    """User text as one line of visible characters: every run of white space (line breaks included) becomes
    one space, the ends are stripped, and invisible or direction-changing characters are shown as
    ``[U+XXXX]``."""
    return _INVISIBLE.sub(lambda m: f"[U+{ord(m[0]):04X}]", " ".join(str(value).split()))


def escape_markdown(value: object) -> str:
    """User text as inert inline Markdown (CommonMark / GFM / Discourse) that reads as the text itself.

    One line (:func:`_plain`); ``& < >`` as entities (no raw HTML, no HTML comment, no ``<http..>`` link);
    ``\\ ` * _ ~ [ ] | # @ $ ^ { }`` backslash-escaped (no emphasis, code span, link, image, table cell,
    heading, mention or math); a ``:`` between a letter and a non-space (``javascript:``, ``mailto:``) or before
    ``/`` and a ``.`` before a letter escaped (no bare URL autolink); a leading ``-``, ``+``, ``=`` or ``N.`` /
    ``N)`` escaped (no list item, thematic break or setext heading). A Markdown renderer shows exactly the text
    of :func:`_plain`.
    """
    text = _MD_INLINE.sub(lambda m: _MD_ENTITIES.get(m[0], "\\" + m[0]), _plain(value))
    return _MD_LEADING.sub(r"\1\\\2", text, count=1)


def escape_html(value: object) -> str:
    """User text as inert HTML: one line (:func:`_plain`), ``& < > " '`` as entities, and ``*`` and the
    backtick as entities too so that the report's ``**bold**`` / ``code`` spans never reach into it."""
    return html.escape(_plain(value), quote=True).replace("*", "&#42;").replace("`", "&#96;")


def _u(value: object) -> str:
    """User text inside a report block's text: every renderer shows it literally (see the notes above)."""
    return _OPEN + _plain(value) + _CLOSE


_CODE_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]*")


def _code(value: object) -> str:
    """A code span for an identifier (hash, key, id); other text is user text shown literally (:func:`_u`)."""
    text = str(value)
    return f"`{text}`" if _CODE_SAFE.fullmatch(text) else _u(text)


def _symbols(symbols: Iterable[object]) -> str:
    """``'BTC, ETH'`` with each symbol marked as user text."""
    return ", ".join(_u(s) for s in symbols)


def _member(name: object, handle: object) -> str:
    """``'Name (@handle)'``, both marked as user text."""
    return f"{_u(name)} (@{_u(handle)})"


def _chart_text(value: object) -> str:
    """User text for a plotly label: plotly reads a few HTML tags (``<a href>``, ``<b>``, ``<br>``) in labels
    and shows entities as their characters, so the text is escaped as HTML and shows as written."""
    return html.escape(_plain(value), quote=True)


def _unmarked(text: str) -> str:
    """A block's text without the user-text marks (for plain-text uses: JSON, payloads, the HTML title)."""
    return _MARKED.sub(r"\1", text)


def _render_text(text: object, user: Any, own: Any) -> str:
    """``own`` applied to the report's text, ``user`` to each piece of user text, joined."""
    parts = _MARKED.split(str(text))
    return "".join(user(p) if k % 2 else own(p) for k, p in enumerate(parts))


def _finite(x: Any) -> float | None:
    """A payload value read for display: :func:`riskparams.jsonio.clean_float`, with booleans and values that are
    not numbers read as None (a hostile payload never stops an export)."""
    if isinstance(x, bool):
        return None
    try:
        return clean_float(x)
    except (TypeError, ValueError):
        return None


_jsonable = to_jsonable  # JSON-safe copy: riskparams.jsonio (times ISO-8601 UTC with Z, non-finite floats None)
_dumps = json_bytes  # indented, sorted keys, UTF-8, final newline: riskparams.jsonio


def _pct(x: float | None, digits: int = 2) -> str:
    """``'1.25%'``; ``'-'`` for None or a value that is not a finite number (a typed NaN reads as stored null)."""
    v = _finite(x)
    return "-" if v is None else f"{v * 100:.{digits}f}%"


def _lev(x: float | None) -> str:
    v = _finite(x)
    return "-" if v is None else f"{v:g}x"


def _value(parameter: str, x: float | None) -> str:
    return _lev(x) if parameter == "max_leverage" else _pct(x)


def _change(parameter: str, current: float | None, proposed: float | None) -> str:
    if current is None or proposed is None:
        return "new" if proposed is not None else "-"
    d = proposed - current
    if parameter == "max_leverage":
        text = "0x" if abs(d) < 1e-9 else f"{d:+g}x"
    else:
        bps = d * 1e4
        text = "0 bps" if abs(bps) < 0.05 else f"{bps:+.0f} bps" if abs(bps - round(bps)) < 0.05 else f"{bps:+.1f} bps"
    if current != 0 and abs(d) >= 1e-12:
        text += f" ({d / current:+.1%})"
    return text


def _num(x: Any) -> str:
    """Stable text of a number for CSV: integers without a decimal point, others with 12 significant digits."""
    v = _finite(x)
    if v is None:
        return ""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return format(v, ".12g")


def _fmt(x: Any, spec: str) -> str:
    v = _finite(x)
    return "-" if v is None else format(v, spec)


# -------------------------------------------------------------------------------------------------
# the document: proposal, status, committee record, backtest
# -------------------------------------------------------------------------------------------------

_CONTENT_KEYS = ("format", "profile", "as_of", "policy", "assets", "skipped", "options", "provenance")
_OPTIONAL_CONTENT_KEYS = ("options",)  # absent from proposals stored before options existed


@dataclass(frozen=True, slots=True)
class _Doc:
    """What an export renders: the typed proposal (read once from the stored content, which stays for the JSON
    bundle), its status, the committee record and the backtest payload."""

    id: str
    created_at: str | None
    status: str
    content: dict[str, Any]
    proposal: Proposal
    workflow: dict[str, Any] | None
    backtest: dict[str, Any] | None  # as given (JSON-safe): the JSON bundle carries it as it is
    impact: StoredImpact | None = None
    plan: StoredPlan | None = None  # typed; the JSON bundle carries plan.to_dict()
    backtest_view: BacktestPayload | None = None  # the same payload, typed: what md / html render

    @property
    def profile(self) -> str:
        return str(self.proposal.profile)

    @property
    def assets(self) -> tuple[PerpAssetProposal | LendingAssetProposal, ...]:
        return self.proposal.assets

    @property
    def perp_assets(self) -> list[PerpAssetProposal]:
        return [a for a in self.assets if isinstance(a, PerpAssetProposal)]

    @property
    def final(self) -> bool:
        return self.status == "approved"

    @property
    def banner(self) -> str | None:
        label = _STATUS_LABEL.get(self.status, self.status)
        if self.final:
            return None
        if self.status in ("draft", "in_review"):
            return f"DRAFT - not approved by the committee (status: {label})."
        return f"{self.status.upper()} - exported for the record only; do not implement (status: {label})."

    @property
    def date(self) -> str:
        return "-" if self.created_at is None else self.created_at[:10]

    @property
    def version(self) -> str:
        return str(self.proposal.provenance_info.packages.get("riskparams", "unknown"))

    @property
    def revision(self) -> dict[str, Any] | None:
        rev = self.proposal.provenance_info.revision
        return None if rev is None else rev.to_dict()


def _status_of(value: str | None) -> str:
    s = "draft" if value is None else str(value)
    return {"exported": "approved", "submitted": "in_review"}.get(s, s)


def _doc(
    proposal: StoredProposal | Mapping[str, Any],
    workflow: Mapping[str, Any] | None,
    backtest: Mapping[str, Any] | None,
    impact: StoredImpact | Mapping[str, Any] | None = None,
    plan: StoredPlan | Mapping[str, Any] | None = None,
) -> _Doc:
    to_dict = getattr(proposal, "to_dict", None)
    d: dict[str, Any] = dict(to_dict() if callable(to_dict) else proposal)  # type: ignore[arg-type]
    missing = [k for k in ("id", *_CONTENT_KEYS) if k not in d and k not in _OPTIONAL_CONTENT_KEYS]
    if missing:
        raise ExportError(f"the proposal to export is missing {missing[0]!r}; pass a stored proposal.")
    content = {k: d[k] for k in _CONTENT_KEYS if k in d}
    pid = str(d["id"])
    if content_id(content) != pid:
        raise ExportError(f"the proposal's content does not hash to its id {pid[:12]}; export only stored, "
                          "unaltered proposals.")
    created = d.get("created_at")
    if isinstance(created, datetime):
        created = iso_z(created)
    wf = None if workflow is None else _jsonable(workflow)
    status = _status_of(wf.get("status") if wf is not None else d.get("status"))
    if status not in _STATUSES:
        raise ExportError(f"the proposal's status must be one of {', '.join(_STATUSES)}, got {status!r}.")
    try:
        typed = Proposal.from_content(content)
    except ValueError as exc:
        raise ExportError(f"cannot export: {exc}") from None
    bt = validate_backtest(backtest)
    return _Doc(id=pid, created_at=None if created is None else str(created), status=status, content=content,
                proposal=typed, workflow=wf, backtest=bt, impact=validate_impact(impact),
                plan=validate_plan(plan, pid), backtest_view=None if bt is None else BacktestPayload.from_dict(bt))


def validate_backtest(backtest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Check the shape of a backtest payload (see the module notes); returns a JSON-safe copy.

    Raises
    ------
    ExportError
        Not a mapping, a required key missing, or a result row without ``symbol`` / ``parameter_set``.
    """
    if backtest is None:
        return None
    if not isinstance(backtest, Mapping):
        raise ExportError("the backtest payload must be a JSON object with id, start, end and results.")
    for key in ("id", "start", "end", "results"):
        if key not in backtest:
            raise ExportError(f"the backtest payload is missing {key!r}.")
    results = backtest["results"]
    if not isinstance(results, Sequence) or isinstance(results, (str, bytes)):
        raise ExportError("the backtest payload's results must be a list of rows.")
    for k, row in enumerate(results):
        if not isinstance(row, Mapping):
            raise ExportError(f"backtest result {k + 1} must be an object.")
        for key in ("symbol", "parameter_set"):
            if row.get(key) is None:
                raise ExportError(f"backtest result {k + 1} is missing {key!r}.")
    out = _jsonable(backtest)
    assert isinstance(out, dict)
    return out


def _payload_number(x: Any) -> int | float | None:
    """A payload statistic as an export reads it: a finite number as it is (an ``int`` stays one), anything else
    (null, NaN, text, a boolean) None, shown as ``-`` (a hostile payload never stops an export)."""
    v = _finite(x)
    return x if v is not None and isinstance(x, int | float) else v


def _payload_phases(v: Any) -> PhaseSplit | None:
    """A payload row's ``phases`` typed; None when absent or not phases as stored (a hostile payload never stops
    an export)."""
    if isinstance(v, PhaseSplit):
        return v
    try:
        return None if v is None else PhaseSplit.from_dict(v)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestPayloadRow:
    """One row of a backtest payload's ``results``, typed as the exports read it (see the module notes).

    The fields are :data:`BACKTEST_RESULT_KEYS`, as in :class:`~riskparams.backtest_content.BacktestResultRow`
    (fractions for ``confidence``, ``avg_margin`` and ``max_5d_increase``; ``bad_debt`` in quote currency), but
    every statistic may be missing: a hand-written payload needs only ``symbol`` and ``parameter_set``, and a value
    that is not a finite number reads as None (shown as ``-``). ``phases`` is the policy replay's warm-up and
    steady state, typed (:class:`~riskparams.backtest_content.PhaseSplit`; None for fixed sets, older payloads,
    or anything that does not read as phases).
    """

    symbol: str
    parameter_set: str
    n: int | float | None = None
    exceptions: int | float | None = None
    expected: int | float | None = None
    confidence: int | float | None = None
    kupiec_lr: int | float | None = None
    kupiec_p: int | float | None = None
    christoffersen_lr: int | float | None = None
    christoffersen_p: int | float | None = None
    cc_lr: int | float | None = None
    cc_p: int | float | None = None
    traffic_light: str | None = None
    avg_margin: int | float | None = None
    peak_to_trough: int | float | None = None
    max_5d_increase: int | float | None = None
    bad_debt: int | float | None = None
    liquidations: int | float | None = None
    phases: PhaseSplit | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BacktestPayloadRow:
        """Read one payload row (unknown keys ignored; ``symbol`` and ``parameter_set`` read as text).

        Raises
        ------
        ExportError
            ``d`` is not an object, or has no ``symbol`` or ``parameter_set``.
        """
        if not isinstance(d, Mapping):
            raise ExportError(f"a backtest result must be an object, got {type(d).__name__}.")
        for key in ("symbol", "parameter_set"):
            if d.get(key) is None:
                raise ExportError(f"a backtest result is missing {key!r}.")
        kw: dict[str, Any] = {"symbol": str(d["symbol"]), "parameter_set": str(d["parameter_set"])}
        for f in fields(cls):
            if f.name in kw:
                continue
            v = d.get(f.name)
            if f.name == "traffic_light":
                kw[f.name] = None if v is None else str(v)
            elif f.name == "phases":
                kw[f.name] = _payload_phases(v)
            else:
                kw[f.name] = _payload_number(v)
        return cls(**kw)

    @classmethod
    def of(cls, row: BacktestResultRow) -> BacktestPayloadRow:
        """The row of a stored (or live) backtest report."""
        return cls.from_dict(row.to_dict())


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestPayload:
    """A backtest payload, typed as the exports read it: the summary of a stored report
    (:meth:`riskparams.store.backtest_records.StoredReport.export_payload`, :meth:`of`) or a hand-written one
    (:func:`load_backtest`); the module notes give the shape.

    Attributes
    ----------
    id, start, end : str
        The report's id (or the payload's label) and its period, as given.
    created_at : str or None
        When the report was stored (None when not given).
    profile : str or None
        ``perp`` or ``lending`` when given.
    results : tuple of BacktestPayloadRow

    Examples
    --------
    >>> bt = BacktestPayload.from_dict({"id": "bt-1", "start": "2022-01-01", "end": "2024-12-31", "results": [
    ...     {"symbol": "BTC", "parameter_set": "proposed", "n": 750, "exceptions": 9, "kupiec_p": float("nan")}]})
    >>> row = bt.results[0]
    >>> row.symbol, row.n, row.exceptions, row.kupiec_p, row.liquidations
    ('BTC', 750, 9, None, None)
    """

    id: str
    start: str
    end: str
    created_at: str | None = None
    profile: str | None = None
    results: tuple[BacktestPayloadRow, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BacktestPayload:
        """Read a payload (checked with :func:`validate_backtest` first).

        Raises
        ------
        ExportError
            Not an object, a required key missing, or a result row without ``symbol`` / ``parameter_set``.
        """
        v = validate_backtest(d)
        assert v is not None
        return cls(id=str(v["id"]), start=str(v["start"]), end=str(v["end"]),
                   created_at=str(v["created_at"]) if v.get("created_at") else None,
                   profile=None if v.get("profile") is None else str(v["profile"]),
                   results=tuple(BacktestPayloadRow.from_dict(r) for r in v["results"]))

    @classmethod
    def of(cls, report: StoredBacktest, *, id: str, created_at: str | None = None) -> BacktestPayload:
        """The payload of a typed stored report (:class:`~riskparams.backtest_content.StoredBacktest`), stored as
        ``id`` at ``created_at``; the same as reading its :meth:`StoredReport.export_payload` back."""
        return cls(id=id, start=str(report.start), end=str(report.end), created_at=created_at or None,
                   profile=report.profile, results=tuple(BacktestPayloadRow.of(r) for r in report.results))


def read_backtest(backtest: BacktestPayload | Mapping[str, Any] | None) -> BacktestPayload | None:
    """A backtest payload typed (:class:`BacktestPayload`): as it is, read from a mapping, or None.

    Raises
    ------
    ExportError
        A mapping that is not a backtest payload (see :func:`validate_backtest`).
    """
    if backtest is None or isinstance(backtest, BacktestPayload):
        return backtest
    return BacktestPayload.from_dict(backtest)


def validate_plan(plan: StoredPlan | Mapping[str, Any] | None, proposal_id: str) -> StoredPlan | None:
    """Check that an execution plan is a stored plan of the proposal ``proposal_id``; returns it typed (None
    stays None).

    Parameters
    ----------
    plan : StoredPlan or mapping or None
        A :class:`riskparams.store.plan_records.StoredPlan` (what :func:`~riskparams.service.latest_plan`
        returns), or its dictionary (``StoredPlan.to_dict()``, as ``riskparams plan --json`` prints it), read
        with :meth:`~riskparams.store.plan_records.StoredPlan.from_dict`.

    Raises
    ------
    ExportError
        Not a plan (another type, a dictionary without this riskparams' plan shape or whose content does not
        hash to its id), or a plan of another proposal.
    """
    from riskparams.exceptions import DataError
    from riskparams.store.plan_records import StoredPlan

    if plan is None:
        return None
    if isinstance(plan, Mapping):
        try:
            plan = StoredPlan.from_dict(plan)
        except DataError as exc:
            raise ExportError(f"the plan cannot be exported: {exc}") from None
    if not isinstance(plan, StoredPlan):
        raise ExportError(f"the plan must be a stored plan (riskparams.store.plan_records.StoredPlan), got "
                          f"{type(plan).__name__}.")
    if plan.proposal_id != proposal_id:
        raise ExportError(f"the plan is for proposal {plan.proposal_id[:12]}, not {proposal_id[:12]}.")
    return plan


def load_backtest(path: str | Path) -> dict[str, Any]:
    """Read a backtest payload from a JSON file and check its shape.

    Raises
    ------
    ExportError
        The file is missing, not JSON, or not a backtest payload.
    """
    p = Path(path).expanduser()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"backtest file {p} not found.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"backtest file {p} cannot be read ({exc}).") from None
    except json.JSONDecodeError as exc:
        raise ExportError(f"backtest file {p} is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    out = validate_backtest(data)
    assert out is not None
    return out


# -------------------------------------------------------------------------------------------------
# specification rows (shared by md, html, csv, json)
# -------------------------------------------------------------------------------------------------


def _typed(proposal: Proposal | Mapping[str, Any]) -> Proposal:
    """``proposal`` itself, or the typed proposal of stored content or of ``StoredProposal.to_dict()``
    (:meth:`Proposal.from_content` of its content keys)."""
    if isinstance(proposal, Proposal):
        return proposal
    return Proposal.from_content({k: proposal[k] for k in _CONTENT_KEYS if k in proposal})


def _override_notes(proposal: Proposal) -> dict[tuple[str, str, int | None], str]:
    rev = proposal.provenance_info.revision
    out: dict[tuple[str, str, int | None], str] = {}
    for o in () if rev is None else rev.overrides:
        out[(o["symbol"], o["parameter"], o["tier"])] = str(o.get("justification", ""))
    return out


def specification_rows(proposal: Proposal | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The specification table of a proposal (typed, or its stored content), one row per asset x parameter x
    tier: the rows the JSON bundle and the CSV carry, and the forum post's table prints.

    Keys: ``symbol, status, parameter, label, tier`` (0-based or None), ``tier_number`` (1-based),
    ``notional_floor, notional_cap`` (quote currency), ``unit`` (``x`` or ``fraction``), ``current,
    proposed, change, relative_change, model, bound, overridden, override_justification``. An asset with
    no parameter lines (unmarginable perp) gives one row with ``parameter='status'``.
    """
    p = _typed(proposal)
    justifications = _override_notes(p)
    rows: list[dict[str, Any]] = []
    for a in p.assets:
        tiers: tuple[PerpTier, ...] = a.tiers if isinstance(a, PerpAssetProposal) else ()
        if not a.lines:
            rows.append({
                "symbol": a.symbol, "status": a.status, "parameter": "status", "label": _LABELS["status"],
                "tier": None, "tier_number": None, "notional_floor": None, "notional_cap": None, "unit": "",
                "current": None, "proposed": None, "change": None, "relative_change": None, "model": None,
                "bound": a.status, "overridden": False, "override_justification": None,
            })
            continue
        for ln in a.lines:
            k = ln.tier
            tier = tiers[k] if k is not None and k < len(tiers) else None
            rows.append({
                "symbol": a.symbol, "status": a.status, "parameter": ln.parameter,
                "label": _LABELS.get(ln.parameter, ln.parameter), "tier": k,
                "tier_number": None if k is None else k + 1,
                "notional_floor": None if tier is None else tier.notional_floor,
                "notional_cap": None if tier is None else tier.notional_cap,
                "unit": "x" if ln.parameter == "max_leverage" else "fraction",
                "current": ln.current, "proposed": ln.proposed, "change": clean_float(ln.change),
                "relative_change": clean_float(ln.relative_change), "model": ln.model, "bound": ln.bound,
                "overridden": ln.bound == "override",
                "override_justification": justifications.get((a.symbol, ln.parameter, k)),
            })
    return rows


# -------------------------------------------------------------------------------------------------
# structured report -> Markdown / HTML
# -------------------------------------------------------------------------------------------------
# A report is a list of (title, blocks); a block is one of
#   ("p", text) ("quote", text) ("ul", [text]) ("ol", [text]) ("kv", [(key, text)]) ("h3", text)
#   ("table", [header], [[cell]]) ("chart", key)   -- charts are drawn in HTML only


Block = tuple[Any, ...]
Section = tuple[str, list[Block]]


def _title(doc: _Doc) -> str:
    """The post's title, symbols marked as user text (:func:`_unmarked` for plain text)."""
    what = "perpetual margin tiers" if doc.profile == "perp" else "lending collateral parameters"
    syms = [_u(a.symbol) for a in doc.assets]
    shown = ", ".join(syms[:6]) + (f" and {len(syms) - 6} more" if len(syms) > 6 else "")
    return f"[ARFC] Risk parameter update: {what} for {shown or 'no assets'}"


def _author(doc: _Doc) -> str:
    wf = doc.workflow or {}
    for e in wf.get("events", []):
        if e.get("action") in ("submitted", "revision_created"):
            return (f"{_u(e['actor_name'])} (@{_u(e['actor'])}) for the risk committee, with riskparams "
                    f"{_u(doc.version)}")
    return f"riskparams {_u(doc.version)} (not yet submitted by a committee member)"


def _header(doc: _Doc) -> list[Block]:
    kv = [("Author", _author(doc)),
          ("Date", _u(doc.date) + (f" (stored {_u(doc.created_at)})" if doc.created_at else "")),
          ("Proposal id", f"`{doc.id}` (SHA-256 of the canonical content)"),
          ("Status", _STATUS_LABEL.get(doc.status, doc.status))]
    rev = doc.revision
    if rev is not None:
        kv.append(("Revision", f"{_u(rev['number'])} (parent {_code(rev['parent'])}; made by @{_u(rev['by'])})"))
    if doc.proposal.as_of:
        kv.append(("Data as of", _u(doc.proposal.as_of)))
    blocks: list[Block] = []
    if doc.banner:
        blocks.append(("quote", f"**{doc.banner}**"))
    blocks.append(("kv", kv))
    return blocks


def _lines(doc: _Doc) -> list[tuple[str, ParamLine]]:
    """(symbol, line) of every parameter line of the proposal."""
    return [(a.symbol, ln) for a in doc.assets for ln in a.lines]


def _summary(doc: _Doc) -> list[Block]:
    policy = doc.proposal.policy
    lines = [ln for _, ln in _lines(doc)]
    changed = [ln for ln in lines if ln.change is not None and abs(ln.change) > 1e-12]
    up = [ln for ln in changed if (ln.change is not None and ln.change > 0) != (
        ln.parameter in ("max_leverage", "ltv", "liquidation_threshold"))]
    what = "margin tiers and liquidation penalties" if doc.profile == "perp" else "LTV, liquidation thresholds " \
        "and liquidation bonuses"
    n = len(doc.assets)
    where = "at the maintenance boundary" if doc.profile == "perp" else "at the liquidation threshold"
    if doc.profile == "perp":
        horizon = ("a margin period of risk per tier (oracle latency + liquidation delay + close-out time of the "
                   "tier's notional at a share of the market's volume)")
    else:
        horizon = f"a {policy['horizon_hours']:g}-hour margin period of risk"
    text = (f"This {'proposal' if doc.final else 'draft'} sets {what} for {n} asset{'s' if n != 1 else ''} "
            f"({_symbols(a.symbol for a in doc.assets)}). The policy targets a liquidation {where} that leaves "
            f"no bad debt with probability {_pct(policy['confidence'])} ({str(policy['measure']).upper()}) over "
            f"{horizon}, under a volatility forecast of each asset.")
    blocks: list[Block] = [("p", text)]
    worst = _worst_coverage(doc)
    if worst is not None:
        sym, where_w, cov = worst
        verdict = "meets" if cov >= policy["confidence"] else "falls short of"
        blocks.append(("p", f"Coverage as proposed: the worst {'tier' if doc.profile == 'perp' else 'asset'} is "
                            f"{_u(sym)}{where_w} at {_pct(cov)}, which {verdict} the {_pct(policy['confidence'])} "
                            "target."))
    under = _under_covered(doc)
    if under:
        blocks.append(("p", "Under-covered because a guardrail holds the margin below the model's: "
                            + "; ".join(under) + "."))
    choice = _chosen_option(doc)
    if choice:
        blocks.append(("p", f"The committee chose the **{_u(choice)}** option (see Options)."))
    with_current = [ln for ln in lines if ln.current is not None]
    if with_current:
        blocks.append(("p", f"{len(changed)} of {len(with_current)} parameters with a current value change: "
                            f"{len(up)} tighten (more margin or less leverage / borrowing power) and "
                            f"{len(changed) - len(up)} loosen. The specification table lists every value."))
    else:
        blocks.append(("p", "No current parameters were given: every value is new."))
    below = _below_confidence(doc)
    if below:
        blocks.append(("p", f"Under today's model the current parameters of {_symbols(below)} cover less than the "
                            f"policy's {_pct(policy['confidence'])} target."))
    if doc.proposal.skipped:
        blocks.append(("p", f"Left out: {_symbols(s.symbol for s in doc.proposal.skipped)} (see "
                            "Specification)."))
    return blocks


def _worst_coverage(doc: _Doc) -> tuple[str, str, float] | None:
    """(symbol, where, coverage) of the least-covered tier (perps) or asset (lending) as proposed."""
    worst: tuple[str, str, float] | None = None
    for a in doc.assets:
        if isinstance(a, PerpAssetProposal):
            for k, t in enumerate(a.tiers):
                c = _finite(t.coverage)
                if c is not None and (worst is None or c < worst[2]):
                    worst = (a.symbol, f" tier {k + 1}", c)
        else:
            c = _finite(a.coverage)
            if c is not None and (worst is None or c < worst[2]):
                worst = (a.symbol, "", c)
    return worst


def _under_covered(doc: _Doc) -> list[str]:
    """``'BTC tier 2 (MMF 1.20% against the model's 1.80%, coverage 97.10%)'`` for every under-covered tier."""
    out = []
    for a in doc.perp_assets:
        for k, t in enumerate(a.tiers):
            if t.under_covered:
                out.append(f"{_u(a.symbol)} tier {k + 1} (MMF {_pct(t.mmf)} against the model's "
                           f"{_pct(t.mmf_model)}, coverage {_pct(t.coverage)})")
    return out


def _chosen_option(doc: _Doc) -> str | None:
    decision = (doc.workflow or {}).get("decision") or {}
    if decision.get("action") != "approved":
        return None
    opt = (decision.get("detail") or {}).get("option")
    return None if opt is None else str(opt)


@dataclass(frozen=True, slots=True)
class _VenueTier:
    """A tier as a venue payload writes it: a proposed :class:`PerpTier`, or the same fields of an option's tier."""

    notional_floor: float
    notional_cap: float | None
    max_leverage: float
    imf: float
    mmf: float
    liquidation_penalty: float
    maintenance_deduction: float


@dataclass(frozen=True, slots=True)
class _VenueAsset:
    """What a venue payload carries of one asset: the proposal's parameters, or those of the option the
    committee chose. ``tiers`` (perps) is validated (:func:`_venue_tiers`) only where a payload is written."""

    symbol: str
    status: str
    tier_rows: tuple[PerpTier | OptionTier | Mapping[str, Any], ...] = ()
    lending: LendingAssetProposal | None = None  # with the chosen option's LTV, LT and bonus


def _option_value(x: float | None, name: str, symbol: str) -> float:
    if x is None:
        raise ExportError(f"cannot export: the chosen option gives no {name} for {symbol}.")
    return x


def _payload_assets(doc: _Doc) -> list[_VenueAsset]:
    """The assets a venue payload carries: the proposal's, with the parameters of the option the committee
    chose when it is not the recommended one."""
    choice = _chosen_option(doc)
    opt = next((o for o in doc.proposal.options if o.name == choice), None)
    by_sym = {} if opt is None or opt.recommended else {x.symbol: x for x in opt.assets}
    out = []
    for a in doc.assets:
        x = by_sym.get(a.symbol)
        if isinstance(a, PerpAssetProposal):
            rows: tuple[PerpTier | OptionTier, ...] = a.tiers if x is None or x.tiers is None else x.tiers
            out.append(_VenueAsset(symbol=a.symbol, status=a.status if x is None else x.status, tier_rows=rows))
        else:
            chosen = a if x is None or x.tiers is not None else replace(
                a, status=x.status, ltv=_option_value(x.ltv, "ltv", a.symbol),
                liquidation_threshold=_option_value(x.liquidation_threshold, "liquidation_threshold", a.symbol),
                liquidation_bonus=_option_value(x.liquidation_bonus, "liquidation_bonus", a.symbol))
            out.append(_VenueAsset(symbol=a.symbol, status=chosen.status, lending=chosen))
    return out


def _hours(h: Any) -> str:
    v = _finite(h)
    if v is None:
        return "-"
    return f"{v * 60:.0f} min" if v < 1 else f"{v:.3g} h"


def _options(doc: _Doc) -> list[Block]:
    opts = doc.proposal.options
    if not opts:
        return []
    perp = doc.profile == "perp"
    blocks: list[Block] = [("h3", "Options"),
                           ("p", "The same data under named variants of the policy (as risk providers present them); "
                                 "the recommended option is the specification above. Capital cost: "
                                 + ("initial margin as a share of notional of a reference position."
                                    if perp else "1 - LTV, the collateral a borrower cannot borrow against."))]
    blocks.append(("ul", [f"**{_u(o.name)}**{' (recommended)' if o.recommended else ''}: "
                          + (", ".join(f"{_code(k)} = {_u(v)}" for k, v in o.differences.items())
                             or "the policy as above")
                          for o in opts]))
    head = ["Asset", "Option", "Tier 1 max leverage", "Tier 1 MMF", "Tier 1 penalty", "Tier 1 coverage",
            "Tiers", "Capital cost"] if perp else ["Asset", "Option", "LTV", "LT", "Bonus", "Coverage",
                                                    "Capital cost"]
    rows = []
    for sym in sorted({x.symbol for o in opts for x in o.assets}):
        for o in opts:
            x = next((y for y in o.assets if y.symbol == sym), None)
            if x is None:
                continue
            if perp:
                t = x.tiers[0] if x.tiers else None
                rows.append([_u(sym), _u(o.name), "-" if t is None else _lev(t.max_leverage),
                             "-" if t is None else _pct(t.mmf), "-" if t is None else _pct(t.liquidation_penalty),
                             "-" if t is None else _pct(t.coverage), str(len(x.tiers or ())),
                             _pct(x.capital_cost)])
            else:
                rows.append([_u(sym), _u(o.name), _pct(x.ltv), _pct(x.liquidation_threshold),
                             _pct(x.liquidation_bonus), _pct(x.coverage), _pct(x.capital_cost)])
    blocks.append(("table", head, rows))
    return blocks


def _peers(doc: _Doc) -> list[Block]:
    if doc.profile != "perp":
        return []
    with_peers = [(a.symbol, a.peers) for a in doc.perp_assets if a.peers is not None]
    if not with_peers:
        return []
    blocks: list[Block] = [("h3", "Peer venues"), ("p", "Max leverage / maintenance rate other venues publish at "
                                                        "each proposed tier's floor notional (- : not offered there).")]
    for symbol, pe in with_peers:
        head = ["Asset", "From notional", "Proposed", *(_u(v) for v in pe.venues)]
        rows = []
        for notional, lev, mmf, peers in pe.rows:
            cells = [_u(symbol), format_notional(notional), f"{_lev(lev)} / {_pct(mmf)}"]
            for v in pe.venues:
                x = peers.get(v)
                cells.append("-" if x is None else f"{_lev(x[0])} / {_pct(x[1])}")
            rows.append(cells)
        blocks.append(("table", head, rows))
    sources = sorted({(str(v), str(src)) for _, pe in with_peers for v, src in pe.sources.items() if src})
    if sources:
        blocks.append(("p", "Peer sources: " + "; ".join(f"{_u(v)}: {_u(src)}" for v, src in sources) + "."))
    return blocks


def _below_confidence(doc: _Doc) -> list[str]:
    out = []
    for a in doc.assets:
        below = a.current_below_confidence if isinstance(a, PerpAssetProposal) else (
            None if a.current is None else a.current.below_confidence)
        if below:
            out.append(a.symbol)
    return out


def _motivation(doc: _Doc) -> list[Block]:
    blocks: list[Block] = [("p", "Per asset, the reasons the model gives from the numbers (volatility regime, "
                                 "covered move, close-out cost, guardrails):")]
    items = []
    for a in doc.assets:
        rationale = str(a.rationale)
        if rationale.startswith(f"{a.symbol}: "):
            rationale = rationale[len(a.symbol) + 2:]
        text = f"**{_u(a.symbol)}**: {_u(rationale)}"
        if a.notes:
            text += " Notes: " + " ".join(_u(n) for n in a.notes)
        items.append(text)
    blocks.append(("ul", items))
    return blocks


def _spec_cells(r: Mapping[str, Any]) -> list[str]:
    if r["parameter"] == "status":
        return [_u(r["symbol"]), "Status", "-", _u(r["status"]), "-"]
    label = r["label"] if r["parameter"] in _LABELS else _u(r["label"])
    if r["tier_number"] is not None:
        floor, cap = format_notional(r["notional_floor"]), format_notional(r["notional_cap"])
        label += f", tier {r['tier_number']} ({floor}-{cap})"
    proposed = _value(r["parameter"], r["proposed"]) + (" (override)" if r["overridden"] else "")
    return [_u(r["symbol"]), label, _value(r["parameter"], r["current"]), proposed,
            _change(r["parameter"], r["current"], r["proposed"])]


def specification_cells(r: Mapping[str, Any]) -> list[str]:
    """One specification row (:func:`specification_rows`) as plain text, exactly as the forum post prints
    it: Asset | Parameter (with its tier bracket) | Current | Proposed | Change."""
    return [_unmarked(c) for c in _spec_cells(r)]


def parameter_change_cells(parameter: str, tier: int | None, old: float | None, new: float | None) -> list[str]:
    """Parameter label (with its 1-based tier), old value, new value and change, formatted as the forum post
    formats them (fractions in percent, max leverage in x, changes in basis points or x)."""
    label = _LABELS.get(parameter, parameter) + ("" if tier is None else f", tier {tier + 1}")
    return [label, _value(parameter, old), _value(parameter, new), _change(parameter, old, new)]


def _specification(doc: _Doc) -> list[Block]:
    rows = specification_rows(doc.proposal)
    blocks: list[Block] = [
        ("p", "Fractions are percent of position notional; changes in basis points (max leverage in x) with the "
              "relative change in brackets. Tiers are position-notional brackets in quote currency; IMF = 1 / max "
              "leverage." if doc.profile == "perp" else
              "Fractions of collateral value; changes in basis points with the relative change in brackets. The "
              "Aave payload writes the bonus as 500 for 5% (10500 in the pool)."),
        ("table", ["Asset", "Parameter", "Current", "Proposed", "Change"], [_spec_cells(r) for r in rows]),
        ("chart", "spec"),
        *_options(doc),
        *_peers(doc),
    ]
    if doc.profile == "perp":
        limits = [f"{_u(a.symbol)}: no tier above {format_notional(a.position_limit)}" for a in doc.perp_assets
                  if a.position_limit is not None and a.status == "ok"]
        if limits:
            blocks.append(("p", "Position limits (notional above which no tier is offered): " + "; ".join(limits) + "."))
    blocks += _caps(doc)
    rev = doc.revision
    if rev is not None and rev.get("overrides"):
        blocks.append(("h3", "Manual overrides"))
        blocks.append(("p", "Values set by committee members instead of the model, with their written "
                            "justification (coverage figures stay the model's for the values before the override)."))
        blocks.append(("table", ["Asset", "Parameter", "Before", "Override", "Revision", "By", "Justification"], [
            [_u(o["symbol"]), _u(o["parameter"]) + ("" if o["tier"] is None else f", tier {_u(o['tier'] + 1)}"),
             _value(o["parameter"], o["old"]), _value(o["parameter"], o["new"]), _u(o.get("revision", "")),
             f"@{_u(o.get('by', ''))}", _u(o.get("justification", ""))]
            for o in rev["overrides"]
        ]))
    if doc.proposal.skipped:
        blocks.append(("h3", "Assets left out"))
        blocks.append(("ul", [f"{_u(s.symbol)}: {_u(s.reason)}" for s in doc.proposal.skipped]))
    return blocks


def _caps(doc: _Doc) -> list[Block]:
    """Caps per asset (quote currency) with the binding limit; nothing for proposals stored before caps."""
    if doc.profile == "perp":
        rows = [[_u(a.symbol), format_notional(a.open_interest_cap), _u(a.cap_reason)] for a in doc.perp_assets
                if a.open_interest_cap is not None]
        if not rows:
            return []
        return [("p", "Open-interest caps (quote currency): the liquidation volume after the policy's extreme move "
                      "must close with slippage below the tier-1 penalty ('liquidity') and the stressed bad debt stay "
                      "within the policy's loss budget ('loss budget'); the smaller binds."),
                ("table", ["Asset", "Open-interest cap", "Binding"], rows)]
    lend = [a for a in doc.assets if isinstance(a, LendingAssetProposal) and a.supply_cap is not None]
    if not lend:
        return []
    return [("p", "Supply and borrow caps (quote currency; tokens at the as-of price): the collateral liquidated "
                  "after the policy's extreme drop must sell with slippage below the bonus ('liquidity') and the "
                  "stressed bad debt stay within the policy's loss budget ('loss budget'); the smaller binds."),
            ("table", ["Asset", "Supply cap", "Borrow cap", "Debt ceiling", "As-of price", "Binding"], [
                [_u(a.symbol), format_notional(a.supply_cap), format_notional(a.borrow_cap),
                 "-" if a.debt_ceiling is None else format_notional(a.debt_ceiling),
                 "-" if a.cap_price is None else f"{a.cap_price:.6g}", _u(a.cap_reason)] for a in lend])]


def _apc_lines(policy: Mapping[str, Any]) -> list[str]:
    apc = policy["apc"]
    on = {True: "on", False: "off"}
    return [
        f"(a) buffer of {_pct(apc['buffer'], 0)} on the covered move, released in stress (forecast volatility >= "
        f"{apc['buffer_release_ratio']:g} x stressed): {on[bool(apc['buffer_enabled'])]}",
        f"(b) {_pct(apc['stressed_weight'], 0)} weight on the stressed-period move: "
        f"{on[bool(apc['stressed_weight_enabled'])]}",
        f"(c) floor at the move at long-run volatility ({apc['long_run_source']}): "
        f"{on[bool(apc['long_run_floor_enabled'])]}",
    ]


def _methodology(doc: _Doc) -> list[Block]:
    policy = doc.proposal.policy
    prov = doc.proposal.provenance_info
    bonus_rows: list[list[str]] = []
    measure = "expected shortfall (ES)" if policy["measure"] == "es" else "value at risk (VaR)"
    tail = "the worse of the two tails (longs and shorts)" if doc.profile == "perp" else "the lower tail (price falls)"
    mp = policy.get("mpor") or {}
    if doc.profile == "perp" and mp:
        if mp.get("fixed_hours"):
            horizon = f"a margin period of risk fixed at {mp['fixed_hours']:g} hours for every tier"
        else:
            horizon = (f"each tier's margin period of risk: {mp['oracle_latency_minutes']:g} min oracle latency + "
                       f"{mp['liquidation_delay_minutes']:g} min liquidation delay + the time to close the tier's "
                       f"notional at {_pct(mp['participation_rate'], 0)} of the market's volume (at most "
                       f"{mp['max_hours']:g} hours; longer tiers are not offered)")
    else:
        horizon = f"a horizon (margin period of risk) of {policy['horizon_hours']:g} hours"
    combine = (policy.get("model_risk") or {}).get("combine", "fitted")
    items = [
        f"Covered move: the {measure} of the price move at confidence {_pct(policy['confidence'])} over {horizon}, "
        f"on {tail}; the {combine} of three estimates of the tail (the fitted law, filtered historical simulation "
        "and plain historical simulation, see Model risk). A horizon shorter than a bar of the series is the "
        "bar's distribution scaled by the square root of time.",
        f"Liquidator incentive floor {_pct(policy['liquidator_incentive'])}; close-out cost half-spread "
        f"{_pct(policy['liquidity']['half_spread'])} + {policy['liquidity']['impact_k']:g} x daily volatility x "
        f"sqrt(notional / ADV), ADV over {policy['liquidity']['adv_window_days']} days.",
    ]
    if doc.profile == "perp":
        p = policy["perp"]
        items.append(f"Perp tiers: MMF = covered move + close-out cost + incentive, rounded up to "
                     f"{_pct(policy['rounding']['mmf_step'])}; IMF >= MMF / {p['maintenance_fraction']:g} on the "
                     f"leverage grid {', '.join(f'{x:g}x' for x in p['leverage_grid'])}; tier floors "
                     f"{', '.join(format_notional(x) for x in p['tier_breakpoints'])}"
                     + (" (current brackets kept when given)." if p.get("use_current_brackets") else "."))
    else:
        p = policy["lending"]
        ref = format_notional(p["reference_liquidation_notional"])
        items.append(f"Lending: bonus = incentive + slippage of selling {ref} + the liquidator's inventory risk (VaR "
                     f"{_pct(p.get('bonus_confidence', 0.99), 0)} of a {p.get('liquidator_hold_hours', 1):g}-hour fall "
                     f"at the stressed volatility), rounded up; LT = (1 - covered move) / (1 + bonus) (rounded down); "
                     f"LTV = LT - {_pct(p['ltv_buffer'])}; steps of {_pct(policy['rounding']['lending_step'])}.")
        bonus_rows = [[_u(a.symbol), _u(b.debt_asset) + ("" if b.debt_stable else " (ratio)"),
                       _u(b.liquidity_source), _pct(b.slippage), _pct(b.inventory_risk), _pct(b.incentive),
                       _pct(b.total), _pct(a.liquidation_bonus)]
                      for a in doc.assets if isinstance(a, LendingAssetProposal) for b in [a.bonus] if b is not None]
    g = policy["guardrails"]
    items.append(f"Guardrails against the current values: relative changes up to {_pct(g['dead_band'], 0)} keep the "
                 f"current value (dead band); at most {_pct(g['max_relative_change'], 0)} change per proposal"
                 + ("; lending limits in bps: " + ", ".join(f"{k} {v:g}" for k, v in
                                                               sorted(g['lending_max_change_bps'].items()))
                    if doc.profile == "lending" else "") + ".")
    items.append(f"Policy key {_code(policy.get('policy_key', '-'))}.")
    blocks: list[Block] = [("ul", items)]
    if doc.profile == "perp":
        mpor_rows = [[_u(a.symbol), str(k + 1), format_notional(_finite(t.cost_notional)),
                      _hours(t.horizon_hours), _pct(t.covered_move), _pct(t.close_out_cost),
                      _pct(t.mmf), _pct(t.coverage) + (" (under-covered)" if t.under_covered else "")]
                     for a in doc.perp_assets for k, t in enumerate(a.tiers)]
        if mpor_rows:
            blocks += [("h3", "Margin period of risk and coverage per tier"),
                       ("table", ["Asset", "Tier", "Close-out of", "MPOR", "Covered move", "Close-out cost", "MMF",
                                  "Coverage"], mpor_rows)]
    band_rows = [[_u(a.symbol), _hours(m.horizon_hours), f"{str(m.measure).upper()} {_pct(m.confidence)}",
                  _pct(m.fitted), _pct(m.fhs), _pct(m.empirical),
                  "-" if m.nu is None else f"{m.nu:.2f}", f"{m.combine} -> {m.bound}"]
                 for a in doc.assets for m in [a.model_risk] if m is not None]
    if band_rows:
        blocks += [("h3", "Model risk"),
                   ("p", "The covered move before anti-procyclicality from three estimates of the tail, at tier 1's "
                         "horizon (lending: the policy's): the fitted conditional law (Student-t with nu degrees of "
                         "freedom), filtered historical simulation (the model's own standardized residuals) and plain "
                         "historical simulation over the whole history. The policy combines them as shown."),
                   ("table", ["Asset", "Horizon", "Measure", "Fitted", "FHS", "Historical", "nu", "Combined -> bound"],
                    band_rows)]
    if doc.profile == "lending" and bonus_rows:
        blocks += [("h3", "Liquidation bonus"),
                   ("table", ["Asset", "Debt asset", "Liquidity", "Slippage", "Inventory risk", "Incentive",
                              "Total", "Bonus (rounded, guarded)"], bonus_rows)]
    blocks.append(("h3", "Volatility model"))
    specs = prov.spec_dicts
    blocks.append(("ul", [
        f"{_code(key)}: model {s.get('model')} (candidates {', '.join(s.get('candidates') or []) or '-'}), "
        f"{s.get('dist')} innovations, {s.get('mean')} mean, risk method {s.get('risk_method')} "
        f"({s.get('n_sims')} paths), at least {s.get('min_history')} returns for a GARCH fit (else EWMA, lambda "
        f"{s.get('ewma_lambda')})" for key, s in sorted(specs.items())
    ] or ["-"]))
    blocks.append(("h3", "Anti-procyclicality (EMIR RTS 153/2013 Art. 28)"))
    binding = [f"{_u(a.symbol)}: {_u(', '.join(a.covered.binding))}" for a in doc.assets if a.covered.binding]
    blocks.append(("ul", [*_apc_lines(policy), "Tools that changed the covered move: "
                          + ("; ".join(binding) if binding else "none") + "."]))
    blocks.append(("chart", "covered"))
    blocks.append(("h3", "Data and fitted models"))
    rows = []
    for a in doc.assets:
        c = a.context
        cm = a.covered
        if c is None:
            dash = _u("-")
            series, bars, model, adv, fingerprint = f"{dash} {dash} ({dash})", f"{dash} to {dash}", dash, None, "-"
        else:
            series = (f"{_u(c.freq)} {_u(c.kind)} ({_u(c.source)})"
                      + (" [synthetic]" if c.synthetic and c.source != "synthetic" else "")
                      + (f": {_u(c.selection)}" if c.selection else ""))
            bars = f"{_u(str(c.first_bar)[:10])} to {_u(str(c.last_bar)[:10])}"
            model = _u(c.model) + (" (EWMA fallback)" if c.fallback else "")
            adv, fingerprint = _finite(c.adv), c.fingerprint
        rows.append([
            _u(a.symbol), series, bars, model,
            f"{_pct(cm.vol_forecast_annualised, 0)} / {_pct(cm.vol_long_run_annualised, 0)} / "
            f"{_pct(cm.vol_stressed_annualised, 0)}",
            f"{_pct(cm.model)} -> {_pct(cm.final)}", format_notional(adv), _code(fingerprint),
        ])
    blocks.append(("table", ["Asset", "Series", "Bars", "Model", "Vol forecast / long-run / stressed (annual)",
                             "Covered move (model -> final)", "ADV", "Data fingerprint (SHA-256)"], rows))
    pkgs = prov.packages
    blocks.append(("p", "Software: " + ", ".join(f"{_u(k)} {_u(v)}" for k, v in sorted(pkgs.items()))
                        + ". Proposal hash "
                        f"(SHA-256 of the canonical JSON content): `{doc.id}`."))
    return blocks


_BT_COLUMNS = (
    ("symbol", "Asset", None), ("parameter_set", "Parameter set", None), ("n", "n", "d"),
    ("exceptions", "Exceptions", "d"), ("expected", "Expected", ".1f"), ("confidence", "q", "pct"),
    ("kupiec_p", "Kupiec p", ".3f"), ("christoffersen_p", "Christoffersen p", ".3f"), ("cc_p", "CC p", ".3f"),
    ("traffic_light", "Traffic light", None), ("avg_margin", "Avg margin", "pct"),
    ("peak_to_trough", "Peak-to-trough", ".2f"), ("max_5d_increase", "Max 5d increase", "pct"),
    ("bad_debt", "Bad debt", "money"), ("liquidations", "Liquidations", "d"),
)


def _bt_cell(value: Any, spec: str | None) -> str:
    if value is None:
        return "-"
    if spec is None:
        return _u(value)
    v = _finite(value)
    if v is None:
        return "-"
    if spec == "d":
        return f"{v:.0f}" if v == int(v) else f"{v:g}"
    if spec == "pct":
        return _pct(v)
    if spec == "money":
        return format_notional(v)
    return format(v, spec)


def _backtest(doc: _Doc) -> list[Block]:
    b = doc.backtest_view
    if b is None:
        return [("p", "No backtest attached to this export. Run one (walk-forward, no look-ahead) and attach it "
                      "before the vote.")]
    blocks: list[Block] = [("p", f"Backtest {_code(b.id)} over {_u(b.start)} to {_u(b.end)}"
                                 + (f" (computed {_u(b.created_at)})" if b.created_at else "")
                                 + ". An exception is a realised adverse move over the horizon beyond the margin in "
                                   "force at its start. Kupiec: unconditional coverage; Christoffersen: "
                                   "independence; CC: both (p-values, small = reject the model). Traffic light as "
                                   "Basel (binomial 95% / 99.99% zones).")]
    rows = [[_bt_cell(getattr(r, key), spec) for key, _, spec in _BT_COLUMNS] for r in b.results]
    blocks.append(("table", [label for _, label, _ in _BT_COLUMNS], rows))
    blocks.append(("chart", "backtest"))
    blocks += _backtest_phases(b.results)
    return blocks


_PHASE_COLUMNS = (
    ("start", "From", None), ("end", "To", None), ("n", "n", "d"), ("exceptions", "Exceptions", "d"),
    ("expected", "Expected", ".1f"), ("kupiec_p", "Kupiec p", ".3f"), ("christoffersen_p", "Christoffersen p", ".3f"),
    ("avg_margin", "Avg margin", "pct"), ("peak_to_trough", "Peak-to-trough", ".2f"), ("changes", "Changes", "d"),
    ("actions_per_year", "Actions / year", ".1f"), ("changes_without_dead_band", "Changes without dead-band", "d"),
)


def _backtest_phases(results: Sequence[BacktestPayloadRow]) -> list[Block]:
    """The policy replay's warm-up and steady state per asset (rows with ``phases``; none in older payloads)."""
    with_phases = [(r, r.phases) for r in results if r.phases is not None]
    if not with_phases:
        return []
    rows, notes = [], []
    for r, ph in with_phases:
        for blk, label in ((ph.warmup, "warm-up"), (ph.steady_state, "steady state")):
            days = {k: str(t)[:10] for k in ("start", "end") if (t := getattr(blk, k))}  # dates of ISO times
            cells = ([_bt_cell(days.get(k, getattr(blk, k)), spec) for k, _, spec in _PHASE_COLUMNS] if blk.bars
                     else ["none"] + ["-"] * (len(_PHASE_COLUMNS) - 1))
            rows.append([_u(r.symbol), label, *cells])
        notes.append(f"{_u(r.symbol)}: execution lag {_bt_cell(ph.execution_lag_days, 'd')} days; warm-up ends: "
                     f"{_u(ph.warmup_end_reason or '-')} Dead-band {_bt_cell(ph.dead_band, 'pct')}: "
                     f"{_bt_cell(ph.changes, 'd')} changes as replayed, "
                     f"{_bt_cell(ph.changes_without_dead_band, 'd')} without it (same path).")
    return [("p", "Policy replay, warm-up vs steady state: the warm-up runs until the parameters in force (after the "
                  "execution lag: a decision is in force that many days after it is taken) first reach the model's "
                  "target within the dead-band; the steady state is the rest. A change of any parameter on a "
                  "decision date is one governance action."),
            ("table", ["Asset", "Phase", *[label for _, label, _ in _PHASE_COLUMNS]], rows),
            *[("p", n) for n in notes]]


def validate_impact(impact: StoredImpact | Mapping[str, Any] | None) -> StoredImpact | None:
    """The impact an export shows, typed: a :class:`~riskparams.impact_content.StoredImpact` as it is, an impact
    payload (:func:`riskparams.service.proposal_impact`'s ``to_dict()``: ``format``, ``positions``, ``sets``
    mapping set name -> ``liquidatable_now``, ``liquidatable_now_notional``, ``bad_debt_at_move``, optional
    ``var_insolvent_debt`` / ``lar`` with ``p99``, ...) read once with
    :meth:`~riskparams.impact_content.StoredImpact.from_content`.

    Raises
    ------
    ExportError
        Not a mapping, ``sets`` not a mapping of objects, or a payload the typed reader refuses (one sentence naming
        the key and value).
    """
    if impact is None or isinstance(impact, StoredImpact):
        return impact
    if not isinstance(impact, Mapping) or not isinstance(impact.get("sets"), Mapping):
        raise ExportError("the impact payload must be a JSON object with positions and sets.")
    for name, r in impact["sets"].items():
        if not isinstance(r, Mapping):
            raise ExportError(f"impact set {str(name)[:40]!r} must be an object.")
    try:
        return StoredImpact.from_content(impact)
    except DataError as exc:
        raise ExportError(str(exc)) from None


def _money(x: Any) -> str:
    v = _finite(x)
    return "-" if v is None else format_notional(v)


def _count(x: Any) -> str:
    v = _finite(x)
    return "-" if v is None else f"{int(v):,}"


def impact_sentence(impact: StoredImpact | Mapping[str, Any], set_name: str = "proposal") -> str:
    """One sentence a forum reader understands about a parameter set of an impact (typed, or a payload read with
    :func:`validate_impact`), e.g. "Under the proposal, 3 accounts (1.235M notional) are liquidatable at today's
    prices; at the covered move the bad debt is 40k." ("" when the impact has no such set).

    Examples
    --------
    >>> impact_sentence({"format": "riskparams-impact-v1", "proposal_id": None, "profile": "perp",
    ...                  "positions": {"source": "book.csv", "n_positions": 9, "n_accounts": 9},
    ...                  "sets": {"proposal": {"liquidatable_now": 3, "liquidatable_now_notional": 1234567,
    ...                                        "bad_debt_at_move": 40000}}})
    "Under the proposal, 3 accounts (1.235M notional) are liquidatable at today's prices; at the covered move the bad debt is 40k."
    """
    imp = validate_impact(impact)
    assert imp is not None
    r = imp.set(set_name)
    if r is None:
        return ""
    who = {"proposal": "the proposal", "current": "the current parameters"}.get(set_name, f"option {set_name}")
    n = int(_finite(r.liquidatable_now) or 0)
    what = "debt" if imp.lending else "notional"
    text = (f"Under {who}, {n:,} account{'' if n == 1 else 's'} ({_money(r.liquidatable_now_notional)} "
            f"{what}) {'is' if n == 1 else 'are'} liquidatable at today's prices")
    bad = _finite(r.bad_debt_at_move)
    if bad is None:
        return text + "."
    worst = r.at_move  # the worse of the covered move down and up (more bad debt, then more notional or debt)
    if worst is not None:
        k = int(_finite(worst.accounts) or 0)
        return (text + f"; at the covered move {k:,} account{'' if k == 1 else 's'} "
                f"({_money(worst.amount)} {what}) {'is' if k == 1 else 'are'} liquidated "
                f"and the bad debt is {_money(bad)}.")
    return text + f"; at the covered move the bad debt is {_money(bad)}."


def _plan_change(key: object, change: object) -> str:
    """``'BTC mmf tier 1: 1.00% -> 1.14%'`` from a plan's ``SYMBOL:param[:tier]`` key and ``{"from", "to"}``."""
    parts = str(key).split(":")
    ch = change if isinstance(change, Mapping) else {}
    param = parts[1] if len(parts) > 1 else ""
    where = f"{_u(parts[0])} {_u(param)}" + (f" tier {_u(parts[2])}" if len(parts) > 2 else "")
    return f"{where}: {_value(param, ch.get('from'))} -> {_value(param, ch.get('to'))}"


def _per_symbol(values: object) -> str:
    if not isinstance(values, Mapping) or not values:
        return "-"
    return ", ".join(f"{_u(k)} {_pct(v)}" for k, v in sorted(values.items(), key=lambda kv: str(kv[0])))


def _plan(doc: _Doc) -> list[Block]:
    """The execution plan: steward limits, then one row per dated step (:mod:`riskparams.plan`)."""
    p = doc.plan
    assert p is not None
    steps = p.steps
    r = _finite(p.spec.max_step)
    limit = "-" if r is None else f"{r:.4g} ({r * 100:.4g}%)"
    blocks: list[Block] = [("p", f"Plan {_code(p.id)}: {len(steps)} step{'s' if len(steps) != 1 else ''} "
                                 f"from {_u(steps[0].date)} to {_u(steps[-1].date)}, every "
                                 f"parameter changing by at most a relative {limit} per step (new / old within "
                                 f"[1 / (1 + R), 1 + R]), steps at least {_u(p.spec.min_days)} days apart; the "
                                 "last step sets the proposed values. Coverage: the proposal's coverage model at the "
                                 "step's margins (worst tier); average margin: notional-weighted average MMF "
                                 "(lending: 1 - LTV).")]
    rows = []
    for s in steps:  # changes in key order, as the stored (canonical) plan lists them
        text = "; ".join(_plan_change(c.key, c.to_dict()) for c in sorted(s.changes, key=lambda c: c.key)) or "-"
        rows.append([_u(s.number), _u(s.date), text, _per_symbol(s.coverage), _per_symbol(s.avg_margin)])
    blocks.append(("table", ["Step", "Date", "Changes", "Coverage", "Average margin"], rows))
    notes = [_u(n) for n in p.notes]
    if notes:
        blocks.append(("ul", notes))
    return blocks


def _impact(doc: _Doc) -> list[Block]:
    imp = doc.impact
    if imp is None:
        return [("p", "No positions attached: run `riskparams propose ... --positions FILE` (or use the Book page) "
                      "to show who would be liquidated, and what would be lost, under each parameter set.")]
    pos = imp.positions
    where = (f"Positions: {_u(pos.source)}, {_count(pos.n_positions)} positions in "
             f"{_count(pos.n_accounts)} accounts")
    if _finite(pos.open_notional) is not None:
        where += f", open notional {_money(pos.open_notional)}"
    where += f"; snapshot {_u(pos.snapshot)}" if pos.snapshot else "; snapshot date not given"
    if pos.sha256:
        where += f"; file SHA-256 {_code(pos.sha256)}"
    blocks: list[Block] = [("p", where + ".")]
    if pos.synthetic:
        blocks.append(("quote", "These are the synthetic demo positions generated by riskparams, not the venue's "
                                "book: the figures show the method, not the venue's exposure."))
    said = [s for s in (impact_sentence(imp, "current"), impact_sentence(imp, "proposal")) if s]
    if said:
        blocks.append(("p", " ".join(said)))
    amount = "Debt of liquidatable accounts now" if imp.lending else "Notional liquidatable now"
    rows = [[_u(r.name), _count(r.liquidatable_now), _money(r.liquidatable_now_notional), _money(r.bad_debt_at_move),
             _money(r.var_p99), _money(r.lar_p99)] for r in imp.ordered_sets()]
    if rows:
        blocks.append(("table", ["Set", "Accounts liquidatable now", amount, "Bad debt at the covered move",
                                 "VaR of insolvent debt (p99)", "Liquidations at risk (p99)"], rows))
    blocks.append(("p", "Liquidatable now: equity below maintenance margin at today's prices (a cross account "
                        "nets its positions). Bad debt at the covered move: each asset moved by the proposal's "
                        "covered move, the worse direction; per liquidated account max(0, loss + close-out cost - "
                        "equity). VaR of insolvent debt and liquidations at risk: 99th percentiles over bootstrap "
                        "draws of joint daily returns (- when not simulated). Quote currency throughout. In a "
                        "one-step move the bad debt does not depend on the margin level (a position whose loss "
                        "exceeds its equity is liquidated under any maintenance margin): the sets differ in who is "
                        "liquidated, and when, more than in this bad debt."))
    blocks += _impact_stress(imp.set("proposal"))
    if imp.notes:
        blocks.append(("ul", [_u(n) for n in imp.notes]))
    return blocks


def _impact_stress(r: ImpactSet | None) -> list[Block]:
    """The proposal's joint stress windows through the liquidation waterfall (when the impact has them)."""
    if r is None or not r.stress_windows:
        return []
    wf = r.waterfall
    rows = []
    for w in r.stress_windows:
        ran = w.bad_debt is not None
        rows.append([_u(w.name) + ("" if ran else " (not in the data)"),
                     _count(w.accounts) if ran else "-", _money(w.notional), _money(w.bad_debt),
                     _money(w.fund_paid), _money(w.socialised_loss), _money(w.insurance_fund_min)])
    adequacy = _finite(r.fund_adequacy)
    text = (f"Joint stress under the proposal: each window's daily moves of every asset together, and correlated "
            f"shocks, through the liquidation waterfall (insurance fund {_money(wf.get('insurance_fund'))}, "
            f"auto-deleveraging {'on' if wf.get('adl') else 'off'}; fund target "
            f"{_money(r.fund_target)} by the Cover-2 rule, the stress loss of the two accounts losing most"
            + ("" if adequacy is None else f", adequacy {adequacy:.2f}") + ").")
    if wf.get("fund_went_negative"):
        text += (" Without auto-deleveraging the fund goes negative: that loss has no payer in this setting "
                 "(riskparams impact --adl shows it socialised).")
    return [("p", text), ("table", ["Window", "Accounts liquidated", "Notional liquidated", "Bad debt", "Fund paid",
                                    "Socialised loss", "Fund minimum"], rows)]


def _risks(doc: _Doc) -> list[Block]:
    policy = doc.proposal.policy
    items: list[str] = []
    below = _below_confidence(doc)
    if below:
        items.append(f"Current parameters of {_symbols(below)} cover less than {_pct(policy['confidence'])} under "
                     "today's model: delaying this change leaves that gap open.")
    unmarg = [a.symbol for a in doc.assets if a.status != "ok"]
    if unmarg:
        items.append(f"{_symbols(unmarg)}: the model finds no safe leverage / borrowing power (unmarginable): "
                     "consider reduce-only, freezing or delisting.")
    for a in doc.assets:
        if a.context is not None and a.context.fallback:
            items.append(f"{_u(a.symbol)}: the volatility model fell back to EWMA ({_u(a.context.fallback)}).")
    synthetic = [a.symbol for a in doc.assets if a.context is not None and a.context.synthetic]
    if synthetic:
        items.append(f"{_symbols(synthetic)} use synthetic (demo) data: not a basis for a real decision.")
    under = _under_covered(doc)
    if under:
        items.append("Under-covered tiers (a guardrail holds the MMF below what the model asks, so these tiers keep "
                     "less margin than the policy's covered move calls for; their coverage under today's model is "
                     "shown): " + "; ".join(under) + ".")
    stressed = [a.symbol for a in doc.assets if a.regime == "stress"]
    if stressed:
        allow = bool((policy.get("guardrails") or {}).get("loosen_in_stress"))
        items.append(f"{_symbols(stressed)} {'are' if len(stressed) > 1 else 'is'} in a stressed volatility regime: "
                     + ("the policy allows margins to loosen in stress." if allow else
                        "no margin parameter loosens against the current one while it lasts."))
    capped = [(sym, ln) for sym, ln in _lines(doc) if ln.bound == "max_change"]
    if capped:
        ex = "; ".join(f"{_u(sym)} {_u(ln.parameter)}"
                       + ("" if ln.tier is None else f" tier {ln.tier + 1}")
                       + f": model {_value(ln.parameter, ln.model)}, proposed {_value(ln.parameter, ln.proposed)}"
                       for sym, ln in capped[:5])
        items.append(f"{len(capped)} parameter{'s' if len(capped) != 1 else ''} were held back by the max-change "
                     f"guardrail, so the model asks for more than this proposal gives; expect follow-up proposals "
                     f"({ex}{'; ...' if len(capped) > 5 else ''}).")
    overridden = [ln for _, ln in _lines(doc) if ln.bound == "override"]
    if overridden:
        items.append(f"{len(overridden)} value{'s' if len(overridden) != 1 else ''} set by manual override: their "
                     "coverage was not recomputed by the model.")
    if doc.proposal.skipped:
        items.append(f"Not covered by this proposal: {_symbols(s.symbol for s in doc.proposal.skipped)}.")
    items.append("Model risk: the covered move relies on the fitted volatility model and its tail distribution; "
                 "regime changes faster than the horizon, oracle failures and thin liquidity are not in the model.")
    if doc.backtest_view is None:
        items.append("No backtest is attached to this export.")
    steps = [
        "Forum discussion of this ARFC; answer questions in the thread.",
        f"Committee sign-off (quorum of {_u((doc.workflow or {}).get('quorum', 2))}, no unresolved dissent) and "
        "approval by the chair.",
        "Snapshot vote, then the on-chain payload: `riskparams export ID --format "
        + ("dydx" if doc.profile == "perp" else "aave") + "` from the approved proposal.",
        "Monitor coverage and re-run the proposal when volatility regimes change.",
    ]
    return [("ul", items), ("h3", "Next steps"), ("ol", steps)]


def _committee_record(doc: _Doc) -> list[Block]:
    wf = doc.workflow
    if wf is None:
        return [("p", "No committee record attached to this export.")]
    blocks: list[Block] = []
    so = wf.get("sign_offs", [])
    counted = [v for v in so if v.get("counted")]
    blocks.append(("p", f"Status {_u(_STATUS_LABEL.get(str(wf.get('status')), wf.get('status')))}; revision "
                        f"{_u(wf.get('revision'))}; {len(counted)} sign-offs counted of the {_u(wf.get('quorum'))} "
                        "needed"
                        + (f"; {len(wf.get('dissents', []))} unresolved dissent" if wf.get("dissents") else "") + "."))
    votes = [f"Signed off: {_member(v['name'], v['member'])}, {_u(v['at'])}"
             + (f": {_u(v['comment'])}" if v.get("comment") else "")
             + ("" if v.get("counted") else " (not counted)") + _signed(v) for v in so]
    votes += [f"Dissent: {_member(v['name'], v['member'])}, {_u(v['at'])}: {_u(v.get('comment') or '')}"
              + _signed(v) for v in wf.get("dissents", [])]
    if votes:
        blocks.append(("ul", votes))
    decision = wf.get("decision")
    if decision:
        who = _member(decision["actor_name"], decision["actor"])
        blocks.append(("p", f"Decision: {_u(decision['action'])} by {who} at {_u(decision['at'])}"
                            + (f": {_u(decision['comment'])}" if decision.get("comment") else "") + "."))
    events = wf.get("events", [])
    if events:
        blocks.append(("table", ["Time (UTC)", "Member", "Action", "Status", "Comment"], [
            [_u(e["at"]), f"@{_u(e['actor'])} ({_u(e['actor_role'])})", _u(e["action"]),
             f"{_u(e.get('from_status') or '-')} -> {_u(e.get('to_status') or '-')}", _u(e.get("comment") or "")]
            for e in events
        ]))
    if wf.get("committee"):
        blocks.append(("p", f"Judged by the committee with hash {_code(str(wf['committee']))} (the committee file "
                            "bound to the proposal when it entered review)."))
    if wf.get("anchor"):
        blocks.append(("p", f"Audit anchor: {_code(str(wf['anchor']))}, the audit-chain hash of the last event above. "
                            "`riskparams verify --anchor HASH` on the venue's copy of the store checks that this "
                            "record is still part of its history, unaltered."))
    return blocks


def _signed(v: Mapping[str, Any]) -> str:
    """`` (signed, eip712)`` for a vote that carries a signature."""
    scheme = v.get("signed")
    return f" (signed, {_u(scheme)})" if scheme else ""


def _report(doc: _Doc) -> tuple[str, list[Block], list[Section]]:
    sections: list[Section] = [
        ("Summary", _summary(doc)),
        ("Motivation", _motivation(doc)),
        ("Specification", _specification(doc)),
        ("Methodology", _methodology(doc)),
        ("Backtest results", _backtest(doc)),
        *([("Execution plan", _plan(doc))] if doc.plan is not None else []),
        ("Impact on open positions", _impact(doc)),
        ("Risks and next steps", _risks(doc)),
        ("Committee record", _committee_record(doc)),
    ]
    return _title(doc), _header(doc), sections


def _footer(doc: _Doc) -> str:
    return (f"Generated by riskparams from proposal `{doc.id}` (created {_u(doc.created_at or '-')}); the same "
            "proposal, committee record and backtest always export to the same bytes.")


_SPACES = re.compile(r"\s+")


def _md(text: object, *, cell: bool = False) -> str:
    """One line of Markdown from a block's text: the report's own markup as it is (a run of white space as one
    space; ``|`` escaped in a table cell), every piece of user text through :func:`escape_markdown`."""
    def own(s: str) -> str:
        s = _SPACES.sub(" ", s)
        return s.replace("|", "\\|") if cell else s

    return _render_text(text, escape_markdown, own).strip()


def _md_blocks(blocks: Sequence[Block]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "p":
            out += [_md(b[1]), ""]
        elif kind == "quote":
            out += [f"> {_md(b[1])}", ""]
        elif kind == "h3":
            out += [f"### {_md(b[1])}", ""]
        elif kind in ("ul", "ol"):
            out += [(f"{k}. " if kind == "ol" else "- ") + _md(t) for k, t in enumerate(b[1], start=1)] + [""]
        elif kind == "kv":
            out += [f"**{_md(k)}:** {_md(v)}  " for k, v in b[1]] + [""]
        elif kind == "table":
            head, rows = b[1], b[2]
            out.append("| " + " | ".join(_md(h, cell=True) for h in head) + " |")
            out.append("|" + "|".join("---" for _ in head) + "|")
            out += ["| " + " | ".join(_md(c, cell=True) for c in row) + " |" for row in rows]
            out.append("")
    return out


def to_markdown(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    impact: StoredImpact | Mapping[str, Any] | None = None,
    plan: StoredPlan | Mapping[str, Any] | None = None,
    sweep: StoredSweepReport | Mapping[str, Any] | None = None,
) -> bytes:
    """Forum post (Markdown, UTF-8) in the Aave ARFC style; see the module notes.

    Parameters
    ----------
    proposal : StoredProposal or mapping
        A stored proposal, or ``StoredProposal.to_dict()`` (``id, status, created_at`` and the content).
    workflow : mapping, optional
        The committee record, ``Workflow.to_dict(for_export=True)``; its status decides the DRAFT banner.
    backtest : mapping, optional
        A backtest payload (module notes).
    impact : mapping, optional
        An impact payload (:func:`validate_impact`); its absence is said in "Impact on open positions".
    plan : StoredPlan or mapping, optional
        A stored execution plan, typed (``riskparams.service.latest_plan``) or its dictionary
        (:func:`validate_plan`); shown under "Execution plan" when given.
    sweep : StoredSweepReport or mapping, optional
        An attached policy sweep (:func:`sweep_markdown`); a short "Policy sweep" table when given.
    """
    doc = _doc(proposal, workflow, backtest, impact, plan)
    title, header, sections = _report(doc)
    out = [f"# {_md(title)}", "", *_md_blocks(header)]
    for name, blocks in sections:
        out += [f"## {_md(name)}", "", *_md_blocks(blocks)]
    if sweep is not None:
        out += [sweep_markdown(sweep), ""]
    out += ["---", "", f"_{_md(_footer(doc))}_", ""]
    return "\n".join(out).encode("utf-8")


_INLINE_CODE = re.compile(r"`([^`]+)`")
_INLINE_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _h(text: object) -> str:
    """HTML of a block's text: the report's own text escaped, with its ``code`` and **bold** spans; every piece
    of user text through :func:`escape_html`."""
    s = _render_text(text, escape_html, lambda t: html.escape(t, quote=True))
    s = _INLINE_CODE.sub(r"<code>\1</code>", s)
    return _INLINE_BOLD.sub(r"<strong>\1</strong>", s)


_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1180px;margin:2rem auto;padding:0 1rem;
color:#1d2733;line-height:1.45}
h1{font-size:1.6rem}h2{border-bottom:1px solid #d5dbe3;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.86rem}
th,td{border:1px solid #d5dbe3;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f7}code{font-size:.85em;word-break:break-all}
.banner{background:#fff3cd;border:1px solid #e0c36b;padding:.6rem 1rem;font-weight:600}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
.chart{margin:1rem 0}footer{margin-top:2rem;color:#5b6675;font-size:.85rem}
""".strip()


def _figures(doc: _Doc, key: str) -> list[Any]:
    return content_figures(doc.proposal, key, backtest=doc.backtest_view)


def content_figures(proposal: Proposal | Mapping[str, Any], key: str, *,
                    backtest: BacktestPayload | Mapping[str, Any] | None = None) -> list[Any]:
    """The plotly figures of one section of a proposal report.

    Parameters
    ----------
    proposal : Proposal or mapping
        The typed proposal, or its stored content (``StoredProposal.content``, read with
        :meth:`Proposal.from_content`).
    key : {'covered', 'spec', 'backtest'}
        ``covered``: the covered adverse move by asset; ``spec``: tier ladders (perp, current vs proposed)
        or lending bars; ``backtest``: exceptions against expected by asset and parameter set.
    backtest : BacktestPayload or mapping, optional
        A backtest payload, typed or as a mapping (read with :func:`read_backtest`).

    Returns
    -------
    list of plotly.graph_objects.Figure
    """
    from riskparams import charts

    p = _typed(proposal)
    assets = p.assets
    if key == "covered":
        return [charts.covered_move_bars([_chart_text(a.symbol) for a in assets],
                                         [a.covered.model for a in assets],
                                         [a.covered.final for a in assets])]
    if key == "spec" and p.profile == "perp":
        open_end = _finite(p.policy["perp"].get("last_tier_cost_notional"))
        figs = []
        for a in assets:
            if not isinstance(a, PerpAssetProposal):
                continue
            proposed = [(t.notional_floor, t.notional_cap, t.max_leverage, t.mmf) for t in a.tiers]
            current = None if a.current is None else [(t.notional_floor, t.notional_cap, t.max_leverage, t.mmf)
                                                      for t in a.current]
            if proposed or current:
                title = f"{_chart_text(a.symbol)}: tier ladder" + (", current vs proposed" if current else "") + (
                    "" if proposed else " (unmarginable: no tier proposed)")
                figs.append(charts.tier_ladder(proposed, current, title=title, open_end=open_end))
        return figs
    if key == "spec":
        lending = [a for a in assets if isinstance(a, LendingAssetProposal)]
        syms = [_chart_text(a.symbol) for a in lending]
        names = ("ltv", "liquidation_threshold", "liquidation_bonus")
        values = {n: [float(getattr(a, n)) for a in lending] for n in names}
        has_current = any(a.current is not None for a in lending)
        before: dict[str, list[float | None]] | None = {
            n: [None if a.current is None else float(getattr(a.current, n)) for a in lending] for n in names
        } if has_current else None
        return [charts.lending_bars(syms, values, before)]
    bt = read_backtest(backtest) if key == "backtest" else None
    if bt is not None and bt.results:
        rows = bt.results
        return [charts.backtest_exception_bars([f"{_chart_text(r.symbol)} {_chart_text(r.parameter_set)}"
                                                for r in rows],
                                               [_finite(r.exceptions) or 0.0 for r in rows],
                                               [_finite(r.expected) or 0.0 for r in rows])]
    return []


def _html_blocks(doc: _Doc, blocks: Sequence[Block], counter: list[int]) -> list[str]:
    from riskparams import charts

    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "p":
            out.append(f"<p>{_h(b[1])}</p>")
        elif kind == "quote":
            out.append(f'<div class="banner">{_h(b[1])}</div>')
        elif kind == "h3":
            out.append(f"<h3>{_h(b[1])}</h3>")
        elif kind in ("ul", "ol"):
            out.append(f"<{kind}>" + "".join(f"<li>{_h(t)}</li>" for t in b[1]) + f"</{kind}>")
        elif kind == "kv":
            out.append("<dl>" + "".join(f"<dt>{_h(k)}</dt><dd>{_h(v)}</dd>" for k, v in b[1]) + "</dl>")
        elif kind == "table":
            head = "".join(f"<th>{_h(h)}</th>" for h in b[1])
            body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in b[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "chart":
            for fig in _figures(doc, str(b[1])):
                counter[0] += 1
                div = charts.figure_html(fig, f"riskparams-fig-{counter[0]}", include_plotlyjs=counter[0] == 1)
                out.append(f'<div class="chart">{div}</div>')
    return out


def to_html(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    impact: StoredImpact | Mapping[str, Any] | None = None,
    plan: StoredPlan | Mapping[str, Any] | None = None,
) -> bytes:
    """Standalone HTML report (UTF-8) with interactive plotly charts; plotly.js is embedded inline so the
    file opens offline. Same parameters as :func:`to_markdown`."""
    doc = _doc(proposal, workflow, backtest, impact, plan)
    title, header, sections = _report(doc)
    counter = [0]
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="riskparams-proposal-id" content="{doc.id}">',
        f"<title>{html.escape(_unmarked(title))}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{_h(title)}</h1>", *_html_blocks(doc, header, counter),
    ]
    for name, blocks in sections:
        parts += [f"<h2>{_h(name)}</h2>", *_html_blocks(doc, blocks, counter)]
    if counter[0] == 0:  # always embed plotly.js, so that the report is the same kind of file
        from riskparams import charts

        empty = charts.covered_move_bars([], [], [])
        parts.append(charts.figure_html(empty, "riskparams-fig-1", include_plotlyjs=True))
    parts += [f"<footer>{_h(_footer(doc))}</footer>", "</body>", "</html>", ""]
    return "\n".join(parts).encode("utf-8")


# -------------------------------------------------------------------------------------------------
# JSON bundle and CSV
# -------------------------------------------------------------------------------------------------


def to_json_bundle(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    impact: StoredImpact | Mapping[str, Any] | None = None,
    plan: StoredPlan | Mapping[str, Any] | None = None,
) -> bytes:
    """JSON bundle of everything, with provenance (UTF-8, sorted keys, 2-space indent).

    Top-level keys: ``format`` (``riskparams-export-bundle-v1``), ``proposal_id``, ``proposal_hash``
    (algorithm, what is hashed, value, verified), ``status``, ``final``, ``banner``, ``created_at``,
    ``profile``, ``as_of``, ``title``, ``specification`` (:func:`specification_rows`), ``provenance``
    (``data``: per asset series, bars, data fingerprint, fitted model, ADV; ``policy_key``; ``policy``;
    ``model_specs``; ``packages``; ``revision``), ``proposal`` (the content), ``workflow`` and
    ``backtest`` (None when not given) and ``impact`` (the impact payload, None when not given). Same parameters
    as :func:`to_markdown`. ``plan`` (the execution plan) is added only when one is given.
    """
    doc = _doc(proposal, workflow, backtest, impact, plan)
    prov = doc.proposal.provenance_info
    data = []
    for a in doc.assets:
        c = a.context
        data.append({"symbol": a.symbol, **{k: None if c is None else getattr(c, k) for k in (
            "source", "freq", "kind", "synthetic", "first_bar", "last_bar", "fingerprint", "model", "spec_key",
            "fallback", "adv", "adv_source")}})
    bundle = {
        "format": BUNDLE_FORMAT,
        "proposal_id": doc.id,
        "proposal_hash": {"algorithm": "sha256", "of": "canonical JSON of the proposal content (sorted keys, no "
                          "whitespace, UTF-8)", "value": doc.id, "verified": True},
        "status": doc.status, "final": doc.final, "banner": doc.banner, "created_at": doc.created_at,
        "profile": doc.profile, "as_of": doc.proposal.as_of, "title": _unmarked(_title(doc)),
        "specification": specification_rows(doc.proposal),
        "provenance": {
            "data": data, "policy_key": doc.proposal.policy_key, "policy": dict(doc.proposal.policy),
            "model_specs": dict(prov.spec_dicts), "packages": dict(prov.packages),
            "revision": None if prov.revision is None else prov.revision.to_dict(),
        },
        "proposal": doc.content,
        "workflow": doc.workflow,
        "backtest": doc.backtest,
        "impact": None if doc.impact is None else doc.impact.to_dict(),
    }
    if doc.plan is not None:
        bundle["plan"] = doc.plan.to_dict()
    return _dumps(_jsonable(bundle))


def to_csv(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
) -> bytes:
    """CSV (UTF-8, ``\\n`` line ends) with one row per asset x parameter x tier; columns
    :data:`CSV_COLUMNS`. Every cell goes through :func:`neutralise_csv_cell`. ``backtest`` is accepted for a
    uniform signature and not written."""
    doc = _doc(proposal, workflow, backtest)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in specification_rows(doc.proposal):
        cells = [doc.id, doc.status, doc.profile, r["symbol"], _num(r["tier_number"]), _num(r["notional_floor"]),
                 _num(r["notional_cap"]), r["parameter"], r["unit"], _num(r["current"]), _num(r["proposed"]),
                 _num(r["change"]), _num(r["relative_change"]), _num(r["model"]), r["bound"],
                 "true" if r["overridden"] else "false", r["override_justification"]]
        w.writerow([neutralise_csv_cell(c) for c in cells])
    return buf.getvalue().encode("utf-8")


# -------------------------------------------------------------------------------------------------
# venue payloads
# -------------------------------------------------------------------------------------------------


def _ceil(x: float) -> int:
    """Ceiling that ignores float noise below 1e-6 (``0.05 * 1e6`` is 50000, not 50001)."""
    return int(math.ceil(round(x, 6)))


def _floor(x: float) -> int:
    return int(math.floor(round(x, 6)))


def _venue_tiers(asset: _VenueAsset) -> tuple[_VenueTier, ...]:
    """An asset's tiers for a venue payload, checked as a :class:`~riskparams.tiers.TierTable`; ExportError naming
    the tier and the field when they break an invariant (edited by hand, or from another program)."""
    rows = asset.tier_rows  # proposed tiers (PerpTier), an option's (OptionTier) or rows from another program
    try:
        typed = [r for r in rows if isinstance(r, PerpTier | OptionTier)]
        if len(typed) == len(rows):
            TierTable(typed, symbol=asset.symbol)
        else:
            TierTable.from_rows([r for r in rows if isinstance(r, Mapping)], symbol=asset.symbol)
    except TierError as exc:
        raise ExportError(f"cannot export: {exc}") from None
    names = [f.name for f in fields(_VenueTier)]
    return tuple(_VenueTier(**{n: (getattr(r, n) if isinstance(r, PerpTier | OptionTier) else r[n]) for n in names})
                 for r in rows)



def to_dydx(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    first_id: int = DYDX_FIRST_TIER_ID,
    markets: Mapping[str, Any] | None = None,
) -> bytes:
    """dYdX v4 governance proposal file (perp only): :func:`riskparams.venues.dydx.to_dydx`."""
    from riskparams.venues.dydx import to_dydx as build

    return build(proposal, workflow=workflow, backtest=backtest, first_id=first_id, markets=markets)


def to_aave(
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    asset_addresses: Mapping[str, str] | None = None,
) -> bytes:
    """The earlier riskparams JSON of Aave config-engine entries (lending only): :func:`riskparams.venues.aave.to_aave`;
    prefer ``aave-config``, the file Aave's proposal generator reads."""
    from riskparams.venues.aave import to_aave as build

    return build(proposal, workflow=workflow, backtest=backtest, asset_addresses=asset_addresses)


def render(
    fmt: str,
    proposal: StoredProposal | Mapping[str, Any],
    *,
    workflow: Mapping[str, Any] | None = None,
    backtest: Mapping[str, Any] | None = None,
    dydx_first_id: int = DYDX_FIRST_TIER_ID,
    asset_addresses: Mapping[str, str] | None = None,
    impact: StoredImpact | Mapping[str, Any] | None = None,
    plan: StoredPlan | Mapping[str, Any] | None = None,
    sweep: StoredSweepReport | Mapping[str, Any] | None = None,
    report_url: str | None = None,
) -> bytes:
    """Export ``proposal`` in format ``fmt`` (one of :data:`FORMATS`); see the format functions (``impact``: the
    impact payload shown by ``md``, ``html`` and ``json``; ``plan``: the execution plan, likewise; ``sweep``: an
    attached policy sweep, a short table in ``md``; ``asset_addresses``: token addresses by symbol for ``aave``,
    ``safe`` and ``risk-updates``; ``report_url``: where the full report is published, for ``snapshot`` and
    ``aave-aip``).

    Raises
    ------
    ExportError
        Unknown format, a venue payload of the other profile, an altered proposal or a bad backtest payload.
    """
    f = check_format(fmt)
    if f == "md":
        return to_markdown(proposal, workflow=workflow, backtest=backtest, impact=impact, plan=plan, sweep=sweep)
    if f == "json":
        return to_json_bundle(proposal, workflow=workflow, backtest=backtest, impact=impact, plan=plan)
    if f == "csv":
        return to_csv(proposal, workflow=workflow, backtest=backtest)
    if f == "html":
        return to_html(proposal, workflow=workflow, backtest=backtest, impact=impact, plan=plan)
    if f == "dydx":
        return to_dydx(proposal, workflow=workflow, backtest=backtest, first_id=dydx_first_id)
    if f == "aave":
        return to_aave(proposal, workflow=workflow, backtest=backtest, asset_addresses=asset_addresses)
    from riskparams import venues  # the venues' own formats (riskparams/venues/)

    if f == "aave-config":
        return venues.to_aave_config(proposal, workflow=workflow, backtest=backtest)
    if f == "aave-aip":
        return venues.to_aave_aip(proposal, workflow=workflow, backtest=backtest, report_url=report_url)
    if f == "snapshot":
        return venues.to_snapshot(proposal, workflow=workflow, backtest=backtest, report_url=report_url,
                                  markdown_options={"impact": impact, "plan": plan})
    if f == "safe":
        return venues.to_safe(proposal, workflow=workflow, backtest=backtest, asset_addresses=asset_addresses)
    return venues.to_risk_updates(proposal, workflow=workflow, backtest=backtest, asset_addresses=asset_addresses)


def sweep_markdown(sweep: StoredSweepReport | Mapping[str, Any], *, limit: int = 12) -> str:
    """The "Policy sweep" section of a forum post: one row per variant (frontier first, at most ``limit``), every
    label through :func:`escape_markdown`.

    Parameters
    ----------
    sweep : StoredSweepReport or mapping
        A stored sweep read typed (:func:`riskparams.service.attached_sweep`,
        :attr:`riskparams.store.sweep_records.StoredSweep.report`), or its content as a mapping (an ``id`` key is
        ignored: the id is the content's hash), read with
        :meth:`~riskparams.store.sweep_records.StoredSweepReport.from_content`.

    Raises
    ------
    ExportError
        The mapping has no ``variants`` list, or is not a stored sweep's content.
    """
    if isinstance(sweep, Mapping):
        if not isinstance(sweep.get("variants"), list):
            raise ExportError("the sweep payload must be a JSON object with a variants list.")
        from riskparams.store.sweep_records import StoredSweepReport

        try:
            sweep = StoredSweepReport.from_content({k: v for k, v in sweep.items() if k != "id"})
        except ValueError as exc:
            raise ExportError(f"the sweep payload cannot be exported: {exc}") from None
    variants = list(sweep.variants)
    rows = sorted(variants, key=lambda v: (not v.on_frontier, v.avg_margin or 0.0))[:limit]
    sid = str(sweep.id)[:12]
    out = ["## Policy sweep", "",
           escape_markdown(f"Sweep {sid}: {len(variants)} policy variants on {', '.join(map(str, sweep.symbols))}"
                           f", each replayed walk-forward; frontier = no variant has both a lower average margin and "
                           "less bad debt."), "",
           "| variant | avg margin | exceptions / expected | Kupiec p | bad debt | frontier |",
           "|---|---:|---:|---:|---:|---|"]
    for v in rows:
        label = variant_label(v.changes)
        am, kp = v.avg_margin, v.kupiec_p
        expected = v.expected if v.expected is not None and math.isfinite(v.expected) else 0.0
        out.append(f"| {escape_markdown(label)} | {'-' if am is None else f'{float(am):.2%}'} | "
                   f"{int(v.exceptions)} / {float(expected):.1f} | "
                   f"{'-' if kp is None else f'{float(kp):.3f}'} | {escape_markdown(format_notional(v.bad_debt))} | "
                   f"{'yes' if v.on_frontier else ''} |")
    if len(variants) > limit:
        out.append(f"\n{len(variants) - limit} more variant(s) in the stored sweep {sid}.")
    return "\n".join(out)

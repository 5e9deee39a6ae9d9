"""Hostile user text in every field a forum export shows (issue 12, item 7).

A proposal and its committee record are built through the real pipeline and workflow (committee names,
comments and the override justification through :mod:`riskparams.governance`); then every other field that
comes from a user (symbols, rationales, notes, series sources, peer venues and sources, option names and
differences, assets left out, revision authors, versions, keys, the backtest payload, member handles) is set
to the same hostile string, followed by the field's name. Each export is compared with the export of the same
proposal built with a benign string: the Markdown has the same lines of the same kinds, the same headings and
the same number of every markup character; the HTML the same tags, no event handler, no ``javascript:`` URL;
the CSV the same rows with no cell a spreadsheet would run; and the reader still sees every field's text.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import unicodedata
import warnings
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_export import cells, table_after

from riskparams import export as ex
from riskparams import governance as gov
from riskparams.config import policy_from_dict
from riskparams.domain import Proposal, content_id
from riskparams.governance import Override, committee_from_dict
from riskparams.store import Store
from riskparams.store.records import get_proposal, save_proposal

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
POLICY = policy_from_dict({"model": {"model": "ewma", "n_sims": 200},
                           "liquidity": {"adv_override": {"BTC-SYN": 2e9, "ETH-SYN": 1e9}}})
PEERS = """venue,symbol,notional_cap,max_leverage,maintenance_rate,source
venue-a,BTC-SYN,1000000,50,0.01,snapshot a
venue-a,BTC-SYN,,10,0.05,snapshot a
venue-b,ETH-SYN,,20,0.02,snapshot b
"""
LONG = ("<script>alert(1)</script> | # [x](javascript:y) `z` " * 200)[:10_000]
HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(1)>",
    "forged-section": "\n\n## Specification\n| BTC | Max leverage | 1x | 1000x | |",
    "link": "[click](javascript:alert(1))",
    "image": "![x](http://evil/x.png)",
    "code": "`code` ``` fence",
    "html-comment": "<!-- hidden -->",
    "formula": '=HYPERLINK("http://evil","x")',
    "emphasis": "**bold** _x_ ~~y~~",
    "quote": "> quote",
    "ordered-list": "1. list",
    "list": "- item",
    "rtl": "\u202e RTL override",
    "controls": "line\u2028separator \x1b[31m red \u200b zero-width \u2066 isolate",
    "autolinks": "<http://evil> https://evil www.evil.com a@evil.com @everyone #tag $x$ &lt; \\",
    "long": LONG,
}
BENIGN = "benign"
H2 = ["## Summary", "## Motivation", "## Specification", "## Methodology", "## Backtest results",
      "## Impact on open positions", "## Risks and next steps", "## Committee record"]
MARKUP = "*_~`[]|#<>{}$@"  # characters whose unescaped count the hostile text must not change
HANDLES = ("ann", "ben", "cat", "dan", "eve")


def field(text: str, name: str, limit: int | None = None) -> str:
    """The value of one field: the hostile (or benign) text, then the field's name (so each is findable)."""
    value = f"{text} {name}"
    return value if limit is None or len(value) <= limit else f"{text[:limit - len(name) - 1]} {name}"


def plain(text: str) -> str:
    """What a reader must see of a field: one line, invisible / direction characters shown as [U+XXXX]."""
    return "".join(f"[U+{ord(c):04X}]" if unicodedata.category(c) in ("Cc", "Cf") else c
                   for c in " ".join(text.split()))


def md_unescape(md: str) -> str:
    """Markdown text as a CommonMark renderer shows it: backslash escapes and entities resolved."""
    import html

    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md))


def unescaped(line: str, chars: str) -> list[tuple[int, str]]:
    """Positions of ``chars`` in ``line`` that no backslash escapes."""
    out, k = [], 0
    while k < len(line):
        if line[k] == "\\":
            k += 2
            continue
        if line[k] in chars:
            out.append((k, line[k]))
        k += 1
    return out


def markup(md: str) -> Counter[str]:
    """How many times each :data:`MARKUP` character stands unescaped in a Markdown document."""
    return Counter(c for ln in md.splitlines() for _, c in unescaped(ln, MARKUP))


def md_shape(md: str) -> list[tuple[Any, ...]]:
    """What each line of a Markdown document is: heading (with its text), table row (with its cell count),
    list item, quote, rule, blank or paragraph text."""
    shape: list[tuple[Any, ...]] = []
    for line in md.splitlines():
        if re.match(r" {0,3}#{1,6}(\s|$)", line):
            shape.append(("heading", "# (the title)" if line.startswith("# ") else line))
        elif line.startswith("|"):
            shape.append(("row", len(cells(line))))
        elif m := re.match(r" {0,3}([-+*]|\d{1,9}[.)])(\s|$)", line):
            shape.append(("item", m[1], bool(re.match(r" {0,3}(?:[-+*]|\d{1,9}[.)]) +(?:[-+*>#]|\d{1,9}[.)])(\s|$)",
                                                      line))))
        elif line.startswith(">"):
            shape.append(("quote",))
        elif re.fullmatch(r" {0,3}([-*_])( *\1){2,} *", line) or re.fullmatch(r" {0,3}=+ *", line):
            shape.append(("rule", line))
        else:
            shape.append(("text" if line.strip() else "blank",))
    return shape


class Page(HTMLParser):
    """Every tag with its attributes, the text of headings and scripts, and all text outside scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.headings: list[tuple[str, str]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "script":
            self.scripts.append("")
        elif tag in ("h1", "h2", "h3"):
            self.headings.append((tag, ""))
        else:
            return
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        where = self._open[-1] if self._open else None
        if where == "script":
            self.scripts[-1] += data
            return
        if where in ("h1", "h2", "h3"):
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)
        self.text.append(data)


def parse_html(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


# -- the proposals, the committee record and the backtest ------------------------------------------


@pytest.fixture(scope="module")
def made() -> dict[str, Proposal]:
    """A perp proposal (current parameters, options, peer venues) and a lending one (options), not stored."""
    from conftest import syn_perp_store

    from riskparams.params_io import load_current, parse_peers
    from riskparams.service import propose

    s = syn_perp_store()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for profile in ("perp", "lending"):
            out[profile] = propose(
                s, profile=profile, policy=POLICY, current=load_current(EXAMPLES / f"current_{profile}.csv", profile),
                options=["conservative", "moderate", "aggressive"], save=False,
                peers=parse_peers(PEERS, name="peers.csv") if profile == "perp" else None).proposal
    s.close()
    return out


def override(p: Proposal) -> Override:
    """A valid override: perp, tier 1's penalty 10% lower; lending, the first asset's LTV 5 points lower."""
    a = p.assets[0]
    if p.profile == "perp":
        return Override(symbol=a.symbol, parameter="liquidation_penalty", tier=0,
                        value=round(a.tiers[0].liquidation_penalty * 0.9, 5))  # type: ignore[union-attr]
    return Override(symbol=a.symbol, parameter="ltv", value=round(a.ltv - 0.05, 4))  # type: ignore[union-attr]


def record(p: Proposal, text: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Through the workflow: a revision (override justification), then submit, a sign-off, a dissent, a
    comment and a rejection, each with a comment, by members whose names carry ``text``.

    Returns the revision (a stored-proposal mapping), its committee record for export and the value of every
    field set so far (field name -> value)."""
    limit = gov.MAX_COMMENT
    names = {h: field(text, f"name-{h}") for h in HANDLES}
    committee = committee_from_dict({"quorum": 1, "members": [
        {"name": names[h], "handle": h, "role": role}
        for h, role in zip(HANDLES, ("chair", "member", "member", "member", "observer"), strict=True)
    ]}, source="hostile committee")
    # names show where a member authors, votes or decides (the audit-log table shows handles)
    fields = {f"name-{h}": names[h] for h in ("ann", "ben", "cat", "dan")}
    s = Store.memory()
    sp = save_proposal(s, p)
    justification = field(text, "justification", limit)
    rev = gov.revise(s, sp.id, "ben", [override(p)], justification=justification, committee=committee)
    fields["justification"] = justification.strip()  # as the workflow records it
    comments = {k: field(text, f"comment-{k}", limit) for k in ("submit", "sign", "dissent", "note", "reject")}
    gov.submit_for_review(s, rev.id, "ann", comment=comments["submit"], committee=committee)
    gov.sign_off(s, rev.id, "cat", comment=comments["sign"], committee=committee)
    gov.dissent(s, rev.id, "dan", comment=comments["dissent"], committee=committee)
    gov.comment(s, rev.id, "eve", text=comments["note"], committee=committee)
    gov.reject(s, rev.id, "ann", comment=comments["reject"], committee=committee)
    fields |= {f"comment-{k}": v for k, v in comments.items()}
    stored = get_proposal(s, rev.id).to_dict()
    wf = gov.workflow(s, rev.id, committee=committee).to_dict(for_export=True)
    s.close()
    # member handles are validated by the committee file: set them in the record itself
    handles = {h: field(text, f"handle-{h}") for h in HANDLES}
    for v in [*wf["sign_offs"], *wf["dissents"]]:
        v["member"] = handles[v["member"]]
    for e in [*wf["events"], wf["decision"]]:
        e["actor"] = handles.get(e["actor"], e["actor"])
    fields |= {f"handle-{h}": handles[h] for h in HANDLES}
    return stored, wf, fields


def hostile_content(stored: dict[str, Any], text: str, fields: dict[str, str]) -> dict[str, Any]:
    """The stored proposal with ``text`` in every user field of its content; its id recomputed."""
    d = copy.deepcopy(stored)

    def put(name: str) -> str:
        fields[name] = field(text, name)
        return fields[name]

    symbols = {a["symbol"]: put(f"symbol-{k}") for k, a in enumerate(d["assets"])}
    for k, a in enumerate(d["assets"]):
        a["symbol"] = a["context"]["symbol"] = symbols[a["symbol"]]
        a["rationale"] = put(f"rationale-{k}")
        a["notes"] = [put(f"note-{k}")]
        c = a["context"]
        for key in ("source", "selection", "fallback", "model", "fingerprint"):
            c[key] = put(f"{key}-{k}")
        a["covered_move"]["binding"] = [put(f"binding-{k}")]
        if a.get("bonus"):
            a["bonus"]["debt_asset"] = put(f"debt-asset-{k}")
            a["bonus"]["liquidity_source"] = put(f"liquidity-source-{k}")
        if a.get("peers"):
            pe = a["peers"]
            venues = {v: put(f"venue-{k}-{v}") for v in pe["venues"]}
            pe["venues"] = [venues[v] for v in pe["venues"]]
            pe["sources"] = {venues[v]: put(f"peer-source-{k}-{v}") for v in pe["sources"]}
            for r in pe["rows"]:
                r["peers"] = {venues[v]: x for v, x in r["peers"].items()}
    for o in d["options"]:
        name = o["name"]
        o["name"] = put(f"option-{name}")
        o["differences"][put(f"difference-key-{name}")] = put(f"difference-{name}")
        for x in o["assets"]:
            x["symbol"] = symbols[x["symbol"]]
    d["skipped"] = [{"symbol": put("skipped-symbol"), "reason": put("skipped-reason")}]
    d["as_of"] = put("as-of")
    d["policy"]["policy_key"] = put("policy-key")
    prov = d["provenance"]
    prov["packages"] = {**prov["packages"], "riskparams": put("version"), put("package"): put("package-version")}
    prov["model_specs"] = {put("spec-key"): s for s in prov["model_specs"].values()}
    rev = prov["revision"]
    rev["by"] = put("revision-by")
    rev["parent"] = put("revision-parent")
    for o in rev["overrides"]:
        o["symbol"] = symbols[o["symbol"]]
        o["by"] = fields["revision-by"]
    d["created_at"] = put("created-at")
    d["id"] = content_id({k: d[k] for k in ex._CONTENT_KEYS if k in d})
    return d


def backtest(text: str, symbol: str, fields: dict[str, str]) -> dict[str, Any]:
    """A backtest payload whose id, dates, set names and traffic light carry ``text``."""
    put = {k: field(text, f"backtest-{k}") for k in ("id", "start", "end", "created_at", "parameter_set", "light")}
    fields |= {f"backtest-{k}": v for k, v in put.items()}
    return {"id": put["id"], "start": put["start"], "end": put["end"], "created_at": put["created_at"],
            "results": [{"symbol": symbol, "parameter_set": put["parameter_set"], "n": 750, "exceptions": 9,
                         "expected": 7.5, "traffic_light": put["light"]}]}


def exports(p: Proposal, text: str) -> dict[str, Any]:
    """The md, html, csv and json exports of ``p`` with ``text`` in every user field, and the fields."""
    stored, wf, fields = record(p, text)
    d = hostile_content(stored, text, fields)
    bt = backtest(text, d["assets"][0]["symbol"], fields)
    out: dict[str, Any] = {"doc": d, "fields": fields}
    for fmt in ("md", "html", "csv", "json"):
        out[fmt] = ex.render(fmt, d, workflow=wf, backtest=bt).decode("utf-8")
    return out


@pytest.fixture(scope="module")
def benign(made: dict[str, Proposal]) -> dict[str, dict[str, Any]]:
    out = {profile: exports(p, BENIGN) for profile, p in made.items()}
    for x in out.values():
        x["page"] = parse_html(x["html"])
    return out


# -- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE))
def test_escape_markdown_reads_as_the_text_and_starts_nothing(name: str) -> None:
    text = HOSTILE[name]
    md = ex.escape_markdown(text)
    assert md_unescape(md) == plain(text)  # a Markdown renderer shows what the member wrote
    assert "\n" not in md and not re.search(r"<[A-Za-z/!?]", md)
    assert not unescaped(md, "*_~`[]|#<{}$@") and not re.match(r"(?:[-+=>]|\d{1,9}[.)])(\s|$)", md)
    assert not re.search(r"(?:javascript|https?):", md, flags=re.I) and "www." not in md
    page = ex.escape_html(text)
    assert not re.search(r"[<>\"'`*]", page) and "\n" not in page


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("profile", ["perp", "lending"])
def test_hostile_text_in_every_field_stays_text(made: dict[str, Proposal], benign: dict[str, dict[str, Any]],
                                                profile: str, name: str) -> None:
    got, base = exports(made[profile], HOSTILE[name]), benign[profile]
    fields, doc = got["fields"], got["doc"]
    assert set(fields) == set(base["fields"]) and len(fields) > 40
    for out in (got["md"], got["html"], got["csv"], got["json"]):
        assert "\ue000" not in out and "\ue001" not in out  # no internal mark leaks

    # Markdown: the same document, line by line, as with benign text
    md = got["md"]
    assert md_shape(md) == md_shape(base["md"])
    assert [ln for ln in md.splitlines() if ln.startswith("## ")] == H2
    headings = [ln for ln in md.splitlines() if re.match(r" {0,3}#{1,6}(\s|$)", ln)]
    assert headings[1:] == [ln for ln in base["md"].splitlines() if re.match(r" {0,3}#{1,6}(\s|$)", ln)][1:]
    assert headings[0].startswith("# [ARFC] Risk parameter update: ")
    assert headings[0].endswith(f" for {ex.escape_markdown(fields['symbol-0'])}, {ex.escape_markdown(fields['symbol-1'])}")
    assert markup(md) == markup(base["md"])
    assert not re.search(r"<[A-Za-z/!?]", md)  # no raw HTML, no HTML comment, no <http..> link
    assert not re.search(r"(?:javascript|https?):", md, flags=re.I)  # no URL an autolinker would take
    spec = table_after(md, "## Specification")
    rows = ex.specification_rows(doc)
    assert len(spec) == len(rows) == len(table_after(base["md"], "## Specification"))
    assert [r[0] for r in spec] == [ex.escape_markdown(r["symbol"]) for r in rows]
    assert all(len(r) == 5 for r in spec)
    shown = md_unescape(md)
    for key, value in fields.items():
        assert plain(value) in shown, key

    # HTML: the same tags as with benign text, no handler, no javascript: URL, the same headings
    page, base_page = parse_html(got["html"]), base["page"]
    assert [t for t, _ in page.tags] == [t for t, _ in base_page.tags]
    assert not [a for _, attrs in page.tags for a, _ in attrs if a.lower().startswith("on")]
    assert not [v for _, attrs in page.tags for _, v in attrs if v and "javascript:" in re.sub(r"\s", "", v).lower()]
    assert [h for h in page.headings if h[0] == "h2"] == [("h2", h[3:]) for h in H2]
    assert page.headings[1:] == base_page.headings[1:]
    assert len(page.scripts) == len(base_page.scripts)
    for script, base_script in zip(page.scripts, base_page.scripts, strict=True):
        assert script == base_script or "<" not in script  # plotly.js itself, or figure data with < as \u003c
        if "Plotly.newPlot" in script:  # plotly reads tags (<a href>, <b>, <br>) in labels: none from users
            assert "\\u003c" not in script
    text = "".join(page.text)
    for key, value in fields.items():
        assert plain(value) in text, key

    # CSV: one row per specification row, no cell a spreadsheet runs, the text kept
    table = list(csv.DictReader(io.StringIO(got["csv"])))
    assert len(table) == len(rows)
    for r in table:
        for v in r.values():
            assert not re.match(r"[ \t\r\n]*[=+\-@\uff1d\uff0b\uff0d\uff20]", v or "") or re.fullmatch(
                r"[+-]?[\d.]+(e[+-]?\d+)?%?", v), v
    assert [r["symbol"] for r in table] == [ex.neutralise_csv_cell(r["symbol"]) for r in rows]
    over = [r for r in table if r["overridden"] == "true"]
    assert over and all(r["override_justification"] == ex.neutralise_csv_cell(fields["justification"]) for r in over)

    # JSON keeps the text as it is (a machine format; whoever shows it escapes it)
    bundle = json.loads(got["json"])
    assert bundle["proposal"]["assets"][0]["symbol"] == fields["symbol-0"]
    assert bundle["title"].endswith(f" for {plain(fields['symbol-0'])}, {plain(fields['symbol-1'])}")


@pytest.mark.parametrize(("cell", "expected"), [
    (" =1+1", "' =1+1"), ("\n=cmd", "'\n=cmd"), ("\uff1dSUM(A1)", "'\uff1dSUM(A1)"), ("@@x", "'@@x"),
    ("a=b", "a=b"), ("-0.05", "-0.05"), (" BTC", " BTC"),
])
def test_csv_neutralises_formulas_behind_spaces_and_full_width_signs(cell: str, expected: str) -> None:
    assert ex.neutralise_csv_cell(cell) == expected


def test_a_status_outside_the_workflow_is_refused(made: dict[str, Proposal]) -> None:
    s = Store.memory()
    sp = save_proposal(s, made["perp"]).to_dict()
    s.close()
    with pytest.raises(ex.ExportError, match="status must be one of"):
        ex.to_markdown({**sp, "status": "approved** <script>"})

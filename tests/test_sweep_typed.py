"""Typed stored sweeps (issue 15 item 2, issue 16 item 3): a stored sweep's content reads back as a
:class:`~riskparams.store.sweep_records.StoredSweepReport` whose variants are the live report's
:class:`~riskparams.backtest.sweep.SweepVariant` rows; the round trip is exact (same canonical JSON, same id);
views, chart, export and CLI read attributes and give what the dict-based code gave; malformed and hostile
content is refused in one sentence or escaped as before."""

from __future__ import annotations

import copy
import html
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from riskparams import charts, views
from riskparams.backtest import BacktestSpec
from riskparams.backtest.sweep import SweepVariant
from riskparams.exceptions import DataError, ExportError, SpecError
from riskparams.export import escape_markdown, sweep_markdown
from riskparams.fmt import format_notional
from riskparams.jsonio import canonical_json, content_id, pretty_json
from riskparams.store import Store
from riskparams.store.sweep_records import StoredSweepReport, get_sweep, save_sweep

SPEC = BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
GRID = ["confidence=0.99,0.995"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A demo store (800 daily bars of the synthetic "ABC") with a proposal and a 2-variant serial sweep attached."""
    from riskparams.ingest.demo import example_store
    from riskparams.service import propose, sweep

    db = tmp_path_factory.mktemp("sweep_typed") / "t.duckdb"
    store = example_store(path=str(db))
    pid = propose(store, profile="perp", symbols=["ABC"]).id
    run = sweep(store, profile="perp", symbols=["ABC"], grid=GRID, spec=SPEC, executor="serial", attach=pid)
    payload = str(store.fetchone("SELECT payload FROM sweep_reports WHERE sweep_id = ?", [run.id])[0])
    yield {"store": store, "db": db, "pid": pid, "run": run, "payload": payload}
    store.close()


def _content(swept: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of the stored content, as the store holds it (JSON-loaded)."""
    return dict(json.loads(swept["payload"]))


# -- the dict-based readers before this change, written out as the reference ---------------------------------------


def _old_frame(content: Mapping[str, Any]) -> pd.DataFrame:
    """riskparams.views.sweep_frame as it read a content mapping."""
    def number(x: Any) -> float:
        return math.nan if x is None else float(x)

    variants = list(content.get("variants", []))
    book = any("var_insolvent_debt" in v for v in variants)
    rows = []
    for v in variants:
        row = {"variant": int(v["variant"]), "changes": ", ".join(f"{k}={x}" for k, x in (v.get("changes") or {}).items()),
               "avg_margin": number(v.get("avg_margin")), "bad_debt": number(v.get("bad_debt")),
               "exceptions": int(v.get("exceptions") or 0), "expected": number(v.get("expected")),
               "kupiec_p": number(v.get("kupiec_p")), "liquidations": int(v.get("liquidations") or 0),
               "changes_per_year": number(v.get("changes_per_year")), "frontier": bool(v.get("on_frontier"))}
        if book:
            row["var_insolvent_debt"] = number(v.get("var_insolvent_debt"))
        rows.append(row)
    return pd.DataFrame(rows, columns=[c for c in views.SWEEP_COLUMNS if book or c != "var_insolvent_debt"])


def _old_markdown(sweep: Mapping[str, Any], limit: int = 12) -> str:
    """riskparams.export.sweep_markdown as it read ``{"id": ..., **content}``."""
    variants = sweep["variants"]
    rows = sorted(variants, key=lambda v: (not v.get("on_frontier"), v.get("avg_margin") or 0.0))[:limit]
    sid = str(sweep.get("id", ""))[:12]
    out = ["## Policy sweep", "",
           escape_markdown(f"Sweep {sid}: {len(variants)} policy variants on {', '.join(map(str, sweep.get('symbols', [])))}"
                           f", each replayed walk-forward; frontier = no variant has both a lower average margin and "
                           "less bad debt."), "",
           "| variant | avg margin | exceptions / expected | Kupiec p | bad debt | frontier |",
           "|---|---:|---:|---:|---:|---|"]
    for v in rows:
        label = ", ".join(f"{k}={x}" for k, x in dict(v.get("changes") or {}).items())
        am, kp = v.get("avg_margin"), v.get("kupiec_p")
        out.append(f"| {escape_markdown(label)} | {'-' if am is None else f'{float(am):.2%}'} | "
                   f"{int(v.get('exceptions', 0))} / {float(v.get('expected') or 0.0):.1f} | "
                   f"{'-' if kp is None else f'{float(kp):.3f}'} | {escape_markdown(format_notional(v.get('bad_debt')))} | "
                   f"{'yes' if v.get('on_frontier') else ''} |")
    if len(variants) > limit:
        out.append(f"\n{len(variants) - limit} more variant(s) in the stored sweep {sid}.")
    return "\n".join(out)


def _reframe(content: dict[str, Any]) -> dict[str, Any]:
    """Rebuild ``frontier`` and ``n_variants`` from the variants (as the live report writes them), so a crafted
    content is self-consistent."""
    front = sorted((v for v in content["variants"] if v["on_frontier"]),
                   key=lambda v: (v["avg_margin"] or 0.0, v["variant"]))
    content["frontier"] = [{"variant": v["variant"], "changes": dict(v["changes"]), "avg_margin": v["avg_margin"],
                            "bad_debt": v["bad_debt"]} for v in front]
    content["n_variants"] = len(content["variants"])
    return content


# -- round trip ----------------------------------------------------------------------------------------------------


def test_stored_sweep_reads_back_typed_and_exactly(swept: dict[str, Any]) -> None:
    run, store = swept["run"], swept["store"]
    report = get_sweep(store, run.id).report
    assert isinstance(report, StoredSweepReport)
    # the exact stored text and the same id (sha-256 of that text)
    assert canonical_json(report.content()) == swept["payload"] and report.id == run.id == content_id(report.content())
    assert report.to_dict() == {"id": run.id, **json.loads(swept["payload"])}
    assert StoredSweepReport.from_content(json.loads(swept["payload"])).id == run.id
    # the variants are the live report's rows (one type), in grid order
    assert all(type(v) is SweepVariant for v in report.variants)
    assert report.variants == run.report.variants and len(report.variants) == report.n_variants == 2
    assert [dict(v.changes) for v in report.variants] == [{"confidence": 0.99}, {"confidence": 0.995}]
    assert [v.index for v in report.frontier] == [v.index for v in run.report.frontier] != []
    assert (report.profile, report.symbols, report.fits) == ("perp", ("ABC",), run.report.fits)
    assert report.grid == run.report.grid and dict(report.data) == dict(run.report.fingerprints)
    # typed spec and policy rebuild to what ran
    assert report.backtest_spec == run.report.spec
    assert report.base.key() == run.report.base.key() == report.base_policy["policy_key"]
    assert report.variant_policy(1)["differences"] == {"confidence": 0.995}
    with pytest.raises(SpecError, match="no variant 7"):
        report.variant(7)
    # read-only: no mutation through the typed object
    with pytest.raises((TypeError, AttributeError)):
        report.spec["window"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        report.fits = 3  # type: ignore[misc]


def test_attached_sweep_is_typed_and_the_export_is_byte_identical(swept: dict[str, Any]) -> None:
    from riskparams import export
    from riskparams.service import attached_sweep, proposal

    got = attached_sweep(swept["store"], swept["pid"])
    assert isinstance(got, StoredSweepReport) and got.id == swept["run"].id
    old = _old_markdown({"id": got.id, **json.loads(swept["payload"])})
    assert sweep_markdown(got) == old  # the section as the dict-based code wrote it
    assert sweep_markdown({"id": "ignored", **json.loads(swept["payload"])}) == old  # a mapping still reads
    assert "\n| confidence=0.995 | " in old and old.count("\n|") == 4  # header, rule, 2 variants
    md = export.render("md", proposal(swept["store"], swept["pid"]), sweep=got).decode("utf-8")
    assert ("\n" + old + "\n") in md
    with pytest.raises(ExportError, match="variants list"):
        sweep_markdown({"variants": "x"})
    with pytest.raises(ExportError, match="cannot be exported"):
        sweep_markdown({**json.loads(swept["payload"]), "fits": "many"})


def test_cli_json_equals_the_stored_typed_content(swept: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """`riskparams sweep --json` (the same sweep again: nothing new stored) prints the stored content: the same
    sorted-key JSON bytes as the typed reader's."""
    from riskparams.cli import main

    code = main(["--db", str(swept["db"]), "sweep", "--profile", "perp", "--symbols", "ABC", "--start", "2020-06-01",
                 "--cadence", "30", "--window", "250", "--grid", GRID[0], "--json", "--quiet"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["id"] == swept["run"].id and doc["stored_now"] is False
    head = ("id", "created_at", "stored_now", "attached_to", "executor", "tasks", "tasks_cached", "wall_s")
    printed = {k: v for k, v in doc.items() if k not in head}
    typed = get_sweep(swept["store"], doc["id"]).report.content()
    assert pretty_json(printed) == pretty_json(typed) and canonical_json(printed) == swept["payload"]


def test_views_and_chart_unchanged(swept: dict[str, Any]) -> None:
    content = _content(swept)
    report = StoredSweepReport.from_content(content)
    pd.testing.assert_frame_equal(views.sweep_frame(report), _old_frame(content))
    pd.testing.assert_frame_equal(views.sweep_frame(swept["run"].report), _old_frame(content))  # live report too
    detail = views.sweep_variant_detail(report, 1)
    assert {k: detail[k] for k in content["variants"][1]} == content["variants"][1]  # the stored row, as it was
    assert detail["policy"]["confidence"] == 0.995 and detail["policy_key"] == content["variants"][1]["policy_key"]
    fig = charts.sweep_frontier(report.variants)
    drawn = {int(c): (x, y, html.unescape(t)) for tr in fig.data for c, x, y, t in
             zip(tr.customdata, tr.x, tr.y, tr.text, strict=True)}
    assert drawn == {v["variant"]: (100.0 * v["avg_margin"], v["bad_debt"], f"confidence={v['changes']['confidence']}")
                     for v in content["variants"]}


def test_positions_and_a_stored_null_round_trip(swept: dict[str, Any]) -> None:
    """A book's VaR per variant round-trips; a stored null (a non-finite value the live report held) stays null and
    reads as nan, so the frame shows the column with a missing value, as before."""
    content = _content(swept)
    content["variants"][0]["var_insolvent_debt"] = 1234.5
    content["variants"][1]["var_insolvent_debt"] = None
    report = StoredSweepReport.from_content(content)
    assert canonical_json(report.content()) == canonical_json(content) and report.has_positions
    assert report.variants[0].var_insolvent_debt == 1234.5 and math.isnan(report.variants[1].var_insolvent_debt or 0.0)
    frame = views.sweep_frame(report)
    pd.testing.assert_frame_equal(frame, _old_frame(content))
    assert frame["var_insolvent_debt"].iloc[0] == 1234.5 and math.isnan(frame["var_insolvent_debt"].iloc[1])
    assert not StoredSweepReport.from_content(_content(swept)).has_positions


# -- malformed and hostile content -----------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Any:
    def edit(c: dict[str, Any]) -> dict[str, Any]:
        *head, last = path.split("/")
        node: Any = c
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return c
    return edit


MALFORMED = [
    ("newer format", _set("format", "riskparams-sweep/2"), "its format is 'riskparams-sweep/2'"),
    ("a backtest report", _set("format", "riskparams-backtest-v2"), "not a stored sweep"),
    ("unknown key", _set("extra", 1), "unknown key 'extra'"),
    ("profile", _set("profile", "options"), "profile is 'options'"),
    ("text number", _set("variants/0/avg_margin", "0.1"), "'avg_margin'"),
    ("bool count", _set("variants/0/exceptions", True), "'exceptions'"),
    ("negative count", _set("variants/1/liquidations", -5), "'liquidations' is -5"),
    ("NaN margin", _set("variants/0/avg_margin", math.nan), "nan"),
    ("inf in the spec", _set("spec/window", math.inf), "inf"),
    ("NaN in provenance", _set("provenance/x", math.nan), "nan"),
    ("variant off the grid", _set("variants/1/changes", {"confidence": 0.999}), "variant 1 does not match the grid"),
    ("renumbered", _set("variants/1/variant", 5), "variant 1 does not match the grid"),
    ("missing key", lambda c: {k: v for k, v in c.items() if k != "variants"}, "no 'variants'"),
    ("a variant short", lambda c: {**c, "variants": c["variants"][:1]}, "1 variants, its grid spans 2"),
    ("unknown variant key", _set("variants/0/note", "x"), "unknown key 'note'"),
    ("n_variants", _set("n_variants", 3), "rebuild to the same hash"),
    ("frontier", _set("frontier", []), "rebuild to the same hash"),
    ("int written for a float", _set("variants/0/expected", 3), "rebuild to the same hash"),
    ("formula symbol", lambda c: {**c, "symbols": ["=HYPERLINK(1)"], "data": {"=HYPERLINK(1)": "0" * 64}},
     "is not a symbol"),
    ("html symbol", lambda c: {**c, "symbols": ["<b>ABC</b>"], "data": {"<b>ABC</b>": "0" * 64}}, "is not a symbol"),
    ("fingerprints", _set("data", {"XYZ": "0" * 64}), "fingerprints do not match"),
    ("html grid key", _set("grid/0/0", "<b>x</b>"), "grid is not valid"),
    ("nested grid value", _set("grid/0/1", [[1], 0.995]), "is not [key, [values]]"),
    ("grid duplicates", _set("grid/0/1", [0.99, 0.99]), "grid is not valid"),
    ("skipped", _set("skipped", [{"symbol": "X"}]), "skipped entry"),
    ("not an object", lambda c: [c], "must be a JSON object"),
]


@pytest.mark.parametrize(("mutate", "words"), [(m, w) for _n, m, w in MALFORMED], ids=[n for n, _m, _w in MALFORMED])
def test_malformed_content_is_refused_in_one_sentence(swept: dict[str, Any], mutate: Any, words: str) -> None:
    with pytest.raises(DataError) as err:
        StoredSweepReport.from_content(mutate(_content(swept)))
    msg = str(err.value)
    assert words in msg and "\n" not in msg and msg.endswith(".") and msg.count(". ") == 0, msg
    assert len(msg) < 300


def test_hostile_grid_values_are_escaped_as_before(swept: dict[str, Any]) -> None:
    """A grid value with HTML, Markdown table syntax and a formula reads back, stores under its hash and renders
    escaped: Markdown-escaped in the export (as the dict-based code did), HTML-escaped in the chart's hover text,
    plain text in the table."""
    evil = "<script>alert(1)</script> | =cmd() *x*"
    content = _content(swept)
    content["grid"] = [["measure", [evil, "es"]]]
    for v, value in zip(content["variants"], [evil, "es"], strict=True):
        v["changes"] = {"measure": value}
    content = _reframe(content)
    report = StoredSweepReport.from_content(content)
    assert canonical_json(report.content()) == canonical_json(content)
    store: Store = swept["store"]
    before = store.fetchone("SELECT count(*) FROM sweep_reports")[0]
    stored = save_sweep(store, content)
    assert get_sweep(store, stored.id).report.variants[0].changes["measure"] == evil
    md = sweep_markdown(report)
    assert md == _old_markdown({"id": report.id, **content})
    assert "<script>" not in md and " | =cmd" not in md and "\\| =cmd() \\*x\\*" in md  # no raw HTML, cell or emphasis
    assert escape_markdown(f"measure={evil}") in md
    fig = charts.sweep_frontier(report.variants)
    texts = [t for tr in fig.data for t in tr.text]
    assert html.escape(f"measure={evil}") in texts and not any("<script>" in t for t in texts)
    assert views.sweep_frame(report)["changes"].iloc[0] == f"measure={evil}"
    # NaN never reaches the store: the canonical encoder refuses it and nothing is written
    nan = copy.deepcopy(content)
    nan["variants"][0]["bad_debt"] = math.nan
    with pytest.raises(ValueError):
        save_sweep(store, nan)
    assert store.fetchone("SELECT count(*) FROM sweep_reports")[0] == before + 1


def test_stored_sweep_accessor_names_the_record(swept: dict[str, Any], tmp_path: Path) -> None:
    """A record whose content is a valid hash but not a sweep's shape: the typed accessor refuses it naming why."""
    store: Store = swept["store"]
    bad = _content(swept)
    bad["variants"][0]["avg_margin"] = "lots"
    stored = save_sweep(store, bad)  # the store keeps any JSON under its hash; reading it typed is refused
    with pytest.raises(DataError, match="avg_margin"):
        _ = get_sweep(store, stored.id).report


def test_governance_export_embeds_the_attached_sweep_as_before(swept: dict[str, Any]) -> None:
    """`riskparams export` (governance.export_proposal) reads the attached sweep typed; its section is the
    dict-based code's, byte for byte."""
    from riskparams.governance import export_proposal

    md = export_proposal(swept["store"], swept["pid"], "md", "erin").data.decode("utf-8")
    old = _old_markdown({"id": swept["run"].id, **json.loads(swept["payload"])})
    assert ("\n" + old + "\n") in md


def test_reading_a_stored_sweep_loads_no_backtest_machinery(swept: dict[str, Any], tmp_path: Path) -> None:
    """The grid, the variant rows and the content layout live in the light riskparams.sweep_content: a process that
    reads stored sweep content back (and writes it again) imports neither the backtest package nor numba nor
    scipy.stats, and gets the same id."""
    import subprocess
    import sys

    content = _content(swept)
    src = tmp_path / "sweep.json"
    src.write_text(json.dumps(content), encoding="utf-8")
    code = ("import json, sys\n"
            "from riskparams.store.sweep_records import StoredSweepReport\n"
            f"r = StoredSweepReport.from_content(json.load(open({str(src)!r})))\n"
            "print(r.id, len(r.frontier), sorted(m for m in ('numba', 'scipy.stats', 'riskparams.backtest')"
            " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == content_id(content)
    assert int(out[1]) == sum(1 for v in content["variants"] if v["on_frontier"]) >= 1
    assert out[2:] == ["[]"]

"""Typed readers of what the store holds, versioned, and the one JSON encoder.

Stored proposals and backtest reports are written to a real DuckDB file, the store is closed and opened
again, and the records are read back through ``Proposal.from_content`` and ``StoredBacktest.from_content``:
the typed values rebuild exactly the stored canonical text and id. Another format version is refused in one
sentence that names it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

import riskparams
from riskparams import service
from riskparams.backtest_content import REPORT_FORMAT, BacktestResultRow, StoredBacktest
from riskparams.domain import PROPOSAL_FORMAT, Profile, Proposal
from riskparams.exceptions import DataError
from riskparams.ingest.demo import example_store
from riskparams.jsonio import canonical_json, clean_float, content_id, iso_z, parse_time, to_jsonable
from riskparams.store.backtest_records import get_report
from riskparams.store.records import get_proposal

SPEC = dict(cadence_days=30, window=250, es_sims=0)


def _one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and len(re.findall(r"[.;] [A-Z]", message)) == 0


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A DuckDB file holding a perp and a lending proposal and a backtest of each (with a user stress
    window), closed after writing: the tests read it back from the file."""
    path = tmp_path_factory.mktemp("roundtrip") / "store.duckdb"
    s = example_store(path=str(path))
    out: dict[str, Any] = {"path": path}
    for profile, start in (("perp", "2020-06-01"), ("lending", "2020-09-01")):
        run = riskparams.propose(s, profile=profile, symbols=["ABC"])
        spec = riskparams.BacktestSpec(start=start, windows=(("summer", "2020-09-01", "2020-10-15"),), **SPEC)
        bt = riskparams.backtest_policy(s, profile=profile, symbols=["ABC"], spec=spec, attach=run.id)
        out[profile] = {"proposal": run.proposal, "proposal_id": run.id, "report": bt.report, "report_id": bt.id}
    s.close()
    return out


def _reopen(stored: dict[str, Any]) -> Any:
    return riskparams.open_store(str(stored["path"]))


_STORED_TEXT = {
    "proposals": "SELECT content FROM proposals WHERE proposal_id = ?",
    "backtest_reports": "SELECT payload FROM backtest_reports WHERE report_id = ?",
}


def _stored_text(store: Any, table: str, rid: str) -> str:
    """The stored canonical text of a record, read with plain SQL (not through the readers under test)."""
    row = store.fetchone(_STORED_TEXT[table], [rid])
    assert row is not None
    return str(row[0])


# -------------------------------------------------------------------------------------------------
# proposals
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["perp", "lending"])
def test_stored_proposal_round_trips_through_the_typed_reader(stored: dict[str, Any], profile: str) -> None:
    pid = stored[profile]["proposal_id"]
    with _reopen(stored) as store:
        record = get_proposal(store, pid)
    content = record.content
    assert content["format"] == PROPOSAL_FORMAT
    proposal = Proposal.from_content(content)
    assert proposal.profile == profile and isinstance(proposal.profile, Profile)  # typed, not a bare string
    assert [a.symbol for a in proposal.assets] == ["ABC"]
    # content -> Proposal -> content: the same canonical text, the same id, the same as the live proposal
    assert canonical_json(proposal.content()) == canonical_json(content)
    assert proposal.id == record.id == pid == content_id(content)
    assert proposal.content() == stored[profile]["proposal"].content()
    asset = proposal.assets[0]
    if profile == "perp":
        assert all(0 <= t.liquidation_penalty < t.mmf < t.imf for t in asset.tiers)  # type: ignore[union-attr]
    else:
        assert 0 < asset.ltv < asset.liquidation_threshold < 1  # type: ignore[union-attr]


def test_the_stored_proposal_text_is_the_canonical_json(stored: dict[str, Any]) -> None:
    """Hashes of stored records do not move: the stored text is byte for byte the one encoder's canonical form,
    which is the form proposals were always written in (sorted keys, compact, UTF-8 kept, no NaN)."""
    pid = stored["perp"]["proposal_id"]
    with _reopen(stored) as store:
        text = _stored_text(store, "proposals", pid)
    content = json.loads(text)
    legacy = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert canonical_json(content) == legacy == text
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == pid


def test_canonical_form_is_pinned() -> None:
    value = {"b": [1.5, None, True], "a": {"é": "→", "z": 1}, "n": -0.0}
    assert canonical_json(value) == '{"a":{"z":1,"é":"→"},"b":[1.5,null,true],"n":-0.0}'
    # the id is the SHA-256 of exactly that text (pinned: computed with the pre-jsonio json.dumps arguments)
    assert content_id(value) == "8a4b385f080e62dd868878d9ce25b67fe74098a2e6e58a02a064c67e4040939e"
    assert canonical_json({"k": "é"}, ascii_only=True) == '{"k":"\\u00e9"}'  # the form policy keys were hashed in
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


@pytest.mark.parametrize(("tag", "pattern"), [
    ("riskparams-proposal-v2", r"^this proposal has format 'riskparams-proposal-v2', newer than the "
                               r"'riskparams-proposal-v1' this riskparams reads; upgrade riskparams to read it\.$"),
    ("riskparams-proposal-v0", r"^this proposal has format 'riskparams-proposal-v0', older than the "
                               r"'riskparams-proposal-v1' this riskparams reads\.$"),
    ("riskparams-backtest-v1", r"^this is not a stored proposal: its format is 'riskparams-backtest-v1', this "
                               r"riskparams reads 'riskparams-proposal-v1'\.$"),
    (None, r"^this is not a stored proposal: its format is None, this riskparams reads 'riskparams-proposal-v1'\.$"),
])
def test_proposal_of_another_format_is_refused_naming_the_version(stored: dict[str, Any], tag: Any,
                                                                   pattern: str) -> None:
    content = stored["perp"]["proposal"].content()
    content["format"] = tag
    with pytest.raises(ValueError, match=pattern) as info:
        Proposal.from_content(content)
    assert _one_sentence(str(info.value))


def test_altered_proposal_content_is_refused(stored: dict[str, Any]) -> None:
    content = stored["perp"]["proposal"].content()
    del content["assets"][0]["tiers"]
    with pytest.raises(ValueError, match="does not have this riskparams' shape"):
        Proposal.from_content(content)


# -------------------------------------------------------------------------------------------------
# backtest reports
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["perp", "lending"])
def test_stored_backtest_round_trips_through_the_typed_reader(stored: dict[str, Any], profile: str) -> None:
    rid = stored[profile]["report_id"]
    live = stored[profile]["report"]
    with _reopen(stored) as store:
        record = get_report(store, rid)
        text = _stored_text(store, "backtest_reports", rid)
        through_service = service.get_backtest(store, rid[:10]).backtest
    typed = StoredBacktest.from_content(record.content)
    assert typed == record.backtest == through_service
    assert typed.format == REPORT_FORMAT and typed.profile == profile
    # content -> StoredBacktest -> content: identical canonical text, identical id
    assert canonical_json(typed.content()) == text
    assert typed.id == record.id == rid == content_id(record.content)
    # typed rows: the live report's rows, read back
    assert typed.results == tuple(live.results())
    assert all(isinstance(r, BacktestResultRow) for r in typed.results)
    assert [r.to_dict() for r in typed.results] == record.content["results"]
    assert {(r.symbol, r.parameter_set) for r in typed.results} == {("ABC", "policy"),
                                                                   ("ABC", f"proposal-{stored[profile]['proposal_id'][:12]}")}
    asset = typed.asset("abc")
    live_asset = live.asset("ABC")
    assert (asset.symbol, asset.freq, asset.window, asset.horizon_bars, asset.observations) == (
        "ABC", "1d", live_asset.window, live_asset.horizon_bars, live_asset.obs)
    assert asset.policy_set is not None and asset.policy_set.claimed is not None
    assert len(asset.policy_set.proposal_models) == len(live_asset.set("policy").cadence)
    assert asset.has_paths and len(asset.path_times) == len(asset.policy_set.margin_path)
    assert [w.name for w in asset.stress_windows][-1] == "summer"
    assert typed.start_time == datetime(2020, 6 if profile == "perp" else 9, 1, tzinfo=UTC)
    # read-only: the typed value cannot be changed in place
    with pytest.raises(TypeError):
        asset.detail["paths"] = {}  # type: ignore[index]
    with pytest.raises(AttributeError):
        typed.profile = "x"  # type: ignore[misc]


def test_every_time_in_a_new_stored_report_is_utc_with_z(stored: dict[str, Any]) -> None:
    with _reopen(stored) as store:
        text = _stored_text(store, "backtest_reports", stored["perp"]["report_id"])
    assert "+00:00" not in text
    times = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]*)"', text)
    assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t) for t in times), \
        sorted({t for t in times if not t.endswith("Z")})[:5]
    # the stress windows and the coverage periods, where older reports wrote +00:00
    content = json.loads(text)
    asset = content["assets"][0]
    assert asset["stress_windows"][-1]["start"] == "2020-09-01T00:00:00Z"
    assert asset["sets"][0]["coverage"]["by_window"][-1]["end"] == "2020-10-15T00:00:00Z"


def _as_legacy(content: dict[str, Any]) -> dict[str, Any]:
    """The content as reports written before this change had it: stress-window and coverage-period times
    with ``+00:00``."""
    old = json.loads(json.dumps(content))
    for a in old["assets"]:
        for w in a["stress_windows"]:
            for k in ("start", "trough", "end"):
                if w[k] is not None:
                    w[k] = w[k].replace("Z", "+00:00")
        for s in a["sets"]:
            for period in (*s["coverage"]["by_year"], *s["coverage"]["by_window"]):
                period["start"] = period["start"].replace("Z", "+00:00")
                period["end"] = period["end"].replace("Z", "+00:00")
    return old


def test_reader_accepts_times_written_with_plus_00_00(stored: dict[str, Any]) -> None:
    content = stored["perp"]["report"].content()
    old = _as_legacy(content)
    assert "+00:00" in canonical_json(old)
    typed = StoredBacktest.from_content(old)  # the hash check passes: the old text is kept as it is
    assert typed.id == content_id(old) != content_id(content)
    new = StoredBacktest.from_content(content)
    for w_old, w_new in zip(typed.assets[0].stress_windows, new.assets[0].stress_windows, strict=True):
        assert w_old.start.endswith("+00:00") and w_new.start.endswith("Z")
        assert w_old.start_time == w_new.start_time and w_old.end_time == w_new.end_time
        assert w_old.trough_time == w_new.trough_time
    # and the views render both the same way
    from riskparams import views

    assert views.backtest_claims(old, "ABC") == views.backtest_claims(content, "ABC")


@pytest.mark.parametrize(("tag", "pattern"), [
    ("riskparams-backtest-v3", r"^this backtest report has format 'riskparams-backtest-v3', newer than the "
                               r"'riskparams-backtest-v2' this riskparams reads; upgrade riskparams to read it\.$"),
    ("riskparams-proposal-v1", r"^this is not a stored backtest report: its format is 'riskparams-proposal-v1'"),
])
def test_backtest_of_another_format_is_refused_naming_the_version(stored: dict[str, Any], tag: str,
                                                                  pattern: str) -> None:
    content = stored["perp"]["report"].content(paths=False)
    content["format"] = tag
    with pytest.raises(ValueError, match=pattern) as info:
        StoredBacktest.from_content(content)
    assert _one_sentence(str(info.value))
    with pytest.raises(DataError, match=pattern):  # what the pages and the views get
        service.stored_backtest(content)


def test_backtest_content_of_another_shape_is_refused(stored: dict[str, Any]) -> None:
    content = stored["perp"]["report"].content(paths=False)
    del content["results"][0]["kupiec_p"]
    with pytest.raises(ValueError, match="missing 'kupiec_p'"):
        StoredBacktest.from_content(content)
    content = stored["perp"]["report"].content(paths=False)
    content["assets"][0]["window"] = "250"
    with pytest.raises(ValueError, match=r"does not have this riskparams' shape \('window' is '250'\)"):
        StoredBacktest.from_content(content)
    content = stored["perp"]["report"].content(paths=False)
    content["surprise"] = 1
    with pytest.raises(ValueError, match="unknown key 'surprise'"):
        StoredBacktest.from_content(content)


def test_result_row_round_trip_and_key_order() -> None:
    from riskparams.export import BACKTEST_RESULT_KEYS

    row = {k: None for k in BACKTEST_RESULT_KEYS} | {"symbol": "ABC", "parameter_set": "policy", "n": 10,
                                                    "exceptions": 1, "confidence": 0.99, "liquidations": 0}
    typed = BacktestResultRow.from_dict(row)
    assert tuple(typed.to_dict()) == BACKTEST_RESULT_KEYS and typed.to_dict() == row
    with pytest.raises(ValueError, match="unknown key 'extra'"):
        BacktestResultRow.from_dict({**row, "extra": 1})
    with pytest.raises(ValueError, match="'n' is True"):
        BacktestResultRow.from_dict({**row, "n": True})


def test_unsaved_run_reads_the_same_typed_report(stored: dict[str, Any]) -> None:
    with _reopen(stored) as store:
        spec = riskparams.BacktestSpec(start="2020-06-01", windows=(("summer", "2020-09-01", "2020-10-15"),), **SPEC)
        run = service.backtest(store, profile="perp", symbols=["ABC"], spec=spec, save=False)
    assert run.stored is None and run.backtest.results == tuple(run.report.results())
    assert run.backtest.content() == run.report.content(paths=False)


# -------------------------------------------------------------------------------------------------
# the encoder's value rules
# -------------------------------------------------------------------------------------------------


def test_value_rules() -> None:
    import numpy as np
    import pandas as pd

    assert [clean_float(x) for x in (None, float("nan"), float("inf"), -float("inf"), 1, np.float32(0.5))] == [
        None, None, None, None, 1.0, 0.5]
    naive, aware = datetime(2024, 1, 31, 12), pd.Timestamp("2024-01-31T13:00", tz="Europe/Paris")
    assert iso_z(naive) == iso_z(aware) == "2024-01-31T12:00:00Z"
    assert iso_z(datetime(2024, 1, 31, 12, 0, 0, 5000)) == "2024-01-31T12:00:00.005000Z"
    for text in ("2024-01-31T12:00:00Z", "2024-01-31T12:00:00+00:00", "2024-01-31T12:00:00", "2024-01-31T13:00+01:00"):
        assert parse_time(text) == datetime(2024, 1, 31, 12, tzinfo=UTC), text
    assert to_jsonable({"t": aware, "x": (np.int64(3), np.float64("nan")), 1: True}) == {
        "t": "2024-01-31T12:00:00Z", "x": [3, None], "1": True}


@pytest.mark.parametrize("module", ["riskparams.jsonio", "riskparams.backtest_content", "riskparams.content",
                                    "riskparams.sweep_content"])
def test_module_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and result.failed == 0


def test_a_v1_report_from_before_issue_11_still_reads(stored: dict[str, Any]) -> None:
    """The first v1 reports had no ``live_tier1`` (asset) and no ``claimed`` (parameter set): they read back
    exactly (same hash), with an empty live tier 1 and no claimed coverage, and the views render them."""
    from riskparams import views

    early = json.loads(json.dumps(stored["perp"]["report"].content()))
    for a in early["assets"]:
        del a["live_tier1"]
        for s in a["sets"]:
            del s["claimed"]
    typed = StoredBacktest.from_content(early)
    assert canonical_json(typed.content()) == canonical_json(early) and typed.id == content_id(early)
    asset = typed.asset("ABC")
    assert asset.live_tier1 == {} and asset.absent == ("live_tier1",)
    assert all(s.claimed is None and s.absent == ("claimed",) for s in asset.sets)
    assert views.backtest_claims(typed, "ABC") == []
    assert views.backtest_model_caption(typed, "ABC").startswith("ABC: model ")
    assert service.backtest_figures(early, "ABC")["margins"] is not None


def test_claimed_coverage_counts_print_with_thousands_separators(stored: dict[str, Any]) -> None:
    """The Backtest page's claimed-coverage line: 36658 observations print as 36,658."""
    import dataclasses

    from riskparams import views

    typed = StoredBacktest.from_content(stored["perp"]["report"].content())
    a = typed.assets[0]
    sets = tuple(dataclasses.replace(s, claimed=dataclasses.replace(
        s.claimed, n=36658, exceptions=1234, expected=1099.7, steady_n=30001, steady_exceptions=999,
        steady_expected=1001.5)) if s.name == "policy" and s.claimed is not None else s for s in a.sets)
    assert any(s.name == "policy" and s.claimed is not None for s in a.sets)
    report = dataclasses.replace(typed, assets=(dataclasses.replace(a, sets=sets), *typed.assets[1:]))
    claim = next(ln for ln in views.backtest_claims(report, a.symbol) if ln.startswith("**Claimed coverage**"))
    assert "1,234 exceptions in 36,658 against 1,099.7 claimed" in claim
    assert "outside stressed regimes 999 in 30,001 against 1,001.5" in claim

"""Typed readers of a proposal's policy and provenance and of a backtest row's phases (issue 15 item 2).

``Proposal.risk_policy`` / ``Proposal.policy_key`` / ``Proposal.provenance_info`` read the stored ``policy`` and
``provenance`` typed without changing the content or its hash; ``BacktestResultRow.phases`` and
``StoredParameterSet.phases`` read the policy replay's warm-up / steady-state split as ``PhaseSplit``. Stored
content is read back from a DuckDB file that was closed after writing; malformed content is refused in one
sentence naming the key; the exports render the typed phases exactly as they rendered the stored mapping.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import riskparams
from riskparams import export as ex
from riskparams import views
from riskparams.backtest_content import BacktestResultRow, PhaseSplit, PhaseStats, StoredBacktest
from riskparams.domain import OptionTier, Proposal, ProposalRevision, Provenance
from riskparams.exceptions import DataError
from riskparams.ingest.demo import example_store
from riskparams.jsonio import canonical_json, content_id
from riskparams.store.backtest_records import get_report
from riskparams.store.records import get_proposal

OPTIONS = ["conservative", "moderate", "aggressive"]


def _one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and not re.search(r"[.;] [A-Z]", message)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A DuckDB file with a perp and a lending proposal (both with options) and a perp backtest attached to the
    perp proposal, from current brackets far from the model's target (MMF 0.5 %, 100x) with an execution lag of
    5 days: a warm-up and a steady state; closed after writing."""
    from riskparams.domain import CurrentParams, CurrentPerp, CurrentPerpTier

    current = CurrentParams(profile="perp", source="test", assets={"ABC": CurrentPerp(symbol="ABC", tiers=(
        CurrentPerpTier(notional_floor=0.0, notional_cap=None, max_leverage=100.0, maintenance_rate=0.005),))})
    path = tmp_path_factory.mktemp("typed") / "store.duckdb"
    s = example_store(path=str(path))
    out: dict[str, Any] = {"path": str(path)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for profile in ("perp", "lending"):
            run = riskparams.propose(s, profile=profile, symbols=["ABC"], options=OPTIONS)
            out[profile] = {"id": run.id, "proposal": run.proposal}
        spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0,
                                       execution_lag_days=5)
        bt = riskparams.backtest_policy(s, profile="perp", symbols=["ABC"], spec=spec, attach=out["perp"]["id"],
                                     current=current)
    out["backtest"] = {"id": bt.id, "report": bt.report}
    s.close()
    s = riskparams.open_store(str(path))
    for profile in ("perp", "lending"):
        out[profile]["content"] = get_proposal(s, out[profile]["id"]).content
    rec = get_report(s, bt.id)
    out["backtest"].update(content=rec.backtest.content(), payload=rec.export_payload())
    s.close()
    return out


# -- proposals: ids unchanged, typed readers equal the stored dict -------------------------------------------------


@pytest.mark.parametrize("profile", ["perp", "lending"])
def test_stored_proposal_with_options_round_trips_to_its_id(stored: dict[str, Any], profile: str) -> None:
    content = stored[profile]["content"]
    p = Proposal.from_content(content)
    assert p.id == stored[profile]["id"] == content_id(content)
    assert canonical_json(p.content()) == canonical_json(content)
    assert [o.name for o in p.options] == OPTIONS and p.options[0].assets
    prov = p.provenance_info
    assert isinstance(prov, Provenance) and prov.to_dict() == content["provenance"] == dict(p.provenance)
    # the typed provenance, written back, gives the same proposal id
    assert dataclasses.replace(p, provenance=prov.to_dict()).id == p.id
    if profile == "perp":
        tier = p.options[0].assets[0].tiers[0]  # type: ignore[index]
        assert isinstance(tier, OptionTier) and tier.mmf == content["options"][0]["assets"][0]["tiers"][0]["mmf"]


@pytest.mark.parametrize("profile", ["perp", "lending"])
def test_typed_policy_and_provenance_equal_what_the_dict_says(stored: dict[str, Any], profile: str) -> None:
    content = stored[profile]["content"]
    p = Proposal.from_content(content)
    policy = p.risk_policy
    assert isinstance(policy, riskparams.RiskPolicy)
    assert p.policy_key == content["policy"]["policy_key"] == policy.key()  # made by this riskparams: equal
    assert policy.confidence == content["policy"]["confidence"] and policy.to_dict()["perp"] == content["policy"]["perp"]
    prov = p.provenance_info
    assert dict(prov.packages) == content["provenance"]["packages"]
    assert prov.packages["riskparams"] == riskparams.__version__
    assert prov.peers is None and prov.revision is None and prov.options_dropped is None and not prov.extra
    specs = prov.model_specs
    assert list(specs) == list(content["provenance"]["model_specs"]) and len(specs) == 1
    for key, spec in specs.items():
        assert isinstance(spec, riskparams.FitSpec) and spec.key() == key
        assert spec.to_dict() == content["provenance"]["model_specs"][key]


def test_a_revision_reads_typed_and_keeps_its_id(stored: dict[str, Any]) -> None:
    from riskparams.governance import Override, apply_overrides

    content = stored["lending"]["content"]
    ltv = content["assets"][0]["ltv"]
    revised = apply_overrides(content, [Override(symbol="ABC", parameter="ltv", value=round(ltv - 0.01, 4))],
                              parent_id=stored["lending"]["id"], root_id=stored["lending"]["id"], revision=1,
                              author="alice", justification="Keep the LTV one point lower.")
    back = Proposal.from_content(revised.content())
    assert back.id == revised.id
    rev = back.provenance_info.revision
    assert isinstance(rev, ProposalRevision)
    assert (rev.number, rev.parent, rev.root, rev.by) == (1, stored["lending"]["id"], stored["lending"]["id"], "alice")
    assert len(rev.overrides) == 1 and rev.overrides[0]["parameter"] == "ltv" and rev.overrides[0]["old"] == ltv
    assert back.provenance_info.options_dropped == tuple(OPTIONS)
    assert back.provenance_info.to_dict() == revised.content()["provenance"]
    with pytest.raises(TypeError):
        rev.overrides[0]["new"] = 0.5  # type: ignore[index]  # read-only


def test_provenance_of_an_empty_proposal_reads_empty_and_keeps_its_keys() -> None:
    p = Proposal.from_content(Proposal(profile="perp", as_of=None, policy={}, assets=(), skipped=(),
                                       provenance={}).content())
    assert p.provenance_info.to_dict() == {} and dict(p.provenance_info.packages) == {}
    assert p.policy_key is None and p.risk_policy == riskparams.RiskPolicy()  # no keys: the defaults
    # a key this riskparams does not write is kept as stored (written back, so the hash holds)
    assert Provenance.from_dict({"note": [1, {"a": 2}]}).to_dict() == {"note": [1, {"a": 2}]}


def test_a_policy_stored_before_a_field_existed_reads_with_its_default(stored: dict[str, Any]) -> None:
    content = copy.deepcopy(stored["perp"]["content"])
    del content["policy"]["perp"]["last_tier_cost_notional"]
    p = Proposal.from_content(content)  # the content is its own record: its id is its hash
    assert p.id == content_id(content) != stored["perp"]["id"]
    default = riskparams.RiskPolicy().perp.last_tier_cost_notional
    assert p.risk_policy.perp.last_tier_cost_notional == default
    assert p.policy_key == stored["perp"]["content"]["policy"]["policy_key"]  # the stored key stays the record


# -- malformed policy and provenance: one sentence ----------------------------------------------------------------


BAD_PROVENANCE = [
    (lambda c: c.__setitem__("provenance", ["numpy"]),
     "the stored proposal's provenance must be an object, got list."),
    (lambda c: c["provenance"].__setitem__("packages", {"numpy": 2}),
     "the stored proposal's provenance.packages must map package names to version text, got 'numpy': 2."),
    (lambda c: c["provenance"].__setitem__("packages", "numpy 2.0"),
     "the stored proposal's provenance.packages must be an object, got str."),
    (lambda c: c["provenance"].__setitem__("model_specs", {"fitspec-v1-x": 3}),
     "the stored proposal's provenance.model_specs must map spec keys to objects, got {'fitspec-v1-x': 3}."),
    (lambda c: c["provenance"].__setitem__("peers", "binance"),
     "the stored proposal's provenance.peers must be a list of text, got 'binance'."),
    (lambda c: c["provenance"].__setitem__("revision", {"number": 1}),
     "the stored proposal's provenance.revision has no 'parent'; it was written by another version of riskparams."),
    (lambda c: c["provenance"].__setitem__("revision", {"number": "1", "parent": "a", "root": "a", "by": "x",
                                                        "justification": "y", "overrides": []}),
     "the stored proposal's provenance.revision.number has the wrong type: '1'."),
    (lambda c: c.__setitem__("policy", ["confidence"]),
     "the stored proposal's policy must be an object, got list."),
]


@pytest.mark.parametrize(("edit", "message"), BAD_PROVENANCE)
def test_malformed_policy_or_provenance_is_refused_in_one_sentence(stored: dict[str, Any], edit: Any,
                                                                   message: str) -> None:
    content = copy.deepcopy(stored["perp"]["content"])
    edit(content)
    with pytest.raises(ValueError) as err:
        Proposal.from_content(content)
    assert str(err.value) == message and _one_sentence(str(err.value))
    if "provenance" in message:
        assert isinstance(err.value, DataError)


def test_an_invalid_stored_policy_or_spec_is_refused_on_reading_in_one_sentence(stored: dict[str, Any]) -> None:
    content = copy.deepcopy(stored["perp"]["content"])
    content["policy"]["confidence"] = 2.0
    key = next(iter(content["provenance"]["model_specs"]))
    content["provenance"]["model_specs"][key]["model"] = "lstm"
    p = Proposal.from_content(content)  # the shape is right: it loads, and says what is wrong when read typed
    with pytest.raises(DataError, match=r"^the stored proposal's policy is not a valid policy \(.*confidence") as e1:
        p.risk_policy  # noqa: B018
    with pytest.raises(DataError, match=r"^the stored model specification 'fitspec-v1-.*' is not a valid FitSpec "
                                        r"\(.*'lstm'") as e2:
        p.provenance_info.model_specs  # noqa: B018
    assert _one_sentence(str(e1.value)) and _one_sentence(str(e2.value))


# -- backtest phases ---------------------------------------------------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def test_stored_phases_are_typed_and_equal_the_live_split(stored: dict[str, Any]) -> None:
    content = stored["backtest"]["content"]
    bt = StoredBacktest.from_content(content)
    assert bt.id == stored["backtest"]["id"] and canonical_json(bt.content()) == canonical_json(content)
    row = next(r for r in bt.results if r.parameter_set == "policy")
    ph = row.phases
    assert isinstance(ph, PhaseSplit) and isinstance(ph.warmup, PhaseStats) and row.typed_phases is ph
    assert ph == bt.asset("ABC").policy_set.phases  # type: ignore[union-attr]  # the set's blocks read the same
    assert all(r.phases is None for r in bt.results if r.parameter_set != "policy")
    live = stored["backtest"]["report"].asset("ABC").set("policy").phases  # riskparams.backtest.PhaseSplit
    assert ph.execution_lag_days == live.execution_lag_days == 5.0
    # from 100x the parameters in force never reach the target: all warm-up, an empty steady state (NaN p-values)
    assert ph.warmup.bars == 283 and ph.steady_state.bars == 0 and ph.warmup_end is None
    assert math.isnan(ph.steady_state.kupiec_p) and ph.steady_state.to_dict()["kupiec_p"] is None
    for f in dataclasses.fields(live):  # every field of the live split (same names), value for value
        v, w = getattr(live, f.name), getattr(ph, f.name)
        if f.name in ("warmup", "steady_state"):
            assert all(_close(getattr(v, g.name), getattr(w, g.name)) for g in dataclasses.fields(v)), f.name
        else:
            assert _close(v, w), f.name
    assert ph.to_dict() == content["results"][[r["parameter_set"] for r in content["results"]].index("policy")][
        "phases"]


def test_phases_round_trip_keeps_nan_and_the_row_id() -> None:
    block = {"name": "warmup", "start": None, "end": None, "bars": 0, "years": 0.0, "n": 0, "exceptions": 0,
             "expected": 0.0, "kupiec_p": None, "christoffersen_p": None, "avg_margin": None,
             "peak_to_trough": None, "changes": 0, "parameter_changes": 0, "actions_per_year": None,
             "changes_without_dead_band": 0}
    steady = {**block, "name": "steady_state", "start": "2021-01-01T00:00:00Z", "end": "2021-12-31T00:00:00Z",
              "bars": 365, "years": 0.9993, "n": 365, "exceptions": 4, "expected": 3.65, "kupiec_p": 0.85,
              "christoffersen_p": 0.76, "avg_margin": 0.0412, "peak_to_trough": 1.5, "changes": 3,
              "parameter_changes": 9, "actions_per_year": 3.0, "changes_without_dead_band": 7}
    phases = {"lag_days": 2.0, "warmup_end": None, "warmup_end_reason": "no warm-up.", "warmup_max_days": 90.0,
              "dead_band": 0.05, "changes": 3, "changes_without_dead_band": 7, "warmup": block, "steady_state": steady}
    row = {"symbol": "ABC", "parameter_set": "policy", "n": 365, "exceptions": 4, "expected": 3.65,
           "confidence": 0.99, "kupiec_lr": 0.03, "kupiec_p": 0.85, "christoffersen_lr": None, "christoffersen_p": None,
           "cc_lr": None, "cc_p": None, "traffic_light": "green", "avg_margin": 0.0412, "peak_to_trough": 1.5,
           "max_5d_increase": 0.1, "bad_debt": 0.0, "liquidations": 0, "phases": phases}
    r = BacktestResultRow.from_dict(row)
    assert r.phases is not None and math.isnan(r.phases.warmup.kupiec_p) and r.phases.steady_state.exceptions == 4
    assert r.to_dict() == row and canonical_json(r.to_dict()) == canonical_json(row)
    # a live row given the mapping reads it the same; a v1 row without phases still loads
    assert BacktestResultRow(**{**row, "phases": phases}) == r
    v1 = {k: v for k, v in row.items() if k != "phases"}
    assert BacktestResultRow.from_dict(v1).phases is None


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda p: p["warmup"].__setitem__("name", "middle"), "a phase is 'warmup' or 'steady_state', got 'middle'"),
    (lambda p: p.__setitem__("changes", "3"), "'changes' is '3'"),
    (lambda p: p["steady_state"].__setitem__("exceptions", 999), "phase steady_state has inconsistent counts"),
    (lambda p: p.__setitem__("surprise", 1), "unknown phases key 'surprise'"),
    (lambda p: p.__delitem__("warmup"), "missing 'warmup'"),
])
def test_malformed_phases_are_refused_in_one_sentence(stored: dict[str, Any], edit: Any, fragment: str) -> None:
    content = copy.deepcopy(stored["backtest"]["content"])
    row = next(r for r in content["results"] if r["parameter_set"] == "policy")
    edit(row["phases"])
    with pytest.raises(ValueError) as err:
        StoredBacktest.from_content(content)
    msg = str(err.value)
    assert msg.startswith("a backtest result row does not have this riskparams' shape (") and fragment in msg
    assert _one_sentence(msg)


def test_a_v1_report_without_phases_still_loads(stored: dict[str, Any]) -> None:
    content = copy.deepcopy(stored["backtest"]["content"])
    content["format"] = "riskparams-backtest-v1"
    for r in content["results"]:
        del r["phases"]
    for s in content["assets"][0]["sets"]:
        for k in ("execution", "warmup", "steady_state"):
            s.pop(k, None)
    bt = StoredBacktest.from_content(content)
    assert bt.id == content_id(content) and all(r.phases is None for r in bt.results)
    assert bt.asset("ABC").policy_set.phases is None  # type: ignore[union-attr]
    assert views.backtest_phases(bt, "ABC") == (None, "")


# -- exports and views read the typed phases, with the same output ------------------------------------------------


_PHASE_COLUMNS = ex._PHASE_COLUMNS


def _phases_blocks_before(results: Sequence[Mapping[str, Any]]) -> list[Any]:
    """``riskparams.export._backtest_phases`` as it was before the phases were typed (it read the stored mapping),
    written out here as the reference the typed rendering must equal."""
    bt_cell, u = ex._bt_cell, ex._u
    with_phases = [(r, r["phases"]) for r in results if isinstance(r.get("phases"), Mapping)]
    rows, notes = [], []
    for r, ph in with_phases:
        for key, label in (("warmup", "warm-up"), ("steady_state", "steady state")):
            blk = ph.get(key)
            if not isinstance(blk, Mapping):
                continue
            days = {k: str(blk[k])[:10] for k in ("start", "end") if blk.get(k)}
            cells = ([bt_cell({**blk, **days}.get(k), spec) for k, _, spec in _PHASE_COLUMNS] if blk.get("bars")
                     else ["none"] + ["-"] * (len(_PHASE_COLUMNS) - 1))
            rows.append([u(r["symbol"]), label, *cells])
        notes.append(f"{u(r['symbol'])}: execution lag {bt_cell(ph.get('lag_days'), 'd')} days; warm-up ends: "
                     f"{u(ph.get('warmup_end_reason') or '-')} Dead-band {bt_cell(ph.get('dead_band'), 'pct')}: "
                     f"{bt_cell(ph.get('changes'), 'd')} changes as replayed, "
                     f"{bt_cell(ph.get('changes_without_dead_band'), 'd')} without it (same path).")
    return [rows, notes]


def test_export_renders_the_typed_phases_byte_for_byte_as_the_stored_mapping(stored: dict[str, Any]) -> None:
    payload = stored["backtest"]["payload"]
    typed = ex.BacktestPayload.from_dict(payload)
    assert all(isinstance(r.phases, PhaseSplit) for r in typed.results if r.parameter_set == "policy")
    blocks = ex._backtest_phases(typed.results)
    rows, notes = _phases_blocks_before(payload["results"])
    assert rows and blocks[1] == ("table", ["Asset", "Phase", *[label for _, label, _ in _PHASE_COLUMNS]], rows)
    assert [b[1] for b in blocks[2:]] == notes and "execution lag 5 days" in notes[0]
    s = riskparams.open_store(stored["path"])
    try:
        md = ex.to_markdown(get_proposal(s, stored["perp"]["id"]), backtest=payload).decode("utf-8")
    finally:
        s.close()
    assert "ABC: execution lag 5 days; warm-up ends: the parameters in force never reached" in md
    assert "| ABC | warm-up | 2020-06-01 | 2021-03-10 |" in md and "| ABC | steady state | none |" in md


def test_export_of_a_payload_with_hostile_phases_leaves_them_out(stored: dict[str, Any]) -> None:
    payload = copy.deepcopy(stored["backtest"]["payload"])
    for r in payload["results"]:
        if "phases" in r and r["phases"] is not None:
            r["phases"] = {"warmup": "x", "lag_days": "=cmd()"}
    typed = ex.BacktestPayload.from_dict(payload)
    assert all(r.phases is None for r in typed.results) and ex._backtest_phases(typed.results) == []


def test_front_door_exposes_option_tier(stored: dict[str, Any]) -> None:
    assert riskparams.OptionTier is OptionTier and "OptionTier" in riskparams.__all__
    assert riskparams._LAZY["OptionTier"] == ("riskparams.domain", "OptionTier")
    assert "OptionTier" in (riskparams.__doc__ or "")

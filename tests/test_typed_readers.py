"""Typed results end to end (issue 15 item 2): option tiers are typed (:class:`OptionTier`), the coverage flags,
exports and the ``propose`` text read typed proposals and a typed backtest payload, and content stored by
earlier versions still loads (or fails in one sentence naming what is wrong)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest

from riskparams import export as ex
from riskparams.domain import (
    LendingAssetProposal,
    OptionTier,
    PerpAssetProposal,
    Proposal,
)
from riskparams.exceptions import DataError, ExportError, RiskParamsWarning
from riskparams.jsonio import canonical_json, content_id
from riskparams.store import Store
from riskparams.store.records import StoredProposal, get_proposal, save_proposal

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"

# the keys an option tier had as a MappingProxyType (riskparams.domain before this change), written out
OLD_OPTION_TIER_KEYS = ("notional_floor", "notional_cap", "mmf", "imf", "max_leverage", "maintenance_deduction",
                        "liquidation_penalty", "coverage", "horizon_hours", "under_covered")


@pytest.fixture(scope="module")
def with_options() -> Proposal:
    """A perp proposal of BTC-SYN (EWMA, the example current brackets) with options conservative, moderate (the recommended) and aggressive."""
    from conftest import syn_perp_store

    from riskparams.config import policy_from_dict
    from riskparams.params_io import load_current
    from riskparams.service import propose

    policy = policy_from_dict({"model": {"model": "ewma", "n_sims": 200},
                               "liquidity": {"adv_override": {"BTC-SYN": 2e9, "ETH-SYN": 1e9}}})
    s = syn_perp_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = propose(s, profile="perp", policy=policy, current=load_current(EXAMPLES / "current_perp.csv", "perp"),
                    symbols=["BTC-SYN"], options=["conservative", "moderate", "aggressive"], save=False).proposal
    s.close()
    return p


# -- option tiers ---------------------------------------------------------------------------------------------


def test_option_tiers_are_typed_and_serialise_as_the_old_mapping(with_options: Proposal) -> None:
    rec = next(o for o in with_options.options if o.recommended)
    asset = with_options.assets[0]
    assert isinstance(asset, PerpAssetProposal)
    tiers = rec.assets[0].tiers
    assert tiers is not None and len(tiers) == len(asset.tiers) >= 2
    for t, full in zip(tiers, asset.tiers, strict=True):
        assert isinstance(t, OptionTier)
        # the old reader: MappingProxyType({k: v for k, v in PerpTier.to_dict().items() if k in KEYS})
        old = {k: v for k, v in full.to_dict().items() if k in OLD_OPTION_TIER_KEYS}
        assert t.to_dict() == old and dict(t) == old and t == old  # typed, and still reads as that mapping
        assert (t.mmf, t.max_leverage, t.under_covered) == (full.mmf, full.max_leverage, full.under_covered)
        assert t["liquidation_penalty"] == full.liquidation_penalty and "nope" not in t
    # the JSON a store keeps reads back to the same typed proposal and the same id
    back = Proposal.from_content(json.loads(canonical_json(with_options.content())))
    assert back.id == with_options.id and back.options == with_options.options


def test_option_tiers_stored_before_horizon_and_under_covered_still_load(with_options: Proposal) -> None:
    content = copy.deepcopy(with_options.content())
    for o in content["options"]:
        for a in o["assets"]:
            for t in a["tiers"]:
                del t["horizon_hours"], t["under_covered"]
    p = Proposal.from_content(content)  # would raise if the content did not rebuild to its own hash
    assert content_id(p.content()) == content_id(content) != with_options.id
    t = p.options[0].assets[0].tiers[0]  # type: ignore[index]
    assert t.absent == {"horizon_hours", "under_covered"} and "horizon_hours" not in t and len(t) == 8
    assert t.horizon_hours is None and t.under_covered is False


def test_an_option_tier_as_stored_today_round_trips_exactly() -> None:
    # copied from the content of proposal 719f5c00bfe2 (the shared scratch store /tmp/imp.duckdb), written by
    # riskparams before option tiers were typed
    stored = {"coverage": 0.9994904469389293, "horizon_hours": 0.20479956356654877, "imf": 0.05,
              "liquidation_penalty": 0.006, "maintenance_deduction": 0.0, "max_leverage": 20.0, "mmf": 0.025,
              "notional_cap": 1000000.0, "notional_floor": 0.0, "under_covered": False}
    t = OptionTier.from_dict(stored)
    assert canonical_json(t.to_dict()) == canonical_json(stored)
    assert (t.notional_cap, t.max_leverage, t.imf, t.mmf) == (1e6, 20.0, 0.05, 0.025)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.update(mmf_rate=t.pop("mmf")),
     "BTC-SYN tier 1 of an option of the stored proposal has an unknown key 'mmf_rate'; it was written by another "
     "version of riskparams."),
    (lambda t: t.pop("imf"), "BTC-SYN tier 1 of an option of the stored proposal is missing 'imf'"),
    (lambda t: t.update(mmf="2%"), "option tier field 'mmf' must be a number, got '2%'."),
    (lambda t: t.update(under_covered="no"), "option tier field 'under_covered' must be true or false"),
])
def test_a_bad_option_tier_is_one_sentence(with_options: Proposal, edit: Any, message: str) -> None:
    content = copy.deepcopy(with_options.content())
    edit(content["options"][0]["assets"][0]["tiers"][0])
    with pytest.raises(ValueError, match=None) as info:
        Proposal.from_content(content)
    assert message in str(info.value) and "\n" not in str(info.value)


# -- coverage flags (views) -----------------------------------------------------------------------------------


def test_coverage_flags_read_the_typed_proposals(proposals: dict[str, Proposal]) -> None:
    from riskparams.views import coverage_flags

    s = Store.memory()
    stored = [save_proposal(s, proposals[p]) for p in ("perp", "lending")]
    flags = coverage_flags(s)
    # the old reader, on the raw content: min over the current brackets (perp) or the asset's current coverage
    expected = {}
    for sp in stored:
        for a in sp.content["assets"]:
            cur = a["current"]
            cov = min(t["coverage"] for t in cur["tiers"]) if sp.profile == "perp" else cur["coverage"]
            expected[(sp.profile, a["symbol"])] = (cov, cov < sp.content["policy"]["confidence"])
    got = {(r.profile, r.symbol): (r.current_coverage, r.below) for r in flags.itertuples()}
    assert got == expected and len(got) == 4 and flags.attrs["unreadable"] == []
    s.close()


def test_coverage_flags_leave_out_an_unreadable_proposal_naming_it(proposals: dict[str, Proposal],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from riskparams import views

    s = Store.memory()
    good = save_proposal(s, proposals["lending"])
    bad_content = copy.deepcopy(good.content)
    bad_content["assets"][0]["state"] = bad_content["assets"][0].pop("status")  # a field renamed
    bad = dataclasses.replace(good, id="ab" * 32, content=bad_content)
    monkeypatch.setattr(views, "list_proposals", lambda store, limit: [{"id": bad.id}, {"id": good.id}])
    monkeypatch.setattr(views, "get_proposal", lambda store, pid: bad if pid == bad.id else good)
    with pytest.warns(RiskParamsWarning, match="stored proposal abababababab cannot be read"):
        flags = views.coverage_flags(s)
    assert sorted(flags["symbol"]) == ["BTC-SYN", "ETH-SYN"] and set(flags["proposal_id"]) == {good.id[:12]}
    assert flags.attrs["unreadable"] == [
        "stored proposal abababababab cannot be read: the stored proposal content does not have this riskparams' "
        "shape ('status'); it was written by another version of riskparams."]
    with pytest.raises(DataError, match="^stored proposal abababababab cannot be read"):
        views.typed_proposal(bad)
    s.close()


def test_options_frame_reads_typed_option_tiers(with_options: Proposal) -> None:
    from riskparams.views import options_frame

    frame = options_frame(with_options)
    for o in with_options.options:
        t = o.assets[0].tiers[0]  # type: ignore[index]
        row = frame[frame["option"].str.startswith(o.name)].iloc[0]
        assert row["tier-1 max leverage"] == f"{t.max_leverage:g}x" and row["tier-1 MMF"] == t.mmf
        assert row["tier-1 coverage"] == t.coverage and row["tiers"] == len(o.assets[0].tiers or ())


# -- the backtest payload of exports ---------------------------------------------------------------------------


def test_backtest_payload_of_a_stored_report_is_its_export_payload_read_back() -> None:
    import riskparams
    from riskparams.ingest.demo import example_store
    from riskparams.store.backtest_records import get_report

    store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = riskparams.backtest_policy(store, profile="perp", symbols=["ABC"], spec=spec)
    rec = get_report(store, run.id)
    typed = ex.BacktestPayload.of(rec.backtest, id=rec.id, created_at=rec.created_at_iso)
    assert ex.BacktestPayload.from_dict(rec.export_payload()) == typed == ex.read_backtest(rec.export_payload())
    row, stored_row = typed.results[0], rec.backtest.results[0]
    assert (row.symbol, row.parameter_set, row.n, row.exceptions, row.liquidations, row.traffic_light) == (
        stored_row.symbol, stored_row.parameter_set, stored_row.n, stored_row.exceptions, stored_row.liquidations,
        stored_row.traffic_light)
    assert isinstance(row.n, int) and row.phases is not None and row.phases.warmup.name == "warmup"
    store.close()


HAND_PAYLOAD: dict[str, Any] = {
    "id": "bt-7", "start": "2022-01-01", "end": "2024-12-31", "results": [
        # values as a hand-written file may give them: text numbers, NaN, a boolean count, a number as the light
        {"symbol": "BTC-SYN", "parameter_set": "proposed", "n": "750", "exceptions": 9, "expected": 7.5,
         "confidence": 0.99, "kupiec_p": float("nan"), "traffic_light": 5, "liquidations": True},
        {"symbol": "BTC-SYN", "parameter_set": "current", "exceptions": 24, "bad_debt": 125000.0}]}


def test_markdown_backtest_table_renders_the_typed_rows(proposals: dict[str, Proposal]) -> None:
    s = Store.memory()
    sp = get_proposal(s, save_proposal(s, proposals["perp"]).id)
    md = ex.to_markdown(sp, backtest=HAND_PAYLOAD).decode()
    # columns: Asset | Parameter set | n | Exceptions | Expected | q | Kupiec p | Christoffersen p | CC p |
    # Traffic light | Avg margin | Peak-to-trough | Max 5d increase | Bad debt | Liquidations
    assert "| BTC-SYN | proposed | 750 | 9 | 7.5 | 99.00% | - | - | - | 5 | - | - | - | - | - |" in md
    # bad debt 125000.0 as riskparams.fmt.format_notional writes it: 125k
    assert "| BTC-SYN | current | - | 24 | - | - | - | - | - | - | - | - | - | 125k | - |" in md
    assert "Backtest `bt-7` over 2022-01-01 to 2024-12-31." in md
    bundle = json.loads(ex.to_json_bundle(sp, backtest=HAND_PAYLOAD))
    assert bundle["backtest"]["results"][0]["n"] == "750"  # the JSON bundle carries the payload as it is
    s.close()


def test_a_payload_row_without_a_symbol_is_refused_in_one_sentence() -> None:
    bad = copy.deepcopy(HAND_PAYLOAD)
    bad["results"][1]["symbol"] = None
    with pytest.raises(ExportError, match=r"^backtest result 2 is missing 'symbol'\.$"):
        ex.read_backtest(bad)
    with pytest.raises(ExportError, match=r"^the backtest payload is missing 'results'\.$"):
        ex.content_figures(Proposal.from_content(_content_of_nothing()), "backtest", backtest={"id": "x",
                                                                                                "start": "a", "end": "b"})


def _content_of_nothing() -> dict[str, Any]:
    return Proposal(profile="perp", as_of=None, policy={}, assets=(), skipped=(), provenance={}).content()


def test_backtest_chart_is_the_same_from_the_mapping_and_the_typed_payload() -> None:
    p = Proposal.from_content(_content_of_nothing())
    from_map = ex.content_figures(p, "backtest", backtest=HAND_PAYLOAD)
    from_typed = ex.content_figures(p, "backtest", backtest=ex.BacktestPayload.from_dict(HAND_PAYLOAD))
    assert len(from_map) == 1 and from_map[0].to_json() == from_typed[0].to_json()
    bars = {tr.name: list(tr.y) for tr in from_map[0].data}
    assert [9.0, 24.0] in bars.values() and [7.5, 0.0] in bars.values()  # exceptions; expected (missing: 0)


# -- the propose text (cli) ------------------------------------------------------------------------------------


def test_propose_text_renders_the_typed_perp_asset(with_options: Proposal) -> None:
    from riskparams.cli import _format_options, _format_perp

    a = with_options.assets[0]
    assert isinstance(a, PerpAssetProposal)
    nan_mpor = dataclasses.replace(a, tiers=(dataclasses.replace(a.tiers[0], horizon_hours=math.nan), *a.tiers[1:]))
    text = _format_perp(nan_mpor).splitlines()
    assert text[0].startswith("BTC-SYN  1d perp (unit)  model ewma") and f"{a.tiers[0].max_leverage:g}x" in text[3]
    # tier 1 of riskparams/examples/current_perp.csv: 20x, MMF 2.50 %, penalty 1.00 %
    assert "20x / 2.50% / 1.00%" in text[3]
    assert text[3].split()[:5] == ["1", "0", "-", "1M", "-"]  # tier, notional 0 - 1M, MPOR "-" (not "nan")
    opts = _format_options(with_options).splitlines()
    assert opts[0].startswith("options (tier 1 per asset") and opts[1].startswith("  conservative: ")
    t = next(o for o in with_options.options if o.name == "aggressive").assets[0].tiers[0]  # type: ignore[index]
    assert f"{t.max_leverage:g}x MMF {t.mmf:.2%} pen {t.liquidation_penalty:.2%}" in opts[-1]


def test_propose_text_renders_the_typed_lending_asset(proposals: dict[str, Proposal]) -> None:
    from riskparams.cli import _format_lending

    a = next(x for x in proposals["lending"].assets if x.symbol == "BTC-SYN")
    assert isinstance(a, LendingAssetProposal)
    lines = _format_lending(a).splitlines()
    # BTC-SYN in riskparams/examples/current_lending.csv: LTV 73 %, LT 78 %, bonus 5 %
    assert lines[2].split()[:2] == ["ltv", "73.00%"] and lines[3].split()[:2] == ["liquidation_threshold", "78.00%"]
    assert lines[4].split()[:4] == ["liquidation_bonus", "5.00%", f"{a.liquidation_bonus:.2%}",
                                    str(10_000 + round(a.liquidation_bonus * 10_000))]
    assert any(line.startswith(f"  coverage {a.coverage:.2%}; current ") for line in lines)


def test_stored_proposal_is_unchanged_by_typed_reading(proposals: dict[str, Proposal]) -> None:
    s = Store.memory()
    sp: StoredProposal = save_proposal(s, proposals["perp"])
    assert Proposal.from_content(get_proposal(s, sp.id).content).id == sp.id
    s.close()

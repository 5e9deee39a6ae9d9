"""One validation dialect (issue 15): every exception in the one tree of ``riskparams.exceptions``; every frozen
specification refuses a bad value with a :class:`SpecError` naming the field; ``Profile`` accepted as a string
or a member; one validated tier table (:class:`riskparams.tiers.TierTable`) with each invariant checked."""

from __future__ import annotations

import importlib
import inspect
import json
import math
import pickle
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest

import riskparams
from riskparams import exceptions
from riskparams.backtest import BacktestSpec, FixedParameters, default_population, fixed_from_proposal
from riskparams.config import (
    APCPolicy,
    GuardrailPolicy,
    LendingPolicy,
    LiquidityPolicy,
    ModelRiskPolicy,
    MporPolicy,
    PerpPolicy,
    RiskPolicy,
    RoundingPolicy,
    policy_from_dict,
)
from riskparams.domain import CurrentPerp, CurrentPerpTier, PerpTier, Profile, parse_choice
from riskparams.exceptions import PolicyError, RiskParamsError, SpecError, TierError
from riskparams.liquidation import (
    DiscreteLeverage,
    DiscreteNotional,
    LognormalLeverage,
    LognormalNotional,
    MarginSchedule,
    PopulationSpec,
    ScheduleVersion,
    Tier,
)
from riskparams.params_io import parse_current
from riskparams.proposals import maintenance_deductions
from riskparams.tiers import TierTable
from riskparams.volatility import FitEngine, FitSpec

# -------------------------------------------------------------------------------------------------
# the one exception tree
# -------------------------------------------------------------------------------------------------


def _riskparams_modules() -> list[str]:
    names = ["riskparams"]
    for info in pkgutil.walk_packages(riskparams.__path__, "riskparams."):
        names.append(info.name)
    return sorted(names)


def _defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception or warning class defined in a riskparams module (imported: all of them)."""
    found: dict[str, type[BaseException]] = {}
    for name in _riskparams_modules():
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__.startswith("riskparams")):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_class_is_defined_in_the_exceptions_module() -> None:
    """Every public exception or warning class; a private one (``_Name``) is a signal inside its module that never
    reaches a user (its reader turns it into a tree exception), so it is not part of the tree."""
    elsewhere = sorted(k for k, v in _defined_exceptions().items()
                       if v.__module__ != "riskparams.exceptions" and not v.__name__.startswith("_"))
    assert elsewhere == []


def test_the_tree_drawn_in_the_docstring_lists_every_class() -> None:
    doc = exceptions.__doc__ or ""
    tree = {n for n, v in vars(exceptions).items()
            if inspect.isclass(v) and issubclass(v, Exception | Warning) and v.__module__ == exceptions.__name__}
    assert len(tree) >= 22
    for name in tree:
        assert f" {name} " in doc, f"{name} is not drawn in riskparams.exceptions' tree"
        cls = getattr(exceptions, name)
        assert (cls.__doc__ or "").strip(), f"{name} has no docstring"
        assert name in riskparams.__all__


@pytest.mark.parametrize(("module", "name"), [
    ("riskparams.cli", "UsageError"), ("riskparams.auth", "AuthConfigError"), ("riskparams.export", "ExportError"),
    ("riskparams.governance", "GovernanceError"), ("riskparams.governance", "CommitteeError"),
    ("riskparams.signing", "SignatureError"), ("riskparams.store.records", "ProposalNotFoundError"),
    ("riskparams.store.backtest_records", "ReportNotFoundError"),
])
def test_moved_exceptions_keep_their_old_import_location(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(exceptions, name)
    assert issubclass(getattr(exceptions, name), RiskParamsError)


def test_spec_error_is_the_validation_dialect_and_keeps_old_catches_working() -> None:
    assert issubclass(SpecError, RiskParamsError) and issubclass(SpecError, ValueError)
    for sub in (PolicyError, TierError, exceptions.AuthConfigError):
        assert issubclass(sub, SpecError)
    with pytest.raises(PolicyError):  # `except PolicyError` callers of the policy still catch its errors
        RiskPolicy(confidence=2)
    with pytest.raises(ValueError):  # and `except ValueError` callers of every spec
        FitSpec(model="arima")


# -------------------------------------------------------------------------------------------------
# every specification refuses a bad value with SpecError naming the field
# -------------------------------------------------------------------------------------------------

_T1 = {"notional_floor": 0.0, "notional_cap": None, "max_leverage": 10.0, "maintenance_rate": 0.05}

BAD: list[tuple[str, Callable[[], Any], str]] = [
    ("FitSpec.model", lambda: FitSpec(model="arima"), "model"),
    ("FitSpec.confidence", lambda: FitSpec(confidence=1.5), "confidence"),
    ("FitSpec.n_sims", lambda: FitSpec(n_sims=3), "n_sims"),
    ("FitSpec.candidates", lambda: FitSpec(candidates=("ewma",)), "candidates"),
    ("FitSpec.engine", lambda: FitSpec(engine="gpu"), "engine"),
    ("FitSpec.allow_gaps", lambda: FitSpec(allow_gaps="yes"), "allow_gaps"),  # type: ignore[arg-type]
    ("BacktestSpec.profile", lambda: BacktestSpec(profile="options"), "profile"),  # type: ignore[arg-type]
    ("BacktestSpec.cadence_days", lambda: BacktestSpec(cadence_days=0), "cadence_days"),
    ("BacktestSpec.engine", lambda: BacktestSpec(engine="gpu"), "engine"),  # type: ignore[arg-type]
    ("BacktestSpec.side", lambda: BacktestSpec(side="up"), "side"),  # type: ignore[arg-type]
    ("BacktestSpec.start", lambda: BacktestSpec(start="yesterday-ish"), "start"),
    ("BacktestSpec.window", lambda: BacktestSpec(window=3), "window"),
    ("BacktestSpec.windows", lambda: BacktestSpec(windows=(("crash", "2022-06-01", "2022-01-01"),)), "crash"),
    ("PopulationSpec.count", lambda: PopulationSpec(count=0), "count"),
    ("PopulationSpec.entry", lambda: PopulationSpec(entry="random"), "entry"),  # type: ignore[arg-type]
    ("PopulationSpec.long_fraction", lambda: PopulationSpec(long_fraction="half"), "long_fraction"),
    ("DiscreteLeverage.values", lambda: DiscreteLeverage(values=(0.5,)), "leverage"),
    ("LognormalLeverage.median", lambda: LognormalLeverage(median=0.5), "median"),
    ("LognormalNotional.median", lambda: LognormalNotional(median=-1.0), "median"),
    ("DiscreteNotional.values", lambda: DiscreteNotional(values=(-5.0,)), "notional"),
    ("RiskPolicy.confidence", lambda: RiskPolicy(confidence=2), "confidence"),
    ("RiskPolicy.measure", lambda: RiskPolicy(measure="cvar"), "measure"),  # type: ignore[arg-type]
    ("PerpPolicy.maintenance_fraction", lambda: PerpPolicy(maintenance_fraction=2.0), "maintenance_fraction"),
    ("MporPolicy.participation_rate", lambda: MporPolicy(participation_rate=-1.0), "participation_rate"),
    ("ModelRiskPolicy.combine", lambda: ModelRiskPolicy(combine="mean"), "combine"),  # type: ignore[arg-type]
    ("LendingPolicy.ltv_buffer", lambda: LendingPolicy(ltv_buffer=0.9), "ltv_buffer"),
    ("LiquidityPolicy.half_spread", lambda: LiquidityPolicy(half_spread=-0.1), "half_spread"),
    ("APCPolicy.buffer", lambda: APCPolicy(buffer=5.0), "buffer"),
    ("GuardrailPolicy.max_relative_change", lambda: GuardrailPolicy(max_relative_change=-1.0),
     "max_relative_change"),
    ("RoundingPolicy.mmf_step", lambda: RoundingPolicy(mmf_step=-1.0), "mmf_step"),
    ("policy_from_dict", lambda: policy_from_dict({"model": {"dist": "cauchy"}}), "model.dist"),
    ("Tier.mmf", lambda: Tier(mmf=1.5), "mmf"),
    ("Tier.notional_floor", lambda: Tier(mmf=0.1, notional_floor="0"), "notional_floor"),  # type: ignore[arg-type]
    ("ScheduleVersion.tiers", lambda: ScheduleVersion(effective_from=None, tiers=(Tier(mmf=0.1, notional_floor=5.0),)),
     "notional 0"),
    ("MarginSchedule.name", lambda: MarginSchedule(name="", versions=()), "name"),
    ("TierTable", lambda: TierTable([]), "tier"),
    ("CurrentPerp.tiers", lambda: CurrentPerp(symbol="X", tiers=(CurrentPerpTier(**{**_T1, "maintenance_rate": 0.2}),)),
     "mmf"),
    ("FixedParameters.profile", lambda: FixedParameters(name="x", source="y", profile="options", assets={}),  # type: ignore[arg-type]
     "profile"),
    ("parse_current.profile", lambda: parse_current("", name="x.csv", profile="options", fmt="csv"), "profile"),
    ("default_population.profile", lambda: default_population("options", "1d"), "profile"),
]


@pytest.mark.parametrize(("make", "field"), [pytest.param(m, f, id=i) for i, m, f in BAD])
def test_every_spec_refuses_a_bad_value_with_spec_error(make: Callable[[], Any], field: str) -> None:
    with pytest.raises(SpecError) as exc:
        make()
    msg = str(exc.value)
    assert field in msg, msg
    assert "\n" not in msg and len(msg) < 300


def test_a_choice_error_names_the_field_and_the_value() -> None:
    with pytest.raises(SpecError) as exc:
        FitSpec(dist="ged")
    assert str(exc.value) == "dist must be one of 'normal', 't', 'skewt', got 'ged'"
    assert (exc.value.field, exc.value.value) == ("dist", "ged")
    with pytest.raises(PolicyError) as pexc:
        BacktestSpec(engine="gpu")  # type: ignore[arg-type]
    assert str(pexc.value) == "engine must be one of 'fast', 'arch', got 'gpu'"
    assert parse_choice(FitEngine, "engine", "arch") is FitEngine.ARCH
    with pytest.raises(SpecError, match=r"^engine must be one of 'fast', 'arch', got 3$"):
        parse_choice(FitEngine, "engine", 3)


# -------------------------------------------------------------------------------------------------
# Profile
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["perp", Profile.PERP, "lending", Profile.LENDING])
def test_profile_is_accepted_as_a_string_or_a_member(given: Any) -> None:
    spec = BacktestSpec(profile=given)
    assert spec.profile is Profile(str(given)) and spec.profile == str(given)
    assert json.dumps(spec.to_dict()) == json.dumps({**spec.to_dict(), "profile": str(given)})
    assert FixedParameters(name="x", source="y", profile=given, assets={}).profile is Profile(str(given))
    assert default_population(given, "1d") == default_population(str(given), "1d")


def test_profile_is_a_string_everywhere_it_is_stored_or_shown() -> None:
    assert Profile.PERP == "perp" and f"{Profile.LENDING}" == "lending" and str(Profile.PERP) == "perp"
    assert json.dumps({"profile": Profile.PERP}) == '{"profile": "perp"}'
    assert {"perp": 1}[Profile.PERP] == 1 and hash(Profile.LENDING) == hash("lending")
    assert list(Profile) == ["perp", "lending"]
    with pytest.raises(SpecError, match=r"^profile must be one of 'perp', 'lending', got 'Perp'$"):
        Profile.parse("Perp")


def test_parameter_files_take_the_profile_as_a_string_or_a_member() -> None:
    text = "symbol,notional_cap,max_leverage,maintenance_rate,unit\nBTC,,10,0.05,fraction\n"
    a = parse_current(text, name="c.csv", profile="perp", fmt="csv")
    b = parse_current(text, name="c.csv", profile=Profile.PERP, fmt="csv")
    assert a == b and a.profile is Profile.PERP


def test_a_proposal_is_the_same_for_the_string_and_the_member() -> None:
    from riskparams.ingest.demo import example_store
    store = example_store()
    by_str = riskparams.propose(store, profile="perp", symbols=["ABC"], save=False)
    by_member = riskparams.propose(store, profile=Profile.PERP, symbols=["ABC"], save=False)
    assert by_str.id == by_member.id
    assert by_str.proposal.content()["profile"] == "perp"
    with pytest.raises(PolicyError, match=r"^profile must be one of 'perp', 'lending', got 'spot'$"):
        riskparams.propose(store, profile="spot", symbols=["ABC"], save=False)


def test_fixed_sets_from_stored_content_take_the_profile_from_it() -> None:
    fixed = fixed_from_proposal({"profile": "lending", "assets": []}, "p", "abc")
    assert fixed.profile is Profile.LENDING
    with pytest.raises(PolicyError, match="profile"):
        fixed_from_proposal({"profile": "spot", "assets": []}, "p", "abc")


# -------------------------------------------------------------------------------------------------
# the one tier table
# -------------------------------------------------------------------------------------------------


def _cur(floor: float, cap: float | None, lev: float, mmr: float, pen: float | None = None) -> CurrentPerpTier:
    return CurrentPerpTier(notional_floor=floor, notional_cap=cap, max_leverage=lev, maintenance_rate=mmr,
                           liquidation_penalty=pen)


def _perp(floor: float, cap: float | None, lev: float, mmf: float, *, imf: float | None = None,
          pen: float = 0.005) -> PerpTier:
    nan = math.nan
    return PerpTier(notional_floor=floor, notional_cap=cap, imf=1.0 / lev if imf is None else imf, mmf=mmf,
                    max_leverage=lev, maintenance_deduction=0.0, liquidation_penalty=pen, coverage=nan,
                    close_out_cost=nan, cost_notional=nan, mmf_model=nan)


GOOD = (_cur(0, 1e6, 20, 0.02, 0.01), _cur(1e6, 5e6, 10, 0.04), _cur(5e6, None, 5, 0.08, 0.02))

VIOLATIONS: list[tuple[str, tuple[Any, ...], int | None, str, str]] = [
    # (id, tiers, tier index, field, words)
    ("empty", (), None, "tiers", "at least one tier"),
    ("first floor not 0", (_cur(5, None, 10, 0.05),), 0, "notional_floor", "must be 0"),
    ("negative floor", (_cur(-1, None, 10, 0.05),), 0, "notional_floor", ">= 0"),
    ("gap between tiers", (_cur(0, 1e6, 20, 0.02), _cur(2e6, None, 10, 0.04)), 1, "notional_floor",
     "must equal tier 1's notional_cap"),
    ("open-ended not last", (_cur(0, None, 20, 0.02), _cur(1e6, None, 10, 0.04)), 0, "notional_cap",
     "open-ended although tier 2 follows"),
    ("cap not above floor", (_cur(0, 1e6, 20, 0.02), _cur(1e6, 1e6, 10, 0.04), _cur(1e6, None, 5, 0.08)), 1,
     "notional_cap", "caps must be strictly increasing"),
    ("leverage above 1000", (_cur(0, None, 2000, 0.0001),), 0, "max_leverage", "must be in [1, 1000]"),
    ("leverage below 1", (_cur(0, None, 0.5, 0.1),), 0, "max_leverage", "must be in [1, 1000]"),
    ("imf not 1 / leverage", (_perp(0, None, 10, 0.05, imf=0.2),), 0, "imf", "must equal 1 / max_leverage"),
    ("mmf not positive", (_cur(0, None, 10, 0.0),), 0, "mmf", "> 0"),
    ("mmf at imf", (_cur(0, None, 10, 0.1),), 0, "mmf", "below the initial margin"),
    ("penalty at mmf", (_cur(0, None, 10, 0.05, 0.05),), 0, "liquidation_penalty", "below the maintenance rate"),
    ("negative penalty", (_cur(0, None, 10, 0.05, -0.01),), 0, "liquidation_penalty", ">= 0"),
    ("mmf falls with size", (_cur(0, 1e6, 10, 0.05), _cur(1e6, None, 5, 0.04)), 1, "mmf", "must not fall"),
    ("leverage rises with size", (_cur(0, 1e6, 10, 0.02), _cur(1e6, None, 20, 0.03)), 1, "max_leverage",
     "must not rise"),
]


@pytest.mark.parametrize(("tiers", "index", "field", "words"), [pytest.param(*v[1:], id=v[0]) for v in VIOLATIONS])
def test_each_tier_invariant_is_refused_naming_the_tier_and_the_field(tiers: tuple[Any, ...], index: int | None,
                                                                      field: str, words: str) -> None:
    with pytest.raises(TierError) as exc:
        TierTable(tiers, symbol="BTC")
    e = exc.value
    assert (e.tier, e.field) == (index, field)
    msg = str(e)
    assert words in msg and msg.startswith("BTC tier") and msg.endswith(".") and "\n" not in msg
    if index is not None:
        assert msg.startswith(f"BTC tier {index + 1}: {field} ")
    assert isinstance(e, SpecError) and isinstance(e, ValueError)


def test_a_valid_table_is_a_tuple_of_its_tiers() -> None:
    table = TierTable(GOOD, symbol="BTC")
    assert table == GOOD and tuple(table) == GOOD and len(table) == 3 and table[1] is GOOD[1]
    assert isinstance(table, tuple) and table[1:] == GOOD[1:]
    assert table.at(0) is GOOD[0] and table.at(2e6) is GOOD[1] and table.at(1e9) is GOOD[2]
    assert table.floors == (0.0, 1e6, 5e6) and table.caps == (1e6, 5e6, None)
    assert table.mmfs == (0.02, 0.04, 0.08) and table.max_leverages == (20.0, 10.0, 5.0)
    assert table.penalties == (0.01, 0.0, 0.02)
    assert table.deductions() == maintenance_deductions(table.floors, table.mmfs) == (0.0, 20_000.0, 220_000.0)
    again = pickle.loads(pickle.dumps(table))
    assert again == table and type(again) is TierTable
    assert json.dumps([t.notional_cap for t in table]) == "[1000000.0, 5000000.0, null]"


def test_the_table_reads_stored_rows_and_refuses_missing_fields() -> None:
    rows = [{"notional_floor": 0.0, "notional_cap": 1e6, "mmf": 0.02, "imf": 0.05, "max_leverage": 20.0},
            {"notional_floor": 1e6, "notional_cap": None, "mmf": 0.04, "max_leverage": 10.0,
             "liquidation_penalty": 0.01}]
    table = TierTable.from_rows(rows, symbol="ETH")
    assert table.mmfs == (0.02, 0.04) and table[1].imf == pytest.approx(0.1)
    with pytest.raises(TierError, match=r"^ETH tier 2: mmf is missing\.$"):
        TierTable.from_rows([rows[0], {"notional_floor": 1e6, "notional_cap": None, "max_leverage": 10.0}],
                            symbol="ETH")
    with pytest.raises(TierError, match="must not fall"):
        TierTable.from_rows([rows[0], {**rows[1], "mmf": 0.015, "liquidation_penalty": None}], symbol="ETH")


def test_current_parameters_and_proposals_hold_validated_tables() -> None:
    cur = CurrentPerp(symbol="BTC", tiers=GOOD)
    assert type(cur.tiers) is TierTable and cur.tiers == GOOD and cur.at(2e6) is GOOD[1]
    from riskparams.ingest.demo import example_store
    run = riskparams.propose(example_store(), profile="perp", symbols=["ABC"], save=False)
    tiers = run.proposal.assets[0].tiers  # type: ignore[union-attr]
    assert type(tiers) is TierTable and len(tiers) >= 1


def test_a_venue_export_refuses_a_payload_that_breaks_the_tier_invariants() -> None:
    from riskparams.export import ExportError, _venue_tiers, _VenueAsset
    row = {"notional_floor": 0.0, "notional_cap": None, "mmf": 0.05, "imf": 0.1, "max_leverage": 10.0,
           "liquidation_penalty": 0.01, "maintenance_deduction": 0.0}
    (tier,) = _venue_tiers(_VenueAsset(symbol="BTC", status="new", tier_rows=(row,)))
    assert (tier.mmf, tier.imf) == (0.05, 0.1)
    bad = _VenueAsset(symbol="BTC", status="new", tier_rows=({**row, "mmf": 0.2},))
    with pytest.raises(ExportError, match=r"^cannot export: BTC tier 1: mmf 0.2 must be below the initial margin"):
        _venue_tiers(bad)


def test_a_parameter_file_violation_points_at_its_row() -> None:
    from riskparams.exceptions import DataError
    text = ("symbol,notional_cap,max_leverage,maintenance_rate,unit\n"
            "BTC,1000000,10,0.02,fraction\nBTC,,20,0.03,fraction\n")
    with pytest.raises(DataError) as exc:
        parse_current(text, name="c.csv", profile="perp", fmt="csv")
    assert (exc.value.row, exc.value.column, exc.value.value) == (3, "max_leverage", "20")
    assert "leverage must not rise with size" in str(exc.value)


def test_the_examples_of_the_tier_table_and_the_choice_parser_run() -> None:
    import doctest

    import riskparams.domain
    import riskparams.tiers
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    finder = doctest.DocTestFinder()
    tests = [*finder.find(riskparams.tiers), *finder.find(riskparams.domain.parse_choice, "parse_choice",
                                                          globs=vars(riskparams.domain))]
    assert sum(len(t.examples) for t in tests) >= 5
    for t in tests:
        runner.run(t)
    assert runner.failures == 0

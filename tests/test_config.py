"""Risk policies: defaults, the documented example, TOML loading, one-line errors naming key and range."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from riskparams.config import (
    APCPolicy,
    Combine,
    LongRunSource,
    Measure,
    ModelRiskPolicy,
    MporPolicy,
    PerpPolicy,
    RiskPolicy,
    builtin_options,
    example_policy_path,
    load_policy,
    policy_from_dict,
    policy_with,
)
from riskparams.exceptions import PolicyError
from riskparams.volatility import FitSpec


def test_the_documented_example_is_the_default_policy() -> None:
    path = example_policy_path()
    assert path.is_file()
    policy = load_policy(path)
    assert policy == RiskPolicy()
    assert policy.measure is Measure.ES and policy.apc.long_run_source is LongRunSource.LOOKBACK
    # every section and every key of the dataclasses is spelled out in the example
    text = path.read_text()
    for name in ("perp", "lending", "liquidity", "apc", "guardrails", "rounding", "model", "mpor", "model_risk",
                 "options"):
        assert f"\n[{name}]" in text, name
    sections = (policy.mpor, policy.model_risk, policy.perp, policy.lending, policy.liquidity, policy.apc,
                policy.guardrails, policy.rounding)
    for section in sections:
        for f in dataclasses.fields(section):
            if f.name in ("adv_override", "lending_max_change_bps"):  # sub-tables
                assert f"[{section.SECTION}.{f.name}]" in text, f.name
            else:
                assert f"\n{f.name} =" in text, f.name
    for f in dataclasses.fields(FitSpec):  # [model]: every FitSpec key but the two set at the top level
        if f.name in ("horizon_hours", "confidence"):
            continue
        assert f"\n{f.name} =" in text or f"\n# {f.name} =" in text, f.name  # stress_window: default None
    assert '\nrecommended = "moderate"' in text and dict(policy.options) == {"recommended": "moderate"}
    # the new sections' documented defaults
    assert policy.mpor == MporPolicy(oracle_latency_minutes=1, liquidation_delay_minutes=5, participation_rate=0.1,
                                     min_hours=0, max_hours=72, fixed_hours=0)
    assert policy.model_risk.combine is Combine.MEDIAN and policy.recommended_option == "moderate"
    assert policy.perp.leverage_grid == (1, 2, 3, 4, 5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 125)
    assert policy.guardrails.loosen_in_stress is False
    assert (policy.lending.reference_liquidation_notional, policy.lending.liquidator_hold_hours,
            policy.lending.bonus_confidence, policy.lending.debt_asset) == (5e6, 1.0, 0.99, "USDC")
    assert (policy.model.integrated_max_hours, policy.model.engine.value) == (168.0, "fast")


def test_policy_is_frozen_hashable_and_round_trips() -> None:
    p = RiskPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.confidence = 0.95  # type: ignore[misc]
    assert hash(p) == hash(RiskPolicy())
    assert policy_from_dict(p.to_dict()) == p
    assert p.key() == RiskPolicy().key() and p.key().startswith("policy-v1-")
    assert RiskPolicy(confidence=0.995).key() != p.key()


def test_model_horizon_and_confidence_come_from_the_top_level() -> None:
    p = policy_from_dict({"confidence": 0.995, "horizon_hours": 8, "model": {"model": "garch", "n_sims": 200}})
    assert p.model.horizon_hours == 8.0 and p.model.confidence == 0.995 and p.model.model.value == "garch"
    q = RiskPolicy(horizon_hours=72, model=FitSpec(horizon_hours=1.0))
    assert q.model.horizon_hours == 72.0


def test_sections_sort_and_normalise() -> None:
    p = policy_from_dict({"perp": {"leverage_grid": [50, 1, 10]}, "liquidity": {"adv_override": {"btc": 1e9}}})
    assert p.perp.leverage_grid == (1.0, 10.0, 50.0)
    assert dict(p.liquidity.adv_override) == {"BTC": 1e9}
    assert p.guardrails.lending_max_change_bps["ltv"] == 500.0


BAD = [
    ("[apc]\nbuffer = 0.1\n", "apc.buffer must be in [0.25, 1], got 0.1"),
    ("[apc]\nbufer = 0.3\n", "unknown key apc.bufer"),
    ("colour = 'red'\n", "unknown key colour"),
    ("confidence = 1.5\n", "confidence must be in [0.9, 0.9999], got 1.5"),
    ("horizon_hours = 0\n", "horizon_hours must be in (0, 720], got 0"),
    ("horizon_hours = true\n", "horizon_hours must be a number in (0, 720], got True"),
    ("liquidator_incentive = '1%'\n", "liquidator_incentive must be a number in [0, 0.2], got '1%'"),
    ('measure = "cvar"\n', "measure must be one of 'var', 'es', got 'cvar'"),
    ("[perp]\nleverage_grid = [1, 2, 2]\n", "perp.leverage_grid must not repeat a leverage"),
    ("[perp]\nleverage_grid = [0.5, 2]\n", "perp.leverage_grid[0] must be in [1, 1000], got 0.5"),
    ("[perp]\ntier_breakpoints = [1, 2]\n", "perp.tier_breakpoints must start at 0"),
    ("[perp]\ntier_breakpoints = [0, 5, 3]\n", "perp.tier_breakpoints must be strictly increasing"),
    ("[perp]\nlast_tier_cost_notional = 1e6\n", "perp.last_tier_cost_notional must be in (1e+08, 1e+15]"),
    ("[perp]\nmaintenance_fraction = 1.0\n", "perp.maintenance_fraction must be in [0.05, 0.95], got 1.0"),
    ("[lending]\nltv_buffer = -0.01\n", "lending.ltv_buffer must be in [0, 0.5], got -0.01"),
    ("[liquidity]\nadv_window_days = 2.5\n", "liquidity.adv_window_days must be a whole number in [1, 3650]"),
    ("[liquidity.adv_override]\nBTC = -1\n", "liquidity.adv_override.BTC must be in (0, 1e+15], got -1"),
    ("[apc]\nbuffer_release_ratio = 0\n", "apc.buffer_release_ratio must be in (0, 1], got 0"),
    ("[apc]\nstressed_weight = 0.2\n", "apc.stressed_weight must be in [0.25, 1], got 0.2"),
    ("[apc]\nbuffer_enabled = 'yes'\n", "apc.buffer_enabled must be true or false, got 'yes'"),
    ('[apc]\nlong_run_source = "ten years"\n', "apc.long_run_source must be one of 'lookback', 'model'"),
    ("[guardrails]\ndead_band = 0.6\n", "guardrails.dead_band must be in [0, 0.5), got 0.6"),
    ("[guardrails]\nmax_relative_change = 0\n", "guardrails.max_relative_change must be in (0, 10], got 0"),
    ("[guardrails.lending_max_change_bps]\nltv = 0\n", "guardrails.lending_max_change_bps.ltv must be in (0, 10000]"),
    ("[guardrails.lending_max_change_bps]\nlb = 5\n", "unknown key guardrails.lending_max_change_bps.lb"),
    ("[rounding]\nmmf_step = 0.1\n", "rounding.mmf_step must be in (0, 0.05], got 0.1"),
    ('[model]\ndist = "cauchy"\n', "model.dist must be one of 'normal', 't', 'skewt', got 'cauchy'"),
    ("[model]\nn_sims = 10\n", "model.n_sims must be an integer in [100, 1000000], got 10"),
    ("[model]\nengine = 'gpu'\n", "model.engine must be one of 'fast', 'arch', got 'gpu'"),
    ("[model]\nintegrated_max_hours = -1\n", "model.integrated_max_hours must be a number in [0, 8760], got -1"),
    ("[mpor]\noracle_latency_minutes = -1\n", "mpor.oracle_latency_minutes must be in [0, 1440], got -1"),
    ("[mpor]\nliquidation_delay_minutes = 2000\n", "mpor.liquidation_delay_minutes must be in [0, 1440], got 2000"),
    ("[mpor]\nparticipation_rate = 0\n", "mpor.participation_rate must be in (0, 1], got 0"),
    ("[mpor]\nparticipation_rate = '10%'\n", "mpor.participation_rate must be a number in (0, 1], got '10%'"),
    ("[mpor]\nmax_hours = 1000\n", "mpor.max_hours must be in (0, 720], got 1000"),
    ("[mpor]\nmin_hours = 100\n", "mpor.min_hours must be in [0, 72], got 100"),
    ("[mpor]\nmax_hours = 24\nfixed_hours = 48\n", "mpor.fixed_hours must be in [0, 24], got 48"),
    ("[mpor]\noracle_latency_minutes = 0\nliquidation_delay_minutes = 0\n",
     "mpor: oracle_latency_minutes + liquidation_delay_minutes must be > 0"),
    ("[mpor]\nlatency = 1\n", "unknown key mpor.latency"),
    ("[model_risk]\ncombine = 'mean'\n", "model_risk.combine must be one of 'fitted', 'fhs', 'empirical', 'median'"),
    ("[model_risk]\nmethod = 'max'\n", "unknown key model_risk.method"),
    ("[options]\nrecommended = 'Bold Choice'\n", "options.recommended must be a lower-case name"),
    ("options = 3\n", "options must be a table, got 3"),
    ("[options]\ncautious = 3\n", "options.cautious must be a table of policy keys, got 3"),
    ('[options.cautious]\n"mpor.max_hourz" = 24\n', "options.cautious: unknown key mpor.max_hourz"),
    ("[options.cautious.mpor]\nmax_hours = 0\n", "options.cautious: mpor.max_hours must be in (0, 720], got 0"),
    ("[options.cautious.model_risk]\ncombine = 'mean'\n", "options.cautious: model_risk.combine must be one of"),
    ("[options.moderate]\nconfidence = 0.995\n", "options.moderate is the recommended option"),
    ('[options.cautious]\n"options.x" = 1\n', "options.cautious.options.x: an option cannot define options"),
    ("[options.Bad]\nconfidence = 0.995\n", "options.Bad: an option name is at most 32 lower-case letters"),
    ("[lending]\nbonus_confidence = 1\n", "lending.bonus_confidence must be in (0.5, 0.9999], got 1"),
    ("[guardrails]\nloosen_in_stress = 'no'\n", "guardrails.loosen_in_stress must be true or false, got 'no'"),
    ("[perp]\nreference_notional = 0\n", "perp.reference_notional must be in (0, 1e+15], got 0"),
    ("[model]\nhorizon_hours = 12\n", "model.horizon_hours is not allowed: set horizon_hours at the top level"),
    ("[model]\nlambda = 0.9\n", "unknown key model.lambda"),
    ("perp = 3\n", "perp must be a table, got 3"),
    ("confidence = \n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(" ")[0] for _, m in BAD])
def test_a_bad_policy_file_is_one_line_naming_key_and_range(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as exc:
        load_policy(path)
    msg = str(exc.value)
    assert msg.startswith("policy.toml: ") and message in msg, msg
    assert "\n" not in msg


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.toml")


def test_direct_construction_validates_too() -> None:
    with pytest.raises(PolicyError, match=r"apc\.buffer must be in \[0.25, 1\], got 0.1"):
        APCPolicy(buffer=0.1)
    with pytest.raises(PolicyError, match=r"perp\.maintenance_fraction"):
        PerpPolicy(maintenance_fraction=0)
    with pytest.raises(ValueError, match="confidence"):  # PolicyError is a ValueError
        RiskPolicy(confidence=0.5)


def test_direct_construction_of_the_new_sections_validates() -> None:
    with pytest.raises(PolicyError, match=r"^mpor\.participation_rate must be in \(0, 1\], got 0$"):
        MporPolicy(participation_rate=0)
    with pytest.raises(PolicyError, match=r"^mpor\.min_hours must be in \[0, 12\], got 24$"):
        MporPolicy(max_hours=12, min_hours=24)
    with pytest.raises(PolicyError, match=r"^model_risk\.combine must be one of "):
        ModelRiskPolicy(combine="average")  # type: ignore[arg-type]
    assert MporPolicy(oracle_latency_minutes=0, liquidation_delay_minutes=0, min_hours=1).min_hours == 1.0
    assert MporPolicy().fixed_part_hours == pytest.approx(6 / 60)
    assert ModelRiskPolicy(combine="max").combine is Combine.MAX  # type: ignore[arg-type]


@pytest.mark.parametrize("confidence", [0.99, 0.995, 0.999])
def test_builtin_options_are_ordered(confidence: float) -> None:
    """conservative only tightens (confidence >= base, the max of the model-risk band, slower close-out),
    aggressive only loosens (VaR at the same confidence, a shorter delay); each is a valid change of the base."""
    base = RiskPolicy(confidence=confidence)
    opts = builtin_options(base)
    assert set(opts) == {"conservative", "moderate", "aggressive"} and opts["moderate"] == {}
    cons = policy_with(base, opts["conservative"])
    aggr = policy_with(base, opts["aggressive"])
    assert cons.confidence >= base.confidence and cons.confidence >= 0.995
    assert cons.model_risk.combine is Combine.MAX and cons.measure is base.measure
    assert cons.mpor.liquidation_delay_minutes >= base.mpor.liquidation_delay_minutes
    assert cons.mpor.participation_rate <= base.mpor.participation_rate
    assert aggr.measure is Measure.VAR and aggr.confidence == base.confidence
    assert aggr.mpor.liquidation_delay_minutes <= base.mpor.liquidation_delay_minutes
    assert aggr.model_risk == base.model_risk and aggr.mpor.participation_rate == base.mpor.participation_rate
    # the recommended option is the policy itself, with no overrides
    assert base.option_overrides()["moderate"] == {}
    assert policy_with(base, {}) == base


def test_policy_file_options_extend_and_replace_the_builtins(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[options]\nrecommended = "moderate"\n[options.cautious]\nconfidence = 0.995\n'
                    '"mpor.max_hours" = 24.0\n[options.aggressive]\n"model_risk.combine" = "min"\n')
    policy = load_policy(path)
    overrides = policy.option_overrides()
    assert overrides["cautious"] == {"confidence": 0.995, "mpor.max_hours": 24.0}
    assert overrides["aggressive"] == {"model_risk.combine": "min"}  # the file's table replaces the built-in
    assert overrides["conservative"] == builtin_options(policy)["conservative"]
    assert policy_with(policy, overrides["cautious"]).mpor.max_hours == 24.0
    assert policy_from_dict(policy.to_dict()) == policy and policy.key() != RiskPolicy().key()


def test_policy_with_changes_dotted_keys_and_rejects_unknown_ones() -> None:
    base = RiskPolicy()
    changed = policy_with(base, {"mpor.fixed_hours": 12.0, "model_risk.combine": "max", "apc.buffer_enabled": True,
                                 "model.dist": "normal", "confidence": 0.995})
    assert changed.mpor.fixed_hours == 12.0 and changed.model_risk.combine is Combine.MAX
    assert changed.apc.buffer_enabled and changed.model.dist.value == "normal" and changed.confidence == 0.995
    assert changed.model.confidence == 0.995  # the model follows the top-level confidence
    assert base == RiskPolicy()  # the base is not modified
    for dotted, expected in [
        ("mpor.max_hourz", "unknown key mpor.max_hourz (allowed in mpor: oracle_latency_minutes"),
        ("colour", "unknown key colour (allowed: confidence, horizon_hours, measure, liquidator_incentive)"),
        ("apc.buffer.x", "unknown key apc.buffer.x"),
        ("nosuch.section", "unknown key nosuch.section"),
        ("model_risk.method", "unknown key model_risk.method (allowed in model_risk: combine)"),
    ]:
        with pytest.raises(PolicyError) as exc:
            policy_with(base, {dotted: 1})
        assert str(exc.value).startswith(expected) and "\n" not in str(exc.value), str(exc.value)
    with pytest.raises(PolicyError, match=r"^mpor\.participation_rate must be in \(0, 1\], got 2$"):
        policy_with(base, {"mpor.participation_rate": 2})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"confidence": 1.5}, "confidence must be in [0.9, 0.9999], got 1.5"),
        ({"horizon_hours": 0}, "horizon_hours must be in (0, 720], got 0"),
    ],
)
def test_a_bad_top_level_value_names_the_top_level_key(tmp_path: Path, changes: dict[str, object],
                                                       message: str) -> None:
    """The policy's own key and range, not the [model] copy's: through policy_with, through an option table,
    and in a file that also has a [model] table (as the documented example does)."""
    with pytest.raises(PolicyError) as exc:
        policy_with(RiskPolicy(), changes)
    assert str(exc.value).startswith(message), str(exc.value)
    ((key, value),) = changes.items()
    path = tmp_path / "policy.toml"
    path.write_text(f'{key} = {value}\n[model]\nmodel = "garch"\n')
    with pytest.raises(PolicyError) as exc:
        load_policy(path)
    assert str(exc.value) == f"policy.toml: {message}", str(exc.value)
    path.write_text(f"[options.cautious]\n{key} = {value}\n")
    with pytest.raises(PolicyError) as exc:
        load_policy(path)
    assert str(exc.value).startswith(f"policy.toml: options.cautious: {message}"), str(exc.value)

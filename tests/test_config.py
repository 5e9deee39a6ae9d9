"""Risk policies: defaults, the documented example, TOML loading, one-line errors naming key and range."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from riskparams.config import (
    APCPolicy,
    LongRunSource,
    Measure,
    PerpPolicy,
    RiskPolicy,
    example_policy_path,
    load_policy,
    policy_from_dict,
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
    for name in ("perp", "lending", "liquidity", "apc", "guardrails", "rounding", "model"):
        assert f"[{name}]" in text
    for section in (policy.perp, policy.lending, policy.liquidity, policy.apc, policy.guardrails, policy.rounding):
        for f in dataclasses.fields(section):
            if f.name in ("adv_override", "lending_max_change_bps"):  # sub-tables
                assert f"[{section.SECTION}.{f.name}]" in text, f.name
            else:
                assert f"\n{f.name} =" in text, f.name


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
    ('measure = "cvar"\n', 'measure must be one of "var", "es", got \'cvar\''),
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
    ('[apc]\nlong_run_source = "ten years"\n', 'apc.long_run_source must be one of "lookback", "model"'),
    ("[guardrails]\ndead_band = 0.6\n", "guardrails.dead_band must be in [0, 0.5), got 0.6"),
    ("[guardrails]\nmax_relative_change = 0\n", "guardrails.max_relative_change must be in (0, 10], got 0"),
    ("[guardrails.lending_max_change_bps]\nltv = 0\n", "guardrails.lending_max_change_bps.ltv must be in (0, 10000]"),
    ("[guardrails.lending_max_change_bps]\nlb = 5\n", "unknown key guardrails.lending_max_change_bps.lb"),
    ("[rounding]\nmmf_step = 0.1\n", "rounding.mmf_step must be in (0, 0.05], got 0.1"),
    ('[model]\ndist = "cauchy"\n', "model.dist must be one of 'normal', 't', 'skewt', got 'cauchy'"),
    ("[model]\nn_sims = 10\n", "model.n_sims must be an integer >= 100, got 10"),
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

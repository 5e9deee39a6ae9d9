"""Make the golden proposal numbers: ``python tests/golden/make_proposal_golden.py``.

Writes ``proposal_perp.json`` and ``proposal_lending.json`` beside this script from a fixed synthetic
input, and ``tests/test_proposals.py::test_golden_*`` recomputes them with the current code and compares.
Rerun this script only when a change of the numbers is intended, and say why in the commit.

The input is deterministic and does not depend on an optimiser: 1,500 daily Student-t(4) returns (unit
variance) from ``numpy.random.default_rng(20240607)`` scaled by 0.02 per day, 0.05 in a 60-day stress
episode (days 900-959) and 0.03 over the last 30 days, fitted with the EWMA model and normal innovations
(no estimated parameters) over a 48-hour horizon (2 daily bars: the term structure's fitted law is the
analytic normal at 1 and 2 bars), so every number follows from closed forms and numpy. Policy: ES 99 %,
every perpetual tier's margin period of risk fixed at 48h (``mpor.fixed_hours``), the fitted law alone
(``model_risk.combine = "fitted"``), all three anti-procyclicality tools on; lending over 48h with the
liquidator's 1-hour inventory risk (square-root-of-time from the daily law); ADV 250m; current parameters
as in :func:`golden_inputs`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
GOLDEN_PERP = HERE / "proposal_perp.json"
GOLDEN_LENDING = HERE / "proposal_lending.json"
ADV = 250_000_000.0  # quote currency per day
SEED = 20240607


def golden_returns() -> pd.Series:
    """The fixed synthetic daily log returns (fractions), shape (1500,)."""
    rng = np.random.default_rng(SEED)
    n = 1500
    sd = np.full(n, 0.02)
    sd[900:960] = 0.05  # a stress episode
    sd[-30:] = 0.03  # somewhat elevated lately
    z = rng.standard_t(4, n) / math.sqrt(2.0)  # unit variance
    idx = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="ts")
    return pd.Series(sd * z, index=idx, name="r")


def golden_inputs() -> dict[str, Any]:
    """Estimate, policy and current parameters of the golden case."""
    from riskparams.config import RiskPolicy, policy_from_dict
    from riskparams.domain import CurrentLending, CurrentPerp, CurrentPerpTier
    from riskparams.volatility import fit_returns

    policy: RiskPolicy = policy_from_dict({
        "confidence": 0.99, "horizon_hours": 48, "measure": "es", "liquidator_incentive": 0.005,
        "model": {"model": "ewma", "dist": "normal", "n_sims": 1000},
        "mpor": {"fixed_hours": 48}, "model_risk": {"combine": "fitted"},
        "apc": {"buffer_enabled": True, "buffer": 0.25, "long_run_floor_enabled": True,
                "stressed_weight_enabled": True, "stressed_weight": 0.25},
    })
    est = fit_returns(golden_returns(), "1d", policy.model)
    current_perp = CurrentPerp(symbol="GOLD", tiers=(
        CurrentPerpTier(notional_floor=0.0, notional_cap=1e6, max_leverage=20, maintenance_rate=0.025,
                        liquidation_penalty=0.01),
        CurrentPerpTier(notional_floor=1e6, notional_cap=1e7, max_leverage=10, maintenance_rate=0.05,
                        liquidation_penalty=0.015),
        CurrentPerpTier(notional_floor=1e7, notional_cap=None, max_leverage=5, maintenance_rate=0.1,
                        liquidation_penalty=0.02),
    ))
    current_lending = CurrentLending(symbol="GOLD", ltv=0.7, liquidation_threshold=0.75, liquidation_bonus=0.05)
    lookback = float(np.std(golden_returns().to_numpy(), ddof=1))
    return {"estimate": est, "policy": policy, "current_perp": current_perp, "current_lending": current_lending,
            "lookback_vol": lookback}


def build() -> dict[str, dict[str, Any]]:
    """The golden outputs: ``{"perp": ..., "lending": ...}``, each with and without current parameters."""
    from riskparams.proposals import propose_lending, propose_tiers

    g = golden_inputs()
    est, policy, lb = g["estimate"], g["policy"], g["lookback_vol"]
    perp = {
        "no_current": propose_tiers(est, policy, adv=ADV, symbol="GOLD", lookback_vol=lb).to_dict(),
        "with_current": propose_tiers(est, policy, adv=ADV, symbol="GOLD", lookback_vol=lb,
                                      current=g["current_perp"]).to_dict(),
    }
    lending = {
        "no_current": propose_lending(est, policy, adv=ADV, symbol="GOLD", lookback_vol=lb).to_dict(),
        "with_current": propose_lending(est, policy, adv=ADV, symbol="GOLD", lookback_vol=lb,
                                        current=g["current_lending"]).to_dict(),
    }
    head = {"script": "tests/golden/make_proposal_golden.py", "adv": ADV, "seed": SEED,
            "estimate": {"model": est.model.value, "next_vol": est.next_vol, "horizon_vol": est.horizon_vol,
                         "stressed_vol": est.stressed_vol, "var": est.var, "es": est.es},
            "lookback_vol": lb, "policy": policy.to_dict()}
    return {"perp": {**head, **perp}, "lending": {**head, **lending}}


def main() -> int:
    out = build()
    GOLDEN_PERP.write_text(json.dumps(out["perp"], indent=1, sort_keys=True, allow_nan=False) + "\n")
    GOLDEN_LENDING.write_text(json.dumps(out["lending"], indent=1, sort_keys=True, allow_nan=False) + "\n")
    print(f"wrote {GOLDEN_PERP.name} and {GOLDEN_LENDING.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

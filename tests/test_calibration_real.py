"""Venue-grade calibration on the real Binance data in ../shared/data/prices (skipped when absent).

The default policy on the hourly perp series must give parameters a venue would recognise: BTC tier 1 between
20x and 125x (Binance 150x / 0.40 %, Hyperliquid 40x / 1.25 %, dYdX 50x / 1.2 %: riskparams/examples/peers.csv),
leverage ordered as volatility and liquidity suggest, no penalty below the liquidator incentive, the coverage the
tiers claim at least the policy's, and every output (series choice, margin period of risk, model-risk band,
options, peers) in the proposal.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from riskparams.config import RiskPolicy
from riskparams.ingest import ingest_file
from riskparams.params_io import load_peers
from riskparams.service import propose, sensitivity
from riskparams.store import Store

pytestmark = pytest.mark.integration

HOURLY = ("BTC", "ETH", "SOL", "DOGE", "LINK", "AVAX")
EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
PRICES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prices"


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not PRICES_DIR.is_dir():
        pytest.skip(f"real price data not found at {PRICES_DIR}")
    store = Store(tmp_path_factory.mktemp("real") / "real.duckdb")
    for sym in HOURLY:
        ingest_file(store, PRICES_DIR / f"{sym}_1h_binance_usdm_perp.csv", symbol=sym, source="binance", kind="perp")
        ingest_file(store, PRICES_DIR / f"{sym}_1d_binance_spot.csv", symbol=sym, source="binance", kind="spot")
    yield store
    store.close()


@pytest.fixture(scope="module")
def hourly(real_store: Store) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = propose(real_store, profile="perp", symbols=list(HOURLY), save=False,
                      options=["conservative", "moderate", "aggressive"], peers=load_peers(EXAMPLES / "peers.csv"))
    return run.to_dict()


def recent_vol(store: Store, sym: str) -> float:
    info = store.resolve_series(sym, freq="1h", kind="perp")
    close = store.load_prices(info.series_id)["close"].to_numpy()[-24 * 180:]
    return float(np.std(np.diff(np.log(close))))


def test_default_policy_on_hourly_perps_is_venue_grade(real_store: Store, hourly: dict[str, Any]) -> None:
    pol = RiskPolicy()
    assets = {a["symbol"]: a for a in hourly["assets"]}
    assert set(assets) == set(HOURLY) and not hourly["skipped"]
    lev = {s: a["tiers"][0]["max_leverage"] for s, a in assets.items()}
    # BTC: between the venues' range and within a factor 2 of Hyperliquid's 40x / 1.25 % and dYdX's 50x / 1.2 %
    assert 20 <= lev["BTC"] <= 125
    assert 1.25e-2 / 2 <= assets["BTC"]["tiers"][0]["mmf"] <= 1.25e-2 * 2
    # every asset is margined at a leverage venues offer (5x to 125x), none at 1-2x as before
    assert all(5 <= x <= 125 for x in lev.values()), lev
    # ordered as volatility and liquidity suggest: the two most liquid, least volatile markets lead, the
    # lowest leverage is one of the three thinnest markets, and leverage falls with recent volatility
    adv = {s: a["context"]["adv"] for s, a in assets.items()}
    top2 = sorted(lev, key=lambda s: -lev[s])[:2]
    assert set(top2) == {"BTC", "ETH"}, lev
    thinnest = sorted(adv, key=lambda s: adv[s])[:3]
    assert min(lev, key=lambda s: lev[s]) in thinnest, (lev, adv)
    vols = {s: recent_vol(real_store, s) for s in HOURLY}
    tau = stats.kendalltau([lev[s] for s in HOURLY], [1 / vols[s] for s in HOURLY]).statistic
    assert tau > 0.3, (lev, vols)
    for s, a in assets.items():
        ctx = a["context"]
        assert (ctx["freq"], ctx["kind"]) == ("1h", "perp") and "perp prices preferred" in ctx["selection"]
        assert f"{s} 1h perp (binance)" in a["rationale"]
        for k, t in enumerate(a["tiers"]):
            assert t["liquidation_penalty"] >= pol.liquidator_incentive - 1e-12, (s, k)
            assert t["coverage"] >= pol.confidence and not t["under_covered"], (s, k)
            assert 0 < t["horizon_hours"] <= pol.mpor.max_hours
        # tier 1 closes out in minutes: well below one hourly bar, scaled by the square root of time
        assert a["tiers"][0]["horizon_hours"] < 1 and "square-root" in a["horizon"]["tiers"][0]["basis"]
        mr = a["model_risk"]
        assert mr["fitted"] > 0 and mr["fhs"] > 0 and mr["empirical"] > 0 and 2 < mr["nu"] < 10
        assert mr["bound"] in ("fitted", "fhs", "empirical") and mr["combine"] == "median"
        # peers: the three venues' first brackets are in the table
        peers = a["peers"]
        assert set(peers["venues"]) == {"binance", "hyperliquid", "dydx_v4"}
        assert all(peers["rows"][0]["peers"][v] is not None for v in peers["venues"])


def test_options_are_ordered_on_real_data(hourly: dict[str, Any]) -> None:
    opts = {o["name"]: o for o in hourly["options"]}
    assert list(opts) == ["conservative", "moderate", "aggressive"] and opts["moderate"]["recommended"]
    for sym in HOURLY:
        t1 = [next(x for x in opts[n]["assets"] if x["symbol"] == sym)["tiers"][0]["mmf"] for n in opts]
        assert t1[0] >= t1[1] >= t1[2], (sym, t1)
        moderate = next(x for x in opts["moderate"]["assets"] if x["symbol"] == sym)
        asset = next(a for a in hourly["assets"] if a["symbol"] == sym)
        assert moderate["tiers"][0]["mmf"] == asset["tiers"][0]["mmf"]  # the recommended option is the proposal


def test_default_series_choice_and_spot_perp_separation(real_store: Store) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        perp = propose(real_store, profile="perp", symbols=["BTC"], save=False).to_dict()
        lending = propose(real_store, profile="lending", symbols=["BTC"], save=False).to_dict()
        daily = propose(real_store, profile="perp", symbols=["BTC"], freq="1d", save=False).to_dict()
        same_day = [propose(real_store, profile="perp", symbols=["BTC"], freq=f, as_of="2024-04-17",
                            save=False).to_dict()["assets"][0]["tiers"][0]["mmf"] for f in ("1h", "1d")]
    assert (perp["assets"][0]["context"]["freq"], perp["assets"][0]["context"]["kind"]) == ("1h", "perp")
    lctx = lending["assets"][0]["context"]
    assert (lctx["kind"], lctx["freq"]) == ("spot", "1d") and "spot prices preferred" in lctx["selection"]
    assert "binance spot" in lending["assets"][0]["bonus"]["liquidity_source"]
    dctx = daily["assets"][0]["context"]
    assert (dctx["freq"], dctx["kind"]) == ("1d", "spot") and "--freq 1d" in dctx["selection"]
    assert "no perp series, so spot prices and spot volume are used" in dctx["selection"]
    # the same date on hourly perp and daily spot data: within a factor 1.5 (was 11.1% against 21.0%)
    h1, d1 = same_day
    assert 1 / 1.5 <= h1 / d1 <= 1.5, (h1, d1)


def test_sensitivity_on_real_hourly_btc(real_store: Store) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = sensitivity(real_store, "BTC", freq="1h", horizons=(1, 4, 8, 24), confidences=(0.99, 0.995))
    cells = {(c.horizon_hours, c.confidence): c for c in grid.cells}
    assert len(cells) == 8 and grid.series == "BTC 1h perp (binance)"
    for q in (0.99, 0.995):
        mmf = [cells[(h, q)].tier1_mmf for h in (1, 4, 8, 24)]
        assert mmf == sorted(mmf), mmf
    for h in (1, 4, 8, 24):
        assert cells[(h, 0.995)].tier1_mmf >= cells[(h, 0.99)].tier1_mmf
    # the 24h figure is a clearing-house horizon: a few times leverage, as the issue found on daily data
    assert cells[(24, 0.99)].tier1_max_leverage <= 5 < cells[(1, 0.99)].tier1_max_leverage
    c = cells[(24, 0.99)]
    assert c.es_fitted > 0 and c.es_empirical is not None and math.isfinite(c.es_empirical)

"""Tests of riskparams.liquidation: hand-computed positions, invariances, determinism, speed.

The single-position cases are worked by hand from the model in the module docstring (the
maintenance condition ``E0 + s Q (P - P0) < Q P mmf - d``, close-out, penalty and bad debt), and
the shock formula is cross-checked against the path simulation of a gap.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskparams.domain import CurrentPerpTier
from riskparams.ingest.demo import random_walk_ohlc
from riskparams.liquidation import (
    CloseOut,
    DiscreteLeverage,
    DiscreteNotional,
    Entry,
    LognormalLeverage,
    MarginSchedule,
    Population,
    PopulationSpec,
    ScheduleVersion,
    Tier,
    compare_parameter_sets,
    drawdown_episodes,
    generate_population,
    shock_bad_debt,
    simulate_liquidations,
)

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def frame(rows: list[tuple[float, float, float, float]], start: str = "2024-01-01") -> pd.DataFrame:
    idx = pd.date_range(start, periods=len(rows), freq="D", tz="UTC")
    return pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx)


def one_position(prices: pd.DataFrame, *, side: int, leverage: float, notional: float,
                 entry: int = 0, exit_bar: int | None = None) -> Population:
    n = len(prices)
    return Population(
        spec=PopulationSpec(count=1), index=prices.index,
        entry_bar=np.array([entry]), exit_bar=np.array([n - 1 if exit_bar is None else exit_bar]),
        side=np.array([side]), leverage=np.array([float(leverage)]), notional=np.array([float(notional)]),
    )


def random_prices(n: int, seed: int, vol: float = 0.04) -> pd.DataFrame:
    return random_walk_ohlc(n, seed, vol)


TIERS = (
    Tier(notional_floor=0, notional_cap=100_000, mmf=0.03, penalty=0.01, imf=0.05, close_out_cost=0.002),
    Tier(notional_floor=100_000, notional_cap=1_000_000, mmf=0.05, penalty=0.015, imf=0.10, close_out_cost=0.005),
    Tier(notional_floor=1_000_000, mmf=0.10, penalty=0.02, imf=0.20, close_out_cost=0.01),
)

# A long opened at 100 (bar 0 close), 10x, notional 1000: Q = 10, E0 = 100. With mmf 5 %, d = 0,
# the trigger price is P* = (Q P0 - E0) / (Q (1 - mmf)) = 900 / 9.5 = 94.7368...
# bar 3's low 94 crosses it; bar 4 crashes to 85 and closes at 90.
LONG_PATH = [
    (100, 100, 100, 100),
    (100, 101, 98, 99),
    (99, 99.5, 96, 97),
    (97, 97, 94, 95),
    (95, 95, 85, 90),
    (90, 92, 88, 91),
    (91, 93, 90, 92),
]
ONE_TIER = Tier(mmf=0.05, penalty=0.01, imf=0.1, close_out_cost=0.01)


# ---------------------------------------------------------------------------------------------
# one position, by hand
# ---------------------------------------------------------------------------------------------


def test_single_long_worst_close_out_bad_debt_by_hand() -> None:
    """worst, H = 1: close-out at min(low[3], low[4]) = 85; Nc = 850; cost 8.5;
    R = 100 + 10 (85 - 100) - 8.5 = -58.5 -> bad debt 58.5, no penalty, booked on bar 4."""
    prices = frame(LONG_PATH)
    pop = one_position(prices, side=1, leverage=10, notional=1000)
    r = simulate_liquidations(prices, MarginSchedule.static("s", [ONE_TIER]), pop, horizon_bars=1,
                              insurance_fund_start=1000.0)
    assert r.liquidations == 1 and r.positions == 1
    assert r.bad_debt == pytest.approx(58.5)
    assert r.penalties == 0.0
    assert r.liquidated_notional == pytest.approx(850.0)
    row = r.positions_detail.iloc[0]
    assert row["liquidation_ts"] == prices.index[3] and row["close_out_price"] == pytest.approx(85.0)
    np.testing.assert_allclose(r.insurance_fund.to_numpy(), [1000, 1000, 1000, 1000, 941.5, 941.5, 941.5])
    assert r.insurance_fund_min == pytest.approx(941.5)
    assert r.bad_debt_by_tier == pytest.approx((58.5,))


def test_single_long_close_and_trigger_conventions_by_hand() -> None:
    """close, H = 1: Pc = close[4] = 90 -> R = 100 - 100 - 9 = -9 -> bad debt 9.
    trigger: Pc = P* = 900/9.5 -> R = 100 + 10 (P* - 100) - 0.01 * 10 P* > 0 -> penalty
    min(R, 0.01 * 10 P*) = 0.1 P*, no bad debt, booked on the trigger bar."""
    prices = frame(LONG_PATH)
    pop = one_position(prices, side=1, leverage=10, notional=1000)
    sched = MarginSchedule.static("s", [ONE_TIER])
    c = simulate_liquidations(prices, sched, pop, close_out="close", horizon_bars=1)
    assert c.bad_debt == pytest.approx(9.0) and c.penalties == 0.0
    t = simulate_liquidations(prices, sched, pop, close_out=CloseOut.TRIGGER)
    p_star = 900 / 9.5
    remaining = 100 + 10 * (p_star - 100) - 0.01 * 10 * p_star
    assert remaining > 0.1 * p_star
    assert t.bad_debt == 0.0 and t.penalties == pytest.approx(0.1 * p_star)
    assert t.insurance_fund.iloc[3] == pytest.approx(0.1 * p_star) and t.insurance_fund.iloc[2] == 0.0


def test_single_short_mirror_by_hand() -> None:
    """A short, 5x, notional 2000 at 100: Q = 20, E0 = 400, mmf 5 %: P* = (E0 + Q P0) / (Q 1.05)
    = 2400 / 21 = 114.2857; bar 2's high 115 triggers; worst over bars 2..3 is 130;
    R = 400 - 20 (130 - 100) - 0.01 * 2600 = -226 -> bad debt 226."""
    prices = frame([(100, 100, 100, 100), (100, 110, 99, 108), (108, 115, 107, 112), (112, 130, 111, 120)])
    pop = one_position(prices, side=-1, leverage=5, notional=2000)
    r = simulate_liquidations(prices, MarginSchedule.static("s", [ONE_TIER]), pop, horizon_bars=1)
    assert r.positions_detail["liquidation_ts"].iloc[0] == prices.index[2]
    assert r.bad_debt == pytest.approx(226.0)


def test_trigger_mode_fills_at_the_open_after_a_gap() -> None:
    prices = frame([(100, 100, 100, 100), (80, 82, 79, 81), (81, 82, 80, 81)])
    pop = one_position(prices, side=1, leverage=10, notional=1000)
    r = simulate_liquidations(prices, MarginSchedule.static("s", [ONE_TIER]), pop, close_out="trigger")
    # fill at the open 80: R = 100 + 10 (80 - 100) - 0.01 * 800 = -108
    assert r.positions_detail["close_out_price"].iloc[0] == 80.0
    assert r.bad_debt == pytest.approx(108.0)


def test_shock_formula_matches_a_simulated_gap() -> None:
    """shock_bad_debt at max leverage equals the simulation of the same instantaneous jump
    (trigger mode: filled at the gapped open) for a long and a short."""
    tier = Tier(mmf=0.05, penalty=0.01, imf=0.1, close_out_cost=0.02)
    for x, side in ((-0.3, 1), (0.4, -1)):
        p1 = 100 * (1 + x)
        prices = frame([(100, 100, 100, 100), (p1, p1, p1, p1), (p1, p1, p1, p1)])
        pop = one_position(prices, side=side, leverage=10, notional=5000)
        sim = simulate_liquidations(prices, MarginSchedule.static("s", [tier]), pop, close_out="trigger")
        table = shock_bad_debt([tier], shocks=(x,), notionals=[5000])
        row = table[table["start"] == "max_leverage"].iloc[0]
        assert row["side"] == ("long" if side == 1 else "short")
        assert sim.bad_debt == pytest.approx(row["bad_debt"]) and sim.bad_debt > 0


def test_shock_formula_by_hand() -> None:
    """Module docstring example: long at maintenance, mmf 5 %, cost 1 %, x = -30 %:
    loss = 0.3 + 0.01 * 0.7 = 0.307, bad debt 0.257 N."""
    t = shock_bad_debt([Tier(mmf=0.05, imf=0.1, close_out_cost=0.01, notional_cap=1e6)], shocks=(-0.3,))
    m = t[t["start"] == "maintenance"].iloc[0]
    assert m["loss_fraction"] == pytest.approx(0.307)
    assert m["bad_debt_fraction"] == pytest.approx(0.257)
    assert m["bad_debt"] == pytest.approx(257_000.0)
    lev = t[t["start"] == "max_leverage"].iloc[0]
    assert lev["bad_debt_fraction"] == pytest.approx(0.207)
    small = shock_bad_debt([Tier(mmf=0.05, imf=0.1, penalty=0.01, close_out_cost=0.01)], shocks=(-0.02,), notionals=[100.0])
    mm = small[small["start"] == "maintenance"].iloc[0]
    # loss 0.02 + 0.0098 = 0.0298 < 0.05: no bad debt; penalty min(0.0202, 0.01 * 0.98)
    assert mm["bad_debt"] == 0.0 and mm["penalty_fraction"] == pytest.approx(0.0098)


def test_larger_shock_never_reduces_bad_debt() -> None:
    shocks = tuple(np.linspace(-0.9, -0.01, 40)) + tuple(np.linspace(0.01, 2.0, 40))
    t = shock_bad_debt(TIERS, shocks=shocks)
    for (_, _, _), g in t.groupby(["tier", "start", "side"]):
        g = g.assign(size=g["shock"].abs()).sort_values("size")
        assert (np.diff(g["bad_debt"].to_numpy()) >= -1e-12).all()
        assert (np.diff(g["loss_fraction"].to_numpy()) > 0).all()


# ---------------------------------------------------------------------------------------------
# entry rules and schedules
# ---------------------------------------------------------------------------------------------


def test_leverage_is_capped_by_imf_and_unsafe_positions_are_rejected() -> None:
    prices = frame(LONG_PATH)
    capped = simulate_liquidations(prices, MarginSchedule.static("s", [ONE_TIER]),
                                   one_position(prices, side=1, leverage=50, notional=1000))
    assert capped.positions_detail["leverage"].iloc[0] == pytest.approx(10.0)
    no_imf = Tier(mmf=0.05)
    rej = simulate_liquidations(prices, MarginSchedule.static("s", [no_imf]),
                                one_position(prices, side=1, leverage=25, notional=1000))
    assert (rej.positions, rej.rejected, rej.liquidations) == (0, 1, 0)
    assert rej.positions_detail["status"].iloc[0] == "rejected"
    late = MarginSchedule(name="late", versions=(ScheduleVersion(effective_from=prices.index[2], tiers=(ONE_TIER,)),))
    out = simulate_liquidations(prices, late, one_position(prices, side=1, leverage=10, notional=1000))
    assert (out.positions, out.outside_schedule) == (0, 1)


def test_schedule_change_over_time_triggers_at_the_change() -> None:
    """A 10x long at 100 is safe under mmf 3 % on a flat path at 97 but is liquidated on the bar
    the schedule raises mmf to 8 % (P* = 900 / 9.2 = 97.83 > low 97)."""
    flat = [(100, 100, 100, 100)] + [(97.5, 98, 97, 97.5)] * 5
    prices = frame(flat)
    v1 = ScheduleVersion(effective_from=prices.index[0], tiers=(Tier(mmf=0.03, imf=0.1),))
    v2 = ScheduleVersion(effective_from=prices.index[3], tiers=(Tier(mmf=0.08, imf=0.1),))
    r = simulate_liquidations(prices, MarginSchedule(name="s", versions=(v1, v2)),
                              one_position(prices, side=1, leverage=10, notional=1000))
    assert r.liquidations == 1 and r.positions_detail["liquidation_ts"].iloc[0] == prices.index[3]
    static = simulate_liquidations(prices, MarginSchedule(name="s", versions=(v1,)),
                                   one_position(prices, side=1, leverage=10, notional=1000))
    assert static.liquidations == 0 and static.insurance_fund.iloc[-1] == 0.0


def test_maintenance_deduction_and_tiers() -> None:
    """Tier by entry notional; MM = N mmf - d: with d the trigger moves down (later liquidation)."""
    prices = frame(LONG_PATH)
    with_d = MarginSchedule.static("d", [Tier(mmf=0.05, imf=0.1, maintenance_deduction=30.0)])
    r = simulate_liquidations(prices, with_d, one_position(prices, side=1, leverage=10, notional=1000))
    # P* = (1000 - 100 - 30) / 9.5 = 91.58: bar 3's low 94 no longer triggers, bar 4's 85 does
    assert r.positions_detail["liquidation_ts"].iloc[0] == prices.index[4]
    two = MarginSchedule.static("t", TIERS)
    big = simulate_liquidations(prices, two, one_position(prices, side=1, leverage=5, notional=2_000_000))
    assert big.positions_detail["tier"].iloc[0] == 2 and big.tiers[2].positions == 1


def test_schedule_from_frame_and_tier_coercion() -> None:
    df = pd.DataFrame({
        "effective_from": ["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01"],
        "notional_floor": [0, 1e5, 0, 1e5], "notional_cap": [1e5, np.nan, 1e5, np.nan],
        "mmf": [0.03, 0.05, 0.04, 0.06], "penalty": [0.01, 0.01, 0.01, 0.01],
        "max_leverage": [20, 10, 20, 10],
    })
    s = MarginSchedule.from_frame("f", df)
    assert len(s.versions) == 2 and s.latest[1].mmf == 0.06 and s.latest[1].notional_cap is None
    assert s.versions[0].tiers[0].imf == pytest.approx(0.05)
    idx = pd.date_range("2023-12-31", periods=40, freq="D", tz="UTC")
    np.testing.assert_array_equal(s.version_of_bars(idx)[[0, 1, 31, 32]], [-1, 0, 0, 1])
    cur = CurrentPerpTier(notional_floor=0.0, notional_cap=None, max_leverage=20.0, maintenance_rate=0.025,
                          liquidation_penalty=0.01)
    t = Tier.coerce(cur)
    assert (t.mmf, t.imf, t.penalty) == (0.025, pytest.approx(0.05), 0.01)
    proposed = SimpleNamespace(notional_floor=0.0, notional_cap=5e5, imf=0.1, mmf=0.04, maintenance_deduction=0.0,
                               liquidation_penalty=0.01, close_out_cost=0.003, max_leverage=10.0)
    assert Tier.coerce(proposed).close_out_cost == 0.003


def test_validation_messages() -> None:
    with pytest.raises(ValueError, match=r"mmf must be in \(0, 1\)"):
        Tier(mmf=1.2)
    with pytest.raises(ValueError, match=r"imf must be in \(mmf, 1\]"):
        Tier(mmf=0.1, imf=0.05)
    with pytest.raises(ValueError, match="strictly increasing"):
        MarginSchedule.static("x", [Tier(mmf=0.1), Tier(notional_floor=0, mmf=0.2)])
    with pytest.raises(ValueError, match="start at notional 0"):
        MarginSchedule.static("x", [Tier(notional_floor=5, mmf=0.1)])
    prices = frame(LONG_PATH)
    pop = one_position(prices, side=1, leverage=10, notional=1000)
    with pytest.raises(ValueError, match="UTC DatetimeIndex"):
        simulate_liquidations(prices.tz_convert("Europe/Paris"), MarginSchedule.static("s", [ONE_TIER]), pop)
    with pytest.raises(ValueError, match="different index"):
        simulate_liquidations(frame(LONG_PATH, start="2020-01-01"), MarginSchedule.static("s", [ONE_TIER]), pop)
    with pytest.raises(ValueError, match="holding_bars"):
        PopulationSpec(holding_bars=(5, 2))
    with pytest.raises(ValueError, match="shocks must be > -1"):
        shock_bad_debt(TIERS, shocks=(-1.0,))


# ---------------------------------------------------------------------------------------------
# populations: determinism and invariances
# ---------------------------------------------------------------------------------------------


def test_population_is_deterministic_for_a_seed() -> None:
    idx = random_prices(300, 1).index
    spec = PopulationSpec(count=2000, leverage=LognormalLeverage(median=8, sigma=0.6), seed=42,
                          holding_bars=(5, 40), long_fraction=0.7)
    a, b = generate_population(spec, idx), generate_population(spec, idx)
    for name in ("entry_bar", "exit_bar", "side", "leverage", "notional"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = generate_population(PopulationSpec(count=2000, leverage=LognormalLeverage(median=8, sigma=0.6), seed=43,
                                           holding_bars=(5, 40), long_fraction=0.7), idx)
    assert not np.array_equal(a.notional, c.notional)
    assert (a.entry_bar <= 298).all() and (a.exit_bar <= 299).all() and (a.exit_bar > a.entry_bar).all()
    assert 0.65 < (a.side > 0).mean() < 0.75
    # each attribute has its own stream: another leverage law leaves entries, sides, notionals as they were
    d = generate_population(PopulationSpec(count=2000, seed=42, holding_bars=(5, 40), long_fraction=0.7), idx)
    np.testing.assert_array_equal(a.entry_bar, d.entry_bar)
    np.testing.assert_array_equal(a.notional, d.notional)
    every = generate_population(PopulationSpec(count=598, entry=Entry.EVERY_BAR), idx)
    assert np.bincount(every.entry_bar).tolist() == [2] * 299


def _tiers_with_mmf(scale: float) -> list[Tier]:
    return [Tier(notional_floor=t.notional_floor, notional_cap=t.notional_cap, mmf=t.mmf * scale, penalty=t.penalty,
                 imf=t.imf, close_out_cost=t.close_out_cost) for t in TIERS]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_higher_mmf_never_increases_bad_debt(seed: int) -> None:
    """worst close-out, d = 0, cost <= mmf, same IMF, positions held to the end of the data: every
    position's bad debt is weakly lower under the higher MMF, and every position liquidated under
    the lower MMF is liquidated under the higher one, no later."""
    prices = random_prices(500, seed)
    spec = PopulationSpec(count=3000, leverage=DiscreteLeverage(values=(5.0, 10.0, 20.0)),
                          notional=DiscreteNotional(values=(5e4, 5e5, 2e6)), seed=seed, holding_bars=None)
    pop = generate_population(spec, prices.index)
    low = simulate_liquidations(prices, MarginSchedule.static("low", _tiers_with_mmf(1.0)), pop, horizon_bars=2)
    high = simulate_liquidations(prices, MarginSchedule.static("high", _tiers_with_mmf(1.6)), pop, horizon_bars=2)
    bd_low = low.positions_detail["bad_debt"].fillna(0).to_numpy()
    bd_high = high.positions_detail["bad_debt"].fillna(0).to_numpy()
    assert low.bad_debt > 0  # the path is rough enough for the comparison to mean something
    assert (bd_high <= bd_low + 1e-9).all()
    assert high.bad_debt <= low.bad_debt
    liq_low, liq_high = low.positions_detail["liquidated"].to_numpy(), high.positions_detail["liquidated"].to_numpy()
    assert (liq_high | ~liq_low).all() and high.liquidations >= low.liquidations
    t_low = low.positions_detail["liquidation_ts"][liq_low]
    t_high = high.positions_detail["liquidation_ts"][liq_low]
    assert (t_high <= t_low).all()
    for k in range(3):
        assert high.tiers[k].bad_debt <= low.tiers[k].bad_debt + 1e-9


def test_higher_mmf_with_a_finite_holding_period_only_loses_at_the_end_of_holding() -> None:
    """The documented exception: with a finite holding period, a position can have more bad debt
    under the higher MMF only if that liquidation was triggered within the last H bars of its
    holding period (its close-out runs past the owner's close). Seed 1 has such positions."""
    prices = random_prices(500, 1)
    H = 2
    spec = PopulationSpec(count=3000, leverage=DiscreteLeverage(values=(5.0, 10.0, 20.0)),
                          notional=DiscreteNotional(values=(5e4, 5e5, 2e6)), seed=1, holding_bars=60)
    pop = generate_population(spec, prices.index)
    low = simulate_liquidations(prices, MarginSchedule.static("low", _tiers_with_mmf(1.0)), pop, horizon_bars=H)
    high = simulate_liquidations(prices, MarginSchedule.static("high", _tiers_with_mmf(1.6)), pop, horizon_bars=H)
    worse = np.flatnonzero(high.positions_detail["bad_debt"].fillna(0).to_numpy()
                           > low.positions_detail["bad_debt"].fillna(0).to_numpy() + 1e-9)
    assert worse.size > 0
    trig = prices.index.get_indexer(pd.DatetimeIndex(high.positions_detail["liquidation_ts"].iloc[worse]))
    assert (trig > pop.exit_bar[worse] - H).all()
    assert (~low.positions_detail["liquidated"].to_numpy()[worse]).all()


def test_compare_parameter_sets_uses_one_population() -> None:
    prices = random_prices(400, 9)
    spec = PopulationSpec(count=2000, seed=5, holding_bars=30)
    sets = [MarginSchedule.static("current", _tiers_with_mmf(1.0)), MarginSchedule.static("proposed", _tiers_with_mmf(1.5))]
    df = compare_parameter_sets(prices, sets, spec, horizon_bars=1, insurance_fund_start=1e6)
    again = compare_parameter_sets(prices, sets, spec, horizon_bars=1, insurance_fund_start=1e6)
    pd.testing.assert_frame_equal(df, again)
    totals = df[df["tier"].isna()].set_index("parameter_set")
    assert list(totals.index) == ["current", "proposed"]
    assert totals["positions"].nunique() == 1  # same population, same IMF: same positions opened
    assert totals.loc["proposed", "bad_debt"] <= totals.loc["current", "bad_debt"]
    per_tier = df[df["tier"].notna()].groupby("parameter_set")["bad_debt"].sum()
    np.testing.assert_allclose(per_tier.loc[list(totals.index)].to_numpy(), totals["bad_debt"].to_numpy())
    direct = simulate_liquidations(prices, sets[0], generate_population(spec, prices.index), horizon_bars=1,
                                   insurance_fund_start=1e6)
    assert totals.loc["current", "insurance_fund_end"] == pytest.approx(direct.insurance_fund_end)
    assert direct.insurance_fund_end == pytest.approx(1e6 + direct.penalties - direct.bad_debt)
    with pytest.raises(ValueError, match="unique"):
        compare_parameter_sets(prices, [sets[0], sets[0]], spec)


def test_json_round_trips() -> None:
    prices = random_prices(120, 4)
    spec = PopulationSpec(count=500, seed=1)
    r = simulate_liquidations(prices, MarginSchedule.static("s", TIERS), generate_population(spec, prices.index))
    for d in (r.to_dict(), spec.to_dict(), *[w.to_dict() for w in drawdown_episodes(prices["close"], n=2)]):
        text = json.dumps(d, allow_nan=False)
        assert json.loads(text) == d
    assert len(r.to_dict()["insurance_fund"]) == 120


def test_10k_positions_over_2k_bars() -> None:
    """~10,000 positions over ~2,000 daily bars (its time: benchmarks/simulation.py)."""
    prices = random_prices(2000, 7, vol=0.03)
    spec = PopulationSpec(count=10_000, seed=2, holding_bars=(10, 200))
    r = simulate_liquidations(prices, MarginSchedule.static("s", TIERS), generate_population(spec, prices.index),
                              horizon_bars=2)
    assert r.positions == 10_000 and r.liquidations > 0


# ---------------------------------------------------------------------------------------------
# stress windows
# ---------------------------------------------------------------------------------------------


def test_drawdown_episodes_on_a_known_path() -> None:
    """Closes 100 120 90 110 125 100 80 130 120: episodes (peak, trough, end, depth):
    (125, 80, 130) 36 %; (120, 90, 125) 25 %; (130, 120, last bar, not recovered) 7.7 %."""
    closes = [100, 120, 90, 110, 125, 100, 80, 130, 120]
    idx = pd.date_range("2024-01-01", periods=len(closes), freq="D", tz="UTC")
    s = pd.Series(closes, index=idx, dtype=float)
    eps = drawdown_episodes(s, n=5)
    assert [(e.start, e.trough, e.end) for e in eps] == [
        (idx[4], idx[6], idx[7]), (idx[1], idx[2], idx[4]), (idx[7], idx[8], idx[8]),
    ]
    np.testing.assert_allclose([e.depth for e in eps], [1 - 80 / 125, 1 - 90 / 120, 1 - 120 / 130])
    assert [e.recovered for e in eps] == [True, True, False]
    assert [e.name for e in eps] == ["drawdown 1", "drawdown 2", "drawdown 3"]
    assert len(drawdown_episodes(s, n=1)) == 1
    # min_days drops the one-day peak-to-trough episodes
    assert [e.depth for e in drawdown_episodes(s, n=5, min_days=2)] == pytest.approx([1 - 80 / 125])
    user = drawdown_episodes(s, n=0, windows=[("my window", "2024-01-02", "2024-01-04")])
    assert len(user) == 1 and user[0].source == "user" and user[0].recovered is None
    assert user[0].depth == pytest.approx(0.25) and user[0].trough == idx[2]


def test_population_arrays_are_validated() -> None:
    prices = frame(LONG_PATH)
    with pytest.raises(ValueError, match="exit bars"):
        one_position(prices, side=1, leverage=10, notional=1000, entry=6)
    with pytest.raises(ValueError, match="side must be"):
        one_position(prices, side=0, leverage=10, notional=1000)
    with pytest.raises(ValueError, match="leverage must be >= 1"):
        one_position(prices, side=1, leverage=0.5, notional=1000)


def test_simulation_benchmark_script_runs(run_benchmark: Callable[..., dict[str, Any]]) -> None:
    out = run_benchmark("simulation", "--positions", "200", "--bars", "300", "--repeats", "1")
    assert out["liquidation_s"] > 0 and out["demo_universe_s"] > 0 and len(out["liquidation_runs_s"]) == 1


def _first_crossings_bar_by_bar(prices: pd.DataFrame, schedule: MarginSchedule, pop: Population
                                ) -> tuple[np.ndarray, np.ndarray]:
    """The monitoring rule of the module docstring, one bar at a time (the reference for the run-at-once
    search): (liquidation bar or -1, version in force at it or -1) per position."""
    o, hi, lo, c = (prices[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    ver = schedule.version_of_bars(pd.DatetimeIndex(prices.index))
    arrs = [v.arrays() for v in schedule.versions]
    N, s = pop.notional, pop.side
    P0 = c[pop.entry_bar]
    Q = N / P0
    bar = np.full(pop.size, -1)
    vers = np.full(pop.size, -1)
    for i in range(pop.size):
        e = int(pop.entry_bar[i])
        if ver[e] < 0:
            continue
        a = arrs[int(ver[e])]
        k = max(0, int(np.searchsorted(a["floor"], N[i], side="right")) - 1)
        lev = min(float(pop.leverage[i]), 1.0 / a["imf"][k])
        E0 = N[i] / lev
        if E0 <= N[i] * a["mmf"][k] - a["d"][k]:
            continue  # rejected at entry
        for t in range(e + 1, int(pop.exit_bar[i]) + 1):
            b = arrs[int(ver[t])]
            j = max(0, int(np.searchsorted(b["floor"], N[i], side="right")) - 1)
            m, d = b["mmf"][j], b["d"][j]
            if s[i] > 0 and lo[t] < (Q[i] * P0[i] - E0 - d) / (Q[i] * (1.0 - m)):
                bar[i], vers[i] = t, ver[t]
                break
            if s[i] < 0 and hi[t] > (E0 + Q[i] * P0[i] + d) / (Q[i] * (1.0 + m)):
                bar[i], vers[i] = t, ver[t]
                break
    return bar, vers


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_monitoring_finds_the_first_crossing_of_every_position(seed: int) -> None:
    """The simulation looks for each position's first trigger crossing over whole runs of one schedule
    version at once; it must agree, position by position, with the rule applied one bar at a time (written
    out above), over a schedule that changes every few bars (both tighter and looser) and a static one."""
    prices = random_prices(400, seed, vol=0.05)
    rng = np.random.default_rng(seed)
    versions = []
    for b in range(0, 400, 9):
        scale = float(rng.uniform(0.5, 1.5))
        versions.append(ScheduleVersion(effective_from=prices.index[b], tiers=tuple(
            Tier(notional_floor=t.notional_floor, notional_cap=t.notional_cap, mmf=t.mmf * scale, penalty=t.penalty,
                 imf=t.imf * 1.6, close_out_cost=t.close_out_cost) for t in TIERS)))
    spec = PopulationSpec(count=1500, leverage=DiscreteLeverage(values=(3.0, 10.0, 20.0)),
                          notional=DiscreteNotional(values=(5e4, 5e5, 2e6)), seed=seed, holding_bars=(1, 60))
    pop = generate_population(spec, prices.index)
    for sched in (MarginSchedule(name="moving", versions=tuple(versions)), MarginSchedule.static("s", TIERS)):
        got = simulate_liquidations(prices, sched, pop, horizon_bars=1).positions_detail
        ref_bar, _ref_ver = _first_crossings_bar_by_bar(prices, sched, pop)
        assert (ref_bar >= 0).sum() > 50  # enough liquidations for the comparison to mean something
        got_bar = np.where(got["liquidated"].to_numpy(), prices.index.get_indexer(
            pd.DatetimeIndex(got["liquidation_ts"].where(got["liquidated"], prices.index[0]))), -1)
        assert got_bar.tolist() == ref_bar.tolist()

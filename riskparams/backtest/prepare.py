"""Per-asset preparation of a backtest: the bars up to the end, the returns known at each bar, the estimation
window and the period, the cadence bars of the policy replay, the horizon in bars, and the causal ADV
(bars up to each bar only). Part of :mod:`riskparams.backtest`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskparams.backtest.results import AssetData
from riskparams.backtest.spec import DEFAULT_WINDOW, MIN_TEST_DAYS, BacktestSpec
from riskparams.config import RiskPolicy, policy_from_dict, policy_with
from riskparams.exceptions import HistoryError
from riskparams.fmt import format_hours
from riskparams.measures import mean_daily_value
from riskparams.proposals import margin_period, term_hours
from riskparams.returns import (
    horizon_to_bars,
    hours_per_bar,
    iso_utc,
    returns_with_report,
    to_utc,
    validate_prices,
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Prepared:
    """An asset ready to replay: arrays over all bars up to ``end``, the period ``t0 .. t1``."""

    data: AssetData
    ts: pd.DatetimeIndex
    close: FloatArray
    high: FloatArray
    low: FloatArray
    value: FloatArray  # volume x close, quote currency (NaN unknown)
    r: FloatArray  # log returns (gaps dropped unless allowed)
    r_ts: pd.DatetimeIndex
    nk: npt.NDArray[np.int64]  # returns known at the close of each bar
    t0: int
    t1: int
    window: int
    h: int
    cadence: npt.NDArray[np.int64]  # cadence bars (absolute positions)
    notes: tuple[str, ...]
    policy: RiskPolicy  # the policy as evaluated (perps: every MPOR at least one bar)
    live_policy: RiskPolicy  # the policy itself
    term_k: int  # bars of the term structure the proposals read
    live_hours: float  # tier-1 margin period of risk of the policy itself at the first bar (perps), hours

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle for a process pool: a RiskPolicy's read-only mappings do not pickle, so the policies travel
        as their dictionaries (and whether the evaluated policy is the policy itself)."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["policy"] = self.policy.to_dict()
        state["live_policy"] = None if self.live_policy is self.policy else self.live_policy.to_dict()
        return (_unpickle_prepared, (state,))


def _unpickle_prepared(state: dict[str, Any]) -> _Prepared:
    policy = policy_from_dict(state["policy"])
    live = policy if state["live_policy"] is None else policy_from_dict(state["live_policy"])
    return _Prepared(**{**state, "policy": policy, "live_policy": live})


def _choose_window(nk: npt.NDArray[np.int64], ts: pd.DatetimeIndex, n_ret: int, spec: BacktestSpec,
                   policy: RiskPolicy, freq: str, symbol: str) -> tuple[int, int, list[str]]:
    """(window, first period bar, notes) by the rules of the module docstring."""
    min_w = max(int(policy.model.min_history), 50)
    notes: list[str] = []
    if spec.start is not None:
        start = to_utc(spec.start, "start")
        t0 = int(ts.searchsorted(start, side="left"))
        if t0 >= len(ts):
            raise HistoryError(f"{symbol}: no bar at or after the start {spec.start} (last bar {iso_utc(ts[-1])}).")
        known = int(nk[t0])
        if spec.window is not None:
            w = spec.window
            if known < w:
                raise HistoryError(f"{symbol}: {known} returns known at the start {iso_utc(ts[t0])}, fewer than the "
                                   f"{w}-bar window; choose a later start or a smaller window.")
        else:
            w = min(DEFAULT_WINDOW, known)
            if w < min_w:
                raise HistoryError(f"{symbol}: {known} returns known at the start {iso_utc(ts[t0])}, fewer than the "
                                   f"policy's min_history ({min_w}); choose a later start.")
            if w < DEFAULT_WINDOW:
                notes.append(f"window {w} bars: all returns known at the start (fewer than {DEFAULT_WINDOW})")
        return w, t0, notes
    if spec.window is not None:
        w = spec.window
    else:
        bpd = 24 // hours_per_bar(freq)
        w = DEFAULT_WINDOW if n_ret >= DEFAULT_WINDOW + MIN_TEST_DAYS * bpd else min_w
        if w < DEFAULT_WINDOW:
            notes.append(f"window {w} bars (min_history): the series is too short for a {DEFAULT_WINDOW}-bar window "
                         f"and {MIN_TEST_DAYS} days of backtest")
    hit = np.flatnonzero(nk >= w)
    if hit.size == 0:
        raise HistoryError(f"{symbol}: {n_ret} returns, fewer than the {w}-bar estimation window.")
    return w, int(hit[0]), notes


def _cadence_bars(ts: pd.DatetimeIndex, t0: int, t1: int, days: float) -> npt.NDArray[np.int64]:
    step = pd.Timedelta(days=days)
    out = [t0]
    due = ts[t0] + step
    # vectorised walk: the next cadence bar is the first bar at or after the due time
    while True:
        k = int(ts.searchsorted(due, side="left"))
        if k > t1:
            break
        out.append(k)
        due = ts[k] + step
    return np.asarray(out, dtype=np.int64)


def _prepare(data: AssetData, policy: RiskPolicy, spec: BacktestSpec) -> _Prepared:
    sym = data.symbol
    validate_prices(data.prices, data.freq, label=sym)
    px = data.prices
    if spec.end is not None:
        px = px.loc[px.index <= to_utc(spec.end, "end")]
    if len(px) < 3:
        raise HistoryError(f"{sym}: {len(px)} bars up to the end; a backtest needs more.")
    ts = pd.DatetimeIndex(px.index)
    rs = returns_with_report(px, data.freq, allow_gaps=policy.model.allow_gaps)
    r = rs.returns.to_numpy(dtype=float)
    r_ts = pd.DatetimeIndex(rs.returns.index)
    nk = np.asarray(np.searchsorted(r_ts, ts, side="right"), dtype=np.int64)
    w, t0, notes = _choose_window(nk, ts, r.size, spec, policy, data.freq, sym)
    t1 = len(ts) - 1
    vol = px["volume"].to_numpy(dtype=float)
    close = px["close"].to_numpy(dtype=float)
    bar_h = float(hours_per_bar(data.freq))
    live_hours = math.nan
    if spec.profile == "perp":
        evaluated = policy
        if policy.mpor.fixed_hours <= 0 and policy.mpor.min_hours < bar_h <= policy.mpor.max_hours:
            evaluated = policy_with(policy, {"mpor.min_hours": bar_h})
        sym_u = sym.upper()
        adv0 = (float(policy.liquidity.adv_override[sym_u]) if sym_u in policy.liquidity.adv_override
                else mean_daily_value((vol * close)[: t0 + 1], bar_h, policy.liquidity.adv_window_days))
        first_cap = policy.perp.tier_breakpoints[1] if len(policy.perp.tier_breakpoints) > 1 else \
            policy.perp.last_tier_cost_notional
        live_hours = margin_period([first_cap], adv0, policy).tiers[0].horizon_hours if adv0 > 0 else math.nan
        eval_hours = margin_period([first_cap], adv0, evaluated).tiers[0].horizon_hours if adv0 > 0 else bar_h
        h = horizon_to_bars(min(eval_hours, policy.mpor.max_hours), data.freq)
        if evaluated is not policy:
            notes.append(f"tier-1 margin period of risk at the start {format_hours(live_hours)}; the backtest cannot "
                         f"see moves inside a {bar_h:g}h bar, so it evaluates the policy with every margin period of "
                         f"risk at least one bar ({bar_h:g}h): horizon {h} bar(s)")
    else:
        evaluated = policy
        h = horizon_to_bars(policy.horizon_hours, data.freq)
    term_k = horizon_to_bars(term_hours(evaluated, spec.profile), data.freq)
    if t0 + h > t1:
        raise HistoryError(f"{sym}: the period from {iso_utc(ts[t0])} has {t1 - t0 + 1} bars, too few for one "
                           f"{h}-bar horizon.")
    if rs.report.dropped_returns:
        notes.append(f"{rs.report.dropped_returns} return(s) spanning gaps dropped; horizons count bars, not hours")
    return _Prepared(
        data=data, ts=ts, close=close, high=px["high"].to_numpy(dtype=float), low=px["low"].to_numpy(dtype=float),
        value=vol * close, r=r, r_ts=r_ts, nk=nk, t0=t0, t1=t1, window=w, h=h,
        cadence=_cadence_bars(ts, t0, t1, spec.cadence_days), notes=tuple(notes), policy=evaluated, term_k=term_k,
        live_hours=live_hours, live_policy=policy,
    )



def _adv_at(p: _Prepared, t: int, window_days: int) -> float:
    """ADV of the bars up to ``t`` (:func:`riskparams.measures.mean_daily_value`, as
    :func:`riskparams.service.average_daily_value` computes it from a frame)."""
    return mean_daily_value(p.value[: t + 1], float(hours_per_bar(p.data.freq)), window_days)


def _policy_adv(p: _Prepared, policy: RiskPolicy, t: int,
                adv_at: Callable[[int, int], float] | None = None) -> float:
    """The ADV the policy uses at bar ``t``: its ``liquidity.adv_override`` of the symbol, else
    :func:`_adv_at` over ``liquidity.adv_window_days`` (or ``adv_at(t, window_days)``, a remembered one)."""
    override = policy.liquidity.adv_override.get(p.data.symbol.upper())
    if override is not None:
        return float(override)
    if adv_at is not None:
        return adv_at(t, policy.liquidity.adv_window_days)
    return _adv_at(p, t, policy.liquidity.adv_window_days)

"""Policy math: from a volatility forecast to margin tiers, penalties and lending parameters.

Pure: numpy and the standard library on values (:class:`~riskparams.volatility.VolEstimate`,
:class:`~riskparams.config.RiskPolicy`, current parameters); no I/O, no store, no fitting. The
service (:func:`riskparams.service.propose`) fits, measures liquidity and stores the result.

Units: fractions (0.03 = 3 %) for moves, margins, costs, penalties, LTV/LT/bonus and coverages;
notionals and ADV in quote currency; volatilities per bar unless a name says annualised.

The math, exactly as implemented
--------------------------------
**Covered move** ``m`` (:func:`covered_move`). Per tail (lower: longs; upper: shorts), ``x0`` is the
model's log-return VaR or ES (``policy.measure``) at ``policy.confidence`` over the horizon, from the
estimate's risk method (``max``: the larger of fitted and FHS), floored at 0. With ``s_c`` the average
forecast volatility over the horizon (``horizon_vol / sqrt(horizon_bars)``), ``s_L`` the long-run
volatility (``lookback``: the sample standard deviation of the fitted returns, passed by the service,
or ``sqrt(mean(conditional_vol**2))`` when not given; ``model``: the model's unconditional volatility
unless it is not finite or above ``s_S``) and ``s_S`` the stressed volatility (worst rolling-window
volatility of the history):

* (b) stressed weight ``w``: ``x1 = (1 - w) x0 + w x0 max(1, s_S / s_c)`` (the stressed move never
  below the current one);
* (c) long-run floor: ``x2 = max(x1, x0 s_L / s_c)``;
* the log move becomes a price move, ``1 - exp(-x2)`` (lower) or ``exp(x2) - 1`` (upper);
* (a) buffer ``b``: ``m = move (1 + b)`` (lower tail capped at 1) unless in stress, i.e. unless
  ``s_c >= buffer_release_ratio * s_S``.

Perpetuals take the worse (larger) tail after these steps; lending the lower tail. A disabled tool,
or a non-finite volatility it needs, leaves the move unchanged.

**Close-out cost** of a notional ``N`` (:func:`close_out_cost`): the square-root law
``c(N) = half_spread + impact_k * sigma_daily * sqrt(N / ADV)``
(:func:`riskparams.measures.impact_cost`), ``sigma_daily = next_vol * sqrt(24 / hours per bar)``.

**Perpetual tiers** (:func:`propose_tiers`), tier ``k`` with floor ``F_k`` and cap ``N_k`` (the open
last tier: ``max(last_tier_cost_notional, 2 F_k)``), ``c_k = c(N_k)``, incentive ``i``:

1. ``MMF_k = round_up(m + c_k + i, mmf_step)``, then a cumulative maximum over the tiers;
   a tier whose MMF reaches 1 and every larger tier are dropped (``position_limit = F_k``; the asset
   is ``unmarginable`` if that is the first tier);
2. guardrails against the current MMF of the bracket holding ``F_k`` (:func:`apply_guardrail`),
   then the cumulative maximum again;
3. ``L_k`` = the largest grid leverage with ``1 / L >= MMF_k / maintenance_fraction`` (1x when none
   qualifies: IMF 100 % > MMF); guardrails on IMF pick, among feasible leverages (grid, 1x, the
   current one), the IMF closest to that target inside the allowed band, and the smallest feasible
   IMF when the band holds none; then ``L_k = min(L_k, L_{k-1})``; ``IMF_k = 1 / L_k``;
4. ``penalty_k = min(guardrail(round_up(c_k + i, penalty_step)), round_down(MMF_k - m, penalty_step))``
   floored at 0 (never more than what maintenance leaves after the covered move, and < MMF);
5. ``d_0 = 0``, ``d_k = d_{k-1} + F_k (MMF_k - MMF_{k-1})``, so that the maintenance margin
   ``MM(N) = N MMF_k - d_k`` is continuous at the tier edges;
6. coverage ``= min over tails of P(adverse price move <= MMF_k - c_k)`` under the estimate's horizon
   distribution (:class:`~riskparams.volatility.HorizonQuantiles`).

Invariants: ``0 <= penalty < MMF < IMF <= 1``; MMF and IMF non-decreasing with tier size.

**Lending** (:func:`propose_lending`), ``d`` the covered drop (lower tail), ``c`` the cost of the
policy's reference liquidation notional:

1. ``LB = round_up(c + i, lending_step)`` -> guardrail;
2. ``LT = round_down((1 - d) / (1 + LB), lending_step)`` -> guardrail -> ``min(LT, round_down(1 / (1 + LB)))``
   (a liquidation at the threshold must not start under water);
3. ``LTV = max(0, round_down(LT - ltv_buffer, lending_step))`` -> guardrail -> ``min(LTV, LT - lending_step)``;
4. coverage ``= P(drop <= 1 - LT (1 + LB))``.

If the model's LT is not positive the asset is ``unmarginable``: LTV = LT = 0 (not usable as collateral).

**Guardrails** (:func:`apply_guardrail`), given a current value ``v0``: if ``|t - v0| <= dead_band * v0``
the current value is kept; otherwise a change larger than ``max_relative_change * v0`` (lending: also
larger than the bps limit) is cut to that limit and rounded onto the step grid toward ``v0``, so a
guardrail is never exceeded. Invariants (MMF < IMF, penalty <= MMF - m, LT (1 + LB) <= 1, LTV < LT,
monotone tiers) win over guardrails; the line then says ``bound='invariant'`` or ``'monotonic'``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from riskparams.config import Measure, RiskPolicy
from riskparams.domain import (
    CoveredMove,
    CurrentLending,
    CurrentPerp,
    CurrentTierAssessment,
    LendingAssetProposal,
    LendingCurrentAssessment,
    ParamLine,
    PerpAssetProposal,
    PerpTier,
)
from riskparams.measures import HorizonRisk, Tail, impact_cost, log_to_price_move
from riskparams.returns import bars_per_year, hours_per_bar
from riskparams.volatility import HorizonQuantiles, RiskMethod, VolEstimate

__all__ = [
    "Guarded",
    "apply_guardrail",
    "close_out_cost",
    "covered_move",
    "daily_vol",
    "forecast_vol",
    "lending_coverage",
    "long_run_vol",
    "maintenance_deductions",
    "maintenance_margin",
    "perp_coverage",
    "propose_lending",
    "propose_tiers",
    "round_down",
    "round_up",
]

_EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# rounding
# ---------------------------------------------------------------------------------------------


def round_up(x: float, step: float) -> float:
    """Smallest multiple of ``step`` >= ``x`` (a relative 1e-9 of a step absorbs float noise)."""
    return round(math.ceil(x / step - _EPS) * step, 12)


def round_down(x: float, step: float) -> float:
    """Largest multiple of ``step`` <= ``x`` (a relative 1e-9 of a step absorbs float noise)."""
    return round(math.floor(x / step + _EPS) * step, 12)


# ---------------------------------------------------------------------------------------------
# volatilities and the covered move
# ---------------------------------------------------------------------------------------------


def forecast_vol(estimate: VolEstimate) -> float:
    """Average per-bar forecast volatility over the horizon: ``horizon_vol / sqrt(horizon_bars)``."""
    return float(estimate.horizon_vol) / math.sqrt(max(int(estimate.horizon_bars), 1))


def long_run_vol(
    estimate: VolEstimate, source: str = "lookback", lookback_vol: float | None = None
) -> tuple[float, str]:
    """Long-run volatility per bar for the anti-procyclicality floor, and its basis.

    ``lookback`` (EMIR's "margin from a long lookback"): ``lookback_vol`` when given (the service passes
    the sample standard deviation of the returns the model was fitted to; basis ``'sample'``), else
    ``sqrt(mean(conditional_vol**2))`` over the fitted history (basis ``'conditional'``). ``model``: the
    model's unconditional volatility ``estimate.long_run_vol`` (basis ``'model'``) when it is finite,
    positive and not above the stressed volatility (a long-run level above the worst window seen is a
    near-unit-root artefact), else the lookback value.

    Returns
    -------
    (vol, basis) : (float, str)
    """
    if lookback_vol is not None and math.isfinite(lookback_vol) and lookback_vol > 0:
        lookback, basis = float(lookback_vol), "sample"
    else:
        cv = np.asarray(estimate.conditional_vol.to_numpy(dtype=float))
        cv = cv[np.isfinite(cv)]
        lookback, basis = (float(np.sqrt(np.mean(cv**2))) if cv.size else math.nan), "conditional"
    if str(source) == "model":
        lr, st = float(estimate.long_run_vol), float(estimate.stressed_vol)
        if math.isfinite(lr) and lr > 0 and not (math.isfinite(st) and lr > st):
            return lr, "model"
    return lookback, basis


def daily_vol(estimate: VolEstimate) -> float:
    """One-day forecast volatility for the cost model: ``next_vol * sqrt(24 / hours per bar)``."""
    return float(estimate.next_vol) * math.sqrt(24.0 / hours_per_bar(estimate.freq))


def _annualised(vol: float, freq: str) -> float:
    return vol * math.sqrt(bars_per_year(freq))


def _tail_logs(estimate: VolEstimate, measure: Measure) -> dict[Tail, float]:
    """Log-return VaR or ES per tail from the estimate's risk method (``max``: the larger)."""
    risks: list[HorizonRisk] = [estimate.fitted_risk]
    if estimate.fhs_risk is not None:
        if estimate.risk_method is RiskMethod.FHS:
            risks = [estimate.fhs_risk]
        elif estimate.risk_method is RiskMethod.MAX:
            risks = [estimate.fitted_risk, estimate.fhs_risk]
    attr = "var_log" if measure is Measure.VAR else "es_log"
    return {
        Tail.LOWER: max(float(getattr(r.lower, attr)) for r in risks),
        Tail.UPPER: max(float(getattr(r.upper, attr)) for r in risks),
    }


def _ok(x: float) -> bool:
    return math.isfinite(x) and x > 0


def covered_move(
    estimate: VolEstimate, policy: RiskPolicy, *, lending: bool = False, lookback_vol: float | None = None
) -> CoveredMove:
    """The adverse price move the margin covers, with the anti-procyclicality tools applied.

    Parameters
    ----------
    estimate : VolEstimate
        Fitted at the policy's horizon and confidence.
    policy : RiskPolicy
    lending : bool
        Lower tail only (collateral loses when the price falls); otherwise the worse of both tails.
    lookback_vol : float, optional
        Sample volatility per bar of the fitted returns (see :func:`long_run_vol`).

    Returns
    -------
    CoveredMove
        ``final`` is ``m`` (fraction of price); see the module docstring for the formulas.
    """
    apc = policy.apc
    s_c = forecast_vol(estimate)
    s_l, basis = long_run_vol(estimate, apc.long_run_source.value, lookback_vol)
    s_s = float(estimate.stressed_vol)
    in_stress = _ok(s_c) and _ok(s_s) and s_c >= apc.buffer_release_ratio * s_s
    logs = _tail_logs(estimate, policy.measure)
    tails = (Tail.LOWER,) if lending else (Tail.LOWER, Tail.UPPER)
    best: tuple[float, Tail, float, float, float, tuple[str, ...]] | None = None
    for tail in tails:
        x0 = max(0.0, logs[tail]) if math.isfinite(logs[tail]) else logs[tail]
        binding: list[str] = []
        x1 = x0
        if apc.stressed_weight_enabled and _ok(s_c) and _ok(s_s) and s_s > s_c:
            w = apc.stressed_weight
            x1 = (1.0 - w) * x0 + w * x0 * (s_s / s_c)
            if x1 > x0:
                binding.append("stressed_weight")
        x2 = x1
        if apc.long_run_floor_enabled and _ok(s_c) and _ok(s_l):
            floor = x0 * s_l / s_c
            if floor > x1:
                x2 = floor
                binding.append("long_run_floor")
        p0, p1, p2 = (log_to_price_move(x, tail) for x in (x0, x1, x2))
        final = p2
        if apc.buffer_enabled and not in_stress:
            final = p2 * (1.0 + apc.buffer)
            if tail is Tail.LOWER:
                final = min(final, 1.0)
            if final > p2:
                binding.append("buffer")
        if best is None or final > best[0]:
            best = (final, tail, p0, p1, p2, tuple(binding))
    assert best is not None
    final, tail, p0, p1, p2, binding_t = best
    f = estimate.freq
    return CoveredMove(
        tail=tail.value,
        measure=policy.measure.value,
        model=p0,
        after_stressed_weight=p1,
        after_floor=p2,
        final=final,
        binding=binding_t,
        in_stress=bool(in_stress),
        vol_forecast=s_c,
        vol_long_run=s_l,
        long_run_basis=basis,
        vol_stressed=s_s,
        vol_forecast_annualised=_annualised(s_c, f),
        vol_long_run_annualised=_annualised(s_l, f),
        vol_stressed_annualised=_annualised(s_s, f),
    )


def close_out_cost(notional: float, *, adv: float, sigma_daily: float, policy: RiskPolicy) -> float:
    """``half_spread + impact_k * sigma_daily * sqrt(notional / adv)`` (fraction of notional).

    Parameters
    ----------
    notional : float
        Position closed, quote currency, >= 0.
    adv : float
        Average daily traded value, quote currency, > 0.
    sigma_daily : float
        Daily volatility, fraction.
    policy : RiskPolicy
        Supplies ``liquidity.half_spread`` and ``liquidity.impact_k``.
    """
    liq = policy.liquidity
    return float(impact_cost(float(notional), float(adv), float(sigma_daily), k=liq.impact_k,
                             half_spread=liq.half_spread))


# ---------------------------------------------------------------------------------------------
# coverage
# ---------------------------------------------------------------------------------------------


def _quantiles(estimate: VolEstimate) -> HorizonQuantiles:
    hq = estimate.horizon_quantiles
    if hq is None:
        raise ValueError(
            "the volatility estimate has no horizon_quantiles (serialised by an older riskparams); refit it"
        )
    return hq


def perp_coverage(estimate: VolEstimate, room: float) -> float:
    """``min(P(price drop <= room), P(price rise <= room))`` over the horizon under today's model.

    ``room`` is what maintenance leaves for the price move (``MMF - close-out cost``, a fraction).
    """
    hq = _quantiles(estimate)
    return min(hq.prob_move_within(room, Tail.LOWER), hq.prob_move_within(room, Tail.UPPER))


def lending_coverage(estimate: VolEstimate, liquidation_threshold: float, liquidation_bonus: float) -> float:
    """``P(price drop <= 1 - LT (1 + LB))`` over the horizon under today's model."""
    room = 1.0 - liquidation_threshold * (1.0 + liquidation_bonus)
    return _quantiles(estimate).prob_move_within(room, Tail.LOWER)


# ---------------------------------------------------------------------------------------------
# guardrails
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Guarded:
    """A value after the guardrails: ``uncapped`` is the target when a guardrail changed it."""

    value: float
    uncapped: float | None
    bound: str | None


def apply_guardrail(
    target: float,
    current: float | None,
    *,
    max_relative_change: float,
    dead_band: float,
    step: float,
    abs_limit: float | None = None,
) -> Guarded:
    """Apply the dead-band and the step limit to a proposed value.

    Parameters
    ----------
    target : float
        The value the model proposes.
    current : float or None
        The current value (None: no guardrail applies).
    max_relative_change : float
        Largest ``|value - current| / current``; ignored when ``current`` is 0.
    dead_band : float
        ``|target - current| <= dead_band * current`` keeps ``current``.
    step : float
        Rounding step; a capped value is rounded toward ``current`` so the limit holds.
    abs_limit : float, optional
        Largest ``|value - current|`` (fractions; lending's bps limits / 1e4).

    Returns
    -------
    Guarded
        ``bound`` is ``'dead_band'``, ``'max_change'`` or None.
    """
    if current is None or target == current:
        return Guarded(target, None, None)
    diff = target - current
    if current > 0 and abs(diff) <= dead_band * current + 1e-12:
        return Guarded(current, target, "dead_band")
    lim = max_relative_change * current if current > 0 else math.inf
    if abs_limit is not None:
        lim = min(lim, abs_limit)
    if abs(diff) <= lim + 1e-12:
        return Guarded(target, None, None)
    edge = current + math.copysign(lim, diff)
    value = max(current, round_down(edge, step)) if diff > 0 else min(current, round_up(edge, step))
    return Guarded(value, target, "max_change")


# ---------------------------------------------------------------------------------------------
# perpetuals
# ---------------------------------------------------------------------------------------------


def maintenance_deductions(floors: Sequence[float], mmfs: Sequence[float]) -> tuple[float, ...]:
    """Maintenance deductions ``d_k`` (quote currency) keeping ``MM(N) = N mmf_k - d_k`` continuous.

    ``d_0 = 0``, ``d_k = d_{k-1} + floor_k (mmf_k - mmf_{k-1})``.

    Parameters
    ----------
    floors, mmfs : sequence of float, shape (n_tiers,)
        Tier notional floors (quote currency) and maintenance fractions.
    """
    out = [0.0]
    for k in range(1, len(floors)):
        out.append(out[-1] + float(floors[k]) * (float(mmfs[k]) - float(mmfs[k - 1])))
    return tuple(out)


def maintenance_margin(notional: float, tiers: Sequence[PerpTier]) -> float:
    """Maintenance margin of a position (quote currency): ``N * mmf_k - deduction_k`` in its tier."""
    tier = tiers[0]
    for t in tiers:
        if notional >= t.notional_floor:
            tier = t
    return notional * tier.mmf - tier.maintenance_deduction


def _grid_leverage(mmf: float, policy: RiskPolicy) -> tuple[float, str]:
    """The largest grid leverage with ``1 / L >= mmf / maintenance_fraction`` (1x when none qualifies)."""
    need = mmf / policy.perp.maintenance_fraction
    on_grid = [lev for lev in policy.perp.leverage_grid if 1.0 / lev >= need - 1e-12]
    return (max(on_grid), "grid") if on_grid else (1.0, "fallback_1x")


def _choose_leverage(mmf: float, policy: RiskPolicy, current_leverage: float | None) -> tuple[float, str, float | None]:
    """(leverage, bound, IMF the guardrail saw or None) for a tier's MMF (see the module docstring)."""
    g = policy.guardrails
    need = mmf / policy.perp.maintenance_fraction
    target, bound = _grid_leverage(mmf, policy)
    t_imf = 1.0 / target
    if current_leverage is None or current_leverage == target:
        return target, bound, None

    def feasible(lev: float) -> bool:
        return 1.0 / lev >= need - 1e-12 or lev == 1.0

    c_imf = 1.0 / current_leverage
    if abs(t_imf - c_imf) <= g.dead_band * c_imf + 1e-12 and feasible(current_leverage):
        return current_leverage, "dead_band", t_imf
    band = g.max_relative_change * c_imf
    if abs(t_imf - c_imf) <= band + 1e-12:
        return target, bound, None
    ok = [lev for lev in sorted({*policy.perp.leverage_grid, 1.0, current_leverage}) if feasible(lev)]
    in_band = [lev for lev in ok if abs(1.0 / lev - c_imf) <= band + 1e-12]
    if in_band:
        return min(in_band, key=lambda x: (abs(1.0 / x - t_imf), -1.0 / x)), "max_change", t_imf
    return max(ok), "invariant", None


def _brackets(
    policy: RiskPolicy, current: CurrentPerp | None
) -> tuple[list[float], list[float | None], list[float]]:
    """Floors, caps (None: open) and cost notionals of the tiers to propose."""
    pp = policy.perp
    if current is not None and pp.use_current_brackets:
        floors = [t.notional_floor for t in current.tiers]
        caps = [t.notional_cap for t in current.tiers]
    else:
        floors = list(pp.tier_breakpoints)
        caps = [*floors[1:], None]
    cost_n = [
        float(c) if c is not None else max(pp.last_tier_cost_notional, 2.0 * f) for f, c in zip(floors, caps,
                                                                                               strict=True)
    ]
    return floors, caps, cost_n


def _assess_current_perp(
    estimate: VolEstimate, policy: RiskPolicy, current: CurrentPerp, adv: float, sigma_daily: float
) -> tuple[CurrentTierAssessment, ...]:
    floors = [t.notional_floor for t in current.tiers]
    mmfs = [t.maintenance_rate for t in current.tiers]
    ded = maintenance_deductions(floors, mmfs)
    out = []
    for t, d in zip(current.tiers, ded, strict=True):
        n = float(t.notional_cap) if t.notional_cap is not None else max(
            policy.perp.last_tier_cost_notional, 2.0 * t.notional_floor)
        c = close_out_cost(n, adv=adv, sigma_daily=sigma_daily, policy=policy)
        cov = perp_coverage(estimate, t.maintenance_rate - c)
        out.append(CurrentTierAssessment(
            notional_floor=t.notional_floor, notional_cap=t.notional_cap, imf=t.imf, mmf=t.maintenance_rate,
            max_leverage=t.max_leverage, maintenance_deduction=d, liquidation_penalty=t.liquidation_penalty,
            close_out_cost=c, coverage=cov, below_confidence=cov < policy.confidence,
        ))
    return tuple(out)


def propose_tiers(
    estimate: VolEstimate,
    policy: RiskPolicy,
    *,
    adv: float,
    current: CurrentPerp | None = None,
    symbol: str = "",
    lookback_vol: float | None = None,
) -> PerpAssetProposal:
    """Propose the margin tiers and liquidation penalties of one perpetual market.

    Parameters
    ----------
    estimate : VolEstimate
        Fitted with ``policy.model`` (horizon and confidence of the policy), with
        ``horizon_quantiles``.
    policy : RiskPolicy
    adv : float
        Average daily traded value, quote currency, > 0.
    current : CurrentPerp, optional
        Current tier table: guardrails apply relative to it and its coverage is assessed.
    symbol : str
        For the result and its rationale.
    lookback_vol : float, optional
        Sample volatility per bar of the fitted returns, for the long-run floor (see :func:`long_run_vol`).

    Returns
    -------
    PerpAssetProposal
        Tiers with ``0 <= penalty < MMF < IMF <= 1``, MMF and IMF non-decreasing, maintenance
        continuous at the edges (see the module docstring for every step).
    """
    g, rd = policy.guardrails, policy.rounding
    cm = covered_move(estimate, policy, lookback_vol=lookback_vol)
    m = cm.final
    inc = policy.liquidator_incentive
    sd = daily_vol(estimate)
    floors, caps, cost_n = _brackets(policy, current)
    costs = [close_out_cost(n, adv=adv, sigma_daily=sd, policy=policy) for n in cost_n]
    cur_tiers = None if current is None else [current.at(f) for f in floors]
    assessment = None if current is None else _assess_current_perp(estimate, policy, current, adv, sd)
    notes: list[str] = []

    # 1. model MMF, rounded up, monotone; tiers reaching 100 % are dropped
    raw = [m + c + inc for c in costs]
    targets: list[float] = []
    mmf_model_bound: list[str] = []
    for r in raw:
        v = round_up(r, rd.mmf_step)
        if targets and v < targets[-1]:
            targets.append(targets[-1])
            mmf_model_bound.append("monotonic")
        else:
            targets.append(v)
            mmf_model_bound.append("model")
    n_ok = next((k for k, v in enumerate(targets) if v >= 1.0), len(targets))
    truncated = n_ok < len(floors)
    position_limit = floors[n_ok] if truncated else caps[-1]
    if n_ok == 0:
        rationale = _rationale_unmarginable_perp(symbol, estimate, policy, cm, costs[0], assessment)
        return PerpAssetProposal(
            symbol=symbol, status="unmarginable", tiers=(), position_limit=0.0, covered=cm, current=assessment,
            lines=(), rationale=rationale, notes=(f"model MMF of the first tier is {targets[0]:.2%} >= 100%",),
        )
    if truncated:
        notes.append(
            f"tiers from {_money(floors[n_ok])} notional need an MMF of 100% or more and are dropped: "
            f"position limit {_money(floors[n_ok])}"
        )
    ks = range(n_ok)

    # the model alone (no guardrails): leverage and penalty
    lev_model: list[float] = []
    lev_model_bound: list[str] = []
    for k in ks:
        lev_m, lev_mb = _grid_leverage(targets[k], policy)
        if lev_model and lev_m > lev_model[-1]:
            lev_m, lev_mb = lev_model[-1], "monotonic"
        lev_model.append(lev_m)
        lev_model_bound.append(lev_mb)
    pen_target = [round_up(costs[k] + inc, rd.penalty_step) for k in ks]
    pen_model = [min(pen_target[k], _penalty_cap(targets[k], m, rd.penalty_step)) for k in ks]

    # 2. guardrails on MMF, then monotone again
    mmfs: list[float] = []
    mmf_b: list[str | None] = []
    mmf_unc: list[float | None] = []
    for k in ks:
        cur = None if cur_tiers is None else cur_tiers[k].maintenance_rate
        gd = apply_guardrail(targets[k], cur, max_relative_change=g.max_relative_change, dead_band=g.dead_band,
                             step=rd.mmf_step)
        v, b, unc = gd.value, gd.bound, gd.uncapped
        if mmfs and v < mmfs[-1]:
            v, b, unc = mmfs[-1], "monotonic", None
        mmfs.append(v)
        mmf_b.append(b)
        mmf_unc.append(unc)

    # 3. leverage from the grid, guardrails, monotone
    levs: list[float] = []
    lev_b: list[str | None] = []
    imf_unc: list[float | None] = []
    for k in ks:
        cur_l = None if cur_tiers is None else cur_tiers[k].max_leverage
        lev, b, unc = _choose_leverage(mmfs[k], policy, cur_l)
        if levs and lev > levs[-1]:
            lev, b, unc = levs[-1], "monotonic", None
        levs.append(lev)
        lev_b.append(b if b in ("dead_band", "max_change", "invariant", "monotonic") else None)
        imf_unc.append(unc)
    imfs = [1.0 / lev for lev in levs]

    # 4. penalties
    pens: list[float] = []
    pen_b: list[str | None] = []
    pen_unc: list[float | None] = []
    for k in ks:
        cur_p = None if cur_tiers is None else cur_tiers[k].liquidation_penalty
        gd = apply_guardrail(pen_target[k], cur_p, max_relative_change=g.max_relative_change,
                             dead_band=g.dead_band, step=rd.penalty_step)
        v, b, unc = gd.value, gd.bound, gd.uncapped
        cap = _penalty_cap(mmfs[k], m, rd.penalty_step)
        if v > cap:
            v, b, unc = cap, "maintenance_cap", None
        pens.append(v)
        pen_b.append(b)
        pen_unc.append(unc)

    # 5. deductions, 6. coverage
    fl = floors[:n_ok]
    ded = maintenance_deductions(fl, mmfs)
    tiers = tuple(
        PerpTier(
            notional_floor=float(fl[k]), notional_cap=caps[k], imf=imfs[k], mmf=mmfs[k], max_leverage=levs[k],
            maintenance_deduction=ded[k], liquidation_penalty=pens[k],
            coverage=perp_coverage(estimate, mmfs[k] - costs[k]), close_out_cost=costs[k],
            cost_notional=cost_n[k], mmf_model=targets[k],
        )
        for k in ks
    )

    def bound(guard: str | None, value: float, model: float, model_bound: str) -> str:
        if guard is not None:
            return guard
        return model_bound if abs(value - model) <= 1e-12 else "follows"

    lines: list[ParamLine] = []
    for k in ks:
        ct = None if cur_tiers is None else cur_tiers[k]
        iu = imf_unc[k]
        lb = bound(lev_b[k], levs[k], lev_model[k], lev_model_bound[k])
        pen_mb = "model" if pen_model[k] >= pen_target[k] else "maintenance_cap"
        lines += [
            ParamLine(parameter="max_leverage", tier=k, current=None if ct is None else ct.max_leverage,
                      proposed=levs[k], model=lev_model[k], uncapped=None if iu is None else 1.0 / iu, bound=lb),
            ParamLine(parameter="imf", tier=k, current=None if ct is None else ct.imf, proposed=imfs[k],
                      model=1.0 / lev_model[k], uncapped=iu, bound=lb),
            ParamLine(parameter="mmf", tier=k, current=None if ct is None else ct.maintenance_rate,
                      proposed=mmfs[k], model=targets[k], uncapped=mmf_unc[k],
                      bound=bound(mmf_b[k], mmfs[k], targets[k], mmf_model_bound[k])),
            ParamLine(parameter="liquidation_penalty", tier=k,
                      current=None if ct is None else ct.liquidation_penalty, proposed=pens[k], model=pen_model[k],
                      uncapped=pen_unc[k], bound=bound(pen_b[k], pens[k], pen_model[k], pen_mb)),
        ]
    rationale = _rationale_perp(symbol, estimate, policy, cm, tiers, raw, lines, assessment, adv,
                                position_limit if truncated else None)
    return PerpAssetProposal(
        symbol=symbol, status="ok", tiers=tiers, position_limit=position_limit, covered=cm, current=assessment,
        lines=tuple(lines), rationale=rationale, notes=tuple(notes),
    )


def _penalty_cap(mmf: float, m: float, step: float) -> float:
    """What maintenance leaves after the covered move, rounded down: ``round_down(mmf - m)``, at least 0
    and always below ``mmf``."""
    cap = max(0.0, round_down(mmf - m, step))
    if cap >= mmf:
        cap = max(0.0, round_down(mmf - step, step))
    return cap


# ---------------------------------------------------------------------------------------------
# lending
# ---------------------------------------------------------------------------------------------


def propose_lending(
    estimate: VolEstimate,
    policy: RiskPolicy,
    *,
    adv: float,
    current: CurrentLending | None = None,
    symbol: str = "",
    lookback_vol: float | None = None,
) -> LendingAssetProposal:
    """Propose LTV, liquidation threshold and liquidation bonus of one collateral asset.

    Parameters
    ----------
    estimate : VolEstimate
        Fitted with the policy's model, horizon and confidence, with ``horizon_quantiles``.
    policy : RiskPolicy
    adv : float
        Average daily traded value, quote currency, > 0.
    current : CurrentLending, optional
        Current parameters: guardrails (relative and bps) apply relative to them and their
        coverage is assessed.
    symbol : str
    lookback_vol : float, optional
        Sample volatility per bar of the fitted returns, for the long-run floor (see :func:`long_run_vol`).

    Returns
    -------
    LendingAssetProposal
        Fractions with ``0 <= ltv < liquidation_threshold``, ``liquidation_threshold * (1 + bonus) <= 1``
        (see the module docstring).
    """
    g, step = policy.guardrails, policy.rounding.lending_step
    bps = g.lending_max_change_bps
    cm = covered_move(estimate, policy, lending=True, lookback_vol=lookback_vol)
    d = cm.final
    sd = daily_vol(estimate)
    cost = close_out_cost(policy.lending.reference_liquidation_notional, adv=adv, sigma_daily=sd, policy=policy)
    inc = policy.liquidator_incentive
    assessment = None
    if current is not None:
        cov = lending_coverage(estimate, current.liquidation_threshold, current.liquidation_bonus)
        assessment = LendingCurrentAssessment(
            ltv=current.ltv, liquidation_threshold=current.liquidation_threshold,
            liquidation_bonus=current.liquidation_bonus, coverage=cov, below_confidence=cov < policy.confidence,
        )

    def guard(target: float, cur: float | None, name: str) -> Guarded:
        return apply_guardrail(target, cur, max_relative_change=g.max_relative_change, dead_band=g.dead_band,
                               step=step, abs_limit=bps[name] / 10_000.0)

    # the model alone
    lb_m = round_up(cost + inc, step)
    lt_m = max(0.0, round_down((1.0 - d) / (1.0 + lb_m), step))
    ltv_m = max(0.0, round_down(lt_m - policy.lending.ltv_buffer, step))
    unmarginable = ltv_m <= 0.0  # no borrowing capacity: freeze (LTV 0); LT and bonus still proposed
    notes: tuple[str, ...] = ()
    if unmarginable:
        notes = (f"covered drop {d:.2%} leaves a liquidation threshold of {lt_m:.2%}, no room for borrowing after "
                 f"the {policy.lending.ltv_buffer:.2%} buffer: LTV 0 (new borrowing frozen)",)
    cur = current
    # with guardrails, in order: bonus, threshold (with the bonus actually set), LTV
    gb = guard(lb_m, None if cur is None else cur.liquidation_bonus, "liquidation_bonus")
    lb = gb.value
    lt_target = max(0.0, round_down((1.0 - d) / (1.0 + lb), step))
    gt = guard(lt_target, None if cur is None else cur.liquidation_threshold, "liquidation_threshold")
    lt, lt_bound = gt.value, gt.bound
    cap = round_down(1.0 / (1.0 + lb), step)
    if lt > cap:
        lt, lt_bound = cap, "invariant"
    ltv_target = max(0.0, round_down(lt - policy.lending.ltv_buffer, step))
    gv = guard(ltv_target, None if cur is None else cur.ltv, "ltv")
    ltv, ltv_bound = gv.value, gv.bound
    if unmarginable and ltv > 0.0:  # freezing new borrowing liquidates nobody: no guardrail holds it back
        ltv, ltv_bound = 0.0, "invariant"
    elif ltv >= lt and lt > 0.0:
        ltv, ltv_bound = max(0.0, round_down(lt - step, step)), "invariant"
    cov = lending_coverage(estimate, lt, lb)

    def line(name: str, value: float, model: float, gd: Guarded, bound: str | None, cur_v: float | None) -> ParamLine:
        if bound is None:
            bound = "model" if abs(value - model) <= 1e-12 else "follows"
        unc = gd.uncapped if bound in ("dead_band", "max_change") else None
        return ParamLine(parameter=name, tier=None, current=cur_v, proposed=value, model=model, uncapped=unc,
                         bound=bound)

    lines = (
        line("ltv", ltv, ltv_m, gv, ltv_bound, None if cur is None else cur.ltv),
        line("liquidation_threshold", lt, lt_m, gt, lt_bound, None if cur is None else cur.liquidation_threshold),
        line("liquidation_bonus", lb, lb_m, gb, gb.bound, None if cur is None else cur.liquidation_bonus),
    )
    rationale = _rationale_lending(symbol, estimate, policy, cm, cost, ltv, lt, lb, cov, lines, assessment,
                                   unmarginable=unmarginable)
    return LendingAssetProposal(
        symbol=symbol, status="unmarginable" if unmarginable else "ok", ltv=ltv, liquidation_threshold=lt,
        liquidation_bonus=lb, coverage=cov, close_out_cost=cost, covered=cm, current=assessment, lines=lines,
        rationale=rationale, notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# rationale: short plain English from the numbers
# ---------------------------------------------------------------------------------------------


def _money(x: float | None) -> str:
    if x is None:
        return "open"
    for unit, div in (("bn", 1e9), ("m", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:,.4g}{unit}"
    return f"{x:,.0f}"


def _regime(cm: CoveredMove, policy: RiskPolicy) -> str:
    if cm.in_stress:
        return f"stress: at least {policy.apc.buffer_release_ratio:.0%} of the stressed level"
    r = cm.vol_forecast / cm.vol_long_run if _ok(cm.vol_long_run) else math.nan
    if not math.isfinite(r):
        return "long-run level unknown"
    if r < 0.8:
        return f"calm: {r:.2f}x the long-run level"
    if r <= 1.25:
        return f"normal: {r:.2f}x the long-run level"
    return f"elevated: {r:.2f}x the long-run level"


def _vol_sentence(symbol: str, estimate: VolEstimate, policy: RiskPolicy, cm: CoveredMove) -> str:
    model = f"{estimate.model.value}-{estimate.dist.value}"
    fb = f" (fallback: {estimate.fallback})" if estimate.fallback else ""
    return (
        f"{symbol}: forecast volatility {cm.vol_forecast_annualised:.0%} a year over the next "
        f"{policy.horizon_hours:g}h against {cm.vol_long_run_annualised:.0%} long-run "
        f"({_BASIS_TEXT.get(cm.long_run_basis, cm.long_run_basis)}) and "
        f"{cm.vol_stressed_annualised:.0%} stressed ({_regime(cm, policy)}); model {model}{fb}."
    )


_BASIS_TEXT = {"sample": "sample volatility of the history", "conditional": "mean conditional variance",
               "model": "the model's unconditional level"}


def _move(x: float) -> str:
    """A price move as a percentage; beyond 1000 % just says so."""
    return f"{x:.2%}" if x <= 10 else ">1000%"


def _move_sentence(policy: RiskPolicy, cm: CoveredMove) -> str:
    side = {"lower": "fall", "upper": "rise"}[cm.tail]
    s = (f"The {policy.confidence:.1%} {cm.measure.upper()} price {side} over {policy.horizon_hours:g}h is "
         f"{_move(cm.model)} by the model")
    steps = []
    if "stressed_weight" in cm.binding:
        steps.append(f"the {policy.apc.stressed_weight:.0%} stressed weight lifts it to "
                     f"{_move(cm.after_stressed_weight)}")
    if "long_run_floor" in cm.binding:
        steps.append(f"the long-run floor lifts it to {_move(cm.after_floor)}")
    if "buffer" in cm.binding:
        steps.append(f"the {policy.apc.buffer:.0%} buffer makes it {_move(cm.final)}")
    elif policy.apc.buffer_enabled and cm.in_stress:
        steps.append("the buffer is released in stress")
    if steps:
        s += "; " + ", ".join(steps)
    return s + f": covered move {_move(cm.final)}."


_BOUND_TEXT = {
    "dead_band": "kept by the dead-band",
    "max_change": "capped by the max change",
    "invariant": "moved past the max change by an invariant",
    "maintenance_cap": "cut to what maintenance leaves after the covered move",
}


def _guard_sentence(lines: Sequence[ParamLine]) -> str:
    bits = []
    for ln in lines:
        if ln.bound not in _BOUND_TEXT or ln.parameter == "imf":
            continue
        if ln.bound == "maintenance_cap" and ln.current is None:
            continue  # the model's own cap, explained by the tier sentence
        where = f" tier {ln.tier + 1}" if ln.tier is not None else ""
        fmt = (lambda x: f"{x:g}x") if ln.parameter == "max_leverage" else (lambda x: f"{x:.2%}")
        ref = ln.uncapped if ln.uncapped is not None else ln.model
        label = "uncapped" if ln.uncapped is not None else "model"
        bits.append(f"{ln.parameter}{where} {_BOUND_TEXT[ln.bound]}: {fmt(ln.proposed)} ({label} {fmt(ref)})")
    if not bits:
        return ""
    shown = bits[:4]
    more = f" and {len(bits) - 4} more" if len(bits) > 4 else ""
    return "Guardrails and invariants: " + "; ".join(shown) + more + "."


def _rationale_perp(
    symbol: str,
    estimate: VolEstimate,
    policy: RiskPolicy,
    cm: CoveredMove,
    tiers: Sequence[PerpTier],
    raw: Sequence[float],
    lines: Sequence[ParamLine],
    assessment: Sequence[CurrentTierAssessment] | None,
    adv: float,
    position_limit: float | None,
) -> str:
    t0, tn = tiers[0], tiers[-1]
    mf = policy.perp.maintenance_fraction
    parts = [_vol_sentence(symbol, estimate, policy, cm), _move_sentence(policy, cm)]
    parts.append(
        f"Close-out cost {t0.close_out_cost:.2%} (tier 1) to {tn.close_out_cost:.2%} (tier {len(tiers)}, "
        f"at {_money(tn.cost_notional)}) with ADV {_money(adv)}; liquidator incentive "
        f"{policy.liquidator_incentive:.2%}."
    )
    lev_why = ("the largest on the grid with IMF >= MMF / "
               f"{mf:g} = {t0.mmf / mf:.2%}") if t0.mmf / mf <= 1 else "1x: no grid leverage keeps IMF >= MMF / " \
        f"{mf:g}"
    parts.append(
        f"Tier 1: the model's MMF is move + cost + incentive = {raw[0]:.2%}, rounded up to {t0.mmf_model:.2%}; "
        f"proposed MMF {t0.mmf:.2%}, max leverage {t0.max_leverage:g}x ({lev_why}), penalty "
        f"{t0.liquidation_penalty:.2%}; coverage {t0.coverage:.2%} at tier 1, {tn.coverage:.2%} at tier {len(tiers)}."
    )
    gs = _guard_sentence(lines)
    if gs:
        parts.append(gs)
    if position_limit is not None:
        parts.append(f"Positions above {_money(position_limit)} cannot be margined (MMF would reach 100%).")
    if assessment is not None:
        worst = min(assessment, key=lambda a: a.coverage)
        k = list(assessment).index(worst) + 1
        flag = "below" if worst.coverage < policy.confidence else "meeting"
        parts.append(f"Current brackets cover at worst {worst.coverage:.2%} (bracket {k}), {flag} the "
                     f"{policy.confidence:.1%} target.")
    return " ".join(parts)


def _rationale_unmarginable_perp(
    symbol: str,
    estimate: VolEstimate,
    policy: RiskPolicy,
    cm: CoveredMove,
    cost0: float,
    assessment: Sequence[CurrentTierAssessment] | None,
) -> str:
    parts = [_vol_sentence(symbol, estimate, policy, cm), _move_sentence(policy, cm)]
    parts.append(
        f"With close-out cost {cost0:.2%} and incentive {policy.liquidator_incentive:.2%} the first tier needs an "
        "MMF of 100% or more: no leverage can be offered (unmarginable; consider reduce-only or delisting)."
    )
    if assessment is not None:
        worst = min(assessment, key=lambda a: a.coverage)
        parts.append(f"Current brackets cover at worst {worst.coverage:.2%}.")
    return " ".join(parts)


def _rationale_lending(
    symbol: str,
    estimate: VolEstimate,
    policy: RiskPolicy,
    cm: CoveredMove,
    cost: float,
    ltv: float,
    lt: float,
    lb: float,
    cov: float,
    lines: Sequence[ParamLine],
    assessment: LendingCurrentAssessment | None,
    *,
    unmarginable: bool = False,
) -> str:
    parts = [_vol_sentence(symbol, estimate, policy, cm), _move_sentence(policy, cm)]
    ref = _money(policy.lending.reference_liquidation_notional)
    model_lt = next((ln.model for ln in lines if ln.parameter == "liquidation_threshold"), lt)
    model_lb = next((ln.model for ln in lines if ln.parameter == "liquidation_bonus"), lb)
    if unmarginable:
        parts.append(
            f"With a bonus of {model_lb:.2%} (close-out of {ref}: {cost:.2%}, plus incentive) the model's "
            f"liquidation threshold is {model_lt:.2%}, no room for borrowing after the "
            f"{policy.lending.ltv_buffer:.2%} buffer: not usable as new collateral (LTV 0, new borrowing frozen); "
            f"proposed LT {lt:.2%}, bonus {lb:.2%}, coverage {cov:.2%}."
        )
        gs = _guard_sentence(lines)
        if gs:
            parts.append(gs)
    else:
        parts.append(
            f"The model's bonus is close-out of {ref} ({cost:.2%}) + incentive {policy.liquidator_incentive:.2%} "
            f"rounded up = {model_lb:.2%}, its LT (1 - {cm.final:.2%}) / (1 + {model_lb:.2%}) rounded down = "
            f"{model_lt:.2%} and its LTV that less the {policy.lending.ltv_buffer:.2%} buffer; proposed LTV "
            f"{ltv:.2%}, LT {lt:.2%}, bonus {lb:.2%}; coverage {cov:.2%}."
        )
        gs = _guard_sentence(lines)
        if gs:
            parts.append(gs)
    if assessment is not None:
        flag = "below" if assessment.below_confidence else "meeting"
        parts.append(f"Current parameters cover {assessment.coverage:.2%}, {flag} the {policy.confidence:.1%} target.")
    return " ".join(parts)

"""Policy math: from a volatility forecast to margin tiers, penalties and lending parameters.

Pure: numpy and the standard library on values (:class:`~riskparams.volatility.VolEstimate`,
:class:`~riskparams.config.RiskPolicy`, current parameters); no I/O, no store, no fitting. The
service (:func:`riskparams.service.propose`) fits, measures liquidity and stores the result.

Units: fractions (0.03 = 3 %) for moves, margins, costs, penalties, LTV/LT/bonus and coverages;
notionals and ADV in quote currency; horizons in hours; volatilities per bar unless a name says
annualised.

The math, exactly as implemented
--------------------------------
**Margin period of risk** of a tier of notional ``N`` (:func:`margin_period`): oracle latency +
liquidation delay + close-out time ``N / (participation_rate * ADV / 24)`` hours, floored at
``mpor.min_hours`` (``mpor.fixed_hours > 0``: that flat horizon for every tier). A tier whose MPOR
exceeds ``mpor.max_hours`` (or the fitted term structure) is not offered.

**Model-risk band** at a horizon ``H`` (:func:`model_risk_band`): per tail, the log-return VaR or ES
(``policy.measure``) at ``policy.confidence`` over ``H`` from the estimate's term structure
(:class:`riskparams.term.RiskTerm`) under the fitted law, filtered historical simulation (FHS) and
plain historical simulation; ``model_risk.combine`` takes their median (the larger of two when FHS is
unavailable), maximum, minimum or one of them: ``x0``. The band reports each as the worse tail's price
move and names the one that bound.

**Covered move** ``m`` at ``H`` (:func:`covered_move`). With ``s_c`` the one-step forecast
volatility, ``s_L`` the long-run volatility (``lookback``: the sample standard deviation of the fitted
returns, passed by the service, or ``sqrt(mean(conditional_vol**2))`` when not given; ``model``: the
model's unconditional volatility unless it is not finite or above ``s_S``) and ``s_S`` the stressed
volatility (worst rolling-window volatility of the history), per tail:

* (b) stressed weight ``w``: ``x1 = (1 - w) x0 + w x0 max(1, s_S / s_c)``;
* (c) long-run floor: ``x2 = max(x1, x0 s_L / s_c)``;
* the log move becomes a price move, ``1 - exp(-x2)`` (lower) or ``exp(x2) - 1`` (upper);
* (a) buffer ``b``: ``m = move (1 + b)`` (lower tail capped at 1) unless in stress, i.e. unless
  ``s_c >= buffer_release_ratio * s_S``.

Perpetuals take the worse tail; lending the lower tail. The vol ratios do not depend on ``H``, so the
covered move is non-decreasing in the horizon (the term structure is) and in the confidence.

**Close-out cost** of a notional ``N`` (:func:`close_out_cost`): the square-root law
``c(N) = half_spread + impact_k * sigma_daily * sqrt(N / ADV)``
(:func:`riskparams.measures.impact_cost`), ``sigma_daily = next_vol * sqrt(24 / hours per bar)``.

**Perpetual tiers** (:func:`propose_tiers`), tier ``k`` with floor ``F_k`` and cap ``N_k`` (the open
last tier: ``max(last_tier_cost_notional, 2 F_k)``), ``c_k = c(N_k)``, ``H_k`` its MPOR, ``m_k`` the
covered move at ``H_k``, incentive ``i``:

1. ``MMF_k = round_up(m_k + c_k + i, mmf_step)``, then a cumulative maximum over the tiers;
   a tier whose MMF reaches 1 or whose MPOR is too long, and every larger tier, are dropped
   (``position_limit = F_k``; the asset is ``unmarginable`` if that is the first tier);
2. guardrails against the current MMF of the bracket holding ``F_k`` (:func:`apply_guardrail`),
   then the cumulative maximum again; in a stressed regime (unless ``guardrails.loosen_in_stress``)
   an MMF below the current one is held at the current one (``stress_hold``);
3. ``L_k`` = the largest grid leverage with ``1 / L >= MMF_k / maintenance_fraction`` (1x when none
   qualifies: IMF 100 % > MMF); guardrails on IMF pick, among feasible leverages (grid, 1x, the
   current one), the IMF closest to that target inside the allowed band, and the smallest feasible
   IMF when the band holds none; in stress a leverage above the current one is held at it; then
   ``L_k = min(L_k, L_{k-1})``; ``IMF_k = 1 / L_k``;
4. ``penalty_k = max(round_up(i), min(guardrail(round_up(c_k + i, penalty_step)), round_down(MMF_k - m_k)))``:
   what covers close-out and incentive, no more than what maintenance leaves after the covered move,
   and **never below the liquidator incentive** (when a guardrail holds the MMF too low to leave the
   incentive, the tier is ``under_covered``, not the liquidator unpaid); MMF is raised above the
   penalty if it would not exceed it;
5. ``d_0 = 0``, ``d_k = d_{k-1} + F_k (MMF_k - MMF_{k-1})``, so that the maintenance margin
   ``MM(N) = N MMF_k - d_k`` is continuous at the tier edges;
6. coverage ``= min over tails of P(adverse price move over H_k <= MMF_k - c_k)`` under the
   distribution of the estimate that bound the covered move; ``under_covered`` when a guardrail
   holds ``MMF_k`` below the model's.

Invariants: ``0 < penalty < MMF < IMF <= 1``; MMF and IMF non-decreasing with tier size.

**Lending** (:func:`propose_lending`), ``d`` the covered drop over ``policy.horizon_hours`` (lower
tail), the bonus from what a liquidator must be paid (:class:`~riskparams.domain.LendingBonus`):

1. ``LB = round_up(i + slippage + inventory, lending_step)`` -> guardrail, where ``slippage`` is the
   cost of selling the policy's liquidation size on the stated liquidity (a depth curve, or the
   square-root law on a named ADV at the **stressed** daily volatility) and ``inventory`` the VaR at
   ``lending.bonus_confidence`` of the collateral's fall while the liquidator sells over
   ``lending.liquidator_hold_hours``, at the stressed volatility (liquidations cluster in crashes);
2. ``LT = round_down((1 - d) / (1 + LB), lending_step)`` -> guardrail -> ``min(LT, round_down(1 / (1 + LB)))``
   (a liquidation at the threshold must not start under water);
3. ``LTV = max(0, round_down(LT - ltv_buffer, lending_step))`` -> guardrail -> ``min(LTV, LT - lending_step)``;
4. coverage ``= P(drop <= 1 - LT (1 + LB))``; in stress LTV and LT do not rise (unless allowed).

If the model's LT is not positive the asset is ``unmarginable``: LTV = LT = 0 (not usable as collateral).

**Caps** (:func:`perp_cap`, :func:`lending_cap`; formulas in :mod:`riskparams.book.caps`): an open-interest cap
per perpetual from tier 1 (MMF, max leverage, penalty) and a supply cap, borrow cap and (isolation mode) debt
ceiling per collateral asset from the proposed LTV, LT and bonus, each the smaller of a liquidity limit and a
loss-budget limit under the extreme move (the covered move rescaled to the stressed volatility), slippage from
each product's own cost model (perpetuals: :func:`close_out_cost` at the forecast volatility, the model that priced
the penalty; lending: the bonus's slippage, a depth curve or the square-root law at the stressed volatility). The
perpetual's extreme move is over the policy's ``horizon_hours`` (a crash day decides
who is liquidated); bad debt accrues over tier 1's margin period while each liquidated position is closed.

**Guardrails** (:func:`apply_guardrail`), given a current value ``v0``: if ``|t - v0| <= dead_band * v0``
the current value is kept; otherwise a change larger than ``max_relative_change * v0`` (lending: also
larger than the bps limit) is cut to that limit and rounded onto the step grid toward ``v0``, so a
guardrail is never exceeded. Invariants (MMF < IMF, penalty <= MMF - m, LT (1 + LB) <= 1, LTV < LT,
monotone tiers) win over guardrails; the line then says ``bound='invariant'`` or ``'monotonic'``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from riskparams.book.caps import (
    LendingCaps,
    PerpCap,
    describe_lending_caps,
    describe_perp_cap,
    lending_caps,
    open_interest_cap,
    sqrt_law_slippage,
    stressed_move,
)
from riskparams.config import Combine, RiskPolicy
from riskparams.domain import (
    CoveredMove,
    CurrentLending,
    CurrentPerp,
    CurrentTierAssessment,
    LendingAssetProposal,
    LendingBonus,
    LendingCurrentAssessment,
    MarginPeriod,
    ModelRiskBand,
    ParamLine,
    PeerComparison,
    PeerTable,
    PerpAssetProposal,
    PerpTier,
    TierHorizon,
)
from riskparams.fmt import format_hours, format_notional
from riskparams.measures import Tail, impact_cost, log_to_price_move
from riskparams.returns import bars_per_year, hours_per_bar
from riskparams.term import RiskTerm, TermMethod
from riskparams.tiers import TierTable, maintenance_deductions
from riskparams.volatility import VolEstimate

__all__ = [
    "Guarded",
    "apply_guardrail",
    "close_out_cost",
    "compare_peers",
    "covered_move",
    "daily_vol",
    "forecast_vol",
    "lending_bonus",
    "lending_cap",
    "lending_coverage",
    "long_run_vol",
    "maintenance_deductions",
    "maintenance_margin",
    "margin_period",
    "term_hours",
    "model_risk_band",
    "peer_gaps",
    "perp_cap",
    "perp_coverage",
    "propose_lending",
    "propose_tiers",
    "regime",
    "round_down",
    "round_up",
]

_EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# rounding
# ---------------------------------------------------------------------------------------------


def round_up(x: float, step: float) -> float:
    """Smallest multiple of ``step`` >= ``x`` (a relative 1e-9 of a step absorbs float noise); an infinite ``x``
    (a covered move beyond any price, from absurd data) stays infinite."""
    if math.isinf(x):
        return x
    return round(math.ceil(x / step - _EPS) * step, 12)


def round_down(x: float, step: float) -> float:
    """Largest multiple of ``step`` <= ``x`` (a relative 1e-9 of a step absorbs float noise)."""
    return round(math.floor(x / step + _EPS) * step, 12)


# ---------------------------------------------------------------------------------------------
# volatilities, regime and the covered move
# ---------------------------------------------------------------------------------------------


def forecast_vol(estimate: VolEstimate) -> float:
    """The one-step forecast volatility per bar (``next_vol``): the current level the anti-procyclicality
    ratios and the regime compare with the long-run and stressed levels (horizon-free, so every tier of
    an asset sees the same regime)."""
    return float(estimate.next_vol)


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


def _ok(x: float) -> bool:
    return math.isfinite(x) and x > 0


def _term(estimate: VolEstimate) -> RiskTerm:
    if estimate.term is None:
        raise ValueError("the volatility estimate has no term structure (serialised by an older riskparams); "
                         "refit it")
    return estimate.term


def regime(estimate: VolEstimate, policy: RiskPolicy, lookback_vol: float | None = None) -> tuple[str, bool]:
    """The volatility regime: ``('stress', True)`` when the forecast volatility is at least
    ``apc.buffer_release_ratio`` times the stressed volatility, else ``calm`` (below 0.8x the long-run
    level), ``normal`` (up to 1.25x) or ``elevated``; the flag says whether it is stress."""
    s_c = forecast_vol(estimate)
    s_s = float(estimate.stressed_vol)
    if _ok(s_c) and _ok(s_s) and s_c >= policy.apc.buffer_release_ratio * s_s:
        return "stress", True
    s_l, _ = long_run_vol(estimate, policy.apc.long_run_source.value, lookback_vol)
    r = s_c / s_l if _ok(s_l) else math.nan
    if not math.isfinite(r):
        return "unknown", False
    return ("calm" if r < 0.8 else "normal" if r <= 1.25 else "elevated"), False


def _combine(values: dict[str, float], how: Combine) -> tuple[float, str]:
    """(value, method) per the policy's ``model_risk.combine`` over the available methods."""
    ok = {k: v for k, v in values.items() if math.isfinite(v)}
    if not ok:
        return math.nan, TermMethod.FITTED.value
    if how.value in ok:
        return ok[how.value], how.value
    if how in (Combine.FITTED, Combine.FHS, Combine.EMPIRICAL):  # asked-for method unavailable
        how = Combine.MAX
    ranked = sorted(ok.items(), key=lambda kv: (kv[1], kv[0]))
    if how is Combine.MAX or (how is Combine.MEDIAN and len(ranked) == 2):
        k, v = ranked[-1]
    elif how is Combine.MIN:
        k, v = ranked[0]
    else:
        k, v = ranked[len(ranked) // 2]
    return v, k


def model_risk_band(
    estimate: VolEstimate, policy: RiskPolicy, hours: float, *, lending: bool = False
) -> tuple[ModelRiskBand, dict[Tail, float], dict[Tail, str]]:
    """The covered move at ``hours`` from the fitted law, FHS and historical simulation.

    Returns
    -------
    (band, x0, bound)
        ``band`` (price moves of the worse tail per method, the combined one and its method), and per
        tail the combined log move ``x0`` and the method it took.
    """
    band, x0, bound = _band(estimate, policy, hours, lending)
    return band, dict(x0), dict(bound)


def _band(estimate: VolEstimate, policy: RiskPolicy, hours: float, lending: bool,
          ) -> tuple[ModelRiskBand, dict[Tail, float], dict[Tail, str]]:
    """:func:`model_risk_band` as remembered on the term (shared: callers must not change the dicts)."""
    term = _term(estimate)
    key = ("model_risk_band", float(hours), float(policy.confidence), policy.measure.value,
           policy.model_risk.combine.value, bool(lending), estimate.nu)
    return term.memo(key, lambda: _model_risk_band(estimate, term, policy, hours, lending))  # type: ignore[no-any-return]


def _model_risk_band(estimate: VolEstimate, term: RiskTerm, policy: RiskPolicy, hours: float, lending: bool,
                     ) -> tuple[ModelRiskBand, dict[Tail, float], dict[Tail, str]]:
    q, meas = policy.confidence, policy.measure.value
    tails = (Tail.LOWER,) if lending else (Tail.LOWER, Tail.UPPER)
    per: dict[str, dict[Tail, float]] = {
        m: {t: term.tail_measure(m, hours, q, meas, t) for t in tails} for m in term.methods
    }
    x0: dict[Tail, float] = {}
    bound: dict[Tail, str] = {}
    for t in tails:
        x0[t], bound[t] = _combine({m: max(0.0, v[t]) for m, v in per.items()}, policy.model_risk.combine)

    def worse(m: str) -> float | None:
        if m not in per:
            return None
        return max(log_to_price_move(max(0.0, per[m][t]), t) for t in tails)

    moves = {t: log_to_price_move(x0[t], t) for t in tails}
    wt = max(moves, key=lambda t: moves[t])
    band = ModelRiskBand(
        horizon_hours=float(hours), measure=meas, confidence=q, fitted=float(worse(TermMethod.FITTED.value) or 0.0),
        fhs=worse(TermMethod.FHS.value), empirical=worse(TermMethod.EMPIRICAL.value), nu=estimate.nu,
        combine=policy.model_risk.combine.value, combined=moves[wt], bound=bound[wt], basis=term.basis(hours),
    )
    return band, x0, bound


def covered_move(
    estimate: VolEstimate,
    policy: RiskPolicy,
    *,
    lending: bool = False,
    lookback_vol: float | None = None,
    hours: float | None = None,
) -> CoveredMove:
    """The adverse price move the margin covers over ``hours``, with the anti-procyclicality tools applied.

    Parameters
    ----------
    estimate : VolEstimate
        With a term structure reaching ``hours``.
    policy : RiskPolicy
    lending : bool
        Lower tail only (collateral loses when the price falls); otherwise the worse of both tails.
    lookback_vol : float, optional
        Sample volatility per bar of the fitted returns (see :func:`long_run_vol`).
    hours : float, optional
        The margin period of risk; default the estimate's ``horizon_hours``.

    Returns
    -------
    CoveredMove
        ``final`` is ``m`` (fraction of price); see the module docstring for the formulas.
    """
    return _covered(estimate, policy, lending=lending, lookback_vol=lookback_vol,
                    hours=float(estimate.horizon_hours) if hours is None else float(hours))[0]


def _covered(
    estimate: VolEstimate, policy: RiskPolicy, *, lending: bool, lookback_vol: float | None, hours: float
) -> tuple[CoveredMove, ModelRiskBand, str]:
    """:func:`covered_move`, its model-risk band and the method of the worse tail's move."""
    apc = policy.apc
    band, logs, bound = _band(estimate, policy, hours, lending)  # read only
    s_c = forecast_vol(estimate)
    s_l, basis = long_run_vol(estimate, apc.long_run_source.value, lookback_vol)
    s_s = float(estimate.stressed_vol)
    in_stress = _ok(s_c) and _ok(s_s) and s_c >= apc.buffer_release_ratio * s_s
    best: tuple[float, Tail, float, float, float, tuple[str, ...]] | None = None
    for tail, x0 in logs.items():
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
    cm = CoveredMove(
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
    return cm, band, bound[tail]


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
# margin period of risk
# ---------------------------------------------------------------------------------------------


def term_hours(policy: RiskPolicy, profile: str) -> float:
    """The longest horizon a profile reads from the term structure, hours: perpetuals the longest margin
    period of risk (``mpor.max_hours``); lending the larger of its horizon and the liquidator's holding
    period."""
    if profile == "perp":
        return float(policy.mpor.max_hours)
    return float(max(policy.horizon_hours, policy.lending.liquidator_hold_hours))



def margin_period(notionals: Sequence[float], adv: float, policy: RiskPolicy,
                  term: RiskTerm | None = None) -> MarginPeriod:
    """Each tier's margin period of risk (hours) from the policy's ``[mpor]`` parts.

    Parameters
    ----------
    notionals : sequence of float
        The notional closed out in each tier (its cap; the open last tier's cost notional).
    adv : float
        Average daily traded value of the market, quote currency, > 0.
    term : RiskTerm, optional
        Names how each horizon is read (``basis``); horizons beyond it say so.
    """
    if term is not None:  # a function of the term and the key alone: remembered per term (sweep variants)
        a = float(adv)
        key = ("margin_period", tuple(float(n) for n in notionals), None if math.isnan(a) else a, policy.mpor)
        return term.memo(key, lambda: _margin_period(notionals, adv, policy, term))  # type: ignore[no-any-return]
    return _margin_period(notionals, adv, policy, term)


def _margin_period(notionals: Sequence[float], adv: float, policy: RiskPolicy, term: RiskTerm | None,
                   ) -> MarginPeriod:
    m = policy.mpor
    tiers = []
    for n in notionals:
        if m.fixed_hours > 0:
            close, total = 0.0, m.fixed_hours
        else:
            close = float(n) / (m.participation_rate * float(adv) / 24.0) if adv > 0 else math.inf
            total = max(m.fixed_part_hours + close, m.min_hours)
        if term is None:
            basis = ""
        elif total > min(m.max_hours, term.max_hours) * (1 + 1e-9):
            basis = f"beyond the longest margin period of risk ({min(m.max_hours, term.max_hours):g}h): not offered"
        else:
            basis = term.basis(total)
        tiers.append(TierHorizon(notional=float(n), close_out_hours=close, horizon_hours=total, basis=basis))
    return MarginPeriod(
        oracle_latency_hours=m.oracle_latency_minutes / 60.0, liquidation_delay_hours=m.liquidation_delay_minutes / 60.0,
        participation_rate=m.participation_rate, adv=float(adv), bar_hours=term.bar_hours if term else math.nan,
        min_hours=m.min_hours, max_hours=m.max_hours, fixed_hours=m.fixed_hours, tiers=tuple(tiers),
    )


# ---------------------------------------------------------------------------------------------
# coverage
# ---------------------------------------------------------------------------------------------


def perp_coverage(estimate: VolEstimate, room: float, *, hours: float | None = None,
                  method: str = TermMethod.FITTED.value) -> float:
    """``min(P(price drop <= room), P(price rise <= room))`` over ``hours`` (default the estimate's
    horizon) under ``method``'s distribution of the estimate's term structure.

    ``room`` is what maintenance leaves for the price move (``MMF - close-out cost``, a fraction).
    """
    h = float(estimate.horizon_hours) if hours is None else float(hours)
    hq = _term(estimate).quantiles(method, h)
    return min(hq.prob_move_within(room, Tail.LOWER), hq.prob_move_within(room, Tail.UPPER))


def lending_coverage(estimate: VolEstimate, liquidation_threshold: float, liquidation_bonus: float, *,
                     hours: float | None = None, method: str = TermMethod.FITTED.value) -> float:
    """``P(price drop <= 1 - LT (1 + LB))`` over ``hours`` (default the estimate's horizon) under
    ``method``'s distribution."""
    h = float(estimate.horizon_hours) if hours is None else float(hours)
    room = 1.0 - liquidation_threshold * (1.0 + liquidation_bonus)
    return _term(estimate).quantiles(method, h).prob_move_within(room, Tail.LOWER)


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


def _capped_hours(h: float, policy: RiskPolicy, term: RiskTerm) -> float:
    """A horizon clipped to what the term and policy cover (for assessing current brackets)."""
    return min(h, policy.mpor.max_hours, term.max_hours)


def _assess_current_perp(
    estimate: VolEstimate, policy: RiskPolicy, current: CurrentPerp, adv: float, sigma_daily: float, method: str
) -> tuple[CurrentTierAssessment, ...]:
    """The current brackets under today's model, each over its own margin period of risk."""
    term = _term(estimate)
    floors = [t.notional_floor for t in current.tiers]
    mmfs = [t.maintenance_rate for t in current.tiers]
    ded = maintenance_deductions(floors, mmfs)
    notionals = [float(t.notional_cap) if t.notional_cap is not None else max(
        policy.perp.last_tier_cost_notional, 2.0 * t.notional_floor) for t in current.tiers]
    mp = margin_period(notionals, adv, policy)
    out = []
    for t, d, n, th in zip(current.tiers, ded, notionals, mp.tiers, strict=True):
        c = close_out_cost(n, adv=adv, sigma_daily=sigma_daily, policy=policy)
        h = _capped_hours(th.horizon_hours, policy, term)
        cov = perp_coverage(estimate, t.maintenance_rate - c, hours=h, method=method)
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
    series: str = "",
    detail: bool = True,
) -> PerpAssetProposal:
    """Propose the margin tiers and liquidation penalties of one perpetual market.

    Parameters
    ----------
    estimate : VolEstimate
        Fitted with ``policy.model``, with a term structure reaching the policy's longest margin period
        of risk (``mpor.max_hours``; shorter terms offer fewer tiers).
    policy : RiskPolicy
    adv : float
        Average daily traded value, quote currency, > 0: the close-out cost and close-out time.
    current : CurrentPerp, optional
        Current tier table: guardrails apply relative to it and its coverage is assessed.
    symbol : str
        For the result and its rationale.
    lookback_vol : float, optional
        Sample volatility per bar of the fitted returns, for the long-run floor (see :func:`long_run_vol`).
    series : str
        The price series used, named in the rationale (e.g. ``'BTC 1h perp (binance)'``).
    detail : bool, default True
        False: the parameters only (a policy sweep's replay, which reports none of the rest): no rationale,
        no assessment of the current tiers (``current`` None), tier ``coverage`` NaN and no open-interest cap.
        Every parameter and guardrail line is the same.

    Returns
    -------
    PerpAssetProposal
        Tiers with ``0 < penalty < MMF < IMF <= 1``, MMF and IMF non-decreasing, maintenance
        continuous at the edges (see the module docstring for every step).
    """
    g, rd = policy.guardrails, policy.rounding
    inc = policy.liquidator_incentive
    term = _term(estimate)
    sd = daily_vol(estimate)
    floors, caps, cost_n = _brackets(policy, current)
    costs = [close_out_cost(n, adv=adv, sigma_daily=sd, policy=policy) for n in cost_n]
    cur_tiers = None if current is None else [current.at(f) for f in floors]
    reg, in_stress = regime(estimate, policy, lookback_vol)
    hold = in_stress and not g.loosen_in_stress and current is not None
    mp = margin_period(cost_n, adv, policy, term)
    max_h = min(policy.mpor.max_hours, term.max_hours)
    n_h = next((k for k, th in enumerate(mp.tiers) if th.horizon_hours > max_h * (1 + 1e-9)), len(floors))
    notes: list[str] = []
    covers = [_covered(estimate, policy, lending=False, lookback_vol=lookback_vol, hours=mp.tiers[k].horizon_hours)
              for k in range(n_h)]
    moves = [c[0].final for c in covers]
    methods = [c[2] for c in covers]
    cm0, band0 = (covers[0][0], covers[0][1]) if covers else _covered(
        estimate, policy, lending=False, lookback_vol=lookback_vol, hours=max_h)[:2]
    assessment = None if current is None or not detail else _assess_current_perp(
        estimate, policy, current, adv, sd, methods[0] if methods else TermMethod.FITTED.value)

    # 1. model MMF, rounded up, monotone; tiers reaching 100 % or beyond the longest MPOR are dropped
    raw = [moves[k] + costs[k] + inc for k in range(n_h)]
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
    first_full = next((k for k, v in enumerate(targets) if v >= 1.0), None)  # MMF would reach 100 %
    n_ok = n_h if first_full is None else first_full
    truncated = n_ok < len(floors)
    position_limit = floors[n_ok] if truncated else caps[-1]
    base = dict(horizon=mp, model_risk=band0, regime=reg)
    if n_ok == 0:
        why = (f"model MMF of the first tier is {targets[0]:.2%} >= 100%" if first_full == 0 else
               f"closing out the first tier takes {mp.tiers[0].horizon_hours:.1f}h at "
               f"{policy.mpor.participation_rate:.0%} of an ADV of {format_notional(adv)}, beyond the longest margin period "
               f"of risk ({max_h:g}h)")
        rationale = _rationale_unmarginable_perp(symbol, estimate, policy, cm0, costs[0], assessment, why, series)
        return PerpAssetProposal(
            symbol=symbol, status="unmarginable", tiers=(), position_limit=0.0, covered=cm0, current=assessment,
            lines=(), rationale=rationale, notes=(why,), capital_cost=1.0, **base,  # type: ignore[arg-type]
        )
    if truncated:
        if first_full is not None:
            notes.append(f"tiers from {format_notional(floors[n_ok])} notional need an MMF of 100% or more and are dropped: "
                         f"position limit {format_notional(floors[n_ok])}")
        else:
            notes.append(f"tiers from {format_notional(floors[n_ok])} notional take {mp.tiers[n_ok].horizon_hours:.1f}h or more "
                         f"to close out at {policy.mpor.participation_rate:.0%} of ADV, beyond the longest margin "
                         f"period of risk ({max_h:g}h): not offered, position limit {format_notional(floors[n_ok])}")
    ks = range(n_ok)
    pen_floor = round_up(inc, rd.penalty_step) if inc > 0 else 0.0

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
    pen_model = [max(pen_floor, min(pen_target[k], _penalty_cap(targets[k], moves[k], rd.penalty_step))) for k in ks]

    # 2. guardrails on MMF, stress hold, then monotone again; never at or below the penalty floor
    mmfs: list[float] = []
    mmf_b: list[str | None] = []
    mmf_unc: list[float | None] = []
    for k in ks:
        cur = None if cur_tiers is None else cur_tiers[k].maintenance_rate
        gd = apply_guardrail(targets[k], cur, max_relative_change=g.max_relative_change, dead_band=g.dead_band,
                             step=rd.mmf_step)
        v, b, unc = gd.value, gd.bound, gd.uncapped
        if hold and cur is not None and v < cur:
            v, b, unc = cur, "stress_hold", targets[k]
        if mmfs and v < mmfs[-1]:
            v, b, unc = mmfs[-1], "monotonic", None
        if v <= pen_floor:
            v, b, unc = round_up(pen_floor + rd.mmf_step, rd.mmf_step), "invariant", None
        mmfs.append(v)
        mmf_b.append(b)
        mmf_unc.append(unc)

    # 3. leverage from the grid, guardrails, stress hold, monotone
    levs: list[float] = []
    lev_b: list[str | None] = []
    imf_unc: list[float | None] = []
    for k in ks:
        cur_l = None if cur_tiers is None else cur_tiers[k].max_leverage
        lev, b, unc = _choose_leverage(mmfs[k], policy, cur_l)
        if hold and cur_l is not None and lev > cur_l:
            lev, b, unc = cur_l, "stress_hold", 1.0 / lev
        if levs and lev > levs[-1]:
            lev, b, unc = levs[-1], "monotonic", None
        levs.append(lev)
        lev_b.append(b if b in ("dead_band", "max_change", "invariant", "monotonic", "stress_hold") else None)
        imf_unc.append(unc)
    imfs = [1.0 / lev for lev in levs]

    # 4. penalties: close-out + incentive, capped by what maintenance leaves, never below the incentive
    pens: list[float] = []
    pen_b: list[str | None] = []
    pen_unc: list[float | None] = []
    for k in ks:
        cur_p = None if cur_tiers is None else cur_tiers[k].liquidation_penalty
        gd = apply_guardrail(pen_target[k], cur_p, max_relative_change=g.max_relative_change,
                             dead_band=g.dead_band, step=rd.penalty_step)
        v, b, unc = gd.value, gd.bound, gd.uncapped
        cap = _penalty_cap(mmfs[k], moves[k], rd.penalty_step)
        if v > cap:
            v, b, unc = cap, "maintenance_cap", None
        if v < pen_floor:
            v, b, unc = pen_floor, "incentive_floor", None
        pens.append(v)
        pen_b.append(b)
        pen_unc.append(unc)

    # 5. deductions, 6. coverage (under the estimate that bound each tier's move)
    fl = floors[:n_ok]
    ded = maintenance_deductions(fl, mmfs)
    tiers = TierTable((  # the table's invariants (ascending brackets, 0 < mmf < imf = 1 / leverage, ...) checked
        PerpTier(
            notional_floor=float(fl[k]), notional_cap=caps[k], imf=imfs[k], mmf=mmfs[k], max_leverage=levs[k],
            maintenance_deduction=ded[k], liquidation_penalty=pens[k],
            coverage=perp_coverage(estimate, mmfs[k] - costs[k], hours=mp.tiers[k].horizon_hours, method=methods[k])
            if detail else math.nan,
            close_out_cost=costs[k], cost_notional=cost_n[k], mmf_model=targets[k],
            horizon_hours=mp.tiers[k].horizon_hours, covered_move=moves[k],
            under_covered=mmfs[k] < targets[k] - 1e-12,
        )
        for k in ks
    ), symbol=symbol)

    def bound(guard: str | None, value: float, model: float, model_bound: str) -> str:
        if guard is not None:
            return guard
        return model_bound if abs(value - model) <= 1e-12 else "follows"

    lines: list[ParamLine] = []
    for k in ks:
        ct = None if cur_tiers is None else cur_tiers[k]
        iu = imf_unc[k]
        lb = bound(lev_b[k], levs[k], lev_model[k], lev_model_bound[k])
        pen_mb = "model" if pen_model[k] >= pen_target[k] else (
            "incentive_floor" if pen_model[k] == pen_floor else "maintenance_cap")
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
    ref = policy.perp.reference_notional
    cap_cost = next((t.imf for t in tiers if t.notional_floor <= ref and (t.notional_cap is None
                                                                          or ref < t.notional_cap)), 1.0)
    if not detail:
        return PerpAssetProposal(
            symbol=symbol, status="ok", tiers=tiers, position_limit=position_limit, covered=cm0, current=None,
            lines=tuple(lines), rationale="", notes=tuple(notes), capital_cost=cap_cost, **base,  # type: ignore[arg-type]
        )
    rationale = _rationale_perp(symbol, estimate, policy, cm0, tiers, raw, lines, assessment, adv,
                                position_limit if truncated else None, mp, band0, reg, series)
    oi = perp_cap(estimate, policy, cm0, tiers[0], adv=adv, lookback_vol=lookback_vol)
    notes.append(describe_perp_cap(oi, adv=adv))
    return PerpAssetProposal(
        symbol=symbol, status="ok", tiers=tiers, position_limit=position_limit, covered=cm0, current=assessment,
        lines=tuple(lines), rationale=rationale, notes=tuple(notes), capital_cost=cap_cost,
        open_interest_cap=oi.open_interest_cap, cap_reason=oi.reason, **base,  # type: ignore[arg-type]
    )


def _stressed_daily_vol(estimate: VolEstimate) -> float:
    """Daily volatility at the stressed level, ``daily_vol * max(1, s_S / s_c)`` (liquidations cluster in crashes)."""
    s_c, s_s = forecast_vol(estimate), float(estimate.stressed_vol)
    return daily_vol(estimate) * (max(1.0, s_s / s_c) if _ok(s_c) and _ok(s_s) else 1.0)


def perp_cap(estimate: VolEstimate, policy: RiskPolicy, cm: CoveredMove, tier1: PerpTier, *, adv: float,
             lookback_vol: float | None = None) -> PerpCap:
    """The open-interest cap of a proposed market (:func:`riskparams.book.caps.open_interest_cap`).

    The extreme move is the covered move over the policy's ``horizon_hours`` (capped at the term structure's
    reach) rescaled to the stressed volatility; the move while a liquidated position is closed is tier 1's
    covered move ``cm`` rescaled the same way; slippage is the tiers' own close-out cost model (the square-root
    law on ``adv``, quote currency per day, at the forecast daily volatility: the model that priced the penalty);
    the slippage budget is tier 1's
    penalty; the loss budget ``perp.loss_budget * perp.insurance_fund``; the close-out must fit in
    ``mpor.max_hours`` at ``mpor.participation_rate``.
    """
    hours = min(float(policy.horizon_hours), _term(estimate).max_hours)
    ext = _covered(estimate, policy, lending=False, lookback_vol=lookback_vol, hours=hours)[0]
    move = stressed_move(ext.model, tail=ext.tail, vol_forecast=ext.vol_forecast, vol_stressed=ext.vol_stressed,
                         covered_move=ext.final)
    close_move = stressed_move(cm.model, tail=cm.tail, vol_forecast=cm.vol_forecast, vol_stressed=cm.vol_stressed,
                               covered_move=cm.final)
    liq = policy.liquidity
    slip = sqrt_law_slippage(adv=adv, sigma_daily=daily_vol(estimate), half_spread=liq.half_spread,
                             impact_k=liq.impact_k)
    return open_interest_cap(
        move=move, close_move=close_move, mmf=tier1.mmf, max_leverage=tier1.max_leverage, penalty=tier1.liquidation_penalty, slippage=slip,
        loss_budget=policy.perp.loss_budget * policy.perp.insurance_fund, adv=adv,
        participation_rate=policy.mpor.participation_rate, max_hours=policy.mpor.max_hours,
    )


def lending_cap(
    estimate: VolEstimate,
    policy: RiskPolicy,
    cm: CoveredMove,
    *,
    symbol: str,
    ltv: float,
    liquidation_threshold: float,
    liquidation_bonus: float,
    adv: float,
    price: float | None = None,
    slippage_curve: Callable[[float], float] | None = None,
) -> LendingCaps:
    """Supply and borrow caps of a proposed collateral asset (:func:`riskparams.book.caps.lending_caps`).

    The extreme drop is the covered drop rescaled to the stressed volatility; slippage is ``slippage_curve``
    (a depth curve) or the square-root law on ``adv`` at the stressed daily volatility; the slippage budget is
    the bonus; the loss budget ``lending.loss_budget * lending.insurance_fund``; the sale must fit in the
    policy's horizon at ``mpor.participation_rate``.
    """
    drop = stressed_move(cm.model, tail=cm.tail, vol_forecast=cm.vol_forecast, vol_stressed=cm.vol_stressed,
                         covered_move=cm.final)
    liq, lp = policy.liquidity, policy.lending
    slip = slippage_curve or sqrt_law_slippage(adv=adv, sigma_daily=_stressed_daily_vol(estimate),
                                               half_spread=liq.half_spread, impact_k=liq.impact_k)
    return lending_caps(
        drop=min(1.0, drop), ltv=ltv, liquidation_threshold=liquidation_threshold, bonus=liquidation_bonus,
        slippage=slip, loss_budget=lp.loss_budget * lp.insurance_fund, borrow_cap_share=lp.borrow_cap_share,
        isolated=symbol.upper() in lp.isolated_assets, price=price, adv=adv,
        participation_rate=policy.mpor.participation_rate, hours=policy.horizon_hours,
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


def lending_bonus(
    estimate: VolEstimate,
    policy: RiskPolicy,
    *,
    adv: float,
    method: str = TermMethod.FITTED.value,
    slippage: float | None = None,
    liquidity_source: str = "",
    debt_asset: str | None = None,
) -> LendingBonus:
    """What a liquidator must be paid: incentive + slippage + inventory risk (see the module docstring).

    Parameters
    ----------
    adv : float
        ADV of the stated liquidity (quote currency), used when ``slippage`` is not given.
    method : str
        The term method whose distribution prices the inventory risk.
    slippage : float, optional
        Cost of selling the policy's liquidation size (fraction), e.g. from a depth curve; default the
        square-root law on ``adv`` at the stressed daily volatility.
    liquidity_source : str
        Where ``adv`` or ``slippage`` come from, in words (named in the rationale).
    debt_asset : str, optional
        The debt asset (default the policy's).
    """
    lp = policy.lending
    term = _term(estimate)
    s_c, s_s = forecast_vol(estimate), float(estimate.stressed_vol)
    scale = max(1.0, s_s / s_c) if _ok(s_c) and _ok(s_s) else 1.0
    size = lp.reference_liquidation_notional
    if slippage is None:
        slippage = close_out_cost(size, adv=adv, sigma_daily=daily_vol(estimate) * scale, policy=policy)
        liquidity_source = liquidity_source or f"square-root law on an ADV of {format_notional(adv)} at the stressed volatility"
    hold = min(lp.liquidator_hold_hours, term.max_hours)
    inv_log = term.tail_measure(method, hold, lp.bonus_confidence, "var", Tail.LOWER) * scale
    inventory = log_to_price_move(max(0.0, inv_log), Tail.LOWER)
    debt = (debt_asset or lp.debt_asset).upper()
    return LendingBonus(
        size=size, liquidity_source=liquidity_source, slippage=float(slippage), hold_hours=hold,
        confidence=lp.bonus_confidence, inventory_risk=inventory, incentive=policy.liquidator_incentive,
        total=policy.liquidator_incentive + float(slippage) + inventory, debt_asset=debt,
        debt_stable=lp.debt_is_stable(debt),
    )


def propose_lending(
    estimate: VolEstimate,
    policy: RiskPolicy,
    *,
    adv: float,
    current: CurrentLending | None = None,
    symbol: str = "",
    lookback_vol: float | None = None,
    series: str = "",
    slippage: float | None = None,
    liquidity_source: str = "",
    debt_asset: str | None = None,
    price: float | None = None,
    slippage_curve: Callable[[float], float] | None = None,
) -> LendingAssetProposal:
    """Propose LTV, liquidation threshold and liquidation bonus of one collateral asset.

    Parameters
    ----------
    estimate : VolEstimate
        Fitted with the policy's model, with a term structure reaching ``policy.horizon_hours``.
    policy : RiskPolicy
    adv : float
        Average daily traded value of the stated liquidity, quote currency, > 0.
    current : CurrentLending, optional
        Current parameters: guardrails (relative and bps) apply relative to them and their
        coverage is assessed.
    symbol : str
    lookback_vol : float, optional
        Sample volatility per bar of the fitted returns, for the long-run floor (see :func:`long_run_vol`).
    series : str
        The price series used, named in the rationale.
    slippage, liquidity_source, debt_asset
        See :func:`lending_bonus`.
    price : float, optional
        As-of price of the collateral (quote per unit), stored as ``cap_price`` for venue formats.
    slippage_curve : callable, optional
        Slippage of selling a notional (quote currency -> fraction), e.g. a depth curve's; default the
        square-root law on ``adv``. Sets the supply cap (:func:`lending_cap`).

    Returns
    -------
    LendingAssetProposal
        Fractions with ``0 <= ltv < liquidation_threshold``, ``liquidation_threshold * (1 + bonus) <= 1``
        (see the module docstring).
    """
    g, step = policy.guardrails, policy.rounding.lending_step
    bps = g.lending_max_change_bps
    hours = float(policy.horizon_hours)
    cm, band, method = _covered(estimate, policy, lending=True, lookback_vol=lookback_vol, hours=hours)
    d = cm.final
    reg, in_stress = regime(estimate, policy, lookback_vol)
    hold = in_stress and not g.loosen_in_stress and current is not None
    bonus = lending_bonus(estimate, policy, adv=adv, method=method, slippage=slippage,
                          liquidity_source=liquidity_source, debt_asset=debt_asset)
    cost = bonus.slippage
    assessment = None
    if current is not None:
        cov = lending_coverage(estimate, current.liquidation_threshold, current.liquidation_bonus, hours=hours,
                               method=method)
        assessment = LendingCurrentAssessment(
            ltv=current.ltv, liquidation_threshold=current.liquidation_threshold,
            liquidation_bonus=current.liquidation_bonus, coverage=cov, below_confidence=cov < policy.confidence,
        )

    def guard(target: float, cur: float | None, name: str) -> Guarded:
        return apply_guardrail(target, cur, max_relative_change=g.max_relative_change, dead_band=g.dead_band,
                               step=step, abs_limit=bps[name] / 10_000.0)

    # the model alone
    lb_m = round_up(bonus.total, step)
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
    if hold and cur is not None and lt > cur.liquidation_threshold:
        lt, lt_bound = cur.liquidation_threshold, "stress_hold"
    cap = round_down(1.0 / (1.0 + lb), step)
    if lt > cap:
        lt, lt_bound = cap, "invariant"
    ltv_target = max(0.0, round_down(lt - policy.lending.ltv_buffer, step))
    gv = guard(ltv_target, None if cur is None else cur.ltv, "ltv")
    ltv, ltv_bound = gv.value, gv.bound
    if hold and cur is not None and ltv > cur.ltv:
        ltv, ltv_bound = cur.ltv, "stress_hold"
    if unmarginable and ltv > 0.0:  # freezing new borrowing liquidates nobody: no guardrail holds it back
        ltv, ltv_bound = 0.0, "invariant"
    elif ltv >= lt and lt > 0.0:
        ltv, ltv_bound = max(0.0, round_down(lt - step, step)), "invariant"
    cov = lending_coverage(estimate, lt, lb, hours=hours, method=method)

    def line(name: str, value: float, model: float, gd: Guarded, bound: str | None, cur_v: float | None) -> ParamLine:
        if bound is None:
            bound = "model" if abs(value - model) <= 1e-12 else "follows"
        unc = gd.uncapped if bound in ("dead_band", "max_change") else (model if bound == "stress_hold" else None)
        return ParamLine(parameter=name, tier=None, current=cur_v, proposed=value, model=model, uncapped=unc,
                         bound=bound)

    lines = (
        line("ltv", ltv, ltv_m, gv, ltv_bound, None if cur is None else cur.ltv),
        line("liquidation_threshold", lt, lt_m, gt, lt_bound, None if cur is None else cur.liquidation_threshold),
        line("liquidation_bonus", lb, lb_m, gb, gb.bound, None if cur is None else cur.liquidation_bonus),
    )
    rationale = _rationale_lending(symbol, estimate, policy, cm, bonus, ltv, lt, lb, cov, lines, assessment,
                                   unmarginable=unmarginable, band=band, regime_label=reg, series=series)
    caps = lending_cap(estimate, policy, cm, symbol=symbol, ltv=ltv, liquidation_threshold=lt, liquidation_bonus=lb,
                       adv=adv, price=price, slippage_curve=slippage_curve)
    return LendingAssetProposal(
        symbol=symbol, status="unmarginable" if unmarginable else "ok", ltv=ltv, liquidation_threshold=lt,
        liquidation_bonus=lb, coverage=cov, close_out_cost=cost, covered=cm, current=assessment, lines=lines,
        rationale=rationale, notes=(*notes, describe_lending_caps(caps)), model_risk=band, regime=reg, bonus=bonus,
        capital_cost=1.0 - ltv, supply_cap=caps.supply_cap, borrow_cap=caps.borrow_cap,
        debt_ceiling=caps.debt_ceiling, cap_reason=caps.reason, cap_price=caps.price,
    )


# ---------------------------------------------------------------------------------------------
# rationale: short plain English from the numbers
# ---------------------------------------------------------------------------------------------


def _regime_text(reg: str, cm: CoveredMove, policy: RiskPolicy) -> str:
    if reg == "stress":
        return f"stress: at least {policy.apc.buffer_release_ratio:.0%} of the stressed level"
    r = cm.vol_forecast / cm.vol_long_run if _ok(cm.vol_long_run) else math.nan
    if not math.isfinite(r):
        return "long-run level unknown"
    return f"{reg}: {r:.2f}x the long-run level"


def _vol_sentence(symbol: str, estimate: VolEstimate, policy: RiskPolicy, cm: CoveredMove, reg: str,
                  series: str) -> str:
    nu = f", nu {estimate.nu:.2f}" if estimate.nu is not None else ""
    model = f"{estimate.model.value}-{estimate.dist.value}{nu}"
    if estimate.integrated:
        model += ", integrated (persistence at the alpha + beta = 1 boundary, kept for short horizons)"
    fb = f" (fallback: {estimate.fallback})" if estimate.fallback else ""
    src = f" on {series}" if series else ""
    return (
        f"{symbol}: model {model}{fb}{src}; forecast volatility {cm.vol_forecast_annualised:.0%} a year against "
        f"{cm.vol_long_run_annualised:.0%} long-run ({_BASIS_TEXT.get(cm.long_run_basis, cm.long_run_basis)}) and "
        f"{cm.vol_stressed_annualised:.0%} stressed ({_regime_text(reg, cm, policy)})."
    )


_BASIS_TEXT = {"sample": "sample volatility of the history", "conditional": "mean conditional variance",
               "model": "the model's unconditional level"}


def _move(x: float) -> str:
    """A price move as a percentage; beyond 1000 % just says so."""
    return f"{x:.2%}" if x <= 10 else ">1000%"


def _band_sentence(band: ModelRiskBand) -> str:
    parts = [f"fitted {band.fitted:.2%}" + (f" (t, nu {band.nu:.2f})" if band.nu is not None else "")]
    parts.append(f"FHS {band.fhs:.2%}" if band.fhs is not None else "FHS n/a")
    parts.append(f"historical {band.empirical:.2%}" if band.empirical is not None else "historical n/a")
    how = {"median": "the median", "max": "the largest", "min": "the smallest"}.get(band.combine,
                                                                                   f"the {band.combine} estimate")
    return (f"Model risk over {format_hours(band.horizon_hours)}: {band.measure.upper()} {band.confidence:.1%} "
            f"{', '.join(parts)}; the policy takes {how}, so {band.bound} bound ({band.combined:.2%}).")


def _move_sentence(policy: RiskPolicy, cm: CoveredMove, hours: float) -> str:
    side = {"lower": "fall", "upper": "rise"}[cm.tail]
    s = (f"The {policy.confidence:.1%} {cm.measure.upper()} price {side} over {format_hours(hours)} is "
         f"{_move(cm.model)}")
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


def _mpor_sentence(mp: MarginPeriod, policy: RiskPolicy, n_tiers: int) -> str:
    t0 = mp.tiers[0]
    if mp.fixed_hours > 0:
        head = f"Margin period of risk fixed at {format_hours(mp.fixed_hours)} for every tier"
    else:
        head = (f"Margin period of risk {format_hours(mp.oracle_latency_hours)} oracle + "
                f"{format_hours(mp.liquidation_delay_hours)} liquidation delay + close-out at "
                f"{mp.participation_rate:.0%} of an ADV of {format_notional(mp.adv)} ({format_hours(t0.close_out_hours)} for "
                f"{format_notional(t0.notional)}) = {format_hours(t0.horizon_hours)} for tier 1")
        if n_tiers > 1:
            tn = mp.tiers[n_tiers - 1]
            head += f", {format_hours(tn.horizon_hours)} for tier {n_tiers} ({format_notional(tn.notional)})"
    if "square-root" in t0.basis:
        head += (f"; below one {mp.bar_hours:g}h bar the distribution is the one-bar law scaled by the square root "
                 "of time")
    return head + "."


_BOUND_TEXT = {
    "dead_band": "kept by the dead-band",
    "max_change": "capped by the max change",
    "invariant": "moved past the max change by an invariant",
    "maintenance_cap": "cut to what maintenance leaves after the covered move",
    "stress_hold": "held at the current value (no loosening in stress)",
    "incentive_floor": "raised to the liquidator incentive",
}


def _guard_sentence(lines: Sequence[ParamLine]) -> str:
    bits = []
    for ln in lines:
        if ln.bound not in _BOUND_TEXT or ln.parameter == "imf":
            continue
        if ln.bound in ("maintenance_cap", "incentive_floor") and ln.current is None:
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


def _stress_sentence(reg: str, policy: RiskPolicy, lines: Sequence[ParamLine]) -> str:
    if reg != "stress":
        return ""
    if policy.guardrails.loosen_in_stress:
        loosened = [ln for ln in lines if ln.current is not None and ln.parameter in ("mmf", "imf", "ltv",
                                                                                       "liquidation_threshold")
                    and ((ln.parameter in ("mmf", "imf") and ln.proposed < ln.current)
                         or (ln.parameter in ("ltv", "liquidation_threshold") and ln.proposed > ln.current))]
        if loosened:
            return (f"The regime is stress and the policy allows loosening in stress: {len(loosened)} margin "
                    "parameter(s) loosen against the current ones.")
        return ""
    held = sum(1 for ln in lines if ln.bound == "stress_hold")
    return (f"The regime is stress: no margin parameter loosens against the current ones ({held} held)."
            if held else "")


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
    mp: MarginPeriod,
    band: ModelRiskBand,
    reg: str,
    series: str,
) -> str:
    t0, tn = tiers[0], tiers[-1]
    mf = policy.perp.maintenance_fraction
    parts = [_vol_sentence(symbol, estimate, policy, cm, reg, series), _mpor_sentence(mp, policy, len(tiers)),
             _band_sentence(band), _move_sentence(policy, cm, t0.horizon_hours)]
    parts.append(
        f"Close-out cost {t0.close_out_cost:.2%} (tier 1) to {tn.close_out_cost:.2%} (tier {len(tiers)}, "
        f"at {format_notional(tn.cost_notional)}) with ADV {format_notional(adv)}; liquidator incentive "
        f"{policy.liquidator_incentive:.2%}."
    )
    lev_why = ("the largest on the grid with IMF >= MMF / "
               f"{mf:g} = {t0.mmf / mf:.2%}") if t0.mmf / mf <= 1 else "1x: no grid leverage keeps IMF >= MMF / " \
        f"{mf:g}"
    parts.append(
        f"Tier 1: the model's MMF is move + cost + incentive = {raw[0]:.2%}, rounded up to {t0.mmf_model:.2%}; "
        f"proposed MMF {t0.mmf:.2%}, max leverage {t0.max_leverage:g}x ({lev_why}), penalty "
        f"{t0.liquidation_penalty:.2%} (close-out + incentive, never below the incentive); coverage "
        f"{t0.coverage:.2%} at tier 1, {tn.coverage:.2%} at tier {len(tiers)}."
    )
    gs = _guard_sentence(lines)
    if gs:
        parts.append(gs)
    under = [(k, t) for k, t in enumerate(tiers) if t.under_covered]
    if under:
        parts.append("Under-covered (a guardrail holds the MMF below the model's): " + "; ".join(
            f"tier {k + 1} MMF {t.mmf:.2%} against {t.mmf_model:.2%}, coverage {t.coverage:.2%}" for k, t in under)
            + ".")
    ss = _stress_sentence(reg, policy, lines)
    if ss:
        parts.append(ss)
    if position_limit is not None:
        parts.append(f"Positions above {format_notional(position_limit)} are not offered.")
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
    why: str,
    series: str,
) -> str:
    reg, _ = regime(estimate, policy)
    parts = [_vol_sentence(symbol, estimate, policy, cm, reg, series)]
    parts.append(
        f"With close-out cost {cost0:.2%} and incentive {policy.liquidator_incentive:.2%} no leverage can be "
        f"offered ({why}; unmarginable: consider reduce-only or delisting)."
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
    bonus: LendingBonus,
    ltv: float,
    lt: float,
    lb: float,
    cov: float,
    lines: Sequence[ParamLine],
    assessment: LendingCurrentAssessment | None,
    *,
    unmarginable: bool = False,
    band: ModelRiskBand,
    regime_label: str,
    series: str,
) -> str:
    parts = [_vol_sentence(symbol, estimate, policy, cm, regime_label, series)]
    debt = (f"Debt asset {bonus.debt_asset} (a stablecoin: collateral priced in the quote currency)"
            if bonus.debt_stable else
            f"Debt asset {bonus.debt_asset} (not a stablecoin: the collateral/{bonus.debt_asset} price ratio is used)")
    parts.append(debt + f"; margin period of risk {format_hours(policy.horizon_hours)}.")
    parts += [_band_sentence(band), _move_sentence(policy, cm, policy.horizon_hours)]
    model_lt = next((ln.model for ln in lines if ln.parameter == "liquidation_threshold"), lt)
    model_lb = next((ln.model for ln in lines if ln.parameter == "liquidation_bonus"), lb)
    parts.append(
        f"The bonus pays the liquidator: incentive {bonus.incentive:.2%} + slippage {bonus.slippage:.2%} selling "
        f"{format_notional(bonus.size)} ({bonus.liquidity_source}) + inventory risk {bonus.inventory_risk:.2%} (the "
        f"{bonus.confidence:.0%} VaR of a {format_hours(bonus.hold_hours)} fall at the stressed volatility) = "
        f"{bonus.total:.2%}, rounded up to {model_lb:.2%}."
    )
    if unmarginable:
        parts.append(
            f"The model's liquidation threshold is {model_lt:.2%}, no room for borrowing after the "
            f"{policy.lending.ltv_buffer:.2%} buffer: not usable as new collateral (LTV 0, new borrowing frozen); "
            f"proposed LT {lt:.2%}, bonus {lb:.2%}, coverage {cov:.2%}."
        )
    else:
        parts.append(
            f"LT (1 - {cm.final:.2%}) / (1 + {model_lb:.2%}) rounded down = {model_lt:.2%} and LTV that less the "
            f"{policy.lending.ltv_buffer:.2%} buffer; proposed LTV {ltv:.2%}, LT {lt:.2%}, bonus {lb:.2%}; "
            f"coverage {cov:.2%}."
        )
    gs = _guard_sentence(lines)
    if gs:
        parts.append(gs)
    ss = _stress_sentence(regime_label, policy, lines)
    if ss:
        parts.append(ss)
    if assessment is not None:
        flag = "below" if assessment.below_confidence else "meeting"
        parts.append(f"Current parameters cover {assessment.coverage:.2%}, {flag} the {policy.confidence:.1%} target.")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# peers
# ---------------------------------------------------------------------------------------------


def compare_peers(tiers: Sequence[PerpTier], tables: Sequence[PeerTable]) -> PeerComparison | None:
    """The proposed tiers beside other venues' brackets at each proposed tier's floor notional (for the
    first tier, its floor 0); None when no table is given."""
    if not tables:
        return None
    venues = tuple(dict.fromkeys(t.venue for t in tables))
    by_venue = {t.venue: t for t in tables}
    rows = []
    for t in tiers:
        peers: dict[str, tuple[float, float] | None] = {}
        for v in venues:
            b = by_venue[v].at(t.notional_floor)
            peers[v] = None if b is None else (b.max_leverage, b.maintenance_rate)
        rows.append((t.notional_floor, t.max_leverage, t.mmf, peers))
    return PeerComparison(venues=venues, sources={t.venue: t.source for t in tables}, rows=tuple(rows))


def peer_gaps(asset: PerpAssetProposal, comparison: PeerComparison) -> tuple[str, ...]:
    """Sentences explaining every tier whose max leverage or MMF is more than twice or less than half the peer
    venues' median at its floor notional (what drives it: the tier's margin period of risk and covered move)."""
    out: list[str] = []
    sides: set[str] = set()
    horizons = {} if asset.horizon is None else {k: t for k, t in enumerate(asset.horizon.tiers)}
    for k, (notional, lev, mmf, peers) in enumerate(comparison.rows):
        vals = [x for x in peers.values() if x is not None]
        if not vals or k >= len(asset.tiers):
            continue
        med_lev = float(np.median([x[0] for x in vals]))
        med_mmr = float(np.median([x[1] for x in vals]))
        tighter = lev < med_lev / 2 or mmf > 2 * med_mmr
        looser = lev > 2 * med_lev or mmf < med_mmr / 2
        if not (tighter or looser):
            continue
        t = asset.tiers[k]
        th = horizons.get(k)
        why = (f"its margin period of risk is {format_hours(t.horizon_hours)}"
               + (f" (closing {format_notional(th.notional)} at the policy's participation rate takes "
                  f"{format_hours(th.close_out_hours)})" if th is not None and th.close_out_hours > 0 else "")
               + f", over which the covered move is {t.covered_move:.2%} and the close-out cost {t.close_out_cost:.2%}")
        side = "tighter" if tighter else "looser"
        sides.add(side)
        out.append(f"Tier {k + 1} (from {format_notional(notional)}) is {side} than the peer venues: {lev:g}x / MMF {mmf:.2%} "
                   f"against their median {med_lev:g}x / {med_mmr:.2%}; {why}.")
    if "tighter" in sides:
        out.append("Venues offering more leverage at these sizes rely on open-interest caps, partial liquidation and "
                   "backstop vaults rather than on margin alone.")
    if "looser" in sides:
        out.append("Where the proposal is looser than the peers, check the liquidity (ADV) and margin-period inputs "
                   "before tabling it.")
    return tuple(out)

"""Open-interest caps (perpetuals) and supply / borrow caps (lending): pure functions on numbers.

A cap bounds how large a market may grow so that, after the policy's **extreme move**, (1) the volume that
gets liquidated can be closed with slippage below what the liquidation pays (the perpetual's liquidation
penalty, the lending market's liquidation bonus) and (2) the **stressed bad debt** stays within the policy's
**loss budget**. The cap is the smaller of the two; ``reason`` names the binding one: ``'liquidity'`` or
``'loss budget'``. This is Chaos Labs' Aave method in closed form: "MaxAmountLiquidated - the maximum amount
that can be liquidated while keeping the slippage below the Liquidation Penalty", and a binary search for the
supply at which stressed protocol losses reach a target loss K (0.1 % of the Safety Module, $400K)
(https://governance.aave.com/t/chaos-labs-updated-supply-and-borrow-cap-methodology/11602,
https://governance.aave.com/t/chaos-labs-supply-cap-methodology/12842).

Units: caps, volumes and budgets in quote currency (USD); moves, margins, slippage, penalties and shares as
fractions; ``adv`` in quote currency per day; hours for horizons. No store, no I/O.

The math, exactly as implemented
--------------------------------
**Extreme move** (:func:`stressed_move`): the covered move's model log move ``x0`` (before the
anti-procyclicality tools) scaled to the stressed volatility, ``x_S = x0 * max(1, s_S / s_c)``, as a price move
of the same tail, and never below the covered move itself: ``M = max(m, price(x_S))``.

**Slippage** of selling a volume ``V`` (:func:`sqrt_law_slippage`): the project's square-root law
(:func:`riskparams.measures.impact_cost`, its one implementation)
``s(V) = half_spread + k * sigma_daily * sqrt(V / ADV)``, or any non-decreasing depth curve. The largest volume
absorbable with slippage at most a budget ``b`` (:func:`absorbable_volume`) is, under the square-root law,
``V* = ADV * ((b - half_spread) / (k * sigma_daily))**2`` (0 when ``b <= half_spread``); a depth curve is
inverted by bisection. The volume must also be closed within the longest margin period of risk ``H`` at the
policy's participation rate ``rho``: ``V <= rho * ADV * H / 24``. Both limits are linear in the liquidity, so
**halving the ADV (or the depth: ``s'(V) = s(2V)``) halves the liquidity cap**.

**Perpetuals** (:func:`open_interest_cap`). Two moves: the extreme move ``M`` over the policy's horizon (a crash
day: it decides *who* is liquidated) and the stressed move ``M_c`` over tier 1's margin period of risk (what a
liquidated position loses while it is closed from maintenance, positions being liquidated along the crash's
path). Cap-level book, stated: the open interest ``OI`` of the adverse side is spread uniformly over leverage
``l`` in ``[1, L1]`` (tier 1's max leverage), each position opened at its initial margin ``1 / l``; a position
is liquidated when the extreme move takes its equity below tier 1's maintenance, ``1 / l - M < MMF1``. The
share liquidated is

    ``phi = clip((L1 - 1 / (M + MMF1)) / (L1 - 1), 0, 1)``   (``L1 = 1``: ``phi = 1`` if ``M + MMF1 > 1``).

* liquidity: ``phi * OI <= V*`` with slippage budget ``b = penalty1`` (tier 1's liquidation penalty: a book of
  many accounts pays at least tier 1's penalty), so ``cap_liq = V* / phi``;
* loss budget: a liquidated position is closed from maintenance while the market moves on by ``M_c``, so its bad
  debt per notional is ``max(0, M_c + s(phi * OI) - MMF1)`` and the stressed bad debt is
  ``D(OI) = phi * OI * max(0, M_c + s(phi * OI) - MMF1)`` (non-decreasing in ``OI``); ``cap_loss`` is the largest
  ``OI`` with ``D(OI) <= loss_budget * insurance_fund`` (bisection; unlimited when ``D`` stays 0).

**Lending** (:func:`lending_caps`), with the extreme drop ``D`` (lower tail over the policy's horizon), LTV ``v``,
liquidation threshold ``LT`` and bonus ``LB``. Cap-level book, stated: all supply ``S`` is collateral and the
borrowers' loan-to-value ratios ``r`` are spread uniformly on ``[0, v]``; a position is liquidated when the drop
lifts its ratio above the threshold, ``r / (1 - D) > LT``:

    ``phi = clip((v - LT (1 - D)) / v, 0, 1)``   (0 when ``v = 0``: no borrowing, nothing to liquidate).

All liquidated collateral is sold (Aave v3 closes 100 % of a position below health factor 0.95).

* liquidity: ``phi * S <= V*`` with slippage budget ``b = LB``: ``cap_liq = V* / phi``;
* loss budget: a position liquidated at the threshold (debt ``LT`` per unit of collateral value) whose collateral
  then falls by ``D`` and sells at slippage ``s`` leaves ``max(0, LT - (1 - D)(1 - s(phi S)))``; the stressed bad
  debt ``phi * S * max(0, LT - (1 - D)(1 - s(phi * S)))`` must stay within ``loss_budget * insurance_fund``.
* supply cap ``min(cap_liq, cap_loss)``; borrow cap ``borrow_cap_share * supply cap`` (the policy's share, e.g.
  Chaos Labs' FDUSD recommendation on Venus, 34M borrow / 40M supply = 85 %); debt ceiling (isolation mode only)
  ``v * supply cap``, the most debt the capped collateral can carry at the LTV.

Monotone by construction: a larger ``M``/``D`` or ``sigma_daily`` never raises a cap (``phi`` and the bad debt
per unit grow, ``V*`` shrinks); more ADV or depth never lowers one.

Real world (order of magnitude, for the test and the proposal note): venue open-interest caps for BTC are in the
billions of USD (Binance's BTCUSDT open interest is several $B, Hyperliquid caps its majors in the $B), for
small caps tens of millions (dYdX v4's small-cap liquidity tiers cap open interest at $20M-$50M). See
:data:`REAL_WORLD_BTC_OI_CAP` and :data:`REAL_WORLD_SMALL_CAP_OI_CAP`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

from riskparams.exceptions import SpecError
from riskparams.fmt import format_notional
from riskparams.measures import Tail, impact_cost, log_to_price_move

__all__ = [
    "LIQUIDITY",
    "LOSS_BUDGET",
    "REAL_WORLD_BTC_OI_CAP",
    "REAL_WORLD_SMALL_CAP_OI_CAP",
    "LendingCaps",
    "PerpCap",
    "absorbable_volume",
    "describe_lending_caps",
    "describe_perp_cap",
    "lending_bad_debt",
    "lending_caps",
    "lending_liquidated_share",
    "open_interest_cap",
    "perp_bad_debt",
    "perp_liquidated_share",
    "sqrt_law_slippage",
    "stressed_move",
]

LIQUIDITY = "liquidity"
LOSS_BUDGET = "loss budget"

#: Order of magnitude of venue open-interest caps for BTC perpetuals, USD (Binance, Hyperliquid: billions).
REAL_WORLD_BTC_OI_CAP = 2e9
#: Order of magnitude of open-interest caps for small-cap perpetuals, USD (dYdX v4 small-cap tiers: $20M-$50M).
REAL_WORLD_SMALL_CAP_OI_CAP = 3e7

_HI = 1e15  # no venue holds more than a quadrillion dollars: the search stops there ("unlimited")

Slippage = Callable[[float], float]


def _num(name: str, x: float, lo: float = 0.0, hi: float = math.inf, *, lo_open: bool = False) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise SpecError(f"{name} must be a number, got {x!r}")
    v = float(x)
    if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo):
        raise SpecError(f"{name} must be a finite number in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {x!r}")
    return v


def _cap(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) or x >= _HI else float(x)


# ---------------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------------


def stressed_move(model_move: float, *, tail: str, vol_forecast: float, vol_stressed: float,
                  covered_move: float) -> float:
    """The policy's extreme move: the model's covered move rescaled to the stressed volatility.

    Parameters
    ----------
    model_move : float
        The covered move before anti-procyclicality (``CoveredMove.model``), fraction of price, >= 0.
    tail : {'lower', 'upper'}
    vol_forecast, vol_stressed : float
        Forecast and stressed volatility per bar (``s_c``, ``s_S``); a non-finite or non-positive one leaves the
        scale at 1.
    covered_move : float
        The covered move after the tools (``CoveredMove.final``): the extreme move is never smaller.

    Returns
    -------
    float
        ``max(covered_move, price(x0 * max(1, s_S / s_c)))``, fraction of price (a fall is at most 1).
    """
    try:
        t = Tail(tail)
    except ValueError:
        raise SpecError(f"tail must be 'lower' or 'upper', got {tail!r}") from None
    p0 = _num("model_move", model_move)
    m = _num("covered_move", covered_move)
    if t is Tail.LOWER:
        x0 = -math.log1p(-min(p0, 1.0 - 1e-12))
    else:
        x0 = math.log1p(p0)
    ok = all(math.isfinite(v) and v > 0 for v in (vol_forecast, vol_stressed))
    scale = max(1.0, vol_stressed / vol_forecast) if ok else 1.0
    return max(m, log_to_price_move(x0 * scale, t))


def sqrt_law_slippage(*, adv: float, sigma_daily: float, half_spread: float, impact_k: float) -> Slippage:
    """``V -> half_spread + impact_k * sigma_daily * sqrt(V / adv)`` (fraction): the project's one close-out cost
    law, :func:`riskparams.measures.impact_cost`, as a function of the volume sold.

    Parameters
    ----------
    adv : float
        Average daily traded value, quote currency, > 0.
    sigma_daily : float
        Daily volatility, fraction, >= 0.
    half_spread, impact_k : float
        As in :class:`riskparams.config.LiquidityPolicy`.
    """
    a = _num("adv", adv, 0.0, lo_open=True)
    sd = _num("sigma_daily", sigma_daily)
    hs = _num("half_spread", half_spread)
    k = _num("impact_k", impact_k)

    def slip(v: float) -> float:
        x = max(0.0, float(v))  # a volume below 0 (or NaN) sells nothing
        return math.inf if x == math.inf else float(impact_cost(x, a, sd, k=k, half_spread=hs))

    slip.sqrt_law = (a, sd, hs, k)  # type: ignore[attr-defined]  # lets absorbable_volume solve exactly
    return slip


def _largest(f: Callable[[float], float], limit: float, hi: float = _HI) -> float:
    """Largest ``x`` in ``[0, hi]`` with ``f(x) <= limit`` for a non-decreasing ``f`` (inf when ``f(hi) <= limit``).

    Bisection in log space between 1e-6 and ``hi`` to a relative precision of 1e-10."""
    if f(hi) <= limit:
        return math.inf
    lo = 1e-6
    if f(lo) > limit:
        return 0.0
    a, b = math.log(lo), math.log(hi)
    while b - a > 1e-10:
        mid = 0.5 * (a + b)
        if f(math.exp(mid)) <= limit:
            a = mid
        else:
            b = mid
    return math.exp(a)


def absorbable_volume(slippage: Slippage, budget: float) -> float:
    """Largest volume (quote currency) sold with slippage at most ``budget`` (fraction).

    Exact for :func:`sqrt_law_slippage` (``adv * ((budget - half_spread) / (k * sigma_daily))**2``); bisection for
    any other non-decreasing curve. ``inf`` when the slippage never reaches the budget, 0 when even a tiny sale
    costs more.
    """
    b = _num("budget", budget)
    law = getattr(slippage, "sqrt_law", None)
    if law is not None:
        adv, sd, hs, k = law
        if b <= hs:
            return 0.0
        if k * sd <= 0:
            return math.inf
        return adv * ((b - hs) / (k * sd)) ** 2
    return _largest(slippage, b)


def perp_liquidated_share(move: float, *, mmf: float, max_leverage: float) -> float:
    """Share of open interest liquidated by ``move``: leverage uniform on ``[1, max_leverage]`` (module docstring).

    ``clip((L - 1 / (move + mmf)) / (L - 1), 0, 1)``; with ``L = 1``: 1 if ``move + mmf > 1`` else 0.
    """
    m = _num("move", move)
    mm = _num("mmf", mmf, 0.0, 1.0)
    lev = _num("max_leverage", max_leverage, 1.0, 1e4)
    e = m + mm
    if e <= 0:
        return 0.0
    if lev <= 1.0:
        return 1.0 if e > 1.0 else 0.0
    return min(1.0, max(0.0, (lev - 1.0 / e) / (lev - 1.0)))


def perp_bad_debt(open_interest: float, *, move: float, mmf: float, share: float, slippage: Slippage) -> float:
    """Stressed bad debt (quote currency): ``share * OI * max(0, move + s(share * OI) - mmf)``."""
    v = share * open_interest
    if v <= 0:
        return 0.0
    return v * max(0.0, move + slippage(v) - mmf)


def lending_liquidated_share(drop: float, *, ltv: float, liquidation_threshold: float) -> float:
    """Share of supply liquidated by ``drop``: loan-to-value uniform on ``[0, ltv]`` (module docstring).

    ``clip((ltv - LT (1 - drop)) / ltv, 0, 1)``; 0 when ``ltv`` is 0.
    """
    d = _num("drop", drop, 0.0, 1.0)
    v = _num("ltv", ltv, 0.0, 1.0)
    lt = _num("liquidation_threshold", liquidation_threshold, 0.0, 1.0)
    if v <= 0:
        return 0.0
    return min(1.0, max(0.0, (v - lt * (1.0 - d)) / v))


def lending_bad_debt(supply: float, *, drop: float, liquidation_threshold: float, share: float,
                     slippage: Slippage) -> float:
    """Stressed bad debt (quote currency): ``share * S * max(0, LT - (1 - drop)(1 - s(share * S)))``."""
    v = share * supply
    if v <= 0:
        return 0.0
    return v * max(0.0, liquidation_threshold - (1.0 - drop) * (1.0 - min(1.0, slippage(v))))


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PerpCap:
    """An open-interest cap and how it was reached (quote currency; fractions for moves and shares).

    Attributes
    ----------
    open_interest_cap : float or None
        ``min(liquidity_cap, loss_cap)``; None when neither limit binds (no liquidation, no slippage).
    reason : str or None
        ``'liquidity'`` or ``'loss budget'`` (the binding limit), None with no cap.
    liquidity_cap, loss_cap : float or None
        Each limit alone (None: unlimited).
    move : float
        The extreme move ``M``.
    close_move : float
        The stressed move ``M_c`` over the margin period of risk (bad debt per liquidated notional).
    liquidated_share : float
        ``phi``, share of open interest liquidated by ``M``.
    absorbable_volume : float
        ``V*``, the most that can be liquidated with slippage at most ``slippage_budget`` (and within the
        margin period), quote currency (inf: unlimited).
    slippage_budget : float
        Tier 1's liquidation penalty.
    loss_budget : float
        The stressed bad debt allowed, quote currency.
    bad_debt_at_cap : float
        Stressed bad debt at the cap (quote currency).
    """

    open_interest_cap: float | None
    reason: str | None
    liquidity_cap: float | None
    loss_cap: float | None
    move: float
    close_move: float
    liquidated_share: float
    absorbable_volume: float
    slippage_budget: float
    loss_budget: float
    bad_debt_at_cap: float

    def __post_init__(self) -> None:
        if self.reason not in (None, LIQUIDITY, LOSS_BUDGET):
            raise SpecError(f"reason must be 'liquidity', 'loss budget' or None, got {self.reason!r}")
        if (self.open_interest_cap is None) != (self.reason is None):
            raise SpecError("a cap needs a reason and a reason needs a cap")
        if self.open_interest_cap is not None and not self.open_interest_cap >= 0:
            raise SpecError(f"open_interest_cap must be >= 0, got {self.open_interest_cap!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingCaps:
    """Supply and borrow caps of one lending asset and how they were reached (quote currency).

    Attributes
    ----------
    supply_cap, borrow_cap : float or None
        Quote currency; None when neither limit binds.
    debt_ceiling : float or None
        ``ltv * supply_cap`` for an asset in isolation mode, else None.
    reason : str or None
        ``'liquidity'`` or ``'loss budget'``.
    liquidity_cap, loss_cap : float or None
        Each limit alone.
    drop : float
        The extreme drop ``D``.
    liquidated_share, absorbable_volume, slippage_budget, loss_budget, bad_debt_at_cap : float
        As in :class:`PerpCap` (the slippage budget is the liquidation bonus).
    price : float or None
        The as-of price (quote per unit) for converting the caps to whole tokens.
    """

    supply_cap: float | None
    borrow_cap: float | None
    debt_ceiling: float | None
    reason: str | None
    liquidity_cap: float | None
    loss_cap: float | None
    drop: float
    liquidated_share: float
    absorbable_volume: float
    slippage_budget: float
    loss_budget: float
    bad_debt_at_cap: float
    price: float | None = None

    def __post_init__(self) -> None:
        if self.reason not in (None, LIQUIDITY, LOSS_BUDGET):
            raise SpecError(f"reason must be 'liquidity', 'loss budget' or None, got {self.reason!r}")
        if (self.supply_cap is None) != (self.reason is None):
            raise SpecError("a cap needs a reason and a reason needs a cap")
        if self.supply_cap is not None and self.borrow_cap is not None and self.borrow_cap > self.supply_cap + 1e-6:
            raise SpecError(f"borrow_cap {self.borrow_cap!r} must not exceed supply_cap {self.supply_cap!r}")


def _bind(liq: float, loss: float) -> tuple[float | None, str | None]:
    cap = min(liq, loss)
    if not math.isfinite(cap) or cap >= _HI:
        return None, None
    return cap, (LIQUIDITY if liq <= loss else LOSS_BUDGET)


def _time_limit(adv: float | None, participation_rate: float, hours: float) -> float:
    if adv is None:
        return math.inf
    return _num("participation_rate", participation_rate, 0.0, 1.0, lo_open=True) * _num(
        "adv", adv, 0.0, lo_open=True) * _num("hours", hours, 0.0, lo_open=True) / 24.0


# ---------------------------------------------------------------------------------------------
# the caps
# ---------------------------------------------------------------------------------------------


def open_interest_cap(
    *,
    move: float,
    close_move: float | None = None,
    mmf: float,
    max_leverage: float,
    penalty: float,
    slippage: Slippage,
    loss_budget: float,
    adv: float | None = None,
    participation_rate: float = 1.0,
    max_hours: float = 24.0,
) -> PerpCap:
    """The open-interest cap of one perpetual (module docstring for the formulas).

    Parameters
    ----------
    move : float
        Extreme move ``M`` (fraction of price; :func:`stressed_move`): decides the share liquidated.
    close_move : float, optional
        Stressed move ``M_c`` over the margin period of risk a liquidated position suffers while it is closed
        (default ``move``: the whole extreme move after the liquidation starts).
    mmf, max_leverage, penalty : float
        Tier 1's maintenance margin fraction, max leverage and liquidation penalty.
    slippage : callable
        Slippage (fraction) of closing a volume (quote currency); non-decreasing.
    loss_budget : float
        Stressed bad debt allowed, quote currency, >= 0.
    adv : float, optional
        ADV (quote currency) for the close-out time limit ``participation_rate * adv * max_hours / 24``; None
        leaves only the slippage limit.
    participation_rate, max_hours : float
        The policy's ``mpor.participation_rate`` and ``mpor.max_hours``.

    Returns
    -------
    PerpCap
    """
    m = _num("move", move)
    mc = m if close_move is None else _num("close_move", close_move)
    mm = _num("mmf", mmf, 0.0, 1.0, lo_open=True)
    pen = _num("penalty", penalty, 0.0, 1.0)
    budget = _num("loss_budget", loss_budget)
    phi = perp_liquidated_share(m, mmf=mm, max_leverage=max_leverage)
    vstar = min(absorbable_volume(slippage, pen), _time_limit(adv, participation_rate, max_hours))
    liq = math.inf if phi <= 0 else vstar / phi

    def bad(oi: float) -> float:
        return perp_bad_debt(oi, move=mc, mmf=mm, share=phi, slippage=slippage)

    loss = math.inf if phi <= 0 else _largest(bad, budget)
    cap, reason = _bind(liq, loss)
    return PerpCap(
        open_interest_cap=cap, reason=reason, liquidity_cap=_cap(liq), loss_cap=_cap(loss), move=m, close_move=mc,
        liquidated_share=phi, absorbable_volume=vstar, slippage_budget=pen, loss_budget=budget,
        bad_debt_at_cap=0.0 if cap is None else bad(cap),
    )


def lending_caps(
    *,
    drop: float,
    ltv: float,
    liquidation_threshold: float,
    bonus: float,
    slippage: Slippage,
    loss_budget: float,
    borrow_cap_share: float,
    isolated: bool = False,
    price: float | None = None,
    adv: float | None = None,
    participation_rate: float = 1.0,
    hours: float = 24.0,
) -> LendingCaps:
    """Supply, borrow caps and debt ceiling of one collateral asset (module docstring for the formulas).

    Parameters
    ----------
    drop : float
        Extreme drop ``D`` (fraction of price).
    ltv, liquidation_threshold, bonus : float
        The proposed parameters (fractions).
    slippage : callable
        Slippage of selling a volume of the collateral (quote currency -> fraction); non-decreasing.
    loss_budget : float
        Stressed bad debt allowed, quote currency.
    borrow_cap_share : float
        Borrow cap as a share of the supply cap, in (0, 1].
    isolated : bool
        The asset is in isolation mode: a debt ceiling ``ltv * supply_cap`` is set.
    price : float, optional
        As-of price (quote per unit), carried for venue formats.
    adv, participation_rate, hours : float
        Close-out time limit ``participation_rate * adv * hours / 24`` (None: no time limit).
    """
    d = _num("drop", drop, 0.0, 1.0)
    lt = _num("liquidation_threshold", liquidation_threshold, 0.0, 1.0)
    v = _num("ltv", ltv, 0.0, 1.0)
    lb = _num("bonus", bonus)  # an extreme asset's bonus may exceed 100 % of the collateral (then LTV is 0)
    budget = _num("loss_budget", loss_budget)
    share = _num("borrow_cap_share", borrow_cap_share, 0.0, 1.0, lo_open=True)
    px = None if price is None else _num("price", price, 0.0, lo_open=True)
    phi = lending_liquidated_share(d, ltv=v, liquidation_threshold=lt)
    vstar = min(absorbable_volume(slippage, lb), _time_limit(adv, participation_rate, hours))
    liq = math.inf if phi <= 0 else vstar / phi

    def bad(s: float) -> float:
        return lending_bad_debt(s, drop=d, liquidation_threshold=lt, share=phi, slippage=slippage)

    loss = math.inf if phi <= 0 else _largest(bad, budget)
    cap, reason = _bind(liq, loss)
    return LendingCaps(
        supply_cap=cap, borrow_cap=None if cap is None else share * cap,
        debt_ceiling=None if cap is None or not isolated else v * cap, reason=reason, liquidity_cap=_cap(liq),
        loss_cap=_cap(loss), drop=d, liquidated_share=phi, absorbable_volume=vstar, slippage_budget=lb,
        loss_budget=budget, bad_debt_at_cap=0.0 if cap is None else bad(cap), price=px,
    )


# ---------------------------------------------------------------------------------------------
# sentences for the proposal notes
# ---------------------------------------------------------------------------------------------


def _or_unlimited(x: float | None) -> str:
    return "unlimited" if x is None else format_notional(x)


def describe_perp_cap(c: PerpCap, *, adv: float) -> str:
    """One note: the cap, both limits, the binding one, and how it compares with real venues."""
    if c.open_interest_cap is None:
        return (f"Open-interest cap: none binds (the extreme move {c.move:.2%} liquidates "
                f"{c.liquidated_share:.0%} of a cap-level book).")
    s = (f"Open-interest cap {format_notional(c.open_interest_cap)} ({c.reason} binds): the extreme move "
         f"{c.move:.2%} liquidates {c.liquidated_share:.0%} of open interest spread over tier 1's leverages; "
         f"{_or_unlimited(c.absorbable_volume if math.isfinite(c.absorbable_volume) else None)} can be closed "
         f"with slippage below the {c.slippage_budget:.2%} penalty on an ADV of {format_notional(adv)} "
         f"(liquidity cap {_or_unlimited(c.liquidity_cap)}); stressed bad debt stays within the "
         f"{format_notional(c.loss_budget)} loss budget (a {c.close_move:.2%} move while each is closed) up to "
         f"{_or_unlimited(c.loss_cap)}.")
    if c.open_interest_cap < REAL_WORLD_BTC_OI_CAP / 3 and adv > 5e9:
        s += (" Major venues carry billions in open interest on this kind of market: they rely on the liquidity of "
              "every venue (this ADV is one venue's), backstop vaults and auto-deleveraging, not on one venue's "
              "order book absorbing the stressed liquidation volume; the cap scales linearly with the ADV.")
    return s


def describe_lending_caps(c: LendingCaps) -> str:
    """One note: the supply and borrow caps, both limits and the binding one."""
    if c.supply_cap is None:
        return (f"Supply cap: none binds (the extreme drop {c.drop:.2%} liquidates {c.liquidated_share:.0%} of a "
                "cap-level book).")
    dc = "" if c.debt_ceiling is None else f", debt ceiling {format_notional(c.debt_ceiling)} (isolation mode)"
    return (f"Supply cap {format_notional(c.supply_cap)} ({c.reason} binds), borrow cap "
            f"{_or_unlimited(c.borrow_cap)}{dc}: the extreme drop {c.drop:.2%} liquidates {c.liquidated_share:.0%} "
            f"of the supply; {_or_unlimited(c.absorbable_volume if math.isfinite(c.absorbable_volume) else None)} "
            f"can be sold with slippage below the {c.slippage_budget:.2%} bonus (liquidity cap "
            f"{_or_unlimited(c.liquidity_cap)}); stressed bad debt stays within the {format_notional(c.loss_budget)} "
            f"loss budget up to {_or_unlimited(c.loss_cap)}.")

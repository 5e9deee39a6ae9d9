"""Synthetic demo book: perpetual positions with realistic shapes, for the impact of a parameter set.

It is **not a real book**: account ids start with ``syn-``. The generator is pure numpy, deterministic for a
seed (``numpy.random.default_rng(seed)``, a fixed draw order).

Model
-----
* **Symbols**: positions spread over the symbols with weights ``1 / rank`` (the first symbol, e.g. BTC, holds
  the most).
* **Isolated positions** (``1 - cross_share`` of them): notional lognormal with median ``median_notional``
  and log standard deviation :data:`NOTIONAL_SIGMA` (a few whales, many small traders), clipped to
  [100, 5e7] quote currency; 55 % long. Leverage ``L = exp(N(ln 7, 0.45))`` (centred about 5-10x, a tail
  towards the maximum), clipped to ``[1.1, max_leverage]``; equity ``= notional / L``. Accounts are drawn
  from a pool a third the size of the positions, so some accounts hold several isolated positions.
* **Cross accounts** (``cross_share`` of the positions, two to four positions each on distinct symbols): about
  40 % are hedged (a long and a short of notionals within +-20 % of one another, plus any others); the account
  equity is its gross notional divided by a leverage drawn as above.
* **Unrealised P&L since entry**: a book is a snapshot some time after the positions were opened, so each
  isolated position's equity and each cross account's equity then moves by ``side x notional x u`` with
  ``u ~ N(0, pnl_sigma)`` (cross: summed over the account's positions), default :data:`PNL_SIGMA` (3 %, a few
  days of a major's moves). A position or account left with equity below half its entry margin (the usual
  maintenance-to-initial ratio of venues, MMF = IMF / 2) would already have been liquidated, so its draw is
  repeated (up to 20 times, then the P&L is set to 0). This puts some accounts near their maintenance margin,
  as in a real book, so a tighter schedule liquidates some of them *now*. ``pnl_sigma=0`` gives entry equity.
* **Leverage** is drawn at entry up to ``max_leverage`` (default 20x, the demo venue's tier-1 maximum) and never
  above the max leverage of the tier holding the position's notional in the tier tables the book was opened
  under (``tiers``, per symbol, e.g. the venue's current parameters: :func:`entry_tiers`; default
  :data:`DEMO_VENUE_LADDER`): every isolated position opens with equity at or above its tier's initial margin
  ``N / L_max(N)``, every cross account with equity at or above the sum of its positions' initial margins, as
  a venue admits them. Only the unrealised P&L since entry (above) can take one below its maintenance margin;
  a stricter schedule (a proposal) may find a few more of them there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from riskparams.book import Book
from riskparams.tiers import TierLike, TierTable

__all__ = ["DEFAULT_SEED", "DEFAULT_SYMBOLS", "DEMO_VENUE_LADDER", "demo_book", "entry_leverage_caps",
           "entry_tiers"]

DEFAULT_SEED = 20260101
"""Seed of the documented demo book."""
DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC-SYN", "ETH-SYN", "SOL-SYN")
"""The symbols of the demo price universe with example current parameters."""
NOTIONAL_SIGMA = 1.6
"""Log standard deviation of position notionals."""
LEVERAGE_MEDIAN = 7.0
LEVERAGE_SIGMA = 0.45
PNL_SIGMA = 0.03
"""Standard deviation of the unrealised price move since entry (fraction of price)."""
SURVIVE = 0.5
"""A position survived to the snapshot when its equity is at least this share of its entry margin."""
DEMO_VENUE_LADDER: tuple[tuple[float, float], ...] = ((0.0, math.inf), (1e6, 10.0), (5e6, 5.0), (2e7, 3.0))
"""Notional floor (quote currency) and max leverage of each tier a symbol without a tier table is opened under
(tier 1: ``max_leverage``): the example current parameters' BTC-SYN ladder (``riskparams/examples``)."""


def entry_leverage_caps(symbols: np.ndarray, notionals: np.ndarray, symbol_ids: Sequence[str],
                        tiers: Mapping[str, Sequence[TierLike]] | None, max_leverage: float) -> np.ndarray:
    """The highest leverage each position may open at: ``min(max_leverage, L_max(N))`` with ``L_max(N)`` the max
    leverage of the tier holding notional ``N`` (the largest floor <= ``N``) in its symbol's table of ``tiers``
    (:data:`DEMO_VENUE_LADDER` for a symbol without one). Shapes (n,); ``symbols`` index ``symbol_ids``.

    Examples
    --------
    >>> entry_leverage_caps(np.array([0, 0, 0]), np.array([5e5, 2e6, 3e7]), ["BTC"], None, 20.0).tolist()
    [20.0, 10.0, 3.0]
    """
    caps = np.full(len(notionals), float(max_leverage))
    given = {str(k).upper(): v for k, v in (tiers or {}).items()}
    for j, sym in enumerate(symbol_ids):
        idx = np.flatnonzero(symbols == j)
        if not idx.size:
            continue
        table = given.get(str(sym).upper())
        if table is None:
            floors = np.array([f for f, _ in DEMO_VENUE_LADDER])
            levs = np.array([lev for _, lev in DEMO_VENUE_LADDER])
        else:
            t = table if isinstance(table, TierTable) else TierTable(table, symbol=str(sym))
            floors, levs = np.asarray(t.floors, dtype=np.float64), np.asarray(t.max_leverages, dtype=np.float64)
        k = np.clip(np.searchsorted(floors, notionals[idx], side="right") - 1, 0, len(floors) - 1)
        caps[idx] = np.minimum(caps[idx], levs[k])
    return caps


def entry_tiers(proposal: Any = None, current: Any = None) -> dict[str, Sequence[TierLike]]:
    """The tier tables a venue's book was opened under, per symbol: ``current`` parameters' perpetual tiers when
    given, else the current brackets stored in the ``proposal`` (``PerpAssetProposal.current``), else the
    proposal's own tiers (a venue running them); for :func:`demo_book`'s ``tiers``."""
    out: dict[str, Sequence[TierLike]] = {}
    for a in getattr(proposal, "assets", ()) or ():
        tiers = getattr(a, "current", None) or getattr(a, "tiers", None)
        if tiers and all(hasattr(t, "max_leverage") for t in tiers):
            out[str(a.symbol).upper()] = tuple(tiers)
    for sym, c in (getattr(current, "assets", None) or {}).items():
        if getattr(c, "tiers", None):
            out[str(sym).upper()] = tuple(c.tiers)
    return out


def _pnl(rng: np.random.Generator, notional: np.ndarray, side: np.ndarray, entry_equity: np.ndarray,
         pnl_sigma: float) -> np.ndarray:
    """Equity after an unrealised move ``u ~ N(0, pnl_sigma)`` per row; redrawn where it leaves less than
    :data:`SURVIVE` of the entry equity (20 tries, then no move). Shapes (n,)."""
    out = entry_equity.copy()
    if pnl_sigma <= 0:
        return out
    todo = np.ones(len(out), dtype=bool)
    for _ in range(20):
        idx = np.flatnonzero(todo)
        if idx.size == 0:
            break
        u = rng.normal(0.0, pnl_sigma, idx.size)
        eq = entry_equity[idx] + side[idx] * notional[idx] * u
        ok = eq >= SURVIVE * entry_equity[idx]
        out[idx[ok]] = eq[ok]
        todo[idx[ok]] = False
    return out


def _leverage(rng: np.random.Generator, n: int, max_leverage: float | np.ndarray) -> np.ndarray:
    cap = np.asarray(max_leverage, dtype=np.float64)
    return np.clip(np.exp(rng.normal(np.log(LEVERAGE_MEDIAN), LEVERAGE_SIGMA, n)), np.minimum(1.1, cap), cap)


def demo_book(n_positions: int = 2_000, *, symbols: Sequence[str] = DEFAULT_SYMBOLS, seed: int = DEFAULT_SEED,
              max_leverage: float = 20.0, cross_share: float = 0.2, median_notional: float = 20_000.0,
              pnl_sigma: float = PNL_SIGMA, tiers: Mapping[str, Sequence[TierLike]] | None = None) -> Book:
    """A synthetic book of about ``n_positions`` perpetual positions (module docstring).

    Parameters
    ----------
    n_positions : int
        Positions (>= 10); cross accounts may round the count by a few.
    symbols : sequence of str
    seed : int
    max_leverage : float
        Highest leverage drawn (> 1.1).
    cross_share : float
        Share of positions in cross accounts, in [0, 1].
    median_notional : float
        Median notional (quote currency).
    pnl_sigma : float
        Standard deviation of the unrealised move since entry (fraction of price, >= 0; module docstring).
    tiers : Mapping[str, sequence of tiers], optional
        The tier tables (per symbol) the positions were opened under: none opens above its tier's max leverage
        (default :data:`DEMO_VENUE_LADDER`; :func:`entry_tiers` picks them from a proposal or current parameters).

    Examples
    --------
    >>> book = demo_book(1000, seed=1)
    >>> len(book) >= 990, book.symbol_ids, bool(book.cross.any()), bool((book.notionals > 0).all())
    (True, ('BTC-SYN', 'ETH-SYN', 'SOL-SYN'), True, True)
    """
    if n_positions < 10:
        raise ValueError(f"n_positions must be >= 10, got {n_positions}")
    if not 0 <= cross_share <= 1:
        raise ValueError(f"cross_share must be in [0, 1], got {cross_share}")
    if not max_leverage > 1.1:
        raise ValueError(f"max_leverage must be above 1.1, got {max_leverage}")
    if not (np.isfinite(pnl_sigma) and 0 <= pnl_sigma <= 0.5):
        raise ValueError(f"pnl_sigma must be in [0, 0.5], got {pnl_sigma}")
    syms = np.asarray([str(s).upper() for s in symbols], dtype=object)
    k = len(syms)
    if k == 0:
        raise ValueError("symbols must not be empty")
    weights = 1.0 / np.arange(1, k + 1)
    weights /= weights.sum()
    rng = np.random.default_rng(seed)

    def notionals(n: int) -> np.ndarray:
        return np.clip(median_notional * np.exp(rng.normal(0.0, NOTIONAL_SIGMA, n)), 100.0, 5e7)

    n_cross_target = int(round(n_positions * cross_share)) if k >= 2 else 0
    n_iso = n_positions - n_cross_target
    pool = max(1, n_iso // 3)
    iso_acc = rng.integers(0, pool, n_iso)
    iso_sym = rng.choice(k, n_iso, p=weights)
    iso_side = np.where(rng.random(n_iso) < 0.55, "long", "short")
    iso_not = notionals(n_iso)
    iso_eq = iso_not / _leverage(rng, n_iso, entry_leverage_caps(iso_sym, iso_not, list(syms), tiers, max_leverage))
    iso_eq = _pnl(rng, iso_not, np.where(iso_side == "long", 1.0, -1.0), iso_eq, pnl_sigma)

    accounts = [f"syn-i{a:06d}" for a in iso_acc]
    sym_out = list(syms[iso_sym])
    side_out = list(iso_side)
    not_out = list(iso_not)
    eq_out = list(iso_eq)
    mode_out = ["isolated"] * n_iso

    done, c = 0, 0
    while done < n_cross_target:
        m = min(int(rng.integers(2, 5)), k)
        pick = rng.choice(k, m, replace=False, p=weights)
        nots = notionals(m)
        sides = np.where(rng.random(m) < 0.55, "long", "short")
        if rng.random() < 0.4:  # hedged: a long and a short of similar size
            sides[0], sides[1] = "long", "short"
            nots[1] = nots[0] * rng.uniform(0.8, 1.2)
        lev = float(_leverage(rng, 1, max_leverage)[0])  # the account's leverage, capped per position by its tier
        equity = float((nots / np.minimum(lev, entry_leverage_caps(pick, nots, list(syms), tiers, max_leverage))).sum())
        if pnl_sigma > 0:  # one draw per position, summed; redrawn while the account would be below SURVIVE
            signs = np.where(sides == "long", 1.0, -1.0)
            for _ in range(20):
                moved = equity + float((signs * nots * rng.normal(0.0, pnl_sigma, m)).sum())
                if moved >= SURVIVE * equity:
                    equity = moved
                    break
        name = f"syn-x{c:06d}"
        for j in range(m):
            accounts.append(name)
            sym_out.append(syms[pick[j]])
            side_out.append(str(sides[j]))
            not_out.append(float(nots[j]))
            eq_out.append(equity)
            mode_out.append("cross")
        done += m
        c += 1
    return Book.from_columns(accounts, sym_out, side_out, not_out, eq_out, mode_out, source="demo book (synthetic)")

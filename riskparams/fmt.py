"""Small text formatters shared by the command line and the governance exports (stdlib only)."""

from __future__ import annotations

import math


def format_notional(x: float | None) -> str:
    """Format a notional compactly, with a ``k``/``M``/``bn`` suffix and 4 significant digits.

    Parameters
    ----------
    x : float or None
        A notional in quote currency (e.g. USD or USDC); ``None`` means no cap.

    Returns
    -------
    str
        ``"open"`` for ``None``; otherwise the amount in quote currency, e.g. ``"2.5M"``, ``"1bn"``,
        ``"750"`` (no currency symbol).
    """
    if x is None:
        return "open"
    for unit, div in (("bn", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.4g}{unit}"
    return f"{x:.4g}"


def format_hours(h: float) -> str:
    """Format a horizon in hours: minutes below an hour, else three significant digits.

    Parameters
    ----------
    h : float
        Hours; ``nan`` or ``inf`` means no horizon could be computed.

    Returns
    -------
    str
        ``"5 min"``, ``"1.5h"``, ``"72h"``; ``"n/a"`` when not finite.
    """
    if not math.isfinite(h):
        return "n/a"
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.3g}h"

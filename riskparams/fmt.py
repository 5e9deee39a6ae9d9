"""Small text formatters shared by the command line and the governance exports (stdlib only)."""

from __future__ import annotations


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

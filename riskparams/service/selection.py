"""Which stored series a proposal, a backtest or a sweep uses: one per symbol, with why.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from riskparams.domain import (
    SeriesInfo,
    SkippedAsset,
)
from riskparams.exceptions import SeriesNotFoundError
from riskparams.store import Store

MIN_HISTORY_DAYS = 365
"""A series has "enough history" for the default choice when it spans at least a year (EMIR's minimum
lookback, which should include a stress period) and holds at least the policy's ``min_history`` returns."""


_FINEST_FIRST = ("1h", "4h", "1d")


def _span_days(s: SeriesInfo) -> float:
    if s.first is None or s.last is None:
        return 0.0
    return (s.last - s.first).total_seconds() / 86_400.0


def _enough(s: SeriesInfo, min_returns: int) -> bool:
    return s.rows - 1 >= min_returns and _span_days(s) >= MIN_HISTORY_DAYS


def _pick_series(
    found: list[SeriesInfo], profile: str, freq: str | None, kind: str | None, min_returns: int
) -> tuple[SeriesInfo, str] | str:
    """One series per symbol, and why: the ``freq``/``kind`` asked for, else the profile's preference
    (perpetuals: perp prices first, then spot; lending: spot first), then the finest frequency with
    enough history (:data:`MIN_HISTORY_DAYS`, ``min_returns``); a reason string when nothing fits or
    several sources tie."""
    cands = [s for s in found if (freq is None or s.freq == freq) and (kind is None or s.kind == kind)]
    if not cands:
        want = " ".join(x for x in (freq, kind) if x)
        have = "; ".join(s.label for s in found) or "none"
        return f"no {want} series stored (stored: {have})"
    kinds = ([kind] if kind else (["perp", "spot"] if profile == "perp" else ["spot", "perp"]))
    freqs = [freq] if freq else list(_FINEST_FIRST)
    order = [(k, f) for k in kinds for f in freqs]
    for need_enough in (True, False):
        for k, f in order:
            at = [s for s in cands if s.kind == k and s.freq == f and (_enough(s, min_returns) or not need_enough)]
            if not at:
                continue
            if len(at) > 1:
                labels = "; ".join(s.label for s in at)
                return f"several {f} {k} series ({labels}); keep one source per symbol, frequency and kind"
            pick = at[0]
            asked = [x for x, given in ((f"--freq {freq}", freq), (f"--kind {kind}", kind)) if given]
            if asked:
                why = "asked for with " + " and ".join(asked)
            else:
                pref = "perp prices preferred for perpetuals" if profile == "perp" else "spot prices preferred " \
                    "for lending"
                why = f"{pref}, then the finest frequency with enough history"
            if not need_enough:
                why += (f"; short history: {pick.rows - 1} returns over {_span_days(pick):.0f} days (wanted "
                        f"{min_returns} returns and {MIN_HISTORY_DAYS} days)")
            if kind is None and profile == "perp" and pick.kind == "spot":
                why += "; no perp series, so spot prices and spot volume are used"
            if kind is None and profile == "lending" and pick.kind == "perp":
                why += "; no spot series, so perp prices and perp volume are used"
            return pick, why
    return "no series"


def select_series(
    store: Store,
    symbols: list[str] | None = None,
    *,
    profile: str = "perp",
    freq: str | None = None,
    kind: str | None = None,
    min_returns: int = 500,
    include_synthetic: bool = True,
) -> tuple[list[tuple[SeriesInfo, str]], list[SkippedAsset]]:
    """The series to propose or backtest with: one per symbol, with why, and the symbols left out.

    Parameters
    ----------
    symbols : list of str, optional
        Symbols to use (case-insensitive); default every stored symbol.
    profile : {'perp', 'lending'}
        Sets the preferred kind (perp prices for perpetuals, spot for lending).
    freq : {'1h', '4h', '1d'}, optional
        Use only series of this frequency.
    kind : {'spot', 'perp'}, optional
        Use only series of this kind.
    min_returns : int
        Returns a series needs (with a year of span) to count as "enough history" for the default choice.
    include_synthetic : bool
        Without ``symbols``: also use synthetic (demo) series when the store holds market data. A store of
        synthetic series only always uses them; symbols named in ``symbols`` are always used.

    Raises
    ------
    SeriesNotFoundError
        A requested symbol has no stored series.
    """
    chosen: list[tuple[SeriesInfo, str]] = []
    skipped: list[SkippedAsset] = []
    if symbols is None:
        by_symbol: dict[str, list[SeriesInfo]] = {}
        usable = [s for s in store.list_series() if s.rows > 0]
        if not include_synthetic and any(not s.synthetic for s in usable):
            usable = [s for s in usable if not s.synthetic]  # market data stored: demo series only when asked
        for s in usable:
            by_symbol.setdefault(s.symbol.upper(), []).append(s)
        groups = sorted(by_symbol.items())
    else:
        groups = []
        for sym in dict.fromkeys(s.strip().upper() for s in symbols if s.strip()):
            found = [s for s in store.find_series(sym) if s.rows > 0]
            if not found:
                store.resolve_series(sym)  # raises SeriesNotFoundError with the stored symbols
                found = store.find_series(sym)
            groups.append((sym, found))
    for sym, found in groups:
        pick = _pick_series(found, profile, freq, kind, min_returns)
        if isinstance(pick, str):
            if symbols is None and (freq or kind):
                continue  # every stored symbol, filtered: the others are simply not of that kind
            skipped.append(SkippedAsset(symbol=sym, reason=pick))
        else:
            chosen.append(pick)
    if symbols is None and (freq or kind) and not chosen and groups:
        want = " ".join(x for x in (freq, kind) if x)
        stored = "; ".join(sorted({f"{s.freq} {s.kind}" for _sym, found in groups for s in found}))
        raise SeriesNotFoundError(f"no {want} series is stored (stored: {stored}).")
    return chosen, skipped

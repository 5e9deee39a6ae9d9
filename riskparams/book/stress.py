"""Joint stress on a book: historical stress windows replayed day by day, and correlated hypothetical shocks.

Pure numpy functions; :func:`riskparams.service.impact` reads the store's daily closes and passes arrays in.

Historical windows
------------------
A :class:`StressWindow` names calendar days ``start .. end`` (UTC). :func:`window_path` turns it into a path of
joint daily moves of the book's symbols: step ``t`` is ``close_t / close_{t-1} - 1`` for every day from
``start`` to ``end``, the first one measured from the close of the day before ``start``. Every symbol needs a
close on every one of those days (crypto trades every day); otherwise the window is **not in the data** for the
symbols lacking one, and it is reported so, never silently skipped or filled. The path is run through the
liquidation waterfall (:func:`riskparams.book.waterfall.run_waterfall`), the insurance fund carried along it.

Correlated hypothetical shocks
------------------------------
A lead asset (BTC when the book holds it, else the symbol with the most open notional) moves by ``r_lead``
(:data:`LEAD_SHOCKS`: -30 % and -50 %); every other symbol ``i`` moves by::

    r_i = max(-0.95, rho * (sigma_i / sigma_lead) * r_lead)

with ``sigma`` the standard deviation of the symbol's simple daily returns over the last :data:`SIGMA_DAYS`
joint days (today's regime; a whole history is dominated by old manias such as DOGE's in 2021) and ``rho`` a
stressed correlation (default :data:`DEFAULT_RHO` = 0.9: correlations between crypto assets rise towards 1 in a
crash). This is the beta of ``i`` on the lead under correlation ``rho``: the conditional mean move of ``i``
given the lead's move, for jointly normal returns. The cap keeps every price above 5 % of today's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from riskparams.book.impact import MarginSchedule
from riskparams.book.positions import Book
from riskparams.book.waterfall import WaterfallResult, WaterfallSpec, fund_target, run_waterfall, with_fund
from riskparams.exceptions import SpecError
from riskparams.jsonio import clean_float
from riskparams.tiers import TierLike

__all__ = [
    "DEFAULT_RHO",
    "LEAD_SHOCKS",
    "MOVE_CAP",
    "SIGMA_DAYS",
    "STRESS_WINDOWS",
    "StressPath",
    "StressWindow",
    "StressImpact",
    "correlated_shock",
    "cumulative_moves",
    "hypothetical_paths",
    "joint_returns",
    "lead_index",
    "parse_window",
    "stress_book",
    "window_path",
]

DEFAULT_RHO = 0.9
"""Stressed correlation of the hypothetical shocks."""
LEAD_SHOCKS: tuple[float, ...] = (-0.30, -0.50)
"""Moves of the lead asset in the hypothetical shocks (fractions)."""
MOVE_CAP = -0.95
"""Lowest move of a follower in a hypothetical shock (fraction)."""
SIGMA_DAYS = 365
"""Joint daily returns (the most recent) from which the hypothetical shocks' sigmas are taken."""
MAX_WINDOW_DAYS = 366
"""Longest window (calendar days)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,39}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class StressWindow:
    """A named span of calendar days (UTC), both ends included.

    Attributes
    ----------
    name : str
        1-40 letters, digits, spaces and ``. _ : -``, starting with a letter or digit.
    start, end : date
        ``start <= end``, at most :data:`MAX_WINDOW_DAYS` days apart.
    event : str
        What happened (documentation).
    """

    name: str
    start: date
    end: date
    event: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise SpecError(f"stress window name {self.name!r} must be 1-40 letters, digits, spaces or . _ : - "
                            "starting with a letter or digit")
        if not (isinstance(self.start, date) and isinstance(self.end, date)):
            raise SpecError(f"stress window {self.name}: start and end must be dates")
        if self.end < self.start:
            raise SpecError(f"stress window {self.name}: end {self.end} is before start {self.start}")
        if (self.end - self.start).days + 1 > MAX_WINDOW_DAYS:
            raise SpecError(f"stress window {self.name}: {(self.end - self.start).days + 1} days is longer than "
                            f"{MAX_WINDOW_DAYS}")

    @property
    def days(self) -> int:
        """Calendar days in the window."""
        return (self.end - self.start).days + 1


STRESS_WINDOWS: tuple[StressWindow, ...] = (
    StressWindow(name="2020-03-12", start=date(2020, 3, 9), end=date(2020, 3, 13),
                 event="COVID crash ('Black Thursday'): BTC fell about 40 % on 12 March 2020; MakerDAO's "
                 "zero-bid auctions left about 5.7M USD of bad debt; BitMEX went offline."),
    StressWindow(name="2021-05-19", start=date(2021, 5, 12), end=date(2021, 5, 23),
                 event="China mining ban and leverage flush: BTC fell about 30 % intraday on 19 May 2021 with "
                 "record liquidations across venues."),
    StressWindow(name="LUNA", start=date(2022, 5, 5), end=date(2022, 5, 13),
                 event="Terra/LUNA collapse: UST de-pegged and LUNA went to about zero; BTC and ETH fell 25-35 %."),
    StressWindow(name="FTX", start=date(2022, 11, 6), end=date(2022, 11, 10),
                 event="FTX insolvency: FTT collapsed, SOL fell about 50 %, BTC about 20 %."),
    StressWindow(name="2025-10-10", start=date(2025, 10, 9), end=date(2025, 10, 11),
                 event="10 October 2025 tariff shock: the largest liquidation day on record (about 19B USD), "
                 "alt-coins fell 30-70 % intraday, auto-deleveraging on several venues."),
)
"""The named joint stress windows (dates in UTC; the days around each event)."""


def parse_window(text: str) -> StressWindow:
    """A window from ``NAME=YYYY-MM-DD:YYYY-MM-DD`` (the command's ``--window``).

    Examples
    --------
    >>> parse_window("May 2021=2021-05-12:2021-05-23").days
    12
    """
    name, sep, span = str(text).partition("=")
    start_s, sep2, end_s = span.partition(":")
    if not (sep and sep2):
        raise SpecError(f"--window {text!r} must look like NAME=YYYY-MM-DD:YYYY-MM-DD")
    try:
        start, end = date.fromisoformat(start_s.strip()), date.fromisoformat(end_s.strip())
    except ValueError:
        raise SpecError(f"--window {text!r}: {start_s.strip()!r} or {end_s.strip()!r} is not a YYYY-MM-DD "
                        "date") from None
    return StressWindow(name=name.strip(), start=start, end=end, event="named by the user")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StressPath:
    """A stress scenario as a path of joint daily moves, or why there is none.

    Attributes
    ----------
    name : str
    kind : {'window', 'hypothetical'}
    start, end : date or None
        The window (None for a hypothetical shock).
    moves : ndarray of shape (steps, n_symbols), or None
        Daily moves (fractions), columns in the book's symbol order; None when not in the data.
    missing : tuple of str
        Symbols without a close on some day of the window (empty when ``moves`` is set).
    event : str
    """

    name: str
    kind: str
    start: date | None
    end: date | None
    moves: np.ndarray | None
    missing: tuple[str, ...] = ()
    event: str = ""

    @property
    def in_data(self) -> bool:
        """False when the data do not cover the window."""
        return self.moves is not None

    def cumulative(self) -> np.ndarray | None:
        """The compounded move per symbol over the path, ``prod(1 + r) - 1``; None when not in the data."""
        return None if self.moves is None else np.prod(1.0 + self.moves, axis=0) - 1.0

    def describe(self) -> dict[str, Any]:
        """JSON-safe description (no results)."""
        return {"name": self.name, "kind": self.kind,
                "start": None if self.start is None else self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(),
                "status": "ok" if self.in_data else "not in the data", "missing": list(self.missing),
                "days": None if self.moves is None else int(self.moves.shape[0]), "event": self.event}


def window_path(days: np.ndarray, closes: np.ndarray, symbols: Sequence[str], window: StressWindow) -> StressPath:
    """The path of joint daily moves of a window (module docstring).

    Parameters
    ----------
    days : ndarray of datetime64[D], shape (m,)
        Calendar days of the rows of ``closes``, ascending, distinct.
    closes : ndarray, shape (m, k)
        Daily closes (quote currency); NaN where a symbol has no bar.
    symbols : sequence of str, length k
    window : StressWindow

    Examples
    --------
    >>> d = np.arange(np.datetime64("2020-03-08"), np.datetime64("2020-03-11"))
    >>> p = window_path(d, np.array([[100.0], [50.0], [25.0]]), ["BTC"], StressWindow(name="w",
    ...                 start=date(2020, 3, 9), end=date(2020, 3, 10)))
    >>> p.moves.ravel().tolist()
    [-0.5, -0.5]
    >>> window_path(d, np.array([[100.0], [90.0], [45.0]]), ["BTC"], StressWindow(name="w",
    ...             start=date(2020, 3, 9), end=date(2020, 3, 12))).describe()["status"]
    'not in the data'
    """
    d = np.asarray(days).astype("datetime64[D]")
    c = np.asarray(closes, dtype=np.float64)
    if c.ndim != 2 or c.shape != (len(d), len(symbols)):
        raise SpecError(f"closes must have shape ({len(d)}, {len(symbols)}), got {c.shape}")
    want = np.arange(np.datetime64(window.start - timedelta(days=1)), np.datetime64(window.end + timedelta(days=1)))
    pos = np.searchsorted(d, want)
    found = (pos < len(d)) & (d[np.minimum(pos, len(d) - 1)] == want) if len(d) else np.zeros(len(want), bool)
    rows = np.full((len(want), len(symbols)), np.nan)
    if found.any():
        rows[found] = c[pos[found]]
    ok = np.all(np.isfinite(rows) & (rows > 0), axis=0)
    base = dict(name=window.name, kind="window", start=window.start, end=window.end, event=window.event)
    if not ok.all():
        return StressPath(moves=None, missing=tuple(s for s, good in zip(symbols, ok, strict=True) if not good),
                          **base)  # type: ignore[arg-type]
    return StressPath(moves=rows[1:] / rows[:-1] - 1.0, **base)  # type: ignore[arg-type]


def joint_returns(closes: np.ndarray) -> np.ndarray:
    """Simple close-to-close returns on the days every symbol has a close, shape (days - 1, k).

    Parameters
    ----------
    closes : ndarray, shape (m, k)
        Daily closes (quote currency), rows ascending by day, NaN where a symbol has no bar
        (:func:`riskparams.service.joint_daily_closes`).

    Returns
    -------
    ndarray, shape (j - 1, k)
        ``c_t / c_{t-1} - 1`` over the ``j`` rows where all ``k`` closes are finite (consecutive such rows, as
        :meth:`pandas.DataFrame.pct_change` after ``dropna``); empty when ``j < 2``.

    Examples
    --------
    >>> joint_returns(np.array([[100.0, 10.0], [50.0, np.nan], [75.0, 12.0]])).tolist()  # the NaN row is dropped
    [[-0.25, 0.19999999999999996]]
    """
    c = np.asarray(closes, dtype=np.float64)
    if c.ndim != 2:
        raise SpecError(f"closes must have shape (days, symbols), got {c.shape}")
    joint = c[np.all(np.isfinite(c), axis=1)]
    return joint[1:] / joint[:-1] - 1.0 if len(joint) > 1 else np.empty((0, c.shape[1]))


def lead_index(symbols: Sequence[str], open_notional: Sequence[float] | np.ndarray) -> int:
    """The lead asset of the hypothetical shocks: ``BTC`` (or a symbol starting ``BTC``, e.g. ``BTC-SYN``) when
    present, else the symbol with the most open notional.

    Examples
    --------
    >>> lead_index(["ETH", "BTC-SYN"], [5.0, 1.0]), lead_index(["ETH", "SOL"], [1.0, 5.0])
    (1, 1)
    """
    for i, s in enumerate(symbols):
        if s.upper() == "BTC":
            return i
    for i, s in enumerate(symbols):
        if s.upper().startswith("BTC"):
            return i
    return int(np.argmax(np.asarray(open_notional, dtype=np.float64)))


def correlated_shock(sigmas: np.ndarray, lead: int, lead_move: float, rho: float = DEFAULT_RHO) -> np.ndarray:
    """Moves of every symbol when the lead moves by ``lead_move`` (module docstring), shape (k,).

    Parameters
    ----------
    sigmas : ndarray, shape (k,)
        Standard deviations of daily returns (> 0).
    lead : int
        Index of the lead.
    lead_move : float
        In (-1, 1].
    rho : float
        Stressed correlation in [0, 1].

    Examples
    --------
    >>> correlated_shock(np.array([0.04, 0.05, 0.12]), 0, -0.3).round(4).tolist()  # 0.9 x 1.25 x -0.3; capped
    [-0.3, -0.3375, -0.81]
    >>> correlated_shock(np.array([0.04, 0.2]), 0, -0.5).tolist()  # 0.9 x 5 x -0.5 = -2.25: capped
    [-0.5, -0.95]
    """
    s = np.asarray(sigmas, dtype=np.float64)
    if not (0 <= rho <= 1) or not math.isfinite(rho):
        raise SpecError(f"rho must be a correlation in [0, 1], got {rho!r}")
    if not (-1 < lead_move <= 1):
        raise SpecError(f"the lead move must be in (-1, 1], got {lead_move!r}")
    if s.ndim != 1 or not (0 <= lead < len(s)) or not np.all(np.isfinite(s) & (s > 0)):
        raise SpecError("sigmas must be positive and finite, one per symbol, with the lead among them")
    out = rho * (s / s[lead]) * lead_move
    out[lead] = lead_move
    return np.maximum(out, MOVE_CAP)


def hypothetical_paths(symbols: Sequence[str], open_notional: Sequence[float] | np.ndarray, returns: np.ndarray, *,
                       rho: float = DEFAULT_RHO, lead_moves: Sequence[float] = LEAD_SHOCKS,
                       sigma_days: int = SIGMA_DAYS) -> list[StressPath]:
    """One-step paths of the correlated hypothetical shocks (module docstring).

    Parameters
    ----------
    symbols : sequence of str
    open_notional : sequence of float
        Open notional per symbol (chooses the lead when there is no BTC).
    returns : ndarray, shape (days, k)
        Joint simple daily returns, oldest first; the sigmas use the last ``sigma_days`` rows.
    rho : float
    lead_moves : sequence of float
    sigma_days : int
    """
    ret = np.asarray(returns, dtype=np.float64)
    if ret.ndim != 2 or ret.shape[1] != len(symbols) or ret.shape[0] < 2:
        raise SpecError(f"returns must have shape (days >= 2, {len(symbols)}), got {ret.shape}")
    sig = ret[-max(2, sigma_days):].std(axis=0, ddof=1)
    lead = lead_index(symbols, open_notional)
    out = []
    for m in lead_moves:
        moves = correlated_shock(sig, lead, m, rho)
        out.append(StressPath(name=f"{symbols[lead]} {m:+.0%}, rho {rho:g}", kind="hypothetical", start=None, end=None,
                              moves=moves.reshape(1, -1),
                              event=f"lead {symbols[lead]} {m:+.0%}; others rho x sigma_i / sigma_lead x lead move, "
                              f"capped at {MOVE_CAP:.0%}"))
    return out


def cumulative_moves(path: StressPath, symbols: Sequence[str]) -> dict[str, float | None] | None:
    """The compounded move per symbol (JSON-safe), None when not in the data."""
    cum = path.cumulative()
    return None if cum is None else {s: clean_float(v) for s, v in zip(symbols, cum.tolist(), strict=True)}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StressImpact:
    """Stress paths run through the liquidation waterfall, with the insurance fund's target and adequacy.

    Attributes
    ----------
    spec : WaterfallSpec
        The waterfall as run (its ``insurance_fund`` is the fund each path starts with).
    symbols : tuple of str
        The book's symbols (column order of every path).
    paths : tuple of StressPath
        Historical windows (in the data or not), then the hypothetical shocks.
    results : tuple of (WaterfallResult or None)
        One per path; None when the path is not in the data.
    fund_target : float
        Quote currency (:func:`riskparams.book.waterfall.fund_target` over the paths in the data).
    fund_sized_by_rule : bool
        True when the starting fund was set to ``fund_target``.
    fund_carried : bool
        True when one fund was carried from path to path (:func:`stress_book`'s ``carry_fund``).
    notes : tuple of str
    top_n : int
        Accounts in each path's concentration share (``top_share`` of :meth:`window_dicts`).
    """

    spec: WaterfallSpec
    symbols: tuple[str, ...]
    paths: tuple[StressPath, ...]
    results: tuple[WaterfallResult | None, ...]
    fund_target: float
    fund_sized_by_rule: bool = False
    fund_carried: bool = False
    notes: tuple[str, ...] = ()
    top_n: int = 5

    def _ran(self) -> list[tuple[StressPath, WaterfallResult]]:
        return [(p, r) for p, r in zip(self.paths, self.results, strict=True) if r is not None]

    @property
    def fund_adequacy(self) -> float | None:
        """Starting fund / target; None when the target is 0 (no stress path leaves bad debt)."""
        return None if self.fund_target <= 0 else self.spec.insurance_fund / self.fund_target

    @property
    def socialised_loss(self) -> float:
        """The largest socialised loss over the paths run (quote currency)."""
        return max((r.socialised_loss for _, r in self._ran()), default=0.0)

    @property
    def insurance_fund_min(self) -> float:
        """The fund's lowest balance over the paths run (quote currency)."""
        return min((r.insurance_fund_min for _, r in self._ran()), default=self.spec.insurance_fund)

    @property
    def worst(self) -> tuple[StressPath, WaterfallResult] | None:
        """The path with the most bad debt (None when none ran)."""
        ran = self._ran()
        return max(ran, key=lambda pr: (pr[1].bad_debt, pr[1].notional)) if ran else None

    def window_dicts(self) -> list[dict[str, Any]]:
        """One JSON-safe dictionary per path: its description, compounded moves, waterfall figures and
        ``top_share`` (share of the liquidated notional in the :attr:`top_n` accounts with the most of it; None
        when nothing is liquidated or the path is not in the data)."""
        out = []
        for p, r in zip(self.paths, self.results, strict=True):
            d = p.describe()
            d["cumulative_moves"] = cumulative_moves(p, self.symbols)
            keys = ("accounts", "notional", "bad_debt", "fund_paid", "socialised_loss", "unfunded",
                    "insurance_fund_min", "insurance_fund_end", "penalties_to_fund", "backstop_notional")
            rd = None if r is None else r.to_dict()
            d.update({k: None if rd is None else rd[k] for k in keys})
            d["top_share"] = None if r is None else clean_float(r.top_share(self.top_n))
            out.append(d)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe keys for ``impact.<set>``: ``stress_windows``, ``waterfall``, ``fund_target``,
        ``fund_adequacy``, ``socialised_loss``, ``insurance_fund_min``."""
        worst = self.worst
        return {
            "stress_windows": self.window_dicts(),
            "waterfall": {**self.spec.to_dict(), "fund_sized_by_rule": self.fund_sized_by_rule,
                          "fund_carried": self.fund_carried,
                          "worst": None if worst is None else worst[0].name,
                          "worst_bad_debt": None if worst is None else clean_float(worst[1].bad_debt),
                          "fund_went_negative": any(r.fund_went_negative for _, r in self._ran()),
                          "notes": list(self.notes)},
            "fund_target": clean_float(self.fund_target),
            "fund_adequacy": clean_float(self.fund_adequacy),
            "socialised_loss": clean_float(self.socialised_loss),
            "insurance_fund_min": clean_float(self.insurance_fund_min),
        }


def stress_book(book: Book, tables: Mapping[str, MarginSchedule | Sequence[TierLike]], paths: Sequence[StressPath],
                spec: WaterfallSpec | None = None, *, size_fund: bool = False, carry_fund: bool = False,
                notes: Sequence[str] = (), top_n: int = 5) -> StressImpact:
    """Run every stress path in the data through the waterfall, each starting from the same fund (or, with
    ``carry_fund``, one fund carried from path to path in the order given: each starts with the balance the
    previous one ended with; the book is the same at the start of every path).

    Parameters
    ----------
    book : Book
    tables : Mapping[str, MarginSchedule or tier table]
    paths : sequence of StressPath
        Columns in ``book.symbol_ids`` order.
    spec : WaterfallSpec, optional
    size_fund : bool
        Start with the fund target instead of ``spec.insurance_fund`` (the bad debt, hence the target, does not
        depend on the fund).
    carry_fund : bool
        One fund through all paths in order (a backtest against one insurance fund).
    notes : sequence of str
    top_n : int
        Accounts in each path's concentration share.
    """
    if top_n < 1:
        raise SpecError(f"top_n must be >= 1, got {top_n}")
    spec = spec or WaterfallSpec()
    base = replace(spec, insurance_fund=0.0) if size_fund else spec

    runs = [None if p.moves is None else run_waterfall(book, tables, p.moves, base) for p in paths]
    target = fund_target([r.account_bad_debt for r in runs if r is not None], spec.fund_target,
                         percentile=spec.fund_percentile)
    if size_fund:
        spec = replace(spec, insurance_fund=target)
    # the liquidations do not depend on the fund: only its side is recomputed (one fund carried, or each fresh)
    results: list[WaterfallResult | None] = []
    fund = spec.insurance_fund
    for res in runs:
        if res is None:
            results.append(None)
            continue
        res = with_fund(res, spec, start=fund if carry_fund else None)
        if carry_fund:
            fund = res.insurance_fund_end
        results.append(res)
    return StressImpact(spec=spec, symbols=tuple(book.symbol_ids), paths=tuple(paths), results=tuple(results),
                        fund_target=target, fund_sized_by_rule=size_fund, fund_carried=carry_fund, notes=tuple(notes),
                        top_n=top_n)

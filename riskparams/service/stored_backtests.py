"""Reading a stored backtest report back for the Backtest page: typed, exceptions marked, figures.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from riskparams.backtest_content import StoredBacktest
from riskparams.exceptions import DataError
from riskparams.store.backtest_records import StoredReport


def stored_backtest(report: StoredBacktest | StoredReport | Mapping[str, Any]) -> StoredBacktest:
    """A stored backtest report, typed: a :class:`StoredBacktest` as is, a :class:`StoredReport`'s
    :attr:`~StoredReport.backtest`, or stored content read with :meth:`StoredBacktest.from_content`.

    Raises
    ------
    DataError
        Content of another format version (the message names it) or shape.
    """
    if isinstance(report, StoredBacktest):
        return report
    content = report.content if isinstance(report, StoredReport) else report
    try:
        return StoredBacktest.from_content(content, check_hash=False)
    except ValueError as exc:
        raise DataError(str(exc)) from None


def backtest_exception_marks(report: StoredBacktest | Mapping[str, Any], symbol: str
                             ) -> tuple[dict[str, tuple[int, list[int]]], str]:
    """The exceptions the Backtest page's chart marks for one asset, counted as the results table counts them.

    The table (:meth:`riskparams.backtest.BacktestReport.results`) counts each parameter set's **headline side**
    (its ``side``: long, short or the worse of both; lending: the collateral drop) on the **non-overlapping
    sample** (every ``horizon_bars``-th observation from the first). The stored paths hold one point per bar for
    daily series, but only the last bar of each UTC day for intraday ones.

    Returns
    -------
    marks : dict
        Set name -> ``(count, positions)``: ``count`` is the table's exception count; ``positions`` index the
        drawn points where the set's headline-side move exceeded its margin, in the same sample. Daily series:
        ``len(positions) == count``; intraday: the exceptions that fall on the drawn (end-of-day) bars.
    note : str
        One sentence saying which exceptions the legend and the table count (and, intraday, what the crosses
        show).
    """
    bt = stored_backtest(report)
    asset = bt.asset(symbol)
    h = max(1, int(asset.horizon_bars))
    every_bar = len(asset.path_times) == int(asset.bars)  # daily series: one drawn point per bar
    rows = {r.parameter_set: r for r in bt.results if r.symbol == asset.symbol}
    lending = bt.profile == "lending"
    longs, shorts = asset.adverse("long"), asset.adverse("short")
    marks: dict[str, tuple[int, list[int]]] = {}
    sides = []
    for st in asset.sets:
        side = "long" if lending else st.side
        sides.append(side)
        moves = (longs if side == "long" else shorts if side == "short" else
                 [None if a is None or b is None else max(a, b) for a, b in zip(longs, shorts, strict=True)])
        pos = [i for i, (v, m) in enumerate(zip(moves, st.margin_path, strict=False))
               if v is not None and m is not None and v > m and (not every_bar or i % h == 0)]
        row = rows.get(st.name)
        marks[st.name] = (len(pos) if row is None else int(row.exceptions), pos)
    words = {"long": "long positions' adverse move", "short": "short positions' adverse move",
             "both": "worse of the long and short adverse moves"}
    which = ("the collateral drop beyond the room" if lending else
             " / ".join(words.get(x, x) for x in dict.fromkeys(sides)) + " beyond the tier-1 MMF in force")
    sample = ("every observation (a one-bar horizon)" if h == 1 else
              f"the non-overlapping sample (every {h}th {asset.freq} observation from the first)")
    note = f"Exceptions in the legend, the badges and the table: the {which}, over {sample}."
    if not every_bar:
        note += (f" The chart draws the last {asset.freq} bar of each UTC day, so its crosses mark only the "
                 "exceptions on those bars.")
    return marks, note


def backtest_figures(report: StoredBacktest | Mapping[str, Any], symbol: str) -> dict[str, Any]:
    """Figures of a stored backtest report (stored with paths; typed, or its content): ``margins`` (margin in
    force of each set against the realised adverse moves of ``symbol``, exceptions marked and counted as the
    results table counts them, see :func:`backtest_exception_marks`), ``exceptions_note`` (the sentence saying
    which exceptions), ``fund`` (insurance-fund paths of ``symbol``) and ``sets`` (every asset and parameter set
    side by side).

    Raises
    ------
    DataError
        ``symbol`` is not in the report, or the content has no paths.
    """
    from riskparams import charts

    bt = stored_backtest(report)
    asset = next((a for a in bt.assets if a.symbol == symbol.upper()), None)
    if asset is None or not asset.has_paths:
        raise DataError(f"the backtest has no paths for {symbol!r} (assets: {', '.join(bt.symbols)}).")
    ts: Any = pd.to_datetime(list(asset.path_times), utc=True)
    lending = bt.profile == "lending"
    longs, shorts = asset.adverse("long"), asset.adverse("short")
    if lending:
        adverse = list(longs)
    else:
        adverse = [None if a is None or b is None else max(a, b) for a, b in zip(longs, shorts, strict=True)]
    margins = {s.name: list(s.margin_path) for s in asset.sets}
    fund = {s.name: list(s.insurance_fund_path) for s in asset.sets}
    label = ("room 1 - LT(1 + LB)", "collateral drop over the horizon") if lending else (
        "tier-1 MMF in force", "adverse move over the horizon (worse of long and short)")
    marks, note = backtest_exception_marks(bt, asset.symbol)
    return {
        "margins": charts.margin_vs_moves(ts, adverse, margins, title=f"{asset.symbol}: margin in force and "
                                          "realised adverse moves", margin_label=label[0], move_label=label[1],
                                          exceptions=marks),
        "exceptions_note": note,
        "fund": charts.insurance_fund_paths(ts, fund, title=f"{asset.symbol}: insurance fund, same population "
                                            "under each parameter set"),
        "sets": charts.parameter_sets_side_by_side([r.to_dict() for r in bt.results]),
    }

"""Plotly figures from riskparams values: the only door to plotly.

Every figure labels its axes with units. Functions return ``plotly.graph_objects.Figure`` objects
and never touch Streamlit, so notebooks and the HTML report use them too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CANDLE_LIMIT = 400
"""Above this many bars the price chart draws a close line instead of candles (speed, legibility)."""


def _x(index: pd.Index) -> pd.Index:
    """Bar times for a plotly axis: a tz-aware index as naive UTC (plotly.js ignores zones, so the chart is the
    same; a tz-aware index reaches plotly as one Timestamp object per point, ~60x slower to build and serialise)."""
    if isinstance(index, pd.DatetimeIndex) and index.tz is not None:
        return index.tz_convert("UTC").tz_localize(None)
    return index


def price_chart(prices: pd.DataFrame, *, title: str, synthetic: bool = False, log_scale: bool = False) -> go.Figure:
    """Price (candles or close line) over volume.

    Parameters
    ----------
    prices : pandas.DataFrame
        Index ``ts`` (UTC), columns open, high, low, close, volume; shape (n_bars, 5).
    title : str
        Chart title (the series label).
    synthetic : bool
        Adds "synthetic data" to the title so no one mistakes demo data for market data.
    log_scale : bool
        Logarithmic price axis.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03)
    x = _x(prices.index)
    if len(prices) <= CANDLE_LIMIT:
        fig.add_trace(
            go.Candlestick(
                x=x, open=prices["open"], high=prices["high"], low=prices["low"], close=prices["close"],
                name="OHLC",
            ),
            row=1, col=1,
        )
    else:
        fig.add_trace(go.Scattergl(x=x, y=prices["close"], mode="lines", name="close",
                                   line={"width": 1.2}), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=prices["volume"], name="volume", marker={"color": "#8c9fb7"}), row=2, col=1)
    full_title = f"{title} (synthetic data)" if synthetic and "synthetic" not in title else title
    fig.update_layout(
        title=full_title, height=520, showlegend=False, margin={"l": 60, "r": 20, "t": 50, "b": 40},
        xaxis_rangeslider_visible=False, template="plotly_white",
    )
    fig.update_yaxes(title_text="price (quote currency)", type="log" if log_scale else "linear", row=1, col=1)
    fig.update_yaxes(title_text="volume (base units)", row=2, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    return fig


def vol_lines(frame: pd.DataFrame, *, title: str, yaxis: str = "volatility (annualised)") -> go.Figure:
    """One line per column of ``frame`` (fractions, drawn as percent) over time.

    Parameters
    ----------
    frame : pandas.DataFrame
        Index ``ts`` (UTC), one column per series of fractions (0.6 = 60%); shape (n, k).
    """
    fig = go.Figure()
    for col in frame.columns:
        fig.add_trace(go.Scattergl(x=_x(frame.index), y=frame[col], mode="lines", name=str(col),
                                   line={"width": 1.2}))
    fig.update_layout(title=title, height=420, template="plotly_white", legend={"orientation": "h", "y": -0.2},
                      margin={"l": 60, "r": 20, "t": 50, "b": 40}, hovermode="x unified")
    fig.update_yaxes(title_text=yaxis, tickformat=".0%")
    fig.update_xaxes(title_text="time (UTC)")
    return fig


def price_and_vol(prices: pd.DataFrame, vols: pd.DataFrame, *, title: str) -> go.Figure:
    """Close price (log axis) above the conditional volatility of each model.

    Parameters
    ----------
    prices : pandas.DataFrame
        Index ``ts`` (UTC) with a ``close`` column (quote currency).
    vols : pandas.DataFrame
        Index ``ts``, one column per model, annualised volatility fractions.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.45, 0.55], vertical_spacing=0.04)
    fig.add_trace(go.Scattergl(x=_x(prices.index), y=prices["close"], mode="lines", name="close",
                               line={"width": 1.2, "color": "#333"}), row=1, col=1)
    for col in vols.columns:
        fig.add_trace(go.Scattergl(x=_x(vols.index), y=vols[col], mode="lines", name=str(col),
                                   line={"width": 1.1}), row=2, col=1)
    fig.update_layout(title=title, height=560, template="plotly_white", hovermode="x unified",
                      legend={"orientation": "h", "y": -0.12}, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    fig.update_yaxes(title_text="close (quote currency, log)", type="log", row=1, col=1)
    fig.update_yaxes(title_text="conditional vol (annualised)", tickformat=".0%", row=2, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    return fig


def loss_bars(losses: pd.DataFrame, *, metric: str = "qlike") -> go.Figure:
    """Out-of-sample loss per model (lower is better).

    Parameters
    ----------
    losses : pandas.DataFrame
        Columns ``model`` and ``metric`` (from :func:`riskparams.views.model_losses`).
    """
    ok = losses[losses[metric].notna()]
    fig = go.Figure(go.Bar(x=ok["model"], y=ok[metric], marker={"color": "#2f5d8a"}))
    unit = "QLIKE (log variance + proxy / variance)" if metric == "qlike" else "MSE (variance fractions squared)"
    fig.update_layout(title=f"One-step forecast loss by model ({metric.upper()}, lower is better)", height=340,
                      template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 40})
    fig.update_yaxes(title_text=unit)
    fig.update_xaxes(title_text="model")
    return fig


# -------------------------------------------------------------------------------------------------
# governance report figures (used by riskparams.export for the standalone HTML report)
# -------------------------------------------------------------------------------------------------

LadderStep = tuple[float, float | None, float, float]
"""One tier of a ladder: ``(notional_floor, notional_cap, max_leverage, mmf)``; notionals in quote currency
(``notional_cap`` None: open-ended), leverage in x, MMF a fraction (0.03 = 3%)."""


def _ladder_xy(steps: Sequence[LadderStep], index: int, x_min: float, x_max: float) -> tuple[list[float], list[float]]:
    """Step-line points of ``steps`` for column ``index`` (2: max leverage, 3: MMF) from ``x_min`` to ``x_max``."""
    xs: list[float] = []
    ys: list[float] = []
    for floor, cap, *values in steps:
        v = float(values[index - 2])
        xs += [max(float(floor), x_min), min(float(cap), x_max) if cap is not None else x_max]
        ys += [v, v]
    return xs, ys


def tier_ladder(
    proposed: Sequence[LadderStep],
    current: Sequence[LadderStep] | None = None,
    *,
    title: str,
    open_end: float | None = None,
) -> go.Figure:
    """Tier ladder of one perpetual market: max leverage (top) and MMF (bottom) by position notional,
    current against proposed, as step lines on a logarithmic notional axis.

    Parameters
    ----------
    proposed, current : sequence of LadderStep
        Tiers ``(notional_floor, notional_cap, max_leverage, mmf)`` in ascending order; notionals in quote
        currency, leverage in x, MMF a fraction (drawn as percent). ``current`` None: no current table.
    title : str
        Chart title (e.g. the symbol).
    open_end : float, optional
        Notional (quote currency) where an open-ended last tier is drawn to; default 2 x its floor.

    Notes
    -----
    The first tier starts at notional 0, which a log axis cannot show: it is drawn from a tenth of the
    smallest positive tier edge.
    """
    tables = [t for t in (proposed, current) if t]
    edges = [float(e) for t in tables for s in t for e in (s[0], s[1]) if e is not None and float(e) > 0]
    x_min = min(edges) / 10 if edges else 1.0
    last_floor = max((float(s[0]) for t in tables for s in t), default=x_min)
    x_max = float(open_end) if open_end is not None and open_end > last_floor else max(2 * last_floor, 10 * x_min)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("max leverage", "maintenance margin fraction (MMF)"))
    styles = (("proposed", proposed, {"color": "#2f5d8a", "width": 2.4}),
              ("current", current, {"color": "#b55d1f", "width": 1.6, "dash": "dash"}))
    for name, steps, line in styles:
        if not steps:
            continue
        for row, index in ((1, 2), (2, 3)):
            xs, ys = _ladder_xy(steps, index, x_min, x_max)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=line, legendgroup=name,
                                     showlegend=row == 1), row=row, col=1)
    fig.update_layout(title=title, height=520, template="plotly_white", legend={"orientation": "h", "y": -0.15},
                      margin={"l": 60, "r": 20, "t": 70, "b": 40}, hovermode="x unified")
    fig.update_xaxes(type="log", row=1, col=1)
    fig.update_xaxes(type="log", title_text="position notional (quote currency, log)", row=2, col=1)
    fig.update_yaxes(title_text="max leverage (x)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="MMF (% of notional)", tickformat=".1%", rangemode="tozero", row=2, col=1)
    return fig


def covered_move_bars(symbols: Sequence[str], model: Sequence[float], final: Sequence[float], *,
                      title: str = "Covered adverse move by asset") -> go.Figure:
    """The adverse move over the horizon each asset's margin covers: the model's and the final one (after
    anti-procyclicality), as grouped bars.

    Parameters
    ----------
    symbols : sequence of str, shape (n,)
    model, final : sequence of float, shape (n,)
        Fractions of price (0.12 = 12%), drawn as percent.
    """
    fig = go.Figure()
    fig.add_trace(go.Bar(x=list(symbols), y=list(model), name="model", marker={"color": "#8c9fb7"}))
    fig.add_trace(go.Bar(x=list(symbols), y=list(final), name="covered (after anti-procyclicality)",
                         marker={"color": "#2f5d8a"}))
    fig.update_layout(title=title, barmode="group", height=380, template="plotly_white",
                      legend={"orientation": "h", "y": -0.2}, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    fig.update_yaxes(title_text="adverse move (% of price)", tickformat=".2~%")
    fig.update_xaxes(title_text="asset")
    return fig


def sensitivity_heatmap(cells: Sequence[Mapping[str, float | None]], *, title: str) -> go.Figure:
    """Tier-1 MMF over a grid of margin periods of risk (rows) and confidences (columns), annotated with the
    MMF and the max leverage.

    Parameters
    ----------
    cells : sequence of mapping
        ``horizon_hours``, ``confidence``, ``tier1_mmf`` (fraction) and ``tier1_max_leverage`` per cell
        (:class:`riskparams.domain.SensitivityCell` dictionaries).
    """
    hs = sorted({float(c["horizon_hours"] or 0.0) for c in cells})
    qs = sorted({float(c["confidence"] or 0.0) for c in cells})
    z: list[list[float | None]] = [[None for _ in qs] for _ in hs]
    text = [["" for _ in qs] for _ in hs]
    for c in cells:
        i, j = hs.index(float(c["horizon_hours"] or 0.0)), qs.index(float(c["confidence"] or 0.0))
        mmf = c["tier1_mmf"]
        z[i][j] = mmf
        text[i][j] = "-" if mmf is None else f"{mmf:.2%}<br>{(c['tier1_max_leverage'] or 0):g}x"
    ylab = [f"{h * 60:.0f} min" if h < 1 else f"{h:g} h" for h in hs]
    fig = go.Figure(go.Heatmap(z=z, x=[f"{q:.2%}" for q in qs], y=ylab, text=text, texttemplate="%{text}",
                               colorscale="Blues", colorbar={"title": "tier-1 MMF", "tickformat": ".1~%"},
                               hovertemplate="MPOR %{y}, confidence %{x}: MMF %{z:.2%}<extra></extra>"))
    fig.update_layout(title=title, height=120 + 60 * len(hs), template="plotly_white",
                      margin={"l": 80, "r": 20, "t": 50, "b": 40})
    fig.update_xaxes(title_text="confidence", type="category")
    fig.update_yaxes(title_text="margin period of risk", type="category")
    return fig


def lending_bars(
    symbols: Sequence[str],
    proposed: Mapping[str, Sequence[float]],
    current: Mapping[str, Sequence[float | None]] | None = None,
    *,
    title: str = "Lending parameters: current against proposed",
) -> go.Figure:
    """Current against proposed lending parameters per asset, one panel per parameter.

    Parameters
    ----------
    symbols : sequence of str, shape (n,)
    proposed, current : mapping of parameter name to sequence of float, shape (n,)
        Fractions (0.8 = 80%; a liquidation bonus of 0.05 is 5%), drawn as percent; None where an asset has
        no current value. Panels follow the order of ``proposed``.
    """
    names = list(proposed)
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=[n.replace("_", " ") for n in names])
    for col, name in enumerate(names, start=1):
        if current is not None and name in current:
            fig.add_trace(go.Bar(x=list(symbols), y=list(current[name]), name="current", legendgroup="current",
                                 marker={"color": "#d9a273"}, showlegend=col == 1), row=1, col=col)
        fig.add_trace(go.Bar(x=list(symbols), y=list(proposed[name]), name="proposed", legendgroup="proposed",
                             marker={"color": "#2f5d8a"}, showlegend=col == 1), row=1, col=col)
        fig.update_yaxes(tickformat=".1%", title_text="% of collateral value" if col == 1 else None, row=1, col=col)
    fig.update_layout(title=title, barmode="group", height=400, template="plotly_white",
                      legend={"orientation": "h", "y": -0.2}, margin={"l": 60, "r": 20, "t": 70, "b": 40})
    return fig


def backtest_exception_bars(labels: Sequence[str], exceptions: Sequence[float], expected: Sequence[float], *,
                            title: str = "Backtest: exceptions against expected") -> go.Figure:
    """Observed against expected margin exceptions per (symbol, parameter set).

    Parameters
    ----------
    labels : sequence of str, shape (n,)
        E.g. ``"BTC proposed"``.
    exceptions, expected : sequence of float, shape (n,)
        Counts of exceptions (horizon moves beyond the margin in force) and their expected number
        ``n x (1 - confidence)``.
    """
    fig = go.Figure()
    fig.add_trace(go.Bar(x=list(labels), y=list(exceptions), name="exceptions", marker={"color": "#b55d1f"}))
    fig.add_trace(go.Bar(x=list(labels), y=list(expected), name="expected", marker={"color": "#8c9fb7"}))
    fig.update_layout(title=title, barmode="group", height=380, template="plotly_white",
                      legend={"orientation": "h", "y": -0.25}, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    fig.update_yaxes(title_text="exceptions (count)")
    fig.update_xaxes(title_text="asset and parameter set")
    return fig


# -------------------------------------------------------------------------------------------------
# backtest figures (riskparams.backtest reports)
# -------------------------------------------------------------------------------------------------

_SET_COLORS = ("#2f5d8a", "#b55d1f", "#3f8f4f", "#8a3f8f", "#8c6d1f", "#1f8c8a")


def margin_vs_moves(
    dates: Sequence[object],
    adverse: Sequence[float | None],
    margins: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    margin_label: str = "tier-1 MMF in force",
    move_label: str = "realised adverse move over the horizon",
    exceptions: Mapping[str, tuple[int, Sequence[int]]] | None = None,
) -> go.Figure:
    """Margin in force of each parameter set against the realised adverse moves, exceptions marked.

    Parameters
    ----------
    dates : sequence of datetime, shape (n,)
        Observation times (UTC): the margin set at ``dates[t]`` covers the horizon after it.
    adverse : sequence of float, shape (n_obs,), n_obs <= n
        Adverse move over the horizon from each of the first ``n_obs`` dates (fraction of price; None: horizon
        incomplete).
    margins : mapping of set name to sequence of float, shape (n,)
        Margin in force at each date (fractions; drawn as percent, as steps).
    title : str
    margin_label, move_label : str
        Legend text (lending: the room ``1 - LT (1 + LB)`` and the collateral drop).
    exceptions : mapping of set name to (count, positions), optional
        The exceptions to mark and the count the legend states (the Backtest page passes the results table's
        count and the positions of the same exceptions among the drawn points, see
        :func:`riskparams.service.backtest_exception_marks`). Default: every drawn point whose move exceeds the
        set's margin.

    Notes
    -----
    An exception is drawn as a cross in the set's colour on the move; the legend says how many there are (and,
    when fewer fall on the drawn points, how many are drawn).
    """
    x = list(dates)
    moves = [None if v is None else float(v) for v in adverse]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x[: len(moves)], y=moves, name=move_label, marker={"color": "#b8c2cf"}, opacity=0.8))
    for k, (name, m) in enumerate(margins.items()):
        color = _SET_COLORS[k % len(_SET_COLORS)]
        ys = [None if v is None else float(v) for v in m]
        fig.add_trace(go.Scatter(x=x, y=ys, mode="lines", line={"shape": "hv", "color": color, "width": 1.8},
                                 name=f"{name}: {margin_label}", legendgroup=name))
        if exceptions is not None and name in exceptions:
            count, hits = exceptions[name][0], [int(i) for i in exceptions[name][1]]
        else:
            hits = [i for i, (v, lim) in enumerate(zip(moves, ys, strict=False))
                    if v is not None and lim is not None and v > lim]
            count = len(hits)
        ex_x = [x[i] for i in hits]
        ex_y = [moves[i] for i in hits]  # on the drawn move (the worse side: at least the headline one)
        shown = f"{count} exception{'s' if count != 1 else ''}" + ("" if len(hits) == count else
                                                                    f", {len(hits)} on the bars drawn")
        fig.add_trace(go.Scatter(x=ex_x, y=ex_y, mode="markers", name=f"{name}: {shown}",
                                 legendgroup=name, marker={"symbol": "x", "size": 9, "color": color}))
    fig.update_layout(title=title, height=460, template="plotly_white", legend={"orientation": "h", "y": -0.2},
                      margin={"l": 60, "r": 20, "t": 50, "b": 40}, hovermode="x unified", bargap=0)
    fig.update_yaxes(title_text="% of price", tickformat=".1~%", rangemode="tozero")
    fig.update_xaxes(title_text="time (UTC)")
    return fig


def insurance_fund_paths(
    dates: Sequence[object], balances: Mapping[str, Sequence[float | None]], *, title: str,
    currency: str = "quote currency",
) -> go.Figure:
    """Insurance-fund balance over time under each parameter set (same population of positions).

    Parameters
    ----------
    dates : sequence of datetime, shape (n,)
    balances : mapping of set name to sequence of float, shape (n,)
        Balance after each bar (penalties in, bad debt out), in ``currency``.
    """
    fig = go.Figure()
    for k, (name, b) in enumerate(balances.items()):
        fig.add_trace(go.Scatter(x=list(dates), y=list(b), mode="lines", name=name,
                                 line={"color": _SET_COLORS[k % len(_SET_COLORS)], "width": 1.8}))
    fig.add_hline(y=0, line={"color": "#999", "width": 1, "dash": "dot"})
    fig.update_layout(title=title, height=400, template="plotly_white", legend={"orientation": "h", "y": -0.2},
                      margin={"l": 70, "r": 20, "t": 50, "b": 40}, hovermode="x unified")
    fig.update_yaxes(title_text=f"insurance fund ({currency})")
    fig.update_xaxes(title_text="time (UTC)")
    return fig


def parameter_sets_side_by_side(rows: Sequence[Mapping[str, object]], *,
                                title: str = "Parameter sets side by side") -> go.Figure:
    """Backtest results of each parameter set per asset: exceptions against expected, average margin,
    liquidations and bad debt (one panel each, sets as coloured bars, assets on the x axis).

    Parameters
    ----------
    rows : sequence of mapping
        Result rows (:meth:`riskparams.backtest.BacktestReport.results`): ``symbol``, ``parameter_set``,
        ``exceptions``, ``expected`` (counts), ``avg_margin`` (fraction), ``liquidations`` (count) and
        ``bad_debt`` (quote currency).
    """
    sets = list(dict.fromkeys(str(r["parameter_set"]) for r in rows))
    symbols = list(dict.fromkeys(str(r["symbol"]) for r in rows))
    panels = (("exceptions", "exceptions (count; line: expected)", None),
              ("avg_margin", "average margin (% of notional)", ".1%"),
              ("liquidations", "liquidations (count)", None), ("bad_debt", "bad debt (quote currency)", None))
    fig = make_subplots(rows=2, cols=2, subplot_titles=[p[1] for p in panels], vertical_spacing=0.16)
    for k, name in enumerate(sets):
        color = _SET_COLORS[k % len(_SET_COLORS)]
        by_sym = {str(r["symbol"]): r for r in rows if str(r["parameter_set"]) == name}
        for j, (key, _, _fmt) in enumerate(panels):
            ys = [by_sym[s].get(key) if s in by_sym else None for s in symbols]
            fig.add_trace(go.Bar(x=symbols, y=ys, name=name, legendgroup=name, marker={"color": color},
                                 showlegend=j == 0), row=j // 2 + 1, col=j % 2 + 1)
    expected = {str(r["symbol"]): r.get("expected") for r in rows}
    fig.add_trace(go.Scatter(x=symbols, y=[expected[s] for s in symbols], mode="markers", name="expected",
                             marker={"symbol": "line-ew-open", "size": 26, "color": "#333"}), row=1, col=1)
    for j, (_, label, fmt) in enumerate(panels):
        fig.update_yaxes(tickformat=fmt, rangemode="tozero", row=j // 2 + 1, col=j % 2 + 1)
        del label
    fig.update_layout(title=title, barmode="group", height=620, template="plotly_white",
                      legend={"orientation": "h", "y": -0.12}, margin={"l": 60, "r": 20, "t": 70, "b": 40})
    return fig


def figure_html(fig: go.Figure, div_id: str, *, include_plotlyjs: bool) -> str:
    """An HTML fragment drawing ``fig`` in a ``<div>`` with the fixed id ``div_id`` (deterministic output).

    With ``include_plotlyjs=True`` the fragment embeds the whole plotly.js library inline (no CDN: the
    page opens offline); give it to the first figure of a page only.
    """
    height = fig.layout.height
    return str(fig.to_html(
        full_html=False, include_plotlyjs=include_plotlyjs, div_id=div_id,
        config={"displaylogo": False, "responsive": True},
        default_height=f"{int(height)}px" if height else "100%",
    ))


def impact_by_scenario(rows: Sequence[Mapping[str, object]], *, title: str, amount_label: str = "liquidated notional",
                       synthetic: bool = False) -> go.Figure:
    """Liquidated notional (or debt) and bad debt per scenario, one bar per parameter set (grouped).

    Parameters
    ----------
    rows : sequence of mapping
        ``set``, ``scenario``, ``notional`` and ``bad_debt`` (quote currency), one per set and scenario, in the
        order the scenarios are to appear (:func:`riskparams.views.impact_scenarios_frame` records).
    title : str
    amount_label : str
        What the first panel shows (lending books: the debt of the liquidatable accounts).
    synthetic : bool
        Adds "synthetic demo book" to the title.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"{amount_label} (quote currency)", "bad debt (quote currency)"),
                        horizontal_spacing=0.08)
    import html

    sets = list(dict.fromkeys(str(r["set"]) for r in rows))
    palette = ["#8c9fb7", "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#17becf"]
    for k, name in enumerate(sets):
        mine = [r for r in rows if str(r["set"]) == name]
        x = [str(r["scenario"]) for r in mine]
        color = palette[k % len(palette)]
        label = html.escape(name)  # plotly reads a few HTML tags in labels: a set name shows as written
        fig.add_trace(go.Bar(x=x, y=[r["notional"] for r in mine], name=label, legendgroup=name,
                             marker={"color": color}), row=1, col=1)
        fig.add_trace(go.Bar(x=x, y=[r["bad_debt"] for r in mine], name=label, legendgroup=name, showlegend=False,
                             marker={"color": color}), row=1, col=2)
    full = f"{title} (synthetic demo book)" if synthetic and "synthetic" not in title else title
    fig.update_layout(title=full, barmode="group", height=440, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 80, "b": 60}, legend={"title": {"text": "parameter set"}})
    fig.update_yaxes(tickformat="~s")
    fig.update_xaxes(type="category")  # scenario names such as "2020-03-12" are labels, not dates
    return fig


def sweep_variant_label(changes: Mapping[str, Any]) -> str:
    """The name of a sweep variant: its policy changes as ``key=value, key=value`` in the sweep's order (plain
    text, ``""`` for the base policy). The one label of a variant: the frontier's hover text, the Sweep page's
    table and variant picker all use it, so the chart and the table name a variant identically.

    Parameters
    ----------
    changes : mapping
        A variant's ``changes`` (dotted policy key -> value, as stored in the sweep's content).

    Returns
    -------
    str
        E.g. ``"confidence=0.995, mpor.fixed_hours=48"``.
    """
    from riskparams.sweep_content import variant_label

    return variant_label(changes)


def sweep_frontier(variants: Sequence[Any], *, title: str = "Policy sweep: capital against bad debt") -> go.Figure:
    """Every variant of a sweep at (average margin, bad debt); the frontier joined and highlighted.

    Parameters
    ----------
    variants : sequence of SweepVariant
        A sweep's ``variants`` (:class:`riskparams.backtest.sweep.SweepVariant`: ``index``, ``changes``,
        ``avg_margin`` fraction, ``bad_debt`` quote currency, ``on_frontier``), stored or live; points carry their
        variant number as ``customdata`` (selection). Variants without both numbers are not drawn.
    """
    import html

    pts = [v for v in variants if v.avg_margin is not None and v.bad_debt is not None]
    fig = go.Figure()
    for front, name, color, size in ((False, "dominated", "#8c9fb7", 9), (True, "frontier", "#d62728", 12)):
        mine = [v for v in pts if bool(v.on_frontier) is front]
        mine.sort(key=lambda v: float(v.avg_margin))
        text = [html.escape(sweep_variant_label(v.changes)) for v in mine]
        fig.add_trace(go.Scatter(
            x=[100.0 * float(v.avg_margin) for v in mine], y=[float(v.bad_debt) for v in mine],
            mode="lines+markers" if front else "markers", name=name, text=text,
            customdata=[int(v.index) for v in mine], marker={"color": color, "size": size},
            hovertemplate="variant %{customdata}: %{text}<br>avg margin %{x:.2f}%<br>bad debt %{y:,.0f}<extra></extra>"))
    fig.update_layout(title=title, template="plotly_white", height=460, xaxis_title="average tier-1 margin (%)",
                      yaxis_title="bad debt (quote currency)", margin={"l": 60, "r": 20, "t": 60, "b": 60})
    fig.update_yaxes(tickformat="~s")
    return fig


def plan_steps(plan: Any, *, title: str = "Execution plan: tier-1 MMF per asset") -> go.Figure:
    """A step chart of an execution plan (:mod:`riskparams.plan`): per asset, tier-1 MMF (perp) or LTV (lending)
    from its current value through every dated step to the target.

    Parameters
    ----------
    plan : Plan or mapping
        A typed :class:`riskparams.plan.Plan` (e.g. ``StoredPlan.plan``), or a plan's dictionary
        (``Plan.to_dict()``: ``initial``, ``start``, ``min_days`` and ``steps`` with ``date`` and ``values``).
        Values, keyed ``SYMBOL:param[:tier]``, are fractions, drawn in percent; the current value is drawn
        ``min_days`` before step 1.
    """
    import html
    from datetime import date, timedelta

    if isinstance(plan, Mapping):
        profile, initial = plan.get("profile", "perp"), plan.get("initial", {})
        steps = [(s.get("date"), s.get("values", {})) for s in plan.get("steps", [])]
        try:
            before = (date.fromisoformat(str(plan["start"])) - timedelta(days=int(plan["min_days"]))).isoformat()
        except (KeyError, TypeError, ValueError):
            before = None
    else:  # typed (riskparams.plan.Plan)
        profile, initial = plan.profile, plan.initial
        steps = [(s.date, s.values) for s in plan.steps]
        before = (plan.spec.start - timedelta(days=plan.spec.min_days)).isoformat()
    perp = profile == "perp"
    suffix = ":mmf:1" if perp else ":ltv"
    keys = sorted({k for k in initial if str(k).endswith(suffix)})
    fig = go.Figure()
    for key in keys:
        xs: list[Any] = []
        ys: list[float | None] = []
        cur = initial.get(key)
        if before is not None and cur is not None:
            xs.append(before)
            ys.append(100.0 * float(cur))
        for day, values in steps:
            v = values.get(key)
            xs.append(day)
            ys.append(None if v is None or v != v else 100.0 * float(v))  # NaN (typed) or None: no value
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", line_shape="hv",
                                 name=html.escape(str(key).split(":")[0]),
                                 hovertemplate="%{x}: %{y:.3f}%<extra>" + html.escape(str(key)) + "</extra>"))
    fig.update_layout(title=title if perp else title.replace("tier-1 MMF", "LTV"), template="plotly_white",
                      height=380, xaxis_title="date (UTC)", yaxis_title="tier-1 MMF (%)" if perp else "LTV (%)",
                      margin={"l": 60, "r": 20, "t": 60, "b": 50})
    fig.update_xaxes(type="date", tickformat="%Y-%m-%d")  # days, also when the plan has a single date
    dates = sorted({str(x)[:10] for trace in fig.data for x in (trace.x or ()) if x})
    if len(dates) == 1:  # one step: a week either side, not a sub-millisecond axis
        day = pd.Timestamp(dates[0])
        fig.update_xaxes(range=[day - pd.Timedelta(days=7), day + pd.Timedelta(days=7)])
    return fig

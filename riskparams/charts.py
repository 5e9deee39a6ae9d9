"""Plotly figures from riskparams values: the only door to plotly.

Every figure labels its axes with units. Functions return ``plotly.graph_objects.Figure`` objects
and never touch Streamlit, so notebooks and the HTML report use them too.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CANDLE_LIMIT = 1_500
"""Above this many bars the price chart draws a close line instead of candles (speed, legibility)."""


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
    x = prices.index
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
    full_title = f"{title} (synthetic data)" if synthetic else title
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
        fig.add_trace(go.Scattergl(x=frame.index, y=frame[col], mode="lines", name=str(col),
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
    fig.add_trace(go.Scattergl(x=prices.index, y=prices["close"], mode="lines", name="close",
                               line={"width": 1.2, "color": "#333"}), row=1, col=1)
    for col in vols.columns:
        fig.add_trace(go.Scattergl(x=vols.index, y=vols[col], mode="lines", name=str(col),
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

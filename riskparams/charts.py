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

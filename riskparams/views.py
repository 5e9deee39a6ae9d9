"""View models: the tables and series the dashboard pages (and notebooks) draw.

Each function takes a store or a price frame plus plain arguments and returns pandas objects or
small records, so the pages only read inputs, call one function and draw. No Streamlit here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from riskparams.domain import SeriesInfo
from riskparams.returns import bars_per_year
from riskparams.service import FitRun, fit_series
from riskparams.store import Store
from riskparams.volatility import (
    DistName,
    FitSpec,
    MeanName,
    ModelName,
    RealizedMethod,
    compare_models,
    realized_vol,
)

REALIZED_LABELS = {
    RealizedMethod.CLOSE_TO_CLOSE: "close-to-close",
    RealizedMethod.EWMA: "EWMA",
    RealizedMethod.PARKINSON: "Parkinson",
    RealizedMethod.GARMAN_KLASS: "Garman-Klass",
    RealizedMethod.ROGERS_SATCHELL: "Rogers-Satchell",
    RealizedMethod.YANG_ZHANG: "Yang-Zhang",
}

PANEL_MODELS = ("garch", "gjr", "egarch", "ewma")


def realized_panel(
    prices: pd.DataFrame, freq: str, *, window: int = 30, lam: float = 0.94
) -> pd.DataFrame:
    """All realized estimators side by side, annualised (fractions: 0.6 = 60% a year).

    Returns
    -------
    pandas.DataFrame
        Index ``ts`` (UTC), one column per estimator (see :data:`REALIZED_LABELS`);
        shape (n_bars, 6).
    """
    scale = math.sqrt(bars_per_year(freq))
    cols = {
        label: realized_vol(prices, freq, method, window, lam=lam) * scale
        for method, label in REALIZED_LABELS.items()
    }
    return pd.DataFrame(cols)


@dataclass(frozen=True, slots=True)
class ModelPanel:
    """Fits of several models of one series with the same horizon and confidence.

    ``entries`` pairs the model asked for with its fit (which may be an EWMA fallback).
    """

    series: SeriesInfo
    entries: tuple[tuple[str, FitRun], ...]

    def table(self) -> pd.DataFrame:
        """One row per requested model: what was used, fit statistics and horizon risk.

        Volatilities are annualised fractions; ``var`` and ``es`` are fractions of price over the
        horizon (worse tail); ``half_life_bars`` in bars of the series.
        """
        rows: list[dict[str, Any]] = []
        for requested, run in self.entries:
            e = run.estimate
            rows.append({
                "requested": requested,
                "model": e.model.value,
                "dist": e.dist.value,
                "fallback": e.fallback or "",
                "converged": e.converged,
                "loglik": e.loglik,
                "bic": e.bic,
                "persistence": e.persistence,
                "half_life_bars": _half_life(e.persistence),
                "next_vol_ann": e.next_vol_annualised,
                "long_run_vol_ann": e.long_run_vol_annualised,
                "stressed_vol_ann": e.stressed_vol_annualised,
                "horizon_vol": e.horizon_vol,
                "var": e.var,
                "es": e.es,
                "tail": e.worse_tail,
            })
        return pd.DataFrame(rows)

    def params_table(self) -> pd.DataFrame:
        """Parameters per model (arch's names, percent-return convention); NaN where not used."""
        return pd.DataFrame({req: dict(run.estimate.params) for req, run in self.entries})

    def diagnostics_table(self) -> pd.DataFrame:
        """Residual diagnostics per model (statistics and p-values); one column per model."""
        out: dict[str, dict[str, Any]] = {}
        for req, run in self.entries:
            d = run.estimate.diagnostics
            out[req] = {} if d is None else {
                k: v for k, v in d.to_dict().items() if not isinstance(v, dict | list)
            }
        return pd.DataFrame(out)

    def conditional_vol(self) -> pd.DataFrame:
        """Conditional volatility per model, annualised fractions; index ``ts``."""
        return pd.DataFrame({
            req: run.estimate.conditional_vol * math.sqrt(bars_per_year(run.estimate.freq))
            for req, run in self.entries
        })


def _half_life(persistence: float) -> float:
    if not (0 < persistence < 1):
        return math.inf
    return math.log(0.5) / math.log(persistence)


def model_panel(
    store: Store,
    series_id: int,
    *,
    models: tuple[str, ...] = PANEL_MODELS,
    dist: str = "t",
    mean: str = "zero",
    horizon_hours: float = 24.0,
    confidence: float = 0.99,
    n_sims: int = 2_000,
) -> ModelPanel:
    """Fit each of ``models`` to one stored series (through the store's fit cache).

    Raises
    ------
    ValueError
        A spec value is out of range (the message names it).
    """
    info = store.get_series(series_id)
    entries = []
    for m in models:
        spec = FitSpec(model=ModelName(m), dist=DistName(dist), mean=MeanName(mean), horizon_hours=horizon_hours,
                       confidence=confidence, n_sims=n_sims)
        run = fit_series(store, info.symbol, freq=info.freq, source=info.source, kind=info.kind, spec=spec)
        entries.append((m, run))
    return ModelPanel(series=info, entries=tuple(entries))


def model_losses(
    prices: pd.DataFrame, freq: str, *, holdout: int = 250, dist: str = "t", proxy: str = "squared_returns"
) -> pd.DataFrame:
    """Out-of-sample one-step losses (QLIKE, MSE) of the panel models over the last ``holdout`` bars.

    See :func:`riskparams.volatility.compare_models`; lower is better.
    """
    holdout = max(10, min(int(holdout), len(prices) - 101))
    return compare_models(prices, freq, holdout=holdout, candidates=PANEL_MODELS, dist=dist, proxy=proxy)

"""Volatility fits of stored series through the store's fit cache.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from riskparams.domain import SeriesInfo
from riskparams.exceptions import HistoryError
from riskparams.jsonio import canonical_json, clean_float
from riskparams.returns import data_fingerprint, to_utc
from riskparams.store import Store
from riskparams.volatility import FitSpec, VolEstimate, fit_volatility


@dataclass(frozen=True, slots=True)
class FitRun:
    """A volatility fit of one stored series: the series, the estimate, and whether it came from the cache.

    ``fingerprint`` is the SHA-256 of the exact price rows used (provenance); ``prices`` are those rows
    (index ``ts``, OHLCV columns), so callers that also need the bars do not load them again.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> run = riskparams.fit(store, "ABC")
    >>> run.series.label, run.cached, run.fingerprint == riskparams.fit(store, "ABC").fingerprint
    ('ABC 1d spot (example)', False, True)
    >>> run.to_dict()["next_vol_annualised"] == run.estimate.next_vol_annualised
    True
    """

    series: SeriesInfo
    estimate: VolEstimate
    fingerprint: str
    cached: bool
    prices: pd.DataFrame = field(repr=False, compare=False, default_factory=pd.DataFrame)

    def to_dict(self, *, with_series: bool = False) -> dict[str, Any]:
        """JSON-safe dictionary for ``riskparams fit --json``.

        The conditional-volatility series is left out unless ``with_series``.
        """
        est = self.estimate.to_dict()
        if not with_series:
            est.pop("conditional_vol", None)
        s = self.series
        head = {
            "symbol": s.symbol, "freq": s.freq, "source": s.source, "kind": s.kind, "synthetic": s.synthetic,
            "data_fingerprint": self.fingerprint, "cached": self.cached,
            "next_vol_annualised": clean_float(self.estimate.next_vol_annualised),
        }
        return {**head, **est}


def fit_series(
    store: Store,
    symbol: str,
    *,
    freq: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    spec: FitSpec | None = None,
    as_of: datetime | pd.Timestamp | str | None = None,
    use_cache: bool = True,
) -> FitRun:
    """Fit the volatility model of ``spec`` to a stored series, using the fit cache.

    Fits are cached in the store keyed by series, data fingerprint (exact rows used), spec and the
    time of the last bar used, so a page or command never refits what it already has.

    Parameters
    ----------
    as_of : datetime, Timestamp or str, optional
        Use only bars up to this UTC time (no look-ahead); default all bars.

    Raises
    ------
    SeriesNotFoundError, AmbiguousSeriesError
        The symbol does not name exactly one stored series.
    HistoryError
        Too little data up to ``as_of``.

    Examples
    --------
    ``riskparams.fit`` is this function. By default the GARCH-family model of lowest BIC with Student-t
    innovations, a 24h horizon and 99% VaR / ES:

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> run = riskparams.fit(store, "ABC")
    >>> est = run.estimate
    >>> str(est.model), str(est.dist), est.horizon_hours, est.fallback
    ('garch', 't', 24.0, None)
    >>> 0.2 < est.next_vol_annualised < 0.6 and 0 < est.var < est.es
    True
    >>> riskparams.fit(store, "ABC").cached  # the second time it comes from the store
    True
    >>> spec = riskparams.FitSpec(model="gjr", horizon_hours=48, confidence=0.995)
    >>> str(riskparams.fit(store, "ABC", spec=spec, as_of="2020-12-31").estimate.model)
    'gjr'
    """
    info = store.resolve_series(symbol, freq=freq, source=source, kind=kind)
    end = None if as_of is None else to_utc(as_of, "as-of date")
    prices = store.load_prices(info.series_id, end=end)
    if len(prices) < 3:
        when = "" if end is None else f" up to {end:%Y-%m-%d %H:%M} UTC"
        raise HistoryError(f"{info.label} has {len(prices)} bars{when}; a fit needs at least 3.")
    return fit_prices(store, info, prices, spec=spec, use_cache=use_cache)


def fit_prices(
    store: Store, info: SeriesInfo, prices: pd.DataFrame, *, spec: FitSpec | None = None, use_cache: bool = True
) -> FitRun:
    """:func:`fit_series` on bars already loaded from the store (``prices``, of the series ``info``), through
    the same fit cache: callers that fit several specs to one series load it once."""
    spec = FitSpec() if spec is None else spec
    fingerprint = data_fingerprint(prices)
    last = prices.index[-1].to_pydatetime()
    if use_cache:
        payload = store.get_fit(info.series_id, fingerprint, _cache_key(spec), last)
        if payload is not None:
            return FitRun(info, VolEstimate.from_dict(json.loads(payload)), fingerprint, True, prices)
    estimate = fit_volatility(prices, info.freq, spec)
    store.put_fit(info.series_id, fingerprint, _cache_key(spec), last,
                  canonical_json(estimate.to_dict()))
    return FitRun(info, estimate, fingerprint, False, prices)


ESTIMATE_FORMAT = 2
"""Version of the cached :class:`VolEstimate` payload; bump it when the estimate gains or changes fields,
so fits cached by an older riskparams are recomputed instead of read back incomplete."""


def _cache_key(spec: FitSpec) -> str:
    return f"{spec.key()}|estimate-v{ESTIMATE_FORMAT}"

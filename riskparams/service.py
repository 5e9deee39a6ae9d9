"""Use-cases that chain the library for the command line, the dashboard and notebooks.

Each function takes a :class:`~riskparams.store.Store` and plain arguments and returns domain
values; none of them prints or draws.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from riskparams.domain import SeriesInfo
from riskparams.exceptions import DataError, HistoryError
from riskparams.quality import DEFAULT_OUTLIER_Z, QualityReport, quality_report
from riskparams.returns import data_fingerprint
from riskparams.store import Store
from riskparams.volatility import FitSpec, VolEstimate, fit_volatility


def open_store(db: str | Path | None = None, *, read_only: bool = False) -> Store:
    """Open (creating and migrating when needed) the store at ``db`` or the default location."""
    return Store(db, read_only=read_only)


def list_assets(store: Store) -> list[dict[str, object]]:
    """All stored series as JSON-safe dictionaries.

    Keys: ``series_id, symbol, source, kind, freq, synthetic, rows, first, last`` (ISO-8601 UTC).
    """
    return [s.to_dict() for s in store.list_series()]


def assets_frame(store: Store) -> pd.DataFrame:
    """The stored series as a table for display (one row per series)."""
    rows = list_assets(store)
    cols = ["symbol", "freq", "kind", "source", "synthetic", "rows", "first", "last", "series_id"]
    return pd.DataFrame(rows, columns=cols)


def load_series(
    store: Store,
    symbol: str,
    *,
    freq: str | None = None,
    source: str | None = None,
    kind: str | None = None,
) -> tuple[SeriesInfo, pd.DataFrame]:
    """Resolve a symbol to one series and load its bars (see :meth:`Store.load_prices`)."""
    info = store.resolve_series(symbol, freq=freq, source=source, kind=kind)
    return info, store.load_prices(info.series_id)


def series_quality(
    store: Store,
    symbol: str,
    *,
    freq: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    stale_min_bars: int | None = None,
    outlier_z: float = DEFAULT_OUTLIER_Z,
) -> tuple[SeriesInfo, QualityReport]:
    """Quality report of one stored series (see :func:`riskparams.quality.quality_report`)."""
    info, prices = load_series(store, symbol, freq=freq, source=source, kind=kind)
    return info, quality_report(prices, info.freq, stale_min_bars=stale_min_bars, outlier_z=outlier_z)


@dataclass(frozen=True, slots=True)
class FitRun:
    """A volatility fit of one stored series: the series, the estimate, and whether it came from the cache.

    ``fingerprint`` is the SHA-256 of the exact price rows used (provenance).
    """

    series: SeriesInfo
    estimate: VolEstimate
    fingerprint: str
    cached: bool

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
            "next_vol_annualised": _finite_or_none(self.estimate.next_vol_annualised),
        }
        return {**head, **est}


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


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
    """
    spec = FitSpec() if spec is None else spec
    info = store.resolve_series(symbol, freq=freq, source=source, kind=kind)
    end = None if as_of is None else _utc(as_of)
    prices = store.load_prices(info.series_id, end=end)
    if len(prices) < 3:
        when = "" if end is None else f" up to {end:%Y-%m-%d %H:%M} UTC"
        raise HistoryError(f"{info.label} has {len(prices)} bars{when}; a fit needs at least 3.")
    fingerprint = data_fingerprint(prices)
    last = prices.index[-1].to_pydatetime()
    if use_cache:
        payload = store.get_fit(info.series_id, fingerprint, spec.key(), last)
        if payload is not None:
            return FitRun(info, VolEstimate.from_dict(json.loads(payload)), fingerprint, True)
    estimate = fit_volatility(prices, info.freq, spec)
    store.put_fit(info.series_id, fingerprint, spec.key(), last, json.dumps(estimate.to_dict(), allow_nan=False))
    return FitRun(info, estimate, fingerprint, False)


def _utc(value: datetime | pd.Timestamp | str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"as-of date {value!r} is not a date (use e.g. 2024-01-31 or 2024-01-31T12:00Z).") from None
    if ts is pd.NaT:
        raise DataError(f"as-of date {value!r} is not a date.")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

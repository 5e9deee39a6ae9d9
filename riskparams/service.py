"""Use-cases that chain the library for the command line, the dashboard and notebooks.

Each function takes a :class:`~riskparams.store.Store` and plain arguments and returns domain
values; none of them prints or draws.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskparams.domain import SeriesInfo
from riskparams.quality import DEFAULT_OUTLIER_Z, QualityReport, quality_report
from riskparams.store import Store


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

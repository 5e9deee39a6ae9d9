"""riskparams: margin and liquidation parameters for DAO risk committees.

The library is usable without Streamlit. The command line (:mod:`riskparams.cli`) and the dashboard
(``app.py`` and ``pages/``) are thin layers over :mod:`riskparams.service`.
"""

from __future__ import annotations

from riskparams.exceptions import (
    AmbiguousSeriesError,
    DataError,
    DataQualityWarning,
    ExchangeError,
    FallbackWarning,
    FitError,
    HistoryError,
    PolicyError,
    RiskParamsError,
    RiskParamsWarning,
    SeriesNotFoundError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "AmbiguousSeriesError",
    "DataError",
    "DataQualityWarning",
    "ExchangeError",
    "FallbackWarning",
    "FitError",
    "HistoryError",
    "PolicyError",
    "RiskParamsError",
    "RiskParamsWarning",
    "SeriesNotFoundError",
    "StoreError",
    "__version__",
]

"""Exceptions and warnings raised by riskparams.

The tree, in one place::

    RiskParamsError                 base of everything a user can cause or fix
    ├── DataError                   a rejected file or frame (names file, row, column, value)
    ├── StoreError                  the DuckDB store cannot be opened, is locked, or is too new
    ├── SeriesNotFoundError         no stored series matches a symbol (and freq / source)
    ├── AmbiguousSeriesError        several stored series match; the message lists them
    ├── HistoryError                not enough history for an estimate
    ├── FitError                    a model fit failed and no fallback applies
    ├── PolicyError                 an invalid policy or parameter file (names key and allowed range)
    └── ExchangeError               an exchange fetch failed (offline, unknown symbol, rate limit)

    RiskParamsWarning               base of the warnings
    ├── DataQualityWarning          accepted data with gaps or other remarks
    └── FallbackWarning             a model guard tripped and a simpler model was used

Every message is one plain sentence meant for the person who made the input, so the command line
prints ``str(error)`` and the dashboard shows it in ``st.error`` without a traceback.
"""

from __future__ import annotations


class RiskParamsError(Exception):
    """Base class of all riskparams errors a user can cause or fix."""


class DataError(RiskParamsError, ValueError):
    """Input data was rejected.

    Parameters
    ----------
    message : str
        One sentence naming what is wrong.
    file : str, optional
        The file (or frame label) the data came from.
    row : int, optional
        1-based row number in the file (the header is row 1 of a CSV file).
    column : str, optional
        The offending column, as named in the file.
    value : object, optional
        The offending value.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.row = row
        self.column = column
        self.value = value


class StoreError(RiskParamsError):
    """The store cannot be opened or used (locked by another process, newer schema, bad path)."""


class SeriesNotFoundError(RiskParamsError, LookupError):
    """No stored series matches the request."""


class AmbiguousSeriesError(RiskParamsError, LookupError):
    """Several stored series match the request; the message lists the choices."""


class HistoryError(RiskParamsError):
    """Not enough history for the requested estimate."""


class FitError(RiskParamsError):
    """A model fit failed and no fallback applies."""


class PolicyError(RiskParamsError, ValueError):
    """An invalid policy, specification or parameter file; the message names the key and the allowed range."""


class ExchangeError(RiskParamsError):
    """An exchange fetch failed (no network, unknown market, exchange error)."""


class RiskParamsWarning(UserWarning):
    """Base class of riskparams warnings."""


class DataQualityWarning(RiskParamsWarning):
    """Data were accepted with remarks (gaps, stale prices)."""


class FallbackWarning(RiskParamsWarning):
    """A model guard tripped and a simpler model was used; the reason is recorded with the result."""

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
    """Base class of all riskparams errors a user can cause or fix.

    Examples
    --------
    Catch it to show the one-sentence message instead of a traceback:

    >>> import riskparams
    >>> try:
    ...     riskparams.RiskPolicy(confidence=2)
    ... except riskparams.RiskParamsError as exc:
    ...     print(f"{type(exc).__name__}: {exc}")
    PolicyError: confidence must be in [0.9, 0.9999], got 2
    """


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

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import random_walk_ohlc
    >>> bars = random_walk_ohlc(3, seed=1).reset_index(names="timestamp").assign(close=-1.0)
    >>> try:
    ...     riskparams.ingest_frame(riskparams.open_store(":memory:"), bars, symbol="ABC", source="x", origin="bars")
    ... except riskparams.DataError as exc:
    ...     print(exc, "|", exc.row, exc.column, exc.value)
    bars ABC: row 1, column 'close': price -1.0 is not positive. | 1 close -1.0
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
    """The store cannot be opened or used (locked by another process, newer schema, bad path).

    Examples
    --------
    >>> import riskparams, tempfile
    >>> riskparams.open_store(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    riskparams.exceptions.StoreError: cannot open the store ...: it is a folder; give a file such as ...
    """


class SeriesNotFoundError(RiskParamsError, LookupError):
    """No stored series matches the request.

    Examples
    --------
    >>> import riskparams
    >>> riskparams.fit(riskparams.open_store(":memory:"), "BTC")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.SeriesNotFoundError: no stored series for symbol 'BTC'. The store is empty: ...
    """


class AmbiguousSeriesError(RiskParamsError, LookupError):
    """Several stored series match the request; the message lists the choices.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import random_walk_ohlc
    >>> store = riskparams.open_store(":memory:")
    >>> bars = random_walk_ohlc(30, seed=1).reset_index(names="timestamp")
    >>> for source in ("binance", "okx"):
    ...     _ = riskparams.ingest_frame(store, bars, symbol="ABC", source=source, origin="bars")
    >>> riskparams.fit(store, "ABC")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.AmbiguousSeriesError: several series match 'ABC'; pick one with --freq 1d --source binance ...
    >>> riskparams.fit(store, "ABC", source="okx", spec=riskparams.FitSpec(model="ewma")).series.label
    'ABC 1d spot (okx)'
    """


class HistoryError(RiskParamsError):
    """Not enough history for the requested estimate.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import random_walk_ohlc
    >>> store = riskparams.open_store(":memory:")
    >>> bars = random_walk_ohlc(30, seed=1, start="2024-01-01").reset_index(names="timestamp")
    >>> _ = riskparams.ingest_frame(store, bars, symbol="ABC", source="x", origin="bars")
    >>> riskparams.fit(store, "ABC", as_of="2023-12-31")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.HistoryError: ABC 1d spot (x) has 0 bars up to 2023-12-31 00:00 UTC; a fit needs at least 3.
    """


class FitError(RiskParamsError):
    """A model fit failed and no fallback applies.

    Examples
    --------
    A year-long horizon on daily bars with 200,000 simulated paths would simulate 73 million returns:

    >>> import riskparams
    >>> from riskparams.ingest.demo import random_walk_ohlc
    >>> store = riskparams.open_store(":memory:")
    >>> bars = random_walk_ohlc(600, seed=1).reset_index(names="timestamp")
    >>> _ = riskparams.ingest_frame(store, bars, symbol="ABC", source="x", origin="bars")
    >>> riskparams.fit(store, "ABC", spec=riskparams.FitSpec(horizon_hours=8760, n_sims=200_000))
    Traceback (most recent call last):
    ...
    riskparams.exceptions.FitError: a 8760h horizon on 1d bars is 365 bars; with n_sims 200000 that is ...
    """


class PolicyError(RiskParamsError, ValueError):
    """An invalid policy, specification or parameter file; the message names the key and the allowed range.

    Examples
    --------
    >>> import riskparams
    >>> riskparams.policy_from_dict({"guardrails": {"max_relative_change": -1}})
    Traceback (most recent call last):
    ...
    riskparams.exceptions.PolicyError: guardrails.max_relative_change must be in (0, 10], got -1
    >>> issubclass(riskparams.PolicyError, ValueError)
    True
    """


class ExchangeError(RiskParamsError):
    """An exchange fetch failed (no network, unknown market, exchange error).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest import fetch
    >>> fetch(riskparams.open_store(":memory:"), exchange="binance", symbol="BTC/USDT", timeframe="5m")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.ExchangeError: frequency must be one of 1h, 4h, 1d, got '5m'.
    """


class RiskParamsWarning(UserWarning):
    """Base class of riskparams warnings.

    Examples
    --------
    Turn every riskparams warning into an error (as the test suite does for :class:`FallbackWarning`):

    >>> import riskparams, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", riskparams.RiskParamsWarning)
    ...     try:
    ...         warnings.warn("a remark", riskparams.DataQualityWarning)
    ...     except riskparams.RiskParamsWarning as w:
    ...         print(type(w).__name__, w)
    DataQualityWarning a remark
    """


class DataQualityWarning(RiskParamsWarning):
    """Data were accepted with remarks (gaps, stale prices).

    Examples
    --------
    >>> import riskparams, warnings
    >>> from riskparams.ingest.demo import random_walk_ohlc
    >>> from riskparams.returns import log_returns
    >>> bars = random_walk_ohlc(10, seed=1).assign(volume=1.0)
    >>> bars = bars.drop(bars.index[4])  # one day missing
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     returns = log_returns(bars, "1d")
    >>> len(returns), caught[0].category.__name__, str(caught[0].message)
    (7, 'DataQualityWarning', '1 return(s) spanning 1 gap(s) (1 missing bar(s)) were dropped')
    """


class FallbackWarning(RiskParamsWarning):
    """A model guard tripped and a simpler model was used; the reason is recorded with the result.

    Examples
    --------
    >>> import riskparams, warnings
    >>> from riskparams.ingest.demo import random_walk_ohlc
    >>> store = riskparams.open_store(":memory:")
    >>> bars = random_walk_ohlc(200, seed=1).reset_index(names="timestamp")
    >>> _ = riskparams.ingest_frame(store, bars, symbol="ABC", source="x", origin="bars")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     run = riskparams.fit(store, "ABC")
    >>> caught[0].category.__name__, str(run.estimate.model), run.estimate.fallback
    ('FallbackWarning', 'ewma', 'short history: 199 returns < min_history 500')
    """

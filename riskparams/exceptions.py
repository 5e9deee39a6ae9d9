"""Exceptions and warnings raised by riskparams.

The tree, in one place::

    RiskParamsError                 base of everything a user can cause or fix
    ├── DataError                   a rejected file or frame (names file, row, column, value)
    ├── StoreError                  the DuckDB store cannot be opened, is locked, or is too new
    ├── SeriesNotFoundError         no stored series matches a symbol (and freq / source)
    ├── AmbiguousSeriesError        several stored series match; the message lists them
    ├── ProposalNotFoundError       no stored proposal matches an id (or id prefix)
    ├── ReportNotFoundError         no stored backtest report matches an id (or id prefix)
    ├── HistoryError                not enough history for an estimate
    ├── FitError                    a model fit failed and no fallback applies
    ├── SpecError                   an invalid specification or argument (names the field and the value)
    │   ├── PolicyError             an invalid policy or parameter file (names key and allowed range)
    │   ├── TierError               a tier table breaks an invariant (names the tier and the field)
    │   └── AuthConfigError         a bad sign-in setting (names the option, variable or key)
    ├── ExchangeError               an exchange fetch failed (offline, unknown symbol, rate limit)
    ├── ExportError                 an export cannot be made (format, profile, payload)
    ├── GovernanceError             a workflow rule refused an action
    │   └── CommitteeError          the committee file is invalid, or a member is not in it
    ├── SignatureError              a signature, key or signed message is malformed or does not verify
    └── UsageError                  a command-line mistake detected after parsing

    RiskParamsWarning               base of the warnings
    ├── DataQualityWarning          accepted data with gaps or other remarks
    └── FallbackWarning             a model guard tripped and a simpler model was used

Every message is one plain sentence meant for the person who made the input, so the command line
prints ``str(error)`` and the dashboard shows it in ``st.error`` without a traceback.

Every exception class riskparams defines lives here (the tests check it); modules that raised their own
before (``riskparams.governance.GovernanceError``, ``riskparams.export.ExportError``, ...) re-export them
from here, so old imports keep working. :class:`SpecError` is the one validation dialect: every frozen,
validated specification (``FitSpec``, ``RiskPolicy`` and its sections, ``BacktestSpec``,
``PopulationSpec``, a ``TierTable``, ...) raises it (or a subclass) for a bad value, and it is a
``ValueError``, so ``except ValueError`` keeps working.
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


class SpecError(RiskParamsError, ValueError):
    """An invalid specification or argument: one sentence naming the field and the value.

    Parameters
    ----------
    message : str
        One sentence naming the field, the allowed values and the value given.
    field : str, optional
        The offending field (dotted for nested ones).
    value : object, optional
        The offending value.

    Examples
    --------
    Every frozen specification says what is wrong in the same way:

    >>> import riskparams
    >>> riskparams.FitSpec(model="arima")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.SpecError: model must be one of 'auto', 'garch', 'gjr', 'egarch', 'ewma', got 'arima'
    >>> try:
    ...     riskparams.BacktestSpec(profile="options")
    ... except riskparams.SpecError as exc:
    ...     print(type(exc).__name__, "|", exc.field, "|", exc.value, "|", isinstance(exc, ValueError))
    PolicyError | profile | options | True
    """

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class PolicyError(SpecError):
    """An invalid policy, specification or parameter file; the message names the key and the allowed range.

    Examples
    --------
    >>> import riskparams
    >>> riskparams.policy_from_dict({"guardrails": {"max_relative_change": -1}})
    Traceback (most recent call last):
    ...
    riskparams.exceptions.PolicyError: guardrails.max_relative_change must be in (0, 10], got -1
    >>> issubclass(riskparams.PolicyError, riskparams.SpecError), issubclass(riskparams.PolicyError, ValueError)
    (True, True)
    """


class TierError(SpecError):
    """A tier table breaks an invariant; the message names the tier (1-based) and the field.

    Attributes
    ----------
    tier : int or None
        0-based index of the offending tier (None: the table as a whole, e.g. empty).
    field, value : str, object
        The offending field of that tier and its value.
    problem : str or None
        What is wrong with the value, as a phrase a file reader can reuse (``"must be below ..."``).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.domain import CurrentPerpTier
    >>> from riskparams.tiers import TierTable
    >>> tiers = [CurrentPerpTier(notional_floor=0, notional_cap=1e6, max_leverage=20, maintenance_rate=0.02),
    ...          CurrentPerpTier(notional_floor=1e6, notional_cap=None, max_leverage=10, maintenance_rate=0.01)]
    >>> try:
    ...     TierTable(tiers, symbol="BTC")
    ... except riskparams.TierError as exc:
    ...     print(exc, "|", exc.tier, exc.field, exc.value)
    BTC tier 2: mmf 0.01 is below tier 1's 0.02: rates must not fall with size. | 1 mmf 0.01
    """

    def __init__(self, message: str, *, tier: int | None = None, field: str | None = None,
                 value: object = None, problem: str | None = None) -> None:
        super().__init__(message, field=field, value=value)
        self.tier = tier
        self.problem = problem


class AuthConfigError(SpecError):
    """A bad sign-in setting (one sentence naming the option, variable or key).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.auth import load_auth_config
    >>> load_auth_config(mode="password", environ={})
    Traceback (most recent call last):
    ...
    riskparams.exceptions.AuthConfigError: --auth: the sign-in mode must be one of local, oidc, proxy-header, got 'password'.
    """


class ProposalNotFoundError(RiskParamsError, LookupError):
    """No stored proposal matches the id (or id prefix).

    Examples
    --------
    >>> import riskparams
    >>> riskparams.workflow(riskparams.open_store(":memory:"), "abc123")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.ProposalNotFoundError: no stored proposal has id 'abc123'.
    """


class ReportNotFoundError(RiskParamsError, LookupError):
    """No stored backtest report matches the id (or id prefix).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.store.backtest_records import get_report
    >>> get_report(riskparams.open_store(":memory:"), "abc123")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.ReportNotFoundError: no stored backtest report has id 'abc123'.
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


class ExportError(RiskParamsError):
    """An export cannot be made: unknown format, a payload of the other profile, a bad backtest payload.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.export import check_format
    >>> check_format("docx")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.ExportError: export format must be one of md, json, csv, html, dydx, aave, aave-config, aave-aip, snapshot, safe, risk-updates, got 'docx'.
    """


class GovernanceError(RiskParamsError):
    """A workflow rule refused an action (one sentence naming the proposal and the rule).

    Examples
    --------
    >>> import riskparams
    >>> riskparams.perform(riskparams.open_store(":memory:"), "abc123", "bob", "frobnicate")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.GovernanceError: unknown action 'frobnicate'; one of ...
    """


class CommitteeError(GovernanceError):
    """The committee file is invalid, or a member is not in it.

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.governance import committee_from_dict
    >>> committee_from_dict({})
    Traceback (most recent call last):
    ...
    riskparams.exceptions.CommitteeError: committee: the committee has no members; add [[members]] entries.
    """


class SignatureError(RiskParamsError):
    """A signature, key or signed message is malformed or does not verify (one sentence).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.signing import key_from_private
    >>> key_from_private("eip712", "xyz")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.SignatureError: the private key must be 64 hex digits, got 'xyz'.
    """


class UsageError(RiskParamsError):
    """A command-line mistake detected after parsing; the command prints it and exits with status 2.

    Examples
    --------
    >>> import contextlib, sys
    >>> from riskparams.cli import main
    >>> with contextlib.redirect_stderr(sys.stdout):
    ...     main(["--db", ":memory:", "propose", "--profile", "perp", "--debt-asset", "USDC"])
    riskparams: error: --debt-asset applies to --profile lending only.
    2
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

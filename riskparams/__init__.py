"""riskparams: margin and liquidation parameters for DAO risk committees.

The names a notebook needs are re-exported here, so ``import riskparams as rp`` is enough::

    store and data   open_store(path) -> Store; load_demo(store); ingest_file(store, path, symbol=...);
                     ingest_frame(store, frame, symbol=..., source=..., origin=...)
    volatility       fit(store, symbol, spec=FitSpec(...)) -> FitRun, whose .estimate is a VolEstimate
    policy           RiskPolicy(...); load_policy(path); policy_from_dict(mapping);
                     load_current(path, profile) (the parameters in force)
    proposals        propose(store, profile=..., symbols=...) -> ProposalRun, whose .proposal is a
                     Proposal (Proposal.from_content reads stored content back; .risk_policy and
                     .provenance_info read its policy and provenance typed); OptionTier: one tier of an
                     option (options=[...])
    backtests        backtest_policy(store, profile=..., spec=BacktestSpec(...)) -> BacktestRun, whose
                     .report is a BacktestReport (StoredBacktest.from_content reads stored content back)
    sweeps           sweep(store, profile=..., grid=["confidence=0.99,0.995"], executor="dask:2") -> SweepRun:
                     every policy variant backtested (fits shared) and the margin / bad-debt frontier
    governance       load_committee(path); workflow(store, id); perform(store, id, who, verb);
                     export_proposal(store, id, fmt, who); verify(store)
    open positions   load_positions(path, profile) -> Book / LendingBook; impact(params, positions, store=...)
                     -> ImpactReport (who is liquidated, bad debt, VaR of insolvent debt, LaR)
    errors           RiskParamsError and its tree, RiskParamsWarning (drawn in riskparams.exceptions); every
                     invalid specification raises SpecError (a ValueError) naming the field and the value

The README's "Python API" section walks through them. Everything else stays in its module:
:mod:`riskparams.service` (the use-cases behind the command line and the dashboard),
:mod:`riskparams.volatility`, :mod:`riskparams.proposals`, :mod:`riskparams.backtest`,
:mod:`riskparams.governance`, :mod:`riskparams.export`, ...

``import riskparams`` is cheap: it loads the exceptions and nothing else. Every other name is imported
on first use (PEP 562), so neither duckdb, pandas, scipy, arch, statsmodels, numba, plotly nor streamlit
loads before a name that needs it is touched. The library is usable without Streamlit; the command line
(:mod:`riskparams.cli`) and the dashboard (``app.py`` and ``pages/``) are thin layers over
:mod:`riskparams.service`.

Three store-level use-cases are named apart from the subpackages that hold their machinery, which keep
their own names (``from riskparams import backtest, ingest`` still gives the modules): files and frames
go in with :func:`ingest_file` / :func:`ingest_frame`, and the store-level backtest is
:func:`backtest_policy`. ``riskparams.verify`` is the function :func:`riskparams.verify.verify`; its module
is reached with ``from riskparams.verify import ...``.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from riskparams.exceptions import (
    AmbiguousSeriesError,
    AuthConfigError,
    CommitteeError,
    DataError,
    DataQualityWarning,
    ExchangeError,
    ExportError,
    FallbackWarning,
    FitError,
    GovernanceError,
    HistoryError,
    PolicyError,
    ProposalNotFoundError,
    ReportNotFoundError,
    RiskParamsError,
    RiskParamsWarning,
    SeriesNotFoundError,
    SignatureError,
    SpecError,
    StoreError,
    TierError,
    UsageError,
)

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from riskparams.backtest import BacktestReport, BacktestSpec
    from riskparams.backtest_content import StoredBacktest
    from riskparams.book import load_positions
    from riskparams.config import RiskPolicy, load_policy, policy_from_dict
    from riskparams.domain import OptionTier, Proposal
    from riskparams.governance import export_proposal, load_committee, perform, workflow
    from riskparams.ingest import ingest_file, ingest_frame, load_demo
    from riskparams.params_io import load_current
    from riskparams.service import BacktestRun, FitRun, ProposalRun, impact, open_store, propose, sweep
    from riskparams.service import backtest as backtest_policy
    from riskparams.service import fit_series as fit
    from riskparams.verify import verify
    from riskparams.volatility import FitSpec, VolEstimate

__version__ = "0.1.0"

_LAZY: dict[str, tuple[str, str]] = {
    # name here: (module, name there)
    "open_store": ("riskparams.service", "open_store"),
    "load_demo": ("riskparams.ingest", "load_demo"),
    "ingest_file": ("riskparams.ingest", "ingest_file"),
    "ingest_frame": ("riskparams.ingest", "ingest_frame"),
    "fit": ("riskparams.service", "fit_series"),
    "FitSpec": ("riskparams.volatility", "FitSpec"),
    "FitRun": ("riskparams.service", "FitRun"),
    "VolEstimate": ("riskparams.volatility", "VolEstimate"),
    "RiskPolicy": ("riskparams.config", "RiskPolicy"),
    "load_policy": ("riskparams.config", "load_policy"),
    "policy_from_dict": ("riskparams.config", "policy_from_dict"),
    "load_current": ("riskparams.params_io", "load_current"),
    "propose": ("riskparams.service", "propose"),
    "ProposalRun": ("riskparams.service", "ProposalRun"),
    "Proposal": ("riskparams.domain", "Proposal"),
    "OptionTier": ("riskparams.domain", "OptionTier"),
    "backtest_policy": ("riskparams.service", "backtest"),
    "BacktestSpec": ("riskparams.backtest", "BacktestSpec"),
    "BacktestRun": ("riskparams.service", "BacktestRun"),
    "BacktestReport": ("riskparams.backtest", "BacktestReport"),
    "StoredBacktest": ("riskparams.backtest_content", "StoredBacktest"),
    "load_committee": ("riskparams.governance", "load_committee"),
    "workflow": ("riskparams.governance", "workflow"),
    "perform": ("riskparams.governance", "perform"),
    "export_proposal": ("riskparams.governance", "export_proposal"),
    "verify": ("riskparams.verify", "verify"),
    "load_positions": ("riskparams.book", "load_positions"),
    "impact": ("riskparams.service", "impact"),
    "sweep": ("riskparams.service", "sweep"),
}
"""The front door's names that load on first use."""


def __getattr__(name: str) -> Any:
    """Import a front-door name on first use and keep it (later look-ups do not come here)."""
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(ModuleType):
    """The type of the ``riskparams`` module object: a front-door name wins over a submodule of that name.

    Python binds a submodule to its package's attribute of the same name when it first loads it
    (``import riskparams.verify`` sets ``riskparams.verify``), whoever imports it and whenever. That would
    replace the function :func:`verify` by its module, depending on import order; the binding is dropped
    instead (the module stays in ``sys.modules``, so ``from riskparams.verify import Verification`` works).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "AmbiguousSeriesError",
    "AuthConfigError",
    "BacktestReport",
    "BacktestRun",
    "BacktestSpec",
    "CommitteeError",
    "DataError",
    "DataQualityWarning",
    "ExchangeError",
    "ExportError",
    "FallbackWarning",
    "FitError",
    "FitRun",
    "FitSpec",
    "GovernanceError",
    "HistoryError",
    "OptionTier",
    "PolicyError",
    "Proposal",
    "ProposalNotFoundError",
    "ProposalRun",
    "ReportNotFoundError",
    "RiskParamsError",
    "RiskParamsWarning",
    "RiskPolicy",
    "SeriesNotFoundError",
    "SignatureError",
    "SpecError",
    "StoreError",
    "StoredBacktest",
    "TierError",
    "UsageError",
    "VolEstimate",
    "__version__",
    "backtest_policy",
    "export_proposal",
    "fit",
    "impact",
    "ingest_file",
    "ingest_frame",
    "load_committee",
    "load_current",
    "load_demo",
    "load_policy",
    "load_positions",
    "open_store",
    "perform",
    "policy_from_dict",
    "propose",
    "sweep",
    "verify",
    "workflow",
]

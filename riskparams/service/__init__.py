"""Use-cases that chain the library for the command line, the dashboard and notebooks.

Each function takes a :class:`~riskparams.store.Store` and plain arguments and returns domain
values; none of them prints or draws. One concern per module (issue 15; this was ``service.py``), every
name re-exported here, so ``from riskparams.service import X`` works as before:

================================  =========================================================================
module                            concern
================================  =========================================================================
:mod:`~.store`                    opening the store, the stored assets, one series' bars and quality, demo
:mod:`~.fit`                      volatility fits of stored series through the fit cache
:mod:`~.provenance`               package versions recorded in proposals, backtests and sweeps
:mod:`~.selection`                which stored series a proposal, backtest or sweep uses, and why
:mod:`~.proposing`                proposals (market inputs, options, storing) and the sensitivity grid
:mod:`~.backtests`                walk-forward backtests: running, storing, attaching, export payload
:mod:`~.stored_backtests`         a stored backtest report read back: typed, exception marks, figures
:mod:`~.listing`                  typed readers of stored proposals, backtest reports and sweeps
:mod:`~.sweeps`                   policy sweeps: running, storing, attaching
:mod:`~.impacts`                  impact of a parameter set on a perpetual book, stress windows
:mod:`~.proposal_impacts`         impact of a proposal's parameter sets on a book, stored with it
:mod:`~.plans`                    execution plans and their revisions
:mod:`~.exports`                  the one export path of the command line and the dashboard
================================  =========================================================================

A function is looked up in the module that defines it: to replace one in a test, patch it there
(``monkeypatch.setattr("riskparams.service.fit.fit_volatility", ...)``), not here.
"""

from __future__ import annotations

# names the old service.py bound by importing them (types, constants, exceptions), kept importable from here
from riskparams.backtest_content import StoredBacktest
from riskparams.config import RiskPolicy
from riskparams.domain import (
    AssetContext,
    CurrentLending,
    CurrentParams,
    CurrentPerp,
    LendingAssetProposal,
    OptionAsset,
    PeerTable,
    PerpAssetProposal,
    Profile,
    Proposal,
    ProposalOption,
    Sensitivity,
    SensitivityCell,
    SeriesInfo,
    SkippedAsset,
)
from riskparams.exceptions import DataError, HistoryError, PolicyError, RiskParamsError, SeriesNotFoundError
from riskparams.measures import Tail
from riskparams.params_io import LiquidityCurve
from riskparams.quality import DEFAULT_OUTLIER_Z, QualityReport
from riskparams.service.backtests import (
    BacktestRun,
    attach_backtest,
    backtest,
    backtest_data,
    export_backtest_payload,
)
from riskparams.service.exports import export_bytes
from riskparams.service.fit import ESTIMATE_FORMAT, FitRun, fit_prices, fit_series
from riskparams.service.impacts import (
    impact,
    impact_tables,
    joint_daily_closes,
    joint_daily_returns,
    portfolio_stress,
)
from riskparams.service.listing import (
    BacktestRow,
    ProposalRow,
    SweepRow,
    get_backtest,
    get_sweep,
    list_backtests,
    list_sweeps,
    proposal,
    proposals,
)
from riskparams.service.plans import create_plan_revisions, latest_plan, plan_proposal
from riskparams.service.proposal_impacts import (
    IMPACT_SETS_NOTE,
    WATERFALL_DEFAULTS,
    current_impact,
    demo_positions,
    perp_parameter_sets,
    positions_from_upload,
    proposal_impact,
    stored_impact,
)
from riskparams.service.proposing import (
    ProposalRun,
    average_daily_value,
    fit_spec_for,
    lookback_vol,
    propose,
    ratio_prices,
    sensitivity,
)
from riskparams.service.provenance import PROVENANCE_PACKAGES, package_versions
from riskparams.service.selection import MIN_HISTORY_DAYS, select_series
from riskparams.service.store import (
    assets_frame,
    list_assets,
    load_series,
    open_store,
    remove_demo,
    series_quality,
)
from riskparams.service.stored_backtests import backtest_exception_marks, backtest_figures, stored_backtest
from riskparams.service.sweeps import SweepRun, attach_sweep, attached_sweep, sweep
from riskparams.store import Store
from riskparams.store.backtest_records import StoredReport
from riskparams.store.records import StoredProposal
from riskparams.volatility import FitSpec, VolEstimate

__all__ = [
    "DEFAULT_OUTLIER_Z",
    "ESTIMATE_FORMAT",
    "IMPACT_SETS_NOTE",
    "MIN_HISTORY_DAYS",
    "PROVENANCE_PACKAGES",
    "WATERFALL_DEFAULTS",
    "AssetContext",
    "BacktestRow",
    "BacktestRun",
    "CurrentLending",
    "CurrentParams",
    "CurrentPerp",
    "DataError",
    "FitRun",
    "FitSpec",
    "HistoryError",
    "LendingAssetProposal",
    "LiquidityCurve",
    "OptionAsset",
    "PeerTable",
    "PerpAssetProposal",
    "PolicyError",
    "Profile",
    "Proposal",
    "ProposalOption",
    "ProposalRow",
    "ProposalRun",
    "QualityReport",
    "RiskParamsError",
    "RiskPolicy",
    "Sensitivity",
    "SensitivityCell",
    "SeriesInfo",
    "SeriesNotFoundError",
    "SkippedAsset",
    "Store",
    "StoredBacktest",
    "StoredProposal",
    "StoredReport",
    "SweepRow",
    "SweepRun",
    "Tail",
    "VolEstimate",
    "assets_frame",
    "attach_backtest",
    "attach_sweep",
    "attached_sweep",
    "average_daily_value",
    "backtest",
    "backtest_data",
    "backtest_exception_marks",
    "backtest_figures",
    "create_plan_revisions",
    "current_impact",
    "demo_positions",
    "export_backtest_payload",
    "export_bytes",
    "fit_prices",
    "fit_series",
    "fit_spec_for",
    "get_backtest",
    "get_sweep",
    "impact",
    "impact_tables",
    "joint_daily_closes",
    "joint_daily_returns",
    "latest_plan",
    "list_assets",
    "list_backtests",
    "list_sweeps",
    "load_series",
    "lookback_vol",
    "open_store",
    "package_versions",
    "perp_parameter_sets",
    "plan_proposal",
    "portfolio_stress",
    "positions_from_upload",
    "proposal",
    "proposal_impact",
    "proposals",
    "propose",
    "ratio_prices",
    "remove_demo",
    "select_series",
    "sensitivity",
    "series_quality",
    "stored_backtest",
    "stored_impact",
    "sweep",
]

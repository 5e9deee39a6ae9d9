"""riskparams dashboard: the entry point. It lists the pages kept in ``pages/`` with ``st.navigation``, so the
sidebar reads Overview, Data, Volatility, Proposal, Backtest, Governance, and runs the one chosen."""

from __future__ import annotations

from riskparams import ui

ui.run_navigation()

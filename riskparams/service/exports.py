"""The one export path of the command line and the dashboard.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from riskparams.service.backtests import export_backtest_payload
from riskparams.store import Store


def export_bytes(store: Store, proposal_id: str, fmt: str, who: Any, *, committee: Any = None,
                 backtest: str | None = "auto", dydx_first_id: int = 1000, out: str | Path | None = None,
                 asset_addresses: Mapping[str, str] | None = None, report_url: str | None = None) -> Any:
    """Export a proposal as the command line and the dashboard both do (one path, so both give the same bytes).

    The export embeds the backtest chosen by ``backtest`` and, through
    :func:`riskparams.governance.export_proposal`, the proposal's newest execution plan and impact record.

    Parameters
    ----------
    backtest : str or None
        ``"auto"`` (default): the report attached last to the proposal, if any; ``None`` or ``"none"``: no
        backtest; else a stored report id (prefix), ``"attached"`` (required) or a payload JSON file
        (:func:`export_backtest_payload`).
    committee, dydx_first_id, out, asset_addresses, report_url
        As :func:`riskparams.governance.export_proposal` (token addresses by symbol for the Aave, Safe and
        risk-update formats; the published report's URL for Snapshot and the AIP).

    Returns
    -------
    riskparams.governance.ExportResult
    """
    from riskparams.governance import export_proposal
    from riskparams.store.backtest_records import attachments

    payload = None
    if backtest == "auto":
        if attachments(store, proposal_id):
            payload = export_backtest_payload(store, "attached", proposal_id)
    elif backtest is not None and backtest != "none":
        payload = export_backtest_payload(store, backtest, proposal_id)
    return export_proposal(store, proposal_id, fmt, who, committee=committee, backtest=payload,
                           dydx_first_id=dydx_first_id, out=out, asset_addresses=asset_addresses,
                           report_url=report_url)

"""The venues' own formats: what a venue or its governance tooling reads, one module per venue.

========================  ==========  ==============================================================================
format                    profile     module / what it is
========================  ==========  ==============================================================================
``dydx``                  perp        :mod:`.dydx`: dYdX v4 gov proposal file, ``MsgSetLiquidityTier`` +
                                      ``MsgUpdatePerpetualParams``
``aave-config``           lending     :mod:`.aave`: the Aave proposal generator's ``config.ts``
``aave-aip``              lending     :mod:`.aave`: the AIP Markdown the generator writes beside it
``aave``                  lending     :mod:`.aave`: the earlier riskparams JSON of config-engine entries (kept)
``snapshot``              both        :mod:`.snapshot`: Snapshot proposal as EIP-712 typed data
``safe``                  lending     :mod:`.safe`: Safe Transaction Builder batch for the Aave risk steward
``risk-updates``          both        :mod:`.risk_updates`: Chaos-style ``RiskParameterUpdate`` records
========================  ==========  ==============================================================================

Every format is pure (no store, no clock), byte-stable (same input, same bytes) and validated in
``tests/test_venues.py`` against the venue's own schema or reference code, vendored in ``tests/data/venues/`` with
the repository, path and commit each file came from. :func:`riskparams.export.render` dispatches here.
"""

from __future__ import annotations

from riskparams.venues.aave import to_aave, to_aave_aip, to_aave_config
from riskparams.venues.dydx import to_dydx
from riskparams.venues.risk_updates import to_risk_updates
from riskparams.venues.safe import to_safe
from riskparams.venues.snapshot import to_snapshot

__all__ = ["to_aave", "to_aave_aip", "to_aave_config", "to_dydx", "to_risk_updates", "to_safe", "to_snapshot"]

"""Book-level risk: open positions and what a parameter set does to them.

Modules
-------
:mod:`~riskparams.book.positions`
    Positions files (perpetual and lending books) read and validated into :class:`Book` / :class:`LendingBook`.
:mod:`~riskparams.book.impact`
    Pure numpy scenarios on a book: liquidatable accounts and notional, bad debt, concentration, bootstrap
    VaR of insolvent debt and liquidations-at-risk (all bootstraps at once); lending scenarios.
:mod:`~riskparams.book.waterfall`
    The liquidation waterfall along a path of joint moves: partial liquidation (close factor, slices), a
    backstop, penalties to the insurance fund, auto-deleveraging / socialised loss, the fund target (Cover-2 or a
    percentile) and its adequacy.
:mod:`~riskparams.book.stress`
    Joint historical stress windows (2020-03-12, 2021-05-19, LUNA, FTX, 2025-10-10, or named by the user) as
    paths of daily moves, and correlated hypothetical shocks with a stressed correlation.

Nothing in this package reads the store; :mod:`riskparams.service` does that and passes arrays in.
"""

from riskparams.book.positions import (
    LENDING_POSITION_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    PERP_POSITION_COLUMNS,
    Book,
    LendingBook,
    LendingPosition,
    PerpPosition,
    load_positions,
    parse_positions,
)

__all__ = [
    "LENDING_POSITION_COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "PERP_POSITION_COLUMNS",
    "Book",
    "LendingBook",
    "LendingPosition",
    "PerpPosition",
    "load_positions",
    "parse_positions",
]

"""Book-level risk: open positions and what a parameter set does to them.

Modules
-------
:mod:`~riskparams.book.positions`
    Positions files (perpetual and lending books) read and validated into :class:`Book` / :class:`LendingBook`.
:mod:`~riskparams.book.impact`
    Pure numpy scenarios on a book: liquidatable accounts and notional, bad debt, concentration, bootstrap
    VaR of insolvent debt and liquidations-at-risk; lending scenarios.

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

"""Open positions: a venue's book of perpetual positions or lending loans, read and validated from a file.

A :class:`Book` holds perpetual positions as parallel numpy arrays (one entry per position), so the impact
functions (:mod:`riskparams.book.impact`) work on 100,000 positions at once; :class:`LendingBook` does the same
for lending loans. :func:`load_positions` reads either from a CSV or Parquet file and rejects a bad file
with a :class:`~riskparams.exceptions.DataError` whose one sentence names the file, the row (CSV: the
line number, header = row 1; Parquet: the 1-based data row), the column and the value.

Perpetual columns (header required; any order)::

    account,symbol,side,notional,equity,margin_mode
    0xA1,BTC,long,250000,25000,isolated
    0xB2,BTC,long,400000,60000,cross
    0xB2,ETH,short,380000,60000,cross

* ``account``: 1-64 letters, digits and ``. _ : -`` starting with a letter or digit (no markup, no formula);
* ``symbol``: a market symbol as stored (upper-cased), e.g. ``BTC``;
* ``side``: ``long`` or ``short``;
* ``notional``: position notional at the current price, quote currency, in (0, 1e12];
* ``equity``: quote currency, finite, in [-1e12, 1e12]: an isolated position's margin including its
  unrealised P&L, or a cross account's equity (the same value on every cross row of the account);
* ``margin_mode``: ``isolated`` or ``cross``.

Lending columns: ``account, collateral_asset, collateral_amount, debt_asset, debt_amount`` (amounts in units
of the asset, collateral > 0, debt >= 0, each at most 1e15).

A file larger than :data:`MAX_FILE_BYTES` or with more than :data:`MAX_ROWS` rows is refused.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from riskparams.domain import Profile, validate_symbol
from riskparams.exceptions import DataError, SpecError

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

PERP_POSITION_COLUMNS: tuple[str, ...] = ("account", "symbol", "side", "notional", "equity", "margin_mode")
"""Columns of a perpetual positions file (all required)."""
LENDING_POSITION_COLUMNS: tuple[str, ...] = ("account", "collateral_asset", "collateral_amount", "debt_asset",
                                             "debt_amount")
"""Columns of a lending positions file (all required)."""
MAX_FILE_BYTES = 200_000_000
"""Largest positions file read (bytes)."""
MAX_ROWS = 2_000_000
"""Most positions in one file."""
MAX_NOTIONAL = 1e12
"""Largest notional or absolute equity of one position (quote currency)."""
MAX_AMOUNT = 1e15
"""Largest lending amount (units of the asset)."""
ACCOUNT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
"""Account ids: a letter or digit first, then letters, digits and ``. _ : -``; at most 64 characters."""
SIDES = ("long", "short")
MARGIN_MODES = ("isolated", "cross")


@dataclass(frozen=True, slots=True, kw_only=True)
class PerpPosition:
    """One perpetual position.

    Attributes
    ----------
    account, symbol : str
    side : {'long', 'short'}
    notional : float
        Quote currency, at the current price.
    equity : float
        Quote currency: the position's margin (isolated) or its account's equity (cross).
    margin_mode : {'isolated', 'cross'}
    """

    account: str
    symbol: str
    side: str
    notional: float
    equity: float
    margin_mode: str

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise SpecError(f"side must be 'long' or 'short', got {self.side!r}")
        if self.margin_mode not in MARGIN_MODES:
            raise SpecError(f"margin_mode must be 'isolated' or 'cross', got {self.margin_mode!r}")
        if not (math.isfinite(self.notional) and 0 < self.notional <= MAX_NOTIONAL):
            raise SpecError(f"notional must be in (0, {MAX_NOTIONAL:g}], got {self.notional!r}")
        if not (math.isfinite(self.equity) and abs(self.equity) <= MAX_NOTIONAL):
            raise SpecError(f"equity must be finite and at most {MAX_NOTIONAL:g} in size, got {self.equity!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingPosition:
    """One lending loan: collateral and debt in units of their assets."""

    account: str
    collateral_asset: str
    collateral_amount: float
    debt_asset: str
    debt_amount: float


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Book:
    """Perpetual positions as parallel arrays (one entry per position).

    Attributes
    ----------
    account_ids : tuple of str
        Distinct accounts; ``accounts`` indexes it.
    symbol_ids : tuple of str
        Distinct symbols (sorted); ``symbols`` indexes it.
    accounts, symbols : ndarray of int64, shape (n,)
    sides : ndarray of int8, shape (n,)
        +1 long, -1 short.
    notionals : ndarray of float64, shape (n,)
        Quote currency, > 0.
    equity : ndarray of float64, shape (n,)
        Quote currency (for cross rows: the account's equity, repeated).
    cross : ndarray of bool, shape (n,)
        True for cross margin, False for isolated.
    rows : ndarray of int64, shape (n,)
        Row of each position in its file (for messages); 0 when built in memory.
    source : str
        File name or label.
    """

    account_ids: tuple[str, ...]
    symbol_ids: tuple[str, ...]
    accounts: np.ndarray
    symbols: np.ndarray
    sides: np.ndarray
    notionals: np.ndarray
    equity: np.ndarray
    cross: np.ndarray
    rows: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        n = len(self.notionals)
        for name in ("accounts", "symbols", "sides", "equity", "cross", "rows"):
            arr = getattr(self, name)
            if len(arr) != n:
                raise SpecError(f"Book.{name} has {len(arr)} entries, notionals has {n}")
            arr.setflags(write=False)
        self.notionals.setflags(write=False)

    def __len__(self) -> int:
        return len(self.notionals)

    @property
    def profile(self) -> Profile:
        """Always ``Profile.PERP``."""
        return Profile.PERP

    @classmethod
    def from_positions(cls, positions: Iterable[PerpPosition], *, source: str = "") -> Book:
        """A book of :class:`PerpPosition` values (cross rows of an account must carry the same equity)."""
        items = list(positions)
        return _assemble(
            [p.account for p in items], [p.symbol for p in items], [1 if p.side == "long" else -1 for p in items],
            [p.notional for p in items], [p.equity for p in items], [p.margin_mode == "cross" for p in items],
            list(range(1, len(items) + 1)), source or "positions", row_based=False,
        )

    @classmethod
    def from_columns(cls, accounts: Sequence[str], symbols: Sequence[str], sides: Sequence[str],
                     notionals: Sequence[float] | np.ndarray, equity: Sequence[float] | np.ndarray,
                     margin_modes: Sequence[str], *, source: str = "positions") -> Book:
        """A book of columns as in a file (``sides`` long/short, ``margin_modes`` isolated/cross), validated
        like a file whose data rows are numbered from 1."""
        records = ((i + 1, {"account": a, "symbol": s, "side": d, "notional": n, "equity": e, "margin_mode": m})
                   for i, (a, s, d, n, e, m) in enumerate(zip(accounts, symbols, sides, notionals, equity,
                                                              margin_modes, strict=True)))
        return _perp_book(records, source)

    def write_csv(self, path: str | Path) -> Path:
        """Write the positions as a CSV file with :data:`PERP_POSITION_COLUMNS` (readable by
        :func:`load_positions`)."""
        p = Path(path)
        with p.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(PERP_POSITION_COLUMNS)
            acc = np.asarray(self.account_ids, dtype=object)[self.accounts]
            sym = np.asarray(self.symbol_ids, dtype=object)[self.symbols]
            side = np.where(self.sides > 0, "long", "short")
            mode = np.where(self.cross, "cross", "isolated")
            w.writerows(zip(acc, sym, side, (repr(float(x)) for x in self.notionals),
                            (repr(float(x)) for x in self.equity), mode, strict=True))
        return p

    def positions(self) -> Iterator[PerpPosition]:
        """The positions one by one (slow for big books: for display and tests)."""
        for i in range(len(self)):
            yield PerpPosition(
                account=self.account_ids[self.accounts[i]], symbol=self.symbol_ids[self.symbols[i]],
                side="long" if self.sides[i] > 0 else "short", notional=float(self.notionals[i]),
                equity=float(self.equity[i]), margin_mode="cross" if self.cross[i] else "isolated")

    def to_rows(self) -> list[dict[str, Any]]:
        """The positions as dictionaries with the file's columns (e.g. to write a CSV)."""
        return [{"account": p.account, "symbol": p.symbol, "side": p.side, "notional": p.notional,
                 "equity": p.equity, "margin_mode": p.margin_mode} for p in self.positions()]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LendingBook:
    """Lending loans as parallel arrays: ``accounts`` indexes ``account_ids``, ``collateral_assets`` and
    ``debt_assets`` index ``asset_ids``; amounts in units of the asset."""

    account_ids: tuple[str, ...]
    asset_ids: tuple[str, ...]
    accounts: np.ndarray
    collateral_assets: np.ndarray
    collateral_amounts: np.ndarray
    debt_assets: np.ndarray
    debt_amounts: np.ndarray
    rows: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.collateral_amounts)

    @property
    def profile(self) -> Profile:
        """Always ``Profile.LENDING``."""
        return Profile.LENDING


# ---------------------------------------------------------------------------------------------
# reading and validation
# ---------------------------------------------------------------------------------------------


def _shown(value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "empty"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def _fail(name: str, row: int, column: str, value: object, problem: str) -> DataError:
    return DataError(f"{name}: row {row}, column '{column}': value {_shown(value)} {problem}.",
                     file=name, row=row, column=column, value=value)


def _number(name: str, row: int, column: str, value: object) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _fail(name, row, column, value, "is missing (a number is required)")
    if isinstance(value, bool):
        raise _fail(name, row, column, value, "is not a number")
    try:
        x = float(value.strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(name, row, column, value, "is not a number") from None
    if not math.isfinite(x):
        raise _fail(name, row, column, value, "is not a finite number")
    return x


def _account(name: str, row: int, value: object) -> str:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):  # a Parquet column of numeric ids
        value = str(int(value))
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not ACCOUNT_PATTERN.match(text):
        raise _fail(name, row, "account", value, "is not an account id (1-64 letters, digits and . _ : - starting "
                    "with a letter or digit)")
    return text


def _asset(name: str, row: int, column: str, value: object) -> str:
    try:
        return validate_symbol(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except ValueError:
        raise _fail(name, row, column, value, "is not a valid symbol (1-40 letters, digits and . _ / : - "
                    "starting with a letter or digit)") from None


def _choice(name: str, row: int, column: str, value: object, choices: Sequence[str]) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text is None or text not in choices:
        raise _fail(name, row, column, value, f"must be {' or '.join(repr(c) for c in choices)}")
    return text


def _assemble(accounts: list[str], symbols: list[str], sides: list[int], notionals: list[float],
              equity: list[float], cross: list[bool], rows: list[int], name: str, *, row_based: bool = True) -> Book:
    acc_ids, acc_codes = np.unique(np.asarray(accounts, dtype=object).astype(str), return_inverse=True)
    sym_ids, sym_codes = np.unique(np.asarray(symbols, dtype=object).astype(str), return_inverse=True)
    eq = np.asarray(equity, dtype=np.float64)
    cr = np.asarray(cross, dtype=bool)
    if cr.any():  # a cross account has one equity: every cross row of it must say the same
        idx = np.flatnonzero(cr)
        first = np.full(len(acc_ids), np.nan)
        order = idx[::-1]  # assigning in reverse leaves the first row's value
        first[acc_codes[order]] = eq[order]
        bad = idx[eq[idx] != first[acc_codes[idx]]]
        if bad.size:
            i = int(bad[0])
            account = str(acc_ids[acc_codes[i]])
            raise _fail(name, rows[i], "equity", equity[i],
                        f"differs from the equity {first[acc_codes[i]]:g} on an earlier cross row of account "
                        f"{account}: a cross account has one equity")
    return Book(
        account_ids=tuple(str(a) for a in acc_ids), symbol_ids=tuple(str(s) for s in sym_ids),
        accounts=acc_codes.astype(np.int64), symbols=sym_codes.astype(np.int64),
        sides=np.asarray(sides, dtype=np.int8), notionals=np.asarray(notionals, dtype=np.float64), equity=eq,
        cross=cr, rows=np.asarray(rows, dtype=np.int64), source=name,
    )


def _perp_book(records: Iterable[tuple[int, Mapping[str, Any]]], name: str) -> Book:
    accounts: list[str] = []
    symbols: list[str] = []
    sides: list[int] = []
    notionals: list[float] = []
    equity: list[float] = []
    cross: list[bool] = []
    rows: list[int] = []
    for row, rec in records:
        accounts.append(_account(name, row, rec["account"]))
        symbols.append(_asset(name, row, "symbol", rec["symbol"]))
        sides.append(1 if _choice(name, row, "side", rec["side"], SIDES) == "long" else -1)
        n = _number(name, row, "notional", rec["notional"])
        if not 0 < n <= MAX_NOTIONAL:
            raise _fail(name, row, "notional", rec["notional"], f"must be a notional in (0, {MAX_NOTIONAL:g}] "
                        "quote currency")
        notionals.append(n)
        e = _number(name, row, "equity", rec["equity"])
        if abs(e) > MAX_NOTIONAL:
            raise _fail(name, row, "equity", rec["equity"], f"is larger than {MAX_NOTIONAL:g} in size")
        equity.append(e)
        cross.append(_choice(name, row, "margin_mode", rec["margin_mode"], MARGIN_MODES) == "cross")
        rows.append(row)
    if not rows:
        raise DataError(f"{name}: no positions after the header.", file=name)
    return _assemble(accounts, symbols, sides, notionals, equity, cross, rows, name)


def _lending_book(records: Iterable[tuple[int, Mapping[str, Any]]], name: str) -> LendingBook:
    accounts: list[str] = []
    coll: list[str] = []
    coll_amt: list[float] = []
    debt: list[str] = []
    debt_amt: list[float] = []
    rows: list[int] = []
    for row, rec in records:
        accounts.append(_account(name, row, rec["account"]))
        coll.append(_asset(name, row, "collateral_asset", rec["collateral_asset"]))
        c = _number(name, row, "collateral_amount", rec["collateral_amount"])
        if not 0 < c <= MAX_AMOUNT:
            raise _fail(name, row, "collateral_amount", rec["collateral_amount"], f"must be in (0, {MAX_AMOUNT:g}]")
        coll_amt.append(c)
        debt.append(_asset(name, row, "debt_asset", rec["debt_asset"]))
        d = _number(name, row, "debt_amount", rec["debt_amount"])
        if not 0 <= d <= MAX_AMOUNT:
            raise _fail(name, row, "debt_amount", rec["debt_amount"], f"must be in [0, {MAX_AMOUNT:g}]")
        debt_amt.append(d)
        rows.append(row)
    if not rows:
        raise DataError(f"{name}: no positions after the header.", file=name)
    acc_ids, acc_codes = np.unique(np.asarray(accounts, dtype=str), return_inverse=True)
    asset_ids, codes = np.unique(np.asarray(coll + debt, dtype=str), return_inverse=True)
    n = len(rows)
    return LendingBook(
        account_ids=tuple(str(a) for a in acc_ids), asset_ids=tuple(str(a) for a in asset_ids),
        accounts=acc_codes.astype(np.int64), collateral_assets=codes[:n].astype(np.int64),
        collateral_amounts=np.asarray(coll_amt), debt_assets=codes[n:].astype(np.int64),
        debt_amounts=np.asarray(debt_amt), rows=np.asarray(rows, dtype=np.int64), source=name,
    )


def _check_header(name: str, header: Sequence[object], columns: Sequence[str]) -> list[str]:
    cols = [str(c).strip().lower() for c in header]
    for i, c in enumerate(cols):
        if c not in columns:
            raise DataError(f"{name}: row 1, column {i + 1}: unknown column {_shown(header[i])} (expected "
                            f"{', '.join(columns)}).", file=name, row=1, column=str(header[i]), value=header[i])
        if cols.index(c) != i:
            raise DataError(f"{name}: row 1: column '{c}' appears twice.", file=name, row=1, column=c, value=c)
    missing = [c for c in columns if c not in cols]
    if missing:
        raise DataError(f"{name}: row 1: the required column '{missing[0]}' is missing (expected "
                        f"{', '.join(columns)}).", file=name, row=1, column=missing[0])
    return cols


def _csv_records(text: str, name: str, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{name}: the file is empty (a header row {','.join(columns)} is required).",
                        file=name) from None
    except csv.Error as exc:
        raise DataError(f"{name}: row 1 is not valid CSV ({exc}).", file=name, row=1) from None
    cols = _check_header(name, header, columns)
    try:
        for values in reader:
            row = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if row > MAX_ROWS + 1:
                raise DataError(f"{name}: more than {MAX_ROWS:,} positions.", file=name, row=row)
            if len(values) != len(cols):
                raise DataError(f"{name}: row {row} has {len(values)} cells, the header has {len(cols)}.",
                                file=name, row=row)
            yield row, dict(zip(cols, values, strict=True))
    except csv.Error as exc:
        raise DataError(f"{name}: row {reader.line_num} is not valid CSV ({exc}).", file=name,
                        row=reader.line_num) from None


def _parquet_records(path: Path, name: str, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a broken file
        raise DataError(f"{name}: not a readable Parquet file ({type(exc).__name__}).", file=name) from None
    cols = _check_header(name, list(frame.columns), columns)
    if len(frame) > MAX_ROWS:
        raise DataError(f"{name}: more than {MAX_ROWS:,} positions.", file=name)
    frame.columns = pd.Index(cols)
    for i, rec in enumerate(frame.to_dict("records")):
        yield i + 1, {str(k): v for k, v in rec.items()}


def _profile(profile: object) -> Profile:
    try:
        return Profile.parse(profile)
    except ValueError as exc:
        raise DataError(str(exc).rstrip(".") + ".") from None


def parse_positions(text: str, *, name: str, profile: str) -> Book | LendingBook:
    """Parse and validate positions from CSV text (see the module docstring).

    Parameters
    ----------
    text : str
        The CSV content.
    name : str
        File name used in messages.
    profile : {'perp', 'lending'}

    Raises
    ------
    DataError
        One sentence naming file, row, column and value.

    Examples
    --------
    >>> book = parse_positions("account,symbol,side,notional,equity,margin_mode\\n"
    ...                        "a1,btc,long,100000,10000,isolated\\n", name="book.csv", profile="perp")
    >>> len(book), book.symbol_ids, float(book.notionals[0])
    (1, ('BTC',), 100000.0)
    >>> parse_positions("account,symbol,side,notional,equity,margin_mode\\n"
    ...                 "=cmd,btc,long,100000,10000,isolated\\n", name="book.csv", profile="perp")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.DataError: book.csv: row 2, column 'account': value '=cmd' is not an account id (1-64 letters, digits and . _ : - starting with a letter or digit).
    """
    prof = _profile(profile)
    if len(text) > MAX_FILE_BYTES:
        raise DataError(f"{name}: the positions file is larger than {MAX_FILE_BYTES // 1_000_000} MB.", file=name)
    if prof == Profile.PERP:
        return _perp_book(_csv_records(text, name, PERP_POSITION_COLUMNS), name)
    return _lending_book(_csv_records(text, name, LENDING_POSITION_COLUMNS), name)


def load_positions(path: str | Path, profile: str) -> Book | LendingBook:
    """Read and validate a positions file: ``.csv`` or ``.parquet`` (see the module docstring).

    Parameters
    ----------
    path : str or Path
    profile : {'perp', 'lending'}
        ``perp`` gives a :class:`Book`, ``lending`` a :class:`LendingBook`.

    Raises
    ------
    DataError
        Missing, unreadable, too large, of another format, or a value is invalid (one sentence naming the file,
        the row, the column and the value).

    Examples
    --------
    >>> import riskparams, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "book.csv"
    >>> _ = path.write_text("account,symbol,side,notional,equity,margin_mode\\n"
    ...                     "0xA1,btc,long,250000,25000,isolated\\n"
    ...                     "0xB2,BTC,long,400000,60000,cross\\n0xB2,ETH,short,380000,60000,cross\\n")
    >>> book = riskparams.load_positions(path, "perp")
    >>> len(book), book.account_ids, book.symbol_ids, book.cross.tolist()
    (3, ('0xA1', '0xB2'), ('BTC', 'ETH'), [False, True, True])
    >>> _ = path.write_text("account,symbol,side,notional,equity,margin_mode\\n0xA1,BTC,long,-5,1,isolated\\n")
    >>> riskparams.load_positions(path, "perp")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.DataError: book.csv: row 2, column 'notional': value '-5' must be a notional in (0, 1e+12] quote currency.
    """
    prof = _profile(profile)
    p = Path(path).expanduser()
    name = p.name
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise DataError(f"{name}: a positions file must be a .csv or .parquet file.", file=name)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise DataError(f"positions file {p} not found.", file=str(p)) from None
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}.", file=str(p)) from None
    if not p.is_file():
        raise DataError(f"positions file {p} is not a file.", file=str(p))
    if size > MAX_FILE_BYTES:
        raise DataError(f"{name}: the positions file is larger than {MAX_FILE_BYTES // 1_000_000} MB.", file=name)
    columns = PERP_POSITION_COLUMNS if prof == Profile.PERP else LENDING_POSITION_COLUMNS
    if suffix == ".parquet":
        records = _parquet_records(p, name, columns)
        return _perp_book(records, name) if prof == Profile.PERP else _lending_book(records, name)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{name}: not a UTF-8 text file.", file=name) from None
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}.", file=str(p)) from None
    return parse_positions(text, name=name, profile=prof)

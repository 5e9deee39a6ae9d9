"""Current parameters: import a venue's tier tables or a lending market's parameters from CSV or JSON.

Pure: parsing and validation of text (:func:`parse_current`), plus :func:`load_current` that reads a
file. A rejected file raises :class:`~riskparams.exceptions.DataError` whose one-sentence message
names the file, the row (CSV: the line number, header = row 1; JSON: the path such as
``assets.BTC[1]``), the column or key and the value; the error also carries them as attributes.

Units: rates are fractions (0.01 = 1 %) or basis points, as the **required** ``unit`` says;
notionals are in quote currency (e.g. USD).

Perpetuals (``profile = "perp"``)
---------------------------------
One row per bracket, venue style: brackets are given by their notional **cap**; the floor of the
first bracket is 0 and each next floor is the previous cap.

CSV columns (header required; any order; ``liquidation_penalty`` optional)::

    symbol,notional_cap,max_leverage,maintenance_rate,liquidation_penalty,unit
    BTC,1000000,50,0.01,0.005,fraction
    BTC,5000000,25,0.02,0.0075,fraction
    BTC,,10,0.05,0.01,fraction

* ``symbol``: market symbol as stored (case-insensitive), e.g. ``BTC``;
* ``notional_cap``: upper notional of the bracket, quote currency, > 0; empty or ``inf`` for an
  open-ended last bracket (a finite last cap is the venue's position limit);
* ``max_leverage``: in [1, 1000]; IMF = 1 / max_leverage;
* ``maintenance_rate``: MMF, in (0, 1) as a fraction (or (0, 10000) bps), below the IMF;
* ``liquidation_penalty``: optional, in [0, maintenance_rate); an empty cell means unknown;
* ``unit``: ``fraction`` or ``bps`` (for maintenance_rate and liquidation_penalty).

Within a symbol, caps must be strictly increasing (rows may come in any order), only the last
bracket may be open-ended, maintenance rates must not fall and max leverages must not rise with
bracket size.

JSON::

    {"profile": "perp", "unit": "fraction",
     "assets": {"BTC": [{"notional_cap": 1000000, "max_leverage": 50, "maintenance_rate": 0.01,
                         "liquidation_penalty": 0.005},
                        {"notional_cap": null, "max_leverage": 10, "maintenance_rate": 0.05}]}}

Lending (``profile = "lending"``)
---------------------------------
One row per collateral asset. CSV::

    symbol,ltv,liquidation_threshold,liquidation_bonus,unit
    WETH,0.80,0.825,0.05,fraction
    WBTC,7300,7800,10750,bps

* ``ltv``: in [0, 1) as a fraction, [0, 10000) in bps; at most the threshold (0: borrowing frozen);
* ``liquidation_threshold``: in (0, 1), (0, 10000) in bps;
* ``liquidation_bonus``: the bonus paid to liquidators: a fraction in [0, 0.5] (0.05 = 5 %), or
  Aave-style bps **including** the 10000 base, in [10000, 15000] (10500 = 5 %);
* ``unit``: ``fraction`` or ``bps``, per row.

A liquidation at the threshold must not start under water: ``LT x (1 + bonus) <= 1``. A symbol may
appear once.

JSON::

    {"profile": "lending", "unit": "bps",
     "assets": {"WETH": {"ltv": 8000, "liquidation_threshold": 8250, "liquidation_bonus": 10500}}}
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskparams.domain import (
    CurrentLending,
    CurrentParams,
    CurrentPerp,
    CurrentPerpTier,
    PeerTable,
    PeerTier,
    Profile,
    validate_source,
    validate_symbol,
)
from riskparams.exceptions import DataError, TierError
from riskparams.tiers import TierTable

__all__ = [
    "CURVE_COLUMNS",
    "LENDING_COLUMNS",
    "PEER_COLUMNS",
    "PERP_COLUMNS",
    "LiquidityCurve",
    "load_current",
    "load_liquidity_curves",
    "load_peers",
    "parse_current",
    "parse_liquidity_curves",
    "parse_peers",
]

PERP_COLUMNS: tuple[str, ...] = (
    "symbol", "notional_cap", "max_leverage", "maintenance_rate", "liquidation_penalty", "unit",
)
"""Columns of a perpetuals CSV (``liquidation_penalty`` is optional)."""
LENDING_COLUMNS: tuple[str, ...] = ("symbol", "ltv", "liquidation_threshold", "liquidation_bonus", "unit")
"""Columns of a lending CSV (all required)."""
_PERP_REQUIRED = ("symbol", "notional_cap", "max_leverage", "maintenance_rate", "unit")
PROFILES: tuple[Profile, ...] = tuple(Profile)
UNITS = ("fraction", "bps")


@dataclass(frozen=True, slots=True)
class _Where:
    """Location of a value: a CSV row number or a JSON path, and the column/key."""

    row: int | None
    path: str | None

    def describe(self, column: str) -> str:
        if self.row is not None:
            return f"row {self.row}, column '{column}'"
        return f"{self.path}, key '{column}'"


def _fail(name: str, where: _Where, column: str, value: object, problem: str) -> DataError:
    shown = "empty" if value is None or (isinstance(value, str) and not value.strip()) else repr(value)
    return DataError(
        f"{name}: {where.describe(column)}: value {shown} {problem}.",
        file=name, row=where.row, column=column if where.row is not None else f"{where.path}.{column}",
        value=value,
    )


def _number(name: str, where: _Where, column: str, value: object, *, allow_empty: bool = False) -> float | None:
    """A finite number from a CSV cell (str) or a JSON value; None for an empty cell when allowed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_empty:
            return None
        raise _fail(name, where, column, value, "is missing (a number is required)")
    if isinstance(value, bool):
        raise _fail(name, where, column, value, "is not a number")
    if isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value.strip())
        except ValueError:
            raise _fail(name, where, column, value, "is not a number") from None
    else:
        raise _fail(name, where, column, value, "is not a number")
    if math.isnan(x):
        raise _fail(name, where, column, value, "is not a number")
    return x


def _unit(name: str, where: _Where, value: object, column: str = "unit") -> str:
    u = str(value).strip().lower() if isinstance(value, str) else value
    if u not in UNITS:
        raise _fail(name, where, column, value, "must be 'fraction' or 'bps'")
    return str(u)


def _symbol(name: str, where: _Where, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, where, "symbol", value, "must be a symbol such as BTC")
    try:
        return validate_symbol(value.strip())
    except ValueError:
        raise _fail(name, where, "symbol", value, "is not a valid symbol (1-40 letters, digits and . _ / : -)") from None


def _check_unit(name: str, where: _Where, column: str, raw: object, x: float, unit: str) -> None:
    """Reject a rate whose size contradicts the row's unit, naming the likely mistake.

    In bps a margin rate, LTV or threshold below 1 (under 0.01 %) is a fraction written under the wrong
    unit; as a fraction a value of 1 or more (100 %) is bps written under the wrong unit.
    """
    if unit == "bps" and 0 < x < 1:
        raise _fail(name, where, column, raw,
                    f"looks like a fraction although the row's unit is bps ({x:g} bps would be {x / 100:.4g}%); "
                    "set unit to fraction, or write the rate in bps (1% = 100)")
    if unit == "fraction" and x >= 1:
        raise _fail(name, where, column, raw,
                    f"looks like bps although the row's unit is fraction ({x:g} would be {x:.4g} = {x * 100:g}%); "
                    "set unit to bps, or write the rate as a fraction (1% = 0.01)")


# ---------------------------------------------------------------------------------------------
# records: one dictionary of raw values per bracket / asset, with its location
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    where: _Where
    values: Mapping[str, Any]


def _csv_records(text: str, name: str, profile: str) -> list[_Record]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{name}: the file is empty (expected a header row).", file=name) from None
    cols = [h.strip().lower() for h in header]
    allowed = PERP_COLUMNS if profile == "perp" else LENDING_COLUMNS
    required = _PERP_REQUIRED if profile == "perp" else LENDING_COLUMNS
    other = LENDING_COLUMNS if profile == "perp" else PERP_COLUMNS
    own, foreign = set(allowed) - {"symbol", "unit"}, set(other) - {"symbol", "unit"}
    if set(cols) & foreign and not set(cols) & own:
        raise DataError(
            f"{name}: row 1: the columns ({', '.join(cols)}) are those of a "
            f"{'lending' if profile == 'perp' else 'perp'} parameter file, but the proposal is for {profile}.",
            file=name, row=1,
        )
    for i, c in enumerate(cols):
        if c not in allowed:
            raise DataError(
                f"{name}: row 1, column {i + 1}: unknown column {header[i]!r} "
                f"(allowed for {profile}: {', '.join(allowed)}).",
                file=name, row=1, column=header[i], value=header[i],
            )
    if len(set(cols)) != len(cols):
        dup = next(c for c in cols if cols.count(c) > 1)
        raise DataError(f"{name}: row 1: column '{dup}' appears twice.", file=name, row=1, column=dup)
    missing = [c for c in required if c not in cols]
    if missing:
        raise DataError(
            f"{name}: row 1: missing column '{missing[0]}' (required for {profile}: {', '.join(required)}).",
            file=name, row=1, column=missing[0],
        )
    out = []
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(cols):
            raise DataError(
                f"{name}: row {line_no}: {len(row)} cells where the header has {len(cols)}.",
                file=name, row=line_no,
            )
        out.append(_Record(_Where(line_no, None), dict(zip(cols, row, strict=True))))
    if not out:
        raise DataError(f"{name}: no data rows after the header.", file=name)
    return out


def _json_records(text: str, name: str, profile: str) -> list[_Record]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
                        file=name, row=exc.lineno) from None
    top = _Where(None, "top level")
    if not isinstance(doc, dict):
        raise DataError(f"{name}: the top level must be an object with keys profile, unit, assets.", file=name)
    unknown = [k for k in doc if k not in ("profile", "unit", "assets")]
    if unknown:
        raise _fail(name, top, str(unknown[0]), doc[unknown[0]], "is under an unknown key (allowed: profile, unit, "
                    "assets)")
    if doc.get("profile") != profile:
        raise _fail(name, top, "profile", doc.get("profile"),
                    f"does not match the proposal's profile '{profile}'" if doc.get("profile") in PROFILES
                    else "must be 'perp' or 'lending'")
    unit = _unit(name, top, doc.get("unit"))
    assets = doc.get("assets")
    if not isinstance(assets, dict) or not assets:
        raise _fail(name, top, "assets", assets, "must be a non-empty object keyed by symbol")
    out: list[_Record] = []
    allowed = [c for c in (PERP_COLUMNS if profile == "perp" else LENDING_COLUMNS) if c not in ("symbol", "unit")]
    for sym, body in assets.items():
        items: Sequence[Any]
        if profile == "perp":
            if not isinstance(body, list) or not body:
                raise _fail(name, _Where(None, "assets"), str(sym), body, "must be a non-empty list of brackets")
            items = body
            paths = [f"assets.{sym}[{i}]" for i in range(len(body))]
        else:
            if not isinstance(body, dict):
                raise _fail(name, _Where(None, "assets"), str(sym), body,
                            "must be an object with ltv, liquidation_threshold, liquidation_bonus")
            items, paths = [body], [f"assets.{sym}"]
        for item, path in zip(items, paths, strict=True):
            where = _Where(None, path)
            if not isinstance(item, dict):
                raise _fail(name, _Where(None, path.rsplit("[", 1)[0]), path.rsplit(".", 1)[-1], item,
                            "must be an object")
            for k in item:
                if k not in allowed:
                    raise _fail(name, where, str(k), item[k], f"is under an unknown key (allowed: {', '.join(allowed)})")
            out.append(_Record(where, {"symbol": sym, "unit": unit, **item}))
    return out


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------


def _scale(unit: str) -> float:
    """Divisor from the file's unit to fractions."""
    return 1.0 if unit == "fraction" else 10_000.0


def _perp(records: list[_Record], name: str) -> dict[str, CurrentPerp]:
    rows: dict[str, list[tuple[_Record, float | None, float, float, float | None]]] = {}
    for rec in records:
        v, w = rec.values, rec.where
        sym = _symbol(name, w, v.get("symbol"))
        unit = _unit(name, w, v.get("unit"))
        s = _scale(unit)
        hi_rate = "1" if unit == "fraction" else "10000"
        cap_raw = v.get("notional_cap")
        if isinstance(cap_raw, str) and cap_raw.strip().lower() in ("inf", "infinity", "+inf"):
            cap_raw = None
        cap = _number(name, w, "notional_cap", cap_raw, allow_empty=True)
        if cap is not None and not (math.isfinite(cap) and cap > 0):
            raise _fail(name, w, "notional_cap", v.get("notional_cap"), "must be a notional > 0 (or empty for an "
                        "open-ended last bracket)")
        lev = _number(name, w, "max_leverage", v.get("max_leverage"))
        assert lev is not None
        if not (1.0 <= lev <= 1000.0):
            raise _fail(name, w, "max_leverage", v.get("max_leverage"), "must be in [1, 1000]")
        mmr = _number(name, w, "maintenance_rate", v.get("maintenance_rate"))
        assert mmr is not None
        _check_unit(name, w, "maintenance_rate", v.get("maintenance_rate"), mmr, unit)
        mmr /= s
        if not (0.0 < mmr < 1.0):
            raise _fail(name, w, "maintenance_rate", v.get("maintenance_rate"), f"must be in (0, {hi_rate}) ({unit})")
        pen = _number(name, w, "liquidation_penalty", v.get("liquidation_penalty"), allow_empty=True)
        if pen is not None:
            if pen > 0:
                _check_unit(name, w, "liquidation_penalty", v.get("liquidation_penalty"), pen, unit)
            pen /= s
        rows.setdefault(sym, []).append((rec, cap, lev, mmr, pen))
    out: dict[str, CurrentPerp] = {}
    for sym, brackets in rows.items():
        # the invariants across brackets (and MMF < IMF, penalty < MMF) are the tier table's: checked once
        # there, and a violation is pointed back at the row that holds the tier
        brackets.sort(key=lambda b: math.inf if b[1] is None else b[1])
        floors = [0.0] + [0.0 if b[1] is None else b[1] for b in brackets[:-1]]
        tiers = [CurrentPerpTier(notional_floor=floor, notional_cap=cap, max_leverage=lev, maintenance_rate=mmr,
                                 liquidation_penalty=pen)
                 for floor, (_rec, cap, lev, mmr, pen) in zip(floors, brackets, strict=True)]
        try:
            out[sym] = CurrentPerp(symbol=sym, tiers=TierTable(tiers, symbol=sym))
        except TierError as exc:
            rec = brackets[exc.tier or 0][0]
            column = _TIER_COLUMNS.get(exc.field or "", exc.field or "")
            raise _fail(name, rec.where, column, rec.values.get(column), exc.problem or str(exc)) from None
    return out


_TIER_COLUMNS = {"mmf": "maintenance_rate", "notional_floor": "notional_cap", "imf": "max_leverage"}
"""The file's column of a :class:`~riskparams.tiers.TierTable` field (a floor is the previous row's cap)."""


def _lending(records: list[_Record], name: str) -> dict[str, CurrentLending]:
    out: dict[str, CurrentLending] = {}
    for rec in records:
        v, w = rec.values, rec.where
        sym = _symbol(name, w, v.get("symbol"))
        if sym in out:
            raise _fail(name, w, "symbol", v.get("symbol"), "appears twice: one row per collateral asset")
        unit = _unit(name, w, v.get("unit"))
        s = _scale(unit)
        ltv = _number(name, w, "ltv", v.get("ltv"))
        lt = _number(name, w, "liquidation_threshold", v.get("liquidation_threshold"))
        lb = _number(name, w, "liquidation_bonus", v.get("liquidation_bonus"))
        assert ltv is not None and lt is not None and lb is not None
        for col, x in (("ltv", ltv), ("liquidation_threshold", lt)):
            if x > 0:
                _check_unit(name, w, col, v.get(col), x, unit)
        if unit == "bps" and 0 < lb < 1:
            raise _fail(name, w, "liquidation_bonus", v.get("liquidation_bonus"),
                        "looks like a fraction although the row's unit is bps (Aave-style bps include the 10000 "
                        "base: a 5% bonus is 10500); set unit to fraction or write the bonus in bps")
        if unit == "fraction" and lb >= 100:
            raise _fail(name, w, "liquidation_bonus", v.get("liquidation_bonus"),
                        "looks like bps although the row's unit is fraction (a 5% bonus is 0.05); set unit to bps")
        if unit == "bps":
            if not 10_000 <= lb <= 15_000:
                raise _fail(name, w, "liquidation_bonus", v.get("liquidation_bonus"),
                            "must be Aave-style bps in [10000, 15000] including the 10000 base (10500 = 5% bonus)")
            lb -= 10_000
        ltv, lt, lb = ltv / s, lt / s, lb / s
        hi = "1" if unit == "fraction" else "10000"
        if not 0.0 < lt < 1.0:
            raise _fail(name, w, "liquidation_threshold", v.get("liquidation_threshold"), f"must be in (0, {hi}) ({unit})")
        if not 0.0 <= ltv <= lt:
            raise _fail(name, w, "ltv", v.get("ltv"), "must be >= 0 and at most the liquidation threshold")
        if not 0.0 <= lb <= 0.5:
            raise _fail(name, w, "liquidation_bonus", v.get("liquidation_bonus"), "must be in [0, 0.5] (fraction)")
        if lt * (1.0 + lb) > 1.0 + 1e-12:
            raise _fail(name, w, "liquidation_threshold", v.get("liquidation_threshold"),
                        f"times 1 + bonus is {lt * (1 + lb):.4f} > 1: a liquidation at the threshold would start "
                        "under water")
        out[sym] = CurrentLending(symbol=sym, ltv=ltv, liquidation_threshold=lt, liquidation_bonus=lb)
    return out


# ---------------------------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------------------------


def parse_current(text: str, *, name: str, profile: str, fmt: str) -> CurrentParams:
    """Parse and validate current parameters from text.

    Parameters
    ----------
    text : str
        The file's content.
    name : str
        File name used in messages.
    profile : {'perp', 'lending'}
    fmt : {'csv', 'json'}

    Returns
    -------
    CurrentParams
        ``assets`` keyed by upper-cased symbol.

    Raises
    ------
    DataError
        One sentence naming file, row (or JSON path), column (or key) and value.
    """
    profile = Profile.parse(profile)
    if fmt == "csv":
        records = _csv_records(text, name, profile)
    elif fmt == "json":
        records = _json_records(text, name, profile)
    else:
        raise DataError(f"{name}: unknown format {fmt!r} (use a .csv or .json file).", file=name)
    assets: dict[str, CurrentPerp | CurrentLending]
    assets = dict(_perp(records, name)) if profile == "perp" else dict(_lending(records, name))
    return CurrentParams(profile=profile, source=name, assets=dict(sorted(assets.items())))


def load_current(path: str | Path, profile: str) -> CurrentParams:
    """Read current parameters from a ``.csv`` or ``.json`` file (see the module docstring).

    Raises
    ------
    DataError
        The file is missing, unreadable, of another format or profile, or a value is invalid.

    Examples
    --------
    The parameters in force, for :func:`riskparams.propose` (``current=``) and the backtests:

    >>> import riskparams
    >>> from importlib import resources
    >>> path = str(resources.files("riskparams") / "examples" / "current_perp.csv")
    >>> current = riskparams.load_current(path, "perp")
    >>> str(current.profile), sorted(current.assets)
    ('perp', ['BTC-SYN', 'ETH-SYN', 'SOL-SYN'])
    >>> [(t.notional_cap, t.max_leverage) for t in current.assets["BTC-SYN"].tiers]
    [(1000000.0, 20.0), (5000000.0, 10.0), (20000000.0, 5.0), (None, 3.0)]
    """
    p = Path(path)
    text = _read_text(p, "current parameter file", (".csv", ".json"))
    fmt = p.suffix.lower().lstrip(".")
    return parse_current(text, name=p.name, profile=profile, fmt=fmt)


# ---------------------------------------------------------------------------------------------
# peers: other venues' tier tables
# ---------------------------------------------------------------------------------------------

PEER_COLUMNS: tuple[str, ...] = ("venue", "symbol", "notional_floor", "notional_cap", "max_leverage",
                                 "maintenance_rate", "source")
"""Columns of a peers CSV (``notional_floor`` and ``source`` optional)."""
_PEER_REQUIRED = ("venue", "symbol", "notional_cap", "max_leverage", "maintenance_rate")
_FREE_TEXT = re.compile(r"^[A-Za-z0-9 ._:/@#+,()=-]{0,200}$")


def _free_text(name: str, where: _Where, column: str, value: object) -> str:
    text = "" if value is None else str(value).strip()
    if not _FREE_TEXT.match(text):
        raise _fail(name, where, column, value, "must be at most 200 letters, digits, spaces and . _ : / @ # + , ( ) "
                    "= - (no markup)")
    return text


def _venue(name: str, where: _Where, value: object) -> str:
    try:
        return validate_source(str(value or "").strip())
    except ValueError:
        raise _fail(name, where, "venue", value, "is not a venue name (1-40 letters, digits and . _ : -)") from None


def _header(name: str, reader: Any, allowed: Sequence[str], required: Sequence[str], what: str) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{name}: the file is empty (expected a header row).", file=name) from None
    cols = [h.strip().lower() for h in header]
    for i, c in enumerate(cols):
        if c not in allowed:
            raise DataError(f"{name}: row 1, column {i + 1}: unknown column {header[i]!r} (allowed for {what}: "
                            f"{', '.join(allowed)}).", file=name, row=1, column=header[i], value=header[i])
    if len(set(cols)) != len(cols):
        dup = next(c for c in cols if cols.count(c) > 1)
        raise DataError(f"{name}: row 1: column '{dup}' appears twice.", file=name, row=1, column=dup)
    missing = [c for c in required if c not in cols]
    if missing:
        raise DataError(f"{name}: row 1: missing column '{missing[0]}' (required for {what}: {', '.join(required)}).",
                        file=name, row=1, column=missing[0])
    return cols


def _rows(name: str, reader: Any, cols: list[str]) -> list[_Record]:
    out = []
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(cols):
            raise DataError(f"{name}: row {line_no}: {len(row)} cells where the header has {len(cols)}.",
                            file=name, row=line_no)
        out.append(_Record(_Where(line_no, None), dict(zip(cols, row, strict=True))))
    if not out:
        raise DataError(f"{name}: no data rows after the header.", file=name)
    return out


def parse_peers(text: str, *, name: str) -> tuple[PeerTable, ...]:
    """Parse other venues' tier tables: one CSV row per bracket (``venue, symbol, notional_cap,
    max_leverage, maintenance_rate`` as a fraction; optional ``notional_floor``, default the previous cap,
    and ``source``). Within a venue and symbol, caps strictly increase and only the last may be empty.

    Raises
    ------
    DataError
        One sentence naming file, row, column and value.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    cols = _header(name, reader, PEER_COLUMNS, _PEER_REQUIRED, "peers")
    groups: dict[tuple[str, str], list[tuple[_Record, float | None, float | None, float, float, str]]] = {}
    for rec in _rows(name, reader, cols):
        v, w = rec.values, rec.where
        venue, sym = _venue(name, w, v.get("venue")), _symbol(name, w, v.get("symbol"))
        floor = _number(name, w, "notional_floor", v.get("notional_floor"), allow_empty=True)
        if floor is not None and not (math.isfinite(floor) and floor >= 0):
            raise _fail(name, w, "notional_floor", v.get("notional_floor"), "must be a notional >= 0")
        cap = _number(name, w, "notional_cap", v.get("notional_cap"), allow_empty=True)
        if cap is not None and not (math.isfinite(cap) and cap > 0):
            raise _fail(name, w, "notional_cap", v.get("notional_cap"), "must be a notional > 0 (or empty for an "
                        "open-ended last bracket)")
        lev = _number(name, w, "max_leverage", v.get("max_leverage"))
        assert lev is not None
        if not 1.0 <= lev <= 1000.0:
            raise _fail(name, w, "max_leverage", v.get("max_leverage"), "must be in [1, 1000]")
        mmr = _number(name, w, "maintenance_rate", v.get("maintenance_rate"))
        assert mmr is not None
        _check_unit(name, w, "maintenance_rate", v.get("maintenance_rate"), mmr, "fraction")
        if not 0.0 < mmr < 1.0 / lev + 1e-12:
            raise _fail(name, w, "maintenance_rate", v.get("maintenance_rate"),
                        f"must be a fraction in (0, 1 / max_leverage = {1.0 / lev:.4%}]")
        source = _free_text(name, w, "source", v.get("source"))
        groups.setdefault((venue, sym), []).append((rec, floor, cap, lev, mmr, source))
    out = []
    for (venue, sym), rows in sorted(groups.items()):
        rows.sort(key=lambda r: math.inf if r[2] is None else r[2])
        tiers: list[PeerTier] = []
        prev = 0.0
        for i, (rec, floor, cap, lev, mmr, _src) in enumerate(rows):
            if cap is None and i != len(rows) - 1:
                raise _fail(name, rec.where, "notional_cap", rec.values.get("notional_cap"),
                            f"leaves this {venue} {sym} bracket open-ended although another one follows")
            f = prev if floor is None else floor
            if f < prev:
                raise _fail(name, rec.where, "notional_floor", rec.values.get("notional_floor"),
                            f"overlaps the previous {venue} {sym} bracket, which ends at {prev:g}")
            if cap is not None and cap <= f:
                raise _fail(name, rec.where, "notional_cap", rec.values.get("notional_cap"),
                            f"is not above the bracket's floor {f:g}: caps must be strictly increasing")
            if tiers and mmr < tiers[-1].maintenance_rate:
                raise _fail(name, rec.where, "maintenance_rate", rec.values.get("maintenance_rate"),
                            f"is below that of the smaller {venue} {sym} bracket: rates must not fall with size")
            if tiers and lev > tiers[-1].max_leverage:
                raise _fail(name, rec.where, "max_leverage", rec.values.get("max_leverage"),
                            f"is above that of the smaller {venue} {sym} bracket: leverage must not rise with size")
            tiers.append(PeerTier(notional_floor=f, notional_cap=cap, max_leverage=lev, maintenance_rate=mmr))
            prev = cap if cap is not None else prev
        sources = sorted({r[5] for r in rows if r[5]})
        out.append(PeerTable(venue=venue, symbol=sym, tiers=tuple(tiers), source="; ".join(sources)))
    return tuple(out)


def load_peers(path: str | Path) -> tuple[PeerTable, ...]:
    """Read other venues' tier tables from a CSV file (see :func:`parse_peers`)."""
    p = Path(path)
    return parse_peers(_read_text(p, "peers file", (".csv",)), name=p.name)


def _read_text(p: Path, what: str, suffixes: Sequence[str]) -> str:
    if p.suffix.lower() not in suffixes:
        raise DataError(f"{p.name}: a {what} must be a {' or '.join(suffixes)} file.", file=p.name)
    try:
        if p.stat().st_size > 10_000_000:
            raise DataError(f"{p.name}: the {what} is larger than 10 MB.", file=p.name)
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{what} {p} not found.", file=str(p)) from None
    except UnicodeDecodeError:
        raise DataError(f"{p.name}: not a UTF-8 text file.", file=p.name) from None
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}.", file=str(p)) from None


# ---------------------------------------------------------------------------------------------
# liquidity curves: slippage against size on a named venue
# ---------------------------------------------------------------------------------------------

CURVE_COLUMNS: tuple[str, ...] = ("venue", "symbol", "notional", "slippage", "source")


@dataclass(frozen=True, slots=True)
class LiquidityCurve:
    """Slippage (fraction) of selling ``notional`` (quote currency) of ``symbol`` on ``venue``.

    Between points the curve is interpolated linearly in log notional; below the first point the first
    slippage applies; beyond the last it grows with the square root of size (the square-root law).
    """

    venue: str
    symbol: str
    notionals: tuple[float, ...]
    slippages: tuple[float, ...]
    source: str = ""

    def slippage(self, notional: float) -> float:
        """Slippage of ``notional`` (fraction, capped at 1)."""
        n = float(notional)
        xs, ys = self.notionals, self.slippages
        if n <= xs[0]:
            return ys[0]
        if n >= xs[-1]:
            return min(1.0, ys[-1] * math.sqrt(n / xs[-1]))
        for i in range(1, len(xs)):
            if n <= xs[i]:
                w = (math.log(n) - math.log(xs[i - 1])) / (math.log(xs[i]) - math.log(xs[i - 1]))
                return ys[i - 1] + w * (ys[i] - ys[i - 1])
        return ys[-1]  # pragma: no cover

    def describe(self) -> str:
        """E.g. ``'uniswap-v3 depth curve (source ...)'``."""
        return f"{self.venue} depth curve" + (f" ({self.source})" if self.source else "")


def parse_liquidity_curves(text: str, *, name: str) -> tuple[LiquidityCurve, ...]:
    """Parse depth curves: CSV rows ``venue, symbol, notional, slippage`` (fraction; optional ``source``);
    per venue and symbol at least one point, notionals strictly increasing after sorting and slippage
    non-decreasing with size."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    cols = _header(name, reader, CURVE_COLUMNS, CURVE_COLUMNS[:4], "liquidity curves")
    groups: dict[tuple[str, str], list[tuple[_Record, float, float, str]]] = {}
    for rec in _rows(name, reader, cols):
        v, w = rec.values, rec.where
        venue, sym = _venue(name, w, v.get("venue")), _symbol(name, w, v.get("symbol"))
        n = _number(name, w, "notional", v.get("notional"))
        assert n is not None
        if not (math.isfinite(n) and n > 0):
            raise _fail(name, w, "notional", v.get("notional"), "must be a notional > 0")
        sl = _number(name, w, "slippage", v.get("slippage"))
        assert sl is not None
        _check_unit(name, w, "slippage", v.get("slippage"), sl, "fraction")
        if not 0.0 <= sl < 1.0:
            raise _fail(name, w, "slippage", v.get("slippage"), "must be a fraction in [0, 1)")
        groups.setdefault((venue, sym), []).append((rec, n, sl, _free_text(name, w, "source", v.get("source"))))
    out = []
    for (venue, sym), rows in sorted(groups.items()):
        rows.sort(key=lambda r: r[1])
        for a, b in zip(rows, rows[1:], strict=False):
            if b[1] == a[1]:
                raise _fail(name, b[0].where, "notional", b[0].values.get("notional"),
                            f"repeats a notional of the {venue} {sym} curve")
            if b[2] < a[2]:
                raise _fail(name, b[0].where, "slippage", b[0].values.get("slippage"),
                            f"is below the slippage of a smaller {venue} {sym} size: slippage must not fall with size")
        src = "; ".join(sorted({r[3] for r in rows if r[3]}))
        out.append(LiquidityCurve(venue, sym, tuple(r[1] for r in rows), tuple(r[2] for r in rows), src))
    return tuple(out)


def load_liquidity_curves(path: str | Path) -> tuple[LiquidityCurve, ...]:
    """Read depth curves from a CSV file (see :func:`parse_liquidity_curves`)."""
    p = Path(path)
    return parse_liquidity_curves(_read_text(p, "liquidity curve file", (".csv",)), name=p.name)

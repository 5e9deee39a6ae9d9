"""The one JSON encoder of riskparams: canonical text for everything hashed or stored, readable text for
files and exports, and the one way values become JSON-safe (floats, times, numpy scalars).

Every ``json.dumps`` in the package is here (``tests/test_architecture.py`` fails on any other). Reading
JSON (``json.loads``) stays where the text is read, beside its error messages.

Forms
-----
:func:`canonical_json`
    Sorted keys, no whitespace (``separators=(",", ":")``), UTF-8 characters kept, ``allow_nan=False``.
    The text the store keeps and hashes (proposals, backtest reports, committee records, audit events): it
    is byte-identical to the form every stored record was written in, so no stored hash changes.
    ``ascii_only=True`` escapes non-ASCII characters: the form the policy, fit-spec and fit-cache keys were
    first hashed in (kept so that no stored key changes).
:func:`content_id`
    SHA-256 (hex) of the canonical JSON of a record's content: a proposal's and a backtest report's id.
:func:`pretty_json`
    Indented (2 spaces), sorted keys by default, ``allow_nan=False``: export bundles, CLI ``--json``, key
    files, typed data for a wallet.
:func:`inline_json`
    One line with the default separators (``", "``, ``": "``), e.g. a TOML string or a table cell.

Values
------
:func:`clean_float` is the one float cleaning: ``None``, NaN and infinities become ``None`` (JSON has no
NaN). :func:`iso_z` is the one time format: ISO-8601 UTC with ``Z`` (``2024-01-31T12:00:00Z``; a naive
time is taken as UTC; microseconds only when there are some). :func:`parse_time` reads both ``Z`` and
``+00:00`` (older backtest reports wrote stress-window times with ``+00:00``). :func:`to_jsonable` makes a
JSON-safe copy of a nested value with these two rules.

Examples
--------
>>> from datetime import datetime
>>> canonical_json({"b": 1.5, "a": [None, "\u00e9"]})
'{"a":[null,"\u00e9"],"b":1.5}'
>>> clean_float(float("nan")), clean_float(2)
(None, 2.0)
>>> iso_z(datetime(2024, 1, 31, 12)), parse_time("2024-01-31T12:00:00+00:00") == parse_time("2024-01-31T12:00:00Z")
('2024-01-31T12:00:00Z', True)
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

__all__ = [
    "canonical_json",
    "clean_float",
    "clean_floats",
    "content_id",
    "inline_json",
    "iso_z",
    "json_bytes",
    "parse_time",
    "pretty_json",
    "sha256_hex",
    "to_jsonable",
]


def canonical_json(obj: Any, *, ascii_only: bool = False) -> str:
    """Canonical JSON text: sorted keys, no whitespace, UTF-8 characters kept (escaped with
    ``ascii_only``), no NaN (``ValueError``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only, allow_nan=False)


def sha256_hex(text: str) -> str:
    """SHA-256 (hex) of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_id(content: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a record's content (a proposal's or a backtest report's id)."""
    return sha256_hex(canonical_json(dict(content)))


def pretty_json(obj: Any, *, indent: int = 2, sort_keys: bool = True, ascii_only: bool = False) -> str:
    """Indented JSON text for people and files, no NaN (``ValueError``); non-JSON values (times, enums,
    numpy scalars) are written as :func:`to_jsonable` writes them."""
    return json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ascii_only, allow_nan=False,
                      default=_default)


def json_bytes(obj: Any) -> bytes:
    """:func:`pretty_json` of :func:`to_jsonable` of ``obj`` with a final newline, UTF-8 (export files)."""
    return (pretty_json(to_jsonable(obj)) + "\n").encode("utf-8")


def inline_json(obj: Any, *, sort_keys: bool = False) -> str:
    """One line of JSON with the default separators, UTF-8 characters kept, no NaN (``ValueError``)."""
    return json.dumps(obj, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False, default=_default)


def clean_float(x: Any) -> float | None:
    """The JSON-safe float: ``None``, NaN and infinities become ``None``, anything else ``float(x)``."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def clean_floats(values: Iterable[Any]) -> list[float | None]:
    """:func:`clean_float` of each value (e.g. a NumPy array)."""
    return [clean_float(x) for x in values]


def iso_z(value: datetime | date) -> str:
    """A time as ISO-8601 UTC with ``Z``, e.g. ``'2024-01-31T12:00:00Z'`` (a naive time is taken as UTC; an
    aware one is converted; ``.ffffff`` only when there are microseconds); a ``date`` as ``'2024-01-31'``."""
    if not isinstance(value, datetime):
        return value.isoformat()
    t = value if value.tzinfo is None else value.astimezone(UTC)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{t.microsecond:06d}Z" if t.microsecond else f"{text}Z"


def parse_time(text: str) -> datetime:
    """An ISO-8601 time written by riskparams (``Z`` or ``+00:00``, or naive = UTC) as an aware UTC datetime.

    Raises
    ------
    ValueError
        Not an ISO-8601 time.
    """
    t = datetime.fromisoformat(str(text).strip())
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def to_jsonable(obj: Any) -> Any:
    """A JSON-safe copy: floats through :func:`clean_float`, NumPy scalars as Python numbers, times through
    :func:`iso_z`, enums as their values, tuples as lists, mapping keys as strings; anything else as ``str``."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return clean_float(obj)
    if isinstance(obj, datetime | date):
        return iso_z(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return str(obj)


def _default(obj: Any) -> Any:
    if isinstance(obj, Enum | datetime | date | numbers.Number):
        return to_jsonable(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

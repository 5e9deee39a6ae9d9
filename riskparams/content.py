"""Helpers of the typed readers of stored content (proposals, backtest reports, sweeps, plans): read-only copies
of stored JSON and the one signal of content without this riskparams' shape. Light (no numpy, no pandas).

The readers (``from_content`` / ``from_dict`` of :mod:`riskparams.domain`, :mod:`riskparams.backtest_content`,
:mod:`riskparams.store.sweep_records`, :mod:`riskparams.plan`) raise :class:`_ShapeError` deep inside and turn it
into one :class:`~riskparams.exceptions.DataError` sentence (or a ``ValueError``) naming the record at the top;
it never reaches a caller.

Examples
--------
>>> from riskparams.content import freeze, thaw
>>> frozen = freeze({"tiers": [{"mmf": 0.01}], "symbol": "BTC"})
>>> frozen["tiers"][0]["mmf"], type(frozen["tiers"]).__name__
(0.01, 'tuple')
>>> thaw(frozen) == {"tiers": [{"mmf": 0.01}], "symbol": "BTC"}
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class _ShapeError(ValueError):
    """Stored content without this riskparams' shape (internal: the top-level reader reports it once, naming the
    record, as a :class:`~riskparams.exceptions.DataError` or ``ValueError``)."""


def short(v: Any, limit: int = 40) -> str:
    """``repr(v)`` cut to ``limit`` characters (``...`` at the end): a stored value named in an error sentence.

    >>> short("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."
    """
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def get_field(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], *, optional: bool = False,
          finite: bool = False) -> Any:
    """``d[key]`` checked against ``kind``: the key is required, a bool is never an int or a float unless ``kind``
    names ``bool``, ``optional`` allows None, ``finite`` refuses a non-finite float.

    Raises
    ------
    _ShapeError
        ``missing 'key'`` or ``'key' is <value>`` (the value cut by :func:`short`).
    """
    if key not in d:
        raise _ShapeError(f"missing {key!r}")
    v = d[key]
    if v is None and optional:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(v, bool) and bool not in kinds) or not isinstance(v, kinds):
        raise _ShapeError(f"{key!r} is {short(v)}")
    if finite and isinstance(v, float) and not math.isfinite(v):
        raise _ShapeError(f"{key!r} is {v!r}")
    return v


def freeze(x: Any) -> Any:
    """A read-only deep copy of stored JSON: mappings as ``MappingProxyType``, lists as tuples."""
    if isinstance(x, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in x.items()})
    if isinstance(x, list | tuple):
        return tuple(freeze(v) for v in x)
    return x


def thaw(x: Any) -> Any:
    """Inverse of :func:`freeze`: plain dicts and lists, as stored."""
    if isinstance(x, Mapping):
        return {k: thaw(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return [thaw(v) for v in x]
    return x


def check_finite(x: Any, where: str) -> None:
    """Refuse a non-finite number anywhere in a nested value (JSON has none; the store never writes one).

    Raises
    ------
    _ShapeError
        Naming the path, e.g. ``variants[3].avg_margin is nan``.
    """
    if isinstance(x, float) and not math.isfinite(x):
        raise _ShapeError(f"{where[:80]} is {x}")
    if isinstance(x, Mapping):
        for k, v in x.items():
            check_finite(v, f"{where}.{k}")
    elif isinstance(x, list | tuple):
        for i, v in enumerate(x):
            check_finite(v, f"{where}[{i}]")

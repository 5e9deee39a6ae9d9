"""What a stored policy sweep is made of: its grid, its variant rows and the layout of its content, without the
machinery that computes them (:mod:`riskparams.backtest.sweep`), so reading a stored sweep loads neither numba
nor scipy. :mod:`riskparams.backtest.sweep` re-exports every name here.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from riskparams.exceptions import PolicyError
from riskparams.jsonio import canonical_json, clean_float

SWEEP_FORMAT = "riskparams-sweep/1"
"""Format tag of a sweep report's content."""
MAX_VARIANTS = 512
"""Largest grid accepted (variants)."""
KEY_PATTERN = r"^[a-z_][a-z0-9_]*(\.[a-z0-9_\-]+){0,3}$"
"""A dotted policy key of a grid axis."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepGrid:
    """Policy keys and the values each takes (frozen, validated; the product is the variants).

    Parameters
    ----------
    axes : tuple of (key, tuple of values)
        Dotted policy keys, each once, each with 1 to 64 distinct values.

    Examples
    --------
    >>> from riskparams.backtest.sweep import parse_grid
    >>> g = parse_grid(["confidence=0.99,0.995", "mpor.fixed_hours=24,48"])
    >>> len(g), g.changes()[1]
    (4, {'confidence': 0.99, 'mpor.fixed_hours': 48})
    >>> parse_grid(["confidence"])
    Traceback (most recent call last):
    ...
    riskparams.exceptions.PolicyError: --grid 'confidence' must be KEY=V1,V2,... (one policy key, values separated by commas)
    """

    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        axes = []
        for ax in self.axes:
            if not isinstance(ax, tuple | list) or len(ax) != 2:
                raise PolicyError(f"a grid axis must be (key, values), got {ax!r}")
            key, values = str(ax[0]), tuple(ax[1])
            if not re.match(KEY_PATTERN, key):
                raise PolicyError(f"grid key {key[:60]!r} is not a policy key (dotted lower-case names)")
            if key in seen:
                raise PolicyError(f"grid key {key} is given twice; give each key once with all its values")
            if not 1 <= len(values) <= 64 or len({canonical_json([v]) for v in values}) != len(values):
                raise PolicyError(f"grid key {key} needs 1 to 64 distinct values, got {list(values)[:8]}")
            seen.add(key)
            axes.append((key, values))
        if not axes:
            raise PolicyError("a sweep needs at least one --grid KEY=V1,V2")
        object.__setattr__(self, "axes", tuple(axes))
        if len(self) > MAX_VARIANTS:
            raise PolicyError(f"the grid spans {len(self)} variants, more than {MAX_VARIANTS}; sweep fewer values")

    def __len__(self) -> int:
        return math.prod(len(v) for _k, v in self.axes)

    def changes(self) -> list[dict[str, Any]]:
        """The variants as dotted-key changes, in order (last key fastest)."""
        keys = [k for k, _v in self.axes]
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _k, v in self.axes))]

    def to_list(self) -> list[list[Any]]:
        """JSON-safe ``[[key, [values...]], ...]``."""
        return [[k, list(v)] for k, v in self.axes]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepVariant:
    """One variant, all assets pooled (units in the module docstring)."""

    index: int
    changes: Mapping[str, Any]
    policy_key: str
    assets: int
    n: int
    exceptions: int
    expected: float
    kupiec_p: float | None
    avg_margin: float | None
    bad_debt: float | None
    liquidations: int
    changes_per_year: float | None
    on_frontier: bool = False
    var_insolvent_debt: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        d = {"variant": self.index, "changes": dict(self.changes), "policy_key": self.policy_key,
             "assets": self.assets, "n": self.n, "exceptions": self.exceptions,
             "expected": clean_float(self.expected), "kupiec_p": clean_float(self.kupiec_p),
             "avg_margin": clean_float(self.avg_margin), "bad_debt": clean_float(self.bad_debt),
             "liquidations": self.liquidations, "changes_per_year": clean_float(self.changes_per_year),
             "on_frontier": self.on_frontier}
        if self.var_insolvent_debt is not None:
            d["var_insolvent_debt"] = clean_float(self.var_insolvent_debt)
        return d


def variant_label(changes: Mapping[str, Any]) -> str:
    """The one name of a sweep variant: its policy changes as ``key=value, key=value`` in the sweep's order (plain
    text, ``""`` for the base policy), for the frontier chart, the Sweep page and the Markdown export alike.

    >>> variant_label({"confidence": 0.995, "mpor.fixed_hours": 48})
    'confidence=0.995, mpor.fixed_hours=48'
    """
    return ", ".join(f"{k}={v}" for k, v in changes.items())


def frontier_of(variants: Iterable[SweepVariant]) -> list[SweepVariant]:
    """The variants on the frontier, by increasing average margin (then index)."""
    return sorted((v for v in variants if v.on_frontier), key=lambda v: (v.avg_margin or 0.0, v.index))


def sweep_content(*, profile: str, spec: Mapping[str, Any], base_policy: Mapping[str, Any], grid: SweepGrid,
                  symbols: Iterable[str], data: Mapping[str, str], fits: int, variants: tuple[SweepVariant, ...],
                  skipped: Iterable[tuple[int, str, str]], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed content of a sweep (the one layout the live and the stored report write): ``format, profile,
    spec, base_policy, grid, symbols, data, fits, n_variants, variants, frontier, skipped, provenance``."""
    return {
        "format": SWEEP_FORMAT, "profile": profile, "spec": dict(spec), "base_policy": dict(base_policy),
        "grid": grid.to_list(), "symbols": list(symbols), "data": dict(data), "fits": fits,
        "n_variants": len(variants),
        "variants": [v.to_dict() for v in variants],
        "frontier": [{"variant": v.index, "changes": dict(v.changes), "avg_margin": clean_float(v.avg_margin),
                      "bad_debt": clean_float(v.bad_debt)} for v in frontier_of(variants)],
        "skipped": [{"variant": i, "symbol": s, "reason": r} for i, s, r in skipped],
        "provenance": dict(provenance),
    }

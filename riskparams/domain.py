"""Values passed between the stages of riskparams: read-only records with no behaviour beyond
conversion to plain dictionaries (for JSON output).

Units: timestamps are UTC; prices in quote currency; volumes in base-asset units.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Freq(StrEnum):
    """Bar frequency of a price series."""

    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        """Length of one bar in seconds."""
        return {"1h": 3_600, "4h": 14_400, "1d": 86_400}[self.value]

    @classmethod
    def parse(cls, value: str) -> Freq:
        """Parse ``'1h' | '4h' | '1d'`` (case-insensitive); ValueError names the allowed values."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"frequency must be one of 1h, 4h, 1d, got {value!r}") from None


class Kind(StrEnum):
    """Market kind of a price series."""

    SPOT = "spot"
    PERP = "perp"

    @classmethod
    def parse(cls, value: str) -> Kind:
        """Parse ``'spot' | 'perp'``; ValueError names the allowed values."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"kind must be spot or perp, got {value!r}") from None


SYMBOL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,39}$")
"""Symbols: a letter or digit first, then letters, digits and ``. _ / : -``; at most 40 characters.

No symbol can therefore carry SQL, quotes, spaces or a spreadsheet formula prefix (``= + - @``)."""

SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$")
"""Source labels follow the same rule as symbols, without ``/``."""


def validate_symbol(symbol: str) -> str:
    """Return ``symbol`` upper-cased if it is a valid symbol, else raise ValueError naming it.

    Parameters
    ----------
    symbol : str
        For example ``"BTC"``, ``"BTC/USDT"``, ``"ETH-PERP"``.
    """
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol):
        raise ValueError(
            f"symbol {symbol!r} is not valid: use 1-40 letters, digits and . _ / : - "
            "starting with a letter or digit"
        )
    return symbol.upper()


def validate_source(source: str) -> str:
    """Return ``source`` lower-cased if it is a valid source label, else raise ValueError naming it."""
    if not isinstance(source, str) or not SOURCE_PATTERN.match(source):
        raise ValueError(
            f"source label {source!r} is not valid: use 1-40 letters, digits and . _ : - "
            "starting with a letter or digit"
        )
    return source.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesInfo:
    """One stored price series and its extent.

    ``first`` and ``last`` are bar open times (UTC, naive ``datetime``), ``None`` for an empty series.
    """

    series_id: int
    symbol: str
    source: str
    kind: str
    freq: str
    synthetic: bool
    rows: int = 0
    first: datetime | None = None
    last: datetime | None = None

    @property
    def label(self) -> str:
        """Human label, e.g. ``'BTC 1d spot (binance)'``; synthetic series say so."""
        tag = " [synthetic]" if self.synthetic else ""
        return f"{self.symbol} {self.freq} {self.kind} ({self.source}){tag}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary; timestamps as ISO-8601 strings with ``Z``."""
        d = asdict(self)
        for k in ("first", "last"):
            v = d[k]
            d[k] = None if v is None else v.strftime("%Y-%m-%dT%H:%M:%SZ")
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """A run of missing bars: ``after`` is the last bar before it, ``before`` the first bar after it."""

    after: datetime
    before: datetime
    missing_bars: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestReport:
    """What one ingest did.

    Attributes
    ----------
    series : SeriesInfo
        The series written to, with its extent after the ingest.
    origin : str
        File path, ``exchange:NAME`` or ``demo``.
    file_hash : str or None
        SHA-256 of the file's bytes (files only).
    rows_read : int
        Data rows in the input.
    duplicates_dropped : int
        Input rows that repeated another row exactly and were dropped.
    rows_added, rows_replaced, rows_unchanged : int
        New bars stored; stored bars overwritten (``replace=True`` only); bars already stored as they were.
    gaps : tuple of Gap
        Gaps inside the input (reported, not fatal).
    """

    series: SeriesInfo
    origin: str
    file_hash: str | None
    rows_read: int
    duplicates_dropped: int
    rows_added: int
    rows_replaced: int
    rows_unchanged: int
    gaps: tuple[Gap, ...] = field(default_factory=tuple)

    @property
    def missing_bars(self) -> int:
        """Total bars missing inside the input's span."""
        return sum(g.missing_bars for g in self.gaps)

    @property
    def changed(self) -> bool:
        """True when the store changed."""
        return bool(self.rows_added or self.rows_replaced)

    def summary(self) -> str:
        """One line for the command line and the dashboard."""
        s = self.series
        parts = [
            f"{s.symbol} {s.freq} {s.kind} ({s.source}): {self.rows_added} bars added",
        ]
        if self.rows_replaced:
            parts.append(f"{self.rows_replaced} replaced")
        if self.rows_unchanged:
            parts.append(f"{self.rows_unchanged} already stored")
        if self.duplicates_dropped:
            parts.append(f"{self.duplicates_dropped} duplicate rows dropped")
        if self.gaps:
            parts.append(f"{len(self.gaps)} gaps ({self.missing_bars} missing bars)")
        return ", ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "series": self.series.to_dict(),
            "origin": self.origin,
            "file_hash": self.file_hash,
            "rows_read": self.rows_read,
            "duplicates_dropped": self.duplicates_dropped,
            "rows_added": self.rows_added,
            "rows_replaced": self.rows_replaced,
            "rows_unchanged": self.rows_unchanged,
            "gaps": [
                {
                    "after": g.after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "before": g.before.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "missing_bars": g.missing_bars,
                }
                for g in self.gaps
            ],
        }

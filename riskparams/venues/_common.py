"""Helpers shared by the venue formats: symbols as venues name them, caps read from a proposal, encodings.

Pure: no store, no clock, no network. Every value a venue format writes that is not in the proposal (a market
id, a token address, a contract address) comes from a table in the format's module that names the public file
(repository, path, commit) it was copied from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from riskparams.exceptions import ExportError
from riskparams.jsonio import clean_float, parse_time

__all__ = [
    "ADDRESS",
    "ZERO_ADDRESS",
    "asset_cap",
    "check_addresses",
    "epoch_seconds",
    "js_length",
    "plain_line",
    "symbol_base",
    "uint256_hex",
    "utf8_hex",
]

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
"""The zero address: a placeholder where a venue needs an address riskparams does not know."""

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
"""An EVM address (20 bytes, hex)."""

_SEPARATORS = re.compile(r"[-/:_.]")
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
                        "\ud800-\udfff\ue000\ue001]")


def symbol_base(symbol: str) -> str:
    """The base asset of a riskparams symbol, upper case: ``'btc-syn'`` -> ``'BTC'``, ``'ETH/USDT'`` -> ``'ETH'``."""
    return _SEPARATORS.split(str(symbol).strip())[0].upper()


def plain_line(value: object) -> str:
    """Text as one line of visible characters (line breaks, including U+2028/U+2029, become spaces; control and
    direction-changing characters become ``[U+XXXX]``): safe inside a ``//`` comment or a one-line field."""
    text = " ".join(str(value).split())
    return _INVISIBLE.sub(lambda m: f"[U+{ord(m[0]):04X}]", text)


def js_length(text: str) -> int:
    """Length of ``text`` as JavaScript counts it (UTF-16 code units): Snapshot's limits are JavaScript lengths."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def uint256_hex(value: int) -> str:
    """``abi.encode(uint256 value)`` as ``0x`` + 64 hex digits.

    Raises
    ------
    ExportError
        Negative or above ``2**256 - 1``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise ExportError(f"a uint256 must be a whole number in [0, 2**256), got {value!r}.")
    return "0x" + value.to_bytes(32, "big").hex()


def utf8_hex(text: str) -> str:
    """The UTF-8 bytes of ``text`` as ``0x``-prefixed hex (a Solidity ``bytes`` value)."""
    return "0x" + text.encode("utf-8", "surrogatepass").hex()


def epoch_seconds(created_at: str | None) -> int:
    """Unix seconds of a stored ISO-8601 time; 0 when there is none or it does not parse."""
    if not created_at:
        return 0
    try:
        return int(parse_time(created_at).timestamp())
    except ValueError:
        return 0


def asset_cap(asset: object, name: str) -> float | None:
    """A cap field of a proposed asset (``open_interest_cap``, ``supply_cap``, ``borrow_cap``, ``debt_ceiling``,
    ``cap_price``) when it is a finite number > 0, else None (absent, None, zero, negative or not a number)."""
    x = getattr(asset, name, None)
    if x is None or isinstance(x, bool):
        return None
    try:
        v = clean_float(x)
    except (TypeError, ValueError):
        return None
    return v if v is not None and v > 0 and math.isfinite(v) else None


def check_addresses(addresses: Mapping[str, Any] | None) -> dict[str, str]:
    """``{SYMBOL: address}`` with upper-case symbols, every value checked as an EVM address.

    Raises
    ------
    ExportError
        A value that is not ``0x`` + 40 hex digits.
    """
    out: dict[str, str] = {}
    for k, v in (addresses or {}).items():
        if not isinstance(v, str) or not ADDRESS.match(v):
            raise ExportError(f"the token address given for {plain_line(k)!r} must be 0x and 40 hex digits, got "
                              f"{plain_line(v)!r}.")
        out[str(k).strip().upper()] = v
    return out

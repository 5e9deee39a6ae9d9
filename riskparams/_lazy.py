"""Modules that load on first use, so the dashboard's pages do not pay for scipy before they need it."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """A stand-in for a module: the first attribute access imports it (later ones come from ``sys.modules``).

    >>> stats = LazyModule("scipy.stats")
    >>> round(float(stats.norm.ppf(0.5)), 6)
    0.0
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def _load(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"

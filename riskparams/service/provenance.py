"""The package versions recorded in every proposal, backtest and sweep.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

PROVENANCE_PACKAGES: tuple[str, ...] = ("riskparams", "numpy", "pandas", "scipy", "arch", "statsmodels", "duckdb")
"""Packages whose versions are recorded in every proposal."""


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`PROVENANCE_PACKAGES` (``'unknown'`` when not installed)."""
    from importlib import metadata

    out = {}
    for name in PROVENANCE_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out

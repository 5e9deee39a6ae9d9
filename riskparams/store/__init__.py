"""The DuckDB store: the only door to duckdb in riskparams.

See :class:`riskparams.store.core.Store`.
"""

from __future__ import annotations

from riskparams.store.core import ENV_VAR, MEMORY, Store, default_db_path, iso_z, naive_utc, now_utc
from riskparams.store.schema import SCHEMA_VERSION

__all__ = ["ENV_VAR", "MEMORY", "SCHEMA_VERSION", "Store", "default_db_path", "iso_z", "naive_utc", "now_utc"]

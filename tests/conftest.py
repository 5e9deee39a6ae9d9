"""Shared fixtures of the riskparams tests.

* ``store``: a fresh in-memory :class:`~riskparams.store.Store`.
* ``tmp_store``: a :class:`~riskparams.store.Store` on a real DuckDB file in ``tmp_path``.
* ``prices_dir``: the real Binance data in ``../shared/data/prices`` (the test is skipped when absent).
* ``write_csv``: writes a small CSV file into ``tmp_path`` and returns its path.
* ``ohlcv_frame``: builds a small valid OHLCV frame.
* ``snapshot``: the full contents of a store (counts and every row of its tables), to prove that a
  rejected input changed nothing.

Plain helpers, imported by the tests (``from conftest import run_cli``): ``bar_lines``, ``make_frame``,
``bars``, ``run_cli`` and ``cli_fails`` (the ``riskparams`` command in-process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskparams.store import Store

PRICES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prices"

HEADER = "timestamp,open,high,low,close,volume"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``riskparams ARGS`` in-process: ``(exit code, stdout, stderr)``; an argparse refusal counts as its
    exit code."""
    from riskparams.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse refusing an option
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def cli_fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Exit 2 with exactly one non-blank line on stderr; returns it."""
    code, out, err = run_cli(capsys, *args)
    assert code == 2, (code, out, err)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("riskparams: error: "), err
    return lines[0]


@pytest.fixture
def store() -> Iterator[Store]:
    """A fresh in-memory store."""
    s = Store.memory()
    yield s
    s.close()


@pytest.fixture
def tmp_store(tmp_path: Path) -> Iterator[Store]:
    """A store on a real DuckDB file (``tmp_path / 'store.duckdb'``)."""
    s = Store(tmp_path / "store.duckdb")
    yield s
    s.close()


@pytest.fixture
def prices_dir() -> Path:
    """The folder of real Binance CSV files; skips the test when it is not there."""
    if not PRICES_DIR.is_dir():
        pytest.skip(f"real price data not found at {PRICES_DIR}")
    return PRICES_DIR


def bar_lines(n: int, *, start: str = "2024-01-01T00:00:00Z", step: str = "1h", base: float = 100.0) -> list[str]:
    """``n`` valid CSV data lines ``timestamp,open,high,low,close,volume`` (ISO-8601 with Z)."""
    stamps = pd.date_range(pd.Timestamp(start), periods=n, freq=step)
    lines = []
    for i, ts in enumerate(stamps):
        o = base + i
        lines.append(f"{ts.strftime('%Y-%m-%dT%H:%M:%SZ')},{o},{o + 2},{o - 1},{o + 1},{10 + i}")
    return lines


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """``write_csv(name, lines_or_text, header=HEADER)`` writes a CSV into tmp_path and returns its path."""

    def write(name: str, body: str | list[str], *, header: str | None = HEADER) -> Path:
        text = body if isinstance(body, str) else "\n".join(body) + "\n"
        if header is not None:
            text = header + "\n" + text
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def make_frame(n: int, *, start: str = "2024-01-01", freq: str = "1D", base: float = 100.0) -> pd.DataFrame:
    """A valid OHLCV frame with columns ts (UTC), open, high, low, close, volume."""
    ts = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=n, freq=freq)
    o = base + np.arange(n, dtype=float)
    return pd.DataFrame({"ts": ts, "open": o, "high": o + 2, "low": o - 1, "close": o + 1, "volume": 10.0 + np.arange(n)})


@pytest.fixture
def ohlcv_frame() -> Callable[..., pd.DataFrame]:
    """``ohlcv_frame(n, start=..., freq=...)``: a small valid OHLCV frame."""
    return make_frame


def store_snapshot(s: Store) -> dict[str, Any]:
    """Everything in the store: ``counts()``, every row of every table (in a fixed order) and the
    temporary tables left over, comparable with ``==``.

    Sequences are not compared: like any database, DuckDB does not give back an id that a rolled-back
    transaction drew, so a failed ingest of a new series skips a ``series_id``.
    """
    cur = s.cursor()
    out: dict[str, Any] = {"counts": s.counts()}
    tables = [r[0] for r in cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name"
    ).fetchall()]
    assert {"series", "prices", "ingest_log", "schema_version"} <= set(tables)
    for table in tables:
        out[table] = cur.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()  # noqa: S608
    out["temp_tables"] = cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary ORDER BY table_name"
    ).fetchall()
    return out


@pytest.fixture
def snapshot() -> Callable[[Store], dict[str, Any]]:
    """``snapshot(store)``: the full contents of a store, comparable with ``==``."""
    return store_snapshot


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    """Streamlit's AppTest leaves ``sys.modules['__main__']`` pointing at the page it ran; a process pool
    started later (spawn) would then re-run that page in every worker. Put the real one back."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


def bars(n: int, *, seed: int) -> pd.DataFrame:
    """Daily OHLCV bars from 2021-01-01 with Student-t(5) returns of about 2% a day (deterministic)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.standard_t(5, n) * 0.02))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame({
        "ts": pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC"),
        "open": open_, "high": np.maximum(open_, close) * 1.01, "low": np.minimum(open_, close) * 0.99,
        "close": close, "volume": rng.uniform(1e4, 2e4, n),
    })


def syn_perp_store() -> Store:
    """An in-memory store holding 400 daily perp bars each of BTC-SYN and ETH-SYN (:func:`bars`, seeds 1 and 2)."""
    from riskparams.ingest import ingest_frame

    s = Store.memory()
    ingest_frame(s, bars(400, seed=1), symbol="BTC-SYN", source="unit", kind="perp", origin="test")
    ingest_frame(s, bars(400, seed=2), symbol="ETH-SYN", source="unit", kind="perp", origin="test")
    return s


@pytest.fixture(scope="session")
def proposals() -> dict[str, Any]:
    """A perp and a lending proposal of BTC-SYN and ETH-SYN (EWMA model) against the example current
    parameters, not stored (``{"perp": Proposal, "lending": Proposal}``)."""
    import warnings

    from riskparams.config import policy_from_dict
    from riskparams.params_io import load_current
    from riskparams.service import propose

    examples = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
    # ADV overrides of a liquid market: the bars' own volume (about 1.5m a day) would take days to close out
    # a 1m position at 10% participation, beyond the policy's longest margin period of risk
    policy = policy_from_dict({"model": {"model": "ewma", "n_sims": 200},
                               "liquidity": {"adv_override": {"BTC-SYN": 2e9, "ETH-SYN": 1e9}}})
    s = syn_perp_store()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for profile in ("perp", "lending"):
            current = load_current(examples / f"current_{profile}.csv", profile)
            out[profile] = propose(s, profile=profile, policy=policy, current=current, save=False).proposal
    s.close()
    return out


@pytest.fixture()
def run_benchmark(capsys: pytest.CaptureFixture[str]) -> Callable[..., dict[str, Any]]:
    """Run ``benchmarks/<name>.py`` in-process with ``--json`` and the given arguments; its figures
    as a dictionary (the smoke tests that keep the scripts working; nothing is timed)."""
    import importlib.util
    import json

    def run(name: str, *args: str) -> dict[str, Any]:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.main([*args, "--json"]) == 0
        out: dict[str, Any] = json.loads(capsys.readouterr().out)
        return out

    return run

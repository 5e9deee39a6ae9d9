"""Use-cases: fits through the store's cache, and `riskparams fit`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskparams import cli
from riskparams.ingest import ingest_frame
from riskparams.service import fit_series
from riskparams.store import Store
from riskparams.volatility import FitSpec

REQUIRED_FIT_KEYS = {
    "symbol", "model", "dist", "params", "loglik", "bic", "converged", "fallback", "horizon_vol", "var", "es",
    "diagnostics",
}


def bars(n: int, *, seed: int = 1, start: str = "2020-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    r = rng.standard_t(5, n) * 0.02
    close = 100 * np.exp(np.cumsum(r))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame({
        "ts": pd.date_range(start, periods=n, freq="D", tz="UTC"),
        "open": open_, "high": np.maximum(open_, close) * 1.01, "low": np.minimum(open_, close) * 0.99,
        "close": close, "volume": np.random.default_rng(seed + 1).uniform(1e3, 2e3, n),
    })


@pytest.fixture
def store() -> Store:
    s = Store.memory()
    ingest_frame(s, bars(700), symbol="TST", source="unit", origin="test")
    return s


SPEC = FitSpec(model="garch", dist="t", n_sims=500)


def test_second_fit_comes_from_the_cache(store: Store) -> None:
    first = fit_series(store, "TST", spec=SPEC)
    assert not first.cached and store.counts()["fit_cache"] == 1
    second = fit_series(store, "TST", spec=SPEC)
    assert second.cached and store.counts()["fit_cache"] == 1
    assert second.estimate.to_dict() == first.estimate.to_dict()
    assert second.fingerprint == first.fingerprint == store.fingerprint(first.series.series_id)


def test_new_data_or_new_spec_misses_the_cache(store: Store) -> None:
    fit_series(store, "TST", spec=SPEC)
    other = fit_series(store, "TST", spec=FitSpec(model="garch", dist="normal", n_sims=500))
    assert not other.cached
    more = bars(701)
    ingest_frame(store, more, symbol="TST", source="unit", origin="test")
    again = fit_series(store, "TST", spec=SPEC)
    assert not again.cached and again.estimate.n_obs == 700


def test_as_of_ignores_later_bars(store: Store) -> None:
    past = fit_series(store, "TST", spec=SPEC, as_of="2021-06-30")
    ingest_frame(store, bars(760), symbol="TST", source="unit", origin="test")  # 60 more days
    again = fit_series(store, "TST", spec=SPEC, as_of="2021-06-30", use_cache=False)
    assert not again.cached
    a, b = past.estimate.to_dict(), again.estimate.to_dict()
    assert a == b
    assert past.estimate.as_of == pd.Timestamp("2021-06-30", tz="UTC")


def test_cli_fit_json_has_the_documented_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fit.duckdb"
    with Store(db) as s:
        ingest_frame(s, bars(600), symbol="TST", source="unit", origin="test")
    monkeypatch.setenv("RISKPARAMS_DB", str(db))
    code = cli.main(["fit", "TST", "--model", "garch", "--horizon-hours", "48", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert REQUIRED_FIT_KEYS <= set(out)
    assert out["symbol"] == "TST" and out["model"] == "garch" and out["horizon_bars"] == 2
    assert out["fallback"] is None and out["converged"] is True
    assert 0 < out["var"] < out["es"] < 1
    assert set(out["params"]) == {"omega", "alpha[1]", "beta[1]", "nu"}
    assert "conditional_vol" not in out
    code = cli.main(["fit", "TST", "--model", "garch", "--horizon-hours", "48"])
    assert code == 0 and "(cached)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["fit", "NOPE"], "no stored series"),
        (["fit", "TST", "--confidence", "0.3"], "confidence must be in (0.5, 1)"),
        (["fit", "TST", "--model", "figarch"], "invalid choice"),
        (["fit", "TST", "--as-of", "yesterday-ish"], "is not a date"),
        (["fit", "TST", "--as-of", "2000-01-01"], "has 0 bars"),
    ],
)
def test_cli_fit_mistakes_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str],
    needle: str,
) -> None:
    db = tmp_path / "fit.duckdb"
    with Store(db) as s:
        ingest_frame(s, bars(50), symbol="TST", source="unit", origin="test")
    monkeypatch.setenv("RISKPARAMS_DB", str(db))
    try:
        code = cli.main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and err.count("\n") == 1

"""Use-cases: fits through the store's cache, and `riskparams fit`."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskparams import cli
from riskparams.config import policy_from_dict
from riskparams.exceptions import PolicyError, SeriesNotFoundError
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


def test_propose_benchmark_runs(run_benchmark: Any) -> None:
    """Keeps benchmarks/propose.py working (nothing is timed here)."""
    out = run_benchmark("propose", "--synthetic", "--sizes", "1", "1500", "1", "600", "--repeats", "1")
    assert out["hourly_series"] == 1 and out["daily_series"] == 1 and out["proposed"] == 2
    assert out["total_s"] > 0 and not out["skipped"]



# -------------------------------------------------------------------------------------------------
# series choice, options, peers, the debt asset, depth curves and the sensitivity grid
# -------------------------------------------------------------------------------------------------


def hourly(n: int, *, seed: int, scale: float = 0.006) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.standard_t(4, n) * scale))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame({
        "ts": pd.date_range("2022-01-01", periods=n, freq="h", tz="UTC"), "open": open_,
        "high": np.maximum(open_, close) * 1.002, "low": np.minimum(open_, close) * 0.998, "close": close,
        "volume": rng.uniform(1e6, 2e6, n),
    })


@pytest.fixture(scope="module")
def market() -> Any:
    """AAA: daily spot (2 years) and hourly perp (13 months); BBB: daily spot only; CCC: hourly perp with 2 months
    of history only (not enough for the default choice, used when nothing else is stored)."""
    s = Store.memory()
    ingest_frame(s, bars(730, seed=1), symbol="AAA", source="venue", kind="spot", origin="test")
    ingest_frame(s, hourly(24 * 400, seed=2), symbol="AAA", source="venue", kind="perp", origin="test")
    ingest_frame(s, bars(730, seed=3), symbol="BBB", source="venue", kind="spot", origin="test")
    ingest_frame(s, hourly(24 * 60, seed=4), symbol="CCC", source="venue", kind="perp", origin="test")
    yield s
    s.close()


def test_series_choice_by_profile_frequency_and_kind(market: Store) -> None:
    from riskparams.service import select_series

    def pick(symbols: list[str] | None = None, **kw: Any) -> dict[str, tuple[str, str, str]]:
        chosen, skipped = select_series(market, symbols, **kw)
        out = {i.symbol: (i.freq, i.kind, why) for i, why in chosen}
        out.update({sk.symbol: ("-", "-", sk.reason) for sk in skipped})
        return out

    perp = pick(profile="perp")
    assert perp["AAA"][:2] == ("1h", "perp") and "perp prices preferred" in perp["AAA"][2]
    assert perp["BBB"][:2] == ("1d", "spot") and "no perp series" in perp["BBB"][2]
    assert perp["CCC"][:2] == ("1h", "perp") and "short history" in perp["CCC"][2]
    lending = pick(profile="lending")
    assert lending["AAA"][:2] == ("1d", "spot") and "spot prices preferred" in lending["AAA"][2]
    assert lending["CCC"][:2] == ("1h", "perp") and "no spot series" in lending["CCC"][2]
    asked = pick(["AAA", "CCC"], profile="perp", freq="1d")
    assert asked["AAA"][:2] == ("1d", "spot") and "--freq 1d" in asked["AAA"][2]
    assert asked["CCC"][0] == "-" and "no 1d series stored" in asked["CCC"][2]
    # every stored symbol filtered by kind: the others are simply not of that kind (not reported as skipped)
    assert set(pick(profile="perp", kind="perp")) == {"AAA", "CCC"}


def test_propose_with_options_peers_and_series_choice(market: Store) -> None:
    from riskparams.params_io import parse_peers
    from riskparams.service import propose

    peers = parse_peers("venue,symbol,notional_cap,max_leverage,maintenance_rate,source\n"
                        "venuex,AAA,1000000,50,0.01,test table\nvenuex,AAA,,20,0.025,test table\n", name="p.csv")
    pol = policy_from_dict({"model": {"n_sims": 500}, "liquidity": {"adv_override": {"AAA": 5e9, "BBB": 1e9}}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = propose(market, profile="perp", symbols=["AAA", "BBB"], policy=pol, save=False,
                      options=["aggressive", "conservative", "moderate"], peers=peers)
    d = run.to_dict()
    aaa = next(a for a in d["assets"] if a["symbol"] == "AAA")
    assert aaa["context"]["freq"] == "1h" and aaa["context"]["selection"]
    assert aaa["peers"]["venues"] == ["venuex"] and aaa["peers"]["rows"][0]["peers"]["venuex"] == {
        "max_leverage": 50.0, "maintenance_rate": 0.01}
    bbb = next(a for a in d["assets"] if a["symbol"] == "BBB")
    assert bbb["peers"] is None  # no table for BBB
    assert [o["name"] for o in d["options"]] == ["aggressive", "conservative", "moderate"]
    assert [o["recommended"] for o in d["options"]] == [False, False, True]
    for sym in ("AAA", "BBB"):
        mmf = {o["name"]: next(x for x in o["assets"] if x["symbol"] == sym)["tiers"][0]["mmf"] for o in d["options"]}
        assert mmf["conservative"] >= mmf["moderate"] >= mmf["aggressive"], (sym, mmf)
    assert d["provenance"]["peers"] == ["venuex: test table"]
    # the typed content round-trips exactly (options and peers included)
    from riskparams.domain import Proposal

    assert Proposal.from_content(run.proposal.content()).id == run.id
    with pytest.raises(PolicyError, match="unknown option 'bogus'"):
        propose(market, profile="perp", symbols=["AAA"], options=["bogus"], save=False)


def test_lending_debt_asset_and_depth_curve(market: Store, tmp_path: Path) -> None:
    from riskparams.service import propose

    pol = policy_from_dict({"model": {"n_sims": 500}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stable = propose(market, profile="lending", symbols=["AAA"], policy=pol, save=False).to_dict()
        ratio = propose(market, profile="lending", symbols=["AAA"], policy=pol, save=False,
                        debt_asset="BBB").to_dict()
    a, r = stable["assets"][0], ratio["assets"][0]
    assert a["bonus"]["debt_asset"] == "USDC" and a["bonus"]["debt_stable"] and "stablecoin" in a["rationale"]
    assert r["bonus"]["debt_asset"] == "BBB" and not r["bonus"]["debt_stable"]
    assert "price ratio" in r["rationale"] and r["context"]["debt_asset"] == "BBB"
    assert r["context"]["fingerprint"] != a["context"]["fingerprint"]  # fitted on the AAA/BBB ratio
    with pytest.raises(SeriesNotFoundError):
        propose(market, profile="lending", symbols=["AAA"], policy=pol, save=False, debt_asset="ZZZ")
    # a depth curve replaces the square-root law and is named as the liquidity source
    curve = tmp_path / "curve.csv"
    curve.write_text("venue,symbol,notional,slippage,source\ndex,AAA,1000000,0.01,pool snapshot\n"
                     "dex,AAA,10000000,0.05,pool snapshot\n")
    with_curve = policy_from_dict({"model": {"n_sims": 500}, "lending": {"liquidity_curve": str(curve)}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = propose(market, profile="lending", symbols=["AAA"], policy=with_curve, save=False).to_dict()["assets"][0]
    # 5m between the points 1m (1 %) and 10m (5 %): linear in log notional
    expect = 0.01 + 0.04 * (np.log(5e6) - np.log(1e6)) / (np.log(1e7) - np.log(1e6))
    assert c["bonus"]["slippage"] == pytest.approx(expect, rel=1e-12)
    assert c["bonus"]["liquidity_source"] == "dex depth curve (pool snapshot)"


def test_sensitivity_grid_is_monotone_and_validated(market: Store) -> None:
    from riskparams.service import sensitivity

    pol = policy_from_dict({"model": {"n_sims": 500}, "liquidity": {"adv_override": {"AAA": 5e9}}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = sensitivity(market, "AAA", policy=pol, horizons=[1, 4, 8, 24], confidences=[0.99, 0.995, 0.975])
    assert g.series == "AAA 1h perp (venue)" and len(g.cells) == 12
    cells = {(c.horizon_hours, c.confidence): c for c in g.cells}
    for q in (0.975, 0.99, 0.995):
        col = [cells[(h, q)].tier1_mmf for h in (1, 4, 8, 24)]
        assert col == sorted(col)
        es = [cells[(h, q)].es_fitted for h in (1, 4, 8, 24)]
        assert es == sorted(es)
    for h in (1, 4, 8, 24):
        row = [cells[(h, q)].tier1_mmf for q in (0.975, 0.99, 0.995)]
        assert row == sorted(row)
    assert g.to_dict()["cells"][0].keys() >= {"horizon_hours", "confidence", "tier1_mmf", "es_fitted", "es_fhs",
                                              "es_empirical", "nu"}
    for bad, msg in (({"horizons": [0]}, "horizons must be hours"), ({"confidences": [0.5]}, "confidence must be"),
                     ({"horizons": []}, "at least one horizon")):
        with pytest.raises(PolicyError, match=msg):
            sensitivity(market, "AAA", **bad)  # type: ignore[arg-type]


# -- demo data: excluded from real proposals unless asked, and removable ------------------------------------------
def mixed_store() -> Store:
    """Market data (REAL, daily spot) beside synthetic demo series (DEMO-SYN daily spot, flagged synthetic)."""
    s = Store.memory()
    ingest_frame(s, bars(700, seed=3), symbol="REAL", source="unit", origin="test")
    ingest_frame(s, bars(700, seed=4), symbol="DEMO-SYN", source="synthetic", origin="demo", synthetic=True)
    return s


QUICK = policy_from_dict({"model": {"model": "ewma"}})


def test_proposals_over_all_assets_leave_synthetic_ones_out_unless_asked() -> None:
    from riskparams.service import propose

    s = mixed_store()
    run = propose(s, profile="perp", policy=QUICK, save=False)
    assert [a.symbol for a in run.proposal.assets] == ["REAL"] and run.proposal.skipped == ()
    asked = propose(s, profile="perp", policy=QUICK, save=False, include_synthetic=True)
    assert [a.symbol for a in asked.proposal.assets] == ["DEMO-SYN", "REAL"]
    named = propose(s, profile="perp", policy=QUICK, save=False, symbols=["demo-syn"])  # named: always used
    assert [a.symbol for a in named.proposal.assets] == ["DEMO-SYN"]
    assert named.proposal.assets[0].context.synthetic


def test_a_store_of_demo_data_only_proposes_for_it() -> None:
    from riskparams.service import propose

    s = Store.memory()
    ingest_frame(s, bars(700, seed=4), symbol="DEMO-SYN", source="synthetic", origin="demo", synthetic=True)
    assert [a.symbol for a in propose(s, profile="perp", policy=QUICK, save=False).proposal.assets] == ["DEMO-SYN"]


def test_remove_demo_deletes_only_synthetic_series_with_their_rows() -> None:
    from riskparams.service import remove_demo

    s = mixed_store()
    fit_series(s, "DEMO-SYN", spec=SPEC)
    fit_series(s, "REAL", spec=SPEC)
    real = s.find_series("REAL")[0]
    before = {t: s.fetchone(f"SELECT count(*) FROM {t} WHERE series_id = ?", [real.series_id])[0]  # noqa: S608
              for t in ("prices", "fit_cache", "ingest_log")}
    removed = remove_demo(s)
    assert [r.symbol for r in removed] == ["DEMO-SYN"] and removed[0].synthetic
    assert [x.symbol for x in s.list_series()] == ["REAL"]
    for table, n in before.items():  # nothing of the series is left, and the market data is untouched
        assert s.fetchone(f"SELECT count(*) FROM {table}")[0] == n > 0  # noqa: S608
    assert remove_demo(s) == []  # nothing left to remove


def test_remove_demo_is_refused_when_a_stored_proposal_used_it(snapshot: Any) -> None:
    from riskparams.exceptions import StoreError
    from riskparams.service import propose, remove_demo

    s = mixed_store()
    run = propose(s, profile="perp", policy=QUICK, symbols=["DEMO-SYN"])
    before = snapshot(s)
    with pytest.raises(StoreError) as err:
        remove_demo(s)
    msg = str(err.value)
    assert msg == (f"the demo data cannot be removed: 1 stored proposal (e.g. {run.id[:12]}) used it, and stored "
                   "records are immutable; proposals over all assets leave it out unless asked.")
    assert snapshot(s) == before


def test_cli_demo_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.duckdb"
    with Store(db) as s:
        ingest_frame(s, bars(50, seed=5), symbol="X-SYN", source="synthetic", origin="demo", synthetic=True)
        ingest_frame(s, bars(50, seed=6), symbol="REAL", source="unit", origin="test")
    assert cli.main(["--db", str(db), "demo", "--remove"]) == 0
    assert "removed 1 synthetic series (X-SYN 1d spot (synthetic))" in capsys.readouterr().out
    with Store(db) as s:
        assert [x.symbol for x in s.list_series()] == ["REAL"]


def test_backtest_chart_marks_the_exceptions_the_table_counts() -> None:
    """Daily bars: the chart's crosses are exactly the table's exceptions (each set's headline side, the
    non-overlapping sample), not every either-side excursion."""
    import riskparams
    from riskparams.ingest.demo import example_store
    from riskparams.service import backtest, backtest_exception_marks, backtest_figures

    s = example_store()
    spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    loose = policy_from_dict({"confidence": 0.9, "mpor": {"fixed_hours": 24}})
    run = backtest(s, profile="perp", symbols=["ABC"], spec=spec, policy=loose)
    content = run.stored.content
    marks, note = backtest_exception_marks(content, "ABC")
    asset = content["assets"][0]
    assert asset["freq"] == "1d" and len(asset["paths"]["ts"]) == asset["bars"]
    either = 0
    for st in asset["sets"]:
        row = next(r for r in content["results"] if r["parameter_set"] == st["name"])
        count, positions = marks[st["name"]]
        assert count == len(positions) == row["exceptions"] == st["sides"][st["side"]]["exceptions"] > 0
        either += len(st["exception_dates"])
    assert either > sum(m[0] for m in marks.values())  # the other side's excursions are not counted
    assert note.startswith("Exceptions in the legend, the badges and the table: the ") and "every observation" in note
    legend = [t.name for t in backtest_figures(content, "ABC")["margins"].data if getattr(t, "mode", None) == "markers"]
    assert legend == [f"{name}: {count} exception{'s' if count != 1 else ''}" for name, (count, _p) in marks.items()]

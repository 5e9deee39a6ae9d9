"""Policy sweeps (riskparams.backtest.sweep): the grid, shared fits equal independent backtests, the frontier,
the content-keyed cache, identical digests under every executor, storage, CLI and hostile input."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskparams.backtest import AssetData, BacktestSpec, run_backtest
from riskparams.backtest.sweep import (
    SweepGrid,
    clear_memo,
    grid_policies,
    pareto_front,
    parse_grid,
    plan_tasks,
    run_sweep,
    run_task,
)
from riskparams.config import RiskPolicy
from riskparams.exceptions import PolicyError, SpecError
from riskparams.executors import ExecutorSpec
from riskparams.ingest.demo import random_walk_ohlc
from riskparams.returns import data_fingerprint

SPEC = BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
GRID = ["confidence=0.99,0.995", "mpor.fixed_hours=24,48"]


def _asset(sym: str, seed: int, vol: float = 0.03) -> AssetData:
    px = random_walk_ohlc(700, seed=seed, vol=vol).assign(volume=1e6)
    return AssetData(symbol=sym, freq="1d", prices=px, source="test", fingerprint=data_fingerprint(px))


@pytest.fixture(scope="module")
def data() -> list[AssetData]:
    return [_asset("AAA", 3), _asset("BBB", 4, 0.05), _asset("CCC", 5, 0.02)]


@pytest.fixture(scope="module")
def serial(data: list[AssetData]):  # type: ignore[no-untyped-def]
    clear_memo()
    return run_sweep(data, RiskPolicy(), parse_grid(GRID), SPEC, chunk=2)


def test_grid_parses_values_and_spans_the_product() -> None:
    g = parse_grid(["confidence=0.99,0.995,0.999", "measure=var,es", "apc.buffer_enabled=true,false"])
    assert len(g) == 12
    ch = g.changes()
    # last key varies fastest; numbers, booleans and words parsed
    assert ch[0] == {"confidence": 0.99, "measure": "var", "apc.buffer_enabled": True}
    assert ch[1] == {"confidence": 0.99, "measure": "var", "apc.buffer_enabled": False}
    assert ch[-1] == {"confidence": 0.999, "measure": "es", "apc.buffer_enabled": False}


@pytest.mark.parametrize(("items", "message"), [
    (["confidence"], "must be KEY=V1,V2"),
    (["confidence=0.99", "confidence=0.995"], "given twice"),
    (["confidence=0.99,0.99"], "distinct values"),
    (["Robert'); DROP TABLE x;--=1"], "is not a policy key"),
    ([], "at least one --grid"),
])
def test_bad_grid_is_one_sentence(items: list[str], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_grid(items)


def test_unknown_key_or_bad_value_names_the_variant() -> None:
    with pytest.raises(PolicyError, match=r"grid variant \{\"nonsense\":1\}: unknown key nonsense"):
        grid_policies(RiskPolicy(), parse_grid(["nonsense=1"]))
    with pytest.raises(PolicyError, match=r"grid variant \{\"confidence\":1.5\}.*confidence"):
        grid_policies(RiskPolicy(), parse_grid(["confidence=0.99,1.5"]))


def test_too_many_variants_refused() -> None:
    with pytest.raises(PolicyError, match="more than 512"):
        SweepGrid(axes=(("confidence", tuple(0.9 + i / 1000 for i in range(30))),
                        ("horizon_hours", tuple(range(1, 31)))))


def test_shared_fits_equal_independent_backtests(data: list[AssetData], serial) -> None:  # type: ignore[no-untyped-def]
    """Every variant's pooled numbers equal those recomputed from run_backtest of that policy alone."""
    assert len(serial.variants) == 4
    # fits: 3 assets x (garch, gjr): EGARCH is left out beyond one bar with t innovations; all four variants
    # share them (one model section), against 4 x 6 = 24 for independent backtests
    assert serial.fits == 6
    for (ch, pol), v in zip(grid_policies(RiskPolicy(), parse_grid(GRID)), serial.variants, strict=True):
        rows = run_backtest(data, pol, SPEC, backend="serial").results()
        assert v.changes == ch
        assert v.exceptions == sum(r.exceptions for r in rows)
        assert v.liquidations == sum(r.liquidations for r in rows)
        assert v.avg_margin == pytest.approx(np.mean([r.avg_margin for r in rows]), rel=1e-12)
        assert v.bad_debt == pytest.approx(sum(r.bad_debt for r in rows), rel=1e-12, abs=1e-9)


def _rows(rep):  # type: ignore[no-untyped-def]
    return [(v.changes, v.exceptions, v.liquidations, v.avg_margin, v.bad_debt, v.changes_per_year)
            for v in rep.variants]


def _same_estimate(e1, e2) -> None:  # type: ignore[no-untyped-def]
    """Every field of two VolEstimates equal (NaN equal to NaN; the term structure by its content)."""
    import dataclasses
    import math

    for f in dataclasses.fields(e1):
        x, y = getattr(e1, f.name), getattr(e2, f.name)
        if f.name == "conditional_vol":
            assert x.equals(y)
        elif f.name == "term":
            assert x.to_dict() == y.to_dict()
        elif isinstance(x, float) and math.isnan(x):
            assert isinstance(y, float) and math.isnan(y), f.name
        else:
            assert x == y, f.name


def test_shared_estimates_and_lean_replay_equal_independent_ones(data: list[AssetData]) -> None:
    """What a sweep shares beyond the fits: replays with the same law share the fitted laws and term structures
    (confidences 99% and 99.5% sit on the same quantile grid; margin periods of 24h and 48h within the term),
    replays with the same policy model share every estimate (APC switches); 98% is not on the standard grid and
    gets its own laws. Every field of each shared estimate equals an unshared one's, and each lean replay (no
    narrative) gives exactly the parameter path and claimed rates of the full replay."""
    from riskparams.backtest.estimates import _Estimates
    from riskparams.backtest.prepare import _prepare
    from riskparams.backtest.replay import _replay_policy
    from riskparams.backtest.sweep import _fits_for

    a = data[1]
    apc = [_prepare(a, pol, SPEC) for _c, pol in grid_policies(RiskPolicy(), parse_grid(["apc.buffer_enabled=true,false"]))]
    assert _Estimates.keys(apc[0], apc[0].policy, SPEC) == _Estimates.keys(apc[1], apc[1].policy, SPEC)
    pols = [p for _c, p in grid_policies(RiskPolicy(), parse_grid(["confidence=0.99,0.995,0.98",
                                                                   "mpor.fixed_hours=24,48"]))]
    prepared = [_prepare(a, pol, SPEC) for pol in pols]
    keys = [_Estimates.keys(p, p.policy, SPEC) for p in prepared]
    assert len({k[0] for k in keys}) == 6  # another confidence or headline horizon: other estimates ...
    assert keys[0][1] == keys[1][1] == keys[2][1] == keys[3][1]  # ... but one law for 99% and 99.5%, 24h and 48h
    assert keys[4][1] != keys[0][1] and keys[4][1] == keys[5][1]  # 98% (2% is not a standard level): its own
    fits, _n = _fits_for(prepared, [p.policy for p in prepared], SPEC)
    bases = {0: _Estimates(prepared[0], prepared[0].policy, SPEC, fits[0]),
             4: _Estimates(prepared[4], prepared[4].policy, SPEC, fits[4])}
    for j in (1, 2, 3, 5):
        p = prepared[j]
        base = bases[0 if j < 4 else 4]
        base.at(int(p.cadence[-1]))  # the base has made a later law first: no look-ahead for the sharer
        shared = base.sharing(p, p.policy)
        alone = _Estimates(p, p.policy, SPEC, fits[j])
        for t in p.cadence:
            _same_estimate(shared.at(int(t))[0], alone.at(int(t))[0])
        lean = _replay_policy(p, p.policy, SPEC, "perp", None, fits[j], lambda _m: None, shared, lean=True)
        full = _replay_policy(p, p.policy, SPEC, "perp", None, fits[j], lambda _m: None)
        assert [v.values() for v in lean.versions] == [v.values() for v in full.versions]
        assert lean.claimed_rate.tolist() == full.claimed_rate.tolist()
        assert full.proposals[-1].rationale and not lean.proposals[-1].rationale  # lean: no narrative
    clear_memo()
    rep = run_sweep(data, RiskPolicy(), parse_grid(["confidence=0.99,0.98", "apc.buffer_enabled=true,false"]),
                    SPEC, chunk=3)
    for (_ch, pol), v in zip(grid_policies(RiskPolicy(), parse_grid(["confidence=0.99,0.98",
                                                                      "apc.buffer_enabled=true,false"])),
                             rep.variants, strict=True):
        rows = run_backtest(data, pol, SPEC, backend="serial").results()
        assert v.exceptions == sum(r.exceptions for r in rows)
        assert v.avg_margin == pytest.approx(np.mean([r.avg_margin for r in rows]), rel=1e-12)
        assert v.bad_debt == pytest.approx(sum(r.bad_debt for r in rows), rel=1e-12, abs=1e-9)


def test_arch_engine_sweep_equals_independent_arch_backtests() -> None:
    """``--engine arch``: arch fits on every decision bar, shared by the variants with the same policy model
    (here two APC variants share every fit); each variant equals its own arch backtest."""
    a = _asset("ARC", 9)
    spec = BacktestSpec(start="2020-06-01", cadence_days=60, window=250, es_sims=0, engine="arch")
    grid = parse_grid(["apc.buffer_enabled=true,false"])
    clear_memo()
    rep = run_sweep([a], RiskPolicy(), grid, spec)
    assert rep.fits == 0  # no compiled walk-forward
    for (_ch, pol), v in zip(grid_policies(RiskPolicy(), grid), rep.variants, strict=True):
        r = run_backtest([a], pol, spec, backend="serial").results()[0]
        assert (v.exceptions, v.liquidations) == (r.exceptions, r.liquidations)
        assert v.avg_margin == pytest.approx(r.avg_margin, rel=1e-12)
        assert v.bad_debt == pytest.approx(r.bad_debt, rel=1e-12, abs=1e-9)


def test_more_confidence_costs_margin(serial) -> None:  # type: ignore[no-untyped-def]
    by = {(v.changes["confidence"], v.changes["mpor.fixed_hours"]): v for v in serial.variants}
    for h in (24, 48):
        assert by[(0.995, h)].avg_margin > by[(0.99, h)].avg_margin
    for q in (0.99, 0.995):
        assert by[(q, 48)].avg_margin > by[(q, 24)].avg_margin


def _dominated(i: int, pts: np.ndarray) -> bool:
    """The definition, pair by pair in plain Python (pareto_front is vectorised): some other point is no worse
    on both coordinates and strictly better on one."""
    xi, yi = (float(v) for v in pts[i])
    for j, (xj, yj) in enumerate(pts.tolist()):
        if j != i and xj <= xi and yj <= yi and (xj < xi or yj < yi):
            return True
    return False


@pytest.mark.parametrize("seed", range(20))
def test_frontier_property(seed: int) -> None:
    """Every frontier point is non-dominated and every other point is dominated (random clouds with ties)."""
    rng = np.random.default_rng(seed)
    pts = np.round(rng.uniform(0, 1, size=(int(rng.integers(1, 40)), 2)), 1)
    front = pareto_front(pts)
    for i in range(len(pts)):
        assert front[i] == (not _dominated(i, pts))


def test_frontier_hand_example() -> None:
    # (0.05, 10) and (0.06, 5) trade off; (0.07, 6) is beaten by (0.06, 5); NaN never on the frontier
    assert pareto_front([[0.05, 10], [0.06, 5], [0.07, 6], [np.nan, 0]]).tolist() == [True, True, False, False]


def test_report_frontier_is_pareto(serial) -> None:  # type: ignore[no-untyped-def]
    pts = np.array([[v.avg_margin, v.bad_debt] for v in serial.variants])
    for i, v in enumerate(serial.variants):
        assert v.on_frontier == (not _dominated(i, pts))
    c = serial.content()
    assert [f["variant"] for f in c["frontier"]] == [v.index for v in serial.frontier]
    assert set(c["variants"][0]) >= {"changes", "avg_margin", "exceptions", "expected", "kupiec_p", "bad_debt",
                                     "liquidations", "changes_per_year"}


def test_tasks_pickle_and_are_pure(data: list[AssetData], serial) -> None:  # type: ignore[no-untyped-def]
    """A task is data: it pickles, and running its unpickled copy with duckdb's connect sabotaged gives the same
    result (workers never open a store)."""
    import duckdb

    tasks = plan_tasks(data, [p for _c, p in grid_policies(RiskPolicy(), parse_grid(GRID))], SPEC, chunk=2)
    assert len(tasks) == 2 and [len(t.assets) for t in tasks] == [2, 1]
    copy = pickle.loads(pickle.dumps(tasks[1]))
    real = duckdb.connect
    try:
        duckdb.connect = lambda *a, **k: (_ for _ in ()).throw(AssertionError("a worker opened DuckDB"))  # type: ignore[assignment]
        res = run_task(copy)
    finally:
        duckdb.connect = real  # type: ignore[assignment]
    assert res["key"] == tasks[1].key
    assert {r["symbol"] for r in res["rows"]} == {"CCC"}
    json.dumps(res)  # JSON-safe


def test_rerun_skips_finished_tasks(data: list[AssetData], serial, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clear_memo()
    first = run_sweep(data, RiskPolicy(), parse_grid(GRID), SPEC, chunk=2, cache_dir=tmp_path)
    assert first.tasks_cached == 0 and len(list(tmp_path.glob("*.json"))) == 2
    clear_memo()  # a new process: only the directory remains
    seen: list[str] = []
    again = run_sweep(data, RiskPolicy(), parse_grid(GRID), SPEC, chunk=2, cache_dir=tmp_path,
                      progress=lambda d, t, m: seen.append(m))
    assert again.tasks_cached == 2 and all("from the cache" in m for m in seen)
    assert again.id == first.id == serial.id
    # a torn cache file is recomputed, not trusted
    victim = sorted(tmp_path.glob("*.json"))[0]
    victim.write_text("{", encoding="utf-8")
    clear_memo()
    third = run_sweep(data, RiskPolicy(), parse_grid(GRID), SPEC, chunk=2, cache_dir=tmp_path)
    assert third.tasks_cached == 1 and third.id == serial.id
    # other data is another key: nothing reused
    changed = [data[0], data[1], _asset("CCC", 6, 0.02)]
    clear_memo()
    fourth = run_sweep(changed, RiskPolicy(), parse_grid(GRID), SPEC, chunk=2, cache_dir=tmp_path)
    assert fourth.tasks_cached == 1 and fourth.id != serial.id


@pytest.mark.parametrize("executor", ["threads:2", "processes:2", "dask-inproc"])
def test_same_digest_under_every_executor(data: list[AssetData], serial, executor: str) -> None:  # type: ignore[no-untyped-def]
    clear_memo()
    ex = (ExecutorSpec(kind="dask", workers=1, threads_per_worker=2, processes=False) if executor == "dask-inproc"
          else ExecutorSpec.parse(executor))
    got = run_sweep(data, RiskPolicy(), parse_grid(GRID), SPEC, chunk=1, executor=ex)
    assert got.tasks == 3
    assert got.id == serial.id  # chunking and executor are not content: the same digest


def test_bad_executor_and_chunk() -> None:
    with pytest.raises(SpecError, match="executor must be"):
        ExecutorSpec.parse("threads:abc")
    with pytest.raises(SpecError, match="scheduler must be an address"):
        ExecutorSpec.parse("dask", scheduler="http://x; rm -rf /")
    with pytest.raises(PolicyError, match="chunk must be"):
        plan_tasks([], [RiskPolicy()], SPEC, chunk=0)


def test_sweep_cli_json_and_store(tmp_path: Path) -> None:
    """`riskparams sweep` on a store: JSON with variants and frontier, stored, attachable; bad grid exits 2."""
    from riskparams.ingest.demo import example_store
    from riskparams.service import list_sweeps, propose

    db = tmp_path / "s.duckdb"
    store = example_store(path=str(db))
    pid = propose(store, profile="perp", symbols=["ABC"]).id
    store.close()
    base = [sys.executable, "-m", "riskparams.cli", "--db", str(db), "sweep", "--profile", "perp", "--symbols", "ABC",
            "--start", "2020-06-01", "--cadence", "30", "--window", "250"]
    out = subprocess.run([*base, "--grid", "confidence=0.99,0.995", "--json", "--attach", pid],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["n_variants"] == 2 and doc["fits"] == 2 and doc["frontier"]
    assert doc["attached_to"] == pid and doc["stored_now"] is True
    bad = subprocess.run([*base, "--grid", "confidence=2"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "confidence" in bad.stderr
    from riskparams.service import open_store

    store = open_store(db)
    rows = list_sweeps(store)
    assert [r.id for r in rows] == [doc["id"]]  # the refused sweep stored nothing
    store.close()


def test_sweep_page_draws_frontier_and_variant_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Sweep page on a store with one sweep: frontier chart, table, and the chosen variant's policy."""
    from streamlit.testing.v1 import AppTest

    from riskparams import ui
    from riskparams.ingest.demo import example_store
    from riskparams.service import sweep

    db = tmp_path / "p.duckdb"
    store = example_store(path=str(db))
    run = sweep(store, profile="perp", symbols=["ABC"], grid=["confidence=0.99,0.995"], spec=SPEC)
    store.close()
    monkeypatch.setenv("RISKPARAMS_DB", str(db))
    ui._open_store.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "8_Sweep.py"), default_timeout=120).run()
    assert not at.exception and not at.error
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 2
    assert any(run.id[:12] in str(s.value) or run.id == s.value for s in at.selectbox)
    variant = [s for s in at.selectbox if s.label == "Variant"][0]
    variant.set_value(1).run()
    assert not at.exception
    assert any("confidence=0.995" in h.value for h in at.subheader)
    assert any("`confidence` = 0.995" in m.value for m in at.markdown)
    ui._open_store.clear()


def test_export_has_sweep_table_when_attached(tmp_path: Path) -> None:
    from riskparams.ingest.demo import example_store
    from riskparams.service import attached_sweep, propose, sweep

    store = example_store(path=str(tmp_path / "e.duckdb"))
    pid = propose(store, profile="perp", symbols=["ABC"]).id
    assert attached_sweep(store, pid) is None
    run = sweep(store, profile="perp", symbols=["ABC"], grid=["confidence=0.99,0.995"], spec=SPEC, attach=pid)
    got = attached_sweep(store, pid)
    assert got is not None and got.id == run.id
    from riskparams.export import sweep_markdown

    md = sweep_markdown(got)
    assert "Policy sweep" in md and "confidence=0.995" in md and md.count("\n|") >= 3
    store.close()


def test_positions_give_var_of_insolvent_debt(tmp_path: Path) -> None:
    """With a book, every variant carries the 99% one-day VaR of insolvent debt under its final tiers; a book with
    a symbol the sweep does not cover is refused in one sentence and nothing is stored."""
    from riskparams.exceptions import DataError
    from riskparams.ingest.demo import example_store
    from riskparams.service import list_sweeps, sweep

    store = example_store(path=str(tmp_path / "b.duckdb"))
    book = tmp_path / "book.csv"
    # highly levered longs: a bad day leaves debt the margin does not cover
    book.write_text("account,symbol,side,notional,equity,margin_mode\n"
                    + "".join(f"0xA{i},ABC,long,{200000 + 1000 * i},{6000 + 100 * i},isolated\n" for i in range(30)),
                    encoding="utf-8")
    run = sweep(store, profile="perp", symbols=["ABC"], grid=["confidence=0.99,0.995"], spec=SPEC, positions=book)
    vars_ = [v.var_insolvent_debt for v in run.report.variants]
    assert all(v is not None and v > 0 for v in vars_)  # 30x-33x longs: the worst days leave debt
    assert "var_insolvent_debt" in run.to_dict()["variants"][0]
    other = tmp_path / "other.csv"
    other.write_text("account,symbol,side,notional,equity,margin_mode\n0xB,XYZ,long,1000,100,isolated\n",
                     encoding="utf-8")
    before = len(list_sweeps(store))
    with pytest.raises(DataError, match="XYZ"):
        sweep(store, profile="perp", symbols=["ABC"], grid=["confidence=0.99,0.999"], spec=SPEC, positions=other)
    assert len(list_sweeps(store)) == before
    store.close()


def test_sweep_benchmark_script_runs(run_benchmark: Any) -> None:
    """benchmarks/sweep.py keeps working (nothing is timed here): the figures the issue asks for are in its JSON,
    the shared sweep counts one walk-forward per asset and model, and speedup_shared is the ratio it reports."""
    out = run_benchmark("sweep", "--assets", "2", "--years", "2.5", "--variants", "3", "--independent", "1",
                        "--no-dask")
    daily = out["daily"]
    assert {"wall_s", "fits", "variants", "speedup_shared", "dask_scaling"} <= set(out)
    assert (daily["assets"], daily["variants"]) == (2, 3)  # --variants 3: the confidence axis alone
    assert daily["fits"] == 2 * daily["assets"]  # shared by the 3 variants: the auto model's two candidate walks
    assert out["speedup_shared"] == daily["speedup_shared"]  # the ratio of the unrounded times, rounded
    assert daily["speedup_shared"] == pytest.approx(daily["independent_s"] / daily["wall_s"], abs=0.02)
    assert out["dask_scaling"] is None and "hourly" not in out

"""riskparams.service as a package (issue 15): every name of the old ``service.py`` still importable, patches
on the defining module take effect, typed listing rows whose ``to_dict()`` is the old JSON, and the typed spec and
policy of a stored backtest."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import riskparams
from riskparams import service
from riskparams.backtest_content import spec_from_dict
from riskparams.domain import Profile
from riskparams.exceptions import DataError
from riskparams.jsonio import canonical_json
from riskparams.service import BacktestRow, ProposalRow, SweepRow

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "riskparams" / "service"

# every name the old riskparams/service.py (2,378 lines) defined at module level, public ones and the private
# helpers, as listed from its source before the split
OLD_PUBLIC = (
    "open_store list_assets remove_demo assets_frame load_series series_quality FitRun fit_series fit_prices "
    "ESTIMATE_FORMAT PROVENANCE_PACKAGES ProposalRun package_versions MIN_HISTORY_DAYS select_series "
    "average_daily_value lookback_vol fit_spec_for ratio_prices propose sensitivity BacktestRun backtest_data "
    "backtest attach_backtest proposal proposals get_backtest list_backtests export_backtest_payload "
    "stored_backtest backtest_exception_marks backtest_figures SweepRun sweep get_sweep list_sweeps attach_sweep "
    "attached_sweep impact_tables joint_daily_closes joint_daily_returns impact portfolio_stress IMPACT_SETS_NOTE "
    "WATERFALL_DEFAULTS positions_from_upload demo_positions perp_parameter_sets proposal_impact stored_impact "
    "current_impact plan_proposal latest_plan create_plan_revisions export_bytes"
).split()
OLD_PRIVATE = (
    "_cache_key _FINEST_FIRST _span_days _enough _pick_series _option_policies _same_fit _liquidity _propose_one "
    "_compare_sets _waterfall_spec _stress_windows _book_stress _stress_paths _subset_perp _subset_lending "
    "_with_costs _positions_info _last_closes _lending_set_report _plan_start _step_overrides"
).split()


# -------------------------------------------------------------------------------------------------
# the package
# -------------------------------------------------------------------------------------------------


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_old_name_is_importable_from_the_package() -> None:
    assert len(OLD_PUBLIC) == 56 and len(OLD_PRIVATE) == 22
    for name in OLD_PUBLIC:
        obj = getattr(service, name)  # `from riskparams.service import X` works as before
        assert name in service.__all__, name
        if callable(obj):
            assert obj.__module__.startswith("riskparams.service."), (name, obj.__module__)
    assert not (ROOT / "riskparams" / "service.py").exists()
    assert set(service.__all__) <= set(dir(service)) and len(service.__all__) == len(set(service.__all__))


def test_each_old_definition_lives_in_exactly_one_module() -> None:
    """No definition was lost or duplicated by the split; every module stays readable in one sitting."""
    where: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "__init__.py":
            continue
        assert len(path.read_text(encoding="utf-8").splitlines()) < 600, path.name
        for name in _top_level_names(path):
            where.setdefault(name, []).append(path.stem)
    for name in OLD_PUBLIC + OLD_PRIVATE:
        assert len(where.get(name, [])) == 1, (name, where.get(name))
    assert where["fit_prices"] == ["fit"] and where["propose"] == ["proposing"] and where["sweep"] == ["sweeps"]


def test_no_submodule_shadows_a_function_of_the_package() -> None:
    """A submodule named like a function (``impact``, ``backtest``, ``propose``) would replace it on the package
    when imported; none is."""
    stems = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert stems & set(OLD_PUBLIC) == set()
    code = ("import importlib, pkgutil, riskparams.service as s\n"
            "[importlib.import_module(f'riskparams.service.{m.name}') for m in pkgutil.iter_modules(s.__path__)]\n"
            "assert callable(s.impact) and callable(s.backtest) and callable(s.propose) and callable(s.sweep)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_patch_on_the_defining_module_takes_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Functions are looked up where they are defined: patching ``riskparams.service.fit.fit_volatility`` reaches
    :func:`fit_series` (tests/test_propose_cli.py relies on it)."""
    from riskparams.ingest.demo import example_store

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("patched fit")

    monkeypatch.setattr("riskparams.service.fit.fit_volatility", boom)
    with pytest.raises(RuntimeError, match="patched fit"):
        service.fit_series(example_store(), "ABC", use_cache=False)


# -------------------------------------------------------------------------------------------------
# typed listing rows
# -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filled() -> dict[str, Any]:
    """An in-memory store with one proposal, one backtest and one sweep, both attached to the proposal."""
    from riskparams.ingest.demo import example_store
    from riskparams.liquidation import PopulationSpec

    store = example_store()
    pid = riskparams.propose(store, profile="perp", symbols=["ABC"]).id
    spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0, shocks=(-0.2, 0.25),
                                   windows=(("dip", "2020-09-01", "2020-09-30"),),
                                   population=PopulationSpec(count=200, seed=3), execution_lag_days=2.0)
    run = riskparams.backtest_policy(store, profile="perp", symbols=["ABC"], spec=spec, attach=pid)
    short = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    sw = riskparams.sweep(store, profile="perp", grid=["confidence=0.99,0.995"], spec=short, attach=pid)
    return {"store": store, "pid": pid, "spec": spec, "run": run, "sweep": sw}


def test_listings_are_typed_and_their_json_is_the_stores(filled: dict[str, Any]) -> None:
    """The store's listing functions are what the service returned before (list[dict]); the typed rows'
    ``to_dict()`` gives the same JSON text, and the rows carry typed values."""
    from riskparams.store.backtest_records import list_reports
    from riskparams.store.records import list_proposals
    from riskparams.store.sweep_records import list_sweeps as store_sweeps

    store = filled["store"]
    props, reports, sweeps = service.proposals(store), service.list_backtests(store), service.list_sweeps(store)
    assert canonical_json([r.to_dict() for r in props]) == canonical_json(list_proposals(store, limit=50))
    assert canonical_json([r.to_dict() for r in reports]) == canonical_json(list_reports(store))
    assert canonical_json([r.to_dict() for r in sweeps]) == canonical_json(store_sweeps(store))
    (p,), (b,), (s,) = props, reports, sweeps
    assert isinstance(p, ProposalRow) and isinstance(b, BacktestRow) and isinstance(s, SweepRow)
    assert p.id == filled["pid"] and p.profile is Profile.PERP and p.status == "draft" and p.n_assets == 1
    assert b.id == filled["run"].id and b.symbols == ("ABC",) and b.attachments == 1
    assert b.start == datetime(2020, 6, 1, tzinfo=UTC) and b.end > b.start
    assert s.id == filled["sweep"].id and s.variants == 2 and s.attachments == 1
    for row in (p, b, s):
        assert row.created_at.tzinfo is not None and row.created_at.utcoffset().total_seconds() == 0
        assert row.created_at_iso == row.to_dict()["created_at"] and row.created_at_iso.endswith("Z")
        assert not hasattr(row, "__dict__")  # slotted
        with pytest.raises(dataclasses.FrozenInstanceError):
            row.id = "x"  # type: ignore[misc]
    assert service.list_backtests(store, profile="lending") == []


def test_rows_round_trip_times_with_microseconds() -> None:
    row = {"id": "ab" * 32, "profile": "lending", "created_at": "2024-01-31T12:00:00.005000Z",
           "symbols": ["ETH", "BTC"], "variants": 3, "attachments": 0}
    s = SweepRow.from_dict(row)
    assert s.created_at == datetime(2024, 1, 31, 12, 0, 0, 5000, tzinfo=UTC) and s.symbols == ("ETH", "BTC")
    assert s.to_dict() == row and s.profile is Profile.LENDING


@pytest.mark.parametrize(("change", "words"), [
    ({"created_at": "yesterday"}, "created_at 'yesterday', not an ISO-8601 time"),
    ({"created_at": None}, "created_at 'None', not an ISO-8601 time"),
    ({"variants": -1}, "variants '-1', not a count"),
    ({"variants": True}, "variants 'True', not a count"),
    ({"profile": "spot"}, "profile 'spot', not perp or lending"),
    ({"symbols": "BTC,ETH"}, "symbols 'BTC,ETH', not a list"),
    ({"id": ""}, "id '', not a content hash"),
])
def test_a_bad_store_row_is_one_sentence(change: dict[str, Any], words: str) -> None:
    row = {"id": "ab" * 32, "profile": "perp", "created_at": "2024-01-31T12:00:00Z", "symbols": ["BTC"],
           "variants": 2, "attachments": 0, **change}
    with pytest.raises(DataError) as exc:
        SweepRow.from_dict(row)
    assert words in str(exc.value) and str(exc.value).count(". ") == 0


def test_a_missing_key_and_a_naive_time_are_refused() -> None:
    with pytest.raises(DataError, match="a stored backtest report row has no 'end'"):
        BacktestRow.from_dict({"id": "ab" * 32, "profile": "perp", "created_at": "2024-01-31T12:00:00Z",
                               "start": "2024-01-01T00:00:00Z"})
    with pytest.raises(DataError, match="ProposalRow.created_at must be an aware UTC datetime"):
        ProposalRow(id="ab" * 32, profile=Profile.PERP, as_of=None, created_at=datetime(2024, 1, 1), status="draft",
                    n_assets=1, n_skipped=0, policy_key=None, riskparams_version=None)


def test_assets_json_is_unchanged(tmp_path: Path) -> None:
    """``riskparams assets --json`` after list_assets became typed: the output captured from the old code
    (riskparams/service.py before issue 15) on a store of one 3-bar CSV, written out here."""
    csv = tmp_path / "bars.csv"
    csv.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,100,110,95,105,10\n"
                   "2024-01-02T00:00:00Z,105,112,101,108,12.5\n2024-01-03T00:00:00Z,108,109,99,100,8\n",
                   encoding="utf-8")
    db = str(tmp_path / "a.duckdb")
    cli = [sys.executable, "-m", "riskparams.cli", "--db", db]
    subprocess.run([*cli, "ingest", str(csv), "--symbol", "ABC", "--source", "mydesk"], check=True,
                   capture_output=True)
    out = subprocess.run([*cli, "assets", "--json"], check=True, capture_output=True, text=True).stdout
    before = [{"series_id": 1, "symbol": "ABC", "source": "mydesk", "kind": "spot", "freq": "1d", "synthetic": False,
               "rows": 3, "first": "2024-01-01T00:00:00Z", "last": "2024-01-03T00:00:00Z"}]
    assert json.loads(out) == before
    assert list(json.loads(out)[0]) == list(before[0])  # same key order
    with service.open_store(db) as store:
        (info,) = service.list_assets(store)
        assert info.symbol == "ABC" and info.rows == 3 and info.to_dict() == before[0]
        assert service.assets_frame(store)["series_id"].tolist() == [1]


# -------------------------------------------------------------------------------------------------
# the typed spec and policy of a stored backtest
# -------------------------------------------------------------------------------------------------


def test_stored_backtest_spec_and_policy_round_trip(filled: dict[str, Any]) -> None:
    run = filled["run"]
    stored = service.get_backtest(filled["store"], run.id[:10]).backtest  # read back from the store
    spec = stored.backtest_spec
    assert spec == run.report.spec == filled["spec"]
    assert spec.shocks == (-0.2, 0.25) and spec.windows == (("dip", "2020-09-01T00:00:00Z", "2020-09-30T00:00:00Z"),)
    assert spec.population is not None and spec.population.count == 200 and spec.execution_lag_days == 2.0
    assert stored.risk_policy == riskparams.RiskPolicy()
    assert stored.risk_policy.key() == stored.policy["policy_key"]


def test_default_shocks_read_back_as_the_default() -> None:
    """``to_dict`` writes the default shocks out; they read back as ``None``, the same shocks used."""
    explicit = riskparams.BacktestSpec(shocks=(-0.3, -0.5, 0.3, 0.5))
    back = spec_from_dict(explicit.to_dict())
    assert back == riskparams.BacktestSpec() and back.shock_list == explicit.shock_list
    lending = riskparams.BacktestSpec(profile="lending")
    assert spec_from_dict(lending.to_dict()) == lending


def test_a_stored_spec_or_policy_of_another_shape_is_a_data_error(filled: dict[str, Any]) -> None:
    from riskparams.backtest_content import StoredBacktest

    content = filled["run"].stored.content
    odd = StoredBacktest.from_content({**content, "spec": {**content["spec"], "speed": 3}}, check_hash=False)
    with pytest.raises(DataError, match="unknown key 'speed'"):
        odd.backtest_spec  # noqa: B018
    bad = StoredBacktest.from_content({**content, "spec": {**content["spec"], "cadence_days": -1}}, check_hash=False)
    with pytest.raises(DataError, match="cadence_days"):
        bad.backtest_spec  # noqa: B018
    moved = StoredBacktest.from_content({**content, "policy": {**content["policy"], "confidence": 0.995}},
                                        check_hash=False)
    with pytest.raises(DataError, match="rebuilds to policy key"):
        moved.risk_policy  # noqa: B018

"""Proposal records: content-addressed, stored once, immutable, status in an append-only log."""

from __future__ import annotations

import ast
import hashlib
import json
import re
import warnings
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from conftest import bars

from riskparams.config import policy_from_dict
from riskparams.domain import SkippedAsset, canonical_json
from riskparams.exceptions import StoreError
from riskparams.ingest import ingest_frame
from riskparams.service import ProposalRun, fit_spec_for, propose
from riskparams.store import Store
from riskparams.store.records import (
    ProposalNotFoundError,
    append_status,
    get_proposal,
    list_proposals,
    proposal_history,
    save_proposal,
)
from riskparams.store.schema import MIGRATIONS

# ADV overrides of a liquid market (as the conftest fixture): the bars' own volume (about 1.5m a day) would take
# days to close out a tier at 10% participation, beyond the longest margin period of risk, and every asset would
# come out unmarginable
POLICY = policy_from_dict({"model": {"model": "ewma", "n_sims": 200},
                           "liquidity": {"adv_override": {"AAA": 2e9, "BBB": 1e9}}})




@pytest.fixture
def store() -> Store:
    s = Store.memory()
    ingest_frame(s, bars(400, seed=1), symbol="AAA", source="unit", origin="test")
    ingest_frame(s, bars(400, seed=2), symbol="BBB", source="unit", origin="test")
    return s


def run(store: Store, **kw: object) -> ProposalRun:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return propose(store, profile="perp", policy=POLICY, **kw)  # type: ignore[arg-type]


def test_schema_version_3_has_the_proposal_tables(store: Store) -> None:
    assert store.schema_version() == len(MIGRATIONS) >= 3
    tables = {r[0] for r in store.cursor().execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"proposals", "proposal_data", "proposal_status_log"} <= tables


def test_an_old_store_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for v, migration in enumerate(MIGRATIONS[:2], start=1):
        for stmt in migration:
            con.execute(stmt)
        con.execute("INSERT INTO schema_version VALUES (?, now())", [v])
    con.close()
    with Store(path) as s:
        assert s.schema_version() == len(MIGRATIONS)
        assert list_proposals(s) == []


def test_id_is_the_sha256_of_the_canonical_content(store: Store) -> None:
    r = run(store)
    content = r.proposal.content()
    assert r.id == hashlib.sha256(canonical_json(content).encode()).hexdigest()
    assert "created_at" not in content and "status" not in content and "id" not in content
    prov = content["provenance"]
    assert set(prov["packages"]) >= {"riskparams", "numpy", "pandas", "arch", "statsmodels", "duckdb"}
    assert content["policy"]["policy_key"] == POLICY.key()
    # the fitted spec is the policy's model with a term structure reaching the profile's longest horizon
    spec = fit_spec_for(POLICY, "perp")
    assert list(prov["model_specs"]) == [spec.key()]
    assert prov["model_specs"][spec.key()] == json.loads(canonical_json(spec.to_dict()))
    assert {k: v for k, v in spec.to_dict().items() if k != "horizon_hours"} == {
        k: v for k, v in POLICY.model.to_dict().items() if k != "horizon_hours"}
    assert all(a.status == "ok" and a.tiers for a in r.proposal.assets)  # type: ignore[union-attr]
    for a in r.proposal.assets:
        assert a.context is not None
        info = store.resolve_series(a.symbol)
        assert a.context.fingerprint == store.fingerprint(info.series_id)  # the exact rows used


def test_storing_the_same_content_twice_keeps_one_row(store: Store) -> None:
    first = run(store)
    assert first.stored is not None and first.stored.is_new and first.stored.status == "draft"
    second = run(store)
    assert second.stored is not None and not second.stored.is_new
    assert second.id == first.id and second.stored.created_at == first.stored.created_at
    counts = store.cursor().execute(
        "SELECT (SELECT count(*) FROM proposals), (SELECT count(*) FROM proposal_status_log), "
        "(SELECT count(*) FROM proposal_data)").fetchone()
    assert counts == (1, 1, 2)
    other = run(store, symbols=["AAA"])
    assert other.id != first.id and len(list_proposals(store)) == 2


def test_get_by_prefix_round_trips_the_content(store: Store) -> None:
    r = run(store)
    got = get_proposal(store, r.id[:10])
    assert got.id == r.id and got.content == json.loads(canonical_json(r.proposal.content()))
    assert got.profile == "perp" and got.status == "draft"
    assert got.to_dict()["assets"][0]["symbol"] == "AAA"
    rows = list_proposals(store)
    assert rows[0]["id"] == r.id and rows[0]["n_assets"] == 2 and rows[0]["status"] == "draft"
    with pytest.raises(ProposalNotFoundError, match="no stored proposal"):
        get_proposal(store, "abcdef0123")
    with pytest.raises(ProposalNotFoundError, match="at least 6 hex"):
        get_proposal(store, "abc")


def test_tampered_content_is_refused(store: Store) -> None:
    r = run(store)
    text = store.cursor().execute("SELECT content FROM proposals").fetchone()[0]  # type: ignore[index]
    assert '"status":"ok"' in text  # the edit below does change the stored content
    store.cursor().execute("UPDATE proposals SET content = ? WHERE proposal_id = ?",
                           [text.replace('"status":"ok"', '"status":"OK"', 1), r.id])
    with pytest.raises(StoreError, match="does not match its content hash"):
        get_proposal(store, r.id)
    with pytest.raises(StoreError, match="does not match its content hash"):
        save_proposal(store, r.proposal)


def test_status_is_an_append_only_log_apart_from_the_content(store: Store) -> None:
    r = run(store)
    before = store.cursor().execute("SELECT content FROM proposals").fetchone()
    assert append_status(store, r.id, "submitted", actor="alice", note="forum post") == "submitted"
    assert get_proposal(store, r.id).status == "submitted"
    assert [h["status"] for h in proposal_history(store, r.id)] == ["draft", "submitted"]
    assert store.cursor().execute("SELECT content FROM proposals").fetchone() == before
    with pytest.raises(Exception, match="status must be one of"):
        append_status(store, r.id, "merged")
    again = run(store)  # re-proposing the same content keeps the status history
    assert again.stored is not None and again.stored.status == "submitted"


def test_records_module_never_updates_or_deletes() -> None:
    """Immutability by construction: the only SQL verbs in records.py are SELECT and INSERT."""
    src = (Path(__file__).resolve().parents[1] / "riskparams" / "store" / "records.py").read_text()
    strings = [n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    sql = " ".join(" ".join(s.split()).upper() for s in strings)
    assert "INSERT INTO PROPOSALS" in sql and "SELECT CONTENT FROM PROPOSALS" in sql
    forbidden = [r"\bUPDATE\s+\w+\s+SET\b", r"\bDELETE\s+FROM\b", r"\bDROP\s+(TABLE|VIEW)\b", r"\bALTER\s+TABLE\b",
                 r"\bOR\s+REPLACE\b", r"\bDO\s+UPDATE\b", r"\bTRUNCATE\b"]
    assert [f for f in forbidden if re.search(f, sql)] == []


def test_a_proposal_with_only_skips_is_not_stored(store: Store) -> None:
    r = run(store)
    empty = replace(r.proposal, assets=(), skipped=(SkippedAsset(symbol="X", reason="r"),))
    stored = save_proposal(store, empty)  # the records layer stores what it is given ...
    assert stored.is_new
    short = Store.memory()
    ingest_frame(short, bars(2, seed=3), symbol="TINY", source="unit", origin="test")
    nothing = run(short)  # ... but the service does not store a proposal with no asset
    assert nothing.stored is None and nothing.proposal.assets == ()
    assert [s.symbol for s in nothing.proposal.skipped] == ["TINY"] and list_proposals(short) == []

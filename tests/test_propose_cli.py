"""`riskparams propose`: exit codes, JSON keys, text tables, one-line errors, skips, the fit cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli_fails as fails
from conftest import run_cli as run

from riskparams import service
from riskparams.cli import main
from riskparams.ingest import ingest_frame
from riskparams.store import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "riskparams" / "examples"
# ADV overrides of a liquid market: the bars' own volume (about 15m a day) would take days to close out a 1m tier
# at 10% participation, beyond the policy's longest margin period of risk (72h), and leave nothing to propose
FAST = """
[model]
model = "garch"
n_sims = 300

[liquidity.adv_override]
"BTC-SYN" = 2e9
"ETH-SYN" = 1e9
"""
TIER_KEYS = {"notional_floor", "notional_cap", "imf", "mmf", "max_leverage", "maintenance_deduction",
             "liquidation_penalty", "coverage"}


def bars(n: int, *, seed: int, start: str = "2021-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.standard_t(5, n) * 0.025))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame({
        "ts": pd.date_range(start, periods=n, freq="D", tz="UTC"),
        "open": open_, "high": np.maximum(open_, close) * 1.01, "low": np.minimum(open_, close) * 0.99,
        "close": close, "volume": rng.uniform(1e5, 2e5, n),
    })


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "p.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    with Store(path) as s:
        ingest_frame(s, bars(600, seed=1), symbol="BTC-SYN", source="unit", kind="perp", origin="test")
        ingest_frame(s, bars(600, seed=2), symbol="ETH-SYN", source="unit", kind="perp", origin="test")
        ingest_frame(s, bars(2, seed=3), symbol="NEW", source="unit", origin="test")  # too short to fit
    return path


@pytest.fixture
def fast_policy(tmp_path: Path) -> Path:
    p = tmp_path / "fast.toml"
    p.write_text(FAST)
    return p


def test_help_lists_propose(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "propose" in capsys.readouterr().out


def test_perp_json_has_the_documented_keys(db: Path, fast_policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), "--current",
                         str(EXAMPLES / "current_perp.csv"), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert {"id", "profile", "assets", "skipped", "status", "policy", "provenance"} <= set(d)
    assert d["profile"] == "perp" and d["status"] == "draft" and d["stored_now"] is True and len(d["id"]) == 64
    assert [a["symbol"] for a in d["assets"]] == ["BTC-SYN", "ETH-SYN"]
    for a in d["assets"]:
        assert {"symbol", "tiers", "current", "rationale"} <= set(a)
        assert a["tiers"] and all(TIER_KEYS <= set(t) for t in a["tiers"])
        assert a["current"]["tiers"] and isinstance(a["current"]["below_confidence"], bool)
        assert a["rationale"].startswith(a["symbol"] + ":")
    skipped = {s["symbol"]: s["reason"] for s in d["skipped"]}
    assert skipped["NEW"].startswith("fit failed") and "SOL-SYN" in skipped  # in the current file, not stored


def test_lending_json_and_text(db: Path, fast_policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "propose", "--profile", "lending", "--policy", str(fast_policy), "--symbols",
                       "btc-syn,ETH-SYN", "--current", str(EXAMPLES / "current_lending.csv"), "--json")
    assert code == 0
    d = json.loads(out)
    for a in d["assets"]:
        assert {"symbol", "ltv", "liquidation_threshold", "liquidation_bonus", "coverage", "current",
                "rationale"} <= set(a)
        assert 0 <= a["ltv"] < a["liquidation_threshold"] < 1
        assert a["liquidation_bonus_bps"] == 10000 + round(a["liquidation_bonus"] * 1e4)
    assert d["skipped"] == []  # LINK-SYN is in the file but was not asked for
    code, out, _ = run(capsys, "propose", "--profile", "lending", "--policy", str(fast_policy), "--symbols",
                       "BTC-SYN,ETH-SYN", "--current", str(EXAMPLES / "current_lending.csv"))
    assert code == 0
    assert f"proposal {d['id'][:12]} (lending, draft, already stored)" in out
    assert "liquidation_threshold" in out and "why: BTC-SYN:" in out and "coverage" in out


def test_text_tables_and_repeat_uses_the_cache(db: Path, fast_policy: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), "--symbols", "BTC-SYN")
    assert code == 0
    assert "stored now" in out and "max lev" in out and "MMF" in out and "why: BTC-SYN:" in out
    with Store(db) as s:
        n_fits = s.counts()["fit_cache"]

    def no_refit(*a: object, **k: object) -> None:
        raise AssertionError("refitted although the fit is cached")

    monkeypatch.setattr("riskparams.service.fit.fit_volatility", no_refit)  # looked up where fit_prices lives
    code, out2, _ = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), "--symbols", "BTC-SYN")
    assert code == 0 and "already stored" in out2
    with Store(db) as s:
        assert s.counts()["fit_cache"] == n_fits


def test_as_of_uses_earlier_bars_only(db: Path, fast_policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), "--symbols", "BTC-SYN",
                       "--as-of", "2022-06-30", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["as_of"] == "2022-06-30T00:00:00Z"
    assert d["assets"][0]["context"]["last_bar"] == "2022-06-30T00:00:00Z"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--symbols", "DOGE"], "no stored series for symbol 'DOGE'"),
        (["--symbols", ","], "--symbols needs at least one symbol"),
        (["--symbols", "NEW"], "no asset could be proposed (NEW: fit failed"),
        (["--current", str(EXAMPLES / "current_lending.csv")], "are those of a lending parameter file"),
        (["--as-of", "yesterday-ish"], "is not a date"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(db: Path, fast_policy: Path, capsys: pytest.CaptureFixture[str],
                                               args: list[str], fragment: str) -> None:
    code, out, err = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("riskparams: error: ") and fragment in err, err


def test_bad_policy_file_names_the_key_and_range(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[apc]\nbuffer_enabled = true\nbuffer = 0.1\n")
    code, _, err = run(capsys, "propose", "--profile", "perp", "--policy", str(bad))
    assert code == 2 and err.count("\n") == 1
    assert "bad.toml: apc.buffer must be in [0.25, 1], got 0.1" in err


def test_bad_current_file_names_row_and_column(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cur.csv"
    bad.write_text("symbol,notional_cap,max_leverage,maintenance_rate,unit\nBTC-SYN,1e6,20,0.2,fraction\n")
    code, _, err = run(capsys, "propose", "--profile", "perp", "--current", str(bad))
    assert code == 2 and err.count("\n") == 1
    assert "cur.csv: row 2, column 'maintenance_rate': value '0.2'" in err


def test_missing_profile_and_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RISKPARAMS_DB", str(tmp_path / "empty.duckdb"))
    with pytest.raises(SystemExit) as exc:
        main(["propose"])
    assert exc.value.code == 2
    capsys.readouterr()
    code, _, err = run(capsys, "propose", "--profile", "perp")
    assert code == 2 and "the store is empty" in err


def test_a_cached_fit_from_before_the_quantile_grid_is_refitted(db: Path, fast_policy: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "propose", "--profile", "lending", "--policy", str(fast_policy), "--symbols", "ETH-SYN",
                       "--json")
    assert code == 0
    first = json.loads(out)
    with Store(db) as s:  # make the cached entry look like one written by an older riskparams
        (payload, key) = s.cursor().execute("SELECT payload, spec_key FROM fit_cache").fetchone()  # type: ignore[misc]
        old = json.loads(payload)
        del old["horizon_quantiles"]
        s.cursor().execute("UPDATE fit_cache SET payload = ?, spec_key = ?", [json.dumps(old), key.split("|")[0]])
    code, out, _ = run(capsys, "propose", "--profile", "lending", "--policy", str(fast_policy), "--symbols", "ETH-SYN",
                       "--json")
    assert code == 0
    again = json.loads(out)
    assert again["assets"][0]["coverage"] == first["assets"][0]["coverage"] and again["id"] == first["id"]
    with Store(db) as s:  # the old entry was not read: a current-format fit was stored beside it
        assert s.counts()["fit_cache"] == 2


# ---------------------------------------------------------------------------------------------
# series selection, options, peers, sensitivity
# ---------------------------------------------------------------------------------------------


def test_freq_and_kind_pick_the_series_and_the_context_says_why(db: Path, fast_policy: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with Store(db) as s:  # a spot series beside the perp one
        ingest_frame(s, bars(600, seed=4), symbol="BTC-SYN", source="unit", kind="spot", origin="test")
    args = ("propose", "--profile", "perp", "--policy", str(fast_policy), "--symbols", "BTC-SYN", "--json")
    code, out, err = run(capsys, *args)
    assert code == 0, err
    ctx = json.loads(out)["assets"][0]["context"]
    assert (ctx["kind"], ctx["freq"]) == ("perp", "1d")  # perp prices preferred for perpetuals
    assert ctx["selection"].startswith("perp prices preferred for perpetuals")
    code, out, err = run(capsys, *args, "--freq", "1d", "--kind", "spot")
    assert code == 0, err
    d = json.loads(out)
    ctx = d["assets"][0]["context"]
    assert (ctx["kind"], ctx["freq"], ctx["source"]) == ("spot", "1d", "unit")
    assert ctx["selection"].startswith("asked for with --freq 1d and --kind spot")
    with Store(db) as s:
        spot = next(x for x in s.find_series("BTC-SYN") if x.kind == "spot")
        assert ctx["last_bar"] == spot.last.strftime("%Y-%m-%dT%H:%M:%SZ")
    # a kind that is not stored is one line
    assert "no 4h series stored" in fails(capsys, *args[:-1], "--freq", "4h")


def test_selection_reason_is_truthful_when_spot_is_asked_for(db: Path, fast_policy: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # a perp series of BTC-SYN is stored: spot prices were asked for, not a fallback for a missing perp series
    with Store(db) as s:
        ingest_frame(s, bars(600, seed=4), symbol="BTC-SYN", source="unit", kind="spot", origin="test")
    code, out, err = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), "--symbols", "BTC-SYN",
                         "--kind", "spot", "--json")
    assert code == 0, err
    selection = json.loads(out)["assets"][0]["context"]["selection"]
    assert "no perp series" not in selection, selection


def test_options_side_by_side_loosen_from_conservative_to_aggressive(db: Path, fast_policy: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), "--options",
                         "conservative,moderate,aggressive", "--json")
    assert code == 0, err
    d = json.loads(out)
    opts = {o["name"]: o for o in d["options"]}
    assert list(opts) == ["conservative", "moderate", "aggressive"]
    assert [o["name"] for o in d["options"] if o["recommended"]] == ["moderate"]  # the policy's recommended option
    for a in d["assets"]:
        tier1 = {}
        for name, o in opts.items():
            x = next(x for x in o["assets"] if x["symbol"] == a["symbol"])
            assert x["tiers"], (name, a["symbol"])
            tier1[name] = x["tiers"][0]["mmf"]
        assert tier1["conservative"] >= tier1["moderate"] >= tier1["aggressive"], (a["symbol"], tier1)
        assert tier1["conservative"] > tier1["aggressive"]
        # the proposal's own tiers are the recommended option's
        rec = next(x for x in opts["moderate"]["assets"] if x["symbol"] == a["symbol"])
        assert [t["mmf"] for t in rec["tiers"]] == [t["mmf"] for t in a["tiers"]]
    # without --options the list is empty
    code, out, _ = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), "--json")
    assert code == 0 and json.loads(out)["options"] == []


def test_unknown_option_and_debt_asset_on_perps_are_one_line(db: Path, fast_policy: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    base = ("propose", "--profile", "perp", "--policy", str(fast_policy))
    assert "unknown option 'bogus'" in fails(capsys, *base, "--options", "bogus")
    assert "--debt-asset applies to --profile lending only" in fails(capsys, *base, "--debt-asset", "USDC")
    with Store(db) as s:
        assert service.proposals(s) == []  # nothing was stored


def test_peers_file_adds_a_peer_comparison(db: Path, fast_policy: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    peers = tmp_path / "peers.csv"
    peers.write_text("venue,symbol,notional_cap,max_leverage,maintenance_rate\n"
                     "venuex,BTC-SYN,1000000,50,0.01\nvenuex,BTC-SYN,,20,0.025\n")
    code, out, err = run(capsys, "propose", "--profile", "perp", "--policy", str(fast_policy), "--peers", str(peers),
                         "--json")
    assert code == 0, err
    d = json.loads(out)
    btc = next(a for a in d["assets"] if a["symbol"] == "BTC-SYN")
    eth = next(a for a in d["assets"] if a["symbol"] == "ETH-SYN")
    assert not eth.get("peers")  # the file has no ETH-SYN table
    pe = btc["peers"]
    assert pe["venues"] == ["venuex"] and len(pe["rows"]) == len(btc["tiers"])
    for row, tier in zip(pe["rows"], btc["tiers"], strict=True):
        assert row["notional"] == tier["notional_floor"]
        assert row["proposed"] == {"max_leverage": tier["max_leverage"], "mmf": tier["mmf"]}
        # the peer's bracket holding the tier's floor: 50x / 1% below 1m, 20x / 2.5% from 1m
        want = {"max_leverage": 50.0, "maintenance_rate": 0.01} if row["notional"] < 1e6 else \
            {"max_leverage": 20.0, "maintenance_rate": 0.025}
        assert row["peers"]["venuex"] == want
    bad = tmp_path / "bad_peers.csv"
    bad.write_text("venue,symbol,notional_cap,max_leverage,maintenance_rate\nvenuex,BTC-SYN,,0.5,0.01\n")
    assert "bad_peers.csv" in fails(capsys, "propose", "--profile", "perp", "--peers", str(bad))


def test_sensitivity_on_a_store_without_a_cached_fit(db: Path, fast_policy: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # the first sensitivity run of a series fits it (and may cache the fit): no internal error
    code, out, err = run(capsys, "sensitivity", "BTC-SYN", "--policy", str(fast_policy), "--json")
    assert code == 0, err
    assert len(json.loads(out)["cells"]) == 8


def test_sensitivity_grid_is_monotone_in_horizon_and_confidence(db: Path, fast_policy: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from riskparams.config import load_policy

    with Store(db) as s:  # the fit cached through the service (the command opens the store read-only)
        service.sensitivity(s, "BTC-SYN", policy=load_policy(fast_policy))
    code, out, err = run(capsys, "sensitivity", "BTC-SYN", "--policy", str(fast_policy), "--horizons", "1,4,8,24",
                         "--confidence", "0.99,0.995", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["symbol"] == "BTC-SYN"
    cells = d["cells"]
    hs, qs = [1.0, 4.0, 8.0, 24.0], [0.99, 0.995]
    assert len(cells) == 8 and {(c["horizon_hours"], c["confidence"]) for c in cells} == {(h, q) for h in hs for q in qs}
    mmf = {(c["horizon_hours"], c["confidence"]): c["tier1_mmf"] for c in cells}
    assert all(0 < v < 1 for v in mmf.values())
    for q in qs:
        along = [mmf[h, q] for h in hs]
        assert along == sorted(along) and along[-1] > along[0], (q, along)
    for h in hs:
        assert mmf[h, 0.99] <= mmf[h, 0.995], h
    # the text form is a table with one row per horizon
    code, text, _ = run(capsys, "sensitivity", "BTC-SYN", "--policy", str(fast_policy), "--horizons", "1,4,8,24")
    assert code == 0 and text.startswith("BTC-SYN: tier-1 MMF") and "99.50%" in text


@pytest.mark.parametrize(("args", "fragment"), [
    (["--horizons", "a,b"], "--horizons: 'a' is not a number"),
    (["--horizons", ","], "--horizons needs at least one value"),
    (["--confidence", "0.5"], "confidence must be in [0.9, 0.9999]"),
    (["--horizons", "0"], "horizons must be hours in (0, 720]"),
])
def test_sensitivity_bad_grid_is_one_line(db: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                          fragment: str) -> None:
    assert fragment in fails(capsys, "sensitivity", "BTC-SYN", *args)

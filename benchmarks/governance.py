"""Benchmark of the shared store and the governance records: what a lease, a committee action and a full
``riskparams verify`` cost.

Usage::

    python benchmarks/governance.py [--proposals N] [--repeats R] [--json]

What it does
------------
* **Store.** A fresh DuckDB file with the demo universe. ``list_series`` timed three ways: on a pinned
  connection (the file kept open, as before the store was shared), with a lease that lingers (a burst of
  operations opens the file once) and with ``linger=0`` (every operation opens and closes the file: the
  worst case, what another process pays while the dashboard is idle).
* **Actions.** ``N`` proposals (default 40) taken through review, two signed sign-offs (Ed25519 and EIP-712)
  and a signed approval; the median seconds per action, and the share of it spent signing.
* **Verify.** ``riskparams verify`` of the whole store (every event re-hashed, every signature checked,
  the workflow replayed) and of one proposal's lineage; events per second.

Medians of ``R`` repeats (default 5) where a figure is repeated; the machine is shared, so the load average
is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from riskparams import governance as gov
from riskparams import signing
from riskparams.ingest import load_demo
from riskparams.store import Store
from riskparams.store.records import save_proposal
from riskparams.verify import verify


def _median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _proposal(store: Store) -> Any:
    from riskparams.config import policy_from_dict
    from riskparams.service import propose

    policy = policy_from_dict({"model": {"model": "ewma", "n_sims": 200}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return propose(store, profile="perp", policy=policy, symbols=["BTC-SYN"], save=False).proposal


def run(n: int, repeats: int) -> dict[str, Any]:
    keys = {"ann": signing.new_key("eip712"), "ben": signing.new_key("ed25519"), "cat": signing.new_key("eip712")}
    committee = gov.committee_from_dict({"quorum": 2, "require_signatures": True, "members": [
        {"name": "Ann", "handle": "ann", "role": "chair", "address": keys["ann"].public},
        {"name": "Ben", "handle": "ben", "role": "member", "ed25519": keys["ben"].public},
        {"name": "Cat", "handle": "cat", "role": "member", "address": keys["cat"].public},
    ]}, source="bench")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        store = Store(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_demo(store)
        base = _proposal(store)
        store.cursor()  # pin
        pinned = _median_time(store.list_series, repeats * 10)
        store.release()
        lingering = _median_time(store.list_series, repeats * 10)
        store.release()  # nobody in this process holds the file: every open below is a real open
        cold = Store(path, linger=0.0)
        reopen = _median_time(cold.list_series, repeats * 10)
        cold.close()

        per_action: dict[str, list[float]] = {"submit": [], "sign_off": [], "approve": []}
        sign_share = []
        ids = []
        for k in range(n):
            # distinct content (so a distinct id) per copy: the provenance names the copy
            proposal = replace(base, provenance={**base.provenance, "benchmark_copy": k})
            pid = save_proposal(store, proposal).id
            ids.append(pid)
            t0 = time.perf_counter()
            gov.submit_for_review(store, pid, "ann", committee=committee)
            per_action["submit"].append(time.perf_counter() - t0)
            for who in ("ben", "cat"):
                t0 = time.perf_counter()
                gov.sign_off(store, pid, who, key=keys[who])
                per_action["sign_off"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            gov.approve(store, pid, "ann", key=keys["ann"])
            per_action["approve"].append(time.perf_counter() - t0)
            msg = gov.action_message(pid, "signed_off", committee.member("ben"), committee.hash, timestamp=1)
            t0 = time.perf_counter()
            signing.sign(msg, keys["cat"])
            sign_share.append(time.perf_counter() - t0)
        whole = verify(store)
        events = whole.checked.get("events", 0)
        t_all = _median_time(lambda: verify(store), repeats)
        t_one = _median_time(lambda: verify(store, ids[0]), repeats)
        store.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "proposals": len(ids), "events": events, "verified_ok": whole.ok,
        "read_pinned_ms": pinned * 1e3, "read_lease_ms": lingering * 1e3, "read_reopen_ms": reopen * 1e3,
        "submit_ms": statistics.median(per_action["submit"]) * 1e3,
        "sign_off_signed_ms": statistics.median(per_action["sign_off"]) * 1e3,
        "approve_signed_ms": statistics.median(per_action["approve"]) * 1e3,
        "eip712_sign_ms": statistics.median(sign_share) * 1e3,
        "verify_all_s": t_all, "verify_one_s": t_one, "verify_events_per_s": events / t_all if t_all else None,
        "load_avg": load, "cores": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = run(args.proposals, args.repeats)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"store read (list_series): pinned {out['read_pinned_ms']:.2f} ms, lease {out['read_lease_ms']:.2f} ms, "
          f"reopen every time {out['read_reopen_ms']:.2f} ms")
    print(f"actions ({out['proposals']} proposals): submit {out['submit_ms']:.1f} ms, signed sign-off "
          f"{out['sign_off_signed_ms']:.1f} ms, signed approval {out['approve_signed_ms']:.1f} ms (EIP-712 signing "
          f"alone {out['eip712_sign_ms']:.2f} ms)")
    print(f"verify: whole store {out['verify_all_s']:.3f} s ({out['events']} events, "
          f"{out['verify_events_per_s']:.0f} events/s), one lineage {out['verify_one_s']:.3f} s; "
          f"ok={out['verified_ok']}")
    print(f"load average {out['load_avg']:.2f} on {out['cores']} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

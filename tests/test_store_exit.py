"""A file store's idle connection is closed by a daemon timer (``linger``); at interpreter exit the timer must not
fire: a daemon thread unwound inside DuckDB's ``close`` during shutdown aborted the whole process ("terminate
called after throwing an instance of ''", exit 134, found with gdb after the README walk-through test). The
exit handler cancels pending timers and closes idle connections on the exiting thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from riskparams.store import Store, core


def test_exit_handler_cancels_the_timer_and_closes_the_idle_connection(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb", linger=30.0)
    store.schema_version()  # a lease ends: the connection lingers with a timer pending
    timer = store._timer
    assert store.is_open and timer is not None and timer.is_alive()
    core._release_stores_at_exit()
    assert not store.is_open and store._timer is None
    assert not timer.is_alive()  # cancelled and joined, never fired
    store.schema_version()  # the store still works after (it reopens)
    store.close()


def test_a_process_that_exits_while_a_store_lingers_exits_cleanly(tmp_path: Path) -> None:
    code = (
        "import sys, riskparams\n"
        "from riskparams.store import Store\n"
        f"s = Store({str(tmp_path / 'p.duckdb')!r}, linger=0.01)\n"
        "for _ in range(50):\n"
        "    s.schema_version()\n"  # leases end one after another, each arming a 10 ms timer
        "sys.exit(0)\n"
    )
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-500:]
        assert "terminate called" not in out.stderr

"""The README's two commands are what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def _commands(block: str) -> list[str]:
    return [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_readme_has_the_two_fresh_machine_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = _bash_blocks(readme)
    serve = [c for b in blocks for c in _commands(b) if c.endswith("riskparams serve")]
    tests = [c for b in blocks for c in _commands(b) if c.endswith("-m pytest")]
    assert len(serve) == 1 and len(tests) == 1
    for cmd in (serve[0], tests[0]):
        assert "python3 -m venv .venv && .venv/bin/pip install" in cmd
    assert "apt-get install" in tests[0] and "chromium" in tests[0], "the browser test needs chromium"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    test_cmd = next(c for b in _bash_blocks(readme) for c in _commands(b) if c.endswith("-m pytest"))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in [ln.strip() for ln in ci.splitlines()]
    assert "rm -rf .venv" in ci, "CI must start from a fresh virtual environment"
    assert "ruff check" in ci and "mypy" in ci

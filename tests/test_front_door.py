"""The front door (``riskparams/__init__.py``): cheap to import, every name documented with an example that
runs, and the README's "Python API" walk-through run as it is written."""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import riskparams
from riskparams import exceptions

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("duckdb", "arch", "statsmodels", "numba", "plotly", "streamlit", "scipy.stats")
"""What ``import riskparams`` must not load: each costs seconds, and a page or a notebook may not need it."""

NAMES = sorted(n for n in riskparams.__all__ if not n.startswith("__"))

OWED: dict[str, str] = {}
"""Names whose Examples section is still owed (none): an entry marks its tests as a strict xfail."""


def _param(name: str) -> object:
    if name in OWED:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=f"Examples owed in {OWED[name]}"))
    return name


def _heavy_loaded(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy modules it left in ``sys.modules``."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return [m for m in out.strip().split(",") if m]


# -------------------------------------------------------------------------------------------------
# cheap to import
# -------------------------------------------------------------------------------------------------


def test_import_riskparams_loads_no_heavy_dependency() -> None:
    assert _heavy_loaded("import riskparams") == []


def test_store_proposal_and_policy_names_load_no_heavy_numerics() -> None:
    """Touching the store, proposal and policy names loads their modules only: no fit engine, no charts."""
    loaded = _heavy_loaded("import riskparams as rp\nrp.open_store, rp.propose, rp.Proposal, rp.RiskPolicy, rp.workflow")
    assert [m for m in loaded if m != "duckdb"] == []


def test_names_load_on_first_use_and_are_then_kept() -> None:
    code = ("import sys, riskparams as rp\n"
            "assert 'riskparams.service' not in sys.modules\n"
            "f = rp.open_store\n"
            "assert 'riskparams.service' in sys.modules and rp.__dict__['open_store'] is f\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# -------------------------------------------------------------------------------------------------
# the names
# -------------------------------------------------------------------------------------------------


def test_all_lists_the_lazy_names_the_exceptions_and_the_version() -> None:
    tree = {n for n, v in vars(exceptions).items()
            if isinstance(v, type) and issubclass(v, Exception | Warning) and v.__module__ == exceptions.__name__}
    assert set(riskparams.__all__) == set(riskparams._LAZY) | tree | {"__version__"}
    assert len(riskparams.__all__) == len(set(riskparams.__all__))
    assert set(riskparams.__all__) <= set(dir(riskparams))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'riskparams' has no attribute 'fit_series'"):
        riskparams.fit_series  # noqa: B018
    assert not hasattr(riskparams, "nothing_here")


def test_verify_is_the_function_whatever_the_import_order() -> None:
    """``riskparams.verify`` is also a module; loading it first must not replace the front-door function,
    and the subpackages ``backtest`` and ``ingest`` stay modules."""
    code = ("import types, riskparams.verify, riskparams as rp\n"
            "from riskparams.verify import Verification, verify\n"
            "assert rp.verify is verify and callable(rp.verify)\n"
            "from riskparams import verify as v, backtest, ingest\n"
            "assert v is verify\n"
            "assert isinstance(backtest, types.ModuleType) and isinstance(ingest, types.ModuleType)\n"
            "assert rp.backtest_policy.__module__ == 'riskparams.service.backtests'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_every_name_has_a_numpydoc_examples_section(name: str) -> None:
    doc = getattr(riskparams, name).__doc__ or ""
    assert re.search(r"^\s*Examples\n\s*-{8}\n", doc, flags=re.M), f"riskparams.{name} has no Examples section"


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_every_example_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Examples of each name, run as doctests (each in a fresh namespace, files in a temporary folder)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("RISKPARAMS_COMMITTEE", raising=False)
    obj = getattr(riskparams, name)
    tests = doctest.DocTestFinder(recurse=False).find(obj, f"riskparams.{name}", module=False, globs={})
    examples = sum(len(t.examples) for t in tests)
    assert examples, f"riskparams.{name} has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    for t in tests:
        runner.run(t, out=out.write)
    assert runner.failures == 0, out.getvalue()


# -------------------------------------------------------------------------------------------------
# the README walk-through
# -------------------------------------------------------------------------------------------------


def _python_api_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Python API\n(.*?)(?=^## )", readme, flags=re.S | re.M)
    assert m, "README.md has no '## Python API' section"
    return m.group(1)


def test_readme_python_api_walkthrough_runs_and_prints_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = _python_api_section()
    code_blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    output_blocks = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    assert len(code_blocks) == 1 and len(output_blocks) == 1, "one walk-through and the output it prints"
    code, expected = code_blocks[0], output_blocks[0]
    assert 15 <= len([ln for ln in code.splitlines() if ln.strip()]) <= 40, "notebook-sized"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("RISKPARAMS_COMMITTEE", raising=False)
    ns: dict[str, object] = {"__name__": "__readme__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md (Python API)", "exec"), ns)
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert checker.check_output(expected, printed.getvalue(), flags), checker.output_difference(
        doctest.Example("", expected), printed.getvalue(), flags)

    # what the text around the code says it did
    assert isinstance(ns["store"], object) and Path(str(ns["folder"])).parent == tmp_path
    proposal = ns["proposal"]
    assert isinstance(proposal, riskparams.Proposal)
    assert [a.symbol for a in proposal.assets] == ["BTC-SYN", "ETH-SYN"]
    assert all(a.tiers and a.rationale.startswith(a.symbol) for a in proposal.assets)
    assert ns["run"].stored is not None and ns["run"].stored.status == "draft"  # type: ignore[attr-defined]
    report = ns["bt"].report  # type: ignore[attr-defined]
    assert isinstance(report, riskparams.BacktestReport)
    assert [a.symbol for a in report.assets] == ["BTC-SYN"]
    assert ns["check"].ok  # type: ignore[attr-defined]
    md = ns["md"]
    assert md.path == Path(str(ns["folder"])) / md.filename and md.path.is_file()  # type: ignore[attr-defined]
    text = md.path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    assert text.startswith("# [ARFC]") and "DRAFT" in text and "BTC-SYN" in text

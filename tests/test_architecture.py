"""Architecture rules: one door per heavy dependency, thin pages, parameterised SQL.

See ../shared/guides/architecture.md ("One door per heavy dependency").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "riskparams"

# dependency -> the only module (file or package folder, relative to riskparams/) allowed to import it
DOORS = {
    "duckdb": "store",
    "arch": "volatility.py",
    "statsmodels": "diagnostics.py",
    "plotly": "charts.py",
    "streamlit": "ui.py",
    "ccxt": "ingest/exchange.py",
    "numba": "fastgarch",
    "eth_account": "signing.py",
    "cryptography": "signing.py",
    "dask": "executors.py",
    "distributed": "executors.py",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _allowed(rel: Path, door: str) -> bool:
    return str(rel) == door or str(rel).startswith(door.rstrip("/") + "/")


@pytest.mark.parametrize("dependency", sorted(DOORS))
def test_heavy_dependency_has_one_door(dependency: str) -> None:
    door = DOORS[dependency]
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if dependency in _imports(path) and not _allowed(rel, door):
            offenders.append(str(rel))
    assert offenders == [], f"{dependency} may only be imported by riskparams/{door}"


def test_doors_exist() -> None:
    for door in DOORS.values():
        assert (PACKAGE / door).exists(), door


def test_pages_import_no_heavy_dependency_but_streamlit() -> None:
    pages = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    for page in pages:
        imported = _imports(page)
        banned = {"duckdb", "arch", "statsmodels", "ccxt", "numpy", "scipy", "pandas", "plotly", "numba"} & imported
        assert not banned, f"{page.name} imports {banned}: pages call the library, no math or SQL"


def test_library_works_without_streamlit_imported() -> None:
    import subprocess
    import sys

    code = (
        "import sys, riskparams, riskparams.service, riskparams.cli, riskparams.ingest, riskparams.quality;"
        "assert 'streamlit' not in sys.modules, 'streamlit imported by the library'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _fstring_sql_calls(path: Path) -> list[tuple[int, bool]]:
    """(line, reviewed) for every ``.execute(f"...")`` call in a file."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out = []
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "execute" or not node.args or not isinstance(node.args[0], ast.JoinedStr):
            continue
        values = [v.value for v in node.args[0].values if isinstance(v, ast.FormattedValue)]
        constants_only = all(isinstance(v, ast.Name) and v.id.isupper() for v in values)
        end = node.end_lineno or node.lineno
        noted = any("noqa: S608" in ln for ln in lines[node.lineno - 1: end])
        out.append((node.lineno, constants_only or noted))
    return out


def test_sql_with_fstrings_only_interpolates_constants() -> None:
    """SQL built with f-strings may only interpolate module constants, or carry a reviewed
    ``# noqa: S608`` note (identifiers from a file header, quoted; never values: those use ``?``)."""
    calls = [(p.name, line, ok) for p in sorted(PACKAGE.rglob("*.py")) for line, ok in _fstring_sql_calls(p)]
    assert calls, "expected the store to build some SQL"
    unreviewed = [f"{name}:{line}" for name, line, ok in calls if not ok]
    assert unreviewed == []


def test_pages_start_without_the_heavy_numerics() -> None:
    """The dashboard's glue imports neither scipy.stats, statsmodels, arch nor numba: they load on first use,
    so the first page renders fast (see benchmarks/dashboard.py)."""
    import subprocess
    import sys

    code = (
        "import sys, riskparams.ui, riskparams.views, riskparams.service;"
        "heavy = [m for m in ('scipy.stats', 'statsmodels', 'arch', 'numba') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _json_encoder_calls(path: Path) -> list[int]:
    """Lines calling ``json.dumps`` / ``json.dump`` (or the names imported from json)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "json"
                for a in n.names if a.name in ("dump", "dumps", "JSONEncoder")}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if (isinstance(f, ast.Attribute) and f.attr in ("dump", "dumps", "JSONEncoder") and isinstance(f.value, ast.Name)
                and f.value.id == "json") or (isinstance(f, ast.Name) and f.id in imported):
            out.append(node.lineno)
    return out


def test_one_json_encoder() -> None:
    """Every JSON text riskparams writes (hashed, stored, exported or printed) comes from riskparams/jsonio.py,
    so canonical form, NaN handling, float cleaning and times are the same everywhere."""
    calls = {str(p.relative_to(PACKAGE)): _json_encoder_calls(p) for p in sorted(PACKAGE.rglob("*.py"))}
    assert calls.pop("jsonio.py"), "the encoder module calls json.dumps"
    assert {name: lines for name, lines in calls.items() if lines} == {}


def test_one_float_cleaning_and_one_time_format() -> None:
    """No module defines its own JSON float cleaning (``x if isfinite(x) else None``) or writes ISO times with a
    hand-made ``strftime(...Z)`` for JSON: riskparams.jsonio.clean_float and iso_z (store/staging.py's date-only
    display form is the one reviewed exception)."""
    cleaning, times = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if rel == "jsonio.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"return \w+ if (math|np)\.isfinite\(\w+\) else None", text) or "float(x) if math.isfinite(x) else None" in text:
            cleaning.append(rel)
        if '"%Y-%m-%dT%H:%M:%SZ"' in text and rel != "store/staging.py":
            times.append(rel)
    assert cleaning == [] and times == []


def test_one_half_life() -> None:
    """One half-life of a volatility shock (riskparams.diagnostics.half_life); the Volatility page uses it."""
    from riskparams import diagnostics, views

    assert views.half_life is diagnostics.half_life
    defs = [f"{p.relative_to(PACKAGE)}:{n.lineno}" for p in sorted(PACKAGE.rglob("*.py"))
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(n, ast.FunctionDef) and "half_life" in n.name]
    assert [d.split(":")[0] for d in defs] == ["diagnostics.py"], defs

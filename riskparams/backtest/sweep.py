"""Policy sweeps: many variants of one policy backtested walk-forward on the same assets, the fits shared, and
the efficient frontier of capital (average margin) against bad debt. Part of :mod:`riskparams.backtest`;
pure (arrays in, numbers out: the service reads the store and stores the report).

A **grid** (:func:`parse_grid`, ``KEY=V1,V2`` per policy key, any key :func:`riskparams.config.policy_with`
takes: ``confidence``, ``horizon_hours``, ``mpor.*``, ``measure``, ``apc.*``, ``guardrails.*``, ...) spans
variants: the cartesian product of its axes applied to the base policy, in order (the last key varies
fastest). Each variant is replayed exactly as :func:`~riskparams.backtest.run_backtest` replays a policy
(walk-forward, no look-ahead; the same preparation, estimates and evaluation functions).

Shared work
-----------
A replay has three costs: the compiled walk-forward of the volatility model (every bar), the volatility
estimate at each decision (the fitted law's term structure: horizon variances and three quantile grids per
stored horizon) and the policy math at each decision (tiers, guardrails) with the evaluation of the path. A
sweep shares the first two and slims the third:

* **fits**: they depend on the returns, the model section of the policy (``model.*``) and the refit schedule
  -- not on the confidence, the measure, the margin period of risk, the tiers, anti-procyclicality or
  guardrails. Variants are grouped by their model section; **one task is a chunk of assets x one model
  section** (:class:`SweepTask`): inside it each distinct ``(asset, model, window, first and last return)``
  is fitted once (:func:`run_task` counts them, ``fits``).
* **estimates**: replays whose estimates are equal share them (the same policy model and headline horizon:
  APC switches, guardrails, tiers, options); replays whose fitted laws and term structures are equal share
  those and each makes only its headline VaR/ES (another confidence on the same quantile grid -- 99 %, 99.5 %
  and 99.9 % are -- or another margin period within the term);
  :meth:`~riskparams.backtest.estimates._Estimates.keys` says which. Tail measures and model-risk bands are
  remembered per term structure, so variants asking the same question of the same estimate compute it once.
* **lean replays**: a variant's proposals are made without their narrative (rationale, assessment of the
  tiers in force, tier coverage, open-interest cap), the counterfactual without the dead-band and the
  live-horizon tier 1, none of which a sweep reports; every parameter, guardrail and number it reports is
  the full replay's.

The tests check that every variant's numbers equal an independent backtest's, that shared estimates equal
unshared ones and that a lean replay's parameter path is the full replay's.

Tasks are pure functions of arrays: the caller reads the store, fingerprints every series and ships
:class:`~riskparams.backtest.AssetData` frames and policy dictionaries; a task result is a small JSON-safe
mapping. Each task has a **content key** (SHA-256 of its inputs' fingerprints, policies, spec and the
riskparams version): a rerun finds finished tasks in the in-memory memo or in ``cache_dir`` (one
``<key>.json`` per task) and skips them. :mod:`riskparams.executors` runs the rest anywhere.

Per variant (all assets pooled): ``avg_margin`` the mean over assets of the time-average tier-1 MMF
(lending: the room ``1 - LT (1 + LB)``), fraction; ``exceptions``, ``expected``, ``n`` summed over assets
(headline non-overlapping samples) and ``kupiec_p`` Kupiec's test of the pooled count at ``1 - q``;
``bad_debt`` (quote currency) and ``liquidations`` summed over assets (the default synthetic population);
``changes_per_year`` the mean over assets of parameter changes per year of the period. The **frontier** is
the Pareto set on (``avg_margin``, ``bad_debt``), both minimised: variants no other variant beats on one and
matches or beats on the other (:func:`pareto_front`).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from riskparams import fastgarch
from riskparams.backtest.estimates import _Estimates
from riskparams.backtest.evaluate import _kupiec_at
from riskparams.backtest.params import _PerpSet
from riskparams.backtest.prepare import _prepare, _Prepared
from riskparams.backtest.results import AssetData
from riskparams.backtest.spec import BacktestSpec, Engine
from riskparams.config import RiskPolicy, policy_differences, policy_from_dict, policy_with
from riskparams.domain import CurrentLending, CurrentPerp, Profile
from riskparams.exceptions import DataError, PolicyError, RiskParamsError
from riskparams.jsonio import canonical_json, clean_float, content_id
from riskparams.returns import data_fingerprint, hours_per_bar
from riskparams.sweep_content import (
    SWEEP_FORMAT,
    SweepGrid,
    SweepVariant,
    frontier_of,
    sweep_content,
)
from riskparams.volatility import ModelName
from riskparams.volatility_fast import fast_dist, fast_models

DEFAULT_CHUNK = 8
"""Assets per task."""


# --------------------------------------------------------------------------------------------- the grid


def _value(text: str) -> Any:
    """A grid value from text: JSON number/boolean/null, else the text itself (``'es'``, ``'gjr'``)."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    try:
        v = json.loads(t)
    except ValueError:
        return t
    return v if isinstance(v, int | float | bool) and not isinstance(v, str) else t



def parse_grid(items: Sequence[str]) -> SweepGrid:
    """A grid from ``KEY=V1,V2,...`` strings (the CLI's repeated ``--grid``)."""
    axes = []
    for raw in items:
        text = str(raw)
        key, sep, vals = text.partition("=")
        if not sep or not key.strip() or not vals.strip():
            raise PolicyError(f"--grid {text[:80]!r} must be KEY=V1,V2,... (one policy key, values separated by "
                              "commas)")
        values = tuple(_value(v) for v in vals.split(",") if v.strip())
        axes.append((key.strip(), values))
    return SweepGrid(axes=tuple(axes))


def grid_policies(base: RiskPolicy, grid: SweepGrid) -> list[tuple[dict[str, Any], RiskPolicy]]:
    """``(changes, policy)`` per variant; a bad key or value is one sentence naming it and the variant."""
    out = []
    for ch in grid.changes():
        try:
            out.append((ch, policy_with(base, ch)))
        except PolicyError as exc:
            raise PolicyError(f"grid variant {canonical_json(ch)}: {exc}") from None
    return out


# --------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SweepTask:
    """One unit of work: a chunk of assets x the variants sharing one model section (picklable, pure data).

    Attributes
    ----------
    key : str
        Content key (SHA-256 hex) of everything below and the riskparams version.
    assets : tuple of AssetData
        Price frames with their fingerprints.
    variants : tuple of (int, dict)
        Variant index and policy dictionary (:meth:`RiskPolicy.to_dict`).
    spec : BacktestSpec
    current : dict
        Upper-case symbol -> parameters in force at the start (the replay's first guardrails).
    """

    key: str
    assets: tuple[AssetData, ...]
    variants: tuple[tuple[int, dict[str, Any]], ...]
    spec: BacktestSpec
    current: dict[str, CurrentPerp | CurrentLending] = field(default_factory=dict)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("riskparams")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source checkout without install
        return "unknown"


def _task_key(assets: Sequence[AssetData], variants: Sequence[tuple[int, dict[str, Any]]], spec: BacktestSpec,
              current: Mapping[str, Any]) -> str:
    return content_id({
        "format": SWEEP_FORMAT, "riskparams": _version(),
        "assets": [[a.symbol, a.freq, a.fingerprint] for a in assets],
        "variants": [[i, d] for i, d in variants], "spec": spec.to_dict(),
        "current": {k: repr(v) for k, v in sorted(current.items())},
    })


_FIT_LOCK = threading.Lock()


def _fits_for(prepared: Sequence[_Prepared], policies: Sequence[RiskPolicy], spec: BacktestSpec,
              ) -> tuple[list[dict[ModelName, fastgarch.WalkForwardResult] | None], int]:
    """The fast engine's walk-forwards each replay needs, every distinct one fitted once; (runs per replay,
    number of walk-forwards run). ``prepared[j]`` is replayed under ``policies[j]``."""
    out: list[dict[ModelName, fastgarch.WalkForwardResult] | None] = [None] * len(prepared)
    if spec.engine is not Engine.FAST:
        return out, 0
    need: dict[tuple[Any, ...], list[tuple[int, ModelName]]] = {}
    rows: dict[tuple[Any, ...], npt.NDArray[np.float64]] = {}
    for j, (p, pol) in enumerate(zip(prepared, policies, strict=True)):
        if pol.model.model is ModelName.EWMA:
            continue
        dist, _ = fast_dist(pol.model)
        k0, k1 = int(p.nk[p.t0]) - p.window, int(p.nk[p.t1])
        for model in fast_models(pol.model, p.term_k):
            key = (p.data.symbol, model.value, dist.value, pol.model.mean.value, p.window, k0, k1)
            need.setdefault(key, []).append((j, model))
            rows[key] = p.r[k0:k1]
    # one compiled call per (model, dist, mean, window): all assets at once (numba threads across assets)
    batches: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for key in need:
        batches.setdefault(key[1:5], []).append(key)
    for (model_s, dist_s, mean_s, w), keys in batches.items():
        with _FIT_LOCK:  # one compiled parallel launch at a time per process (numba's workqueue layer needs it)
            res = fastgarch.walk_forward_many(
                [np.ascontiguousarray(rows[k]) for k in keys], window=w, model=ModelName(model_s), dist=dist_s,
                mean=mean_s, refit_every=spec.refit_every, horizon_bars=1, backend="threads")
        for k, r in zip(keys, res, strict=True):
            for j, model in need[k]:
                runs = out[j]
                if runs is None:
                    runs = out[j] = {}
                runs[model] = r
    # each replay's runs in the order of fast_models (the auto choice ranks ties by it)
    for j, (p, pol) in enumerate(zip(prepared, policies, strict=True)):
        runs = out[j]
        if runs is not None:
            out[j] = {m: runs[m] for m in fast_models(pol.model, p.term_k)}
    return out, len(need)


def _summary(ab: Any) -> dict[str, Any]:
    s = ab.sets[0]
    st = s.coverage.non_overlapping
    years = len(ab.dates) * float(hours_per_bar(ab.freq)) / 8766.0
    last = s.versions[-1] if s.versions else None
    tiers = None
    if isinstance(last, _PerpSet) and not last.frozen:  # the tier table in force at the end (book VaR)
        tiers = [{"notional_floor": t.notional_floor, "notional_cap": t.notional_cap, "max_leverage": t.max_leverage,
                  "maintenance_rate": t.maintenance_rate, "liquidation_penalty": t.liquidation_penalty}
                 for t in last.to_current(ab.symbol).tiers]
    return {
        "n": int(st.n), "exceptions": int(st.exceptions), "expected": clean_float(st.expected),
        "avg_margin": clean_float(s.capital.avg_margin), "bad_debt": clean_float(s.liquidation.bad_debt),
        "liquidations": int(s.liquidation.liquidations), "changes": int(s.capital.changes),
        "years": clean_float(years), "final_tiers": tiers,
    }


def run_task(task: SweepTask) -> dict[str, Any]:
    """Run one task (a pure function of its arrays; opens no store): prepare every (asset, variant), fit each
    distinct walk-forward once, replay every variant.

    Returns
    -------
    dict
        ``key``, ``fits`` (walk-forwards run), ``rows`` (one per variant and asset: ``variant, symbol, n,
        exceptions, expected, avg_margin, bad_debt, liquidations, changes, years``) and ``skipped``
        (``variant, symbol, reason``). JSON-safe.
    """
    from riskparams.backtest.replay import quiet
    from riskparams.backtest.run import _evaluate_asset

    spec = task.spec
    policies = [(i, policy_from_dict(d)) for i, d in task.variants]
    jobs: list[tuple[int, _Prepared, RiskPolicy]] = []
    skipped: list[dict[str, Any]] = []
    for a in task.assets:
        for i, pol in policies:
            try:
                jobs.append((i, _prepare(a, pol, spec), pol))
            except RiskParamsError as exc:
                skipped.append({"variant": i, "symbol": a.symbol.upper(), "reason": str(exc)})
    fits, n_fits = _fits_for([p for _i, p, _pol in jobs], [pol for _i, _p, pol in jobs], spec)
    rows = []
    full: dict[tuple[Any, ...], _Estimates] = {}  # replays making the same estimates share them,
    laws: dict[tuple[Any, ...], _Estimates] = {}  # those with the same fitted laws share the laws
    for (i, p, pol), fast in zip(jobs, fits, strict=True):
        sym = p.data.symbol.upper()
        if full and next(iter(full))[0] != p.data.symbol:  # jobs come asset by asset: keep one asset's estimates
            full.clear()
            laws.clear()
        fk, lk = _Estimates.keys(p, p.policy, spec)
        est = full.get(fk)
        if est is None:
            base = laws.get(lk)
            est = full[fk] = (base.sharing(p, p.policy) if base is not None
                              else _Estimates(p, p.policy, spec, fast))
            laws.setdefault(lk, est)
        try:
            ab = _evaluate_asset(p, pol, spec, (), task.current.get(sym), fast, quiet, est, lean=True)
        except RiskParamsError as exc:
            skipped.append({"variant": i, "symbol": sym, "reason": str(exc)})
            continue
        rows.append({"variant": i, "symbol": sym, **_summary(ab)})
    rows.sort(key=lambda r: (r["variant"], r["symbol"]))
    skipped.sort(key=lambda r: (r["variant"], r["symbol"]))
    return {"key": task.key, "fits": n_fits, "rows": rows, "skipped": skipped}


def plan_tasks(data: Sequence[AssetData], variants: Sequence[RiskPolicy], spec: BacktestSpec, *,
               current: Mapping[str, CurrentPerp | CurrentLending] | None = None,
               chunk: int = DEFAULT_CHUNK) -> list[SweepTask]:
    """Tasks of a sweep: variants grouped by model section, assets in chunks of ``chunk`` (sorted by symbol);
    series without a fingerprint are fingerprinted here."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= 10_000:
        raise PolicyError(f"chunk must be an integer from 1 to 10,000 assets, got {chunk!r}")
    assets = sorted((a if a.fingerprint else AssetData(
        symbol=a.symbol, freq=a.freq, prices=a.prices, source=a.source, kind=a.kind, synthetic=a.synthetic,
        fingerprint=data_fingerprint(a.prices)) for a in data), key=lambda a: a.symbol.upper())
    cur = {k.upper(): v for k, v in (current or {}).items()}
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, pol in enumerate(variants):
        d = pol.to_dict()
        groups.setdefault(canonical_json(d["model"]), []).append((i, d))
    tasks = []
    for members in groups.values():
        for c in range(0, len(assets), chunk):
            part = tuple(assets[c: c + chunk])
            cur_part = {a.symbol.upper(): cur[a.symbol.upper()] for a in part if a.symbol.upper() in cur}
            tasks.append(SweepTask(key=_task_key(part, members, spec, cur_part), assets=part,
                                   variants=tuple(members), spec=spec, current=cur_part))
    return tasks


# --------------------------------------------------------------------------------------------- cache


_MEMO: dict[str, dict[str, Any]] = {}
_MEMO_LOCK = threading.Lock()
MEMO_MAX = 4096
"""Task results kept in memory (per process)."""


def _cache_get(key: str, cache_dir: Path | None) -> dict[str, Any] | None:
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
    if hit is not None:
        return hit
    if cache_dir is not None:
        path = cache_dir / f"{key}.json"
        if path.is_file():
            try:
                got = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None  # a torn or foreign file is recomputed
            if isinstance(got, dict) and got.get("key") == key:
                return got
    return None


def _cache_put(key: str, result: dict[str, Any], cache_dir: Path | None) -> None:
    with _MEMO_LOCK:
        if len(_MEMO) >= MEMO_MAX:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = result
    if cache_dir is not None:
        tmp = cache_dir / f".{key}.tmp"
        tmp.write_text(canonical_json(result), encoding="utf-8")
        tmp.replace(cache_dir / f"{key}.json")


def clear_memo() -> None:
    """Forget the task results kept in memory (tests, benchmarks)."""
    with _MEMO_LOCK:
        _MEMO.clear()


# --------------------------------------------------------------------------------------------- frontier


def pareto_front(points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which points are non-dominated, both coordinates minimised.

    Parameters
    ----------
    points : array_like, shape (n, 2)
        (average margin, bad debt) per variant; a row with a non-finite value is never on the front.

    Returns
    -------
    ndarray of bool, shape (n,)
        True where no other finite point is ``<=`` on both coordinates and ``<`` on one.

    Examples
    --------
    >>> pareto_front([[0.05, 10.0], [0.06, 5.0], [0.07, 6.0], [0.05, 10.0]]).tolist()
    [True, True, False, True]
    """
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    ok = np.isfinite(p).all(axis=1)
    front = ok.copy()
    q = p[ok]
    for i in np.flatnonzero(ok):
        le = (q <= p[i]).all(axis=1)
        lt = (q < p[i]).any(axis=1)
        if (le & lt).any():
            front[i] = False
    return front


# --------------------------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepReport:
    """A policy sweep: its inputs, every variant and the frontier (content-addressed like a backtest report).

    ``fits`` counts the walk-forwards the sweep needs (a rerun from the cache reports the same number: it is
    the sweep's, not this run's); ``tasks``, ``executor``, ``tasks_cached`` and ``wall_s`` describe this run
    and are not content.
    """

    profile: str
    spec: BacktestSpec
    base: RiskPolicy
    grid: SweepGrid
    variants: tuple[SweepVariant, ...]
    symbols: tuple[str, ...]
    fingerprints: Mapping[str, str]
    fits: int
    tasks: int
    skipped: tuple[tuple[int, str, str], ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    executor: str = "serial"
    tasks_cached: int = 0
    wall_s: float = 0.0

    @property
    def frontier(self) -> list[SweepVariant]:
        """Variants on the frontier, by increasing average margin."""
        return frontier_of(self.variants)

    def content(self) -> dict[str, Any]:
        """The hashed content: ``format, profile, spec, base_policy, grid, symbols, data, fits, n_variants,
        variants, frontier, skipped, provenance`` (not how it ran: executor, chunking, cache, time)."""
        return sweep_content(
            profile=self.profile, spec=self.spec.to_dict(),
            base_policy={**self.base.to_dict(), "policy_key": self.base.key()}, grid=self.grid,
            symbols=self.symbols, data=self.fingerprints, fits=self.fits, variants=self.variants,
            skipped=self.skipped, provenance=self.provenance)

    @property
    def id(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`content`: the digest every executor must reproduce."""
        return content_id(self.content())


def _pool(changes: Mapping[str, Any], index: int, policy: RiskPolicy, rows: Sequence[Mapping[str, Any]]) -> SweepVariant:
    n = sum(int(r["n"]) for r in rows)
    x = sum(int(r["exceptions"]) for r in rows)
    exp = sum(float(r["expected"] or 0.0) for r in rows)

    def mean(key: str) -> float | None:
        v = [float(r[key]) for r in rows if r.get(key) is not None]
        return float(np.mean(v)) if v else None

    cpy = [r["changes"] / r["years"] for r in rows if r.get("years")]
    kp = _kupiec_at(n, x, 1.0 - policy.confidence) if rows else math.nan
    bd = [float(r["bad_debt"]) for r in rows if r.get("bad_debt") is not None]
    return SweepVariant(index=index, changes=dict(changes), policy_key=policy.key(), assets=len(rows), n=n,
                        exceptions=x, expected=exp, kupiec_p=None if not math.isfinite(kp) else kp,
                        avg_margin=mean("avg_margin"), bad_debt=float(sum(bd)) if bd else None,
                        liquidations=sum(int(r["liquidations"]) for r in rows),
                        changes_per_year=float(np.mean(cpy)) if cpy else None)


ProgressFn = Callable[[int, int, str], None]


def run_sweep(
    data: Sequence[AssetData],
    base: RiskPolicy,
    grid: SweepGrid,
    spec: BacktestSpec,
    *,
    current: Mapping[str, CurrentPerp | CurrentLending] | None = None,
    executor: Any = None,
    chunk: int = DEFAULT_CHUNK,
    cache_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
    provenance: Mapping[str, Any] | None = None,
    book: Any = None,
    book_returns: npt.ArrayLike | None = None,
    book_sims: int = 1000,
) -> SweepReport:
    """Backtest every variant of ``grid`` on ``data``, the fits shared (see the module docstring).

    Parameters
    ----------
    data : sequence of AssetData
        One series per asset (symbols unique); fingerprinted when ``fingerprint`` is empty.
    base : RiskPolicy
        The policy the grid changes.
    grid : SweepGrid
    spec : BacktestSpec
        Period, cadence, engine, population, ... (as for a backtest).
    current : mapping symbol -> parameters, optional
        Parameters in force at the start of every replay.
    executor : ExecutorSpec or str, optional
        Where tasks run (:class:`riskparams.executors.ExecutorSpec`; default serial).
    chunk : int
        Assets per task.
    cache_dir : path, optional
        Directory of finished task results (``<key>.json``): a rerun skips them.
    progress : callable, optional
        ``progress(done, total, message)`` per finished task (also for cached ones).
    book : riskparams.book.Book, optional
        Open perpetual positions: each variant's ``var_insolvent_debt`` is the 99th percentile of the book's bad
        debt over ``book_sims`` one-day draws of ``book_returns`` (:func:`riskparams.book.impact.simulate_impact`,
        seed 0) under the tier tables each variant had in force at the end.
    book_returns : array_like, shape (days, book symbols), optional
        Joint simple daily returns, columns in the order of ``book.symbol_ids``.

    Raises
    ------
    PolicyError
        A bad grid key or value (naming the variant), duplicate symbols, no data.
    HistoryError
        No asset could be backtested under any variant.
    """
    from riskparams.exceptions import HistoryError
    from riskparams.executors import ExecutorSpec, run_tasks

    ex = executor if isinstance(executor, ExecutorSpec) else ExecutorSpec.parse(executor)
    syms = [d.symbol.upper() for d in data]
    if not syms:
        raise PolicyError("a sweep needs at least one asset")
    if len(set(syms)) != len(syms):
        raise PolicyError(f"each asset may appear once, got {syms}")
    for sym, c in (current or {}).items():
        want = CurrentPerp if spec.profile is Profile.PERP else CurrentLending
        if not isinstance(c, want):
            raise PolicyError(f"current parameters of {sym} are not {spec.profile} parameters")
    cdir = None
    if cache_dir is not None:
        cdir = Path(cache_dir).expanduser()
        if cdir.exists() and not cdir.is_dir():
            raise DataError(f"sweep cache {cdir} is a file, not a directory.")
        cdir.mkdir(parents=True, exist_ok=True)
    pairs = grid_policies(base, grid)
    if book is not None:
        if spec.profile is not Profile.PERP:
            raise PolicyError("positions can be simulated for perp sweeps only")
        missing = [s for s in book.symbol_ids if s.upper() not in syms]
        if missing:
            raise DataError(f"{book.source}: symbol {missing[0]} of the positions is not in the sweep; sweep it too "
                            "(--symbols) or leave its positions out.")
        if book_returns is None:
            raise PolicyError("book_returns are needed to simulate the positions")
    tasks = plan_tasks(data, [p for _c, p in pairs], spec, current=current, chunk=chunk)
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    total = len(tasks)
    count = [0]
    lock = threading.Lock()

    def tick(msg: str) -> None:
        with lock:
            count[0] += 1
            n = count[0]
        if progress is not None:
            progress(n, total, msg)

    todo = []
    for i, t in enumerate(tasks):
        hit = _cache_get(t.key, cdir)
        if hit is not None:
            results[i] = hit
            tick(f"task {i + 1}/{total} from the cache")
        else:
            todo.append(i)
    cached = total - len(todo)

    def done(j: int, res: dict[str, Any]) -> None:
        i = todo[j]
        results[i] = res
        _cache_put(tasks[i].key, res, cdir)
        tick(f"task {i + 1}/{total}: {len(tasks[i].assets)} asset(s) x {len(tasks[i].variants)} variant(s)")

    run_tasks(run_task, [tasks[i] for i in todo], ex, keys=[tasks[i].key for i in todo], on_done=done)
    by_variant: dict[int, list[dict[str, Any]]] = {}
    skipped: list[tuple[int, str, str]] = []
    fits = 0
    for res in results:
        assert res is not None
        fits += int(res["fits"])
        for r in res["rows"]:
            by_variant.setdefault(int(r["variant"]), []).append(r)
        skipped += [(int(s["variant"]), str(s["symbol"]), str(s["reason"])) for s in res["skipped"]]
    if not by_variant:
        reasons = "; ".join(f"{s}: {r}" for _i, s, r in sorted(set(skipped))[:5]) or "no data"
        raise HistoryError(f"no asset could be backtested under any variant ({reasons}).")
    variants = [_pool(ch, i, pol, sorted(by_variant.get(i, []), key=lambda r: r["symbol"]))
                for i, (ch, pol) in enumerate(pairs)]
    front = pareto_front([[v.avg_margin if v.avg_margin is not None else math.nan,
                           v.bad_debt if v.bad_debt is not None else math.nan] for v in variants])
    book_var: list[float | None] = [None] * len(variants)
    if book is not None:
        book_var = [_book_var(book, book_returns, by_variant.get(i, []), book_sims) for i in range(len(variants))]
    variants = [SweepVariant(**{**{f: getattr(v, f) for f in v.__slots__}, "on_frontier": bool(f),  # type: ignore[attr-defined]
                                "var_insolvent_debt": bv})
                for v, f, bv in zip(variants, front, book_var, strict=True)]
    fps = {t.symbol.upper(): t.fingerprint for task in tasks for t in task.assets}
    return SweepReport(profile=spec.profile.value, spec=spec, base=base, grid=grid, variants=tuple(variants),
                       symbols=tuple(sorted(fps)), fingerprints=dict(sorted(fps.items())), fits=fits,
                       tasks=total, skipped=tuple(sorted(skipped)), provenance=dict(provenance or {}),
                       executor=ex.label, tasks_cached=cached)


def _book_var(book: Any, returns: Any, rows: Sequence[Mapping[str, Any]], sims: int) -> float | None:
    """99th percentile of the book's one-day bad debt under a variant's final tier tables (None when a symbol of
    the book has no table: unmarginable or skipped)."""
    from riskparams.book.impact import simulate_impact
    from riskparams.domain import CurrentPerpTier

    tables = {}
    for r in rows:
        if r.get("final_tiers"):
            tables[str(r["symbol"])] = [CurrentPerpTier(**t) for t in r["final_tiers"]]
    if any(s.upper() not in tables for s in book.symbol_ids):
        return None
    tables = {s: tables[s.upper()] for s in book.symbol_ids}
    sim = simulate_impact(book, tables, np.asarray(returns, dtype=float), n_sims=sims, seed=0)
    return float(sim.var_insolvent_debt["p99"])


def variant_policy(base: RiskPolicy, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The full policy dictionary of a variant and what differs from the base (for the Sweep page)."""
    pol = policy_with(base, dict(changes))
    return {"policy_key": pol.key(), "differences": policy_differences(base, pol), "policy": pol.to_dict()}


__all__ = [
    "SWEEP_FORMAT",
    "SweepGrid",
    "SweepReport",
    "SweepTask",
    "SweepVariant",
    "clear_memo",
    "grid_policies",
    "pareto_front",
    "parse_grid",
    "plan_tasks",
    "run_sweep",
    "run_task",
    "variant_policy",
]

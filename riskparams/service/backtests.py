"""Walk-forward backtests on stored series: running, storing, attaching, the payload an export embeds.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from riskparams.backtest_content import StoredBacktest
from riskparams.config import RiskPolicy
from riskparams.domain import (
    CurrentParams,
    Profile,
    SkippedAsset,
)
from riskparams.exceptions import (
    DataError,
    HistoryError,
    PolicyError,
)
from riskparams.returns import data_fingerprint, to_utc
from riskparams.service.provenance import package_versions
from riskparams.service.selection import select_series
from riskparams.store import Store
from riskparams.store.backtest_records import (
    StoredReport,
    attach_report,
    get_report,
    latest_attached,
    save_report,
)
from riskparams.store.records import get_proposal

if TYPE_CHECKING:  # the backtest engine (scipy.stats, numba) loads on first use: pages start faster
    from riskparams.backtest import AssetData, BacktestReport, BacktestSpec, FixedParameters, ProgressFn


@dataclass(frozen=True, slots=True)
class BacktestRun:
    """A computed backtest report and, when saved, its stored record (and the proposal it was attached to).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> proposal = riskparams.propose(store, profile="perp", symbols=["ABC"])
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.backtest_policy(store, profile="perp", spec=spec, attach=proposal.id)
    >>> run.attached_to == proposal.id, run.stored.id == run.id
    (True, True)
    >>> sorted({row["parameter_set"] for row in run.to_dict()["results"]})
    ['policy', 'proposal-...']
    """

    report: BacktestReport
    stored: StoredReport | None
    attached_to: str | None = None

    @property
    def id(self) -> str:
        """The content hash of the report."""
        return self.stored.id if self.stored is not None else self.report.id

    @property
    def backtest(self) -> StoredBacktest:
        """The report as the store reads it back (typed, read-only): the stored record's, or, unsaved, the
        report's content read the same way."""
        if self.stored is not None:
            return self.stored.backtest
        return StoredBacktest.from_content(self.report.content(paths=False), check_hash=False)

    def to_dict(self, *, paths: bool = False) -> dict[str, Any]:
        """JSON for ``riskparams backtest --json``: ``id, created_at, start, end, profile, results`` (the rows
        :func:`riskparams.export.validate_backtest` reads), ``stored_now``, ``attached_to``, then the detail
        (``assets``, ``skipped``, ``spec``, ``policy``, ``provenance``); per-bar paths only with ``paths``."""
        content = self.report.content(paths=paths)
        head = {
            "id": self.id, "created_at": None if self.stored is None else self.stored.created_at_iso,
            "start": content["start"], "end": content["end"], "profile": content["profile"],
            "results": content["results"], "stored_now": bool(self.stored is not None and self.stored.is_new),
            "attached_to": self.attached_to,
        }
        return {**head, **{k: v for k, v in content.items() if k not in head}}


def _compare_sets(store: Store, refs: list[str], profile: str) -> list[FixedParameters]:
    """Fixed parameter sets from files (params_io CSV/JSON, named by the file stem) or stored proposal ids."""
    from riskparams.backtest import fixed_from_current, fixed_from_proposal
    from riskparams.params_io import load_current

    out: list[FixedParameters] = []
    for ref in refs:
        path = Path(ref).expanduser()
        if path.exists():
            cur = load_current(path, profile)
            name = path.stem
        elif len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref.lower()):
            stored = get_proposal(store, ref)
            if stored.profile != profile:
                raise PolicyError(f"proposal {stored.id[:12]} is for {stored.profile}, the backtest is for {profile}")
            out.append(fixed_from_proposal(stored.content, f"proposal-{stored.id[:12]}", f"proposal {stored.id}"))
            continue
        else:
            raise DataError(f"--compare {ref}: no such file, and not a stored proposal id.")
        names = {f.name for f in out}
        base, k = name, 2
        while name in names or name in ("policy", "current"):
            name, k = f"{base}-{k}", k + 1
        out.append(fixed_from_current(cur, name))
    return out


def backtest_data(
    store: Store,
    symbols: list[str] | None = None,
    *,
    freq: str | None = None,
    kind: str | None = None,
    profile: str = "perp",
    end: datetime | pd.Timestamp | str | None = None,
    min_returns: int = 500,
) -> tuple[list[AssetData], list[SkippedAsset]]:
    """The price series to backtest: one per symbol, chosen as for a proposal (:func:`select_series`: the
    ``freq``/``kind`` asked for, else the profile's preference), bars up to ``end``."""
    from riskparams.backtest import AssetData

    stop = None if end is None else to_utc(end, "as-of date")
    series, skipped = select_series(store, symbols, profile=profile, freq=freq, kind=kind, min_returns=min_returns)
    out = []
    for info, _why in series:
        prices = store.load_prices(info.series_id, end=stop)
        out.append(AssetData(symbol=info.symbol.upper(), freq=info.freq, prices=prices, source=info.source,
                             kind=info.kind, synthetic=info.synthetic, fingerprint=data_fingerprint(prices)))
    return out, skipped


def backtest(
    store: Store,
    *,
    profile: Profile | str,
    policy: RiskPolicy | None = None,
    current: CurrentParams | None = None,
    compare: list[str] | None = None,
    symbols: list[str] | None = None,
    freq: str | None = None,
    kind: str | None = None,
    spec: BacktestSpec | None = None,
    attach: str | None = None,
    actor: str | None = None,
    save: bool = True,
    progress: ProgressFn | None = None,
    backend: str = "threads",
) -> BacktestRun:
    """Backtest the policy's walk-forward replay, the current parameters and other sets on stored series.

    Parameters
    ----------
    profile : {'perp', 'lending'}
    policy : RiskPolicy, optional
        Default ``RiskPolicy()``.
    current : CurrentParams, optional
        Current parameters: the replay's first guardrails, and a fixed set named ``current``.
    compare : list of str, optional
        More fixed sets: params_io CSV/JSON files (named by the file stem) or stored proposal ids.
    symbols : list of str, optional
        Default: every stored symbol (one series each, chosen as for a proposal).
    freq, kind : str, optional
        Use series of this frequency / kind only (see :func:`select_series`).
    spec : BacktestSpec, optional
        Period, cadence, engine, ... (its ``profile`` is replaced by ``profile``).
    attach : str, optional
        A stored proposal id: its proposed parameters are added as a fixed set (``proposal-<id>``) and the
        stored report is attached to it.
    save : bool
        Store the report (and attach it); ``attach`` needs it.
    progress : callable, optional
        ``progress(done, total, message)``.

    Raises
    ------
    PolicyError
        Unknown profile, parameters of the other profile, ``attach`` without ``save``.
    SeriesNotFoundError
        A requested symbol is not stored.
    HistoryError
        No asset has enough history.

    Examples
    --------
    ``riskparams.backtest_policy`` is this function. A short run: monthly proposals over the last nine
    months of the history, a 250-bar estimation window, no Monte-Carlo p-value for the ES test:

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.backtest_policy(store, profile="perp", symbols=["ABC"], spec=spec)
    >>> row = run.report.results()[0]
    >>> row.symbol, row.parameter_set, row.n, row.exceptions, row.traffic_light
    ('ABC', 'policy', 282, 0, 'green')
    """
    from riskparams.backtest import BacktestSpec, fixed_from_current, run_backtest

    profile = Profile.parse(profile, error=PolicyError)
    policy = RiskPolicy() if policy is None else policy
    spec = BacktestSpec(profile=profile) if spec is None else replace(spec, profile=profile)
    if current is not None and current.profile != profile:
        raise PolicyError(f"the current parameters ({current.source}) are for {current.profile}, the backtest is "
                          f"for {profile}")
    if attach is not None and not save:
        raise PolicyError("attaching a backtest needs it stored (save=True)")
    fixed: list[FixedParameters] = [] if current is None else [fixed_from_current(current)]
    refs = list(compare or [])
    target = None
    if attach is not None:
        target = get_proposal(store, attach)
        if target.profile != profile:
            raise PolicyError(f"proposal {target.id[:12]} is for {target.profile}, the backtest is for {profile}")
        if target.id not in [r.lower() for r in refs]:
            refs.append(target.id)
    fixed += _compare_sets(store, refs, profile)
    data, skipped = backtest_data(store, symbols, freq=freq, kind=kind, profile=profile, end=spec.end,
                                  min_returns=policy.model.min_history)
    report = run_backtest(data, policy, spec, current=None if current is None else dict(current.assets), fixed=fixed,
                          progress=progress, backend=backend, provenance={"packages": package_versions()})
    if skipped:
        report = replace(report, skipped=tuple(sorted([*report.skipped, *((s.symbol, s.reason) for s in skipped)])))
    if not report.assets:
        reasons = "; ".join(f"{s}: {r}" for s, r in report.skipped) or "no stored series"
        raise HistoryError(f"no asset could be backtested ({reasons}).")
    stored = save_report(store, report.content()) if save else None
    attached = None
    if target is not None and stored is not None:
        attach_report(store, target.id, stored.id, actor=actor)
        attached = target.id
    return BacktestRun(report, stored, attached)


def attach_backtest(store: Store, proposal_id: str, report_id: str, *, actor: str | None = None) -> bool:
    """Attach a stored backtest report to a stored proposal; True when a new link was written."""
    return attach_report(store, proposal_id, report_id, actor=actor)


def export_backtest_payload(store: Store, ref: str, proposal_id: str) -> dict[str, Any]:
    """The backtest payload an export embeds: ``ref`` is a JSON file (:func:`riskparams.export.load_backtest`),
    a stored report id (or prefix), or ``attached`` (the report attached last to ``proposal_id``)."""
    from riskparams.export import load_backtest, validate_backtest

    if ref == "attached":
        payload = latest_attached(store, proposal_id).export_payload()
    elif Path(ref).expanduser().exists():
        return load_backtest(ref)
    elif len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref.lower()):
        payload = get_report(store, ref).export_payload()
    else:
        return load_backtest(ref)  # raises "backtest file ... not found"
    out = validate_backtest(payload)
    assert out is not None
    return out

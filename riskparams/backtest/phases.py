"""Warm-up and steady state of the policy replay: where the replayed parameters first reach the model's target,
and coverage, procyclicality, changes and governance actions on either side. Part of
:mod:`riskparams.backtest`.

The replay starts from the current parameters and moves towards the model's target by at most the step limit
(``guardrails.max_relative_change``) per proposal; that ramp is not the policy's steady state. The
**warm-up** runs from the first bar of the period to the bar from which the first decision at the model's
target (no step limit bound; the dead-band may keep a parameter within its band of the target) is in force,
after the execution lag, or to ``warmup_max_days`` after the first bar when that is earlier; the **steady
state** is the rest of the period. Without current parameters the first proposal is the target: the warm-up
is empty unless the lag delays it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskparams.backtest.replay import _Replay
from riskparams.backtest.results import PhaseSplit, PhaseStats
from riskparams.coverage import christoffersen, kupiec_pof
from riskparams.returns import hours_per_bar, iso_utc

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

HOURS_PER_YEAR = 8766.0
"""Hours in a year of 365.25 days (actions per year)."""


def warmup_end(version_bar: npt.NDArray[np.int64], at_target: BoolArray, dates: pd.DatetimeIndex,
               max_days: float) -> tuple[int, str]:
    """First period bar of the steady state and the reason, one sentence.

    Parameters
    ----------
    version_bar : ndarray of int, shape (n_versions,)
        Period bar (0-based) from which each version is in force, non-decreasing.
    at_target : ndarray of bool, shape (n_versions,)
        The version is the model's target within the dead-band (no step limit bound).
    dates : pandas.DatetimeIndex, shape (n_bars,)
        Bars of the period.
    max_days : float
        Longest warm-up, days from the first bar.

    Returns
    -------
    (int, str)
        Bar index in ``0 .. n_bars`` (``n_bars``: the warm-up lasts the whole period).
    """
    n = len(dates)
    cap = int(dates.searchsorted(dates[0] + pd.Timedelta(days=max_days), side="left")) if n else 0
    hit = np.flatnonzero(at_target)
    if hit.size:
        b = int(version_bar[hit[0]])
        if b == 0:
            return 0, "the first parameters in force were already the model's target: no warm-up."
        if b <= cap:
            return b, (f"the parameters in force first reached the model's target within the dead-band on "
                       f"{iso_utc(dates[b])[:10]}.")
    if cap >= n:
        return n, (f"the parameters in force never reached the model's target within the dead-band and the period "
                   f"is shorter than the {max_days:g}-day maximum warm-up: all of it is warm-up.")
    return cap, (f"the parameters in force had not reached the model's target within the dead-band after the "
                 f"{max_days:g}-day maximum warm-up.")


def phase_stats(
    name: str,
    lo: int,
    hi: int,
    *,
    dates: pd.DatetimeIndex,
    freq: str,
    margin: FloatArray,
    exceptions: BoolArray,
    horizon_bars: int,
    confidence: float,
    version_bar: npt.NDArray[np.int64],
    changed: BoolArray,
    param_changes: npt.NDArray[np.int64],
    changed_no_db: BoolArray,
) -> PhaseStats:
    """Statistics of period bars ``[lo, hi)``.

    Parameters
    ----------
    name : {'warmup', 'steady_state'}
    lo, hi : int
        Period bars of the phase (0-based, ``hi`` excluded).
    dates : pandas.DatetimeIndex, shape (n_bars,)
    freq : str
        Bar frequency (``1h``, ``4h``, ``1d``).
    margin : ndarray, shape (n_bars,)
        Margin in force at each bar, fraction.
    exceptions : ndarray of bool, shape (n_obs,)
        Headline-side exceptions at each observation (the first ``n_obs`` bars).
    horizon_bars : int
        ``h``: the non-overlapping sample is every ``h``-th observation from the period's first.
    confidence : float
        ``q``.
    version_bar : ndarray of int, shape (n_versions,)
        Period bar from which each version is in force.
    changed : ndarray of bool, shape (n_versions,)
        The version changed a parameter of the previous one (False for the first).
    param_changes : ndarray of int, shape (n_versions,)
        Parameter values it changed.
    changed_no_db : ndarray of bool, shape (n_versions,)
        It would have changed one with ``dead_band = 0`` on the same path.
    """
    n_obs = exceptions.size
    idx = np.arange(0, n_obs, horizon_bars)
    idx = idx[(idx >= lo) & (idx < hi)]
    e0 = exceptions[idx]
    n, x = int(e0.size), int(e0.sum())
    kp = kupiec_pof(n, x, confidence).p_value if n else math.nan
    cp = christoffersen(e0, confidence).independence.p_value if n else math.nan
    m = margin[lo:hi]
    bars = max(hi - lo, 0)
    years = bars * hours_per_bar(freq) / HOURS_PER_YEAR
    sel = (version_bar >= lo) & (version_bar < hi)
    sel[0] = False  # the first version is the starting point, not a change
    acts = int(np.count_nonzero(changed & sel))
    lo_m = float(m.min()) if m.size else math.nan
    return PhaseStats(
        name=name, start=iso_utc(dates[lo]) if bars else None, end=iso_utc(dates[hi - 1]) if bars else None,
        bars=bars, years=years, n=n, exceptions=x, expected=n * (1.0 - confidence), kupiec_p=kp,
        christoffersen_p=cp, avg_margin=float(m.mean()) if m.size else math.nan,
        peak_to_trough=(float(m.max()) / lo_m if lo_m > 0 else math.inf) if m.size else math.nan,
        changes=acts, parameter_changes=int(param_changes[changed & sel].sum()),
        actions_per_year=acts / years if years > 0 else math.nan,
        changes_without_dead_band=int(np.count_nonzero((changed | changed_no_db) & sel)),
    )


def split_phases(
    rp: _Replay,
    *,
    t0: int,
    dates: pd.DatetimeIndex,
    freq: str,
    margin: FloatArray,
    exceptions: BoolArray,
    horizon_bars: int,
    confidence: float,
    lag_days: float,
    max_days: float,
    dead_band: float,
) -> PhaseSplit:
    """The policy replay (with its execution lag applied) split into warm-up and steady state.

    Parameters
    ----------
    rp : _Replay
        The replay after :func:`~riskparams.backtest.replay._apply_lag` (absolute bars).
    t0 : int
        Absolute bar of the period's first bar.
    dates, freq, margin, exceptions, horizon_bars, confidence
        As :func:`phase_stats`.
    lag_days, max_days, dead_band : float
        Execution lag, longest warm-up (days) and the policy's dead-band, recorded.
    """
    assert rp.at_target is not None and rp.param_changes is not None and rp.changed_no_db is not None
    vb = np.asarray(rp.version_bar - t0, dtype=np.int64)
    vals = [v.values() for v in rp.versions]
    changed = np.asarray([False] + [a != b for a, b in zip(vals[:-1], vals[1:], strict=True)], dtype=bool)
    w, reason = warmup_end(vb, rp.at_target, dates, max_days)
    common = dict(dates=dates, freq=freq, margin=margin, exceptions=exceptions, horizon_bars=horizon_bars,
                  confidence=confidence, version_bar=vb, changed=changed, param_changes=rp.param_changes,
                  changed_no_db=rp.changed_no_db)
    warm = phase_stats("warmup", 0, w, **common)  # type: ignore[arg-type]
    steady = phase_stats("steady_state", w, len(dates), **common)  # type: ignore[arg-type]
    allv = np.ones(vb.size, dtype=bool)
    allv[0] = False
    return PhaseSplit(
        execution_lag_days=lag_days, warmup_end=iso_utc(dates[w]) if w < len(dates) else None,
        warmup_end_reason=reason, warmup_max_days=max_days, dead_band=dead_band,
        changes=int(np.count_nonzero(changed & allv)),
        changes_without_dead_band=int(np.count_nonzero((changed | rp.changed_no_db) & allv)),
        warmup=warm, steady_state=steady,
    )

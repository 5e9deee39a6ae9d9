"""Fast walk-forward GARCH engine: daily re-estimation in compiled code, equal to arch's fits.

This is the only module that imports :mod:`numba`; it does not import :mod:`arch`, but it
reproduces arch's (8.x) conventions exactly so that its maximum-likelihood optimum is arch's:

* returns are scaled to **percent** (x100) before fitting; reported parameters keep arch's names
  and its percent convention (``omega`` in percent squared, ``mu`` in percent per bar);
* constant mean (``mu`` estimated) or zero mean;
* the presample variance is arch's **EWMA backcast**: ``sum_i w_i e_i**2`` over the first
  ``tau = min(75, n)`` residuals, ``w_i = 0.94**i / sum_j 0.94**j``, computed from the residuals at
  the *starting* mean (the sample mean) and held fixed during the optimisation;
* arch's loose conditional-variance bounds (an EWMA of the squared starting residuals, times
  ``1e-6`` and ``1e6``, floored at ``var / 1e8`` and capped at ``1e7 (1 + max e**2)``, with arch's
  logarithmic squashing above the upper bound) are applied in every recursion;
* arch's standardized Student-t (or normal) log-likelihood;
* arch's bounds and linear constraints (the feasible set is arch's): GARCH/GJR
  ``1e-8 v <= omega <= 10 v`` (``v`` the mean squared starting residual), ``0 <= alpha <= 1``,
  ``-1 <= gamma <= 2``, ``alpha + gamma >= 0``, ``0 <= beta <= 1``,
  ``alpha + gamma / 2 + beta <= 1``; EGARCH ``|omega - ln v| <= ln 1e4``, ``0 <= beta <= 1``;
  Student-t ``2.05 <= nu <= 500``;
* arch's starting values for a cold fit (its 64-point grid scored by the Gaussian likelihood, the
  kurtosis-based ``nu``, the sample mean);
* arch's one-step forecast, whose backcast is recomputed from the residuals at the *fitted* mean.

Models: GARCH(1,1), GJR-GARCH(1,1,1) and EGARCH(1,1,1) (``p=1, o=1, q=1``, Nelson's, with the
asymmetry term), each with normal or Student-t innovations.

How it is fast
--------------
arch spends ~85 ns per observation per likelihood evaluation and ~85 evaluations per fit (SLSQP
with numerical gradients, in Python). Here:

* one compiled pass over the window gives the log-likelihood and its **analytic gradient**
  (~10 ns per observation for GARCH-t) or also its **exact Hessian** (~24 ns), from forward-mode
  recursions of the first and second derivatives of the conditional variance (GARCH's variance
  is linear in ``omega, alpha, gamma`` for fixed ``mu, beta``, so few second derivatives are
  non-zero); sums of logs are taken as logs of running products;
* the optimiser is an **active-set Newton method** on arch's linear constraints (exact KKT
  solves, the Hessian shifted only where it is not positive definite on the null space of the
  active constraints, a ratio test, Armijo backtracking, a step expansion when the quadratic
  model is too timid), working in ``ln omega`` for GARCH/GJR, all compiled: no Python per
  iteration;
* a daily refit is **warm-started** from the previous day's optimum with the previous day's
  Hessian, updated by BFGS along the steps and recomputed only when the decrement stops
  falling fast: about 3.5 gradient passes per day instead of ~85 evaluations;
* ``walk_forward_many`` runs assets in parallel threads (``numba.prange``; measured faster than
  a process pool on 2 cores, which pays for spawning workers and moving results).

EGARCH with a constant mean is not smooth in ``mu`` (``|y_t - mu|`` enters the recursion) and its
optimum often sits on a data value; the optimiser handles these kinks explicitly (see
:func:`_newton`). EGARCH's recursion has an ``exp`` on its critical path, so a value-and-gradient
pass costs about 1.5x GARCH's (15-16 ns per observation against 10-11) however the rest is
arranged; the engine keeps everything else off that path: the recursion carries ``-ln(s)/2`` so
that a multiply and an add separate one ``exp`` from the next, arch's forecast backcast is applied
as a first-order shift of the last variance instead of a second pass, the 48-point starting grid
runs as SIMD with a batched ``exp`` (:func:`_exp_batch`), the scans for the nearest kink are
vectorised min/max reductions, and a cold fit switches to value-and-gradient passes once it is
close (``_CHORD_SWITCH``) and computes no Hessian for line-search trials after a rejection.

Guards and fallbacks
--------------------
A warm fit falls back to a **cold fit** (arch's starting values, the same compiled Newton
optimiser) when it is non-finite, fails its line search, or does not converge within
``maxit_warm`` iterations (status ``COLD_FALLBACK``). A converged warm fit at an *edge* is
re-checked by a cold fit, whose result is kept when it converges (status ``EDGE_RECHECK``): it
is what arch returns, even where the warm path followed another local maximum. Edges are
persistence ``>= 0.999`` and ``omega`` within 100x of its lower bound (after a re-check that
confirms the warm optimum these are not re-checked for the next 20 refits: such stretches
last), ``nu >= 100``, for GARCH ``alpha < 1e-4`` and for GARCH/GJR ``beta < 1e-4`` (always
re-checked: ``beta`` is then barely identified, or the model has collapsed to ARCH(1), and the
likelihood often has a second maximum). Independently of edges, a cold re-check runs every
``recheck_every`` (default 10) refits, and every refit for the next 20 once a re-check found the
warm path on another maximum (real windows can have two). If the cold fit fails too
(for instance a constant window, or a window where the model is not identified), the day is
``FAILED`` and, when the caller supplies ``fallback`` (a callable, e.g. an arch fit), its
parameters are used instead (status ``CALLBACK``); otherwise the day's outputs are NaN. Every
result counts its fallbacks.

Schedules
---------
``refit_every=1`` (default) re-estimates every bar. ``refit_every=k`` is a **different model**:
parameters are re-estimated every ``k`` bars and the variance is filtered through every bar in
between with the last parameters (the result's ``schedule`` says so); on hourly data
``refit_every=HOURLY_DAILY_REFIT`` (24) refits daily and filters hourly.

Modules
-------
``_common`` (choices' codes, statuses, constants, special functions, parameter layout, window
statistics, arch's constraints), ``_passes`` (the likelihood passes, :func:`_pass_garch` and
:func:`_pass_egarch`), ``_newton`` (the optimiser), ``_fit`` (starting values and their grids,
``_exp_batch``, one window's fit with its guards, forecasts), ``_walk`` (compiled walk-forward
drivers) and ``api`` (the public functions and result types re-exported here). Only this package
imports :mod:`numba`.

Units
-----
Public inputs are **log returns as fractions** (0.01 = 1 %). Outputs are fractions per bar
(``sigma``, ``mu``) and fractions of the price (VaR, margin). Parameters are in arch's percent
convention.
"""

from __future__ import annotations

from riskparams.domain import DistName, MeanName, ModelName
from riskparams.fastgarch._common import EDGE_NU, EDGE_PERSISTENCE, HOURLY_DAILY_REFIT, FitStatus
from riskparams.fastgarch.api import (
    GarchFit,
    WalkForwardResult,
    compile_all,
    fit_garch,
    fit_garch_t,
    loglikelihood,
    std_residuals,
    walk_forward,
    walk_forward_many,
)

__all__ = [
    "EDGE_NU",
    "EDGE_PERSISTENCE",
    "HOURLY_DAILY_REFIT",
    "DistName",
    "FitStatus",
    "GarchFit",
    "MeanName",
    "ModelName",
    "WalkForwardResult",
    "compile_all",
    "fit_garch",
    "fit_garch_t",
    "loglikelihood",
    "std_residuals",
    "walk_forward",
    "walk_forward_many",
]

"""The ``riskparams`` command.

A user mistake (bad file, unknown symbol, bad option) prints one line on stderr and exits with 2;
an unexpected failure prints one line and exits with 1 (``RISKPARAMS_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from riskparams import __version__
from riskparams.exceptions import RiskParamsError

EXIT_USAGE = 2


class UsageError(RiskParamsError):
    """A command-line mistake detected after parsing."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"riskparams: error: {message} (see `{self.prog} --help`)\n")


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, allow_nan=False))


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


# -- commands ------------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from riskparams.service import open_store

    with open_store(args.db) as store:
        print(f"store ready: {store.path} (schema version {store.schema_version()})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from riskparams.ingest import load_demo
    from riskparams.service import open_store

    with open_store(args.db) as store:
        reports = load_demo(store, seed=args.seed)
        for r in reports:
            print(r.summary() + " [synthetic]")
        print(f"demo data in {store.path}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from riskparams.ingest import ingest_file
    from riskparams.service import open_store

    with open_store(args.db) as store:
        report = ingest_file(
            store, args.path, symbol=args.symbol, source=args.source, kind=args.kind, freq=args.freq,
            replace=args.replace,
        )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
        for g in report.gaps[:5]:
            print(f"  gap: {g.missing_bars} missing bars after {g.after:%Y-%m-%d %H:%M} UTC")
        if len(report.gaps) > 5:
            print(f"  ... and {len(report.gaps) - 5} more gaps")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from riskparams.ingest import fetch
    from riskparams.service import open_store

    bar = tqdm(total=0, unit="bar", desc=f"{args.exchange} {args.symbol} {args.timeframe}",
               file=sys.stderr, disable=args.quiet or None)

    def progress(done: int, total: int) -> None:
        bar.total = max(total, done)
        bar.n = done
        bar.refresh()

    try:
        with open_store(args.db) as store:
            report = fetch(
                store, exchange=args.exchange, symbol=args.symbol, timeframe=args.timeframe,
                since=args.since, store_symbol=args.as_symbol, kind=args.kind, progress=progress,
            )
    finally:
        bar.close()
    print(report.summary())
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    from riskparams.service import list_assets, open_store

    with open_store(args.db) as store:
        rows = list_assets(store)
    if args.json:
        _print_json(rows)
    elif not rows:
        print("the store is empty: run `riskparams demo` or `riskparams ingest FILE --symbol SYM`")
    else:
        for r in rows:
            r["synthetic"] = "synthetic" if r["synthetic"] else ""
        print(_table(rows, ["symbol", "freq", "kind", "source", "rows", "first", "last", "synthetic"]))
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    from riskparams.service import open_store, series_quality

    with open_store(args.db) as store:
        info, report = series_quality(
            store, args.symbol, freq=args.freq, source=args.source, kind=args.kind,
            stale_min_bars=args.stale_bars, outlier_z=args.outlier_z,
        )
    if args.json:
        _print_json({"series": info.to_dict(), **report.to_dict()})
        return 0
    print(f"{info.label}: {report.bars} bars from {report.first:%Y-%m-%d %H:%M} to "
          f"{report.last:%Y-%m-%d %H:%M} UTC, coverage {report.coverage:.2%}")
    findings = report.findings()
    if not findings:
        print("no gaps, stale runs, outliers or zero-volume bars found")
    for line in findings:
        print(f"- {line}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from riskparams.service import fit_series, open_store
    from riskparams.volatility import FitSpec

    try:
        spec = FitSpec(
            model=args.model, dist=args.dist, mean=args.mean, horizon_hours=args.horizon_hours,
            confidence=args.confidence, min_history=args.min_history,
        )
    except ValueError as exc:
        raise UsageError(str(exc) + ".") from None
    with open_store(args.db) as store:
        run = fit_series(store, args.symbol, freq=args.freq, source=args.source, kind=args.kind, spec=spec,
                         as_of=args.as_of)
    if args.json:
        _print_json(run.to_dict())
        return 0
    e = run.estimate
    print(f"{run.series.label}: {e.n_obs} returns up to {e.as_of:%Y-%m-%d %H:%M} UTC"
          + (" (cached)" if run.cached else ""))
    params = ", ".join(f"{k}={v:.6g}" for k, v in e.params.items())
    print(f"model {e.model.value}-{e.dist.value} ({e.mean.value} mean): {params}")
    if e.fallback:
        print(f"fallback to EWMA: {e.fallback}")
    print(f"loglik {e.loglik:.2f}, BIC {e.bic:.2f}, persistence {e.persistence:.4f}, converged {e.converged}")
    print(f"volatility: next bar {e.next_vol:.4%} ({e.next_vol_annualised:.1%} annualised), long-run "
          f"{e.long_run_vol_annualised:.1%}, stressed {e.stressed_vol_annualised:.1%} annualised")
    print(f"horizon {e.horizon_hours:g}h ({e.horizon_bars} bars): vol {e.horizon_vol:.2%}, "
          f"VaR {e.var:.2%}, ES {e.es:.2%} of price at {e.confidence:.1%} ({e.worse_tail} tail)")
    for note in e.notes:
        print(f"note: {note}")
    return 0


def app_path() -> Path:
    """The dashboard's ``app.py`` (beside the package in a project checkout)."""
    return Path(__file__).resolve().parents[1] / "app.py"


def cmd_serve(args: argparse.Namespace) -> int:
    from riskparams.store import ENV_VAR, default_db_path

    app = app_path()
    if not app.exists():
        raise UsageError(f"the dashboard is not installed here ({app} is missing); install from a checkout.")
    db = Path(args.db).expanduser().resolve() if args.db else default_db_path().resolve()
    env = dict(os.environ, **{ENV_VAR: str(db)})
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.port", str(args.port), "--server.headless", "true",
        "--server.address", args.address, "--browser.gatherUsageStats", "false",
    ]
    print(f"riskparams dashboard on http://{args.address}:{args.port} (store {db}); Ctrl+C stops it",
          file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env, cwd=str(app.parent))
    except KeyboardInterrupt:
        return 0


# -- parser --------------------------------------------------------------------------------------
def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a whole number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``riskparams`` command."""
    parser = _Parser(
        prog="riskparams",
        description="Margin and liquidation parameters for DAO risk committees: price store, volatility "
        "models, proposals, backtests and governance exports.",
        epilog="The store defaults to data/riskparams.duckdb; --db PATH or $RISKPARAMS_DB choose another.",
    )
    parser.add_argument("--version", action="version", version=f"riskparams {__version__}")
    parser.add_argument("--db", metavar="PATH", help="DuckDB store file (default: $RISKPARAMS_DB or "
                        "data/riskparams.duckdb)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "create (or upgrade) the store")
    p = add("demo", cmd_demo, "load the synthetic demo universe (labelled synthetic)")
    p.add_argument("--seed", type=int, default=None, help="generator seed (default: the documented one)")

    p = add("ingest", cmd_ingest, "validate and store a CSV or Parquet file of OHLCV bars")
    p.add_argument("path", help="CSV or Parquet file")
    p.add_argument("--symbol", required=True, help="symbol of the series, e.g. BTC")
    p.add_argument("--source", default="file", help="source label, e.g. binance (default: file)")
    p.add_argument("--kind", choices=["spot", "perp"], default=None,
                   help="market kind (default: perp if the file name says perp, else spot)")
    p.add_argument("--freq", choices=["1h", "4h", "1d"], default=None, help="bar frequency (default: inferred)")
    p.add_argument("--replace", action="store_true", help="overwrite stored bars whose values differ")
    p.add_argument("--json", action="store_true", help="print the ingest report as JSON")

    p = add("fetch", cmd_fetch, "fetch OHLCV bars from an exchange (ccxt), resuming from the last stored bar")
    p.add_argument("--exchange", default="binance", help="ccxt exchange id (default: binance)")
    p.add_argument("--symbol", required=True, help="exchange market, e.g. BTC/USDT or BTC/USDT:USDT (perp)")
    p.add_argument("--timeframe", choices=["1h", "4h", "1d"], default="1d")
    p.add_argument("--since", default=None, help="first bar of a new series, e.g. 2019-01-01 (UTC)")
    p.add_argument("--as", dest="as_symbol", default=None, help="stored symbol (default: the base currency)")
    p.add_argument("--kind", choices=["spot", "perp"], default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("assets", cmd_assets, "list the stored series")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = add("quality", cmd_quality, "data quality of one series: coverage, gaps, stale runs, outliers, zero volume")
    p.add_argument("symbol")
    p.add_argument("--freq", choices=["1h", "4h", "1d"], default=None)
    p.add_argument("--source", default=None)
    p.add_argument("--kind", choices=["spot", "perp"], default=None)
    p.add_argument("--stale-bars", type=int, default=None, help="shortest stale run in bars")
    p.add_argument("--outlier-z", type=_positive_float, default=10.0, help="robust z-score threshold")
    p.add_argument("--json", action="store_true")

    p = add("fit", cmd_fit, "fit a volatility model to one series and print horizon VaR/ES (cached in the store)")
    p.add_argument("symbol")
    p.add_argument("--freq", choices=["1h", "4h", "1d"], default=None)
    p.add_argument("--source", default=None)
    p.add_argument("--kind", choices=["spot", "perp"], default=None)
    p.add_argument("--model", choices=["auto", "garch", "gjr", "egarch", "ewma"], default="auto")
    p.add_argument("--dist", choices=["normal", "t", "skewt"], default="t")
    p.add_argument("--mean", choices=["constant", "zero"], default="zero")
    p.add_argument("--as-of", default=None, help="use bars up to this UTC date/time only")
    p.add_argument("--horizon-hours", type=_positive_float, default=24.0, help="margin period of risk in hours")
    p.add_argument("--confidence", type=_positive_float, default=0.99, help="VaR/ES confidence in (0.5, 1)")
    p.add_argument("--min-history", type=int, default=500, help="bars needed for a GARCH fit (else EWMA)")
    p.add_argument("--json", action="store_true")

    p = add("serve", cmd_serve, "start the dashboard (Streamlit)")
    p.add_argument("--port", type=_port, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(os.environ.get("RISKPARAMS_DEBUG"))
    try:
        with warnings.catch_warnings():
            if not debug:
                warnings.simplefilter("ignore")
            code = int(args.func(args))
    except RiskParamsError as exc:
        if debug:
            raise
        print(f"riskparams: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("riskparams: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal failure: one line, not a traceback
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"riskparams: internal error: {type(exc).__name__}: {first} "
              "(set RISKPARAMS_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

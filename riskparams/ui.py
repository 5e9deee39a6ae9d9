"""Shared Streamlit glue for ``app.py`` and ``pages/``: the only door to streamlit.

Pages stay thin: read inputs, call one library function through here, draw. Errors reach the page as
one ``st.error`` line, never as a traceback.
"""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

import pandas as pd
import streamlit as st

from riskparams import auth, governance, ingest, service, views
from riskparams.auth import AuthMode
from riskparams.domain import IngestReport, Proposal, SeriesInfo
from riskparams.exceptions import RiskParamsError
from riskparams.export import content_figures, escape_markdown
from riskparams.governance import Committee, Member
from riskparams.ingest import seed_demo_if_empty
from riskparams.quality import QualityReport, quality_report
from riskparams.store import Store

T = TypeVar("T")

PAGE_TITLE = "riskparams"


def setup_page(title: str) -> None:
    """Page config and heading shared by every page."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        # Streamlit starts in its older pages-directory mode until app.py has called st.navigation once: a first
        # visit straight to /Proposal would run the page without app.py (the sidebar would list "app"). Leave that
        # mode and run again, now through app.py's navigation (same page: the URL path names it).
        PagesManager.uses_pages_directory = False
        st.rerun()
    st.set_page_config(page_title=f"{title} · {PAGE_TITLE}", page_icon=":material/balance:", layout="wide")
    st.title(title)


PAGES: tuple[tuple[str, str, str], ...] = (
    ("0_Overview.py", "Overview", ":material/dashboard:"),
    ("1_Data.py", "Data", ":material/database:"),
    ("2_Volatility.py", "Volatility", ":material/show_chart:"),
    ("3_Proposal.py", "Proposal", ":material/tune:"),
    ("4_Backtest.py", "Backtest", ":material/history:"),
    ("5_Governance.py", "Governance", ":material/gavel:"),
    ("7_Book.py", "Book", ":material/account_balance_wallet:"),
    ("8_Sweep.py", "Sweep", ":material/scatter_plot:"),
)
"""The dashboard's pages in ``pages/``: file, the name the sidebar and the URL use (``/Data``...), icon. The first
is the default page (``/``)."""

READY_TESTID = "rp-ready"
"""``data-testid`` of the marker :func:`run_navigation` draws when a page run has finished (browser tests wait on
it; its ``data-run`` grows by one with every run of the session)."""


_RUN = "_rp_run"


def run_navigation() -> None:
    """``app.py``: list :data:`PAGES` with ``st.navigation``, run the chosen page, then draw the ready marker.

    The marker is drawn when the page finished, stopped through :func:`stop` (also after an ``st.error`` of
    :func:`guarded`) or raised; not when it asked for a rerun (the rerun draws its own).
    """
    pages = [st.Page(f"pages/{file}", title=title, icon=icon, url_path=title, default=k == 0)
             for k, (file, title, icon) in enumerate(PAGES)]
    page = st.navigation(pages)
    run = int(st.session_state.get(_RUN, (None, 0))[1]) + 1
    st.session_state[_RUN] = (page.title, run)
    try:
        page.run()
    except Exception:
        page_ready("exception")
        raise
    page_ready("done")


def page_ready(state: str = "done") -> None:
    """Draw the hidden marker that says this run of the page has drawn everything (see :data:`READY_TESTID`).

    Only under :func:`run_navigation` (a page run on its own, as ``AppTest`` may, draws none)."""
    current = st.session_state.get(_RUN)
    if not current or st.session_state.get("_rp_ready") == current:
        return
    st.session_state["_rp_ready"] = current
    title, run = current
    st._main.html(f'<span data-testid="{READY_TESTID}" data-page="{html.escape(str(title))}" data-run="{int(run)}" '
            f'data-state="{html.escape(state)}" style="display:none"></span>')


def stop() -> NoReturn:
    """``st.stop()`` after drawing the ready marker (Streamlit draws nothing once a stop was asked for)."""
    page_ready("stopped")
    st.stop()


@st.cache_resource(show_spinner=False)
def _open_store() -> Store:
    store = service.open_store()
    seed_demo_if_empty(store)
    return store


def get_store() -> Store:
    """The dashboard's store (one per server process; each session thread gets its own cursor).

    Seeds the synthetic demo universe on first start when the store is empty.
    """
    with st.spinner("Opening the store (first start seeds synthetic demo data)..."):
        return _open_store()


@contextmanager
def guarded(what: str = "") -> Iterator[None]:
    """Show a failure inside the block as one ``st.error`` line and stop the page, never a traceback."""
    try:
        yield
    except (RiskParamsError, ValueError) as exc:  # user-facing: the message names what is wrong
        st.error(str(exc) if str(exc).endswith(".") else f"{exc}.")
        stop()
    except Exception as exc:  # unexpected: still one line, no traceback
        prefix = f"{what} failed" if what else "Something went wrong"
        st.error(f"{prefix}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        stop()


def plain(text: object) -> str:
    """Stored or user text as inert Markdown: shown exactly as itself (:func:`riskparams.export.escape_markdown`),
    for text the page writes through ``st.markdown``, ``st.caption``, ``st.subheader`` or ``st.write``."""
    return escape_markdown(text)


def optional(read: Callable[[], T], what: str) -> T | None:
    """``read()``, or None after one ``st.warning`` line naming ``what`` when a stored record cannot be read (the
    rest of the page still draws; :func:`guarded` stops the page instead)."""
    try:
        return read()
    except (RiskParamsError, ValueError) as exc:
        msg = str(exc).strip()
        st.warning(f"{what} is not shown: {msg if msg.endswith('.') else msg + '.'}")
        return None


def data_version(store: Store) -> tuple[Any, ...]:
    """A cheap key that changes whenever bars are added (used to invalidate cached frames)."""
    return tuple((s.series_id, s.rows, s.last) for s in store.list_series())


@st.cache_data(show_spinner=False, max_entries=64)
def cached_prices(series_id: int, rows: int, last: Any) -> pd.DataFrame:
    """Bars of one series, cached per (series, row count, last bar)."""
    return _open_store().load_prices(series_id)


def synthetic_badge(is_synthetic: bool) -> None:
    """Say plainly when the data shown is synthetic."""
    if is_synthetic:
        st.info("Synthetic demo data: generated, not market data (source label `synthetic`).", icon=":material/science:")


# -- shared pickers ------------------------------------------------------------------------------
def series_picker(store: Store, *, key: str = "series", label: str = "Series", sidebar: bool = True) -> SeriesInfo:
    """Pick one stored series (remembered across pages); defaults to a daily BTC series when there is one."""
    series = store.list_series()
    if not series:
        st.warning("The store is empty. Load data on the Data page or run `riskparams demo`.")
        stop()
    ids = [s.series_id for s in series]
    remembered = st.session_state.get("selected_series_id")
    if remembered in ids:
        index = ids.index(remembered)
    else:
        preferred = [i for i, s in enumerate(series) if s.freq == "1d" and s.symbol.startswith("BTC")]
        index = preferred[0] if preferred else 0
    where = st.sidebar if sidebar else st
    choice = where.selectbox(label, range(len(series)), index=index, key=key,
                             format_func=lambda i: series[i].label)
    info = series[int(choice if choice is not None else index)]
    st.session_state["selected_series_id"] = info.series_id
    return info


def clear_data_caches() -> None:
    """Forget cached frames and fits after the store changed."""
    cached_prices.clear()
    cached_quality.clear()
    cached_realized.clear()
    cached_model_panel.clear()
    cached_losses.clear()
    cached_overview.clear()
    _flags_for.clear()
    cached_sensitivity.clear()
    _cached_book_view.clear()


# -- cached library calls (keyed by the series' extent so new bars invalidate them) -----------------
@st.cache_data(show_spinner=False, max_entries=64)
def cached_quality(series_id: int, rows: int, last: Any, stale_bars: int | None, outlier_z: float) -> QualityReport:
    """Quality report of one series."""
    info = _open_store().get_series(series_id)
    return quality_report(cached_prices(series_id, rows, last), info.freq, stale_min_bars=stale_bars,
                          outlier_z=outlier_z)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_realized(series_id: int, rows: int, last: Any, window: int, lam: float) -> pd.DataFrame:
    """Realized-volatility panel of one series (annualised)."""
    info = _open_store().get_series(series_id)
    return views.realized_panel(cached_prices(series_id, rows, last), info.freq, window=window, lam=lam)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_model_panel(series_id: int, rows: int, last: Any, dist: str, mean: str, horizon_hours: float,
                       confidence: float) -> views.ModelPanel:
    """GARCH-family and EWMA fits of one series (also cached in the store)."""
    return views.model_panel(_open_store(), series_id, dist=dist, mean=mean, horizon_hours=horizon_hours,
                             confidence=confidence)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_losses(series_id: int, rows: int, last: Any, holdout: int, dist: str, mean: str, proxy: str) -> pd.DataFrame:
    """Out-of-sample model losses of one series."""
    info = _open_store().get_series(series_id)
    return views.model_losses(cached_prices(series_id, rows, last), info.freq, holdout=holdout, dist=dist,
                              mean=mean, proxy=proxy)


# -- actions -----------------------------------------------------------------------------------------
def ingest_upload(store: Store, name: str, data: bytes, *, symbol: str, source: str, kind: str | None,
                  freq: str | None, replace: bool) -> IngestReport:
    """Ingest an uploaded file through the same validated path as ``riskparams ingest``.

    The bytes are written under their own (base) name in a private temporary folder so error messages
    name the file the user chose.
    """
    safe = Path(name).name or "upload.csv"
    with tempfile.TemporaryDirectory(prefix="riskparams-upload-") as tmp:
        path = Path(tmp) / safe
        path.write_bytes(data)
        report = ingest.ingest_file(store, path, symbol=symbol, source=source, kind=kind, freq=freq,
                                    replace=replace)
    clear_data_caches()
    return report


def run_fetch(store: Store, *, exchange: str, market: str, timeframe: str, since: str | None) -> IngestReport:
    """Fetch from an exchange with a progress bar (see :func:`riskparams.ingest.fetch`)."""
    bar = st.progress(0.0, text=f"Fetching {market} {timeframe} from {exchange}...")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / total) if total else 1.0, text=f"{done} of about {total} bars")

    try:
        report = ingest.fetch(store, exchange=exchange, symbol=market, timeframe=timeframe, since=since or None,
                              progress=progress)
    finally:
        bar.empty()
    clear_data_caches()
    return report


def load_demo(store: Store) -> list[IngestReport]:
    """Load the synthetic demo universe (idempotent)."""
    with st.spinner("Generating the synthetic demo universe..."):
        reports = ingest.load_demo(store)
    clear_data_caches()
    return reports


def remove_demo(store: Store) -> list[SeriesInfo]:
    """Remove the synthetic demo data (see :func:`riskparams.service.remove_demo`) and forget cached frames."""
    removed = service.remove_demo(store)
    clear_data_caches()
    return removed


_NOTICE = "riskparams_notice"


def notice(text: str) -> None:
    """After an action that changed the store: rerun the page so every table drawn before the action shows the new
    data, and say ``text`` at the top of the rerun (:func:`show_notice`)."""
    clear_data_caches()
    st.session_state[_NOTICE] = text
    st.rerun()


def show_notice() -> None:
    """Draw (once) the message of the last :func:`notice`."""
    text = st.session_state.pop(_NOTICE, None)
    if text:
        st.success(text, icon=":material/check_circle:")


# -- column formats shared by the pages' tables ---------------------------------------------------------------
PERCENT_STEP = 0.0001
"""The step of every percent column: Streamlit shows ``format="percent"`` with the step's decimals less two, so
a step of 0.0001 gives exactly two decimals (68.30% next to 52.24%); without a step it drops trailing zeros."""


def percent(label: str, help: str | None = None) -> Any:
    """A column of fractions shown in percent with two decimals (0.015 -> 1.50%, 0.683 -> 68.30%): every
    percent column of every page's tables, so they all read alike."""
    return st.column_config.NumberColumn(label, format="percent", step=PERCENT_STEP, help=help)


SERIES_COLUMNS: dict[str, Any] = {
    "synthetic": st.column_config.CheckboxColumn("synthetic"),
    "rows": st.column_config.NumberColumn("bars", format="localized"),
    "first": st.column_config.TextColumn("first bar (UTC)"),
    "last": st.column_config.TextColumn("last bar (UTC)"),
}
"""The Data page's stored-series table."""

INGEST_LOG_COLUMNS: dict[str, Any] = {
    "ingest_id": None,
    "ingested_at": st.column_config.DatetimeColumn("ingested (UTC)", format="YYYY-MM-DD HH:mm"),
    "file_hash": None,
    **{c: st.column_config.NumberColumn(c.replace("_", " "), format="localized")
       for c in ("rows_read", "rows_added", "rows_replaced", "duplicates_dropped", "gaps", "missing_bars")},
}
"""The Data page's ingest log (the id and file hash are in ``riskparams assets`` and the store)."""

MODEL_TABLE_ORDER = ("requested", "model", "dist", "var", "es", "horizon_vol", "next_vol_ann", "long_run_vol_ann",
                     "stressed_vol_ann", "half_life_bars", "persistence", "tail", "bic", "loglik", "converged",
                     "fallback", "note")
"""Column order of the Volatility page's model table (:meth:`riskparams.views.ModelPanel.table`): the horizon risk
(VaR, ES) right after the model, fit statistics and notes last."""

INGEST_LOG_ORDER = ("ingested_at", "symbol", "freq", "kind", "rows_added", "rows_replaced", "rows_read",
                    "duplicates_dropped", "gaps", "missing_bars", "source", "origin")
"""Column order of the ingest log: what changed first, where it came from last."""


# -- proposals and governance ---------------------------------------------------------------------------
def generate_proposal(store: Store, *, profile: str, policy: Any, current: Any, symbols: list[str] | None,
                      **options: Any) -> Any:
    """Run :func:`riskparams.service.propose` with a progress bar (``options``: its ``freq``, ``kind``,
    ``options``, ``peers``, ``debt_asset``); returns the ProposalRun."""
    bar = st.progress(0.0, text="Fitting volatility models...")

    def progress(done: int, total: int, symbol: str) -> None:
        bar.progress(done / max(total, 1), text=f"{symbol}: fitting and proposing ({done + 1} of {total})")

    try:
        return service.propose(store, profile=profile, policy=policy, current=current, symbols=symbols,
                               progress=progress, **options)
    finally:
        bar.empty()


def peers_from_upload(upload: Any, *, example: bool = False) -> Any:
    """Other venues' tier tables from an ``st.file_uploader`` CSV, the shipped example
    (``riskparams/examples/peers.csv``) when ``example``, else None."""
    from riskparams import params_io

    if upload is not None:
        return params_io.parse_peers(upload.getvalue().decode("utf-8", errors="replace"), name=upload.name)
    if example:
        from importlib import resources

        return params_io.load_peers(str(resources.files("riskparams") / "examples" / "peers.csv"))
    return None


def now() -> Any:
    """The current UTC time (for the pages' warnings about old data)."""
    from riskparams.store.core import now_utc

    return now_utc()


def number_list(text: str, what: str) -> tuple[float, ...]:
    """Numbers from a comma-separated text field (at most 20); a bad entry is one sentence for ``st.error``."""
    from riskparams.exceptions import PolicyError

    out = []
    for part in [x.strip() for x in str(text).split(",") if x.strip()][:21]:
        try:
            v = float(part)
        except ValueError:
            raise PolicyError(f"{what}: {part!r} is not a number; write numbers separated by commas.") from None
        out.append(v)
    if not out or len(out) > 20:
        raise PolicyError(f"{what}: give between 1 and 20 numbers separated by commas.")
    return tuple(out)


@st.cache_resource(show_spinner=False, max_entries=16)
def cached_sensitivity(series_id: int, rows: int, last: Any, symbol: str, freq: str, kind: str,
                       horizons: tuple[float, ...], confidences: tuple[float, ...]) -> Any:
    """:func:`riskparams.service.sensitivity` of one series (through the fit cache), per data version."""
    return service.sensitivity(_open_store(), symbol, horizons=horizons, confidences=confidences, freq=freq, kind=kind)


# -- who is acting (see riskparams.auth and `riskparams serve --auth`) --------------------------------
_IDENTITY = "riskparams_identity"


def acting_member(committee: Committee | None = None) -> Member | None:
    """Who acts on this page, by the dashboard's sign-in mode; None when the page is view-only.

    Every page calls it once, right after :func:`setup_page`: it draws the mode and the identity in the
    sidebar (with the local picker, or the log-in / log-out button) and, in ``local`` mode, the banner that
    anyone with the page can act as any member. ``committee`` defaults to the committee file.
    """
    try:
        config = auth.AuthConfig.from_env(os.environ)
    except auth.AuthConfigError as exc:
        note = f"Sign-in is misconfigured, so the pages are view-only: {exc}"
        # recorded as a signed-in mode without an identity: nothing may be changed
        st.session_state[_IDENTITY] = auth.Identity(mode=AuthMode.PROXY_HEADER, member=None, note=note)
        st.error(note)
        return None
    identity = _identity(config, committee)
    st.session_state[_IDENTITY] = identity
    if identity.member is not None:
        (st.sidebar.warning if identity.mode is AuthMode.LOCAL else st.sidebar.success)(
            identity.note, icon=":material/badge:")
    else:
        st.sidebar.info(identity.note, icon=":material/visibility:")
    st.sidebar.caption(identity.mode_label)
    if not identity.may_change_data:
        st.info(f"View only. {identity.note}", icon=":material/visibility:")
    if identity.mode is AuthMode.OIDC:
        if identity.signed_in:
            if st.sidebar.button("Log out", key="auth-logout"):
                st.logout()
        elif st.sidebar.button("Log in", key="auth-login", type="primary"):
            with guarded("Log in"):
                st.login()
    return identity.member


def _identity(config: auth.AuthConfig, committee: Committee | None) -> auth.Identity:
    if config.mode is AuthMode.LOCAL:
        st.warning(auth.LOCAL_BANNER, icon=":material/lock_open:")
    try:
        committee = store_committee(get_store()) if committee is None else committee
    except RiskParamsError as exc:
        return auth.Identity(mode=config.mode, member=None, note=f"No committee, so nobody acts: {exc}",
                             may_change_data=config.mode is AuthMode.LOCAL)
    if config.mode is AuthMode.OIDC:
        return auth.oidc_identity(st.user.to_dict(), committee)
    if config.mode is AuthMode.PROXY_HEADER:
        headers, ip = st.context.headers, st.context.ip_address
        peer = ip if ip is None or isinstance(ip, str) else "an unknown address"  # None: loopback
        return auth.proxy_identity({k: headers.get_all(k) for k in headers}, peer, config, committee)
    return auth.local_identity(_member_picker(committee), committee)


def store_committee(store: Store) -> Committee:
    """The committee that governs the store: the one registered in its audit log; before any governance action
    the file given to ``riskparams serve --committee`` ($RISKPARAMS_COMMITTEE) or the example. A committee file
    given to ``serve`` that is not the registered one is an error (one sentence)."""
    given = governance.load_committee() if os.environ.get(governance.COMMITTEE_ENV_VAR) else None
    return governance.store_committee(store, given)


def _member_picker(committee: Committee) -> str | None:
    """``local`` mode: who acts, chosen in the sidebar (no default; remembered across pages)."""
    handles = [m.handle for m in committee.members]
    labels = {m.handle: f"{m.name} ({m.role})" for m in committee.members}
    remembered = st.session_state.get("acting_member")
    index = handles.index(remembered) if remembered in handles else None
    who = st.sidebar.selectbox("Acting as", handles, index=index, key="member", format_func=lambda h: labels[h],
                               placeholder="Choose who you are")
    st.session_state["acting_member"] = who
    return None if who is None else str(who)


def identity_note() -> str:
    """The sentence of the page's :func:`acting_member` call: who acts, or why nobody does."""
    identity = st.session_state.get(_IDENTITY)
    return identity.note if identity is not None else "Nobody is signed in."


def can_change_data() -> bool:
    """May this session add data, proposals or backtest reports? In ``local`` mode anyone; with sign-in only a
    committee member (read from the page's :func:`acting_member` call)."""
    identity = st.session_state.get(_IDENTITY)
    return identity is not None and identity.may_change_data


def comment_box(label: str, *, scope: Any, key: str = "comment", disabled: bool = False) -> str:
    """A text box for the comment of one committee action. It is emptied after each recorded action
    (:func:`clear_comment`) and whenever ``scope`` (who acts on which proposal) changes, so a comment never
    carries over to another action or another member."""
    scope_key, clear_key = f"{key}:scope", f"{key}:clear"
    if st.session_state.pop(clear_key, False) or st.session_state.get(scope_key) != scope:
        st.session_state[key] = ""
    st.session_state[scope_key] = scope
    return str(st.text_input(label, key=key, disabled=disabled) or "")


def clear_comment(key: str = "comment") -> None:
    """Empty :func:`comment_box` on the next run (call after an action was recorded)."""
    st.session_state[f"{key}:clear"] = True


@st.cache_data(show_spinner=False, max_entries=8)
def cached_overview(version: tuple[Any, ...]) -> pd.DataFrame:
    """The overview table (freshness, volatility regime), cached per data version."""
    return views.overview(_open_store())


def cached_flags(store: Store) -> pd.DataFrame:
    """Assets whose current parameters fall below the policy's coverage (newest proposals), cached per set of
    newest proposal ids (one small query decides whether the stored proposals must be read again)."""
    from riskparams.store.records import list_proposals

    return _flags_for(store.path, tuple(p["id"] for p in list_proposals(store, limit=20)))


@st.cache_data(show_spinner=False, max_entries=8)
def _flags_for(store_path: str, proposal_ids: tuple[str, ...]) -> pd.DataFrame:
    return views.coverage_flags(_open_store())


def run_backtest(store: Store, **kwargs: Any) -> Any:
    """Run :func:`riskparams.service.backtest` with a progress bar; returns the BacktestRun."""
    bar = st.progress(0.0, text="Preparing the walk-forward replay...")

    def progress(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{message} ({done} of {total})")

    try:
        return service.backtest(store, progress=progress, **kwargs)
    finally:
        bar.empty()


TRAFFIC_COLORS: dict[str, Literal["green", "orange", "red", "gray"]] = {
    "green": "green", "yellow": "orange", "red": "red",
}


def traffic_badges(results: list[dict[str, Any]]) -> None:
    """One coloured badge per asset and parameter set: the traffic-light zone of its exceptions (one line of
    badges that wraps, so no badge is cut short)."""
    badges = []
    for r in results:
        zone = str(r.get("traffic_light") or "n/a")
        text = (f"{r['symbol']} · {r['parameter_set']}: {zone} ({r['exceptions']:,} of {r['n']:,}, "
                f"expected {r['expected']:,.1f})")
        text = text.replace("\\", "").replace("[", "(").replace("]", ")")  # badge text, not Markdown
        badges.append(f":{TRAFFIC_COLORS.get(zone, 'gray')}-badge[{text}]")
    st.markdown(" ".join(badges))


BACKTEST_COLUMNS: dict[str, Any] = {
    "parameter_set": st.column_config.TextColumn("parameter set"),
    "n": st.column_config.NumberColumn("observations", format="localized"),
    "expected": st.column_config.NumberColumn("expected", format="%.1f"),
    "confidence": percent("confidence"),
    "traffic_light": st.column_config.TextColumn("zone"),
    "kupiec_p": st.column_config.NumberColumn("Kupiec p", format="%.3g"),
    "christoffersen_p": st.column_config.NumberColumn("Christoffersen p", format="%.3g"),
    "cc_p": st.column_config.NumberColumn("CC p", format="%.3g"),
    "avg_margin": percent("avg margin"),
    "peak_to_trough": percent("peak to trough"),
    "max_5d_increase": percent("max 5-day increase"),
    "liquidations": st.column_config.NumberColumn("liquidations", format="localized"),
    "bad_debt": st.column_config.NumberColumn("bad debt", format="compact"),
}
"""The Backtest page's coverage table (:func:`riskparams.views.backtest_frame`)."""

BACKTEST_ORDER = ("symbol", "parameter_set", "exceptions", "expected", "n", "traffic_light", "kupiec_p", "cc_p",
                  "christoffersen_p", "avg_margin", "max_5d_increase", "peak_to_trough", "liquidations", "bad_debt",
                  "confidence")
"""Column order of the coverage table: the counts and tests first; likelihood-ratio statistics are in the report
JSON."""


def current_from_upload(upload: Any, profile: str) -> Any:
    """Current parameters from an ``st.file_uploader`` file (CSV or JSON, see :mod:`riskparams.params_io`),
    or None when nothing was uploaded. Errors name the uploaded file, row, column and value."""
    if upload is None:
        return None
    from riskparams import params_io

    fmt = "json" if upload.name.lower().endswith(".json") else "csv"
    return params_io.parse_current(upload.getvalue().decode("utf-8", errors="replace"), name=upload.name,
                                   profile=profile, fmt=fmt)


def _file(upload: Any) -> tuple[str, bytes] | None:
    """An ``st.file_uploader`` file as (name, bytes), a cache key; None when nothing was uploaded."""
    return None if upload is None else (str(upload.name), bytes(upload.getvalue()))


def book_view(store: Store, proposal_id: str | None, *, profile: str, positions: Any = None, current: Any = None,
              save: bool = False) -> Any:
    """The Book page's :func:`riskparams.views.book_view`, cached by its inputs: the proposal, the uploaded
    positions and current-parameters files (``st.file_uploader`` files or None; keyed by name and bytes), the
    stored prices (:func:`data_version`) and the impacts stored with the proposal. Storing the impact (``save``)
    runs uncached and clears the cache; a bad file raises (nothing is cached then)."""
    upload, cur = _file(positions), _file(current)
    if save:
        view = _book_view(store, proposal_id, upload, cur, profile, save=True)
        _cached_book_view.clear()
        return view
    from riskparams.store.impact_records import list_impacts

    stored = () if proposal_id is None else tuple(r.id for r in list_impacts(store, proposal_id))
    return _cached_book_view(store.path, data_version(store), proposal_id, upload, cur, profile, stored)


def _book_view(store: Store, proposal_id: str | None, upload: tuple[str, bytes] | None,
               cur: tuple[str, bytes] | None, profile: str, *, save: bool = False) -> Any:
    from types import SimpleNamespace

    current = None if cur is None else current_from_upload(SimpleNamespace(name=cur[0], getvalue=lambda: cur[1]),
                                                           profile)
    return views.book_view(store, proposal_id, upload=upload, current=current, save=save)


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_book_view(store_path: str, version: tuple[Any, ...], proposal_id: str | None,
                      upload: tuple[str, bytes] | None, cur: tuple[str, bytes] | None, profile: str,
                      stored_impacts: tuple[str, ...]) -> Any:
    return _book_view(_open_store(), proposal_id, upload, cur, profile)


def _texts(values: Any, fmt: Any) -> list[str]:
    """``fmt(v)`` of each finite number, ``-`` where a value is missing, not a number or infinite."""
    out = []
    for x in values:
        try:
            v = float(x)
        except (TypeError, ValueError):
            v = float("nan")
        out.append(fmt(v) if v == v and abs(v) != float("inf") else "-")
    return out


def percent_text(values: Any) -> list[str]:
    """Fractions as percent text with two decimals (0.9413 -> ``94.13%``), ``-`` where a value is missing (None
    or NaN): for a column whose blanks mean "nothing to share" (Streamlit draws a missing number as "None")."""
    return _texts(values, lambda v: f"{v:.2%}")


def count_text(values: Any) -> list[str]:
    """Counts as text with thousands separators (1151 -> ``1,151``), ``-`` where a count is missing (a stress
    window not in the data)."""
    return _texts(values, lambda v: f"{int(v):,}")


@st.cache_resource(show_spinner=False, max_entries=16)
def cached_backtest_content(report_id: str) -> dict[str, Any]:
    """A stored backtest report's content, read and hash-checked once per report: a report id is the
    hash of its content, so the content never changes (shared between reruns: do not mutate)."""
    return service.get_backtest(_open_store(), report_id).content


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_backtest_figures(report_id: str, symbol: str) -> dict[str, Any]:
    """The figures of one asset of a stored backtest report (see :func:`service.backtest_figures`)."""
    return service.backtest_figures(cached_backtest_content(report_id), symbol)


# -- sweeps (issue 16): a sweep id is the SHA-256 of its content, so the content and its figure never change ------
@st.cache_resource(show_spinner=False, max_entries=16)
def cached_sweep_report(sweep_id: str) -> Any:
    """A stored sweep (full id) read typed (:class:`riskparams.store.sweep_records.StoredSweepReport`, frozen),
    read and hash-checked once per sweep id instead of on every rerun (every click on the frontier); shared
    between reruns and sessions."""
    return service.get_sweep(_open_store(), sweep_id).report


@st.cache_resource(show_spinner=False, max_entries=16)
def cached_sweep_frontier(sweep_id: str) -> Any:
    """The frontier figure (:func:`riskparams.charts.sweep_frontier`) of a stored sweep, built once per sweep id."""
    from riskparams import charts

    return charts.sweep_frontier(cached_sweep_report(sweep_id).variants)


SWEEP_COLUMNS: dict[str, Any] = {
    "variant": st.column_config.NumberColumn("variant", format="%d"),
    "changes": st.column_config.TextColumn("changes", help="the policy keys this variant sets (the chart's label)"),
    "avg_margin": percent("avg margin", help="average tier-1 margin over the replay"),
    "bad_debt": st.column_config.NumberColumn("bad debt", format="compact", help="quote currency"),
    "exceptions": st.column_config.NumberColumn("exceptions", format="localized"),
    "expected": st.column_config.NumberColumn("expected", format="%.1f"),
    "kupiec_p": st.column_config.NumberColumn("Kupiec p", format="%.3g"),
    "liquidations": st.column_config.NumberColumn("liquidations", format="localized"),
    "changes_per_year": st.column_config.NumberColumn("changes / year", format="%.1f"),
    "frontier": st.column_config.CheckboxColumn("frontier", help="no variant has both a lower average margin and "
                                                "less bad debt"),
    "var_insolvent_debt": st.column_config.NumberColumn("book VaR 99% insolvent debt", format="compact",
                                                        help="quote currency"),
}
"""The Sweep page's variant table (:func:`riskparams.views.sweep_frame`), formatted like the Backtest page's."""

SWEEP_ORDER = ("variant", "frontier", "avg_margin", "bad_debt", "var_insolvent_debt", "exceptions", "expected",
               "kupiec_p", "liquidations", "changes_per_year", "changes")
"""Column order of the variant table: the figures first, the (long) policy changes last, so that no figure needs a
sideways scroll."""


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_typed_proposal(proposal_id: str) -> Proposal:
    """A stored proposal read as the typed :class:`~riskparams.domain.Proposal`, once per proposal id (a proposal
    id is the hash of its content, so it never changes; frozen, shared between reruns)."""
    return Proposal.from_content(service.proposal(_open_store(), proposal_id).content)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_proposal_figures(proposal_id: str) -> dict[str, list[Any]]:
    """The tier-ladder (``spec``) and covered-move (``covered``) figures of a stored proposal, built once
    per proposal id (its content is immutable; only its status changes)."""
    proposal = cached_typed_proposal(proposal_id)
    return {key: content_figures(proposal, key) for key in ("spec", "covered")}

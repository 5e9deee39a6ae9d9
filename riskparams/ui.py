"""Shared Streamlit glue for ``app.py`` and ``pages/``: the only door to streamlit.

Pages stay thin: read inputs, call one library function through here, draw. Errors reach the page as
one ``st.error`` line, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st

from riskparams import service
from riskparams.exceptions import RiskParamsError
from riskparams.ingest import seed_demo_if_empty
from riskparams.store import Store

PAGE_TITLE = "riskparams"


def setup_page(title: str) -> None:
    """Page config and heading shared by every page."""
    st.set_page_config(page_title=f"{title} · {PAGE_TITLE}", page_icon=":material/balance:", layout="wide")
    st.title(title)


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
    except RiskParamsError as exc:
        st.error(str(exc))
        st.stop()
    except Exception as exc:  # unexpected: still one line, no traceback
        prefix = f"{what} failed" if what else "Something went wrong"
        st.error(f"{prefix}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        st.stop()


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

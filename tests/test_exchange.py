"""Tests of riskparams.ingest.exchange (ccxt OHLCV paging) without any network access."""

from __future__ import annotations

import socket
from typing import Any

import pandas as pd
import pytest

from riskparams.exceptions import ExchangeError, RiskParamsError
from riskparams.ingest import exchange as ex_mod
from riskparams.ingest.exchange import TIMEFRAMES, fetch_ohlcv_frame, make_exchange

# ccxt is reached through the module under test, so exchange.py stays the only importer of ccxt.
ccxt = ex_mod.ccxt

DAY = TIMEFRAMES["1d"]
HOUR = TIMEFRAMES["1h"]
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything in these tests tries to open a connection or resolve a host."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def make_rows(n: int, *, start: int = T0, bar: int = DAY) -> list[list[float]]:
    """Deterministic OHLCV rows: bar i opens at start + i*bar with open 100+i."""
    rows = []
    for i in range(n):
        o = 100.0 + i
        rows.append([start + i * bar, o, o + 2.0, o - 1.0, o + 1.0, 10.0 * (i + 1)])
    return rows


class FakeExchange:
    """In-memory stand-in for a ccxt exchange.

    Serves ``rows`` with at most ``page_limit`` rows per call, records every call, and raises the
    queued ``errors`` (``None`` entries mean "answer normally") before answering.
    """

    id = "fakex"
    rateLimit = 0

    def __init__(
        self,
        rows: list[list[float]],
        *,
        page_limit: int = 3,
        errors: list[BaseException | None] | None = None,
        overlap: int = 0,
        ignore_since: bool = False,
        reverse: bool = False,
        timeframes: dict[str, str] | None = None,
    ) -> None:
        self.rows = rows
        self.page_limit = page_limit
        self.errors = list(errors or [])
        self.overlap = overlap  # serve this many bars before `since` (overlapping pages)
        self.ignore_since = ignore_since
        self.reverse = reverse
        self.timeframes = timeframes if timeframes is not None else {"1h": "1h", "4h": "4h", "1d": "1d"}
        self.has = {"fetchOHLCV": True}
        self.calls: list[dict[str, Any]] = []

    def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[list[float]]:
        self.calls.append({"symbol": symbol, "timeframe": timeframe, "since": since, "limit": limit})
        if self.errors:
            err = self.errors.pop(0)
            if err is not None:
                raise err
        n = min(limit or self.page_limit, self.page_limit)
        if self.ignore_since or since is None:
            page = self.rows[:n]
        else:
            first = next((i for i, r in enumerate(self.rows) if r[0] >= since), len(self.rows))
            first = max(0, first - self.overlap)
            page = self.rows[first : first + n]
        page = [list(r) for r in page]
        return page[::-1] if self.reverse else page

    @property
    def sinces(self) -> list[int | None]:
        return [c["since"] for c in self.calls]


def fetch(exchange: Any, **kwargs: Any) -> pd.DataFrame:
    """fetch_ohlcv_frame with test defaults: BTC/USDT 1d from T0, a fixed clock, no sleeping."""
    kwargs.setdefault("since_ms", T0)
    kwargs.setdefault("now_ms", lambda: T0 + 100 * DAY)
    kwargs.setdefault("sleep", lambda s: pytest.fail(f"unexpected sleep({s})"))
    symbol = kwargs.pop("symbol", "BTC/USDT")
    timeframe = kwargs.pop("timeframe", "1d")
    return fetch_ohlcv_frame(exchange, symbol, timeframe, **kwargs)


# --- paging ---------------------------------------------------------------------------------------


def test_pages_through_all_bars_and_advances_since_by_one_bar() -> None:
    rows = make_rows(10)
    fake = FakeExchange(rows, page_limit=3)

    frame = fetch(fake)

    # pages 0-2, 3-5, 6-8, 9; then an empty page ends the fetch. limit=1000 is requested but the
    # exchange caps pages at 3: short pages must not end the fetch.
    assert fake.sinces == [T0, T0 + 3 * DAY, T0 + 6 * DAY, T0 + 9 * DAY, T0 + 10 * DAY]
    assert all(
        c["limit"] == 1000 and c["symbol"] == "BTC/USDT" and c["timeframe"] == "1d" for c in fake.calls
    )
    assert list(frame.columns) == ["ts", "open", "high", "low", "close", "volume"]
    assert len(frame) == 10
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    for col in ["open", "high", "low", "close", "volume"]:
        assert frame[col].dtype == "float64"
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert frame["ts"].iloc[-1] == pd.Timestamp("2024-01-10", tz="UTC")
    assert frame["open"].tolist() == [100.0 + i for i in range(10)]
    assert frame["volume"].tolist() == [10.0 * (i + 1) for i in range(10)]
    assert isinstance(frame.index, pd.RangeIndex)


def test_passes_limit_to_the_exchange() -> None:
    fake = FakeExchange(make_rows(5), page_limit=100)
    frame = fetch(fake, limit=2)
    assert [c["limit"] for c in fake.calls] == [2, 2, 2, 2]
    assert fake.sinces == [T0, T0 + 2 * DAY, T0 + 4 * DAY, T0 + 5 * DAY]
    assert len(frame) == 5


def test_stops_at_until_and_excludes_bars_at_or_after_it() -> None:
    fake = FakeExchange(make_rows(10), page_limit=3)

    frame = fetch(fake, until_ms=T0 + 5 * DAY)

    assert fake.sinces == [T0, T0 + 3 * DAY]  # no request starting at or after `until`
    assert frame["ts"].iloc[-1] == pd.Timestamp("2024-01-05", tz="UTC")
    assert len(frame) == 5


def test_keeps_only_bars_from_since_on() -> None:
    fake = FakeExchange(make_rows(10), page_limit=4, overlap=2)
    frame = fetch(fake, since_ms=T0 + 3 * DAY)
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-01-04", tz="UTC")
    assert len(frame) == 7


def test_stops_at_now_when_until_is_omitted() -> None:
    rows = make_rows(48, bar=HOUR)
    fake = FakeExchange(rows, page_limit=10)
    now = T0 + 20 * HOUR  # bar 19 (opened at T0+19h) closes exactly now, bar 20 just opened

    frame = fetch(fake, timeframe="1h", now_ms=lambda: now)

    assert len(frame) == 20
    assert frame["ts"].iloc[-1] == pd.Timestamp("2024-01-01 19:00", tz="UTC")
    assert max(s for s in fake.sinces if s is not None) < now


def test_drops_the_still_open_last_bar() -> None:
    fake = FakeExchange(make_rows(10), page_limit=5)
    now = T0 + 9 * DAY + 12 * HOUR  # bar 9 opened at T0+9d and is half-way through

    frame = fetch(fake, now_ms=lambda: now)

    assert fake.sinces == [T0, T0 + 5 * DAY]  # the second page does contain bar 9 ...
    assert len(frame) == 9  # ... but it is not returned
    assert frame["ts"].iloc[-1] == pd.Timestamp("2024-01-09", tz="UTC")


def test_until_in_the_future_is_capped_at_now() -> None:
    fake = FakeExchange(make_rows(10), page_limit=5)
    frame = fetch(fake, until_ms=T0 + 365 * DAY, now_ms=lambda: T0 + 9 * DAY + 1)
    assert len(frame) == 9


def test_overlapping_pages_are_deduplicated_and_sorted() -> None:
    fake = FakeExchange(make_rows(10), page_limit=4, overlap=2)  # every page repeats 2 bars

    frame = fetch(fake)

    assert len(fake.calls) > 3
    assert len(frame) == 10
    assert frame["ts"].is_unique
    assert frame["ts"].is_monotonic_increasing
    assert frame["open"].tolist() == [100.0 + i for i in range(10)]


def test_duplicate_bars_keep_the_later_copy() -> None:
    rows = make_rows(4)
    revised = list(rows[2])
    revised[4] = 999.0  # same bar served again with a revised close
    fake = FakeExchange([*rows[:3], revised, rows[3]], page_limit=10)

    frame = fetch(fake)

    assert len(frame) == 4
    assert frame.loc[2, "close"] == 999.0


def test_pages_in_descending_order_are_sorted() -> None:
    fake = FakeExchange(make_rows(7), page_limit=3, reverse=True)
    frame = fetch(fake)
    assert fake.sinces == [T0, T0 + 3 * DAY, T0 + 6 * DAY, T0 + 7 * DAY]
    assert frame["ts"].is_monotonic_increasing
    assert len(frame) == 7


def test_page_that_does_not_advance_stops_the_loop() -> None:
    # An exchange that ignores `since` and always serves the same first page.
    fake = FakeExchange(make_rows(10), page_limit=3, ignore_since=True)

    frame = fetch(fake)

    assert fake.sinces == [T0, T0 + 3 * DAY]
    assert len(frame) == 3


def test_page_entirely_before_the_cursor_stops_the_loop() -> None:
    # Ignoring `since` with the newest bars only: page 2 would restart in the past.
    class Stubborn(FakeExchange):
        def fetch_ohlcv(
            self,
            symbol: str,
            timeframe: str = "1m",
            since: int | None = None,
            limit: int | None = None,
            params: dict[str, Any] | None = None,
        ) -> list[list[float]]:
            self.calls.append({"symbol": symbol, "timeframe": timeframe, "since": since, "limit": limit})
            return [list(r) for r in self.rows[2:5]]

    fake = Stubborn(make_rows(10))
    frame = fetch(fake)
    assert len(fake.calls) == 2
    assert frame["open"].tolist() == [102.0, 103.0, 104.0]


def test_history_starting_after_since_is_returned_from_its_first_bar() -> None:
    fake = FakeExchange(make_rows(5, start=T0 + 50 * DAY), page_limit=3)
    frame = fetch(fake)
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-02-20", tz="UTC")
    assert len(frame) == 5


def test_no_bars_gives_an_empty_frame_with_the_right_columns() -> None:
    fake = FakeExchange([], page_limit=3)
    frame = fetch(fake)
    assert frame.empty
    assert list(frame.columns) == ["ts", "open", "high", "low", "close", "volume"]
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert (frame.dtypes.iloc[1:] == "float64").all()


def test_missing_volume_becomes_nan() -> None:
    rows = make_rows(2)
    rows[1][5] = None  # type: ignore[call-overload]
    frame = fetch(FakeExchange(rows))
    assert frame["volume"].isna().tolist() == [False, True]


def test_malformed_bar_is_an_exchange_error() -> None:
    fake = FakeExchange([[T0, 1.0, 2.0]])
    with pytest.raises(ExchangeError, match="malformed bar"):
        fetch(fake)


def test_empty_window_is_rejected() -> None:
    fake = FakeExchange(make_rows(3))
    with pytest.raises(ExchangeError, match="window is empty"):
        fetch(fake, until_ms=T0)
    assert fake.calls == []


def test_bad_arguments_raise_value_error() -> None:
    fake = FakeExchange(make_rows(3))
    with pytest.raises(ValueError, match="limit"):
        fetch(fake, limit=0)
    with pytest.raises(ValueError, match="max_retries"):
        fetch(fake, max_retries=-1)


# --- progress -------------------------------------------------------------------------------------


def test_progress_reports_after_each_page_and_ends_complete() -> None:
    fake = FakeExchange(make_rows(10), page_limit=4)
    seen: list[tuple[int, int]] = []

    fetch(fake, until_ms=T0 + 10 * DAY, progress=lambda done, total: seen.append((done, total)))

    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_progress_total_shrinks_when_history_starts_late_and_completes() -> None:
    fake = FakeExchange(make_rows(6, start=T0 + 4 * DAY), page_limit=3)
    seen: list[tuple[int, int]] = []

    # Window of 20 days, but the market only has 6 bars from day 4 on.
    fetch(fake, until_ms=T0 + 20 * DAY, progress=lambda d, t: seen.append((d, t)))

    assert seen[0] == (3, 3 + 13)  # 3 bars done, days 7..19 still expected
    assert all(done <= total for done, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (6, 6)


def test_progress_is_completed_even_without_any_page() -> None:
    seen: list[tuple[int, int]] = []
    fetch(FakeExchange([]), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 0)]


# --- rate limits and errors -----------------------------------------------------------------------


def test_rate_limit_is_retried_with_growing_backoff() -> None:
    errors: list[BaseException | None] = [
        None,  # first page fine
        ccxt.RateLimitExceeded("fakex 429 Too Many Requests"),
        ccxt.DDoSProtection("fakex 418"),
        ccxt.RateLimitExceeded("fakex 429 Too Many Requests"),
    ]
    fake = FakeExchange(make_rows(6), page_limit=3, errors=errors)
    delays: list[float] = []

    frame = fetch(fake, sleep=delays.append, max_retries=3, backoff_s=0.5)

    assert delays == [0.5, 1.0, 2.0]
    assert all(b > a for a, b in zip(delays, delays[1:], strict=False))
    assert len(frame) == 6
    # the page that was refused is asked again with the same `since`
    assert fake.sinces == [T0, T0 + 3 * DAY, T0 + 3 * DAY, T0 + 3 * DAY, T0 + 3 * DAY, T0 + 6 * DAY]


def test_backoff_resets_for_each_page_and_respects_rate_limit_floor() -> None:
    errors: list[BaseException | None] = [ccxt.RateLimitExceeded("x"), None, ccxt.RateLimitExceeded("x")]
    fake = FakeExchange(make_rows(6), page_limit=3, errors=errors)
    fake.rateLimit = 2000  # ms: never back off for less than the exchange's own spacing
    delays: list[float] = []

    fetch(fake, sleep=delays.append, backoff_s=0.5)

    assert delays == [2.0, 2.0]


def test_retries_exhausted_is_an_exchange_error() -> None:
    fake = FakeExchange(make_rows(6), errors=[ccxt.RateLimitExceeded("fakex 429 Too Many Requests")] * 10)
    delays: list[float] = []

    with pytest.raises(ExchangeError, match="rate limit") as info:
        fetch(fake, sleep=delays.append, max_retries=3)

    assert delays == [1.0, 2.0, 4.0]
    assert len(fake.calls) == 4
    assert "after 3 retries" in str(info.value)
    assert "BTC/USDT 1d bars" in str(info.value)
    assert isinstance(info.value, RiskParamsError)
    assert isinstance(info.value.__cause__, ccxt.RateLimitExceeded)


@pytest.mark.parametrize(
    "error",
    [
        ccxt.NetworkError("fakex GET https://api.fakex.com/api/v3/klines?symbol=BTCUSDT&interval=1d"),
        ccxt.RequestTimeout("fakex GET https://api.fakex.com/api/v3/klines"),
        ccxt.ExchangeNotAvailable("fakex GET https://api.fakex.com/api/v3/klines 503 Service Unavailable"),
    ],
    ids=["network", "timeout", "not-available"],
)
def test_network_error_says_could_not_reach(error: BaseException) -> None:
    fake = FakeExchange(make_rows(6), errors=[error])

    with pytest.raises(ExchangeError) as info:
        fetch(fake)

    message = str(info.value)
    assert message.startswith("Could not reach fakex to fetch BTC/USDT 1d bars: ")
    assert message.endswith("Check the network connection and try again.")
    assert "http" not in message  # no URL noise
    assert "\n" not in message
    assert len(fake.calls) == 1  # not retried


def test_offline_reason_is_short_and_plain() -> None:
    err = ccxt.NetworkError("binance GET https://api.binance.com/api/v3/exchangeInfo")
    err.__cause__ = OSError(
        "HTTPSConnectionPool(host='api.binance.com', port=443): Max retries exceeded with url: "
        '/api/v3/exchangeInfo (Caused by NameResolutionError("<urllib3.connection.HTTPSConnection '
        "object at 0x7f>: Failed to resolve 'api.binance.com' ([Errno -3] Temporary failure in name "
        'resolution)"))'
    )
    fake = FakeExchange(make_rows(3), errors=[err])
    fake.id = "binance"

    with pytest.raises(ExchangeError) as info:
        fetch(fake)

    assert str(info.value) == (
        "Could not reach binance to fetch BTC/USDT 1d bars: the exchange's host name could not be "
        "resolved (is the machine offline?). Check the network connection and try again."
    )


def test_bad_symbol_names_the_market() -> None:
    fake = FakeExchange(make_rows(3), errors=[ccxt.BadSymbol("fakex does not have market symbol BTC/USDX")])

    with pytest.raises(ExchangeError, match=r"fakex has no market 'BTC/USDX'; check the symbol") as info:
        fetch(fake, symbol="BTC/USDX")

    assert isinstance(info.value.__cause__, ccxt.BadSymbol)


def test_generic_exchange_error_quotes_a_short_reason() -> None:
    err = ccxt.ExchangeError('fakex {"code":-1100,"msg":"Illegal characters found in parameter."}')
    fake = FakeExchange(make_rows(3), errors=[err])

    with pytest.raises(ExchangeError) as info:
        fetch(fake)

    assert str(info.value) == (
        "fakex rejected the request for BTC/USDT 1d bars: Illegal characters found in parameter."
    )


def test_long_reasons_are_truncated() -> None:
    fake = FakeExchange(make_rows(3), errors=[ccxt.ExchangeError("fakex " + "x" * 1000)])
    with pytest.raises(ExchangeError) as info:
        fetch(fake)
    assert len(str(info.value)) < 250


def test_timeframe_not_supported_by_riskparams() -> None:
    fake = FakeExchange(make_rows(3))
    with pytest.raises(ExchangeError, match=r"'15m' is not supported by riskparams; use one of 1h, 4h, 1d"):
        fetch(fake, timeframe="15m")
    assert fake.calls == []


def test_timeframe_not_offered_by_the_exchange() -> None:
    fake = FakeExchange(make_rows(3), timeframes={"1m": "1", "1h": "60", "1d": "1D"})
    with pytest.raises(ExchangeError, match=r"fakex does not offer 4h bars; use one of 1h, 1d\."):
        fetch(fake, timeframe="4h")
    assert fake.calls == []


def test_exchange_without_ohlcv_is_refused() -> None:
    fake = FakeExchange(make_rows(3))
    fake.has = {"fetchOHLCV": False}
    with pytest.raises(ExchangeError, match="does not provide OHLCV"):
        fetch(fake)
    assert fake.calls == []


# --- make_exchange and real ccxt objects ----------------------------------------------------------


def test_make_exchange_builds_without_network() -> None:
    # The autouse fixture makes any connection attempt fail the test.
    exchange = make_exchange(" Binance ")
    assert isinstance(exchange, ccxt.Exchange)
    assert exchange.id == "binance"
    assert exchange.enableRateLimit is True
    assert "1d" in exchange.timeframes


def test_make_exchange_unknown_name_gives_a_short_hint() -> None:
    with pytest.raises(ExchangeError) as info:
        make_exchange("binanse")
    message = str(info.value)
    assert message.startswith("Unknown exchange 'binanse' (did you mean binance")
    assert "such as binance, bybit, coinbase, kraken or okx" in message
    assert len(message) < 200  # a hint, not the whole list of ccxt exchanges


def test_make_exchange_unknown_name_without_close_match() -> None:
    with pytest.raises(ExchangeError, match=r"^Unknown exchange 'nosuchvenue'; use a ccxt exchange id"):
        make_exchange("nosuchvenue")


def _serve(rows: list[list[float]], page_limit: int, calls: list[int]) -> Any:
    def fetch_ohlcv(
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[list[float]]:
        assert since is not None
        calls.append(since)
        return [list(r) for r in rows if r[0] >= since][: min(limit or page_limit, page_limit)]

    return fetch_ohlcv


def test_real_ccxt_exchange_with_patched_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = make_exchange("binance")
    calls: list[int] = []
    monkeypatch.setattr(exchange, "fetch_ohlcv", _serve(make_rows(7, bar=4 * HOUR), 3, calls))

    frame = fetch(exchange, timeframe="4h", now_ms=lambda: T0 + 7 * 4 * HOUR)

    assert calls == [T0, T0 + 3 * 4 * HOUR, T0 + 6 * 4 * HOUR]
    assert len(frame) == 7


def test_real_ccxt_exchange_errors_are_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = make_exchange("binance")
    raised: list[BaseException] = [
        ccxt.DDoSProtection("binance 418 I'm a teapot"),
        ccxt.NetworkError("binance GET https://api.binance.com/api/v3/klines"),
    ]

    def failing(*args: Any, **kwargs: Any) -> list[list[float]]:
        raise raised.pop(0)

    monkeypatch.setattr(exchange, "fetch_ohlcv", failing)
    delays: list[float] = []

    with pytest.raises(ExchangeError, match="^Could not reach binance to fetch ETH/USDT 1h bars"):
        fetch(exchange, symbol="ETH/USDT", timeframe="1h", sleep=delays.append, backoff_s=0.01)

    # binance's rateLimit (ms) is the floor of the back-off
    assert delays == [exchange.rateLimit / 1000]


def test_real_ccxt_exchange_timeframes_are_checked() -> None:
    exchange = make_exchange("coinbase")  # coinbase offers 1h and 1d but no 4h bars
    with pytest.raises(ExchangeError, match=r"coinbase does not offer 4h bars; use one of 1h, 1d\."):
        fetch(exchange, timeframe="4h")

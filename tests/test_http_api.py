"""The HTTP API connector against a real local server: paging, retries, failures and reruns.

Each test serves the simulated data with its own in-process server (`api_server.serve`) and a
fault plan, points the feed at it with `SOURCE_<ID>_URL`, and runs the ingest steps for real
against the embedded PostgreSQL. Nights are in January–February 2023, one per test and feed, so
no test's window reaches another's data (test_api_feeds uses July 2023 onwards).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta
from urllib.error import HTTPError
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import pytest

from credit_dw.catalog import get_source
from credit_dw.connectors import http as extract_http
from credit_dw.connectors.http import ApiExtractionError, PagingError
from credit_dw.ingest import ledger
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest.ledger import Window, night_end
from credit_dw.simulate import api_server, tax_a_level, tax_arrears
from credit_dw.simulate.api_server import ALWAYS, Faults
from credit_dw.transform import dbt as transform

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def seeded(warehouse_url: str) -> str:
    transform.seed_reference()
    return warehouse_url


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("CREDIT_DW_HTTP_BACKOFF_SECONDS", "0.01")
    for source_id in ("tax_a_level", "tax_arrears"):
        monkeypatch.delenv(extract_http.env_name(source_id), raising=False)


@pytest.fixture()
def server(monkeypatch):
    """A server with a fault plan; `point(source_id)` makes the feed read from it."""
    faults = Faults()
    with api_server.serve(api_server.data_root(), faults=faults) as url:
        def point(source_id: str) -> None:
            monkeypatch.setenv(extract_http.env_name(source_id), url)

        yield url, faults, point


def _file_records(source_id: str, night: date) -> list[dict]:
    return json.loads(api_server.day_file(source_id, night).read_text(encoding="utf-8"))["records"]


def _landed(conn, table: str, batch_id: str) -> list[tuple]:
    return conn.execute(
        f"select _source_file, _source_row, uscc, _extra from raw.{table} where _batch_id = %s order by _row_number",
        (batch_id,),
    ).fetchall()


def _assert_conserved(batch_id: str) -> dict:
    batch = ledger.batch_row(batch_id)
    assert batch["status"] in ("accepted", "rejected"), batch
    assert batch["rows_received"] == batch["rows_accepted"] + batch["rows_quarantined"]
    return batch


# --- through ingest, against a real server ----------------------------------------------------

def test_paging_lands_every_record_once(seeded, conn, server):
    url, faults, point = server
    night = date(2023, 1, 9)
    summary = tax_a_level.simulate(night, scale=3)
    point("tax_a_level")
    # Settle the night before first: a feed catches up on the dates since its last settled night
    # (up to max_catchup_days), and other test modules may have settled tax_a_level nights years
    # earlier in this session's warehouse.
    ingest.ingest("tax_a_level", night - timedelta(days=1))
    faults.log.clear()
    outcome = ingest.ingest("tax_a_level", night)

    records = _file_records("tax_a_level", night)
    assert summary.rows_written == len(records) == 360
    pages = [f"/api/tax_a_level?date=2023-01-09&page={p}&page_size=100" for p in (1, 2, 3, 4)]
    assert faults.log == pages  # 4 pages, each asked for once
    landed = _landed(conn, "tax_a_level__taxpayers", outcome.batch_id)
    assert outcome.rows_received == len(landed) == 360
    # Each record exactly once, in the interface's order, traceable to its page and position.
    assert [row[2] for row in landed] == [r.get("nsrsbh") for r in records]
    assert [(row[0], row[1]) for row in landed] == [(pages[i // 100], i % 100 + 1) for i in range(360)]
    # The key the catalog does not know is kept in _extra.
    assert all(row[3] == {"sjly": "国家税务总局河北省税务局"} for row in landed)
    batch = _assert_conserved(outcome.batch_id)
    assert batch["rows_quarantined"] == sum(summary.defects.values()) > 0


def test_unavailable_then_ok_is_retried_and_succeeds(seeded, conn, server):
    url, faults, point = server
    night = date(2023, 1, 16)
    tax_a_level.simulate(night, scale=1)
    faults.unavailable_first = 2
    point("tax_a_level")
    outcome = ingest.ingest("tax_a_level", night)

    assert outcome.status == "accepted" and outcome.rows_received == 120
    # The window's first date (the day after the last settled night) was asked for three times:
    # two 503s, then the answer; every other page once.
    assert faults.log[0] == faults.log[1] == faults.log[2]
    assert len(faults.log) == len(set(faults.log)) + 2
    assert faults.log[-2:] == [f"/api/tax_a_level?date=2023-01-16&page={p}&page_size=100" for p in (1, 2)]
    _assert_conserved(outcome.batch_id)


def test_persistent_5xx_fails_the_batch_and_a_rerun_lands_everything(seeded, conn, server):
    url, faults, point = server
    night = date(2023, 1, 23)
    tax_a_level.simulate(night, scale=1)
    faults.unavailable_first = ALWAYS
    point("tax_a_level")
    with pytest.raises(ApiExtractionError):
        ingest.extract("tax_a_level", night)

    batch_id = ledger.batch_id_for("tax_a_level", night)
    failed = ledger.batch_row(batch_id)
    assert failed["status"] == "failed"
    # The window starts the day after the last settled night (01-16): its first request failed.
    assert f"{url}/api/tax_a_level?date=2023-01-17&page=1&page_size=100" in failed["message"]
    assert "after 4 attempts" in failed["message"] and "HTTP 503" in failed["message"]
    assert len(faults.log) == 4  # 1 + catalog retries (3)
    assert conn.execute("select count(*) from raw.tax_a_level__taxpayers where _batch_id = %s",
                        (batch_id,)).fetchone()[0] == 0

    faults.unavailable_first = 0  # the department's interface is back
    outcome = ingest.ingest("tax_a_level", night)
    batch = _assert_conserved(outcome.batch_id)
    assert outcome.rows_received == 120 and batch["attempts"] == 2


def test_timeouts_fail_the_batch_and_a_rerun_lands_everything(seeded, conn, server, monkeypatch):
    url, faults, point = server
    night = date(2023, 1, 30)
    tax_a_level.simulate(night, scale=1)
    faults.slow_first, faults.slow_seconds = ALWAYS, 3.0
    monkeypatch.setenv("CREDIT_DW_HTTP_TIMEOUT_SECONDS", "0.2")
    point("tax_a_level")
    with pytest.raises(ApiExtractionError, match="timed out"):
        ingest.extract("tax_a_level", night)
    failed = ledger.batch_row(ledger.batch_id_for("tax_a_level", night))
    assert failed["status"] == "failed"
    assert f"{url}/api/tax_a_level?date=2023-01-24&page=1" in failed["message"]  # after settled 01-23
    assert len(faults.log) == 4

    faults.slow_first = 0
    outcome = ingest.ingest("tax_a_level", night)
    assert outcome.rows_received == 120
    _assert_conserved(outcome.batch_id)


def test_invalid_json_fails_with_a_clear_message(seeded, server):
    url, faults, point = server
    night = date(2023, 2, 6)
    tax_a_level.simulate(night, scale=1)
    faults.invalid_json_first = ALWAYS
    point("tax_a_level")
    with pytest.raises(ApiExtractionError):
        ingest.extract("tax_a_level", night)
    message = ledger.batch_row(ledger.batch_id_for("tax_a_level", night))["message"]
    assert "not valid JSON" in message and f"{url}/api/tax_a_level?date=2023-01-31&page=1" in message
    assert len(faults.log) == 1  # a malformed answer is not retried


def test_the_next_night_reads_a_failed_nights_dates_again(seeded, conn, server):
    url, faults, point = server
    first, failed, next_night = date(2023, 2, 13), date(2023, 2, 14), date(2023, 2, 15)
    for night in (first, failed, next_night):
        tax_arrears.simulate(night, scale=1)
    point("tax_arrears")
    ingest.ingest("tax_arrears", first)
    faults.unavailable_first = ALWAYS
    with pytest.raises(ApiExtractionError):
        ingest.extract("tax_arrears", failed)
    faults.unavailable_first = 0

    outcome = ingest.ingest("tax_arrears", next_night)
    per_date = dict(conn.execute(
        """select substring(_source_file from 'date=([0-9-]+)'), count(*) from raw.tax_arrears__announcements
           where _batch_id = %s group by 1""",
        (outcome.batch_id,),
    ).fetchall())
    assert per_date == {"2023-02-14": 60, "2023-02-15": 60}
    _assert_conserved(outcome.batch_id)


# --- the connector's parts --------------------------------------------------------------------

def test_records_become_text_rows_with_unknown_keys_in_extra():
    spec = get_source("housing_fund")
    record = {"tyshxydm": "91130102MA0000000X", "dwmc": "某公司", "jcrs": 12, "yjce": 3456.5, "dwjcbl": 0.12,
              "jczt": "01", "qjys": None, "ext": {"czy": "CZY0001", "qd": "柜台"}, "unknown": [1, 2]}
    values, extra = extract_http.record_to_row(spec, record)
    row = dict(zip(spec.fields, values, strict=True))
    assert row["uscc"] == "91130102MA0000000X" and row["subject_name"] == "某公司"
    assert row["contributor_count"] == "12" and row["monthly_amount"] == "3456.5" and row["employer_rate"] == "0.12"
    assert row["months_in_arrears"] is None and row["posted_on"] is None  # null and missing key
    assert extra == {"ext": {"czy": "CZY0001", "qd": "柜台"}, "unknown": [1, 2]}
    nested = extract_http.record_to_row(dataclasses.replace(spec, fields={"x": "ext"}), record)[0]
    assert json.loads(nested[0]) == {"czy": "CZY0001", "qd": "柜台"}  # a nested value lands as JSON text
    values, extra = extract_http.record_to_row(spec, ["not", "an", "object"])
    assert values == [None] * len(spec.fields) and extra == {"_record": ["not", "an", "object"]}


def test_a_batch_reads_the_dates_of_its_window():
    night = date(2023, 3, 8)
    assert extract_http.dates_to_read(Window(None, night_end(night)), night) == [night]
    after = datetime(2023, 3, 6, tzinfo=SHANGHAI)  # the night of 03-05 settled
    assert extract_http.dates_to_read(Window(after, night_end(night)), night) == [
        date(2023, 3, 6), date(2023, 3, 7), night]
    long_ago = datetime(2022, 1, 1, tzinfo=SHANGHAI)
    days = extract_http.dates_to_read(Window(long_ago, night_end(night)), night, max_days=31)
    assert len(days) == 31 and days[-1] == night


def test_urllib_transport_pages_and_retries(server):
    url, faults, _point = server
    night = date(2023, 3, 13)
    tax_a_level.simulate(night, scale=1)
    faults.unavailable_first = 1
    http = extract_http._UrllibTransport(timeout=5, use_proxy_env=False)
    page = extract_http.fetch_page(http, f"{url}/api/tax_a_level?date={night}&page=2&page_size=50",
                                   where="test", retries=1, backoff=0.01)
    assert page["total"] == 120 and page["page"] == 2
    assert [r["nsrsbh"] for r in page["records"]] == [r["nsrsbh"] for r in _file_records("tax_a_level", night)[50:100]]
    faults.unavailable_first = ALWAYS
    with pytest.raises(ApiExtractionError, match="after 2 attempts; last error: HTTP 503"):
        extract_http.fetch_page(http, f"{url}/api/tax_a_level?date={night}", where="test", retries=1, backoff=0.01)


def test_server_answers_empty_dates_and_refuses_bad_requests(server):
    url, _faults, _point = server
    tax_a_level.simulate(date(2023, 3, 13), scale=1)
    with urlopen(f"{url}/api/tax_a_level?date=2023-03-12") as resp:
        assert json.loads(resp.read()) == {"total": 0, "page": 1, "page_size": 100, "records": []}
    for path, status in (("/api/no_such_feed?date=2023-03-12", 404), ("/api/tax_a_level", 400),
                         ("/api/tax_a_level?date=2023-03-12&page=0", 400), ("/elsewhere", 404)):
        with pytest.raises(HTTPError) as err:
            urlopen(url + path)
        assert err.value.code == status, path


def test_without_an_address_the_error_names_the_variable(monkeypatch):
    spec = dataclasses.replace(get_source("objections"), source_id="no_such_department_feed")
    monkeypatch.delenv("SOURCE_NO_SUCH_DEPARTMENT_FEED_URL", raising=False)
    with pytest.raises(RuntimeError, match="SOURCE_NO_SUCH_DEPARTMENT_FEED_URL"):
        with extract_http.base_url(spec):
            pass


def test_a_simulated_feed_uses_the_recorded_server_or_starts_its_own():
    spec = get_source("tax_a_level")
    tax_a_level.simulate(date(2023, 3, 13), scale=1)  # the feed's folder exists: it is simulated
    running = api_server.start_background()
    try:
        assert api_server.url_file().read_text().strip() == running.url
        with extract_http.base_url(spec) as url:
            assert url == running.url
    finally:
        running.stop()
    assert not api_server.url_file().exists()
    with extract_http.base_url(spec) as url:
        assert url != running.url and api_server.is_alive(url)  # started for this extraction
    assert not api_server.is_alive(url)  # and stopped after it


# --- paging guards ------------------------------------------------------------------------------

def _settled_high(conn, source_id: str):
    return conn.execute(
        """select max(watermark_high) from meta.load_batches
           where source_id = %s and status in ('accepted', 'rejected', 'landed')""",
        (source_id,),
    ).fetchone()[0]


def test_a_looping_interface_is_refused_and_the_rerun_lands_every_record(seeded, conn, server):
    url, faults, point = server
    night = date(2023, 3, 20)
    tax_a_level.simulate(night, scale=5)  # 600 records: 6 full pages, so a loop reaches `total` exactly
    point("tax_a_level")
    ingest.ingest("tax_a_level", night - timedelta(days=1))  # settle what came before (see the first test)
    settled = _settled_high(conn, "tax_a_level")
    faults.log.clear()
    faults.paging = "looping"  # reports 600, serves page 1 over and over
    with pytest.raises(PagingError) as raised:
        ingest.extract("tax_a_level", night)

    batch_id = ledger.batch_id_for("tax_a_level", night)
    batch = ledger.batch_row(batch_id)
    assert batch["status"] == "failed" and batch["landing_file"] is None
    for text in ("feed tax_a_level", "page 2", f"{url}/api/tax_a_level?date=2023-03-20&page=2&page_size=100",
                 "identical to page 1"):
        assert text in str(raised.value) and text in batch["message"], text
    assert len(faults.log) == 2  # refused at the first repeated page, not read 6 times
    assert conn.execute("select count(*) from raw.tax_a_level__taxpayers where _batch_id = %s",
                        (batch_id,)).fetchone()[0] == 0
    assert _settled_high(conn, "tax_a_level") == settled  # the night's window is not settled

    faults.paging = None  # the department fixed its interface
    outcome = ingest.ingest("tax_a_level", night)
    landed = _landed(conn, "tax_a_level__taxpayers", outcome.batch_id)
    records = _file_records("tax_a_level", night)
    assert outcome.rows_received == len(landed) == 600
    assert [row[2] for row in landed] == [r.get("nsrsbh") for r in records]
    assert len({(row[0], row[1]) for row in landed}) == 600
    _assert_conserved(outcome.batch_id)
    # Settled through the night now (an earlier test module may have settled a later night already).
    assert _settled_high(conn, "tax_a_level") == max(settled, night_end(night))


@pytest.mark.parametrize("defect", ["short_total", "long_total"])
def test_a_total_the_interface_does_not_serve_refuses_the_batch(seeded, conn, server, defect):
    url, faults, point = server
    night = date(2023, 3, 27) if defect == "short_total" else date(2023, 4, 3)
    tax_a_level.simulate(night, scale=1)
    point("tax_a_level")
    ingest.ingest("tax_a_level", night - timedelta(days=1))
    faults.paging = defect
    with pytest.raises(ApiExtractionError):
        ingest.extract("tax_a_level", night)
    batch = ledger.batch_row(ledger.batch_id_for("tax_a_level", night))
    assert batch["status"] == "failed" and "date 2023-" in batch["message"]
    assert f"{url}/api/tax_a_level?date=" in batch["message"]
    assert conn.execute("select count(*) from raw.tax_a_level__taxpayers where _batch_id = %s",
                        (batch["batch_id"],)).fetchone()[0] == 0


def test_the_paging_guard_refuses_repeated_keys_and_a_distinct_count_below_total():
    spec = get_source("tax_a_level")
    guard = extract_http.PagingGuard(spec, date(2023, 3, 1))
    first = [{"nsrsbh": "A", "gxsj": "1"}, {"nsrsbh": "B", "gxsj": "1"}]
    guard.check_page("u1", 1, first)
    # Same keys, another timestamp: not byte-identical, still page 1 again.
    with pytest.raises(PagingError, match="page 2: GET u2: the page carries the same 2 record keys .* as page 1"):
        guard.check_page("u2", 2, [{"nsrsbh": "B", "gxsj": "2"}, {"nsrsbh": "A", "gxsj": "2"}])

    guard = extract_http.PagingGuard(spec, date(2023, 3, 1))
    guard.check_page("u1", 1, first)
    guard.check_page("u2", 2, [{"nsrsbh": "A", "gxsj": "1"}, {"nsrsbh": "C", "gxsj": "1"}])
    with pytest.raises(PagingError, match="reported total 4 but served 4 records, 3 of them distinct"):
        guard.check_total("u2", 2, 4)

    capped = extract_http.PagingGuard(spec, date(2023, 3, 1), max_pages=1)
    capped.check_page("u1", 1, first)
    with pytest.raises(PagingError, match="more than max_pages = 1"):
        capped.check_page("u2", 2, [{"nsrsbh": "Z"}])

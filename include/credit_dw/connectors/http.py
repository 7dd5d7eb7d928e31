"""HTTP API connector: read one night's records from a department's paged JSON interface.

The interface contract (what departments with a system connection expose [000 §2.3], and what
`credit_dw.simulate.api_server` simulates):

    GET <base_url><path>?date=YYYY-MM-DD&page=N&page_size=M
    200 {"total": T, "page": N, "page_size": M, "records": [{...}, ...]}

`date` is the day the department published or changed the records. A batch reads every date of
its ledger window — low < midnight < high, i.e. the days after the last settled night up to and
including the logical date (only the logical date on a feed's first night; at most
`max_catchup_days`, default 31) — so the days of a failed night are read again by the next run,
as the SQL connector does with its watermark. Each date is read page by page (page 1, 2, … until
`total` records came) and streamed into the batch's landing file; nothing is kept in memory but
one page.

Where the interface is (first match wins):
1. environment `SOURCE_<ID>_URL` (e.g. `SOURCE_TAX_A_LEVEL_URL=https://api.example.gov.cn/gateway`),
2. the catalog entry's `base_url`,
3. the simulated server this machine runs (`credit-dw` records it in
   `$CREDIT_DW_HOME/simulated_api/server.url`; used if it answers),
4. if the feed is simulated — the folder `$CREDIT_DW_HOME/simulated_api/<source_id>/` exists —
   a simulated server started here for the duration of this extraction only (so `credit-dw run`
   reaches the simulated feeds with nothing else running);
5. otherwise a RuntimeError that names `SOURCE_<ID>_URL`.
The request path is the catalog's `path` (default `/api/<source_id>`) appended to the base URL.

Catalog keys (all optional): `base_url`, `path`, `date_param` (default `date`), `page_size`
(100), `timeout_seconds` (10, per request), `retries` (3: attempts = retries + 1),
`max_catchup_days` (31), `params` (fixed extra query parameters, e.g. an interface's `appid`).
Environment overrides (not in `settings` because only this connector reads them; tests set them
low): `CREDIT_DW_HTTP_BACKOFF_SECONDS` (1: the first retry waits this long, each next one twice
as long), `CREDIT_DW_HTTP_TIMEOUT_SECONDS` (overrides every feed's `timeout_seconds`).

Paging guards: an interface whose paging is broken must not be taken at its word. Per date, the
connector refuses the batch (`PagingError`, naming feed, URL and page) when
- a page's content is identical to an earlier page's (the interface serves page 1 over and over),
- a page carries the same set of record keys as an earlier page (keys: the catalog's
  `business_key`, default `uscc`, through `fields` to the interface's key; pages whose records have
  no key are compared by content only),
- more than `max_pages` pages (catalog, default 10,000) would be needed, or
- the distinct records served (by content) are fewer or more than the `total` the interface reported.
Without these, a looping interface that reports 100,000 records and serves page 1 a thousand times
lands 100,000 rows of 100 distinct records, and the records never served are lost once the window
is settled. A refused batch is a failed batch: the ledger records the message, nothing of it lands,
its window is not settled, so the next run reads the same dates again. To check the count the
connector keeps one 16-byte digest per record of the date being read (1.6 MB per 100,000 records).

Failure handling: 5xx, 429, timeouts and connection errors are retried with exponential backoff;
other 4xx, a body that is not JSON or not the contract's shape, and a result that changes while
it is paged (`total` differs between pages, or a page comes back short) are not, since retrying
them immediately will not help. When retries are exhausted an `ApiExtractionError` names the URL,
the page and the last error; `ingest.extract` then marks the batch `failed` (its window is not
settled, so the next run reads the same dates again) and the landing file is not written.

Rows: canonical fields come from the record keys named in the catalog `fields` (canonical name →
the interface's key) and land as text: strings as sent, nested values (objects, lists), numbers
and booleans as their JSON text, null and missing keys as empty. Keys the catalog does not know
go to the jsonb column `_extra` with their JSON values as sent (kept, never dropped; `->>` gives
a nested value's JSON text, `->` lets an analyst look inside). A record that is not a JSON object
lands with empty fields and its JSON in `_extra._record`, so the gate quarantines it instead of
the night failing.
`_source_file` is the request URL without scheme and host (`/api/tax_a_level?date=…&page=3&
page_size=100`, enough to fetch the same page again) and `_source_row` the record's 1-based
position within that page's `records`.

Uses httpx when importable (an Airflow dependency), else urllib.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from credit_dw.catalog import SourceSpec
from credit_dw.config import settings
from credit_dw.ingest.landing import LandingFile, LandingWriter
from credit_dw.ingest.ledger import Window

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_MAX_CATCHUP_DAYS = 31
DEFAULT_MAX_PAGES = 10_000
#: Statuses worth another try: the server or a gateway is overloaded or restarting.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiExtractionError(RuntimeError):
    """The interface could not be read; the message names the URL, page and cause."""


class PagingError(ApiExtractionError):
    """The interface's paging cannot be trusted (a repeated page, repeated keys, a count mismatch)."""


class _Transient(Exception):
    """A failure worth retrying (timeout, connection error, 5xx/429)."""


def env_name(source_id: str) -> str:
    return f"SOURCE_{source_id.upper()}_URL"


def _option(spec: SourceSpec, key: str, default):
    value = spec.extra.get(key)
    return default if value is None else value


def timeout_seconds(spec: SourceSpec) -> float:
    override = os.environ.get("CREDIT_DW_HTTP_TIMEOUT_SECONDS")
    return float(override) if override else float(_option(spec, "timeout_seconds", DEFAULT_TIMEOUT_SECONDS))


def backoff_seconds() -> float:
    return float(os.environ.get("CREDIT_DW_HTTP_BACKOFF_SECONDS", DEFAULT_BACKOFF_SECONDS))


def dates_to_read(window: Window, logical_date: date, max_days: int = DEFAULT_MAX_CATCHUP_DAYS) -> list[date]:
    """The publication dates a batch reads: the window's days, at most the last `max_days`."""
    if window.low is None:
        return [logical_date]
    tz = ZoneInfo(settings.TIMEZONE)
    first = window.low.astimezone(tz).date()
    last = (window.high.astimezone(tz) - timedelta(microseconds=1)).date()
    last = min(last, logical_date)
    if first > last:
        return [logical_date]
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if len(days) > max_days:
        log.warning("window %s..%s spans %d days; reading the last %d (backfill earlier nights one by one)",
                    first, last, len(days), max_days)
        days = days[-max_days:]
    return days


# --- where the interface is -----------------------------------------------------------------

@contextmanager
def base_url(spec: SourceSpec) -> Iterator[str]:
    """The interface's base URL, per the order in the module docstring (may run a server meanwhile)."""
    configured = os.environ.get(env_name(spec.source_id)) or spec.extra.get("base_url")
    if configured:
        yield configured.rstrip("/")
        return
    from credit_dw.simulate import api_server

    running = api_server.recorded_url()
    if running:
        yield running
        return
    folder = api_server.feed_dir(spec.source_id)
    if not folder.is_dir():
        raise RuntimeError(
            f"feed {spec.source_id}: no interface address. Set {env_name(spec.source_id)} to the "
            f"department interface's base URL (or `base_url` in its catalog entry); for the demo, "
            f"simulate the feed first (`credit-dw simulate --date …` writes {folder})."
        )
    with api_server.serve(api_server.data_root()) as url:
        log.info("feed %s: started the simulated API at %s for this extraction", spec.source_id, url)
        yield url


# --- transport ------------------------------------------------------------------------------

def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


class _HttpxTransport:
    def __init__(self, timeout: float, *, use_proxy_env: bool = True):
        import httpx

        self._httpx = httpx
        # A proxy from the environment must not swallow requests to the local simulated server.
        self._client = httpx.Client(timeout=timeout, follow_redirects=True, trust_env=use_proxy_env,
                                    headers={"Accept": "application/json"})

    def get(self, url: str) -> tuple[int, bytes]:
        httpx = self._httpx
        try:
            response = self._client.get(url)
            return response.status_code, response.content
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Transient(f"connection error ({type(exc).__name__}: {exc})") from exc

    def close(self) -> None:
        self._client.close()


class _UrllibTransport:
    def __init__(self, timeout: float, *, use_proxy_env: bool = True):
        from urllib.request import ProxyHandler, build_opener

        self._timeout = timeout
        self._open = (build_opener() if use_proxy_env else build_opener(ProxyHandler({}))).open

    def get(self, url: str) -> tuple[int, bytes]:
        from http.client import HTTPException
        from urllib.error import HTTPError, URLError
        from urllib.request import Request

        try:
            with self._open(Request(url, headers={"Accept": "application/json"}), timeout=self._timeout) as resp:
                return resp.status, resp.read()
        except HTTPError as exc:
            return exc.code, exc.read()
        except TimeoutError as exc:
            raise _Transient("timed out") from exc
        except URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _Transient("timed out") from exc
            raise _Transient(f"connection error ({exc.reason})") from exc
        except (OSError, HTTPException) as exc:
            raise _Transient(f"connection error ({type(exc).__name__}: {exc})") from exc

    def close(self) -> None:
        pass


def _transport(timeout: float, base: str):
    use_proxy_env = not _is_loopback(base)
    try:
        return _HttpxTransport(timeout, use_proxy_env=use_proxy_env)
    except ImportError:
        return _UrllibTransport(timeout, use_proxy_env=use_proxy_env)


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def fetch_page(http, url: str, *, where: str, retries: int, backoff: float) -> dict:
    """GET one page and return its parsed body, retrying transient failures; see the module doc."""
    attempts = retries + 1
    last_error = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            status, body = http.get(url)
            if status in RETRY_STATUSES:
                raise _Transient(f"HTTP {status}: {_snippet(body)}")
        except _Transient as exc:
            last_error = str(exc)
            if attempt < attempts:
                delay = backoff * 2 ** (attempt - 1)
                log.warning("GET %s (%s) attempt %d/%d: %s; retrying in %.2fs",
                            url, where, attempt, attempts, last_error, delay)
                time.sleep(delay)
                continue
            raise ApiExtractionError(
                f"GET {url} ({where}) failed after {attempts} attempts; last error: {last_error}. "
                "The interface is down or too slow: the batch is failed and the next run reads these dates again."
            ) from exc
        if status != 200:
            raise ApiExtractionError(f"GET {url} ({where}): HTTP {status}: {_snippet(body)} "
                                     "(not retried: the request itself was refused)")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ApiExtractionError(
                f"GET {url} ({where}): the response is not valid JSON ({exc}); it began {_snippet(body)!r}. "
                "The interface must answer {\"total\", \"page\", \"page_size\", \"records\"}."
            ) from exc
        _check_shape(data, url, where)
        return data
    raise AssertionError("unreachable")


def _check_shape(data: object, url: str, where: str) -> None:
    problem = None
    if not isinstance(data, dict):
        problem = f"the body is a JSON {type(data).__name__}, not an object"
    elif not isinstance(data.get("total"), int) or isinstance(data.get("total"), bool) or data["total"] < 0:
        problem = f"'total' is {data.get('total')!r}, not a count"
    elif not isinstance(data.get("records"), list):
        problem = f"'records' is {type(data.get('records')).__name__}, not a list"
    if problem:
        raise ApiExtractionError(
            f"GET {url} ({where}): {problem}. The interface must answer "
            "{\"total\": int, \"page\": int, \"page_size\": int, \"records\": [...]}."
        )


# --- records to rows ------------------------------------------------------------------------

def as_text(value: object) -> str | None:
    """A JSON value as landing text: strings as given, nested values and numbers as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def record_to_row(spec: SourceSpec, record: object) -> tuple[list[str | None], dict[str, object] | None]:
    """Canonical values (text) in catalog order, and the record's other keys with their JSON values."""
    if not isinstance(record, dict):
        return [None] * len(spec.fields), {"_record": record}
    values = [as_text(record.get(key)) for key in spec.fields.values()]
    known = set(spec.fields.values())
    extra = {key: value for key, value in record.items() if key not in known}
    return values, extra or None


# --- paging guards --------------------------------------------------------------------------

def _digest(value: object) -> bytes:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class PagingGuard:
    """What one date's pages served so far; raises PagingError when the paging cannot be trusted."""

    def __init__(self, spec: SourceSpec, day: date, *, max_pages: int = DEFAULT_MAX_PAGES):
        self.feed = spec.source_id
        self.day = day
        self.max_pages = max_pages
        self.key_names = [spec.fields[k] for k in spec.business_key if k in spec.fields]
        self.pages: dict[bytes, int] = {}
        self.key_sets: dict[frozenset, int] = {}
        self.records: set[bytes] = set()
        self.served = 0

    def _refuse(self, url: str, page: int, problem: str) -> PagingError:
        return PagingError(
            f"feed {self.feed}, date {self.day}, page {page}: GET {url}: {problem}. The interface's paging "
            "cannot be trusted: the batch is refused (nothing of it lands, its window is not settled, the "
            "next run reads these dates again); ask the department to fix its interface."
        )

    def _keys(self, records: list) -> frozenset | None:
        if not self.key_names or not records:
            return None
        keys = []
        for record in records:
            if not isinstance(record, dict):
                return None
            key = tuple(record.get(name) for name in self.key_names)
            if all(v is None or v == "" for v in key):
                return None
            keys.append(json.dumps(key, ensure_ascii=False))
        return frozenset(keys)

    def check_page(self, url: str, page: int, records: list) -> None:
        if page > self.max_pages:
            raise self._refuse(url, page, f"more than max_pages = {self.max_pages} pages for one date")
        if records:
            content = _digest(records)
            earlier = self.pages.setdefault(content, page)
            if earlier != page:
                raise self._refuse(url, page, f"the page is identical to page {earlier} "
                                              f"({len(records)} records served again)")
            keys = self._keys(records) if len(records) > 1 else None
            if keys is not None:
                earlier = self.key_sets.setdefault(keys, page)
                if earlier != page:
                    raise self._refuse(url, page, f"the page carries the same {len(keys)} record keys "
                                                  f"({', '.join(self.key_names)}) as page {earlier}")
        self.served += len(records)
        self.records.update(_digest(r) for r in records)

    def check_total(self, url: str, page: int, total: int) -> None:
        distinct = len(self.records)
        if distinct != total or self.served != total:
            raise self._refuse(url, page, f"the interface reported total {total} but served {self.served} "
                                          f"records, {distinct} of them distinct")


# --- the connector --------------------------------------------------------------------------

def extract_api(spec: SourceSpec, batch_id: str, logical_date: date, window: Window) -> LandingFile:
    """Read every page of every date in the window into the batch's landing file."""
    path = _option(spec, "path", f"/api/{spec.source_id}")
    date_param = _option(spec, "date_param", "date")
    page_size = int(_option(spec, "page_size", DEFAULT_PAGE_SIZE))
    retries = int(_option(spec, "retries", DEFAULT_RETRIES))
    fixed_params = dict(_option(spec, "params", {}))
    days = dates_to_read(window, logical_date, int(_option(spec, "max_catchup_days", DEFAULT_MAX_CATCHUP_DAYS)))
    backoff = backoff_seconds()
    max_pages = int(_option(spec, "max_pages", DEFAULT_MAX_PAGES))

    with base_url(spec) as base, LandingWriter(spec, batch_id, logical_date) as writer:
        http = _transport(timeout_seconds(spec), base)
        try:
            for day in days:
                read = 0
                total: int | None = None
                page = 1
                guard = PagingGuard(spec, day, max_pages=max_pages)
                while True:
                    query = urlencode({**fixed_params, date_param: day.isoformat(), "page": page,
                                       "page_size": page_size})
                    url = f"{base}{path}?{query}"
                    parts = urlsplit(url)
                    source_file = f"{parts.path}?{parts.query}"
                    where = f"feed {spec.source_id}, date {day}, page {page}"
                    data = fetch_page(http, url, where=where, retries=retries, backoff=backoff)
                    if total is None:
                        total = data["total"]
                    elif data["total"] != total:
                        raise ApiExtractionError(
                            f"GET {url} ({where}): total changed from {total} to {data['total']} while paging; "
                            "the department changed the data during the read, so the batch is failed and reread later."
                        )
                    records = data["records"]
                    guard.check_page(url, page, records)
                    for position, record in enumerate(records, start=1):
                        values, extra = record_to_row(spec, record)
                        writer.write_row(values, source_file=source_file, source_row=position, extra=extra)
                    read += len(records)
                    if read >= total:
                        break
                    if not records:
                        raise ApiExtractionError(
                            f"GET {url} ({where}): empty page after {read} of {total} records; "
                            "the interface ended before its own total."
                        )
                    page += 1
                guard.check_total(url, page, total)  # read == total, every record distinct
                log.info("feed %s date %s: %d records in %d page(s)", spec.source_id, day, read, page)
        finally:
            http.close()
        return writer.finish()

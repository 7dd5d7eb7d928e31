"""A local stand-in for the departments' HTTP interfaces (数据接口), serving what the simulators wrote.

Departments with a system connection publish their records through a paged JSON interface
[rules §4; 000 §2.3]. This server plays that role for development, tests and the demo: a stdlib
`ThreadingHTTPServer` on 127.0.0.1 with an ephemeral port, run in a background thread, serving
the files the API-feed simulators wrote to `$CREDIT_DW_HOME/simulated_api/<source_id>/<date>.json`.

Interface (the contract `credit_dw.connectors.http` reads):

    GET /api/<source_id>?date=YYYY-MM-DD&page=N&page_size=M
    200 {"total": T, "page": N, "page_size": M, "records": [...]}

`page` counts from 1; `page_size` defaults to 100 and is capped at `MAX_PAGE_SIZE` (the reply says
the size used). A date with no file has no records (`total` 0); a source id with no folder is 404;
malformed parameters are 400. `GET /healthz` answers `{"status": "ok"}`. Records come in file order.

Fault injection, for tests of the connector's retries and failure handling:
- server-wide, through the `Faults` object handed to `serve` / `start_background` (mutable while
  the server runs): answer 503 to the first k API requests, sleep `slow_seconds` on the first k,
  or send invalid JSON to the first k (`ALWAYS` for every request);
- paging defects, server-wide (`Faults.paging`) or per request (`fault=looping|short_total|
  long_total`): `looping` answers every page with page 1's records and the true `total` (the
  interface whose paging loops); `short_total` / `long_total` report 1 record fewer / more than
  the date has while serving the true records;
- per request, with the query parameter `fault=unavailable|slow|invalid_json` (sleeping
  `slow_seconds`, default 30 s), so a catalog entry's fixed `params:` can simulate a broken feed.

Use:
- `with serve(data_dir) as base_url: ...` — tests; the server stops when the block ends.
- `start_background()` — a server for this process (e.g. a CLI command), recorded in
  `$CREDIT_DW_HOME/simulated_api/server.url` so the connector finds it; `.stop()` removes the record.
- `python -m credit_dw.simulate.api_server` — the same in the foreground until Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from credit_dw.config import settings

log = logging.getLogger(__name__)

DATA_DIRNAME = "simulated_api"
URL_FILENAME = "server.url"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: Paging defects (see the module doc).
PAGING_FAULTS = frozenset({"looping", "short_total", "long_total"})
#: A fault count meaning "every request".
ALWAYS = 1 << 62

_SOURCE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def data_root() -> Path:
    """`$CREDIT_DW_HOME/simulated_api`: one folder per simulated feed, one JSON file per date."""
    return settings.home() / DATA_DIRNAME


def feed_dir(source_id: str, root: Path | None = None) -> Path:
    return (root or data_root()) / source_id


def day_file(source_id: str, logical_date: date, root: Path | None = None) -> Path:
    return feed_dir(source_id, root) / f"{logical_date.isoformat()}.json"


def url_file(root: Path | None = None) -> Path:
    """Where `start_background` records the running server's base URL."""
    return (root or data_root()) / URL_FILENAME


def write_day(source_id: str, logical_date: date, records: list[dict], meta: dict | None = None,
              root: Path | None = None) -> Path:
    """Write a day's records atomically (temp file, then rename): a reader never sees half a file."""
    path = day_file(source_id, logical_date, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"source_id": source_id, "date": logical_date.isoformat(), **(meta or {}), "records": records}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=0), encoding="utf-8")
    os.replace(tmp, path)
    return path


@lru_cache(maxsize=16)
def _load_records(path: str, mtime_ns: int, size: int) -> tuple[dict, ...]:
    """A day's records, cached by (path, mtime, size) so paging does not re-parse the file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return tuple(data["records"] if isinstance(data, dict) else data)


def read_day(path: Path) -> tuple[dict, ...]:
    stat = path.stat()
    return _load_records(str(path), stat.st_mtime_ns, stat.st_size)


@dataclass
class Faults:
    """Server-wide fault plan; counts are of API requests (not /healthz), from server start."""

    unavailable_first: int = 0
    slow_first: int = 0
    invalid_json_first: int = 0
    slow_seconds: float = 30.0
    unavailable_status: int = 503
    #: Paging defect for every API request: None, "looping", "short_total" or "long_total".
    paging: str | None = None
    requests: int = 0
    #: Path and query of every API request, in arrival order (tests assert on it).
    log: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_request(self, target: str) -> str | None:
        """Count a request and say which fault, if any, it gets."""
        with self._lock:
            self.requests += 1
            self.log.append(target)
            n = self.requests
        if n <= self.unavailable_first:
            return "unavailable"
        if n <= self.slow_first:
            return "slow"
        if n <= self.invalid_json_first:
            return "invalid_json"
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, data_dir: Path, faults: Faults):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data_dir = data_dir
        self.faults = faults
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "CreditDwSimulatedApi/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout): nothing to answer any more.
            pass

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        parts = urlsplit(self.path)
        if parts.path == "/healthz":
            self._json(200, {"status": "ok"})
            return
        match = re.fullmatch(r"/api/([^/]+)", parts.path)
        if not match:
            self._json(404, {"error": f"no such endpoint {parts.path}; use /api/<source_id>"})
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        fault = self.server.faults.next_request(self.path) or query.get("fault")
        if fault == "unavailable":
            self._json(self.server.faults.unavailable_status, {"error": "service unavailable (simulated)"})
            return
        if fault == "slow":
            # Interruptible, so stopping the server does not wait for a sleeping handler.
            self.server.stopping.wait(self.server.faults.slow_seconds)
        if fault == "invalid_json":
            self._send(200, b'{"total": 3, "page": 1, "records": [{"nsrsbh": "9113')
            return
        paging = self.server.faults.paging or (fault if fault in PAGING_FAULTS else None)
        self._page(match.group(1), query, paging)

    def _page(self, source_id: str, query: dict[str, str], paging: str | None = None) -> None:
        if not _SOURCE_ID.match(source_id):
            self._json(404, {"error": f"unknown source {source_id!r}"})
            return
        folder = self.server.data_dir / source_id
        if not folder.is_dir():
            self._json(404, {"error": f"unknown source {source_id!r}"})
            return
        try:
            day = date.fromisoformat(query["date"])
            page = int(query.get("page", "1"))
            page_size = int(query.get("page_size", str(DEFAULT_PAGE_SIZE)))
            if page < 1 or page_size < 1:
                raise ValueError("page and page_size count from 1")
        except KeyError:
            self._json(400, {"error": "parameter date=YYYY-MM-DD is required"})
            return
        except ValueError as exc:
            self._json(400, {"error": f"bad parameter: {exc}"})
            return
        page_size = min(page_size, MAX_PAGE_SIZE)
        path = folder / f"{day.isoformat()}.json"
        records = read_day(path) if path.exists() else ()
        start = 0 if paging == "looping" else (page - 1) * page_size
        total = len(records) + {"short_total": -1, "long_total": 1}.get(paging or "", 0)
        self._json(200, {"total": max(total, 0), "page": page, "page_size": page_size,
                         "records": list(records[start:start + page_size])})


class RunningServer:
    """A simulated API server running in a daemon thread of this process."""

    def __init__(self, data_dir: Path, faults: Faults | None = None, *, record: bool = False):
        self.data_dir = Path(data_dir)
        self.faults = faults if faults is not None else Faults()
        self._server = _Server(self.data_dir, self.faults)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"simulated-api-{port}", daemon=True)
        self._thread.start()
        self._record = url_file(self.data_dir) if record else None
        if self._record:
            self._record.parent.mkdir(parents=True, exist_ok=True)
            self._record.write_text(self.url + "\n", encoding="utf-8")
        log.info("simulated API serving %s at %s", self.data_dir, self.url)

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._record and self._record.exists() and self._record.read_text().strip() == self.url:
            self._record.unlink(missing_ok=True)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def serve(data_dir: Path | str | None = None, *, faults: Faults | None = None,
          record: bool = False) -> Iterator[str]:
    """Serve `data_dir` (default `data_root()`) for the block; yields the base URL (http://127.0.0.1:<port>)."""
    server = RunningServer(Path(data_dir) if data_dir else data_root(), faults, record=record)
    try:
        yield server.url
    finally:
        server.stop()


def start_background(data_dir: Path | str | None = None, *, faults: Faults | None = None) -> RunningServer:
    """Start a server for the rest of this process and record its URL in `server.url`."""
    return RunningServer(Path(data_dir) if data_dir else data_root(), faults, record=True)


def recorded_url(root: Path | None = None) -> str | None:
    """The base URL in `server.url` if that server answers /healthz now, else None."""
    path = url_file(root)
    if not path.exists():
        return None
    url = path.read_text(encoding="utf-8").strip()
    return url if url and is_alive(url) else None


def is_alive(base_url: str, timeout: float = 1.0) -> bool:
    from urllib.request import ProxyHandler, build_opener

    try:
        # No proxy: the simulated server is on the loopback interface.
        with build_opener(ProxyHandler({})).open(base_url.rstrip("/") + "/healthz", timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = start_background()
    print(f"simulated API at {server.url} serving {server.data_dir} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

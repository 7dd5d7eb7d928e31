"""One night at a time on a warehouse, whoever starts it: a lock held in the warehouse itself.

Two `credit-dw run` for different nights started seconds apart both ingested, but the first one's
transform failed with dbt's `relation "int_legal_representatives" already exists`: the two builds
replaced the same views at once. The scheduler's `max_active_runs=1` and `one_night` cover runs
the scheduler starts, not the command line. So every cycle started from the command line
(`credit-dw run`, `backfill`, `make demo`) holds a PostgreSQL session-level advisory lock on the
warehouse for the whole cycle, and a second one waits for it (saying whose it is) or, with
`wait=False`, refuses with a clear message; the scheduler's `credit_ingest` waits for it in its
first task (`one_night.wait_for_nights_in_flight`). The lock lives in the warehouse, not in a
file, so it covers every machine that works on the same warehouse, and it is released when its
holder's connection ends, so a killed run never leaves it behind.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from credit_dw.config import settings

log = logging.getLogger(__name__)

#: The advisory lock's key (one bigint; any fixed number no other application on the server uses).
LOCK_KEY = 2026_1122_0001
#: application_name of the holder's connection: how a waiter names who holds the lock.
APPLICATION_PREFIX = "credit-dw night lock: "


class NightInProgress(RuntimeError):
    """Another cycle holds the warehouse's night lock and the caller chose not to wait."""


def holder(conn) -> str | None:
    """Who holds the lock now (the holder's description and backend pid), or None when it is free."""
    row = conn.execute(
        """select a.application_name, a.pid, a.backend_start
           from pg_locks l join pg_stat_activity a on a.pid = l.pid
           where l.locktype = 'advisory' and l.granted
             and ((l.classid::bigint << 32) | l.objid::bigint) = %s""",
        (LOCK_KEY,),
    ).fetchone()
    if row is None:
        return None
    name, pid, since = row
    what = name[len(APPLICATION_PREFIX):] if name and name.startswith(APPLICATION_PREFIX) else (name or "?")
    return f"{what} (server pid {pid}, since {since:%Y-%m-%d %H:%M:%S %Z})"


@contextmanager
def night_lock(description: str, *, url: str | None = None, wait: bool = True,
               on_wait: Callable[[str], None] | None = None, poll_seconds: float = 2.0) -> Iterator[None]:
    """Hold the warehouse's night lock for the block; `description` says who (e.g. "credit-dw run
    2026-11-20"). Waits while another holds it, calling `on_wait(holder)` once, or raises
    NightInProgress when `wait` is False."""
    import psycopg

    name = (APPLICATION_PREFIX + f"{description}, pid {os.getpid()}")[:63]  # NAMEDATALEN - 1
    with psycopg.connect(settings.libpq_url(url), autocommit=True, application_name=name) as conn:
        told = False
        while not conn.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
            busy = holder(conn) or "another cycle"
            if not wait:
                raise NightInProgress(
                    f"another night is running on this warehouse: {busy}; wait for it to end "
                    "(credit-dw status shows it), or run again without --no-wait to queue behind it")
            if not told:
                (on_wait or log.info)(f"waiting for the night in progress to end: {busy}")
                told = True
            time.sleep(poll_seconds)
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))


def wait_until_free(*, url: str | None = None, poll_seconds: float = 30, timeout_seconds: float = 6 * 3600,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once no command-line cycle holds the lock (the scheduler's side: it does not take the
    lock itself, since its night spans three DAG runs in several processes); fail after the timeout."""
    from credit_dw.db.connect import connect

    waited = 0.0
    while True:
        with connect(url, autocommit=True) as conn:
            busy = holder(conn)
        if busy is None:
            return
        if waited >= timeout_seconds:
            raise RuntimeError(f"a command-line night still holds the warehouse after {waited / 60:.0f} min: {busy}")
        log.info("waiting for the command-line night in progress to end: %s", busy)
        sleep(poll_seconds)
        waited += poll_seconds

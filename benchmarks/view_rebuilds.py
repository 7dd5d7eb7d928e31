"""Stress check for issue 22: rebuild the view layers many times in parallel and count deadlocks.

    .venv/bin/python -m benchmarks.view_rebuilds [--runs 100] [--threads 2 4] [--write-docs]

Not a timed test: a scratch warehouse of its own (a fresh CREDIT_DW_HOME under /tmp with its own
embedded PostgreSQL, deleted at the end) gets one simulated night of every feed through the real
gate, one full `dbt build`, and then `dbt run` of every view (staging, intermediate, quality: 27
views, the layers where one view reads many others) `--runs` times per thread count and per
variant, in this process through dbtRunner (no retry: a deadlock counts as one):

- `dbt-default`: the project with dbt-postgres's own view materialization (the project copied
  without `macros/materializations/view.sql`): what every night ran before the fix.
- `in-place`: the project as it is (`create or replace view` when the columns allow).
- `swap`: the project's swap path forced (`--vars credit_view_replace: swap`), as on a night whose
  views change columns: dbt's rename-and-drop, serialized behind one advisory lock.

Counts runs that failed with `deadlock detected` and runs that failed otherwise.

Then the race itself, statement by statement (`--race N`): two connections replace the two
staging views the issue saw deadlock (`stg_admin_penalty__penalties`, `stg_objections__applications`;
both read by `int_subject_codes_unioned`, which more views read) with the statements each variant
sends, released together by a barrier at the statement where they can collide, N times; the
downstream views (and a deadlock victim's leftover backup) are put back between rounds. dbt only rarely starts two
cascades within the same millisecond, so the dbt-level loop alone can miss a race that the night
still hits now and then; the barrier shows whether the statements can deadlock at all.

`--write-docs` writes both tables into docs/benchmarks.md ("View rebuilds under parallel threads").
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from benchmarks.common import write_docs

SECTION = "## View rebuilds under parallel threads"
NIGHT = date(2015, 9, 4)
VIEWS = ["path:models/staging", "path:models/intermediate", "path:models/quality"]
VARIANTS = ("dbt-default", "in-place", "swap")


def _prepare_warehouse(log) -> None:
    from credit_dw.catalog import ingest_order
    from credit_dw.config import settings as credit_settings
    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.bootstrap import bootstrap
    from credit_dw.ingest import pipeline as ingest
    from credit_dw.simulate import simulate_all
    from credit_dw.transform import dbt as transform

    url = embedded_db.ensure_warehouse()
    os.environ.update(credit_settings.dbt_env(url))
    bootstrap(url)
    transform.seed_reference()
    log(f"simulating and ingesting night {NIGHT} (every feed)")
    simulate_all(NIGHT, scale=1)
    for source_id in ingest_order():
        ingest.ingest(source_id, NIGHT)
    os.environ["CREDIT_DW_AS_OF_DATE"] = NIGHT.isoformat()
    log("first full build")
    transform.run_dbt(["build"])


def _project_without_fix(scratch: Path) -> Path:
    """The dbt project as it was before the fix: the same files less the view materialization."""
    from credit_dw.config import settings as credit_settings

    copy = scratch / "dbt_project_dbt_default"
    shutil.copytree(credit_settings.DBT_PROJECT_DIR, copy, symlinks=False,
                    ignore=shutil.ignore_patterns("target", "logs"))
    (copy / "macros" / "materializations" / "view.sql").unlink()
    return copy


def _rebuild(project: Path, scratch: Path, threads: int, extra: list[str], logs: Path) -> tuple[bool, str]:
    """One `dbt run` of the view layers; (succeeded, the failing nodes' messages)."""
    from dbt.cli.main import dbtRunner

    target = scratch / f"target-{project.name}"
    args = ["run", "--select", *VIEWS, "--threads", str(threads), *extra,
            "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(target), "--log-path", str(logs), "--quiet"]
    result = dbtRunner().invoke(args)
    if result.success:
        return True, ""
    messages = [str(node.message or "") for node in getattr(result.result, "results", None) or []
                if str(node.status) == "error"]
    return False, " | ".join(messages) or str(result.exception)


def measure(runs: int, thread_counts: list[int], variants: list[str], log, baseline_runs: int | None = None
            ) -> list[dict]:
    from credit_dw.config import settings as credit_settings

    scratch = Path(os.environ["CREDIT_DW_HOME"])
    projects = {"dbt-default": _project_without_fix(scratch),
                "in-place": credit_settings.DBT_PROJECT_DIR, "swap": credit_settings.DBT_PROJECT_DIR}
    extras = {"dbt-default": [], "in-place": [], "swap": ["--vars", "{credit_view_replace: swap}"]}
    rows = []
    for variant in variants:
        variant_runs = baseline_runs if variant == "dbt-default" and baseline_runs is not None else runs
        for threads in thread_counts:
            deadlocks = other = 0
            examples: list[str] = []
            started = time.perf_counter()
            logs = scratch / f"logs-{variant}-{threads}"
            for run in range(1, variant_runs + 1):
                ok, message = _rebuild(projects[variant], scratch, threads, extras[variant], logs)
                if not ok:
                    if "deadlock detected" in message:
                        deadlocks += 1
                    else:
                        other += 1
                    if len(examples) < 2:
                        examples.append(" ".join(message.split())[:300])
                if run % 25 == 0:
                    log(f"  {variant}, {threads} threads: {run}/{variant_runs} runs, {deadlocks} deadlocks, "
                        f"{other} other")
            # The statement that can deadlock, counted in dbt's own SQL log of these runs (per dbt
            # invocation the log still holds: dbt rotates its log file).
            sql_log = "\n".join(path.read_text(encoding="utf-8", errors="replace")
                                for path in sorted(logs.glob("dbt.log*")))
            cascades = sum(1 for line in sql_log.splitlines()
                           if line.lstrip().startswith("drop view") and line.rstrip().endswith("cascade"))
            logged_runs = max(1, sql_log.count("Running with dbt="))
            rows.append({"variant": variant, "threads": threads, "runs": variant_runs, "deadlocks": deadlocks,
                         "cascading_drops_per_run": round(cascades / logged_runs, 1),
                         "other_failures": other, "seconds": round(time.perf_counter() - started, 1),
                         "examples": examples})
            log(f"{variant}, {threads} threads: {deadlocks}/{variant_runs} deadlocked, {other} other failures")
    return rows


RACE_VIEWS = ("stg_admin_penalty__penalties", "stg_objections__applications")


def _statements(variant: str, view: str, definition: str) -> tuple[list[str], list[str]]:
    """(before the barrier, after it): what each variant sends to replace `staging.<view>`."""
    target, tmp, backup = f"staging.{view}", f"staging.{view}__dbt_tmp", f"{view}__dbt_backup"
    if variant == "in-place":
        return ["begin"], [f"create or replace view {target} as {definition}", "commit"]
    swap = [f"create view {tmp} as {definition}", f"alter view {target} rename to {backup}",
            f"alter view {tmp} rename to {view}"]
    if variant == "swap":  # the project's fallback: the swap and the cascade in one serialized transaction
        return ["begin", f"create view {tmp} as {definition}"], [
            "select pg_advisory_xact_lock(hashtext('credit_warehouse.cascading_swap'))", *swap[1:],
            f"drop view if exists staging.{backup} cascade", "commit"]
    # dbt-postgres: the swap commits, then the backup is dropped with CASCADE
    return ["begin", *swap, "commit"], [f"drop view if exists staging.{backup} cascade", "commit"]


def _replace(url: str, statements: tuple[list[str], list[str]], barrier: threading.Barrier,
             errors: list[str]) -> None:
    """One connection: the statements before the barrier, wait for the other, then the rest."""
    import psycopg

    before, after = statements
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set deadlock_timeout = '100ms'")
        try:
            for sql in before:
                conn.execute(sql)
            barrier.wait(timeout=120)
            for sql in after:
                conn.execute(sql)
        except (psycopg.Error, threading.BrokenBarrierError) as error:
            errors.append(" ".join(str(error).split()) or type(error).__name__)
            barrier.abort()  # the other connection must not wait for this one
            conn.execute("rollback")


def race(rounds: int, variants: list[str], log) -> list[dict]:
    """Two connections, one per staging view, released together at the statement that can collide."""
    import psycopg

    from credit_dw.db import embedded as embedded_db

    url = embedded_db.ensure_warehouse()
    with psycopg.connect(url, autocommit=True) as conn:
        definitions = {view: conn.execute("select pg_get_viewdef(%s::regclass)", (f"staging.{view}",)
                                          ).fetchone()[0].rstrip().rstrip(";") for view in RACE_VIEWS}
        # Every view downstream of the staging layer, to put back after a cascade took it.
        downstream = conn.execute(
            """select n.nspname || '.' || c.relname, pg_get_viewdef(c.oid)
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relkind = 'v' and n.nspname in ('intermediate', 'quality') order by 1""").fetchall()

    def restore(conn) -> None:
        # A round whose drop failed (the deadlock's victim rolls back) leaves its backup behind.
        for view in RACE_VIEWS:
            conn.execute(f"drop view if exists staging.{view}__dbt_tmp cascade")
            conn.execute(f"drop view if exists staging.{view}__dbt_backup cascade")
        missing = [(name, sql) for name, sql in downstream
                   if conn.execute("select to_regclass(%s)", (name,)).fetchone()[0] is None]
        while missing:  # in dependency order: a view whose inputs are back yet is created first
            left = []
            for name, sql in missing:
                try:
                    conn.execute(f"create view {name} as {sql}")
                except psycopg.errors.UndefinedTable:
                    left.append((name, sql))
            if len(left) == len(missing):
                raise RuntimeError(f"cannot restore {[n for n, _ in left]}")
            missing = left

    rows = []
    for variant in variants:
        deadlocks = other = 0
        examples: list[str] = []
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as admin:
            for _ in range(rounds):
                restore(admin)
                barrier = threading.Barrier(len(RACE_VIEWS))
                errors: list[str] = []

                threads = [threading.Thread(target=_replace, args=(url, _statements(variant, view, definitions[view]),
                                                                   barrier, errors)) for view in RACE_VIEWS]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                deadlocks += sum("deadlock detected" in e for e in errors)
                other += sum("deadlock detected" not in e for e in errors)
                examples += errors[: max(0, 2 - len(examples))]
            restore(admin)
        rows.append({"variant": variant, "rounds": rounds, "deadlocks": deadlocks, "other_failures": other,
                     "seconds": round(time.perf_counter() - started, 1), "examples": examples})
        log(f"race, {variant}: {deadlocks} deadlocks in {rounds} rounds, {other} other failures")
    return rows


def render(rows: list[dict], command: str, race_rows: list[dict] | None = None) -> str:
    lines = [
        SECTION,
        "",
        "Issue 22. `dbt run` of the 27 views (staging, intermediate, quality) again and again on a",
        "warehouse holding one simulated night of every feed, in one process through dbtRunner with",
        "no retry. `dbt-default` is dbt-postgres's own view materialization (rename the live view to a",
        "backup, drop the backup with CASCADE: every downstream view goes with it), the way every",
        "night ran before the fix; `in-place` is the project's `create or replace view`; `swap` forces",
        "the project's fallback for a change of columns (dbt's swap, serialized by an advisory lock).",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} CPUs; command: `{command}`",
        "",
        "| variant | threads | rebuilds | `drop view … cascade` per rebuild | deadlocks | other failures | wall time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['variant']} | {row['threads']} | {row['runs']} | {row['cascading_drops_per_run']} | "
                     f"{row['deadlocks']} | {row['other_failures']} | {row['seconds']:.0f} s |")
    if race_rows:
        lines += [
            "",
            f"The race statement by statement (`--race`): two connections replace `{RACE_VIEWS[0]}` and",
            f"`{RACE_VIEWS[1]}` (`int_subject_codes_unioned` reads both, and more views read it) with each",
            "variant's statements, released",
            "together by a barrier at the statement that can collide (dbt-default: the two `drop … cascade`;",
            "in-place: the two `create or replace view`; swap: the advisory lock before the swap).",
            "",
            "| variant | rounds | deadlocks | other failures | wall time |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in race_rows:
            lines.append(f"| {row['variant']} | {row['rounds']} | {row['deadlocks']} | {row['other_failures']} | "
                         f"{row['seconds']:.0f} s |")
    examples = [e for row in rows + (race_rows or []) for e in row["examples"]]
    if examples:
        lines += ["", "What the failures said (first of each):", ""]
        lines += [f"- `{e}`" for e in examples[:4]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--baseline-runs", type=int, default=None,
                        help="runs of the dbt-default variant (default: --runs)")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--race", type=int, default=200, metavar="ROUNDS",
                        help="rounds of the statement-level race per variant (0: none)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="credit-dw-stress-"))
    os.environ["CREDIT_DW_HOME"] = str(scratch)
    os.environ.pop("WAREHOUSE_URL", None)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    from credit_dw.db import embedded as embedded_db

    try:
        _prepare_warehouse(log)
        rows = measure(args.runs, args.threads, args.variants, log, args.baseline_runs) if args.runs else []
        race_rows = race(args.race, args.variants, log) if args.race else []
    finally:
        embedded_db.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    command = "python -m benchmarks.view_rebuilds " + " ".join(argv if argv is not None else sys.argv[1:])
    markdown = render(rows, command.strip(), race_rows)
    print(markdown)
    if args.write_docs:
        write_docs(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

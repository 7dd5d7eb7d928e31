"""dbt, run in-process (dbtRunner): seeds, the prebuilt manifest Cosmos renders, plain builds.

The DAG `credit_transform` renders its task group from `dbt_project/target/manifest.json`
(Cosmos LoadMode.DBT_MANIFEST), so parsing a DAG never runs dbt; `ensure_manifest` builds it when
missing or older than the dbt sources (`make demo`, `make test` and `credit-dw run` call it).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from credit_dw.config import settings

MANIFEST = settings.DBT_PROJECT_DIR / "target" / "manifest.json"

log = logging.getLogger(__name__)

#: What PostgreSQL (through psycopg2 and dbt-postgres, which keep only the message) says when a
#: statement failed for a reason that another attempt can clear: a deadlock or a serialization
#: failure (the other transaction won), a connection lost or refused (a restart, a network blip).
#: dbt's node messages carry the text, not the SQLSTATE, so the text is what is matched.
TRANSIENT_DATABASE_ERRORS = (
    "deadlock detected",  # 40P01
    "could not serialize access",  # 40001
    "server closed the connection unexpectedly",
    "terminating connection",  # 57P01 and friends: the server or an admin ended the session
    "connection already closed",
    "connection to server",  # "connection to server at … failed", "… was lost"
    "could not connect to server",
    "ssl connection has been closed unexpectedly",
)


def _env() -> None:
    # `dbt parse` needs no database: without a configured warehouse the profile's defaults do.
    os.environ.update(settings.dbt_env_if_configured())


# Commands whose output belongs to the project (the manifest Cosmos renders, the docs site); every
# other command writes its target/ and logs under the data directory, so two warehouses (two test
# sessions, a demo and a test run) never race on one partial-parse file or run_results.json.
_PROJECT_TARGET_COMMANDS = {"parse", "docs"}


def run_dbt(args: list[str]) -> None:
    """Run one dbt command in this process; raise with dbt's own message when it fails.

    A failure whose every cause is a transient database error (`TRANSIENT_DATABASE_ERRORS`) is
    retried once, and only the failed nodes and what they held back (`dbt retry`); a second
    failure raises with the nodes named.
    """
    from dbt.cli.main import dbtRunner

    _env()
    paths = ["--project-dir", str(settings.DBT_PROJECT_DIR), "--profiles-dir", str(settings.DBT_PROJECT_DIR)]
    if args and args[0] not in _PROJECT_TARGET_COMMANDS:
        dbt_dir = settings.home() / "dbt"
        paths += ["--target-path", str(dbt_dir / "target"), "--log-path", str(dbt_dir / "logs")]
    result = dbtRunner().invoke([*args, *paths])
    if not result.success:
        transient = transient_failures(result)
        if transient:
            log.warning("%s; retrying once", describe_transient(transient))
            # `dbt retry` reruns the failed nodes and the ones skipped because of them, from the
            # run_results.json the failed run wrote; a failure before any node ran has none.
            retry = ["retry", *paths] if failed_nodes(result) else [*args, *paths]
            result = dbtRunner().invoke(retry)
            if result.success:
                log.warning("dbt %s: the retry succeeded", args[0] if args else "")
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {_failure_summary(result)}")


def failed_nodes(result) -> list[tuple[str, str]]:
    """(unique_id, message) of every node that errored or failed in a dbtRunner result."""
    return [(node_result.node.unique_id, " ".join(str(node_result.message or "").split()))
            for node_result in _failed_results(result)]


def _failed_results(result) -> list:
    return [node_result for node_result in getattr(result.result, "results", None) or []
            if str(node_result.status) in {"error", "fail", "runtime error"}]


def _is_transient(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in TRANSIENT_DATABASE_ERRORS)


def transient_failures(result) -> list[tuple[str, str]]:
    """The failed nodes when every failure is a transient database error, else an empty list.

    A failed data test, a contract violation or a bad cast is never transient: one of those among
    the failures means no retry (it would fail the same way and hide the real error for longer).
    A dbt run that failed before any node (the connection refused at start) is transient when its
    exception says so; it is returned as one pseudo-node, `(connection)`.
    """
    failed = failed_nodes(result)
    if failed:
        return failed if all(_is_transient(message) for _, message in failed) else []
    if result.exception is not None and _is_transient(str(result.exception)):
        return [("(connection)", " ".join(str(result.exception).split()))]
    return []


def describe_nodes(failed: list[tuple[str, str]]) -> str:
    """`model stg_x (deadlock detected …)`: each node by its type and name, with PostgreSQL's words."""
    parts = []
    for unique_id, message in failed:
        # dbt prefixes "Database Error in model stg_x (models/…/stg_x.sql)": the name is said already.
        said = re.sub(r"^Database Error in \w+ \S+ \([^)]*\)\s*", "", message)[:200]
        name = f"{unique_id.split('.', 1)[0]} {unique_id.rsplit('.', 1)[-1]}" if "." in unique_id else unique_id
        parts.append(f"{name} ({said})")
    return "; ".join(parts)


def describe_transient(failed: list[tuple[str, str]]) -> str:
    """`transient database error in model stg_x (deadlock detected …)`, for a log line."""
    return "transient database error in " + describe_nodes(failed)


def _failure_summary(result) -> str:
    """The failing nodes and dbt's message for each, so the error itself says what broke (a test
    runner or an Airflow log may show only the exception's line, not dbt's output above it)."""
    if result.exception is not None:
        return str(result.exception)
    failed = [
        f"{node_result.node.unique_id} {node_result.status}: {' '.join(str(node_result.message or '').split())[:500]}"
        for node_result in _failed_results(result)
    ]
    if not failed:
        return "see the dbt log above"
    return f"{len(failed)} node(s) failed: " + "; ".join(failed[:10]) + ("; …" if len(failed) > 10 else "")


def _sources_newer_than(path: Path) -> bool:
    if not path.exists():
        return True
    built = path.stat().st_mtime
    roots = [settings.DBT_PROJECT_DIR / d for d in ("models", "macros", "snapshots", "tests")] + [settings.SEEDS_DIR]
    files = [settings.DBT_PROJECT_DIR / "dbt_project.yml"]
    for root in roots:
        if root.exists():
            files.extend(p for p in root.rglob("*") if p.is_file())
    return any(f.stat().st_mtime > built for f in files)


def ensure_manifest() -> Path:
    if _sources_newer_than(MANIFEST):
        run_dbt(["parse"])
    return MANIFEST


def seed_reference() -> None:
    """Load the reference seeds (the gate checks division codes against them) and rebuild the
    working-day index the deadline functions read (`credit.refresh_working_calendar`)."""
    from credit_dw.db.connect import connect

    run_dbt(["seed"])
    with connect() as conn:
        conn.execute("select * from credit.refresh_working_calendar()")

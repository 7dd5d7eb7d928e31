"""A night under the CeleryExecutor: Redis as the broker and two Celery workers (issue 15).

The topology of docker-compose.yml's `celery` profile, on this machine: Redis from Debian's
`redis-server` package (`make redis` installs it) on a free port on 127.0.0.1, Airflow's
scheduler, dag-processor, api-server and triggerer, and two `airflow celery worker` processes
(two task slots each), on a deployment of its own (tests/airflow_services.py). A night triggered
through the REST API runs ingest → transform → export to success, and both workers ran tasks of
it: the queue really is shared, not served by one process.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from airflow_services import DAG_IDS, airflow_running, free_port, load_and_unpause, own_deployment, simulate_and_run

pytestmark = pytest.mark.integration

NIGHT = "2025-10-14"
WORKERS = 2
#: A Celery worker logs each task message it takes from the queue.
RECEIVED = re.compile(r"Task \S*execute_workload\S*\[[0-9a-f-]+\] received")


@pytest.fixture(scope="module")
def redis_url():
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert Path(server).exists(), "redis-server is missing: `make redis` installs Debian's package"
    workdir = Path(tempfile.mkdtemp(prefix="credit-dw-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir), "--save", "",
         "--appendonly", "no", "--protected-mode", "yes"],
        stdout=open(workdir / "redis.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, (workdir / "redis.log").read_text()
                time.sleep(0.2)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def deployment():
    with own_deployment() as dep:
        yield dep


@pytest.fixture(scope="module")
def celery_airflow(deployment, redis_url):
    metadata = deployment.metadata_url()
    executor = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        # Task states back into Airflow's metadata database (as the official compose file does).
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata.replace("+psycopg2", ""),
    }
    with airflow_running(deployment, executor, workers=WORKERS) as airflow:
        yield load_and_unpause(airflow)


def test_a_night_runs_to_success_on_two_celery_workers(celery_airflow, deployment):
    runs = simulate_and_run(celery_airflow, deployment, NIGHT)
    assert [runs[d]["state"] for d in DAG_IDS] == ["success"] * 3
    assert runs["credit_export"]["run_type"] == "asset_triggered"
    received = {
        n: len(RECEIVED.findall((celery_airflow.home / f"worker-{n}.log").read_text(errors="replace")))
        for n in range(1, WORKERS + 1)
    }
    print(f"\ntask messages taken per worker: {received}")
    assert all(count > 0 for count in received.values()), received
    assert (deployment.home / "outbox" / "national" / NIGHT / "_SUCCESS").exists()

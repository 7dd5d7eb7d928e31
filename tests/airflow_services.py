"""Airflow's real components on this machine, for the tests that run nights under them.

A deployment of its own (`Deployment`): a data directory (`CREDIT_DW_HOME`) in a temporary
directory with its own embedded PostgreSQL (`credit-dw db start`: the warehouse, the simulated
department databases and Airflow's metadata database), so nothing another test left in the
session's warehouse changes what a night builds. `airflow_running()` starts the api-server (on a
free port on 127.0.0.1), the scheduler, the dag-processor and the triggerer as separate processes
(and Celery workers when asked), each logging to a file; a failure or a timeout prints the failed
tasks' log tails and the components' log tails. Used by tests/test_real_scheduler.py
(LocalExecutor, then CeleryExecutor with Redis and two workers on the same deployment).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from credit_dw.config import airflow_env

DAG_IDS = ("credit_ingest", "credit_transform", "credit_export")
METADATA_DB = "airflow_metadata"
#: The api-server, scheduler and dag-processor up, and the three DAGs parsed.
STARTUP_TIMEOUT_SECONDS = 180
#: A night through the three DAGs; a cycle taking longer fails with the logs.
CYCLE_TIMEOUT_SECONDS = int(os.environ.get("CREDIT_DW_NIGHT_TIMEOUT_SECONDS", 1800))
TERMINAL = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    """The file's last lines; of a task log (JSON lines), each line's level and event, shortened."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        return f"(cannot read {path}: {err})"
    shown = []
    for line in text[-lines:]:
        try:
            record = json.loads(line)
            line = f"{record.get('timestamp', '')} {record.get('level', '')}: {record.get('event', '')}"
        except (ValueError, AttributeError):
            pass
        shown.append(line[:400])
    return "\n".join(shown)


@dataclass
class Airflow:
    """The running components and a small REST client for them."""

    home: Path
    base_url: str
    env: dict[str, str]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str = ""

    # --- REST -----------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:2000]
            raise AssertionError(f"{method} {path}: HTTP {err.code}: {detail}") from err
        return json.loads(raw) if raw else {}

    def runs(self, dag_id: str) -> list[dict]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        quoted = urllib.request.quote(run_id, safe="")
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=1000")["task_instances"]

    def wait_for_run(self, dag_id: str, known: set[str], deadline: float) -> dict:
        """The first run of the DAG not in `known`, once it is terminal; fails with logs at the deadline."""
        run = None
        while time.monotonic() < deadline:
            self.check_alive()
            new = [r for r in self.runs(dag_id) if r["dag_run_id"] not in known]
            if new:
                run = new[0]
                if run["state"] in TERMINAL:
                    return run
            time.sleep(3)
        where = f"run {run['dag_run_id']} is {run['state']}" if run else "no run was created"
        pytest.fail(f"timed out waiting for {dag_id}: {where}\n"
                    + self.failure_report(dag_id, run["dag_run_id"] if run else None))

    def durations(self, dag_id: str, run_id: str) -> str:
        """The run's slowest tasks, for the test output."""
        tis = [ti for ti in self.task_instances(dag_id, run_id) if ti.get("duration")]
        tis.sort(key=lambda ti: -ti["duration"])
        return ", ".join(f"{ti['task_id']}[{ti['map_index']}] {ti['duration']:.0f} s" for ti in tis[:5])

    # --- diagnostics ----------------------------------------------------------------------------
    def failure_report(self, dag_id: str | None = None, run_id: str | None = None) -> str:
        """The failed tasks of a run with their log tails, then every component's log tail."""
        parts = []
        if dag_id and run_id:
            try:
                instances = self.task_instances(dag_id, run_id)
            except AssertionError as err:
                instances = []
                parts.append(str(err))
            bad = [ti for ti in instances if ti["state"] not in ("success", "skipped")]
            parts.append(f"{dag_id} {run_id}: tasks not succeeded: "
                         + ", ".join(f"{ti['task_id']}[{ti['map_index']}]={ti['state']}" for ti in bad))
            for ti in bad:
                if ti["state"] not in ("failed", "up_for_retry"):
                    continue
                folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={ti['task_id']}"
                for log in sorted(folder.rglob("attempt=*.log")):
                    parts.append(f"--- {log.relative_to(self.home)} (tail)\n{tail(log, 30)}")
        for name in self.procs:
            parts.append(f"--- {name}.log (tail)\n{tail(self.home / f'{name}.log', 25)}")
        return "\n".join(parts)

    def check_alive(self) -> None:
        dead = {name: proc.returncode for name, proc in self.procs.items() if proc.poll() is not None}
        if dead:
            pytest.fail(f"Airflow components exited: {dead}\n" + self.failure_report())

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self, name: str, *args: str, command: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        """`airflow <command or name> <args>` in the background, logging to `<name>.log`."""
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *(command or (name,)), *args], env={**self.env, **(env or {})},
            stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # its own process group: children too
        )
        log.close()

    def stop(self) -> None:
        import psutil

        # Task processes may leave the component's process group (a task runner in a session of
        # its own): find every descendant first, and kill what is left of them at the end.
        descendants = []
        for proc in self.procs.values():
            try:
                descendants += psutil.Process(proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                pass
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever is left in its group (task runners, api-server workers)
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        for child in descendants:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass


@dataclass
class Deployment:
    """A data directory with its own embedded PostgreSQL, started as `credit-dw db start` does."""

    home: Path
    env: dict[str, str]
    warehouse_url: str = ""

    def cli(self, *args: str, timeout: int = 600) -> str:
        done = subprocess.run([sys.executable, "-m", "credit_dw.cli", *args], env=self.env, text=True,
                              capture_output=True, timeout=timeout)
        assert done.returncode == 0, f"credit-dw {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-4000:]}"
        return done.stdout

    def metadata_url(self) -> str:
        """Airflow's metadata database, beside the warehouse on the deployment's server."""
        import psycopg

        with psycopg.connect(self.warehouse_url, autocommit=True) as conn:
            if not conn.execute("select 1 from pg_database where datname = %s", (METADATA_DB,)).fetchone():
                conn.execute(f"create database {METADATA_DB}")
        pg = settings_pg_params(self.warehouse_url)
        host = f"?host={pg.host}" if pg.host.startswith("/") else ""
        netloc = "" if host else f"{pg.host}:{pg.port}"
        return f"postgresql+psycopg2://{pg.user}:{pg.password}@{netloc}/{METADATA_DB}{host}"

    def outbox_bytes(self, night: str) -> dict[str, str]:
        """sha256 of every file delivered for the night, every target (city/<code> too)."""
        outbox = self.home / "outbox"
        return {str(f.relative_to(outbox)): hashlib.sha256(f.read_bytes()).hexdigest()
                for f in sorted(outbox.rglob("*")) if f.is_file() and f.parent.name == night}


def settings_pg_params(url: str):
    from credit_dw.config import settings

    return settings.pg_params(url)


@contextmanager
def own_deployment() -> Iterator[Deployment]:
    """A data directory and an embedded PostgreSQL of its own, removed after."""
    home = Path(tempfile.mkdtemp(prefix="credit-dw-deployment-"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "CREDIT_DW_", "SOURCE_")) and k != "WAREHOUSE_URL"}
    env["CREDIT_DW_HOME"] = str(home)
    dep = Deployment(home=home, env=env)
    try:
        dep.cli("db", "start", timeout=180)
        dep.warehouse_url = (home / "warehouse.url").read_text().strip()
        yield dep
    finally:
        subprocess.run([sys.executable, "-m", "credit_dw.cli", "db", "stop"], env=env, capture_output=True,
                       timeout=120)
        if not os.environ.get("CREDIT_DW_KEEP_AIRFLOW_HOME"):
            shutil.rmtree(home, ignore_errors=True)


def environment(deployment: Deployment, home: Path, port: int, executor: dict[str, str]) -> dict[str, str]:
    env = dict(deployment.env)  # not the session's SQLite, data directory or warehouse
    env.update(airflow_env.defaults(home))
    metadata_url = deployment.metadata_url()
    (home / "passwords.json").write_text(json.dumps({"operator": "night-shift"}))
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        # Airflow derives an asyncpg URL otherwise (not installed): psycopg 3's async driver.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url.replace("+psycopg2://", "+psycopg_async://"),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__WORKERS": "1",
        # The scheduler's and the triggerer's log servers (8793, 8794 by default) on free ports:
        # another Airflow on this machine must not make the components fail to start.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        # Every component signs or checks the same tokens (task runners ↔ execution API).
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "operator:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        # As deployed (docker-compose.yml): new DAGs start paused; the operator unpauses them.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "CREDIT_DW_RETRY_DELAY_SECONDS": "5",
    })
    env.update(executor)  # AIRFLOW__CORE__EXECUTOR and what it needs
    return env


@contextmanager
def airflow_running(deployment: Deployment, executor: dict[str, str], workers: int = 0,
                    name: str = "airflow") -> Iterator[Airflow]:
    """The four components (and `workers` Celery workers) on the deployment, stopped after; their
    AIRFLOW_HOME is `<deployment>/<name>` (the metadata database is the deployment's, shared)."""
    # Not pytest's tmp_path_factory: other pytest sessions of the same user prune its numbered
    # directories while this one runs. Kept when CREDIT_DW_KEEP_AIRFLOW_HOME is set.
    home = deployment.home / name
    home.mkdir()
    port = free_port()
    af = Airflow(home=home, base_url=f"http://127.0.0.1:{port}", env=environment(deployment, home, port, executor))
    with open(home / "db-migrate.log", "wb") as log:
        migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=af.env,
                                  stdout=log, stderr=subprocess.STDOUT, timeout=600)
    assert migrated.returncode == 0, tail(home / "db-migrate.log")
    try:
        af.start("api-server", "--host", "127.0.0.1", "--port", str(port))
        af.start("scheduler")
        af.start("dag-processor")
        af.start("triggerer")
        for n in range(1, workers + 1):
            # Each worker serves its task logs on a port of its own, under a name of its own.
            af.start(f"worker-{n}", "--concurrency", "2", "--celery-hostname",
                     f"worker{n}@%h", env={"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
                     command=("celery", "worker"))
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            af.check_alive()
            try:
                health = af.request("GET", "/api/v2/monitor/health", auth=False)
                if health.get("scheduler", {}).get("status") == "healthy":
                    break
            except (AssertionError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("the api-server or the scheduler did not come up\n" + af.failure_report())
            time.sleep(2)
        af.token = af.request("POST", "/auth/token", {"username": "operator", "password": "night-shift"},
                              auth=False)["access_token"]
        yield af
    finally:
        af.stop()


def load_and_unpause(airflow: Airflow) -> Airflow:
    """The dag-processor has serialized the three DAGs, without import errors; they are unpaused."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        airflow.check_alive()
        errors = airflow.request("GET", "/api/v2/importErrors")["import_errors"]
        assert not errors, "DAG import errors under the dag-processor:\n" + "\n".join(
            f"{e['filename']}: {e['stack_trace']}" for e in errors)
        dag_ids = {d["dag_id"] for d in airflow.request("GET", "/api/v2/dags?limit=100")["dags"]}
        if set(DAG_IDS) <= dag_ids:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the dag-processor did not load {set(DAG_IDS) - dag_ids}\n" + airflow.failure_report())
        time.sleep(2)
    for dag_id in DAG_IDS:
        airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    return airflow


def run_night(airflow: Airflow, night: str) -> dict[str, dict]:
    """Trigger credit_ingest for the night; return each DAG's new run once terminal."""
    known = {dag_id: {r["dag_run_id"] for r in airflow.runs(dag_id)} for dag_id in DAG_IDS}
    airflow.request("POST", "/api/v2/dags/credit_ingest/dagRuns",
                    {"logical_date": None, "conf": {"logical_date": night}})
    deadline = time.monotonic() + CYCLE_TIMEOUT_SECONDS
    runs = {}
    for dag_id in DAG_IDS:
        run = airflow.wait_for_run(dag_id, known[dag_id], deadline)
        if run["state"] != "success":
            pytest.fail(f"{dag_id} run {run['dag_run_id']} {run['state']}\n"
                        + airflow.failure_report(dag_id, run["dag_run_id"]))
        runs[dag_id] = run
        print(f"\n{dag_id}: slowest tasks {airflow.durations(dag_id, run['dag_run_id'])}")
    return runs




@contextmanager
def redis_running() -> Iterator[str]:
    """Debian's redis-server (`make redis`) on a free port on 127.0.0.1, no persistence; its URL."""
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert Path(server).exists(), "redis-server is missing: `make redis` installs Debian's package"
    workdir = Path(tempfile.mkdtemp(prefix="credit-dw-redis-"))
    port = free_port()
    with open(workdir / "redis.log", "wb") as log:
        proc = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir), "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"], stdout=log, stderr=subprocess.STDOUT)
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


def table_fingerprints(conn) -> dict[str, tuple[int, str]]:
    from test_nightly import _table_fingerprints as fingerprints

    return fingerprints(conn)


def simulate_and_run(dags_loaded: Airflow, deployment: Deployment, night: str) -> dict[str, dict]:
    """Simulate the night's deliveries, trigger credit_ingest and wait for the Asset chain."""
    deployment.cli("simulate", "--date", night)
    started = time.monotonic()
    runs = run_night(dags_loaded, night)
    print(f"\nnight {night} under the real components: {time.monotonic() - started:.0f} s")
    return runs

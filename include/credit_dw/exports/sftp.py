"""A target's delivery on a receiver's SFTP server: `<remote_root>/<target>/<date>/`.

The connection is an Airflow SFTP connection (`credit_export_sftp_<target>`, see
`credit_dw.exports.destination`); Airflow's SFTP provider (`SFTPHook`) opens it and hands over
paramiko's `SFTPClient`. Besides the provider's own keys (`key_file` or `private_key`,
`host_key`, `no_host_key_check`, `look_for_keys`, `conn_timeout`, ...) the connection's extra may
name `remote_root` (else the connection's schema, else the login's initial directory).

Every file goes up the same way, so a receiver polling the directory never sees half a file and
the warehouse never records a file it has not read back:

1. uploaded under a hidden temporary name, `.<name>.tmp`;
2. read back: its size from `stat` and its sha256 by reading the whole file back, both compared
   with the bytes sent (a mismatch removes the temporary file and fails the delivery);
3. renamed onto `<name>` with `posix_rename` (the OpenSSH `posix-rename@openssh.com` extension:
   atomic, replaces an existing file; the provider's hook has no rename).

Temporary files a killed run left behind are removed on the next run. What to put, in which
order, and when to record the delivery is `credit_dw.exports.delivery`'s business.
"""

from __future__ import annotations

import fnmatch
import getpass
import hashlib
import stat
from pathlib import PurePosixPath

from credit_dw.exports.writer import TMP_PATTERN

#: Bytes per SFTP write and read (paramiko splits them into protocol packets itself).
CHUNK = 256 * 1024


class SftpUnreachable(RuntimeError):
    """The SFTP server could not be reached or refused us (network, host key, authentication)."""


class SftpNotVerified(RuntimeError):
    """A file read back from the server differs from the bytes sent."""


class SftpOutbox:
    """One night's directory of one target on an SFTP server, through Airflow's `SFTPHook`."""

    kind = "sftp"

    def __init__(self, connection, target: str, day: str) -> None:
        extra = connection.extra_dejson
        root = extra.get("remote_root") or connection.schema or "."
        self.conn_id = connection.conn_id
        self.directory = PurePosixPath(root) / target / day
        login = connection.login or getpass.getuser()
        self.server = f"{login}@{connection.host}:{connection.port or 22}"
        path = str(self.directory) if self.directory.is_absolute() else f"/~/{self.directory}"
        self.location = f"sftp://{self.server}{path}"
        self._hook = None
        try:
            from airflow.providers.sftp.hooks.sftp import SFTPHook

            # One attempt: a wrong host key or key is not fixed by retrying; the task retries.
            self._hook = SFTPHook(ssh_conn_id=self.conn_id, conn_retry_attempts=1)
            self._client = self._hook.get_conn()
        except Exception as exc:
            self.close()
            raise SftpUnreachable(
                f"export {target} {day}: SFTP connection {self.conn_id} to {self.server} failed: "
                f"{type(exc).__name__}: {exc} (check the connection's host, port, login, key and host_key)"
            ) from exc

    def _path(self, name: str) -> str:
        return str(self.directory / name)

    def makedirs(self) -> None:
        """`mkdir -p` of the night's directory."""
        path = PurePosixPath()
        for part in self.directory.parts:
            path = path / part
            try:
                attributes = self._client.stat(str(path))
            except FileNotFoundError:
                try:
                    self._client.mkdir(str(path))
                except OSError:
                    if not self._is_dir(str(path)):  # not made by a concurrent run either
                        raise
                continue
            if not stat.S_ISDIR(attributes.st_mode or 0):
                raise NotADirectoryError(f"{self.location}: {path} exists and is not a directory")

    def _is_dir(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(self._client.stat(path).st_mode or 0)
        except FileNotFoundError:
            return False

    def clear_leftovers(self) -> list[str]:
        removed = sorted(a.filename for a in self._client.listdir_attr(str(self.directory))
                         if fnmatch.fnmatch(a.filename, TMP_PATTERN) and stat.S_ISREG(a.st_mode or 0))
        for name in removed:
            self.remove(name)
        return removed

    def exists(self, name: str) -> bool:
        try:
            self._client.stat(self._path(name))
        except FileNotFoundError:
            return False
        return True

    def digest(self, name: str) -> tuple[int, str] | None:
        path = self._path(name)
        try:
            size = self._client.stat(path).st_size
        except FileNotFoundError:
            return None
        return size, self._sha256(path, size)

    def _sha256(self, path: str, size: int | None) -> str:
        """The file's sha256, computed over the bytes read back from the server."""
        digest = hashlib.sha256()
        with self._client.open(path, "rb") as fh:
            fh.prefetch(size)
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def _upload(self, path: str, payload: bytes) -> None:
        with self._client.open(path, "wb") as fh:
            fh.set_pipelined(True)
            for start in range(0, len(payload), CHUNK):
                fh.write(payload[start:start + CHUNK])

    def put(self, name: str, payload: bytes) -> None:
        """Upload as `.<name>.tmp`, read its size and sha256 back, then `posix_rename` onto `name`."""
        final, tmp = self._path(name), self._path(f".{name}.tmp")
        self._upload(tmp, payload)
        sent = (len(payload), hashlib.sha256(payload).hexdigest())
        size = self._client.stat(tmp).st_size
        read_back = (size, self._sha256(tmp, size) if size == len(payload) else "not read (size differs)")
        if read_back != sent:
            self._client.remove(tmp)
            raise SftpNotVerified(
                f"{self.location}/{name}: read back {read_back[0]} bytes, sha256 {read_back[1]}; sent "
                f"{sent[0]} bytes, sha256 {sent[1]}: not renamed into place")
        self._client.posix_rename(tmp, final)

    def remove(self, name: str) -> None:
        try:
            self._client.remove(self._path(name))
        except FileNotFoundError:
            pass

    def sizes(self) -> dict[str, int]:
        try:
            listing = self._client.listdir_attr(str(self.directory))
        except FileNotFoundError:
            return {}
        return {a.filename: a.st_size for a in listing
                if stat.S_ISREG(a.st_mode or 0) and not a.filename.startswith(".")}

    def close(self) -> None:
        hook, self._hook = self._hook, None
        if hook is None:
            return
        hook.close_conn()
        if hook.client is not None:
            hook.client.close()

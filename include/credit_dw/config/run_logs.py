"""Full logs on disk, a quiet console: what a night's libraries write goes to a file.

A night through Airflow writes thousands of lines: Airflow's and Cosmos's structured task logs,
dbt's, Great Expectations' notices. The data engineer at the console needs the stages, their
times and the summary; the rest belongs in `$CREDIT_DW_HOME/logs/<night>/`, where the summary
and the runbook point. The redirection is at the file-descriptor level (1 and 2), so it catches
everything, subprocesses included, whatever stream object a library captured at import;
the console keeps a stream on the original standard output.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from credit_dw.config import settings


def night_log_path(night: date, command: str = "run") -> Path:
    """A new log file of one command for one night: logs/<night>/<command>-<local time>.log."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    return settings.home() / "logs" / night.isoformat() / f"{command}-{stamp}.log"


@contextmanager
def output_to_file(path: Path) -> Iterator[TextIO]:
    """Inside the block, file descriptors 1 and 2 write to `path` (appended); yields a text stream
    on what standard output was before (for the console). When sys.stdout is not file descriptor 1
    (a test's CliRunner captures it), it stays as it is and is yielded; the libraries' output
    still goes to the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        stdout_is_fd1 = sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        stdout_is_fd1 = False
    saved = (os.dup(1), os.dup(2))
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    terminal: TextIO = (os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8")
                        if stdout_is_fd1 else sys.stdout)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    try:
        yield terminal
    finally:
        for stream in (sys.stdout, sys.stderr, terminal):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)
        if terminal is not sys.stdout:
            terminal.close()

"""Writing a file so that a reader never sees half of it: the one helper every writer uses.

Departments' inboxes (the simulator), return notices and export deliveries are all read by
someone polling the directory; a file appears complete under its own name or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Temporary files of `write_atomically` (hidden; readers and the inbox scanner skip them).
TMP_PATTERN = ".*.tmp"


def write_atomically(path: Path, payload: bytes) -> None:
    """Write `payload` to `.<name>.tmp` beside `path`, flush it to disk, rename it onto `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)

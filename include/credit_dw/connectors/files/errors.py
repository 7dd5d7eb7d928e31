"""The file-drop connector's two failures: a file refused (its receipt says where and why; the
night's other files land) and a night whose every file was refused (the feed fails)."""

from __future__ import annotations


class AllFilesRefusedError(ValueError):
    """Every file delivered for the night was refused: the feed fails (nothing of it could land)."""


class FileRejected(Exception):
    """A file that cannot be landed; the receipt carries where and why: `reason` for engineers,
    `notice` in Chinese for the department's return notice (信息退回)."""

    def __init__(self, reason: str, *, line: int | None = None, row: int | None = None, notice: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.notice = notice or f"文件无法读取（{reason}），请按模板重新报送"
        self.line = line
        self.row = row


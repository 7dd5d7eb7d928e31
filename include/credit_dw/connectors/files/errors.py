"""The file-drop connector's two failures: a file rejected (its receipt says where and why) and a
delivery lacking required columns (the whole night's batch fails)."""

from __future__ import annotations


class MissingColumnsError(ValueError):
    """A delivered file lacks required columns: the whole night's batch fails."""


class FileRejected(Exception):
    """A file that cannot be landed; the receipt carries where and why: `reason` for engineers,
    `notice` in Chinese for the department's return notice (信息退回)."""

    def __init__(self, reason: str, *, line: int | None = None, row: int | None = None, notice: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.notice = notice or f"文件无法读取（{reason}），请按模板重新报送"
        self.line = line
        self.row = row

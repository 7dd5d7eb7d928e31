"""The export catalog (`catalog/exports.yml`): the one place that says which targets exist.

Each entry declares a target's receiver, the marts it reads, its scope, schedule, masking and
files (headers, field types, how rows are counted per operation); the keys are documented at the
top of the YAML file. The export framework (`credit_dw.exports`) and the `credit_export` DAG read
only this, so a new exit is one entry plus one module under `credit_dw/exports/targets/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from credit_dw.config import settings

EXPORTS_FILE = settings.CATALOG_DIR / "exports.yml"

#: Frictionless field types a column may declare (the manifest's table schema).
FIELD_TYPES = {"string", "date", "integer"}


@dataclass(frozen=True)
class ColumnSpec:
    key: str  # the target query's column
    header: str  # the receiver's header
    type: str = "string"


@dataclass(frozen=True)
class FileSpec:
    name: str
    title: str
    columns: tuple[ColumnSpec, ...]
    operation: str | None = None  # every row counts under this operation ...
    operation_header: str | None = None  # ... or under the value of this column

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]

    def file_name(self, logical_date: str) -> str:
        return f"{self.name}_{logical_date}.csv"


@dataclass(frozen=True)
class ExportSpec:
    target: str
    title: str
    module: str
    layout_version: str
    schedule: str
    scope: str
    reads: tuple[str, ...]
    as_of_checked: tuple[str, ...]
    masking: str
    person_names_allowed: tuple[str, ...]
    files: tuple[FileSpec, ...]


def _file(target: str, entry: dict) -> FileSpec:
    columns = tuple(ColumnSpec(key=c["key"], header=c["header"], type=c.get("type", "string"))
                    for c in entry["columns"])
    bad = [c.key for c in columns if c.type not in FIELD_TYPES]
    if bad:
        raise ValueError(f"{EXPORTS_FILE}: {target}/{entry['name']}: columns {bad} have a type outside {FIELD_TYPES}")
    operation = entry.get("operation")
    header = operation.get("column") if isinstance(operation, dict) else None
    if header is not None and header not in [c.header for c in columns]:
        raise ValueError(f"{EXPORTS_FILE}: {target}/{entry['name']}: operation column {header!r} is not a header")
    return FileSpec(name=entry["name"], title=entry.get("title", entry["name"]), columns=columns,
                    operation=None if header else operation, operation_header=header)


@cache
def load_exports() -> tuple[ExportSpec, ...]:
    import yaml

    data = yaml.safe_load(EXPORTS_FILE.read_text(encoding="utf-8")) or {}
    specs = []
    for entry in data.get("exports", []):
        missing = {"target", "module", "layout_version", "files"} - set(entry)
        if missing:
            raise ValueError(f"{EXPORTS_FILE}: target {entry.get('target', '?')} lacks {sorted(missing)}")
        specs.append(ExportSpec(
            target=entry["target"], title=entry.get("title", entry["target"]), module=entry["module"],
            layout_version=str(entry["layout_version"]), schedule=entry.get("schedule", "nightly"),
            scope=" ".join(str(entry.get("scope", "")).split()), reads=tuple(entry.get("reads", [])),
            as_of_checked=tuple(entry.get("as_of_checked", [])), masking=entry.get("masking", ""),
            person_names_allowed=tuple(entry.get("person_names_allowed", [])),
            files=tuple(_file(entry["target"], f) for f in entry["files"]),
        ))
    targets = [s.target for s in specs]
    if len(set(targets)) != len(targets):
        raise ValueError(f"{EXPORTS_FILE}: duplicate targets in {targets}")
    return tuple(specs)


def export_targets() -> list[str]:
    return [s.target for s in load_exports()]


def get_export(target: str) -> ExportSpec:
    for spec in load_exports():
        if spec.target == target:
            return spec
    raise KeyError(f"no export target {target!r} in {EXPORTS_FILE} (known: {export_targets()})")

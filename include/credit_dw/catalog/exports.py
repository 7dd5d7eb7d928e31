"""The export catalog (`catalog/exports.yml`): the one place that says which targets exist.

Each entry declares a target's receiver, the marts it reads, its scope, schedule, masking and
files (headers, field types, how rows are counted per operation); the keys are documented at the
top of the YAML file. The export framework (`credit_dw.exports`) and the `credit_export` DAG read
only this, so a new exit is one entry plus one module under `credit_dw/exports/targets/`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from credit_dw.config import settings

EXPORTS_FILE = settings.CATALOG_DIR / "exports.yml"
#: The GB/T 2260 reference seed: which codes are jurisdictions (reporting units) [rules §3].
DIVISIONS_FILE = settings.SEEDS_DIR / "hebei_divisions.csv"
#: The province's own code: the delivery of a fanned-out target for subjects no city holds.
PROVINCE_CODE = "130000"

#: Frictionless field types a column may declare (the manifest's table schema).
FIELD_TYPES = {"string", "date", "integer", "number"}
#: How an entry may fan out into one export per part (`fan_out:` in exports.yml).
FAN_OUTS = {"jurisdictions"}
#: What a file is (`kind:` in exports.yml): the whole set as of the night, or the night's changes.
FILE_KINDS = {"snapshot", "increment"}
#: How a target names its columns (`header_style:` in exports.yml): the national template's Chinese
#: headers, or the field codes of the 2019+ templates (`XK_*` licences, `CF_*` penalties, `SJC` update
#: time), as the receiver chooses.
HEADER_STYLES = {"template", "field_codes"}
#: The file formats a target may receive (`formats:` in exports.yml); CSV always, first.
FORMATS = ("csv", "xlsx")
#: A snapshot file is held, not sent, when its rows fall below this share of the last delivered
#: night's (or to none from some), unless the file or the entry declares `hold_if_shrinks_below`.
DEFAULT_HOLD_IF_SHRINKS_BELOW = 0.5


@dataclass(frozen=True)
class ColumnSpec:
    key: str  # the target query's column
    header: str  # the receiver's header (the template's Chinese header, or its field code: header_style)
    type: str = "string"
    code: str | None = None  # the national template's field code (XK_* / CF_* / SJC), where known


@dataclass(frozen=True)
class FileSpec:
    name: str
    title: str
    columns: tuple[ColumnSpec, ...]
    operation: str | None = None  # every row counts under this operation ...
    operation_header: str | None = None  # ... or under the value of this column
    kind: str = "increment"  # "snapshot": the whole set as of the night; "increment": the night's changes
    # Snapshots only: held (not sent) when rows < this share of the last delivered night's, or
    # when it is empty and that night's was not (credit_dw.exports.delivery); None: never held.
    hold_if_shrinks_below: float | None = None

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]

    def file_name(self, logical_date: str, file_format: str = "csv") -> str:
        return f"{self.name}_{logical_date}.{file_format}"


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
    # A fanned-out entry (`fan_out:`) becomes one spec per part: target `<family>/<part>`, and the
    # target module's tables() is called with the part. Plain entries: family = target, no part.
    family: str = ""
    part: str | None = None
    header_style: str = "template"  # the headers as written (already applied to the files' columns)
    formats: tuple[str, ...] = ("csv",)  # every file in each of these formats, csv first


def _hold_threshold(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{EXPORTS_FILE}: {where}: hold_if_shrinks_below must be a share between 0 and 1, "
                         f"not {value!r}")
    return float(value)


def _file(target: str, entry: dict, default_hold: float, header_style: str = "template") -> FileSpec:
    where = f"{target}/{entry['name']}"
    kind = entry.get("kind", "increment")
    if kind not in FILE_KINDS:
        raise ValueError(f"{EXPORTS_FILE}: {where}: kind {kind!r} is not one of {FILE_KINDS}")
    if kind != "snapshot" and "hold_if_shrinks_below" in entry:
        raise ValueError(f"{EXPORTS_FILE}: {where}: only a snapshot file is held when it shrinks (an "
                         "increment may legitimately be empty)")
    hold = (_hold_threshold(where, entry.get("hold_if_shrinks_below", default_hold))
            if kind == "snapshot" else None)
    columns = tuple(ColumnSpec(key=c["key"], header=c["header"], type=c.get("type", "string"), code=c.get("code"))
                    for c in entry["columns"])
    bad = [c.key for c in columns if c.type not in FIELD_TYPES]
    if bad:
        raise ValueError(f"{EXPORTS_FILE}: {target}/{entry['name']}: columns {bad} have a type outside {FIELD_TYPES}")
    operation = entry.get("operation")
    header = operation.get("column") if isinstance(operation, dict) else None
    if header is not None and header not in [c.header for c in columns]:
        raise ValueError(f"{EXPORTS_FILE}: {target}/{entry['name']}: operation column {header!r} is not a header")
    if header_style == "field_codes":
        # A receiver that chose field codes gets a file named by codes throughout, never half coded:
        # a column whose code the catalog does not know refuses the whole entry.
        uncoded = [c.header for c in columns if not c.code]
        if uncoded:
            raise ValueError(f"{EXPORTS_FILE}: {where}: header_style field_codes, but no field code is declared "
                             f"for {uncoded}")
        codes = {c.header: c.code for c in columns}
        header = codes[header] if header is not None else None
        columns = tuple(ColumnSpec(key=c.key, header=c.code, type=c.type, code=c.code) for c in columns)
    if len({c.header for c in columns}) != len(columns):
        raise ValueError(f"{EXPORTS_FILE}: {where}: duplicate headers in {[c.header for c in columns]}")
    return FileSpec(name=entry["name"], title=entry.get("title", entry["name"]), columns=columns,
                    operation=None if header else operation, operation_header=header, kind=kind,
                    hold_if_shrinks_below=hold)


def jurisdictions() -> list[tuple[str, str]]:
    """(code, name) of the province's jurisdictions, from the reference seed: the current reporting
    units below the province (the 11 cities, 定州, 辛集, 雄安新区), by code, then the province itself
    (130000), which receives the subjects reporting to no city (province-level or unknown)."""
    with DIVISIONS_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    units = sorted((r["division_code"], r["division_name"]) for r in rows
                   if r["is_current"] == "true" and r["division_code"] == r["reporting_unit_code"]
                   and r["division_level"] != "province")
    province = next(r["division_name"] for r in rows if r["division_code"] == PROVINCE_CODE)
    return [*units, (PROVINCE_CODE, f"{province}本级及未归属")]


def _parts(entry: dict) -> list[tuple[str, str]] | None:
    fan_out = entry.get("fan_out")
    if fan_out is None:
        return None
    if fan_out not in FAN_OUTS:
        raise ValueError(f"{EXPORTS_FILE}: {entry['target']}: fan_out {fan_out!r} is not one of {FAN_OUTS}")
    return jurisdictions()


@cache
def load_exports() -> tuple[ExportSpec, ...]:
    import yaml

    return specs_from(yaml.safe_load(EXPORTS_FILE.read_text(encoding="utf-8")) or {})


def _header_style(entry: dict) -> str:
    style = entry.get("header_style", "template")
    if style not in HEADER_STYLES:
        raise ValueError(f"{EXPORTS_FILE}: {entry['target']}: header_style {style!r} is not one of {HEADER_STYLES}")
    return style


def _formats(entry: dict) -> tuple[str, ...]:
    formats = tuple(entry.get("formats", ["csv"]))
    if not formats or formats[0] != "csv" or len(set(formats)) != len(formats) or set(formats) - set(FORMATS):
        raise ValueError(f"{EXPORTS_FILE}: {entry['target']}: formats {list(formats)} must start with csv and "
                         f"name each of {list(FORMATS)} at most once")
    return formats


def specs_from(data: dict) -> tuple[ExportSpec, ...]:
    """The specs of a parsed catalog (`load_exports` reads the file; tests pass variants)."""
    specs = []
    for entry in data.get("exports", []):
        missing = {"target", "module", "layout_version", "files"} - set(entry)
        if missing:
            raise ValueError(f"{EXPORTS_FILE}: target {entry.get('target', '?')} lacks {sorted(missing)}")
        common = dict(
            module=entry["module"],
            layout_version=str(entry["layout_version"]), schedule=entry.get("schedule", "nightly"),
            scope=" ".join(str(entry.get("scope", "")).split()), reads=tuple(entry.get("reads", [])),
            as_of_checked=tuple(entry.get("as_of_checked", [])), masking=entry.get("masking", ""),
            person_names_allowed=tuple(entry.get("person_names_allowed", [])),
            files=tuple(_file(entry["target"], f, _hold_threshold(
                entry["target"], entry.get("hold_if_shrinks_below", DEFAULT_HOLD_IF_SHRINKS_BELOW)),
                _header_style(entry))
                for f in entry["files"]),
            family=entry["target"], header_style=_header_style(entry), formats=_formats(entry),
        )
        title = entry.get("title", entry["target"])
        parts = _parts(entry)
        if parts is None:
            specs.append(ExportSpec(target=entry["target"], title=title, **common))
        else:
            specs.extend(ExportSpec(target=f"{entry['target']}/{code}", title=f"{title}（{name}）", part=code,
                                    **common) for code, name in parts)
    targets = [s.target for s in specs]
    if len(set(targets)) != len(targets):
        raise ValueError(f"{EXPORTS_FILE}: duplicate targets in {targets}")
    return tuple(specs)


def export_targets() -> list[str]:
    """Every delivery target, a fanned-out entry's parts each on its own (`city/130100`, ...)."""
    return [s.target for s in load_exports()]


def export_families() -> list[str]:
    """The catalog entries (`city` once), in catalog order: what the dbt exposures name."""
    return list(dict.fromkeys(s.family for s in load_exports()))


def get_export(target: str) -> ExportSpec:
    for spec in load_exports():
        if spec.target == target:
            return spec
    raise KeyError(f"no export target {target!r} in {EXPORTS_FILE} (known: {export_targets()})")

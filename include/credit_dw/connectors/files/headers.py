"""Header mapping for file drops: a delivered file's header row → the catalog's canonical fields.

Headers are compared after `normalize_header` and mapped through `seeds/field_aliases.csv`
(template headers, legacy CF_* / XK_* codes, canonical names) plus the catalog's own `fields`.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from credit_dw.catalog import SourceSpec
from credit_dw.config import settings
from credit_dw.connectors.files.errors import FileRejected

ALIASES_FILE = "field_aliases.csv"

_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xFEFF: None}


def normalize_header(text: object) -> str:
    """A header as compared: full-width ASCII and （）→ half-width, no white space, no `*`
    required-markers, case-folded ("罚款金额（万元）", "罚款金额(万元)" and " cf_nr_fk " all match)."""
    if text is None:
        return ""
    value = str(text).translate(_HALF_WIDTH)
    return "".join(value.split()).strip("*").casefold()


def aliases_path() -> Path:
    return settings.SEEDS_DIR / ALIASES_FILE


@cache
def _alias_rows() -> tuple[tuple[str, str, str, str], ...]:
    with aliases_path().open(encoding="utf-8", newline="") as fh:
        return tuple((r["source_id"], r["canonical_field"], r["alias"], r["alias_kind"]) for r in csv.DictReader(fh))


def header_aliases(spec: SourceSpec) -> dict[str, str]:
    """Normalised header → canonical field for one source (alias table + catalog headers + names)."""
    known = set(spec.canonical_fields)
    pairs = [(name, name, "canonical") for name in spec.canonical_fields]
    pairs += [(header, name, "catalog fields") for name, header in spec.fields.items()]
    for source_id, canonical, alias, kind in _alias_rows():
        if source_id != spec.source_id:
            continue
        if canonical not in known:
            raise ValueError(f"{aliases_path()}: alias {alias!r} of {source_id} names {canonical!r}, "
                             f"which is not a field of the catalog entry")
        pairs.append((alias, canonical, kind))
    mapping: dict[str, str] = {}
    for alias, canonical, kind in pairs:
        key = normalize_header(alias)
        if mapping.setdefault(key, canonical) != canonical:
            raise ValueError(f"{aliases_path()}: header {alias!r} ({kind}) of {spec.source_id} means both "
                             f"{mapping[key]!r} and {canonical!r}")
    return mapping


def required_columns(spec: SourceSpec) -> list[str]:
    required = list(spec.extra.get("required_columns", []))
    unknown = [c for c in required if c not in spec.fields]
    if unknown:
        raise ValueError(f"catalog entry {spec.source_id}: required_columns {unknown} are not in its fields")
    return required


def map_header(cells: list[str | None], aliases: dict[str, str], required: list[str]) -> tuple[list, list]:
    columns: list[tuple[str, str]] = []
    taken: dict[str, str] = {}
    extra_names: set[str] = set()
    for index, cell in enumerate(cells):
        text = (cell or "").strip()
        canonical = aliases.get(normalize_header(text))
        if canonical is None and not text:
            columns.append(("unnamed", f"column_{index + 1}"))
        elif canonical is None:
            name = text
            while name in extra_names:
                name += "#"
            extra_names.add(name)
            columns.append(("extra", name))
        elif canonical in taken:
            raise FileRejected(f"columns {taken[canonical]!r} and {text!r} both mean {canonical}; "
                               "send one column per field", line=None,
                               notice=f"列 {taken[canonical]} 与列 {text} 表示同一字段，每个字段只能有一列，"
                                      "请删除重复列后重新报送")
        else:
            taken[canonical] = text
            columns.append(("field", canonical))
    return columns, [c for c in required if c not in taken]


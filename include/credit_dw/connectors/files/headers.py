"""Header mapping for file drops: a delivered file's header row → the catalog's canonical fields.

Headers are compared after `normalize_header` and mapped through `seeds/field_aliases.csv`
(template headers, legacy CF_* / XK_* codes, canonical names) plus the catalog's own `fields`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
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


def row_required_columns(spec: SourceSpec) -> dict[str, str]:
    """Catalog `required_by_row`: column → the gate's row check that needs it. A file may lack such
    a column (e.g. 证件号码 in the national template for organisations); each row that needs it
    fails that check and is quarantined. Checked against the catalog fields and the feed's suite."""
    import json

    wanted = dict(spec.extra.get("required_by_row") or {})
    if not wanted:
        return {}
    where = f"catalog entry {spec.source_id}: required_by_row"
    unknown = [c for c in wanted if c not in spec.fields]
    if unknown:
        raise ValueError(f"{where} {unknown} are not in its fields")
    both = [c for c in wanted if c in spec.extra.get("required_columns", [])]
    if both:
        raise ValueError(f"{where} {both} are also in required_columns (a column is checked per file or per row)")
    suite = json.loads((settings.EXPECTATIONS_DIR / spec.suite).read_text(encoding="utf-8"))
    checks = {e["meta"]["check"] for e in suite.get("expectations", [])}
    for column, check in wanted.items():
        if check not in checks:
            raise ValueError(f"{where}: {column} names check {check!r}, which is not in {spec.suite}")
    return wanted


def _uscc_subject_category(code: str | None) -> str | None:
    """What a USCC says its subject is [GB 32100-2015; rules §2]: registration authority 9 (工商,
    market regulation) with kind 2 → 个体工商户; any other well-formed code → 法人及非法人组织;
    no code, or not an 18-character code of the USCC alphabet → None (nothing said)."""
    text = "".join((code or "").split()).upper()
    if len(text) != 18 or any(c not in _USCC_ALPHABET for c in text):
        return None
    return "个体工商户" if text.startswith("92") else "法人及非法人组织"


_USCC_ALPHABET = set("0123456789ABCDEFGHJKLMNPQRTUWXY")

#: Rules of catalog `derived_when_missing`: name → (function, the rule in Chinese for the receipt).
DERIVATION_RULES = {
    "uscc_subject_category": (
        _uscc_subject_category,
        "按 GB 32100 由代码推定：登记管理部门码 9、机构类别码 2（92 开头）为个体工商户，其他统一社会信用代码为"
        "法人及非法人组织；无代码的行不推定，由校验退回"),
}


@dataclass(frozen=True)
class Derivation:
    """A column a file may lack because another column of the same row says its value."""

    target: str
    source: str
    rule: str

    def value(self, source_value: str | None) -> str | None:
        return DERIVATION_RULES[self.rule][0](source_value)

    def note(self, spec: SourceSpec) -> str:
        return (f"文件无“{spec.fields[self.target]}”列：取自“{spec.fields[self.source]}”列，"
                + DERIVATION_RULES[self.rule][1])


def derivations(spec: SourceSpec) -> dict[str, Derivation]:
    """Catalog `derived_when_missing`: {target: {from: source, rule: name}}, checked."""
    out: dict[str, Derivation] = {}
    for target, how in (spec.extra.get("derived_when_missing") or {}).items():
        where = f"catalog entry {spec.source_id}: derived_when_missing.{target}"
        source, rule = (how or {}).get("from"), (how or {}).get("rule")
        if target not in spec.fields or source not in spec.fields:
            raise ValueError(f"{where}: {target!r} and its source {source!r} must be fields of the entry")
        if rule not in DERIVATION_RULES:
            raise ValueError(f"{where}: unknown rule {rule!r}; known: {sorted(DERIVATION_RULES)}")
        out[target] = Derivation(target, source, rule)
    return out


_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"))


def _shown(header: str) -> str:
    """A header as a person reads it: without byte-order marks and zero-width characters (which
    Python's repr would show as \\ufeff escapes)."""
    return header.translate(_INVISIBLE).strip()


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
            first, second = _shown(taken[canonical]), _shown(text)
            raise FileRejected(f'columns "{first}" and "{second}" both mean {canonical}; '
                               "send one column per field", line=None,
                               notice=f"列“{first}”与列“{second}”表示同一字段，每个字段只能有一列，"
                                      "请删除重复列后重新报送")
        else:
            taken[canonical] = text
            columns.append(("field", canonical))
    return columns, [c for c in required if c not in taken]


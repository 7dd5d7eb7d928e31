"""The source catalog: the one place that says which feeds exist and how to read them.

It is the folder `catalog/`: every `*.yml` in it holds a `sources:` list (grouped by family, e.g.
`market_registry.yml`, `dual_publicity.yml`), read in file-name order. Keys are documented in
`market_registry.yml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache

from credit_dw.config import settings


@dataclass(frozen=True)
class SourceSpec:
    source_id: str
    title: str
    department: str
    connector: str
    raw_table: str
    fields: dict[str, str]
    suite: str
    reject_share: float = 0.2
    relation: str | None = None
    watermark: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def canonical_fields(self) -> list[str]:
        return list(self.fields)

    @property
    def raw_relation(self) -> str:
        return f"raw.{self.raw_table}"

    @property
    def business_key(self) -> list[str]:
        """The catalog's `business_key`, else the subject's USCC when the feed has one, else none."""
        key = self.extra.get("business_key") or (["uscc"] if "uscc" in self.fields else [])
        return [key] if isinstance(key, str) else list(key)

    @property
    def threshold(self) -> float:
        override = settings.reject_share_override()
        return override if override is not None else self.reject_share


_KNOWN = {"source_id", "title", "department", "connector", "raw_table", "fields", "suite",
          "reject_share", "relation", "watermark"}


@cache
def load_catalog() -> tuple[SourceSpec, ...]:
    import yaml

    specs = []
    for path in sorted(settings.CATALOG_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("sources", []):
            missing = {"source_id", "connector", "raw_table", "fields", "suite"} - set(entry)
            if missing:
                raise ValueError(f"{path}: source {entry.get('source_id', '?')} lacks {sorted(missing)}")
            specs.append(SourceSpec(
                **{k: v for k, v in entry.items() if k in _KNOWN},
                extra={k: v for k, v in entry.items() if k not in _KNOWN},
            ))
    ids = [s.source_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{settings.CATALOG_DIR}: duplicate source ids in {ids}")
    return tuple(specs)


def is_due(spec: SourceSpec, night: date) -> bool:
    """Whether the feed's sender must deliver for `night` (catalog key `due`: `nightly`, the
    default, or `{days_of_month: [...]}`)."""
    due = spec.extra.get("due", "nightly")
    if due == "nightly":
        return True
    if isinstance(due, dict) and set(due) == {"days_of_month"}:
        return night.day in {int(d) for d in due["days_of_month"]}
    raise ValueError(f"catalog: {spec.source_id}: due must be `nightly` or {{days_of_month: [...]}}, not {due!r}")


#: What a feed's night was, as the office counts it [000 §2.2]: delivered (or a system feed that
#: ran and found no change), missing (缺报: failed, or due and not run or a file drop without a
#: file), not_due (nothing expected that night and nothing came), rejected (整批退回).
DELIVERED, MISSING, NOT_DUE, REJECTED = "delivered", "missing", "not_due", "rejected"


def delivery_state(spec: SourceSpec, night: date, status: str | None, rows_received: int | None) -> str:
    """The feed's night from its batch (`status` None: no batch), by the one rule of `due`."""
    if status == "rejected":
        return REJECTED
    if status == "accepted" and (spec.connector != "file_drop" or bool(rows_received)):
        return DELIVERED
    if status not in (None, "accepted"):  # failed or stopped half-way: whether due or not, nothing came
        return MISSING
    return MISSING if is_due(spec, night) else NOT_DUE


def source_ids() -> list[str]:
    return [s.source_id for s in load_catalog()]


def registering_source_ids() -> list[str]:
    """Feeds whose accepted codes are the register other feeds' gates check codes against
    (catalog `registers_codes`, meta.registered_codes); a night ingests them before the others."""
    return [s.source_id for s in load_catalog() if s.extra.get("registers_codes")]


def non_registering_source_ids() -> list[str]:
    """Every other feed: a night ingests these once the registering feeds are done."""
    registering = set(registering_source_ids())
    return [s for s in source_ids() if s not in registering]


def ingest_order() -> list[str]:
    """Source ids in the order a night ingests them: the registering feeds, then the others."""
    return registering_source_ids() + non_registering_source_ids()


def checked_source_ids(feeds) -> list[str]:
    """The named feeds in the night's ingest order (`ingest_order`), each checked against the
    catalog; ValueError naming the unknown ones and the catalog's feeds."""
    wanted = list(dict.fromkeys(feeds))
    unknown = [f for f in wanted if f not in source_ids()]
    if unknown:
        raise ValueError(f"unknown feed(s) {unknown}; the catalog ({settings.CATALOG_DIR}) has {source_ids()}")
    return [s for s in ingest_order() if s in wanted]


def get_source(source_id: str) -> SourceSpec:
    for spec in load_catalog():
        if spec.source_id == source_id:
            return spec
    raise KeyError(f"unknown source id {source_id!r}; the catalog ({settings.CATALOG_DIR}) has {source_ids()}")

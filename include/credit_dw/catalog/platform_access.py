"""The platform access catalog (`catalog/platform_access.yml`): one database role per downstream platform.

Each platform is a NOLOGIN group role holding the grants and named by the row policies, its LOGIN
roles (a fixed list, or one per prefecture-level jurisdiction of the reference divisions), and
per mart the row policy and the columns withheld. `credit_dw.db.platform_access` creates what this
declares; docs/platform_access.md describes it for engineers.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from credit_dw.config import settings

ACCESS_FILE = settings.CATALOG_DIR / "platform_access.yml"
DIVISIONS_FILE = settings.SEEDS_DIR / "hebei_divisions.csv"


@dataclass(frozen=True)
class TableRule:
    table: str
    rows: str  # the policy's USING expression
    withheld: tuple[str, ...]  # personal columns and the platform's own withheld ones


@dataclass(frozen=True)
class Platform:
    group: str
    title: str
    sees: str
    logins: tuple[str, ...]
    #: login role -> its jurisdiction code (city platforms only)
    jurisdictions: dict[str, str]
    tables: tuple[TableRule, ...]
    functions: tuple[str, ...]


def jurisdictions() -> list[tuple[str, str]]:
    """(code, name) of the prefecture-level reporting units from reference data [rules §3]: the
    current division codes that report under themselves, below the province (11 cities, 定州,
    辛集, 雄安新区)."""
    with DIVISIONS_FILE.open(encoding="utf-8", newline="") as handle:
        return [(row["division_code"], row["division_name"]) for row in csv.DictReader(handle)
                if row["is_current"] == "true" and row["division_code"] == row["reporting_unit_code"]
                and row["division_level"] != "province"]


@cache
def load_platforms() -> tuple[Platform, ...]:
    import yaml

    document = yaml.safe_load(ACCESS_FILE.read_text(encoding="utf-8"))
    personal = tuple(document.get("personal_columns") or ())
    per_table = document.get("per_table_personal_columns") or {}
    platforms = []
    for entry in document["platforms"]:
        logins_spec = entry["logins"]
        mapping: dict[str, str] = {}
        if isinstance(logins_spec, dict):
            prefix = logins_spec["per_jurisdiction"]
            mapping = {f"{prefix}{code}": code for code, _ in jurisdictions()}
            logins = tuple(mapping)
        else:
            logins = tuple(logins_spec)
        tables = tuple(
            TableRule(table=name, rows=rule["rows"],
                      withheld=tuple(dict.fromkeys((*personal, *per_table.get(name, ()),
                                                    *(rule.get("withheld") or ())))))
            for name, rule in (entry.get("tables") or {}).items())
        platforms.append(Platform(group=entry["group"], title=entry["title"], sees=" ".join(entry["sees"].split()),
                                  logins=logins, jurisdictions=mapping, tables=tables,
                                  functions=tuple(entry.get("functions") or ())))
    return tuple(platforms)


def get_platform(group: str) -> Platform:
    for platform in load_platforms():
        if platform.group == group:
            return platform
    raise KeyError(group)

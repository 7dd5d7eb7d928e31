"""Hebei administrative divisions (GB/T 2260), rebuilt from python-stdnum's division list.

Why this source: python-stdnum ships `stdnum/cn/loc.dat`, the GB/T 2260 codes with the years each
code was valid (taken from Wikipedia's 中华人民共和国行政区划代码 pages), and it is the same list
its resident-ID validation uses. Keeping the historic codes matters: a citizen ID keeps the county
code of when it was issued [rules §2], so a code abolished in 2014 is still a real birthplace.

One addition is not in that list: 雄安新区 (133100), set up in 2017 and given its own code later;
the domain treats it like a prefecture city [rules §3]. Its three counties (容城 130629,
安新 130632, 雄县 130638) keep their 保定 codes and report through 雄安.

定州 (130682) and 辛集 (130181) are county-level cities administered directly by the province and
treated like prefecture cities for reporting [rules §3; 002 #7]; `reporting_unit_code` is
themselves.

Regenerate with `credit-dw reference divisions` (writes `seeds/hebei_divisions.csv`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

PROVINCE_CODE = "13"
XIONGAN_CODE = "133100"
XIONGAN_COUNTIES = {"130629", "130632", "130638"}
PROVINCE_DIRECT_CITIES = {"130682", "130181"}  # 定州, 辛集

_LINE = re.compile(r'^\s+(\d{4}) county="(?:\[(\d{4})?-(\d{4})?\])?(.*)"$')

COLUMNS = [
    "division_code",
    "division_name",
    "division_level",
    "city_code",
    "city_name",
    "reporting_unit_code",
    "valid_from_year",
    "valid_to_year",
    "is_current",
]


@dataclass(frozen=True)
class Division:
    division_code: str
    division_name: str
    division_level: str  # province | city | county
    city_code: str
    city_name: str
    reporting_unit_code: str
    valid_from_year: int | None
    valid_to_year: int | None

    @property
    def is_current(self) -> bool:
        return self.valid_to_year is None


def _loc_dat() -> Path:
    import stdnum.cn

    return Path(stdnum.cn.__file__).parent / "loc.dat"


def read_divisions(loc_dat: Path | None = None) -> list[Division]:
    lines = (loc_dat or _loc_dat()).read_text(encoding="utf-8").splitlines()
    raw: list[tuple[str, str, int | None, int | None]] = []
    in_province = False
    for line in lines:
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith(" "):
            in_province = line.startswith(PROVINCE_CODE + " ")
            continue
        if not in_province:
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"{loc_dat or _loc_dat()}: unexpected line {line!r}")
        suffix, start, end, name = m.groups()
        raw.append((PROVINCE_CODE + suffix, name, int(start) if start else None, int(end) if end else None))

    cities = {code: name for code, name, _, end in raw if code.endswith("00") and code[2:4] != "00" and end is None}
    cities[XIONGAN_CODE] = "雄安新区"
    divisions = []
    for code, name, start, end in raw:
        if code == PROVINCE_CODE + "0000":
            level, city_code = "province", code
        elif code.endswith("00"):
            level, city_code = "city", code
        else:
            level, city_code = "county", code[:4] + "00"
        city_name = cities.get(city_code, name if level != "county" else "")
        if level == "county" and code in XIONGAN_COUNTIES:
            reporting = XIONGAN_CODE
        elif code in PROVINCE_DIRECT_CITIES:
            reporting = code
        else:
            reporting = city_code
        divisions.append(Division(code, name, level, city_code, city_name, reporting, start, end))
    divisions.append(Division(XIONGAN_CODE, "雄安新区", "city", XIONGAN_CODE, "雄安新区", XIONGAN_CODE, 2017, None))
    return sorted(divisions, key=lambda d: d.division_code)


def write_seed(path: Path) -> int:
    divisions = read_divisions()
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for d in divisions:
            writer.writerow([
                d.division_code, d.division_name, d.division_level, d.city_code, d.city_name,
                d.reporting_unit_code, d.valid_from_year or "", d.valid_to_year or "",
                "true" if d.is_current else "false",
            ])
    return len(divisions)

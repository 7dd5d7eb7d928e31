"""Simulated national city credit-monitoring ranks (城市信用状况监测预警, issue 21; docs/scorecard.md):
the file the office drops in when the national ranks are published, for the demo and the tests.

One row per ranked jurisdiction and ranking: 石家庄 in the provincial-capitals ranking and the
prefecture-city ranking, the other ten cities in the prefecture-city ranking, 定州 and 辛集 in the
county-level-city ranking. 雄安新区 is not ranked nationally [000 一(二)] and has no row.
"""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

from credit_dw.reports.scorecard import RANKS_COLUMNS, ranks_file

CITIES = ("130100", "130200", "130300", "130400", "130500", "130600", "130700", "130800", "130900", "131000",
          "131100")
NAMES = {"130100": "石家庄市", "130200": "唐山市", "130300": "秦皇岛市", "130400": "邯郸市", "130500": "邢台市",
         "130600": "保定市", "130700": "张家口市", "130800": "承德市", "130900": "沧州市", "131000": "廊坊市",
         "131100": "衡水市", "130682": "定州市", "130181": "辛集市"}
#: How many cities each national ranking ranks (the published counts vary; these are the demo's).
RANKED = {"provincial_capitals": 36, "prefecture_cities": 261, "county_cities": 387}


def write_ranks(published_on: date, *, seed: int = 20261122, path: Path | None = None) -> Path:
    """Append one publication's ranks (deterministic for the date and seed) to the ranks file."""
    rng = random.Random(f"national_ranks|{seed}|{published_on.isoformat()}")
    rows = [(published_on.isoformat(), "provincial_capitals", "130100", NAMES["130100"],
             rng.randint(10, 30), RANKED["provincial_capitals"])]
    rows += [(published_on.isoformat(), "prefecture_cities", code, NAMES[code], rng.randint(40, 180),
              RANKED["prefecture_cities"]) for code in CITIES]
    rows += [(published_on.isoformat(), "county_cities", code, NAMES[code], rng.randint(60, 160),
              RANKED["county_cities"]) for code in ("130682", "130181")]
    path = path or ranks_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(RANKS_COLUMNS)
        writer.writerows(rows)
    return path

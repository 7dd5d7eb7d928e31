"""Simulated tax interface: the A-level taxpayer list (纳税信用A级纳税人名单, feed `tax_a_level`).

Stands in for 国家税务总局河北省税务局's interface [rules §4; 000 §2.7: the count and share of
A-level taxpayers is a target]. The evaluation of year Y is published in April of Y+1 and then
amended through the year (复评, 补评); a night's file holds the list entries the tax bureau
published or changed that day, one per enterprise, with the bureau's own keys:

| key | meaning | canonical field |
|---|---|---|
| nsrsbh | 纳税人识别号 (the USCC for organisations) | uscc |
| nsrmc | 纳税人名称 | subject_name |
| pjnd | 评价年度 | evaluation_year |
| xydj | 纳税信用级别 (always A on this list) | credit_grade |
| swjg_dm / swjg_mc | 主管税务机关代码 / 名称 | tax_authority_code / tax_authority_name |
| xzqh_dm | 行政区划代码 | division_code |
| fbrq | 发布日期 | published_on |
| gxsj | 更新时间 (Beijing time) | updated_at |
| sjly | 数据来源 (not in the catalog: lands in `_extra`) | — |

`120 * scale` entries a night; `defect_share` of them carry one defect each (`DEFECT_KINDS`).
Deterministic for (date, seed, scale); rerunning rewrites the same file.
"""

from __future__ import annotations

from datetime import date

import credit_dw.simulate.api_feeds as feeds

SOURCE_ID = "tax_a_level"
ROWS_PER_SCALE = 120
DEFECT_KINDS = ("bad_check_character", "missing_name", "bad_date", "not_grade_a")


def evaluation_year(day: date) -> int:
    """The latest published evaluation: year Y's list comes out in April of Y+1."""
    return day.year - 1 if day.month >= 4 else day.year - 2


def tax_authority(subject: feeds.Subject) -> tuple[str, str]:
    """(code, name) of the county-level tax bureau where the subject registered (11-digit code)."""
    division = subject.division
    return f"1{division.code}0000", f"国家税务总局{division.place}税务局"


def generate(logical_date: date, *, scale: int = 1, seed: int = 20261122,
             defect_share: float = feeds.DEFAULT_DEFECT_SHARE) -> tuple[list[dict], dict[str, int]]:
    feeds.check_scale(scale)
    rng = feeds.rng_for(SOURCE_ID, seed, logical_date, "records")
    subjects = feeds.subjects_for(SOURCE_ID, logical_date, ROWS_PER_SCALE * scale, seed=seed)
    year = evaluation_year(logical_date)
    records = []
    for subject in subjects:
        code, name = tax_authority(subject)
        records.append({
            "nsrsbh": subject.uscc,
            "nsrmc": subject.name,
            "pjnd": str(year),
            "xydj": "A",
            "swjg_dm": code,
            "swjg_mc": name,
            "xzqh_dm": subject.division_code,
            "fbrq": logical_date.isoformat(),
            "gxsj": feeds.change_time(rng, logical_date),
            "sjly": "国家税务总局河北省税务局",
        })

    def apply(kind: str, record: dict) -> None:
        if feeds.apply_common_defect(kind, record, rng, uscc_key="nsrsbh", name_key="nsrmc",
                                     date_key="fbrq", day=logical_date):
            return
        record["xydj"] = rng.choice(["B", "M", "C", "a级"])  # not_grade_a

    defects = feeds.inject_defects(rng, records, DEFECT_KINDS, defect_share, apply)
    return records, defects


simulate = feeds.simulator(SOURCE_ID, generate)

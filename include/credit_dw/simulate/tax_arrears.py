"""Simulated tax interface: tax arrears announcements (欠税公告, feed `tax_arrears`).

Stands in for 国家税务总局河北省税务局's interface [rules §4]. Tax bureaus announce taxpayers in
arrears periodically; a night's file holds the announcement entries published or corrected that
day, one per taxpayer and tax type, with the bureau's own keys:

| key | meaning | canonical field |
|---|---|---|
| nsrsbh | 纳税人识别号 (USCC) | uscc |
| nsrmc | 纳税人名称 | subject_name |
| fddbr | 法定代表人（负责人、经营者）姓名 | legal_representative |
| scjydz | 生产经营地址 | business_address |
| qssz | 欠税税种 | tax_type |
| qsye | 欠税余额 (yuan, a JSON number) | arrears_amount |
| dqxfsqse | 当期新发生欠税金额 (yuan, a JSON number) | new_arrears_amount |
| ggqh | 公告期号 (e.g. 2023年第1期) | announcement_issue |
| swjg_mc | 主管税务机关名称 | tax_authority_name |
| xzqh_dm | 行政区划代码 | division_code |
| ggrq | 公告日期 | announced_on |
| gxsj | 更新时间 (Beijing time) | updated_at |
| sjly | 数据来源 (not in the catalog: lands in `_extra`) | — |

Enterprises and individual businesses; `60 * scale` entries a night; `defect_share` of them carry
one defect each (`DEFECT_KINDS`). Deterministic for (date, seed, scale); reruns rewrite the same file.
"""

from __future__ import annotations

from datetime import date

import credit_dw.simulate.api_feeds as feeds
from credit_dw.simulate.tax_a_level import tax_authority

SOURCE_ID = "tax_arrears"
ROWS_PER_SCALE = 60
DEFECT_KINDS = ("bad_check_character", "missing_name", "bad_date", "negative_amount")
TAX_TYPES = (("增值税", 40), ("企业所得税", 20), ("城镇土地使用税", 10), ("房产税", 10),
             ("城市维护建设税", 8), ("印花税", 6), ("个人所得税", 6))
ROADS = ("中山路", "建设大街", "和平路", "胜利街", "人民路", "新华路", "友谊大街", "解放路", "育才街", "光明路")


def issue(day: date) -> str:
    """Announcements are quarterly: 2023年第1期 … 第4期."""
    return f"{day.year}年第{(day.month - 1) // 3 + 1}期"


def generate(logical_date: date, *, scale: int = 1, seed: int = 20261122,
             defect_share: float = feeds.DEFAULT_DEFECT_SHARE) -> tuple[list[dict], dict[str, int]]:
    feeds.check_scale(scale)
    rng = feeds.rng_for(SOURCE_ID, seed, logical_date, "records")
    subjects = feeds.subjects_for(SOURCE_ID, logical_date, ROWS_PER_SCALE * scale, seed=seed,
                                  kinds=(feeds.KIND_ENTERPRISE, feeds.KIND_INDIVIDUAL))
    records = []
    for subject in subjects:
        balance = feeds.money(rng, 200, 5_000_000)
        new = round(balance * rng.choice([0, 0, 0.1, 0.3, 1.0]), 2)
        records.append({
            "nsrsbh": subject.uscc,
            "nsrmc": subject.name,
            "fddbr": subject.legal_representative,
            "scjydz": f"{subject.division.place}{rng.choice(ROADS)}{rng.randint(1, 399)}号",
            "qssz": rng.choices([t for t, _ in TAX_TYPES], weights=[w for _, w in TAX_TYPES])[0],
            "qsye": balance,
            "dqxfsqse": new,
            "ggqh": issue(logical_date),
            "swjg_mc": tax_authority(subject)[1],
            "xzqh_dm": subject.division_code,
            "ggrq": logical_date.isoformat(),
            "gxsj": feeds.change_time(rng, logical_date),
            "sjly": "国家税务总局河北省税务局",
        })

    def apply(kind: str, record: dict) -> None:
        if feeds.apply_common_defect(kind, record, rng, uscc_key="nsrsbh", name_key="nsrmc",
                                     date_key="ggrq", day=logical_date):
            return
        record["qsye"] = -record["qsye"]  # negative_amount

    defects = feeds.inject_defects(rng, records, DEFECT_KINDS, defect_share, apply)
    return records, defects


simulate = feeds.simulator(SOURCE_ID, generate)

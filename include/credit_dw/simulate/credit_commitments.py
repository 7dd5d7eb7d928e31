"""Simulated credit-commitment interface (信用承诺, feed `credit_commitments`).

Stands in for the province's commitment system [004 §1]: commitments in four kinds, each with its
fulfilment recorded. A night's file holds the commitments made that day (履约中) and the
fulfilment evaluations of earlier ones done that day (已履约 / 未履约), with the system's keys:

| key | meaning | canonical field |
|---|---|---|
| cnbh | 承诺编号 (XYCN + date made + sequence; stable) | commitment_id |
| tyshxydm | 统一社会信用代码 | uscc |
| ztmc | 主体名称 | subject_name |
| cnlx | 承诺类型: 01 审批替代型, 02 主动型, 03 行业自律型, 04 信用修复型 | commitment_kind_code |
| cnsx | 承诺事项 | commitment_matter |
| cnrq | 承诺日期 | committed_on |
| cnyxqz | 承诺有效期至 | valid_until |
| sljg | 承诺受理单位 | accepted_by |
| lxzt | 履约状态: 0 履约中, 1 已履约, 2 未履约 (失信) | fulfilment_status_code |
| lxpjrq | 履约评价日期 (empty while 履约中) | fulfilment_assessed_on |
| xzqh_dm | 行政区划代码 | division_code |
| gxsj | 更新时间 (Beijing time) | updated_at |
| cnsfj | 承诺书附件 {wjmc, wjdx} (nested; not in the catalog: lands in `_extra` as JSON text) | — |

`100 * scale` records a night, about 70 % new commitments and 30 % fulfilment evaluations of
commitments made on three earlier days (regenerated from those days, so the ids match);
`defect_share` of them carry one defect each (`DEFECT_KINDS`). Deterministic for (date, seed,
scale); reruns rewrite the same file.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import credit_dw.simulate.api_feeds as feeds

SOURCE_ID = "credit_commitments"
ROWS_PER_SCALE = 100
NEW_SHARE = 0.7
DEFECT_KINDS = ("bad_check_character", "missing_name", "bad_date", "unknown_kind_code")

#: cnlx code -> (kind, matters, validity in years, weight) [004 §1].
KINDS = {
    "01": ("审批替代型", ("食品经营许可证核发", "公共场所卫生许可", "道路货物运输经营许可", "建筑工程施工许可",
                     "药品零售企业许可", "人力资源服务许可"), (1, 3), 45),
    "02": ("主动型", ("守法诚信经营承诺", "产品质量承诺", "安全生产承诺", "诚信纳税承诺"), (1, 1), 30),
    "03": ("行业自律型", ("行业协会诚信自律公约", "商会会员诚信承诺", "电子商务诚信经营承诺"), (1, 2), 15),
    "04": ("信用修复型", ("行政处罚信息信用修复", "严重失信主体名单移出", "经营异常名录移出"), (1, 3), 10),
}
ASSOCIATIONS = ("河北省建筑业协会", "河北省物流与采购联合会", "河北省电子商务协会", "河北省餐饮行业协会",
                "河北省钢铁工业协会", "河北省家具协会")


def _accepted_by(rng: random.Random, code: str, subject: feeds.Subject) -> str:
    division = subject.division
    if code == "01":
        return f"{division.place}行政审批局"
    if code == "02":
        return f"{division.city_name}市场监督管理局"
    if code == "03":
        return rng.choice(ASSOCIATIONS)
    return f"{division.city_name}社会信用体系建设领导小组办公室"


def new_commitments(day: date, n: int, *, seed: int) -> list[dict]:
    """The n clean commitments made on `day` (status 履约中); the same list whenever regenerated."""
    rng = feeds.rng_for(SOURCE_ID, seed, day, "new")
    subjects = feeds.subjects_for(SOURCE_ID, day, n, seed=seed,
                                  kinds=(feeds.KIND_ENTERPRISE, feeds.KIND_INDIVIDUAL))
    codes = list(KINDS)
    weights = [KINDS[c][3] for c in codes]
    out = []
    for seq, subject in enumerate(subjects, start=1):
        code = rng.choices(codes, weights=weights)[0]
        _kind, matters, (lo, hi), _w = KINDS[code]
        years = rng.randint(lo, hi)
        out.append({
            "cnbh": f"XYCN{day:%Y%m%d}{seq:05d}",
            "tyshxydm": subject.uscc,
            "ztmc": subject.name,
            "cnlx": code,
            "cnsx": rng.choice(matters),
            "cnrq": day.isoformat(),
            "cnyxqz": (day.replace(year=day.year + years) if not (day.month == 2 and day.day == 29)
                       else day + timedelta(days=365 * years)).isoformat(),
            "sljg": _accepted_by(rng, code, subject),
            "lxzt": "0",
            "lxpjrq": None,
            "xzqh_dm": subject.division_code,
            "gxsj": feeds.change_time(rng, day),
            "cnsfj": {"wjmc": f"信用承诺书_{subject.uscc}.pdf", "wjdx": rng.randint(40_000, 900_000)},
        })
    return out


def generate(logical_date: date, *, scale: int = 1, seed: int = 20261122,
             defect_share: float = feeds.DEFAULT_DEFECT_SHARE) -> tuple[list[dict], dict[str, int]]:
    feeds.check_scale(scale)
    total = ROWS_PER_SCALE * scale
    n_new = round(NEW_SHARE * total)
    records = new_commitments(logical_date, n_new, seed=seed)
    rng = feeds.rng_for(SOURCE_ID, seed, logical_date, "records")
    # Fulfilment evaluations: commitments of three earlier days, evaluated today.
    earlier = sorted({logical_date - timedelta(days=rng.randint(20, 700)) for _ in range(3)})
    evaluations: list[dict] = []
    for day in earlier:
        evaluations += new_commitments(day, n_new, seed=seed)
    for record in rng.sample(evaluations, min(total - n_new, len(evaluations))):
        record["lxzt"] = "1" if rng.random() < 0.85 else "2"
        record["lxpjrq"] = logical_date.isoformat()
        record["gxsj"] = feeds.change_time(rng, logical_date)
        records.append(record)

    def apply(kind: str, record: dict) -> None:
        if feeds.apply_common_defect(kind, record, rng, uscc_key="tyshxydm", name_key="ztmc",
                                     date_key="cnrq", day=logical_date):
            return
        record["cnlx"] = rng.choice(["05", "99", "1", "审批替代型", "0"])  # unknown_kind_code

    defects = feeds.inject_defects(rng, records, DEFECT_KINDS, defect_share, apply)
    return records, defects


simulate = feeds.simulator(SOURCE_ID, generate)

"""Simulated housing provident fund interface (住房公积金缴存, feed `housing_fund`).

Stands in for the province's housing provident fund centres (住房公积金管理中心) [rules §4:
公积金]. A night's file holds the employer contribution postings (单位缴存) the centres booked
that day: one per employer and contribution month. Only organisations: employees' own accounts
are personal information the platform may not collect without authorisation [rules §9].

| key | meaning | canonical field |
|---|---|---|
| dwzh | 单位账号 (stable per employer) | fund_account |
| dwmc | 单位名称 | subject_name |
| tyshxydm | 统一社会信用代码 | uscc |
| jcny | 缴存年月 (YYYY-MM) | contribution_month |
| jcrs | 缴存人数 (a JSON number) | contributor_count |
| yjce | 月缴存额 (yuan, employer + employees, a JSON number) | monthly_amount |
| dwjcbl / grjcbl | 单位 / 个人缴存比例 (0.05-0.12, JSON numbers) | employer_rate / employee_rate |
| jczt | 缴存状态: 01 正常缴存, 02 缓缴, 03 欠缴, 04 封存 | contribution_status |
| qjys | 欠缴月数 (a JSON number) | months_in_arrears |
| glzx | 住房公积金管理中心 | fund_centre |
| xzqh_dm | 行政区划代码 | division_code |
| jzrq | 记账日期 | posted_on |
| gxsj | 更新时间 (Beijing time) | updated_at |
| ext | 扩展信息 {czy 操作员, qd 渠道} (nested; not in the catalog: lands in `_extra` as JSON text) | — |

`150 * scale` postings a night; `defect_share` of them carry one defect each (`DEFECT_KINDS`).
Deterministic for (date, seed, scale); reruns rewrite the same file.
"""

from __future__ import annotations

from datetime import date, timedelta

import credit_dw.simulate.api_feeds as feeds

SOURCE_ID = "housing_fund"
ROWS_PER_SCALE = 150
DEFECT_KINDS = ("bad_check_character", "missing_name", "bad_month", "negative_amount")
STATUSES = (("01", 88), ("02", 4), ("03", 6), ("04", 2))
RATES = (0.05, 0.06, 0.07, 0.08, 0.10, 0.12)
CHANNELS = ("网上业务大厅", "柜台", "银行代扣", "单位网厅")

# The centres are per prefecture (雄安, 定州, 辛集 have their own).
CENTRE_OVERRIDES = {"130181": "辛集市", "130682": "定州市", "133100": "雄安新区"}


def fund_centre(subject: feeds.Subject) -> str:
    division = subject.division
    place = CENTRE_OVERRIDES.get(division.reporting_unit_code, division.city_name)
    return f"{place.removesuffix('市')}住房公积金管理中心"


def contribution_month(day: date) -> str:
    """Employers pay the current month, or in the first days of a month the previous one."""
    month = day.replace(day=1) - timedelta(days=1) if day.day <= 10 else day
    return month.strftime("%Y-%m")


def generate(logical_date: date, *, scale: int = 1, seed: int = 20261122,
             defect_share: float = feeds.DEFAULT_DEFECT_SHARE) -> tuple[list[dict], dict[str, int]]:
    feeds.check_scale(scale)
    rng = feeds.rng_for(SOURCE_ID, seed, logical_date, "records")
    subjects = feeds.subjects_for(SOURCE_ID, logical_date, ROWS_PER_SCALE * scale, seed=seed)
    month = contribution_month(logical_date)
    records = []
    for subject in subjects:
        rate = rng.choice(RATES)
        headcount = min(5000, max(1, int(rng.paretovariate(1.3) * 3)))
        base = rng.uniform(1900, 12000)  # average monthly wage base, yuan
        status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
        records.append({
            "dwzh": subject.division.city_code[:4] + feeds.stable_digits(subject.uscc, 8),
            "dwmc": subject.name,
            "tyshxydm": subject.uscc,
            "jcny": month,
            "jcrs": headcount,
            "yjce": round(headcount * base * rate * 2, 2) if status in ("01", "03") else 0,
            "dwjcbl": rate,
            "grjcbl": rate,
            "jczt": status,
            "qjys": rng.randint(1, 6) if status == "03" else 0,
            "glzx": fund_centre(subject),
            "xzqh_dm": subject.division_code,
            "jzrq": logical_date.isoformat(),
            "gxsj": feeds.change_time(rng, logical_date),
            "ext": {"czy": f"CZY{rng.randint(1, 300):04d}", "qd": rng.choice(CHANNELS)},
        })

    def apply(kind: str, record: dict) -> None:
        if feeds.apply_common_defect(kind, record, rng, uscc_key="tyshxydm", name_key="dwmc",
                                     date_key="jzrq", day=logical_date):
            return
        if kind == "bad_month":
            year, mon = month.split("-")
            record["jcny"] = rng.choice([f"{year}-13", f"{year}{mon}", f"{year}/{mon}", f"{mon}-{year}"])
        else:  # negative_amount
            record["yjce"] = -round(rng.uniform(100, 50_000), 2)

    defects = feeds.inject_defects(rng, records, DEFECT_KINDS, defect_share, apply)
    return records, defects


simulate = feeds.simulator(SOURCE_ID, generate)

"""Simulated publicity-website interface: objection and repair applications (feed `objections`).

Stands in for 信用中国（河北）'s application system [000 §2.12-2.13]: market subjects object to
published records (异议: error, omission, duplicate publicity, should not be public, over-period
publicity) or apply to have them repaired (信用修复, by the national paths [004 §13]). A night's
file holds the applications submitted that day and the progress of earlier ones recorded that day:

| key | meaning | canonical field |
|---|---|---|
| sqbh | 申请编号 (YY/XF + date submitted + sequence; stable) | application_id |
| sqlx | 申请类型: 1 异议申诉, 2 信用修复 | application_type_code |
| tyshxydm | 统一社会信用代码 | uscc |
| ztmc | 主体名称 | subject_name |
| sqrq | 申请日期 | applied_on |
| xxlb | 涉及信息类别 (行政处罚, 失信被执行人, …) | record_category |
| xxbh | 涉及信息编号 | record_id |
| yylx | 异议类型 (异议 only): 01 错误, 02 遗漏, 03 重复公示, 04 不应公示, 05 超期公示 | objection_kind_code |
| xflj | 修复路径 (修复 only): 01 信用承诺, 02 整改, 03 核查, 04 信用培训, 05 信用报告, 06 公益慈善 | repair_path_code |
| slbm | 受理部门 | handled_by |
| clzt | 处理状态: 01 已提交, 02 已受理, 03 核查中, 04 已办结, 05 不予受理 | status_code |
| bjrq | 办结日期 (04 and 05 only) | closed_on |
| tzrq | 核查通知日期: the day the information provider was notified (异议 only) | notified_on |
| hfrq | 核查回复日期: the day the provider replied with its verification result (异议 only) | replied_on |
| cljg | 处理结果 (04 only): 更正, 撤销, 维持; 修复成功, 修复不通过 | outcome |
| qd | 申请渠道 | channel |
| xzqh_dm | 行政区划代码 | division_code |
| gxsj | 更新时间 (Beijing time) | updated_at |
| fj | 附件 [{wjmc, wjdx}] (nested; not in the catalog: lands in `_extra` as JSON text) | — |

An application about a 行政处罚 record names a real penalty: one the `admin_penalty` simulator
delivers (clean, about an organisation) on one of the `PENALTY_LOOKBACK_NIGHTS` nights before the
application, with that penalty's subject, its decision document number as 涉及信息编号 and its
authority as 受理部门, so repairs and objections link to penalties in the warehouse (which matches
them by document number and USCC) when those nights were ingested with the same seed and scale.
Other categories name records of their own series (JYYC-…, SXBZX-…, YZSX-…).

Objection notices and replies [001 2018 plan §4.9]: each objection has a notice delay fixed by
its 申请编号 (`notice_delay_days`: most within a few days, some late, some never notified); the
notice date appears once the objection is accepted or further and the date has come; a closed
objection carries the reply date (its 办结日期) when it was notified; one under verification has
not replied yet.

Organisations only (natural persons' applications carry personal data [rules §9]). `60 * scale`
records a night, about 60 % new applications and 40 % progress on applications of three earlier
days (regenerated, so ids match); `defect_share` of them carry one defect each (`DEFECT_KINDS`).
Deterministic for (date, seed, scale); reruns rewrite the same file.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import credit_dw.simulate.api_feeds as feeds
import credit_dw.simulate.dual_publicity as dp

SOURCE_ID = "objections"
ROWS_PER_SCALE = 60
NEW_SHARE = 0.6
DEFECT_KINDS = ("bad_check_character", "missing_name", "bad_date", "unknown_application_type")

TYPE_OBJECTION, TYPE_REPAIR = "1", "2"
OBJECTION_KINDS = (("01", 45), ("02", 10), ("03", 15), ("04", 15), ("05", 15))  # [000 §2.13]
REPAIR_PATHS = (("01", 40), ("02", 20), ("03", 10), ("04", 15), ("05", 10), ("06", 5))  # [004 §13]
CATEGORIES = (("行政处罚", "XZCF", "市场监督管理局", 60), ("经营异常名录", "JYYC", "市场监督管理局", 20),
              ("失信被执行人", "SXBZX", "中级人民法院", 10), ("严重失信主体名单", "YZSX", "发展和改革委员会", 10))
CHANNELS = ("信用中国（河北）网站", "信用中国（河北）网站", "冀时办APP", "政务服务大厅窗口")
PENALTY_CATEGORY = "行政处罚"
#: An application about a penalty names one delivered 1..N nights before it.
PENALTY_LOOKBACK_NIGHTS = 7


def notice_delay_days(application_id: str, seed: int) -> int | None:
    """Calendar days from the application to the provider's verification notice, fixed per
    application: 70 % within 1-4 days, 20 % late (7-20 days), 10 % never notified (None)."""
    rng = random.Random(f"{SOURCE_ID}:{seed}:{application_id}:notice")
    roll = rng.random()
    if roll < 0.7:
        return rng.randint(1, 4)
    if roll < 0.9:
        return rng.randint(7, 20)
    return None


def _notice_and_reply(record: dict, day: date, seed: int) -> None:
    """Set 核查通知日期 / 核查回复日期 of an objection as known on `day` (see the module docstring)."""
    if record["sqlx"] != TYPE_OBJECTION or record["clzt"] in ("01", "05"):
        return
    delay = notice_delay_days(record["sqbh"], seed)
    notified = None if delay is None else date.fromisoformat(record["sqrq"]) + timedelta(days=delay)
    if notified is None or notified > day:
        return
    record["tzrq"] = notified.isoformat()
    if record["clzt"] == "04":
        record["hfrq"] = record["bjrq"]


def _pick(rng: random.Random, pairs) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[-1] for p in pairs])[0]


def delivered_penalties(night: date, *, scale: int, seed: int) -> list[dict]:
    """The penalties about organisations that the admin_penalty simulator delivers on `night`
    and the gate accepts as sent: generated with and without its defects, only the records
    both agree on (a defect changes a number, a code or a date; a duplicated number holds back
    both rows)."""
    clean, _ = dp.generate_records(dp.PENALTY, night, scale=scale, seed=seed, defect_share=0.0)
    sent, _ = dp.generate_records(dp.PENALTY, night, scale=scale, seed=seed)
    numbers = Counter(r["decision_document_number"] for _, r in sent)
    return [record for (_, record), (_, as_sent) in zip(clean, sent, strict=True)
            if record == as_sent and record["uscc"] and numbers[record["decision_document_number"]] == 1]


def new_applications(day: date, n: int, *, seed: int, scale: int = 1,
                     penalties: dict[date, list[dict]] | None = None) -> list[dict]:
    """The n clean applications submitted on `day` (status 已提交 / 已受理); the same whenever
    regenerated. `penalties` caches `delivered_penalties` by night across calls."""
    rng = feeds.rng_for(SOURCE_ID, seed, day, "new")
    subjects = feeds.subjects_for(SOURCE_ID, day, n, seed=seed,
                                  kinds=(feeds.KIND_ENTERPRISE, feeds.KIND_INDIVIDUAL))
    penalties = {} if penalties is None else penalties
    out = []
    for seq, subject in enumerate(subjects, start=1):
        kind = TYPE_OBJECTION if rng.random() < 0.45 else TYPE_REPAIR
        category, prefix, department, _w = rng.choices(CATEGORIES, weights=[c[3] for c in CATEGORIES])[0]
        division = subject.division
        record_year = day.year - rng.randint(0, 3)
        uscc, name, division_code = subject.uscc, subject.name, subject.division_code
        record_id = f"{prefix}-{division.code}-{record_year}-{rng.randint(1, 99999):05d}"
        handled_by = f"{division.city_name}{department}"
        if category == PENALTY_CATEGORY:
            night = day - timedelta(days=rng.randint(1, PENALTY_LOOKBACK_NIGHTS))
            if night not in penalties:
                penalties[night] = delivered_penalties(night, scale=scale, seed=seed)
            if penalties[night]:
                penalty = rng.choice(penalties[night])
                uscc, name, record_id = penalty["uscc"], penalty["subject_name"], penalty["decision_document_number"]
                division_code, handled_by = uscc[2:8], penalty["authority_name"]
        out.append({
            "sqbh": f"{'YY' if kind == TYPE_OBJECTION else 'XF'}{day:%Y%m%d}{seq:05d}",
            "sqlx": kind,
            "tyshxydm": uscc,
            "ztmc": name,
            "sqrq": day.isoformat(),
            "xxlb": category,
            "xxbh": record_id,
            "yylx": _pick(rng, OBJECTION_KINDS) if kind == TYPE_OBJECTION else None,
            "xflj": _pick(rng, REPAIR_PATHS) if kind == TYPE_REPAIR else None,
            "slbm": handled_by,
            "clzt": "01" if rng.random() < 0.5 else "02",
            "bjrq": None,
            "tzrq": None,
            "hfrq": None,
            "cljg": None,
            "qd": rng.choice(CHANNELS),
            "xzqh_dm": division_code,
            "gxsj": feeds.change_time(rng, day),
            "fj": [{"wjmc": name, "wjdx": rng.randint(20_000, 2_000_000)}
                   for name in rng.sample(["营业执照.pdf", "申请书.pdf", "整改报告.pdf", "缴款凭证.jpg",
                                           "信用报告.pdf"], rng.randint(1, 3))],
        })
    return out


def _progress(rng: random.Random, record: dict, day: date) -> None:
    """Move an earlier application on: under verification, closed with an outcome, or refused."""
    roll = rng.random()
    if roll < 0.25:
        record["clzt"] = "03"
    elif roll < 0.9:
        record["clzt"] = "04"
        record["bjrq"] = day.isoformat()
        if record["sqlx"] == TYPE_OBJECTION:
            record["cljg"] = rng.choices(["更正", "撤销", "维持"], weights=[40, 25, 35])[0]
        else:
            record["cljg"] = "修复成功" if rng.random() < 0.8 else "修复不通过"
    else:
        record["clzt"] = "05"
        record["bjrq"] = day.isoformat()
    record["gxsj"] = feeds.change_time(rng, day)


def generate(logical_date: date, *, scale: int = 1, seed: int = 20261122,
             defect_share: float = feeds.DEFAULT_DEFECT_SHARE) -> tuple[list[dict], dict[str, int]]:
    feeds.check_scale(scale)
    total = ROWS_PER_SCALE * scale
    n_new = round(NEW_SHARE * total)
    penalties: dict[date, list[dict]] = {}
    records = new_applications(logical_date, n_new, seed=seed, scale=scale, penalties=penalties)
    rng = feeds.rng_for(SOURCE_ID, seed, logical_date, "records")
    # Verification takes up to 15 working days for market subjects [001 2018 plan §4.9]; some run late.
    earlier = sorted({logical_date - timedelta(days=rng.randint(1, 40)) for _ in range(3)})
    candidates: list[dict] = []
    for day in earlier:
        candidates += new_applications(day, n_new, seed=seed, scale=scale, penalties=penalties)
    for record in rng.sample(candidates, min(total - n_new, len(candidates))):
        _progress(rng, record, logical_date)
        _notice_and_reply(record, logical_date, seed)
        records.append(record)

    def apply(kind: str, record: dict) -> None:
        if feeds.apply_common_defect(kind, record, rng, uscc_key="tyshxydm", name_key="ztmc",
                                     date_key="sqrq", day=logical_date):
            return
        record["sqlx"] = rng.choice(["3", "0", "异议", "YY"])  # unknown_application_type

    defects = feeds.inject_defects(rng, records, DEFECT_KINDS, defect_share, apply)
    return records, defects


simulate = feeds.simulator(SOURCE_ID, generate)

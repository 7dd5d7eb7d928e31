"""Simulated voluntary-registration interface (自愿注册, feed `voluntary_registration`).

Stands in for the register of the city's credit website (信用中国（河北石家庄）) [004 (五)]: market
subjects declare their own credit information - qualifications and licences held, business
operations, contract performance, public-welfare activity - each under a public commitment that
it is true (a 主动型 credit commitment of the commitment system, whose 承诺编号 it carries). The
website verifies a declaration (已核验) or finds it untrue (核验不实); the subject may withdraw it
(已撤回). A night's file holds the declarations made that day (待核验) and every declaration of
the `LOOKBACK_DAYS` days before whose status changed that day, each the whole record again with
the new status and its date:

| key | meaning | canonical field |
|---|---|---|
| sbbh | 申报编号 (ZYZC + date declared + sequence; stable) | declaration_id |
| tyshxydm | 统一社会信用代码 | uscc |
| ztmc | 主体名称 | subject_name |
| sblx | 申报类别: 01 资质许可, 02 经营状况, 03 合同履约, 04 公益活动 | declaration_kind_code |
| sbnr | 申报内容 | declaration_content |
| sbrq | 申报日期 | declared_on |
| cnbh | 信用承诺编号 (the commitment made with the declaration) | commitment_id |
| hyzt | 核验状态: 待核验, 已核验, 核验不实, 已撤回 | verification_status |
| hyztrq | 核验状态日期 | verification_status_on |
| xzqh_dm | 行政区划代码 | division_code |
| gxsj | 更新时间 (Beijing time) | updated_at |

The declarants are the subjects of the day's 主动型 commitments as `credit_commitments` makes them
(regenerated, so subject, name and 承诺编号 match that feed's records): at most
`DECLARATIONS_PER_SCALE * scale` a day. Each declaration's course is drawn from its own id
(`course`): verified 1-6 days after it was made (75 %), found untrue 1-6 days after (12 %), or
withdrawn before verification (13 %); a verified one is withdrawn 1-10 days later in a quarter of
cases. `defect_share` of a night's records carry one defect each (`DEFECT_KINDS`, every one a
critical check of expectations/voluntary_registration.json). Deterministic for (date, seed,
scale); reruns rewrite the same file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import credit_dw.simulate.api_feeds as feeds
import credit_dw.simulate.credit_commitments as commitments

SOURCE_ID = "voluntary_registration"
DECLARATIONS_PER_SCALE = 20
LOOKBACK_DAYS = 16  # verification within 6 days, withdrawal within 10 more
VOLUNTARY_COMMITMENT = "02"  # 主动型, the commitment a declaration is made under [004 §1]

PENDING, VERIFIED, UNTRUE, WITHDRAWN = "待核验", "已核验", "核验不实", "已撤回"
DEFECT_KINDS = ("bad_check_character", "missing_name", "bad_date", "unknown_kind_code", "unknown_status",
                "status_before_declared", "missing_commitment")

#: sblx code -> (kind, contents).
KINDS = {
    "01": ("资质许可", ("建筑业企业资质证书（施工总承包二级）", "食品经营许可证", "ISO 9001质量管理体系认证证书",
                     "高新技术企业证书", "道路运输经营许可证")),
    "02": ("经营状况", ("上年度营业收入及纳税情况", "年度财务审计报告", "吸纳就业及社保缴纳人数",
                     "主要产品产量及销售情况")),
    "03": ("合同履约", ("与供应商签订的采购合同按期履约", "政府采购合同验收合格", "工程施工合同竣工验收",
                     "银行借款合同按期还本付息")),
    "04": ("公益活动", ("向慈善总会捐赠防疫物资", "组织员工参加无偿献血", "资助贫困学生助学金",
                     "参与社区志愿服务活动")),
}


@dataclass(frozen=True)
class Course:
    """What becomes of a declaration: the dates of its status changes after 待核验."""

    verified_on: date | None
    untrue_on: date | None
    withdrawn_on: date | None

    def events(self) -> list[tuple[date, str]]:
        out = [(self.verified_on, VERIFIED), (self.untrue_on, UNTRUE), (self.withdrawn_on, WITHDRAWN)]
        return sorted((d, s) for d, s in out if d is not None)

    def status_on(self, day: date, declared_on: date) -> tuple[str, date]:
        """The status on `day` and the date it took effect."""
        status, since = PENDING, declared_on
        for when, what in self.events():
            if when <= day:
                status, since = what, when
        return status, since


def course(declaration_id: str, declared_on: date, *, seed: int) -> Course:
    rng = random.Random(f"{SOURCE_ID}:{seed}:course:{declaration_id}")
    outcome = rng.random()
    lag = timedelta(days=rng.randint(1, 6))
    if outcome < 0.75:
        later = timedelta(days=rng.randint(1, 10))
        return Course(declared_on + lag, None, declared_on + lag + later if rng.random() < 0.25 else None)
    if outcome < 0.87:
        return Course(None, declared_on + lag, None)
    return Course(None, None, declared_on + lag)


def new_declarations(day: date, *, scale: int, seed: int) -> list[dict]:
    """The clean declarations made on `day` (待核验); the same list whenever regenerated."""
    rng = feeds.rng_for(SOURCE_ID, seed, day, "new")
    made = commitments.new_commitments(day, round(commitments.NEW_SHARE * commitments.ROWS_PER_SCALE * scale),
                                       seed=seed)
    voluntary = [c for c in made if c["cnlx"] == VOLUNTARY_COMMITMENT][: DECLARATIONS_PER_SCALE * scale]
    out = []
    for seq, commitment in enumerate(voluntary, start=1):
        code = rng.choice(list(KINDS))
        out.append({
            "sbbh": f"ZYZC{day:%Y%m%d}{seq:05d}",
            "tyshxydm": commitment["tyshxydm"],
            "ztmc": commitment["ztmc"],
            "sblx": code,
            "sbnr": rng.choice(KINDS[code][1]),
            "sbrq": day.isoformat(),
            "cnbh": commitment["cnbh"],
            "hyzt": PENDING,
            "hyztrq": day.isoformat(),
            "xzqh_dm": commitment["xzqh_dm"],
            "gxsj": feeds.change_time(rng, day),
        })
    return out


def generate(logical_date: date, *, scale: int = 1, seed: int = 20261122,
             defect_share: float = feeds.DEFAULT_DEFECT_SHARE) -> tuple[list[dict], dict[str, int]]:
    feeds.check_scale(scale)
    records = new_declarations(logical_date, scale=scale, seed=seed)
    rng = feeds.rng_for(SOURCE_ID, seed, logical_date, "records")
    for back in range(1, LOOKBACK_DAYS + 1):
        day = logical_date - timedelta(days=back)
        for record in new_declarations(day, scale=scale, seed=seed):
            status, since = course(record["sbbh"], day, seed=seed).status_on(logical_date, day)
            if since == logical_date and status != PENDING:
                record.update(hyzt=status, hyztrq=logical_date.isoformat(),
                              gxsj=feeds.change_time(rng, logical_date))
                records.append(record)

    def apply(kind: str, record: dict) -> None:
        if feeds.apply_common_defect(kind, record, rng, uscc_key="tyshxydm", name_key="ztmc",
                                     date_key="sbrq", day=logical_date):
            return
        if kind == "unknown_kind_code":
            record["sblx"] = rng.choice(["05", "99", "1", "资质许可"])
        elif kind == "unknown_status":
            record["hyzt"] = rng.choice(["审核中", "通过", "3", "已核实"])
        elif kind == "status_before_declared":
            record["hyztrq"] = (date.fromisoformat(record["sbrq"]) - timedelta(days=rng.randint(1, 30))).isoformat()
        else:  # missing_commitment: declared without the commitment the website requires
            record["cnbh"] = feeds.blank(rng)

    defects = feeds.inject_defects(rng, records, DEFECT_KINDS, defect_share, apply)
    return records, defects


simulate = feeds.simulator(SOURCE_ID, generate)

"""Deterministic simulator of Shijiazhuang's other administrative acts (其他行政行为, feed `admin_act`).

Shijiazhuang publishes, beyond licences and penalties, its enforcement measures (行政强制),
confirmations (行政确认), levies (行政征收), payments (行政给付), adjudications (行政裁决),
compensation (行政补偿), rewards (行政奖励) and supervisory inspections (行政监督检查) [004 (十五)].
Its departments deliver them like the dual-publicity files, in one template with the act kind as
a column (行政行为类别): for a logical date D this writes each department's file into
`settings.inbox_dir("admin_act", D)`, named `<department_code>_qtxw_<YYYYMMDD>.<csv|xlsx>`, in
the mix the city's departments send (GBK CSV, XLSX, UTF-8 with and without BOM, half-width （）).

Records: `ROWS_PER_SCALE * scale` a night spread over the departments by weight, each of one of
its department's kinds; subjects as the dual-publicity simulator draws them (enterprises of the
market registry when that database exists, else generated; ~8 % natural persons with a valid
resident ID). Decisions are dated 1-12 working days (Monday-Friday) before D, so some arrive
after the office's default 7-working-day deadline (`late_report`, not a defect). Amounts (万元)
only for the kinds that have one (征收, 给付, 补偿, 奖励).

Defects on `defect_share` of the rows (organisations only), one each, kinds spread evenly
(`DEFECT_KINDS`), each a critical check of expectations/admin_act.json: a bad USCC check
character, a missing subject name, a decision dated after the night, a kind the office does not
list, a negative amount, a document number sent twice for one kind.

Determinism: draws from `random.Random`s seeded by (seed, D); XLSX with fixed zip timestamps; a
rerun deletes the night's files it wrote before and writes the same bytes.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import credit_dw.simulate.dual_publicity as dp
import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.simulate.common import SimulationSummary, check_run
from credit_dw.simulate.files import Delivery, table_bytes

log = logging.getLogger(__name__)

SOURCE_ID = "admin_act"
TAG = "qtxw"  # 其他行为
ROWS_PER_SCALE = 50
SHIJIAZHUANG = "130100"
#: The office's default reporting deadline (seeds/admin_act_kinds.csv) the simulator's lags straddle.
DEADLINE_WORKING_DAYS = 7

DEFECT_KINDS = ("bad_check_character", "missing_subject_name", "future_decision", "unknown_act_kind",
                "negative_amount", "duplicate_document_number")
LATE_KIND = "late_report"

#: Kinds the gate does not know: an older or local spelling, or a dual-publicity kind sent to the wrong feed.
UNKNOWN_KINDS = ("行政检查", "强制措施", "行政处罚", "其他")


@dataclass(frozen=True)
class ActTemplate:
    kind: str  # 行政行为类别, as in seeds/admin_act_kinds.csv
    document_name: str
    letter: str  # of the document number: 石市监强〔2024〕…号
    content: str  # {subject} is the subject's name
    basis: str
    amount_range: tuple[float, float] | None = None  # 万元


@dataclass(frozen=True)
class ActDepartment:
    code: str
    name: str
    abbreviation: str
    file_format: str  # csv_gbk | csv_utf8 | csv_utf8_bom | xlsx
    halfwidth: bool
    weight: float
    acts: tuple[ActTemplate, ...]

    @property
    def uscc(self) -> str:
        """A government body's code, as `dual_publicity.Department.uscc` derives it (seeds/departments.csv)."""
        rng = random.Random(f"department:{self.code}")
        return ids.with_check_character("11" + SHIJIAZHUANG + ids.organisation_code(rng, modern=False))


DEPARTMENTS = (
    ActDepartment("sjzsamr", "石家庄市市场监督管理局", "石市监", "csv_gbk", False, 3.0, (
        ActTemplate("行政强制", "查封（扣押）决定书", "强", "对{subject}涉嫌不符合食品安全标准的食品予以查封",
                    "《中华人民共和国食品安全法》第一百一十条"),
        ActTemplate("行政监督检查", "监督检查结果告知书", "检", "对{subject}开展双随机抽查，未发现问题",
                    "《市场监督管理行政处罚程序规定》; 《双随机、一公开监管工作细则》"),
    )),
    ActDepartment("sjzcgj", "石家庄市城市管理综合行政执法局", "石城管", "xlsx", False, 2.0, (
        ActTemplate("行政强制", "强制拆除决定书", "强", "对{subject}违法设置的户外广告设施予以强制拆除",
                    "《中华人民共和国行政强制法》第四十四条"),
        ActTemplate("行政监督检查", "现场检查记录", "检", "对{subject}门前责任区市容环境卫生进行检查",
                    "《城市市容和环境卫生管理条例》"),
    )),
    ActDepartment("sjzrsj", "石家庄市人力资源和社会保障局", "石人社", "csv_utf8_bom", False, 2.0, (
        ActTemplate("行政确认", "认定工伤决定书", "认", "确认{subject}职工所受伤害为工伤",
                    "《工伤保险条例》第十四条"),
        ActTemplate("行政给付", "稳岗返还决定", "给", "向{subject}发放失业保险稳岗返还资金",
                    "《失业保险条例》", (0.5, 30.0)),
        ActTemplate("行政奖励", "表彰决定", "奖", "授予{subject}石家庄市和谐劳动关系单位称号",
                    "《石家庄市劳动关系和谐企业评选办法》", (1.0, 5.0)),
    )),
    ActDepartment("sjzzrzyj", "石家庄市自然资源和规划局", "石自然资", "csv_utf8", True, 1.5, (
        ActTemplate("行政征收", "征收土地公告", "征", "征收{subject}使用的集体土地",
                    "《中华人民共和国土地管理法》第四十七条", (10.0, 800.0)),
        ActTemplate("行政补偿", "征收补偿决定书", "补", "对{subject}被征收的房屋给予补偿",
                    "《国有土地上房屋征收与补偿条例》第十七条", (20.0, 500.0)),
        ActTemplate("行政裁决", "土地权属争议处理决定书", "裁", "确认争议地块的使用权归{subject}",
                    "《土地权属争议调查处理办法》第二十三条"),
    )),
    ActDepartment("sjzyjj", "石家庄市应急管理局", "石应急", "csv_gbk", False, 1.5, (
        ActTemplate("行政监督检查", "安全生产监督检查记录", "检", "对{subject}开展安全生产执法检查",
                    "《中华人民共和国安全生产法》第六十五条"),
        ActTemplate("行政强制", "查封扣押决定书", "强", "对{subject}不符合安全生产要求的设备予以查封",
                    "《中华人民共和国安全生产法》第六十五条第一款第四项"),
        ActTemplate("行政奖励", "举报奖励决定", "奖", "对举报{subject}重大事故隐患的举报人给予奖励",
                    "《安全生产领域举报奖励办法》", (0.3, 3.0)),
    )),
)


def generate_records(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
                     subjects: list[dp.Subject] | None = None
                     ) -> tuple[list[tuple[ActDepartment, dict]], dict[str, int]]:
    """D's records as (department, canonical field → value) and the defect counts; `subjects`
    given → no database access."""
    check_run(scale, defect_share)
    rng = random.Random(f"{SOURCE_ID}:{seed}:{logical_date.isoformat()}")
    n = ROWS_PER_SCALE * scale
    if subjects is None:
        subjects = dp._subjects(rng, logical_date, seed, n)
    chosen = rng.choices(DEPARTMENTS, weights=[d.weight for d in DEPARTMENTS], k=n)
    records: list[tuple[ActDepartment, dict]] = []
    counts = dict.fromkeys(DEFECT_KINDS, 0)
    counts[LATE_KIND] = 0
    sequence: dict[str, int] = {}
    for i, dept in enumerate(chosen):
        sequence[dept.code] = sequence.get(dept.code, 0) + 1
        act = rng.choice(dept.acts)
        subject = subjects[i % len(subjects)]
        lag = rng.choices(range(1, 13), weights=(14, 14, 12, 11, 10, 9, 8, 5, 5, 4, 4, 4))[0]
        decided = dp.working_days_before(logical_date, lag)
        counts[LATE_KIND] += lag > DEADLINE_WORKING_DAYS
        natural = subject.category == dp.CATEGORY_NATURAL_PERSON
        amount = round(rng.uniform(*act.amount_range), 2) if act.amount_range else None
        records.append((dept, {
            "act_kind": act.kind,
            "subject_name": subject.name,
            "subject_category": subject.category,
            "uscc": subject.uscc,
            "legal_representative": None if natural else subject.legal_representative,
            "id_type": "身份证" if natural else None,
            "id_number": subject.id_number,
            "decision_document_name": act.document_name,
            "decision_document_number":
                f"{dept.abbreviation}{act.letter}〔{decided.year}〕{logical_date:%m%d}{sequence[dept.code]:04d}号",
            "act_content": act.content.format(subject=subject.name),
            "act_basis": act.basis,
            "amount_10k_yuan": amount,
            "decision_date": decided,
            "authority_name": dept.name,
            "authority_uscc": dept.uscc,
            "source_department": dept.name,
            "source_department_uscc": dept.uscc,
            "remark": None,
        }))

    organisations = [i for i, (_, r) in enumerate(records) if r["subject_category"] != dp.CATEGORY_NATURAL_PERSON]
    defect_rows = rng.sample(organisations, min(len(organisations), round(defect_share * n)))
    kinds = {i: DEFECT_KINDS[k % len(DEFECT_KINDS)] for k, i in enumerate(defect_rows)}
    clean = [i for i in range(n) if i not in kinds]
    copied: set[int] = set()
    for i in sorted(kinds):
        defect, (dept, record) = kinds[i], records[i]
        if defect == "bad_check_character":
            record["uscc"] = ids.wrong_check_character(rng, record["uscc"])
        elif defect == "missing_subject_name":
            record["subject_name"] = rng.choice([None, "", " ", "\u3000"])
        elif defect == "future_decision":
            record["decision_date"] = logical_date + timedelta(days=rng.randint(1, 30))
        elif defect == "unknown_act_kind":
            record["act_kind"] = rng.choice(UNKNOWN_KINDS)
        elif defect == "negative_amount":
            record["amount_10k_yuan"] = -round(rng.uniform(0.1, 50), 2)
        else:  # duplicate_document_number: a clean record's kind and number again (same department if it can)
            same = [j for j in clean if j not in copied and records[j][0] == dept]
            others = [j for j in clean if j not in copied]
            if not (same or others):
                continue
            j = rng.choice(same or others)
            copied.add(j)
            record["act_kind"] = records[j][1]["act_kind"]
            record["decision_document_number"] = records[j][1]["decision_document_number"]
        counts[defect] += 1
    return records, counts


def headers(halfwidth: bool) -> dict[str, str]:
    """Canonical field → the header a department writes (the catalog's, half-width （） if asked)."""
    from credit_dw.catalog import get_source

    table = dict(get_source(SOURCE_ID).fields)
    if halfwidth:
        table = {k: v.replace("（", "(").replace("）", ")") for k, v in table.items()}
    return table


def file_name(dept: ActDepartment, logical_date: date) -> str:
    return f"{dept.code}_{TAG}_{logical_date:%Y%m%d}.{'xlsx' if dept.file_format == 'xlsx' else 'csv'}"


def write_day(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
              inbox: Path | None = None, subjects: list[dp.Subject] | None = None) -> Delivery:
    """Write D's department files into the feed's inbox (see the module doc); returns what was written."""
    from credit_dw.catalog import get_source

    records, counts = generate_records(logical_date, scale=scale, seed=seed, defect_share=defect_share,
                                       subjects=subjects)
    inbox = inbox or settings.inbox_dir(SOURCE_ID, logical_date.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    fields = get_source(SOURCE_ID).canonical_fields
    written: list[Path] = []
    for dept in DEPARTMENTS:
        for stale in inbox.glob(f"{dept.code}_{TAG}_{logical_date:%Y%m%d}*"):
            stale.unlink()
        mine = [r for d, r in records if d == dept]
        if not mine:
            continue
        names = headers(dept.halfwidth)
        path = inbox / file_name(dept, logical_date)
        write_atomically(path, table_bytes(
            dept.file_format, [names[f] for f in fields], [[r.get(f) for f in fields] for r in mine],
            stamp=datetime.combine(logical_date, time(18, 0)), creator=dept.name, sheet="其他行政行为"))
        written.append(path)
    summary = SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(records))
    log.info("%s %s: %d records in %d files, defects %s", SOURCE_ID, logical_date, len(records), len(written),
             counts)
    return Delivery(summary, sorted(written), [r for _, r in records])


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): D's files into the feed's inbox."""
    return write_day(logical_date, scale=scale, seed=seed).summary

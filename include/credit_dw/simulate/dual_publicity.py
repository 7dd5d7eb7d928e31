"""Deterministic simulator of the dual-publicity file drops (双公示: 行政许可 and 行政处罚).

It stands in for the licensing and enforcing departments that deliver the national template as
files [000 §2.2, §2.3; rules §4, §5]: for a logical date D it writes each department's files
into the feed's inbox, `settings.inbox_dir(source_id, D)`, named
`<department_code>_<xzxk|xzcf>_<YYYYMMDD>[_<n>].<csv|xlsx>`, in the mix departments really send:

| department | file | headers |
|---|---|---|
| 河北省市场监督管理局 (hbsamr) | GBK CSV | national template |
| 河北省生态环境厅 (hbsthjt) | XLSX | national template |
| 河北省住房和城乡建设厅 (hbzjt) | UTF-8 CSV with BOM | legacy codes (XK_* / CF_*) |
| 河北省交通运输厅 (hbjtt) | UTF-8 CSV | template, half-width （）, one unknown column 经办人 |
| 河北省应急管理厅 (hbyjglt) | XLSX | legacy codes |
| 石家庄市市场监督管理局 (sjzsamr) | GBK CSV, two files a day | the 2019 template's 行政相对人代码_n（…） headers |

Records: `ROWS_PER_SCALE[kind] * scale` a night, spread over the departments; subjects are
enterprises and individual businesses of the market registry (`registry.t_sczt_djxx` in
`settings.source_url("market_registry")`, those registered up to D) when that database exists,
else generated with `credit_dw.simulate.identities`; ~8 % natural persons with a valid resident ID.
Decisions are dated 1-12 working days (Monday-Friday; the holiday calendar is the timeliness
check's business) before D, so some arrive after the 7-working-day deadline (`late_report`, not a
defect). Defects on `defect_share` of the rows, one each, kinds spread evenly (`DEFECT_KINDS`).

Determinism: every draw comes from a `random.Random` seeded by (kind, seed, D); the registry
sample is ordered by a hash of its ids; XLSX files are written with fixed zip timestamps and
document properties. A run deletes the department files of D it may have written before and writes
them again (via a hidden temporary name, then rename), so rerunning D gives byte-identical files.
"""

from __future__ import annotations

import csv
import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.simulate.common import SimulationSummary, check_run, day_id_range
from credit_dw.simulate.files import CSV_ENCODINGS, Delivery, cell_text, csv_bytes, xlsx_bytes

log = logging.getLogger(__name__)

LICENCE = "admin_licence"
PENALTY = "admin_penalty"
TAGS = {LICENCE: "xzxk", PENALTY: "xzcf"}
ROWS_PER_SCALE = {LICENCE: 120, PENALTY: 60}
NATURAL_PERSON_SHARE = 0.08
REMARK_SHARE = 0.05
#: Working days a decision may take to arrive; beyond 7 it is late [000 §2.2].
DEADLINE_WORKING_DAYS = 7

DEFECT_KINDS = {
    LICENCE: ("bad_check_character", "missing_document_number", "validity_reversed", "future_decision",
              "duplicate_document_number"),
    PENALTY: ("bad_check_character", "missing_document_number", "negative_fine", "future_decision",
              "duplicate_document_number"),
}
LATE_KIND = "late_report"

CATEGORY_ORGANISATION = "法人及非法人组织"
CATEGORY_INDIVIDUAL_BUSINESS = "个体工商户"
CATEGORY_NATURAL_PERSON = "自然人"


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    division_code: str
    abbreviation: str  # of decision document numbers: 冀市监罚〔2024〕…号
    file_format: str  # csv_gbk | csv_utf8 | csv_utf8_bom | xlsx
    header_style: str  # template | template_2019 | halfwidth | legacy
    weight: float
    licences: tuple[str, ...]
    violations: tuple[tuple[str, str], ...]  # (违法行为类型, 处罚依据)
    files_per_day: int = 1
    extra_column: str | None = None

    @property
    def uscc(self) -> str:
        """A government body's code (registration authority 1 = 机构编制, kind 1 = 机关), stable per department."""
        rng = random.Random(f"department:{self.code}")
        return ids.with_check_character("11" + self.division_code + ids.organisation_code(rng, modern=False))


DEPARTMENTS = (
    Department("hbsamr", "河北省市场监督管理局", "130000", "冀市监", "csv_gbk", "template", 3.0,
               ("食品生产许可证", "工业产品生产许可证", "特种设备生产许可证"),
               (("生产经营不符合食品安全标准的食品", "《中华人民共和国食品安全法》第一百二十四条"),
                ("虚假宣传", "《中华人民共和国反不正当竞争法》第二十条"),
                ("未按规定公示年度报告", "《企业信息公示暂行条例》第十八条"))),
    Department("hbsthjt", "河北省生态环境厅", "130000", "冀环", "xlsx", "template", 2.0,
               ("排污许可证", "危险废物经营许可证", "辐射安全许可证"),
               (("超标排放大气污染物", "《中华人民共和国大气污染防治法》第九十九条"),
                ("未依法取得排污许可证排放污染物", "《排污许可管理条例》第三十三条"),
                ("未按规定贮存危险废物", "《中华人民共和国固体废物污染环境防治法》第一百一十二条"))),
    Department("hbzjt", "河北省住房和城乡建设厅", "130000", "冀建", "csv_utf8_bom", "legacy", 1.5,
               ("建筑业企业资质证书", "安全生产许可证", "工程监理企业资质证书"),
               (("未取得施工许可证擅自施工", "《建设工程质量管理条例》第五十七条"),
                ("违反工程建设强制性标准", "《建设工程质量管理条例》第六十四条"))),
    Department("hbjtt", "河北省交通运输厅", "130000", "冀交", "csv_utf8", "halfwidth", 1.5,
               ("道路运输经营许可证", "超限运输车辆行驶公路许可"),
               (("未取得道路运输经营许可擅自从事道路运输经营", "《中华人民共和国道路运输条例》第六十三条"),
                ("违法超限运输", "《公路安全保护条例》第六十四条")),
               extra_column="经办人"),
    Department("hbyjglt", "河北省应急管理厅", "130000", "冀应急", "xlsx", "legacy", 1.0,
               ("安全生产许可证", "危险化学品经营许可证", "烟花爆竹经营许可证"),
               (("未按规定对从业人员进行安全生产教育和培训", "《中华人民共和国安全生产法》第九十七条"),
                ("未建立事故隐患排查治理制度", "《中华人民共和国安全生产法》第一百零一条"))),
    Department("sjzsamr", "石家庄市市场监督管理局", "130100", "石市监", "csv_gbk", "template_2019", 3.0,
               ("食品经营许可证", "药品经营许可证"),
               (("经营超过保质期的食品", "《中华人民共和国食品安全法》第一百二十四条"),
                ("不按规定明码标价", "《价格违法行为行政处罚规定》第十三条")),
               files_per_day=2),
)

LICENCE_CATEGORIES = (("普通", 60), ("登记", 15), ("核准", 10), ("认可", 8), ("特许", 5), ("其他", 2))
PENALTY_CATEGORIES = (("罚款", 55), ("警告", 15), ("罚款;没收违法所得、没收非法财物", 15),
                      ("责令停产停业", 8), ("暂扣或者吊销许可证、暂扣或者吊销执照", 7))
FINES_10K_YUAN = (0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 20, 50)


@dataclass(frozen=True)
class Subject:
    name: str
    category: str
    uscc: str | None = None
    legal_representative: str | None = None
    id_number: str | None = None


#: What a run wrote: the summary, the files, and every record (canonical field → value).
DayFiles = Delivery


# --- subjects ---------------------------------------------------------------------------------

def registry_subjects(logical_date: date, seed: int, count: int) -> list[Subject]:
    """Up to `count` distinct subjects registered up to D in the market-registry source database
    (valid codes and names only, picked by a hash of id); [] when that database is not there."""
    import psycopg
    from stdnum.cn import uscc as stdnum_uscc

    try:
        url = settings.libpq_url(settings.source_url("market_registry"))
        with psycopg.connect(url, connect_timeout=5) as conn:
            exists = conn.execute("select to_regclass('registry.t_sczt_djxx')").fetchone()[0]
            if exists is None:
                return []
            rows = conn.execute(
                """select tyshxydm, ztmc, ztlx, fddbr from registry.t_sczt_djxx where id <= %s
                   order by md5(%s || id::text), id limit %s""",
                (day_id_range(logical_date)[1], f"dual_publicity:{seed}:{logical_date.isoformat()}:", count * 2),
            ).fetchall()
    except (psycopg.Error, RuntimeError) as exc:  # no warehouse / no registry database
        log.info("dual publicity: no market registry to draw subjects from (%s); generating them", exc)
        return []
    subjects, used = [], set()
    for code, name, kind, representative in rows:
        code = "".join((code or "").translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}).split()).upper()
        name = (name or "").strip().strip("\u3000")
        if not name or code in used or not stdnum_uscc.is_valid(code):
            continue
        used.add(code)
        category = CATEGORY_INDIVIDUAL_BUSINESS if kind == "个体工商户" or code.startswith("92") \
            else CATEGORY_ORGANISATION
        subjects.append(Subject(name, category, code, (representative or "").strip() or None))
        if len(subjects) == count:
            break
    return subjects


def citizen_id(rng: random.Random, divisions: list[ids.RegistrationDivision]) -> str:
    """A valid GB 11643-1999 resident ID issued in Hebei."""
    birth = date(1955, 1, 1) + timedelta(days=rng.randint(0, 365 * 48))
    body = rng.choice(divisions).code + birth.strftime("%Y%m%d") + f"{rng.randint(0, 999):03d}"
    return body + ids.citizen_id_check_character(body)


def generated_subject(rng: random.Random, divisions: list[ids.RegistrationDivision], weights: list[float]) -> Subject:
    division = rng.choices(divisions, weights=weights)[0]
    person = ids.person_name(rng)
    if rng.random() < 0.15:
        code = ids.make_uscc(rng, division.code, kind="2")
        return Subject(ids.individual_business_name(rng, division.place, person), CATEGORY_INDIVIDUAL_BUSINESS,
                       code, person)
    code = ids.make_uscc(rng, division.code, kind="1")
    return Subject(ids.enterprise_name(rng, division.place, division.city_name), CATEGORY_ORGANISATION, code, person)


def _subjects(rng: random.Random, logical_date: date, seed: int, count: int) -> list[Subject]:
    divisions = ids.registration_divisions()
    weights = ids.division_weights(divisions)
    people = round(count * NATURAL_PERSON_SHARE)
    organisations = registry_subjects(logical_date, seed, count - people)
    while len(organisations) < count - people:
        organisations.append(generated_subject(rng, divisions, weights))
    persons = [Subject(ids.person_name(rng), CATEGORY_NATURAL_PERSON, id_number=citizen_id(rng, divisions))
               for _ in range(people)]
    subjects = organisations + persons
    rng.shuffle(subjects)
    return subjects


# --- records ----------------------------------------------------------------------------------

def working_days_before(day: date, n: int) -> date:
    """The date n working days (Monday-Friday) before `day`."""
    while n > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _lag(rng: random.Random) -> int:
    """Working days from decision to delivery: mostly within the 7-day deadline, some later."""
    return rng.choices(range(1, 13), weights=(14, 14, 12, 11, 10, 9, 8, 5, 5, 4, 4, 4))[0]


def _subject_fields(subject: Subject) -> dict:
    natural = subject.category == CATEGORY_NATURAL_PERSON
    return {
        "subject_name": subject.name,
        "subject_category": subject.category,
        "uscc": subject.uscc,
        "legal_representative": None if natural else subject.legal_representative,
        "id_type": "身份证" if natural else None,
        "id_number": subject.id_number,
    }


def _licence(rng: random.Random, dept: Department, subject: Subject, decided: date, number: str) -> dict:
    licence = rng.choice(dept.licences)
    years = rng.choice((3, 5, 5, 6))
    valid_to = date(2099, 12, 31) if rng.random() < 0.1 else decided + timedelta(days=round(365.25 * years) - 1)
    return {
        **_subject_fields(subject),
        "decision_document_name": f"{licence}准予行政许可决定书",
        "decision_document_number": number,
        "licence_category": rng.choices(*zip(*LICENCE_CATEGORIES, strict=True))[0],
        "licence_certificate_name": licence,
        "licence_number": f"{dept.code[:3].upper()}{decided:%Y}{rng.randint(0, 999999):06d}",
        "licence_content": f"准予{subject.name}取得{licence}",
        "decision_date": decided,
        "valid_from": decided,
        "valid_to": valid_to,
        "authority_name": dept.name,
        "authority_uscc": dept.uscc,
        "current_status": "有效",
        "source_department": dept.name,
        "source_department_uscc": dept.uscc,
        "remark": "补正材料后准予许可" if rng.random() < REMARK_SHARE else None,
    }


def _penalty(rng: random.Random, dept: Department, subject: Subject, decided: date, number: str) -> dict:
    violation, basis = rng.choice(dept.violations)
    category = rng.choices(*zip(*PENALTY_CATEGORIES, strict=True))[0]
    fine = rng.choice(FINES_10K_YUAN) if "罚款" in category else None
    confiscated = round(rng.uniform(0.01, 5), 4) if "没收" in category else None
    revoked = f"{rng.choice(dept.licences)}（编号{rng.randint(10**7, 10**8 - 1)}）" if "吊销" in category else None
    content = "；".join(filter(None, [
        f"罚款人民币{fine * 10000:,.0f}元" if fine else None,
        f"没收违法所得人民币{confiscated * 10000:,.0f}元" if confiscated else None,
        "警告" if category == "警告" else None,
        "责令停产停业整顿" if category == "责令停产停业" else None,
        f"吊销{revoked}" if revoked else None,
    ]))
    publicity_days = 91 if category == "警告" else 365 * 3 if revoked or "停产" in category else 365
    return {
        **_subject_fields(subject),
        "decision_document_number": number,
        "violation_type": violation,
        "violation_facts": f"经查，当事人{subject.name}存在{violation}的违法行为，违反了{basis}的规定。",
        "penalty_basis": basis,
        "penalty_category": category,
        "penalty_content": content,
        "fine_amount_10k_yuan": fine,
        "confiscated_amount_10k_yuan": confiscated,
        "suspended_or_revoked_licence": revoked,
        "decision_date": decided,
        "penalty_valid_to": decided + timedelta(days=365),
        "publicity_end_date": decided + timedelta(days=publicity_days),
        "authority_name": dept.name,
        "authority_uscc": dept.uscc,
        "source_department": dept.name,
        "source_department_uscc": dept.uscc,
        "remark": None,
    }


def generate_records(kind: str, logical_date: date, *, scale: int = 1, seed: int = 20261122,
                     defect_share: float = 0.05, subjects: list[Subject] | None = None
                     ) -> tuple[list[tuple[Department, dict]], dict[str, int]]:
    """D's records as (department, canonical field → value) and the defect counts; `subjects`
    given → no database access."""
    if kind not in TAGS:
        raise ValueError(f"kind must be one of {sorted(TAGS)}: {kind!r}")
    check_run(scale, defect_share)
    rng = random.Random(f"{kind}:{seed}:{logical_date.isoformat()}")
    n = ROWS_PER_SCALE[kind] * scale
    if subjects is None:
        subjects = _subjects(rng, logical_date, seed, n)
    chosen = rng.choices(DEPARTMENTS, weights=[d.weight for d in DEPARTMENTS], k=n)
    make = _licence if kind == LICENCE else _penalty
    letter = "许" if kind == LICENCE else "罚"
    records: list[tuple[Department, dict]] = []
    counts = dict.fromkeys(DEFECT_KINDS[kind], 0)
    counts[LATE_KIND] = 0
    sequence: dict[str, int] = {}
    for i, dept in enumerate(chosen):
        sequence[dept.code] = sequence.get(dept.code, 0) + 1
        lag = _lag(rng)
        decided = working_days_before(logical_date, lag)
        number = f"{dept.abbreviation}{letter}〔{decided.year}〕{logical_date:%m%d}{sequence[dept.code]:04d}号"
        records.append((dept, make(rng, dept, subjects[i % len(subjects)], decided, number)))
        counts[LATE_KIND] += lag > DEADLINE_WORKING_DAYS

    organisations = [i for i, (_, r) in enumerate(records) if r["subject_category"] != CATEGORY_NATURAL_PERSON]
    defect_rows = rng.sample(organisations, min(len(organisations), round(defect_share * n)))
    kinds = {i: DEFECT_KINDS[kind][k % len(DEFECT_KINDS[kind])] for k, i in enumerate(defect_rows)}
    clean = [i for i in range(n) if i not in kinds]
    copied: set[int] = set()
    for i in sorted(kinds):
        defect, dept, record = kinds[i], *records[i]
        if defect == "bad_check_character":
            record["uscc"] = ids.wrong_check_character(rng, record["uscc"])
        elif defect == "missing_document_number":
            record["decision_document_number"] = rng.choice([None, "", " ", "\u3000"])
        elif defect == "validity_reversed":
            record["valid_to"] = record["valid_from"] - timedelta(days=rng.randint(1, 365))
        elif defect == "negative_fine":
            record["penalty_category"] = "罚款"
            record["fine_amount_10k_yuan"] = -(record["fine_amount_10k_yuan"] or rng.choice(FINES_10K_YUAN))
        elif defect == "future_decision":
            record["decision_date"] = logical_date + timedelta(days=rng.randint(1, 30))
            if kind == LICENCE:
                record["valid_from"] = record["decision_date"]
        else:  # duplicate_document_number: a clean record's number again (same department if it can)
            same = [j for j in clean if j not in copied and records[j][0] == dept]
            others = [j for j in clean if j not in copied]
            if not (same or others):
                continue
            j = rng.choice(same or others)
            copied.add(j)
            record["decision_document_number"] = records[j][1]["decision_document_number"]
        counts[defect] += 1
    return records, counts


# --- files ------------------------------------------------------------------------------------

def headers(kind: str, style: str) -> dict[str, str]:
    """Canonical field → the header a department of this style writes."""
    from credit_dw.catalog import get_source
    from credit_dw.connectors.files.headers import aliases_path

    spec = get_source(kind)
    if style in ("template", "halfwidth"):
        table = dict(spec.fields)
        if style == "halfwidth":
            table = {k: v.replace("（", "(").replace("）", ")") for k, v in table.items()}
        return table
    with aliases_path().open(encoding="utf-8", newline="") as fh:
        aliases = [r for r in csv.DictReader(fh) if r["source_id"] == kind]
    table = {}
    for name, header in spec.fields.items():
        if style == "legacy":
            table[name] = next(r["alias"] for r in aliases if r["canonical_field"] == name
                               and r["alias_kind"] == "legacy_code")
        elif style == "template_2019":
            table[name] = next((r["alias"] for r in aliases if r["canonical_field"] == name
                                and r["alias"].startswith("行政相对人代码_")), header)
        else:
            raise ValueError(f"unknown header style {style!r}")
    return table


def _file_bytes(dept: Department, kind: str, header: list[str], rows: list[list], logical_date: date) -> bytes:
    if dept.file_format == "xlsx":
        return xlsx_bytes(header, rows, stamp=datetime.combine(logical_date, time(18, 0)), creator=dept.name,
                          sheet="行政许可" if kind == LICENCE else "行政处罚")
    return csv_bytes([header, *([cell_text(v) for v in row] for row in rows)], CSV_ENCODINGS[dept.file_format])


def file_names(dept: Department, kind: str, logical_date: date) -> list[str]:
    stem = f"{dept.code}_{TAGS[kind]}_{logical_date:%Y%m%d}"
    ext = "xlsx" if dept.file_format == "xlsx" else "csv"
    if dept.files_per_day == 1:
        return [f"{stem}.{ext}"]
    return [f"{stem}_{k}.{ext}" for k in range(1, dept.files_per_day + 1)]


def write_day(kind: str, logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
              inbox: Path | None = None, subjects: list[Subject] | None = None) -> DayFiles:
    """Write D's department files into the feed's inbox (see the module doc); returns what was written."""
    records, counts = generate_records(kind, logical_date, scale=scale, seed=seed, defect_share=defect_share,
                                       subjects=subjects)
    inbox = inbox or settings.inbox_dir(kind, logical_date.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    from credit_dw.catalog import get_source

    fields = get_source(kind).canonical_fields
    written: list[Path] = []
    extra_rng = random.Random(f"{kind}:{seed}:{logical_date.isoformat()}:extra")
    for dept in DEPARTMENTS:
        for stale in inbox.glob(f"{dept.code}_{TAGS[kind]}_{logical_date:%Y%m%d}*"):
            stale.unlink()
        mine = [r for d, r in records if d == dept]
        if not mine:
            continue
        names = headers(kind, dept.header_style)
        header = [names[f] for f in fields] + ([dept.extra_column] if dept.extra_column else [])
        rows = [[r.get(f) for f in fields] + ([ids.person_name(extra_rng)] if dept.extra_column else [])
                for r in mine]
        files = file_names(dept, kind, logical_date)
        size = -(-len(rows) // len(files))
        for k, name in enumerate(files):
            chunk = rows[k * size:(k + 1) * size]
            if not chunk:
                continue
            path = inbox / name
            write_atomically(path, _file_bytes(dept, kind, header, chunk, logical_date))
            written.append(path)
    summary = SimulationSummary.of(kind, logical_date, counts, inserted=len(records))
    log.info("%s %s: %d records in %d files, defects %s", kind, logical_date, len(records), len(written), counts)
    return DayFiles(summary, sorted(written), [r for _, r in records])

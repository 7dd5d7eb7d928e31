"""Deterministic simulator of credit interviews and repair training (feed `credit_interviews`).

Departments call dishonest subjects to reminder or warning interviews (提示约谈 / 警示约谈), set a
rectification deadline (限期整改) and record the outcome; the credit office and the departments run
credit-repair training (信用修复培训) for black-list subjects [004 (十二); 002 #15]. For a logical
date D this writes each department's register of the night into
`settings.inbox_dir("credit_interviews", D)`, named `<department_code>_yt_<YYYYMMDD>.<csv|xlsx>`, in
the departments' mix of formats (GBK CSV, XLSX, UTF-8 with and without BOM).

Records: `ROWS_PER_SCALE * scale` a night, spread over the departments by weight, each of one of
its department's kinds. Subjects: `BLACKLIST_SHARE` of the rows from a pool of black-list
subjects (those the credit-list simulator listed in the `LOOKBACK_NIGHTS` nights before D, which
the nights before put into `fct_list_membership`; drawn with replacement from overlapping windows,
so several subjects are interviewed more than once, within a night and across nights); the others as the dual-publicity
simulator draws them (registry enterprises, ~8 % natural persons with a valid resident ID). Held
1-10 working days before D; an interview's deadline 15, 30 or 60 days after it, its outcome 整改中
while the deadline is ahead of D, else 已整改 or 逾期未整改; training 合格 or 不合格.

An interview first sent 整改中 is re-sent (same 记录编号) with its final outcome, 已整改 or 逾期未整改,
`deadline days + RESEND_AFTER_DEADLINE_DAYS` nights after its first night (`resent_with_outcome` in
the summary, not a defect); the fact keeps the latest delivery.

Defects on `defect_share` of the new rows (organisations only), one each, kinds spread evenly
(`DEFECT_KINDS`), each a critical check of expectations/credit_interviews.json: a bad USCC check
character, a missing subject name, a deadline before the interview, a kind the gate does not
know, a date held after the night, an outcome of the other kind (合格 for an interview), a
record number sent twice by one department.

Determinism: draws from `random.Random`s seeded by (seed, D) (the pool too: regenerated from the
list simulator, never read from the marts); XLSX with fixed zip timestamps; a rerun deletes the
night's files it wrote before and writes the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import credit_dw.simulate.credit_lists as credit_lists
import credit_dw.simulate.dual_publicity as dp
import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.simulate.common import SimulationSummary, check_run
from credit_dw.simulate.files import Delivery, table_bytes

log = logging.getLogger(__name__)

SOURCE_ID = "credit_interviews"
TAG = "yt"  # 约谈
ROWS_PER_SCALE = 40
#: Share of the rows about black-list subjects (the rest: other subjects a department interviews).
BLACKLIST_SHARE = 0.7
#: Black-list subjects in the pool per unit of scale: smaller than the rows, so subjects repeat.
POOL_PER_SCALE = 25
#: The list nights before D whose black-list entries make the pool (interviews follow a listing).
LOOKBACK_NIGHTS = 14
BLACK_LISTS = ("失信黑名单", "严重失信主体名单")

REMINDER, WARNING, TRAINING = "提示约谈", "警示约谈", "信用修复培训"
INTERVIEW_KINDS = (REMINDER, WARNING)
INTERVIEW_OUTCOMES = ("已整改", "整改中", "逾期未整改")
TRAINING_OUTCOMES = ("合格", "不合格")
DEADLINE_DAYS = (15, 30, 60)
#: An interview first sent 整改中 comes again with its final outcome this many days after its
#: deadline (counted from its first night): the department's follow-up.
RESEND_AFTER_DEADLINE_DAYS = 14
RESENT_KIND = "resent_with_outcome"  # counted in the summary, not a defect

DEFECT_KINDS = ("bad_check_character", "missing_subject_name", "deadline_before_interview",
                "unknown_record_kind", "future_held_date", "outcome_of_other_kind", "duplicate_record_number")
#: Kinds the gate does not know: a generic or local spelling.
UNKNOWN_KINDS = ("约谈", "告诫约谈", "信用培训", "行政约谈")

MATTERS = {
    REMINDER: ("列入失信黑名单后未按期履行整改义务", "存在失信风险，提示依法诚信经营", "行政处罚信息公示期内"),
    WARNING: ("严重失信行为，限期整改", "多次违法失信，责令限期整改", "未按承诺履约，警示整改"),
    TRAINING: ("信用修复专题培训", "失信主体信用修复培训班", "信用修复政策解读及案例培训"),
}


@dataclass(frozen=True)
class InterviewDepartment:
    code: str
    name: str
    division_code: str
    abbreviation: str  # of record numbers: 冀发改信约〔2023〕…号
    file_format: str  # csv_gbk | csv_utf8 | csv_utf8_bom | xlsx
    weight: float
    kinds: tuple[str, ...]

    @property
    def uscc(self) -> str:
        """A government body's code, as seeds/departments.csv derives it (registration 1, kind 1)."""
        rng = random.Random(f"department:{self.code}")
        return ids.with_check_character("11" + self.division_code + ids.organisation_code(rng, modern=False))


DEPARTMENTS = (
    InterviewDepartment("hbdrc", "河北省发展和改革委员会", "130000", "冀发改信约", "csv_gbk", 2.0,
                        (WARNING, REMINDER)),
    InterviewDepartment("hbxyb", "河北省社会信用体系建设领导小组办公室", "130000", "冀信办培", "xlsx", 2.0,
                        (TRAINING,)),
    InterviewDepartment("hbsamr", "河北省市场监督管理局", "130000", "冀市监约", "csv_utf8_bom", 2.0,
                        (REMINDER, WARNING)),
    InterviewDepartment("hbsthjt", "河北省生态环境厅", "130000", "冀环约", "csv_utf8", 1.0, (WARNING,)),
    InterviewDepartment("hbtax", "国家税务总局河北省税务局", "130000", "冀税约", "xlsx", 1.0, (REMINDER,)),
    InterviewDepartment("sjzdrc", "石家庄市发展和改革委员会", "130100", "石发改信约", "csv_gbk", 1.5,
                        (REMINDER, WARNING, TRAINING)),
)


def blacklist_subjects(logical_date: date, *, scale: int = 1, seed: int = 20261122,
                       count: int | None = None) -> list[dp.Subject]:
    """Up to `count` (default `POOL_PER_SCALE * scale`) subjects the credit-list simulator put on a
    black list (失信黑名单 / 严重失信主体名单) in the `LOOKBACK_NIGHTS` nights before D, in a fixed
    order of (seed, code). Regenerated from the list simulator, not read from the warehouse's
    fct_list_membership: a rerun of D writes the same rows whatever the marts hold meanwhile; the
    nights before D having been ingested, these subjects are the ones fct_list_membership lists."""
    pool: dict[str, dp.Subject] = {}
    for back in range(1, LOOKBACK_NIGHTS + 1):
        for entry in credit_lists.entries_of(logical_date - timedelta(days=back), scale=scale, seed=seed):
            if entry.credit_list.list_type in BLACK_LISTS and entry.subject.uscc:
                pool.setdefault(entry.subject.uscc, entry.subject)
    order = sorted(pool, key=lambda code: (hashlib.md5(f"{SOURCE_ID}:{seed}:{code}".encode()).hexdigest(), code))
    return [pool[code] for code in order[:POOL_PER_SCALE * scale if count is None else count]]


def _outcome(rng: random.Random, kind: str, deadline: date | None, logical_date: date) -> str:
    if kind == TRAINING:
        return rng.choices(TRAINING_OUTCOMES, weights=(85, 15))[0]
    if deadline is not None and deadline > logical_date:
        return "整改中"
    return rng.choices(("已整改", "逾期未整改"), weights=(75, 25))[0]


def generate_records(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
                     subjects: list[dp.Subject] | None = None, blacklisted: list[dp.Subject] | None = None
                     ) -> tuple[list[tuple[InterviewDepartment, dict]], dict[str, int]]:
    """D's records as (department, canonical field → value) and the defect counts: the night's new
    records (defects among them), then the earlier interviews re-sent with their final outcome
    (`resent_records`); `subjects` and `blacklisted` given → no database access."""
    check_run(scale, defect_share)
    rng = random.Random(f"{SOURCE_ID}:{seed}:{logical_date.isoformat()}")
    records = _new_records(rng, logical_date, scale, seed, subjects, blacklisted)
    resent = resent_records(logical_date, scale=scale, seed=seed, subjects=subjects, blacklisted=blacklisted)
    counts = _inject_defects(rng, records, logical_date, defect_share)
    counts[RESENT_KIND] = len(resent)
    return records + resent, counts


def resent_records(logical_date: date, *, scale: int = 1, seed: int = 20261122,
                   subjects: list[dp.Subject] | None = None, blacklisted: list[dp.Subject] | None = None
                   ) -> list[tuple[InterviewDepartment, dict]]:
    """The interviews still 整改中 when first sent that their department re-sends on D with the final
    outcome (已整改 or 逾期未整改): those whose deadline was `days` after the interview come back
    `days + RESEND_AFTER_DEADLINE_DAYS` nights after their first night (regenerated from that night)."""
    resent = []
    for days in DEADLINE_DAYS:
        night = logical_date - timedelta(days=days + RESEND_AFTER_DEADLINE_DAYS)
        rng = random.Random(f"{SOURCE_ID}:{seed}:{night.isoformat()}")
        for dept, record in _new_records(rng, night, scale, seed, subjects, blacklisted):
            deadline = record["rectification_deadline"]
            if record["outcome"] == "整改中" and deadline - record["held_date"] == timedelta(days=days):
                final = random.Random(f"{SOURCE_ID}:{seed}:{record['record_number']}:outcome")
                outcome = final.choices(("已整改", "逾期未整改"), weights=(75, 25))[0]
                resent.append((dept, {**record, "outcome": outcome}))
    return resent


def _new_records(rng: random.Random, logical_date: date, scale: int, seed: int, subjects: list[dp.Subject] | None,
                 blacklisted: list[dp.Subject] | None) -> list[tuple[InterviewDepartment, dict]]:
    """The records first sent on D (before defects)."""
    n = ROWS_PER_SCALE * scale
    if blacklisted is None:
        blacklisted = blacklist_subjects(logical_date, scale=scale, seed=seed)
    if subjects is None:
        subjects = dp._subjects(rng, logical_date, seed, n)
    chosen = rng.choices(DEPARTMENTS, weights=[d.weight for d in DEPARTMENTS], k=n)
    records: list[tuple[InterviewDepartment, dict]] = []
    sequence: dict[str, int] = {}
    for i, dept in enumerate(chosen):
        sequence[dept.code] = sequence.get(dept.code, 0) + 1
        kind = rng.choice(dept.kinds)
        subject = rng.choice(blacklisted) if blacklisted and rng.random() < BLACKLIST_SHARE \
            else subjects[i % len(subjects)]
        held = dp.working_days_before(logical_date, rng.randint(1, 10))
        deadline = held + timedelta(days=rng.choice(DEADLINE_DAYS)) if kind != TRAINING else None
        natural = subject.category == dp.CATEGORY_NATURAL_PERSON
        records.append((dept, {
            "record_number": f"{dept.abbreviation}〔{held.year}〕{logical_date:%m%d}{sequence[dept.code]:04d}号",
            "record_kind": kind,
            "held_date": held,
            "subject_name": subject.name,
            "subject_category": subject.category,
            "uscc": subject.uscc,
            "legal_representative": None if natural else subject.legal_representative,
            "id_type": "身份证" if natural else None,
            "id_number": subject.id_number,
            "matter": rng.choice(MATTERS[kind]),
            "rectification_deadline": deadline,
            "outcome": _outcome(rng, kind, deadline, logical_date),
            "authority_name": dept.name,
            "authority_uscc": dept.uscc,
            "source_department": dept.name,
            "source_department_uscc": dept.uscc,
            "remark": None,
        }))
    return records


def _inject_defects(rng: random.Random, records: list[tuple[InterviewDepartment, dict]], logical_date: date,
                    defect_share: float) -> dict[str, int]:
    """One defect on each of `defect_share` of the organisations' rows, kinds spread evenly; the counts."""
    counts = dict.fromkeys(DEFECT_KINDS, 0)
    n = len(records)
    organisations = [i for i, (_, r) in enumerate(records) if r["subject_category"] != dp.CATEGORY_NATURAL_PERSON]
    defect_rows = rng.sample(organisations, min(len(organisations), round(defect_share * n)))
    kinds = {i: DEFECT_KINDS[k % len(DEFECT_KINDS)] for k, i in enumerate(defect_rows)}
    clean = [i for i in range(n) if i not in kinds]
    copied: set[int] = set()
    for i in sorted(kinds):
        defect, (dept, record) = kinds[i], records[i]
        interview = record["record_kind"] in INTERVIEW_KINDS
        if defect == "bad_check_character":
            record["uscc"] = ids.wrong_check_character(rng, record["uscc"])
        elif defect == "missing_subject_name":
            record["subject_name"] = rng.choice([None, "", " ", "\u3000"])
        elif defect == "deadline_before_interview":
            if not interview:  # training has no deadline: make the row an interview first
                record["record_kind"] = REMINDER
                record["matter"] = MATTERS[REMINDER][0]
            record["rectification_deadline"] = record["held_date"] - timedelta(days=rng.randint(1, 20))
            record["outcome"] = rng.choice(("已整改", "逾期未整改"))
        elif defect == "unknown_record_kind":
            record["record_kind"] = rng.choice(UNKNOWN_KINDS)
        elif defect == "future_held_date":
            record["held_date"] = logical_date + timedelta(days=rng.randint(1, 20))
            if interview:
                record["rectification_deadline"] = record["held_date"] + timedelta(days=30)
                record["outcome"] = "整改中"
        elif defect == "outcome_of_other_kind":
            record["outcome"] = rng.choice(TRAINING_OUTCOMES if interview else INTERVIEW_OUTCOMES)
        else:  # duplicate_record_number: a clean record's number again, from the same department
            same = [j for j in clean if j not in copied and records[j][0] == dept]
            if not same:
                continue
            j = rng.choice(same)
            copied.add(j)
            record["record_number"] = records[j][1]["record_number"]
        counts[defect] += 1
    return counts


def headers() -> dict[str, str]:
    """Canonical field → the header a department writes (the catalog's)."""
    from credit_dw.catalog import get_source

    return dict(get_source(SOURCE_ID).fields)


def file_name(dept: InterviewDepartment, logical_date: date) -> str:
    return f"{dept.code}_{TAG}_{logical_date:%Y%m%d}.{'xlsx' if dept.file_format == 'xlsx' else 'csv'}"


def write_day(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
              inbox: Path | None = None, subjects: list[dp.Subject] | None = None,
              blacklisted: list[dp.Subject] | None = None) -> Delivery:
    """Write D's department files into the feed's inbox (see the module doc); returns what was written."""
    from credit_dw.catalog import get_source

    records, counts = generate_records(logical_date, scale=scale, seed=seed, defect_share=defect_share,
                                       subjects=subjects, blacklisted=blacklisted)
    inbox = inbox or settings.inbox_dir(SOURCE_ID, logical_date.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    fields = get_source(SOURCE_ID).canonical_fields
    names = headers()
    written: list[Path] = []
    for dept in DEPARTMENTS:
        for stale in inbox.glob(f"{dept.code}_{TAG}_{logical_date:%Y%m%d}*"):
            stale.unlink()
        mine = [r for d, r in records if d == dept]
        if not mine:
            continue
        path = inbox / file_name(dept, logical_date)
        write_atomically(path, table_bytes(
            dept.file_format, [names[f] for f in fields], [[r.get(f) for f in fields] for r in mine],
            stamp=datetime.combine(logical_date, time(18, 0)), creator=dept.name, sheet="约谈及培训记录"))
        written.append(path)
    resent = counts[RESENT_KIND]
    summary = SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(records) - resent, updated=resent)
    log.info("%s %s: %d records in %d files, defects %s", SOURCE_ID, logical_date, len(records), len(written),
             counts)
    return Delivery(summary, sorted(written), [r for _, r in records])


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): D's files into the feed's inbox."""
    return write_day(logical_date, scale=scale, seed=seed).summary

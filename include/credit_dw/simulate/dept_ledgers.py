"""Deterministic simulator of the departments' monthly decision ledgers (台账, feed `dept_ledgers`).

Each licensing / enforcing department keeps a ledger of every licence and penalty it decided; the
province compares it with what reached the platform to find omissions (漏报) [000 §2.2]. For a
logical date D that is the 3rd of a month, `write_ledgers` writes one file per department for the
previous month M into `settings.inbox_dir("dept_ledgers", D)`, named
`<department_code>_tz_<YYYYMM>.<csv|xlsx>`; on every other night it writes nothing (the feed lands
zero rows, which is normal).

What a ledger lists, consistent with the dual-publicity simulator (`dual_publicity`):
- every decision that simulator delivers with a decision date in M: the *clean* records of
  `dual_publicity.generate_records(kind, N, defect_share=0)` for every night N that can carry a
  decision of M (the first night after M begins to `MAX_REPORT_LAG` Monday-Friday days after its
  last working day). The draws before the defects are the same with or without them, so these
  are exactly the decisions in the department's files, before any defect damaged the row;
- decisions the department made but never reported (`omitted_decisions`, injected omissions):
  `OMISSION_SHARE` of the department's expected monthly volume per kind, numbered in a series of
  their own (`冀市监罚字〔2019〕01150003号`), which the dual-publicity simulator never uses. The
  dual-publicity simulator does not expose "decided but not reported" decisions, so they are
  derived here.

The files are the mix a ledger really comes in: GBK CSV, an XLSX with a title row above the header,
CSV with `*` required-markers, short kinds (许可 / 处罚) and a 序号 column, headers typed with
spaces; 台账月份 as `2019-01`, `2019年01月` or `201901`.

Defects on `defect_share` of the rows (`DEFECT_KINDS`, spread evenly), each caught by
expectations/dept_ledgers.json: a missing document number, an undeterminable kind, a decision date
before the ledger month, a document number listed twice (both rows held back) — critical; a bad
USCC check character — a warning only, because the decision itself is still known.

Determinism: every draw comes from a `random.Random` seeded by (seed, month, purpose); XLSX files
have fixed zip timestamps. A run deletes the ledger files of the month it may have written before,
then writes them again (temporary name, then rename): reruns give byte-identical files.

Consistency caveat: the dual-publicity simulator draws its subjects and its decisions from one
random stream, so its decisions of a night N > D are reproduced here exactly when the market
registry then offers either no subjects or at least a night's worth (always true after its first
simulated night); the subject *names* of those decisions can differ when the registry grows
between D and N. Matching is by department, kind and document number, which stay equal.
"""

from __future__ import annotations

import calendar
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import credit_dw.simulate.dual_publicity as dp
import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.simulate.common import SimulationSummary, check_run
from credit_dw.simulate.files import table_bytes

log = logging.getLogger(__name__)

SOURCE_ID = "dept_ledgers"
#: The ledger of month M is delivered on the 3rd of M + 1.
LEDGER_DAY = 3
#: Longest delay (Monday-Friday days) between a decision and the night the dual-publicity
#: simulator delivers it (its `_lag` draws 1..12).
MAX_REPORT_LAG = 12
#: Decisions never reported, as a share of a department's expected monthly volume per kind.
OMISSION_SHARE = 0.02
KIND_NAMES = {dp.LICENCE: "行政许可", dp.PENALTY: "行政处罚"}
SHORT_KIND_NAMES = {dp.LICENCE: "许可", dp.PENALTY: "处罚"}
#: Document-number series of decisions that never reach the platform (distinct from the
#: dual-publicity simulator's 冀市监许〔…〕 / 冀市监罚〔…〕).
OMITTED_SERIES = {dp.LICENCE: "许字", dp.PENALTY: "罚字"}

DEFECT_KINDS = ("missing_document_number", "unknown_kind", "date_outside_month", "duplicate_document_number",
                "bad_check_character")
#: Defects that hold the row back (the gate's critical checks); the others only flag it.
CRITICAL_DEFECTS = frozenset(DEFECT_KINDS) - {"bad_check_character"}


@dataclass(frozen=True)
class FileStyle:
    file_format: str  # csv_gbk | csv_utf8 | csv_utf8_bom | xlsx
    headers: str  # template | titled | starred | spaced
    month_format: str = "%Y-%m"
    short_kinds: bool = False
    serial_column: bool = False


#: How each department's ledger looks (department code -> style); others get the default.
STYLES = {
    "hbsamr": FileStyle("csv_gbk", "template"),
    "hbsthjt": FileStyle("xlsx", "titled"),
    "hbzjt": FileStyle("csv_utf8_bom", "starred"),
    "hbjtt": FileStyle("csv_utf8", "template", month_format="%Y年%m月", short_kinds=True, serial_column=True),
    "hbyjglt": FileStyle("xlsx", "spaced"),
    "sjzsamr": FileStyle("csv_gbk", "template", month_format="%Y%m"),
}
DEFAULT_STYLE = FileStyle("csv_utf8", "template")


@dataclass(frozen=True)
class Decision:
    """A licence or penalty a department decided, and what became of it (the ground truth)."""

    source_id: str  # admin_licence | admin_penalty
    department: dp.Department
    document_number: str
    decision_date: date
    subject_name: str
    subject_category: str
    uscc: str | None
    summary: str | None
    #: The night the dual-publicity simulator delivers it; None: never (an injected omission).
    reported_on: date | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source_id, self.department.name, self.document_number)


@dataclass(frozen=True)
class LedgerRow:
    """A written ledger row: its decision, the values as written, and its defect (if any)."""

    decision: Decision
    values: dict
    file_name: str
    defect: str | None = None

    @property
    def is_accepted(self) -> bool:
        """Whether the gate lets the row through (no critical defect, and not a duplicate's original)."""
        return self.defect not in CRITICAL_DEFECTS and self.defect != "duplicated"


@dataclass
class LedgerNight:
    summary: SimulationSummary
    month: tuple[int, int] | None
    files: list[Path] = field(default_factory=list)
    rows: list[LedgerRow] = field(default_factory=list)


# --- calendar helpers (Monday-Friday, as the dual-publicity simulator counts) -----------------

def working_days_after(day: date, n: int) -> date:
    """The date n Monday-Friday days after `day` (the inverse of dual_publicity.working_days_before)."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def ledger_month(night: date) -> tuple[int, int] | None:
    """The month whose ledger is delivered on `night` (the 3rd of the next month), else None."""
    if night.day != LEDGER_DAY:
        return None
    previous = night.replace(day=1) - timedelta(days=1)
    return previous.year, previous.month


def report_nights(year: int, month: int) -> list[date]:
    """Every night on which the dual-publicity simulator can deliver a decision dated in the month."""
    first, last = month_bounds(year, month)
    last_weekday = last if last.weekday() < 5 else dp.working_days_before(last, 1)
    end = working_days_after(last_weekday, MAX_REPORT_LAG)
    return [first + timedelta(days=k) for k in range(1, (end - first).days + 1)]


# --- the decisions ---------------------------------------------------------------------------

def _summary(source_id: str, record: dict) -> str | None:
    if source_id == dp.LICENCE:
        return record.get("licence_certificate_name")
    return record.get("penalty_category")


def reported_decisions(year: int, month: int, *, scale: int = 1, seed: int = 20261122) -> list[Decision]:
    """The month's decisions the dual-publicity simulator delivers, with the night it delivers each."""
    first, last = month_bounds(year, month)
    decisions = []
    for source_id in (dp.LICENCE, dp.PENALTY):
        for night in report_nights(year, month):
            records, _ = dp.generate_records(source_id, night, scale=scale, seed=seed, defect_share=0.0)
            for dept, r in records:
                if first <= r["decision_date"] <= last:
                    decisions.append(Decision(
                        source_id, dept, r["decision_document_number"], r["decision_date"], r["subject_name"],
                        r["subject_category"], r["uscc"], _summary(source_id, r), night))
    return decisions


def _working_days_of(year: int, month: int) -> list[date]:
    first, last = month_bounds(year, month)
    return [first + timedelta(days=k) for k in range((last - first).days + 1)
            if (first + timedelta(days=k)).weekday() < 5]


def extra_subjects(rng: random.Random, day: date, seed: int, count: int, purpose: str) -> list[dp.Subject]:
    """Organisations for decisions the dual-publicity simulator never wrote: market-registry
    subjects (another sample than its own) when that database exists, else generated ones."""
    salt = int.from_bytes(purpose.encode()[:4].ljust(4, b"\0"), "big")
    subjects = dp.registry_subjects(day, seed ^ salt, count) if count else []
    divisions = ids.registration_divisions()
    weights = ids.division_weights(divisions)
    while len(subjects) < count:
        subjects.append(dp.generated_subject(rng, divisions, weights))
    return subjects


def omitted_decisions(year: int, month: int, *, scale: int = 1, seed: int = 20261122) -> list[Decision]:
    """Decisions of the month that departments made and never reported (injected omissions)."""
    days = _working_days_of(year, month)
    first, last = month_bounds(year, month)
    total_weight = sum(d.weight for d in dp.DEPARTMENTS)
    plan = []
    for source_id in (dp.LICENCE, dp.PENALTY):
        for dept in dp.DEPARTMENTS:
            expected = dp.ROWS_PER_SCALE[source_id] * scale * (last.day) * dept.weight / total_weight
            plan.append((source_id, dept, max(1, round(OMISSION_SHARE * expected))))
    rng = random.Random(f"{SOURCE_ID}:{seed}:{year:04d}-{month:02d}:omitted")
    subjects = extra_subjects(rng, last, seed, sum(n for *_, n in plan), "omitted")
    decisions = []
    for source_id, dept, count in plan:
        for k in range(1, count + 1):
            decided = rng.choice(days)
            subject = subjects.pop()
            summary = rng.choice(dept.licences) if source_id == dp.LICENCE else \
                rng.choices(*zip(*dp.PENALTY_CATEGORIES, strict=True))[0]
            number = f"{dept.abbreviation}{OMITTED_SERIES[source_id]}〔{decided.year}〕{decided:%m%d}{k:04d}号"
            decisions.append(Decision(source_id, dept, number, decided, subject.name, subject.category,
                                      subject.uscc, summary, None))
    return decisions


def month_decisions(year: int, month: int, *, scale: int = 1, seed: int = 20261122) -> list[Decision]:
    """Everything the departments decided in the month: reported ones and injected omissions."""
    return reported_decisions(year, month, scale=scale, seed=seed) + \
        omitted_decisions(year, month, scale=scale, seed=seed)


def damaged_report_numbers(source_id: str, night: date, *, scale: int = 1, seed: int = 20261122,
                           defect_share: float = 0.05) -> set[str]:
    """Ground truth for tests: document numbers (clean) of the night's dual-publicity decisions whose
    delivered row the gate holds back — the row carries a defect, or its number was copied into
    another row (both are held back as duplicates). Those decisions did not reach the platform."""
    clean, _ = dp.generate_records(source_id, night, scale=scale, seed=seed, defect_share=0.0)
    delivered, _ = dp.generate_records(source_id, night, scale=scale, seed=seed, defect_share=defect_share)
    damaged = {c["decision_document_number"] for (_, c), (_, d) in zip(clean, delivered, strict=True) if c != d}
    copied = {d["decision_document_number"] for (_, c), (_, d) in zip(clean, delivered, strict=True)
              if c != d and d["decision_document_number"] != c["decision_document_number"]}
    return damaged | (copied & {c["decision_document_number"] for _, c in clean})


# --- rows and files --------------------------------------------------------------------------

def _row(decision: Decision, month: tuple[int, int], style: FileStyle) -> dict:
    kinds = SHORT_KIND_NAMES if style.short_kinds else KIND_NAMES
    dept = decision.department
    return {
        "ledger_month": date(*month, 1).strftime(style.month_format),
        "decision_kind": kinds[decision.source_id],
        "decision_document_number": decision.document_number,
        "decision_date": decision.decision_date,
        "subject_name": decision.subject_name,
        "subject_category": decision.subject_category,
        "uscc": decision.uscc,
        "decision_summary": decision.summary,
        "authority_name": dept.name,
        "authority_uscc": dept.uscc,
        "source_department": dept.name,
        "source_department_uscc": dept.uscc,
        "remark": None,
    }


def _inject_defects(rng: random.Random, rows: list[LedgerRow], month: tuple[int, int], share: float
                    ) -> tuple[list[LedgerRow], dict[str, int]]:
    counts = dict.fromkeys(DEFECT_KINDS, 0)
    candidates = [i for i, r in enumerate(rows) if r.decision.uscc and r.values["subject_category"] != "自然人"]
    chosen = rng.sample(candidates, min(len(candidates), round(share * len(rows))))
    kinds = {i: DEFECT_KINDS[k % len(DEFECT_KINDS)] for k, i in enumerate(chosen)}
    rows = list(rows)
    first, last = month_bounds(*month)
    copied: set[int] = set()
    for i in sorted(kinds):
        defect, row = kinds[i], rows[i]
        values = dict(row.values)
        if defect == "missing_document_number":
            values["decision_document_number"] = rng.choice([None, " ", "\u3000"])
        elif defect == "unknown_kind":
            values["decision_kind"] = rng.choice([None, "许可/处罚", "未分类"])
        elif defect == "date_outside_month":
            # The month before (a date after the month could also be after the delivery night).
            values["decision_date"] = first - timedelta(days=rng.randint(1, 20))
        elif defect == "bad_check_character":
            values["uscc"] = ids.wrong_check_character(rng, values["uscc"])
        else:  # duplicate_document_number: another clean row's number, same department and kind
            same = [j for j, other in enumerate(rows) if j not in kinds and j not in copied
                    and other.decision.department == row.decision.department
                    and other.decision.source_id == row.decision.source_id]
            if not same:
                continue
            j = rng.choice(same)
            copied.add(j)
            values["decision_document_number"] = rows[j].values["decision_document_number"]
            rows[j] = LedgerRow(rows[j].decision, rows[j].values, rows[j].file_name, "duplicated")
        rows[i] = LedgerRow(row.decision, values, row.file_name, defect)
        counts[defect] += 1
    return rows, counts


def _header(spec_fields: dict[str, str], required: Sequence[str], style: FileStyle) -> dict[str, str]:
    if style.headers == "starred":
        return {k: f"*{v}" if k in required else v for k, v in spec_fields.items()}
    if style.headers == "spaced":
        return {k: " ".join(v) if len(v) <= 4 else v for k, v in spec_fields.items()}
    return dict(spec_fields)


def file_name(dept: dp.Department, month: tuple[int, int]) -> str:
    ext = "xlsx" if STYLES.get(dept.code, DEFAULT_STYLE).file_format == "xlsx" else "csv"
    return f"{dept.code}_tz_{month[0]:04d}{month[1]:02d}.{ext}"


def write_ledgers(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
                  inbox: Path | None = None) -> LedgerNight:
    """Write the ledgers delivered on `logical_date` (see the module doc); returns what was written."""
    check_run(scale, defect_share)
    month = ledger_month(logical_date)
    if month is None:
        return LedgerNight(SimulationSummary(SOURCE_ID, logical_date, 0, dict.fromkeys(DEFECT_KINDS, 0)), None)
    from credit_dw.catalog import get_source
    from credit_dw.connectors.files.headers import required_columns

    spec = get_source(SOURCE_ID)
    inbox = inbox or settings.inbox_dir(SOURCE_ID, logical_date.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    for dept in dp.DEPARTMENTS:
        for stale in inbox.glob(f"{dept.code}_tz_{month[0]:04d}{month[1]:02d}.*"):
            stale.unlink()

    decisions = month_decisions(*month, scale=scale, seed=seed)
    rows: list[LedgerRow] = []
    for dept in dp.DEPARTMENTS:
        style = STYLES.get(dept.code, DEFAULT_STYLE)
        mine = sorted((d for d in decisions if d.department == dept),
                      key=lambda d: (d.source_id, d.decision_date, d.document_number))
        rows += [LedgerRow(d, _row(d, month, style), file_name(dept, month)) for d in mine]
    rng = random.Random(f"{SOURCE_ID}:{seed}:{month[0]:04d}-{month[1]:02d}:defects")
    rows, counts = _inject_defects(rng, rows, month, defect_share)

    files = []
    fields = spec.canonical_fields
    stamp = datetime.combine(logical_date, time(9, 0))
    for dept in dp.DEPARTMENTS:
        mine = [r for r in rows if r.decision.department == dept]
        if not mine:
            continue
        style = STYLES.get(dept.code, DEFAULT_STYLE)
        names = _header(spec.fields, required_columns(spec), style)
        header = (["序号"] if style.serial_column else []) + [names[f] for f in fields]
        table = [([k] if style.serial_column else []) + [r.values.get(f) for f in fields]
                 for k, r in enumerate(mine, 1)]
        title = f"{dept.name}{month[0]}年{month[1]}月行政许可和行政处罚决定台账" if style.headers == "titled" else None
        path = inbox / file_name(dept, month)
        write_atomically(path, table_bytes(style.file_format, header, table, stamp=stamp, creator=dept.name,
                                           sheet="台账", title=title))
        files.append(path)
    summary = SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(rows))
    log.info("%s %s: ledgers of %04d-%02d, %d rows in %d files, defects %s", SOURCE_ID, logical_date,
             *month, len(rows), len(files), counts)
    return LedgerNight(summary, month, sorted(files), rows)


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): the night's ledgers into the inbox."""
    return write_ledgers(logical_date, scale=scale, seed=seed).summary

"""Deterministic simulator of the national platform's push-down (国家推送, feed `national_pushdown`).

The national platform (全国信用信息共享平台) pushes the province the licences and penalties about
Hebei subjects that reached it by any route [000 §2.3]. For a logical date P, `write_pushdown`
writes one UTF-8 CSV, `gjts_<YYYYMMDD>.csv`, into `settings.inbox_dir("national_pushdown", P)`:

- repeats (`reported`): `REPEAT_SHARE` of the decisions the dual-publicity simulator delivers on a
  night N come back 1-3 nights later (`REPEAT_LAGS`), the same department, kind and document number
  (the clean record, as the department sent it nationally); a decision comes back at most once,
  on a night chosen by a hash of its number;
- omitted decisions (`omitted`): `OMITTED_PUSH_SHARE` of the decisions a department never reported
  to the province (`dept_ledgers.omitted_decisions`, in its ledger) reach the national platform and
  come down 3-20 days after the decision; in the ledger, so they stay omissions (漏报), not
  concealment;
- concealed decisions (`concealed`): `CONCEALED_PER_SCALE * scale` a night, decided 3-15
  Monday-Friday days before P, in a document-number series of their own (`冀市监简罚〔…〕`) that
  neither the dual-publicity files nor the ledgers ever carry: concealment (瞒报) [000 §2.2].

National repair results (信息状态 / 状态变更日期) [000 §2.12]: `REPAIRED_SHARE` of the repeated
penalties come down as repaired nationally (已修复, changed the day before the night), chosen by a
hash of the number. A real repair comes months after the decision; riding on the repeats keeps
the results on decisions the province holds without adding rows the quality models would count,
and the warehouse applies a result whatever its delay. Every other row is 正常 (empty).

`BRACKET_SHARE` of the numbers come with half-width brackets (`[2019]`), as national exports
write them: the same number to the warehouse, which matches numbers bracket-insensitively.

Defects on `defect_share` of the rows (organisations only; `DEFECT_KINDS`, spread evenly), each
caught by expectations/national_pushdown.json: a missing document number, an unknown information
kind and a decision date after the night are critical; a bad USCC check character is a warning
(the decision is still evidence of what was decided).

Determinism: draws come from `random.Random`s seeded by (seed, P, purpose) or by the decision's
number; rerunning P rewrites the same bytes (temporary name, then rename).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import credit_dw.simulate.dept_ledgers as ledgers
import credit_dw.simulate.dual_publicity as dp
import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.simulate.common import SimulationSummary, check_run
from credit_dw.simulate.dept_ledgers import Decision
from credit_dw.simulate.files import table_bytes

log = logging.getLogger(__name__)

SOURCE_ID = "national_pushdown"
FILE_PREFIX = "gjts"
REPEAT_SHARE = 0.25
REPEAT_LAGS = (1, 2, 3)
OMITTED_PUSH_SHARE = 0.5
OMITTED_PUSH_DAYS = (3, 20)
CONCEALED_PER_SCALE = 6
CONCEALED_LAG = (3, 15)
BRACKET_SHARE = 0.2
REPAIRED_SHARE = 0.05
#: Document-number series of decisions only the national platform knows of.
CONCEALED_SERIES = {dp.LICENCE: "许决", dp.PENALTY: "简罚"}
ORIGINS = ("reported", "omitted", "concealed")

DEFECT_KINDS = ("missing_document_number", "unknown_kind", "future_decision", "bad_check_character")
CRITICAL_DEFECTS = frozenset(DEFECT_KINDS) - {"bad_check_character"}


@dataclass(frozen=True)
class PushedRow:
    """A written push-down row: its decision, where it comes from, the values, its defect."""

    decision: Decision
    origin: str  # reported | omitted | concealed
    values: dict
    defect: str | None = None

    @property
    def is_accepted(self) -> bool:
        return self.defect not in CRITICAL_DEFECTS


@dataclass
class PushdownNight:
    summary: SimulationSummary
    files: list[Path] = field(default_factory=list)
    rows: list[PushedRow] = field(default_factory=list)


def _decision_rng(seed: int, decision: Decision) -> random.Random:
    return random.Random(f"{SOURCE_ID}:{seed}:{decision.source_id}:{decision.document_number}")


def repeated_decisions(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> list[Decision]:
    """Decisions the dual-publicity simulator delivered 1-3 nights before that come down tonight."""
    out = []
    for lag in REPEAT_LAGS:
        night = logical_date - timedelta(days=lag)
        for source_id in (dp.LICENCE, dp.PENALTY):
            records, _ = dp.generate_records(source_id, night, scale=scale, seed=seed, defect_share=0.0)
            for dept, r in records:
                decision = Decision(source_id, dept, r["decision_document_number"], r["decision_date"],
                                    r["subject_name"], r["subject_category"], r["uscc"],
                                    r.get("licence_content") or r.get("penalty_content"), night)
                rng = _decision_rng(seed, decision)
                if rng.random() < REPEAT_SHARE and rng.choice(REPEAT_LAGS) == lag:
                    out.append(decision)
    return out


def pushed_omissions(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> list[Decision]:
    """Injected omissions (never reported to the province) that the national platform pushes tonight."""
    earliest, latest = (logical_date - timedelta(days=OMITTED_PUSH_DAYS[1]),
                        logical_date - timedelta(days=OMITTED_PUSH_DAYS[0]))
    months = sorted({(earliest.year, earliest.month), (latest.year, latest.month)})
    out = []
    for year, month in months:
        for decision in ledgers.omitted_decisions(year, month, scale=scale, seed=seed):
            rng = _decision_rng(seed, decision)
            if rng.random() < OMITTED_PUSH_SHARE and \
                    decision.decision_date + timedelta(days=rng.randint(*OMITTED_PUSH_DAYS)) == logical_date:
                out.append(decision)
    return out


def concealed_decisions(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> list[Decision]:
    """Decisions in neither the departments' reports nor their ledgers (瞒报), pushed tonight."""
    rng = random.Random(f"{SOURCE_ID}:{seed}:{logical_date.isoformat()}:concealed")
    count = CONCEALED_PER_SCALE * scale
    subjects = ledgers.extra_subjects(rng, logical_date, seed, count, "concealed")
    weights = [d.weight for d in dp.DEPARTMENTS]
    out = []
    sequence: dict[tuple[str, str], int] = {}
    for subject in subjects:
        dept = rng.choices(dp.DEPARTMENTS, weights=weights)[0]
        source_id = rng.choices((dp.LICENCE, dp.PENALTY), weights=(1, 2))[0]
        decided = dp.working_days_before(logical_date, rng.randint(*CONCEALED_LAG))
        k = sequence[(dept.code, source_id)] = sequence.get((dept.code, source_id), 0) + 1
        number = f"{dept.abbreviation}{CONCEALED_SERIES[source_id]}〔{decided.year}〕{logical_date:%m%d}{k:04d}号"
        summary = f"准予取得{rng.choice(dept.licences)}" if source_id == dp.LICENCE else \
            f"{rng.choice(dept.violations)[0]}，罚款人民币{rng.choice(dp.FINES_10K_YUAN) * 10000:,.0f}元"
        out.append(Decision(source_id, dept, number, decided, subject.name, subject.category, subject.uscc,
                            summary, None))
    return out


def _is_repaired(seed: int, decision: Decision) -> bool:
    """Whether the national platform reports this repeated penalty repaired (a stable choice)."""
    return random.Random(f"{SOURCE_ID}:{seed}:{decision.document_number}:repaired").random() < REPAIRED_SHARE


def _values(decision: Decision, rng: random.Random, logical_date: date, push_batch: str) -> dict:
    number = decision.document_number
    if rng.random() < BRACKET_SHARE:
        number = number.replace("〔", "[").replace("〕", "]")
    dept = decision.department
    return {
        "push_batch_number": push_batch,
        "decision_kind": ledgers.KIND_NAMES[decision.source_id],
        "decision_document_number": number,
        "decision_date": decision.decision_date,
        "subject_name": decision.subject_name,
        "subject_category": decision.subject_category,
        "uscc": decision.uscc,
        "decision_content": decision.summary,
        "authority_name": dept.name,
        "authority_uscc": dept.uscc,
        "source_department": dept.name,
        "source_department_uscc": dept.uscc,
        "pushed_at": datetime.combine(logical_date, time(2, rng.randint(0, 59), rng.randint(0, 59))
                                      ).strftime("%Y-%m-%d %H:%M:%S"),
    }


def _inject_defects(rng: random.Random, rows: list[PushedRow], logical_date: date, share: float
                    ) -> tuple[list[PushedRow], dict[str, int]]:
    counts = dict.fromkeys(DEFECT_KINDS, 0)
    candidates = [i for i, r in enumerate(rows) if r.decision.uscc]
    chosen = rng.sample(candidates, min(len(candidates), round(share * len(rows))))
    rows = list(rows)
    first = rng.randrange(len(DEFECT_KINDS))  # a few defects a night: every kind over the nights
    for k, i in enumerate(sorted(chosen)):
        defect = DEFECT_KINDS[(first + k) % len(DEFECT_KINDS)]
        values = dict(rows[i].values)
        if defect == "missing_document_number":
            values["decision_document_number"] = rng.choice([None, " "])
        elif defect == "unknown_kind":
            values["decision_kind"] = rng.choice([None, "行政强制", "其他"])
        elif defect == "future_decision":
            values["decision_date"] = logical_date + timedelta(days=rng.randint(1, 30))
        else:
            values["uscc"] = ids.wrong_check_character(rng, values["uscc"])
        rows[i] = PushedRow(rows[i].decision, rows[i].origin, values, defect)
        counts[defect] += 1
    return rows, counts


def file_name(logical_date: date) -> str:
    return f"{FILE_PREFIX}_{logical_date:%Y%m%d}.csv"


def write_pushdown(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
                   inbox: Path | None = None) -> PushdownNight:
    """Write the night's push-down file (see the module doc); returns what was written."""
    check_run(scale, defect_share)
    from credit_dw.catalog import get_source

    spec = get_source(SOURCE_ID)
    decisions = [("reported", d) for d in repeated_decisions(logical_date, scale=scale, seed=seed)]
    decisions += [("omitted", d) for d in pushed_omissions(logical_date, scale=scale, seed=seed)]
    decisions += [("concealed", d) for d in concealed_decisions(logical_date, scale=scale, seed=seed)]
    decisions.sort(key=lambda od: (od[1].source_id, od[1].department.code, od[1].document_number))
    rng = random.Random(f"{SOURCE_ID}:{seed}:{logical_date.isoformat()}:rows")
    push_batch = f"GJTS-130000-{logical_date:%Y%m%d}-01"
    rows = [PushedRow(d, origin, _values(d, rng, logical_date, push_batch)) for origin, d in decisions]
    for row in rows:
        if row.origin == "reported" and row.decision.source_id == dp.PENALTY and _is_repaired(seed, row.decision):
            row.values["record_status"] = "已修复"
            row.values["status_changed_on"] = logical_date - timedelta(days=1)
    rows, counts = _inject_defects(rng, rows, logical_date, defect_share)

    inbox = inbox or settings.inbox_dir(SOURCE_ID, logical_date.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / file_name(logical_date)
    fields = spec.canonical_fields
    data = table_bytes("csv_utf8", [spec.fields[f] for f in fields],
                               [[r.values.get(f) for f in fields] for r in rows],
                               stamp=datetime.combine(logical_date, time(2, 0)), creator="全国信用信息共享平台",
                               sheet="推送")
    write_atomically(path, data)
    summary = SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(rows))
    log.info("%s %s: %d rows (%s), defects %s", SOURCE_ID, logical_date, len(rows),
             {o: sum(r.origin == o for r in rows) for o in ORIGINS}, counts)
    return PushdownNight(summary, [path], rows)


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): the night's push-down file."""
    return write_pushdown(logical_date, scale=scale, seed=seed).summary

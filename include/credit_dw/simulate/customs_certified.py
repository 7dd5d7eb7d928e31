"""Deterministic simulator of 石家庄海关's list of advanced-certified enterprises (海关高级认证企业).

Customs reports its advanced-certified enterprises (AEO 高级认证) to the province platform, whose
count and share of local enterprises the assessors follow [000 §2.7; rules §8]. 石家庄海关 is a
vertical department without a system connection: now and then (here: on the 1st and the 15th of
a month) it sends an XLSX workbook (`sjzhg_gjrz_<YYYYMMDD>.xlsx`, dates as Excel dates) into the
feed's inbox, `settings.inbox_dir("customs_certified", D)`, listing the decisions since its
previous delivery:
- new certifications: `NEW_PER_SCALE * scale` enterprises, certified on a day after the previous
  delivery, status 有效;
- revocations: about `REVOKE_SHARE` of the enterprises certified `REVOKE_LAG` deliveries earlier
  (about half a year), listed again with status 撤销 and a revocation date after the previous
  delivery.

Enterprises (not individual businesses) come from the market registry when its source database
exists (`dual_publicity.registry_subjects`, drawn with a seed of their own so they are not the
day's penalised ones), else they are generated; an enterprise keeps its 海关编码 (10 characters:
the 4-digit city of registration, economic-zone type, economic type, 4-digit sequence).
Defects on `defect_share` of the rows, one each, kinds spread evenly (`DEFECT_KINDS`). On other
days nothing is written.

Determinism: draws come from `random.Random`s seeded by (seed, D), or by the code for what stays
with an enterprise; the workbook has fixed zip timestamps and document dates; a run deletes its
file of D and writes it again, so rerunning D gives the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.simulate.common import SimulationSummary, check_run
from credit_dw.simulate.files import Delivery, xlsx_bytes

log = logging.getLogger(__name__)

SOURCE_ID = "customs_certified"
DEPARTMENT_CODE = "sjzhg"
DELIVERY_DAYS = (1, 15)
NEW_PER_SCALE = 12
REVOKE_SHARE = 0.1
REVOKE_LAG = 12  # deliveries, about six months
#: The registry sample is drawn with seed + this, so the certified enterprises are not the
#: sample the dual-publicity simulators draw on the same day.
SAMPLE_SEED_OFFSET = 7919

ADVANCED = "高级认证"
IN_FORCE = "有效"
REVOKED = "撤销"
HEADERS = {
    "enterprise_name": "企业名称",
    "uscc": "统一社会信用代码",
    "customs_code": "海关编码",
    "certification_type": "认证类型",
    "certified_on": "认证日期",
    "certification_status": "状态",
    "revoked_on": "撤销日期",
}
DEFECT_KINDS = ("bad_check_character", "bad_customs_code", "revoked_without_date",
                "revocation_before_certification", "not_advanced_certification")


def is_delivery_day(day: date) -> bool:
    return day.day in DELIVERY_DAYS


def previous_delivery(day: date) -> date:
    """The delivery before D (D need not be a delivery day: the last one before it)."""
    if day.day > 15:
        return day.replace(day=15)
    if day.day > 1:
        return day.replace(day=1)
    return (day - timedelta(days=1)).replace(day=15)


def customs_code(uscc: str) -> str:
    """The enterprise's 海关编码, stable per enterprise."""
    rng = random.Random(f"customs_code:{uscc}")
    return (uscc[2:6] + rng.choice("9999923") + rng.choice("6666663341") + f"{rng.randint(1, 9999):04d}")


def _hash_share(*parts: object) -> float:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12], 16) / 16**12


def new_certifications(day: date, *, scale: int = 1, seed: int = 20261122) -> list[dict]:
    """The enterprises certified since the delivery before D (clean records, no defects)."""
    from credit_dw.simulate.dual_publicity import CATEGORY_ORGANISATION, generated_subject, registry_subjects

    rng = random.Random(f"{SOURCE_ID}:{seed}:{day.isoformat()}:new")
    n = NEW_PER_SCALE * scale
    subjects = [s for s in registry_subjects(day, seed + SAMPLE_SEED_OFFSET, n * 3)
                if s.category == CATEGORY_ORGANISATION and s.uscc[1] == "1"][:n]
    divisions = ids.registration_divisions()
    weights = ids.division_weights(divisions)
    while len(subjects) < n:
        subject = generated_subject(rng, divisions, weights)
        if subject.category == CATEGORY_ORGANISATION:
            subjects.append(subject)
    since = previous_delivery(day)
    return [{
        "enterprise_name": s.name,
        "uscc": s.uscc,
        "customs_code": customs_code(s.uscc),
        "certification_type": ADVANCED,
        "certified_on": since + timedelta(days=rng.randint(1, (day - since).days)),
        "certification_status": IN_FORCE,
        "revoked_on": None,
    } for s in subjects]


def revocations(day: date, *, scale: int = 1, seed: int = 20261122) -> list[dict]:
    """Enterprises certified REVOKE_LAG deliveries before D whose certification is revoked now."""
    earlier = day
    for _ in range(REVOKE_LAG):
        earlier = previous_delivery(earlier)
    since = previous_delivery(day)
    out = []
    for record in new_certifications(earlier, scale=scale, seed=seed):
        if _hash_share("revoked", seed, record["uscc"], earlier) >= REVOKE_SHARE:
            continue
        offset = 1 + int(_hash_share("revoked_on", seed, record["uscc"]) * (day - since).days)
        out.append({**record, "certification_status": REVOKED, "revoked_on": since + timedelta(days=offset)})
    return out


def _inject(rng: random.Random, kind: str, record: dict) -> None:
    if kind == "bad_check_character":
        record["uscc"] = ids.wrong_check_character(rng, record["uscc"])
    elif kind == "bad_customs_code":
        code = record["customs_code"]
        record["customs_code"] = rng.choice([code[:9], code + "1", code[:4] + "-" + code[4:], None])
    elif kind == "revoked_without_date":
        record["certification_status"], record["revoked_on"] = REVOKED, None
    elif kind == "revocation_before_certification":
        record["certification_status"] = REVOKED
        record["revoked_on"] = record["certified_on"] - timedelta(days=rng.randint(1, 365))
    elif kind == "not_advanced_certification":
        record["certification_type"] = rng.choice(["一般认证", "高级"])
    else:
        raise ValueError(f"unknown defect kind {kind!r}")


def generate_records(logical_date: date, *, scale: int = 1, seed: int = 20261122,
                     defect_share: float = 0.05) -> tuple[list[dict], dict[str, int]]:
    """The records of D's delivery and the defect counts (D need not be a delivery day here)."""
    check_run(scale, defect_share)
    revoked = revocations(logical_date, scale=scale, seed=seed)
    taken = {r["uscc"] for r in revoked}
    records = [r for r in new_certifications(logical_date, scale=scale, seed=seed) if r["uscc"] not in taken]
    records += revoked
    rng = random.Random(f"{SOURCE_ID}:{seed}:{logical_date.isoformat()}:defects")
    counts = dict.fromkeys(DEFECT_KINDS, 0)
    rows = rng.sample(range(len(records)), min(len(records), round(defect_share * len(records))))
    for k, i in enumerate(rows):
        kind = DEFECT_KINDS[k % len(DEFECT_KINDS)]
        _inject(rng, kind, records[i])
        counts[kind] += 1
    return records, counts


# --- the workbook -----------------------------------------------------------------------------

def workbook_bytes(records: list[dict], logical_date: date) -> bytes:
    from credit_dw.simulate.utilities import departments

    return xlsx_bytes(list(HEADERS.values()), ([record[f] for f in HEADERS] for record in records),
                      stamp=datetime.combine(logical_date, time(17, 0)),
                      creator=departments()[DEPARTMENT_CODE]["department_name"], sheet="高级认证企业名单")


def file_name(logical_date: date) -> str:
    return f"{DEPARTMENT_CODE}_gjrz_{logical_date:%Y%m%d}.xlsx"


def write_delivery(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
                   inbox: Path | None = None) -> Delivery:
    """Write D's workbook into the feed's inbox (whatever day D is); see the module doc."""
    records, counts = generate_records(logical_date, scale=scale, seed=seed, defect_share=defect_share)
    inbox = inbox or settings.inbox_dir(SOURCE_ID, logical_date.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / file_name(logical_date)
    write_atomically(path, workbook_bytes(records, logical_date))
    summary = SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(records))
    log.info("%s %s: %d decisions, defects %s", SOURCE_ID, logical_date, len(records), counts)
    return Delivery(summary, [path], records)


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): on the 1st and 15th, the workbook."""
    if not is_delivery_day(logical_date):
        return SimulationSummary.of(SOURCE_ID, logical_date, dict.fromkeys(DEFECT_KINDS, 0), inserted=0)
    return write_delivery(logical_date, scale=scale, seed=seed).summary

"""Deterministic simulator of the utilities' monthly bill files (水电气: water, power, gas).

Water, power and gas companies report every account's monthly bill and arrears [000 §2.3, §2.5;
rules §4]: one CSV per company and billing month, delivered on the 5th of the next month into
the feed's inbox, `settings.inbox_dir(source_id, D)`, named
`<department_code>_<water|power|gas>_<YYYYMM>.csv` (company codes and names from
`seeds/departments.csv`). For a logical date D that is not the 5th nothing is written.

| feed | company | file |
|---|---|---|
| utility_water | 石家庄供水有限公司 (sjzgs) | GBK, CRLF, a title row above the header |
| | 唐山市自来水有限公司 (tszls) | UTF-8 with BOM, required headers marked `*` |
| | 邯郸市自来水有限公司 (hdzls) | UTF-8 |
| utility_power | 国网河北省电力有限公司石家庄供电分公司 (sjzgd) | UTF-8, an extra column 抄表段 |
| | 国网河北省电力有限公司保定供电分公司 (bdgd) | GBK |
| | 国网冀北电力有限公司唐山供电公司 (tsgd) | UTF-8 with BOM |
| utility_gas | 廊坊新奥燃气有限公司 (lfxarq) | GBK, required headers marked `*` |
| | 石家庄新奥燃气有限公司 (sjzxarq) | UTF-8 |
| | 沧州中燃燃气实业有限公司 (czzrrq) | GBK, CRLF |

Rows: `accounts * scale` per company and month. Organisations (用户类型 单位, with their USCC) are
enterprises and individual businesses of the market registry when its source database exists
(`dual_publicity.registry_subjects`, the same sample the dual-publicity feeds draw on D, so one
enterprise has water, power and gas accounts), else generated. Natural persons (个人, with a valid
resident ID) are a fixed pool per company (the same people, accounts and authorisations every
month); `AUTHORISED_SHARE` of them authorised the use of their data (是否授权 Y), the others not
(N): their rows are delivered, but may not be used [rules §4].

Bills are consistent: paid in full (欠费 0), prepaid (实缴 > 应缴, 欠费 0) or in arrears (实缴 <
应缴, 欠费 > 0 for 1-6 months). Defects on `defect_share` of the rows, one each, kinds spread
evenly (`DEFECT_KINDS`; the USCC one on organisations only).

Determinism: draws come from `random.Random`s seeded by (feed, seed, D) and, for the person pool,
(feed, company, seed, person); a run deletes its companies' files of D and writes them again
(hidden temporary name, then rename): rerunning D gives byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.config.files import write_atomically
from credit_dw.simulate.common import SimulationSummary, check_run
from credit_dw.simulate.files import Delivery, csv_bytes

log = logging.getLogger(__name__)

TAGS = {"utility_water": "water", "utility_power": "power", "utility_gas": "gas"}
DELIVERY_DAY = 5
AUTHORISED_SHARE = 0.7

DEFECT_KINDS = ("bad_check_character", "negative_amount", "paid_exceeds_due_with_arrears",
                "missing_account", "bad_billing_period")

TYPE_ORGANISATION = "单位"
TYPE_PERSON = "个人"


@dataclass(frozen=True)
class Company:
    """How one company delivers; its name and city come from `seeds/departments.csv`."""

    code: str
    encoding: str  # gbk | utf-8 | utf-8-sig
    accounts: int  # accounts billed a month at scale 1
    organisation_share: float
    person_amounts: tuple[float, float]  # range of a person's monthly bill, yuan
    organisation_amounts: tuple[float, float]
    marked_headers: bool = False  # '*' before required headers, as an Excel template exports them
    title_row: bool = False
    extra_column: str | None = None

    @property
    def name(self) -> str:
        return departments()[self.code]["department_name"]

    @property
    def city_code(self) -> str:
        return departments()[self.code]["city_code"]


COMPANIES: dict[str, tuple[Company, ...]] = {
    "utility_water": (
        Company("sjzgs", "gbk", 40, 0.25, (15, 120), (200, 20_000), title_row=True),
        Company("tszls", "utf-8-sig", 40, 0.25, (15, 120), (200, 20_000), marked_headers=True),
        Company("hdzls", "utf-8", 40, 0.25, (15, 120), (200, 20_000)),
    ),
    "utility_power": (
        Company("sjzgd", "utf-8", 50, 0.3, (40, 450), (1_000, 200_000), extra_column="抄表段"),
        Company("bdgd", "gbk", 50, 0.3, (40, 450), (1_000, 200_000)),
        Company("tsgd", "utf-8-sig", 50, 0.3, (40, 450), (1_000, 200_000)),
    ),
    "utility_gas": (
        Company("lfxarq", "gbk", 40, 0.2, (20, 300), (500, 50_000), marked_headers=True),
        Company("sjzxarq", "utf-8", 40, 0.2, (20, 300), (500, 50_000)),
        Company("czzrrq", "gbk", 40, 0.2, (20, 300), (500, 50_000)),
    ),
}


@cache
def departments() -> dict[str, dict[str, str]]:
    """`seeds/departments.csv` by department code."""
    with (settings.SEEDS_DIR / "departments.csv").open(encoding="utf-8", newline="") as fh:
        return {r["department_code"]: r for r in csv.DictReader(fh)}


def billing_period(logical_date: date) -> date:
    """The first day of the month billed in the delivery of D: the month before D's."""
    return (logical_date.replace(day=1) - timedelta(days=1)).replace(day=1)


def _money(value: float) -> str:
    return f"{value:.2f}"


def _digits(*parts: str, n: int = 10) -> str:
    """A stable n-digit number from a hash (account numbers)."""
    return f"{int(hashlib.sha256(':'.join(parts).encode()).hexdigest(), 16) % 10**n:0{n}d}"


# --- customers --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Customer:
    account_number: str
    name: str
    customer_type: str
    uscc: str | None = None
    id_number: str | None = None
    authorised: bool = False


def _persons(source_id: str, company: Company, seed: int, count: int) -> list[Customer]:
    """The company's residential customers: the same people, IDs, accounts and answers every month."""
    from credit_dw.simulate.dual_publicity import citizen_id

    divisions = [d for d in ids.registration_divisions() if d.city_code == company.city_code] \
        or ids.registration_divisions()
    people = []
    for k in range(count):
        rng = random.Random(f"{source_id}:{company.code}:{seed}:person:{k}")
        people.append(Customer(
            account_number=company.city_code[2:4] + _digits(source_id, company.code, "person", str(k), n=8),
            name=ids.person_name(rng), customer_type=TYPE_PERSON, id_number=citizen_id(rng, divisions),
            authorised=rng.random() < AUTHORISED_SHARE))
    return people


def _organisations(rng: random.Random, logical_date: date, seed: int, count: int) -> list:
    """`count` subjects (dual_publicity.Subject): registry ones first, generated for the rest."""
    from credit_dw.simulate.dual_publicity import generated_subject, registry_subjects

    subjects = registry_subjects(logical_date, seed, count) if count else []
    divisions = ids.registration_divisions()
    weights = ids.division_weights(divisions)
    while len(subjects) < count:
        subjects.append(generated_subject(rng, divisions, weights))
    return subjects


def customers(source_id: str, logical_date: date, *, scale: int = 1, seed: int = 20261122,
              rng: random.Random | None = None) -> dict[str, list[Customer]]:
    """Company code → the customers billed in D's delivery (organisations first, then persons)."""
    rng = rng or random.Random(f"{source_id}:{seed}:{logical_date.isoformat()}:customers")
    companies = COMPANIES[source_id]
    org_counts = [round(c.accounts * scale * c.organisation_share) for c in companies]
    subjects = _organisations(rng, logical_date, seed, sum(org_counts))
    out, start = {}, 0
    for company, n_orgs in zip(companies, org_counts, strict=True):
        mine = subjects[start:start + n_orgs]
        start += n_orgs
        orgs = [Customer(company.city_code[2:4] + _digits(source_id, company.code, s.uscc, n=8), s.name,
                         TYPE_ORGANISATION, uscc=s.uscc) for s in mine]
        out[company.code] = orgs + _persons(source_id, company, seed, company.accounts * scale - n_orgs)
    return out


# --- bills ------------------------------------------------------------------------------------

def _bill(rng: random.Random, company: Company, customer: Customer, period: date, logical_date: date) -> dict:
    low, high = company.person_amounts if customer.customer_type == TYPE_PERSON else company.organisation_amounts
    due = round(rng.uniform(low, high), 2)
    roll = rng.random()
    if roll < 0.78:  # paid in full
        paid, arrears, months = due, 0.0, 0
    elif roll < 0.84:  # prepaid: more than due, nothing owed
        paid, arrears, months = round(due + rng.choice((50, 100, 200, 500)) * (1 if due < 1000 else 10), 2), 0.0, 0
    else:  # in arrears this month and maybe earlier ones
        months = rng.choices(range(1, 7), weights=(40, 20, 15, 10, 8, 7))[0]
        paid = 0.0 if rng.random() < 0.6 else round(due * rng.uniform(0.2, 0.8), 2)
        earlier = sum(round(due * rng.uniform(0.8, 1.2), 2) for _ in range(months - 1))
        arrears = round(due - paid + earlier, 2)
    paid_on = None
    if paid > 0:
        paid_on = period + timedelta(days=rng.randint(0, (logical_date - period).days - 1))
    return {
        "account_number": customer.account_number,
        "customer_name": customer.name,
        "customer_type": customer.customer_type,
        "uscc": customer.uscc,
        "id_number": customer.id_number,
        "is_authorised": ("Y" if customer.authorised else "N") if customer.customer_type == TYPE_PERSON
        else None,
        "billing_period": f"{period:%Y-%m}",
        "amount_due": _money(due),
        "amount_paid": _money(paid),
        "arrears_amount": _money(arrears),
        "arrears_months": str(months),
        "paid_on": paid_on.isoformat() if paid_on else None,
        "source_department": company.name,
    }


def _inject(rng: random.Random, kind: str, record: dict, period: date) -> None:
    if kind == "bad_check_character":
        record["uscc"] = ids.wrong_check_character(rng, record["uscc"])
    elif kind == "negative_amount":
        name = rng.choice(("amount_due", "amount_paid", "arrears_amount"))
        value = float(record[name]) or float(record["amount_due"])
        record[name] = _money(-value)
    elif kind == "paid_exceeds_due_with_arrears":
        due = float(record["amount_due"])
        record["amount_paid"] = _money(due + rng.choice((10, 20, 50)))
        record["arrears_amount"] = _money(round(due * rng.uniform(0.5, 2), 2) or 1)
        record["arrears_months"] = str(rng.randint(1, 3))
    elif kind == "missing_account":
        record["account_number"] = rng.choice([None, "", " ", "\u3000"])
    elif kind == "bad_billing_period":
        record["billing_period"] = rng.choice([f"{period:%Y/%m}", f"{period:%Y%m}", f"{period.year}-{period.month}",
                                               f"{period.year}年{period.month}月", f"{period.year}-13"])
    else:
        raise ValueError(f"unknown defect kind {kind!r}")


def generate_records(source_id: str, logical_date: date, *, scale: int = 1, seed: int = 20261122,
                     defect_share: float = 0.05, billed: dict[str, list[Customer]] | None = None
                     ) -> tuple[list[tuple[Company, dict]], dict[str, int]]:
    """The bills of D's delivery as (company, canonical field → value) and the defect counts
    (D need not be the 5th here); `billed` given → no database access."""
    if source_id not in TAGS:
        raise ValueError(f"source_id must be one of {sorted(TAGS)}: {source_id!r}")
    check_run(scale, defect_share)
    rng = random.Random(f"{source_id}:{seed}:{logical_date.isoformat()}")
    period = billing_period(logical_date)
    billed = billed if billed is not None else customers(source_id, logical_date, scale=scale, seed=seed)
    records = [(company, _bill(rng, company, customer, period, logical_date))
               for company in COMPANIES[source_id] for customer in billed[company.code]]

    n_defects = round(defect_share * len(records))
    kinds = [DEFECT_KINDS[k % len(DEFECT_KINDS)] for k in range(n_defects)]
    organisations = [i for i, (_, r) in enumerate(records) if r["customer_type"] == TYPE_ORGANISATION]
    bad_codes = rng.sample(organisations, min(kinds.count("bad_check_character"), len(organisations)))
    others = sorted(set(range(len(records))) - set(bad_codes))
    rest = [k for k in kinds if k != "bad_check_character"]  # defect_share <= 0.5: enough rows for them
    picks = [(i, "bad_check_character") for i in bad_codes]
    picks += zip(rng.sample(others, len(rest)), rest, strict=True)
    counts = dict.fromkeys(DEFECT_KINDS, 0)
    for i, kind in picks:
        _inject(rng, kind, records[i][1], period)
        counts[kind] += 1
    return records, counts


# --- files ------------------------------------------------------------------------------------

def headers(source_id: str, company: Company) -> list[str]:
    """The company's header row: the catalog's headers (marked `*` where required), plus its extra column."""
    from credit_dw.catalog import get_source

    spec = get_source(source_id)
    required = set(spec.extra.get("required_columns", []))
    names = [("*" + header if company.marked_headers and name in required else header)
             for name, header in spec.fields.items()]
    return names + ([company.extra_column] if company.extra_column else [])


def file_name(source_id: str, company: Company, logical_date: date) -> str:
    return f"{company.code}_{TAGS[source_id]}_{billing_period(logical_date):%Y%m}.csv"


def _file_bytes(source_id: str, company: Company, rows: list[dict], logical_date: date) -> bytes:
    from credit_dw.catalog import get_source

    fields = get_source(source_id).canonical_fields
    period = billing_period(logical_date)
    lines = [[f"{company.name}{period.year}年{period.month:02d}月缴费及欠费明细"]] if company.title_row else []
    lines.append(headers(source_id, company))
    for k, row in enumerate(rows):
        cells = ["" if row.get(f) is None else row[f] for f in fields]
        if company.extra_column:
            cells.append(f"{company.city_code[2:4]}{k % 40 + 1:03d}")
        lines.append(cells)
    return csv_bytes(lines, company.encoding)


def write_delivery(source_id: str, logical_date: date, *, scale: int = 1, seed: int = 20261122,
                   defect_share: float = 0.05, inbox: Path | None = None,
                   billed: dict[str, list[Customer]] | None = None) -> Delivery:
    """Write D's company files into the feed's inbox (always, whatever day D is); see the module doc."""
    records, counts = generate_records(source_id, logical_date, scale=scale, seed=seed,
                                       defect_share=defect_share, billed=billed)
    inbox = inbox or settings.inbox_dir(source_id, logical_date.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    written = []
    for company in COMPANIES[source_id]:
        for stale in inbox.glob(f"{company.code}_{TAGS[source_id]}_*"):
            stale.unlink()
        mine = [r for c, r in records if c == company]
        if not mine:
            continue
        path = inbox / file_name(source_id, company, logical_date)
        write_atomically(path, _file_bytes(source_id, company, mine, logical_date))
        written.append(path)
    summary = SimulationSummary.of(source_id, logical_date, counts, inserted=len(records))
    log.info("%s %s: %d bills in %d files, defects %s", source_id, logical_date, len(records), len(written), counts)
    return Delivery(summary, sorted(written), [r for _, r in records])


def simulate_utility(source_id: str, logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention: on the 5th, the previous month's files; other nights nothing."""
    if logical_date.day != DELIVERY_DAY:
        return SimulationSummary.of(source_id, logical_date, dict.fromkeys(DEFECT_KINDS, 0), inserted=0)
    return write_delivery(source_id, logical_date, scale=scale, seed=seed).summary

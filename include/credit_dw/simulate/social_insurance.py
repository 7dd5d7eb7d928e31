"""Deterministic simulator of the HR and social-security contributions database (社会保险参保缴费, `social_insurance`).

It stands in for 河北省人力资源和社会保障厅's business system [rules §4: 人社 参保缴费 by system
connection; 000 §2.3]: a PostgreSQL database (`settings.source_url("social_insurance")`, by
default `src_social_insurance` beside the warehouse) with one table, `shbx.t_dwcbjf` (单位参保缴费),
one row per employer, insurance type and contribution month, read by the `sql` connector
incrementally by `gxsj`.

For a logical date D, `simulate_social_insurance` writes
- `50 * scale` employers' declarations for D's month (or the month before, early in a month), one
  row for each of the three insurances 人社 collects (企业职工基本养老保险, 失业保险, 工伤保险; medical
  insurance moved to 医疗保障局 in 2018), so `150 * scale` rows, every `gxsj` inside D;
  about 10 % of employers are in arrears (欠费: nothing or part paid, 欠缴金额 = 应缴 - 实缴);
- settlements (补缴) of about 3 % as many arrears rows of earlier simulated dates (实缴 = 应缴,
  欠缴 = 0, 缴费状态 已补缴, `gxsj` inside D);
- defects on `defect_share` of the new rows, one each, kinds spread evenly (`DEFECT_KINDS`).

Employers are enterprises of the market-registry database when it exists (same USCC, name and
division as registered, so the warehouse can match them [rules §2]); otherwise a fixed pool
generated from the seed, so employers still recur night after night.

Determinism: ids are `yyyymmdd * 10**8 + sequence`; draws come from `random.Random` seeded by
(seed, D); a run deletes D's id range and inserts it again in one transaction; settlements pick
the same earlier rows (hash of id, judged only on columns a settlement never changes) and set the
same values. Running D twice leaves the table as after one run, given the same registry content
for the dates up to D (registry subjects are drawn from those created on or before D only).
"""

from __future__ import annotations

import hashlib
import logging
import random
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from stdnum.cn import uscc as _uscc

import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.simulate.common import (
    ID_DAY_FACTOR,
    SimulationSummary,
    change_time,
    check_run,
    day_id_range,
    seeded_rng,
    update_earlier_rows,
    write_day_rows,
)
from credit_dw.simulate.enterprises import Enterprise, enterprises_for, normalise_code

log = logging.getLogger(__name__)

SOURCE_ID = "social_insurance"
SCHEMA = "shbx"
TABLE = f"{SCHEMA}.t_dwcbjf"
EMPLOYERS_PER_SCALE = 50
SETTLEMENT_SHARE = 0.03
ARREARS_SHARE = 0.10

#: The insurances 人社 collects, with the combined employer + employee rate on the base.
#: 工伤 varies by industry risk class (0.2 %-1.9 %); one rate per employer, drawn from its code.
PENSION = "企业职工基本养老保险"
UNEMPLOYMENT = "失业保险"
WORK_INJURY = "工伤保险"
INSURANCE_TYPES = (PENSION, UNEMPLOYMENT, WORK_INJURY)
RATES = {PENSION: Decimal("0.24"), UNEMPLOYMENT: Decimal("0.01")}
WORK_INJURY_RATES = (Decimal("0.002"), Decimal("0.004"), Decimal("0.006"), Decimal("0.008"),
                     Decimal("0.012"), Decimal("0.019"))

STATUS_PAID = "已缴费"
STATUS_ARREARS = "欠费"
STATUS_SETTLED = "已补缴"

DEFECT_KINDS = (
    "bad_check_character",
    "missing_name",
    "negative_amount",
    "invalid_contribution_month",
)

COLUMNS = ("id", "dwtyshxydm", "dwmc", "dwbh", "cbd_xzqh", "xzlx", "jfny", "cbrs", "jfjs", "yjje",
           "sjje", "qjje", "jfzt", "gxsj")

# Amounts are numeric(14, 2) yuan: a department system keeps money as decimals, never floats.
# jfny is the department's own YYYYMM text, which is why a malformed month can reach us at all.
DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    id          bigint primary key,
    dwtyshxydm  varchar(20),
    dwmc        varchar(200),
    dwbh        varchar(20),
    cbd_xzqh    varchar(6),
    xzlx        varchar(20),
    jfny        varchar(10),
    cbrs        integer,
    jfjs        numeric(14, 2),
    yjje        numeric(14, 2),
    sjje        numeric(14, 2),
    qjje        numeric(14, 2),
    jfzt        varchar(10),
    gxsj        timestamptz not null
);
create index if not exists ix_t_dwcbjf_gxsj on {TABLE} (gxsj);
comment on schema {SCHEMA} is '人力资源和社会保障部门社会保险业务库（模拟）';
comment on table {TABLE} is '单位参保缴费信息';
comment on column {TABLE}.id is '主键';
comment on column {TABLE}.dwtyshxydm is '单位统一社会信用代码';
comment on column {TABLE}.dwmc is '单位名称';
comment on column {TABLE}.dwbh is '单位社会保险编号';
comment on column {TABLE}.cbd_xzqh is '参保地行政区划代码';
comment on column {TABLE}.xzlx is '险种类型（企业职工基本养老保险、失业保险、工伤保险）';
comment on column {TABLE}.jfny is '缴费年月（YYYYMM）';
comment on column {TABLE}.cbrs is '参保人数';
comment on column {TABLE}.jfjs is '缴费基数（元）';
comment on column {TABLE}.yjje is '应缴金额（元）';
comment on column {TABLE}.sjje is '实缴金额（元）';
comment on column {TABLE}.qjje is '欠缴金额（元）';
comment on column {TABLE}.jfzt is '缴费状态（已缴费、欠费、已补缴）';
comment on column {TABLE}.gxsj is '更新时间';
"""

_CENT = Decimal("0.01")


def _rng(seed: int, logical_date: date, stream: str) -> random.Random:
    return seeded_rng(SOURCE_ID, seed, logical_date, stream)


def _digest_int(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def employer_number(enterprise: Enterprise) -> str:
    """单位社会保险编号: the division where it is insured + 7 digits, stable for an employer."""
    return enterprise.division_code + f"{_digest_int('dwbh:' + enterprise.uscc) % 10**7:07d}"


def _work_injury_rate(enterprise: Enterprise) -> Decimal:
    return WORK_INJURY_RATES[_digest_int("gs:" + enterprise.uscc) % len(WORK_INJURY_RATES)]


def contribution_month(logical_date: date) -> str:
    """Declarations in the first ten days of a month are for the month before (申报期)."""
    month = logical_date.replace(day=1)
    if logical_date.day <= 10:
        month = (month - timedelta(days=1)).replace(day=1)
    return month.strftime("%Y%m")


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _invalid_month(rng: random.Random, logical_date: date) -> str:
    """A 缴费年月 a department system let through: no such month, wrong form, or a year ahead."""
    year, month = logical_date.year, logical_date.month
    return rng.choice((f"{year}13", f"{year}00", f"{year}-{month}", f"{year + 1}{month:02d}"))


def generate_contributions(
    logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
    enterprises: list[Enterprise] | None = None,
) -> tuple[list[tuple], dict[str, int]]:
    """D's new rows (tuples in `COLUMNS` order) and the defect counts.

    `enterprises` defaults to `enterprises_for(...)` (which reads the registry database); pass a
    list to generate without any database.
    """
    check_run(scale, defect_share, max_scale=ID_DAY_FACTOR // (EMPLOYERS_PER_SCALE * len(INSURANCE_TYPES)) - 1)
    n_employers = EMPLOYERS_PER_SCALE * scale
    if enterprises is None:
        enterprises = enterprises_for(logical_date, seed=seed, scale=scale, stream="employers", count=n_employers)
    rng = _rng(seed, logical_date, "contributions")
    first_id, _ = day_id_range(logical_date)
    month = contribution_month(logical_date)

    rows: list[list] = []
    for enterprise in enterprises[:n_employers]:
        headcount = max(1, min(2000, int(rng.lognormvariate(2.7, 1.1))))
        average_wage = Decimal(rng.randrange(3800, 9500, 50))
        base = _money(average_wage * headcount)
        in_arrears = rng.random() < ARREARS_SHARE
        paid_share = Decimal(rng.choice((0, 0, 25, 50, 70))) / 100 if in_arrears else Decimal(1)
        declared_at = change_time(rng, logical_date)
        for kind in INSURANCE_TYPES:
            rate = RATES.get(kind) or _work_injury_rate(enterprise)
            due = _money(base * rate)
            paid = _money(due * paid_share)
            rows.append([
                first_id + len(rows), enterprise.uscc, enterprise.name, employer_number(enterprise),
                enterprise.division_code, kind, month, headcount, base, due, paid, due - paid,
                STATUS_ARREARS if due > paid else STATUS_PAID, declared_at,
            ])

    counts = dict.fromkeys(DEFECT_KINDS, 0)
    n = len(rows)
    defect_rows = rng.sample(range(n), round(defect_share * n))
    for k, i in enumerate(defect_rows):
        kind = DEFECT_KINDS[k % len(DEFECT_KINDS)]
        row = rows[i]
        if kind == "bad_check_character":
            row[1] = ids.wrong_check_character(rng, row[1])
        elif kind == "missing_name":
            row[2] = rng.choice([None, "", "  ", "\u3000"])
        elif kind == "negative_amount":
            # A refund or overpayment typed as a negative amount; only positive amounts are
            # negated, so the row really carries a negative number.
            positions = [p for p in (9, 10, 11) if row[p] > 0]
            p = rng.choice(positions)
            row[p] = -row[p]
        else:
            row[6] = _invalid_month(rng, logical_date)
        counts[kind] += 1
    return [tuple(r) for r in rows], counts


def _valid_month(text: str | None, logical_date: date) -> bool:
    if not text or len(text) != 6 or not text.isdigit():
        return False
    year, month = int(text[:4]), int(text[4:])
    return 1 <= month <= 12 and date(year, month, 1) <= logical_date


def _settlements(conn, logical_date: date, *, seed: int, count: int) -> list[tuple[int, datetime]]:
    """(id, settlement time) for `count` arrears rows of earlier dates, picked by a hash of id.

    Candidates are judged on columns a settlement never changes (code, name, month, amount due),
    so a rerun of D picks the same rows whatever D's first run changed.
    """
    if count <= 0:
        return []
    first_id, _ = day_id_range(logical_date)
    candidates = conn.execute(
        f"""select id, dwtyshxydm, dwmc, jfny, yjje from {TABLE}
            where id < %s and jfzt in (%s, %s)
            order by md5(%s || id::text), id limit %s""",
        (first_id, STATUS_ARREARS, STATUS_SETTLED, f"settle:{seed}:{logical_date.isoformat()}:", 2 * count + 20),
    ).fetchall()
    picked = [
        row_id for row_id, code, name, month, due in candidates
        if _uscc.is_valid(normalise_code(code)) and (name or "").strip(" \u3000")
        and _valid_month(month, logical_date) and due is not None and due > 0
    ][:count]
    rng = _rng(seed, logical_date, "settlements")
    return [(row_id, change_time(rng, logical_date)) for row_id in sorted(picked)]


def simulate_social_insurance(
    source_url: str,
    logical_date: date,
    *,
    scale: int = 1,
    seed: int = 20261122,
    defect_share: float = 0.05,
) -> SimulationSummary:
    """Write D's declarations and settlements into the contributions database; see the module doc."""
    rows, counts = generate_contributions(logical_date, scale=scale, seed=seed, defect_share=defect_share)

    def settle(conn) -> int:
        settlements = _settlements(conn, logical_date, seed=seed, count=round(SETTLEMENT_SHARE * len(rows)))
        # Only rows still in arrears are settled (and those an earlier run of D settled).
        return update_earlier_rows(conn, TABLE, logical_date, settlements,
                                   assignments="sjje = t.yjje, qjje = 0, jfzt = %s",
                                   assignment_params=(STATUS_SETTLED,),
                                   requalifies="t.jfzt = %s", requalify_params=(STATUS_ARREARS,))

    updated = write_day_rows(SOURCE_ID, source_url, logical_date, table=TABLE, ddl=DDL, columns=COLUMNS, rows=rows,
                             then=settle)
    log.info("social_insurance %s: %d inserted, %d settlements, defects %s", logical_date, len(rows), updated, counts)
    return SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(rows), updated=updated)


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): into the configured source database."""
    return simulate_social_insurance(settings.source_url(SOURCE_ID), logical_date, scale=scale, seed=seed)

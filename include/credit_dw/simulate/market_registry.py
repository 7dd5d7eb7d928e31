"""Deterministic simulator of the market-regulation registry database (市场主体登记, `market_registry`).

It stands in for 河北省市场监督管理局's business system [rules §4]: a PostgreSQL database
(`settings.source_url("market_registry")`, by default `src_market_registry` beside the warehouse)
with one table, `registry.t_sczt_djxx`, that the `sql` connector reads incrementally by `gxsj`.

For a logical date D, `simulate_market_registry` writes
- `200 * scale` new subjects (registered on D or earlier, enterprises '91…', individual
  businesses '92…' about 40 %), every `gxsj` inside D in Beijing time;
- status changes (djzt → 注销/吊销/迁出/在业, `gxsj` inside D) of about 2 % as many subjects
  created on earlier simulated dates;
- defects on `defect_share` of the new rows, one each, kinds spread evenly (`DEFECT_KINDS`), so
  the code checks of the pipeline have something to find [rules §2: 重错码];
- independently ~1 % of the clean rows with a USCC in full-width characters or with surrounding
  spaces (`fullwidth_or_spaces`): not a defect, valid after NFKC + strip;
- the legal representative's (经营者's) resident ID `fddbr_zjhm` on every row, drawn from a stream
  of its own so the other columns are the same as before the column existed; the warehouse links
  enterprise → person with it [rules §7: serious dishonesty is also recorded against the person].

Determinism: ids are `yyyymmdd * 10**8 + sequence`, all draws come from a `random.Random` seeded
by (seed, D); a run deletes the rows of D's id range and inserts them again in one transaction,
and the status changes pick the same earlier subjects (by a hash of id, independent of their
current state) and set the same values. Running D twice leaves the table as after one run.
Re-running an earlier date after later ones resets that date's subjects to their state as of D.
"""

from __future__ import annotations

import logging
import random
from datetime import date, datetime, timedelta

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
from credit_dw.simulate.enterprises import REGISTRY_SCHEMA, REGISTRY_TABLE

log = logging.getLogger(__name__)

SOURCE_ID = "market_registry"
SCHEMA = REGISTRY_SCHEMA
TABLE = REGISTRY_TABLE
ROWS_PER_SCALE = 200
STATUS_CHANGE_SHARE = 0.02
RESHAPED_SHARE = 0.01
INDIVIDUAL_SHARE = 0.4

DEFECT_KINDS = (
    "bad_check_character",
    "missing_name",
    "unknown_division",
    "future_registration",
    "duplicate_uscc_other_name",
)
RESHAPED_KIND = "fullwidth_or_spaces"

KIND_ENTERPRISE = "企业"
KIND_INDIVIDUAL = "个体工商户"
ACTIVE_STATUSES = ("存续", "在业")
STATUSES = ("存续", "在业", "吊销", "注销", "迁出")

COLUMNS = ("id", "tyshxydm", "ztmc", "ztlx", "fddbr", "djjg_xzqh", "clrq", "djzt", "gxsj", "fddbr_zjhm")

# tyshxydm is varchar(20), not (18): a code with surrounding spaces must fit as the department
# stores it (PostgreSQL would silently cut trailing spaces from a varchar(18) and reject leading ones).
DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    id          bigint primary key,
    tyshxydm    varchar(20),
    ztmc        varchar(200),
    ztlx        varchar(20),
    fddbr       varchar(50),
    djjg_xzqh   varchar(6),
    clrq        date,
    djzt        varchar(10),
    gxsj        timestamptz not null,
    fddbr_zjhm  varchar(18)
);
-- A registry table created before the column existed gets it (the extraction selects it).
alter table {TABLE} add column if not exists fddbr_zjhm varchar(18);
create index if not exists ix_t_sczt_djxx_gxsj on {TABLE} (gxsj);
comment on schema {SCHEMA} is '市场监管部门市场主体登记业务库（模拟）';
comment on table {TABLE} is '市场主体登记信息';
comment on column {TABLE}.id is '主键';
comment on column {TABLE}.tyshxydm is '统一社会信用代码';
comment on column {TABLE}.ztmc is '市场主体名称';
comment on column {TABLE}.ztlx is '主体类型（企业、个体工商户）';
comment on column {TABLE}.fddbr is '法定代表人（负责人、经营者）';
comment on column {TABLE}.djjg_xzqh is '登记机关行政区划代码';
comment on column {TABLE}.clrq is '成立日期';
comment on column {TABLE}.djzt is '登记状态（存续、在业、吊销、注销、迁出）';
comment on column {TABLE}.gxsj is '更新时间';
comment on column {TABLE}.fddbr_zjhm is '法定代表人（负责人、经营者）身份证件号码';
"""


def _rng(seed: int, logical_date: date, stream: str) -> random.Random:
    return seeded_rng(SOURCE_ID, seed, logical_date, stream)


def _registration_date(rng: random.Random, logical_date: date) -> date:
    roll = rng.random()
    if roll < 0.35:
        back = 0
    elif roll < 0.6:
        back = rng.randint(1, 30)
    else:
        back = min(int(rng.expovariate(1 / (365 * 5))), 365 * 35)
    return logical_date - timedelta(days=back)


def _initial_status(rng: random.Random, kind: str, registered: date, logical_date: date) -> str:
    if (logical_date - registered).days > 365:
        roll = rng.random()
        if roll < 0.03:
            return "吊销"
        if roll < 0.06:
            return "注销"
        if roll < 0.07:
            return "迁出"
    if kind == KIND_ENTERPRISE:
        return "存续" if rng.random() < 0.8 else "在业"
    return "在业" if rng.random() < 0.7 else "存续"


def _name(rng: random.Random, kind: str, division: ids.RegistrationDivision, person: str) -> str:
    if kind == KIND_ENTERPRISE:
        return ids.enterprise_name(rng, division.place, division.city_name)
    return ids.individual_business_name(rng, division.place, person)


def _reshape(rng: random.Random, code: str) -> str:
    """The same code in full-width characters or with surrounding spaces (≤ 20 characters)."""
    variant = rng.randrange(5)
    if variant == 0:
        return ids.to_fullwidth(code)
    if variant == 1:
        return " " + code
    if variant == 2:
        return code + " "
    if variant == 3:
        return " " + code + " "
    return "\u3000" + ids.to_fullwidth(code[:8]) + code[8:]


def generate_subjects(
    logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05
) -> tuple[list[tuple], dict[str, int]]:
    """The new rows of D (tuples in `COLUMNS` order) and the defect counts; no database access."""
    check_run(scale, defect_share, max_scale=ID_DAY_FACTOR // ROWS_PER_SCALE - 1)
    rng = _rng(seed, logical_date, "subjects")
    divisions = ids.registration_divisions()
    weights = ids.division_weights(divisions)
    known_codes = {r["division_code"] for r in ids.read_seed_divisions()}
    first_id, _ = day_id_range(logical_date)
    n = ROWS_PER_SCALE * scale

    rows: list[list] = []
    row_divisions: list[ids.RegistrationDivision] = []
    used: set[str] = set()
    chosen = rng.choices(divisions, weights=weights, k=n)
    for seq, division in enumerate(chosen):
        kind = KIND_INDIVIDUAL if rng.random() < INDIVIDUAL_SHARE else KIND_ENTERPRISE
        registered = _registration_date(rng, logical_date)
        while True:
            code = ids.make_uscc(rng, division.code, kind="2" if kind == KIND_INDIVIDUAL else "1",
                                 registered_on=registered)
            if code not in used:
                used.add(code)
                break
        person = ids.person_name(rng)
        rows.append([
            first_id + seq, code, _name(rng, kind, division, person), kind, person, division.code,
            registered, _initial_status(rng, kind, registered, logical_date), change_time(rng, logical_date),
        ])
        row_divisions.append(division)

    counts = dict.fromkeys(DEFECT_KINDS, 0)
    n_defects = round(defect_share * n)
    defect_rows = rng.sample(range(n), n_defects)
    kinds = {i: DEFECT_KINDS[k % len(DEFECT_KINDS)] for k, i in enumerate(defect_rows)}
    clean = [i for i in range(n) if i not in kinds]
    dup_sources = set()
    for i in sorted(kinds):
        kind = kinds[i]
        row = rows[i]
        if kind == "bad_check_character":
            row[1] = ids.wrong_check_character(rng, row[1])
        elif kind == "missing_name":
            row[2] = rng.choice([None, "", "  ", "\u3000"])
        elif kind == "unknown_division":
            code = ids.unknown_division_code(rng, known_codes)
            row[5] = code
            row[1] = ids.make_uscc(rng, code, kind=row[1][1], registered_on=row[6])
        elif kind == "future_registration":
            row[6] = logical_date + timedelta(days=rng.randint(1, 365))
        else:  # duplicate_uscc_other_name: another subject's code, a different name
            candidates = [j for j in clean if j not in dup_sources]
            if not candidates:
                continue
            j = rng.choice(candidates)
            dup_sources.add(j)
            source = rows[j]
            row[1], row[3], row[5] = source[1], source[3], source[5]
            row[4] = ids.person_name(rng)
            while True:
                row[2] = _name(rng, row[3], row_divisions[j], row[4])
                if row[2] != source[2]:
                    break
        counts[kind] += 1

    id_rng = _rng(seed, logical_date, "legal_representative_ids")
    for row in rows:
        row.append(ids.make_citizen_id(id_rng, logical_date)[0])

    reshapable = [i for i in clean if i not in dup_sources]
    for i in rng.sample(reshapable, min(len(reshapable), round(RESHAPED_SHARE * len(clean)))):
        rows[i][1] = _reshape(rng, rows[i][1])
        counts[RESHAPED_KIND] = counts.get(RESHAPED_KIND, 0) + 1
    counts.setdefault(RESHAPED_KIND, 0)
    return [tuple(r) for r in rows], counts


def _status_changes(
    conn, logical_date: date, *, seed: int, count: int
) -> list[tuple[int, str, datetime]]:
    """(id, new status, change time) for `count` subjects of earlier dates, picked by a hash of id."""
    if count <= 0:
        return []
    first_id, _ = day_id_range(logical_date)
    picked = conn.execute(
        f"""select id from (
                select id from {TABLE} where id < %s order by md5(%s || id::text), id limit %s
            ) p order by id""",
        (first_id, f"{seed}:{logical_date.isoformat()}:", count),
    ).fetchall()
    rng = _rng(seed, logical_date, "status")
    changes = []
    for (subject_id,) in picked:
        status = rng.choices(("注销", "吊销", "迁出", "在业"), weights=(55, 25, 10, 10))[0]
        changes.append((subject_id, status, change_time(rng, logical_date)))
    return changes


def simulate_market_registry(
    source_url: str,
    logical_date: date,
    *,
    scale: int = 1,
    seed: int = 20261122,
    defect_share: float = 0.05,
) -> SimulationSummary:
    """Write D's new subjects and status changes into the registry database; see the module doc."""
    rows, counts = generate_subjects(logical_date, scale=scale, seed=seed, defect_share=defect_share)

    def change_status(conn) -> int:
        changes = _status_changes(conn, logical_date, seed=seed, count=round(STATUS_CHANGE_SHARE * len(rows)))
        # A closed subject is not reopened (吊销 may still become 注销).
        return update_earlier_rows(conn, TABLE, logical_date, changes, values=(("djzt", "text"),),
                                   assignments="djzt = u.djzt",
                                   requalifies="(t.djzt in ('存续', '在业') and t.djzt <> u.djzt)"
                                               " or (t.djzt = '吊销' and u.djzt = '注销')")

    updated = write_day_rows(SOURCE_ID, source_url, logical_date, table=TABLE, ddl=DDL, columns=COLUMNS, rows=rows,
                             then=change_status)
    log.info("market_registry %s: %d inserted, %d status changes, defects %s",
             logical_date, len(rows), updated, counts)
    return SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(rows), updated=updated)


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): into the configured source database."""
    return simulate_market_registry(settings.source_url(SOURCE_ID), logical_date, scale=scale, seed=seed)

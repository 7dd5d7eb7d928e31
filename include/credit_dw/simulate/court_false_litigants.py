"""Deterministic simulator of the courts' list of false-litigation dishonest persons (虚假诉讼失信人,
feed `court_false_litigants`).

The courts publish, beside the dishonest judgment debtors, the natural persons and organisations
found to have litigated falsely (虚假诉讼) [004 (十五)], a ground for the joint-punishment lists
[004 (八)]. This stands in for their system: a PostgreSQL database
(`settings.source_url("court_false_litigants")`, by default `src_court_false_litigants` beside the
warehouse) with one table, `zxxx.t_xjsssxr`, read by the `sql` connector incrementally by `gxsj`.

For a logical date D, `simulate_court_false_litigants` writes
- `ROWS_PER_SCALE * scale` new listings published on D or up to three days before, `gxsj` inside
  D; about 60 % natural persons (valid GB 11643 citizen IDs, as `court_debtors` makes them), the
  rest organisations, enterprises of the market-registry database when it exists;
- removals (移除) of about 10 % as many listings of earlier simulated dates;
- defects on `defect_share` of the new rows, one each, kinds spread evenly (`DEFECT_KINDS`), each a
  critical check of expectations/court_false_litigants.json.

Determinism as in `court_debtors`: ids are `yyyymmdd * 10**8 + sequence`, draws from
`random.Random` seeded by (seed, D), a run replaces D's id range in one transaction, removals
pick the same earlier rows and set the same values. Running D twice leaves the table as after one run.
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
from credit_dw.simulate.court_debtors import basic_court, intermediate_court
from credit_dw.simulate.court_listings import (
    KIND_ORGANISATION,
    KIND_PERSON,
    listed_subjects,
    listing_defects,
    listing_kinds,
)
from credit_dw.simulate.enterprises import enterprises_for

log = logging.getLogger(__name__)

SOURCE_ID = "court_false_litigants"
SCHEMA = "zxxx"
TABLE = f"{SCHEMA}.t_xjsssxr"
ROWS_PER_SCALE = 20
PERSON_SHARE = 0.6
REMOVAL_SHARE = 0.1

CONDUCTS = (
    "与他人恶意串通，捏造债权债务关系提起民事诉讼",
    "伪造借条、合同等证据，虚构事实提起诉讼",
    "以虚假诉讼方式转移财产、逃避执行",
    "捏造知识产权侵权关系提起诉讼",
)
SANCTIONS = ("罚款人民币{fine}元", "司法拘留十五日", "罚款人民币{fine}元并移送公安机关", "训诫并罚款人民币{fine}元")

DEFECT_KINDS = ("bad_citizen_id_check_character", "bad_uscc_check_character", "missing_case_number",
                "removal_before_publish", "published_after_night")

COLUMNS = ("id", "ah", "xm", "lx", "xb", "zjhm", "fddbr", "slfy", "rdwsh", "xjssxw", "cfqk", "rdrq", "fbrq",
           "ycrq", "gxsj")

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    id      bigint primary key,
    ah      varchar(64),
    xm      varchar(200),
    lx      varchar(20),
    xb      varchar(2),
    zjhm    varchar(20),
    fddbr   varchar(50),
    slfy    varchar(100),
    rdwsh   varchar(64),
    xjssxw  varchar(200),
    cfqk    varchar(200),
    rdrq    date,
    fbrq    date,
    ycrq    date,
    gxsj    timestamptz not null
);
create index if not exists ix_t_xjsssxr_gxsj on {TABLE} (gxsj);
comment on schema {SCHEMA} is '人民法院执行信息业务库（模拟）';
comment on table {TABLE} is '虚假诉讼失信人名单（纳入与移除）';
comment on column {TABLE}.ah is '案号';
comment on column {TABLE}.xm is '姓名或名称';
comment on column {TABLE}.lx is '类型（自然人、法人或其他组织）';
comment on column {TABLE}.zjhm is '身份证号码或统一社会信用代码';
comment on column {TABLE}.slfy is '审理法院';
comment on column {TABLE}.rdwsh is '认定文书号（决定书、判决书）';
comment on column {TABLE}.xjssxw is '虚假诉讼行为';
comment on column {TABLE}.cfqk is '处罚情况';
comment on column {TABLE}.rdrq is '认定日期';
comment on column {TABLE}.fbrq is '发布日期';
comment on column {TABLE}.ycrq is '移除日期';
comment on column {TABLE}.gxsj is '更新时间';
"""


def _rng(seed: int, logical_date: date, stream: str) -> random.Random:
    return seeded_rng(SOURCE_ID, seed, logical_date, stream)


def generate_listings(logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
                      enterprises=None) -> tuple[list[tuple], dict[str, int]]:
    """D's new listings (tuples in `COLUMNS` order) and the defect counts; `enterprises` given → no database."""
    check_run(scale, defect_share, max_scale=ID_DAY_FACTOR // ROWS_PER_SCALE - 1)
    rng = _rng(seed, logical_date, "listings")
    n = ROWS_PER_SCALE * scale
    kinds = listing_kinds(rng, n, PERSON_SHARE)
    if enterprises is None:
        enterprises = enterprises_for(logical_date, seed=seed, scale=scale, stream="court-false-litigants",
                                      count=kinds.count(KIND_ORGANISATION))
    rows: list[list] = []
    for row_id, kind, division, enterprise in listed_subjects(rng, logical_date, kinds, enterprises):
        court = basic_court(division) if rng.random() < 0.8 else intermediate_court(division)
        published = logical_date - timedelta(days=rng.choice((0, 0, 1, 2, 3)))
        decided = published - timedelta(days=rng.randint(5, 60))
        case = f"（{decided.year}）{court.code}民初{rng.randint(1, 9999)}号"
        fine = f"{rng.choice((10_000, 20_000, 50_000, 100_000)):,}"
        if kind == KIND_PERSON:
            citizen_id, sex = ids.make_citizen_id(rng, logical_date)
            name, id_number, representative = ids.person_name(rng), citizen_id, None
        else:
            name, id_number, representative, sex = (enterprise.name, enterprise.uscc,
                                                    enterprise.legal_representative, None)
        rows.append([row_id, case, name, kind, sex, id_number, representative, court.name,
                     f"（{decided.year}）{court.code}司惩{rng.randint(1, 999)}号", rng.choice(CONDUCTS),
                     rng.choice(SANCTIONS).format(fine=fine), decided, published, None,
                     change_time(rng, logical_date)])

    counts = dict.fromkeys(DEFECT_KINDS, 0)
    for defect, i in listing_defects(rng, [r[3] for r in rows], DEFECT_KINDS, round(defect_share * n)):
        row = rows[i]
        if defect == "bad_citizen_id_check_character":
            row[5] = ids.wrong_citizen_id_check(rng, row[5])
        elif defect == "bad_uscc_check_character":
            row[5] = ids.wrong_check_character(rng, row[5])
        elif defect == "missing_case_number":
            row[1] = rng.choice([None, "", " ", "\u3000"])
        elif defect == "removal_before_publish":
            row[13] = row[12] - timedelta(days=rng.randint(1, 30))
        else:  # published_after_night: a publication date later than the night that delivered it
            row[12] = logical_date + timedelta(days=rng.randint(1, 20))
        counts[defect] += 1
    return [tuple(r) for r in rows], counts


def _removals(conn, logical_date: date, *, seed: int, count: int) -> list[tuple[int, datetime]]:
    """(id, removal time) for `count` clean listings of earlier dates, picked by a hash of id."""
    if count <= 0:
        return []
    first_id, _ = day_id_range(logical_date)
    picked = [row_id for (row_id,) in conn.execute(
        f"""select id from {TABLE}
            where id < %s and nullif(btrim(ah, E' \\u3000'), '') is not null and fbrq < %s
              and (ycrq is null or ycrq >= fbrq)
            order by md5(%s || id::text), id limit %s""",
        (first_id, logical_date, f"remove:{seed}:{logical_date.isoformat()}:", count)).fetchall()]
    rng = _rng(seed, logical_date, "removals")
    return [(row_id, change_time(rng, logical_date)) for row_id in sorted(picked)]


def simulate_court_false_litigants(source_url: str, logical_date: date, *, scale: int = 1, seed: int = 20261122,
                                   defect_share: float = 0.05) -> SimulationSummary:
    """Write D's new listings and removals into the court database; see the module doc."""
    rows, counts = generate_listings(logical_date, scale=scale, seed=seed, defect_share=defect_share)

    def remove(conn) -> int:
        removals = _removals(conn, logical_date, seed=seed, count=round(REMOVAL_SHARE * len(rows)))
        return update_earlier_rows(conn, TABLE, logical_date, removals, assignments="ycrq = %s",
                                   assignment_params=(logical_date,), requalifies="t.ycrq is null")

    updated = write_day_rows(SOURCE_ID, source_url, logical_date, table=TABLE, ddl=DDL, columns=COLUMNS, rows=rows,
                             then=remove)
    log.info("%s %s: %d listed, %d removed, defects %s", SOURCE_ID, logical_date, len(rows), updated, counts)
    return SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(rows), updated=updated)


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): into the configured source database."""
    return simulate_court_false_litigants(settings.source_url(SOURCE_ID), logical_date, scale=scale, seed=seed)

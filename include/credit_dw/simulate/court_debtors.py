"""Deterministic simulator of the courts' dishonest-judgment-debtor database (失信被执行人, `court_debtors`).

It stands in for the court system's list of 失信被执行人 [rules §4, §7; 000 §2.3]: a PostgreSQL
database (`settings.source_url("court_debtors")`, by default `src_court_debtors` beside the
warehouse) with one table, `zxxx.t_sxbzxr`, read by the `sql` connector incrementally by `gxsj`.
The columns follow what the courts publish for each listed debtor (案号, 被执行人姓名/名称, 性别,
身份证号码/统一社会信用代码, 法定代表人或负责人, 执行法院, 立案时间, 执行依据文号, 做出执行依据单位,
生效法律文书确定的义务, 被执行人的履行情况, 失信被执行人行为具体情形, 发布时间) plus the removal
date (移除日期) when a debtor leaves the list.

For a logical date D, `simulate_court_debtors` writes
- `80 * scale` new listings published on D or up to five days before, `gxsj` inside D; about
  65 % natural persons (valid GB 11643 citizen IDs: a Hebei county code of `seeds/
  hebei_divisions.csv` in force in the birth year, a real birth date, sequence digits whose parity
  matches 性别, the MOD 11-2 check character), the rest organisations, which are enterprises of
  the market-registry database when it exists (same code, name, legal representative) [rules §2];
- removals (移除, 履行情况 全部履行) of about 5 % as many listings of earlier simulated dates;
- defects on `defect_share` of the new rows, one each, kinds spread evenly (`DEFECT_KINDS`):
  a bad check character goes to a citizen ID or a USCC by the kind's name.

Determinism as in the market registry: ids are `yyyymmdd * 10**8 + sequence`, draws come from
`random.Random` seeded by (seed, D), a run replaces D's id range in one transaction, removals pick
the same earlier rows (hash of id, judged on columns a removal never changes) and set the same
values. Running D twice leaves the table as after one run.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from stdnum.cn import uscc as _uscc

import credit_dw.simulate.identities as ids
from credit_dw.config import settings
from credit_dw.reference.identifiers import is_valid_citizen_id
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
from credit_dw.simulate.court_listings import (
    KIND_ORGANISATION,
    KIND_PERSON,
    listed_subjects,
    listing_defects,
    listing_kinds,
)
from credit_dw.simulate.enterprises import Enterprise, enterprises_for, normalise_code

log = logging.getLogger(__name__)

SOURCE_ID = "court_debtors"
SCHEMA = "zxxx"
TABLE = f"{SCHEMA}.t_sxbzxr"
ROWS_PER_SCALE = 80
PERSON_SHARE = 0.65
REMOVAL_SHARE = 0.05

HIGH_COURT = "河北省高级人民法院"

NOT_PERFORMED = "全部未履行"
PARTLY_PERFORMED = "部分未履行"
PERFORMED = "全部履行"

#: The six situations of 最高人民法院关于公布失信被执行人名单信息的若干规定 (2017) art. 1, with rough weights.
CONDUCTS = (
    ("有履行能力而拒不履行生效法律文书确定义务", 70),
    ("违反财产报告制度", 14),
    ("违反限制消费令", 8),
    ("以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行", 4),
    ("无正当理由拒不履行执行和解协议", 3),
    ("以伪造证据、暴力、威胁等方法妨碍、抗拒执行", 1),
)
OBLIGATIONS = (
    "被执行人于判决生效之日起十日内偿还申请执行人借款本金{amount}元及利息",
    "被执行人于本判决生效后十日内支付申请执行人货款{amount}元",
    "被执行人给付申请执行人劳动报酬{amount}元",
    "被执行人偿还申请执行人信用卡透支本息共计{amount}元",
    "被执行人支付申请执行人工程款{amount}元及逾期付款利息",
    "被执行人赔偿申请执行人各项损失共计{amount}元",
    "被执行人于调解书生效之日起三十日内给付申请执行人{amount}元",
)

DEFECT_KINDS = (
    "bad_citizen_id_check_character",
    "bad_uscc_check_character",
    "missing_case_number",
    "removal_before_publish",
    "unknown_court",
)

COLUMNS = ("id", "ah", "bzxrmc", "bzxrlx", "xb", "zjhm", "fddbr", "zxfy", "larq", "zxyjwh", "zczxyjdw",
           "qdyw", "lxqk", "sxxwqx", "fbrq", "ycrq", "gxsj")

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    id          bigint primary key,
    ah          varchar(64),
    bzxrmc      varchar(200),
    bzxrlx      varchar(20),
    xb          varchar(2),
    zjhm        varchar(20),
    fddbr       varchar(50),
    zxfy        varchar(100),
    larq        date,
    zxyjwh      varchar(64),
    zczxyjdw    varchar(100),
    qdyw        text,
    lxqk        varchar(20),
    sxxwqx      varchar(200),
    fbrq        date,
    ycrq        date,
    gxsj        timestamptz not null
);
create index if not exists ix_t_sxbzxr_gxsj on {TABLE} (gxsj);
comment on schema {SCHEMA} is '人民法院执行信息业务库（模拟）';
comment on table {TABLE} is '失信被执行人名单信息（纳入与移除）';
comment on column {TABLE}.id is '主键';
comment on column {TABLE}.ah is '案号';
comment on column {TABLE}.bzxrmc is '被执行人姓名或名称';
comment on column {TABLE}.bzxrlx is '被执行人类型（自然人、法人或其他组织）';
comment on column {TABLE}.xb is '性别（自然人）';
comment on column {TABLE}.zjhm is '身份证号码或统一社会信用代码';
comment on column {TABLE}.fddbr is '法定代表人或负责人姓名';
comment on column {TABLE}.zxfy is '执行法院';
comment on column {TABLE}.larq is '立案日期';
comment on column {TABLE}.zxyjwh is '执行依据文号';
comment on column {TABLE}.zczxyjdw is '做出执行依据单位';
comment on column {TABLE}.qdyw is '生效法律文书确定的义务';
comment on column {TABLE}.lxqk is '被执行人的履行情况（全部未履行、部分未履行、全部履行）';
comment on column {TABLE}.sxxwqx is '失信被执行人行为具体情形';
comment on column {TABLE}.fbrq is '发布日期';
comment on column {TABLE}.ycrq is '移除日期';
comment on column {TABLE}.gxsj is '更新时间';
"""

# --- courts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Court:
    name: str
    code: str  # 法院代字 of 案号: 冀 + 2 digits (intermediate) or 4 digits (basic), 冀 alone (high)


def basic_court(division: ids.RegistrationDivision) -> Court:
    """The basic people's court of a county-level division ("石家庄市长安区人民法院", "正定县人民法院")."""
    return Court(division.place + "人民法院", "冀" + division.code[2:6])


def intermediate_court(division: ids.RegistrationDivision) -> Court:
    """The intermediate court of the division's prefecture city."""
    return Court(division.city_name + "中级人民法院", "冀" + division.city_code[2:4])


def known_court_names() -> set[str]:
    """Every name the simulator gives a Hebei court (the gate derives the same set from reference data)."""
    names = {HIGH_COURT}
    for division in ids.registration_divisions():
        names.add(basic_court(division).name)
        names.add(intermediate_court(division).name)
    return names


def _court_for(rng: random.Random, division: ids.RegistrationDivision) -> Court:
    roll = rng.random()
    if roll < 0.85:
        return basic_court(division)
    if roll < 0.97:
        return intermediate_court(division)
    return Court(HIGH_COURT, "冀")


def _unknown_court(rng: random.Random, court: Court) -> str:
    """How a court's name arrives wrong: a short form, a dropped 人民, or a court outside Hebei."""
    variant = rng.randrange(3)
    if variant == 0:
        return court.name.replace("中级人民法院", "中院").replace("人民法院", "法院")
    if variant == 1:
        return court.name.removesuffix("人民法院") + "法院"
    return rng.choice(("北京市朝阳区人民法院", "天津市和平区人民法院", "山西省太原市中级人民法院",
                       "山东省德州市中级人民法院", "内蒙古自治区高级人民法院"))


def _amount(rng: random.Random) -> str:
    return f"{min(int(rng.lognormvariate(11, 1.3)), 50_000_000):,}"


def _listing(rng: random.Random, logical_date: date, row_id: int, kind: str,
             division: ids.RegistrationDivision, enterprise: Enterprise | None) -> list:
    court = _court_for(rng, division)
    published = logical_date - timedelta(days=rng.choice((0, 0, 0, 1, 2, 3, 5)))
    filed = published - timedelta(days=rng.randint(20, 900))
    case = f"（{filed.year}）{court.code}执{'恢' if rng.random() < 0.1 else ''}{rng.randint(1, 9999)}号"
    judged = filed - timedelta(days=rng.randint(60, 700))
    if rng.random() < 0.1:
        basis_issuer = division.city_name.removesuffix("市") + "仲裁委员会"
        basis = f"{basis_issuer.removesuffix('委员会')}裁字（{judged.year}）第{rng.randint(1, 2000)}号"
    else:
        basis_issuer = basic_court(division).name
        instance = "初" if rng.random() < 0.8 else "终"
        basis = f"（{judged.year}）冀{division.code[2:6]}民{instance}{rng.randint(1, 9999)}号"
    conduct = rng.choices([c for c, _ in CONDUCTS], weights=[w for _, w in CONDUCTS])[0]
    obligation = rng.choice(OBLIGATIONS).format(amount=_amount(rng))
    performance = NOT_PERFORMED if rng.random() < 0.85 else PARTLY_PERFORMED
    if kind == KIND_PERSON:
        citizen_id, sex = ids.make_citizen_id(rng, logical_date)
        name, id_number, representative = ids.person_name(rng), citizen_id, None
    else:
        assert enterprise is not None
        name, id_number, representative, sex = enterprise.name, enterprise.uscc, enterprise.legal_representative, None
    return [row_id, case, name, kind, sex, id_number, representative, court.name, filed, basis, basis_issuer,
            obligation, performance, conduct, published, None, change_time(rng, logical_date)]


def generate_listings(
    logical_date: date, *, scale: int = 1, seed: int = 20261122, defect_share: float = 0.05,
    enterprises: list[Enterprise] | None = None,
) -> tuple[list[tuple], dict[str, int]]:
    """D's new listings (tuples in `COLUMNS` order) and the defect counts.

    `enterprises` defaults to `enterprises_for(...)` (which reads the registry database); pass a
    list to generate without any database.
    """
    check_run(scale, defect_share, max_scale=ID_DAY_FACTOR // ROWS_PER_SCALE - 1)
    rng = _rng(seed, logical_date, "listings")
    n = ROWS_PER_SCALE * scale
    kinds = listing_kinds(rng, n, PERSON_SHARE)
    if enterprises is None:
        enterprises = enterprises_for(logical_date, seed=seed, scale=scale, stream="court-debtors",
                                      count=kinds.count(KIND_ORGANISATION))
    rows = [_listing(rng, logical_date, row_id, kind, division, enterprise)
            for row_id, kind, division, enterprise in listed_subjects(rng, logical_date, kinds, enterprises)]

    counts = dict.fromkeys(DEFECT_KINDS, 0)
    for kind, i in listing_defects(rng, [r[3] for r in rows], DEFECT_KINDS, round(defect_share * n)):
        row = rows[i]
        if kind == "bad_citizen_id_check_character":
            row[5] = ids.wrong_citizen_id_check(rng, row[5])
        elif kind == "bad_uscc_check_character":
            row[5] = ids.wrong_check_character(rng, row[5])
        elif kind == "missing_case_number":
            row[1] = rng.choice([None, "", " ", "\u3000"])
        elif kind == "removal_before_publish":
            row[15] = row[14] - timedelta(days=rng.randint(1, 60))
            row[12] = PERFORMED
        else:
            row[7] = _unknown_court(rng, Court(row[7], ""))
        counts[kind] += 1
    return [tuple(r) for r in rows], counts


def _rng(seed: int, logical_date: date, stream: str) -> random.Random:
    return seeded_rng(SOURCE_ID, seed, logical_date, stream)


def _removals(conn, logical_date: date, *, seed: int, count: int) -> list[tuple[int, datetime]]:
    """(id, removal time) for `count` listings of earlier dates, picked by a hash of id.

    Candidates are judged on columns a removal never changes (case, name, code, court, dates), so
    a defective listing is never re-sent and a rerun of D picks the same rows.
    """
    if count <= 0:
        return []
    first_id, _ = day_id_range(logical_date)
    candidates = conn.execute(
        f"""select id, ah, bzxrmc, bzxrlx, zjhm, zxfy, larq, fbrq from {TABLE}
            where id < %s order by md5(%s || id::text), id limit %s""",
        (first_id, f"remove:{seed}:{logical_date.isoformat()}:", 2 * count + 20),
    ).fetchall()
    courts = known_court_names()
    picked = []
    for row_id, case, name, kind, code, court, filed, published in candidates:
        code = normalise_code(code)
        valid_code = is_valid_citizen_id(code) if kind == KIND_PERSON else _uscc.is_valid(code)
        if ((case or "").strip(" \u3000") and (name or "").strip(" \u3000") and valid_code and court in courts
                and filed is not None and published is not None and filed <= published < logical_date):
            picked.append(row_id)
    rng = _rng(seed, logical_date, "removals")
    return [(row_id, change_time(rng, logical_date)) for row_id in sorted(picked[:count])]


def simulate_court_debtors(
    source_url: str,
    logical_date: date,
    *,
    scale: int = 1,
    seed: int = 20261122,
    defect_share: float = 0.05,
) -> SimulationSummary:
    """Write D's new listings and removals into the court database; see the module doc."""
    rows, counts = generate_listings(logical_date, scale=scale, seed=seed, defect_share=defect_share)

    def remove(conn) -> int:
        removals = _removals(conn, logical_date, seed=seed, count=round(REMOVAL_SHARE * len(rows)))
        # Only listings not yet removed are removed (and those an earlier run of D removed).
        return update_earlier_rows(conn, TABLE, logical_date, removals, assignments="ycrq = %s, lxqk = %s",
                                   assignment_params=(logical_date, PERFORMED), requalifies="t.ycrq is null")

    updated = write_day_rows(SOURCE_ID, source_url, logical_date, table=TABLE, ddl=DDL, columns=COLUMNS, rows=rows,
                             then=remove)
    log.info("court_debtors %s: %d listed, %d removed, defects %s", logical_date, len(rows), updated, counts)
    return SimulationSummary.of(SOURCE_ID, logical_date, counts, inserted=len(rows), updated=updated)


def simulate(logical_date: date, *, scale: int = 1, seed: int = 20261122) -> SimulationSummary:
    """The catalog convention (`credit_dw.simulate.simulate_all`): into the configured source database."""
    return simulate_court_debtors(settings.source_url(SOURCE_ID), logical_date, scale=scale, seed=seed)

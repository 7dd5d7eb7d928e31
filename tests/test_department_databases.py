"""Two department databases read by the `sql` connector: social insurance (人社 参保缴费) and the
courts' dishonest judgment debtors (失信被执行人).

Simulate → ingest end to end against the embedded PostgreSQL: each injected defect is held back
by the check meant for it, counts are conserved, a rerun of a night changes nothing, the next
night reads only what changed, staging never shows a person's citizen ID, and the same connector
reads a MariaDB department database when one is reachable. Logical dates are in 2022 (this
file's own watermark chain).
"""

from __future__ import annotations

import os
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from psycopg import sql
from stdnum.cn import ric, uscc

from credit_dw.catalog import get_source
from credit_dw.config import settings
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import court_debtors as cd
from credit_dw.simulate import enterprises as ent
from credit_dw.simulate import identities, simulate_market_registry
from credit_dw.simulate import social_insurance as si
from credit_dw.transform import dbt as transform

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT_1, NIGHT_2 = date(2022, 3, 1), date(2022, 3, 2)
MARIADB_NIGHTS = (date(2022, 1, 10), date(2022, 1, 11))
REGISTRY_DB = "src_market_registry_department_tests"

# Simulator defect kind -> the critical check that must hold it back (one check per kind).
SI_DEFECT_CHECKS = {
    "bad_check_character": "uscc_check_character",
    "missing_name": "subject_name_required",
    "invalid_contribution_month": "contribution_month_valid",
}
SI_AMOUNT_CHECKS = ("amount_due_valid", "amount_paid_valid", "arrears_amount_valid")
CD_DEFECT_CHECKS = {
    "bad_citizen_id_check_character": "citizen_id_check_character",
    "bad_uscc_check_character": "uscc_check_character",
    "missing_case_number": "case_number_required",
    "removal_before_publish": "removal_not_before_publish",
    "unknown_court": "court_known",
}


def _drop_database(url: str) -> None:
    name = settings.pg_params(url).dbname
    with psycopg.connect(settings.with_database(settings.libpq_url(url), "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _digest(url: str, table: str) -> str:
    with psycopg.connect(settings.libpq_url(url)) as src:
        query = f"select md5(coalesce(string_agg(t::text, '|' order by id), '')) from {table} t"
        return src.execute(query).fetchone()[0]


def _critical_by_check(conn, batch_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "select check_name, count(*) from meta.row_issues where batch_id = %s and severity = 'critical' "
        "group by check_name",
        (batch_id,),
    ).fetchall())


def _night(source_id: str, simulate, night: date, conn, **kwargs) -> dict:
    summary = simulate(settings.source_url(source_id), night, **kwargs)
    outcome = ingest.ingest(source_id, night)
    return {"summary": summary, "outcome": outcome, "checks": _critical_by_check(conn, outcome.batch_id)}


@pytest.fixture(scope="module")
def seeded(warehouse_url: str) -> str:
    transform.seed_reference()  # the gates check division codes and court names against them
    return warehouse_url


@pytest.fixture(scope="module")
def nights(seeded):
    """Night 1 (scale 2, 10 % defects), night 1 again, then night 2, for both feeds.

    Enterprises come from a registry database of this module's own (SOURCE_MARKET_REGISTRY_URL),
    so the shared registry database other test files ingest is left alone.
    """
    warehouse_url = seeded
    registry_url = settings.with_database(settings.libpq_url(warehouse_url), REGISTRY_DB)
    feeds = {"social_insurance": (si.simulate_social_insurance, si.TABLE),
             "court_debtors": (cd.simulate_court_debtors, cd.TABLE)}
    with pytest.MonkeyPatch.context() as mp, psycopg.connect(warehouse_url, autocommit=True) as conn:
        mp.setenv("SOURCE_MARKET_REGISTRY_URL", registry_url)
        _drop_database(registry_url)
        for source_id in feeds:
            _drop_database(settings.source_url(source_id))
        for night in (NIGHT_1, NIGHT_2):
            simulate_market_registry(registry_url, night, scale=2)
        with psycopg.connect(registry_url) as reg:
            registry_codes = {ent.normalise_code(r[0])
                              for r in reg.execute("select tyshxydm from registry.t_sczt_djxx")}

        result: dict = {"registry_codes": registry_codes}
        for source_id, (simulate, table) in feeds.items():
            url = settings.source_url(source_id)
            first = _night(source_id, simulate, NIGHT_1, conn, scale=2, defect_share=0.1)
            digest = _digest(url, table)
            again = _night(source_id, simulate, NIGHT_1, conn, scale=2, defect_share=0.1)
            unchanged = digest == _digest(url, table)
            second = _night(source_id, simulate, NIGHT_2, conn, scale=2, defect_share=0.1)
            result[source_id] = {"first": first, "again": again, "second": second, "source_unchanged": unchanged}
        yield result


# --- simulators alone ---------------------------------------------------------------------

@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_citizen_id_check_character_agrees_with_stdnum(first17):
    assert identities.citizen_id_check_character(first17) == ric.calc_check_digit(first17 + "0")


def test_simulated_people_have_real_hebei_ids_matching_their_sex():
    pool = ent.generated_enterprises(7, 1)
    rows, counts = cd.generate_listings(NIGHT_1, scale=3, seed=7, enterprises=pool, defect_share=0.1)
    codes = {r["division_code"] for r in identities.read_seed_divisions()}
    people = [r for r in rows if r[3] == cd.KIND_PERSON]
    bad = [r for r in people if ric.calc_check_digit(r[5]) != r[5][-1]]
    assert len(bad) == counts["bad_citizen_id_check_character"] > 0
    for row in people:
        code = row[5]
        born = date(int(code[6:10]), int(code[10:12]), int(code[12:14]))  # a real date, or ValueError
        assert code[:6] in codes
        assert 18 <= (NIGHT_1 - born).days // 365 <= 71  # adults: a debtor with legal capacity
        assert row[4] == ("男" if int(code[16]) % 2 else "女")


def test_generation_is_deterministic_and_seeded():
    pool = ent.generated_enterprises(3, 1)
    assert pool == ent.generated_enterprises(3, 1)
    assert all(uscc.is_valid(e.uscc) for e in pool)
    a = si.generate_contributions(NIGHT_1, seed=3, enterprises=pool)
    assert a == si.generate_contributions(NIGHT_1, seed=3, enterprises=pool)
    assert a != si.generate_contributions(NIGHT_1, seed=4, enterprises=pool)
    b = cd.generate_listings(NIGHT_1, seed=3, enterprises=pool)
    assert b == cd.generate_listings(NIGHT_1, seed=3, enterprises=pool)
    assert b != cd.generate_listings(NIGHT_2, seed=3, enterprises=pool)


def test_without_a_registry_enterprises_are_generated(monkeypatch, warehouse_url):
    missing = settings.with_database(settings.libpq_url(warehouse_url), "src_no_such_registry")
    monkeypatch.setenv("SOURCE_MARKET_REGISTRY_URL", missing)
    assert ent.registry_enterprises(NIGHT_1, seed=1, stream="x", count=10) is None
    found = ent.enterprises_for(NIGHT_1, seed=1, scale=1, stream="x", count=30)
    assert len({e.uscc for e in found}) == 30
    assert all(uscc.is_valid(e.uscc) and e.name for e in found)


# --- end to end on PostgreSQL -------------------------------------------------------------

def test_employers_and_debtor_organisations_are_registry_enterprises(nights, conn):
    codes = nights["registry_codes"]
    for source_id, relation, column, where in (
        ("social_insurance", "raw.social_insurance__contributions", "uscc", "true"),
        ("court_debtors", "raw.court_debtors__listings", "id_number", "subject_kind = '法人或其他组织'"),
    ):
        batch_id = nights[source_id]["first"]["outcome"].batch_id
        sent = {r[0] for r in conn.execute(
            f"select {column} from {relation} where _batch_id = %s and {where} and not exists ("
            f"  select 1 from meta.quarantine q where q.batch_id = _batch_id and q.row_number = _row_number)",
            (batch_id,),
        )}
        assert sent and sent <= codes, (source_id, sorted(sent - codes)[:5])


def test_social_insurance_defects_are_held_by_their_checks(nights):
    first = nights["social_insurance"]["first"]
    defects, checks, outcome = first["summary"].defects, first["checks"], first["outcome"]
    assert all(defects[k] > 0 for k in si.DEFECT_KINDS), defects
    for kind, check in SI_DEFECT_CHECKS.items():
        assert checks.get(check, 0) == defects[kind], (kind, checks)
    assert sum(checks.get(c, 0) for c in SI_AMOUNT_CHECKS) == defects["negative_amount"]
    expected = set(SI_DEFECT_CHECKS.values()) | {c for c in SI_AMOUNT_CHECKS if checks.get(c)}
    assert set(checks) == expected, checks  # no clean row was held by any other check
    assert outcome.rows_quarantined == sum(defects.values())
    # A negated amount also breaks 欠缴 = 应缴 - 实缴: flagged, not held twice.
    assert outcome.rows_warned == defects["negative_amount"]
    assert outcome.status == "accepted"


def test_court_debtor_defects_are_held_by_their_checks(nights):
    first = nights["court_debtors"]["first"]
    defects, checks, outcome = first["summary"].defects, first["checks"], first["outcome"]
    assert all(defects[k] > 0 for k in cd.DEFECT_KINDS), defects
    assert checks == {CD_DEFECT_CHECKS[k]: n for k, n in defects.items()}
    assert outcome.rows_quarantined == sum(defects.values())
    assert outcome.rows_warned == 0
    assert outcome.status == "accepted"


@pytest.mark.parametrize("source_id", ["social_insurance", "court_debtors"])
def test_counts_are_conserved(nights, conn, source_id):
    relation = get_source(source_id).raw_relation
    for key in ("first", "second"):
        outcome = nights[source_id][key]["outcome"]
        received, accepted, quarantined = conn.execute(
            "select rows_received, rows_accepted, rows_quarantined from meta.load_batches where batch_id = %s",
            (outcome.batch_id,),
        ).fetchone()
        batch = (outcome.batch_id,)
        landed = conn.execute(f"select count(*) from {relation} where _batch_id = %s", batch).fetchone()[0]
        held = conn.execute("select count(*) from meta.quarantine where batch_id = %s", batch).fetchone()[0]
        assert received == landed == accepted + quarantined == nights[source_id][key]["summary"].rows_written
        assert quarantined == held


@pytest.mark.parametrize("source_id", ["social_insurance", "court_debtors"])
def test_rerunning_a_night_changes_nothing(nights, source_id):
    feed = nights[source_id]
    assert feed["source_unchanged"], "rerunning the simulator changed the department database"
    first, again = feed["first"], feed["again"]
    assert again["summary"] == first["summary"]
    keys = ("status", "rows_received", "rows_accepted", "rows_quarantined", "rows_warned")
    assert [getattr(again["outcome"], k) for k in keys] == [getattr(first["outcome"], k) for k in keys]
    assert again["checks"] == first["checks"]


def test_the_second_night_reads_only_its_own_changes(nights, conn):
    lo = datetime.combine(NIGHT_2, time(0), tzinfo=SHANGHAI)
    hi = lo + timedelta(days=1)
    for source_id, changed in (("social_insurance", "payment_status = '已补缴'"),
                               ("court_debtors", "removed_on = '2022-03-02'")):
        second = nights[source_id]["second"]
        summary, outcome = second["summary"], second["outcome"]
        assert summary.rows_updated > 0, source_id  # settlements / removals of night-1 rows
        relation = get_source(source_id).raw_relation
        outside, updates = conn.execute(
            f"""select count(*) filter (where not (credit.try_timestamptz(updated_at) >= %s
                                                and credit.try_timestamptz(updated_at) < %s)),
                       count(*) filter (where {changed})
                from {relation} where _batch_id = %s""",
            (lo, hi, outcome.batch_id),
        ).fetchone()
        assert outcome.rows_received == summary.rows_written
        assert outside == 0
        assert updates == summary.rows_updated
        # Only new rows carry defects: a settled or removed row is re-sent clean.
        assert outcome.rows_quarantined == sum(summary.defects.values())


def test_staging_holds_accepted_rows_and_no_clear_citizen_id(nights, conn):
    transform.run_dbt(["build", "--select", "stg_social_insurance__contributions", "stg_court_debtors__listings"])
    for source_id, view in (("social_insurance", "staging.stg_social_insurance__contributions"),
                            ("court_debtors", "staging.stg_court_debtors__listings")):
        for key in ("first", "second"):
            outcome = nights[source_id][key]["outcome"]
            staged = conn.execute(f"select count(*) from {view} where batch_id = %s", (outcome.batch_id,)).fetchone()[0]
            assert staged == outcome.rows_accepted, (source_id, key)

    # No 18-character ID anywhere in a person's row. The 64-hex hash is left out of the search: it
    # holds 18 decimal digits in a row for about one person in a hundred.
    people, leaked = conn.execute(
        r"""select count(*),
                   count(*) filter (where (to_jsonb(s) - 'subject_id_hash')::text ~ '[0-9]{17}[0-9X]')
            from staging.stg_court_debtors__listings s where subject_type = 'natural_person'"""
    ).fetchone()
    assert people > 0 and leaked == 0
    # The hash is the keyed HMAC of the normalised raw ID, the mask keeps region and last four characters.
    mismatched = conn.execute(
        """select count(*) from staging.stg_court_debtors__listings s
           join raw.court_debtors__listings r on r._batch_id = s.batch_id and r._row_number = s.source_row_number
           where s.subject_type = 'natural_person'
             and (s.subject_id_hash <> credit.subject_hash(credit.normalize_code(r.id_number))
                  or s.citizen_id_masked <> left(credit.normalize_code(r.id_number), 6) || '********'
                                            || right(credit.normalize_code(r.id_number), 4))"""
    ).fetchone()[0]
    assert mismatched == 0
    arrears = conn.execute(
        """select count(*) filter (where has_arrears),
                  count(*) filter (where amount_due - amount_paid <> arrears_amount)
           from staging.stg_social_insurance__contributions"""
    ).fetchone()
    assert arrears[0] > 0 and arrears[1] == 0


# --- the same connector against MariaDB ---------------------------------------------------

MARIADB_DDL = """
create table {table} (
    id          bigint primary key,
    dwtyshxydm  varchar(20) comment '单位统一社会信用代码',
    dwmc        varchar(200) comment '单位名称',
    dwbh        varchar(20) comment '单位社会保险编号',
    cbd_xzqh    varchar(6) comment '参保地行政区划代码',
    xzlx        varchar(20) comment '险种类型',
    jfny        varchar(10) comment '缴费年月（YYYYMM）',
    cbrs        int comment '参保人数',
    jfjs        decimal(14, 2) comment '缴费基数（元）',
    yjje        decimal(14, 2) comment '应缴金额（元）',
    sjje        decimal(14, 2) comment '实缴金额（元）',
    qjje        decimal(14, 2) comment '欠缴金额（元）',
    jfzt        varchar(10) comment '缴费状态',
    gxsj        datetime not null comment '更新时间（北京时间）',
    key ix_gxsj (gxsj)
) default charset = utf8mb4 comment = '单位参保缴费信息'
"""


@pytest.fixture(scope="module")
def mariadb_port():
    """A MariaDB server of the test's own (Debian's mariadb-server, `make mariadb`): a data
    directory initialised in a temporary directory, a free port on 127.0.0.1, no grant tables (a
    throwaway server nobody else reaches); stopped and removed after."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import time as clock

    pymysql = pytest.importorskip("pymysql")  # a dev dependency: always installed by make setup
    assert Path("/usr/sbin/mariadbd").exists(), "mariadbd is missing: `make mariadb` installs mariadb-server"
    work = Path(tempfile.mkdtemp(prefix="credit-dw-mariadb-"))
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    init = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={work / 'data'}", "--skip-test-db",
                           *as_root], capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stdout[-2000:] + init.stderr[-2000:]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={work / 'data'}", f"--socket={work / 'mysqld.sock'}",
         f"--pid-file={work / 'mysqld.pid'}", f"--log-error={work / 'error.log'}", "--bind-address=127.0.0.1",
         f"--port={port}", "--skip-grant-tables", "--skip-log-bin", *as_root],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = clock.monotonic() + 120
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=2).close()
                break
            except pymysql.err.MySQLError:
                log = (work / "error.log").read_text(errors="replace") if (work / "error.log").exists() else ""
                assert server.poll() is None and clock.monotonic() < deadline, log[-3000:]
                clock.sleep(0.5)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def _mariadb(port: int):
    import pymysql

    return pymysql.connect(host="127.0.0.1", port=port, user="root", password="", connect_timeout=3,
                           charset="utf8mb4", autocommit=True)


def _mariadb_rows(night: date, enterprises: list[ent.Enterprise]) -> list[tuple]:
    rows, counts = si.generate_contributions(night, seed=11, enterprises=enterprises, defect_share=0.1)
    assert counts["bad_check_character"] == 1
    # A MySQL department system keeps local (Beijing) wall-clock time in a DATETIME column.
    return [(*r[:-1], r[-1].astimezone(SHANGHAI).replace(tzinfo=None)) for r in rows]


@pytest.fixture(scope="module")
def mariadb_source(seeded, mariadb_port):
    """Database shbx on the MariaDB server with two nights of contribution rows, both there from
    the start (each night's window must pick its own). Yields the SQLAlchemy URL and the rows."""
    server = _mariadb(mariadb_port)
    database = si.SCHEMA  # MySQL has no schemas: the relation shbx.t_dwcbjf is database shbx
    with server.cursor() as cur:
        cur.execute("select schema_name from information_schema.schemata where schema_name = %s", (database,))
        created = cur.fetchone() is None
        cur.execute(f"create database if not exists {database} character set utf8mb4")
        cur.execute(f"drop table if exists {si.TABLE}")
        cur.execute(MARIADB_DDL.format(table=si.TABLE))
    try:
        enterprises = ent.generated_enterprises(11, 1)
        rng = random.Random(11)
        rows = {night: _mariadb_rows(night, rng.sample(enterprises, 4)) for night in MARIADB_NIGHTS}
        insert = f"insert into {si.TABLE} ({', '.join(si.COLUMNS)}) values ({', '.join(['%s'] * len(si.COLUMNS))})"
        with server.cursor() as cur:
            cur.executemany(insert, [r for night in MARIADB_NIGHTS for r in rows[night]])
        yield f"mysql+pymysql://root@127.0.0.1:{mariadb_port}/{database}", rows
    finally:
        with server.cursor() as cur:
            cur.execute(f"drop database {database}" if created else f"drop table if exists {si.TABLE}")
        server.close()


def _ingest_from_mariadb(conn, monkeypatch, url: str, night: date, rows: list[tuple]) -> None:
    monkeypatch.setenv("SOURCE_SOCIAL_INSURANCE_URL", url)
    assert settings.sqlalchemy_url(settings.source_url("social_insurance")) == url  # passed through unchanged
    outcome = ingest.ingest("social_insurance", night)
    assert outcome.status == "accepted"
    assert outcome.rows_received == len(rows) == 12
    assert outcome.rows_quarantined == 1
    assert _critical_by_check(conn, outcome.batch_id) == {"uscc_check_character": 1}
    days, names = conn.execute(
        """select array_agg(distinct (credit.try_timestamptz(updated_at) at time zone 'Asia/Shanghai')::date),
                  array_agg(distinct subject_name)
           from raw.social_insurance__contributions where _batch_id = %s""",
        (outcome.batch_id,),
    ).fetchone()
    assert days == [night]  # Beijing wall-clock times read back as Beijing time
    assert set(names) == {r[2] for r in rows}  # Chinese text intact through utf8mb4


def test_sql_connector_reads_a_mariadb_department_database(mariadb_source, conn, monkeypatch):
    url, rows = mariadb_source
    _ingest_from_mariadb(conn, monkeypatch, url, MARIADB_NIGHTS[0], rows[MARIADB_NIGHTS[0]])


def test_mariadb_next_night_reads_only_its_own_rows(mariadb_source, conn, monkeypatch):
    url, rows = mariadb_source
    _ingest_from_mariadb(conn, monkeypatch, url, MARIADB_NIGHTS[0], rows[MARIADB_NIGHTS[0]])
    _ingest_from_mariadb(conn, monkeypatch, url, MARIADB_NIGHTS[1], rows[MARIADB_NIGHTS[1]])

"""Subject resolution across feeds: 重错码 held out and listed, jurisdictions, and the keyed hash
that stands for natural persons' ID numbers [000 §2.4; rules §3, §9].

One simulated night of 2016 (this file's year): the market registry, then the two dual-publicity
feeds drawing their subjects from it, plus a hand-made penalty file that reports a registered code
under another name and a registered name under another code. Runs against the embedded PostgreSQL.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import random
from datetime import date, timedelta

import psycopg
import pytest
from conftest import ensure_all_raw_tables, subject_hash_key

from credit_dw.catalog import get_source
from credit_dw.config import settings
from credit_dw.db import privacy
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import admin_licence, admin_penalty, identities, simulate_market_registry
from credit_dw.simulate import dual_publicity as dp
from credit_dw.transform import dbt as transform

NIGHT = date(2016, 6, 14)
TEST_KEY = "subject-resolution-test-key-2016"
OTHER_NAME = "测试冲突名称有限公司"


def _registered(conn) -> list[tuple[str, str]]:
    """(uscc, name) of accepted registry rows whose code is on a single row of the night."""
    return conn.execute(
        """select r.uscc, r.subject_name from raw.market_registry__subjects r
           where r._batch_id = %s and r.uscc ~ '^91[0-9]{6}[0-9A-Z]{10}$' and credit.is_valid_uscc(r.uscc)
             and not exists (select 1 from meta.quarantine q
                             where q.batch_id = r._batch_id and q.row_number = r._row_number)
             and not exists (select 1 from raw.market_registry__subjects o
                             where o._batch_id = r._batch_id and o._row_number <> r._row_number and o.uscc = r.uscc)
           order by r._row_number limit 2""",
        (f"market_registry/{NIGHT.isoformat()}",),
    ).fetchall()


def _penalty_file(rows: list[dict]) -> bytes:
    """A department's penalty file (UTF-8, the template's Chinese headers) of rows that pass the gate."""
    fields = get_source("admin_penalty").fields
    base = {"subject_category": "法人及非法人组织", "penalty_category": "罚款", "fine_amount_10k_yuan": "1",
            "decision_date": (NIGHT - timedelta(days=1)).isoformat(), "authority_name": "河北省生态环境厅",
            "source_department": "河北省生态环境厅", "violation_type": "超标排放大气污染物",
            "penalty_basis": "《中华人民共和国大气污染防治法》第九十九条", "penalty_content": "罚款一万元"}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields.values())
    for i, record in enumerate(rows, 1):
        full = {**base, "decision_document_number": f"冀环罚〔2016〕冲突{i:03d}号", **record}
        writer.writerow([full.get(f, "") for f in fields])
    return buffer.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def night(warehouse_url):
    """The night, ingested and built; returns what was injected."""
    with subject_hash_key(TEST_KEY):
        privacy.install_hash_key(warehouse_url)
        transform.run_dbt(["seed", "--select", "hebei_divisions"])  # the registry gate checks divisions
        ensure_all_raw_tables()

        simulate_market_registry(settings.source_url("market_registry"), NIGHT, scale=1)
        registry = ingest.ingest("market_registry", NIGHT)
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            (code_a, name_a), (code_b, name_b) = _registered(conn)

        admin_penalty.simulate(NIGHT)
        admin_licence.simulate(NIGHT)
        rng = random.Random("subject-resolution")
        stranger_code = identities.make_uscc(rng, "130402")  # 邯郸 邯山区: not in the registry
        person_id = dp.citizen_id(rng, identities.registration_divisions())
        inbox = settings.inbox_dir("admin_penalty", NIGHT.isoformat())
        (inbox / "hbsthjt_conflicts.csv").write_bytes(_penalty_file([
            {"subject_name": OTHER_NAME, "uscc": code_a},  # a registered code under another name
            {"subject_name": name_b.replace("有限", " 有限"), "uscc": code_b},  # same name, typed with a space
            {"subject_name": name_b, "uscc": stranger_code},  # a registered name under another code
            {"subject_name": "王测试", "subject_category": "自然人", "id_type": "身份证",
             "id_number": identities.to_fullwidth(person_id)},
        ]))
        outcomes = {s: ingest.ingest(s, NIGHT) for s in ("admin_penalty", "admin_licence")}
        assert registry.status == "accepted" and all(o.status == "accepted" for o in outcomes.values()), outcomes

        # Staging's own tests belong to the feeds' suites, so they are left out here; "cautious" keeps
        # out tests of seeds this build does not load (departments -> hebei_divisions).
        transform.run_dbt(["build", "--select", "+rpt_code_conflicts", "+dim_subject", "+dim_jurisdiction",
                           "int_subjects_resolved", "--exclude", "path:models/staging,resource_type:test",
                           "--indirect-selection", "cautious"])
        yield {"code_a": code_a, "name_a": name_a, "code_b": code_b, "name_b": name_b,
               "stranger_code": stranger_code, "person_id": person_id}


def test_a_code_reported_under_another_name_is_listed_for_its_registering_department(night, conn):
    row = conn.execute(
        """select registering_authority_code, registering_authority, registering_division_code,
                  reporting_unit_code, subject_names, source_ids, departments, details, first_seen_on
           from marts.rpt_code_conflicts where conflict_kind = 'one_code_several_names' and uscc = %s""",
        (night["code_a"],),
    ).fetchone()
    assert row is not None, "the cross-feed conflict is not listed"
    authority, authority_name, division, unit, names, feeds, departments, details, first_seen = row
    assert (authority, authority_name) == ("9", "市场监管")
    assert division == night["code_a"][2:8]
    assert unit is not None and unit.startswith("13")
    assert set(names.split("；")) == {night["name_a"], OTHER_NAME}
    assert {"admin_penalty", "market_registry"} <= set(feeds.split("；"))
    assert "河北省生态环境厅" in departments and "河北省市场监督管理局" in departments
    assert night["code_a"] in details and OTHER_NAME in details
    assert first_seen == NIGHT


def test_a_name_under_another_code_is_listed_for_both_codes_but_spacing_is_not_a_conflict(night, conn):
    rows = dict(conn.execute(
        """select uscc, usccs from marts.rpt_code_conflicts where conflict_kind = 'one_name_several_codes'
           and %s = any(string_to_array(usccs, '；'))""",
        (night["stranger_code"],),
    ).fetchall())
    assert set(rows) == {night["code_b"], night["stranger_code"]}
    # code_b was also reported as "… 有限…" (a space): the same name, so no code conflict for it.
    spaced = conn.execute(
        "select count(*) from marts.rpt_code_conflicts where conflict_kind = 'one_code_several_names' and uscc = %s",
        (night["code_b"],),
    ).fetchone()[0]
    assert spaced == 0


def test_conflicted_subjects_are_flagged_and_keep_their_registry_record(night, conn):
    flagged = {uscc: (flag, name) for uscc, flag, name in conn.execute(
        "select uscc, has_code_conflict, subject_name from marts.dim_subject where uscc = any(%s)",
        ([night["code_a"], night["code_b"]],),
    ).fetchall()}
    assert flagged == {night["code_a"]: (True, night["name_a"]), night["code_b"]: (True, night["name_b"])}
    assert conn.execute("select count(*) from marts.dim_subject where uscc = %s",
                        (night["code_a"],)).fetchone()[0] == 1
    # The unregistered code is a subject of its own, flagged, without a name picked for it, and
    # placed by the code's division (邯山区 → 邯郸).
    stranger = conn.execute(
        """select subject_type, subject_name, has_code_conflict, is_registered, division_source, jurisdiction_code
           from intermediate.int_subjects_resolved where subject_id = %s""",
        (night["stranger_code"],),
    ).fetchone()
    assert stranger == ("organisation", None, True, False, "uscc", "130400")
    clean = conn.execute(
        "select count(*) filter (where has_code_conflict), count(*) from marts.dim_subject"
    ).fetchone()
    assert 0 < clean[0] < clean[1]


def test_a_duplicate_code_within_the_registry_batch_is_quarantined_not_listed(night, conn):
    duplicated = [r[0] for r in conn.execute(
        """select distinct credit.normalize_code(r.uscc) from meta.row_issues i
           join raw.market_registry__subjects r on r._batch_id = i.batch_id and r._row_number = i.row_number
           where i.batch_id = %s and i.check_name = 'uscc_one_name'""",
        (f"market_registry/{NIGHT.isoformat()}",),
    ).fetchall()]
    assert duplicated, "the simulator injected no duplicate code this night"
    listed = conn.execute(
        """select count(*) from marts.rpt_code_conflicts c where c.uscc = any(%s)
             and 'market_registry' = any(string_to_array(c.source_ids, '；'))""",
        (duplicated,),
    ).fetchone()[0]
    assert listed == 0


def test_natural_persons_are_keyed_by_the_hmac_of_their_id(night, conn):
    ids = [r[0] for r in conn.execute(
        """select r.id_number from raw.admin_penalty__penalties r
           join meta.load_batches b on b.batch_id = r._batch_id and b.status = 'accepted'
           where r._batch_id = %s and r.subject_category = '自然人'
             and not exists (select 1 from meta.quarantine q
                             where q.batch_id = r._batch_id and q.row_number = r._row_number)
           union
           select r.id_number from raw.admin_licence__licences r
           join meta.load_batches b on b.batch_id = r._batch_id and b.status = 'accepted'
           where r._batch_id = %s and r.subject_category = '自然人'
             and not exists (select 1 from meta.quarantine q
                             where q.batch_id = r._batch_id and q.row_number = r._row_number)""",
        (f"admin_penalty/{NIGHT.isoformat()}", f"admin_licence/{NIGHT.isoformat()}"),
    ).fetchall()]
    assert len(ids) > 1
    key = TEST_KEY.encode()
    expected = {privacy.subject_hash(i, key) for i in ids}
    persons = dict(conn.execute(
        """select subject_id, citizen_id_masked from intermediate.int_subjects_resolved
           where subject_type = 'natural_person'"""
    ).fetchall())
    # Other test modules share the warehouse: this night's persons are all there, keyed by the HMAC.
    assert expected <= set(persons)
    # The hand-made person's ID was typed full-width: it hashes like the half-width ID.
    mine = hmac.new(key, night["person_id"].encode(), hashlib.sha256).hexdigest()
    assert persons[mine] == night["person_id"][:6] + "********" + night["person_id"][-4:]
    assert not any(i in value for i in ids for value in persons)


def test_the_hash_follows_the_installed_key_and_refuses_without_one(night, conn):
    person = night["person_id"]
    assert conn.execute("select credit.subject_hash(%s)", (person,)).fetchone()[0] == \
        privacy.subject_hash(person, TEST_KEY.encode())
    os.environ[privacy.ENV_VAR] = "another-key"
    try:
        privacy.install_hash_key()
        assert conn.execute("select credit.subject_hash(%s)", (person,)).fetchone()[0] == \
            privacy.subject_hash(person, b"another-key")
        conn.execute("delete from restricted.subject_hash_key")
        with pytest.raises(psycopg.errors.RaiseException, match="no subject hash key"):
            conn.execute("select credit.subject_hash(%s)", (person,))
    finally:
        os.environ[privacy.ENV_VAR] = TEST_KEY
        privacy.install_hash_key()
    assert conn.execute("select credit.subject_hash(%s)", (person,)).fetchone()[0] == \
        privacy.subject_hash(person, TEST_KEY.encode())


def test_readers_can_neither_read_the_key_nor_hash_ids(night, conn):
    conn.execute("do $$ begin create role subject_test_reader; exception when duplicate_object then null; end $$")
    conn.execute("grant usage on schema credit, marts to subject_test_reader")
    conn.execute("grant select on all tables in schema marts to subject_test_reader")
    try:
        conn.execute("set role subject_test_reader")
        assert conn.execute("select count(*) from marts.dim_jurisdiction").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from restricted.subject_hash_key")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select credit.subject_hash('130102199001011234')")
    finally:
        conn.execute("reset role")


def test_jurisdictions_are_the_current_divisions_with_their_reporting_unit(night, conn):
    current = conn.execute("select count(*) from reference.hebei_divisions where is_current").fetchone()[0]
    rows = {code: (level, unit, direct) for code, level, unit, direct in conn.execute(
        """select division_code, division_level, reporting_unit_code, is_province_direct_county_city
           from marts.dim_jurisdiction"""
    ).fetchall()}
    assert len(rows) == current
    assert rows["130682"] == ("county", "130682", True)  # 定州
    assert rows["130181"] == ("county", "130181", True)  # 辛集
    assert rows["130629"][1] == "133100"  # 容城 reports under 雄安新区
    assert rows["130102"] == ("county", "130100", False)  # 长安区 under 石家庄
    assert conn.execute("""select count(*) from marts.dim_jurisdiction
                           where not is_reporting_unit and division_level = 'city'""").fetchone()[0] == 0

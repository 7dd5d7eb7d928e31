"""Shijiazhuang's other administrative acts (其他行政行为, feed `admin_act` [004 (十五)]) end to end:
the simulated departments' files → file-drop connector → gate (every injected defect held back by
its own check, returned to its department) → staging → fct_admin_act (deadline and publicity
period per kind from the office's seed) → the profile, and the publicity export carrying an act
only inside its kind's period, on both sides of the boundary; a rerun changes nothing.

Logical dates: November 2021 belongs to this file (nights 2021-11-15 and 2021-11-16; the marts
are also rebuilt "as of" dates in 2022 and 2024, as-of dates only, no batch).
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import psycopg
import pytest
from conftest import ensure_all_raw_tables, seed_reference_unless_seeded

from credit_dw.config import settings
from credit_dw.connectors.files.receipts import file_receipts
from credit_dw.exports.targets import publicity
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest import returns
from credit_dw.simulate import admin_act
from credit_dw.transform import dbt as transform

NIGHT = date(2021, 11, 15)
SECOND_NIGHT = date(2021, 11, 16)

# What each injected defect must trip (simulator kind -> gate check); duplicates hold both rows.
CHECKS = {
    "bad_check_character": "uscc_check_character",
    "missing_subject_name": "subject_name_required",
    "future_decision": "decision_date_not_after_night",
    "unknown_act_kind": "act_kind_known",
    "negative_amount": "amount_valid",
    "duplicate_document_number": "document_number_unique",
}


def _vars(as_of: date) -> str:
    return f"{{as_of_date: '{as_of.isoformat()}'}}"


def _quarantined_by_check(conn, batch_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "select check_name, count(*) from meta.row_issues where batch_id = %s and severity = 'critical' "
        "group by check_name", (batch_id,)).fetchall())


def _mine(conn, sql: str, params: tuple = ()) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def nights(warehouse_url: str) -> dict:
    """Two nights simulated and ingested (scale 3, 10 % defects), the profile's lineage built as of
    the second night."""
    seed_reference_unless_seeded(warehouse_url, "admin_act_kinds")
    ensure_all_raw_tables()
    days = {}
    for night in (NIGHT, SECOND_NIGHT):
        day = admin_act.write_day(night, scale=3, defect_share=0.1)
        days[night] = (day, ingest.ingest("admin_act", night))
        returns.write_return_notices("admin_act", night)
    transform.run_dbt(["build", "--select", "+fct_admin_act", "+prf_subject_credit_profile",
                       "--vars", _vars(SECOND_NIGHT)])
    return days


def test_the_night_lands_from_every_department_in_its_own_format(nights, conn):
    day, outcome = nights[NIGHT]
    receipts = file_receipts(outcome.batch_id)
    assert all(r["outcome"] == "landed" for r in receipts)
    assert {r["file_name"].split("_")[0] for r in receipts} == {d.code for d in admin_act.DEPARTMENTS}
    assert {r["encoding"] for r in receipts} == {"gb18030", "utf-8", "utf-8-sig", None}
    assert {r["file_format"] for r in receipts} == {"csv", "xlsx"}
    assert sum(r["rows"] for r in receipts) == day.summary.rows_written == outcome.rows_received == 150
    kinds = {k for (k,) in _mine(conn, "select distinct act_kind from raw.admin_act__acts where _batch_id = %s",
                                 (outcome.batch_id,))}
    seeded = {k for (k,) in _mine(conn, "select act_kind_name from reference.admin_act_kinds")}
    assert len(seeded) == 8 and seeded <= kinds  # every kind of the seed, plus the unknown ones injected
    assert day.summary.defects[admin_act.LATE_KIND] > 0  # some late (fct_admin_act's business, not a defect)


def test_each_injected_defect_is_quarantined_by_its_check_and_returned(nights, conn):
    day, outcome = nights[NIGHT]
    defects = day.summary.defects
    assert all(defects[kind] > 0 for kind in CHECKS)
    expected = {check: defects[kind] * (2 if kind == "duplicate_document_number" else 1)
                for kind, check in CHECKS.items()}
    assert _quarantined_by_check(conn, outcome.batch_id) == expected
    assert outcome.status == "accepted"
    assert outcome.rows_received == outcome.rows_accepted + outcome.rows_quarantined
    assert outcome.rows_quarantined == sum(expected.values())
    # Returned to the department that sent each row (数据来源单位), under its own headers.
    notices = {n.department: n for n in returns.write_return_notices("admin_act", NIGHT)}
    assert set(notices) <= {d.name for d in admin_act.DEPARTMENTS}
    assert sum(n.rows for n in notices.values()) == outcome.rows_quarantined
    some = next(iter(notices.values()))
    header = next(csv.reader(io.StringIO(some.path.read_text(encoding="utf-8-sig"))))
    assert "行政行为类别" in header and "决定文书号" in header
    assert some.path.is_relative_to(settings.home() / "outbox" / "returns")


def test_every_accepted_act_is_one_fact_with_its_kinds_numbers(nights, conn):
    staged = _mine(conn, """select count(distinct (act_kind_name, decision_document_number,
                                                coalesce(uscc, id_number)))
                            from staging.stg_admin_act__acts where batch_id like 'admin_act/2021-11-%%'""")[0][0]
    facts = _mine(conn, """select count(*), count(distinct act_id) from marts.fct_admin_act
                           where last_batch_id like 'admin_act/2021-11-%%'""")[0]
    assert staged > 0 and facts == (staged, staged)
    # Each kind's deadline and period are the seed's, the due date the working-day calendar's.
    wrong = _mine(conn, """select count(*) from marts.fct_admin_act f
                           join reference.admin_act_kinds k on k.act_kind = f.act_kind
                           where f.last_batch_id like 'admin_act/2021-11-%%'
                             and (f.act_kind_name <> k.act_kind_name
                                  or f.reporting_due_on <> credit.add_working_days(f.decision_on,
                                                                              k.reporting_deadline_working_days)
                                  or f.publicity_ends_on
                                     <> (f.decision_on + make_interval(months => k.publicity_months))::date
                                  or f.is_reported_late <> (f.first_reported_on > f.reporting_due_on))""")[0][0]
    assert wrong == 0
    late = _mine(conn, "select count(*) filter (where is_reported_late), count(*) filter (where not is_reported_late) "
                       "from marts.fct_admin_act where last_batch_id like 'admin_act/2021-11-%%'")[0]
    assert late[0] > 0 and late[1] > 0
    # A natural person: keyed hash, masked ID and name (in the content too), never the clear ones.
    people = _mine(conn, """select f.subject_id, f.citizen_id_masked, f.subject_name, f.act_content, s.id_number,
                                   s.subject_name
                            from marts.fct_admin_act f
                            join staging.stg_admin_act__acts s
                              on s.batch_id = f.last_batch_id and f.subject_type = 'natural_person'
                             and s.decision_document_number = f.decision_document_number""")
    assert people
    for subject_id, masked_id, name, content, clear_id, clear_name in people:
        assert len(subject_id) == 64 and clear_id not in subject_id
        assert masked_id == clear_id[:6] + "********" + clear_id[-4:]
        assert name == clear_name[0] + "*" * max(len(clear_name) - 1, 1)
        assert clear_name not in (content or "")


def test_the_acts_reach_the_profile(nights, conn):
    expected = dict(_mine(conn, """select subject_id, count(*) from marts.fct_admin_act group by 1"""))
    profiles = dict(_mine(conn, """select subject_id, admin_act_count from marts.prf_subject_credit_profile
                                   where admin_act_count > 0"""))
    assert expected and profiles == expected
    row = _mine(conn, """select p.admin_act_kinds, p.public_admin_act_count, p.latest_admin_act_on
                         from marts.prf_subject_credit_profile p
                         where p.admin_act_count > 0 order by p.admin_act_count desc, p.subject_id limit 1""")[0]
    assert row[0] and row[1] > 0 and row[2] <= SECOND_NIGHT


def test_a_rerun_of_the_night_changes_nothing(nights, conn):
    _, first = nights[NIGHT]
    fingerprint = """select count(*), md5(string_agg(act_id || '|' || delivery_count || '|' || last_batch_id
                                              || '|' || is_public, ',' order by act_id))
                     from marts.fct_admin_act where last_batch_id like 'admin_act/2021-11-%%'"""
    before = _mine(conn, fingerprint)
    issues_before = _quarantined_by_check(conn, first.batch_id)
    raw_before = _mine(conn, "select count(*) from raw.admin_act__acts where _batch_id = %s", (first.batch_id,))
    admin_act.write_day(NIGHT, scale=3, defect_share=0.1)
    again = ingest.ingest("admin_act", NIGHT)
    assert (again.rows_received, again.rows_accepted, again.rows_quarantined) == \
        (first.rows_received, first.rows_accepted, first.rows_quarantined)
    assert _mine(conn, "select count(*) from raw.admin_act__acts where _batch_id = %s",
                 (first.batch_id,)) == raw_before
    assert _quarantined_by_check(conn, first.batch_id) == issues_before
    transform.run_dbt(["run", "--select", "fct_admin_act", "--vars", _vars(SECOND_NIGHT)])
    assert _mine(conn, fingerprint) == before


def test_the_publicity_export_carries_an_act_only_inside_its_kinds_period(nights, warehouse_url):
    """An enforcement measure (行政强制, 12 months) is public up to its last day and gone (and listed
    as removed, 公示期满) on the first day after; a reward (行政奖励, 36 months) decided the same
    day is still public then."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        coercion, decided, ends = _mine(conn, """
            select f.act_id, f.decision_on, f.publicity_ends_on from marts.fct_admin_act f
            where f.act_kind = 'coercion' and exists (
                select from marts.fct_admin_act r where r.act_kind = 'reward' and r.decision_on = f.decision_on)
            order by f.decision_on, f.act_id limit 1""")[0]
        (reward,) = _mine(conn, """select act_id from marts.fct_admin_act
                                   where act_kind = 'reward' and decision_on = %s order by act_id limit 1""",
                          (decided,))[0]
    assert ends == date(decided.year + 1, decided.month, decided.day)
    seen = {}
    for label, as_of in (("last_public_day", ends - timedelta(days=1)), ("period_over", ends)):
        transform.run_dbt(["run", "--select", "fct_admin_act", "--vars", _vars(as_of)])
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            cut = publicity.tables(conn, as_of)
        seen[label] = ({r["act_id"] for r in cut["acts"]},
                       {r["record_id"]: r["removal_reason"] for r in cut["removals"]},
                       {r["act_id"]: r for r in cut["acts"]})
    public, removed, rows = seen["last_public_day"]
    assert coercion in public and reward in public and coercion not in removed
    assert rows[coercion]["publicity_last_day"] == ends - timedelta(days=1)
    assert rows[coercion]["act_kind_name"] == "行政强制"
    public, removed, _ = seen["period_over"]
    assert coercion not in public and removed.get(coercion) == "公示期满"
    assert reward in public
    # Three years on, every November 2021 act is off publicity (36 months is the longest default).
    transform.run_dbt(["run", "--select", "fct_admin_act", "--vars", _vars(date(2024, 12, 1))])
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        still = _mine(conn, """select count(*) from marts.fct_admin_act
                               where is_public and last_batch_id like 'admin_act/2021-11-%%'""")[0][0]
        assert still == 0 and not [r for r in publicity.tables(conn, date(2024, 12, 1))["acts"]
                                   if r["act_id"] in public]
    transform.run_dbt(["run", "--select", "fct_admin_act", "--vars", _vars(SECOND_NIGHT)])


def test_the_audit_counts_the_acts_under_their_category(nights, conn):
    """The auditors' counts (docs/audit.md) take each act once, under 其他行政行为, and the
    reconciliation of the feed's batches balances."""
    transform.run_dbt(["build", "--select", "+rpt_audit_reconciliation",
                       "--vars", _vars(SECOND_NIGHT)])
    counted = _mine(conn, """select count(*) filter (where is_counted), array_agg(distinct source_category)
                             from intermediate.int_audit_record_deliveries
                             where batch_id like 'admin_act/2021-11-%%'""")[0]
    acts = _mine(conn, "select count(*) from marts.fct_admin_act where last_batch_id like 'admin_act/2021-11-%%'")[0][0]
    assert acts > 0 and counted == (acts, ["其他行政行为"])
    batches = _mine(conn, """select count(*), bool_and(is_received_balanced and is_accepted_explained),
                                    sum(rows_counted)
                             from marts.rpt_audit_reconciliation where batch_id like 'admin_act/2021-11-%%'""")[0]
    assert batches == (2, True, acts)


def test_the_city_export_carries_the_acts_by_the_subjects_locality(nights, conn):
    """Every act goes to exactly one jurisdiction's city file, its subject's; 130100 (石家庄) gets
    the acts about its own subjects, with their publicity state."""
    from credit_dw.catalog.exports import jurisdictions
    from credit_dw.exports.targets import city

    transform.run_dbt(["run", "--select", "dim_jurisdiction", "fct_admin_act", "--vars", _vars(SECOND_NIGHT)])
    delivered = {code: city.tables(conn, SECOND_NIGHT, code)["acts"] for code, _ in jurisdictions()}
    ids = [r["act_id"] for rows in delivered.values() for r in rows]
    assert len(ids) == len(set(ids)) == _mine(conn, "select count(*) from marts.fct_admin_act")[0][0]
    mine = {r[0] for r in _mine(conn, """select f.act_id from marts.fct_admin_act f
                                         join marts.dim_subject s on s.subject_id = f.subject_id
                                         where s.jurisdiction_code = '130100'""")}
    assert mine and {r["act_id"] for r in delivered["130100"]} == mine
    assert {r["publicity_status_name"] for r in delivered["130100"]} <= {"公示中", "公示期满"}

"""The publicity lifecycle marts end to end: 行政处罚 and objection/repair feeds simulated and ingested
for two nights, then `fct_admin_penalty` / `fct_objection` built (with their unit tests) and
checked "as of" several dates [000 §2.12-2.13; NDRC Order 58].

The module also lands one repair and one objection about known penalties into the accepted
objections batch (removed again afterwards) so the repaired and suspended paths are driven by
exact, hand-chosen records, whatever the simulated applications happen to name.

Logical dates: March 2017 belong to this file.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from conftest import keep_marts_as, seed_reference_unless_seeded

from credit_dw.catalog import get_source
from credit_dw.connectors import http as extract_http
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest.landing import ensure_raw_table
from credit_dw.simulate import admin_penalty, api_server, objections
from credit_dw.transform import dbt as transform

NIGHTS = (date(2017, 3, 6), date(2017, 3, 7))
AS_OF_INSIDE = date(2017, 3, 7)  # every simulated decision is inside its window
AS_OF_BOUNDARY = date(2020, 3, 1)  # the 3-year maximum of early-2017 decisions passes around here
INJECTED_FROM = 900_001  # _row_number of the hand-made application rows
MODELS = ("fct_admin_penalty", "fct_objection")


def _inject_applications(conn: psycopg.Connection, batch_id: str) -> dict[str, str]:
    """A successful repair closed long before the minimum period ends, and an objection under
    verification, about two different real fine decisions of organisations."""
    picked = conn.execute(
        """select decision_document_number, uscc, subject_name, decision_date
           from staging.stg_admin_penalty__penalties
           where batch_id like 'admin_penalty/2017-%%'  -- this module's nights, not other modules'
             and uscc is not null and penalty_category ~ '罚款' and decision_date < %s
           order by decision_document_number limit 2""", (AS_OF_INSIDE,)).fetchall()
    assert len(picked) == 2
    (repair_doc, repair_uscc, repair_name, repair_decided), (obj_doc, obj_uscc, obj_name, obj_decided) = picked
    rows = [
        (INJECTED_FROM, "XF-TEST-1", "2", repair_uscc, repair_name, repair_decided, repair_doc, "04",
         AS_OF_INSIDE, "修复成功"),
        (INJECTED_FROM + 1, "YY-TEST-1", "1", obj_uscc, obj_name, obj_decided, obj_doc, "03", None, None),
    ]
    with conn.cursor() as cur:
        cur.executemany(
            """insert into raw.objections__applications
                   (_batch_id, _source_id, _row_number, _source_file, _source_row, application_id,
                    application_type_code, uscc, subject_name, applied_on, record_category, record_id,
                    status_code, closed_on, outcome, updated_at)
               values (%s, 'objections', %s, 'test_publicity_lifecycle', 1, %s, %s, %s, %s, %s, '行政处罚',
                       %s, %s, %s, %s, '2017-03-07T12:00:00+08:00')""",
            [(batch_id, n, app, kind, uscc, name, applied.isoformat(), doc, status,
              closed.isoformat() if closed else None, outcome)
             for n, app, kind, uscc, name, applied, doc, status, closed, outcome in rows])
    return {"repaired": repair_doc, "suspended": obj_doc}


@pytest.fixture(scope="module")
def built(warehouse_url: str):
    """Two nights ingested; the marts built as of the run date (2026), then as of AS_OF_BOUNDARY and
    AS_OF_INSIDE with the hand-made applications; each state kept in publicity_test.*_<label>."""
    seed_reference_unless_seeded(warehouse_url, "publicity_rules")
    # fct_admin_penalty also reads the national push-down's results, and rpt_objection_handling the
    # licences, lists and court debtors an objection may contest: their (empty) raw tables.
    for feed in ("national_pushdown", "admin_licence", "dept_ledgers", "credit_lists", "court_debtors"):
        ensure_raw_table(get_source(feed))
    outcomes = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(extract_http.env_name("objections"), raising=False)
        api_server.url_file().unlink(missing_ok=True)
        for night in NIGHTS:
            admin_penalty.simulate(night, scale=1)
            objections.simulate(night, scale=1)
            outcomes[night] = (ingest.ingest("admin_penalty", night), ingest.ingest("objections", night))
    for penalty_outcome, objection_outcome in outcomes.values():
        assert penalty_outcome.status == objection_outcome.status == "accepted"
    # The whole lineage with its data tests and unit tests, as of the run date.
    transform.run_dbt(["build", "--select", "+fct_admin_penalty", "+fct_objection", "+rpt_objection_handling",
                       "+rpt_repair_handling", "+rpt_national_results_unapplied"])
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        keep_marts_as(conn, "publicity_test", MODELS, "today")
        injected = _inject_applications(conn, outcomes[NIGHTS[-1]][1].batch_id)
        try:
            for label, as_of in (("boundary", AS_OF_BOUNDARY), ("inside", AS_OF_INSIDE)):
                transform.run_dbt(["run", "--select", *MODELS, "--vars", f"{{as_of_date: '{as_of.isoformat()}'}}"])
                keep_marts_as(conn, "publicity_test", MODELS, label)
        finally:
            conn.execute("delete from raw.objections__applications where _row_number >= %s", (INJECTED_FROM,))
    return injected


def test_every_accepted_penalty_decision_appears_once(built, conn):
    # Only this module's nights: other test modules share the session's warehouse.
    staged = conn.execute(
        """select count(distinct (decision_document_number, coalesce(uscc, id_number, subject_name)))
           from staging.stg_admin_penalty__penalties where batch_id like 'admin_penalty/2017-%'""").fetchone()[0]
    for label in ("today", "inside"):
        rows, distinct_ids = conn.execute(
            f"""select count(*), count(distinct penalty_id) from publicity_test.fct_admin_penalty_{label} f
                where f.penalty_id in (select md5(s.decision_document_number || '|'
                                                  || coalesce(s.uscc, s.id_number, s.subject_name))
                                       from staging.stg_admin_penalty__penalties s
                                       where s.batch_id like 'admin_penalty/2017-%')""").fetchone()
        assert staged > 0 and rows == distinct_ids == staged, label
        unmatched = conn.execute(
            f"""select count(*) from staging.stg_admin_penalty__penalties s
                where s.batch_id like 'admin_penalty/2017-%'
                  and (select count(*) from publicity_test.fct_admin_penalty_{label} f
                       where f.decision_document_number = s.decision_document_number
                         and f.penalty_id = md5(s.decision_document_number || '|'
                                                || coalesce(s.uscc, s.id_number, s.subject_name))) <> 1"""
        ).fetchone()[0]
        assert unmatched == 0, label


def test_never_public_past_the_maximum_period(built, conn):
    for label in ("today", "boundary", "inside"):
        over_period = conn.execute(
            f"""select count(*) from publicity_test.fct_admin_penalty_{label}
                where (is_public and as_of_on >= latest_end_on)
                   or (publicity_status <> 'expired_archived' and as_of_on >= latest_end_on)""").fetchone()[0]
        assert over_period == 0, label
    statuses = {label: dict(conn.execute(
        f"select publicity_status, count(*) from publicity_test.fct_admin_penalty_{label} "
        "where publicity_start_on < date '2018-01-01' group by 1").fetchall())
        for label in ("today", "boundary")}
    assert set(statuses["today"]) == {"expired_archived"}  # 2026: every 2017 decision is archived
    # Some early-2017 decisions have just passed their 3 years, later ones have not.
    assert statuses["boundary"].get("expired_archived", 0) > 0 and statuses["boundary"].get("public", 0) > 0


def test_repair_does_not_end_publicity_before_the_minimum(built, conn):
    # A repair granted in Hebei waits for the minimum period [000 §2.12]; a national repair result
    # is applied on its own date (docs/record_lifecycle.md), and other modules of the session land
    # push-downs carrying such results, so the rule is checked on the province's repairs.
    early = conn.execute(
        """select count(*) from publicity_test.fct_admin_penalty_inside
           where repaired_on is not null and repair_source = 'province'
             and (publicity_ends_on < earliest_end_on
                  or (publicity_status = 'repaired' and as_of_on < earliest_end_on))""").fetchone()[0]
    assert early == 0
    repaired = conn.execute(
        """select repaired_on, publicity_ends_on = earliest_end_on, publicity_status, is_public
           from publicity_test.fct_admin_penalty_inside
           where decision_document_number = %s and repaired_on is not null""",
        (built["repaired"],)).fetchall()
    assert repaired == [(AS_OF_INSIDE, True, "public", True)]


def test_objection_under_verification_keeps_publicity_and_suspends_punishment(built, conn):
    """An objection never takes a penalty off publicity ("严禁违规撤下公示期限未满或未经修复的行政处罚
    信息" [000 §2.12]); only punishment waits for the verification (信息核实期间暂不执行联合惩戒措施
    [001 2018 plan §4.9]). Until issue 19 this test expected is_public false: a change of behaviour
    the rules require."""
    under_objection = conn.execute(
        """select publicity_status, is_public, national_status_code, punishment_state
           from publicity_test.fct_admin_penalty_inside
           where decision_document_number = %s and open_objection_count > 0""",
        (built["suspended"],)).fetchall()
    assert under_objection == [("public_under_objection", True, "2", "suspended_by_objection")]
    inconsistent = conn.execute(
        """select count(*) from publicity_test.fct_admin_penalty_inside
           where (open_objection_count > 0 and publicity_status = 'public')
              or (publicity_status = 'public_under_objection' and not is_public)
              or (is_public and punishment_state not in ('in_force', 'suspended_by_objection'))""").fetchone()[0]
    assert inconsistent == 0


def test_objection_deadlines_are_15_or_20_working_days_from_the_notice(built, conn):
    rows, wrong_deadline, missing, distinct_ids, staged = conn.execute(
        """select count(*),
                  count(*) filter (where verification_due_on
                                   <> credit.add_working_days(coalesce(notified_on, applied_on),
                                                              verification_working_days)
                                   or verification_working_days <> case subject_type
                                       when 'natural_person' then 20 else 15 end),
                  count(*) filter (where verification_due_on is null),
                  count(distinct objection_id),
                  (select count(distinct application_id) from staging.stg_objections__applications
                   where application_type = 'objection' and batch_logical_date <= %s and applied_on <= %s)
           from publicity_test.fct_objection_inside""", (AS_OF_INSIDE, AS_OF_INSIDE)).fetchone()
    # The hand-made objection YY-TEST-1 is in the mart but no longer in staging.
    assert rows == distinct_ids == staged + 1 and staged > 0
    assert wrong_deadline == 0 and missing == 0
    late = conn.execute(
        """select count(*) from publicity_test.fct_objection_inside
           where is_overdue is distinct from coalesce(replied_on, closed_on, as_of_on) > verification_due_on"""
    ).fetchone()[0]
    assert late == 0
    # [001 2018 plan §4.9] The deadline runs from the notice; an objection without one is shown as such.
    counted = dict(conn.execute(
        """select deadline_counted_from, count(*) from publicity_test.fct_objection_inside
           where status in ('verifying', 'closed') group by 1""").fetchall())
    assert counted.get("notice", 0) > 0
    flagged = conn.execute(
        """select count(*) from publicity_test.fct_objection_inside
           where is_notice_date_missing <> (notified_on is null and status in ('accepted', 'verifying', 'closed'))
              or (deadline_counted_from = 'application') <> (notified_on is null)""").fetchone()[0]
    assert flagged == 0


def test_natural_persons_appear_masked_and_keyed_by_hash(built, conn):
    """[rules §9] A penalised person's name reaches the mart masked (张** for 张三丰) and the person
    is keyed by the HMAC of the resident ID, never the ID; organisations keep name and USCC."""
    rows = conn.execute(
        """select f.subject_type, f.subject_name, f.subject_id, f.uscc, s.subject_name,
                  credit.subject_hash(s.id_number)
           from publicity_test.fct_admin_penalty_today f
           join staging.stg_admin_penalty__penalties s
             on s.decision_document_number = f.decision_document_number
            and coalesce(s.uscc, s.id_number, s.subject_name) = coalesce(f.uscc, s.id_number, s.subject_name)
           where s.batch_id like 'admin_penalty/2017-%'""").fetchall()
    persons = [r for r in rows if r[0] == "natural_person"]
    assert persons and len(persons) < len(rows)
    for _, name, subject_id, uscc, clear_name, id_hash in persons:
        assert name == clear_name[0] + "*" * max(len(clear_name) - 1, 1)
        assert subject_id == id_hash and len(id_hash) == 64 and uscc is None
    for subject_type, name, subject_id, uscc, clear_name, _ in rows:
        if subject_type != "natural_person":
            assert (name, subject_id) == (clear_name, uscc)


def test_a_failed_dbt_run_names_the_model_and_the_database_error(built, conn):
    """An engineer (or CI) reading only the exception's line learns which node broke and why."""
    before = conn.execute("select count(*) from marts.fct_objection").fetchone()[0]
    with pytest.raises(RuntimeError) as failure:
        transform.run_dbt(["run", "--select", "fct_objection", "--vars", "{as_of_date: 'not-a-date'}"])
    message = str(failure.value)
    assert "model.credit_warehouse.fct_objection error" in message
    assert "not-a-date" in message  # PostgreSQL's own words: invalid input syntax for type date
    # The failed run never replaced the mart.
    assert conn.execute("select count(*) from marts.fct_objection").fetchone()[0] == before


def test_handling_figures_add_up_and_no_national_result_is_left_unapplied(built, conn):
    """[000 §2.12-2.13] The office's figures cover every objection and repair of the night built
    (the run date, kept as publicity_test.*_today: the fixture rebuilds fct_objection as of other
    dates afterwards); no penalty stays public that the national push-down reported repaired."""
    objections, handled = conn.execute(
        """select (select count(*) from publicity_test.fct_objection_today),
                  (select coalesce(sum(objection_count), 0) from marts.rpt_objection_handling)""").fetchone()
    assert objections > 0 and handled == objections
    repairs, decided_ok = conn.execute(
        """select (select count(*) from marts.fct_repair),
                  (select coalesce(sum(application_count), 0) from marts.rpt_repair_handling
                   where decided_count = repaired_count + rejected_count + refused_count)""").fetchone()
    assert repairs > 0 and decided_ok == repairs
    assert conn.execute("select count(*) from marts.rpt_national_results_unapplied").fetchone()[0] == 0

"""The credit-fact marts end to end: licences (deduplicated across the department's report and the
national push-down), dishonest judgment debtors, tax status, list memberships, commitments,
repairs linked to penalties, and the department dimension. Each feed is simulated for 2015
nights and ingested, then `dbt build --select +<marts>` runs every model, data test and unit test
of their lineage; the marts are then rebuilt as of dates inside 2015 and checked against what the
simulators wrote.

Logical dates: the year 2015 belongs to this file.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
from conftest import ensure_all_raw_tables, keep_marts_as, seed_reference_unless_seeded

from credit_dw.connectors import http as extract_http
from credit_dw.db import privacy
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import api_server, national_pushdown, simulator_for
from credit_dw.simulate import objections as objections_sim
from credit_dw.transform import dbt as transform

MARTS = ("fct_admin_licence", "fct_court_debtor", "fct_tax_status", "fct_list_membership", "fct_commitment",
         "fct_repair", "dim_department")
LICENCE_NIGHTS = (date(2015, 1, 5), date(2015, 1, 6))
PUSH_NIGHT = date(2015, 1, 7)  # repeats licences delivered 1-3 nights before
PENALTY_NIGHTS = tuple(date(2015, 1, 5) + timedelta(days=k) for k in range(7))  # 01-05 .. 01-11
OBJECTION_NIGHT = date(2015, 1, 12)  # its penalty applications name penalties of the 7 nights before
DEBTOR_NIGHTS = (date(2015, 2, 2), date(2015, 2, 3))  # the second removes some listings
LIST_NIGHTS = (date(2015, 3, 2), date(2015, 3, 9))  # exits 7 days after entries
TAX_NIGHTS = (date(2015, 4, 20), date(2015, 4, 21))  # the 2014 ratings; arrears issue 2015年第2期
COMMITMENT_NIGHT = date(2015, 5, 4)
AS_OF = date(2015, 12, 31)  # after every night of this file, before any other file's
API_FEEDS = ("objections", "tax_a_level", "tax_arrears", "credit_commitments")


def _simulate_and_ingest(source_id: str, night: date):
    """What the simulator wrote for the night (the push-down's rows, else its summary) and the ingest outcome."""
    if source_id == "national_pushdown":
        written = national_pushdown.write_pushdown(night)
    else:
        written = simulator_for(source_id)(night, scale=1)
    outcome = ingest.ingest(source_id, night)
    assert outcome.status == "accepted", (source_id, night, outcome)
    return written, outcome


@pytest.fixture(scope="module")
def built(warehouse_url: str) -> dict:
    """Every night of this file ingested; the lineage built and tested (as of the run date), then
    the marts rebuilt as of AS_OF (facts_test.*_year_end) and as of the first debtor night
    (facts_test.*_debtors_first)."""
    seed_reference_unless_seeded(warehouse_url, "departments")
    privacy.install_hash_key()  # the key this process hashes with, whatever an earlier module installed
    ensure_all_raw_tables()
    nights: dict = defaultdict(list)
    with pytest.MonkeyPatch.context() as mp:
        for source_id in API_FEEDS:
            mp.delenv(extract_http.env_name(source_id), raising=False)
        api_server.url_file().unlink(missing_ok=True)
        plan = [("admin_licence", n) for n in LICENCE_NIGHTS] + [("national_pushdown", PUSH_NIGHT)]
        plan += [("admin_penalty", n) for n in PENALTY_NIGHTS] + [("objections", OBJECTION_NIGHT)]
        plan += [("court_debtors", n) for n in DEBTOR_NIGHTS] + [("credit_lists", n) for n in LIST_NIGHTS]
        plan += [("tax_a_level", TAX_NIGHTS[0])] + [("tax_arrears", n) for n in TAX_NIGHTS]
        plan += [("credit_commitments", COMMITMENT_NIGHT)]
        for source_id, night in plan:
            nights[source_id].append(_simulate_and_ingest(source_id, night))
    # int_subjects_resolved: the relationships tests of the marts read it. Cautious: tests of
    # models outside the lineage (another mart's tests on fct_admin_penalty) are not run here.
    transform.run_dbt(["build", "--select", *(f"+{m}" for m in MARTS), "+int_subjects_resolved",
                       "--indirect-selection", "cautious"])
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        keep_marts_as(conn, "facts_test", MARTS, "today")
        for label, as_of in (("debtors_first", DEBTOR_NIGHTS[0]), ("year_end", AS_OF)):
            transform.run_dbt(["run", "--select", *MARTS, "fct_admin_penalty",
                               "--vars", f"{{as_of_date: '{as_of.isoformat()}'}}"])
            keep_marts_as(conn, "facts_test", MARTS, label)
    return nights


def test_a_licence_repeated_by_the_national_pushdown_is_one_fact(built, conn):
    pushed, _outcome = built["national_pushdown"][0]
    repeats = [r for r in pushed.rows if r.origin == "reported" and r.decision.source_id == "admin_licence"
               and r.defect is None and r.decision.reported_on in LICENCE_NIGHTS and r.decision.uscc]
    # Only decisions whose report row the gate accepted (the push-down repeats the clean record,
    # the province's copy may have been held back for a defect).
    staged = {(doc, uscc) for doc, uscc in conn.execute(
        "select decision_document_number, uscc from staging.stg_admin_licence__licences "
        "where batch_id like 'admin_licence/2015-%%'").fetchall()}
    repeats = [r for r in repeats if (r.decision.document_number, r.decision.uscc) in staged]
    assert repeats
    for row in repeats:
        facts = conn.execute(
            """select delivery_count, source_ids, kept_source_id, first_reported_on, last_reported_on,
                      decision_document_number, licence_category is not null
               from facts_test.fct_admin_licence_year_end where subject_id = %s and decision_on = %s
                 and translate(decision_document_number, '〔〕', '[]') = translate(%s, '〔〕', '[]')""",
            (row.decision.uscc, row.decision.decision_date, row.decision.document_number)).fetchall()
        # Reported once, pushed down once (whatever bracket the push-down wrote): one fact, the report's row.
        assert facts == [(2, "admin_licence,national_pushdown", "admin_licence", row.decision.reported_on,
                          PUSH_NIGHT, row.decision.document_number, True)], row.decision


def test_every_licence_key_appears_once(built, conn):
    staged = conn.execute(
        """select count(distinct (d.document_key, d.subject_key))
           from (select translate(regexp_replace(credit.normalize_code(decision_document_number), '\\s', '', 'g'),
                                  '[]［］【】()（）〖〗', '〔〕〔〕〔〕〔〕〔〕〔〕') as document_key,
                        coalesce(uscc, subject_name) as subject_key
                 from staging.stg_admin_licence__licences
                 where batch_id like 'admin_licence/2015-%%' and credit.is_valid_uscc(uscc)
                 union all
                 select translate(regexp_replace(credit.normalize_code(decision_document_number), '\\s', '', 'g'),
                                  '[]［］【】()（）〖〗', '〔〕〔〕〔〕〔〕〔〕〔〕'),
                        coalesce(uscc, subject_name)
                 from staging.stg_national_pushdown__decisions
                 where batch_id like 'national_pushdown/2015-%%' and decision_kind = 'licence'
                   and credit.is_valid_uscc(uscc)) d""").fetchone()[0]
    rows, ids = conn.execute(
        """select count(*), count(distinct licence_id) from facts_test.fct_admin_licence_year_end
           where uscc is not null and first_reported_on between '2015-01-01' and '2015-12-31'""").fetchone()
    assert staged > 0 and rows == ids == staged
    # Natural persons: only the masked ID and the keyed hash, never the name or the ID.
    people = conn.execute(
        """select count(*),
                  count(*) filter (where subject_name is not null or length(subject_id) <> 64
                                   or citizen_id_masked !~ '^[0-9]{6}[*]{8}[0-9]{3}[0-9X]$'
                                   or exists (select from staging.stg_admin_licence__licences s
                                              where s.subject_type = 'natural_person'
                                                and position(s.id_number in f::text) > 0))
           from facts_test.fct_admin_licence_year_end f where subject_type = 'natural_person'""").fetchone()
    assert people[0] > 0 and people[1] == 0


def test_a_removed_debtor_is_not_current(built, conn):
    _written, second = built["court_debtors"][1]
    removed = conn.execute(
        """select case_number, coalesce(uscc, subject_id_hash), removed_on
           from staging.stg_court_debtors__listings
           where batch_id = %s and is_removed""", (second.batch_id,)).fetchall()
    assert removed
    for case_number, subject_id, removed_on in removed:
        state = {label: conn.execute(
            f"""select is_current, removed_on from facts_test.fct_court_debtor_{label}
                where case_number = %s and subject_id = %s""", (case_number, subject_id)).fetchall()
            for label in ("debtors_first", "year_end")}
        assert state["year_end"] == [(False, removed_on)], case_number
        if removed_on > DEBTOR_NIGHTS[0]:
            # Before its removal night the debtor was listed (if the listing itself was delivered by then).
            assert state["debtors_first"] in ([], [(True, None)]), case_number
    current = conn.execute(
        """select count(*) filter (where is_current), count(*) filter (where not is_current)
           from facts_test.fct_court_debtor_year_end where last_batch_id like 'court_debtors/2015-%%'""").fetchone()
    assert current[0] > 0 and current[1] >= len([r for r in removed if r[2] <= AS_OF])


def test_debtors_are_keyed_by_the_keyed_hash_and_resolve(built, conn):
    _written, first = built["court_debtors"][0]
    ids = [r[0] for r in conn.execute(
        """select credit.normalize_code(id_number) from raw.court_debtors__listings r
           where _batch_id = %s and subject_kind = '自然人'
             and not exists (select from meta.row_issues i where i.batch_id = r._batch_id
                             and i.row_number = r._row_number and i.severity = 'critical')""",
        (first.batch_id,)).fetchall()]
    assert ids
    key = privacy.hash_key()
    expected = {privacy.subject_hash(i, key) for i in ids}
    in_mart = {r[0] for r in conn.execute(
        "select subject_id from facts_test.fct_court_debtor_year_end where subject_type = 'natural_person'")}
    resolved = {r[0] for r in conn.execute(
        "select subject_id from intermediate.int_subjects_resolved where 'court_debtors' = any(source_ids)")}
    assert expected <= in_mart and expected <= resolved
    leaked = conn.execute(
        """select count(*) from facts_test.fct_court_debtor_year_end f
           where subject_type = 'natural_person'
             and (subject_name is not null
                  or exists (select from raw.court_debtors__listings r
                             where r._batch_id like 'court_debtors/2015-%%' and r.subject_kind = '自然人'
                               and position(credit.normalize_code(r.id_number) in f::text) > 0))"""
    ).fetchone()[0]
    assert leaked == 0


def test_tax_status_answers_the_profile_questions(built, conn):
    rows = conn.execute(
        """select uscc, tax_type, arrears_amount, batch_logical_date, source_row_number
           from staging.stg_tax_arrears__announcements
           where batch_id like 'tax_arrears/2015-%%' and credit.is_valid_uscc(uscc) and arrears_amount is not null
           order by batch_logical_date, source_row_number""").fetchall()
    latest: dict = {}
    for uscc, tax_type, amount, _night, _row in rows:  # later rows correct earlier ones
        latest[(uscc, tax_type)] = amount
    expected: dict = defaultdict(Decimal)
    for (uscc, _tax_type), amount in latest.items():
        expected[uscc] += round(Decimal(amount), 2)
    facts = dict(conn.execute(
        """select uscc, current_arrears_amount from facts_test.fct_tax_status_year_end
           where record_kind = 'arrears' and period = '2015年第2期' and is_current""").fetchall())
    assert expected and facts == dict(expected)
    ratings = conn.execute(
        """select count(*), count(*) filter (where is_a_level_latest_year and period = '2014'), count(distinct uscc)
           from facts_test.fct_tax_status_year_end where record_kind = 'a_level_rating'""").fetchone()
    staged = conn.execute(
        """select count(distinct uscc) from staging.stg_tax_a_level__taxpayers
           where batch_id like 'tax_a_level/2015-%%' and credit_grade = 'A'
             and credit.is_valid_uscc(uscc)""").fetchone()[0]
    assert ratings == (staged, staged, staged) and staged > 0


def test_an_exited_list_entry_is_not_current(built, conn):
    exits = conn.execute(
        """select list_kind, uscc, listed_on, removed_on from staging.stg_credit_lists__entries
           where batch_id = %s and list_event = 'exit'""", (built["credit_lists"][1][1].batch_id,)).fetchall()
    assert exits
    for list_kind, uscc, listed_on, removed_on in exits:
        facts = conn.execute(
            """select is_current, exited_on, delivery_count from facts_test.fct_list_membership_year_end
               where list_type = %s and uscc = %s and entered_on = %s""", (list_kind, uscc, listed_on)).fetchall()
        assert len(facts) == 1 and facts[0][:2] == (False, removed_on), (uscc, facts)
    kinds = dict(conn.execute(
        """select list_type, count(*) filter (where is_current) from facts_test.fct_list_membership_year_end
           where last_batch_id like 'credit_lists/2015-%%' group by 1""").fetchall())
    assert set(kinds) <= {"red", "black", "key_attention"} and sum(kinds.values()) > 0


def test_commitments_one_per_id_in_their_latest_state(built, conn):
    staged = dict(conn.execute(
        """select commitment_kind, count(distinct commitment_id) from staging.stg_credit_commitments__commitments
           where batch_id like 'credit_commitments/2015-%%' and credit.is_valid_uscc(uscc)
             and commitment_kind is not null group by 1""").fetchall())
    facts = dict(conn.execute(
        """select commitment_kind, count(*) from facts_test.fct_commitment_year_end
           where last_batch_id like 'credit_commitments/2015-%%' group by 1""").fetchall())
    assert facts == staged and set(facts) == {"approval_substitute", "voluntary", "industry_self_discipline",
                                              "repair"}
    names = dict(conn.execute(
        "select distinct commitment_kind, commitment_kind_name from facts_test.fct_commitment_year_end").fetchall())
    assert names["repair"] == "信用修复型" and names["approval_substitute"] == "审批替代型"
    assessed = conn.execute(
        """select count(*) filter (where fulfilment_status <> 'in_progress' and fulfilment_assessed_on is null)
           from facts_test.fct_commitment_year_end""").fetchone()[0]
    assert assessed == 0


def test_simulated_repairs_link_to_the_penalties_they_name(built, conn):
    staged = conn.execute(
        """select count(distinct application_id) from staging.stg_objections__applications
           where batch_id = %s and application_type = 'repair' and record_category = '行政处罚'
             and applied_on = %s and credit.is_valid_uscc(uscc)""",
        (built["objections"][0][1].batch_id, OBJECTION_NIGHT)).fetchone()[0]
    linked, mismatched = conn.execute(
        """select count(*) filter (where r.penalty_id is not null),
                  count(*) filter (where p.decision_document_number is distinct from r.record_id
                                      or p.uscc is distinct from r.uscc)
           from facts_test.fct_repair_year_end r
           left join marts.fct_admin_penalty p on p.penalty_id = r.penalty_id
           where r.record_category = '行政处罚' and r.applied_on = %s""", (OBJECTION_NIGHT,)).fetchone()
    # Every repair submitted that night names a penalty delivered in the week before (all ingested).
    assert staged > 0 and linked == staged and mismatched == 0
    simulated = [r for r in objections_sim.new_applications(OBJECTION_NIGHT, round(0.6 * 60), seed=20261122)
                 if r["xxlb"] == "行政处罚"]
    assert simulated and all("罚〔" in r["xxbh"] for r in simulated)


def test_departments_cover_seed_senders_and_named_bodies(built, conn):
    seed = conn.execute("select count(*) from reference.departments").fetchone()[0]
    senders = conn.execute(
        "select count(*) from facts_test.dim_department_year_end where is_sender").fetchone()[0]
    assert senders == seed
    court = conn.execute(
        """select department_code, is_sender, named_in_feeds from facts_test.dim_department_year_end
           where department_name = '河北省高级人民法院'""").fetchone()
    assert court[0] == "hbgy" and court[1] is True
    named_only = conn.execute(
        """select count(*) from facts_test.dim_department_year_end d
           where not is_sender and exists (select from facts_test.fct_court_debtor_year_end f
                                           where f.court_department_id = d.department_id)""").fetchone()[0]
    assert named_only > 0
    orphans = conn.execute(
        """select count(*) from facts_test.fct_admin_licence_year_end f
           where authority_department_id is not null and not exists (
               select from facts_test.dim_department_year_end d where d.department_id = f.authority_department_id)"""
    ).fetchone()[0]
    assert orphans == 0

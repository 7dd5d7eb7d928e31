"""Voluntary registration (自愿注册, feed `voluntary_registration` [004 (五)]) end to end: the
simulated city credit website → http connector → gate (every injected defect held back by its own
check, returned to the website's operator) → staging → fct_voluntary_declaration (self-declared,
linked to its truthfulness commitment) → the profile's counts by state and the grade; a rerun
changes nothing. A declaration counts for the grade from its verification day until its
withdrawal day: checked on both sides of each date.

Logical dates: December 2023 belongs to this file (nights 2023-12-04 to 2023-12-08).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import ensure_all_raw_tables, seed_reference_unless_seeded

from credit_dw.catalog import get_source
from credit_dw.connectors import http as extract_http
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest import returns
from credit_dw.simulate import api_server
from credit_dw.simulate import credit_commitments as commitments_sim
from credit_dw.simulate import voluntary_registration as sim
from credit_dw.transform import dbt as transform

NIGHTS = tuple(date(2023, 12, 4) + timedelta(days=k) for k in range(5))
SCALE, DEFECTS = 2, 0.1
CHECKS = {
    "bad_check_character": "uscc_check_character",
    "missing_name": "subject_name_required",
    "bad_date": "declared_on_date",
    "unknown_kind_code": "declaration_kind_known",
    "unknown_status": "verification_status_known",
    "status_before_declared": "verification_status_on_valid",
    "missing_commitment": "declaration_commitment_required",
}
MY_MODELS = ("stg_voluntary_registration__declarations", "fct_voluntary_declaration", "prf_subject_credit_profile",
             "prf_subject_credit_grade", "credit_grade_weights")
GRADE_MODELS = ("fct_voluntary_declaration", "prf_subject_credit_profile", "prf_subject_credit_grade")


def _as_of(night: date) -> list[str]:
    return ["--vars", f"{{as_of_date: '{night.isoformat()}'}}"]


def _quarantined_by_check(conn, batch_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "select check_name, count(*) from meta.row_issues where batch_id = %s and severity = 'critical' "
        "group by check_name", (batch_id,)).fetchall())


@pytest.fixture(scope="module")
def nights(warehouse_url: str) -> dict:
    seed_reference_unless_seeded(warehouse_url, "hebei_divisions")
    seed_reference_unless_seeded(warehouse_url, "departments")
    ensure_all_raw_tables()
    done = {}
    with pytest.MonkeyPatch.context() as mp:
        for source_id in (commitments_sim.SOURCE_ID, sim.SOURCE_ID):
            mp.delenv(extract_http.env_name(source_id), raising=False)
        api_server.url_file().unlink(missing_ok=True)
        for night in NIGHTS:
            commitments_sim.simulate(night, scale=SCALE)
            assert ingest.ingest(commitments_sim.SOURCE_ID, night).status == "accepted"
            summary = sim.simulate(night, scale=SCALE, defect_share=DEFECTS)
            done[night] = (summary, ingest.ingest(sim.SOURCE_ID, night))
    # The lineage built without its tests (other modules test it), then this feed's models and
    # the profile and grade with their data and unit tests.
    transform.run_dbt(["build", "--select", "+fct_voluntary_declaration", "+prf_subject_credit_grade",
                       "--exclude-resource-type", "test", "unit_test", *_as_of(NIGHTS[-1])])
    transform.run_dbt(["build", "--select", *MY_MODELS, *_as_of(NIGHTS[-1])])
    return done


def test_each_injected_defect_is_quarantined_by_its_check_and_returned_to_the_website(nights, conn):
    summary, outcome = nights[NIGHTS[0]]
    assert all(summary.defects[kind] > 0 for kind in CHECKS)
    expected = {check: summary.defects[kind] for kind, check in CHECKS.items()}
    assert _quarantined_by_check(conn, outcome.batch_id) == expected
    assert outcome.status == "accepted"
    assert outcome.rows_received == summary.rows_written == outcome.rows_accepted + outcome.rows_quarantined
    reasons = [r[0] for r in conn.execute(
        "select distinct reason from meta.row_issues where batch_id = %s", (outcome.batch_id,)).fetchall()]
    assert reasons and all(any("\u4e00" <= ch <= "\u9fff" for ch in r) for r in reasons)  # Chinese reasons
    notices = returns.write_return_notices(sim.SOURCE_ID, NIGHTS[0])
    assert [n.department for n in notices] == [get_source(sim.SOURCE_ID).department]
    assert notices[0].rows == outcome.rows_quarantined
    text = notices[0].path.read_text(encoding="utf-8-sig")
    assert "sbbh" in text.splitlines()[0]  # the website's own keys


def test_every_declaration_is_one_self_declared_fact_linked_to_its_commitment(nights, conn):
    staged = conn.execute(
        """select count(distinct declaration_id) from staging.stg_voluntary_registration__declarations
           where batch_id like 'voluntary_registration/2023-12-%%'""").fetchone()[0]
    facts = conn.execute(
        """select count(*), count(*) filter (where is_self_declared and information_source like '自愿注册%%'),
                  count(*) filter (where is_commitment_on_file)
           from marts.fct_voluntary_declaration where last_batch_id like 'voluntary_registration/2023-12-%%'""",
        ).fetchone()
    assert staged > 0 and facts[:2] == (staged, staged) and facts[2] > 0
    # A declaration made on these nights finds its commitment, unless the commitment system's row
    # was itself held back at its own gate.
    unlinked = {r[0] for r in conn.execute(
        """select commitment_id from marts.fct_voluntary_declaration
           where declared_on >= %s and not is_commitment_on_file""", (NIGHTS[0],)).fetchall()}
    held_back = {r[0] for r in conn.execute(
        """select btrim(c.commitment_id) from raw.credit_commitments__commitments c
           join meta.row_issues i on i.batch_id = c._batch_id and i.row_number = c._row_number
                                 and i.severity = 'critical'
           where c._batch_id like 'credit_commitments/2023-12-%%'""").fetchall()}
    assert unlinked <= held_back
    states = dict(conn.execute("select verification_status, count(*) from marts.fct_voluntary_declaration "
                               "group by 1").fetchall())
    # Records passed through states across the nights; withdrawn and disproved ones are kept.
    assert all(states.get(s, 0) > 0 for s in ("pending", "verified", "withdrawn", "disproved")), states
    wrong = conn.execute(
        """select count(*) from marts.fct_voluntary_declaration
           where counts_for_evaluation <> (verification_status = 'verified' and verified_on <= as_of_on)
              or (verification_status in ('withdrawn', 'disproved')) <> (evaluation_ended_on is not null)""").fetchone()
    assert wrong[0] == 0


def test_the_declarations_reach_the_profile_by_state(nights, conn):
    expected = {r[0]: r[1:] for r in conn.execute(
        """select subject_id, count(*) filter (where verification_status = 'pending'),
                  count(*) filter (where counts_for_evaluation),
                  count(*) filter (where verification_status = 'withdrawn'),
                  count(*) filter (where is_false_declaration),
                  max(verification_status_on) filter (where is_false_declaration)
           from marts.fct_voluntary_declaration group by 1""").fetchall()}
    profiles = {r[0]: r[1:] for r in conn.execute(
        """select subject_id, self_declared_pending_count, self_declared_verified_count,
                  self_declared_withdrawn_count, self_declared_disproved_count, latest_false_declaration_on
           from marts.prf_subject_credit_profile
           where self_declared_pending_count + self_declared_verified_count + self_declared_withdrawn_count
                 + self_declared_disproved_count > 0""").fetchall()}
    assert expected and profiles == expected
    # A false declaration is a bad record against the subject, and costs points in its own domain.
    false = conn.execute(
        """select count(*), count(*) filter (where p.last_bad_record_on >= p.latest_false_declaration_on
                                              and g.self_declared_points < 0
                                              and g.score_factors like '%%false_declaration%%')
           from marts.prf_subject_credit_profile p join marts.prf_subject_credit_grade g using (subject_id)
           where p.self_declared_disproved_count > 0""").fetchone()
    assert false[0] > 0 and false[0] == false[1]


def test_a_rerun_of_the_night_changes_nothing(nights, conn):
    _, last = nights[NIGHTS[-1]]
    issues = _quarantined_by_check(conn, last.batch_id)
    fingerprint = """select count(*), md5(string_agg(declaration_id || '|' || delivery_count || '|'
                                                     || verification_status || '|' || counts_for_evaluation,
                                                     ',' order by declaration_id))
                     from marts.fct_voluntary_declaration"""
    before = conn.execute(fingerprint).fetchone()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(extract_http.env_name(sim.SOURCE_ID), raising=False)
        sim.simulate(NIGHTS[-1], scale=SCALE, defect_share=DEFECTS)
        again = ingest.ingest(sim.SOURCE_ID, NIGHTS[-1])
    assert (again.rows_received, again.rows_accepted, again.rows_quarantined) == \
        (last.rows_received, last.rows_accepted, last.rows_quarantined)
    assert _quarantined_by_check(conn, last.batch_id) == issues
    transform.run_dbt(["run", "--select", "fct_voluntary_declaration", *_as_of(NIGHTS[-1])])
    assert conn.execute(fingerprint).fetchone() == before


def _state_as_of(conn, night: date, declaration_id: str, subject_id: str) -> tuple:
    transform.run_dbt(["run", "--select", *GRADE_MODELS, *_as_of(night)])
    fact = conn.execute("select coalesce(bool_or(counts_for_evaluation), false) from marts.fct_voluntary_declaration "
                        "where declaration_id = %s", (declaration_id,)).fetchone()[0]
    counted = conn.execute("select count(*) filter (where counts_for_evaluation), "
                           "count(*) filter (where is_false_declaration) "
                           "from marts.fct_voluntary_declaration where subject_id = %s", (subject_id,)).fetchone()
    profile = conn.execute("""select p.self_declared_verified_count, g.self_declared_points
                              from marts.prf_subject_credit_profile p join marts.prf_subject_credit_grade g
                                   using (subject_id) where subject_id = %s""", (subject_id,)).fetchone()
    return fact, counted, profile


def test_a_declaration_counts_for_the_grade_from_verification_until_withdrawal(nights, conn):
    """Both sides of the verification day and of the withdrawal day, rebuilt as of each night."""
    row = conn.execute(
        """select declaration_id, subject_id, verified_on, evaluation_ended_on
           from marts.fct_voluntary_declaration
           where verification_status = 'withdrawn' and verified_on > %s and evaluation_ended_on > verified_on
           order by evaluation_ended_on - verified_on, declaration_id limit 1""", (NIGHTS[0],)).fetchone()
    assert row is not None
    declaration_id, subject_id, verified_on, withdrawn_on = row
    weights = dict(conn.execute("select rule_id, points from reference.credit_grade_weights "
                                "where rule_id in ('verified_self_declaration', 'false_declaration')").fetchall())
    assert weights["verified_self_declaration"] > 0
    try:
        seen = {}
        for night in sorted({verified_on - timedelta(days=1), verified_on, withdrawn_on - timedelta(days=1),
                             withdrawn_on}):
            fact, (verified, false), (profile_count, points) = _state_as_of(conn, night, declaration_id, subject_id)
            assert profile_count == verified
            expected_points = min(verified * weights["verified_self_declaration"], 3) + max(
                false * weights["false_declaration"], -20)
            assert points == expected_points, (night, verified, false, points)
            seen[night] = fact
        assert seen[verified_on - timedelta(days=1)] is False
        assert seen[verified_on] is True
        assert seen[withdrawn_on - timedelta(days=1)] is True
        assert seen[withdrawn_on] is False
    finally:
        transform.run_dbt(["run", "--select", *GRADE_MODELS, *_as_of(NIGHTS[-1])])

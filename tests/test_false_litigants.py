"""False-litigation dishonest persons (虚假诉讼失信人, feed `court_false_litigants` [004 (十五), (八)])
end to end: the simulated court database → sql connector → gate (every injected defect held back
by its own check, returned to the court) → staging (persons only hashed and masked) →
fct_false_litigant (a removal ends the listing) → the profile; a rerun changes nothing.

Logical dates: December 2021 belongs to this file (nights 2021-12-06 and 2021-12-07).
"""

from __future__ import annotations

from datetime import date

import pytest
from conftest import ensure_all_raw_tables, seed_reference_unless_seeded

from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest import returns
from credit_dw.simulate import court_false_litigants as sim
from credit_dw.transform import dbt as transform

NIGHTS = (date(2021, 12, 6), date(2021, 12, 7))
SCALE, DEFECTS = 3, 0.1
CHECKS = {
    "bad_citizen_id_check_character": "citizen_id_check_character",
    "bad_uscc_check_character": "uscc_check_character",
    "missing_case_number": "case_number_required",
    "removal_before_publish": "removal_not_before_publish",
    "published_after_night": "published_on_valid",
}


def _simulate(night: date):
    from credit_dw.config import settings

    return sim.simulate_court_false_litigants(settings.source_url(sim.SOURCE_ID), night, scale=SCALE,
                                              defect_share=DEFECTS)


def _quarantined_by_check(conn, batch_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "select check_name, count(*) from meta.row_issues where batch_id = %s and severity = 'critical' "
        "group by check_name", (batch_id,)).fetchall())


@pytest.fixture(scope="module")
def nights(warehouse_url: str) -> dict:
    seed_reference_unless_seeded(warehouse_url, "hebei_divisions")
    ensure_all_raw_tables()
    done = {}
    for night in NIGHTS:
        summary = _simulate(night)
        done[night] = (summary, ingest.ingest(sim.SOURCE_ID, night))
    transform.run_dbt(["build", "--select", "+fct_false_litigant", "+prf_subject_credit_profile",
                       "--vars", f"{{as_of_date: '{NIGHTS[-1].isoformat()}'}}"])
    return done


def test_each_injected_defect_is_quarantined_by_its_check_and_returned_to_the_court(nights, conn):
    summary, outcome = nights[NIGHTS[0]]
    assert all(summary.defects[kind] > 0 for kind in CHECKS)
    expected = {check: summary.defects[kind] for kind, check in CHECKS.items()}
    assert _quarantined_by_check(conn, outcome.batch_id) == expected
    assert outcome.status == "accepted"
    assert outcome.rows_received == summary.rows_written == outcome.rows_accepted + outcome.rows_quarantined
    notices = returns.write_return_notices(sim.SOURCE_ID, NIGHTS[0])
    assert [n.department for n in notices] == ["河北省高级人民法院"]
    assert notices[0].rows == outcome.rows_quarantined
    text = notices[0].path.read_text(encoding="utf-8-sig")
    assert "ah" in text.splitlines()[0]  # the court's own column names


def test_every_accepted_listing_is_one_fact_and_persons_stay_masked(nights, conn):
    staged = conn.execute(
        """select count(distinct (case_number, coalesce(uscc, subject_id_hash)))
           from staging.stg_court_false_litigants__listings
           where batch_id like 'court_false_litigants/2021-12-%%'
             and (subject_type = 'natural_person' or credit.is_valid_uscc(uscc))""").fetchone()[0]
    facts = conn.execute("""select count(*), count(distinct false_litigant_id) from marts.fct_false_litigant
                            where last_batch_id like 'court_false_litigants/2021-12-%%'""").fetchone()
    assert staged > 0 and facts == (staged, staged)
    persons = conn.execute(
        """select count(*), count(*) filter (where subject_name is null and length(subject_id) = 64
                                             and citizen_id_masked ~ '^[0-9]{6}[*]{8}[0-9]{3}[0-9X]$')
           from marts.fct_false_litigant where subject_type = 'natural_person'""").fetchone()
    assert persons[0] > 0 and persons[0] == persons[1]
    clear = {r[0] for r in conn.execute(
        "select btrim(id_number) from raw.court_false_litigants__listings where subject_kind = '自然人'").fetchall()}
    leaked = conn.execute("""select count(*) from marts.fct_false_litigant
                             where subject_id = any(%s) or citizen_id_masked = any(%s)""",
                          (list(clear), list(clear))).fetchone()[0]
    assert clear and leaked == 0


def test_a_removal_ends_the_listing(nights, conn):
    summary, outcome = nights[NIGHTS[1]]
    assert summary.rows_updated > 0  # the second night removed listings of the first
    removed = conn.execute(
        """select count(*), count(*) filter (where not is_current and not is_list_ground and removed_on = %s),
                  count(*) filter (where delivery_count = 2)
           from marts.fct_false_litigant where removed_on is not null""", (NIGHTS[1],)).fetchone()
    assert removed[0] == removed[1] == removed[2] > 0
    current = conn.execute("select count(*) from marts.fct_false_litigant where is_current and is_list_ground"
                           ).fetchone()[0]
    assert current > 0


def test_the_listings_reach_the_profile(nights, conn):
    expected = dict(conn.execute(
        "select subject_id, count(*) from marts.fct_false_litigant group by 1").fetchall())
    profiles = dict(conn.execute("""select subject_id, false_litigation_case_count from marts.prf_subject_credit_profile
                                    where false_litigation_case_count > 0""").fetchall())
    assert expected and profiles == expected
    flags = conn.execute(
        """select count(*) filter (where p.is_false_litigant <> exists (
                      select from marts.fct_false_litigant f where f.subject_id = p.subject_id and f.is_current)),
                  count(*) filter (where p.is_false_litigant and p.is_green_channel_eligible),
                  count(*) filter (where p.is_false_litigant)
           from marts.prf_subject_credit_profile p""").fetchone()
    assert flags[0] == 0 and flags[1] == 0 and flags[2] > 0


def test_a_rerun_of_the_night_changes_nothing(nights, conn):
    """The later night again (its removals included): same rows, same issues, same facts."""
    _, last = nights[NIGHTS[1]]
    issues = _quarantined_by_check(conn, last.batch_id)
    fingerprint = """select count(*), md5(string_agg(false_litigant_id || '|' || delivery_count || '|' || is_current,
                                               ',' order by false_litigant_id)) from marts.fct_false_litigant"""
    before = conn.execute(fingerprint).fetchone()
    _simulate(NIGHTS[1])
    again = ingest.ingest(sim.SOURCE_ID, NIGHTS[1])
    assert (again.rows_received, again.rows_accepted, again.rows_quarantined) == \
        (last.rows_received, last.rows_accepted, last.rows_quarantined)
    assert _quarantined_by_check(conn, last.batch_id) == issues
    transform.run_dbt(["run", "--select", "fct_false_litigant", "--vars",
                       f"{{as_of_date: '{NIGHTS[-1].isoformat()}'}}"])
    assert conn.execute(fingerprint).fetchone() == before

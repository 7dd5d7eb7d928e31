"""The incremental periodic facts: fct_social_insurance, fct_housing_fund, fct_utility_payment.

Two simulated nights of 2014 (this file's year), each ingested through the real gate and merged
incrementally: 2014-03-05 (February's contributions, the utilities' February bills) and
2014-04-05 (March's, plus the social-insurance department settling (补缴) some of February's
arrears: late records for an earlier month). Checked end to end, against the embedded PostgreSQL:
the late settlements land in February's rows and the incremental table equals a recomputation
from all of staging; a dbt run with nothing new rewrites no row; rerunning a night changes
nothing; persons who did not authorise the use of their utility data never reach the mart, and
authorised ones appear under the real keyed hash (credit_dw.db.privacy) only.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from conftest import ensure_all_raw_tables, subject_hash_key

from credit_dw.config import settings
from credit_dw.connectors import http as extract_http
from credit_dw.db import privacy
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import api_server, housing_fund, utility_gas, utility_power, utility_water
from credit_dw.simulate import social_insurance as si
from credit_dw.transform import dbt as transform

NIGHT_1 = date(2014, 3, 5)
NIGHT_2 = date(2014, 4, 5)
TEST_KEY = "periodic-facts-test-key-2014"
FEEDS = ("social_insurance", "housing_fund", "utility_water", "utility_power", "utility_gas")
MARTS = {
    "fct_social_insurance": "social_insurance_id",
    "fct_housing_fund": "housing_fund_id",
    "fct_utility_payment": "utility_payment_id",
}
# The marts and what their tests need (int_subjects_resolved for the relationships tests).
BUILD = ["build", "--select", "+fct_social_insurance", "+fct_housing_fund", "+fct_utility_payment",
         "+int_subjects_resolved", "--exclude", "path:models/staging,resource_type:test",
         "--indirect-selection", "cautious"]
BUILD_MARTS = ["build", "--select", "fct_social_insurance", "fct_housing_fund", "fct_utility_payment"]


def _simulate(source_id: str, night: date) -> None:
    if source_id == "social_insurance":
        si.simulate_social_insurance(settings.source_url(source_id), night, scale=1, defect_share=0.05)
    elif source_id == "housing_fund":
        housing_fund.simulate(night, scale=1, defect_share=0.05)
    else:
        {"utility_water": utility_water, "utility_power": utility_power, "utility_gas": utility_gas}[
            source_id].simulate(night)


def _night(night: date) -> None:
    for source_id in FEEDS:
        _simulate(source_id, night)
        outcome = ingest.ingest(source_id, night)
        assert outcome.status == "accepted", (source_id, night, outcome)


def _fingerprint(conn, mart: str) -> dict[str, str]:
    """Each row's content (all columns but the watermark validated_at), by key."""
    key = MARTS[mart]
    cols = [c for (c,) in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = %s "
        "and column_name <> 'validated_at' order by ordinal_position", (mart,)).fetchall()]
    row = "row(" + ", ".join(f"t.{c}" for c in cols) + ")::text"
    return dict(conn.execute(f"select t.{key}, {row} from marts.{mart} t").fetchall())


def _table_count(conn) -> int:
    return conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = any(%s)",
        (list(MARTS),)).fetchone()[0]


def _row_versions(conn, mart: str) -> dict[str, str]:
    """Key → xmin: a row rewritten by a merge gets a new transaction id."""
    return dict(conn.execute(f"select {MARTS[mart]}, xmin::text from marts.{mart}").fetchall())


@pytest.fixture(scope="module")
def nights(warehouse_url):
    with subject_hash_key(TEST_KEY):
        privacy.install_hash_key(warehouse_url)
        transform.seed_reference()
        ensure_all_raw_tables()
        with pytest.MonkeyPatch.context() as mp, psycopg.connect(warehouse_url, autocommit=True) as conn:
            # The housing fund is read from the simulator's day files, not from a running interface.
            mp.delenv(extract_http.env_name("housing_fund"), raising=False)
            api_server.url_file().unlink(missing_ok=True)
            _night(NIGHT_1)
            # A full refresh first: the incremental facts may hold rows an earlier module merged
            # under another subject-hash key (conftest.subject_hash_key), which no longer match
            # int_subjects_resolved rebuilt under this module's key.
            transform.run_dbt([*BUILD, "--full-refresh"])
            assert _table_count(conn) == 3, "the marts were not built"
            after_first = {mart: _fingerprint(conn, mart) for mart in MARTS}
            _night(NIGHT_2)
            transform.run_dbt(BUILD_MARTS)
            yield {"after_first": after_first}


def test_late_settlements_land_in_their_month(nights, conn):
    settled = conn.execute(
        """select uscc, contribution_month, insurance_category, source_updated_at
           from staging.stg_social_insurance__contributions
           where batch_id = %s and contribution_month = date '2014-02-01' and payment_status = '已补缴'""",
        (f"social_insurance/{NIGHT_2}",),
    ).fetchall()
    assert settled, "the simulator settled none of February's arrears on the second night"
    for uscc, month, insurance, updated_at in settled:
        row = conn.execute(
            f"""select count(*) over (), {insurance}_arrears_amount, {insurance}_updated_at,
                       first_reported_on, last_reported_on
                from marts.fct_social_insurance where subject_id = %s and contribution_month = %s""",
            (uscc, month),
        ).fetchone()
        assert row == (1, 0, updated_at, NIGHT_1, NIGHT_2), (uscc, insurance, row)
    # February's rows are the same months as after the first night, none added or lost.
    february = {k for (k,) in conn.execute(
        "select social_insurance_id from marts.fct_social_insurance where contribution_month = date '2014-02-01'")}
    assert february <= set(nights["after_first"]["fct_social_insurance"])


def test_incremental_social_insurance_equals_a_recomputation_from_staging(nights, conn):
    """The merged table against the definition applied to every accepted row at once."""
    expected = conn.execute(
        """with latest as (
               select distinct on (uscc, contribution_month, insurance_category) *
               from staging.stg_social_insurance__contributions
               where batch_logical_date in (%s, %s) and uscc is not null
                   and contribution_month is not null and insurance_category is not null
               order by uscc, contribution_month, insurance_category,
                   source_updated_at desc nulls last, batch_logical_date desc, source_row_number desc)
           , reported as (
               select uscc, contribution_month, min(batch_logical_date) as first_on, max(batch_logical_date) as last_on
               from staging.stg_social_insurance__contributions
               where batch_logical_date in (%s, %s) and insurance_category is not null
               group by 1, 2)
           select uscc, contribution_month, sum(amount_due), sum(amount_paid), sum(arrears_amount),
                  count(*)::int, min(first_on), max(last_on)
           from latest join reported using (uscc, contribution_month)
           group by 1, 2 order by 1, 2""",
        (NIGHT_1, NIGHT_2, NIGHT_1, NIGHT_2),
    ).fetchall()
    actual = conn.execute(
        """select subject_id, contribution_month, amount_due, amount_paid, arrears_amount, insurance_count,
                  first_reported_on, last_reported_on
           from marts.fct_social_insurance where last_reported_on in (%s, %s) order by 1, 2""",
        (NIGHT_1, NIGHT_2),
    ).fetchall()
    assert len(expected) >= 90  # 50 employers a night (scale 1), two months
    assert actual == expected


def test_a_run_with_nothing_new_rewrites_no_row(nights, conn):
    before = {mart: _row_versions(conn, mart) for mart in MARTS}
    transform.run_dbt(BUILD_MARTS)
    assert {mart: _row_versions(conn, mart) for mart in MARTS} == before


def test_rerunning_a_night_changes_nothing(nights, conn):
    before = {mart: _fingerprint(conn, mart) for mart in MARTS}
    versions = _row_versions(conn, "fct_utility_payment")
    _night(NIGHT_2)
    transform.run_dbt(BUILD_MARTS)
    assert {mart: _fingerprint(conn, mart) for mart in MARTS} == before
    # ...and the night really was merged again (its rows rewritten with the same values).
    rewritten = conn.execute(
        "select count(*) from marts.fct_utility_payment where reported_on = %s", (NIGHT_2,)).fetchone()[0]
    assert rewritten > 0
    assert sum(_row_versions(conn, "fct_utility_payment")[k] != v for k, v in versions.items()) >= rewritten


def test_unauthorised_persons_never_reach_the_utility_mart(nights, conn):
    people = conn.execute(
        """select id_number, coalesce(upper(trim(is_authorised)), '') = 'Y'
           from (select id_number, is_authorised, customer_type from raw.utility_water__bills
                 union all select id_number, is_authorised, customer_type from raw.utility_power__bills
                 union all select id_number, is_authorised, customer_type from raw.utility_gas__bills) r
           where trim(customer_type) = '个人' and id_number is not null"""
    ).fetchall()
    key = TEST_KEY.encode("utf-8")
    authorised = {privacy.subject_hash(i, key) for i, ok in people if ok}
    unauthorised = {privacy.subject_hash(i, key) for i, ok in people if not ok}
    assert authorised and unauthorised, "the simulator sent no persons of one kind"
    persons = dict(conn.execute(
        """select subject_id, count(*) from marts.fct_utility_payment
           where subject_type = 'natural_person' group by 1""").fetchall())
    assert not set(persons) & unauthorised
    assert set(persons) <= authorised
    assert len(persons) >= 0.8 * len(authorised - unauthorised)  # a few rows are quarantined defects
    leaked = conn.execute(
        "select count(*) from marts.fct_utility_payment where subject_type = 'natural_person' "
        "and (subject_name is not null or citizen_id_masked !~ '^[0-9]{6}\\*{8}[0-9]{3}[0-9X]$')").fetchone()[0]
    assert leaked == 0
    # Persons resolve: the utilities' keyed hash is the key int_subjects_resolved has for them.
    resolved = conn.execute(
        """select count(*) from marts.fct_utility_payment f
           join intermediate.int_subjects_resolved s on s.subject_id = f.subject_id
           where f.subject_type = 'natural_person' and s.subject_type = 'natural_person'""").fetchone()[0]
    assert resolved == sum(persons.values())

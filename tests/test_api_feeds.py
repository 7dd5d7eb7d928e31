"""The five HTTP-API feeds end to end: simulate → ingest (the connector starting the simulated
server itself, as `credit-dw run` does) → gate → staging; and the simulators' promises.

Nights: 2023-07-10 for the end-to-end runs, 2023-11-06 for the registry-reuse check (cleaned up
afterwards); test_http_api uses January–March 2023.
"""

from __future__ import annotations

import importlib
from datetime import date

import psycopg
import pytest

from credit_dw.catalog import get_source
from credit_dw.config import settings
from credit_dw.connectors import http as extract_http
from credit_dw.ingest import ledger
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import api_feeds, api_server, objections, simulate_market_registry
from credit_dw.simulate.market_registry import TABLE as REGISTRY_TABLE
from credit_dw.simulate.market_registry import day_id_range
from credit_dw.transform import dbt as transform

NIGHT = date(2023, 7, 10)
FEEDS = ("tax_a_level", "tax_arrears", "housing_fund", "credit_commitments", "objections")

#: feed -> simulator defect kind -> the critical gate check it must trip.
DEFECT_CHECKS = {
    "tax_a_level": {"bad_check_character": "uscc_check_character", "missing_name": "subject_name_required",
                    "bad_date": "published_on_date", "not_grade_a": "credit_grade_is_a"},
    "tax_arrears": {"bad_check_character": "uscc_check_character", "missing_name": "subject_name_required",
                    "bad_date": "announced_on_date", "negative_amount": "arrears_amount_valid"},
    "housing_fund": {"bad_check_character": "uscc_check_character", "missing_name": "subject_name_required",
                     "bad_month": "contribution_month_valid", "negative_amount": "monthly_amount_valid"},
    "credit_commitments": {"bad_check_character": "uscc_check_character", "missing_name": "subject_name_required",
                           "bad_date": "committed_on_date", "unknown_kind_code": "commitment_kind_known"},
    "objections": {"bad_check_character": "uscc_check_character", "missing_name": "subject_name_required",
                   "bad_date": "applied_on_date", "unknown_application_type": "application_type_known"},
}
#: feed -> a key the interface sends that the catalog does not map (must land in _extra).
UNMAPPED_KEY = {"tax_a_level": "sjly", "tax_arrears": "sjly", "housing_fund": "ext",
                "credit_commitments": "cnsfj", "objections": "fj"}
STAGING = {"tax_a_level": "stg_tax_a_level__taxpayers", "tax_arrears": "stg_tax_arrears__announcements",
           "housing_fund": "stg_housing_fund__contributions",
           "credit_commitments": "stg_credit_commitments__commitments", "objections": "stg_objections__applications"}


def _simulator(source_id: str):
    return importlib.import_module(f"credit_dw.simulate.{source_id}")


@pytest.fixture(scope="module")
def ingested(warehouse_url: str) -> dict:
    """Every feed simulated and ingested for NIGHT with no interface configured and no server running."""
    transform.seed_reference()
    results = {}
    with pytest.MonkeyPatch.context() as mp:
        for source_id in FEEDS:
            mp.delenv(extract_http.env_name(source_id), raising=False)
        api_server.url_file().unlink(missing_ok=True)
        for source_id in FEEDS:
            summary = _simulator(source_id).simulate(NIGHT, scale=1, defect_share=0.1)
            results[source_id] = (summary, ingest.ingest(source_id, NIGHT))
    return results


@pytest.mark.parametrize("source_id", FEEDS)
def test_feed_lands_and_each_defect_is_quarantined_by_its_check(ingested, conn, source_id):
    summary, outcome = ingested[source_id]
    spec = get_source(source_id)
    assert outcome.status == "accepted"
    assert outcome.rows_received == summary.rows_written == len(
        api_server.read_day(api_server.day_file(source_id, NIGHT)))
    by_check = dict(conn.execute(
        """select check_name, count(*) from meta.row_issues where batch_id = %s and severity = 'critical'
           group by check_name""", (outcome.batch_id,)).fetchall())
    for kind, check in DEFECT_CHECKS[source_id].items():
        assert summary.defects[kind] > 0, kind
        assert by_check.get(check) == summary.defects[kind], (kind, by_check)
    assert outcome.rows_quarantined == sum(summary.defects.values())
    batch = ledger.batch_row(outcome.batch_id)
    assert batch["rows_received"] == batch["rows_accepted"] + batch["rows_quarantined"]

    unmapped, wrong_file = conn.execute(
        f"""select count(*) filter (where not (_extra ? %s)),
                   count(*) filter (where _source_file !~ %s or _source_row is null)
            from {spec.raw_relation} where _batch_id = %s""",
        (UNMAPPED_KEY[source_id], f"^/api/{source_id}[?]date=2023-07-10&page=[0-9]+&page_size=100$",
         outcome.batch_id),
    ).fetchone()
    assert unmapped == 0 and wrong_file == 0


def test_staging_holds_exactly_the_accepted_rows(ingested, conn):
    transform.run_dbt(["build", "--select", *STAGING.values()])
    for source_id, model in STAGING.items():
        _summary, outcome = ingested[source_id]
        staged = conn.execute(f"select count(*) from staging.{model} where batch_id = %s",
                              (outcome.batch_id,)).fetchone()[0]
        assert staged == outcome.rows_accepted > 0, source_id
    kinds = dict(conn.execute(
        "select commitment_kind, count(*) from staging.stg_credit_commitments__commitments where batch_id = %s "
        "group by 1", (ingested["credit_commitments"][1].batch_id,)).fetchall())
    assert None not in kinds and set(kinds) <= {"approval_substitute", "voluntary", "industry_self_discipline",
                                                "repair"}
    amounts = conn.execute(
        "select min(monthly_amount), count(*) filter (where contribution_month is null) "
        "from staging.stg_housing_fund__contributions where batch_id = %s",
        (ingested["housing_fund"][1].batch_id,)).fetchone()
    assert amounts[0] >= 0 and amounts[1] == 0


@pytest.mark.parametrize("source_id", FEEDS)
def test_simulators_are_deterministic_and_idempotent(source_id):
    module = _simulator(source_id)
    night = date(2023, 8, 7)
    first, defects = module.generate(night, scale=1, seed=7)
    again, defects_again = module.generate(night, scale=1, seed=7)
    other, _ = module.generate(night, scale=1, seed=8)
    assert first == again and defects == defects_again
    assert first != other
    assert sum(defects.values()) == round(0.05 * len(first)) > 0

    path = api_server.day_file(source_id, night)
    module.simulate(night, scale=1, seed=7)
    written = path.read_bytes()
    module.simulate(night, scale=1, seed=7)
    assert path.read_bytes() == written
    path.unlink()


def test_feeds_of_a_night_share_subjects_without_the_registry(monkeypatch):
    """Without the registry database, every feed draws from one generated pool per night."""
    monkeypatch.setattr(api_feeds, "_registry_subjects", lambda *args, **kwargs: [])
    night = date(2023, 8, 14)
    tax, _ = _simulator("tax_a_level").generate(night, defect_share=0)
    fund, _ = _simulator("housing_fund").generate(night, defect_share=0)
    tax_names = {r["nsrsbh"]: r["nsrmc"] for r in tax}
    fund_names = {r["tyshxydm"]: r["dwmc"] for r in fund}
    shared = tax_names.keys() & fund_names.keys()
    assert len(shared) > 20
    assert all(tax_names[code] == fund_names[code] for code in shared)


def test_subjects_come_from_the_market_registry(warehouse_url):
    night = date(2023, 11, 6)
    url = settings.source_url("market_registry")
    simulate_market_registry(url, night, scale=2)
    try:
        with psycopg.connect(url) as src:
            registry = dict(src.execute(f"select tyshxydm, ztmc from {REGISTRY_TABLE}").fetchall())
        # The night's own records (commitments also carry evaluations of earlier nights' ones).
        for source_id, code_key, name_key, date_key in (("tax_a_level", "nsrsbh", "nsrmc", "fbrq"),
                                                        ("credit_commitments", "tyshxydm", "ztmc", "cnrq")):
            records, _ = _simulator(source_id).generate(night, defect_share=0)
            tonight = [r for r in records if r[date_key] == night.isoformat()]
            assert tonight, source_id
            # 400 registered that night: enough for every feed, so no subject is made up.
            assert all(registry.get(r[code_key]) == r[name_key] for r in tonight), source_id
    finally:
        lo, hi = day_id_range(night)
        with psycopg.connect(url, autocommit=True) as src:  # leave the registry as other tests expect it
            src.execute(f"delete from {REGISTRY_TABLE} where id between %s and %s", (lo, hi))


def test_objection_notices_and_replies_are_realistic_and_deterministic():
    """[001 2018 plan §4.9] Most providers are notified within a few days, some late, some never;
    a notice never precedes the application nor follows the night; a closed, notified objection
    carries its reply date; regenerating gives the same dates."""
    delays = [objections.notice_delay_days(f"YY20261101{n:05d}", 20261122) for n in range(2000)]
    prompt = sum(1 for d in delays if d is not None and d <= 4) / len(delays)
    late = sum(1 for d in delays if d is not None and d > 4) / len(delays)
    never = sum(1 for d in delays if d is None) / len(delays)
    assert 0.6 < prompt < 0.8 and 0.1 < late < 0.3 and 0.05 < never < 0.15
    night = date(2026, 11, 20)
    records, _ = objections.generate(night, scale=1, defect_share=0.0)
    assert records == objections.generate(night, scale=1, defect_share=0.0)[0]
    verified = [r for r in records if r["sqlx"] == "1" and r["clzt"] in ("03", "04")]
    assert verified and any(r["tzrq"] for r in verified) and any(not r["tzrq"] for r in verified)
    for r in records:
        if r["tzrq"]:
            assert r["sqlx"] == "1" and r["sqrq"] < r["tzrq"] <= night.isoformat()
        if r["hfrq"]:
            assert r["clzt"] == "04" and r["hfrq"] == r["bjrq"] and r["tzrq"] <= r["hfrq"]

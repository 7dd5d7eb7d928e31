"""Source freshness: a feed that has not delivered is named, by `dbt source freshness` and by the
night summary, with thresholds fitted to its cadence (nightly: warn after 3 days, error after 9;
monthly: 35 / 45 days; docs/architecture.md, "Source freshness")."""

from __future__ import annotations

import pytest

from credit_dw.catalog import source_ids
from credit_dw.reports import summary
from credit_dw.transform import dbt as transform

NIGHT = "2026-11-20"

#: feed -> deliveries as (days ago, rows received); the verdict the thresholds give.
DELIVERIES = {
    "market_registry": ([(0.1, 10), (1.1, 12)], "pass"),
    "tax_a_level": ([(4, 5)], "warn"),  # nightly: four days without a delivery
    "court_debtors": ([(10, 7)], "error"),  # nightly: ten days
    # Empty nights (no file, no records) are not deliveries: the last one with rows counts.
    "objections": ([(0.1, 0), (1.1, 0), (12, 3)], "error"),
    "utility_water": ([(20, 40)], "pass"),  # monthly: the 5th of last month's bills, 20 days ago
    "utility_gas": ([(40, 40)], "warn"),  # monthly: a month's delivery missed
    "housing_fund": ([], "error"),  # never delivered
}


@pytest.fixture(scope="module")
def ledger(warehouse_url):
    """The deliveries above, in the ledger of the session's warehouse. The feeds' own batches (other
    test modules' nights) stay, with their landing time set aside for this module and restored after
    it: deleting them would cascade to their row issues."""
    import psycopg

    feeds = list(DELIVERIES)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("""create table meta.freshness_test_landed_at as
                        select batch_id, landed_at from meta.load_batches where source_id = any(%s)""", (feeds,))
        conn.execute("update meta.load_batches set landed_at = null where source_id = any(%s)", (feeds,))
        for source_id, (deliveries, _) in DELIVERIES.items():
            for number, (days_ago, rows) in enumerate(deliveries):
                conn.execute(
                    """insert into meta.load_batches
                           (batch_id, source_id, logical_date, status, rows_received, rows_accepted,
                            rows_quarantined, landed_at, validated_at)
                       values (%s, %s, date '1999-01-01' + %s, 'accepted', %s, %s, 0,
                               now() - make_interval(secs => %s * 86400), now())""",
                    (f"freshness_test/{source_id}/{number}", source_id, number, rows, rows, days_ago),
                )
        yield warehouse_url
        conn.execute("delete from meta.load_batches where batch_id like 'freshness_test/%'")
        conn.execute("""update meta.load_batches set landed_at = saved.landed_at
                        from meta.freshness_test_landed_at as saved
                        where saved.batch_id = load_batches.batch_id""")
        conn.execute("drop table meta.freshness_test_landed_at")


def test_the_summary_names_the_feeds_that_have_not_delivered(ledger):
    verdicts = {f["source_id"]: f for f in summary.feed_freshness()}
    assert {feed: verdicts[feed]["status"] for feed in DELIVERIES} == {
        feed: expected for feed, (_, expected) in DELIVERIES.items()}
    assert verdicts["housing_fund"]["last_delivered_at"] is None
    assert verdicts["tax_a_level"]["warn_after_hours"] == 72 and verdicts["tax_a_level"]["error_after_hours"] == 216
    assert verdicts["utility_gas"]["warn_after_hours"] == 35 * 24
    assert 95 < verdicts["tax_a_level"]["age_hours"] < 97
    # Every raw source has a rule: every feed of the catalog is in the summary.
    assert set(verdicts) == set(source_ids())
    night = summary.night_summary(NIGHT)
    assert {f["source_id"]: f["status"] for f in night["freshness"]} == {
        feed: f["status"] for feed, f in verdicts.items()}


def test_dbt_source_freshness_fails_naming_the_feeds_that_have_not_delivered(ledger):
    with pytest.raises(RuntimeError) as failed:
        transform.run_dbt(["source", "freshness", "--select", *(f"source:raw_{feed}" for feed in DELIVERIES)])
    message = str(failed.value)
    for feed, (_, expected) in DELIVERIES.items():
        assert (f"raw_{feed}." in message) == (expected == "error"), feed
    # A warning alone does not fail the run; a fresh feed passes.
    transform.run_dbt(["source", "freshness", "--select", "source:raw_market_registry", "source:raw_tax_a_level",
                       "source:raw_utility_gas"])

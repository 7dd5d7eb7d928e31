"""What `credit-dw run --feed F` rebuilds: the models and snapshots downstream of F, read from the
manifest (credit_dw.transform.selection). No database: the rebuild itself is tested in
tests/test_nightly.py (test_a_rerun_of_one_feed_rebuilds_only_what_depends_on_it)."""

from __future__ import annotations

import pytest

from credit_dw.catalog import source_ids
from credit_dw.transform import dbt as transform
from credit_dw.transform import selection


@pytest.fixture(scope="module", autouse=True)
def manifest():
    transform.ensure_manifest()


def _names(unique_ids: set[str]) -> set[str]:
    return set(selection.dbt_select(unique_ids))


def test_every_feed_of_the_catalog_has_a_rebuild_and_none_is_the_whole_project():
    everything = selection.built_nodes()
    for feed in source_ids():
        chosen = selection.downstream_of_feeds([feed])
        assert f"stg_{feed}" in " ".join(_names(chosen)), feed  # its own staging view
        assert chosen < everything, feed


def test_a_feed_rebuilds_what_reads_it_and_the_ledger_counts_not_the_other_feeds_facts():
    tax = _names(selection.downstream_of_feeds(["tax_a_level"]))
    assert {"stg_tax_a_level__taxpayers", "fct_tax_status", "prf_subject_credit_profile", "credit_archive",
            "rpt_audit_reconciliation"} <= tax
    assert not {"fct_admin_penalty", "stg_admin_penalty__penalties", "fct_court_debtor"} & tax
    both = _names(selection.downstream_of_feeds(["tax_a_level", "admin_penalty"]))
    assert tax | _names(selection.downstream_of_feeds(["admin_penalty"])) == both
    assert "fct_admin_penalty" in both


def test_a_feed_dbt_does_not_know_is_refused():
    with pytest.raises(ValueError, match="raw_no_such_feed"):
        selection.downstream_of_feeds(["no_such_feed"])

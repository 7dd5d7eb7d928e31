"""The three file-drop feeds of include/credit_dw/catalog/ledgers_lists.yml end to end: the
departments' monthly ledgers (台账, `dept_ledgers`), the national push-down (国家推送,
`national_pushdown`) and the credit lists (红黑名单, `credit_lists`): simulator → file-drop
connector → gate → staging, every injected defect held back (or flagged) by its own check, counts
conserved, simulators deterministic and consistent with the dual-publicity simulator.

Logical dates: July 2019 (test_dual_publicity_rates uses January-March 2019).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date

import pytest

from credit_dw.connectors.files.receipts import file_receipts
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import credit_lists, dept_ledgers, national_pushdown
from credit_dw.simulate import dual_publicity as dp
from credit_dw.transform import dbt as transform

LEDGER_NIGHT = date(2019, 7, 3)  # the June ledgers
QUIET_NIGHT = date(2019, 7, 4)  # not a ledger night
PUSH_NIGHT = date(2019, 7, 10)
LIST_NIGHTS = (date(2019, 7, 15), date(2019, 7, 22))  # exits 7 days after entries
LIST_DEFECTS = 0.1  # 4 of 40 rows a night: every defect kind

LEDGER_CHECKS = {  # injected defect -> (check, severity, rows per defect)
    "missing_document_number": ("document_number_required", "critical", 1),
    "unknown_kind": ("decision_kind_known", "critical", 1),
    "date_outside_month": ("decision_date_in_ledger_month", "critical", 1),
    "duplicate_document_number": ("document_number_unique", "critical", 2),
    "bad_check_character": ("uscc_check_character", "warning", 1),
}
PUSHDOWN_CHECKS = {
    "missing_document_number": ("document_number_required", "critical", 1),
    "unknown_kind": ("decision_kind_known", "critical", 1),
    "future_decision": ("decision_date_not_after_night", "critical", 1),
    "bad_check_character": ("uscc_check_character", "warning", 1),
}
LIST_CHECKS = {
    "bad_check_character": ("uscc_check_character", "critical", 1),
    "unknown_list_type": ("list_type_known", "critical", 1),
    "removal_before_listing": ("removal_not_before_listing", "critical", 1),
    "missing_listing_date": ("listed_on_valid", "critical", 1),
}


def _issues_by_check(conn, batch_id: str) -> dict[tuple[str, str], int]:
    return {(check, severity): n for check, severity, n in conn.execute(
        "select check_name, severity, count(*) from meta.row_issues where batch_id = %s group by 1, 2",
        (batch_id,)).fetchall()}


def _expected_issues(defects: dict[str, int], checks: dict) -> dict[tuple[str, str], int]:
    return {(check, severity): defects[kind] * per for kind, (check, severity, per) in checks.items() if defects[kind]}


def _digests(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def feeds(warehouse_url):
    """Every night of this file simulated and ingested, then the three staging views built."""
    nights = {
        "ledger": (dept_ledgers.write_ledgers(LEDGER_NIGHT), ingest.ingest("dept_ledgers", LEDGER_NIGHT)),
        "quiet": (dept_ledgers.write_ledgers(QUIET_NIGHT), ingest.ingest("dept_ledgers", QUIET_NIGHT)),
        "pushdown": (national_pushdown.write_pushdown(PUSH_NIGHT), ingest.ingest("national_pushdown", PUSH_NIGHT)),
    }
    for night in LIST_NIGHTS:
        nights[night] = (credit_lists.write_lists(night, defect_share=LIST_DEFECTS),
                         ingest.ingest("credit_lists", night))
    transform.run_dbt(["run", "--select", "stg_dept_ledgers__decisions", "stg_national_pushdown__decisions",
                       "stg_credit_lists__entries"])
    return nights


def test_each_injected_ledger_defect_is_caught_by_its_check(feeds, conn):
    written, outcome = feeds["ledger"]
    defects = written.summary.defects
    assert all(defects[kind] > 0 for kind in LEDGER_CHECKS)
    assert _issues_by_check(conn, outcome.batch_id) == _expected_issues(defects, LEDGER_CHECKS)
    assert outcome.status == "accepted"
    assert outcome.rows_received == written.summary.rows_written == outcome.rows_accepted + outcome.rows_quarantined
    assert outcome.rows_accepted == sum(r.is_accepted for r in written.rows)
    # A bad subject code only flags the row: the decision still counts against omissions.
    assert outcome.rows_warned == defects["bad_check_character"]


def test_ledgers_arrive_as_departments_keep_them(feeds, conn):
    written, outcome = feeds["ledger"]
    receipts = file_receipts(outcome.batch_id)
    assert [r["file_name"] for r in receipts] == sorted(p.name for p in written.files)
    assert {r["outcome"] for r in receipts} == {"landed"}
    assert {r["file_name"].split("_")[0] for r in receipts} == {d.code for d in dp.DEPARTMENTS}
    assert {r["encoding"] for r in receipts} == {"gb18030", "utf-8", "utf-8-sig", None}
    # Month written as 2019-06, 2019年06月 and 201906; kinds as 行政许可 and 许可; 序号 kept aside.
    rows = conn.execute(
        """select delivering_department_code, ledger_month, decision_kind, count(*),
                  count(*) filter (where extra_columns ? '序号')
           from staging.stg_dept_ledgers__decisions where batch_id = %s group by 1, 2, 3""",
        (outcome.batch_id,)).fetchall()
    assert {r[1] for r in rows} == {date(2019, 6, 1)}
    assert {(r[0], r[2]) for r in rows} == {(d.code, k) for d in dp.DEPARTMENTS for k in ("licence", "penalty")}
    assert sum(r[3] for r in rows) == outcome.rows_accepted
    assert all((r[4] > 0) == (r[0] == "hbjtt") for r in rows)


def test_a_ledger_lists_every_decision_including_the_unreported(feeds, tmp_path):
    """Consistency with the dual-publicity simulator: what it delivers on a June night is in the
    ledger with the same department, kind, number and date; the injected omissions are decisions
    it never delivers."""
    written, _ = feeds["ledger"]
    ledger = {(r.decision.source_id, r.decision.department.name, r.decision.document_number): r.decision.decision_date
              for r in written.rows}
    night = date(2019, 6, 20)
    delivered = set()
    for kind in (dp.LICENCE, dp.PENALTY):
        day = dp.write_day(kind, night, inbox=tmp_path / kind)
        clean, _ = dp.generate_records(kind, night, defect_share=0.0)
        for dept, r in clean:
            key = (kind, dept.name, r["decision_document_number"])
            delivered.add(r["decision_document_number"])
            assert ledger[key] == r["decision_date"]
        assert len(day.records) == len(clean)
    omitted = [r.decision for r in written.rows if r.decision.reported_on is None]
    assert len(omitted) >= len(dp.DEPARTMENTS) * 2
    assert not {d.document_number for d in omitted} & delivered
    assert {d.decision_date.month for d in omitted} == {6}


def test_a_night_without_ledgers_lands_nothing(feeds):
    written, outcome = feeds["quiet"]
    assert written.summary.rows_written == 0 and written.files == []
    assert outcome.status == "accepted" and outcome.rows_received == 0


def test_each_injected_pushdown_defect_is_caught_by_its_check(feeds, conn):
    written, outcome = feeds["pushdown"]
    defects = written.summary.defects
    assert _issues_by_check(conn, outcome.batch_id) == _expected_issues(defects, PUSHDOWN_CHECKS)
    assert outcome.rows_received == written.summary.rows_written == outcome.rows_accepted + outcome.rows_quarantined
    assert outcome.rows_accepted == sum(r.is_accepted for r in written.rows)
    origins = Counter(r.origin for r in written.rows)
    assert origins["reported"] > origins["concealed"] > 0
    assert any("[" in (r.values["decision_document_number"] or "") for r in written.rows)
    staged = conn.execute(
        "select count(*), count(distinct decision_kind) from staging.stg_national_pushdown__decisions "
        "where batch_id = %s", (outcome.batch_id,)).fetchone()
    assert staged == (outcome.rows_accepted, 2)


def test_each_injected_list_defect_is_caught_by_its_check(feeds, conn):
    total = Counter()
    for night in LIST_NIGHTS:
        written, outcome = feeds[night]
        total.update(written.summary.defects)
        assert _issues_by_check(conn, outcome.batch_id) == _expected_issues(written.summary.defects, LIST_CHECKS)
        assert outcome.rows_received == written.summary.rows_written == outcome.rows_accepted + outcome.rows_quarantined
        assert outcome.rows_accepted == sum(r.is_accepted for r in written.rows)
    assert all(total[kind] > 0 for kind in LIST_CHECKS), total


def test_an_exit_repeats_its_entry_with_the_exit_date(feeds, conn):
    entries_night, exits_night = LIST_NIGHTS
    written, outcome = feeds[exits_night]
    exits = [r for r in written.rows if r.event == "exit" and r.is_accepted]
    assert exits and written.summary.rows_updated == sum(r.event == "exit" for r in written.rows)
    rows = conn.execute(
        """select x.uscc, x.list_kind, x.listed_on, x.removed_on, x.removal_reason, e.batch_id
           from staging.stg_credit_lists__entries x
           left join staging.stg_credit_lists__entries e
             on e.listing_document_number = x.listing_document_number and e.uscc = x.uscc
            and e.list_event = 'entry' and e.listed_on = x.listed_on
           where x.batch_id = %s and x.list_event = 'exit'""", (outcome.batch_id,)).fetchall()
    assert len(rows) == len(exits)
    assert all(r[3] >= r[2] and r[4] for r in rows)
    assert {r[1] for r in rows} <= {"red", "black", "key_attention"}
    # Exits of entries delivered on the entries night find them (unless that entry row was held back).
    from_entries_night = [r for r in exits if r.entry.exit_night == exits_night
                          and f"〕{entries_night:%m%d}" in r.entry.document_number]
    held_back = {r.entry.document_number for r in feeds[entries_night][0].rows if not r.is_accepted}
    matched = {r[5] for r in rows if r[5]}
    assert matched == {f"credit_lists/{entries_night}"}
    expected = [r for r in from_entries_night if r.entry.document_number not in held_back]
    assert sum(1 for r in rows if r[5]) == len(expected) > 0


def test_simulators_are_deterministic_and_rerunnable(feeds, tmp_path):
    ledger, _ = feeds["ledger"]
    again = dept_ledgers.write_ledgers(LEDGER_NIGHT, inbox=tmp_path / "ledger")
    assert _digests(again.files) == _digests(ledger.files)
    assert any(p.suffix == ".xlsx" for p in again.files)
    pushed, _ = feeds["pushdown"]
    assert _digests(national_pushdown.write_pushdown(PUSH_NIGHT, inbox=tmp_path / "p").files) == _digests(pushed.files)
    lists, _ = feeds[LIST_NIGHTS[0]]
    first = credit_lists.write_lists(LIST_NIGHTS[0], inbox=tmp_path / "l", defect_share=LIST_DEFECTS)
    rerun = credit_lists.write_lists(LIST_NIGHTS[0], inbox=tmp_path / "l", defect_share=LIST_DEFECTS)
    assert _digests(first.files) == _digests(rerun.files) == _digests(lists.files)
    assert sorted(p.name for p in (tmp_path / "l").iterdir()) == sorted(p.name for p in first.files)
    reseeded = credit_lists.write_lists(LIST_NIGHTS[0], inbox=tmp_path / "s", seed=7, defect_share=LIST_DEFECTS)
    assert _digests(reseeded.files) != _digests(first.files)

"""Credit interviews and repair training (信用约谈、信用修复培训, feed `credit_interviews` [004 (十二);
002 #15]) end to end: black-list entries land first (credit_lists), then the departments' interview
and training registers → file-drop connector → gate (every injected defect held back by its own
check, returned to its department) → staging → fct_credit_interview → the profile; a rerun changes
nothing; rpt_blacklist_outreach_monthly's figures for each month equal a count made here from the
raw rows (a subject interviewed several times counts once).

Logical dates: September and October 2023 belong to this file (list nights 2023-09-04 and
2023-09-11, interview nights 2023-09-12 and 2023-10-11, the second re-sending
the first's 15-day interviews with their final outcome; the marts are built as of 2023-10-31).
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from conftest import ensure_all_raw_tables, seed_reference_unless_seeded

import credit_dw.simulate.dual_publicity as dp
from credit_dw.config import settings
from credit_dw.connectors.files.receipts import file_receipts
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest import returns
from credit_dw.simulate import credit_interviews as sim
from credit_dw.simulate import credit_lists
from credit_dw.transform import dbt as transform

LIST_NIGHTS = (date(2023, 9, 4), date(2023, 9, 11))
NIGHTS = (date(2023, 9, 12), date(2023, 10, 11))
AS_OF = date(2023, 10, 31)
MONTH_ENDS = {date(2023, 9, 1): date(2023, 9, 30), date(2023, 10, 1): date(2023, 10, 31)}
SCALE, DEFECTS = 3, 0.1
BLACK_LISTS = ("失信黑名单", "严重失信主体名单")

# What each injected defect must trip (simulator kind -> gate check); duplicates hold both rows.
CHECKS = {
    "bad_check_character": "uscc_check_character",
    "missing_subject_name": "subject_name_required",
    "deadline_before_interview": "deadline_not_before_held",
    "unknown_record_kind": "record_kind_known",
    "future_held_date": "held_on_not_after_night",
    "outcome_of_other_kind": "outcome_known",
    "duplicate_record_number": "record_number_unique",
}


def _vars(as_of: date) -> str:
    return f"{{as_of_date: '{as_of.isoformat()}'}}"


def _quarantined_by_check(conn, batch_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "select check_name, count(*) from meta.row_issues where batch_id = %s and severity = 'critical' "
        "group by check_name", (batch_id,)).fetchall())


def _blacklisted(list_nights: list) -> list[dp.Subject]:
    """The black-list subjects the list nights put on the list (accepted rows), in a fixed order."""
    seen = {}
    for night in list_nights:
        for row in night.rows:
            if row.is_accepted and row.event == "entry" and row.entry.credit_list.list_type in BLACK_LISTS:
                seen.setdefault(row.entry.subject.uscc, row.entry.subject)
    return [seen[code] for code in sorted(seen)]


def _write_interviews(night: date, blacklisted: list[dp.Subject]):
    return sim.write_day(night, scale=SCALE, defect_share=DEFECTS, blacklisted=blacklisted)


@pytest.fixture(scope="module")
def nights(warehouse_url: str) -> dict:
    """Two list nights and two interview nights ingested, the profile's and the report's lineage
    built as of 2023-10-31."""
    seed_reference_unless_seeded(warehouse_url, "departments")
    ensure_all_raw_tables()
    listed = []
    for night in LIST_NIGHTS:
        listed.append(credit_lists.write_lists(night, scale=2))
        ingest.ingest(credit_lists.SOURCE_ID, night)
    blacklisted = _blacklisted(listed)
    done = {"blacklisted": blacklisted}
    for night in NIGHTS:
        day = _write_interviews(night, blacklisted)
        done[night] = (day, ingest.ingest(sim.SOURCE_ID, night))
        returns.write_return_notices(sim.SOURCE_ID, night)
    transform.run_dbt(["build", "--select", "+fct_credit_interview", "+prf_subject_credit_profile",
                       "+rpt_blacklist_outreach_monthly", "--vars", _vars(AS_OF)])
    return done


def test_the_night_lands_from_every_department(nights, conn):
    day, outcome = nights[NIGHTS[0]]
    receipts = file_receipts(outcome.batch_id)
    assert all(r["outcome"] == "landed" for r in receipts)
    assert {r["file_name"].split("_")[0] for r in receipts} == {d.code for d in sim.DEPARTMENTS}
    assert {r["file_format"] for r in receipts} == {"csv", "xlsx"}
    assert sum(r["rows"] for r in receipts) == day.summary.rows_written == outcome.rows_received
    assert day.summary.rows_inserted == sim.ROWS_PER_SCALE * SCALE  # new records; the rest re-sent
    assert day.summary.rows_updated == day.summary.defects[sim.RESENT_KIND] > 0
    kinds = {k for (k,) in conn.execute(
        "select distinct record_kind from raw.credit_interviews__records where _batch_id = %s",
        (outcome.batch_id,)).fetchall()}
    assert {sim.REMINDER, sim.WARNING, sim.TRAINING} <= kinds
    # Many rows are about black-list subjects, and some subjects come back (also across nights).
    black = {s.uscc for s in nights["blacklisted"]}
    codes = [r["uscc"] for night in NIGHTS for r in nights[night][0].records]
    assert sum(c in black for c in codes) > len(codes) / 2
    assert any(codes.count(c) >= 3 for c in black)


def test_each_injected_defect_is_quarantined_by_its_check_and_returned(nights, conn):
    for night in NIGHTS:
        day, outcome = nights[night]
        defects = day.summary.defects
        assert all(defects[kind] > 0 for kind in CHECKS), defects
        expected = {check: defects[kind] * (2 if kind == "duplicate_record_number" else 1)
                    for kind, check in CHECKS.items()}
        assert _quarantined_by_check(conn, outcome.batch_id) == expected
        assert outcome.status == "accepted"
        assert outcome.rows_received == outcome.rows_accepted + outcome.rows_quarantined
        assert outcome.rows_quarantined == sum(expected.values())
    # Returned to the department that sent each row (数据来源单位), under its own headers, in Chinese.
    _, outcome = nights[NIGHTS[0]]
    notices = {n.department: n for n in returns.write_return_notices(sim.SOURCE_ID, NIGHTS[0])}
    assert notices and set(notices) <= {d.name for d in sim.DEPARTMENTS}
    assert sum(n.rows for n in notices.values()) == outcome.rows_quarantined
    text = "".join(n.path.read_text(encoding="utf-8-sig") for n in notices.values())
    header = next(csv.reader(io.StringIO(next(iter(notices.values())).path.read_text(encoding="utf-8-sig"))))
    assert "记录编号" in header and "记录类别" in header
    assert "整改期限早于约谈日期" in text and "记录类别无效" in text
    assert all(n.path.is_relative_to(settings.home() / "outbox" / "returns") for n in notices.values())


def test_every_accepted_record_is_one_fact_and_persons_stay_masked(nights, conn):
    staged = conn.execute("""select count(distinct (coalesce(source_department, authority_name), record_number))
                             from staging.stg_credit_interviews__records
                             where batch_id like 'credit_interviews/2023-%%'""").fetchone()[0]
    facts = conn.execute("""select count(*), count(distinct interview_id), count(*) filter (where jurisdiction_code
                                   is null and subject_type <> 'natural_person')
                            from marts.fct_credit_interview
                            where last_batch_id like 'credit_interviews/2023-%%'""").fetchone()
    assert staged > 0 and facts == (staged, staged, 0)
    # The second night re-sends the first night's 15-day interviews with their final outcome: one
    # record each, the latest delivery's outcome.
    resent = conn.execute("""select count(*), bool_and(outcome in ('rectified', 'overdue')
                                       and first_reported_on = %s and rectification_due_on < last_reported_on)
                              from marts.fct_credit_interview where delivery_count = 2
                                and last_batch_id = 'credit_interviews/2023-10-11'""", (NIGHTS[0],)).fetchone()
    assert resent[0] > 0 and resent[1]
    # An interview's deadline is never before it; overdue only for interviews past due or reported so.
    wrong = conn.execute("""select count(*) from marts.fct_credit_interview
                            where (is_interview and rectification_due_on < held_on)
                               or (not is_interview and (rectification_due_on is not null or is_rectification_overdue))
                               or is_rectification_overdue <> (outcome = 'overdue'
                                    or (outcome = 'rectifying' and rectification_due_on < as_of_on))""").fetchone()[0]
    assert wrong == 0
    people = conn.execute("""select f.subject_id, f.citizen_id_masked, f.subject_name, s.id_number, s.subject_name
                             from marts.fct_credit_interview f
                             join staging.stg_credit_interviews__records s
                               on s.batch_id = f.last_batch_id and f.subject_type = 'natural_person'
                              and s.record_number = f.record_number""").fetchall()
    assert people
    for subject_id, masked_id, name, clear_id, clear_name in people:
        assert len(subject_id) == 64 and clear_id not in subject_id
        assert masked_id == clear_id[:6] + "********" + clear_id[-4:]
        assert name is None  # interview records are not published: no name, not even masked
        profile = conn.execute("select subject_name, citizen_id_masked from marts.prf_subject_credit_profile "
                               "where subject_id = %s", (subject_id,)).fetchone()
        assert profile and clear_name not in (profile[0] or "") and profile[1] == masked_id


def test_the_records_reach_the_profile(nights, conn):
    expected = {r[0]: r[1:] for r in conn.execute(
        """select subject_id, count(*) filter (where is_interview), count(*) filter (where not is_interview),
                  max(held_on)
           from marts.fct_credit_interview group by 1""").fetchall()}
    profiles = {r[0]: r[1:] for r in conn.execute(
        """select subject_id, credit_interview_count, repair_training_count, latest_credit_interview_on
           from marts.prf_subject_credit_profile
           where credit_interview_count + repair_training_count > 0""").fetchall()}
    assert expected and profiles == expected
    kinds = dict(conn.execute("""select latest_credit_interview_kind, count(*) from marts.prf_subject_credit_profile
                                 where latest_credit_interview_on is not null group by 1""").fetchall())
    assert set(kinds) <= {"reminder_interview", "warning_interview", "repair_training"} and sum(kinds.values()) \
        == len(profiles)
    # Left to itself, the simulator draws black-list subjects the list nights before put on the list:
    # the day after the second list night, at the lists' scale, its pool includes this module's.
    drawn = {s.uscc for s in sim.blacklist_subjects(NIGHTS[0], scale=2, count=1000)}
    assert {s.uscc for s in nights["blacklisted"]} <= drawn


def test_a_rerun_of_the_night_changes_nothing(nights, conn):
    _, first = nights[NIGHTS[0]]
    fingerprint = """select count(*), md5(string_agg(interview_id || '|' || delivery_count || '|' || last_batch_id
                                              || '|' || outcome, ',' order by interview_id))
                     from marts.fct_credit_interview"""
    report = "select md5(string_agg(t::text, ',' order by month, jurisdiction_code)) " \
             "from marts.rpt_blacklist_outreach_monthly t"
    before = (conn.execute(fingerprint).fetchone(), conn.execute(report).fetchone())
    issues_before = _quarantined_by_check(conn, first.batch_id)
    _write_interviews(NIGHTS[0], nights["blacklisted"])
    again = ingest.ingest(sim.SOURCE_ID, NIGHTS[0])
    assert (again.rows_received, again.rows_accepted, again.rows_quarantined) == \
        (first.rows_received, first.rows_accepted, first.rows_quarantined)
    assert conn.execute("select count(*) from raw.credit_interviews__records where _batch_id = %s",
                        (first.batch_id,)).fetchone()[0] == first.rows_received
    assert _quarantined_by_check(conn, first.batch_id) == issues_before
    transform.run_dbt(["run", "--select", "fct_credit_interview", "rpt_blacklist_outreach_monthly",
                       "--vars", _vars(AS_OF)])
    assert (conn.execute(fingerprint).fetchone(), conn.execute(report).fetchone()) == before


# The independent count: accepted raw rows only (batch accepted, no critical issue), by the
# documented formula (rpt_blacklist_outreach_monthly): black-list entries in force on the month's
# last day, subjects placed by dim_subject's jurisdiction (else the code's division), reached by
# any interview or training held by that day; each subject once.
RAW_OUTREACH = """
with accepted_lists as (
    select credit.normalize_code(r.uscc) as uscc, coalesce(credit.clean_text(r.listing_document_number), '') as doc,
           credit.try_date(r.listed_on) as listed_on, credit.try_date(r.valid_until) as valid_until,
           credit.try_date(r.removed_on) as removed_on
    from raw.credit_lists__entries r
    join meta.load_batches b on b.batch_id = r._batch_id and b.status = 'accepted' and b.logical_date <= %(as_of)s
    where credit.clean_text(r.list_type) in ('失信黑名单', '严重失信主体名单')
      and not exists (select from meta.row_issues i where i.batch_id = r._batch_id and i.row_number = r._row_number
                      and i.severity = 'critical')
),
entries as (
    select uscc, doc, listed_on, max(valid_until) as valid_until, min(removed_on) as removed_on
    from accepted_lists where credit.is_valid_uscc(uscc) and listed_on is not null group by 1, 2, 3
),
on_list as (
    select distinct e.uscc from entries e
    where e.listed_on <= %(day)s and (e.removed_on is null or e.removed_on > %(day)s)
      and (e.valid_until is null or e.valid_until >= %(day)s)
),
reached as (
    select distinct credit.normalize_code(r.uscc) as uscc
    from raw.credit_interviews__records r
    join meta.load_batches b on b.batch_id = r._batch_id and b.status = 'accepted' and b.logical_date <= %(as_of)s
    where credit.try_date(r.held_date) <= %(day)s
      and not exists (select from meta.row_issues i where i.batch_id = r._batch_id and i.row_number = r._row_number
                      and i.severity = 'critical')
)
select coalesce(s.jurisdiction_code, d.reporting_unit_code) as jurisdiction_code, count(*),
       count(*) filter (where o.uscc in (select uscc from reached))
from on_list o
left join marts.dim_subject s on s.subject_id = o.uscc
left join reference.hebei_divisions d on d.division_code = substr(o.uscc, 3, 6)
group by 1
"""


def test_the_outreach_share_equals_a_count_from_raw(nights, conn):
    rows = conn.execute("""select month, jurisdiction_code, blacklist_subjects, reached_subjects, reached_share
                           from marts.rpt_blacklist_outreach_monthly
                           where month in ('2023-09-01', '2023-10-01')""").fetchall()
    assert len(rows) == 2 * 14  # every reporting unit every month
    reported = {(m, j): (b, r, s) for m, j, b, r, s in rows}
    checked = 0
    for month, day in MONTH_ENDS.items():
        counted = {j: (b, r) for j, b, r in conn.execute(RAW_OUTREACH, {"as_of": AS_OF, "day": day}).fetchall()
                   if j is not None}
        for (m, jurisdiction), (black, reached, share) in reported.items():
            if m != month:
                continue
            expected = counted.get(jurisdiction, (0, 0))
            assert (black, reached) == expected, (month, jurisdiction)
            if black == 0:
                assert share is None  # no data, never 0
            else:
                assert float(share) == pytest.approx(reached / black, abs=5e-5)
                checked += reached > 0
    # Interviews in the test months do reach black-list subjects, and a subject interviewed three
    # times counts once: reached subjects are fewer than their interviews.
    assert checked > 0
    interviews, subjects = conn.execute("""
        select count(*), count(distinct f.subject_id) from marts.fct_credit_interview f
        where f.held_on <= '2023-10-31'
          and f.subject_id in (select subject_id from marts.fct_list_membership where list_type = 'black')
    """).fetchone()
    assert interviews > subjects > 0


def test_every_check_reads_chinese_and_every_sender_is_in_the_departments_seed():
    """Cheap checks without the warehouse: the suite's checks are in the message catalogue (the
    return notices read Chinese), and each simulated sender is a seed row with the code and USCC its
    files carry."""
    import json

    from credit_dw.catalog import get_source
    from credit_dw.reference import messages

    suite = json.loads((settings.EXPECTATIONS_DIR / get_source(sim.SOURCE_ID).suite)
                       .read_text(encoding="utf-8"))
    checks = {e["meta"]["check"] for e in suite["expectations"]}
    assert set(CHECKS.values()) <= checks and checks <= set(messages.CHECKS)
    with (settings.SEEDS_DIR / "departments.csv").open(encoding="utf-8", newline="") as fh:
        rows = {r["department_code"]: r for r in csv.DictReader(fh)}
    for dept in sim.DEPARTMENTS:
        row = rows[dept.code]
        assert (row["department_name"], row["department_uscc"]) == (dept.name, dept.uscc)
        assert sim.SOURCE_ID in row["feeds"].split("|")
    assert {c for c, r in rows.items() if sim.SOURCE_ID in r["feeds"].split("|")} == {d.code for d in sim.DEPARTMENTS}

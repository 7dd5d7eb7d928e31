"""Dual-publicity timeliness end to end: a simulated month of 2019 through the feeds, the gate,
staging and the quality views, compared with the simulators' own ground truth.

The month: the 行政许可 / 行政处罚 file drops on 2019-01-14, 01-15 and 02-14, the national push-down
on 01-16 and 02-14, the departments' January ledgers on 02-03. January decisions are due by
2019-02-14 (the 7th working day after 01-31 on the official calendar: 02-02 and 02-03 are make-up
working days, 02-04..02-10 the Spring Festival), so that night establishes January's omissions.
The oracle recomputes every decision's status from what the simulators wrote (clean decisions,
which rows the gate must hold back, the official calendar of credit_dw.reference.calendar) and the
views must agree decision by decision, night by night. Logical dates of 2019 belong to this file
(January-March; test_ledgers_lists uses July).
"""

from __future__ import annotations

import calendar
import csv
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache

import pytest

from credit_dw.config import settings
from credit_dw.ingest import pipeline as ingest
from credit_dw.reference import calendar as cal
from credit_dw.simulate import dept_ledgers as ledgers
from credit_dw.simulate import dual_publicity as dp
from credit_dw.simulate import national_pushdown as pushdown
from credit_dw.transform import dbt as transform

DP_NIGHTS = (date(2019, 1, 14), date(2019, 1, 15), date(2019, 2, 14))
PUSH_NIGHTS = (date(2019, 1, 16), date(2019, 2, 14))
LEDGER_NIGHT = date(2019, 2, 3)
HORIZON = max(DP_NIGHTS)
KINDS = (dp.LICENCE, dp.PENALTY)
#: Decision dates this file's simulation can produce (and no other test file's).
WINDOW = (date(2018, 12, 1), date(2019, 3, 1))


@cache
def add_working_days(day: date, n: int) -> date:
    """The oracle (chinese_calendar, ~1 ms a call), cached: a few hundred distinct dates."""
    return cal.add_working_days(day, n)


@dataclass
class Truth:
    source_id: str
    department: str
    number: str
    decision_date: date
    city_code: str
    reported_on: date | None = None
    ledger_on: date | None = None
    pushed_on: date | None = None
    injected: str | None = None  # omission (never reported) | concealment (pushed down only)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source_id, self.department, self.number)

    def expected(self) -> tuple[str, date | None] | None:
        """(status, established_on) by the rules of docs/quality_rates.md; None when the cut-off is
        after this file's last night (pending here; another file's later nights may settle it)."""
        deadline = add_working_days(self.decision_date, 7)
        arrival = self.ledger_on or self.pushed_on
        if arrival is not None:
            month_end = self.decision_date.replace(day=calendar.monthrange(self.decision_date.year,
                                                                           self.decision_date.month)[1])
            cutoff = max(add_working_days(month_end, 7), arrival)
            if cutoff > HORIZON:
                return None
            if not (self.reported_on is not None and self.reported_on <= cutoff):
                checked = min(n for n in DP_NIGHTS if n >= cutoff)
                return ("omitted" if self.ledger_on else "concealed"), checked
        if self.reported_on is None:
            return "pending", None
        return ("late" if self.reported_on > deadline else "on_time"), None

    @property
    def is_late(self) -> bool:
        return self.reported_on is not None and self.reported_on > add_working_days(self.decision_date, 7)


def _cities() -> dict[str, str]:
    """Division code -> its jurisdiction, when that is one of the 14 current prefecture-level units
    (the 11 cities, 定州, 辛集, 雄安新区; not the province itself)."""
    with (settings.SEEDS_DIR / "hebei_divisions.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    units = {r["division_code"] for r in rows if r["division_code"] == r["reporting_unit_code"]
             and r["is_current"] == "true" and r["division_level"] != "province"}
    return {r["division_code"]: r["reporting_unit_code"] for r in rows if r["reporting_unit_code"] in units}


#: The 14 jurisdictions every timeliness figure is also given by [rules §3].
JURISDICTIONS = {"130100", "130200", "130300", "130400", "130500", "130600", "130700", "130800", "130900",
                 "131000", "131100", "130181", "130682", "133100"}


@pytest.fixture(scope="module")
def month(warehouse_url):
    """Simulate and ingest the month, build the views; returns (truths by key, what was written, outcomes)."""
    transform.seed_reference()
    cities = _cities()
    truths: dict[tuple, Truth] = {}

    def truth(source_id: str, dept: dp.Department, number: str, decided: date, subject_uscc: str | None) -> Truth:
        city = cities.get(dept.uscc[2:8]) or cities.get((subject_uscc or "")[2:8])
        return truths.setdefault((source_id, dept.name, number),
                                 Truth(source_id, dept.name, number, decided, city))

    written, outcomes = {}, {}
    for night in DP_NIGHTS:
        for kind in KINDS:
            written[(kind, night)] = dp.write_day(kind, night)
            outcomes[(kind, night)] = ingest.ingest(kind, night)
            clean, _ = dp.generate_records(kind, night, defect_share=0.0)
            damaged = ledgers.damaged_report_numbers(kind, night)
            for dept, r in clean:
                if r["decision_document_number"] not in damaged:
                    t = truth(kind, dept, r["decision_document_number"], r["decision_date"], r["uscc"])
                    t.reported_on = min(filter(None, (t.reported_on, night)))
    for night in PUSH_NIGHTS:
        written[("national_pushdown", night)] = pushed = pushdown.write_pushdown(night)
        outcomes[("national_pushdown", night)] = ingest.ingest("national_pushdown", night)
        for row in pushed.rows:
            if row.is_accepted:
                d = row.decision
                t = truth(d.source_id, d.department, d.document_number, d.decision_date, d.uscc)
                t.pushed_on = t.pushed_on or night
                if row.origin == "concealed":
                    t.injected = "concealment"
    written["dept_ledgers"] = ledger = ledgers.write_ledgers(LEDGER_NIGHT)
    outcomes["dept_ledgers"] = ingest.ingest("dept_ledgers", LEDGER_NIGHT)
    for row in ledger.rows:
        if row.is_accepted:
            d = row.decision
            t = truth(d.source_id, d.department, d.document_number, d.decision_date, d.uscc)
            t.ledger_on = LEDGER_NIGHT
            if d.reported_on is None:
                t.injected = "omission"
    transform.run_dbt(["build", "--select", "+quality", "--indirect-selection", "cautious", "--threads", "8"])
    return truths, written, outcomes


def _decisions(conn) -> dict[tuple, dict]:
    cur = conn.execute(
        "select * from quality.qa_dual_publicity_decisions where decision_date >= %s and decision_date < %s", WINDOW)
    names = [c.name for c in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return {(r["source_id"], r["department"], r["document_key"]): r for r in rows}


def test_every_decision_has_the_status_its_ground_truth_gives(month, conn):
    truths, _, _ = month
    decisions = _decisions(conn)
    assert set(decisions) == set(truths)
    wrong = []
    for key, t in truths.items():
        row = decisions[key]
        got = (row["status"], row["established_on"])
        expected = t.expected()
        if expected is None:  # due after this file's last night: not settled by it
            ok = row["status"] == "pending" or (row["established_on"] or date.max) > HORIZON
        else:
            ok = got == expected
        ok = ok and row["first_reported_on"] == t.reported_on and row["is_late"] == t.is_late \
            and row["is_in_ledger"] == (t.ledger_on is not None) and row["first_pushed_on"] == t.pushed_on \
            and row["city_code"] == t.city_code
        if not ok:
            wrong.append((key, got, expected, row["first_reported_on"], t.reported_on))
    assert not wrong, wrong[:5]
    statuses = Counter((t.expected() or ("pending",))[0] for t in truths.values())
    # The month exercises every outcome.
    assert all(statuses[s] > 0 for s in ("on_time", "late", "omitted", "concealed", "pending")), statuses


def test_every_injected_omission_and_concealment_is_counted(month, conn):
    truths, _, _ = month
    decisions = _decisions(conn)
    omissions = [k for k, t in truths.items() if t.injected == "omission"]
    concealments = [k for k, t in truths.items() if t.injected == "concealment" and t.expected()]
    assert len(omissions) > 50 and len(concealments) >= 5
    assert {decisions[k]["status"] for k in omissions} == {"omitted"}
    assert {decisions[k]["established_on"] for k in omissions} == {date(2019, 2, 14)}
    assert {decisions[k]["status"] for k in concealments} == {"concealed"}
    # An injected omission the national platform also pushed down stays an omission (it is in the ledger).
    assert any(truths[k].pushed_on for k in omissions)


def test_timeliness_counts_per_department_city_and_night(month, conn):
    truths, _, _ = month
    expected: Counter = Counter()
    for t in truths.values():
        where = (t.source_id, t.department, t.city_code)
        if t.reported_on:
            expected[(*where, t.reported_on, "reported")] += 1
            expected[(*where, t.reported_on, "late")] += t.is_late
        outcome = t.expected()
        if outcome and outcome[0] in ("omitted", "concealed"):
            expected[(*where, outcome[1], outcome[0])] += 1
    rows = conn.execute(
        """select source_id, department, city_code, logical_date, decisions_reported, decisions_late,
                  decisions_omitted, decisions_concealed
           from quality.qa_dual_publicity_timeliness where logical_date between %s and %s""",
        (date(2019, 1, 1), HORIZON)).fetchall()
    got: Counter = Counter()
    for *where, night, reported, late, omitted, concealed in rows:
        for name, value in (("reported", reported), ("late", late), ("omitted", omitted), ("concealed", concealed)):
            got[(*where, night, name)] += value
    # Other modules' decisions (other years, same session warehouse) that were never reported are
    # established missing on the first report night after their cut-off, which may be one of this
    # module's nights: they count here too, as they would in production.
    for source_id, department, city_code, night, status, count in conn.execute(
        """select source_id, department, city_code, established_on, status, count(*)
           from quality.qa_dual_publicity_decisions
           where status in ('omitted', 'concealed') and established_on between %s and %s
             and not (decision_date >= %s and decision_date < %s)
           group by 1, 2, 3, 4, 5""", (date(2019, 1, 1), HORIZON, *WINDOW)).fetchall():
        expected[(source_id, department, city_code, night, status)] += count
    assert +got == +expected
    # A decision counts for one of the 14 jurisdictions (a province department's by its subject's
    # registration) or none (未能归属), never for the province as a whole.
    assert {r[2] for r in rows} - {None} <= JURISDICTIONS and len({r[2] for r in rows} - {None}) > 2
    # The report's contract: exactly these columns, one row per feed, department, city and night.
    cur = conn.execute("select * from quality.qa_dual_publicity_timeliness limit 0")
    assert [c.name for c in cur.description] == [
        "source_id", "department", "city_code", "logical_date", "decisions_reported", "decisions_late",
        "decisions_omitted", "decisions_concealed"]
    assert conn.execute(
        """select count(*) from (select 1 from quality.qa_dual_publicity_timeliness
           group by source_id, department, city_code, logical_date having count(*) > 1) d""").fetchone()[0] == 0


def test_lateness_follows_the_official_calendar_not_monday_to_friday(month, conn):
    """On 2019-02-14 the simulator's Monday-Friday count calls decisions late that the official
    calendar (Spring Festival 02-04..02-10 off, 02-02 and 02-03 worked) does not."""
    truths, written, _ = month
    for kind in KINDS:
        late = conn.execute(
            "select coalesce(sum(decisions_late), 0) from quality.qa_dual_publicity_timeliness "
            "where source_id = %s and logical_date = %s", (kind, date(2019, 2, 14))).fetchone()[0]
        official = sum(t.is_late for t in truths.values() if t.source_id == kind and t.reported_on == date(2019, 2, 14))
        assert late == official
        assert late < written[(kind, date(2019, 2, 14))].summary.defects[dp.LATE_KIND]
    row = conn.execute(
        """select deadline_on, status from quality.qa_dual_publicity_decisions
           where decision_date = '2019-01-31' and first_reported_on = '2019-02-14' limit 1""").fetchone()
    assert row == (date(2019, 2, 14), "on_time")


def test_counts_are_conserved_for_every_batch(month, conn):
    _, written, outcomes = month
    reported = {(sid, night): n for sid, night, n in conn.execute(
        "select source_id, logical_date, sum(decisions_reported) from quality.qa_dual_publicity_timeliness "
        "where logical_date between %s and %s group by 1, 2", (date(2019, 1, 1), HORIZON)).fetchall()}
    for (kind, night), outcome in ((k, o) for k, o in outcomes.items() if k[0] in KINDS):
        assert outcome.rows_received == written[(kind, night)].summary.rows_written \
            == outcome.rows_accepted + outcome.rows_quarantined
        # Every accepted row is a decision reported for the first time that night (no re-sends here).
        assert reported[(kind, night)] == outcome.rows_accepted
    ledger = outcomes["dept_ledgers"]
    assert ledger.rows_received == written["dept_ledgers"].summary.rows_written \
        == ledger.rows_accepted + ledger.rows_quarantined
    rows = conn.execute(
        """select ledger_received_on, first_pushed_on, status, count(*) from quality.qa_dual_publicity_decisions
           where decision_date >= %s and decision_date < %s group by 1, 2, 3""", WINDOW).fetchall()
    by_status = Counter()
    for ledger_on, _, status, n in rows:
        if ledger_on == LEDGER_NIGHT:
            by_status[status] += n
    # Every accepted ledger row is one decision, reported in time, reported late or omitted.
    assert sum(by_status.values()) == ledger.rows_accepted
    assert set(by_status) <= {"on_time", "late", "omitted"}
    for night in PUSH_NIGHTS:
        outcome = outcomes[("national_pushdown", night)]
        assert outcome.rows_received == outcome.rows_accepted + outcome.rows_quarantined
        # Every accepted push-down row is one decision, first pushed down that night.
        assert sum(n for _, pushed_on, _, n in rows if pushed_on == night) == outcome.rows_accepted


def test_the_per_city_table_of_a_night_lists_all_14_jurisdictions(month, conn):
    """The quality report's timeliness by jurisdiction for 2019-02-14: every one of the 14
    prefecture-level units listed (zero or not), then 未能归属 with its causes; the counts equal
    the decisions' own, and the province departments' decisions are spread over the cities by
    their subjects' registration."""
    from credit_dw.reports.quality import queries

    night = date(2019, 2, 14)
    tables, problem = queries.timeliness_tables(conn, night)
    assert problem == ""
    by_city = next(t for t in tables if t.name == "timeliness_cities")
    codes = [r["city_code"] for r in by_city.rows]
    assert codes[:14] == sorted(JURISDICTIONS, key=lambda c: (c in ("130181", "130682"), c))  # 辛集, 定州 last
    assert codes[14:] == [""] and by_city.rows[14]["city_name"].startswith("未能归属")
    names = {r["city_code"]: r["city_name"] for r in by_city.rows}
    assert (names["130181"], names["130682"], names["133100"]) == ("辛集市", "定州市", "雄安新区")
    expected = dict(conn.execute(
        """select coalesce(city_code, ''), count(*) from quality.qa_dual_publicity_decisions
           where first_reported_on = %s group by 1""", (night,)).fetchall())
    assert {r["city_code"]: r["decisions_reported"] for r in by_city.rows if r["decisions_reported"]} == expected
    assert sum(1 for r in by_city.rows[:14] if r["decisions_reported"]) > 2
    # 未能归属 is explained: its causes add up to its decisions.
    causes = queries.unattributed_causes(conn, night)
    unattributed = by_city.rows[14]
    assert sum(c["decisions"] for c in causes.rows) == sum(
        unattributed[k] for k in ("decisions_reported", "decisions_omitted", "decisions_concealed"))
    assert all(c["cause_zh"] and not c["cause_zh"].isascii() for c in causes.rows)


def test_the_monthly_notice_ranks_every_jurisdiction_and_department_by_the_one_definition(month, conn):
    """月度通报 for February 2019: all 14 jurisdictions then 未能归属, every rate equal to the
    definition applied to the month's decisions (docs/quality_rates.md), rank 1 the worst, the
    target 0 marked, and the notice printed to PDF (written through the command line, as the
    office's staff or the credit_audit DAG do)."""
    from typer.testing import CliRunner

    from credit_dw.cli import app
    from credit_dw.reports.quality import monthly

    written = CliRunner().invoke(app, ["report", "monthly", "--month", "2019-02"])
    assert written.exit_code == 0 and "notice/2019-02/index.html (PDF " in written.output, written.output
    notice = monthly.write_monthly_notice(date(2019, 2, 1))
    rows = notice.jurisdictions.rows
    assert [r["unit_code"] for r in rows][:14] == sorted(JURISDICTIONS, key=lambda c: (c in ("130181", "130682"), c))
    assert rows[14]["unit_code"] == "" and rows[14]["late_rank"] is None
    counts = {code: dict(zip(("reported", "late", "omitted", "concealed"), n, strict=True)) for code, *n in
              conn.execute("""
        select coalesce(city_code, ''),
               count(*) filter (where first_reported_on >= '2019-02-01' and first_reported_on < '2019-03-01'),
               count(*) filter (where is_late and first_reported_on >= '2019-02-01'
                                and first_reported_on < '2019-03-01'),
               count(*) filter (where status = 'omitted' and established_on >= '2019-02-01'
                                and established_on < '2019-03-01'),
               count(*) filter (where status = 'concealed' and established_on >= '2019-02-01'
                                and established_on < '2019-03-01')
        from quality.qa_dual_publicity_decisions group by 1""").fetchall()}
    measured = 0
    for r in rows:
        c = counts.get(r["unit_code"], {"reported": 0, "late": 0, "omitted": 0, "concealed": 0})
        assert (r["decisions_reported"], r["decisions_late"], r["decisions_omitted"], r["decisions_concealed"]) == (
            c["reported"], c["late"], c["omitted"], c["concealed"]), r["unit_code"]
        if c["reported"]:
            measured += 1
            assert r["late_rate"] == pytest.approx(c["late"] / c["reported"])
        if c["reported"] + c["omitted"] + c["concealed"]:
            made = c["reported"] + c["omitted"] + c["concealed"]
            assert r["concealment_rate"] == pytest.approx(c["concealed"] / made)
            # 未能归属 is nobody's figure: no rank, no target.
            assert r["meets_target_zh"] in (("达标", "未达标") if r["unit_code"] else ("—",))
        else:
            assert r["late_rate"] is None and r["meets_target_zh"] == "—"
    assert measured > 2
    ranked = [r for r in rows[:14] if r["late_rank"] is not None]
    worst = max(r["late_rate"] for r in ranked)
    assert {r["late_rank"] for r in ranked if r["late_rate"] == worst} == {1}
    assert notice.departments.rows and all(r["feed_name"] in ("行政许可", "行政处罚") for r in notice.departments.rows)
    page = notice.index_html.read_text(encoding="utf-8")
    assert "月度通报" in page and "雄安新区" in page and "<script" not in page
    assert notice.pdf is not None and notice.pdf.read_bytes()[:5] == b"%PDF-"

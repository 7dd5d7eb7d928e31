"""Working-day arithmetic on the official calendar (include/credit_dw/sql/30_calendar.sql).

A dual-publicity record is due 7 working days after its decision date, and working days follow the
State Council's holidays and make-up working weekends (调休) [000 §2.2; rules §5]. The SQL
functions are checked on the holidays that move days around (National Day and Spring Festival
2025), against the chinese_calendar oracle for every date of 2025, and on what happens past the
package's last year (2027): a loud error until the credit office adds the year, then the
office's rows, which win over the package on the same date.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import psycopg
import pytest

from credit_dw.reference import calendar

D = dt.date
REPO = Path(__file__).resolve().parents[1]
# Rows this file inserts into reference.cn_calendar_additions. They are NOT an official schedule:
# only the shape of one (2027-01-01 a Friday holiday, then ordinary weeks).
TEST_SOURCE = "test_working_days fixture (not an official schedule)"


def refresh(conn) -> tuple[dt.date, dt.date, int, int]:
    return conn.execute("select * from credit.refresh_working_calendar()").fetchone()


def remove_test_additions(conn) -> None:
    conn.execute("delete from reference.cn_calendar_additions where source = %s", (TEST_SOURCE,))
    refresh(conn)


@pytest.fixture(scope="module")
def calendar_loaded(warehouse_url: str):
    from credit_dw.transform.dbt import run_dbt

    run_dbt(["seed", "--select", "cn_calendar", "cn_calendar_additions"])
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        refresh(conn)
        yield
        remove_test_additions(conn)


@pytest.fixture()
def cal(conn, calendar_loaded):
    """An autocommit connection on the loaded calendar; whatever the test added is removed after it."""
    yield conn
    remove_test_additions(conn)


def add_working_days(conn, start: dt.date, n: int) -> dt.date:
    return conn.execute("select credit.add_working_days(%s, %s)", (start, n)).fetchone()[0]


def between(conn, a: dt.date, b: dt.date) -> int:
    return conn.execute("select credit.working_days_between(%s, %s)", (a, b)).fetchone()[0]


def add_rows(conn, rows: list[tuple[dt.date, bool, str, str]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "insert into reference.cn_calendar_additions"
            " (calendar_date, is_working_day, day_kind, holiday_name, source) values (%s, %s, %s, %s, %s)",
            [(*row, TEST_SOURCE) for row in rows],
        )


def early_january_2027() -> list[tuple[dt.date, bool, str, str]]:
    """2027-01-01 (Friday) a holiday, then plain weeks up to Friday 2027-01-15."""
    rows = [(D(2027, 1, 1), False, "holiday", "New Year's Day")]
    for day in range(2, 16):
        d = D(2027, 1, day)
        rows.append((d, True, "workday", None) if d.weekday() < 5 else (d, False, "weekend", None))
    return rows


# --- the committed seed is what the package says ------------------------------------------------

def test_seed_file_matches_the_installed_package(tmp_path):
    fresh = tmp_path / "cn_calendar.csv"
    rows = calendar.write_seed(fresh)
    assert rows == (calendar.last_covered_date() - D(2014, 1, 1)).days + 1
    assert fresh.read_text(encoding="utf-8") == (REPO / "seeds" / "cn_calendar.csv").read_text(encoding="utf-8"), (
        "seeds/cn_calendar.csv is stale: regenerate it with credit_dw.reference.calendar.write_seed"
    )
    additions = (REPO / "seeds" / "cn_calendar_additions.csv").read_text(encoding="utf-8").splitlines()
    assert additions == [",".join(calendar.COLUMNS)], "ship the additions seed with its header only"


def test_seed_classifies_the_2025_national_day_days():
    days = {d.calendar_date: d for d in calendar.package_days(D(2025, 9, 26), D(2025, 10, 13))}
    assert (days[D(2025, 9, 27)].day_kind, days[D(2025, 9, 27)].is_working_day) == ("weekend", False)
    assert (days[D(2025, 9, 28)].day_kind, days[D(2025, 9, 28)].holiday_name) == ("makeup_workday", "National Day")
    assert days[D(2025, 9, 28)].is_working_day
    assert {days[D(2025, 10, d)].day_kind for d in range(1, 9)} == {"holiday"}  # incl. Sat/Sun 4-5 Oct
    assert days[D(2025, 10, 11)].day_kind == "makeup_workday"
    assert days[D(2025, 10, 12)].day_kind == "weekend"


def test_python_oracle_refuses_2027():
    with pytest.raises(calendar.CalendarNotCovered, match="2027-01-04.*State Council holiday schedule for 2027"):
        calendar.add_working_days(D(2027, 1, 4), 7)
    with pytest.raises(calendar.CalendarNotCovered, match="covers 2027-01-01"):
        calendar.add_working_days(D(2026, 12, 28), 7)


def test_additions_for_year_fills_every_date_and_checks_the_notice(tmp_path):
    days = calendar.additions_for_year(
        2030, holidays={D(2030, 1, 1): "New Year's Day"}, makeup_workdays={D(2030, 1, 5): "New Year's Day"},
        source="test notice")
    assert len(days) == 365 and days[0].day_kind == "holiday" and days[4].day_kind == "makeup_workday"
    assert [d.day_kind for d in days[5:7]] == ["weekend", "workday"]  # Sun 6 Jan, Mon 7 Jan
    path = tmp_path / "additions.csv"
    path.write_text(",".join(calendar.COLUMNS) + "\n", encoding="utf-8")
    assert calendar.write_additions(path, days) == 365
    assert calendar.write_additions(path, days[:3]) == 365  # rewriting a date replaces it
    with pytest.raises(ValueError, match="not a Saturday or Sunday"):
        calendar.additions_for_year(2030, holidays={}, makeup_workdays={D(2030, 1, 7): "x"}, source="n")


# --- SQL: deadlines across holidays and make-up weekends ------------------------------------------

def test_deadline_across_national_day_2025(cal):
    # Fri 26 Sep → Sun 28 (调休) 1, Mon 29 2, Tue 30 3, [1-8 Oct off], Thu 9 4, Fri 10 5,
    # Sat 11 (调休) 6, Mon 13 7.
    assert add_working_days(cal, D(2025, 9, 26), 7) == D(2025, 10, 13)
    assert add_working_days(cal, D(2025, 9, 26), 1) == D(2025, 9, 28)
    assert add_working_days(cal, D(2025, 9, 30), 1) == D(2025, 10, 9)
    assert between(cal, D(2025, 9, 26), D(2025, 10, 13)) == 7
    assert between(cal, D(2025, 10, 13), D(2025, 9, 26)) == -7
    assert between(cal, D(2025, 9, 30), D(2025, 10, 8)) == 0


def test_deadline_across_spring_festival_2025(cal):
    # Fri 24 Jan → Sun 26 (调休) 1, Mon 27 2, [28 Jan-4 Feb off], Wed 5 3, Thu 6 4, Fri 7 5,
    # Sat 8 Feb (调休) 6, Mon 10 7.
    assert add_working_days(cal, D(2025, 1, 24), 7) == D(2025, 2, 10)
    # A decision taken during the holiday: Wed 5 1, Thu 6 2, Fri 7 3, Sat 8 (调休) 4, Mon 10 5,
    # Tue 11 6, Wed 12 Feb 7.
    assert add_working_days(cal, D(2025, 1, 29), 7) == D(2025, 2, 12)


def test_decision_on_a_makeup_saturday(cal):
    # Sat 11 Oct 2025 is a working day: it is the decision day, counting starts on Mon 13.
    assert add_working_days(cal, D(2025, 10, 11), 7) == D(2025, 10, 21)
    assert add_working_days(cal, D(2025, 10, 11), 0) == D(2025, 10, 11)
    # n = 0 on a day off is the next working day.
    assert add_working_days(cal, D(2025, 10, 1), 0) == D(2025, 10, 9)
    assert add_working_days(cal, D(2025, 10, 12), 0) == D(2025, 10, 13)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="n must be >= 0"):
        add_working_days(cal, D(2025, 10, 11), -1)
    assert cal.execute("select credit.add_working_days(null, 7), credit.working_days_between(null, "
                       "date '2025-01-01')").fetchone() == (None, None)


def test_sql_agrees_with_the_oracle_for_every_day_of_2025(cal):
    rows = cal.execute(
        "select d::date, n, credit.add_working_days(d::date, n),"
        " credit.working_days_between(d::date, credit.add_working_days(d::date, n))"
        " from generate_series(date '2025-01-01', date '2025-12-31', interval '1 day') d,"
        " unnest(array[0, 1, 7, 15, 20]) n order by 1, 2"
    ).fetchall()
    assert len(rows) == 365 * 5
    wrong = [(d, n, got, calendar.add_working_days(d, n)) for d, n, got, _ in rows
             if got != calendar.add_working_days(d, n)]
    assert wrong == []
    counted = [(d, n, c) for d, n, _, c in rows if n >= 1 and c != n]
    assert counted == []


# --- SQL: beyond the package, the office's additions ----------------------------------------------

def test_a_date_no_calendar_covers_raises_with_how_to_add_it(cal):
    with pytest.raises(psycopg.errors.DataException) as err:
        add_working_days(cal, D(2027, 1, 4), 7)
    assert str(err.value).startswith(
        "no working-day calendar covers 2027-01-04: add the State Council holiday schedule for 2027 to "
        "seeds/cn_calendar_additions.csv and run dbt seed")
    # A December 2026 decision falls due in 2027: the first day missing is named.
    with pytest.raises(psycopg.errors.DataException, match="covers 2027-01-01: .* for 2027"):
        add_working_days(cal, D(2026, 12, 28), 7)
    with pytest.raises(psycopg.errors.DataException, match="covers 2027-01-01"):
        between(cal, D(2026, 12, 28), D(2027, 1, 1))
    with pytest.raises(psycopg.errors.DataException, match="covers 2013-12-31: .* for 2013"):
        add_working_days(cal, D(2013, 12, 31), 7)
    # The last covered working day itself still works.
    assert add_working_days(cal, D(2026, 12, 30), 1) == D(2026, 12, 31)


def test_additions_extend_the_calendar_into_2027(cal):
    add_rows(cal, early_january_2027())
    covered_from, covered_to, days, added = refresh(cal)
    assert (covered_from, covered_to, added) == (D(2014, 1, 1), D(2027, 1, 15), 15)
    # The refresh recompiled the fast functions (their comment states what they cover).
    described = cal.execute(
        "select obj_description('credit.add_working_days(date, integer)'::regprocedure)").fetchone()[0]
    assert "(2014-01-01 to 2027-01-15)" in described
    # Tue 29, Wed 30, Thu 31 Dec, [Fri 1 Jan off, weekend], Mon 4, Tue 5, Wed 6, Thu 7.
    assert add_working_days(cal, D(2026, 12, 28), 7) == D(2027, 1, 7)
    assert add_working_days(cal, D(2027, 1, 4), 7) == D(2027, 1, 13)
    assert between(cal, D(2026, 12, 31), D(2027, 1, 4)) == 1
    # Still loud past the last added day.
    with pytest.raises(psycopg.errors.DataException, match="covers 2027-01-16"):
        add_working_days(cal, D(2027, 1, 12), 7)


def test_additions_win_over_the_package_on_the_same_date(cal):
    add_rows(cal, early_january_2027())
    add_rows(cal, [(D(2026, 12, 31), False, "holiday", "New Year's Day")])  # the package: a workday
    refresh(cal)
    kind, source = cal.execute("select day_kind, source from credit.working_day_index"
                               " where calendar_date = date '2026-12-31'").fetchone()
    assert (kind, source) == ("holiday", TEST_SOURCE)
    assert add_working_days(cal, D(2026, 12, 28), 7) == D(2027, 1, 8)
    assert between(cal, D(2026, 12, 30), D(2027, 1, 4)) == 1


@pytest.mark.parametrize("rows, message", [
    ([(D(2027, 1, 2), True, "workday", None)], "row for 2027-01-02 .*Saturday.* is inconsistent"),
    ([(D(2027, 1, 4), False, "workday", None)], "row for 2027-01-04 .* is inconsistent"),
    ([(D(2027, 1, 5), True, "workday", None)], "gap from 2027-01-01 to 2027-01-04"),
])
def test_refresh_refuses_bad_additions_and_keeps_the_old_calendar(cal, rows, message):
    add_rows(cal, rows)
    with pytest.raises(psycopg.Error, match=message):
        refresh(cal)
    assert cal.execute("select max(calendar_date) from credit.working_day_index").fetchone()[0] == D(2026, 12, 31)


# --- SQL: lifecycle and speed --------------------------------------------------------------------

def test_before_the_first_seed_every_call_says_how_to_load_the_calendar(warehouse_url, calendar_loaded):
    with psycopg.connect(warehouse_url) as conn:  # one transaction, rolled back
        conn.execute("delete from credit.working_day_index")
        conn.execute("select credit.compile_working_calendar()")
        with pytest.raises(psycopg.errors.DataException, match="calendar is empty .*refresh_working_calendar"):
            add_working_days(conn, D(2025, 9, 26), 7)
        conn.rollback()
    with psycopg.connect(warehouse_url) as conn:
        assert add_working_days(conn, D(2025, 9, 26), 7) == D(2025, 10, 13)


def test_nightly_bootstrap_keeps_the_refreshed_calendar(cal, warehouse_url):
    from credit_dw.db.bootstrap import bootstrap

    add_rows(cal, early_january_2027())
    refresh(cal)
    bootstrap(warehouse_url)
    assert add_working_days(cal, D(2026, 12, 28), 7) == D(2027, 1, 7)


def test_a_million_deadlines_in_well_under_a_few_seconds(cal):
    # Compiled and inlined: ~0.1 s; the per-row index lookup it replaces takes ~5 s.
    started = time.perf_counter()
    count = cal.execute(
        "select count(credit.add_working_days(date '2014-01-01' + (i % 4700), 7))"
        " + count(credit.working_days_between(date '2014-01-01' + (i % 4700), date '2026-12-31'))"
        " from generate_series(1, 1000000) i").fetchone()[0]
    elapsed = time.perf_counter() - started
    assert count == 2_000_000
    assert elapsed < 2.5, f"1 M deadlines + 1 M counts took {elapsed:.1f} s"

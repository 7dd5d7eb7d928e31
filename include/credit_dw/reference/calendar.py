"""The official Chinese working-day calendar (holidays and make-up working weekends, 调休).

Why: a dual-publicity record must reach the platform within 7 working days (工作日) of its decision
date [000 §2.2; rules §5], and objections must be verified within 15 / 20 working days
[001 2018 plan §4.9; 001 2017 §5.3]. Working days are not Monday to Friday: the State Council
moves whole days every year (e.g. Sunday 2025-09-28 and Saturday 2025-10-11 were working days,
1-8 October 2025 were not).

Sources, in the warehouse (see include/credit_dw/sql/30_calendar.sql):
- `seeds/cn_calendar.csv`, one row per date from 2014-01-01 to the last day the `chinesecalendar`
  package covers (1.11.0: 2026-12-31), written by `write_seed`;
- `seeds/cn_calendar_additions.csv`, the days the province credit office adds from the State
  Council notice (国务院办公厅关于YYYY年部分节假日安排的通知) for a year the package does not cover
  yet; on the same date an addition wins. `additions_for_year` writes a year's rows from the
  notice's holidays and make-up working days.
After `dbt seed`, `select * from credit.refresh_working_calendar()` rebuilds the lookup table the
SQL functions `credit.add_working_days` / `credit.working_days_between` read.

`add_working_days` / `working_days_between` here are the same rules computed straight from
`chinese_calendar`, the oracle the tests compare the SQL with. Neither side guesses: a date no
source covers raises `CalendarNotCovered`.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

FIRST_DATE = dt.date(2014, 1, 1)
COLUMNS = ["calendar_date", "is_working_day", "day_kind", "holiday_name", "source"]
DAY_KINDS = ("workday", "weekend", "holiday", "makeup_workday")
ADDITIONS_FILE = "seeds/cn_calendar_additions.csv"


class CalendarNotCovered(LookupError):
    """A date no working-day calendar covers; the message says how to add its year."""

    def __init__(self, day: dt.date):
        self.day = day
        super().__init__(
            f"no working-day calendar covers {day.isoformat()}: add the State Council holiday schedule "
            f"for {day.year} to {ADDITIONS_FILE} and run dbt seed, then "
            f"select * from credit.refresh_working_calendar()"
        )


@dataclass(frozen=True)
class CalendarDay:
    calendar_date: dt.date
    is_working_day: bool
    day_kind: str  # one of DAY_KINDS
    holiday_name: str  # English name from chinese_calendar (or the notice); '' for none
    source: str

    def csv_row(self) -> list[str]:
        return [self.calendar_date.isoformat(), "true" if self.is_working_day else "false",
                self.day_kind, self.holiday_name, self.source]


def package_source() -> str:
    return f"chinesecalendar {version('chinesecalendar')}"


def last_covered_date() -> dt.date:
    """The last day chinese_calendar knows: 31 December of the last year it has holidays for."""
    from chinese_calendar import constants

    return dt.date(max(constants.holidays).year, 12, 31)


def _is_covered(day: dt.date) -> bool:
    from chinese_calendar import constants

    return min(constants.holidays).year <= day.year <= max(constants.holidays).year


def day_kind(day: dt.date) -> tuple[bool, str, str]:
    """(is_working_day, day_kind, holiday_name) of one date, from chinese_calendar."""
    import chinese_calendar

    if not _is_covered(day):
        raise CalendarNotCovered(day)
    is_holiday, name = chinese_calendar.get_holiday_detail(day)
    weekend = day.weekday() >= 5
    if is_holiday:
        # A holiday falling on a weekend is a holiday (it carries the holiday's name).
        kind = "holiday" if name else "weekend"
    else:
        kind = "makeup_workday" if weekend else "workday"
    return not is_holiday, kind, name or ""


def package_days(first: dt.date = FIRST_DATE, last: dt.date | None = None) -> list[CalendarDay]:
    last = last or last_covered_date()
    source = package_source()
    days = []
    day = first
    while day <= last:
        working, kind, name = day_kind(day)
        days.append(CalendarDay(day, working, kind, name, source))
        day += dt.timedelta(days=1)
    return days


def _write(path: Path, days: Iterable[CalendarDay]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for d in days:
            writer.writerow(d.csv_row())
            count += 1
    return count


def write_seed(path: Path) -> int:
    """Write `seeds/cn_calendar.csv`: every date from 2014-01-01 to the package's last covered day."""
    return _write(Path(path), package_days())


def additions_for_year(
    year: int,
    holidays: Mapping[dt.date, str],
    makeup_workdays: Mapping[dt.date, str],
    source: str,
) -> list[CalendarDay]:
    """Every date of `year` from one State Council notice, ready for `seeds/cn_calendar_additions.csv`.

    `holidays` are the days off the notice lists (including the weekends inside a holiday), each with
    its holiday's English name (e.g. "Spring Festival"); `makeup_workdays` the weekend days it makes
    working days, with the holiday they make up for. Every other Monday-Friday is a workday and every
    other Saturday/Sunday a weekend. Write with `write_additions`.
    """
    for day in [*holidays, *makeup_workdays]:
        if day.year != year:
            raise ValueError(f"{day.isoformat()} is not in {year}")
    both = set(holidays) & set(makeup_workdays)
    if both:
        raise ValueError(f"both a holiday and a make-up working day: {sorted(d.isoformat() for d in both)}")
    for day in makeup_workdays:
        if day.weekday() < 5:
            raise ValueError(f"make-up working day {day.isoformat()} is not a Saturday or Sunday")
    days = []
    day = dt.date(year, 1, 1)
    while day.year == year:
        if day in holidays:
            days.append(CalendarDay(day, False, "holiday", holidays[day], source))
        elif day in makeup_workdays:
            days.append(CalendarDay(day, True, "makeup_workday", makeup_workdays[day], source))
        elif day.weekday() >= 5:
            days.append(CalendarDay(day, False, "weekend", "", source))
        else:
            days.append(CalendarDay(day, True, "workday", "", source))
        day += dt.timedelta(days=1)
    return days


def write_additions(path: Path, days: Iterable[CalendarDay]) -> int:
    """Merge `days` into the additions seed (a date already there is replaced); returns rows written."""
    path = Path(path)
    existing: dict[dt.date, CalendarDay] = {}
    if path.exists():
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                day = dt.date.fromisoformat(row["calendar_date"])
                existing[day] = CalendarDay(day, row["is_working_day"].strip().lower() == "true",
                                            row["day_kind"], row["holiday_name"] or "", row["source"])
    for d in days:
        existing[d.calendar_date] = d
    return _write(path, (existing[k] for k in sorted(existing)))


def is_working_day(day: dt.date) -> bool:
    return day_kind(day)[0]


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day after `start`, counting from the next day (n >= 1).

    `add_working_days(decision_date, 7)` is the dual-publicity deadline [000 §2.2]. n = 0 is the
    first working day on or after `start` (`start` itself when it is a working day). Same contract as
    the SQL function credit.add_working_days.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    day = start
    if n == 0:
        while not is_working_day(day):
            day += dt.timedelta(days=1)
        return day
    is_working_day(start)  # the start must be covered too
    while n:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def working_days_between(a: dt.date, b: dt.date) -> int:
    """Working days in (a, b]; negative (minus the working days in (b, a]) when b < a."""
    if b < a:
        return -working_days_between(b, a)
    is_working_day(a)
    count = 0
    day = a
    while day < b:
        day += dt.timedelta(days=1)
        count += is_working_day(day)
    return count

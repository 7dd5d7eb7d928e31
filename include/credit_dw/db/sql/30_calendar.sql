-- The official working-day calendar and working-day arithmetic.
-- A dual-publicity record is due within 7 working days (工作日) of its decision date [000 §2.2;
-- rules §5]; objections within 15 / 20 working days [001 2018 plan §4.9; 001 2017 §5.3]. Working
-- days follow the State Council's holiday schedule with make-up working weekends (调休).
--
-- Sources (dbt seeds, schema reference; see seeds/_calendar.yml):
--   reference.cn_calendar            2014-01-01 .. the last day the chinesecalendar package covers
--   reference.cn_calendar_additions  days the province credit office adds from a State Council
--                                    notice (a year the package does not cover); wins on the same date
-- credit.refresh_working_calendar() merges them into credit.working_day_index (one row per date,
-- with a working-day ordinal) and compiles that table into credit.add_working_days and
-- credit.working_days_between. Run it after every `dbt seed` of the calendar seeds.
--
-- Why compiled: an indexed lookup per row from PL/pgSQL costs ~5 µs (5 s per million rows). The
-- compiled functions are one-line SQL functions holding the calendar as integer-array constants;
-- PostgreSQL inlines them into the calling query, so a million deadlines take ~0.1 s. Whenever the
-- fast expression has no answer (null input, n < 0, a date outside the calendar) they fall back to
-- the lookup functions credit.add_working_days_lookup / credit.working_days_between_lookup,
-- which read the table and raise. Side effect: EXPLAIN of a query calling them shows the arrays.
-- Nothing here guesses: a date outside the calendar raises, naming the date and how to add its year.

create table if not exists credit.working_day_index (
    calendar_date        date primary key,
    is_working_day       boolean not null,
    day_kind             text not null
        check (day_kind in ('workday', 'weekend', 'holiday', 'makeup_workday')),
    holiday_name         text,
    source               text not null,
    -- Working days on or before this date, counted from the first day of the calendar: a working
    -- day has the next ordinal; a day off keeps the ordinal of the working day before it.
    working_day_ordinal  integer not null
);
create unique index if not exists working_day_index_ordinal
    on credit.working_day_index (working_day_ordinal) include (calendar_date) where is_working_day;
comment on table credit.working_day_index is
    'One row per date the official working-day calendar covers (reference.cn_calendar + reference.cn_calendar_additions, additions win), with a working-day ordinal. Rebuilt by credit.refresh_working_calendar(), which compiles it into credit.add_working_days and credit.working_days_between. Set-based models may join it directly: deadline = the working day whose ordinal is the decision date''s ordinal + 7.';

-- The error every function raises for a date outside the calendar.
create or replace function credit.raise_calendar_not_covered(day date, needed_for text) returns void
language plpgsql stable parallel safe as $$
declare
    covered_from date;
    covered_to date;
begin
    select min(calendar_date), max(calendar_date) into covered_from, covered_to from credit.working_day_index;
    if covered_from is null then
        raise exception 'the working-day calendar is empty (needed for %): run dbt seed --select cn_calendar cn_calendar_additions, then select * from credit.refresh_working_calendar()', needed_for
            using errcode = 'data_exception';
    end if;
    raise exception 'no working-day calendar covers %: add the State Council holiday schedule for % to seeds/cn_calendar_additions.csv and run dbt seed, then select * from credit.refresh_working_calendar()', day, extract(year from day)
        using errcode = 'data_exception',
              detail = format('needed for %s; the calendar covers %s to %s', needed_for, covered_from, covered_to),
              hint = 'Every date of the year needs a row (seeds/_calendar.yml explains the columns; credit_dw.reference.calendar.additions_for_year writes them from the notice).';
end
$$;

-- Rebuild credit.working_day_index from the seeds; returns what the calendar now covers.
-- Validates what the office typed (additions may also be inserted by hand): day kinds agree with
-- is_working_day and with the weekday, no date twice in the additions, no gap between dates.
create or replace function credit.refresh_working_calendar(
    out covered_from date, out covered_to date, out days integer, out added_days integer)
language plpgsql volatile as $$
declare
    merged text;
    bad record;
begin
    perform pg_advisory_xact_lock(hashtext('credit.refresh_working_calendar'));
    if to_regclass('reference.cn_calendar') is null then
        raise exception 'reference.cn_calendar is missing: run dbt seed --select cn_calendar cn_calendar_additions first'
            using errcode = 'undefined_table';
    end if;

    create temporary table _calendar_merged (
        calendar_date date, is_working_day boolean, day_kind text, holiday_name text, source text,
        from_additions boolean
    ) on commit drop;
    merged := 'insert into _calendar_merged select calendar_date::date, is_working_day::boolean, day_kind::text,
                   nullif(holiday_name::text, ''''), source::text, false from reference.cn_calendar';
    if to_regclass('reference.cn_calendar_additions') is not null then
        merged := merged || ' union all select calendar_date::date, is_working_day::boolean, day_kind::text,
                   nullif(holiday_name::text, ''''), source::text, true from reference.cn_calendar_additions';
    end if;
    execute merged;

    select m.calendar_date, count(*) as n into bad
    from _calendar_merged m where m.from_additions group by m.calendar_date having count(*) > 1
    order by m.calendar_date limit 1;
    if found then
        raise exception 'reference.cn_calendar_additions has % rows for %: keep one row per date', bad.n, bad.calendar_date
            using errcode = 'unique_violation';
    end if;

    -- Additions win on the same date.
    create temporary table _calendar_final on commit drop as
    select distinct on (calendar_date) *
    from _calendar_merged
    where calendar_date is not null
    order by calendar_date, from_additions desc;

    select f.calendar_date, f.is_working_day, f.day_kind, f.source into bad
    from _calendar_final f
    where f.day_kind is null or f.is_working_day is null or f.source is null
       or f.day_kind not in ('workday', 'weekend', 'holiday', 'makeup_workday')
       or f.is_working_day <> (f.day_kind in ('workday', 'makeup_workday'))
       or (f.day_kind = 'workday' and extract(isodow from f.calendar_date) >= 6)
       or (f.day_kind in ('weekend', 'makeup_workday') and extract(isodow from f.calendar_date) < 6)
    order by f.calendar_date limit 1;
    if found then
        raise exception 'working-day calendar row for % (%) is inconsistent: is_working_day=%, day_kind=% (workday: Mon-Fri working; weekend: Sat/Sun off; holiday: off; makeup_workday: Sat/Sun working)',
            bad.calendar_date, to_char(bad.calendar_date, 'FMDay'), bad.is_working_day, bad.day_kind
            using errcode = 'check_violation', detail = format('source: %s', bad.source);
    end if;

    select prev_date + 1 as first_missing, calendar_date - 1 as last_missing into bad
    from (select calendar_date, lag(calendar_date) over (order by calendar_date) as prev_date from _calendar_final) g
    where calendar_date - prev_date > 1
    order by calendar_date limit 1;
    if found then
        raise exception 'the working-day calendar has a gap from % to %: reference.cn_calendar_additions must continue the calendar day by day',
            bad.first_missing, bad.last_missing
            using errcode = 'data_exception';
    end if;

    delete from credit.working_day_index;
    insert into credit.working_day_index
    select calendar_date, is_working_day, day_kind, holiday_name, source,
           (sum(is_working_day::int) over (order by calendar_date))::int
    from _calendar_final;

    select min(calendar_date), max(calendar_date), count(*)::int, count(*) filter (where from_additions)::int
    into covered_from, covered_to, days, added_days
    from _calendar_final;
    drop table _calendar_merged;
    drop table _calendar_final;
    perform credit.compile_working_calendar();
end
$$;
comment on function credit.refresh_working_calendar() is
    'Rebuilds credit.working_day_index from reference.cn_calendar and reference.cn_calendar_additions (additions win on the same date) and recompiles credit.add_working_days / credit.working_days_between. Run after every dbt seed of the calendar seeds; raises on inconsistent rows or gaps and then leaves the previous calendar in place.';

-- The contract of credit.add_working_days(start, n), computed by index lookups (the fallback and
-- reference implementation of the compiled function):
--   the n-th working day after `start`, counting from the next day; add_working_days(decision_date, 7)
--   is the dual-publicity deadline [000 §2.2], and a record reported on a later date is late (迟报).
--   n = 0 gives the first working day on or after `start` (`start` itself when it is a working day).
--   n < 0 raises. Null in, null out. A date outside the calendar raises.
create or replace function credit.add_working_days_lookup(start date, n integer) returns date
language plpgsql stable parallel safe as $$
declare
    result date;
begin
    if start is null or n is null then
        return null;
    end if;
    if n < 0 then
        raise exception 'credit.add_working_days(%, %): n must be >= 0', start, n using errcode = 'invalid_parameter_value';
    end if;
    select w.calendar_date into result
    from credit.working_day_index s
    join credit.working_day_index w
      on w.is_working_day
     and w.working_day_ordinal = s.working_day_ordinal + n + case when n = 0 and not s.is_working_day then 1 else 0 end
    where s.calendar_date = start;
    if result is null then
        if not exists (select from credit.working_day_index where calendar_date = start) then
            perform credit.raise_calendar_not_covered(start, format('add_working_days(%s, %s)', start, n));
        end if;
        perform credit.raise_calendar_not_covered(
            (select max(calendar_date) + 1 from credit.working_day_index), format('add_working_days(%s, %s)', start, n));
    end if;
    return result;
end
$$;

-- The contract of credit.working_days_between(a, b), by index lookups: working days in (a, b], the
-- days after a up to and including b; negative when b < a (minus the working days in (b, a]);
-- working_days_between(d, add_working_days(d, n)) = n for n >= 1. For lateness compare dates
-- (report_date > add_working_days(decision_date, 7)): a report on the Saturday after the 7th
-- working day still counts 7 working days, but it is late. Null in, null out.
create or replace function credit.working_days_between_lookup(a date, b date) returns integer
language plpgsql stable parallel safe as $$
declare
    oa integer;
    ob integer;
begin
    if a is null or b is null then
        return null;
    end if;
    select working_day_ordinal into oa from credit.working_day_index where calendar_date = a;
    if oa is null then
        perform credit.raise_calendar_not_covered(a, format('working_days_between(%s, %s)', a, b));
    end if;
    select working_day_ordinal into ob from credit.working_day_index where calendar_date = b;
    if ob is null then
        perform credit.raise_calendar_not_covered(b, format('working_days_between(%s, %s)', a, b));
    end if;
    return ob - oa;
end
$$;

-- (Re)create credit.add_working_days and credit.working_days_between from credit.working_day_index.
-- Arrays, all 1-based: day i is first_date + i - 1.
--   ord[i]   working-day ordinal of day i (working days on or before it)
--   ord0[i]  ordinal of the first working day on or after day i (ord + 1 on a day off)
--   wd[k]    the k-th working day, as days after first_date
-- add_working_days(start, n) = first_date + wd[(n = 0 ? ord0 : ord)[start - first_date + 1] + n];
-- working_days_between(a, b) = ord[b - first_date + 1] - ord[a - first_date + 1]. An index outside
-- an array gives null, and null falls back to the lookup function, which raises.
-- With an empty calendar (bootstrap before the first dbt seed) every call falls back and raises.
create or replace function credit.compile_working_calendar() returns void
language plpgsql volatile as $$
declare
    first_date date;
    ord text;
    ord0 text;
    wd text;
begin
    perform pg_advisory_xact_lock(hashtext('credit.refresh_working_calendar'));
    select min(calendar_date) into first_date from credit.working_day_index;
    select array_agg(working_day_ordinal order by calendar_date)::text,
           array_agg(working_day_ordinal + case when is_working_day then 0 else 1 end order by calendar_date)::text
      into ord, ord0
      from credit.working_day_index;
    select array_agg(calendar_date - first_date order by working_day_ordinal)::text into wd
      from credit.working_day_index where is_working_day;

    execute format($f$
        create or replace function credit.add_working_days(start date, n integer) returns date
        language sql stable parallel safe as $body$
            select coalesce(
                case when n >= 0 then
                    %1$L::date + (%2$L::int[])[(case when n = 0 then %3$L::int[] else %4$L::int[] end)[start - %1$L::date + 1] + n]
                end,
                credit.add_working_days_lookup(start, n))
        $body$ $f$, first_date, wd, ord0, ord);
    execute format($f$
        create or replace function credit.working_days_between(a date, b date) returns integer
        language sql stable parallel safe as $body$
            select coalesce(
                (%2$L::int[])[b - %1$L::date + 1] - (%2$L::int[])[a - %1$L::date + 1],
                credit.working_days_between_lookup(a, b))
        $body$ $f$, first_date, ord);
    execute format('comment on function credit.add_working_days(date, integer) is %L',
        format('The n-th working day after start, counting from the next day (official calendar with 调休): add_working_days(decision_date, 7) is the dual-publicity deadline [000 §2.2]. n = 0: the first working day on or after start. Raises for n < 0 and for dates the calendar does not cover. Compiled from credit.working_day_index (%s to %s) by credit.refresh_working_calendar(), which must run after every dbt seed of the calendar seeds; contract: credit.add_working_days_lookup.',
            first_date, (select max(calendar_date) from credit.working_day_index)));
    execute format('comment on function credit.working_days_between(date, date) is %L',
        format('Working days in (a, b] on the official calendar with 调休; negative when b < a. Raises for dates the calendar does not cover. Compiled from credit.working_day_index (%s to %s) by credit.refresh_working_calendar(); contract: credit.working_days_between_lookup.',
            first_date, (select max(calendar_date) from credit.working_day_index)));
end
$$;

-- Bootstrap runs every night: recompile from the table as it stands (empty before the first seed).
select credit.compile_working_calendar();


-- The official working-day calendar (credit.working_day_index, rebuilt from the calendar seeds by
-- credit.refresh_working_calendar()): one row per date it covers. Models that count working days
-- call credit.add_working_days / credit.working_days_between; this view says which dates those cover.
with

source as (
    select * from {{ source('credit', 'working_day_index') }}
),

final as (
    select
        calendar_date,
        is_working_day,
        day_kind,
        holiday_name,
        source as calendar_source,
        working_day_ordinal
    from source
)

select * from final

-- One row per act of Shijiazhuang's other administrative acts (其他行政行为: 行政强制、行政确认、
-- 行政征收、行政给付、行政裁决、行政补偿、行政奖励、行政监督检查 [004 (十五)]), keyed by kind, decision
-- document number (compared bracket and width insensitively, macro document_key) and subject, as of
-- a date (the night built, macro as_of_on, else the run date); docs/record_lifecycle.md.
-- The kind's numbers come from the office's rule table (seed admin_act_kinds; the seeds give none,
-- every number there is the office's default):
-- - timeliness: the act is due on the platform by credit.add_working_days(decision_date, deadline)
--   (official calendar, 调休 included) and is late (迟报) when its first delivery is later, measured
--   as dual publicity's [000 §2.2]; a kind without a deadline is never late;
-- - publicity: public on [decision_date, decision_date + publicity_months), then kept as an archive
--   record (公示期满, expired_archived), never public again. The publicity export reads is_public.
-- A re-delivered act counts once: its latest delivery (macro rank_deliveries), as penalties.
-- Acts decided or first delivered after the as-of date are left out (they did not exist yet), and
-- so are acts whose subject has no key (a person without a valid resident ID).
-- A natural person appears as the keyed hash, the masked ID and the masked name (张**, also where
-- the content names the person), never the ID or the full name [rules §9].
{% set calendar_start = var('working_calendar_start', '2014-01-01') %}
with

acts as (
    select * from {{ ref('stg_admin_act__acts') }}
),

kinds as (
    select * from {{ ref('admin_act_kinds') }}
),

{{ as_of_cte() }},

keyed as (
    select
        acts.*,
        {{ document_key('acts.decision_document_number') }} as document_key,
        coalesce(acts.uscc, acts.id_number) as subject_key
    from acts
    cross join as_of
    where acts.reported_on <= as_of.as_of_on
        and acts.decision_date <= as_of.as_of_on
),

ranked as (
    {{ rank_deliveries(
        'keyed',
        ['act_kind_name', 'document_key', 'subject_key'],
        'reported_on desc, batch_id desc, source_row_number desc'
    ) }}
),

latest as (
    select
        ranked.*,
        case
            when ranked.subject_type <> 'natural_person' and credit.is_valid_uscc(ranked.uscc) then ranked.uscc
            when ranked.subject_type = 'natural_person' and credit.is_valid_citizen_id(ranked.id_number)
                then {{ subject_hash('ranked.id_number') }}
        end as subject_id
    from ranked
    where ranked.recency = 1
),

ruled as (
    select
        latest.*,
        kinds.act_kind,
        kinds.reporting_deadline_working_days,
        kinds.publicity_months,
        -- The calendar starts on {{ calendar_start }}; an older decision is measured from then.
        credit.add_working_days(
            greatest(latest.decision_date, date '{{ calendar_start }}'), kinds.reporting_deadline_working_days
        ) as reporting_due_on,
        (latest.decision_date + make_interval(months => kinds.publicity_months))::date as publicity_ends_on
    from latest
    inner join kinds
        on kinds.act_kind_name = latest.act_kind_name
    where latest.subject_id is not null
),

final as (
    select
        md5(ruled.act_kind || '|' || ruled.document_key || '|' || ruled.subject_key) as act_id,
        ruled.act_kind,
        ruled.act_kind_name,
        ruled.subject_id,
        ruled.subject_type,
        case ruled.subject_type
            when 'natural_person' then '自然人'
            when 'individual_business' then '个体工商户'
            else '法人及非法人组织'
        end as subject_category,
        case when ruled.subject_type <> 'natural_person' then ruled.uscc end as uscc,
        {{ masked_person_name('ruled.subject_name', 'ruled.subject_type') }} as subject_name,
        case
            when ruled.subject_type = 'natural_person'
                then left(ruled.id_number, 6) || '********' || right(ruled.id_number, 4)
        end as citizen_id_masked,
        ruled.decision_document_name,
        ruled.decision_document_number,
        ruled.document_key,
        -- A person's name inside the free text is masked as in subject_name.
        case
            when ruled.subject_type = 'natural_person' and ruled.subject_name is not null
                then replace(
                    ruled.act_content, ruled.subject_name,
                    {{ masked_person_name('ruled.subject_name', 'ruled.subject_type') }}
                )
            else ruled.act_content
        end as act_content,
        ruled.act_basis,
        ruled.amount_10k_yuan,
        ruled.decision_date as decision_on,
        ruled.authority_name,
        md5(ruled.authority_name) as authority_department_id,
        ruled.source_department,
        ruled.reporting_deadline_working_days,
        ruled.reporting_due_on,
        credit.working_days_between(
            greatest(ruled.decision_date, date '{{ calendar_start }}'), ruled.first_reported_on
        ) as working_days_to_report,
        coalesce(ruled.first_reported_on > ruled.reporting_due_on, false) as is_reported_late,
        ruled.publicity_months,
        ruled.decision_date as publicity_start_on,
        ruled.publicity_ends_on,
        case when as_of.as_of_on < ruled.publicity_ends_on then 'public' else 'expired_archived' end
            as publicity_status,
        as_of.as_of_on < ruled.publicity_ends_on as is_public,
        as_of.as_of_on,
        ruled.first_reported_on,
        ruled.last_reported_on,
        ruled.delivery_count::integer as delivery_count,
        ruled.batch_id as last_batch_id
    from ruled
    cross join as_of
)

select * from final

-- The records behind each scorecard numerator (issue 21; docs/scorecard.md): one row per record a
-- figure of qa_scorecard_figures counts, so every number on the scorecard drills down to its rows.
-- The formulas live here once - qa_scorecard_figures counts these rows - and follow the indicator
-- catalogue (seed scorecard_indicators) [000 二 7, 二 9, 二 12, 二 13]:
--   objection_overdue_share     objections applied for in the month, overdue as of the build;
--   repair_success_rate         repairs decided in the month (closed or refused) that were repaired;
--   commitment_per_enterprise   commitments first reported by the month's end;
--   commitment_matter_share     legally committable matters (seed) with a commitment by the month's end;
--   tax_a_level_share           local enterprises on the latest A-level list published by the month's end;
--   customs_certified_share     local enterprises advanced-certified at the month's end;
--   dishonest_enterprise_share  local enterprises on a black list in force at the month's end;
--   serious_list_entries/exits  black-list entries / exits dated in the month.
-- Jurisdiction: the subject's reporting unit (dim_subject.jurisdiction_code; for a subject the
-- warehouse does not know, the unit of its USCC's division code, characters 3-8). Only organisation
-- records carry a name: an individual business's or a person's name is never copied here.
-- Grain: one row per month, jurisdiction, indicator and record.
with

{{ as_of_cte() }},

months as (
    select generate_series(
        date_trunc('month', as_of.as_of_on) - interval '1 month' * ({{ var('scorecard_months', 12) }} - 1),
        date_trunc('month', as_of.as_of_on),
        interval '1 month'
    )::date as report_month
    from as_of
),

month_ends as (
    select
        months.report_month,
        least((months.report_month + interval '1 month' - interval '1 day')::date, as_of.as_of_on) as month_end
    from months
    cross join as_of
),

divisions as (
    select * from {{ ref('dim_jurisdiction') }}
),

subjects as (
    select * from {{ ref('dim_subject') }}
),

-- Local legal-person enterprises (本地法人企业): USCC registration-authority code 9 + kind 1
-- (企业, 91…), registered with the market registry and in business (存续 / 在业) today.
enterprises as (
    select uscc, subject_name, jurisdiction_code, registered_on
    from subjects
    where uscc like '91%' and is_registered and coalesce(is_active, false) and jurisdiction_code is not null
),

enterprises_by_month as (
    select month_ends.report_month, month_ends.month_end, enterprises.*
    from month_ends
    inner join enterprises
        on coalesce(enterprises.registered_on, month_ends.month_end) <= month_ends.month_end
),

objections as (
    select * from {{ ref('fct_objection') }}
),

repairs as (
    select * from {{ ref('fct_repair') }}
),

commitments as (
    select * from {{ ref('fct_commitment') }}
),

committable_matters as (
    select * from {{ ref('legally_committable_matters') }}
),

tax_statuses as (
    select * from {{ ref('fct_tax_status') }}
),

certifications as (
    select * from {{ ref('stg_customs_certified__certifications') }}
),

memberships as (
    select * from {{ ref('fct_list_membership') }}
),

-- The reporting unit of a USCC: the subject's, else its division code's.
subject_units as (
    select
        codes.uscc,
        coalesce(subjects.jurisdiction_code, divisions.reporting_unit_code) as jurisdiction_code,
        case when codes.uscc not like '92%' then coalesce(subjects.subject_name, codes.subject_name) end
            as subject_name
    from (
        select uscc, max(subject_name) as subject_name from repairs where uscc is not null
        group by uscc
        union
        select uscc, max(subject_name) as subject_name from commitments where uscc is not null
        group by uscc
        union
        select uscc, max(subject_name) as subject_name from memberships where uscc is not null
        group by uscc
    ) as codes
    left join subjects
        on subjects.uscc = codes.uscc
    left join divisions
        on divisions.division_code = substr(codes.uscc, 3, 6)
),

objection_records as (
    select
        month_ends.report_month,
        coalesce(divisions.reporting_unit_code, left(objections.jurisdiction_code, 4) || '00') as jurisdiction_code,
        'objection_overdue_share'::text as indicator_id,
        'objection'::text as record_kind,
        objections.objection_id as record_id,
        objections.uscc,
        case when objections.subject_type = 'organisation' then objections.subject_name end as subject_name,
        objections.applied_on as record_on,
        objections.handled_by as department
    from objections
    inner join month_ends
        on date_trunc('month', objections.applied_on)::date = month_ends.report_month
    left join divisions
        on divisions.division_code = objections.jurisdiction_code
    where objections.is_overdue
),

repair_records as (
    select
        month_ends.report_month,
        subject_units.jurisdiction_code,
        'repair_success_rate'::text as indicator_id,
        'repair'::text as record_kind,
        repairs.repair_id as record_id,
        repairs.uscc,
        subject_units.subject_name,
        repairs.closed_on as record_on,
        repairs.handled_by as department
    from repairs
    inner join month_ends
        on date_trunc('month', repairs.closed_on)::date = month_ends.report_month
    left join subject_units
        on subject_units.uscc = repairs.uscc
    where repairs.outcome = 'repaired'
),

commitment_records as (
    select
        month_ends.report_month,
        subject_units.jurisdiction_code,
        'commitment_per_enterprise'::text as indicator_id,
        'commitment'::text as record_kind,
        commitments.commitment_id as record_id,
        commitments.uscc,
        subject_units.subject_name,
        commitments.first_reported_on as record_on,
        commitments.accepted_by as department
    from commitments
    inner join month_ends
        on month_ends.month_end >= commitments.first_reported_on
    inner join subject_units
        on subject_units.uscc = commitments.uscc
),

matter_records as (
    select
        month_ends.report_month,
        committable_matters.jurisdiction_code,
        'commitment_matter_share'::text as indicator_id,
        'committable_matter'::text as record_kind,
        committable_matters.matter_name as record_id,
        null::text as uscc,
        null::text as subject_name,
        min(commitments.first_reported_on) as record_on,
        max(committable_matters.department) as department
    from committable_matters
    cross join month_ends
    inner join commitments
        on commitments.commitment_matter = committable_matters.matter_name
        and commitments.first_reported_on <= month_ends.month_end
        and (committable_matters.department is null or commitments.accepted_by = committable_matters.department)
    inner join subject_units
        on subject_units.uscc = commitments.uscc
        and subject_units.jurisdiction_code = committable_matters.jurisdiction_code
    group by month_ends.report_month, committable_matters.jurisdiction_code, committable_matters.matter_name
),

latest_a_level_years as (
    select month_ends.report_month, max(tax_statuses.period_year) as period_year
    from month_ends
    inner join tax_statuses
        on tax_statuses.record_kind = 'a_level_rating'
        and tax_statuses.published_on <= month_ends.month_end
    group by month_ends.report_month
),

a_level_records as (
    select distinct on (enterprises_by_month.report_month, enterprises_by_month.uscc)
        enterprises_by_month.report_month,
        enterprises_by_month.jurisdiction_code,
        'tax_a_level_share'::text as indicator_id,
        'a_level_taxpayer'::text as record_kind,
        tax_statuses.tax_status_id as record_id,
        enterprises_by_month.uscc,
        enterprises_by_month.subject_name,
        tax_statuses.published_on as record_on,
        tax_statuses.tax_authority_name as department
    from enterprises_by_month
    inner join latest_a_level_years
        on latest_a_level_years.report_month = enterprises_by_month.report_month
    inner join tax_statuses
        on tax_statuses.uscc = enterprises_by_month.uscc
        and tax_statuses.record_kind = 'a_level_rating'
        and tax_statuses.period_year = latest_a_level_years.period_year
        and tax_statuses.published_on <= enterprises_by_month.month_end
    order by enterprises_by_month.report_month asc, enterprises_by_month.uscc asc, tax_statuses.published_on desc
),

-- The latest certification decision delivered by the month's end, as prf_subject_credit_profile
-- reads it: certified unless that decision is a revocation in force.
certification_states as (
    select distinct on (month_ends.report_month, certifications.uscc)
        month_ends.report_month,
        month_ends.month_end,
        certifications.*
    from month_ends
    inner join certifications
        on certifications.reported_on <= month_ends.month_end
        and certifications.certified_on <= month_ends.month_end
    order by month_ends.report_month asc, certifications.uscc asc, certifications.reported_on desc,
        certifications.source_row_number desc
),

customs_records as (
    select
        enterprises_by_month.report_month,
        enterprises_by_month.jurisdiction_code,
        'customs_certified_share'::text as indicator_id,
        'customs_certification'::text as record_kind,
        certification_states.batch_id || '#' || certification_states.source_row_number::text as record_id,
        enterprises_by_month.uscc,
        enterprises_by_month.subject_name,
        certification_states.certified_on as record_on,
        '石家庄海关'::text as department
    from enterprises_by_month
    inner join certification_states
        on certification_states.report_month = enterprises_by_month.report_month
        and certification_states.uscc = enterprises_by_month.uscc
    where not (certification_states.is_revoked
        and coalesce(certification_states.revoked_on <= certification_states.month_end, true))
),

black_in_force as (
    select
        enterprises_by_month.report_month,
        enterprises_by_month.jurisdiction_code,
        enterprises_by_month.uscc,
        enterprises_by_month.subject_name,
        memberships.list_membership_id,
        memberships.entered_on,
        memberships.deciding_department
    from enterprises_by_month
    inner join memberships
        on memberships.uscc = enterprises_by_month.uscc
        and memberships.list_type = 'black'
        and memberships.entered_on <= enterprises_by_month.month_end
        and (memberships.exited_on is null or memberships.exited_on > enterprises_by_month.month_end)
        and (memberships.valid_until is null or memberships.valid_until >= enterprises_by_month.month_end)
        and (memberships.verified_wrong_on is null or memberships.verified_wrong_on > enterprises_by_month.month_end)
),

dishonest_records as (
    select distinct on (report_month, uscc)
        report_month,
        jurisdiction_code,
        'dishonest_enterprise_share'::text as indicator_id,
        'black_list_membership'::text as record_kind,
        list_membership_id as record_id,
        uscc,
        subject_name,
        entered_on as record_on,
        deciding_department as department
    from black_in_force
    order by report_month, uscc, entered_on, list_membership_id
),

list_events as (
    select
        month_ends.report_month,
        subject_units.jurisdiction_code,
        case
            when list_event.event_kind = 'entry' then 'serious_list_entries' else 'serious_list_exits'
        end as indicator_id,
        'black_list_' || list_event.event_kind as record_kind,
        memberships.list_membership_id as record_id,
        memberships.uscc,
        subject_units.subject_name,
        list_event.on_date as record_on,
        memberships.deciding_department as department
    from memberships
    cross join lateral (
        values ('entry', memberships.entered_on), ('exit', memberships.exited_on)
    ) as list_event (event_kind, on_date)
    inner join month_ends
        on date_trunc('month', list_event.on_date)::date = month_ends.report_month
        and month_ends.month_end >= list_event.on_date
    left join subject_units
        on subject_units.uscc = memberships.uscc
    where memberships.list_type = 'black'
),

unioned as (
    select * from objection_records
    union all
    select * from repair_records
    union all
    select * from commitment_records
    union all
    select * from matter_records
    union all
    select * from a_level_records
    union all
    select * from customs_records
    union all
    select * from dishonest_records
    union all
    select * from list_events
),

final as (
    select
        md5(report_month::text || '|' || indicator_id || '|' || record_id) as scorecard_record_id,
        report_month,
        jurisdiction_code,
        indicator_id,
        record_kind,
        record_id,
        uscc,
        subject_name,
        record_on,
        department
    from unioned
    where jurisdiction_code is not null
)

select * from final

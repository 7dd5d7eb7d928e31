{{ config(schema='intermediate', materialized='view') }}
-- One row per administrative penalty decision (决定书文号 + subject) with its publicity window:
-- public from the decision date for at least min_months and at most max_months, by the rules in
-- the publicity_rules seed (NDRC Order 58, 2023; [000 §2.12]). Every matching penalty_kind and
-- domain rule applies (several kinds in one decision: the longest period wins); the default rule
-- only when no penalty_kind rule matched. A decision delivered on several nights counts once: its
-- latest delivery.
with

penalties as (
    select * from {{ ref('stg_admin_penalty__penalties') }}
),

rules as (
    select * from {{ ref('publicity_rules') }}
),

keyed as (
    select
        penalties.*,
        -- The subject of the decision: its USCC, else (natural persons) the ID number, else the name.
        coalesce(penalties.uscc, penalties.id_number, penalties.subject_name) as subject_key
    from penalties
),

ranked as (
    {{ rank_deliveries(
        'keyed',
        ['decision_document_number', 'subject_key'],
        'reported_on desc, batch_id desc, source_row_number desc'
    ) }}
),

decisions as (
    select
        md5(decision_document_number || '|' || subject_key) as penalty_id,
        ranked.*
    from ranked
    where recency = 1
),

kind_and_domain_matches as (
    select
        decisions.penalty_id,
        rules.rule_id,
        rules.rule_kind,
        rules.min_months,
        rules.max_months
    from decisions
    inner join rules
        on rules.rule_kind in ('penalty_kind', 'domain')
        and (
            case rules.match_field
                when 'penalty_category' then decisions.penalty_category
                when 'violation_type' then decisions.violation_type
                when 'penalty_basis' then decisions.penalty_basis
                when 'authority_name' then decisions.authority_name
            end
        ) ~ rules.match_pattern
),

default_matches as (
    select
        decisions.penalty_id,
        rules.rule_id,
        rules.rule_kind,
        rules.min_months,
        rules.max_months
    from decisions
    cross join rules
    where rules.rule_kind = 'default'
        and not exists (
            select 1
            from kind_and_domain_matches
            where kind_and_domain_matches.penalty_id = decisions.penalty_id
                and kind_and_domain_matches.rule_kind = 'penalty_kind'
        )
),

applied_rules as (
    select * from kind_and_domain_matches
    union all
    select * from default_matches
),

periods as (
    select
        penalty_id,
        max(min_months) as min_publicity_months,
        max(max_months) as max_publicity_months,
        string_agg(rule_id, ',' order by rule_id) as applied_rule_ids
    from applied_rules
    group by penalty_id
),

final as (
    select
        decisions.penalty_id,
        decisions.decision_document_number,
        decisions.subject_key,
        -- The subject as int_subjects_resolved keys it: the USCC, or the keyed hash of a natural
        -- person's valid resident ID (never the ID [domain §9]); null for a person without one.
        case
            when decisions.subject_type <> 'natural_person' then decisions.uscc
            when credit.is_valid_citizen_id(credit.normalize_code(decisions.subject_key))
                then {{ subject_hash('decisions.subject_key') }}
        end as subject_id,
        decisions.subject_name,
        decisions.subject_type,
        decisions.uscc,
        decisions.penalty_category,
        decisions.violation_type,
        decisions.penalty_basis,
        decisions.authority_name,
        decisions.decision_date as publicity_start_on,
        periods.min_publicity_months::integer as min_publicity_months,
        periods.max_publicity_months::integer as max_publicity_months,
        periods.applied_rule_ids,
        -- The window's ends are the first days the record may be (earliest) or must be (latest)
        -- off the website: public on [publicity_start_on, latest_end_on).
        (decisions.decision_date + make_interval(months => periods.min_publicity_months::integer))::date
            as earliest_end_on,
        (decisions.decision_date + make_interval(months => periods.max_publicity_months::integer))::date
            as latest_end_on,
        decisions.first_reported_on,
        decisions.reported_on as last_reported_on,
        decisions.delivery_count::integer as delivery_count,
        decisions.batch_id as last_batch_id
    from decisions
    -- left join: a decision no rule covers keeps its row and fails the not_null tests on its period.
    left join periods
        on periods.penalty_id = decisions.penalty_id
)

select * from final

-- Every accepted row of the dual-publicity channels (行政许可 / 行政处罚: the department's report,
-- its ledger 台账, the national push-down 国家推送 [000 §2.2, §2.3]) delivered by the as-of date
-- (the night built, macro as_of_on), with the counting rule that decides whether it is the one
-- counted record of its business key or a difference the reconciliation explains [rules §8;
-- docs/audit.md]:
--   counted                    the first delivery of the key (earliest night; on one night the
--                              report before the ledger before the push-down, then batch and row);
--   duplicate_in_batch         the key again in a batch that already carried it;
--   pushdown_already_reported  a national push-down of a key already delivered;
--   correction                 补报: a later delivery of the same feed with changed content
--                              (decision date, subject name or code, authority);
--   redelivery                 a later delivery with the same content, or the key through another
--                              department channel (a report of a ledgered decision, ...);
--   not_countable              no decision number, decision date or subject: no business key.
-- Shijiazhuang's other administrative acts (其他行政行为 [004 (十五)], admin_act) are counted the same
-- way under their own category, one channel (the report), every kind of act together.
-- The business key is the licence facts' (int_facts_licences_deduplicated): the kind, the document
-- number compared bracket and width insensitively (macro document_key) and the subject (USCC, else
-- name); the ranking is macro rank_deliveries, as the facts rank. Penalties are keyed the same way
-- across the three channels.
-- Jurisdiction [rules §3]: the subject's registration division (the registry's latest record),
-- else the division in characters 3-8 of its USCC, else the reporting authority's (its USCC); the
-- county is null when the division is a city-level unit (定州, 辛集 count as city-level), a city's
-- 市辖区 placeholder code (not a county) or unknown.
with

licences as (
    select * from {{ ref('stg_admin_licence__licences') }}
),

penalties as (
    select * from {{ ref('stg_admin_penalty__penalties') }}
),

acts as (
    select * from {{ ref('stg_admin_act__acts') }}
),

ledgers as (
    select * from {{ ref('stg_dept_ledgers__decisions') }}
),

pushdown as (
    select * from {{ ref('stg_national_pushdown__decisions') }}
),

registry as (
    select * from {{ ref('stg_market_registry__subjects') }}
),

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

{{ as_of_cte() }},

unioned as (
    select
        'admin_licence'::text as source_id, 'report'::text as channel, 1 as channel_rank,
        'licence'::text as record_kind, batch_id, source_row_number, reported_on as seen_on,
        decision_document_number, decision_date, subject_name, uscc, authority_name, authority_uscc,
        coalesce(source_department, authority_name) as department
    from licences
    union all
    select
        'admin_penalty'::text as source_id, 'report'::text as channel, 1 as channel_rank,
        'penalty'::text as record_kind, batch_id, source_row_number, reported_on as seen_on,
        decision_document_number, decision_date, subject_name, uscc, authority_name, authority_uscc,
        coalesce(source_department, authority_name) as department
    from penalties
    union all
    select
        'admin_act'::text as source_id, 'report'::text as channel, 1 as channel_rank,
        'admin_act'::text as record_kind, batch_id, source_row_number, reported_on as seen_on,
        decision_document_number, decision_date, subject_name, uscc, authority_name, authority_uscc,
        coalesce(source_department, authority_name) as department
    from acts
    union all
    select
        'dept_ledgers'::text as source_id, 'ledger'::text as channel, 2 as channel_rank,
        decision_kind as record_kind, batch_id, source_row_number, received_on as seen_on,
        decision_document_number, decision_date, subject_name, uscc, authority_name, authority_uscc,
        coalesce(source_department, authority_name) as department
    from ledgers
    union all
    select
        'national_pushdown'::text as source_id, 'pushdown'::text as channel, 3 as channel_rank,
        decision_kind as record_kind, batch_id, source_row_number, pushed_on as seen_on,
        decision_document_number, decision_date, subject_name, uscc, authority_name, authority_uscc,
        coalesce(source_department, authority_name) as department
    from pushdown
),

keyed as (
    select
        unioned.*,
        case
            when unioned.record_kind in ('licence', 'penalty', 'admin_act')
                and unioned.decision_document_number is not null
                and unioned.decision_date is not null
                and coalesce(unioned.uscc, unioned.subject_name) is not null
                then md5(
                    unioned.record_kind || '|' || {{ document_key('unioned.decision_document_number') }}
                    || '|' || coalesce(unioned.uscc, unioned.subject_name)
                )
        end as record_key,
        md5(concat_ws(
            '|', unioned.decision_date, unioned.subject_name, unioned.uscc, unioned.authority_name
        )) as content_hash
    from unioned
    cross join as_of
    where unioned.seen_on <= as_of.as_of_on
),

countable as (
    select * from keyed where record_key is not null
),

ranked as (
    {{ rank_deliveries(
        'countable',
        ['record_key'],
        'seen_on, channel_rank, batch_id, source_row_number',
        reported_on='seen_on'
    ) }}
),

with_history as (
    select
        ranked.*,
        -- Earlier rows of the key in the same batch.
        row_number() over (partition by record_key, batch_id order by source_row_number) as rank_in_batch,
        -- The previous delivery of the key by the same feed, and its content.
        lag(content_hash) over (
            partition by record_key, source_id order by seen_on, batch_id, source_row_number
        ) as previous_content_hash
    from ranked
),

classified as (
    select
        with_history.*,
        case
            when recency = 1 then 'counted'
            when rank_in_batch > 1 then 'duplicate_in_batch'
            when channel = 'pushdown' then 'pushdown_already_reported'
            when previous_content_hash is not null and previous_content_hash <> content_hash then 'correction'
            else 'redelivery'
        end as audit_rule
    from with_history
),

-- The subject's registration division: the registry's latest accepted record of the USCC.
registrations as (
    select distinct on (uscc)
        uscc,
        registration_division_code
    from registry
    where uscc is not null and registration_division_code is not null
    order by uscc asc, source_updated_at desc nulls last, batch_logical_date desc, source_row_number desc
),

all_rows as (
    select
        batch_id, source_row_number, source_id, channel, record_kind, seen_on, decision_date,
        decision_document_number, uscc, authority_uscc, department, record_key, recency as delivery_rank,
        audit_rule
    from classified
    union all
    select
        batch_id, source_row_number, source_id, channel, record_kind, seen_on, decision_date,
        decision_document_number, uscc, authority_uscc, department, null::text as record_key,
        null::bigint as delivery_rank, 'not_countable' as audit_rule
    from keyed
    where record_key is null
),

located as (
    select
        all_rows.*,
        coalesce(
            registered_division.division_code,
            code_division.division_code,
            authority_division.division_code
        ) as division_code
    from all_rows
    left join registrations
        on registrations.uscc = all_rows.uscc
    left join divisions as registered_division
        on registered_division.division_code = registrations.registration_division_code
    left join divisions as code_division
        on code_division.division_code = substr(all_rows.uscc, 3, 6)
    left join divisions as authority_division
        on authority_division.division_code = substr(all_rows.authority_uscc, 3, 6)
),

final as (
    select
        located.batch_id || '#' || located.source_row_number as delivery_id,
        located.batch_id,
        located.source_row_number,
        located.source_id,
        located.channel,
        located.record_kind,
        case located.record_kind
            when 'licence' then '行政许可' when 'penalty' then '行政处罚' when 'admin_act' then '其他行政行为'
        end
            as source_category,
        located.seen_on,
        date_trunc('month', located.seen_on)::date as seen_month,
        located.decision_date as decision_on,
        located.decision_document_number,
        located.department,
        located.record_key,
        located.delivery_rank,
        located.audit_rule,
        located.audit_rule = 'counted' as is_counted,
        located.division_code,
        divisions.reporting_unit_code as city_code,
        case
            when divisions.division_level = 'county' and divisions.division_code <> divisions.reporting_unit_code
                and divisions.division_name <> '市辖区'
                then divisions.division_code
        end as county_code
    from located
    left join divisions
        on divisions.division_code = located.division_code
)

select * from final

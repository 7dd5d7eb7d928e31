-- One row per administrative licence decision (行政许可决定文书号 + subject) the platform has seen
-- through any channel, counted once [000 §2.2, §2.3]: the department's report (admin_licence), its
-- monthly ledger (台账, dept_ledgers, kind licence) and the national push-down (national_pushdown,
-- kind licence; it often repeats what the department already sent). Document numbers are compared
-- white-space, full-width and bracket insensitively (macro document_key, as the dual-publicity
-- quality models do); the subject is its USCC, else (a natural person, who carries no code) the
-- name the rows give.
-- The row kept is the report when there is one (the full national template: validity, category,
-- certificate), else the ledger, else the push-down; within a channel the latest delivery, as
-- int_penalties_publicity_windowed keeps a penalty's (macro rank_deliveries).
-- A natural person is keyed by the keyed hash of the ID only a report carries: a person's decision
-- known only from a ledger or the push-down has no subject_id (null here, left out of the mart).
with

licences as (
    select * from {{ ref('stg_admin_licence__licences') }}
),

ledgers as (
    select * from {{ ref('stg_dept_ledgers__decisions') }}
),

pushdown as (
    select * from {{ ref('stg_national_pushdown__decisions') }}
),

reports as (
    select
        'admin_licence'::text as source_id,
        1 as channel_rank,
        batch_id,
        source_row_number,
        reported_on,
        decision_document_number,
        decision_date,
        subject_name,
        subject_type,
        uscc,
        id_number,
        licence_category,
        licence_certificate_name,
        licence_number,
        licence_content,
        valid_from,
        valid_to,
        current_status,
        authority_name,
        source_department
    from licences
),

ledger_rows as (
    select
        'dept_ledgers'::text as source_id,
        2 as channel_rank,
        batch_id,
        source_row_number,
        received_on as reported_on,
        decision_document_number,
        decision_date,
        subject_name,
        subject_type,
        uscc,
        null::text as id_number,
        null::text as licence_category,
        null::text as licence_certificate_name,
        null::text as licence_number,
        decision_summary as licence_content,
        null::date as valid_from,
        null::date as valid_to,
        null::text as current_status,
        authority_name,
        source_department
    from ledgers
    where decision_kind = 'licence'
),

pushdown_rows as (
    select
        'national_pushdown'::text as source_id,
        3 as channel_rank,
        batch_id,
        source_row_number,
        pushed_on as reported_on,
        decision_document_number,
        decision_date,
        subject_name,
        subject_type,
        uscc,
        null::text as id_number,
        null::text as licence_category,
        null::text as licence_certificate_name,
        null::text as licence_number,
        decision_content as licence_content,
        null::date as valid_from,
        null::date as valid_to,
        null::text as current_status,
        authority_name,
        source_department
    from pushdown
    where decision_kind = 'licence'
),

unioned as (
    select * from reports
    union all
    select * from ledger_rows
    union all
    select * from pushdown_rows
),

keyed as (
    select
        unioned.*,
        {{ document_key('decision_document_number') }} as document_key,
        coalesce(uscc, subject_name) as subject_key
    from unioned
    where decision_document_number is not null
        and decision_date is not null
        and coalesce(uscc, subject_name) is not null
),

ranked as (
    {{ rank_deliveries(
        'keyed',
        ['document_key', 'subject_key'],
        'channel_rank, reported_on desc, batch_id desc, source_row_number desc'
    ) }}
),

-- What the other rows of the decision add: the feeds that carried it, and a person's ID (only
-- reports carry one).
evidence as (
    select
        document_key,
        subject_key,
        array_agg(distinct source_id order by source_id) as source_ids,
        max(id_number) filter (where source_id = 'admin_licence' and credit.is_valid_citizen_id(id_number))
            as id_number
    from keyed
    group by document_key, subject_key
),

decisions as (
    select
        ranked.*,
        array_to_string(evidence.source_ids, ',') as source_ids,
        evidence.id_number as person_id_number
    from ranked
    inner join evidence
        on evidence.document_key = ranked.document_key
        and evidence.subject_key = ranked.subject_key
    where ranked.recency = 1
),

final as (
    select
        md5(document_key || '|' || subject_key) as licence_id,
        case
            when subject_type = 'natural_person' then {{ subject_hash('person_id_number') }}
            when credit.is_valid_uscc(uscc) then uscc
        end as subject_id,
        subject_type,
        case when subject_type <> 'natural_person' then uscc end as uscc,
        case when subject_type <> 'natural_person' then subject_name end as subject_name,
        case
            when subject_type = 'natural_person'
                then left(person_id_number, 6) || '********' || right(person_id_number, 4)
        end as citizen_id_masked,
        decision_document_number,
        document_key,
        decision_date as decision_on,
        licence_category,
        licence_certificate_name,
        licence_number,
        licence_content,
        valid_from,
        valid_to,
        current_status,
        authority_name,
        source_department,
        source_id as kept_source_id,
        source_ids,
        first_reported_on,
        last_reported_on,
        delivery_count::integer as delivery_count,
        batch_id as kept_batch_id
    from decisions
)

select * from final

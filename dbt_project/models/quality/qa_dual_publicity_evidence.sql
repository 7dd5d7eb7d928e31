-- Where the platform has seen a dual-publicity decision (双公示, [000 §2.2]): one row per accepted
-- row of any of three channels, normalised to one shape.
--   report    an accepted 行政许可 / 行政处罚 row (admin_licence, admin_penalty): the department
--             reported the decision; seen_on = the night its file reached the platform;
--   ledger    an accepted row of the department's monthly ledger (台账, dept_ledgers): the
--             department decided it; seen_on = the night the ledger arrived;
--   pushdown  an accepted row of the national platform's push-down (国家推送, national_pushdown
--             [000 §2.3]): it was decided, whatever the department said; seen_on = push night.
-- A decision is identified by (source_id, department, document_key): the feed it belongs to, the
-- 数据来源单位 accountable for reporting it (the deciding authority when not given) and its
-- document number compared white-space, full-width and bracket insensitively (〔2019〕, [2019],
-- （2019） and 【2019】 are one number). The objections feed is not a channel: its 涉及信息编号 is
-- the website's record id, not a document number.
-- city_code: the jurisdiction [rules §3] the decision counts for, one of the 14 prefecture-level
-- units (the 11 cities, 定州, 辛集, 雄安新区): the unit of the deciding authority's division
-- (characters 3-8 of its USCC); when the authority is a province department (130000: its
-- jurisdiction is the whole province) or its code names no Hebei division, the unit of the
-- subject's registration (characters 3-8 of the subject's USCC); else null (未能归属).
-- city_basis says which: authority | subject, or why none (docs/quality_rates.md, "Attribution"):
--   province_authority_no_subject_code  a province department's decision about a subject without a
--                                       USCC (a natural person) or whose USCC names no Hebei division;
--   no_code                             neither the authority's nor the subject's USCC was given;
--   unknown_division                    the codes given name no current Hebei division.
with

licences as (
    select * from {{ ref('stg_admin_licence__licences') }}
),

penalties as (
    select * from {{ ref('stg_admin_penalty__penalties') }}
),

ledgers as (
    select * from {{ ref('stg_dept_ledgers__decisions') }}
),

pushdown as (
    select * from {{ ref('stg_national_pushdown__decisions') }}
),

divisions as (
    select * from {{ ref('hebei_divisions') }}
),

-- Every division with its prefecture-level unit, when that unit is one of the 14 current ones.
units as (
    select
        divisions.division_code,
        divisions.division_level,
        reporting_units.division_code as unit_code
    from divisions
    left join divisions as reporting_units
        on reporting_units.division_code = divisions.reporting_unit_code
        and reporting_units.is_current
        and reporting_units.division_level <> 'province'
),

reports as (
    select
        'report' as channel, 'admin_licence' as source_id, batch_id, source_row_number,
        reported_on as seen_on, decision_document_number, decision_date, null::date as ledger_month,
        coalesce(source_department, authority_name) as department, authority_name, authority_uscc,
        uscc as subject_uscc
    from licences
    union all
    select
        'report' as channel, 'admin_penalty' as source_id, batch_id, source_row_number,
        reported_on, decision_document_number, decision_date, null::date,
        coalesce(source_department, authority_name) as department, authority_name, authority_uscc,
        uscc
    from penalties
),

ledger_rows as (
    select
        'ledger' as channel,
        case decision_kind when 'licence' then 'admin_licence' when 'penalty' then 'admin_penalty' end as source_id,
        batch_id, source_row_number, received_on as seen_on, decision_document_number, decision_date,
        ledger_month, coalesce(source_department, authority_name) as department, authority_name,
        authority_uscc, uscc as subject_uscc
    from ledgers
),

pushdown_rows as (
    select
        'pushdown' as channel,
        case decision_kind when 'licence' then 'admin_licence' when 'penalty' then 'admin_penalty' end as source_id,
        batch_id, source_row_number, pushed_on as seen_on, decision_document_number, decision_date,
        null::date as ledger_month, coalesce(source_department, authority_name) as department, authority_name,
        authority_uscc, uscc as subject_uscc
    from pushdown
),

unioned as (
    select * from reports
    union all
    select * from ledger_rows
    union all
    select * from pushdown_rows
),

final as (
    select
        unioned.channel,
        unioned.source_id,
        unioned.department,
        {{ document_key('unioned.decision_document_number') }} as document_key,
        unioned.decision_document_number,
        unioned.decision_date,
        unioned.seen_on,
        unioned.ledger_month,
        unioned.authority_name,
        unioned.authority_uscc,
        unioned.subject_uscc,
        coalesce(authority_division.unit_code, subject_division.unit_code) as city_code,
        case
            when authority_division.unit_code is not null then 'authority'
            when subject_division.unit_code is not null then 'subject'
            when authority_division.division_level = 'province' then 'province_authority_no_subject_code'
            when nullif(unioned.authority_uscc, '') is null and nullif(unioned.subject_uscc, '') is null
                then 'no_code'
            else 'unknown_division'
        end as city_basis,
        unioned.batch_id,
        unioned.source_row_number
    from unioned
    left join units as authority_division
        on authority_division.division_code = substr(unioned.authority_uscc, 3, 6)
    left join units as subject_division
        on subject_division.division_code = substr(unioned.subject_uscc, 3, 6)
    where unioned.source_id is not null
        and unioned.department is not null
        and unioned.decision_document_number is not null
        and unioned.decision_date is not null
)

select * from final

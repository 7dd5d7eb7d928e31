-- False-litigation dishonest persons (虚假诉讼失信人) the courts publish beside the dishonest
-- judgment debtors [004 (十五)]: one row per subject listed in a case (案号 + subject), in the latest
-- state the courts had delivered by the as-of date (the night built, macro as_of_on; else the run
-- date). A removal (移除) comes as the listing again with its removal date; the subject is listed
-- from the publication date until the removal date. A current listing is a ground the
-- joint-punishment lists may cite (纳入失信联合惩戒对象名单的依据: "以相关司法裁判…处理结果为依据"
-- [004 (八)]): is_list_ground, cited by its false_litigant_id or its case number.
-- Natural persons appear only as the keyed hash and the masked ID, never by name or ID, and an
-- organisation's legal representative (a person) is left out [rules §9], as in fct_court_debtor.
with

listings as (
    select * from {{ ref('stg_court_false_litigants__listings') }}
),

{{ as_of_cte() }},

{{ court_listings_ranked() }},

latest as (
    select * from ranked where recency = 1
),

final as (
    select
        md5(latest.case_number || '|' || latest.subject_id) as false_litigant_id,
        latest.subject_id,
        case
            when latest.subject_type = 'natural_person' then 'natural_person'
            when latest.uscc like '92%' then 'individual_business'
            else 'organisation'
        end as subject_type,
        latest.uscc,
        case when latest.subject_type <> 'natural_person' then latest.subject_name end as subject_name,
        latest.citizen_id_masked,
        latest.case_number,
        latest.court_name,
        md5(latest.court_name) as court_department_id,
        latest.decision_document_number,
        latest.false_conduct,
        latest.sanction,
        latest.decided_on,
        latest.published_on as listed_on,
        -- A removal dated after the as-of date has not happened yet.
        case when latest.removed_on <= as_of.as_of_on then latest.removed_on end as removed_on,
        (
            latest.published_on <= as_of.as_of_on
            and (latest.removed_on is null or latest.removed_on > as_of.as_of_on)
        ) as is_current,
        (
            latest.published_on <= as_of.as_of_on
            and (latest.removed_on is null or latest.removed_on > as_of.as_of_on)
        ) as is_list_ground,
        as_of.as_of_on,
        latest.first_reported_on,
        latest.last_reported_on,
        latest.delivery_count::integer as delivery_count,
        latest.batch_id as last_batch_id
    from latest
    cross join as_of
)

select * from final

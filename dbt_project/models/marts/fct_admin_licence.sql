-- One row per administrative licence decision (行政许可决定文书号 + subject) known through any
-- channel (report, ledger, national push-down), deduplicated in int_facts_licences_deduplicated,
-- and whether the licence is in force on a date: the night built, macro as_of_on, else the run date
-- [000 §2.2, §2.3]. Decisions dated after the as-of date are left out (they did not exist yet), and
-- so are decisions whose subject has no key: an invalid USCC (the gate only warns on it in ledgers
-- and the push-down) or a natural person known from no report (only reports carry the ID).
with

licences as (
    select * from {{ ref('int_facts_licences_deduplicated') }}
),

{{ as_of_cte() }},

final as (
    select
        licences.licence_id,
        licences.subject_id,
        licences.subject_type,
        licences.uscc,
        licences.subject_name,
        licences.citizen_id_masked,
        licences.decision_document_number,
        licences.decision_on,
        licences.licence_category,
        licences.licence_certificate_name,
        licences.licence_number,
        licences.licence_content,
        licences.valid_from,
        licences.valid_to,
        licences.current_status,
        licences.authority_name,
        md5(licences.authority_name) as authority_department_id,
        licences.source_department,
        -- In force: granted by the as-of date, its validity (inclusive end) not over, and not
        -- reported as revoked or cancelled. A decision known only from a ledger or the push-down
        -- carries no validity: in force from its decision date.
        (
            coalesce(licences.valid_from, licences.decision_on) <= as_of.as_of_on
            and (licences.valid_to is null or licences.valid_to >= as_of.as_of_on)
            and coalesce(licences.current_status, '有效') = '有效'
        ) as is_valid,
        as_of.as_of_on,
        licences.kept_source_id,
        licences.source_ids,
        licences.first_reported_on,
        licences.last_reported_on,
        licences.delivery_count,
        licences.kept_batch_id
    from licences
    cross join as_of
    where licences.decision_on <= as_of.as_of_on
        and licences.subject_id is not null
)

select * from final

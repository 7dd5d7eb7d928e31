-- Accepted A-level taxpayer list rows only: the batch passed the gate and the row has no critical
-- issue. Renames the tax bureau's keys to English and casts; the count and share of A-level
-- taxpayers is an assessed target [000 §2.7].
with

source as (
    select * from {{ source('raw_tax_a_level', 'tax_a_level__taxpayers') }}
),

batches as (
    select * from {{ source('meta_tax_a_level', 'load_batches') }}
),

row_issues as (
    select * from {{ source('meta_tax_a_level', 'row_issues') }}
),

accepted as (
    select
        source.*,
        batches.logical_date as batch_logical_date
    from source
    inner join batches
        on batches.batch_id = source._batch_id
        and batches.status = 'accepted'
    where not exists (
        select 1
        from row_issues
        where row_issues.batch_id = source._batch_id
            and row_issues.row_number = source._row_number
            and row_issues.severity = 'critical'
    )
),

final as (
    select
        _batch_id as batch_id,
        _row_number as source_row_number,
        batch_logical_date,
        _source_file as source_request,
        _source_row as source_record_position,
        credit.normalize_code(uscc) as uscc,
        credit.clean_text(subject_name) as subject_name,
        case when credit.clean_text(evaluation_year) ~ '^[0-9]+$' and length(credit.clean_text(evaluation_year)) <= 9
            then credit.clean_text(evaluation_year)::integer end as evaluation_year,
        upper(credit.clean_text(credit_grade)) as credit_grade,
        credit.clean_text(tax_authority_code) as tax_authority_code,
        credit.clean_text(tax_authority_name) as tax_authority_name,
        credit.clean_text(division_code) as division_code,
        credit.try_date(published_on) as published_on,
        credit.try_timestamptz(updated_at) as source_updated_at
    from accepted
)

select * from final

{#- The rows of a feed that may be used: its batch passed the quality gate (meta.load_batches
    status 'accepted') and the row has no critical issue (meta.row_issues); a quarantined row or a
    row of a rejected batch stays in raw and never reaches staging. Every staging model starts
    here: the CTEs `source` (raw.<feed>__<table>), `batches`, `row_issues` and `accepted` (the
    source's columns plus batch_logical_date, the batch's logical date). Use as the first CTEs:
        with

        {{ accepted_rows('housing_fund', 'contributions') }},

        final as (... from accepted) -#}
{% macro accepted_rows(feed, table) -%}
source as (
    select * from {{ source('raw_' ~ feed, feed ~ '__' ~ table) }}
),

batches as (
    select * from {{ source('meta', 'load_batches') }}
),

row_issues as (
    select * from {{ source('meta', 'row_issues') }}
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
)
{%- endmacro %}

{#- Incremental marts merge only the ledger batches accepted since they last ran, so a night's cost
    follows that night's volume, not the size of history [issue "Scale"].

    `batches_to_merge(source_ids)` returns, when the model builds incrementally, the batch ids of
    those feeds that the quality gate accepted after the newest `validated_at` the table already
    holds (the ledger's validated_at of the batch that last wrote a row, read through
    stg_meta__load_batches, a plain view over meta.load_batches: the ledger's index on it makes the
    max a single lookup). The ref is taken before anything else, so dbt records the dependency
    when it parses the model. A night that ran again was validated again, so it is merged again:
    the merge is idempotent, and a re-landed or back-filled earlier night is not skipped the way a
    "logical date >= the latest loaded" filter would skip it. Returns none on a full build (no
    filter: every accepted row). Unit tests override it with a list of batch ids.

    The list is read at run time (run_query) and inlined, so the staging view's filter becomes
    `_batch_id = any(array[...])` on the raw table's primary key: an index range per batch. -#}
{% macro batches_to_merge(source_ids) -%}
    {%- set ledger = ref('stg_meta__load_batches') -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select batch_id
        from {{ ledger }}
        where source_id in ('{{ source_ids | join("', '") }}')
            and status = 'accepted'
            and validated_at > coalesce((select max(validated_at) from {{ this }}), '-infinity')
        order by batch_id
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}

{#- `batch_id = any(<this>)`: the batch ids as a text[] literal (an empty list matches nothing). -#}
{% macro batch_id_array(batch_ids) -%}
    array[{%- for batch_id in batch_ids -%}'{{ batch_id | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}]::text[]
{%- endmacro %}

{#- The staging rows an incremental fact merges this run, each with the gate's acceptance time of
    its batch (`validated_at`, from stg_meta__load_batches: the watermark batches_to_merge reads
    back): those of `batch_ids` on an incremental run, every accepted row on a full build
    (`batch_ids` none). Use as the body of a CTE:
        {%- set merge_batches = batches_to_merge(['housing_fund']) %}
        contributions as ({{ rows_to_merge('stg_housing_fund__contributions', merge_batches) }}) -#}
{% macro rows_to_merge(model, batch_ids) -%}
    select
        staged.*,
        ledger.validated_at
    from {{ ref(model) }} as staged
    inner join {{ ref('stg_meta__load_batches') }} as ledger
        on ledger.batch_id = staged.batch_id
    {%- if batch_ids is not none %}
    where staged.batch_id = any({{ batch_id_array(batch_ids) }})
    {%- endif %}
{%- endmacro %}

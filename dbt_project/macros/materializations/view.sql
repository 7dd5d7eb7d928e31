{#-
  The view materialization for PostgreSQL, replacing a view in place.

  Why: dbt's own view materialization creates `<name>__dbt_tmp`, renames the live view to
  `<name>__dbt_backup`, renames the new one into place and drops the backup with CASCADE. Every
  view downstream still points at the old relation, so the cascade drops it too (until dbt rebuilds
  it later in the run), and when two threads rebuild two staging views that one downstream view
  reads (`int_subject_codes_unioned` reads all seventeen), both cascades try to drop it and lock the
  same `pg_rewrite` rules in different orders: `deadlock detected` (issue 22; measured by
  `python -m benchmarks.view_rebuilds`, docs/benchmarks.md).

  What this does instead:
  - the usual night (the view's columns unchanged, or new ones added at the end): one
    `create or replace view`. Nothing is renamed or dropped, so nothing cascades, downstream views
    stay valid (they never disappear under a reader mid-night), and two threads never contend for
    a third view's rules. PostgreSQL allows it exactly when every existing column keeps its
    position, name, type, type modifier and collation; the new definition is tried beside the old
    one first (`credit_view_columns_extend`), so an incompatible change never reaches the server as
    a failing statement.
  - a change of columns (a deploy): dbt's swap, with the backup dropped inside the same
    transaction and the swap serialized behind one transaction-scoped advisory lock, so at most one
    cascading drop runs at a time in the warehouse (the rest of each model's build stays parallel).
-#}
{%- materialization view, adapter='postgres' -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'view' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {%- set grant_config = config.get('grants') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  -- leftovers of an interrupted earlier run
  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}

  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {#- `--vars '{credit_view_replace: swap}'` forces the swap (the stress check measures that path). -#}
  {%- set in_place = false -%}
  {%- if existing_relation is not none and existing_relation.is_view
        and var('credit_view_replace', 'in_place') != 'swap' -%}
    {% call statement('try_new_definition') -%}
      {{ get_create_view_as_sql(intermediate_relation, sql) }}
    {%- endcall %}
    {%- set in_place = credit_view_columns_extend(existing_relation, intermediate_relation) -%}
    {% call statement('drop_new_definition') -%}
      drop view {{ intermediate_relation }}
    {%- endcall %}
  {%- endif -%}

  {%- if in_place -%}
    {% call statement('main') -%}
      {{ get_replace_view_sql(target_relation, sql) }}
    {%- endcall %}
  {%- else -%}
    {% call statement('main') -%}
      {{ get_create_view_as_sql(intermediate_relation, sql) }}
    {%- endcall %}
    {%- if existing_relation is not none -%}
      {% call statement('serialize_cascading_swap') -%}
        select pg_advisory_xact_lock({{ credit_cascading_swap_lock_key() }})
      {%- endcall %}
      {%- set existing_relation = load_cached_relation(existing_relation) -%}
      {%- if existing_relation is not none -%}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
      {%- endif -%}
    {%- endif -%}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {%- if existing_relation is not none -%}
      -- inside the transaction, so the cascade and the swap commit (and release the lock) together
      {{ drop_relation_if_exists(backup_relation) }}
    {%- endif -%}
  {%- endif -%}

  {%- set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) -%}
  {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke) -%}
  {%- do persist_docs(target_relation, model) -%}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}


{#- True when `new` keeps every column of `old` at its position with the same name, type, type
    modifier and collation (new columns may follow): PostgreSQL's own rule for `create or replace
    view` (checkViewColumns). -#}
{% macro credit_view_columns_extend(old, new) %}
  {%- set query -%}
    with old_columns as (
        select attnum, attname, atttypid, atttypmod, attcollation
        from pg_attribute
        where attrelid = '{{ old.include(database=false) }}'::regclass and attnum > 0 and not attisdropped
    ),

    new_columns as (
        select attnum, attname, atttypid, atttypmod, attcollation
        from pg_attribute
        where attrelid = '{{ new.include(database=false) }}'::regclass and attnum > 0 and not attisdropped
    )

    select count(*) = 0 as columns_extend
    from old_columns
    left join new_columns
        on old_columns.attnum = new_columns.attnum
        and old_columns.attname = new_columns.attname
        and old_columns.atttypid = new_columns.atttypid
        and old_columns.atttypmod = new_columns.atttypmod
        and old_columns.attcollation = new_columns.attcollation
    where new_columns.attnum is null
  {%- endset -%}
  {{ return(run_query(query).columns[0].values()[0]) }}
{% endmacro %}


{#- One advisory lock key for every swap that drops with CASCADE (the same on every thread and
    every process building this warehouse). -#}
{% macro credit_cascading_swap_lock_key() -%}
  hashtext('credit_warehouse.cascading_swap')
{%- endmacro %}

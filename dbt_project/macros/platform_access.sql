{#-
  Re-apply the platform roles' row policies and column grants to a mart dbt just built
  (include/credit_dw/db/sql/70_platform_access.sql, catalog/platform_access.yml, docs/platform_access.md).

  Why: a table build is a new relation (create, rename, drop the old one), born without row-level
  security, policies or grants. As a post-hook this runs inside the model's transaction, after the
  rename and before the commit, so the rebuilt table is never visible unprotected; a mart no rule
  names is left alone. Before bootstrap has created the access schema (a dbt run on a bare
  database) it does nothing.
-#}
{% macro apply_platform_access() -%}
do $platform_access$
begin
    if to_regprocedure('access.apply_table_access(text, text)') is not null then
        call access.apply_table_access('{{ this.schema }}', '{{ this.identifier }}');
    end if;
end
$platform_access$
{%- endmacro %}

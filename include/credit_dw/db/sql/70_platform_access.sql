-- Curated access for the downstream platforms that read tables [issue 20; rules §9: authenticate
-- users and authorise each use]. docs/platform_access.md explains it for engineers.
--
-- The roles and the rules are declared once, in include/credit_dw/catalog/platform_access.yml;
-- credit_dw.db.platform_access (run by bootstrap after this file) creates the roles, fills the two
-- tables below and calls access.apply_all(). This file holds only what does not name a role.
--
-- Why row-level security on the marts themselves, and no views: an ordinary view runs with its
-- owner's rights, so a row policy on the table behind it would not apply to its readers (only a
-- security_invoker view would respect it). The platform roles select from the marts directly, with
-- ENABLE + FORCE ROW LEVEL SECURITY and one policy per platform group; a column a platform may not
-- read is left out of its column-level grant.
--
-- Why a mapping table (access.platform_jurisdictions) rather than parsing current_user: a login
-- role's jurisdiction is data, visible and auditable (`select * from access.platform_jurisdictions`),
-- one login may be given several jurisdictions (a province-wide reader, a merged city), and a
-- person may log in as a member of a city role (pg_has_role), where a name pattern would silently
-- give nothing or, worse, the wrong city after a rename.
--
-- Why helper functions in the policies instead of subqueries on marts.dim_subject: a policy's
-- expression records a dependency on every table it names, and dbt rebuilds dim_subject as a new
-- relation and drops the old one with CASCADE, which would drop the other tables' policies with it.
-- A PL/pgSQL body is resolved at call time and records no dependency.
--
-- Why the policies are re-applied by dbt: dbt builds a table mart as a new relation (create, rename,
-- drop the old), which has no policies, no RLS flag and no grants. The post-hook
-- apply_platform_access (dbt_project/macros/platform_access.sql) calls access.apply_table_access
-- inside the same transaction as the rename, so no reader ever sees the new table unprotected; and
-- until it ran the platform roles have no grant on it at all (fail closed).

create schema if not exists access;
revoke all on schema access from public;
comment on schema access is
    'Platform access: the declared row rules, city jurisdictions, and the functions the row policies and the check role call.';

-- Nothing for PUBLIC: no schema of the warehouse is usable by every role, and the public schema
-- is neither usable nor writable by them (PostgreSQL < 15 lets everyone create there).
revoke create, usage on schema public from public;
do $$
declare
    s text;
begin
    foreach s in array array['raw', 'meta', 'credit', 'reference', 'staging', 'intermediate', 'marts',
                             'quality', 'archive', 'restricted', 'access'] loop
        if exists (select from pg_namespace where nspname = s) then
            execute format('revoke all on schema %I from public', s);
            execute format('revoke all on all tables in schema %I from public', s);
        end if;
    end loop;
end
$$;
-- Functions are executable by PUBLIC unless revoked: not in schema access, now or later.
alter default privileges in schema access revoke execute on functions from public;

-- One row per (platform group, mart): the group's row policy and the columns it may not read.
-- Rewritten from the catalog at every bootstrap (credit_dw.db.platform_access).
create table if not exists access.table_rules (
    group_role  text not null,
    table_schema text not null default 'marts',
    table_name  text not null,
    row_filter  text not null,
    withheld    text[] not null default '{}',
    primary key (group_role, table_schema, table_name)
);
comment on table access.table_rules is
    'Declared row policies of the platform groups (catalog/platform_access.yml): USING expression and withheld columns per mart.';

-- The jurisdiction(s) each city login role reads: one row per (role, reporting unit code).
create table if not exists access.platform_jurisdictions (
    role_name         text not null,
    jurisdiction_code text not null,
    primary key (role_name, jurisdiction_code)
);
comment on table access.platform_jurisdictions is
    'Which jurisdiction (dim_subject.jurisdiction_code, a prefecture-level reporting unit) each city login role reads.';
-- A city role may read its own rows (the policies read them through access.my_jurisdictions()).
-- ENABLE without FORCE: the owner (bootstrap) writes the table.
alter table access.platform_jurisdictions enable row level security;
drop policy if exists own_rows on access.platform_jurisdictions;
create policy own_rows on access.platform_jurisdictions for select
    using (pg_has_role(current_user, role_name, 'MEMBER'));

-- The jurisdiction codes of the current user (a city login role, or a member of one).
-- SECURITY INVOKER (the default): it must see who is asking.
create or replace function access.my_jurisdictions() returns setof text
language plpgsql stable
set search_path = pg_catalog, pg_temp as $$
begin
    return query
        select j.jurisdiction_code from access.platform_jurisdictions j
        where pg_has_role(current_user, j.role_name, 'MEMBER');
end
$$;
revoke all on function access.my_jurisdictions() from public;

-- The subjects of the current user's jurisdictions: what the policies of subject-keyed marts use.
-- Reads dim_subject as the caller (who is itself held to its own jurisdiction there).
create or replace function access.my_subject_ids() returns setof text
language plpgsql stable
set search_path = pg_catalog, pg_temp as $$
begin
    return query
        select d.subject_id from marts.dim_subject d
        where d.jurisdiction_code in (select access.my_jurisdictions());
end
$$;
revoke all on function access.my_subject_ids() from public;

-- The department check (joint reward and punishment, 联合奖惩): one subject by its code, never a
-- list. SECURITY DEFINER with a fixed search_path, so the caller needs EXECUTE only and no grant
-- on any table; an empty, malformed or unknown code returns no row. A USCC matches an
-- organisation or individual business; a resident ID is hashed here (credit.subject_hash, which
-- the caller may not call itself) and matches a natural person, who comes back without name.
-- No subject_id is returned: for a person it is the keyed hash, a pseudonym to keep inside.
-- The owner of this function must be able to read the marts: it is the role that runs bootstrap,
-- the same role that owns the marts and has the warehouse_owner policy (access.apply_table_access).
create or replace function access.check_subject(code text)
returns table (
    uscc text,
    subject_name text,
    subject_type text,
    jurisdiction_code text,
    registration_status text,
    is_active boolean,
    is_registered boolean,
    current_list_types text[],
    penalties_in_force bigint
)
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp as $$
#variable_conflict use_column
declare
    key text := credit.normalize_code(code);
    person text;
begin
    if key is null or key = '' then
        return;
    end if;
    if credit.is_valid_citizen_id(key) then
        person := credit.subject_hash(key);
    elsif not credit.is_valid_uscc(key) then
        return;
    end if;
    return query
        select d.uscc, d.subject_name, d.subject_type, d.jurisdiction_code, d.registration_status,
               d.is_active, d.is_registered,
               array(select distinct l.list_type from marts.fct_list_membership l
                     where l.subject_id = d.subject_id and l.is_current order by 1),
               (select count(*) from marts.fct_admin_penalty p
                where p.subject_id = d.subject_id and p.punishment_state = 'in_force')
        from marts.dim_subject d
        where case when person is null then d.uscc = key and d.subject_type <> 'natural_person'
                   else d.subject_id = person and d.subject_type = 'natural_person' end;
end
$$;
revoke all on function access.check_subject(text) from public;
comment on function access.check_subject(text) is
    'Look one subject up by USCC or resident ID (joint reward/punishment check): registration facts, current lists, penalties in force.';

-- (Re)apply the declared rules to one mart (a mart no rule names is left alone): RLS enabled and forced, the platform policies
-- recreated (one per group, named as the group: platform_<kind>), each platform group's grant recreated (its columns minus the withheld ones). Order:
-- RLS first, grants last, all in the caller's transaction (dbt's post-hook runs it before the
-- rebuilt table is committed). A missing table is skipped (not built yet); a view is refused,
-- since a view would run with its owner's rights past the policies.
-- Besides the platform groups, two policies keep the warehouse working under FORCE: the table
-- owner (dbt, exports, GX run as it) and the engineers' / office's reader roles of docs/privacy.md
-- when they exist, all rows.
create or replace procedure access.apply_table_access(p_schema text, p_table text)
language plpgsql
set search_path = pg_catalog, pg_temp as $$
declare
    rel regclass := to_regclass(format('%I.%I', p_schema, p_table));
    kind "char";
    owner_name text;
    rule record;
    old record;
    readers text[];
    cols text;
begin
    if rel is null or not exists (select from access.table_rules t
                                  where t.table_schema = p_schema and t.table_name = p_table) then
        return;  -- not built yet, or no platform reads it
    end if;
    select c.relkind, pg_get_userbyid(c.relowner) into kind, owner_name from pg_class c where c.oid = rel;
    if kind not in ('r', 'p') then
        raise exception 'access.apply_table_access: %.% is not a table (relkind %): a view would leak past row policies',
            p_schema, p_table, kind;
    end if;
    execute format('alter table %s enable row level security', rel);
    execute format('alter table %s force row level security', rel);
    for old in select polname from pg_policy where polrelid = rel
                                                and (polname like 'platform\_%' or polname like 'warehouse\_%') loop
        execute format('drop policy %I on %s', old.polname, rel);
    end loop;
    execute format('create policy warehouse_owner on %s for all to %I using (true) with check (true)', rel, owner_name);
    select array_agg(quote_ident(r.rolname)) into readers from pg_roles r
    where r.rolname in ('credit_engineer', 'credit_reader', 'credit_office');
    if readers is not null then
        execute format('create policy warehouse_readers on %s for select to %s using (true)', rel,
                       array_to_string(readers, ', '));
    end if;
    execute format('revoke all on %s from public', rel);
    for rule in select distinct t.group_role from access.table_rules t
                where exists (select from pg_roles r where r.rolname = t.group_role) loop
        execute format('revoke all on %s from %I', rel, rule.group_role);
    end loop;
    for rule in select t.* from access.table_rules t
                where t.table_schema = p_schema and t.table_name = p_table
                  and exists (select from pg_roles r where r.rolname = t.group_role)
                order by t.group_role loop
        execute format('create policy %I on %s for select to %I using (%s)',
                       rule.group_role, rel, rule.group_role, rule.row_filter);
        select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into cols
        from pg_attribute a
        where a.attrelid = rel and a.attnum > 0 and not a.attisdropped and a.attname <> all (rule.withheld);
        if cols is not null then
            execute format('grant select (%s) on %s to %I', cols, rel, rule.group_role);
        end if;
    end loop;
end
$$;
revoke all on procedure access.apply_table_access(text, text) from public;

-- Every declared mart that exists (bootstrap calls it after rewriting the rules).
create or replace procedure access.apply_all()
language plpgsql
set search_path = pg_catalog, pg_temp as $$
declare
    t record;
begin
    for t in select distinct table_schema, table_name from access.table_rules order by 1, 2 loop
        call access.apply_table_access(t.table_schema, t.table_name);
    end loop;
end
$$;
revoke all on procedure access.apply_all() from public;

"""One database role per downstream platform, created from `catalog/platform_access.yml`.

`install(conn)` runs at the end of every bootstrap, after `sql/70_platform_access.sql`, and is
idempotent: it creates the NOLOGIN group roles and the LOGIN roles that are missing (each login a
member of its group), sets a login's password when `CREDIT_DW_ROLE_<LOGIN>_PASSWORD` is set
(`settings.role_password`), rewrites `access.table_rules` and `access.platform_jurisdictions`
from the catalog, grants schema usage and function execute, and applies the row policies and
column grants to every declared mart that exists (`access.apply_all()`). dbt re-applies them to
each mart it rebuilds (post-hook `apply_platform_access`).

Creating roles needs CREATEROLE (or a superuser); without it the roles are left to the DBA (a
warning says which are missing) and the rules are still written and applied to those that exist.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from credit_dw.catalog.platform_access import load_platforms
from credit_dw.config import settings

log = logging.getLogger(__name__)


def _role_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select exists (select from pg_roles where rolname = %s)", (name,)).fetchone()[0]


def _may_create_roles(conn: psycopg.Connection) -> bool:
    return conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()[0]


def _administers(conn: psycopg.Connection, name: str) -> bool:
    """Whether this role may alter `name`: a superuser, or (PostgreSQL 16+) a CREATEROLE role that
    created it and so holds ADMIN OPTION on it; roles the DBA made are the DBA's to change."""
    return conn.execute("select pg_has_role(current_user, %s, 'MEMBER WITH ADMIN OPTION')",
                        (name,)).fetchone()[0]


def ensure_roles(conn: psycopg.Connection) -> list[str]:
    """Create the missing group and login roles, set passwords from the environment; returns the
    roles that are missing and could not be created (no CREATEROLE)."""
    may_create = _may_create_roles(conn)
    missing, not_ours = [], []
    for platform in load_platforms():
        wanted = [(platform.group, False), *((login, True) for login in platform.logins)]
        for name, login in wanted:
            if not _role_exists(conn, name):
                if not may_create:
                    missing.append(name)
                    continue
                conn.execute(sql.SQL("create role {} {}").format(
                    sql.Identifier(name), sql.SQL("login" if login else "nologin")))
            if login and may_create and not _administers(conn, name):
                not_ours.append(name)
            elif login and may_create:
                # Logins inherit their group's grants; nothing more (no superuser, no bypassing RLS).
                conn.execute(sql.SQL("alter role {} login inherit nosuperuser nocreatedb nocreaterole "
                                     "noreplication nobypassrls").format(sql.Identifier(name)))
                if _role_exists(conn, platform.group) and _administers(conn, platform.group):
                    conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(platform.group),
                                                                 sql.Identifier(name)))
                password = settings.role_password(name)
                if password is not None:
                    conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(name),
                                                                            sql.Literal(password)))
    if missing:
        log.warning("platform roles missing and not created (the warehouse role lacks CREATEROLE): %s",
                    ", ".join(missing))
    if not_ours:
        log.warning("platform roles left as they are (created by another role, e.g. the DBA, who "
                    "keeps their attributes, memberships and passwords): %s", ", ".join(not_ours))
    return missing


def write_rules(conn: psycopg.Connection) -> None:
    """access.table_rules and access.platform_jurisdictions as the catalog declares them."""
    platforms = load_platforms()
    conn.execute("delete from access.table_rules")
    conn.execute("delete from access.platform_jurisdictions")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into access.table_rules (group_role, table_name, row_filter, withheld) values (%s, %s, %s, %s)",
            [(p.group, rule.table, rule.rows, list(rule.withheld)) for p in platforms for rule in p.tables])
        cur.executemany(
            "insert into access.platform_jurisdictions (role_name, jurisdiction_code) values (%s, %s)",
            [(login, code) for p in platforms for login, code in p.jurisdictions.items()])


def grant_schemas_and_functions(conn: psycopg.Connection) -> None:
    for platform in load_platforms():
        if not _role_exists(conn, platform.group):
            continue
        group = sql.Identifier(platform.group)
        if platform.tables:
            conn.execute(sql.SQL("grant usage on schema marts to {}").format(group))
        if platform.jurisdictions or platform.functions:
            conn.execute(sql.SQL("grant usage on schema access to {}").format(group))
        if platform.jurisdictions:
            # The helpers the city policies call, and the city's own mapping rows (RLS: own rows).
            conn.execute(sql.SQL("grant execute on function access.my_jurisdictions(), access.my_subject_ids() to {}")
                         .format(group))
            conn.execute(sql.SQL("grant select on access.platform_jurisdictions to {}").format(group))
        for function in platform.functions:
            conn.execute(sql.SQL("grant execute on function access.{} to {}").format(sql.SQL(function), group))


def install(conn: psycopg.Connection) -> None:
    """Roles, rules, grants and row policies of every platform (idempotent)."""
    ensure_roles(conn)
    write_rules(conn)
    grant_schemas_and_functions(conn)
    conn.execute("call access.apply_all()")

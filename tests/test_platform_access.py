"""Platform roles (issue 20, "Curated access for platforms that read tables"): one database role per
downstream platform, created by bootstrap from catalog/platform_access.yml. The tests log in as each
role and compare what it reads with what the warehouse owner reads.

Logical dates: October 2021 belongs to this file.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from psycopg import errors

from credit_dw.catalog.platform_access import get_platform, jurisdictions, load_platforms
from credit_dw.config import settings

NIGHT = date(2021, 10, 12)
#: The day the marts are built as of (set by the fixture): the day the first of the night's public
#: penalties leaves publicity, so that the marts hold public and no-longer-public penalties.
AS_OF: dict[str, date] = {}
FEEDS = ("market_registry", "admin_licence", "admin_penalty", "objections", "credit_lists")
MARTS = ("dim_subject", "fct_admin_licence", "fct_admin_penalty", "fct_list_membership")
#: Schemas no platform role may touch.
CLOSED_SCHEMAS = ("raw", "meta", "restricted", "staging", "intermediate", "credit", "public")


def _logins() -> list[str]:
    return [login for p in load_platforms() for login in p.logins]


def _password(login: str) -> str:
    return f"pw-{login}-test"


def _build(as_of: date, *, parents: bool) -> None:
    from credit_dw.transform import dbt as transform

    select = [f"+{m}" for m in MARTS] if parents else list(MARTS)
    transform.run_dbt(["run", "--select", *select, "--vars", f"{{as_of_date: '{as_of}'}}"])


@pytest.fixture(scope="module")
def warehouse(warehouse_url: str) -> str:
    """A night of the dual-publicity, registry, objection and list feeds built into the marts (as of
    AS_OF); the
    platform logins given passwords (bootstrap rerun with the variables set)."""
    from conftest import ensure_all_raw_tables, seed_reference_unless_seeded

    from credit_dw.connectors import http as extract_http
    from credit_dw.db import privacy
    from credit_dw.db.bootstrap import bootstrap
    from credit_dw.ingest import pipeline as ingest
    from credit_dw.simulate import api_server, simulator_for

    seed_reference_unless_seeded(warehouse_url, "publicity_rules")
    privacy.install_hash_key()
    ensure_all_raw_tables()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(extract_http.env_name("objections"), raising=False)
        api_server.url_file().unlink(missing_ok=True)
        for source_id in FEEDS:
            simulator_for(source_id)(NIGHT, scale=1)
            outcome = ingest.ingest(source_id, NIGHT)
            assert outcome.status == "accepted", (source_id, outcome)
    _build(NIGHT, parents=True)
    with psycopg.connect(warehouse_url, autocommit=True) as owner:
        AS_OF["day"] = _one(owner, "select min(latest_end_on) from marts.fct_admin_penalty where is_public")
    _build(AS_OF["day"], parents=False)
    with pytest.MonkeyPatch.context() as mp:
        for login in _logins():
            mp.setenv(settings.role_password_variable(login), _password(login))
        bootstrap(warehouse_url)
    return warehouse_url


@pytest.fixture(scope="module")
def login(warehouse):
    """login(role) -> an autocommit connection as that role, with its password."""
    opened: list[psycopg.Connection] = []

    def connect(role: str) -> psycopg.Connection:
        conninfo = psycopg.conninfo.make_conninfo(settings.libpq_url(warehouse), user=role,
                                                  password=_password(role))
        connection = psycopg.connect(conninfo, autocommit=True)
        opened.append(connection)
        return connection

    yield connect
    for connection in opened:
        connection.close()


def _one(conn, query: str, params=()):
    return conn.execute(query, params).fetchone()[0]


def _city_counts(owner, code: str) -> dict[str, int]:
    return {
        "dim_subject": _one(owner, "select count(*) from marts.dim_subject where jurisdiction_code = %s", (code,)),
        "fct_admin_penalty": _one(owner, """select count(*) from marts.fct_admin_penalty p
                                            join marts.dim_subject d using (subject_id)
                                            where d.jurisdiction_code = %s""", (code,)),
        "fct_admin_licence": _one(owner, """select count(*) from marts.fct_admin_licence l
                                            join marts.dim_subject d using (subject_id)
                                            where d.jurisdiction_code = %s""", (code,)),
    }


def _as_city(conn) -> dict[str, int]:
    return {table: _one(conn, f"select count(*) from marts.{table}")
            for table in ("dim_subject", "fct_admin_penalty", "fct_admin_licence")}


# --- roles and declarations --------------------------------------------------------------------


def test_one_city_role_per_jurisdiction_of_the_reference_divisions(warehouse, conn):
    codes = {code for code, _ in jurisdictions()}
    assert codes == {"130100", "130200", "130300", "130400", "130500", "130600", "130700", "130800", "130900",
                     "131000", "131100", "130181", "130682", "133100"}  # 11 cities, 辛集, 定州, 雄安新区
    city = get_platform("platform_city")
    mapped = dict(conn.execute("select role_name, jurisdiction_code from access.platform_jurisdictions").fetchall())
    assert mapped == {f"credit_city_{code}": code for code in codes} == city.jurisdictions
    roles = {name: tuple(flags) for name, *flags in conn.execute(
        """select rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb
           from pg_roles where rolname like 'credit\\_%%' or rolname like 'platform\\_%%'""").fetchall()}
    for platform in load_platforms():
        assert roles[platform.group] == (False, False, False, False, False), platform.group
        for name in platform.logins:
            assert roles[name] == (True, False, False, False, False), name
            assert _one(conn, "select pg_has_role(%s, %s, 'member')", (name, platform.group))


def test_bootstrap_reruns_without_change(warehouse, conn):
    from credit_dw.db.bootstrap import bootstrap

    def state():
        return (
            conn.execute("select rolname from pg_roles where rolname ~ '^(credit|platform)_' order by 1").fetchall(),
            conn.execute("""select c.relname, p.polname, pg_get_expr(p.polqual, p.polrelid)
                            from pg_policy p join pg_class c on c.oid = p.polrelid
                            join pg_namespace n on n.oid = c.relnamespace
                            where n.nspname = 'marts' order by 1, 2""").fetchall(),
            conn.execute("select * from access.table_rules order by 1, 2, 3").fetchall(),
        )

    before = state()
    assert before[1], "no policies on the marts"
    bootstrap(warehouse)
    bootstrap(warehouse)
    assert state() == before


def test_every_declared_mart_has_forced_row_security_and_a_policy_per_platform(warehouse, conn):
    for table in MARTS:
        enabled, forced = conn.execute(
            "select relrowsecurity, relforcerowsecurity from pg_class where oid = %s::regclass",
            (f"marts.{table}",)).fetchone()
        assert enabled and forced, table
        policies = {r for (r,) in conn.execute(
            "select polname from pg_policy where polrelid = %s::regclass", (f"marts.{table}",)).fetchall()}
        groups = {p.group for p in load_platforms() if any(t.table == table for t in p.tables)}
        assert groups | {"warehouse_owner"} <= policies, table


# --- what each role sees ------------------------------------------------------------------------


def test_a_city_role_sees_exactly_its_jurisdiction(warehouse, conn, login):
    seen_any = 0
    for code, _ in jurisdictions():
        city = login(f"credit_city_{code}")
        expected = _city_counts(conn, code)
        assert _as_city(city) == expected, code
        assert _one(city, "select count(*) from marts.dim_subject where jurisdiction_code is distinct from %s",
                    (code,)) == 0
        seen_any += expected["dim_subject"] > 0
    # The simulated subjects spread over several jurisdictions, so "sees only its own" is tested.
    assert seen_any >= 3
    assert _one(conn, "select count(distinct jurisdiction_code) from marts.dim_subject") >= 3


def test_a_city_role_cannot_widen_its_jurisdiction(warehouse, login):
    city = login("credit_city_130100")
    assert city.execute("select jurisdiction_code from access.platform_jurisdictions").fetchall() == [("130100",)]
    with pytest.raises(errors.InsufficientPrivilege):
        city.execute("insert into access.platform_jurisdictions values ('credit_city_130100', '130200')")
    with pytest.raises(errors.InsufficientPrivilege):
        city.execute("update marts.dim_subject set jurisdiction_code = '130100'")


def test_the_publicity_role_sees_only_public_records_inside_their_window(warehouse, conn, login):
    public = login("credit_publicity")
    window = "is_public and publicity_start_on <= as_of_on and as_of_on < latest_end_on"
    expected = _one(conn, f"select count(*) from marts.fct_admin_penalty where {window}")
    hidden = _one(conn, f"select count(*) from marts.fct_admin_penalty where not ({window})")
    assert expected > 0 and hidden > 0, "the night must hold public and non-public penalties"
    assert _one(public, "select count(*) from marts.fct_admin_penalty") == expected
    assert _one(public, f"select count(*) from marts.fct_admin_penalty where not ({window})") == 0
    assert _one(public, """select count(*) from marts.fct_admin_penalty
                           where publicity_status not in ('public', 'public_under_objection')""") == 0
    assert _one(public, "select count(*) from marts.fct_admin_licence") == _one(
        conn, "select count(*) from marts.fct_admin_licence where decision_on <= as_of_on")
    assert _one(public, "select count(*) from marts.fct_list_membership where not is_current or list_type "
                        "not in ('red', 'black')") == 0
    # Never the subject hash; no table of the city or lending platforms.
    with pytest.raises(errors.InsufficientPrivilege):
        public.execute("select subject_id from marts.fct_admin_penalty")
    with pytest.raises(errors.InsufficientPrivilege):
        public.execute("select count(*) from marts.dim_subject")


def test_the_lending_role_sees_organisations_only(warehouse, conn, login):
    lending = login("credit_lending")
    for kind in ("natural_person", "individual_business"):
        assert _one(conn, "select count(*) from marts.dim_subject where subject_type = %s", (kind,)) > 0, (
            f"the night must hold subjects of type {kind}")
    assert _one(lending, "select count(*) from marts.dim_subject") == _one(
        conn, "select count(*) from marts.dim_subject where subject_type = 'organisation'")
    for table in ("dim_subject", "fct_list_membership"):
        assert _one(lending, f"""select count(*) from marts.{table}
                                 where subject_type is distinct from 'organisation'""") == 0, table
    with pytest.raises(errors.InsufficientPrivilege):
        lending.execute("select legal_representative from marts.dim_subject")
    with pytest.raises(errors.InsufficientPrivilege):
        lending.execute("select count(*) from marts.fct_admin_penalty")


def test_the_check_role_looks_one_subject_up_but_cannot_list(warehouse, conn, login):
    check = login("credit_check")
    uscc, name, jurisdiction = conn.execute(
        """select uscc, subject_name, jurisdiction_code from marts.dim_subject
           where subject_type = 'organisation' and uscc is not null order by uscc limit 1""").fetchone()
    found = check.execute("select uscc, subject_name, jurisdiction_code from access.check_subject(%s)",
                          (uscc,)).fetchall()
    assert found == [(uscc, name, jurisdiction)]
    assert check.execute("select * from access.check_subject('not a code')").fetchall() == []
    assert check.execute("select * from access.check_subject('')").fetchall() == []
    # A natural person by resident ID (hashed inside the function): found, without a name.
    person_id = _one(conn, """select r.id_number from raw.admin_penalty__penalties r
                              join marts.dim_subject d on d.subject_id = credit.subject_hash(r.id_number)
                              where r.subject_category ~ '自然人' and credit.is_valid_citizen_id(r.id_number)
                              limit 1""")
    assert check.execute("select subject_type, subject_name from access.check_subject(%s)",
                         (person_id,)).fetchall() == [("natural_person", None)]
    for query in ("select * from marts.dim_subject", "select * from marts.fct_admin_penalty",
                  "select credit.subject_hash('130102199001011234')"):
        with pytest.raises(errors.InsufficientPrivilege):
            check.execute(query)
    assert not _one(conn, "select has_table_privilege('platform_check', 'marts.dim_subject', 'select')")
    assert not _one(conn, "select has_any_column_privilege('credit_check', 'marts.dim_subject', 'select')")
    assert _one(conn, "select has_function_privilege('credit_check', 'access.check_subject(text)', 'execute')")
    # SECURITY DEFINER with a fixed search_path (no caller's schema can shadow what it calls).
    definer, config = conn.execute(
        "select prosecdef, proconfig from pg_proc where oid = 'access.check_subject(text)'::regprocedure").fetchone()
    assert definer and any(c.startswith("search_path=pg_catalog") for c in config)


# --- what no role reads -------------------------------------------------------------------------


def test_no_platform_role_reads_raw_meta_restricted_or_quarantine(warehouse, conn, login):
    tables = conn.execute(
        """select format('%%I.%%I', n.nspname, c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p', 'f')""",
        (list(CLOSED_SCHEMAS),)).fetchall()
    assert len(tables) > 20
    for role in [*(p.group for p in load_platforms()), *_logins()]:
        for schema in CLOSED_SCHEMAS:
            assert not _one(conn, "select has_schema_privilege(%s, %s, 'usage')", (role, schema)), (role, schema)
            assert not _one(conn, "select has_schema_privilege(%s, %s, 'create')", (role, schema)), (role, schema)
        leaked = [t for (t,) in tables
                  if _one(conn, "select has_any_column_privilege(%s, %s, 'select')", (role, t))]
        assert leaked == [], role
        assert not _one(conn, "select has_function_privilege(%s, 'credit.subject_hash(text)', 'execute')", (role,))
    for role in ("credit_city_130100", "credit_publicity", "credit_lending", "credit_check"):
        reader = login(role)
        for query in ("select count(*) from meta.quarantine", "select count(*) from meta.load_batches",
                      "select count(*) from raw.admin_penalty__penalties",
                      "select count(*) from restricted.subject_hash_key"):
            with pytest.raises(errors.InsufficientPrivilege):
                reader.execute(query)


def test_no_platform_role_reads_a_clear_personal_identifier(warehouse, conn):
    personal = {"legal_representative", "legal_representative_subject_id", "legal_representative_id_masked"}
    granted = conn.execute(
        """select grantee, table_name, column_name from information_schema.column_privileges
           where table_schema = 'marts' and privilege_type = 'SELECT' and grantee like 'platform\\_%%'""").fetchall()
    assert granted, "no column grants to the platform groups"
    assert [g for g in granted if g[2] in personal] == []
    # List entries keep a natural person's name as delivered: nobody of the platforms reads it.
    assert [g for g in granted if (g[1], g[2]) == ("fct_list_membership", "subject_name")] == []
    # Any view a platform role may read must run with the reader's rights (security_invoker), or it
    # would read the marts past their row policies.
    for role in [p.group for p in load_platforms()]:
        views = conn.execute(
            """select c.oid::regclass::text, coalesce('security_invoker=true' = any(c.reloptions), false)
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relkind in ('v', 'm') and n.nspname !~ '^(pg_|information_schema$)'
                 and has_any_column_privilege(%s, c.oid, 'select')""",
            (role,)).fetchall()
        assert [v for v, invoker in views if not invoker] == [], role


def test_nothing_is_granted_to_public(warehouse, conn):
    schemas = [s for (s,) in conn.execute(
        "select nspname from pg_namespace where nspname !~ '^(pg_|information_schema$)'").fetchall()]
    assert {"public", "raw", "meta", "marts", "access", "restricted"} <= set(schemas)
    for schema in schemas:
        assert not _one(conn, "select has_schema_privilege('public', %s, 'usage')", (schema,)), schema
        assert not _one(conn, "select has_schema_privilege('public', %s, 'create')", (schema,)), schema
    public_tables = conn.execute(
        """select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace,
                  aclexplode(c.relacl) a
           where a.grantee = 0 and n.nspname !~ '^(pg_|information_schema$)'""").fetchall()
    assert public_tables == []
    public_functions = conn.execute(
        """select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = 'access' and has_function_privilege('public', p.oid, 'execute')""").fetchall()
    assert public_functions == []


# --- a dbt rebuild ------------------------------------------------------------------------------


def test_policies_and_grants_survive_a_dbt_rebuild(warehouse, conn, login):
    from credit_dw.transform import dbt as transform

    def oid(table):
        return _one(conn, "select %s::regclass::oid", (f"marts.{table}",))

    before = {t: oid(t) for t in ("dim_subject", "fct_admin_penalty")}
    city, public, lending = login("credit_city_130600"), login("credit_publicity"), login("credit_lending")
    transform.run_dbt(["run", "--select", "dim_subject", "fct_admin_penalty", "--vars",
                       f"{{as_of_date: '{AS_OF['day']}'}}"])
    # dbt built new relations, and the platforms see the same as before through them.
    assert all(oid(t) != before[t] for t in before)
    for table in before:
        assert conn.execute("select relrowsecurity, relforcerowsecurity from pg_class where oid = %s::regclass",
                            (f"marts.{table}",)).fetchone() == (True, True), table
    assert _as_city(city) == _city_counts(conn, "130600")
    assert _one(city, "select count(*) from marts.dim_subject where jurisdiction_code <> '130600'") == 0
    assert _one(public, "select count(*) from marts.fct_admin_penalty where not is_public") == 0
    assert _one(public, "select count(*) from marts.fct_admin_penalty") == _one(
        conn, """select count(*) from marts.fct_admin_penalty
                 where is_public and publicity_start_on <= as_of_on and as_of_on < latest_end_on""")
    assert _one(lending, "select count(*) from marts.dim_subject where subject_type = 'natural_person'") == 0
    with pytest.raises(errors.InsufficientPrivilege):
        lending.execute("select legal_representative from marts.dim_subject")
    assert not _one(conn, "select has_table_privilege('public', 'marts.dim_subject', 'select')")
    assert "access.my_jurisdictions()" in _one(
        conn, """select pg_get_expr(polqual, polrelid) from pg_policy
                 where polrelid = 'marts.dim_subject'::regclass and polname = 'platform_city'""")

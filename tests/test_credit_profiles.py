"""Credit profiles, grades and the credit archive end to end [002 #9, #12; 000 §2.10, §2.12; rules §7].

Two simulated nights of every feed in March 2026 (this file's year: January to October 2026).
Night N1 is built as of N1 (`--vars as_of_date`) and snapshotted into `archive.credit_archive`;
then a registered enterprise that had a clean N1 profile gets, on N2, an administrative penalty
and a black-list entry (hand-made files in the feeds' inboxes, through the real file-drop
connector and gates); N2 is built as of N2 and snapshotted. The archive read "as of" N1 must
still give the N1 profile and grade, "as of" N2 the new ones; the enterprise's legal
representative (linked by the ID the registry now sends, as a keyed hash) carries the serious
dishonesty [001 2017 §4.1; 004 §11]; rerunning a night writes nothing to the archive.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import psycopg
import pytest

from credit_dw.catalog import get_source, ingest_order, source_ids
from credit_dw.config import settings
from credit_dw.connectors import http as extract_http
from credit_dw.db import privacy
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest.landing import ensure_raw_table
from credit_dw.simulate import api_server, simulate_all
from credit_dw.transform import dbt as transform

N1 = date(2026, 3, 10)
N2 = date(2026, 3, 11)
DOCUMENT_NUMBER = "冀市监罚〔2026〕档案001号"
LIST_DOCUMENT_NUMBER = "冀发改信用〔2026〕黑001号"
MY_MODELS = ("dim_subject", "int_legal_representatives", "prf_subject_credit_profile", "prf_subject_credit_grade",
             "arc_publicity_records")

AS_OF = """select * from archive.credit_archive
           where subject_id = %s and dbt_valid_from <= %s and (dbt_valid_to > %s or dbt_valid_to is null)"""


def _vars(night: date) -> str:
    return f"{{as_of_date: '{night.isoformat()}'}}"


def _build(night: date) -> None:
    """What the nightly transform does for these marts: everything they read, their tests, the snapshot."""
    transform.run_dbt(["run", "--select", "+prf_subject_credit_grade", "+arc_publicity_records",
                       "--vars", _vars(night)])
    transform.run_dbt(["test", "--select", *MY_MODELS, "credit_grade_weights", "--indirect-selection", "cautious",
                       "--vars", _vars(night)])
    transform.run_dbt(["snapshot", "--select", "credit_archive"])


def _ingest_night(night: date) -> None:
    for source_id in ingest_order():
        outcome = ingest.ingest(source_id, night)
        assert outcome.status == "accepted", (source_id, outcome)


def _csv(source_id: str, records: list[dict]) -> bytes:
    """A department file with the template's Chinese headers (UTF-8), as the file-drop feeds take it."""
    fields = get_source(source_id).fields
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields.values())
    for record in records:
        writer.writerow([record.get(f, "") for f in fields])
    return buffer.getvalue().encode("utf-8")


def _row(conn, sql: str, params: tuple) -> dict | None:
    cur = conn.execute(sql, params)
    found = cur.fetchone()
    return None if found is None else dict(zip([c.name for c in cur.description], found, strict=True))


def _archive_fingerprint(conn) -> tuple[int, str]:
    return conn.execute(
        """select count(*), md5(coalesce(string_agg(a::text, '|' order by subject_id, dbt_valid_from), ''))
           from archive.credit_archive a""").fetchone()


@pytest.fixture(scope="module")
def nights(warehouse_url):
    """N1 and N2 ingested and built as of their night, with the N1 state of the chosen subjects kept."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        seeded = conn.execute("select to_regclass('reference.credit_grade_weights') is not null").fetchone()[0]
    if not seeded:
        transform.seed_reference()
    for source_id in source_ids():
        ensure_raw_table(get_source(source_id))

    with pytest.MonkeyPatch.context() as mp:
        for source_id in source_ids():  # the HTTP feeds read this module's simulated API
            mp.delenv(extract_http.env_name(source_id), raising=False)
        api_server.url_file().unlink(missing_ok=True)

        simulate_all(N1)
        _ingest_night(N1)
        _build(N1)

        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            # A registered enterprise of N1, clean enough that N2's records change its grade, whose
            # registry record names its legal representative by a valid ID.
            chosen = conn.execute(
                """select d.subject_id, d.subject_name, d.legal_representative_subject_id
                   from marts.dim_subject d
                   join marts.prf_subject_credit_profile p on p.subject_id = d.subject_id
                   join marts.prf_subject_credit_grade g on g.subject_id = d.subject_id
                   join marts.prf_subject_credit_profile rep on rep.subject_id = d.legal_representative_subject_id
                   where d.last_batch_id = %s and d.subject_type = 'organisation' and not d.has_code_conflict
                     and d.subject_id like '91%%' and d.is_active
                     and p.penalty_count = 0 and p.current_list_membership_count = 0 and not p.is_court_debtor
                     and g.credit_grade in ('A', 'B') and not rep.linked_serious_dishonesty
                   order by d.subject_id limit 1""",
                (f"market_registry/{N1.isoformat()}",),
            ).fetchone()
            assert chosen is not None, "no clean registered enterprise on N1"
            uscc, name, person = chosen
            kept = {
                "profile": _row(conn, "select * from marts.prf_subject_credit_profile where subject_id = %s", (uscc,)),
                "grade": _row(conn, "select * from marts.prf_subject_credit_grade where subject_id = %s", (uscc,)),
                "person_profile": _row(conn, "select * from marts.prf_subject_credit_profile where subject_id = %s",
                                       (person,)),
            }

        simulate_all(N2)
        decided = N2 - timedelta(days=1)
        penalty_inbox = settings.inbox_dir("admin_penalty", N2.isoformat())
        penalty_inbox.mkdir(parents=True, exist_ok=True)
        (penalty_inbox / "hbsamr_credit_profile_test.csv").write_bytes(_csv("admin_penalty", [{
            "decision_document_number": DOCUMENT_NUMBER, "subject_name": name, "subject_category": "法人及非法人组织",
            "uscc": uscc, "penalty_category": "罚款", "fine_amount_10k_yuan": "2",
            "violation_type": "价格违法行为", "penalty_basis": "《中华人民共和国价格法》第三十九条",
            "penalty_content": "罚款二万元", "decision_date": decided.isoformat(),
            "authority_name": "河北省市场监督管理局", "source_department": "河北省市场监督管理局",
        }]))
        list_inbox = settings.inbox_dir("credit_lists", N2.isoformat())
        list_inbox.mkdir(parents=True, exist_ok=True)
        (list_inbox / "hbdrc_credit_profile_test.csv").write_bytes(_csv("credit_lists", [{
            "list_type": "失信黑名单", "list_name": "价格领域严重失信主体名单", "subject_name": name, "uscc": uscc,
            "listing_reason": "价格违法行为情节严重", "listing_basis": "《价格领域严重失信主体名单管理办法》",
            "listing_document_number": LIST_DOCUMENT_NUMBER, "listed_on": N2.isoformat(),
            "deciding_department": "河北省发展和改革委员会",
        }]))
        _ingest_night(N2)
        _build(N2)

    key = privacy.hash_key()
    with psycopg.connect(settings.libpq_url(settings.source_url("market_registry"))) as source:
        person_id = source.execute(
            """select fddbr_zjhm from registry.t_sczt_djxx
               where upper(regexp_replace(normalize(tyshxydm, NFKC), '\s', '', 'g')) = %s
               order by gxsj desc limit 1""",
            (uscc,)).fetchone()[0]
    return {"uscc": uscc, "person": person, "person_id": person_id, "key": key, **kept}


def test_every_subject_has_one_profile_and_one_grade(nights, conn):
    counts = conn.execute(
        """select (select count(*) from marts.dim_subject),
                  (select count(*) from marts.prf_subject_credit_profile),
                  (select count(*) from marts.prf_subject_credit_grade),
                  (select count(*) from marts.prf_subject_credit_profile p
                   join marts.prf_subject_credit_grade g using (subject_id)),
                  (select count(*) from intermediate.int_subjects_resolved r
                   where not exists (select from marts.dim_subject d where d.subject_id = r.subject_id))""").fetchone()
    assert counts[0] > 0 and counts[0] == counts[1] == counts[2] == counts[3]
    assert counts[4] == 0, "a resolved subject is missing from dim_subject"
    assert conn.execute(
        """select count(*) from marts.prf_subject_credit_profile where as_of_on <> %s""", (N2,)).fetchone()[0] == 0
    # Natural persons are in the dimension by hash and masked ID only.
    named = conn.execute(
        "select count(*) from marts.dim_subject where subject_type = 'natural_person' and subject_name is not null"
    ).fetchone()[0]
    assert named == 0


def test_the_registry_links_the_enterprise_to_its_legal_representative_by_keyed_hash(nights, conn):
    person_id = nights["person_id"]
    assert nights["person"] == privacy.subject_hash(person_id, nights["key"])
    link = conn.execute(
        """select person_citizen_id_masked, representative_role, valid_from_on, is_current
           from intermediate.int_legal_representatives where enterprise_subject_id = %s""",
        (nights["uscc"],)).fetchall()
    assert link == [(person_id[:6] + "********" + person_id[-4:], "legal_representative", N1, True)]
    person = conn.execute(
        """select subject_type, subject_name, citizen_id_masked, is_registered
           from marts.dim_subject where subject_id = %s""",
        (nights["person"],)).fetchone()
    assert person == ("natural_person", None, person_id[:6] + "********" + person_id[-4:], False)
    # The clear ID is nowhere in the marts or the archive.
    columns = conn.execute(
        """select table_schema, table_name, column_name from information_schema.columns
           where table_schema in ('marts', 'archive') and data_type = 'text'""").fetchall()
    leaks = [f"{s}.{t}.{c}" for s, t, c in columns
             if conn.execute(f'select exists (select from "{s}"."{t}" where "{c}" = %s)', (person_id,)).fetchone()[0]]
    assert leaks == []


def test_the_new_penalty_and_listing_change_the_profile_and_grade(nights, conn):
    before, after = nights["profile"], _row(
        conn, "select * from marts.prf_subject_credit_profile where subject_id = %s", (nights["uscc"],))
    assert (before["penalty_count"], before["public_penalty_count"], before["is_on_black_list"]) == (0, 0, False)
    assert (after["penalty_count"], after["public_penalty_count"], after["is_on_black_list"]) == (1, 1, True)
    assert after["latest_penalty_on"] == N2 - timedelta(days=1)
    assert after["last_bad_record_on"] == N2 and after["has_dishonesty_in_force"] is True
    assert after["is_green_channel_eligible"] is False
    grade = _row(conn, "select * from marts.prf_subject_credit_grade where subject_id = %s", (nights["uscc"],))
    assert grade["credit_grade"] == "D" and grade["inspection_frequency"] == "higher"
    assert grade["cap_rule_ids"] == "cap_black_list" and grade["top_negative_rule_id"] == "black_list"
    assert "black_list -60" in grade["score_factors"] and "public_penalty -10" in grade["score_factors"]
    # The two records take 70 points at least (more if the simulated feeds brought others on N2).
    assert grade["negative_points"] <= nights["grade"]["negative_points"] - 70


def test_the_legal_representative_carries_the_enterprises_serious_dishonesty(nights, conn):
    assert nights["person_profile"]["linked_serious_dishonesty"] is False
    person = _row(conn, "select * from marts.prf_subject_credit_profile where subject_id = %s", (nights["person"],))
    assert person["linked_serious_dishonesty"] is True
    assert person["linked_dishonest_enterprise_ids"] == nights["uscc"]
    assert person["is_green_channel_eligible"] is False
    grade = _row(conn, "select * from marts.prf_subject_credit_grade where subject_id = %s", (nights["person"],))
    assert "linked_serious_dishonesty -30" in grade["score_factors"]


def test_the_archive_read_as_of_a_night_gives_the_profile_of_that_night(nights, conn):
    uscc = nights["uscc"]
    versions = conn.execute(
        """select dbt_valid_from::date, dbt_valid_to::date, penalty_count, credit_grade
           from archive.credit_archive where subject_id = %s order by dbt_valid_from""", (uscc,)).fetchall()
    assert versions == [(N1, N2, 0, nights["grade"]["credit_grade"]), (N2, None, 1, "D")]

    as_of_n1 = _row(conn, AS_OF, (uscc, N1, N1))
    as_of_n2 = _row(conn, AS_OF, (uscc, N2, N2))
    # Everything the N1 build said about the subject, exactly.
    for column, value in {**nights["profile"], **nights["grade"]}.items():
        assert as_of_n1[column] == value, column
    assert as_of_n1["as_of_on"] == N1 and as_of_n2["as_of_on"] == N2
    assert (as_of_n2["public_penalty_count"], as_of_n2["is_on_black_list"], as_of_n2["credit_grade"]) == (1, True, "D")
    # Later in the month, with no new night built, the N2 version still holds.
    month_end = date(2026, 3, 31)
    assert _row(conn, AS_OF, (uscc, month_end, month_end))["dbt_valid_from"] == as_of_n2["dbt_valid_from"]
    assert _row(conn, AS_OF, (uscc, N1 - timedelta(days=1), N1 - timedelta(days=1))) is None

    person = nights["person"]
    assert _row(conn, AS_OF, (person, N1, N1))["linked_serious_dishonesty"] is False
    assert _row(conn, AS_OF, (person, N2, N2))["linked_serious_dishonesty"] is True


def test_a_subject_nothing_happened_to_keeps_one_version(nights, conn):
    # Subjects of N1 whose N2 profile is the same have one version, valid from N1.
    unchanged = conn.execute(
        """select count(*) filter (where versions = 1), count(*) from (
               select subject_id, count(*) as versions, min(dbt_valid_from) as since
               from archive.credit_archive group by subject_id) v
           where since = %s""", (N1,)).fetchone()
    assert 0 < unchanged[0] < unchanged[1]
    assert conn.execute(
        "select count(*) from archive.credit_archive where dbt_valid_from > %s", (N2,)).fetchone()[0] == 0


def test_rerunning_a_night_changes_nothing_in_the_archive(nights, conn):
    before = _archive_fingerprint(conn)
    _build(N2)
    assert _archive_fingerprint(conn) == before
    # Rebuilding the earlier night after the later one (a backfill) does not rewrite history either.
    _build(N1)
    assert _archive_fingerprint(conn) == before


OBJECTION_ROWS_FROM = 900_101  # _row_number of the hand-made objection rows (removed again)
LIFECYCLE_MODELS = ("fct_admin_penalty", "fct_list_membership", "fct_court_debtor", "prf_subject_credit_profile",
                    "prf_subject_credit_grade")


def _object_to(conn, uscc: str, status: str, outcome: str | None) -> None:
    """Objections (异议) from the enterprise against N2's penalty and its black listing, in state
    `status` (03 核查中, 04 已办结 with `outcome`), landed into N2's accepted objections batch."""
    batch_id = conn.execute(
        """select batch_id from meta.load_batches
           where source_id = 'objections' and logical_date = %s and status = 'accepted'""", (N2,)).fetchone()[0]
    conn.execute("delete from raw.objections__applications where _row_number >= %s", (OBJECTION_ROWS_FROM,))
    closed = N2.isoformat() if status == "04" else None
    rows = [(OBJECTION_ROWS_FROM, "YY-PROFILE-1", "行政处罚", DOCUMENT_NUMBER),
            (OBJECTION_ROWS_FROM + 1, "YY-PROFILE-2", "严重失信主体名单", LIST_DOCUMENT_NUMBER)]
    with conn.cursor() as cur:
        cur.executemany(
            """insert into raw.objections__applications
                   (_batch_id, _source_id, _row_number, _source_file, _source_row, application_id,
                    application_type_code, uscc, subject_name, applied_on, record_category, record_id,
                    objection_kind_code, status_code, closed_on, outcome, updated_at)
               values (%s, 'objections', %s, 'test_credit_profiles', 1, %s, '1', %s, '测试', %s, %s, %s,
                       '01', %s, %s, %s, '2026-03-11T15:00:00+08:00')""",
            [(batch_id, n, app, uscc, N2.isoformat(), category, record, status, closed, outcome)
             for n, app, category, record in rows])


def _state(conn, uscc: str) -> dict:
    transform.run_dbt(["run", "--select", *LIFECYCLE_MODELS, "--vars", _vars(N2)])
    return {
        "penalty": conn.execute(
            """select publicity_status, is_public, national_status_code, punishment_state
               from marts.fct_admin_penalty where decision_document_number = %s""", (DOCUMENT_NUMBER,)).fetchone(),
        "listing": conn.execute(
            """select is_current, punishment_state from marts.fct_list_membership
               where listing_document_number = %s""", (LIST_DOCUMENT_NUMBER,)).fetchone(),
        "profile": _row(conn, "select * from marts.prf_subject_credit_profile where subject_id = %s", (uscc,)),
        "grade": _row(conn, "select * from marts.prf_subject_credit_grade where subject_id = %s", (uscc,)),
    }


def test_an_objection_suspends_punishment_never_publicity(nights, warehouse_url):
    """[000 §2.12; 001 2017 §5.3; 001 2018 plan §4.9] Under verification, N2's penalty stays public
    with national status 2 (异议) and the black listing stays current, but their punishment is
    suspended: no black-list cap, no points. A rejected objection (维持) restores the punishment;
    an upheld one (撤销) revokes both records that night. Runs last: it rebuilds the lifecycle
    marts as of N2 and restores them without the hand-made objections."""
    uscc = nights["uscc"]
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        try:
            _object_to(conn, uscc, "03", None)
            verifying = _state(conn, uscc)
            _object_to(conn, uscc, "04", "维持")
            rejected = _state(conn, uscc)
            _object_to(conn, uscc, "04", "撤销")
            upheld = _state(conn, uscc)
        finally:
            conn.execute("delete from raw.objections__applications where _row_number >= %s", (OBJECTION_ROWS_FROM,))
            transform.run_dbt(["run", "--select", *LIFECYCLE_MODELS, "--vars", _vars(N2)])

    assert verifying["penalty"] == ("public_under_objection", True, "2", "suspended_by_objection")
    assert verifying["listing"] == (True, "suspended_by_objection")
    profile, grade = verifying["profile"], verifying["grade"]
    assert (profile["is_on_black_list"], profile["is_black_list_punishment_in_force"]) == (True, False)
    assert (profile["public_penalty_count"], profile["penalty_in_force_count"], profile["suspended_penalty_count"],
            profile["suspended_listing_count"]) == (1, 0, 1, 1)
    assert grade["cap_rule_ids"] is None or "cap_black_list" not in grade["cap_rule_ids"]
    assert "black_list" not in grade["score_factors"] and "public_penalty" not in grade["score_factors"]

    assert rejected["penalty"] == ("public", True, "0", "in_force")
    assert rejected["listing"] == (True, "in_force")
    assert rejected["grade"]["credit_grade"] == "D" and rejected["grade"]["cap_rule_ids"] == "cap_black_list"

    assert upheld["penalty"] == ("revoked", False, "1", "ended_by_revocation")
    assert upheld["listing"] == (False, "ended_by_revocation")
    assert (upheld["profile"]["is_on_black_list"], upheld["profile"]["public_penalty_count"],
            upheld["profile"]["revoked_penalty_count"]) == (False, 0, 1)
    assert "black_list" not in upheld["grade"]["score_factors"]

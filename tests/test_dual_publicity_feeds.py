"""The two dual-publicity feeds (行政许可 `admin_licence`, 行政处罚 `admin_penalty`) end to end:
the simulator's department files → file-drop connector → gate → staging, with every injected
defect held back by its own check and counts conserved.

Runs against the embedded PostgreSQL; logical dates July-December 2024 belong to this file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from datetime import date, timedelta

import pytest

from credit_dw.catalog import get_source
from credit_dw.config import settings
from credit_dw.connectors.files.headers import aliases_path
from credit_dw.connectors.files.receipts import file_receipts
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import admin_penalty, identities, simulate_market_registry
from credit_dw.simulate import dual_publicity as dp
from credit_dw.transform import dbt as transform

PENALTY_NIGHT = date(2024, 7, 9)
REGISTRY_NIGHT, REGISTERED_CHECK_NIGHT = date(2024, 8, 19), date(2024, 8, 20)
LICENCE_NIGHT = date(2024, 7, 16)
HANDMADE_NIGHT = date(2024, 8, 6)

# What each injected defect must trip (simulator kind -> gate check); duplicates hold both rows.
PENALTY_CHECKS = {
    "bad_check_character": "uscc_check_character",
    "missing_document_number": "document_number_required",
    "negative_fine": "fine_amount_valid",
    "future_decision": "decision_date_not_after_night",
    "duplicate_document_number": "document_number_unique",
}
LICENCE_CHECKS = {**PENALTY_CHECKS, "validity_reversed": "validity_order"}
del LICENCE_CHECKS["negative_fine"]


@pytest.fixture(scope="module")
def penalty_night(warehouse_url):
    summary = admin_penalty.simulate(PENALTY_NIGHT, scale=3)
    return summary, ingest.ingest("admin_penalty", PENALTY_NIGHT)


@pytest.fixture(scope="module")
def licence_night(warehouse_url):
    day = dp.write_day("admin_licence", LICENCE_NIGHT, scale=2, defect_share=0.1)
    return day, ingest.ingest("admin_licence", LICENCE_NIGHT)


def _quarantined_by_check(conn, batch_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "select check_name, count(*) from meta.row_issues where batch_id = %s and severity = 'critical' "
        "group by check_name", (batch_id,),
    ).fetchall())


def _warned_checks(conn, batch_id: str) -> set[str]:
    return {name for (name,) in conn.execute(
        "select distinct check_name from meta.row_issues where batch_id = %s and severity = 'warning'", (batch_id,))}


def _expected_quarantine(defects: dict[str, int], checks: dict[str, str]) -> dict[str, int]:
    return {check: defects[kind] * (2 if kind == "duplicate_document_number" else 1)
            for kind, check in checks.items() if defects[kind]}


def test_the_simulated_night_is_the_department_mix(penalty_night, conn):
    summary, outcome = penalty_night
    receipts = file_receipts(outcome.batch_id)
    assert all(r["outcome"] == "landed" for r in receipts)
    assert {r["encoding"] for r in receipts} == {"gb18030", "utf-8", "utf-8-sig", None}
    assert {r["file_format"] for r in receipts} == {"csv", "xlsx"}
    assert {r["file_name"].split("_")[0] for r in receipts} == {d.code for d in dp.DEPARTMENTS}
    assert sum(r["file_name"].startswith("sjzsamr_") for r in receipts) == 2  # several files a day
    inbox = settings.inbox_dir("admin_penalty", PENALTY_NIGHT.isoformat())
    legacy = inbox / f"hbzjt_xzcf_{PENALTY_NIGHT:%Y%m%d}.csv"
    assert legacy.read_bytes().startswith(b"\xef\xbb\xbfCF_XDR_MC,")
    assert sum(r["rows"] for r in receipts) == summary.rows_written == outcome.rows_received
    extra = conn.execute(
        """select count(*) filter (where _extra ? '经办人'), count(*) from raw.admin_penalty__penalties
           where _batch_id = %s and _source_file like 'hbjtt\\_%%'""", (outcome.batch_id,)
    ).fetchone()
    assert extra[0] == extra[1] > 0
    # Some decisions arrive after the 7-working-day deadline (the timeliness check's business).
    assert summary.defects[dp.LATE_KIND] > 0


def test_each_injected_penalty_defect_is_quarantined_by_its_check(penalty_night, conn):
    summary, outcome = penalty_night
    assert all(summary.defects[kind] > 0 for kind in PENALTY_CHECKS)
    assert _quarantined_by_check(conn, outcome.batch_id) == _expected_quarantine(summary.defects, PENALTY_CHECKS)
    assert outcome.status == "accepted"
    assert outcome.rows_received == summary.rows_written == outcome.rows_accepted + outcome.rows_quarantined
    assert outcome.rows_quarantined == sum(_expected_quarantine(summary.defects, PENALTY_CHECKS).values())
    assert _warned_checks(conn, outcome.batch_id) <= {"uscc_registered"}  # which codes: see the registry test


def test_each_injected_licence_defect_is_quarantined_by_its_check(licence_night, conn):
    day, outcome = licence_night
    defects = day.summary.defects
    assert all(defects[kind] > 0 for kind in LICENCE_CHECKS)
    assert _quarantined_by_check(conn, outcome.batch_id) == _expected_quarantine(defects, LICENCE_CHECKS)
    assert outcome.rows_received == len(day.records) == outcome.rows_accepted + outcome.rows_quarantined
    assert outcome.status == "accepted"
    assert _warned_checks(conn, outcome.batch_id) <= {"uscc_registered"}


def test_the_simulator_is_deterministic_and_rerunnable(tmp_path):
    night = date(2024, 9, 3)
    first = dp.write_day("admin_licence", night, inbox=tmp_path / "a")
    again = dp.write_day("admin_licence", night, inbox=tmp_path / "a")
    elsewhere = dp.write_day("admin_licence", night, inbox=tmp_path / "b")
    reseeded = dp.write_day("admin_licence", night, inbox=tmp_path / "c", seed=7)

    def digests(files):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    assert digests(first.files) == digests(again.files) == digests(elsewhere.files)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in first.files)
    assert digests(reseeded.files) != digests(first.files)
    assert any(p.suffix == ".xlsx" for p in first.files)
    # Decisions are dated 1-12 working days before the night (or after it, as a defect).
    decided = [r["decision_date"] for r in first.records]
    regular = [d for d in decided if d <= night]
    assert min(regular) >= dp.working_days_before(night, 12) and max(regular) < night
    assert len(decided) - len(regular) == first.summary.defects["future_decision"]


def _handmade_csv(night: date) -> tuple[bytes, dict[int, set[str]]]:
    """A GBK file of 10 rows, and per data row the critical checks it must fail."""
    rng = random.Random("handmade")
    divisions = identities.registration_divisions()
    person_id = dp.citizen_id(rng, divisions)
    wrong_id = person_id[:-1] + ("0" if person_id[-1] != "0" else "1")
    org = identities.make_uscc(rng, "130102")
    base = {"subject_category": "法人及非法人组织", "penalty_category": "罚款", "fine_amount_10k_yuan": "1",
            "decision_date": (night - timedelta(days=1)).isoformat(), "authority_name": "石家庄市市场监督管理局"}
    rows = [  # (expected failing critical checks, record)
        (set(), {"subject_name": "甲公司", "uscc": org, "decision_date": night.isoformat()}),
        ({"decision_date_not_after_night"}, {"subject_name": "乙公司", "uscc": identities.make_uscc(rng, "130104"),
                                             "decision_date": (night + timedelta(days=1)).isoformat()}),
        (set(), {"subject_name": "张伟", "subject_category": "自然人", "id_type": "身份证", "id_number": person_id}),
        ({"citizen_id_valid"}, {"subject_name": "李娜", "subject_category": "自然人", "id_number": wrong_id}),
        ({"subject_category_known"}, {"subject_name": "丙公司", "subject_category": "企业法人",
                                      "uscc": identities.make_uscc(rng, "130105")}),
        ({"fine_amount_valid"}, {"subject_name": "丁公司", "uscc": identities.make_uscc(rng, "130108"),
                                 "fine_amount_10k_yuan": "五千元"}),
        (set(), {"subject_name": "戊公司", "uscc": " " + identities.to_fullwidth(identities.make_uscc(rng, "130109"))}),
        ({"decision_date_valid"}, {"subject_name": "己公司", "uscc": identities.make_uscc(rng, "130110"),
                                   "decision_date": "2024/08/01"}),
        ({"uscc_required"}, {"subject_name": "庚公司", "uscc": ""}),
        (set(), {"subject_name": "正定县张三便利店", "subject_category": "个体工商户",
                 "uscc": identities.make_uscc(rng, "130123", kind="2")}),
    ]
    fields = get_source("admin_penalty").fields
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields.values())
    for i, (_, record) in enumerate(rows, 1):
        full = {**base, "decision_document_number": f"石市监罚〔2024〕手工{i:03d}号", **record}
        writer.writerow([full.get(f, "") for f in fields])
    return buffer.getvalue().encode("gbk"), {i: checks for i, (checks, _) in enumerate(rows, 1)}


def test_dates_identities_and_amounts_are_checked_row_by_row(warehouse_url, conn):
    inbox = settings.inbox_dir("admin_penalty", HANDMADE_NIGHT.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    data, expected = _handmade_csv(HANDMADE_NIGHT)
    (inbox / "sjzsamr_handmade.csv").write_bytes(data)

    outcome = ingest.ingest("admin_penalty", HANDMADE_NIGHT)

    failing: dict[int, set[str]] = {}
    for row, check in conn.execute(
        """select r._source_row, i.check_name from meta.row_issues i
           join raw.admin_penalty__penalties r on r._batch_id = i.batch_id and r._row_number = i.row_number
           where i.batch_id = %s and i.severity = 'critical' and i.check_name <> 'batch_rejected'""",
        (outcome.batch_id,),
    ).fetchall():
        failing.setdefault(row, set()).add(check)
    assert failing == {row: checks for row, checks in expected.items() if checks}
    # 5 of 10 rows fail: over the 20 % threshold, so the department gets the whole file back.
    assert outcome.status == "rejected" and outcome.rows_received == 10


def test_staging_holds_accepted_rows_typed_and_normalised(penalty_night, licence_night, conn):
    transform.run_dbt(["build", "--select", "field_aliases", "stg_admin_licence__licences",
                       "stg_admin_penalty__penalties"])
    for (_, outcome), view in ((penalty_night, "stg_admin_penalty__penalties"),
                               (licence_night, "stg_admin_licence__licences")):
        staged, nights, leaked = conn.execute(
            f"""select count(*), array_agg(distinct reported_on),
                       count(*) filter (where exists (select 1 from meta.quarantine q
                           where q.batch_id = s.batch_id and q.row_number = s.source_row_number))
                from staging.{view} s where batch_id = %s""", (outcome.batch_id,),
        ).fetchone()
        assert staged == outcome.rows_accepted > 0
        assert leaked == 0
        assert len(nights) == 1
    types = dict(conn.execute(
        """select column_name, data_type from information_schema.columns
           where table_schema = 'staging' and table_name = 'stg_admin_penalty__penalties'"""
    ).fetchall())
    assert (types["decision_date"], types["fine_amount_10k_yuan"], types["reported_on"]) == (
        "date", "numeric", "date")
    late, subject_types = conn.execute(
        """select count(*) filter (where decision_date < reported_on - 9), array_agg(distinct subject_type)
           from staging.stg_admin_penalty__penalties where batch_id = %s""", (penalty_night[1].batch_id,),
    ).fetchone()
    assert late > 0
    assert set(subject_types) <= {"organisation", "individual_business", "natural_person"}
    aliases = conn.execute("select count(*) from reference.field_aliases").fetchone()[0]
    with aliases_path().open(encoding="utf-8") as fh:
        assert aliases == sum(1 for _ in fh) - 1


def test_codes_unknown_to_the_registry_are_warned_not_quarantined(warehouse_url, conn):
    """[issue 4] The dual-publicity gates warn when an organisation's code of market-regulation form
    (9…) is not in the registry's accepted batches (meta.registered_codes); other registering
    authorities' codes (1… 机构编制) and natural persons are not the registry's to know."""
    transform.run_dbt(["seed", "--select", "hebei_divisions"])  # the registry gate checks divisions
    simulate_market_registry(settings.source_url("market_registry"), REGISTRY_NIGHT, scale=1)
    registry = ingest.ingest("market_registry", REGISTRY_NIGHT)
    assert registry.status == "accepted"
    registered_rows = conn.execute(
        "select uscc from meta.registered_codes where batch_id = %s order by uscc", (registry.batch_id,)
    ).fetchall()
    expected_codes = conn.execute(
        """select distinct credit.normalize_code(r.uscc) from raw.market_registry__subjects r
           where r._batch_id = %s and not exists (select 1 from meta.quarantine q
                 where q.batch_id = r._batch_id and q.row_number = r._row_number)
           order by 1""", (registry.batch_id,),
    ).fetchall()
    assert registered_rows == expected_codes and len(registered_rows) > 0
    quarantined_code = conn.execute(
        """select credit.normalize_code(r.uscc) from raw.market_registry__subjects r
           join meta.quarantine q on q.batch_id = r._batch_id and q.row_number = r._row_number
           where r._batch_id = %s and credit.is_valid_uscc(credit.normalize_code(r.uscc))
             and not exists (select 1 from meta.registered_codes c where c.uscc = credit.normalize_code(r.uscc))
           limit 1""", (registry.batch_id,),
    ).fetchone()

    registered = registered_rows[0][0]
    rng = random.Random("registered-codes")
    stranger = identities.make_uscc(rng, "130102")                  # valid, 9…, never registered
    public_body = identities.make_uscc(rng, "130102", department="1", kind="1")  # 机构编制 registers it
    rows = [("登记在册公司", registered), ("未登记公司", stranger), ("某市某局", public_body),
            ("全角登记公司", " " + identities.to_fullwidth(registered))]
    if quarantined_code:  # a registry row held back in quarantine does not register its code
        rows.append(("隔离登记公司", quarantined_code[0]))
    fields = get_source("admin_penalty").fields
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields.values())
    for i, (name, code) in enumerate(rows, 1):
        record = {"subject_name": name, "uscc": code, "subject_category": "法人及非法人组织",
                  "penalty_category": "警告", "decision_date": REGISTRY_NIGHT.isoformat(),
                  "authority_name": "石家庄市市场监督管理局",
                  "decision_document_number": f"石市监罚〔2024〕登记{i:03d}号"}
        writer.writerow([record.get(f, "") for f in fields])
    writer.writerow([{"subject_name": "王芳", "subject_category": "自然人", "id_type": "身份证",
                      "id_number": dp.citizen_id(rng, identities.registration_divisions()),
                      "penalty_category": "警告", "decision_date": REGISTRY_NIGHT.isoformat(),
                      "authority_name": "石家庄市市场监督管理局",
                      "decision_document_number": "石市监罚〔2024〕登记099号"}.get(f, "") for f in fields])
    inbox = settings.inbox_dir("admin_penalty", REGISTERED_CHECK_NIGHT.isoformat())
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "sjzsamr_registered.csv").write_bytes(buffer.getvalue().encode("utf-8"))

    outcome = ingest.ingest("admin_penalty", REGISTERED_CHECK_NIGHT)

    warned = conn.execute(
        """select r.subject_name, i.check_name, i.field from meta.row_issues i
           join raw.admin_penalty__penalties r on r._batch_id = i.batch_id and r._row_number = i.row_number
           where i.batch_id = %s and i.severity = 'warning' order by r._source_row""", (outcome.batch_id,),
    ).fetchall()
    expected = [("未登记公司", "uscc_registered", "uscc")]
    if quarantined_code:
        expected.append(("隔离登记公司", "uscc_registered", "uscc"))
    assert warned == expected
    assert outcome.status == "accepted" and outcome.rows_quarantined == 0  # a warning never holds a row back
    assert outcome.rows_warned == len(expected) and outcome.rows_received == len(rows) + 1

    # Revalidating the registry night keeps exactly its accepted codes; rejecting it would withdraw them.
    ingest.validate("market_registry", REGISTRY_NIGHT)
    assert conn.execute("select uscc from meta.registered_codes where batch_id = %s order by uscc",
                        (registry.batch_id,)).fetchall() == registered_rows


def test_a_warehouse_older_than_the_registered_codes_gets_them_once(conn):
    """Bootstrap fills an empty meta.registered_codes from the accepted registry batches with the
    gate's own insert (warehouses validated before the table existed), and leaves a filled one alone.
    Run in a transaction that is rolled back: the session's other modules keep their rows."""
    from credit_dw.db import registered_codes
    from credit_dw.db.connect import connect

    before = conn.execute("select uscc, batch_id, source_id from meta.registered_codes order by 1, 2").fetchall()
    accepted = conn.execute("select count(*) from meta.load_batches where source_id = 'market_registry' "
                            "and status = 'accepted'").fetchone()[0]
    assert before and accepted
    with connect() as tx:
        assert registered_codes.backfill_registered_codes(tx) == 0  # not empty: nothing to do
        tx.execute("delete from meta.registered_codes")
        assert registered_codes.backfill_registered_codes(tx) == accepted
        assert tx.execute("select uscc, batch_id, source_id from meta.registered_codes order by 1, 2"
                          ).fetchall() == before
        tx.rollback()

"""The utility feeds (水电气: `utility_water`, `utility_power`, `utility_gas`), the customs feed
(`customs_certified`) and the departments seed, end to end: the simulators' company files →
file-drop connector → gate → staging, with every injected defect caught by its own check, counts
conserved, GBK files landed intact, and natural persons' data used only with their authorisation.

Runs against the embedded PostgreSQL; logical dates of 2018 belong to this file.
"""

from __future__ import annotations

import csv
import hashlib
import random
from datetime import date

import pytest
from stdnum.cn import uscc as stdnum_uscc

from credit_dw.catalog import get_source, load_catalog, source_ids
from credit_dw.config import settings
from credit_dw.connectors.files.receipts import file_receipts
from credit_dw.ingest import pipeline as ingest
from credit_dw.simulate import credit_lists, identities, utilities, utility_gas, utility_power, utility_water
from credit_dw.simulate import customs_certified as cc
from credit_dw.simulate import dual_publicity as dp
from credit_dw.simulate.market_registry import simulate_market_registry
from credit_dw.transform import dbt as transform

BILL_NIGHT = date(2018, 3, 5)  # the 5th: February's bills
QUIET_NIGHT = date(2018, 3, 6)
CUSTOMS_NIGHT = date(2018, 4, 1)
REGISTRY_NIGHT = date(2018, 3, 1)
UTILITIES = {"utility_water": utility_water, "utility_power": utility_power, "utility_gas": utility_gas}

# What each injected defect must trip (simulator kind -> gate check).
UTILITY_CRITICAL = {
    "bad_check_character": "uscc_check_character",
    "negative_amount": "amounts_non_negative",
    "missing_account": "account_number_required",
    "bad_billing_period": "billing_period_format",
}
UTILITY_WARNING = {"paid_exceeds_due_with_arrears": "arrears_consistent"}
CUSTOMS_CRITICAL = {
    "bad_check_character": "uscc_check_character",
    "bad_customs_code": "customs_code_valid",
    "revoked_without_date": "revoked_on_given",
    "revocation_before_certification": "revocation_after_certification",
    "not_advanced_certification": "certification_type_advanced",
}


@pytest.fixture(scope="module")
def registry(warehouse_url):
    """Registry subjects up to the bill night, so the utilities' organisations are real enterprises."""
    simulate_market_registry(settings.source_url("market_registry"), REGISTRY_NIGHT)
    return REGISTRY_NIGHT


@pytest.fixture(scope="module")
def bill_nights(registry):
    """Each utility's delivery night (the catalog's simulator, scale 1) and its gate outcome."""
    return {sid: (module.simulate(BILL_NIGHT), ingest.ingest(sid, BILL_NIGHT)) for sid, module in UTILITIES.items()}


@pytest.fixture(scope="module")
def customs_night(registry):
    delivery = cc.write_delivery(CUSTOMS_NIGHT, scale=4, defect_share=0.1)
    return delivery, ingest.ingest("customs_certified", CUSTOMS_NIGHT)


@pytest.fixture(scope="module")
def staged(bill_nights, customs_night):
    # cautious: only the tests whose every parent is built here (not the marts' tests on the divisions).
    transform.run_dbt(["build", "--indirect-selection", "cautious", "--select", "hebei_divisions", "departments",
                       "+staging.utility_water", "+staging.utility_power",
                       "+staging.utility_gas", "+staging.customs_certified"])
    return bill_nights, customs_night


def _issues_by_check(conn, batch_id: str, severity: str) -> dict[str, int]:
    return dict(conn.execute(
        "select check_name, count(*) from meta.row_issues where batch_id = %s and severity = %s group by 1",
        (batch_id, severity),
    ).fetchall())


@pytest.mark.parametrize("source_id", sorted(UTILITIES))
def test_each_company_file_of_the_bill_night_lands(bill_nights, source_id):
    summary, outcome = bill_nights[source_id]
    receipts = file_receipts(outcome.batch_id)
    companies = utilities.COMPANIES[source_id]
    assert [r["file_name"] for r in receipts] == sorted(
        utilities.file_name(source_id, c, BILL_NIGHT) for c in companies)
    assert all(r["outcome"] == "landed" for r in receipts)
    assert "gb18030" in {r["encoding"] for r in receipts}  # some companies send GBK
    assert sum(r["rows"] for r in receipts) == summary.rows_written == outcome.rows_received
    assert summary.rows_written == sum(c.accounts for c in companies)


@pytest.mark.parametrize("source_id", sorted(UTILITIES))
def test_each_injected_utility_defect_is_caught_by_its_check(bill_nights, conn, source_id):
    summary, outcome = bill_nights[source_id]
    defects = summary.defects
    assert all(defects[kind] > 0 for kind in [*UTILITY_CRITICAL, *UTILITY_WARNING])
    expected = {check: defects[kind] for kind, check in UTILITY_CRITICAL.items()}
    assert _issues_by_check(conn, outcome.batch_id, "critical") == expected
    # 实缴 > 应缴 with arrears is flagged, not held back.
    assert _issues_by_check(conn, outcome.batch_id, "warning") == {
        check: defects[kind] for kind, check in UTILITY_WARNING.items()}
    assert outcome.status == "accepted"
    assert outcome.rows_received == outcome.rows_accepted + outcome.rows_quarantined
    assert outcome.rows_quarantined == sum(expected.values())
    assert outcome.rows_warned == defects["paid_exceeds_due_with_arrears"]


def test_a_gbk_file_with_a_title_row_lands_its_chinese_intact(bill_nights, conn):
    _, outcome = bill_nights["utility_water"]
    company = next(c for c in utilities.COMPANIES["utility_water"] if c.encoding == "gbk" and c.title_row)
    name = utilities.file_name("utility_water", company, BILL_NIGHT)
    path = settings.inbox_dir("utility_water", BILL_NIGHT.isoformat()) / name
    with path.open(encoding="gbk", newline="") as fh:
        delivered = list(csv.reader(fh))[2:]  # title row, header row
    assert "石家庄供水有限公司" in path.read_bytes().decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    landed = conn.execute(
        """select _source_row, customer_name, source_department, customer_type from raw.utility_water__bills
           where _batch_id = %s and _source_file = %s order by _source_row""", (outcome.batch_id, name),
    ).fetchall()
    assert [(r[1], r[2], r[3]) for r in landed] == [(row[1], row[12], row[2]) for row in delivered]
    assert [r[0] for r in landed] == list(range(1, len(delivered) + 1))
    assert {r[2] for r in landed} == {"石家庄供水有限公司"}
    receipt = next(r for r in file_receipts(outcome.batch_id) if r["file_name"] == name)
    assert receipt["encoding"] == "gb18030"


def test_organisations_are_the_registrys_enterprises(bill_nights, conn):
    import psycopg

    with psycopg.connect(settings.libpq_url(settings.source_url("market_registry"))) as src:
        registry = {r[0] for r in src.execute("select tyshxydm from registry.t_sczt_djxx").fetchall()}
    for source_id in UTILITIES:
        codes = {r[0] for r in conn.execute(
            f"""select uscc from raw.{get_source(source_id).raw_table} r where _batch_id = %s
                and customer_type = '单位' and credit.is_valid_uscc(uscc)""",
            (f"{source_id}/{BILL_NIGHT}",)).fetchall()}
        # Other test modules add and remove registry rows in the shared session database, so a
        # few subjects drawn earlier may be gone; the utilities' organisations are the registry's.
        assert codes and len(codes & registry) >= 0.9 * len(codes), (source_id, sorted(codes - registry)[:5])


def test_a_night_that_is_not_a_delivery_day_is_an_empty_batch(registry, conn):
    for source_id, module in [*UTILITIES.items(), ("customs_certified", cc)]:
        summary = module.simulate(QUIET_NIGHT)
        assert summary.rows_written == 0 and not any(summary.defects.values())
        assert not settings.inbox_dir(source_id, QUIET_NIGHT.isoformat()).exists()
        outcome = ingest.ingest(source_id, QUIET_NIGHT)
        assert (outcome.status, outcome.rows_received, outcome.rows_accepted) == ("accepted", 0, 0)
        assert file_receipts(outcome.batch_id) == []


def test_unauthorised_natural_persons_never_reach_staging(staged, conn):
    bill_nights, _ = staged
    for source_id, (_, outcome) in bill_nights.items():
        raw = get_source(source_id).raw_relation
        view = f"staging.stg_{source_id}__bills"
        unauthorised = {r[0] for r in conn.execute(
            f"""select md5(credit.normalize_code(id_number)) from {raw}
                where _batch_id = %s and customer_type = '个人' and is_authorised = 'N'""",
            (outcome.batch_id,)).fetchall()}
        assert unauthorised, source_id  # the simulator sends some: they were received
        hashes = {r[0] for r in conn.execute(
            f"select subject_id_hash from {view} where batch_id = %s and subject_type = 'natural_person'",
            (outcome.batch_id,)).fetchall()}
        assert hashes and not hashes & unauthorised
        # Exactly the accepted rows that may be used: organisations and authorised persons.
        usable = conn.execute(
            f"""select count(*) from {raw} r where _batch_id = %s
                and (customer_type <> '个人' or is_authorised = 'Y')
                and not exists (select 1 from meta.row_issues i where i.batch_id = r._batch_id
                                and i.row_number = r._row_number and i.severity = 'critical')""",
            (outcome.batch_id,)).fetchone()[0]
        staged_rows = conn.execute(f"select count(*) from {view} where batch_id = %s",
                                   (outcome.batch_id,)).fetchone()[0]
        assert staged_rows == usable < outcome.rows_accepted
        # No clear resident ID anywhere in the view, in any column.
        leaked = conn.execute(
            f"""select count(*) from {view} s, {raw} r
                where s.batch_id = %s and r._batch_id = s.batch_id and r.customer_type = '个人'
                and strpos(row_to_json(s)::text, credit.normalize_code(r.id_number)) > 0""",
            (outcome.batch_id,)).fetchone()[0]
        assert leaked == 0
        masked = conn.execute(
            f"""select count(*) filter (where citizen_id_masked ~ '^13[0-9]{{4}}[*]{{8}}[0-9]{{3}}[0-9X]$'),
                       count(*) from {view} where batch_id = %s and subject_type = 'natural_person'""",
            (outcome.batch_id,)).fetchone()
        assert masked[0] == masked[1] > 0


def test_staging_types_the_bills(staged, conn):
    bill_nights, _ = staged
    types = dict(conn.execute(
        """select column_name, data_type from information_schema.columns
           where table_schema = 'staging' and table_name = 'stg_utility_power__bills'""").fetchall())
    assert (types["amount_due"], types["billing_month"], types["arrears_months"], types["reported_on"]) == (
        "numeric", "date", "integer", "date")
    assert "id_number" not in types
    _, outcome = bill_nights["utility_power"]
    months, negative, companies = conn.execute(
        """select array_agg(distinct billing_month), count(*) filter (where least(amount_due, amount_paid,
                  arrears_amount) < 0), array_agg(distinct utility_company_code order by utility_company_code)
           from staging.stg_utility_power__bills where batch_id = %s""", (outcome.batch_id,)).fetchone()
    assert months == [date(2018, 2, 1)] and negative == 0
    assert companies == sorted(c.code for c in utilities.COMPANIES["utility_power"])
    # A column the catalog does not know (抄表段) is kept with the rows of the company that sends it.
    extra = dict(conn.execute(
        """select utility_company_code, count(*) filter (where extra_columns ? '抄表段')
           from staging.stg_utility_power__bills where batch_id = %s group by 1""", (outcome.batch_id,)).fetchall())
    sender = next(c.code for c in utilities.COMPANIES["utility_power"] if c.extra_column == "抄表段")
    assert extra[sender] > 0 and sum(extra.values()) == extra[sender]


def test_each_injected_customs_defect_is_quarantined_and_dates_land(staged, conn):
    _, (delivery, outcome) = staged
    defects = delivery.summary.defects
    assert all(defects[kind] > 0 for kind in CUSTOMS_CRITICAL)
    assert _issues_by_check(conn, outcome.batch_id, "critical") == {
        check: defects[kind] for kind, check in CUSTOMS_CRITICAL.items()}
    assert outcome.status == "accepted" and outcome.rows_warned == 0
    assert outcome.rows_received == len(delivery.records) == outcome.rows_accepted + outcome.rows_quarantined
    [receipt] = file_receipts(outcome.batch_id)
    assert (receipt["file_format"], receipt["outcome"]) == ("xlsx", "landed")
    # Excel date cells land as ISO dates; the staged decisions are typed and consistent.
    dates = conn.execute("select certified_on from raw.customs_certified__certifications where _batch_id = %s",
                         (outcome.batch_id,)).fetchall()
    assert {d for (d,) in dates} == {r["certified_on"].isoformat() for r in delivery.records}
    staged_rows, revoked, odd = conn.execute(
        """select count(*), count(*) filter (where is_revoked),
                  count(*) filter (where is_revoked <> (revoked_on is not null) or revoked_on < certified_on
                                   or certified_on > reported_on)
           from staging.stg_customs_certified__certifications where batch_id = %s""", (outcome.batch_id,)).fetchone()
    assert staged_rows == outcome.rows_accepted and revoked > 0 and odd == 0


def test_simulators_are_deterministic_and_rerunnable(tmp_path):
    rng = random.Random(1)
    billed = {c.code: utilities._persons("utility_gas", c, 20261122, 5) + [
        utilities.Customer(f"99{k:08d}", f"企业{k}", "单位", uscc=identities.make_uscc(rng, c.city_code))
        for k in range(5)] for c in utilities.COMPANIES["utility_gas"]}

    def digests(files):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    first = utilities.write_delivery("utility_gas", BILL_NIGHT, inbox=tmp_path / "a", billed=billed)
    again = utilities.write_delivery("utility_gas", BILL_NIGHT, inbox=tmp_path / "a", billed=billed)
    other = utilities.write_delivery("utility_gas", BILL_NIGHT, inbox=tmp_path / "b", billed=billed, seed=7)
    assert digests(first.files) == digests(again.files) != digests(other.files)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in first.files)
    # The same people, with the same accounts and answers, are billed the next month.
    people = utilities._persons("utility_gas", utilities.COMPANIES["utility_gas"][0], 20261122, 5)
    assert people == utilities._persons("utility_gas", utilities.COMPANIES["utility_gas"][0], 20261122, 5)
    one = cc.workbook_bytes(cc.generate_records(CUSTOMS_NIGHT, seed=3)[0], CUSTOMS_NIGHT)
    assert one == cc.workbook_bytes(cc.generate_records(CUSTOMS_NIGHT, seed=3)[0], CUSTOMS_NIGHT)


def test_departments_seed_covers_every_feed_and_sender(staged, conn):
    with (settings.SEEDS_DIR / "departments.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    feeds = {f for r in rows for f in r["feeds"].split("|")}
    assert feeds == set(source_ids()), "every catalog feed has a department in seeds/departments.csv, and only those"
    names = {r["department_name"] for r in rows}
    # A collective sender (各供水企业, 石家庄市各行政机关) is named by its members in the seed: each
    # such feed has at least one member there.
    collective = {s.source_id: s.department for s in load_catalog() if "各" in s.department}
    assert {s.department for s in load_catalog()} - set(collective.values()) <= names
    for source_id in collective:
        assert any(source_id in r["feeds"].split("|") for r in rows), source_id
    for row in rows:
        uscc = row["department_uscc"]
        if row["level"] == "national":  # the national platform's operator, a public institution
            prefix = "12100000"
        else:  # enterprises (the utilities) 91…, government bodies 11…, then the division
            prefix = ("91" if row["feeds"].startswith("utility_") else "11") + row["city_code"]
        assert stdnum_uscc.is_valid(uscc) and uscc.startswith(prefix), row
        assert "_" not in row["department_code"]  # it prefixes file names up to the first '_'
    by_code = {r["department_code"]: r for r in rows}
    for dept in [*dp.DEPARTMENTS, *credit_lists.DEPARTMENTS]:  # simulated senders, with the USCC their files carry
        assert (by_code[dept.code]["department_name"], by_code[dept.code]["department_uscc"]) == (dept.name, dept.uscc)
    for source_id, companies in utilities.COMPANIES.items():
        for company in companies:
            assert source_id in by_code[company.code]["feeds"].split("|")
    assert source_ids().count("customs_certified") == 1 and "customs_certified" in by_code[cc.DEPARTMENT_CODE]["feeds"]
    loaded = conn.execute("select count(*), count(distinct level) from reference.departments").fetchone()
    assert loaded == (len(rows), 3)

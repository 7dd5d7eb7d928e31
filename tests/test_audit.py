"""The auditors' counts end to end (issue 11, first step; docs/audit.md): 行政许可 and 行政处罚 simulated
and ingested for three September nights, one department's licence file of the first night delivered
again on the two nights after (a record re-delivered three times), and the national push-down
repeating decisions of the nights before; then `rpt_audit_reconciliation` and
`rpt_audit_records_by_jurisdiction` built (with their lineage's data and unit tests) as of the end
of October, and checked against the ledger and against a count straight from staging.

Logical dates: September and October 2016 belong to this file: inside the working-day calendar,
which the session's later quality models need for every batch left in the warehouse, and clear of
the years other modules count whole (2017 is test_publicity_lifecycle's).
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from conftest import ensure_all_raw_tables, seed_reference_unless_seeded

from credit_dw.config import settings
from credit_dw.ingest import pipeline as ingest
from credit_dw.reports.audit import write_audit_report
from credit_dw.simulate import admin_licence, admin_penalty, national_pushdown
from credit_dw.transform import dbt as transform

NIGHTS = (date(2016, 9, 5), date(2016, 9, 6), date(2016, 9, 7))
PUSH_NIGHT = date(2016, 9, 8)  # repeats decisions delivered 1-3 nights before
AS_OF = date(2016, 10, 31)  # October: no record, every county blank in the month
REDELIVERED_DEPARTMENT = "hbjtt"  # its UTF-8 CSV of the first night is sent again on the next two
MODELS = ("rpt_audit_reconciliation", "rpt_audit_records_by_jurisdiction", "rpt_audit_records_by_department")
OURS = "batch_id ~ '^(admin_licence|admin_penalty|dept_ledgers|national_pushdown)/2016-09'"


def _redeliver(first_night: date, night: date) -> int:
    """The department's licence file of the first night sent again in `night`'s inbox: the same records
    rotated by one row a night (the file connector skips a file with the same bytes as one already landed)."""
    source = settings.inbox_dir("admin_licence", first_night.isoformat())
    target = settings.inbox_dir("admin_licence", night.isoformat())
    copied = 0
    for path in sorted(source.glob(f"{REDELIVERED_DEPARTMENT}_xzxk_*.csv")):
        header, *records = path.read_text(encoding="utf-8").splitlines(keepends=True)
        assert len(records) > 2 and all(r.count('"') % 2 == 0 for r in records)  # one record a line
        records[-1] = records[-1] if records[-1].endswith("\n") else records[-1] + "\n"
        shift = (night - first_night).days
        (target / f"{REDELIVERED_DEPARTMENT}_xzxk_{night:%Y%m%d}_9.csv").write_text(
            header + "".join(records[shift:] + records[:shift]), encoding="utf-8")
        copied += 1
    return copied


@pytest.fixture(scope="module")
def built(warehouse_url: str) -> None:
    seed_reference_unless_seeded(warehouse_url, "aggregation_targets")
    ensure_all_raw_tables()
    for night in NIGHTS:
        admin_licence.simulate(night, scale=1)
        admin_penalty.simulate(night, scale=1)
        if night != NIGHTS[0]:
            assert _redeliver(NIGHTS[0], night) > 0
        for source_id in ("admin_licence", "admin_penalty"):
            outcome = ingest.ingest(source_id, night)
            assert outcome.status == "accepted", (source_id, night, outcome)
    national_pushdown.write_pushdown(PUSH_NIGHT)
    assert ingest.ingest("national_pushdown", PUSH_NIGHT).status == "accepted"
    # Seeds whose rows changed (aggregation_targets is new) are loaded by the build itself.
    transform.run_dbt(["build", "--select", *(f"+{m}" for m in MODELS),
                       "--vars", f"{{as_of_date: '{AS_OF.isoformat()}'}}"])


def test_every_batch_balances(built, conn):
    rows = conn.execute(
        f"""select batch_id, is_received_balanced, is_accepted_explained, rows_unstaged,
                   rows_received = rows_accepted + rows_quarantined + rows_refused
            from marts.rpt_audit_reconciliation where {OURS}""").fetchall()
    assert len(rows) == 2 * len(NIGHTS) + 1
    assert all(r[1] and r[2] and r[3] == 0 and r[4] for r in rows), rows
    # The differences are there, each explained by its rule.
    redelivered, pushed, counted = conn.execute(
        f"""select sum(rows_redelivered), sum(rows_pushdown_already_reported), sum(rows_counted)
            from marts.rpt_audit_reconciliation where {OURS}""").fetchone()
    assert redelivered > 0 and pushed > 0 and counted > 0


def test_a_record_delivered_three_times_counts_once(built, conn):
    keys = conn.execute(
        f"""select record_key, count(*), count(*) filter (where is_counted),
                   array_agg(audit_rule order by seen_on)
            from intermediate.int_audit_record_deliveries
            where {OURS} and source_id = 'admin_licence' and record_key is not null
            group by record_key having count(distinct batch_id) = 3""").fetchall()
    assert keys, conn.execute(
        f"""select n, count(*)
            from (select record_key, count(distinct batch_id) as n from intermediate.int_audit_record_deliveries
                  where {OURS} and source_id = 'admin_licence' group by 1) k
            group by 1""").fetchall()
    for _key, deliveries, counted, rules in keys:
        assert deliveries == 3 and counted == 1 and rules == ["counted", "redelivery", "redelivery"], rules


def test_counted_total_equals_the_sum_over_jurisdictions(built, conn):
    month = AS_OF.replace(day=1)
    counted = conn.execute(
        f"select count(*) from intermediate.int_audit_record_deliveries where is_counted and {OURS}").fetchone()[0]
    levels = dict(conn.execute(
        """select jurisdiction_level, sum(records_cumulative) from marts.rpt_audit_records_by_jurisdiction
           where report_month = %s group by 1""", (month,)).fetchall())
    # Records whose city (county) is not a current jurisdiction count only one level up.
    no_city, no_county = conn.execute(
        """select count(*) filter (where city_code is null
                                   or city_code not in (select jurisdiction_code
                                                        from marts.rpt_audit_records_by_jurisdiction
                                                        where jurisdiction_level = 'city')),
                  count(*) filter (where county_code is null
                                   or county_code not in (select jurisdiction_code
                                                          from marts.rpt_audit_records_by_jurisdiction
                                                          where jurisdiction_level = 'county'))
           from intermediate.int_audit_record_deliveries where is_counted""").fetchone()
    assert counted > 0
    assert levels["province"] == counted
    by_department = conn.execute(
        """select sum(records_in_month) from marts.rpt_audit_records_by_department""").fetchone()[0]
    assert by_department == counted
    assert levels["city"] + no_city == counted
    assert levels["county"] + no_county == counted
    # Each city's counties add up to it with its city-level records; October adds nothing.
    mismatched = conn.execute(
        """with cities as (select jurisdiction_code, source_category, records_cumulative
                           from marts.rpt_audit_records_by_jurisdiction
                           where jurisdiction_level = 'city' and report_month = %(m)s),
                counties as (select city_code, source_category, sum(records_cumulative) as records
                             from marts.rpt_audit_records_by_jurisdiction
                             where jurisdiction_level = 'county' and report_month = %(m)s group by 1, 2),
                city_level as (select city_code, source_category, count(*) as records
                               from intermediate.int_audit_record_deliveries
                               where is_counted and county_code is null group by 1, 2)
           select count(*) from cities
           left join counties on counties.city_code = cities.jurisdiction_code
                and counties.source_category = cities.source_category
           left join city_level on city_level.city_code = cities.jurisdiction_code
                and city_level.source_category = cities.source_category
           where cities.records_cumulative
                 <> coalesce(counties.records, 0) + coalesce(city_level.records, 0)""", {"m": month}).fetchone()[0]
    assert mismatched == 0
    april = conn.execute(
        """select sum(records_in_month), bool_and(is_blank_county_in_month)
           from marts.rpt_audit_records_by_jurisdiction
           where report_month = %s and jurisdiction_level = 'county'""", (month,)).fetchone()
    assert april == (0, True)
    blank = conn.execute(
        """select count(*) from marts.rpt_audit_records_by_jurisdiction
           where report_month = %s and is_blank_county""", (month,)).fetchone()[0]
    assert blank > 0  # three nights of simulated records leave most counties blank


def test_headline_equals_a_direct_count(built, conn):
    """The province's records: distinct (kind, document number bracket-insensitively, subject) over
    the accepted rows of the three channels delivered by the as-of date [docs/audit.md]."""
    headline = conn.execute(
        """select sum(records_cumulative), max(target_records), max(share_of_target)
           from marts.rpt_audit_records_by_jurisdiction
           where jurisdiction_level = 'province' and report_month = %s""", (AS_OF.replace(day=1),)).fetchone()
    direct = conn.execute(
        """with rows as (
               select 'licence' as kind, decision_document_number as doc, decision_date, uscc, subject_name,
                      reported_on as seen_on from staging.stg_admin_licence__licences
               union all
               select 'penalty', decision_document_number, decision_date, uscc, subject_name, reported_on
               from staging.stg_admin_penalty__penalties
               union all
               select decision_kind, decision_document_number, decision_date, uscc, subject_name, received_on
               from staging.stg_dept_ledgers__decisions
               union all
               select decision_kind, decision_document_number, decision_date, uscc, subject_name, pushed_on
               from staging.stg_national_pushdown__decisions)
           select count(distinct (kind,
                                  translate(regexp_replace(credit.normalize_code(doc), '\\s', '', 'g'),
                                            '[]［］【】()（）〖〗', '〔〕〔〕〔〕〔〕〔〕〔〕'),
                                  coalesce(uscc, subject_name)))
           from rows
           where seen_on <= %s and kind in ('licence', 'penalty') and doc is not null
             and decision_date is not null and coalesce(uscc, subject_name) is not null""",
        (AS_OF,)).fetchone()[0]
    assert direct > 0 and headline[0] == direct
    assert headline[1] == 500_000_000 and float(headline[2]) == pytest.approx(direct / 500_000_000, abs=1e-6)


def test_audit_csvs_list_the_rows_of_each_headline(built, conn):
    report = write_audit_report(AS_OF, rebuild=False)
    headline = list(csv.reader(io.StringIO((report.directory / "headline.csv").read_text(encoding="utf-8-sig"))))
    assert headline[0] == ["指标", "数值", "目标", "完成率", "明细文件"]
    province = next(r for r in headline if r[0] == "全省归集信息条数")
    drilled = (report.directory / province[4]).read_text(encoding="utf-8-sig").splitlines()
    assert drilled[0].startswith("批次,批次行号,数据源") and int(province[1]) == len(drilled) - 1 > 0
    assert province[2] == "500000000"
    unbalanced = next(r for r in headline if r[0] == "不平衡批次数")
    assert unbalanced[1] == "0"


def test_the_monthly_report_is_reproducible_and_reads_as_a_page_and_a_pdf(built, figures_built, conn, tmp_path):
    """`credit-dw report audit --month 2016-09`: the CSVs as of 2016-09-30, the page, its PDF (looked at
    page by page with pdftoppm, as a person would) and the record of the state the figures come from;
    written twice on the same warehouse, the CSVs and the record are byte-identical."""
    import json
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from typer.testing import CliRunner

    from credit_dw.cli import app
    from credit_dw.reports.audit import write_monthly_audit_report

    result = CliRunner().invoke(app, ["report", "audit", "--month", "2016-09"])
    assert result.exit_code == 0, result.output
    directory = settings.reports_dir() / "audit" / "2016-09"
    assert f"audit report: {directory / 'index.html'}" in result.output
    first = {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.suffix in (".csv", ".json")}
    report = write_monthly_audit_report(date(2016, 9, 1))
    assert report.pdf_missing is None
    again = {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.suffix in (".csv", ".json")}
    assert again == first and len(first) >= 9

    state = json.loads((directory / "reproducibility.json").read_text(encoding="utf-8"))
    assert state["month"] == "2016-09" and state["as_of_date"] == "2016-09-30"
    ours = [b["batch_id"] for b in state["batches"] if b["batch_id"].endswith(("2016-09-05", "2016-09-06",
                                                                                "2016-09-07", "2016-09-08"))]
    assert len(ours) == 2 * len(NIGHTS) + 1
    assert not any(b["batch_id"].split("/")[1] > "2016-09-30" for b in state["batches"])
    assert set(state["rules"]) == {"aggregation_targets.csv", "hebei_divisions.csv"}
    import hashlib

    for name, digest in state["files"].items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest, name

    page = (directory / "index.html").read_text(encoding="utf-8")
    units = [name for (name,) in conn.execute(
        """select division_name from reference.hebei_divisions
           where division_code = reporting_unit_code and division_level <> 'province' and is_current""").fetchall()]
    assert len(units) == 14 and all(f"<td>{name}</td>" in page for name in units), units
    headline = list(csv.reader(io.StringIO((directory / "headline.csv").read_text(encoding="utf-8-sig"))))
    province = next(r for r in headline if r[0] == "全省归集信息条数")
    assert f'<div class="num">{int(province[1]):,}</div>' in page
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # The rate and handling sections: each headline figure on the page as in headline.csv, 无数据 when none.
    assert all(f'id="{table}"' in page for table in ("dual-publicity", "code-conflicts", "blacklist-outreach"))
    for name in ("双公示迟报率（全省）", "黑名单主体培训或约谈比例"):
        value = next(r for r in headline if r[0] == name)[1]
        assert (value if value == "无数据" else f"{float(value):.2%}") in page, (name, value)

    pdf = directory / "audit.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    pages = tmp_path / "pages"
    pages.mkdir()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(pages / "page")], check=True, timeout=120)
    shots = sorted(pages.glob("page*.png"))
    assert 1 <= len(shots) <= 6, shots
    keep = Path(tempfile.gettempdir()) / "credit-dw-artifacts" / "audit_report_pages"
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(pages, keep)
    shutil.copy(directory / "headline.csv", keep / "headline.csv")


# The rate and handling figures (docs/audit.md "Rates and handling"): only the models they read and
# their lineage are built (run, not build: their data tests belong to their own modules), as of the
# end of October. September has the simulated decisions; October has none.
FIGURE_MODELS = ("qa_dual_publicity_rates", "rpt_code_conflicts", "rpt_objection_handling", "rpt_repair_handling",
                 "rpt_blacklist_outreach_monthly")


@pytest.fixture(scope="module")
def figures_built(built) -> None:
    transform.run_dbt(["run", "--select", *(f"+{m}" for m in FIGURE_MODELS),
                       "--vars", f"{{as_of_date: '{AS_OF.isoformat()}'}}"])


def _headline(directory) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO((directory / "headline.csv").read_text(encoding="utf-8-sig"))))
    return {r[0]: r for r in rows[1:]}


def _expect(row: list[str], value) -> None:
    """A headline value equals the independent figure; a figure without data reads 无数据, never 0."""
    if value is None:
        assert row[1] == "无数据", row
    else:
        assert row[1] != "无数据" and float(row[1]) == pytest.approx(value, abs=1e-6), row


def test_rate_and_handling_figures_equal_independent_counts(figures_built, conn, tmp_path):
    september, october = date(2016, 9, 30), AS_OF
    report = write_audit_report(september, rebuild=False, directory=tmp_path / "09")
    headline = _headline(report.directory)

    # Dual publicity: the nightly counts summed over September, divided here (not by the SQL functions).
    reported, late, omitted, concealed = (float(v or 0) for v in conn.execute(
        """select sum(decisions_reported), sum(decisions_late), sum(decisions_omitted), sum(decisions_concealed)
           from quality.qa_dual_publicity_timeliness where logical_date between '2016-09-01' and '2016-09-30'"""
    ).fetchone())
    assert reported > 0
    _expect(headline["双公示迟报率（全省）"], late / reported)
    _expect(headline["双公示漏报率（全省）"], omitted / (reported + omitted))
    _expect(headline["双公示瞒报率（全省）"], concealed / (reported + omitted + concealed))
    assert headline["双公示迟报率（全省）"][2] == "0"
    per_city = {(code or "—"): (float(r), float(lt)) for code, r, lt in conn.execute(
        """select city_code, sum(decisions_reported), sum(decisions_late) from quality.qa_dual_publicity_timeliness
           where logical_date between '2016-09-01' and '2016-09-30' group by 1""").fetchall()}
    by_jurisdiction = list(csv.reader(io.StringIO(
        (report.directory / "dual_publicity_rates_by_jurisdiction.csv").read_text(encoding="utf-8-sig"))))[1:]
    units = {code for (code,) in conn.execute(
        """select division_code from reference.hebei_divisions
           where division_code = reporting_unit_code and division_level <> 'province' and is_current""").fetchall()}
    assert len(units) == 14 and {r[0] for r in by_jurisdiction} == units | set(per_city)
    for row in by_jurisdiction:
        city_reported, city_late = per_city.get(row[0], (0.0, 0.0))
        if city_reported:
            assert float(row[6]) == pytest.approx(city_late / city_reported, abs=1e-6), row
        else:  # a jurisdiction without a decision in the month: no rate (the page shows 无数据), not 0
            assert row[2] == row[6] == "", row

    # 重错码率: distinct codes in a conflict over distinct codes reported by the night.
    codes = {u for (u,) in conn.execute(
        """select distinct uscc from intermediate.int_subject_codes_unioned
           where uscc is not null and batch_logical_date <= %s""", (september,)).fetchall()}
    conflicting = {u for (u,) in conn.execute(
        "select distinct uscc from marts.rpt_code_conflicts where first_seen_on <= %s", (september,)).fetchall()}
    assert codes and conflicting <= codes
    _expect(headline["重错码率（全省）"], len(conflicting) / len(codes))
    drilled = (report.directory / "drilldown" / "code_conflicts.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(drilled) - 1 == conn.execute(
        "select count(*) from marts.rpt_code_conflicts where first_seen_on <= %s", (september,)).fetchone()[0]

    # Objections and repairs, straight from the facts the handling reports count.
    total, overdue = conn.execute(
        "select count(*), count(*) filter (where is_overdue) from marts.fct_objection").fetchone()
    _expect(headline["异议件数"], total or None)
    _expect(headline["异议超期件数（15/20个工作日）"], overdue if total else None)
    _expect(headline["异议按期处理占比（15/20个工作日内）"], (total - overdue) / total if total else None)
    applications, decided, repaired = conn.execute(
        """select count(*), count(*) filter (where status in ('closed', 'refused')),
                  count(*) filter (where outcome = 'repaired') from marts.fct_repair""").fetchone()
    _expect(headline["信用修复申请件数"], applications or None)
    _expect(headline["信用修复成功率"], repaired / decided if decided else None)

    # Black-list outreach: the month's rows of the model, summed here; target 60 %.
    blacklisted, reached = conn.execute(
        """select coalesce(sum(blacklist_subjects), 0), coalesce(sum(reached_subjects), 0)
           from marts.rpt_blacklist_outreach_monthly where month = '2016-09-01'""").fetchone()
    _expect(headline["黑名单主体培训或约谈比例"], reached / blacklisted if blacklisted else None)
    assert headline["黑名单主体培训或约谈比例"][2] == "0.6"

    # October: no decision reported, so the dual-publicity rates have no data (无数据, not 0).
    quiet_directory = write_audit_report(october, rebuild=False, directory=tmp_path / "10").directory
    quiet = _headline(quiet_directory)
    for name in ("双公示迟报率（全省）", "双公示漏报率（全省）", "双公示瞒报率（全省）"):
        assert quiet[name][1] == "无数据", quiet[name]
    quiet_jurisdictions = list(csv.reader(io.StringIO(
        (quiet_directory / "dual_publicity_rates_by_jurisdiction.csv").read_text(encoding="utf-8-sig"))))[1:]
    assert {r[0] for r in quiet_jurisdictions} == units and all(r[6:] == ["", "", ""] for r in quiet_jurisdictions)
    assert any(row[1] == "无数据" for row in headline.values())  # September too has figures without data
    for drilldown in (report.directory / "drilldown").glob("*.csv"):
        text = drilldown.read_text(encoding="utf-8-sig")
        assert "subject_name" not in text and "主体名称" not in text, drilldown

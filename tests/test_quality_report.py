"""The daily quality report for the province credit office, on three real nights of 2020.

Three nights of the market-registry feed are simulated (10 % defects) and ingested, with return
notices and one corrected re-submission (补报) on the third night; then the report is written and
checked against direct SQL on the ledger (meta.*), the raw rows and the division reference — not
through the report's own views — and finally opened in headless Chromium as a person would.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from credit_dw.catalog import get_source, load_catalog, source_ids
from credit_dw.config import settings
from credit_dw.ingest import pipeline as ingest
from credit_dw.ingest import returns
from credit_dw.reports.quality import charts as quality_charts
from credit_dw.reports.quality import page as quality_report
from credit_dw.reports.quality import queries as quality_queries
from credit_dw.simulate import simulate_market_registry
from credit_dw.simulate.market_registry import TABLE, day_id_range
from credit_dw.transform import dbt as transform

SOURCE = "market_registry"
NIGHTS = (date(2020, 6, 1), date(2020, 6, 2), date(2020, 6, 3))
LAST = NIGHTS[-1]
RESUBMITTED_ID = 2020_0000_01  # outside every simulated day's id range (yyyymmdd * 10**8 + n)
CHROMIUM = "/usr/bin/chromium"
# The same packages as `make browser` (Makefile).
BROWSER_INSTALL = ("apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                   "apt-get install -y -qq chromium fonts-wqy-microhei")


def _delivery_by_schedule(conn, night: date) -> tuple[list[str], list[str], list[str]]:
    """The catalog's feeds expected, delivered and missing (缺报) on `night`, restated from the
    catalog's `due` key and the ledger: a periodic form is expected only on its days of the month;
    a file drop delivered when a file brought rows, a system feed when its batch was accepted; a
    failed batch is missing whatever the day."""
    batches = {sid: (status, rows) for sid, status, rows in conn.execute(
        "select source_id, status, rows_received from meta.load_batches where logical_date = %s", (night,))}
    expected, delivered, missing = [], [], []
    for spec in load_catalog():
        status, rows = batches.get(spec.source_id, (None, None))
        due = spec.extra.get("due", "nightly")
        is_due = due == "nightly" or night.day in due["days_of_month"]
        sent = status == "rejected" or (status == "accepted" and (spec.connector != "file_drop" or rows))
        failed = status not in (None, "accepted", "rejected")
        if is_due or sent or failed:
            expected.append(spec.source_id)
        if sent:
            delivered.append(spec.source_id)
        elif failed or is_due:
            missing.append(spec.source_id)
    return expected, delivered, missing


def read_csv(path: Path) -> list[dict]:
    """A report CSV as dicts keyed by the English key (the last word of each header cell)."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path} has no UTF-8 BOM"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    keys = [h.split()[-1] for h in rows[0]]
    return [dict(zip(keys, r, strict=True)) for r in rows[1:]]


def num(value: str) -> int:
    return int(value) if value else 0


@pytest.fixture(scope="module")
def nights(warehouse_url: str) -> dict:
    """Three ingested nights; the third carries a corrected copy of a row returned on the first."""
    # Only the division reference is needed (gate and city attribution); another module may have
    # loaded every seed already.
    with psycopg.connect(warehouse_url) as conn:
        if conn.execute("select to_regclass('reference.hebei_divisions')").fetchone()[0] is None:
            transform.run_dbt(["seed", "--select", "hebei_divisions"])
    summaries = {}
    for night in NIGHTS:
        if night == LAST:
            _resubmit_a_returned_row(NIGHTS[0], warehouse_url)
        summaries[night] = simulate_market_registry(settings.source_url(SOURCE), night, scale=1, defect_share=0.1)
        ingest.ingest(SOURCE, night)
        returns.write_return_notices(SOURCE, night)
        returns.link_resubmissions(SOURCE, night)
    with psycopg.connect(settings.source_url(SOURCE), autocommit=True) as src:
        src.execute(f"delete from {TABLE} where id = %s", (RESUBMITTED_ID,))
    report = quality_report.write_quality_report(LAST)
    yield {"summaries": summaries, "report": report}
    # Leave the shared registry stand-in as found: later-dated tests pick status changes among
    # earlier subjects, and 2020's quarantined duplicates would turn up there as re-submissions.
    with psycopg.connect(settings.source_url(SOURCE), autocommit=True) as src:
        src.execute(f"delete from {TABLE} where id between %s and %s",
                    (day_id_range(NIGHTS[0])[0], day_id_range(LAST)[1]))


def _resubmit_a_returned_row(first: date, warehouse_url: str) -> None:
    """The department corrects a row returned for a missing name and sends it again on the last night."""
    with psycopg.connect(warehouse_url) as conn:
        uscc, division = conn.execute(
            """select credit.normalize_code(r.uscc), r.division_code
               from meta.quarantine q
               join raw.market_registry__subjects r on r._batch_id = q.batch_id and r._row_number = q.row_number
               where q.batch_id = %s and q.failed_checks = array['subject_name_required']
               order by q.row_number limit 1""",
            (f"{SOURCE}/{first}",),
        ).fetchone()
    with psycopg.connect(settings.source_url(SOURCE), autocommit=True) as src:
        src.execute(f"delete from {TABLE} where id = %s", (RESUBMITTED_ID,))
        src.execute(
            f"""insert into {TABLE} (id, tyshxydm, ztmc, ztlx, fddbr, djjg_xzqh, clrq, djzt, gxsj)
                values (%s, %s, '补报测试有限公司', '企业', '王五', %s, '2019-05-05', '存续', %s)""",
            (RESUBMITTED_ID, uscc, division, f"{LAST} 10:00:00+08"),
        )


def batch(conn, night: date) -> dict:
    cur = conn.execute("select * from meta.load_batches where batch_id = %s", (f"{SOURCE}/{night}",))
    return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def test_headline_lists_every_catalog_feed_with_the_ledgers_numbers(nights, conn):
    report = nights["report"]
    expected = batch(conn, LAST)
    feeds = read_csv(report.csv_files["feeds"])
    assert [f["source_id"] for f in feeds] == source_ids()
    ours = next(f for f in feeds if f["source_id"] == SOURCE)
    assert (num(ours["rows_received"]), num(ours["rows_accepted"]), num(ours["rows_quarantined"])) == (
        expected["rows_received"], expected["rows_accepted"], expected["rows_quarantined"])
    assert expected["rows_quarantined"] > 0

    ledger = conn.execute(
        """select count(*) filter (where status in ('accepted', 'rejected')),
                  coalesce(sum(rows_received) filter (where status in ('accepted', 'rejected')), 0),
                  coalesce(sum(rows_accepted) filter (where status in ('accepted', 'rejected')), 0),
                  coalesce(sum(rows_quarantined) filter (where status in ('accepted', 'rejected')), 0),
                  count(*) filter (where status = 'rejected')
           from meta.load_batches where logical_date = %s and source_id = any(%s)""",
        (LAST, source_ids()),
    ).fetchone()
    [headline] = read_csv(report.csv_files["headline"])
    expected, delivered, missing = _delivery_by_schedule(conn, LAST)
    assert num(headline["feeds_expected"]) == len(expected)
    assert (num(headline["rows_received"]), num(headline["rows_accepted"]), num(headline["rows_quarantined"]),
            num(headline["batches_rejected"])) == tuple(ledger[1:])
    assert num(headline["feeds_received"]) == len(delivered) and num(headline["feeds_missing"]) == len(missing)
    # Feeds due that night without a delivery are named as missing (缺报), not left out.
    assert [f["source_id"] for f in feeds if f["status"] == "missing"] == missing
    assert headline["missing_feeds"] == "; ".join(missing)
    code_errors = conn.execute(
        """select count(distinct (i.batch_id, i.row_number)) from meta.row_issues i
           join meta.load_batches b using (batch_id)
           where b.logical_date = %s
             and (i.check_name like '%%uscc\\_one\\_name%%' or i.check_name like 'code\\_conflict%%')""",
        (LAST,),
    ).fetchone()[0]
    assert code_errors > 0 and num(headline["code_error_rows"]) == code_errors


def test_departments_reasons_returns_and_resubmissions_match_the_ledger(nights, conn):
    report = nights["report"]
    batch_id = f"{SOURCE}/{LAST}"
    departments = [d for d in read_csv(report.csv_files["departments"]) if d["source_id"] == SOURCE]
    assert [d["department"] for d in departments] == [get_source(SOURCE).department]
    row = departments[0]
    notices, returned = conn.execute(
        "select count(*), coalesce(sum(rows_returned), 0) from meta.return_notices "
        "where source_id = %s and logical_date = %s",
        (SOURCE, LAST),
    ).fetchone()
    resubmitted = conn.execute(
        "select count(distinct resubmitted_row_number) from meta.resubmissions where resubmitted_batch_id = %s",
        (batch_id,),
    ).fetchone()[0]
    assert resubmitted >= 1, "the corrected row was not recognised as a re-submission"
    assert (num(row["return_notices"]), num(row["rows_returned"]), num(row["rows_resubmitted"])) == (
        notices, returned, resubmitted)
    assert num(row["rows_received"]) == num(row["rows_accepted"]) + num(row["rows_quarantined"]) == batch(
        conn, LAST)["rows_received"]

    by_check = dict(conn.execute(
        """select check_name, count(*) from meta.row_issues
           where batch_id = %s and severity = 'critical' group by check_name""",
        (batch_id,),
    ).fetchall())
    reasons = {r["check_name"]: num(r["rows_quarantined"]) for r in read_csv(report.csv_files["quarantine_reasons"])
               if r["source_id"] == SOURCE}
    assert reasons == by_check
    assert {"uscc_check_character", "subject_name_required", "division_code_known", "uscc_one_name"} <= set(reasons)
    # Readers' words from the message catalogue: checks, fields and reasons in Chinese, the feed by
    # its Chinese name; the codes stay in the CSV for scripts.
    ours = [r for r in read_csv(report.csv_files["quarantine_reasons"]) if r["source_id"] == SOURCE]
    shown = {r["check_name"]: r for r in ours}
    assert shown["subject_name_required"]["check"] == "主体名称必填"
    assert shown["subject_name_required"]["reason"] == "主体名称为空"
    assert shown["uscc_check_character"]["reason"] == "统一社会信用代码不符合 GB 32100-2015（格式或校验位错误）"
    assert {r["feed_name"] for r in ours} == {"市场主体登记"}
    for r in ours:
        assert not re.search(r"[A-Za-z]{3,}", re.sub(r"GB(/T)? [\d.-]+", "", r["reason"] + r["check"])), r


def test_cities_attribute_rows_by_their_division_code(nights, conn):
    report = nights["report"]
    cities = read_csv(report.csv_files["cities"])
    units = [c["unit_code"] for c in cities]
    # The 11 cities, 雄安, 辛集, 定州, the province itself and the unattributed bucket, always listed.
    assert {"130100", "130200", "130300", "130400", "130500", "130600", "130700", "130800", "130900",
            "131000", "131100", "133100", "130181", "130682", "130000", ""} == set(units)
    expected = dict(conn.execute(
        """select coalesce(case when u.is_current and u.division_code = u.reporting_unit_code
                                then u.division_code end, '') as unit, count(*)
           from raw.market_registry__subjects r
           left join reference.hebei_divisions d
                  on d.division_code = credit.normalize_code(credit.clean_text(r.division_code))
           left join reference.hebei_divisions u on u.division_code = d.reporting_unit_code
           where r._batch_id = %s group by 1""",
        (f"{SOURCE}/{LAST}",),
    ).fetchall())
    got = {c["unit_code"]: num(c["rows_received"]) for c in cities if num(c["rows_received"])}
    assert got == expected
    # Rows with a division code no reference knows cannot be attributed (the simulator's defect).
    unknown = nights["summaries"][LAST].defects["unknown_division"]
    assert num(next(c for c in cities if c["unit_code"] == "")["rows_received"]) == unknown > 0
    totals = {k: sum(num(c[k]) for c in cities) for k in ("rows_received", "rows_quarantined", "rows_returned",
                                                          "rows_resubmitted", "code_error_rows")}
    [headline] = read_csv(report.csv_files["headline"])
    assert totals["rows_received"] == num(headline["rows_received"])
    assert totals["rows_quarantined"] == totals["rows_returned"] == num(headline["rows_quarantined"])
    assert totals["code_error_rows"] == num(headline["code_error_rows"])
    assert totals["rows_resubmitted"] >= 1


def test_uscc_decides_the_division_when_a_feed_has_no_division_column(nights, conn):
    spec = get_source(SOURCE)
    assert quality_queries.division_field(spec) == "division_code"
    without = dataclasses.replace(spec, fields={k: v for k, v in spec.fields.items() if k != "division_code"})
    assert quality_queries.division_field(without) is None
    rows = conn.execute(
        psycopg.sql.SQL("select a.division_code, a.division_basis, substr(credit.normalize_code(r.uscc), 3, 6) "
                        "from ({}) a join raw.market_registry__subjects r "
                        "on r._batch_id = a.batch_id and r._row_number = a.row_number "
                        "where a.batch_id = %s and r.uscc is not null").format(
            quality_queries.attribution_query(without)),
        (f"{SOURCE}/{LAST}",),
    ).fetchall()
    assert rows and all(division == from_uscc and basis == "uscc" for division, basis, from_uscc in rows)
    # Full-width or padded codes are read like the gate reads them (characters 3-8 after normalising).
    assert all(len(division) == 6 and division.isdigit() for division, _, _ in rows)


def test_worst_field_drilldowns_hold_exactly_the_failed_rows(nights, conn):
    report = nights["report"]
    worst = read_csv(report.csv_files["worst_fields"])
    assert worst and [num(w["rank"]) for w in worst] == list(range(1, len(worst) + 1))
    assert [num(w["rows_failed"]) for w in worst] == sorted((num(w["rows_failed"]) for w in worst), reverse=True)
    for w in worst:
        failed = [r[0] for r in conn.execute(
            "select distinct row_number from meta.row_issues where batch_id = %s and field = %s order by 1",
            (f"{w['source_id']}/{LAST}", w["field"]),
        ).fetchall()]
        path = report.directory / w["drilldown_file"]
        assert path == report.drilldown_files[(w["source_id"], w["field"])]
        lines = read_csv(path)
        assert num(w["rows_failed"]) == len(lines) == len(failed) > 0
        assert [num(line["row_number"]) for line in lines] == failed
        # Each line carries the row's own values from the raw table.
        for line in lines[:5]:
            raw = conn.execute(
                "select uscc, subject_name from raw.market_registry__subjects "
                "where _batch_id = %s and _row_number = %s",
                (line["batch_id"], num(line["row_number"])),
            ).fetchone()
            assert (line["uscc"], line["subject_name"]) == tuple(v or "" for v in raw)
            assert line["checks"] and line["reasons"]
            # Where the row came from, filled for a database feed too: its table and landing file.
            assert line["source_file"].startswith("数据库表 registry.t_sczt_djxx（落地文件 ")
            assert num(line["source_row"]) == num(line["row_number"])
            # People as the marts show them: the legal representative's ID and name masked.
            assert not re.search(r"\d{17}[\dXx]", line["legal_representative_id"])
            assert not line["legal_representative"] or line["legal_representative"][1:] == "*" * max(
                len(line["legal_representative"]) - 1, 1)
        # Chinese headers (中文 key), not the database's pinyin columns.
        header = path.read_bytes().decode("utf-8-sig").splitlines()[0]
        assert "统一社会信用代码 uscc" in header and "法定代表人证件号码 legal_representative_id" in header
        assert "tyshxydm" not in header and "fddbr_zjhm" not in header
    assert "uscc" in {w["field"] for w in worst}


def test_trend_covers_thirty_nights_with_each_nights_totals(nights, conn):
    trend = read_csv(nights["report"].csv_files["trend_nights"])
    assert [r["logical_date"] for r in trend] == [(LAST - timedelta(days=29 - i)).isoformat() for i in range(30)]
    for night in NIGHTS:
        row = next(r for r in trend if r["logical_date"] == night.isoformat())
        b = batch(conn, night)
        assert (num(row["rows_received"]), num(row["rows_quarantined"])) == (b["rows_received"], b["rows_quarantined"])
    assert all(num(r["rows_received"]) == 0 for r in trend if r["logical_date"] < NIGHTS[0].isoformat())
    shares = [r for r in read_csv(nights["report"].csv_files["trend_feed_share"]) if r["source_id"] == SOURCE]
    assert len(shares) == 3
    page = nights["report"].index_html.read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_rebuilding_an_earlier_night_gives_that_nights_numbers(nights, conn):
    first = NIGHTS[0]
    report = quality_report.write_quality_report(first)
    assert report.directory == settings.reports_dir() / "quality" / first.isoformat()
    [headline] = read_csv(report.csv_files["headline"])
    b = batch(conn, first)
    assert (num(headline["rows_received"]), num(headline["rows_quarantined"])) == (
        b["rows_received"], b["rows_quarantined"])
    assert b["rows_received"] != batch(conn, LAST)["rows_received"]
    trend = read_csv(report.csv_files["trend_nights"])
    assert trend[-1]["logical_date"] == first.isoformat()
    assert all(r["logical_date"] <= first.isoformat() for r in trend)
    # A second rebuild writes the same CSV bytes (only the page's generation time differs).
    before = {name: path.read_bytes() for name, path in report.csv_files.items()}
    again = quality_report.write_quality_report(first)
    assert {name: path.read_bytes() for name, path in again.csv_files.items()} == before


def test_timeliness_section_waits_for_its_view_then_reads_the_contract(nights, conn, monkeypatch):
    monkeypatch.setattr(quality_queries, "TIMELINESS_VIEW", "quality.no_such_view_for_this_test")
    report = quality_report.write_quality_report(LAST)
    assert not report.timeliness_available
    assert "timeliness_departments" not in report.csv_files
    assert "Not yet available" in report.index_html.read_text(encoding="utf-8")

    conn.execute("create schema if not exists quality_test")
    conn.execute("""
        create or replace view quality_test.qa_dual_publicity_timeliness as
        select * from (values
            ('admin_penalty', '石家庄市生态环境局', '130100', date '2020-06-03', 10, 2, 1, 0),
            ('admin_penalty', '石家庄市生态环境局', '130100', date '2020-06-02', 10, 0, 0, 1),
            ('admin_penalty', '唐山市市场监督管理局', '130200', date '2020-06-03', 4, 0, 0, 0),
            ('admin_penalty', '唐山市市场监督管理局', '130200', date '2020-04-01', 9, 9, 9, 9)
        ) as t(source_id, department, city_code, logical_date, decisions_reported, decisions_late,
               decisions_omitted, decisions_concealed)""")
    conn.execute("create or replace view quality_test.broken as select 1 as decisions, date '2020-06-03' as night")
    try:
        # A view that breaks the contract: the report is still written and the section says why.
        monkeypatch.setattr(quality_queries, "TIMELINESS_VIEW", "quality_test.broken")
        broken = quality_report.write_quality_report(LAST)
        assert not broken.timeliness_available and broken.headline["rows_received"] > 0
        assert "does not answer its contract" in broken.index_html.read_text(encoding="utf-8")

        monkeypatch.setattr(quality_queries, "TIMELINESS_VIEW", "quality_test.qa_dual_publicity_timeliness")
        report = quality_report.write_quality_report(LAST)
    finally:
        conn.execute("drop schema quality_test cascade")
    assert report.timeliness_available
    by_department = {r["department"]: r for r in read_csv(report.csv_files["timeliness_departments"])}
    sjz = by_department["石家庄市生态环境局"]
    assert (num(sjz["decisions_reported"]), num(sjz["decisions_late"]), num(sjz["decisions_omitted"])) == (10, 2, 1)
    assert float(sjz["late_rate"]) == pytest.approx(0.2)
    assert float(sjz["omission_rate"]) == pytest.approx(1 / 11)
    # concealed / (reported + omitted + concealed), docs/quality_rates.md; the night before counts in 30 nights
    assert float(sjz["concealment_rate_30"]) == pytest.approx(1 / 22, abs=1e-6)
    assert float(by_department["唐山市市场监督管理局"]["late_rate_30"]) == 0  # April is outside the window
    # The page's caption states the one definition (docs/quality_rates.md), the one the numbers follow.
    page = report.index_html.read_text(encoding="utf-8")
    assert "瞒报率 = 瞒报 ÷ (报送 + 漏报 + 瞒报)" in page and "漏报率 = 漏报 ÷ (报送 + 漏报)" in page
    cities = {r["city_code"]: r for r in read_csv(report.csv_files["timeliness_cities"])}
    assert cities["130100"]["city_name"] == "石家庄市" and num(cities["130200"]["decisions_reported"]) == 4
    # Every one of the 14 jurisdictions is listed, zero or not, then 未能归属.
    assert len(cities) == 15 and cities["133100"]["city_name"] == "雄安新区" and cities[""]["decisions_reported"] == "0"


# ---------------------------------------------------------------------------------------------
# 异议与信用修复办理: the handling marts, built from simulated penalties and applications of
# August 2020 (outside the market registry's nights and their 30-night trend window)

PENALTY_NIGHTS = (date(2020, 8, 3), date(2020, 8, 4))
APPLICATION_NIGHTS = (date(2020, 8, 4), date(2020, 8, 5))
HANDLING_NIGHT = APPLICATION_NIGHTS[-1]
HANDLING_MARTS = ("rpt_objection_handling", "rpt_repair_handling")


@pytest.fixture(scope="module")
def handling(warehouse_url: str) -> dict:
    """Penalties and objection / repair applications ingested, the handling marts built as of
    HANDLING_NIGHT (with their unit and data tests), and that night's report written."""
    from conftest import ensure_all_raw_tables, seed_reference_unless_seeded

    from credit_dw.connectors import http as extract_http
    from credit_dw.simulate import admin_penalty, api_server, objections

    seed_reference_unless_seeded(warehouse_url, "handling_deadlines")
    ensure_all_raw_tables()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(extract_http.env_name("objections"), raising=False)
        api_server.url_file().unlink(missing_ok=True)
        for night in PENALTY_NIGHTS:
            admin_penalty.simulate(night, scale=1)
            assert ingest.ingest("admin_penalty", night).status == "accepted"
        for night in APPLICATION_NIGHTS:
            objections.simulate(night, scale=1)
            assert ingest.ingest("objections", night).status == "accepted"
    as_of = ["--vars", f"{{as_of_date: '{HANDLING_NIGHT.isoformat()}'}}"]
    transform.run_dbt(["run", "--select", *(f"+{m}" for m in HANDLING_MARTS), *as_of])
    transform.run_dbt(["test", "--select", *HANDLING_MARTS, *as_of])
    return {"report": quality_report.write_quality_report(HANDLING_NIGHT)}


def _mart(conn, model: str, order: str) -> list[dict]:
    cur = conn.execute(f"select * from marts.{model} order by {order}")
    return [dict(zip([c.name for c in cur.description], row, strict=True)) for row in cur.fetchall()]


def _as_csv(value) -> str:
    """A mart value as the report's CSV writes it, read back as read_csv reads a cell."""
    return list(csv.reader(io.StringIO(quality_queries.csv_bytes(["x"], [[value]]).decode("utf-8-sig"))))[1][0]


def test_handling_section_shows_the_marts_figures_worst_first(handling, conn):
    """[000 §2.12-2.13] Every row of both marts, every figure equal, ranked by overdue ones; the
    cities named from the division reference; no subject named."""
    report = handling["report"]
    assert report.handling_available
    checks = (
        ("objection_handling", "rpt_objection_handling", "providing_department",
         "overdue_count desc, open_count desc, valid_objection_count desc, providing_department, city_code",
         quality_queries.OBJECTION_HANDLING_COLUMNS),
        ("repair_handling", "rpt_repair_handling", "handling_department",
         "overdue_count desc, open_overdue_count desc, success_rate nulls first, handling_department, city_code",
         quality_queries.REPAIR_HANDLING_COLUMNS),
    )
    names = dict(conn.execute("select division_code, division_name from reference.hebei_divisions").fetchall())
    for table, model, department, order, columns in checks:
        shown = read_csv(report.csv_files[table])
        expected = _mart(conn, model, order)
        assert expected and len(shown) == len(expected), table
        assert [num(r["rank"]) for r in shown] == list(range(1, len(expected) + 1))
        assert [num(r["overdue_count"]) for r in shown] == sorted((num(r["overdue_count"]) for r in shown),
                                                                   reverse=True)
        for got, want in zip(shown, expected, strict=True):
            for column in columns:
                if column.key in ("rank", "city_name"):
                    continue
                assert got[column.key] == _as_csv(want[column.key]), (table, want[department], column.key)
            if want["city_code"] == "130000":
                assert got["city_name"] == f"省本级 ({names['130000']})"
            elif want["city_code"] in names:
                assert got["city_name"] == names[want["city_code"]]
            else:
                assert got["city_name"] == "未能归属 (unknown division)"
        assert {c.key for c in columns} & {"uscc", "subject_name", "subject_id"} == set()

    objections = read_csv(report.csv_files["objection_handling"])
    facts = conn.execute(
        """select count(*), count(*) filter (where is_overdue),
                  count(*) filter (where outcome in ('corrected', 'revoked') and objection_kind = 'error'),
                  count(*) filter (where record_category = '经营异常名录')
           from marts.fct_objection""").fetchone()
    total, overdue, valid_errors, business_anomaly = facts
    assert total > 0 and overdue > 0
    assert (sum(num(r["objection_count"]) for r in objections), sum(num(r["overdue_count"]) for r in objections),
            sum(num(r["valid_error_count"]) for r in objections)) == (total, overdue, valid_errors)
    # No fact holds 经营异常名录 records: those objections stay with the receiving department, counted;
    # some objections name a penalty ingested here and count under that penalty's authority.
    not_found = sum(num(r["record_not_found_count"]) for r in objections)
    assert business_anomaly > 0 and business_anomaly <= not_found < total
    repairs = read_csv(report.csv_files["repair_handling"])
    assert sum(num(r["application_count"]) for r in repairs) == conn.execute(
        "select count(*) from marts.fct_repair").fetchone()[0] > 0
    assert all(r["as_of_on"] == HANDLING_NIGHT.isoformat() for r in objections + repairs)

    page = report.index_html.read_text(encoding="utf-8")
    section = re.search(r'<section id="handling">.*?</section>', page, flags=re.DOTALL)[0]
    assert "异议与信用修复办理" in section and "修复成功率" in section and "超期公示" in section
    assert "非本晚" not in section  # the marts were built as of the report's night
    cell = re.compile(r'<td class="[a-z]+" data-col="([a-z_]+)">([^<]*)</td>')
    for table, rows, columns in (("objection_handling", objections, quality_queries.OBJECTION_HANDLING_COLUMNS),
                                 ("repair_handling", repairs, quality_queries.REPAIR_HANDLING_COLUMNS)):
        body = re.search(rf'<table id="{table}">.*?</table>', section, flags=re.DOTALL)[0]
        cells = cell.findall(body)
        on_page = [c for c in columns if c.on_page]
        assert len(cells) == len(rows) * len(on_page), table
        # The page's first row is the CSV's first row (the worst), cell by cell as displayed.
        first = dict(cells[:len(on_page)])
        for column in on_page:
            value = rows[0][column.key]
            expected = (quality_queries.display(value or None, column.kind) if column.kind != "text"
                        else value)
            if column.kind == "int":
                expected = f"{num(value):,}"
            assert first[column.key] == expected, (table, column.key)
    # No subject reaches the section: no USCC, no applicant's name.
    assert not re.search(r"\b[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}\b", section)
    applicants = [r[0] for r in conn.execute(
        "select distinct subject_name from marts.fct_objection where subject_name is not null limit 50")]
    assert applicants and not [name for name in applicants if name in section]


def test_handling_section_waits_for_its_marts(handling, monkeypatch):
    monkeypatch.setattr(quality_queries, "OBJECTION_HANDLING", "marts.no_such_mart_for_this_test")
    report = quality_report.write_quality_report(HANDLING_NIGHT)
    assert not report.handling_available and "objection_handling" not in report.csv_files
    page = report.index_html.read_text(encoding="utf-8")
    assert "暂无数据：异议与信用修复办理" in page and "marts.no_such_mart_for_this_test not built yet" in page


# ---------------------------------------------------------------------------------------------
# The charts: matplotlib SVG, text kept as text, the same bytes on a rerun

SVG = "{http://www.w3.org/2000/svg}"


def _page_charts(page: str) -> dict[str, ET.Element]:
    svgs = [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)]
    return {svg.get("id"): svg for svg in svgs}


def test_charts_carry_their_chinese_labels_as_text_and_rerender_byte_identically(nights, conn):
    report = quality_report.write_quality_report(LAST)
    page = report.index_html.read_text(encoding="utf-8")
    charts = _page_charts(page)
    assert set(charts) == {"chart-received", "chart-share"}
    titles = {"chart-received": "每晚接收与隔离行数 Rows received and quarantined per night",
              "chart-share": "各数据源隔离占比 Quarantine share per feed"}
    for name, svg in charts.items():
        # Accessible: an image named by its <title> and described by its <desc>.
        assert svg.get("role") == "img" and svg.get("class") == "chart"
        assert svg.get("aria-labelledby") == f"{name}-title {name}-desc"
        assert svg.find(f"{SVG}title").text == titles[name] and svg.find(f"{SVG}title").get("id") == f"{name}-title"
        assert {"chart-received": "trend_nights.csv", "chart-share": "trend_feed_share.csv"}[name] in svg.find(
            f"{SVG}desc").text
        # Text is SVG text (svg.fonttype none), in the CJK font stack the page uses; no glyph paths.
        texts = [t for t in svg.iter(f"{SVG}text")]
        assert texts and all("'WenQuanYi Micro Hei'" in t.get("style") for t in texts)
        assert not [e for e in svg.iter() if re.match(r".*(DejaVu|WenQuanYi)", e.get("id", ""))]
    received_text = [t.text for t in charts["chart-received"].iter(f"{SVG}text")]
    assert {"接收行数 rows received", "隔离行数 rows quarantined", f"{LAST:%m-%d}"} <= set(received_text)
    share_text = [t.text for t in charts["chart-share"].iter(f"{SVG}text")]
    # The legend names the feed in Chinese, not by its id.
    assert "市场主体登记" in share_text and SOURCE not in share_text and f"{LAST:%m-%d}" in share_text
    # Each bar and point names its night and value, as the CSVs give them.
    trend = {r["logical_date"]: r for r in read_csv(report.csv_files["trend_nights"])}
    tips = [t.text for t in charts["chart-received"].iter(f"{SVG}title")]
    for night in NIGHTS:
        row = trend[night.isoformat()]
        assert f"{night} 接收 received: {num(row['rows_received']):,}" in tips
        assert f"{night} 隔离 quarantined: {num(row['rows_quarantined']):,}" in tips
    trend_table = quality_queries.trend_table(conn, LAST)
    feed_trend = quality_queries.feed_trend_table(conn, LAST)
    shares = [r for r in feed_trend.rows if r["source_id"] == SOURCE and r["quarantine_share"] is not None]
    share_tips = [t.text for t in charts["chart-share"].iter(f"{SVG}title")]
    assert len(shares) == 3 and [f"市场主体登记 {r['logical_date']}: {float(r['quarantine_share']) * 100:.1f}%"
                                 for r in shares] == [t for t in share_tips if t.startswith("市场主体登记 ")]
    # No id is shared between the two charts of the one page.
    ids = [e.get("id") for svg in charts.values() for e in svg.iter() if e.get("id")]
    assert len(ids) == len(set(ids))

    # Two renders of the same rows are the same bytes, and the page's charts are those bytes.
    bar = quality_charts.bar_chart_svg(trend_table)
    line = quality_charts.line_chart_svg(trend_table, feed_trend)
    assert bar == quality_charts.bar_chart_svg(trend_table) and line == quality_charts.line_chart_svg(
        trend_table, feed_trend)
    assert bar in page and line in page
    # A rerun of the night writes the same page but for the line that says when it was generated.
    again = quality_report.write_quality_report(LAST).index_html.read_text(encoding="utf-8")
    generated = re.compile(r"生成时间 generated [^；]*；")
    assert generated.search(page) and generated.sub("", again) == generated.sub("", page)


def test_importing_the_report_does_not_import_matplotlib():
    """DAG files import the report inside their tasks, but parsing must stay cheap either way."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, credit_dw.reports.quality.page, credit_dw.reports.quality.charts; "
                               "print(sorted(m for m in ('matplotlib', 'numpy') if m in sys.modules))"],
        capture_output=True, text=True, check=True, timeout=120,
    )
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# As a person would: the page in a real browser


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium; installed like `make browser` when missing, skipped only if that fails."""
    if not Path(CHROMIUM).exists():
        done = subprocess.run(BROWSER_INSTALL, shell=True, capture_output=True, text=True, timeout=900)
        if done.returncode != 0 or not Path(CHROMIUM).exists():
            pytest.skip(f"chromium is not installed and `{BROWSER_INSTALL}` failed "
                        f"(exit {done.returncode}): {(done.stderr or done.stdout)[-500:]}")
    return CHROMIUM


def run_chromium(browser: str, *args: str, size: str = "1280,2000") -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={size}", *args],
            capture_output=True, text=True, timeout=120, check=True,
        )


class _ById(HTMLParser):
    """Text of every element with an id, and the links, from the DOM Chromium rendered."""

    def __init__(self):
        super().__init__()
        self.text: dict[str, str] = {}
        self.links: list[str] = []
        self.svgs = 0
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "svg":
            self.svgs += 1
        if tag not in ("br", "img", "meta", "link", "line", "rect", "circle", "polyline", "input"):
            self._open.append((tag, attrs.get("id")))
            if attrs.get("id"):
                self.text[attrs["id"]] = ""

    def handle_endtag(self, tag):
        while self._open:
            name, _ = self._open.pop()
            if name == tag:
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.text[element_id] += data


def test_the_page_shows_the_warehouse_numbers_in_a_browser(nights, conn, chromium):
    report = quality_report.write_quality_report(LAST)
    url = report.index_html.as_uri()
    dom = run_chromium(chromium, "--dump-dom", url).stdout
    page = _ById()
    page.feed(dom)

    ledger = conn.execute(
        """select count(*), count(*) filter (where status in ('accepted', 'rejected')),
                  sum(rows_received), sum(rows_accepted), sum(rows_quarantined),
                  count(*) filter (where status = 'rejected')
           from meta.load_batches where logical_date = %s and status in ('accepted', 'rejected')""",
        (LAST,),
    ).fetchone()
    _, _, rows_received, rows_accepted, rows_quarantined, rejected = ledger
    expected, delivered, missing = _delivery_by_schedule(conn, LAST)
    shown = {k: page.text[f"headline-{k}"].strip() for k in (
        "feeds_expected", "feeds_received", "feeds_missing", "rows_received", "rows_accepted",
        "rows_quarantined", "batches_rejected")}
    assert shown == {
        "feeds_expected": f"{len(expected)}",
        "feeds_received": f"{len(delivered)}",
        "feeds_missing": f"{len(missing)}",
        "rows_received": f"{rows_received:,}",
        "rows_accepted": f"{rows_accepted:,}",
        "rows_quarantined": f"{rows_quarantined:,}",
        "batches_rejected": f"{rejected}",
    }
    assert page.text["night"].strip() == LAST.isoformat()
    assert "数据质量日报" in dom and page.svgs == 2
    # The charts' labels reach the rendered page as text (matplotlib's svg.fonttype none).
    assert "接收行数 rows received" in dom and "隔离行数 rows quarantined" in dom
    for feed in source_ids():
        assert feed in page.text["feeds"]
    drilldowns = [link for link in page.links if link.startswith("fields/")]
    assert drilldowns and all((report.directory / link).is_file() for link in drilldowns)
    # Every link resolves, from the page and from its drill-down pages (HTML, the CSV beside each).
    assert all((report.directory / link).is_file() for link in page.links), page.links
    assert {link.rsplit(".", 1)[-1] for link in drilldowns} == {"html"}
    department = next(link for link in page.links if link.startswith("departments/"))
    # "About these figures": every term of the page defined in the office's words, one click away.
    assert "about.html" in page.links
    about = (report.directory / "about.html").read_text(encoding="utf-8")
    assert all(term in about for term in ("迟报率", "漏报率", "瞒报率", "隔离占比", "缺报", "未到报送期", "未能归属"))
    for sub in [*drilldowns, department, "about.html"]:
        child = _ById()
        child.feed((report.directory / sub).read_text(encoding="utf-8"))
        assert child.links and all((report.directory / sub).parent.joinpath(link).resolve().is_file()
                                   for link in child.links), sub
    registry_page = (report.directory / quality_report.department_page(get_source(SOURCE).department)).read_text(
        encoding="utf-8")
    assert "隔离原因" in registry_page and "主体名称必填" in registry_page and "<script" not in registry_page
    uscc_page = (report.directory / "fields" / f"{SOURCE}__uscc.html").read_text(encoding="utf-8")
    assert "统一社会信用代码" in uscc_page and "tyshxydm" not in uscc_page
    assert not re.search(r"\b\d{17}[\dXx]\b", re.sub(r'data-col="uscc">[^<]*', "", uscc_page))

    shot = report.directory / "screenshot.png"
    run_chromium(chromium, f"--screenshot={shot}", url)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 2000)
    # Kept beside the report as the test's artifact (the suite's home is removed at exit).
    keep = Path(tempfile.gettempdir()) / "credit-dw-artifacts" / "quality_report_screenshot.png"
    keep.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, keep)
    assert re.search(r"缺报|missing", dom)
    # The drill-down pages as a reader sees them, kept beside it (docs/quality_report.md shows them).
    department = next(link for link in page.links if link.startswith("departments/"))
    for name, sub in (("quality_report_department", department), ("quality_report_about", "about.html")):
        shot = keep.parent / f"{name}.png"
        run_chromium(chromium, f"--screenshot={shot}", (report.directory / sub).as_uri(), size="1280,1100")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# The page's layout, measured by the browser at 1280 px: a copy of the page with a script that
# writes what it measured into the DOM (the report itself has no JavaScript).
_MEASURE = """
<script>
window.addEventListener('load', () => {
  const width = document.documentElement.clientWidth;
  const out = {width, scrollWidth: document.documentElement.scrollWidth, overflowing: [], cut: [], outside: []};
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    if (el.closest('.table-wrap') && !el.classList.contains('table-wrap')) continue;  // measured as 'cut'

    const r = el.getBoundingClientRect();
    if (r.width && r.right > width + 0.5) out.overflowing.push((el.id || el.tagName) + ':' + Math.round(r.right));
  }
  for (const wrap of document.querySelectorAll('.table-wrap')) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) out.cut.push(wrap.firstElementChild.id + ':' + wrap.scrollWidth);
  }
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.width && (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5
                      || r.bottom > box.bottom + 0.5)) out.outside.push(svg.id + ':' + t.textContent);
    }
  }
  const p = document.createElement('pre'); p.id = 'layout-measured'; p.textContent = JSON.stringify(out);
  document.body.appendChild(p);
});
</script>"""


def test_every_feeds_line_has_a_look_of_its_own():
    """More feeds than colour-blind-safe colours: colour, dash and marker together tell them apart."""
    looks = [quality_charts.series_style(k) for k in range(len(source_ids()))]
    assert len(source_ids()) > len(quality_charts.PALETTE)
    assert len(set(looks)) == len(looks)


def test_nothing_overflows_the_page_at_1280_px_and_chart_text_stays_inside(nights, conn, chromium):
    """At 1280 px (the office's screens): no element reaches past the page's right edge, no table
    needs a scroll bar (nothing cut off), every chart's text lies inside its figure — with every
    catalog feed in the quarantine-share chart's legend, the issue's case of a legend drawn past its
    viewBox. A screenshot of the whole page is kept as the test's artefact."""
    import json

    every_feed = quality_queries.Table("trend_feed_share", "", "", quality_queries.FEED_TREND_COLUMNS, [
        {"logical_date": LAST, "source_id": s, "status": "accepted", "rows_received": 10, "rows_quarantined": k % 5,
         "quarantine_share": (k % 5) / 10} for k, s in enumerate(source_ids())])
    trend = quality_queries.trend_table(conn, LAST)
    many = quality_charts.line_chart_svg(trend, every_feed)
    report = quality_report.write_quality_report(LAST)
    page = report.index_html.read_text(encoding="utf-8")
    page = page.replace("</section>", f"<section id='every-feed'>{many}</section>", 1)
    probe = report.directory / "layout_probe.html"
    probe.write_text(page.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    try:
        dom = run_chromium(chromium, "--dump-dom", "--virtual-time-budget=5000", probe.as_uri()).stdout
    finally:
        keep = Path(tempfile.gettempdir()) / "credit-dw-artifacts"
        keep.mkdir(parents=True, exist_ok=True)
    measured = json.loads(re.search(r'<pre id="layout-measured">(.*?)</pre>', dom, flags=re.DOTALL)[1]
                          .replace("&quot;", '"').replace("&amp;", "&"))
    assert measured["width"] >= 1200
    assert measured["overflowing"] == [] and measured["scrollWidth"] <= measured["width"], measured
    assert measured["cut"] == [], measured
    assert measured["outside"] == [], measured
    assert all(quality_queries.feed_name(s) in many for s in source_ids())
    shot = keep / "quality_report_1280.png"
    run_chromium(chromium, f"--screenshot={shot}", report.index_html.as_uri(), size="1280,6000")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

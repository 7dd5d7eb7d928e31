"""The auditors' figures as CSV files, each headline number with a drill-down file listing the rows
it counts (issue 11; docs/audit.md), for a night (`write_audit_report`) or a month
(`write_monthly_audit_report`: the same CSVs as of the month's last day under
`reports/audit/<YYYY-MM>/`, plus the page `index.html`, its PDF `audit.pdf` and
`reproducibility.json`, the warehouse state the figures come from):

    $CREDIT_DW_HOME/reports/audit/<D>/headline.csv                    指标, 数值, 目标, 完成率, 明细文件
    $CREDIT_DW_HOME/reports/audit/<D>/records_by_jurisdiction.csv     rpt_audit_records_by_jurisdiction, month of D
    $CREDIT_DW_HOME/reports/audit/<D>/records_by_department.csv       rpt_audit_records_by_department, month of D
    $CREDIT_DW_HOME/reports/audit/<D>/reconciliation.csv              rpt_audit_reconciliation
    $CREDIT_DW_HOME/reports/audit/<D>/drilldown/<headline>.csv        the rows behind one headline number

The audit models are rebuilt as of D first (`as_of_date`), so the files say what the warehouse knew
that night. Headers are Chinese (the office's words); files are UTF-8 with a BOM, so spreadsheet
programs open them correctly.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from credit_dw.config import settings
from credit_dw.db.connect import connect
from credit_dw.reports import audit_figures, reproducibility
from credit_dw.reports.quality.queries import csv_bytes
from credit_dw.transform import dbt as transform

MODELS = ("int_audit_record_deliveries", "rpt_audit_reconciliation", "rpt_audit_records_by_jurisdiction",
          "rpt_audit_records_by_department")

DELIVERY_COLUMNS = (
    ("batch_id", "批次"), ("source_row_number", "批次行号"), ("source_id", "数据源"), ("channel", "渠道"),
    ("source_category", "信息类别"), ("decision_document_number", "决定文书号"), ("decision_on", "决定日期"),
    ("department", "数据来源单位"), ("division_code", "行政区划代码"), ("city_code", "设区市代码"),
    ("county_code", "县（市、区）代码"), ("seen_on", "报送日期"), ("audit_rule", "计数规则"),
)

JURISDICTION_COLUMNS = (
    ("jurisdiction_level", "层级"), ("jurisdiction_code", "行政区划代码"), ("jurisdiction_name", "名称"),
    ("city_code", "设区市代码"), ("source_category", "信息类别"), ("report_month", "月份"),
    ("records_in_month", "当月归集条数"), ("records_cumulative", "累计归集条数"),
    ("is_blank_county", "是否空白县"), ("jurisdiction_records_cumulative", "全部类别累计条数"),
    ("target_records", "目标条数"), ("target_year", "目标年度"), ("share_of_target", "完成率"),
)

DEPARTMENT_COLUMNS = (
    ("department", "数据来源单位"), ("city_code", "设区市代码"), ("source_category", "信息类别"),
    ("report_month", "月份"), ("records_in_month", "当月归集条数"), ("records_cumulative", "累计归集条数"),
)

RECONCILIATION_COLUMNS = (
    ("batch_id", "批次"), ("source_id", "数据源"), ("logical_date", "日期"), ("status", "批次状态"),
    ("rows_received", "接收条数"), ("rows_accepted", "入库条数"), ("rows_quarantined", "隔离条数"),
    ("rows_refused", "退回条数"), ("is_received_balanced", "接收平衡"), ("rows_counted", "计入条数"),
    ("rows_duplicate_in_batch", "批内重复"), ("rows_redelivered", "重复报送"), ("rows_corrected", "补报更正"),
    ("rows_pushdown_already_reported", "国家推送重复"), ("rows_not_countable", "无法计数"),
    ("is_accepted_explained", "入库平衡"),
)


@dataclass(frozen=True)
class AuditReport:
    directory: Path
    files: tuple[Path, ...]
    #: why the monthly report has no PDF (WeasyPrint could not load Pango), else None
    pdf_missing: str | None = None


def _select(conn, columns, relation: str, where: str = "true", params: tuple = ()) -> list[tuple]:
    names = ", ".join(key for key, _header in columns)
    return conn.execute(f"select {names} from {relation} where {where} order by {names}", params).fetchall()


def _write(path: Path, columns, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes([header for _key, header in columns], rows))
    return path


def write_audit_report(night: date, *, rebuild: bool = True, directory: Path | None = None) -> AuditReport:
    """The audit CSVs and drill-downs for `night` (the audit models rebuilt as of it unless `rebuild` is false)."""
    if rebuild:
        transform.run_dbt(["run", "--select", *MODELS, "--vars", f"{{as_of_date: '{night.isoformat()}'}}"])
    directory = directory or settings.reports_dir() / "audit" / night.isoformat()
    month = night.replace(day=1)
    files: list[Path] = []
    with connect(autocommit=True) as conn:
        counted = _select(conn, DELIVERY_COLUMNS, "intermediate.int_audit_record_deliveries", "is_counted")
        differences = _select(conn, DELIVERY_COLUMNS, "intermediate.int_audit_record_deliveries", "not is_counted")
        jurisdictions = _select(conn, JURISDICTION_COLUMNS, "marts.rpt_audit_records_by_jurisdiction",
                                "report_month = %s", (month,))
        departments = _select(conn, DEPARTMENT_COLUMNS, "marts.rpt_audit_records_by_department",
                              "report_month <= %s", (month,))
        batches = _select(conn, RECONCILIATION_COLUMNS, "marts.rpt_audit_reconciliation")
        province = conn.execute(
            """select coalesce(sum(records_cumulative), 0), max(target_records), max(share_of_target)
               from marts.rpt_audit_records_by_jurisdiction
               where jurisdiction_level = 'province' and report_month = %s""", (month,)).fetchone()
        blank = [r for r in jurisdictions if r[0] == "county" and r[8]]
        unbalanced = [r for r in batches if not (r[8] and r[15])]
    files.append(_write(directory / "drilldown" / "province_records.csv", DELIVERY_COLUMNS, counted))
    files.append(_write(directory / "drilldown" / "differences.csv", DELIVERY_COLUMNS, differences))
    files.append(_write(directory / "drilldown" / "blank_counties.csv", JURISDICTION_COLUMNS, blank))
    files.append(_write(directory / "drilldown" / "unbalanced_batches.csv", RECONCILIATION_COLUMNS, unbalanced))
    files.append(_write(directory / "records_by_jurisdiction.csv", JURISDICTION_COLUMNS, jurisdictions))
    files.append(_write(directory / "records_by_department.csv", DEPARTMENT_COLUMNS, departments))
    files.append(_write(directory / "reconciliation.csv", RECONCILIATION_COLUMNS, batches))
    with connect(autocommit=True) as conn:
        figures = audit_figures.collect(conn, month, night)
    files += audit_figures.write(figures, directory, _write)
    headline = [
        ("全省归集信息条数", province[0], province[1], province[2], "drilldown/province_records.csv"),
        ("去重扣除条数", len(differences), None, None, "drilldown/differences.csv"),
        ("空白县（类别）数", len(blank), 0, None, "drilldown/blank_counties.csv"),
        ("不平衡批次数", len(unbalanced), 0, None, "drilldown/unbalanced_batches.csv"),
        *((name, audit_figures.headline_value(value), target, share, file)
          for name, value, target, share, file in figures.headline),
    ]
    files.insert(0, _write(directory / "headline.csv", HEADLINE_COLUMNS, headline))
    return AuditReport(directory, tuple(files))


HEADLINE_COLUMNS = (("metric", "指标"), ("value", "数值"), ("target", "目标"), ("share", "完成率"),
                    ("file", "明细文件"))
#: The office-edited rules the figures depend on (their bytes are hashed into reproducibility.json).
RULE_SEEDS = ("aggregation_targets.csv", "hebei_divisions.csv")
#: The feeds the counts read (their batches are listed in reproducibility.json).
FEEDS = ("admin_licence", "admin_penalty", "dept_ledgers", "national_pushdown")
#: 计数规则 (int_audit_record_deliveries.audit_rule) in the office's words, for the page.
RULE_NAMES = {
    "counted": "计入（业务键首次报送）", "duplicate_in_batch": "批内重复", "redelivery": "重复报送",
    "correction": "补报更正", "pushdown_already_reported": "国家推送重复", "not_countable": "无法计数（缺业务键）",
}


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def write_monthly_audit_report(month: date, *, rebuild: bool = True) -> AuditReport:
    """The month's audit report under reports/audit/<YYYY-MM>/: the CSVs as of the month's last day,
    reproducibility.json, index.html and audit.pdf. Rerunning a month on the same warehouse state
    gives the same CSVs and the same reproducibility record."""
    from credit_dw.reports import audit_page
    from credit_dw.reports.pdf import write_pdf

    month = month.replace(day=1)
    as_of = month_end(month)
    directory = settings.reports_dir() / "audit" / f"{month:%Y-%m}"
    report = write_audit_report(as_of, rebuild=rebuild, directory=directory)
    files = list(report.files)
    with connect(autocommit=True) as conn:
        # The batches the counts read: every batch of the four dual-publicity channels.
        state = reproducibility.state_record(conn, "信用信息归集审计月报 (credit_dw.reports.audit)", month, as_of,
                                             FEEDS, RULE_SEEDS)
        state["files"] = reproducibility.file_hashes(files, directory)
        context = _page_context(conn, month, as_of, state)
    record = reproducibility.write(state, directory)
    context["chart"] = audit_page.jurisdictions_chart_svg(context["jurisdictions"])
    with connect(autocommit=True) as conn:
        context["figures"] = audit_figures.collect(conn, month, as_of).page
    page = directory / "index.html"
    page.write_text(audit_page.render_html(context), encoding="utf-8")
    pdf_missing = write_pdf(page, directory / "audit.pdf")
    written = [*files, record, page] + ([] if pdf_missing else [directory / "audit.pdf"])
    return AuditReport(directory, tuple(written), pdf_missing)


def _page_context(conn, month: date, as_of: date, state: dict) -> dict:
    """The page's figures, read from the same models as the CSVs (no number of its own)."""

    def rows(sql: str, params: tuple) -> list[dict]:
        cursor = conn.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    per_jurisdiction = """
        select jurisdiction_level, jurisdiction_code, jurisdiction_name,
               sum(records_in_month)::bigint as records_in_month,
               max(jurisdiction_records_cumulative)::bigint as records,
               max(target_records)::bigint as target_records, max(share_of_target) as share_of_target,
               count(*) filter (where is_blank_county)::integer as blank_categories
        from marts.rpt_audit_records_by_jurisdiction
        where report_month = %s and jurisdiction_level = %s
        group by 1, 2, 3 order by 2"""
    province = rows(per_jurisdiction, (month, "province"))
    cities = rows(per_jurisdiction, (month, "city"))
    blank_by_city = {r["city_code"]: r["blank"] for r in rows(
        """select city_code, count(distinct jurisdiction_code)::integer as blank
           from marts.rpt_audit_records_by_jurisdiction
           where report_month = %s and is_blank_county group by 1""", (month,))}
    for city in cities:
        city["blank_counties"] = blank_by_city.get(city["jurisdiction_code"], 0)
    blank_total = rows(
        """select count(*)::integer as blank from marts.rpt_audit_records_by_jurisdiction
           where report_month = %s and jurisdiction_level = 'county' and is_blank_county""", (month,))[0]["blank"]
    categories = rows(
        """select source_category, sum(records_in_month)::bigint as records_in_month,
                  sum(records_cumulative)::bigint as records
           from marts.rpt_audit_records_by_jurisdiction
           where report_month = %s and jurisdiction_level = 'province' group by 1 order by 1""", (month,))
    rules = rows(
        """select audit_rule, count(*)::bigint as rows from intermediate.int_audit_record_deliveries
           group by 1 order by 1""", ())
    for rule in rules:
        rule["name"] = RULE_NAMES.get(rule["audit_rule"], rule["audit_rule"])
    balance = rows(
        """select count(*)::integer as batches, coalesce(sum(rows_received), 0)::bigint as received,
                  coalesce(sum(rows_accepted), 0)::bigint as accepted,
                  coalesce(sum(rows_quarantined), 0)::bigint as quarantined,
                  coalesce(sum(rows_refused), 0)::bigint as refused,
                  count(*) filter (where not (is_received_balanced and is_accepted_explained))::integer
                      as unbalanced
           from marts.rpt_audit_reconciliation""", ())[0]
    return {"month": f"{month:%Y年%m月}", "month_key": f"{month:%Y-%m}", "as_of": as_of.isoformat(),
            "province": province[0] if province else None, "blank_total": blank_total,
            "jurisdictions": cities, "categories": categories,
            "rules": rules, "balance": balance, "state": state}

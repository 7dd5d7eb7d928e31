"""The auditors' figures for a night as CSV files, each headline number with a drill-down file listing
the rows it counts (issue 11, first step; docs/audit.md):

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

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from credit_dw.config import settings
from credit_dw.db.connect import connect
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


def _select(conn, columns, relation: str, where: str = "true", params: tuple = ()) -> list[tuple]:
    names = ", ".join(key for key, _header in columns)
    return conn.execute(f"select {names} from {relation} where {where} order by {names}", params).fetchall()


def _write(path: Path, columns, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes([header for _key, header in columns], rows))
    return path


def write_audit_report(night: date, *, rebuild: bool = True) -> AuditReport:
    """The audit CSVs and drill-downs for `night` (the audit models rebuilt as of it unless `rebuild` is false)."""
    if rebuild:
        transform.run_dbt(["run", "--select", *MODELS, "--vars", f"{{as_of_date: '{night.isoformat()}'}}"])
    directory = settings.reports_dir() / "audit" / night.isoformat()
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
    headline = [
        ("全省归集信息条数", province[0], province[1], province[2], "drilldown/province_records.csv"),
        ("去重扣除条数", len(differences), None, None, "drilldown/differences.csv"),
        ("空白县（类别）数", len(blank), 0, None, "drilldown/blank_counties.csv"),
        ("不平衡批次数", len(unbalanced), 0, None, "drilldown/unbalanced_batches.csv"),
    ]
    files.insert(0, _write(directory / "headline.csv",
                           (("metric", "指标"), ("value", "数值"), ("target", "目标"), ("share", "完成率"),
                            ("file", "明细文件")), headline))
    return AuditReport(directory, tuple(files))

"""The quality report's queries: one table per question, from the warehouse's quality views and
meta schema, each written once as CSV and once as HTML (docs/quality_report.md)."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from credit_dw.catalog import DELIVERED, REJECTED, SourceSpec, delivery_state, get_source, load_catalog
from credit_dw.catalog import MISSING as MISSING_STATE
from credit_dw.catalog import NOT_DUE as NOT_DUE_STATE
from credit_dw.reference import messages

log = logging.getLogger(__name__)

TREND_NIGHTS = 30
WORST_FIELDS = 10
TIMELINESS_VIEW = "quality.qa_dual_publicity_timeliness"
#: The office's handling figures (dbt marts, docs/record_lifecycle.md "The office's handling figures").
OBJECTION_HANDLING = "marts.rpt_objection_handling"
REPAIR_HANDLING = "marts.rpt_repair_handling"
ATTRIBUTION_VIEW = "quality.row_attribution"

#: Gate outcome of a feed's night (meta.load_batches.status, or `missing` without a batch) as the
#: page shows it; the CSVs keep the code.
MISSING = "missing"
#: A feed not due that night (catalog `due`) that sent nothing: nothing was expected.
NOT_DUE = "not_due"
STATUS_LABELS = {
    "accepted": "已接收 accepted",
    "rejected": "整批退回 rejected",
    "failed": "失败 failed",
    "extracting": "处理中 in progress",
    "landed": "处理中 in progress",
    "skipped": "未处理 skipped",
    MISSING: "缺报 missing",
    NOT_DUE: "未到报送期 not due",
}


# ---------------------------------------------------------------------------------------------
# Tables: what a query returns, written once as CSV and once as HTML


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    kind: str = "int"  # int | share | decimal | text | date | status
    on_page: bool = True  # False: in the CSV only (long texts that would crowd the page)

    @property
    def header(self) -> str:
        return f"{self.zh} {self.key}"


@dataclass
class Table:
    name: str  # CSV file stem
    zh: str
    en: str
    columns: list[Column]
    rows: list[dict]
    note: str = ""
    links: dict[int, str] = field(default_factory=dict)  # row index -> relative href (drill-downs)
    link_key: str = "drilldown_page"  # the column whose cell carries the link

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    def column(self, key: str) -> list:
        return [row[key] for row in self.rows]


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (Decimal, float)):
        return f"{float(value):.6f}".rstrip("0").rstrip(".") if value else "0"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def csv_bytes(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def table_csv(table: Table) -> bytes:
    return csv_bytes([c.header for c in table.columns], [[r[c.key] for c in table.columns] for r in table.rows])


def display(value: object, kind: str) -> str:
    """A cell as the page shows it: thousands separators, shares as percentages, '—' for none."""
    if kind == "status":
        return STATUS_LABELS.get(value, str(value))
    if value is None:
        return "—"
    if kind == "share":
        return f"{float(value) * 100:.1f}%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "decimal":
        return f"{float(value):,.2f}"
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _fetch(conn, query, params: dict) -> list[dict]:
    cur = conn.execute(query, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def feed_name(source_id: str) -> str:
    """A feed as readers name it: the Chinese part of its catalog title (市场主体登记), not its id."""
    try:
        return get_source(source_id).title.split(" (", 1)[0]
    except KeyError:
        return source_id


def _field_label(source_id: str, field_name: str) -> str:
    try:
        header = get_source(source_id).fields.get(field_name)
    except KeyError:
        header = None
    return messages.field_label(field_name, header)


def _in_chinese(rows: list[dict]) -> list[dict]:
    """Rows with source_id, check_name, field, reason (and severity) gain the readers' words from the
    message catalogue (credit_dw.reference.messages): feed_name, check (the check's Chinese name),
    field_label, and reason in Chinese; the English reason stays in meta.row_issues for engineers."""
    for row in rows:
        row["feed_name"] = feed_name(row["source_id"])
        label = _field_label(row["source_id"], row["field"])
        row["field_label"] = label
        row["check"] = messages.check_name_zh(row["check_name"])
        row["reason"] = messages.reason_zh(row["check_name"], label, row["reason"])
        if "severity" in row:
            row["severity_zh"] = messages.severity_zh(row["severity"])
    return rows


# ---------------------------------------------------------------------------------------------
# Row attribution (department, division) per source: views built from the catalog


def division_field(spec: SourceSpec) -> str | None:
    """The catalog field holding a row's division code, or None (the USCC decides)."""
    explicit = spec.extra.get("division_field")
    if explicit:
        if explicit not in spec.fields:
            raise ValueError(f"catalog entry {spec.source_id}: division_field {explicit!r} is not one of its fields")
        return explicit
    return "division_code" if "division_code" in spec.fields else None


def attribution_query(spec: SourceSpec, raw_columns: set[str] | None = None):
    """`select batch_id, source_id, row_number, department, division_code, division_basis` of one raw table.

    `raw_columns`: the columns the raw table has now (a field added to the catalog appears there
    only when the feed next lands); None means every catalog field.
    """
    from psycopg import sql

    def has(name: str) -> bool:
        return name in spec.fields and (raw_columns is None or name in raw_columns)

    if has("source_department"):
        department = sql.SQL("coalesce(credit.clean_text(r.source_department), {})").format(
            sql.Literal(spec.department))
    else:
        department = sql.Literal(spec.department)
    uscc = (sql.SQL("nullif(substr(credit.normalize_code(r.uscc), 3, 6), '')") if has("uscc")
            else sql.SQL("null::text"))
    column = division_field(spec)
    if column and has(column):
        own = sql.SQL("credit.normalize_code(credit.clean_text(r.{}))").format(sql.Identifier(column))
        division = sql.SQL("coalesce({own}, {uscc})").format(own=own, uscc=uscc)
        basis = sql.SQL("case when {own} is not null then {name} when {uscc} is not null then 'uscc' end").format(
            own=own, uscc=uscc, name=sql.Literal(column))
    else:
        division = uscc
        basis = sql.SQL("case when {uscc} is not null then 'uscc' end").format(uscc=uscc)
    return sql.SQL(
        "select r._batch_id as batch_id, r._source_id as source_id, r._row_number as row_number, "
        "{department}::text as department, {division}::text as division_code, {basis}::text as division_basis "
        "from {raw} r"
    ).format(department=department, division=division, basis=basis, raw=sql.Identifier("raw", spec.raw_table))


def ensure_attribution_views(conn) -> list[str]:
    """(Re)create `quality.row_attribution__<source_id>` per landed feed and their union; returns the feeds."""
    from psycopg import sql

    conn.execute("select pg_advisory_xact_lock(hashtext('credit_dw.quality.attribution'))")
    conn.execute("create schema if not exists quality")
    parts, covered = [], []
    for spec in load_catalog():
        raw_columns = {r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = %s",
            (spec.raw_table,)).fetchall()}
        if not raw_columns:
            continue  # never landed: nothing to attribute
        view = sql.Identifier("quality", f"row_attribution__{spec.source_id}")
        conn.execute(sql.SQL("create or replace view {} as {}").format(view, attribution_query(spec, raw_columns)))
        conn.execute(sql.SQL("comment on view {} is {}").format(view, sql.Literal(
            f"Department and division of every landed row of feed {spec.source_id} "
            f"(division from {division_field(spec) or 'the USCC'}); built by credit_dw.reports.quality.page.")))
        parts.append(sql.SQL("select * from {}").format(view))
        covered.append(spec.source_id)
    if not parts:
        parts = [sql.SQL("select null::text as batch_id, null::text as source_id, null::bigint as row_number, "
                         "null::text as department, null::text as division_code, null::text as division_basis "
                         "where false")]
    conn.execute(sql.SQL("create or replace view {} as {}").format(
        sql.SQL(ATTRIBUTION_VIEW), sql.SQL(" union all ").join(parts)))
    conn.execute(f"comment on view {ATTRIBUTION_VIEW} is 'One row per landed row of every catalog feed: its "
                 "department and division (credit_dw.reports.quality.page, docs/quality_report.md).'")
    return covered


# ---------------------------------------------------------------------------------------------
# The queries behind the tables


def _catalog_params() -> dict:
    specs = load_catalog()
    return {
        "ids": [s.source_id for s in specs],
        "titles": [s.title for s in specs],
        "departments": [s.department for s in specs],
    }


_CATALOG_CTE = """
catalog as (
    select c.source_id, c.title, c.department, c.ord
    from unnest(%(ids)s::text[], %(titles)s::text[], %(departments)s::text[])
         with ordinality as c(source_id, title, department, ord)
)"""

FEED_COLUMNS = [
    Column("source_id", "数据源", "feed", "text"),
    Column("name", "名称", "name", "text"),
    Column("title", "全称", "title", "text", on_page=False),
    # Department, returns and re-submissions are on the page in the per-department table.
    Column("department", "报送部门", "department", "text", on_page=False),
    Column("status", "状态", "status", "status"),
    Column("rows_received", "接收行数", "rows received"),
    Column("rows_accepted", "入库行数", "accepted"),
    Column("rows_quarantined", "隔离行数", "quarantined"),
    Column("rows_warned", "警示行数", "warned"),
    Column("quarantine_share", "隔离占比", "quarantine share", "share"),
    Column("code_error_rows", "重错码行数", "dup./wrong codes"),
    Column("return_notices", "退回通知", "return notices", on_page=False),
    Column("rows_returned", "退回行数", "rows returned", on_page=False),
    Column("rows_resubmitted", "补报行数", "re-submitted rows", on_page=False),
    Column("attempts", "运行次数", "attempts", on_page=False),
    Column("message", "说明", "message", "text"),
]


def feeds_table(conn, night: date) -> Table:
    """One row per catalog feed (every expected feed, received or not)."""
    rows = _fetch(conn, f"""
        with {_CATALOG_CTE}
        select c.source_id, split_part(c.title, ' (', 1) as name, c.title, c.department,
               coalesce(b.status, 'missing') as status,
               b.rows_received, b.rows_accepted, b.rows_quarantined, b.rows_warned,
               quality.quarantine_share(b.rows_quarantined, b.rows_received) as quarantine_share,
               b.code_error_rows, b.return_notices, b.rows_returned, b.rows_resubmitted,
               b.attempts, b.message
        from catalog c
        left join quality.batch_outcomes b on b.source_id = c.source_id and b.logical_date = %(night)s
        order by c.ord
        """, {**_catalog_params(), "night": night})
    specs = {s.source_id: s for s in load_catalog()}
    for row in rows:
        # 缺报 by the catalog's delivery rule (`due`, credit_dw.catalog.delivery_state): a due file
        # drop without a file is missing although its batch ran; a periodic form's other nights
        # expect nothing.
        state = delivery_state(specs[row["source_id"]], night, None if row["status"] == MISSING else row["status"],
                               row["rows_received"])
        row["is_expected"] = state != NOT_DUE_STATE
        row["is_received"] = state in (DELIVERED, REJECTED)
        if state == MISSING_STATE:
            row["status"] = MISSING
        elif state == NOT_DUE_STATE:
            row["status"] = NOT_DUE
    return Table("feeds", "各数据源接收情况", "Feeds expected and received", FEED_COLUMNS, rows)


HEADLINE_COLUMNS = [
    Column("logical_date", "数据日期", "night", "date"),
    Column("feeds_expected", "应报数据源", "feeds expected"),
    Column("feeds_received", "已报数据源", "feeds received"),
    Column("feeds_missing", "缺报数据源", "feeds missing"),
    Column("rows_received", "接收行数", "rows received"),
    Column("rows_accepted", "入库行数", "rows accepted"),
    Column("rows_quarantined", "隔离行数", "rows quarantined"),
    Column("batches_rejected", "整批退回", "batches rejected"),
    Column("code_error_rows", "重错码行数", "duplicate/wrong code rows"),
    Column("missing_feeds", "缺报数据源清单", "missing feeds", "text"),
]


def headline_table(feeds: Table, night: date) -> Table:
    """The headline is the feeds table summed, so page, headline.csv and feeds.csv always agree."""
    received = [r for r in feeds.rows if r["is_received"]]
    missing = [r for r in feeds.rows if r["status"] == MISSING]
    row = {
        "logical_date": night,
        "feeds_expected": sum(1 for r in feeds.rows if r["is_expected"]),
        "feeds_received": len(received),
        "feeds_missing": len(missing),
        "rows_received": sum(r["rows_received"] or 0 for r in received),
        "rows_accepted": sum(r["rows_accepted"] or 0 for r in received),
        "rows_quarantined": sum(r["rows_quarantined"] or 0 for r in received),
        "batches_rejected": sum(1 for r in received if r["status"] == "rejected"),
        "code_error_rows": sum(r["code_error_rows"] or 0 for r in received),
        "missing_feeds": [r["source_id"] for r in missing],
    }
    return Table("headline", "总览", "Headline", HEADLINE_COLUMNS, [row])


def _night_rows_cte(with_units: bool) -> str:
    """Every row of the night's received batches with its department, unit and flags."""
    unit = """,
           coalesce(u.unit_code, '') as unit_code""" if with_units else ""
    unit_join = """
    left join reference.hebei_divisions d on d.division_code = a.division_code
    left join units u on u.unit_code = d.reporting_unit_code""" if with_units else ""
    return f"""
night_rows as (
    select a.source_id, a.department, a.batch_id, a.row_number,
           coalesce(ir.is_quarantined, false) as is_quarantined,
           coalesce(ir.is_code_error, false) as is_code_error,
           coalesce(ir.is_quarantined, false) and exists (
               select 1 from meta.return_notices n
               where n.source_id = a.source_id and n.department = a.department
                 and n.logical_date = %(night)s) as is_returned,
           exists (select 1 from meta.resubmissions s
                   where s.resubmitted_batch_id = a.batch_id
                     and s.resubmitted_row_number = a.row_number) as is_resubmission{unit}
    from quality.batch_outcomes b
    join {ATTRIBUTION_VIEW} a on a.batch_id = b.batch_id
    left join quality.issue_rows ir
           on ir.batch_id = a.batch_id and ir.row_number = a.row_number and ir.logical_date = %(night)s{unit_join}
    where b.logical_date = %(night)s and b.is_received
)"""


_ROW_COUNTS = """
           count(*) as rows_received,
           count(*) filter (where not is_quarantined) as rows_accepted,
           count(*) filter (where is_quarantined) as rows_quarantined,
           quality.quarantine_share(count(*) filter (where is_quarantined), count(*)) as quarantine_share,
           count(*) filter (where is_returned) as rows_returned,
           count(*) filter (where is_resubmission) as rows_resubmitted,
           count(*) filter (where is_code_error) as code_error_rows"""

DEPARTMENT_COLUMNS = [
    Column("feed_name", "数据源", "feed", "text"),
    Column("source_id", "数据源代码", "feed id", "text", on_page=False),
    Column("department", "报送部门", "department", "text"),
    Column("status", "状态", "status", "status"),
    Column("rows_received", "接收行数", "received"),
    Column("rows_accepted", "入库行数", "accepted"),
    Column("rows_quarantined", "隔离行数", "quarantined"),
    Column("quarantine_share", "隔离占比", "quarantine share", "share"),
    Column("code_error_rows", "重错码行数", "dup./wrong codes"),
    Column("return_notices", "退回通知", "return notices"),
    Column("rows_returned", "退回行数", "rows returned"),
    Column("rows_resubmitted", "补报行数", "re-submitted rows"),
]


def departments_table(conn, night: date) -> Table:
    """One row per feed and sending department; a feed with nothing received shows its catalog department."""
    rows = _fetch(conn, f"""
        with {_CATALOG_CTE}, {_night_rows_cte(False)},
        counted as (
            select source_id, department, {_ROW_COUNTS}
            from night_rows group by source_id, department
        ),
        listed as (
            select source_id, department, rows_received, rows_accepted, rows_quarantined, quarantine_share,
                   rows_resubmitted, code_error_rows
            from counted
            union all
            select c.source_id, c.department, 0, 0, 0, null, 0, 0
            from catalog c where not exists (select 1 from counted k where k.source_id = c.source_id)
        )
        select l.source_id, l.department, coalesce(b.status, 'missing') as status,
               l.rows_received, l.rows_accepted, l.rows_quarantined,
               l.quarantine_share, l.code_error_rows,
               count(n.file_name) as return_notices, coalesce(sum(n.rows_returned), 0) as rows_returned,
               l.rows_resubmitted
        from listed l
        join catalog c on c.source_id = l.source_id
        left join quality.batch_outcomes b on b.source_id = l.source_id and b.logical_date = %(night)s
        left join meta.return_notices n
               on n.source_id = l.source_id and n.department = l.department and n.logical_date = %(night)s
        group by l.source_id, l.department, b.status, l.rows_received, l.rows_accepted, l.rows_quarantined,
                 l.quarantine_share, l.code_error_rows, l.rows_resubmitted, c.ord
        order by case coalesce(b.status, 'missing') when 'accepted' then 2 else 1 end,
                 l.quarantine_share desc nulls last, c.ord, l.rows_received desc, l.department
        """, {**_catalog_params(), "night": night})
    for row in rows:
        row["feed_name"] = feed_name(row["source_id"])
    return Table("departments", "按数据源和部门", "Per feed and department", DEPARTMENT_COLUMNS, rows,
                 note="缺报和整批退回在前，其余按隔离占比从高到低。"
                      "Missing and rejected first, then by quarantine share.")


REASON_COLUMNS = [
    Column("feed_name", "数据源", "feed", "text"),
    Column("source_id", "数据源代码", "feed id", "text", on_page=False),
    Column("department", "报送部门", "department", "text"),
    Column("check", "校验规则", "check", "text"),
    Column("check_name", "规则代码", "check id", "text", on_page=False),
    Column("field_label", "字段", "field", "text"),
    Column("field", "字段代码", "field id", "text", on_page=False),
    Column("reason", "原因", "reason", "text"),
    Column("rows_quarantined", "隔离行数", "rows quarantined"),
]


def reasons_table(conn, night: date) -> Table:
    """Quarantined rows by feed, department and failed check (a row failing two checks counts twice)."""
    rows = _fetch(conn, f"""
        with {_CATALOG_CTE}
        select f.source_id, a.department, f.check_name, f.field, f.reason, count(*) as rows_quarantined
        from quality.row_issue_facts f
        join {ATTRIBUTION_VIEW} a on a.batch_id = f.batch_id and a.row_number = f.row_number
        join catalog c on c.source_id = f.source_id
        where f.logical_date = %(night)s and f.severity = 'critical'
        group by f.source_id, a.department, f.check_name, f.field, f.reason, c.ord
        order by c.ord, a.department, count(*) desc, f.check_name
        """, {**_catalog_params(), "night": night})
    return Table("quarantine_reasons", "隔离原因", "Quarantined rows by reason (check)", REASON_COLUMNS,
                 _in_chinese(rows),
                 note="一行可能同时违反多条规则，分别计数。A row failing two checks counts under each.")


CITY_COLUMNS = [
    Column("unit_code", "代码", "code", "text"),
    Column("unit_name", "地市", "city", "text"),
    Column("rows_received", "接收行数", "received"),
    Column("rows_accepted", "入库行数", "accepted"),
    Column("rows_quarantined", "隔离行数", "quarantined"),
    Column("quarantine_share", "隔离占比", "quarantine share", "share"),
    Column("code_error_rows", "重错码行数", "dup./wrong codes"),
    Column("rows_returned", "退回行数", "rows returned"),
    Column("rows_resubmitted", "补报行数", "re-submitted rows"),
]

#: The reporting units [rules §3]: codes that are their own reporting unit and current — the 11
#: cities, 雄安新区, 辛集, 定州 and the province itself (省本级) — plus '' for rows no unit claims.
_UNITS_CTE = """
units as (
    select division_code as unit_code,
           case when division_level = 'province' then '省本级 (' || division_name || ')' else division_name end
               as unit_name,
           case division_level when 'city' then 1 when 'county' then 2 else 3 end as unit_order
    from reference.hebei_divisions
    where division_code = reporting_unit_code and is_current
    union all
    select '', '未能归属 (unknown division)', 4
)"""


def _has_relation(conn, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def cities_table(conn, night: date) -> Table:
    """One row per reporting unit (all of them, zero or not: a blank city is news too [002 #10])."""
    if not _has_relation(conn, "reference.hebei_divisions"):
        return Table("cities", "按地市", "Per city", CITY_COLUMNS, [],
                     note="不可用：未加载 reference.hebei_divisions（运行 dbt seed）。"
                          "Not available: reference.hebei_divisions is not loaded (run dbt seed).")
    rows = _fetch(conn, f"""
        with {_UNITS_CTE}, {_night_rows_cte(True)},
        counted as (select unit_code, {_ROW_COUNTS} from night_rows group by unit_code)
        select u.unit_code, u.unit_name,
               coalesce(k.rows_received, 0) as rows_received, coalesce(k.rows_accepted, 0) as rows_accepted,
               coalesce(k.rows_quarantined, 0) as rows_quarantined, k.quarantine_share,
               coalesce(k.code_error_rows, 0) as code_error_rows, coalesce(k.rows_returned, 0) as rows_returned,
               coalesce(k.rows_resubmitted, 0) as rows_resubmitted
        from units u left join counted k on k.unit_code = u.unit_code
        order by u.unit_order, u.unit_code
        """, {"night": night})
    return Table("cities", "按地市", "Per city (by the row's division, else its USCC characters 3-8)",
                 CITY_COLUMNS, rows,
                 note="地市按记录的行政区划代码归属，无该字段时按统一社会信用代码第3-8位。"
                      "A row counts for the reporting unit of its division code, else of its USCC's characters 3-8.")


CODE_ERROR_COLUMNS = [
    Column("feed_name", "数据源", "feed", "text"),
    Column("source_id", "数据源代码", "feed id", "text", on_page=False),
    Column("check", "校验规则", "check", "text"),
    Column("check_name", "规则代码", "check id", "text", on_page=False),
    Column("severity_zh", "级别", "severity", "text"),
    Column("severity", "级别代码", "severity id", "text", on_page=False),
    Column("field_label", "字段", "field", "text"),
    Column("reason", "原因", "reason", "text"),
    Column("rows_failed", "行数", "rows"),
]


def code_errors_table(conn, night: date) -> Table:
    rows = _fetch(conn, f"""
        with {_CATALOG_CTE}
        select f.source_id, f.check_name, f.field, f.severity, f.reason, f.rows_failed
        from quality.check_failures f join catalog c on c.source_id = f.source_id
        where f.logical_date = %(night)s and quality.is_code_error_check(f.check_name)
        order by c.ord, f.rows_failed desc, f.check_name
        """, {**_catalog_params(), "night": night})
    return Table("code_errors", "重错码", "Duplicate or wrong codes (one code under two names, code conflicts)",
                 CODE_ERROR_COLUMNS, _in_chinese(rows))


TIMELINESS_COLUMNS = [
    Column("decisions_reported", "报送决定数", "reported"),
    Column("decisions_late", "迟报", "late"),
    Column("decisions_omitted", "漏报", "omitted"),
    Column("decisions_concealed", "瞒报", "concealed"),
    Column("late_rate", "迟报率", "late rate", "share"),
    Column("omission_rate", "漏报率", "omission rate", "share"),
    Column("concealment_rate", "瞒报率", "concealment rate", "share"),
    Column("late_rate_30", "迟报率(近30晚)", "late rate, 30 nights", "share"),
    Column("omission_rate_30", "漏报率(近30晚)", "omission rate, 30 nights", "share"),
    Column("concealment_rate_30", "瞒报率(近30晚)", "concealment rate, 30 nights", "share"),
]


def _rates(suffix: str, when: str) -> str:
    """迟报率, 漏报率, 瞒报率 of the counts summed over `when`, by the warehouse's one definition:
    the SQL functions quality.late_rate / omission_rate / concealment_rate (sql/50_quality.sql,
    docs/quality_rates.md) [000 §2.2]."""
    reported = f"sum(decisions_reported) filter (where {when})"
    late = f"sum(decisions_late) filter (where {when})"
    omitted = f"sum(decisions_omitted) filter (where {when})"
    concealed = f"sum(decisions_concealed) filter (where {when})"
    return f"""
           quality.late_rate({late}, {reported}) as late_rate{suffix},
           quality.omission_rate({reported}, {omitted}) as omission_rate{suffix},
           quality.concealment_rate({reported}, {omitted}, {concealed}) as concealment_rate{suffix}"""


def timeliness_tables(conn, night: date) -> tuple[list[Table], str]:
    """Dual-publicity timeliness per department and per city, from the view the dual-publicity feeds own.

    Contract of `quality.qa_dual_publicity_timeliness`: columns source_id, department, city_code,
    logical_date, decisions_reported, decisions_late, decisions_omitted, decisions_concealed
    (one row per feed, department, city and night). Returns the tables and '' — or no tables and
    why: the view does not exist yet, or it does not answer the contract (the rest of the report
    is still written; the section names the error).
    """
    import psycopg

    if not _has_relation(conn, TIMELINESS_VIEW):
        return [], f"Not yet available: the view {TIMELINESS_VIEW} does not exist yet."
    try:
        with conn.transaction():  # a savepoint: a broken view must not abort the report's transaction
            return _timeliness_tables(conn, night), ""
    except psycopg.Error as exc:
        log.warning("quality report %s: %s does not answer its contract: %s", night, TIMELINESS_VIEW, exc)
        return [], (f"Not available: {TIMELINESS_VIEW} does not answer its contract (columns source_id, "
                    f"department, city_code, logical_date, decisions_reported, decisions_late, "
                    f"decisions_omitted, decisions_concealed): {str(exc).strip()}")


def _timeliness_tables(conn, night: date) -> list[Table]:
    today = "logical_date = %(night)s"
    counts = f"""
           coalesce(sum(decisions_reported) filter (where {today}), 0) as decisions_reported,
           coalesce(sum(decisions_late) filter (where {today}), 0) as decisions_late,
           coalesce(sum(decisions_omitted) filter (where {today}), 0) as decisions_omitted,
           coalesce(sum(decisions_concealed) filter (where {today}), 0) as decisions_concealed,
           {_rates('', today)},
           {_rates('_30', 'true')}"""
    window = {"night": night, "start": night - timedelta(days=TREND_NIGHTS - 1)}
    by_department = _fetch(conn, f"""
        select * from (
            select source_id, department, {counts}
            from {TIMELINESS_VIEW} where logical_date between %(start)s and %(night)s
            group by source_id, department
        ) d
        order by greatest(late_rate, omission_rate, concealment_rate) desc nulls last,
                 greatest(late_rate_30, omission_rate_30, concealment_rate_30) desc nulls last, source_id, department
        """, window)
    for row in by_department:
        row["feed_name"] = feed_name(row["source_id"])
    tables = [
        Table("timeliness_departments", "双公示时效：按部门", "Dual-publicity timeliness per department",
              [Column("feed_name", "数据源", "feed", "text"), Column("source_id", "数据源代码", "feed id", "text",
                                                                   on_page=False),
               Column("department", "部门", "department", "text"), *TIMELINESS_COLUMNS], by_department),
        Table("timeliness_cities", "双公示时效：按地市（14个设区市及省直管市、雄安新区）",
              "Dual-publicity timeliness per jurisdiction (the 11 cities, 定州, 辛集, 雄安新区)",
              [Column("city_code", "代码", "code", "text"), Column("city_name", "地市", "city", "text"),
               *TIMELINESS_COLUMNS], _timeliness_by_city(conn, counts, window),
              note="决定归属于决定机关所在的设区市（定州、辛集、雄安新区单列）；省直部门的决定或机关代码无法识别时，"
                   "归属于相对人统一社会信用代码登记地；均无法识别的列为“未能归属”，原因见下表。"
                   "A decision counts for its deciding authority's jurisdiction; a province department's (or an "
                   "unknown authority code) for the subject's registration; else 未能归属 (causes below)."),
    ]
    causes = unattributed_causes(conn, night)
    if causes is not None:
        tables.append(causes)
    return tables


#: The 14 jurisdictions [rules §3] (the 11 cities and 雄安新区, then 辛集 and 定州), then '' for
#: decisions no jurisdiction claims (未能归属).
_JURISDICTIONS_CTE = """
units as (
    select division_code as unit_code, division_name as unit_name,
           case division_level when 'city' then 1 else 2 end as unit_order
    from reference.hebei_divisions
    where division_code = reporting_unit_code and is_current and division_level <> 'province'
    union all
    select '', '未能归属 (unattributed)', 3
)"""


def _timeliness_by_city(conn, counts: str, window: dict) -> list[dict]:
    """Every jurisdiction, zero or not; a city code that is not one of the 14 counts as 未能归属."""
    if not _has_relation(conn, "reference.hebei_divisions"):
        return _fetch(conn, f"""
            select t.city_code, null::text as city_name, {counts}
            from {TIMELINESS_VIEW} t where t.logical_date between %(start)s and %(night)s
            group by t.city_code order by t.city_code
            """, window)
    zero = ", ".join(f"coalesce(k.{c.key}, 0) as {c.key}" if c.kind == "int" else f"k.{c.key}"
                     for c in TIMELINESS_COLUMNS)
    return _fetch(conn, f"""
        with {_JURISDICTIONS_CTE},
        tagged as (
            select coalesce(u.unit_code, '') as unit_code, t.logical_date, t.decisions_reported,
                   t.decisions_late, t.decisions_omitted, t.decisions_concealed
            from {TIMELINESS_VIEW} t
            left join units u on u.unit_code = t.city_code and u.unit_code <> ''
            where t.logical_date between %(start)s and %(night)s
        ),
        counted as (select unit_code, {counts} from tagged group by unit_code)
        select u.unit_code as city_code, u.unit_name as city_name, {zero}
        from units u left join counted k on k.unit_code = u.unit_code
        order by u.unit_order, u.unit_code
        """, window)


DECISIONS_VIEW = "quality.qa_dual_publicity_decisions"

CAUSE_COLUMNS = [
    Column("cause_zh", "未能归属的原因", "cause", "text"),
    Column("cause", "原因代码", "cause id", "text", on_page=False),
    Column("decisions", "决定数(当晚)", "decisions, this night"),
    Column("decisions_30", "决定数(近30晚)", "decisions, 30 nights"),
]


def unattributed_causes(conn, night: date) -> Table | None:
    """未能归属 explained: the decisions counted for no jurisdiction, by cause
    (qa_dual_publicity_decisions.city_basis), counted as the timeliness view counts them (reported
    on its night, omitted / concealed on the night that was established). None when the decisions
    view (or its city_basis) is not there."""
    import psycopg

    if not _has_relation(conn, DECISIONS_VIEW):
        return None
    try:
        with conn.transaction():
            rows = _fetch(conn, f"""
                with counted as (
                    select city_basis, first_reported_on as night from {DECISIONS_VIEW}
                    where city_code is null and is_reported
                    union all
                    select city_basis, established_on from {DECISIONS_VIEW}
                    where city_code is null and status in ('omitted', 'concealed')
                )
                select city_basis as cause, count(*) filter (where night = %(night)s) as decisions,
                       count(*) as decisions_30
                from counted where night between %(start)s and %(night)s
                group by city_basis order by count(*) filter (where night = %(night)s) desc, count(*) desc, 1
                """, {"night": night, "start": night - timedelta(days=TREND_NIGHTS - 1)})
    except psycopg.Error as exc:
        log.warning("quality report %s: %s does not say why decisions are unattributed: %s", night,
                    DECISIONS_VIEW, exc)
        return None
    for row in rows:
        row["cause_zh"] = messages.unattributed_cause_zh(row["cause"])
    return Table("timeliness_unattributed", "未能归属的原因", "Why decisions count for no jurisdiction",
                 CAUSE_COLUMNS, rows)


#: A city code of the handling marts (first four digits of a division code + 00) as the page names
#: it: the division's name from the reference, 省本级 for 130000, 未能归属 for a code it does not know.
_HANDLING_CITY_NAME = """
    case
        when d.division_level = 'province' then '省本级 (' || d.division_name || ')'
        when d.division_name is not null then d.division_name
        else '未能归属 (unknown division)'
    end"""

OBJECTION_HANDLING_COLUMNS = [
    Column("rank", "排名", "rank"),
    Column("providing_department", "信息提供部门", "providing department", "text"),
    Column("city_code", "代码", "code", "text"),
    Column("city_name", "地市", "city", "text"),
    Column("objection_count", "异议数", "objections"),
    Column("open_count", "未办结", "open"),
    Column("overdue_count", "超期", "overdue"),
    Column("valid_objection_count", "有效异议", "valid"),
    Column("valid_error_count", "错误", "error"),
    Column("valid_omission_count", "遗漏", "omission"),
    Column("valid_duplicate_publicity_count", "重复公示", "duplicate publicity"),
    Column("valid_should_not_be_public_count", "不应公示", "should not be public"),
    Column("valid_over_period_publicity_count", "超期公示", "over-period publicity"),
    Column("avg_acceptance_working_days", "平均受理用时(工作日)", "avg. acceptance, working days", "decimal"),
    Column("avg_verification_working_days", "平均核查用时(工作日)", "avg. verification, working days", "decimal"),
    Column("notice_date_missing_count", "无核查通知日期", "no notice date"),
    Column("record_not_found_count", "未找到原记录", "record not found"),
    Column("as_of_on", "统计日期", "as of", "date", on_page=False),
]

REPAIR_HANDLING_COLUMNS = [
    Column("rank", "排名", "rank"),
    Column("handling_department", "受理部门", "handling department", "text"),
    Column("city_code", "代码", "code", "text"),
    Column("city_name", "地市", "city", "text"),
    Column("application_count", "申请数", "applications"),
    Column("decided_count", "已办结", "decided"),
    Column("repaired_count", "修复成功", "repaired"),
    Column("rejected_count", "修复不通过", "rejected", on_page=False),
    Column("refused_count", "不予受理", "refused", on_page=False),
    Column("success_rate", "修复成功率", "success rate", "share"),
    Column("overdue_count", "超期", "overdue"),
    Column("open_overdue_count", "其中未办结", "of which open"),
    Column("deadline_unknown_count", "时限未知", "deadline unknown"),
    Column("as_of_on", "统计日期", "as of", "date", on_page=False),
]


def handling_tables(conn) -> tuple[list[Table], str]:
    """The office's objection and repair handling figures [000 §2.12-2.13], from the marts
    `OBJECTION_HANDLING` and `REPAIR_HANDLING` as the last dbt build left them (their as_of_on
    says for which night), worst first: most overdue, then most still open.

    Returns the two tables and '' — or no tables and why: a mart does not exist yet (dbt has not
    built it), or it does not answer the query (the rest of the report is still written).
    """
    import psycopg

    missing = [name for name in (OBJECTION_HANDLING, REPAIR_HANDLING) if not _has_relation(conn, name)]
    if missing:
        return [], f"Not yet available: {', '.join(missing)} not built yet (dbt builds the marts each night)."
    try:
        with conn.transaction():  # a savepoint: a broken mart must not abort the report's transaction
            return _handling_tables(conn), ""
    except psycopg.Error as exc:
        log.warning("quality report: the handling marts do not answer the report's query: %s", exc)
        return [], f"Not available: {OBJECTION_HANDLING} / {REPAIR_HANDLING}: {str(exc).strip()}"


def _handling_tables(conn) -> list[Table]:
    has_reference = _has_relation(conn, "reference.hebei_divisions")
    name = _HANDLING_CITY_NAME if has_reference else "null::text"
    divisions = ("left join reference.hebei_divisions d on d.division_code = h.city_code" if has_reference
                 else "")
    objections = _fetch(conn, f"""
        select h.providing_department, h.city_code, {name} as city_name,
               h.objection_count, h.open_count, h.overdue_count, h.valid_objection_count,
               h.valid_error_count, h.valid_omission_count, h.valid_duplicate_publicity_count,
               h.valid_should_not_be_public_count, h.valid_over_period_publicity_count,
               h.avg_acceptance_working_days, h.avg_verification_working_days,
               h.notice_date_missing_count, h.record_not_found_count, h.as_of_on
        from {OBJECTION_HANDLING} h {divisions}
        order by h.overdue_count desc, h.open_count desc, h.valid_objection_count desc,
                 h.providing_department, h.city_code
        """, {})
    repairs = _fetch(conn, f"""
        select h.handling_department, h.city_code, {name} as city_name,
               h.application_count, h.decided_count, h.repaired_count, h.rejected_count, h.refused_count,
               h.success_rate, h.overdue_count, h.open_overdue_count, h.deadline_unknown_count, h.as_of_on
        from {REPAIR_HANDLING} h {divisions}
        order by h.overdue_count desc, h.open_overdue_count desc, h.success_rate nulls first,
                 h.handling_department, h.city_code
        """, {})
    for rows in (objections, repairs):
        for rank, row in enumerate(rows, start=1):
            row["rank"] = rank
    return [
        Table("objection_handling", "异议办理：按信息提供部门和地市",
              "Objection handling per providing department and city", OBJECTION_HANDLING_COLUMNS, objections,
              note="按超期件数排序（多者在前）。有效异议 = 经核查更正或撤销；信息提供部门 = 被异议信息的提供部门，"
                   "未找到原记录的计入受理部门。核查时限：自收到核查通知之日起，市场主体15个工作日、自然人20个工作日 "
                   "[001 2018 plan §4.9; 001 2017 §5.3]。Worst first (most overdue). Valid = corrected or "
                   "revoked after verification; an objection whose record is not found counts under the "
                   "department that received it."),
        Table("repair_handling", "信用修复办理：按受理部门和地市",
              "Credit repair handling per handling department and city", REPAIR_HANDLING_COLUMNS, repairs,
              note="按超期件数排序（多者在前）。修复成功率 = 修复成功 ÷ 已办结（含不予受理）；超期按省信用办"
                   "自定的办理时限（seeds/handling_deadlines.csv，工作日）计 [000 §2.12]。Worst first (most "
                   "overdue). Success rate = repaired ÷ decided (refusals included); overdue against the "
                   "office's own deadline."),
    ]


TREND_COLUMNS = [
    Column("logical_date", "日期", "night", "date"),
    Column("feeds_received", "已报数据源", "feeds received"),
    Column("batches_rejected", "整批退回", "batches rejected"),
    Column("rows_received", "接收行数", "rows received"),
    Column("rows_quarantined", "隔离行数", "rows quarantined"),
    Column("quarantine_share", "隔离占比", "quarantine share", "share"),
]


def trend_table(conn, night: date) -> Table:
    rows = _fetch(conn, """
        select n::date as logical_date, coalesce(t.feeds_received, 0) as feeds_received,
               coalesce(t.batches_rejected, 0) as batches_rejected,
               coalesce(t.rows_received, 0) as rows_received, coalesce(t.rows_quarantined, 0) as rows_quarantined,
               t.quarantine_share
        from generate_series(%(start)s::date, %(night)s::date, interval '1 day') as n
        left join quality.nightly_totals t on t.logical_date = n::date
        order by 1
        """, {"night": night, "start": night - timedelta(days=TREND_NIGHTS - 1)})
    return Table("trend_nights", "近30晚趋势", f"Last {TREND_NIGHTS} nights", TREND_COLUMNS, rows)


FEED_TREND_COLUMNS = [
    Column("logical_date", "日期", "night", "date"),
    Column("source_id", "数据源", "feed", "text"),
    Column("status", "状态", "status", "status"),
    Column("rows_received", "接收行数", "rows received"),
    Column("rows_quarantined", "隔离行数", "rows quarantined"),
    Column("quarantine_share", "隔离占比", "quarantine share", "share"),
]


def feed_trend_table(conn, night: date) -> Table:
    rows = _fetch(conn, f"""
        with {_CATALOG_CTE}
        select b.logical_date, b.source_id, b.status, b.rows_received, b.rows_quarantined,
               quality.quarantine_share(b.rows_quarantined, b.rows_received) as quarantine_share
        from quality.batch_outcomes b join catalog c on c.source_id = b.source_id
        where b.logical_date between %(start)s and %(night)s
        order by b.logical_date, c.ord
        """, {**_catalog_params(), "night": night, "start": night - timedelta(days=TREND_NIGHTS - 1)})
    return Table("trend_feed_share", "各数据源隔离占比趋势", "Quarantine share per feed, last 30 nights",
                 FEED_TREND_COLUMNS, rows)


WORST_FIELD_COLUMNS = [
    Column("rank", "排名", "rank"),
    Column("feed_name", "数据源", "feed", "text"),
    Column("source_id", "数据源代码", "feed id", "text", on_page=False),
    Column("field_label", "字段", "field", "text"),
    Column("field", "字段代码", "field id", "text", on_page=False),
    Column("source_column", "源字段名", "source column", "text", on_page=False),
    Column("rows_failed", "问题行数", "rows failed"),
    Column("rows_quarantined", "其中隔离", "of which quarantined"),
    Column("share_of_received", "占接收行数", "share of rows received", "share"),
    Column("checks_zh", "校验规则", "checks", "text"),
    Column("checks", "规则代码", "check ids", "text", on_page=False),
    Column("drilldown_page", "明细", "drill-down", "text"),
    Column("drilldown_file", "明细文件", "drill-down file", "text", on_page=False),
]


def drilldown_name(source_id: str, field_name: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in field_name)
    return f"fields/{source_id}__{safe}.csv"


def worst_fields_table(conn, night: date) -> Table:
    rows = _fetch(conn, f"""
        with {_CATALOG_CTE}
        select f.source_id, f.field, f.rows_failed, f.rows_quarantined,
               f.rows_failed::numeric / nullif(b.rows_received, 0) as share_of_received, f.checks
        from quality.field_failures f
        join catalog c on c.source_id = f.source_id
        join quality.batch_outcomes b on b.source_id = f.source_id and b.logical_date = f.logical_date
        where f.logical_date = %(night)s
        order by f.rows_failed desc, c.ord, f.field
        limit {WORST_FIELDS}
        """, {**_catalog_params(), "night": night})
    specs = {s.source_id: s for s in load_catalog()}
    table = Table("worst_fields", "问题最多的字段", f"Worst fields (top {WORST_FIELDS} by failed rows)",
                  WORST_FIELD_COLUMNS, [],
                  note="点击明细查看每一行的原始值、规则和原因（网页，可打印；同名 CSV 供 Excel 使用）。The drill-down "
                       "page lists every failed row with its raw values, check and reason; the CSV beside it "
                       "holds the same rows.")
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
        row["source_column"] = specs[row["source_id"]].fields.get(row["field"], "")
        row["feed_name"] = feed_name(row["source_id"])
        row["field_label"] = messages.field_label(row["field"], row["source_column"])
        row["checks_zh"] = [messages.check_name_zh(c) for c in row["checks"]]
        row["drilldown_file"] = drilldown_name(row["source_id"], row["field"])
        row["drilldown_page"] = row["drilldown_file"].removesuffix(".csv") + ".html"
        table.links[rank - 1] = row["drilldown_page"]
        table.rows.append(row)
    return table


DRILLDOWN_HEADER = ["批次 batch_id", "批次行号 row_number", "来源 source_file", "来源行号 source_row",
                    "校验规则 checks", "级别 severity", "问题说明 reasons"]


def drilldown_rows(conn, spec: SourceSpec, night: date, field_name: str) -> tuple[list[str], list[tuple]]:
    """Every row of the night failing a check on the field: where it stood, what failed, its raw values.

    Headers are `中文 key` like every report CSV: the field's Chinese label (the feed's own Chinese
    header, else the message catalogue's), not a database feed's pinyin column. Checks, severities
    and reasons read Chinese. 来源 / 来源行号: the delivered file and its row for file feeds, the
    request and record for interfaces; a database feed's rows come from its table, named with the
    batch's landing file, and their row is the landing file's record (`_row_number`).
    """
    from psycopg import sql

    values = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(f)) for f in spec.canonical_fields)
    origin = f"数据库表 {spec.relation}" if spec.relation else spec.source_id
    query = sql.SQL("""
        select f.batch_id, f.row_number,
               coalesce(r._source_file,
                        {origin} || coalesce('（落地文件 ' || regexp_replace(b.landing_file, '^.*/', '') || '）', '')),
               coalesce(r._source_row, r._row_number),
               array_agg(f.check_name order by f.check_name),
               array_agg(f.severity order by f.check_name),
               array_agg(f.reason order by f.check_name),
               {values}
        from quality.row_issue_facts f
        join {raw} r on r._batch_id = f.batch_id and r._row_number = f.row_number
        join meta.load_batches b on b.batch_id = f.batch_id
        where f.source_id = %(source_id)s and f.logical_date = %(night)s and f.field = %(field)s
        group by f.batch_id, f.row_number, r._batch_id, r._row_number, b.landing_file
        order by f.batch_id, f.row_number
    """).format(values=values, raw=sql.Identifier("raw", spec.raw_table), origin=sql.Literal(origin))
    label = messages.field_label(field_name, spec.fields.get(field_name))
    rows = []
    for batch_id, row_number, source, source_row, checks, severities, reasons, *raw in conn.execute(
            query, {"source_id": spec.source_id, "night": night, "field": field_name}).fetchall():
        rows.append((batch_id, row_number, source, source_row,
                     "; ".join(messages.check_name_zh(c) for c in checks),
                     "; ".join(messages.severity_zh(v) for v in severities),
                     "; ".join(messages.reason_zh(c, label, r) for c, r in zip(checks, reasons, strict=True)),
                     *raw))
    headers = [*DRILLDOWN_HEADER,
               *(f"{messages.field_label(f, spec.fields.get(f))} {f}" for f in spec.canonical_fields)]
    return headers, [_masked(spec, row, len(DRILLDOWN_HEADER)) for row in rows]


#: A resident ID number (GB 11643-1999, 18 characters; the old 15-digit form too) anywhere in a value.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8}|\d{5})(\d{3}[0-9Xx]|\d{1})(?![0-9A-Za-z])")
#: Fields holding a natural person's name (masked like the marts' masked_person_name: 张**), and
#: fields that may hold a resident ID number.
PERSON_NAME_FIELDS = {"legal_representative"}
PERSON_ID_FIELDS = {"legal_representative_id", "id_number"}


def _masked(spec: SourceSpec, row: tuple, offset: int) -> tuple:
    """A drill-down line as the marts show people [rules §9]: resident ID numbers kept to their
    first 6 and last 4 characters (130102********123X), natural persons' names to their first
    character. The office sees which row failed, not whose number it is."""
    values = list(row)
    for i, field_name in enumerate(spec.canonical_fields, start=offset):
        value = values[i]
        if not isinstance(value, str) or not value:
            continue
        if field_name in PERSON_NAME_FIELDS:
            values[i] = value[0] + "*" * max(len(value) - 1, 1)
        elif field_name in PERSON_ID_FIELDS:
            values[i] = _RESIDENT_ID.sub(lambda m: m[1] + "*" * (len(m[0]) - 10) + m[0][-4:], value)
    return tuple(values)


# ---------------------------------------------------------------------------------------------
# 今日督办: whom the office calls today


def timeliness_total(conn, night: date) -> Table | None:
    """The whole province's 迟报率 / 漏报率 / 瞒报率 for the night and the last 30 nights (the
    headline's figures), by the one definition; None when the timeliness view is not there."""
    import psycopg

    if not _has_relation(conn, TIMELINESS_VIEW):
        return None
    today = "logical_date = %(night)s"
    try:
        with conn.transaction():
            rows = _fetch(conn, f"""
                select coalesce(sum(decisions_reported) filter (where {today}), 0) as decisions_reported,
                       coalesce(sum(decisions_late) filter (where {today}), 0) as decisions_late,
                       coalesce(sum(decisions_omitted) filter (where {today}), 0) as decisions_omitted,
                       coalesce(sum(decisions_concealed) filter (where {today}), 0) as decisions_concealed,
                       {_rates('', today)}, {_rates('_30', 'true')}
                from {TIMELINESS_VIEW} where logical_date between %(start)s and %(night)s
                """, {"night": night, "start": night - timedelta(days=TREND_NIGHTS - 1)})
    except psycopg.Error:
        return None
    return Table("timeliness_total", "双公示时效：全省", "Dual-publicity timeliness, whole province",
                 TIMELINESS_COLUMNS, rows)


CALL_COLUMNS = [
    Column("rank", "序号", "rank"),
    Column("issue", "问题", "issue", "text"),
    Column("scope", "对象类型", "scope", "text"),
    Column("who", "部门或地市", "department or city", "text"),
    Column("feed_name", "数据源", "feed", "text"),
    Column("value_text", "当晚", "tonight", "text"),
    Column("yesterday_text", "前一晚", "the night before", "text"),
    Column("change_text", "变化", "change", "text"),
    Column("value_30_text", "近30晚", "last 30 nights", "text"),
    Column("value", "当晚数值", "value", "decimal", on_page=False),
    Column("value_yesterday", "前一晚数值", "value_yesterday", "decimal", on_page=False),
    Column("value_30", "近30晚数值", "value_30", "decimal", on_page=False),
    Column("issue_key", "问题代码", "issue id", "text", on_page=False),
]

#: How many rate rows the call list shows (after every silent sender, refused batch and file).
CALL_RATES = 15

#: The rates the call list ranks, per table row: (key, issue in Chinese).
_RATE_ISSUES = (("late_rate", "迟报率"), ("omission_rate", "漏报率"), ("concealment_rate", "瞒报率"))


def _pct(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"


def _points(value, before) -> str:
    if value is None or before is None:
        return "—" if value is None else "新增"
    delta = (float(value) - float(before)) * 100
    return "持平" if abs(delta) < 0.05 else f"{delta:+.1f} 个百分点"


def refused_files(conn, night: date) -> dict[tuple[str, str], int]:
    """(source_id, department) -> files refused whole that night (meta.return_notices.files_refused)."""
    return {(s, d): int(n) for s, d, n in conn.execute(
        """select source_id, department, sum(files_refused) from meta.return_notices
           where logical_date = %s and files_refused > 0 group by 1, 2""", (night,)).fetchall()}


def call_list_table(night: date, feeds: Table, feeds_before: Table, departments: Table, departments_before: Table,
                    refused: dict, refused_before: dict, timeliness: list[Table],
                    timeliness_before: list[Table]) -> Table:
    """今日督办 — who the office calls today, worst first, every figure beside the night before's:
    1. silent senders (缺报: no batch, or it failed), 2. batches refused whole (整批退回), 3. files
    refused (拒收文件), then 4. the highest rates: 迟报率 / 漏报率 / 瞒报率 per department and per
    jurisdiction, and 隔离占比 per feed and department, each above 0, at most CALL_RATES rows.
    Built from the report's own tables, so every figure equals a cell of those tables' CSVs."""
    rows: list[dict] = []
    before_status = {r["source_id"]: r["status"] for r in feeds_before.rows}
    for f in feeds.rows:
        if f["status"] == MISSING:
            was = before_status.get(f["source_id"], MISSING)
            rows.append({"issue_key": "missing", "issue": "缺报", "scope": "部门", "who": f["department"],
                         "feed_name": f["name"], "value_text": "缺报", "value": 1,
                         "yesterday_text": {MISSING: "缺报", NOT_DUE: "未到报送期"}.get(was, "已报"),
                         "value_yesterday": 1 if was == MISSING else 0,
                         "change_text": "连续缺报" if was == MISSING else "新增",
                         "value_30_text": "", "value_30": None})
    for f in feeds.rows:
        if f["status"] == "rejected":
            was = before_status.get(f["source_id"])
            rows.append({"issue_key": "batch_rejected", "issue": "整批退回", "scope": "部门", "who": f["department"],
                         "feed_name": f["name"], "value_text": _pct(f["quarantine_share"]) + " 未通过",
                         "value": f["quarantine_share"], "yesterday_text": "整批退回" if was == "rejected" else "",
                         "value_yesterday": None, "change_text": "连续退回" if was == "rejected" else "新增",
                         "value_30_text": "", "value_30": None})
    for (source_id, department), count in sorted(refused.items(), key=lambda kv: (-kv[1], kv[0])):
        before = refused_before.get((source_id, department), 0)
        rows.append({"issue_key": "files_refused", "issue": "文件被拒收", "scope": "部门", "who": department,
                     "feed_name": feed_name(source_id), "value_text": f"{count} 个文件", "value": count,
                     "yesterday_text": f"{before} 个文件", "value_yesterday": before,
                     "change_text": f"{count - before:+d}", "value_30_text": "", "value_30": None})
    rates: list[dict] = []
    shares_before = {(r["source_id"], r["department"]): r["quarantine_share"] for r in departments_before.rows}
    for r in departments.rows:
        if r["quarantine_share"]:
            before = shares_before.get((r["source_id"], r["department"]))
            rates.append({"issue_key": "quarantine_share", "issue": "隔离占比", "scope": "部门", "who": r["department"],
                          "feed_name": r["feed_name"], "value": r["quarantine_share"], "value_yesterday": before,
                          "value_30": None})
    tables = {t.name: t for t in timeliness}
    tables_before = {t.name: t for t in timeliness_before}
    for name, scope, key in (("timeliness_departments", "部门", ("source_id", "department")),
                             ("timeliness_cities", "地市", ("city_code",))):
        if name not in tables:
            continue
        before_rows = {tuple(r[k] for k in key): r for r in tables_before[name].rows} if name in tables_before else {}
        for r in tables[name].rows:
            if scope == "地市" and not r["city_code"]:
                continue  # 未能归属 is nobody to call; its causes are listed in the section
            before = before_rows.get(tuple(r[k] for k in key), {})
            for rate, issue in _RATE_ISSUES:
                if r[rate] or r[f"{rate}_30"]:
                    rates.append({"issue_key": rate, "issue": issue, "scope": scope,
                                  "who": r["department"] if scope == "部门" else r["city_name"],
                                  "feed_name": r.get("feed_name", "全部"), "value": r[rate],
                                  "value_yesterday": before.get(rate), "value_30": r[f"{rate}_30"]})
    rates.sort(key=lambda r: (-float(r["value"] or 0), -float(r["value_30"] or 0), r["issue_key"], r["who"]))
    for r in rates[:CALL_RATES]:
        r.update(value_text=_pct(r["value"]), yesterday_text=_pct(r["value_yesterday"]),
                 change_text=_points(r["value"], r["value_yesterday"]), value_30_text=_pct(r["value_30"]))
        rows.append(r)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return Table("call_list", "今日督办：请优先联系", "Who to call today, worst first", CALL_COLUMNS, rows,
                 note="依次为：缺报（当晚无批次或处理失败）、整批退回、文件被拒收，然后按比率从高到低列出迟报率、漏报率、"
                      "瞒报率（按部门和地市）及隔离占比（按数据源和部门），每项附前一晚和近30晚的数值。"
                      "Silent senders first, then refused batches and files, then the highest rates, each "
                      "beside the night before and the last 30 nights.")

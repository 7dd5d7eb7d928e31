"""The daily data-quality report (数据质量日报) for the province credit office (省信用办).

Each morning the office reads, per department and per city, what came in last night, what was
held back and why, and how that trends, and chases the departments whose records are late,
missing, wrong or duplicated [rules §5; 000 §2.2-2.4]. `write_quality_report(D)` writes

    $CREDIT_DW_HOME/reports/quality/<D>/index.html      the page (Chinese, English subtitles)
    $CREDIT_DW_HOME/reports/quality/<D>/<table>.csv      one CSV per table of the page
    $CREDIT_DW_HOME/reports/quality/<D>/fields/<source_id>__<field>.csv   drill-down of a worst field

Contract:
- Rebuilt from the warehouse for any past night: it reads only `meta` (through the views of
  `sql/50_quality.sql`), the raw tables (row values and the row's department and division) and
  `reference.hebei_divisions`. Rerunning a night rewrites the directory. The one exception is the
  section on objection and repair handling: it reads the marts `rpt_objection_handling` and
  `rpt_repair_handling` as the last dbt build left them, and says for which night (as_of_on).
- Every number on the page is a cell of one of the CSVs: each table is one query, written to its
  CSV and rendered from the same rows (the headline is the sum of the feeds table).
- CSVs are UTF-8 with BOM (Excel on an office PC), CRLF, header cells "中文 key": the last word
  is a stable English key for scripts.
- Charts are inline SVG drawn with matplotlib (`credit_dw.reports.quality.charts`): no
  JavaScript, no CDN, readable offline and in print. The same rows give the same chart bytes; the
  page differs between two writes of a night only in its generation time.

City attribution (per-source views `quality.row_attribution__<source_id>`, rebuilt from the
catalog before every report): a row belongs to the division in its catalog field named by the
entry's `division_field` key, else its `division_code` field, else characters 3-8 of its USCC
(the registering authority's division [rules §2]); an empty division column falls back to the
USCC. The division maps to its reporting unit (`reference.hebei_divisions.reporting_unit_code`:
the 11 cities, 定州, 辛集, 雄安新区 [rules §3]); 130000 is 省本级, anything else 未能归属.
The department of a row is its `source_department` (数据来源单位) when the feed has one, else the
catalog's department, as in the return notices (credit_dw.ingest.returns).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from credit_dw.catalog import load_catalog
from credit_dw.config import settings
from credit_dw.db.connect import connect
from credit_dw.reports.quality.charts import (
    bar_chart_svg,
    line_chart_svg,
)
from credit_dw.reports.quality.queries import (
    TREND_NIGHTS,
    Column,
    Table,
    call_list_table,
    cities_table,
    code_errors_table,
    csv_bytes,
    departments_table,
    display,
    drilldown_name,
    drilldown_rows,
    ensure_attribution_views,
    feed_trend_table,
    feeds_table,
    handling_tables,
    headline_table,
    reasons_table,
    refused_files,
    table_csv,
    timeliness_tables,
    timeliness_total,
    trend_table,
    worst_fields_table,
)

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent / "templates" / "quality_report.html"

# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class QualityReport:
    logical_date: date
    directory: Path
    index_html: Path
    csv_files: dict[str, Path]  # table name -> CSV
    drilldown_files: dict[tuple[str, str], Path]  # (source_id, field) -> CSV
    headline: dict
    timeliness_available: bool
    handling_available: bool


def report_dir(logical_date: date) -> Path:
    return settings.reports_dir() / "quality" / logical_date.isoformat()


def _render(context: dict, template: str = TEMPLATE.name) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["show"] = display
    return env.get_template(template).render(**context)


def department_page(department: str) -> str:
    """The relative path of a department's drill-down page (a stable name: its name's md5)."""
    return f"departments/{hashlib.md5(department.encode('utf-8')).hexdigest()[:12]}.html"


def _write_page(staged: Path, relative: str, night: date, title: str, title_en: str, note: str,
                tables: list[Table]) -> None:
    """A drill-down page and, beside it, one CSV per table (`<page>__<table>.csv`, or the table's own
    name when it already is the page's CSV)."""
    path = staged / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    for table in tables:
        (path.parent / table.file_name).write_bytes(table_csv(table))
    up = "../" * relative.count("/")  # fields/… and departments/… pages sit one folder down
    path.write_text(_render({"night": night, "title": title, "title_en": title_en, "note": note, "tables": tables,
                             "back": f"{up}index.html", "about": f"{up}{ABOUT_PAGE}"}, "drilldown.html"),
                    encoding="utf-8")


#: The report's "about these figures" page, linked from every page's footer.
ABOUT_PAGE = "about.html"

#: (term, definition, where it shows) — the office's words for every figure of the report.
ABOUT_TERMS = (
    ("接收", "当晚通过质量闸门的批次（已接收或整批退回）中的行。",
     "总览、各数据源、各部门"),
    ("入库 / 隔离", "接收 = 入库 + 隔离。隔离行未通过关键校验，连同原因退回报送部门，"
     "等待补报；入库行进入数据仓库。", "总览、各数据源、各部门"),
    ("隔离占比", "隔离行数 ÷ 接收行数。", "各数据源、各部门、今日督办"),
    ("整批退回", "一个批次未通过校验的行超过该数据源的阈值时，整批退回，"
     "全部行按“整批退回”隔离。", "各数据源、今日督办"),
    ("拒收文件", "无法读取或缺少必备列的文件单独拒收，附原因退回其报送部门；"
     "同批次的其他文件照常入库。", "今日督办、退回通知"),
    ("应报 / 缺报", "按目录中的报送周期：系统接口每晚应报；水电气账单每月5日、"
     "海关认证每月1日和15日应报。应报而未报（无批次、处理失败，或文件报送的数据源"
     "当晚无任何文件）为缺报；非报送日未报为“未到报送期”，不计入应报。", "总览、今日督办"),
    ("迟报率", "迟报决定数 ÷ 已报送决定数。决定日期后第7个工作日（按官方调休日历）"
     "之后才报送的为迟报。", "双公示时效、今日督办、月度通报"),
    ("漏报率", "漏报决定数 ÷（已报送 + 漏报）。部门台账中有、截止日前未报送的决定"
     "为漏报。", "双公示时效、月度通报"),
    ("瞒报率", "瞒报决定数 ÷（已报送 + 漏报 + 瞒报）。国家平台推送、部门台账中也没有、"
     "截止日前未报送的决定为瞒报。", "双公示时效、月度通报"),
    ("一项决定", "按数据源、数据来源单位和决定文书号（忽略空格、全半角和括号差异）"
     "识别；重复报送只算一次。", "双公示时效"),
    ("区划归属", "决定机关属于11个设区市、定州、辛集或雄安新区之一的，归该区划；"
     "否则按主体登记地；都不能确定的为“未能归属”，其原因另表列出。", "各区划、月度通报"),
    ("重错码", "同一统一社会信用代码对应不同名称，或代码与登记信息冲突的行。",
     "总览、重错码"),
    ("个人信息", "身份证号码只显示前6位和后4位，自然人姓名只显示首字；"
     "明细中不出现完整号码或姓名。", "所有明细页和 CSV"),
)


def about_table() -> Table:
    columns = [Column("term", "名词", "term", "text"), Column("definition", "口径", "definition", "text"),
               Column("shown_in", "出现位置", "shown in", "text")]
    return Table("about", "口径说明", "Definitions", columns,
                 [{"term": t, "definition": d, "shown_in": w} for t, d, w in ABOUT_TERMS])


def _field_table(name: str, headers: list[str], rows: list[tuple]) -> Table:
    columns = [Column(h.rsplit(" ", 1)[-1], h.rsplit(" ", 1)[0], h.rsplit(" ", 1)[-1], "text") for h in headers]
    return Table(name, "未通过校验的行", "Rows failing a check on the field", columns,
                 [dict(zip((c.key for c in columns), row, strict=True)) for row in rows])


def _department_tables(department: str, stem: str, sources: list[Table]) -> list[Table]:
    """One department's rows of the report's tables (call list, feeds, reasons, timeliness)."""
    key = {"call_list": "who"}
    return [Table(f"{stem}__{t.name}", t.zh, t.en, t.columns,
                  [r for r in t.rows if r.get(key.get(t.name, "department")) == department], note=t.note)
            for t in sources]


def _replace_directory(target: Path, staged: Path) -> None:
    """Swap the staged report in; the old one is removed only after the new one is in place."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)


def write_quality_report(logical_date: date) -> QualityReport:
    """Write (or rewrite) the night's quality report from the warehouse; see the module docstring."""
    specs = {s.source_id: s for s in load_catalog()}
    with connect() as conn:
        ensure_attribution_views(conn)
        conn.commit()
        feeds = feeds_table(conn, logical_date)
        headline = headline_table(feeds, logical_date)
        departments = departments_table(conn, logical_date)
        reasons = reasons_table(conn, logical_date)
        cities = cities_table(conn, logical_date)
        code_errors = code_errors_table(conn, logical_date)
        timeliness, timeliness_problem = timeliness_tables(conn, logical_date)
        total = timeliness_total(conn, logical_date) if timeliness else None
        before = logical_date - timedelta(days=1)
        call_list = call_list_table(
            logical_date, feeds, feeds_table(conn, before), departments, departments_table(conn, before),
            refused_files(conn, logical_date), refused_files(conn, before), timeliness,
            timeliness_tables(conn, before)[0] if timeliness else [])
        handling, handling_problem = handling_tables(conn)
        trend = trend_table(conn, logical_date)
        feed_trend = feed_trend_table(conn, logical_date)
        worst = worst_fields_table(conn, logical_date)
        drilldowns = {
            (row["source_id"], row["field"]): drilldown_rows(conn, specs[row["source_id"]], logical_date, row["field"])
            for row in worst.rows
        }

    tables = [call_list, headline, *([total] if total else []), feeds, departments, reasons, cities, code_errors,
              *timeliness, *handling, trend, feed_trend,
              worst]
    target = report_dir(logical_date)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.new")
    shutil.rmtree(staged, ignore_errors=True)
    (staged / "fields").mkdir(parents=True)
    csv_files = {}
    for table in tables:
        (staged / table.file_name).write_bytes(table_csv(table))
        csv_files[table.name] = target / table.file_name
    drilldown_files = {}
    for (source_id, field_name), (headers, rows) in drilldowns.items():
        name = drilldown_name(source_id, field_name)
        (staged / name).write_bytes(csv_bytes(headers, rows))
        drilldown_files[(source_id, field_name)] = target / name
        row = next(r for r in worst.rows if (r["source_id"], r["field"]) == (source_id, field_name))
        _write_page(staged, name.removesuffix(".csv") + ".html", logical_date,
                    f"{row['feed_name']} · {row['field_label']}", f"drill-down: {source_id}.{field_name}",
                    f"校验规则：{'、'.join(row['checks_zh'])}。身份证号码仅保留前6位和后4位，自然人姓名仅保留首字。",
                    [_field_table(Path(name).stem, headers, rows)])
    # "About these figures" (关于本报告的数字): every term of the page defined once, in the office's words.
    _write_page(staged, ABOUT_PAGE, logical_date, "关于本报告的数字", "about these figures",
                "本页解释报告中每个数字的口径。日报、部门明细页和月度通报中的各项比率使用同一定义，"
                "由数据仓库统一计算。",
                [about_table()])
    # One page per department: its call-list items, feeds, reasons and timeliness.
    by_department = [t for t in (call_list, departments, reasons, *timeliness[:1]) if t.rows]
    for index, row in enumerate(departments.rows):
        departments.links[index] = department_page(row["department"])
    departments.link_key = "department"
    for department in sorted({r["department"] for r in departments.rows}):
        relative = department_page(department)
        _write_page(staged, relative, logical_date, department, "per-department drill-down",
                    "本部门当晚的督办事项、接收与隔离、隔离原因和双公示时效。",
                    _department_tables(department, Path(relative).stem, by_department))

    generated = datetime.now(ZoneInfo(settings.TIMEZONE))
    page = _render({
        "night": logical_date,
        "generated_at": f"{generated:%Y-%m-%d %H:%M} (北京时间 Beijing time)",
        "headline": headline.rows[0],
        "headline_table": headline,
        "call_list": call_list,
        "total": total.rows[0] if total else None,
        "total_table": total,
        "feeds": feeds,
        "departments": departments,
        "reasons": reasons,
        "cities": cities,
        "code_errors": code_errors,
        "timeliness": timeliness,
        "timeliness_problem": timeliness_problem,
        "handling": handling,
        "handling_problem": handling_problem,
        "handling_as_of": sorted({row["as_of_on"] for t in handling for row in t.rows}),
        "trend": trend,
        "feed_trend": feed_trend,
        "worst": worst,
        "trend_nights": TREND_NIGHTS,
        "received_chart": bar_chart_svg(trend),
        "share_chart": line_chart_svg(trend, feed_trend),
    })
    (staged / "index.html").write_text(page, encoding="utf-8")
    _replace_directory(target, staged)
    log.info("quality report %s: %s", logical_date, target / "index.html")
    return QualityReport(
        logical_date=logical_date,
        directory=target,
        index_html=target / "index.html",
        csv_files=csv_files,
        drilldown_files=drilldown_files,
        headline={k: v for k, v in headline.rows[0].items()},
        timeliness_available=bool(timeliness),
        handling_available=bool(handling),
    )

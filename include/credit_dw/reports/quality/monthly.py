"""The monthly notice (月度通报) of dual-publicity timeliness: per jurisdiction and per department,
the month's 迟报率 / 漏报率 / 瞒报率, each department's and jurisdiction's rank, and whether it met
the target (0 for all three [000 §2.2]), as the office circulates it (督导通报 [000 §2.2]):

    $CREDIT_DW_HOME/reports/notice/<YYYY-MM>/index.html          the notice (printable, A4)
    $CREDIT_DW_HOME/reports/notice/<YYYY-MM>/notice.pdf          the same, printed by WeasyPrint (credit_dw.reports.pdf)
    $CREDIT_DW_HOME/reports/notice/<YYYY-MM>/jurisdictions.csv   one row per jurisdiction (all 14, then 未能归属)
    $CREDIT_DW_HOME/reports/notice/<YYYY-MM>/departments.csv     one row per feed and department

The month's counts come from the dbt model `quality.qa_dual_publicity_rates` (decisions counted
in the month of the night they count on) and the rates from the one definition, the SQL
functions `quality.late_rate` / `omission_rate` / `concealment_rate` (docs/quality_rates.md),
applied to the sums. Rank 1 is the worst (highest rate); units with nothing to measure have no
rank. The PDF is written only where WeasyPrint can load Pango (`make browser` installs it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from credit_dw.config import settings
from credit_dw.db.connect import connect
from credit_dw.reports.quality.queries import _JURISDICTIONS_CTE, Column, Table, _fetch, display, feed_name, table_csv

log = logging.getLogger(__name__)

RATES_MODEL = "quality.qa_dual_publicity_rates"
TEMPLATE = Path(__file__).resolve().parent / "templates" / "monthly_notice.html"

_RATES = """
           quality.late_rate(sum(decisions_late), sum(decisions_reported)) as late_rate,
           quality.omission_rate(sum(decisions_reported), sum(decisions_omitted)) as omission_rate,
           quality.concealment_rate(sum(decisions_reported), sum(decisions_omitted), sum(decisions_concealed))
               as concealment_rate"""

_RANKS = """
       case when late_rate is not null then rank() over (order by late_rate desc nulls last) end as late_rank,
       case when omission_rate is not null then rank() over (order by omission_rate desc nulls last) end
           as omission_rank,
       case when concealment_rate is not null then rank() over (order by concealment_rate desc nulls last) end
           as concealment_rank,
       case when coalesce(late_rate, omission_rate, concealment_rate) is not null
            then coalesce(late_rate, 0) = 0 and coalesce(omission_rate, 0) = 0 and coalesce(concealment_rate, 0) = 0
       end as meets_target"""

RATE_COLUMNS = [
    Column("decisions_reported", "报送", "reported"),
    Column("decisions_late", "迟报", "late"),
    Column("decisions_omitted", "漏报", "omitted"),
    Column("decisions_concealed", "瞒报", "concealed"),
    Column("late_rate", "迟报率", "late rate", "share"),
    Column("late_rank", "迟报率排名", "rank"),
    Column("omission_rate", "漏报率", "omission rate", "share"),
    Column("omission_rank", "漏报率排名", "rank"),
    Column("concealment_rate", "瞒报率", "concealment rate", "share"),
    Column("concealment_rank", "瞒报率排名", "rank"),
    Column("meets_target_zh", "是否达标", "target met", "text"),
]


@dataclass(frozen=True)
class MonthlyNotice:
    month: date
    directory: Path
    index_html: Path
    pdf: Path | None
    jurisdictions: Table
    departments: Table


def notice_tables(conn, month: date) -> tuple[Table, Table]:
    """(per jurisdiction, per feed and department) for the month starting on `month`."""
    params = {"month": month.replace(day=1)}
    jurisdictions = _fetch(conn, f"""
        with {_JURISDICTIONS_CTE},
        counted as (
            select coalesce(u.unit_code, '') as unit_code,
                   sum(r.decisions_reported) as decisions_reported, sum(r.decisions_late) as decisions_late,
                   sum(r.decisions_omitted) as decisions_omitted, sum(r.decisions_concealed) as decisions_concealed,
                   {_RATES}
            from {RATES_MODEL} r
            left join units u on u.unit_code = r.city_code and u.unit_code <> ''
            where r.report_month = %(month)s
            group by coalesce(u.unit_code, '')
        ),
        listed as (
            select u.unit_code, u.unit_name, u.unit_order,
                   coalesce(k.decisions_reported, 0) as decisions_reported,
                   coalesce(k.decisions_late, 0) as decisions_late,
                   coalesce(k.decisions_omitted, 0) as decisions_omitted,
                   coalesce(k.decisions_concealed, 0) as decisions_concealed,
                   k.late_rate, k.omission_rate, k.concealment_rate
            from units u left join counted k on k.unit_code = u.unit_code
        ),
        ranked as (
            select listed.*, {_RANKS} from listed where unit_code <> ''
            union all
            select listed.*, null, null, null, null from listed where unit_code = ''
        )
        select * from ranked order by unit_order, unit_code
        """, params)
    departments = _fetch(conn, f"""
        with counted as (
            select source_id, department,
                   sum(decisions_reported) as decisions_reported, sum(decisions_late) as decisions_late,
                   sum(decisions_omitted) as decisions_omitted, sum(decisions_concealed) as decisions_concealed,
                   {_RATES}
            from {RATES_MODEL}
            where report_month = %(month)s
            group by source_id, department
        )
        select counted.*, {_RANKS} from counted
        order by greatest(late_rate, omission_rate, concealment_rate) desc nulls last, source_id, department
        """, params)
    for row in jurisdictions + departments:
        row["meets_target_zh"] = ("—" if row["meets_target"] is None
                                  else "达标" if row["meets_target"] else "未达标")
    for row in departments:
        row["feed_name"] = feed_name(row["source_id"])
    return (
        Table("jurisdictions", "按地市（11个设区市、定州、辛集、雄安新区）",
              "Per jurisdiction (the 11 cities, 定州, 辛集, 雄安新区)",
              [Column("unit_code", "代码", "code", "text"), Column("unit_name", "地市", "jurisdiction", "text"),
               *RATE_COLUMNS], jurisdictions),
        Table("departments", "按部门", "Per department",
              [Column("feed_name", "数据源", "feed", "text"),
               Column("source_id", "数据源代码", "feed id", "text", on_page=False),
               Column("department", "部门", "department", "text"), *RATE_COLUMNS], departments),
    )


def _render(context: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["show"] = display
    return env.get_template(TEMPLATE.name).render(**context)


def _print_pdf(html: Path, pdf: Path) -> Path | None:
    """The notice as PDF (A4, the page's @page rule); None where no PDF can be printed (no Pango)."""
    from credit_dw.reports.pdf import write_pdf

    return None if write_pdf(html, pdf) else pdf


def write_monthly_notice(month: date, *, pdf: bool = True) -> MonthlyNotice:
    """Write (or rewrite) the month's notice from the warehouse; see the module docstring."""
    month = month.replace(day=1)
    with connect() as conn:
        jurisdictions, departments = notice_tables(conn, month)
    directory = settings.reports_dir() / "notice" / f"{month:%Y-%m}"
    directory.mkdir(parents=True, exist_ok=True)
    for table in (jurisdictions, departments):
        (directory / table.file_name).write_bytes(table_csv(table))
    index = directory / "index.html"
    index.write_text(_render({"month": f"{month:%Y年%m月}", "month_iso": f"{month:%Y-%m}",
                              "tables": [jurisdictions, departments]}), encoding="utf-8")
    printed = _print_pdf(index, directory / "notice.pdf") if pdf else None
    log.info("monthly notice %s: %s", f"{month:%Y-%m}", index)
    return MonthlyNotice(month, directory, index, printed, jurisdictions, departments)

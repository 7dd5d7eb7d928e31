"""The auditors' rate and handling figures for one month (issue 11; docs/audit.md "Rates and handling"):
双公示迟报率 / 漏报率 / 瞒报率, 重错码率 by registering department, objections and repairs handled
within their deadlines, and the share of black-list subjects trained or interviewed. Each figure is
read from a model that already computes it (no count of its own), as headline rows with a drill-down
CSV listing the rows behind it, and as the page's tables.

A figure whose model holds nothing for the month (or is not built) is None, shown as 无数据, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

#: What a figure without data shows, in the CSVs and on the page.
NO_DATA = "无数据"
#: 黑名单主体信用修复培训或约谈比例 > 60 % [002 #15].
OUTREACH_TARGET = 0.6

DUAL_PUBLICITY_COLUMNS = (
    ("report_month", "月份"), ("source_id", "数据源"), ("department", "数据来源单位"), ("city_code", "设区市代码"),
    ("decisions_reported", "报送决定数"), ("decisions_late", "迟报数"), ("decisions_omitted", "漏报数"),
    ("decisions_concealed", "瞒报数"), ("late_rate", "迟报率"), ("omission_rate", "漏报率"),
    ("concealment_rate", "瞒报率"),
)
DUAL_PUBLICITY_JURISDICTION_COLUMNS = (
    ("city_code", "区划代码"), ("jurisdiction_name", "区划"), ("decisions_reported", "报送决定数"),
    ("decisions_late", "迟报数"), ("decisions_omitted", "漏报数"), ("decisions_concealed", "瞒报数"),
    ("late_rate", "迟报率"), ("omission_rate", "漏报率"), ("concealment_rate", "瞒报率"),
)
CODE_CONFLICT_COLUMNS = (
    ("conflict_id", "冲突编号"), ("conflict_kind", "冲突类型"), ("uscc", "统一社会信用代码"),
    ("registering_authority", "登记管理部门"), ("registering_division_code", "登记地代码"),
    ("reporting_unit_name", "所属设区市"), ("source_ids", "涉及数据源"), ("departments", "报送部门"),
    ("first_seen_on", "首次发现"), ("last_seen_on", "最近发现"),
)
CODE_RATE_COLUMNS = (
    ("registering_authority", "登记管理部门"), ("codes", "报送代码数"), ("conflicting_codes", "重错码数"),
    ("conflict_rate", "重错码率"),
)
OBJECTION_COLUMNS = (
    ("providing_department", "信息提供单位"), ("city_code", "设区市代码"), ("objection_count", "异议件数"),
    ("open_count", "办理中"), ("overdue_count", "超期件数"), ("valid_objection_count", "异议成立件数"),
    ("avg_verification_working_days", "平均核查工作日"), ("as_of_on", "统计截至"),
)
REPAIR_COLUMNS = (
    ("handling_department", "受理部门"), ("city_code", "设区市代码"), ("application_count", "申请件数"),
    ("decided_count", "已办结"), ("repaired_count", "修复成功"), ("success_rate", "修复成功率"),
    ("overdue_count", "超期件数"), ("as_of_on", "统计截至"),
)
OUTREACH_COLUMNS = (
    ("month", "月份"), ("jurisdiction_code", "区划代码"), ("jurisdiction_name", "区划"),
    ("blacklist_subjects", "黑名单主体数"), ("reached_subjects", "已培训或约谈主体数"), ("reached_share", "比例"),
)


@dataclass
class Figures:
    """The month's figures: headline rows (指标, 数值, 目标, 完成率, 明细文件), the CSVs to write
    (relative path → (columns, rows)) and the page's sections."""

    headline: list[tuple] = field(default_factory=list)
    files: dict[str, tuple[tuple, list[tuple]]] = field(default_factory=dict)
    page: dict = field(default_factory=dict)


def _exists(conn, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _rows(conn, relation: str, sql: str, params: tuple = ()) -> list[tuple]:
    """The query's rows; none when the model is not built (its figures are then 无数据)."""
    return conn.execute(sql, params).fetchall() if _exists(conn, relation) else []


def _share(numerator, denominator) -> float | None:
    return None if not denominator else float(numerator) / float(denominator)


def _dicts(columns, rows) -> list[dict]:
    return [dict(zip((key for key, _ in columns), row, strict=True)) for row in rows]


def collect(conn, month: date, as_of: date) -> Figures:
    """The figures of `month` (its first day), codes and handling as of `as_of`."""
    figures = Figures()
    _dual_publicity(conn, month, figures)
    _code_conflicts(conn, as_of, figures)
    _objections(conn, figures)
    _repairs(conn, figures)
    _outreach(conn, month, figures)
    return figures


def _dual_publicity(conn, month: date, figures: Figures) -> None:
    """迟报率 / 漏报率 / 瞒报率 of the month [000 §2.2], province-wide and per jurisdiction: the month's
    counts of qa_dual_publicity_rates summed, then the one definition (quality.late_rate, ...)."""
    relation = "quality.qa_dual_publicity_rates"
    names = ", ".join(key for key, _ in DUAL_PUBLICITY_COLUMNS)
    detail = _rows(conn, relation, f"select {names} from {relation} where report_month = %s order by {names}",
                   (month,))
    rates = """sum(decisions_reported)::bigint as reported, sum(decisions_late)::bigint as late,
               sum(decisions_omitted)::bigint as omitted, sum(decisions_concealed)::bigint as concealed,
               quality.late_rate(sum(decisions_late), sum(decisions_reported)) as late_rate,
               quality.omission_rate(sum(decisions_reported), sum(decisions_omitted)) as omission_rate,
               quality.concealment_rate(sum(decisions_reported), sum(decisions_omitted), sum(decisions_concealed))
                   as concealment_rate"""
    # Every city-level jurisdiction (the 11 cities, 定州, 辛集, 雄安新区) is listed, one without a
    # decision in the month with 无数据; decisions without a city under 未能归属.
    by_jurisdiction = _rows(conn, relation, f"""
        with units as (select division_code, division_name from reference.hebei_divisions
                       where division_code = reporting_unit_code and division_level <> 'province' and is_current),
             rates as (select city_code, {rates} from {relation} where report_month = %s group by city_code)
        select coalesce(units.division_code, rates.city_code, '—'),
               coalesce(units.division_name, divisions.division_name, '未能归属'), rates.reported, rates.late,
               rates.omitted, rates.concealed, rates.late_rate, rates.omission_rate, rates.concealment_rate
        from units
        full join rates on rates.city_code = units.division_code
        left join reference.hebei_divisions as divisions on divisions.division_code = rates.city_code
        order by (units.division_code is null), 1""", (month,))
    province = _rows(conn, relation, f"select {rates} from {relation} where report_month = %s", (month,))
    province = province[0] if province and province[0][0] is not None else (None,) * 7
    figures.files["drilldown/dual_publicity_rates.csv"] = (DUAL_PUBLICITY_COLUMNS, detail)
    figures.files["dual_publicity_rates_by_jurisdiction.csv"] = (DUAL_PUBLICITY_JURISDICTION_COLUMNS,
                                                                 by_jurisdiction)
    for name, value in (("双公示迟报率（全省）", province[4]), ("双公示漏报率（全省）", province[5]),
                        ("双公示瞒报率（全省）", province[6])):
        figures.headline.append((name, value, 0, None, "drilldown/dual_publicity_rates.csv"))
    figures.page["dual_publicity"] = {
        "province": dict(zip(("reported", "late", "omitted", "concealed", "late_rate", "omission_rate",
                              "concealment_rate"), province, strict=True)),
        "jurisdictions": _dicts(DUAL_PUBLICITY_JURISDICTION_COLUMNS, by_jurisdiction),
    }


def _code_conflicts(conn, as_of: date, figures: Figures) -> None:
    """重错码率 per registering department (登记管理部门, the code's first character, GB 32100-2015):
    distinct codes in a conflict of rpt_code_conflicts ÷ distinct codes reported by the as-of date
    (int_subject_codes_unioned) [000 §2.4]."""
    relation = "marts.rpt_code_conflicts"
    names = ", ".join(key for key, _ in CODE_CONFLICT_COLUMNS)
    detail = _rows(conn, relation, f"""select {names} from {relation} where first_seen_on <= %s
                                       order by {names}""", (as_of,))
    by_authority = []
    if _exists(conn, "intermediate.int_subject_codes_unioned"):
        by_authority = _rows(conn, relation, f"""
            with codes as (select distinct uscc from intermediate.int_subject_codes_unioned
                           where uscc is not null and batch_logical_date <= %(as_of)s),
                 conflicting as (select distinct uscc from {relation}
                                 where first_seen_on <= %(as_of)s)
            select authority.name, count(*)::bigint, count(conflicting.uscc)::bigint,
                   count(conflicting.uscc)::double precision / count(*)
            from codes
            left join conflicting on conflicting.uscc = codes.uscc
            cross join lateral (select case left(codes.uscc, 1)
                when '1' then '机构编制' when '2' then '外交' when '3' then '司法行政' when '4' then '文化'
                when '5' then '民政' when '6' then '旅游' when '7' then '宗教' when '8' then '工会'
                when '9' then '市场监管' when 'A' then '中央军委改革和编制办公室' when 'N' then '农业农村'
                else '其他' end as name) as authority
            group by 1 order by 1""", {"as_of": as_of})
    codes = sum(r[1] for r in by_authority)
    conflicting = sum(r[2] for r in by_authority)
    figures.files["drilldown/code_conflicts.csv"] = (CODE_CONFLICT_COLUMNS, detail)
    figures.files["code_conflicts_by_authority.csv"] = (CODE_RATE_COLUMNS, by_authority)
    file = "drilldown/code_conflicts.csv"
    figures.headline.append(("重错码率（全省）", _share(conflicting, codes), None, None, file))
    figures.page["code_conflicts"] = {"codes": codes, "conflicting": conflicting, "rate": _share(conflicting, codes),
                                      "authorities": _dicts(CODE_RATE_COLUMNS, by_authority)}


def _objections(conn, figures: Figures) -> None:
    """Objections against the verification deadline (15 working days for an organisation, 20 for a
    natural person [001 2018 plan §4.9]) from rpt_objection_handling, as of the night it was built."""
    relation = "marts.rpt_objection_handling"
    names = ", ".join(key for key, _ in OBJECTION_COLUMNS)
    detail = _rows(conn, relation, f"select {names} from {relation} order by {names}")
    total = sum(r[2] for r in detail)
    overdue = sum(r[4] for r in detail)
    figures.files["drilldown/objection_handling.csv"] = (OBJECTION_COLUMNS, detail)
    file = "drilldown/objection_handling.csv"
    figures.headline += [
        ("异议件数", total if detail else None, None, None, file),
        ("异议超期件数（15/20个工作日）", overdue if detail else None, 0, None, file),
        ("异议按期处理占比（15/20个工作日内）", _share(total - overdue, total), 1, None, file),
    ]
    figures.page["objections"] = {"total": total if detail else None, "overdue": overdue if detail else None,
                                  "share": _share(total - overdue, total), "rows": _dicts(OBJECTION_COLUMNS, detail)}


def _repairs(conn, figures: Figures) -> None:
    """Credit repairs from rpt_repair_handling [000 §2.12]: success rate = repaired ÷ decided, overdue
    ones (past the handling_deadlines seed), as of the night it was built."""
    relation = "marts.rpt_repair_handling"
    names = ", ".join(key for key, _ in REPAIR_COLUMNS)
    detail = _rows(conn, relation, f"select {names} from {relation} order by {names}")
    applications = sum(r[2] for r in detail)
    decided = sum(r[3] for r in detail)
    repaired = sum(r[4] for r in detail)
    overdue = sum(r[6] for r in detail)
    file = "drilldown/repair_handling.csv"
    figures.files[file] = (REPAIR_COLUMNS, detail)
    figures.headline += [
        ("信用修复申请件数", applications if detail else None, None, None, file),
        ("信用修复成功率", _share(repaired, decided), None, None, file),
        ("信用修复超期件数", overdue if detail else None, 0, None, file),
    ]
    figures.page["repairs"] = {"applications": applications if detail else None,
                               "decided": decided if detail else None, "repaired": repaired if detail else None,
                               "success_rate": _share(repaired, decided),
                               "overdue": overdue if detail else None, "rows": _dicts(REPAIR_COLUMNS, detail)}


def _outreach(conn, month: date, figures: Figures) -> None:
    """黑名单主体信用修复培训或约谈比例 of the month [002 #15]: reached ÷ black-list subjects over the 14
    city-level jurisdictions of rpt_blacklist_outreach_monthly."""
    relation = "marts.rpt_blacklist_outreach_monthly"
    names = ", ".join(key for key, _ in OUTREACH_COLUMNS)
    detail = _rows(conn, relation, f"select {names} from {relation} where month = %s order by jurisdiction_code",
                   (month,))
    blacklisted = sum(r[3] for r in detail)
    reached = sum(r[4] for r in detail)
    share = _share(reached, blacklisted)
    file = "drilldown/blacklist_outreach.csv"
    figures.files[file] = (OUTREACH_COLUMNS, detail)
    figures.headline.append(("黑名单主体培训或约谈比例", share, OUTREACH_TARGET,
                             None if share is None else share / OUTREACH_TARGET, file))
    figures.page["outreach"] = {"blacklisted": blacklisted if detail else None, "reached": reached if detail else None,
                                "share": share,
                                "target": OUTREACH_TARGET, "rows": _dicts(OUTREACH_COLUMNS, detail)}


def headline_value(value):
    """A headline cell: 无数据 for a figure without data."""
    return NO_DATA if value is None else value


def write(figures: Figures, directory: Path, write_csv) -> list[Path]:
    return [write_csv(directory / name, columns, rows) for name, (columns, rows) in figures.files.items()]

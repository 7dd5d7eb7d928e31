"""The province's monthly scorecard (城市信用监测指标月度评分卡; issue 21, docs/scorecard.md): each
indicator of the catalogue (seed scorecard_indicators) for the 11 cities, 定州, 辛集 and 雄安新区
against its target, each jurisdiction's published national rank against the ranking target of the
2021 action plan [000 一(二), 一(三)], and the jurisdictions at risk, written to

    $CREDIT_DW_HOME/reports/scorecard/<YYYY-MM>/index.html          the page (Chinese, charts inline)
    $CREDIT_DW_HOME/reports/scorecard/<YYYY-MM>/scorecard.pdf       the page printed (WeasyPrint)
    $CREDIT_DW_HOME/reports/scorecard/<YYYY-MM>/figures.csv         every jurisdiction × indicator
    $CREDIT_DW_HOME/reports/scorecard/<YYYY-MM>/indicators.csv      the catalogue, non-computable ones included
    $CREDIT_DW_HOME/reports/scorecard/<YYYY-MM>/ranks.csv           rank against target, at-risk flags
    $CREDIT_DW_HOME/reports/scorecard/<YYYY-MM>/drilldown/<id>.csv  the rows behind each numerator
    $CREDIT_DW_HOME/reports/scorecard/<YYYY-MM>/reproducibility.json

The figures are qa_scorecard_figures (rebuilt as of the month's last day unless `rebuild` is
false), the drill-downs rpt_scorecard_records (qa_dual_publicity_rates for the dual-publicity
rates). The black-list outreach figure is rpt_blacklist_outreach_monthly's (the interview feed's;
无数据 on a warehouse where it was never built, or for a unit without black-list subjects). The
national ranks are the file the office drops in (`ranks_file()`). A missing figure is 无数据,
never 0. No citizen ID and no natural person's name is written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from credit_dw.config import settings
from credit_dw.db.connect import connect
from credit_dw.reports import reproducibility
from credit_dw.reports.audit import month_end
from credit_dw.reports.quality.queries import csv_bytes
from credit_dw.transform import dbt as transform

SEEDS = ("scorecard_indicators", "scorecard_rank_targets", "legally_committable_matters")
MODELS = ("rpt_scorecard_records", "qa_scorecard_figures")
#: The office-edited rules the figures depend on (hashed into reproducibility.json).
RULE_SEEDS = (*(f"{s}.csv" for s in SEEDS), "hebei_divisions.csv")
OUTREACH_MODEL = "rpt_blacklist_outreach_monthly"
OUTREACH_ID = "blacklist_outreach_share"
NO_DATA = "无数据"
#: The national ranks file the office drops in, relative to $CREDIT_DW_HOME (docs/scorecard.md).
RANKS_PATH = Path("ranks") / "national_ranks.csv"
RANKS_COLUMNS = ("published_on", "ranking", "jurisdiction_code", "jurisdiction_name", "rank", "ranked_count")
RANKING_NAMES = {"provincial_capitals": "省会及副省级以上城市", "prefecture_cities": "全国地级市",
                 "county_cities": "全国县级市"}
DIRECTION_NAMES = {"higher": "越高越好", "lower": "越低越好"}
#: Months shown in the trend of each indicator (the at-risk rule needs three).
TREND_MONTHS = 6
#: The feeds the figures read (their batches are listed in reproducibility.json).
FEEDS = ("market_registry", "tax_a_level", "credit_commitments", "objections", "credit_lists", "customs_certified",
         "admin_licence", "admin_penalty", "dept_ledgers", "national_pushdown")

FIGURE_HEADERS = ("月份", "行政区划代码", "区划", "指标编号", "指标", "单位", "方向", "分子", "分母", "数值", "目标",
                  "目标依据", "是否达标", "明细文件")
INDICATOR_HEADERS = ("指标编号", "指标", "计算公式", "formula", "单位", "来源模型", "方向", "目标值", "目标",
                     "依据条款", "能否计算", "说明")
RANK_HEADERS = ("区划代码", "区划", "排名类别", "发布日期", "排名", "参评城市数", "目标", "是否达到目标",
                "背离目标指标", "是否预警")
DRILLDOWN_HEADERS = ("月份", "行政区划代码", "指标编号", "记录类型", "记录编号", "统一社会信用代码", "主体名称", "日期",
                     "部门")
DUAL_PUBLICITY_HEADERS = ("月份", "行政区划代码", "数据源", "数据来源单位", "首次报送条数", "迟报条数", "漏报条数",
                          "迟报率", "漏报率")


@dataclass(frozen=True)
class ScorecardReport:
    directory: Path
    files: tuple[Path, ...]
    #: why no PDF was written (WeasyPrint could not load Pango), else None
    pdf_missing: str | None = None


def ranks_file() -> Path:
    """$CREDIT_DW_HOME/ranks/national_ranks.csv: the published national ranks, one row per jurisdiction,
    ranking and publication (columns RANKS_COLUMNS; docs/scorecard.md)."""
    return settings.home() / RANKS_PATH


def _rows(conn, sql: str, params: tuple | dict = ()) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [c.name for c in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _shift(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _meets(value, target, direction: str) -> bool | None:
    if value is None or target is None:
        return None
    return value <= target if direction == "lower" else value >= target


def format_value(value, unit: str) -> str:
    """A figure as the page and the CSVs print it: 无数据 when there is none, never 0."""
    if value is None:
        return NO_DATA
    if unit == "count":
        return f"{int(value):,}"
    return f"{float(value):.2%}"


def _outreach_rows(conn, months: list[date], units: list[dict], indicator: dict) -> list[dict]:
    """The outreach figure (rpt_blacklist_outreach_monthly) where that model is built, else 无数据 rows."""
    found = {}
    if conn.execute("select to_regclass(%s)", (f"marts.{OUTREACH_MODEL}",)).fetchone()[0]:
        for row in _rows(conn, f"""select month, jurisdiction_code, blacklist_subjects, reached_subjects, reached_share
                                   from marts.{OUTREACH_MODEL} where month = any(%s)""", (months,)):
            found[(row["month"], row["jurisdiction_code"])] = row
    rows = []
    for month in months:
        for unit in units:
            row = found.get((month, unit["jurisdiction_code"]), {})
            rows.append({"report_month": month, **unit, "indicator_id": OUTREACH_ID,
                         "indicator_name": indicator["indicator_name"], "unit": indicator["unit"],
                         "direction": indicator["direction"], "target_value": indicator["target_value"],
                         "target_text": indicator["target_text"], "clause": indicator["clause"],
                         "numerator": row.get("reached_subjects"), "denominator": row.get("blacklist_subjects"),
                         "value": row.get("reached_share")})
    return rows


def _at_risk_indicators(trend: dict[str, list], direction: str, target) -> bool:
    """Moving away from its target two months running: the last three months' values each worse than
    the one before (higher for a lower-is-better indicator; lower for a higher-is-better one), and,
    where a numeric target exists, not at it."""
    values = trend[-3:]
    if len(values) < 3 or any(v is None for v in values):
        return False
    a, b, c = (float(v) for v in values)
    worse = (c > b > a) if direction == "lower" else (c < b < a)
    return worse and (target is None or not _meets(c, float(target), direction))


def rank_targets(conn) -> dict[str, list[dict]]:
    """Each reporting unit's ranking targets (seed scorecard_rank_targets): its own rows, and its
    group's (every prefecture city: the 11 cities)."""
    targets = _rows(conn, "select * from reference.scorecard_rank_targets order by target_id")
    units = _rows(conn, """select division_code, division_level from marts.dim_jurisdiction
                           where is_reporting_unit and division_level <> 'province'""")
    by_unit: dict[str, list[dict]] = {u["division_code"]: [] for u in units}
    for target in targets:
        for unit in units:
            code = unit["division_code"]
            own = target["jurisdiction_code"] == code
            group = (target["applies_to"] == "prefecture_city" and unit["division_level"] == "city"
                     and code != "133100")
            if own or group:
                by_unit[code].append(target)
    return by_unit


def read_ranks(as_of: date, path: Path | None = None) -> dict[tuple[str, str], dict]:
    """The latest published rank per (jurisdiction, ranking) on or before `as_of`; {} without a file."""
    path = path or ranks_file()
    if not path.exists():
        return {}
    latest: dict[tuple[str, str], dict] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            published = date.fromisoformat(row["published_on"])
            key = (row["jurisdiction_code"], row["ranking"])
            if published <= as_of and (key not in latest or published >= latest[key]["published_on"]):
                latest[key] = {**row, "published_on": published, "rank": int(row["rank"]),
                               "ranked_count": int(row["ranked_count"])}
    return latest


def _rank_limit(target: dict, ranked_count: int | None) -> int | None:
    if target["rank_limit"] is not None:
        return int(target["rank_limit"])
    if target["rank_share_limit"] is not None and ranked_count:
        return int(ranked_count * float(target["rank_share_limit"]))
    return None


def _target_text(target: dict) -> str:
    ranking = RANKING_NAMES[target["ranking"]]
    if target["rank_limit"] is not None:
        return f"{ranking}前 {int(target['rank_limit'])} 名" if int(target["rank_limit"]) <= 100 \
            else f"{ranking}不低于第 {int(target['rank_limit'])} 名"
    return f"{ranking}前 {float(target['rank_share_limit']):.0%}"


def write_scorecard_report(month: date, *, rebuild: bool = True) -> ScorecardReport:
    """The month's scorecard under reports/scorecard/<YYYY-MM>/ (see the module docstring)."""
    from credit_dw.reports import scorecard_page
    from credit_dw.reports.pdf import write_pdf

    month = month.replace(day=1)
    as_of = month_end(month)
    if rebuild:
        transform.run_dbt(["seed", "--select", *SEEDS])
        transform.run_dbt(["run", "--select", *MODELS, "--vars", f"{{as_of_date: '{as_of.isoformat()}'}}"])
    directory = settings.reports_dir() / "scorecard" / f"{month:%Y-%m}"
    months = [_shift(month, -i) for i in range(TREND_MONTHS - 1, -1, -1)]
    files: list[Path] = []
    with connect(autocommit=True) as conn:
        indicators = _rows(conn, "select * from reference.scorecard_indicators order by indicator_id")
        catalogue = {i["indicator_id"]: i for i in indicators}
        figures = _rows(conn, """
            select report_month, jurisdiction_code, jurisdiction_name, indicator_id, indicator_name, unit, direction,
                   target_value, target_text, clause, numerator, denominator, value
            from quality.qa_scorecard_figures where report_month = any(%s)
            order by report_month, jurisdiction_code, indicator_id""", (months,))
        units = _rows(conn, """select division_code as jurisdiction_code, division_name as jurisdiction_name
                               from marts.dim_jurisdiction
                               where is_reporting_unit and division_level <> 'province' order by 1""")
        if OUTREACH_ID in catalogue:
            figures += _outreach_rows(conn, months, units, catalogue[OUTREACH_ID])
        drilldowns = _drilldowns(conn, month)
        targets_by_unit = rank_targets(conn)
        state = reproducibility.state_record(conn, "城市信用监测指标月度评分卡 (credit_dw.reports.scorecard)", month,
                                             as_of, FEEDS, RULE_SEEDS)
    # Figures of the month, with the trend behind the at-risk flag.
    trend: dict[tuple[str, str], list] = {}
    for row in figures:
        trend.setdefault((row["jurisdiction_code"], row["indicator_id"]), []).append(row["value"])
    current = [r for r in figures if r["report_month"] == month]
    current.sort(key=lambda r: (r["jurisdiction_code"], r["indicator_id"]))
    for row in current:
        row["meets_target"] = _meets(row["value"], row["target_value"], row["direction"])
        row["moving_away"] = _at_risk_indicators(trend[(row["jurisdiction_code"], row["indicator_id"])],
                                                 row["direction"], row["target_value"])
        row["value_text"] = format_value(row["value"], row["unit"])
        row["drilldown"] = f"drilldown/{row['indicator_id']}.csv" if row["indicator_id"] in drilldowns else ""
    files.append(_write(directory / "figures.csv", FIGURE_HEADERS, [
        (f"{r['report_month']:%Y-%m}", r["jurisdiction_code"], r["jurisdiction_name"], r["indicator_id"],
         r["indicator_name"], r["unit"], DIRECTION_NAMES.get(r["direction"], r["direction"]),
         NO_DATA if r["numerator"] is None or r["value"] is None else r["numerator"],
         NO_DATA if r["denominator"] is None or r["value"] is None else r["denominator"],
         r["value_text"], r["target_text"], r["clause"],
         {True: "是", False: "否", None: "—"}[r["meets_target"]], r["drilldown"]) for r in current]))
    files.append(_write(directory / "indicators.csv", INDICATOR_HEADERS, [
        (i["indicator_id"], i["indicator_name"], i["formula_zh"], i["formula"], i["unit"], i["source_models"],
         DIRECTION_NAMES.get(i["direction"], i["direction"]), i["target_value"], i["target_text"], i["clause"],
         "能" if i["computable"] == "yes" else "否（数据不在本平台）", i["note"]) for i in indicators]))
    for indicator_id, (headers, rows) in sorted(drilldowns.items()):
        files.append(_write(directory / "drilldown" / f"{indicator_id}.csv", headers, rows))
    ranks = read_ranks(as_of)
    rank_rows = _rank_rows(units, targets_by_unit, ranks, current)
    files.append(_write(directory / "ranks.csv", RANK_HEADERS, [
        (r["jurisdiction_code"], r["jurisdiction_name"], r["ranking_name"], r["published_on"] or NO_DATA,
         r["rank"] if r["rank"] is not None else NO_DATA, r["ranked_count"] or NO_DATA, r["target_text"],
         {True: "是", False: "否", None: NO_DATA}[r["meets"]], "、".join(r["moving_away"]) or "—",
         "是" if r["at_risk"] else "否") for r in rank_rows]))
    ranks_path = ranks_file()
    state["ranks_file"] = {"path": str(RANKS_PATH),
                           "sha256": reproducibility.sha256_file(ranks_path) if ranks_path.exists() else None}
    state["files"] = reproducibility.file_hashes(files, directory)
    record = reproducibility.write(state, directory)
    context = {"month": f"{month:%Y年%m月}", "month_key": f"{month:%Y-%m}", "as_of": as_of.isoformat(),
               "indicators": indicators, "units": units, "figures": current, "ranks": rank_rows,
               "state": state, "no_data": NO_DATA,
               "charts": scorecard_page.indicator_charts(indicators, current),
               "rank_chart": scorecard_page.rank_chart_svg(rank_rows)}
    page = directory / "index.html"
    page.write_text(scorecard_page.render_html(context), encoding="utf-8")
    pdf_missing = write_pdf(page, directory / "scorecard.pdf")
    written = [*files, record, page] + ([] if pdf_missing else [directory / "scorecard.pdf"])
    return ScorecardReport(directory, tuple(written), pdf_missing)


def _rank_rows(units: list[dict], targets_by_unit: dict, ranks: dict, current: list[dict]) -> list[dict]:
    """One row per jurisdiction and ranking target: the published rank, the limit, whether it is met
    and whether the jurisdiction is at risk (below target, or an indicator moving away from its target
    two months running)."""
    away: dict[str, list[str]] = {}
    for row in current:
        if row["moving_away"]:
            away.setdefault(row["jurisdiction_code"], []).append(row["indicator_name"])
    rows = []
    for unit in units:
        code = unit["jurisdiction_code"]
        for target in targets_by_unit.get(code, []):
            published = ranks.get((code, target["ranking"]))
            limit = _rank_limit(target, published["ranked_count"] if published else None)
            meets = None if published is None or limit is None else published["rank"] <= limit
            rows.append({**unit, "ranking": target["ranking"], "ranking_name": RANKING_NAMES[target["ranking"]],
                         "target_text": _target_text(target), "rank_limit": limit, "clause": target["clause"],
                         "published_on": published["published_on"].isoformat() if published else None,
                         "rank": published["rank"] if published else None,
                         "ranked_count": published["ranked_count"] if published else None,
                         "meets": meets, "moving_away": away.get(code, []),
                         "at_risk": meets is False or bool(away.get(code))})
    return rows


def _drilldowns(conn, month: date) -> dict[str, tuple[tuple, list[tuple]]]:
    """Per indicator, the rows behind its numerators of the month (every jurisdiction)."""
    result: dict[str, tuple[tuple, list[tuple]]] = {}
    records = conn.execute(
        """select to_char(report_month, 'YYYY-MM'), jurisdiction_code, indicator_id, record_kind, record_id, uscc,
                  subject_name, record_on, department
           from marts.rpt_scorecard_records where report_month = %s
           order by indicator_id, jurisdiction_code, record_on, record_id""", (month,)).fetchall()
    for row in records:
        result.setdefault(row[2], (DRILLDOWN_HEADERS, []))[1].append(row)
    dual = conn.execute(
        """select to_char(rates.report_month, 'YYYY-MM'),
                  coalesce(divisions.reporting_unit_code, rates.city_code), rates.source_id, rates.department,
                  rates.decisions_reported, rates.decisions_late, rates.decisions_omitted,
                  rates.late_rate, rates.omission_rate
           from quality.qa_dual_publicity_rates as rates
           left join marts.dim_jurisdiction as divisions on divisions.division_code = rates.city_code
           where rates.report_month = %s and rates.city_code is not null
           order by 2, 3, 4""", (month,)).fetchall()
    for indicator_id in ("dp_late_rate", "dp_omission_rate"):
        result[indicator_id] = (DUAL_PUBLICITY_HEADERS, dual)
    return result


def _write(path: Path, headers, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(list(headers), rows))
    return path

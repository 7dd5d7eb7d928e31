"""The scorecard as a page and a PDF (城市信用监测指标月度评分卡; issue 21, docs/scorecard.md).

The figures are the scorecard CSVs of the month (`credit_dw.reports.scorecard`); this module lays
them out in Chinese: one chart per computable indicator (a bar per jurisdiction, the target drawn
as a line: the clause's numeric target, or for an indicator with a direction but no number, the
province-wide middle (median) of the month as the mark to pass, labelled so), the ranks against
their targets, and the catalogue with the indicators the warehouse cannot compute. matplotlib,
inline SVG, the quality report's drawing conventions; no JavaScript, no network.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from credit_dw.reports.quality import charts

TEMPLATE_DIR = Path(__file__).with_name("templates")
BAR_HEIGHT = 18


def _bars(name: str, title: str, desc: str, rows: Sequence[dict], values: list[float | None],
          target: float | None, target_label: str, *, share: bool, lower_better: bool) -> str:
    with charts._matplotlib():
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter

        fig = Figure(figsize=(charts.WIDTH / 72, (70 + BAR_HEIGHT * max(len(rows), 1)) / 72), layout="constrained")
        ax = fig.add_subplot()
        positions = list(range(len(rows)))[::-1]
        shown = [v for v in values if v is not None]
        for position, row, value in zip(positions, rows, values, strict=True):
            if value is None:
                ax.text(0, position, " 无数据", va="center", fontsize=9, color=charts.MUTED)
                continue
            good = target is None or (value <= target if lower_better else value >= target)
            ax.barh(position, value, height=0.6, color=charts.PALETTE[0] if good else charts.PALETTE[1],
                    gid=f"bar-{row['jurisdiction_code']}")
        if target is not None:
            ax.axvline(target, color=charts.INK, linewidth=1.5, linestyle="--", label=target_label)
            ax.legend(loc="lower right")
        ax.set_yticks(positions, [r["jurisdiction_name"] for r in rows])
        top = max([*(shown or [0]), target or 0]) * 1.1 or 1
        ax.set_xlim(0, top)
        if share:
            ax.xaxis.set_major_formatter(FuncFormatter(charts._share_label))
        ax.grid(axis="x", color=charts.GRID)
        ax.grid(axis="y", visible=False)
        tooltips = {f"bar-{r['jurisdiction_code']}": f"{r['jurisdiction_name']}：{r['value_text']}" for r in rows}
        return charts._svg(fig, name, title, desc, tooltips)


def indicator_charts(indicators: Sequence[dict], figures: Sequence[dict]) -> list[dict]:
    """One chart per indicator with figures this month, in catalogue order."""
    result = []
    for indicator in indicators:
        rows = [r for r in figures if r["indicator_id"] == indicator["indicator_id"]]
        if not rows:
            continue
        values = [None if r["value"] is None else float(r["value"]) for r in rows]
        present = [v for v in values if v is not None]
        if indicator["target_value"] is not None:
            target = float(indicator["target_value"])
            label = f"目标：{indicator['target_text']}（{indicator['clause']}）"
        elif present:
            target = statistics.median(present)
            label = f"参考线：各区划中位数（{indicator['target_text']}，{indicator['clause']}）"
        else:
            target, label = None, ""
        svg = _bars(f"chart-{indicator['indicator_id']}", indicator["indicator_name"],
                    f"各区划本月{indicator['indicator_name']}；虚线为目标或参考线。", rows, values, target, label,
                    share=indicator["unit"] == "share", lower_better=indicator["direction"] == "lower")
        result.append({"indicator": indicator, "svg": svg})
    return result


def rank_chart_svg(ranks: Sequence[dict]) -> str:
    """Each published rank against its limit (the limit drawn as a tick line per bar); fewer is better."""
    shown = [r for r in ranks if r["rank_limit"] is not None or r["rank"] is not None]
    with charts._matplotlib():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(charts.WIDTH / 72, (70 + BAR_HEIGHT * max(len(shown), 1)) / 72), layout="constrained")
        ax = fig.add_subplot()
        positions = list(range(len(shown)))[::-1]
        for position, row in zip(positions, shown, strict=True):
            if row["rank"] is None:
                ax.text(0, position, " 无数据（未发布或未纳入排名）", va="center", fontsize=9, color=charts.MUTED)
            else:
                ax.barh(position, row["rank"], height=0.6,
                        color=charts.PALETTE[1] if row["meets"] is False else charts.PALETTE[0],
                        gid=f"rank-{row['jurisdiction_code']}-{row['ranking']}")
            if row["rank_limit"] is not None:
                ax.plot([row["rank_limit"]] * 2, [position - 0.4, position + 0.4], color=charts.INK, linewidth=2,
                        linestyle="--", label="目标名次" if position == positions[0] else None)
        ax.set_yticks(positions, [f"{r['jurisdiction_name']}·{r['ranking_name']}" for r in shown])
        ax.grid(axis="x", color=charts.GRID)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("全国排名（名次越小越好）")
        if shown:
            ax.legend(loc="lower right")
        tooltips = {f"rank-{r['jurisdiction_code']}-{r['ranking']}": f"{r['jurisdiction_name']}：第 {r['rank']} 名，"
                    f"目标 {r['target_text']}" for r in shown if r["rank"] is not None}
        return charts._svg(fig, "ranks", "全国城市信用监测排名与目标", "每个区划一条横条：已发布名次；虚线为目标名次。",
                           tooltips)


def render_html(context: dict) -> str:
    """The page from templates/scorecard_report.html (Jinja2, autoescaped)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.get_template("scorecard_report.html").render(**context)

"""The auditors' monthly report as a page and a PDF (信用信息归集审计月报; issue 11, docs/audit.md).

The figures are the audit CSVs of the month (`credit_dw.reports.audit`); this module only lays
them out: each jurisdiction against its target, the blank counties, the reconciliation and the
record of the warehouse state the figures come from, in Chinese, with one chart (matplotlib,
inline SVG, the quality report's drawing conventions). The PDF is the same page printed by
`credit_dw.reports.pdf`. No JavaScript, no network: the page reads offline and prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from credit_dw.reports.audit_figures import NO_DATA
from credit_dw.reports.quality import charts

TEMPLATE_DIR = Path(__file__).with_name("templates")
#: Bars per chart row are jurisdictions; the chart grows with their number.
BAR_HEIGHT = 22


def jurisdictions_chart_svg(rows: Sequence[dict]) -> str:
    """Cumulative records of each city-level jurisdiction as a share of its target, one bar each,
    with the target (100 %) drawn as a line; a jurisdiction without a target is left out."""
    shown = [r for r in rows if r["target_records"]]
    with charts._matplotlib():
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter

        fig = Figure(figsize=(charts.WIDTH / 72, (80 + BAR_HEIGHT * max(len(shown), 1)) / 72), layout="constrained")
        ax = fig.add_subplot()
        names = [r["jurisdiction_name"] for r in shown]
        shares = [float(r["share_of_target"] or 0) for r in shown]
        positions = list(range(len(shown)))[::-1]
        for position, row, share in zip(positions, shown, shares, strict=True):
            ax.barh(position, share, height=0.6, color=charts.PALETTE[0] if share >= 1 else charts.PALETTE[1],
                    gid=f"bar-{row['jurisdiction_code']}")
        ax.axvline(1.0, color=charts.INK, linewidth=1.5, linestyle="--", label="目标（100%）")
        ax.set_yticks(positions, names)
        top = max([1.0, *shares]) * 1.05
        ax.set_xlim(0, top)
        ax.xaxis.set_major_formatter(FuncFormatter(charts._share_label))
        ax.grid(axis="x", color=charts.GRID)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("累计归集条数占目标的比例")
        ax.legend(loc="lower right")
        tooltips = {f"bar-{r['jurisdiction_code']}": f"{r['jurisdiction_name']}：{r['records']:,} 条，"
                    f"目标 {r['target_records']:,} 条（{float(r['share_of_target'] or 0):.2%}）" for r in shown}
        return charts._svg(fig, "jurisdictions", "各设区市（含定州、辛集、雄安新区）累计归集条数完成率",
                           "每个区划一条横条：累计归集条数除以目标条数；虚线为目标。", tooltips)


def render_html(context: dict) -> str:
    """The page from templates/audit_report.html (Jinja2, autoescaped)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["n"] = lambda v: "—" if v is None else f"{int(v):,}"
    env.filters["pct"] = _percent
    # A figure without data reads 无数据, never 0 or a dash that could pass for nothing wrong.
    env.filters["rate"] = lambda v: NO_DATA if v is None else _percent(v)
    env.filters["count"] = lambda v: NO_DATA if v is None else f"{int(v):,}"
    return env.get_template("audit_report.html").render(**context)


def _percent(value) -> str:
    """A share as a percentage; a small non-zero one keeps two significant digits (0.0012%), not 0.00%."""
    if value is None:
        return "—"
    share = float(value)
    return f"{share:.2%}" if share == 0 or share >= 0.0001 else f"{share * 100:.2g}%"

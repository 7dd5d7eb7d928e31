"""The quality report's charts, drawn with matplotlib and embedded in the page as inline SVG.

No JavaScript and no CDN: the SVG is part of index.html, so the page reads offline and prints.

- matplotlib is imported only when a chart is drawn (`_matplotlib`), never when this
  module is imported: the DAG files and the CLI import the report lazily, and parsing them stays
  cheap. Its config and font cache go to `settings.matplotlib_dir()` (MPLCONFIGDIR, default
  `$CREDIT_DW_HOME/cache/matplotlib`), written once and reused by every later task. No pyplot:
  a `Figure` is drawn straight to the SVG backend (no GUI, no global figure registry), under an
  `rc_context`, so nothing leaks into other code of the process.
- Text stays text (`svg.fonttype: none`): the browser draws titles, legends and tick labels in
  the page's CJK font, the Chinese can be selected, searched and read by a screen reader, and the
  SVG stays small. matplotlib only measures the text for its layout, with the first font of
  `FONT_STACK` it has (WenQuanYi Micro Hei on the test machine, Debian's fonts-wqy-microhei);
  the SVG names the whole stack, the same as the page's CSS.
- Deterministic: a fixed `svg.hashsalt`, no metadata (no date, no creator), ids prefixed with the
  chart's name (the two charts share one HTML document), so the same rows give the same bytes.
- Accessible: each chart is `role="img"` with `<title>` and `<desc>`; every bar and point carries
  its own `<title>` (night and value), shown on hover and read by screen readers.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from credit_dw.config import settings
from credit_dw.reports.quality.queries import Table, feed_name

log = logging.getLogger(__name__)

#: Okabe-Ito: distinguishable for colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
RECEIVED_COLOUR, QUARANTINED_COLOUR = PALETTE[0], PALETTE[1]
#: Line style and marker of the n-th round of the palette: with more feeds than colours (19 feeds,
#: 8 colour-blind-safe colours) no two lines look alike (colour, dash and marker together).
LINE_STYLES = (("-", "o"), ("--", "s"), (":", "^"))


def series_style(k: int) -> tuple[str, str, str]:
    """(colour, dash, marker) of the k-th line of a chart: unique for up to 24 lines."""
    dash, marker = LINE_STYLES[(k // len(PALETTE)) % len(LINE_STYLES)]
    return PALETTE[k % len(PALETTE)], dash, marker
INK, MUTED, GRID, AXIS = "#1d2733", "#5b6675", "#e6eaef", "#8a94a3"  # the page's CSS colours

#: The page's font stack (templates/quality_report.html, `body`), then matplotlib's own font, so
#: that the SVG's text and the page's text resolve to the same font in the browser.
FONT_STACK = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "DejaVu Sans")
#: CJK font files registered with matplotlib when present: a font installed after matplotlib built
#: its font cache (e.g. `make browser` after a first report) is otherwise not seen.
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)

#: SVG user units (1 unit = 1 pt at matplotlib's 72 dpi); the page scales the chart to its width.
WIDTH, HEIGHT = 960, 280

RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "credit-dw-quality-report",
    "font.family": ["sans-serif"],
    "font.sans-serif": list(FONT_STACK),
    "font.size": 11,
    "text.color": INK,
    "axes.edgecolor": AXIS,
    "axes.linewidth": 1,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.spines.left": False,
    "axes.axisbelow": True,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": GRID,
    "grid.linewidth": 1,
    "xtick.color": AXIS,
    "xtick.labelcolor": MUTED,
    "xtick.labelsize": 11,
    "ytick.left": False,
    "ytick.labelcolor": MUTED,
    "ytick.labelsize": 11,
    "legend.frameon": False,
    "legend.fontsize": 12,
    "legend.labelcolor": INK,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
}

SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


# ---------------------------------------------------------------------------------------------
# matplotlib, imported on first use


@contextmanager
def _matplotlib() -> Iterator[object]:
    """matplotlib with the report's rc settings and the CJK fonts registered; no pyplot, no GUI."""
    os.environ.setdefault("MPLCONFIGDIR", str(settings.matplotlib_dir()))
    import matplotlib
    from matplotlib import font_manager

    known = {Path(f.fname) for f in font_manager.fontManager.ttflist}
    for path in map(Path, CJK_FONT_FILES):
        if path.is_file() and path not in known:
            font_manager.fontManager.addfont(str(path))
    with matplotlib.rc_context(RC), warnings.catch_warnings():
        if not {f.name for f in font_manager.fontManager.ttflist} & set(FONT_STACK[:-1]):
            # The text stays text, drawn by the browser; only the layout's measure of it is off.
            log.warning("no CJK font of %s found: the charts' Chinese labels are measured with %s",
                        FONT_STACK[:-1], FONT_STACK[-1])
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        yield matplotlib


def _figure():
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH / 72, HEIGHT / 72), layout="constrained")


# ---------------------------------------------------------------------------------------------
# Axes: matplotlib's locators and formatters; only the report's conventions are chosen here


def _night_axis(ax, nights: Sequence[date]) -> None:
    """Nights at 0..n-1, labelled mm-dd: about ten labels, always the first and the report's night."""
    every = max(1, math.ceil(len(nights) / 10))
    shown = [i for i in range(len(nights)) if i % every == 0 or i == len(nights) - 1]
    ax.set_xlim(-0.5, max(len(nights), 1) - 0.5)
    ax.set_xticks(shown, [f"{nights[i]:%m-%d}" for i in shown])


def _share_label(value: float, _position=None) -> str:
    percent = value * 100
    return f"{percent:.0f}%" if percent >= 1 or value == 0 else f"{percent:.1f}%"


def _value_axis(ax, top_value: float, *, share: bool) -> None:
    """From 0 to the first round tick (1, 2, 5 × 10^k) at or above the highest value."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, StrMethodFormatter

    top_value = top_value or (0.1 if share else 1)
    locator = MaxNLocator(nbins=5, steps=[1, 2, 5, 10], integer=not share, min_n_ticks=2)
    top = min(t for t in locator.tick_values(0, top_value) if t >= top_value)
    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(locator)
    ax.yaxis.set_major_formatter(FuncFormatter(_share_label) if share else StrMethodFormatter("{x:,.0f}"))


#: Room for one legend entry besides its label (handle, gap, column spacing), in SVG units at the
#: legend's 12 pt, and the width a CJK / other character takes: to choose how many entries a row
#: holds so that the legend stays inside the figure (the browser, not matplotlib, draws the text).
LEGEND_ENTRY_EXTRA, CJK_WIDTH, OTHER_WIDTH = 40, 12, 7


def _label_width(label: str) -> int:
    return sum(CJK_WIDTH if ord(ch) > 0x2E80 else OTHER_WIDTH for ch in label)


def legend_columns(labels: Sequence[str], width: float = WIDTH - 40) -> int:
    """As many entries a row as fit the figure's width with the widest label (at least one)."""
    widest = max((_label_width(label) for label in labels), default=0) + LEGEND_ENTRY_EXTRA
    return max(1, min(len(labels), int(width // widest)))


def _legend_above(ax, columns: int | None = None, **kwargs) -> None:
    """The legend above the plot, inside the figure: rows of `legend_columns` entries, and the
    constrained layout makes room for all of them (`loc="outside upper center"`)."""
    handles, labels = kwargs.pop("handles", None), None
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    else:
        labels = [h.get_label() for h in handles]
    ax.figure.legend(handles, labels, loc="outside upper left", ncols=columns or legend_columns(labels),
                     borderaxespad=0.2, handlelength=1, handleheight=1, columnspacing=1.5)


# ---------------------------------------------------------------------------------------------
# SVG: from matplotlib's standalone file to an element of the page


def _svg(fig, name: str, title: str, desc: str, tooltips: dict[str, str]) -> str:
    """The figure as an inline <svg> element for the page.

    matplotlib writes a standalone file (XML prolog, DOCTYPE, RDF metadata naming matplotlib,
    xlink namespace); the page needs an element: those go, ids are prefixed with `name` so that
    two charts never share one, `xlink:href` becomes SVG 2's `href`, the root gets the page's
    class, its width and the accessible name and description, and each artist drawn with a gid
    in `tooltips` gets its `<title>`.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    root = ET.fromstring(buffer.getvalue())
    for element in root.iter():
        element.tag = element.tag.removeprefix(SVG_NS)
        if XLINK_HREF in element.attrib:
            element.set("href", element.attrib.pop(XLINK_HREF))
    for parent in [root, *root.iter("defs")]:
        for child in list(parent):
            if child.tag in ("metadata", "style"):  # RDF; the `*{stroke-linejoin…}` rule, moved below
                parent.remove(child)
    for child in list(root):
        if child.tag == "defs" and len(child) == 0:
            root.remove(child)

    ids = {element.get("id") for element in root.iter() if element.get("id")}
    reference = re.compile(r"(url\(#|^#)([^)\s]+)")

    def prefixed(match: re.Match) -> str:
        return match[1] + (f"{name}-{match[2]}" if match[2] in ids else match[2])

    for element in root.iter():
        for key, value in element.attrib.items():
            if key == "id":
                element.set(key, f"{name}-{value}")
            elif key == "d":
                element.set(key, " ".join(value.split()))  # matplotlib breaks path data across lines
            elif "#" in value:
                element.set(key, reference.sub(prefixed, value))
        if (text := tooltips.get(element.get("id", "").removeprefix(f"{name}-"))) is not None:
            tip = ET.Element("title")
            tip.text = text
            element.insert(0, tip)

    attributes = {
        "xmlns": "http://www.w3.org/2000/svg",
        "viewBox": root.get("viewBox"),
        "width": "100%",
        "role": "img",
        "aria-labelledby": f"{name}-title {name}-desc",
        "class": "chart",
        "id": name,
        "stroke-linejoin": "round",
        "stroke-linecap": "butt",
    }
    root.attrib.clear()
    root.attrib.update(attributes)
    for position, (tag, text) in enumerate((("title", title), ("desc", desc))):
        element = ET.Element(tag, {"id": f"{name}-{tag}"})
        element.text = text
        root.insert(position, element)
    return ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------------------------------------
# The charts


def bar_chart_svg(trend: Table) -> str:
    """Rows received per night, with the quarantined part drawn over it in the warning colour."""
    nights = [r["logical_date"] for r in trend.rows]
    received = [int(r["rows_received"]) for r in trend.rows]
    held = [int(r["rows_quarantined"]) for r in trend.rows]
    tooltips: dict[str, str] = {}
    with _matplotlib():
        from matplotlib.patches import Patch

        fig = _figure()
        ax = fig.add_subplot()
        legend = []
        for key, values, colour, label, tip in (
            ("received", received, RECEIVED_COLOUR, "接收行数 rows received", "接收 received"),
            ("quarantined", held, QUARANTINED_COLOUR, "隔离行数 rows quarantined", "隔离 quarantined"),
        ):
            drawn = [i for i, v in enumerate(values) if v > 0]
            bars = ax.bar(drawn, [values[i] for i in drawn], width=0.7, color=colour)
            legend.append(Patch(color=colour, label=label))
            for i, bar in zip(drawn, bars, strict=True):
                bar.set_gid(f"{key}-{i}")
                tooltips[f"{key}-{i}"] = f"{nights[i]} {tip}: {values[i]:,}"
        _night_axis(ax, nights)
        _value_axis(ax, max(received, default=0), share=False)
        _legend_above(ax, handles=legend)
        span = f"{nights[0]} – {nights[-1]}" if nights else ""
        return _svg(
            fig, "chart-received",
            "每晚接收与隔离行数 Rows received and quarantined per night",
            f"柱状图 {span}：蓝色为每晚接收行数，橙色为其中隔离行数；数值见 {trend.file_name}。"
            f"Bar chart {span}: rows received per night in blue, the quarantined part of them in "
            f"orange; the numbers are in {trend.file_name}.",
            tooltips,
        )


def line_chart_svg(trend: Table, feed_trend: Table) -> str:
    """Quarantine share per feed per night; a night without a received batch breaks the line."""
    nights = [r["logical_date"] for r in trend.rows]
    index = {n: i for i, n in enumerate(nights)}
    feeds: dict[str, dict[date, float]] = {}
    for row in feed_trend.rows:
        if row["quarantine_share"] is not None:
            feeds.setdefault(row["source_id"], {})[row["logical_date"]] = float(row["quarantine_share"])
    tooltips: dict[str, str] = {}
    with _matplotlib():
        fig = _figure()
        ax = fig.add_subplot()
        for k, (source_id, shares) in enumerate(feeds.items()):
            colour, dash, marker = series_style(k)
            name = feed_name(source_id)
            # NaN where the feed has no received batch: matplotlib breaks the line there.
            ys = [shares.get(night, math.nan) for night in nights]
            ax.plot(range(len(nights)), ys, color=colour, linestyle=dash, marker=marker, markersize=6,
                    markevery=[], linewidth=2, label=name, gid=f"line-{source_id}")
            for night, share in shares.items():
                if night in index:
                    gid = f"point-{source_id}-{index[night]}"
                    ax.plot([index[night]], [share], linestyle="none", marker=marker, markersize=6,
                            color=colour, gid=gid)
                    tooltips[gid] = f"{name} {night}: {share * 100:.1f}%"
        if not feeds:
            ax.text(0.5, 0.5, f"近{len(nights)}晚无数据 no batches in the last {len(nights)} nights",
                    transform=ax.transAxes, ha="center", va="center", fontsize=12, color=INK)
        _night_axis(ax, nights)
        _value_axis(ax, max((v for f in feeds.values() for v in f.values()), default=0), share=True)
        if feeds:
            _legend_above(ax)
        span = f"{nights[0]} – {nights[-1]}" if nights else ""
        return _svg(
            fig, "chart-share",
            "各数据源隔离占比 Quarantine share per feed",
            f"折线图 {span}：每条线为一个数据源每晚隔离行数占接收行数的比例，无接收批次的晚上断开；"
            f"数值见 {feed_trend.file_name}。Line chart {span}: per feed, the share of each night's "
            f"received rows that was quarantined; a night without a received batch breaks the line; "
            f"the numbers are in {feed_trend.file_name}.",
            tooltips,
        )

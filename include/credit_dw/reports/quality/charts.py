"""The quality report's charts: inline SVG drawn in Python (no JavaScript, no CDN)."""

from __future__ import annotations

import html
import math
from datetime import date

from credit_dw.reports.quality.queries import (
    Table,
)

# ---------------------------------------------------------------------------------------------
# Charts: inline SVG, drawn here (no JavaScript, no CDN)

#: Okabe-Ito: distinguishable for colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 5 × 10^k) up to at least `maximum`."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(int(round(top / step)) + 1)]


def _tick_label(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%" if value * 100 >= 1 or value == 0 else f"{value * 100:.1f}%"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _svg_frame(title: str, width: int, height: int, body: list[str]) -> str:
    e = html.escape
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-label="{e(title)}" class="chart"><title>{e(title)}</title>'
            + "".join(body) + "</svg>")


def _axes(nights: list[date], ticks: list[float], percent: bool, box: tuple[int, int, int, int]) -> list[str]:
    left, top, plot_w, plot_h = box
    out = []
    top_value = ticks[-1] or 1
    for t in ticks:
        y = top + plot_h - plot_h * t / top_value
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
                   f'{_tick_label(t, percent)}</text>')
    step = plot_w / max(len(nights), 1)
    label_every = max(1, math.ceil(len(nights) / 10))
    for i, night in enumerate(nights):
        if i % label_every == 0 or i == len(nights) - 1:
            x = left + step * (i + 0.5)
            out.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">'
                       f'{night:%m-%d}</text>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" class="axis"/>')
    return out


def _legend(items: list[tuple[str, str]], x: int, y: int) -> list[str]:
    out = []
    for name, colour in items:
        out.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="{y + 1}" class="legend">{html.escape(name)}</text>')
        x += 24 + 8 * len(name)
    return out


def bar_chart_svg(trend: Table, width: int = 960, height: int = 280) -> str:
    """Rows received per night, with the quarantined part drawn over it in the warning colour."""
    nights = [r["logical_date"] for r in trend.rows]
    received = [int(r["rows_received"]) for r in trend.rows]
    held = [int(r["rows_quarantined"]) for r in trend.rows]
    left, top, right, bottom = 64, 34, 16, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max(received, default=0))
    top_value = ticks[-1] or 1
    body = _axes(nights, ticks, False, (left, top, plot_w, plot_h))
    step = plot_w / max(len(nights), 1)
    bar_w = max(step * 0.7, 1)
    for i, (night, got, bad) in enumerate(zip(nights, received, held, strict=True)):
        x = left + step * i + (step - bar_w) / 2
        for value, colour, label in ((got, PALETTE[0], "接收 received"), (bad, PALETTE[1], "隔离 quarantined")):
            if value <= 0:
                continue
            h = plot_h * value / top_value
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{night} {label}: {value:,}</title></rect>')
    body += _legend([("接收行数 rows received", PALETTE[0]), ("隔离行数 rows quarantined", PALETTE[1])], left, 16)
    return _svg_frame("每晚接收与隔离行数 Rows received and quarantined per night", width, height, body)


def line_chart_svg(trend: Table, feed_trend: Table, width: int = 960, height: int = 280) -> str:
    """Quarantine share per feed per night; a night without a received batch breaks the line."""
    nights = [r["logical_date"] for r in trend.rows]
    index = {n: i for i, n in enumerate(nights)}
    feeds: dict[str, dict[date, float]] = {}
    for row in feed_trend.rows:
        if row["quarantine_share"] is not None:
            feeds.setdefault(row["source_id"], {})[row["logical_date"]] = float(row["quarantine_share"])
    left, top, right, bottom = 64, 34, 16, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max((v for f in feeds.values() for v in f.values()), default=0) or 0.1)
    top_value = ticks[-1] or 1
    body = _axes(nights, ticks, True, (left, top, plot_w, plot_h))
    step = plot_w / max(len(nights), 1)
    legend = []
    for k, (source_id, shares) in enumerate(feeds.items()):
        colour = PALETTE[k % len(PALETTE)]
        legend.append((source_id, colour))
        segment: list[str] = []
        segments = []
        for night in nights:
            if night in shares:
                x = left + step * (index[night] + 0.5)
                y = top + plot_h - plot_h * shares[night] / top_value
                segment.append(f"{x:.1f},{y:.1f}")
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{source_id} '
                            f'{night}: {shares[night] * 100:.1f}%</title></circle>')
            elif segment:
                segments.append(segment)
                segment = []
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) > 1:
                body.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                            f'stroke-width="2"/>')
    if not feeds:
        body.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" class="legend">'
                    '近30晚无数据 no batches in the last 30 nights</text>')
    body += _legend(legend, left, 16)
    return _svg_frame("各数据源隔离占比 Quarantine share per feed", width, height, body)

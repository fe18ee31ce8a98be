"""A `Report` as one HTML page (tables, inline SVG charts, no scripts, no outside files) and as CSV,
one file per table, written side by side into a directory of their own."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from html import escape
from pathlib import Path

from stockbridge.reports.model import Cell, Chart, Report, Section, Table, stamp

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
p.note{color:#555;font-size:.9em}p.empty{color:#2a7a2a}
"""
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _cell(value: Cell) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"<td>{escape(str(value))}</td>"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f'<td class="n">{text}</td>'


def table_html(table: Table) -> str:
    out = [f'<h3 id="{escape(table.name)}">{escape(table.title)}</h3>']
    if not table.rows:
        out.append(f'<p class="empty">{escape(table.empty)}</p>')
        return "\n".join(out)
    out.append(f'<table data-name="{escape(table.name)}"><thead><tr>')
    out.extend(f"<th>{escape(c)}</th>" for c in table.columns)
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>" + "".join(_cell(v) for v in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def bar_svg(chart: Chart, width: int = 760) -> str:
    """Horizontal bars, one per x label (long names fit on the left), of the first series' values."""
    label_w, bar_h, gap, top = 240, 14, 6, 10
    values = [v or 0.0 for v in chart.series[0].values] if chart.series else []
    high = max(values, default=0.0) or 1.0
    plot_w = width - label_w - 70
    height = top * 2 + len(values) * (bar_h + gap)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(chart.title)}" data-name="{escape(chart.name)}">'
    ]
    for i, (label, value) in enumerate(zip(chart.x_labels, values, strict=True)):
        y = top + i * (bar_h + gap)
        length = plot_w * value / high
        out.append(
            f'<text x="{label_w - 6}" y="{y + bar_h - 3}" font-size="10" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="{_COLOURS[0]}"/>'
        )
        out.append(
            f'<text x="{label_w + length + 4:.1f}" y="{y + bar_h - 3}" font-size="10">{value:g}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def chart_svg(chart: Chart, width: int = 760, height: int = 260) -> str:
    """A line chart: one polyline per series (broken where it has no value), a dashed line per target."""
    if chart.kind == "bar":
        return bar_svg(chart, width)
    left, right, top, bottom = 60, 150, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in chart.series for v in s.values if v is not None]
    values += [s.target for s in chart.series if s.target is not None]
    high = max(values, default=0.0) * 1.1 or 1.0
    points = max(1, len(chart.x_labels) - 1)

    def x(i: int) -> float:
        return left + plot_w * i / points

    def y(v: float) -> float:
        return top + plot_h * (1 - v / high)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(chart.title)}" data-name="{escape(chart.name)}">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for k in range(5):
        v = high * k / 4
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.0f}</text>')
    step = max(1, len(chart.x_labels) // 12)
    for i, label in enumerate(chart.x_labels):
        if i % step == 0:
            out.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 14}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    out.append(
        f'<text x="12" y="{top + plot_h / 2:.0f}" font-size="10" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.0f})">{escape(chart.y_label)}</text>'
    )
    for n, series in enumerate(chart.series):
        colour = _COLOURS[n % len(_COLOURS)]
        for run in _runs(series.values):
            coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            if len(run) == 1:
                i, v = run[0]
                out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>')
            else:
                out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        if series.target is not None:
            ty = y(series.target)
            out.append(
                f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" '
                f'stroke="{colour}" stroke-dasharray="4 3"/>'
            )
        ly = top + 14 * n + 10
        label = series.label + ("" if series.target is None else f" (target {series.target:g})")
        out.append(f'<rect x="{left + plot_w + 10}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{left + plot_w + 24}" y="{ly + 1}" font-size="10">{escape(label)}</text>')
    if not values:
        out.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" font-size="12" '
            'text-anchor="middle">no samples</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, v))
    return [r for r in runs if r]


def _section_html(section: Section) -> str:
    out = [f"<h2>{escape(section.title)}</h2>"]
    if section.note:
        out.append(f'<p class="note">{escape(section.note)}</p>')
    out.extend(f"<h3>{escape(c.title)}</h3>\n{chart_svg(c)}" for c in section.charts)
    out.extend(table_html(t) for t in section.tables)
    return "\n".join(out)


def report_html(report: Report) -> str:
    body = "\n".join(_section_html(s) for s in report.sections)
    csv_links = " ".join(f'<a href="{escape(t.name)}.csv">{escape(t.name)}.csv</a>' for t in report.tables())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(report.title)}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>{escape(report.title)}</h1>\n"
        f'<p class="note">Written {stamp(report.generated_at)} UTC. CSV: {csv_links}</p>\n'
        f"{body}\n</body></html>\n"
    )


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(["" if v is None else v for v in row] for row in table.rows)
    return buffer.getvalue()


def write_report(report: Report, directory: str | Path) -> Path:
    """Write `report.html` and one CSV per table into `<directory>/<kind>-<time>/`; returns the page."""
    folder = Path(directory) / f"{report.kind}-{report.generated_at:%Y-%m-%dT%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    for table in report.tables():
        (folder / f"{table.name}.csv").write_text(table_csv(table), encoding="utf-8")
    page = folder / "report.html"
    page.write_text(report_html(report), encoding="utf-8")
    return page

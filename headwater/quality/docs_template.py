"""HTML pieces of the data docs: a page shell with inline CSS, tables, status badges, charts.

Text is escaped by default: a plain ``str`` handed to these helpers goes through
``html.escape``; only ``Markup`` (HTML these helpers made) is inserted as it is.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Markup(str):
    """HTML that is safe to insert: built here from escaped parts."""

    __slots__ = ()


def esc(value: object) -> Markup:
    """``value`` as HTML text: Markup stays, anything else is escaped."""
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[Markup]) -> Markup:
    return Markup("".join(parts))


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0 1rem}h2{font-size:1.25rem;margin-top:2rem;
border-bottom:1px solid #d0d7de;padding-bottom:.3rem}h3{font-size:1.05rem;margin:1.6rem 0 .4rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
pre{background:#f6f8fa;padding:.5rem;overflow:auto}
.muted{color:#656d76}.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;
font-size:12px;font-weight:600;color:#fff}
.pass{background:#1a7f37}.warn{background:#bf8700}.fail{background:#cf222e}
.error{background:#8250df}.none{background:#8c959f}
.summary span{margin-right:1rem}.check{border-top:1px solid #eaeef2;padding-top:.2rem}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
"""

COLOURS = {
    "pass": "#1a7f37",
    "warn": "#bf8700",
    "fail": "#cf222e",
    "error": "#8250df",
    "none": "#8c959f",
}


def page(title: str, body: Markup, home: str | None = None) -> str:
    """A whole HTML document; ``home`` is the relative link back to the index."""
    back = (
        Markup(f'<p><a href="{esc(home)}">← all suites and tables</a></p>') if home else Markup("")
    )
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body>{back}{body}</body></html>\n"
    )


def badge(status: str) -> Markup:
    kind = status if status in COLOURS else "none"
    return Markup(f'<span class="badge {kind}">{esc(status)}</span>')


def link(href: str, text: str) -> Markup:
    return Markup(f'<a href="{esc(href)}">{esc(text)}</a>')


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: int = 0) -> Markup:
    """A table of escaped cells; the last ``numeric`` columns are right-aligned."""
    head = join(Markup(f"<th>{esc(h)}</th>") for h in headers)
    first_numeric = len(headers) - numeric
    body = join(
        Markup(
            "<tr>"
            + "".join(
                f'<td class="num">{esc(c)}</td>' if i >= first_numeric else f"<td>{esc(c)}</td>"
                for i, c in enumerate(row)
            )
            + "</tr>"
        )
        for row in rows
    )
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


@dataclass(frozen=True)
class Point:
    """One evaluation on a chart: its value (None: nothing to plot), status and tooltip."""

    value: float | None
    status: str
    label: str


def chart(points: Sequence[Point], caption: str, width: int = 360, height: int = 64) -> Markup:
    """An inline SVG of values over evaluations, each dot coloured by its status."""
    pad, top = 6, 14
    plotted = [p.value for p in points if p.value is not None]
    low, high = (min(0.0, *plotted), max(plotted)) if plotted else (0.0, 1.0)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(value: float | None) -> float:
        if value is None or high == low:
            return top + (height - top - pad) / 2
        return top + (height - top - pad) * (1 - (value - low) / span)

    xy = [(pad + i * step, y(p.value)) for i, p in enumerate(points)]
    line = " ".join(
        f"{x:.1f},{v:.1f}" for (x, v), p in zip(xy, points, strict=True) if p.value is not None
    )
    dots = join(
        Markup(
            f'<circle cx="{x:.1f}" cy="{v:.1f}" r="3.5" fill="{COLOURS.get(p.status, COLOURS["none"])}">'
            f"<title>{esc(p.label)}</title></circle>"
        )
        for (x, v), p in zip(xy, points, strict=True)
    )
    scale = f"max {high:.3g}" if plotted else ""
    empty = "" if points else "no evaluations recorded yet"
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(caption)}">'
        f'<rect width="{width}" height="{height}" fill="#f6f8fa"/>'
        f'<text x="{pad}" y="10" font-size="9" fill="#656d76">{esc(caption)} {esc(scale)}</text>'
        f'<text x="{pad}" y="{height / 2 + 6:.0f}" font-size="11" fill="#656d76">{esc(empty)}</text>'
        + (
            f'<polyline points="{line}" fill="none" stroke="#8c959f" stroke-width="1.2"/>'
            if line
            else ""
        )
        + f"{dots}</svg>"
    )

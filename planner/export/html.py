"""A self-contained HTML page (no CDN, no network): the layered plan as SVG, one lane per platform,
colour by why selected, details on hover.

The SVG is drawn here, from the plan's own layers (``Plan.layers``): columns are layers, a lane is a
band of rows per platform. The only script is inline: it shows a node's details on hover and records
any script error into the page (``data-errors``) so a headless browser test can see it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from planner.export.common import COLOURS, colour, label
from planner.plan.model import Plan

_ASSETS = Path(__file__).parent


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


COL_W, ROW_H, BOX_W, BOX_H, LANE_GAP, LEFT, TOP = 250, 34, 230, 26, 30, 130, 40


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _positions(
    plan: Plan,
) -> tuple[dict[str, tuple[float, float]], list[tuple[str, float, float]], float, float]:
    """job id -> (x, y) of its box; lanes as (platform, y0, y1); total width and height."""
    pos: dict[str, tuple[float, float]] = {}
    lanes = []
    y = TOP
    width = LEFT
    for platform, layers in sorted(plan.layers.items()):
        rows = max((len(layer) for layer in layers), default=0)
        if rows == 0:
            continue
        for col, layer in enumerate(layers):
            for row, job in enumerate(layer):
                pos[job] = (LEFT + col * COL_W, y + row * ROW_H)
            width = max(width, LEFT + len(layers) * COL_W)
        lanes.append((platform, y - 8, y + rows * ROW_H))
        y += rows * ROW_H + LANE_GAP
    return pos, lanes, width + 20, y


def to_html(plan: Plan) -> str:
    nodes = {n.id: n for n in plan.nodes}
    pos, lanes, width, height = _positions(plan)
    waits: dict[str, list[str]] = {n: [] for n in nodes}
    for e in plan.edges:
        waits.setdefault(e.target, []).append(e.source)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" role="img">']
    for i, (platform, y0, y1) in enumerate(lanes):
        fill = "#f4f8ff" if i % 2 == 0 else "#fff8f0"
        svg.append(f'<rect x="0" y="{y0:g}" width="{width:g}" height="{y1 - y0:g}" fill="{fill}"/>')
        svg.append(f'<text x="6" y="{y0 + 18:g}" font-weight="bold">{_e(platform)}</text>')
    ncols = max((len(ls) for ls in plan.layers.values()), default=0)
    for col in range(ncols):
        svg.append(f'<text x="{LEFT + col * COL_W:g}" y="20">layer {col}</text>')
    for e in sorted(plan.edges, key=lambda e: (e.source, e.target)):
        if e.source not in pos or e.target not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
        x1, y1, x2, y2 = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        mid = (x1 + x2) / 2
        cls = "edge via" if e.via else "edge"
        svg.append(
            f'<path class="{cls}" d="M{x1:g},{y1:g} C{mid:g},{y1:g} {mid:g},{y2:g} {x2:g},{y2:g}">'
            f"<title>{_e(e.source)} → {_e(e.target)} ({_e(e.phase)}: {_e(e.spec)})</title></path>"
        )
    for job_id, (x, y) in sorted(pos.items()):
        node = nodes[job_id]
        text = label(node)
        short = text if len(text) <= 34 else text[:33] + "…"
        svg.append(
            f'<g class="job" data-id="{_e(job_id)}" tabindex="0"><title>{_e(job_id)}</title>'
            f'<rect x="{x:g}" y="{y:g}" width="{BOX_W}" height="{BOX_H}" fill="{colour(node)}"/>'
            f'<text x="{x + 6:g}" y="{y + 17:g}">{_e(short)}</text></g>'
        )
    svg.append("</svg>")
    data = {
        n.id: {
            "recipe": n.recipe,
            "platform": n.platform,
            "build_platform": n.build_platform,
            "layer": n.layer,
            "selected": f"{n.selected.kind}: {n.selected.detail}",
            "skipped": f"{n.skipped.kind}: {n.skipped.detail}" if n.skipped else "",
            "outputs": ", ".join(f"{o.name} {o.version} ({o.build_number})" for o in n.outputs),
            "variant": ", ".join(f"{k}={v}" for k, v in sorted(n.variant.items())),
            "waits": sorted(waits.get(n.id, [])),
            "pool": n.pool,
            "test_pool": n.test_pool,
        }
        for n in sorted(plan.nodes, key=lambda n: n.id)
    }
    # no "<" at all in the script element: neither "</script>" nor "<!--" (which changes how HTML parses
    # the rest of a script) can come from a recipe name
    payload = json.dumps(data, sort_keys=True, ensure_ascii=True)
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e")
    skipped = [n for n in sorted(plan.nodes, key=lambda n: n.id) if n.skipped]
    legend = "".join(f'<span style="background:{c}">{_e(k)}</span>' for k, c in COLOURS.items())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>stackplan plan {_e(plan.hash[:12])}</title>",
        "<script>\n" + _asset("page_guard.js") + "</script>",
        "<style>\n" + _asset("page.css") + "</style>",
        "</head><body>",
        f"<h1>stackplan plan <code>{_e(plan.hash[:12])}</code></h1>",
        f"<p>{len(plan.nodes)} job(s) on {len(plan.layers)} platform(s);"
        f" root <code>{_e(plan.root)}</code>.</p>",
        f'<p class="legend">{legend}</p>',
        '<dl id="details"><dt>hover a job</dt><dd>for its details</dd></dl>',
        *svg,
    ]
    if skipped:
        parts.append("<h2>Skipped</h2><table><tr><th>job</th><th>why</th></tr>")
        for n in skipped:
            reason = n.skipped
            assert reason is not None
            parts.append(
                f'<tr data-id="{_e(n.id)}" tabindex="0"><td>{_e(n.id)}</td>'
                f"<td>{_e(reason.kind)}: {_e(reason.detail)}</td></tr>"
            )
        parts.append("</table>")
    if plan.warnings:
        items = "".join(f"<li>{_e(str(w))}</li>" for w in plan.warnings)
        parts.append("<h2>Warnings</h2><ul>" + items + "</ul>")
    parts += [
        f'<script type="application/json" id="plan-data">{payload}</script>',
        "<script>\n" + _asset("page.js") + "</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"

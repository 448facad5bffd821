"""A self-contained HTML page to explore a plan: works offline from ``file://`` (no CDN, no network).

Why a graph library and not our own drawing: a plan of a distribution has thousands of jobs and
edges, and a page people can explore needs a real layout (dagre's layered layout keeps the build order
left to right), pan and zoom, and hit-testing on a canvas. The page inlines Cytoscape.js with the
cytoscape-dagre layout (which bundles dagre), vendored in ``planner/export/vendor/`` with their MIT
licenses (``vendor/README.md`` says which versions and how to update them).

What the page does (``page.js``): one layout per platform lane, lanes stacked; the jobs of a recipe on
a lane are grouped in a box labelled ``name-version``, each job labelled by the variant keys that differ
(:func:`planner.export.common.short_labels`); search by name; click a job or a recipe box to highlight
everything upstream and downstream; a platform menu; pan and zoom. Everything derived from a recipe
reaches the page as JSON text inside a ``<script type="application/json">`` element with every ``<``
and ``>`` escaped, and is put into the DOM with ``textContent`` only, so a recipe cannot inject markup.

>>> from planner.plan.model import Plan
>>> page = to_html(Plan(root="r", platforms=("linux-64",), nodes=(), edges=(), layers={}))
>>> page.startswith("<!DOCTYPE html>") and "cytoscape" in page and "https://" not in page.split("<body")[0]
True
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from planner.export.common import COLOURS, colour, makespan_text, short_labels
from planner.plan.model import Plan, PlanNode

_ASSETS = Path(__file__).parent
#: The vendored scripts, in load order (cytoscape-dagre registers itself with the global cytoscape).
VENDORED = ("vendor/cytoscape.min.js", "vendor/cytoscape-dagre.min.js")


def _asset(name: str) -> str:
    text = (_ASSETS / name).read_text(encoding="utf-8")
    # a source map that is not shipped would only make the browser's devtools ask for a missing file
    return re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", text)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _script_json(data: Any) -> str:
    """JSON that is safe inside a script element: no ``<`` or ``>`` at all, so neither ``</script>``
    nor ``<!--`` (which changes how HTML parses the rest of a script) can come from a recipe name."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def _head(node: PlanNode) -> str:
    return f"{node.outputs[0].name}-{node.outputs[0].version}" if node.outputs else node.recipe


def page_data(plan: Plan) -> dict[str, Any]:
    """What the page's script draws, deterministic (sorted everywhere):

    - ``boxes``: one per recipe and lane, with its jobs in label order; the page boxes a recipe with
      several jobs (``name-version (N jobs)``, each job labelled by the keys that differ, ``py=3.12``)
      and draws a lone job with its full short label;
    - ``links``: per lane, the box edges dagre lays out (:func:`layout_links`);
    - ``jobs``: label, colour, the details rows and the text search looks in;
    - ``edges``: the job edges, transitively reduced (:func:`drawn_edges`).
    """
    labels = short_labels(plan)
    waits: dict[str, list[str]] = {}
    for e in plan.edges:
        waits.setdefault(e.target, []).append(e.source)
    members: dict[tuple[str, str], list[PlanNode]] = {}
    for n in plan.nodes:
        members.setdefault((n.lane, n.recipe), []).append(n)
    box_of: dict[str, str] = {}
    boxes = []
    for (lane, recipe), nodes in sorted(members.items()):
        box = f"recipe:{lane}:{recipe}"
        nodes.sort(key=lambda n: (labels[n.id], n.id))
        boxes.append(
            {
                "id": box,
                "lane": lane,
                "label": f"{_head(nodes[0])} ({len(nodes)} jobs)",
                "jobs": [n.id for n in nodes],
            }
        )
        for n in nodes:
            box_of[n.id] = box
    jobs = []
    for n in sorted(plan.nodes, key=lambda n: n.id):
        full = labels[n.id]
        head = _head(n)
        boxed = len(members[(n.lane, n.recipe)]) > 1
        tag = full[len(head) :].strip() if boxed and full.startswith(head) else full
        rows = [
            ["job", n.id],
            ["recipe", n.recipe],
            ["platform", f"{n.platform} (built on {n.build_platform})"],
            ["layer", str(n.layer)],
            ["selected", f"{n.selected.kind}: {n.selected.detail}"],
            ["skipped", f"{n.skipped.kind}: {n.skipped.detail}" if n.skipped else "-"],
            ["outputs", ", ".join(f"{o.name} {o.version} ({o.build_number})" for o in n.outputs)],
            ["variant", ", ".join(f"{k}={v}" for k, v in sorted(n.variant.items())) or "-"],
            ["waits for", ", ".join(sorted(waits.get(n.id, []))) or "-"],
            ["pool", f"{n.pool} / tests: {n.test_pool}"],
        ]
        names = " ".join(o.name for o in n.outputs)
        jobs.append(
            {
                "id": n.id,
                "lane": n.lane,
                "box": box_of[n.id],
                "boxed": boxed,
                "tag": tag or full,
                "colour": colour(n),
                "skipped": n.skipped is not None,
                "search": f"{n.id} {n.recipe} {names} {full}".lower(),
                "rows": rows,
            }
        )
    via = {(e.source, e.target) for e in plan.edges if e.via}
    edges = [
        {"source": s, "target": t, "via": (s, t) in via}
        for s, t in drawn_edges((e.source, e.target) for e in plan.edges)
    ]
    links = layout_links((box_of[e.source], box_of[e.target]) for e in plan.edges)
    lane_of = {b["id"]: b["lane"] for b in boxes}
    by_lane: dict[str, list[list[str]]] = {}
    for s, t in links:
        if lane_of[s] == lane_of[t]:
            by_lane.setdefault(lane_of[s], []).append([s, t])
    lanes = sorted({n.lane for n in plan.nodes})
    return {"lanes": lanes, "boxes": boxes, "links": by_lane, "jobs": jobs, "edges": edges}


def layout_links(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The edges the layout sees: for each box, one edge from a predecessor on the longest path to
    it (the smallest name among ties). The result is a forest whose edges each span one rank, and the
    ranks are the build order's depth: dagre lays out 1,669 boxes of Anaconda's linux-64 plan in
    seconds this way, where all 2,500 reduced box edges took a minute (long edges become chains of
    dummy nodes that the crossing reduction must order). Every edge is still drawn.

    >>> layout_links([("zlib", "libpng"), ("libpng", "pillow"), ("zlib", "pillow"), ("a", "pillow")])
    [('libpng', 'pillow'), ('zlib', 'libpng')]
    """
    g = nx.DiGraph((s, t) for s, t in pairs if s != t)
    if not nx.is_directed_acyclic_graph(g):
        return drawn_edges(g.edges)
    depth: dict[str, int] = {}
    for v in nx.lexicographical_topological_sort(g):
        depth[v] = max((depth[u] + 1 for u in g.predecessors(v)), default=0)
    return sorted(
        (min(u for u in g.predecessors(v) if depth[u] == depth[v] - 1), v) for v in g if depth[v] > 0
    )


def drawn_edges(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The edges worth drawing: the transitive reduction (an edge that another path already implies
    is left out), sorted, without self-loops. Reachability is unchanged, so "everything upstream" of
    a job is the same set; on a distribution's plan it is what keeps the hubs from drawing a hairball
    (Anaconda's linux-64 plan: 26,674 edges, 11,100 drawn). A graph with a cycle is drawn whole.

    >>> drawn_edges([("zlib", "libpng"), ("libpng", "pillow"), ("zlib", "pillow"), ("a", "a")])
    [('libpng', 'pillow'), ('zlib', 'libpng')]
    """
    g = nx.DiGraph((s, t) for s, t in pairs if s != t)
    if not nx.is_directed_acyclic_graph(g):
        return sorted(g.edges)
    return sorted(nx.transitive_reduction(g).edges)


def to_html(plan: Plan) -> str:
    """The page (see the module docstring)."""
    data = page_data(plan)
    legend = "".join(f'<span style="background:{c}">{_e(k)}</span>' for k, c in COLOURS.items())
    options = "".join(f'<option value="{_e(lane)}">{_e(lane)}</option>' for lane in data["lanes"])
    spans = ", ".join(f"{_e(lane)} {_e(makespan_text(plan, lane))}" for lane in sorted(plan.makespan))
    skipped = [n for n in sorted(plan.nodes, key=lambda n: n.id) if n.skipped]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>stackplan plan {_e(plan.hash[:12])}</title>",
        "<script>\n" + _asset("page_guard.js") + "</script>",
        "<style>\n" + _asset("page.css") + "</style>",
        "</head><body>",
        "<header>",
        f"<h1>stackplan plan <code>{_e(plan.hash[:12])}</code></h1>",
        f"<p>{len(plan.nodes)} job(s), {len(plan.edges)} edge(s) on {len(data['lanes'])} platform(s);"
        f" root <code>{_e(plan.root)}</code>" + (f"; makespan {spans}" if spans else "") + ".</p>",
        '<div class="controls">',
        '<input type="search" id="search" placeholder="search jobs by name (Esc clears)"'
        ' aria-label="search jobs by name">',
        '<select id="platform" aria-label="platform"><option value="">all platforms</option>'
        + options
        + "</select>",
        '<button id="fit" type="button">fit</button>',
        '<span id="status" role="status"></span>',
        "</div>",
        f'<p class="legend">{legend} · click a job: <b style="color:#0072B2">upstream</b>,'
        ' <b style="color:#D55E00">downstream</b>; click the background to clear</p>',
        "</header>",
        '<main><div id="graph" role="img" aria-label="the plan graph"></div>',
        '<dl id="details"><dt>click or hover a job</dt><dd>for its details</dd></dl></main>',
    ]
    if skipped or plan.warnings:
        parts.append("<section>")
    if skipped:
        parts.append("<h2>Skipped</h2><table><tr><th>job</th><th>why</th></tr>")
        for n in skipped:
            reason = n.skipped
            assert reason is not None
            parts.append(f"<tr><td>{_e(n.id)}</td><td>{_e(reason.kind)}: {_e(reason.detail)}</td></tr>")
        parts.append("</table>")
    if plan.warnings:
        items = "".join(f"<li>{_e(str(w))}</li>" for w in plan.warnings)
        parts.append(f"<details><summary>{len(plan.warnings)} warning(s)</summary><ul>{items}</ul></details>")
    if skipped or plan.warnings:
        parts.append("</section>")
    parts += [
        f'<script type="application/json" id="plan-data">{_script_json(data)}</script>',
        *("<script>\n" + _asset(name) + "</script>" for name in VENDORED),
        "<script>\n" + _asset("page.js") + "</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"

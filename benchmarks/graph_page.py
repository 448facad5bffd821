"""The HTML graph page in headless Chromium: how long a plan of N jobs takes to lay out and be ready.

For each size, a synthetic planned ecosystem (:func:`flows.run.synthetic.variant_plan`: recipes x 5
python versions, hubs) is exported with ``stackplan graph --format html`` and opened ``--runs`` times
in a fresh page; reported are the page's size, the median time its script spent laying out
(``data-layout-ms``: dagre over the recipe boxes plus placing the jobs) and the median wall time from
navigation to ready (parsing ~0.5 MB of vendored script and the JSON included). ``--plan FILE`` adds
a real plan (e.g. ``stackplan plan`` of Anaconda's feedstocks on linux-64). Target: a 2,000-job plan
ready in under 5 s. Figures go to docs/commands/graph.md. Needs Debian's chromium.

    python -m benchmarks graph_page [--sizes 500,2000,4000] [--runs 3] [--plan plan.json] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import machine_line, write_section

DOC = Path(__file__).resolve().parent.parent / "docs" / "commands" / "graph.md"
TARGET_SECONDS = 5.0


def measure(plan, label: str, runs: int, browser, work: Path) -> dict:
    from planner.export import export

    page = work / f"{label.replace(' ', '_').replace('/', '_')}.html"
    page.write_text(export(plan, "html"))
    layout, wall = [], []
    for _ in range(runs):
        start = time.perf_counter()
        browser.goto(page.as_uri(), timeout=900)
        ready = browser.wait_for(
            "document.documentElement.getAttribute('data-ready') || "
            "document.documentElement.getAttribute('data-errors')",
            timeout=900,
        )
        wall.append(time.perf_counter() - start)
        if ready != str(len(plan.nodes)):
            raise SystemExit(f"{label}: the page failed: {ready}")
        layout.append(int(browser.evaluate("document.documentElement.getAttribute('data-layout-ms')")) / 1000)
    recipes = len({(n.lane, n.recipe) for n in plan.nodes})
    return {
        "plan": label,
        "jobs": len(plan.nodes),
        "recipes": recipes,
        "edges": len(plan.edges),
        "page_mb": page.stat().st_size / 1e6,
        "layout_s": statistics.median(layout),
        "ready_s": statistics.median(wall),
        "runs": runs,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| plan | jobs | recipe boxes | edges | page | layout (median) | ready (median) | runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['plan']} | {r['jobs']:,} | {r['recipes']:,} | {r['edges']:,} | {r['page_mb']:.1f} MB"
            f" | {r['layout_s']:.2f} s | {r['ready_s']:.2f} s | {r['runs']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="graph_page", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,4000", help="jobs per synthetic plan, comma separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--plan", type=Path, action="append", default=[], help="a plan JSON to add")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from flows.run.synthetic import variant_plan
    from planner.plan.model import Plan
    from tests.browser import CHROMIUM, Browser

    if CHROMIUM is None:
        print("graph_page: chromium is not installed (Debian package chromium)")
        return 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Browser(CHROMIUM, Path(tmp) / "profile") as browser:
        for size in (int(s) for s in args.sizes.split(",") if s):
            plan = variant_plan(max(1, size // 5))
            rows.append(measure(plan, f"synthetic {len(plan.nodes):,} jobs", args.runs, browser, Path(tmp)))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
        for path in args.plan:
            plan = Plan.from_json(path.read_text())
            rows.append(measure(plan, path.name, args.runs, browser, Path(tmp)))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    two_k = [r for r in rows if r["jobs"] == 2000]
    verdict = ""
    if two_k:
        ok = two_k[0]["ready_s"] <= TARGET_SECONDS
        verdict = f"\n\nTarget (2,000 jobs ready within {TARGET_SECONDS:g} s): {'met' if ok else 'NOT met'}."
    text = (
        f"{table(rows)}{verdict}\n\nMeasured {machine_line()}; headless Chromium, window 1400x900;"
        " `python -m benchmarks graph_page`."
    )
    print(text)
    if not args.no_write:
        write_section(DOC, "graph_page", text)
    return 0

"""The Markdown body of a PR comment: what builds where and in which layer, changed vs downstream,
what is skipped and why, warnings and render errors.

Kept short on purpose: a reviewer reads it in a PR thread. Long lists fold into ``<details>``.
"""

from __future__ import annotations

from collections import Counter

from planner.export.common import label
from planner.plan.model import Plan, PlanNode

#: The comment marker a bot looks for to update its own comment instead of posting a new one.
MARKER = "<!-- stackplan-preview -->"
MAX_ROWS = 200


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _why(node: PlanNode) -> str:
    detail = f": {node.selected.detail}" if node.selected.detail else ""
    return _cell(f"{node.selected.kind}{detail}")


def to_markdown(plan: Plan) -> str:
    nodes = sorted(plan.nodes, key=lambda n: (n.lane, n.layer, n.id))
    building = [n for n in nodes if not n.skipped]
    skipped = [n for n in nodes if n.skipped]
    kinds = Counter(n.selected.kind for n in building)
    lines = [MARKER, "## stackplan preview", ""]
    if not plan.nodes:
        lines.append("Nothing to build: no recipe selected.")
    else:
        summary = ", ".join(f"{c} {k}" for k, c in sorted(kinds.items()))
        lines.append(
            f"**{len(building)} job(s) to build** on {len(plan.layers)} platform(s)"
            + (f" ({summary})" if summary else "")
            + (f", {len(skipped)} skipped" if skipped else "")
            + f" · plan `{plan.hash[:12]}`"
        )
    lines.append("")
    for platform, layers in sorted(plan.layers.items()):
        jobs = [n for n in building if n.lane == platform]
        if not jobs:
            continue
        span = plan.makespan.get(platform, 0)
        lines.append(
            f"### {platform}: {len(jobs)} job(s), {sum(1 for x in layers if x)} layer(s), makespan {span:g}"
        )
        lines.append("")
        lines.append("| layer | job | recipe | why |")
        lines.append("|---:|---|---|---|")
        for n in jobs[:MAX_ROWS]:
            lines.append(f"| {n.layer} | `{_cell(label(n))}` | {_cell(n.recipe)} | {_why(n)} |")
        if len(jobs) > MAX_ROWS:
            lines.append(f"| | … and {len(jobs) - MAX_ROWS} more | | |")
        ext = plan.external.get(platform, ())
        if ext:
            lines.append("")
            lines.append(f"<details><summary>{len(ext)} external name(s) from channels</summary>")
            lines.append("")
            lines.append(", ".join(f"`{x}`" for x in ext))
            lines.append("</details>")
        lines.append("")
    if skipped:
        lines.append(f"### Skipped ({len(skipped)})")
        lines.append("")
        lines.append("| job | platform | why |")
        lines.append("|---|---|---|")
        for n in skipped[:MAX_ROWS]:
            reason = n.skipped
            assert reason is not None
            lines.append(
                f"| `{_cell(label(n))}` | {n.platform} | {_cell(reason.kind + ': ' + reason.detail)} |"
            )
        lines.append("")
    if plan.bootstrap_edges:
        lines.append(f"### Cycles broken ({len(plan.bootstrap_edges)} bootstrap edge(s))")
        lines.append("")
        for e in plan.bootstrap_edges:
            lines.append(
                f"- `{e.source}` → `{e.target}` ({e.phase}: `{_cell(e.spec)}`) taken from the channel"
            )
        lines.append("")
    if plan.warnings:
        lines.append(f"<details><summary>⚠️ {len(plan.warnings)} warning(s)</summary>")
        lines.append("")
        lines.extend(f"- {_cell(str(w))}" for w in plan.warnings)
        lines.append("</details>")
        lines.append("")
    if plan.errors:
        lines.append(f"### ❌ {len(plan.errors)} recipe(s) failed to render")
        lines.append("")
        for err in plan.errors:
            where = f"{err.path}:{err.line}" if err.line else err.path
            lines.append(f"- `{_cell(where)}`: {_cell(err.message)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"

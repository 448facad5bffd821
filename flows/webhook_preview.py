"""The plan preview posted on a pull request: a short markdown summary a reviewer reads at a glance.

Per platform, how many jobs build and in how many layers; then the recipes that build and why,
and the recipes that failed to render. Kept short on purpose: GitHub caps comments at 65,536 characters
and a reviewer wants the gist; the full plan is in the Prefect run's parameters.
"""

from __future__ import annotations

from collections import defaultdict

from planner.plan_model import Plan

__all__ = ["preview_markdown"]

_MAX_RECIPES = 50


def preview_markdown(plan: Plan, *, run_url: str | None = None, head_sha: str | None = None) -> str:
    """The PR comment: the planner's own preview (``planner.export.markdown``, what ``stackplan preview``
    prints) when it is there, else the short summary below; plus the commit and the run link."""
    try:
        from planner.export.markdown import to_markdown
    except ImportError:
        return _summary(plan, run_url=run_url, head_sha=head_sha)
    tail = []
    if head_sha:
        tail.append(f"for `{head_sha[:12]}`")
    if run_url:
        tail.append(f"[Prefect run]({run_url})")
    body = to_markdown(plan).rstrip("\n")
    return body + ("\n\n" + " · ".join(tail) if tail else "") + "\n"


def _summary(plan: Plan, *, run_url: str | None = None, head_sha: str | None = None) -> str:
    building = [n for n in plan.nodes if n.skipped is None]
    per_platform: dict[str, int] = defaultdict(int)
    for node in building:
        per_platform[node.platform] += 1
    lines = ["### stackplan: build plan"]
    if head_sha:
        lines.append(f"for `{head_sha[:12]}`, plan `{(plan.hash or plan.compute_hash())[:12]}`")
    lines.append("")
    if not building:
        lines.append("Nothing to build.")
    else:
        lines += ["| platform | jobs | layers |", "|---|---:|---:|"]
        for platform in sorted(per_platform):
            layers = len(plan.layers.get(platform, ()))
            lines.append(f"| {platform} | {per_platform[platform]} | {layers} |")
        recipes: dict[str, set[str]] = defaultdict(set)
        for node in building:
            recipes[node.recipe].add(node.selected.kind)
        lines += ["", f"**{len(recipes)} recipe(s)**:"]
        for recipe in sorted(recipes)[:_MAX_RECIPES]:
            lines.append(f"- `{recipe}` ({', '.join(sorted(recipes[recipe]))})")
        if len(recipes) > _MAX_RECIPES:
            lines.append(f"- … and {len(recipes) - _MAX_RECIPES} more")
    if plan.errors:
        lines += ["", f"**{len(plan.errors)} recipe(s) failed to render**:"]
        for err in plan.errors[:_MAX_RECIPES]:
            where = f"{err.get('path')}:{err.get('line')}" if err.get("line") else str(err.get("path"))
            lines.append(f"- `{where}`: {err.get('message')}")
    if run_url:
        lines += ["", f"[Prefect run]({run_url})"]
    return "\n".join(lines) + "\n"

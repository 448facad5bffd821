"""The plan preview posted on a pull request: the same Markdown ``stackplan preview`` prints (whose
tables are capped, as GitHub caps comments at 65,536 characters), plus the commit and the run link."""

from __future__ import annotations

from planner.export.markdown import to_markdown
from planner.plan.model import Plan

__all__ = ["preview_markdown"]


def preview_markdown(plan: Plan, *, run_url: str | None = None, head_sha: str | None = None) -> str:
    """The PR comment: the planner's own preview (what ``stackplan preview`` prints), then the commit
    and the run link."""
    tail = []
    if head_sha:
        tail.append(f"for `{head_sha[:12]}`")
    if run_url:
        tail.append(f"[Prefect run]({run_url})")
    body = to_markdown(plan).rstrip("\n")
    return body + ("\n\n" + " · ".join(tail) if tail else "") + "\n"

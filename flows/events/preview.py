"""The plan preview posted on a pull request: the Markdown ``stackplan preview`` prints (always within
GitHub's 65,536 characters, see :mod:`planner.export.markdown`), plus the commit and the run link, and
"what is new" against the comment it replaces (``serve`` edits its one comment per PR in place)."""

from __future__ import annotations

from planner.export.markdown import to_markdown
from planner.plan.model import Plan

__all__ = ["preview_markdown"]


def preview_markdown(
    plan: Plan, *, run_url: str | None = None, head_sha: str | None = None, previous: str | None = None
) -> str:
    """The PR comment: the planner's own preview, then the commit and the run link.

    ``previous`` is the body of our earlier comment on the PR (None for the first one). The full plan
    is the flow run's ``plan`` parameter, so the run link is where the cut lines point."""
    tail = []
    if head_sha:
        tail.append(f"for `{head_sha[:12]}`")
    if run_url:
        tail.append(f"[Prefect run]({run_url})")
    full = f"the [Prefect run]({run_url}) (its `plan` parameter)" if run_url else None
    footer = ["", " · ".join(tail)] if tail else []
    return to_markdown(plan, previous=previous, full_plan=full, footer=footer)

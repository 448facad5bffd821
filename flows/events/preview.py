"""The plan preview posted on a pull request: the Markdown ``stackplan preview`` prints (always within
GitHub's 65,536 characters, see :mod:`planner.export.markdown`), plus the commit, the link to the full
plan's page (:mod:`flows.events.pages`) and the run link, and
"what is new" against the comment it replaces (``serve`` edits its one comment per PR in place)."""

from __future__ import annotations

from planner.export.markdown import to_markdown
from planner.plan.model import Plan

__all__ = ["preview_markdown"]


def preview_markdown(
    plan: Plan,
    *,
    run_url: str | None = None,
    page_url: str | None = None,
    head_sha: str | None = None,
    previous: str | None = None,
) -> str:
    """The PR comment: the planner's own preview, then the commit, the full plan's page and the run link.

    ``previous`` is the body of our earlier comment on the PR (None for the first one). The cut lines
    point to the full plan: its HTML page when the server serves one (``page_url``, see
    :mod:`flows.events.pages`), else the flow run's ``plan`` parameter."""
    tail = []
    if head_sha:
        tail.append(f"for `{head_sha[:12]}`")
    if page_url:
        tail.append(f"[full plan (graph)]({page_url})")
    if run_url:
        tail.append(f"[Prefect run]({run_url})")
    if page_url:
        full = f"the [plan page]({page_url})"
    elif run_url:
        full = f"the [Prefect run]({run_url}) (its `plan` parameter)"
    else:
        full = None
    footer = ["", " · ".join(tail)] if tail else []
    return to_markdown(plan, previous=previous, full_plan=full, footer=footer)

"""The tags every stackplan run carries, so Prefect's UI and API can search runs by plan, platform,
package, recipe and pull request. Which tags a run gets is decided here; how a tag is spelled and read
back is :mod:`planner.plan.tags`. Tags are plain strings; Prefect filters on them."""

from __future__ import annotations

from collections.abc import Iterable

from planner.plan.model import PlanNode
from planner.plan.tags import BASE_TAG, package_tag, plan_tag, platform_tag, pr_tag, recipe_tag


def run_tags(plan_hash: str, *, platform: str | None = None, pr: int | None = None) -> list[str]:
    """Tags of a flow run: the main flow (no platform) or a platform subflow."""
    tags = [BASE_TAG, plan_tag(plan_hash)]
    if platform:
        tags.append(platform_tag(platform))
    if pr is not None:
        tags.append(pr_tag(pr))
    return tags


def job_tags(plan_hash: str, node: PlanNode, *, pr: int | None = None) -> list[str]:
    """Tags of one job's task run: the run tags plus its packages and recipe (and its planner tags)."""
    tags = run_tags(plan_hash, platform=node.platform, pr=pr)
    tags.extend(package_tag(o.name) for o in node.outputs)
    tags.append(recipe_tag(node.recipe))
    tags.extend(node.tags)
    return _unique(tags)


def _unique(tags: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for t in tags:
        seen.setdefault(t, None)
    return list(seen)

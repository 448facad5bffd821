"""The tags every stackplan run carries, so Prefect's UI and API can search runs by plan, platform,
package, recipe and pull request (INTERFACES.md). Tags are plain strings; Prefect filters on them."""

from __future__ import annotations

from collections.abc import Iterable

from planner.plan.model import PlanNode

BASE_TAG = "stackplan"


def plan_tag(plan_hash: str) -> str:
    return f"plan:{plan_hash[:12]}"


def platform_tag(platform: str) -> str:
    return f"platform:{platform}"


def pr_tag(pr: int) -> str:
    return f"pr:{pr}"


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
    tags.extend(f"package:{o.name}" for o in node.outputs)
    tags.append(f"recipe:{node.recipe}")
    tags.extend(node.tags)
    return _unique(tags)


def _unique(tags: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for t in tags:
        seen.setdefault(t, None)
    return list(seen)

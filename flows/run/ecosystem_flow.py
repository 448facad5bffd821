"""The scheduled ecosystem rebuild "stackplan-ecosystem": plan the whole repo, skipping what the target
channel already has, and build what is missing (the "nightly" deployment of ``stackplan deploy``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger


@flow(name="stackplan-ecosystem", persist_result=False, validate_parameters=False)
def ecosystem_flow(
    root: str,
    channel: str,
    builder: str = "rattler-build",
    parallelism: int = 4,
    platforms: list[str] | None = None,
    dispatch: str = "deployments",
    isolation: str | None = None,
) -> Any:
    """Plan ``root`` with skip-existing against ``channel`` and run the result as "stackplan-build".
    ``isolation``: process or container, the deployment's (default: the root's stackplan.yaml, else
    process); a builder without a container mode ignores it."""
    from flows.run.build_flow import build_flow
    from flows.run.plan_store import plan_param
    from planner.plan.build import PlanRequest, build_plan

    if "://" not in channel:
        # the first night starts from no channel at all: an empty one means "nothing exists yet"
        Path(channel).mkdir(parents=True, exist_ok=True)
    request = PlanRequest(
        root=Path(root), platforms=tuple(platforms) if platforms else None, skip_existing=channel
    )
    plan = build_plan(request)
    todo = sum(1 for n in plan.nodes if n.skipped is None)
    get_run_logger().info(
        "plan %s: %d jobs to build, %d already in %s", plan.hash[:12], todo, len(plan.nodes) - todo, channel
    )
    return build_flow(
        plan_param(plan, Path(channel).resolve()),
        builder=builder,
        channel=channel,
        parallelism=parallelism,
        options={"dispatch": dispatch},
        isolation=isolation,  # decided (and checked) by the main flow, as for any run from a deployment
        return_state=True,
    )

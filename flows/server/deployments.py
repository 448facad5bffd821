"""Scale-out: work pools and deployments so each platform's subflow runs on that platform's workers.

``stackplan deploy`` creates a Prefect "process" work pool per build platform (linux-64 ... win-64)
plus "gpu", the deployment "stackplan-platform/<subdir>" on pool "<subdir>" for each, and the main flow
deployment "stackplan-build/build". Nothing is pushed anywhere: a deployment names its code by module
path (``flows.run.platform_flow.platform_flow``) and a working directory (this checkout) that a worker on
the same machine, or on a machine with the same checkout at the same path, changes into before it
imports the flow. ``--schedule CRON --all`` adds "stackplan-ecosystem/nightly": plan the whole repo with
skip-existing against the channel and build what is missing.

``--isolation container`` makes ``isolation: container`` a parameter of every deployment. The workers
stay Prefect *process* workers: a platform subflow run from its deployment decides the isolation on
its worker and runs each linux and noarch job there in a fresh container through
flows/builders/container.py (the same containers as ``stackplan run --isolation container``), after
checking the engine and the image on that worker. Prefect lays a run's own parameters over its
deployment's, so a run's ``--isolation`` still wins (flows/builders/container.py :func:`decide`).
No Prefect Docker work pool is involved (docs/containers.md says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.plan.tags import BASE_TAG, platform_tag
from planner.platforms import BUILD_PLATFORMS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GPU_POOL = "gpu"
PLATFORM_POOLS: tuple[str, ...] = tuple(p.subdir for p in BUILD_PLATFORMS)
ALL_POOLS: tuple[str, ...] = (*PLATFORM_POOLS, GPU_POOL)

ENTRYPOINTS = {
    "stackplan-platform": "flows.run.platform_flow.platform_flow",
    "stackplan-build": "flows.run.build_flow.build_flow",
    "stackplan-ecosystem": "flows.run.ecosystem_flow.ecosystem_flow",
}


@dataclass(frozen=True)
class DeployedThing:
    kind: str  # "pool" | "deployment"
    name: str
    detail: str = ""


def _pull_steps(workdir: Path) -> list[dict[str, Any]]:
    return [{"prefect.deployments.steps.set_working_directory": {"directory": str(workdir)}}]


def _schema(flow_obj: Any) -> dict[str, Any]:
    from prefect.utilities.callables import parameter_schema

    return parameter_schema(flow_obj.fn).model_dump()


async def ensure_pool(client: Any, name: str) -> DeployedThing:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        await client.read_work_pool(name)
        return DeployedThing("pool", name, "exists")
    except ObjectNotFound:
        pass
    await client.create_work_pool(
        WorkPoolCreate(
            name=name,
            type="process",
            base_job_template=ProcessWorker.get_default_base_job_template(),
            description=f"stackplan builds for {name}",
        )
    )
    return DeployedThing("pool", name, "created")


async def create_deployment(
    client: Any,
    flow_obj: Any,
    name: str,
    pool: str,
    workdir: Path,
    *,
    tags: Sequence[str] = (),
    cron: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> DeployedThing:
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    flow_id = await client.create_flow_from_name(flow_obj.name)
    schedules = [DeploymentScheduleCreate(schedule=CronSchedule(cron=cron), active=True)] if cron else None
    await client.create_deployment(
        flow_id=flow_id,
        name=name,
        work_pool_name=pool,
        entrypoint=ENTRYPOINTS[flow_obj.name],
        pull_steps=_pull_steps(workdir),
        path=str(workdir),
        parameter_openapi_schema=_schema(flow_obj),
        tags=list(tags),
        schedules=schedules,
        parameters=parameters or {},
        enforce_parameter_schema=False,
    )
    detail = f"pool {pool}" + (f", cron {cron}" if cron else "")
    if parameters and parameters.get("isolation"):
        detail += f", isolation {parameters['isolation']}"
    if parameters and parameters.get("builder") and name == "build":
        detail += f", builder {parameters['builder']} into {parameters.get('channel')}"
    return DeployedThing("deployment", f"{flow_obj.name}/{name}", detail)


def deploy(
    *,
    platforms: Sequence[str] = PLATFORM_POOLS,
    workdir: Path = PROJECT_ROOT,
    main_pool: str = "linux-64",
    schedule: str | None = None,
    root: str | None = None,
    channel: str | None = None,
    builder: str | None = None,
    isolation: str | None = None,
) -> list[DeployedThing]:
    """Create the pools and deployments (idempotent: existing pools are kept, deployments updated).
    ``isolation`` becomes a parameter of every deployment (None: none, so a run's own choice, else the
    root's stackplan.yaml, decides when it runs). ``builder`` (with ``channel``) becomes the build
    deployment's, so the runs ``serve`` creates from it really build into that channel; None leaves
    it the flow's default, a dry run. The nightly builds with ``builder`` or rattler-build."""
    from prefect.client.orchestration import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    from flows.run.build_flow import build_flow
    from flows.run.platform_flow import platform_flow

    chosen = {"isolation": isolation} if isolation else {}

    async def _go() -> list[DeployedThing]:
        done: list[DeployedThing] = []
        async with get_client() as client:
            for pool in (*platforms, GPU_POOL):
                done.append(await ensure_pool(client, pool))
            for p in (*platforms, GPU_POOL):
                done.append(
                    await create_deployment(
                        client,
                        platform_flow,
                        p,
                        p,
                        workdir,
                        tags=[BASE_TAG, platform_tag(p)],
                        parameters=chosen,
                    )
                )
            building = (
                {"builder": builder, "channel": str(Path(channel or "out/channel").resolve())}
                if builder
                else {}
            )
            done.append(
                await create_deployment(
                    client,
                    build_flow,
                    "build",
                    main_pool,
                    workdir,
                    tags=[BASE_TAG],
                    parameters={**chosen, **building},
                )
            )
            if schedule:
                from flows.run.ecosystem_flow import ecosystem_flow

                params = {
                    "root": str(Path(root or workdir).resolve()),
                    "channel": str(Path(channel or "out/channel").resolve()),
                    "builder": builder or "rattler-build",
                    **chosen,
                }
                done.append(
                    await create_deployment(
                        client,
                        ecosystem_flow,
                        "nightly",
                        main_pool,
                        workdir,
                        tags=[BASE_TAG, "nightly"],
                        cron=schedule,
                        parameters=params,
                    )
                )
        return done

    return run_coro_as_sync(_go())

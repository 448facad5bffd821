"""The rattler-build builder: real builds of ``recipe.yaml`` into a local channel, offline.

Each job builds in a child process (:mod:`flows.builders.rattler_job`) into a private staging
directory, reading dependencies only from the local channel (``file://CHANNEL``), so a dependent
installs its upstream's packages from there. The finished packages are then moved into the channel and
the channel re-indexed under the channel lock (:func:`flows.builders.publish.publish`), so two jobs
finishing at once never corrupt ``repodata.json``. Options: ``test_strategy`` ("skip" | "native"),
``channels`` (extra channel URLs, e.g. a mirror; default none: offline), ``isolation`` ("process", or
"container": linux and noarch jobs build in a fresh container, flows/builders/container.py),
``container_engine``, ``container_image``, ``container_network`` (recipes allowed the network).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flows.builders import BuildContext, BuildResult, InfrastructureFailure, RecipeFailure
from flows.builders import container as containers
from flows.builders import publish as channel_mod
from flows.builders.child import ChildResult, run_child
from flows.builders.rattler_job import EXIT_OK, EXIT_RECIPE, RESULT_PREFIX
from planner.plan.model import PlanNode

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: stackplan's job runner (standard library + py-rattler-build), mounted read-only into each job's
#: container and run with the image's python: a change to stackplan never forces an image rebuild.
RUNNER = Path(__file__).resolve().parent / "rattler_job.py"
RUNNER_IN_IMAGE = "/opt/stackplan/rattler_job.py"


class RattlerBuilder:
    name = "rattler-build"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.test_strategy = str(options.get("test_strategy", "skip"))
        self.extra_channels = [str(c) for c in options.get("channels") or ()]
        self.isolation, self.engine, self.image, self.network = containers.builder_settings(options)

    def inputs(self) -> list[str]:
        """The input channels (``-c``) as URLs a build process reads, whatever its working directory."""
        from planner.inputs.channel_index import channel_url

        return [channel_url(c) for c in self.extra_channels]

    def isolation_for(self, job: PlanNode) -> str:
        """How ``job`` runs: "container" (linux and noarch under container isolation) or "process"."""
        return containers.isolation_for(job, self.isolation)

    def prepare(self, channel: Path, platforms: tuple[str, ...]) -> None:
        channel_mod.init_channel(channel, platforms)

    def build(self, job: PlanNode, ctx: BuildContext) -> BuildResult:
        recipe_dir = ctx.root / job.recipe
        recipe = recipe_dir / "recipe.yaml"
        if not recipe.is_file():
            raise RecipeFailure(
                f"{job.recipe}: rattler-build builds recipe.yaml, found none "
                f"(a meta.yaml recipe needs --builder conda-build)"
            )
        channel = ctx.channel.resolve()
        channel_mod.init_channel(channel, [job.platform])
        key = hashlib.sha256(f"{job.id}#{ctx.attempt}".encode()).hexdigest()[:16]
        staging = channel_mod.staging_dir(channel, key)
        try:
            channel_mod.init_channel(staging, [job.platform])
            boxed = self.isolation_for(job) == containers.CONTAINER
            inputs, mounts = containers.boxed_inputs(self.extra_channels) if boxed else (self.inputs(), [])
            spec = {
                "recipe": "/recipe/recipe.yaml" if boxed else str(recipe),
                "target_platform": job.platform,
                "build_platform": job.build_platform,
                "output_dir": "/out" if boxed else str(staging),
                "channels": ["file:///channel" if boxed else channel.as_uri(), *inputs],
                "variant": dict(job.variant),
                "test_strategy": self.test_strategy,
            }
            spec_file = staging / "job.json"
            spec_file.write_text(json.dumps(spec))
            if boxed:
                child = self._run_container(job, key, recipe_dir, channel, staging, ctx, mounts)
                child.result["packages"] = [
                    str(staging / Path(p).relative_to("/out")) for p in child.result.get("packages", ())
                ]
            else:
                child = self._run_child(spec_file, ctx)
            result = child.result
            if child.code == EXIT_RECIPE:
                raise RecipeFailure(f"{job.id}: {result.get('error', 'build failed')} {child.why()}")
            if child.code != EXIT_OK or not result.get("ok"):
                raise InfrastructureFailure(
                    f"{job.id}: rattler-build failed: {result.get('error', '')} {child.why()}"
                )
            built = [Path(p) for p in result.get("packages", ())]
            if not built:
                raise RecipeFailure(f"{job.id}: the build produced no package")
            published = channel_mod.publish(channel, built)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for p in published:
            ctx.log(f"published {p}")
        return BuildResult(packages=tuple(published))

    def _run_container(
        self,
        job: PlanNode,
        key: str,
        recipe_dir: Path,
        channel: Path,
        staging: Path,
        ctx: BuildContext,
        inputs: list[Path],
    ) -> ChildResult:
        if not self.engine or not self.image:
            raise InfrastructureFailure(
                f"{job.id}: container isolation needs container_engine and container_image "
                "(stackplan run --isolation container sets them)"
            )
        name = f"stackplan-{key}-{os.getpid()}"
        cmd = containers.run_command(
            self.engine,
            self.image,
            recipe_dir=recipe_dir.resolve(),
            channel=channel,
            out=staging,
            network=containers.network_allowed(job.recipe, self.network),
            name=name,
            command=["python", RUNNER_IN_IMAGE, "/out/job.json"],
            mounts=[(RUNNER, RUNNER_IN_IMAGE), *inputs],
        )
        return containers.run_job(self.engine, name, cmd, ctx, result_prefix=RESULT_PREFIX)

    def _run_child(self, spec_file: Path, ctx: BuildContext) -> ChildResult:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
        env.setdefault("NO_COLOR", "1")
        return run_child(
            [sys.executable, "-m", "flows.builders.rattler_job", str(spec_file)],
            log=ctx.log,
            env=env,
            cwd=spec_file.parent,
            log_file=ctx.log_file,
            result_prefix=RESULT_PREFIX,
        )

    def test(self, job: PlanNode, ctx: BuildContext, packages: tuple[str, ...]) -> BuildResult:
        """Run the tests of the packages a build job published (a GPU test job)."""
        if not packages:
            raise RecipeFailure(f"{job.id}: no packages to test")
        channel = ctx.channel.resolve()
        key = hashlib.sha256(f"{job.id}#{ctx.attempt}".encode()).hexdigest()[:16]
        work = channel_mod.staging_dir(channel, key)
        try:
            spec = {
                "mode": "test",
                "packages": [str(channel / p) for p in packages],
                "channels": [channel.as_uri(), *self.inputs()],
            }
            spec_file = work / "job.json"
            spec_file.write_text(json.dumps(spec))
            child = self._run_child(spec_file, ctx)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if child.code == EXIT_RECIPE:
            raise RecipeFailure(f"{job.id}: {child.result.get('error', 'tests failed')} {child.why()}")
        if child.code != EXIT_OK:
            raise InfrastructureFailure(
                f"{job.id}: rattler-build test failed: {child.result.get('error', '')} {child.why()}"
            )
        return BuildResult(detail=f"tests passed for {len(packages)} package(s)")

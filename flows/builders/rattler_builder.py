"""The rattler-build builder: real builds of ``recipe.yaml`` into a local channel, offline.

Each job builds in a child process (:mod:`flows.builders.rattler_job`) into a private staging
directory, reading dependencies only from the local channel (``file://CHANNEL``), so a dependent
installs its upstream's packages from there. The finished packages are then moved into the channel and
the channel re-indexed under the channel lock (:func:`flows.builders.publish.publish`), so two jobs
finishing at once never corrupt ``repodata.json``. Options: ``test_strategy`` ("skip" | "native"),
``channels`` (extra channel URLs, e.g. a mirror; default none: offline).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flows.builders import BuildContext, BuildResult, InfrastructureFailure, RecipeFailure
from flows.builders import publish as channel_mod
from flows.builders.rattler_job import EXIT_OK, EXIT_RECIPE, RESULT_PREFIX
from planner.plan.model import PlanNode

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class RattlerBuilder:
    name = "rattler-build"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.test_strategy = str(options.get("test_strategy", "skip"))
        self.extra_channels = [str(c) for c in options.get("channels") or ()]

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
            spec = {
                "recipe": str(recipe),
                "target_platform": job.platform,
                "build_platform": job.build_platform,
                "output_dir": str(staging),
                "channels": [channel.as_uri(), *self.extra_channels],
                "variant": dict(job.variant),
                "test_strategy": self.test_strategy,
            }
            spec_file = staging / "job.json"
            spec_file.write_text(json.dumps(spec))
            code, result = self._run_child(spec_file, ctx)
            if code == EXIT_RECIPE:
                raise RecipeFailure(f"{job.id}: {result.get('error', 'build failed')}")
            if code != EXIT_OK or not result.get("ok"):
                raise InfrastructureFailure(
                    f"{job.id}: rattler-build exited {code}: {result.get('error', '')}"
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

    def _run_child(self, spec_file: Path, ctx: BuildContext) -> tuple[int, dict[str, Any]]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
        env.setdefault("NO_COLOR", "1")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "flows.builders.rattler_job", str(spec_file)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env=env,
                cwd=str(spec_file.parent),
            )
        except OSError as exc:
            raise InfrastructureFailure(f"cannot start rattler-build: {exc}") from exc
        result: dict[str, Any] = {}
        assert proc.stdout is not None
        for line in proc.stdout:  # streamed live: each line reaches the log as it is printed
            line = line.rstrip("\n")
            if line.startswith(RESULT_PREFIX):
                result = json.loads(line[len(RESULT_PREFIX) :])
            elif line.strip():
                ctx.log(line)
        return proc.wait(), result

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
                "channels": [channel.as_uri(), *self.extra_channels],
            }
            spec_file = work / "job.json"
            spec_file.write_text(json.dumps(spec))
            code, result = self._run_child(spec_file, ctx)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if code == EXIT_RECIPE:
            raise RecipeFailure(f"{job.id}: {result.get('error', 'tests failed')}")
        if code != EXIT_OK:
            raise InfrastructureFailure(
                f"{job.id}: rattler-build test exited {code}: {result.get('error', '')}"
            )
        return BuildResult(detail=f"tests passed for {len(packages)} package(s)")

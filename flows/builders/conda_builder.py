"""The conda-build builder: runs ``conda build`` for ``meta.yaml`` recipes where conda-build exists.

One job is one ``conda build`` of the job's recipe for the job's variant and target platform:

    conda build RECIPE --output-folder CHANNEL --no-anaconda-upload --no-test
        --override-channels -c file://CHANNEL [-c EXTRA ...]
        --variants '{"python": ["3.11"], ..., "target_platform": ["osx-arm64"]}'

``--variants`` pins the build matrix to the plan's variant (without it conda-build builds every
variant of the recipe's ``conda_build_config.yaml``, for the machine's platform) and names the target
platform the way conda-forge's cross builds do (``target_platform``; a noarch job targets the platform it
is built on). Its output is streamed line by line into the job's log (``PYTHONUNBUFFERED=1`` so the
lines come as they are printed, not when a pipe buffer fills); a non-zero exit is a recipe failure
whose message ends with the last lines of output. Where conda-build is not installed the job fails with
a clear infrastructure error that says so. Options: ``conda`` (the executable; default: ``conda`` on
PATH), ``channels`` (extra channel URLs), and as for rattler-build ``isolation``, ``container_engine``,
``container_image``, ``container_network``.

With ``isolation: container`` a linux or noarch job runs the same ``conda build`` inside a fresh
container of ``container_image`` (flows/builders/container.py), which must have conda-build (stackplan's
own image has not: ``stackplan run`` refuses before the run when ``conda build --version`` fails in
the image). There the recipe is ``/recipe``, the only input channel ``file:///channel`` (read-only),
and the output folder ``/out``, the job's private staging dir; its packages are published into the
channel (moved, made 0644, re-indexed under the channel lock) only after the build succeeded, instead
of conda-build writing and indexing the channel itself as it does as a process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flows.builders import BuildContext, BuilderMissing, BuildResult, InfrastructureFailure, RecipeFailure
from flows.builders import container as containers
from flows.builders import publish as channel_mod
from flows.builders.child import run_child
from planner.plan.model import PlanNode


class CondaBuildMissing(BuilderMissing):
    """conda-build is not installed where the job runs (never retried)."""


def target_platform(job: PlanNode) -> str:
    """The subdir conda-build builds for: the job's platform, or for a noarch job the one it runs on."""
    return job.build_platform if job.platform == "noarch" else job.platform


def variants_arg(job: PlanNode) -> str:
    """The ``--variants`` value: the job's variant, one value per key, plus its target platform."""
    variants = {k: [str(v)] for k, v in sorted(job.variant.items())}
    variants["target_platform"] = [target_platform(job)]
    return json.dumps(variants, sort_keys=True)


class CondaBuilder:
    name = "conda-build"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.conda = str(options.get("conda") or "conda")
        self.extra_channels = [str(c) for c in options.get("channels") or ()]
        self._exe: str | None = None
        self.isolation, self.engine, self.image, self.network = containers.builder_settings(options)

    def isolation_for(self, job: PlanNode) -> str:
        """How ``job`` runs: "container" (linux and noarch under container isolation) or "process"."""
        return containers.isolation_for(job, self.isolation)

    def available(self) -> str | None:
        """The conda executable when it has the ``build`` subcommand, else None (probed once)."""
        if self._exe is not None:
            return self._exe
        exe = shutil.which(self.conda)
        if exe is None:
            return None
        probe = subprocess.run([exe, "build", "--version"], capture_output=True, text=True)
        if probe.returncode != 0:
            return None
        self._exe = exe
        return exe

    def prepare(self, channel: Path, platforms: tuple[str, ...]) -> None:
        channel_mod.init_channel(channel, platforms)

    def command(self, exe: str, recipe_dir: Path, channel: Path, job: PlanNode) -> list[str]:
        """``job``'s ``conda build`` as a process: into ``channel``, also its first input channel; then
        the ``-c`` input channels, a local one as its absolute ``file://`` URL."""
        from planner.inputs.channel_index import channel_url

        inputs = [channel_url(c) for c in self.extra_channels]
        return self._command(exe, recipe_dir, channel, channel.as_uri(), inputs, job)

    def container_command(
        self, job: PlanNode, recipe_dir: Path, channel: Path, out: Path, name: str
    ) -> list[str]:
        """``job``'s ``conda build`` in a container of the image (flows/builders/container.py): into the
        staging dir ``out`` (``/out``), from ``channel`` (``file:///channel``, read-only) and the input
        channels (a local one mounted read-only, :func:`flows.builders.container.boxed_inputs`)."""
        inputs, mounts = containers.boxed_inputs(self.extra_channels)
        inside = self._command("conda", "/recipe", "/out", "file:///channel", inputs, job)
        return containers.run_command(
            self.engine,
            self.image,
            recipe_dir=recipe_dir,
            channel=channel,
            out=out,
            network=containers.network_allowed(job.recipe, self.network),
            name=name,
            command=inside,
            mounts=mounts,
        )

    def _command(
        self, exe: str, recipe: Path | str, output: Path | str, own: str, inputs: list[str], job: PlanNode
    ) -> list[str]:
        cmd = [
            exe,
            "build",
            str(recipe),
            "--output-folder",
            str(output),
            "--no-anaconda-upload",
            "--no-test",
            "--override-channels",
            "-c",
            own,
        ]
        for c in inputs:
            cmd += ["-c", c]
        return [*cmd, "--variants", variants_arg(job)]

    def build(self, job: PlanNode, ctx: BuildContext) -> BuildResult:
        if self.isolation_for(job) == containers.CONTAINER:
            return self._build_in_container(job, ctx)
        exe = self.available()
        if exe is None:
            raise CondaBuildMissing(
                f"conda-build is not installed here ({self.conda!r} with a 'build' subcommand not found); "
                "install conda-build or use --builder rattler-build"
            )
        recipe_dir = ctx.root / job.recipe
        if not (recipe_dir / "meta.yaml").is_file():
            raise RecipeFailure(f"{job.recipe}: conda-build builds meta.yaml, found none")
        channel = ctx.channel.resolve()
        before = set(channel_mod.packages(channel))
        cmd = self.command(exe, recipe_dir, channel, job)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # conda-build indexes its output folder itself: hold the channel lock for the whole build
        with channel_mod.channel_lock(channel):
            child = run_child(cmd, log=ctx.log, env=env, log_file=ctx.log_file)
        if child.code != 0:
            raise RecipeFailure(f"{job.id}: conda build failed {child.why()}")
        return BuildResult(packages=tuple(sorted(set(channel_mod.packages(channel)) - before)))

    def _build_in_container(self, job: PlanNode, ctx: BuildContext) -> BuildResult:
        """``conda build`` in a fresh container into the staging dir, then publish (module docstring)."""
        if not self.engine or not self.image:
            raise InfrastructureFailure(
                f"{job.id}: container isolation needs container_engine and container_image "
                "(stackplan run --isolation container sets them)"
            )
        recipe_dir = (ctx.root / job.recipe).resolve()
        if not (recipe_dir / "meta.yaml").is_file():
            raise RecipeFailure(f"{job.recipe}: conda-build builds meta.yaml, found none")
        channel = ctx.channel.resolve()
        channel_mod.init_channel(channel, [job.platform])
        key = hashlib.sha256(f"{job.id}#{ctx.attempt}".encode()).hexdigest()[:16]
        staging = channel_mod.staging_dir(channel, key)
        name = f"stackplan-{key}-{os.getpid()}"
        try:
            cmd = self.container_command(job, recipe_dir, channel, staging, name)
            child = containers.run_job(self.engine, name, cmd, ctx)
            if child.code in containers.ENGINE_EXIT_CODES:
                raise InfrastructureFailure(f"{job.id}: {self.engine} could not run the build {child.why()}")
            if child.code != 0:
                raise RecipeFailure(f"{job.id}: conda build failed {child.why()}")
            built = [*staging.glob("*/*.conda"), *staging.glob("*/*.tar.bz2")]
            if not built:
                raise RecipeFailure(f"{job.id}: conda build produced no package {child.why()}")
            published = channel_mod.publish(channel, built)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for p in published:
            ctx.log(f"published {p}")
        return BuildResult(packages=tuple(published))

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
PATH), ``channels`` (extra channel URLs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flows.builders import BuildContext, BuilderMissing, BuildResult, RecipeFailure
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
        cmd = [
            exe,
            "build",
            str(recipe_dir),
            "--output-folder",
            str(channel),
            "--no-anaconda-upload",
            "--no-test",
            "--override-channels",
            "-c",
            channel.as_uri(),
        ]
        for c in self.extra_channels:
            cmd += ["-c", c]
        return [*cmd, "--variants", variants_arg(job)]

    def build(self, job: PlanNode, ctx: BuildContext) -> BuildResult:
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

"""The conda-build builder: runs ``conda build`` for ``meta.yaml`` recipes where conda-build exists.

It calls the ``conda`` executable (``conda build RECIPE --output-folder CHANNEL -c file://CHANNEL
--override-channels --no-anaconda-upload --no-test``) and streams its output line by line. Where
conda-build is not installed the job fails with a clear infrastructure error that says so. Options:
``conda`` (the executable; default: ``conda`` on PATH), ``channels`` (extra channel URLs).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.plan_model import PlanNode

from .. import channel as channel_mod
from . import BuildContext, BuildResult, InfrastructureFailure, RecipeFailure


class CondaBuildMissing(InfrastructureFailure):
    """conda-build is not installed where the job runs."""


class CondaBuilder:
    name = "conda-build"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.conda = str(options.get("conda") or "conda")
        self.extra_channels = [str(c) for c in options.get("channels") or ()]

    def available(self) -> str | None:
        """The conda executable when it has the ``build`` subcommand, else None."""
        exe = shutil.which(self.conda)
        if exe is None:
            return None
        probe = subprocess.run([exe, "build", "--version"], capture_output=True, text=True)
        return exe if probe.returncode == 0 else None

    def prepare(self, channel: Path, platforms: tuple[str, ...]) -> None:
        channel_mod.init_channel(channel, platforms)

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
        # conda-build indexes its output folder itself: hold the channel lock for the whole build
        with channel_mod.channel_lock(channel):
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.strip():
                    ctx.log(line.rstrip("\n"))
            code = proc.wait()
        if code != 0:
            raise RecipeFailure(f"{job.id}: conda build exited {code}")
        return BuildResult(packages=tuple(sorted(set(channel_mod.packages(channel)) - before)))

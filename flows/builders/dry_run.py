"""The dry-run builder: builds nothing, waits the job's estimated duration, fails on request.

For demos, tests and overhead benchmarks. Options: ``time_scale`` (the estimate is multiplied by it;
0 = no wait and no log line: zero-length jobs measure the orchestration alone), ``fail`` (job ids,
package names or recipe dirs whose build fails as a recipe failure), ``flaky`` (the same, failing with
an infrastructure error on the first attempt only: exercises retries), ``fail_tests`` (jobs whose GPU
tests fail).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flows.builders import BuildContext, BuildResult, InfrastructureFailure, RecipeFailure
from planner.plan.model import PlanNode


def _matches(job: PlanNode, names: set[str]) -> bool:
    base = job.id.split("#", 1)[0]  # a GPU test job matches as the job it tests
    return bool(names & ({job.id, base, job.recipe} | {o.name for o in job.outputs}))


class DryRunBuilder:
    name = "dry-run"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.time_scale = float(options.get("time_scale", 1.0))
        self.fail = set(options.get("fail") or ())
        self.flaky = set(options.get("flaky") or ())
        self.fail_tests = set(options.get("fail_tests") or ())

    def prepare(self, channel: Path, platforms: tuple[str, ...]) -> None:
        """A dry run writes nothing."""

    def build(self, job: PlanNode, ctx: BuildContext) -> BuildResult:
        if self.time_scale > 0:  # a rehearsal logs like a build; a zero-length run measures orchestration
            ctx.log(f"dry-run: {job.id} ({job.recipe}) for {job.platform}")
            if job.duration_estimate > 0:
                time.sleep(job.duration_estimate * self.time_scale)
        if _matches(job, self.flaky) and ctx.attempt == 1:
            raise InfrastructureFailure(f"dry-run: injected infrastructure failure of {job.id}")
        if _matches(job, self.fail):
            raise RecipeFailure(f"dry-run: injected failure of {job.id}")
        return BuildResult(packages=(), detail="dry run")

    def test(self, job: PlanNode, ctx: BuildContext, packages: tuple[str, ...]) -> BuildResult:
        ctx.log(f"dry-run: testing {job.id} on {job.pool}")
        if _matches(job, self.fail_tests):
            raise RecipeFailure(f"dry-run: injected test failure of {job.id}")
        return BuildResult(packages=(), detail="dry-run tests passed")

"""The scheduled ecosystem rebuild ("stackplan-ecosystem", the flow behind `stackplan deploy --schedule
CRON --all`): the first run builds everything the channel lacks, the next run finds it all there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.plan.build import PlanRequest, build_plan

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def _conda_files(channel: Path) -> dict[str, int]:
    return {str(p.relative_to(channel)): p.stat().st_mtime_ns for p in channel.glob("*/*.conda")}


def test_nightly_rebuild_builds_what_is_missing_then_nothing(prefect_harness, build_env, tmp_path):
    from flows.run.ecosystem_flow import ecosystem_flow

    root = tmp_path / "stack"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "stack", root)
    channel = tmp_path / "channel"

    first = ecosystem_flow(
        str(root), str(channel), builder="rattler-build", parallelism=2, dispatch="local", return_state=True
    )
    assert first.is_completed(), first.message
    built = _conda_files(channel)
    assert {name.split("/")[0] for name in built} == {"linux-64", "osx-arm64", "noarch"}
    assert len(built) == 12  # every output of examples/stack on its two platforms, sp-docs once

    # the channel now holds every output: the plan skips every job as existing ...
    plan = build_plan(PlanRequest(root=root, skip_existing=str(channel)))
    assert plan.nodes and all(n.skipped is not None and n.skipped.kind == "exists" for n in plan.nodes)

    # ... so the next scheduled run builds nothing and leaves the packages untouched
    second = ecosystem_flow(
        str(root), str(channel), builder="rattler-build", parallelism=2, dispatch="local", return_state=True
    )
    assert second.is_completed(), second.message
    assert _conda_files(channel) == built

    # a recipe whose build number moved is missing from the channel: the next run builds it, and only it
    recipe = root / "sp-app" / "recipe.yaml"
    recipe.write_text(recipe.read_text().replace("number: 0", "number: 1"))
    third = ecosystem_flow(
        str(root), str(channel), builder="rattler-build", parallelism=2, dispatch="local", return_state=True
    )
    assert third.is_completed(), third.message
    after = _conda_files(channel)
    new = sorted(set(after) - set(built))
    assert [
        (n.split("/")[0], n.split("/")[1].startswith("sp-app-1.0.0-"), n.endswith("_1.conda")) for n in new
    ] == [
        ("linux-64", True, True),
        ("osx-arm64", True, True),
    ]
    assert all(after[name] == mtime for name, mtime in built.items())  # nothing else was rebuilt

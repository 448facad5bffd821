"""Real offline builds of examples/stack with rattler-build through the flows, into a local channel:
dependency order, a recipe whose script fails in the middle, and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from example_plan import example_plan, job_id
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName
from prefect.client.schemas.sorting import TaskRunSort

from flows.builders.child import job_log_name
from flows.run.report import read_report
from flows.run.resume import resume_options
from flows.run.runner import run_plan, wait_recorded

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

OPTS = {"retry_delay": 0, "retries": 1}


def _packages(channel: Path) -> set[tuple[str, str]]:
    return {(p.parent.name, p.name.rsplit("-", 2)[0]) for p in channel.glob("*/*.conda")}


def _repodata_names(channel: Path, subdir: str) -> set[str]:
    data = json.loads((channel / subdir / "repodata.json").read_text())
    return {v["name"] for v in data.get("packages.conda", {}).values()}


def test_example_stack_builds_in_dependency_order(prefect_harness, build_env, tmp_path):
    root = tmp_path / "stack"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "stack", root)
    channel = tmp_path / "channel"
    result = run_plan(
        example_plan(root), builder="rattler-build", channel=str(channel), parallelism=2, options=OPTS
    )
    assert result.ok, [(j["job"], j["message"]) for j in result.report["jobs"] if j["state"] != "Completed"]
    assert _packages(channel) == {
        ("noarch", "sp-docs"),
        ("linux-64", "sp-base"),
        ("linux-64", "sp-core"),
        ("linux-64", "sp-tools-lib"),
        ("linux-64", "sp-tools-cli"),
        ("linux-64", "sp-linux-extra"),
        ("linux-64", "sp-app"),
        ("osx-arm64", "sp-base"),
        ("osx-arm64", "sp-core"),
        ("osx-arm64", "sp-tools-lib"),
        ("osx-arm64", "sp-tools-cli"),
        ("osx-arm64", "sp-app"),
    }
    # the index lists what is there (published under the channel lock after every job)
    assert _repodata_names(channel, "osx-arm64") == {
        "sp-base",
        "sp-core",
        "sp-tools-lib",
        "sp-tools-cli",
        "sp-app",
    }
    assert _repodata_names(channel, "noarch") == {"sp-docs"}
    # sp-app's build read its upstreams' files from $PREFIX: the order was real. On linux it also saw
    # the linux-only dependency.
    app = {j["job"]: j for j in result.report["jobs"]}[job_id("sp-app", "linux-64")]
    assert app["packages"] == [p for p in app["packages"] if p.startswith("linux-64/sp-app-1.0.0-")]
    from rattler.package_streaming import extract

    conda = next(channel.glob("linux-64/sp-app-*.conda"))
    extract(conda, tmp_path / "sp-app")
    text = (tmp_path / "sp-app" / "share" / "sp-app" / "stack.txt").read_text()
    assert text.splitlines() == ["sp-core 1.0.0", "linux-extra"]
    assert wait_recorded(result.report, timeout=60)[0]


def test_failing_recipe_skips_dependents_and_resume_builds_only_what_is_missing(
    prefect_harness, build_env, tmp_path
):
    root = tmp_path / "stack"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "stack", root)
    recipe = root / "sp-tools" / "recipe.yaml"
    good = recipe.read_text()
    recipe.write_text(
        good.replace(
            '- test -f "$PREFIX/share/sp-core/VERSION"\n        - mkdir -p "$PREFIX/bin"',
            '- echo "sp-tools found no compiler" >&2\n        - exit 3\n        - mkdir -p "$PREFIX/bin"',
            1,
        )
    )
    assert "exit 3" in recipe.read_text()
    channel = tmp_path / "channel"
    plan = example_plan(root, platforms=("linux-64",))
    first = run_plan(plan, builder="rattler-build", channel=str(channel), parallelism=2, options=OPTS)
    assert not first.ok
    jobs = {j["job"]: j for j in first.report["jobs"]}
    tools, app = job_id("sp-tools", "linux-64"), job_id("sp-app", "linux-64")
    assert jobs[tools]["state"] == "Failed" and jobs[tools]["attempts"] == 1  # recipe failure: no retry
    # the failure says why: the script's exit status and the last lines of its log, then where the rest is
    message = jobs[tools]["message"]
    assert "Script failed to execute (build script exit status 3); last lines of the build log:" in message
    assert message.index("sp-tools found no compiler") < message.index("Script failed with status 3")
    log_file = Path(first.report["report_path"]).with_suffix(".logs") / job_log_name(tools)
    assert f"full log: {log_file}" in message
    assert "sp-tools found no compiler" in log_file.read_text()
    assert "Script failed with status 3" in log_file.read_text()
    with get_client(sync_client=True) as client:  # Prefect's state of the job's task run says the same
        [task_run] = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=[tools])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[jobs[tools]["flow_run"]])),
            sort=TaskRunSort.ID_DESC,
            limit=10,
        )
    assert "build script exit status 3" in task_run.state.message
    assert "sp-tools found no compiler" in task_run.state.message
    assert jobs[app]["state"] == "Skipped" and jobs[app]["message"] == f"Skipped: upstream {tools} failed"
    assert {n for _, n in _packages(channel)} == {"sp-base", "sp-core", "sp-docs", "sp-linux-extra"}

    # fix the recipe and resume: only sp-tools and sp-app build; the rest comes from the channel
    recipe.write_text(good)
    before = {p.name: p.stat().st_mtime_ns for p in channel.glob("*/*.conda")}
    report = read_report(Path(first.report["report_path"]))
    second = run_plan(
        plan,
        builder="rattler-build",
        channel=str(channel),
        parallelism=2,
        options={**OPTS, **resume_options(plan, report)},
    )
    assert second.ok, second.report
    states = {j["job"]: j["state"] for j in second.report["jobs"]}
    assert states[tools] == states[app] == "Completed"
    assert {s for j, s in states.items() if j not in (tools, app)} == {"Reused"}
    after = {p.name: p.stat().st_mtime_ns for p in channel.glob("*/*.conda")}
    assert {k: v for k, v in after.items() if k in before} == before  # nothing rebuilt
    assert {n for _, n in _packages(channel)} == {
        "sp-base",
        "sp-core",
        "sp-docs",
        "sp-linux-extra",
        "sp-tools-lib",
        "sp-tools-cli",
        "sp-app",
    }


def test_planned_example_stack_builds_end_to_end(prefect_harness, build_env, tmp_path):
    """The planner's own plan of examples/stack (stackplan.yaml: linux-64 + osx-arm64), built for real."""
    from planner.plan.build import PlanRequest, build_plan

    root = tmp_path / "stack"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "stack", root)
    plan = build_plan(PlanRequest(root=root))
    assert set(plan.platforms) == {"linux-64", "osx-arm64"}
    runnable = [n for n in plan.nodes if n.skipped is None]
    assert len(plan.layers["linux-64"]) >= 4  # base -> core -> tools -> app
    noarch = [n for n in runnable if n.platform == "noarch"]
    assert [n.recipe for n in noarch] == ["sp-docs"] and noarch[0].build_platform == "linux-64"
    assert not [n for n in runnable if n.recipe == "sp-linux-extra" and n.platform == "osx-arm64"]
    channel = tmp_path / "channel"
    result = run_plan(plan, builder="rattler-build", channel=str(channel), parallelism=2, options=OPTS)
    assert result.ok, [(j["job"], j["message"]) for j in result.report["jobs"] if j["state"] != "Completed"]
    assert len(result.report["jobs"]) == len(runnable)
    assert len(list(channel.glob("*/*.conda"))) == 12

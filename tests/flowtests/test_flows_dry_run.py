"""The flows with the dry-run builder against a real Prefect server (the session's test harness):
failure in the middle, skipped dependents, retries, the explicit final state, the report, tags, and
every job's final state read back from the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from example_plan import job_id

from flows.run.runner import count_recorded, run_plan, wait_recorded
from flows.run.synthetic import layered_plan

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

FAST = {"retry_delay": 0, "builder_options": {"time_scale": 0}}


def _by_job(report):
    return {j["job"]: j for j in report["jobs"]}


def test_failure_in_the_middle_skips_dependents_and_builds_the_rest(prefect_harness, stack_plan, tmp_path):
    core = job_id("sp-core", "linux-64")
    result = run_plan(
        stack_plan,
        builder="dry-run",
        channel=str(tmp_path / "ch"),
        parallelism=2,
        options={**FAST, "builder_options": {"time_scale": 0, "fail": [core]}},
    )
    assert not result.ok and result.state == "Failed"
    jobs = _by_job(result.report)
    assert jobs[core]["state"] == "Failed" and jobs[core]["attempts"] == 1  # a recipe failure is not retried
    for dependent in ("sp-tools", "sp-app"):
        j = jobs[job_id(dependent, "linux-64")]
        assert j["state"] == "Skipped"
        assert j["message"] == f"Skipped: upstream {core} failed"
    # independent jobs, and the whole other platform, still built
    for recipe in ("sp-base", "sp-docs", "sp-linux-extra"):
        assert jobs[job_id(recipe, "linux-64")]["state"] == "Completed"
    for recipe in ("sp-base", "sp-core", "sp-tools", "sp-app"):
        assert jobs[job_id(recipe, "osx-arm64")]["state"] == "Completed"
    assert result.report["counts"] == {"Completed": 7, "Failed": 1, "Skipped": 2}

    # the report file next to the channel says the same
    path = Path(result.report["report_path"])
    assert path.parent == tmp_path / "ch" and path.name.startswith(f"stackplan-run-{stack_plan.hash[:12]}-")
    on_disk = json.loads(path.read_text())
    assert on_disk["state"] == "Failed" and _by_job(on_disk)[core]["state"] == "Failed"

    # and so does the API, once the server recorded the task runs
    recorded, counts = wait_recorded(result.report, timeout=60)
    assert recorded, counts
    assert counts.get("Completed", 0) == 7 and counts.get("Failed", 0) == 1 and counts.get("Skipped", 0) == 2


def test_a_run_without_failures_is_completed(prefect_harness, stack_plan, tmp_path):
    result = run_plan(stack_plan, channel=str(tmp_path / "ch"), options=FAST)
    assert result.ok, result.message
    assert result.report["counts"] == {"Completed": 10}


def test_infrastructure_failures_are_retried(prefect_harness, stack_plan, tmp_path):
    base = job_id("sp-base", "osx-arm64")
    result = run_plan(
        stack_plan,
        channel=str(tmp_path / "ch"),
        options={**FAST, "retries": 2, "builder_options": {"time_scale": 0, "flaky": [base]}},
    )
    assert result.ok, result.report
    assert _by_job(result.report)[base]["attempts"] == 2


def test_retries_can_be_turned_off(prefect_harness, stack_plan, tmp_path):
    base = job_id("sp-base", "osx-arm64")
    result = run_plan(
        stack_plan,
        channel=str(tmp_path / "ch"),
        options={**FAST, "retries": 0, "builder_options": {"time_scale": 0, "flaky": [base]}},
    )
    jobs = _by_job(result.report)
    assert jobs[base]["state"] == "Failed" and jobs[base]["attempts"] == 1
    assert jobs[job_id("sp-app", "osx-arm64")]["state"] == "Skipped"


def test_job_task_runs_carry_the_tags(prefect_harness, stack_plan, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterTags
    from prefect.client.schemas.sorting import TaskRunSort
    from prefect.utilities.asyncutils import run_coro_as_sync

    result = run_plan(stack_plan, channel=str(tmp_path / "ch"), pr=42, options=FAST)
    assert wait_recorded(result.report, timeout=60)[0]

    async def tagged(*tags):
        async with get_client() as client:
            runs = await client.read_task_runs(
                task_run_filter=TaskRunFilter(tags=TaskRunFilterTags(all_=list(tags))),
                sort=TaskRunSort.ID_DESC,
                limit=100,
            )
            return {r.name: set(r.tags) for r in runs}

    runs = run_coro_as_sync(tagged(f"plan:{stack_plan.hash[:12]}", "pr:42", "package:sp-tools-cli"))
    assert set(runs) == {job_id("sp-tools", "linux-64"), job_id("sp-tools", "osx-arm64")}
    tags = runs[job_id("sp-tools", "osx-arm64")]
    assert {"stackplan", "platform:osx-arm64", "package:sp-tools-lib", "recipe:sp-tools"} <= tags


def test_failed_skipped_and_retried_jobs_carry_their_tags(prefect_harness, stack_plan, tmp_path):
    """Job task runs are created untagged and tag themselves when they start (no tag-concurrency API
    call): the tags must land with every kind of final state, after retries too."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterTags
    from prefect.client.schemas.sorting import TaskRunSort
    from prefect.utilities.asyncutils import run_coro_as_sync

    core, base = job_id("sp-core", "linux-64"), job_id("sp-base", "osx-arm64")
    options = {**FAST, "builder_options": {"time_scale": 0, "fail": [core], "flaky": [base]}}
    result = run_plan(stack_plan, channel=str(tmp_path / "ch"), pr=43, options=options)
    assert wait_recorded(result.report, timeout=60)[0]

    async def by_tag(tag):
        async with get_client() as client:
            runs = await client.read_task_runs(
                task_run_filter=TaskRunFilter(tags=TaskRunFilterTags(all_=["pr:43", tag])),
                sort=TaskRunSort.ID_DESC,
                limit=100,
            )
            # job task runs are named by job id ("@"); the subflows' tracking task runs carry run tags
            return {r.name: (r.state.name if r.state else None, set(r.tags)) for r in runs if "@" in r.name}

    every = run_coro_as_sync(by_tag(f"plan:{stack_plan.hash[:12]}"))
    assert set(every) == {j["job"] for j in result.report["jobs"]}  # every job's task run, once
    assert every[core][0] == "Failed" and every[job_id("sp-app", "linux-64")][0] == "Skipped"
    assert every[base][0] == "Completed" and _by_job(result.report)[base]["attempts"] == 2
    assert {"package:sp-core", "platform:linux-64", "recipe:sp-core", "stackplan"} <= every[core][1]
    assert set(run_coro_as_sync(by_tag("package:sp-base"))) == {
        job_id("sp-base", p) for p in ("linux-64", "osx-arm64")
    }


def test_chunked_lanes_record_every_job(prefect_harness, tmp_path):
    plan = layered_plan(120, platforms=("linux-64", "win-64"), width=10, fan_in=2)
    result = run_plan(
        plan,
        channel=str(tmp_path / "ch"),
        parallelism=4,
        options={
            **FAST,
            "chunk_size": 50,
            "tag_jobs": False,
            "builder_options": {"time_scale": 0, "fail": ["pkg00055"]},
        },
    )
    jobs = _by_job(result.report)
    assert len(jobs) == 240
    flow_runs = {j["flow_run"] for j in jobs.values()}
    assert len(flow_runs) == 6  # 120 jobs in whole layers of 10, chunks of <= 50: 3 chunks per lane
    # the failure in chunk 2 skips dependents in chunk 3
    skipped = [j for j in jobs.values() if j["state"] == "Skipped"]
    assert skipped and all(j["cause"] == "pkg00055-1.0-0@" + j["platform"] for j in skipped)
    assert any(int(j["job"][3:8]) >= 100 for j in skipped)
    recorded, counts = wait_recorded(result.report, timeout=90)
    assert recorded, counts
    assert sum(counts.values()) == 240
    assert count_recorded(sorted(flow_runs)) == counts


def test_platform_hooks_fire_with_the_subflow_state(prefect_harness, stack_plan, tmp_path):
    from flows.run import hooks

    seen: list[tuple[str, str, str]] = []

    def record(kind):
        return lambda flow, flow_run, state: seen.append((kind, flow_run.name, state.type.value))

    added = [
        (hooks.PLATFORM_ON_RUNNING, record("running")),
        (hooks.PLATFORM_ON_COMPLETION, record("completed")),
        (hooks.PLATFORM_ON_FAILURE, record("failed")),
    ]
    for hook_list, hook in added:
        hook_list.append(hook)
    try:
        run_plan(
            stack_plan,
            channel=str(tmp_path / "ch"),
            options={**FAST, "builder_options": {"time_scale": 0, "fail": [job_id("sp-base", "osx-arm64")]}},
        )
    finally:
        for hook_list, hook in added:
            hook_list.remove(hook)
    h = stack_plan.hash[:12]
    assert sorted(seen) == [
        ("completed", f"{h}-linux-64", "COMPLETED"),
        ("failed", f"{h}-osx-arm64", "FAILED"),
        ("running", f"{h}-linux-64", "RUNNING"),
        ("running", f"{h}-osx-arm64", "RUNNING"),
    ]


def test_gpu_tests_run_in_the_gpu_lane_after_the_build(prefect_harness, stack_plan, tmp_path):
    from dataclasses import replace

    from planner.plan.model import Plan

    tools = job_id("sp-tools", "linux-64")
    nodes = tuple(replace(n, test_pool="gpu") if n.id == tools else n for n in stack_plan.nodes)
    plan = replace(stack_plan, nodes=nodes, hash="").with_hash()
    assert isinstance(plan, Plan)
    result = run_plan(
        plan,
        channel=str(tmp_path / "ch"),
        options={**FAST, "builder_options": {"time_scale": 0, "fail_tests": [tools]}},
    )
    jobs = _by_job(result.report)
    test = jobs[f"{tools}#gpu-test"]
    assert jobs[tools]["state"] == "Completed"  # the build itself passed on its platform lane
    assert test["state"] == "Failed" and "injected test failure" in test["message"]
    assert jobs[job_id("sp-app", "linux-64")]["state"] == "Completed"  # a test failure blocks nothing
    assert test["flow_run"] not in {j["flow_run"] for j in jobs.values() if j is not test}
    assert not result.ok


def test_a_pr_run_reports_each_platform_to_github(prefect_harness, stack_plan, tmp_path, monkeypatch):
    """The wired hooks (flows/run/hooks.py -> flows/events/statuses.py): a run with repo and head sha posts a
    pending status per platform, then success or failure, to a loopback stand-in for GitHub."""
    from tests.loopback import github_on_loopback

    with github_on_loopback(monkeypatch, "ghp_wiredhooks") as github:
        result = run_plan(
            stack_plan,
            channel=str(tmp_path / "ch"),
            pr=7,
            head_sha="a" * 40,
            repo="acme/recipes",
            options={**FAST, "builder_options": {"time_scale": 0, "fail": [job_id("sp-base", "osx-arm64")]}},
        )
    assert not result.ok
    by_context: dict[str, list[str]] = {}
    for sha, body in github.statuses:
        assert sha == "a" * 40
        by_context.setdefault(body["context"], []).append(body["state"])
    assert by_context == {
        "stackplan/linux-64": ["pending", "success"],
        "stackplan/osx-arm64": ["pending", "failure"],
    }
    assert all("ghp_wiredhooks" not in str(body) for _, body in github.statuses)


def _job_logs(flow_run_ids: set[str], until: str, timeout: float = 60.0) -> list[str]:
    """Every log line of the job task runs of these flow runs, read from the API once ``until`` shows."""
    import time
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort
    from prefect.utilities.asyncutils import run_coro_as_sync

    from flows.server.embedded import flush_client

    flush_client()

    async def read() -> list[str]:
        async with get_client() as client:
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(f) for f in flow_run_ids])),
                sort=LogSort.TIMESTAMP_ASC,
                limit=200,
                offset=0,
            )
            return [entry.message for entry in logs if entry.task_run_id]

    deadline = time.monotonic() + timeout
    messages = run_coro_as_sync(read())
    while not any(m.startswith(until) for m in messages) and time.monotonic() < deadline:
        time.sleep(0.5)
        messages = run_coro_as_sync(read())
    return messages


@pytest.fixture
def task_logs_at_info(request):
    """Job output is logged at INFO; `./dev test` runs Prefect at WARNING (quiet test output)."""
    import logging

    import prefect.main  # noqa: F401 - Prefect configures its loggers on this import: before we set one

    task_logger = logging.getLogger("prefect.task_runs")
    was = task_logger.level
    task_logger.setLevel(logging.INFO)
    request.addfinalizer(lambda: task_logger.setLevel(was))


@pytest.mark.parametrize("keep", [False, True])
def test_prefect_finished_completed_line_is_dropped_for_jobs_unless_asked(
    prefect_harness, stack_plan, tmp_path, monkeypatch, task_logs_at_info, keep
):
    # time_scale > 0: the dry-run builder logs a line per job, like a build's output
    core = job_id("sp-core", "linux-64")
    if keep:
        monkeypatch.setenv("STACKPLAN_LOG_JOB_COMPLETIONS", "1")
    result = run_plan(
        stack_plan,
        channel=str(tmp_path / "ch"),
        parallelism=2,
        options={"retry_delay": 0, "builder_options": {"time_scale": 0.001, "fail": [core]}},
    )
    assert result.report["counts"] == {"Completed": 7, "Failed": 1, "Skipped": 2}
    messages = _job_logs({j["flow_run"] for j in result.report["jobs"]}, until="Finished in state Failed")
    completed = [m for m in messages if m == "Finished in state Completed()"]
    assert len(completed) == (7 if keep else 0), messages
    # everything else a job says stays: its output, its skip with the reason, its failure
    assert f"dry-run: {job_id('sp-base', 'linux-64')} (sp-base) for linux-64" in messages
    skipped = [m for m in messages if m.startswith("Finished in state Skipped(")]
    assert len(skipped) == 2 and all(core in m for m in skipped), messages
    assert any(m.startswith("Finished in state Failed(") for m in messages), messages

"""Scale-out for real: a ``prefect server`` on loopback backed by PostgreSQL, ``stackplan deploy``, two
process workers on two pools, and the example plan dispatched through them with real rattler-build
builds. Every platform's subflow must run on its own pool and every job after its upstreams.

Needs STACKPLAN_POSTGRES_URL (``.ci/postgres.sh`` starts a cluster and prints it); skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
from example_plan import example_plan

from tests.stackplan_cli import PROJECT, run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PG_URL = os.environ.get("STACKPLAN_POSTGRES_URL")


@pytest.fixture
def pg_server(tmp_path):
    if not PG_URL:
        pytest.skip("STACKPLAN_POSTGRES_URL not set (run .ci/postgres.sh)")
    from flows.server import embedded as server

    info = server.start(tmp_path / "state", database_url=PG_URL, timeout=180)
    try:
        yield info
    finally:
        server.stop(info)


def test_example_plan_runs_on_per_platform_workers(pg_server, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    from flows.run.runner import run_plan, wait_recorded

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_API_URL=pg_server.url,
        HOME=str(tmp_path / "home"),
        RATTLER_CACHE_DIR=str(tmp_path / "rc"),
        PYTHONPATH=str(PROJECT),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
    )
    (tmp_path / "home").mkdir()
    deployed = run_cli(["deploy", "-p", "linux-64", "-p", "osx-arm64"], env, timeout=300)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "stackplan-platform/osx-arm64" in deployed.stdout and "gpu" in deployed.stdout

    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"],
            cwd=PROJECT,
            env=env,
            stdout=open(tmp_path / f"worker-{pool}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for pool in ("linux-64", "osx-arm64")
    ]
    try:
        root = tmp_path / "stack"
        shutil.copytree(PROJECT / "examples" / "stack", root)
        plan = example_plan(root)
        channel = tmp_path / "channel"
        with temporary_settings(updates={PREFECT_API_URL: pg_server.url}):
            result = run_plan(
                plan,
                builder="rattler-build",
                channel=str(channel),
                parallelism=2,
                options={"dispatch": "deployments", "retry_delay": 0},
            )
            logs = "".join((tmp_path / f"worker-{p}.log").read_text() for p in ("linux-64", "osx-arm64"))
            assert result.ok, (result.report, logs[-3000:])
            assert len(list(channel.glob("*/*.conda"))) == 12
            assert wait_recorded(result.report, timeout=60)[0]

            lanes = {
                j["platform"] if j["platform"] != "noarch" else "linux-64": j["flow_run"]
                for j in result.report["jobs"]
            }

            async def read():
                async with get_client() as client:
                    runs = {p: await client.read_flow_run(fr) for p, fr in lanes.items()}
                    tasks = await client.read_task_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(lanes.values()))),
                        sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                        limit=200,
                    )
                    return runs, tasks

            runs, tasks = run_coro_as_sync(read())
        for platform, run in runs.items():  # each platform's subflow ran on its own pool's worker
            assert run.work_pool_name == platform, (platform, run.work_pool_name)
            assert run.deployment_id is not None and run.state.is_final()
        times = {t.name: (t.start_time, t.end_time) for t in tasks if "@" in t.name}
        assert len(times) == 10
        for edge in plan.edges:  # every job started after each upstream ended, across lanes too
            assert times[edge.source][1] <= times[edge.target][0], edge
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)

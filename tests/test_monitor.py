"""The stuck-build monitor on real flow runs in chosen states (Prefect harness) and a loopback Slack."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prefect import flow

from flows.events.monitor import StuckRun, check, monitor_flow, select_new, slack_message
from tests.loopback import LoopbackServer
from tests.stackplan_cli import start_cli

pytestmark = pytest.mark.prefect


@flow(name="stackplan-build")
def _build_shape() -> None:
    return None


async def _make_runs(tag: str):
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Pending, Running, Scheduled

    now = datetime.now(UTC)
    async with get_client() as client:
        runs = {}
        specs = {
            "running": ([tag, "platform:linux-64", "pr:7"], Running()),
            "late": ([tag], Scheduled(scheduled_time=now - timedelta(minutes=5))),
            "pending": ([tag], Pending()),
            "future": ([tag], Scheduled(scheduled_time=now + timedelta(days=2))),
            "done": ([tag], Completed()),
            "untagged": (["other"], Running()),
        }
        for key, (tags, state) in specs.items():
            run = await client.create_flow_run(_build_shape, name=f"{key}-{tag[-6:]}", tags=tags, state=state)
            runs[key] = run.id
    return runs


async def _set_state(run_id, state):
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        await client.set_flow_run_state(run_id, state, force=True)


@pytest.fixture
def slack():
    with LoopbackServer(lambda req: (200, b"ok")) as server:
        yield server


def test_reports_each_stuck_run_once_per_flow_run(prefect_harness, slack, tmp_path):
    from prefect.states import Completed, Running

    tag = f"stackplan-test-{uuid.uuid4().hex}"
    runs = asyncio.run(_make_runs(tag))
    memory = tmp_path / "reported.json"
    later = datetime.now(UTC) + timedelta(hours=3)  # every run made above is now 3 h old

    def run_check(now):
        return asyncio.run(check(tag=tag, memory_path=memory, slack_url=slack.url + "/hook", now=now))

    first = run_check(later)
    assert {r.id for r in first.reported} == {str(runs[k]) for k in ("running", "late", "pending")}
    assert first.posted
    [post] = slack.requests
    assert post.path == "/hook"
    text = post.body["text"]
    assert text.startswith(":warning: *stackplan: 3 stuck build run(s)*")
    for key, state in (("running", "Running"), ("late", "Late"), ("pending", "Pending")):
        assert f"/runs/flow-run/{runs[key]}|{key}-{tag[-6:]}> — {state} for " in text
    assert "(platform:linux-64, pr:7)" in text
    assert set(json.loads(memory.read_text())) == {str(runs[k]) for k in ("running", "late", "pending")}

    # same states: nothing new, nothing posted
    second = run_check(later)
    assert (second.reported, len(slack.requests)) == ((), 1)
    assert len(second.stuck) == 3

    # the running one finishes; the pending one starts running (a new state of another kind) and gets
    # stuck there too: still the run reported before, so nothing is posted (once per flow run)
    asyncio.run(_set_state(runs["running"], Completed()))
    asyncio.run(_set_state(runs["pending"], Running()))
    third = run_check(later + timedelta(hours=3))
    assert str(runs["pending"]) in {r.id for r in third.stuck} and third.reported == ()
    assert len(slack.requests) == 1
    # the finished run is forgotten; the live ones are remembered as first reported
    assert json.loads(memory.read_text()) == {str(runs["late"]): "Late", str(runs["pending"]): "Pending"}


def test_young_runs_are_not_stuck(prefect_harness, slack, tmp_path):
    tag = f"stackplan-test-{uuid.uuid4().hex}"
    asyncio.run(_make_runs(tag))
    result = asyncio.run(check(tag=tag, memory_path=tmp_path / "m.json", slack_url=slack.url, now=None))
    # just created: the Late one is 5 min past its start, under the 30 min threshold; Running is seconds old
    assert result.stuck == () and slack.requests == []


def test_failed_slack_post_is_retried_next_time(prefect_harness, tmp_path):
    tag = f"stackplan-test-{uuid.uuid4().hex}"
    asyncio.run(_make_runs(tag))
    later = datetime.now(UTC) + timedelta(hours=3)
    with LoopbackServer(lambda req: (500, b"no")) as broken:
        result = asyncio.run(check(tag=tag, memory_path=tmp_path / "m.json", slack_url=broken.url, now=later))
        assert not result.posted and len(result.reported) == 3
    with LoopbackServer(lambda req: (200, b"ok")) as fixed:
        again = asyncio.run(check(tag=tag, memory_path=tmp_path / "m.json", slack_url=fixed.url, now=later))
        assert again.posted and len(again.reported) == 3 and len(fixed.requests) == 1


def test_monitor_flow_runs_as_a_prefect_flow(prefect_harness, slack, tmp_path, monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    tag = f"stackplan-test-{uuid.uuid4().hex}"
    runs = asyncio.run(_make_runs(tag))
    # thresholds of 0 minutes: every run in Running / Pending / past its schedule counts
    out = asyncio.run(
        monitor_flow(running_minutes=0, waiting_minutes=0, tag=tag, memory_path=str(tmp_path / "m"))
    )
    assert set(out["reported"]) == {str(runs[k]) for k in ("running", "late", "pending")}
    assert out["posted"] and len(slack.requests) == 1


def test_select_new_and_message_are_plain_functions():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    a = StuckRun("a", "run-a", "Running", "s1", t0, "http://ui/runs/flow-run/a")
    b = StuckRun("b", "run-b", "Late", "s2", t0 + timedelta(minutes=30), None)
    # remembered by flow run, not by Prefect's state id nor the kind of state: reported once
    assert select_new([a, b], {"a": "Pending"}) == [b]
    assert select_new([a, b], {"a": "Running", "b": "Pending"}) == []
    assert slack_message([a, b], t0 + timedelta(hours=2, minutes=5)) == {
        "text": ":warning: *stackplan: 2 stuck build run(s)*\n"
        "• <http://ui/runs/flow-run/a|run-a> — Running for 2h05m\n"
        "• run-b — Late for 1h35m"
    }


def test_cli_deploy_registers_a_cron_deployment(prefect_harness, monkeypatch, tmp_path):
    from prefect.client.orchestration import get_client
    from typer.testing import CliRunner

    from stackplan.cli import app

    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path))
    out = CliRunner().invoke(app, ["monitor", "--deploy", "--cron", "*/7 * * * *", "--running-minutes", "45"])
    assert out.exit_code == 0, out.output
    assert "stackplan-monitor/scheduled" in out.stdout

    async def read():
        async with get_client() as client:
            return await client.read_deployment_by_name("stackplan-monitor/scheduled")

    dep = asyncio.run(read())
    assert [s.schedule.cron for s in dep.schedules] == ["*/7 * * * *"]
    assert dep.entrypoint == "flows.events.monitor.monitor_flow"
    assert dep.parameters["running_minutes"] == 45
    assert dep.parameters["memory_path"] == str(tmp_path / "monitor-reported.json")


def test_cli_deploy_builder_makes_webhook_runs_build_into_the_output_dir(
    prefect_harness, monkeypatch, tmp_path
):
    """`deploy --builder B --output-dir D`: runs of stackplan-build/build (what serve creates) build with
    B into D; without --builder they stay dry runs (no builder parameter); an unknown builder is exit 2."""
    from prefect.client.orchestration import get_client
    from typer.testing import CliRunner

    from stackplan.cli import app

    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path))

    async def params() -> dict:
        async with get_client() as client:
            return (await client.read_deployment_by_name("stackplan-build/build")).parameters

    channel = tmp_path / "channel"
    args = ["deploy", "-p", "linux-64", "--workdir", str(tmp_path)]
    out = CliRunner().invoke(app, [*args, "--builder", "rattler-build", "--output-dir", str(channel)])
    assert out.exit_code == 0, out.output
    assert f"builder rattler-build into {channel}" in out.stdout
    assert asyncio.run(params()) == {"builder": "rattler-build", "channel": str(channel)}
    assert CliRunner().invoke(app, args).exit_code == 0
    assert "builder" not in asyncio.run(params())
    bad = CliRunner().invoke(app, [*args, "--builder", "make"])
    assert bad.exit_code == 2 and "expected one of" in bad.output


def test_cli_once_reports(prefect_harness, monkeypatch, tmp_path, slack):
    from typer.testing import CliRunner

    from stackplan.cli import app

    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    tag = f"stackplan-test-{uuid.uuid4().hex}"
    asyncio.run(_make_runs(tag))
    args = ["monitor", "--once", "--tag", tag, "--running-minutes", "0", "--waiting-minutes", "0"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "3 stuck run(s), 3 newly reported (posted to Slack)" in out.stdout
    again = CliRunner().invoke(app, args)
    assert "3 stuck run(s), 0 newly reported" in again.stdout
    assert len(slack.requests) == 1


def test_cli_serve_creates_the_scheduled_deployment_and_keeps_serving(prefect_harness, tmp_path):
    """`stackplan monitor --serve` as a user runs it: a subprocess against the same Prefect server."""
    import os
    import time

    from prefect.client.orchestration import get_client

    env = {**os.environ, "PREFECT_API_URL": prefect_harness, "STACKPLAN_HOME": str(tmp_path)}
    proc = start_cli(["monitor", "--serve", "--cron", "0 3 * * 1"], env)

    async def cron_of_deployment():
        async with get_client() as client:
            try:
                dep = await client.read_deployment_by_name("stackplan-monitor/scheduled")
            except Exception:
                return None
            return [s.schedule.cron for s in dep.schedules]

    try:
        deadline = time.monotonic() + 120
        while asyncio.run(cron_of_deployment()) != ["0 3 * * 1"]:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the deployment was not created"
            time.sleep(0.5)
        assert proc.poll() is None  # still serving
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_a_run_re_marked_late_and_overlapping_checks_post_it_once(prefect_harness, tmp_path):
    """Prefect re-marks a Late run with a new state id: not a new report. Two checks at once: one post."""
    from prefect.states import Scheduled

    tag = f"stackplan-test-{uuid.uuid4().hex}"
    runs = asyncio.run(_make_runs(tag))
    later = datetime.now(UTC) + timedelta(hours=3)
    memory = tmp_path / "m.json"
    with LoopbackServer(lambda req: (time.sleep(0.3), 200, b"ok")[1:]) as slow_slack:

        async def two_at_once():
            return await asyncio.gather(
                check(tag=tag, memory_path=memory, slack_url=slow_slack.url, now=later),
                check(tag=tag, memory_path=memory, slack_url=slow_slack.url, now=later),
            )

        first, second = asyncio.run(two_at_once())
        assert len(slow_slack.requests) == 1
        assert sorted([len(first.reported), len(second.reported)]) == [0, 3]
        # re-marked Late: a new Scheduled state (new state id), same run, still late
        re_marked = Scheduled(scheduled_time=datetime.now(UTC) - timedelta(minutes=9))
        asyncio.run(_set_state(runs["late"], re_marked))
        again = asyncio.run(check(tag=tag, memory_path=memory, slack_url=slow_slack.url, now=later))
        assert again.reported == () and len(slow_slack.requests) == 1

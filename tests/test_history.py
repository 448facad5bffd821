"""History over real build-shaped flow and task runs in the Prefect harness, filtered by their tags."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prefect import flow, tags, task
from typer.testing import CliRunner

from flows.events.history import HistoryQuery, parse_since, query_history
from stackplan.cli import app

pytestmark = pytest.mark.prefect


@task
def build_job(job: str, ok: bool) -> str:
    if not ok:
        raise RuntimeError(f"{job} failed")
    return job


@flow(name="stackplan-platform")
def lane(plan: str, pr: int, jobs: list[tuple[str, str, bool]]) -> None:
    for package, platform, ok in jobs:
        with tags(
            "stackplan",
            f"plan:{plan}",
            f"platform:{platform}",
            f"package:{package}",
            f"recipe:recipes/{package}",
            f"pr:{pr}",
        ):
            build_job.submit(f"{package}@{platform}", ok).wait()
    # a task carrying the run tags but no recipe (like the one that runs a platform subflow): not a job
    with tags("stackplan", f"plan:{plan}", f"pr:{pr}"):
        build_job.submit("lane", True).wait()


@pytest.fixture(scope="module")
def plan_hash(prefect_harness):
    plan = uuid.uuid4().hex[:12]
    lane(
        plan,
        7,
        [("samtools", "linux-64", True), ("samtools", "osx-arm64", False), ("htslib", "linux-64", True)],
        return_state=True,
    )
    lane(plan, 8, [("bwa", "linux-64", True)], return_state=True)
    _settled(plan, 4)
    return plan


def _query(**kw):
    return asyncio.run(query_history(HistoryQuery(**kw)))


def _settled(plan: str, rows: int) -> None:
    """Wait (up to 120 s) until the plan's ``rows`` job runs are in the server's records: task runs
    reach them a little after their flow returns, so a query right away can miss the last one."""
    deadline = time.monotonic() + 120
    while len(_query(plan=plan)) < rows and time.monotonic() < deadline:
        time.sleep(0.5)


def test_by_package(plan_hash):
    rows = _query(plan=plan_hash, packages=("samtools",))
    assert sorted((r.platform, r.state) for r in rows) == [("linux-64", "Completed"), ("osx-arm64", "Failed")]
    assert {r.recipe for r in rows} == {"recipes/samtools"} and {r.pr for r in rows} == {7}
    assert all(r.url and r.url.endswith(f"/runs/flow-run/{r.flow_run_id}") for r in rows)


def test_by_platform_pr_and_state(plan_hash):
    assert sorted(r.packages for r in _query(plan=plan_hash, platforms=("linux-64",))) == [
        ("bwa",),
        ("htslib",),
        ("samtools",),
    ]
    assert [r.packages for r in _query(plan=plan_hash, pr=8)] == [("bwa",)]
    assert [r.packages for r in _query(plan=plan_hash, states=("failed",))] == [("samtools",)]
    assert len(_query(plan=plan_hash, packages=("samtools", "bwa"))) == 3
    assert _query(plan=plan_hash, packages=("nothing",)) == []


def test_since_and_limit(plan_hash):
    assert len(_query(plan=plan_hash, since=datetime.now(UTC) - timedelta(hours=1))) == 4
    assert _query(plan=plan_hash, since=datetime.now(UTC) + timedelta(hours=1)) == []
    rows = _query(plan=plan_hash, limit=2)
    assert len(rows) == 2
    assert rows[0].started >= rows[1].started  # newest first


def test_state_names():
    from flows.events.history import state_name

    assert [state_name(s) for s in ("failed", "COMPLETED", "timed-out", "awaiting retry", "Bogus")] == [
        "Failed",
        "Completed",
        "TimedOut",
        "AwaitingRetry",
        "Bogus",
    ]


def test_parse_since():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday", now)


def test_cli_table_and_json(plan_hash, prefect_harness, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    runner = CliRunner()
    out = runner.invoke(app, ["history", "--plan", plan_hash, "--package", "samtools", "--json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted((d["platform"], d["state"]) for d in lines) == [
        ("linux-64", "Completed"),
        ("osx-arm64", "Failed"),
    ]
    table = runner.invoke(app, ["history", "--plan", plan_hash, "--platform", "linux-64"])
    assert table.exit_code == 0
    assert "samtools" in table.stdout and "htslib" in table.stdout and "bwa" in table.stdout
    assert "osx-arm64" not in table.stdout
    bad = runner.invoke(app, ["history", "--since", "soon"])
    assert bad.exit_code == 2 and "--since" in bad.output
    bad_platform = runner.invoke(app, ["history", "--platform", "amiga-68k"])
    assert bad_platform.exit_code == 2


@flow(name="stackplan-platform", version="9.9.9")
def built_lane(plan: str, builder: str, channel: str) -> None:
    tags_ = ("stackplan", f"plan:{plan}", "platform:linux-64", "package:zstd", "recipe:recipes/zstd")
    with tags(*tags_):
        build_job.submit("zstd@linux-64", True).wait()


def test_builder_channel_version_and_dry_runs_marked(prefect_harness, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    plan = uuid.uuid4().hex[:12]
    built_lane(plan, "dry-run", "/srv/channel", return_state=True)
    built_lane(plan, "rattler-build", "/srv/channel", return_state=True)
    _settled(plan, 2)
    rows = _query(plan=plan)
    assert sorted(r.builder for r in rows) == ["dry-run", "rattler-build"]
    assert {r.channel for r in rows} == {"/srv/channel"} and {r.version for r in rows} == {"9.9.9"}
    table = CliRunner().invoke(app, ["history", "--plan", plan[:5]], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output  # a prefix of the plan hash is enough
    assert "Completed (dry run)" in table.stdout and "rattler-build" in table.stdout
    assert "9.9.9" in table.stdout and "/srv/channel" in table.stdout


@flow(name="stackplan-platform")
def isolated_lane(plan: str, builder: str, builder_options: dict, channel: str) -> None:
    for platform in ("linux-64", "osx-arm64"):
        tags_ = ("stackplan", f"plan:{plan}", f"platform:{platform}", "package:lz4", "recipe:recipes/lz4")
        with tags(*tags_):
            build_job.submit(f"lz4@{platform}", True).wait()


@flow(name="stackplan-platform")
def deployed_lane(plan: str, builder: str, builder_options: dict, channel: str, isolation: str) -> None:
    """A subflow run from a deployment: its ``isolation`` parameter decides over the builder options."""
    isolated_lane.fn(plan, builder, builder_options, channel)


def test_isolation_column_from_the_runs_builder_options(prefect_harness, monkeypatch):
    """Container isolation applies to linux and noarch jobs; the osx job of the same run built as a
    process, and a run without isolation options (conda-build, dry-run) built as processes."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    plan = uuid.uuid4().hex[:12]
    isolated_lane(plan, "rattler-build", {"isolation": "container", "container_engine": "podman"}, "/c")
    isolated_lane(plan, "conda-build", {}, "/c")
    deployed_lane(plan, "rattler-build", {"isolation": "process"}, "/d", isolation="container")
    _settled(plan, 6)
    rows = _query(plan=plan)
    assert sorted((r.builder, r.channel, r.platform, r.isolation) for r in rows) == [
        ("conda-build", "/c", "linux-64", "process"),
        ("conda-build", "/c", "osx-arm64", "process"),
        ("rattler-build", "/c", "linux-64", "container"),
        ("rattler-build", "/c", "osx-arm64", "process"),
        ("rattler-build", "/d", "linux-64", "container"),  # the subflow's isolation wins
        ("rattler-build", "/d", "osx-arm64", "process"),
    ]
    out = CliRunner().invoke(app, ["history", "--plan", plan, "--json"])
    assert out.exit_code == 0, out.output
    assert sorted(json.loads(line)["isolation"] for line in out.stdout.splitlines()) == [
        "container",
        "container",
        "process",
        "process",
        "process",
        "process",
    ]
    table = CliRunner().invoke(app, ["history", "--plan", plan], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "isolation" in table.stdout and "container" in table.stdout


def test_a_deployments_container_isolation_is_no_container_for_a_builder_without_one(
    prefect_harness, monkeypatch
):
    """The dry-run builder has no container mode: a subflow from a container deployment built nothing in
    one (flows/builders/container.py ``isolation_of``)."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    plan = uuid.uuid4().hex[:12]
    deployed_lane(plan, "dry-run", {}, "/c", isolation="container")
    _settled(plan, 2)
    rows = _query(plan=plan)
    assert sorted((r.builder, r.platform, r.isolation) for r in rows) == [
        ("dry-run", "linux-64", "process"),
        ("dry-run", "osx-arm64", "process"),
    ]


def test_an_invalid_state_or_plan_is_an_error(prefect_harness, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    bad = CliRunner().invoke(app, ["history", "--state", "done"])
    assert bad.exit_code == 2 and "not a state" in bad.output and "Completed" in bad.output
    assert CliRunner().invoke(app, ["history", "--plan", "xyz!"]).exit_code == 2
    assert CliRunner().invoke(app, ["history", "--state", "timed-out", "--plan", "0"]).exit_code == 0


def test_durations_learned_from_completed_real_builds(tmp_path, prefect_harness, monkeypatch):
    from datetime import UTC, datetime

    from flows.events.history import HistoryRow, learned_durations

    def row(recipe, platform, seconds, state="Completed", builder="rattler-build"):
        return HistoryRow(
            datetime.now(UTC), state, platform, ("x",), recipe, None, "p", seconds, "t", "f", None, builder
        )

    rows = [
        row("recipes/a", "linux-64", 100.0),
        row("recipes/a", "linux-64", 300.0),
        row("recipes/a", "linux-64", 200.0),
        row("recipes/a", "linux-64", 9999.0),  # older than the last 3: not counted
        row("recipes/a", "linux-64", 5.0, builder="dry-run"),  # waited, built nothing
        row("recipes/a", "linux-64", 7.0, state="Failed"),
        row("recipes/a", "osx-arm64", 60.0),
    ]
    learned = learned_durations(rows, last=3)
    assert learned == {"recipes/a": 130.0, "recipes/a@linux-64": 200.0, "recipes/a@osx-arm64": 60.0}
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    out = tmp_path / "durations.json"
    res = CliRunner().invoke(app, ["history", "--learn-durations", str(out), "--last", "3"])
    assert res.exit_code == 0, res.output
    assert isinstance(json.loads(out.read_text()), dict)

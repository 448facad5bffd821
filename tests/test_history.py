"""History over real build-shaped flow and task runs in the Prefect harness, filtered by their tags."""

from __future__ import annotations

import asyncio
import json
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
    return plan


def _query(**kw):
    return asyncio.run(query_history(HistoryQuery(**kw)))


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

"""Durations learned from Prefect's history feed the plan's critical path and makespan by themselves.

Real build-shaped flow runs in the Prefect harness (tagged as stackplan tags build jobs, one task per
job sleeping a known time) are the history; ``stackplan plan`` of a tree holding those recipes, with
``PREFECT_API_URL`` on loopback, plans in real minutes and says where the durations came from; the
state directory's cache serves the next plan without the API; ``--durations`` overrides both; an API
that does not answer costs a bounded time and falls back to the cache.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import pytest
from prefect import flow, tags, task
from typer.testing import CliRunner

from flows.events.history import api_rows, is_loopback, planning_durations
from planner.inputs.lists import learned_durations_file
from stackplan.cli import app
from tests.recipe_files import meta_yaml, write_tree

pytestmark = pytest.mark.prefect


@task
def build_job(seconds: float) -> None:
    time.sleep(seconds)


@flow(name="stackplan-platform")
def lane(plan: str, builder: str, jobs: list[tuple[str, str, float]]) -> None:
    for recipe, platform, seconds in jobs:
        job_tags = (f"plan:{plan}", f"platform:{platform}", f"package:{recipe}", f"recipe:recipes/{recipe}")
        with tags("stackplan", *job_tags):
            build_job.submit(seconds).wait()


@pytest.fixture(scope="module")
def history(prefect_harness) -> dict[str, str]:
    """Three real builds of ``<a>`` on linux-64 (0.3, 0.9, 0.5 s: median 0.5), one of ``<b>`` (1.2 s),
    and a dry run of ``<b>`` that only waited (0.1 s: not a build, not learned)."""
    a, b = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    plan = uuid.uuid4().hex[:12]
    for seconds in (0.3, 0.9, 0.5):
        lane(plan, "rattler-build", [(a, "linux-64", seconds)], return_state=True)
    lane(plan, "rattler-build", [(b, "linux-64", 1.2)], return_state=True)
    lane(plan, "dry-run", [(b, "linux-64", 0.1)], return_state=True)
    deadline = time.monotonic() + 60  # task-run states reach the server's database as events, a bit later
    while len([r for r in api_rows(prefect_harness) if r.plan == plan]) < 5:
        assert time.monotonic() < deadline, "the server did not record the 5 completed jobs"
        time.sleep(0.2)
    return {"a": a, "b": b, "api": prefect_harness}


@pytest.fixture
def tree(tmp_path: Path, history) -> Path:
    """``<b>`` needs ``<a>``: the critical path is a then b."""
    a, b = history["a"], history["b"]
    files = {f"recipes/{a}/meta.yaml": meta_yaml(a), f"recipes/{b}/meta.yaml": meta_yaml(b, host=[a])}
    return write_tree(tmp_path / "tree", files)


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return tmp_path / "state"


def _plan(root: Path, *args: str) -> tuple[dict, str]:
    args = ("plan", str(root), "-p", "linux-64", "--no-cache", *args)
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), res.output


def _estimates(plan: dict) -> dict[str, float]:
    return {n["recipe"].split("/")[-1]: n["duration_estimate"] for n in plan["nodes"]}


def test_rows_read_without_prefect_match_the_builds(history) -> None:
    rows = [r for r in api_rows(history["api"]) if r.recipe.endswith((history["a"], history["b"]))]
    real = sorted(round(r.duration or 0, 1) for r in rows if not r.dry_run)
    assert real == [0.3, 0.5, 0.9, 1.2]
    assert [r.builder for r in rows if r.dry_run] == ["dry-run"]
    assert {r.state for r in rows} == {"Completed"} and {r.platform for r in rows} == {"linux-64"}


def test_plan_learns_from_a_loopback_api_then_from_the_cache(tree, history, home, monkeypatch) -> None:
    a, b = history["a"], history["b"]
    monkeypatch.setenv("PREFECT_API_URL", history["api"])
    plan, out = _plan(tree)
    assert _estimates(plan) == {a: 0.5, b: 1.2}  # medians of the real builds; the dry run left out
    assert plan["makespan"]["linux-64"] == pytest.approx(1.7)
    assert plan["inputs"]["durations"].startswith(f"Prefect history at {history['api']}")
    assert f"durations: Prefect history at {history['api']}" in out and "min" in out
    cache = learned_durations_file(home)
    assert json.loads(cache.read_text())[f"recipes/{a}@linux-64"] == 0.5

    monkeypatch.delenv("PREFECT_API_URL")  # no API: the cache the last plan (or run) left
    plan, out = _plan(tree)
    assert _estimates(plan) == {a: 0.5, b: 1.2}
    assert plan["inputs"]["durations"].startswith(f"learned from history: {cache}")

    mine = home.parent / "mine.json"
    mine.write_text(json.dumps({f"recipes/{a}": 60, f"recipes/{b}": 120}))
    plan, out = _plan(tree, "--durations", str(mine))  # the file overrides whatever was learned
    assert _estimates(plan) == {a: 60.0, b: 120.0} and plan["makespan"]["linux-64"] == 180.0
    assert f"durations: --durations {mine}" in out and "3.0 min" in out


def test_an_api_that_does_not_answer_costs_a_bounded_time(tree, history, home, monkeypatch) -> None:
    with socket.socket() as sock:  # a loopback port that listens and never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
        monkeypatch.setenv("PREFECT_API_URL", url)
        started = time.monotonic()
        plan, out = _plan(tree)
        took = time.monotonic() - started
    assert took < 10  # the API's share is at most 2 s (PLANNING_DEADLINE); planning itself the rest
    assert _estimates(plan) == {history["a"]: 1.0, history["b"]: 1.0}  # nothing learned, no cache yet
    assert f"Prefect API at {url} not read" in plan["inputs"]["durations"] and "jobs" in out


def test_a_remote_api_is_not_asked_when_planning(home) -> None:
    assert is_loopback("http://127.0.0.1:4200/api") and is_loopback("http://localhost:4200/api")
    assert is_loopback("http://[::1]:4200/api") and not is_loopback("https://prefect.example.org/api")
    learned, source = planning_durations("http://192.0.2.1:4200/api")  # TEST-NET: never contacted
    assert learned is None and "not on this machine: not asked" in source

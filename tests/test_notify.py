"""Status hooks on real Prefect flow runs (test harness) reporting to a recording GitHub stand-in."""

from __future__ import annotations

import pytest
from prefect import flow

from flows.events import statuses as notify
from tests.loopback import github_on_loopback

pytestmark = pytest.mark.prefect

HOOKS = {
    "on_running": list(notify.ON_RUNNING),
    "on_completion": list(notify.ON_COMPLETION),
    "on_failure": list(notify.ON_FAILURE),
}


@flow(name="stackplan-platform-test", **HOOKS)
def platform_flow(
    platform: str,
    repo: str | None = None,
    head_sha: str | None = None,
    pr: int | None = None,
    fail: bool = False,
) -> int:
    if fail:
        raise RuntimeError("bwa-0.7.18 failed to build")
    return 1


@flow(name="stackplan-build-test")
def main_flow(plan: dict, repo: str, head_sha: str, pr: int | None = None) -> int:
    # the subflow gets only its platform: the hooks must find repo and sha on the parent run
    return platform_flow(platform="osx-arm64")


@pytest.fixture
def github(monkeypatch):
    with github_on_loopback(monkeypatch, "ghp_hooktoken") as state:
        yield state


def test_pending_then_success_with_link_to_the_run(prefect_harness, github):
    state = platform_flow(platform="linux-64", repo="octo/recipes", head_sha="f00d", pr=4, return_state=True)
    assert state.is_completed()
    assert [(sha, s["context"], s["state"]) for sha, s in github.statuses] == [
        ("f00d", "stackplan/linux-64", "pending"),
        ("f00d", "stackplan/linux-64", "success"),
    ]
    assert [s["description"] for _, s in github.statuses] == ["building", "built"]
    run_id = str(state.state_details.flow_run_id)
    for _, status in github.statuses:
        assert status["target_url"].endswith(f"/runs/flow-run/{run_id}")
        assert status["target_url"].startswith("http://")


def test_failure_carries_the_state_message(prefect_harness, github):
    state = platform_flow(
        platform="win-64", repo="octo/recipes", head_sha="beef", fail=True, return_state=True
    )
    assert state.is_failed()
    assert [s["state"] for _, s in github.statuses] == ["pending", "failure"]
    assert "bwa-0.7.18 failed to build" in github.statuses[-1][1]["description"]


def test_subflow_reads_repo_and_sha_from_the_parent_run(prefect_harness, github):
    main_flow(plan={}, repo="octo/recipes", head_sha="cafe", pr=9)
    assert [(sha, s["context"], s["state"]) for sha, s in github.statuses] == [
        ("cafe", "stackplan/osx-arm64", "pending"),
        ("cafe", "stackplan/osx-arm64", "success"),
    ]


def test_nothing_is_posted_without_token_or_without_repo(prefect_harness, github, monkeypatch):
    platform_flow(platform="linux-64")  # no repo / sha anywhere
    monkeypatch.delenv("GITHUB_TOKEN")
    platform_flow(platform="linux-64", repo="octo/recipes", head_sha="f00d")
    assert github.statuses == []


def test_github_errors_do_not_fail_the_build(prefect_harness, github):
    github.fail_with = 500
    state = platform_flow(platform="linux-64", repo="octo/recipes", head_sha="f00d", return_state=True)
    assert state.is_completed()

"""End to end: a signed pull_request delivery over HTTP -> plan of the changed recipes in a real git
repository -> a flow run of stackplan-build/build in Prefect -> the preview comment on a fake GitHub."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from flows.events.app import WebhookSettings
from flows.events.deliveries import DeliveryStore
from flows.events.dispatch import DispatchSettings
from flows.events.github import PREVIEW_MARKER
from tests.gitrepo import commit, git, init
from tests.loopback import github_on_loopback
from tests.recipe_files import meta_yaml
from tests.webhook_server import (
    SECRET,
    RunningReceiver,
    deploy_build_flow,
    post,
    pr_payload,
    read_flow_run,
    wait_settled,
)

pytestmark = pytest.mark.prefect


@pytest.fixture
def recipes_repo(tmp_path):
    repo = init(tmp_path / "recipes-repo")
    base = commit(
        repo,
        {
            "recipes/zlib/meta.yaml": meta_yaml("zlib", number=0),
            "recipes/libpng/meta.yaml": meta_yaml("libpng", number=0, host=["zlib"], run=["zlib"]),
            "recipes/jq/meta.yaml": meta_yaml("jq", number=0),
            "README.md": "recipes\n",
        },
        "base",
    )
    git(repo, "checkout", "-q", "-b", "bump-libpng")
    libpng = meta_yaml("libpng", number=1, host=["zlib"], run=["zlib"])
    head = commit(repo, {"recipes/libpng/meta.yaml": libpng}, "bump libpng")
    git(repo, "checkout", "-q", "main")
    return repo, base, head


def test_signed_pr_event_starts_one_build_run_with_the_plan(
    prefect_harness, recipes_repo, tmp_path, monkeypatch
):
    pytest.importorskip("planner.plan.build", reason="the planner (issue 3) is not merged yet")
    repo, base, head = recipes_repo
    deploy_build_flow()
    with github_on_loopback(monkeypatch, "ghp_e2e") as github:
        settings = WebhookSettings(
            secret=SECRET,
            dispatch=DispatchSettings(repo_dir=repo, state_dir=tmp_path / "state", platforms=("linux-64",)),
        )
        with RunningReceiver(settings) as receiver:
            payload = pr_payload(number=31, head=head, base=base)
            r = post(receiver.url, "pull_request", payload, delivery="e2e-1")
            assert r.status_code == 202
            row = wait_settled(DeliveryStore(settings.store_path), "e2e-1", timeout=120)
            assert row.status == "started", row.detail
            replay = post(receiver.url, "pull_request", payload, delivery="e2e-1")
            assert replay.json()["status"] == "duplicate"

    run = read_flow_run(row.flow_run_id)
    params = run.parameters
    assert (params["pr"], params["head_sha"], params["repo"]) == (31, head, "octo/recipes")
    built = sorted({n["recipe"] for n in params["plan"]["nodes"] if n["skipped"] is None})
    assert built == ["recipes/libpng"]  # the changed recipe only: zlib and jq did not change
    assert params["plan"]["root"] == f"<state>/checkouts/{head}"  # no path of the server in Prefect
    assert {"stackplan", "pr:31", f"plan:{params['plan']['hash'][:12]}"} <= set(run.tags)
    # a queued status per platform that builds, linking to the build run, before any worker picks it up
    assert [(sha, st["context"], st["state"], st["description"]) for sha, st in github.statuses] == [
        (head, "stackplan/linux-64", "pending", "queued")
    ]
    assert github.statuses[0][1]["target_url"].endswith(f"/runs/flow-run/{row.flow_run_id}")
    # the preview comment: one, with our marker, naming the recipe and the run
    [comment] = github.comments[31]
    assert comment["body"].startswith(PREVIEW_MARKER)
    assert "recipes/libpng" in comment["body"] and f"/runs/flow-run/{row.flow_run_id}" in comment["body"]
    assert comment["body"].count(PREVIEW_MARKER) == 1 and "recipes/jq" not in comment["body"]


def test_a_pin_change_in_the_pr_rebuilds_the_recipes_using_that_key(prefect_harness, tmp_path, monkeypatch):
    """The PR touches only the global variant config: the plan, made from the commit range inside the
    worktree checkout, selects the recipes whose variant uses the changed key."""
    pytest.importorskip("planner.plan.build", reason="the planner (issue 3) is not merged yet")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    repo = init(tmp_path / "pins-repo")
    base = commit(
        repo,
        {
            "stackplan.yaml": "variant_configs:\n  - conda_build_config.yaml\n",
            "conda_build_config.yaml": "zlib:\n  - '1.2'\n",
            "recipes/zlib/meta.yaml": meta_yaml("zlib", number=0),
            "recipes/libpng/meta.yaml": meta_yaml("libpng", number=0, host=["zlib"], run=["zlib"]),
            "recipes/jq/meta.yaml": meta_yaml("jq", number=0),
        },
        "base",
    )
    git(repo, "checkout", "-q", "-b", "zlib-1.3")
    head = commit(repo, {"conda_build_config.yaml": "zlib:\n  - '1.3'\n"}, "zlib 1.3")
    git(repo, "checkout", "-q", "main")
    deploy_build_flow()
    settings = WebhookSettings(
        secret=SECRET,
        dispatch=DispatchSettings(repo_dir=repo, state_dir=tmp_path / "state", platforms=("linux-64",)),
    )
    with RunningReceiver(settings) as receiver:
        r = post(receiver.url, "pull_request", pr_payload(number=40, head=head, base=base), delivery="pin-1")
        assert r.status_code == 202
        row = wait_settled(DeliveryStore(settings.store_path), "pin-1", timeout=120)
    assert row.status == "started", row.detail

    plan = read_flow_run(row.flow_run_id).parameters["plan"]
    building = {n["recipe"]: n for n in plan["nodes"] if n["skipped"] is None}
    assert sorted(building) == ["recipes/libpng"]
    assert building["recipes/libpng"]["selected"]["kind"] == "config-change"
    assert building["recipes/libpng"]["variant"]["zlib"] == "1.3"


def test_push_to_the_default_branch_builds_the_pushed_range(
    prefect_harness, recipes_repo, tmp_path, monkeypatch
):
    pytest.importorskip("planner.plan.build", reason="the planner (issue 3) is not merged yet")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    repo, base, head = recipes_repo
    git(repo, "merge", "-q", "--ff-only", "bump-libpng")  # main now at head
    deploy_build_flow()
    settings = WebhookSettings(
        secret=SECRET,
        dispatch=DispatchSettings(repo_dir=repo, state_dir=tmp_path / "state", platforms=("linux-64",)),
    )
    push = {
        "ref": "refs/heads/main",
        "before": base,
        "after": head,
        "repository": {"full_name": "octo/recipes", "default_branch": "main"},
        "commits": [{"added": [], "modified": ["recipes/libpng/meta.yaml"], "removed": []}],
    }
    with RunningReceiver(settings) as receiver:
        r = post(receiver.url, "push", push, delivery="push-1")
        assert (r.status_code, r.json()["pr"]) == (202, None)
        row = wait_settled(DeliveryStore(settings.store_path), "push-1", timeout=120)
    assert row.status == "started", row.detail

    run = read_flow_run(row.flow_run_id)
    assert (run.parameters["pr"], run.parameters["head_sha"]) == (None, head)
    assert sorted({n["recipe"] for n in run.parameters["plan"]["nodes"] if n["skipped"] is None}) == [
        "recipes/libpng"
    ]
    assert "event:push" in run.tags and not any(t.startswith("pr:") for t in run.tags)


def test_the_comment_links_the_whole_plan_as_a_page_the_server_serves(
    prefect_harness, recipes_repo, tmp_path, monkeypatch
):
    """With --public-url the comment's footer (and any cut line) links <public-url>/plans/<hash>.html,
    and the server answers that address with the graph page of the whole plan, under a strict CSP."""
    import httpx

    repo, base, head = recipes_repo
    deploy_build_flow()
    state = tmp_path / "state"
    with github_on_loopback(monkeypatch, "ghp_pages") as github:
        settings = WebhookSettings(
            secret=SECRET,
            dispatch=DispatchSettings(repo_dir=repo, state_dir=state, platforms=("linux-64",)),
            public_url="https://ci.example.org/stackplan/",
        )
        with RunningReceiver(settings) as receiver:
            r = post(
                receiver.url, "pull_request", pr_payload(number=32, head=head, base=base), delivery="pg-1"
            )
            assert r.status_code == 202
            row = wait_settled(DeliveryStore(settings.store_path), "pg-1", timeout=120)
            assert row.status == "started", row.detail
            plan_hash = read_flow_run(row.flow_run_id).parameters["plan"]["hash"]
            deadline = time.monotonic() + 60  # the comment follows the run's creation
            while not github.comments.get(32) and time.monotonic() < deadline:
                time.sleep(0.1)
            [comment] = github.comments[32]
            link = f"https://ci.example.org/stackplan/plans/{plan_hash}.html"
            assert f"[full plan (graph)]({link})" in comment["body"]

            page = httpx.get(f"{receiver.url}/plans/{plan_hash}.html")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "default-src 'none'" in page.headers["content-security-policy"]
            assert page.headers["x-content-type-options"] == "nosniff"
            assert "stackplanGraph" in page.text and "recipes/libpng" in page.text
            assert str(state) not in page.text and str(repo) not in page.text  # no server path
            for bad in (f"{plan_hash}.json", "..%2f..%2fetc%2fpasswd", "zzzz.html", f"{'0' * 40}.html"):
                assert httpx.get(f"{receiver.url}/plans/{bad}").status_code == 404, bad


def test_pages_are_bounded_oldest_first(tmp_path):
    import os

    from flows.events.pages import write_page
    from tests.plan_fixtures import sample_plan

    plans = [replace(sample_plan(), root=f"r{i}").with_hash() for i in range(3)]
    written = []
    for i, plan in enumerate(plans):
        written.append(write_page(plan, tmp_path, keep=2))
        os.utime(written[-1], (1000 + i, 1000 + i))
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == sorted(p.name for p in written[1:])

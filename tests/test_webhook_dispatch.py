"""From event to build run: event parsing, git ranges of a real repository, the flow run Prefect makes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flows.events.dispatch import DispatchError, changed_paths, checkout, create_build_run, run_tags
from flows.events.payloads import BuildTrigger, Ignored, PayloadError, parse_event
from tests.gitrepo import commit, git, init
from tests.webhook_server import deploy_build_flow

REPO = {"full_name": "octo/recipes", "default_branch": "main"}
A, B = "a" * 40, "b" * 40


def _pr(action="synchronize"):
    return {
        "action": action,
        "number": 5,
        "repository": REPO,
        "pull_request": {"head": {"sha": A, "ref": "bump-x"}, "base": {"sha": B, "ref": "main"}},
    }


@pytest.mark.parametrize(
    ("event", "payload", "expected"),
    [
        (
            "pull_request",
            _pr("opened"),
            BuildTrigger("pull_request", "octo/recipes", A, B, "bump-x", 5, None, True),
        ),
        (
            "pull_request",
            _pr("reopened"),
            BuildTrigger("pull_request", "octo/recipes", A, B, "bump-x", 5, None, True),
        ),
        ("pull_request", _pr("labeled"), Ignored("pull_request action 'labeled' does not start builds")),
        ("pull_request", _pr("closed"), Ignored("pull_request action 'closed' does not start builds")),
        (
            "push",
            {
                "ref": "refs/heads/main",
                "before": B,
                "after": A,
                "repository": REPO,
                "commits": [
                    {"added": ["recipes/x/meta.yaml"], "modified": ["README.md"], "removed": []},
                    {"added": [], "modified": [], "removed": ["recipes/y/meta.yaml"]},
                ],
            },
            BuildTrigger(
                "push",
                "octo/recipes",
                A,
                B,
                "main",
                None,
                ("README.md", "recipes/x/meta.yaml", "recipes/y/meta.yaml"),
            ),
        ),
        (
            "push",
            {
                "ref": "refs/heads/main",
                "before": B,
                "after": A,
                "repository": REPO,
                "commits": [{"added": [], "modified": [], "removed": []}] * 20,
            },
            BuildTrigger("push", "octo/recipes", A, B, "main", None, None),
        ),  # 20 listed: maybe truncated, use git
        (
            "push",
            {"ref": "refs/heads/dev", "before": B, "after": A, "repository": REPO},
            Ignored("push to refs/heads/dev, not to the default branch main"),
        ),
        (
            "push",
            {"ref": "refs/heads/main", "before": B, "after": "0" * 40, "deleted": True, "repository": REPO},
            Ignored("branch deleted"),
        ),
        (
            "push",
            {"ref": "refs/tags/v1", "before": B, "after": A, "repository": REPO},
            Ignored("push to refs/tags/v1, not to the default branch main"),
        ),
        ("release", {"action": "published"}, Ignored("event 'release' does not start builds")),
    ],
)
def test_parse_event(event, payload, expected):
    assert parse_event(event, payload) == expected


@pytest.mark.parametrize("payload", [{}, {"action": "opened", "repository": REPO}, [1], "x"])
def test_parse_event_malformed(payload):
    with pytest.raises(PayloadError):
        parse_event("pull_request", payload)


@pytest.fixture
def repo(tmp_path):
    r = init(tmp_path / "recipes")
    base = commit(r, {"recipes/a/meta.yaml": "package: {name: a}\n", "recipes/b/meta.yaml": "b\n"}, "base")
    git(r, "checkout", "-q", "-b", "feature")
    c1 = commit(r, {"recipes/a/meta.yaml": "package: {name: a, version: 2}\n"}, "bump a")
    c2 = commit(r, {"recipes/c/recipe.yaml": "c\n", "recipes/b/meta.yaml": None}, "add c, drop b")
    git(r, "checkout", "-q", "main")
    m1 = commit(r, {"README.md": "main moved on\n"}, "main moves")
    return r, {"base": base, "c1": c1, "c2": c2, "m1": m1}


def test_pr_range_uses_the_merge_base(repo):
    r, s = repo
    # the PR's base sha is main's tip (m1); GitHub's diff and ours exclude main's own change
    trig = BuildTrigger("pull_request", "o/r", s["c2"], s["m1"], "feature", 1, merge_base=True)
    assert changed_paths(trig, r) == ("recipes/a/meta.yaml", "recipes/b/meta.yaml", "recipes/c/recipe.yaml")


def test_push_range_is_before_to_after(repo):
    r, s = repo
    trig = BuildTrigger("push", "o/r", s["c2"], s["c1"], "feature")
    assert changed_paths(trig, r) == ("recipes/b/meta.yaml", "recipes/c/recipe.yaml")


def test_new_branch_uses_the_head_commit(repo):
    r, s = repo
    assert changed_paths(BuildTrigger("push", "o/r", s["c1"], None, "x"), r) == ("recipes/a/meta.yaml",)


def test_payload_paths_win_over_git(repo):
    r, s = repo
    trig = BuildTrigger("push", "o/r", s["c2"], s["c1"], "main", changed_paths=("recipes/z/meta.yaml",))
    assert changed_paths(trig, r) == ("recipes/z/meta.yaml",)


def test_unknown_commit_is_a_clear_error(repo):
    r, s = repo
    with pytest.raises(DispatchError, match=f"commit {'f' * 40} is not in"):
        changed_paths(BuildTrigger("push", "o/r", "f" * 40, s["base"], "main"), r)


def test_checkout_is_the_head_commit_whatever_is_checked_out(repo, tmp_path):
    r, s = repo
    tree = checkout(r, s["c2"], tmp_path / "state")
    assert tree == tmp_path / "state" / "checkouts" / s["c2"]
    files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    assert files == [".git", "recipes/a/meta.yaml", "recipes/c/recipe.yaml"]  # .git: a worktree's link file
    assert (tree / "recipes/a/meta.yaml").read_text() == "package: {name: a, version: 2}\n"
    assert git(tree, "rev-parse", "HEAD") == s["c2"]
    assert git(r, "rev-parse", "--abbrev-ref", "HEAD") == "main"  # the clone itself is left alone
    # the range is diffable inside the checkout: the planner runs git there
    assert git(tree, "diff", "--name-only", f"{s['m1']}...{s['c2']}").splitlines() == [
        "recipes/a/meta.yaml",
        "recipes/b/meta.yaml",
        "recipes/c/recipe.yaml",
    ]
    (tree / "marker").write_text("kept")
    assert checkout(r, s["c2"], tmp_path / "state") == tree and (tree / "marker").exists()  # reused


# ---- the flow run, through the real Prefect API -----------------------------------------------------------


@pytest.mark.prefect
def test_create_build_run_makes_one_run_with_parameters_and_tags(prefect_harness):
    from prefect.client.orchestration import get_client

    deploy_build_flow()
    plan = {"hash": "0123456789abcdef" * 4, "nodes": [], "root": "/r"}
    trig = BuildTrigger("pull_request", "octo/recipes", A, B, "bump-x", 42, merge_base=True)
    first = asyncio.run(create_build_run(plan, trig, idempotency_key="delivery-42"))
    again = asyncio.run(create_build_run(plan, trig, idempotency_key="delivery-42"))
    assert first == again  # Prefect's idempotency key: a replay that got past the store still runs once

    async def read():
        async with get_client() as client:
            run = await client.read_flow_run(first)
            dep = await client.read_deployment(run.deployment_id)
            return run, dep

    run, dep = asyncio.run(read())
    assert dep.name == "build"
    assert run.parameters["plan"] == plan
    assert (run.parameters["pr"], run.parameters["head_sha"], run.parameters["repo"]) == (
        42,
        A,
        "octo/recipes",
    )
    assert set(run.tags) >= {"stackplan", "plan:0123456789ab", "pr:42", "event:pull_request"}
    assert run_tags(plan["hash"], trig) == ["stackplan", "plan:0123456789ab", "event:pull_request", "pr:42"]


@pytest.mark.prefect
def test_missing_deployment_is_a_clear_error(prefect_harness):
    trig = BuildTrigger("push", "octo/recipes", A, B, "main")
    with pytest.raises(DispatchError, match="run `stackplan deploy` first"):
        asyncio.run(
            create_build_run({"hash": ""}, trig, deployment="stackplan-build/nope", idempotency_key="x")
        )


def test_missing_commits_are_fetched_from_the_remote(tmp_path):
    from flows.events.dispatch import ensure_commits

    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(origin, "config", "uploadpack.allowAnySHA1InWant", "true")
    work = init(tmp_path / "dev")
    base = commit(work, {"recipes/a/meta.yaml": "a\n"}, "base")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "main")
    mirror = tmp_path / "mirror"
    git(tmp_path, "clone", "-q", str(origin), str(mirror))
    # a PR branch pushed after the receiver's clone was made, under GitHub's refs/pull/<n>/head
    git(work, "checkout", "-q", "-b", "pr")
    head = commit(work, {"recipes/b/meta.yaml": "b\n"}, "pr change")
    git(work, "push", "-q", "origin", "pr:refs/pull/3/head")
    trig = BuildTrigger("pull_request", "o/r", head, base, "pr", 3, merge_base=True)
    with pytest.raises(DispatchError, match="fetch it into the checkout first"):
        ensure_commits(trig, mirror, None)
    ensure_commits(trig, mirror, "origin")
    assert changed_paths(trig, mirror) == ("recipes/b/meta.yaml",)
    with pytest.raises(DispatchError, match="could not fetch it from 'origin'"):
        ensure_commits(BuildTrigger("push", "o/r", "e" * 40, base, "main"), mirror, "origin")


def test_state_references_round_trip_and_name_no_server_path(tmp_path, monkeypatch):
    """A path under the server's state dir is stored as ``<state>/...`` and read back under the
    worker's own ``$STACKPLAN_HOME``; a path elsewhere cannot be written as one."""
    from planner.state import resolve_state_ref, state_ref

    state = tmp_path / "server-state"
    assert state_ref(state / "checkouts" / A / "recipes", state) == f"<state>/checkouts/{A}/recipes"
    assert state_ref(state, state) == "<state>"
    with pytest.raises(ValueError):
        state_ref(tmp_path / "elsewhere", state)
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path / "worker-state"))
    assert resolve_state_ref(f"<state>/checkouts/{A}") == tmp_path / "worker-state" / "checkouts" / A
    assert resolve_state_ref("/abs/root") == Path("/abs/root")


def test_a_big_plan_goes_to_the_run_as_a_state_reference(tmp_path, monkeypatch):
    """Over Prefect's parameter size the plan goes by file: the parameter names it under
    ``<state>/``, and the build worker (same $STACKPLAN_HOME) loads that very plan."""
    from dataclasses import replace

    import flows.run.plan_store as plan_store
    from flows.events.dispatch import run_param
    from flows.run.synthetic import layered_plan

    state = tmp_path / "state"
    plan = replace(layered_plan(30), root=f"<state>/checkouts/{A}").with_hash()
    assert run_param(plan, state) == plan.to_dict()  # small: inline, as it is
    monkeypatch.setattr(plan_store, "INLINE_LIMIT", 100)
    param = run_param(plan, state)
    assert param == {"path": f"<state>/.stackplan/plans/{plan.hash}.json", "hash": plan.hash}
    monkeypatch.setenv("STACKPLAN_HOME", str(state))
    assert plan_store.load_plan(param) == plan


@pytest.mark.prefect
def test_a_worker_without_the_servers_state_dir_fails_the_run_clearly(prefect_harness, tmp_path, monkeypatch):
    from dataclasses import replace

    from flows.run.runner import run_plan
    from flows.run.synthetic import layered_plan

    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path / "worker-state"))
    plan = replace(layered_plan(2), root=f"<state>/checkouts/{A}").with_hash()
    result = run_plan(plan, channel=str(tmp_path / "channel"))
    assert result.state == "Failed"
    assert f"<state>/checkouts/{A} is not a directory under this worker's $STACKPLAN_HOME" in result.message
    (tmp_path / "worker-state" / "checkouts" / A).mkdir(parents=True)  # now it is: the run builds
    quick = {"builder_options": {"time_scale": 0}}
    assert run_plan(plan, channel=str(tmp_path / "channel"), options=quick).ok


def test_a_webhook_plan_uses_learned_durations_like_the_planning_commands(tmp_path, monkeypatch):
    """serve's plans (and so its PR comment) take the durations the planning commands learn: here
    from the state directory's cache, as `stackplan run` leaves it after real builds."""
    from flows.events.dispatch import DispatchSettings, make_plan
    from planner.inputs.lists import learned_durations_file, write_durations
    from tests.recipe_files import meta_yaml

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    r = init(tmp_path / "recipes")
    base = commit(r, {"recipes/zlib/meta.yaml": meta_yaml("zlib", number=0)}, "base")
    head = commit(
        r, {"recipes/libpng/meta.yaml": meta_yaml("libpng", number=0, host=["zlib"])}, "add libpng"
    )
    settings = DispatchSettings(repo_dir=r, state_dir=tmp_path / "state", platforms=("linux-64",))
    trigger = BuildTrigger("pull_request", "o/r", head, base, "feature", 3)

    plan = make_plan(trigger, settings, "d-1")
    assert {n.duration_estimate for n in plan.nodes} == {1.0}  # nothing learned yet: one unit per job

    write_durations(learned_durations_file(), {"recipes/libpng@linux-64": 1200.0})
    plan = make_plan(trigger, settings, "d-2")
    [libpng] = [n for n in plan.nodes if n.recipe == "recipes/libpng"]
    assert libpng.duration_estimate == 1200.0
    assert "learned-durations.json" in plan.inputs["durations"]

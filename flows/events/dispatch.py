"""What the receiver does with a valid event: changed files -> plan -> a flow run of the build deployment.

Steps, each its own function so each can be tested on real inputs:

1. :func:`changed_paths` — the event's own file list (push payloads) or ``git diff`` of the commit
   range in the local checkout given by ``--repo-dir`` (pull requests: ``base...head``, the merge
   base, which is what GitHub shows as the PR's diff).
2. :func:`checkout` — a detached git worktree at the head commit, made once per sha under
   ``<state>/checkouts/<sha>``: the plan (and the build that reads its ``root``) sees exactly the
   pushed commit, whatever branch the clone has out.
3. :func:`make_plan` — ``planner.plan.build.build_plan`` on that tree with the commit range as selection.
4. :func:`create_build_run` — a flow run of deployment ``stackplan-build/build`` with ``plan``, ``pr``,
   ``head_sha``, ``repo`` as parameters and the stackplan tags; the delivery id is Prefect's
   idempotency key, a second guard against running one delivery twice.

What is stored in Prefect names no path of the server: the plan's ``root`` is the reference
``<state>/checkouts/<sha>[/<subdir>]`` and a plan passed by file is ``<state>/.stackplan/plans/<hash>.json``
(:func:`planner.state.state_ref`); the build worker resolves both against its own ``$STACKPLAN_HOME``,
which is the server's (it reads the server's checkouts).
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.events.payloads import BuildTrigger
from planner.errors import StackplanError
from planner.plan.tags import BASE_TAG, event_tag, plan_tag, pr_tag
from planner.render.budget import SERVE_BUDGET, RenderBudget

__all__ = [
    "BUILD_DEPLOYMENT",
    "DispatchError",
    "DispatchSettings",
    "changed_paths",
    "checkout",
    "create_build_run",
    "ensure_commits",
    "make_plan",
    "run_param",
    "run_tags",
]

#: The deployment a webhook starts (made by ``stackplan deploy``).
BUILD_DEPLOYMENT = "stackplan-build/build"


class DispatchError(StackplanError, RuntimeError):
    """The event was valid but could not be turned into a build (unknown commit, plan failure...)."""


@dataclass(frozen=True)
class DispatchSettings:
    repo_dir: Path  # a local clone of the recipe repository
    state_dir: Path  # where checkouts and change lists are kept
    subdir: str = ""  # the stackplan root inside the repository ("" = its top)
    deployment: str = BUILD_DEPLOYMENT
    platforms: tuple[str, ...] | None = None  # None: stackplan.yaml / defaults
    skip_existing: str | None = None  # channel whose packages need no rebuild
    fetch_remote: str | None = None  # fetch missing commits from this remote of repo_dir (e.g. "origin")
    #: per-recipe render limits: strict, the recipes are strangers' (the PR's stackplan.yaml cannot
    #: loosen them); every render runs in a worker process (planner.render.budget)
    budget: RenderBudget = SERVE_BUDGET


def _git(repo: Path, *args: str, binary: bool = False) -> Any:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise DispatchError(f"git {' '.join(args)}: {message[-1] if message else 'failed'}")
    return proc.stdout if binary else proc.stdout.decode()


def _has_commit(repo: Path, sha: str) -> bool:
    return (
        subprocess.run(
            ["git", "-C", str(repo), "cat-file", "-e", "--end-of-options", f"{sha}^{{commit}}"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


def _check_trigger(trigger: BuildTrigger) -> None:
    """Defence in depth: the payload parser validated these already (``planner.git.refs``); a
    trigger built any other way is held to the same rule before git sees it."""
    from planner.git.refs import InvalidGitValue, check_sha

    try:
        for sha in (trigger.head_sha, trigger.base_sha):
            if sha is not None:
                check_sha(sha)
    except InvalidGitValue as exc:
        raise DispatchError(str(exc)) from None
    if trigger.pr is not None and (isinstance(trigger.pr, bool) or not isinstance(trigger.pr, int)):
        raise DispatchError(f"pull request number {trigger.pr!r} is not an integer")


def ensure_commits(trigger: BuildTrigger, repo_dir: Path, remote: str | None) -> None:
    """Make sure the event's commits are in ``repo_dir``: fetch them from ``remote`` when missing.

    GitHub serves any reachable commit by sha, and a PR's head also as ``refs/pull/<n>/head`` (which
    reaches commits of forks); both are tried. Without a remote, a missing commit is an error.
    """
    _check_trigger(trigger)
    missing = [sha for sha in (trigger.head_sha, trigger.base_sha) if sha and not _has_commit(repo_dir, sha)]
    if missing and remote:
        refspecs = list(missing)
        if trigger.pr is not None:
            refspecs.append(f"+refs/pull/{trigger.pr}/head:refs/stackplan/pr-{trigger.pr}")
        for spec in refspecs:
            subprocess.run(
                ["git", "-C", str(repo_dir), "fetch", "--quiet", "--no-tags", "--", remote, spec],
                capture_output=True,
                check=False,
            )
        missing = [sha for sha in missing if not _has_commit(repo_dir, sha)]
    if missing:
        hint = f"could not fetch it from {remote!r}" if remote else "fetch it into the checkout first"
        raise DispatchError(f"commit {missing[0]} is not in {repo_dir}: {hint}")


def changed_paths(trigger: BuildTrigger, repo_dir: Path, remote: str | None = None) -> tuple[str, ...]:
    """Paths (relative to the repository top) the event changes, sorted."""
    if trigger.changed_paths is not None:
        return trigger.changed_paths
    ensure_commits(trigger, repo_dir, remote)
    if trigger.base_sha:
        dots = "..." if trigger.merge_base else ".."
        out = _git(
            repo_dir,
            "diff",
            "--name-only",
            "--no-renames",
            "--end-of-options",
            f"{trigger.base_sha}{dots}{trigger.head_sha}",
            "--",
        )
    else:  # a new branch: the head commit's own changes
        out = _git(
            repo_dir,
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "--no-renames",
            "-r",
            "--root",
            "--end-of-options",
            trigger.head_sha,
        )
    return tuple(sorted({line for line in out.splitlines() if line}))


_CHECKOUT_LOCK = threading.Lock()
#: Checkouts not used for this long are removed when the next one is made (a queued build reads its
#: recipes from its checkout, so this must outlast the longest wait for a worker).
CHECKOUT_MAX_AGE = 3 * 24 * 3600.0


def checkout(repo_dir: Path, sha: str, state_dir: Path, *, max_age: float = CHECKOUT_MAX_AGE) -> Path:
    """A detached git worktree of ``repo_dir`` at ``sha`` under ``<state>/checkouts/<sha>`` (made once).

    A worktree, not an export: it shares the clone's objects, so the planner can diff the event's
    commit range inside it (including variant-config changes, which need both versions of a file),
    and the build reads exactly the pushed commit whatever branch the clone has checked out.
    Checkouts unused for ``max_age`` seconds are pruned first (``planner.git.checkout``).
    """
    from planner.git.changes import GitError
    from planner.git.checkout import cached_checkout, prune_checkouts
    from planner.git.refs import InvalidGitValue, check_sha

    try:
        check_sha(sha)
    except InvalidGitValue as exc:
        raise DispatchError(str(exc)) from None
    with _CHECKOUT_LOCK:
        if not _has_commit(repo_dir, sha):
            raise DispatchError(f"commit {sha} is not in {repo_dir}: fetch it into the checkout first")
        prune_checkouts(repo_dir, state_dir, max_age, keep=(sha,))
        try:
            return cached_checkout(repo_dir, sha, state_dir)
        except GitError as exc:
            raise DispatchError(str(exc)) from exc


def make_plan(trigger: BuildTrigger, settings: DispatchSettings, delivery: str) -> Any:
    """The plan for the event: the changed recipes at the head commit (and what they pull in).

    With a base commit the planner gets the commit range (``base...head`` for a PR, ``before..after``
    for a push) and finds changed recipes and changed variant-config keys itself; a new branch has
    no base, so the head commit's own files are listed instead.
    """
    ensure_commits(trigger, settings.repo_dir, settings.fetch_remote)
    tree = checkout(settings.repo_dir, trigger.head_sha, settings.state_dir)
    from planner.plan.build import PlanRequest, build_plan
    from planner.render.cache import default_cache_dir

    root = tree / settings.subdir if settings.subdir else tree
    changed = changed_list = None
    if trigger.base_sha:
        changed = f"{trigger.base_sha}{'...' if trigger.merge_base else '..'}{trigger.head_sha}"
    else:
        prefix = settings.subdir.strip("/") + "/" if settings.subdir else ""
        paths = changed_paths(trigger, settings.repo_dir)
        changed_list = settings.state_dir / "deliveries" / f"{delivery}.changed"
        changed_list.parent.mkdir(parents=True, exist_ok=True)
        changed_list.write_text("".join(f"{p[len(prefix) :]}\n" for p in paths if p.startswith(prefix)))
    from flows.events.history import planning_durations

    # as the planning commands do: the comment's critical path and makespan in real minutes once
    # builds have run (a loopback Prefect API, else the state directory's cache; never raises)
    learned, learned_from = planning_durations()
    request = PlanRequest(
        root=root,
        platforms=settings.platforms,
        changed=changed,
        changed_files=changed_list,
        skip_existing=settings.skip_existing,
        cache_dir=default_cache_dir(),  # webhook plans of one repository stay warm between events
        budget=settings.budget,
        learned_durations=learned,
        learned_from=learned_from,
    )
    from dataclasses import replace

    from planner.state import state_ref

    # planned from the checkout, stored as a reference to it: the server's paths stay on the server
    return replace(build_plan(request), root=state_ref(root, settings.state_dir)).with_hash()


def run_param(plan: Any, state_dir: Path) -> dict[str, Any]:
    """The build run's ``plan`` parameter: the plan itself, or (over Prefect's parameter size) a
    ``<state>/.stackplan/plans/<hash>.json`` reference to its file under ``state_dir``."""
    from flows.run.plan_store import plan_param
    from planner.state import state_ref

    param = plan_param(plan, state_dir)
    if "path" in param:
        param = {**param, "path": state_ref(param["path"], state_dir)}
    return param


def run_tags(plan_hash: str, trigger: BuildTrigger) -> list[str]:
    """The tags of the build run a webhook starts (:mod:`planner.plan.tags`), plus what triggered it."""
    tags = [BASE_TAG, plan_tag(plan_hash), event_tag(trigger.event)]
    if trigger.pr is not None:
        tags.append(pr_tag(trigger.pr))
    return tags


async def create_build_run(
    plan: dict[str, Any], trigger: BuildTrigger, *, deployment: str = BUILD_DEPLOYMENT, idempotency_key: str
) -> str:
    """Create (not wait for) a flow run of ``deployment``; returns its id."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from planner.redact import default_redactor

    # stored in Prefect's database and shown in its UI: redacted, all of it (``root`` / ``path`` are
    # ``<state>/...`` references by now, which the redaction leaves as they are)
    plan = default_redactor().value(plan)
    async with get_client() as client:
        try:
            dep = await client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            raise DispatchError(
                f"deployment {deployment!r} not found: run `stackplan deploy` first"
            ) from None
        run = await client.create_flow_run_from_deployment(
            dep.id,
            parameters={"plan": plan, "pr": trigger.pr, "head_sha": trigger.head_sha, "repo": trigger.repo},
            tags=run_tags(str(plan.get("hash") or ""), trigger),
            idempotency_key=f"github-delivery:{idempotency_key}",
        )
    return str(run.id)

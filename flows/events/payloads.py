"""From a GitHub event payload to what stackplan should build, or why it builds nothing.

Pure functions over the parsed JSON: which events start a build (a pull request opened, pushed to
or reopened; a push to the repository's default branch), and the commit range and changed paths
they name. Everything else (labels, closed PRs, pushes to other branches, branch deletions) is
:class:`Ignored` with a reason the receiver returns to GitHub, where it shows in the delivery log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.errors import StackplanError
from planner.git.refs import InvalidGitValue, check_branch, check_ref, check_sha

__all__ = ["BUILD_ACTIONS", "BuildTrigger", "Ignored", "PayloadError", "parse_event"]

#: pull_request actions that mean "the code to build changed".
BUILD_ACTIONS = ("opened", "synchronize", "reopened")
_ZERO_SHA = "0" * 40
#: GitHub lists at most this many commits in a push payload; with more, the file list is incomplete.
_PUSH_COMMITS_LISTED = 20
#: A repository's "owner/name" as GitHub allows it.
_REPO_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
#: A changed path listed in a push payload (longer ones are refused, not truncated).
_MAX_PATH = 4096


class PayloadError(StackplanError, ValueError):
    """The JSON is valid but not the shape of the GitHub event it claims to be."""


@dataclass(frozen=True)
class BuildTrigger:
    """A build to start: the commit to build, the range it changes, and where to report."""

    event: str  # "pull_request" | "push"
    repo: str  # "owner/name"
    head_sha: str
    base_sha: str | None  # PR base / push "before"; None for a new branch
    ref: str  # the branch that was pushed (head branch of a PR)
    pr: int | None = None
    changed_paths: tuple[str, ...] | None = None  # from the payload when complete, else None: use git
    merge_base: bool = False  # PR: compare against the merge base (base...head), like GitHub's diff


@dataclass(frozen=True)
class Ignored:
    reason: str


def _get(payload: Mapping[str, Any], *keys: str) -> Any:
    value: Any = payload
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            raise PayloadError(f"missing {'.'.join(keys)}")
        value = value[key]
    return value


def _str(payload: Mapping[str, Any], *keys: str) -> str:
    """A string field; any other JSON type is a payload error (never coerced with ``str()``)."""
    value = _get(payload, *keys)
    if not isinstance(value, str):
        raise PayloadError(f"{'.'.join(keys)} is not a string")
    return value


def _git_value(check: Any, payload: Mapping[str, Any], *keys: str) -> str:
    """A string field that git will see, checked by ``planner.git.refs`` (invalid -> PayloadError)."""
    try:
        return check(_str(payload, *keys), ".".join(keys))
    except InvalidGitValue as exc:
        raise PayloadError(str(exc)) from None


def _pr_number(payload: Mapping[str, Any]) -> int:
    value = _get(payload, "number")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise PayloadError("number is not a pull request number (a positive integer)")
    return value


def _pushed_paths(commits: list[Any]) -> tuple[str, ...]:
    found: set[str] = set()
    for commit in commits:
        if not isinstance(commit, Mapping):
            raise PayloadError("commits[] is not a list of objects")
        for key in ("added", "modified", "removed"):
            paths = commit.get(key) or []
            if not isinstance(paths, list) or not all(
                isinstance(p, str) and 0 < len(p) <= _MAX_PATH and "\0" not in p for p in paths
            ):
                raise PayloadError(f"commits[].{key} is not a list of paths")
            found.update(paths)
    return tuple(sorted(found))


def parse_event(event: str, payload: Any, *, allowed_repo: str | None = None) -> BuildTrigger | Ignored:
    """What a delivery of ``event`` asks for. Raises :class:`PayloadError` for a malformed payload.

    Every field stackplan reads is type-checked, and every value git will see (commit ids, ref and
    branch names) is validated by ``planner.git.refs``: a payload is hostile input.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError("payload is not a JSON object")
    if event not in ("pull_request", "push"):
        return Ignored(f"event {event!r} does not start builds")
    repo = _str(payload, "repository", "full_name")
    if not _REPO_NAME.fullmatch(repo):
        raise PayloadError("repository.full_name is not owner/name")
    if allowed_repo and repo.lower() != allowed_repo.lower():
        return Ignored(f"repository {repo} is not {allowed_repo}")
    if event == "pull_request":
        action = _str(payload, "action")
        if action not in BUILD_ACTIONS:
            return Ignored(f"pull_request action {action[:40]!r} does not start builds")
        return BuildTrigger(
            event=event,
            repo=repo,
            head_sha=_git_value(check_sha, payload, "pull_request", "head", "sha"),
            base_sha=_git_value(check_sha, payload, "pull_request", "base", "sha"),
            ref=_git_value(check_branch, payload, "pull_request", "head", "ref"),
            pr=_pr_number(payload),
            merge_base=True,
        )
    default = _git_value(check_branch, payload, "repository", "default_branch")
    ref = _git_value(check_ref, payload, "ref")
    if ref != f"refs/heads/{default}":
        return Ignored(f"push to {ref}, not to the default branch {default}")
    if payload.get("deleted") is True or _get(payload, "after") == _ZERO_SHA:
        return Ignored("branch deleted")
    after = _git_value(check_sha, payload, "after")
    new_branch = payload.get("before") in (None, "", _ZERO_SHA)
    before = None if new_branch else _git_value(check_sha, payload, "before")
    commits = payload.get("commits")
    if commits is not None and not isinstance(commits, list):
        raise PayloadError("commits is not a list")
    paths: tuple[str, ...] | None = None
    if commits and 0 < len(commits) < _PUSH_COMMITS_LISTED and before is not None:
        paths = _pushed_paths(commits)
    return BuildTrigger(
        event=event,
        repo=repo,
        head_sha=after,
        base_sha=before,
        ref=default,
        changed_paths=paths,
    )

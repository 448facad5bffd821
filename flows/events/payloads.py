"""From a GitHub event payload to what stackplan should build, or why it builds nothing.

Pure functions over the parsed JSON: which events start a build (a pull request opened, pushed to
or reopened; a push to the repository's default branch), and the commit range and changed paths
they name. Everything else (labels, closed PRs, pushes to other branches, branch deletions) is
:class:`Ignored` with a reason the receiver returns to GitHub, where it shows in the delivery log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planner.errors import StackplanError

__all__ = ["BUILD_ACTIONS", "BuildTrigger", "Ignored", "PayloadError", "parse_event"]

#: pull_request actions that mean "the code to build changed".
BUILD_ACTIONS = ("opened", "synchronize", "reopened")
_ZERO_SHA = "0" * 40
#: GitHub lists at most this many commits in a push payload; with more, the file list is incomplete.
_PUSH_COMMITS_LISTED = 20


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


def parse_event(event: str, payload: Any, *, allowed_repo: str | None = None) -> BuildTrigger | Ignored:
    """What a delivery of ``event`` asks for. Raises :class:`PayloadError` for a malformed payload."""
    if not isinstance(payload, Mapping):
        raise PayloadError("payload is not a JSON object")
    if event not in ("pull_request", "push"):
        return Ignored(f"event {event!r} does not start builds")
    repo = str(_get(payload, "repository", "full_name"))
    if allowed_repo and repo.lower() != allowed_repo.lower():
        return Ignored(f"repository {repo} is not {allowed_repo}")
    if event == "pull_request":
        action = _get(payload, "action")
        if action not in BUILD_ACTIONS:
            return Ignored(f"pull_request action {action!r} does not start builds")
        return BuildTrigger(
            event=event,
            repo=repo,
            head_sha=str(_get(payload, "pull_request", "head", "sha")),
            base_sha=str(_get(payload, "pull_request", "base", "sha")),
            ref=str(_get(payload, "pull_request", "head", "ref")),
            pr=int(_get(payload, "number")),
            merge_base=True,
        )
    default = str(_get(payload, "repository", "default_branch"))
    ref = str(_get(payload, "ref"))
    if ref != f"refs/heads/{default}":
        return Ignored(f"push to {ref}, not to the default branch {default}")
    after = str(_get(payload, "after"))
    if payload.get("deleted") or after == _ZERO_SHA:
        return Ignored("branch deleted")
    before = str(payload.get("before") or "")
    commits = payload.get("commits")
    paths: tuple[str, ...] | None = None
    if isinstance(commits, list) and 0 < len(commits) < _PUSH_COMMITS_LISTED and before != _ZERO_SHA:
        found: set[str] = set()
        for commit in commits:
            for key in ("added", "modified", "removed"):
                found.update(str(p) for p in (commit.get(key) or ()))
        paths = tuple(sorted(found))
    return BuildTrigger(
        event=event,
        repo=repo,
        head_sha=after,
        base_sha=None if not before or before == _ZERO_SHA else before,
        ref=default,
        changed_paths=paths,
    )

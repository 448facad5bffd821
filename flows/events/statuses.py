"""Prefect state hooks that report a platform's build to GitHub as a commit status.

Wire them into the platform subflow ("stackplan-platform") through flows/run/hooks.py::

    PLATFORM_ON_RUNNING.append(notify.platform_running)
    PLATFORM_ON_COMPLETION.append(notify.platform_completed)
    PLATFORM_ON_FAILURE.append(notify.platform_failed)

Each hook has Prefect's signature ``(flow, flow_run, state)``. What to report on comes from the run's
parameters — ``repo`` ("owner/name"), ``head_sha``, ``pr`` — and when the subflow does not carry them,
from its parent run's (the main flow "stackplan-build" has them as parameters). The platform comes
from a ``platform`` parameter or the run's ``platform:<subdir>`` tag. A run without repo or sha, or a
process without ``GITHUB_TOKEN``, reports nothing. A hook never raises: GitHub being down must not
turn a green build red, so failures are logged (without the token) and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.events.github import GitHub, GitHubError, status_context
from planner.plan.tags import PLATFORM, tag_values

__all__ = [
    "ON_COMPLETION",
    "ON_CRASHED",
    "ON_FAILURE",
    "ON_RUNNING",
    "ReportTarget",
    "platform_completed",
    "platform_crashed",
    "platform_failed",
    "platform_running",
    "report_target",
    "run_url",
]

log = logging.getLogger("stackplan.notify")

#: How many parent runs up we look for repo / head_sha (platform subflow -> main flow is one hop).
_MAX_PARENT_HOPS = 3


@dataclass(frozen=True)
class ReportTarget:
    """Where a run's status goes: repository, commit, platform (and PR, for messages)."""

    repo: str
    head_sha: str
    platform: str
    pr: int | None = None


def _parent_run(flow_run: Any) -> Any | None:
    parent_task = getattr(flow_run, "parent_task_run_id", None)
    if parent_task is None:
        return None
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        task_run = client.read_task_run(parent_task)
        if task_run.flow_run_id is None:
            return None
        return client.read_flow_run(task_run.flow_run_id)


def report_target(flow_run: Any) -> ReportTarget | None:
    """The repo / sha / platform a run reports to, or None when it has nothing to report to."""
    params: dict[str, Any] = {}
    tags = list(getattr(flow_run, "tags", ()) or ())
    run = flow_run
    for _ in range(_MAX_PARENT_HOPS + 1):
        for key, value in (getattr(run, "parameters", None) or {}).items():
            if value is not None:
                params.setdefault(key, value)
        if params.get("repo") and params.get("head_sha"):
            break
        run = _parent_run(run)
        if run is None:
            break
    platform = params.get("platform") or next(iter(tag_values(tags, PLATFORM)), None)
    if not (params.get("repo") and params.get("head_sha") and platform):
        return None
    pr = params.get("pr")
    return ReportTarget(str(params["repo"]), str(params["head_sha"]), str(platform), int(pr) if pr else None)


def run_url(flow_run_id: Any) -> str | None:
    """The Prefect UI page of a run (by id): PREFECT_UI_URL when set, else derived from PREFECT_API_URL."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    base = PREFECT_UI_URL.value()
    if not base:
        api = PREFECT_API_URL.value()
        base = api[: -len("/api")] if api and api.endswith("/api") else api
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}" if base else None


def _post(
    flow_run: Any, state: Any, github_state: str, description: str, environ: Mapping[str, str] | None
) -> None:
    try:
        target = report_target(flow_run)
        if target is None:
            return
        client = GitHub.from_env(target.repo, environ)
        if not client.enabled:
            return
        client.set_status(
            target.head_sha,
            github_state,
            context=status_context(target.platform),
            description=description,
            target_url=run_url(flow_run.id),
        )
    except GitHubError as exc:
        log.warning("could not post %s status for run %s: %s", github_state, flow_run.id, exc)
    except Exception as exc:  # a hook must never fail the build it reports on
        log.warning("status hook for run %s failed: %s: %s", flow_run.id, type(exc).__name__, exc)


def _describe(state: Any, default: str) -> str:
    """Prefect's state message ("linux-64: 4 jobs built", the failure) or ``default``."""
    message = " ".join((getattr(state, "message", None) or "").split())
    return message or default


def platform_running(flow: Any, flow_run: Any, state: Any) -> None:
    """on_running: the platform's builds started -> pending."""
    _post(flow_run, state, "pending", "building", None)


def platform_completed(flow: Any, flow_run: Any, state: Any) -> None:
    """on_completion: every job of the platform built -> success."""
    _post(flow_run, state, "success", _describe(state, "built"), None)


def platform_failed(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure: a job failed -> failure, with Prefect's state message."""
    _post(flow_run, state, "failure", _describe(state, "failed"), None)


def platform_crashed(flow: Any, flow_run: Any, state: Any) -> None:
    """on_crashed / on_cancellation: the run did not finish -> error."""
    _post(flow_run, state, "error", _describe(state, getattr(state, "name", "crashed")), None)


#: Ready-made hook lists for flows/run/hooks.py.
ON_RUNNING = (platform_running,)
ON_COMPLETION = (platform_completed,)
ON_FAILURE = (platform_failed,)
ON_CRASHED = (platform_crashed,)

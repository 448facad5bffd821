"""Run a plan from Python (the CLI, tests, benchmarks): the main flow plus what surrounds it.

:func:`run_plan` calls the "stackplan-build" flow in this process under the run tags and returns its
report; :func:`wait_recorded` then waits until the server has recorded every job's final state (the
server records task-run states from events, a little after the flow ends), so a run's history is
complete before anyone stops the server.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flows.run.outcomes import FINAL_STATES, REUSED
from flows.run.task_run_counts import count_body, count_task_runs
from planner.plan.model import Plan

#: count_recorded's key for job task runs not (yet) in a final state.
NOT_FINAL = "not final"


@dataclass(frozen=True)
class RunResult:
    state: str  # "Completed" | "Failed" | "Crashed"...
    message: str
    report: Mapping[str, Any]
    flow_run_id: str

    @property
    def ok(self) -> bool:
        return self.state == "Completed"


def _root(root: str) -> str:
    """The plan's root for the flow: a ``<state>/...`` reference as it is (the flow resolves it),
    else absolute (relative to where this command runs, not to the flow's working directory)."""
    from pathlib import Path

    from planner.state import is_state_ref

    return root if is_state_ref(root) else str(Path(root).resolve())


def run_plan(
    plan: Plan,
    *,
    builder: str = "dry-run",
    channel: str = "out/channel",
    parallelism: int = 4,
    pr: int | None = None,
    head_sha: str | None = None,
    repo: str | None = None,
    options: Mapping[str, Any] | None = None,
    isolation: str | None = None,
) -> RunResult:
    """Run the main flow in this process against the current Prefect API. ``isolation``: the run's
    explicit choice (``stackplan run --isolation``; see :func:`flows.run.build_flow.build_flow`)."""
    from pathlib import Path

    from prefect import tags

    from flows.run.build_flow import build_flow
    from flows.run.plan_store import plan_param
    from flows.run.tags import run_tags

    plan = plan if plan.hash else plan.with_hash()
    with tags(*run_tags(plan.hash, pr=pr)):
        state = build_flow.with_options(flow_run_name=f"stackplan-{plan.hash[:12]}")(
            plan_param(plan, Path(channel).resolve()),
            builder=builder,
            channel=channel,
            parallelism=parallelism,
            pr=pr,
            head_sha=head_sha,
            repo=repo,
            options={"root": _root(plan.root), **dict(options or {})},
            isolation=isolation,
            return_state=True,
        )
    report = state.result(raise_on_failure=False) if state.data is not None else None
    if not isinstance(report, Mapping):
        report = {"jobs": [], "counts": {}, "state": state.name, "plan_hash": plan.hash}
    flow_run_id = str(state.state_details.flow_run_id or report.get("flow_run", ""))
    return RunResult(
        state.name if state.type.value != "COMPLETED" else "Completed",
        state.message or "",
        report,
        flow_run_id,
    )


def count_recorded(flow_run_ids: Iterable[str], names: Iterable[str] = FINAL_STATES) -> dict[str, int]:
    """Job task runs (named by job id, holding "@") of these flow runs, by state name, from the API.

    One count (flows/run/task_run_counts.py) per name of ``names`` plus one for all of them; job runs in
    any other state are counted under ``"not final"``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName, TaskRunFilterState
    from prefect.client.schemas.filters import TaskRunFilterStateName as StateName

    flow_runs = list(flow_run_ids)
    wanted = [n for n in dict.fromkeys(names) if n != REUSED]  # a reused job has no task run

    def job_runs(state_names: list[str] | None) -> TaskRunFilter:
        state = TaskRunFilterState(name=StateName(any_=state_names)) if state_names else None
        return TaskRunFilter(name=TaskRunFilterName(like_="@"), state=state)

    counts: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for name in [*wanted, None]:
            body = count_body(flow_runs, job_runs([name] if name else None))
            counts[name or "all"] = count_task_runs(client, body)
    rest = counts.pop("all") - sum(counts.values())
    counts = {k: v for k, v in counts.items() if v}
    if rest > 0:
        counts[NOT_FINAL] = rest
    return counts


def wait_recorded(report: Mapping[str, Any], timeout: float = 60.0) -> tuple[bool, dict[str, int]]:
    """Wait until the API shows every job of ``report`` (that ran) in a final state.

    Returns (all recorded, counts by state name). Job task runs are named by job id (which holds "@").
    """
    jobs = [j for j in report.get("jobs", ()) if j.get("flow_run")]
    expected = len(jobs)
    flow_runs = sorted({j["flow_run"] for j in jobs})
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while True:
        counts = count_recorded(flow_runs) if flow_runs else {}
        final = sum(n for s, n in counts.items() if s in ("Completed", "Failed", "Skipped"))
        if final >= expected or time.monotonic() > deadline:
            return final >= expected, counts
        time.sleep(0.25)

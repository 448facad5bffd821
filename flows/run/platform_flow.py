"""The per-platform subflow "stackplan-platform": one lane (or one chunk of a lane) of the plan.

It submits one task per job in topological order through a bounded ``ThreadPoolTaskRunner``
(``max_workers = parallelism``: the default runner opens a thread per waiting task), each with
``wait_for`` its in-lane upstream tasks. Job task runs are *created* without tags: Prefect acquires
tag-concurrency slots for every tagged task run before it starts (an API round trip per task, and a
queue service with its own thread and HTTP client per distinct tag set: per-package tags make every set
distinct; measured ~150-200 ms per task). Instead each job task writes its tags (flows/run/tags.py) onto its
own task run when it starts, so the events of its later states carry them and the server records them
with the final state: searchable by tag in the API and UI at no API cost (flows/run/job_task.py). It waits
for all of them and then decides its own final state:
Failed when any job failed or was skipped, Completed otherwise (Prefect alone would call it Completed
with dependents left Pending "NotReady"). Its parameters are plain JSON so a worker can run it from a
deployment; it returns the outcomes and also writes them to ``<channel>/.stackplan/lanes/<run id>.json``
for a main flow that dispatched it to a worker.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from prefect import allow_failure, flow
from prefect.context import FlowRunContext, TagsContext
from prefect.futures import wait
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.builders import get_builder
from flows.run import hooks, liveness
from flows.run.backpressure import DEFAULT_WINDOW, RecordedCounter, Window
from flows.run.job_task import JobRun, quiet_completions, run_job
from flows.run.journal import journal_at
from flows.run.lanes import expand
from flows.run.outcomes import GOOD_STATES, JobOutcome, LaneResult, Ledger
from flows.run.plan_store import load_plan, read_outcomes
from flows.run.tags import job_tags
from planner import __version__
from planner.state import resolve_state_ref

LANES_DIR = Path(".stackplan") / "lanes"


def _call_hooks(hook_list: list[Any]) -> Any:
    """A state hook that runs whatever is in ``hook_list`` when it fires (the lists may be filled
    after this module is imported)."""

    def run_hooks(flow_: Any, flow_run: Any, state: Any) -> None:
        for hook in list(hook_list):
            hook(flow_, flow_run, state)

    return run_hooks


@flow(
    name="stackplan-platform",
    version=__version__,  # history shows which stackplan ran a build
    on_running=[_call_hooks(hooks.PLATFORM_ON_RUNNING)],
    on_completion=[_call_hooks(hooks.PLATFORM_ON_COMPLETION)],
    on_failure=[_call_hooks(hooks.PLATFORM_ON_FAILURE)],
    on_crashed=[_call_hooks(hooks.PLATFORM_ON_CRASHED)],
    on_cancellation=[_call_hooks(hooks.PLATFORM_ON_CRASHED)],
    persist_result=False,
    validate_parameters=False,
    log_prints=False,
)
def platform_flow(
    plan_hash: str,
    platform: str,
    plan_path: str,
    job_ids: list[str],
    upstream_path: str | None = None,
    builder: str = "dry-run",
    builder_options: dict[str, Any] | None = None,
    channel: str = "out/channel",
    parallelism: int = 4,
    retries: int = 2,
    retry_delay: float = 10.0,
    retry_on: str = "infrastructure",
    pr: int | None = None,
    tag_jobs: bool = True,
    root: str | None = None,
    max_unrecorded: int = DEFAULT_WINDOW,
    journal: str | None = None,
    isolation: str | None = None,
) -> Any:
    """Build the jobs ``job_ids`` (a lane or a chunk of one, in topological order) of the plan stored
    at ``plan_path``. ``upstream_path`` holds the final outcomes of their upstream jobs that ran before
    (in other lanes or earlier chunks); an upstream with no outcome is taken as built (resume).
    ``root``: where the plan's recipe dirs are, when not at the plan's own (possibly relative) root; a
    ``<state>/...`` reference is under this worker's state directory (:mod:`planner.state`).
    ``max_unrecorded``: how many jobs the subflow may run ahead of the server's records (0: no limit;
    flows/run/backpressure.py). ``journal``: the run's journal file, where each job's outcome is
    appended as it ends (flows/run/journal.py). ``isolation``: process or container, the run's own
    choice passed on by the main flow, or else the isolation of the deployment this subflow runs from
    (``stackplan deploy --isolation``); it replaces what the builder options say and is checked here,
    on the worker that builds (flows/builders/container.py :func:`decide`)."""
    from flows.builders.container import EngineError, IsolationError, decide
    from flows.run.retry import retry_condition

    quiet_completions()
    plan = load_plan(plan_path)
    all_nodes, all_edges = expand(plan)
    by_id = {n.id: n for n in all_nodes}
    nodes = [by_id[j] for j in job_ids]
    wanted = set(job_ids)
    deps: dict[str, list[str]] = {}
    for e in all_edges:
        if e.target in wanted and e.source != e.target:
            deps.setdefault(e.target, []).append(e.source)
    ctx = FlowRunContext.get()
    flow_run_id = str(ctx.flow_run.id) if ctx and ctx.flow_run else ""
    if flow_run_id:
        liveness.own_flow_run(flow_run_id)
    ledger = Ledger(journal=journal_at(journal) if journal else None, flow_run=flow_run_id)
    ledger.seed(JobOutcome.from_dict(o) for o in read_outcomes(upstream_path))
    options = dict(builder_options or {})
    channel_path = Path(channel)
    if isolation is not None:
        try:
            platforms = {n.platform for n in nodes}
            recipes = resolve_state_ref(root or plan.root).resolve()
            options = decide(options, recipes, builder, isolation, platforms)
        except (EngineError, IsolationError) as exc:  # this worker cannot build them so: say why, per job
            return _refuse(channel_path, flow_run_id, nodes, f"{platform} worker: {exc}")
    the_builder = get_builder(builder, options)
    the_builder.prepare(channel_path, tuple(sorted({n.platform for n in nodes} | {platform})))
    run = JobRun(
        builder=the_builder,
        root=resolve_state_ref(root or plan.root).resolve(),
        channel=channel_path,
        ledger=ledger,
        jobs={n.id: n for n in nodes},
        upstream={k: tuple(v) for k, v in deps.items()},
        retries=retries,
        retry_on=retry_on,
        builder_options=options,
        tags={n.id: tuple(job_tags(plan_hash, n, pr=pr)) for n in nodes} if tag_jobs else {},
        logs_dir=Path(journal).with_suffix(".logs") if journal else None,
    )
    task = run_job.with_options(
        retries=retries, retry_delay_seconds=retry_delay, retry_condition_fn=retry_condition(retry_on)
    )
    counter = RecordedCounter(flow_run_id) if flow_run_id and max_unrecorded > 0 else None
    window = Window(max_unrecorded, counter)
    futures: dict[str, Any] = {}
    # task runs start untagged (no tag-concurrency call; not the flow run's tags either): each job task
    # tags its own task run when it runs (see the module docstring)
    with (
        ThreadPoolTaskRunner(max_workers=max(1, parallelism)) as runner,
        TagsContext(current_tags=set()),
        counter or contextlib.nullcontext(),
        liveness.builds_die_with_run(),  # innermost: it must see a signal before the runner waits
    ):
        for k, node in enumerate(nodes):  # topological order: every upstream was submitted before it
            window.admit(k)
            wait_for = [allow_failure(futures[u]) for u in deps.get(node.id, ()) if u in futures]
            futures[node.id] = runner.submit(task, {"job_id": node.id, "run": run}, wait_for=wait_for)
        wait(list(futures.values()))
    mine = {n.id for n in nodes}
    outcomes = [o for o in ledger.with_flow_run(flow_run_id) if o.job in mine]
    missing = mine - {o.job for o in outcomes}
    for job_id in sorted(missing):  # a task that crashed before recording (should not happen)
        node = run.jobs[job_id]
        outcomes.append(
            JobOutcome(
                job_id, node.platform, node.recipe, "Failed", "no outcome recorded", flow_run=flow_run_id
            )
        )
    result = sorted((o.to_dict() for o in outcomes), key=lambda d: d["job"])
    if flow_run_id:
        _write_lane_file(channel_path, flow_run_id, result)
    bad = [o for o in outcomes if o.state not in GOOD_STATES]
    if bad:
        failed = sum(1 for o in bad if o.state == "Failed")
        return Failed(
            message=f"{platform}: {failed} failed, {len(bad) - failed} skipped of {len(outcomes)} jobs",
            data=LaneResult(result),
        )
    return Completed(message=f"{platform}: {len(outcomes)} jobs built", data=LaneResult(result))


def _refuse(channel: Path, flow_run_id: str, nodes: list[Any], message: str) -> Any:
    """Fail every job of the lane with ``message`` before any of them started."""
    result = [
        JobOutcome(n.id, n.platform, n.recipe, "Failed", message, flow_run=flow_run_id).to_dict()
        for n in nodes
    ]
    if flow_run_id:
        _write_lane_file(channel, flow_run_id, result)
    return Failed(message=message, data=LaneResult(result))


def _write_lane_file(channel: Path, flow_run_id: str, result: list[dict[str, Any]]) -> None:
    path = channel / LANES_DIR / f"{flow_run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, sort_keys=True))


def read_lane_file(channel: Path, flow_run_id: str) -> list[dict[str, Any]] | None:
    path = channel / LANES_DIR / f"{flow_run_id}.json"
    return json.loads(path.read_text()) if path.is_file() else None

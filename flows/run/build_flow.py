"""The main flow "stackplan-build": run a plan, one platform subflow per lane, and report.

Lanes run concurrently, each in a thread of the main flow that starts once the lanes it needs (the
lanes of noarch jobs its jobs depend on) have finished, and that runs its subflow either in-process
(the default) or on the platform's work pool through ``run_deployment("stackplan-platform/<subdir>")``
(``options.dispatch = "deployments"``, set up by ``stackplan deploy``). A lane larger than the chunk size
runs as several subflow runs of whole layers, one after another. From its start the flow keeps the
run's journal next to the channel (flows/run/journal.py: each job's outcome is appended as the job
ends, so a run killed halfway can be resumed); at the end it writes the JSON run report beside it, a
Markdown artifact with the table, and returns Failed when any job failed or was skipped — explicitly,
because Prefect would otherwise call the run Completed.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from pathlib import Path
from typing import Any

from prefect import flow, tags
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from prefect.states import Completed, Failed

from flows.run import liveness
from flows.run.backpressure import DEFAULT_WINDOW
from flows.run.journal import close_journal, journal_at, run_id, start_journal
from flows.run.lanes import DEFAULT_CHUNK_SIZE, Lane, expand, split_lanes
from flows.run.outcomes import FAILED, GOOD_STATES, REUSED, JobOutcome, LaneResult
from flows.run.plan_store import STORE, load_plan, store_plan, write_outcomes
from flows.run.platform_flow import platform_flow, read_lane_file
from flows.run.report import build_report, iso_time, markdown_table, write_report
from flows.run.tags import run_tags
from planner import __version__
from planner.plan.model import Plan
from planner.redact import default_redactor
from planner.state import is_state_ref, resolve_state_ref


def lane_run_name(plan_hash: str, platform: str, chunk: int = 0, chunks: int = 1) -> str:
    name = f"{plan_hash[:12]}-{platform}"
    return name if chunks == 1 else f"{name}-{chunk + 1}of{chunks}"


class LaneSpec:
    """What a lane task needs (opaque to Prefect: not a dataclass)."""

    def __init__(self, lane: Lane, plan: Plan, common: dict[str, Any], settings: dict[str, Any]) -> None:
        self.lane = lane
        self.plan = plan
        self.common = common
        self.settings = settings


def run_lane(spec: LaneSpec, upstream: list[Future[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Run one lane's chunks in order, after the lanes it needs (``upstream``) finished.

    Lanes run in plain threads of the main flow, not in Prefect tasks: a subflow called inside a task
    runs its job tasks inside that task's transaction, and when the subflow fails Prefect rolls that
    transaction back, relabelling completed jobs "RolledBack".
    """
    upstream_results = [f.result() for f in upstream]
    lane, plan, common, settings = spec.lane, spec.plan, spec.common, spec.settings
    known: dict[str, dict[str, Any]] = {o["job"]: o for outs in upstream_results for o in outs}
    for job, state in settings.get("reused", {}).items():
        known.setdefault(job, JobOutcome(job, "", "", state).to_dict())
    deps_all = _all_upstream(plan, lane)
    chunks = lane.chunks(settings.get("chunk_size", DEFAULT_CHUNK_SIZE))
    results: list[dict[str, Any]] = []
    for i, chunk in enumerate(chunks):
        ids = {n.id for n in chunk}
        needed = {u for n in chunk for u in deps_all.get(n.id, ()) if u not in ids}
        name = lane_run_name(plan.hash, lane.platform, i, len(chunks))
        upstream_file = write_outcomes(
            Path(settings["run_dir"]) / f"{name}-upstream.json", (known[u] for u in needed if u in known)
        )
        params = {
            **common,
            "platform": lane.platform,
            "job_ids": [n.id for n in chunk],
            "upstream_path": str(upstream_file),
        }
        if settings.get("dispatch") == "deployments":
            if settings.get("isolation"):  # else the platform deployment's own isolation, if it has one
                params["isolation"] = settings["isolation"]
            outcomes = _run_deployed(lane.platform, name, params, common)
        else:
            state = platform_flow.with_options(flow_run_name=name)(**params, return_state=True)
            outcomes = state.result(raise_on_failure=False) if state.data is not None else None
            if isinstance(outcomes, LaneResult):
                outcomes = outcomes.outcomes
            if not isinstance(outcomes, list):
                outcomes = _crashed(chunk, f"platform subflow ended {state.type.value}: {state.message}")
        for o in outcomes:
            known[o["job"]] = o
        results.extend(outcomes)
    return results


def _run_deployed(platform: str, name: str, params: dict[str, Any], common: dict[str, Any]) -> list[dict]:
    from prefect.deployments import run_deployment

    flow_run = run_deployment(
        name=f"stackplan-platform/{platform}",
        parameters=params,
        flow_run_name=name,
        timeout=None,
        poll_interval=2,
        tags=run_tags(common["plan_hash"], platform=platform, pr=common.get("pr")),
    )
    outcomes = read_lane_file(Path(common["channel"]), str(flow_run.id))
    if outcomes is None:
        state = flow_run.state
        return _crashed_ids(
            params["job_ids"],
            f"deployed subflow {flow_run.name} ended "
            f"{state.type.value if state else 'unknown'}: {state.message if state else ''}",
        )
    return outcomes


def _inline(fn: Any, *args: Any) -> Future[Any]:
    future: Future[Any] = Future()
    try:
        future.set_result(fn(*args))
    except Exception as exc:
        future.set_exception(exc)
    return future


def _crashed(chunk: Any, message: str) -> list[dict[str, Any]]:
    return [JobOutcome(n.id, n.platform, n.recipe, FAILED, message).to_dict() for n in chunk]


def _crashed_ids(job_ids: list[str], message: str) -> list[dict[str, Any]]:
    return [JobOutcome(j, j.rsplit("@", 1)[-1].split("[")[0], "", FAILED, message).to_dict() for j in job_ids]


def _recipes_root(root: str) -> str | None:
    """The root the subflows get: a ``<state>/...`` reference (a ``stackplan serve`` run) stays one, so
    the server's checkout path is in no flow run's parameters, and each subflow resolves it
    (:func:`planner.state.resolve_state_ref`); None when it names no directory here. Any other root
    is made absolute (the subflows may run in another working directory)."""
    if is_state_ref(root):
        return root if resolve_state_ref(root).is_dir() else None
    return str(Path(root).resolve())


def _all_upstream(plan: Plan, lane: Lane) -> dict[str, tuple[str, ...]]:
    return {j: tuple(sorted({*lane.deps.get(j, ()), *lane.external.get(j, ())})) for j in lane.job_ids}


@flow(
    name="stackplan-build",
    version=__version__,
    persist_result=False,
    validate_parameters=False,
    log_prints=False,
)
def build_flow(
    plan: dict[str, Any],
    builder: str = "dry-run",
    channel: str = "out/channel",
    parallelism: int = 4,
    pr: int | None = None,
    head_sha: str | None = None,
    repo: str | None = None,
    options: dict[str, Any] | None = None,
    isolation: str | None = None,
) -> Any:
    """Run ``plan`` (``Plan.to_dict()``, or ``{"path": plan.json}`` for a big one) with ``builder``
    into ``channel``.

    ``options``: builder_options (dict), retries (2), retry_delay (10 s), retry_on ("infrastructure"),
    dispatch ("local" | "deployments"), chunk_size, tag_jobs (true: tag each job's task run),
    max_unrecorded (jobs a subflow may run ahead of the server's records; 0: no limit), only (job
    ids to run: resume), root (where the recipes are, if not at plan.root; ``<state>/...`` is under
    this worker's state directory, as a ``stackplan serve`` run's plan.root is), reused (job ids an
    earlier run built), reused_packages ({job: [package]} of those), resumes (the run id resumed),
    report (write the JSON report; default true), journal (keep the run's journal; default true).

    ``isolation``: process or container, chosen for this run (``stackplan run --isolation``) or by the
    deployment it runs from (``stackplan deploy --isolation``); it wins over stackplan.yaml's, is decided
    and checked here when the builder options do not say it yet (a run from a deployment), and is passed
    on to subflows run on workers, which check it where they build (flows/builders/container.py).
    """
    from flows.builders.container import EngineError, IsolationError, decide

    started = time.time()
    opts = dict(options or {})
    the_plan = load_plan(plan)
    if not the_plan.hash:
        the_plan = the_plan.with_hash()
    plan_hash = the_plan.hash
    channel_path = Path(channel).resolve()
    plan_path = store_plan(the_plan, channel_path)
    ctx = FlowRunContext.get()
    flow_run_id = str(ctx.flow_run.id) if ctx and ctx.flow_run else ""
    if flow_run_id:
        liveness.own_flow_run(flow_run_id)
    root = _recipes_root(opts.get("root") or the_plan.root)
    if root is None:
        return Failed(
            message=f"the recipes of this run are not here: {the_plan.root} is not a directory under this"
            " worker's $STACKPLAN_HOME (run the workers of `stackplan serve` with its STACKPLAN_HOME)"
        )
    builder_options = dict(opts.get("builder_options") or {})
    decided = builder_options.get("isolation")  # by `stackplan run`, before the run
    if decided is None or (isolation is not None and isolation != decided):
        try:  # a run from a deployment: decide it here, before any job
            platforms = {n.platform for n in the_plan.nodes}
            builder_options = decide(builder_options, Path(root), builder, isolation, platforms)
        except (EngineError, IsolationError) as exc:
            return Failed(message=f"stackplan run cannot start: {exc}")
    lanes = split_lanes(the_plan, only=opts.get("only"))
    common = {
        "plan_hash": plan_hash,
        "plan_path": str(plan_path),
        "root": root,
        "builder": builder,
        "builder_options": builder_options,
        "channel": str(channel_path),
        "parallelism": int(parallelism),
        "retries": int(opts.get("retries", 2)),
        "retry_delay": float(opts.get("retry_delay", 10.0)),
        "retry_on": str(opts.get("retry_on", "infrastructure")),
        "pr": pr,
        "tag_jobs": bool(opts.get("tag_jobs", True)),
        "max_unrecorded": int(opts.get("max_unrecorded", DEFAULT_WINDOW)),
    }
    reused = {j: REUSED for j in opts.get("reused") or ()}
    reused_packages = dict(opts.get("reused_packages") or {})
    known_nodes = {n.id: n for n in expand(the_plan)[0]}
    reused_outcomes = [
        JobOutcome(
            j,
            known_nodes[j].platform,
            known_nodes[j].recipe,
            REUSED,
            "built by an earlier run",
            packages=tuple(reused_packages.get(j) or ()),
        )
        for j in sorted(reused)
        if j in known_nodes
    ]
    this_run = run_id(plan_hash, started)
    journal_path = channel_path / f"{this_run}.jsonl"
    resumes = opts.get("resumes") or None
    if opts.get("journal", True):
        header = {
            "run": this_run,
            "plan_hash": plan_hash,
            "builder": builder,
            "channel": str(channel_path),
            "root": common["root"],
            "flow_run": flow_run_id,
            "started": iso_time(started),
            "resumes": resumes,
            "pid": os.getpid(),
        }
        start_journal(journal_path, header, reused_outcomes)
        common["journal"] = str(journal_path)
    settings = {
        "dispatch": opts.get("dispatch", "local"),
        "isolation": isolation,
        "chunk_size": int(opts.get("chunk_size", DEFAULT_CHUNK_SIZE)),
        "reused": reused,
        "run_dir": str(channel_path / STORE / "runs" / (flow_run_id or f"local-{int(started)}")),
    }
    futures: dict[str, Future[list[dict[str, Any]]]] = {}
    with (
        ThreadPoolExecutor(max_workers=max(1, len(lanes)), thread_name_prefix="stackplan-lane") as pool,
        liveness.builds_die_with_run(),  # innermost: it must see a signal before the pool waits
    ):
        for lane in lanes:  # lane order: every lane after the lanes it needs
            before = [futures[p] for p in lane.needs_lanes if p in futures]
            with tags(*run_tags(plan_hash, platform=lane.platform, pr=pr)):
                spec = LaneSpec(lane, the_plan, common, settings)
                if len(lanes) == 1:  # one lane: run it in the flow's own thread (see docs/flows.md)
                    futures[lane.platform] = _inline(run_lane, spec, before)
                else:
                    ctx = contextvars.copy_context()
                    futures[lane.platform] = pool.submit(ctx.run, run_lane, spec, before)
        wait_all(list(futures.values()))
    outcomes: list[JobOutcome] = []
    for lane in lanes:
        try:
            outcomes.extend(JobOutcome.from_dict(o) for o in futures[lane.platform].result())
        except Exception as exc:  # the lane itself broke (not a job): its jobs failed
            outcomes.extend(JobOutcome.from_dict(o) for o in _crashed(lane.jobs, f"lane crashed: {exc!r}"))
    outcomes.extend(reused_outcomes)
    report = build_report(
        plan_hash=plan_hash,
        root=the_plan.root,
        builder=builder,
        channel=str(channel_path),
        outcomes=outcomes,
        started=started,
        finished=time.time(),
        flow_run=flow_run_id,
        pr=pr,
        head_sha=head_sha,
        repo=repo,
        run=this_run,
        resumes=resumes,
    )
    if common.get("journal"):
        journal_at(journal_path).append(
            {
                "kind": "end",
                "state": report["state"],
                "finished": report["finished"],
                "counts": report["counts"],
            }
        )
        close_journal(journal_path)
    if opts.get("report", True):
        report["report_path"] = str(write_report(channel_path, report))
    with contextlib.suppress(Exception):  # an artifact is a convenience; never fail a build over it
        create_markdown_artifact(
            key=f"stackplan-run-{plan_hash[:12]}",
            markdown=default_redactor().text(markdown_table(report)),
            description=f"stackplan run of plan {plan_hash[:12]}",
        )
    bad = [o for o in outcomes if o.state not in GOOD_STATES]
    counts = ", ".join(f"{n} {s.lower()}" for s, n in report["counts"].items())
    if bad:
        return Failed(message=f"stackplan run failed: {counts}", data=report)
    return Completed(message=f"stackplan run built everything: {counts}", data=report)

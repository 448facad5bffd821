"""The task that runs one plan job: skip it if an upstream failed, else build it with the builder.

One Prefect task run per job. Its upstream tasks are its ``wait_for`` (wrapped in ``allow_failure`` so
it still starts when one failed); it then reads their outcomes from the lane's ledger and, if any
failed or was skipped, ends in a state named "Skipped" with the message "Skipped: upstream X failed"
(X the failed job at the root): searchable by name in the API, shown by name in the UI, and not a
failure of its own. Its type is COMPLETED, as Prefect 1's ``Skipped`` was a kind of ``Success``:
Prefect 3's ``allow_failure`` lets dependents start after a Failed upstream but not after a Cancelled
one, so a Cancelled "Skipped" would leave the next layer Pending ("NotReady") instead of Skipped. Otherwise
it builds, streaming the builder's output into the task's log.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.states import Completed

from flows.builders import BuildContext, Builder, BuildFailure, BuildResult, InfrastructureFailure
from flows.builders.child import job_log_name
from flows.run.lanes import is_gpu_test, tested_job
from flows.run.outcomes import COMPLETED, FAILED, RUNNING, SKIPPED, JobOutcome, Ledger, announce, skip_message
from flows.run.retry import should_retry
from planner.plan.model import PlanNode


class JobRun:
    """Everything a job task shares with its lane (deliberately not a dataclass: Prefect walks
    dataclass parameters looking for futures, and this holds a builder and a lock)."""

    def __init__(
        self,
        *,
        builder: Builder,
        root: Path,
        channel: Path,
        ledger: Ledger,
        jobs: dict[str, PlanNode],
        upstream: dict[str, tuple[str, ...]],
        retries: int,
        retry_on: str,
        builder_options: dict[str, Any],
        tags: dict[str, tuple[str, ...]] | None = None,
        logs_dir: Path | None = None,
    ) -> None:
        self.builder = builder
        self.root = root
        self.channel = channel
        self.ledger = ledger
        self.jobs = jobs
        self.upstream = upstream
        self.retries = retries
        self.retry_on = retry_on
        self.builder_options = builder_options
        self.tags = tags or {}
        self.logs_dir = logs_dir  # each job's build log goes to <logs_dir>/<job>.log (next to the report)


def _test(job_id: str, run: JobRun, ctx: BuildContext) -> BuildResult:
    """A GPU test job: run the tests of the packages its build job published."""
    test = getattr(run.builder, "test", None)
    if test is None:
        raise InfrastructureFailure(f"builder {run.builder.name!r} cannot run tests on their own")
    built = run.ledger.get(tested_job(job_id))
    return test(run.jobs[job_id], ctx, built.packages if built else ())


def tag_task_run(task_run: Any, tags: tuple[str, ...]) -> None:
    """Give the running task run its tags.

    The task run was created untagged, so Prefect asked no tag-concurrency limit for it; the engine
    serialises this same object into the event of every later state, and the server's task-run
    recorder writes the task run's fields, tags included, from the newest state's event. So the final
    state lands with the tags: searchable by tag like tags given at creation, without an API call.
    """
    task_run.tags = sorted({*task_run.tags, *tags})


JOB_TASK_NAME = "stackplan-job"
#: Set to 1 to keep Prefect's "Finished in state Completed()" line for every job (see QuietCompletions).
KEEP_COMPLETIONS_ENV = "STACKPLAN_LOG_JOB_COMPLETIONS"


class QuietCompletions(logging.Filter):
    """Drops Prefect's INFO line "Finished in state Completed()" of a job task run.

    It says only what the run's state already says (and the UI shows), yet each is a log record the
    client queues, batches and sends and the server inserts: at thousands of jobs a second stream of
    work beside the state events themselves, for nothing. Only that exact line of ``stackplan-job``
    runs goes: a job's own output, a "Skipped(...)" finish with its reason, failures and crashes
    (logged at ERROR) and every other task's lines stay.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.INFO
            and record.msg == "Finished in state Completed()"
            and getattr(record, "task_name", None) == JOB_TASK_NAME
        )


_QUIET = QuietCompletions()


def quiet_completions() -> None:
    """Install :class:`QuietCompletions` on Prefect's task-run logger (once; not when
    ``STACKPLAN_LOG_JOB_COMPLETIONS=1``)."""
    task_logger = logging.getLogger("prefect.task_runs")
    if os.environ.get(KEEP_COMPLETIONS_ENV) == "1":
        task_logger.removeFilter(_QUIET)
    elif _QUIET not in task_logger.filters:
        task_logger.addFilter(_QUIET)


@dataclass(frozen=True)
class _Attempt:
    number: int
    started: float = field(default_factory=time.monotonic)


@task(name=JOB_TASK_NAME, task_run_name="{job_id}", cache_policy=NO_CACHE, persist_result=False)
def run_job(job_id: str, run: JobRun) -> Any:
    """Build one job (see module docstring); returns the built package paths.

    Parameters are the job id and the opaque :class:`JobRun`, so Prefect has nothing to walk or hash.
    """
    job = run.jobs[job_id]
    ctx = TaskRunContext.get()
    if ctx and ctx.task_run and job_id in run.tags:
        tag_task_run(ctx.task_run, run.tags[job_id])
    attempt = _Attempt(ctx.task_run.run_count if ctx and ctx.task_run else 1)
    cause = run.ledger.failed_cause(run.upstream.get(job_id, ()))
    if cause is not None:
        message = skip_message(cause)
        run.ledger.record(JobOutcome(job_id, job.platform, job.recipe, SKIPPED, message, cause=cause))
        return Completed(name=SKIPPED, message=message)
    logger = get_run_logger()
    announce(job_id, RUNNING)
    build_ctx = BuildContext(
        root=run.root,
        channel=run.channel,
        log=logger.info,
        attempt=attempt.number,
        options=run.builder_options,
        log_file=run.logs_dir / job_log_name(job_id) if run.logs_dir else None,
    )
    isolation = run.builder.isolation_for(job) if hasattr(run.builder, "isolation_for") else "process"
    try:
        testing = is_gpu_test(job_id)
        result = _test(job_id, run, build_ctx) if testing else run.builder.build(job, build_ctx)
    except Exception as exc:
        # a recipe's own failure is retried only when retry_on allows it; a crash outside the builder's
        # own error handling (a bug) only while retries are left and retries are on at all
        if isinstance(exc, BuildFailure):
            final = not should_retry(exc, run.retry_on) or attempt.number > run.retries
        else:
            final = attempt.number > run.retries or run.retry_on == "none"
        if final:
            run.ledger.record(
                JobOutcome(
                    job_id,
                    job.platform,
                    job.recipe,
                    FAILED,
                    f"{type(exc).__name__}: {exc}",
                    duration=time.monotonic() - attempt.started,
                    attempts=attempt.number,
                    isolation=isolation,
                )
            )
        raise
    run.ledger.record(
        JobOutcome(
            job_id,
            job.platform,
            job.recipe,
            COMPLETED,
            result.detail,
            duration=time.monotonic() - attempt.started,
            attempts=attempt.number,
            packages=result.packages,
            isolation=isolation,
        )
    )
    return list(result.packages)

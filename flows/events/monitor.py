"""The stuck-build monitor: flow "stackplan-monitor", meant to run on a schedule.

A build that hangs (a worker died mid-job, a work pool with no worker, a queue that never drains)
does not fail: it just stays Running, Pending or Late. The monitor asks Prefect for the runs tagged
``stackplan`` that have been

- **Running** longer than ``running_minutes`` (time since they entered Running), or
- **Late** (scheduled time passed, not started) or **Pending** longer than ``waiting_minutes``,

and posts ONE Slack incoming-webhook message listing them with links to the Prefect UI.

A stuck run is reported **once per flow run**. The monitor remembers what it reported — flow run id
-> the kind of stuck state it was reported in (Running / Late / Pending), for the message's sake — in a
JSON file under the state dir, and stays quiet about that run for as long as the run is unfinished:
when Prefect re-marks it (a Late run gets a new state id each time), and when it moves on and gets
stuck again (Pending, then Running for hours). A run leaves the memory once it has finished (no
longer Running, Pending or Scheduled), which keeps the file as small as the set of live runs. The
memory is only written after Slack accepted the message: a failed post is retried on the next check.
A check holds an exclusive lock on ``<memory>.lock`` from reading the memory to writing it, so two
overlapping checks (a slow one and the next scheduled one) cannot both post a run.
``SLACK_WEBHOOK_URL`` is a secret (it is the credential): it is never logged; without it the message
is only logged.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prefect import flow

from planner.plan.tags import BASE_TAG, PLAN, PLATFORM, PR
from planner.state import state_home

__all__ = [
    "MONITOR_FLOW",
    "SLACK_ENV",
    "MonitorResult",
    "StuckRun",
    "check",
    "find_stuck_runs",
    "monitor_flow",
    "select_new",
    "slack_message",
]

MONITOR_FLOW = "stackplan-monitor"
SLACK_ENV = "SLACK_WEBHOOK_URL"
log = logging.getLogger("stackplan.monitor")


@dataclass(frozen=True)
class StuckRun:
    id: str
    name: str
    state: str  # "Running" | "Late" | "Pending" (or another Scheduled name)
    state_id: str
    since: datetime  # when it entered that state (Late: its scheduled start)
    url: str | None
    tags: tuple[str, ...] = ()

    def age(self, now: datetime) -> timedelta:
        return now - self.since


@dataclass(frozen=True)
class MonitorResult:
    stuck: tuple[StuckRun, ...]  # everything stuck now
    reported: tuple[StuckRun, ...]  # the new ones this check posted
    posted: bool  # Slack accepted the message
    message: str = ""


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def find_stuck_runs(
    *,
    tag: str = BASE_TAG,
    running: timedelta = timedelta(hours=2),
    waiting: timedelta = timedelta(minutes=30),
    now: datetime | None = None,
    limit: int = 1000,
) -> list[StuckRun]:
    """Runs tagged ``tag`` stuck in Running / Late / Pending beyond their threshold, oldest first."""
    return _stuck(await _unfinished_runs(tag, limit), running, waiting, now)


async def _unfinished_runs(tag: str, limit: int) -> list[Any]:
    """Prefect's flow runs tagged ``tag`` in a Running, Pending or Scheduled state, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    from flows.events.history import paged

    run_filter = FlowRunFilter(
        tags=FlowRunFilterTags(all_=[tag]),
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED])
        ),
    )
    async with get_client() as client:
        return [
            run
            async for run in paged(
                client.read_flow_runs, limit, flow_run_filter=run_filter, sort=FlowRunSort.ID_DESC
            )
        ]


def _stuck(
    runs: Iterable[Any], running: timedelta, waiting: timedelta, now: datetime | None
) -> list[StuckRun]:
    """The ``runs`` stuck beyond their threshold at ``now``, oldest first."""
    from prefect.client.schemas.objects import StateType

    from flows.events.statuses import run_url

    now = _aware(now or datetime.now(UTC))
    stuck: list[StuckRun] = []
    for run in runs:
        state = run.state
        if state is None:
            continue
        entered = _aware(state.timestamp)
        if state.type == StateType.RUNNING:
            since, limit_for = _aware(run.start_time or entered), running
        elif state.type == StateType.PENDING:
            since, limit_for = entered, waiting
        else:  # Scheduled: stuck once its scheduled start is `waiting` in the past (Prefect names it "Late")
            scheduled = (state.state_details.scheduled_time if state.state_details else None) or (
                run.expected_start_time
            )
            if scheduled is None:
                continue
            since, limit_for = _aware(scheduled), waiting
        if now - since <= limit_for:
            continue
        name = state.name if state.type != StateType.SCHEDULED else "Late"
        stuck.append(
            StuckRun(
                str(run.id), run.name, name, str(state.id), since, run_url(run.id), tuple(sorted(run.tags))
            )
        )
    return sorted(stuck, key=lambda r: (r.since, r.id))


def select_new(stuck: Iterable[StuckRun], memory: Mapping[str, str]) -> list[StuckRun]:
    """The runs not reported yet (memory: run id -> the state kind it was reported in): once per flow
    run, whatever its state id or kind of state now."""
    return [run for run in stuck if run.id not in memory]


@asynccontextmanager
async def _exclusive(memory_path: Path, timeout: float = 600.0) -> AsyncIterator[None]:
    """An exclusive lock on ``<memory>.lock`` (an advisory ``flock``: across processes and within
    one), polled without blocking the event loop."""
    lock_path = memory_path.with_name(memory_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with open(lock_path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another monitor check holds {lock_path}") from None
                await asyncio.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _age_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def slack_message(runs: list[StuckRun], now: datetime) -> dict[str, Any]:
    """One Slack message (mrkdwn text) listing ``runs`` with links."""
    lines = [f":warning: *stackplan: {len(runs)} stuck build run(s)*"]
    for run in runs:
        link = f"<{run.url}|{run.name}>" if run.url else run.name
        extra = [t for t in run.tags if t.startswith((PLATFORM, PR, PLAN))]
        lines.append(
            f"• {link} — {run.state} for {_age_text(run.age(now))}"
            + (f" ({', '.join(extra)})" if extra else "")
        )
    return {"text": "\n".join(lines)}


def _load_memory(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_memory(path: Path, memory: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(memory.items())), indent=1) + "\n")
    tmp.replace(path)


def default_memory_path() -> Path:
    return state_home() / "monitor-reported.json"


async def check(
    *,
    tag: str = BASE_TAG,
    running: timedelta = timedelta(hours=2),
    waiting: timedelta = timedelta(minutes=30),
    memory_path: Path | None = None,
    slack_url: str | None = None,
    now: datetime | None = None,
) -> MonitorResult:
    """One check: find stuck runs, post the new ones to Slack, remember them."""
    now = _aware(now or datetime.now(UTC))
    memory_path = memory_path or default_memory_path()
    async with _exclusive(memory_path):
        return await _check(tag, running, waiting, memory_path, slack_url, now)


async def _check(
    tag: str, running: timedelta, waiting: timedelta, memory_path: Path, slack_url: str | None, now: datetime
) -> MonitorResult:
    unfinished = await _unfinished_runs(tag, 1000)
    stuck = _stuck(unfinished, running, waiting, now)
    memory = _load_memory(memory_path)
    new = select_new(stuck, memory)
    live = {str(run.id) for run in unfinished}
    current = {run_id: kind for run_id, kind in memory.items() if run_id in live}  # forget finished runs
    if not new:
        _save_memory(memory_path, current)
        return MonitorResult(tuple(stuck), (), False)
    from planner.redact import default_redactor

    message = default_redactor().value(slack_message(new, now))
    posted = False
    if slack_url:
        try:
            response = httpx.post(slack_url, json=message, timeout=15)
            posted = response.status_code < 300
            if not posted:
                log.warning("Slack answered HTTP %s: %s", response.status_code, response.text[:200])
        except httpx.HTTPError as exc:
            log.warning("could not reach Slack: %s", type(exc).__name__)
    else:
        log.warning("%s not set; stuck runs:\n%s", SLACK_ENV, message["text"])
    if posted or not slack_url:
        current.update({run.id: run.state for run in new})
    _save_memory(memory_path, current)
    return MonitorResult(tuple(stuck), tuple(new), posted, message["text"])


@flow(name=MONITOR_FLOW, log_prints=False, persist_result=False)
async def monitor_flow(
    running_minutes: float = 120,
    waiting_minutes: float = 30,
    tag: str = BASE_TAG,
    memory_path: str | None = None,
) -> dict[str, Any]:
    """Check for stuck stackplan runs and post new ones to Slack ($SLACK_WEBHOOK_URL)."""
    from planner.redact import install_log_redaction

    install_log_redaction()
    result = await check(
        tag=tag,
        running=timedelta(minutes=running_minutes),
        waiting=timedelta(minutes=waiting_minutes),
        memory_path=Path(memory_path) if memory_path else None,
        slack_url=os.environ.get(SLACK_ENV) or None,
    )
    return {
        "stuck": [r.id for r in result.stuck],
        "reported": [r.id for r in result.reported],
        "posted": result.posted,
    }

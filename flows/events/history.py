"""Past builds, from Prefect's API: the rows ``stackplan history`` prints.

Build runs carry searchable tags (flows/run/tags.py, spelled by planner/plan/tags.py): every run
and job ``stackplan``, ``plan:<hash12>``, ``platform:<subdir>``, ``pr:<n>``, and each job's task run
also ``package:<name>`` and ``recipe:<rel>``. So history is one filtered query: task runs (one per
build job) whose tags include all the wanted ones, optionally in some states and after a time.
Prefect keeps the states, times and links; nothing is stored by stackplan itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from planner.plan.tags import (
    BASE_TAG,
    PACKAGE,
    PLAN,
    PLATFORM,
    PR,
    RECIPE,
    package_tag,
    plan_tag,
    platform_tag,
    pr_tag,
    tag_values,
)

__all__ = [
    "PAGE",
    "HistoryQuery",
    "HistoryRow",
    "check_states",
    "format_table",
    "paged",
    "parse_since",
    "query_history",
    "row_json",
]

#: Prefect's API returns at most 200 objects per call.
PAGE = 200


async def paged(read: Callable[..., Any], limit: int, **filters: Any) -> AsyncIterator[Any]:
    """Call a ``client.read_*`` method page by page (offset) until ``limit`` objects or the end."""
    offset = 0
    while offset < limit:
        batch = await read(**filters, limit=min(PAGE, limit - offset), offset=offset)
        for item in batch:
            yield item
        if len(batch) < min(PAGE, limit - offset):
            return
        offset += len(batch)


@dataclass(frozen=True)
class HistoryQuery:
    packages: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    pr: int | None = None
    plan: str | None = None  # plan hash or a prefix of it (the tag holds 12 chars)
    states: tuple[str, ...] = ()  # state names, case-insensitive: completed, failed, running...
    since: datetime | None = None
    limit: int = 50

    def tags(self) -> list[str]:
        """Tags every matching job must carry (several packages or platforms are OR-ed, see below)."""
        tags = [BASE_TAG]
        if self.pr is not None:
            tags.append(pr_tag(self.pr))
        if self.plan and len(self.plan) >= 12:  # a shorter prefix is matched on the rows
            tags.append(plan_tag(self.plan))
        if len(self.packages) == 1:
            tags.append(package_tag(self.packages[0]))
        if len(self.platforms) == 1:
            tags.append(platform_tag(self.platforms[0]))
        return tags


@dataclass(frozen=True)
class HistoryRow:
    """One build job as Prefect recorded it."""

    started: datetime | None
    state: str
    platform: str
    packages: tuple[str, ...]
    recipe: str
    pr: int | None
    plan: str
    duration: float | None  # seconds
    task_run_id: str
    flow_run_id: str | None
    url: str | None
    builder: str = ""  # the run's builder: dry-run (no build), rattler-build, conda-build
    channel: str = ""  # the channel it built into
    version: str = ""  # the stackplan version that ran it (the flow's version)
    isolation: str = ""  # how the job built: process, or container (flows/builders/container.py)

    @property
    def dry_run(self) -> bool:
        return self.builder == "dry-run"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w`` ago, or an ISO date/time (UTC when no zone is given)."""
    now = now or datetime.now(UTC)
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip()
    if text[:-1].isdigit() and text[-1:] in units:
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: use 7d, 12h, 30m, 2w or an ISO date like 2026-11-01") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: Prefect's state names, for ``--state`` given in any case ("failed", "timed-out", "AwaitingRetry").
STATE_NAMES = (
    "AwaitingConcurrencySlot",
    "AwaitingRetry",
    "Cached",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Late",
    "Paused",
    "Pending",
    "Retrying",
    "RolledBack",
    "Running",
    "Scheduled",
    "Suspended",
    "TimedOut",
)


def state_name(text: str) -> str:
    """``"timed-out"`` -> ``"TimedOut"``; an unknown name is kept as given (capitalised): the command
    line refuses it first (:func:`check_states`)."""
    key = "".join(ch for ch in text.lower() if ch.isalnum())
    for name in STATE_NAMES:
        if name.lower() == key:
            return name
    return text.strip().capitalize()


def check_states(states: Sequence[str]) -> tuple[str, ...]:
    """Prefect state names for ``--state`` values in any case, or ValueError naming the valid ones."""
    out = []
    for text in states:
        name = state_name(text)
        if name not in STATE_NAMES:
            raise ValueError(f"--state {text!r}: not a state; expected one of: {', '.join(STATE_NAMES)}")
        out.append(name)
    return tuple(out)


async def query_history(query: HistoryQuery) -> list[HistoryRow]:
    """Build jobs matching ``query``, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        TaskRunFilter,
        TaskRunFilterStartTime,
        TaskRunFilterState,
        TaskRunFilterStateName,
        TaskRunFilterTags,
    )
    from prefect.client.schemas.sorting import TaskRunSort

    from flows.events.statuses import run_url

    task_filter = TaskRunFilter(tags=TaskRunFilterTags(all_=query.tags()))
    if query.states:
        names = sorted({state_name(s) for s in query.states if s.strip()})
        task_filter.state = TaskRunFilterState(name=TaskRunFilterStateName(any_=names))
    if query.since:
        task_filter.start_time = TaskRunFilterStartTime(after_=query.since)
    rows: list[HistoryRow] = []
    wanted_packages = set(query.packages)
    wanted_platforms = set(query.platforms)
    async with get_client() as client:
        async for run in paged(
            client.read_task_runs,
            100_000,
            task_run_filter=task_filter,
            sort=TaskRunSort.EXPECTED_START_TIME_DESC,
        ):
            tags = list(run.tags or ())
            if not tag_values(tags, RECIPE):
                continue  # not a build job (e.g. the task that runs a platform's subflow)
            packages = tuple(sorted(tag_values(tags, PACKAGE)))
            platform = (tag_values(tags, PLATFORM) or [""])[0]
            if wanted_packages and not wanted_packages & set(packages):
                continue
            if wanted_platforms and platform not in wanted_platforms:
                continue
            plan_of = (tag_values(tags, PLAN) or [""])[0]
            if query.plan and not plan_of.startswith(query.plan[:12]):
                continue
            pr = tag_values(tags, PR)
            rows.append(
                HistoryRow(
                    started=run.start_time or run.expected_start_time,
                    state=run.state.name if run.state else "Unknown",
                    platform=platform,
                    packages=packages,
                    recipe=(tag_values(tags, RECIPE) or [""])[0],
                    pr=int(pr[0]) if pr and pr[0].isdigit() else None,
                    plan=(tag_values(tags, PLAN) or [""])[0],
                    duration=run.total_run_time.total_seconds() if run.total_run_time else None,
                    task_run_id=str(run.id),
                    flow_run_id=str(run.flow_run_id) if run.flow_run_id else None,
                    url=run_url(run.flow_run_id) if run.flow_run_id else None,
                )
            )
            if len(rows) >= query.limit:
                break
        runs = await _flow_runs(client, sorted({r.flow_run_id for r in rows if r.flow_run_id}))
    return [_with_run(row, runs.get(row.flow_run_id or "")) for row in rows]


async def _flow_runs(client: Any, ids: list[str]) -> dict[str, Any]:
    """The flow runs (platform subflows) of the rows, by id: their parameters say builder, isolation and
    channel."""
    from uuid import UUID

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    found: dict[str, Any] = {}
    for start in range(0, len(ids), PAGE):
        chunk = [UUID(i) for i in ids[start : start + PAGE]]
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)),
            sort=FlowRunSort.ID_DESC,
            limit=len(chunk),
        )
        found.update({str(r.id): r for r in runs})
    return found


def _with_run(row: HistoryRow, run: Any) -> HistoryRow:
    """The row with what its platform subflow's parameters say: builder, channel, and the isolation the
    job had (the rule is :func:`flows.builders.container.isolation_of`)."""
    if run is None:
        return row
    params = dict(getattr(run, "parameters", None) or {})
    from dataclasses import replace

    from flows.builders.container import isolation_of

    isolation = isolation_of(params, row.platform)
    return replace(
        row,
        builder=str(params.get("builder") or ""),
        channel=str(params.get("channel") or ""),
        version=str(getattr(run, "flow_version", "") or ""),
        isolation=isolation if params.get("builder") else "",
    )


def learned_durations(rows: Sequence[HistoryRow], last: int = 5) -> dict[str, float]:
    """Seconds per ``recipe@platform`` (and per recipe, over its platforms): the median of the ``last``
    newest completed real builds (dry runs only waited, so they are left out). ``rows`` newest first,
    as :func:`query_history` returns them. The result is what ``--durations`` reads."""
    import statistics

    per_job: dict[str, list[float]] = {}
    for r in rows:
        if r.state != "Completed" or r.dry_run or r.duration is None or not r.recipe:
            continue
        times = per_job.setdefault(f"{r.recipe}@{r.platform}", [])
        if len(times) < last:
            times.append(r.duration)
    out: dict[str, float] = {}
    per_recipe: dict[str, list[float]] = {}
    for key, times in per_job.items():
        out[key] = round(float(statistics.median(times)), 1)
        per_recipe.setdefault(key.rsplit("@", 1)[0], []).append(out[key])
    for recipe, medians in per_recipe.items():
        out[recipe] = round(float(statistics.median(medians)), 1)
    return dict(sorted(out.items()))


#: Planning asks a Prefect API for learned durations only when it is on this machine, and spends at
#: most this many seconds on it (every request together); past it, the cache is used.
PLANNING_DEADLINE = 2.0
#: The newest completed build jobs planning reads (pages of :data:`PAGE`): enough for the last 5 builds
#: of a few hundred recipe@platform pairs, and a bounded query.
PLANNING_ROWS = 1000


def is_loopback(api_url: str) -> bool:
    """Whether ``api_url`` is on this machine (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(api_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _seconds(value: Any) -> float | None:
    """A Prefect duration in JSON: seconds as a number, or ISO 8601 (``PT1M2.5S``)."""
    import re

    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", str(value or ""))
    if not match or not any(match.groups()):
        return None
    d, h, m, sec = (float(g or 0) for g in match.groups())
    return d * 86400 + h * 3600 + m * 60 + sec


def api_rows(
    api_url: str, *, deadline: float = PLANNING_DEADLINE, limit: int = PLANNING_ROWS
) -> list[HistoryRow]:
    """The newest completed build jobs, read from Prefect's REST API with the standard library: no
    Prefect import (about a second), so a planning command stays fast. Builder and channel come from
    the jobs' flow runs, as in :func:`query_history`. ``OSError`` / ``ValueError`` when the API cannot be
    read in ``deadline`` seconds (all requests together)."""
    import json
    import time
    import urllib.request

    end = time.monotonic() + deadline
    base = api_url.rstrip("/")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy

    def post(path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{base}: no answer in {deadline:g} s")
        req = urllib.request.Request(
            base + path, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
        )
        with opener.open(req, timeout=left) as resp:
            data = json.loads(resp.read())
        if not isinstance(data, list):
            raise ValueError(f"{base}{path}: not a list of runs")
        return data

    runs: list[dict[str, Any]] = []
    while len(runs) < limit:
        want = min(PAGE, limit - len(runs))
        page = post(
            "/task_runs/filter",
            {
                "task_runs": {"tags": {"all_": [BASE_TAG]}, "state": {"type": {"any_": ["COMPLETED"]}}},
                "sort": "EXPECTED_START_TIME_DESC",
                "limit": want,
                "offset": len(runs),
            },
        )
        runs.extend(page)
        if len(page) < want:
            break
    ids = sorted({str(r["flow_run_id"]) for r in runs if r.get("flow_run_id")})
    flow_runs: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), PAGE):
        chunk = ids[start : start + PAGE]
        found = post("/flow_runs/filter", {"flow_runs": {"id": {"any_": chunk}}, "limit": len(chunk)})
        flow_runs.update({str(f.get("id")): f for f in found})
    rows = []
    for r in runs:
        tags = list(r.get("tags") or ())
        if not tag_values(tags, RECIPE):
            continue
        params = dict((flow_runs.get(str(r.get("flow_run_id"))) or {}).get("parameters") or {})
        rows.append(
            HistoryRow(
                started=None,
                state=str((r.get("state") or {}).get("name") or r.get("state_name") or ""),
                platform=(tag_values(tags, PLATFORM) or [""])[0],
                packages=tuple(sorted(tag_values(tags, PACKAGE))),
                recipe=tag_values(tags, RECIPE)[0],
                pr=None,
                plan=(tag_values(tags, PLAN) or [""])[0],
                duration=_seconds(r.get("total_run_time")),
                task_run_id=str(r.get("id") or ""),
                flow_run_id=str(r.get("flow_run_id") or "") or None,
                url=None,
                builder=str(params.get("builder") or ""),
                channel=str(params.get("channel") or ""),
            )
        )
    return rows


def planning_durations(api_url: str | None = None, last: int = 5) -> tuple[dict[str, float] | None, str]:
    """Durations learned from history for a planning command, and where they came from (the plan
    summary says it): from the Prefect API in ``api_url`` (default ``$PREFECT_API_URL``) when it is on
    this machine and answers within :data:`PLANNING_DEADLINE` (the cache in the state directory is
    refreshed with them), else from that cache (``stackplan run`` refreshes it after real builds),
    else none. Never raises: a planning command plans without durations rather than fail."""
    import contextlib
    import os

    from planner.errors import PlanError
    from planner.inputs.lists import learned_durations_file, load_durations, write_durations

    api_url = api_url if api_url is not None else os.environ.get("PREFECT_API_URL", "")
    cache = learned_durations_file()
    why = ""
    if api_url and is_loopback(api_url):
        try:
            learned = learned_durations(api_rows(api_url), last=last)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            why = f"; Prefect API at {api_url} not read: {type(exc).__name__}: {exc}"
        else:
            if learned:
                with contextlib.suppress(OSError):  # a read-only state dir: the durations are used
                    write_durations(cache, learned)
                pairs = sum("@" in k for k in learned)
                return learned, (
                    f"Prefect history at {api_url}"
                    f" (median of the last {last} builds; {pairs} recipe@platform)"
                )
            why = f"; Prefect API at {api_url} has no completed real build yet"
    elif api_url:
        why = f"; Prefect API at {api_url} not on this machine: not asked"
    if cache.is_file():
        try:
            learned = load_durations(cache)
        except PlanError:
            return None, f"none (learned-durations cache {cache} unreadable){why}"
        return learned, f"learned from history: {cache}{why}"  # no time in it: the plan stays reproducible
    return None, (f"none (each job counts as one){why}" if why else "")


async def refresh_learned_durations(last: int = 5) -> dict[str, float]:
    """Rewrite the state directory's learned-durations cache from the Prefect API this process uses
    (``stackplan run`` calls it after real builds, with its server still up). Returns what it wrote."""
    from planner.inputs.lists import learned_durations_file, write_durations

    rows = await query_history(HistoryQuery(states=("Completed",), limit=PLANNING_ROWS))
    learned = learned_durations(rows, last=last)
    if learned:
        write_durations(learned_durations_file(), learned)
    return learned


def row_json(row: HistoryRow) -> dict[str, Any]:
    return {
        "started": row.started.isoformat() if row.started else None,
        "state": row.state,
        "platform": row.platform,
        "packages": list(row.packages),
        "recipe": row.recipe,
        "pr": row.pr,
        "plan": row.plan,
        "duration": row.duration,
        "task_run_id": row.task_run_id,
        "flow_run_id": row.flow_run_id,
        "url": row.url,
        "builder": row.builder,
        "isolation": row.isolation,
        "dry_run": row.dry_run,
        "channel": row.channel,
        "version": row.version,
    }


def format_table(rows: Sequence[HistoryRow]) -> list[list[str]]:
    """Rows as table cells (header first) for rich or plain printing."""
    table = [
        [
            "started (UTC)",
            "state",
            "platform",
            "package",
            "recipe",
            "pr",
            "plan",
            "duration",
            "builder",
            "isolation",
            "channel",
            "version",
        ]
    ]
    for r in rows:
        table.append(
            [
                r.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if r.started else "-",
                f"{r.state} (dry run)" if r.dry_run else r.state,
                r.platform or "-",
                ",".join(r.packages) or "-",
                r.recipe or "-",
                str(r.pr) if r.pr is not None else "-",
                r.plan or "-",
                f"{r.duration:.1f}s" if r.duration is not None else "-",
                r.builder or "-",
                r.isolation or "-",
                r.channel or "-",
                r.version or "-",
            ]
        )
    return table

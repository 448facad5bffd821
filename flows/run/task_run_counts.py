"""Counting task runs through the API (``POST /task_runs/count``), for the two places that wait on the
server's records: the backpressure window (flows/run/backpressure.py) and a run waiting until every job's
final state is readable (flows/run/runner.py). Counting, not reading the runs: paging through a big run's
records kept a busy server answering instead of recording what was being waited for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def count_body(flow_run_ids: Iterable[str], task_runs: Any = None) -> dict[str, Any]:
    """The request body: task runs of these flow runs, narrowed by ``task_runs`` (a ``TaskRunFilter``)."""
    from uuid import UUID

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(i) for i in flow_run_ids if i]))
    body = {"flow_runs": flow_runs.model_dump(mode="json", exclude_unset=True)}
    if task_runs is not None:
        body["task_runs"] = task_runs.model_dump(mode="json", exclude_unset=True)
    return body


def count_task_runs(client: Any, body: dict[str, Any]) -> int:
    """How many task runs match ``body``, asked through a started ``SyncPrefectClient``."""
    response = client.request("POST", "/task_runs/count", json=body)
    response.raise_for_status()
    return int(response.json())

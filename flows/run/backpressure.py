"""Backpressure: keep a platform subflow at most ``window`` jobs ahead of what the server has recorded.

Prefect 3 runs task runs on the client and the server records them afterwards from the events the
client streams (~3 per task run) through an in-memory queue of 10,000 messages per consumer: a client
that finishes jobs faster than the server records them builds a backlog that (1) overflows that queue
and loses records (seen at 10,000 tasks in one flow run) and (2) stalls the run anyway at its next
orchestrated API call (a subflow's final state, the next chunk's subflow run), which the busy server
answers only once it has worked the backlog off, so the whole backlog lands in the run's wall time at
each chunk boundary. So the subflow does not submit job ``k`` before the server has recorded
``k - window`` of its job task runs in a final state: the backlog stays bounded (``window`` jobs, far
below the queue's size) and the run goes on while the server catches up, instead of stopping dead at
a boundary. The count comes from ``POST /task_runs/count`` (cheap), asked only while the window is full.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flows.run.task_run_counts import count_body, count_task_runs

#: Jobs a subflow may run ahead of the server's records: ~3 events each, 4,500 messages at most (a
#: consumer's queue holds 10,000), and at the ~150+ task runs/s the embedded server records on two cores,
#: a backlog it works off within the 10 s the issue allows after a flow's end.
DEFAULT_WINDOW = 1500
#: Give up waiting (and go on unthrottled) when the recorded count has not moved for this long: a server
#: that does not record task runs this way (another Prefect) must not hang the run.
STALL_TIMEOUT = 60.0
POLL_INTERVAL = 0.3

FINAL_TYPES = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]

log = logging.getLogger(__name__)


class RecordedCounter:
    """Asks the API how many task runs of ``flow_run_id`` are in a final state.

    One HTTP client for all its calls, opened at the first and kept until :meth:`close`: a client per
    call cost a CSRF-token round trip and a TLS context each time, on the server the window waits for.
    """

    def __init__(self, flow_run_id: str) -> None:
        from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterState, TaskRunFilterStateType

        final = TaskRunFilterState(type=TaskRunFilterStateType(any_=FINAL_TYPES))
        self.body = count_body([flow_run_id], TaskRunFilter(state=final))
        self._client: Any = None

    def __call__(self) -> int:
        if self._client is None:
            from prefect.client.orchestration import get_client

            self._client = get_client(sync_client=True)
            self._client.__enter__()
        return count_task_runs(self._client, self.body)

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.__exit__(None, None, None)

    def __enter__(self) -> RecordedCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Window:
    """Admits job ``k`` once ``count()`` (the server's recorded jobs) reached ``k - size``."""

    def __init__(
        self,
        size: int,
        count: Callable[[], int] | None,
        *,
        poll: float = POLL_INTERVAL,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        self.size = size
        self.count = count
        self.poll = poll
        self.stall_timeout = stall_timeout
        self.recorded = 0
        self.waited = 0.0  # seconds spent waiting, for the curious (benchmarks)
        self.disabled = size <= 0 or count is None

    def admit(self, k: int) -> None:
        """Block until job number ``k`` (0-based, in submission order) may be submitted."""
        if self.disabled or k - self.size <= self.recorded:
            return
        started = last_move = time.monotonic()
        while True:
            try:
                now = self.count()  # type: ignore[misc]
            except Exception as exc:  # the API could not say: do not hold the run hostage
                log.warning("backpressure off: could not count recorded task runs: %s", exc)
                self.disabled = True
                break
            if now > self.recorded:
                self.recorded, last_move = now, time.monotonic()
            if k - self.size <= self.recorded:
                break
            if time.monotonic() - last_move > self.stall_timeout:
                log.warning("backpressure off: the server recorded nothing for %.0fs", self.stall_timeout)
                self.disabled = True
                break
            time.sleep(self.poll)
        self.waited += time.monotonic() - started

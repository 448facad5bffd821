"""Job outcomes: the final answer per job, and the ledger a running lane keeps of them.

The ledger is what makes "skipped: upstream X failed" possible without a scheduler of our own: a job's
task starts after its upstream tasks finished (Prefect's ``wait_for``), then reads their outcomes here
and either builds or records itself as skipped. Listeners (the CLI's live table) hear every change.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

COMPLETED = "Completed"
FAILED = "Failed"
SKIPPED = "Skipped"
REUSED = "Reused"  # resume: built by an earlier run, taken from the channel
RUNNING = "Running"
PENDING = "Pending"
FINAL_STATES = (COMPLETED, FAILED, SKIPPED, REUSED)
GOOD_STATES = (COMPLETED, REUSED)


@dataclass(frozen=True)
class JobOutcome:
    job: str
    platform: str
    recipe: str
    state: str
    message: str = ""
    duration: float = 0.0
    attempts: int = 0
    packages: tuple[str, ...] = ()
    cause: str = ""  # for a skipped job: the failed job at the root of it
    flow_run: str = ""
    isolation: str = ""  # how it was built: "container" or "process" (flows/builders/container.py)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "platform": self.platform,
            "recipe": self.recipe,
            "state": self.state,
            "message": self.message,
            "duration": round(self.duration, 3),
            "attempts": self.attempts,
            "packages": list(self.packages),
            "cause": self.cause,
            "flow_run": self.flow_run,
            "isolation": self.isolation,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobOutcome:
        return cls(
            job=d["job"],
            platform=d.get("platform", ""),
            recipe=d.get("recipe", ""),
            state=d["state"],
            message=d.get("message", ""),
            duration=float(d.get("duration", 0.0)),
            attempts=int(d.get("attempts", 0)),
            packages=tuple(d.get("packages") or ()),
            cause=d.get("cause", ""),
            flow_run=d.get("flow_run", ""),
            isolation=d.get("isolation", ""),
        )


class LaneResult:
    """A platform subflow's outcomes (a list of ``JobOutcome.to_dict()``), as its return value.

    Deliberately not a collection: Prefect walks a flow's return value (and a returned state's data)
    element by element looking for futures, ~0.1 ms per job outcome for nothing."""

    def __init__(self, outcomes: list[dict[str, Any]]) -> None:
        self.outcomes = outcomes


def skip_message(cause: str) -> str:
    return f"Skipped: upstream {cause} failed"


Listener = Callable[[str, str, "JobOutcome | None"], None]

#: Process-wide listeners ``(job_id, state, outcome or None)``: the CLI registers its live view here.
LISTENERS: list[Listener] = []


@dataclass
class Ledger:
    """Thread-safe outcomes of one run (a lane, seeded with the outcomes of the jobs it depends on).

    With a ``journal`` (flows/run/journal.py) every recorded outcome is also appended there as it
    happens, stamped with ``flow_run``: the run's record survives the run's process."""

    outcomes: dict[str, JobOutcome] = field(default_factory=dict)
    journal: Any = None
    flow_run: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def seed(self, outcomes: Iterable[JobOutcome]) -> None:
        with self._lock:
            for o in outcomes:
                self.outcomes[o.job] = o

    def record(self, outcome: JobOutcome) -> None:
        with self._lock:
            self.outcomes[outcome.job] = outcome
        if self.journal is not None:
            self.journal.job(replace(outcome, flow_run=outcome.flow_run or self.flow_run))
        announce(outcome.job, outcome.state, outcome)

    def get(self, job: str) -> JobOutcome | None:
        with self._lock:
            return self.outcomes.get(job)

    def failed_cause(self, upstream: Iterable[str]) -> str | None:
        """The root failed job behind the first bad upstream (sorted), or None when all are good.

        An upstream with no outcome was not part of this run (resume: already in the channel)."""
        for u in sorted(upstream):
            o = self.get(u)
            if o is not None and o.state not in GOOD_STATES:
                return o.cause or o.job
        return None

    def with_flow_run(self, flow_run: str) -> list[JobOutcome]:
        with self._lock:
            return [replace(o, flow_run=o.flow_run or flow_run) for o in self.outcomes.values()]


def announce(job: str, state: str, outcome: JobOutcome | None = None) -> None:
    for listener in list(LISTENERS):
        with contextlib.suppress(Exception):  # a broken display must never break a build
            listener(job, state, outcome)

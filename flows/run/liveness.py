"""What a run leaves behind when its process dies, and how the next start cleans it up.

Build processes run in their own process group (``start_new_session``), so one signal stops a build
and everything its script started. While a run lives, its process knows its build children and stops
them when it is told to stop (SIGTERM/SIGINT: :func:`handle_signals`). A ``kill -9`` gives it no chance,
so every process that runs flows also keeps an *owner record*, ``<home>/procs/<pid>-<start>.jsonl``
(``home``: ``$STACKPLAN_HOME`` or ``./.stackplan``, where the embedded server lives), appending one line
per flow run it starts and per build child it starts or reaps. The next ``stackplan run`` or
``stackplan server start`` calls :func:`reap`: for every record whose process is gone (same pid *and*
the same start time, so a reused pid is not mistaken for it) it stops the build children still alive
(again checked by start time: never a stranger's process) and sets the flow runs it left RUNNING or
PENDING to Crashed with a message saying which process died, then drops the record.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROCS_DIR = "procs"
#: Flow-run states left behind by a dead process that :func:`reap` sets to Crashed.
UNFINISHED = ("RUNNING", "PENDING", "SCHEDULED", "CANCELLING")


def proc_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (/proc/PID/stat field 22), None when gone.

    A pid plus its start time names one process for good: pids are reused, start times are not."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if fields[0] == "Z":  # a zombie is gone for our purposes
            return None
        return int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def home() -> Path:
    from planner.state import state_home

    return state_home()


class _Owner:
    """This process's owner record (opened lazily, removed at a clean exit)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.path: Path | None = None
        self.children: dict[int, int] = {}  # pid -> start ticks

    def append(self, record: dict[str, Any]) -> None:
        with self.lock:
            if self.path is None or self.path.parent != _procs_dir():
                d = _procs_dir()
                d.mkdir(parents=True, exist_ok=True)
                self.path = d / f"{os.getpid()}-{proc_start(os.getpid())}.jsonl"
                atexit.register(self.remove)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
            finally:
                os.close(fd)

    def remove(self) -> None:
        if self.path is not None and not self.children:
            with contextlib.suppress(OSError):
                self.path.unlink()


_OWNER = _Owner()


def _procs_dir() -> Path:
    return home() / PROCS_DIR


def own_flow_run(flow_run_id: str) -> None:
    """Record that this process runs ``flow_run_id`` (for :func:`reap` after a crash)."""
    _OWNER.append({"flow_run": flow_run_id})


def own_child(pid: int) -> None:
    """Record a build child (the leader of its own process group) this process started."""
    start = proc_start(pid)
    if start is None:
        return
    with _OWNER.lock:
        _OWNER.children[pid] = start
    _OWNER.append({"child": pid, "start": start})


def own_container(engine: str, name: str) -> None:
    """Record a container this process started (a container outlives a killed ``<engine> run``)."""
    _OWNER.append({"container": name, "engine": engine})


def container_done(name: str) -> None:
    _OWNER.append({"container_done": name})


def child_done(pid: int) -> None:
    with _OWNER.lock:
        _OWNER.children.pop(pid, None)
    _OWNER.append({"child_done": pid})


def kill_group(pid: int, start: int | None, grace: float = 3.0) -> bool:
    """SIGTERM the process group led by ``pid`` (if ``pid`` is still the process started at ``start``),
    then SIGKILL what is left after ``grace`` seconds. True when something was signalled."""
    if start is not None and proc_start(pid) != start:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and proc_start(pid) == start:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return True


def kill_children() -> int:
    """Stop every build child this process started (and their process groups); how many."""
    with _OWNER.lock:
        children = dict(_OWNER.children)
    threads = [threading.Thread(target=kill_group, args=(p, s)) for p, s in children.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(children)


@contextlib.contextmanager
def builds_die_with_run() -> Iterator[None]:
    """Stop this process's builds when the run is being torn down: a signal turned into an exception
    (Prefect's ``TerminationSignal`` for SIGTERM while a flow runs, ``KeyboardInterrupt`` for SIGINT)
    reaches the thread waiting for the jobs, whose threads in turn wait for their build processes:
    without this the run would wait for every build to finish before it could end."""
    try:
        yield
    except Exception:
        raise
    except BaseException:
        kill_children()
        raise


def handle_signals() -> None:
    """On SIGTERM or SIGINT: stop the build children, then let the run end as interrupted
    (``KeyboardInterrupt``: Prefect sets the flow runs Crashed, ``finally`` blocks run). Main thread only."""

    def on_signal(signum: int, frame: Any) -> None:
        kill_children()
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


@dataclass
class Reaped:
    """What :func:`reap` found: dead owners, children stopped, flow runs set Crashed."""

    owners: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    flow_runs: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)

    def summary(self) -> str:
        boxes = f", removed {len(self.containers)} container(s)" if self.containers else ""
        return (
            f"{len(self.owners)} dead stackplan process(es): stopped {len(self.children)} orphaned build "
            f"process group(s){boxes}, set {len(self.flow_runs)} flow run(s) Crashed"
        )


def reap(mark_crashed: Callable[[list[str], str], list[str]] | None = None) -> Reaped:
    """Clean up after the stackplan processes of this home that died without cleaning up.

    ``mark_crashed(flow_run_ids, message)`` sets the still unfinished ones of those flow runs Crashed and
    returns their ids (:func:`crash_flow_runs` does it through the Prefect API); without it the owner
    records of dead processes that name flow runs are kept for a later call that has an API."""
    found = Reaped()
    d = _procs_dir()
    if not d.is_dir():
        return found
    me = f"{os.getpid()}-{proc_start(os.getpid())}"
    for path in sorted(d.glob("*.jsonl")):
        if path.stem == me:
            continue
        try:
            pid_s, start_s = path.stem.split("-", 1)
            pid, start = int(pid_s), int(start_s)
        except ValueError:
            continue
        if proc_start(pid) == start:
            continue  # the owner lives
        children, flow_runs, boxes = _read_owner(path)
        for child, child_start in children.items():
            if kill_group(child, child_start):
                found.children.append(child)
        for name, engine in boxes.items():
            proc = subprocess.run([engine, "rm", "-f", "-t", "2", name], capture_output=True, text=True)
            if proc.returncode == 0 and proc.stdout.strip():
                found.containers.append(name)
        if flow_runs:
            if mark_crashed is None:
                continue
            message = (
                f"The stackplan process that ran this flow (pid {pid}) died without finishing it "
                "(killed or crashed); found and marked at the next start."
            )
            found.flow_runs.extend(mark_crashed(flow_runs, message))
        found.owners.append(pid)
        with contextlib.suppress(OSError):
            path.unlink()
    return found


def _read_owner(path: Path) -> tuple[dict[int, int], list[str], dict[str, str]]:
    children: dict[int, int] = {}
    flow_runs: list[str] = []
    boxes: dict[str, str] = {}  # container name -> engine
    with contextlib.suppress(OSError):
        for raw in path.read_text().splitlines():
            try:
                rec = json.loads(raw)
            except ValueError:
                continue  # a torn last line
            if "child" in rec:
                children[int(rec["child"])] = int(rec["start"])
            elif "child_done" in rec:
                children.pop(int(rec["child_done"]), None)
            elif "flow_run" in rec:
                flow_runs.append(str(rec["flow_run"]))
            elif "container" in rec:
                boxes[str(rec["container"])] = str(rec["engine"])
            elif "container_done" in rec:
                boxes.pop(str(rec["container_done"]), None)
    return children, flow_runs, boxes


def crash_flow_runs(flow_run_ids: Iterable[str], message: str) -> list[str]:
    """Set those of ``flow_run_ids`` still in an unfinished state (and their unfinished task runs)
    Crashed through the current Prefect API; returns the flow run ids changed."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort
    from prefect.states import Crashed

    ids = [UUID(i) for i in dict.fromkeys(flow_run_ids)]
    changed: list[str] = []
    page = 200  # the API's default page size
    with get_client(sync_client=True) as client:
        for k in range(0, len(ids), page):
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids[k : k + page])),
                sort=FlowRunSort.ID_DESC,
                limit=page,
            )
            for run in runs:
                if run.state is None or run.state.type.value not in UNFINISHED:
                    continue
                offset = 0
                while True:
                    tasks = client.read_task_runs(
                        task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[run.id])),
                        sort=TaskRunSort.ID_DESC,
                        limit=page,
                        offset=offset,
                    )
                    for t in tasks:
                        if t.state is not None and t.state.type.value in UNFINISHED:
                            client.set_task_run_state(t.id, Crashed(message=message), force=True)
                    if len(tasks) < page:
                        break
                    offset += page
                client.set_flow_run_state(run.id, Crashed(message=message), force=True)
                changed.append(str(run.id))
    return changed

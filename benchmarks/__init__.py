"""Benchmarks: speed, memory and fidelity figures, measured on real and generated recipe trees.

``python -m benchmarks`` lists them, ``python -m benchmarks NAME [args]`` runs one (see ``__main__``).
This module holds the measuring tools every benchmark shares: the peak memory of a process *tree*
(workers and subprocesses included), medians, a description of the machine and its load, and a way to
update one section of a docs file without touching the rest of it.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import resource
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def _find_corpus() -> Path:
    """``$STACKPLAN_CORPUS``, else ``shared/corpus`` beside the checkout or one of its parents."""
    if os.environ.get("STACKPLAN_CORPUS"):
        return Path(os.environ["STACKPLAN_CORPUS"])
    for parent in PROJECT.parents:
        if (parent / "shared" / "corpus").is_dir():
            return parent / "shared" / "corpus"
    return PROJECT.parent / "shared" / "corpus"


CORPUS = _find_corpus()
GIB = 1024**3
MIB = 1024**2


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return out


def tree_rss(pid: int | None = None) -> int:
    """The resident memory of ``pid`` (default: this process) plus all its descendants, in bytes."""
    total, stack = 0, [pid or os.getpid()]
    while stack:
        p = stack.pop()
        total += _rss_bytes(p)
        stack.extend(_children(p))
    return total


def cpu_ticks(pid: int) -> int:
    """CPU time (user + system) ``pid`` used so far, in clock ticks (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    except (OSError, ValueError, IndexError):
        return 0


def process_tree(pid: int | None = None) -> list[int]:
    """``pid`` (default: this process) and all its descendants."""
    out, stack = [], [pid or os.getpid()]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(_children(p))
    return out


class PeakRss:
    """Samples this process tree every ``interval`` s while active: peak RSS and CPU seconds used.

    ``ru_maxrss`` alone cannot answer "how much memory did the run need": it is per process, and for
    children only the largest one (and forkserver workers are not our children at all). Summing the
    tree's RSS at each sample counts the workers together (shared pages are counted once per process,
    so this errs on the high side). ``cpu_seconds`` is the CPU time the tree spent while sampled: on a
    machine shared with other work the wall time says little, the CPU time says what the run costs
    (a worker's last < ``interval`` s may be missed).
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._start: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        total = 0
        for pid in process_tree():
            total += _rss_bytes(pid)
            ticks = cpu_ticks(pid)
            self._last[pid] = max(self._last.get(pid, 0), ticks)
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    @property
    def cpu_seconds(self) -> float:
        ticks = sum(t - self._start.get(pid, 0) for pid, t in self._last.items())
        return ticks / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> PeakRss:
        self._start = {pid: cpu_ticks(pid) for pid in process_tree()}
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def maxrss_self_children() -> tuple[int, int]:
    """``ru_maxrss`` of this process and of its largest waited-for child, in bytes (Linux reports KiB)."""
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0


def machine() -> dict[str, str]:
    """What a figure means depends on where it was measured: CPU, cores, memory, load, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) * 1024
    except (OSError, AttributeError):
        mem = 0
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem / GIB:.1f} GiB",
        "python": platform.python_version(),
        "load": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)",
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"{m['date']}; {m['cpu']}, {m['cores']} cores, {m['memory']}; Python {m['python']}; "
        f"load average at the end {m['load']}"
    )


def write_section(doc: Path, name: str, markdown: str) -> None:
    """Replace the section between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in ``doc``.

    Several benchmarks write into one docs file; each owns its marked section and the prose around the
    sections is left alone. A missing section is appended.
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    text = doc.read_text() if doc.exists() else ""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + ("\n\n" if text else "") + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def fmt_bytes(n: float) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"

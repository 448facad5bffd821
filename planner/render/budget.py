"""The render budget: how much time, memory and input one recipe may cost before it is an error.

A pull request's recipe is untrusted: a meta.yaml with two nested loops over a long string renders
for hours, a 50 MB recipe takes 800 MB, a matrix of variant keys can give millions of variants. The
budget bounds each recipe; exceeding it is a located error *for that recipe*
(``render budget exceeded: 10 s``), never cached (it depends on the budget, not on the recipe), and
every other recipe still renders.

How each limit is enforced (``planner.render.pool`` applies them):

* **file size** and **variant count**: checked before / after the render, in any process;
* **wall time**: a ``SIGALRM`` timer around each recipe raises :class:`BudgetExceeded` in the
  renderer (Jinja loops, YAML, our own code); in a worker process a CPU-time ``RLIMIT_CPU`` soft
  limit of twice that (plus a few seconds) also kills the worker if native code
  (py-rattler-build) never returns, and the pool replaces the worker and reports the recipe;
* **memory**: ``RLIMIT_AS`` in each worker process (its size at start plus the budget), so an
  allocation past it fails (``MemoryError``) or kills the worker, never the caller.

Time and memory limits need worker processes; ``isolate`` makes every render run in one (the server
sets it: it must stay responsive and its own environment must never be swapped, see
``planner.render.environ``). The CLI renders small sets in its own process, where only the timer
applies (on the main thread).

Defaults: :data:`SERVE_BUDGET` is strict (``stackplan serve`` renders strangers' recipes),
:data:`CLI_BUDGET` generous; both are configurable (``render_budget:`` in stackplan.yaml, command
line flags, docs/config.md).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from planner.model import PlatformRender, RecipeError, RecipeSource

__all__ = [
    "BUDGET_ERROR",
    "CLI_BUDGET",
    "SERVE_BUDGET",
    "BudgetExceeded",
    "RenderBudget",
    "check_sizes",
    "check_variants",
    "limit_worker_memory",
    "wall_clock",
]

#: Every budget error message starts with this (the cache and the pool recognise them by it).
BUDGET_ERROR = "render budget exceeded"


@dataclass(frozen=True)
class RenderBudget:
    """Per-recipe limits; ``None`` is no limit."""

    seconds: float | None = None  # wall time of one recipe (all its platforms)
    memory_mb: int | None = None  # address space a worker may add to its size at start
    max_file_bytes: int | None = None  # the recipe file and each recipe-local variant config
    max_variants: int | None = None  # rendered jobs of one recipe on one platform
    isolate: bool = False  # render every recipe in a worker process, never in the caller

    def with_overrides(self, **values: float | int | bool | None) -> RenderBudget:
        """This budget with the given fields replaced (``None`` values leave a field as it is)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


#: ``stackplan serve``: strangers' recipes. A real recipe renders in milliseconds, the largest
#: bioconda/anaconda recipe files are tens of kB and their variants per platform in the tens.
SERVE_BUDGET = RenderBudget(
    seconds=10.0, memory_mb=1024, max_file_bytes=1024 * 1024, max_variants=1000, isolate=True
)
#: The command line: your own recipes; generous, and only what can be enforced cheaply.
CLI_BUDGET = RenderBudget(seconds=600.0, max_file_bytes=64 * 1024 * 1024, max_variants=100_000)


class BudgetExceeded(BaseException):
    """Raised into a render that ran out of time. A BaseException so that the renderers' own
    ``except Exception`` (which turn failures into values) let it through to the pool."""


def _error(source: RecipeSource, what: str, path: Path | None = None) -> RecipeError:
    return RecipeError(path or source.recipe_file, None, f"{BUDGET_ERROR}: {what}")


def check_sizes(source: RecipeSource, budget: RenderBudget) -> RecipeError | None:
    """A located error when the recipe file (or a recipe-local config) is larger than allowed."""
    if budget.max_file_bytes is None:
        return None
    for path in (source.recipe_file, *source.local_configs):
        try:
            size = os.stat(path).st_size
        except OSError:
            continue  # the renderer reports an unreadable file itself
        if size > budget.max_file_bytes:
            return _error(source, f"file is {size} bytes (limit {budget.max_file_bytes})", Path(path))
    return None


def check_variants(
    source: RecipeSource, renders: Sequence[PlatformRender], budget: RenderBudget
) -> list[PlatformRender]:
    """``renders`` with each platform that rendered more jobs than allowed replaced by an error."""
    limit = budget.max_variants
    if limit is None:
        return list(renders)
    out = []
    for r in renders:
        if r.error is None and len(r.variants) > limit:
            error = _error(source, f"{len(r.variants)} variants (limit {limit})")
            r = PlatformRender(r.recipe, r.platform, error=error)
        out.append(r)
    return out


def timeout_error(source: RecipeSource, budget: RenderBudget) -> RecipeError:
    return _error(source, f"{budget.seconds:g} s")


def killed_error(source: RecipeSource, budget: RenderBudget) -> RecipeError:
    """The recipe whose render killed its worker while a budget applied."""
    limits = []
    if budget.seconds is not None:
        limits.append(f"{budget.seconds:g} s")
    if budget.memory_mb is not None:
        limits.append(f"{budget.memory_mb} MB")
    return _error(source, f"the render worker was stopped ({' / '.join(limits) or 'no limit'}) or crashed")


def _on_alarm(signum: int, frame: object) -> None:
    raise BudgetExceeded("wall time")


@contextlib.contextmanager
def wall_clock(seconds: float | None, *, hard_stop: bool = False) -> Iterator[None]:
    """Raise :class:`BudgetExceeded` in the block after ``seconds`` (main thread only; elsewhere,
    and with ``None``, nothing is limited). ``hard_stop`` (worker processes only) also sets a
    CPU-time limit that kills the process if the block is stuck in native code."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGALRM, _on_alarm)
    cpu_limit = None
    if hard_stop:
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu_limit = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(used.ru_utime + used.ru_stime + 2 * seconds + 5)
        hard = cpu_limit[1]
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if cpu_limit is not None:
            resource.setrlimit(resource.RLIMIT_CPU, cpu_limit)


def _address_space() -> int:
    """This process's virtual size in bytes (VmSize), 0 when unknown."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


_LIMITED: list[int] = []


def limit_worker_memory(memory_mb: int | None) -> None:
    """Cap a worker process's address space at its size now plus ``memory_mb`` (once per process).

    Only in worker processes: the limit stays for the life of the process."""
    if memory_mb is None or _LIMITED:
        return
    size = _address_space()
    if not size:
        return
    limit = size + memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    _LIMITED.append(limit)

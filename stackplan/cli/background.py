"""Work a command hands to a background process so the user does not wait for it.

A plan stores its linked job graph for the *next* run (:mod:`planner.graph.snapshot`); pickling and
writing it is ~0.5 s of a ~1.5 s preview that nobody needs to wait for. :func:`in_background` runs a
function in a detached grandchild forked at the moment of the call (so it sees the data exactly as
it is then, whatever this process changes afterwards) and returns at once; the command prints its
answer and exits while the grandchild finishes. Its stdio points at /dev/null (a caller capturing
our output is not kept waiting for a pipe the grandchild holds), it never returns into our code
(``os._exit``), and errors in it are swallowed: the snapshot is an optimisation, a lost one costs the
next run a relink, never a wrong plan (entries are verified and written atomically).

While it works, a marker file ``.busy-<pid>`` lies in the directory given (made before the fork, so
it is there as soon as the command has returned): benchmarks and scripts that must not overlap the
next run with this one's write wait for the markers to go. ``STACKPLAN_BACKGROUND=0`` (or a system
without ``fork``) runs the work in the foreground instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["busy_markers", "in_background"]


def _enabled() -> bool:
    return hasattr(os, "fork") and os.environ.get("STACKPLAN_BACKGROUND", "1") != "0"


def busy_markers(directory: Path) -> list[Path]:
    """The markers of background work still running (or killed before it could clean up) in ``directory``."""
    try:
        return sorted(directory.glob(".busy-*"))
    except OSError:
        return []


def in_background(work: Callable[[], None], marker_dir: Path | None = None) -> None:
    """Run ``work()`` in a detached grandchild process forked now (see the module docstring)."""
    if not _enabled():
        work()
        return
    marker = None
    if marker_dir is not None:
        try:
            marker_dir.mkdir(parents=True, exist_ok=True)
            marker = marker_dir / f".busy-{os.getpid()}-{id(work):x}"
            marker.write_text("")
        except OSError:
            marker = None
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        child = os.fork()
    except OSError:  # no process to spare: do it here
        _work_then_clear(work, marker)
        return
    if child:
        os.waitpid(child, 0)  # the child exits at once; its own child is re-parented to init
        return
    # the child: detach, fork the worker and leave (if that fork fails, work here: the parent waits)
    with contextlib.suppress(BaseException):  # nothing may escape into the parent's code
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    with contextlib.suppress(BaseException):
        _work_then_clear(work, marker)
    os._exit(0)


def _work_then_clear(work: Callable[[], None], marker: Path | None) -> None:
    try:
        work()
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)

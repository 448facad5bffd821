"""Progress for the command line: a rich progress bar on a terminal, nothing otherwise.

The planner only knows the :class:`planner.progress.Reporter` protocol; this module is the one that
draws. Commands call :func:`reporter_for` and pass the result to the planner; it is quiet when
stderr is not a terminal (CI logs, pipes, tests) or the work is too small to be worth a bar.
The bar goes to stderr so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import sys
from typing import TextIO

from planner.progress import NullReporter, Reporter

#: Below this many units a bar flashes by and only adds noise.
MIN_UNITS_FOR_BAR = 20


class RichReporter:
    """A :class:`Reporter` drawing one transient rich progress bar per stage."""

    def __init__(self, stream: TextIO | None = None, min_units: int = MIN_UNITS_FOR_BAR) -> None:
        from rich.console import Console

        self._console = Console(file=stream or sys.stderr)
        self._min_units = min_units
        self._progress = None
        self._task = None

    def start(self, label: str, total: int | None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.finish()
        if total is not None and total < self._min_units:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


def reporter_for(stream: TextIO | None = None, *, quiet: bool = False) -> Reporter:
    """A :class:`RichReporter` when ``stream`` (default stderr) is a terminal, else a silent one."""
    stream = stream or sys.stderr
    if quiet or not getattr(stream, "isatty", lambda: False)():
        return NullReporter()
    return RichReporter(stream)

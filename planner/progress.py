"""The progress reporter protocol: how long work tells the outside world how far it got.

The planner never imports rich (it stays pure and quiet); the CLI passes a reporter that draws a
progress bar on a terminal and nothing otherwise. As in resolvelib's reporters, the algorithm only
calls the protocol.
"""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives progress events from a long stage (rendering, planning, running)."""

    def start(self, label: str, total: int | None) -> None:
        """A stage begins; ``total`` units of work are expected (None: unknown)."""

    def advance(self, n: int = 1) -> None:
        """``n`` more units are done."""

    def finish(self) -> None:
        """The stage ended (successfully or not)."""


class NullReporter:
    """The reporter used when nobody is watching."""

    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass

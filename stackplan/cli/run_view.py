"""The terminal view of a run: a progress bar with one line per finished job, and the summary table.

Jobs report through ``flows.run.outcomes.LISTENERS`` (the flow runs in this process); on a terminal the bar
stays at the bottom and each job's final state is printed above it as it happens, elsewhere (CI logs)
only the lines are printed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

STYLE = {"Completed": "green", "Failed": "bold red", "Skipped": "yellow", "Reused": "cyan"}
MARK = {"Completed": "ok", "Failed": "FAILED", "Skipped": "skipped", "Reused": "reused"}


class LiveView:
    def __init__(self, console: Any, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.total = total
        self.running: set[str] = set()
        self._lock = threading.Lock()
        self.progress = Progress(
            TextColumn("[bold]building"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[now]}"),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task("build", total=total, now="")

    def __enter__(self) -> LiveView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_event(self, job: str, state: str, outcome: Any) -> None:
        with self._lock:
            if state == "Running":
                self.running.add(job)
            else:
                self.running.discard(job)
                style = STYLE.get(state, "white")
                detail = ""
                if outcome is not None:
                    detail = f" ({outcome.duration:.1f}s)" if state == "Completed" else f": {outcome.message}"
                self.progress.console.print(
                    f"[{style}]{MARK.get(state, state):>8}[/] {job}{detail}", highlight=False, soft_wrap=True
                )
                self.progress.advance(self.task)
            now = ", ".join(sorted(self.running)[:2]) + (" ..." if len(self.running) > 2 else "")
            self.progress.update(self.task, now=now)


def summary_table(report: Mapping[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"stackplan run {report.get('plan_hash', '')[:12]}: {report.get('state', '?')}")
    isolation = report.get("builder") not in (None, "dry-run")  # a dry run isolates nothing
    for col in ("job", "platform", *(["isolation"] if isolation else []), "state", "duration (s)", "detail"):
        table.add_column(col, justify="right" if col.startswith("duration") else "left")
    order = {"Failed": 0, "Skipped": 1}
    for j in sorted(
        report.get("jobs", ()), key=lambda j: (order.get(j["state"], 2), j["platform"], j["job"])
    ):
        detail = j["message"] if j["state"] not in ("Completed",) else ", ".join(j["packages"])
        detail = detail if len(detail) <= 80 else detail[:77] + "..."
        table.add_row(
            j["job"],
            j["platform"],
            *([j.get("isolation") or ""] if isolation else []),
            f"[{STYLE.get(j['state'], 'white')}]{j['state']}[/]",
            f"{j['duration']:.2f}",
            detail,
        )
    return table

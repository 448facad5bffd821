"""A build in a child process: its own process group, its output streamed, kept and summarised.

Every builder that runs a tool (rattler-build's job runner, conda-build, a container engine) runs it
through :func:`run_child`, so all of them share the same behaviour:

- the child leads its own process group (``start_new_session``), recorded with the run's liveness
  record (flows/run/liveness.py): stopping the run stops the build and everything its script started,
  and after a ``kill -9`` of the run the next start finds and stops it;
- each output line reaches the job's log (Prefect) as it is printed, and the whole output goes to the
  job's log file next to the run report when the run has one;
- the result says the exit code and keeps the last lines, so a failure can say why
  (:meth:`ChildResult.why`) instead of only "Script failed to execute".
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.builders import InfrastructureFailure
from flows.run import liveness

#: How many of the last output lines a failure message carries.
TAIL_LINES = 20
#: rattler-build's and conda-build's lines that give the build script's own exit status.
_SCRIPT_STATUS = re.compile(
    r"(?:Script failed with status|returned non-zero exit status|exited with (?:status|code)) (-?\d+)"
)


@dataclass
class ChildResult:
    code: int  # the child's exit code (negative: killed by that signal)
    result: dict[str, Any] = field(default_factory=dict)  # the line after ``result_prefix``, parsed
    tail: list[str] = field(default_factory=list)  # the last TAIL_LINES output lines
    script_status: int | None = None  # the build script's own exit status, when the tool printed it
    log_file: Path | None = None

    def why(self) -> str:
        """The exit code(s) and the last lines of the log, for a failed job's state message."""
        if self.script_status is not None:  # the tool's own exit code then only says "the script failed"
            text = f"(build script exit status {self.script_status})"
        else:
            text = f"(exit code {self.code})"
        if self.tail:
            text += "; last lines of the build log:\n" + "\n".join(self.tail)
        if self.log_file is not None:
            text += f"\nfull log: {self.log_file}"
        return text


def job_log_name(job_id: str) -> str:
    """A file name for a job's log: the job id with anything but [A-Za-z0-9._@+=-] replaced."""
    return re.sub(r"[^A-Za-z0-9._@+=-]", "_", job_id)[:200] + ".log"


def run_child(
    cmd: Sequence[str],
    *,
    log: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log_file: Path | None = None,
    result_prefix: str | None = None,
) -> ChildResult:
    """Run ``cmd`` to its end (see module docstring); raises :class:`InfrastructureFailure` when it
    cannot be started."""
    out = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(log_file, "a", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    try:
        try:
            proc = subprocess.Popen(
                list(cmd),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                env=dict(env) if env is not None else None,
                cwd=str(cwd) if cwd else None,
                start_new_session=True,
            )
        except OSError as exc:
            raise InfrastructureFailure(f"cannot start {cmd[0]}: {exc}") from exc
        liveness.own_child(proc.pid)
        try:
            tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
            result: dict[str, Any] = {}
            status: int | None = None
            assert proc.stdout is not None
            for line in proc.stdout:  # streamed live: each line reaches the log as it is printed
                line = line.rstrip("\n")
                if result_prefix and line.startswith(result_prefix):
                    result = json.loads(line[len(result_prefix) :])
                    continue
                if out is not None:
                    out.write(line + "\n")
                if not line.strip():
                    continue
                log(line)
                if status is None:  # the tail ends at the script's failure: what follows is boilerplate
                    tail.append(line)
                    m = _SCRIPT_STATUS.search(line)
                    if m:
                        status = int(m.group(1))
            code = proc.wait()
        finally:
            if proc.poll() is None:
                liveness.kill_group(proc.pid, None)
                proc.wait()
            liveness.child_done(proc.pid)
    finally:
        if out is not None:
            out.close()
    return ChildResult(code, result, list(tail), status, log_file)

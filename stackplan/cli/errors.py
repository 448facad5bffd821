"""How every stackplan command fails: one message format, one exit code per kind of error.

A command never prints a traceback for bad input. It calls :func:`fail` with the kind of error; the
kind decides the exit code, so scripts (CI jobs, the webhook's runners) can tell "you asked for
something wrong" from "the build failed" from "this machine cannot do it". The table is documented
in docs/commands/conventions.md ("Exit codes"); keep the two in step.
"""

from __future__ import annotations

import enum
import sys
from typing import NoReturn

import typer


class ExitCode(enum.IntEnum):
    """The exit codes of every command (``stackplan plan``, ``run``, ``graph``, ...)."""

    OK = 0
    #: The work ran and something in it failed: a job failed or was skipped, a recipe failed to render
    #: (``render``), a bump could not be applied, ``explain`` found no such job.
    FAILED = 1
    #: The command line or an input file is wrong: unknown option value, unknown ``-k`` package, bad git
    #: range, unreadable plan JSON, a plan flag given with a plan file. Fix the command and re-run.
    USAGE = 2
    #: A dependency cycle with ``--strict-cycles``.
    CYCLE = 3
    #: This machine cannot do it: the builder is not installed, cannot build a selected recipe's format,
    #: or the Prefect server cannot be reached or started.
    ENVIRONMENT = 4


def fail(message: str, kind: ExitCode = ExitCode.USAGE) -> NoReturn:
    """Print ``error: MESSAGE`` on stderr and exit with ``kind``'s code (never returns)."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise typer.Exit(int(kind))


def warn(message: str) -> None:
    """Print ``warning: MESSAGE`` on stderr (deprecations, notes that do not stop the command)."""
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()

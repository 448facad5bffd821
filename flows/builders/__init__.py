"""Builders: what actually turns one plan job into packages in the channel.

A builder is a small object with a ``name``, ``prepare(channel, platforms)`` (once per run: make the
channel usable) and ``build(job, ctx)`` (one job; raises :class:`RecipeFailure` when the recipe's own
build fails and :class:`InfrastructureFailure` when the machine, tool or channel failed, which is what
retries are for). Adding a builder is one module plus one line in :data:`BUILDERS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from planner.errors import StackplanError
from planner.plan.model import PlanNode


class BuildFailure(Exception):
    """A job did not produce its packages."""


class RecipeFailure(BuildFailure):
    """The recipe's own build failed (script exit code, unsatisfiable requirements): retrying won't help."""


class InfrastructureFailure(BuildFailure):
    """The tool, machine or channel failed (I/O error, crash): worth a retry."""


class BuilderMissing(BuildFailure):
    """The builder's tool is not installed where the job runs: never retried (it will not appear by
    waiting). ``stackplan run`` checks this before the run (:func:`preflight`); a worker on another
    machine can still meet it."""


@dataclass(frozen=True)
class BuildContext:
    """What a builder needs besides the job: where the recipes and the channel are, and where to log."""

    root: Path  # plan root: job.recipe is relative to it
    channel: Path
    log: Callable[[str], None]
    attempt: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)
    log_file: Path | None = None  # where the job's whole build output goes (next to the run report)


@dataclass(frozen=True)
class BuildResult:
    """What a job produced: the package files (channel-relative paths)."""

    packages: tuple[str, ...] = ()
    detail: str = ""


class Builder(Protocol):
    name: str

    def prepare(self, channel: Path, platforms: tuple[str, ...]) -> None:
        """Make ``channel`` a usable channel for these target platforms (idempotent)."""

    def build(self, job: PlanNode, ctx: BuildContext) -> BuildResult:
        """Build one job into the channel or raise a :class:`BuildFailure`."""

    # Optional: ``test(job, ctx, packages) -> BuildResult`` runs the tests of built packages on their
    # own (GPU test jobs on the gpu pool). Builders without it cannot serve the gpu lane.


#: builder name -> "module:factory"; the factory takes the builder options mapping.
BUILDERS: dict[str, str] = {
    "dry-run": "flows.builders.dry_run:DryRunBuilder",
    "rattler-build": "flows.builders.rattler_builder:RattlerBuilder",
    "conda-build": "flows.builders.conda_builder:CondaBuilder",
}


class UnknownBuilderError(StackplanError, ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown builder {name!r}; expected one of: {', '.join(sorted(BUILDERS))}")


def get_builder(name: str, options: Mapping[str, Any] | None = None) -> Builder:
    """The builder called ``name``, configured with ``options`` (builder specific, JSON values)."""
    try:
        target = BUILDERS[name]
    except KeyError:
        raise UnknownBuilderError(name) from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)(dict(options or {}))

"""What a plan is made from: the request (as the user gave it) and the settings (config applied).

These types sit below every module of the plan stage that reads them (gathering inputs, rendering,
assembling), so none of those modules needs to import another to learn the shape of a request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from planner.inputs.config import DEFAULT_GPU_VARIANT_KEYS
from planner.model import RecipeSource
from planner.platforms import DEFAULT_NOARCH_BUILD_PLATFORM
from planner.render.budget import RenderBudget


@dataclass(frozen=True)
class PlanRequest:
    """Everything a plan is made from. CLI flags map one to one (``stackplan/cli/plan_options.py``).

    ``None`` means "the stackplan.yaml value, else the default". Paths are as the user gave them.
    """

    root: Path
    platforms: tuple[str, ...] | None = None
    config_path: Path | None = None  # stackplan.yaml (default ROOT/stackplan.yaml when present)
    variant_configs: tuple[Path, ...] = ()
    exclusive_configs: tuple[Path, ...] = ()
    changed: str | None = None  # "BASE..HEAD" or "BASE...HEAD" (merge base) git range
    changed_files: Path | None = None  # a file listing changed paths, one per line
    packages: tuple[str, ...] = ()
    downstream: int | None = None  # None: off; -1: unlimited
    upstream: bool = False
    exclude: tuple[str, ...] = ()
    skiplist: Path | None = None
    skip_existing: str | None = None  # channel dir or URL
    #: ``--skip-existing`` given bare (conda-build's flag): skip what the input channels already hold
    skip_existing_inputs: bool = False
    channels: tuple[str, ...] = ()  # input channels (``-c``), in order
    strict_cycles: bool = False
    durations: Path | None = None
    #: durations learned from Prefect's history (``flows.events.history.planning_durations``), used when
    #: neither ``durations`` nor stackplan.yaml names a file; ``learned_from`` says where they came from
    learned_durations: Mapping[str, float] | None = None
    learned_from: str = ""
    providers: Mapping[str, str] = field(default_factory=dict)
    noarch_platform: str | None = None
    jobs: int = 1  # render parallelism
    cache_dir: Path | None = None  # the render cache (planner.render.cache); None: no cache
    #: per-recipe render limits (``planner.render.budget``); None: the command line's, with
    #: stackplan.yaml's ``render_budget`` and :attr:`budget_flags` over them
    budget: RenderBudget | None = None
    budget_flags: Mapping[str, float] = field(default_factory=dict)

    def existing_channels(self) -> tuple[str, ...]:
        """The channels whose packages need no rebuild: none without skip-existing; with it (a channel
        named, or the bare flag) that channel and every input channel, as conda-build's
        ``--skip-existing`` looks in the channels it installs from. Duplicates dropped, order kept."""
        if not (self.skip_existing or self.skip_existing_inputs):
            return ()
        named = (self.skip_existing,) if self.skip_existing else ()
        return tuple(dict.fromkeys((*named, *self.channels)))


@dataclass(frozen=True)
class PlanSettings:
    """The resolved settings of :func:`planner.plan.build.assemble_plan` (config defaults applied)."""

    root: str
    platforms: tuple[str, ...]
    noarch_platform: str = DEFAULT_NOARCH_BUILD_PLATFORM
    build_platforms: Mapping[str, str] = field(default_factory=dict)
    providers: Mapping[str, str] = field(default_factory=dict)
    strict_cycles: bool = False
    durations: Mapping[str, float] | None = None
    gpu_variant_keys: tuple[str, ...] = DEFAULT_GPU_VARIANT_KEYS
    inputs: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


class RecipeTree(Protocol):
    """Recipes read from somewhere other than the working tree: :class:`planner.git.commit_tree.CommitTree`
    (a git commit laid out under a temporary ``dest``) is the one. The plan stage asks it for the recipe
    dirs, their content digests, and to write files out only when they must be read from disk."""

    #: The recipe dirs of the tree (their paths under ``dest``).
    sources: tuple[RecipeSource, ...]
    #: Recipe dir (absolute path under ``dest``) -> content digest, for the dirs one is known of.
    digests: Mapping[str, str]

    def materialize(self, sources: Iterable[RecipeSource]) -> None: ...

    def holds(self, path: Path) -> bool: ...

    def outside(self, path: Path) -> Path: ...


def link_settings(settings: PlanSettings) -> tuple[str, ...]:
    """What :func:`planner.plan.build.link` depends on, as strings (part of a graph snapshot's key)."""
    return (
        ",".join(settings.platforms),
        settings.noarch_platform,
        json.dumps(dict(settings.build_platforms), sort_keys=True),
        json.dumps(dict(settings.providers), sort_keys=True),
    )

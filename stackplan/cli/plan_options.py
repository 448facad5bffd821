"""Selection options shared by ``plan``, ``graph``, ``preview``, ``explain``, ``run ROOT`` and ``rebuild``.

A command declares the options it takes with the ``Annotated`` aliases below and hands them to
:func:`make_request`, which returns the :class:`planner.plan.build.PlanRequest`. Commands that accept
``--downstream[=DEPTH]`` register with ``cls=SelectionCommand`` (it rewrites ``--downstream=N`` into
the flag plus a hidden ``--downstream-depth N``, which typer cannot express on its own)::

    @app.command(cls=SelectionCommand)
    def run(root: RootArg, platform: PlatformOpt = None, downstream: DownstreamOpt = False,
            downstream_depth: DownstreamDepthOpt = None, ...):
        request = make_request(root, platform=platform, downstream=downstream,
                               downstream_depth=downstream_depth, ...)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand

from planner.plan.build import PlanRequest
from planner.plan.select import UNLIMITED
from planner.render.cache import default_cache_dir
from planner.render.pool import default_jobs

PANEL = "Selection"

RootArg = Annotated[Path, typer.Argument(help="Recipe tree: feedstocks, recipes/<name>/, or one recipe dir.")]
PlatformOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        "-p",
        help="Target platform (conda subdir); repeat for several. Default: stackplan.yaml, else all 7.",
        rich_help_panel="Rendering",
    ),
]
VariantConfigOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--variant-config",
        "-m",
        help="Variant config merged over the defaults (conda-build -m); repeat for several.",
        rich_help_panel="Rendering",
    ),
]
ExclusiveConfigOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--exclusive-config",
        "-e",
        help="Variant config that replaces the defaults (conda-build --exclusive-config-files).",
        rich_help_panel="Rendering",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="stackplan.yaml to use (default: ROOT/stackplan.yaml).", rich_help_panel="Rendering"
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Render with this many processes (default: the number of CPUs).",
        rich_help_panel="Rendering",
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Render cache directory (default: $STACKPLAN_CACHE_DIR, else ~/.cache/stackplan).",
        rich_help_panel="Rendering",
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Render every recipe; neither read nor write the cache.",
        rich_help_panel="Rendering",
    ),
]
ChangedOpt = Annotated[
    str | None,
    typer.Option(
        "--changed",
        help="Select recipes changed in a git range: BASE..HEAD, or BASE...HEAD (from the merge base).",
        rich_help_panel=PANEL,
    ),
]
ChangedFilesOpt = Annotated[
    Path | None,
    typer.Option(
        "--changed-files", help="Select recipes holding the paths listed in this file.", rich_help_panel=PANEL
    ),
]
PackageOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--package",
        "-k",
        help="Select by output name or recipe dir (globs allowed; repeat or comma-separate).",
        rich_help_panel=PANEL,
    ),
]
DownstreamOpt = Annotated[
    bool,
    typer.Option(
        "--downstream",
        help="Add every dependent of the selection (the stack rebuild); --downstream=N stops N edges away.",
        rich_help_panel=PANEL,
    ),
]
DownstreamDepthOpt = Annotated[int | None, typer.Option("--downstream-depth", hidden=True, min=0)]
UpstreamOpt = Annotated[
    bool,
    typer.Option(
        "--upstream",
        help="Add the ancestors of the selection (only those missing from --skip-existing's channel).",
        rich_help_panel=PANEL,
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        "-x",
        help="Keep these out (name, recipe dir or glob); order is kept.",
        rich_help_panel=PANEL,
    ),
]
SkiplistOpt = Annotated[
    Path | None,
    typer.Option("--skiplist", help="File of names/recipe dirs to skip, one a line.", rich_help_panel=PANEL),
]
SkipExistingOpt = Annotated[
    str | None,
    typer.Option(
        "--skip-existing",
        help="Skip jobs whose outputs are already in this channel (local dir or URL).",
        rich_help_panel=PANEL,
    ),
]
StrictCyclesOpt = Annotated[
    bool,
    typer.Option(
        "--strict-cycles", help="Fail on a dependency cycle instead of breaking it.", rich_help_panel=PANEL
    ),
]
DurationsOpt = Annotated[
    Path | None,
    typer.Option(
        "--durations", help='JSON {"recipe dir or name": seconds} for the makespan.', rich_help_panel=PANEL
    ),
]
ProviderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--provider",
        metavar="NAME=RECIPE",
        help="When several recipes provide NAME, build it from recipe dir RECIPE (over stackplan.yaml's"
        " providers:); repeat for several.",
        rich_help_panel="Rendering",
    ),
]
NoarchPlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--noarch-platform",
        metavar="SUBDIR",
        help="Build noarch recipes once, on this subdir (over stackplan.yaml's noarch_platform; default"
        " linux-64).",
        rich_help_panel="Rendering",
    ),
]


class SelectionCommand(TyperCommand):
    """A command that understands ``--downstream=DEPTH`` as well as the bare ``--downstream`` flag."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        for arg in args:
            if arg.startswith("--downstream="):
                value = arg.split("=", 1)[1]
                rewritten += ["--downstream"] + (
                    [] if value in ("", "all") else ["--downstream-depth", value]
                )
            else:
                rewritten.append(arg)
        return super().parse_args(ctx, rewritten)


def parse_providers(values: list[str] | None) -> dict[str, str]:
    """``["samtools=recipes/samtools/1.6"]`` -> ``{"samtools": "recipes/samtools/1.6"}``.

    Raises ``typer.BadParameter`` (exit 2, a usage error) for an item without ``=`` or with an empty
    side. A trailing ``/`` on the recipe dir is dropped: recipe dirs are compared as discovered.
    """
    found: dict[str, str] = {}
    for item in values or ():
        name, sep, recipe = item.partition("=")
        name, recipe = name.strip(), recipe.strip().rstrip("/").removeprefix("./")
        if not sep or not name or not recipe:
            raise typer.BadParameter(f"{item!r}: expected NAME=RECIPE_DIR", param_hint="--provider")
        found[name] = recipe
    return dict(sorted(found.items()))


def check_noarch_platform(value: str | None) -> str | None:
    """The subdir, or ``typer.BadParameter`` when it is not a build platform of the table."""
    if value is None:
        return None
    from planner.platforms import BUILD_SUBDIRS

    if value not in BUILD_SUBDIRS:
        raise typer.BadParameter(
            f"{value!r} is not a build platform; expected one of: {', '.join(BUILD_SUBDIRS)}",
            param_hint="--noarch-platform",
        )
    return value


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for item in values or () for v in item.split(",") if v.strip())


def make_request(
    root: Path,
    *,
    platform: list[str] | None = None,
    variant_config: list[Path] | None = None,
    exclusive_config: list[Path] | None = None,
    config: Path | None = None,
    changed: str | None = None,
    changed_files: Path | None = None,
    package: list[str] | None = None,
    downstream: bool = False,
    downstream_depth: int | None = None,
    upstream: bool = False,
    exclude: list[str] | None = None,
    skiplist: Path | None = None,
    skip_existing: str | None = None,
    strict_cycles: bool = False,
    durations: Path | None = None,
    provider: list[str] | None = None,
    noarch_platform: str | None = None,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    no_cache: bool = False,
) -> PlanRequest:
    """The :class:`PlanRequest` for a command line's selection options."""
    depth = None
    if downstream or downstream_depth is not None:
        depth = UNLIMITED if downstream_depth is None else downstream_depth
    return PlanRequest(
        root=root,
        platforms=_split(platform) or None,
        config_path=config,
        variant_configs=tuple(variant_config or ()),
        exclusive_configs=tuple(exclusive_config or ()),
        changed=changed,
        changed_files=changed_files,
        packages=_split(package),
        downstream=depth,
        upstream=upstream,
        exclude=_split(exclude),
        skiplist=skiplist,
        skip_existing=skip_existing,
        strict_cycles=strict_cycles,
        durations=durations,
        providers=parse_providers(provider),
        noarch_platform=check_noarch_platform(noarch_platform),
        jobs=jobs or default_jobs(),
        cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
    )

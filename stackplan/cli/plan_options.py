"""The selection options: one object for ``plan``, ``graph``, ``preview``, ``explain``, ``run``, ``rebuild``.

Every command that plans takes the same flags with the same spelling and help, declared once in
:data:`OPTIONS`. A command asks for them with one parameter and the :func:`selection` decorator::

    @selection()
    def plan(root: RootArg, output: OutputOpt = None, *, sel: Selection) -> None:
        the_plan = make_plan(sel.request(root))

The decorator adds the options of :data:`OPTIONS` to the command's signature (typer sees them as
ordinary parameters, in the "Selection" and "Rendering" help panels) and hands the command one
:class:`Selection`; ``selection(without=(...))`` leaves out the ones a command fixes itself
(``preview`` derives ``--changed`` from ``--base``/``--head``). Commands register with
``cls=SelectionCommand`` so ``--downstream=N`` works next to the bare ``--downstream`` flag.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from planner.plan.build import PlanRequest
from planner.plan.select import UNLIMITED
from planner.render.cache import default_cache_dir
from planner.render.pool import default_jobs

SELECTION = "Selection"
RENDERING = "Rendering"

RootArg = Annotated[
    Path,
    typer.Argument(metavar="ROOT", help="Recipe tree: feedstocks, recipes/<name>/, or one recipe dir."),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write here; '-' or no -o: stdout."),
]


@dataclass(frozen=True)
class Selection:
    """What to plan, as the command line said it (every field ``None``/empty when not given)."""

    platform: list[str] | None = None
    variant_config: list[Path] | None = None
    exclusive_config: list[Path] | None = None
    variant: list[str] | None = None
    config: Path | None = None
    channel: list[str] | None = None
    jobs: int | None = None
    cache_dir: Path | None = None
    no_cache: bool = False
    render_timeout: float | None = None
    render_memory: int | None = None
    provider: list[str] | None = None
    noarch_platform: str | None = None
    changed: str | None = None
    changed_files: Path | None = None
    package: list[str] | None = None
    downstream: bool = False
    downstream_depth: int | None = None
    upstream: bool = False
    exclude: list[str] | None = None
    skiplist: Path | None = None
    skip_existing: str | None = None
    skip_existing_inputs: bool = False
    strict_cycles: bool = False
    durations: Path | None = None

    def given(self) -> list[str]:
        """The flags given on the command line (``--platform``, ...), for "not with a plan file"."""
        hidden = {"downstream_depth": None, "skip_existing_inputs": "--skip-existing"}
        return sorted(
            {
                hidden.get(f.name) or "--" + f.name.replace("_", "-")
                for f in fields(self)
                if getattr(self, f.name) not in (None, False, [], ()) and hidden.get(f.name, "") is not None
            }
        )

    def budget_flags(self) -> dict[str, float]:
        """``--render-timeout`` / ``--render-memory`` as render-budget fields (they override
        stackplan.yaml's ``render_budget:``, ``planner.plan.inputs``); only the flags given."""
        flags = {"seconds": self.render_timeout, "memory_mb": self.render_memory}
        return {key: value for key, value in flags.items() if value is not None}

    def channels(self) -> tuple[str, ...]:
        """The input channels (``-c``), in order, duplicates dropped."""
        return tuple(dict.fromkeys(_split(self.channel)))

    def request(self, root: Path, *, learn: bool = True, **fixed: Any) -> PlanRequest:
        """The :class:`PlanRequest` of these options for ``root``; ``fixed`` sets fields the command
        decides itself (``changed`` for ``preview``, ``packages`` for ``rebuild``). Without
        ``--durations``, durations learned from Prefect's history go along (``learn=False``: not asked;
        stackplan.yaml's ``durations:`` wins over them when planning)."""
        depth = None
        if self.downstream or self.downstream_depth is not None:
            depth = UNLIMITED if self.downstream_depth is None else self.downstream_depth
        overrides = variant_overrides(self.variant)
        learned, learned_from = None, ""
        if self.durations is None and learn:  # else the file wins: no need to ask history
            from flows.events.history import planning_durations  # no Prefect import: urllib, a file

            learned, learned_from = planning_durations()
        values: dict[str, Any] = dict(
            root=root,
            platforms=_split(self.platform) or None,
            config_path=self.config,
            variant_configs=(
                *(self.variant_config or ()),
                *([write_overrides(overrides)] if overrides else []),
            ),
            exclusive_configs=tuple(self.exclusive_config or ()),
            changed=self.changed,
            changed_files=self.changed_files,
            packages=_split(self.package),
            downstream=depth,
            upstream=self.upstream,
            exclude=_split(self.exclude),
            skiplist=self.skiplist,
            skip_existing=self.skip_existing,
            skip_existing_inputs=self.skip_existing_inputs,
            channels=self.channels(),
            strict_cycles=self.strict_cycles,
            durations=self.durations,
            learned_durations=learned,
            learned_from=learned_from,
            providers=parse_providers(self.provider),
            noarch_platform=check_noarch_platform(self.noarch_platform),
            jobs=self.jobs or default_jobs(),
            cache_dir=None if self.no_cache else (self.cache_dir or default_cache_dir()),
            budget_flags=self.budget_flags(),
        )
        values.update(fixed)
        return PlanRequest(**values)


def _opt(*names: str, panel: str = SELECTION, **kw: Any) -> typer.models.OptionInfo:
    return typer.Option(*names, rich_help_panel=panel, **kw)


#: name -> (annotation, default) of every selection option, in the order ``--help`` lists them.
OPTIONS: dict[str, tuple[Any, Any]] = {
    "platform": (
        Annotated[
            list[str] | None,
            _opt(
                "--platform",
                "-p",
                panel=RENDERING,
                metavar="SUBDIR",
                help="Target platform (conda subdir); repeat for several. Default: stackplan.yaml, else"
                " all 7.",
            ),
        ],
        None,
    ),
    "variant_config": (
        Annotated[
            list[Path] | None,
            _opt(
                "--variant-config",
                "-m",
                panel=RENDERING,
                help="Variant config merged over the defaults (conda-build -m); repeat for several.",
            ),
        ],
        None,
    ),
    "exclusive_config": (
        Annotated[
            list[Path] | None,
            _opt(
                "--exclusive-config",
                "-e",
                panel=RENDERING,
                help="Variant config that replaces the defaults (conda-build --exclusive-config-files).",
            ),
        ],
        None,
    ),
    "variant": (
        Annotated[
            list[str] | None,
            _opt(
                "--variant",
                panel=RENDERING,
                metavar="KEY=VALUE",
                help="Override a variant key over every config (rattler-build --variant; conda-build"
                " --variants): python=3.12, or python=3.12,3.13 for several; repeatable.",
            ),
        ],
        None,
    ),
    "config": (
        Annotated[
            Path | None,
            _opt("--config", panel=RENDERING, help="stackplan.yaml to use (default: ROOT/stackplan.yaml)."),
        ],
        None,
    ),
    "channel": (
        Annotated[
            list[str] | None,
            _opt(
                "--channel",
                "-c",
                panel=RENDERING,
                metavar="URL",
                help="Input channel (as conda-build/rattler-build -c): the builders install dependencies"
                " from it and --skip-existing skips what it holds; repeatable. The channel builds go to"
                " is --output-dir (run).",
            ),
        ],
        None,
    ),
    "jobs": (
        Annotated[
            int | None,
            _opt(
                "--jobs",
                "-j",
                min=1,
                panel=RENDERING,
                help="Render with this many processes (default: the number of CPUs).",
            ),
        ],
        None,
    ),
    "cache_dir": (
        Annotated[
            Path | None,
            _opt(
                "--cache-dir",
                panel=RENDERING,
                help="Render cache directory (default: $STACKPLAN_CACHE_DIR, else ~/.cache/stackplan).",
            ),
        ],
        None,
    ),
    "no_cache": (
        Annotated[
            bool, _opt("--no-cache", panel=RENDERING, help="Render every recipe; no cache read or write.")
        ],
        False,
    ),
    "render_timeout": (
        Annotated[
            float | None,
            _opt(
                "--render-timeout",
                min=0.001,
                panel=RENDERING,
                metavar="SECONDS",
                help="Seconds one recipe may take to render; over it, that recipe is a located error and"
                " the others render (over stackplan.yaml's render_budget; default 600).",
            ),
        ],
        None,
    ),
    "render_memory": (
        Annotated[
            int | None,
            _opt(
                "--render-memory",
                min=16,
                panel=RENDERING,
                metavar="MB",
                help="MB of memory a render worker may add while rendering (over stackplan.yaml's"
                " render_budget; default no limit).",
            ),
        ],
        None,
    ),
    "provider": (
        Annotated[
            list[str] | None,
            _opt(
                "--provider",
                panel=RENDERING,
                metavar="NAME=RECIPE",
                help="When several recipes provide NAME, build it from recipe dir RECIPE (over"
                " stackplan.yaml's"
                " providers:); repeat for several.",
            ),
        ],
        None,
    ),
    "noarch_platform": (
        Annotated[
            str | None,
            _opt(
                "--noarch-platform",
                panel=RENDERING,
                metavar="SUBDIR",
                help="Build noarch recipes once, on this subdir (over stackplan.yaml's noarch_platform;"
                " default linux-64).",
            ),
        ],
        None,
    ),
    "changed": (
        Annotated[
            str | None,
            _opt(
                "--changed",
                metavar="RANGE",
                help="Select recipes changed in a git range: BASE..HEAD, or BASE...HEAD (from the merge"
                " base).",
            ),
        ],
        None,
    ),
    "changed_files": (
        Annotated[
            Path | None,
            _opt("--changed-files", help="Select recipes holding the paths listed in this file."),
        ],
        None,
    ),
    "package": (
        Annotated[
            list[str] | None,
            _opt(
                "--package",
                "-k",
                metavar="NAME",
                help="Select by output name or recipe dir (globs allowed; repeat or comma-separate). A name"
                " that matches nothing is an error.",
            ),
        ],
        None,
    ),
    "downstream": (
        Annotated[
            bool,
            _opt(
                "--downstream",
                help="Add every dependent of the selection (the stack rebuild); --downstream=N stops N edges"
                " away.",
            ),
        ],
        False,
    ),
    "downstream_depth": (Annotated[int | None, typer.Option("--downstream-depth", hidden=True, min=0)], None),
    "upstream": (
        Annotated[
            bool,
            _opt(
                "--upstream",
                help="Add the ancestors of the selection (only those missing from --skip-existing's"
                " channel).",
            ),
        ],
        False,
    ),
    "exclude": (
        Annotated[
            list[str] | None,
            _opt("--exclude", "-x", help="Keep these out (name, recipe dir or glob); order is kept."),
        ],
        None,
    ),
    "skiplist": (
        Annotated[Path | None, _opt("--skiplist", help="File of names/recipe dirs to skip, one a line.")],
        None,
    ),
    "skip_existing": (
        Annotated[
            str | None,
            _opt(
                "--skip-existing",
                metavar="CHANNEL",
                help="Skip jobs whose outputs are already in this channel (local dir or URL) or in an"
                " input channel (-c); given bare (last, or before another option): the -c channels only.",
            ),
        ],
        None,
    ),
    "skip_existing_inputs": (
        Annotated[bool, typer.Option("--skip-existing-inputs", hidden=True)],
        False,
    ),
    "strict_cycles": (
        Annotated[bool, _opt("--strict-cycles", help="Fail on a dependency cycle instead of breaking it.")],
        False,
    ),
    "durations": (
        Annotated[
            Path | None,
            _opt(
                "--durations",
                help='JSON {"recipe dir@platform", "recipe dir" or "name": seconds} for the critical path and'
                " makespan. Default: stackplan.yaml's durations:, else durations learned from Prefect's"
                " history (a PREFECT_API_URL on this machine, else the state dir's cache).",
            ),
        ],
        None,
    ),
}
assert set(OPTIONS) == {f.name for f in fields(Selection)}, "OPTIONS and Selection must name the same flags"


def selection(without: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the selection options (minus ``without``) as one ``sel: Selection`` argument."""
    unknown = set(without) - set(OPTIONS)
    if unknown:
        raise ValueError(f"not selection options: {sorted(unknown)}")
    taken = [name for name in OPTIONS if name not in without]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != "sel"]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=OPTIONS[name][1], annotation=OPTIONS[name][0]
            )
            for name in taken
        ]

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            sel = Selection(**{name: kwargs.pop(name) for name in taken})
            return func(*args, sel=sel, **kwargs)

        params = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind is p.POSITIONAL_OR_KEYWORD else p
            for p in own
        ]
        command.__signature__ = sig.replace(parameters=[*params, *added])  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in (*params, *added)}
        del command.__wrapped__  # typer must read the signature above, not the wrapped function's
        return command

    return decorate


class Command(TyperCommand):
    """A stackplan command: usage lines say ``ROOT``, as conda-build and rattler-build print them
    (typer writes a required argument as ``{ROOT}``)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [
            re.sub(r"^\{(.*)\}((?:\.\.\.)?)$", r"\1\2", piece) for piece in super().collect_usage_pieces(ctx)
        ]


class SelectionCommand(Command):
    """A command that understands ``--downstream=DEPTH`` as well as the bare ``--downstream`` flag, and
    ``--skip-existing`` without a CHANNEL (conda-build's flag: the input channels) when it comes last or
    right before another option."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        for i, arg in enumerate(args):
            if arg == "--skip-existing" and (i + 1 == len(args) or args[i + 1].startswith("-")):
                rewritten.append("--skip-existing-inputs")
            elif arg.startswith("--downstream="):
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


def variant_overrides(values: list[str] | None) -> dict[str, list[str]]:
    """``["python=3.12,3.13", "zlib=1.3"]`` -> ``{"python": ["3.12", "3.13"], "zlib": ["1.3"]}``.

    Repeating a key adds values. ``typer.BadParameter`` (exit 2) for an item without ``KEY=VALUE``.
    """
    out: dict[str, list[str]] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        vals = [v.strip() for v in value.split(",") if v.strip()]
        if not sep or not key or not vals:
            raise typer.BadParameter(
                f"{item!r}: expected KEY=VALUE (e.g. python=3.12)", param_hint="--variant"
            )
        for v in vals:
            if v not in out.setdefault(key, []):
                out[key].append(v)
    return dict(sorted(out.items()))


def write_overrides(overrides: dict[str, list[str]]) -> Path:
    """The ``--variant`` overrides as a variant config merged after every other one (so its keys win),
    named by its content under the state dir: the same overrides give the same file and the same plan."""
    from planner.state import state_home

    lines = ["# stackplan --variant: keys that override every other variant config"]
    for key, values in sorted(overrides.items()):
        lines.append(f"{key}:")
        lines += [f"  - {_yaml_str(v)}" for v in values]
    text = "\n".join(lines) + "\n"
    path = state_home() / "variants" / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def _yaml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


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

"""``stackplan render``: show what recipes render to, per platform and variant.

A thin shell over ``planner.inputs.discover`` + ``planner.inputs.config`` + ``planner.render.recipe``: it
turns paths and options into sources and :class:`RenderOptions`, and the renders into a table or JSON
lines. The JSON lines have the shape of conda-build's truth lines (``PlatformRender.truth_line``)
so the two can be diffed line by line.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import typer

from stackplan.cli.plan_options import Command

# One paragraph per line (rich re-wraps each to the terminal width), blank lines between them.
HELP = "\n\n".join(
    [
        "Render recipes (meta.yaml or recipe.yaml) for each target platform and variant; show the result.",
        "PATH is a recipe dir (or its meta.yaml / recipe.yaml) or a root holding many (a feedstock checkout, "
        "an aggregate repo with recipes/NAME/ and recipes/NAME/VERSION/, ...): every recipe dir under it is "
        "rendered.",
        "Variant config files are conda_build_config.yaml or variants.yaml files, as for conda-build: "
        "--variant-config merges over the defaults, --exclusive-config replaces them. A stackplan.yaml in "
        "the first PATH (or --config) adds its configs and environment first.",
        "Recipes render in --jobs processes; renders are cached by content (recipe files, variant configs, "
        "stackplan version) under --cache-dir, so a second run renders only what changed (--no-cache: "
        "render everything).",
        "Errors are printed as path:line: message on stderr; the exit code is 1 when any recipe failed "
        "(the others are still rendered and printed).",
        "[bold]Examples[/bold]",
        "Two platforms, as a table:  [cyan]stackplan render recipes/samtools -p linux-64 -p osx-arm64[/cyan]",
        "JSON lines comparable with conda-build's truth lines:  [cyan]stackplan render ../shared/corpus "
        "--json -p linux-64 -e ../shared/corpus/config/conda-forge-pinning.yaml "
        "-e ../shared/corpus/config/bioconda_utils-conda_build_config.yaml > ours.jsonl[/cyan]",
    ]
)


def register(app: typer.Typer) -> None:
    app.command("render", help=HELP, no_args_is_help=True, cls=Command)(render)


def render(
    paths: list[Path] = typer.Argument(
        ..., metavar="PATH...", help="Recipe dirs, recipe files, or roots holding recipe dirs."
    ),
    platform: list[str] = typer.Option(
        ["linux-64"], "--platform", "-p", help="Target platform (conda subdir); repeat for several."
    ),
    variant_config: list[Path] = typer.Option(
        [], "--variant-config", "-m", help="Variant config file merged over the defaults; repeatable."
    ),
    exclusive_config: list[Path] = typer.Option(
        [], "--exclusive-config", "-e", help="Variant config file replacing the defaults; repeatable."
    ),
    env: list[str] = typer.Option(
        [], "--env", help="KEY=VALUE seen by environ[...] / os.environ / env.get in recipes; repeatable."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="A stackplan.yaml to use (default: PATH/stackplan.yaml if present)."
    ),
    relative_to: Path | None = typer.Option(
        None,
        "--relative-to",
        help="Name recipes by their dir relative to this one (e.g. the corpus root, to match truth lines).",
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Render in this many processes (default: the number of CPUs)."
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Render cache directory (default: $STACKPLAN_CACHE_DIR, else ~/.cache/stackplan).",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Render everything; neither read nor write the cache."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON line per recipe dir and platform (conda-build truth-line shape)."
    ),
    render_timeout: float | None = typer.Option(
        None, "--render-timeout", min=0.001, help="Seconds one recipe may take (default 600)."
    ),
    render_memory: int | None = typer.Option(
        None, "--render-memory", min=16, help="MB a render worker may add (default: no limit)."
    ),
) -> None:
    from planner.inputs.config import load_config
    from planner.inputs.discover import discover
    from planner.model import RecipeError
    from planner.platforms import UnknownPlatformError
    from planner.render.budget import CLI_BUDGET
    from planner.render.cache import open_cache
    from planner.render.pool import default_jobs
    from planner.render.recipe import check_platforms, render_all
    from stackplan.cli.progress import reporter_for

    try:
        platforms = check_platforms(platform)
    except UnknownPlatformError as exc:
        raise typer.BadParameter(str(exc), param_hint="--platform") from None
    environ = _parse_env(env)
    for f in (*variant_config, *exclusive_config):
        if not f.is_file():
            raise typer.BadParameter(f"no such file: {f}", param_hint="--variant-config/--exclusive-config")
    dirs = [_recipe_root(p) for p in paths]
    try:
        cfg = load_config(dirs[0], config)
    except RecipeError as exc:
        _err(_where(exc))
        raise typer.Exit(2) from None
    options = cfg.render_options(
        variant_configs=[p.absolute() for p in variant_config],
        exclusive_configs=[p.absolute() for p in exclusive_config],
        environ=environ,
    )
    sources = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for d in dirs:
            sources.extend(_named(discover(d), relative_to))
    for w in caught:
        _err(f"warning: {w.message}")
    if not sources:
        _err("no recipe dirs (meta.yaml / recipe.yaml) found under: " + ", ".join(map(str, paths)))
        raise typer.Exit(1)
    cache = open_cache(cache_dir, enabled=not no_cache)
    flags = {"seconds": render_timeout, "memory_mb": render_memory}
    budget = CLI_BUDGET.with_overrides(
        **{**cfg.render_budget, **{k: v for k, v in flags.items() if v is not None}}
    )
    renders = render_all(
        sources,
        platforms,
        options,
        reporter=reporter_for(),
        jobs=jobs or default_jobs(),
        cache=cache,
        budget=budget,
    )
    if as_json:
        out = sys.stdout
        for r in renders:
            out.write(json.dumps(r.truth_line(), sort_keys=True) + "\n")
        out.flush()
    else:
        _table(renders)
    failed: dict[object, list[str]] = {}  # the same error on several platforms is said once
    for r in renders:
        if r.error is not None:
            failed.setdefault(r.error, []).append(r.platform)
    for error, on in failed.items():
        _err(f"{_where(error)} [{', '.join(on)}]")
    if failed:
        raise typer.Exit(1)


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--env")
        env[key] = value
    return env


def _recipe_root(path: Path) -> Path:
    if path.is_file() and path.name in ("meta.yaml", "recipe.yaml"):
        return path.parent
    if not path.is_dir():
        raise typer.BadParameter(f"not a recipe dir or a dir holding recipes: {path}", param_hint="PATH")
    return path


def _named(sources, relative_to: Path | None):
    """Sources renamed for display: relative to ``--relative-to``; a PATH that is itself a recipe dir
    is named by its path from the current dir (``.`` says nothing)."""
    if relative_to is None and not any(s.rel == "." for s in sources):
        return sources
    base = (relative_to or Path.cwd()).absolute()
    return [replace(s, rel=_rel(s.path, base)) for s in sources]


def _rel(path: Path, base: Path) -> str:
    rel = os.path.relpath(path, base)
    return Path(path).as_posix() if rel.startswith("..") else Path(rel).as_posix()


def _where(err) -> str:
    path = err.path
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:
        pass
    where = f"{path}:{err.line}" if err.line else path
    return f"{where}: {err.message}"


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _table(renders) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=True)
    for col in ("recipe", "platform", "outputs", "variant", "status"):
        table.add_column(col, overflow="fold")
    for r in renders:
        if r.error is not None:
            table.add_row(r.recipe, r.platform, "", "", f"[red]error[/red]: line {r.error.line or '?'}")
            continue
        if not r.variants:
            table.add_row(r.recipe, r.platform, "", "", "[yellow]skipped[/yellow]")
            continue
        for job in r.variants:
            outputs = "\n".join(
                f"{o.name}-{o.version}-{o.build_string or o.build_number}" + (" (skip)" if o.skip else "")
                for o in job.outputs
            )
            variant = "\n".join(f"{k}={v}" for k, v in job.variant.items() if k != "target_platform")
            status = "[yellow]skipped[/yellow]" if job.skip else "ok"
            table.add_row(r.recipe, r.platform, outputs, variant, status)
    Console(soft_wrap=False).print(table)

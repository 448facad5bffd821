"""``stackplan rebuild``: plan (and bump) the rebuild of a stack when a pin moves.

A thin shell over :mod:`planner.migrate.migration` (the stack comes from today's graph, then the new
pin is applied to exactly those recipes, hard pins it breaks are reported with file:line) and
:mod:`planner.migrate.bump` (build numbers). The planning-only override config is written to
``$STACKPLAN_HOME/migrations/<hash>.yaml``; with ``--bump`` the pins go where the recipes' builds read
them, the recipe-local ``conda_build_config.yaml`` / ``variants.yaml`` of every stack recipe, and the
output lists those files to commit.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import typer

from stackplan.cli.errors import ExitCode, fail
from stackplan.cli.plan_options import Selection, SelectionCommand, selection


@selection(without=("package", "changed", "changed_files", "downstream", "downstream_depth", "upstream"))
def rebuild(
    root: Path = typer.Argument(
        Path("."), metavar="ROOT", help="Recipe tree (feedstocks, recipes/<name>/, or a recipe dir)."
    ),
    downstream_of: list[str] = typer.Option(
        ...,
        "--downstream-of",
        help="The package (output name or recipe dir) whose dependents rebuild; repeatable.",
    ),
    depth: int | None = typer.Option(
        None, "--depth", min=0, help="Stop N dependency edges away from NAME (default: the whole stack)."
    ),
    migrate: list[str] | None = typer.Option(
        None, "--migrate", help="The new pin, KEY=VALUE (e.g. zlib=1.3, python=3.12,3.13); repeatable."
    ),
    bump: bool = typer.Option(
        False, "--bump", help="Raise the build number of every recipe in the stack, in place."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the plan JSON here (for `stackplan run`)."
    ),
    *,
    sel: Selection,
) -> None:
    """Plan the rebuild of everything downstream of a package under a migrated pin, and bump it.

    The stack is NAME and every recipe that depends on it (build, host, run or test), on each
    platform, in dependency order. --migrate pins are written to an override variant config merged
    last. With --bump, every recipe of the stack gets its build number raised by one in place
    (recipe.yaml through ruamel.yaml's round trip, meta.yaml by editing the line: comments, Jinja and
    selectors stay) and the diff is printed: commit it, open the PR, and the webhook builds it.

    Example:

        stackplan rebuild recipes --downstream-of zlib --migrate zlib=1.3 --bump -o plan.json
    """
    from planner.migrate.migration import parse_migrations, write_override
    from stackplan.cli.events_cmd import state_dir

    try:
        migrations = parse_migrations(migrate or [])
    except ValueError as exc:
        fail(str(exc))
    if not root.is_dir():
        fail(f"{root} is not a directory")
    override = write_override(migrations, state_dir()) if migrations else None
    from planner.graph.cycles import CycleError
    from planner.migrate.migration import plan_migration, write_pins
    from planner.plan.build import PlanError, build_plan
    from planner.plan.select import UNLIMITED

    request = sel.request(
        root, packages=tuple(downstream_of), downstream=UNLIMITED if depth is None else depth
    )
    try:
        result = plan_migration(request, migrations, override, lambda r: build_plan(r).with_hash())
    except CycleError as exc:
        fail(str(exc), ExitCode.CYCLE)
    except PlanError as exc:
        fail(str(exc))
    plan = result.plan
    if output:
        output.write_text(plan.to_json())
    _print_summary(plan, downstream_of, migrations)
    for err in plan.errors:
        typer.echo(f"render error: {err}", err=True)
    for pin in result.hard_pins:
        typer.echo(f"hard pin not satisfied by the migration: {pin.message()}", err=True)
    if migrations:
        writes = write_pins(root, result.stack, result.formats, migrations, write=bump)
        if bump:
            for w in writes:
                typer.echo(f"pin written: {w.path}")
            if writes:
                typer.echo(f"commit the {len(writes)} pin file(s) above with the bumps: they apply the pin")
        elif writes:
            typer.echo(f"{len(writes)} recipe-local pin file(s) would be written (run with --bump)")
    if bump:
        failed = _bump(root, result.stack)
        if failed:
            raise typer.Exit(1)


def _print_summary(plan, names: list[str], migrations: dict[str, list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from planner.migrate.migration import stack_recipes

    building = [n for n in plan.nodes if n.skipped is None]
    per_recipe: dict[str, list] = defaultdict(list)
    for node in building:
        per_recipe[node.recipe].append(node)
    pins = ", ".join(f"{k}={','.join(v)}" for k, v in sorted(migrations.items())) or "current pins"
    console = Console(width=max(160, int(os.environ.get("COLUMNS", "0") or 0)))
    console.print(
        f"rebuild downstream of {', '.join(names)} under {pins}: {len(building)} job(s), "
        f"{len(per_recipe)} recipe(s), plan {plan.hash[:12]}"
    )
    table = Table("layer", "recipe", "outputs", "platforms", "why", box=None, pad_edge=False)
    for recipe in stack_recipes(plan):
        nodes = per_recipe[recipe]
        outputs = sorted({f"{o.name}-{o.version}-{o.build_number}" for n in nodes for o in n.outputs})
        platforms = sorted({n.platform for n in nodes})
        why = sorted({n.selected.kind for n in nodes})
        table.add_row(
            str(min(n.layer for n in nodes)),
            recipe,
            " ".join(outputs),
            " ".join(platforms),
            "; ".join(why)[:80],
        )
    console.print(table)


def _bump(root: Path, stack) -> int:
    from planner.migrate.bump import bump_recipe_dir

    failed = 0
    for recipe in stack:
        result = bump_recipe_dir(root / recipe, write=True, label=recipe)
        if result.error:
            failed += 1
            typer.echo(f"not bumped: {result.error}", err=True)
        else:
            typer.echo(result.diff(), nl=False)
    return failed


def register(app: typer.Typer) -> None:
    app.command("rebuild", cls=SelectionCommand)(rebuild)

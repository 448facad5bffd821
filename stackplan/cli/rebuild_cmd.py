"""``stackplan rebuild``: plan (and bump) the rebuild of a stack when a pin moves.

A migration (a new zlib, python 3.13, a new ABI of a library) means: everything that depends on the
migrated package, directly or not, must be rebuilt against the new pin, in dependency order, with a
higher build number so the new builds win over the old ones. This command plans that stack under the
new pin and, with ``--bump``, raises the build number of every recipe in it (planner/migrate/bump.py).

The migrated pin becomes an override variant config: ``{key: [values]}`` written to
``$STACKPLAN_HOME/migrations/<hash>.yaml`` (named by its content, so the same migration gives the same
file and the same plan hash) and merged after every other config, so its keys win.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import typer

from stackplan.cli.errors import ExitCode, fail
from stackplan.cli.plan_options import Selection, SelectionCommand, selection

#: Where the migration override configs are written (a content-named file per migration).
MIGRATIONS_DIR = "migrations"


def parse_migrations(items: list[str]) -> dict[str, list[str]]:
    """``["python=3.12,3.13", "zlib=1.3"]`` -> ``{"python": ["3.12", "3.13"], "zlib": ["1.3"]}``.

    Repeating a key adds values (``--migrate python=3.12 --migrate python=3.13``).
    """
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        values = [v.strip() for v in value.split(",") if v.strip()]
        if not sep or not key or not values:
            raise ValueError(f"--migrate {item!r}: expected KEY=VALUE (e.g. zlib=1.3 or python=3.12,3.13)")
        for v in values:
            if v not in out.setdefault(key, []):
                out[key].append(v)
    return out


def override_config_text(migrations: dict[str, list[str]]) -> str:
    """The override variant config (YAML), keys sorted, values quoted: byte-stable for one migration."""
    lines = ["# stackplan rebuild --migrate: pins that override every other variant config"]
    for key in sorted(migrations):
        lines.append(f"{key}:")
        lines += [f'  - "{v}"' for v in migrations[key]]
    return "\n".join(lines) + "\n"


def write_override(migrations: dict[str, list[str]], state: Path) -> Path:
    text = override_config_text(migrations)
    path = state / MIGRATIONS_DIR / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


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
    from stackplan.cli.events_cmd import state_dir

    try:
        migrations = parse_migrations(migrate or [])
    except ValueError as exc:
        fail(str(exc))
    if not root.is_dir():
        fail(f"{root} is not a directory")
    overrides = [write_override(migrations, state_dir())] if migrations else []
    from planner.graph.cycles import CycleError
    from planner.plan.build import PlanError, build_plan
    from planner.plan.select import UNLIMITED

    request = sel.request(
        root,
        packages=tuple(downstream_of),
        downstream=UNLIMITED if depth is None else depth,
    )
    request = replace(request, variant_configs=(*request.variant_configs, *overrides))
    try:
        plan = build_plan(request).with_hash()
    except CycleError as exc:
        fail(str(exc), ExitCode.CYCLE)
    except PlanError as exc:
        fail(str(exc))
    if output:
        output.write_text(plan.to_json())
    _print_summary(plan, downstream_of, migrations)
    for err in plan.errors:
        where = f"{err.get('path')}:{err.get('line')}" if err.get("line") else err.get("path")
        typer.echo(f"render error: {where}: {err.get('message')}", err=True)
    if bump:
        failed = _bump(root, plan)
        if failed:
            raise typer.Exit(1)


def stack_recipes(plan) -> list[str]:
    """Recipe dirs of the stack (jobs that will build), in dependency order (lowest layer first)."""
    first_layer: dict[str, int] = {}
    for node in plan.nodes:
        if node.skipped is None:
            first_layer[node.recipe] = min(first_layer.get(node.recipe, node.layer), node.layer)
    return sorted(first_layer, key=lambda r: (first_layer[r], r))


def _print_summary(plan, names: list[str], migrations: dict[str, list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

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


def _bump(root: Path, plan) -> int:
    from planner.migrate.bump import bump_recipe_dir

    failed = 0
    for recipe in stack_recipes(plan):
        result = bump_recipe_dir(root / recipe, write=True, label=recipe)
        if result.error:
            failed += 1
            typer.echo(f"not bumped: {result.error}", err=True)
        else:
            typer.echo(result.diff(), nl=False)
    return failed


def register(app: typer.Typer) -> None:
    app.command("rebuild", cls=SelectionCommand)(rebuild)

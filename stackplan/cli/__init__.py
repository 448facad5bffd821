"""The ``stackplan`` command line.

Each command group lives in its own module with a ``register(app)`` function; this module only
assembles them. Modules import heavy dependencies (Prefect) inside their command functions so that
``stackplan render`` / ``plan`` / ``preview`` start fast.
"""

from __future__ import annotations

import importlib

import typer

from planner import __version__

#: Command modules under ``stackplan.cli``, in the order their commands appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "render_cmd",
    "plan_cmd",
    "run_cmd",
    "deploy_cmd",
    "server_cmd",
    "events_cmd",
    "rebuild_cmd",
    "diff_cmd",
    "image_cmd",
)

app = typer.Typer(
    name="stackplan",
    help=(
        "Plan and run conda recipe builds in dependency order.\n\n"
        "Typical use: `stackplan plan ROOT` to see what builds where and in which order, "
        "`stackplan run ROOT` to build it through Prefect, `stackplan preview --base main` for a PR comment."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"stackplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """stackplan: a declarative recipe-graph build planner for conda distributions."""


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"stackplan.cli.{name}").register(app)


_load_commands()


def main() -> None:
    app()

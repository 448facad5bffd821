"""``stackplan server start|stop|status``: the local Prefect server stackplan runs by itself.

``stackplan run`` starts a server for the length of a run when none is running; ``server start`` keeps
one running in the background (SQLite in .stackplan/ or $STACKPLAN_HOME) so the UI and history stay up
between runs and runs start faster.
"""

from __future__ import annotations

import typer

HELP = "\n\n".join(
    [
        "Manage the local Prefect server stackplan uses when PREFECT_API_URL is not set.",
        "start: run `prefect server start` in the background on a free loopback port, with SQLite in "
        ".stackplan/ (or $STACKPLAN_HOME), telemetry off and fast task-run recording; prints the UI address. "
        "stop: stop it. status: say whether it runs and where.",
        "[bold]Examples[/bold]",
        "[cyan]stackplan server start[/cyan]   then   [cyan]stackplan run examples/stack[/cyan]   "
        "(reuses it)   then   [cyan]stackplan server stop[/cyan]",
    ]
)

server_app = typer.Typer(help=HELP, no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")


@server_app.command("start", help="Start the local Prefect server in the background and print its address.")
def start() -> None:
    from flows.server import embedded as server

    info = server.running()
    if info is not None:
        typer.echo(f"already running: {info.ui} (pid {info.pid}, {info.home})")
        _reap(info.url)
        return
    try:
        info = server.start()
    except server.ServerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"Prefect server running: UI {info.ui}  API {info.url}  (pid {info.pid}, history in {info.home})"
    )
    typer.echo(f"Other tools can use it with: export PREFECT_API_URL={info.url}")
    _reap(info.url)


def _reap(url: str) -> None:
    """Stop orphaned builds and close flow runs left RUNNING by stackplan processes that died."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.run import liveness

    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            found = liveness.reap(liveness.crash_flow_runs)
    except Exception as exc:  # the server runs; cleaning up is a courtesy
        typer.echo(f"warning: could not clean up after earlier runs: {exc}", err=True)
        return
    if found.owners:
        typer.echo(f"Cleaned up after {found.summary()}")


@server_app.command("stop", help="Stop the local Prefect server started by `stackplan server start`.")
def stop() -> None:
    from flows.server import embedded as server

    info = server.running()
    if info is None:
        typer.echo("not running")
        return
    server.stop(info)
    typer.echo(f"stopped (pid {info.pid})")


@server_app.command("status", help="Say whether the local Prefect server runs; exit 1 when it does not.")
def status() -> None:
    from flows.server import embedded as server

    info = server.running()
    if info is None:
        typer.echo(f"not running (state dir {server.state_home()})")
        raise typer.Exit(1)
    typer.echo(f"running: UI {info.ui}  API {info.url}  (pid {info.pid}, history in {info.home})")

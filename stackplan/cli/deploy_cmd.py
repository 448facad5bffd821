"""``stackplan deploy``: create the work pools and deployments for running builds on workers.

A thin shell over :func:`flows.server.deployments.deploy`; it needs a Prefect server that outlives it, so it
uses PREFECT_API_URL or the server ``stackplan server start`` left running (it refuses to deploy into a
throw-away embedded server).
"""

from __future__ import annotations

from pathlib import Path

import typer

HELP = "\n\n".join(
    [
        "Create one Prefect process work pool per platform (linux-64 ... win-64) plus 'gpu', and the "
        "deployments 'stackplan-platform/<platform>' (each on its platform's pool) and "
        "'stackplan-build/build', so `stackplan run --deployments` runs every platform's jobs on that "
        "platform's workers. Start workers with `prefect worker start --pool linux-64` (one per machine).",
        "Deployments name their code by module path and this checkout's directory: nothing is pushed; "
        "workers need the same checkout at the same path (--workdir to choose another).",
        "--schedule CRON --all adds 'stackplan-ecosystem/nightly': plan the whole repo at --root with "
        "skip-existing against --output-dir and build what is missing, on that schedule.",
        "--isolation container: every deployment builds linux and noarch jobs in fresh containers on its "
        "worker (still a process worker; the engine and image are checked there). A run's own --isolation "
        "wins; without either, the repo's stackplan.yaml decides.",
        "Needs PREFECT_API_URL, or a server from `stackplan server start`.",
        "[bold]Examples[/bold]",
        "[cyan]stackplan deploy[/cyan]",
        "[cyan]stackplan deploy --schedule '0 2 * * *' --all --root . --output-dir /srv/channel[/cyan]",
        "[cyan]stackplan deploy --isolation container[/cyan]",
    ]
)


def register(app: typer.Typer) -> None:
    app.command("deploy", help=HELP)(deploy)


def deploy(
    platform: list[str] = typer.Option([], "--platform", "-p", help="Only these platforms (default: all 7)."),
    schedule: str | None = typer.Option(None, "--schedule", help="Cron for the nightly ecosystem rebuild."),
    all_: bool = typer.Option(False, "--all", help="With --schedule: rebuild the whole repo (required)."),
    root: Path = typer.Option(Path("."), "--root", help="Repo the nightly rebuild plans."),
    channel: Path = typer.Option(
        Path("out/channel"), "--output-dir", "--channel", help="Channel nightly builds go to."
    ),
    builder: str | None = typer.Option(
        None,
        "--builder",
        help="Builder of runs of stackplan-build/build (what `serve` starts), into --output-dir; without it "
        "those runs are dry runs. Also the nightly's builder (default there: rattler-build).",
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Checkout dir workers run in (default: this)."
    ),
    main_pool: str = typer.Option("linux-64", "--main-pool", help="Pool that runs the main flow."),
    isolation: str | None = typer.Option(
        None,
        "--isolation",
        help="process | container for builds run from these deployments (default: the run's own, else "
        "the repo's stackplan.yaml, else process).",
    ),
) -> None:
    import os

    from planner.platforms import UnknownPlatformError, parse_platform

    if isolation not in (None, "process", "container"):
        typer.echo(f"error: --isolation {isolation!r}: expected process or container", err=True)
        raise typer.Exit(2)
    from flows.builders import BUILDERS

    if builder is not None and builder not in BUILDERS:
        typer.echo(f"error: --builder {builder!r}: expected one of {', '.join(sorted(BUILDERS))}", err=True)
        raise typer.Exit(2)
    if schedule and not all_:
        typer.echo("error: --schedule needs --all (the nightly rebuild plans the whole repo)", err=True)
        raise typer.Exit(2)
    try:
        platforms = tuple(parse_platform(p).subdir for p in platform) if platform else None
    except UnknownPlatformError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    from flows.server import embedded as server
    from flows.server.deployments import PLATFORM_POOLS, PROJECT_ROOT
    from flows.server.deployments import deploy as do_deploy

    url = os.environ.get("PREFECT_API_URL")
    info = None if url else server.running()
    if not url and info is None:
        typer.echo(
            "error: no Prefect server to deploy to: set PREFECT_API_URL or run `stackplan server start`",
            err=True,
        )
        raise typer.Exit(2)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url or info.url}):
        try:
            done = do_deploy(
                platforms=platforms or PLATFORM_POOLS,
                workdir=(workdir or PROJECT_ROOT).resolve(),
                main_pool=main_pool,
                schedule=schedule,
                root=str(root),
                channel=str(channel),
                builder=builder,
                isolation=isolation,
            )
        except Exception as exc:  # the server said no: show its message, not a traceback
            typer.echo(f"error: deploy failed: {exc}", err=True)
            raise typer.Exit(1) from None
    for thing in done:
        typer.echo(f"{thing.kind:<10} {thing.name:<36} {thing.detail}")
    typer.echo(f"API {url or info.url}: start workers with `prefect worker start --pool <platform>`")

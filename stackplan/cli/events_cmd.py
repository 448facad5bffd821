"""``stackplan serve``, ``stackplan history``, ``stackplan monitor``: the event-driven side.

A thin shell: options are parsed here, the work is in flows/events/app.py, flows/events/history.py and
flows/events/monitor.py, imported inside the commands so ``stackplan plan`` never pays for Prefect.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer


def state_dir() -> Path:
    """Where stackplan keeps state (delivery store, checkouts, monitor memory): :mod:`planner.state`."""
    from planner.state import state_home

    return state_home()


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _prefect_api(echo: bool = False):
    """A context in which Prefect talks to a server: PREFECT_API_URL when set, else stackplan's
    embedded server (flows/server/embedded.py, as `stackplan run` uses it: one left running by
    `stackplan server start`, or one started for this command and stopped after)."""
    import contextlib

    if os.environ.get("PREFECT_API_URL"):
        return contextlib.nullcontext()
    from flows.server.embedded import prefect_api

    return prefect_api(echo=echo)


def serve(
    repo_dir: Path = typer.Option(
        Path("."), "--repo-dir", help="Local clone of the recipe repository; commits are looked up here."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (put a TLS proxy in front for GitHub)."),
    port: int = typer.Option(8787, help="Port to listen on."),
    subdir: str = typer.Option("", help="The stackplan root inside the repository (default: its top)."),
    github_repo: str | None = typer.Option(
        None, "--github-repo", help="Only accept events of this repository (owner/name)."
    ),
    platform: list[str] | None = typer.Option(
        None, "--platform", "-p", help="Platforms to plan (repeatable)."
    ),
    skip_existing: str | None = typer.Option(
        None, "--skip-existing", help="Channel whose existing packages need no rebuild."
    ),
    deployment: str = typer.Option(
        "stackplan-build/build", help="Deployment the build runs are created from."
    ),
    fetch_remote: str | None = typer.Option(
        None, "--fetch-remote", help="Fetch an event's commits from this remote of --repo-dir when missing."
    ),
    max_body: int = typer.Option(5 * 1024 * 1024, help="Largest accepted body in bytes (413 above)."),
    comment: bool = typer.Option(True, "--comment/--no-comment", help="Post the plan preview on the PR."),
    read_timeout: float = typer.Option(
        10.0, "--read-timeout", min=0.1, help="Seconds a request's headers, and its body, may take to arrive."
    ),
    max_connections: int = typer.Option(
        100, "--max-connections", min=1, help="Open connections at once (more are closed / get 503)."
    ),
    render_timeout: float = typer.Option(
        10.0, "--render-timeout", min=0.001, help="Seconds one recipe of a PR may take to render."
    ),
    render_memory: int = typer.Option(
        1024, "--render-memory", min=16, help="MB of memory a render worker may add while rendering."
    ),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        help="The address reviewers reach this server at (e.g. https://ci.example.org/stackplan): the PR"
        " comment then links the whole plan as a graph page served at URL/plans/HASH.html.",
    ),
    insecure_no_secret: bool = typer.Option(
        False,
        "--insecure-no-secret",
        help="Accept unsigned deliveries. Local testing only: anyone can start builds.",
    ),
) -> None:
    """Receive GitHub webhooks and start builds for pull requests and pushes to the default branch.

    Pull requests build when opened, pushed to (synchronize) or reopened.

    Every delivery must be signed with the secret in STACKPLAN_WEBHOOK_SECRET (the same secret as
    in the GitHub webhook settings; content type application/json). A valid event is planned from
    its changed files in the checkout given by --repo-dir and starts a flow run of the deployment
    "stackplan-build/build" (make it with `stackplan deploy`). GET /healthz answers 200.

    Example:

        export STACKPLAN_WEBHOOK_SECRET=$(cat secret) PREFECT_API_URL=http://prefect:4200/api

        stackplan serve --repo-dir ~/recipes --github-repo octo/recipes
    """
    import logging

    import uvicorn

    from flows.events.app import SECRET_ENV, WebhookSettings, create_app
    from flows.events.dispatch import DispatchSettings
    from flows.events.limits import server_config
    from planner.render.budget import SERVE_BUDGET

    secret = os.environ.get(SECRET_ENV, "")
    if not secret and not insecure_no_secret:
        _fail(
            f"{SECRET_ENV} is not set: refusing to accept unsigned webhooks"
            " (--insecure-no-secret for local tests)"
        )
    from planner.redact import MIN_SECRET_LENGTH, short_secrets

    short = short_secrets()
    if short:  # guessable, and redacting it would garble every comment: say so rather than run
        _fail(
            f"{', '.join(short)} {'is' if len(short) == 1 else 'are'} shorter than {MIN_SECRET_LENGTH}"
            " characters: refusing to start (set a real secret, or unset it)"
        )
    if not (repo_dir / ".git").exists():
        _fail(f"--repo-dir {repo_dir} is not a git checkout")
    if public_url is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public_url):
        _fail(f"--public-url must be an http(s) URL without query or fragment, got {public_url!r}")
    if insecure_no_secret and not secret:
        typer.echo("WARNING: --insecure-no-secret: deliveries are not authenticated", err=True)
    if platform:
        from planner.platforms import parse_platforms

        try:
            platforms: tuple[str, ...] | None = tuple(parse_platforms(tuple(platform)))
        except ValueError as exc:
            _fail(str(exc))
    else:
        platforms = None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = WebhookSettings(
        secret=secret.encode() if secret else None,
        dispatch=DispatchSettings(
            repo_dir=repo_dir.resolve(),
            state_dir=state_dir(),
            subdir=subdir,
            deployment=deployment,
            platforms=platforms,
            skip_existing=skip_existing,
            fetch_remote=fetch_remote,
            budget=SERVE_BUDGET.with_overrides(seconds=render_timeout, memory_mb=render_memory),
        ),
        max_body=max_body,
        allowed_repo=github_repo,
        comment=comment,
        read_timeout=read_timeout,
        max_connections=max_connections,
        public_url=public_url,
    )
    config = server_config(
        create_app(settings),
        read_timeout=read_timeout,
        max_connections=max_connections,
        host=host,
        port=port,
        log_level="info",
    )
    with _prefect_api(echo=True):
        uvicorn.Server(config).run()


def history(
    package: list[str] | None = typer.Option(
        None, "--package", help="Only jobs building this package (repeatable)."
    ),
    platform: list[str] | None = typer.Option(
        None, "--platform", "-p", help="Only this platform (repeatable)."
    ),
    pr: int | None = typer.Option(None, "--pr", help="Only builds of this pull request."),
    plan: str | None = typer.Option(None, "--plan", help="Only builds of this plan (its hash or a prefix)."),
    state: list[str] | None = typer.Option(
        None, "--state", help="Only jobs in this state: completed, failed, crashed, running... (repeatable)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only jobs started after: 7d, 12h, 30m, 2w or a date."
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many rows (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead of a table."),
    learn_durations: Path | None = typer.Option(
        None,
        "--learn-durations",
        metavar="FILE",
        help="Write the median duration of the --last completed real builds per recipe and platform to"
        " FILE (JSON, what `stackplan plan --durations FILE` reads) instead of printing rows.",
    ),
    last: int = typer.Option(5, "--last", min=1, help="--learn-durations: builds per recipe and platform."),
) -> None:
    """Show past build jobs from Prefect, newest first, filtered by the tags build runs carry.

    Reads the Prefect server in PREFECT_API_URL (else stackplan's embedded server, as `stackplan run`
    uses). Each row is one build job (a recipe on a platform): when it started, its final state,
    packages, recipe, pull request, plan and duration.

    Example:

        stackplan history --package samtools --platform linux-64 --state failed --since 7d
    """
    import asyncio
    import json

    from flows.events.history import (
        HistoryQuery,
        check_states,
        format_table,
        parse_since,
        query_history,
        row_json,
    )

    try:
        since_at = parse_since(since) if since else None
    except ValueError as exc:
        _fail(str(exc))
    if platform:
        from planner.platforms import parse_platform

        try:
            platform = [parse_platform(p).subdir for p in platform]
        except ValueError as exc:
            _fail(str(exc))
    try:
        states = check_states(state or ())
    except ValueError as exc:
        _fail(str(exc))
    if plan is not None and not re.fullmatch(r"[0-9a-f]{1,64}", plan):
        _fail(f"--plan {plan!r}: expected a plan hash or a prefix of it (hex digits)")
    if learn_durations is not None:
        states, limit = ("Completed",), max(limit, 100_000)
    query = HistoryQuery(
        packages=tuple(package or ()),
        platforms=tuple(platform or ()),
        pr=pr,
        plan=plan,
        states=states,
        since=since_at,
        limit=limit,
    )
    try:
        with _prefect_api():
            rows = asyncio.run(query_history(query))
    except Exception as exc:  # server down, bad URL: a message, not a traceback
        _fail(f"could not read Prefect's API: {type(exc).__name__}: {exc}", code=1)
    if learn_durations is not None:
        from flows.events.history import learned_durations

        learned = learned_durations(rows, last=last)
        learn_durations.write_text(json.dumps(learned, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        typer.echo(f"{sum('@' in k for k in learned)} recipe/platform durations written to {learn_durations}")
        return
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row_json(row), sort_keys=True))
        return
    if not rows:
        typer.echo("no matching build jobs", err=True)
        return
    from rich.console import Console
    from rich.table import Table

    cells = format_table(rows)
    table = Table(*cells[0], box=None, pad_edge=False)
    for line in cells[1:]:
        table.add_row(*line)
    Console(width=200).print(table)


#: Name of the monitor's scheduled deployment: "stackplan-monitor/scheduled".
MONITOR_DEPLOYMENT = "scheduled"


def monitor(
    once: bool = typer.Option(False, "--once", help="Check once now (the default when no mode is given)."),
    deploy: bool = typer.Option(False, "--deploy", help="Register deployment stackplan-monitor/scheduled."),
    serve_it: bool = typer.Option(
        False, "--serve", help="Register the deployment and run it here on schedule."
    ),
    cron: str = typer.Option("*/10 * * * *", "--cron", help="Schedule of --deploy / --serve (cron, UTC)."),
    pool: str | None = typer.Option(None, "--pool", help="Work pool of the deployment (--deploy)."),
    running_minutes: float = typer.Option(
        120, "--running-minutes", help="Running longer than this is stuck."
    ),
    waiting_minutes: float = typer.Option(
        30, "--waiting-minutes", help="Late/Pending longer than this is stuck."
    ),
    tag: str = typer.Option("stackplan", "--tag", help="Only runs carrying this tag."),
) -> None:
    """Find stuck builds (Running, Late or Pending too long) and post them to Slack, once each.

    Stuck: Running longer than --running-minutes, or Late / Pending longer than --waiting-minutes.
    Each stuck run is posted once until its state changes.

    The Slack incoming-webhook URL comes from SLACK_WEBHOOK_URL (without it the list is only logged).
    What was reported is remembered in $STACKPLAN_HOME/monitor-reported.json.

    Examples:

        stackplan monitor --once

        stackplan monitor --serve --cron "*/10 * * * *"

        stackplan monitor --deploy --cron "*/15 * * * *" --pool linux-64
    """
    from flows.events.monitor import default_memory_path, monitor_flow

    if deploy and serve_it:
        _fail("--deploy and --serve are exclusive")
    parameters = {
        "running_minutes": running_minutes,
        "waiting_minutes": waiting_minutes,
        "tag": tag,
        "memory_path": str(default_memory_path()),
    }
    with _prefect_api(echo=serve_it or deploy):
        _monitor(monitor_flow, parameters, serve_it=serve_it, deploy=deploy, cron=cron, pool=pool)


def _monitor(
    monitor_flow, parameters: dict, *, serve_it: bool, deploy: bool, cron: str, pool: str | None
) -> None:
    from flows.events.monitor import MONITOR_FLOW

    if serve_it:
        typer.echo(f"serving {MONITOR_FLOW}/{MONITOR_DEPLOYMENT} on {cron!r}; Ctrl-C stops")
        monitor_flow.serve(name=MONITOR_DEPLOYMENT, cron=cron, parameters=parameters)
        return
    if deploy:
        from prefect.deployments.runner import EntrypointType

        deployment = monitor_flow.to_deployment(
            name=MONITOR_DEPLOYMENT,
            cron=cron,
            parameters=parameters,
            work_pool_name=pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
            tags=["stackplan-monitor"],
        )
        deployment_id = deployment.apply()
        typer.echo(f"deployment {MONITOR_FLOW}/{MONITOR_DEPLOYMENT} ({deployment_id}) scheduled {cron!r}")
        if not pool:
            typer.echo("no --pool: runs start only while `stackplan monitor --serve` runs", err=True)
        return
    import asyncio

    result = asyncio.run(monitor_flow(**parameters))
    typer.echo(
        f"{len(result['stuck'])} stuck run(s), {len(result['reported'])} newly reported"
        + (" (posted to Slack)" if result["posted"] else "")
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("history")(history)
    app.command("monitor")(monitor)

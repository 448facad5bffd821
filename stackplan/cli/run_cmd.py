"""``stackplan run``: build a plan (a plan.json, or a recipe tree planned on the spot) through Prefect.

A thin shell: it loads or makes the plan, finds a Prefect server (``PREFECT_API_URL``, one left by
``stackplan server start``, or an embedded one it starts and stops), runs the "stackplan-build" flow in
this process with a live view of job states, waits until the server recorded every job's final state,
prints the summary table and where the packages are, and exits 1 when anything failed or was skipped.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import typer

from stackplan.cli.errors import ExitCode, fail, warn
from stackplan.cli.plan_options import Selection, SelectionCommand, selection

HELP = "\n\n".join(
    [
        "Build a plan through Prefect: one subflow per platform, each job after what it needs, "
        "dependents of a failed job skipped, everything independent still built.",
        "TARGET is a plan.json written by `stackplan plan -o` or a recipe tree, planned here with the same "
        "selection flags as `stackplan plan`. With no PREFECT_API_URL stackplan starts its own local Prefect "
        "server (history in .stackplan/, or $STACKPLAN_HOME) and prints the UI address.",
        "Builders: dry-run (no build; waits each job's estimated duration times --time-scale; --fail JOB "
        "makes a job fail), rattler-build (real builds of recipe.yaml into --output-dir, offline unless -c "
        "channels are given), conda-build (meta.yaml, where conda-build is installed). Before the run "
        "stackplan "
        "checks that the builder is installed and can build every selected recipe's format.",
        "The run report (JSON) is written into --output-dir; --resume REPORT (or 'last') re-runs only "
        "what failed or was skipped, reusing what the channel has. Exit code 1 when any job failed.",
        "[bold]Examples[/bold]",
        "Build the example stack:  [cyan]stackplan run examples/stack --builder rattler-build "
        "--output-dir out/channel[/cyan]",
        "Rehearse a plan with one failure:  [cyan]stackplan run plan.json --fail sp-core "
        "--time-scale 0[/cyan]",
        "Re-run what failed last time:  [cyan]stackplan run examples/stack --builder rattler-build "
        "--output-dir out/channel --resume last[/cyan]",
    ]
)


def register(app: typer.Typer) -> None:
    app.command("run", help=HELP, no_args_is_help=True, cls=SelectionCommand)(run)


@selection()
def run(
    target: Path = typer.Argument(..., metavar="TARGET", help="plan.json, or a recipe tree to plan now."),
    builder: str = typer.Option("dry-run", "--builder", "-b", help="dry-run | rattler-build | conda-build."),
    output_dir: Path | None = typer.Option(
        None,
        "--output-dir",
        help="Local channel directory the builds go to (default: out/channel).",
    ),
    parallelism: int = typer.Option(4, "--parallelism", "-P", min=1, help="Jobs at once per platform."),
    fail_jobs: list[str] = typer.Option(
        [], "--fail", help="dry-run: make this job id, package or recipe fail."
    ),
    time_scale: float = typer.Option(
        1.0, "--time-scale", min=0, help="dry-run: factor on estimated durations."
    ),
    resume: str | None = typer.Option(None, "--resume", help="A run report to resume from, or 'last'."),
    retries: int | None = typer.Option(None, "--retries", min=0, help="Retries of infrastructure failures."),
    retry_delay: float | None = typer.Option(None, "--retry-delay", min=0, help="Seconds between retries."),
    pr: int | None = typer.Option(None, "--pr", help="Pull request number (tag pr:N)."),
    deployments: bool = typer.Option(
        False, "--deployments", help="Run each platform on its work pool (after `stackplan deploy`)."
    ),
    no_job_tags: bool = typer.Option(
        False, "--no-job-tags", help="Leave job task runs untagged (see docs/flows.md, Tags)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own log lines too."),
    isolation: str | None = typer.Option(
        None,
        "--isolation",
        help="process | container: linux and noarch jobs each in a fresh container (rattler-build, or "
        "conda-build with an --image that has it; default: stackplan.yaml's isolation, else process).",
    ),
    container_engine: str | None = typer.Option(
        None, "--container-engine", help="podman | docker (default: the one on PATH that works)."
    ),
    image: str | None = typer.Option(
        None, "--image", help="Image for container jobs (default: `stackplan image build`'s)."
    ),
    keep_server: bool | None = typer.Option(
        None,
        "--keep-server/--stop-server",
        help="When this command starts the local Prefect server: leave it running for the UI (default on a"
        " terminal; `stackplan server stop` stops it) or stop it at the end (default otherwise).",
    ),
    *,
    sel: Selection,
) -> None:
    _quiet_prefect_console(verbose)
    channel, sel = _output_dir(output_dir, sel)
    if target.is_file():
        plan_flags = [f for f in sel.given() if f != "--channel"]
        if plan_flags:
            fail(f"{target} is a plan JSON; plan flags ({', '.join(plan_flags)}) apply to a recipe tree only")
        from stackplan.cli.plan_cmd import read_plan

        plan = read_plan(target)
    elif target.is_dir():
        plan = _plan_root(target, sel, learn=builder != "dry-run")
    else:
        fail(f"{target}: no such plan file or recipe tree")
    plan = plan if plan.hash else plan.with_hash()
    options = _options(
        plan, builder, channel, fail_jobs, time_scale, resume, retries, retry_delay, deployments
    )
    if sel.channels():
        options["builder_options"]["channels"] = list(sel.channels())
    # isolation first: a builder whose every job builds in a container needs its tool in the image only
    options["builder_options"].update(_isolation(plan, builder, isolation, container_engine, image))
    _preflight(plan, builder, options)
    if no_job_tags:
        options["tag_jobs"] = False
    if keep_server is None:
        keep_server = sys.stdin.isatty() and sys.stdout.isatty()
    code = _execute(plan, builder, channel, parallelism, pr, options, keep_server, isolation)
    raise typer.Exit(code)


def _output_dir(output_dir: Path | None, sel: Selection) -> tuple[Path, Selection]:
    """The output channel, and the selection with its input channels.

    Until this release ``run --channel DIR`` named the output channel; ``-c/--channel`` now means an
    input channel, as in conda-build. For one release a single local ``--channel`` given without
    ``--output-dir`` keeps its old meaning, with a deprecation warning.
    """
    from dataclasses import replace

    channels = sel.channels()
    if output_dir is not None:
        return output_dir, sel
    if len(channels) == 1 and "://" not in channels[0] and ("/" in channels[0] or Path(channels[0]).is_dir()):
        warn(
            f"`run --channel {channels[0]}` as the output channel is deprecated:"
            f" use --output-dir {channels[0]}"
            " (-c/--channel will mean an input channel only, as in conda-build)"
        )
        return Path(channels[0]), replace(sel, channel=None)
    return Path("out/channel"), sel


def _preflight(plan, builder: str, options: dict) -> None:
    """Refuse before the run when the builder is missing or cannot build a selected recipe's format."""
    from flows.builders.preflight import preflight
    from flows.run.lanes import split_lanes

    jobs = [job for lane in split_lanes(plan, only=options.get("only")) for job in lane.jobs]
    problems = preflight(builder, jobs, options.get("builder_options"))
    if problems:
        fail("cannot start the run:\n  " + "\n  ".join(problems), ExitCode.ENVIRONMENT)


def _ui_note(server, kept: bool) -> str:
    """What to do for the UI once this command ends, when it started the local Prefect server itself."""
    if kept:
        return (
            f"Prefect UI stays up at {server.ui} (history in {server.home}); "
            "stop it with: stackplan server stop"
        )
    return (
        "The local Prefect server stopped with this command. To browse this run in the UI: "
        f"stackplan server start  (same history in {server.home}; it prints the UI address)"
    )


def _quiet_prefect_console(verbose: bool) -> None:
    """Build output goes to Prefect's API at INFO; the terminal shows our own view unless --verbose."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if os.environ.get("PREFECT_LOGGING_LEVEL", "").upper() not in ("DEBUG",):
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "INFO" if verbose else "CRITICAL"
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL"] = "INFO" if verbose else "CRITICAL"
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL"] = "INFO" if verbose else "CRITICAL"


def _plan_root(root: Path, sel: Selection, learn: bool = True):
    """Plan ``root`` with the same selection options (and the same errors) as ``stackplan plan``.
    ``learn``: use durations learned from history (not for a dry run, which waits each job's estimated
    duration: learned minutes would make it as slow as the real builds; ``--durations`` still counts)."""
    from planner.graph.cycles import CycleError
    from planner.plan.build import PlanError, build_plan
    from stackplan.cli.progress import reporter_for

    try:
        plan = build_plan(sel.request(root, learn=learn), reporter=reporter_for())
    except CycleError as exc:
        fail(f"{exc}\n(--strict-cycles: not breaking them)", ExitCode.CYCLE)
    except (PlanError, NotADirectoryError) as exc:
        fail(f"cannot plan {root}: {exc}")
    for err in plan.errors:
        typer.echo(str(err), err=True)
    if plan.inputs.get("durations"):
        typer.echo(f"durations: {plan.inputs['durations']}", err=True)
    return plan


def _options(
    plan, builder, channel, fail_jobs, time_scale, resume, retries, retry_delay, deployments
) -> dict:
    from flows.builders import BUILDERS

    if builder not in BUILDERS:
        fail(f"unknown builder {builder!r}; expected one of: {', '.join(sorted(BUILDERS))}")
    options: dict[str, Any] = {"builder_options": {}}
    if builder == "dry-run":
        options["builder_options"] = {"fail": list(fail_jobs), "time_scale": time_scale}
    elif fail_jobs:
        fail("--fail works with --builder dry-run only")
    if retries is not None:
        options["retries"] = retries
    if retry_delay is not None:
        options["retry_delay"] = retry_delay
    if deployments:
        from flows.server.embedded import running

        if not os.environ.get("PREFECT_API_URL") and running() is None:
            fail(
                "--deployments needs the server the workers use: "
                "set PREFECT_API_URL or run `stackplan server start`",
                ExitCode.ENVIRONMENT,
            )
        options["dispatch"] = "deployments"
    if resume:
        from flows.run.report import latest_run, load_run
        from flows.run.resume import ResumeError, resume_options

        path = latest_run(channel) if resume == "last" else Path(resume)
        if path is None or not path.is_file():
            fail(
                f"no run to resume from ({resume!r}; runs are recorded in "
                f"{channel}/stackplan-run-*.jsonl and .json)"
            )
        try:
            earlier = load_run(path)
            options.update(resume_options(plan, earlier, channel.resolve()))
        except (ResumeError, ValueError, KeyError, OSError) as exc:
            fail(f"{path}: {exc}")
        typer.echo(
            f"Resuming run {earlier.get('run') or path.stem} ({earlier.get('state', '?')}, started "
            f"{earlier.get('started', '?')}, plan {str(earlier.get('plan_hash', ''))[:12]}): "
            f"{len(options['only'])} jobs to run, {len(options['reused'])} reused from the channel",
            err=True,
        )
    return options


def _isolation(plan, builder: str, isolation, engine, image) -> dict[str, Any]:
    """The builder options of the isolation asked for (flag, else stackplan.yaml), checked before the run
    (flows/builders/container.py): with containers, the engine must work and run the image. The
    stackplan.yaml read is the one at the plan's root as this process sees it: a ``<state>/...`` root
    (a webhook build's checkout) is resolved against this state directory first (planner/state.py)."""
    from flows.builders.container import EngineError, IsolationError, isolation_options
    from planner.state import resolve_state_ref

    try:
        return isolation_options(resolve_state_ref(plan.root), builder, isolation, engine, image)
    except EngineError as exc:  # no engine works here, or it cannot run the image: this machine cannot
        fail(str(exc), ExitCode.ENVIRONMENT)
    except IsolationError as exc:  # a bad --isolation value for this builder: the command line
        fail(str(exc))


def _execute(
    plan,
    builder: str,
    channel: Path,
    parallelism: int,
    pr: int | None,
    options: dict,
    keep: bool = False,
    isolation: str | None = None,
) -> int:
    from rich.console import Console

    from flows.run import liveness, outcomes
    from flows.run.lanes import split_lanes
    from flows.run.runner import run_plan, wait_recorded
    from flows.server.embedded import ServerError, prefect_api, running
    from stackplan.cli.run_view import LiveView, summary_table

    console = Console(stderr=True)
    total = sum(len(lane.jobs) for lane in split_lanes(plan, only=options.get("only")))
    if total == 0:
        console.print("Nothing to build: the plan has no buildable jobs.")
        return 0
    t0 = time.monotonic()
    liveness.handle_signals()
    started_here = not os.environ.get("PREFECT_API_URL") and running() is None
    try:
        with prefect_api(echo=False, keep=keep) as server:
            _reap(console)
            t1 = time.monotonic()
            console.print(
                f"Prefect UI: [link={server.ui}]{server.ui}[/link]"
                + (f"  (history in {server.home})" if server.home else "")
            )
            view = LiveView(console, total)
            outcomes.LISTENERS.append(view.on_event)
            try:
                with view:
                    result = run_plan(
                        plan,
                        builder=builder,
                        channel=str(channel),
                        parallelism=parallelism,
                        pr=pr,
                        options=options,
                        isolation=isolation,  # the flag: it wins over a deployment's on the workers
                    )
            finally:
                outcomes.LISTENERS.remove(view.on_event)
            t2 = time.monotonic()
            recorded, _counts = wait_recorded(result.report, timeout=60)
            console.print(
                f"server ready in {t1 - t0:.1f}s, run took {t2 - t1:.1f}s, "
                f"states recorded {time.monotonic() - t2:.1f}s later",
                style="dim",
            )
            if not recorded:
                console.print("[yellow]warning: the server had not recorded every job's state after 60 s")
            if builder != "dry-run":
                _learn_durations(console)
    except ServerError as exc:
        fail(str(exc), ExitCode.ENVIRONMENT)
    Console().print(summary_table(result.report))
    report_path = result.report.get("report_path")
    console.print(
        f"Run {result.state}: " + ", ".join(f"{n} {s.lower()}" for s, n in result.report["counts"].items())
    )
    if report_path:
        console.print(f"Report: {report_path}")
    if started_here:
        console.print(_ui_note(server, keep))
    if builder != "dry-run":
        from flows.builders.publish import packages

        found = packages(channel.resolve())
        console.print(
            f"Packages ({len(found)}) in {channel.resolve()}/ (use it as: -c {channel.resolve().as_uri()})"
        )
    return 0 if result.ok else 1


def _learn_durations(console) -> None:
    """After real builds, while the server is up: refresh the state directory's learned-durations cache
    from Prefect's history (this run's builds included), which the next plan reads
    (flows/events/history.py ``planning_durations``). A failure only warns: the builds are done."""
    import asyncio

    from flows.events.history import refresh_learned_durations

    try:
        learned = asyncio.run(refresh_learned_durations())
    except Exception as exc:  # the server went away, a read-only state dir: the run itself succeeded
        console.print(f"[yellow]durations not learned: {type(exc).__name__}: {exc}")
        return
    if learned:
        from planner.inputs.lists import learned_durations_file

        pairs = sum("@" in k for k in learned)
        where = learned_durations_file()
        console.print(f"learned durations of {pairs} recipe@platform -> {where}", style="dim")


def _reap(console) -> None:
    """Stop the builds and close the flow runs that stackplan processes killed earlier left behind."""
    from flows.run import liveness

    try:
        found = liveness.reap(liveness.crash_flow_runs)
    except Exception as exc:  # cleaning up after others must never stop this run
        console.print(f"[yellow]warning: could not clean up after earlier runs: {exc}")
        return
    if found.owners:
        console.print(f"Cleaned up after {found.summary()}", style="yellow")

"""Container isolation: a linux job builds in a fresh container, as production CI builds linux.

With ``isolation: container`` each linux-* and noarch job runs ``<engine> run --rm`` of the build
image (flows/builders/image.py) with

- ``--network=none`` unless the recipe is one the config allows network (``container_network``);
- the recipe directory mounted read-only at ``/recipe``;
- the local channel mounted read-only at ``/channel``, the build's first input channel; each local
  input channel (``-c DIR`` or ``file://``) mounted read-only at ``/inputs/<i>`` and given to the build
  as ``file:///inputs/<i>`` (:func:`boxed_inputs`); an http(s) input channel is reachable only from a
  recipe the config allows network;
- the job's private output directory (the staging dir) mounted read-write at ``/out``: the only thing
  the build can leave behind, published into the channel by the builder only after the job succeeded;
- what runs in it is the builder's: rattler-build's is stackplan's job runner
  (flows/builders/rattler_job.py, standard library + py-rattler-build), mounted read-only and run with
  the image's ``python``; conda-build's is ``conda build`` of the image (one that has conda-build).

osx-* and win-* jobs keep running as processes (their production builds run on bare-metal workers).
The engine is podman or docker: the one named, else the first of them on PATH that answers
(:func:`find_engine`), checked before the run starts (:func:`check_engine`).
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.builders.publish import STAGING
from flows.run.plan_store import STORE
from planner.plan.model import PlanNode

if TYPE_CHECKING:
    from flows.builders import BuildContext
    from flows.builders.child import ChildResult

CONTAINER = "container"
PROCESS = "process"
ISOLATIONS = (CONTAINER, PROCESS)
ENGINES = ("podman", "docker")
#: What a builder's image must run, checked once before the run (:func:`check_engine`): the command and
#: what it proves the image has. These are the builders that can build a job in a container.
IMAGE_PROBES: dict[str, tuple[tuple[str, ...], str]] = {
    "rattler-build": (("python", "-c", "import rattler_build"), "python and py-rattler-build"),
    "conda-build": (("conda", "build", "--version"), "conda-build (`conda build --version`)"),
}
CONTAINER_BUILDERS = tuple(IMAGE_PROBES)
#: ``<engine> run`` exits with these when the engine, not the command in the container, failed
#: (podman and docker: 125 the engine itself, 126 the command cannot be run, 127 no such command).
ENGINE_EXIT_CODES = (125, 126, 127)


class EngineError(RuntimeError):
    """No container engine works here (what was tried and why), or the image does not run."""


class IsolationError(ValueError):
    """An isolation that does not exist, or that the builder cannot do."""


def isolation_options(
    root: Path | None,
    builder: str,
    isolation: str | None = None,
    engine: str | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """The builder options for the isolation asked for (argument, else ``root``'s stackplan.yaml, else
    process), checked before a run starts: with containers the engine must work and run the image.
    The one place it is decided: by ``stackplan run`` before the run, and through :func:`decide` by the
    flows a deployment starts (main, platform and scheduled ecosystem flows) where they run."""
    from planner.inputs.config import load_config
    from planner.model import RecipeError

    try:
        cfg = load_config(Path(root)) if root is not None and Path(root).is_dir() else None
    except RecipeError:
        cfg = None  # planning reports a bad config itself
    isolation = isolation or (cfg.isolation if cfg else None) or PROCESS
    if isolation not in ISOLATIONS:
        raise IsolationError(f"isolation {isolation!r}: expected one of {', '.join(ISOLATIONS)}")
    if isolation == PROCESS:
        return {"isolation": PROCESS} if builder in CONTAINER_BUILDERS else {}
    if builder not in CONTAINER_BUILDERS:
        raise IsolationError(
            f"isolation container works with the {' and '.join(CONTAINER_BUILDERS)} builders, not {builder}"
        )
    from flows.builders.image import image_tag

    image = image or (cfg.container_image if cfg else None) or image_tag()
    exe = find_engine(engine or (cfg.container_engine if cfg else None))
    check_engine(exe, image, builder)
    return {
        "isolation": CONTAINER,
        "container_engine": exe,
        "container_image": image,
        "container_network": list(cfg.container_network) if cfg else [],
    }


def decide(
    options: Mapping[str, Any],
    root: Path | None,
    builder: str,
    isolation: str | None,
    platforms: Iterable[str],
) -> dict[str, Any]:
    """The builder options a flow builds with, decided where it runs (often a worker).

    ``options`` are what the run decided, if it did (``stackplan run``: its --isolation flag, else
    stackplan.yaml, else process, checked before the run started). ``isolation`` overrides that: the
    run's own --isolation passed on to a deployed subflow, or else the isolation the flow's deployment was
    made with (``stackplan deploy --isolation``, a parameter of each deployment; Prefect lays a run's
    parameters over its deployment's). Options that decide nothing (a run created from a deployment by
    a webhook, a schedule or the UI) are decided here as ``stackplan run`` decides them. The engine and
    the image are checked here, where the jobs build, when a job of ``platforms`` builds in a container.
    A builder without a container mode (dry-run) ignores a deployment's isolation."""
    options = dict(options)
    if isolation is not None and isolation not in ISOLATIONS:
        raise IsolationError(f"isolation {isolation!r}: expected one of {', '.join(ISOLATIONS)}")
    if builder not in CONTAINER_BUILDERS or (isolation is None and "isolation" in options):
        return options
    if not any(containerized(p) for p in platforms):  # osx, win, gpu lanes: their jobs are processes
        return {**options, "isolation": isolation} if isolation else options
    engine, image = options.get("container_engine"), options.get("container_image")
    return {**options, **isolation_options(root, builder, isolation, engine, image)}


def isolation_of(params: Mapping[str, Any], platform: str) -> str:
    """How a job of ``platform`` was built, from its platform subflow's flow-run parameters: the
    subflow's ``isolation`` (the run's flag or its deployment's, which :func:`decide` lays over the
    builder options), else its builder options' ``isolation``; container for linux and noarch jobs of a
    builder with a container mode, else process."""
    options = params.get("builder_options")
    asked = params.get("isolation") or (options.get("isolation") if isinstance(options, Mapping) else None)
    boxed = asked == CONTAINER and params.get("builder") in CONTAINER_BUILDERS and containerized(platform)
    return CONTAINER if boxed else PROCESS


def containerized(platform: str) -> bool:
    """Whether a job for ``platform`` runs in a container under container isolation: linux and noarch."""
    return platform == "noarch" or platform.startswith("linux-")


def builder_settings(options: Mapping[str, Any]) -> tuple[str, str, str, list[str]]:
    """A builder's container settings from its options: (isolation, engine, image, network recipes);
    ValueError for an isolation that is not one of :data:`ISOLATIONS`. Shared by the builders that
    have a container mode, so they read the same option names the same way."""
    isolation = str(options.get("isolation") or PROCESS)
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation {isolation!r}: expected one of {', '.join(ISOLATIONS)}")
    return (
        isolation,
        str(options.get("container_engine") or ""),
        str(options.get("container_image") or ""),
        [str(p) for p in options.get("container_network") or ()],
    )


def isolation_for(job: PlanNode, isolation: str) -> str:
    return CONTAINER if isolation == CONTAINER and containerized(job.platform) else PROCESS


def _probe(engine: str) -> str | None:
    """None when ``engine`` works, else why not."""
    exe = shutil.which(engine)
    if exe is None:
        return "not on PATH"
    try:
        proc = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return lines[-1] if lines else f"`{engine} info` exited {proc.returncode}"
    return None


def find_engine(wanted: str | None = None) -> str:
    """The engine to use: ``wanted`` if it works, else the first of podman, docker that works."""
    tried: list[str] = []
    for engine in [wanted] if wanted else ENGINES:
        why = _probe(engine)
        if why is None:
            return engine
        tried.append(f"{engine}: {why}")
    raise EngineError(
        "no container engine works here (" + "; ".join(tried) + "); install podman (docs/containers.md) "
        "or use --isolation process"
    )


def check_engine(engine: str, image: str, builder: str = "rattler-build") -> None:
    """Run the image once (no network) to prove the engine works and the image has what ``builder``
    runs in it (:data:`IMAGE_PROBES`), before any job."""
    probe, needs = IMAGE_PROBES[builder]
    try:
        proc = subprocess.run(
            [engine, "run", "--rm", "--network=none", image, *probe],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"{engine} cannot run {image}: {exc}") from None
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        hint = ""
        if "stackplan-build" in image:
            hint = (
                "; build it with `stackplan image build`"
                if builder == "rattler-build"
                else f"; `stackplan image build` makes an image without {builder}: name one that has it"
                " (--image, or container_image in stackplan.yaml)"
            )
        raise EngineError(f"{engine} cannot run {image} with {needs} (exit {proc.returncode}): {tail}{hint}")


def network_allowed(recipe: str, patterns: Iterable[str]) -> bool:
    """Whether the config lets ``recipe`` (its dir relative to the root) use the network in a container."""
    name = recipe.rstrip("/").rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(recipe, p) or fnmatch.fnmatch(name, p) for p in patterns)


def boxed_inputs(channels: Iterable[str]) -> tuple[list[str], list[tuple[Path, str]]]:
    """The input channels as a containerized build names them, and the (host dir, container path)
    mounts for them (read-only, :func:`run_command`): a local channel (a path or ``file://`` URL) at
    ``/inputs/<i>``, an http(s) one as given.

    >>> urls, mounts = boxed_inputs(["file:///srv/a", "https://example.org/c", "/srv/b"])
    >>> urls
    ['file:///inputs/0', 'https://example.org/c', 'file:///inputs/1']
    >>> [(host.as_posix(), inside) for host, inside in mounts]
    [('/srv/a', '/inputs/0'), ('/srv/b', '/inputs/1')]
    """
    from planner.inputs.channel_index import local_path

    urls: list[str] = []
    mounts: list[tuple[Path, str]] = []
    for channel in channels:
        path = local_path(channel)
        if path is None:
            urls.append(channel)
        else:
            urls.append(f"file:///inputs/{len(mounts)}")
            mounts.append((path, f"/inputs/{len(mounts)}"))
    return urls, mounts


def run_command(
    engine: str,
    image: str,
    *,
    recipe_dir: Path,
    channel: Path,
    out: Path,
    network: bool,
    name: str,
    command: Sequence[str],
    mounts: Sequence[tuple[Path, str]] = (),
) -> list[str]:
    """The ``<engine> run`` command of one job that runs ``command`` in the image (see the module
    docstring); ``mounts``: more (host file, container path) pairs, read-only."""
    cmd = [engine, "run", "--rm", "--name", name, "--init"]
    if not network:
        cmd.append("--network=none")
    cmd += ["-v", f"{recipe_dir}:/recipe:ro", "-v", f"{channel}:/channel:ro", "-v", f"{out}:/out:rw"]
    for host, inside in mounts:
        cmd += ["-v", f"{host}:{inside}:ro"]
    for hidden in (STAGING, STORE):  # other jobs' outputs in progress and the run's records: not inputs
        if (channel / hidden).is_dir():
            cmd += ["--mount", f"type=tmpfs,destination=/channel/{hidden}"]
    cmd += ["-e", "HOME=/tmp/home", "-e", "RATTLER_CACHE_DIR=/tmp/rattler-cache", "-e", "NO_COLOR=1"]
    cmd += ["-e", "PYTHONUNBUFFERED=1"]  # each line reaches the job's log as it is printed
    return [*cmd, "-w", "/out", image, *command]


def run_job(
    engine: str, name: str, cmd: Sequence[str], ctx: BuildContext, result_prefix: str | None = None
) -> ChildResult:
    """Run one job's container to its end (:func:`flows.builders.child.run_child`), recorded with the
    run's liveness record so that a run killed with -9 has it removed at the next start."""
    from flows.builders.child import run_child
    from flows.run import liveness

    liveness.own_container(engine, name)
    try:
        child = run_child(cmd, log=ctx.log, log_file=ctx.log_file, result_prefix=result_prefix)
    except BaseException:
        stop(engine, name)  # --rm removes it when it ends; here it may not have
        raise
    if child.code < 0:  # the engine's client was killed: make sure the container is gone too
        stop(engine, name)
    liveness.container_done(name)
    return child


def stop(engine: str, name: str) -> None:
    """Remove a job's container (when the run stops it before it ended)."""
    subprocess.run([engine, "rm", "-f", "-t", "2", name], capture_output=True)

"""Container isolation for real: ``stackplan image build`` makes the image offline, then ``stackplan run``
builds a stack whose linux and noarch jobs run in podman containers and whose osx job runs as a process;
``stackplan deploy --isolation container`` makes process workers build that way too.

The recipes prove it from the inside: one prints whether ``/run/.containerenv`` (podman's mark; not
docker's ``/.dockerenv``, which this machine kind's own host has) exists; one connects to a port this
test listens on (on the host's own address), which fails under ``--network=none`` and works where the
config allows network and for the osx process job; one writes outside its prefix, which must leave
nothing on the host.

Needs podman (and debootstrap, runc, ...: installed by .ci/run). Skips when podman is absent, except
with ``STACKPLAN_REQUIRE_CONTAINERS=1`` (CI), where a missing engine fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.recipe_files import script_recipe
from tests.stackplan_cli import PROJECT, run_cli, run_report, user_env

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


@pytest.fixture(scope="session")
def build_image() -> str:
    """The build image, built once per machine and inputs (tagged by their digest; the engine's storage
    keeps it across sessions). A file lock lets parallel test workers wait for one build."""
    from flows.builders.container import EngineError, check_engine, find_engine
    from flows.builders.image import build_image as build
    from flows.builders.image import cache_dir

    required = os.environ.get("STACKPLAN_REQUIRE_CONTAINERS") == "1"
    if shutil.which("podman") is None and not required:
        pytest.skip("podman is not installed (.ci/run installs it)")
    try:
        engine = find_engine("podman")
    except EngineError as exc:
        if required:
            raise
        pytest.skip(str(exc))
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".build.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tag = build(engine, log=lambda m: print(m, file=sys.stderr)).tag
    try:  # an engine that builds but cannot run here (podman without .ci/containers.conf: rlimits)
        check_engine(engine, tag)
    except EngineError as exc:
        if required:
            raise
        pytest.skip(f"{exc} (see docs/containers.md; .ci/run sets CONTAINERS_CONF)")
    return tag


def _host_address() -> str:
    """This machine's own non-loopback address (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return s.getsockname()[0]


@contextlib.contextmanager
def _listener():
    """A TCP port on all addresses that accepts and closes connections; yields (address, port)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield _host_address(), server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


def _install(name: str) -> str:
    return f'mkdir -p "$PREFIX/share/{name}" && echo ok > "$PREFIX/share/{name}/f"'


#: podman's mark inside its containers. Not docker's /.dockerenv: this machine kind itself runs in a
#: docker container, so a process on the host sees /.dockerenv too (the tests run podman).
PROBE = 'if [ -f /run/.containerenv ]; then echo "WHERE=container"; else echo "WHERE=host"; fi'


def test_linux_jobs_build_in_containers_without_network_and_leave_nothing_behind(
    build_image, prefect_harness, tmp_path
):
    root, channel = tmp_path / "stack", tmp_path / "channel"
    escaped = tmp_path / "escaped"  # a host path: a build that writes here must not reach the host
    with _listener() as (address, port):
        connect = f"if (exec 3<>/dev/tcp/{address}/{port}); then echo connected; else exit 1; fi"
        script_recipe(root, "box-probe", [PROBE, _install("box-probe")])
        script_recipe(root, "box-probe-noarch", [PROBE, _install("box-probe-noarch")], noarch=True)
        script_recipe(root, "box-net-denied", [connect, _install("box-net-denied")])
        script_recipe(root, "box-net-allowed", [connect, _install("box-net-allowed")])
        escape = f'mkdir -p "{escaped}/$target_platform" && echo x > "{escaped}/$target_platform/file"'
        script_recipe(root, "box-escape", [escape, _install("box-escape")])
        (root / "stackplan.yaml").write_text(
            "platforms: [linux-64, osx-arm64]\nisolation: container\ncontainer_network: [box-net-allowed]\n"
        )
        # the session's Prefect server, not one started by this run: a fresh server's database migrations
        # took 51 s at load 8 here, and at load ~15 can outlast `stackplan run`'s wait for it (exit 4)
        env = user_env(
            tmp_path, PREFECT_API_URL=prefect_harness, RATTLER_CACHE_DIR=str(tmp_path / "rattler-cache")
        )
        # infrastructure failures are retried as in any run (an engine that hiccups on a loaded machine);
        # the denied network is the recipe's own failure, which is never retried (asserted below)
        args = ["run", str(root), "-b", "rattler-build", "--no-cache", "--retries", "2", "--retry-delay", "1"]
        args += ["--output-dir", str(channel), "--image", build_image]
        proc = run_cli(args, env, timeout=None)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # box-net-denied fails on linux
    report_file, report = run_report(channel)
    jobs = {(j["recipe"], j["platform"]): j for j in report["jobs"]}
    logs = report_file.with_suffix(".logs")

    def log(job: dict) -> str:
        from flows.builders.child import job_log_name

        return (logs / job_log_name(job["job"])).read_text()

    for key, job in jobs.items():
        assert job["isolation"] == ("process" if key[1] == "osx-arm64" else "container"), key
    # from the inside: linux and noarch jobs ran in a container, the osx job on the host
    assert "WHERE=container" in log(jobs[("box-probe", "linux-64")])
    assert "WHERE=container" in log(jobs[("box-probe-noarch", "noarch")])
    # (the osx job is a cross build through rattler-build's CLI API, which prints no build log here)
    # no network in a container unless the config allows it; the same script reaches the port elsewhere
    denied = jobs[("box-net-denied", "linux-64")]
    assert denied["state"] == "Failed" and "Network is unreachable" in denied["message"], denied
    assert denied["attempts"] == 1, denied  # a recipe failure: not retried
    assert jobs[("box-net-allowed", "linux-64")]["state"] == "Completed"
    assert jobs[("box-net-denied", "osx-arm64")]["state"] == "Completed"  # a process reaches the port
    # a write outside the prefix stayed in the container
    assert jobs[("box-escape", "linux-64")]["state"] == "Completed"
    assert not (escaped / "linux-64").exists()
    assert (escaped / "osx-arm64" / "file").is_file()  # the same script run as a process did write it
    # what the containers built is in the channel, indexed and readable by all
    built = sorted(p for p in channel.glob("*/*.conda"))
    assert {p.parent.name for p in built} == {"linux-64", "noarch", "osx-arm64"}
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in built)
    linux = json.loads((channel / "linux-64" / "repodata.json").read_text())["packages.conda"]
    assert {v["name"] for v in linux.values()} == {"box-probe", "box-net-allowed", "box-escape"}


def test_a_local_input_channel_is_mounted_into_the_container(build_image, prefect_harness, tmp_path):
    """``-c DIR`` under container isolation: the build has no network and sees the channel read-only at
    ``/inputs/0``; ``box-app`` installs ``box-lib`` from it (built first, as a process, into DIR)."""
    upstream, out = tmp_path / "upstream", tmp_path / "out"
    script_recipe(tmp_path / "lib", "box-lib", [_install("box-lib")])
    app_script = [PROBE, 'test -f "$PREFIX/share/box-lib/f"', _install("box-app")]
    script_recipe(tmp_path / "app", "box-app", app_script, host=["box-lib"])
    cache = str(tmp_path / "rattler-cache")
    env = user_env(tmp_path, PREFECT_API_URL=prefect_harness, RATTLER_CACHE_DIR=cache)
    flags = ["-p", "linux-64", "-b", "rattler-build", "--no-cache", "--retries", "0"]
    run_cli(["run", str(tmp_path / "lib"), *flags, "--output-dir", str(upstream)], env, check=0, timeout=None)
    args = ["run", str(tmp_path / "app"), *flags, "--isolation", "container", "--image", build_image]
    proc = run_cli([*args, "-c", str(upstream), "--output-dir", str(out)], env, timeout=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report_file, report = run_report(out)
    [job] = report["jobs"]
    assert job["isolation"] == "container" and job["state"] == "Completed", job
    from flows.builders.child import job_log_name

    assert "WHERE=container" in (report_file.with_suffix(".logs") / job_log_name(job["job"])).read_text()
    assert [p.name.rsplit("-", 2)[0] for p in out.glob("linux-64/*.conda")] == ["box-app"]


def test_no_working_engine_is_a_clear_error_before_the_run(tmp_path):
    (tmp_path / "r" / "a").mkdir(parents=True)
    (tmp_path / "r" / "a" / "recipe.yaml").write_text("package:\n  name: a\n  version: '1'\n")
    env = {**os.environ, "PATH": str(tmp_path / "empty"), "STACKPLAN_HOME": str(tmp_path / "state")}
    args = ["run", str(tmp_path / "r"), "-p", "linux-64", "-b", "rattler-build", "--isolation", "container"]
    proc = run_cli([*args, "--no-cache", "--output-dir", str(tmp_path / "ch")], env, timeout=None)
    assert proc.returncode == 4, proc.stderr  # this machine cannot do it (docs/commands/conventions.md)
    assert "no container engine works here (podman: not on PATH; docker: not on PATH)" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "state").exists()  # refused before any server


def test_a_state_ref_plan_root_is_resolved_before_isolation_is_chosen(tmp_path):
    """A webhook build's plan has its root as ``<state>/checkouts/...``; ``run`` reads the stackplan.yaml
    found there under this process's state directory: its ``isolation: container`` is refused for the
    dry-run builder before any server starts (read at the literal path it would be missed)."""
    state = tmp_path / "state"
    recipes = state / "checkouts" / "abc" / "recipes"
    (recipes / "a").mkdir(parents=True)
    (recipes / "a" / "recipe.yaml").write_text("package:\n  name: a\n  version: '1'\n")
    env = {**os.environ, "STACKPLAN_HOME": str(state)}
    plan = run_cli(["plan", str(recipes), "-p", "linux-64", "--no-cache", "-q"], env, check=0).stdout
    (recipes / "stackplan.yaml").write_text("isolation: container\n")
    data = json.loads(plan)
    data["root"] = "<state>/checkouts/abc/recipes"
    (tmp_path / "plan.json").write_text(json.dumps(data))
    args = ["run", str(tmp_path / "plan.json"), "-b", "dry-run", "--output-dir", str(tmp_path / "ch")]
    proc = run_cli(args, env, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "isolation container works with the rattler-build and conda-build builders, not dry-run" in (
        proc.stderr
    )
    assert not (tmp_path / "ch").exists()


def test_the_scheduled_rebuild_takes_its_isolation_from_stackplan_yaml(
    build_image, prefect_harness, build_env, tmp_path
):
    """The nightly deployment's flow decides isolation where it runs, from the repo's stackplan.yaml."""
    from flows.run.ecosystem_flow import ecosystem_flow

    root, channel = tmp_path / "stack", tmp_path / "channel"
    script_recipe(root, "box-probe", [PROBE, _install("box-probe")])
    (root / "stackplan.yaml").write_text(
        f"platforms: [linux-64]\nisolation: container\ncontainer_image: {build_image}\n"
    )
    state = ecosystem_flow(
        str(root), str(channel), builder="rattler-build", dispatch="local", return_state=True
    )
    assert state.is_completed(), state.message
    report_file, report = run_report(channel)
    [job] = report["jobs"]
    assert job["isolation"] == "container" and job["state"] == "Completed"
    from flows.builders.child import job_log_name

    assert "WHERE=container" in (report_file.with_suffix(".logs") / job_log_name(job["job"])).read_text()


@pytest.fixture
def container_workers(build_image, prefect_harness, tmp_path):
    """``stackplan deploy -p linux-64 --isolation container`` into the session's Prefect server and a
    Prefect *process* worker on pool linux-64, started as an operator starts one; yields the environment
    of commands that use them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_API_URL=prefect_harness,
        PYTHONPATH=str(PROJECT),
        STACKPLAN_HOME=str(tmp_path / "state"),
        HOME=str(tmp_path / "home"),
        RATTLER_CACHE_DIR=str(tmp_path / "rattler-cache"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
    )
    (tmp_path / "home").mkdir()
    deployed = run_cli(["deploy", "-p", "linux-64", "--isolation", "container"], env, check=0)
    lines = {line.split()[1]: line for line in deployed.stdout.splitlines() if line.startswith("deployment")}
    for name in ("stackplan-platform/linux-64", "stackplan-build/build"):
        assert "isolation container" in lines[name], deployed.stdout
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", "linux-64", "--type", "process"],
        cwd=PROJECT,
        env=env,
        stdout=open(log, "wb"),  # noqa: SIM115 - the worker writes to it until it is stopped
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield env, log
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _report(channel: Path) -> tuple[dict, dict[str, str]]:
    """The run report in ``channel`` and each job's build log, by recipe."""
    from flows.builders.child import job_log_name

    report_file, report = run_report(channel)
    logs = report_file.with_suffix(".logs")
    return report, {j["recipe"]: (logs / job_log_name(j["job"])).read_text() for j in report["jobs"]}


def test_deployments_made_with_container_isolation_build_linux_jobs_in_containers_on_process_workers(
    build_image, container_workers, tmp_path
):
    """`stackplan deploy --isolation container`: the platform subflows that run on a plain process worker
    build each linux and noarch job in a container there; a run's own --isolation still wins; a run
    created from the build deployment (as a webhook creates one) builds in containers too."""
    from prefect.client.orchestration import get_client

    from planner.plan.build import PlanRequest, build_plan

    env, worker_log = container_workers
    root = tmp_path / "stack"
    script_recipe(root, "box-probe", [PROBE, _install("box-probe")])
    script_recipe(root, "box-probe-noarch", [PROBE, _install("box-probe-noarch")], noarch=True)
    # the repo says nothing of isolation: the deployment decides; the image is the one this test built
    (root / "stackplan.yaml").write_text(f"platforms: [linux-64]\ncontainer_image: {build_image}\n")

    def run(channel: Path, *flags: str) -> dict[str, str]:
        args = ["run", str(root), "-b", "rattler-build", "--no-cache", "--deployments"]
        proc = run_cli([*args, "--output-dir", str(channel), *flags], env, timeout=900)
        assert proc.returncode == 0, proc.stdout + proc.stderr + worker_log.read_text()[-3000:]
        report, logs = _report(channel)
        assert len(report["jobs"]) == 2
        with get_client(sync_client=True) as client:  # the session's server: the harness set it
            for job in report["jobs"]:  # the lane ran from its deployment, on the linux-64 pool
                lane = client.read_flow_run(job["flow_run"])
                assert lane.deployment_id is not None and lane.work_pool_name == "linux-64", job
        return {j["recipe"]: j["isolation"] for j in report["jobs"]} | {
            f"{r} says": "container" if "WHERE=container" in text else "host" for r, text in logs.items()
        }

    boxed = run(tmp_path / "ch-deployment")
    assert boxed == {
        "box-probe": "container",
        "box-probe-noarch": "container",
        "box-probe says": "container",
        "box-probe-noarch says": "container",
    }
    # the run's own choice is laid over the deployment's
    assert run(tmp_path / "ch-process", "--isolation", "process") == {
        "box-probe": "process",
        "box-probe-noarch": "process",
        "box-probe says": "host",
        "box-probe-noarch says": "host",
    }

    # a run of the main flow's deployment (how `stackplan serve` starts a PR's build) decides on the worker
    plan = build_plan(PlanRequest(root=root))
    channel = tmp_path / "ch-main"
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("stackplan-build/build")
        assert deployment.parameters == {"isolation": "container"}
        flow_run = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"plan": plan.to_dict(), "builder": "rattler-build", "channel": str(channel)},
        )
        deadline = time.monotonic() + 900
        while True:
            state = client.read_flow_run(flow_run.id).state
            if state is not None and state.is_final():
                break
            assert time.monotonic() < deadline, worker_log.read_text()[-3000:]
            time.sleep(1)
    assert state.is_completed(), (state.message, worker_log.read_text()[-3000:])
    report, logs = _report(channel)
    assert {j["recipe"]: j["isolation"] for j in report["jobs"]} == {
        "box-probe": "container",
        "box-probe-noarch": "container",
    }
    assert all("WHERE=container" in text for text in logs.values())


def test_a_worker_that_cannot_run_the_image_fails_each_job_saying_why(
    build_image, prefect_harness, build_env, tmp_path
):
    """A platform subflow from a deployment with container isolation checks the engine and the image on
    its worker before any job: there, an image the engine cannot run fails every job with the reason."""
    from flows.run.plan_store import store_plan
    from flows.run.platform_flow import platform_flow
    from planner.plan.build import PlanRequest, build_plan

    root, channel = tmp_path / "stack", tmp_path / "channel"
    script_recipe(root, "box-probe", [PROBE, _install("box-probe")])
    plan = build_plan(PlanRequest(root=root, platforms=("linux-64",))).with_hash()
    state = platform_flow(
        plan.hash,
        "linux-64",
        str(store_plan(plan, channel)),
        [n.id for n in plan.nodes],
        builder="rattler-build",
        builder_options={"container_image": "localhost/stackplan-absent:none"},
        channel=str(channel),
        root=str(root),
        isolation="container",
        return_state=True,
    )
    assert state.is_failed()
    [job] = state.result(raise_on_failure=False).outcomes
    assert job["state"] == "Failed" and job["message"].startswith("linux-64 worker: podman cannot run")
    assert "localhost/stackplan-absent:none" in job["message"]
    assert not list(channel.glob("*/*.conda"))


# ---- conda-build in containers ----------------------------------------------------------------------------
# conda-build is not installable here (not on PyPI, no Debian package), so the image's ``conda`` is a
# stand-in: it answers ``conda build --version``, prints the argv it got and what it sees, and writes a
# small but valid package into the output folder. Everything around it (the engine, mounts, staging,
# publishing, the check before the run) is real.

FAKE_CONDA_IN_IMAGE = """#!/usr/bin/env python3
import io, json, re, sys, tarfile
from pathlib import Path

args = sys.argv[1:]
if args[:2] == ["build", "--version"]:
    print("conda-build 25.1.1")
    sys.exit(0)
print("FAKE-CONDA-ARGV " + json.dumps(args))
print("FAKE-CONDA-WHERE " + ("container" if Path("/run/.containerenv").exists() else "host"))
try:
    Path("/channel/written-by-a-build").write_text("x")
    print("FAKE-CONDA-CHANNEL writable")
except OSError:
    print("FAKE-CONDA-CHANNEL read-only")
meta = (Path(args[1]) / "meta.yaml").read_text()
name = re.search(r"name: (\\S+)", meta).group(1)
if "FAIL-ME" in meta:
    print(f"ERROR: {name}: the build script exited 1", file=sys.stderr)
    sys.exit(1)
variants = json.loads(args[args.index("--variants") + 1])
subdir = "noarch" if "noarch:" in meta else variants["target_platform"][0]
out = Path(args[args.index("--output-folder") + 1]) / subdir
out.mkdir(parents=True, exist_ok=True)
index = {"name": name, "version": "1.0", "build": "h0_0", "build_number": 0, "depends": [],
         "subdir": subdir}
with tarfile.open(out / f"{name}-1.0-h0_0.tar.bz2", "w:bz2") as t:
    for member, data in (("info/index.json", index), ("info/paths.json", {"paths": [], "paths_version": 1})):
        raw = json.dumps(data).encode()
        info = tarfile.TarInfo(member)
        info.size = len(raw)
        t.addfile(info, io.BytesIO(raw))
"""


@pytest.fixture(scope="session")
def conda_image(build_image, tmp_path_factory) -> str:
    """The build image plus the stand-in ``conda`` (``podman build`` of a local base: no registry)."""
    import hashlib

    ctx = tmp_path_factory.mktemp("conda-image")
    (ctx / "conda").write_text(FAKE_CONDA_IN_IMAGE)
    (ctx / "conda").chmod(0o755)
    (ctx / "Containerfile").write_text(f"FROM {build_image}\nCOPY conda /usr/local/bin/conda\n")
    digest = hashlib.sha256((build_image + FAKE_CONDA_IN_IMAGE).encode()).hexdigest()[:12]
    tag = f"localhost/stackplan-test-conda:{digest}"
    subprocess.run(
        ["podman", "build", "-q", "-t", tag, str(ctx)], check=True, capture_output=True, timeout=600
    )
    return tag


def _meta(root: Path, name: str, extra: str = "") -> None:
    (root / name).mkdir(parents=True)
    (root / name / "meta.yaml").write_text(f"package:\n  name: {name}\n  version: '1.0'\n{extra}")


def _conda_node(recipe: str, platform: str, noarch: bool = False):
    from planner.plan.model import OutputRef, PlanNode, Reason, SelectKind

    target = "noarch" if noarch else platform
    return PlanNode(
        id=f"{recipe}-1.0-0@{target}",
        recipe=recipe,
        format="v0",
        platform=target,
        build_platform=platform,
        variant={"python": "3.11"},
        outputs=(OutputRef(recipe, "1.0", 0, "generic" if noarch else None),),
        selected=Reason(SelectKind.ALL),
        layer=0,
        duration_estimate=0.0,
        pool=platform,
        test_pool=platform,
    )


def test_conda_build_in_a_container_builds_from_the_image_and_publishes_only_after_success(
    conda_image, tmp_path
):
    from flows.builders import BuildContext, RecipeFailure, get_builder

    root, channel = tmp_path / "recipes", tmp_path / "channel"
    _meta(root, "zz-lib")
    _meta(root, "zz-doc", "build:\n  noarch: generic\n")
    _meta(root, "zz-bad", "# FAIL-ME\n")
    options = {
        "isolation": "container",
        "container_engine": "podman",
        "container_image": conda_image,
        # input channels: a local one is mounted read-only at /inputs/0, a URL is passed as it is
        "channels": [(tmp_path / "extra").as_uri(), "https://conda.example.org/extra"],
    }
    (tmp_path / "extra" / "noarch").mkdir(parents=True)
    builder = get_builder("conda-build", options)
    builder.prepare(channel, ("linux-64", "noarch"))

    def build(node):
        lines: list[str] = []
        result = builder.build(node, BuildContext(root=root, channel=channel, log=lines.append))
        return result, lines

    lib, lines = build(_conda_node("zz-lib", "linux-64"))
    [argv] = [json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("FAKE-CONDA-ARGV ")]
    assert argv == [
        "build",
        "/recipe",
        "--output-folder",
        "/out",
        "--no-anaconda-upload",
        "--no-test",
        "--override-channels",
        "-c",
        "file:///channel",
        "-c",
        "file:///inputs/0",
        "-c",
        "https://conda.example.org/extra",
        "--variants",
        json.dumps({"python": ["3.11"], "target_platform": ["linux-64"]}, sort_keys=True),
    ]
    assert "FAKE-CONDA-WHERE container" in lines and "FAKE-CONDA-CHANNEL read-only" in lines
    assert lib.packages == ("linux-64/zz-lib-1.0-h0_0.tar.bz2",)
    doc, _ = build(_conda_node("zz-doc", "linux-64", noarch=True))
    assert doc.packages == ("noarch/zz-doc-1.0-h0_0.tar.bz2",)
    # published: moved into the channel, readable by all, indexed
    for pkg in (*lib.packages, *doc.packages):
        assert (channel / pkg).stat().st_mode & 0o777 == 0o644
        subdir, name = pkg.split("/")
        assert name in json.loads((channel / subdir / "repodata.json").read_text())["packages"]
    # a failed build: a recipe failure with the output's tail, nothing published, no staging left
    with pytest.raises(
        RecipeFailure, match=r"conda build failed \(exit code 1\)(.|\n)*build script exited 1"
    ):
        build(_conda_node("zz-bad", "linux-64"))
    assert sorted(p.name for p in channel.glob("*/*.tar.bz2")) == [
        "zz-doc-1.0-h0_0.tar.bz2",
        "zz-lib-1.0-h0_0.tar.bz2",
    ]
    assert not any((channel / ".stackplan-staging").iterdir())
    assert not (channel / "written-by-a-build").exists()


def test_conda_build_with_container_isolation_needs_conda_build_in_the_image(
    build_image, conda_image, prefect_harness, tmp_path
):
    """`stackplan run -b conda-build --isolation container`: refused before the run when the image has no
    conda-build (stackplan's own image has not); with one that has, the host needs no conda at all."""
    root = tmp_path / "recipes"
    _meta(root, "zz-lib")
    env = user_env(tmp_path, PREFECT_API_URL=prefect_harness)
    assert shutil.which("conda", path=env["PATH"]) is None  # the host has none: the image's is used

    def run(image: str, channel: Path) -> subprocess.CompletedProcess:
        args = ["run", str(root), "-p", "linux-64", "-b", "conda-build", "--isolation", "container"]
        args += ["--no-cache", "--image", image, "--output-dir", str(channel)]
        return run_cli(args, env, timeout=900)

    refused = run(build_image, tmp_path / "ch-refused")
    assert refused.returncode == 4, refused.stdout + refused.stderr  # this machine cannot do it
    assert f"podman cannot run {build_image} with conda-build (`conda build --version`)" in refused.stderr
    assert (
        "`stackplan image build` makes an image without conda-build: name one that has it" in refused.stderr
    )
    assert "Traceback" not in refused.stderr and not (tmp_path / "ch-refused").exists()  # before the run

    built = run(conda_image, tmp_path / "ch")
    assert built.returncode == 0, built.stdout + built.stderr
    _, report = run_report(tmp_path / "ch")
    [job] = report["jobs"]
    assert (job["isolation"], job["state"], job["packages"]) == (
        "container",
        "Completed",
        ["linux-64/zz-lib-1.0-h0_0.tar.bz2"],
    )

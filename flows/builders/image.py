"""The build image for container isolation, made offline from Debian's packages and a local wheelhouse.

No image registry is needed (none is reachable where stackplan builds): ``stackplan image build``

1. makes a Debian root filesystem with ``debootstrap --variant=minbase --include=python3,python3-venv
   bookworm`` (from Debian's packages) and imports it with ``<engine> import`` as the *base* image;
2. downloads py-rattler-build (the version this stackplan runs) and its dependencies as wheels on the
   host (``pip download``, into a wheelhouse), runs the base image once with the wheelhouse mounted
   read-only and no network, ``pip install --no-index`` into ``/opt/venv``, and commits that as the
   *build* image, with ``/opt/venv/bin`` first on ``PATH``.

Each image is tagged by a digest of its inputs (suite, packages, requirements, this recipe's version),
so it is built only when they change; the base image is reused when only the wheels change.
stackplan's job runner itself is not baked in: it is mounted read-only into each job's container
(flows/builders/container.py), so any image with ``python`` and py-rattler-build works (``--image``)
and a change to stackplan never forces an image rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

#: Bump when the steps below change in a way the inputs do not show.
RECIPE_VERSION = 1
SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = ("python3", "python3-venv")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: bookworm's python3, which the wheels must fit.
IMAGE_PYTHON = "3.11"
VENV = "/opt/venv"
IMAGE_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REPOSITORY = "localhost/stackplan-build"
BASE_REPOSITORY = "localhost/stackplan-base"


class ImageError(RuntimeError):
    """The image could not be built (which step, and its output)."""


def requirements() -> list[str]:
    """What the build image's venv holds: the py-rattler-build and py-rattler this stackplan runs with
    (the job runner, flows/builders/rattler_job.py, imports both)."""
    return [f"py-rattler-build=={version('py-rattler-build')}", f"py-rattler=={version('py-rattler')}"]


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def base_tag() -> str:
    inputs = {"recipe": RECIPE_VERSION, "suite": SUITE, "variant": VARIANT, "packages": PACKAGES}
    return f"{BASE_REPOSITORY}:{_digest(inputs)}"


def image_tag() -> str:
    """The default build image: tagged by a digest of everything that goes into it."""
    inputs = {"base": base_tag(), "requirements": requirements(), "python": IMAGE_PYTHON, "arch": _arch()}
    return f"{REPOSITORY}:{_digest(inputs)}"


def cache_dir() -> Path:
    """Where wheelhouses and root filesystems are made (``$STACKPLAN_IMAGE_CACHE`` or
    ``~/.cache/stackplan/image``): shared by every checkout and test session on the machine."""
    env = os.environ.get("STACKPLAN_IMAGE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "stackplan" / "image"


@dataclass(frozen=True)
class ImageBuild:
    tag: str
    built: bool  # False: it existed already (inputs unchanged)
    seconds: float
    size: int  # bytes, as the engine reports


def image_exists(engine: str, tag: str) -> bool:
    proc = subprocess.run([engine, "image", "inspect", tag], capture_output=True, text=True)
    return proc.returncode == 0


def image_size(engine: str, tag: str) -> int:
    proc = subprocess.run(
        [engine, "image", "inspect", "--format", "{{.Size}}", tag], capture_output=True, text=True
    )
    try:
        return int(proc.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return 0


def build_image(
    engine: str,
    *,
    mirror: str | None = None,
    log: Callable[[str], None] = print,
    force: bool = False,
) -> ImageBuild:
    """Build (or find) :func:`image_tag` with ``engine`` (see module docstring)."""
    t0 = time.monotonic()
    tag = image_tag()
    if not force and image_exists(engine, tag):
        return ImageBuild(tag, False, time.monotonic() - t0, image_size(engine, tag))
    work = cache_dir()
    work.mkdir(parents=True, exist_ok=True)
    base = base_tag()
    if force or not image_exists(engine, base):
        _build_base(
            engine, base, work, mirror or os.environ.get("STACKPLAN_DEBIAN_MIRROR") or DEFAULT_MIRROR, log
        )
    wheels = _wheelhouse(work, log)
    name = f"stackplan-image-build-{os.getpid()}"
    script = (
        f"python3 -m venv {VENV} && {VENV}/bin/pip install -q --no-index --find-links /wheels "
        + " ".join(f"'{r}'" for r in requirements())
    )
    log(f"installing {', '.join(requirements())} from the wheelhouse into {base}")
    _run(
        [
            engine,
            "run",
            "--name",
            name,
            "--network=none",
            "-v",
            f"{wheels}:/wheels:ro",
            base,
            "sh",
            "-c",
            script,
        ]
    )
    try:
        _run([engine, "commit", "--change", f"ENV PATH={IMAGE_PATH}", name, tag])
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True)
    return ImageBuild(tag, True, time.monotonic() - t0, image_size(engine, tag))


def _build_base(engine: str, tag: str, work: Path, mirror: str, log: Callable[[str], None]) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is not installed (Debian: apt-get install debootstrap)")
    rootfs = work / "rootfs"
    tar = work / "rootfs.tar"
    shutil.rmtree(rootfs, ignore_errors=True)
    log(f"debootstrap --variant={VARIANT} --include={','.join(PACKAGES)} {SUITE} ({mirror})")
    _run(
        ["debootstrap", f"--variant={VARIANT}", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), mirror]
    )
    try:
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        _run(["tar", "-C", str(rootfs), "-cf", str(tar), "."])
        log(f"{engine} import -> {tag}")
        _run([engine, "import", "--change", "CMD /bin/bash", str(tar), tag])
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
        tar.unlink(missing_ok=True)


def _wheelhouse(work: Path, log: Callable[[str], None]) -> Path:
    """The wheels of :func:`requirements` for the image's python, downloaded once per requirement set."""
    wheels = work / f"wheels-{_digest([requirements(), IMAGE_PYTHON, _arch()])}"
    if (wheels / ".complete").is_file():
        return wheels
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    arch = _arch()
    platforms = [f"manylinux_2_{v}_{arch}" for v in (36, 34, 31, 28, 17)] + [f"manylinux2014_{arch}"]
    log(f"pip download {' '.join(requirements())} (python {IMAGE_PYTHON}, {arch}) -> {wheels}")
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--dest", str(wheels)]
    cmd += ["--python-version", IMAGE_PYTHON, "--implementation", "cp"]
    cmd += [a for p in platforms for a in ("--platform", p)]
    cmd += ["--platform", "any", *requirements()]
    _run(cmd)
    (wheels / ".complete").write_text("")
    return wheels


def _arch() -> str:
    return {"aarch64": "aarch64", "arm64": "aarch64"}.get(platform.machine(), platform.machine())


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ImageError(f"{' '.join(cmd[:3])} ... exited {proc.returncode}:\n{tail}")

"""The local channel: a directory of ``<subdir>/*.conda`` plus ``repodata.json`` that builds read from.

Publishing is atomic for readers: a package file is renamed into its subdir from a staging directory
inside the channel (same filesystem), and py-rattler's indexer writes ``repodata.json`` to a temporary
file and renames it over the old one, so a reader (or a run killed mid-publish) sees either the old or
the new index, never half of one; a package renamed in just before a kill is indexed by the next
publish. Packages built in a container come out mode 0600: published files are made 0644.

Several jobs finish at once (threads of one subflow, or workers of several) and each publishes into the
same channel, so publishing (moving package files in and re-indexing) happens under one lock: a
thread lock inside the process and an ``fcntl`` file lock across processes. Builds write into a
private staging directory first, so a half-written package is never visible in the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

LOCK_NAME = ".stackplan-index.lock"
STAGING = ".stackplan-staging"
_THREAD_LOCK = threading.Lock()


def init_channel(channel: Path, subdirs: Iterable[str]) -> None:
    """Create ``CHANNEL/<subdir>/repodata.json`` (empty) for noarch and every target that lacks one: a
    solver given ``file://CHANNEL`` needs each subdir it looks at to exist."""
    channel.mkdir(parents=True, exist_ok=True)
    for subdir in sorted({"noarch", *subdirs}):
        repodata = channel / subdir / "repodata.json"
        if not repodata.exists():
            repodata.parent.mkdir(parents=True, exist_ok=True)
            repodata.write_text(
                json.dumps({"info": {"subdir": subdir}, "packages": {}, "packages.conda": {}})
            )


@contextlib.contextmanager
def channel_lock(channel: Path) -> Iterator[None]:
    """Exclusive access to the channel's index, across threads and processes."""
    channel.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK, open(channel / LOCK_NAME, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def publish(channel: Path, staged: Iterable[Path]) -> list[str]:
    """Move staged package files into ``CHANNEL/<subdir>/`` and re-index, under the lock.

    Returns the channel-relative paths of the published files.
    """
    staged = list(staged)
    published: list[str] = []
    with channel_lock(channel):
        subdirs: set[str] = set()
        for pkg in staged:
            subdir = pkg.parent.name
            dest = channel / subdir / pkg.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(pkg), dest)
            dest.chmod(0o644)  # world-readable like any channel file (container builds write 0600)
            subdirs.add(subdir)
            published.append(f"{subdir}/{pkg.name}")
        for subdir in sorted(subdirs):
            index(channel, subdir)
    return sorted(published)


def index(channel: Path, subdir: str) -> None:
    """Re-index one subdir (and noarch) of the channel with py-rattler. Call under :func:`channel_lock`."""
    from rattler import Platform
    from rattler.index import index_fs

    asyncio.run(index_fs(channel, target_platform=Platform(subdir), write_zst=False, write_shards=False))


def packages(channel: Path) -> list[str]:
    """Every package file in the channel, channel-relative, sorted."""
    if not channel.is_dir():
        return []
    found = [*channel.glob("*/*.conda"), *channel.glob("*/*.tar.bz2")]
    return sorted(str(p.relative_to(channel)) for p in found if not p.parent.name.startswith("."))


def staging_dir(channel: Path, key: str) -> Path:
    """A fresh private output directory for one job's build."""
    path = channel / STAGING / key
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path

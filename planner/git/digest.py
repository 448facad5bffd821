"""The content digest of a recipe dir, from the files on disk or from a git commit without checking it out.

Both sides hash the same thing: the sorted list of ``(path relative to the recipe dir, git blob id of
the file's bytes)``. The blob id is what git stores for a file (``sha1("blob <size>\\0" + bytes)``), so
for a commit it is read from ``git ls-tree`` for free, and on disk it costs one read and one SHA-1 of
each (small) file. Equal digests from either side mean equal bytes under equal names: ``stackplan
preview --head`` keys the render cache from the commit's tree and checks out only the recipes whose
render is not cached (:mod:`planner.git.commit_tree`).

Which files count (the same rules on both sides):

- every file under the recipe dir, at any depth, by its bytes (symlinks followed on disk);
- except under a directory named in :data:`SKIP_DIRS` (VCS and tool caches), and except under a nested
  directory that holds a ``meta.yaml`` / ``recipe.yaml``: that is a recipe of its own
  (``recipes/<name>/<version>/``), its changes are not the parent's;
- empty directories, permissions and timestamps play no part.

A commit side that meets a symlink or a submodule in a recipe dir gives no digest (None): what it points
to is not in the blob, so that recipe is checked out and hashed from disk instead.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

#: Names whose presence makes a directory a recipe dir of its own.
RECIPE_FILES = ("meta.yaml", "recipe.yaml")
#: Directories that never hold anything a render reads.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache"})
#: Files are read in chunks of this size (a stray tarball in a recipe dir does not fill memory).
CHUNK = 4 * 1024 * 1024


def blob_id(path: str, size: int) -> str:
    """git's blob id of the file at ``path`` (``size`` bytes long)."""
    h = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    with open(path, "rb") as f:
        if size <= CHUNK:
            h.update(f.read())
        else:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
    return h.hexdigest()


def files_digest(files: Iterable[tuple[str, str]]) -> str:
    """The digest of ``(relative path, blob id)`` pairs, in any order."""
    h = hashlib.blake2b(digest_size=20)
    for rel, blob in sorted(files):
        h.update(f"{rel}\0{blob}\0".encode())
    return h.hexdigest()


def dir_files(path: Path | str) -> list[tuple[str, str]]:
    """``(relative path, blob id)`` of every file of the recipe dir at ``path`` that counts (see the
    module docstring). Unreadable entries get an error marker instead of a blob id, so they cannot be
    confused with content."""
    found: list[tuple[str, str]] = []
    stack = [(str(path), "")]
    while stack:
        abs_dir, rel_dir = stack.pop()
        try:
            entries = list(os.scandir(abs_dir))
        except OSError as exc:
            found.append((rel_dir, f"error:{type(exc).__name__}"))
            continue
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=True):
                    if entry.name in SKIP_DIRS:
                        continue
                    if any(os.path.exists(os.path.join(entry.path, n)) for n in RECIPE_FILES):
                        continue  # another recipe (recipes/<name>/<version>/): its changes are not ours
                    stack.append((entry.path, rel + "/"))
                    continue
                found.append((rel, blob_id(entry.path, entry.stat(follow_symlinks=True).st_size)))
            except OSError as exc:
                found.append((rel, f"error:{type(exc).__name__}"))
    return found


def dir_digest(path: Path | str) -> str:
    """The digest of the recipe dir at ``path``, read from disk."""
    return files_digest(dir_files(path))


def tree_digests(files: Sequence[tuple[str, str, str]], recipe_dirs: Iterable[str]) -> dict[str, str | None]:
    """Digest of each recipe dir in ``recipe_dirs`` from a commit's file list, without reading a file.

    ``files`` holds ``(path, git mode, blob id)`` for every file of the commit (paths relative to the
    repository top, posix); ``recipe_dirs`` are paths of the same kind. A recipe dir holding a symlink or
    a submodule among the files that count maps to None (hash it from disk after checking it out).
    """
    holders = set()  # every dir holding a recipe file: the boundary of the recipe dir above it
    for path, _, _ in files:
        head, _, name = path.rpartition("/")
        if name in RECIPE_FILES:
            holders.add(head)
    wanted = {d: [] for d in recipe_dirs}
    broken: set[str] = set()
    for path, mode, blob in files:
        parts = path.split("/")
        # the nearest dir holding a recipe file, walking up from the file's own dir
        for cut in range(len(parts) - 1, -1, -1):
            owner = "/".join(parts[:cut])
            if owner in holders:
                break
        else:
            continue
        if owner not in wanted:
            continue
        inner = parts[cut:]
        if any(p in SKIP_DIRS for p in inner[:-1]):
            continue
        if mode in ("120000", "160000"):
            broken.add(owner)
        wanted[owner].append(("/".join(inner), blob))
    return {d: (None if d in broken else files_digest(pairs)) for d, pairs in wanted.items()}

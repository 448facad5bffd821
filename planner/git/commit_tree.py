"""A commit's recipe tree, read from git's object store, checked out only where a render needs files.

``stackplan preview --head REF`` plans the recipes as they are at REF. Checking out a whole
bioconda-sized tree (9,000 recipe dirs, 25,000 files) costs seconds of disk writes for a preview whose
renders are almost all in the cache. :class:`CommitTree` instead:

1. lists the commit's files with ``git ls-tree -r`` (one call, names + blob ids, no file written);
2. finds the recipe dirs in that list by the rules of :func:`planner.inputs.discover.discover`, and their
   content digests from the blob ids (:func:`planner.git.digest.tree_digests`), which are exactly
   the digests a checkout would give, so the render cache is keyed without reading a file;
3. writes into its directory every file that is not inside a recipe dir (stackplan.yaml, variant
   configs, scripts: small) and, on demand, the recipe dirs whose render is not cached
   (:meth:`materialize`), with ``git cat-file --batch`` (one process for any number of files).

Paths are laid out as in the repository (``dest/<path from the repository top>``), so a plan made in
``dest`` reads like one made in a full checkout. Pure in the planner's sense: git through
``subprocess``, no global state.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from planner.gc_pause import gc_paused
from planner.git.changes import GitError
from planner.git.digest import tree_digests
from planner.inputs.discover import RECIPE_FILES, SKIP_DIRS, recipe_source
from planner.model import RecipeSource

__all__ = ["CommitTree", "list_files"]

_RECIPE_NAMES = frozenset(name for name, _ in RECIPE_FILES)


def _run(top: Path, args: list[str], data: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", str(top), *args], input=data, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed") from exc
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {' '.join(args[:3])}: {lines[-1] if lines else f'exit {proc.returncode}'}")
    return proc.stdout


def list_files(top: Path, sha: str) -> list[tuple[str, str, str]]:
    """``(path, mode, blob id)`` of every file of commit ``sha`` (paths from the repository top)."""
    out = _run(top, ["ls-tree", "-r", "-z", "--full-tree", "--end-of-options", sha])
    files = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, _kind, blob = meta.decode().split(" ")
        files.append((path.decode("utf-8", errors="surrogateescape"), mode, blob))
    return files


def _hidden(part: str) -> bool:
    return part.startswith(".") or part in SKIP_DIRS


class CommitTree:
    """The files of commit ``sha`` of the repository at ``top``, to be planned under ``dest``.

    ``root`` is the planning root relative to ``top`` (``""`` for the top itself).
    """

    def __init__(self, top: Path, sha: str, root: str, dest: Path) -> None:
        self.top, self.sha, self.dest = Path(top), sha, Path(dest)
        self.root = root.strip("/") if root not in (".", "") else ""
        with gc_paused():
            self._index(sha)

    def _index(self, sha: str) -> None:
        self.files = list_files(self.top, sha)
        found = self._discover()
        self.sources = tuple(s for s, _ in found)
        self._top_rels = {s.rel: top_rel for s, top_rel in found}
        digests = tree_digests(self.files, self._top_rels.values())
        #: recipe dir (absolute path under ``dest``) -> digest, for the dirs a digest is known of
        self.digests = {str(s.path): d for s, top_rel in found if (d := digests.get(top_rel)) is not None}
        self._written: set[str] = set()
        self._recipe_dirs = set(self._top_rels.values())

    # -- discovery --------------------------------------------------------------------------------------

    def _discover(self) -> list[tuple[RecipeSource, str]]:
        """The recipe dirs under ``root``, as :func:`planner.inputs.discover.discover` finds them."""
        prefix = f"{self.root}/" if self.root else ""
        names: dict[str, set[str]] = {}
        for path, mode, _ in self.files:
            if not path.startswith(prefix) or mode == "160000":
                continue
            head, _, name = path[len(prefix) :].rpartition("/")
            if head and any(_hidden(p) for p in head.split("/")):
                continue
            names.setdefault(head, set()).add(name)
        base = self.dest / self.root if self.root else self.dest
        found = []
        for rel, files in sorted(names.items()):
            if files & _RECIPE_NAMES:
                source = recipe_source(Path(f"{base}/{rel}") if rel else base, rel or ".", files)
                if source is not None:
                    found.append((source, f"{prefix}{rel}".rstrip("/")))
        found.sort(key=lambda pair: pair[0].rel)
        return found

    # -- checkout ---------------------------------------------------------------------------------------

    def _owner(self, path: str) -> str | None:
        """The recipe dir a file belongs to (the nearest one above it), or None."""
        parts = path.split("/")
        for cut in range(len(parts) - 1, -1, -1):
            owner = "/".join(parts[:cut])
            if owner in self._recipe_dirs:
                return owner
        return None

    def materialize_support(self) -> None:
        """Write every file that is not inside a recipe dir (configs, stackplan.yaml, scripts)."""
        self._write([f for f in self.files if self._owner(f[0]) is None])

    def materialize(self, sources: Iterable[RecipeSource]) -> None:
        """Write the files of these recipe dirs (nested recipe dirs included: a render may read them)."""
        wanted = {self._top_rels[s.rel] for s in sources} - self._written
        if not wanted:
            return
        self._written |= wanted
        self._write([f for f in self.files if _under(f[0], wanted)])

    def materialize_paths(self, paths: Iterable[Path]) -> None:
        """Write the files at or under these paths (under ``dest``; others are ignored)."""
        wanted = set()
        for path in paths:
            try:
                rel = Path(path).relative_to(self.dest).as_posix()
            except ValueError:
                continue
            wanted.add("" if rel == "." else rel)
        if wanted:
            self._write([f for f in self.files if f[0] in wanted or _under(f[0], wanted)])

    def _write(self, files: list[tuple[str, str, str]]) -> None:
        files = [f for f in files if f[1] != "160000"]  # submodules: an empty dir, as in a checkout
        if not files:
            self.dest.mkdir(parents=True, exist_ok=True)
            return
        out = _run(self.top, ["cat-file", "--batch"], "".join(f"{b}\n" for _, _, b in files).encode())
        pos = 0
        for path, mode, _ in files:
            nl = out.index(b"\n", pos)
            size = int(out[pos:nl].split(b" ")[2])
            data = out[nl + 1 : nl + 1 + size]
            pos = nl + 1 + size + 1
            target = self.dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.exists():
                continue
            if mode == "120000":
                os.symlink(os.fsdecode(data), target)
                continue
            target.write_bytes(data)
            if mode == "100755":
                target.chmod(0o755)

    def holds(self, path: Path) -> bool:
        """True when ``path`` lies under ``dest`` (a file of the commit, not one outside the repository)."""
        try:
            Path(path).relative_to(self.dest)
        except ValueError:
            return False
        return True

    def outside(self, path: Path) -> Path:
        """``path`` under ``dest`` as the same path in the user's repository (others unchanged)."""
        try:
            return self.top / Path(path).relative_to(self.dest)
        except ValueError:
            return Path(path)


def _under(path: str, dirs: set[str]) -> bool:
    """True when ``path`` lies inside one of ``dirs`` (``""``: the repository top holds everything)."""
    parts = path.split("/")
    return any("/".join(parts[:cut]) in dirs for cut in range(len(parts)))

"""What changed, from git: the files of a commit range, mapped to the recipe dirs that hold them.

Git is run through ``subprocess`` (the ``git`` the user has), never through a library: the range
syntax, merge bases and error messages are then exactly git's. Any file under a recipe dir marks that
recipe changed (meta.yaml, recipe.yaml, build scripts, patches, a local conda_build_config.yaml);
a deleted ``meta.yaml`` / ``recipe.yaml`` whose dir is no longer a recipe is a *deleted recipe*,
reported rather than crashed on.

>>> recipes_for_paths(["recipes/a/build.sh", "recipes/b/1.0/meta.yaml", "README.md"],
...                   ["recipes/a", "recipes/b", "recipes/b/1.0"])
{'recipes/a': ['recipes/a/build.sh'], 'recipes/b/1.0': ['recipes/b/1.0/meta.yaml']}
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from planner.errors import GitError

RECIPE_FILES = ("meta.yaml", "recipe.yaml")


@dataclass(frozen=True)
class FileChange:
    """One changed file, relative to the planning root (posix), with git's status letter (A/M/D/T)."""

    status: str
    path: str


def _git(cwd: Path, *args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, encoding="utf-8"
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed") from exc
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        raise GitError(f"git {' '.join(args)}: {msg}")
    return proc.stdout


def toplevel(path: Path) -> Path:
    """The top of the git work tree holding ``path``."""
    return Path(_git(path, "rev-parse", "--show-toplevel").strip()).resolve()


def split_range(rev_range: str) -> tuple[str, str, bool]:
    """``BASE..HEAD`` -> (BASE, HEAD, False); ``BASE...HEAD`` -> (BASE, HEAD, True: from the merge
    base); a single ``BASE`` means ``BASE..HEAD``."""
    if "..." in rev_range:
        base, head = rev_range.split("...", 1)
        return base or "HEAD", head or "HEAD", True
    if ".." in rev_range:
        base, head = rev_range.split("..", 1)
        return base or "HEAD", head or "HEAD", False
    return rev_range, "HEAD", False


def resolve_rev(root: Path, rev: str) -> str:
    """The full commit sha of ``rev`` (raises :class:`GitError` with git's message when unknown)."""
    return _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip() or _unknown(rev)


def _unknown(rev: str) -> str:
    raise GitError(f"unknown revision {rev!r}")


def merge_base_of(root: Path, a: str, b: str) -> str:
    """The merge base of two commits (for ``BASE...HEAD``: what a pull request changed)."""
    return _git(root.resolve(), "merge-base", a, b).strip()


def changed_files(root: Path, rev_range: str) -> list[FileChange]:
    """Files changed in ``rev_range`` under ``root``, relative to ``root``, sorted.

    Renames count as a deletion plus an addition (both recipe dirs are affected).
    """
    root = root.resolve()
    base, head, merge_base = split_range(rev_range)
    try:
        base_sha, head_sha = resolve_rev(root, base), resolve_rev(root, head)
    except GitError as exc:
        raise GitError(f"{rev_range}: {exc}") from None
    if merge_base:
        base_sha = merge_base_of(root, base_sha, head_sha)
    out = _git(root, "diff", "--name-status", "--no-renames", "-z", base_sha, head_sha, "--", ".")
    top = toplevel(root)
    prefix = root.relative_to(top).as_posix()
    fields = out.split("\0")
    changes = []
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        if not status:
            continue
        rel = _relative(path, prefix)
        if rel is not None:
            changes.append(FileChange(status[0], rel))
    return sorted(changes, key=lambda c: c.path)


def _relative(path: str, prefix: str) -> str | None:
    if prefix in ("", "."):
        return path
    pure = PurePosixPath(path)
    try:
        return pure.relative_to(prefix).as_posix()
    except ValueError:
        return None


def file_at(root: Path, rev: str, rel: str) -> str | None:
    """The text of ``rel`` (relative to ``root``) at revision ``rev``, or None when it did not exist."""
    try:
        return _git(root.resolve(), "show", f"{rev}:./{rel}")
    except GitError:
        return None


def recipe_of(path: str, recipe_dirs: Iterable[str]) -> str | None:
    """The deepest recipe dir holding ``path`` (``recipes/x/1.0`` wins over ``recipes/x``)."""
    holders = [r for r in recipe_dirs if r in ("", ".") or path == r or path.startswith(r + "/")]
    # the root itself (".") is the shallowest holder; otherwise the longest dir is the deepest
    return max(holders, key=lambda r: -1 if r in ("", ".") else len(r), default=None)


def recipes_for_paths(paths: Iterable[str], recipe_dirs: Iterable[str]) -> dict[str, list[str]]:
    """recipe dir -> the changed paths under it (paths outside every recipe dir are left out)."""
    dirs = sorted(set(recipe_dirs))
    found: dict[str, list[str]] = {}
    for path in sorted(set(paths)):
        owner = recipe_of(path, dirs)
        if owner is not None:
            found.setdefault(owner, []).append(path)
    return dict(sorted(found.items()))


def deleted_recipes(changes: Iterable[FileChange], recipe_dirs: Iterable[str]) -> list[str]:
    """Dirs whose recipe file was deleted and that are no longer recipes."""
    current = set(recipe_dirs)
    gone = set()
    for change in changes:
        pure = PurePosixPath(change.path)
        if change.status == "D" and pure.name in RECIPE_FILES:
            rel = pure.parent.as_posix()
            if rel not in current:
                gone.add(rel)
    return sorted(gone)


def describe_paths(paths: list[str], limit: int = 3) -> str:
    """A short human list for reasons: ``meta.yaml, build.sh and 2 more``."""
    names = [p.rsplit("/", 1)[-1] if "/" in p else p for p in paths]
    head = ", ".join(names[:limit])
    return head + (f" and {len(names) - limit} more" if len(names) > limit else "")

"""The recipe tree of a commit, without touching the user's work tree: detached git worktrees.

Two users: ``stackplan preview --head REF`` plans the recipes *as they are at REF* while the work tree
has something else checked out (a temporary worktree, removed when the plan is made, also on error);
the webhook receiver (``flows/events/dispatch.py``) keeps one worktree per pushed sha under
``<state>/checkouts/<sha>`` because the build run it starts reads its recipes from there later, and
prunes the ones older than a few days (:func:`prune_checkouts`).

A worktree, not ``git archive``: it shares the clone's objects, so git commands run inside it (the
planner's ``git diff BASE...HEAD`` for changed recipes and changed variant-config keys) see the
whole history. Pure in the planner's sense: git through ``subprocess``, no global state (callers that
share a checkout dir between threads hold their own lock).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from planner.git.changes import GitError

__all__ = [
    "CHECKOUTS_DIR",
    "add_worktree",
    "cached_checkout",
    "head_of",
    "prune_checkouts",
    "remove_worktree",
    "temporary_checkout",
]

#: The sub-directory of a state dir that holds per-sha checkouts.
CHECKOUTS_DIR = "checkouts"


def _git(repo: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed") from exc
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {' '.join(args)}: {lines[-1] if lines else f'exit {proc.returncode}'}")
    return proc.stdout.decode(errors="replace")


def head_of(path: Path) -> str | None:
    """The commit checked out at ``path``, or None when it is not a (working) git tree."""
    proc = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def add_worktree(repo: Path, rev: str, dest: Path) -> Path:
    """``git worktree add --detach dest rev``: the tree of ``rev`` at ``dest`` (which must not exist)."""
    _git(repo, "worktree", "add", "--detach", "--quiet", "--", str(dest), f"{rev}^{{commit}}")
    return dest


def remove_worktree(repo: Path, dest: Path) -> None:
    """Remove a worktree made by :func:`add_worktree` and git's record of it; never raises.

    ``git worktree remove --force`` first; if that fails (the dir was half made, or already gone),
    the dir is deleted and ``git worktree prune`` drops the stale record.
    """
    proc = subprocess.run(
        ["git", "-C", str(repo), "worktree", "remove", "--force", "--", str(dest)],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0 or dest.exists():
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True, check=False)


@contextlib.contextmanager
def temporary_checkout(repo: Path, rev: str, *, prefix: str = "stackplan-checkout-") -> Iterator[Path]:
    """A detached worktree of ``repo`` at ``rev`` in a fresh temp dir, removed on exit (also on error).

    Raises :class:`planner.git.changes.GitError` (git's message) when ``rev`` is unknown.
    """
    holder = Path(tempfile.mkdtemp(prefix=prefix))
    dest = holder / "tree"
    try:
        add_worktree(repo, rev, dest)
        yield dest
    finally:
        remove_worktree(repo, dest)
        shutil.rmtree(holder, ignore_errors=True)


def cached_checkout(repo: Path, sha: str, state_dir: Path) -> Path:
    """A detached worktree at ``<state_dir>/checkouts/<sha>``, made once and reused while intact.

    A broken earlier attempt (dir present, other or no HEAD) is removed and made again. Each use
    touches the dir, so :func:`prune_checkouts` measures age from the last use, not the first.
    """
    dest = state_dir / CHECKOUTS_DIR / sha
    if dest.is_dir() and head_of(dest) == sha:
        os.utime(dest)
        return dest
    if dest.exists():
        remove_worktree(repo, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return add_worktree(repo, sha, dest)


def prune_checkouts(
    repo: Path,
    state_dir: Path,
    max_age_seconds: float,
    *,
    keep: Iterable[str] = (),
    now: float | None = None,
) -> list[Path]:
    """Remove checkouts under ``<state_dir>/checkouts/`` last used more than ``max_age_seconds`` ago.

    ``keep`` names shas never removed (the one being planned). Returns the removed dirs, sorted. A
    build run reads its plan's root from its checkout, so the age should exceed how long a queued
    build can wait for a worker (the receiver's default is three days).
    """
    base = state_dir / CHECKOUTS_DIR
    if not base.is_dir():
        return []
    now = time.time() if now is None else now
    kept = set(keep)
    removed = []
    for entry in sorted(base.iterdir()):
        if entry.name in kept or not entry.is_dir():
            continue
        try:
            age = now - entry.stat().st_mtime
        except OSError:
            continue
        if age > max_age_seconds:
            remove_worktree(repo, entry)
            removed.append(entry)
    return removed

"""Plan the recipes as they are at a commit, whatever the work tree has checked out.

``stackplan preview --base main --head feature`` must show what the PR at ``feature`` builds even
when CI (or a person) has ``main`` checked out. :func:`build_plan_at` reads the head commit's tree from
git (:class:`planner.git.commit_tree.CommitTree`) into a temporary directory, plans there and removes it —
also when planning fails. Only files outside recipe dirs and the recipe dirs whose render is not in the
cache are written: a warm preview of a 9,000-recipe tree writes a handful of files, where a full
worktree checkout cost seconds.

Paths in the request that lie inside the repository (ROOT, ``--config``, ``-m`` / ``-e`` variant
configs, ``--skiplist``, ``--changed-files``, ``--durations``) are read at the head commit too, by
mapping them into the worktree; paths outside it are used as given. Revisions are resolved to shas in
the user's repository first, so ``HEAD~1`` means the user's ``HEAD~1``, not the worktree's. The plan
names the user's ROOT (not the temp dir) and its render errors name files under the user's tree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from planner.errors import PlanError
from planner.gc_pause import gc_paused
from planner.git.changes import GitError, merge_base_of, resolve_rev, split_range, toplevel
from planner.git.commit_tree import CommitTree
from planner.model import RecipeError
from planner.plan.build import build_plan, store_now
from planner.plan.model import Plan
from planner.plan.request import PlanRequest
from planner.progress import Reporter

__all__ = ["build_plan_at", "resolve_range"]


def resolve_range(root: Path, rev_range: str) -> str:
    """``BASE...HEAD`` with both ends as shas of ``root``'s repository (``...`` resolved to the merge
    base, so the range means the same in any worktree)."""
    base, head, merge = split_range(rev_range)
    base_sha, head_sha = resolve_rev(root, base), resolve_rev(root, head)
    if merge:
        base_sha = merge_base_of(root, base_sha, head_sha)
    return f"{base_sha}..{head_sha}"


def _into(path: Path | None, top: Path, tree: Path) -> Path | None:
    """``path`` moved into the worktree when it lies inside the repository, else unchanged."""
    if path is None:
        return None
    absolute = Path(os.path.abspath(path))
    try:
        rel = absolute.resolve().relative_to(top)
    except ValueError:
        return path
    return tree / rel


def build_plan_at(
    request: PlanRequest,
    head: str,
    *,
    reporter: Reporter | None = None,
    store_with: Callable[[Callable[[], None]], None] = store_now,
) -> Plan:
    """The plan of ``request`` with the recipes read at commit ``head`` (see the module docstring).

    ``request.changed`` (if any) is resolved in the user's repository. Raises :class:`PlanError` for
    a root outside git or an unknown revision.
    """
    root = Path(request.root)
    if not root.is_dir():
        raise PlanError("not a directory", root)
    try:
        top = toplevel(root)
        head_sha = resolve_rev(top, head)
        changed = resolve_range(root, request.changed) if request.changed else None
    except GitError as exc:
        raise PlanError(str(exc)) from exc
    rel = root.resolve().relative_to(top)
    holder = Path(tempfile.mkdtemp(prefix="stackplan-at-"))
    try:
        commit = CommitTree(top, head_sha, rel.as_posix(), holder / "tree")
        tree = commit.dest
        commit.materialize_support()
        (tree / rel).mkdir(parents=True, exist_ok=True)
        moved = replace(
            request,
            root=tree / rel,
            config_path=_into(request.config_path, top, tree),
            variant_configs=tuple(_into(p, top, tree) or p for p in request.variant_configs),
            exclusive_configs=tuple(_into(p, top, tree) or p for p in request.exclusive_configs),
            changed=changed,
            changed_files=_into(request.changed_files, top, tree),
            skiplist=_into(request.skiplist, top, tree),
            durations=_into(request.durations, top, tree),
        )
        # files the request names inside the repository but inside a recipe dir (a recipe-local
        # config given with -m, say) are not written by materialize_support()
        named = (moved.config_path, *moved.variant_configs, *moved.exclusive_configs)
        named += (moved.changed_files, moved.skiplist, moved.durations)
        commit.materialize_paths(p for p in named if p is not None and not Path(p).exists())
        plan = build_plan(moved, reporter=reporter, tree=commit, store_with=store_with)
        prefix = str(tree)
    except GitError as exc:
        raise PlanError(str(exc)) from exc
    finally:
        shutil.rmtree(holder, ignore_errors=True)

    def outside(value):
        """Paths under the temporary tree as the same paths in the user's repository."""
        if isinstance(value, str) and (value == prefix or value.startswith(prefix + "/")):
            return str(top) + value[len(prefix) :]
        if isinstance(value, list):
            return [outside(v) for v in value]
        return value

    errors = tuple(RecipeError(outside(e.path), e.line, e.message) for e in plan.errors)
    inputs = {**{k: outside(v) for k, v in plan.inputs.items()}, "head": head_sha}
    with gc_paused():  # the process holds the whole linked graph: a full collection is all cost
        return replace(plan, root=str(request.root), errors=errors, inputs=inputs).with_hash()

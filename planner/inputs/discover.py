"""Find the recipe dirs under a root, with their dialect and recipe-local variant files.

One walk covers every layout people use, because a recipe dir is recognised by what it holds, not
by where it sits:

* feedstocks: ``ROOT/<name>-feedstock/recipe/meta.yaml``;
* aggregate / bioconda: ``ROOT/recipes/<name>/meta.yaml`` and old versions in
  ``ROOT/recipes/<name>/<version>/meta.yaml`` (a recipe dir inside a recipe dir is its own recipe);
* ``ROOT`` itself a recipe dir (its ``rel`` is then ``.``, and version subdirs are still found).

A dir holding ``recipe.yaml`` is v1 (rattler-build), one holding ``meta.yaml`` is v0 (conda-build).
A dir holding both is v1: rattler-build reads ``recipe.yaml`` first, and a feedstock half-way through
the v1 migration keeps the stale ``meta.yaml`` around; a :class:`DiscoveryWarning` says so.

The walk uses ``os.scandir`` (one system call per dir, file types from the dir entry), skips hidden
dirs (``.git``, ``.pixi``…), build outputs and symlinked dirs (no loops), and sorts by ``rel`` so the
same tree always gives the same order.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from planner.model import RecipeFormat, RecipeSource

RECIPE_FILES: tuple[tuple[str, RecipeFormat], ...] = (
    ("recipe.yaml", RecipeFormat.V1),
    ("meta.yaml", RecipeFormat.V0),
)
_RECIPE_NAMES = frozenset(f for f, _ in RECIPE_FILES)
#: Variant files next to a recipe that its renderer reads (conda-build and rattler-build both know both).
LOCAL_CONFIGS: tuple[str, ...] = ("conda_build_config.yaml", "variants.yaml")
#: Dirs that hold build products or tool state, never recipes.
SKIP_DIRS: frozenset[str] = frozenset(
    {"build_artifacts", "output", "conda-bld", "node_modules", "__pycache__", "site-packages", "venv"}
)


class DiscoveryWarning(UserWarning):
    """Something odd but not fatal in a recipe tree (e.g. a dir holding both meta.yaml and recipe.yaml)."""


def discover(root: Path) -> tuple[RecipeSource, ...]:
    """Every recipe dir under ``root`` (``root`` included), sorted by ``rel``.

    Raises ``NotADirectoryError`` when ``root`` is not a dir: that is the caller's mistake.
    """
    root = Path(root).absolute()
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: {root}")
    found: list[RecipeSource] = []
    _walk(root, found)
    found.sort(key=lambda s: s.rel)
    return tuple(found)


def recipe_source(path: Path, rel: str, names: set[str] | None = None) -> RecipeSource | None:
    """The :class:`RecipeSource` for one dir, or None when it holds no recipe file."""
    if names is None:
        try:
            names = {e.name for e in os.scandir(path) if e.is_file()}
        except OSError:
            return None
    kinds = [(f, fmt) for f, fmt in RECIPE_FILES if f in names]
    if not kinds:
        return None
    fname, fmt = kinds[0]
    if len(kinds) > 1:
        warnings.warn(
            f"{rel}: holds both recipe.yaml and meta.yaml; using recipe.yaml (v1)",
            DiscoveryWarning,
            stacklevel=3,
        )
    local = tuple(path / c for c in LOCAL_CONFIGS if c in names)
    return RecipeSource(path=path, rel=rel, format=fmt, recipe_file=path / fname, local_configs=local)


def _walk(path: Path, found: list[RecipeSource]) -> None:
    # Strings, not Paths, inside the loop: the walk visits ~10,000 dirs on a bioconda checkout.
    stack: list[tuple[str, str]] = [(str(path), "")]
    while stack:
        dirpath, rel = stack.pop()
        files: set[str] = set()
        subdirs: list[str] = []
        try:
            with os.scandir(dirpath) as entries:
                for e in entries:
                    try:
                        if e.is_file():
                            files.add(e.name)
                        elif e.is_dir(follow_symlinks=False) and not _skipped(e.name):
                            subdirs.append(e.name)
                    except OSError:
                        continue
        except OSError:  # unreadable dir: nothing to find there
            continue
        if files.intersection(_RECIPE_NAMES):
            source = recipe_source(Path(dirpath), rel or ".", files)
            if source is not None:
                found.append(source)
        for name in subdirs:
            stack.append((f"{dirpath}/{name}", f"{rel}/{name}" if rel else name))


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS

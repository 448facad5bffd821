"""Checked once before a run: can this builder build these jobs here? (``stackplan run`` refuses up
front, naming the recipes and the fix, instead of failing every job at run time.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.builders import BUILDERS, UnknownBuilderError
from planner.plan.model import PlanNode

#: builder name -> (the recipe formats it builds, the file of that format) for :func:`preflight`.
FORMATS: dict[str, tuple[tuple[str, ...], str]] = {
    "rattler-build": (("v1",), "recipe.yaml"),
    "conda-build": (("v0",), "meta.yaml"),
}


def installed(name: str, options: Mapping[str, Any] | None = None) -> str | None:
    """None when builder ``name`` can run on this machine, else what is missing and how to get it."""
    if name == "rattler-build":
        import importlib.util

        if importlib.util.find_spec("rattler_build") is None:
            return "the rattler-build builder needs py-rattler-build: pip install py-rattler-build"
    elif name == "conda-build":
        from flows.builders.conda_builder import CondaBuilder  # not at import: a probe per run only

        if CondaBuilder(options or {}).available() is None:
            return (
                "conda-build is not installed here ('conda build --version' fails): install conda-build"
                " (conda install conda-build) or use --builder rattler-build for recipe.yaml recipes"
            )
    return None


def preflight(name: str, jobs: list[PlanNode], options: Mapping[str, Any] | None = None) -> list[str]:
    """What stops builder ``name`` from building these jobs, checked once before a run: the tool is
    not installed, or it cannot read a selected recipe's format. Empty when the run can start."""
    if name not in BUILDERS:
        raise UnknownBuilderError(name)
    from flows.builders.container import CONTAINER, containerized

    problems = []
    boxed = (options or {}).get("isolation") == CONTAINER and all(containerized(j.platform) for j in jobs)
    # every job builds in a container: the tool must be in the image (checked there), not here
    missing = None if boxed and jobs else installed(name, options)
    if missing:
        problems.append(missing)
    if name in FORMATS:
        formats, filename = FORMATS[name]
        wrong = sorted({j.recipe for j in jobs if j.format not in formats})
        if wrong:
            other = next(
                (b for b, (f, _) in FORMATS.items() if b != name and set(f) & {j.format for j in jobs}), None
            )
            shown = ", ".join(wrong[:10]) + (f" and {len(wrong) - 10} more" if len(wrong) > 10 else "")
            problems.append(
                f"--builder {name} builds {filename} recipes; {len(wrong)} selected recipe(s) are not:"
                f" {shown}"
                + (
                    f" (use --builder {other}, or leave them out with -x)"
                    if other
                    else " (leave them out with -x)"
                )
            )
    return problems

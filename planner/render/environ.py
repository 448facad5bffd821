"""The environment a recipe sees when it is rendered: declared, never the process's own.

A recipe may read environment variables: v0 through ``environ[...]`` / ``os.environ`` in Jinja and
selectors, v1 through ``env.get("NAME")``. A pull request's recipe is hostile, and the process that
renders it holds secrets (``GITHUB_TOKEN``, ``STACKPLAN_WEBHOOK_SECRET``, ``SLACK_WEBHOOK_URL``...) and
absolute paths (``HOME``, ``PWD``), which a rendered version or requirement would carry into a PR
comment. So the render environment is built here, from exactly three sources, later ones winning:

1. :data:`BUILD_VARIABLES`: a short allow-list of conda-build's own build variables that describe
   the build machine and hold neither a secret nor a path, taken from the process when set;
2. ``environ:`` in stackplan.yaml;
3. ``--env KEY=VALUE`` on the command line.

Nothing else of ``os.environ`` reaches a renderer. The v0 renderer only ever reads the mapping it is
given. py-rattler-build's Jinja ``env.get`` / ``env.exists`` read the *process* environment
(``std::env::var`` in rattler-build's ``Env`` object), so around every v1 render the process
environment is replaced by the render environment (:func:`process_environ`) and restored after. In a
multi-threaded process (``stackplan serve``) that swap would race with threads reading their own
settings, so the server renders only in worker processes (``planner.render.pool``, ``isolate``),
whose whole environment is the render environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

__all__ = ["BUILD_VARIABLES", "process_environ", "render_environment"]

#: conda-build build variables (``conda_build/environ.py``) passed from the process when set: they
#: describe the machine, never hold a credential or a path. Everything else must be declared.
BUILD_VARIABLES = ("CPU_COUNT", "FEATURE_NOMKL", "MACOSX_DEPLOYMENT_TARGET")


def render_environment(
    declared: Mapping[str, str], process: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The render environment: the allow-listed build variables of ``process`` (default: this
    process), then ``declared`` (stackplan.yaml, then ``--env``), declared values winning.

    >>> render_environment({"CI": "true"}, {"GITHUB_TOKEN": "x", "CPU_COUNT": "4", "HOME": "/root"})
    {'CPU_COUNT': '4', 'CI': 'true'}
    """
    process = os.environ if process is None else process
    env = {name: process[name] for name in BUILD_VARIABLES if name in process}
    env.update(declared)
    return env


@contextmanager
def process_environ(environ: Mapping[str, str]) -> Iterator[None]:
    """The process environment is exactly ``environ`` inside the block, and restored after.

    For renderers that read the process environment themselves (py-rattler-build). Cheap when the
    environment already is ``environ`` (a render worker, or a caller that swapped it around a batch).
    Not thread-safe: the environment is process-wide (see the module docstring).
    """
    if _is_current(environ):
        yield
        return
    saved = dict(os.environ)
    _replace(environ)
    try:
        yield
    finally:
        _replace(saved)


def _is_current(environ: Mapping[str, str]) -> bool:
    """``os.environ == environ``, in the size of ``environ`` (the render environment is small, the
    process environment is not; ``Mapping.__eq__`` would decode every variable)."""
    env = os.environ
    return len(env) == len(environ) and all(env.get(k) == v for k, v in environ.items())


def _replace(environ: Mapping[str, str]) -> None:
    """Make the process environment exactly ``environ``, touching only what differs
    (``os.environ.clear()`` is quadratic: each ``popitem`` lists the whole environment again)."""
    env = os.environ
    for key in [k for k in env if k not in environ]:
        del env[key]
    for key, value in environ.items():
        if env.get(key) != value:
            env[key] = value

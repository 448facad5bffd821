"""The ``stackplan`` command: a thin shell over ``planner`` (pure) and ``flows`` (Prefect).

It lives in its own package so that ``planner`` never imports ``flows`` and so that plain planning
commands (render, plan, preview) start without importing Prefect.
"""

from planner import __version__

__all__ = ["__version__"]

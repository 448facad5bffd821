"""The examples in the planner's docstrings (three-node graphs and friends) run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "planner.matchspec",
    "planner.graph.link",
    "planner.graph.cycles",
    "planner.plan.select",
    "planner.plan.layers",
    "planner.git.changes",
    "planner.git.config_changes",
    "planner.plan.explain",
    "planner.export",
    "planner.export.dot",
    "planner.export.mermaid",
    "planner.gc_pause",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

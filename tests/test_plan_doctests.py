"""The examples in the planner's docstrings (three-node graphs and friends) run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "planner.matchspec",
    "planner.graph",
    "planner.cycles",
    "planner.select",
    "planner.layers",
    "planner.gitchanges",
    "planner.config_changes",
    "planner.explain",
    "planner.export",
    "planner.export.dot",
    "planner.export.mermaid",
    "planner.gc_pause",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

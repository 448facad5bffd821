"""Fixtures for the flow tests: the example plan and private homes (the harness: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from example_plan import example_plan

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples" / "stack"

# The Prefect harness is tests/conftest.py's ``prefect_harness``: one per session for every test
# directory (two harnesses in one process leave Prefect's event client bound to the first server).


@pytest.fixture
def build_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private HOME and rattler cache for tests that run rattler-build."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("RATTLER_CACHE_DIR", str(tmp_path / "rattler-cache"))
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def stack_plan():
    return example_plan(EXAMPLES)

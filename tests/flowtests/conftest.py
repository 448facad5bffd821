"""Fixtures for the flow tests: one Prefect test harness per session, the example plan, private homes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from example_plan import example_plan

from flows.server import SERVER_ENV

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples" / "stack"

# The harness's server inherits these: fast task-run recording and no telemetry.
for _key, _value in SERVER_ENV.items():
    if _key != "PREFECT_LOGGING_LEVEL":
        os.environ.setdefault(_key, _value)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A real Prefect server (Prefect's own test harness, SQLite in a temp dir) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


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

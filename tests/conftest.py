"""Shared fixtures: where the corpus is, and private homes for tools that write caches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("STACKPLAN_CORPUS", PROJECT.parent / "shared" / "corpus"))

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real recipes; tests that need it skip when it is absent."""
    if not (CORPUS / "bioconda" / "recipes").is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server (temporary SQLite) for the whole session; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()

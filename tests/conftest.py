"""Shared fixtures: where the corpus is, and private homes for tools that write caches."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent


def _find_corpus() -> Path:
    """``$STACKPLAN_CORPUS``, else ``shared/corpus`` beside the checkout or beside one of its parents
    (a git worktree may sit a level deeper than the clone CI makes)."""
    if os.environ.get("STACKPLAN_CORPUS"):
        return Path(os.environ["STACKPLAN_CORPUS"])
    for parent in PROJECT.parents:
        candidate = parent / "shared" / "corpus"
        if candidate.is_dir():
            return candidate
    return PROJECT.parent / "shared" / "corpus"


CORPUS = _find_corpus()

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# renders cached by commands under test go to a private dir, never the user's ~/.cache/stackplan
os.environ.setdefault("STACKPLAN_CACHE_DIR", tempfile.mkdtemp(prefix="stackplan-test-cache-"))
# state (learned durations, servers, checkouts) too: a `./dev demo` in the checkout leaves
# ./.stackplan/learned-durations.json, which would give every plan under test real minutes
os.environ.setdefault("STACKPLAN_HOME", tempfile.mkdtemp(prefix="stackplan-test-home-"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real recipes; tests that need it skip when it is absent."""
    if not (CORPUS / "bioconda" / "recipes").is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server (Prefect's own harness, temporary SQLite) for the whole session, shared
    by every test directory; yields its API URL. The server gets stackplan's server settings (fast
    task-run recording, no telemetry), as the embedded server does."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from flows.server.embedded import SERVER_ENV

    for key, value in SERVER_ENV.items():
        if key != "PREFECT_LOGGING_LEVEL":
            os.environ.setdefault(key, value)

    # a fresh server migrates its database first: 51 s at load 8 on this 2-core machine kind, so 120 s
    # was too little under heavier load
    with prefect_test_harness(server_startup_timeout=300):
        yield PREFECT_API_URL.value()

"""A fidelity floor against conda-build's own render (the corpus truth), so regressions fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fidelity import run_set, truth_sets

pytestmark = pytest.mark.corpus

#: Measured at 100% (bioconda) and 99% (Anaconda) over the full truth (docs/fidelity.md); the floor
#: on the first 200 recipes leaves room for one odd recipe, not for a regression of a rule.
FLOOR = {"bioconda": 99.5, "anaconda": 98.0}


@pytest.mark.parametrize(
    "index", [0, 1, 2, 3], ids=["bio-linux-64", "bio-osx-arm64", "ana-linux-64", "ana-win-64"]
)
def test_fidelity_floor(corpus: Path, index: int) -> None:
    tset = truth_sets(corpus)[index]
    result = run_set(tset, corpus, limit=200)
    assert result.compared >= 190
    assert result.percent >= FLOOR[tset.name], dict(result.classes)

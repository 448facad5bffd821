"""Robustness on real recipes beyond the truth sample: a deterministic spread of the whole corpus.

The fidelity benchmark checks 1,500 recipes against conda-build's own render; the renderer "will
also be measured on real recipes that are not in the corpus", so this test renders ~1,000 recipes
taken evenly from ALL 11,031 (bioconda with the conda-forge pinning + bioconda's config, Anaconda
feedstocks with the aggregate config) on linux-64, osx-arm64 and win-64 and holds every render to
what a correct render can never show (``benchmarks.robustness.suspicious``: internal errors,
unrendered Jinja, selectors left in strings, empty names, duplicated outputs...). The whole corpus on
all 8 targets is ``python -m benchmarks robustness`` (figures in docs/robustness.md).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from benchmarks.robustness import corpus_sets, suspicious
from planner.inputs.discover import discover
from planner.model import RecipeFormat, RecipeSource, RenderOptions
from planner.render.recipe import render_recipe

PLATFORMS = ("linux-64", "osx-arm64", "win-64")
SPREAD = 1000


@pytest.mark.corpus
@pytest.mark.slow
def test_a_spread_of_the_whole_corpus_renders_sanely(corpus: Path) -> None:
    work = []
    for s in corpus_sets(corpus):
        work.extend((src, s.options) for src in discover(s.root))
    assert len(work) > 10_000, "the corpus should hold 9,323 + 1,708 recipe dirs"
    step = max(1, len(work) // SPREAD)
    picked = work[::step]
    problems: dict[str, list[str]] = {}
    errors = rendered = 0
    for i, (source, options) in enumerate(picked):
        renders = render_recipe(source, PLATFORMS, options)
        if i % 5 == 0:  # deterministic: a second render gives byte-identical truth lines
            again = render_recipe(source, PLATFORMS, options)
            assert [_line(r) for r in renders] == [_line(r) for r in again], source.rel
        for r in renders:
            where = f"{source.rel}@{r.platform}"
            for cls in suspicious(r):
                problems.setdefault(cls, []).append(f"{where}: {r.error or ''}")
            if r.error is not None:
                errors += 1
                assert r.error.path == str(source.recipe_file), where
                assert r.error.message, where
            else:
                rendered += 1
    assert not problems, {k: v[:5] for k, v in problems.items()}
    assert len(picked) >= SPREAD
    # a broken recipe is rare in a maintained corpus: the whole scan finds 4 of 11,031
    assert errors <= 0.01 * (errors + rendered), errors


def _line(render) -> str:
    return json.dumps(render.truth_line(), sort_keys=True)


# -------------------------- conda-build applies selectors to the source before Jinja (opencv-feedstock)


def test_selectors_inside_a_jinja_statement_apply_before_jinja(tmp_path: Path) -> None:
    d = tmp_path / "selinjinja"
    d.mkdir()
    (d / "meta.yaml").write_text(
        textwrap.dedent(
            """\
            {% set libs = [
                 "core",
                 "dpm",        # [linux]
                 "winonly",    # [win]
            ] %}
            package:
              name: selinjinja
              version: "1.0"
            requirements:
              run:
            {% for lib in libs %}
                - lib{{ lib }}
            {% endfor %}
            """
        )
    )
    src = RecipeSource(d, "selinjinja", RecipeFormat.V0, d / "meta.yaml")
    linux, win = render_recipe(src, ["linux-64", "win-64"], RenderOptions())
    assert linux.error is None and win.error is None
    assert [o.requirements.run for v in linux.variants for o in v.outputs] == [("libcore", "libdpm")]
    assert [o.requirements.run for v in win.variants for o in v.outputs] == [("libcore", "libwinonly")]

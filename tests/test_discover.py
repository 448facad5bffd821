"""planner.inputs.discover: every layout, the dialect, local configs, what is skipped, and the real corpus."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.inputs.discover import DiscoveryWarning, discover
from planner.model import RecipeFormat


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x: 1\n")


def test_aggregate_layout_with_versioned_subdirs_and_local_configs(tmp_path):
    touch(
        tmp_path,
        "recipes/samtools/meta.yaml",
        "recipes/samtools/build.sh",
        "recipes/samtools/1.9/meta.yaml",
        "recipes/samtools/1.9/conda_build_config.yaml",
        "recipes/pysam/meta.yaml",
        "recipes/pysam/patches/fix.patch",
        "recipes/newtool/recipe.yaml",
        "recipes/newtool/variants.yaml",
        "recipes/empty/README.md",
        "README.md",
    )
    found = discover(tmp_path)
    assert [s.rel for s in found] == [
        "recipes/newtool",
        "recipes/pysam",
        "recipes/samtools",
        "recipes/samtools/1.9",
    ]
    by = {s.rel: s for s in found}
    assert by["recipes/newtool"].format is RecipeFormat.V1
    assert by["recipes/newtool"].recipe_file == tmp_path / "recipes/newtool/recipe.yaml"
    assert by["recipes/newtool"].local_configs == (tmp_path / "recipes/newtool/variants.yaml",)
    assert by["recipes/samtools"].format is RecipeFormat.V0
    assert by["recipes/samtools"].local_configs == ()
    assert by["recipes/samtools/1.9"].local_configs == (
        tmp_path / "recipes/samtools/1.9/conda_build_config.yaml",
    )
    assert all(s.path.is_absolute() and s.path == s.recipe_file.parent for s in found)


def test_feedstock_layout(tmp_path):
    touch(
        tmp_path,
        "zlib-feedstock/recipe/meta.yaml",
        "zlib-feedstock/recipe/conda_build_config.yaml",
        "zlib-feedstock/.ci_support/linux_64_.yaml",
        "zlib-feedstock/README.md",
        "abc-feedstock/recipe/recipe.yaml",
    )
    found = discover(tmp_path)
    assert [(s.rel, s.format) for s in found] == [
        ("abc-feedstock/recipe", RecipeFormat.V1),
        ("zlib-feedstock/recipe", RecipeFormat.V0),
    ]


def test_root_itself_a_recipe_dir(tmp_path):
    touch(tmp_path, "meta.yaml", "2.0/meta.yaml")
    assert [s.rel for s in discover(tmp_path)] == [".", "2.0"]


def test_hidden_dirs_build_outputs_and_symlinks_are_skipped(tmp_path):
    touch(
        tmp_path,
        "recipes/a/meta.yaml",
        ".git/recipes/b/meta.yaml",
        ".pixi/envs/c/meta.yaml",
        "output/linux-64/info/recipe/meta.yaml",
        "build_artifacts/x/work/meta.yaml",
        "recipes/a/__pycache__/meta.yaml",
    )
    os.symlink(tmp_path / "recipes", tmp_path / "recipes" / "a" / "loop")
    assert [s.rel for s in discover(tmp_path)] == ["recipes/a"]


def test_both_dialects_in_one_dir_is_v1_with_a_warning(tmp_path):
    touch(tmp_path, "recipes/mixed/meta.yaml", "recipes/mixed/recipe.yaml")
    with pytest.warns(DiscoveryWarning, match="recipes/mixed"):
        [src] = discover(tmp_path)
    assert src.format is RecipeFormat.V1 and src.recipe_file.name == "recipe.yaml"


def test_not_a_dir_raises(tmp_path):
    with pytest.raises(NotADirectoryError):
        discover(tmp_path / "nope")


def test_same_tree_same_result_wherever_it_is(tmp_path):
    for where in ("one", "two/deeper"):
        touch(tmp_path / where, "recipes/b/meta.yaml", "recipes/a/recipe.yaml", "recipes/a/1/meta.yaml")
    one = [(s.rel, s.format) for s in discover(tmp_path / "one")]
    two = [(s.rel, s.format) for s in discover(tmp_path / "two/deeper")]
    assert one == two == [("recipes/a", "v1"), ("recipes/a/1", "v0"), ("recipes/b", "v0")]


@pytest.mark.corpus
def test_the_real_bioconda_tree(corpus):
    found = discover(corpus / "bioconda")
    assert len(found) == 9323
    assert all(s.format is RecipeFormat.V0 and s.rel.startswith("recipes/") for s in found)
    versioned = [s for s in found if s.rel.count("/") == 2]
    assert len(versioned) == 365
    assert [s.rel for s in found] == sorted(s.rel for s in found)
    assert len({s.rel for s in found}) == len(found)


@pytest.mark.corpus
def test_the_corpus_root_gives_the_truth_files_recipe_names(corpus):
    rels = {s.rel for s in discover(corpus)}
    sample = (corpus / "truth" / "sample.txt").read_text().split()
    assert sample and set(sample) <= rels
    anaconda = (corpus / "truth" / "anaconda-sample.txt").read_text().split()
    assert anaconda and set(anaconda) <= rels


names = st.sampled_from(["a", "b", "recipes", "recipe", "1.0", ".hidden", "output", "x-feedstock", "deep"])
files = st.sampled_from(["meta.yaml", "recipe.yaml", "build.sh", "variants.yaml", "conda_build_config.yaml"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.lists(st.tuples(st.lists(names, min_size=0, max_size=4), files), max_size=25))
def test_discover_finds_exactly_the_dirs_holding_a_recipe_file(tmp_path_factory, layout):
    root = tmp_path_factory.mktemp("tree")
    expected: dict[str, set[str]] = {}
    for parts, fname in layout:
        d = root.joinpath(*parts)
        d.mkdir(parents=True, exist_ok=True)
        (d / fname).write_text("x\n")
        visible = not any(p.startswith(".") or p == "output" for p in parts)
        if visible:
            expected.setdefault("/".join(parts) or ".", set()).add(fname)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiscoveryWarning)
        found = discover(root)
    want = {
        rel: ("recipe.yaml" if "recipe.yaml" in fs else "meta.yaml")
        for rel, fs in expected.items()
        if fs & {"meta.yaml", "recipe.yaml"}
    }
    assert {s.rel: s.recipe_file.name for s in found} == want
    assert [s.rel for s in found] == sorted(want)
    for s in found:
        local = {p.name for p in s.local_configs}
        assert local == expected[s.rel] & {"variants.yaml", "conda_build_config.yaml"}

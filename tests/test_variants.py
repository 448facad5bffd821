"""Variant configs: loading with selectors, merging, zip_keys, expansion over used keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.model import RecipeError
from planner.render.v0.used import trim_build_only, used_in_text
from planner.render.variants import VariantConfig, combined_config, expand, load_variant_file, merge_specs

CONFIG = """\
c_compiler:
  - gcc        # [linux]
  - clang      # [osx]
c_compiler_version:   # [unix]
  - 15                # [unix]
python:
  - 3.10.* *_cpython
  - 3.11.* *_cpython
  - 3.12.* *_cpython
is_python_min:
  - true
  - false
  - false
numpy:
  - 2
zlib:
  - 1
cuda:                 # [os.environ.get("CF_CUDA", "0") == "1"]
  - 12                # [os.environ.get("CF_CUDA", "0") == "1"]
zip_keys:
  -
    - python
    - is_python_min
pin_run_as_build:
  libfoo:
    max_pin: x.x
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "conda_build_config.yaml"
    p.write_text(CONFIG)
    return p


def test_load_applies_selectors_and_keeps_strings(cfg: Path) -> None:
    linux = load_variant_file(cfg, "linux-64", {})
    assert linux["c_compiler"] == ["gcc"]
    assert linux["c_compiler_version"] == ["15"]  # a string, not the int 15
    assert linux["numpy"] == ["2"]
    assert linux["zip_keys"] == [["python", "is_python_min"]]
    assert linux["pin_run_as_build"] == {"libfoo": {"max_pin": "x.x"}}
    assert "cuda" not in linux
    win = load_variant_file(cfg, "win-64", {})
    assert "c_compiler" not in win and "c_compiler_version" not in win
    assert load_variant_file(cfg, "linux-64", {"CF_CUDA": "1"})["cuda"] == ["12"]


def test_load_errors_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a:\n  - 1\n b: [\n")
    with pytest.raises(RecipeError) as info:
        load_variant_file(bad, "linux-64", {})
    assert info.value.line is not None
    with pytest.raises(RecipeError):
        load_variant_file(tmp_path / "missing.yaml", "linux-64", {})


def test_later_files_win_and_zip_groups_accumulate() -> None:
    merged = merge_specs(
        [
            {"zlib": ["1"], "python": ["3.10"], "zip_keys": [["a", "b"]], "ignore_version": ["x"]},
            {"zlib": ["2"], "zip_keys": [["python", "numpy"]], "ignore_version": ["y"]},
        ]
    )
    assert merged.values["zlib"] == ["2"]
    assert merged.values["python"] == ["3.10"]
    assert merged.values["ignore_version"] == ["x", "y"]  # extend keys extend
    assert merged.zip_groups == (("a", "b"), ("python", "numpy"))


def test_recipe_local_config_overrides_global(cfg: Path, tmp_path: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text("zlib:\n  - 2\n")
    config = combined_config([cfg, local], "linux-64", {})
    assert config.values["zlib"] == ["2"]
    assert config.values["target_platform"] == ["linux-64"]  # conda-build's internal default


def test_expand_only_over_used_keys_with_zips(cfg: Path) -> None:
    config = combined_config([cfg], "linux-64", {})
    assert len(expand(config, set())) == 1
    by_python = expand(config, {"python"})
    assert [(v["python"], v["is_python_min"]) for v in by_python] == [
        ("3.10.* *_cpython", "true"),
        ("3.11.* *_cpython", "false"),
        ("3.12.* *_cpython", "false"),
    ]
    assert all(v["zlib"] == "1" for v in by_python)  # unused keys keep their first value


def test_noarch_takes_the_newest_python(cfg: Path) -> None:
    config = combined_config([cfg], "linux-64", {})
    (only,) = expand(config, {"python"}, noarch_python=True)
    assert only["python"] == "3.12.* *_cpython"
    assert only["is_python_min"] == "false"  # the zipped partner follows


KEYS = frozenset(
    {"python", "zlib", "c_compiler", "c_compiler_version", "CONDA_BUILD_SYSROOT", "numpy", "perl", "openmpi"}
    | {"r_base", "cdt_name", "mpi", "python_min"}
)
COMPILER_C = {"c_compiler", "c_compiler_version", "CONDA_BUILD_SYSROOT"}


@pytest.mark.parametrize(
    ("text", "used"),
    [
        ("requirements:\n  host:\n    - zlib\n", {"zlib"}),
        ("requirements:\n  host:\n    - zlib  # [linux]\n", {"zlib"}),
        ("requirements:\n  host:\n    - zlib >=1.2\n", set()),  # a version spec: not a variant use
        ("requirements:\n  host:\n    - r-base\n", {"r_base"}),  # dash and underscore agree
        (
            "  build:\n    - {{ compiler('c') }}\n",
            {"c_compiler", "c_compiler_version", "CONDA_BUILD_SYSROOT"},
        ),
        ("  run:\n    - {{ pin_compatible('numpy') }}\n", {"numpy"}),
        ("  string: {{ openmpi }}\n", {"openmpi"}),
        ("{% if mpi == 'openmpi' %}\n", {"mpi", "openmpi"}),
        ("    - {{ cdt('mesa-libgl') }}\n", {"cdt_name"}),
        ("    - {{ pin_subpackage('perl-foo', max_pin='x') }}\n", {"perl"}),  # key, then a non-word
        ("    - {{ pin_subpackage('perlfoo') }}\n", set()),
        ('{% set name = "perl-email-zlib" %}\n', {"perl", "zlib"}),  # whole words right of set
        ('{% set zlib = "x" %}\n', set()),  # the variable being set does not count
        ('{% set name = "zlibber" %}\n', set()),
        ("    - python {{ python_min }}\n", {"python_min"}),  # a whole word: not python
        ("    - python >={{python_min}}\n", {"python_min"}),
        ("{% for m in mpi %}\n", {"mpi"}),
        ("    - foo  # [perl]\n", set()),  # selectors count only on the unselected text
    ],
)
def test_used_in_text(text: str, used: set[str]) -> None:
    assert used_in_text(KEYS, text) == used


def test_used_in_selectors_only_pass() -> None:
    assert used_in_text(KEYS, "    - foo  # [python == '3.12']\n", selectors_only=True) == {"python"}


def test_trim_build_only() -> None:
    # numpy only in run (bare) is dropped; python only in build is ignored (ignore_build_only_deps)
    kept = trim_build_only({"numpy", "python", "zlib"}, ["python"], ["zlib"], ["numpy"], ["python", "numpy"])
    assert kept == {"zlib"}


def test_partial_zip_override_selects_rows(cfg: Path, tmp_path: Path) -> None:
    # a recipe-local config listing fewer pythons than its zip partners selects those rows
    local = tmp_path / "local.yaml"
    local.write_text("python:\n  - 3.11.* *_cpython\n  - 3.12.* *_cpython\n")
    config = combined_config([cfg, local], "linux-64", {})
    assert config.values["python"] == ["3.11.* *_cpython", "3.12.* *_cpython"]
    assert config.values["is_python_min"] == ["false", "false"]
    assert [v["python"] for v in expand(config, {"python"})] == ["3.11.* *_cpython", "3.12.* *_cpython"]


def test_partial_zip_override_with_new_values_is_an_error(cfg: Path, tmp_path: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text("python:\n  - 3.9.* *_cpython\n")
    with pytest.raises(RecipeError) as info:
        combined_config([cfg, local], "linux-64", {})
    assert info.value.path.endswith("local.yaml")


def test_whole_zip_group_override_replaces(cfg: Path, tmp_path: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text("python:\n  - 3.9.* *_cpython\nis_python_min:\n  - true\n")
    config = combined_config([cfg, local], "linux-64", {})
    assert config.values["python"] == ["3.9.* *_cpython"]


def test_zip_group_lengths_must_agree(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a:\n  - 1\n  - 2\nb:\n  - 1\nzip_keys:\n  -\n    - a\n    - b\n")
    with pytest.raises(RecipeError):
        combined_config([bad], "linux-64", {})


# --- properties of the expansion -------------------------------------------------------------

_values = st.lists(st.sampled_from(["1", "2", "3", "4"]), min_size=1, max_size=3, unique=True)


@given(
    a=_values,
    b=_values,
    zipped=st.lists(st.sampled_from(["5", "6", "7"]), min_size=1, max_size=3),
    used=st.sets(st.sampled_from(["a", "b", "z1", "z2", "unused"])),
)
def test_expand_properties(a: list[str], b: list[str], zipped: list[str], used: set[str]) -> None:
    config = VariantConfig({"a": a, "b": b, "z1": zipped, "z2": [v + "x" for v in zipped]}, (("z1", "z2"),))
    variants = expand(config, used)
    expected = 1
    if "a" in used:
        expected *= len(a)
    if "b" in used:
        expected *= len(b)
    if used & {"z1", "z2"}:
        expected *= len(dict.fromkeys(zipped))
    assert len(variants) == expected
    for v in variants:
        assert v["z2"] == v["z1"] + "x"  # zipped keys move together
        for key in ("a", "b", "z1"):
            if key not in used and not (key == "z1" and "z2" in used):
                assert v[key] == config.values[key][0]  # unused keys keep their first value
    assert len({tuple(sorted(v.items())) for v in variants}) == len(variants)  # no duplicates

"""Build-number bumps: the exact diff on recipes shaped like real bioconda / conda-forge ones."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.migrate.bump import bump_meta_yaml, bump_recipe_dir, bump_recipe_yaml


def _d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _diff_lines(result) -> list[str]:
    """The +/- lines of the unified diff (headers and context dropped)."""
    return [
        line.rstrip("\n")
        for line in result.diff().splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


# ---- meta.yaml (v0) ---------------------------------------------------------------------------------------

PLAIN = _d(
    """
    {% set version = "2.3.0" %}

    package:
      name: samtools
      version: {{ version }}

    build:
      number: 3
      run_exports:
        - {{ pin_subpackage('samtools', max_pin='x.x') }}

    requirements:
      build:
        - {{ compiler('c') }}
      host:
        - htslib
    """
)


def test_meta_literal_number_is_the_only_changed_line():
    result = bump_meta_yaml(PLAIN, "recipes/samtools/meta.yaml")
    assert result.error is None
    assert _diff_lines(result) == ["-  number: 3", "+  number: 4"]
    assert result.new_text == PLAIN.replace("number: 3", "number: 4")
    assert [(c.line, c.before, c.after) for c in result.changes] == [(8, "  number: 3", "  number: 4")]


def test_meta_jinja_set_with_quotes_is_bumped_not_the_reference():
    # the shape of bioconda's strudel recipe: a quoted build variable
    text = _d(
        """
        {% set name = "strudel" %}
        {% set version = "1.15.08.25" %}
        {% set build = "1" %}

        package:
          name: {{ name }}
          version: {{ version }}

        build:
          number: {{ build }}
          noarch: generic
        """
    )
    result = bump_meta_yaml(text)
    assert _diff_lines(result) == ['-{% set build = "1" %}', '+{% set build = "2" %}']


def test_meta_build_number_variable_after_run_exports():
    # the shape of bioconda's fibertools-rs: number after a nested list, variable used elsewhere too
    text = _d(
        """
        {% set version = "0.4.2" %}
        {% set build_number = 0 %}

        build:
          run_exports:
            - {{ pin_subpackage('fibertools-rs', max_pin="x") }}
          number: {{ build_number }}
          rpaths:
            - share/{{ name }}-{{ version }}-{{ build_number }}/lib/
        """
    )
    result = bump_meta_yaml(text)
    assert _diff_lines(result) == ["-{% set build_number = 0 %}", "+{% set build_number = 1 %}"]


def test_meta_selectors_and_comments_on_the_line_are_kept():
    text = _d(
        """
        build:
          number: 1  # [osx]
          number: 0  # [linux]
          number: 2      # must start from 0
          skip: true  # [win]
        """
    )
    result = bump_meta_yaml(text)
    assert _diff_lines(result) == [
        "-  number: 1  # [osx]",
        "-  number: 0  # [linux]",
        "-  number: 2      # must start from 0",
        "+  number: 2  # [osx]",
        "+  number: 1  # [linux]",
        "+  number: 3      # must start from 0",
    ]


def test_meta_expression_with_offset_bumps_the_variable_once():
    # pytorch-feedstock: two numbers under selectors derived from one variable
    text = _d(
        """
        {% set build_number = 7 %}
        build:
          number: {{ build_number + 100 }}  # [pytorch_variant == "gpu"]
          number: {{ build_number }}        # [pytorch_variant == "cpu"]
        """
    )
    result = bump_meta_yaml(text)
    assert _diff_lines(result) == ["-{% set build_number = 7 %}", "+{% set build_number = 8 %}"]


def test_meta_multi_output_bumps_every_output_number():
    # openms-meta / anaconda multi-output shapes: a top-level number plus per-output ones
    text = _d(
        """
        {% set version = "3.1.0" %}
        {% set lib_build = '2' %}

        build:
          number: 3

        outputs:
          - name: libopenms
            build:
              number: {{ lib_build }}
              run_exports:
                - {{ pin_subpackage('libopenms', max_pin='x.x') }}
            requirements:
              build:
                - {{ compiler('cxx') }}
          - name: openms
            build:
              number: '5'  # [not win]
            requirements:
              run:
                - {{ pin_subpackage('libopenms', exact=True) }}
        """
    )
    result = bump_meta_yaml(text)
    assert _diff_lines(result) == [
        "-{% set lib_build = '2' %}",
        "+{% set lib_build = '3' %}",
        "-  number: 3",
        "+  number: 4",
        "-      number: '5'  # [not win]",
        "+      number: '6'  # [not win]",
    ]


def test_meta_number_outside_build_is_not_touched():
    text = _d(
        """
        build:
          number: 0
        extra:
          number: 12
        test:
          commands:
            - echo number: 5
        """
    )
    result = bump_meta_yaml(text)
    assert _diff_lines(result) == ["-  number: 0", "+  number: 1"]


def test_meta_without_number_gets_number_1_in_its_build_section():
    # the shape of anaconda's jbig-feedstock: a build section without a number (so it built number 0)
    text = (
        "package:\n  name: jbig\n\nbuild:\n    skip: true  # [win]\n\nrequirements:\n  build:\n    - make\n"
    )
    result = bump_meta_yaml(text, "r/meta.yaml")
    assert result.new_text == text.replace("build:\n", "build:\n    number: 1\n", 1)
    assert [(c.line, c.after) for c in result.changes] == [(5, "    number: 1")]


def test_meta_without_build_section_gets_one_before_requirements():
    text = "package:\n  name: x\n\nrequirements:\n  run:\n    - a\n"
    result = bump_meta_yaml(text)
    assert result.new_text == "package:\n  name: x\n\nbuild:\n  number: 1\n\nrequirements:\n  run:\n    - a\n"
    assert bump_meta_yaml("package:\n  name: x\n").new_text == "package:\n  name: x\n\nbuild:\n  number: 1\n"


def test_meta_space_before_colon_and_inline_build():
    # bioconda's quickdeconvolution writes "number : 1"
    assert bump_meta_yaml("build:\n  number : 1\n").new_text == "build:\n  number : 2\n"
    result = bump_meta_yaml("package: {name: x}\nbuild: {noarch: python}\n", "r/meta.yaml")
    assert result.error is not None and result.error.line == 2
    assert result.new_text == result.old_text


def test_meta_variable_without_literal_set_is_a_located_error():
    text = _d(
        """
        {% set mkl_buildnum = fetch_buildnum|int + bump_all %}
        build:
          number: {{ mkl_buildnum }}
        """
    )
    result = bump_meta_yaml(text, "mkl/meta.yaml")
    assert result.error is not None
    assert (result.error.path, result.error.line) == ("mkl/meta.yaml", 3)
    assert "mkl_buildnum" in result.error.message


@given(n=st.integers(min_value=0, max_value=10_000), quote=st.sampled_from(["", "'", '"']))
def test_meta_bump_adds_exactly_one(n: int, quote: str):
    text = f"{{% set build = {quote}{n}{quote} %}}\nbuild:\n  number: {{{{ build }}}}\n"
    result = bump_meta_yaml(text)
    assert (
        result.new_text == f"{{% set build = {quote}{n + 1}{quote} %}}\nbuild:\n  number: {{{{ build }}}}\n"
    )


# ---- recipe.yaml (v1) -------------------------------------------------------------------------------------

V1_CONTEXT = _d(
    """
    # yaml-language-server: $schema=https://raw.githubusercontent.com/prefix-dev/recipe-format/main/schema.json
    schema_version: 1

    context:
      name: pysam
      version: "0.22.1"
      build_number: 2

    package:
      name: ${{ name|lower }}
      version: ${{ version }}

    source:
      url: https://pypi.org/packages/source/${{ name[0] }}/${{ name }}/${{ name }}-${{ version }}.tar.gz
      sha256: 18a0b97be95bd71e584de698441c46651cdff378db1c9a4fe3f59e35bb3f7b03

    build:
      number: ${{ build_number }}  # reset on version bump
      script: ${{ PYTHON }} -m pip install . -vv
      python:
        entry_points:
          - pysam-cli = pysam.cli:main

    requirements:
      host:
        - python
        - pip
      run:
        - python >=${{ python_min }}
        - if: linux
          then: libgcc
    """
)


def test_v1_context_number_bumps_context_only():
    result = bump_recipe_yaml(V1_CONTEXT, "recipes/pysam/recipe.yaml")
    assert result.error is None
    assert _diff_lines(result) == ["-  build_number: 2", "+  build_number: 3"]
    assert result.new_text == V1_CONTEXT.replace("build_number: 2", "build_number: 3")


def test_v1_literal_number_and_quoted_context():
    text = _d(
        """
        context:
          version: '1.0'
          build: "0"

        package:
          name: libfoo
          version: ${{ version }}

        build:
          number: 5
          skip:
            - win
        """
    )
    result = bump_recipe_yaml(text)
    assert _diff_lines(result) == ["-  number: 5", "+  number: 6"]


def test_v1_multi_output_bumps_each_output_and_shared_context_once():
    text = _d(
        """
        context:
          version: "2.1"
          build_number: 0

        recipe:
          name: zlib-split
          version: ${{ version }}

        build:
          number: ${{ build_number }}

        outputs:
          - package:
              name: libz
            build:
              number: ${{ build_number }}
          - package:
              name: zlib-tools
            build:
              number: 1
              noarch: generic
            requirements:
              run:
                - ${{ pin_subpackage("libz", exact=True) }}
        """
    )
    result = bump_recipe_yaml(text)
    assert _diff_lines(result) == [
        "-  build_number: 0",
        "+  build_number: 1",
        "-      number: 1",
        "+      number: 2",
    ]


def test_v1_mixed_indentation_still_gives_a_minimal_diff():
    # ruamel would re-indent the second list; the bump must not touch it
    text = _d(
        """
        package:
          name: foo
          version: 1.0.0
        build:
          number: 0
        requirements:
          host:
            - python
          run:
          - python
          - numpy   # comment
        """
    )
    result = bump_recipe_yaml(text)
    assert _diff_lines(result) == ["-  number: 0", "+  number: 1"]


def test_v1_without_number_gets_one():
    text = "package:\n  name: x\nbuild:\n    noarch: python\nrequirements:\n  run: [a]\n"
    result = bump_recipe_yaml(text)
    assert result.new_text == text.replace("build:\n", "build:\n    number: 1\n")


def test_v1_expression_number_is_a_located_error():
    text = "build:\n  number: ${{ 1 if osx else 0 }}\n"
    result = bump_recipe_yaml(text, "x/recipe.yaml")
    assert result.error is not None and (result.error.path, result.error.line) == ("x/recipe.yaml", 2)
    assert result.new_text == text


def test_bump_recipe_dir_writes_in_place(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "meta.yaml").write_text(PLAIN)
    result = bump_recipe_dir(tmp_path / "a", write=True, label="a")
    assert result.changed
    assert (tmp_path / "a" / "meta.yaml").read_text() == PLAIN.replace("number: 3", "number: 4")
    assert result.diff().startswith("--- a/a/meta.yaml\n+++ b/a/meta.yaml\n")


@pytest.mark.corpus
def test_corpus_meta_yaml_bumps_touch_only_number_lines(corpus: Path):
    """Over every real recipe of the corpus (bioconda + Anaconda, ~11,000): a bump changes only lines
    holding a number or the {% set %} of it (or inserts "number: 1"), and nearly all recipes bump."""
    recipes = sorted(corpus.glob("bioconda/recipes/**/meta.yaml")) + sorted(
        corpus.glob("anaconda/feedstocks/*/recipe/meta.yaml")
    )
    failed = []
    for path in recipes:
        result = bump_meta_yaml(path.read_text(encoding="utf-8", errors="replace"), str(path))
        if result.error:
            failed.append(path)
            continue
        assert result.changes, path
        old, new = result.old_text.split("\n"), result.new_text.split("\n")
        for change in result.changes:
            if change.before:
                is_set = re.match(r"\s*\{%-?\s*set ", change.before)
                assert "number" in change.before or is_set, (path, change)
                assert new[change.line - 1] == change.after and old[change.line - 1] == change.before
            else:
                assert change.after.strip() in ("build:", "number: 1"), (path, change)
        inserted = sum(1 for c in result.changes if not c.before)
        assert len(new) - len(old) in (inserted, inserted + 1 if inserted else 0)  # + a blank separator
    assert len(recipes) > 10_000
    assert len(failed) <= 5, failed

"""render_v0: a recipe snippet in, the rendered value out (one test beside each rule)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from textwrap import dedent

import pytest

from planner.model import RecipeFormat, RecipeSource, RenderOptions
from planner.render.v0.render import render_v0

PINNING = """\
c_compiler:
  - gcc        # [linux]
  - clang      # [osx]
  - vs2022     # [win]
c_compiler_version:   # [unix]
  - 15                # [linux]
  - 18                # [osx]
python:
  - 3.10.* *_cpython
  - 3.11.* *_cpython
  - 3.12.* *_cpython
numpy:
  - 2
zlib:
  - 1
openmpi:
  - 5
channel_targets:
  - bioconda main
zip_keys:
  - [python]
"""


@pytest.fixture
def options(tmp_path: Path) -> RenderOptions:
    cfg = tmp_path / "pinning.yaml"
    cfg.write_text(PINNING)
    return RenderOptions(exclusive_configs=(cfg,))


def render(tmp_path: Path, text: str, options: RenderOptions, platforms=("linux-64",), name: str = "r"):
    rdir = tmp_path / "recipes" / name
    rdir.mkdir(parents=True, exist_ok=True)
    (rdir / "meta.yaml").write_text(dedent(text))
    source = RecipeSource(rdir, f"recipes/{name}", RecipeFormat.V0, rdir / "meta.yaml")
    return render_v0(source, list(platforms), options)


def outputs(pr):
    return [o for v in pr.variants if not v.skip for o in v.outputs if not o.skip]


def test_compiler_and_variant_pins(tmp_path: Path, options: RenderOptions) -> None:
    (lin, osx) = render(
        tmp_path,
        """\
        package:
          name: tool
          version: "1.10"
        build:
          number: 3
        requirements:
          build:
            - {{ compiler('c') }}
            - make
          host:
            - zlib
            - openmpi
            - libfoo >=2
          run:
            - zlib
            - openmpi
        """,
        options,
        ("linux-64", "osx-arm64"),
    )
    (o,) = outputs(lin)
    assert (o.name, o.version, o.build_number, o.noarch) == ("tool", "1.10", 3, None)
    assert o.requirements.build == ("gcc_linux-64 15.*", "make")
    assert o.requirements.host == ("zlib 1.*", "openmpi 5.*", "libfoo >=2")
    assert o.requirements.run == ("zlib", "openmpi")  # run requirements are not pinned
    assert dict(o.variant) == {
        "c_compiler": "gcc",
        "c_compiler_version": "15",
        "channel_targets": "bioconda main",
        "openmpi": "5",
        "target_platform": "linux-64",
        "zlib": "1",
    }
    assert outputs(osx)[0].requirements.build == ("clang_osx-arm64 18.*", "make")


def test_python_expands_and_noarch_python_does_not(tmp_path: Path, options: RenderOptions) -> None:
    recipe = """\
    package: {name: py, version: 1}
    build:
      {noarch}
    requirements:
      host:
        - python
        - pip
      run:
        - python
    """
    (compiled,) = render(tmp_path, recipe.replace("{noarch}", "number: 0"), options, name="a")
    assert sorted(o.requirements.host[0] for o in outputs(compiled)) == [
        "python 3.10.* *_cpython",
        "python 3.11.* *_cpython",
        "python 3.12.* *_cpython",
    ]
    (noarch,) = render(tmp_path, recipe.replace("{noarch}", "noarch: python"), options, name="b")
    (o,) = outputs(noarch)
    assert o.noarch == "python"
    assert o.requirements.host[0] == "python 3.12.* *_cpython"  # the newest python
    assert "target_platform" not in o.variant


def test_skip_by_selector(tmp_path: Path, options: RenderOptions) -> None:
    lin, osx = render(
        tmp_path,
        """\
        package: {name: s, version: 1}
        build:
          skip: true  # [osx]
        """,
        options,
        ("linux-64", "osx-arm64"),
    )
    assert len(outputs(lin)) == 1
    assert osx.ok and outputs(osx) == [] and osx.truth_line()["outputs"] == []


def test_outputs_with_their_own_requirements(tmp_path: Path, options: RenderOptions) -> None:
    (pr,) = render(
        tmp_path,
        """\
        package: {name: top, version: 2}
        build: {number: 1}
        requirements:
          build:
            - make
        outputs:
          - name: libtop
            requirements:
              host:
                - zlib
              run:
                - zlib
          - name: top-tools
            version: 9
            requirements:
              run:
                - {{ pin_subpackage('libtop', max_pin='x.x') }}
        test:
          requires:
            - pytest
        """,
        options,
    )
    by_name = {o.name: o for o in outputs(pr)}
    assert set(by_name) == {"libtop", "top-tools"}
    assert by_name["libtop"].requirements.host == ("zlib 1.*",)
    assert by_name["libtop"].build_number == 1  # inherited from the top level
    assert by_name["top-tools"].version == "9"
    assert by_name["top-tools"].requirements.run == ("libtop",)  # pin_subpackage: the bare name
    assert by_name["libtop"].test_requires == ("pytest",)


def test_a_flow_list_at_line_end_reads_as_a_selector(tmp_path: Path, options: RenderOptions) -> None:
    # conda-build's selector pattern takes a trailing ``[...]`` for a selector, even a YAML flow
    # list; ``[python, pip]`` is a true tuple, so the line stays but loses its list.
    (pr,) = render(
        tmp_path, "package: {name: f, version: 1}\nrequirements:\n  host: [python, pip]\n", options
    )
    assert outputs(pr)[0].requirements.host == ()


def test_undefined_names_are_tolerated_and_recorded(tmp_path: Path, options: RenderOptions) -> None:
    (pr,) = render(tmp_path, "package:\n  name: u\n  version: {{ not_defined }}\n", options)
    (v,) = pr.variants
    assert v.outputs[0].version == "None"
    assert "not_defined" in v.undefined_jinja


def test_set_environ_and_pkg_name(tmp_path: Path) -> None:
    options = RenderOptions(environ={"MYVER": "4.2"})  # type: ignore[arg-type]
    (pr,) = render(
        tmp_path,
        """\
        {% set version = environ.get('MYVER', '0') %}
        package: {name: e, version: "{{ version }}"}
        requirements:
          run:
            - {{ PKG_NAME }}-data
        """,
        options,
    )
    (o,) = outputs(pr)
    assert o.version == "4.2"
    assert o.requirements.run == ("e-data",)


def test_recipe_errors_are_located_and_per_platform(tmp_path: Path, options: RenderOptions) -> None:
    lin, osx = render(
        tmp_path,
        "package: {name: x, version: 1}\nrequirements:\n  run:\n    - a  # [osx and 1/0]\n",
        options,
        ("linux-64", "osx-arm64"),
    )
    assert lin.ok  # short-circuits on linux
    assert osx.error is not None and osx.error.line == 4
    (bad_yaml,) = render(tmp_path, "package:\n  name: [x\n", options, name="y")
    assert bad_yaml.error is not None and bad_yaml.error.line is not None
    # a YAML error after lines dropped by selectors still points at the recipe's line
    text = "package:\n  name: x  # [osx]\n  name: x  # [win]\n  version: [1\n"
    (shifted,) = render(tmp_path, text, options, name="shifted")
    assert shifted.error is not None and shifted.error.line in (4, 5)
    (bad_jinja,) = render(tmp_path, "package:\n  name: {{ x \n", options, name="j")
    assert bad_jinja.error is not None and "Jinja" in bad_jinja.error.message


def test_missing_recipe_file_is_an_error_not_an_exception(tmp_path: Path, options: RenderOptions) -> None:
    src = RecipeSource(tmp_path, "gone", RecipeFormat.V0, tmp_path / "meta.yaml")
    (pr,) = render_v0(src, ["linux-64"], options)
    assert pr.error is not None


def test_noarch_platform_keeps_noarch_outputs_only(tmp_path: Path, options: RenderOptions) -> None:
    text = "package: {name: n, version: 1}\nbuild: {noarch: generic}\n"
    (pr,) = render(tmp_path, text, options, ("noarch",))
    (o,) = outputs(pr)
    assert o.noarch == "generic"
    assert pr.variants[0].platform == "noarch"
    arch = "package: {name: a, version: 1}\nrequirements:\n  build:\n    - {{ compiler('c') }}\n"
    (pr,) = render(tmp_path, arch, options, ("noarch",), name="arch")
    assert pr.ok and outputs(pr) == []


def test_cross_compiling_records_the_build_platform(tmp_path: Path, options: RenderOptions) -> None:
    cross = replace(options, build_platform="linux-64")
    text = "package: {name: c, version: 1}\nrequirements:\n  build:\n    - {{ compiler('c') }}\n"
    (pr,) = render(tmp_path, text, cross, ("linux-aarch64",))
    assert pr.variants[0].build_platform == "linux-64"
    assert outputs(pr)[0].requirements.build == ("gcc_linux-aarch64 15.*",)


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("linux-64", "mesa-libgl-cos6-x86_64"), ("linux-aarch64", "mesa-libgl-cos7-aarch64")],
)
def test_cdt_defaults(tmp_path: Path, platform: str, expected: str) -> None:
    text = "package: {name: c, version: 1}\nrequirements:\n  build:\n    - {{ cdt('mesa-libgl') }}\n"
    (pr,) = render(tmp_path, text, RenderOptions(), (platform,), name=platform)
    assert outputs(pr)[0].requirements.build == (expected,)


def test_load_str_data_and_list_mutation(tmp_path: Path, options: RenderOptions) -> None:
    text = """\
    {% set meta = load_str_data('{"v": "2.0"}', 'json') %}
    {% set deps = ['a'] %}
    {% set _ = deps.append('b') %}
    package: {name: d, version: "{{ meta.v }}"}
    requirements:
      run:
    {% for d in deps %}
        - {{ d }}
    {% endfor %}
    """
    (pr,) = render(tmp_path, text, options)
    (o,) = outputs(pr)
    assert (o.version, o.requirements.run) == ("2.0", ("a", "b"))


def test_yaml_numbers_stay_strings_and_repeated_keys_win(tmp_path: Path, options: RenderOptions) -> None:
    text = "package:\n  name: y\n  version: 1.10\nbuild:\n  number: 1\nbuild:\n  number: 2\n"
    (pr,) = render(tmp_path, text, options)
    (o,) = outputs(pr)
    assert (o.version, o.build_number) == ("1.10", 2)


def test_jinja_globals_are_available(tmp_path: Path, options: RenderOptions) -> None:
    text = """\
    {% set ns = namespace(n=0) %}
    {% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}
    package: {name: g, version: "{{ ns.n }}"}
    """
    (pr,) = render(tmp_path, text, options)
    assert outputs(pr)[0].version == "3"


@pytest.mark.parametrize(
    "expr",
    [
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        "{{ 'a' * 100000000 }}",
        "{{ 10 ** 100000000 }}",
    ],
)
def test_runaway_templates_are_errors_not_hangs(tmp_path: Path, options: RenderOptions, expr: str) -> None:
    (pr,) = render(tmp_path, expr + "\npackage: {name: x, version: 1}\n", options)
    assert pr.error is not None and "Jinja" in pr.error.message


def test_selectors_apply_to_the_raw_text_before_jinja(tmp_path: Path, options: RenderOptions) -> None:
    # conda-build's template loader drops unselected lines before Jinja runs: only the selected
    # {% set %} happens, and a comment or selector inside a multi-line Jinja block is harmless.
    text = """\
    {% set version = "1.0" %}  # [linux]
    {% set version = "2.0" %}  # [osx]
    {% set parts = [
        "a",
        "b",   # [osx]
        # a comment with {{ broken jinja
    ] %}
    package: {name: s, version: "{{ version }}-{{ parts|join('') }}"}
    """
    lin, osx = render(tmp_path, text, options, ("linux-64", "osx-arm64"))
    assert outputs(lin)[0].version == "1.0-a"
    assert outputs(osx)[0].version == "2.0-ab"


def test_metapackage_output_for_the_recipe_name(tmp_path: Path, options: RenderOptions) -> None:
    # top-level run requirements naming an output: conda-build adds an output with the recipe name
    text = """\
    package: {name: meta, version: 1}
    requirements:
      run:
        - libmeta
    outputs:
      - name: libmeta
    """
    (pr,) = render(tmp_path, text, options)
    assert sorted(o.name for o in outputs(pr)) == ["libmeta", "meta"]


def test_used_keys_per_output_and_forced_keys(tmp_path: Path, options: RenderOptions) -> None:
    text = """\
    package: {name: k, version: 1}
    build:
      force_use_keys:
        - numpy
      force_ignore_keys:
        - openmpi
    requirements:
      host:
        - openmpi
      run:
        - zlib
    extra:
      test_on: gpu
    """
    (pr,) = render(tmp_path, text, options)
    (o,) = outputs(pr)
    assert "zlib" not in o.variant  # only a bare run requirement: not a variant dimension
    assert "numpy" in o.variant and "openmpi" not in o.variant
    assert o.test_on == "gpu"


def test_numpy_xx_and_noarch_output(tmp_path: Path, options: RenderOptions) -> None:
    text = """\
    package: {name: n, version: 1}
    outputs:
      - name: n-lib
        requirements:
          host:
            - numpy x.x
      - name: n-data
        build:
          noarch: generic
    """
    (pr,) = render(tmp_path, text, options)
    by = {o.name: o for o in outputs(pr)}
    assert by["n-lib"].requirements.host == ("numpy 2",)
    assert by["n-data"].noarch == "generic" and by["n-lib"].noarch is None

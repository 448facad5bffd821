"""v1 (recipe.yaml) rendering through py-rattler-build, normalised into the shared model."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from planner.model import RecipeFormat, RecipeSource, RenderOptions
from planner.render.recipe import render_recipe

PYTHONS = """\
python:
  - "3.11"
  - "3.12"
numpy:
  - "2"
c_compiler:
  - gcc
c_compiler_version:
  - "13"
"""


def recipe(tmp_path: Path, text: str, name: str = "r", **extra_files: str) -> RecipeSource:
    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "recipe.yaml").write_text(textwrap.dedent(text))
    for fname, content in extra_files.items():
        (d / fname.replace("_yaml", ".yaml")).write_text(textwrap.dedent(content))
    local = tuple(p for p in (d / "variants.yaml", d / "conda_build_config.yaml") if p.exists())
    return RecipeSource(d, name, RecipeFormat.V1, d / "recipe.yaml", local)


@pytest.fixture
def pythons(tmp_path: Path) -> RenderOptions:
    f = tmp_path / "variants.yaml"
    f.write_text(PYTHONS)
    return RenderOptions(variant_configs=(f,))


SINGLE = """\
    context:
      version: "0.3.1"
    package:
      name: single
      version: ${{ version }}
    build:
      number: 2
    requirements:
      host:
        - zlib
      run:
        - zlib >=1.2
        - if: linux
          then: libgcc
    """


def test_single_output_has_name_version_build_number_and_platform_selected_requirements(tmp_path):
    src = recipe(tmp_path, SINGLE)
    lin, win = render_recipe(src, ["linux-64", "win-64"], RenderOptions())
    assert lin.ok and win.ok
    [job] = lin.variants
    [out] = job.outputs
    assert (out.name, out.version, out.build_number) == ("single", "0.3.1", 2)
    assert job.format is RecipeFormat.V1 and job.platform == "linux-64" and job.recipe == "r"
    assert out.requirements.host == ("zlib",)
    assert out.requirements.run == ("zlib >=1.2", "libgcc")
    assert win.variants[0].outputs[0].requirements.run == ("zlib >=1.2",)


def test_variants_over_python_expand_only_used_keys(tmp_path, pythons):
    src = recipe(
        tmp_path,
        """\
        package:
          name: pyext
          version: "1.0"
        requirements:
          host:
            - python
          run:
            - python
        """,
    )
    [pr] = render_recipe(src, ["osx-arm64"], pythons)
    variants = sorted((dict(v.variant) for v in pr.variants), key=str)
    assert variants == [
        {"python": "3.11", "target_platform": "osx-arm64"},
        {"python": "3.12", "target_platform": "osx-arm64"},
    ]
    assert all("numpy" not in v.outputs[0].variant for v in pr.variants)


def test_skip_on_a_platform_gives_no_outputs_there(tmp_path, pythons):
    src = recipe(
        tmp_path,
        """\
        package:
          name: notwin
          version: "1"
        build:
          skip:
            - win
        requirements:
          run: [bash]
        """,
    )
    lin, win = render_recipe(src, ["linux-64", "win-64"], pythons)
    assert lin.ok and len(lin.variants) == 1
    assert win.ok and win.variants == () and win.truth_line()["outputs"] == []


def test_noarch_python_is_one_output_not_one_per_python(tmp_path, pythons):
    src = recipe(
        tmp_path,
        """\
        package:
          name: purepy
          version: "2.0"
        build:
          noarch: python
        requirements:
          host: [python, pip]
          run: [python >=3.9]
        tests:
          - script: [pytest]
            requirements:
              run: [pytest, pytest-cov]
        extra:
          test_on: gpu
        """,
    )
    lin, noarch = render_recipe(src, ["linux-64", "noarch"], pythons)
    for pr in (lin, noarch):
        [job] = pr.variants
        [out] = job.outputs
        assert out.noarch == "python" and job.noarch == "python"
        assert out.test_requires == ("pytest", "pytest-cov")
        assert out.test_on == "gpu"
    assert noarch.platform == "noarch"


MULTI = """\
    context:
      version: "1.2.0"
    recipe:
      name: mstack
      version: ${{ version }}
    build:
      number: 3
    outputs:
      - package:
          name: libm
        requirements:
          build:
            - ${{ compiler('c') }}
      - package:
          name: py-m
        build:
          noarch: python
        requirements:
          host: [python, pip]
          run:
            - python
            - ${{ pin_subpackage('libm', exact=True) }}
      - package:
          name: m-ext
        requirements:
          host:
            - python
            - numpy
            - ${{ pin_subpackage('libm') }}
          run:
            - python
            - ${{ pin_compatible('numpy') }}
          run_constraints:
            - foo >1
    """


def test_multi_output_is_deduplicated_pins_are_bare_names_and_outputs_grouped_in_jobs(tmp_path, pythons):
    src = recipe(tmp_path, MULTI)
    [pr] = render_recipe(src, ["linux-64"], pythons)
    assert pr.ok
    outs = [(o.name, o.variant.get("python")) for v in pr.variants for o in v.outputs]
    assert sorted(outs, key=str) == sorted(
        [("libm", None), ("py-m", None), ("m-ext", "3.11"), ("m-ext", "3.12")], key=str
    )
    by_name = {o.name: o for v in pr.variants for o in v.outputs}
    for ext in (o for v in pr.variants for o in v.outputs if o.name == "m-ext"):
        # variant values pinned into bare build/host names (as rattler-build builds them), not into run
        assert ext.requirements.host == (f"python {ext.variant['python']}.*", "numpy 2.*", "libm")
        assert ext.requirements.run == ("python", "numpy")
    assert by_name["m-ext"].requirements.run_constrained == ("foo >1",)
    assert by_name["py-m"].requirements.run == ("python", "libm")
    assert by_name["py-m"].requirements.host == ("python", "pip")  # noarch: python is no variant key
    assert "libm" not in by_name["py-m"].variant  # a pin of an own output is not a variant key
    assert by_name["libm"].requirements.build == ("gcc_linux-64 13.*",)
    assert all(o.build_number == 3 and o.version == "1.2.0" for o in by_name.values())
    for job in pr.variants:  # a job's variant agrees with each of its outputs
        assert all(o.variant.agrees_with(job.variant) for o in job.outputs)
    assert len({o.variant.get("python") for v in pr.variants for o in v.outputs if o.name == "m-ext"}) == 2


def test_recipe_local_variants_yaml_is_honoured(tmp_path):
    src = recipe(
        tmp_path,
        """\
        package:
          name: local
          version: "1"
        requirements:
          host: [python]
        """,
        variants_yaml='python:\n  - "3.10"\n',
    )
    [pr] = render_recipe(src, ["linux-64"], RenderOptions())
    assert [v.variant["python"] for v in pr.variants] == ["3.10"]


def test_environ_reaches_env_get(tmp_path):
    src = recipe(
        tmp_path,
        """\
        package:
          name: envy
          version: ${{ env.get("ENVY_VERSION", default="0") }}
        """,
    )
    opts = RenderOptions(environ={"ENVY_VERSION": "4.5"})  # type: ignore[arg-type]
    [pr] = render_recipe(src, ["linux-64"], opts)
    assert pr.variants[0].outputs[0].version == "4.5"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("package:\n  name: x\n   version: [1\n", 3, "invalid YAML"),
        ("package:\n  name: x\n  version: '1'\nrequirements:\n  host:\n    - ${{ foo(  }}\n", 6, "Jinja"),
        ("package:\n  name: x\n  version: '1'\nrequirements:\n  run:\n    - ${{ nope }}\n", 6, "undefined"),
    ],
)
def test_broken_recipes_give_located_errors_on_every_platform(tmp_path, text, line, words):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "recipe.yaml").write_text(text)
    src = RecipeSource(d, "bad", RecipeFormat.V1, d / "recipe.yaml")
    renders = render_recipe(src, ["linux-64", "osx-arm64"], RenderOptions())
    for pr in renders:
        assert pr.error is not None
        assert pr.error.path == str(d / "recipe.yaml")
        assert pr.error.line == line
        assert words in pr.error.message
        assert "error" in pr.truth_line()


def test_an_error_on_one_platform_leaves_the_others_rendered(tmp_path, pythons):
    # libm is skipped on win, so pin_subpackage('libm') cannot be resolved there: rattler-build refuses.
    src = recipe(tmp_path, MULTI.replace("name: libm\n", "name: libm\n        build:\n          skip: win\n"))
    lin, win = render_recipe(src, ["linux-64", "win-64"], pythons)
    assert lin.ok and lin.variants
    assert win.error is not None and "libm" in win.error.message


def test_binary_junk_is_a_located_error(tmp_path):
    d = tmp_path / "junk"
    d.mkdir()
    (d / "recipe.yaml").write_bytes(b"package:\n  name: x\n\xff\xfe\x00garbage")
    src = RecipeSource(d, "junk", RecipeFormat.V1, d / "recipe.yaml")
    [pr] = render_recipe(src, ["linux-64"], RenderOptions())
    assert pr.error is not None and pr.error.line == 3 and "UTF-8" in pr.error.message


def test_a_conda_build_config_under_another_name_is_read_with_its_selectors(tmp_path):
    pinning = tmp_path / "global-pinning.yaml"
    pinning.write_text('python:\n  - "3.10"  # [osx]\n  - "3.13"  # [linux]\n')
    src = recipe(tmp_path, "package:\n  name: p\n  version: '1'\nrequirements:\n  host: [python]\n")
    opts = RenderOptions(exclusive_configs=(pinning,))
    lin, osx = render_recipe(src, ["linux-64", "osx-64"], opts)
    assert lin.ok and osx.ok, (lin.error, osx.error)
    assert [v.variant["python"] for v in lin.variants] == ["3.13"]
    assert [v.variant["python"] for v in osx.variants] == ["3.10"]
    pinning.write_text('python:\n  - "3.9"\n')  # the file is read afresh, never a stale copy
    [lin] = render_recipe(src, ["linux-64"], opts)
    assert [v.variant["python"] for v in lin.variants] == ["3.9"]


def test_a_broken_variant_config_is_the_configs_error_not_the_recipes(tmp_path):
    bad = tmp_path / "variants.yaml"
    bad.write_text("python: 3.12\n")  # a scalar where a list is required
    src = recipe(tmp_path, "package:\n  name: p\n  version: '1'\nrequirements:\n  host: [python]\n")
    [pr] = render_recipe(src, ["linux-64"], RenderOptions(variant_configs=(bad,)))
    assert pr.error is not None
    assert pr.error.path == str(bad), pr.error
    assert "python" in pr.error.message


def test_staging_cache_requirements_belong_to_the_outputs_that_inherit_it(tmp_path, pythons):
    src = recipe(
        tmp_path,
        """\
        context:
          version: "3.0"
        recipe:
          name: foo-split
          version: ${{ version }}
        outputs:
          - staging:
              name: foo-cache
            requirements:
              build:
                - ${{ compiler('c') }}
                - cmake
              host:
                - zlib
          - package:
              name: libfoo
            inherit: foo-cache
            requirements:
              run: [zlib]
          - package:
              name: foo-doc
            build:
              noarch: generic
        """,
    )
    [pr] = render_recipe(src, ["linux-64"], pythons)
    by_name = {o.name: o for v in pr.variants for o in v.outputs}
    assert set(by_name) == {"libfoo", "foo-doc"}  # the cache itself is no package
    assert by_name["libfoo"].requirements.build == ("gcc_linux-64 13.*", "cmake")
    assert by_name["libfoo"].requirements.host == ("zlib",)
    assert by_name["foo-doc"].requirements.build == by_name["foo-doc"].requirements.host == ()

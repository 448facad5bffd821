"""Used keys and recipe-local configs as conda-build's (issue 13, item 2): a small recipe in, the
variants out, one test per rule (docs/recipe-semantics.md, "Used keys from build scripts" and
"Recipe-local conda_build_config.yaml")."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from planner.graph.link import build_graph, jobs_from_renders
from planner.model import RecipeFormat, RecipeSource, RenderOptions
from planner.render.v0.render import render_v0

GLOBAL = """\
python:
  - 3.11
  - 3.12
blas_impl:
  - openblas
  - mkl         # [x86_64]
blas_impl_lib:
  - libopenblas
channel_targets:
  - defaults
compat:
  - none
"""


def _render(tmp_path: Path, meta: str, platforms=("linux-64",), files: dict[str, str] | None = None):
    cfg = tmp_path / "global.yaml"
    cfg.write_text(GLOBAL)
    rdir = tmp_path / "recipes" / "r"
    rdir.mkdir(parents=True, exist_ok=True)
    (rdir / "meta.yaml").write_text(dedent(meta))
    local = []
    for name, text in (files or {}).items():
        (rdir / name).write_text(dedent(text))
        if name == "conda_build_config.yaml":
            local.append(rdir / name)
    source = RecipeSource(rdir, "recipes/r", RecipeFormat.V0, rdir / "meta.yaml", tuple(local))
    return render_v0(source, list(platforms), RenderOptions(exclusive_configs=(cfg,)))


def _variants(pr) -> list[dict[str, str]]:
    assert pr.error is None, pr.error
    return sorted(
        (
            {k: v for k, v in o.variant.items() if k != "target_platform"}
            for r in pr.variants
            for o in r.outputs
        ),
        key=lambda d: sorted(d.items()),
    )


META = """\
package:
  name: r
  version: "1.0"
requirements:
  host:
    - zlib
"""


def test_a_key_used_only_in_build_sh_is_used(tmp_path: Path) -> None:
    script = 'cmake -DBLAS="${blas_impl}" ..\n${blas_impl_lib} --version\n'
    (pr,) = _render(tmp_path, META, files={"build.sh": script})
    assert _variants(pr) == [
        {"blas_impl": "mkl", "blas_impl_lib": "libopenblas", "channel_targets": "defaults"},
        {"blas_impl": "openblas", "blas_impl_lib": "libopenblas", "channel_targets": "defaults"},
    ]


def test_build_sh_counts_only_the_first_dollar_of_a_line_followed_by_space_pipe_or_brace(
    tmp_path: Path,
) -> None:
    # conda-build's pattern: "$blas_impl/lib" and a second $ on the line do not count
    (pr,) = _render(tmp_path, META, files={"build.sh": "echo $PREFIX $blas_impl\nls $blas_impl/lib\n"})
    assert _variants(pr) == [{"channel_targets": "defaults"}]


def test_bld_bat_counts_only_for_windows_targets(tmp_path: Path) -> None:
    linux, win = _render(tmp_path, META, ("linux-64", "win-64"), files={"bld.bat": "echo %blas_impl_lib%\n"})
    assert _variants(linux) == [{"channel_targets": "defaults"}]
    assert _variants(win) == [{"blas_impl_lib": "libopenblas", "channel_targets": "defaults"}]


def test_an_explicit_output_reads_its_own_script_not_build_sh(tmp_path: Path) -> None:
    meta = """\
    package:
      name: r-split
      version: "1.0"
    outputs:
      - name: libr
        script: install-lib.sh
      - name: r-tools
    """
    (pr,) = _render(
        tmp_path, meta, files={"install-lib.sh": "make BLAS=${blas_impl_lib}\n", "build.sh": "${compat}\n"}
    )
    by_name = {o.name: dict(o.variant) for r in pr.variants for o in r.outputs}
    assert by_name["libr"].get("blas_impl_lib") == "libopenblas"
    assert "blas_impl_lib" not in by_name["r-tools"]
    assert "compat" not in by_name["libr"]  # build.sh is the recipe's, not an explicit output's


def test_a_recipe_local_zip_replaces_the_global_values_of_its_keys(tmp_path: Path) -> None:
    local = """\
    channel_targets:
      - defaults
      - defaults-debug
    compat:
      - none
      - debug
    zip_keys:        # block style: a flow list at the end of a line reads as a selector
      -
        - channel_targets
        - compat
    """
    meta = META + "  run:\n    - {{ compat }}\n"
    (pr,) = _render(tmp_path, meta, files={"conda_build_config.yaml": local})
    assert _variants(pr) == [
        {"channel_targets": "defaults", "compat": "none"},
        {"channel_targets": "defaults-debug", "compat": "debug"},
    ]


def test_selectors_in_the_recipe_local_file_apply_per_platform(tmp_path: Path) -> None:
    local = """\
    blas_impl:
      - openblas
      - accelerate   # [osx]
    """
    meta = META + "  run:\n    - {{ blas_impl }}\n"
    linux, osx = _render(tmp_path, meta, ("linux-64", "osx-arm64"), files={"conda_build_config.yaml": local})
    assert [v["blas_impl"] for v in _variants(linux)] == ["openblas"]  # the local list replaces mkl
    assert sorted(v["blas_impl"] for v in _variants(osx)) == ["accelerate", "openblas"]


def test_a_noarch_python_job_serves_every_python_variant_of_its_dependents(tmp_path: Path) -> None:
    cfg = tmp_path / "global.yaml"
    cfg.write_text(GLOBAL)
    made = []
    for name, text in {
        "pure": 'package: {name: pure, version: "1"}\nbuild: {noarch: python}\n'
        + "requirements:\n  host:\n    - python\n",
        "ext": 'package: {name: ext, version: "1"}\nrequirements:\n  host:\n    - python\n    - pure\n',
    }.items():
        rdir = tmp_path / "recipes" / name
        rdir.mkdir(parents=True)
        (rdir / "meta.yaml").write_text(text)
        source = RecipeSource(rdir, f"recipes/{name}", RecipeFormat.V0, rdir / "meta.yaml")
        (pr,) = render_v0(source, ["linux-64"], RenderOptions(exclusive_configs=(cfg,)))
        made += list(pr.variants)
    # conda-build's render keeps python in the noarch variant (the truth shows it) ...
    pure = [o for r in made for o in r.outputs if o.name == "pure"]
    assert [o.variant.get("python") for o in pure] == ["3.12"]
    # ... but the job is python-version independent: both pythons of ext wait for it
    result = build_graph(jobs_from_renders(made))
    names = {n: result.graph.nodes[n]["job"] for n in result.graph}
    waits = sorted(names[v].variant.get("python") for u, v in result.graph.edges if names[u].name == "pure")
    assert waits == ["3.11", "3.12"]
    assert not result.unsatisfied

"""``rebuild --migrate``: the stack of today's graph, the new pin applied to it, hard pins reported,
exactly the stack bumped — on a copy of part of the Anaconda corpus in a real git repo (issue 13, item 4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.migrate.migration import set_pins_in_config
from stackplan.cli import app
from tests.gitrepo import commit, git, init

#: Feedstocks copied from the corpus: four pin zlib hard (libtiff, pillow, libgd, sqlite), htslib asks
#: for a bare ``zlib`` (the variant's pin), 7za does not use zlib at all.
FEEDSTOCKS = ("htslib", "libgd", "libtiff", "pillow", "sqlite", "7za")
#: The in-tree zlib (the corpus has no zlib feedstock): 1.2.13, which every pin above accepts today.
ZLIB = """\
{% set version = "1.2.13" %}
package:
  name: zlib
  version: {{ version }}
build:
  number: 2
requirements:
  build:
    - {{ compiler('c') }}
"""


@pytest.fixture
def repo(tmp_path: Path, corpus: Path, monkeypatch) -> Path:
    root = init(tmp_path / "repo")
    for name in FEEDSTOCKS:
        src = corpus / "anaconda" / "feedstocks" / f"{name}-feedstock"
        if not src.is_dir():
            pytest.skip(f"{src} missing from the corpus")
        shutil.copytree(src, root / f"{name}-feedstock")
    (root / "zlib-feedstock" / "recipe").mkdir(parents=True)
    (root / "zlib-feedstock" / "recipe" / "meta.yaml").write_text(ZLIB)
    commit(root, {}, "the stack as it is")
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path / "state"))
    return root


def test_migrate_keeps_todays_stack_reports_hard_pins_writes_pins_and_bumps_exactly_the_stack(
    repo: Path, corpus: Path, tmp_path: Path
) -> None:
    config = corpus / "config" / "anaconda-aggregate-conda_build_config.yaml"
    plan_file = tmp_path / "plan.json"
    args = ["rebuild", str(repo), "--downstream-of", "zlib", "--migrate", "zlib=1.3", "-p", "linux-64"]
    out = CliRunner().invoke(app, [*args, "-e", str(config), "--bump", "-o", str(plan_file)])
    assert out.exit_code == 0, out.output
    stack = {f"{n}-feedstock/recipe" for n in ("zlib", "htslib", "libgd", "libtiff", "pillow", "sqlite")}
    plan = json.loads(plan_file.read_text())
    # the stack is today's: zlib 1.3 would have dropped every 1.2-pinned dependent
    assert {n["recipe"] for n in plan["nodes"] if n["skipped"] is None} == stack
    htslib = [n for n in plan["nodes"] if n["recipe"] == "htslib-feedstock/recipe"]
    assert {n["variant"].get("zlib") for n in htslib} == {"1.3"}  # the new pin applies to the stack
    # every hard pin 1.3 does not satisfy, file:line (sqlite's line is `zlib 1.2  # [not win]`)
    reported = sorted(
        line.split("migration: ", 1)[1].split(":", 2)[:2]
        for line in out.stderr.splitlines()
        if line.startswith("hard pin not satisfied")
    )
    assert reported == sorted(
        [
            ["libgd-feedstock/recipe/meta.yaml", "49"],
            ["libgd-feedstock/recipe/meta.yaml", "61"],
            ["libtiff-feedstock/recipe/meta.yaml", "38"],
            ["libtiff-feedstock/recipe/meta.yaml", "46"],
            ["pillow-feedstock/recipe/meta.yaml", "29"],
            ["pillow-feedstock/recipe/meta.yaml", "47"],
            ["sqlite-feedstock/recipe/meta.yaml", "37"],
        ]
    )
    # in the repo: exactly the stack's recipe files bumped, and a pin file beside each, listed to commit
    changed = sorted(
        line.split(maxsplit=1)[1] for line in git(repo, "status", "--porcelain", "-uall").splitlines()
    )
    assert changed == sorted(
        [f"{r}/meta.yaml" for r in stack] + [f"{r}/conda_build_config.yaml" for r in stack]
    )
    assert all(f"pin written: {r}/conda_build_config.yaml" in out.stdout for r in stack)
    assert "commit the 6 pin file(s)" in out.stdout
    diff = git(repo, "diff", "--", "zlib-feedstock/recipe/meta.yaml")
    assert "-  number: 2" in diff and "+  number: 3" in diff
    pins = (repo / "htslib-feedstock/recipe/conda_build_config.yaml").read_text()
    assert pins == 'zlib:  # stackplan rebuild --migrate\n  - "1.3"\n'


def test_the_pin_block_replaces_an_existing_key_and_keeps_the_rest() -> None:
    text = "python:\n  - 3.11\n  - 3.12\nzlib:\n  - 1.2   # [linux]\n\nblas_impl:\n  - mkl\n"
    assert set_pins_in_config(text, {"zlib": ["1.3"]}) == (
        'python:\n  - 3.11\n  - 3.12\nzlib:  # stackplan rebuild --migrate\n  - "1.3"\n'
        "\nblas_impl:\n  - mkl\n"
    )

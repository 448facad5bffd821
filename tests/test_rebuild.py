"""``stackplan rebuild``: the stack under a migrated pin, and the exact bump diff on real-looking recipes."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from planner.migrate.migration import override_config_text, parse_migrations
from stackplan.cli import app


def _d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_parse_migrations():
    assert parse_migrations(["python=3.12,3.13", "zlib=1.3", "python=3.13", "python=3.11"]) == {
        "python": ["3.12", "3.13", "3.11"],
        "zlib": ["1.3"],
    }
    for bad in ["zlib", "=1.3", "zlib=", "zlib=,"]:
        with pytest.raises(ValueError, match="KEY=VALUE"):
            parse_migrations([bad])


def test_override_config_is_byte_stable():
    text = override_config_text({"zlib": ["1.3"], "python": ["3.12", "3.13"]})
    assert text == (
        "# stackplan rebuild --migrate: pins that override every other variant config\n"
        'python:\n  - "3.12"\n  - "3.13"\nzlib:\n  - "1.3"\n'
    )


ZLIB = _d(
    """
    {% set version = "1.3.1" %}

    package:
      name: zlib
      version: {{ version }}

    build:
      number: 0
      run_exports:
        - {{ pin_subpackage('zlib', max_pin='x.x') }}
    """
)
LIBPNG = _d(
    """
    {% set version = "1.6.43" %}
    {% set build = 2 %}

    package:
      name: libpng
      version: {{ version }}

    build:
      number: {{ build }}  # reset on version bump

    requirements:
      host:
        - zlib
      run:
        - zlib
    """
)
PNGTOOLS = _d(
    """
    package:
      name: pngtools
      version: "0.4"

    build:
      number: 1
      skip: true  # [win]

    requirements:
      host:
        - libpng
      run:
        - libpng
    """
)
PYPNG = _d(
    """
    context:
      version: "0.20"
      build_number: 5

    package:
      name: pypng-bind
      version: ${{ version }}

    build:
      number: ${{ build_number }}

    requirements:
      host:
        - libpng
      run:
        - libpng
    """
)
UNRELATED = _d(
    """
    package:
      name: jq
      version: "1.7"
    build:
      number: 3
    """
)
CONFIG = 'zlib:\n  - "1.2"\n'


@pytest.fixture
def stack(tmp_path, monkeypatch):
    pytest.importorskip("planner.plan.build", reason="the planner (issue 3) is not merged yet")
    root = tmp_path / "recipes"
    files = {
        "zlib/meta.yaml": ZLIB,
        "libpng/meta.yaml": LIBPNG,
        "pngtools/meta.yaml": PNGTOOLS,
        "pypng-bind/recipe.yaml": PYPNG,
        "jq/meta.yaml": UNRELATED,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (tmp_path / "cbc.yaml").write_text(CONFIG)
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RATTLER_CACHE_DIR", str(tmp_path / "rattler"))
    return root, {rel: text for rel, text in files.items()}


def _run(*args: str):
    return CliRunner().invoke(app, ["rebuild", *args])


def test_rebuild_plans_the_stack_under_the_new_pin_and_bumps_exactly(stack, tmp_path):
    root, before = stack
    plan_file = tmp_path / "plan.json"
    out = _run(
        str(root),
        "--downstream-of",
        "zlib",
        "--migrate",
        "zlib=1.3",
        "-p",
        "linux-64",
        "-m",
        str(tmp_path / "cbc.yaml"),
        "--bump",
        "-o",
        str(plan_file),
    )
    assert out.exit_code == 0, out.output
    plan = json.loads(plan_file.read_text())
    built = {n["recipe"] for n in plan["nodes"] if n["skipped"] is None}
    assert built == {"zlib", "libpng", "pngtools", "pypng-bind"}
    libpng = [n for n in plan["nodes"] if n["recipe"] == "libpng"]
    assert [n["variant"].get("zlib") for n in libpng] == ["1.3"]  # the override won over cbc.yaml's 1.2
    headers = sorted(line for line in out.stdout.splitlines() if line.startswith("--- a/"))
    assert headers == [
        "--- a/libpng/meta.yaml",
        "--- a/pngtools/meta.yaml",
        "--- a/pypng-bind/recipe.yaml",
        "--- a/zlib/meta.yaml",
    ]
    after = {rel: (root / rel).read_text() for rel in before}
    assert after["zlib/meta.yaml"] == before["zlib/meta.yaml"].replace("number: 0", "number: 1")
    assert after["libpng/meta.yaml"] == before["libpng/meta.yaml"].replace(
        "{% set build = 2 %}", "{% set build = 3 %}"
    )
    assert after["pngtools/meta.yaml"] == before["pngtools/meta.yaml"].replace("number: 1", "number: 2")
    assert after["pypng-bind/recipe.yaml"] == before["pypng-bind/recipe.yaml"].replace(
        "build_number: 5", "build_number: 6"
    )
    assert after["jq/meta.yaml"] == before["jq/meta.yaml"]
    diff_lines = [
        line for line in out.stdout.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert sorted(diff_lines) == sorted(
        [
            "-  number: 0",
            "+  number: 1",
            "-{% set build = 2 %}",
            "+{% set build = 3 %}",
            "-  number: 1",
            "+  number: 2",
            "-  build_number: 5",
            "+  build_number: 6",
        ]
    )


def test_depth_limits_the_stack_and_no_bump_writes_nothing(stack):
    root, before = stack
    out = _run(str(root), "--downstream-of", "zlib", "--depth", "1", "-p", "linux-64")
    assert out.exit_code == 0, out.output
    assert "zlib" in out.stdout and "libpng" in out.stdout
    assert "pngtools" not in out.stdout and "pypng-bind" not in out.stdout
    assert {rel: (root / rel).read_text() for rel in before} == before


def test_bad_migrate_is_a_clear_error(tmp_path):
    out = _run(str(tmp_path), "--downstream-of", "zlib", "--migrate", "zlib")
    assert out.exit_code == 2 and "KEY=VALUE" in out.output

"""``--jobs`` / ``--cache-dir`` / ``--no-cache`` on the commands that render (plan, render)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stackplan.cli import app


def write_tree(root: Path, n: int = 6) -> Path:
    for i in range(n):
        d = root / "recipes" / f"pkg{i}"
        d.mkdir(parents=True)
        dep = f"    - pkg{i - 1}\n" if i else ""
        (d / "meta.yaml").write_text(
            f"package:\n  name: pkg{i}\n  version: '1.{i}'\nrequirements:\n  host:\n    - python\n{dep}"
            f"  run:\n    - python\n{dep}"
        )
    cfg = root / "cbc.yaml"
    cfg.write_text("python:\n  - 3.12.* *_cpython\n")
    return root


def entries(cache: Path) -> list[Path]:
    """The render entries (``v<format>/<shard>/<key>``; graph snapshots live elsewhere)."""
    return sorted(p for p in cache.glob("v*/*/*") if p.is_file() and not p.name.startswith("."))


@pytest.mark.parametrize("command", ["plan", "render"])
def test_cache_dir_filled_then_reused_and_no_cache_leaves_it_alone(tmp_path: Path, command: str) -> None:
    root = write_tree(tmp_path / "tree")
    cache = tmp_path / "cache"
    args = [command, str(root), "-p", "linux-64", "-p", "osx-arm64", "-e", str(root / "cbc.yaml")]
    out_file = tmp_path / "plan.json"
    args += ["--json"] if command == "render" else ["-o", str(out_file)]
    runner = CliRunner()

    def run(*extra: str) -> str:
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 0, result.output
        return out_file.read_text() if command == "plan" else result.stdout

    first = run("--cache-dir", str(cache), "--jobs", "2")
    assert len(entries(cache)) == 6  # one entry per recipe dir, holding both platforms
    stamps = {p: p.stat().st_mtime_ns for p in entries(cache)}
    assert run("--cache-dir", str(cache), "--jobs", "1") == first  # same output, from the cache
    assert {p: p.stat().st_mtime_ns for p in entries(cache)} == stamps  # nothing rewritten

    # an edit re-renders that recipe only
    meta = root / "recipes" / "pkg3" / "meta.yaml"
    meta.write_text(meta.read_text().replace("1.3", "9.9"))
    edited = run("--cache-dir", str(cache))
    assert "9.9" in edited and len(entries(cache)) == 7

    other = tmp_path / "other"
    assert run("--cache-dir", str(other), "--no-cache") == edited
    assert not other.exists()


def test_cache_dir_defaults_to_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "tree", n=2)
    monkeypatch.setenv("STACKPLAN_CACHE_DIR", str(tmp_path / "envcache"))
    out = CliRunner().invoke(app, ["render", str(root), "--json", "-e", str(root / "cbc.yaml")])
    assert out.exit_code == 0, out.output
    assert len(entries(tmp_path / "envcache")) == 2
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(line["recipe"] for line in lines) == ["recipes/pkg0", "recipes/pkg1"]


@pytest.mark.parametrize("command", ["plan", "render", "preview"])
def test_help_lists_the_options(command: str) -> None:
    out = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert out.exit_code == 0
    for option in ("--jobs", "--cache-dir", "--no-cache"):
        assert option in out.stdout

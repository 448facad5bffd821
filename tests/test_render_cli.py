"""``stackplan render`` driven as a user would: through typer's runner and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stackplan.cli import app
from tests.stackplan_cli import PROJECT, run_cli

GOOD = 'package:\n  name: {name}\n  version: "1.0"\nrequirements:\n  host: [python]\n  run: [python]\n'


def tree(root: Path) -> Path:
    for name in ("alpha", "zeta"):
        (root / "recipes" / name).mkdir(parents=True)
        (root / "recipes" / name / "recipe.yaml").write_text(GOOD.format(name=name))
    (root / "recipes" / "broken").mkdir()
    (root / "recipes" / "broken" / "recipe.yaml").write_text("package:\n  name: broken\n   version: [1\n")
    (root / "variants.yaml").write_text('python:\n  - "3.11"\n  - "3.12"\n')
    return root


def run(*args: str):
    return CliRunner().invoke(app, ["render", *args])


def test_json_lines_in_truth_shape_sorted_and_one_bad_recipe_does_not_stop_the_others(tmp_path):
    root = tree(tmp_path)
    res = run(str(root), "--json", "-p", "osx-arm64", "-p", "linux-64", "-m", str(root / "variants.yaml"))
    assert res.exit_code == 1
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(d["recipe"], d["platform"]) for d in lines] == [
        ("recipes/alpha", "linux-64"),
        ("recipes/alpha", "osx-arm64"),
        ("recipes/broken", "linux-64"),
        ("recipes/broken", "osx-arm64"),
        ("recipes/zeta", "linux-64"),
        ("recipes/zeta", "osx-arm64"),
    ]
    alpha = lines[0]
    assert sorted(o["variant"]["python"] for o in alpha["outputs"]) == ["3.11", "3.12"]
    assert set(alpha["outputs"][0]) >= {
        "name",
        "version",
        "build_number",
        "requirements",
        "variant",
        "noarch",
    }
    assert "error" in lines[2] and "outputs" not in lines[2]
    for line in res.stdout.splitlines():  # sorted keys: byte-identical to a re-dump
        assert line == json.dumps(json.loads(line), sort_keys=True)
    broken = str(root / "recipes/broken/recipe.yaml")
    assert f"{broken}:3: invalid YAML" in res.stderr
    assert "[linux-64, osx-arm64]" in res.stderr


def test_table_output(tmp_path):
    root = tree(tmp_path)
    res = run(str(root / "recipes" / "alpha"), "-p", "win-64", "-m", str(root / "variants.yaml"))
    assert res.exit_code == 0, res.output
    assert "alpha-1.0" in res.stdout and "win-64" in res.stdout and "python=3.12" in res.stdout


def test_a_recipe_dir_path_is_named_from_the_current_dir_or_relative_to(tmp_path, monkeypatch):
    root = tree(tmp_path)
    monkeypatch.chdir(root)
    res = run("recipes/zeta", "--json")
    assert json.loads(res.stdout)["recipe"] == "recipes/zeta"
    res = run(str(root / "recipes" / "zeta" / "recipe.yaml"), "--json", "--relative-to", str(tmp_path.parent))
    assert json.loads(res.stdout)["recipe"] == f"{tmp_path.name}/recipes/zeta"


def test_env_reaches_the_recipe(tmp_path):
    d = tmp_path / "envy"
    d.mkdir()
    (d / "recipe.yaml").write_text('package:\n  name: envy\n  version: ${{ env.get("V", default="0") }}\n')
    res = run(str(d), "--json", "--env", "V=7.1")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["outputs"][0]["version"] == "7.1"


def test_stackplan_yaml_configs_are_used(tmp_path):
    root = tree(tmp_path)
    (root / "stackplan.yaml").write_text("variant_configs: [variants.yaml]\n")
    res = run(str(root / "recipes"), str(root), "--json", "--config", str(root / "stackplan.yaml"))
    first = json.loads(res.stdout.splitlines()[0])
    assert len(first["outputs"]) == 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-p", "amiga"], "unknown platform"),
        (["--env", "NOEQUALS"], "KEY=VALUE"),
        (["-m", "/nonexistent/cbc.yaml"], "no such file"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(tmp_path, args, words):
    res = run(str(tree(tmp_path)), *args)
    assert res.exit_code == 2
    assert words in res.output
    assert "Traceback" not in res.output


def test_bad_stackplan_yaml_is_located(tmp_path):
    root = tree(tmp_path)
    (root / "stackplan.yaml").write_text("channels: []\nplatfroms: [linux-64]\n")
    res = run(str(root))
    assert res.exit_code == 2
    assert "stackplan.yaml:2: unknown key 'platfroms'" in res.stderr


def test_nothing_found_is_an_error(tmp_path):
    res = run(str(tmp_path))
    assert res.exit_code == 1 and "no recipe dirs" in res.stderr


def test_help_teaches_with_an_example():
    res = CliRunner().invoke(app, ["render", "--help"])
    assert res.exit_code == 0
    assert (
        "Examples" in res.stdout and "stackplan render" in res.stdout and "--exclusive-config" in res.stdout
    )


def test_as_a_real_subprocess(tmp_path):
    root = tree(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    proc = run_cli(["render", str(root / "recipes"), "--json", "-p", "linux-64"], env, timeout=120)
    assert proc.returncode == 1
    recipes = [json.loads(line)["recipe"] for line in proc.stdout.splitlines()]
    assert recipes == ["alpha", "broken", "zeta"]
    assert "broken/recipe.yaml:3:" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.corpus
def test_corpus_recipes_are_named_and_shaped_like_the_truth_lines(corpus):
    sample = (corpus / "truth" / "sample.txt").read_text().split()[:12]
    truth = {}
    for line in (corpus / "truth" / "conda-build.osx-arm64.jsonl").read_text().splitlines():
        d = json.loads(line)
        if d["recipe"] in sample:
            truth[d["recipe"]] = d
    cfg = corpus / "config"
    res = run(
        *(str(corpus / rel) for rel in sample),
        "--relative-to",
        str(corpus),
        "-p",
        "osx-arm64",
        "-e",
        str(cfg / "conda-forge-pinning.yaml"),
        "-e",
        str(cfg / "bioconda_utils-conda_build_config.yaml"),
        "--json",
    )
    ours = [json.loads(x) for x in res.stdout.splitlines()]
    assert [(d["recipe"], d["platform"]) for d in ours] == sorted((r, "osx-arm64") for r in sample)
    for d in ours:
        assert set(d) in ({"recipe", "platform", "outputs"}, {"recipe", "platform", "error"})
        truth_keys = {k for out in truth[d["recipe"]].get("outputs", ()) for k in out}
        for out in d.get("outputs", ()):
            assert truth_keys <= set(out)


def test_progress_reporter_is_quiet_off_a_terminal_and_draws_on_one():
    import io

    from planner.progress import NullReporter
    from stackplan.cli.progress import RichReporter, reporter_for

    assert isinstance(reporter_for(io.StringIO()), NullReporter)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    rep = reporter_for(stream)
    assert isinstance(rep, RichReporter)
    rep.start("render", 50)
    rep.advance(25)
    rep.finish()
    rep.start("small", 3)  # too small for a bar: nothing drawn, nothing fails
    rep.advance()
    rep.finish()
    assert "render" in stream.getvalue()


def test_render_never_imports_prefect(tmp_path):
    root = tree(tmp_path)
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from stackplan.cli import app\n"
        f"res = CliRunner().invoke(app, ['render', {str(root / 'recipes' / 'alpha')!r}, '--json'])\n"
        "assert res.exit_code == 0, res.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"

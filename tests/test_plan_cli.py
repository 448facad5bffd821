"""``stackplan plan / graph / preview / explain`` on real recipe trees in real git repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.plan.model import Plan, validate_plan_dict
from stackplan.cli import app
from tests.gitrepo import git
from tests.recipe_files import meta_yaml

PROJECT = Path(__file__).resolve().parent.parent


RECIPES = {
    # zlib -> libhts -> samtools -> (noarch) pipeline ; python variants on pysam
    "zlib": meta_yaml("zlib", "1.3.1"),
    "libhts": meta_yaml("libhts", "1.20", host=["zlib >=1.2"], run=["zlib"]),
    "samtools": meta_yaml("samtools", "1.20", host=["libhts 1.20.*"]),
    "pysam": meta_yaml("pysam", "0.22", host=["python", "libhts"], run=["python"]),
    "pipeline": meta_yaml("pipeline", "2.0", noarch="generic", run=["samtools >=1.10", "pysam"]),
    "lonely": meta_yaml("lonely", "0.1"),
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "stack"
    for name, text in RECIPES.items():
        (root / "recipes" / name).mkdir(parents=True)
        (root / "recipes" / name / "meta.yaml").write_text(text)
    (root / "cbc.yaml").write_text('python:\n  - "3.11"\n  - "3.12"\n')
    (root / "stackplan.yaml").write_text("platforms: [linux-64, osx-arm64]\nvariant_configs: [cbc.yaml]\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def plan_at(path: Path) -> Plan:
    data = json.loads(path.read_text())
    validate_plan_dict(data)
    return Plan.from_dict(data)


def recipes_of(plan: Plan) -> dict[str, str]:
    return {n.recipe.split("/")[-1]: (n.skipped.kind if n.skipped else n.selected.kind) for n in plan.nodes}


def test_plan_everything_writes_a_valid_plan_and_a_summary(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    res = invoke("plan", str(repo), "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "linux-64" in res.output and "osx-arm64" in res.output and "layers" in res.output
    plan = plan_at(out)
    assert set(recipes_of(plan)) == set(RECIPES)
    layer = {n.id: n.layer for n in plan.nodes}
    by_name = {}
    for n in plan.nodes:
        by_name.setdefault((n.recipe.split("/")[-1], n.platform), []).append(n.id)
    zlib, hts, sam = (by_name[(x, "linux-64")][0] for x in ("zlib", "libhts", "samtools"))
    assert layer[zlib] < layer[hts] < layer[sam]
    assert len(by_name[("pysam", "linux-64")]) == 2  # one job per python variant
    [pipeline] = by_name[("pipeline", "noarch")]
    assert pipeline in plan.layers["linux-64"][layer[pipeline]]
    again = tmp_path / "again.json"
    assert invoke("plan", str(repo), "-o", str(again), "-q").exit_code == 0
    assert again.read_bytes() == out.read_bytes()


def test_changed_in_git_with_downstream_and_order_through_unselected(repo: Path, tmp_path: Path) -> None:
    (repo / "recipes" / "zlib" / "build.sh").write_text("make install\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "zlib script")
    out = tmp_path / "p.json"
    res = invoke("plan", str(repo), "--changed", "HEAD~1..HEAD", "-o", str(out), "-q")
    assert res.exit_code == 0, res.output
    assert recipes_of(plan_at(out)) == {"zlib": "changed"}
    res = invoke("plan", str(repo), "--changed", "HEAD~1..HEAD", "--downstream", "-o", str(out), "-q")
    kinds = recipes_of(plan_at(out))
    assert kinds["zlib"] == "changed" and kinds["samtools"] == "downstream" and "lonely" not in kinds
    res = invoke("plan", str(repo), "--changed", "HEAD~1..HEAD", "--downstream=1", "-o", str(out), "-q")
    assert set(recipes_of(plan_at(out))) == {"zlib", "libhts"}
    # zlib and samtools only: samtools still waits for zlib, through libhts
    res = invoke("plan", str(repo), "-k", "zlib,samtools", "-p", "linux-64", "-o", str(out), "-q")
    plan = plan_at(out)
    [edge] = plan.edges
    assert edge.via and edge.via[0].startswith("libhts-1.20-0@linux-64")


def test_deleted_recipe_is_a_warning_and_no_change_selects_nothing(repo: Path, tmp_path: Path) -> None:
    git(repo, "rm", "-rq", "recipes/lonely")
    git(repo, "commit", "-qm", "drop lonely")
    out = tmp_path / "p.json"
    res = invoke("plan", str(repo), "--changed", "HEAD~1..HEAD", "-o", str(out))
    assert res.exit_code == 0, res.output
    plan = plan_at(out)
    assert plan.nodes == ()
    assert any("recipes/lonely was deleted" in str(w) for w in plan.warnings)


def test_variant_config_change_selects_users_of_the_key(repo: Path, tmp_path: Path) -> None:
    (repo / "cbc.yaml").write_text('python:\n  - "3.12"\n  - "3.13"\n')
    git(repo, "commit", "-qam", "python 3.13")
    out = tmp_path / "p.json"
    res = invoke("plan", str(repo), "--changed", "HEAD~1..HEAD", "-o", str(out), "-q")
    assert res.exit_code == 0, res.output
    kinds = recipes_of(plan_at(out))
    assert kinds == {"pysam": "config-change"}
    assert "python" in next(n.selected.detail for n in plan_at(out).nodes)


def test_preview_markdown_for_a_pull_request(repo: Path) -> None:
    git(repo, "checkout", "-qb", "pr")
    (repo / "recipes" / "libhts" / "meta.yaml").write_text(RECIPES["libhts"].replace("1.20", "1.21"))
    (repo / "recipes" / "samtools" / "meta.yaml").write_text(RECIPES["samtools"].replace("1.20.*", ">=1.20"))
    git(repo, "commit", "-qam", "bump htslib")
    res = invoke("preview", "--base", "main", str(repo), "-p", "linux-64")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert text.startswith("<!-- stackplan-preview -->")
    assert "<summary><b>linux-64</b>" in text
    assert "- **layer 0** (1): ★`libhts 1.21`" in text and "**changed** `meta.yaml`" in text
    assert "`pipeline 2.0`" in text and "downstream" in text
    assert "zlib" not in text.split("<summary><b>linux-64</b>", 1)[1]


def test_graph_formats_from_a_tree_and_from_a_plan(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    assert invoke("plan", str(repo), "-o", str(out), "-q").exit_code == 0
    for fmt in ("json", "dot", "graphml", "mermaid", "markdown", "html"):
        res = invoke("graph", str(out), "--format", fmt)
        assert res.exit_code == 0, res.output
        assert res.stdout
    html = tmp_path / "p.html"
    assert invoke("graph", str(repo), "-f", "html", "-o", str(html), "-p", "linux-64").exit_code == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert invoke("graph", str(out), "--format", "pdf").exit_code == 2


def test_explain_shows_the_chain_from_the_changed_recipe(repo: Path, tmp_path: Path) -> None:
    (repo / "recipes" / "zlib" / "meta.yaml").write_text(meta_yaml("zlib", "1.3.2"))
    git(repo, "commit", "-qam", "zlib 1.3.2")
    res = invoke(
        "explain", "samtools", str(repo), "--changed", "HEAD~1..HEAD", "--downstream", "-p", "linux-64"
    )
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("samtools-1.20-0@linux-64")
    chain = res.stdout.split("why, from the start of the chain:")[1]
    assert chain.index("zlib-1.3.2") < chain.index("libhts-1.20") < chain.index("samtools-1.20")
    assert "waits for:" in res.stdout and "(host: libhts 1.20.*)" in res.stdout
    assert invoke("explain", "nosuchjob", str(repo)).exit_code == 1


def test_bad_input_is_a_clear_error_not_a_traceback(repo: Path, tmp_path: Path) -> None:
    res = invoke("plan", str(repo), "--changed", "nope..HEAD")
    assert res.exit_code == 2 and "nope" in res.output and "Traceback" not in res.output
    res = invoke("plan", str(repo), "-p", "linux-128")
    assert res.exit_code == 2 and "unknown platform" in res.output
    channel = tmp_path / "channel"
    (channel / "noarch").mkdir(parents=True)
    (channel / "noarch" / "repodata.json").write_text("{\n  oops\n}\n")
    res = invoke("plan", str(repo), "--skip-existing", str(channel))
    assert res.exit_code == 2 and "repodata.json:2" in res.output
    res = invoke("plan", str(tmp_path / "missing"))
    assert res.exit_code != 0 and "Traceback" not in res.output


def test_strict_cycles_fail_with_the_cycle(repo: Path, tmp_path: Path) -> None:
    (repo / "recipes" / "zlib" / "meta.yaml").write_text(meta_yaml("zlib", "1.3.1", build=["samtools"]))
    res = invoke("plan", str(repo), "-p", "linux-64", "--strict-cycles")
    assert res.exit_code == 3
    assert "zlib" in res.output and "--build: samtools-->" in res.output.replace("\n", "")
    out = tmp_path / "p.json"
    res = invoke("plan", str(repo), "-p", "linux-64", "-o", str(out))
    assert res.exit_code == 0
    [boot] = plan_at(out).bootstrap_edges
    assert boot.phase == "build" and boot.target.startswith("zlib")


def test_skip_existing_and_exclude(repo: Path, tmp_path: Path) -> None:
    channel = tmp_path / "channel"
    (channel / "linux-64").mkdir(parents=True)
    rec = {
        "name": "zlib",
        "version": "1.3.1",
        "build": "0",  # conda-build's build string of this recipe (no variant keys used, number 0)
        "build_number": 0,
        "depends": [],
        "subdir": "linux-64",
    }
    (channel / "linux-64" / "repodata.json").write_text(
        json.dumps({"packages": {"zlib-1.3.1-0.tar.bz2": rec}})
    )
    out = tmp_path / "p.json"
    args = (
        "plan",
        str(repo),
        "-p",
        "linux-64",
        "--skip-existing",
        str(channel),
        "-x",
        "lonely",
        "-o",
        str(out),
    )
    assert invoke(*args, "-q").exit_code == 0
    kinds = recipes_of(plan_at(out))
    assert kinds["zlib"] == "exists" and kinds["lonely"] == "excluded" and kinds["libhts"] == "all"


def test_plan_does_not_import_prefect(repo: Path) -> None:
    code = (
        "import sys\nfrom stackplan.cli import app\n"
        "try:\n    app(['plan', sys.argv[1], '-q', '-p', 'linux-64'])\nexcept SystemExit:\n    pass\n"
        "print('prefect' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(repo)], capture_output=True, text=True, cwd=PROJECT
    )
    assert proc.stdout.strip().splitlines()[-1] == "False", proc.stderr


def test_changed_files_list_and_bad_config(repo: Path, tmp_path: Path) -> None:
    listing = tmp_path / "changed.txt"
    listing.write_text("# from the CI\nrecipes/pysam/build.sh\nREADME.md\n")
    out = tmp_path / "p.json"
    res = invoke("plan", str(repo), "--changed-files", str(listing), "-p", "linux-64", "-o", str(out), "-q")
    assert res.exit_code == 0, res.output
    assert recipes_of(plan_at(out)) == {"pysam": "changed"}
    (repo / "stackplan.yaml").write_text("platforms: [linux-64]\nnot_a_key: 1\n")
    res = invoke("plan", str(repo))
    assert res.exit_code == 2 and "stackplan.yaml" in res.output and "Traceback" not in res.output


def test_providers_from_stackplan_yaml_and_ambiguity_warning(repo: Path, tmp_path: Path) -> None:
    (repo / "recipes" / "zlib-ng").mkdir()
    (repo / "recipes" / "zlib-ng" / "meta.yaml").write_text(meta_yaml("zlib", "1.3.1"))
    out = tmp_path / "p.json"
    assert (
        invoke(
            "plan", str(repo), "-p", "linux-64", "-k", "libhts", "--upstream", "-o", str(out), "-q"
        ).exit_code
        == 0
    )
    plan = plan_at(out)
    assert any(str(w).startswith("zlib is provided by recipes/zlib, recipes/zlib-ng") for w in plan.warnings)
    assert {n.recipe for n in plan.nodes} == {"recipes/libhts", "recipes/zlib"}  # equal versions: first dir
    (repo / "stackplan.yaml").write_text(
        "platforms: [linux-64, osx-arm64]\nvariant_configs: [cbc.yaml]\nproviders:\n  zlib: recipes/zlib-ng\n"
    )
    assert (
        invoke(
            "plan", str(repo), "-p", "linux-64", "-k", "libhts", "--upstream", "-o", str(out), "-q"
        ).exit_code
        == 0
    )
    plan = plan_at(out)
    assert {n.recipe for n in plan.nodes} == {"recipes/libhts", "recipes/zlib-ng"}
    assert not any("provided by" in str(w) for w in plan.warnings)


def test_provider_flag_overrides_stackplan_yaml(repo: Path, tmp_path: Path) -> None:
    (repo / "recipes" / "zlib-ng").mkdir()
    (repo / "recipes" / "zlib-ng" / "meta.yaml").write_text(meta_yaml("zlib", "1.3.1"))
    (repo / "stackplan.yaml").write_text(
        "platforms: [linux-64]\nvariant_configs: [cbc.yaml]\nproviders:\n  zlib: recipes/zlib\n"
    )
    out = tmp_path / "p.json"
    args = ("plan", str(repo), "-k", "libhts", "--upstream", "-o", str(out), "-q")
    assert invoke(*args).exit_code == 0
    assert {n.recipe for n in plan_at(out).nodes} == {"recipes/libhts", "recipes/zlib"}
    res = invoke(*args, "--provider", "zlib=recipes/zlib-ng/")
    assert res.exit_code == 0, res.output
    plan = plan_at(out)
    assert {n.recipe for n in plan.nodes} == {"recipes/libhts", "recipes/zlib-ng"}
    assert not any("provided by" in str(w) for w in plan.warnings)
    for bad in ("zlib", "=recipes/zlib", "zlib="):
        res = invoke(*args, "--provider", bad)
        assert res.exit_code == 2 and "NAME=RECIPE_DIR" in res.output, res.output


def test_noarch_platform_flag_moves_noarch_jobs_and_their_lane(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    res = invoke("plan", str(repo), "-k", "pipeline", "--noarch-platform", "osx-arm64", "-o", str(out), "-q")
    assert res.exit_code == 0, res.output
    [node] = plan_at(out).nodes
    assert (node.platform, node.build_platform, node.pool) == ("noarch", "osx-arm64", "osx-arm64")
    assert node.id in plan_at(out).layers["osx-arm64"][0]
    res = invoke("plan", str(repo), "--noarch-platform", "noarch", "-o", str(out), "-q")
    assert res.exit_code == 2 and "not a build platform" in res.output


def worktrees(repo: Path) -> list[str]:
    return [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_preview_head_reads_the_recipes_at_head_without_checking_it_out(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-qb", "pr")
    (repo / "recipes" / "libhts" / "meta.yaml").write_text(RECIPES["libhts"].replace("1.20", "1.21"))
    (repo / "recipes" / "samtools" / "meta.yaml").write_text(RECIPES["samtools"].replace("1.20.*", ">=1.20"))
    git(repo, "commit", "-qam", "bump htslib")
    git(repo, "checkout", "-q", "main")  # the work tree holds the base; the PR exists only as a branch
    before = git(repo, "status", "--porcelain")
    res = invoke("preview", "--base", "main", "--head", "pr", str(repo), "-p", "linux-64")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert "- **layer 0** (1): ★`libhts 1.21`" in text and "**changed** `meta.yaml`" in text
    assert "`samtools 1.20`" in text and "downstream" in text
    # the same body as with the head checked out (the plan names the user's ROOT, not a temp dir)
    git(repo, "checkout", "-q", "pr")
    checked_out = invoke("preview", "--base", "main", "--head", "pr", str(repo), "-p", "linux-64")
    assert checked_out.stdout == text
    git(repo, "checkout", "-q", "main")
    assert git(repo, "status", "--porcelain") == before and git(repo, "branch", "--show-current") == "main"
    assert worktrees(repo) == [f"worktree {repo.resolve()}"]  # the temporary worktree is gone
    # HEAD~0-style refs are the user's, not the temporary worktree's
    out = tmp_path / "p.md"
    res = invoke("preview", "--base", "pr~1", "--head", "pr", str(repo), "-p", "linux-64", "-o", str(out))
    assert res.exit_code == 0 and out.read_text() == text


def test_preview_head_unknown_ref_is_a_clear_error_and_leaves_nothing(repo: Path) -> None:
    res = invoke("preview", "--base", "main", "--head", "no-such-branch", str(repo))
    assert res.exit_code == 2
    assert "no-such-branch" in res.output and "Traceback" not in res.output
    assert worktrees(repo) == [f"worktree {repo.resolve()}"]


def test_preview_head_cleans_up_when_planning_fails(repo: Path) -> None:
    git(repo, "checkout", "-qb", "pr")
    (repo / "stackplan.yaml").write_text("platforms: [not-a-platform]\n")
    git(repo, "commit", "-qam", "bad config at head")
    git(repo, "checkout", "-q", "main")
    res = invoke("preview", "--base", "main", "--head", "pr", str(repo))
    assert res.exit_code == 2 and "not-a-platform" in res.output, res.output
    assert worktrees(repo) == [f"worktree {repo.resolve()}"]


# ---------------------------------------------------------------- conventions shared by every command


def test_plan_json_goes_to_stdout_without_o_and_with_dash(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in ((), ("-o", "-")):
        res = invoke("plan", str(repo), "-p", "linux-64", *args)
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        validate_plan_dict(data)
        assert "makespan" in res.stderr  # the summary moves to stderr, the JSON stays parseable
    assert not (tmp_path / "-").exists()


def test_summary_says_the_makespan_unit(repo: Path, tmp_path: Path) -> None:
    res = invoke("plan", str(repo), "-p", "linux-64", "-o", str(tmp_path / "p.json"))
    assert "makespan" in res.stdout and "4 jobs" in res.stdout  # zlib -> libhts -> samtools -> pipeline
    durations = tmp_path / "d.json"
    durations.write_text(
        json.dumps({"zlib": 60, "libhts": 600, "samtools": 120, "pysam": 60, "pipeline": 60})
    )
    res = invoke(
        "plan", str(repo), "-p", "linux-64", "--durations", str(durations), "-o", str(tmp_path / "q")
    )
    assert "14 min" in res.stdout, res.stdout


def test_unknown_package_is_an_error_with_did_you_mean(repo: Path) -> None:
    res = invoke("plan", str(repo), "-k", "samtool", "-q")
    assert res.exit_code == 2
    assert "'samtool'" in res.stderr and "did you mean 'samtools'" in res.stderr


def test_downstream_with_a_depth_on_every_command(repo: Path, tmp_path: Path) -> None:
    for command in ("plan", "graph", "explain"):
        extra = ("zlib",) if command == "explain" else ()
        res = invoke(command, *extra, str(repo), "-k", "zlib", "--downstream=1", "-p", "linux-64")
        assert res.exit_code == 0, (command, res.output)
    res = invoke("plan", str(repo), "-k", "zlib", "--downstream", "-p", "linux-64", "-q")
    assert res.exit_code == 0 and "samtools" in res.stdout
    (repo / "recipes" / "zlib" / "meta.yaml").write_text(meta_yaml("zlib", "1.3.2"))
    git(repo, "checkout", "-qb", "pr")
    git(repo, "commit", "-qam", "zlib 1.3.2")
    near = invoke("preview", "--base", "main", str(repo), "-p", "linux-64", "--downstream=1")
    assert near.exit_code == 0, near.output
    assert "libhts" in near.stdout and "samtools" not in near.stdout
    full = invoke("preview", "--base", "main", str(repo), "-p", "linux-64")
    assert "samtools" in full.stdout


def test_variant_override_replaces_a_key(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path / "state"))
    res = invoke("plan", str(repo), "-k", "pysam", "-p", "linux-64", "--variant", "python=3.13", "-q")
    assert res.exit_code == 0, res.output
    variants = {n["variant"].get("python") for n in json.loads(res.stdout)["nodes"]}
    assert variants == {"3.13"}
    again = invoke("plan", str(repo), "-k", "pysam", "-p", "linux-64", "--variant", "python=3.13", "-q")
    assert json.loads(again.stdout)["hash"] == json.loads(res.stdout)["hash"]
    bad = invoke("plan", str(repo), "--variant", "python")
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


def test_every_planning_command_takes_the_same_selection_flags() -> None:
    from stackplan.cli.plan_options import OPTIONS

    for command in ("plan", "graph", "explain", "run"):
        res = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        hidden = ("downstream_depth", "skip_existing_inputs")  # spelled --downstream=N, bare --skip-existing
        flags = [f"--{name.replace('_', '-')}" for name in OPTIONS if name not in hidden]
        missing = [f for f in flags if f not in res.stdout]
        assert not missing, (command, missing)
        assert "{" not in res.stdout.split("\n", 3)[1], res.stdout  # usage line: ROOT, not {root}


def test_plan_flags_with_a_plan_file_are_refused(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    assert invoke("plan", str(repo), "-p", "linux-64", "-o", str(out), "-q").exit_code == 0
    for command in (("graph", str(out)), ("explain", "zlib", "--plan", str(out))):
        res = invoke(*command, "--skiplist", str(out))
        assert res.exit_code == 2 and "--skiplist" in res.stderr


ENDLESS = (
    '{% set s = "x" * 900000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}\n'
    "package:\n  name: endless\n  version: '1.0'\n"
)


def test_every_planning_command_takes_the_render_budget_flags() -> None:
    for command in ("plan", "graph", "preview", "explain", "run", "rebuild"):
        res = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert "--render-timeout" in res.stdout and "--render-memory" in res.stdout, command


def test_render_timeout_flag_overrides_stackplan_yaml(repo: Path, tmp_path: Path) -> None:
    """stackplan.yaml allows 60 s a recipe; ``--render-timeout 0.5`` stops the endless one at 0.5 s,
    on ``plan`` and on ``graph`` alike, and the other recipes are planned."""
    import time

    (repo / "recipes" / "endless").mkdir()
    (repo / "recipes" / "endless" / "meta.yaml").write_text(ENDLESS)
    (repo / "stackplan.yaml").write_text(
        "platforms: [linux-64]\nvariant_configs: [cbc.yaml]\nrender_budget:\n  seconds: 60\n"
    )
    out = tmp_path / "plan.json"
    start = time.monotonic()
    res = invoke("plan", str(repo), "--render-timeout", "0.5", "--no-cache", "-q", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert time.monotonic() - start < 30  # not the 60 s of stackplan.yaml
    plan = plan_at(out)
    assert [(Path(e.path).parent.name, e.message) for e in plan.errors] == [
        ("endless", "render budget exceeded: 0.5 s")
    ]
    assert {"zlib", "samtools", "pipeline"} <= set(recipes_of(plan))
    graph = invoke("graph", str(repo), "--format", "json", "--render-timeout", "0.5", "--no-cache")
    assert graph.exit_code == 0, graph.output
    assert "render budget exceeded: 0.5 s" in graph.output
    bad = invoke("plan", str(repo), "--render-timeout", "0")
    assert bad.exit_code == 2 and "--render-timeout" in bad.output

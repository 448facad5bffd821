"""The benchmark tools: the ecosystem generator's shape, the runner, the docs section writer."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import pytest

from benchmarks import PeakRss, tree_rss, write_section
from benchmarks.__main__ import BENCHMARKS
from benchmarks.__main__ import main as bench_main
from benchmarks.gen_ecosystem import HUBS, generate, meta_yaml, write


def graph_of(recipes) -> nx.DiGraph:
    g = nx.DiGraph()
    for r in recipes:
        g.add_node(r.name)
        for d in (*r.deps, *r.run_only):
            g.add_edge(d, r.name)
    return g


@pytest.mark.parametrize("n", [300, 2000])
def test_generated_ecosystem_has_the_promised_shape(n: int) -> None:
    recipes = generate(n, seed=7)
    assert len(recipes) == n and len({r.name for r in recipes}) == n
    g = graph_of(recipes)
    cycles = [c for c in nx.strongly_connected_components(g) if len(c) > 1]
    assert 1 <= len(cycles) <= 5
    layers = list(nx.topological_generations(nx.condensation(g)))
    assert len(layers) >= 21  # hubs + a 20+ deep chain
    # a few hubs carry most edges: the busiest hub has far more dependents than the median recipe
    dependents = sorted((g.out_degree(x) for x in g), reverse=True)
    assert dependents[0] >= n // 5
    hubs = {r.name for r in recipes if r.name in HUBS}
    assert hubs and all(d in {r.name for r in recipes} for r in recipes for d in r.deps)
    kinds = {r.kind for r in recipes}
    assert kinds == {"ext", "py", "lib"}


def test_generator_is_deterministic(tmp_path: Path) -> None:
    write(tmp_path / "a", generate(200, seed=3))
    write(tmp_path / "b", generate(200, seed=3))
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 202  # recipes + config + stackplan.yaml
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files_a)


def test_generated_meta_yaml_is_yaml_after_jinja() -> None:
    from jinja2 import Environment
    from ruamel.yaml import YAML

    recipes = generate(400, seed=1)
    by_name = {r.name: r for r in recipes}
    env = Environment()
    ctx = {
        "compiler": lambda lang: f"{lang}_compiler_stub",
        "stdlib": lambda lang: f"{lang}_stdlib_stub",
        "pin_subpackage": lambda *a, **k: a[0],
        "target_platform": "linux-64",
        "PYTHON": "python",
    }
    kinds = set()
    for r in recipes:
        text = env.from_string(meta_yaml(r, by_name)).render(**ctx, name=r.name)
        doc = YAML(typ="safe").load(text)
        assert doc["package"]["name"] == r.name
        kinds.add(r.kind)
        if r.kind == "ext":
            assert "numpy" in doc["requirements"]["host"]
    assert kinds == {"ext", "py", "lib"}


def test_write_section_replaces_only_its_section(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "b.md"
    write_section(doc, "one", "first")
    doc.write_text("# Title\n\nprose\n\n" + doc.read_text() + "\ntail prose\n")
    write_section(doc, "two", "second")
    write_section(doc, "one", "first, again")
    text = doc.read_text()
    assert text.count("<!-- bench:one -->") == 1 and "first, again" in text and "first\n" not in text
    assert text.startswith("# Title\n\nprose") and "tail prose" in text and "second" in text


def test_tree_rss_counts_children() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; b = bytearray(150 * 1024 * 1024); time.sleep(5)"]
    )
    try:
        with PeakRss(interval=0.02) as rss:
            alone = tree_rss(proc.pid)
            for _ in range(200):
                alone = tree_rss(proc.pid)
                if alone > 140 * 1024 * 1024:
                    break
                time.sleep(0.02)
        assert alone > 140 * 1024 * 1024
        assert rss.peak >= alone
    finally:
        proc.kill()
        proc.wait()


def test_runner_lists_and_rejects_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main([]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in BENCHMARKS)
    assert bench_main(["no-such-benchmark"]) == 2


def test_runner_runs_gen_ecosystem(tmp_path: Path) -> None:
    assert bench_main(["gen_ecosystem", str(tmp_path / "eco"), "--recipes", "120"]) == 0
    assert len(list((tmp_path / "eco" / "recipes").glob("*/meta.yaml"))) == 120
    assert bench_main(["gen_ecosystem", str(tmp_path / "eco"), "--recipes", "120"]) == 2  # not empty


def test_scale_measuring_process_times_every_stage(tmp_path: Path) -> None:
    """The scale benchmark wraps planner functions by name: a rename must fail here, not in a late run."""
    from benchmarks.scale import STAGES, run_measured

    write(tmp_path / "tree", generate(40, seed=2))
    result = run_measured(
        {
            "root": str(tmp_path / "tree"),
            "platforms": ["linux-64", "osx-arm64"],
            "exclusive_configs": [str(tmp_path / "tree" / "conda_build_config.yaml")],
            "jobs": 1,
            "cache_dir": str(tmp_path / "cache"),
            "mode": "plan",
        }
    )
    assert set(result["stages"]) <= set(STAGES)
    for stage in ("discover", "render", "graph", "select", "layers", "json"):
        assert result["stages"].get(stage, 0.0) > 0.0, stage
    assert result["nodes"] > 40 and result["errors"] == 0
    assert [p for p in (tmp_path / "cache").glob("v*/*/*") if p.is_file()]  # the render cache was used
    assert list((tmp_path / "cache" / "graphs").glob("*.pickle"))  # and a graph snapshot stored
    assert result["peak_rss"] > 0 and result["wall"] > 0


def test_graph_truth_edges_follow_the_corpus_definition(tmp_path: Path) -> None:
    """A truth edge: exactly one other feedstock's outputs satisfy the spec (name, version, build
    string, after conda-build's fuzzing); several is ambiguous, none is the channel."""
    import json

    from benchmarks.graph_truth import load_truth

    def line(rel, *outputs, error=None):
        d = {"recipe": f"anaconda/feedstocks/{rel}", "platform": "linux-64"}
        if error:
            d["error"] = error
        else:
            d["outputs"] = [
                {"name": n, "version": v, "build_string": b, "build_number": 0, "requirements": reqs}
                for n, v, b, reqs in outputs
            ]
        return json.dumps(d)

    lines = [
        line("openssl/recipe", ("openssl", "3.0.13", "h1_0", {})),
        line("libressl/recipe", ("openssl", "2.9", "h2_0", {})),
        line("tk/recipe", ("tk", "8.6.12", "h3_0", {})),
        line("tk2/recipe", ("tk", "8.6.13", "h4_0", {})),
        line(
            "python/recipe",
            ("python", "3.12.4", "h5_0", {"host": ["openssl 3", "tk 8.6", "zlib 1"], "run": ["perl *_pl"]}),
        ),
        line("perl/recipe", ("perl", "5.32", "h6_0", {})),
        line("broken/recipe", error="FileNotFoundError"),
    ]
    path = tmp_path / "truth.jsonl"
    path.write_text("\n".join(lines) + "\n")
    truth = load_truth(path, "linux-64")
    # `openssl 3` -> `openssl 3.*`: only openssl-feedstock's 3.0.13 fits; `tk 8.6` fits both tks;
    # zlib has no provider; `perl *_pl` does not match perl's build string h6_0
    assert truth.edges == {("openssl/recipe", "python/recipe"): {("host", "openssl 3")}}
    assert truth.ambiguous == {"tk 8.6": 1}
    assert truth.errors == {"broken/recipe"}


def test_instruction_counts_sum_every_process_and_compare_to_the_first(tmp_path: Path) -> None:
    """``benchmarks instructions`` adds up the callgrind totals of all a run's processes (the plan
    process, the forkserver, its workers) and reports each revision against the first."""
    from benchmarks.instructions import read_count, report

    for label, totals in (("old", (1000, 250)), ("new", (1100, 280))):
        out = tmp_path / label
        out.mkdir()
        for pid, total in enumerate(totals):
            (out / f"callgrind.{pid}").write_text(f"events: Ir\nsummary: {total}\ntotals: {total}\n")
        (out / "stdout").write_text('progress...\n{"nodes": 7, "stages": {}}\n')
        (out / "stderr").write_text("")
    old, new = read_count("old", tmp_path), read_count("new", tmp_path)
    assert (old.total, new.total, len(new.processes), new.nodes) == (1250, 1380, 2, 7)
    text = report([old, new], sample=3, every=30)
    assert "| new | 0.000 G | 7 | 1.104 |" in text and "--against old" in text


def test_instruction_count_of_a_failed_run_is_an_error(tmp_path: Path) -> None:
    from benchmarks.instructions import read_count

    out = tmp_path / "broken"
    out.mkdir()
    (out / "stdout").write_text("")
    (out / "stderr").write_text("Traceback: ModuleNotFoundError: planner\n")
    with pytest.raises(RuntimeError, match="ModuleNotFoundError"):
        read_count("broken", tmp_path)


def test_instructions_names_an_unknown_revision() -> None:
    from benchmarks.instructions import _rev_label

    with pytest.raises(ValueError, match="unknown revision 'no-such-rev'"):
        _rev_label("no-such-rev")
    with pytest.raises(ValueError, match="unknown revision '--help'"):
        _rev_label("--help")  # a revision is never read as a git option


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind not installed")
def test_callgrind_counts_are_repeatable(tmp_path: Path) -> None:
    """Why the benchmark counts instructions: the same program counts (nearly) the same twice."""
    counts = []
    for run in range(2):
        out = tmp_path / f"cg.{run}"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-S",
                "-c",
                "sum(range(200000))",
            ],
            check=True,
            capture_output=True,
        )
        counts.append(int(out.read_text().split("summary:")[1].split()[0]))
    assert abs(counts[0] - counts[1]) / counts[0] < 0.01

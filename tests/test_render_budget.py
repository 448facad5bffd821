"""Untrusted recipes: the render budget (time, memory, size, variants) and the render environment.

Each test renders real recipes through the real pool; a recipe over budget gets a located error of
its own while the others render, and a recipe reading the environment sees only what was declared.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from planner.inputs.config import StackplanConfig
from planner.inputs.discover import discover
from planner.model import RenderOptions, Variant
from planner.render.budget import BUDGET_ERROR, CLI_BUDGET, RenderBudget
from planner.render.cache import RenderCache
from planner.render.environ import BUILD_VARIABLES, render_environment
from planner.render.pool import render_many
from tests.recipe_files import write_tree

GOOD = "package:\n  name: good\n  version: '1.0'\nrequirements:\n  host:\n    - zlib\n"
#: Two nested loops over a 900,000-character string: 8e11 steps, within the range and product limits.
ENDLESS = (
    '{% set s = "x" * 900000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}\n'
    "package:\n  name: endless\n  version: '1.0'\n"
)
#: Keeps a million-byte string per step: ~900 GB if nothing stops it.
GREEDY = (
    '{% set ns = namespace(keep=[]) %}{% for a in "x" * 900000 %}'
    '{% set _ = ns.keep.append("y" * 999999 + a) %}{% endfor %}\n'
    "package:\n  name: greedy\n  version: '1.0'\n"
)
V1_ENV = """\
package:
  name: leak
  version: '1.0.${{ env.get("GITHUB_TOKEN", default="none") }}'
requirements:
  host:
    - leak-${{ env.get("STACKPLAN_WEBHOOK_SECRET", default="none") }}
    - cpu-${{ env.get("CPU_COUNT", default="unset") }}
    - declared-${{ env.get("DECLARED", default="unset") }}
"""
V0_ENV = """\
package:
  name: leak0
  version: '1.0.{{ environ.get("GITHUB_TOKEN", "none") }}'
requirements:
  host:
    - leak-{{ os.environ.get("STACKPLAN_WEBHOOK_SECRET", "none") }}
    - declared-{{ environ.get("DECLARED", "unset") }}
"""


def tree(root: Path, recipes: dict[str, tuple[str, str]]):
    """Each recipe as ``<name>/<filename>`` under ``root``, discovered."""
    files = {f"{name}/{filename}": text for name, (filename, text) in recipes.items()}
    return discover(write_tree(root, files))


def by_recipe(renders):
    return {r.recipe: r for r in renders}


def test_an_endless_template_is_stopped_and_the_others_render(tmp_path):
    sources = tree(tmp_path, {"endless": ("meta.yaml", ENDLESS), "good": ("recipe.yaml", GOOD)})
    budget = RenderBudget(seconds=2, isolate=True)
    start = time.monotonic()
    renders = by_recipe(render_many(sources, ["linux-64"], RenderOptions(), jobs=1, budget=budget))
    assert time.monotonic() - start < 60
    err = renders["endless"].error
    assert err is not None and err.message == f"{BUDGET_ERROR}: 2 s"
    assert str(err.path).endswith("meta.yaml")
    assert renders["good"].error is None and renders["good"].variants


def test_an_endless_template_is_stopped_in_the_callers_process_too(tmp_path):
    sources = tree(tmp_path, {"endless": ("meta.yaml", ENDLESS)})
    renders = render_many(sources, ["linux-64"], RenderOptions(), budget=RenderBudget(seconds=1))
    assert renders[0].error.message == f"{BUDGET_ERROR}: 1 s"


def test_memory_budget_stops_a_greedy_recipe_in_its_worker(tmp_path):
    sources = tree(tmp_path, {"greedy": ("meta.yaml", GREEDY), "good": ("recipe.yaml", GOOD)})
    budget = RenderBudget(seconds=60, memory_mb=300, isolate=True)
    renders = by_recipe(render_many(sources, ["linux-64"], RenderOptions(), jobs=1, budget=budget))
    err = renders["greedy"].error
    assert err is not None and err.message.startswith(BUDGET_ERROR), err
    assert renders["good"].error is None


def test_file_size_and_variant_limits_are_located_errors_never_cached(tmp_path):
    big = GOOD + "# " + "x" * 5000 + "\n"
    many = "package:\n  name: many\n  version: '1.0'\nrequirements:\n  host:\n    - python\n"
    sources = tree(
        tmp_path / "t",
        {
            "big": ("recipe.yaml", big),
            "many": ("meta.yaml", many),
            "good": ("recipe.yaml", GOOD),
        },
    )
    pins = "python:\n  - 3.10\n  - 3.11\n  - 3.12\n"
    (tmp_path / "t" / "many" / "conda_build_config.yaml").write_text(pins)
    sources = discover(tmp_path / "t")
    cache = RenderCache(tmp_path / "cache")
    budget = RenderBudget(max_file_bytes=4096, max_variants=2)
    renders = by_recipe(render_many(sources, ["linux-64"], RenderOptions(), cache=cache, budget=budget))
    assert renders["big"].error.message.startswith(f"{BUDGET_ERROR}: file is ")
    assert str(renders["big"].error.path).endswith("recipe.yaml")
    assert renders["many"].error.message == f"{BUDGET_ERROR}: 3 variants (limit 2)"
    assert renders["good"].error is None
    # without the budget they render: a budget error was not remembered by the cache
    again = by_recipe(render_many(sources, ["linux-64"], RenderOptions(), cache=cache))
    assert again["big"].error is None and len(again["many"].variants) == 3


def test_cli_budget_reads_stackplan_yaml(tmp_path):
    from planner.inputs.config import load_config

    (tmp_path / "stackplan.yaml").write_text("render_budget:\n  seconds: 5\n  max_variants: 7\n")
    cfg = load_config(tmp_path)
    assert CLI_BUDGET.with_overrides(**cfg.render_budget) == RenderBudget(
        seconds=5, max_file_bytes=CLI_BUDGET.max_file_bytes, max_variants=7
    )
    (tmp_path / "stackplan.yaml").write_text("render_budget:\n  secnds: 5\n")
    with pytest.raises(Exception, match="secnds"):
        load_config(tmp_path)


@pytest.mark.parametrize("jobs, isolate", [(1, False), (2, True)])
def test_renders_never_see_the_process_environment(tmp_path, monkeypatch, jobs, isolate):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_token")
    monkeypatch.setenv("STACKPLAN_WEBHOOK_SECRET", "hook-secret")
    monkeypatch.setenv("CPU_COUNT", "7")
    sources = tree(tmp_path, {"v1": ("recipe.yaml", V1_ENV), "v0": ("meta.yaml", V0_ENV)})
    options = StackplanConfig().render_options(environ={"DECLARED": "yes"})
    assert dict(options.environ) == {"CPU_COUNT": "7", "DECLARED": "yes"}
    before = dict(os.environ)
    renders = render_many(
        sources, ["linux-64"], options, jobs=jobs, budget=RenderBudget(isolate=isolate), min_pool_renders=1
    )
    assert dict(os.environ) == before  # the caller's environment is restored
    text = json.dumps([r.to_dict() for r in renders])
    assert "ghp_secret_token" not in text and "hook-secret" not in text
    got = by_recipe(renders)
    v1 = got["v1"].variants[0].outputs[0]
    assert v1.version == "1.0.none"
    assert set(v1.requirements.host) >= {"leak-none", "cpu-7", "declared-yes"}
    v0 = got["v0"].variants[0].outputs[0]
    assert v0.version == "1.0.none" and set(v0.requirements.host) >= {"leak-none", "declared-yes"}


def test_render_environment_allow_list():
    assert render_environment({}, {"HOME": "/root", "GITHUB_TOKEN": "x"}) == {}
    process = {name: "v" for name in BUILD_VARIABLES}
    assert render_environment({"CPU_COUNT": "1"}, process)["CPU_COUNT"] == "1"
    assert set(render_environment({}, process)) == set(BUILD_VARIABLES)
    assert isinstance(Variant(render_environment({"A": "b"}, {})), Variant)


def test_a_direct_v1_render_does_not_see_the_process_environment_either(tmp_path, monkeypatch):
    from planner.render.recipe import render_recipe

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_token")
    monkeypatch.setenv("STACKPLAN_WEBHOOK_SECRET", "hook-secret")
    [source] = tree(tmp_path, {"v1": ("recipe.yaml", V1_ENV)})
    [render] = render_recipe(source, ["linux-64"], RenderOptions())
    assert "ghp_secret_token" not in json.dumps(render.to_dict())
    assert render.variants[0].outputs[0].version == "1.0.none"

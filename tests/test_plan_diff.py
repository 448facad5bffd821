"""``stackplan diff``: jobs added, removed, moved between layers and rebuilt, between two real plans."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from planner.plan.build import PlanSettings, assemble_plan
from planner.plan.diff import diff_plans
from planner.plan.model import Plan
from planner.plan.select import Selection
from stackplan.cli import app
from tests.recipes_factory import as_renders, out, recipe


def make(zlib: str, tiff_host: tuple[str, ...], extra: bool) -> Plan:
    rs = [
        recipe("recipes/zlib", [out("zlib", zlib)]),
        recipe("recipes/jpeg", [out("jpeg", "9")]),
        recipe("recipes/libtiff", [out("libtiff", "4.6", host=tiff_host)]),
        recipe("recipes/pillow", [out("pillow", "10.3", host=("libtiff",))]),
    ]
    if extra:
        rs.append(recipe("recipes/matplotlib", [out("matplotlib", "3.9", host=("pillow",))]))
    plan, _ = assemble_plan(as_renders(rs), Selection(), PlanSettings(root="stack", platforms=("linux-64",)))
    return plan


def test_diff_names_added_removed_moved_and_rebuilt(tmp_path) -> None:
    a = make("1.3.1", (), extra=True)
    b = make("1.3.2", ("jpeg", "zlib"), extra=False)  # libtiff now waits for zlib too: one layer later
    result = diff_plans(a, b)
    kinds = {(c.kind, c.recipe) for c in result.changes}
    assert ("removed", "recipes/matplotlib") in kinds
    assert ("rebuilt", "recipes/zlib") in kinds  # matched by recipe and variant, not by id
    assert ("moved", "recipes/pillow") in kinds and ("moved", "recipes/libtiff") in kinds
    assert not any(c.recipe == "recipes/jpeg" for c in result.changes)
    assert diff_plans(a, a).changes == ()
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(a.to_json())
    pb.write_text(b.to_json())
    res = CliRunner().invoke(app, ["diff", str(pa), str(pb)])
    assert res.exit_code == 0, res.output
    assert "rebuilt   linux-64       recipes/zlib: zlib-1.3.1-0 -> zlib-1.3.2-0" in res.stdout
    assert (
        "moved     linux-64       recipes/pillow: pillow-10.3-0 (layer 1) -> pillow-10.3-0 (layer 2)"
        in res.stdout
    )
    data = json.loads(CliRunner().invoke(app, ["diff", str(pa), str(pb), "--json"]).stdout)
    assert data["counts"] == {"removed": 1, "moved": 2, "rebuilt": 1}
    assert CliRunner().invoke(app, ["diff", str(pa), str(pb), "--exit-code"]).exit_code == 1
    assert CliRunner().invoke(app, ["diff", str(pa), str(pa), "--exit-code"]).exit_code == 0
    assert CliRunner().invoke(app, ["diff", str(pa), str(tmp_path / "nope.json")]).exit_code == 2

"""The PR comment: always within GitHub's limit, informative first, and PR text stays text.

Plans here are made by the real planner (``assemble_plan``) from rendered recipes; the comment is the
same Markdown ``stackplan preview`` prints and ``serve`` posts.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.export.dot import to_dot
from planner.export.html import to_html
from planner.export.markdown import GITHUB_LIMIT, LIMIT, MARKER, read_state, state_line, to_markdown
from planner.export.mermaid import to_mermaid
from planner.export.text import code
from planner.plan.build import PlanSettings, assemble_plan
from planner.plan.model import Plan
from planner.plan.select import UNLIMITED, Selection
from tests.recipes_factory import as_renders, out, recipe

PLATFORMS = ("linux-64", "osx-arm64", "win-64", "linux-aarch64")
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")


def stack(n_recipes: int, *, pythons=PYTHONS, same_everywhere: bool = True) -> Plan:
    """``base`` changed; ``n_recipes`` python recipes depend on it (and on each other in chains of 10).
    ``same_everywhere=False`` gives each platform its own versions (nothing to share between them)."""
    rs = []
    for k, p in enumerate(PLATFORMS):
        version = "2.0" if same_everywhere else f"2.0.{k}"
        rs.append(recipe("recipes/base", [out("base", "1.3")], p))
        for i in range(n_recipes):
            dep = "base" if i % 10 == 0 else f"pkg{i - 1}"
            for py in pythons:
                outputs = [out(f"pkg{i}", version, host=(dep, "python"))]
                rs.append(recipe(f"recipes/pkg{i}", outputs, p, {"python": py}))
    selection = Selection(changed={"recipes/base": "meta.yaml"}, downstream=UNLIMITED)
    plan, _ = assemble_plan(as_renders(rs), selection, PlanSettings(root="stack", platforms=PLATFORMS))
    return plan


def test_a_huge_plan_fits_and_says_what_is_cut() -> None:
    plan = stack(600, same_everywhere=False)  # 12,004 jobs on 4 platforms
    text = to_markdown(plan)
    assert len(text) <= LIMIT < GITHUB_LIMIT
    assert text.startswith(MARKER)
    # the summary, what changed, and every platform are there
    assert "**12004 job(s) to build** from 601 recipe(s) on 4 platform(s)" in text
    assert "### What changed" in text and "**changed** `meta.yaml`: 1 recipe(s), 4 job(s)" in text
    for p in PLATFORMS:
        assert f"<summary><b>{p}</b>: 3001 job(s) in 601 recipe(s)" in text
    # variants collapse to the differing key; rows are grouped by recipe
    assert f"`py 3.10{chr(0x2013)}3.14 {chr(0xD7)}5`" in text
    cut = re.findall(r"… (\d+) more recipe\(s\), (\d+) job\(s\)", text)
    assert len(cut) == 4  # each platform says how much it leaves out, and where the full plan is
    shown = len(re.findall(r"`pkg\d+ 2\.0\.\d`|★`base 1\.3`", text))
    assert shown + sum(int(n) for n, _ in cut) + 3 == 4 * 601  # + base, counted as on linux-64
    assert "the full plan:" in text
    assert text.count("<details>") == text.count("</details>")


def test_platforms_share_the_budget_and_layers_come_in_order() -> None:
    text = to_markdown(stack(600, same_everywhere=False))
    blocks = text.split("<details><summary><b>")[1:5]
    sizes = [len(b) for b in blocks]
    assert max(sizes) - min(sizes) < 2_000  # a fair share each
    for block in blocks:
        layers = [int(m) for m in re.findall(r"^- \*\*layer (\d+)\*\*", block, re.M)]
        assert layers == sorted(layers) and len(layers) > 3


def test_what_equals_the_biggest_platform_is_counted_not_repeated() -> None:
    text = to_markdown(stack(800))  # would not fit 4 times; fits once
    assert "not shown" not in text and len(text) <= LIMIT
    assert text.count("801 recipe(s) as on linux-64 (same layer, version and variants)") == 3
    assert text.count("`pkg799 2.0`") == 1


def test_small_plans_are_complete() -> None:
    text = to_markdown(stack(3))
    assert "not shown" not in text and text.count("`pkg2 2.0`") == 4 and "as on" not in text


def test_what_is_new_since_the_last_comment() -> None:
    before = stack(3)
    after = stack(4)
    state = read_state(to_markdown(before))
    assert state is not None and state["plan"] == before.hash[:12] and state["jobs"]["linux-64"] == 16
    text = to_markdown(after, previous=to_markdown(before))
    assert f"**Since the last update** (plan `{before.hash[:12]}`): jobs linux-64 +5" in text
    assert "- added: `recipes/pkg3`" in text
    assert "Unchanged since the last update" in to_markdown(after, previous=to_markdown(after))
    # a damaged or foreign body is no state (and no crash)
    assert read_state("<!-- stackplan-state !!! -->") is None and read_state("hello") is None
    assert read_state(None) is None


HOSTILE = (
    "@octocat please look <!-- x --> [click](http://evil.example) ![i](http://e/i.png) | ## ✅ all green`"
)


def hostile_plan() -> Plan:
    rs = []
    for p in ("linux-64",):
        rs.append(recipe("recipes/base", [out("base", "1.0", host=(HOSTILE,))], p))
        rs.append(
            recipe("recipes/evil", [out("evil", "1.0 @team", host=("base", HOSTILE))], p, {"python": HOSTILE})
        )
        rs.append(recipe("recipes/evil", [out("evil", "1.0 @team", host=("base",))], p, {"python": "3.12"}))
    selection = Selection(changed={"recipes/base": HOSTILE}, downstream=UNLIMITED)
    plan, _ = assemble_plan(as_renders(rs), selection, PlanSettings(root="stack", platforms=("linux-64",)))
    return plan


def _outside_code(markdown: str) -> str:
    """The text GitHub would render as Markdown: code spans removed (their content is literal)."""
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", markdown)


def test_pr_text_cannot_mention_link_or_inject_html() -> None:
    plan = hostile_plan()
    assert any("@octocat" in str(w) for w in plan.warnings)  # the hostile requirement reached a warning
    text = to_markdown(plan)
    assert "@octocat" in text  # shown, but only inside code spans:
    rendered = _outside_code(text)
    assert "@" not in rendered
    assert "](http" not in rendered and "<!-- x" not in rendered
    assert "all green" not in rendered
    assert not re.search(r"^#+ .*✅", text, re.M)
    # our own HTML comments are the marker and the base64 state line only
    assert re.findall(r"<!--.*?-->", rendered) == [MARKER, state_line(plan)]
    assert "\n## ✅" not in text


@given(st.text(min_size=1, max_size=80))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_a_code_span_holds_any_text(text: str) -> None:
    span = code(text, table=True)
    assert "\n" not in span
    fence = re.match(r"`+", span).group(0)
    inner = span[len(fence) : -len(fence)]
    assert span.endswith(fence) and fence not in inner  # nothing can close it early
    assert "|" not in inner.replace("\\|", "")  # nor end a table cell


def test_graph_exports_escape_pr_text() -> None:
    plan = hostile_plan()
    html = to_html(plan)
    assert "<!-- x -->" not in html  # neither in the page's text (escaped) nor in the JSON payload
    assert "@octocat please look &lt;!-- x --&gt;" in html and "\\u003c!-- x --\\u003e" in html
    mermaid = to_mermaid(plan)
    for line in mermaid.splitlines():
        if '["' in line:
            label = line.split('["', 1)[1].rsplit('"]', 1)[0]
            assert '"' not in label and "<" not in label and "`" not in label
    dot = to_dot(plan)
    assert all(line.count('"') % 2 == 0 or '\\"' in line for line in dot.splitlines())


def test_the_anaconda_tree_with_a_zlib_bump_on_4_platforms_fits(corpus, tmp_path) -> None:
    """The case of the issue: 1,708 feedstocks in a real git repo, the global zlib pin moved, four
    platforms. The corpus is read in place and copied to tmp_path only."""
    import shutil
    import subprocess

    from typer.testing import CliRunner

    from stackplan.cli import app

    repo = tmp_path / "repo"
    shutil.copytree(corpus / "anaconda" / "feedstocks", repo / "feedstocks")
    cbc = (corpus / "config" / "anaconda-aggregate-conda_build_config.yaml").read_text()
    (repo / "cbc.yaml").write_text(cbc)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }

    def git(*args: str) -> None:
        subprocess.run(
            ["git", *args], cwd=repo, check=True, capture_output=True, env={**env, "PATH": "/usr/bin:/bin"}
        )

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "base")
    assert "\nzlib:\n  - '1'\n" in cbc
    (repo / "cbc.yaml").write_text(cbc.replace("\nzlib:\n  - '1'\n", "\nzlib:\n  - '1.3'\n"))
    git("commit", "-qam", "zlib 1.3")
    platforms = [a for p in ("linux-64", "osx-arm64", "win-64", "linux-aarch64") for a in ("-p", p)]
    configs = ["-e", str(repo / "cbc.yaml"), "--cache-dir", str(tmp_path / "cache")]
    res = CliRunner().invoke(app, ["preview", "--base", "HEAD~1", str(repo), *platforms, *configs])
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert len(text) <= GITHUB_LIMIT
    assert "| platform | jobs | recipes | layers | makespan |" in text
    assert "**config-change** `zlib: variant config cbc.yaml changed zlib`" in text
    assert "`matplotlib-base`" in text and "`pillow " in text
    assert "not shown (comment size limit); the full plan:" in text
    assert text.count("<details>") == text.count("</details>")


def test_mermaid_groups_by_recipe_over_githubs_limits() -> None:
    from planner.export.mermaid import MAX_EDGES, MAX_TEXT

    plan = stack(100)  # 2,004 jobs, far over 500 edges
    assert len(plan.edges) > MAX_EDGES
    text = to_mermaid(plan)
    assert text.startswith("%% ") and "one node per recipe and platform" in text
    assert len(re.findall(r"-->", text)) <= MAX_EDGES and len(text) <= MAX_TEXT
    assert "pkg7-2.0 x5" in text  # the five python variants are one node
    huge = to_mermaid(stack(300))
    assert huge.startswith("%% warning:") and "--format html" in huge.splitlines()[0]
    small = to_mermaid(stack(3))
    assert small.startswith("flowchart LR") and "py=3.10" in small  # short labels: the differing key only
    assert "python=3.10" not in small and "zlib" not in small

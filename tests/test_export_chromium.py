"""The HTML graph page in a real headless Chromium, driven through the DevTools protocol: it draws
every job with no script error, a real mouse click lights up exactly what is upstream and downstream,
typed text finds jobs, the platform menu shows one lane, recipe text stays text, and a plan of 2,000
jobs lays out. Skipped without chromium unless STACKPLAN_REQUIRE_CHROMIUM=1 (CI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

from flows.run.synthetic import variant_plan
from planner.export import export
from planner.plan.model import Plan
from tests.browser import Browser, require_chromium
from tests.plan_fixtures import sample_plan

pytestmark = pytest.mark.chromium

ROOT = "document.documentElement"
READY = f"{ROOT}.getAttribute('data-ready') || {ROOT}.getAttribute('data-errors')"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(require_chromium(), tmp_path_factory.mktemp("chromium")) as b:
        yield b


def open_page(browser: Browser, plan: Plan, tmp_path: Path, extra: str = "") -> None:
    page = tmp_path / "plan.html"
    page.write_text(export(plan, "html").replace("</body>", extra + "</body>"))
    seen = len(browser.events)
    browser.goto(page.as_uri())
    ready = browser.wait_for(READY, timeout=600)
    assert ready == str(len(plan.nodes)), ready
    assert browser.evaluate("document.documentElement.getAttribute('data-errors')") is None
    del browser.events[:seen]


def classed(browser: Browser, cls: str) -> set[str]:
    return set(browser.evaluate(f"stackplanGraph.cy.nodes('.job.{cls}').map(n => n.id())"))


def graph(plan: Plan) -> nx.DiGraph:
    g = nx.DiGraph((e.source, e.target) for e in plan.edges)
    g.add_nodes_from(n.id for n in plan.nodes)
    return g


def test_page_draws_every_job_grouped_by_recipe(browser: Browser, tmp_path: Path) -> None:
    plan = sample_plan()
    open_page(browser, plan, tmp_path)
    assert browser.console_errors() == []
    assert set(browser.evaluate("stackplanGraph.cy.nodes('.job').map(n => n.id())")) == {
        n.id for n in plan.nodes
    }
    boxes = browser.evaluate(
        "stackplanGraph.cy.nodes('.recipe').map(n => [n.data('label'), n.children().length])"
    )
    assert ["numpy-1.26.4 (2 jobs)", 2] in boxes
    labels = browser.evaluate(
        "stackplanGraph.cy.getElementById('recipe:linux-64:recipes/numpy')"
        ".children().map(n => n.data('label'))"
    )
    assert sorted(labels) == ["py=3.11", "py=3.12"]
    # the layout is left to right in build order: every drawn edge points rightwards
    backwards = browser.evaluate(
        "stackplanGraph.cy.edges().filter(e => e.target().position('x') <= e.source().position('x')).length"
    )
    assert backwards == 0
    # and the canvas really shows it: pixels of the "changed" colour (numpy's jobs) are on screen
    shot = browser.screenshot(tmp_path / "plan.png")
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    changed = browser.evaluate(
        """(() => { let n = 0;
        document.querySelectorAll('#graph canvas').forEach(c => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 0; i < d.length; i += 4)
            if (Math.abs(d[i] - 0xE6) < 8 && Math.abs(d[i+1] - 0x9F) < 8 && d[i+2] < 8 && d[i+3] > 200) n++;
        }); return n; })()"""
    )
    assert changed > 100


def test_a_click_lights_up_exactly_upstream_and_downstream(browser: Browser, tmp_path: Path) -> None:
    plan = sample_plan()
    open_page(browser, plan, tmp_path)
    job = next(n.id for n in plan.nodes if n.recipe == "recipes/scipy" and n.lane == "osx-arm64")
    # bring the job into view, then click where it is drawn, as a person would
    x, y = browser.evaluate(
        f"""(() => {{ const cy = stackplanGraph.cy, n = cy.getElementById({json.dumps(job)});
        cy.zoom(1); cy.center(n); const r = cy.container().getBoundingClientRect(), p = n.renderedPosition();
        return [r.left + p.x, r.top + p.y]; }})()"""
    )
    browser.click(x, y)
    g = graph(plan)
    assert classed(browser, "focus") == {job}
    assert classed(browser, "up") == nx.ancestors(g, job) != set()
    assert classed(browser, "down") == nx.descendants(g, job) != set()
    faded = classed(browser, "faded")
    assert faded == {n.id for n in plan.nodes} - nx.ancestors(g, job) - nx.descendants(g, job) - {job}
    details = browser.evaluate("document.getElementById('details').textContent")
    assert job in details and "recipes/scipy" in details
    assert "waits for 1 job(s)" in browser.evaluate("document.getElementById('status').textContent")
    # a click on the background clears the highlight
    browser.click(5, browser.evaluate("stackplanGraph.cy.container().getBoundingClientRect().bottom - 5"))
    assert classed(browser, "faded") == set()


def test_clicking_a_recipe_box_highlights_around_all_its_variants(browser: Browser, tmp_path: Path) -> None:
    plan = sample_plan()
    open_page(browser, plan, tmp_path)
    result = browser.evaluate("stackplanGraph.select('recipe:osx-arm64:recipes/scipy')")
    g = graph(plan)
    members = {n.id for n in plan.nodes if n.recipe == "recipes/scipy" and n.lane == "osx-arm64"}
    assert set(result["upstream"]) == set().union(*(nx.ancestors(g, m) for m in members))
    assert set(result["downstream"]) == set().union(*(nx.descendants(g, m) for m in members))


def test_typing_in_the_search_box_finds_jobs_by_name(browser: Browser, tmp_path: Path) -> None:
    plan = sample_plan()
    open_page(browser, plan, tmp_path)
    x, y = browser.evaluate(
        "(() => { const r = document.getElementById('search').getBoundingClientRect();"
        " return [r.left + 10, r.top + r.height / 2]; })()"
    )
    browser.click(x, y)
    browser.type_text("SKLearn")
    expected = {n.id for n in plan.nodes if any(o.name == "sklearn" for o in n.outputs)}
    assert classed(browser, "match") == expected and len(expected) == 4
    assert browser.evaluate("document.getElementById('status').textContent") == '4 job(s) match "SKLearn"'
    browser.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Escape", "code": "Escape"})
    assert classed(browser, "match") == set()
    assert browser.evaluate("stackplanGraph.search('no-such-package')") == []
    assert browser.evaluate("document.getElementById('status').textContent").startswith("0 job(s)")


def test_the_platform_menu_shows_one_lane(browser: Browser, tmp_path: Path) -> None:
    plan = sample_plan()
    open_page(browser, plan, tmp_path)
    shown = browser.evaluate(
        "(() => { const m = document.getElementById('platform'); m.value = 'osx-arm64';"
        " m.dispatchEvent(new Event('change')); return stackplanGraph.cy.nodes('.job')"
        ".filter(n => n.visible()).map(n => n.id()); })()"
    )
    assert set(shown) == {n.id for n in plan.nodes if n.lane == "osx-arm64"}
    assert browser.evaluate("stackplanGraph.showPlatform('')") == len(plan.nodes)


def test_recipe_text_stays_text(browser: Browser, tmp_path: Path) -> None:
    """A recipe path with markup (``recipes/sk<learn>``) is shown literally, never parsed."""
    plan = sample_plan()
    open_page(browser, plan, tmp_path)
    job = next(n.id for n in plan.nodes if n.recipe == "recipes/sk<learn>")
    browser.evaluate(f"stackplanGraph.select({json.dumps(job)})")
    assert "recipes/sk<learn>" in browser.evaluate("document.getElementById('details').textContent")
    assert browser.evaluate("document.getElementsByTagName('learn').length") == 0


def test_a_broken_page_is_caught(browser: Browser, tmp_path: Path) -> None:
    """The error recorder works: otherwise the checks above could not fail."""
    page = tmp_path / "broken.html"
    page.write_text(
        export(sample_plan(), "html").replace("</body>", "<script>no_such_function();</script></body>")
    )
    browser.goto(page.as_uri())
    errors = browser.wait_for("document.documentElement.getAttribute('data-errors')")
    assert "no_such_function" in errors


@pytest.mark.slow
def test_two_thousand_jobs_lay_out_and_respond(browser: Browser, tmp_path: Path) -> None:
    plan = variant_plan(400)  # 2,000 jobs: 400 recipes x 5 python versions
    assert len(plan.nodes) == 2000
    open_page(browser, plan, tmp_path)
    assert browser.console_errors() == []
    print("layout ms:", browser.evaluate("document.documentElement.getAttribute('data-layout-ms')"))
    job = sorted(n.id for n in plan.nodes)[1000]
    result = browser.evaluate(f"stackplanGraph.select({json.dumps(job)})")
    g = graph(plan)
    assert set(result["upstream"]) == nx.ancestors(g, job)
    assert set(result["downstream"]) == nx.descendants(g, job)
    assert len(browser.evaluate("stackplanGraph.search('pkg00123')")) == 5

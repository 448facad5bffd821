"""The HTML export in a real headless Chromium: it loads, shows every job, hover shows details, and no
script or console error happens. Skipped without chromium unless STACKPLAN_REQUIRE_CHROMIUM=1."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from planner.export import export
from tests.plan_fixtures import sample_plan

pytestmark = pytest.mark.chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("STACKPLAN_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required (STACKPLAN_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("chromium not installed")
    return CHROMIUM


def dump_dom(chromium: str, page: Path, profile: Path) -> tuple[str, str]:
    proc = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(profile)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


def console_errors(stderr: str) -> list[str]:
    """Console messages Chromium logged for the page (uncaught errors, console.error)."""
    return [
        line for line in stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "ERROR" in line)
    ]


def test_page_loads_shows_every_job_and_has_no_errors(chromium: str, tmp_path: Path) -> None:
    plan = sample_plan()
    page = tmp_path / "plan.html"
    # after the page's own script: hover the first job, as a person would
    first = sorted(n.id for n in plan.nodes)[0]
    hover = (
        "<script>document.querySelector('[data-id=\"" + first + "\"]')"
        ".dispatchEvent(new MouseEvent('mouseenter'));</script></body>"
    )
    page.write_text(export(plan, "html").replace("</body>", hover))
    dom, stderr = dump_dom(chromium, page, tmp_path / "profile")
    root_tag = re.search(r"<html[^>]*>", dom).group(0)
    assert f'data-ready="{len(plan.nodes)}"' in root_tag
    assert "data-errors" not in root_tag
    assert console_errors(stderr) == []
    shown = {html.unescape(i) for i in re.findall(r'data-id="([^"]+)"', dom)}
    assert shown == {n.id for n in plan.nodes}
    details = re.search(r'<dl id="details">(.*?)</dl>', dom, re.S).group(1)
    assert html.escape(first) in details and "recipes/" in details  # hover filled the details panel


def test_a_broken_page_is_caught(chromium: str, tmp_path: Path) -> None:
    """The error recorder works: otherwise the test above could not fail."""
    page = tmp_path / "broken.html"
    page.write_text(
        export(sample_plan(), "html").replace("</body>", "<script>no_such_function();</script></body>")
    )
    dom, _ = dump_dom(chromium, page, tmp_path / "profile")
    root_tag = re.search(r"<html[^>]*>", dom).group(0)
    assert "data-errors" in root_tag and "no_such_function" in root_tag

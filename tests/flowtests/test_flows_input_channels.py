"""Input channels as a conda user gives them: ``stackplan run ROOT -c URL --skip-existing``; and the
durations a real run leaves for the next plan.

A first real rattler-build run makes a channel holding ``ic-lib``; the test serves it over HTTP on
loopback. A second run of a tree holding ``ic-lib`` and ``ic-app`` (which needs ``ic-lib`` in its
host environment) with ``-c URL --skip-existing`` skips ``ic-lib`` (it exists in the input channel)
and builds ``ic-app`` with ``ic-lib`` installed from that channel: the builder got it as
rattler-build's ``-c``. Without the input channel the same build cannot find ``ic-lib``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.loopback import serving_directory
from tests.recipe_files import script_recipe
from tests.stackplan_cli import PROJECT, run_cli, run_report, user_env

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

INSTALL = 'mkdir -p "$PREFIX/share/{0}" && echo ok > "$PREFIX/share/{0}/f"'


def _env(tmp_path: Path) -> dict[str, str]:
    """The user's environment without proxies: the input channel is served on loopback."""
    env = {k: v for k, v in user_env(tmp_path).items() if "proxy" not in k.lower()}
    env.update(RATTLER_CACHE_DIR=str(tmp_path / "rattler-cache"), NO_PROXY="127.0.0.1,localhost")
    return env


def _report(channel: Path) -> dict:
    return run_report(channel)[1]


def test_run_skips_what_an_input_channel_has_and_builds_against_it(tmp_path: Path) -> None:
    env = _env(tmp_path)
    lib_tree, tree = tmp_path / "lib-tree", tmp_path / "tree"
    script_recipe(lib_tree, "ic-lib", [INSTALL.format("ic-lib")])
    script_recipe(tree, "ic-lib", [INSTALL.format("ic-lib")])
    app_script = ['test -f "$PREFIX/share/ic-lib/f"', INSTALL.format("ic-app")]
    script_recipe(tree, "ic-app", app_script, host=("ic-lib",))
    upstream, out = tmp_path / "upstream", tmp_path / "out"
    flags = ["-p", "linux-64", "--no-cache", "-b", "rattler-build", "--retries", "0"]

    assert run_cli(["server", "start"], env).returncode == 0
    try:
        first = run_cli(["run", str(lib_tree), *flags, "--output-dir", str(upstream)], env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert [p.name.rsplit("-", 2)[0] for p in upstream.glob("linux-64/*.conda")] == ["ic-lib"]
        # the real build's duration is learned from Prefect's history into the state dir's cache,
        # which the next plan (no PREFECT_API_URL here) reads: its makespan is in minutes
        cache = tmp_path / "state" / "learned-durations.json"
        assert json.loads(cache.read_text())["ic-lib@linux-64"] > 0, first.stderr
        planned = run_cli(["plan", str(lib_tree), "-p", "linux-64", "--no-cache"], env)
        assert f"durations: learned from history: {cache}" in planned.stderr, planned.stderr
        assert json.loads(planned.stdout)["nodes"][0]["duration_estimate"] > 0

        with serving_directory(upstream) as url:
            alone_args = ["run", str(tree), *flags, "-k", "ic-app", "--output-dir", str(tmp_path / "x")]
            alone = run_cli(alone_args, env)
            assert alone.returncode != 0  # no input channel: ic-lib is nowhere to install from
            assert _report(tmp_path / "x")["counts"].get("Failed") == 1

            args = ["run", str(tree), *flags, "-c", url, "--skip-existing", "--output-dir", str(out)]
            second = run_cli(args, env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert [p.name.rsplit("-", 2)[0] for p in out.glob("linux-64/*.conda")] == ["ic-app"]
        jobs = {j["recipe"]: j["state"] for j in _report(out)["jobs"]}
        assert jobs == {"ic-app": "Completed"}, jobs  # ic-lib was in the plan as skipped: exists
        # a local directory as the input channel (given relative to the run's working directory)
        by_path = ["run", str(tree), *flags, "-k", "ic-app", "-c", os.path.relpath(upstream, PROJECT)]
        third = run_cli([*by_path, "--output-dir", str(tmp_path / "y")], env)
        assert third.returncode == 0, third.stdout + third.stderr
    finally:
        run_cli(["server", "stop"], env)


@pytest.fixture(autouse=True)
def _needs_rattler_build() -> None:
    pytest.importorskip("rattler_build")

"""Input channels as a conda user gives them: ``stackplan run ROOT -c URL --skip-existing``.

A first real rattler-build run makes a channel holding ``ic-lib``; the test serves it over HTTP on
loopback. A second run of a tree holding ``ic-lib`` and ``ic-app`` (which needs ``ic-lib`` in its
host environment) with ``-c URL --skip-existing`` skips ``ic-lib`` (it exists in the input channel)
and builds ``ic-app`` with ``ic-lib`` installed from that channel: the builder got it as
rattler-build's ``-c``. Without the input channel the same build cannot find ``ic-lib``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[2]
INSTALL = 'mkdir -p "$PREFIX/share/{0}" && echo ok > "$PREFIX/share/{0}/f"'


def _recipe(root: Path, name: str, script: list[str], host: tuple[str, ...] = ()) -> None:
    d = root / name
    d.mkdir(parents=True)
    text = f"package:\n  name: {name}\n  version: '1.0'\nbuild:\n  number: 0\n  script:\n"
    text += "".join(f"    - {json.dumps(s)}\n" for s in script)
    if host:
        text += "requirements:\n  host:\n" + "".join(f"    - {h}\n" for h in host)
    (d / "recipe.yaml").write_text(text)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and "proxy" not in k.lower()}
    env.update(
        STACKPLAN_HOME=str(tmp_path / "state"),
        HOME=str(tmp_path / "home"),
        RATTLER_CACHE_DIR=str(tmp_path / "rattler-cache"),
        NO_PROXY="127.0.0.1,localhost",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return env


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stackplan", *args], cwd=PROJECT, env=env, capture_output=True, text=True,
        timeout=600,
    )


def _report(channel: Path) -> dict:
    return json.loads(next(channel.glob("stackplan-run-*.json")).read_text())


def test_run_skips_what_an_input_channel_has_and_builds_against_it(tmp_path: Path) -> None:
    env = _env(tmp_path)
    lib_tree, tree = tmp_path / "lib-tree", tmp_path / "tree"
    _recipe(lib_tree, "ic-lib", [INSTALL.format("ic-lib")])
    _recipe(tree, "ic-lib", [INSTALL.format("ic-lib")])
    app_script = ['test -f "$PREFIX/share/ic-lib/f"', INSTALL.format("ic-app")]
    _recipe(tree, "ic-app", app_script, host=("ic-lib",))
    upstream, out = tmp_path / "upstream", tmp_path / "out"
    flags = ["-p", "linux-64", "--no-cache", "-b", "rattler-build", "--retries", "0"]

    assert _cli(["server", "start"], env).returncode == 0
    try:
        first = _cli(["run", str(lib_tree), *flags, "--output-dir", str(upstream)], env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert [p.name.rsplit("-", 2)[0] for p in upstream.glob("linux-64/*.conda")] == ["ic-lib"]

        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(upstream))
        handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            alone = _cli(["run", str(tree), *flags, "-k", "ic-app", "--output-dir", str(tmp_path / "x")], env)
            assert alone.returncode != 0  # no input channel: ic-lib is nowhere to install from
            assert _report(tmp_path / "x")["counts"].get("Failed") == 1

            args = ["run", str(tree), *flags, "-c", url, "--skip-existing", "--output-dir", str(out)]
            second = _cli(args, env)
        finally:
            server.shutdown()
            server.server_close()
        assert second.returncode == 0, second.stdout + second.stderr
        assert [p.name.rsplit("-", 2)[0] for p in out.glob("linux-64/*.conda")] == ["ic-app"]
        jobs = {j["recipe"]: j["state"] for j in _report(out)["jobs"]}
        assert jobs == {"ic-app": "Completed"}, jobs  # ic-lib was in the plan as skipped: exists
    finally:
        _cli(["server", "stop"], env)


@pytest.fixture(autouse=True)
def _needs_rattler_build() -> None:
    pytest.importorskip("rattler_build")

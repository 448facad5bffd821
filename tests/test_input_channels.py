"""Input channels (``-c``) and ``--skip-existing``: what any of them already holds is not rebuilt.

The channels are made by the tests (repodata.json per subdir) and read as a directory, a ``file://``
URL and over a real HTTP server on loopback; a broken or unreachable one is a located error, exit 2.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.plan.model import Plan, SkipKind, validate_plan_dict
from stackplan.cli import app
from tests.loopback import serving_directory
from tests.recipe_files import meta_yaml, write_tree

RECIPES = {  # zlib -> libhts -> samtools; pysam; lonely
    "zlib": meta_yaml("zlib", "1.3.1"),
    "libhts": meta_yaml("libhts", "1.20", host=["zlib >=1.2"], run=["zlib"]),
    "samtools": meta_yaml("samtools", "1.20", host=["libhts 1.20.*"]),
    "pysam": meta_yaml("pysam", "0.22", host=["python", "libhts"], run=["python"]),
    "lonely": meta_yaml("lonely", "0.1"),
}


def _channel(
    root: Path,
    packages: dict[str, tuple[str, int]],
    builds: dict[str, str] | None = None,
    subdir: str = "linux-64",
) -> Path:
    """A channel holding ``name -> (version, build number)`` in ``subdir`` (and an empty noarch), with
    the build strings ``builds`` gives (else ``h0_<number>``)."""
    records = {}
    for name, (version, number) in packages.items():
        build = (builds or {}).get(name, f"h0_{number}")
        records[f"{name}-{version}-{build}.conda"] = {
            "name": name,
            "version": version,
            "build": build,
            "build_number": number,
            "depends": [],
            "subdir": subdir,
        }
    for sd, recs in ((subdir, records), ("noarch", {})):
        (root / sd).mkdir(parents=True, exist_ok=True)
        (root / sd / "repodata.json").write_text(json.dumps({"info": {"subdir": sd}, "packages.conda": recs}))
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {f"recipes/{name}/meta.yaml": text for name, text in RECIPES.items()}
    files["cbc.yaml"] = 'python:\n  - "3.12"\n'
    files["stackplan.yaml"] = "platforms: [linux-64]\nvariant_configs: [cbc.yaml]\n"
    return write_tree(tmp_path / "stack", files)


@pytest.fixture
def serve(monkeypatch) -> Iterator:
    """``serve(dir)`` -> the URL of that directory over HTTP on loopback (tests/loopback.py), until the
    test ends."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with contextlib.ExitStack() as servers:
        yield lambda directory: servers.enter_context(serving_directory(directory))


@pytest.fixture
def built_as(repo: Path) -> dict[str, str]:
    """The build string conda-build gives each package of ``repo`` on linux-64 (what a channel built
    from it holds), from ``stackplan render --json``."""
    res = CliRunner().invoke(app, ["render", str(repo), "-p", "linux-64", "--json", "--no-cache"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return {o["name"]: o["build_string"] for line in lines for o in line["outputs"]}


def _plan(*args: str) -> tuple[int, str, Plan | None]:
    res = CliRunner().invoke(app, ["plan", *args, "-q", "--no-cache"])
    if res.exit_code:
        return res.exit_code, res.output, None
    data = json.loads(res.stdout)
    validate_plan_dict(data)
    return 0, res.output, Plan.from_dict(data)


def _kinds(plan: Plan) -> dict[str, str]:
    return {n.recipe.split("/")[-1]: (n.skipped.kind if n.skipped else n.selected.kind) for n in plan.nodes}


def test_skip_existing_reads_every_input_channel(repo: Path, tmp_path: Path, serve, built_as) -> None:
    """zlib is in a local channel, libhts in a file:// one, pysam in one served over HTTP: bare
    ``--skip-existing`` (conda-build's flag) skips all three, the rest is built."""
    local = _channel(tmp_path / "local", {"zlib": ("1.3.1", 0)}, built_as)
    by_file = _channel(tmp_path / "by-file", {"libhts": ("1.20", 0)}, built_as).as_uri()
    url = serve(_channel(tmp_path / "served", {"pysam": ("0.22", 0), "samtools": ("1.19", 0)}, built_as))
    code, out, plan = _plan(str(repo), "-c", str(local), "-c", by_file, "-c", url, "--skip-existing")
    assert code == 0 and plan is not None, out
    kinds = _kinds(plan)
    skipped = ("zlib", "libhts", "pysam")
    assert {k: kinds[k] for k in skipped} == dict.fromkeys(skipped, "exists")
    assert kinds["samtools"] == "all"  # the channel has 1.19; the recipe is 1.20
    zlib = next(n for n in plan.nodes if n.recipe.endswith("zlib"))
    assert zlib.skipped is not None and zlib.skipped.kind is SkipKind.EXISTS
    assert str(local) in zlib.skipped.detail and url in zlib.skipped.detail
    assert plan.inputs["skip_existing_channels"] == [str(local), by_file, url]


def test_a_named_channel_and_the_input_channels_together(repo: Path, tmp_path: Path, serve, built_as) -> None:
    named = _channel(tmp_path / "named", {"zlib": ("1.3.1", 0)}, built_as)
    url = serve(_channel(tmp_path / "served", {"lonely": ("0.1", 0)}, built_as))
    code, out, plan = _plan(str(repo), "--skip-existing", str(named), "-c", url)
    assert code == 0 and plan is not None, out
    kinds = _kinds(plan)
    assert kinds["zlib"] == "exists" and kinds["lonely"] == "exists" and kinds["libhts"] == "all"


def test_input_channels_alone_skip_nothing(repo: Path, tmp_path: Path) -> None:
    """Without --skip-existing an input channel is where dependencies come from; nothing is skipped."""
    local = _channel(tmp_path / "local", {"zlib": ("1.3.1", 0)})
    code, out, plan = _plan(str(repo), "-c", str(local))
    assert code == 0 and plan is not None, out
    assert "exists" not in _kinds(plan).values()


def test_a_different_build_number_is_not_the_same_package(repo: Path, tmp_path: Path) -> None:
    local = _channel(tmp_path / "local", {"zlib": ("1.3.1", 1)})
    code, out, plan = _plan(str(repo), "-c", str(local), "--skip-existing")
    assert code == 0 and plan is not None, out
    assert _kinds(plan)["zlib"] == "all"


def test_one_variant_in_the_channel_skips_that_variant_only(tmp_path: Path) -> None:
    """pysam for python 3.11 and 3.12 are both ``pysam-0.22-0`` on linux-64; the channel holds the
    3.11 build (``py311_0``): that job exists, the 3.12 one is built. A build string the render does not
    give (another build's) skips neither."""
    files = {
        "recipes/pysam/meta.yaml": RECIPES["pysam"],
        "recipes/libhts/meta.yaml": RECIPES["libhts"],
        "recipes/zlib/meta.yaml": RECIPES["zlib"],
        "cbc.yaml": 'python:\n  - "3.11"\n  - "3.12"\n',
        "stackplan.yaml": "platforms: [linux-64]\nvariant_configs: [cbc.yaml]\n",
    }
    root = write_tree(tmp_path / "tree", files)

    def pysam_kinds(build: str) -> dict[str, str]:
        local = _channel(tmp_path / build, {"pysam": ("0.22", 0)}, {"pysam": build})
        code, out, plan = _plan(str(root), "-c", str(local), "--skip-existing")
        assert code == 0 and plan is not None, out
        return {
            n.variant["python"]: (n.skipped.kind if n.skipped else n.selected.kind)
            for n in plan.nodes
            if n.recipe.endswith("pysam")
        }

    assert pysam_kinds("py311_0") == {"3.11": "exists", "3.12": "all"}
    assert pysam_kinds("py39h0_0") == {"3.11": "all", "3.12": "all"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_corrupt_or_not_a_channel_is_a_located_error(repo: Path, tmp_path: Path, serve) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}/channel"
    code, out, _ = _plan(str(repo), "-c", dead, "--skip-existing")
    assert code == 2 and f"{dead}/linux-64/repodata.json" in out and "cannot fetch the channel index" in out
    assert "Traceback" not in out

    corrupt = _channel(tmp_path / "corrupt", {"zlib": ("1.3.1", 0)})
    (corrupt / "linux-64" / "repodata.json").write_text('{\n  "packages": {\n    "z": {"name": 3,}\n  }\n}\n')
    url = serve(corrupt)
    code, out, _ = _plan(str(repo), "-c", url, "--skip-existing")
    assert code == 2 and f"{url}/linux-64/repodata.json:3: invalid channel index" in out
    code, out, _ = _plan(str(repo), "-c", str(corrupt), "--skip-existing")
    assert code == 2 and f"{corrupt / 'linux-64' / 'repodata.json'}:3: invalid channel index" in out

    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, _ = _plan(str(repo), "-c", serve(empty), "--skip-existing")
    assert code == 2 and "not a channel: no repodata.json for any of linux-64, noarch" in out


def test_bare_skip_existing_needs_an_input_channel(repo: Path) -> None:
    code, out, _ = _plan(str(repo), "--skip-existing")
    assert code == 2 and "give -c URL" in out


def test_bare_skip_existing_before_another_option(repo: Path, tmp_path: Path, built_as) -> None:
    local = _channel(tmp_path / "local", {"zlib": ("1.3.1", 0)}, built_as)
    code, out, plan = _plan(str(repo), "--skip-existing", "-c", str(local))
    assert code == 0 and plan is not None, out
    assert _kinds(plan)["zlib"] == "exists"

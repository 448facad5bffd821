"""--skip-existing: what a channel holds, read through py-rattler from a directory, file:// and HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.inputs.channel_index import ChannelError, existing_packages
from tests.loopback import serving_directory


def record(name: str, version: str, build_number: int, subdir: str) -> dict:
    return {
        "name": name,
        "version": version,
        "build": f"h0_{build_number}",
        "build_number": build_number,
        "depends": [],
        "subdir": subdir,
    }


@pytest.fixture
def channel(tmp_path: Path) -> Path:
    ch = tmp_path / "channel"
    for subdir, pkgs in {
        "linux-64": {
            "packages.conda": {"samtools-1.20-h0_1.conda": record("samtools", "1.20", 1, "linux-64")}
        },
        "noarch": {"packages": {"pure-0.1-h0_0.tar.bz2": record("pure", "0.1", 0, "noarch")}},
    }.items():
        (ch / subdir).mkdir(parents=True)
        (ch / subdir / "repodata.json").write_text(json.dumps({"info": {"subdir": subdir}, **pkgs}))
    return ch


EXPECTED = frozenset({("samtools", "1.20", 1, "linux-64", "h0_1"), ("pure", "0.1", 0, "noarch", "h0_0")})


def test_local_directory_and_missing_subdirs(channel: Path) -> None:
    assert existing_packages(str(channel), ["linux-64", "osx-arm64", "noarch"]) == EXPECTED


def test_file_url(channel: Path) -> None:
    assert existing_packages(channel.as_uri(), ["linux-64", "osx-arm64", "noarch"]) == EXPECTED


def test_corrupt_index_is_a_located_error(channel: Path) -> None:
    bad = channel / "noarch" / "repodata.json"
    bad.write_text('{\n  "packages": {\n    "pure-0.1-h0_0.tar.bz2": {"name": 3,}\n  }\n}\n')
    with pytest.raises(ChannelError) as err:
        existing_packages(str(channel), ["noarch"])
    assert err.value.path == str(bad) and err.value.line == 3
    assert "invalid channel index" in str(err.value)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ChannelError, match="does not exist"):
        existing_packages(str(tmp_path / "nope"), ["linux-64"])


@pytest.fixture
def http_channel(channel: Path, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with serving_directory(channel) as url:
        yield url


def test_http_url_on_loopback(http_channel: str) -> None:
    assert existing_packages(http_channel, ["linux-64", "win-64", "noarch"]) == EXPECTED

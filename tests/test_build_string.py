"""conda-build's build string for a rendered output (informative; checked byte for byte)."""

from __future__ import annotations

import hashlib
import json

import pytest

from planner.render.v0.build_string import build_string, hash_contents


def h(d: dict) -> str:
    return "h" + hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:7]


PY = {"python": "3.12.* *_cpython", "channel_targets": "bioconda main", "target_platform": "linux-64"}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # python in host and run: py312, and python's value (with a space) is hashed
        (
            dict(requirements={"host": ["python 3.12.* *_cpython"], "run": ["python"]}, used=PY, noarch=None),
            "py312" + h(PY) + "_0",
        ),
        # noarch: python -> just "py"
        (
            dict(
                requirements={"host": ["python >=3.8"], "run": ["python >=3.8"]},
                used={"channel_targets": "bioconda main"},
                noarch="python",
            ),
            "py" + h({"channel_targets": "bioconda main"}) + "_0",
        ),
        # nothing used but target_platform: no hash at all
        (dict(requirements={"build": ["make"]}, used={"target_platform": "linux-64"}, noarch=None), "0"),
        # r-base>=4.0 is the package r-base for the prefix (MatchSpec name)
        (
            dict(
                requirements={"host": ["r-base>=4.0"], "run": ["r-base>=4.0"]},
                used={"r_base": "4.5.*"},
                noarch=None,
            ),
            "r45_0",  # r_base is left out of the hash, nothing else is used
        ),
    ],
)
def test_build_string(kwargs: dict, expected: str) -> None:
    variant = {"python": "3.12.* *_cpython", "r_base": "4.5.*", **kwargs["used"]}
    got = build_string(
        has_host_section="host" in kwargs["requirements"],
        variant=variant,
        build_number=0,
        build={},
        requirements_text="",
        raw_text="",
        **kwargs,
    )
    assert got == expected


def test_manual_string_and_pkg_hash() -> None:
    common = dict(requirements={}, has_host_section=False, variant={}, noarch=None, build_number=0,
                  requirements_text="")  # fmt: skip
    used = {"zlib": "1"}
    assert (
        build_string(used=used, build={"string": "custom_0"}, raw_text="string: custom_0", **common)
        == "custom_0"
    )
    got = build_string(
        used=used,
        build={"string": "pthreads_h1234567_0"},
        raw_text="string: pthreads_h{{ PKG_HASH }}_0",
        **common,
    )
    assert got == f"pthreads_{h(used)}_0"


def test_hash_leaves_out_language_keys_and_adds_virtual_packages() -> None:
    used = {"perl": "5.32.1", "zlib": "1"}
    assert hash_contents(used, ["__glibc >=2.17"], "") == {"zlib": "1", "__glibc": "__glibc >=2.17"}

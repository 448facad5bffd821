"""Conda version semantics through py-rattler: a table of (spec, version, accepted)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.matchspec import InvalidSpecError, SpecCache, package_name_problem, version_problem

CASES = [
    ("numpy >=2", "1.26.4", False),
    ("numpy >=2", "2.0.0", True),
    ("numpy >=1.20,<2", "1.26.4", True),
    ("numpy >=1.20,<2", "2.1", False),
    ("python 3.12.* *_cpython", "3.12.4", True),
    ("python 3.12.* *_cpython", "3.11.9", False),
    ("samtools >=1.9,<2.0a0", "1.20", True),
    ("samtools >=1.9,<2.0a0", "2.0", False),
    ("foo 1.2|1.3", "1.3", True),
    ("foo 1.2|1.3", "1.4", False),
    ("foo=1.2", "1.2.7", True),  # conda's "=1.2" means 1.2.*
    ("foo 2.*", "2.5", True),
    ("foo >=1.0a1", "1.0", True),  # conda orders pre-releases before the release
    ("foo <1.0", "1.0rc1", True),
    ("pip", "anything", True),
    ("numpy x.x", "1.26", True),  # old conda-build pin: the variant decides
    ("foo >=1", "None", True),  # unparseable version (undefined jinja): ordering kept
]


@pytest.mark.parametrize(("raw", "version", "accepted"), CASES)
def test_accepts(raw: str, version: str, accepted: bool) -> None:
    cache = SpecCache()
    assert cache.accepts(cache.parse(raw), version) is accepted


def test_names_are_normalised_and_whitespace_folded() -> None:
    cache = SpecCache()
    spec = cache.parse("  NumPy   >=2 ")
    assert (spec.name, spec.version) == ("numpy", ">=2")


def test_pip_style_extras_keep_the_name() -> None:
    cache = SpecCache()
    spec = cache.parse("dask[complete] >=2022.2.0,<2023.0.0")
    assert (spec.name, spec.version) == ("dask", ">=2022.2.0,<2023.0.0")


def test_invalid_spec_is_a_typed_error_and_cached() -> None:
    cache = SpecCache()
    with pytest.raises(InvalidSpecError, match="invalid requirement"):
        cache.parse("{{ compiler('c') }}")
    assert cache.try_parse("{{ compiler('c') }}") is None


def test_version_key_orders_like_conda() -> None:
    cache = SpecCache()
    versions = ["1.10", "1.9", "2.0a1", "2.0", "None", "1.9.1"]
    assert sorted(versions, key=cache.version_key) == ["None", "1.9", "1.9.1", "1.10", "2.0a1", "2.0"]


# -- package names and versions a job may carry (planner.matchspec's identity rules) -----------------------

_FORBIDDEN = set("=!@#$%^&*:;\"'\\|<>?/ ")


@given(st.text(max_size=12))
def test_version_problem_is_conda_builds_character_rule(text):
    """A version is refused exactly when it is empty or holds a forbidden character, ``-``, or a
    control character (``!`` allowed: the epoch); the fast path for plain versions changes nothing."""
    bad = not text or any((c in _FORBIDDEN and c != "!") or c == "-" or not c.isprintable() for c in text)
    assert (version_problem(text) is not None) == bad


@given(st.text(max_size=12))
def test_package_name_problem_is_conda_builds_rule(text):
    """A name is refused when empty, not lowercase ASCII, or holding a forbidden character."""
    ok = (
        bool(text)
        and text != "None"
        and text[0] in "abcdefghijklmnopqrstuvwxyz0123456789_"
        and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_.+-" for c in text)
        and not any(c in _FORBIDDEN for c in text)
    )
    assert (package_name_problem(text) is None) == ok


def test_identity_rules_examples():
    assert version_problem("1!2.0") is None and version_problem("2.0a1+local_x") is None
    assert version_problem("1.0-1") == "invalid version '1.0-1'"
    assert version_problem("1.0\x00") is not None and version_problem("1.0 ") is not None
    assert package_name_problem("libzlib") is None and package_name_problem("r-base") is None
    assert package_name_problem("Zlib") is not None and package_name_problem("-x") is not None

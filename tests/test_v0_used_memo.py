"""The used-key scan memoised against a key universe equals the scan against each platform's keys.

``planner.render.v0.outputs.used_keys`` scans a text once against the keys of every platform a recipe
renders for and restricts the result to one platform's keys. The reference is conda-build's rule as
``planner.render.v0.used.used_in_text`` applies it to that platform's keys alone, with the
``CONDA_BUILD_SYSROOT`` rule included.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.render.v0.outputs import used_keys
from planner.render.v0.used import used_in_text

KEYS = ("python", "numpy", "python_min", "c_compiler", "cxx_compiler", "c_compiler_version",
        "c_stdlib", "c_stdlib_version", "CONDA_BUILD_SYSROOT", "zlib", "libxml2", "cdt_name", "cdt_arch",
        "target_platform", "openssl", "fortran_compiler", "r_base", "perl")  # fmt: skip

LINES = (
    "    - {{ compiler('c') }}",
    "    - {{ compiler('cxx') }}  # [linux]",
    "    - {{ stdlib('c') }}",
    "    - python",
    "    - python >={{ python_min }}",
    "    - {{ pin_compatible('numpy') }}",
    "    - zlib  # [zlib == '1.3']",
    "    - libxml2",
    "    - {{ cdt('mesa-libgl') }}",
    "{% if openssl %}",
    "{% set x = r_base %}",
    "    - perl  # [perl]",
    "    - fortran  # [osx and target_platform == 'osx-64']",
    "    - CONDA_BUILD_SYSROOT",
    "build:",
    "  number: 0",
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(LINES), min_size=1, max_size=10),
    st.frozensets(st.sampled_from(KEYS)),
    st.frozensets(st.sampled_from(KEYS)),
    st.booleans(),
)
def test_universe_scan_equals_per_platform_scan(
    lines: list[str], keys: frozenset[str], extra: frozenset[str], selectors_only: bool
) -> None:
    text = "\n".join(lines) + "\n"
    universe = keys | extra
    expected = used_in_text(keys, text, selectors_only=selectors_only)
    assert used_keys(keys, text, selectors_only, text, universe) == expected
    assert used_keys(keys, text, selectors_only, text) == expected
    # a "universe" that is not a superset is not trusted
    assert used_keys(keys, text, selectors_only, text, extra) == expected


def test_sysroot_follows_each_platforms_own_keys() -> None:
    """c_compiler used on a platform whose keys lack it brings no CONDA_BUILD_SYSROOT there."""
    text = "    - {{ compiler('c') }}\n"
    universe = frozenset({"c_compiler", "CONDA_BUILD_SYSROOT"})
    assert used_keys(frozenset({"CONDA_BUILD_SYSROOT"}), text, False, text, universe) == frozenset()
    assert used_keys(universe, text, False, text, universe) == universe

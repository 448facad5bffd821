"""Which variant keys a change to a global variant config touched."""

from __future__ import annotations

from planner.git.config_changes import diff_variant_values


def test_changed_added_and_removed_keys() -> None:
    old = {"python": ["3.11", "3.12"], "zlib": ["1.3"], "openssl": ["3"]}
    new = {"python": ["3.12", "3.13"], "zlib": ["1.3"], "libpng": ["1.6"]}
    assert diff_variant_values(old, new) == {"python", "openssl", "libpng"}


def test_a_zip_keys_change_marks_the_zipped_keys() -> None:
    old = {"python": ["3.12"], "numpy": ["2"], "zip_keys": [["python", "numpy"]]}
    new = {"python": ["3.12"], "numpy": ["2"], "zip_keys": [["python", "numpy", "python_impl"]]}
    assert diff_variant_values(old, new) == {"python", "numpy", "python_impl"}


def test_identical_configs_change_nothing() -> None:
    same = {
        "python": ["3.12"],
        "zip_keys": [["python", "numpy"]],
        "pin_run_as_build": {"x": {"max_pin": "x"}},
    }
    assert diff_variant_values(same, dict(same)) == set()

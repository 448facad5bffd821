import pytest

from planner.platforms import (
    ALL_SUBDIRS,
    BUILD_SUBDIRS,
    UnknownPlatformError,
    parse_platform,
    parse_platforms,
)


@pytest.mark.parametrize(
    ("subdir", "true_flags", "false_flags"),
    [
        ("linux-64", {"linux", "unix", "x86", "x86_64", "linux64"}, {"osx", "win", "aarch64", "arm64"}),
        ("linux-aarch64", {"linux", "unix", "aarch64", "linux64"}, {"x86_64", "x86", "osx"}),
        ("linux-ppc64le", {"linux", "ppc64le"}, {"x86", "aarch64"}),
        ("linux-s390x", {"linux", "s390x"}, {"x86", "ppc64le"}),
        ("osx-64", {"osx", "unix", "x86_64", "osx64"}, {"linux", "arm64"}),
        ("osx-arm64", {"osx", "unix", "arm64"}, {"x86_64", "x86", "aarch64", "osx64"}),
        ("win-64", {"win", "win64", "x86_64"}, {"unix", "linux", "osx"}),
    ],
)
def test_selector_flags(subdir, true_flags, false_flags):
    flags = parse_platform(subdir).selector_flags()
    assert {f for f in true_flags if flags[f]} == true_flags
    assert not any(flags[f] for f in false_flags)


def test_unknown_platform_names_the_choices():
    with pytest.raises(UnknownPlatformError) as err:
        parse_platform("linux-65")
    assert "linux-65" in str(err.value) and "linux-64" in str(err.value)


def test_parse_platforms_dedupes_in_table_order():
    assert parse_platforms(["win-64", "linux-64", "win-64"]) == ("linux-64", "win-64")
    assert len(BUILD_SUBDIRS) == 7 and "noarch" in ALL_SUBDIRS

"""The platform table: the one place that knows which conda subdirs exist and what they are.

Every other module asks this one (selectors for their namespace flags, the graph for which platforms a
noarch job satisfies, the flows for work-pool names). A second table anywhere else is a bug.

>>> parse_platform("osx-arm64").arch
'arm64'
>>> parse_platform("linux-64").selector_flags()["x86_64"]
True
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.errors import StackplanError


class UnknownPlatformError(StackplanError, ValueError):
    """A platform name that is not a conda subdir we build for."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown platform {name!r}; expected one of: {', '.join(ALL_SUBDIRS)}")


@dataclass(frozen=True, order=True)
class Platform:
    """A conda subdir and the facts selectors and builders need about it."""

    subdir: str
    os: str  # "linux" | "osx" | "win" | "noarch"
    arch: str  # "x86_64" | "aarch64" | "ppc64le" | "s390x" | "arm64" | "noarch"
    bits: int

    @property
    def is_noarch(self) -> bool:
        return self.subdir == "noarch"

    def selector_flags(self) -> dict[str, bool]:
        """The boolean names conda-build puts in a selector's namespace for this platform.

        Mirrors conda-build's ``ns_cfg``: os flags, ``unix``, the arch flags, and the combined
        ``linux64`` / ``win64`` / ``osx64``-style names.
        """
        os_, arch = self.os, self.arch
        flags = {
            "linux": os_ == "linux",
            "osx": os_ == "osx",
            "win": os_ == "win",
            "unix": os_ in ("linux", "osx"),
            "x86": arch in ("x86_64", "x86"),
            "x86_64": arch == "x86_64",
            "aarch64": arch == "aarch64",
            "arm64": arch == "arm64",
            "ppc64le": arch == "ppc64le",
            "s390x": arch == "s390x",
            "armv6l": False,
            "armv7l": False,
            "riscv64": False,
            "linux32": os_ == "linux" and self.bits == 32,
            "linux64": os_ == "linux" and self.bits == 64,
            "win32": os_ == "win" and self.bits == 32,
            "win64": os_ == "win" and self.bits == 64,
            "osx64": os_ == "osx" and arch == "x86_64",
        }
        return flags


#: The seven platforms a distribution builds for, in the order people list them.
BUILD_PLATFORMS: tuple[Platform, ...] = (
    Platform("linux-64", "linux", "x86_64", 64),
    Platform("linux-aarch64", "linux", "aarch64", 64),
    Platform("linux-ppc64le", "linux", "ppc64le", 64),
    Platform("linux-s390x", "linux", "s390x", 64),
    Platform("osx-64", "osx", "x86_64", 64),
    Platform("osx-arm64", "osx", "arm64", 64),
    Platform("win-64", "win", "x86_64", 64),
)
NOARCH = Platform("noarch", "noarch", "noarch", 64)

_BY_SUBDIR: dict[str, Platform] = {p.subdir: p for p in (*BUILD_PLATFORMS, NOARCH)}
ALL_SUBDIRS: tuple[str, ...] = tuple(_BY_SUBDIR)
BUILD_SUBDIRS: tuple[str, ...] = tuple(p.subdir for p in BUILD_PLATFORMS)

#: Where a noarch job is built unless the config says otherwise.
DEFAULT_NOARCH_BUILD_PLATFORM = "linux-64"


def parse_platform(name: str) -> Platform:
    """Return the :class:`Platform` for a conda subdir name, or raise :class:`UnknownPlatformError`."""
    try:
        return _BY_SUBDIR[name]
    except KeyError:
        raise UnknownPlatformError(name) from None


def parse_platforms(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate and de-duplicate platform names, keeping the table's order (deterministic output)."""
    wanted = {parse_platform(n).subdir for n in names}
    return tuple(s for s in ALL_SUBDIRS if s in wanted)

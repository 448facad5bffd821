"""Conda version and MatchSpec semantics: the one place that decides whether a spec accepts a version.

Everything goes through py-rattler (``rattler.MatchSpec``, ``VersionSpec``, ``Version``) so that
``numpy >=2`` rejects 1.26, ``python 3.12.*`` accepts 3.12.4 and ``foo 1.2|1.3`` behaves exactly as in
conda; PEP 440 (packaging) orders conda versions wrongly and is never used here.

Parsing is memoised per string: a whole-distribution graph asks the same few thousand specs hundreds of
thousands of times. The caches live in a :class:`SpecCache` object that the caller owns (no module
state): one per plan, nothing shared between plans.

>>> cache = SpecCache()
>>> spec = cache.parse("numpy >=2")
>>> spec.name, spec.version
('numpy', '>=2')
>>> cache.accepts(spec, "1.26.4"), cache.accepts(spec, "2.1.0")
(False, True)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rattler import MatchSpec, Version, VersionSpec

from planner.errors import InvalidSpecError

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
#: conda-build's forbidden characters in ``package/name`` (``metadata.check_bad_chrs``); a version
#: may not hold them either (except ``!``, the epoch mark: ``1!2.0``), nor ``-`` (it separates name,
#: version and build in a file name).
_BAD_CHARS = frozenset("=!@#$%^&*:;\"'\\|<>?/ ")
_PACKAGE_NAME = re.compile(r"[a-z0-9_][a-z0-9_.+\-]*")  # none of _BAD_CHARS among these
#: Versions made only of these characters need no character-by-character check (the usual case).
_PLAIN_VERSION = re.compile(r"[0-9A-Za-z_.+!~,()\[\]]+")


def package_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a conda package name, or None when it can.

    conda-build's rule for ``package/name``: present, lowercase, none of its forbidden characters;
    stackplan also refuses control characters and a leading ``-`` / ``.`` (a job id or a file name
    starting so would read as an option or a hidden file).

    >>> package_name_problem("zlib"), package_name_problem(""), package_name_problem("Bad Name!")
    (None, 'empty package name', "invalid package name 'Bad Name!'")
    """
    if not isinstance(name, str) or not name or name == "None":
        return "empty package name"
    if _PACKAGE_NAME.fullmatch(name) is None:
        return f"invalid package name {_shown(name)}"
    return None


def version_problem(version: object) -> str | None:
    """Why ``version`` cannot be a package version, or None when it can (present, none of
    conda-build's forbidden characters, no ``-``, no control characters).

    >>> version_problem("1!152.2018"), version_problem(""), version_problem("1.0-1")
    (None, 'empty version', "invalid version '1.0-1'")
    """
    if not isinstance(version, str) or not version:
        return "empty version"
    if _PLAIN_VERSION.fullmatch(version) is None and any(
        (c in _BAD_CHARS and c != "!") or c == "-" or not c.isprintable() for c in version
    ):
        return f"invalid version {_shown(version)}"
    return None


def _shown(text: str) -> str:
    """``text`` for a message: repr (so control characters show escaped), at most 60 characters."""
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."


@dataclass(frozen=True)
class Spec:
    """A parsed requirement: the package name and the version constraint (None: any version).

    ``raw`` keeps the text as the recipe wrote it, for messages and plan edges.
    """

    raw: str
    name: str
    version: str | None = None
    build: str | None = None
    #: The text actually matched when conda-build's fuzzing rewrote ``raw`` (``openssl 3`` ->
    #: ``openssl 3.*``, see :func:`ensure_valid_spec`); None when the spec is matched as written.
    rewritten: str | None = None


class SpecCache:
    """Parses specs and versions once each and answers "does this spec accept this version".

    Unparseable versions (``None`` from an undefined Jinja name, ``1.0.0-beta``) are accepted by any
    constraint rather than silently dropping an order the recipe author meant: ordering too much is
    safe, ordering too little builds a dependent before its dependency.
    """

    def __init__(self) -> None:
        self._specs: dict[str, Spec | InvalidSpecError] = {}
        self._fuzzy: dict[str, Spec | InvalidSpecError] = {}
        self._vspecs: dict[str, VersionSpec | None] = {}
        self._versions: dict[str, Version | None] = {}
        self._accepts: dict[tuple[str | None, str], bool] = {}

    def parse(self, raw: str) -> Spec:
        """Parse one requirement string; raise :class:`InvalidSpecError` when it has no valid name."""
        hit = self._specs.get(raw)
        if hit is None:
            hit = _parse(raw)
            self._specs[raw] = hit
        if isinstance(hit, InvalidSpecError):
            raise hit
        return hit

    def try_parse(self, raw: str) -> Spec | None:
        """Like :meth:`parse` but None for an invalid spec (no exception: this is the hot path)."""
        hit = self._specs.get(raw)
        if hit is None:
            hit = _parse(raw)
            self._specs[raw] = hit
        return None if isinstance(hit, InvalidSpecError) else hit

    def try_parse_requirement(self, raw: str, dialect: str) -> Spec | None:
        """A recipe requirement as its build tool matches it: ``dialect`` is the recipe format.

        ``v0`` (meta.yaml, conda-build): :func:`ensure_valid_spec` first, so ``openssl 3`` accepts
        openssl 3.0.13. ``v1`` (recipe.yaml, rattler-build): as written. rattler-build fuzzes nothing
        it reads: it parses every requirement strictly and refuses a version without operator
        (``openssl 3`` is a render error, "missing range specifier", so such a string never comes
        out of a v1 render), and the only bare-name specs it completes are the variant pins of
        :func:`apply_variant_v1`, which the v1 render has already written out (``openssl 3.*``).
        """
        if dialect != "v0":
            return self.try_parse(raw)
        hit = self._fuzzy.get(raw)
        if hit is None:
            fuzzed = ensure_valid_spec(raw)
            if fuzzed == raw:
                hit = self._specs.get(raw) or _parse(raw)
                self._specs[raw] = hit
            else:
                parsed = _parse(fuzzed)
                hit = (
                    parsed
                    if isinstance(parsed, InvalidSpecError)
                    else Spec(raw, parsed.name, parsed.version, parsed.build, rewritten=fuzzed)
                )
            self._fuzzy[raw] = hit
        return None if isinstance(hit, InvalidSpecError) else hit

    def accepts(self, spec: Spec, version: str) -> bool:
        """True when ``version`` satisfies the spec's version constraint (conda semantics)."""
        if spec.version is None:
            return True
        key = (spec.version, version)
        hit = self._accepts.get(key)
        if hit is None:
            vspec = self._vspec(spec.version)
            parsed = self._version(version)
            hit = True if vspec is None or parsed is None else bool(vspec.matches(parsed))
            self._accepts[key] = hit
        return hit

    def version_key(self, version: str) -> tuple[int, Version | None, str]:
        """A sort key ordering versions as conda does; unparseable versions sort lowest, by text."""
        parsed = self._version(version)
        return (0, None, version) if parsed is None else (1, parsed, version)

    def _vspec(self, text: str) -> VersionSpec | None:
        if text not in self._vspecs:
            try:
                self._vspecs[text] = VersionSpec(text)
            except Exception:  # py-rattler raises its own exception types; any failure = unconstrained
                self._vspecs[text] = None
        return self._vspecs[text]

    def _version(self, text: str) -> Version | None:
        if text not in self._versions:
            try:
                self._versions[text] = Version(text) if text and text.lower() != "none" else None
            except Exception:
                self._versions[text] = None
        return self._versions[text]


#: conda-build's rule for "a version that needs a star": NAME, whitespace, then a version made only of
#: word characters, dots and dashes (no operator, no ``*``, no ``|`` or ``,``), optionally followed by a
#: build string — and a spec *with* a build string is an exact pin, left alone.
_NEEDS_STAR = re.compile(r"^([\w.\-]+)\s+([\w.\-]+)(\s+[\w.]+)?$")


def ensure_valid_spec(text: str) -> str:
    """conda-build's ``ensure_valid_spec``: ``openssl 3`` -> ``openssl 3.*``, ``zlib 1.2.13`` ->
    ``zlib 1.2.13.*``.

    Why: conda-build matches a requirement ``NAME VERSION`` (no operator, no wildcard, no build string)
    as "VERSION or any version starting with it", while conda's MatchSpec alone reads it as ``==VERSION``;
    matching it as written would say openssl 3.0.13 does not satisfy ``openssl 3`` and drop the edge.
    Untouched: anything with ``*`` or an operator or ``|``/``,``, a spec with a build string (an exact
    pin), ``python x.x``/``numpy x.x`` (the old variant placeholder). Runs of whitespace fold to one.

    >>> [ensure_valid_spec(s) for s in ("openssl 3", "freetype  2.10", "zlib >=1.2", "tk 8.6 h1_0")]
    ['openssl 3.*', 'freetype 2.10.*', 'zlib >=1.2', 'tk 8.6 h1_0']
    """
    m = _NEEDS_STAR.match(text.strip())
    if m is None or m.group(3) or "*" in text:
        return text
    name, version = m.group(1), m.group(2)
    if name in ("python", "numpy") and version == "x.x":
        return f"{name} {version}"
    return f"{name} {version}.*"


def variant_key(name: str) -> str:
    """The form rattler-build looks a variant key up by (its ``NormalizedKey``): ``-``, ``_`` and
    ``.`` are the same character, so ``ruamel.yaml`` and ``libjpeg-turbo`` find the keys
    ``ruamel_yaml`` and ``libjpeg_turbo``.

    >>> variant_key("ruamel.yaml"), variant_key("libjpeg-turbo")
    ('ruamel_yaml', 'libjpeg_turbo')
    """
    return name.lower().replace("-", "_").replace(".", "_")


def apply_variant_v1(raw: str, variant: Mapping[str, str]) -> str:
    """A recipe.yaml ``build``/``host`` requirement with the variant pin rattler-build gives it.

    Why: the render leaves a bare name (``openssl``) bare; rattler-build pins it when it builds
    (``apply_variant``, crates/rattler_build_core/src/render/resolved_dependencies.rs), and the
    graph must match what it will install. Its rule, not conda-build's: only a spec with no version
    and no build (a channel prefix is dropped) whose name is a variant key; a value made only of
    letters, digits and dots gets ``=`` in front, a starts-with match (``3`` -> ``openssl 3.*``);
    any other value is the version (and build) as written, so ``1.1.1_w`` is ``==1.1.1_w``, not
    ``1.1.1_w.*`` as conda-build's fuzzing would make it. Run requirements are not pinned (the
    caller passes only build and host).

    >>> v = {"openssl": "3", "python": "3.12.* *_cpython", "ruamel_yaml": "0.18", "foo": "1.1.1_w"}
    >>> [apply_variant_v1(s, v) for s in ("openssl", "python", "ruamel.yaml", "foo", "zlib", "openssl >=3")]
    ['openssl 3.*', 'python 3.12.* *_cpython', 'ruamel.yaml 0.18.*', 'foo 1.1.1_w', 'zlib', 'openssl >=3']
    """
    name = raw.strip().rpartition("::")[2]
    if _BARE_NAME.fullmatch(name) is None:
        return raw  # a version, a build, brackets, a glob: rattler-build keeps the spec as it is
    key = variant_key(name)
    value = next((v for k, v in variant.items() if variant_key(k) == key), None)
    if value is None:
        return raw
    value = str(value)
    if value and all(c.isalnum() or c == "." for c in value):
        return f"{name} {value}.*"
    return f"{name} {value}"


#: A bare package name as rattler-build reads one (``PackageName``: any case, ``_ - .`` allowed).
_BARE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def _parse(raw: str) -> Spec | InvalidSpecError:
    text = " ".join(raw.split())
    if not text:
        return InvalidSpecError(raw, "empty")
    try:
        ms = MatchSpec(text)
    except Exception as exc:
        # Fall back to the first token as a bare name (e.g. "foo >=1.0 # comment", odd build strings,
        # or pip-style extras "dask[complete] >=2022" that recipes carry over from setup.py).
        head, _, rest = text.partition(" ")
        first = head.split("[", 1)[0]
        if first != head and _NAME_RE.match(first):
            retry = _parse(f"{first} {rest}".strip())
            if isinstance(retry, Spec):
                return Spec(raw=raw, name=retry.name, version=retry.version, build=retry.build)
        if _NAME_RE.match(first):
            return Spec(raw=raw, name=first.lower())
        return InvalidSpecError(raw, str(exc).splitlines()[0])
    name = ms.name.normalized if ms.name is not None else None
    if not name:
        return InvalidSpecError(raw, "no package name")
    version = ms.version
    if version is not None and "x.x" in version:
        version = None  # conda-build's old "numpy x.x" pin: the variant decides, not the spec
    return Spec(raw=raw, name=name, version=version or None, build=ms.build or None)

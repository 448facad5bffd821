"""A content-keyed, on-disk cache of renders: warm runs render only what changed.

Why content and not timestamps: a git checkout, a CI cache restore or a copy touches every mtime, and a
cache that trusted mtimes would either re-render everything or, worse, serve a stale render. The key of a
recipe dir is a digest of everything its render can depend on:

- every file under the recipe dir (relative name + bytes; files above :data:`HUGE_FILE` bytes are hashed
  by size and their first and last 64 KiB, so a stray tarball does not cost a full read), skipping
  nested recipe dirs (they are recipes of their own, as in ``recipes/<name>/<version>/``);
- the bytes of the variant config files that apply (``RenderOptions.variant_configs`` and
  ``exclusive_configs``, in order, each labelled by kind);
- the ``RenderOptions`` environment and build platform;
- the recipe's location (its ``rel`` and absolute path appear inside the render and its errors);
- the stackplan version and a fingerprint of the planner's own source, so a new renderer never reads
  an old renderer's output.

One entry per recipe dir holds the renders of every platform asked for so far (``platform -> render``):
the dir is hashed once, not once per platform, and a warm run over N recipes opens N small files. A
request for a platform the entry lacks renders just that platform and rewrites the entry with it merged.

Entries are never trusted blindly: each file starts with a header line naming the format, the key and the
SHA-256 and length of the JSON body after it. A truncated, garbled or misplaced entry fails that check and
counts as a miss (it is then re-rendered and overwritten). Writers write a temporary file in the entry's
own directory and ``os.replace`` it into place, which is atomic on POSIX: readers see the old entry or the
new one, never half of one, so concurrent runs need no locks. Two writers racing on one entry may lose one
writer's extra platforms; that costs a later re-render, never a wrong answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner import __version__
from planner.model import (
    PlatformRender,
    RecipeError,
    RecipeFormat,
    RecipeSource,
    RenderedOutput,
    RenderedRecipe,
    RenderOptions,
    Variant,
)

#: Files larger than this are hashed by size plus their first and last 64 KiB.
HUGE_FILE = 4 * 1024 * 1024
_EDGE = 64 * 1024
#: Names whose presence makes a directory a recipe dir of its own.
_RECIPE_FILES = ("meta.yaml", "recipe.yaml")
#: Directories that never hold anything a render reads.
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache"})
_MAGIC = b"stackplan-render-cache/1"
_FORMAT = "2"  # 2: outputs stored once per entry (see _compact)


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$STACKPLAN_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/stackplan`` or ``~/.cache/stackplan``."""
    env = os.environ if environ is None else environ
    if env.get("STACKPLAN_CACHE_DIR"):
        return Path(env["STACKPLAN_CACHE_DIR"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "stackplan"
    return Path.home() / ".cache" / "stackplan"


def _hash_file(h: Any, path: str, size: int) -> None:
    with open(path, "rb") as f:
        if size <= HUGE_FILE:
            h.update(f.read())
        else:
            h.update(f.read(_EDGE))
            f.seek(size - _EDGE)
            h.update(f.read(_EDGE))


def dir_digest(path: Path) -> str:
    """A digest of every file under the recipe dir ``path`` (names + bytes), nested recipe dirs excluded.

    Cheap on purpose: a bioconda recipe dir is one or two small files, so this is a ``scandir`` and a
    read. Unreadable entries are hashed by name and the error, so they cannot be confused with content.
    """
    h = hashlib.blake2b(digest_size=20)
    stack = [(str(path), "")]
    while stack:
        abs_dir, rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError as exc:
            h.update(f"D\0{rel_dir}\0error:{type(exc).__name__}\0".encode())
            continue
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=True):
                    if entry.name not in _SKIP_DIRS:
                        subdirs.append((entry.path, rel + "/"))
                    continue
                size = entry.stat(follow_symlinks=True).st_size
                h.update(f"F\0{rel}\0{size}\0".encode())
                _hash_file(h, entry.path, size)
            except OSError as exc:
                h.update(f"F\0{rel}\0error:{type(exc).__name__}\0".encode())
        for sub_abs, sub_rel in reversed(subdirs):
            if any(os.path.exists(os.path.join(sub_abs, n)) for n in _RECIPE_FILES):
                continue  # another recipe (recipes/<name>/<version>/): its changes are not ours
            stack.append((sub_abs, sub_rel))
    return h.hexdigest()


def _files_digest(paths: Iterable[Path]) -> str:
    h = hashlib.blake2b(digest_size=20)
    for p in paths:
        h.update(f"{p}\0".encode())
        try:
            h.update(Path(p).read_bytes())
        except OSError as exc:
            h.update(f"error:{type(exc).__name__}".encode())
        h.update(b"\0")
    return h.hexdigest()


def code_fingerprint() -> str:
    """The stackplan version plus a digest of the planner's own ``*.py`` files.

    The version alone is not enough while the renderer is developed (or patched in place) without a
    version bump; hashing ~30 small files costs well under a millisecond and runs once per cache.
    """
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py"))
    return f"{__version__}:{_files_digest(files)}"


def options_digest(options: RenderOptions) -> str:
    """What of ``options`` a render depends on: the config files' bytes, environ, build platform."""
    h = hashlib.blake2b(digest_size=20)
    h.update(b"variant_configs\0" + _files_digest(options.variant_configs).encode())
    h.update(b"exclusive_configs\0" + _files_digest(options.exclusive_configs).encode())
    h.update(json.dumps(dict(options.environ), sort_keys=True).encode())
    h.update(f"\0build_platform={options.build_platform}".encode())
    return h.hexdigest()


@dataclass
class CacheStats:
    """Counters for one cache object (what a benchmark or ``--verbose`` reports)."""

    hits: int = 0  # (recipe, platform) pairs served from disk
    misses: int = 0  # pairs that had to be rendered
    corrupt: int = 0  # entries that failed their checksum / key / JSON check
    writes: int = 0  # entries written


@dataclass
class RenderCache:
    """A directory of cached renders keyed by content (see the module docstring for what goes in a key).

    >>> cache = RenderCache(Path(tmp))                                   # doctest: +SKIP
    >>> key = cache.key(source, options)                                 # doctest: +SKIP
    >>> cache.get(key, ["linux-64"]) or cache.put(key, render(...))      # doctest: +SKIP
    """

    directory: Path = field(default_factory=default_cache_dir)
    #: What identifies the renderer; None: the stackplan version plus the planner's source digest.
    version: str | None = None
    stats: CacheStats = field(default_factory=CacheStats)
    _options_digests: dict[RenderOptions, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self._root = os.path.join(self.directory, f"v{_FORMAT}")
        # distinct variants seen by this cache object: most recipes share a few (e.g. the R or python
        # pin), and building a Variant was the largest single cost of a warm run
        self._variants: dict[tuple[tuple[str, Any], ...], Variant] = {}

    # -- keys -------------------------------------------------------------------------------------------

    def key(self, source: RecipeSource, options: RenderOptions) -> str:
        """The content key of ``source`` rendered with ``options`` (any platform)."""
        if self.version is None:
            self.version = code_fingerprint()
        opts = self._options_digests.get(options)
        if opts is None:
            opts = self._options_digests[options] = options_digest(options)
        h = hashlib.sha256()
        for part in (
            _FORMAT,
            self.version,
            opts,
            source.rel,
            str(source.path),
            source.format.value,
            source.recipe_file.name,
            dir_digest(source.path),
        ):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

    def entry_path(self, key: str) -> Path:
        """Where the entry of ``key`` lives: sharded by its first two hex digits."""
        return Path(self._entry_file(key))

    def _entry_file(self, key: str) -> str:
        # plain string joins: a warm run asks this 10,000 times and pathlib's joins showed in profiles
        return f"{self._root}/{key[:2]}/{key[2:]}.json"

    # -- read -------------------------------------------------------------------------------------------

    def _payload(self, key: str, *, count: bool = True) -> dict[str, Any]:
        """The verified, still compact payload under ``key``; ``{}`` when absent or bad."""
        try:
            with open(self._entry_file(key), "rb") as f:
                data = f.read()
        except OSError:
            return {}
        payload = _verify(data, key)
        if payload is None or not isinstance(payload.get("platforms"), dict):
            if count:
                self.stats.corrupt += 1
            return {}
        return payload

    def load(self, key: str) -> dict[str, dict[str, Any]]:
        """The verified ``platform -> PlatformRender dict`` under ``key``; ``{}`` when absent or bad."""
        return _expand(self._payload(key))

    def lookup(self, key: str, platforms: Sequence[str]) -> tuple[dict[str, PlatformRender], list[str]]:
        """The stored renders among ``platforms``, and the platforms still to render (in the given order)."""
        payload = self._payload(key)
        stored = payload.get("platforms") or {}
        table = payload.get("outputs") or []
        decoded: dict[int, RenderedOutput] = {}  # an output shared by several platforms is decoded once
        found: dict[str, PlatformRender] = {}
        missing: list[str] = []
        for p in platforms:
            d = stored.get(p)
            try:
                if d is None or d.get("platform") != p:
                    raise KeyError(p)
                found[p] = _decode(d, table, decoded, self._variants)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError):
                missing.append(p)
        self.stats.hits += len(found)
        self.stats.misses += len(missing)
        return found, missing

    def get(self, key: str, platforms: Sequence[str]) -> tuple[PlatformRender, ...] | None:
        """The renders of every platform in ``platforms`` (in that order), or None if any is missing."""
        found, missing = self.lookup(key, platforms)
        return None if missing else tuple(found[p] for p in platforms)

    # -- write ------------------------------------------------------------------------------------------

    def put(self, key: str, renders: Iterable[PlatformRender], *, merge: bool = True) -> None:
        """Store ``renders`` under ``key``, merged with the platforms the entry already holds.

        Never raises for a disk problem (a read-only or full cache dir only costs speed).
        """
        expanded = _expand(self._payload(key, count=False)) if merge else {}
        for r in renders:
            expanded[r.platform] = r.to_dict()
        try:
            _write_atomic(self.entry_path(key), _encode(_compact(expanded), key))
        except OSError:
            return
        self.stats.writes += 1


def _compact(renders: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """``platform -> PlatformRender dict`` with every distinct output stored once, referenced by index.

    Why: most recipes render the same outputs on every platform (all noarch ones do), so a warm run
    parses and decodes each distinct output once instead of once per platform.
    """
    table: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    platforms: dict[str, Any] = {}
    for p, render in renders.items():
        variants = []
        for v in render.get("variants") or ():
            refs = []
            for o in v.get("outputs") or ():
                text = json.dumps(o, sort_keys=True, separators=(",", ":"))
                if text not in index:
                    index[text] = len(table)
                    table.append(o)
                refs.append(index[text])
            variants.append({**v, "outputs": refs})
        platforms[p] = {**render, "variants": variants}
    return {"outputs": table, "platforms": platforms}


def _expand(payload: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The inverse of :func:`_compact`."""
    table = payload.get("outputs") or []
    out: dict[str, dict[str, Any]] = {}
    for p, render in (payload.get("platforms") or {}).items():
        variants = [{**v, "outputs": [table[i] for i in v.get("outputs") or ()]} for v in render["variants"]]
        out[p] = {**render, "variants": variants}
    return out


def _decode(
    render: Mapping[str, Any],
    table: list[Any],
    decoded: dict[int, RenderedOutput],
    variants_seen: dict[tuple[tuple[str, Any], ...], Variant],
) -> PlatformRender:
    """One platform's compact dict as a :class:`PlatformRender`, outputs decoded through ``decoded``.

    The fields are read as ``RenderedRecipe.from_dict`` / ``PlatformRender.from_dict`` read them; only
    the outputs differ (shared objects from the entry's table). Tests hold the round trip to equality.
    """
    variants = []
    for v in render.get("variants") or ():
        outputs = []
        for i in v.get("outputs") or ():
            o = decoded.get(i)
            if o is None:
                o = decoded[i] = RenderedOutput.from_dict(table[i])
            outputs.append(o)
        variants.append(
            RenderedRecipe(
                recipe=v["recipe"],
                format=RecipeFormat(v["format"]),
                platform=v["platform"],
                variant=_variant(v.get("variant") or {}, variants_seen),
                outputs=tuple(outputs),
                skip=bool(v.get("skip", False)),
                undefined_jinja=tuple(v.get("undefined_jinja") or ()),
                build_platform=v.get("build_platform"),
            )
        )
    error = render.get("error")
    return PlatformRender(
        recipe=render["recipe"],
        platform=render["platform"],
        variants=tuple(variants),
        error=RecipeError.from_dict(error) if error else None,
    )


def _variant(d: Mapping[str, Any], seen: dict[tuple[tuple[str, Any], ...], Variant]) -> Variant:
    """One :class:`Variant` object per distinct variant (Variants are immutable, so sharing is safe)."""
    items = tuple(d.items())
    v = seen.get(items)
    if v is None:
        v = seen[items] = Variant(d)
    return v


def _encode(payload: Mapping[str, Any], key: str) -> bytes:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(body).hexdigest()
    return b"%s %s %s %d\n" % (_MAGIC, key.encode(), digest.encode(), len(body)) + body


def _verify(data: bytes, key: str) -> dict[str, dict[str, Any]] | None:
    """The payload of an entry when its header matches ``key`` and its body its checksum, else None."""
    head, sep, body = data.partition(b"\n")
    if not sep:
        return None
    parts = head.split(b" ")
    if len(parts) != 4 or parts[0] != _MAGIC or parts[1] != key.encode():
        return None
    try:
        if int(parts[3]) != len(body):
            return None
    except ValueError:
        return None
    if hashlib.sha256(body).hexdigest().encode() != parts[2]:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_cache(directory: Path | None = None, *, enabled: bool = True) -> RenderCache | None:
    """The cache a command uses: None when disabled (``--no-cache``), else ``directory`` or the default.

    The CLI's ``--cache-dir DIR`` / ``--no-cache`` map onto the two arguments one to one.
    """
    if not enabled:
        return None
    return RenderCache(Path(directory).expanduser() if directory is not None else default_cache_dir())

"""A content-keyed, on-disk cache of renders: warm runs render only what changed.

Why content and not timestamps: a git checkout, a CI cache restore or a copy touches every mtime, and a
cache that trusted mtimes would either re-render everything or, worse, serve a stale render. The key of a
recipe dir is a digest of everything its render can depend on:

- every file under the recipe dir, as (relative name, git blob id of its bytes), nested recipe dirs
  excluded (:mod:`planner.git.digest`: the same digest is computed from disk or, for ``preview
  --head``, from a commit's tree without checking it out);
- the bytes of the variant config files that apply (``RenderOptions.variant_configs`` and
  ``exclusive_configs``, in order, each labelled by kind, named relative to the discovery root when
  inside it);
- the ``RenderOptions`` environment and build platform;
- the recipe's ``rel`` (it names the recipe in renders), but **not** where the tree is checked out:
  paths inside a render (a :class:`RecipeError`'s file) are stored relative to the discovery root and
  re-based on read (:mod:`planner.render.codec`), so the same tree elsewhere (a CI runner, a temporary
  worktree) hits;
- the stackplan version, the Python version and a fingerprint of the planner modules a render can depend
  on, so a new renderer never reads an old renderer's output.

One entry per recipe dir holds the renders of every platform asked for so far (``platform -> render``):
the dir is hashed once, not once per platform, and a warm run over N recipes opens N small files. A
request for a platform the entry lacks renders just that platform and rewrites the entry with it merged.
The body is a ``marshal`` of plain tuples (:mod:`planner.render.codec`): no code runs on load.

Entries are never trusted blindly: each file starts with a header line naming the format, the key and the
SHA-256 and length of the body after it. A truncated, garbled or misplaced entry fails that check and
counts as a miss (it is then re-rendered and overwritten). Writers write a temporary file in the entry's
own directory and ``os.replace`` it into place, which is atomic on POSIX: readers see the old entry or the
new one, never half of one, so concurrent runs need no locks. Two writers racing on one entry may lose one
writer's extra platforms; that costs a later re-render, never a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner import __version__
from planner.git.digest import CHUNK, dir_digest
from planner.model import PlatformRender, RecipeSource, RenderOptions
from planner.render.codec import Decoder, encode, rebase, well_formed
from planner.verified_file import frame, unframe, write_atomic

#: Files larger than this are read in chunks when hashed (see :mod:`planner.git.digest`).
HUGE_FILE = CHUNK
_MAGIC = b"stackplan-render-cache/3"
#: 2: outputs stored once per entry; 3: marshal of plain tuples, root-independent keys, git blob digests
_FORMAT = "3"


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$STACKPLAN_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/stackplan`` or ``~/.cache/stackplan``."""
    env = os.environ if environ is None else environ
    if env.get("STACKPLAN_CACHE_DIR"):
        return Path(env["STACKPLAN_CACHE_DIR"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "stackplan"
    return Path.home() / ".cache" / "stackplan"


#: Planner modules that only run *after* rendering (graph, selection, plan, exports, git, migrations) or
#: that only store renders: a change in them cannot change a render, so it must not throw the whole cache
#: away (see :func:`code_fingerprint`). Paths relative to ``planner/``; a folder ends in ``/``.
AFTER_RENDER_MODULES = frozenset(
    {
        "export/",
        "git/",  # git/digest.py is what a key is made of, not what a render is (a change there changes keys)
        "graph/",
        "migrate/",
        "plan/",
        "inputs/channel_index.py",
        "gc_pause.py",
        "progress.py",
        "render/cache.py",  # its format has its own number (_FORMAT), bumped on every change
        "render/codec.py",  # ditto
        "render/pool.py",
    }
)


def _after_render(rel: str) -> bool:
    return any(rel == m or (m.endswith("/") and rel.startswith(m)) for m in AFTER_RENDER_MODULES)


def code_fingerprint() -> str:
    """The stackplan version plus a digest of the source of the planner modules a render can depend on.

    The version alone is not enough while the renderer is developed (or patched in place) without a
    version bump; hashing ~30 small files costs well under a millisecond and runs once per cache.
    Modules that only run after rendering (:data:`AFTER_RENDER_MODULES`) are left out; any new
    module is in by default.
    """
    root = Path(__file__).resolve().parents[1]
    files = sorted(p for p in root.rglob("*.py") if not _after_render(p.relative_to(root).as_posix()))
    return f"{__version__}:{sys.implementation.cache_tag}:{_code_digest(root, files)}"


def _code_digest(root: Path, files: Iterable[Path]) -> str:
    h = hashlib.blake2b(digest_size=20)
    for p in files:
        h.update(f"{p.relative_to(root).as_posix()}\0".encode())
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def source_root(source: RecipeSource) -> str:
    """The discovery root of ``source`` (its path without its ``rel``), as a string."""
    path = str(source.path)
    if source.rel in ("", "."):
        return path
    return path[: -len(source.rel) - 1] if path.endswith("/" + source.rel) else os.path.dirname(path)


def _relative_to(path: Path, root: str | None) -> str:
    """``path`` relative to ``root`` (marked ``ROOT/``) when it lies inside it, else as given."""
    text = os.path.abspath(path)
    if root and (text == root or text.startswith(root + "/")):
        return "ROOT/" + text[len(root) + 1 :]
    return text


def _configs_digest(paths: Iterable[Path], root: str | None) -> str:
    """Digest of config files by their bytes and their name relative to ``root`` (so a checkout of the
    same tree elsewhere, e.g. ``preview --head``'s temporary worktree, has the same key)."""
    h = hashlib.blake2b(digest_size=20)
    for p in paths:
        h.update(f"{_relative_to(Path(p), root)}\0".encode())
        try:
            h.update(Path(p).read_bytes())
        except OSError as exc:
            h.update(f"error:{type(exc).__name__}".encode())
        h.update(b"\0")
    return h.hexdigest()


def options_digest(options: RenderOptions, root: str | None = None) -> str:
    """What of ``options`` a render depends on: the config files' bytes (and names relative to
    ``root``), environ, build platform."""
    h = hashlib.blake2b(digest_size=20)
    h.update(b"variant_configs\0" + _configs_digest(options.variant_configs, root).encode())
    h.update(b"exclusive_configs\0" + _configs_digest(options.exclusive_configs, root).encode())
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
    #: Recipe dir (absolute path) -> its digest when known without reading the dir (from a git commit's
    #: tree: :mod:`planner.git.commit_tree`); other dirs are hashed from disk.
    known_digests: dict[str, str] = field(default_factory=dict, repr=False)
    #: Compute each recipe dir's key once per cache object (one plan run: its files do not change
    #: meanwhile); off by default, for long-lived objects.
    remember_keys: bool = False
    _options_digests: dict[tuple[RenderOptions, str], str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self._root = os.path.join(self.directory, f"v{_FORMAT}")
        self._decoder = Decoder()
        self._roots: dict[str, str] = {}  # key -> the root it was computed for (re-basing paths)
        # keys already computed by this object (a plan asks twice: for its graph snapshot, then to read)
        self._keys: dict[tuple[str, str, str, RenderOptions], str] = {}

    # -- keys -------------------------------------------------------------------------------------------

    def key(self, source: RecipeSource, options: RenderOptions) -> str:
        """The content key of ``source`` rendered with ``options`` (any platform).

        Where the tree is checked out is not part of it: the recipe's ``rel`` and the config files'
        names relative to the root are, so the same tree at another path (a CI runner, ``preview
        --head``'s temporary worktree) hits; paths inside the stored renders are re-based on read.
        """
        memo = (str(source.path), source.rel, source.recipe_file.name, options)
        known = self._keys.get(memo) if self.remember_keys else None
        if known is not None:
            return known
        if self.version is None:
            self.version = code_fingerprint()
        root = source_root(source)
        opts = self._options_digests.get((options, root))
        if opts is None:
            opts = self._options_digests[(options, root)] = options_digest(options, root)
        h = hashlib.sha256()
        for part in (
            _FORMAT,
            self.version,
            opts,
            source.rel,
            source.format.value,
            source.recipe_file.name,
            self.known_digests.get(str(source.path)) or dir_digest(source.path),
        ):
            h.update(part.encode())
            h.update(b"\0")
        key = h.hexdigest()
        self._roots[key] = root
        self._keys[memo] = key
        return key

    def entry_path(self, key: str) -> Path:
        """Where the entry of ``key`` lives: sharded by its first two hex digits."""
        return Path(self._entry_file(key))

    def _entry_file(self, key: str) -> str:
        # plain string joins: a warm run asks this 10,000 times and pathlib's joins showed in profiles
        return f"{self._root}/{key[:2]}/{key[2:]}.bin"

    # -- read -------------------------------------------------------------------------------------------

    def read_entry(self, key: str, *, count: bool = True) -> dict[str, Any] | None:
        """The verified payload stored under ``key`` (root placeholder still in), or None."""
        try:
            with open(self._entry_file(key), "rb") as f:
                data = f.read()
        except OSError:
            return None
        payload = _verify(data, key)
        if payload is None or not well_formed(payload):
            if count:
                self.stats.corrupt += 1
            return None
        return payload

    def load(self, key: str, *, root: str | None = None) -> dict[str, dict[str, Any]]:
        """The verified ``platform -> PlatformRender dict`` under ``key``; ``{}`` when absent or bad."""
        payload = self.read_entry(key)
        if payload is None:
            return {}
        found, _ = self._decoder.renders(rebase(payload, root or self._roots.get(key)), list(payload["p"]))
        return {p: r.to_dict() for p, r in found.items()}

    def lookup(
        self, key: str, platforms: Sequence[str], *, root: str | None = None
    ) -> tuple[dict[str, PlatformRender], list[str]]:
        """The stored renders among ``platforms``, and the platforms still to render (in the given order).

        ``root``: the discovery root the renders are read for (default: the one :meth:`key` saw).
        """
        payload = self.read_entry(key)
        if payload is None:
            found: dict[str, PlatformRender] = {}
            missing = list(platforms)
        else:
            payload = rebase(payload, root or self._roots.get(key))
            found, missing = self._decoder.renders(payload, platforms)
        self.stats.hits += len(found)
        self.stats.misses += len(missing)
        return found, missing

    def get(
        self, key: str, platforms: Sequence[str], *, root: str | None = None
    ) -> tuple[PlatformRender, ...] | None:
        """The renders of every platform in ``platforms`` (in that order), or None if any is missing."""
        found, missing = self.lookup(key, platforms, root=root)
        return None if missing else tuple(found[p] for p in platforms)

    # -- write ------------------------------------------------------------------------------------------

    def put(
        self, key: str, renders: Iterable[PlatformRender], *, merge: bool = True, root: str | None = None
    ) -> None:
        """Store ``renders`` under ``key``, merged with the platforms the entry already holds.

        ``root``: the discovery root of the renders, replaced by a placeholder in the entry (default:
        the one :meth:`key` saw). Never raises for a disk problem (a read-only or full cache dir only
        costs speed).
        """
        root = root or self._roots.get(key)
        old = self.read_entry(key, count=False) if merge else None
        if old is not None:
            old = rebase(old, root)  # back to real paths: encode() swaps the root out of the whole entry
        payload = encode(renders, root, into=old)
        try:
            write_atomic(self.entry_path(key), _encode(payload, key))
        except OSError:
            return
        self.stats.writes += 1


def _encode(payload: Any, key: str) -> bytes:
    return frame(_MAGIC, key, marshal.dumps(payload, 4))


def _verify(data: bytes, key: str) -> Any:
    """The payload of an entry when its header matches ``key`` and its body its checksum, else None."""
    body = unframe(data, _MAGIC, key)
    if body is None:
        return None
    try:
        return marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return None


def open_cache(directory: Path | None = None, *, enabled: bool = True) -> RenderCache | None:
    """The cache a command uses: None when disabled (``--no-cache``), else ``directory`` or the default.

    The CLI's ``--cache-dir DIR`` / ``--no-cache`` map onto the two arguments one to one.
    """
    if not enabled:
        return None
    return RenderCache(Path(directory).expanduser() if directory is not None else default_cache_dir())

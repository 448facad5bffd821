"""The linked job graph of a whole tree, kept between runs and keyed by the content of every recipe.

A warm plan of the bioconda corpus used to spend most of its time *re-deriving* what it had derived the
run before: decoding 37,000 cached renders, turning them into 23,000 jobs and linking their 70,000
requirements. All of that is a pure function of the recipes' render keys (their content, the configs,
the renderer) and of the few settings the graph depends on (platforms, noarch build platform, build
platforms, providers). So the result of that function — the render errors and the
:class:`planner.graph.link.GraphResult`, *before* cycles are broken and anything is selected — is stored
under a digest of exactly those inputs plus the planner's own source. A run whose inputs digest the
same (the same tree planned again, a preview re-run on the same head, a plan after a preview) loads it
instead of reading any render; anything else builds the graph as before and stores it for next time.
Selection, cycles, layers and the plan JSON are always computed fresh from the loaded graph, so the
plan is byte-identical to the one built without a snapshot (tests hold both paths to that).

With a ``family`` (the digest of the settings alone), a snapshot also keeps each job's links and the
``(recipe, render key)`` pairs it was made from (``<key>.links``, a ``marshal``), and becomes the
family's latest: a tree that differs from it in a few recipes is relinked from it
(:mod:`planner.graph.relink`) instead of linked from scratch.

Entries are ``pickle`` files behind the same verified header as render entries (format, key, SHA-256
and length of the body): a truncated or garbled file is a miss, writes are atomic (``os.replace``).
``pickle`` is used because it rebuilds 23,000 frozen dataclasses in C, several times faster than any
decoder written in Python; the price is that the cache directory must be trusted like the user's home
(it is: it is the user's, or a CI cache restored from the same repository). ``--no-cache`` reads and
writes no snapshot. Only the :data:`KEEP` most recently used snapshots are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import pickle
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from planner import __version__
from planner.gc_pause import gc_paused
from planner.graph.link import GraphResult
from planner.model import RecipeError
from planner.verified_file import frame, unframe, write_atomic

__all__ = ["KEEP", "Linked", "SnapshotStore", "snapshot_key"]

_MAGIC = b"stackplan-graph/1"
#: How many snapshots a cache directory keeps (the least recently used go first).
KEEP = 6


@dataclass
class Linked:
    """What a plan needs of its renders once they are linked: the errors and the (uncut) graph.

    ``recipe_errors`` (recipe rel -> its render errors) and ``links`` (job id -> what linking the
    job found, :data:`planner.graph.link.JobLinks`) are what relinking after a change needs
    (:mod:`planner.graph.relink`); ``links`` is stored beside the snapshot, read only to relink.
    """

    errors: tuple[RecipeError, ...]  # unique, sorted by (path, line, message)
    result: GraphResult
    recipe_errors: dict[str, tuple[RecipeError, ...]] = field(default_factory=dict)
    links: dict[str, tuple] | None = None


def sorted_errors(recipe_errors: Mapping[str, Iterable[RecipeError]]) -> tuple[RecipeError, ...]:
    """Every render error once, sorted by (path, line, message): what :attr:`Linked.errors` holds."""
    unique = {(e.path, e.line or 0, e.message): e for errs in recipe_errors.values() for e in errs}
    return tuple(e for _, e in sorted(unique.items()))


def _source_fingerprint() -> str:
    """The version, the Python and a digest of every planner module (the graph's classes and rules)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.blake2b(digest_size=20)
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return f"{__version__}:{sys.implementation.cache_tag}:{h.hexdigest()}"


def snapshot_key(render_keys: Iterable[tuple[str, str]], settings: Sequence[str]) -> str:
    """The digest of ``(recipe rel, render key)`` pairs (in order) and the graph's settings."""
    h = hashlib.sha256(_source_fingerprint().encode() + b"\0")
    for part in settings:
        h.update(part.encode() + b"\0")
    h.update(b"\1")
    for rel, key in render_keys:
        h.update(f"{rel}\0{key}\0".encode())
    return h.hexdigest()


class SnapshotStore:
    """Snapshots under ``<cache dir>/graphs/``; every disk problem is a miss, never an error."""

    def __init__(self, cache_dir: Path) -> None:
        self.directory = Path(cache_dir) / "graphs"

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.pickle"

    def load(self, key: str) -> Linked | None:
        path = self._path(key)
        body = self._read(path, key)
        if body is None:
            return None
        try:
            with gc_paused():  # a cyclic collection every few thousand objects tripled the load time
                linked = pickle.loads(body)
        except Exception:  # a body that verifies but does not load: an incompatible class, say
            return None
        if not isinstance(linked, Linked):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used: kept by prune()
        return linked

    def save(
        self,
        key: str,
        linked: Linked,
        *,
        forbid: str | None = None,
        pairs: Sequence[tuple[str, str]] = (),
        family: str | None = None,
    ) -> None:
        """Store ``linked`` under ``key``, unless its pickle contains ``forbid`` (a path that must not
        be frozen into a snapshot keyed without it). With ``family`` (a digest of the settings), the
        per-job links and the ``(rel, render key)`` pairs are stored beside it and the snapshot
        becomes the family's latest: the base the next changed tree is relinked from."""
        links = linked.links
        body = pickle.dumps(replace(linked, links=None), protocol=pickle.HIGHEST_PROTOCOL)
        if forbid and forbid.encode() in body:
            return
        self._write(self._path(key), body, key)
        if family is not None and links is not None:
            extra = marshal.dumps({"pairs": dict(pairs), "links": links}, 4)
            self._write(self.directory / f"{key}.links", extra, key)
            self._write(self.directory / f"latest-{family}", key.encode(), family)
        self.prune()

    def load_base(self, family: str) -> tuple[str, dict[str, str], dict[str, tuple]] | None:
        """The family's latest snapshot key, its ``rel -> render key`` and its per-job links."""
        key = self._read(self.directory / f"latest-{family}", family)
        if key is None:
            return None
        key_text = key.decode(errors="replace")
        extra = self._read(self.directory / f"{key_text}.links", key_text)
        if extra is None:
            return None
        try:
            data = marshal.loads(extra)
            return key_text, dict(data["pairs"]), dict(data["links"])
        except (ValueError, EOFError, TypeError, KeyError):
            return None

    def _read(self, path: Path, key: str) -> bytes | None:
        try:
            return unframe(path.read_bytes(), _MAGIC, key)
        except OSError:
            return None

    def _write(self, path: Path, body: bytes, key: str) -> None:
        with contextlib.suppress(OSError):  # a read-only or full cache dir only costs speed
            write_atomic(path, frame(_MAGIC, key, body))

    def prune(self, keep: int = KEEP) -> None:
        """Remove all but the ``keep`` most recently used snapshots."""
        try:
            entries = [(p.stat().st_mtime, p) for p in self.directory.glob("*.pickle")]
        except OSError:
            return
        for _, path in sorted(entries, reverse=True)[keep:]:
            with contextlib.suppress(OSError):
                path.unlink()
            with contextlib.suppress(OSError):
                path.with_suffix(".links").unlink()

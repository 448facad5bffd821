"""What a channel already holds, read through py-rattler: for ``--skip-existing [CHANNEL]``, which
reads that channel and every input channel (``-c``; ``PlanRequest.existing_channels``).

A channel is a local directory (``CHANNEL/<subdir>/repodata.json``) or a URL (``file://``,
``http(s)://``, fetched with ``rattler.fetch_repo_data``). The answer is the set of
``(name, version, build_number, subdir, build string)`` it holds; a job whose outputs are all in that
set is skipped with reason ``exists`` (the matching rule: ``planner.plan.select.ChannelHolds``). A
corrupt index is a :class:`ChannelError` naming the file and the line; a URL that cannot be fetched
(refused, a server error) or that has no ``repodata.json`` in any subdir asked for (not a channel: a
typo) is one naming the URL. A subdir the channel lacks holds nothing.

This is the planner's only I/O beyond the recipe tree and git; it reads, it never writes the channel
(a URL's repodata goes into a private temporary cache that is removed afterwards).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from planner.model import RecipeError

_LINE_RE = re.compile(r"at line (\d+)")

Existing = frozenset[tuple[str, str, int, str, str]]


class ChannelError(RecipeError):
    """A channel that cannot be read: where (repodata.json path or URL), the line when known, why."""


def is_url(channel: str) -> bool:
    return "://" in channel


def channel_url(channel: str) -> str:
    """An input channel as a URL for a builder: a local directory becomes its absolute ``file://`` URL
    (a relative path would be read from the build's own working directory); a URL is kept.

    >>> channel_url("https://conda.example.org/bioconda")
    'https://conda.example.org/bioconda'
    >>> channel_url("/srv/channel")
    'file:///srv/channel'
    """
    return channel if is_url(channel) else Path(channel).resolve().as_uri()


def local_path(channel: str) -> Path | None:
    """The directory of a local input channel (a path or a ``file://`` URL), else None.

    >>> local_path("file:///srv/channel").as_posix(), local_path("https://example.org/c")
    ('/srv/channel', None)
    """
    from urllib.parse import unquote, urlsplit

    if not is_url(channel):
        return Path(channel).resolve()
    parts = urlsplit(channel)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def _located(where: str, exc: BaseException, fetching: bool = False) -> ChannelError:
    """The error of reading ``where``: a parse error has a line (invalid index); a fetch error without
    one is a channel that could not be reached (refused, a server error)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    match = _LINE_RE.search(text)
    what = "cannot fetch the channel index" if fetching and not match else "invalid channel index"
    return ChannelError(where, int(match.group(1)) if match else None, f"{what}: {text}")


def _records(sparse) -> Iterable[tuple[str, str, int, str, str]]:
    for name in sorted(sparse.package_names()):
        for rec in sparse.load_records(name):
            number, build = int(rec.build_number), str(rec.build)
            yield (rec.name.normalized, str(rec.version), number, str(rec.subdir), build)


def read_local(channel_dir: Path, subdirs: Iterable[str]) -> Existing:
    """Packages of a local channel directory; a missing ``<subdir>/repodata.json`` holds nothing."""
    from rattler import Channel, RepoData, SparseRepoData

    if not channel_dir.is_dir():
        raise ChannelError(str(channel_dir), None, "channel directory does not exist")
    channel = Channel(str(channel_dir.resolve()))
    found: set[tuple[str, str, int, str, str]] = set()
    for subdir in sorted(set(subdirs)):
        index = channel_dir / subdir / "repodata.json"
        if not index.is_file():
            continue
        try:
            RepoData.from_path(index)  # validates the whole file, with line/column in its errors
            sparse = SparseRepoData(channel, subdir, index)
            found.update(_records(sparse))
        except Exception as exc:  # py-rattler's exception classes are not importable by name
            raise _located(str(index), exc) from None
    return frozenset(found)


def read_url(url: str, subdirs: Iterable[str]) -> Existing:
    """Packages of a channel URL (``file://`` or ``http(s)://``) through ``rattler.fetch_repo_data``."""
    from rattler import Channel, fetch_repo_data
    from rattler.platform import Platform

    found: set[tuple[str, str, int, str, str]] = set()
    indexed = 0
    with tempfile.TemporaryDirectory(prefix="stackplan-repodata-") as cache:
        for subdir in sorted(set(subdirs)):
            where = f"{url.rstrip('/')}/{subdir}/repodata.json"
            try:
                sparses = asyncio.run(
                    fetch_repo_data(
                        channels=[Channel(url)],
                        platforms=[Platform(subdir)],
                        cache_path=cache,
                        callback=None,
                    )
                )
            except Exception as exc:
                text = str(exc)
                if "404" in text or "not found" in text.lower() or "No such file" in text:
                    continue  # the channel has no such subdir: nothing of it exists
                raise _located(where, exc, fetching=True) from None
            indexed += 1
            try:
                for sparse in sparses:
                    found.update(_records(sparse))
            except Exception as exc:
                raise _located(where, exc) from None
    if not indexed:  # a channel has at least noarch/repodata.json: this URL is not one (a typo?)
        raise ChannelError(
            url, None, f"not a channel: no repodata.json for any of {', '.join(sorted(set(subdirs)))}"
        )
    return frozenset(found)


def existing_packages(channel: str, subdirs: Iterable[str]) -> Existing:
    """(name, version, build_number, subdir, build string) of every package the channel holds in
    ``subdirs``."""
    subdirs = tuple(subdirs)
    if is_url(channel):
        return read_url(channel, subdirs)
    return read_local(Path(channel), subdirs)

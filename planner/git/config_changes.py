"""Which variant keys a change to a global variant config touched.

A change to ``conda_build_config.yaml`` (bumping ``python`` or ``openssl``) must rebuild every recipe
that uses a changed key, and only those. Both versions of the file (before: from git; after: from git
at HEAD of the range, or the working tree for ``--changed-files``) are read with the one variant-config
parser, ``planner.render.variants.load_variant_file``, per platform, and the keys whose values differ are
returned with a detail naming the file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from planner.git.changes import GitError, file_at, merge_base_of, resolve_rev, split_range
from planner.inputs.lists import read_name_list


def _rel(root: Path, path: Path) -> str:
    return os.path.relpath(Path(path).resolve(), root.resolve()).replace(os.sep, "/")


def _flatten(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, Mapping):
        return {s for v in value.values() for s in _flatten(v)}
    if isinstance(value, Iterable):
        return {s for v in value for s in _flatten(v)}
    return {str(value)}


def diff_variant_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """Keys whose values differ (added and removed keys too); a zip_keys change marks its keys.

    >>> old, new = {"python": ["3.11"], "zlib": ["1.3"]}, {"python": ["3.12"], "zlib": ["1.3"]}
    >>> sorted(diff_variant_values(old, new))
    ['python']
    """
    changed = {k for k in set(old) | set(new) if k != "zip_keys" and old.get(k) != new.get(k)}
    if old.get("zip_keys") != new.get("zip_keys"):
        changed |= _flatten(old.get("zip_keys") or []) | _flatten(new.get("zip_keys") or [])
    return changed


def _load_text(text: str | None, name: str, platform: str, environ: Mapping[str, str]) -> dict:
    from planner.render.variants import load_variant_file

    if text is None:
        return {}
    with tempfile.TemporaryDirectory(prefix="stackplan-cbc-") as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        return load_variant_file(path, platform, environ)


def changed_variant_keys(
    changed: str | None,
    changed_files: Path | None,
    root: Path,
    configs: Sequence[Path],
    platforms: Sequence[str],
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """variant key -> detail, for every global config the change touched: a git range (``changed``,
    ``BASE..HEAD``) or a list of changed paths (``changed_files``: the config's working-tree text
    against HEAD), as a plan request gives them."""
    environ = environ or {}
    found: dict[str, set[str]] = {}
    for config in dict.fromkeys(Path(c) for c in configs):
        before, after = _versions(changed, changed_files, root, config)
        if before == after:
            continue
        keys: set[str] = set()
        for platform in platforms:
            try:
                keys |= diff_variant_values(
                    _load_text(before, config.name, platform, environ),
                    _load_text(after, config.name, platform, environ),
                )
            except Exception:  # an unparsable old/new version: every key it names is suspect
                keys |= _flatten_keys(before) | _flatten_keys(after)
        for key in keys:
            found.setdefault(key, set()).add(config.name)
    return {k: f"variant config {', '.join(sorted(v))} changed {k}" for k, v in sorted(found.items())}


def _flatten_keys(text: str | None) -> set[str]:
    keys = set()
    for line in (text or "").splitlines():
        if line and not line[0].isspace() and ":" in line and not line.startswith("#"):
            keys.add(line.split(":", 1)[0].strip())
    return keys


def _versions(
    changed: str | None, changed_files: Path | None, root: Path, config: Path
) -> tuple[str | None, str | None]:
    """The config's text before and after the change (None: absent), or equal texts if untouched."""
    rel = _rel(root, config)
    if changed:
        base, head, merge_base = split_range(changed)
        try:
            base_sha, head_sha = resolve_rev(root, base), resolve_rev(root, head)
        except GitError:
            return None, None
        if merge_base:
            base_sha = merge_base_of(root, base_sha, head_sha)
        return file_at(root, base_sha, rel), file_at(root, head_sha, rel)
    if changed_files:
        listed = {Path(p).as_posix().removeprefix("./") for p in read_name_list(Path(changed_files))}
        if rel not in listed and Path(config).resolve().as_posix() not in listed:
            return None, None
        now = Path(config).read_text() if Path(config).is_file() else None
        try:
            before = file_at(root, "HEAD", rel)
        except GitError:
            before = None
        return before, now
    return None, None

"""Files the planner keeps between runs, written atomically and read back only when intact.

The render cache (:mod:`planner.render.cache`) and the graph snapshots (:mod:`planner.graph.snapshot`)
store bytes a later run will trust. A header line ``MAGIC KEY SHA256 LENGTH`` in front of the body
lets a reader reject a truncated, garbled or misplaced file (a miss, never an error); writers write a
temporary file beside the target and ``os.replace`` it, so concurrent runs need no locks and a reader
never sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["frame", "unframe", "write_atomic"]


def frame(magic: bytes, key: str, body: bytes) -> bytes:
    """``body`` behind its header line (format ``magic``, ``key``, SHA-256 and length of the body)."""
    digest = hashlib.sha256(body).hexdigest()
    return b"%s %s %s %d\n" % (magic, key.encode(), digest.encode(), len(body)) + body


def unframe(data: bytes, magic: bytes, key: str) -> bytes | None:
    """The body of ``data`` when its header names ``magic`` and ``key`` and matches the body, else None."""
    head, sep, body = data.partition(b"\n")
    if not sep:
        return None
    parts = head.split(b" ")
    if len(parts) != 4 or parts[0] != magic or parts[1] != key.encode():
        return None
    if parts[3] != b"%d" % len(body) or hashlib.sha256(body).hexdigest().encode() != parts[2]:
        return None
    return body


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory (raises OSError)."""
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

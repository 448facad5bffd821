"""GitHub webhook signatures: HMAC-SHA256 of the raw body under the shared secret.

GitHub sends ``X-Hub-Signature-256: sha256=<hex>``. The receiver recomputes it over the exact bytes
it received (never over re-serialised JSON) and compares with :func:`hmac.compare_digest`, whose time
does not depend on where the first differing byte is, so the signature cannot be guessed byte by byte
from response times.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub would send for ``body``.

    >>> sign(b"It's a Secret to Everybody", b"Hello, World!")
    'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'
    """
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the valid signature of ``body``; a missing or malformed header is not."""
    if not header or not header.startswith(_PREFIX):
        return False
    expected = sign(secret, body).encode("ascii")
    try:
        given = header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)

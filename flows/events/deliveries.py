"""The delivery store: which GitHub deliveries were already taken, so a replay does nothing twice.

GitHub retries deliveries and anyone who captured a signed request can send it again; the signature
stays valid for ever. The signature covers the body but NOT the ``X-GitHub-Delivery`` header, so an
attacker can resend a captured body under any id he likes. A delivery is therefore identified twice:
by its id and by the SHA-256 digest of its signed body. The receiver claims both before acting; a
second claim of the same id, or of the same body under a new id, fails (and the new id is recorded
with status ``duplicate``). Claims live in SQLite under the state dir
(``<state>/webhook-deliveries.sqlite``), so a restart does not forget them; each claim is one
``BEGIN IMMEDIATE`` transaction, atomic even with several receivers on one file.

The record is bounded: claims older than ``retention`` seconds (default 30 days) are dropped when a
new one is made. A body replayed after that window would be taken again; GitHub's own redeliveries
are limited to the past few days, and the window is documented in docs/events.md.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_RETENTION", "Delivery", "DeliveryStore", "body_digest"]

#: How long a claim is kept (seconds): replays inside this window start nothing.
DEFAULT_RETENTION = 30 * 24 * 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received REAL NOT NULL,
    status TEXT NOT NULL,          -- accepted | ignored | planned | started | failed
    detail TEXT NOT NULL DEFAULT '',
    flow_run_id TEXT
)
"""
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS deliveries_digest ON deliveries (digest)",
    "CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (received)",
)


def body_digest(body: bytes) -> str:
    """The identity of a signed body: its SHA-256, hex."""
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Delivery:
    id: str
    event: str
    received: float
    status: str
    detail: str
    flow_run_id: str | None


class DeliveryStore:
    """A persisted set of delivery ids with what became of each."""

    def __init__(self, path: Path, *, retention: float = DEFAULT_RETENTION) -> None:
        self.path = Path(path)
        self.retention = retention
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(deliveries)")}
            if "digest" not in columns:  # a store made before body digests were recorded
                db.execute("ALTER TABLE deliveries ADD COLUMN digest TEXT")
            for index in _INDEXES:
                db.execute(index)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def claim(
        self, delivery_id: str, event: str, status: str = "accepted", digest: str | None = None
    ) -> bool:
        """Record a new delivery; False when its id or its body (``digest``) was seen before (a replay).

        A delivery whose processing *failed* (say, its commit was not fetched yet) may be claimed
        again under the same id: that is GitHub's "Redeliver" button, which resends the same delivery
        id. The same body under a *new* id is always a replay: the id is recorded as ``duplicate``.
        The whole claim is one ``BEGIN IMMEDIATE`` transaction, so two receivers racing for the same
        id or body cannot both win.
        """
        now = time.time()
        db = self._connect()
        try:
            db.isolation_level = None  # explicit transactions
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM deliveries WHERE received < ?", (now - self.retention,))
                won = self._claim(db, delivery_id, event, status, digest, now)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            db.close()
        return won

    @staticmethod
    def _claim(
        db: sqlite3.Connection, delivery_id: str, event: str, status: str, digest: str | None, now: float
    ) -> bool:
        row = db.execute("SELECT status FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        if row is not None:
            if row[0] != "failed":
                return False
            db.execute(
                "UPDATE deliveries SET status = ?, received = ?, detail = 'retried after failure'"
                " WHERE id = ?",
                (status, now, delivery_id),
            )
            return True
        if digest is not None:
            first = db.execute(
                "SELECT id FROM deliveries WHERE digest = ? AND status != 'duplicate'"
                " ORDER BY received LIMIT 1",
                (digest,),
            ).fetchone()
            if first is not None:
                db.execute(
                    "INSERT INTO deliveries (id, event, received, status, detail, digest)"
                    " VALUES (?, ?, ?, 'duplicate', ?, ?)",
                    (delivery_id, event, now, f"same body as delivery {first[0]}", digest),
                )
                return False
        db.execute(
            "INSERT INTO deliveries (id, event, received, status, digest) VALUES (?, ?, ?, ?, ?)",
            (delivery_id, event, now, status, digest),
        )
        return True

    def update(self, delivery_id: str, status: str, detail: str = "", flow_run_id: str | None = None) -> None:
        """Record what became of a delivery; ``detail`` is redacted (``planner.redact``) first."""
        from planner.redact import default_redactor

        detail = default_redactor().text(detail)
        with closing(self._connect()) as db, db:
            db.execute(
                "UPDATE deliveries SET status = ?, detail = ?, flow_run_id = COALESCE(?, flow_run_id)"
                " WHERE id = ?",
                (status, detail, flow_run_id, delivery_id),
            )

    def get(self, delivery_id: str) -> Delivery | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, event, received, status, detail, flow_run_id FROM deliveries WHERE id = ?",
                (delivery_id,),
            ).fetchone()
        return Delivery(*row) if row else None

    def all(self) -> list[Delivery]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id, event, received, status, detail, flow_run_id FROM deliveries"
                " ORDER BY received, id"
            ).fetchall()
        return [Delivery(*row) for row in rows]

"""The delivery store: which GitHub deliveries were already taken, so a replay does nothing twice.

GitHub retries deliveries and anyone who captured a signed request can send it again; the signature
stays valid for ever. Each delivery carries a unique ``X-GitHub-Delivery`` id, so the receiver claims
the id before acting on it and a second claim of the same id fails. Claims live in SQLite under the
state dir (``<state>/webhook-deliveries.sqlite``), so a restart does not forget them, and the claim is
one ``INSERT`` on a primary key: atomic even with several receivers on one file.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Delivery", "DeliveryStore"]

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

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def claim(self, delivery_id: str, event: str, status: str = "accepted") -> bool:
        """Record a new delivery; False when the id was seen before (a replay).

        A delivery whose processing *failed* (say, its commit was not fetched yet) may be claimed
        again: that is GitHub's "Redeliver" button, which resends the same delivery id. Each claim is
        one SQL statement, so two receivers racing for the same id cannot both win.
        """
        now = time.time()
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO deliveries (id, event, received, status) VALUES (?, ?, ?, ?)",
                (delivery_id, event, now, status),
            )
            if cursor.rowcount == 1:
                return True
            cursor = db.execute(
                "UPDATE deliveries SET status = ?, received = ?, detail = 'retried after failure'"
                " WHERE id = ? AND status = 'failed'",
                (status, now, delivery_id),
            )
            return cursor.rowcount == 1

    def update(self, delivery_id: str, status: str, detail: str = "", flow_run_id: str | None = None) -> None:
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

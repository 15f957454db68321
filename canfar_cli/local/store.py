"""The SQLite state of the local platform, shared by many processes at once.

One database file, `state.db` under the platform's home, in WAL mode with a busy timeout, so the
server, in-process clients in several `canfar` processes and the supervisor can read and write at
the same time. Every status change is a conditional UPDATE (`... AND status IN (active)`), so two
processes that notice the same thing (a supervisor that died, say) cannot both act on it.

Columns `runner_pid`/`runner_start` name the supervisor that claimed a headless session (its pid
and start time); `job_pid`/`job_start` the job's leader, whose pid is also its process group.
The `kills` table holds stop requests (a DELETE of a running job) for the supervisor to carry out.

A session row is keyed by (id, appid): appid is "" for a session and the 3-char app id for a
desktop-app, which shares the id of its desktop, as on the real platform.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canfar_cli.local import statedir

ACTIVE = ("Pending", "Running", "Terminating")
# 2: the kills table (CREATE IF NOT EXISTS brings a version-1 file up to date).
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT NOT NULL,
    appid TEXT NOT NULL DEFAULT '',
    userid TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    name TEXT NOT NULL,
    image TEXT NOT NULL,
    cores REAL,
    ram REAL,
    gpus INTEGER,
    fixed INTEGER NOT NULL DEFAULT 0,
    cmd TEXT,
    args TEXT,
    env TEXT,
    created REAL NOT NULL,
    start_time REAL,
    end_time REAL,
    deadline INTEGER NOT NULL,
    exit_code INTEGER,
    boot_id TEXT,
    runner_pid INTEGER,
    runner_start TEXT,
    job_pid INTEGER,
    job_start TEXT,
    PRIMARY KEY (id, appid)
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (userid, created);
CREATE INDEX IF NOT EXISTS sessions_status ON sessions (status);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    appid TEXT NOT NULL DEFAULT '',
    type TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    first REAL NOT NULL,
    last REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_session ON events (id, appid);
CREATE TABLE IF NOT EXISTS kills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    appid TEXT NOT NULL DEFAULT '',
    job_pid INTEGER NOT NULL,
    job_start TEXT,
    boot_id TEXT,
    grace REAL NOT NULL,
    requested REAL NOT NULL
);
"""

# A headless session waiting for the supervisor: Pending and not claimed yet.
UNCLAIMED = "status = 'Pending' AND type = 'headless' AND runner_pid IS NULL"


@dataclass
class Change:
    """One status change for `Store.transitions` (see `Store.transition` for the meaning)."""

    session_id: str
    appid: str
    status: str
    event: tuple[str, str, str] | None = None
    only_from: tuple[str, ...] = ACTIVE
    values: dict[str, Any] = field(default_factory=dict)


class LimitReached(Exception):
    def __init__(self, user: str, limit: int) -> None:
        super().__init__(f"User {user} has reached the maximum of {limit} active sessions.")


class Store:
    """A connection to the state database. Thread-safe (one lock around the connection)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        # Private: the database and the logs hold jobs' environments (tokens, say). Checked
        # (and fixed, or refused) at every start.
        statedir.check(home)
        self.path = home / statedir.DB_FILE
        self._lock = threading.RLock()
        # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE for writes).
        self._db = sqlite3.connect(
            str(self.path), timeout=60.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 60000")
        with self._lock:
            self._setup()

    def _setup(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            self._db.execute("PRAGMA synchronous = NORMAL")
            return
        # WAL persists in the file; switching needs a moment without other writers, which the
        # busy timeout gives us.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self.transaction() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE takes the write lock up front (no upgrade races)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- sessions ------------------------------------------------------------------------

    def count_interactive(self, user: str, db: sqlite3.Connection | None = None) -> int:
        """The caller's interactive sessions that count against the limit (Pending/Running)."""
        sql = (
            "SELECT COUNT(*) FROM sessions WHERE userid = ? AND appid = '' AND type != 'headless'"
            " AND status IN ('Pending', 'Running')"
        )
        if db is not None:
            return int(db.execute(sql, (user,)).fetchone()[0])
        return int(self.query(sql, (user,))[0][0])

    def insert(
        self,
        row: dict[str, Any],
        events: list[tuple[str, str, str]],
        *,
        interactive_limit: int | None = None,
    ) -> bool:
        """Insert a new session row; False when its key is taken (caller picks another id).

        With `interactive_limit`, the per-user limit is checked in the same transaction, so
        concurrent creates from several processes cannot pass it together.
        """
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            with self.transaction() as db:
                if interactive_limit is not None:
                    user = row["userid"]
                    if self.count_interactive(user, db) >= interactive_limit:
                        raise LimitReached(user, interactive_limit)
                db.execute(
                    f"INSERT INTO sessions ({columns}) VALUES ({marks})", tuple(row.values())
                )
                now = row["created"]
                for kind, reason, message in events:
                    db.execute(
                        "INSERT INTO events (id, appid, type, reason, message, first, last)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (row["id"], row.get("appid", ""), kind, reason, message, now, now),
                    )
        except sqlite3.IntegrityError:
            return False
        return True

    def get(self, session_id: str, appid: str = "") -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM sessions WHERE id = ? AND appid = ?", (session_id, appid))
        return rows[0] if rows else None

    def sessions(self, user: str | None = None) -> list[sqlite3.Row]:
        if user is None:
            return self.query("SELECT * FROM sessions ORDER BY created, id, appid")
        return self.query(
            "SELECT * FROM sessions WHERE userid = ? ORDER BY created, id, appid", (user,)
        )

    def active(self) -> list[sqlite3.Row]:
        marks = ", ".join("?" for _ in ACTIVE)
        return self.query(f"SELECT * FROM sessions WHERE status IN ({marks})", ACTIVE)

    def update(self, session_id: str, appid: str, **values: Any) -> int:
        sets = ", ".join(f"{key} = ?" for key in values)
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE sessions SET {sets} WHERE id = ? AND appid = ?",
                (*values.values(), session_id, appid),
            )
            return cursor.rowcount

    def transition(
        self,
        session_id: str,
        appid: str,
        *,
        status: str,
        event: tuple[str, str, str] | None = None,
        only_from: tuple[str, ...] = ACTIVE,
        **values: Any,
    ) -> bool:
        """Move an active session to `status` (with an event), unless someone already did."""
        change = Change(session_id, appid, status, event, only_from, values)
        return self.transitions([change])[0]

    def transitions(self, changes: Sequence[Change]) -> list[bool]:
        """Several status changes in one write transaction (the supervisor starts and ends jobs
        in batches: one commit for a hundred jobs, not a hundred); whether each was made."""
        if not changes:
            return []
        now = time.time()
        done = []
        with self.transaction() as db:
            for change in changes:
                values = dict(change.values, status=change.status)
                sets = ", ".join(f"{key} = ?" for key in values)
                marks = ", ".join("?" for _ in change.only_from)
                cursor = db.execute(
                    f"UPDATE sessions SET {sets}"
                    f" WHERE id = ? AND appid = ? AND status IN ({marks})",
                    (*values.values(), change.session_id, change.appid, *change.only_from),
                )
                made = cursor.rowcount == 1
                done.append(made)
                if made and change.event:
                    db.execute(
                        "INSERT INTO events (id, appid, type, reason, message, first, last)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (change.session_id, change.appid, *change.event, now, now),
                    )
        return done

    # --- the supervisor's queue --------------------------------------------------------------

    def claim(
        self,
        pid: int,
        start: str,
        choose: Callable[[list[sqlite3.Row]], list[sqlite3.Row]] | None = None,
    ) -> list[sqlite3.Row]:
        """Claim the unclaimed headless sessions for the supervisor `pid` (conditional UPDATE,
        so a row is claimed once even if two supervisors ever overlapped); the rows claimed.
        `choose` picks, from all of them in creation order, those to claim (the ones that fit
        the capacity); by default every one."""
        # Look first without the write lock: most wake-ups of an idle supervisor find nothing.
        if not self.query(f"SELECT 1 FROM sessions WHERE {UNCLAIMED} LIMIT 1"):
            return []
        claimed = []
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT * FROM sessions WHERE {UNCLAIMED} ORDER BY created, rowid"
            ).fetchall()
            if choose is not None:
                rows = choose(rows)
            for row in rows:
                cursor = db.execute(
                    "UPDATE sessions SET runner_pid = ?, runner_start = ?"
                    f" WHERE id = ? AND appid = ? AND {UNCLAIMED}",
                    (pid, start, row["id"], row["appid"]),
                )
                if cursor.rowcount == 1:
                    claimed.append(row)
        return claimed

    def note_queued(self, session_id: str, appid: str, message: str) -> None:
        """A `Queued` event for a session waiting for resources: added once, then its message
        and last time kept current (as Kubernetes counts a repeated event)."""
        now = time.time()
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE events SET message = ?, last = ?"
                " WHERE id = ? AND appid = ? AND reason = 'Queued'",
                (message, now, session_id, appid),
            )
            if cursor.rowcount == 0:
                db.execute(
                    "INSERT INTO events (id, appid, type, reason, message, first, last)"
                    " VALUES (?, ?, 'Warning', 'Queued', ?, ?, ?)",
                    (session_id, appid, message, now, now),
                )

    def release(self, keys: Sequence[tuple[str, str]], pid: int) -> None:
        """Give claimed sessions back (still Pending, never started) for a later claim."""
        with self.transaction() as db:
            for session_id, appid in keys:
                db.execute(
                    "UPDATE sessions SET runner_pid = NULL, runner_start = NULL"
                    " WHERE id = ? AND appid = ? AND runner_pid = ? AND status = 'Pending'"
                    " AND job_pid IS NULL",
                    (session_id, appid, pid),
                )

    def has_work(self) -> bool:
        """Anything for a supervisor to do: an unclaimed session or a stop request."""
        return bool(
            self.query(f"SELECT 1 FROM sessions WHERE {UNCLAIMED} LIMIT 1")
            or self.query("SELECT 1 FROM kills LIMIT 1")
        )

    def request_kill(self, row: Any, grace: float) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO kills (id, appid, job_pid, job_start, boot_id, grace, requested)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    row["id"],
                    row["appid"],
                    row["job_pid"],
                    row["job_start"],
                    row["boot_id"],
                    grace,
                    time.time(),
                ),
            )

    def take_kills(self) -> list[sqlite3.Row]:
        """The pending stop requests, removed from the table as they are handed over."""
        if not self.query("SELECT 1 FROM kills LIMIT 1"):
            return []
        with self.transaction() as db:
            rows = db.execute("SELECT * FROM kills ORDER BY seq").fetchall()
            if rows:
                db.execute("DELETE FROM kills WHERE seq <= ?", (rows[-1]["seq"],))
        return rows

    def events(self, session_id: str, appid: str = "") -> list[sqlite3.Row]:
        return self.query(
            "SELECT * FROM events WHERE id = ? AND appid = ? ORDER BY seq", (session_id, appid)
        )

    def delete(self, session_id: str, user: str, appid: str | None = None) -> list[sqlite3.Row]:
        """Remove a session (appid None: with its desktop-apps) and its events; the rows removed."""
        with self.transaction() as db:
            params: tuple[str, ...]
            if appid is None:
                where, params = "id = ? AND userid = ?", (session_id, user)
            else:
                where, params = "id = ? AND userid = ? AND appid = ?", (session_id, user, appid)
            rows = db.execute(f"SELECT * FROM sessions WHERE {where}", params).fetchall()
            for row in rows:
                db.execute(
                    "DELETE FROM sessions WHERE id = ? AND appid = ?", (row["id"], row["appid"])
                )
                db.execute(
                    "DELETE FROM events WHERE id = ? AND appid = ?", (row["id"], row["appid"])
                )
        return rows

    def remove_ended(self, headless_before: float, others_before: float) -> list[sqlite3.Row]:
        """Remove sessions that ended long enough ago (the TTL of the real platform's Jobs)."""
        marks = ", ".join("?" for _ in ACTIVE)
        where = (
            f"status NOT IN ({marks}) AND end_time IS NOT NULL"
            " AND ((type = 'headless' AND end_time <= ?) OR (type != 'headless' AND end_time <= ?))"
        )
        params = (*ACTIVE, headless_before, others_before)
        # Look first without the write lock: most sweeps find nothing to remove.
        if not self.query(f"SELECT 1 FROM sessions WHERE {where} LIMIT 1", params):
            return []
        with self.transaction() as db:
            rows = db.execute(f"SELECT * FROM sessions WHERE {where}", params).fetchall()
            for row in rows:
                db.execute(
                    "DELETE FROM sessions WHERE id = ? AND appid = ?", (row["id"], row["appid"])
                )
                db.execute(
                    "DELETE FROM events WHERE id = ? AND appid = ?", (row["id"], row["appid"])
                )
        return rows


def session_dir(home: Path, session_id: str, appid: str = "") -> Path:
    base = home / "sessions" / session_id
    return base / "apps" / appid if appid else base


def dumps_list(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=False)


def loads_list(text: str | None) -> list[Any]:
    return json.loads(text) if text else []

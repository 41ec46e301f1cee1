"""A durable, bounded, ordered spool of signed envelopes in SQLite.

The gateway never holds telemetry only in memory: each sample is *staged* in the spool the moment it is
read, a full batch is *sealed* into a signed envelope in one transaction (the staged rows are deleted and
the thing's next ``seq`` is taken in that same transaction), and an envelope leaves the spool only when
the broker acknowledged it (``ack`` after PUBACK). A process killed at any instant therefore loses
nothing and re-uses no ``seq``; a restart resumes from the oldest unacknowledged envelope. The database
(and SQLite's ``-wal``/``-shm`` files beside it) is created readable by its owner only (mode ``0600``).

Bounds and the policy when full (documented in ``docs/edge.md``):

* ``max_age``: envelopes older than this are dropped at the next ``enforce_bounds`` (a week of outage
  by default — after that the cloud side has closed the period anyway).
* ``max_bytes``: when an append would exceed it, ``OverflowPolicy.DROP_OLDEST`` (default) evicts the
  oldest envelopes so the newest data survives; ``OverflowPolicy.REJECT_NEW`` raises
  :class:`SpoolFullError` and keeps the samples staged, so the source is back-pressured.

Every drop is metered: counters ``dropped_age`` / ``dropped_full`` (envelopes) and the dropped
``(thing, seq)`` ranges in the ``gaps`` table, so the loss is visible, never silent. A staged row that
could not be loaded again is refused before it is written (``stage_many(check=...)``, ``staged_refused``),
and one found at start-up is moved to the ``staged_rejects`` table (``reject_staged``, ``staged_rejected``)
instead of stopping the gateway.

Example:
    >>> import tempfile, pathlib
    >>> spool = Spool(pathlib.Path(tempfile.mkdtemp()) / "spool.db")
    >>> spool.stage("m1", b'{"t": 1}')
    >>> entry = spool.seal("m1", "dt/twinledger/s/m1/telemetry", lambda seq, items: b"env-%d" % seq)
    >>> entry.seq, [e.payload for e in spool.pending()]
    (0, [b'env-0'])
    >>> spool.ack([entry.id]), spool.stats().pending
    (1, 0)
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from edge_greengrass.errors import SpoolError, SpoolFullError

__all__ = ["ItemsCheck", "OverflowPolicy", "Spool", "SpoolEntry", "SpoolStats", "per_item"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS staged (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thing TEXT NOT NULL,
    item BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS staged_thing ON staged (thing, id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thing TEXT NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (thing, seq)
);
CREATE INDEX IF NOT EXISTS outbox_thing ON outbox (thing, id);
CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created_at);
CREATE TABLE IF NOT EXISTS sequences (thing TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS gaps (
    thing TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    reason TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staged_rejects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thing TEXT NOT NULL,
    item BLOB NOT NULL,
    error TEXT NOT NULL,
    at REAL NOT NULL
);
"""

ItemsCheck = Callable[[Sequence[bytes]], list[tuple[int, str]]]
"""``(index, error)`` of every item of a batch that could not be loaded again (see :func:`per_item`)."""


def per_item(load: Callable[[bytes], object]) -> ItemsCheck:
    """An :data:`ItemsCheck` from a loader of one item that raises (any ``Exception``) when it cannot load.

    Example:
        >>> import json
        >>> per_item(json.loads)([b"1", b"{", b"[]"])
        [(1, 'Expecting property name enclosed in double quotes: line 1 column 2 (char 1)')]
    """

    def check(items: Sequence[bytes]) -> list[tuple[int, str]]:
        refused: list[tuple[int, str]] = []
        for index, item in enumerate(items):
            try:
                load(item)
            except Exception as exc:  # whatever the loader raises, the item is refused
                refused.append((index, str(exc)))
        return refused

    return check


Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ranges(values: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted ints: ``[1, 2, 3, 7, 8] -> [(1, 3), (7, 8)]``."""
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


class OverflowPolicy(StrEnum):
    """What the spool does when an envelope would exceed ``max_bytes``."""

    DROP_OLDEST = "drop_oldest"
    REJECT_NEW = "reject_new"


@dataclass(frozen=True)
class SpoolEntry:
    """One sealed envelope waiting for its PUBACK."""

    id: int
    thing: str
    seq: int
    topic: str
    payload: bytes
    created_at: dt.datetime


@dataclass(frozen=True)
class SpoolStats:
    """Occupancy and the metered counters (monotonic over the spool's lifetime)."""

    pending: int
    pending_bytes: int
    staged: int
    oldest_age_s: float
    appended: int
    acked: int
    dropped_age: int
    dropped_full: int
    #: staged rows refused before they were written (``stage_many(check=...)``)
    staged_refused: int = 0
    #: unreadable staged rows moved to the ``staged_rejects`` table (``reject_staged``)
    staged_rejected: int = 0


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (``0600``) unless it exists.

    SQLite creates its ``-wal`` and ``-shm`` files with the database file's mode, so they are private too.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Spool:
    """The SQLite spool; safe to share between the publisher loop and the MQTT callback thread."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        max_age: dt.timedelta = dt.timedelta(days=7),
        policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        clock: Clock = _utc_now,
    ) -> None:
        if max_bytes <= 0:
            raise SpoolError(f"max_bytes must be positive, got {max_bytes}")
        self.path = path
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.policy = OverflowPolicy(policy)
        self._clock = clock
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            _create_private(path)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            # WAL + synchronous=NORMAL: a committed row survives a killed process (it is in the WAL);
            # FULL would also survive a power cut at the cost of an fsync per commit.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise SpoolError(f"cannot open spool {path}: {exc}") from exc
        # occupancy kept in memory (the spool has one writer), so bounds and metrics cost no scans
        self._bytes = self._scalar("SELECT COALESCE(SUM(size), 0) FROM outbox")
        self._count = self._scalar("SELECT COUNT(*) FROM outbox")

    # -- internals --------------------------------------------------------------------------------
    def _scalar(self, sql: str, params: Sequence[object] = ()) -> int:
        row = self._db.execute(sql, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _bump(self, name: str, by: int) -> None:
        if by:
            self._db.execute(
                "INSERT INTO counters(name, value) VALUES(?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, by),
            )

    def _now(self) -> float:
        return self._clock().timestamp()

    # -- staging ----------------------------------------------------------------------------------
    def stage(self, thing: str, item: bytes) -> None:
        """Durably record one sample (serialised) for ``thing``'s open batch."""
        self.stage_many(((thing, item),))

    def stage_many(
        self,
        items: Iterable[tuple[str, bytes]],
        state: Mapping[str, str] | None = None,
        *,
        check: ItemsCheck | None = None,
    ) -> list[tuple[int, str]]:
        """Durably record several ``(thing, sample)`` pairs, and ``state`` values, in one transaction.

        With ``check``, an item it raises for is not written (a row that could not be loaded again must
        never reach the spool); the ``(index, error)`` of each refused item is returned and metered as
        ``staged_refused``.

        Example:
            >>> import json, tempfile, pathlib
            >>> spool = Spool(pathlib.Path(tempfile.mkdtemp()) / "spool.db")
            >>> spool.stage_many([("m1", b'{"a": 1}'), ("m1", b"{oops")], check=per_item(json.loads))
            [(1, 'Expecting property name enclosed in double quotes: line 1 column 2 (char 1)')]
            >>> spool.staged("m1"), spool.stats().staged_refused
            ([b'{"a": 1}'], 1)
        """
        refused: list[tuple[int, str]] = []
        if check is not None:
            rows = list(items)
            refused = check([item for _, item in rows])
            if refused:
                out = {index for index, _ in refused}
                rows = [row for index, row in enumerate(rows) if index not in out]
            items = rows
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT INTO staged(thing, item) VALUES(?, ?)", items)
                if state:
                    self._db.executemany(
                        "INSERT INTO state(key, value) VALUES(?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        state.items(),
                    )
                self._bump("staged_refused", len(refused))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(f"cannot stage samples: {exc}") from exc
        return refused

    def reject_staged(self, check: ItemsCheck) -> list[tuple[str, str]]:
        """Move every staged row ``check`` raises for into ``staged_rejects`` (the raw bytes, the error,
        the time), in one transaction; returns ``(thing, error)`` per row moved (metered as
        ``staged_rejected``). Run at start-up, so a row that cannot be loaded never stops the gateway.

        Example:
            >>> import json, tempfile, pathlib
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "spool.db"
            >>> spool = Spool(path)
            >>> spool.stage_many([("m1", b'{"a": 1}'), ("m1", b"null?")])
            []
            >>> spool.reject_staged(per_item(json.loads))
            [('m1', 'Extra data: line 1 column 5 (char 4)')]
            >>> spool.staged("m1"), spool.staged_rejects()[0][:2]
            ([b'{"a": 1}'], ('m1', b'null?'))
        """
        with self._lock:
            rows = [
                (r[0], r[1], bytes(r[2])) for r in self._db.execute("SELECT id, thing, item FROM staged ORDER BY id")
            ]
            rejects = [(*rows[index], error) for index, error in check([item for _, _, item in rows])]
            if not rejects:
                return []
            now = self._now()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO staged_rejects(thing, item, error, at) VALUES(?, ?, ?, ?)",
                    [(thing, item, error, now) for _, thing, item, error in rejects],
                )
                self._db.executemany("DELETE FROM staged WHERE id = ?", [(r[0],) for r in rejects])
                self._bump("staged_rejected", len(rejects))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(f"cannot move unreadable staged rows aside: {exc}") from exc
        return [(thing, error) for _, thing, _, error in rejects]

    def staged_rejects(self) -> list[tuple[str, bytes, str, dt.datetime]]:
        """The staged rows moved aside as unreadable: ``(thing, raw bytes, error, when)``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT thing, item, error, at FROM staged_rejects ORDER BY id").fetchall()
        return [(r[0], bytes(r[1]), r[2], dt.datetime.fromtimestamp(r[3], dt.UTC)) for r in rows]

    def staged(self, thing: str) -> list[bytes]:
        """The samples staged for ``thing``, oldest first (recovered after a restart)."""
        with self._lock:
            rows = self._db.execute("SELECT item FROM staged WHERE thing = ? ORDER BY id", (thing,))
            return [bytes(r[0]) for r in rows]

    def staged_things(self) -> list[str]:
        """Things with staged samples."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT thing FROM staged ORDER BY thing")]

    def next_seq(self, thing: str) -> int:
        """The ``seq`` the next envelope of ``thing`` will get."""
        with self._lock:
            return self._scalar("SELECT next_seq FROM sequences WHERE thing = ?", (thing,))

    # -- sealing ----------------------------------------------------------------------------------
    def seal(
        self,
        thing: str,
        topic: str,
        build: Callable[[int, list[bytes]], bytes],
        *,
        limit: int | None = None,
        state: Callable[[int, list[bytes]], Mapping[str, str]] | None = None,
    ) -> SpoolEntry | None:
        """Turn (up to ``limit`` of) ``thing``'s staged samples into one envelope, atomically.

        ``build(seq, items)`` returns the signed envelope bytes; ``state(seq, items)``, if given, the
        state values to store in the same transaction. Returns ``None`` when nothing is staged.
        Raises :class:`SpoolFullError` under ``REJECT_NEW`` when the envelope does not fit; the samples
        then stay staged.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                sql = "SELECT id, item FROM staged WHERE thing = ? ORDER BY id"
                params: tuple[object, ...] = (thing,)
                if limit is not None:
                    sql += " LIMIT ?"
                    params = (thing, limit)
                rows = self._db.execute(sql, params).fetchall()
                if not rows:
                    self._db.execute("ROLLBACK")
                    return None
                seq = self._scalar("SELECT next_seq FROM sequences WHERE thing = ?", (thing,))
                items = [bytes(r[1]) for r in rows]
                payload = build(seq, items)
                freed, evicted = self._make_room(len(payload))
                now = self._now()
                cursor = self._db.execute(
                    "INSERT INTO outbox(thing, seq, topic, payload, size, created_at) VALUES(?,?,?,?,?,?)",
                    (thing, seq, topic, payload, len(payload), now),
                )
                self._db.execute(
                    "INSERT INTO sequences(thing, next_seq) VALUES(?, ?) "
                    "ON CONFLICT(thing) DO UPDATE SET next_seq = excluded.next_seq",
                    (thing, seq + 1),
                )
                self._db.execute("DELETE FROM staged WHERE thing = ? AND id <= ?", (thing, rows[-1][0]))
                if state is not None:
                    self._db.executemany(
                        "INSERT INTO state(key, value) VALUES(?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        state(seq, items).items(),
                    )
                self._bump("appended", 1)
                self._db.execute("COMMIT")
            except SpoolFullError:
                self._rollback()
                raise
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(f"cannot seal an envelope for {thing}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            self._bytes += len(payload) - freed
            self._count += 1 - evicted
            entry_id = cursor.lastrowid
            assert entry_id is not None
            return SpoolEntry(entry_id, thing, seq, topic, payload, dt.datetime.fromtimestamp(now, dt.UTC))

    def _make_room(self, size: int) -> tuple[int, int]:
        """Inside a transaction: apply the overflow policy so ``size`` more bytes fit.

        Returns ``(bytes freed, envelopes evicted)``, for the caller to account once it has committed.
        """
        if self._bytes + size <= self.max_bytes:
            return 0, 0
        if self.policy is OverflowPolicy.REJECT_NEW or size > self.max_bytes:
            raise SpoolFullError(
                f"spool {self.path} holds {self._bytes} of {self.max_bytes} bytes; "
                f"an envelope of {size} bytes does not fit"
            )
        need = self._bytes + size - self.max_bytes
        freed, dropped = 0, []
        for row_id, thing, seq, row_size in self._db.execute("SELECT id, thing, seq, size FROM outbox ORDER BY id"):
            dropped.append((row_id, thing, seq))
            freed += row_size
            if freed >= need:
                break
        self._drop(dropped, "full")
        return freed, len(dropped)

    def _drop(self, rows: list[tuple[int, str, int]], reason: str) -> None:
        if not rows:
            return
        now = self._now()
        self._db.executemany("DELETE FROM outbox WHERE id = ?", ((r[0],) for r in rows))
        by_thing: dict[str, list[int]] = {}
        for _, thing, seq in rows:
            by_thing.setdefault(thing, []).append(seq)
        for thing, seqs in by_thing.items():
            for first, last in _ranges(sorted(seqs)):
                self._db.execute(
                    "INSERT INTO gaps(thing, first_seq, last_seq, reason, at) VALUES(?,?,?,?,?)",
                    (thing, first, last, reason, now),
                )
        self._bump(f"dropped_{reason}", len(rows))

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    # -- draining ---------------------------------------------------------------------------------
    def pending(self, limit: int = 100, *, after_id: int = 0, thing: str | None = None) -> list[SpoolEntry]:
        """Unacknowledged envelopes (of one ``thing`` if given) with ``id > after_id``, oldest first."""
        sql = "SELECT id, thing, seq, topic, payload, created_at FROM outbox WHERE id > ?"
        params: tuple[object, ...] = (after_id,)
        if thing is not None:
            sql += " AND thing = ?"
            params = (after_id, thing)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id LIMIT ?", (*params, limit)).fetchall()
        return [SpoolEntry(r[0], r[1], r[2], r[3], bytes(r[4]), dt.datetime.fromtimestamp(r[5], dt.UTC)) for r in rows]

    def pending_things(self) -> list[str]:
        """Things with unacknowledged envelopes."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT thing FROM outbox ORDER BY thing")]

    def ack(self, ids: Iterable[int]) -> int:
        """Delete acknowledged envelopes; returns how many were still present."""
        id_list = list(ids)
        if not id_list:
            return 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                freed = removed = 0
                for entry_id in id_list:
                    row = self._db.execute("DELETE FROM outbox WHERE id = ? RETURNING size", (entry_id,)).fetchone()
                    if row is not None:
                        freed += int(row[0])
                        removed += 1
                self._bump("acked", removed)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(f"cannot acknowledge envelopes: {exc}") from exc
            self._bytes -= freed
            self._count -= removed
            return removed

    def enforce_bounds(self) -> int:
        """Drop envelopes older than ``max_age``; returns how many were dropped (metered)."""
        cutoff = (self._clock() - self.max_age).timestamp()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                rows = self._db.execute(
                    "SELECT id, thing, seq, size FROM outbox WHERE created_at < ? ORDER BY id", (cutoff,)
                ).fetchall()
                self._drop([(r[0], r[1], r[2]) for r in rows], "age")
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(f"cannot enforce the spool bounds: {exc}") from exc
            self._bytes -= sum(int(r[3]) for r in rows)
            self._count -= len(rows)
            return len(rows)

    # -- state and metrics ------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        """A small durable value (e.g. a source's resume point)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            return str(row[0]) if row else None

    def set_state(self, key: str, value: str) -> None:
        """Store a small durable value."""
        with self._lock:
            self._db.execute(
                "INSERT INTO state(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def gaps(self) -> list[tuple[str, int, int, str]]:
        """Dropped ``(thing, first_seq, last_seq, reason)`` ranges, oldest first."""
        with self._lock:
            return [
                (r[0], int(r[1]), int(r[2]), str(r[3]))
                for r in self._db.execute("SELECT thing, first_seq, last_seq, reason FROM gaps ORDER BY rowid")
            ]

    def stats(self) -> SpoolStats:
        """Current occupancy and lifetime counters."""
        with self._lock:
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
            pending = self._count
            staged = self._scalar("SELECT COUNT(*) FROM staged")
            oldest = self._db.execute("SELECT MIN(created_at) FROM outbox").fetchone()[0]  # indexed
        age = max(0.0, self._now() - float(oldest)) if oldest is not None else 0.0
        return SpoolStats(
            pending=pending,
            pending_bytes=self._bytes,
            staged=staged,
            oldest_age_s=age,
            appended=int(counters.get("appended", 0)),
            acked=int(counters.get("acked", 0)),
            dropped_age=int(counters.get("dropped_age", 0)),
            dropped_full=int(counters.get("dropped_full", 0)),
            staged_refused=int(counters.get("staged_refused", 0)),
            staged_rejected=int(counters.get("staged_rejected", 0)),
        )

    def close(self) -> None:
        """Close the database (committed data is already durable)."""
        with self._lock:
            self._db.close()

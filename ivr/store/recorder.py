"""The call store's writer: webhooks queue events, a thread writes them in batches.

A slow or unreachable database never slows or breaks a call: what cannot be written is
counted as lost, in the log and in `/healthz`.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import threading
import weakref
from collections import deque
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .engine import masked, twin, writing
from .schema import (
    CallStatus,
    Turn,
    UTCDateTime,
    caller_key,
    losses,
    status_row,
    statuses,
    turn_row,
    turns,
)

log = logging.getLogger("ivr.store")


class _Marker:
    """Put in the queue by flush() and close(): the writer sets it once what came before is
    written; `stop` also ends the writer."""

    __slots__ = ("done", "stop")

    def __init__(self, stop=False):
        self.done, self.stop = threading.Event(), stop


class Loss:
    """Events this process could not record and has not yet written down in `losses`."""

    __slots__ = ("turns", "statuses", "first", "last")

    def __init__(self):
        self.turns = self.statuses = 0
        self.first = self.last = None

    def __bool__(self):
        return bool(self.turns or self.statuses)

    def add(self, events) -> None:
        for e in events:
            if isinstance(e, Turn):
                self.turns += 1
            else:
                self.statuses += 1
            # The event's own time; one that could not be stored (naive, not a time) must not
            # make the row that tells of it unwritable too.
            at = e.at if isinstance(e.at, datetime) and e.at.tzinfo else datetime.now(UTC)
            self.first = at if self.first is None else min(self.first, at)
            self.last = at if self.last is None else max(self.last, at)

    def merge(self, other: Loss) -> None:
        if other:
            self.turns += other.turns
            self.statuses += other.statuses
            self.first = other.first if self.first is None else min(self.first, other.first)
            self.last = other.last if self.last is None else max(self.last, other.last)

    def row(self) -> dict:
        return {"at": datetime.now(UTC), "first_at": self.first, "last_at": self.last,
                "turns": self.turns, "statuses": self.statuses,
                "worker": f"{socket.gethostname()}:{os.getpid()}"[-64:]}


class Recorder:
    """Writes events in the background: `record()` only queues (never blocks, never raises).

    A thread, started in the process that records (so a fork after create_app, as gunicorn
    does with or without --preload, gives each worker its own), wakes every `wait` seconds,
    or as soon as `batch` events are queued, and inserts what is queued in transactions of
    up to `batch` rows. It is not woken per event: a webhook's cost is one append to a
    deque. When the queue holds `size` events, or a batch cannot be written (the database
    is down), those events are dropped and counted in `lost`; one warning is logged per run
    of failures, and one line when writing works again. How many were lost, and when, is
    written to the `losses` table with the next transaction that works, so the report can
    say what it does not see.

    What a process killed outright (SIGKILL) had queued is lost without a trace: the events
    of the last `wait` seconds at most (fewer when `batch` of them came sooner), and the
    batch being written (docs/store.md has the measured figure).
    """

    def __init__(self, engine: Engine, secret: bytes = b"", *, size: int = 10_000,
                 batch: int = 200, wait: float = 0.5):
        # The writer's connections are its own, in a pool apart from the one the line's
        # questions and the report draw from. A connection opened during a fault can keep
        # it after the fault ends (SQLite opens one read-only while its file is, PostgreSQL
        # a read-only session on a standby); a reader's would then be handed to the writer,
        # which would lose every batch that drew it. Here the writer drops a connection
        # whose write failed (engine.writing), and only ever writes with connections it
        # opened itself.
        self.engine, self.secret = twin(engine), secret
        self._readers = engine
        self.size, self.batch, self.wait = size, batch, wait
        self.written = 0
        self.lost = 0
        self._unreported = Loss()
        self._failing = False
        self._closed = False
        self._reset()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (r := ref()) is not None and r._forked())
        atexit.register(_close_at_exit, ref)
        _RECORDERS.add(self)

    def _reset(self):
        self._queue = deque()
        self._wake = threading.Event()
        self._thread = None
        self._start_lock = threading.Lock()
        self._count_lock = threading.Lock()
        # Checking the queue's length and appending must be one step: threads of a worker
        # record at once, and each could otherwise take the last free place.
        self._queue_lock = threading.Lock()

    def _forked(self):
        # The parent's queued events and thread stay the parent's; this process starts afresh
        # with a connection pool of its own (SQLAlchemy's advice for forks).
        self._reset()
        self.written = self.lost = 0
        self._unreported = Loss()
        self._failing = False
        self.engine.dispose(close=False)
        self._readers.dispose(close=False)

    def record(self, event: Turn | CallStatus) -> None:
        """Queue `event` for writing; drop and count it if the queue is full or closed."""
        if self._thread is None and not self._start():
            self._count_lost((event,))
            return
        queued = self._queue
        with self._queue_lock:
            n = len(queued)
            if n < self.size:
                queued.append(event)
        if n >= self.size:
            self._count_lost((event,))
        elif n + 1 == self.batch:  # a full batch: no need to wait for the timer
            self._wake.set()

    def _start(self) -> bool:
        """Start the writer in this process; False once closed (or if it cannot start)."""
        with self._start_lock:
            if self._thread is None and not self._closed:
                try:
                    thread = writer_thread(self._run)
                except RuntimeError:  # interpreter shutting down, or no more threads
                    return False
                self._thread = thread
            return self._thread is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def failing(self) -> bool:
        """True from a failed write until the next one that works."""
        return self._failing

    def _count_lost(self, events):
        with self._count_lock:
            self.lost += len(events)
            self._unreported.add(events)

    def _send(self, marker: _Marker, timeout: float) -> bool:
        if self._thread is None:
            return True
        self._queue.append(marker)  # markers go in even when the queue is full
        self._wake.set()
        return marker.done.wait(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until what was queued before this call is written (or lost); False on timeout."""
        return self._send(_Marker(), timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued, then stop the thread (on shutdown: atexit does it, and so does
        gunicorn's worker_exit hook, `worker_exit`). Later events are counted lost."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        flushed = self._send(_Marker(stop=True), timeout)
        if thread is not None:
            thread.join(timeout)
            self._thread = None
        # Whatever a racing record() slipped in after the marker is lost, and counted.
        leftover = [e for e in self._queue if not isinstance(e, _Marker)]
        self._queue.clear()
        self._count_lost(leftover)
        if self._thread is None:
            self.engine.dispose()
        return flushed

    def _run(self):
        queued, wake = self._queue, self._wake
        while True:
            wake.wait(self.wait)
            wake.clear()
            events = []
            # A loss not yet written down goes with the next events; with none, on its own,
            # but not right after a write failed in this round: the database is still failing.
            tried = False
            while queued:
                item = queued.popleft()
                if isinstance(item, _Marker):
                    if events or (self._unreported and not tried):
                        self._write(events)
                        events, tried = [], True
                    item.done.set()
                    if item.stop:
                        return
                    continue
                events.append(item)
                if len(events) >= self.batch:
                    self._write(events)
                    events, tried = [], True
            if events or (self._unreported and not tried):
                self._write(events)

    def _write(self, events):
        """Write `events` and, in the same transaction, what was lost before them."""
        with self._count_lock:
            loss, self._unreported = self._unreported, Loss()
        turn_rows, status_rows = [], []
        keys = {}  # the turns of a batch are a few calls: each number keyed once
        try:
            for e in events:
                if isinstance(e, Turn):
                    number = e.caller
                    if number not in keys:
                        keys[number] = caller_key(self.secret, number) if self.secret else None
                    turn_rows.append(turn_row(e, keys[number]))
                else:
                    status_rows.append(status_row(e))
            with writing(self.engine) as connection:
                if turn_rows:
                    insert(connection, turns, turn_rows)
                if status_rows:
                    insert(connection, statuses, status_rows)
                if loss:
                    connection.execute(losses.insert(), loss.row())
        except Exception as e:
            with self._count_lock:
                self._unreported.merge(loss)
            self._count_lost(events)
            if not self._failing:
                self._failing = True
                reason = str(getattr(e, "orig", None) or e).strip().splitlines()
                log.warning("store: cannot write %d event(s) to %s, dropped (%s); calls go on",
                            len(events), masked(self.engine.url), reason[0] if reason else type(e).__name__)
            return
        self.written += len(events)
        if self._failing:
            self._failing = False
            log.warning("store: writing again to %s; %d event(s) lost so far in this process, "
                        "written down in its losses table", masked(self.engine.url), self.lost)


class _NativeThread:
    """`target` in a thread of gevent's pool of native threads, joinable as a thread is."""

    def __init__(self, target):
        from gevent.threadpool import ThreadPool

        self._pool = ThreadPool(1)
        self._result = self._pool.spawn(target)

    def join(self, timeout=None):
        self._result.wait(timeout)
        if self._result.ready():
            self._pool.kill()


def writer_thread(target):
    """Start the writer: an OS thread of its own, so that a write waiting on the database
    (SQLite's lock, a slow disk) never stops the webhooks.

    Under gevent's monkey-patching (the line served by gevent workers, ivr/serving.py) a
    `threading.Thread` is a greenlet of the worker's one thread, and SQLite waits for its
    lock in C, where gevent cannot switch: the worker would stop answering for as long as
    another process holds the lock. There the writer runs in gevent's pool of native threads,
    which gevent provides for such blocking calls; gevent's events, locks and queues work
    across the two.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return _NativeThread(target)
    thread = threading.Thread(target=target, name="ivr-store-writer", daemon=True)
    thread.start()
    return thread


def insert(connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in `connection`'s transaction.

    PostgreSQL: COPY through psycopg (a fifth of the CPU of a pipelined executemany, measured
    on the writer's batches); SQLite: executemany.
    """
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    for row in rows:
        # Values go through the table's types, as SQLAlchemy would send them (UTC datetimes).
        row["at"] = UTCDateTime().process_bind_param(row["at"], connection.dialect)
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(tuple(row.values()))


#: Every live recorder of this process, for close_all().
_RECORDERS: weakref.WeakSet = weakref.WeakSet()


def _close_at_exit(ref):
    recorder = ref()
    if recorder is not None and not recorder._closed:
        recorder.close()


def close_all(timeout: float = 5.0) -> None:
    """Flush and close every recorder of this process (atexit also does it)."""
    for recorder in list(_RECORDERS):
        if not recorder._closed:
            recorder.close(timeout)


def worker_exit(server, worker) -> None:
    """gunicorn's worker_exit hook: write what the exiting worker still has queued."""
    close_all()


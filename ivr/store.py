"""The call store: every turn of every call, and how each call ended.

The webhooks hand a `Turn` (one per webhook) or a `CallStatus` (Twilio's status callback) to
`Store.record`, which only queues it: a `Recorder` thread writes the queue in batches, so a
slow or unreachable database never slows or breaks a call (what cannot be written is counted
as lost, in the log and in `Store.health()`).

SQLAlchemy Core on SQLite (a file in the Flask instance folder by default, WAL mode) or on
PostgreSQL through psycopg 3 (`DATABASE_URL`). The schema is versioned with Alembic; the
migrations ship inside the package (`ivr/migrations/`) and run without an alembic.ini.

Caller numbers are never stored: `caller_key` keys them with HMAC-SHA256 (`IVR_SECRET_KEY`).

Wiring, in create_app and the webhooks:

    store.init_app(app)                      # app.extensions["ivr_store"]: a Store, or None (IVR_STORE=0)
    s = app.extensions["ivr_store"]
    s.record(Turn(sid, from_, now, "step", 3, "2", None, "next", "step:4", False))   # never blocks
    s.record(CallStatus(sid, "completed", 42, now))                                 # /voice/status
    s.last_unfinished(s.key(from_), now - timedelta(hours=app.config["RESUME_HOURS"]), exclude_call=sid)
    s.sms_count(s.key(from_), now - timedelta(days=1))   # raises StoreError when it cannot answer
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
import re
import threading
import time
import weakref
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The SQLite file's name in the Flask instance folder, when DATABASE_URL is not set.
SQLITE_FILE = "ivr.sqlite3"
#: Longest SpeechResult kept: enough to see what callers say that the line did not take.
WORDS_LIMIT = 100

#: Settings the store reads from the app's config, with their defaults (create_app folds these in).
DEFAULTS = {
    "DATABASE_URL": "",  # empty: SQLite in the instance folder
    "SECRET_KEY": "",  # IVR_SECRET_KEY: keys caller numbers (and signs web phone passes)
    "RETENTION_DAYS": 90,  # IVR_RETENTION_DAYS: `ivr db prune` deletes older records
    "RESUME_HOURS": 48,  # IVR_RESUME_HOURS: how long a caller may come back to their step
    "STORE": True,  # IVR_STORE=0 turns the store off (nothing recorded, nothing offered)
    "REPORT_PASSWORD": "",  # IVR_REPORT_PASSWORD: /report exists only when set
}


class StoreError(Exception):
    """The store cannot be used; the message says why and what to do."""


# -- events ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    """One webhook turn of a call, as the webhooks hand it over."""

    call_sid: str
    #: Twilio's From in the clear: the store keeps only its HMAC; None or '' when withheld.
    caller: str | None
    #: UTC, timezone-aware.
    at: datetime
    #: Where the caller was when this input came: start, menu, pick, step, end, lost.
    place: str
    #: The step number when place == "step".
    step: int | None
    #: A key "0".."9" "*" "#", "-" silence, "?" anything else, "speech" when spoken.
    input: str
    #: The SpeechResult when spoken (cut to 100 characters).
    words: str | None
    #: What the flow did: start, menu, pick, step, repeat, next, back, slow, fast, conclusion,
    #: wrong, silence, hangup, sms_sent, sms_failed, agent, resume, error, lost.
    action: str
    #: Where the call went: menu, pick, step:4, end, hangup, dial.
    outcome: str
    #: Slow replay mode is on after this turn.
    slow: bool = False


@dataclass(frozen=True)
class CallStatus:
    """Twilio's status callback (POST /voice/status): how a call ended."""

    call_sid: str
    #: CallStatus: completed, busy, failed, no-answer, canceled.
    status: str
    #: CallDuration; None when Twilio sends none.
    duration_seconds: int | None
    at: datetime


# -- caller numbers --------------------------------------------------------------------------

#: What Twilio sends in From when the caller's number is withheld.
WITHHELD = {
    "anonymous", "restricted", "unknown", "blocked", "unavailable", "private",
    "+266696687", "+86282452253", "+7378742833", "+2562533",
}
_NUMBER = re.compile(r"\+?[0-9]{3,15}")


def caller_key(secret: bytes, number: str | None) -> str | None:
    """The caller's keyed hash (HMAC-SHA256, hex): the same number and key give the same
    value, and nobody without the key can tell the number from it. None when the number is
    withheld or not a phone number (a browser, a SIP address)."""
    if not secret:
        raise ValueError("caller_key needs a secret key")
    if not number:
        return None
    number = "".join(number.split())
    if number.lower() in WITHHELD or not _NUMBER.fullmatch(number):
        return None
    # A purpose of its own, so the key can be shared with other uses of IVR_SECRET_KEY.
    return hmac.digest(secret, b"ivr caller\0" + number.encode(), "sha256").hex()


# -- tables ----------------------------------------------------------------------------------

class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on both databases (SQLite keeps no zone: UTC is implied)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone: the store takes UTC-aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = sa.MetaData()

turns = sa.Table(
    "turns", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("call_sid", sa.String(64), nullable=False),
    sa.Column("caller_key", sa.String(64)),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("place", sa.String(16), nullable=False),
    sa.Column("step", sa.SmallInteger),
    sa.Column("input", sa.String(8), nullable=False),
    sa.Column("words", sa.String(WORDS_LIMIT)),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("slow", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_turns_caller_at", "caller_key", "at"),
    sa.Index("ix_turns_at", "at"),
    sa.Index("ix_turns_call", "call_sid"),
)

statuses = sa.Table(
    "call_statuses", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("call_sid", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("duration_seconds", sa.Integer),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_call_statuses_at", "at"),
    sa.Index("ix_call_statuses_call", "call_sid"),
)


def _text(value, limit: int) -> str:
    """`value` as text a database takes: at most `limit` characters, no NUL (PostgreSQL
    refuses it), no lone surrogates (not UTF-8). Some fields come from the network."""
    text = str(value)[:limit]
    if not text.isascii() or "\0" in text:
        text = text.replace("\0", "").encode("utf-8", "replace").decode("utf-8")
    return text


def turn_row(t: Turn, key: str | None) -> dict:
    """A Turn as a row of `turns` (the caller's number replaced by its key)."""
    step = t.step
    return {
        "call_sid": _text(t.call_sid or "", 64), "caller_key": key, "at": t.at,
        "place": _text(t.place, 16), "step": step if type(step) is int and 0 <= step < 100 else None,
        "input": _text(t.input, 8), "words": _text(t.words, WORDS_LIMIT) if t.words else None,
        "action": _text(t.action, 16), "outcome": _text(t.outcome, 16), "slow": bool(t.slow),
    }


def status_row(s: CallStatus) -> dict:
    duration = s.duration_seconds
    if not isinstance(duration, int) or not 0 <= duration < 2**31:
        duration = None
    return {"call_sid": _text(s.call_sid or "", 64), "status": _text(s.status or "", 16),
            "duration_seconds": duration, "at": s.at}


# -- URLs and engines ------------------------------------------------------------------------

def default_url(instance_path) -> str:
    """The SQLite file in the Flask instance folder."""
    return f"sqlite:///{Path(instance_path) / SQLITE_FILE}"


def normalize_url(url: str) -> str:
    """DATABASE_URL as SQLAlchemy takes it: postgres:// and postgresql:// (as hosting
    platforms write them) use psycopg 3."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def masked(url) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def _sqlite_pragmas(dbapi_connection, _record):
    # WAL: readers never block the writer (each gunicorn worker writes); NORMAL is durable
    # enough for WAL and far cheaper than FULL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str) -> Engine:
    """An engine for `url` (normalized), with the settings the line needs: short connect
    timeouts (a call never waits on it, but the writer should notice an outage quickly) and
    WAL for SQLite (its folder is created)."""
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"DATABASE_URL {url!r} is not a database URL "
                         "(e.g. postgresql://user:password@host/db or sqlite:///path/ivr.sqlite3)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder of {parsed.database}: {e.strerror}") from None
        engine = sa.create_engine(parsed, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        try:
            return sa.create_engine(
                # A question during a call waits at most a second for a free connection.
                parsed, pool_pre_ping=True, pool_size=2, max_overflow=4, pool_timeout=1,
                connect_args={"connect_timeout": 2},  # libpq's shortest
            )
        except ImportError as e:
            raise StoreError(f"cannot use {masked(url)}: {e}") from None
    raise StoreError(f"DATABASE_URL {masked(url)}: only PostgreSQL and SQLite are supported")


# -- migrations ------------------------------------------------------------------------------

def _alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The schema revision this version of the line needs."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _unreachable(url, e) -> StoreError:
    reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return StoreError(f"cannot reach the database {masked(url)}: {reason}")


def upgrade(url: str | Engine) -> str:
    """Bring the database's schema to the current revision (creating it if empty); returns
    the revision. Raises StoreError if the database cannot be reached."""
    from alembic import command

    engine = url if isinstance(url, Engine) else create_engine(url)
    try:
        with _sqlite_lock(engine), engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
    except SQLAlchemyError as e:
        raise _unreachable(engine.url, e) from None
    finally:
        if engine is not url:
            engine.dispose()
    return head()


@contextmanager
def _sqlite_lock(engine):
    """One migration at a time on a SQLite file: gunicorn workers that each build the app
    (no --preload) start together on a new file. PostgreSQL locks its own tables."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


#: The schema revision this version of the line needs: alembic's head (`head()`; a test
#: keeps them equal). Written out so that starting a worker on a migrated database reads one
#: row and never imports alembic (about 10 MiB per worker).
HEAD = "0001"
#: Where alembic keeps a database's revision.
VERSION_TABLE = "alembic_version"


def revision(engine: Engine) -> str | None:
    """The database's schema revision; None when it was never migrated."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return ", ".join(versions) or None  # several only if someone branched the migrations


def check(url: str | Engine) -> None:
    """Raise StoreError when the database cannot be reached or is not at the schema this
    version of the line needs."""
    engine = url if isinstance(url, Engine) else create_engine(url)
    try:
        current = revision(engine)
    except SQLAlchemyError as e:
        raise _unreachable(engine.url, e) from None
    finally:
        if engine is not url:
            engine.dispose()
    needed = HEAD
    if current != needed:
        state = "has no schema" if current is None else f"is at schema revision {current}, not {needed}"
        raise StoreError(f"the database {masked(engine.url)} {state}: run `ivr db upgrade`")


# -- the writer ------------------------------------------------------------------------------

class _Marker:
    """Put in the queue by flush() and close(): the writer sets it once what came before is
    written; `stop` also ends the writer."""

    __slots__ = ("done", "stop")

    def __init__(self, stop=False):
        self.done, self.stop = threading.Event(), stop


class Recorder:
    """Writes events in the background: `record()` only queues (never blocks, never raises).

    A thread, started in the process that records (so a fork after create_app, as gunicorn
    does with or without --preload, gives each worker its own), wakes every `wait` seconds,
    or as soon as `batch` events are queued, and inserts what is queued in transactions of
    up to `batch` rows. It is not woken per event: a webhook's cost is one append to a
    deque. When the queue holds `size` events, or a batch cannot be written (the database
    is down), those events are dropped and counted in `lost`; one warning is logged per run
    of failures, and one line when writing works again.
    """

    def __init__(self, engine: Engine, secret: bytes = b"", *, size: int = 10_000,
                 batch: int = 200, wait: float = 0.5):
        self.engine, self.secret = engine, secret
        self.size, self.batch, self.wait = size, batch, wait
        self.written = 0
        self.lost = 0
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

    def _forked(self):
        # The parent's queued events and thread stay the parent's; this process starts afresh
        # with a connection pool of its own (SQLAlchemy's advice for forks).
        self._reset()
        self.written = self.lost = 0
        self._failing = False
        self.engine.dispose(close=False)

    def record(self, event: Turn | CallStatus) -> None:
        """Queue `event` for writing; drop and count it if the queue is full or closed."""
        queued = self._queue
        n = len(queued)
        if n >= self.size or self._thread is None and not self._start():
            with self._count_lock:
                self.lost += 1
            return
        queued.append(event)
        if n + 1 == self.batch:  # a full batch: no need to wait for the timer
            self._wake.set()

    def _start(self) -> bool:
        """Start the writer in this process; False once closed (or if it cannot start)."""
        with self._start_lock:
            if self._thread is None and not self._closed:
                try:
                    thread = threading.Thread(target=self._run, name="ivr-store-writer", daemon=True)
                    thread.start()
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

    def _count_lost(self, n):
        with self._count_lock:
            self.lost += n

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
        leftover = sum(1 for e in self._queue if not isinstance(e, _Marker))
        self._queue.clear()
        self._count_lost(leftover)
        return flushed

    def _run(self):
        queued, wake = self._queue, self._wake
        while True:
            wake.wait(self.wait)
            wake.clear()
            events = []
            while queued:
                item = queued.popleft()
                if isinstance(item, _Marker):
                    if events:
                        self._write(events)
                        events = []
                    item.done.set()
                    if item.stop:
                        return
                    continue
                events.append(item)
                if len(events) >= self.batch:
                    self._write(events)
                    events = []
            if events:
                self._write(events)

    def _write(self, events):
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
            with self.engine.begin() as connection:
                if turn_rows:
                    insert(connection, turns, turn_rows)
                if status_rows:
                    insert(connection, statuses, status_rows)
        except Exception as e:
            self._count_lost(len(events))
            if not self._failing:
                self._failing = True
                reason = str(getattr(e, "orig", None) or e).strip().splitlines()
                log.warning("store: cannot write %d event(s) to %s, dropped (%s); calls go on",
                            len(events), masked(self.engine.url), reason[0] if reason else type(e).__name__)
            return
        self.written += len(events)
        if self._failing:
            self._failing = False
            log.warning("store: writing again to %s; %d event(s) lost so far in this process",
                        masked(self.engine.url), self.lost)


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


# -- the store -------------------------------------------------------------------------------

class Store:
    """The line's call store: recording (through a Recorder) and the questions the line asks."""

    def __init__(self, engine: Engine, secret: bytes = b"", **recorder_options):
        self.engine = engine
        self.secret = secret
        self.recorder = Recorder(engine, secret, **recorder_options)
        self._quiet_until = 0.0

    @classmethod
    def open(cls, url: str, secret: bytes = b"", **recorder_options) -> "Store":
        return cls(create_engine(url), secret, **recorder_options)

    # recording
    def record(self, event: Turn | CallStatus) -> None:
        """Queue a turn or a call status; never blocks, never raises."""
        self.recorder.record(event)

    def key(self, number: str | None) -> str | None:
        """The caller's key for `number`; None when withheld, or when no secret key is set."""
        return caller_key(self.secret, number) if self.secret else None

    def health(self) -> dict:
        """For /healthz: what this worker has written and lost (the database's URL is not shown)."""
        r = self.recorder
        return {"backend": self.engine.dialect.name, "written": r.written, "lost": r.lost,
                "queued": r.queued}

    def flush(self, timeout: float = 5.0) -> bool:
        return self.recorder.flush(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        flushed = self.recorder.close(timeout)
        self.engine.dispose()
        return flushed

    # questions
    #: Longest a question on a call's path may take on PostgreSQL (milliseconds).
    QUESTION_MS = 1000
    #: After a question fails, questions are not asked for this long (seconds): the calls of
    #: an outage do not each wait for a connection timeout.
    PAUSE_AFTER_FAILURE = 10.0

    @contextmanager
    def _asking(self):
        """A read-only transaction for a question asked during a call: short, and refused at
        once (StoreError) while the database is known to be failing."""
        if self.recorder.failing or time.monotonic() < self._quiet_until:
            raise StoreError("the call store is not answering")
        try:
            with self.engine.begin() as c:
                if c.dialect.name == "postgresql":
                    c.exec_driver_sql(f"SET LOCAL statement_timeout = {self.QUESTION_MS}")
                yield c
        except SQLAlchemyError as e:
            self._quiet_until = time.monotonic() + self.PAUSE_AFTER_FAILURE
            raise _unreachable(self.engine.url, e) from None

    def last_unfinished(self, key: str | None, since: datetime, exclude_call: str | None = None) -> int | None:
        """The step the caller with `key` was on when their most recent call since `since`
        ended, if that call reached a step and did not hear the Conclusión; else None.

        `exclude_call`: the call now under way (its first turn may already be written).
        Never raises: when the store cannot answer (quickly), the answer is None (no resume).
        """
        if not key:
            return None
        where = [turns.c.caller_key == key, turns.c.at >= since]
        if exclude_call:
            where.append(turns.c.call_sid != exclude_call)
        try:
            with self._asking() as c:
                latest = c.execute(
                    sa.select(turns.c.call_sid).where(*where)
                    .order_by(turns.c.at.desc(), turns.c.id.desc()).limit(1)
                ).scalar()
                if latest is None:
                    return None
                rows = c.execute(
                    sa.select(turns.c.action, turns.c.outcome).where(turns.c.call_sid == latest)
                    .order_by(turns.c.at.desc(), turns.c.id.desc())
                ).all()
        except StoreError as e:
            log.warning("store: no resume offered: %s", e)
            return None
        if any(action == "conclusion" for action, _ in rows):
            return None
        for _, outcome in rows:
            if outcome.startswith("step:") and outcome[5:].isdigit():
                return int(outcome[5:])
        return None

    def sms_count(self, key: str | None, since: datetime) -> int:
        """How many SMS the caller with `key` was sent since `since`.

        Raises StoreError (quickly) when the store cannot answer: the caller of this decides
        whether an SMS may go without knowing (the line's rule: it may not).
        """
        if not key:
            return 0
        with self._asking() as c:
            return c.execute(
                sa.select(sa.func.count()).select_from(turns)
                .where(turns.c.caller_key == key, turns.c.at >= since, turns.c.action == "sms_sent")
            ).scalar_one()

    def prune(self, before: datetime) -> int:
        """Delete turns and call statuses older than `before`; returns how many rows went."""
        return prune(self.engine, before)


def prune(engine: Engine, before: datetime) -> int:
    """Delete turns and call statuses older than `before`; returns how many rows went."""
    with engine.begin() as c:
        gone = c.execute(turns.delete().where(turns.c.at < before)).rowcount
        gone += c.execute(statuses.delete().where(statuses.c.at < before)).rowcount
    return gone


# -- settings and the app --------------------------------------------------------------------

def url_for(config, instance_path) -> tuple[str, bool]:
    """(database URL, whether it is the default SQLite file) from the app's settings."""
    url = str(config.get("DATABASE_URL") or "").strip()
    if url:
        return normalize_url(url), False
    return default_url(instance_path), True


def whole(config, name: str, default: int) -> int:
    """A whole-number setting of at least 1 (IVR_<name>), or StoreError naming it."""
    value = config.get(name, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StoreError(f"IVR_{name} must be a whole number of at least 1, not {value!r}")
    return value


def init_app(app) -> Store | None:
    """Open the app's store (app.extensions["ivr_store"]), or None when IVR_STORE is off.

    The default SQLite file is created and migrated here (zero set-up); any other database
    must already be migrated (`ivr db upgrade`), else StoreError says so. Also registers
    /report when IVR_REPORT_PASSWORD is set.
    """
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    on = app.config["STORE"]
    if isinstance(on, str):
        on = on.strip().lower() not in ("0", "false", "no", "off")
    if not on:
        app.extensions["ivr_store"] = None
        return None
    whole(app.config, "RETENTION_DAYS", 90)
    whole(app.config, "RESUME_HOURS", 48)
    secret = str(app.config["SECRET_KEY"] or "")
    if not secret and app.config.get("TWILIO_AUTH_TOKEN"):
        raise StoreError("IVR_SECRET_KEY is not set: the call store needs it to key caller numbers "
                         "(e.g. IVR_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')), "
                         "or set IVR_STORE=0 to record nothing")
    if not secret:
        log.warning("IVR_SECRET_KEY is not set: callers are not recognised (no resume, no SMS limit "
                    "per number); fine for local use only")
    url, default = url_for(app.config, app.instance_path)
    engine = create_engine(url)
    if default:
        try:
            current = revision(engine)
        except SQLAlchemyError:
            current = None  # upgrade says why
        if current != HEAD:
            upgrade(engine)
    else:
        try:
            check(engine)
        except StoreError:
            engine.dispose()
            raise
    store = Store(engine, secret.encode())
    app.extensions["ivr_store"] = store
    if app.config.get("REPORT_PASSWORD"):
        from . import report

        app.register_blueprint(report.bp)
    return store

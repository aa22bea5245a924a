"""The call store: every turn of every call, and how each call ended.

The webhooks hand a `Turn` (one per webhook) or a `CallStatus` (Twilio's status callback) to
`Store.record`, which only queues it: a `Recorder` thread writes the queue in batches, so a
slow or unreachable database never slows or breaks a call (what cannot be written is counted
as lost, in the log and in `Store.health()`).

Caller numbers are never stored: `caller_key` keys them with HMAC-SHA256 (`IVR_SECRET_KEY`).

    store = open_for(settings, app.instance_path)   # a Store, or None (IVR_STORE=0)
    store.record(Turn(sid, from_, now, "step", 3, "2", None, "next", "step:4", False))   # never blocks
    store.record(CallStatus(sid, "completed", 42, now))                                 # /voice/status
    store.last_unfinished(store.key(from_), since, exclude_call=sid)
    store.sms_count(store.key(from_), since)   # raises StoreError when it cannot answer

What a worker could not record (database down, queue full) is counted, and written to the
`losses` table once it can write again: the report states its own blind spots. docs/store.md
tells the faults, the recovery and what a killed worker loses.

The parts: `schema` (events and tables), `engine` (URLs, engines, migrations), `recorder`
(the background writer), `queries` (the line's questions, retention).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from .engine import (
    HEAD,
    SQLITE_FILE,
    StoreError,
    check,
    create_engine,
    head,
    masked,
    normalize_url,
    revision,
    upgrade,
    url_for,
    writing,
)
from .queries import Store, prune
from .recorder import Recorder, close_all, insert, worker_exit
from .schema import WITHHELD, CallStatus, Turn, caller_key, login_failures, losses, statuses, turns

__all__ = [
    "HEAD", "SQLITE_FILE", "StoreError", "check", "create_engine", "head", "masked",
    "normalize_url", "revision", "upgrade", "url_for", "writing", "Store", "prune", "Recorder",
    "close_all", "insert", "worker_exit", "WITHHELD", "CallStatus", "Turn", "caller_key",
    "statuses", "turns", "losses", "login_failures", "open_for",
]

log = logging.getLogger(__name__)


def open_for(settings, instance_path) -> Store | None:
    """The line's store as the settings describe it, or None when IVR_STORE is off.

    The default SQLite file is created and migrated here (zero set-up); any other database
    must already be migrated (`ivr db upgrade`), else StoreError says so.
    """
    if not settings.store:
        return None
    if not settings.secret_key:
        log.warning("IVR_SECRET_KEY is not set: callers are not recognised (no resume, no SMS limit "
                    "per number); fine for local use only")
    url, default = url_for(settings.database_url, instance_path)
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
    return Store(engine, settings.secret_key.encode())

"""The questions the line asks its call store during a call, and retention."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from . import inbox
from .engine import StoreError, _unreachable, create_engine
from .recorder import Recorder
from .schema import CallStatus, Turn, caller_key, login_failures, losses, statuses, turns

log = logging.getLogger("ivr.store")


class Store:
    """The line's call store: recording (through a Recorder) and the questions the line asks."""

    def __init__(self, engine: Engine, secret: bytes = b"", **recorder_options):
        self.engine = engine
        self.secret = secret
        self.recorder = Recorder(engine, secret, **recorder_options)
        self._quiet_until = 0.0

    @classmethod
    def open(cls, url: str, secret: bytes = b"", **recorder_options) -> Store:
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
        except IntegrityError:
            raise  # the database answered: a row that is there already (the caller decides)
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

        Raises StoreError (quickly) when the store cannot answer. The line's rule then
        (Line.may_text, docs/store.md): this worker's own count decides.
        """
        if not key:
            return 0
        with self._asking() as c:
            return c.execute(
                sa.select(sa.func.count()).select_from(turns)
                .where(turns.c.caller_key == key, turns.c.at >= since, turns.c.action == "sms_sent")
            ).scalar_one()

    def prune(self, before: datetime) -> int:
        """Delete the records older than `before` (see `prune`); returns how many rows went."""
        return prune(self.engine, before)


    # The person the caller could not reach (ivr/person.py): short writes and reads on the
    # call's path, refused at once (StoreError) while the database is failing.
    def keep_message(self, message: inbox.Message) -> bool:
        """Keep a recorded message; False when that recording is kept already."""
        try:
            with self._asking() as c:
                return inbox.keep_message(c, message)
        except IntegrityError:
            return False

    def drop_message(self, recording_sid: str) -> bool:
        """Forget the message of a recording too short or silent to keep."""
        with self._asking() as c:
            return inbox.drop_message(c, recording_sid)

    def request_callback(self, number: str, call_sid: str, step: int | None, at: datetime) -> bool:
        """Keep a call-back request for `number`, sealed; False when one is open already."""
        try:
            with self._asking() as c:
                return inbox.request_callback(c, self.secret, number, call_sid, step, at)
        except IntegrityError:
            return False

    def screened(self, call_sid: str, dial_call_sid: str, accepted: bool, at: datetime) -> None:
        """How the person answered the whisper of a transfer."""
        with self._asking() as c:
            inbox.screened(c, call_sid, dial_call_sid, accepted, at)

    def accepted(self, call_sid: str, dial_call_sid: str | None) -> bool:
        """Whether the person took that transfer (StoreError when the store cannot say)."""
        with self._asking() as c:
            return inbox.accepted(c, call_sid, dial_call_sid)


def prune(engine: Engine, before: datetime) -> int:
    """Delete turns, call statuses, losses and failed logins older than `before`; returns
    how many rows went."""
    with engine.begin() as c:
        gone = c.execute(turns.delete().where(turns.c.at < before)).rowcount
        gone += c.execute(statuses.delete().where(statuses.c.at < before)).rowcount
        gone += c.execute(losses.delete().where(losses.c.last_at < before)).rowcount
        gone += c.execute(login_failures.delete().where(login_failures.c.at < before)).rowcount
    return gone


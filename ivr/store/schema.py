"""The call store's records: the events the webhooks hand over, the tables they go to, and
the keyed hash that stands for a caller's number (never stored in the clear)."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

#: Longest SpeechResult kept: enough to see what callers say that the line did not take.
WORDS_LIMIT = 100


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
    #: Not a caller: the doctor's self-check, or a web phone trial call (ivr.checks).
    check: bool = False


@dataclass(frozen=True)
class CallStatus:
    """Twilio's status callback (POST /voice/status): how a call ended."""

    call_sid: str
    #: CallStatus: completed, busy, failed, no-answer, canceled.
    status: str
    #: CallDuration; None when Twilio sends none.
    duration_seconds: int | None
    at: datetime
    #: Not a caller's call (ivr.checks).
    check: bool = False


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
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    # Not "check": a reserved word in SQL, and the writer names columns in its COPY.
    sa.Column("is_check", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
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
    sa.Column("is_check", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Index("ix_call_statuses_at", "at"),
    sa.Index("ix_call_statuses_call", "call_sid"),
)

#: What a worker could not record, written by that worker once its database takes writes
#: again: the report states its own blind spots with it.
losses = sa.Table(
    "losses", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    #: When the loss was written.
    sa.Column("at", UTCDateTime(), nullable=False),
    #: The times of the first and last event lost (their own `at`).
    sa.Column("first_at", UTCDateTime(), nullable=False),
    sa.Column("last_at", UTCDateTime(), nullable=False),
    sa.Column("turns", sa.Integer, nullable=False),
    sa.Column("statuses", sa.Integer, nullable=False),
    #: host:pid of the worker that lost them.
    sa.Column("worker", sa.String(64), nullable=False),
    sa.Index("ix_losses_last_at", "last_at"),
)

#: Failed logins to /report, by address: shared by every worker, so a lockout holds across
#: them (ivr.report.guard). Only the last minutes matter; older rows are deleted.
login_failures = sa.Table(
    "login_failures", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_login_failures_address_at", "address", "at"),
)


# The person the caller could not reach (ivr/store/inbox.py). Messages and call-back requests
# never reuse an id (SQLite's AUTOINCREMENT; PostgreSQL's sequences never do): an operator
# closing a stale id must not close a newer request.
messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("call_sid", sa.String(64), nullable=False),
    sa.Column("caller_key", sa.String(64)),
    #: The step the caller was on when they asked for a person; None: the main menu.
    sa.Column("step", sa.SmallInteger),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("duration_seconds", sa.Integer, nullable=False),
    sa.Column("recording_sid", sa.String(64), nullable=False, unique=True),
    sa.Column("recording_url", sa.String(500), nullable=False),
    #: When the operator closed it (`ivr inbox done`); its recording stays until retention.
    sa.Column("done_at", UTCDateTime()),
    sa.Index("ix_messages_at", "at"),
    sqlite_autoincrement=True,
)

callbacks = sa.Table(
    "callbacks", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    #: The number's keyed hash: at most one open request per number (handled ones are deleted).
    sa.Column("caller_key", sa.String(64), nullable=False, unique=True),
    #: The number itself, encrypted (Fernet): only `ivr inbox` opens it.
    sa.Column("number_sealed", sa.Text, nullable=False),
    sa.Column("call_sid", sa.String(64), nullable=False),
    sa.Column("step", sa.SmallInteger),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_callbacks_at", "at"),
    sqlite_autoincrement=True,
)

#: How the person answered a screened transfer's whisper, for the <Dial action> to read back.
screenings = sa.Table(
    "screenings", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    #: The caller's call (the whisper's ParentCallSid) and the person's leg (its CallSid,
    #: the <Dial action>'s DialCallSid).
    sa.Column("call_sid", sa.String(64), nullable=False),
    sa.Column("dial_call_sid", sa.String(64), nullable=False),
    sa.Column("accepted", sa.Boolean, nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_screenings_call", "call_sid"),
    sa.Index("ix_screenings_at", "at"),
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
        "is_check": bool(t.check),
    }


def status_row(s: CallStatus) -> dict:
    duration = s.duration_seconds
    if not isinstance(duration, int) or not 0 <= duration < 2**31:
        duration = None
    return {"call_sid": _text(s.call_sid or "", 64), "status": _text(s.status or "", 16),
            "duration_seconds": duration, "at": s.at, "is_check": bool(s.check)}


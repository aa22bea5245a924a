"""What a caller who could not reach a person leaves for the operator: messages (recordings on
Twilio) and call-back requests (the number, encrypted), and how a screened transfer's person
answered the whisper.

A call-back number is the one caller number the store holds, and only sealed: Fernet
(AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key derived from IVR_SECRET_KEY
by HKDF with an `info` of its own, so it is independent of the other keys the secret gives
(the caller's keyed hash, Flask's and the web phone's signing keys). Fernet tokens differ on
every encryption, so the one open request per number is found by the keyed hash
(`caller_key`); a handled request is deleted, number and all.

    seal(secret, "+573001234567") -> token;  unseal(secret, token) -> "+573001234567"
    items(engine, secret) -> Items(callbacks=[...], messages=[...])   # `ivr inbox`
    close(engine, "c3")   # `ivr inbox done c3`
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, tzinfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .schema import callbacks, caller_key, messages, screenings, turns

#: HKDF's `info` for the call-back numbers' key: a purpose no other key of the secret shares.
SEAL_INFO = b"ivr callback number v1"
#: An inbox id: its kind's letter, then the row's id. The letters keep ids unambiguous
#: across both kinds: c3 is a call-back request, m3 a message.
CALLBACK, MESSAGE = "c", "m"
#: Turn actions the webhooks record (ivr/person.py): the report counts them.
MESSAGE_KEPT, CALLBACK_SAVED, DIAL_ACCEPTED = "message", "callback", "dial_accepted"


def _fernet(secret: bytes):
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if not secret:
        raise ValueError("sealing a number needs IVR_SECRET_KEY")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEAL_INFO).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: bytes, number: str) -> str:
    """`number` encrypted under the secret's call-back key (a different token every time)."""
    return _fernet(secret).encrypt(number.encode()).decode("ascii")


def unseal(secret: bytes, token: str) -> str | None:
    """The number sealed in `token`; None when this secret cannot open it (IVR_SECRET_KEY
    changed or unset since, or the token was altered)."""
    from cryptography.fernet import InvalidToken

    if not secret:
        return None
    try:
        return _fernet(secret).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        return None


# -- what the webhooks write (inside Store's short transactions) -----------------------------

@dataclass(frozen=True)
class Message:
    """A recorded message as Twilio reported it."""

    call_sid: str
    caller_key: str | None
    step: int | None
    at: datetime
    duration_seconds: int
    recording_sid: str
    recording_url: str


def keep_message(c: Connection, m: Message) -> bool:
    """Keep `m` unless its recording is kept already (the <Record action> and the recording
    status callback both report it, in either order); True when it was new. Two reports at
    the same moment: one insert wins, the other raises IntegrityError (`Store` takes it as
    "kept already")."""
    if c.execute(sa.select(messages.c.id).where(messages.c.recording_sid == m.recording_sid)).first():
        return False
    c.execute(messages.insert().values(
        call_sid=m.call_sid, caller_key=m.caller_key, step=m.step, at=m.at,
        duration_seconds=m.duration_seconds, recording_sid=m.recording_sid,
        recording_url=m.recording_url))
    return True


def drop_message(c: Connection, recording_sid: str) -> bool:
    """Forget the message of that recording (too short, silent); True if there was one."""
    return c.execute(messages.delete().where(messages.c.recording_sid == recording_sid)).rowcount > 0


def request_callback(c: Connection, secret: bytes, number: str, call_sid: str, step: int | None,
                     at: datetime) -> bool:
    """Keep a request to call `number` back, sealed; False when that number already has an
    open one (the keyed hash finds it: tokens never repeat). The same number from two calls
    at the same moment: the unique key lets one in, the other raises IntegrityError."""
    key = caller_key(secret, number)
    if key is None:
        raise ValueError("not a phone number")
    if c.execute(sa.select(callbacks.c.id).where(callbacks.c.caller_key == key)).first():
        return False
    c.execute(callbacks.insert().values(
        caller_key=key, number_sealed=seal(secret, number), call_sid=call_sid, step=step, at=at))
    return True


def screened(c: Connection, call_sid: str, dial_call_sid: str, accepted: bool, at: datetime) -> None:
    """The person answered the whisper of the transfer `dial_call_sid` of call `call_sid`."""
    c.execute(screenings.insert().values(call_sid=call_sid, dial_call_sid=dial_call_sid,
                                         accepted=accepted, at=at))


def accepted(c: Connection, call_sid: str, dial_call_sid: str | None) -> bool:
    """Whether the person took that transfer (pressed 1 in the whisper). Without a
    DialCallSid, any transfer of the call the person took counts."""
    where = [screenings.c.call_sid == call_sid, screenings.c.accepted.is_(True)]
    if dial_call_sid:
        where.append(screenings.c.dial_call_sid == dial_call_sid)
    return c.execute(sa.select(screenings.c.id).where(*where).limit(1)).first() is not None


# -- the operator's side (`ivr inbox`, retention) --------------------------------------------

@dataclass(frozen=True)
class Item:
    """One thing in the inbox: a call-back request (`number` set) or a message."""

    id: str
    at: datetime
    step: int | None
    number: str | None = None
    seconds: int | None = None
    recording_url: str | None = None

    @property
    def where(self) -> str:
        """Where the caller was: step:4, or menu."""
        return f"step:{self.step}" if self.step else "menu"


@dataclass(frozen=True)
class Items:
    callbacks: list[Item]
    messages: list[Item]


#: What `ivr inbox` shows when a sealed number cannot be opened.
UNREADABLE = "(cannot decrypt: was IVR_SECRET_KEY changed?)"


def items(engine: Engine, secret: bytes) -> Items:
    """The open call-back requests (numbers unsealed) and the messages not closed, oldest first."""
    with engine.connect() as c:
        asked = c.execute(sa.select(callbacks).order_by(callbacks.c.at, callbacks.c.id)).all()
        left = c.execute(sa.select(messages).where(messages.c.done_at.is_(None))
                         .order_by(messages.c.at, messages.c.id)).all()
    return Items(
        [Item(f"{CALLBACK}{r.id}", r.at, r.step, number=unseal(secret, r.number_sealed) or UNREADABLE)
         for r in asked],
        [Item(f"{MESSAGE}{r.id}", r.at, r.step, seconds=r.duration_seconds, recording_url=r.recording_url)
         for r in left],
    )


def waiting(engine: Engine) -> dict:
    """How many call-back requests and messages are open, and since when the oldest of them
    waits: what the inbox holds, without opening a number (for `ivr report`)."""
    with engine.connect() as c:
        asked, asked_first = c.execute(sa.select(sa.func.count(), sa.func.min(callbacks.c.at))).one()
        left, left_first = c.execute(sa.select(sa.func.count(), sa.func.min(messages.c.at))
                                     .where(messages.c.done_at.is_(None))).one()
    oldest = min((at for at in (asked_first, left_first) if at is not None), default=None)
    return {"callbacks": asked, "messages": left, "oldest": oldest.isoformat() if oldest else None}


def parse_id(text: str) -> tuple[str, int]:
    """(kind, row id) of an inbox id like c3 or m12; ValueError otherwise."""
    text = text.strip().lower()
    kind, number = text[:1], text[1:]
    if kind not in (CALLBACK, MESSAGE) or not number.isdigit() or len(number) > 18:
        raise ValueError(f"{text!r} is not an inbox id: c and a number for a call-back request, "
                         "m and a number for a message (see `ivr inbox`)")
    return kind, int(number)


def close(engine: Engine, item_id: str, now: datetime) -> bool:
    """Close an inbox item: a call-back request is deleted (its number with it); a message is
    marked done, its recording kept until retention. False when no such open item."""
    kind, row = parse_id(item_id)
    with engine.begin() as c:
        if kind == CALLBACK:
            return c.execute(callbacks.delete().where(callbacks.c.id == row)).rowcount > 0
        return c.execute(messages.update().where(messages.c.id == row, messages.c.done_at.is_(None))
                         .values(done_at=now)).rowcount > 0


def expired_recordings(engine: Engine, before: datetime) -> list[str]:
    """The recording SIDs of messages older than `before`: what retention deletes on Twilio."""
    with engine.connect() as c:
        return list(c.execute(sa.select(messages.c.recording_sid).where(messages.c.at < before)
                              .order_by(messages.c.at, messages.c.id)).scalars())


def forget(engine: Engine, before: datetime, recordings: list[str]) -> int:
    """Delete call-back requests and screenings older than `before`, and the messages of
    `recordings` (those whose recordings are gone from Twilio); how many rows went."""
    with engine.begin() as c:
        gone = c.execute(callbacks.delete().where(callbacks.c.at < before)).rowcount
        gone += c.execute(screenings.delete().where(screenings.c.at < before)).rowcount
        if recordings:
            gone += c.execute(messages.delete().where(messages.c.recording_sid.in_(recordings))).rowcount
    return gone


def by_day_and_step(engine: Engine, since: datetime | None = None, tz: tzinfo | None = None,
                    include_checks: bool = False) -> dict:
    """Messages kept, call-back requests made and transfers a person took, by day (in `tz`)
    and by where the caller was (step:4, menu), from the turns (so requests handled since, and
    deleted, still count): {"messages": {"2026-11-30": {"step:4": 2}}, "callbacks": {...},
    "accepted_transfers": {...}}. Checks (web phone trial calls, which keep nothing) are left
    out unless `include_checks`, as the report leaves them out."""
    kinds = {MESSAGE_KEPT: "messages", CALLBACK_SAVED: "callbacks", DIAL_ACCEPTED: "accepted_transfers"}
    query = sa.select(turns.c.at, turns.c.step, turns.c.action).where(turns.c.action.in_(kinds))
    if since is not None:
        query = query.where(turns.c.at >= since)
    if not include_checks:
        query = query.where(turns.c.is_check == sa.false())
    counts: dict = {kind: {} for kind in kinds.values()}
    with engine.connect() as c:
        for at, step, action in c.execute(query):
            day = (at.astimezone(tz) if tz else at).date().isoformat()
            where = f"step:{step}" if step else "menu"
            per_day = counts[kinds[action]].setdefault(day, {})
            per_day[where] = per_day.get(where, 0) + 1
    return {kind: dict(sorted(days.items())) for kind, days in counts.items()}

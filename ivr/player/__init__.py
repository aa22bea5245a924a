"""A TwiML player that walks a call the way Twilio's voice engine does.

One player serves the tests, `ivr call` and its scripted demos: it fetches the webhook,
runs <Say>, <Play>, <Pause>, <Gather>, <Dial> (with a screened <Number url>), <Record>,
<Redirect> and <Hangup> in order, and asks a `Keypad` for the caller's keys (how a dialled
person answers, what is said at a <Record>). Transports reach the app
in-process (Flask's test client) or over HTTP; both sign requests when given the auth
token, as Twilio does.

The parts: `events` (what happens, and the caller's input), `keypads` (the caller's side,
scripted), `transports`, `call` (the player itself), `legs` (<Dial> with the person's leg,
<Record>), and `terminal` (the caller at a
terminal, with sound: the only part that touches a terminal or a sound card).
"""

from ..flow import KEYS
from .call import Call, Catalog
from .events import (
    CONFIDENCE,
    DIAL_NOUNS,
    DIAL_OUTCOMES,
    DIAL_STATUSES,
    DIAL_TALK_SECONDS,
    DIAL_TIMEOUT,
    MAX_LOOPS,
    MAX_REQUESTS,
    PAUSE_SECONDS,
    TONE_SECONDS,
    TWIML_TYPES,
    CallerHangUp,
    Dial,
    DialOutcome,
    Event,
    Gather,
    PlayerError,
    Record,
    RecordOutcome,
    Reply,
    Speech,
    settings,
)
from .keypads import Keypad, ScriptedKeypad, parse_entry
from .transports import FlaskTransport, HttpTransport

__all__ = [
    "KEYS", "Call", "Catalog", "CONFIDENCE", "DIAL_NOUNS", "DIAL_OUTCOMES", "DIAL_STATUSES",
    "DIAL_TALK_SECONDS", "Record", "RecordOutcome",
    "DIAL_TIMEOUT", "MAX_LOOPS", "MAX_REQUESTS", "PAUSE_SECONDS", "TONE_SECONDS", "TWIML_TYPES",
    "CallerHangUp", "Dial", "DialOutcome", "Event", "Gather", "PlayerError", "Reply", "Speech",
    "settings", "Keypad", "ScriptedKeypad", "parse_entry", "FlaskTransport", "HttpTransport",
]

"""What happens on a simulated call: the player's events, the caller's input, and the
numbers it shares with the web phone's player (`settings()`)."""

from dataclasses import dataclass, field

# What a <Gather> may end on, and the keys a caller can press at all, in the order of a
# phone's keypad: the web phone lays its keypad out from them (`settings()`).
from ..flow import KEYS

#: Twilio's own cap on a call's TwiML fetches is far higher; a line that needs this many
#: turns without the caller doing anything is looping.
MAX_REQUESTS = 200
#: loop="0" means "until the call ends" to Twilio (up to 1000 times for <Say>); a demo
#: or a test only needs to see that it repeats.
MAX_LOOPS = 10
#: The Confidence sent with a phrase when the caller does not give one: Twilio sends a
#: score between 0.0 and 1.0 with every SpeechResult; a clear phrase scores about this.
CONFIDENCE = 0.92
#: <Play digits>: how long one tone lasts, and the pauses 'w' and 'W' make (seconds).
TONE_SECONDS = 0.2
PAUSE_SECONDS = {"w": 0.5, "W": 1.0}
#: Content types Twilio reads as TwiML.
TWIML_TYPES = ("text/xml", "application/xml", "text/html")

#: <Dial>: how long Twilio rings the other party when `timeout` is not given (seconds).
DIAL_TIMEOUT = 30
#: The DialCallStatus values Twilio sends to a <Dial action>; the player's default is the
#: first: nobody answers within the timeout.
DIAL_STATUSES = ("no-answer", "completed", "answered", "busy", "failed", "canceled")
#: How a dialled person can answer, as a script says it: a DialCallStatus, or "declined":
#: they answer but do not take the call (a screened transfer's whisper with no key, or
#: their voicemail). "completed" is a person who takes it (presses 1 in the whisper).
#: Twilio sends DialCallStatus completed for both.
DIAL_OUTCOMES = DIAL_STATUSES + ("declined",)
#: DialCallDuration of a simulated conversation ("completed"), in seconds.
DIAL_TALK_SECONDS = 60
#: DialCallDuration of a call answered and not taken (the whisper, then a hang-up).
DIAL_DECLINED_SECONDS = 5
#: What the person presses to take a screened call (the line's whisper asks for 1).
TAKE_KEY = "1"
#: <Record>: Twilio's defaults (https://www.twilio.com/docs/voice/twiml/record#attributes):
#: seconds of silence that end it, its longest length, the keys that end it.
RECORD_TIMEOUT, RECORD_MAX_LENGTH, RECORD_FINISH_KEYS = 5, 3600, "1234567890*#"
#: What a <Dial> may dial, as Twilio's nouns; <Conference>, <Queue> and the like are not played.
DIAL_NOUNS = ("Number", "Client", "Sip")


def settings() -> dict:
    """What the web phone's player (static/player.js) needs to play as this one does."""
    return {
        "keys": KEYS, "maxLoops": MAX_LOOPS, "maxRequests": MAX_REQUESTS,
        "confidence": CONFIDENCE, "toneSeconds": TONE_SECONDS, "pauseSeconds": PAUSE_SECONDS,
        "dialTimeout": DIAL_TIMEOUT, "dialStatuses": list(DIAL_STATUSES),
        "dialOutcomes": list(DIAL_OUTCOMES), "dialTalkSeconds": DIAL_TALK_SECONDS,
        "dialDeclinedSeconds": DIAL_DECLINED_SECONDS, "dialNouns": list(DIAL_NOUNS),
        "takeKey": TAKE_KEY, "recordTimeout": RECORD_TIMEOUT, "recordMaxLength": RECORD_MAX_LENGTH,
        "recordFinishKeys": RECORD_FINISH_KEYS,
    }


class PlayerError(Exception):
    """The call could not go on: an HTTP error, a transport failure or unplayable TwiML."""


class CallerHangUp(Exception):
    """Raised by a Keypad when the caller hangs up, at any point of the call."""


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes


@dataclass
class Event:
    """One thing that happened on the call, in order.

    kind: say | play | tones (<Play digits>) | pause | keys | speech (a phrase the
    <Gather> took; `confidence` set) | silence | ignored (keys a <Gather> did not take:
    past numDigits, or at one that listens for speech only) | unheard (a phrase at a
    <Gather> that listens for keys only) | dial (a <Dial>: `text` the numbers dialled,
    `caller_id` its callerId) | whisper (what the dialled person hears before the call is
    bridged: <Number url>'s <Say>/<Play>) | person (the screened person `taken` the call or
    `declined` it) | dialed (the dialled call ended: `text` its DialCallStatus, `seconds`
    its DialCallDuration when completed) | beep (<Record>'s) | record (`text` the seconds
    recorded, 0 for nothing) | hangup (the line hung up) | gone (the caller hung up) | end
    (the document ran out: Twilio hangs up). `audio` holds a <Play>'s bytes when the player
    fetched them.
    """

    kind: str
    text: str = ""
    prompt: str | None = None
    url: str | None = None
    audio: bytes | None = field(default=None, repr=False)
    confidence: float | None = None
    caller_id: str | None = None
    seconds: int | None = None


@dataclass(frozen=True)
class Speech:
    """A phrase the caller says, as Twilio's speech recognition hands it over."""

    text: str
    confidence: float = CONFIDENCE


@dataclass(frozen=True)
class DialOutcome:
    """How a dialled person answers: a DialCallStatus, or "declined" (DIAL_OUTCOMES)."""

    status: str


@dataclass(frozen=True)
class RecordOutcome:
    """What the caller says at a <Record>: that many seconds (0: nothing)."""

    seconds: int


@dataclass
class Record:
    """A <Record> under way: its longest length, the silence that ends it, its end keys."""

    max_length: int
    timeout: int
    finish_on_key: str


@dataclass
class Dial:
    """A <Dial> under way: what is dialled and how long it rings."""

    numbers: tuple
    caller_id: str | None
    timeout: int


@dataclass
class Gather:
    """A <Gather>'s input rules, as Twilio applies them."""

    num_digits: int | None
    finish_on_key: str
    timeout: int
    #: What it listens for: "dtmf", "speech" or both.
    input: tuple = ("dtmf",)

    @property
    def speech(self) -> bool:
        return "speech" in self.input

    @property
    def dtmf(self) -> bool:
        return "dtmf" in self.input

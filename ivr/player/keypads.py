"""The caller's side of a simulated call: what is pressed or said, and when."""

import re

from ..flow import KEYS
from .events import DIAL_OUTCOMES, Dial, DialOutcome, Event, Gather, PlayerError, Record, RecordOutcome, Speech


class Keypad:
    """The caller's side. Subclasses decide which keys are pressed or phrases said, and when.

    Input is keys (a string of one or more of KEYS) or a `Speech` phrase.

    Any method may raise CallerHangUp to end the call from the caller's side. Use a
    keypad with `with`: one at a terminal holds the terminal while the call lasts.
    """

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def heard(self, event: Event, barge_in: bool = False) -> "str | Speech":
        """A prompt (say, play, tones or pause) is playing; return input given during it.

        `barge_in` is True inside a <Gather>, where a key (or a phrase, if it listens for
        speech) stops the prompts and counts; elsewhere Twilio ignores input, so return ''.
        """
        return ""

    def begin(self, gather: Gather) -> bool:
        """The prompts of a <Gather> are over; False if the caller hangs up now."""
        return True

    def key(self, gather: Gather) -> "str | Speech | None":
        """Wait up to gather.timeout for the next key (or a phrase); None when none comes."""
        return None

    def unused(self) -> str:
        """Keys typed for this <Gather> that it did not take (past numDigits): dropped."""
        return ""

    def dial(self, dial: Dial) -> str | None:
        """A <Dial> rings someone: return how they answer (DIAL_OUTCOMES: a DialCallStatus,
        or "declined"), or None for the player's default, "no-answer" once dial.timeout has
        passed (wait it here)."""
        return None

    def record(self, record: Record) -> int:
        """A <Record> listens (after its beep): return how many seconds the caller speaks
        before ending it with a finish key (0: they say nothing)."""
        return 0


class ScriptedKeypad(Keypad):
    """Input from a script: one entry per <Gather>, given once its prompts end.

    An entry is the keys typed at that prompt ('5#' types two keys), '-' (or '') for
    silence, or a phrase said: 'say:siguiente' (Confidence CONFIDENCE) or
    'say@0.3:siguiente' (Confidence 0.3). A string script is comma-separated; '\\,'
    is a comma inside a phrase. When the script runs out at a <Gather> the caller hangs up.

    'dial:busy' (any of DIAL_OUTCOMES) is how the person a <Dial> rings answers: taken
    at a <Dial> when it is the next entry; a <Dial> with no such entry next gets
    "no-answer" and takes nothing. 'record:14' is a message of 14 seconds, taken at a
    <Record> when it is the next entry; a <Record> with none next records nothing. A dial
    or record entry met at a <Gather> is a PlayerError.
    """

    def __init__(self, script):
        if isinstance(script, str):
            script = [e.replace("\\,", ",") for e in re.split(r"(?<!\\),", script)] if script.strip() else []
        self.script = [parse_entry(s) for s in script]
        self.pending = []

    def begin(self, gather):
        if not self.script:
            return False
        entry = self.script.pop(0)
        if isinstance(entry, DialOutcome):
            raise PlayerError(f"the script says dial:{entry.status} where the line waits for keys,"
                              " not at a <Dial>")
        if isinstance(entry, RecordOutcome):
            raise PlayerError(f"the script says record:{entry.seconds} where the line waits for keys,"
                              " not at a <Record>")
        self.pending = [entry] if isinstance(entry, Speech) else list(entry)
        return True

    def dial(self, dial):
        if self.script and isinstance(self.script[0], DialOutcome):
            return self.script.pop(0).status
        return None

    def record(self, record):
        if self.script and isinstance(self.script[0], RecordOutcome):
            return self.script.pop(0).seconds
        return 0

    def key(self, gather):
        return self.pending.pop(0) if self.pending else None

    def unused(self) -> str:
        left, self.pending = "".join(p for p in self.pending if isinstance(p, str)), []
        return left


_SAY = re.compile(r"say(?:@(?P<confidence>[^:]*))?:(?P<text>.*)", re.S)


_RECORD = re.compile(r"record:\s*([0-9]{1,5})")


def parse_entry(entry: str) -> "str | Speech | DialOutcome | RecordOutcome":
    """One script entry: keys ('' for silence), a Speech, a DialOutcome ('dial:busy') or a
    RecordOutcome ('record:14'); ValueError when it is none of them."""
    entry = entry.strip()
    if entry.startswith("dial:"):
        status = entry[len("dial:"):].strip()
        if status not in DIAL_OUTCOMES:
            raise ValueError(f"{entry!r}: after 'dial:' comes one of {', '.join(DIAL_OUTCOMES)}")
        return DialOutcome(status)
    if entry.startswith("record:"):
        found = _RECORD.fullmatch(entry)
        if not found:
            raise ValueError(f"{entry!r}: after 'record:' comes the seconds spoken, like record:14")
        return RecordOutcome(int(found.group(1)))
    said = _SAY.fullmatch(entry)
    if said:
        text = " ".join(said["text"].split())
        if not text:
            raise ValueError(f"{entry!r} says nothing: give the words after 'say:'")
        raw = said["confidence"]
        if raw is None:
            return Speech(text)
        try:
            confidence = float(raw)
        except ValueError:
            confidence = -1.0
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"{entry!r}: the confidence after 'say@' is a number from 0 to 1")
        return Speech(text, confidence)
    if entry == "-":
        return ""
    if any(k not in KEYS for k in entry):
        raise ValueError(
            f"{entry!r} is not keys: use 0-9 * # per prompt, - for silence, say:words,"
            " dial:STATUS at a <Dial> or record:SECONDS at a <Record>"
        )
    return entry

"""The verbs that reach beyond the caller: <Dial> (with a screened <Number url>, the person's
own leg) and <Record> (a message, its action and Twilio's recording status callback).

Both players do the same (ivr/static/player.js; tests/player_cases.json holds the cases)."""

import uuid
from urllib.parse import urljoin

from .events import (
    DIAL_DECLINED_SECONDS,
    DIAL_NOUNS,
    DIAL_OUTCOMES,
    DIAL_STATUSES,
    DIAL_TALK_SECONDS,
    DIAL_TIMEOUT,
    RECORD_FINISH_KEYS,
    RECORD_MAX_LENGTH,
    RECORD_TIMEOUT,
    TAKE_KEY,
    Dial,
    Event,
    PlayerError,
    Record,
)
from .keypads import Keypad

#: Verbs a document run on the person's leg may not hold ("TwiML documents executed in
#: this manner are not allowed to contain the <Dial> verb":
#: https://www.twilio.com/docs/voice/twiml/number#attributes-url).
NOT_ON_A_LEG = ("Dial", "Record")


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class PersonKeypad(Keypad):
    """The screened person: presses TAKE_KEY at the whisper's first <Gather>, or nothing."""

    def __init__(self, takes: bool):
        self.takes = takes

    def key(self, gather):
        if self.takes:
            self.takes = False
            return TAKE_KEY
        return None


def dial(call, verb, url, int_of, method_of):
    """Ring the <Dial>'s numbers; the keypad says how the person answers. A screened
    <Number url> runs its document on the person's leg first: the call is bridged only when
    that document ends without <Hangup>. Return the action request (DialCallStatus, the
    leg's DialCallSid, DialCallDuration when completed), or None: without an action Twilio
    goes on with the next verb."""
    numbers, screens = [], []
    if (verb.text or "").strip():
        numbers.append(verb.text.strip())
    for noun in verb:
        if noun.tag not in DIAL_NOUNS:
            raise PlayerError(f"cannot play <{noun.tag}> inside <Dial> (in {url})")
        target = (noun.text or "").strip()
        if not target:
            raise PlayerError(f"<{noun.tag}> without a number or name in <Dial> (in {url})")
        numbers.append(target)
        if noun.get("url"):
            screens.append((method_of(noun, url), urljoin(url, noun.get("url")), target))
    if not numbers:
        raise PlayerError(f"<Dial> without anything to dial in {url}")
    found = Dial(tuple(numbers), verb.get("callerId") or None, int_of(verb, "timeout", DIAL_TIMEOUT, url))
    method = method_of(verb, url)
    call._emit(Event("dial", ", ".join(numbers), caller_id=found.caller_id))
    outcome = call.keypad.dial(found) or DIAL_STATUSES[0]
    if outcome not in DIAL_OUTCOMES:
        raise PlayerError(f"a dialled call cannot end {outcome!r}: one of {', '.join(DIAL_OUTCOMES)}")
    leg_sid, status, seconds = _sid("CA"), outcome, None
    if outcome in ("completed", "declined"):
        # Twilio's DialCallStatus is the person's leg: completed whether or not they took it.
        status, taken = "completed", outcome == "completed"
        if screens:
            taken = whisper(call, *screens[0], leg_sid, found.caller_id, outcome == "completed")
            call._emit(Event("person", "taken" if taken else "declined"))
        seconds = DIAL_TALK_SECONDS if taken else DIAL_DECLINED_SECONDS
    call._emit(Event("dialed", status, seconds=seconds))
    action = verb.get("action")
    if not action:
        return None
    params = {"DialCallStatus": status, "DialCallSid": leg_sid}
    if seconds is not None:
        params["DialCallDuration"] = str(seconds)
    return method, urljoin(url, action), params


def whisper(call, method, url, number, leg_sid, caller_id, takes) -> bool:
    """Run the <Number url> document on the person's leg (what they hear shows as `whisper`
    events); True when it ends without <Hangup>: the two are bridged."""
    leg = type(call)(
        call.transport, url=url, keypad=PersonKeypad(takes), catalog=call.catalog,
        auth_token=call.auth_token, fetch_audio=call.fetch_audio, on_document=call.on_document,
        caller=caller_id or call.line_number, line_number=number)
    leg.sid, leg.parent = leg_sid, call
    leg.first = (method, url)
    leg.run()
    return leg.ended_by == "end"


def record(call, verb, url, int_of, method_of):
    """A <Record>: the beep, then what the keypad says is spoken. Something recorded: the
    action request (RecordingUrl, RecordingSid, RecordingDuration, Digits when a finish key
    ended it), with the recording status callback after it. Nothing recorded: no action
    request ("if Twilio receives an empty recording, it will not make a request to the
    action URL", https://www.twilio.com/docs/voice/twiml/record#attributes-action): None,
    the next verb plays; the callback says `absent` when asked to."""
    finish = verb.get("finishOnKey", RECORD_FINISH_KEYS)
    if any(k not in RECORD_FINISH_KEYS for k in finish):
        raise PlayerError(f"<Record finishOnKey=\"{finish}\">: keys are 0-9 * # (in {url})")
    rec = Record(int_of(verb, "maxLength", RECORD_MAX_LENGTH, url, minimum=1),
                 int_of(verb, "timeout", RECORD_TIMEOUT, url, minimum=1), finish)
    if (verb.get("playBeep") or "true").lower() != "false":
        call._emit(Event("beep"))
    seconds = min(max(int(call.keypad.record(rec) or 0), 0), rec.max_length)
    call._emit(Event("record", str(seconds)))
    sid = _sid("RE")
    recording = {"RecordingSid": sid, "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/"
                 f"{call.account_sid}/Recordings/{sid}", "RecordingDuration": str(seconds)}
    callback = verb.get("recordingStatusCallback")
    # Twilio's default is `completed` alone; several events are separated by spaces.
    events = (verb.get("recordingStatusCallbackEvent") or "completed").replace(",", " ").split()
    status = "completed" if seconds else "absent"
    if callback and status in events:
        cb_method = (verb.get("recordingStatusCallbackMethod") or "POST").upper()
        call.pending.append((cb_method, urljoin(url, callback), {
            **recording, "RecordingStatus": status, "RecordingChannels": "1",
            "RecordingSource": "RecordVerb"}))
    if not seconds:
        call.notify_pending()
        return None
    params = dict(recording)
    if finish and seconds < rec.max_length:  # the caller ends it with a finish key
        params["Digits"] = "#" if "#" in finish else finish[0]
    return method_of(verb, url), urljoin(url, verb.get("action") or url), params

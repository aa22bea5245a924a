"""A TwiML player that walks a call the way Twilio's voice engine does.

One player serves the tests, `ivr call` and its scripted demos: it fetches the webhook,
runs <Say>, <Play>, <Pause>, <Gather>, <Dial>, <Redirect> and <Hangup> in order, and asks a
`Keypad` for the caller's keys (and how a dialled person answers). Transports reach the app in-process (Flask's test client)
or over HTTP; both sign requests when given the auth token, as Twilio does.

Nothing here touches a terminal or a sound card: the interactive caller is a Keypad
in `ivr.terminal`.
"""

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from twilio.request_validator import RequestValidator

# What a <Gather> may end on, and the keys a caller can press at all, in the order of a
# phone's keypad: the web phone lays its keypad out from them (`settings()`).
from .flow import KEYS

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
#: DialCallDuration of a simulated conversation ("completed"), in seconds.
DIAL_TALK_SECONDS = 60
#: What a <Dial> may dial, as Twilio's nouns; <Conference>, <Queue> and the like are not played.
DIAL_NOUNS = ("Number", "Client", "Sip")

_TONES = re.compile(r"[0-9*#wW]+")


def settings() -> dict:
    """What the web phone's player (static/player.js) needs to play as this one does."""
    return {
        "keys": KEYS, "maxLoops": MAX_LOOPS, "maxRequests": MAX_REQUESTS,
        "confidence": CONFIDENCE, "toneSeconds": TONE_SECONDS, "pauseSeconds": PAUSE_SECONDS,
        "dialTimeout": DIAL_TIMEOUT, "dialStatuses": list(DIAL_STATUSES),
        "dialTalkSeconds": DIAL_TALK_SECONDS, "dialNouns": list(DIAL_NOUNS),
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
    `caller_id` its callerId) | dialed (the dialled call ended: `text` its DialCallStatus,
    `seconds` its DialCallDuration when completed) | hangup (the line hung up) | gone (the
    caller hung up) | end (the document ran out: Twilio hangs up). `audio` holds a <Play>'s
    bytes when the player fetched them.
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
    """How a dialled person answers: a DialCallStatus (DIAL_STATUSES)."""

    status: str


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


class Catalog:
    """Names what is heard: maps <Say> text and <Play> files back to prompt ids.

    Built from the content file and the audio manifest, so a transcript shows the words
    of a <Play> too.
    """

    def __init__(self, content=None, manifest=None):
        self.by_say = {}
        self.by_file = {}
        if content is not None:
            self.by_say = {p.say: p.id for p in content.prompts.values()}
        for table in ("prompts", "slow"):  # the normal files and the slow ones
            for pid, entry in ((manifest or {}).get(table) or {}).items():
                if isinstance(entry, dict) and entry.get("file"):
                    text = entry.get("text") or (content[pid].say if content and pid in content.prompts else "")
                    self.by_file[entry["file"]] = (pid, text)

    def say(self, text: str) -> str | None:
        return self.by_say.get(" ".join(text.split()))

    def play(self, url: str) -> tuple[str | None, str]:
        name = Path(urlsplit(url).path).name
        pid, text = self.by_file.get(name, (None, ""))
        return pid, text or f"[audio {name}]"


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
        """A <Dial> rings someone: return their DialCallStatus (DIAL_STATUSES), or None for
        the player's default, "no-answer" once dial.timeout has passed (wait it here)."""
        return None


class ScriptedKeypad(Keypad):
    """Input from a script: one entry per <Gather>, given once its prompts end.

    An entry is the keys typed at that prompt ('5#' types two keys), '-' (or '') for
    silence, or a phrase said: 'say:siguiente' (Confidence CONFIDENCE) or
    'say@0.3:siguiente' (Confidence 0.3). A string script is comma-separated; '\\,'
    is a comma inside a phrase. When the script runs out at a <Gather> the caller hangs up.

    'dial:busy' (any of DIAL_STATUSES) is how the person a <Dial> rings answers: taken
    at a <Dial> when it is the next entry; a <Dial> with no such entry next gets
    "no-answer" and takes nothing. A dial entry met at a <Gather> is a PlayerError.
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
        self.pending = [entry] if isinstance(entry, Speech) else list(entry)
        return True

    def dial(self, dial):
        if self.script and isinstance(self.script[0], DialOutcome):
            return self.script.pop(0).status
        return None

    def key(self, gather):
        return self.pending.pop(0) if self.pending else None

    def unused(self) -> str:
        left, self.pending = "".join(p for p in self.pending if isinstance(p, str)), []
        return left


_SAY = re.compile(r"say(?:@(?P<confidence>[^:]*))?:(?P<text>.*)", re.S)


def parse_entry(entry: str) -> "str | Speech | DialOutcome":
    """One script entry: keys ('' for silence), a Speech or a DialOutcome ('dial:busy');
    ValueError when it is none of them."""
    entry = entry.strip()
    if entry.startswith("dial:"):
        status = entry[len("dial:"):].strip()
        if status not in DIAL_STATUSES:
            raise ValueError(f"{entry!r}: after 'dial:' comes one of {', '.join(DIAL_STATUSES)}")
        return DialOutcome(status)
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
            " or dial:STATUS at a <Dial>"
        )
    return entry


class FlaskTransport:
    """Requests go to the app in-process, through Flask's test client.

    The app answers for the origin (scheme, host, port) of the call's first URL only:
    a URL elsewhere would need a real server, so it is an error, not a silent detour.
    """

    def __init__(self, app):
        self.client = app.test_client()
        self.origin = None

    def request(self, method, url, params, headers):
        origin = urlsplit(url)[:2]
        if self.origin is None:
            self.origin = origin
        elif origin != self.origin:
            raise PlayerError(
                f"{url} is not on {'://'.join(self.origin)}, the app this call runs in-process;"
                " call a server with --url to follow it"
            )
        r = self.client.open(url, method=method, data=params or None, headers=headers)
        try:
            return Reply(r.status_code, r.content_type or "", r.get_data())
        finally:
            r.close()

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HttpTransport:
    """Requests go over HTTP to a running server. Close it (or use `with`) when done."""

    def __init__(self, timeout=15):
        import requests

        self.session = requests.Session()
        #: Twilio gives up on a webhook after 15 s, too.
        self.timeout = timeout

    def request(self, method, url, params, headers):
        import requests

        try:
            r = self.session.request(
                method, url, data=params or None, headers=headers, timeout=self.timeout
            )
        except requests.Timeout:
            raise PlayerError(f"cannot reach {_host(url)}: no answer within {self.timeout} s") from None
        except requests.RequestException as e:
            raise PlayerError(f"cannot reach {_host(url)}: {_why(e)}") from None
        return Reply(r.status_code, r.headers.get("Content-Type", ""), r.content)

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _host(url) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _why(e) -> str:
    """A requests failure in a few words (its own message is a nested repr)."""
    text = str(e)
    if "Connection refused" in text or "ConnectionRefused" in text:
        return "connection refused (is the server running, on that port?)"
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return "unknown host name"
    if "SSL" in text:
        return "TLS handshake failed"
    return type(e).__name__


def _int(verb, name, default, url, minimum=0):
    """An integer attribute, or a PlayerError naming it."""
    raw = verb.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise PlayerError(f"<{verb.tag} {name}=\"{raw}\"> is not a whole number >= {minimum} (in {url})")
    return value


def _method(verb, url) -> str:
    method = (verb.get("method") or "POST").upper()
    if method not in ("GET", "POST"):
        raise PlayerError(f"<{verb.tag} method=\"{verb.get('method')}\">: Twilio only uses GET or POST (in {url})")
    return method


@dataclass
class Call:
    """One call through the line. `run()` plays it to the end and returns the events."""

    transport: object
    url: str = "http://localhost/voice"
    keypad: Keypad = field(default_factory=Keypad)
    catalog: Catalog = field(default_factory=Catalog)
    auth_token: str | None = None
    fetch_audio: bool = True
    on_event: object = None
    on_document: object = None
    caller: str = "+573001234567"
    line_number: str = "+576015550100"

    def __post_init__(self):
        self.events: list[Event] = []
        self.sid = "CA" + uuid.uuid4().hex
        self.requests = 0
        self._audio: dict[str, bytes] = {}

    # -- what the tests and the CLI read --------------------------------------------------
    def prompts(self) -> list[str | None]:
        """Prompt ids heard, in order (None for audio or text not in the catalog)."""
        return [e.prompt for e in self.events if e.kind in ("say", "play")]

    def turns(self) -> list[tuple[tuple, str | None]]:
        """(prompts heard, keys pressed, 'say:' + a phrase said, or None for silence) per
        wait for input."""
        turns, heard = [], []
        for e in self.events:
            if e.kind in ("say", "play"):
                heard.append(e.prompt)
            elif e.kind in ("keys", "silence", "speech"):
                said = {"keys": e.text, "speech": "say:" + e.text}.get(e.kind)
                turns.append((tuple(heard), said))
                heard = []
        if heard:
            turns.append((tuple(heard), None))
        return turns

    @property
    def ended_by(self) -> str | None:
        last = self.events[-1].kind if self.events else None
        return last if last in ("hangup", "gone", "end") else None

    # -- playing ----------------------------------------------------------------------
    def run(self) -> "Call":
        method, url, params = "POST", self.url, {}
        try:
            while url is not None:
                root = self._fetch(method, url, params)
                method, url, params = self._execute(root, url)
        except CallerHangUp:
            self._emit(Event("gone"))
        return self

    def _emit(self, event: Event, barge_in: bool = False) -> "str | Speech":
        self.events.append(event)
        if self.on_event:
            self.on_event(event)
        if event.kind in ("say", "play", "tones", "pause"):
            return self.keypad.heard(event, barge_in) or ""
        return ""

    def _params(self, extra) -> dict:
        return {
            "CallSid": self.sid, "AccountSid": "AC" + "0" * 32,
            "From": self.caller, "Caller": self.caller,
            "To": self.line_number, "Called": self.line_number,
            # Twilio's first webhook of an incoming call comes while it still rings.
            "CallStatus": "ringing" if self.requests == 1 else "in-progress",
            "Direction": "inbound", "ApiVersion": "2010-04-01", **extra,
        }

    def _fetch(self, method, url, extra):
        self.requests += 1
        if self.requests > MAX_REQUESTS:
            raise PlayerError(f"the call did not end after {MAX_REQUESTS} requests: the line loops")
        params = self._params(extra)
        if method == "GET":
            # Twilio puts a GET's parameters in the URL, and signs that URL alone.
            url, params = url + ("&" if "?" in url else "?") + urlencode(params), {}
        headers = {}
        if self.auth_token:
            headers["X-Twilio-Signature"] = RequestValidator(self.auth_token).compute_signature(
                url, params
            )
        reply = self.transport.request(method, url, params, headers)
        if reply.status == 403:
            if self.auth_token:
                why = "the server refused the signature — is TWILIO_AUTH_TOKEN the same on both sides?"
            else:
                why = ("the server refused the request — if it checks signatures, set"
                       " TWILIO_AUTH_TOKEN to its token")
            raise PlayerError(f"{method} {url} answered 403: {why}")
        if reply.status != 200:
            raise PlayerError(f"{method} {url} answered HTTP {reply.status}")
        kind = reply.content_type.split(";")[0].strip().lower()
        if kind not in TWIML_TYPES:
            raise PlayerError(f"{method} {url} answered {kind or 'no content type'}, not TwiML")
        if self.on_document:
            self.on_document(url, reply.body)
        try:
            root = ET.fromstring(reply.body)
        except ET.ParseError as e:
            raise PlayerError(f"{method} {url} answered malformed XML ({e})") from None
        if root.tag != "Response":
            raise PlayerError(f"{method} {url} answered <{root.tag}>, not a TwiML <Response>")
        return root

    def _execute(self, root, url):
        """Run a document's verbs; return the next (method, url, params) or url None at the end."""
        for verb in root:
            if verb.tag in ("Say", "Play", "Pause"):
                self._speak(verb, url)
            elif verb.tag == "Gather":
                nxt = self._gather(verb, url)
                if nxt:
                    return nxt
            elif verb.tag == "Dial":
                nxt = self._dial(verb, url)
                if nxt:
                    return nxt
            elif verb.tag == "Redirect":
                target = (verb.text or "").strip()
                if not target:
                    raise PlayerError(f"<Redirect> without a URL in {url}")
                return _method(verb, url), urljoin(url, target), {}
            elif verb.tag == "Hangup":
                self._emit(Event("hangup"))
                return None, None, None
            else:
                raise PlayerError(f"cannot play <{verb.tag}> (in {url})")
        self._emit(Event("end"))
        return None, None, None

    def _dial(self, verb, url):
        """Ring the <Dial>'s numbers; the keypad says how the call went. Return the action
        request (DialCallStatus, and DialCallDuration when completed), or None: without an
        action Twilio goes on with the next verb."""
        numbers = []
        if (verb.text or "").strip():
            numbers.append(verb.text.strip())
        for noun in verb:
            if noun.tag not in DIAL_NOUNS:
                raise PlayerError(f"cannot play <{noun.tag}> inside <Dial> (in {url})")
            target = (noun.text or "").strip()
            if not target:
                raise PlayerError(f"<{noun.tag}> without a number or name in <Dial> (in {url})")
            numbers.append(target)
        if not numbers:
            raise PlayerError(f"<Dial> without anything to dial in {url}")
        dial = Dial(tuple(numbers), verb.get("callerId") or None,
                    _int(verb, "timeout", DIAL_TIMEOUT, url))
        method = _method(verb, url)
        self._emit(Event("dial", ", ".join(numbers), caller_id=dial.caller_id))
        status = self.keypad.dial(dial) or DIAL_STATUSES[0]
        if status not in DIAL_STATUSES:
            raise PlayerError(f"a dialled call cannot end {status!r}: one of {', '.join(DIAL_STATUSES)}")
        seconds = DIAL_TALK_SECONDS if status == "completed" else None
        self._emit(Event("dialed", status, seconds=seconds))
        action = verb.get("action")
        if not action:
            return None
        params = {"DialCallStatus": status, "DialCallSid": "CA" + uuid.uuid4().hex}
        if seconds is not None:
            params["DialCallDuration"] = str(seconds)
        return method, urljoin(url, action), params

    def _speak(self, verb, url, rules=None) -> "str | Speech":
        """Play one <Say>/<Play>/<Pause> (all its loops) of a <Gather> (`rules`) or not;
        return the input that barged in ('' if none)."""
        if verb.tag == "Pause":
            event = Event("pause", str(_int(verb, "length", 1, url)))
            loops = 1
        else:
            loops = _int(verb, "loop", 1, url)
            loops = min(loops or MAX_LOOPS, MAX_LOOPS)
        if verb.tag == "Say":
            # itertext: SSML tags inside <Say> (<break>, <prosody>...) hold words too.
            text = " ".join("".join(verb.itertext()).split())
            if not text:
                raise PlayerError(f"<Say> without words in {url}")
            event = Event("say", text, self.catalog.say(text))
        elif verb.tag == "Play" and verb.get("digits"):
            tones = verb.get("digits")
            if not _TONES.fullmatch(tones):
                raise PlayerError(f"<Play digits=\"{tones}\">: only 0-9 * # w W are tones (in {url})")
            event = Event("tones", tones)
        elif verb.tag == "Play":
            target = (verb.text or "").strip()
            if not target:
                raise PlayerError(f"<Play> without a URL or digits in {url}")
            target = urljoin(url, target)
            pid, text = self.catalog.play(target)
            event = Event("play", text, pid, target, self._fetch_audio(target))
        for _ in range(loops):
            got = self._emit(Event(event.kind, event.text, event.prompt, event.url, event.audio),
                             barge_in=rules is not None)
            if rules is not None and self._takes(rules, got):
                return got  # barge-in stops the loops too
        return ""

    def _takes(self, rules, got) -> bool:
        """True if the <Gather> takes this input; input it does not hear is said so."""
        if isinstance(got, Speech):
            if rules.speech:
                return True
            self._emit(Event("unheard", got.text, confidence=got.confidence))
        elif got:
            if rules.dtmf:
                return True
            self._emit(Event("ignored", got))
        return False

    def _fetch_audio(self, url) -> bytes | None:
        """GET a <Play> file as Twilio does (once per URL); a failure ends the call."""
        if not self.fetch_audio:
            return None
        if url not in self._audio:
            reply = self.transport.request("GET", url, None, {})
            if reply.status != 200:
                raise PlayerError(f"<Play> {url} answered HTTP {reply.status}")
            kind = reply.content_type.split(";")[0].strip().lower()
            if not kind.startswith("audio/"):
                raise PlayerError(f"<Play> {url} answered {kind or 'no content type'}, not audio")
            self._audio[url] = reply.body
        return self._audio[url]

    def _gather(self, verb, url):
        """Run a <Gather>; return the action request, or None to fall through."""
        listens = tuple((verb.get("input") or "dtmf").split())
        if not listens or any(i not in ("dtmf", "speech") for i in listens):
            raise PlayerError(f"<Gather input=\"{verb.get('input')}\">: Twilio listens for dtmf, speech or both (in {url})")
        finish = verb.get("finishOnKey", "#")
        if len(finish) > 1 or (finish and finish not in KEYS):
            raise PlayerError(f"<Gather finishOnKey=\"{finish}\"> must be one of 0-9 * # or empty (in {url})")
        rules = Gather(
            _int(verb, "numDigits", None, url, minimum=1), finish, _int(verb, "timeout", 5, url),
            listens,
        )
        method = _method(verb, url)
        got = ""
        for child in verb:
            if child.tag not in ("Say", "Play", "Pause"):
                raise PlayerError(f"cannot play <{child.tag}> inside <Gather> (in {url})")
            got = self._speak(child, url, rules)
            if got:
                break  # barge-in: the input stops the prompts
        if not self.keypad.begin(rules):
            raise CallerHangUp
        speech = got if isinstance(got, Speech) else None
        queue = list(got) if isinstance(got, str) else []
        digits = finished = ""
        while speech is None:
            if not queue:
                got = self.keypad.key(rules)
                if got is None:
                    break  # timeout: Twilio submits what it has
                if not self._takes(rules, got):
                    continue
                if isinstance(got, Speech):
                    speech = got
                    break
                queue = list(got)
            key = queue.pop(0)
            if rules.finish_on_key and key == rules.finish_on_key:
                finished = key
                break
            digits += key
            if rules.num_digits and len(digits) >= rules.num_digits:
                break
        if speech is not None:
            self._emit(Event("speech", speech.text, confidence=speech.confidence))
        elif digits or finished:
            self._emit(Event("keys", digits + finished))
        else:
            self._emit(Event("silence"))
        dropped = "".join(queue) + self.keypad.unused()
        if dropped:
            self._emit(Event("ignored", dropped))
        if speech is not None:
            # A phrase: Twilio sends what it heard and how sure it is, and no Digits.
            params = {"SpeechResult": speech.text, "Confidence": f"{speech.confidence:g}"}
        elif digits or verb.get("actionOnEmptyResult", "false").lower() == "true":
            # Keys: Digits without the finish key, and FinishedOnKey, empty when the
            # <Gather> ended on numDigits or the timeout (as Twilio sends it).
            params = {"Digits": digits, "FinishedOnKey": finished}
        else:
            # No input (a lone finishOnKey is none): fall through to the next verb.
            return None
        action = urljoin(url, verb.get("action") or url)
        return method, action, params

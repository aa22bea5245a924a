"""The call: fetch a webhook, run its TwiML verb by verb as Twilio's voice engine does,
ask the Keypad for the caller's input, and follow <Gather action>, <Dial action> and
<Redirect> until someone hangs up."""

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from twilio.request_validator import RequestValidator

from ..flow import KEYS
from . import legs
from .events import (
    MAX_LOOPS,
    MAX_REQUESTS,
    TWIML_TYPES,
    CallerHangUp,
    Event,
    Gather,
    PlayerError,
    Speech,
)
from .keypads import Keypad

_TONES = re.compile(r"[0-9*#wW]+")


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

    account_sid: str = "AC" + "0" * 32

    def __post_init__(self):
        self.events: list[Event] = []
        self.sid = "CA" + uuid.uuid4().hex
        self.requests = 0
        self._audio: dict[str, bytes] = {}
        #: On a person's leg (a screened transfer): the caller's call, whose transcript
        #: shows what the person hears; and the leg's first request.
        self.parent: Call | None = None
        self.first = ("POST", self.url)
        #: Status callbacks Twilio sends once the current request is answered.
        self.pending: list[tuple[str, str, dict]] = []

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
        (method, url), params = self.first, {}
        try:
            while url is not None:
                root = self._fetch(method, url, params)
                self.notify_pending()
                method, url, params = self._execute(root, url)
        except CallerHangUp:
            self._emit(Event("gone"))
        return self

    def _emit(self, event: Event, barge_in: bool = False) -> "str | Speech":
        if self.parent is not None and event.kind in ("say", "play"):
            # What the person hears on their leg shows in the caller's call as the whisper.
            self.parent._emit(Event("whisper", event.text, event.prompt, event.url, event.audio))
        self.events.append(event)
        if self.on_event:
            self.on_event(event)
        if event.kind in ("say", "play", "tones", "pause"):
            return self.keypad.heard(event, barge_in) or ""
        return ""

    def _params(self, extra) -> dict:
        if self.parent is not None:  # the person's leg, which the caller's call made
            return {
                "CallSid": self.sid, "ParentCallSid": self.parent.sid, "AccountSid": self.account_sid,
                "From": self.caller, "To": self.line_number, "CallStatus": "in-progress",
                "Direction": "outbound-dial", "ApiVersion": "2010-04-01", **extra,
            }
        return {
            "CallSid": self.sid, "AccountSid": self.account_sid,
            "From": self.caller, "Caller": self.caller,
            "To": self.line_number, "Called": self.line_number,
            # Twilio's first webhook of an incoming call comes while it still rings.
            "CallStatus": "ringing" if self.requests == 1 else "in-progress",
            "Direction": "inbound", "ApiVersion": "2010-04-01", **extra,
        }

    def _send(self, method, url, extra):
        """A request as Twilio makes it (its parameters, signed); the reply."""
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
        return url, self.transport.request(method, url, params, headers)

    def notify_pending(self) -> None:
        """Send the status callbacks due (Twilio reads no TwiML from them): a refusal is an
        error, as Twilio's debugger would report it."""
        while self.pending:
            method, url, extra = self.pending.pop(0)
            url, reply = self._send(method, url, extra)
            if not 200 <= reply.status < 300:
                raise PlayerError(f"the status callback {method} {url} answered HTTP {reply.status}")

    def _fetch(self, method, url, extra):
        url, reply = self._send(method, url, extra)
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
            elif verb.tag in legs.NOT_ON_A_LEG and self.parent is not None:
                raise PlayerError(f"<{verb.tag}> in a document run on a dialled person's leg (in {url})")
            elif verb.tag in ("Dial", "Record"):
                run = legs.dial if verb.tag == "Dial" else legs.record
                nxt = run(self, verb, url, _int, _method)
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
            raise PlayerError(f"<Gather input=\"{verb.get('input')}\">: Twilio listens for dtmf, speech or both "
                              f"(in {url})")
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

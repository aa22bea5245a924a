"""A TwiML player that walks a call the way Twilio's voice engine does.

One player serves the tests, `ivr call` and its scripted demos: it fetches the webhook,
runs <Say>, <Play>, <Pause>, <Gather>, <Redirect> and <Hangup> in order, and asks a
`Keypad` for the caller's keys. Transports reach the app in-process (Flask's test client)
or over HTTP; both sign requests when given the auth token, as Twilio does.
"""

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from twilio.request_validator import RequestValidator

#: Twilio's own cap on a call's TwiML fetches is far higher; a line that needs this many
#: turns without the caller doing anything is looping.
MAX_REQUESTS = 200


class PlayerError(Exception):
    """The call could not go on: an HTTP error, a transport failure or unplayable TwiML."""


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes


@dataclass
class Event:
    """One thing that happened on the call, in order.

    kind: say | play | pause | keys | silence | hangup (the line hung up) |
    gone (the caller hung up) | end (the document ran out: Twilio hangs up).
    """

    kind: str
    text: str = ""
    prompt: str | None = None
    url: str | None = None


@dataclass
class Gather:
    """A <Gather>'s input rules, as Twilio applies them."""

    num_digits: int | None
    finish_on_key: str
    timeout: int


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
        for pid, entry in ((manifest or {}).get("prompts") or {}).items():
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
    """The caller's side. Subclasses decide which keys are pressed, and when."""

    def heard(self, event: Event) -> str:
        """A prompt is playing; return a key pressed during it ('' for none)."""
        return ""

    def begin(self, gather: Gather) -> bool:
        """The prompts of a <Gather> are over; False if the caller hangs up now."""
        return True

    def key(self, gather: Gather) -> str | None:
        """Wait up to gather.timeout for the next key; None when none comes."""
        return None


class ScriptedKeypad(Keypad):
    """Keys from a script: one entry per <Gather>, typed once its prompts end.

    An entry is the keys typed at that prompt ('5#' types two keys) or '-' (or '')
    for silence. When the script runs out the caller hangs up.
    """

    def __init__(self, script):
        if isinstance(script, str):
            script = script.split(",") if script.strip() else []
        self.script = [s.strip() for s in script]
        self.pending = []

    def begin(self, gather):
        if not self.script:
            return False
        entry = self.script.pop(0)
        self.pending = list("" if entry == "-" else entry)
        return True

    def key(self, gather):
        return self.pending.pop(0) if self.pending else None


class FlaskTransport:
    """Requests go to the app in-process, through Flask's test client."""

    def __init__(self, app):
        self.client = app.test_client()

    def request(self, method, url, params, headers):
        r = self.client.open(url, method=method, data=params or None, headers=headers)
        try:
            return Reply(r.status_code, r.content_type or "", r.get_data())
        finally:
            r.close()


class HttpTransport:
    """Requests go over HTTP to a running server."""

    def __init__(self, timeout=15):
        import requests

        self.session = requests.Session()
        self.timeout = timeout

    def request(self, method, url, params, headers):
        import requests

        try:
            r = self.session.request(
                method, url, data=params or None, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as e:
            host = urlsplit(url).netloc
            raise PlayerError(f"cannot reach {host}: {type(e).__name__}") from None
        return Reply(r.status_code, r.headers.get("Content-Type", ""), r.content)


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
        self._audio_checked: set[str] = set()

    # -- what the tests and the CLI read --------------------------------------------------
    def prompts(self) -> list[str | None]:
        """Prompt ids heard, in order (None for audio or text not in the catalog)."""
        return [e.prompt for e in self.events if e.kind in ("say", "play")]

    def turns(self) -> list[tuple[tuple, str | None]]:
        """(prompts heard, keys pressed or None for silence) per wait for input."""
        turns, heard = [], []
        for e in self.events:
            if e.kind in ("say", "play"):
                heard.append(e.prompt)
            elif e.kind in ("keys", "silence"):
                turns.append((tuple(heard), e.text if e.kind == "keys" else None))
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
        while url is not None:
            root = self._fetch(method, url, params)
            method, url, params = self._execute(root, url)
        return self

    def _emit(self, event: Event) -> str:
        self.events.append(event)
        if self.on_event:
            self.on_event(event)
        if event.kind in ("say", "play"):
            return self.keypad.heard(event) or ""
        return ""

    def _params(self, extra) -> dict:
        return {
            "CallSid": self.sid, "AccountSid": "AC" + "0" * 32, "From": self.caller,
            "To": self.line_number, "CallStatus": "in-progress", "Direction": "inbound",
            "ApiVersion": "2010-04-01", **extra,
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
        if reply.status != 200:
            raise PlayerError(f"{method} {url} answered HTTP {reply.status}")
        if not reply.content_type.split(";")[0].strip() in ("text/xml", "application/xml"):
            raise PlayerError(f"{method} {url} answered {reply.content_type or 'no content type'}, not TwiML")
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
            elif verb.tag == "Redirect":
                target = (verb.text or "").strip()
                if not target:
                    raise PlayerError(f"<Redirect> without a URL in {url}")
                return verb.get("method", "POST").upper(), urljoin(url, target), {}
            elif verb.tag == "Hangup":
                self._emit(Event("hangup"))
                return None, None, None
            else:
                raise PlayerError(f"cannot play <{verb.tag}> (from {url})")
        self._emit(Event("end"))
        return None, None, None

    def _speak(self, verb, url) -> str:
        """Play one <Say>/<Play>/<Pause>; return a key pressed during it."""
        if verb.tag == "Say":
            text = " ".join((verb.text or "").split())
            return self._emit(Event("say", text, self.catalog.say(text)))
        if verb.tag == "Play":
            target = urljoin(url, (verb.text or "").strip())
            self._check_audio(target)
            pid, text = self.catalog.play(target)
            return self._emit(Event("play", text, pid, target))
        self._emit(Event("pause", verb.get("length", "1")))
        return ""

    def _check_audio(self, url):
        if not self.fetch_audio or url in self._audio_checked:
            return
        reply = self.transport.request("GET", url, None, {})
        if reply.status != 200:
            raise PlayerError(f"<Play> {url} answered HTTP {reply.status}")
        self._audio_checked.add(url)

    def _gather(self, verb, url):
        try:
            num_digits = int(verb.get("numDigits")) if verb.get("numDigits") else None
            timeout = int(verb.get("timeout", "5"))
        except ValueError:
            raise PlayerError(f"<Gather> with a non-numeric attribute in {url}") from None
        rules = Gather(num_digits, verb.get("finishOnKey", "#"), timeout)
        digits = ""
        for child in verb:
            if child.tag not in ("Say", "Play", "Pause"):
                raise PlayerError(f"cannot play <{child.tag}> inside <Gather> (from {url})")
            digits = self._speak(child, url)
            if digits:
                break  # barge-in: the key stops the prompts
        if not self.keypad.begin(rules):
            self._emit(Event("gone"))
            return None, None, None
        finished = ""
        while True:
            if digits and rules.finish_on_key and digits[-1] in rules.finish_on_key:
                finished, digits = digits[-1], digits[:-1]
                break
            if rules.num_digits and len(digits) >= rules.num_digits:
                break
            key = self.keypad.key(rules)
            if key is None:
                break
            digits += key
        if digits or finished:
            self._emit(Event("keys", digits + finished))
        else:
            self._emit(Event("silence"))
        # Twilio only calls the action with digits, unless told to call it on empty input.
        if not digits and verb.get("actionOnEmptyResult", "false").lower() != "true":
            return None  # fall through to the next verb
        params = {"Digits": digits}
        if finished:
            params["FinishedOnKey"] = finished
        action = urljoin(url, verb.get("action", "") or url)
        return verb.get("method", "POST").upper(), action, params

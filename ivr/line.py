"""The line as the webhooks use it: everything built once at startup, in one object.

`create_app` builds a `Line` and keeps it in `app.extensions["ivr"]`; views and other
blueprints reach it with `current_line()`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from flask import current_app
from twilio.request_validator import RequestValidator

from . import sms
from .agent import Agent
from .audio import AudioStore
from .content import Content
from .flow import UNHEARD, Flow, State, key
from .recordings import Recordings
from .screening import Screenings
from .settings import Settings
from .store import Store, StoreError
from .twiml import Documents, Renderer

#: Documents are made per base URL the line is reached at; a line has one or two (its public
#: URL, localhost). More only come from odd Host headers, so only the latest few are kept.
MAX_BASES = 4


@dataclass
class Line:
    """Everything a webhook needs, built once at startup."""

    settings: Settings
    content: Content
    flow: Flow
    audio: AudioStore
    twiml: Renderer
    #: Checks X-Twilio-Signature; None when no auth token is set (local use only).
    validator: RequestValidator | None
    #: The extras, None when off: texts the caller (7), puts them through to a person (9).
    texter: sms.Texter | None = None
    agent: Agent | None = None
    sms_limit: sms.DailyLimit | None = None
    #: The call store (None when off): records every turn, remembers returning callers.
    store: Store | None = None
    #: How persons answered the whispers of screened transfers (with a person on).
    screenings: Screenings | None = None
    #: Deletes recordings too short to be messages (None without TWILIO_ACCOUNT_SID).
    recordings: Recordings | None = None
    _documents: dict[str, Documents] = field(default_factory=dict, repr=False)
    # Threaded workers may make a base URL's documents at once: one at a time.
    _documents_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def public_base(self) -> str:
        """PUBLIC_BASE_URL without its trailing '/'; '' when the request's own root is used."""
        return self.settings.public_base_url

    def resume_step(self, values: Mapping[str, str]) -> int | None:
        """The step a returning caller reached in their last call, if they hung up before
        the Conclusión within the last IVR_RESUME_HOURS; None otherwise (or with no store)."""
        if not self.store:
            return None
        caller = self.store.key(values.get("From"))
        if caller is None:  # a withheld number: nobody to recognise
            return None
        since = datetime.now(UTC) - timedelta(hours=self.settings.resume_hours)
        return self.store.last_unfinished(caller, since, exclude_call=values.get("CallSid"))

    def may_text(self, number: str) -> bool:
        """Whether one more text to `number` stays within the daily limit: counted in the
        call store (shared by every worker and machine) when there is one, else in this
        process. While the store cannot answer, this process's own count decides (the
        caller still gets the text; at most the limit per worker: docs/store.md)."""
        assert self.sms_limit is not None
        if not self.sms_limit.allows(number):
            return False
        if not self.store:
            return True
        midnight = datetime.now(self.settings.timezone).replace(
            hour=0, minute=0, second=0, microsecond=0)
        try:
            return self.store.sms_count(self.store.key(number), midnight) < self.sms_limit.per_day
        except StoreError:
            return True  # the database is down: this process's own count decides

    def key(self, state: State, values: Mapping[str, str]) -> str | None:
        """The key a webhook's parameters mean at `state`: the Digits pressed, or the words
        said (SpeechResult) as the content file's phrases for that place give them; None
        for silence, flow.UNHEARD for words not understood or heard with too little
        Confidence."""
        digits = values.get("Digits")
        words = values.get("SpeechResult")
        if digits or not words:
            return key(digits)
        try:
            confidence = float(values.get("Confidence") or 1)
        except ValueError:
            confidence = 0.0
        phrases = self.content.listen.get(state.at)
        if confidence < self.content.speech.min_confidence or phrases is None:
            return UNHEARD
        return phrases.key(words) or UNHEARD

    def base_url(self, request) -> str:
        """What the line's URLs start with: the public base URL, else the request's own
        (proxy-aware) root."""
        return self.public_base or f"{request.scheme}://{request.host}{quote(request.script_root)}"

    def documents(self, base: str) -> Documents:
        """Every document the line answers with, its URLs starting with `base`."""
        base = base.rstrip("/")
        found = self._documents.get(base)
        if found is None:
            with self._documents_lock:
                found = self._documents.get(base)
                if found is None:
                    found = Documents(self.twiml, self.flow, base)
                    while len(self._documents) >= MAX_BASES:
                        del self._documents[next(iter(self._documents))]
                    self._documents[base] = found
        return found


def line_of(app) -> Line:
    """The Line `create_app` built for `app`."""
    return app.extensions["ivr"]


def current_line() -> Line:
    """The Line of the app handling the current request."""
    return line_of(current_app)

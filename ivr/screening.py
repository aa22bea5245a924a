"""How the person answered a screened transfer's whisper, kept until the <Dial action> asks.

Twilio's <Dial action> request cannot tell a transfer the person took from one they heard
and let go: its documented parameters are DialCallStatus, DialCallSid and DialCallDuration
(https://www.twilio.com/docs/voice/twiml/dial#action), and DialCallStatus is the person's
own leg, `completed` as soon as they answered, whether they then pressed 1, pressed nothing,
or were their voicemail. So the whisper's answer decides: /voice/whispered notes it, keyed
by the whisper request's ParentCallSid (the caller's call, CallSid in the <Dial action>) and
its own CallSid (the DialCallSid there), and /voice/dialed reads it back.

It is noted in the call store, which every worker of every machine shares, and in this
process: the <Dial action> usually comes to another worker than the whisper did, and the
process's copy is what a line without a store (`ivr call`, IVR_STORE=0 with one worker)
has. When neither knows, the transfer was not taken: the caller then hears the offer (a
message, a call back), never a dead end.
"""

import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime

from .store import StoreError

log = logging.getLogger(__name__)


class Screenings:
    """Whisper answers: in the call store (`store`, None when off) and in this process (the
    latest `size`)."""

    def __init__(self, store=None, size: int = 1000):
        self.store = store
        self.size = size
        self._taken: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._lock = threading.Lock()

    def note(self, call_sid: str, leg_sid: str, accepted: bool) -> None:
        """The person on leg `leg_sid` of call `call_sid` took the call (or let it go)."""
        with self._lock:
            self._taken[(call_sid, leg_sid)] = accepted
            while len(self._taken) > self.size:
                self._taken.popitem(last=False)
        if self.store is not None:
            try:
                self.store.screened(call_sid, leg_sid, accepted, datetime.now(UTC))
            except StoreError as e:
                log.warning("screening: call=%s not stored (%s); kept in this process only", call_sid, e)

    def accepted(self, call_sid: str, leg_sid: str | None) -> bool:
        """Whether the person took the transfer `leg_sid` (None: any) of call `call_sid`."""
        with self._lock:
            if leg_sid and self._taken.get((call_sid, leg_sid)):
                return True
            if not leg_sid and any(v for (c, _), v in self._taken.items() if c == call_sid):
                return True
        if self.store is None:
            return False
        try:
            return self.store.accepted(call_sid, leg_sid)
        except StoreError as e:
            log.warning("screening: call=%s cannot be read back (%s): taken as not accepted", call_sid, e)
            return False

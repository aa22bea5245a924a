"""Texting the caller: SMS segment counting, the sender setting, and one message sent
through twilio's `Client` without ever holding a webhook or raising.

    texter = sms.texter(settings)          # None when IVR_SMS_FROM is not set
    result = texter.send(caller, body)     # SmsResult(sent=..., code=..., reason=...)

Caller numbers are logged masked (the last four digits), never in the clear.
"""

import hmac
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from twilio.base.exceptions import TwilioException, TwilioRestException

from .logs import mask
from .settings import is_e164

log = logging.getLogger(__name__)

# -- segments --------------------------------------------------------------------------------

#: GSM 03.38 basic character set (the escape code 0x1B itself left out): one septet each.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table: an escape septet plus one, so two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7, UCS2 = "GSM-7", "UCS-2"
#: (units in a single-part message, units per part of a multi-part one): a multi-part
#: message spends 7 bytes of each part on the header that joins them again.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}

#: Twilio accepts up to 1600 characters, but the line's text must stay short and cheap.
MAX_SEGMENTS = 3


class Segments(NamedTuple):
    """How carriers send a text: its encoding and how many SMS it takes."""

    encoding: str
    count: int


def _units(text: str) -> tuple[str, list[int]]:
    """The encoding `text` needs and the units (septets or UTF-16 code units) of each character."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return GSM7, [2 if c in GSM7_EXTENSION else 1 for c in text]
    # UCS-2 as phones send it (really UTF-16): a character outside the BMP is a surrogate pair.
    return UCS2, [2 if ord(c) > 0xFFFF else 1 for c in text]


def segments(text: str) -> Segments:
    """(encoding, count) for `text`, counted as carriers do.

    GSM-7 when every character is in the GSM 03.38 basic set or its extension table (those
    count two septets): 160 septets in one SMS, 153 per part beyond. Otherwise UCS-2: 70
    units in one SMS, 67 per part, a character outside the BMP counting two. A part never
    ends in the middle of a character (an escape pair or a surrogate pair), as phones split
    them. An empty text is one (empty) SMS.
    """
    encoding, units = _units(text)
    single, per_part = LIMITS[encoding]
    if sum(units) <= single:
        return Segments(encoding, 1)
    count, used = 1, 0
    for n in units:
        if used + n > per_part:
            count, used = count + 1, 0
        used += n
    return Segments(encoding, count)


# -- the texter ------------------------------------------------------------------------------

def texter(settings) -> "Texter | None":
    """The line's texter as the settings describe it; None when IVR_SMS_FROM is not set
    (Settings.check has made sure the account's credentials are there)."""
    if not settings.sms_from:
        return None
    return Texter(settings.twilio_account_sid, settings.twilio_auth_token, settings.sms_from,
                  http_client=settings.twilio_http_client)


# -- sending ---------------------------------------------------------------------------------

#: Twilio error codes the line tells apart; any other code is reason "error".
REASONS = {
    20003: "credentials",  # wrong account SID or auth token
    20429: "busy",  # too many requests
    21211: "invalid_number",  # the 'To' number is not a valid phone number
    21408: "not_allowed",  # SMS to that region is not enabled on the account
    21610: "unsubscribed",  # the caller replied STOP to this sender
    21612: "not_allowed",  # Twilio cannot route between that To and From
    21614: "not_mobile",  # the 'To' number is not a mobile number (a landline)
    21606: "sender",  # IVR_SMS_FROM cannot send to that number
    21659: "sender",  # IVR_SMS_FROM is not a Twilio number
    21660: "sender",  # IVR_SMS_FROM does not belong to the account
}


@dataclass(frozen=True)
class SmsResult:
    """What became of one text: sent (Twilio accepted it) or not, and why not.

    `reason`: 'sent', one of REASONS' values, 'timeout' (Twilio did not answer in time),
    'network' (Twilio could not be reached) or 'error' (anything else). `code` is
    Twilio's error code when it gave one.
    """

    sent: bool
    reason: str
    code: int | None = None
    sid: str | None = None
    detail: str = ""


class Texter:
    """Sends the line's text to a caller through Twilio's Messages API.

    `sender` is a Twilio number (E.164) or a Messaging Service SID (MG…). The REST call
    gives up after `timeout` seconds (Twilio drops a webhook after 15 s, and the caller is
    waiting in silence). `http_client`: twilio's HTTP seam, for tests; by default twilio's
    own `TwilioHttpClient` with that timeout (a client given here brings its own: twilio's
    `Client` passes no timeout per request).
    """

    def __init__(self, account_sid, auth_token, sender, timeout=5, http_client=None):
        # Imported here: twilio's REST client and requests weigh on every worker's memory,
        # and only a line that texts needs them.
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.sender = sender
        self.timeout = timeout
        self.client = Client(
            account_sid, auth_token,
            http_client=http_client or TwilioHttpClient(timeout=timeout),
        )

    def _create(self, to: str, body: str):
        if self.sender.startswith("MG"):
            return self.client.messages.create(to=to, body=body, messaging_service_sid=self.sender)
        return self.client.messages.create(to=to, body=body, from_=self.sender)

    def send(self, to, body: str) -> SmsResult:
        """Text `body` to `to` (the caller's own number, E.164). Never raises."""
        import requests

        started = time.perf_counter()
        try:
            if not is_e164(to):
                # Web phone clients, withheld numbers ('anonymous', '+266696687'): nobody to text.
                result = SmsResult(False, "invalid_number", detail="not an E.164 number")
            else:
                message = self._create(to, body)
                result = SmsResult(True, "sent", sid=message.sid)
        except TwilioRestException as e:
            code = e.code if isinstance(e.code, int) and e.code != e.status else None
            result = SmsResult(False, REASONS.get(code, "error"), code, detail=_short(e.msg))
        except requests.Timeout:
            result = SmsResult(False, "timeout", detail=f"no answer within {self.timeout} s")
        except requests.ConnectionError as e:
            # A proxy that hangs reports its timeout as a connection error.
            reason = "timeout" if "timed out" in str(e) else "network"
            result = SmsResult(False, reason, detail=_short(e.__class__.__name__))
        except (TwilioException, requests.RequestException, ValueError) as e:
            result = SmsResult(False, "error", detail=_short(f"{e.__class__.__name__}: {e}"))
        except Exception as e:  # never break a call because a text could not be sent
            log.exception("sms to=%s: unexpected failure", mask(to))
            result = SmsResult(False, "error", detail=e.__class__.__name__)
        ms = (time.perf_counter() - started) * 1000
        if result.sent:
            log.info("sms to=%s sid=%s outcome=sent ms=%.0f", mask(to), result.sid, ms)
        else:
            log.warning("sms to=%s outcome=%s code=%s ms=%.0f: %s", mask(to), result.reason,
                        result.code or "-", ms, result.detail or "-")
        return result


_DIGITS = re.compile(r"\+?[0-9][0-9 ()-]{5,}[0-9]")


def _short(text) -> str:
    """Twilio's message, one line and short (it may quote the number: keep it out of logs)."""
    text = " ".join(str(text).split())
    text = _DIGITS.sub(lambda m: mask(m.group()), text)
    return text[:120]


class DailyLimit:
    """At most `per_day` texts to one number a day, counted in this process.

    Numbers are kept only as keyed hashes (with a key made when the process starts), never
    in the clear. Each worker process counts its own texts: with several workers or
    machines a caller could get up to `per_day` texts from each (the call store, where
    there is one, counts for all of them).
    """

    def __init__(self, per_day: int, clock=None):
        self.per_day = per_day
        self._key = os.urandom(32)
        self._today = clock or date.today
        self._sent: dict[tuple, int] = {}

    def _slot(self, number: str) -> tuple:
        digest = hmac.new(self._key, number.encode("utf-8"), "sha256").hexdigest()
        return self._today(), digest

    def allows(self, number: str) -> bool:
        """Whether one more text to `number` stays within today's limit."""
        return self._sent.get(self._slot(number), 0) < self.per_day

    def count(self, number: str) -> None:
        """One more text sent to `number` today."""
        slot = self._slot(number)
        # Yesterday's counts are no longer needed.
        self._sent = {s: n for s, n in self._sent.items() if s[0] == slot[0]}
        self._sent[slot] = self._sent.get(slot, 0) + 1

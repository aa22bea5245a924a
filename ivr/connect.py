"""Pointing a Twilio number at the line (`ivr twilio connect`), after checking that the line
answers a request signed the way Twilio signs it.

The usual failure of a new line is a webhook URL, token or proxy whose signatures do not
match: Twilio then reports error 11200 or a 403, but only after a caller has heard "an
application error has occurred". `self_check` finds that first, and says which it is.
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.etree import ElementTree

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from .checks import SELF_CHECK_CALL_SID, SELF_CHECK_FROM
from .settings import E164

PHONE_SID = re.compile(r"PN[0-9a-fA-F]{32}")
#: The largest answer the self-check reads: TwiML is a few KB.
MAX_ANSWER = 1 << 20


class ConnectError(Exception):
    """Something stops `ivr twilio connect`; the message is one line saying what to fix."""


# -- the base URL ----------------------------------------------------------------------------


def base_url(value) -> str:
    """BASE checked: an absolute http(s) URL without query or fragment, without trailing '/'."""
    parts = urlsplit(value.strip() if isinstance(value, str) else "")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConnectError(f"the base URL must look like https://ivr.example.com, not {value!r}")
    return parts.geturl().rstrip("/")


def webhooks(base: str) -> dict:
    """The number's settings for the line at `base` (twilio's update() arguments)."""
    return {
        "voice_url": f"{base}/voice",
        "voice_method": "POST",
        "voice_fallback_url": f"{base}/voice/fallback",
        "voice_fallback_method": "POST",
        "status_callback": f"{base}/voice/status",
        "status_callback_method": "POST",
    }


# -- the self-check --------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """How the line answered a signed request: `kind` is 'ok', 'unreachable', 'refused'
    (403: the signature), 'redirect', 'http' (another status) or 'not_twiml'."""

    kind: str
    url: str
    message: str

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def incoming_call(account_sid: str = "", to: str = "") -> dict:
    """The form fields of Twilio's "a call comes in" request, for a self-check call."""
    account = account_sid or "AC" + "0" * 32
    to = to or "+15005550001"
    return {
        "AccountSid": account,
        "ApiVersion": "2010-04-01",
        "CallSid": SELF_CHECK_CALL_SID,
        "CallStatus": "ringing",
        "Called": to,
        "Caller": SELF_CHECK_FROM,
        "Direction": "inbound",
        "From": SELF_CHECK_FROM,
        "FromCountry": "US",
        "To": to,
        "ToCountry": "US",
    }


def self_check(base: str, token: str, account_sid: str = "", to: str = "",
               timeout: float = 10, session=None) -> Check:
    """POST BASE/voice as Twilio would for an incoming call, signed with `token` by twilio's
    RequestValidator, and classify the answer."""
    url = f"{base}/voice"
    params = incoming_call(account_sid, to)
    headers = {
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, params),
        "User-Agent": "TwilioProxy/1.1",
        "Accept": "*/*",
    }
    http = session or requests
    try:
        response = http.post(url, data=params, headers=headers, timeout=timeout,
                             allow_redirects=False, stream=True)
        try:
            body = response.raw.read(MAX_ANSWER + 1, decode_content=True)
        finally:
            response.close()
    except requests.exceptions.SSLError:
        return Check("unreachable", url, f"{url}: its TLS certificate is not valid (expired, "
                                         f"self-signed or for another name), and Twilio "
                                         f"refuses such certificates")
    except requests.Timeout:
        return Check("unreachable", url, f"{url} did not answer within {timeout:g} s "
                                         f"(Twilio waits 15 s, then gives error 11200)")
    except requests.RequestException as e:
        return Check("unreachable", url, f"{url} is unreachable ({reason(e)}): is the line "
                                         f"running, and is this its public address?")
    status = response.status_code
    if status == 403:
        return Check("refused", url, (
            f"{url} refused a request signed with TWILIO_AUTH_TOKEN (403): either the line has "
            f"another token, or it checks signatures against another URL (set the line's "
            f"PUBLIC_BASE_URL={base}, or IVR_TRUSTED_PROXIES behind a proxy)"
        ))
    if 300 <= status < 400:
        where = response.headers.get("Location", "?")
        return Check("redirect", url, (
            f"{url} redirects ({status}) to {where}: Twilio signs the URL it is given, so use "
            f"the final address as the base URL"
        ))
    if status != 200:
        return Check("http", url, f"{url} answered HTTP {status}: Twilio would play its "
                                  f"'application error' message to the caller")
    problem = twiml_problem(body, response.headers.get("Content-Type", ""))
    if problem:
        return Check("not_twiml", url, f"{url} answered 200 but not TwiML ({problem}): is "
                                       f"this address the line, or something in front of it?")
    return Check("ok", url, f"{url} accepted a request signed as Twilio signs it and "
                            f"answered with TwiML")


def twiml_problem(body: bytes, content_type: str) -> str:
    """Why `body` is not a TwiML document ('' if it is)."""
    if len(body) > MAX_ANSWER:
        return "over 1 MB"
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        kind = content_type.split(";")[0].strip() or "no content type"
        return f"not XML: {kind}"
    if root.tag != "Response":
        return f"the root element is <{root.tag}>, not <Response>"
    return ""


def reason(e: Exception) -> str:
    """The gist of a requests error, e.g. 'connection refused'."""
    text = str(e).lower()
    for words, gist in (("refused", "connection refused"), ("name or service", "unknown host"),
                        ("nodename", "unknown host"), ("resolve", "unknown host"),
                        ("timed out", "timed out"), ("unreachable", "network unreachable")):
        if words in text:
            return gist
    return e.__class__.__name__


# -- the number ------------------------------------------------------------------------------


def client(account_sid: str, token: str, http_client=None) -> Client:
    """twilio's Client for the account (`http_client`: twilio's HTTP seam, for tests)."""
    return Client(account_sid, token, http_client=http_client)


def rest_error(e: Exception) -> tuple[int, int | None, str] | None:
    """(HTTP status, Twilio error code, message) of an error answer from Twilio's API.

    A fetch or update raises TwilioRestException; a list page that fails raises a plain
    TwilioException("Unable to fetch page", response) with Twilio's JSON in the response.
    """
    if isinstance(e, TwilioRestException):
        return e.status, e.code, str(e.msg)
    if isinstance(e, TwilioException) and len(e.args) == 2 and hasattr(e.args[1], "status_code"):
        response = e.args[1]
        try:
            body = json.loads(response.text)
        except (TypeError, ValueError):
            body = {}
        body = body if isinstance(body, dict) else {}
        return response.status_code, body.get("code"), str(body.get("message", e.args[0]))
    return None


def _api_error(e: Exception, account_sid: str) -> ConnectError:
    rest = rest_error(e)
    if rest:
        status, code, message = rest
        if code == 20003 or status == 401:
            return ConnectError("Twilio refused the credentials (error 20003): check "
                                "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (Twilio console, "
                                "Account info)")
        return ConnectError(f"Twilio answered HTTP {status}, error {code}: "
                            f"{' '.join(message.split())}")
    if isinstance(e, requests.RequestException):
        return ConnectError(f"cannot reach Twilio's API at api.twilio.com ({reason(e)}): "
                            f"no network?")
    return ConnectError(f"{e.__class__.__name__}: {e}")


def find_number(api: Client, number: str):
    """The account's IncomingPhoneNumber for `number`: E.164 (+573001234567) or its SID (PN…)."""
    number = number.strip()
    account = api.account_sid
    try:
        if PHONE_SID.fullmatch(number):
            try:
                return api.incoming_phone_numbers(number).fetch()
            except TwilioRestException as e:
                if e.status == 404:
                    raise ConnectError(f"{number} is not a phone number of account {account}") from None
                raise
        if not E164.fullmatch(number):
            raise ConnectError(f"NUMBER must be a phone number in E.164 (like +573001234567) "
                               f"or its SID (PN and 32 hex digits), not {number!r}")
        for found in api.incoming_phone_numbers.list(phone_number=number, limit=20):
            if found.phone_number == number:
                return found
    except ConnectError:
        raise
    except Exception as e:
        raise _api_error(e, account) from None
    raise ConnectError(f"{number} is not a phone number of account {account} (Twilio console, "
                       f"Phone Numbers, Active numbers)")


#: (label, field) of the settings `connect` shows and changes.
FIELDS = (
    ("voice URL", "voice_url"),
    ("voice method", "voice_method"),
    ("fallback URL", "voice_fallback_url"),
    ("fallback method", "voice_fallback_method"),
    ("status callback", "status_callback"),
    ("status method", "status_callback_method"),
)


def changes(number, base: str) -> list[tuple[str, str, str]]:
    """(setting, now, new) for each setting `connect` sets; a TwiML App the number uses
    instead of its voice URL is cleared too."""
    new = webhooks(base)
    rows = [(label, getattr(number, name) or "", new[name]) for label, name in FIELDS]
    if number.voice_application_sid:
        rows.insert(0, ("TwiML app", number.voice_application_sid, "(none)"))
    return rows


def blocker(number) -> str:
    """Why setting the voice URL would not make `number` ring the line ('' if nothing)."""
    if number.trunk_sid:
        return (f"{number.phone_number} belongs to SIP trunk {number.trunk_sid}, which takes "
                f"its calls instead of a voice URL: remove it from the trunk in the Twilio "
                f"console first")
    return ""


def connect(number, base: str):
    """Point `number` at the line at `base`; returns the number as Twilio now has it."""
    problem = blocker(number)
    if problem:
        raise ConnectError(problem)
    settings = webhooks(base)
    if number.voice_application_sid:
        settings["voice_application_sid"] = ""  # else Twilio ignores the voice URL
    try:
        return number.update(**settings)
    except Exception as e:
        raise _api_error(e, number.account_sid) from None

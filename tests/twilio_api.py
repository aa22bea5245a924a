"""Twilio's REST API for the tests, behind twilio's own HTTP seam (never the network).

    api = FakeTwilio(numbers=[number("+573001234567")])
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=api)

`FakeTwilio` is a `twilio.http.HttpClient`: twilio's `Client` hands it every request it
would send to api.twilio.com. It records them (method, URL, query, form, auth, timeout) and
answers as Twilio's API does: status codes and JSON bodies shaped like the real ones (the
shapes of twilio-python's own integration tests and Twilio's API reference), including its
error bodies, `{"code": 20003, "message": "Authenticate", "more_info": ..., "status": 401}`.

Resources: IncomingPhoneNumbers (list with PhoneNumber filter and paging, fetch, update),
Messages (create), Recordings (delete: the SIDs in `recordings` exist; deleting one removes
it, deleting any other is Twilio's 20404) and, on monitor.twilio.com, the Monitor API's
Alerts (list, filtered by LogLevel, StartDate and EndDate, newest first, paged through
`meta.next_page_url` as the Monitor API pages: an absolute URL with a PageToken). Numbers
listed in `message_errors` make Messages.create fail with that Twilio error code; `offline`
raises what requests raises with no network; `delay` makes every answer take that long,
and gives up like requests does when the client's timeout is shorter.
"""

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from twilio.http import HttpClient
from twilio.http.response import Response

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "rest-auth-token"
API = "https://api.twilio.com"
VERSION = "/2010-04-01"
MONITOR = "https://monitor.twilio.com"
ALERTS = "/v1/Alerts"

#: Twilio's error codes the tests use: (HTTP status, Twilio's message).
ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    20429: (429, "Too Many Requests"),
}

#: Form fields of IncomingPhoneNumber update -> the resource's JSON fields.
NUMBER_FIELDS = {
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceApplicationSid": "voice_application_sid",
    "FriendlyName": "friendly_name",
}

_sids = iter(range(1, 10**9))


def sid(prefix: str) -> str:
    """A fresh 34-character SID: two letters and 32 hex digits."""
    return f"{prefix}{next(_sids):032x}"


def rfc2822(when: datetime | None = None) -> str:
    """Twilio's date format: 'Thu, 30 Jul 2015 23:19:04 +0000'."""
    return format_datetime(when or datetime.now(UTC)).replace("-0000", "+0000")


def number(phone_number: str, account_sid: str = ACCOUNT_SID, **fields) -> dict:
    """An IncomingPhoneNumber resource as Twilio returns it (fields may override)."""
    pn = fields.pop("sid", None) or sid("PN")
    record = {
        "account_sid": account_sid,
        "address_requirements": "none",
        "address_sid": None,
        "api_version": "2010-04-01",
        "beta": False,
        "capabilities": {"fax": False, "mms": True, "sms": True, "voice": True},
        "date_created": "Thu, 30 Jul 2015 23:19:04 +0000",
        "date_updated": "Thu, 30 Jul 2015 23:19:04 +0000",
        "emergency_status": "Inactive",
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "friendly_name": phone_number,
        "identity_sid": None,
        "origin": "twilio",
        "phone_number": phone_number,
        "sid": pn,
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": "https://demo.twilio.com/welcome/sms/reply",
        "status_callback": "",
        "status_callback_method": "POST",
        "trunk_sid": None,
        "uri": f"{VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{pn}.json",
        "voice_application_sid": "",
        "voice_caller_id_lookup": False,
        "voice_fallback_method": "POST",
        "voice_fallback_url": None,
        "voice_method": "POST",
        "voice_url": "https://demo.twilio.com/welcome/voice/",
        "bundle_sid": None,
        "voice_receive_mode": "voice",
        "status": "in-use",
        "type": "local",
        "subresource_uris": {
            "assigned_add_ons": f"{VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{pn}/AssignedAddOns.json",
        },
    }
    record.update(fields)
    return record


def iso(when: datetime) -> str:
    """The Monitor API's date format: '2015-07-30T20:00:00Z'."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def alert(error_code, when: datetime, request_url: str = "", log_level: str = "error",
          alert_text: str = "", account_sid: str = ACCOUNT_SID, **fields) -> dict:
    """A Monitor Alert resource as the list answers it (twilio-python's own integration
    test, tests/integration/monitor/v1/test_alert.py, has the same fields)."""
    no = fields.pop("sid", None) or sid("NO")
    record = {
        "account_sid": account_sid,
        "alert_text": alert_text,
        "api_version": "2010-04-01",
        "date_created": iso(when),
        "date_generated": iso(when),
        "date_updated": iso(when),
        "error_code": str(error_code),
        "log_level": log_level,
        "more_info": f"https://www.twilio.com/docs/errors/{error_code}",
        "request_method": "POST",
        "request_url": request_url,
        "resource_sid": sid("CA"),
        "service_sid": None,
        "sid": no,
        "url": f"{MONITOR}{ALERTS}/{no}",
    }
    record.update(fields)
    return record


@dataclass
class Seen:
    """One request twilio's Client made."""

    method: str
    url: str
    params: dict
    data: dict
    auth: tuple | None
    timeout: float | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass
class FakeTwilio(HttpClient):
    """Twilio's REST API in memory, as a twilio HTTP client (see the module docstring)."""

    numbers: list = field(default_factory=list)
    #: Monitor alerts (see `alert`), in any order.
    alerts: list = field(default_factory=list)
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    #: 'To' number -> Twilio error code for Messages.create.
    message_errors: dict = field(default_factory=dict)
    #: The account's recordings (SIDs): Recording delete removes one.
    recordings: set = field(default_factory=set)
    #: Recording SID -> Twilio error code its delete answers with.
    recording_errors: dict = field(default_factory=dict)
    offline: bool = False
    delay: float = 0.0
    client_timeout: float | None = None

    def __post_init__(self):
        super().__init__(logging.getLogger("tests.twilio_api"), False, self.client_timeout)
        self.requests: list[Seen] = []
        self.messages: list[dict] = []
        self._lock = threading.Lock()

    # -- the seam ------------------------------------------------------------------------

    def request(self, method, url, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        timeout = self.timeout if timeout is None else timeout
        with self._lock:
            self.requests.append(Seen(method.upper(), url, dict(params or {}), dict(data or {}),
                                      auth, timeout))
        if self.offline:
            host = urlsplit(url).hostname
            raise requests.ConnectionError(
                f"HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded "
                f"(Caused by NameResolutionError: Failed to resolve '{host}')"
            )
        if self.delay:
            if timeout is not None and timeout < self.delay:
                time.sleep(timeout)
                raise requests.ReadTimeout(
                    f"HTTPSConnectionPool(host='api.twilio.com', port=443): Read timed out. "
                    f"(read timeout={timeout})"
                )
            time.sleep(self.delay)
        status, body = self.answer(method.upper(), url, dict(params or {}), dict(data or {}), auth)
        if status == 204:  # No Content: what a delete answers
            return Response(status, "", {})
        return Response(status, json.dumps(body), {"Content-Type": "application/json"})

    # -- the API -------------------------------------------------------------------------

    def answer(self, method, url, params, data, auth):
        parts = urlsplit(url)
        path = parts.path
        params = {**dict(parse_qsl(parts.query)), **params}
        if parts.netloc == "monitor.twilio.com":
            if auth != (self.account_sid, self.auth_token):
                return error(20003)
            if path == ALERTS and method == "GET":
                return self.list_alerts(params)
            return error(20404, path=path)
        if parts.netloc != "api.twilio.com" or not path.startswith(VERSION + "/"):
            return error(20404, path=path)
        if auth != (self.account_sid, self.auth_token):
            return error(20003)
        account = f"{VERSION}/Accounts/{self.account_sid}"
        if path == f"{account}/IncomingPhoneNumbers.json" and method == "GET":
            return self.list_numbers(path, params)
        found = re.fullmatch(rf"{re.escape(account)}/IncomingPhoneNumbers/(PN[0-9a-f]{{32}})\.json", path)
        if found and method in ("GET", "POST"):
            record = next((n for n in self.numbers if n["sid"] == found.group(1)), None)
            if record is None:
                return error(20404, path=path)
            if method == "POST":
                for name, value in data.items():
                    if name in NUMBER_FIELDS:
                        record[NUMBER_FIELDS[name]] = value
                record["date_updated"] = rfc2822()
            return 200, record
        if path == f"{account}/Messages.json" and method == "POST":
            return self.create_message(data)
        found = re.fullmatch(rf"{re.escape(account)}/Recordings/(RE[0-9a-f]{{32}})\.json", path)
        if found and method == "DELETE":
            sid = found.group(1)
            if sid in self.recording_errors:
                return error(self.recording_errors[sid], path=path)
            if sid not in self.recordings:
                return error(20404, path=path)
            with self._lock:
                self.recordings.discard(sid)
            return 204, None
        return error(20404, path=path)

    def list_numbers(self, path, params):
        """One page of the account's numbers; PhoneNumber filters as Twilio's does (a
        number or a pattern of digits it contains)."""
        size = int(params.get("PageSize", 50))
        page = int(params.get("Page", 0))
        wanted = params.get("PhoneNumber", "")
        digits = re.sub(r"[^0-9*]", "", wanted)
        matching = [n for n in self.numbers
                    if not digits or digits.replace("*", "") in n["phone_number"]]
        chunk = matching[page * size:(page + 1) * size]
        query = {k: v for k, v in (("PhoneNumber", wanted), ("PageSize", size)) if v}

        def uri(p):
            return f"{path}?{urlencode({**query, 'Page': p})}"

        more = (page + 1) * size < len(matching)
        return 200, {
            "end": page * size + max(len(chunk) - 1, 0),
            "first_page_uri": uri(0),
            "incoming_phone_numbers": chunk,
            "next_page_uri": uri(page + 1) if more else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(page - 1) if page else None,
            "start": page * size,
            "uri": uri(page),
        }

    def list_alerts(self, params):
        """One page of alerts, newest first; the next page's URL is absolute and carries a
        PageToken, as the Monitor API's does."""
        size = int(params.get("PageSize", 50))
        page = int(params.get("Page", 0))
        if page and params.get("PageToken") != f"PA{page}":
            return error(20404, path=ALERTS)
        level = params.get("LogLevel")
        start, end = (params.get(k) for k in ("StartDate", "EndDate"))

        def at(value):  # StartDate/EndDate: YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ
            return value if "T" in value else value + "T00:00:00Z"

        matching = sorted(
            (a for a in self.alerts
             if (not level or a["log_level"] == level)
             and (not start or a["date_created"] >= at(start))
             and (not end or a["date_created"] <= at(end))),
            key=lambda a: a["date_created"], reverse=True)
        chunk = matching[page * size:(page + 1) * size]
        query = {k: params[k] for k in ("LogLevel", "StartDate", "EndDate") if params.get(k)}

        def url(p):
            token = {"PageToken": f"PA{p}"} if p else {}
            return f"{MONITOR}{ALERTS}?{urlencode({**query, 'PageSize': size, 'Page': p, **token})}"

        return 200, {
            "alerts": chunk,
            "meta": {
                "first_page_url": url(0),
                "key": "alerts",
                "next_page_url": url(page + 1) if (page + 1) * size < len(matching) else None,
                "page": page,
                "page_size": size,
                "previous_page_url": url(page - 1) if page else None,
                "url": url(page),
            },
        }

    def create_message(self, data):
        to = data.get("To")
        if not to:
            return error(21604)
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", to):
            return error(21211, to=to)
        if to in self.message_errors:
            return error(self.message_errors[to], to=to)
        service = data.get("MessagingServiceSid")
        message = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": data.get("Body", ""),
            "date_created": rfc2822(),
            "date_sent": None,
            "date_updated": rfc2822(),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": data.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            # Through a Messaging Service no sender is picked yet, so no segments either.
            "num_segments": "0" if service else "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid("SM"),
            "status": "accepted" if service else "queued",
            "subresource_uris": {},
            "to": to,
            "uri": None,
        }
        message["uri"] = f"{VERSION}/Accounts/{self.account_sid}/Messages/{message['sid']}.json"
        message["subresource_uris"]["media"] = message["uri"].replace(".json", "/Media.json")
        with self._lock:
            self.messages.append(message)
        return 201, message

    # -- for assertions ------------------------------------------------------------------

    def calls(self, method=None):
        """(method, path) of each request, in order."""
        return [(s.method, s.path) for s in self.requests if method in (None, s.method)]


def error(code: int, **values) -> tuple[int, dict]:
    """Twilio's error answer for `code`: its HTTP status and JSON body."""
    status, message = ERRORS[code]
    return status, {
        "code": code,
        "message": message.format(**values),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }

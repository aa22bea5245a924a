"""What Twilio's debugger reported about the line (`ivr twilio alerts`, and a line of
`ivr doctor`): the account's Monitor API alerts since a time, the ones about this line,
grouped by error code, each with what to do.

    since = parse_since("24h", now, tz)           # AlertsError: one line on what is wrong
    found = read(client(sid, token), since, now)  # AlertsError: no network, wrong credentials
    summary = summarize(found, base, since, now, calls=..., senders=...)
    print(text(summary, tz))                      # or as_json(summary)

An alert concerns the line when Twilio met it at the line's public URL (request_url), on
one of the line's calls (the call store knows their SIDs), or about a text from the line's
sender (IVR_SMS_FROM named in the alert). An alert's text holds the request's parameters,
caller numbers included: it is shown only masked (`mask`), and a URL only by its path.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from urllib.parse import parse_qsl, urlsplit

from . import logs
from .connect import reason, rest_error

#: Twilio keeps alerts for 30 days ("Queries for alerts older than 30 days are not
#: supported": twilio-python's Monitor AlertList).
KEPT = timedelta(days=30)
#: The levels worth an operator's time; 'notice' and 'debug' are not problems.
LEVELS = ("error", "warning")

#: Error code -> (Twilio's title, what to do), for the codes a line like this one meets.
#: Each code's page: doc_url(code). One place for all of them: `ivr twilio alerts` and
#: docs/twilio.md read this table.
CODES = {
    11200: ("HTTP retrieval failure",
            "the line answered Twilio with an error or too late: look for 4xx/5xx and slow "
            "answers at that path in the line's log, and run `ivr doctor`"),
    11205: ("HTTP connection failure",
            "Twilio could not connect to the line within 10 s: is it running and reachable at "
            "PUBLIC_BASE_URL (DNS, firewall, TLS proxy)?"),
    11750: ("TwiML response body too large",
            "an answer was over 64 kB: something in front of the line (an error page) answered; "
            "the line's own documents are a few kB"),
    12100: ("Document parse failure",
            "an answer was not XML Twilio could parse: check that PUBLIC_BASE_URL reaches the "
            "line and not another site or an error page"),
    12200: ("Schema validation warning",
            "an answer broke TwiML's schema: run tests/test_twilio_rules.py with the content "
            "file and settings in use"),
    12300: ("Invalid Content-Type",
            "an answer was not text/xml: a proxy or login page answered instead of the line"),
    13214: ("Dial: Invalid callerId value",
            "the <Dial> to a person showed a caller ID that was not the call's From or To: "
            "report it with the call SID, the line only shows the caller's own number"),
    13227: ("Dial: No international authorization",
            "Twilio may not call IVR_AGENT_NUMBER's country: enable it in the Console, Voice, "
            "Settings, Geo permissions"),
    13330: ("Gather: Invalid hints value",
            "the [listen] phrases make over 500 hints, or one over 100 characters: shorten them "
            "in the content file"),
    13331: ("Gather: Invalid language value",
            "the [speech] language does not go with the model: pick a pair from docs/twilio.md "
            "and restart the line"),
    13335: ("Gather: speechTimeout auto cannot be used with a model",
            "set [speech] timeout to a whole number of seconds in the content file and restart "
            "(a line older than this check sent 'auto')"),
    20003: ("Authenticate",
            "Twilio refused TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN: copy both again from the "
            "Console (Account info); a rotated token must be changed everywhere"),
    20404: ("The requested resource was not found",
            "the line asked for something the account does not have: check that the number and "
            "IVR_SMS_FROM belong to it (`ivr twilio connect NUMBER --dry-run`)"),
    21211: ("Invalid 'To' phone number",
            "a text went to a number Twilio calls invalid (the caller's From was not a real "
            "number): nothing to do unless it repeats"),
    21610: ("Attempt to send to unsubscribed recipient",
            "the caller had replied STOP to IVR_SMS_FROM: Twilio texts them again only after "
            "START; nothing to do"),
    21614: ("'To' number is not a valid mobile number",
            "a caller on a landline asked for the text: expected now and then, they heard that "
            "their number is not a mobile"),
    30003: ("Unreachable destination handset",
            "the caller's phone was off or out of coverage: nothing to do for one; many at once "
            "mean a carrier problem"),
    30004: ("Message blocked",
            "the caller or their carrier blocked the text: nothing to do for one; many mean the "
            "sender is blocked, ask Twilio support"),
    30005: ("Unknown destination handset",
            "the carrier no longer knows the caller's number: nothing to do for one"),
    30006: ("Landline or unreachable carrier",
            "the text went to a landline or a carrier the sender cannot reach: check IVR_SMS_FROM "
            "against twilio.com/guidelines/co/sms"),
    30007: ("Message filtered",
            "the carrier took the text for spam: keep the [sms] text free of link shorteners and "
            "check the sender's registration (twilio.com/guidelines/co/sms)"),
    30008: ("Unknown error",
            "the carrier gave no reason: if it repeats, open a ticket with Twilio with the "
            "message SIDs"),
}


def doc_url(code) -> str:
    """Twilio's page for an error code."""
    return f"https://www.twilio.com/docs/api/errors/{code}"


class AlertsError(Exception):
    """The alerts cannot be read; the message is one line saying why and what to do."""


# -- --since ---------------------------------------------------------------------------------

_AGO = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime, tz: tzinfo) -> datetime:
    """The time `text` names, in UTC: an age before `now` (90m, 24h, 7d) or an ISO date or
    date and time (2026-11-20, 2026-11-20T08:00), read in the line's time zone `tz` when it
    names none."""
    text = (text or "").strip()
    found = _AGO.fullmatch(text)
    try:
        if found:
            when = now - timedelta(**{_UNITS[found[2]]: int(found[1])})
        elif re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            when = datetime.combine(date.fromisoformat(text), time(), tz)
        else:
            when = datetime.fromisoformat(text)
            when = when if when.tzinfo else when.replace(tzinfo=tz)
    except (ValueError, OverflowError):
        raise AlertsError(f"--since must look like 90m, 24h, 7d, 2026-11-20 or 2026-11-20T08:00, "
                          f"not {text!r}") from None
    when = when.astimezone(UTC)
    if when >= now:
        raise AlertsError(f"--since {text!r} is not in the past")
    return when


# -- reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Alert:
    """One Monitor alert, as much of it as the line shows (its text not yet masked)."""

    code: int | str
    level: str
    when: datetime
    url: str
    resource_sid: str
    text: str


def client(account_sid: str, token: str, http_client=None, timeout: float = 10):
    """twilio's Client for the account; `http_client` is twilio's HTTP seam (tests)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    return Client(account_sid, token, http_client=http_client or TwilioHttpClient(timeout=timeout))


def read(api, since: datetime, until: datetime) -> list[Alert]:
    """The account's alerts from `since` to `until` (every page), or AlertsError."""
    import requests
    from twilio.base.exceptions import TwilioException

    try:
        found = api.monitor.v1.alerts.list(start_date=since, end_date=until)
    except requests.RequestException as e:
        raise AlertsError(f"cannot reach Twilio's API at monitor.twilio.com ({reason(e)}): "
                          f"no network?") from None
    except (TwilioException, ValueError) as e:  # ValueError: an answer that is not JSON
        rest = rest_error(e)
        if rest is None:
            raise AlertsError(f"Twilio's answer could not be read ({e.__class__.__name__}: "
                              f"{' '.join(str(e).split())[:120]})") from None
        status, code, message = rest
        if code == 20003 or status == 401:
            raise AlertsError("Twilio refused the credentials (error 20003): check "
                              "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (Twilio console, Account "
                              "info)") from None
        error = f", error {code}" if code else ""
        raise AlertsError(f"Twilio answered HTTP {status}{error}: {' '.join(message.split())}") from None
    return [Alert(_code(a.error_code), (a.log_level or "").lower(),
                  a.date_generated or a.date_created or since, a.request_url or "",
                  a.resource_sid or "", a.alert_text or "") for a in found]


def _code(value) -> int | str:
    return int(value) if isinstance(value, str) and value.isdigit() else (value or "?")


# -- what concerns the line ------------------------------------------------------------------

def on_base(url: str, base: str) -> bool:
    """Whether `url` is one of the line's: the same host, under the base URL's path."""
    if not url or not base:
        return False
    parts, ours = urlsplit(url), urlsplit(base)
    prefix = ours.path.rstrip("/")
    return (parts.hostname == ours.hostname and _port(parts) == _port(ours)
            and (parts.path == prefix or parts.path.startswith(prefix + "/")))


def _port(parts) -> int | None:
    try:
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number: no URL of the line's
        return None


def concerns(alert: Alert, base: str, calls=frozenset(), senders=frozenset()) -> bool:
    """The line's own alert: at its URL, on one of its calls, or about a text from its sender."""
    if on_base(alert.url, base) or alert.resource_sid in calls:
        return True
    values = dict(parse_qsl(alert.text))
    return any(sender and sender in (values.get("From"), values.get("MessagingServiceSid"))
               for sender in senders)


#: A run of 7 or more digits, maybe with a leading '+' (or %2B) and single spaces (or '+',
#: %20: spaces once form-encoded) between them: a phone number, as a caller's From or words
#: spoken. Twilio's codes (5 digits), HTTP statuses and dates (2026-11-20) stay readable.
_NUMBER = re.compile(r"(?:\+|%2B)?[0-9](?:(?: |\+|%20)?[0-9]){6,}", re.IGNORECASE)


def mask(text: str) -> str:
    """`text` with every phone-number-like run of digits masked as the log masks numbers."""
    def hide(found):
        run = found.group()
        encoded = run.upper().startswith("%2B")
        plus = "+" if run.startswith("+") or encoded else ""
        masked = logs.mask(plus + re.sub(r"[^0-9]", "", run[3:] if encoded else run))
        # Still form-encoded where it was, so decoding the text gives back a '+'.
        return "%2B" + masked[1:] if encoded else masked
    return _NUMBER.sub(hide, text or "")


def readable(text: str, limit: int = 160) -> str:
    """An alert's text, masked and, when it is form-encoded (Msg=…&ErrorCode=…), its message."""
    masked = mask(text)
    values = dict(parse_qsl(masked))
    return mask(" ".join((values.get("Msg") or masked).split()))[:limit]


# -- grouping --------------------------------------------------------------------------------

@dataclass
class Group:
    """The alerts of one error code."""

    code: int | str
    count: int = 0
    errors: int = 0
    last: datetime | None = None
    last_error: datetime | None = None
    paths: Counter = field(default_factory=Counter)
    example: str = ""

    @property
    def level(self) -> str:
        return "error" if self.errors else "warning"

    def add(self, alert: Alert) -> None:
        self.count += 1
        if alert.level == "error":
            self.errors += 1
            self.last_error = max(self.last_error or alert.when, alert.when)
        # The path only: a GET webhook's query holds the caller's number.
        self.paths[urlsplit(alert.url).path or "-"] += 1
        if self.last is None or alert.when > self.last:
            self.last = alert.when
            self.example = readable(alert.text)


@dataclass
class Summary:
    base: str
    since: datetime
    until: datetime
    groups: list[Group]
    others: int  # alerts about something else on the account

    @property
    def count(self) -> int:
        return sum(g.count for g in self.groups)

    def errors_since(self, when: datetime) -> list[Group]:
        """Groups with an error-level alert at or after `when`, the latest first."""
        found = [g for g in self.groups if g.last_error and g.last_error >= when]
        return sorted(found, key=lambda g: g.last_error, reverse=True)


def summarize(alerts, base: str, since: datetime, until: datetime, calls=frozenset(),
              senders=frozenset()) -> Summary:
    """The line's error and warning alerts by code, most recent code first."""
    groups, others = {}, 0
    for alert in alerts:
        if alert.level not in LEVELS:
            continue
        if not concerns(alert, base, calls, senders):
            others += 1
            continue
        groups.setdefault(alert.code, Group(alert.code)).add(alert)
    ordered = sorted(groups.values(), key=lambda g: g.last, reverse=True)
    return Summary(base, since, until, ordered, others)


# -- showing ---------------------------------------------------------------------------------

def _at(when: datetime, tz: tzinfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def text(summary: Summary, tz: tzinfo) -> str:
    """The summary for a terminal: a header, then a line per code and what to do."""
    zone = getattr(tz, "key", None) or str(tz)
    lines = [f"Twilio alerts about {summary.base} since {_at(summary.since, tz)} ({zone}): "
             f"{summary.count or 'none'}"]
    for g in summary.groups:
        title, todo = CODES.get(g.code, (None, None))
        paths = ", ".join(p for p, _ in g.paths.most_common(3))
        lines.append(f"{g.code:<6} {g.level:<8}{g.count:>4}x  last {_at(g.last, tz)}  {paths}")
        lines.append(f"       {title}: {todo}" if title else f"       {g.example or 'no text'}")
        lines.append(f"       {doc_url(g.code)}")
    if summary.others:
        lines.append(f"({summary.others} alert(s) about other URLs of the account left out)")
    return "\n".join(lines) + "\n"


def as_json(summary: Summary) -> dict:
    """The summary as plain data (`ivr twilio alerts --json`)."""
    return {
        "base": summary.base,
        "since": summary.since.isoformat(),
        "until": summary.until.isoformat(),
        "alerts": summary.count,
        "others": summary.others,
        "codes": [{
            "code": g.code, "level": g.level, "count": g.count, "errors": g.errors,
            "last_seen": g.last.isoformat(), "paths": dict(g.paths.most_common()),
            "title": CODES.get(g.code, ("", ""))[0], "what_to_do": CODES.get(g.code, ("", ""))[1],
            "more_info": doc_url(g.code), "example": g.example,
        } for g in summary.groups],
    }


# -- the line's calls ------------------------------------------------------------------------

def calls_since(database_url: str, instance: str, since: datetime) -> frozenset[str] | None:
    """The SIDs of the calls the call store recorded since `since`; None when it cannot be
    read (off, missing, unmigrated, unreachable). The default SQLite file is never made here."""
    from pathlib import Path

    import sqlalchemy as sa

    from . import store

    url, default = store.url_for(database_url, instance)
    if default and not (Path(instance) / store.SQLITE_FILE).exists():
        return None
    try:
        engine = store.create_engine(url)
    except store.StoreError:
        return None
    try:
        store.check(engine)
        with engine.connect() as c:
            rows = c.execute(sa.select(store.turns.c.call_sid).where(store.turns.c.at >= since)
                             .distinct())
            return frozenset(r.call_sid for r in rows)
    except (store.StoreError, sa.exc.SQLAlchemyError):
        return None
    finally:
        engine.dispose()

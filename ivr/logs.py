"""One structured line per webhook: the call, where it was, the key, what it got, how long.

    call=CA12… from=+********4567 to=+********0100 route=turn state=at=3,s=1 input=2
    outcome=step:4 status=200 ms=1.2

Everything in it comes from the caller or the network, so values are cut short and quoted
when unusual (one line per webhook, whatever is sent), and phone numbers are masked.
"""

import json
import logging
import re
import time
from functools import lru_cache
from time import perf_counter

from flask import g, request

from .params import params

log = logging.getLogger("ivr.webhook")

#: Values written as they are; anything else is JSON-quoted so it cannot break the line.
_PLAIN = re.compile(r"[\w.:+*#@/,=-]+", re.ASCII)
LIMIT = 40
#: The call state in the URL (see flow.State.query): all of the query worth logging, since a
#: GET webhook's query also carries the caller's number.
STATE_KEYS = ("at", "s", "w")


def configure() -> None:
    """Send INFO and up to stderr, one line each, for the commands that run the line.

    Called before create_app, so Flask adds no second handler of its own.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # No format here or in gunicorn's shows the source file and line of a log call, so
    # logging need not walk the stack to find them for every record (the logging HOWTO's
    # "Optimization" advice). Process and thread stay: gunicorn's format prints them.
    logging._srcfile = None


class _Formatter(logging.Formatter):
    """logging's own format, with the date and time worked out once a second, not per line."""

    _stamp = (None, "")  # (second, its text), one tuple so threads never see half an update

    def formatTime(self, record, datefmt=None):
        second = int(record.created)
        cached, text = self._stamp
        if second != cached:
            text = time.strftime(self.default_time_format, self.converter(second))
            self._stamp = (second, text)
        return self.default_msec_format % (text, record.msecs)


def value(v, limit: int = LIMIT) -> str:
    """`v` safe for a key=value log line: short, one line, quoted if unusual; '-' if empty."""
    if v is None or v == "":
        return "-"
    v = str(v)
    if len(v) > limit:
        v = v[:limit] + "..."
    return _quoted(v)


# A call's every turn logs the same CallSid, numbers and states: worked out once each. Only
# short strings are cached, so a caller's huge values cannot fill the memory.
@lru_cache(maxsize=4096)
def _quoted(v: str) -> str:
    return v if _PLAIN.fullmatch(v) else json.dumps(v)


def mask(number) -> str:
    """A phone number (or client name) with all but its last 4 characters hidden."""
    if not number:
        return "-"
    number = str(number)
    return _masked(number) if len(number) <= LIMIT else _mask(number)


def _mask(number: str) -> str:
    plus = "+" if number.startswith("+") else ""
    rest = number[len(plus):]
    shown = rest[-4:] if len(rest) > 4 else ""
    return value(plus + "*" * min(len(rest) - len(shown), 12) + shown)


_masked = lru_cache(maxsize=4096)(_mask)


def call_sid() -> str:
    return value(params().get("CallSid"))


def start(ctx=None, req=None) -> None:
    """Start the webhook's log line: its clock and route (`ctx`, `req`: `g` and `request`,
    if already looked up)."""
    ctx = ctx or g._get_current_object()
    ctx.started = perf_counter()
    ctx.route = ((req or request).endpoint or "").rpartition(".")[2]


def finish(response):
    """after_request: write the webhook's line. A log line never fails a call."""
    try:
        if log.isEnabledFor(logging.INFO):
            log.info(line(response.status_code))  # no args: logging leaves a '%' in it alone
    except Exception:
        log.exception("cannot write the webhook log line")
    return response


def state(query) -> str:
    """The call state in a webhook's query, as the log line shows it (at=3,s=1)."""
    return ",".join(f"{k}={query[k]}" for k in STATE_KEYS if k in query)


def line(status: int) -> str:
    """The webhook's log line, as the module docstring shows it."""
    now = perf_counter()
    ctx = g._get_current_object()  # one proxy look-up, not one per field: this runs per turn
    values = ctx.get("twilio_params")
    if values is None:
        values = params()
    shown = ctx.get("state")  # the turn view parsed it already
    if shown is None:
        shown = state(request.args)
    ms = (now - ctx.get("started", now)) * 1000
    route = ctx.get("route")
    if route is None:
        route = (request.endpoint or "").rpartition(".")[2]
    get = values.get
    # route and outcome are the line's own words; everything else came from the request.
    return (
        f"call={value(get('CallSid'))} from={mask(get('From'))} "
        f"to={mask(get('To'))} route={route or '-'} state={value(shown)} "
        f"input={value(get('Digits'))} outcome={ctx.get('outcome') or '-'} "
        f"status={status} ms={ms:.1f}"
    )

"""One structured line per webhook: the call, where it was, the key, what it got, how long.

    call=CA12… from=+********4567 to=+********0100 route=turn state=at=3,s=1 input=2
    outcome=step:4 status=200 ms=1.2

Everything in it comes from the caller or the network, so values are cut short and quoted
when unusual (one line per webhook, whatever is sent), and phone numbers are masked.
"""

import json
import logging
import re
from time import perf_counter
from urllib.parse import parse_qsl

from flask import g, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def value(v, limit: int = LIMIT) -> str:
    """`v` safe for a key=value log line: short, one line, quoted if unusual; '-' if empty."""
    if v is None or v == "":
        return "-"
    v = str(v)
    if len(v) > limit:
        v = v[:limit] + "..."
    return v if _PLAIN.fullmatch(v) else json.dumps(v)


def mask(number) -> str:
    """A phone number (or client name) with all but its last 4 characters hidden."""
    if not number:
        return "-"
    number = str(number)
    plus = "+" if number.startswith("+") else ""
    rest = number[len(plus):]
    shown = rest[-4:] if len(rest) > 4 else ""
    return value(plus + "*" * min(len(rest) - len(shown), 12) + shown)


def twilio_params():
    """Twilio's parameters: the form of a POST, the query of a GET; read once per request.

    Raises HTTPException if the body cannot be read (too large).
    """
    values = g.get("twilio_params")
    if values is None:
        if request.method != "POST":
            values = request.args
        elif request.mimetype == "application/x-www-form-urlencoded":
            # What Twilio always sends, parsed straight from the body: werkzeug's general form
            # parser cost a third of a step webhook's time (bench/hotspots.py). get_data()
            # caches the body, so request.form still works after this.
            body = request.get_data()
            if body or not request.content_length:
                values = MultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            else:
                values = request.form  # someone parsed the form first: the body is gone
        else:
            values = request.form
        g.twilio_params = values
    return values


def params():
    """Twilio's parameters ({} if the body cannot be read)."""
    try:
        return twilio_params()
    except HTTPException:
        return {}


def call_sid() -> str:
    return value(params().get("CallSid"))


def start() -> None:
    """before_request: start the clock."""
    g.started = perf_counter()


def finish(response):
    """after_request: write the webhook's line. A log line never fails a call."""
    try:
        if log.isEnabledFor(logging.INFO):
            log.info("%s", line(response.status_code))
    except Exception:
        log.exception("cannot write the webhook log line")
    return response


def line(status: int) -> str:
    """The webhook's log line, as the module docstring shows it."""
    ms = (perf_counter() - g.get("started", perf_counter())) * 1000
    values = params()
    req = request._get_current_object()  # one proxy look-up, not one per field
    args = req.args
    state = ",".join(f"{k}={args[k]}" for k in STATE_KEYS if k in args)
    route = (req.endpoint or "").rpartition(".")[2]
    get = values.get
    return (
        f"call={value(get('CallSid'))} from={mask(get('From'))} "
        f"to={mask(get('To'))} route={value(route)} state={value(state)} "
        f"input={value(get('Digits'))} outcome={value(g.get('outcome'))} "
        f"status={status} ms={ms:.1f}"
    )

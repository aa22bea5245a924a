"""One structured line per webhook: the call, where it was, the key, what it got, how long.

    call=CA12… from=+********4567 to=+********0100 route=turn state=at=3,s=1 input=2
    outcome=step:4 status=200 ms=1.2

Everything in it comes from the caller or the network, so values are cut short and quoted
when unusual (one line per webhook, whatever is sent), phone numbers are masked, and so are
the long numbers a caller says or keys in (speech.DigitMask).
"""

import json
import logging
import re
from collections.abc import Callable, Mapping
from time import perf_counter

from flask import Response, g, request

from .speech import DigitMask

#: Hides runs of 4 digits or more when no number words are given (they come from the content).
DIGITS = DigitMask()

log = logging.getLogger("ivr.webhook")

#: Values written as they are; anything else is JSON-quoted so it cannot break the line.
_PLAIN = re.compile(r"[\w.:+*#@/,=-]+", re.ASCII)
LIMIT = 40
#: The call state in the URL (see flow.State.query): all of the query worth logging, since a
#: GET webhook's query also carries the caller's number.
STATE_KEYS = ("at", "step", "s", "w", "slow", "t")


def configure() -> None:
    """Send INFO and up to stderr, one line each, for the commands that run the line.

    Called before create_app, so Flask adds no second handler of its own.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic tells of every plugin and migration step at INFO: only its warnings matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)


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
    number = str(number)[:LIMIT]
    plus = "+" if number.startswith("+") else ""
    rest = number[len(plus):]
    shown = rest[-4:] if len(rest) > 4 else ""
    return value(plus + "*" * min(len(rest) - len(shown), 12) + shown)


def params() -> Mapping[str, str]:
    """Twilio's parameters ({} if the body cannot be read): for log lines, which never fail."""
    try:
        return request.values
    except Exception:
        return {}


def call_sid() -> str:
    return value(params().get("CallSid"))


def state(query) -> str:
    """The call state in a webhook's query, as the log line shows it (at=3,s=1)."""
    return ",".join(f"{k}={query[k]}" for k in STATE_KEYS if k in query)


def start() -> None:
    """Start the webhook's clock."""
    g.started = perf_counter()


def finish(response: Response, hide: Callable[[str | None], str | None] = DIGITS.mask) -> Response:
    """after_request: write the webhook's line (`hide`: hides the numbers in what the caller
    said or keyed in). A log line never fails a call."""
    try:
        if log.isEnabledFor(logging.INFO):
            log.info("%s", line(response.status_code, hide))
    except Exception:
        log.exception("cannot write the webhook log line")
    return response


def line(status: int, hide=DIGITS.mask) -> str:
    """The webhook's log line, as the module docstring shows it."""
    ms = (perf_counter() - g.get("started", perf_counter())) * 1000
    values = params()
    heard = hide(values.get("Digits") or values.get("SpeechResult"))
    route = (request.endpoint or "").rpartition(".")[2]
    # route and outcome are the line's own words; everything else came from the request.
    return (
        f"call={value(values.get('CallSid'))} from={mask(values.get('From'))} "
        f"to={mask(values.get('To'))} route={route or '-'} state={value(state(request.args))} "
        f"input={value(heard)} outcome={g.get('outcome') or '-'} "
        f"status={status} ms={ms:.1f}"
    )

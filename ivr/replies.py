"""What every voice webhook shares: the guard (Twilio's signature, the log line, an apology
for anything that breaks), the reply that turns a flow Turn into its TwiML, and the record of
the turn in the call store. `ivr.voice` (the guide) and `ivr.person` (a person, messages,
call backs) are blueprints with this guard.
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Response, g, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from . import logs, security
from . import store as store_mod
from .checks import is_check
from .flow import AGENT, CALLBACK_ASK, PERSON_PLACES, RESUME, STEP, State, Turn
from .line import Line, current_line
from .settings import is_e164

log = logging.getLogger("ivr.voice")


def _hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


#: The last resort when even the apology cannot be rendered: built once at import, from no
#: content, so it cannot fail during a call.
HANGUP = _hangup()


def guard(bp) -> None:
    """Give a voice blueprint the line's guard: the log line's clock, the signature check
    (only Twilio, or a way in such as the web phone's pass, gets in), the log line, and an
    apology with the menu instead of Twilio's error voice."""

    @bp.before_request
    def check() -> Response | None:
        logs.start()
        return security.check()

    bp.after_request(log_line)
    bp.errorhandler(Exception)(apologise)


def log_line(response: Response) -> Response:
    """The webhook's log line, with the numbers a caller spoke hidden as in the store."""
    return logs.finish(response, current_line().content.digits.mask)


def apologise(e: Exception) -> Response:
    """Whatever broke, the caller hears an apology and the menu, not Twilio's error voice."""
    try:
        route = (request.endpoint or "").rpartition(".")[2]
        if isinstance(e, HTTPException):  # e.g. a form too large to read: not a bug of ours
            log.warning("webhook answered with an apology: call=%s route=%s %s",
                        logs.call_sid(), route, e)
        else:
            log.exception("webhook failed: call=%s route=%s", logs.call_sid(), route)
        line = current_line()
        query: Mapping[str, str]
        try:
            query = request.args
        except Exception:  # a query werkzeug cannot read (bytes that are not UTF-8)
            query = {}
        return reply(line, logs.params(), line.flow.failed(query), "error")
    except Exception:
        log.exception("cannot even apologise: the call hangs up")
        g.outcome = "error:hangup"
        return Response(HANGUP, mimetype="text/xml")


def reply(line: Line, values: Mapping[str, str], turn: Turn, note: str = "", before: State | None = None,
          pressed: str | None = None) -> Response:
    """The TwiML of `turn`, which followed `pressed` (a key, None for silence) at `before`
    (None: the call's start); `note` (lost, error, fallback) goes in the log line. `line` is
    the app's Line and `values` the request's parameters, which the view has already read."""
    where = "dial" if turn.action == AGENT else turn.where
    g.outcome = f"{note}:{where}" if note else where
    base = line.base_url(request)
    if turn.action == AGENT:  # the one document that holds the caller's number
        document = line.twiml.dial(turn, base, caller_number(values))
    elif turn.action == CALLBACK_ASK:  # the read-back holds the number's last digits
        document = line.twiml.render(turn, base)
    else:
        document = line.documents(base)[turn]
    if line.store:
        record(line, values, turn, where, note, before, pressed)
    return Response(document, mimetype="text/xml")


def record(line: Line, values: Mapping[str, str], turn: Turn, where: str, note: str,
           before: State | None, pressed: str | None) -> None:
    """Queue the turn for the call store: never blocks, never fails the call. The words
    said are kept with their long numbers hidden; checks are marked as such."""
    assert line.store is not None  # reply() records only when there is a store
    try:
        words = values.get("SpeechResult") if not values.get("Digits") else None
        if before is None:
            place, step = (note or "start"), None
        else:
            place = before.at
            step = before.step if before.at in (STEP, RESUME, *PERSON_PLACES) and before.step else None
        line.store.record(store_mod.Turn(
            call_sid=values.get("CallSid", ""), caller=values.get("From"),
            at=datetime.now(UTC), place=place, step=step,
            input="speech" if words else (pressed if pressed and len(pressed) == 1 else "-"),
            words=line.content.digits.mask(words), action=turn.action or note, outcome=where,
            slow=turn.slow, check=is_check(values),
        ))
    except Exception:
        log.exception("cannot queue the turn for the call store")


def caller_number(values: Mapping[str, str]) -> str | None:
    """The caller's own number, when Twilio gives one (not 'anonymous', not a browser)."""
    number = values.get("From", "")
    return number if is_e164(number) and number not in store_mod.WITHHELD else None

"""Twilio's voice webhooks: a thin layer from HTTP to the flow and back as TwiML.

A request is checked (security.check), its state read from the URL, the flow gives the next
turn, and `reply` returns that turn's document, made when the line started. Every answer
is TwiML, whatever arrives, except the 403 of a request Twilio did not sign: for any other
status, or a body that is not TwiML, Twilio plays its "application error" voice.
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, g, request

from . import logs, person
from . import store as store_mod
from .checks import is_check
from .flow import AGENT, CALLBACK_ASK, CALLBACK_SAVE, SMS
from .line import Line, current_line
from .replies import HANGUP, apologise, caller_number, guard, record, reply

__all__ = ["bp", "HANGUP", "apologise", "caller_number", "record", "reply"]

bp = Blueprint("voice", __name__, url_prefix="/voice")
guard(bp)

log = logging.getLogger(__name__)


@bp.route("", methods=("GET", "POST"))
def answer() -> Response:
    """'A call comes in': welcome and main menu, or the offer to go on from the step a
    returning caller reached last time."""
    line, values = current_line(), request.values
    return reply(line, values, line.flow.start(resume_at=line.resume_step(values)))


@bp.route("/turn", methods=("GET", "POST"))
def turn() -> Response:
    """A key (or silence) at the point of the call carried in the URL."""
    line, values = current_line(), request.values
    # A plain dict: the state's optional fields are often absent, and a werkzeug MultiDict
    # answers get() for a missing key by raising and catching an exception (~2 µs each).
    state = line.flow.parse(request.args.to_dict())
    if state is None:
        return reply(line, values, line.flow.lost(), "lost")
    # No Digits nor SpeechResult (a <Redirect> after the <Gather> timed out) is silence.
    pressed = line.key(state, values)
    turn = line.flow.next(state, pressed)
    if turn.action == SMS:
        turn = line.flow.texted(state, text_the_caller(line, values))
    elif turn.action == AGENT:
        assert line.agent is not None  # the flow asks for a person only when one is set
        closed = line.agent.closed()
        turn = line.flow.dial(state) if closed is None else line.flow.unreachable(state, closed)
    elif turn.action == CALLBACK_ASK:
        turn = person.read_back(line, values, state)
    elif turn.action == CALLBACK_SAVE:
        turn = person.keep_callback(line, values, state)
    return reply(line, values, turn, before=state, pressed=pressed)


def text_the_caller(line: Line, values: Mapping[str, str]) -> str:
    """Send the content file's text message to the caller's own number: how it went, as
    flow.SMS_OUTCOMES names it. Only a request Twilio signed can cost a text."""
    number = caller_number(values)
    if g.way_in:
        # A trial call through another way in (the web phone): it hears what a caller would,
        # and its page shows the message, but nothing is sent to anyone.
        log.info("sms not sent: call=%s is a trial call, not signed by Twilio", logs.call_sid())
        return "sent"
    if not g.signed:
        log.warning("sms refused: call=%s the request is not signed by Twilio", logs.call_sid())
        return "failed"
    if number is None:
        return "not_mobile"
    if not line.may_text(number):
        log.info("sms limit: call=%s from=%s", logs.call_sid(), logs.mask(number))
        return "limit"
    assert line.texter is not None and line.sms_limit is not None  # 7 is a key only with texts on
    result = line.texter.send(number, line.content.sms)
    if result.sent:
        line.sms_limit.count(number)
        return "sent"
    return "not_mobile" if result.reason == "not_mobile" else "failed"


@bp.route("/status", methods=("GET", "POST"))
def status() -> Response:
    """Twilio's status callback: how a call ended and how long it lasted, for the call
    store. Twilio reads no TwiML here."""
    values = request.values
    g.outcome = "status:" + logs.value(values.get("CallStatus"))
    store = current_line().store
    if store:
        duration = values.get("CallDuration", "")
        store.record(store_mod.CallStatus(
            call_sid=values.get("CallSid", ""), status=values.get("CallStatus", ""),
            duration_seconds=int(duration) if duration.isdigit() and len(duration) < 9 else None,
            at=datetime.now(UTC), check=is_check(values),
        ))
    return Response("", 204)


@bp.route("/fallback", methods=("GET", "POST"))
def fallback() -> Response:
    """The number's Fallback URL: Twilio could not get TwiML from ErrorUrl (ErrorCode says why).

    The caller hears the apology and the menu; the failed URL's state counts the failure, so
    a line that keeps failing still ends the call.
    """
    values = request.values
    error_url = values.get("ErrorUrl", "")
    try:
        parts = urlsplit(error_url)
        query = dict(parse_qsl(parts.query))
    except ValueError:
        parts, query = None, {}
    # The path only: a GET webhook's query holds the caller's number.
    log.warning(
        "fallback: call=%s error=%s url=%s", logs.call_sid(),
        logs.value(values.get("ErrorCode")),
        logs.value(parts.path if parts else error_url, 200),
    )
    line = current_line()
    return reply(line, values, line.flow.failed(query), "fallback")


@bp.route("/", defaults={"rest": ""}, methods=("GET", "POST"))
@bp.route("/<path:rest>", methods=("GET", "POST"))
def unknown(rest: str) -> Response:
    """A /voice URL the line does not have (a stale link, a typo in the number's settings)."""
    line = current_line()
    return reply(line, request.values, line.flow.lost(), "lost")

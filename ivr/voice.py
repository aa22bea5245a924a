"""Twilio's voice webhooks: a thin layer from HTTP to the flow and back as TwiML.

A request is checked (security.check), its state read from the URL, the flow gives the next
turn, and `reply` returns that turn's document, made when the line started. Every answer
is TwiML, whatever arrives, except the 403 of a request Twilio did not sign: for any other
status, or a body that is not TwiML, Twilio plays its "application error" voice.
"""

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, g, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from . import logs, security
from . import store as store_mod
from .checks import is_check
from .flow import AGENT, RESUME, SMS, STEP, State, Turn
from .line import Line, current_line
from .settings import is_e164

bp = Blueprint("voice", __name__, url_prefix="/voice")

log = logging.getLogger(__name__)


@bp.before_request
def check():
    """Start the log line's clock, then refuse what Twilio did not sign."""
    logs.start()
    return security.check()


@bp.after_request
def log_line(response):
    """The webhook's log line, with the numbers a caller spoke hidden as in the store."""
    return logs.finish(response, current_line().content.digits.mask)


def _hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


#: The last resort when even the apology cannot be rendered: built once at import, from no
#: content, so it cannot fail during a call.
HANGUP = _hangup()


def reply(line: Line, values, turn: Turn, note: str = "", before: State | None = None,
          pressed: str | None = None) -> Response:
    """The TwiML of `turn`, which followed `pressed` (a key, None for silence) at `before`
    (None: the call's start); `note` (lost, error, fallback) goes in the log line. `line` is
    the app's Line and `values` the request's parameters, which the view has already read."""
    where = "dial" if turn.action == "agent" else turn.where
    g.outcome = f"{note}:{where}" if note else where
    base = line.base_url(request)
    if turn.action == "agent":  # the one document that holds the caller's number
        document = line.twiml.dial(turn, base, caller_number(values))
    else:
        document = line.documents(base)[turn]
    if line.store:
        record(line, values, turn, where, note, before, pressed)
    return Response(document, mimetype="text/xml")


def record(line: Line, values, turn: Turn, where: str, note: str, before: State | None,
           pressed: str | None):
    """Queue the turn for the call store: never blocks, never fails the call. The words
    said are kept with their long numbers hidden; checks are marked as such."""
    try:
        words = values.get("SpeechResult") if not values.get("Digits") else None
        if before is None:
            place, step = (note or "start"), None
        else:
            place, step = before.at, before.step if before.at in (STEP, RESUME) else None
        line.store.record(store_mod.Turn(
            call_sid=values.get("CallSid", ""), caller=values.get("From"),
            at=datetime.now(UTC), place=place, step=step,
            input="speech" if words else (pressed if pressed and len(pressed) == 1 else "-"),
            words=line.content.digits.mask(words), action=turn.action or note, outcome=where,
            slow=turn.slow, check=is_check(values),
        ))
    except Exception:
        log.exception("cannot queue the turn for the call store")


def caller_number(values) -> str | None:
    """The caller's own number, when Twilio gives one (not 'anonymous', not a browser)."""
    number = values.get("From", "")
    return number if is_e164(number) and number not in store_mod.WITHHELD else None


@bp.route("", methods=("GET", "POST"))
def answer():
    """'A call comes in': welcome and main menu, or the offer to go on from the step a
    returning caller reached last time."""
    line, values = current_line(), request.values
    return reply(line, values, line.flow.start(resume_at=line.resume_step(values)))


@bp.route("/turn", methods=("GET", "POST"))
def turn():
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
        turn = line.flow.dial(state) if line.agent.is_open() else line.flow.agent_closed(state)
    return reply(line, values, turn, before=state, pressed=pressed)


def text_the_caller(line: Line, values) -> str:
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
    result = line.texter.send(number, line.content.sms)
    if result.sent:
        line.sms_limit.count(number)
        return "sent"
    return "not_mobile" if result.reason == "not_mobile" else "failed"


@bp.route("/dialed", methods=("GET", "POST"))
def dialed():
    """Back from <Dial>: the call ends after a conversation; otherwise the menu again."""
    line, values = current_line(), request.values
    state = line.flow.parse(request.args.to_dict())
    if state is None:
        return reply(line, values, line.flow.lost(), "lost")
    answered = values.get("DialCallStatus") == "completed"
    return reply(line, values, line.flow.after_dial(state, answered), before=state)


@bp.route("/status", methods=("GET", "POST"))
def status():
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
def fallback():
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
def unknown(rest):
    """A /voice URL the line does not have (a stale link, a typo in the number's settings)."""
    line = current_line()
    return reply(line, request.values, line.flow.lost(), "lost")


@bp.errorhandler(Exception)
def apologise(e):
    """Whatever broke, the caller hears an apology and the menu, not Twilio's error voice."""
    try:
        route = (request.endpoint or "").rpartition(".")[2]
        if isinstance(e, HTTPException):  # e.g. a form too large to read: not a bug of ours
            log.warning("webhook answered with an apology: call=%s route=%s %s",
                        logs.call_sid(), route, e)
        else:
            log.exception("webhook failed: call=%s route=%s", logs.call_sid(), route)
        line = current_line()
        try:
            query = request.args
        except Exception:  # a query werkzeug cannot read (bytes that are not UTF-8)
            query = {}
        return reply(line, logs.params(), line.flow.failed(query), "error")
    except Exception:
        log.exception("cannot even apologise: the call hangs up")
        g.outcome = "error:hangup"
        return Response(HANGUP, mimetype="text/xml")

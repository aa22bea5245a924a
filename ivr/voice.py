"""Twilio's voice webhooks: a thin layer from HTTP to the flow and back as TwiML.

A request is checked (security.check), its state read from the URL, the flow gives the next
turn, and `reply` returns that turn's document, made when the line started. Every answer
is TwiML, whatever arrives, except the 403 of a request Twilio did not sign: for any other
status, or a body that is not TwiML, Twilio plays its "application error" voice.
"""

import logging
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, current_app, g, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from . import logs, security
from .flow import Turn, key

bp = Blueprint("voice", __name__, url_prefix="/voice")

log = logging.getLogger(__name__)


@bp.before_request
def check():
    """Start the log line's clock, then refuse what Twilio did not sign."""
    logs.start()
    return security.check()


bp.after_request(logs.finish)


def _hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


#: The last resort when even the apology cannot be rendered: built once at import, from no
#: content, so it cannot fail during a call.
HANGUP = _hangup()


def reply(turn: Turn, note: str = "") -> Response:
    """The TwiML of `turn`; `note` (lost, error, fallback) goes in the log line."""
    line = current_app.extensions["ivr"]
    g.outcome = f"{note}:{turn.where}" if note else turn.where
    return Response(line.documents(line.base_url(request))[turn], mimetype="text/xml")


@bp.route("", methods=("GET", "POST"))
def answer():
    """'A call comes in': welcome and main menu."""
    return reply(current_app.extensions["ivr"].flow.start())


@bp.route("/turn", methods=("GET", "POST"))
def turn():
    """A key (or silence) at the point of the call carried in the URL."""
    flow = current_app.extensions["ivr"].flow
    state = flow.parse(request.args)
    if state is None:
        return reply(flow.lost(), "lost")
    # No Digits (a <Redirect> after the <Gather> timed out) means silence.
    return reply(flow.next(state, key(request.values.get("Digits"))))


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
    return reply(current_app.extensions["ivr"].flow.failed(query), "fallback")


@bp.route("/", defaults={"rest": ""}, methods=("GET", "POST"))
@bp.route("/<path:rest>", methods=("GET", "POST"))
def unknown(rest):
    """A /voice URL the line does not have (a stale link, a typo in the number's settings)."""
    return reply(current_app.extensions["ivr"].flow.lost(), "lost")


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
        return reply(current_app.extensions["ivr"].flow.failed(request.args), "error")
    except Exception:
        log.exception("cannot even apologise: the call hangs up")
        g.outcome = "error:hangup"
        return Response(HANGUP, mimetype="text/xml")

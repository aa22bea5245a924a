"""Twilio's voice webhooks: a thin layer from HTTP to the flow and back as TwiML.

Every answer here is TwiML, whatever arrives, except the 403 of a request Twilio did not
sign: for any other status, or a body that is not TwiML, Twilio plays its "application
error" voice to the caller.
"""

import logging
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, current_app, g, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from . import logs, security
from .flow import STEP, Turn

bp = Blueprint("voice", __name__, url_prefix="/voice")
# In this order: the clock starts before the signature check, so refusals are timed too.
bp.before_request(logs.start)
bp.before_request(security.verify)
bp.after_request(logs.finish)

log = logging.getLogger(__name__)


def _hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


#: The last resort when even the apology cannot be rendered: built once at import, from no
#: content, so it cannot fail during a call.
HANGUP = _hangup()


def _line():
    return current_app.extensions["ivr"]


def _base() -> str:
    """What every URL in the TwiML starts with: the public base URL, or this app's root."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") or request.script_root


def _key() -> str | None:
    """The keys the caller pressed, or None for silence (a <Redirect> carries no Digits)."""
    return logs.twilio_params().get("Digits") or None


def _where(turn: Turn) -> str:
    """Where a turn leaves the call, for the log line: step:4, menu, pick, end or hangup."""
    if turn.state is None:
        return "hangup"
    return f"step:{turn.state.step}" if turn.state.at == STEP else turn.state.at


def _reply(turn: Turn, note: str = "") -> Response:
    line = _line()
    g.outcome = f"{note}:{_where(turn)}" if note else _where(turn)
    return Response(line.twiml.render(turn, _base()), mimetype="text/xml")


@bp.route("", methods=("GET", "POST"))
def answer():
    """'A call comes in': welcome and main menu."""
    return _reply(_line().flow.start())


@bp.route("/turn", methods=("GET", "POST"))
def turn():
    """A key (or silence) at the point of the call carried in the URL."""
    flow = _line().flow
    state = flow.parse(request.args)
    if state is None:
        return _reply(flow.lost(), "lost")
    return _reply(flow.next(state, _key()))


@bp.route("/fallback", methods=("GET", "POST"))
def fallback():
    """The number's Fallback URL: Twilio could not get TwiML from ErrorUrl (ErrorCode says why).

    The caller hears the apology and the menu; the failed URL's state counts the failure, so
    a line that keeps failing still ends the call.
    """
    values = logs.params()
    error_url = values.get("ErrorUrl", "")
    try:
        parts = urlsplit(error_url)
        query = dict(parse_qsl(parts.query))
    except ValueError:
        parts, query = None, {}
    # The path only: a GET webhook's query holds the caller's number.
    log.warning(
        "fallback: call=%s error=%s url=%s", logs.call_sid(), logs.value(values.get("ErrorCode")),
        logs.value(parts.path if parts else error_url, 200),
    )
    return _reply(_line().flow.failed(query), "fallback")


@bp.route("/", defaults={"rest": ""}, methods=("GET", "POST"))
@bp.route("/<path:rest>", methods=("GET", "POST"))
def unknown(rest):
    """A /voice URL the line does not have (a stale link, a typo in the number's settings)."""
    return _reply(_line().flow.lost(), "lost")


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
        return _reply(_line().flow.failed(request.args), "error")
    except Exception:
        log.exception("cannot even apologise: the call hangs up")
        g.outcome = "error:hangup"
        return Response(HANGUP, mimetype="text/xml")

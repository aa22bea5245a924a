"""Twilio's voice webhooks: a thin layer from HTTP to the flow and back as TwiML."""

from flask import Blueprint, Response, current_app, g, request

from . import logs, security
from .flow import STEP, Turn

bp = Blueprint("voice", __name__, url_prefix="/voice")
# In this order: the clock starts before the signature check, so refusals are timed too.
bp.before_request(logs.start)
bp.before_request(security.verify)
bp.after_request(logs.finish)


def _line():
    return current_app.extensions["ivr"]


def _base() -> str:
    """What every URL in the TwiML starts with: the public base URL, or this app's root."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") or request.script_root


def _key() -> str | None:
    """The keys the caller pressed, or None for silence (a <Redirect> carries no Digits)."""
    values = request.form if request.method == "POST" else request.args
    return values.get("Digits") or None


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

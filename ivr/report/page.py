"""The report as a self-contained HTML page (`ivr report --html`), and `/report`, which serves
it behind HTTP basic auth and a lockout against guessing (guard.Guard).

The page is a list of sections (SECTIONS), each a template of its own in
templates/report/, in the language the settings name (strings.py). A new section is a
template, its strings in each language, and its name in the list.
"""

from __future__ import annotations

import hmac
import logging
import math
from datetime import UTC, date, datetime, tzinfo

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from ..line import current_line
from ..store import inbox as inbox_mod
from .charts import charts
from .guard import Guard
from .strings import place, strings
from .summary import AFTER_NINE, CLOSED, DIAL_ENDINGS, STEP_ACTIONS, summarize

#: The user name /report asks for (the password is IVR_REPORT_PASSWORD).
REPORT_USER = "operator"
#: The page's sections, in order (templates/report/<name>.html).
SECTIONS = ("blind_spots", "cards", "inbox", "charts", "person", "per_step", "per_day", "wrong",
            "words", "ended")
#: The columns of the per-step, per-day and per-place (9) tables: keys of
#: summary["per_step"][step], summary["per_day"][day] and summary["person_per_place"][place],
#: each with its heading `col_<name>` in the strings.
STEP_COLUMNS = (*STEP_ACTIONS, "median_seconds")
DAY_COLUMNS = ("calls", "transfers", "messages", "callbacks")
PERSON_COLUMNS = ("asked", "transfers", "messages", "callbacks")
#: Where /report keeps its Guard in app.extensions.
GUARD = "ivr.report.guard"

log = logging.getLogger("ivr.report")


def html(summary: dict, language: str = "es", show_database: bool = True, *, tz: tzinfo = UTC,
         inbox: inbox_mod.Items | None = None, **context) -> str:
    """A self-contained page in `language`: the charts inline, the numbers in tables, times in
    `tz`. `show_database`: name the database read (its password masked) at the foot of the
    page. `inbox`: the open items, numbers in clear (only /report, behind its password,
    passes them); without it the page says how many wait and nothing more, so a file written
    to disk never holds a caller's number or a recording's URL. `context`: more for the
    sections' templates."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    t = strings(language)
    env = Environment(loader=PackageLoader("ivr", "templates"), autoescape=select_autoescape())
    return env.get_template("report.html").render(
        s=summary, t=t, lang=language, charts=charts(summary, t), place=lambda w: place(w, t),
        sections=SECTIONS, step_columns=STEP_COLUMNS, day_columns=DAY_COLUMNS,
        person_columns=PERSON_COLUMNS, dial_endings=DIAL_ENDINGS, closed_reasons=CLOSED,
        after_nine=AFTER_NINE, show_database=show_database, inbox=inbox,
        unreadable=inbox_mod.UNREADABLE, when=lambda at: _when(at, tz), **context)


def _when(at: datetime | str, tz: tzinfo) -> str:
    """A time of the store (a datetime, or its ISO text in the JSON) on the line's clock."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


# -- /report ---------------------------------------------------------------------------------

bp = Blueprint("report", __name__)


def init_app(app, line) -> None:
    """Serve /report for `line` (create_app does it when IVR_REPORT_PASSWORD is set)."""
    app.extensions[GUARD] = Guard(line.store.engine)
    app.register_blueprint(bp)


def _text(body: str, status: int, headers=None) -> Response:
    return Response(body + "\n", status, headers, mimetype="text/plain")


def _password_ok(auth, password: str) -> bool:
    user_ok = hmac.compare_digest((auth.username or "").encode(), REPORT_USER.encode())
    password_ok = hmac.compare_digest((auth.password or "").encode(), str(password).encode())
    return user_ok & password_ok


@bp.route("/report")
def page():
    """The report page (?since=YYYY-MM-DD, ?checks=1 to count checks), for the operator only.

    An address with too many failed logins gets 429 until its lockout ends, whatever it
    sends; a failed login is counted (a request without credentials, as a browser sends
    first, is only asked for them).
    """
    line = current_line()
    t = strings(line.settings.report_language)
    guard = current_app.extensions[GUARD]
    address = request.remote_addr or "-"
    auth = request.authorization
    try:
        until = guard.locked_until(address)
        if until is not None:
            seconds = max(1, math.ceil((until - guard.clock()).total_seconds()))
            return _text(t["too_many"].format(minutes=math.ceil(seconds / 60)), 429,
                         {"Retry-After": str(seconds)})
        if auth is None or auth.type != "basic" or not _password_ok(auth, line.settings.report_password):
            if auth is not None:
                guard.failed(address)
            return _text(t["auth_required"], 401,
                         {"WWW-Authenticate": 'Basic realm="ivr report", charset="UTF-8"'})
        since = request.args.get("since")
        try:
            since = date.fromisoformat(since) if since else None
        except ValueError:
            return _text(t["bad_since"], 400)
        summary = summarize(line.store.engine, since, steps=line.content.steps,
                            tz=line.settings.timezone, include_checks=request.args.get("checks") == "1",
                            hide=line.content.digits.mask)
        # The one place besides `ivr inbox` where a caller's number shows in clear: never
        # logged, and the page is never cached (below).
        inbox = inbox_mod.items(line.store.engine, line.store.secret)
    except SQLAlchemyError as e:
        # Without the store there is no report, nor a count of guesses: refused, not opened.
        log.warning("report: the call store is not answering: %s", type(e).__name__)
        return _text(t["store_down"], 503, {"Retry-After": "60"})
    # Served on the internet: no database host or file path, even behind the password.
    response = Response(html(summary, line.settings.report_language, show_database=False,
                             tz=line.settings.timezone, inbox=inbox), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # The recordings' links leave for api.twilio.com: they carry no Referer from this page.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

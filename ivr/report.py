"""Where callers get stuck: the call store summed up, as text, JSON or an HTML page with charts.

`summarize` reads the turns (and call statuses) since a date and returns plain numbers;
`text` and `html` present them. `/report` (the blueprint `bp`) serves the HTML page behind
HTTP basic auth when IVR_REPORT_PASSWORD is set; create_app registers it then.
"""

from __future__ import annotations

import hmac
import io
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, tzinfo

import sqlalchemy as sa
from flask import Blueprint, Response, request

from .line import current_line
from .store import statuses, turns

#: The user name /report asks for (the password is IVR_REPORT_PASSWORD).
REPORT_USER = "operator"
#: Most frequent words not understood that the report lists.
TOP_WORDS = 15


def _since_utc(since, tz: tzinfo) -> datetime | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=tz)
    return datetime.combine(since, time(), tz)


def _place(place: str, step) -> str:
    return f"step:{step}" if place == "step" and step else place


def summarize(engine, since: date | datetime | None = None, *, steps: int | None = None,
              tz: tzinfo = UTC) -> dict:
    """The report's numbers for calls that started at or after `since` (a date is midnight in
    `tz`; None: every call kept). `steps`: the guide's steps (content.steps); by default the
    highest step seen. Days are counted in `tz`.
    """
    start = _since_utc(since, tz)
    query = sa.select(
        turns.c.call_sid, turns.c.at, turns.c.place, turns.c.step, turns.c.input, turns.c.words,
        turns.c.action, turns.c.outcome,
    ).order_by(turns.c.call_sid, turns.c.at, turns.c.id)
    status_query = sa.select(statuses.c.call_sid, statuses.c.status, statuses.c.duration_seconds)
    if start is not None:
        query = query.where(turns.c.at >= start)
        status_query = status_query.where(statuses.c.at >= start)
    with engine.connect() as c:
        rows = c.execute(query).all()
        status_rows = c.execute(status_query).all()

    calls = defaultdict(list)
    for row in rows:
        calls[row.call_sid].append(row)

    seen_steps = [int(r.outcome[5:]) for r in rows if r.outcome.startswith("step:") and r.outcome[5:].isdigit()]
    n_steps = steps or max(seen_steps, default=1)
    step_names = [str(n) for n in range(1, n_steps + 1)]

    per_day = Counter()
    reached = Counter()
    completed = 0
    ended = Counter()
    per_step = {s: Counter() for s in step_names}
    seconds = defaultdict(list)
    wrong = defaultdict(Counter)
    not_understood = Counter()
    sms_sent = sms_failed = transfers = resumed = line_hung_up = 0

    for call_turns in calls.values():
        per_day[call_turns[0].at.astimezone(tz).date().isoformat()] += 1
        heard = set()
        for i, t in enumerate(call_turns):
            if t.outcome.startswith("step:"):
                heard.add(t.outcome[5:])
                if i + 1 < len(call_turns):
                    seconds[t.outcome[5:]].append((call_turns[i + 1].at - t.at).total_seconds())
            if (t.place == "step" and str(t.step) in per_step
                    and t.action in ("repeat", "back", "slow", "silence", "wrong")):
                per_step[str(t.step)][t.action] += 1
            if t.action == "wrong":
                where = _place(t.place, t.step)
                wrong[where]["not_understood" if t.input == "speech" else "wrong_keys"] += 1
                if t.input == "speech" and t.words:
                    not_understood[t.words.strip().lower()] += 1
            sms_sent += t.action == "sms_sent"
            sms_failed += t.action == "sms_failed"
            transfers += t.action == "agent"
            resumed += t.action == "resume"
        for s in heard:
            reached[s] += 1
        completed += any(t.action == "conclusion" for t in call_turns)
        last = call_turns[-1]
        if last.outcome == "hangup":  # the line ended the call (silences, wrong keys, goodbye)
            line_hung_up += 1
            ended[_place(last.place, last.step)] += 1
        else:
            ended[last.outcome] += 1

    endings = Counter()
    durations = []
    for _sid, status, duration in {r.call_sid: r for r in status_rows}.values():
        endings[status] += 1
        if duration is not None:
            durations.append(duration)

    def median(values):
        return round(statistics.median(values), 1) if values else None

    return {
        "since": start.isoformat() if start else None,
        "steps": n_steps,
        "calls": len(calls),
        "reached_step": {s: reached[s] for s in step_names},
        "completed": completed,
        "calls_per_day": dict(sorted(per_day.items())),
        # Where each call was when it ended: the outcome of its last turn ("dial": sent to a
        # person), or where the caller was when the line said goodbye and hung up.
        "ended_at": dict(sorted(ended.items(), key=_where_order)),
        "line_hung_up": line_hung_up,
        "per_step": {
            s: {"repeat": c["repeat"], "back": c["back"], "slow": c["slow"],
                "silence": c["silence"], "wrong": c["wrong"],
                "median_seconds": median(seconds.get(s, []))}
            for s, c in per_step.items()
        },
        "wrong_per_place": {w: dict(c) for w, c in sorted(wrong.items(), key=_where_order)},
        "words_not_understood": dict(not_understood.most_common(TOP_WORDS)),
        "sms_sent": sms_sent,
        "sms_failed": sms_failed,
        "transfers": transfers,
        "resumed": resumed,
        "call_status": dict(endings.most_common()),
        "median_call_seconds": median(durations),
    }


_ORDER = {"start": 0, "menu": 1, "pick": 2, "step": 3, "end": 4, "hangup": 5, "dial": 6, "lost": 7}


def _where_order(item):
    where = item[0]
    kind, _, n = where.partition(":")
    return (_ORDER.get(kind, 9), int(n) if n.isdigit() else 0, where)


# -- text ------------------------------------------------------------------------------------

def text(summary: dict) -> str:
    """The report for a terminal."""
    out = []
    add = out.append
    since = f"since {summary['since'][:10]}" if summary["since"] else "(all records kept)"
    add(f"Calls {since}: {summary['calls']}")
    add(f"Completed (heard the conclusion): {summary['completed']}")
    calls = summary["calls"] or 1
    add("")
    add("Reached each step (calls):")
    for s, n in summary["reached_step"].items():
        add(f"  step {s:>2}  {n:6}  {100 * n / calls:5.1f}%  {'#' * round(40 * n / calls)}")
    add("")
    add("Where calls ended (last place):")
    for where, n in summary["ended_at"].items():
        add(f"  {where:10} {n:6}")
    add(f"  (the line hung up on {summary['line_hung_up']} of them: silence, wrong keys, goodbye)")
    add("")
    add("Per step:      repeat   back   slow silence  wrong  median s")
    for s, c in summary["per_step"].items():
        m = "-" if c["median_seconds"] is None else f"{c['median_seconds']:.1f}"
        add(f"  step {s:>2}  {c['repeat']:8} {c['back']:6} {c['slow']:6} {c['silence']:7} {c['wrong']:6} {m:>9}")
    if summary["wrong_per_place"]:
        add("")
        add("Wrong keys / words not understood, per place:")
        for where, c in summary["wrong_per_place"].items():
            add(f"  {where:10} {c.get('wrong_keys', 0):6} keys {c.get('not_understood', 0):6} words")
    if summary["words_not_understood"]:
        add("")
        add("Words not understood (most frequent):")
        for words, n in summary["words_not_understood"].items():
            add(f"  {n:6}  {words}")
    add("")
    add("Calls per day:")
    for day, n in summary["calls_per_day"].items():
        add(f"  {day}  {n:6}")
    add("")
    add(f"SMS sent: {summary['sms_sent']} (failed {summary['sms_failed']}); "
        f"transfers to a person: {summary['transfers']}; resumed: {summary['resumed']}")
    if summary["call_status"]:
        statuses_text = ", ".join(f"{k} {v}" for k, v in summary["call_status"].items())
        add(f"How calls ended (Twilio): {statuses_text}; median length "
            f"{summary['median_call_seconds'] if summary['median_call_seconds'] is not None else '-'} s")
    return "\n".join(out) + "\n"


# -- HTML with charts ------------------------------------------------------------------------

def _svg(figure, name: str) -> str:
    """A matplotlib figure as inline SVG (text kept as text; ids unique to this chart)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _bars(name, labels, values, title, color, horizontal=False):
    from matplotlib.figure import Figure  # the Agg-free object API: no pyplot, no global state

    figure = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = figure.add_subplot()
    if horizontal:
        bars = ax.barh(labels, values, color=color)
        ax.invert_yaxis()
    else:
        bars = ax.bar(labels, values, color=color)
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    if not horizontal and len(labels) > 10:
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return _svg(figure, name)


def charts(summary: dict) -> dict[str, str]:
    """The page's charts as inline SVG: funnel, drop-off, calls per day."""
    funnel_labels = [f"Paso {s}" for s in summary["reached_step"]] + ["Conclusión"]
    funnel_values = list(summary["reached_step"].values()) + [summary["completed"]]
    ended = {_label(where): n for where, n in summary["ended_at"].items()}
    per_day = summary["calls_per_day"]
    return {
        "funnel": _bars("funnel", funnel_labels, funnel_values, "Calls that reached each step",
                        "#2b6cb0", horizontal=True),
        "dropoff": _bars("dropoff", list(ended), list(ended.values()),
                         "Where calls ended (the caller's last place)", "#c05621"),
        "per_day": _bars("per_day", list(per_day), list(per_day.values()), "Calls per day", "#2f855a"),
    }


def _label(where: str) -> str:
    kind, _, n = where.partition(":")
    return f"Paso {n}" if kind == "step" else {"end": "Conclusión", "dial": "to a person"}.get(where, where)


def html(summary: dict, title: str = "Línea Alcanos: where callers get stuck") -> str:
    """A self-contained page: the charts inline, the numbers in tables."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("ivr", "templates"), autoescape=select_autoescape())
    return env.get_template("report.html").render(s=summary, charts=charts(summary), title=title)


# -- /report ---------------------------------------------------------------------------------

bp = Blueprint("report", __name__)


def _authorized(req) -> bool:
    auth = req.authorization
    password = current_line().settings.report_password
    if not password or auth is None or auth.type != "basic":
        return False
    user_ok = hmac.compare_digest((auth.username or "").encode(), REPORT_USER.encode())
    password_ok = hmac.compare_digest((auth.password or "").encode(), str(password).encode())
    return user_ok & password_ok


@bp.route("/report")
def page():
    """The report page (?since=YYYY-MM-DD), for the operator only."""
    if not _authorized(request):
        return Response("Authentication required.\n", 401,
                        {"WWW-Authenticate": 'Basic realm="ivr report", charset="UTF-8"'},
                        mimetype="text/plain")
    since = request.args.get("since")
    try:
        since = date.fromisoformat(since) if since else None
    except ValueError:
        return Response("since must be a date like 2026-11-01\n", 400, mimetype="text/plain")
    line = current_line()
    summary = summarize(line.store.engine, since, steps=line.content.steps, tz=line.settings.timezone)
    response = Response(html(summary), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response

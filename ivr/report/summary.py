"""The report's numbers: the call store's turns, call statuses and losses since a date,
summed up as plain data (JSON-ready) that the text, the page and the charts present."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, tzinfo

import sqlalchemy as sa

from ..store import losses, masked, statuses, turns

#: Most frequent words not understood that the report lists.
TOP_WORDS = 15
#: What a caller did on a step that the report counts, per step.
STEP_ACTIONS = ("repeat", "back", "slow", "silence", "wrong")


def _since_utc(since, tz: tzinfo) -> datetime | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=tz)
    return datetime.combine(since, time(), tz)


def _place(place: str, step) -> str:
    return f"{place}:{step}" if place in ("step", "resume") and step else place


def summarize(engine, since: date | datetime | None = None, *, steps: int | None = None,
              tz: tzinfo = UTC, include_checks: bool = False, hide=None) -> dict:
    """The report's numbers for calls that started at or after `since` (a date is midnight in
    `tz`; None: every call kept). `steps`: the guide's steps (content.steps); by default the
    highest step seen. Days are counted in `tz`.

    Checks (the doctor's self-check, web phone trial calls) are left out and counted apart,
    unless `include_checks`. `hide` hides long numbers in the words not understood (the
    content's DigitMask), for records kept before the webhooks hid them.
    """
    start = _since_utc(since, tz)
    query = sa.select(
        turns.c.call_sid, turns.c.at, turns.c.place, turns.c.step, turns.c.input, turns.c.words,
        turns.c.action, turns.c.outcome,
    ).order_by(turns.c.call_sid, turns.c.at, turns.c.id)
    status_query = sa.select(statuses.c.call_sid, statuses.c.status, statuses.c.duration_seconds)
    checks_query = sa.select(sa.func.count(sa.distinct(turns.c.call_sid))).where(turns.c.is_check)
    loss_query = sa.select(sa.func.sum(losses.c.turns), sa.func.sum(losses.c.statuses),
                           sa.func.min(losses.c.first_at), sa.func.max(losses.c.last_at))
    if start is not None:
        query = query.where(turns.c.at >= start)
        status_query = status_query.where(statuses.c.at >= start)
        checks_query = checks_query.where(turns.c.at >= start)
        loss_query = loss_query.where(losses.c.last_at >= start)
    if not include_checks:
        query = query.where(turns.c.is_check == sa.false())
        status_query = status_query.where(statuses.c.is_check == sa.false())
    with engine.connect() as c:
        rows = c.execute(query).all()
        status_rows = c.execute(status_query).all()
        checks = c.execute(checks_query).scalar_one()
        lost_turns, lost_statuses, lost_first, lost_last = c.execute(loss_query).one()

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
    sms_sent = sms_failed = transfers = resume_offered = resumed = line_hung_up = 0

    for call_turns in calls.values():
        per_day[call_turns[0].at.astimezone(tz).date().isoformat()] += 1
        heard = set()
        for i, t in enumerate(call_turns):
            if t.outcome.startswith("step:"):
                heard.add(t.outcome[5:])
                if i + 1 < len(call_turns):
                    seconds[t.outcome[5:]].append((call_turns[i + 1].at - t.at).total_seconds())
            if t.place == "step" and str(t.step) in per_step and t.action in STEP_ACTIONS:
                per_step[str(t.step)][t.action] += 1
            if t.action == "wrong":
                where = _place(t.place, t.step)
                wrong[where]["not_understood" if t.input == "speech" else "wrong_keys"] += 1
                if t.input == "speech" and t.words:
                    words = hide(t.words) if hide else t.words
                    not_understood[words.strip().lower()] += 1
            sms_sent += t.action == "sms_sent"
            sms_failed += t.action == "sms_failed"
            transfers += t.action == "agent"
        # The offer to go on comes as the call starts; a caller takes it with the step that
        # follows it (the place "resume", then a step), not by hearing it.
        resume_offered += any(t.action == "resume" and t.place != "resume" for t in call_turns)
        resumed += any(t.action == "resume" and t.place == "resume" and t.outcome.startswith("step:")
                       for t in call_turns)
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
        "database": masked(engine.url),
        "steps": n_steps,
        "calls": len(calls),
        # Calls that were not callers: counted in `calls` only with include_checks.
        "checks": checks,
        "include_checks": include_checks,
        "reached_step": {s: reached[s] for s in step_names},
        "completed": completed,
        "per_day": {day: {"calls": n} for day, n in sorted(per_day.items())},
        # Where each call was when it ended: the outcome of its last turn ("dial": sent to a
        # person), or where the caller was when the line said goodbye and hung up.
        "ended_at": dict(sorted(ended.items(), key=_where_order)),
        "line_hung_up": line_hung_up,
        "per_step": {
            s: {**{action: c[action] for action in STEP_ACTIONS},
                "median_seconds": median(seconds.get(s, []))}
            for s, c in per_step.items()
        },
        "wrong_per_place": {w: dict(c) for w, c in sorted(wrong.items(), key=_where_order)},
        "words_not_understood": dict(not_understood.most_common(TOP_WORDS)),
        "sms_sent": sms_sent,
        "sms_failed": sms_failed,
        "transfers": transfers,
        "resume_offered": resume_offered,
        "resumed": resumed,
        "call_status": dict(endings.most_common()),
        "median_call_seconds": median(durations),
        # The report's blind spots: what workers could not record in the period (written
        # down by each worker once its database took writes again).
        "not_recorded": {
            "turns": int(lost_turns or 0), "statuses": int(lost_statuses or 0),
            "first": lost_first.isoformat() if lost_first else None,
            "last": lost_last.isoformat() if lost_last else None,
        },
    }


_ORDER = {"start": 0, "resume": 1, "menu": 2, "pick": 3, "step": 4, "end": 5, "hangup": 6,
          "dial": 7, "lost": 8}


def _where_order(item):
    where = item[0]
    kind, _, n = where.partition(":")
    return (_ORDER.get(kind, 9), int(n) if n.isdigit() else 0, where)

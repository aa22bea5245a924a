"""The report's numbers: the call store's turns, call statuses and losses since a date,
summed up as plain data (JSON-ready) that the text, the page and the charts present."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, tzinfo

import sqlalchemy as sa

from ..offer import CALLBACK_OUTCOMES, DIAL_OUTCOMES, REASONS
from ..states import AGENT, PERSON_PLACES
from ..store import inbox, losses, masked, statuses, turns

#: Most frequent words not understood that the report lists.
TOP_WORDS = 15
#: What a caller did on a step that the report counts, per step.
STEP_ACTIONS = ("repeat", "back", "slow", "silence", "wrong")
#: What became of a 9, by the turn actions ivr/offer.py names (summary["person"]): the line
#: rang the person (`dialled`, a <Dial>), and how that dial came back (accepted: the person
#: pressed 1 in the whisper; declined, no_answer, busy, failed); or nobody was there to ring
#: (closed_hours, closed_holiday, closed_day: never dialled).
PERSON = {"dialled": AGENT, "accepted": inbox.DIAL_ACCEPTED,
          **{action.removeprefix("dial_"): action for _, action in REASONS.values()}}
#: summary["person"]'s keys: how a dial came back, and why nobody was rung.
DIAL_ENDINGS = DIAL_OUTCOMES
CLOSED = tuple(k for k in PERSON if k not in ("dialled", *DIAL_OUTCOMES))
#: Turn actions of a caller's 9: a dial, or the news that nobody is there (a closed reason).
ASKED = {AGENT} | {action for why, (_, action) in REASONS.items() if why not in DIAL_OUTCOMES}
#: A call back is waiting for the caller: asked for now, or already open from before.
CALLED_BACK = {CALLBACK_OUTCOMES["saved"][1], CALLBACK_OUTCOMES["already"][1]}
#: Where a call that asked for a person (9) ended up, first that applies (summary["after_nine"]):
#: talked to a person; left a message; has a call back coming; ended while the line rang the
#: person; ended at the offer (or recording, or the read-back) with nothing left; went on with
#: the menu or the guide.
AFTER_NINE = ("person", "message", "callback", "ringing", "nothing_left", "went_on")


def _since_utc(since, tz: tzinfo) -> datetime | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=tz)
    return datetime.combine(since, time(), tz)


def _place(place: str, step) -> str:
    """step:4, resume:4, offer:4 (the offer after a 9 on Paso 4; offer alone: from the menu)."""
    return f"{place}:{step}" if place in ("step", "resume", *PERSON_PLACES) and step else place


def _after_nine(call_turns, actions: set) -> str:
    """Where a call that asked for a person ended up (one of AFTER_NINE)."""
    if inbox.DIAL_ACCEPTED in actions:
        return "person"
    if inbox.MESSAGE_KEPT in actions:
        return "message"
    if actions & CALLED_BACK:
        return "callback"
    last = call_turns[-1]
    if last.outcome == "dial":
        return "ringing"
    if last.outcome.partition(":")[0] in PERSON_PLACES or (
            last.outcome == "hangup" and last.place in PERSON_PLACES):
        return "nothing_left"
    return "went_on"


def summarize(engine, since: date | datetime | None = None, *, steps: int | None = None,
              tz: tzinfo = UTC, include_checks: bool = False, hide=None) -> dict:
    """The report's numbers for calls that started at or after `since` (a date is midnight in
    `tz`; None: every call kept). `steps`: the guide's steps (content.steps); by default the
    highest step seen. Days are counted in `tz`.

    Checks (the doctor's self-check, web phone trial calls) are left out and counted apart,
    unless `include_checks`. `hide` hides long numbers in the words not understood (the
    content's DigitMask), for records kept before the webhooks hid them.

    What callers who asked for a person (9) got, and left (messages, call-back requests), is
    counted from the turns too, by day and by place (ivr.store.inbox.by_day_and_step);
    `open_inbox` is what the inbox holds now, whatever the period (numbers never opened).
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
    left = inbox.by_day_and_step(engine, start, tz, include_checks=include_checks)
    open_inbox = inbox.waiting(engine)

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
    asked_at = Counter()
    after_nine = Counter()
    resume_offered = resumed = line_hung_up = 0

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
            if t.action in ASKED:
                asked_at[_place(t.place, t.step)] += 1
        # The offer to go on comes as the call starts; a caller takes it with the step that
        # follows it (the place "resume", then a step), not by hearing it.
        resume_offered += any(t.action == "resume" and t.place != "resume" for t in call_turns)
        resumed += any(t.action == "resume" and t.place == "resume" and t.outcome.startswith("step:")
                       for t in call_turns)
        for s in heard:
            reached[s] += 1
        completed += any(t.action == "conclusion" for t in call_turns)
        actions = {t.action for t in call_turns}
        if actions & ASKED:
            after_nine[_after_nine(call_turns, actions)] += 1
        last = call_turns[-1]
        if last.action == inbox.DIAL_ACCEPTED:  # a conversation, then the line's goodbye
            ended["person"] += 1
        elif last.outcome == "hangup":  # the line ended the call (silences, wrong keys, goodbye)
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

    done = Counter(r.action for r in rows)
    person = {key: done[action] for key, action in PERSON.items()}
    # Messages, call-back requests and accepted transfers by day and by place (step:4, menu).
    kinds = {"transfers": left["accepted_transfers"], "messages": left["messages"],
             "callbacks": left["callbacks"]}
    days = {}
    for day in sorted(set(per_day).union(*kinds.values())):
        days[day] = {"calls": per_day[day],
                     **{kind: sum(by_day.get(day, {}).values()) for kind, by_day in kinds.items()}}
    per_place = defaultdict(Counter)
    for where, n in asked_at.items():
        per_place[where]["asked"] += n
    for kind, by_day in kinds.items():
        for counts in by_day.values():
            for where, n in counts.items():
                per_place[where][kind] += n

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
        # Calls by the day they started; transfers taken, messages and call-back requests
        # by the day they were made.
        "per_day": days,
        # Where each call was when it ended: the outcome of its last turn ("dial": the line was
        # ringing the person; "offer:4": the offer after a 9 on Paso 4), "person" after a
        # conversation with the person, or where the caller was when the line said goodbye
        # and hung up.
        "ended_at": dict(sorted(ended.items(), key=_where_order)),
        "line_hung_up": line_hung_up,
        "per_step": {
            s: {**{action: c[action] for action in STEP_ACTIONS},
                "median_seconds": median(seconds.get(s, []))}
            for s, c in per_step.items()
        },
        "wrong_per_place": {w: dict(c) for w, c in sorted(wrong.items(), key=_where_order)},
        "words_not_understood": dict(not_understood.most_common(TOP_WORDS)),
        "sms_sent": done["sms_sent"],
        "sms_failed": done["sms_failed"],
        # Sent to a person: only the transfers the person took (pressed 1 in the whisper).
        "transfers": person["accepted"],
        "person": person,
        "after_nine": {"calls": sum(after_nine.values()), **{k: after_nine[k] for k in AFTER_NINE}},
        "messages": sum(days[d]["messages"] for d in days),
        "callbacks": sum(days[d]["callbacks"] for d in days),
        # place -> times callers asked for a person there (9), transfers taken, messages left
        # and call backs asked for.
        "person_per_place": {
            w: {k: c[k] for k in ("asked", "transfers", "messages", "callbacks")}
            for w, c in sorted(per_place.items(), key=_where_order)},
        "open_inbox": open_inbox,
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
          "dial": 7, "person": 8, "offer": 9, "record": 10, "callback": 11, "lost": 12}


def _where_order(item):
    where = item[0]
    kind, _, n = where.partition(":")
    return (_ORDER.get(kind, 13), int(n) if n.isdigit() else 0, where)

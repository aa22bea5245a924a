"""A simulated day of calls through the real app and its call store.

    .venv/bin/python bench/simulate.py --database-url sqlite:////tmp/sim.sqlite3 [--days 1] [--calls 300]

Each caller is `ivr.player.Call` (the player the tests and `ivr call` use) with a scripted
keypad, walking the line in-process through Flask's test client, signed as Twilio signs:
the webhooks answer and record every turn, as in production, and each call ends with
Twilio's status callback. Callers vary: most follow the guide and some finish it; others
hang up on a step (more often on the harder ones, PSE and the bank's page), pick a step,
repeat, go back, ask for slow replays, speak ("siguiente", words the line does not take),
press wrong keys, stay silent, ask for the text message (the extras are on, Twilio's API
answered in memory through twilio's HTTP seam), and some call back later and pick up where
they left off. Some press 9 for a person: within the person's hours (IVR_AGENT_HOURS, judged
at the call's simulated start) the person takes the call, lets it go, is busy or does not
answer; when nobody is there, callers leave a message, ask to be called back, go back to the
menu or hang up at the offer.

Placing calls in time: the webhooks stamp each turn with the real clock (ivr/replies.py
`record`), so the calls run first, in the order of their simulated start, and then this
script rewrites the `at` of each call's turns, status, message and call-back request in the
database: the call's start in the simulated day, plus for each turn the time a caller spends
there (longer on the harder steps). The line's own clock setting (IVR's CLOCK, which the tests
use too) is the call's simulated start, so the person's hours are judged then. The rows are
exactly what the webhooks wrote, moved in time.
"""

import argparse
import random
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ivr import create_app  # noqa: E402
from ivr import store as store_mod  # noqa: E402
from ivr.player import Call, FlaskTransport, ScriptedKeypad  # noqa: E402
from ivr.store import inbox  # noqa: E402

TOKEN = "simulation-auth-token"
SECRET = "simulation-secret-key"
#: The line's address as the simulated Twilio calls it (in-process: no server).
BASE = "http://localhost"
TZ = ZoneInfo("America/Bogota")
#: Per step, the chance a caller hangs up there (step 5 onwards: PSE and the bank are hard).
HANG_UP = {1: .04, 2: .05, 3: .06, 4: .07, 5: .16, 6: .12, 7: .08, 8: .05}
#: Median seconds a caller spends on each step (doing it at the computer).
SECONDS = {1: 25, 2: 35, 3: 30, 4: 45, 5: 80, 6: 95, 7: 40, 8: 30}
#: What callers say that the line does not take.
MUMBLES = ["no sé", "ayuda", "cuánto debo", "hola", "no entiendo", "qué"]
#: The person key 9 rings, and when they answer (Bogotá's wall clock).
AGENT_NUMBER = "+576015550199"
AGENT_HOURS = "Mon-Fri 08:00-18:00, Sat 08:00-12:00"
#: How the person answers a ring (the player's dial: entries), in percent.
DIAL_ANSWERS = {"completed": 40, "declined": 10, "no-answer": 25, "busy": 20, "failed": 5}


@dataclass
class Planned:
    """One call to place: who calls, when, and what they will press or say."""

    start: datetime
    caller: str
    script: list
    #: The step the caller hangs up on (None: they do not leave mid-guide).
    leaves_at: int | None = None


def on_steps(rng, first: int, steps: int, leave: int | None) -> list:
    """Keypad entries for a caller on step `first` going on to the Conclusión, or hanging up
    on step `leave`: next (keys or words), with repeats, going back, slow replays, silences,
    wrong keys and words the line does not take along the way, never two misses in a row."""
    entries = []
    n = first
    while n <= steps:
        if n == leave:
            return entries  # the script runs out: the caller hangs up here
        r = rng.random()
        if r < 0.10:
            entries.append(rng.choice(["1", "*"]))  # repeat
            continue
        if r < 0.14 and n > 1:
            entries.append("3")  # back, then on again
            n -= 1
            continue
        if r < 0.18:
            entries.append("4")  # slower (or normal speed again)
        elif r < 0.21:
            entries.append("-")  # busy at the computer: the line reminds the keys
        elif r < 0.24:
            entries.append(rng.choice("568"))  # a key that means nothing here
        elif r < 0.28:
            entries.append("say:" + rng.choice(MUMBLES))  # words the line does not take
        entries.append(rng.choice(["2", "2", "#", "say:siguiente", "say:listo"]))
        n += 1
    # The Conclusión: most hang up; some wait in silence for the goodbye, or hear it again.
    r = rng.random()
    if r < 0.3:
        entries += ["-", "-"]
    elif r < 0.35:
        entries += ["1"]
    return entries


def leaving_step(rng, steps: int, first: int = 1) -> int | None:
    """Where a caller following the guide from `first` hangs up (None: they hear it all)."""
    for n in range(first, steps + 1):
        if rng.random() < HANG_UP.get(n, 0.05):
            return n
    return None


def after_nine(rng, person_there: bool, withheld: bool) -> list:
    """Keypad entries after a 9: how the person answers (when there is one to ring); then,
    if nobody took the call, the offer: a message, a call back (not for a withheld number),
    the menu, or hanging up there."""
    entries = []
    if person_there:
        answer = rng.choices(list(DIAL_ANSWERS), list(DIAL_ANSWERS.values()))[0]
        entries.append(f"dial:{answer}")
        if answer == "completed":
            return entries  # a conversation, then the line's goodbye
    r = rng.random()
    if r < 0.45 or (withheld and r < 0.75):
        entries += [rng.choice(["1", "1", "say:dejar un mensaje"]), f"record:{rng.randint(6, 60)}"]
    elif r < 0.75:
        entries += [rng.choice(["2", "2", "say:que me llamen"]), "1"]
    elif r < 0.85:
        entries += ["0"]  # the menu, then hangs up
    return entries  # else hangs up at the offer


def plan_day(rng, day: date, calls: int, steps: int, agent=None) -> list[Planned]:
    """About `calls` calls on `day`, busiest in the afternoon, each from a number of its own,
    and the callbacks of some who hung up mid-guide (the same number again). With `agent`
    (ivr.agent.Agent: the line has a person), some press 9, from the menu or a step."""
    planned = []
    for _ in range(calls):
        hour = min(max(rng.gauss(14, 3.5), 7), 21.5)
        start = datetime.combine(day, time(), TZ) + timedelta(hours=hour)
        caller = f"+5730{rng.randrange(10**7, 10**8)}" if rng.random() > 0.05 else "anonymous"
        r = rng.random()
        leave = None
        if r < 0.05:  # silence at the menu: the line reminds, then says goodbye
            script = ["-", "-", "-"]
        elif r < 0.08:  # wrong keys at the menu: the third ends the call
            script = [rng.choice("568"), rng.choice("568"), rng.choice("568")]
        elif r < 0.11:  # hangs up at the menu
            script = []
        elif r < 0.26:  # picks a step, a wrong one first now and then
            first = rng.choice([1, 4, 5, 5, 6, 6, 7])
            leave = leaving_step(rng, steps, first)
            script = ["2"] + (["9"] if rng.random() < 0.1 else []) + [
                str(first) if rng.random() < 0.8 else f"say:paso {first}"]
            script += on_steps(rng, first, steps, leave)
        elif agent is not None and r < 0.34:  # asks for a person, from the menu or a step
            script = []
            if rng.random() < 0.6:
                at = rng.choice([2, 4, 5, 5, 6, 6, 7])
                script = ["1"] + on_steps(rng, 1, steps, at)  # on step `at` when pressing 9
            script += ["9"] + after_nine(rng, agent.is_open(start), caller == "anonymous")
        else:  # the guide from Paso 1, by key or by word
            leave = leaving_step(rng, steps)
            script = ["7"] if rng.random() < 0.06 else []  # the text message first
            script += ["1" if rng.random() < 0.85 else "say:empezar"]
            script += on_steps(rng, 1, steps, leave)
        planned.append(Planned(start, caller, script, leave))
        if leave and caller != "anonymous" and rng.random() < 0.35:
            # Calls back later that day: '1' takes them to the step they reached.
            back = start + timedelta(minutes=rng.uniform(20, 240))
            if back.date() == day:
                again = leaving_step(rng, steps, leave) if rng.random() < 0.5 else None
                planned.append(Planned(back, caller, ["1"] + on_steps(rng, leave, steps, again), again))
    return sorted(planned, key=lambda p: p.start)


def twilio_api():
    """Twilio's Messages API in memory, behind twilio's HTTP seam (tests/twilio_api.py)."""
    from twilio_api import FakeTwilio

    return FakeTwilio(auth_token=TOKEN)


def line_app(database_url: str, clock=None):
    """The line as Twilio meets it: signatures on, the call store on, the text message on, a
    person on 9 within office hours (judged on `clock`, the simulated time)."""
    from twilio_api import ACCOUNT_SID

    return create_app({
        "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "SECRET_KEY": SECRET,
        "STORE": True, "DATABASE_URL": database_url, "WEB_PHONE": False,
        "PUBLIC_BASE_URL": BASE, "SMS_FROM": "+15005550006", "TWILIO_HTTP_CLIENT": twilio_api(),
        "AGENT_NUMBER": AGENT_NUMBER, "AGENT_HOURS": AGENT_HOURS, "HOLIDAYS": "CO", "CLOCK": clock,
    })


def place(app, planned: Planned) -> Call:
    """One call, start to end, then Twilio's status callback."""
    with FlaskTransport(app) as transport:
        call = Call(transport, url=f"{BASE}/voice", keypad=ScriptedKeypad(planned.script),
                    auth_token=TOKEN, fetch_audio=False, caller=planned.caller).run()
        status = {"CallSid": call.sid, "CallStatus": "completed", "CallDuration": "0",
                  "From": planned.caller}
        url = f"{BASE}/voice/status"
        signature = RequestValidator(TOKEN).compute_signature(url, status)
        transport.request("POST", url, status, {"X-Twilio-Signature": signature})
    return call


def seconds_at(rng, place: str, step: int | None) -> float:
    """How long a caller spends where a turn takes them: a step takes doing it."""
    if place == "step" and step in SECONDS:
        return SECONDS[step] * rng.lognormvariate(0, 0.4)
    return rng.uniform(5, 12)


def move_in_time(engine, rng, starts: dict) -> None:
    """Give each call's turns and status the times of its simulated day: its start, then
    for each turn the time spent where the previous one left the caller. A message or a
    call-back request takes the time of the turn that kept it."""
    turns, statuses = store_mod.turns, store_mod.statuses
    kept = {inbox.MESSAGE_KEPT: inbox.messages, inbox.CALLBACK_SAVED: inbox.callbacks}
    with engine.begin() as c:
        rows = c.execute(sa.select(turns.c.id, turns.c.call_sid, turns.c.place, turns.c.step,
                                   turns.c.action)
                         .where(turns.c.call_sid.in_(list(starts)))
                         .order_by(turns.c.call_sid, turns.c.id)).all()
        moved, ends, left = [], {}, {table: [] for table in kept.values()}
        for sid, start in starts.items():
            ends[sid] = start
        previous = None
        for id_, sid, where, step, action in rows:
            if sid != previous:
                at, previous = starts[sid], sid
            else:
                at = ends[sid] + timedelta(seconds=seconds_at(rng, where, step))
            ends[sid] = at
            moved.append({"row": id_, "new_at": at})
            if action in kept:
                left[kept[action]].append({"sid": sid, "new_at": at})
        if moved:
            c.execute(turns.update().where(turns.c.id == sa.bindparam("row"))
                      .values(at=sa.bindparam("new_at")), moved)
        for table, times in left.items():
            if times:
                c.execute(table.update().where(table.c.call_sid == sa.bindparam("sid"))
                          .values(at=sa.bindparam("new_at")), times)
        ended = [{"sid": sid, "new_at": end + timedelta(seconds=2),
                  "seconds": int((end - starts[sid]).total_seconds()) + 2} for sid, end in ends.items()]
        c.execute(statuses.update().where(statuses.c.call_sid == sa.bindparam("sid"))
                  .values(at=sa.bindparam("new_at"), duration_seconds=sa.bindparam("seconds")), ended)


def simulate(database_url: str, days: int = 1, calls: int = 300, seed: int = 13,
             end: date | datetime | None = None) -> dict:
    """Place `days` days of about `calls` calls a day (fewer at the weekend), the last on
    `end` (default today, in Bogotá), through the real app into the store at `database_url`
    (migrated here). Returns what was placed and what the store holds."""
    rng = random.Random(seed)
    store_mod.upgrade(database_url)
    now = {"at": None}
    app = line_app(database_url, clock=lambda: now["at"] or datetime.now(UTC))
    line = app.extensions["ivr"]
    end = end or datetime.now(TZ).date()
    if isinstance(end, datetime):
        end = end.astimezone(TZ).date()
    planned = []
    for d in range(days - 1, -1, -1):
        day = end - timedelta(days=d)
        weekend = day.weekday() >= 5
        planned += plan_day(rng, day, int(calls * (0.5 if weekend else 1) * rng.uniform(0.85, 1.15)),
                            line.content.steps, line.agent)
    starts, requests, turned, finished, seen = {}, 0, 0, 0, set()
    for p in planned:
        if p.caller in seen:
            # A caller calling back: the line must find their first call in the store. The
            # writer is off the request path, so let it write what is queued first (the day
            # is simulated in seconds, not hours).
            line.store.flush(10)
        seen.add(p.caller)
        now["at"] = p.start  # the line's clock: the person's hours are judged at the call's time
        call = place(app, p)
        starts[call.sid] = p.start.astimezone(UTC)
        requests += call.requests
        # Every webhook records a turn, but Twilio's recording status callback (one per
        # <Record>): it reports the recording, not a caller's turn.
        turned += call.requests - sum(e.kind == "record" for e in call.events)
        finished += call.ended_by is not None
    line.store.flush(60)
    health = line.store.health()
    move_in_time(line.store.engine, rng, starts)
    line.store.close()
    return {"calls": len(planned), "webhooks": requests, "turns": turned, "ended": finished,
            "written": health["written"], "lost": health["lost"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--calls", type=int, default=300, help="calls on a weekday")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--end", type=date.fromisoformat, help="the last day (default today)")
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    made = simulate(args.database_url, args.days, args.calls, args.seed, args.end)
    # Every webhook records one turn (recording status callbacks aside), every call one status.
    print(f"{made['calls']} calls, {made['webhooks']} webhooks; the store wrote "
          f"{made['written']} events ({made['turns']} turns + {made['calls']} statuses "
          f"expected), lost {made['lost']}")
    return 0 if made["written"] == made["turns"] + made["calls"] and not made["lost"] else 1


if __name__ == "__main__":
    sys.exit(main())

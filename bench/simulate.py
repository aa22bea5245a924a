"""Simulated days of calls, written to a call store: the report's screenshot is made from them.

    .venv/bin/python bench/simulate.py --days 7 --calls 60 --database-url sqlite:////tmp/sim.sqlite3

Each caller walks the line's real call flow (`ivr.flow.Flow`, the guide's steps from the
content file) with varied behaviour: most start the guide, some pick a step, some repeat,
go back, ask for slow replays, press wrong keys or say words the line does not take, and some
hang up, more often on the harder steps (PSE and the bank's page). One Turn per webhook, as
the webhooks hand them to the store, and one status callback per call.

This feeds the store directly (the turns the webhooks would record), so it runs without a
server; the load test drives the real app.
"""

import argparse
import random
import sys
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import content as content_mod  # noqa: E402
from ivr import store as store_mod  # noqa: E402
from ivr.flow import END, MENU, PICK, STEP, Flow  # noqa: E402

#: Per step, the chance a caller hangs up there (step 5 onwards: PSE and the bank are hard).
HANG_UP = {1: .04, 2: .05, 3: .06, 4: .07, 5: .16, 6: .12, 7: .08, 8: .05}
#: Median seconds a caller spends on each step (doing it at the computer).
SECONDS = {1: 25, 2: 35, 3: 30, 4: 45, 5: 80, 6: 95, 7: 40, 8: 30}
#: What callers say that the line does not take (speech it cannot map to a key).
MUMBLES = ["no sé", "ayuda", "cuánto debo", "hola", "operador", "qué"]


def action_of(state, key, turn, steps):
    """What the flow did with `key` at `state`, as the store names it."""
    if turn.state is None:
        return "hangup"
    if key is None:
        return "silence"
    if "wrong_key" in turn.prompts or "pick_wrong" in turn.prompts:
        return "wrong"
    if state.at == STEP:
        if turn.state.at == END:
            return "conclusion"
        if turn.state.at == MENU:
            return "menu"
        if key in "1*":
            return "repeat"
        if key in "2#":
            return "next"
        if key == "3":
            return "back"
    if turn.state.at == STEP:
        return "step"
    return turn.state.at


def outcome_of(turn):
    if turn.state is None:
        return "hangup"
    return f"step:{turn.state.step}" if turn.state.at == STEP else turn.state.at


def place_of(state):
    return state.at


def one_call(rng, flow, sid, caller, at):
    """The turns of one simulated call."""
    turns = []

    def add(at, state, key, action, outcome, words=None, slow=False, place=None):
        turns.append(store_mod.Turn(
            sid, caller, at, place or place_of(state), state.step if state.at == STEP else None,
            key if key is not None else "-", words, action, outcome, slow))

    state = flow.start().state
    add(at, state, None, "start", "menu", place="start")
    at += timedelta(seconds=rng.uniform(8, 14))
    slow = False
    guide = rng.random() < 0.8  # most follow the guide; the others pick a step
    for _ in range(60):
        if state.at == MENU:
            if rng.random() < 0.05:
                return turns, at  # hangs up at the menu
            r = rng.random()
            key = "1" if guide or r < 0.1 else ("2" if r < 0.8 else rng.choice("58"))
            if rng.random() < 0.03:
                add(at, state, "7", "sms_sent", "menu")
                at += timedelta(seconds=6)
            if rng.random() < 0.03:
                add(at, state, "9", "agent", "dial")
                return turns, at
        elif state.at == PICK:
            key = str(rng.choice([1, 4, 5, 5, 6, 6, 7])) if rng.random() > 0.08 else "9"
        elif state.at == STEP:
            n = state.step
            if rng.random() < HANG_UP[n]:
                return turns, at
            r = rng.random()
            if r < 0.12:
                key = "1"
            elif r < 0.17 and n > 1:
                key = "3"
            elif r < 0.22:
                slow = not slow
                add(at, state, "4", "slow" if slow else "fast", f"step:{n}", slow=slow)
                at += timedelta(seconds=SECONDS[n] * rng.uniform(0.5, 1.5))
                continue
            elif r < 0.27:
                add(at, state, "speech", "wrong", f"step:{n}", words=rng.choice(MUMBLES), slow=slow)
                at += timedelta(seconds=rng.uniform(4, 9))
                continue
            elif r < 0.30:
                key = rng.choice("568")
            elif r < 0.33:
                key = None  # busy at the computer
            else:
                key = "2"
        else:  # END: the closing after the Conclusión
            key = "0" if rng.random() < 0.05 else None
        turn = flow.next(state, key)
        spoken = None
        if key == "2" and state.at == STEP and rng.random() < 0.25:
            spoken, key_shown = "siguiente", "speech"
        else:
            key_shown = key
        add(at, state, key_shown, action_of(state, key, turn, flow.steps), outcome_of(turn),
            words=spoken, slow=slow)
        if turn.state is None:
            return turns, at
        wait = (SECONDS[turn.state.step] * rng.lognormvariate(0, 0.4) if turn.state.at == STEP
                else rng.uniform(5, 12))
        at += timedelta(seconds=wait)
        state = turn.state
    return turns, at


def simulate(store, days: int, calls: int, seed: int = 13, end: datetime | None = None,
             steps: int | None = None, tz=ZoneInfo("America/Bogota")):
    """Record `days` days of about `calls` calls a day (fewer at the weekend), ending today."""
    rng = random.Random(seed)
    if steps is None:
        steps = content_mod.load(ROOT / "content.toml").steps
    flow = Flow(steps)
    end = end or datetime.now(tz)
    numbers = [f"+5730{rng.randrange(10**7, 10**8)}" for _ in range(calls * days // 2)]
    made = 0
    for d in range(days - 1, -1, -1):
        day = (end - timedelta(days=d)).date()
        weekend = day.weekday() >= 5
        for _ in range(int(calls * (0.5 if weekend else 1) * rng.uniform(0.8, 1.2))):
            hour = min(max(rng.gauss(14, 3.5), 7), 21.9)
            start = datetime.combine(day, time(), tz) + timedelta(hours=hour)
            caller = rng.choice(numbers) if rng.random() > 0.05 else "anonymous"
            sid = f"CA{rng.getrandbits(128):032x}"
            turns, ended = one_call(rng, flow, sid, caller, start.astimezone(timezone.utc))
            for t in turns:
                store.record(t)
            status = "completed" if rng.random() > 0.02 else "failed"
            store.record(store_mod.CallStatus(sid, status, int((ended - start).total_seconds()) + 2, ended))
            made += 1
    store.flush(60)
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--calls", type=int, default=60, help="calls on a weekday")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    store_mod.upgrade(args.database_url)
    store = store_mod.Store.open(args.database_url, b"simulation")
    made = simulate(store, args.days, args.calls, args.seed)
    print(f"{made} calls, {store.recorder.written} events written, {store.recorder.lost} lost")
    store.close()


if __name__ == "__main__":
    main()

"""bench/simulate.py: a simulated day through the real app, placed in the day afterwards."""

import sys
from collections import Counter
from datetime import date

import sqlalchemy as sa

from ivr import ROOT
from ivr import store as store_mod
from ivr.store import inbox

sys.path.insert(0, str(ROOT))  # bench/ is a folder of scripts in the checkout, not installed
from bench.simulate import TZ, simulate  # noqa: E402


def test_a_simulated_day_is_recorded_by_the_webhooks_and_placed_in_that_day(tmp_path):
    url = f"sqlite:///{tmp_path / 'sim.sqlite3'}"
    made = simulate(url, days=1, calls=150, end=date(2026, 11, 27))
    assert made["lost"] == 0 and made["calls"] >= 120
    # One turn per webhook (Twilio's recording status callbacks aside), one status per call.
    assert made["written"] == made["turns"] + made["calls"] and made["webhooks"] > made["turns"]
    engine = store_mod.create_engine(url)
    with engine.connect() as c:
        turns = c.execute(sa.select(store_mod.turns)).mappings().all()
        statuses = c.execute(sa.select(store_mod.statuses)).mappings().all()
        # What callers left when nobody answered, placed at the turn that kept it.
        left = [*c.execute(sa.select(inbox.messages.c.at)).scalars(),
                *c.execute(sa.select(inbox.callbacks.c.at)).scalars()]
    engine.dispose()
    assert left and {at.astimezone(TZ).date() for at in left} == {date(2026, 11, 27)}
    assert len(turns) == made["turns"] and len(statuses) == made["calls"]
    assert {t["at"].astimezone(TZ).date() for t in turns} == {date(2026, 11, 27)}
    assert all(7 <= t["at"].astimezone(TZ).hour <= 23 for t in turns)
    # Each call's turns are in order in time, and its status comes after them.
    by_call = {}
    for t in sorted(turns, key=lambda t: t["id"]):
        by_call.setdefault(t["call_sid"], []).append(t["at"])
    assert all(times == sorted(times) for times in by_call.values())
    ends = {s["call_sid"]: s["at"] for s in statuses}
    assert all(ends[sid] > times[-1] for sid, times in by_call.items())
    # Varied callers, as the webhooks saw them.
    actions = Counter(t["action"] for t in turns)
    for action in ("next", "repeat", "back", "slow", "wrong", "silence", "conclusion", "resume",
                   "sms_sent", "agent", "dial_accepted", "dial_busy", "closed_hours", "message",
                   "callback"):
        assert actions[action] > 0, action
    assert any(t["input"] == "speech" for t in turns)
    ended = Counter(max(ts)[1] for ts in [[(t["id"], t["outcome"]) for t in turns if t["call_sid"] == sid]
                                          for sid in by_call])
    assert sum(n for outcome, n in ended.items() if outcome.startswith("step:")) > 0  # drop-outs

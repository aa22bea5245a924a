"""Recovery: how long after a database fault ends the call store records again, and what
it loses after the fault ended (nothing, if it recovers).

    .venv/bin/python bench/recovery.py [--rounds 10] [--rate 200] [--fault-seconds 2]

For each fault (tests/faults.py: a SQLite file read-only, a SQLite disk full, PostgreSQL
sessions read-only, as a failover to a standby leaves them), a Store with the line's own
settings (a batch every 0.5 s, or 200 events) records `--rate` turns a second from a thread,
as webhooks would. The fault starts; the worker opens connections while it lasts (its pools
renewed, as a worker started then; questions taking several at once); the fault ends, at a
random moment of the writer's cycle. Printed
per fault, over the rounds: the time from the fault's end to the first write that works
(median and worst), the turns lost (worst; those of the fault), and the turns made after the
fault ended that were lost (worst; 0 when recording comes back whole).
"""

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sqlalchemy as sa  # noqa: E402

import faults  # noqa: E402
from ivr import store as store_mod  # noqa: E402
from ivr.store import Store, Turn  # noqa: E402


def producer(store: Store, rate: float, stop: threading.Event, sent: list):
    """Record `rate` turns a second until `stop`; each turn's call SID is its number."""
    period, n = 1 / rate, 0
    next_at = time.monotonic()
    while not stop.is_set():
        store.record(Turn(f"CA{n}", "+573001234567", datetime.now(UTC), "step", 1, "2", None,
                          "next", "step:2", False))
        sent.append(time.monotonic())
        n += 1
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))


def one_round(fault, rate: float, fault_seconds: float) -> dict:
    store_mod.upgrade(fault.url)
    engine = store_mod.create_engine(fault.url)
    fault.attach(engine)
    store = Store(engine, b"bench")  # the line's own batch and wait
    fault.attach(store.recorder.engine)
    commits = []
    sa.event.listen(store.recorder.engine, "commit", lambda conn: commits.append(time.monotonic()))
    stop, sent = threading.Event(), []
    thread = threading.Thread(target=producer, args=(store, rate, stop, sent))
    thread.start()
    time.sleep(1.0)
    fault.on()
    store.engine.dispose()
    store.recorder.engine.dispose()
    held = [store.engine.connect() for _ in range(3)]
    for c in held:
        c.execute(sa.select(sa.func.count()).select_from(store_mod.turns)).scalar_one()
        c.close()
    # A random phase: the fault's end falls anywhere in the writer's 0.5 s cycle.
    time.sleep(fault_seconds + random.uniform(0, 0.5))
    fault.off()
    ended = time.monotonic()
    time.sleep(3.0)
    stop.set()
    thread.join()
    store.flush(30)
    with store.engine.connect() as c:
        recorded = {int(s[2:]) for s in c.execute(sa.select(store_mod.turns.c.call_sid)).scalars()}
    store.close()
    first_after = min((t for t in commits if t > ended), default=None)
    after_end = [n for n, t in enumerate(sent) if t >= ended]
    return {
        "recovery_ms": (first_after - ended) * 1000 if first_after else float("inf"),
        "lost": len(sent) - len(recorded),
        # Turns made after the fault ended that are not in the store.
        "lost_after_end": sum(n not in recorded for n in after_end),
        "all_after": bool(after_end) and all(n in recorded for n in after_end),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200, help="turns a second (default 200)")
    parser.add_argument("--fault-seconds", type=float, default=2.0)
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    logging.getLogger("ivr.store").setLevel(logging.ERROR)  # the writer's warnings: expected here

    from postgres import throwaway

    with throwaway(not args.no_postgresql) as server:
        print(f"{args.rate:g} turns/s; fault of {args.fault_seconds:g} s; {args.rounds} rounds each; "
              "the writer's wait 0.5 s, batch 200")
        print(f"{'fault':22} {'recovery ms (median / worst)':>29} {'turns lost':>11} "
              f"{'made after the end, lost':>25}")
        for name, kind in faults.KINDS.items():
            if name.startswith("postgresql") and server is None:
                continue
            results = []
            for r in range(args.rounds):
                if name.startswith("postgresql"):
                    fault = kind(server.create_database(f"recovery_{name.replace('-', '_')}_{r}"))
                else:
                    fault = kind(Path(tempfile.mkdtemp(prefix="ivr-recovery-")) / "ivr.sqlite3")
                results.append(one_round(fault, args.rate, args.fault_seconds))
            ms = [r["recovery_ms"] for r in results]
            print(f"{name:22} {statistics.median(ms):14.0f} / {max(ms):10.0f}   "
                  f"{max(r['lost'] for r in results):11} "
                  f"{max(r['lost_after_end'] for r in results):25}")


if __name__ == "__main__":
    main()

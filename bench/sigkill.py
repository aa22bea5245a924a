"""What a worker killed with SIGKILL loses: the turns it had queued, measured in milliseconds.

    .venv/bin/python bench/sigkill.py [--rounds 10] [--rates 20,200,2000] [--no-postgresql]

A worker killed outright (SIGKILL: the kernel's OOM killer, `kill -9`) runs no atexit and no
gunicorn hook: what its writer had queued, and the batch it was writing, are gone without a
trace. The writer writes every 0.5 s, or as soon as 200 events are queued, so the loss is
bounded by the turns of the last half second, or of the time 200 turns take to come, plus one
write. Here a child process records turns at a steady rate through a Store with the line's
own settings (each turn stamped with the time it was made), and is killed with SIGKILL at a
random moment; then the store is read. Printed per database and rate: the turns of the last
how many milliseconds before the kill were lost (median and worst over the rounds), and how
many turns that was at worst.
"""

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sqlalchemy as sa  # noqa: E402

from ivr import store as store_mod  # noqa: E402

WORKER = """
import sys, time
from datetime import datetime, timezone
from ivr.store import Store, Turn

store = Store.open(sys.argv[1], b"bench")  # the line's own batch (200) and wait (0.5 s)
rate = float(sys.argv[2])
n, next_at = 0, time.monotonic()
print("ready", flush=True)
while True:
    store.record(Turn(f"CA{n}", "+573001234567", datetime.now(timezone.utc), "step", 1, "2",
                      None, "next", "step:2", False))
    n += 1
    next_at += 1 / rate
    time.sleep(max(0.0, next_at - time.monotonic()))
"""


def one_round(url: str, rate: float) -> tuple[float, int]:
    """(milliseconds of turns lost, turns lost) when a recording worker is killed."""
    store_mod.upgrade(url)
    worker = subprocess.Popen([sys.executable, "-c", WORKER, url, str(rate)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline().strip() == "ready"
    time.sleep(1.5 + random.uniform(0, 1))  # a random moment of the writer's cycle
    os.kill(worker.pid, signal.SIGKILL)
    killed = datetime.now(UTC)
    worker.wait()
    engine = store_mod.create_engine(url)
    with engine.connect() as c:
        t = store_mod.turns
        # The newest turn written: every turn made after it, until the kill, is lost.
        last = c.execute(sa.select(sa.func.max(t.c.at))).scalar_one()
    engine.dispose()
    lost_ms = (killed - last).total_seconds() * 1000
    return lost_ms, round(lost_ms / 1000 * rate)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--rates", default="20,200,2000", help="turns a second, comma-separated")
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    from postgres import throwaway

    with throwaway(not args.no_postgresql) as server:
        print(f"SIGKILL at a random moment; {args.rounds} rounds each; the writer's wait 0.5 s, batch 200")
        print(f"{'database':11} {'turns/s':>8} {'ms of turns lost (median / worst)':>36} {'turns lost (worst)':>19}")
        made = 0
        for database in ("sqlite", "postgresql"):
            if database == "postgresql" and server is None:
                continue
            for rate in rates:
                results = []
                for _ in range(args.rounds):
                    made += 1
                    if database == "sqlite":
                        url = f"sqlite:///{tempfile.mkdtemp(prefix='ivr-sigkill-')}/ivr.sqlite3"
                    else:
                        url = server.create_database(f"sigkill{made}")
                    results.append(one_round(url, rate))
                ms = [r[0] for r in results]
                print(f"{database:11} {rate:8g} {statistics.median(ms):19.0f} / {max(ms):12.0f}   "
                      f"{max(r[1] for r in results):19}")


if __name__ == "__main__":
    main()

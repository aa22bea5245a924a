"""Load: many simulated calls at once over gunicorn, and every turn made recorded once.

    .venv/bin/python bench/load.py [--concurrency 200] [--calls 600] [--database sqlite|postgresql]

Starts the line under gunicorn on loopback as production runs it (`app:app`, signatures on,
PUBLIC_BASE_URL, one log line per webhook, the call store on: a migrated SQLite file or a
throwaway PostgreSQL server), then places `--calls` calls with `--concurrency` of them under
way at any moment: each is `ivr.player.Call` over real HTTP with a scripted caller from
bench/simulate.py (completers, drop-outs, repeats, slow replays, speech, wrong keys, silence),
ending with Twilio's status callback. Then it stops the server (each worker writes what it has
queued) and counts: the turns in the store against the webhooks the calls made, the statuses
against the calls, and errors (any HTTP error, unplayable TwiML, a call that did not end,
an event the store dropped). Everything is bounded by `--timeout`. Exit status 0 only when
count in = count out and there were no errors.
"""

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sqlalchemy as sa  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.bench import SECRET, TOKEN, free_port, start, stop  # noqa: E402
from bench.simulate import plan_day  # noqa: E402
from ivr import store as store_mod  # noqa: E402
from ivr.player import Call, HttpTransport, PlayerError, ScriptedKeypad  # noqa: E402


class TimedTransport(HttpTransport):
    """HTTP as the player sends it, each request's time kept."""

    def __init__(self, times: list):
        super().__init__(timeout=15)  # Twilio's own limit for a webhook
        self.times = times

    def request(self, method, url, params, headers):
        began = time.perf_counter()
        reply = super().request(method, url, params, headers)
        self.times.append(time.perf_counter() - began)
        return reply


def count(url: str, table) -> int:
    engine = store_mod.create_engine(url)
    with engine.connect() as c:
        n = c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=200, help="calls under way at once")
    parser.add_argument("--calls", type=int, default=600, help="calls placed in all")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (sync)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for all the calls")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    pg = None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.database == "postgresql":
            from postgres import Server, binaries

            if binaries() is None:
                raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
            pg = Server(binaries(), port=free_port())
            pg.start()
            url = pg.url()
        else:
            url = f"sqlite:///{tmp / 'ivr.sqlite3'}"
        try:
            store_mod.upgrade(url)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_WEB_PHONE": "0", "PUBLIC_BASE_URL": base,
                   "IVR_SECRET_KEY": SECRET, "DATABASE_URL": url}
            rng = random.Random(args.seed)
            planned = []
            while len(planned) < args.calls:
                planned += plan_day(rng, date(2026, 11, 27), args.calls, 8)
            planned = planned[:args.calls]
            server = start("app:app", port, args.workers, env, tmp / "server.log")
            times, made, errors = [], [], []
            lock = threading.Lock()
            deadline = time.monotonic() + args.timeout

            def one(p):
                if time.monotonic() > deadline:
                    return  # out of time: not placed, and reported so
                with TimedTransport(times) as transport:
                    call = Call(transport, url=f"{base}/voice", keypad=ScriptedKeypad(p.script),
                                auth_token=TOKEN, fetch_audio=False, caller=p.caller)
                    try:
                        call.run()
                        status = {"CallSid": call.sid, "CallStatus": "completed",
                                  "CallDuration": "60", "From": p.caller}
                        signature = RequestValidator(TOKEN).compute_signature(
                            f"{base}/voice/status", status)
                        r = transport.request("POST", f"{base}/voice/status", status,
                                              {"X-Twilio-Signature": signature})
                        if r.status != 204:
                            raise PlayerError(f"/voice/status answered {r.status}")
                    except PlayerError as e:
                        with lock:
                            errors.append(str(e))
                    with lock:
                        made.append((call.requests, call.ended_by is not None))

            began = time.monotonic()
            try:
                with ThreadPoolExecutor(args.concurrency) as pool:
                    futures = [pool.submit(one, p) for p in planned]
                    done, pending = wait(futures, timeout=args.timeout + 30)
                    for f in done:
                        if f.exception():
                            errors.append(repr(f.exception()))
                    if pending:
                        errors.append(f"{len(pending)} calls still under way at the time limit")
                        for f in pending:
                            f.cancel()
                elapsed = time.monotonic() - began
            finally:
                stop(server)  # the workers write what they still have queued
            log = (tmp / "server.log").read_text(errors="replace")
            turns, statuses = count(url, store_mod.turns), count(url, store_mod.statuses)
        finally:
            if pg is not None:
                pg.remove()

    webhooks = sum(n for n, _ in made)
    unended = sum(1 for _, ended in made if not ended)
    dropped = "dropped" in log
    print(f"gunicorn -w {args.workers} (sync) on loopback, store on ({args.database}); "
          f"{args.concurrency} calls under way at once")
    print(f"{len(made)} of {len(planned)} calls placed in {elapsed:.1f} s: {webhooks} webhooks "
          f"({webhooks / elapsed:.0f}/s) + {len(made)} status callbacks; "
          f"latency per request p50 {statistics.median(times) * 1000:.0f} ms, "
          f"p99 {statistics.quantiles(times, n=100)[98] * 1000:.0f} ms")
    print(f"store: {turns} turns for {webhooks} webhooks, {statuses} statuses for {len(made)} calls"
          f"{'; events DROPPED (see the server log)' if dropped else ''}")
    print(f"errors: {len(errors)}; calls that did not end: {unended}")
    for e in errors[:5]:
        print("  " + e)
    ok = (turns == webhooks and statuses == len(made) == len(planned) and not errors
          and not unended and not dropped)
    print("count in = count out, 0 errors" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

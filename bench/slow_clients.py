"""Slow clients: is `ivr serve` still answering while slow connections hang on to it?

    .venv/bin/python bench/slow_clients.py [--slow 40] [--seconds 20] [--every 2.5] [--sqlite-lock 8]

Starts `ivr serve --host 127.0.0.1 --port P` as the README runs it (default workers, the
token set, the call store on in a SQLite file of its own, no proxy in front), opens `--slow`
connections that each send a request's headers one line every `--every` seconds and never
finish them (a "slowloris"), and meanwhile sends a signed POST /voice once a second for
`--seconds` seconds, each on its own connection. `--sqlite-lock N` also holds the store's
write lock from another process for N seconds from the run's second 2 (as a long `ivr db
prune` or an operator's open transaction would): the store's writer waits on it. Prints each call's latency, then the
figures: answered, p50, max, and how many took longer than 3 s (Twilio waits 15 s for a
webhook, and a caller hears the silence long before). Exit status 0 only when every call was
answered with 200 within 3 s.
"""

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ivr.ports import free_port  # noqa: E402  (after the path is set)

TOKEN = "bench-auth-token"
SECRET = "bench-secret-key"
#: What the issue asks of every call: answered within this many seconds.
BOUND = 3.0
#: Longest a call is waited for (Twilio's own limit for a webhook).
TWILIO_WAIT = 15.0


def start(port: int, env: dict, log: Path) -> subprocess.Popen:
    """`ivr serve` as the README runs it, answering /healthz; exits if it never does."""
    ivr = Path(sys.executable).parent / "ivr"
    proc = subprocess.Popen([str(ivr), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"ivr serve stopped:\n{log.read_text(errors='replace')}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"ivr serve did not answer /healthz in 30 s:\n{log.read_text(errors='replace')}")


def slow_client(port: int, every: float, stop: threading.Event, opened: list) -> None:
    """One connection that sends a header line every `every` seconds until `stop`."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    opened.append(sock)
    try:
        sock.sendall(b"POST /voice HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        n = 0
        while not stop.wait(every):
            n += 1
            sock.sendall(f"X-Slow-{n}: {'x' * 10}\r\n".encode())
    except OSError:
        pass  # the server hung up on it: fine, it is not the server's client to keep
    finally:
        sock.close()


def signed_call(base: str, n: int) -> tuple[float, int | str]:
    """A call's first webhook as Twilio signs it: (seconds, status or error)."""
    params = {"CallSid": f"CA{n:032x}", "AccountSid": "AC" + "0" * 32, "From": "+573001234567",
              "To": "+576015550100", "CallStatus": "ringing", "Direction": "inbound"}
    url = f"{base}/voice"
    headers = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params),
               "Connection": "close"}
    began = time.monotonic()
    try:
        r = requests.post(url, data=params, headers=headers, timeout=TWILIO_WAIT)
        outcome = r.status_code
    except requests.RequestException as e:
        outcome = type(e).__name__
    return time.monotonic() - began, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=40, help="slow connections held open")
    parser.add_argument("--seconds", type=int, default=20, help="one signed call a second for this long")
    parser.add_argument("--every", type=float, default=2.5, help="seconds between a slow client's lines")
    parser.add_argument("--sqlite-lock", type=float, default=0,
                        help="seconds another process holds the store's write lock (from second 2)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("IVR_") and k not in ("PORT", "WEB_CONCURRENCY")}
        env.update(TWILIO_AUTH_TOKEN=TOKEN, IVR_SECRET_KEY=SECRET, PUBLIC_BASE_URL="",
                   DATABASE_URL=f"sqlite:///{tmp / 'calls.sqlite3'}")
        subprocess.run([str(Path(sys.executable).parent / "ivr"), "db", "upgrade"], env=env,
                       check=True, capture_output=True)
        server = start(port, env, tmp / "serve.log")
        stop, opened = threading.Event(), []
        slow = [threading.Thread(target=slow_client, args=(port, args.every, stop, opened), daemon=True)
                for _ in range(args.slow)]
        results = [None] * args.seconds
        try:
            for t in slow:
                t.start()
            time.sleep(1)  # every slow connection sent its first lines
            held = len(opened)

            def one(i):
                results[i] = signed_call(base, i)

            calls = []
            locker = sqlite3.connect(tmp / "calls.sqlite3", isolation_level=None, check_same_thread=False)
            began = time.monotonic()
            for i in range(args.seconds):
                time.sleep(max(0.0, began + i - time.monotonic()))
                if args.sqlite_lock and i == 2:
                    locker.execute("BEGIN IMMEDIATE")
                    threading.Timer(args.sqlite_lock, locker.execute, ("ROLLBACK",)).start()
                calls.append(threading.Thread(target=one, args=(i,)))
                calls[-1].start()
            for t in calls:
                t.join(TWILIO_WAIT + 5)
        finally:
            stop.set()
            for t in slow:
                t.join(args.every + 5)
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log = (tmp / "serve.log").read_text(errors="replace")
        workers = log.count("Booting worker")
        lost = log.count("store: cannot write")

    print(f"ivr serve --host 127.0.0.1 --port {port} ({workers} workers booted); "
          f"{held} slow connections open, a header line every {args.every:g} s each"
          + (f"; the store's SQLite file write-locked by another process for {args.sqlite_lock:g} s"
             if args.sqlite_lock else ""))
    for i, (took, outcome) in enumerate(results):
        print(f"  call {i + 1:2d} at {i:2d} s: {outcome} in {took * 1000:.0f} ms")
    times = [took for took, outcome in results if outcome == 200]
    late = sum(1 for took, outcome in results if outcome != 200 or took > BOUND)
    print(f"answered {len(times)} of {len(results)}; "
          + (f"p50 {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
             if times else "")
          + f"{late} not answered with 200 within {BOUND:g} s"
          + (f"; the store's writer gave up on a batch {lost} time(s)" if lost else ""))
    return 0 if late == 0 and held == args.slow else 1


if __name__ == "__main__":
    sys.exit(main())

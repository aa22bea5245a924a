"""The signed step webhook with the call store on (SQLite, PostgreSQL) against off, and
whether every request made under load is recorded once.

    .venv/bin/python bench/store_bench.py --rounds 3 --duration 5 --connections 200

Three servers under the same gunicorn settings (bench/bench.py's), each the line as
production runs it (`app:app`, signatures on, PUBLIC_BASE_URL, one log line per webhook):
with the store off (IVR_STORE=0), and with its webhooks recording every turn into a SQLite
file and into a throwaway PostgreSQL server (Debian's binaries, as the tests start it). wrk drives them with
the same signed step requests, in rounds that run the three back to back; then the servers
stop (flushing their queues) and the rows in each store are counted against the requests
wrk completed.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


from bench.bench import (  # noqa: E402
    SECRET,
    TOKEN,
    free_port,
    start,
    step_requests,
    stop,
    summarize,
    turns_in,
    worker_rss_kib,
    write_lua,
    wrk,
)
from ivr import store as store_mod  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    from postgres import Server, binaries

    if binaries() is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    pg = Server(binaries(), port=free_port())
    pg.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            urls = {"sqlite": f"sqlite:///{tmp / 'ivr.sqlite3'}", "postgresql": pg.url()}
            for url in urls.values():
                store_mod.upgrade(url)
            ports = {name: free_port() for name in ("off", "sqlite", "postgresql")}
            # One public base for all three, so that the same signed requests serve each.
            public = "http://127.0.0.1:1"
            requests = step_requests(1)
            write_lua(tmp / "steps.lua", "POST", requests)
            base_env = {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_WEB_PHONE": "0", "PUBLIC_BASE_URL": public,
                        "IVR_SECRET_KEY": SECRET}
            servers = {}
            for name, port in ports.items():
                env = (dict(base_env, DATABASE_URL=urls[name]) if name in urls
                       else dict(base_env, IVR_STORE="0"))
                servers[name] = start("app:app", port, args.workers, env, tmp / f"{name}.log")
            runs = {name: [] for name in ports}
            try:
                for port in ports.values():  # warm up
                    subprocess.run(["wrk", "-t1", "-c2", "-d1s", "-s", str(tmp / "steps.lua"),
                                    f"http://127.0.0.1:{port}"], capture_output=True, check=True)
                time.sleep(1.5)  # the writers' timers (0.5 s) have written the warm-up
                before = {name: turns_in(url) for name, url in urls.items()}
                order = list(ports)
                for r in range(args.rounds):
                    for name in order[r % 3:] + order[:r % 3]:
                        runs[name].append(wrk(ports[name], tmp / "steps.lua", args, servers[name]))
                memory = {name: statistics.mean(worker_rss_kib(proc)) / 1024
                          for name, proc in servers.items()}
            finally:
                for proc in servers.values():
                    stop(proc)
            recorded = {name: turns_in(url) - before[name] for name, url in urls.items()}
            logs = {name: (tmp / f"{name}.log").read_text(errors="replace") for name in ports}
    finally:
        pg.remove()

    results = {name: summarize(v) for name, v in runs.items()}
    print(f"gunicorn -w {args.workers} (sync) · wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s × {args.rounds} rounds, the three servers back to back")
    print(f"{'store':12}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU µs/req':>12}"
          f"{'MiB/worker':>12}")
    for name, r in results.items():
        print(f"{name:12}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['errors']:>8}"
              f"{r['cpu_us']:>12.0f}{memory[name]:>12.1f}")
    failed = any(r["errors"] for r in results.values())
    for name in ("sqlite", "postgresql"):
        ratio = statistics.median(a["rps"] / b["rps"] for a, b in zip(runs[name], runs["off"], strict=False))
        made = results[name]["requests"]
        # wrk counts the responses it read; a request still in flight when a run ends (at most
        # one per connection) is answered and recorded, but not counted by wrk.
        extra = recorded[name] - made
        print(f"{name}: {ratio:.2f}× the store off (median of paired rounds; target ≥ 0.90); "
              f"wrk's completed requests {made}, turns recorded {recorded[name]} "
              f"(+{extra}; in flight at the end of the runs: at most {args.connections * args.rounds})")
        lost = "dropped" in logs[name]
        failed |= ratio < 0.9 or not 0 <= extra <= args.connections * args.rounds or lost
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

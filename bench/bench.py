"""Webhook speed of the line against a constant Flask view, under the same gunicorn.

    .venv/bin/python bench/bench.py            # needs wrk (apt-get install wrk)

Serves (a) the line as production runs it (`app:app`: signature checks on, PUBLIC_BASE_URL,
one log line per webhook, the call store on: a migrated SQLite file, IVR_SECRET_KEY set),
(b) bench/constant.py (a bare Flask view returning a constant TwiML document of the same
size) and (c) bench/floor.py (a bare view that reads the form, checks one signature and
logs one line) with the same gunicorn settings, drives them with wrk using the same signed
requests, in rounds that run them back to back so that machine noise hits all, and prints
requests/s, p50/p99 latency, errors, the ratios to the constant view for step pages and
for the audio route, resident memory per worker, and the turns the store recorded against
the requests wrk completed.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ivr.ports import free_port  # noqa: E402  (after the path is set)

TOKEN = "bench-auth-token"
SECRET = "bench-secret-key"

LUA = """
local requests = {}
%(requests)s
local i = 0
request = function()
  i = i %% #requests + 1
  return requests[i]
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal here


def step_requests(port: int) -> list[tuple[str, dict, dict]]:
    """Turns of real calls: every step with next/repeat/back/wrong key/silence, signed."""
    out = []
    for n in range(1, 9):
        for digits in ("2", "1", "3", "9", None):
            path = "/voice/turn?" + urlencode({"at": str(n)})
            params = {"CallSid": "CA" + "b" * 32, "AccountSid": "AC" + "0" * 32,
                      "From": "+573001234567", "To": "+576015550100",
                      "CallStatus": "in-progress", "Direction": "inbound"}
            if digits:
                params["Digits"] = digits
            url = f"http://127.0.0.1:{port}{path}"
            signature = RequestValidator(TOKEN).compute_signature(url, params)
            out.append((path, params, {"X-Twilio-Signature": signature}))
    return out


def write_lua(path: Path, method: str, requests) -> None:
    lines = []
    for i, (target, params, headers) in enumerate(requests, start=1):
        body = urlencode(params) if params else ""
        hdrs = dict(headers)
        if body:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        lua_headers = "{" + ", ".join(f"[{lua_string(k)}]={lua_string(v)}" for k, v in hdrs.items()) + "}"
        lines.append(f"requests[{i}] = wrk.format({lua_string(method)}, {lua_string(target)}, "
                     f"{lua_headers}, {lua_string(body) if body else 'nil'})")
    path.write_text(LUA % {"requests": "\n".join(lines)})


def start(app_spec: str, port: int, workers: int, env: dict, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
           "--log-level", "warning", app_spec]
    # The line logs one line per webhook, as in production: to a file, since an undrained
    # pipe would block the workers once full.
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"{app_spec} did not start:\n{log.read_text(errors='replace')}") from None
            time.sleep(0.1)
    raise SystemExit(f"{app_spec} did not start within 30 s")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def worker_rss_kib(master: subprocess.Popen) -> list[int]:
    """Resident memory of each gunicorn worker (the master's children)."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    out = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out.append(int(line.split()[1]))
    return out


def server_cpu_seconds(master: subprocess.Popen) -> float:
    """CPU time (user + system) used so far by a gunicorn master and its workers."""
    pids = [str(master.pid)]
    pids += Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(port: int, script: Path, args, server: subprocess.Popen) -> dict:
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
           "-s", str(script), f"http://127.0.0.1:{port}"]
    cpu = server_cpu_seconds(server)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = server_cpu_seconds(server) - cpu
    result = json.loads(out.strip().splitlines()[-1])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    # Throughput on a shared 2-core machine swings with its neighbours; the server's own CPU
    # time per request is the steadier measure of the work each request costs.
    result["cpu_us"] = cpu / max(result["requests"], 1) * 1e6
    return result


def summarize(runs: list[dict]) -> dict:
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
        "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
        "errors": sum(r["errors"] for r in runs),
        "cpu_us": statistics.median(r["cpu_us"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
    }


def turns_in(database: str) -> int:
    """The turns in the call store at `database`."""
    from ivr import store as store_mod

    engine = store_mod.create_engine(database)
    with engine.connect() as c:
        n = c.execute(sa.select(sa.func.count()).select_from(store_mod.turns)).scalar_one()
    engine.dispose()
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both servers")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")

    from ivr import create_app
    from ivr import store as store_mod

    line = create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN, "WEB_PHONE": False,
                       "STORE": False}).extensions["ivr"]
    audio_name = line.audio.file_for("paso_3")
    if not audio_name:
        raise SystemExit("no current audio for paso_3: run `ivr audio build --engine espeak`")

    app_port, const_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        requests = step_requests(app_port)
        # The constant document: the line's own Paso 3 page, so both send the same bytes.
        public = f"http://127.0.0.1:{app_port}"
        twiml = line.documents(public)[line.flow.next(line.flow.parse({"at": "2"}), "2")]
        (tmp / "twiml.xml").write_bytes(twiml)
        write_lua(tmp / "app.lua", "POST", requests)
        write_lua(tmp / "const.lua", "POST", [(t, p, {}) for t, p, _ in requests])
        write_lua(tmp / "audio.lua", "GET", [(f"/audio/{audio_name}", {}, {})])

        # As in production: signatures checked against the configured public base URL, and
        # every turn recorded in the call store (here a SQLite file, migrated first).
        database = f"sqlite:///{tmp / 'ivr.sqlite3'}"
        store_mod.upgrade(database)
        env_app = {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_WEB_PHONE": "0", "PUBLIC_BASE_URL": public,
                   "IVR_SECRET_KEY": SECRET, "DATABASE_URL": database}
        env_const = {"BENCH_TWIML": str(tmp / "twiml.xml"),
                     "BENCH_AUDIO": str(line.audio.directory / audio_name)}
        env_floor = {"BENCH_TWIML": str(tmp / "twiml.xml"), "TWILIO_AUTH_TOKEN": TOKEN,
                     "PUBLIC_BASE_URL": public}
        floor_port = free_port()
        servers = {
            "line": start("app:app", app_port, args.workers, env_app, tmp / "line.log"),
            "constant": start("bench.constant:app", const_port, args.workers, env_const,
                              tmp / "constant.log"),
            "floor": start("bench.floor:app", floor_port, args.workers, env_floor,
                           tmp / "floor.log"),
        }
        steps = [("line", app_port, "app.lua"), ("floor", floor_port, "app.lua"),
                 ("constant", const_port, "const.lua")]
        try:
            # Warm up all three (imports, first-request work) before measuring.
            for _name, port, script in steps:
                subprocess.run(["wrk", "-t1", "-c2", "-d1s", "-s", str(tmp / script),
                                f"http://127.0.0.1:{port}"], capture_output=True, check=True)
            time.sleep(1)  # the line's writers (every 0.5 s) have written the warm-up
            before = turns_in(database)
            runs = {k: [] for k in ("line steps", "floor steps", "constant steps", "line audio",
                                    "constant audio")}
            for r in range(args.rounds):
                # Each round runs the servers back to back, in an order that turns round by
                # round, so a slow moment of the machine falls on all.
                for name, port, script in steps[r % 3:] + steps[:r % 3]:
                    runs[f"{name} steps"].append(wrk(port, tmp / script, args, servers[name]))
                pairs = steps[::2]
                for name, port, _ in pairs if r % 2 == 0 else pairs[::-1]:
                    runs[f"{name} audio"].append(
                        wrk(port, tmp / "audio.lua", args, servers[name]))
            memory = {name: worker_rss_kib(proc) for name, proc in servers.items()}
        finally:
            for proc in servers.values():
                stop(proc)  # the line's workers write what they still have queued
        recorded = turns_in(database) - before
        lost = "dropped" in (tmp / "line.log").read_text(errors="replace")

    results = {k: summarize(v) for k, v in runs.items()}
    print(f"gunicorn -w {args.workers} (sync) · wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s × {args.rounds} alternating rounds · {os.cpu_count()} cores")
    print(f"{'':16}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'server CPU µs/req':>19}")
    for name, r in results.items():
        print(f"{name:16}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['errors']:>8}"
              f"{r['cpu_us']:>19.0f}")
    # The ratio of each round's pair, then their median: pairs ran seconds apart.
    steps = statistics.median(
        a["rps"] / b["rps"] for a, b in zip(runs["line steps"], runs["constant steps"], strict=False))
    floor = statistics.median(
        a["rps"] / b["rps"] for a, b in zip(runs["floor steps"], runs["constant steps"], strict=False))
    audio = statistics.median(
        a["rps"] / b["rps"] for a, b in zip(runs["line audio"], runs["constant audio"], strict=False))
    print(f"ratio line/constant (median of rounds): steps {steps:.2f}× (target ≥ 0.80), "
          f"audio {audio:.2f}×; the floor view: {floor:.2f}×")
    # What the line adds to what any signed, logged webhook must do (the floor view): the
    # target the restructure kept (≥ 0.8×).
    over_floor = statistics.median(
        a["rps"] / b["rps"] for a, b in zip(runs["line steps"], runs["floor steps"], strict=False))
    print(f"ratio line/floor (median of rounds): steps {over_floor:.2f}× (target ≥ 0.80)")
    print("  steps, per round: " + " ".join(
        f"{a['rps'] / b['rps']:.2f}" for a, b in zip(runs["line steps"], runs["constant steps"], strict=False)))
    cpu = results["constant steps"]["cpu_us"] / results["line steps"]["cpu_us"]
    cpu_floor = results["constant steps"]["cpu_us"] / results["floor steps"]["cpu_us"]
    print(f"server CPU per step request, constant/line: {cpu:.2f}×, constant/floor: {cpu_floor:.2f}×")
    made = results["line steps"]["requests"]
    in_flight = args.connections * args.rounds
    print(f"call store: {recorded} turns recorded for the {made} step requests wrk completed "
          f"(+{recorded - made}: requests in flight when a run ended, at most {in_flight})"
          f"{'; events were DROPPED (see the log)' if lost else ', none lost'}")
    line_mem = statistics.mean(memory["line"]) / 1024
    bare_mem = statistics.mean(memory["constant"]) / 1024
    print(f"memory per worker: line {line_mem:.1f} MiB, bare Flask {bare_mem:.1f} MiB "
          f"({line_mem / bare_mem:.2f}×, target ≤ 1.50)")
    failed = (steps < 0.8 or line_mem / bare_mem > 1.5 or any(r["errors"] for r in results.values())
              or lost or not 0 <= recorded - made <= in_flight)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

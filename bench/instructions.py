"""Instructions per signed step webhook, line and constant view: a repeatable yardstick.

    .venv/bin/python bench/instructions.py          # needs valgrind (apt-get install valgrind)
    .venv/bin/python bench/instructions.py line     # only some of APPS

The line runs with its call store on (a SQLite file in a temporary folder, the writer
flushed before the count ends, so its work is counted) and off, against a floor and the
constant view (see APPS).

Throughput on a shared machine swings by ±5 %; callgrind's instruction count for the same
code and input does not, so it shows what a change to the webhook path really saves. Each
app serves the same request in-process (no HTTP), as bench/hotspots.py does; the line with
its signature check and log line on, as in production.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N = 1000


#: What is counted: the line with the store on (as production runs it) and off, the floor
#: (a bare view doing the least a signed, logged webhook must: read the form, one HMAC, one
#: log line) and the constant view (no reading, no checking).
APPS = ("line", "line-no-store", "floor", "constant")


def child(which: str, n: int) -> None:
    """Serve `n` requests with one of APPS (run under valgrind)."""
    import io
    import logging
    import tempfile

    sys.path.insert(0, str(ROOT))
    from flask import Flask, Response, request
    from twilio.request_validator import RequestValidator

    from bench.hotspots import TOKEN, environ, line_app
    from ivr import logs

    logs.configure()
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115 (for the run)
    folder = tempfile.mkdtemp()
    app = line_app(folder, store=which == "line")
    line = app.extensions["ivr"]
    # The line's own Paso 3 page, byte for byte.
    document = line.documents(line.public_base)[line.flow.next(line.flow.parse({"at": "2"}), "2")]
    constant = Flask("constant")
    constant.add_url_rule("/voice/turn", "turn", lambda: Response(document, mimetype="text/xml"),
                          methods=["POST"])
    floor = Flask("floor")
    validator = RequestValidator(TOKEN)
    log = logging.getLogger("floor")

    def floor_view():
        form = request.form
        signature = validator.compute_signature("http://localhost/voice/turn?at=3", form)
        log.info("call=%s input=%s ok=%s", form.get("CallSid"), form.get("Digits"),
                 signature == request.headers.get("X-Twilio-Signature"))
        return Response(document, mimetype="text/xml")

    floor.add_url_rule("/voice/turn", "turn", floor_view, methods=["POST"])
    target = {"constant": constant, "floor": floor}.get(which, app)
    env, body = environ()
    for _i in range(200 + n):  # 200 to warm up, as a running worker has
        e = dict(env, **{"wsgi.input": io.BytesIO(body)})
        for _ in target(e, lambda status, headers: None):
            pass
    if line.store:  # the writer's work is the request's too: count all of it
        line.store.close()


def count(which: str, n: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--child", which, str(n)],
        capture_output=True, text=True, check=True,
    ).stderr
    return int(next(ln for ln in out.splitlines() if "Collected" in ln).split()[-1])


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        return child(sys.argv[2], int(sys.argv[3]))
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)")
    which = [a for a in sys.argv[1:] if a in APPS] or APPS  # e.g. `instructions.py line`
    unknown = [a for a in sys.argv[1:] if a not in APPS]
    if unknown:
        raise SystemExit(f"unknown app {unknown[0]!r}: choose among {', '.join(APPS)}")
    per = {w: (count(w, N) - count(w, 0)) / N for w in which}
    for w, v in per.items():
        ratios = ", ".join(f"{v / per[base]:.2f}× {base}" for base in ("constant", "floor")
                           if base in per and base != w)
        print(f"{w:14} {v / 1000:7.0f}k instructions per request" + (f" ({ratios})" if ratios else ""))


if __name__ == "__main__":
    main()

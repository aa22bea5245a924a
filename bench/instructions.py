"""Instructions per signed step webhook, line and constant view: a repeatable yardstick.

    .venv/bin/python bench/instructions.py          # needs valgrind (apt-get install valgrind)

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


def child(which: str, n: int) -> None:
    """Serve `n` requests with the line or the constant view (run under valgrind)."""
    import io
    import logging

    sys.path.insert(0, str(ROOT))
    from flask import Flask, Response

    from bench.hotspots import TOKEN, environ
    from ivr import create_app, logs

    logs.configure()
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "WEB_PHONE": False,
                      "PUBLIC_BASE_URL": "http://localhost"})
    line = app.extensions["ivr"]
    # The line's own Paso 3 page, byte for byte.
    document = line.documents(line.public_base)[line.flow.next(line.flow.parse({"at": "2"}), "2")]
    constant = Flask("constant")
    constant.add_url_rule("/voice/turn", "turn", lambda: Response(document, mimetype="text/xml"),
                          methods=["POST"])
    target = app if which == "line" else constant
    env, body = environ()
    for i in range(200 + n):  # 200 to warm up, as a running worker has
        e = dict(env, **{"wsgi.input": io.BytesIO(body)})
        for _ in target(e, lambda status, headers: None):
            pass


def count(which: str, n: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--child", which, str(n)],
        capture_output=True, text=True, check=True,
    ).stderr
    return int(next(l for l in out.splitlines() if "Collected" in l).split()[-1])


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        return child(sys.argv[2], int(sys.argv[3]))
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)")
    per = {w: (count(w, N) - count(w, 0)) / N for w in ("line", "constant")}
    for w, v in per.items():
        print(f"{w:9} {v / 1000:7.0f}k instructions per request")
    print(f"line/constant: {per['line'] / per['constant']:.2f}×")


if __name__ == "__main__":
    main()

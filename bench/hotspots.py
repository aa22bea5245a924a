"""Where a step webhook's time goes: the WSGI app called in-process, under cProfile.

    .venv/bin/python bench/hotspots.py [--top 30] [--store off]

Prints microseconds per request for the line (signed, signature checked, webhook logged
to a file, the call store on in a temporary SQLite file: as in production) and for
bench/constant.py's view, then the line's profile.
"""

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "profile-token"
PARAMS = {"CallSid": "CA" + "b" * 32, "AccountSid": "AC" + "0" * 32, "From": "+573001234567",
          "To": "+576015550100", "CallStatus": "in-progress", "Direction": "inbound",
          "Digits": "2"}


SECRET = "bench-secret-key"


def line_app(folder, store=True):
    """The line as production runs it: signatures on, PUBLIC_BASE_URL, and the call store on
    (a SQLite file in `folder`, migrated) unless `store` is False."""
    from ivr import create_app

    config = {"TWILIO_AUTH_TOKEN": TOKEN, "WEB_PHONE": False, "PUBLIC_BASE_URL": "http://localhost",
              "STORE": store, "SECRET_KEY": SECRET,
              "DATABASE_URL": f"sqlite:///{Path(folder) / 'ivr.sqlite3'}"}
    if store:
        from ivr import store as store_mod

        store_mod.upgrade(config["DATABASE_URL"])
    return create_app(config)


def environ(path="/voice/turn", query="at=3"):
    signature = RequestValidator(TOKEN).compute_signature(f"http://localhost{path}?{query}", PARAMS)
    builder = EnvironBuilder(path=path, query_string=query, method="POST", data=PARAMS,
                             headers={"X-Twilio-Signature": signature})
    env = builder.get_environ()
    body = env["wsgi.input"].read()
    return env, body


def per_request_us(app, n):
    env, body = environ()
    start = time.perf_counter()
    for _ in range(n):
        e = dict(env, **{"wsgi.input": io.BytesIO(body)})
        for _chunk in app(e, lambda status, headers: None):
            pass
    return (time.perf_counter() - start) / n * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--store", choices=("on", "off"), default="on",
                        help="the call store (a SQLite file in a temporary folder)")
    args = parser.parse_args()

    db = tempfile.TemporaryDirectory()
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)  # noqa: SIM115 (the log handler's, until exit)
    handler = logging.StreamHandler(log)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    app = line_app(db.name, store=args.store == "on")
    line = app.extensions["ivr"]
    doc = line.documents("http://localhost")[line.flow.next(line.flow.parse({"at": "2"}), "2")]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "twiml.xml").write_bytes(doc)
        (Path(tmp) / "audio.wav").write_bytes(b"RIFF")
        os.environ["BENCH_TWIML"] = str(Path(tmp) / "twiml.xml")
        os.environ["BENCH_AUDIO"] = str(Path(tmp) / "audio.wav")
        from bench.constant import app as constant

    env, body = environ()
    for wsgi in (app, constant):  # warm up
        per_request_us(wsgi, 200)
    print(f"line     {per_request_us(app, args.n):7.1f} µs/request")
    print(f"constant {per_request_us(constant, args.n):7.1f} µs/request")
    profile = cProfile.Profile()
    profile.runcall(per_request_us, app, args.n)
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
    logging.getLogger().removeHandler(handler)
    log.close()
    os.unlink(log.name)
    if line.store:
        line.store.close()
    db.cleanup()


if __name__ == "__main__":
    main()

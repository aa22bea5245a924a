"""The floor: the least a signed, logged webhook must do, in a bare Flask view.

It reads Twilio's form (`request.form`), computes one signature with twilio's
RequestValidator and writes one log line, then answers the same constant document as
bench/constant.py. Started by bench.py beside the line and the constant view, so the
distance from the line to it is the line's own work (flow, store, its log line's fields),
and from it to the constant view what any signed, logged webhook costs.
"""

import logging
import os

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("floor")

app = Flask(__name__)
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
BASE = os.environ["PUBLIC_BASE_URL"]

with open(os.environ["BENCH_TWIML"], "rb") as f:
    TWIML = f.read()


@app.route("/voice/turn", methods=["POST"])
def turn():
    form = request.form
    url = f"{BASE}{request.path}?{request.query_string.decode()}"
    if validator.compute_signature(url, form) != request.headers.get("X-Twilio-Signature"):
        return Response("Forbidden\n", 403)
    log.info("call=%s input=%s", form.get("CallSid"), form.get("Digits"))
    return Response(TWIML, mimetype="text/xml")

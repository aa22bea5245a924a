"""The yardstick: a bare Flask app that answers constant documents of the same size.

Started by bench.py under the same gunicorn settings as the line, so the ratio between
the two is what the line's own work costs, whatever the machine.
"""

import os

from flask import Flask, Response

app = Flask(__name__)

with open(os.environ["BENCH_TWIML"], "rb") as f:
    TWIML = f.read()
with open(os.environ["BENCH_AUDIO"], "rb") as f:
    AUDIO = f.read()


@app.route("/voice/turn", methods=["GET", "POST"])
def turn():
    return Response(TWIML, mimetype="text/xml")


@app.route("/audio/<name>")
def audio(name):
    return Response(AUDIO, mimetype="audio/wav")

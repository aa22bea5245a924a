"""One structured line per webhook, phone numbers masked, whatever the caller sends."""

import json
import logging
import re

import pytest
from flask import request

from conftest import walk
from ivr.logs import mask, value

KEYS = ["call", "from", "to", "route", "state", "input", "outcome", "status", "ms"]
#: key=value, the value bare or JSON-quoted.
PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"]+)(?: |$)')


def webhook_lines(caplog):
    records = [r for r in caplog.records if r.name == "ivr.webhook"]
    assert all(r.levelno == logging.INFO for r in records)
    return [r.getMessage() for r in records]


def fields(line):
    """The line's values by key (quoted ones decoded); fails unless it is exactly KEYS."""
    pairs = PAIR.findall(line)
    assert "".join(f"{k}={v} " for k, v in pairs).rstrip() == line, line
    assert [k for k, _ in pairs] == KEYS, line
    return {k: json.loads(v) if v.startswith('"') else v for k, v in pairs}


def test_one_line_per_webhook_with_the_call_and_what_happened(app, caplog):
    caplog.set_level(logging.INFO, "ivr.webhook")
    c = walk(app, "1,2,9,-")
    lines = [fields(line) for line in webhook_lines(caplog)]
    assert len(lines) == c.requests == 5
    assert {line["call"] for line in lines} == {c.sid}
    assert [(f["route"], f["state"], f["input"], f["outcome"], f["status"]) for f in lines] == [
        ("answer", "-", "-", "menu", "200"),
        ("turn", "at=menu", "1", "step:1", "200"),
        ("turn", "at=1", "2", "step:2", "200"),
        ("turn", "at=2", "9", "step:2", "200"),
        ("turn", "at=2,w=1", "-", "step:2", "200"),
    ]
    assert all(float(f["ms"]) < 1000 for f in lines)


def test_phone_numbers_are_masked_everywhere(app, caplog):
    caplog.set_level(logging.DEBUG)
    walk(app, "1,-", caller="+573001234567", line_number="+576015550100")
    assert {(fields(line)["from"], fields(line)["to"]) for line in webhook_lines(caplog)} == {
        ("+********4567", "+********0100")}
    assert "3001234567" not in caplog.text and "6015550100" not in caplog.text


def test_a_refused_request_is_logged_as_refused(client, caplog):
    caplog.set_level(logging.INFO, "ivr.webhook")
    client.post("/voice/turn?at=3", data={"CallSid": "CA9", "Digits": "2"})
    [line] = webhook_lines(caplog)
    assert fields(line)["outcome"] == "refused" and fields(line)["status"] == "403"


@pytest.mark.parametrize(
    "digits",
    ["1\n2", "x" * 10_000, "\u202e\u0000\r\nINFO ivr.webhook: call=CAfake", '"; drop', " "],
)
def test_whatever_is_sent_stays_one_short_line(app, signed, caplog, digits):
    caplog.set_level(logging.INFO, "ivr.webhook")
    signed("POST", "/voice/turn?at=2&s=%0A", {"CallSid": "CA\n1", "Digits": digits})
    [line] = webhook_lines(caplog)
    assert "\n" not in line and "\r" not in line and len(line) < 600
    assert line.isascii()
    f = fields(line)
    assert f["status"] == "200" and f["call"] == "CA\n1"
    assert f["input"] == (digits if len(digits) <= 40 else digits[:40] + "...")


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+573001234567", "+********4567"), ("+15551234567", "+*******4567"),
     ("client:alice", "********lice"), ("1234", "****"), ("", "-"), (None, "-"),
     ("+" + "9" * 500, "+************9999")],
)
def test_mask_keeps_only_the_last_four(number, masked):
    assert mask(number) == masked


def test_values_are_cut_and_quoted():
    assert value("at=3,s=1") == "at=3,s=1"
    assert value("a b") == '"a b"'
    assert value("x" * 100) == "x" * 40 + "..."
    assert value("") == value(None) == "-"


def test_a_body_read_before_the_line_reads_it_is_still_checked(app, signed):
    # Another part of the app (a middleware, an extension) may parse the form first.
    @app.before_request
    def peek():
        request.form.get("CallSid")

    r = signed("POST", "/voice/turn?at=menu", {"CallSid": "CApeek", "Digits": "2"})
    assert r.status_code == 200
    assert "at=pick" in r.get_data(as_text=True)

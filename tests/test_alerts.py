"""`ivr twilio alerts` and the doctor's line on them: Twilio's Monitor API answered by
tests/twilio_api.py behind twilio's own HTTP seam (pages, error bodies, no network), at a
fixed time."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from ivr import alerts
from ivr import store as store_mod
from ivr.cli import cli
from ivr.store import Turn
from twilio_api import ACCOUNT_SID, ALERTS, AUTH_TOKEN, FakeTwilio, alert

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
BASE = "https://ivr.example.com"
BOGOTA = ZoneInfo("America/Bogota")
CALLER = "+573001234567"

#: The codes a line like this one meets (issue 18): each has its line of what to do.
CODES = [11200, 11205, 11750, 12100, 12200, 12300, 13214, 13227, 13330, 13331, 13335, 20003,
         20404, 21211, 21610, 21614, 30003, 30004, 30005, 30006, 30007, 30008]

SETTINGS = ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL", "IVR_SMS_FROM",
            "IVR_TIMEZONE", "DATABASE_URL", "IVR_STORE", "IVR_SECRET_KEY", "IVR_AGENT_NUMBER",
            "IVR_WEB_PHONE", "IVR_CONTENT", "IVR_AUDIO_DIR")


@pytest.fixture(autouse=True)
def env(monkeypatch):
    """The account's credentials and the line's URL; nothing from a developer's .env."""
    monkeypatch.setattr("dotenv.load_dotenv", lambda *a, **k: False)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("PUBLIC_BASE_URL", BASE)
    return monkeypatch


def ago(**delta):
    return NOW - timedelta(**delta)


def ivr(api, *args, now=NOW):
    return CliRunner().invoke(cli, ["twilio", "alerts", *args],
                              obj={"twilio_http_client": api, "clock": lambda: now})


def alerts_seen(api):
    return [s for s in api.requests if s.path == ALERTS]


# -- --since ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "when"), [
    ("90m", NOW - timedelta(minutes=90)),
    ("24h", NOW - timedelta(hours=24)),
    ("7d", NOW - timedelta(days=7)),
    ("2026-11-20", datetime(2026, 11, 20, 5, 0, tzinfo=UTC)),  # midnight in Bogotá
    ("2026-11-20T08:00", datetime(2026, 11, 20, 13, 0, tzinfo=UTC)),
    ("2026-11-20T08:00:00+00:00", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
    ("2026-11-20T08:00Z", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
])
def test_since_takes_ages_and_iso_times(text, when):
    assert alerts.parse_since(text, NOW, BOGOTA) == when


@pytest.mark.parametrize("text", ["yesterday", "24", "h", "0h", "24 h", "-2d", "2w", "", "2026-13-01",
                                  "20/11/2026", "2026-11-21", "1000000d"])
def test_anything_else_is_refused_in_one_line(text):
    with pytest.raises(alerts.AlertsError) as e:
        alerts.parse_since(text, NOW, BOGOTA)
    assert "\n" not in str(e.value) and repr(text) in str(e.value)


# -- ivr twilio alerts -----------------------------------------------------------------------

def test_alerts_are_grouped_by_code_with_count_last_time_and_path():
    api = FakeTwilio(alerts=[
        alert(11200, ago(minutes=5), f"{BASE}/voice/turn?at=3"),
        alert(11200, ago(hours=2), f"{BASE}/voice/turn?at=menu&s=1"),
        alert(11200, ago(hours=3), f"{BASE}/voice"),
        alert(13335, ago(hours=6), f"{BASE}/voice/turn?at=2", log_level="warning"),
        alert(99999, ago(hours=7), f"{BASE}/voice", alert_text="Msg=Something+new&ErrorCode=99999"),
    ])
    result = ivr(api)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Twilio alerts about {BASE} since 2026-11-19 10:00 (America/Bogota): 5",
        "11200  error      3x  last 2026-11-20 09:55  /voice/turn, /voice",
        "       HTTP retrieval failure: " + alerts.CODES[11200][1],
        "       https://www.twilio.com/docs/api/errors/11200",
        "13335  warning    1x  last 2026-11-20 04:00  /voice/turn",
        "       Gather: speechTimeout auto cannot be used with a model: " + alerts.CODES[13335][1],
        "       https://www.twilio.com/docs/api/errors/13335",
        "99999  error      1x  last 2026-11-20 03:00  /voice",
        "       Something new",  # a code the table does not know: Twilio's own words
        "       https://www.twilio.com/docs/api/errors/99999",
    ]
    [seen] = alerts_seen(api)
    assert seen.method == "GET" and seen.url == "https://monitor.twilio.com" + ALERTS
    assert seen.params == {"StartDate": "2026-11-19T15:00:00Z", "EndDate": "2026-11-20T15:00:00Z"}
    assert seen.auth == (ACCOUNT_SID, AUTH_TOKEN)


def test_every_page_is_read():
    """Twilio pages by meta.next_page_url (absolute, with a PageToken): 120 alerts, 3 pages."""
    api = FakeTwilio(alerts=[alert(11200, ago(minutes=i), f"{BASE}/voice/turn") for i in range(120)])
    result = ivr(api, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["alerts"] == 120 and data["codes"][0]["count"] == 120
    pages = [{**dict(parse_qsl(urlsplit(s.url).query)), **s.params} for s in alerts_seen(api)]
    assert [(p.get("Page"), p.get("PageToken"), p["StartDate"]) for p in pages] == [
        (None, None, "2026-11-19T15:00:00Z"), ("1", "PA1", "2026-11-19T15:00:00Z"),
        ("2", "PA2", "2026-11-19T15:00:00Z")]


def test_json_holds_what_the_text_does():
    api = FakeTwilio(alerts=[
        alert(11205, ago(minutes=30), f"{BASE}/voice", alert_text="Msg=Connection+timed+out"),
        alert(11205, ago(hours=5), f"{BASE}/voice/status", log_level="warning"),
        alert(11200, ago(hours=1), "https://other.example.com/voice"),
        alert(11200, ago(hours=1), f"{BASE}/voice", log_level="notice"),  # not a problem
    ])
    result = ivr(api, "--json", "--since", "12h")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "base": BASE, "since": "2026-11-20T03:00:00+00:00", "until": "2026-11-20T15:00:00+00:00",
        "alerts": 2, "others": 1,
        "codes": [{
            "code": 11205, "level": "error", "count": 2, "errors": 1,
            "last_seen": "2026-11-20T14:30:00+00:00", "paths": {"/voice": 1, "/voice/status": 1},
            "title": "HTTP connection failure", "what_to_do": alerts.CODES[11205][1],
            "more_info": "https://www.twilio.com/docs/api/errors/11205",
            "example": "Connection timed out",
        }],
    }


@pytest.mark.parametrize("code", CODES)
def test_each_code_a_line_meets_says_what_to_do(code):
    api = FakeTwilio(alerts=[alert(code, ago(hours=1), f"{BASE}/voice")])
    result = ivr(api)
    assert result.exit_code == 0, result.output
    title, todo = alerts.CODES[code]
    lines = result.output.splitlines()
    assert lines[2] == f"       {title}: {todo}"
    assert lines[3] == f"       https://www.twilio.com/docs/api/errors/{code}"


def test_the_table_holds_just_those_codes_with_one_line_each():
    assert sorted(alerts.CODES) == CODES
    assert all("\n" not in title + todo and todo for title, todo in alerts.CODES.values())


def test_only_the_lines_alerts_are_kept(env, tmp_path):
    """Its URL (not a lookalike host or a path outside it), its calls (the call store), its
    sender; anything else on the account is only counted."""
    env.setenv("PUBLIC_BASE_URL", BASE + "/alcanos")
    database = f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    store_mod.upgrade(database)
    s = store_mod.Store.open(database, b"k")
    s.record(Turn("CA" + "7" * 32, None, ago(hours=2), "start", None, "-", None, "start", "menu", False))
    assert s.flush()
    s.close()
    env.setenv("DATABASE_URL", database)
    env.setenv("IVR_SMS_FROM", "+15005550006")
    api = FakeTwilio(alerts=[
        alert(11200, ago(hours=1), f"{BASE}/alcanos/voice/turn?at=1"),
        alert(11200, ago(hours=1), f"{BASE}:443/alcanos/voice"),
        alert(13227, ago(hours=2), "https://elsewhere.example.com/dial", resource_sid="CA" + "7" * 32),
        alert(30007, ago(hours=3), "", alert_text="From=%2B15005550006&To=%2B573001234567"),
        alert(11200, ago(hours=1), f"{BASE}/voice"),  # the same host, not under /alcanos
        alert(11200, ago(hours=1), f"{BASE}/alcanosx/voice"),
        alert(11200, ago(hours=1), "https://ivr.example.com.evil.test/alcanos/voice"),
        alert(13227, ago(hours=2), "https://elsewhere.example.com/dial"),  # another app's call
        alert(30007, ago(hours=3), "", alert_text="From=%2B15005550007&To=%2B573001234567"),
    ])
    data = json.loads(ivr(api, "--json").output)
    assert {c["code"]: c["count"] for c in data["codes"]} == {11200: 2, 13227: 1, 30007: 1}
    assert data["others"] == 5


def test_no_alerts_is_said_and_exits_zero():
    api = FakeTwilio(alerts=[alert(11200, ago(days=2), f"{BASE}/voice")])  # before --since
    result = ivr(api)
    assert result.exit_code == 0
    assert result.output == f"Twilio alerts about {BASE} since 2026-11-19 10:00 (America/Bogota): none\n"


def test_a_callers_number_is_never_shown():
    """In a GET webhook's URL, in the alert's text (form-encoded or not, spoken digits too):
    masked as the log masks numbers, and the URL shown by its path."""
    texts = [
        f"Msg=Got+HTTP+500+for+{BASE}/voice?From=%2B573001234567&ErrorCode=11200",
        "Msg=Twilio+could+not+text++573001234567",
        "SpeechResult=mi+numero+es+300+123+4567&Msg=speech",
        "Msg=Message+to+573001234567+failed",
    ]
    api = FakeTwilio(alerts=[
        alert(11200, ago(minutes=10 + i), f"{BASE}/voice?From=%2B573001234567&To=%2B576015550100",
              alert_text=text) for i, text in enumerate(texts)])
    shown = ivr(api).output + ivr(api, "--json").output
    for digits in ("573001234567", "3001234567", "300 123 4567", "6015550100", "%2B57"):
        assert digits not in shown
    data = json.loads(ivr(api, "--json").output)
    assert data["codes"][0]["paths"] == {"/voice": 4}
    assert data["codes"][0]["example"] == "Got HTTP 500 for https://ivr.example.com/voice?From=+********4567"


@pytest.mark.parametrize(("text", "masked"), [
    ("From=%2B573001234567", "From=%2B********4567"),
    ("call +57 300 123 4567 now", "call +********4567 now"),
    ("numero+3001234567", "numero+******4567"),
    ("ErrorCode=11200&Date=2026-11-20T14:58:00Z&port=8443", "ErrorCode=11200&Date=2026-11-20T14:58:00Z&port=8443"),
])
def test_mask_hides_numbers_and_keeps_codes_and_dates(text, masked):
    assert alerts.mask(text) == masked


def test_more_than_30_days_is_what_twilio_keeps():
    api = FakeTwilio()
    result = ivr(api, "--since", "90d")
    assert result.exit_code == 0
    assert "note: Twilio keeps alerts for 30 days" in result.output  # CliRunner mixes stderr in
    assert alerts_seen(api)[0].params["StartDate"] == "2026-10-21T15:00:00Z"


@pytest.mark.parametrize(("api", "args", "message"), [
    (FakeTwilio(offline=True), [],
     "Error: cannot reach Twilio's API at monitor.twilio.com (unknown host): no network?"),
    (FakeTwilio(auth_token="another"), [],
     "Error: Twilio refused the credentials (error 20003): check TWILIO_ACCOUNT_SID and "
     "TWILIO_AUTH_TOKEN (Twilio console, Account info)"),
    (FakeTwilio(), ["--since", "yesterday"],
     "Error: --since must look like 90m, 24h, 7d, 2026-11-20 or 2026-11-20T08:00, not 'yesterday'"),
    (FakeTwilio(), ["--since", "2026-12-01"], "Error: --since '2026-12-01' is not in the past"),
    (FakeTwilio(), ["--url", "ivr.example.com"],
     "Error: the base URL must look like https://ivr.example.com, not 'ivr.example.com'"),
])
def test_what_stops_it_is_one_line(api, args, message):
    result = ivr(api, *args)
    assert result.exit_code == 1
    assert result.output == message + "\n"


class Proxy(FakeTwilio):
    """Something between the line and Twilio that answers with a page of its own."""

    def __init__(self, status):
        super().__init__()
        self.status = status

    def request(self, method, url, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        from twilio.http.response import Response

        return Response(self.status, "<html><body>Bad gateway</body></html>", {"Content-Type": "text/html"})


@pytest.mark.parametrize(("status", "message"), [
    (502, "Error: Twilio answered HTTP 502: Unable to fetch page"),
    (200, "Error: Twilio's answer could not be read (JSONDecodeError: "),
])
def test_an_answer_that_is_not_twilios_is_one_line(status, message):
    result = ivr(Proxy(status))
    assert result.exit_code == 1 and result.output.startswith(message)
    assert result.output.count("\n") == 1


@pytest.mark.parametrize(("unset", "message"), [
    ("TWILIO_ACCOUNT_SID", "Error: TWILIO_ACCOUNT_SID is not set"),
    ("TWILIO_AUTH_TOKEN", "Error: TWILIO_AUTH_TOKEN is not set"),
    ("PUBLIC_BASE_URL", "Error: give the line's public address with --url BASE, or set PUBLIC_BASE_URL"),
])
def test_missing_settings_are_named(env, unset, message):
    env.delenv(unset)
    api = FakeTwilio()
    result = ivr(api)
    assert result.exit_code == 1 and result.output.startswith(message)
    assert result.output.count("\n") == 1 and api.requests == []


def test_url_option_names_the_line(env):
    env.delenv("PUBLIC_BASE_URL")
    api = FakeTwilio(alerts=[alert(12300, ago(hours=1), "https://tunnel.example.com/voice")])
    data = json.loads(ivr(api, "--json", "--url", "https://tunnel.example.com/").output)
    assert data["base"] == "https://tunnel.example.com" and data["codes"][0]["code"] == 12300


# -- the doctor's line -----------------------------------------------------------------------

def doctor(api, now=NOW):
    result = CliRunner().invoke(cli, ["doctor", "--timeout", "1"],
                                obj={"twilio_http_client": api, "clock": lambda: now})
    found = [line for line in result.output.splitlines() if line[5:19].strip() == "twilio alerts"]
    return found[0][:5].strip() if found else None, found[0][19:] if found else None


@pytest.mark.parametrize(("found", "level", "message"), [
    ([], "OK", f"in the last 24 h: none about {BASE}"),
    ([alert(11200, ago(minutes=20), f"{BASE}/voice/turn"), alert(11200, ago(hours=5), f"{BASE}/voice")],
     "FAIL", "in the last 24 h: error 11200 20 min ago (11200 x2): run `ivr twilio alerts`"),
    ([alert(11200, ago(hours=2), f"{BASE}/voice/turn"), alert(13335, ago(minutes=5), f"{BASE}/voice",
                                                                 log_level="warning")],
     "WARN", "in the last 24 h: 2 (13335 x1, 11200 x1), none an error in the last hour: "
             "run `ivr twilio alerts`"),
    ([alert(11200, ago(minutes=59), f"{BASE}/voice")],
     "FAIL", "in the last 24 h: error 11200 59 min ago (11200 x1): run `ivr twilio alerts`"),
    ([alert(11200, ago(minutes=61), f"{BASE}/voice")],
     "WARN", "in the last 24 h: 1 (11200 x1), none an error in the last hour: run `ivr twilio alerts`"),
    ([alert(11200, ago(hours=25), f"{BASE}/voice"), alert(11200, ago(minutes=1), "https://other.test/")],
     "OK", f"in the last 24 h: none about {BASE}"),
])
def test_doctor_fails_on_an_error_in_the_last_hour_and_warns_on_older_ones(found, level, message):
    assert doctor(FakeTwilio(alerts=found)) == (level, message)


def test_doctor_names_what_stops_it_reading_the_alerts():
    level, message = doctor(FakeTwilio(auth_token="another"))
    assert level == "FAIL" and message.startswith("in the last 24 h: not read: Twilio refused the "
                                                  "credentials (error 20003)")
    level, message = doctor(FakeTwilio(offline=True))
    assert level == "WARN" and message == ("in the last 24 h: not read: cannot reach Twilio's API at "
                                           "monitor.twilio.com (unknown host): no network?")


def test_doctor_reads_no_alerts_without_the_credentials(env):
    env.delenv("TWILIO_ACCOUNT_SID")
    api = FakeTwilio()
    assert doctor(api) == (None, None)
    assert api.requests == []


def test_the_operators_page_names_every_code():
    from ivr import ROOT

    page = (ROOT / "docs" / "twilio.md").read_text(encoding="utf-8")
    for code in alerts.CODES:
        assert f"[{code}]({alerts.doc_url(code)})" in page, code

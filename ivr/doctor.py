"""`ivr doctor`: check a deployment the way Twilio will meet it, one line per check.

Each check is a function of the `Deployment` returning one `Finding` (or several); CHECKS
lists them in the order they print. Adding a check is writing one more function with the
`@check` decorator: it reads the settings from `d.config` and what other checks found
through `d`'s methods (each worked out once).
"""

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import requests

from . import agent, alerts, connect, paths, sms, store
from . import settings as settings_mod
from .audio import AudioStore
from .content import ContentError, load
from .settings import ConfigError, Settings

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class Finding:
    level: str  # OK, WARN or FAIL
    check: str  # a short name
    message: str  # what was found, and for WARN and FAIL what to do

    def __str__(self) -> str:
        return f"{self.level:<5}{self.check:<14}{self.message}"


class Deployment:
    """The line as `ivr serve` would run it: its settings, and what the checks found.

    `base`: the public base URL to check (default: PUBLIC_BASE_URL). `twilio_http_client`
    (twilio's HTTP seam) and `now` (the current time, UTC) are for tests.
    """

    def __init__(self, config, base: str | None = None, timeout: float = 10,
                 twilio_http_client=None, now: datetime | None = None):
        self.config = config
        self.timeout = timeout
        self.twilio_http_client = twilio_http_client
        self.now = now or datetime.now(UTC)
        #: The setting fields by attribute name, each read on its own: one wrong setting
        #: fails its own check, not all of them.
        self._fields = {f.name: f for f in fields(Settings)}
        #: --url, else PUBLIC_BASE_URL (public_url says so when that setting is wrong).
        self.base = (base or self.get("public_base_url", "")).rstrip("/")

    def setting(self, name: str):
        """The setting `name` (a Settings attribute) parsed as the line parses it; a
        ConfigError naming it when it is wrong."""
        return settings_mod.read(self._fields[name], self.config)

    def subset(self, *names: str) -> SimpleNamespace:
        """Those settings, parsed, as attributes (what a feature's builder reads)."""
        return SimpleNamespace(**{name: self.setting(name) for name in names})

    def get(self, name: str, default=None):
        """The setting `name`, parsed, or `default` when it is unset or wrong."""
        try:
            value = self.setting(name)
        except ConfigError:
            return default
        return default if value is None or value == "" else value

    @cached_property
    def content(self):
        """(content, None) or (None, the error)."""
        try:
            return load(self.setting("content")), None
        except (ContentError, ConfigError) as e:
            return None, str(e)

    @cached_property
    def self_check(self) -> connect.Check | None:
        """The signed request to BASE/voice (None without a token or a usable base URL)."""
        token = self.get("twilio_auth_token")
        if not token or not self.base:
            return None
        try:
            base = connect.base_url(self.base)
        except connect.ConnectError:
            return None
        return connect.self_check(base, token, self.get("twilio_account_sid", ""),
                                  timeout=self.timeout)


CHECKS = []


def check(function):
    """Add `function` to the checks `ivr doctor` runs, in definition order."""
    CHECKS.append(function)
    return function


def run(deployment: Deployment) -> list[Finding]:
    """Every check's findings, in order; a check that crashes is a FAIL naming it."""
    findings = []
    for function in CHECKS:
        try:
            found = function(deployment)
        except Exception as e:  # a broken check must not hide the others
            found = Finding(FAIL, function.__name__, f"the check itself failed: "
                                                     f"{e.__class__.__name__}: {e}")
        findings.extend([found] if isinstance(found, Finding) else found)
    return findings


# -- the checks ------------------------------------------------------------------------------


@check
def credentials(d: Deployment) -> list[Finding]:
    found = []
    if d.get("twilio_auth_token"):
        found.append(Finding(OK, "auth token", "TWILIO_AUTH_TOKEN is set: webhooks must be "
                                               "signed by Twilio"))
    else:
        found.append(Finding(FAIL, "auth token", "TWILIO_AUTH_TOKEN is not set: anyone could "
                                                 "call the webhooks; copy it from the Twilio "
                                                 "console (Account info)"))
    try:
        sid = d.setting("twilio_account_sid")
    except ConfigError as e:
        return [*found, Finding(FAIL, "account SID", str(e))]
    if sid:
        found.append(Finding(OK, "account SID", "TWILIO_ACCOUNT_SID is set"))
    else:
        # The voice line works without it; texts and `ivr twilio connect` do not.
        level = FAIL if d.get("sms_from") else WARN
        found.append(Finding(level, "account SID", "TWILIO_ACCOUNT_SID is not set (it starts "
                                                   "with AC; see the Twilio console); `ivr "
                                                   "twilio connect` and texts need it"))
    return found


@check
def public_url(d: Deployment) -> Finding:
    try:
        d.setting("public_base_url")
    except ConfigError as e:
        if not d.base:
            return Finding(FAIL, "public URL", str(e))
    if not d.base:
        return Finding(FAIL, "public URL", "PUBLIC_BASE_URL is not set: set it to the https:// "
                                           "address Twilio calls (or give --url) so it can be "
                                           "checked")
    parts = urlsplit(d.base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Finding(FAIL, "public URL", f"{d.base!r} is not a URL like https://ivr.example.com")
    if parts.scheme != "https":
        return Finding(FAIL, "public URL", f"{d.base} is not https: put the line behind a "
                                           f"TLS proxy or tunnel (README, Going live)")
    if parts.hostname in ("localhost", "127.0.0.1", "::1") or parts.hostname.endswith(".local"):
        return Finding(WARN, "public URL", f"{d.base} is a local address: Twilio, on the "
                                           f"internet, cannot reach it")
    return Finding(OK, "public URL", f"{d.base}")


@check
def webhook(d: Deployment) -> Finding:
    result = d.self_check
    if result is None:
        return Finding(FAIL, "webhook", "not checked: needs TWILIO_AUTH_TOKEN and the public URL")
    return Finding(OK if result.ok else FAIL, "webhook", result.message)


@check
def content(d: Deployment) -> Finding:
    loaded, error = d.content
    if error:
        return Finding(FAIL, "content", error)
    return Finding(OK, "content", f"{loaded.path.name}: {len(loaded.prompts)} prompts, "
                                  f"{loaded.steps} steps")


@check
def speech(d: Deployment) -> Finding:
    """The speech model and language every <Gather> sends (a pair Twilio documents, or the
    content check has failed), and the pause that ends the caller's words."""
    loaded, _ = d.content
    if loaded is None:
        return Finding(FAIL, "speech", "not checked: the content file does not load")
    s = loaded.speech
    return Finding(OK, "speech", f"{s.model} with {s.language}, speechTimeout {s.timeout} s")


@check
def audio(d: Deployment) -> Finding:
    loaded, _ = d.content
    if loaded is None:
        return Finding(FAIL, "audio", "not checked: the content file does not load")
    try:
        store = AudioStore(d.setting("audio_dir"), loaded)
    except ConfigError as e:
        return Finding(FAIL, "audio", str(e))
    s = store.summary()
    entries = store.manifest.get("prompts", {})
    offline = [pid for pid in store.playable if entries[pid].get("engine") != "gtts"]
    if s["missing"] or s["stale"]:
        return Finding(WARN, "audio", f"{len(s['missing'])} missing and {len(s['stale'])} "
                                      f"stale prompt(s) are spoken with <Say>: run "
                                      f"`ivr audio build` and restart the line")
    if offline:
        return Finding(WARN, "audio", f"{len(offline)} of {s['prompts']} prompts were made by "
                                      f"the offline engine ({', '.join(s['engines'])}), not "
                                      f"gTTS: run `ivr audio build --force` where there is "
                                      f"internet")
    return Finding(OK, "audio", f"{s['playable']} prompts, made by gTTS")


@check
def web_phone(d: Deployment) -> Finding:
    try:
        on = d.setting("web_phone")
    except ConfigError as e:
        return Finding(FAIL, "web phone", str(e))
    if on:
        return Finding(FAIL, "web phone", "IVR_WEB_PHONE is on: whoever opens /phone can call "
                                          "the webhooks without Twilio's signature; set "
                                          "IVR_WEB_PHONE=0")
    result = d.self_check
    if result is not None and result.kind != "unreachable":
        try:
            response = requests.get(f"{d.base}/phone", timeout=d.timeout, allow_redirects=False)
        except requests.RequestException:
            response = None
        if response is not None and response.status_code == 200:
            return Finding(FAIL, "web phone", f"{d.base}/phone answers: the running line has "
                                              f"the web phone on; set IVR_WEB_PHONE=0 and "
                                              f"restart it")
    return Finding(OK, "web phone", "off")


@check
def texts(d: Deployment) -> Finding:
    try:
        s = d.subset("sms_from", "twilio_account_sid", "twilio_auth_token")
        settings_mod.sms_rule(s)
        texter = sms.texter(SimpleNamespace(**vars(s), twilio_http_client=None))  # sends nothing
    except ConfigError as e:
        return Finding(FAIL, "texts (7)", str(e))
    if texter is None:
        return Finding(OK, "texts (7)", "off (IVR_SMS_FROM is not set)")
    return Finding(OK, "texts (7)", f"from {texter.sender}")


@check
def person(d: Deployment) -> Finding:
    try:
        s = d.subset("agent_number", "agent_hours", "timezone", "holidays", "closed_dates")
        settings_mod.agent_rule(s)
        found = agent.from_settings(s)
    except ConfigError as e:
        return Finding(FAIL, "person (9)", str(e))
    if found is None:
        return Finding(OK, "person (9)", "off (IVR_AGENT_NUMBER is not set)")
    hours = f"hours {found.hours} ({found.timezone.key})" if found.hours else "any time"
    closed = [f"{s.holidays} holidays"] if s.holidays else []
    closed += [day.isoformat() for day in sorted(s.closed_dates)]
    closed_on = f", closed on {', '.join(closed)}" if closed else ""
    return Finding(OK, "person (9)", f"dials {found.number}, {hours}{closed_on}")



@check
def database(d: Deployment) -> Finding:
    """The call store as the line would open it: reachable, migrated, with its key."""
    try:
        on = d.setting("store")
        d.setting("database_url")
    except ConfigError as e:
        return Finding(FAIL, "call store", str(e))
    if not on:
        return Finding(WARN, "call store", "off (IVR_STORE=0): no report, no resume, texts "
                                           "limited per worker")
    try:
        settings_mod.store_rule(d.subset("store", "twilio_auth_token", "secret_key"))
    except ConfigError:
        return Finding(FAIL, "call store", "IVR_SECRET_KEY is not set: the line refuses to "
                                           "start without it (it keys caller numbers)")
    instance = paths.instance_path()
    url, default = store.url_for(d.get("database_url", ""), instance)
    if default and not (Path(instance) / store.SQLITE_FILE).exists():
        # Not made here: the line makes and migrates it on first use.
        return Finding(OK, "call store", "the default SQLite file, made on first use")
    try:
        engine = store.create_engine(url)
    except store.StoreError as e:
        return Finding(FAIL, "call store", str(e))
    try:
        if not (default and store.revision(engine) is None):
            store.check(engine)
    except store.StoreError as e:
        return Finding(FAIL, "call store", str(e))
    finally:
        engine.dispose()
    where = "the default SQLite file, made on first use" if default else store.masked(url)
    if engine.dialect.name == "sqlite" and not default:
        where += "; one machine only (use PostgreSQL for several)"
    return Finding(OK, "call store", where)


#: How far back the doctor looks at Twilio's alerts, and how recent an error must be to
#: fail the check: a problem fixed an hour ago stops failing it, and still shows as a WARN.
ALERTS_SINCE = timedelta(hours=24)
ALERTS_FAIL = timedelta(hours=1)


@check
def twilio_alerts(d: Deployment) -> list[Finding]:
    """What Twilio's debugger reported about the line in the last 24 h (only with the
    account's credentials, which reading it needs)."""
    sid, token = d.get("twilio_account_sid"), d.get("twilio_auth_token")
    if not (sid and token):
        return []
    name, head = "twilio alerts", "in the last 24 h: "
    if not d.base:
        return [Finding(WARN, name, head + "not checked: needs the public URL to tell the "
                                           "line's alerts apart")]
    since = d.now - ALERTS_SINCE
    calls = (alerts.calls_since(d.get("database_url", ""), paths.instance_path(), since)
             if d.get("store", True) else None)
    try:
        api = alerts.client(sid, token, d.twilio_http_client, timeout=d.timeout)
        summary = alerts.summarize(alerts.read(api, since, d.now), d.base, since, d.now,
                                   calls=calls or frozenset(),
                                   senders={d.get("sms_from", "")} - {""})
    except alerts.AlertsError as e:
        level = FAIL if "20003" in str(e) else WARN
        return [Finding(level, name, head + f"not read: {e}")]
    if not summary.groups:
        return [Finding(OK, name, head + f"none about {d.base}")]
    codes = ", ".join(f"{g.code} x{g.count}" for g in summary.groups)
    recent = summary.errors_since(d.now - ALERTS_FAIL)
    if recent:
        minutes = int((d.now - recent[0].last_error).total_seconds() // 60)
        return [Finding(FAIL, name, head + f"error {recent[0].code} {minutes} min ago ({codes}): "
                                           f"run `ivr twilio alerts`")]
    return [Finding(WARN, name, head + f"{summary.count} ({codes}), none an error in the last "
                                       f"hour: run `ivr twilio alerts`")]


#: The settings the checks above read and report themselves; `settings` reports the others.
REPORTED = frozenset({
    "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL", "IVR_CONTENT", "IVR_AUDIO_DIR",
    "IVR_WEB_PHONE", "IVR_SMS_FROM", "IVR_AGENT_NUMBER", "IVR_AGENT_HOURS", "IVR_TIMEZONE",
    "IVR_STORE", "DATABASE_URL", "IVR_SECRET_KEY",
})
PASS_SETTINGS = ("IVR_WEB_PHONE_PASS_SECONDS", "IVR_WEB_PHONE_PASS_REFRESH_SECONDS")


@check
def other_settings(d: Deployment) -> Finding | list[Finding]:
    """Every other setting, as the line parses it: one the line would refuse to start on
    fails here too, each on its line."""
    wrong = {name: e for name, e in settings_mod.problems(d.config).items()
             if name not in REPORTED and name != "*"}
    found = [Finding(FAIL, "settings", str(e)) for e in wrong.values()]
    if not any(name in wrong for name in PASS_SETTINGS):
        try:
            settings_mod.web_phone_rule(d.subset("web_phone_pass_seconds",
                                                 "web_phone_pass_refresh_seconds"))
        except ConfigError as e:
            found.append(Finding(FAIL, "settings", str(e)))
    return found or Finding(OK, "settings", "every other setting is well-formed")

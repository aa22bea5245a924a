"""Línea Alcanos: a Spanish phone line that guides a caller through paying an Alcanos bill."""

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from flask import Config, Flask
from twilio.request_validator import RequestValidator

from . import agent as agent_mod, content as content_mod, security, sms, store as store_mod
from .audio import AudioStore
from .flow import UNHEARD, Flow, State, key
from .twiml import Documents, Renderer

#: The line the package ships: content.toml and audio/. In a checkout these are links to the
#: top-level content.toml and audio/; in an installed package, copies of them.
LINE = Path(__file__).resolve().parent / "line"
#: The checkout or installed package root (tests and docs use it).
ROOT = Path(__file__).resolve().parent.parent

#: Documents are made per base URL the line is reached at; a line has one or two (its public
#: URL, localhost). More only come from odd Host headers, so only the latest few are kept.
MAX_BASES = 4

log = logging.getLogger(__name__)


@dataclass
class Line:
    """Everything a webhook needs, built once at startup."""

    content: content_mod.Content
    flow: Flow
    audio: AudioStore
    twiml: Renderer
    #: Checks X-Twilio-Signature; None when no auth token is set (local use only).
    validator: RequestValidator | None
    #: PUBLIC_BASE_URL without its trailing '/'; '' when the request's own root is used.
    public_base: str = ""
    #: The extras, None when off: texts the caller (7), puts them through to a person (9).
    texter: sms.Texter | None = None
    agent: agent_mod.Agent | None = None
    sms_limit: sms.DailyLimit | None = None
    #: The call store (None when off): records every turn, remembers returning callers.
    store: store_mod.Store | None = None
    resume_hours: int = 48
    timezone: ZoneInfo | None = None
    _documents: dict = field(default_factory=dict, repr=False)

    def resume_step(self, values) -> int | None:
        """The step a returning caller reached in their last call, if they hung up before
        the Conclusión within the last resume_hours; None otherwise (or with no store)."""
        if not self.store:
            return None
        key = self.store.key(values.get("From"))
        if key is None:  # a withheld number: nobody to recognise
            return None
        since = datetime.now(dt_timezone.utc) - timedelta(hours=self.resume_hours)
        return self.store.last_unfinished(key, since, exclude_call=values.get("CallSid"))

    def may_text(self, number: str) -> bool:
        """Whether one more text to `number` stays within the daily limit: counted in the
        call store (shared by every worker and machine) when there is one, else in this
        process."""
        if not self.sms_limit.allows(number):
            return False
        if not self.store:
            return True
        midnight = datetime.now(self.timezone).replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            return self.store.sms_count(self.store.key(number), midnight) < self.sms_limit.per_day
        except store_mod.StoreError:
            return True  # the database is down: this process's own count decides

    def key(self, state: State, values) -> str | None:
        """The key a webhook's parameters mean at `state`: the Digits pressed, or the words
        said (SpeechResult) as the content file's phrases for that place give them; None
        for silence, flow.UNHEARD for words not understood or heard with too little
        Confidence."""
        digits = values.get("Digits")
        words = values.get("SpeechResult")
        if digits or not words:
            return key(digits)
        try:
            confidence = float(values.get("Confidence") or 1)
        except ValueError:
            confidence = 0.0
        phrases = self.content.listen.get(state.at)
        if confidence < self.content.speech.min_confidence or phrases is None:
            return UNHEARD
        return phrases.key(words) or UNHEARD

    def base_url(self, request) -> str:
        """What the line's URLs start with: the public base URL, else the request's own
        (proxy-aware) root."""
        return self.public_base or f"{request.scheme}://{request.host}{quote(request.script_root)}"

    def documents(self, base: str) -> Documents:
        """Every document the line answers with, its URLs starting with `base`."""
        base = base.rstrip("/")
        found = self._documents.get(base)
        if found is None:
            while len(self._documents) >= MAX_BASES:
                del self._documents[next(iter(self._documents))]
            found = self._documents[base] = Documents(self.twiml, self.flow, base)
        return found


#: Settings read from the environment under their own names (the others are IVR_<NAME>).
ENVIRONMENT = ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL", "DATABASE_URL")


def environment_config() -> Config:
    """The settings the environment and .env give, as create_app reads them."""
    from dotenv import find_dotenv, load_dotenv

    # The .env of the directory the command runs in (or above it), not the package's own.
    load_dotenv(find_dotenv(usecwd=True))
    config = Config(str(LINE))
    config.from_prefixed_env("IVR")
    for name in ENVIRONMENT:
        if os.environ.get(name):
            config[name] = os.environ[name]
    return config


def create_app(test_config=None):
    """Build the Flask app; content and audio are loaded and checked here, once."""
    app = Flask(__name__)
    app.config.from_mapping(
        CONTENT=str(LINE / "content.toml"),
        AUDIO_DIR=str(LINE / "audio"),
        AUDIO_BASE_URL="",
        SAY_VOICE="Polly.Mia",
        SAY_LANGUAGE="es-MX",
        PUBLIC_BASE_URL="",
        TWILIO_AUTH_TOKEN="",
        TWILIO_ACCOUNT_SID="",
        TRUSTED_PROXIES=0,
        # The extras (README: "Text me, or a person"): off until their settings are given.
        SMS_FROM="",
        SMS_PER_DAY=3,
        AGENT_NUMBER="",
        AGENT_HOURS="",
        TIMEZONE="America/Bogota",
        # Tests and `ivr call`'s test seam: a twilio.http.HttpClient the texter sends
        # through instead of the network (None: twilio's own).
        TWILIO_HTTP_CLIENT=None,
        # Twilio's webhook bodies are a few KB. The body must be read before its signature can
        # be checked, so an unsigned sender could otherwise make a worker hold any amount.
        MAX_CONTENT_LENGTH=64 * 1024,
        # The browser phone (/phone): unset means on without a token (local use) and off
        # with one, so a line Twilio reaches never has a browser-side way in by accident.
        WEB_PHONE=None,
    )
    app.config.from_mapping(environment_config() if test_config is None else test_config)

    security.init_app(app)
    web_phone = app.config["WEB_PHONE"]
    app.config["WEB_PHONE"] = (
        not app.config["TWILIO_AUTH_TOKEN"] if web_phone is None else security.flag(app, "WEB_PHONE")
    )
    public_base = url_setting(app, "PUBLIC_BASE_URL")
    # TWILIO_HTTP_CLIENT: twilio's HTTP seam, for tests that answer as Twilio's API does.
    texter = sms.texter(app.config, http_client=app.config["TWILIO_HTTP_CLIENT"])
    agent = agent_mod.settings(app.config)
    per_day = security.count(app, "SMS_PER_DAY", "a number of texts")
    content = content_mod.load(app.config["CONTENT"])
    if texter and not content.sms:
        raise content_mod.ContentError(
            f"{content.path}: IVR_SMS_FROM is set but the content file has no [sms] text to send")
    audio = AudioStore(app.config["AUDIO_DIR"], content)
    app.extensions["ivr"] = Line(
        content=content,
        flow=Flow(content.steps, sms=texter is not None, agent=agent is not None),
        audio=audio,
        twiml=Renderer(
            content, audio, app.config["SAY_VOICE"], app.config["SAY_LANGUAGE"],
            url_setting(app, "AUDIO_BASE_URL", "IVR_AUDIO_BASE_URL"),
            agent.number if agent else "",
        ),
        validator=security.validator(app.config["TWILIO_AUTH_TOKEN"]),
        public_base=public_base,
        texter=texter,
        agent=agent,
        sms_limit=sms.DailyLimit(per_day) if texter else None,
        store=store_mod.init_app(app),
        resume_hours=store_mod.whole(app.config, "RESUME_HOURS", 48),
        timezone=agent_mod.timezone(app.config["TIMEZONE"]),
    )
    s = audio.summary()
    app.logger.info(
        "content %s: %d prompts, %d steps; audio: %d playable (%s), %d missing, %d stale",
        content.path, s["prompts"], content.steps, s["playable"],
        ", ".join(s["engines"]) or "no engine", len(s["missing"]), len(s["stale"]),
    )
    for problem in audio.problems():
        app.logger.warning("%s", problem)
    if public_base:
        # Every document the line can answer with, made now rather than on the first call
        # (and, under `ivr serve`, once for all the workers it forks).
        app.extensions["ivr"].documents(public_base)

    from . import audio as audio_routes, health, voice

    app.register_blueprint(voice.bp)
    app.register_blueprint(audio_routes.bp)
    app.register_blueprint(health.bp)
    if app.config["WEB_PHONE"]:
        from . import phone

        app.register_blueprint(phone.bp)
    return app


def url_setting(app, name: str, env_name: str | None = None) -> str:
    """An http(s) base URL setting without its trailing '/', or '' when unset."""
    url = (app.config[name] or "").strip().rstrip("/")
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query):
        raise security.ConfigError(
            f"{env_name or name} must look like https://ivr.example.com, not {app.config[name]!r}"
        )
    return url

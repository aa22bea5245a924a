"""Every setting of the line: its name, default, parser and the error that names it.

Settings come from the environment and a `.env` file (`from_environment`), or from the
mapping a test hands `create_app`. `Settings.from_config` parses each one once, with the
parser its field names, and checks the rules between them; a value it does not understand
stops the line with a `ConfigError` naming the setting. Every other module reads its
settings from the resulting `Settings`, never from the raw mapping.

    settings = Settings.from_config(app.config)   # ConfigError: the first setting that is wrong
    problems(config)                              # every one that is wrong (for `ivr doctor`)

The parsers, and the shapes they know (E.164, account SIDs, time zones...), are in
`ivr.settings.parsers`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .. import hours, paths
from .parsers import (
    ACCOUNT_SID,
    DEFAULT_TIMEZONE,
    E164,
    MESSAGING_SERVICE,
    REPORT_LANGUAGES,
    ConfigError,
    Invalid,
    account_sid,
    anything,
    base_url,
    count,
    country,
    dates,
    flag,
    is_e164,
    language,
    maybe_flag,
    path,
    phone,
    public_base_url,
    sender,
    text,
    whole,
    windows,
    zone,
)

__all__ = [
    "ACCOUNT_SID", "DEFAULT_TIMEZONE", "E164", "MESSAGING_SERVICE", "REPORT_LANGUAGES",
    "ConfigError", "Invalid", "Settings", "is_e164", "spec", "read", "defaults", "documented",
    "problems", "from_environment", "dotenv_note", "agent_rule", "sms_rule", "web_phone_rule",
    "store_rule", "production_rule", "production_refusal", "RULES", "PLAIN_NAMES", "key",
    "env_name",
]


# -- the settings ----------------------------------------------------------------------------

def spec(default, parse, doc: str, env: str | None = None, blank: bool = False) -> Any:
    """A setting's field: its default (as the environment would give it), parser, meaning,
    and environment name (default IVR_<NAME>). `blank`: an empty value in the environment is
    a value (it turns the setting off), not an unset one."""
    return field(metadata={"default": default, "parse": parse, "doc": doc, "env": env,
                           "blank": blank})


@dataclass(frozen=True)
class Settings:
    """Every setting, parsed. A field's name in capitals is its key in app.config; its
    environment variable is IVR_<KEY> unless it names another."""

    twilio_auth_token: str = spec(
        "", text, "your Twilio auth token: every webhook must carry Twilio's signature made "
        "with it", env="TWILIO_AUTH_TOKEN")
    twilio_account_sid: str = spec(
        "", account_sid, "your Twilio account SID (AC…)", env="TWILIO_ACCOUNT_SID")
    public_base_url: str = spec(
        "", public_base_url, "the https:// address Twilio reaches the line at, without /voice",
        env="PUBLIC_BASE_URL")
    database_url: str = spec(
        "", text, "the call store: postgresql://… for several machines; unset, a SQLite file "
        "in the instance folder", env="DATABASE_URL")
    secret_key: str = spec(
        "", text, "keys caller numbers in the call store (required with a token while the "
        "store is on)")
    insecure: bool = spec(False, flag, "1 lets the production entry points (`ivr serve`, "
                          "`ivr.wsgi:app`) run without TWILIO_AUTH_TOKEN: anyone can then call the "
                          "webhooks, and the web phone is on")
    store: bool = spec(True, flag, "0 records nothing (no report, no resume)")
    retention_days: int = spec(90, whole, "days records are kept (`ivr db prune`)")
    resume_hours: int = spec(48, whole, "how long a caller may come back to their step")
    report_password: str = spec("", text, "serves /report behind HTTP basic auth (user "
                                "`operator`)")
    report_language: str = spec("es", language, "the language of /report and `ivr report "
                                "--html`: es or en")
    trusted_proxies: int = spec(0, count("the number of proxies in front of the app"),
                                "how many proxies in front set X-Forwarded-* headers")
    max_content_length: int = spec(64 * 1024, count("a size in bytes"),
                                   "largest request body read, in bytes")
    content: Path = spec("", path(paths.content_file), "the content file (default: the "
                         "line's own)")
    audio_dir: Path = spec("", path(paths.audio_dir), "the audio folder with its "
                           "manifest.json (default: the line's own)")
    audio_base_url: str = spec("", base_url, "where <Play> fetches audio instead of /audio/ "
                               "(a CDN holding the same files)")
    say_voice: str = spec("Polly.Mia", text, "Twilio's voice for prompts without audio")
    say_language: str = spec("es-MX", text, "the language of those prompts")
    web_phone: bool | None = spec(None, maybe_flag, "1 serves the web phone at /phone, 0 does "
                                  "not (default: on without a token, off with one)")
    web_phone_pass_seconds: int = spec(600, count("a number of seconds"),
                                       "how long a web phone pass lives")
    web_phone_pass_refresh_seconds: int = spec(240, count("a number of seconds"),
                                               "how often the page renews it during a call")
    sms_from: str = spec("", sender, "7 texts the caller from this Twilio number or MG… "
                         "service")
    sms_per_day: int = spec(3, count("a number of texts"), "texts a day per number, at most")
    agent_number: str = spec("", phone, "9 dials this person (E.164)")
    agent_hours: tuple = spec("", windows, "when someone answers, e.g. "
                              f"`{hours.EXAMPLE}` (unset: any time)")
    timezone: ZoneInfo = spec(DEFAULT_TIMEZONE, zone, "the line's time zone (hours, report "
                              "days, text limits)")
    holidays: str = spec("CO", country, "nobody answers 9 on this country's public holidays "
                         "(empty: none)", blank=True)
    closed_dates: frozenset = spec("", dates, "nor on these days, e.g. "
                                   f"`{hours.DATES_EXAMPLE}`")
    #: The line's clock, a function giving an aware datetime (None: the real one): tests fix it.
    clock: Any = spec(None, anything, "", env="-")
    #: Twilio's HTTP seam (a twilio.http.HttpClient): tests answer as Twilio's API does.
    twilio_http_client: Any = spec(None, anything, "", env="-")

    @classmethod
    def from_config(cls, config: Mapping, check: bool = True) -> Settings:
        """Parse every setting of `config` (app.config, or what the environment gives);
        the first that is wrong is a ConfigError naming it. `check` False leaves out the
        rules between settings that only serving the line needs (a command that only reads
        the database does not need the secret key)."""
        values = {f.name: read(f, config) for f in fields(cls)}
        settings = cls(**values)
        if check:
            settings.check()
        return settings

    def check(self) -> None:
        """The rules between settings (RULES)."""
        for rule in RULES:
            rule(self)

    @property
    def web_phone_on(self) -> bool:
        """The web phone: as set, or on without a token (local use) and off with one."""
        return not self.twilio_auth_token if self.web_phone is None else self.web_phone


# The rules between settings: each takes anything with the settings' attributes (`ivr doctor`
# hands them only the settings a check reads).

def agent_rule(s) -> None:
    if s.agent_hours and not s.agent_number:
        raise ConfigError("IVR_AGENT_HOURS is set but IVR_AGENT_NUMBER is not: hours for whom?")
    if s.agent_number:
        try:
            hours.check_country(s.holidays)
        except ValueError as e:
            raise ConfigError(f"IVR_HOLIDAYS {e}, not {s.holidays!r}") from None


def sms_rule(s) -> None:
    if s.sms_from and not s.twilio_account_sid:
        raise ConfigError("TWILIO_ACCOUNT_SID is not set (it starts with AC; see the Twilio "
                          "console): texts need it")
    if s.sms_from and not s.twilio_auth_token:
        raise ConfigError("IVR_SMS_FROM is set but TWILIO_AUTH_TOKEN is not: texts need both")


def web_phone_rule(s) -> None:
    if not 0 < s.web_phone_pass_refresh_seconds < s.web_phone_pass_seconds:
        raise ConfigError(
            "IVR_WEB_PHONE_PASS_REFRESH_SECONDS must be more than 0 and less than "
            f"IVR_WEB_PHONE_PASS_SECONDS ({s.web_phone_pass_seconds}), "
            f"not {s.web_phone_pass_refresh_seconds}")


def store_rule(s) -> None:
    if s.store and s.twilio_auth_token and not s.secret_key:
        raise ConfigError(
            "IVR_SECRET_KEY is not set: the call store needs it to key caller numbers "
            "(e.g. IVR_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')), "
            "or set IVR_STORE=0 to record nothing")


RULES = (agent_rule, sms_rule, web_phone_rule, store_rule)


def production_rule(s) -> None:
    """The production entry points' rule (not in RULES: `app:app` in a checkout and the
    tests stay permissive): no token, no line, unless told to run open."""
    if not s.twilio_auth_token and not s.insecure:
        raise ConfigError(production_refusal())


def production_refusal() -> str:
    return ("TWILIO_AUTH_TOKEN is not set, so anyone could call the line's webhooks (and the "
            "web phone would be on): set it (environment or .env), or set IVR_INSECURE=1 "
            "(`ivr serve --insecure`) to run without it")


def key(f) -> str:
    """A field's key in app.config."""
    return f.name.upper()


def env_name(f) -> str:
    return f.metadata["env"] or f"IVR_{key(f)}"


def read(f, config: Mapping):
    """One setting of `config`, parsed; a ConfigError naming it when it is wrong."""
    raw = config.get(key(f), f.metadata["default"])
    try:
        return f.metadata["parse"](raw)
    except Invalid as e:
        problem = str(e)
        joiner = " " if problem.startswith(("must", "is ")) else ": "
        shown = f", not {raw!r}" if problem.startswith("must") else ""
        raise ConfigError(f"{env_name(f)}{joiner}{problem}{shown}") from None


def defaults() -> dict:
    """Every setting's default, under its app.config key (create_app starts from these)."""
    return {key(f): f.metadata["default"] for f in fields(Settings)}


def documented() -> Iterator[tuple[str, Any, str]]:
    """(environment name, default, meaning) of each setting an operator can set."""
    for f in fields(Settings):
        if f.metadata["doc"]:
            yield env_name(f), f.metadata["default"], f.metadata["doc"]


def problems(config: Mapping) -> dict[str, ConfigError]:
    """Every setting of `config` that is wrong, by environment name (`ivr doctor` shows
    each), then the rules between them under '*' when every setting parsed."""
    found = {}
    values = {}
    for f in fields(Settings):
        try:
            values[f.name] = read(f, config)
        except ConfigError as e:
            found[env_name(f)] = e
    if not found:
        try:
            Settings(**values).check()
        except ConfigError as e:
            found["*"] = e
    return found


#: Read under their own names; every other setting is IVR_<KEY> in the environment.
PLAIN_NAMES = tuple(env_name(f) for f in fields(Settings) if f.metadata["env"] not in (None, "-"))


def dotenv_note(config: Mapping) -> str:
    """Which .env file `from_environment` read, for the start-up log."""
    found = config.get("ENV_FILE")
    return f"read {found}" if found else "no .env file found: the environment only"


def from_environment() -> dict:
    """The settings the environment and .env give, under their app.config keys; ENV_FILE
    is the .env file read ('' when none was found)."""
    from dotenv import find_dotenv, load_dotenv

    # The .env of the directory the command runs in (or above it), not the package's own.
    found = find_dotenv(usecwd=True)
    load_dotenv(found)
    config = {"ENV_FILE": found}
    for f in fields(Settings):
        name = env_name(f)
        if name != "-" and (os.environ.get(name, "") != ""
                            or (f.metadata["blank"] and name in os.environ)):
            config[key(f)] = os.environ[name]
    return config

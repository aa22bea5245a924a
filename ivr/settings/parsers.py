"""The shapes a setting's value may take, and the parsers that read them.

A parser takes the raw value (text from the environment, or a Python value a test gives)
and returns the value the line uses, or raises `Invalid` saying what it must be; the setting
that uses it (`ivr.settings.Settings`) adds its own name and the value to make the
`ConfigError` an operator reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import hours


class ConfigError(Exception):
    """A setting cannot be used; the message names it."""


class Invalid(ValueError):
    """A parser's refusal: what the value must be (the setting adds its name and the value)."""


# -- shared shapes ---------------------------------------------------------------------------

#: A phone number in E.164: '+', then 8 to 15 digits, no leading 0.
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
MESSAGING_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
DEFAULT_TIMEZONE = "America/Bogota"
#: The languages of the report page (ivr/report/lang/<language>.toml), the first the default.
REPORT_LANGUAGES = ("es", "en")

_FLAGS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}


def is_e164(number) -> bool:
    """True for a phone number in E.164."""
    return isinstance(number, str) and E164.fullmatch(number) is not None


# -- parsers: raw value (text from the environment, or a Python value) -> value ---------------

def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a number given in Python, where text was meant
    if not isinstance(value, str):
        raise Invalid("must be text")
    return value.strip()


def flag(value) -> bool:
    """On/off: 1/0, true/false, yes/no, on/off. Anything else is refused: a misspelt 'off'
    must not leave a door open."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAGS:
        return _FLAGS[value.strip().lower()]
    raise Invalid("must be 1 or 0 (on or off)")


def maybe_flag(value) -> bool | None:
    """On/off, or unset (None, ''): the line then decides."""
    return None if value is None or value == "" else flag(value)


def _number(value, least: int, meaning: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise Invalid(f"must be {meaning}")
    return value


def count(meaning: str) -> Callable[[Any], int]:
    """A whole number, 0 or more."""
    return lambda value: _number(value, 0, f"{meaning} (0 or more)")


def whole(value) -> int:
    """A whole number, 1 or more."""
    return _number(value, 1, "a whole number of at least 1")


def phone(value) -> str:
    """'' (off) or a number in E.164."""
    number = text(value)
    if number and not E164.fullmatch(number):
        raise Invalid("must be a phone number in E.164 (like +576015555555)")
    return number


def sender(value) -> str:
    """'' (off), a Twilio number in E.164 or a Messaging Service SID."""
    found = text(value)
    if found and not (E164.fullmatch(found) or MESSAGING_SERVICE.fullmatch(found)):
        raise Invalid("must be a Twilio number in E.164 (like +573001234567) or a Messaging "
                      "Service SID (MG and 32 hex digits)")
    return found


def account_sid(value) -> str:
    """'' (unset) or AC and 32 hex digits."""
    sid = text(value)
    if sid and not ACCOUNT_SID.fullmatch(sid):
        raise Invalid("must be AC and 32 hex digits")
    return sid


def base_url(value) -> str:
    """'' or an http(s) base URL, without its trailing '/'."""
    url = text(value).rstrip("/")
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query):
        raise Invalid("must look like https://ivr.example.com")
    return url


def public_base_url(value) -> str:
    """A base URL that is not the webhook's own URL pasted in (Twilio would then be sent to
    BASE/voice/voice); another path prefix (a line served under /ivr) is fine."""
    url = base_url(value)
    if url.endswith("/voice"):
        raise Invalid(f"is the base URL, without /voice: use {url.removesuffix('/voice')!r}")
    return url


def zone(value) -> ZoneInfo:
    """An IANA time zone name."""
    if isinstance(value, ZoneInfo):
        return value
    name = DEFAULT_TIMEZONE if value is None or value == "" else value
    try:
        if not isinstance(name, str) or name.strip().startswith(("/", ".")):
            raise ValueError
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("must be a time zone name like America/Bogota") from None


def windows(value) -> tuple[hours.Window, ...]:
    """'' (any time) or opening hours (ivr.hours)."""
    if value is None or value == "":
        return ()
    try:
        return hours.parse_windows(value)
    except ValueError as e:
        raise Invalid(str(e)) from None


def language(value) -> str:
    """One of REPORT_LANGUAGES; unset, the first."""
    found = text(value).lower() or REPORT_LANGUAGES[0]
    if found not in REPORT_LANGUAGES:
        raise Invalid(f"must be {' or '.join(REPORT_LANGUAGES)}")
    return found


def country(value) -> str:
    """'' (none) or a country whose public holidays close the person (ivr.hours)."""
    try:
        return hours.parse_country(text(value))
    except ValueError as e:
        raise Invalid(str(e)) from None


def dates(value) -> frozenset:
    """'' or comma-separated days YYYY-MM-DD (ivr.hours)."""
    try:
        return hours.parse_dates(text(value))
    except ValueError as e:
        raise Invalid(str(e)) from None


def path(default: Callable[[], Path]) -> Callable[[Any], Path]:
    """A file or folder; unset, the line's own."""
    return lambda value: Path(text(value)) if text(value) else default()


def anything(value):
    return value

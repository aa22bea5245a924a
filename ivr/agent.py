"""Talking to a person (key 9): the agent's number, opening hours and the line's time zone.

IVR_AGENT_HOURS lists when someone answers, in the line's time zone (IVR_TIMEZONE, default
America/Bogota): comma-separated entries of a day or a range of days and a time range,

    Mon-Fri 08:00-18:00, Sat 08:00-12:00

Days are Mon Tue Wed Thu Fri Sat Sun (any case); a range may wrap (Sat-Mon). Times are
24-hour HH:MM, the end after the start (24:00 is the end of the day); a day may have several
entries (Mon-Fri 08:00-12:00, Mon-Fri 14:00-18:00). A window past midnight is two entries:
Fri 22:00-24:00, Sat 00:00-02:00.

    agent = settings(app.config)        # None when IVR_AGENT_NUMBER is not set
    agent.is_open(now)                  # always True without IVR_AGENT_HOURS
    agent.hours.windows                 # the hours as data, for the line to say them
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .security import ConfigError
from .sms import E164

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_TIMEZONE = "America/Bogota"

_DAY = "|".join(DAYS)
_ENTRY = re.compile(
    rf"(?P<first>{_DAY})(?:\s*-\s*(?P<last>{_DAY}))?\s+"
    r"(?P<opens>[0-9]{1,2}:[0-9]{2})\s*-\s*(?P<closes>[0-9]{1,2}:[0-9]{2})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Window:
    """Open from `opens` to `closes` (minutes after midnight; 1440 is 24:00) on the days
    `first` to `last` (0 is Monday; a range may wrap past Sunday)."""

    first: int
    last: int
    opens: int
    closes: int

    @property
    def days(self) -> tuple[int, ...]:
        """The weekdays of the window, in order (0 is Monday)."""
        return tuple((self.first + i) % 7 for i in range((self.last - self.first) % 7 + 1))

    @property
    def opens_at(self) -> str:
        return _clock(self.opens)

    @property
    def closes_at(self) -> str:
        return _clock(self.closes)

    def __str__(self) -> str:
        days = DAYS[self.first] if self.first == self.last else f"{DAYS[self.first]}-{DAYS[self.last]}"
        return f"{days} {self.opens_at}-{self.closes_at}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str, entry: str, end: bool) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        raise ConfigError(f"IVR_AGENT_HOURS: {text!r} in {entry!r} is not a time (00:00 to 24:00)")
    return hours * 60 + minutes


@dataclass(frozen=True)
class Hours:
    """Opening hours: the windows in the operator's order, read in the zone `timezone`."""

    windows: tuple[Window, ...]
    timezone: ZoneInfo

    def local(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime (with its time zone)")
        return now.astimezone(self.timezone)

    def is_open(self, now: datetime) -> bool:
        """Whether `now` (an aware datetime) falls in a window, on the line's wall clock."""
        local = self.local(now)
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in w.days and w.opens <= minute < w.closes for w in self.windows)

    def next_opening(self, now: datetime) -> datetime | None:
        """When the line next opens after `now` (in the line's zone), None if it is open now."""
        if self.is_open(now):
            return None
        local = self.local(now)
        for ahead in range(8):
            day: date = local.date() + timedelta(days=ahead)
            starts = sorted(w.opens for w in self.windows if day.weekday() in w.days)
            for opens in starts:
                at = datetime.combine(day, time(opens // 60, opens % 60), tzinfo=self.timezone)
                if at > local:
                    return at
        return None  # unreachable: parse() refuses hours without a window

    def __str__(self) -> str:
        return ", ".join(str(w) for w in self.windows)


def timezone(value=None) -> ZoneInfo:
    """The IVR_TIMEZONE setting (an IANA name, default America/Bogota) as a ZoneInfo."""
    name = DEFAULT_TIMEZONE if value is None or value == "" else value
    try:
        if not isinstance(name, str) or name.startswith(("/", ".")):
            raise ValueError
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"IVR_TIMEZONE must be a time zone name like America/Bogota, not {value!r}"
        ) from None


def parse_hours(text, tz: ZoneInfo) -> Hours:
    """IVR_AGENT_HOURS as Hours (see the module docstring for the format)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"IVR_AGENT_HOURS must look like 'Mon-Fri 08:00-18:00, Sat 08:00-12:00', "
                          f"not {text!r}")
    windows = []
    for entry in (part.strip() for part in text.split(",")):
        found = _ENTRY.fullmatch(entry)
        if not found:
            raise ConfigError(
                f"IVR_AGENT_HOURS: {entry!r} is not 'Day HH:MM-HH:MM' or 'Day-Day HH:MM-HH:MM' "
                f"(days: {' '.join(DAYS)}; e.g. Mon-Fri 08:00-18:00, Sat 08:00-12:00)"
            )
        first = DAYS.index(found["first"].capitalize())
        last = DAYS.index((found["last"] or found["first"]).capitalize())
        opens = _minutes(found["opens"], entry, end=False)
        closes = _minutes(found["closes"], entry, end=True)
        if closes <= opens:
            raise ConfigError(
                f"IVR_AGENT_HOURS: {entry!r} closes before it opens; a window past midnight is "
                f"two entries (Fri 22:00-24:00, Sat 00:00-02:00)"
            )
        windows.append(Window(first, last, opens, closes))
    return Hours(tuple(windows), tz)


@dataclass(frozen=True)
class Agent:
    """The person key 9 dials, and when they answer (hours None: always)."""

    number: str
    hours: Hours | None
    timezone: ZoneInfo

    def is_open(self, now: datetime | None = None) -> bool:
        """Whether to dial now; `now` defaults to the current time."""
        if self.hours is None:
            return True
        return self.hours.is_open(now or datetime.now(self.timezone))


def agent_number(value) -> str:
    """The IVR_AGENT_NUMBER setting checked: E.164."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and E164.fullmatch(text):
        return text
    raise ConfigError(
        f"IVR_AGENT_NUMBER must be a phone number in E.164 (like +576015555555), not {value!r}"
    )


def settings(config) -> Agent | None:
    """The agent as the settings (`app.config`: AGENT_NUMBER, AGENT_HOURS, TIMEZONE)
    describe it; None when IVR_AGENT_NUMBER is not set. A malformed setting is a
    ConfigError naming it."""
    tz = timezone(config.get("TIMEZONE"))
    number, hours = config.get("AGENT_NUMBER"), config.get("AGENT_HOURS")
    if number is None or number == "":
        if hours:
            raise ConfigError("IVR_AGENT_HOURS is set but IVR_AGENT_NUMBER is not: "
                              "hours for whom?")
        return None
    return Agent(agent_number(number), parse_hours(hours, tz) if hours else None, tz)

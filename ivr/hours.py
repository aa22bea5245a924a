"""Opening hours: when a person answers key 9, on the line's wall clock.

IVR_AGENT_HOURS lists comma-separated entries of a day or a range of days and a time range,

    Mon-Fri 08:00-18:00, Sat 08:00-12:00

Days are Mon Tue Wed Thu Fri Sat Sun (any case); a range may wrap (Sat-Mon). Times are
24-hour HH:MM, the end after the start (24:00 is the end of the day); a day may have several
entries (Mon-Fri 08:00-12:00, Mon-Fri 14:00-18:00). A window past midnight is two entries:
Fri 22:00-24:00, Sat 00:00-02:00.

Closed days: the public holidays of IVR_HOLIDAYS (a country the `holidays` package knows,
CO by default) and the dates of IVR_CLOSED_DATES (`2026-12-24, 2026-12-31`), judged on the
line's wall clock like the hours.

Pure data and arithmetic: the parsers raise ValueError, and the settings module turns that
into the error that names the setting.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_DAY = "|".join(DAYS)
_ENTRY = re.compile(
    rf"(?P<first>{_DAY})(?:\s*-\s*(?P<last>{_DAY}))?\s+"
    r"(?P<opens>[0-9]{1,2}:[0-9]{2})\s*-\s*(?P<closes>[0-9]{1,2}:[0-9]{2})",
    re.IGNORECASE,
)
EXAMPLE = "Mon-Fri 08:00-18:00, Sat 08:00-12:00"
DATES_EXAMPLE = "2026-12-24, 2026-12-31"


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
        raise ValueError(f"{text!r} in {entry!r} is not a time (00:00 to 24:00)")
    return hours * 60 + minutes


def parse_windows(text: str) -> tuple[Window, ...]:
    """IVR_AGENT_HOURS as windows (see the module docstring); ValueError says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"must look like '{EXAMPLE}', not {text!r}")
    windows = []
    for entry in (part.strip() for part in text.split(",")):
        found = _ENTRY.fullmatch(entry)
        if not found:
            raise ValueError(
                f"{entry!r} is not 'Day HH:MM-HH:MM' or 'Day-Day HH:MM-HH:MM' "
                f"(days: {' '.join(DAYS)}; e.g. {EXAMPLE})"
            )
        first = DAYS.index(found["first"].capitalize())
        last = DAYS.index((found["last"] or found["first"]).capitalize())
        opens = _minutes(found["opens"], entry, end=False)
        closes = _minutes(found["closes"], entry, end=True)
        if closes <= opens:
            raise ValueError(
                f"{entry!r} closes before it opens; a window past midnight is "
                f"two entries (Fri 22:00-24:00, Sat 00:00-02:00)"
            )
        windows.append(Window(first, last, opens, closes))
    return tuple(windows)


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
        return None  # unreachable: parse_windows refuses hours without a window

    def __str__(self) -> str:
        return ", ".join(str(w) for w in self.windows)


# -- closed days ------------------------------------------------------------------------------

def parse_country(code: str) -> str:
    """'' (no holidays) or a country code (CO, ES, MX...), in capitals; ValueError otherwise.
    Whether the `holidays` package knows it is `check_country`'s question, asked only when
    there is a person to close: the package costs a worker 11 MiB."""
    code = code.strip().upper()
    if code and not re.fullmatch(r"[A-Z]{2,3}", code):
        raise ValueError(COUNTRY_PROBLEM)
    return code


#: What a country the holidays package does not know is told.
COUNTRY_PROBLEM = "must be a country code the holidays package knows (CO, MX, ES...) or empty for none"


def check_country(code: str) -> None:
    """ValueError unless `code` ('' for none) is a country the `holidays` package knows."""
    if not code:
        return
    import holidays

    if code not in holidays.list_supported_countries():
        raise ValueError(COUNTRY_PROBLEM)


def country_holidays(code: str):
    """The public holidays of country `code` ('' or None: none), as the `holidays` package
    gives them: a mapping of dates, each year computed when first asked about (Colombia moves
    many holidays to the following Monday, so the dates change from year to year)."""
    if not code:
        return None
    import holidays

    return holidays.country_holidays(code)


def parse_dates(text: str) -> frozenset[date]:
    """IVR_CLOSED_DATES: comma-separated YYYY-MM-DD ('' for none); ValueError says which
    entry is wrong."""
    found = set()
    for entry in (part.strip() for part in text.split(",")):
        if not entry and not text.strip():
            continue
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", entry):
                raise ValueError
            found.add(date.fromisoformat(entry))
        except ValueError:
            raise ValueError(f"{entry!r} is not a date YYYY-MM-DD (several: {DATES_EXAMPLE!r})") from None
    return frozenset(found)

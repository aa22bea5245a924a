"""Talking to a person (key 9): whom the line dials, and when nobody is there to answer.

    agent = from_settings(settings)     # None when IVR_AGENT_NUMBER is not set
    agent.closed()                      # None when someone answers now, else HOLIDAY, CLOSED_DAY or HOURS
    agent.hours.windows                 # the hours as data
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from . import hours as hours_mod
from .hours import Hours

#: Why nobody answers now (Agent.closed): a public holiday, a day of IVR_CLOSED_DATES, or
#: outside IVR_AGENT_HOURS.
HOLIDAY, CLOSED_DAY, HOURS = "holiday", "closed_day", "hours"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Agent:
    """The person key 9 dials, and when they answer (hours None: any time of an open day)."""

    number: str
    hours: Hours | None
    timezone: ZoneInfo
    #: The public holidays that close the line (a `holidays` mapping of dates), or None.
    holidays: object = None
    closed_dates: frozenset[date] = frozenset()
    clock: Callable[[], datetime] = field(default=_now, repr=False)

    def closed(self, now: datetime | None = None) -> str | None:
        """Why nobody answers at `now` (default: the clock), or None when someone does.
        The day is the line's own (IVR_TIMEZONE): 23:30 in Bogotá is still that day there,
        whatever the server's zone."""
        now = now or self.clock()
        day = now.astimezone(self.timezone).date()
        if self.holidays is not None and day in self.holidays:
            return HOLIDAY
        if day in self.closed_dates:
            return CLOSED_DAY
        if self.hours is not None and not self.hours.is_open(now):
            return HOURS
        return None

    def is_open(self, now: datetime | None = None) -> bool:
        """Whether to dial now (`now` defaults to the clock)."""
        return self.closed(now) is None


def from_settings(settings) -> Agent | None:
    """The agent the settings describe; None when IVR_AGENT_NUMBER is not set."""
    if not settings.agent_number:
        return None
    tz = settings.timezone
    return Agent(
        settings.agent_number, Hours(settings.agent_hours, tz) if settings.agent_hours else None, tz,
        hours_mod.country_holidays(settings.holidays), settings.closed_dates,
        getattr(settings, "clock", None) or _now,  # `ivr doctor` hands no clock
    )

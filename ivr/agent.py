"""Talking to a person (key 9): whom the line dials, and when someone answers.

    agent = from_settings(settings)     # None when IVR_AGENT_NUMBER is not set
    agent.is_open(now)                  # always True without IVR_AGENT_HOURS
    agent.hours.windows                 # the hours as data
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .hours import Hours


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


def from_settings(settings) -> Agent | None:
    """The agent the settings describe; None when IVR_AGENT_NUMBER is not set."""
    if not settings.agent_number:
        return None
    tz = settings.timezone
    return Agent(settings.agent_number, Hours(settings.agent_hours, tz) if settings.agent_hours else None, tz)

"""/report against guessing: failed logins are counted per address in the call store, and an
address with too many in a short time is refused (429) for a while.

The count is kept in the database every worker shares (table login_failures), so a guesser
spread over gunicorn's workers, or over several machines on one PostgreSQL, meets the same
limit. Only the last minutes matter: older rows are deleted as new ones come.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from ..logs import value
from ..store import login_failures, writing

log = logging.getLogger("ivr.report")


class Guard:
    """Counts failed logins per address; `clock` gives the time (an aware datetime)."""

    #: This many failures from one address within WINDOW lock it out for LOCKOUT.
    FAILURES = 10
    WINDOW = timedelta(minutes=10)
    LOCKOUT = timedelta(minutes=10)

    def __init__(self, engine, clock=None):
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def locked_until(self, address: str) -> datetime | None:
        """When `address` may try again, if it is locked out now; else None."""
        now = self.clock()
        times = self._failures(address, now - self.WINDOW - self.LOCKOUT)
        until = None
        for i in range(self.FAILURES - 1, len(times)):
            if times[i] - times[i - self.FAILURES + 1] <= self.WINDOW:
                end = times[i] + self.LOCKOUT
                if end > now and (until is None or end > until):
                    until = end
        return until

    def failed(self, address: str) -> int:
        """Count a failed login from `address` (logged: the address and the time, never what
        was tried); returns its failures within WINDOW."""
        now = self.clock()
        with writing(self.engine) as c:
            c.execute(login_failures.insert(), {"address": address[:64], "at": now})
            c.execute(login_failures.delete().where(login_failures.c.at < now - self.WINDOW - self.LOCKOUT))
        recent = len(self._failures(address, now - self.WINDOW))
        log.warning("report: failed login from %s at %s (%d in the last %d minutes)", value(address),
                    now.isoformat(timespec="seconds"), recent, self.WINDOW.total_seconds() // 60)
        if recent >= self.FAILURES:
            log.warning("report: %s locked out until %s", value(address),
                        (now + self.LOCKOUT).isoformat(timespec="seconds"))
        return recent

    def _failures(self, address: str, since: datetime) -> list[datetime]:
        with self.engine.connect() as c:
            return c.execute(
                sa.select(login_failures.c.at)
                .where(login_failures.c.address == address[:64], login_failures.c.at >= since)
                .order_by(login_failures.c.at)
            ).scalars().all()

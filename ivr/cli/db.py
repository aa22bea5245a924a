"""`ivr db upgrade` and `ivr db prune`: the call store's schema and retention."""

from datetime import UTC

import click

from .. import store
from .common import database_url, open_checked, settings, twilio_http_client


@click.group()
def db():
    """The call store: DATABASE_URL, or a SQLite file in the instance folder."""


@db.command("upgrade")
def db_upgrade():
    """Create or migrate the call store's tables to this version's schema."""
    url = database_url(settings(check=False))
    try:
        revision = store.upgrade(url)
    except store.StoreError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{store.masked(url)}: schema at revision {revision}")


@db.command("prune")
@click.option("--days", type=click.IntRange(min=1), default=None,
              show_default="$IVR_RETENTION_DAYS or 90", help="Keep this many days of records.")
@click.pass_context
def db_prune(ctx, days):
    """Delete recorded calls, call-back requests and messages older than the retention
    period, and those messages' recordings on Twilio (run it daily)."""
    from datetime import datetime, timedelta

    from sqlalchemy.exc import SQLAlchemyError

    from ..store import inbox

    found = settings(check=False)
    url = database_url(found)
    days = days or found.retention_days
    engine = open_checked(url)
    before = datetime.now(UTC) - timedelta(days=days)
    try:
        expired = inbox.expired_recordings(engine, before)
        deleted, problem = delete_recordings(ctx, found, expired)
        gone = store.prune(engine, before) + inbox.forget(engine, before, deleted)
    except SQLAlchemyError as e:
        raise click.ClickException(f"cannot prune {store.masked(url)}: {e.__class__.__name__}") from None
    finally:
        engine.dispose()
    click.echo(f"deleted {gone} record(s) older than {before:%Y-%m-%d %H:%M} UTC ({days} days)"
               + (f" and {len(deleted)} recording(s) on Twilio" if expired else ""))
    if problem:
        raise click.ClickException(problem)


def delete_recordings(ctx, found, sids) -> tuple[list, str]:
    """Delete the recordings `sids` (the store's expired messages) from Twilio: (those gone
    now, or gone already; a one-line problem that stopped the rest, or '')."""
    from twilio.base.exceptions import TwilioRestException

    from .. import recordings

    if not sids:
        return [], ""
    client = recordings.from_settings(found, twilio_http_client(ctx))
    if client is None:
        return [], (f"{len(sids)} expired message(s) keep their recordings on Twilio: set "
                    "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN so prune can delete them")
    deleted = []
    for sid in sids:
        try:
            client.delete(sid)
        except TwilioRestException as e:
            why = "wrong TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN" if e.code == 20003 else e.msg
            return deleted, (f"cannot delete recording {sid} on Twilio (error {e.code}: {why}); "
                             "its message is kept: try again later")
        except Exception as e:  # no network, a timeout
            return deleted, f"cannot reach Twilio to delete recording {sid} ({e.__class__.__name__}); try again later"
        deleted.append(sid)
    return deleted, ""

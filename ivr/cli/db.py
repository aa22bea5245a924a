"""`ivr db upgrade` and `ivr db prune`: the call store's schema and retention."""

from datetime import UTC

import click

from .. import store
from .common import database_url, open_checked, settings


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
def db_prune(days):
    """Delete recorded calls older than the retention period (run it daily)."""
    from datetime import datetime, timedelta

    from sqlalchemy.exc import SQLAlchemyError

    found = settings(check=False)
    url = database_url(found)
    days = days or found.retention_days
    engine = open_checked(url)
    before = datetime.now(UTC) - timedelta(days=days)
    try:
        gone = store.prune(engine, before)
    except SQLAlchemyError as e:
        raise click.ClickException(f"cannot prune {store.masked(url)}: {e.__class__.__name__}") from None
    finally:
        engine.dispose()
    click.echo(f"deleted {gone} record(s) older than {before:%Y-%m-%d %H:%M} UTC ({days} days)")

"""`ivr inbox [--json]` and `ivr inbox done ID`: what callers who could not reach a person
left: call-back requests (the number, unsealed: the one place an operator sees a caller's
number in clear) and messages (their recordings on Twilio)."""

import click

from .common import database_url, open_checked, settings


def _secret(found) -> bytes:
    if not found.secret_key:
        raise click.ClickException("IVR_SECRET_KEY is not set: it opens the call-back numbers "
                                   "(set the one the line runs with)")
    return found.secret_key.encode()


def _when(at, tz) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the inbox as JSON.")
@click.pass_context
def inbox(ctx, as_json):
    """Open call-back requests and messages (oldest first); `ivr inbox done ID` closes one."""
    if ctx.invoked_subcommand is not None:
        return
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from .. import store
    from ..store import inbox as inbox_mod

    found = settings(check=False)
    secret = _secret(found)
    url = database_url(found)
    engine = open_checked(url)
    try:
        items = inbox_mod.items(engine, secret)
    except SQLAlchemyError as e:
        raise click.ClickException(f"cannot read {store.masked(url)}: {e.__class__.__name__}") from None
    finally:
        engine.dispose()
    tz = found.timezone
    if as_json:
        click.echo(json.dumps({
            "callbacks": [{"id": i.id, "number": i.number, "at": i.at.astimezone(tz).isoformat(),
                           "where": i.where} for i in items.callbacks],
            "messages": [{"id": i.id, "at": i.at.astimezone(tz).isoformat(), "seconds": i.seconds,
                          "recording_url": i.recording_url, "where": i.where} for i in items.messages],
        }, indent=2))
        return
    click.echo(f"Call-back requests ({len(items.callbacks)}):")
    for i in items.callbacks:
        click.echo(f"  {i.id:<6} {_when(i.at, tz)}  {i.number}  from {i.where}")
    click.echo(f"Messages ({len(items.messages)}):")
    for i in items.messages:
        click.echo(f"  {i.id:<6} {_when(i.at, tz)}  {i.seconds:>3} s  from {i.where}  {i.recording_url}")
    if items.callbacks or items.messages:
        click.echo("Close one with `ivr inbox done ID`.")


@inbox.command("done")
@click.argument("item_id", metavar="ID")
def done(item_id):
    """Close a call-back request (its number is deleted) or a message (its recording stays
    until IVR_RETENTION_DAYS)."""
    from datetime import UTC, datetime

    from ..store import inbox as inbox_mod

    try:
        inbox_mod.parse_id(item_id)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    found = settings(check=False)
    engine = open_checked(database_url(found))
    try:
        closed = inbox_mod.close(engine, item_id, datetime.now(UTC))
    finally:
        engine.dispose()
    if not closed:
        raise click.ClickException(f"{item_id.strip()} is not open in the inbox (see `ivr inbox`)")
    click.echo(f"closed {item_id.strip().lower()}")

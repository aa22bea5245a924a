"""`ivr twilio …`: the Twilio side of the line, through Twilio's REST API."""

import click

from ..settings import ConfigError
from .common import settings, twilio_http_client


@click.group()
def twilio():
    """Set up the Twilio side of the line through Twilio's REST API."""


@twilio.command("connect")
@click.argument("number")
@click.option("--url", "base", metavar="BASE",
              help="The line's public base URL, e.g. https://ivr.example.com (default: PUBLIC_BASE_URL).")
@click.option("--dry-run", is_flag=True, help="Show the current and the new settings; change nothing.")
@click.option("--skip-check", is_flag=True,
              help="Do not check first that BASE/voice accepts a request signed with the token.")
@click.pass_context
def twilio_connect(ctx, number, base, dry_run, skip_check):
    """Point the Twilio number NUMBER (+573001234567 or its PN… SID) at the line.

    Sets its voice URL to BASE/voice, its fallback URL to BASE/voice/fallback and its status
    callback to BASE/voice/status, all POST. First it POSTs to BASE/voice a request signed
    with TWILIO_AUTH_TOKEN as Twilio signs it, and stops unless the line answers with TwiML.
    Needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (environment or .env).
    """
    from .. import connect as c

    found_settings = settings(check=False)
    try:
        sid = found_settings.twilio_account_sid
        if not sid:
            raise ConfigError("TWILIO_ACCOUNT_SID is not set (it starts with AC; see the Twilio console)")
        token = found_settings.twilio_auth_token
        if not token:
            raise ConfigError("TWILIO_AUTH_TOKEN is not set (Twilio console, Account info)")
        base = base or found_settings.public_base_url
        if not base:
            raise click.UsageError("give the line's public address with --url BASE, or set PUBLIC_BASE_URL")
        base = c.base_url(base)
        api = c.client(sid, token, twilio_http_client(ctx))
        found = c.find_number(api, number)
        if not skip_check:
            check = c.self_check(base, token, sid, found.phone_number)
            if not check.ok:
                raise click.ClickException(f"not connected: {check.message}")
            click.echo(f"check: {check.message}")
        if base.startswith("http://"):
            click.echo(f"warning: {base} is not https: what callers press travels in the clear",
                       err=True)
        rows = c.changes(found, base)
        width = max(len(now) for _, now, _ in rows) + 2
        click.echo(f"{found.phone_number} ({found.sid}):")
        click.echo(f"  {'setting':17}{'now':{width}}new")
        for label, now, new in rows:
            click.echo(f"  {label:17}{now or '-':{width}}{new}{'' if now != new else '  (same)'}")
        problem = c.blocker(found)
        if dry_run:
            if problem:
                click.echo(f"warning: {problem}", err=True)
            click.echo("dry run: nothing changed")
            return
        c.connect(found, base)
    except (ConfigError, c.ConnectError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"connected: calls to {found.phone_number} now reach {base}/voice")

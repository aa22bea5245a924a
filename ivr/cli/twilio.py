"""`ivr twilio …`: the Twilio side of the line, through Twilio's REST API."""

import click

from ..settings import ConfigError
from .common import clock, settings, twilio_http_client


@click.group()
def twilio():
    """Set up the Twilio side of the line, and read what Twilio reported, through Twilio's
    REST API."""


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


@twilio.command("alerts")
@click.option("--since", default="24h", show_default=True, metavar="WHEN",
              help="From when: 90m, 24h, 7d, or a date (2026-11-20) or date and time "
                   "(2026-11-20T08:00) in IVR_TIMEZONE. Twilio keeps 30 days.")
@click.option("--url", "base", metavar="BASE",
              help="The line's public base URL (default: PUBLIC_BASE_URL): alerts at other URLs "
                   "of the account are left out.")
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON.")
@click.pass_context
def twilio_alerts(ctx, since, base, as_json):
    """What Twilio's debugger reported about the line, by error code, with what to do.

    Reads the account's alerts (Monitor API) with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN
    and keeps the line's own: at its public URL, on its calls (from the call store), or
    about texts from IVR_SMS_FROM. Caller numbers are masked. Exits 0 whenever the alerts
    could be read, whatever they say.
    """
    import json

    from .. import alerts, paths
    from .. import connect as c

    found = settings(check=False)
    try:
        if not found.twilio_account_sid:
            raise ConfigError("TWILIO_ACCOUNT_SID is not set (it starts with AC; see the Twilio console)")
        if not found.twilio_auth_token:
            raise ConfigError("TWILIO_AUTH_TOKEN is not set (Twilio console, Account info)")
        base = base or found.public_base_url
        if not base:
            raise click.ClickException("give the line's public address with --url BASE, or set "
                                       "PUBLIC_BASE_URL: the line's alerts are told apart by it")
        base = c.base_url(base)
        now = clock(ctx)
        start = alerts.parse_since(since, now, found.timezone)
        if start < now - alerts.KEPT:
            start = now - alerts.KEPT
            click.echo("note: Twilio keeps alerts for 30 days: showing those of the last 30 days",
                       err=True)
        calls = (alerts.calls_since(found.database_url, paths.instance_path(), start)
                 if found.store else None)
        api = alerts.client(found.twilio_account_sid, found.twilio_auth_token, twilio_http_client(ctx))
        summary = alerts.summarize(
            alerts.read(api, start, now), base, start, now, calls=calls or frozenset(),
            senders={found.sms_from} - {""})
    except (ConfigError, c.ConnectError, alerts.AlertsError) as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(alerts.as_json(summary), ensure_ascii=False, indent=2))
    else:
        click.echo(alerts.text(summary, found.timezone), nl=False)

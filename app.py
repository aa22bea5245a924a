"""Entry point for `flask --app app run` and `gunicorn app:app`."""

from ivr import create_app, logs
from ivr.content import ContentError
from ivr.security import ConfigError

logs.configure()
try:
    app = create_app()
except (ContentError, ConfigError) as e:
    raise SystemExit(f"error: {e}")

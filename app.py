"""Entry point for `flask --app app run` and `gunicorn app:app`."""

from ivr import create_app, logs
from ivr.content import ContentError

logs.configure()
try:
    app = create_app()
except ContentError as e:
    raise SystemExit(f"error: {e}")

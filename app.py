"""Entry point for `flask --app app run` and `gunicorn app:app` in a checkout (see ivr/wsgi.py)."""

from ivr.wsgi import app  # noqa: F401

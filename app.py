"""The local, permissive entry point in a checkout: `flask --app app run`, `gunicorn app:app`.

Unlike `ivr.wsgi:app` it runs without TWILIO_AUTH_TOKEN (webhooks then unauthenticated, the
web phone on), for trying the line on one's own machine.
"""

from ivr import logs
from ivr.startup import load

logs.configure()
app = load(production=False)

"""The line as a WSGI app for production: `gunicorn -c python:ivr.serving ivr.wsgi:app`.

It refuses to run without TWILIO_AUTH_TOKEN unless IVR_INSECURE=1, and a content file or
setting the line cannot use stops it with one line and exit status 4 (ivr.startup).
"""

from . import logs
from .startup import load

logs.configure()
app = load(production=True)

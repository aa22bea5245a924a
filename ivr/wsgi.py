"""The line as a WSGI app: `gunicorn ivr.wsgi:app`, `flask --app ivr.wsgi run`.

A content file or setting the line cannot use stops the server here with one line naming
the problem. Exit status 4 is gunicorn's "App failed to load": its master process then stops
instead of starting new workers that would fail the same way, forever.
"""

import sys

from . import create_app, logs
from .content import ContentError
from .security import ConfigError
from .store import StoreError

#: gunicorn's Arbiter.APP_LOAD_ERROR: the master halts when a worker exits with it.
APP_LOAD_ERROR = 4

logs.configure()
try:
    app = create_app()
except (ContentError, ConfigError, StoreError) as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    raise SystemExit(APP_LOAD_ERROR) from None

"""Loading the line for a WSGI server: `ivr.wsgi:app` (production) and `app:app` (a checkout).

A content file or setting the line cannot use stops the server here with one line naming
the problem. Exit status 4 is gunicorn's "App failed to load": its master process then stops
instead of starting new workers that would fail the same way, forever.
"""

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import create_app
from . import settings as settings_mod
from .content import ContentError
from .settings import ConfigError, Settings
from .store import StoreError

#: gunicorn's Arbiter.APP_LOAD_ERROR: the master halts when a worker exits with it.
APP_LOAD_ERROR = 4
#: How long a worker's failure counts as its master's, for the other workers that fail too.
FAILURE_SECONDS = 10


def in_gunicorn_worker() -> bool:
    """True in a gunicorn worker: gunicorn's master sets SERVER_SOFTWARE before it forks
    them, and a worker handles SIGTERM itself before it loads the app (a master loading the
    app with --preload does not yet, and has no other workers to agree with)."""
    return (os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")
            and callable(signal.getsignal(signal.SIGTERM)))


def first_failure(folder=None) -> bool:
    """Whether this gunicorn worker is the first of its master's to fail to load the line.

    Every worker loads the line and fails the same way, at about the same moment. The master
    halts at the first APP_LOAD_ERROR it reaps and stops the others; a second APP_LOAD_ERROR
    reaped while it stops makes gunicorn end in a traceback of its own (HaltServer). So the
    first worker claims the failure (a marker file named after the master's pid) and says
    it; the others leave quietly. A marker older than FAILURE_SECONDS is an earlier
    master's: should one be younger (a pid reused within seconds), the workers leave
    quietly and are restarted until it is older, then one says it and the master stops.
    """
    marker = Path(folder or tempfile.gettempdir()) / f"ivr-load-error-{os.getppid()}"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        try:
            if time.time() - marker.stat().st_mtime < FAILURE_SECONDS:
                return False
            os.utime(marker)  # an earlier master's with the same pid: this one is first
        except OSError:
            pass
        return True
    except OSError:  # no usable temporary folder: say it, as every worker then does
        return True
    os.close(fd)
    return True


def load(production: bool = True):
    """The line's app, or exit with one line naming the problem (once per gunicorn master).

    `production`: the line refuses to run without TWILIO_AUTH_TOKEN unless IVR_INSECURE=1
    (settings.production_rule); `app:app` in a checkout is the local, permissive entry.
    A gunicorn worker that fails after another of its master's already did leaves quietly
    (exit 0): the master is halting on the first one's APP_LOAD_ERROR and stops the rest.
    """
    try:
        config = settings_mod.from_environment()
        if production:
            settings_mod.production_rule(Settings.from_config(config, check=False))
        return create_app(config)
    except (ContentError, ConfigError, StoreError) as e:
        if in_gunicorn_worker() and not first_failure():
            raise SystemExit(0) from None
        # One write, newline included: the other workers log at the same moment into the
        # same stream, and a line split in two writes can be cut by theirs.
        sys.stderr.write(f"error: {e}\n")
        sys.stderr.flush()
        raise SystemExit(APP_LOAD_ERROR) from None

"""How the line is served: gunicorn with gevent workers (docs/serving.md says why).

`ivr serve` runs gunicorn with these settings, and so can an operator who runs gunicorn
directly, with this module as its configuration:

    gunicorn -c python:ivr.serving -b 0.0.0.0:8000 -w 5 ivr.wsgi:app

A sync worker reads a request itself: a client that sends its headers a line every few
seconds holds the worker, and a few dozen of them silence the line (Twilio waits 15 s). A
gevent worker reads each connection in a greenlet of its own, so a slow client holds a
greenlet, not the worker. gevent's patching must come before the line is built (a thread,
lock or psycopg's wait function made before it would block the whole worker): gunicorn
patches each worker before it loads `ivr.wsgi:app`, and `ivr serve`, which builds the app
once in the master, patches the master first (`patch`). So no `--preload` with these
settings: the master would build the app unpatched.

gunicorn reads every module-level name below that is one of its settings; this module
imports nothing of the line, which the workers load after they are patched.
"""

#: Each connection a greenlet: a slow client holds one, not the worker.
worker_class = "gevent"
#: Connections one worker holds at once (gunicorn's default, said here): slow clients
#: would need this many per worker to shut it.
worker_connections = 1000
#: Twilio waits 15 s for TwiML; a worker whose event loop is stuck longer is restarted.
timeout = 20
#: On SIGTERM a worker finishes the webhooks under way for this long; Twilio gives up on
#: one after 15 s anyway, and a slow client still connected would otherwise hold the stop
#: for gunicorn's default 30 s.
graceful_timeout = 15
#: Which forwarded headers count is decided in one place, IVR_TRUSTED_PROXIES (ProxyFix):
#: gunicorn's own trust of X-Forwarded-Proto from 127.0.0.1 would be a second, hidden one.
forwarded_allow_ips = ""
#: No access log: a GET webhook's URL holds the caller's number; ivr.webhook masks it.
accesslog = None
#: gunicorn 25+ opens a control socket in ~/.gunicorn, shared by every server of the user;
#: the line needs none, and two lines on one machine would fight over it (older gunicorn
#: ignores the name).
control_socket_disable = True


def worker_exit(server, worker):
    """gunicorn's worker_exit hook: a stopping worker writes the call turns it still has
    queued (ivr.store.worker_exit)."""
    from .store import worker_exit as flush  # the worker has it already; the master need not

    flush(server, worker)


#: The settings above, for `ivr serve`.
SETTINGS = ("worker_class", "worker_connections", "timeout", "graceful_timeout", "forwarded_allow_ips",
            "accesslog", "control_socket_disable", "worker_exit")


def options(known) -> dict:
    """These settings as {name: value}, those that this gunicorn knows (`known`: its
    Config().settings)."""
    return {name: globals()[name] for name in SETTINGS if name in known}


def patch() -> None:
    """gevent's monkey-patching of this process, before anything of the line is built:
    threads (the call store's writer) become greenlets, and psycopg, imported after it,
    waits on the database through gevent instead of blocking the worker."""
    from gevent import monkey

    monkey.patch_all()

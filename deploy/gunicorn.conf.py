"""gunicorn settings for the portal's web processes (docs/DEPLOYMENT.md).

    gunicorn -c deploy/gunicorn.conf.py 'portal:create_app()'

Every value can be changed from the environment without editing this file (GUNICORN_*). The web processes keep no
state of their own (signed-cookie sessions, throttling and tokens in the database, files in PORTAL_STORAGE), so any
number of them, on any number of machines, can serve behind the reverse proxy.
"""

import multiprocessing
import os

# nginx on the same machine talks to this address; in docker-compose it is 0.0.0.0:8000 inside the container
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers. The order path is CPU-bound in the worker (bench/README.md, "orders": 16 ms of Python and 6.6 ms of
# PostgreSQL per order), so 2 workers per core is the measured sweet spot (-w 4 on 2 cores: 84 orders/s, -w 2: 72);
# more only queue on the same cores.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count()))
worker_class = "sync"

# Generous for the slowest page (a delivery note PDF drawn on request, a 44-page statement re-drawn: < 1 s measured),
# short enough that a stuck request does not hold a worker for long.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5

# Recycle workers now and then (guards against slow leaks); the jitter keeps them from restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500

# Preloaded: the app is built once in the master, warmed (templates compiled, mappers configured, translations read:
# portal/platform/warmup.py) and every worker — at start and each time max_requests recycles one — is a fork of it,
# warm from its first request. Building the app opens no database or Redis connection, and post_fork below drops any
# pooled connection a worker would otherwise share with its siblings. GUNICORN_PRELOAD=0: each worker builds its own
# (then `kill -HUP` also reloads changed code; preloaded, a code change needs a restart).
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"

# The proxy sets X-Forwarded-Proto; gunicorn trusts it only from these addresses. The portal itself reads
# X-Forwarded-For/-Proto only with PORTAL_TRUSTED_PROXIES=1 (ProxyFix), which nginx's config below relies on.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs to stdout/stderr: journald (systemd) or docker collects them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = '%(h)s %({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Heartbeat files in memory, not on a possibly slow disk (docker's overlay filesystem in particular).
_SHM = "/dev/shm"  # noqa: S108  (gunicorn's documented place for its heartbeat files; nothing secret there)
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None

# Request limits (the portal itself refuses bodies over PORTAL_MAX_UPLOAD_MB with a 413 of its own).
limit_request_line = 8190
limit_request_fields = 100

# A client that sends less than its Content-Length and waits must not hold a sync worker until `timeout` kills it
# (gunicorn then answers its own HTML 500): a read of the request body that gets nothing from the client for this long
# fails, and the portal answers 400 `bad_request` in its error shape. Only reads: the answer is written without it, so
# a slow download still completes. nginx in front buffers whole bodies (client_body_timeout), so there this only guards
# gunicorn exposed directly. Like nginx's, it bounds the longest silence, not the request's total duration.
body_timeout = float(os.environ.get("GUNICORN_BODY_TIMEOUT", "10"))


class _BoundedBody:
    """The request body (wsgi.input) whose every read waits at most body_timeout for the client's socket."""

    def __init__(self, body, sock):
        self._body, self._sock = body, sock

    def _bounded(self, read, size):
        before = self._sock.gettimeout()
        self._sock.settimeout(body_timeout)
        try:
            return read(size)  # a silent client: TimeoutError, which the app (werkzeug) turns into a 400
        finally:
            self._sock.settimeout(before)

    def read(self, size=None):
        return self._bounded(self._body.read, size)

    def readline(self, size=None):
        return self._bounded(self._body.readline, size)

    def readlines(self, size=None):
        return self._bounded(self._body.readlines, size)

    def __iter__(self):
        return iter(self.readline, b"")


def post_worker_init(worker):
    """Every request body is read through _BoundedBody (gunicorn puts the client socket in the environ)."""
    app = worker.wsgi

    def bounded_reads(environ, start_response):
        environ["wsgi.input"] = _BoundedBody(environ["wsgi.input"], environ["gunicorn.socket"])
        return app(environ, start_response)

    worker.wsgi = bounded_reads


def _flask_app(server):
    """The Flask app the master built (preload_app), or None."""
    app = getattr(server.app, "callable", None)
    return app if hasattr(app, "jinja_env") else None


def when_ready(server):
    """Preloaded: warm the master's app before the first fork (portal/platform/warmup.py)."""
    app = _flask_app(server)
    if app is not None:
        import gc

        from portal.platform.warmup import warm

        warm(app)
        # what the master holds (the app, its compiled templates and mappers) is kept out of the collector's sweeps:
        # the workers' full collections skip it and do not write to its pages (forks share them copy-on-write)
        gc.freeze()


def post_fork(server, worker):
    """A worker starts with no database connection of the master's (there should be none: dropped if there are)."""
    app = _flask_app(server)
    if app is not None:
        from portal.platform.warmup import after_fork

        after_fork(app)  # the master's connections, if any, are left to the master, never used here

"""Work a web process would otherwise do on its first requests, done once before gunicorn forks its workers.

With `preload_app` (deploy/gunicorn.conf.py) the app is built in gunicorn's master process and every worker is a fork of
it: what the master has compiled and loaded, each worker has for free — at start, and again each time `max_requests`
recycles one. Measured on the benchmark's data (bench/README.md, "mixed"): building the app costs ~2.7 s of CPU per
process, and a fresh process's first home page ~0.45 s against ~0.035 s warm, most of it compiling templates.

`warm(app)` compiles every page template into Jinja's cache, configures the ORM mappers and reads both languages'
translations. It opens no database or Redis connection: the master must not hold a socket its forks would share.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

LANGUAGES = ("zh_CN", "en")


def warm(app) -> dict:
    """Compile the templates, configure the mappers, load the translations; what was done, and how long it took."""
    from flask_babel import force_locale, get_translations
    from sqlalchemy.orm import configure_mappers

    started = time.perf_counter()
    env = app.jinja_env
    names = [n for n in env.list_templates() if n.endswith((".html", ".txt"))]
    if env.cache is not None and env.cache.capacity < len(names) * 2:  # all of them kept, not evicted again
        env.cache = type(env.cache)(len(names) * 2)
    for name in names:
        env.get_template(name)
    configure_mappers()
    with app.test_request_context("/"):
        for lang in LANGUAGES:
            with force_locale(lang):
                get_translations()
    done = {"templates": len(names), "seconds": round(time.perf_counter() - started, 2)}
    log.info("warmed up before forking: %(templates)s templates compiled in %(seconds)s s", done)
    return done


def after_fork(app) -> int:
    """In a freshly forked worker: forget every pooled connection inherited from the master (the primary's engines and
    the read replica's), without closing them — they are the master's. How many engines were reset."""
    from portal.extensions import db
    from portal.platform import replica

    engines = []
    with app.app_context():
        engines.extend(db.engines.values())
    kept = app.extensions.get(replica.EXTENSION)
    if kept is not None:
        engines.append(kept.engine)
    for engine in engines:
        engine.dispose(close=False)
    return len(engines)

"""Calls started at the same moment from several threads, each in its own request context and transaction (the
concurrency tests on PostgreSQL)."""

from __future__ import annotations

import threading

from portal.extensions import db


def together(app, fns) -> list:
    """Run each callable in its own thread once all are ready; answer each one's result, or the exception it raised
    (its transaction rolled back)."""
    barrier = threading.Barrier(len(fns))
    out: list = [None] * len(fns)

    def run(i):
        with app.test_request_context(method="POST"):
            barrier.wait(timeout=20)
            try:
                out[i] = fns[i]()
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 (the outcome is what the test reads)
                db.session.rollback()
                out[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out

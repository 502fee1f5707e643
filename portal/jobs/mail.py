"""E-mail delivery as jobs (portal/notify/delivery.py, docs/MAIL.md): one queued after each commit that wrote e-mails
to the outbox, for those e-mails; and the sweep on the worker's schedule (PORTAL_MAIL_SWEEP_CRON, every minute) for
whatever else is due — retries after their wait, e-mails whose job was lost, those written while MAIL_SERVER was unset.
"""

from __future__ import annotations

# The sweep claims no new e-mail after this long, well inside its job timeout (SWEEP_TIMEOUT) even when the last
# attempt takes its whole lease; the next minute's sweep goes on where it stopped.
SWEEP_SECONDS = 240
SWEEP_TIMEOUT = 900


def deliver(ids: list[int]) -> int:
    """Deliver these outbox e-mails, those of them still due (a sweep may have sent them already)."""
    from portal.notify.delivery import deliver as deliver_due

    return deliver_due(ids)


def sweep() -> int:
    """Deliver every e-mail that is due."""
    from portal.notify.delivery import deliver as deliver_due

    return deliver_due(budget_seconds=SWEEP_SECONDS)

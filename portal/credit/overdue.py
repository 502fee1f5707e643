"""The daily overdue scan: automatic credit holds, and reminders to the dealer's users and region managers; then
the dunning step (each dealer to its level of PORTAL_DUNNING_LEVELS, acting once per level and invoice) and the
settlement of promises to pay whose date has passed (portal/collections/services.py).

Run twice on the same day it changes and sends nothing twice (notifications and e-mails carry a dedupe
key of dealer and day; holds are only set when absent and lifted when present).

It runs for today only. A past day is a dry run: it reports what the scan would do on that day (holds to set or
lift, reminders due) and changes and sends nothing. A future day is refused: a scan "as of" next year would put
dealers on hold for invoices that are not late yet.

Sub-dealers (§16): the hold is the same credit gate on their ledgers with their distributors, so the scan sets and
lifts it for them too; their reminders go to their own users and their distributor's admins (whose receivables they
are), not to HQ's region managers; dunning and collections are HQ's, for the dealers HQ sells to only.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.collections import services as collections
from portal.credit import services
from portal.credit.models import Application, DealerCredit, LedgerEntry
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.notify.models import Notification
from portal.notify.services import notify
from portal.platform.errors import Invalid
from portal.platform.money import sql_round, sql_sum
from portal.platform.timeutil import today


def overdue_by_dealer(on: dt.date) -> dict[int, tuple]:
    """dealer_id -> (overdue amount, oldest due date) for invoices open and past due on `on`."""
    applied = (
        select(Application.invoice_id, func.sum(Application.amount).label("applied"))
        .where(Application.applied_on <= on)
        .group_by(Application.invoice_id)
        .subquery()
    )
    residual = sql_round(LedgerEntry.amount - func.coalesce(applied.c.applied, 0))
    stmt = (
        select(LedgerEntry.dealer_id, sql_sum(residual), func.min(LedgerEntry.due_on))
        .outerjoin(applied, applied.c.invoice_id == LedgerEntry.id)
        .where(LedgerEntry.type == "invoice", LedgerEntry.entry_date <= on, LedgerEntry.due_on < on, residual > 0)
        .group_by(LedgerEntry.dealer_id)
    )
    return {dealer_id: (amount, oldest) for dealer_id, amount, oldest in db.session.execute(stmt).all()}


def _recipients(dealer: Dealer) -> list[User]:
    """The dealer's active users, and the region managers of the dealer's region and every region above it — for a
    sub-dealer, its distributor's admins instead (the debt is owed to the distributor)."""
    if dealer.parent_id is not None:
        seller_side = (User.dealer_id == dealer.parent_id) & (User.role == "dealer_admin")
    else:
        ancestors = [p for p in dealer.region.path.strip("/").split("/") if p]
        in_tree = select(Region.id).where(Region.code.in_(ancestors))
        seller_side = (User.role == "region_manager") & User.region_id.in_(in_tree)
    stmt = select(User).where(User.active.is_(True), (User.dealer_id == dealer.id) | seller_side)
    return list(db.session.execute(stmt).unique().scalars())


def _notified(user_id: int, dedupe_key: str) -> bool:
    found = db.session.execute(
        select(Notification.id).where(Notification.user_id == user_id, Notification.dedupe_key == dedupe_key)
    )
    return found.first() is not None


def scan_mode(on: dt.date) -> bool:
    """Whether a scan for `on` is a dry run (a past day); a future day is refused (422)."""
    current = today()
    if on > current:
        raise Invalid(
            fields={"date": [_("The overdue scan runs for today; a past day is a dry run. %(day)s is in the future.",
                               day=on.isoformat())]}  # fmt: skip
        )
    return on < current


def _reminder(dealer: Dealer, amount, on: dt.date, days: int, held: bool) -> tuple[str, str]:
    """Title and body in the current locale; money formatted as on every page (1,234.50)."""
    shown = format_decimal(amount, format="#,##0.00")
    title = _("%(dealer)s: %(amount)s CNY past due", dealer=dealer.name, amount=shown)
    body = _(
        "As of %(date)s, %(dealer)s (%(code)s) has %(amount)s CNY past due; the oldest invoice is %(days)s days "
        "past due.",
        dealer=dealer.name,
        code=dealer.code,
        amount=shown,
        date=on.isoformat(),
        days=days,
    )
    if held:
        body += " " + _("Orders are on credit hold until the overdue invoices are paid.")
    return title, body


def overdue_scan(on: dt.date, actor=None, progress=None, dry_run: bool = False) -> dict:
    """The scan for `on` (today; a past day only as a dry run, which changes and sends nothing)."""
    dry_run = scan_mode(on) or dry_run
    limit_days = current_app.config["PORTAL_OVERDUE_HOLD_DAYS"]
    overdue = overdue_by_dealer(on)
    auto_held = {
        d
        for (d,) in db.session.execute(
            select(DealerCredit.dealer_id).where(DealerCredit.on_hold.is_(True), DealerCredit.hold_source == "overdue")
        )
    }
    dealer_ids = sorted(set(overdue) | auto_held)
    summary = {
        "date": on.isoformat(),
        "dry_run": dry_run,
        "dealers_checked": len(dealer_ids),
        "overdue_dealers": len(overdue),
        "holds_set": 0,
        "holds_lifted": 0,
        "reminders_sent": 0,
    }
    for i, dealer_id in enumerate(dealer_ids, start=1):
        dealer = db.session.get(Dealer, dealer_id)
        if dry_run:
            change = services.overdue_hold_change(dealer, services.credit_row(dealer), on)
        else:
            change = services.reevaluate_overdue_hold(dealer, on, actor)
        if change == "set":
            summary["holds_set"] += 1
        elif change == "lifted":
            summary["holds_lifted"] += 1
        if dealer_id in overdue:
            amount, oldest = overdue[dealer_id]
            days = (on - oldest).days
            dedupe_key = f"overdue:{dealer.code}:{on.isoformat()}"
            for user in _recipients(dealer):
                if dry_run:
                    summary["reminders_sent"] += not _notified(user.id, dedupe_key)
                    continue
                with force_locale(user.locale):  # each reminder in its reader's language
                    title, body = _reminder(dealer, amount, on, days, days > limit_days)
                if notify(
                    user,
                    kind="overdue",
                    title=title,
                    body=body,
                    link=f"/dealers/{dealer.code}/ledger",
                    dedupe_key=dedupe_key,
                ):
                    summary["reminders_sent"] += 1
        if progress:
            progress(i, len(dealer_ids))
    summary.update(collections.dunning_step(on, dry_run))
    summary.update(collections.settle_promises(on, dry_run))
    return summary

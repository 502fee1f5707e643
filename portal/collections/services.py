"""Collections (PRODUCT.md §14): the dunning policy and its step of the daily scan, promises to pay and their
settlement, contact notes, and the collections worklist.

The dunning policy is configuration (`PORTAL_DUNNING_LEVELS`, "days:action,…"). A dealer's level is the highest
level its oldest overdue invoice has reached (the level's days; 0: nothing overdue). The scan acts once per level
and invoice (a `DunningAction` row each); the notices of one run for one dealer go out once, at the highest level
newly reached. Actions are cumulative: at `region` the region managers are told as well as the dealer, at `finance`
finance too. `review` sends every new order to credit review (`requires_review`, read by the order gate). `hold` is
the existing automatic overdue hold: its days default to PORTAL_OVERDUE_HOLD_DAYS and, when both are set, must
agree (the hold itself stays the overdue rule's: set when an invoice is more than that many days past due).

Collections are HQ's (§16): the dunning step, the worklist, promises and contact notes cover the dealers HQ sells to
(`credit.reports.hq_dealers`); a sub-dealer owes its distributor, which collects from it itself.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import current_app
from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.audit.services import record
from portal.collections.models import CollectionContact, DunningAction, PromiseToPay
from portal.config import ConfigError
from portal.credit.models import Application, DealerCredit, LedgerEntry
from portal.credit.services import actor_name, lock_credit
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.notify.services import notify
from portal.platform.errors import Forbidden, Invalid
from portal.platform.money import ZERO, money, sql_round
from portal.platform.timeutil import today, utcnow

ACTIONS = ("remind", "region", "review", "finance", "hold")
DEFAULT_LEVELS = "1:remind,15:region,30:review,60:finance,{hold}:hold"


# ---------------------------------------------------------------- the policy


def parse_levels(text: str, hold_days: int) -> list[tuple[int, str]]:
    """`"1:remind,15:region,…"` → [(1, "remind"), (15, "region"), …] sorted by days; ConfigError when malformed."""
    levels: list[tuple[int, str]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        days, sep, action = part.partition(":")
        if not sep or not days.strip().isdigit() or int(days) < 1 or action.strip() not in ACTIONS:
            raise ConfigError(
                f"PORTAL_DUNNING_LEVELS: {part!r} is not 'days:action' with days ≥ 1 and an action of "
                f"{', '.join(ACTIONS)} (e.g. {DEFAULT_LEVELS.format(hold=90)})"
            )
        levels.append((int(days), action.strip()))
    actions = [a for _d, a in levels]
    if not levels or len(set(actions)) != len(actions):
        raise ConfigError("PORTAL_DUNNING_LEVELS: at least one level, and each action at most once")
    for days, action in levels:
        if action == "hold" and days != hold_days:
            raise ConfigError(
                f"PORTAL_DUNNING_LEVELS: the hold level ({days} days) must agree with PORTAL_OVERDUE_HOLD_DAYS "
                f"({hold_days}); the hold is the automatic overdue hold"
            )
    return sorted(levels)


def policy(config=None) -> list[tuple[int, str]]:
    config = config if config is not None else current_app.config
    hold_days = int(config["PORTAL_OVERDUE_HOLD_DAYS"])
    text = config.get("PORTAL_DUNNING_LEVELS") or DEFAULT_LEVELS.format(hold=hold_days)
    return parse_levels(text, hold_days)


def level_for(days: int, levels: list[tuple[int, str]] | None = None) -> int:
    """The level (its days) reached by an invoice `days` past due; 0 below the first."""
    levels = policy() if levels is None else levels
    return max((d for d, _a in levels if days >= d), default=0)


def requires_review(dealer: Dealer) -> bool:
    """At or past the `review` level every new order goes to credit review (the order gate asks this). The level is
    the scan's; a dealer who has paid since is let through at once (its oldest overdue invoice is checked now)."""
    from portal.credit.services import oldest_overdue_days

    review = next((d for d, a in policy() if a == "review"), None)
    row = db.session.execute(select(DealerCredit).where(DealerCredit.dealer_id == dealer.id)).scalar_one_or_none()
    if review is None or row is None or row.dunning_level < review:
        return False
    return oldest_overdue_days(dealer.id, today()) >= review


def dunning_level(dealer: Dealer) -> int:
    row = db.session.execute(select(DealerCredit).where(DealerCredit.dealer_id == dealer.id)).scalar_one_or_none()
    return row.dunning_level if row else 0


def level_label(level: int) -> str:
    """The level in words: its days and what it does."""
    if not level:
        return _("None")
    action = dict(policy()).get(level)
    names = {
        "remind": _("reminder"),
        "region": _("region manager told"),
        "review": _("orders to credit review"),
        "finance": _("finance told"),
        "hold": _("credit hold"),
    }
    return _("%(days)s+ days: %(action)s", days=level, action=names.get(action, action or ""))


# ---------------------------------------------------------------- the scan's steps


def open_overdue_invoices(on: dt.date) -> dict[int, list[tuple[int, str, int]]]:
    """dealer_id → [(invoice id, number, days past due)] of the invoices open and past due on `on`, of the dealers HQ
    sells to."""
    from portal.credit.reports import hq_dealers

    hq = hq_dealers()
    applied = (
        select(Application.invoice_id, func.sum(Application.amount).label("applied"))
        .where(Application.applied_on <= on)
        .group_by(Application.invoice_id)
        .subquery()
    )
    residual = sql_round(LedgerEntry.amount - func.coalesce(applied.c.applied, 0))
    stmt = (
        select(LedgerEntry.dealer_id, LedgerEntry.id, LedgerEntry.number, LedgerEntry.due_on)
        .outerjoin(applied, applied.c.invoice_id == LedgerEntry.id)
        .where(LedgerEntry.type == "invoice", LedgerEntry.entry_date <= on, LedgerEntry.due_on < on, residual > 0,
               hq(LedgerEntry.dealer_id))
        .order_by(LedgerEntry.dealer_id, LedgerEntry.due_on, LedgerEntry.id)
    )
    found: dict[int, list[tuple[int, str, int]]] = {}
    for dealer_id, invoice_id, number, due_on in db.session.execute(stmt).all():
        found.setdefault(dealer_id, []).append((invoice_id, number, (on - due_on).days))
    return found


def _dunning_recipients(dealer: Dealer, actions: set[str]) -> list[User]:
    """The dealer's users; with `region` reached its region managers (up the tree); with `finance` finance."""
    ancestors = [p for p in dealer.region.path.strip("/").split("/") if p]
    who = User.dealer_id == dealer.id
    if "region" in actions:
        in_tree = select(Region.id).where(Region.code.in_(ancestors))
        who = who | ((User.role == "region_manager") & User.region_id.in_(in_tree))
    if "finance" in actions:
        who = who | (User.role == "finance")
    return list(db.session.execute(select(User).where(User.active.is_(True), who)).unique().scalars())


def _set_level(dealer: Dealer, level: int, on: dt.date) -> bool:
    row = lock_credit(dealer)
    if row.dunning_level == level:
        return False
    before = {"dunning_level": row.dunning_level}
    row.dunning_level = level
    row.dunning_since = on if level else None
    record(None, "credit.dunning_level", "dealer", dealer.code, before=before, after={"dunning_level": level},
           dealer_id=dealer.id)  # fmt: skip
    return True


def dunning_step(on: dt.date, dry_run: bool = False) -> dict:
    """Move each dealer to its level and act once per level and invoice (see the module's docstring)."""
    from portal.credit.reports import hq_dealers

    levels = policy()
    overdue = open_overdue_invoices(on)
    hq = hq_dealers()
    leveled = {
        d
        for (d,) in db.session.execute(
            select(DealerCredit.dealer_id).where(DealerCredit.dunning_level > 0, hq(DealerCredit.dealer_id))
        )
    }
    done = {
        (i, lv)
        for i, lv in db.session.execute(
            select(DunningAction.invoice_id, DunningAction.level).where(DunningAction.dealer_id.in_(list(overdue)))
        )
    }
    summary = {"levels_changed": 0, "dunning_actions": 0, "dunning_notices": 0}
    for dealer_id in sorted(set(overdue) | leveled):
        dealer = db.session.get(Dealer, dealer_id)
        invoices = overdue.get(dealer_id, [])
        level = level_for(max((days for _i, _n, days in invoices), default=0), levels)
        new: list[tuple[int, str, int]] = []  # (invoice id, number, level) not acted on yet
        for invoice_id, number, days in invoices:
            new += [(invoice_id, number, lv) for lv, _a in levels if days >= lv and (invoice_id, lv) not in done]
        summary["dunning_actions"] += len(new)
        if dry_run:
            summary["levels_changed"] += int(dunning_level(dealer) != level)
            continue
        summary["levels_changed"] += int(_set_level(dealer, level, on))
        for invoice_id, _number, lv in new:
            db.session.add(DunningAction(dealer_id=dealer_id, invoice_id=invoice_id, level=lv, acted_on=on))
        if new:
            db.session.flush()
            summary["dunning_notices"] += _notify_level(dealer, max(lv for *_x, lv in new), new, levels, on)
    return summary


def _notify_level(dealer: Dealer, top: int, new: list, levels: list[tuple[int, str]], on: dt.date) -> int:
    """One notice per recipient for what this run newly reached, at its highest level."""
    actions = {a for d, a in levels if d <= top}
    numbers = ", ".join(sorted({n for _i, n, _lv in new}))
    sent = 0
    for user in _dunning_recipients(dealer, actions):
        with force_locale(user.locale):
            title = _("%(dealer)s: dunning level %(level)s", dealer=dealer.name, level=level_label(top))
            body = _("%(dealer)s (%(code)s) reached the dunning level %(level)s with invoices %(numbers)s.",
                     dealer=dealer.name, code=dealer.code, level=level_label(top), numbers=numbers)  # fmt: skip
            if "review" in actions:
                body += " " + _("Every new order goes to credit review until the overdue invoices are paid.")
        link = f"/dealers/{dealer.code}/ledger" if user.dealer_id == dealer.id else f"/collections/{dealer.code}"
        sent += notify(user, kind="dunning", title=title, body=body, link=link,
                       dedupe_key=f"dunning:{dealer.code}:{top}:{on.isoformat()}")  # fmt: skip
    return sent


def paid_since(dealer_id: int, start: dt.date, end: dt.date) -> Decimal:
    """What the dealer paid (payments received) from `start` to `end`, both included."""
    total = db.session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.dealer_id == dealer_id,
            LedgerEntry.type == "payment",
            LedgerEntry.entry_date >= start,
            LedgerEntry.entry_date <= end,
        )
    ).scalar_one()
    return money(total)


def settle_promises(on: dt.date, dry_run: bool = False) -> dict:
    """Open promises whose date has passed: kept when the payments received since the promise was made reach its
    amount by its date, else broken (the account manager — else the region managers — told, once)."""
    due = (
        db.session.execute(
            select(PromiseToPay)
            .where(PromiseToPay.status == "open", PromiseToPay.promised_on < on)
            .order_by(PromiseToPay.id)
        )
        .unique()
        .scalars()
        .all()
    )
    summary = {"promises_kept": 0, "promises_broken": 0}
    tz_date = lambda p: p.created_at.astimezone(today_zone()).date()  # noqa: E731
    for promise in due:
        kept = paid_since(promise.dealer_id, tz_date(promise), promise.promised_on) >= promise.amount
        summary["promises_kept" if kept else "promises_broken"] += 1
        if dry_run:
            continue
        promise.status = "kept" if kept else "broken"
        promise.settled_at = utcnow()
        record(None, "promise.settle", "promise", str(promise.id), before={"status": "open"},
               after={"status": promise.status}, dealer_id=promise.dealer_id)  # fmt: skip
        if not kept:
            _notify_broken(promise)
    return summary


def today_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(current_app.config["PORTAL_TIMEZONE"])


def _notify_broken(promise: PromiseToPay) -> None:
    dealer = promise.dealer
    if dealer.account_manager is not None and dealer.account_manager.active:
        users = [dealer.account_manager]
    else:
        users = _dunning_recipients(dealer, {"region"})
        users = [u for u in users if u.role == "region_manager"]
    for user in users:
        with force_locale(user.locale):
            shown = format_decimal(promise.amount, format="#,##0.00")
            title = _("%(dealer)s: promise to pay broken", dealer=dealer.name)
            body = _(
                "%(dealer)s (%(code)s) promised to pay %(amount)s CNY by %(date)s and has not.",
                dealer=dealer.name,
                code=dealer.code,
                amount=shown,
                date=promise.promised_on.isoformat(),
            )
        notify(user, kind="promise_broken", title=title, body=body, link=f"/collections/{dealer.code}",
               dedupe_key=f"promise-broken:{promise.id}")  # fmt: skip


# ---------------------------------------------------------------- promises and contacts


def refuse_sub_dealer(dealer: Dealer) -> None:
    """HQ collects from the dealers it sells to; a sub-dealer owes its distributor (403, saying so)."""
    if dealer.parent_id is not None:
        raise Forbidden(
            _("%(dealer)s owes %(seller)s, not HQ: HQ does not collect from it.", dealer=dealer.code,
              seller=dealer.parent.code)
        )  # fmt: skip


def add_promise(actor, dealer: Dealer, amount: Decimal, promised_on: dt.date, note: str | None) -> PromiseToPay:
    refuse_sub_dealer(dealer)
    problems = {}
    if amount is None:
        problems["amount"] = [_("Required.")]
    elif amount <= 0:
        problems["amount"] = [_("Greater than zero.")]
    if promised_on is None:
        problems["promised_on"] = [_("Required.")]
    elif promised_on < today():
        problems["promised_on"] = [_("Today or later.")]
    if problems:
        raise Invalid(fields=problems)
    promise = PromiseToPay(
        dealer_id=dealer.id,
        amount=money(amount),
        promised_on=promised_on,
        note=(note or "").strip() or None,
        status="open",
        created_by=actor_name(actor),
    )
    # an open promise replaces the one before it
    for old in (
        db.session.execute(
            select(PromiseToPay).where(PromiseToPay.dealer_id == dealer.id, PromiseToPay.status == "open")
        )
        .unique()
        .scalars()
    ):
        old.status = "cancelled"
        old.settled_at = utcnow()
        record(actor, "promise.cancel", "promise", str(old.id), before={"status": "open"},
               after={"status": "cancelled"}, dealer_id=dealer.id)  # fmt: skip
    db.session.add(promise)
    db.session.flush()
    after = {"amount": str(promise.amount), "promised_on": promised_on.isoformat(), "note": promise.note}
    record(actor, "promise.create", "promise", str(promise.id), dealer_id=dealer.id, after=after)
    return promise


def add_contact(actor, dealer: Dealer, channel: str, note: str) -> CollectionContact:
    from portal.collections.models import CONTACT_CHANNELS

    refuse_sub_dealer(dealer)
    problems = {}
    if channel not in CONTACT_CHANNELS:
        problems["channel"] = [_("One of %(choices)s.", choices=", ".join(CONTACT_CHANNELS))]
    if not (note or "").strip():
        problems["note"] = [_("Say what was said.")]
    if problems:
        raise Invalid(fields=problems)
    contact = CollectionContact(dealer_id=dealer.id, channel=channel, note=note.strip(), created_by=actor_name(actor))
    db.session.add(contact)
    db.session.flush()
    record(actor, "collection_contact.create", "collection_contact", str(contact.id), dealer_id=dealer.id,
           after={"channel": channel, "note": contact.note})  # fmt: skip
    return contact


def promises_of(dealer: Dealer) -> list[PromiseToPay]:
    stmt = select(PromiseToPay).where(PromiseToPay.dealer_id == dealer.id).order_by(PromiseToPay.id.desc())
    return list(db.session.execute(stmt).unique().scalars())


def contacts_of(dealer: Dealer) -> list[CollectionContact]:
    stmt = (
        select(CollectionContact)
        .where(CollectionContact.dealer_id == dealer.id)
        .order_by(CollectionContact.contacted_at.desc(), CollectionContact.id.desc())
    )
    return list(db.session.execute(stmt).scalars())


# ---------------------------------------------------------------- the worklist


def worklist(scope, user=None, mine: bool = False, on: dt.date | None = None) -> list[dict]:
    """Overdue dealers HQ sells to in the scope: broken promises first (marked), then by overdue amount × oldest
    days."""
    from portal.credit.overdue import overdue_by_dealer
    from portal.credit.reports import hq_dealers

    on = on or today()
    overdue = overdue_by_dealer(on)
    if not overdue:
        return []
    stmt = select(Dealer).where(
        Dealer.id.in_(list(overdue)), scope.dealer_clause(Dealer.id), hq_dealers()(Dealer.id)
    )
    if mine:
        stmt = stmt.where(Dealer.account_manager_id == getattr(user, "id", None))
    dealers = list(db.session.execute(stmt).unique().scalars())
    ids = [d.id for d in dealers]
    level_rows = db.session.execute(
        select(DealerCredit.dealer_id, DealerCredit.dunning_level).where(DealerCredit.dealer_id.in_(ids))
    )
    levels = {dealer_id: lv for dealer_id, lv in level_rows}
    last_contact = dict(
        db.session.execute(
            select(CollectionContact.dealer_id, func.max(CollectionContact.contacted_at))
            .where(CollectionContact.dealer_id.in_(ids))
            .group_by(CollectionContact.dealer_id)
        ).all()
    )
    latest: dict[int, PromiseToPay] = {}  # each dealer's latest promise that is open or broken
    for p in (
        db.session.execute(
            select(PromiseToPay)
            .where(PromiseToPay.dealer_id.in_(ids), PromiseToPay.status.in_(("open", "broken", "kept")))
            .order_by(PromiseToPay.id)
        )
        .unique()
        .scalars()
    ):
        latest[p.dealer_id] = p
    rows = []
    for d in dealers:
        amount, oldest = overdue[d.id]
        days = (on - oldest).days
        promise = latest.get(d.id)
        broken = promise is not None and promise.status == "broken"
        open_promise = promise if promise is not None and promise.status == "open" else None
        rows.append(
            {
                "dealer_code": d.code,
                "dealer_name": d.name,
                "region_code": d.region.code,
                "overdue": money(amount),
                "oldest_days": days,
                "weight": money(Decimal(amount) * days),
                "dunning_level": levels.get(d.id, 0) or 0,
                "account_manager": d.account_manager.username if d.account_manager else None,
                "account_manager_name": d.account_manager.label if d.account_manager else None,
                "last_contact_at": last_contact.get(d.id),
                "promise_amount": open_promise.amount if open_promise else (promise.amount if broken else None),
                "promise_date": open_promise.promised_on if open_promise else (promise.promised_on if broken else None),
                "promise_broken": broken,
            }
        )
    rows.sort(key=lambda r: (not r["promise_broken"], -(r["weight"] or ZERO), r["dealer_code"]))
    return rows

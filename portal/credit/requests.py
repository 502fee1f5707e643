"""A dealer administrator's request for a temporary credit increase (PRODUCT.md §14). Services flush, never commit.

- The request: amount > 0, valid until a day from today to `MAX_DAYS_AHEAD` days ahead, a reason.
- Who decides (`stage`): the region manager of the dealer's region (or of a parent region) when the amount is within
  the region's `approval_limit`; finance otherwise. A region manager may also forward a request to finance. Finance
  may decide a request at either stage (HQ has the last word); a region manager only at stage `region`.
- Approval creates the temporary increase (valid from today to `valid_until`) with
  `credit.services.add_credit_increase`, in the same transaction and under the dealer's credit lock
  (`lock_credit`), so the credit gate sees the increase whole or not at all. The request row is locked too, so a
  second approval (or a rejection racing it) answers 409 with nothing written.
- The dealer's administrators (and the requester) are notified of the decision.
- A dealer administrator may withdraw its dealer's pending request (`withdrawn`: nobody decides it any more, it
  leaves the deciders' queues); a decided one answers 409, as a second decision does.
- A sub-dealer (§16) asks nobody here: its credit is its distributor's to give (the distributor's admin sets its
  limit and temporary increases), so its request is refused (403) saying so, and regions and finance never see one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import case, select

from portal.audit.services import record
from portal.credit.models import CreditRequest
from portal.credit.services import actor_name, add_credit_increase, lock_credit
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.notify.services import notify
from portal.platform.errors import Conflict, Forbidden, Invalid
from portal.platform.money import money
from portal.platform.timeutil import today, utcnow

MAX_DAYS_AHEAD = 90


def _stage_for(dealer: Dealer, amount: Decimal) -> str:
    limit = dealer.region.approval_limit if dealer.region is not None else None
    return "region" if limit is not None and amount <= limit else "finance"


def create_request(actor, dealer: Dealer, *, amount: Decimal, valid_until: dt.date, reason: str) -> CreditRequest:
    refuse_sub_dealer(dealer)
    errors: dict[str, list[str]] = {}
    if amount is None or amount <= 0:
        errors["amount"] = [_("Must be greater than zero.")]
    start = today()
    if valid_until is None or valid_until < start:
        errors["valid_until"] = [_("Must be today or later.")]
    elif valid_until > start + dt.timedelta(days=MAX_DAYS_AHEAD):
        errors["valid_until"] = [_("At most %(n)s days ahead.", n=MAX_DAYS_AHEAD)]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the increase is needed.")]
    if errors:
        raise Invalid(fields=errors)
    req = CreditRequest(
        dealer_id=dealer.id,
        amount=money(amount),
        valid_until=valid_until,
        reason=reason.strip(),
        status="pending",
        stage=_stage_for(dealer, money(amount)),
        requested_by=actor_name(actor),
    )
    db.session.add(req)
    db.session.flush()
    record(
        actor,
        "credit_request.create",
        "credit_request",
        str(req.id),
        after={"amount": str(req.amount), "valid_until": valid_until.isoformat(), "reason": req.reason,
               "stage": req.stage},
        dealer_id=dealer.id,
    )  # fmt: skip
    return req


def refuse_sub_dealer(dealer: Dealer) -> None:
    """A sub-dealer's credit is its distributor's: no request to HQ's deciders (403, saying whom to ask)."""
    if dealer.parent_id is not None:
        raise Forbidden(
            _(
                "%(dealer)s buys from %(seller)s: ask %(seller)s for more credit; its admin sets your credit.",
                dealer=dealer.code,
                seller=dealer.parent.code,
            ),
        )


def may_decide(actor, req: CreditRequest) -> bool:
    """Whether this person decides the request now (the caller has already loaded it through its scope)."""
    role = getattr(actor, "role", None)
    if req.status != "pending":
        return False
    return role == "finance" or (role == "region_manager" and req.stage == "region")


def _locked(req: CreditRequest) -> CreditRequest:
    """The request re-read under a row lock (FOR UPDATE on PostgreSQL), after the dealer's credit lock."""
    db.session.execute(select(CreditRequest.id).where(CreditRequest.id == req.id).with_for_update())
    db.session.refresh(req)
    return req


def _check_decider(actor, req: CreditRequest) -> None:
    if req.status != "pending":
        raise Conflict(_("This request is already decided."), code="already_decided")
    if not may_decide(actor, req):
        raise Forbidden(_("This request waits for finance."))


def approve(actor, req: CreditRequest, comment: str | None = None) -> CreditRequest:
    dealer = req.dealer
    lock_credit(dealer)  # the credit gate's lock first (the order every credit change takes), then the request
    _locked(req)
    _check_decider(actor, req)
    increase = add_credit_increase(
        actor,
        dealer,
        amount=req.amount,
        valid_from=today(),
        valid_until=max(req.valid_until, today()),
        reason=req.reason[:300],
    )
    before = {"status": req.status, "comment": req.comment}
    req.status, req.increase_id = "approved", increase.id
    req.decided_by, req.decided_at, req.comment = actor_name(actor), utcnow(), (comment or "").strip() or None
    db.session.flush()
    record(
        actor,
        "credit_request.approve",
        "credit_request",
        str(req.id),
        before=before,
        after={"status": "approved", "comment": req.comment, "increase_id": increase.id},
        dealer_id=dealer.id,
    )
    _notify_dealer(req)
    return req


def reject(actor, req: CreditRequest, comment: str) -> CreditRequest:
    if not (comment or "").strip():
        raise Invalid(fields={"comment": [_("Say why the request is rejected.")]})
    lock_credit(req.dealer)
    _locked(req)
    _check_decider(actor, req)
    before = {"status": req.status, "comment": req.comment}
    req.status = "rejected"
    req.decided_by, req.decided_at, req.comment = actor_name(actor), utcnow(), comment.strip()
    db.session.flush()
    record(
        actor,
        "credit_request.reject",
        "credit_request",
        str(req.id),
        before=before,
        after={"status": "rejected", "comment": req.comment},
        dealer_id=req.dealer_id,
    )
    _notify_dealer(req)
    return req


def may_withdraw(actor, req: CreditRequest) -> bool:
    """Whether this person may withdraw the request: a pending one, of its own dealer, by one of its administrators."""
    return (
        req.status == "pending"
        and getattr(actor, "role", None) == "dealer_admin"
        and getattr(actor, "dealer_id", None) == req.dealer_id
    )


def withdraw(actor, req: CreditRequest) -> CreditRequest:
    """The dealer takes its pending request back (under the same locks as a decision, so a withdrawal racing an
    approval leaves one of them: the other answers 409)."""
    lock_credit(req.dealer)
    _locked(req)
    if req.status != "pending":
        raise Conflict(_("This request is already decided."), code="already_decided")
    if not may_withdraw(actor, req):
        raise Forbidden(_("Only the dealer's administrators may withdraw its requests."))
    before = {"status": req.status}
    req.status = "withdrawn"
    req.decided_by, req.decided_at = actor_name(actor), utcnow()
    db.session.flush()
    record(
        actor,
        "credit_request.withdraw",
        "credit_request",
        str(req.id),
        before=before,
        after={"status": "withdrawn"},
        dealer_id=req.dealer_id,
    )
    return req


def forward(actor, req: CreditRequest, comment: str | None = None) -> CreditRequest:
    """A region manager passes a request on to finance (it stays pending)."""
    lock_credit(req.dealer)
    _locked(req)
    if req.status != "pending":
        raise Conflict(_("This request is already decided."), code="already_decided")
    if req.stage != "region" or getattr(actor, "role", None) != "region_manager":
        raise Conflict(_("This request already waits for finance."), code="already_forwarded")
    before = {"stage": req.stage, "comment": req.comment}
    req.stage = "finance"
    req.comment = (comment or "").strip() or None
    db.session.flush()
    record(
        actor,
        "credit_request.forward",
        "credit_request",
        str(req.id),
        before=before,
        after={"stage": "finance", "comment": req.comment},
        dealer_id=req.dealer_id,
    )
    return req


def _notify_dealer(req: CreditRequest) -> None:
    users = db.session.execute(
        select(User).where(User.dealer_id == req.dealer_id, User.active.is_(True))
        .where((User.role == "dealer_admin") | (User.username == req.requested_by))
    ).unique().scalars()  # fmt: skip
    for user in users:
        with force_locale(user.locale):
            if req.status == "approved":
                title = _("Credit increase approved")
                body = _("Your request for %(amount)s until %(until)s is approved.", amount=req.amount,
                         until=req.valid_until.isoformat())  # fmt: skip
            else:
                title = _("Credit increase rejected")
                body = _("Your request for %(amount)s is rejected: %(comment)s", amount=req.amount,
                         comment=req.comment or "")  # fmt: skip
        notify(user, kind="credit_request", title=title, body=body, link="/credit-requests",
               dedupe_key=f"credit_request:{req.id}:{req.status}")  # fmt: skip


def requests_query(scope, status: str | None = None):
    """The requests the caller may see: pending first, newest first."""
    stmt = scope.select(CreditRequest).order_by(
        case((CreditRequest.status == "pending", 0), else_=1), CreditRequest.created_at.desc(), CreditRequest.id.desc()
    )
    if status:
        stmt = stmt.where(CreditRequest.status == status)
    return stmt

"""Payer accounts and unmatched receipts (PRODUCT.md §14). Services flush; the entry point commits.

Payer accounts: finance registers them for any dealer, a dealer admin for its own dealer (both may deactivate).
An account number is stored as its digits only and belongs to one dealer: registering a number another dealer holds
is a conflict (409 `payer_account_taken`), even while that account is inactive (finance deactivates and moves it by
hand — a number that changes hands silently would post one dealer's money to another). Registering a number the
dealer already holds reactivates it (and takes the new name).

Unmatched receipts: finance assigns one to a dealer (posted as the dealer's payment through
`credit.services.post_payment`, reference = the bank's serial, applied FIFO) — optionally registering the payer
account for the dealer so that the next statement matches by itself — or dismisses it with a reason.

HQ's bank carries the payments of the dealers HQ sells to (§16): a sub-dealer pays its distributor, so it has no payer
account here (403) and no receipt is assigned to it (422 on `dealer_code`); the statement import matches HQ's
dealers only (portal/banking/imports.py).
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import select

from portal.audit.services import record
from portal.banking.models import PayerAccount, UnmatchedReceipt
from portal.credit import services as credit
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.errors import Conflict, Forbidden, Invalid
from portal.platform.timeutil import utcnow

_NON_DIGITS = re.compile(r"[^0-9]")


def account_digits(text: object) -> str:
    """An account number as stored and compared: its digits only (banks group them with blanks or dashes)."""
    return _NON_DIGITS.sub("", str(text or ""))


def payer_accounts(dealer: Dealer, *, include_inactive: bool = True) -> list[PayerAccount]:
    stmt = select(PayerAccount).where(PayerAccount.dealer_id == dealer.id)
    if not include_inactive:
        stmt = stmt.where(PayerAccount.active.is_(True))
    return list(db.session.execute(stmt.order_by(PayerAccount.active.desc(), PayerAccount.id)).unique().scalars())


def pays_hq_message(dealer: Dealer) -> str:
    return _("%(dealer)s pays %(seller)s, not HQ: HQ's bank statements never carry its payments.",
             dealer=dealer.code, seller=dealer.parent.code)  # fmt: skip


def register_payer_account(actor, dealer: Dealer, account_number: str, account_name: str) -> PayerAccount:
    """Register (or reactivate) one of the dealer's payer accounts."""
    if dealer.parent_id is not None:
        raise Forbidden(pays_hq_message(dealer))
    number, name = account_digits(account_number), (account_name or "").strip()
    errors = {}
    if not 6 <= len(number) <= 40:
        errors["account_number"] = [_("An account number of 6 to 40 digits.")]
    if not name:
        errors["account_name"] = [_("Required.")]
    elif len(name) > 120:
        errors["account_name"] = [_("At most %(n)s characters.", n=120)]
    if errors:
        raise Invalid(fields=errors)
    existing = (
        db.session.execute(
            select(PayerAccount).where(PayerAccount.account_number == number).with_for_update(of=PayerAccount)
        )
        .unique()
        .scalar_one_or_none()
    )
    if existing is not None and existing.dealer_id != dealer.id:
        raise Conflict(
            _("Account %(number)s is registered for another dealer.", number=number),
            code="payer_account_taken",
            fields={"account_number": [_("Registered for another dealer.")]},
        )
    if existing is not None:
        before = {"account_name": existing.account_name, "active": existing.active}
        existing.account_name, existing.active = name, True
        db.session.flush()
        record(actor, "payer_account.update", "payer_account", number, before=before,
               after={"account_name": name, "active": True}, dealer_id=dealer.id)  # fmt: skip
        return existing
    account = PayerAccount(
        dealer_id=dealer.id,
        account_number=number,
        account_name=name,
        active=True,
        created_by=credit.actor_name(actor),
    )
    db.session.add(account)
    db.session.flush()
    record(actor, "payer_account.create", "payer_account", number,
           after={"account_name": name}, dealer_id=dealer.id)  # fmt: skip
    return account


def deactivate_payer_account(actor, dealer: Dealer, account_number: str) -> PayerAccount:
    number = account_digits(account_number)
    account = (
        db.session.execute(
            select(PayerAccount).where(PayerAccount.dealer_id == dealer.id, PayerAccount.account_number == number)
        )
        .unique()
        .scalar_one_or_none()
    )
    if account is None:
        raise Invalid(fields={"account_number": [_("Not one of this dealer's payer accounts.")]})
    if account.active:
        account.active = False
        db.session.flush()
        record(actor, "payer_account.deactivate", "payer_account", number,
               before={"active": True}, after={"active": False}, dealer_id=dealer.id)  # fmt: skip
    return account


def payer_account_view(account: PayerAccount) -> dict:
    return {
        "account_number": account.account_number,
        "account_name": account.account_name,
        "active": account.active,
        "dealer_code": account.dealer.code,
        "created_by": account.created_by,
        "created_at": account.created_at,
    }


# ---------------------------------------------------------------- unmatched receipts


def _open_receipt(receipt: UnmatchedReceipt) -> UnmatchedReceipt:
    """The receipt locked, and still open (409 `receipt_decided` otherwise)."""
    locked = db.session.execute(
        select(UnmatchedReceipt).where(UnmatchedReceipt.id == receipt.id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()  # fmt: skip
    if locked.status != "open":
        raise Conflict(_("This receipt was already %(status)s.", status=receipt_status_label(locked.status)),
                       code="receipt_decided")  # fmt: skip
    return locked


def assign_receipt(actor, receipt: UnmatchedReceipt, dealer: Dealer, *, register_account: bool = False):
    """Post the receipt as the dealer's payment (reference = the bank's serial, applied FIFO); optionally register
    its payer account for the dealer. Returns the payment."""
    if dealer.parent_id is not None:
        raise Invalid(fields={"dealer_code": [pays_hq_message(dealer)]})
    receipt = _open_receipt(receipt)
    if register_account and not receipt.payer_account:
        raise Invalid(fields={"register_account": [_("This receipt names no payer account.")]})
    payment = credit.post_payment(
        actor,
        dealer,
        amount=receipt.amount,
        received_on=receipt.received_on,
        reference=receipt.serial,
        source="import",
    )
    receipt.status, receipt.dealer_id, receipt.payment_id = "assigned", dealer.id, payment.id
    receipt.decided_by, receipt.decided_at = credit.actor_name(actor), utcnow()
    db.session.flush()
    record(
        actor,
        "unmatched_receipt.assign",
        "unmatched_receipt",
        receipt.serial,
        before={"status": "open", "dealer_code": None},
        after={"status": "assigned", "dealer_code": dealer.code},
        dealer_id=dealer.id,
    )  # fmt: skip
    if register_account:
        name = receipt.payer_name or dealer.name
        register_payer_account(actor, dealer, receipt.payer_account, name)
    return payment


def dismiss_receipt(actor, receipt: UnmatchedReceipt, reason: str) -> UnmatchedReceipt:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(fields={"reason": [_("Say why the receipt is dismissed.")]})
    if len(reason) > 300:
        raise Invalid(fields={"reason": [_("At most %(n)s characters.", n=300)]})
    receipt = _open_receipt(receipt)
    receipt.status, receipt.reason = "dismissed", reason
    receipt.decided_by, receipt.decided_at = credit.actor_name(actor), utcnow()
    db.session.flush()
    record(
        actor,
        "unmatched_receipt.dismiss",
        "unmatched_receipt",
        receipt.serial,
        before={"status": "open", "reason": None},
        after={"status": "dismissed", "reason": reason},
    )  # fmt: skip
    return receipt


def receipt_status_label(status: str) -> str:
    return {"open": _("open"), "assigned": _("assigned"), "dismissed": _("dismissed")}.get(status, status)


def receipt_view(receipt: UnmatchedReceipt) -> dict:
    dealer = db.session.get(Dealer, receipt.dealer_id) if receipt.dealer_id else None
    return {
        "id": receipt.id,
        "bank": receipt.bank,
        "serial": receipt.serial,
        "received_on": receipt.received_on,
        "amount": receipt.amount,
        "payer_account": receipt.payer_account,
        "payer_name": receipt.payer_name,
        "memo": receipt.memo,
        "status": receipt.status,
        "dealer_code": dealer.code if dealer else None,
        "reason": receipt.reason,
        "job_id": receipt.job_id,
        "decided_by": receipt.decided_by,
        "decided_at": receipt.decided_at,
        "created_at": receipt.created_at,
    }

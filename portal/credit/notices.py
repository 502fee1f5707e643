"""Payment notices (回款通知, PRODUCT.md §14) and the dealer's open invoices. Services flush, never commit.

A notice is a dealer's "we paid": never money. It is `notified` until

- matched automatically to a posted payment of the same dealer with the same bank reference and amount — when the
  payment is posted (`match_posted`, a receiver of `credit.events.payment_posted`, portal/wiring.py), or at once when
  the notice is sent after the payment;
- matched by finance by hand to a posted payment of the dealer (the amounts may differ; both are shown);
- or queried by finance with a question. The dealer sees the question and answers by sending a new notice (the
  queried one stays as it is, for the record).

A payment matches at most one notice (unique `payment_id`); matching a matched notice is a conflict (409).

A sub-dealer (§16) pays its distributor, not HQ: its notice is refused (403) saying to tell the distributor, whose
admin records the payment on the sub-dealer's ledger with it; finance never sees one.

The voucher (optional): a JPEG, PNG or PDF, recognised by its content (never by its name), at most
`VOUCHER_MAX_BYTES`; kept under `<PORTAL_STORAGE>/vouchers/` with a name the portal makes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select

from portal.audit.services import record
from portal.credit.models import LedgerEntry, PaymentNotice
from portal.credit.services import _credit_unapplied, _invoice_residuals, actor_name, lock_credit
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.errors import Conflict, Forbidden, Invalid
from portal.platform.money import ZERO, money
from portal.platform.timeutil import today, utcnow

VOUCHER_MAX_BYTES = 5 * 1024 * 1024
VOUCHER_TYPES = (  # (signature, content type, suffix)
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)


NO_PAYMENT = _l("Choose a payment of the same dealer.")


def check_voucher(data: bytes) -> tuple[str, str]:
    """(content type, suffix) of an acceptable voucher; Invalid on the `file` field otherwise."""
    if not data:
        raise Invalid(fields={"file": [_("The file is empty.")]})
    if len(data) > VOUCHER_MAX_BYTES:
        limit = VOUCHER_MAX_BYTES // (1024 * 1024)
        raise Invalid(fields={"file": [_("The voucher is larger than %(n)s MB.", n=limit)]})
    for signature, content_type, suffix in VOUCHER_TYPES:
        if data.startswith(signature):
            return content_type, suffix
    raise Invalid(fields={"file": [_("The voucher must be a JPEG or PNG image or a PDF.")]})


def voucher_file(notice: PaymentNotice) -> Path | None:
    if not notice.voucher_path:
        return None
    return Path(current_app.config["PORTAL_STORAGE"]) / notice.voucher_path


def send_notice(
    actor,
    dealer: Dealer,
    *,
    amount: Decimal,
    paid_on: dt.date,
    reference: str,
    note: str | None = None,
    voucher: tuple[bytes, str] | None = None,
) -> PaymentNotice:
    """A dealer's notice; `voucher` is (content, name as uploaded). Matched at once when the payment is posted."""
    refuse_sub_dealer(dealer)
    errors: dict[str, list[str]] = {}
    if amount is None or amount <= 0:
        errors["amount"] = [_("Must be greater than zero.")]
    if paid_on is None or paid_on > today():
        errors["paid_on"] = [_("Cannot be in the future.")]
    reference = (reference or "").strip()
    if not reference:
        errors["reference"] = [_("Give the bank reference of the transfer.")]
    stored = None
    if voucher is not None:
        try:
            stored = check_voucher(voucher[0])
        except Invalid as exc:
            errors.update(exc.fields)
    if errors:
        raise Invalid(fields=errors)
    notice = PaymentNotice(
        dealer_id=dealer.id,
        amount=money(amount),
        paid_on=paid_on,
        reference=reference,
        note=(note or "").strip() or None,
        status="notified",
        created_by=actor_name(actor),
    )
    if stored is not None:
        content_type, suffix = stored
        relative = f"vouchers/{uuid.uuid4().hex}.{suffix}"
        path = Path(current_app.config["PORTAL_STORAGE"]) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(voucher[0])
        notice.voucher_path, notice.voucher_type = relative, content_type
        notice.voucher_name = Path((voucher[1] or "voucher").replace("\\", "/")).name[:200] or "voucher"
    db.session.add(notice)
    db.session.flush()
    record(
        actor,
        "payment_notice.create",
        "payment_notice",
        str(notice.id),
        after={"amount": str(notice.amount), "paid_on": paid_on.isoformat(), "reference": reference,
               "voucher": notice.voucher_name},
        dealer_id=dealer.id,
    )  # fmt: skip
    lock_credit(dealer)  # the order payments take: a payment posted now waits, then finds this notice
    payment = db.session.execute(
        select(LedgerEntry).where(
            LedgerEntry.dealer_id == dealer.id,
            LedgerEntry.type == "payment",
            LedgerEntry.number == reference,
            LedgerEntry.amount == notice.amount,
        )
    ).unique().scalar_one_or_none()
    if payment is not None and not _payment_taken(payment.id):
        _match(None, notice, payment, "auto")
    return notice


def refuse_sub_dealer(dealer: Dealer) -> None:
    """A sub-dealer pays its distributor: no notice to HQ's finance (403, saying whom to tell)."""
    if dealer.parent_id is not None:
        raise Forbidden(
            _(
                "%(dealer)s pays %(seller)s, not HQ: tell %(seller)s of your payment; its admin records it.",
                dealer=dealer.code,
                seller=dealer.parent.code,
            ),
        )


def _lock(notice: PaymentNotice) -> None:
    """Lock the notice's row (FOR UPDATE of that row alone, not the joined dealer or payment) and re-read it."""
    db.session.execute(select(PaymentNotice.id).where(PaymentNotice.id == notice.id).with_for_update())
    db.session.refresh(notice)


def _payment_taken(payment_id: int) -> bool:
    taken = select(PaymentNotice.id).where(PaymentNotice.payment_id == payment_id)
    return db.session.execute(taken).first() is not None


def _match(actor, notice: PaymentNotice, payment: LedgerEntry, how: str) -> PaymentNotice:
    before = {"status": notice.status}
    notice.status, notice.payment_id, notice.payment = "matched", payment.id, payment
    notice.matched_by, notice.matched_at = actor_name(actor), utcnow()
    db.session.flush()
    record(
        actor,
        "payment_notice.match",
        "payment_notice",
        str(notice.id),
        before=before,
        after={"status": "matched", "payment": payment.number, "amount": str(payment.amount), "how": how},
        dealer_id=notice.dealer_id,
    )
    return notice


def match_posted(actor, payments: list[LedgerEntry]) -> None:
    """Receiver of `payment_posted`: for each payment, in order, the oldest open notice of its dealer with its
    reference and amount is matched (the dealers' credit rows are locked by the posting). The candidates of all the
    payments are read in one query per 500 payments (a bank statement posts thousands at once)."""
    for start in range(0, len(payments), 500):
        chunk = payments[start : start + 500]
        taken = set(
            db.session.execute(
                select(PaymentNotice.payment_id).where(PaymentNotice.payment_id.in_([p.id for p in chunk]))
            ).scalars()
        )
        candidates: dict[tuple, list[PaymentNotice]] = {}
        notices = db.session.execute(
            select(PaymentNotice)
            .where(
                PaymentNotice.dealer_id.in_({p.dealer_id for p in chunk}),
                PaymentNotice.reference.in_({p.number for p in chunk}),
                PaymentNotice.status.in_(("notified", "queried")),
            )
            .order_by(PaymentNotice.created_at, PaymentNotice.id)
        ).unique().scalars()
        for notice in notices:
            candidates.setdefault((notice.dealer_id, notice.reference, notice.amount), []).append(notice)
        for payment in chunk:
            waiting = candidates.get((payment.dealer_id, payment.number, payment.amount))
            if payment.id not in taken and waiting:
                _match(actor, waiting.pop(0), payment, "auto")


def match_by_hand(actor, notice: PaymentNotice, payment: LedgerEntry) -> PaymentNotice:
    if payment.type != "payment" or payment.dealer_id != notice.dealer_id:
        raise Invalid(fields={"payment_id": [str(NO_PAYMENT)]})
    lock_credit(notice.dealer)
    _lock(notice)
    if notice.status == "matched":
        raise Conflict(_("This notice is already matched."), code="already_matched")
    if _payment_taken(payment.id):
        raise Conflict(_("This payment is already matched to another notice."), code="payment_taken")
    return _match(actor, notice, payment, "hand")


def query_notice(actor, notice: PaymentNotice, question: str) -> PaymentNotice:
    if not (question or "").strip():
        raise Invalid(fields={"query": [_("Ask the dealer what is unclear.")]})
    lock_credit(notice.dealer)
    _lock(notice)
    if notice.status == "matched":
        raise Conflict(_("This notice is already matched."), code="already_matched")
    before = {"status": notice.status, "query": notice.query}
    notice.status, notice.query = "queried", question.strip()
    db.session.flush()
    record(
        actor,
        "payment_notice.query",
        "payment_notice",
        str(notice.id),
        before=before,
        after={"status": "queried", "query": notice.query},
        dealer_id=notice.dealer_id,
    )
    return notice


def notices_query(scope, status: str | None = None):
    """The notices the caller may see: notified first, then queried, then matched; newest first."""
    order = case((PaymentNotice.status == "notified", 0), (PaymentNotice.status == "queried", 1), else_=2)
    stmt = scope.select(PaymentNotice).order_by(order, PaymentNotice.created_at.desc(), PaymentNotice.id.desc())
    if status:
        stmt = stmt.where(PaymentNotice.status == status)
    return stmt


def candidate_payments(notice: PaymentNotice) -> list[LedgerEntry]:
    """The dealer's payments not yet matched to a notice, same reference or amount first, newest first."""
    taken = select(PaymentNotice.payment_id).where(PaymentNotice.payment_id.is_not(None))
    likely = case(
        ((LedgerEntry.number == notice.reference) | (LedgerEntry.amount == notice.amount), 0), else_=1
    )
    stmt = (
        select(LedgerEntry)
        .where(LedgerEntry.dealer_id == notice.dealer_id, LedgerEntry.type == "payment", LedgerEntry.id.not_in(taken))
        .order_by(likely, LedgerEntry.entry_date.desc(), LedgerEntry.id.desc())
        .limit(50)
    )
    return list(db.session.execute(stmt).unique().scalars())


def open_invoices(dealer: Dealer, on: dt.date | None = None) -> dict:
    """The dealer's invoices with something still open (oldest due first), what of each is paid (payments and credit
    notes applied) and open, days overdue; and its unapplied cash (prepayment)."""
    on = on or today()
    items = []
    for invoice, residual in _invoice_residuals(dealer.id):
        items.append(
            {
                "number": invoice.number,
                "issued_on": invoice.entry_date,
                "due_on": invoice.due_on,
                "amount": invoice.amount,
                "paid": money(invoice.amount - residual),
                "open": residual,
                "days_overdue": max((on - invoice.due_on).days, 0),
            }
        )
    unapplied = sum((amount for _credit, amount in _credit_unapplied(dealer.id)), ZERO)
    return {
        "dealer_code": dealer.code,
        "items": items,
        "open": money(sum((i["open"] for i in items), ZERO)),
        "unapplied": money(unapplied),
    }

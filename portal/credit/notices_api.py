"""JSON API for payment notices and a dealer's open invoices (PRODUCT.md §14)."""

from __future__ import annotations

from flask import request, send_file
from flask_login import current_user
from marshmallow import Schema, fields, validate

from portal.credit import notices
from portal.credit.models import LedgerEntry, PaymentNotice
from portal.dealers.models import Dealer
from portal.platform.api import PageArgs, StrictSchema, api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import Invalid, NotFound
from portal.platform.money import Money
from portal.platform.security import accepts_vouchers
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route

blp = api_blueprint("api_payment_notices", __name__, "Payment notices")


class PaymentNoticeFormSchema(StrictSchema):
    amount = Money(required=True, allow_zero=False)
    paid_on = fields.Date(required=True, metadata={"description": "not in the future"})
    reference = fields.String(required=True, validate=validate.Length(min=1, max=64))
    note = fields.String(validate=validate.Length(max=1000))
    # the multipart part `file` is read from the request's files (documented here, never loaded from the form)
    file = fields.Raw(load_only=True, metadata={"type": "string", "format": "binary",
                                                "description": "voucher: JPEG, PNG or PDF, at most 5 MB"})  # fmt: skip


class PaymentNoticeSchema(Schema):
    id = fields.Integer()
    dealer_code = fields.Function(lambda n: n.dealer.code)
    amount = Money()
    paid_on = fields.Date()
    reference = fields.String()
    note = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "notified | matched | queried"})
    payment_reference = fields.Function(lambda n: n.payment.number if n.payment else None, allow_none=True)
    payment_amount = fields.Function(lambda n: str(n.payment.amount) if n.payment else None, allow_none=True)
    query = fields.String(allow_none=True, metadata={"description": "finance's question when queried"})
    voucher_name = fields.String(allow_none=True)
    matched_by = fields.String(allow_none=True)
    matched_at = fields.DateTime(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()


class PaymentNoticeQuerySchema(PageArgs):
    status = fields.String(validate=validate.OneOf(("notified", "matched", "queried")))


class NoticeMatchSchema(StrictSchema):
    payment_id = fields.Integer(required=True, metadata={"description": "a posted payment of the same dealer"})


class NoticeQuestionSchema(StrictSchema):
    query = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class OpenInvoiceSchema(Schema):
    number = fields.String()
    issued_on = fields.Date()
    due_on = fields.Date()
    amount = Money()
    paid = Money()
    open = Money()
    days_overdue = fields.Integer()


class OpenInvoicesSchema(Schema):
    dealer_code = fields.String()
    items = fields.List(fields.Nested(OpenInvoiceSchema))
    open = Money(metadata={"description": "the sum of what is open"})
    unapplied = Money(metadata={"description": "unapplied cash: the dealer's prepayment"})


def _notice(notice_id: int) -> PaymentNotice:
    return current_scope().get_or_404(PaymentNotice, id=notice_id)


@blp.route("/payment-notices", methods=["POST"])
@accepts_vouchers
@requires("payment_notices.send")
@blp.arguments(PaymentNoticeFormSchema, location="form", content_type="multipart/form-data")
@blp.response(201, PaymentNoticeSchema)
def create_notice(form):
    """A dealer says it paid (multipart form: amount, paid_on, reference, note?, file?). Never a payment itself: it is
    matched when a payment with the same reference and amount is posted (at once if it already is)."""
    dealer = current_scope().get_or_404(Dealer, id=current_user.dealer_id)
    form.pop("file", None)
    upload = request.files.get("file")
    voucher = (upload.read(), upload.filename or "") if upload is not None and upload.filename else None
    return notices.send_notice(current_user, dealer, voucher=voucher, **form)


@blp.route("/payment-notices", methods=["GET"])
@requires("payment_notices.read")
@blp.arguments(PaymentNoticeQuerySchema, location="query")
@blp.response(200, page_of(PaymentNoticeSchema))
def list_notices(args):
    """The notices in the caller's scope: notified first, then queried, then matched."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(notices.notices_query(current_scope(), args.get("status")), page, per_page)


@blp.route("/payment-notices/<int:notice_id>", methods=["GET"])
@requires("payment_notices.read")
@tenant_route("payment_notice")
@blp.response(200, PaymentNoticeSchema)
def get_notice(notice_id):
    return _notice(notice_id)


@blp.route("/payment-notices/<int:notice_id>/voucher", methods=["GET"])
@requires("payment_notices.read")
@tenant_route("payment_notice")
@blp.response(200, description="the voucher file (JPEG, PNG or PDF), as an attachment")
def get_voucher(notice_id):
    notice = _notice(notice_id)
    path = notices.voucher_file(notice)
    if path is None or not path.is_file():
        raise NotFound()
    return send_file(path, mimetype=notice.voucher_type, as_attachment=True, download_name=notice.voucher_name)


@blp.route("/payment-notices/<int:notice_id>/match", methods=["POST"])
@requires("payment_notices.manage")
@tenant_route("payment_notice")
@blp.arguments(NoticeMatchSchema)
@blp.response(200, PaymentNoticeSchema)
def match_notice(body, notice_id):
    """Finance matches a notice to a posted payment of the dealer by hand (409 when either is already matched)."""
    notice = _notice(notice_id)
    payment = current_scope().first(LedgerEntry, id=body["payment_id"], dealer_id=notice.dealer_id, type="payment")
    if payment is None:
        raise Invalid(fields={"payment_id": [str(notices.NO_PAYMENT)]})
    return notices.match_by_hand(current_user, notice, payment)


@blp.route("/payment-notices/<int:notice_id>/query", methods=["POST"])
@requires("payment_notices.manage")
@tenant_route("payment_notice")
@blp.arguments(NoticeQuestionSchema)
@blp.response(200, PaymentNoticeSchema)
def query_notice(body, notice_id):
    """Finance asks the dealer about a notice; the dealer answers with a new notice."""
    return notices.query_notice(current_user, _notice(notice_id), body["query"])


@blp.route("/dealers/<code>/open-invoices", methods=["GET"])
@requires("ledger.read")
@tenant_route("dealer")
@blp.response(200, OpenInvoicesSchema)
def open_invoices(code):
    """The dealer's invoices with something open (oldest due first): paid, open, days overdue; and its unapplied
    cash (prepayment)."""
    return notices.open_invoices(dealer_or_404(code))

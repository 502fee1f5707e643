"""JSON API of payer accounts, bank statements and unmatched receipts (PRODUCT.md §14).

Payer accounts: read by the dealer's admin, its region and HQ (scoped); registered and deactivated by finance (any
dealer) and the dealer's admin (its own). The statement import and the unmatched receipts: finance.
"""

from __future__ import annotations

import functools

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.background.services import start_import
from portal.banking import layouts, services
from portal.banking.models import UnmatchedReceipt
from portal.banking.schemas import (
    PayerAccountCreateSchema,
    PayerAccountDeactivateSchema,
    PayerAccountListSchema,
    PayerAccountSchema,
    StatementImportSchema,
    UnmatchedReceiptAssignedSchema,
    UnmatchedReceiptAssignSchema,
    UnmatchedReceiptDismissSchema,
    UnmatchedReceiptQuerySchema,
    UnmatchedReceiptSchema,
)
from portal.credit.schemas import ImportQueuedSchema
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import Invalid
from portal.platform.security import accepts_workbooks
from portal.platform.tenancy import current_scope, dealer_or_404, not_tenant_route, tenant_route

blp = api_blueprint("api_banking", __name__, "Bank statements")


def _dealer_before_body(view):
    """Resolve the URL's dealer (404 out of scope) before the body is validated: a dealer outside the caller's scope
    answers exactly like a missing one, whatever the body."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if request.is_json:
            request.get_json()  # a body that is not JSON is refused first (400 malformed_json), as everywhere
        dealer_or_404(kwargs["code"])
        return view(*args, **kwargs)

    return wrapped


RECEIPTS_ARE_HQS = "unmatched receipts belong to no dealer until assigned: finance's alone (receipts.manage)"


@blp.route("/dealers/<code>/payer-accounts", methods=["GET"])
@requires("payer_accounts.read")
@tenant_route("dealer")
@blp.response(200, PayerAccountListSchema)
def list_payer_accounts(code):
    """The dealer's payer accounts (付款账户), active first."""
    dealer = dealer_or_404(code)
    return {"items": [services.payer_account_view(a) for a in services.payer_accounts(dealer)]}


@blp.route("/dealers/<code>/payer-accounts", methods=["POST"])
@requires("payer_accounts.manage")
@tenant_route("dealer")
@_dealer_before_body
@blp.arguments(PayerAccountCreateSchema)
@blp.response(201, PayerAccountSchema)
def create_payer_account(body, code):
    """Register a payer account (finance; the dealer's admin for its own dealer). The number is stored as its
    digits; one registered for another dealer is refused (409 `payer_account_taken`); one the dealer already holds is
    reactivated with the new name."""
    dealer = dealer_or_404(code)
    account = services.register_payer_account(current_user, dealer, body["account_number"], body["account_name"])
    return services.payer_account_view(account)


@blp.route("/dealers/<code>/payer-accounts/deactivate", methods=["POST"])
@requires("payer_accounts.manage")
@tenant_route("dealer")
@_dealer_before_body
@blp.arguments(PayerAccountDeactivateSchema)
@blp.response(200, PayerAccountSchema)
def deactivate_payer_account(body, code):
    """Deactivate one of the dealer's payer accounts: statements no longer match by it."""
    dealer = dealer_or_404(code)
    return services.payer_account_view(services.deactivate_payer_account(current_user, dealer, body["account_number"]))


@blp.route("/bank-statements/import", methods=["POST"])
@accepts_workbooks
@requires("bank_statements.import")
@blp.arguments(StatementImportSchema, location="files")
@blp.response(202, ImportQueuedSchema)
def import_statement(files):
    """Upload a bank statement as the bank exported it (CSV in UTF-8 or GB18030/GBK, or XLSX; title lines above the
    header allowed) with the bank's layout code, or none to detect it. A job: its result lists the `matched`,
    `unmatched` and `skipped` lines (and the `broken` ones: with any, nothing is posted)."""
    bank = (request.form.get("bank") or "").strip() or None
    if bank and bank not in layouts.available():
        raise Invalid(fields={"bank": [layouts.unknown_bank_message(bank)]})
    record = start_import("bank_statement_import", files["file"], started_by=current_user)
    record.params = {**record.params, "bank": bank}
    return {"job_id": record.id}


@blp.route("/unmatched-receipts", methods=["GET"])
@requires("receipts.manage")
@blp.arguments(UnmatchedReceiptQuerySchema, location="query")
@blp.response(200, page_of(UnmatchedReceiptSchema))
def list_receipts(args):
    """Credit lines of bank statements no dealer was matched to, oldest first (`status`: open by default, or all)."""
    stmt = current_scope().select(UnmatchedReceipt)
    if args["status"] != "all":
        stmt = stmt.where(UnmatchedReceipt.status == args["status"])
    page = paginate(stmt.order_by(UnmatchedReceipt.received_on, UnmatchedReceipt.id), args["page"], args["per_page"])
    return {**page, "items": [services.receipt_view(r) for r in page["items"]]}


@blp.route("/unmatched-receipts/<int:receipt_id>/assign", methods=["POST"])
@requires("receipts.manage")
@not_tenant_route(RECEIPTS_ARE_HQS)
@blp.arguments(UnmatchedReceiptAssignSchema)
@blp.response(200, UnmatchedReceiptAssignedSchema)
def assign_receipt(body, receipt_id):
    """Post the receipt as the dealer's payment (reference = the bank's serial), applied to its oldest open invoices;
    `register_account` also registers the receipt's payer account for the dealer."""
    receipt = current_scope().get_or_404(UnmatchedReceipt, id=receipt_id)
    dealer = db.session.execute(select(Dealer).where(Dealer.code == body["dealer_code"])).unique().scalar_one_or_none()
    if dealer is None:
        raise Invalid(fields={"dealer_code": [_("Unknown dealer %(code)s.", code=body["dealer_code"])]})
    payment = services.assign_receipt(current_user, receipt, dealer, register_account=body["register_account"])
    return {"receipt": services.receipt_view(receipt), "payment_reference": payment.number}


@blp.route("/unmatched-receipts/<int:receipt_id>/dismiss", methods=["POST"])
@requires("receipts.manage")
@not_tenant_route(RECEIPTS_ARE_HQS)
@blp.arguments(UnmatchedReceiptDismissSchema)
@blp.response(200, UnmatchedReceiptSchema)
def dismiss_receipt(body, receipt_id):
    """Dismiss the receipt (not a customer's money), with the reason."""
    receipt = current_scope().get_or_404(UnmatchedReceipt, id=receipt_id)
    return services.receipt_view(services.dismiss_receipt(current_user, receipt, body["reason"]))

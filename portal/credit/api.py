"""JSON API for the ledger, payments, credit and ageing (PRODUCT.md §9.1).

§16: a sub-dealer's account is with its distributor. Its credit limit, holds, temporary increases, payments, manual
invoices, credit notes and applications are done by its distributor's admin (`sales.manage`), never by HQ's finance;
a dealer that buys from HQ keeps HQ's roles (`channel.check_seller_side`, asked where a person acts: the same
services post for shipments, returns, rebates and the daily scan on the system's behalf). `?seller=<distributor>`
reads a distributor's receivables — its sub-dealers' ledgers with it — where HQ's are read otherwise.
"""

from __future__ import annotations

import functools

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields
from sqlalchemy import select

from portal.background.services import start_import, start_job
from portal.collections.services import dunning_level
from portal.credit import overdue, reports, services
from portal.credit.models import Application, CreditIncrease, LedgerEntry
from portal.credit.schemas import (
    AgeingQuerySchema,
    AgeingSchema,
    ApplicationSchema,
    ApplyCreditSchema,
    CreditIncreaseCreateSchema,
    CreditIncreaseSchema,
    CreditLimitSchema,
    CreditNoteCreateSchema,
    CreditQuerySchema,
    CreditRowsSchema,
    CreditSchema,
    EntrySchema,
    HoldSchema,
    ImportQueuedSchema,
    InvoiceCreateSchema,
    LedgerQuerySchema,
    LedgerSchema,
    OpenInvoicesPageSchema,
    OpenInvoicesQuerySchema,
    PaymentCreateSchema,
    ReceivablesCreditQuerySchema,
    ReverseSchema,
    ScanQuerySchema,
)
from portal.dealers import channel
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform.api import api_blueprint
from portal.platform.auth import requires
from portal.platform.errors import Invalid, NotFound
from portal.platform.security import accepts_workbooks
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.timeutil import today

blp = api_blueprint("api_credit", __name__, "Receivables and credit")


def _dealer_for_posting(code: str) -> Dealer:
    """Postings name the dealer in the body: unknown (or out of scope) is a field error."""
    dealer = current_scope().first(Dealer, code=code)
    if dealer is None:
        raise Invalid(fields={"dealer_code": [_("Unknown dealer %(code)s.", code=code)]})
    return dealer


def _dealer_before_body(view):
    """Resolve the URL's dealer (404 out of scope) before the body is validated: an outsider allowed the route (a
    distributor's admin, `sales.manage`) learns nothing from a 422 about a dealer it may not see."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if request.is_json:
            request.get_json()  # a body that is not JSON is refused first (400 malformed_json), as everywhere
        dealer_or_404(kwargs["code"])
        return view(*args, **kwargs)

    return wrapped


def _entry_before_body(model, key: str):
    """Like `_dealer_before_body`, for a ledger entry or an application named by the URL."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if request.is_json:
                request.get_json()
            current_scope().get_or_404(model, id=kwargs[key])
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _seller(args) -> Dealer | None:
    """The distributor `?seller=` names, in the caller's scope (422 otherwise)."""
    return channel.seller_in_scope(current_scope(), args.get("seller"))


def _with_seller(dealer: Dealer, args) -> Dealer:
    """The dealer's account, when `?seller=` names whom it is with: 404 unless the dealer buys from that seller."""
    seller = _seller(args)
    if seller is not None and dealer.parent_id != seller.id:
        raise NotFound(_("%(dealer)s has no account with %(seller)s.", dealer=dealer.code, seller=seller.code))
    return dealer


def _region(scope, code: str | None) -> Region | None:
    if not code:
        return None
    region = scope.first(Region, code=code)
    if region is None:
        raise Invalid(fields={"region": [_("Unknown region %(code)s.", code=code)]})
    return region


def _source() -> str:
    """Where a posting came from: the ERP (integration token) or a person through the API."""
    return "erp" if getattr(current_user, "is_integration", False) else "api"


@blp.route("/invoices", methods=["POST"])
@requires("invoices.write", "sales.manage")
@blp.arguments(InvoiceCreateSchema)
@blp.response(201, EntrySchema)
def create_invoice(body):
    """Post an invoice raised in the ERP (finance, or an `erp` token) — for a sub-dealer, by its distributor's admin
    (its shipments post their invoices themselves)."""
    dealer = _dealer_for_posting(body.pop("dealer_code"))
    channel.check_seller_side(current_user, dealer, "invoices.write")
    return services.entry_view(services.post_invoice(current_user, dealer, source=_source(), **body))


@blp.route("/payments", methods=["POST"])
@requires("payments.write", "sales.manage")
@blp.arguments(PaymentCreateSchema)
@blp.response(201, EntrySchema)
def create_payment(body):
    """Record a payment; it is applied to the oldest open invoices, the rest stays unapplied cash. A sub-dealer's
    payment to its distributor is recorded by the distributor's admin, on the sub-dealer's ledger with it."""
    dealer = _dealer_for_posting(body.pop("dealer_code"))
    channel.check_seller_side(current_user, dealer, "payments.write")
    return services.entry_view(services.post_payment(current_user, dealer, source=_source(), **body))


@blp.route("/credit-notes", methods=["POST"])
@requires("credit_notes.write", "sales.manage")
@blp.arguments(CreditNoteCreateSchema)
@blp.response(201, EntrySchema)
def create_credit_note(body):
    dealer = _dealer_for_posting(body.pop("dealer_code"))
    channel.check_seller_side(current_user, dealer, "credit_notes.write")
    return services.entry_view(services.post_credit_note(current_user, dealer, source="api", **body))


class ImportFileSchema(Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


@blp.route("/payments/import", methods=["POST"])
@accepts_workbooks
@requires("payments.write")
@blp.arguments(ImportFileSchema, location="files")
@blp.response(202, ImportQueuedSchema)
def import_payments(files):
    """Upload a bank file, CSV (UTF-8 or GB18030) or XLSX: dealer_code, amount, received_on, reference, headers in
    English or Chinese (docs/IMPORTS.md); applied whole or not at all, by a job."""
    return {"job_id": start_import("payment_import", files["file"], started_by=current_user).id}


@blp.route("/entries/<int:entry_id>", methods=["GET"])
@requires("ledger.read")
@tenant_route("ledger_entry")
@blp.response(200, EntrySchema)
def get_entry(entry_id):
    """One invoice, payment or credit note with its applications."""
    return services.entry_view(current_scope().get_or_404(LedgerEntry, id=entry_id))


@blp.route("/entries/<int:entry_id>/applications", methods=["POST"])
@requires("applications.manage", "sales.manage")
@tenant_route("ledger_entry")
@_entry_before_body(LedgerEntry, "entry_id")
@blp.arguments(ApplyCreditSchema)
@blp.response(201, ApplicationSchema)
def apply_entry(body, entry_id):
    """Apply part of a payment's (or credit note's) unapplied amount to a chosen invoice."""
    credit = current_scope().get_or_404(LedgerEntry, id=entry_id)
    channel.check_seller_side(current_user, credit.dealer, "applications.manage")
    invoice = current_scope().first(
        LedgerEntry, dealer_id=credit.dealer_id, type="invoice", number=body["invoice_number"]
    )
    if invoice is None:
        raise Invalid(fields={"invoice_number": [_("No such invoice for this dealer.")]})
    return services.apply_credit(current_user, credit, invoice, body["amount"], body.get("applied_on"))


@blp.route("/applications/<int:application_id>/reverse", methods=["POST"])
@requires("applications.manage", "sales.manage")
@tenant_route("application")
@_entry_before_body(Application, "application_id")
@blp.arguments(ReverseSchema)
@blp.response(201, ApplicationSchema)
def reverse_application(body, application_id):
    """Reverse an application (a new negative one); the credit's amount becomes unapplied again."""
    app = current_scope().get_or_404(Application, id=application_id)
    channel.check_seller_side(current_user, app.credit.dealer, "applications.manage")
    return services.reverse_application(current_user, app, body.get("applied_on"))


@blp.route("/dealers/<code>/ledger", methods=["GET"])
@requires("ledger.read")
@tenant_route("dealer")
@blp.arguments(LedgerQuerySchema, location="query")
@blp.response(200, LedgerSchema)
def dealer_ledger(args, code):
    """Opening balance, entries in date order with the running balance, closing balance: the dealer's account with
    whom it buys from (HQ; a sub-dealer's distributor).

    The entries are paged like every list (`page`, `per_page`, `total`); opening and closing are the period's on
    every page. A page past the end has no entries."""
    dealer = _with_seller(dealer_or_404(code), args)
    types = (args["type"],) if args.get("type") else None
    page, per_page = args["page"], args["per_page"]
    data = reports.ledger(dealer.id, args.get("date_from"), args.get("date_to"), types, page=page, per_page=per_page)
    return {**data, "page": page, "per_page": per_page}  # the page's entries only read (reports.ledger)


@blp.route("/dealers/<code>/credit", methods=["GET"])
@requires("credit.read")
@tenant_route("dealer")
@blp.arguments(CreditQuerySchema, location="query")
@blp.response(200, CreditSchema)
def dealer_credit(args, code):
    """The dealer's credit with whom it buys from (HQ; a sub-dealer's distributor)."""
    dealer = _with_seller(dealer_or_404(code), args)
    return {**services.credit_summary(dealer, args.get("date")), "dunning_level": dunning_level(dealer)}


@blp.route("/dealers/<code>/credit-limit", methods=["PUT"])
@requires("credit.manage", "sales.manage")
@tenant_route("dealer")
@_dealer_before_body
@blp.arguments(CreditLimitSchema)
@blp.response(200, CreditSchema)
def put_credit_limit(body, code):
    """Change the permanent credit limit (logged with old, new, who and why): finance for a dealer that buys from
    HQ, the distributor's admin for its sub-dealers."""
    dealer = dealer_or_404(code)
    channel.check_seller_side(current_user, dealer, "credit.manage")
    services.set_credit_limit(current_user, dealer, body["amount"], body["reason"])
    return services.credit_summary(dealer)


@blp.route("/dealers/<code>/credit-increases", methods=["POST"])
@requires("credit.manage", "sales.manage")
@tenant_route("dealer")
@_dealer_before_body
@blp.arguments(CreditIncreaseCreateSchema)
@blp.response(201, CreditIncreaseSchema)
def post_credit_increase(body, code):
    dealer = dealer_or_404(code)
    channel.check_seller_side(current_user, dealer, "credit.manage")
    return services.add_credit_increase(current_user, dealer, **body)


@blp.route("/dealers/<code>/credit-increases", methods=["GET"])
@requires("credit.read")
@tenant_route("dealer")
@blp.response(200, CreditIncreaseSchema(many=True))
def list_credit_increases(code):
    dealer = dealer_or_404(code)
    return (
        db.session.execute(
            select(CreditIncrease)
            .where(CreditIncrease.dealer_id == dealer.id)
            .order_by(CreditIncrease.valid_from.desc())
        )
        .scalars()
        .all()
    )


@blp.route("/dealers/<code>/credit-hold", methods=["PUT"])
@requires("credit.manage", "sales.manage")
@tenant_route("dealer")
@_dealer_before_body
@blp.arguments(HoldSchema)
@blp.response(200, CreditSchema)
def put_hold(body, code):
    """Put the dealer on credit hold (orders are refused until lifted)."""
    dealer = dealer_or_404(code)
    channel.check_seller_side(current_user, dealer, "credit.manage")
    services.set_hold(current_user, dealer, body["reason"])
    return services.credit_summary(dealer)


@blp.route("/dealers/<code>/credit-hold", methods=["DELETE"])
@requires("credit.manage", "sales.manage")
@tenant_route("dealer")
@_dealer_before_body
@blp.arguments(HoldSchema)
@blp.response(200, CreditSchema)
def delete_hold(body, code):
    dealer = dealer_or_404(code)
    channel.check_seller_side(current_user, dealer, "credit.manage")
    services.lift_hold(current_user, dealer, body["reason"])
    return services.credit_summary(dealer)


@blp.route("/receivables/ageing", methods=["GET"])
@requires("receivables.read")
@blp.arguments(AgeingQuerySchema, location="query")
@blp.response(200, AgeingSchema)
def receivables_ageing(args):
    """Ageing as of a date, by dealer, region (each child region's subtree) or in total, in the caller's scope: the
    receivables of HQ (the dealers it sells to), or with `seller` a distributor's (its sub-dealers' ledgers); a
    dealer user's own account unless it names itself as `seller`."""
    scope = current_scope()
    as_of = args.get("as_of") or today()
    region = _region(scope, args.get("region"))
    seller = _seller(args)
    result = reports.ageing(scope, as_of, args["group_by"], region, seller)
    result["dso"] = reports.dso(reports.scoped_clause(scope, region, seller), as_of)
    return result


@blp.route("/receivables/credit", methods=["GET"])
@requires("credit.read")
@blp.arguments(ReceivablesCreditQuerySchema, location="query")
@blp.response(200, CreditRowsSchema)
def receivables_credit(args):
    """Credit used per dealer (limit, temporary increases in force, exposure, available), most used first: the
    dealers HQ sells to, or with `seller` a distributor's sub-dealers (its credit with each)."""
    scope = current_scope()
    seller = _seller(args)
    region = _region(scope, args.get("region"))
    rows = reports.credit_utilisation(scope, region, args.get("date") or today(), seller)
    return {"seller_code": seller.code if seller else None, "items": rows}


@blp.route("/receivables/open-invoices", methods=["GET"])
@requires("ledger.read")
@blp.arguments(OpenInvoicesQuerySchema, location="query")
@blp.response(200, OpenInvoicesPageSchema)
def receivables_open_invoices(args):
    """The invoices with something open (oldest due first) with what is paid and open: HQ's, or with `seller` a
    distributor's (its sub-dealers'); `dealer` narrows to one of them."""
    scope = current_scope()
    seller = _seller(args)
    clause = reports.scoped_clause(scope, None, seller)
    if args.get("dealer"):
        dealer = scope.first(Dealer, code=args["dealer"])
        if dealer is None:
            raise Invalid(fields={"dealer": [_("Unknown dealer %(code)s.", code=args["dealer"])]})
        whose = clause
        clause = lambda col: whose(col) & (col == dealer.id)  # noqa: E731
    page = reports.open_invoices_page(clause, today(), args["page"], args["per_page"])
    return {"seller_code": seller.code if seller else None, **page}


@blp.route("/credit/overdue-scan", methods=["POST"])
@requires("credit.manage")
@blp.arguments(ScanQuerySchema, location="query")
@blp.response(202, ImportQueuedSchema)
def start_overdue_scan(args):
    """Start the daily overdue scan now (it also runs every day on its own). `date` may be today or, for a dry run
    that changes and sends nothing, a past day; a future day is refused (422). `dry_run=true` previews today."""
    on = args.get("date") or today()
    dry_run = overdue.scan_mode(on) or args.get("dry_run", False)
    record = start_job(
        "overdue_scan",
        "portal.jobs.overdue.run_overdue_scan",
        started_by=current_user,
        params={"date": on.isoformat(), "dry_run": dry_run},
        args=(on.isoformat(), dry_run),
    )
    return {"job_id": record.id}

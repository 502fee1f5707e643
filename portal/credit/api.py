"""JSON API for the ledger, payments, credit and ageing (PRODUCT.md §9.1)."""

from __future__ import annotations

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
    CreditSchema,
    EntrySchema,
    HoldSchema,
    ImportQueuedSchema,
    InvoiceCreateSchema,
    LedgerQuerySchema,
    LedgerSchema,
    PaymentCreateSchema,
    ReverseSchema,
    ScanQuerySchema,
)
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform.api import api_blueprint
from portal.platform.auth import requires
from portal.platform.errors import Invalid
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


def _source() -> str:
    """Where a posting came from: the ERP (integration token) or a person through the API."""
    return "erp" if getattr(current_user, "is_integration", False) else "api"


@blp.route("/invoices", methods=["POST"])
@requires("invoices.write")
@blp.arguments(InvoiceCreateSchema)
@blp.response(201, EntrySchema)
def create_invoice(body):
    """Post an invoice raised in the ERP (finance, or an `erp` token)."""
    dealer = _dealer_for_posting(body.pop("dealer_code"))
    return services.entry_view(services.post_invoice(current_user, dealer, source=_source(), **body))


@blp.route("/payments", methods=["POST"])
@requires("payments.write")
@blp.arguments(PaymentCreateSchema)
@blp.response(201, EntrySchema)
def create_payment(body):
    """Record a payment; it is applied to the oldest open invoices, the rest stays unapplied cash."""
    dealer = _dealer_for_posting(body.pop("dealer_code"))
    return services.entry_view(services.post_payment(current_user, dealer, source=_source(), **body))


@blp.route("/credit-notes", methods=["POST"])
@requires("credit_notes.write")
@blp.arguments(CreditNoteCreateSchema)
@blp.response(201, EntrySchema)
def create_credit_note(body):
    dealer = _dealer_for_posting(body.pop("dealer_code"))
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
@requires("applications.manage")
@tenant_route("ledger_entry")
@blp.arguments(ApplyCreditSchema)
@blp.response(201, ApplicationSchema)
def apply_entry(body, entry_id):
    """Apply part of a payment's (or credit note's) unapplied amount to a chosen invoice."""
    credit = current_scope().get_or_404(LedgerEntry, id=entry_id)
    invoice = current_scope().first(
        LedgerEntry, dealer_id=credit.dealer_id, type="invoice", number=body["invoice_number"]
    )
    if invoice is None:
        raise Invalid(fields={"invoice_number": [_("No such invoice for this dealer.")]})
    return services.apply_credit(current_user, credit, invoice, body["amount"], body.get("applied_on"))


@blp.route("/applications/<int:application_id>/reverse", methods=["POST"])
@requires("applications.manage")
@tenant_route("application")
@blp.arguments(ReverseSchema)
@blp.response(201, ApplicationSchema)
def reverse_application(body, application_id):
    """Reverse an application (a new negative one); the credit's amount becomes unapplied again."""
    app = current_scope().get_or_404(Application, id=application_id)
    return services.reverse_application(current_user, app, body.get("applied_on"))


@blp.route("/dealers/<code>/ledger", methods=["GET"])
@requires("ledger.read")
@tenant_route("dealer")
@blp.arguments(LedgerQuerySchema, location="query")
@blp.response(200, LedgerSchema)
def dealer_ledger(args, code):
    """Opening balance, entries in date order with the running balance, closing balance."""
    dealer = dealer_or_404(code)
    types = (args["type"],) if args.get("type") else None
    return reports.ledger(dealer.id, args.get("date_from"), args.get("date_to"), types)


@blp.route("/dealers/<code>/credit", methods=["GET"])
@requires("credit.read")
@tenant_route("dealer")
@blp.arguments(CreditQuerySchema, location="query")
@blp.response(200, CreditSchema)
def dealer_credit(args, code):
    dealer = dealer_or_404(code)
    return {**services.credit_summary(dealer, args.get("date")), "dunning_level": dunning_level(dealer)}


@blp.route("/dealers/<code>/credit-limit", methods=["PUT"])
@requires("credit.manage")
@tenant_route("dealer")
@blp.arguments(CreditLimitSchema)
@blp.response(200, CreditSchema)
def put_credit_limit(body, code):
    """Change the permanent credit limit (logged with old, new, who and why)."""
    dealer = dealer_or_404(code)
    services.set_credit_limit(current_user, dealer, body["amount"], body["reason"])
    return services.credit_summary(dealer)


@blp.route("/dealers/<code>/credit-increases", methods=["POST"])
@requires("credit.manage")
@tenant_route("dealer")
@blp.arguments(CreditIncreaseCreateSchema)
@blp.response(201, CreditIncreaseSchema)
def post_credit_increase(body, code):
    dealer = dealer_or_404(code)
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
@requires("credit.manage")
@tenant_route("dealer")
@blp.arguments(HoldSchema)
@blp.response(200, CreditSchema)
def put_hold(body, code):
    """Put the dealer on credit hold (orders are refused until lifted)."""
    dealer = dealer_or_404(code)
    services.set_hold(current_user, dealer, body["reason"])
    return services.credit_summary(dealer)


@blp.route("/dealers/<code>/credit-hold", methods=["DELETE"])
@requires("credit.manage")
@tenant_route("dealer")
@blp.arguments(HoldSchema)
@blp.response(200, CreditSchema)
def delete_hold(body, code):
    dealer = dealer_or_404(code)
    services.lift_hold(current_user, dealer, body["reason"])
    return services.credit_summary(dealer)


@blp.route("/receivables/ageing", methods=["GET"])
@requires("receivables.read")
@blp.arguments(AgeingQuerySchema, location="query")
@blp.response(200, AgeingSchema)
def receivables_ageing(args):
    """Ageing as of a date, by dealer, region (each child region's subtree) or in total, in the caller's scope."""
    scope = current_scope()
    as_of = args.get("as_of") or today()
    region = None
    if args.get("region"):
        region = scope.first(Region, code=args["region"])
        if region is None:
            raise Invalid(fields={"region": [_("Unknown region %(code)s.", code=args["region"])]})
    result = reports.ageing(scope, as_of, args["group_by"], region)
    result["dso"] = reports.dso(reports.scoped_clause(scope, region), as_of)
    return result


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

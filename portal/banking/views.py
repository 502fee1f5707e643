"""Pages of payer accounts, the bank statement import and the unmatched receipts (PRODUCT.md §14)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.background.services import start_import
from portal.banking import layouts, services
from portal.banking.forms import AssignForm, DismissForm, PayerAccountForm, StatementForm
from portal.banking.models import UnmatchedReceipt
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.auth import can, requires
from portal.platform.errors import DomainError, Forbidden, Invalid
from portal.platform.security import accepts_workbooks
from portal.platform.tenancy import current_scope, dealer_or_404, not_tenant_route, tenant_route
from portal.platform.web import apply_errors, list_page, render_form

bp = Blueprint("banking", __name__)

RECEIPTS_ARE_HQS = "unmatched receipts belong to no dealer until assigned: finance's alone (receipts.manage)"
RECEIPT_FILTERS = ("open", "assigned", "dismissed", "all")


@bp.route("/dealers/<code>/payer-accounts", methods=["GET", "POST"])
@requires("payer_accounts.read")
@tenant_route("dealer")
def payer_accounts(code):
    """The dealer's payer accounts; finance and the dealer's admin register and deactivate them."""
    dealer = dealer_or_404(code)
    form = PayerAccountForm()
    if request.method == "POST":
        if not can("payer_accounts.manage"):
            raise Forbidden()
        if request.form.get("action") == "deactivate":
            form = PayerAccountForm(formdata=None)
            try:
                services.deactivate_payer_account(current_user, dealer, request.form.get("account_number", ""))
            except DomainError as exc:
                flash(exc.message if not exc.fields else " ".join(sum(exc.fields.values(), [])), "danger")
                return redirect(url_for("banking.payer_accounts", code=dealer.code)), 303
            flash(_("Payer account deactivated."), "success")
            return redirect(url_for("banking.payer_accounts", code=dealer.code))
        if form.validate_on_submit():
            try:
                services.register_payer_account(current_user, dealer, form.account_number.data, form.account_name.data)
            except Invalid as exc:
                apply_errors(form, exc)
            except DomainError as exc:
                form.form_errors.append(exc.message)
            else:
                flash(_("Payer account registered."), "success")
                return redirect(url_for("banking.payer_accounts", code=dealer.code))
    accounts = services.payer_accounts(dealer)
    return render_form("banking/payer_accounts.html", form, form=form, dealer=dealer, accounts=accounts)


@bp.route("/bank-statements/import", methods=["GET", "POST"])
@accepts_workbooks
@requires("bank_statements.import")
def statement_import():
    """Upload a bank statement as the bank exported it; the job's page shows its progress and outcome per line."""
    form = StatementForm()
    known = layouts.available()
    form.bank.choices = [("", _("Detect from the headers"))] + [(c, layout.name) for c, layout in known.items()]
    if form.validate_on_submit():
        try:
            record = start_import("bank_statement_import", form.file.data, started_by=current_user)
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            record.params = {**record.params, "bank": form.bank.data or None}
            return redirect(url_for("jobs.detail", job_id=record.id))
    return render_form("banking/statement_import.html", form, form=form, layouts=list(known.values()))


@bp.route("/unmatched-receipts")
@requires("receipts.manage")
def receipts():
    """Receipts no dealer was matched to: finance assigns (posted as the dealer's payment) or dismisses them."""
    status = request.args.get("status", "open")
    status = status if status in RECEIPT_FILTERS else "open"
    stmt = current_scope().select(UnmatchedReceipt)
    if status != "all":
        stmt = stmt.where(UnmatchedReceipt.status == status)
    result = list_page(stmt.order_by(UnmatchedReceipt.received_on, UnmatchedReceipt.id), 50)
    codes = dict(db.session.execute(select(Dealer.id, Dealer.code)).all()) if result["items"] else {}
    return render_template(
        "banking/receipts.html",
        result=result,
        status=status,
        filters=RECEIPT_FILTERS,
        codes=codes,
        status_label=services.receipt_status_label,
    )


def _receipt_action(receipt_id: int, form_class, act):
    receipt = current_scope().get_or_404(UnmatchedReceipt, id=receipt_id)
    form = form_class()
    back = redirect(url_for("banking.receipts"))
    if not form.validate_on_submit():
        flash(" ".join(sum(form.errors.values(), [])) or _("Check the form."), "danger")
        return back, 303
    try:
        message = act(receipt, form)
    except DomainError as exc:
        detail = " ".join(sum((exc.fields or {}).values(), [])) or exc.message
        flash(_("Receipt %(serial)s: %(why)s", serial=receipt.serial, why=detail), "danger")
        return back, 303
    flash(message, "success")
    return back


@bp.route("/unmatched-receipts/<int:receipt_id>/assign", methods=["POST"])
@requires("receipts.manage")
@not_tenant_route(RECEIPTS_ARE_HQS)
def receipt_assign(receipt_id):
    def act(receipt, form):
        code = form.dealer_code.data.strip()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == code)).unique().scalar_one_or_none()
        if dealer is None:
            raise Invalid(fields={"dealer_code": [_("Unknown dealer %(code)s.", code=code)]})
        services.assign_receipt(current_user, receipt, dealer, register_account=form.register_account.data)
        return _("Receipt %(serial)s posted as a payment of %(dealer)s.", serial=receipt.serial, dealer=dealer.code)

    return _receipt_action(receipt_id, AssignForm, act)


@bp.route("/unmatched-receipts/<int:receipt_id>/dismiss", methods=["POST"])
@requires("receipts.manage")
@not_tenant_route(RECEIPTS_ARE_HQS)
def receipt_dismiss(receipt_id):
    def act(receipt, form):
        services.dismiss_receipt(current_user, receipt, form.reason.data)
        return _("Receipt %(serial)s dismissed.", serial=receipt.serial)

    return _receipt_action(receipt_id, DismissForm, act)

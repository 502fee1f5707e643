"""Browser pages of collections (PRODUCT.md §14): the worklist and a dealer's collections page (its overdue
invoices' level, contact notes and promises to pay, with forms to add both)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.collections import services
from portal.collections.forms import ContactForm, PromiseForm
from portal.credit import services as credit
from portal.platform.auth import can, requires
from portal.platform.errors import Forbidden, Invalid
from portal.platform.money import parse_money
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.web import apply_errors, render_form

bp = Blueprint("collections", __name__)
bp.add_app_template_global(services.level_label, "dunning_label")


@bp.app_template_global("dunning_level_of")
def dunning_level_of(code: str) -> int:
    """The dealer's current dunning level (0 none), for the dealer overview and credit pages (already scoped)."""
    return services.dunning_level(dealer_or_404(code))


@bp.route("/collections")
@requires("collections.read")
def worklist():
    mine = request.args.get("mine") == "1"
    rows = services.worklist(current_scope(), current_user, mine=mine)
    return render_template("collections/worklist.html", rows=rows, mine=mine)


@bp.route("/collections/<code>", methods=["GET", "POST"])
@requires("collections.read")
@tenant_route("dealer")
def dealer(code):
    dealer = dealer_or_404(code)
    contact, promise = ContactForm(prefix="contact"), PromiseForm(prefix="promise")
    action = request.form.get("action")
    if request.method == "POST":
        if not can("collections.manage"):
            raise Forbidden()
        form = contact if action == "contact" else promise
        if form.validate_on_submit():
            try:
                if action == "contact":
                    services.add_contact(current_user, dealer, form.channel.data, form.note.data)
                    flash(_("Contact recorded."), "success")
                else:
                    try:
                        amount = parse_money(form.amount.data, allow_zero=False)
                    except ValueError as exc:
                        raise Invalid(fields={"amount": [str(exc)]}) from exc
                    services.add_promise(current_user, dealer, amount, form.promised_on.data, form.note.data)
                    flash(_("Promise to pay recorded."), "success")
            except Invalid as exc:
                apply_errors(form, exc)
            else:
                return redirect(url_for("collections.dealer", code=dealer.code))
    row = next((r for r in services.worklist(current_scope(), current_user) if r["dealer_code"] == dealer.code), None)
    return render_form(
        "collections/dealer.html",
        contact,
        promise,
        dealer=dealer,
        row=row,
        summary=credit.credit_summary(dealer),
        level=services.dunning_level(dealer),
        promises=services.promises_of(dealer),
        contacts=services.contacts_of(dealer),
        contact_form=contact,
        promise_form=promise,
        may_manage=can("collections.manage") and dealer.parent_id is None,  # §16: HQ collects from its own dealers
    )

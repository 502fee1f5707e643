"""Pages for temporary credit increase requests (PRODUCT.md §14): the dealer administrator asks, the region manager
(within its region's approval limit) or finance decides."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.credit import requests
from portal.credit.forms import MoneyField
from portal.credit.models import CreditRequest
from portal.dealers import channel
from portal.dealers.models import Dealer
from portal.platform.auth import can, requires
from portal.platform.errors import DomainError, Invalid
from portal.platform.money import parse_money
from portal.platform.tenancy import current_scope, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import apply_errors, list_page, render_form

bp = Blueprint("credit_requests", __name__)

STATUS_LABELS = {
    "pending": _l("Pending"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
}
STAGE_LABELS = {"region": _l("Region manager"), "finance": _l("Finance")}


class RequestForm(FlaskForm):
    amount = MoneyField(_l("Temporary increase (CNY)"), validators=[DataRequired(), Length(max=20)])
    valid_until = DateField(_l("Valid until"), validators=[DataRequired()],
                            description=_l("From today to at most 90 days ahead."))  # fmt: skip
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])


class DecisionForm(FlaskForm):
    comment = StringField(_l("Comment"), validators=[Optional(), Length(max=1000)],
                          description=_l("Required to reject."))  # fmt: skip


def _refused() -> str | None:
    """Why the caller's dealer asks nobody here (§16: a sub-dealer's credit is its distributor's), else None."""
    return channel.own_refusal(requests.refuse_sub_dealer)


@bp.route("/credit-requests", methods=["GET", "POST"])
@requires("credit_requests.read")
def index():
    scope = current_scope()
    refused = _refused()
    form = RequestForm(prefix="req") if can("credit_requests.create") and refused is None else None
    if form is not None and request.method == "POST" and form.validate_on_submit():
        try:
            dealer = scope.get_or_404(Dealer, id=current_user.dealer_id)
            try:
                amount = parse_money(form.amount.data, allow_zero=False)
            except ValueError as exc:
                raise Invalid(fields={"amount": [str(exc)]}) from exc
            requests.create_request(current_user, dealer, amount=amount, valid_until=form.valid_until.data,
                                    reason=form.reason.data)  # fmt: skip
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Request sent."), "success")
            return redirect(url_for("credit_requests.index"))
    page = list_page(requests.requests_query(scope), 50)  # newest first, 50 a page
    forms = [form] if form is not None else []
    return render_form(
        "credit/requests.html",
        *forms,
        form=form,
        refused=refused,
        items=page["items"],
        page=page,
        decision=DecisionForm(prefix="dec"),
        may_decide=lambda r: can("credit_requests.decide") and requests.may_decide(current_user, r),
        may_withdraw=lambda r: can("credit_requests.create") and requests.may_withdraw(current_user, r),
        STATUS_LABELS=STATUS_LABELS,
        STAGE_LABELS=STAGE_LABELS,
        max_days=requests.MAX_DAYS_AHEAD,
        today=today(),
    )


@bp.route("/credit-requests/<int:request_id>/decide", methods=["POST"])
@requires("credit_requests.decide")
@tenant_route("credit_request")
def decide(request_id):
    req = current_scope().get_or_404(CreditRequest, id=request_id)
    form = DecisionForm(prefix="dec")
    action = request.form.get("action")
    if form.validate_on_submit():
        try:
            if action == "approve":
                requests.approve(current_user, req, form.comment.data)
                flash(_("Approved: the temporary increase is in force."), "success")
            elif action == "reject":
                requests.reject(current_user, req, form.comment.data or "")
                flash(_("Rejected."), "warning")
            elif action == "forward":
                requests.forward(current_user, req, form.comment.data)
                flash(_("Passed on to finance."), "success")
        except DomainError as exc:
            flash(exc.fields.get("comment", [exc.message])[0], "danger")
    return redirect(url_for("credit_requests.index"))


@bp.route("/credit-requests/<int:request_id>/withdraw", methods=["POST"])
@requires("credit_requests.create")
@tenant_route("credit_request")
def withdraw(request_id):
    req = current_scope().get_or_404(CreditRequest, id=request_id)
    if FlaskForm().validate_on_submit():
        try:
            requests.withdraw(current_user, req)
            flash(_("Request withdrawn."), "success")
        except DomainError as exc:
            flash(exc.message, "danger")
    return redirect(url_for("credit_requests.index"))

"""Pages for payment notices (回款通知, PRODUCT.md §14) and a dealer's open invoices."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.credit import notices
from portal.credit.forms import MoneyField
from portal.credit.models import LedgerEntry, PaymentNotice
from portal.dealers import channel
from portal.dealers.models import Dealer
from portal.platform.auth import can, requires
from portal.platform.errors import DomainError, Forbidden, Invalid, NotFound
from portal.platform.money import parse_money
from portal.platform.security import accepts_vouchers
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import apply_errors, as_choices, list_page, render_form

bp = Blueprint("payment_notices", __name__)

STATUS_LABELS = {"notified": _l("Notified"), "matched": _l("Matched"), "queried": _l("Queried")}
STATUS_BADGES = {"notified": "text-bg-secondary", "matched": "text-bg-success", "queried": "text-bg-warning"}


class NoticeForm(FlaskForm):
    amount = MoneyField(_l("Amount paid (CNY)"), validators=[DataRequired(), Length(max=20)])
    paid_on = DateField(_l("Paid on"), validators=[DataRequired()])
    reference = StringField(_l("Bank reference"), validators=[DataRequired(), Length(max=64)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])
    file = FileField(_l("Voucher (JPEG, PNG or PDF, at most 5 MB)"))


class MatchForm(FlaskForm):
    payment_id = SelectField(_l("Posted payment"), validators=[DataRequired()])


class QueryForm(FlaskForm):
    query = StringField(_l("Question to the dealer"), validators=[DataRequired(), Length(max=1000)])


def _refused() -> str | None:
    """Why the caller's dealer sends no notice to finance (§16: a sub-dealer pays its distributor), else None."""
    return channel.own_refusal(notices.refuse_sub_dealer)


@bp.route("/payment-notices", methods=["GET", "POST"])
@accepts_vouchers
@requires("payment_notices.read")
def index():
    scope = current_scope()
    refused = _refused()
    form = NoticeForm(prefix="pn") if can("payment_notices.send") and refused is None else None
    if request.method == "GET" and form is not None:
        form.paid_on.data = today()
    if form is not None and request.method == "POST" and form.validate_on_submit():
        try:
            dealer = scope.get_or_404(Dealer, id=current_user.dealer_id)
            try:
                amount = parse_money(form.amount.data, allow_zero=False)
            except ValueError as exc:
                raise Invalid(fields={"amount": [str(exc)]}) from exc
            upload = form.file.data
            voucher = (upload.read(), upload.filename or "") if upload and upload.filename else None
            notice = notices.send_notice(
                current_user,
                dealer,
                amount=amount,
                paid_on=form.paid_on.data,
                reference=form.reference.data,
                note=form.note.data,
                voucher=voucher,
            )
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            if notice.status == "matched":
                flash(_("Notice sent; the payment is already posted and matched."), "success")
            else:
                flash(_("Notice sent; finance will match it to the payment."), "success")
            return redirect(url_for("payment_notices.index"))
    page = list_page(notices.notices_query(scope), 50)  # newest first, 50 a page
    return render_form(
        "credit/notices.html",
        *([form] if form is not None else []),
        form=form,
        refused=refused,
        items=page["items"],
        page=page,
        STATUS_LABELS=STATUS_LABELS,
        STATUS_BADGES=STATUS_BADGES,
    )


@bp.route("/payment-notices/<int:notice_id>", methods=["GET", "POST"])
@requires("payment_notices.read")
@tenant_route("payment_notice")
def detail(notice_id):
    notice = current_scope().get_or_404(PaymentNotice, id=notice_id)
    match_form, query_form = MatchForm(prefix="m"), QueryForm(prefix="q")
    candidates = notices.candidate_payments(notice) if notice.status != "matched" else []
    match_form.payment_id.choices = as_choices(
        (str(p.id), f"{p.number} · {p.entry_date} · {p.amount}") for p in candidates
    )
    if request.method == "POST":
        if not can("payment_notices.manage"):
            raise Forbidden()
        action = request.form.get("action")
        form = match_form if action == "match" else query_form
        if form.validate_on_submit():
            try:
                if action == "match":
                    payment = current_scope().first(LedgerEntry, id=int(match_form.payment_id.data),
                                                    dealer_id=notice.dealer_id, type="payment")  # fmt: skip
                    if payment is None:
                        raise Invalid(fields={"payment_id": [str(notices.NO_PAYMENT)]})
                    notices.match_by_hand(current_user, notice, payment)
                    flash(_("Matched."), "success")
                else:
                    notices.query_notice(current_user, notice, query_form.query.data)
                    flash(_("Question sent to the dealer."), "success")
            except Invalid as exc:
                apply_errors(form, exc)
            except DomainError as exc:
                form.form_errors.append(exc.message)
            else:
                return redirect(url_for("payment_notices.detail", notice_id=notice_id))
    return render_form(
        "credit/notices_detail.html",
        match_form,
        query_form,
        notice=notice,
        candidates=candidates,
        match_form=match_form,
        query_form=query_form,
        STATUS_LABELS=STATUS_LABELS,
        STATUS_BADGES=STATUS_BADGES,
    )


@bp.route("/payment-notices/<int:notice_id>/voucher")
@requires("payment_notices.read")
@tenant_route("payment_notice")
def voucher(notice_id):
    """The voucher, only to whoever may see the notice; always as an attachment under the name it was sent with."""
    notice = current_scope().get_or_404(PaymentNotice, id=notice_id)
    path = notices.voucher_file(notice)
    if path is None or not path.is_file():
        raise NotFound()
    return send_file(path, mimetype=notice.voucher_type, as_attachment=True, download_name=notice.voucher_name)


@bp.route("/dealers/<code>/open-invoices")
@requires("ledger.read")
@tenant_route("dealer")
def open_invoices(code):
    dealer = dealer_or_404(code)
    return render_form("credit/notices_open_invoices.html", dealer=dealer, data=notices.open_invoices(dealer),
                       today=today())  # fmt: skip

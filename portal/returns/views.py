"""Pages for returns (RMA) and delivery discrepancies (PRODUCT.md §13): the dealer administrator asks to return goods
of a received shipment and ships them back, a channel manager approves (a restocking fee for overstock) or rejects,
HQ receives them into a warehouse (one credit note); open delivery discrepancies are resolved by a re-shipment or a
credit note. The same capabilities as the JSON API (portal/returns/api.py), through the same services."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.dealers.models import Dealer
from portal.extensions import db
from portal.inventory.models import Warehouse
from portal.platform.auth import can, requires
from portal.platform.errors import DomainError, Invalid
from portal.platform.money import parse_money
from portal.platform.tenancy import current_scope, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import apply_errors, as_choices, export_response, list_page, render_form
from portal.returns import discrepancies, services
from portal.returns.models import (
    DISCREPANCY_STATUSES,
    RETURN_REASONS,
    RETURN_STATUSES,
    DeliveryDiscrepancy,
    Return,
)
from portal.shipping.models import Shipment

bp = Blueprint("returns", __name__)

RETURN_STATUS_LABELS = {
    "requested": _l("Requested"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "shipped_back": _l("Shipped back"),
    "received": _l("Received"),
}
REASON_LABELS = {
    "damaged": _l("Damaged"),
    "wrong_item": _l("Wrong item"),
    "quality": _l("Quality problem"),
    "overstock": _l("Overstock"),
}
DISCREPANCY_STATUS_LABELS = {
    "open": _l("Awaiting resolution"),
    "reshipped": _l("Re-shipped"),
    "credited": _l("Credited"),
}
KIND_LABELS = {"short": _l("Short"), "damaged": _l("Damaged")}
OUTCOME_LABELS = {"accepted": _l("Accepted"), "scrapped": _l("Scrapped")}
QUEUE = ("requested", "shipped_back")  # what waits for HQ: a decision, a receipt
LABELS = {
    "RETURN_STATUS_LABELS": RETURN_STATUS_LABELS,
    "REASON_LABELS": REASON_LABELS,
    "DISCREPANCY_STATUS_LABELS": DISCREPANCY_STATUS_LABELS,
    "KIND_LABELS": KIND_LABELS,
    "OUTCOME_LABELS": OUTCOME_LABELS,
}


class RequestForm(FlaskForm):
    reason = SelectField(_l("Reason"), validators=[DataRequired()],
                         choices=as_choices([("", "—")] + [(r, REASON_LABELS[r]) for r in RETURN_REASONS]))  # fmt: skip
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)],
                         description=_l("What is wrong with the goods, for HQ."))  # fmt: skip


class ApproveForm(FlaskForm):
    restocking_fee_pct = StringField(_l("Restocking fee, percent"), validators=[Optional(), Length(max=8)],
                                     description=_l("Overstock returns only: from 0 to 100."))  # fmt: skip
    comment = StringField(_l("Comment"), validators=[Optional(), Length(max=1000)])


class RejectForm(FlaskForm):
    comment = StringField(_l("Why it is rejected"), validators=[DataRequired(), Length(max=1000)])


class ShipBackForm(FlaskForm):
    shipped_on = DateField(_l("Shipped back on"), validators=[Optional()], description=_l("Today when left empty."))


class ReceiveForm(FlaskForm):
    warehouse_code = SelectField(_l("Into warehouse"), choices=[], validators=[DataRequired()])
    received_on = DateField(_l("Received at HQ on"), validators=[Optional()], description=_l("Today when left empty."))


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=2000)])


# ---------------------------------------------------------------- the list


def _return_filters() -> dict:
    status = (request.args.get("status") or "").strip()
    dealer = (request.args.get("dealer") or "").strip() or None
    if status not in RETURN_STATUSES and status != "queue":
        status = ""
    if current_scope().is_dealer:
        dealer = None
    return {"status": status or None, "dealer": dealer}


def _returns_stmt(filters: dict):
    status = filters["status"]
    stmt = services.returns_query(current_scope(), status=None if status == "queue" else status,
                                  dealer=filters["dealer"])  # fmt: skip
    if status == "queue":
        stmt = stmt.where(Return.status.in_(QUEUE))
    return stmt


@bp.route("/returns")
@requires("returns.read")
def index():
    filters = _return_filters()
    stmt = _returns_stmt(filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        items = db.session.execute(stmt).unique().scalars().all()
        header = ["number", "created_at", "dealer_code", "dealer_name", "shipment_number", "reason", "status",
                  "quantity", "vins", "value", "restocking_fee_pct", "fee", "credit_amount", "requested_by",
                  "decided_by", "comment", "shipped_back_on", "received_on", "warehouse", "credit_note"]  # fmt: skip
        rows = [
            [
                r.number,
                r.created_at.date(),
                r.dealer.code,
                r.dealer.name,
                r.shipment.number,
                r.reason,
                r.status,
                sum(ln.quantity for ln in r.lines),
                " ".join(ln.serial for ln in r.lines if ln.serial),
                services.total_value(r),
                r.restocking_fee_pct,
                services.total_fee(r),
                services.credit_amount(r),
                r.requested_by,
                r.decided_by,
                r.comment,
                r.shipped_back_on,
                r.received_on,
                r.warehouse.code if r.warehouse else None,
                r.credit_note.number if r.credit_note else None,
            ]
            for r in items
        ]
        return export_response(fmt, f"returns-{today()}", header, rows)
    return render_template(
        "returns/list.html",
        page=list_page(stmt),
        filters=filters,
        is_dealer=current_scope().is_dealer,
        queue_size=None if current_scope().is_dealer else _queue_size(),
        services=services,
        **LABELS,
    )


def _queue_size() -> int:
    stmt = services.returns_query(current_scope()).where(Return.status.in_(QUEUE)).order_by(None)
    return db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()


# ---------------------------------------------------------------- request a return


def _open_shipments(dealer_id: int) -> list[Shipment]:
    """The dealer's received shipments still within the return window, newest first."""
    since = today() - dt.timedelta(days=services.return_days())
    stmt = (
        current_scope()
        .select(Shipment)
        .where(Shipment.dealer_id == dealer_id, Shipment.status == "received", Shipment.received_on >= since)
        .order_by(Shipment.received_on.desc(), Shipment.id.desc())
        .limit(30)
    )
    return db.session.execute(stmt).unique().scalars().all()


def _whole(text: str | None) -> int | None:
    """A quantity typed in a form: blank is 0, a whole number ≥ 0, else None."""
    text = (text or "").strip()
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or len(text) > 7:
        return None
    return int(text)


@bp.route("/returns/new", methods=["GET", "POST"])
@requires("returns.create")
def new():
    scope = current_scope()
    dealer = scope.get_or_404(Dealer, id=current_user.dealer_id)
    number = (request.values.get("shipment") or "").strip()
    if not number:
        return render_template("returns/new.html", shipment=None, shipments=_open_shipments(dealer.id),
                               return_days=services.return_days(), **LABELS)  # fmt: skip
    shipment = scope.get_or_404(Shipment, number=number)
    form = RequestForm()
    rows = services.returnable(shipment) if shipment.status == "received" else []
    ends = services.window_ends(shipment)
    open_ = shipment.status == "received" and ends is not None and today() <= ends
    line_errors: dict[int, list[str]] = {}
    serial_errors: dict[str, list[str]] = {}
    typed: dict[int, str] = {}
    chosen = set(request.form.getlist("serial")) if request.method == "POST" else set()
    if request.method == "POST" and open_:
        valid = form.validate_on_submit()
        lines, where = [], []
        for row in rows:
            line = row["line"]
            if row["serials"] or line.units:
                continue
            raw = request.form.get(f"qty-{line.id}", "")
            typed[line.id] = raw
            quantity = _whole(raw)
            if quantity is None or quantity > services.MAX_QUANTITY:
                line_errors[line.id] = [_("A whole number from 0 to %(n)s.", n=row["returnable"])]
            elif quantity:
                lines.append({"sku": line.sku, "quantity": quantity})
                where.append(("line", line.id))
        offered = [serial for row in rows for serial in row["serials"]]
        for serial in offered + sorted(chosen - set(offered))[:200]:  # a VIN no longer offered: the service says why
            if serial in chosen:
                lines.append({"serial": serial})
                where.append(("serial", serial))
        if valid and not line_errors:
            try:
                ret = services.request_return(current_user, dealer, shipment_number=shipment.number, lines=lines,
                                              reason=form.reason.data, note=form.note.data)  # fmt: skip
            except Invalid as exc:
                for key, messages in list(exc.fields.items()):
                    parts = key.split(".")
                    if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(where):
                        kind, ref = where[int(parts[1])]
                        (line_errors if kind == "line" else serial_errors).setdefault(ref, []).extend(messages)
                        exc.fields.pop(key)
                    elif key == "lines":
                        exc.fields["_"] = exc.fields.pop(key)
                if exc.fields:
                    apply_errors(form, Invalid(exc.message, fields=exc.fields))
            except DomainError as exc:
                form.form_errors.append(exc.message)
            else:
                flash(_("Return %(number)s requested: HQ will decide.", number=ret.number), "success")
                return redirect(url_for("returns.detail", number=ret.number))
            for serial in sorted(set(serial_errors) - set(offered)):  # no checkbox to show it on
                form.form_errors.extend(serial_errors.pop(serial))
    html, status = render_form(
        "returns/new.html",
        form,
        form=form,
        shipment=shipment,
        rows=rows,
        open_=open_,
        window_ends=ends,
        return_days=services.return_days(),
        line_errors=line_errors,
        serial_errors=serial_errors,
        typed=typed,
        chosen=chosen,
        **LABELS,
    )
    if line_errors or serial_errors:
        status = 422
    return html, status


# ---------------------------------------------------------------- one return


def _return(number: str) -> Return:
    return current_scope().get_or_404(Return, number=number)


def _sku_groups(ret: Return) -> list[dict]:
    """The return's stock lines by SKU, in line order: [{sku, quantity}] (what HQ says was accepted and scrapped)."""
    groups: OrderedDict[str, int] = OrderedDict()
    for line in ret.lines:
        if not line.serial:
            groups[line.sku] = groups.get(line.sku, 0) + line.quantity
    return [{"sku": sku, "quantity": q} for sku, q in groups.items()]


def _warehouse_choices() -> list:
    rows = db.session.execute(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)).scalars()
    return as_choices((w.code, f"{w.code} · {w.name}") for w in rows)


def _mine(ret: Return) -> bool:
    return bool(current_user.dealer_id) and current_user.dealer_id == ret.dealer_id


def _detail(ret: Return, forms: dict | None = None, status: int = 200, receive_rows: dict | None = None):
    forms = forms or {}
    may = {
        "decide": can("returns.decide") and ret.status == "requested",
        "ship_back": can("returns.create") and _mine(ret) and ret.status == "approved",
        "receive": can("returns.receive") and ret.status == "shipped_back",
    }
    receive_form = forms.get("receive")
    if may["receive"] and receive_form is None:
        receive_form = ReceiveForm(prefix="receive", formdata=None)
        receive_form.warehouse_code.choices = _warehouse_choices()
    context = {
        "ret": ret,
        "may": may,
        "approve_form": forms.get("approve") or ApproveForm(prefix="approve", formdata=None),
        "reject_form": forms.get("reject") or RejectForm(prefix="reject", formdata=None),
        "ship_form": forms.get("ship") or ShipBackForm(prefix="ship", formdata=None),
        "receive_form": receive_form,
        "message_form": forms.get("message") or MessageForm(prefix="msg", formdata=None),
        "sku_groups": _sku_groups(ret),
        "receive_rows": receive_rows or {},
        "total_value": services.total_value(ret),
        "total_fee": services.total_fee(ret),
        "credit_amount": services.credit_amount(ret),
        "today": today(),
        **LABELS,
    }
    return render_template("returns/detail.html", **context), status


@bp.route("/returns/<number>")
@requires("returns.read")
@tenant_route("return")
def detail(number):
    return _detail(_return(number))


def _back(ret: Return, anchor: str | None = None):
    return redirect(url_for("returns.detail", number=ret.number, _anchor=anchor))


def _refused(ret: Return, form, exc: DomainError, key: str, **extra):
    """A service refused: field errors (Invalid) on the form, 422; anything else (Conflict...) flashed, back."""
    if isinstance(exc, Invalid):
        apply_errors(form, exc)
        return _detail(ret, forms={key: form}, status=422, **extra)
    flash(exc.message, "danger")
    return _back(ret)


@bp.route("/returns/<number>/approve", methods=["POST"])
@requires("returns.decide")
@tenant_route("return")
def approve(number):
    ret = _return(number)
    form = ApproveForm(prefix="approve")
    if not form.validate_on_submit():
        return _detail(ret, forms={"approve": form}, status=422)
    pct = None
    if (form.restocking_fee_pct.data or "").strip():
        try:
            pct = parse_money(form.restocking_fee_pct.data)
        except ValueError as exc:
            form.restocking_fee_pct.errors = [str(exc)]
            return _detail(ret, forms={"approve": form}, status=422)
    try:
        services.approve(current_user, ret, pct, form.comment.data)
    except DomainError as exc:
        return _refused(ret, form, exc, "approve")
    flash(_("Return %(number)s approved: the dealer can ship the goods back.", number=ret.number), "success")
    return _back(ret)


@bp.route("/returns/<number>/reject", methods=["POST"])
@requires("returns.decide")
@tenant_route("return")
def reject(number):
    ret = _return(number)
    form = RejectForm(prefix="reject")
    if not form.validate_on_submit():
        return _detail(ret, forms={"reject": form}, status=422)
    try:
        services.reject(current_user, ret, form.comment.data)
    except DomainError as exc:
        return _refused(ret, form, exc, "reject")
    flash(_("Return %(number)s rejected.", number=ret.number), "warning")
    return _back(ret)


@bp.route("/returns/<number>/ship-back", methods=["POST"])
@requires("returns.create")
@tenant_route("return")
def ship_back(number):
    ret = _return(number)
    form = ShipBackForm(prefix="ship")
    if not form.validate_on_submit():
        return _detail(ret, forms={"ship": form}, status=422)
    try:
        services.ship_back(current_user, ret, form.shipped_on.data)
    except DomainError as exc:
        return _refused(ret, form, exc, "ship")
    flash(_("Return %(number)s shipped back: the goods left your stock.", number=ret.number), "success")
    return _back(ret)


@bp.route("/returns/<number>/receive", methods=["POST"])
@requires("returns.receive")
@tenant_route("return")
def receive(number):
    ret = _return(number)
    form = ReceiveForm(prefix="receive")
    form.warehouse_code.choices = _warehouse_choices()
    rows: dict[str, list[str]] = {}  # "sku-<i>" / "vin-<i>" → errors
    lines = []
    for i, group in enumerate(_sku_groups(ret)):
        accepted = _whole(request.form.get(f"accepted-{i}"))
        scrapped = _whole(request.form.get(f"scrapped-{i}"))
        if accepted is None or scrapped is None:
            rows[f"sku-{i}"] = [_("Accepted + scrapped must be %(n)s, what was shipped back.", n=group["quantity"])]
        lines.append({"sku": group["sku"], "accepted": accepted or 0, "scrapped": scrapped or 0})
    serials = []
    for i, line in enumerate(ln for ln in ret.lines if ln.serial):
        outcome = request.form.get(f"vin-{i}", "accepted")
        serials.append({"serial": line.serial, "outcome": outcome})
    if not form.validate_on_submit() or rows:
        return _detail(ret, forms={"receive": form}, status=422, receive_rows=rows)
    try:
        ret, note = services.receive(current_user, ret, warehouse_code=form.warehouse_code.data, lines=lines,
                                     serials=serials, received_on=form.received_on.data)  # fmt: skip
    except DomainError as exc:
        if isinstance(exc, Invalid):
            fields = dict(exc.fields)
            for key in list(fields):
                parts = key.split(".")
                if len(parts) == 3 and parts[0] in ("lines", "serials") and parts[1].isdigit():
                    rows.setdefault(f"{'sku' if parts[0] == 'lines' else 'vin'}-{parts[1]}", []).extend(fields.pop(key))
                elif key == "lines":
                    fields["_"] = fields.pop(key)
            if fields:
                apply_errors(form, Invalid(exc.message, fields=fields))
            return _detail(ret, forms={"receive": form}, status=422, receive_rows=rows)
        return _refused(ret, form, exc, "receive")
    if note is not None:
        flash(_("Return %(number)s received. Credit note %(note)s: %(amount)s CNY.", number=ret.number,
                note=note.number, amount=note.amount), "success")  # fmt: skip
    else:
        flash(_("Return %(number)s received. Nothing to credit.", number=ret.number), "success")
    return _back(ret)


@bp.route("/returns/<number>/messages", methods=["POST"])
@requires("returns.read")
@tenant_route("return")
def message(number):
    ret = _return(number)
    form = MessageForm(prefix="msg")
    if not form.validate_on_submit():
        return _detail(ret, forms={"message": form}, status=422)
    try:
        services.add_message(current_user, ret, form.body.data)
    except DomainError as exc:
        return _refused(ret, form, exc, "message")
    flash(_("Message sent."), "success")
    return _back(ret, "conversation")


# ---------------------------------------------------------------- delivery discrepancies


@bp.route("/discrepancies")
@requires("returns.read")
def discrepancy_list():
    status = (request.args.get("status") or "").strip()
    if status not in DISCREPANCY_STATUSES:
        status = None
    stmt = discrepancies.discrepancies_query(current_scope(), status=status)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        header = ["number", "declared_on", "dealer_code", "dealer_name", "shipment_number", "sku", "serial",
                  "quantity", "kind", "note", "value", "status", "reship", "credit_note", "resolved_by"]  # fmt: skip
        rows = [
            [d.number, d.declared_on, d.dealer.code, d.dealer.name, d.shipment.number, d.sku, d.serial, d.quantity,
             d.kind, d.note, d.value, d.status, d.reship.number if d.reship else None,
             d.credit_note.number if d.credit_note else None, d.resolved_by]  # fmt: skip
            for d in db.session.execute(stmt).unique().scalars().all()
        ]
        return export_response(fmt, f"discrepancies-{today()}", header, rows)
    return render_template(
        "returns/discrepancies.html",
        page=list_page(stmt),
        status=status,
        may_resolve=can("returns.decide"),
        is_dealer=current_scope().is_dealer,
        **LABELS,
    )


@bp.route("/discrepancies/<number>/resolve", methods=["POST"])
@requires("returns.decide")
@tenant_route("discrepancy")
def resolve(number):
    disc = current_scope().get_or_404(DeliveryDiscrepancy, number=number)
    how = request.form.get("how")
    back = redirect(request.form.get("next") if _safe_next(request.form.get("next"))
                    else url_for("returns.discrepancy_list"))  # fmt: skip
    if not FlaskForm().validate_on_submit() or how not in ("reship", "credit"):
        flash(_("Choose a re-shipment or a credit note."), "danger")
        return back
    try:
        if how == "reship":
            disc = discrepancies.resolve_by_reship(current_user, disc)
            flash(_("Discrepancy %(number)s: the goods are sent again in %(shipment)s (no new invoice).",
                    number=disc.number, shipment=disc.reship.number), "success")  # fmt: skip
        else:
            disc = discrepancies.resolve_by_credit(current_user, disc)
            flash(_("Discrepancy %(number)s credited: credit note %(note)s for %(amount)s CNY.", number=disc.number,
                    note=disc.credit_note.number, amount=disc.value), "success")  # fmt: skip
    except DomainError as exc:
        flash(next(iter(exc.fields.values()), [exc.message])[0] if exc.fields else exc.message, "danger")
    return back


def _safe_next(target: str | None) -> bool:
    return bool(target) and target.startswith("/discrepancies") and "//" not in target and "\\" not in target

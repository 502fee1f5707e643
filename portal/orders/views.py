"""Browser pages: the order builder, the orders list, one order with its history and actions, the approval queue."""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.catalog import pricing
from portal.catalog.models import Product
from portal.catalog.services import products_query
from portal.credit import reports
from portal.credit.labels import BUCKET_LABELS
from portal.credit.services import credit_summary
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.inventory import backorders, hq
from portal.orders import services
from portal.orders.forms import ActionForm, OrderForm
from portal.orders.models import STATUSES, Order
from portal.orders.notes import event_note
from portal.platform.auth import can, requires
from portal.platform.errors import Conflict, DomainError, Invalid
from portal.platform.money import ZERO, money
from portal.platform.tenancy import current_scope, tenant_route
from portal.platform.timeutil import local_naive, today
from portal.platform.web import apply_errors, export_response, list_page, parse_date_arg
from portal.production import services as production
from portal.shipping import services as shipping

bp = Blueprint("orders", __name__)
bp.add_app_template_global(event_note, "order_event_note")  # an event's note in the reader's language

SEARCH_LIMIT = 20


def _new_key() -> str:
    return "web-" + secrets.token_urlsafe(18)


def _int_or_none(text) -> int | None:
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if 1 <= value <= services.MAX_QUANTITY else None


# ------------------------------------------------------------------ the order builder


def _posted_lines() -> list[dict]:
    """The lines as the browser sent them (sku[] / quantity[]); quantities are checked, prices never read."""
    lines = []
    for sku, qty in zip(request.form.getlist("sku[]"), request.form.getlist("quantity[]"), strict=False):
        sku = (sku or "").strip()
        if sku:
            lines.append({"sku": sku, "raw": (qty or "").strip(), "quantity": _int_or_none(qty), "errors": []})
    return lines


def _add_line(lines: list[dict], sku: str, qty: int | None) -> None:
    for line in lines:
        if line["sku"] == sku:
            if line["quantity"] is not None and qty is not None:
                line["quantity"] = min(services.MAX_QUANTITY, line["quantity"] + qty)
                line["raw"] = str(line["quantity"])
            return
    lines.append({"sku": sku, "raw": str(qty or ""), "quantity": qty, "errors": []})


def _apply_line_errors(lines: list[dict], form: OrderForm, exc: Invalid) -> None:
    for key, messages in (exc.fields or {}).items():
        parts = key.split(".")
        if len(parts) >= 2 and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(lines):
            lines[int(parts[1])]["errors"].extend(messages)
        else:
            form.form_errors.extend(messages)
    if not exc.fields:
        form.form_errors.append(exc.message)


@bp.route("/orders/new", methods=["GET", "POST"])
@requires("orders.place")
def new():
    scope = current_scope()
    dealer = scope.get_or_404(Dealer, id=current_user.dealer_id)
    form = OrderForm()
    status = 200
    hold_refused = False
    if request.method == "GET":
        lines = []
        form.key.data = _new_key()
        add = (request.args.get("add") or "").strip()
        if add and scope.first(Product, sku=add) is not None:
            _add_line(lines, add, _int_or_none(request.args.get("qty", "1")) or 1)
    else:
        lines = _posted_lines()
        form.key.data = form.key.data or _new_key()
        add = (request.form.get("add") or "").strip()
        if add:
            _add_line(lines, add, _int_or_none(request.form.get(f"addqty-{add}", "1")))
        if request.form.get("remove"):
            lines = [ln for ln in lines if ln["sku"] != request.form["remove"]]
        for line in lines:
            if line["quantity"] is None:
                line["errors"].append(_("A whole number from 1 to %(n)s.", n=services.MAX_QUANTITY))
        valid = form.validate_on_submit()
        if request.form.get("action") == "place" and valid and not any(ln["errors"] for ln in lines):
            try:
                order, created = services.place_order(
                    current_user,
                    dealer,
                    [{"sku": ln["sku"], "quantity": ln["quantity"]} for ln in lines],
                    form.note.data,
                    idempotency_key=form.key.data,
                )
            except Invalid as exc:
                if exc.code == "idempotency_mismatch":
                    form.key.data = _new_key()
                    form.form_errors.append(
                        _("This form was already used for another order. Check the lines and place the order again.")
                    )
                else:
                    _apply_line_errors(lines, form, exc)
            except Conflict as exc:
                form.form_errors.append(exc.message)
                hold_refused = exc.code == "credit_hold"
                status = 409
            else:
                if not created:
                    flash(_("This order was already placed: %(number)s.", number=order.number), "info")
                elif order.status == "approved":
                    flash(_("Order %(number)s placed and approved.", number=order.number), "success")
                else:
                    flash(
                        _(
                            "Order %(number)s placed. It exceeds your available credit and waits for credit review.",
                            number=order.number,
                        ),
                        "warning",
                    )
                return redirect(url_for("orders.detail", number=order.number))
    # price what is there, the way the order will be priced (nothing stored)
    priced = None
    if lines and not any(ln["errors"] for ln in lines):
        try:
            priced = services.quote(dealer, [{"sku": ln["sku"], "quantity": ln["quantity"]} for ln in lines])
        except Invalid as exc:
            _apply_line_errors(lines, form, exc)
    products = {
        p.sku: p
        for p in db.session.execute(select(Product).where(Product.sku.in_([ln["sku"] for ln in lines]))).scalars()
    }
    for i, line in enumerate(lines):
        line["product"] = products.get(line["sku"])
        line["priced"] = priced["lines"][i] if priced else None
    q = (form.q.data or "").strip() if request.method == "POST" else (request.args.get("q") or "").strip()
    form.q.data = q
    found = (
        db.session.execute(products_query(scope, q=q or None, active=True).limit(SEARCH_LIMIT + 1))
        .unique()
        .scalars()
        .all()
    )
    lists = pricing.candidate_lists(dealer, today())
    search = [(p, pricing.resolve_with(lists, p, 1)) for p in found[:SEARCH_LIMIT]]
    summary = credit_summary(dealer)
    totals = {k: priced[k] if priced else ZERO for k in ("net", "tax", "gross")}
    if status == 200 and (form.errors or form.form_errors or any(ln["errors"] for ln in lines)):
        status = 422
    return (
        render_template(
            "orders/new.html",
            form=form,
            dealer=dealer,
            lines=lines,
            totals=totals,
            summary=summary,
            excess=max(ZERO, money(totals["gross"] - summary["available"])),
            search=search,
            more=len(found) > SEARCH_LIMIT,
            hold_refused=hold_refused,
        ),
        status,
    )


# ------------------------------------------------------------------ the list


ORDER_FILTERS = ("status", "dealer", "region", "sku", "q")


def _filters() -> dict:
    filters = {k: (request.args.get(k) or "").strip() or None for k in ORDER_FILTERS}
    if filters["status"] not in STATUSES:
        filters["status"] = None
    filters["date_from"] = parse_date_arg("from")
    filters["date_to"] = parse_date_arg("to")
    return filters



@bp.route("/orders")
@requires("orders.read")
def index():
    scope = current_scope()
    filters = _filters()
    stmt = services.orders_query(scope, **filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        orders = db.session.execute(stmt).unique().scalars().all()
        header = [
            "number",
            "created_at",
            "dealer_code",
            "dealer_name",
            "region",
            "status",
            "lines",
            "net",
            "tax",
            "gross",
            "created_by",
            "note",
            "backordered",
            "promised_on",
        ]
        waiting = backorders.order_backorders(o.id for o in orders)
        rows = [
            [
                o.number,
                local_naive(o.created_at),
                o.dealer.code,
                o.dealer.name,
                o.dealer.region.code,
                o.status,
                len(o.lines),
                o.net,
                o.tax,
                o.gross,
                o.created_by,
                o.note,
                *waiting.get(o.id, (0, None)),
            ]
            for o in orders
        ]
        return export_response(fmt, f"orders-{today()}", header, rows)
    regions = []
    if not scope.is_dealer:
        regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    page = list_page(stmt)
    waiting = backorders.order_backorders(o.id for o in page["items"])  # one query for the page
    return render_template("orders/index.html", page=page, filters=filters, regions=regions, waiting=waiting)


# ------------------------------------------------------------------ one order


def _dealer_ageing(dealer: Dealer) -> dict:
    row = db.session.execute(reports.dealer_ageing_select(lambda col: col == dealer.id, today())).first()
    keys = (*reports.BUCKETS, "unapplied", "total")
    return {k: money(getattr(row, k) or 0) if row else ZERO for k in keys}


def _may_cancel(order: Order) -> bool:
    if not can("orders.cancel"):
        return False
    return services.may_cancel(current_user, order)


def _detail(order: Order, decision: ActionForm | None = None, cancel: ActionForm | None = None, status: int = 200):
    decision = decision or ActionForm(prefix="decision", formdata=None)
    cancel = cancel or ActionForm(prefix="cancel", formdata=None)
    ctx = {"order": order, "decision": decision, "cancel": cancel, "may_cancel": _may_cancel(order)}
    stock_lines = [ln for ln in order.lines if not ln.product.build_to_order]
    ctx["stock"] = {
        "held": hq.held_by_line(ln.id for ln in stock_lines),  # what HQ holds for each stock line
        "shown": bool(stock_lines) and order.approved_at is not None,
        "waiting": any(ln.backordered for ln in stock_lines),
    }
    ctx["may_move_up"] = can("stock.manage") and ctx["stock"]["waiting"] and order.moved_up_at is None
    ctx.update(
        production=production.stage_summaries([order.id]).get(order.id),  # units per stage (None: no units)
        shipments=shipping.shipments_of(current_scope(), order),
        may_ship=can("shipments.create") and order.status in shipping.SHIPPABLE,
    )
    ctx["in_review"] = order.status == "credit_review"
    ctx["may_approve"] = ctx["in_review"] and can("orders.approve") and services.may_approve(current_user, order)
    if ctx["in_review"]:
        ctx["summary"] = credit_summary(order.dealer)
        ctx["excess"] = services.excess_over_available(order)
        ctx["ageing"] = _dealer_ageing(order.dealer)
        ctx["recent"] = (
            db.session.execute(
                current_scope()
                .select(Order)
                .where(Order.dealer_id == order.dealer_id, Order.id != order.id)
                .order_by(Order.created_at.desc(), Order.id.desc())
                .limit(5)
            )
            .unique()
            .scalars()
            .all()
        )
    return render_template("orders/detail.html", BUCKET_LABELS=BUCKET_LABELS, **ctx), status


@bp.route("/orders/<number>")
@requires("orders.read")
@tenant_route("order")
def detail(number):
    return _detail(current_scope().get_or_404(Order, number=number))


DONE = {
    "approve": lambda n: _("Order %(number)s approved.", number=n),
    "reject": lambda n: _("Order %(number)s rejected.", number=n),
    "cancel": lambda n: _("Order %(number)s cancelled.", number=n),
}


def _act(number: str, action: str):
    order = current_scope().get_or_404(Order, number=number)
    form = ActionForm(prefix="cancel" if action == "cancel" else "decision")
    forms = {"cancel": form} if action == "cancel" else {"decision": form}
    if not form.validate_on_submit():
        return _detail(order, status=422, **forms)
    try:
        getattr(services, action)(current_user, order, form.comment.data)
    except Invalid as exc:
        apply_errors(form, exc)
        return _detail(order, status=422, **forms)
    except DomainError as exc:
        form.form_errors.append(exc.message)
        return _detail(order, status=exc.status, **forms)
    flash(DONE[action](order.number), "success" if action == "approve" else "info")
    return redirect(url_for("orders.detail", number=order.number))


@bp.route("/orders/<number>/approve", methods=["POST"])
@requires("orders.approve")
@tenant_route("order")
def approve(number):
    return _act(number, "approve")


@bp.route("/orders/<number>/reject", methods=["POST"])
@requires("orders.approve")
@tenant_route("order")
def reject(number):
    return _act(number, "reject")


@bp.route("/orders/<number>/cancel", methods=["POST"])
@requires("orders.cancel")
@tenant_route("order")
def cancel(number):
    return _act(number, "cancel")


# ------------------------------------------------------------------ the approval queue


@bp.route("/approvals")
@requires("orders.approve")
def approvals():
    """Orders in credit review, the longest waiting first, each with how long it has waited (since it last entered
    credit review: an amendment may send an approved order back, §12)."""
    from portal.home.queues import review_since, review_since_column, review_since_subquery
    from portal.platform.timeutil import utcnow

    scope = current_scope()
    filters = {k: (request.args.get(k) or "").strip() or None for k in ("dealer", "region")}
    since = review_since_subquery()
    stmt = (
        services.orders_query(scope, status="credit_review", **filters)
        .order_by(None)
        .outerjoin(since, since.c.order_id == Order.id)
        .order_by(review_since_column(since), Order.id)  # oldest first
    )
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        orders = db.session.execute(stmt).unique().scalars().all()
        header = ["number", "created_at", "dealer_code", "dealer_name", "region", "gross", "excess", "may_approve"]
        rows = [
            [
                o.number,
                local_naive(o.created_at),
                o.dealer.code,
                o.dealer.name,
                o.dealer.region.code,
                o.gross,
                services.excess_over_available(o),
                services.may_approve(current_user, o),
            ]
            for o in orders
        ]
        return export_response(fmt, f"approvals-{today()}", header, rows)
    page = list_page(stmt)
    waiting = review_since([o.id for o in page["items"]])
    now = utcnow()
    rows = [
        {
            "order": o,
            "excess": services.excess_over_available(o),
            "may": services.may_approve(current_user, o),
            "since": waiting.get(o.id, o.created_at),
            "waited": int((now - waiting.get(o.id, o.created_at)).total_seconds()),
        }
        for o in page["items"]
    ]
    regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    return render_template(
        "orders/approvals.html", page=page, rows=rows, filters=filters, regions=regions, today=today()
    )

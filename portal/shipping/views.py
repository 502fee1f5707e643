"""Browser pages for shipping (PRODUCT.md §5): HQ ships an order's built units and stock quantities (one invoice per
shipment, a one-time key in the form so a double submit ships once), the shipments list with its exports, one
shipment with its delivery note and the dealer's receipt, and the shipments of an order on the order page.

A distributor ships its sub-dealers' orders on the same page (§16): out of its own stock, the VINs it holds to
choose from (the longest held first) and each SKU's quantity on hand; its list has a "Transfers to sub-dealers" tab
(`?seller=<its code>`); the sub-dealer receives a transfer like any shipment."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select

from portal.dealers import channel
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.inventory import dealer_stock
from portal.orders.models import Order
from portal.platform.auth import can, requires
from portal.platform.errors import Conflict, Invalid
from portal.platform.money import ZERO, money
from portal.platform.tenancy import current_scope, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import (
    ORDER_STATUS_LABELS,
    apply_errors,
    export_response,
    list_page,
    parse_date_arg,
    query_rows,
)
from portal.production.models import Unit
from portal.shipping import services
from portal.shipping.forms import ReceiveForm, ShipForm
from portal.shipping.models import SHIPMENT_STATUSES, Shipment
from portal.shipping.pdf import delivery_note

bp = Blueprint("shipping", __name__, static_folder="static", static_url_path="/shipping/static")

SHIPMENT_STATUS_LABELS = {"in_transit": _l("In transit"), "received": _l("Received")}
bp.add_app_template_global(SHIPMENT_STATUS_LABELS, "SHIPMENT_STATUS_LABELS")


def _new_key() -> str:
    return "web-ship-" + secrets.token_urlsafe(18)


# ------------------------------------------------------------------ shipping an order


def _rows(order: Order, seller: Dealer | None = None) -> list[dict]:
    """One row per order line: ordered, shipped, left, and for build-to-order lines the built units waiting (serial,
    completion, options). A distributor's transfer (§16): each line's quantity on hand in the distributor's stock, and
    for vehicles the VINs it holds of that product (serial, received on, options), the longest held first."""
    so_far = services.shipped_so_far(order.id)
    ready = defaultdict(list)
    held: dict[int, int] = {}
    if seller is None:
        units = services.ready_units(order.id)
        # each built unit with the options it was built with (§12), read in one query
        ids = [u.id for u in units]
        options = dict(db.session.execute(select(Unit.id, Unit.options).where(Unit.id.in_(ids))).all())
        for unit in units:
            ready[unit.order_line_id].append(
                {"serial": unit.serial, "stage_at": unit.stage_at, "options": options.get(unit.id)}
            )
    else:
        held = dealer_stock.on_hand(seller.id)
        line_of = {ln.sku: ln.id for ln in order.lines if ln.product.build_to_order}
        vins = [v for v in dealer_stock.vins_on_hand(seller.id) if v["sku"] in line_of]
        serials = [v["serial"] for v in vins]
        options = dict(db.session.execute(select(Unit.serial, Unit.options).where(Unit.serial.in_(serials))).all())
        for v in vins:
            ready[line_of[v["sku"]]].append(
                {"serial": v["serial"], "received_on": v["received_on"], "options": options.get(v["serial"])}
            )
    rows = []
    for line in order.lines:
        done_qty, done_net, done_tax = so_far.get(line.id, (0, ZERO, ZERO))
        rows.append(
            {
                "line": line,
                "built_to_order": line.product.build_to_order,
                "shipped": done_qty,
                "left": line.quantity - done_qty,
                "on_hand": held.get(line.product_id, 0) if seller is not None else None,
                "units": ready.get(line.id, []),
                "rest_net": money(line.net - done_net),  # what the last shipment of the line takes
                "rest_tax": money(line.tax - done_tax),
                "raw": "",
                "quantity": 0,
                "errors": [],
            }
        )
    return rows


def _price(row: dict) -> None:
    """What this shipment will invoice for the row, the way services.ship prices it."""
    qty, line = row["quantity"], row["line"]
    if qty <= 0 or row["errors"]:
        row["net"] = row["tax"] = row["gross"] = None
        return
    if qty == row["left"]:
        net, tax = row["rest_net"], row["rest_tax"]
    else:
        net = money(line.unit_price * qty)
        tax = money(net * line.tax_rate)
    row["net"], row["tax"], row["gross"] = net, tax, net + tax


def _select(rows: list[dict], posted: bool) -> list[str]:
    """The units and quantities chosen: everything ready on a new form, else what the browser sent."""
    chosen = [s.strip().upper() for s in request.form.getlist("serial") if s.strip()] if posted else []
    for row in rows:
        # a distributor's stock may hold more (or less) than the order asks: offer what is left, as far as it goes
        ready = max(row["left"], 0) if row["on_hand"] is not None else len(row["units"])
        if row["built_to_order"]:
            if not posted:
                chosen.extend(u["serial"] for u in row["units"][:ready])
            serials = {u["serial"] for u in row["units"]}
            row["quantity"] = len([s for s in chosen if s in serials])
            continue
        if not posted:
            offer = max(min(row["left"], row["on_hand"]) if row["on_hand"] is not None else row["left"], 0)
            row["raw"] = str(offer)
            row["quantity"] = offer
            continue
        row["raw"] = (request.form.get(f"qty-{row['line'].id}") or "").strip()
        try:
            row["quantity"] = int(row["raw"] or "0")
        except ValueError:
            row["quantity"] = 0
            row["errors"].append(_("A whole number from 0 to %(n)s.", n=max(row["left"], 0)))
            continue
        if row["quantity"] < 0:
            row["errors"].append(_("A whole number from 0 to %(n)s.", n=max(row["left"], 0)))
        elif row["quantity"] > row["left"]:
            row["errors"].append(_("Only %(n)s left to ship.", n=max(row["left"], 0)))
    return chosen


def _apply_ship_errors(form: ShipForm, rows: list[dict], serials: list[str], stock_rows: list[dict], exc) -> dict:
    """The service's field errors next to the fields they are about; the rest at the top. Answers VIN → errors."""
    shown = {u["serial"] for row in rows for u in row["units"]}
    by_vin: dict[str, list[str]] = defaultdict(list)
    for key, messages in (exc.fields or {}).items():
        messages = messages if isinstance(messages, list) else [messages]
        parts = key.split(".")
        index = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
        if parts[0] == "serials" and index is not None and index < len(serials) and serials[index] in shown:
            by_vin[serials[index]].extend(messages)
        elif parts[0] == "lines" and index is not None and index < len(stock_rows):
            stock_rows[index]["errors"].extend(messages)
        elif key == "shipped_on":
            form.shipped_on.errors = list(form.shipped_on.errors) + messages
        else:
            form.form_errors.extend(messages)
    if not exc.fields:
        form.form_errors.append(exc.message)
    return by_vin


def _key_used(order: Order, key: str) -> bool:
    stmt = select(Shipment.id).where(Shipment.order_id == order.id, Shipment.idempotency_key == key)
    return db.session.execute(stmt.limit(1)).first() is not None


@bp.route("/orders/<number>/ship", methods=["GET", "POST"])
@requires("shipments.create", "sales.ship")
@tenant_route("order")
def ship(number):
    order = current_scope().get_or_404(Order, number=number)
    services.check_shipper(current_user, order)  # HQ its own sales, a distributor its sub-dealers' orders (§16)
    seller = db.session.get(Dealer, order.seller_id) if order.seller_id is not None else None
    form = ShipForm()
    posted = request.method == "POST"
    # the form sent again after it shipped (double click, retry): the service answers that shipment
    retry = posted and bool(form.key.data) and _key_used(order, form.key.data)
    if order.status not in services.SHIPPABLE and not retry:
        flash(_("An order that is %(status)s cannot be shipped.", status=ORDER_STATUS_LABELS[order.status]), "info")
        return redirect(url_for("orders.detail", number=order.number))
    if not posted:
        form.key.data = _new_key()
        form.shipped_on.data = today()
    else:
        form.key.data = form.key.data or _new_key()
    rows = _rows(order, seller)
    serials = _select(rows, posted)
    unit_errors: dict[str, list[str]] = {}
    status = 200
    if posted:
        valid = form.validate_on_submit()
        if request.form.get("action") == "ship" and valid and (retry or not any(row["errors"] for row in rows)):
            stock_rows = [r for r in rows if not r["built_to_order"] and r["quantity"] > 0]
            try:
                shipment, created = services.ship(
                    current_user,
                    order,
                    serials=serials,
                    lines=[{"sku": r["line"].sku, "quantity": r["quantity"]} for r in stock_rows],
                    shipped_on=form.shipped_on.data,
                    idempotency_key=form.key.data,
                )
            except Invalid as exc:
                if exc.code == "idempotency_mismatch":
                    form.key.data = _new_key()
                    form.form_errors.append(
                        _("This form was already used for another shipment. Check the selection and ship again.")
                    )
                else:
                    unit_errors = _apply_ship_errors(form, rows, serials, stock_rows, exc)
            except Conflict as exc:
                if exc.code != "stock_short":
                    flash(exc.message, "warning")
                    return redirect(url_for("orders.detail", number=order.number))
                # the distributor's stock moved meanwhile (§16): the form again, with what is on hand now
                unit_errors = _apply_ship_errors(form, rows, serials, stock_rows, exc)
                if exc.message not in form.form_errors:
                    form.form_errors.insert(0, exc.message)
                rows_now = {r["line"].id: r for r in _rows(order, seller)}
                for row in rows:
                    row["on_hand"] = rows_now[row["line"].id]["on_hand"]
                status = 409
            else:
                if created:
                    flash(
                        _(
                            "Shipment %(number)s created; invoice %(invoice)s of %(amount)s CNY posted to "
                            "%(dealer)s's account with you.",
                            number=shipment.number,
                            invoice=shipment.invoice.number,
                            amount=f"{shipment.gross:,.2f}",
                            dealer=order.dealer.code,
                        )
                        if shipment.seller_id
                        else _(
                            "Shipment %(number)s created; invoice %(invoice)s of %(amount)s CNY posted to the "
                            "dealer's account.",
                            number=shipment.number,
                            invoice=shipment.invoice.number,
                            amount=f"{shipment.gross:,.2f}",
                        ),
                        "success",
                    )
                else:
                    flash(
                        _(
                            "This shipment was already made: %(number)s (invoice %(invoice)s). Nothing was shipped "
                            "twice.",
                            number=shipment.number,
                            invoice=shipment.invoice.number,
                        ),
                        "info",
                    )
                return redirect(url_for("shipping.detail", number=shipment.number))
        if status == 200 and (form.errors or form.form_errors or unit_errors or any(row["errors"] for row in rows)):
            status = 422
    for row in rows:
        _price(row)
    priced = [r for r in rows if r["net"] is not None]
    totals = {k: money(sum((r[k] for r in priced), ZERO)) for k in ("net", "tax", "gross")}
    shipped_on = form.shipped_on.data if isinstance(form.shipped_on.data, dt.date) else today()
    return (
        render_template(
            "shipping/ship.html",
            order=order,
            form=form,
            rows=rows,
            chosen=set(serials),
            unit_errors=unit_errors,
            totals=totals,
            due_on=shipped_on + dt.timedelta(days=order.dealer.payment_terms_days),
            today=today(),
            seller=seller,
        ),
        status,
    )


# ------------------------------------------------------------------ the list


FILTERS = ("status", "dealer", "order", "q", "seller")


def _filters() -> dict:
    scope = current_scope()
    filters = {k: (request.args.get(k) or "").strip() or None for k in FILTERS}
    if filters["status"] not in SHIPMENT_STATUSES:
        filters["status"] = None
    if scope.is_dealer and not scope.sub_dealer_ids:  # a distributor filters by its sub-dealers (§16)
        filters["dealer"] = None
    if filters["seller"]:
        try:
            channel.seller_in_scope(scope, filters["seller"])
        except Invalid:
            flash(_("No distributor %(code)s.", code=filters["seller"]), "warning")
            filters["seller"] = None
    filters["date_from"] = parse_date_arg("from")
    filters["date_to"] = parse_date_arg("to")
    return filters


@bp.route("/shipments")
@requires("shipments.read")
def index():
    filters = _filters()
    scope = current_scope()
    stmt = services.shipments_query(scope, **filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        header = [
            "number",
            "shipped_on",
            "order_number",
            "dealer_code",
            "dealer_name",
            "status",
            "quantity",
            "vins",
            "net",
            "tax",
            "gross",
            "invoice_number",
            "due_on",
            "received_on",
            "received_by",
            "created_by",
            "seller_code",
        ]
        rows = (
            [
                s.number,
                s.shipped_on,
                s.order.number,
                s.order.dealer.code,
                s.order.dealer.name,
                s.status,
                sum(ln.quantity for ln in s.lines),
                " ".join(v for vs in services.serials_by_line(s).values() for v in vs),
                s.net,
                s.tax,
                s.gross,
                s.invoice.number if s.invoice else "",  # a re-shipment (§13) has none
                s.invoice.due_on if s.invoice else None,
                s.received_on,
                s.received_by,
                s.created_by,
                s.seller.code if s.seller_id is not None else "",  # §16: empty = HQ
            ]
            # read a chunk at a time while the file is written (CSV: while it is sent), in the rows' own session
            for s in query_rows(stmt, scalars=True)
        )
        return export_response(fmt, f"shipments-{today()}", header, rows)
    # a distributor's tabs: everything in its scope, or its transfers to its sub-dealers (§16)
    own = db.session.get(Dealer, scope.dealer_id) if scope.is_dealer and scope.sub_dealer_ids else None
    return render_template("shipping/index.html", page=list_page(stmt), filters=filters, distributor=own,
                           show_dealer=not scope.is_dealer or bool(scope.sub_dealer_ids))  # fmt: skip


# ------------------------------------------------------------------ one shipment, its receipt, its delivery note


CLAIM_KINDS = (("short", _l("Short")), ("damaged", _l("Damaged")))  # portal.returns.models.DISCREPANCY_KINDS
MAX_CLAIM_NOTE = 1000  # portal.returns.discrepancies.MAX_NOTE


def _claim_rows(shipment: Shipment) -> list[dict]:
    """The receipt form's "something missing or damaged?" rows (§13): one per stock line (a quantity), one per VIN
    (a kind, empty = received fine). A reship's VIN line (no shipment unit row) is not offered: see the report."""
    if shipment.status != "in_transit" or shipment.seller_id is not None:  # a transfer's: with the distributor
        return []
    from portal.returns.discrepancies import reship_serials

    resent = reship_serials(shipment)
    rows = []
    for ln in shipment.lines:
        if ln.units:
            for u in ln.units:
                rows.append({"line": ln, "serial": u.serial, "sku": ln.sku, "name": f"vin-{u.serial}", "qty": "",
                             "kind": "", "note": "", "errors": {}})  # fmt: skip
        elif ln.id not in resent:
            rows.append({"line": ln, "serial": None, "sku": ln.sku, "name": f"line-{ln.id}", "qty": "0",
                         "kind": "short", "note": "", "errors": {}})  # fmt: skip
    return rows


def _err(row: dict, field: str, *messages: str) -> None:
    row["errors"].setdefault(field, []).extend(messages)


def _claims_typed(rows: list[dict]) -> bool:
    """Anything declared or refused: the section is shown open."""
    return any(r["errors"] or r["qty"] not in ("", "0") or r["note"] or (r["serial"] and r["kind"]) for r in rows)


def _read_claims(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """The posted rows as the service's `discrepancies` (empty and 0 rows skipped) and, in the same order, the row
    each item was built from (to show the service's `discrepancies.N.*` errors next to it)."""
    items, built_from = [], []
    for row in rows:
        name = row["name"]
        row["kind"] = (request.form.get(f"{name}-kind") or "").strip()
        row["note"] = (request.form.get(f"{name}-note") or "").strip()
        if row["serial"]:
            if not row["kind"]:
                if row["note"]:
                    _err(row, "kind", _("Short or damaged? Choose one, or clear the note."))
                continue
            item = {"serial": row["serial"], "kind": row["kind"], "note": row["note"] or None}
        else:
            row["qty"] = (request.form.get(f"{name}-qty") or "").strip()
            raw = row["qty"] or "0"
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 7):
                _err(row, "quantity", _("A whole number from 0 to %(n)s.", n=row["line"].quantity))
                continue
            if int(raw) == 0:
                if row["note"]:
                    _err(row, "quantity", _("How many are short or damaged? Or clear the note."))
                continue
            item = {"sku": row["sku"], "quantity": int(raw), "kind": row["kind"], "note": row["note"] or None}
        items.append(item)
        built_from.append(row)
    return items, built_from


def _apply_claim_errors(form: ReceiveForm, built_from: list[dict], exc: Invalid) -> None:
    """`discrepancies.N.<field>` next to the row item N was built from; the rest on the form."""
    rest = {}
    for key, messages in (exc.fields or {}).items():
        messages = messages if isinstance(messages, list) else [messages]
        parts = key.split(".")
        if parts[0] == "discrepancies" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(built_from):
            field = parts[2] if len(parts) > 2 and parts[2] in ("quantity", "kind", "note") else "row"
            _err(built_from[int(parts[1])], field, *messages)
        else:
            rest[key] = messages
    if rest or not exc.fields:
        apply_errors(form, Invalid(exc.message, fields=rest or None))


def _detail(shipment: Shipment, form: ReceiveForm | None = None, status: int = 200, claim_rows=None):
    if form is None:
        form = ReceiveForm(formdata=None)
        form.received_on.data = today()
    own = getattr(current_user, "dealer_id", None) == shipment.dealer_id  # its own shipment, not a sub-dealer's
    may_receive = can("shipments.receive") and shipment.status == "in_transit" and own
    # a return goes back to HQ (§13): not for goods a distributor sent (§16)
    may_return = shipment.status == "received" and can("returns.create") and own and shipment.seller_id is None
    if claim_rows is None:
        claim_rows = _claim_rows(shipment) if may_receive else []
    claims = 0
    if shipment.status == "received":
        from portal.returns.models import DeliveryDiscrepancy

        claims = db.session.execute(
            select(func.count()).where(DeliveryDiscrepancy.shipment_id == shipment.id)
        ).scalar_one()
    return (
        render_template(
            "shipping/detail.html",
            shipment=shipment,
            form=form,
            may_receive=may_receive,
            may_return=may_return,
            claim_rows=claim_rows,
            claim_kinds=CLAIM_KINDS,
            claims_open=_claims_typed(claim_rows),
            max_claim_note=MAX_CLAIM_NOTE,
            claims=claims,
            today_iso=today().isoformat(),
            vins=services.serials_by_line(shipment),
            seller=shipment.seller if shipment.seller_id is not None else None,
        ),
        status,
    )


@bp.route("/shipments/<number>")
@requires("shipments.read")
@tenant_route("shipment")
def detail(number):
    return _detail(current_scope().get_or_404(Shipment, number=number))


@bp.route("/shipments/<number>/receive", methods=["POST"])
@requires("shipments.receive")
@tenant_route("shipment")
def receive(number):
    shipment = current_scope().get_or_404(Shipment, number=number)
    form = ReceiveForm()
    rows = _claim_rows(shipment)
    items, built_from = _read_claims(rows)
    valid = form.validate_on_submit()
    if not valid or any(r["errors"] for r in rows):
        return _detail(shipment, form, 422, rows)
    try:
        services.receive(current_user, shipment, form.received_on.data, discrepancies=items)
    except Invalid as exc:
        _apply_claim_errors(form, built_from, exc)
        return _detail(shipment, form, 422, rows)
    except Conflict as exc:
        flash(exc.message, "info")
        return redirect(url_for("shipping.detail", number=shipment.number))
    if shipment.order.status == "delivered":
        flash(
            _("Shipment %(number)s received; order %(order)s is delivered in full.", number=shipment.number,
              order=shipment.order.number),
            "success",
        )  # fmt: skip
    else:
        flash(_("Shipment %(number)s received; the goods are in your stock.", number=shipment.number), "success")
    if items:
        if len(items) == 1:
            said = _("1 delivery discrepancy claim opened for HQ: the goods declared stay out of your stock.")
        else:
            said = _("%(n)s delivery discrepancy claims opened for HQ: the goods declared stay out of your stock.",
                     n=len(items))  # fmt: skip
        flash(
            Markup('{} <a class="alert-link" href="{}" data-claims-link>{}</a>').format(
                said, url_for("returns.discrepancy_list"), _("Delivery discrepancies")
            ),
            "warning",
        )
    return redirect(url_for("shipping.detail", number=shipment.number))


@bp.route("/shipments/<number>/delivery-note.pdf")
@requires("shipments.read")
@tenant_route("shipment")
def delivery_note_pdf(number):
    shipment = current_scope().get_or_404(Shipment, number=number)
    return Response(
        delivery_note(shipment),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{shipment.number}.pdf"'},
    )

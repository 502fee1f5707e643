"""Browser pages: the order builder (the user's server-side draft, PRODUCT.md §12), the orders list, one order with its
history and actions (amend, order again, approve, cancel), the approval queue; for a distributor (§16) its sales —
its sub-dealers' orders with it — and the approvals of those in credit review, which its admin decides.

The builder and the amendment page work as plain forms (every button posts and the server answers the page again);
order.js sends the same forms with `X-Requested-With: order.js` and gets the parts of the page that changed as JSON
(`fragments`), so adding a product or changing a quantity updates the basket in place. Prices always come from the
server; a refused change writes nothing (services raise, the request rolls back) and says why next to the field.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from flask import (
    Blueprint,
    current_app,
    flash,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import false, func, select
from sqlalchemy.orm import aliased

from portal.catalog import options as catalog_options
from portal.catalog import pricing
from portal.catalog.models import OPTION_GROUPS, Product
from portal.catalog.services import products_query
from portal.credit import reports
from portal.credit.labels import BUCKET_LABELS
from portal.credit.services import credit_summary
from portal.dealers.models import Dealer, DealerAddress, Region, User
from portal.extensions import db
from portal.inventory import backorders, hq
from portal.orders import drafts, forms, services
from portal.orders.forms import ActionForm
from portal.orders.models import OPEN_FOR_CREDIT, STATUSES, Order, OrderLine
from portal.orders.notes import event_note
from portal.platform.auth import can, requires
from portal.platform.errors import Conflict, DomainError, Forbidden, Invalid
from portal.platform.money import ZERO, money
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.timeutil import local_naive, today
from portal.platform.uow import probing
from portal.platform.web import apply_errors, export_response, list_page, parse_date_arg, query_chunks, query_rows
from portal.production import services as production
from portal.shipping import services as shipping

bp = Blueprint("orders", __name__)
bp.add_app_template_global(event_note, "order_event_note")  # an event's note in the reader's language


@bp.app_template_global("is_distributor")
def is_distributor() -> bool:
    """Whether the current user is one of a distributor's users (its dealer has sub-dealers, §16): the menu offers
    its sales."""
    return bool(current_scope().sub_dealer_ids)


@bp.app_template_global("has_endpoint")
def has_endpoint(endpoint: str) -> bool:
    """Whether the portal has this page (a menu entry for a page another part may not have yet)."""
    return endpoint in current_app.view_functions


SEARCH_LIMIT = 24
LIVE_HEADER = "order.js"  # X-Requested-With of order.js: answer JSON fragments instead of a page


def _new_key() -> str:
    return "web-" + secrets.token_urlsafe(18)


def _live() -> bool:
    return request.headers.get("X-Requested-With") == LIVE_HEADER


def _may_place() -> None:
    """Dealer users order for their dealer; channel and region managers on a dealer's behalf (代客下单)."""
    if not (can("orders.place") or can("orders.place_for")):
        raise Forbidden()


def _option_groups(offered) -> list[dict]:
    """A product's active options by group, in the catalogue's group order: [{group, options, default}]."""
    by_group: dict[str, list] = {}
    for option in offered or ():
        by_group.setdefault(option.group, []).append(option)
    out = []
    for group in OPTION_GROUPS:
        if group in by_group:
            default = next((o.code for o in by_group[group] if o.is_default), None)
            out.append({"group": group, "options": by_group[group], "default": default})
    return out


def _catalogue(dealer: Dealer, q: str) -> tuple[list[dict], bool]:
    """The product cards of a search: each product with the dealer's price today (with its default options), its
    option groups and whether the user must choose an option before adding it."""
    found = (
        db.session.execute(products_query(current_scope(), q=q or None, active=True).limit(SEARCH_LIMIT + 1))
        .unique()
        .scalars()
        .all()
    )
    shown = found[:SEARCH_LIMIT]
    offered = catalog_options.options_by_product(p.id for p in shown if p.build_to_order)
    lists = pricing.candidates_for(dealer, today(), shown) if shown else []
    # the stock band (HQ: the number too); a sub-dealer buys from its distributor's stock, not HQ's (§16)
    avail = {} if dealer.parent_id is not None else hq.availability_for(shown, with_numbers=current_scope().is_hq)
    cards = []
    for p in shown:
        groups = _option_groups(offered.get(p.id))
        defaults = [o for g in groups for o in g["options"] if o.code == g["default"]]
        delta = money(sum((o.price_delta for o in defaults), ZERO))
        cards.append(
            {
                "product": p,
                "price": pricing.resolve_with(lists, p, 1, delta),
                "groups": groups,
                "must_choose": any(g["default"] is None for g in groups),
                "avail": avail.get(p.id),
            }
        )
    return cards, len(found) > SEARCH_LIMIT


def _addresses(dealer: Dealer) -> list[DealerAddress]:
    """The dealer's active ship-to addresses, its default first (the one an order gets when none is chosen)."""
    stmt = (
        current_scope()
        .select(DealerAddress)
        .where(DealerAddress.dealer_id == dealer.id, DealerAddress.active.is_(True))
        .order_by(DealerAddress.is_default.desc(), DealerAddress.id)
    )
    return list(db.session.execute(stmt).scalars())


def _field_errors(state: dict, exc: DomainError, index: list[int] | None = None) -> None:
    """A service's refusal shown in place: `lines.N.*` on line N (through `index`, the lines' places on the page),
    the delivery fields on theirs, anything else above the form."""
    for key, messages in (exc.fields or {}).items():
        messages = messages if isinstance(messages, list) else [str(messages)]
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit():
            n = int(parts[1])
            at = index[n] if index is not None and n < len(index) else n
            _add(state["line_errors"].setdefault(at, []), messages)
        elif key in ("requested_on", "ship_to", "note"):
            _add(state["field_errors"].setdefault(key, []), messages)
        else:
            _add(state["errors"], messages)
    if not exc.fields:
        _add(state["errors"], [exc.message])


def _add(shown: list[str], messages) -> None:
    shown.extend(str(m) for m in messages if str(m) not in shown)


def _new_state() -> dict:
    return {"quantities": {}, "options": {}, "line_errors": {}, "field_errors": {}, "errors": [], "index": []}


def _has_errors(state: dict) -> bool:
    return bool(state["line_errors"] or state["field_errors"] or state["errors"])


# ------------------------------------------------------------------ the order builder (the draft)


def _version(draft) -> str:
    """Which lines, in which order, the page was built from (their products and options, not their quantities): once
    lines are added or removed elsewhere (another tab) the posted line numbers mean other lines, so the page refuses
    and shows the draft as it is. A quantity changed meanwhile is simply overwritten by the one posted."""
    if draft is None:
        return ""
    lines = [[ln.get("sku"), ln.get("options") or {}] for ln in draft.lines or ()]
    body = json.dumps([draft.dealer_id, lines], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _for_dealer(code: str, draft) -> Dealer | None:
    """The dealer the builder orders for: the one named (`?dealer=CODE`, found through the scope: 404 outside it — a
    manager's dealer, a distributor's sub-dealer), else a dealer user's own; for a manager the one its draft is for
    (None: the manager must choose)."""
    scope = current_scope()
    if code:
        dealer = dealer_or_404(code)
    elif services.is_dealer_user(current_user):
        dealer = scope.get_or_404(Dealer, id=current_user.dealer_id)
    elif draft is not None:
        dealer = scope.first(Dealer, id=draft.dealer_id)
    else:
        dealer = None
    if dealer is not None and not services.may_place_for(current_user, dealer):
        raise Forbidden(_("You may not place orders for %(dealer)s.", dealer=dealer.code))
    return dealer


def _on_behalf(dealer: Dealer) -> bool:
    """Whether the user orders for a dealer other than its own (代客下单: a manager, or a distributor for a
    sub-dealer)."""
    return not services.is_own_user(current_user, dealer)


def _builder_url(dealer: Dealer, *, q: str | None = None, anchor: str | None = None) -> str:
    args = {"dealer": dealer.code} if _on_behalf(dealer) else {}
    if q:
        args["q"] = q
    return url_for("orders.new", _anchor=anchor, **args)


def _basket(dealer: Dealer, draft, state: dict | None = None) -> dict:
    """The draft as the builder shows it (drafts.priced), with what the user typed laid over it when the page comes
    back with errors: each line's typed quantity and options, the delivery fields, the messages."""
    state = state or _new_state()
    mine = draft if draft is not None and draft.dealer_id == dealer.id else None
    with probing():  # a line that can no longer be ordered is shown with its error; the request is not refused
        priced = drafts.priced(mine, dealer)
    products = [ln["product"] for ln in priced["lines"] if ln.get("product") is not None]
    offered = catalog_options.options_by_product(p.id for p in products if p.build_to_order)
    lines = []
    for i, ln in enumerate(priced["lines"]):
        product = ln.get("product")
        codes = state["options"].get(i)
        if codes is None:
            codes = {o["group"]: o["code"] for o in ln.get("options") or ()} or dict(ln.get("chosen") or {})
        groups = _option_groups(offered.get(product.id)) if product is not None and product.build_to_order else []
        lines.append(
            {
                **ln,
                "index": i,
                "raw": state["quantities"].get(i, str(ln["quantity"])),
                "errors": [*ln["errors"], *state["line_errors"].get(i, [])],
                "groups": groups,
                "codes": codes,
            }
        )
    addresses = _addresses(dealer)
    saved_ship_to = mine.ship_to_id if mine is not None else None
    ship_to = state.get("ship_to", saved_ship_to) or (addresses[0].id if addresses else None)
    requested = priced["requested_on"].isoformat() if priced["requested_on"] else ""
    return {
        **priced,
        "lines": lines,
        "count": len(lines),
        "version": _version(mine),
        "note_raw": state.get("note", priced["note"] or ""),
        "requested_raw": state.get("requested_on", requested),
        "ship_to_id": ship_to,
        "addresses": addresses,
        "field_errors": state["field_errors"],
        "errors": state["errors"],
        "has_errors": any(ln["errors"] for ln in lines),
        "min_date": today().isoformat(),
        "on_behalf": _on_behalf(dealer),
        "seller": dealer.parent,  # §16: a sub-dealer's distributor; None: HQ
    }


def _basket_fragments(basket: dict) -> dict[str, str]:
    macros = {name: get_template_attribute("orders/_macros.html", name) for name in ("basket_lines", "basket_totals",
                                                                                      "basket_bar")}  # fmt: skip
    return {
        "basket-lines": str(macros["basket_lines"](basket)),
        "basket-totals": str(macros["basket_totals"](basket)),
        "basket-bar": str(macros["basket_bar"](basket)),
    }


def _basket_json(dealer: Dealer, state: dict | None, status: int, message: str | None = None):
    basket = _basket(dealer, drafts.draft_of(current_user), state)
    body = {
        "ok": status < 400,
        "message": message or " ".join(basket["errors"]) or None,
        "count": basket["count"],
        "field_errors": basket["field_errors"],
        "fragments": _basket_fragments(basket),
    }
    return jsonify(body), status


def _builder_page(dealer: Dealer, q: str, *, state=None, key=None, status=200, prefill=None):
    draft = drafts.draft_of(current_user)
    cards, more = _catalogue(dealer, q)
    return (
        render_template(
            "orders/new.html",
            dealer=dealer,
            basket=_basket(dealer, draft, state),
            foreign=draft if draft is not None and draft.dealer_id != dealer.id else None,
            cards=cards,
            more=more,
            q=q,
            key=key or _new_key(),
            prefill=prefill or {},
            here=_builder_url(dealer, q=q),
        ),
        status,
    )


def _builder_answer(dealer: Dealer, q: str, key: str, state: dict, status: int):
    """A refused builder post: what was written is undone first, so the basket shows the saved draft with the typed
    values and the messages over it."""
    db.session.rollback()
    if _live():
        return _basket_json(dealer, state, status)
    return _builder_page(dealer, q, state=state, key=key, status=status)


def _choose_dealer():
    dealers = (
        db.session.execute(current_scope().select(Dealer).where(Dealer.status == "active").order_by(Dealer.code))
        .unique()
        .scalars()
        .all()
    )
    draft = drafts.draft_of(current_user)
    return render_template("orders/new.html", choose=True, dealers=dealers, foreign=draft)


def _read_basket(mine) -> tuple[dict, list[dict], tuple]:
    """The builder's posted basket over the saved draft: (state to show, the lines to save, (note, requested_on,
    ship_to)). A field the form did not send keeps the draft's value."""
    f = request.form
    state = _new_state()
    before = [dict(ln) for ln in (mine.lines if mine is not None else [])]
    remove = (f.get("remove") or "").strip()
    drop = int(remove) if remove.isdigit() else None
    lines = []
    for i, ln in enumerate(before):
        raw = f.get(f"quantity-{i}")
        chosen, present = forms.posted_options(f, f"options-{i}-")
        if raw is not None:
            state["quantities"][i] = raw
        if present:
            state["options"][i] = chosen
        if i == drop:
            continue
        quantity = ln["quantity"] if raw is None else forms.parse_quantity(raw)
        if quantity is None:
            state["line_errors"][i] = [forms.quantity_error()]
        line = {"sku": ln["sku"], "quantity": quantity}
        options = chosen if present else ln.get("options")
        if options:
            line["options"] = options
        lines.append(line)
        state["index"].append(i)
    note = mine.note if mine is not None else None
    if "note" in f:
        state["note"] = f["note"]
        note, error = forms.parse_note(f["note"])
        if error:
            state["field_errors"]["note"] = [error]
    requested_on = mine.requested_on if mine is not None else None
    if "requested_on" in f:
        state["requested_on"] = f["requested_on"]
        requested_on, error = forms.parse_date(f["requested_on"])
        if error:
            state["field_errors"]["requested_on"] = [error]
    if requested_on is not None and requested_on < today():  # said with the other problems (the service agrees)
        state["field_errors"]["requested_on"] = [forms.past_date_error()]
    ship_to = mine.ship_to_id if mine is not None else None
    if "ship_to" in f:
        ship_to = forms.parse_ship_to(f["ship_to"])
        state["ship_to"] = ship_to
    return state, lines, (note, requested_on, ship_to)


def _placed(order: Order, created: bool):
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


def _place(dealer: Dealer, q: str, key: str, state: dict):
    try:
        order, created = drafts.submit(current_user, key)
    except Invalid as exc:
        if exc.code == "idempotency_mismatch":
            key = _new_key()
            state["errors"].append(
                _("This form was already used for another order. Check the lines and place the order again.")
            )
        else:
            _field_errors(state, exc, state["index"] or None)
        return _builder_answer(dealer, q, key, state, 422)
    except Conflict as exc:
        state["errors"].append(exc.message)
        return _builder_answer(dealer, q, key, state, 409)
    return _placed(order, created)


def _builder_post(dealer: Dealer, draft, q: str):
    mine = draft if draft is not None and draft.dealer_id == dealer.id else None
    action = "remove" if request.form.get("remove") is not None else (request.form.get("action") or "save")
    key = forms.idempotency_key(request.form.get("key")) or _new_key()
    if action == "place" and draft is None:  # placed a moment ago (a double click: the key answers it), or empty
        return _place(dealer, q, key, _new_state())
    if request.form.get("version") != _version(mine) or (action == "place" and mine is None):
        # the page was built from another state of the draft (or the draft is for another dealer): nothing is
        # saved or placed from it
        state = _new_state()
        state["errors"].append(
            _("Your order draft was changed in another window; here it is as saved now. Check it and try again.")
        )
        return _builder_answer(dealer, q, key, state, 409)
    state, lines, (note, requested_on, ship_to) = _read_basket(mine)
    if _has_errors(state):
        return _builder_answer(dealer, q, key, state, 422)
    if mine is not None:  # (without a draft for this dealer there is nothing on the page to save)
        saved = ([dict(ln) for ln in mine.lines or ()], mine.note, mine.requested_on, mine.ship_to_id)
        if (lines, note, requested_on, ship_to) != saved:
            try:
                drafts.save_draft(current_user, dealer, lines, note, requested_on, ship_to)
            except Invalid as exc:
                _field_errors(state, exc, state["index"])
                return _builder_answer(dealer, q, key, state, 422)
    if action == "place":
        return _place(dealer, q, key, state)
    if _live():
        return _basket_json(dealer, None, 200)
    if mine is not None and action == "save":
        flash(_("Your order draft is saved."), "success")
    return redirect(_builder_url(dealer, q=q, anchor="basket"))


@bp.route("/orders/new", methods=["GET", "POST"])
@requires("orders.read")
def new():
    """The order builder: product cards to search and add from, and the basket (the user's server-side draft) with
    its delivery details, totals and credit; for a channel or region manager `?dealer=CODE` (代客下单)."""
    _may_place()
    # managers, and a distributor's users (for itself or a sub-dealer, §16), choose whom they order for
    manager = not services.is_dealer_user(current_user) or bool(current_scope().sub_dealer_ids)
    if request.method == "GET" and manager and request.args.get("choose"):
        return _choose_dealer()
    draft = drafts.draft_of(current_user, lock=request.method == "POST")
    dealer = _for_dealer((request.values.get("dealer") or "").strip()[:40], draft)
    if dealer is None:
        return _choose_dealer()
    q = (request.values.get("q") or "").strip()[:100]
    if request.method == "POST":
        return _builder_post(dealer, draft, q)
    prefill = {}
    add = (request.args.get("add") or "").strip()[:40]
    if add:  # a link "order this" from another page: the product's card, with the quantity, ready to add
        prefill = {"sku": add, "quantity": forms.parse_quantity(request.args.get("qty", "1")) or 1}
        q = q or add
    return _builder_page(dealer, q, prefill=prefill)


@bp.route("/orders/draft/add", methods=["POST"])
@requires("orders.read")
def draft_add():
    """Add a product to the user's order draft (from the builder's cards and the catalogue pages): fields sku,
    quantity, options-<group>, next (a local path to come back to) and, for a manager, dealer."""
    _may_place()
    f = request.form
    draft = drafts.draft_of(current_user, lock=True)
    dealer = _for_dealer((f.get("dealer") or "").strip()[:40], draft)
    if dealer is None:
        flash(_("Choose the dealer you order for first."), "warning")
        return redirect(url_for("orders.new", choose=1))
    back = forms.local_path(f.get("next")) or _builder_url(dealer)
    sku = (f.get("sku") or "").strip()[:40]
    quantity = forms.parse_quantity(f.get("quantity", "1"))
    chosen, _present = forms.posted_options(f, "options-")
    problems = []
    if not sku:
        problems.append(_("Choose a product."))
    if quantity is None:
        problems.append(forms.quantity_error())
    if not problems:
        try:
            drafts.add_to_draft(current_user, dealer, sku, quantity, chosen or None)
        except Invalid as exc:
            problems = [str(m) for messages in exc.fields.values() for m in messages] or [exc.message]
    if problems:
        db.session.rollback()
        message = " ".join(problems)
        if _live():
            return jsonify({"ok": False, "message": message, "field_errors": {}, "fragments": {}}), 422
        flash(message, "danger")
        return redirect(back)
    message = _("%(quantity)s × %(sku)s added to your order draft.", quantity=quantity, sku=sku.upper())
    if _live():
        return _basket_json(dealer, None, 200, message)
    flash(message, "success")
    return redirect(back)


@bp.route("/orders/draft/discard", methods=["POST"])
@requires("orders.read")
def draft_discard():
    """Delete the user's order draft."""
    _may_place()
    draft = drafts.draft_of(current_user, lock=True)
    code = draft.dealer.code if draft is not None else (request.form.get("dealer") or "").strip()[:40]
    if drafts.discard(current_user):
        flash(_("Your order draft was deleted."), "info")
    own = services.is_dealer_user(current_user) and code.lower() == current_user.dealer.code.lower()
    return redirect(url_for("orders.new", **({"dealer": code} if code and not own else {})))


# ------------------------------------------------------------------ the list


ORDER_FILTERS = ("status", "dealer", "region", "sku", "q", "seller")


def _filters(names=ORDER_FILTERS) -> dict:
    filters = {k: (request.args.get(k) or "").strip()[:40] or None for k in names}
    if filters.get("status") not in STATUSES:
        filters["status"] = None
    filters["date_from"] = parse_date_arg("from")
    filters["date_to"] = parse_date_arg("to")
    return filters


def _seller_filter(scope, filters: dict) -> list[str]:
    """HQ and the regions filter the list by seller (a distributor's code, or HQ, §16); a dealer's users have the
    Sales page instead. A seller the caller cannot name is said, and lists nothing."""
    if scope.is_dealer:
        filters["seller"] = None
    if not filters.get("seller"):
        return []
    try:
        with probing():
            services.seller_clause(scope, filters["seller"])
    except Invalid as exc:
        return [str(m) for messages in exc.fields.values() for m in messages]
    return []


ORDER_EXPORT_HEADER = ["number", "created_at", "dealer_code", "dealer_name", "region", "status", "lines", "net", "tax",
                       "gross", "created_by", "note", "backordered", "promised_on", "seller_code"]  # fmt: skip
SALES_EXPORT_HEADER = ["number", "created_at", "dealer_code", "dealer_name", "status", "lines", "net", "tax", "gross",
                       "created_by", "placed_by", "note"]  # fmt: skip


def _export_statement(stmt, *columns):
    """The orders of a list's statement (its scope, filters and order kept) as plain rows for an export: the order's
    columns, its dealer's code and name, its number of lines and `columns`. The dealer (and its region, a seller, a
    user the caller adds) are aliases, so the filters' own sub-selects of dealers and regions stay uncorrelated."""
    dealer = aliased(Dealer, name="export_dealer")
    lines = select(func.count(OrderLine.id)).where(OrderLine.order_id == Order.id).correlate(Order).scalar_subquery()
    return stmt.with_only_columns(
        Order.id, Order.number, Order.created_at, dealer.code, dealer.name, Order.status, lines.label("lines"),
        Order.net, Order.tax, Order.gross, Order.created_by, Order.note, *columns,
    ).join(dealer, dealer.id == Order.dealer_id), dealer  # fmt: skip


def _order_export_rows(stmt):
    """The orders list's export, read from the database a chunk at a time while the file is written (CSV: while it is
    sent): plain rows, never the ORM orders; the pieces backordered and the earliest promise of each chunk's orders
    in one statement (docs/BIG_REPORTS.md)."""
    region, seller = aliased(Region, name="export_region"), aliased(Dealer, name="export_seller")
    rows, dealer = _export_statement(stmt, region.code, seller.code)
    rows = rows.join(region, region.id == dealer.region_id).outerjoin(seller, seller.id == Order.seller_id)
    for chunk in query_chunks(rows):
        waiting = backorders.order_backorders(r.id for r in chunk)
        for r in chunk:
            (_id, number, created_at, code, name, status, n_lines, net, tax, gross, by, note, region_code,
             seller_code) = r  # fmt: skip
            yield [number, local_naive(created_at), code, name, region_code, status, n_lines, net, tax, gross, by,
                   note, *waiting.get(r.id, (0, None)), seller_code]  # fmt: skip


def _sales_export_rows(stmt):
    """A distributor's sales export, read the same way as the orders list's."""
    placed_by = aliased(User, name="export_placed_by")
    rows, _dealer = _export_statement(stmt, placed_by.username)
    rows = rows.outerjoin(placed_by, placed_by.id == Order.placed_by_id)
    for _id, number, created_at, code, name, status, n_lines, net, tax, gross, by, note, placed in query_rows(rows):
        yield [number, local_naive(created_at), code, name, status, n_lines, net, tax, gross, by, placed, note]


@bp.route("/orders")
@requires("orders.read")
def index():
    """The orders of the caller's scope: a dealer's own orders (a distributor's purchases; its sales are on the Sales
    page); for HQ and the regions every dealer's, of both levels (§16), filterable by seller."""
    scope = current_scope()
    filters = _filters()
    errors = _seller_filter(scope, filters)
    stmt = services.orders_query(scope, **{**filters, "seller": None if errors else filters["seller"]})
    if errors:
        stmt = stmt.where(false())
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        return export_response(fmt, f"orders-{today()}", ORDER_EXPORT_HEADER, _order_export_rows(stmt))
    regions = []
    if not scope.is_dealer:
        regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    page = list_page(stmt)
    waiting = backorders.order_backorders(o.id for o in page["items"])  # one query for the page
    return render_template(
        "orders/index.html", page=page, filters=filters, regions=regions, waiting=waiting, errors=errors
    )


# ------------------------------------------------------------------ one order


def _dealer_ageing(dealer: Dealer) -> dict:
    row = db.session.execute(reports.dealer_ageing_select(lambda col: col == dealer.id, today())).first()
    keys = (*reports.BUCKETS, "unapplied", "total")
    return {k: money(getattr(row, k) or 0) if row else ZERO for k in keys}


def _may_cancel(order: Order) -> bool:
    if not can("orders.cancel"):
        return False
    return services.may_cancel(current_user, order)


def _may_open(endpoint: str) -> bool:
    """Whether the page exists and the permission it declares (`@requires`) lets the user in."""
    view = current_app.view_functions.get(endpoint)
    permission = getattr(view, "_permission", None)
    return view is not None and (permission is None or can(permission))


def _ships(order: Order) -> bool:
    """Whether the user ships this order: HQ (`shipments.create`) an HQ order; a distributor's users (`sales.ship`) a
    sub-dealer's order with it, from their own stock (§16), once the shipping page takes them."""
    if order.seller_id is None:
        return can("shipments.create")
    return (
        can("sales.ship") and getattr(current_user, "dealer_id", None) == order.seller_id and _may_open("shipping.ship")
    )


def _may_order_for(order: Order) -> bool:
    """Whether this user may order for the order's dealer (order again, amend)."""
    if not (can("orders.place") or can("orders.place_for")):
        return False
    return services.may_place_for(current_user, order.dealer) and order.dealer.status == "active"


def _detail(
    order: Order,
    decision: ActionForm | None = None,
    cancel: ActionForm | None = None,
    status: int = 200,
    errors: list[str] | None = None,
):
    decision = decision or ActionForm(prefix="decision", formdata=None)
    cancel = cancel or ActionForm(prefix="cancel", formdata=None)
    ctx = {"order": order, "decision": decision, "cancel": cancel, "may_cancel": _may_cancel(order)}
    ctx["errors"] = errors or []
    ctx["may_reorder"] = _may_order_for(order)
    ctx["may_amend"] = ctx["may_reorder"] and services.may_amend(current_user, order)
    stock_lines = [ln for ln in order.lines if not ln.product.build_to_order]
    ctx["stock"] = {
        "held": hq.held_by_line(ln.id for ln in stock_lines),  # what HQ holds for each stock line
        "shown": bool(stock_lines) and order.approved_at is not None,
        "waiting": any(ln.backordered for ln in stock_lines),
    }
    if order.seller_id is not None:  # §16: HQ's stock is not the seller's: nothing allocated, nothing backordered
        ctx["stock"]["shown"] = ctx["stock"]["waiting"] = False
    ctx["may_move_up"] = can("stock.manage") and ctx["stock"]["waiting"] and order.moved_up_at is None
    ctx.update(
        production=production.stage_summaries([order.id]).get(order.id),  # units per stage (None: no units)
        shipments=shipping.shipments_of(current_scope(), order),
        may_ship=order.status in shipping.SHIPPABLE and _ships(order),
    )
    ctx["in_review"] = order.status == "credit_review"
    # who decides: HQ's approvers for an HQ order, the distributor's admin for its sub-dealer's (§16)
    ctx["decides"] = ctx["in_review"] and services.decides_for_seller(current_user, order)
    ctx["may_approve"] = ctx["decides"] and services.may_approve(current_user, order)
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
@requires("orders.approve", "sales.manage")
@tenant_route("order")
def approve(number):
    return _act(number, "approve")


@bp.route("/orders/<number>/reject", methods=["POST"])
@requires("orders.approve", "sales.manage")
@tenant_route("order")
def reject(number):
    return _act(number, "reject")


@bp.route("/orders/<number>/cancel", methods=["POST"])
@requires("orders.cancel")
@tenant_route("order")
def cancel(number):
    return _act(number, "cancel")


# ------------------------------------------------------------------ amend, order again


def _amend_refusal(order: Order) -> str:
    if order.dealer.status != "active":
        return _("The dealer is suspended and cannot order.")
    return _("Order %(number)s can no longer be amended: production or shipping has started.", number=order.number)


def _amend_rows_of(order: Order) -> list[dict]:
    return [
        {"sku": ln.sku, "options": {o["group"]: o["code"] for o in ln.options or ()}, "raw": str(ln.quantity),
         "new": False}
        for ln in order.lines
    ]  # fmt: skip


def _amend_rows_posted(state: dict) -> list[dict]:
    """The amendment's lines as posted (sku[], opts[], quantity[], new[]; an added line's options from its selects),
    then a product added (`add` with addqty-<sku>, addopt-<sku>-<group>) or a line removed (`remove`)."""
    f = request.form
    skus, opts, qtys, news = f.getlist("sku[]"), f.getlist("opts[]"), f.getlist("quantity[]"), f.getlist("new[]")
    rows = []
    for i, sku in enumerate(skus[: services.MAX_LINES + 1]):
        sku = sku.strip()[:40]
        if not sku:
            continue
        new = i < len(news) and news[i] == "1"
        options = forms.decode_options(opts[i] if i < len(opts) else "")
        if new:
            chosen, present = forms.posted_options(f, f"opt-{i}-")
            options = chosen if present else options
        rows.append({"sku": sku, "options": options, "raw": qtys[i] if i < len(qtys) else "", "new": new})
    remove = (f.get("remove") or "").strip()
    if remove.isdigit() and int(remove) < len(rows):
        rows.pop(int(remove))
    add = (f.get("add") or "").strip()[:40]
    if add:
        quantity = forms.parse_quantity(f.get(f"addqty-{add}", "1"))
        chosen, _present = forms.posted_options(f, f"addopt-{add}-")
        if quantity is None:
            state["errors"].append(forms.quantity_error())
        else:
            same = next((r for r in rows if r["sku"] == add and r["options"] == chosen), None)
            current = forms.parse_quantity(same["raw"]) if same is not None else None
            if current is not None:
                same["raw"] = str(min(services.MAX_QUANTITY, current + quantity))
            else:
                rows.append({"sku": add, "options": chosen, "raw": str(quantity), "new": True})
    return rows


def _amend_outcome(order: Order, gross, summary: dict) -> dict:
    """What saving would do to the order's credit status, the way `services.amend` decides it: an approved order
    whose gross does not grow stays approved; otherwise the new gross must fit the available credit plus what the
    order already holds of it, else the order goes to credit review (on credit hold it may only shrink)."""
    counted = order.status in OPEN_FOR_CREDIT
    room = money(summary["available"] + (order.gross if counted else ZERO))
    if counted and gross <= order.gross:
        status = "approved"
    elif summary["on_hold"]:
        status = "refused" if gross > order.gross else order.status
    else:
        status = "approved" if gross <= room else "credit_review"
    return {"status": status, "room": room, "difference": money(gross - order.gross),
            "excess": max(ZERO, money(gross - room))}  # fmt: skip


def _amend_view(order: Order, rows: list[dict], state: dict, details: dict) -> dict:
    """The amendment priced today (nothing stored), each row with its product, its price or its errors."""
    dealer = order.dealer
    skus = {r["sku"] for r in rows}
    products = {
        p.sku: p for p in db.session.execute(select(Product).where(Product.sku.in_(skus))).scalars()
    } if skus else {}  # fmt: skip
    offered = catalog_options.options_by_product(p.id for p in products.values() if p.build_to_order)
    lines = []
    for i, r in enumerate(rows):
        quantity = forms.parse_quantity(r["raw"])
        if quantity is None:
            state["line_errors"].setdefault(i, []).append(forms.quantity_error())
        line = {"sku": r["sku"], "quantity": quantity}
        if r["options"]:
            line["options"] = r["options"]
        lines.append(line)
    quote = None
    if not state["line_errors"]:
        with probing():  # a preview: a refusal is shown, the request is not marked
            try:
                quote = services.quote(dealer, lines)
            except Invalid as exc:
                _field_errors(state, exc)
    placed = {(ln.sku, catalog_options.chosen_key({o["group"]: o["code"] for o in ln.options or ()})): ln.options
              for ln in order.lines}  # fmt: skip
    shown = []
    for i, r in enumerate(rows):
        product = products.get(r["sku"])
        groups = _option_groups(offered.get(product.id)) if product is not None and product.build_to_order else []
        priced = quote["lines"][i] if quote else None
        stored = priced["options"] if priced else placed.get((r["sku"], catalog_options.chosen_key(r["options"])))
        shown.append({**r, "index": i, "product": product, "priced": priced, "groups": groups,
                      "errors": state["line_errors"].get(i, []),
                      "stored": stored})  # fmt: skip
    summary = credit_summary(dealer)
    return {
        "order": order,
        "rows": shown,
        "quote": quote,
        "summary": summary,
        "outcome": _amend_outcome(order, quote["gross"], summary) if quote else None,
        "errors": state["errors"],
        "field_errors": state["field_errors"],
        "addresses": _addresses(dealer),
        "min_date": today().isoformat(),
        "on_behalf": _on_behalf(dealer),
        **details,
    }


def _amend_details(order: Order, state: dict) -> tuple[dict, dict]:
    """The delivery fields: (what to show, what to pass to `services.amend`; unchanged ones are left out)."""
    f = request.form
    shown = {
        "note_raw": order.note or "",
        "requested_raw": order.requested_on.isoformat() if order.requested_on else "",
        "ship_to_id": order.ship_to_id,
    }
    changes: dict = {}
    if request.method != "POST":
        return shown, changes
    if "note" in f:
        shown["note_raw"] = f["note"]
        note, error = forms.parse_note(f["note"])
        if error:
            state["field_errors"]["note"] = [error]
        changes["note"] = note
    if "requested_on" in f:
        shown["requested_raw"] = f["requested_on"]
        requested_on, error = forms.parse_date(f["requested_on"])
        if error:
            state["field_errors"]["requested_on"] = [error]
        elif requested_on != order.requested_on:
            changes["requested_on"] = requested_on
            if requested_on is not None and requested_on < today():
                state["field_errors"]["requested_on"] = [forms.past_date_error()]
    if "ship_to" in f:
        ship_to = forms.parse_ship_to(f["ship_to"])
        shown["ship_to_id"] = ship_to
        if ship_to != order.ship_to_id:
            changes["ship_to"] = ship_to
    return shown, changes


AMEND_FRAGMENTS = ("amend_lines", "amend_summary", "amend_catalogue")


def _amend_answer(order: Order, view: dict, status: int, q: str):
    cards, more = _catalogue(order.dealer, q) if q else ([], False)
    view.update(cards=cards, more=more, q=q)
    if _live():
        names = AMEND_FRAGMENTS if request.form.get("action") == "search" else AMEND_FRAGMENTS[:2]
        fragments = {
            name.replace("_", "-"): str(get_template_attribute("orders/_macros.html", name)(view)) for name in names
        }
        body = {"ok": status < 400, "message": " ".join(view["errors"]) or None, "count": len(view["rows"]),
                "field_errors": view["field_errors"], "fragments": fragments}  # fmt: skip
        return jsonify(body), status
    return render_template("orders/amend.html", view=view, order=order, q=q), status


@bp.route("/orders/<number>/amend", methods=["GET", "POST"])
@requires("orders.read")
@tenant_route("order")
def amend(number):
    """Change an order before production (build-to-order) or shipping (stock) starts: quantities, lines added or
    removed, the options of added lines, the note, the delivery date and the ship-to — priced again today, with the
    new gross against the available credit; saved through `services.amend` (409 once it can no longer change)."""
    order = current_scope().get_or_404(Order, number=number)
    _may_place()
    if not services.may_place_for(current_user, order.dealer):
        raise Forbidden(_("You may not amend orders of %(dealer)s.", dealer=order.dealer.code))
    if not services.may_amend(current_user, order):
        return _detail(order, status=409, errors=[_amend_refusal(order)])
    state = _new_state()
    q = (request.values.get("q") or "").strip()[:100]
    rows = _amend_rows_posted(state) if request.method == "POST" else _amend_rows_of(order)
    details, changes = _amend_details(order, state)
    view = _amend_view(order, rows, state, details)
    action = request.form.get("action") if request.method == "POST" else None
    if action != "save":
        return _amend_answer(order, view, 422 if request.method == "POST" and _has_errors(state) else 200, q)
    if _has_errors(state):
        return _amend_answer(order, view, 422, q)
    lines = [{"sku": r["sku"], "quantity": int(r["raw"]), **({"options": r["options"]} if r["options"] else {})}
             for r in rows]  # fmt: skip
    before = order.status
    try:
        order = services.amend(current_user, order, lines, **changes)
    except Invalid as exc:
        db.session.rollback()
        _field_errors(state, exc)
        order = current_scope().get_or_404(Order, number=number)
        return _amend_answer(order, _amend_view(order, rows, state, details), 422, q)
    except Conflict as exc:
        db.session.rollback()
        order = current_scope().get_or_404(Order, number=number)
        if exc.code in ("not_amendable", "dealer_suspended"):
            return _detail(order, status=409, errors=[exc.message])
        state["errors"].append(exc.message)
        return _amend_answer(order, _amend_view(order, rows, state, details), 409, q)
    if order.status == "credit_review" and before != "credit_review":
        flash(_("Order %(number)s amended. It now exceeds the available credit and waits for credit review.",
                number=order.number), "warning")  # fmt: skip
    else:
        flash(_("Order %(number)s amended.", number=order.number), "success")
    return redirect(url_for("orders.detail", number=order.number))


@bp.route("/orders/<number>/reorder", methods=["POST"])
@requires("orders.read")
@tenant_route("order")
def reorder(number):
    """Order again: the order's lines into the user's draft at today's prices; lines that can no longer be ordered
    are listed in a warning instead of being dropped silently."""
    order = current_scope().get_or_404(Order, number=number)
    _may_place()
    draft, skipped = drafts.reorder(current_user, order)
    copied = len(order.lines) - len(skipped)
    if copied:
        flash(_("The lines of order %(number)s are in your order draft, at today's prices.", number=order.number),
              "success")  # fmt: skip
    if skipped:
        listed = "; ".join(
            _("%(sku)s × %(quantity)s: %(reason)s", sku=s["sku"], quantity=s["quantity"], reason=s["reason"])
            for s in skipped
        )
        flash(_("Not copied into the draft: %(lines)s", lines=listed), "warning")
    return redirect(_builder_url(draft.dealer, anchor="basket"))


# ------------------------------------------------------------------ the approval queue


@bp.route("/approvals")
@requires("orders.approve", "sales.manage")
def approvals():
    """Orders in credit review, the longest waiting first, each with how long it has waited (since it last entered
    credit review: an amendment may send an approved order back, §12). HQ and the regions see HQ's orders; a
    distributor's admin its sub-dealers' orders with it, which it decides (§16)."""
    from portal.home.queues import review_since, review_since_column, review_since_subquery
    from portal.platform.timeutil import utcnow

    scope = current_scope()
    if scope.is_dealer and not scope.sub_dealer_ids:
        raise Forbidden(_("Only a distributor sells to sub-dealers."))
    filters = {k: (request.args.get(k) or "").strip() or None for k in ("dealer", "region")}
    if scope.is_dealer:
        filters["region"] = None
    since = review_since_subquery()
    sold_by = scope.dealer_id if scope.is_dealer else None  # a distributor decides its sales; HQ its own
    stmt = (
        services.orders_query(scope, status="credit_review", sold_by=sold_by, **filters)
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
    regions = []
    if not scope.is_dealer:
        regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    return render_template(
        "orders/approvals.html",
        page=page,
        rows=rows,
        filters=filters,
        regions=regions,
        today=today(),
        sub_dealers=_sub_dealers(scope),
    )


# ------------------------------------------------------------------ a distributor's sales (§16)


def _sub_dealers(scope) -> list[Dealer]:
    """A distributor's sub-dealers (the filters of its sales pages); [] for anyone else."""
    if not scope.sub_dealer_ids:
        return []
    stmt = scope.select(Dealer).where(Dealer.id.in_(scope.sub_dealer_ids)).order_by(Dealer.code)
    return list(db.session.execute(stmt).unique().scalars())


SALES_FILTERS = ("status", "dealer", "q")


@bp.route("/sales")
@requires("orders.read")
def sales():
    """A distributor's sales (§16): its sub-dealers' orders with it, newest first, filterable by status, sub-dealer,
    order number and date, with how many wait for its admin's decision. Only a distributor's users have it."""
    scope = current_scope()
    if not scope.sub_dealer_ids:
        raise Forbidden(_("Only a distributor sells to sub-dealers."))
    filters = _filters(SALES_FILTERS)
    stmt = services.orders_query(scope, sold_by=scope.dealer_id, **filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        return export_response(fmt, f"sales-{today()}", SALES_EXPORT_HEADER, _sales_export_rows(stmt))
    to_decide = db.session.execute(
        select(func.count()).select_from(
            services.orders_query(scope, status="credit_review", sold_by=scope.dealer_id).order_by(None).subquery()
        )
    ).scalar_one()
    return render_template(
        "orders/sales.html",
        page=list_page(stmt),
        filters=filters,
        sub_dealers=_sub_dealers(scope),
        to_decide=to_decide,
    )

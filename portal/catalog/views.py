"""Browser pages: the catalogue (with each dealer's own prices), product forms and CSV import, a build-to-order
product's options, price lists, the price preview and a dealer's "my prices".

Price lists (§16): HQ's roles keep HQ's lists and see every distributor's; a distributor's admin keeps its own lists
for its sub-dealers (`sales.manage`) and sees those alone (portal/catalog/services.py says whose scopes are which).
"""

from __future__ import annotations

import itertools
from decimal import Decimal, InvalidOperation

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from portal.catalog import option_admin, pricing, services
from portal.catalog.forms import (
    CategoryForm,
    OptionEditForm,
    OptionForm,
    PriceListForm,
    PricePreviewForm,
    ProductForm,
    ProductImportForm,
)
from portal.catalog.labels import (
    OPTION_GROUP_LABELS,
    category_label,
    forget_category_names,
    option_group_label,
    option_label,
    options_text,
    unit_label,
)
from portal.catalog.models import OPTION_GROUPS, Category, PriceList, Product, ProductOption
from portal.catalog.services import dealer_prices, products_query
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform import tenancy
from portal.platform.auth import requires
from portal.platform.errors import Conflict, Invalid, NotFound
from portal.platform.money import parse_money
from portal.platform.tenancy import current_scope, dealer_or_404, not_tenant_route, tenant_route
from portal.platform.timeutil import today
from portal.platform.web import (
    AUDIT_ACTION_LABELS,
    apply_errors,
    export_response,
    list_page,
    page_args,
    parse_date_arg,
    query_chunks,
    render_form,
)

bp = Blueprint("catalog", __name__)

PRODUCT_COLUMNS = list(services.IMPORT_COLUMNS)
# the export adds the category's name (in the reader's language) after its code; the import ignores it
EXPORT_COLUMNS = [c for col in PRODUCT_COLUMNS for c in ((col, "category_name") if col == "category" else (col,))]

# category names and units in the reader's language, on every page that shows a product (portal/catalog/labels.py)
bp.add_app_template_global(category_label, "category_label")
bp.add_app_template_global(unit_label, "unit_label")
# a build-to-order line's (or unit's) options as one short line, on the order, tracking and shipping pages
bp.add_app_template_global(options_text, "options_text")
bp.add_app_template_global(option_label, "option_label")
bp.add_app_template_global(OPTION_GROUP_LABELS, "OPTION_GROUP_LABELS")

# the audit page's labels of the options' actions (portal/platform/web.py holds the others)
AUDIT_ACTION_LABELS.update(
    {
        "product_option.create": _l("Product option added"),
        "product_option.update": _l("Product option changed"),
        "product_option.deactivate": _l("Product option deactivated"),
    }
)


def own_dealer() -> Dealer | None:
    """The caller's dealer when the caller is a dealer user (its prices are shown), else None (loaded with the user:
    no statement)."""
    return tenancy.own_dealer() if current_scope().is_dealer else None


def categories() -> list[str]:
    stmt = select(Product.category).where(current_scope().clause(Product)).distinct().order_by(Product.category)
    return [c for (c,) in db.session.execute(stmt)]


def _flag(name: str) -> bool | None:
    value = request.args.get(name)
    return True if value == "1" else False if value == "0" else None


def _product_row(p: Product) -> list:
    return [
        p.sku,
        p.name,
        p.name_en,
        p.category,
        category_label(p.category),
        p.unit,
        p.list_price,
        p.tax_rate,
        p.min_resale_price,
        p.build_to_order,
        p.lead_time_days,
        p.active,
    ]


def _product_export_rows(stmt, dealer_id: int | None, on):
    """The catalogue's export, read a chunk of products at a time while the file is written (CSV: while it is sent),
    as plain rows; a dealer's own price of each (at one piece, on `on`) resolved by the pricing's one path from the
    candidate lists, read once. The dealer is read again by its id: the view's objects are detached by the time a
    streamed CSV asks for its rows (docs/BIG_REPORTS.md)."""
    lists = pricing.candidate_lists(db.session.get(Dealer, dealer_id), on) if dealer_id else None
    columns = [getattr(Product, c) for c in PRODUCT_COLUMNS]  # what the row and the pricing read (sku, category, price)
    for chunk in query_chunks(stmt.with_only_columns(*columns)):
        prices = pricing.resolve_all(lists, chunk, 1) if lists is not None else ()
        for p, resolved in itertools.zip_longest(chunk, prices):
            row = _product_row(p)
            if resolved is not None:
                row += [resolved.unit_price, resolved.rule["price_list"] if resolved.rule else ""]
            yield row


# ------------------------------------------------------------------ the catalogue


@bp.route("/products")
@requires("catalog.read")
def products():
    scope = current_scope()
    filters = {
        "q": request.args.get("q") or None,
        "category": request.args.get("category") or None,
        "active": _flag("active") if scope.is_hq else None,
    }
    stmt = products_query(scope, **filters)
    dealer = own_dealer()
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        header = EXPORT_COLUMNS + (["my_price", "price_rule"] if dealer else [])
        return export_response(fmt, "products", header, _product_export_rows(stmt, dealer and dealer.id, today()))
    page = list_page(stmt)
    prices = {}
    if dealer:
        lists = pricing.candidate_lists(dealer, today())  # one query for the whole page
        prices = {p.sku: pricing.resolve_with(lists, p, 1) for p in page["items"]}
    return render_template(
        "catalog/products.html", page=page, filters=filters, dealer=dealer, prices=prices, categories=categories()
    )


def _product_data(form: ProductForm) -> dict:
    errors: dict[str, list[str]] = {}
    data = {
        "name": form.name.data.strip(),
        "name_en": (form.name_en.data or "").strip() or None,
        "category": form.category.data.strip(),
        "unit": form.unit.data.strip(),
        "build_to_order": bool(form.build_to_order.data),
        "lead_time_days": form.lead_time_days.data,
        "active": bool(form.active.data),
    }
    try:
        data["list_price"] = parse_money(form.list_price.data)
    except ValueError as exc:
        errors["list_price"] = [str(exc)]
    try:
        data["min_resale_price"] = parse_money(form.min_resale_price.data) if form.min_resale_price.data else None
    except ValueError as exc:
        errors["min_resale_price"] = [str(exc)]
    try:
        rate = Decimal(str(form.tax_rate.data).strip())
        if not rate.is_finite() or rate.as_tuple().exponent < -4 or not (Decimal(0) <= rate < 1):
            raise InvalidOperation
        data["tax_rate"] = rate
    except (InvalidOperation, ValueError):
        errors["tax_rate"] = [_("A rate from 0 to 1, e.g. 0.13.")]
    if errors:
        raise Invalid(fields=errors)
    return data


@bp.route("/products/new", methods=["GET", "POST"])
@requires("catalog.write")
def product_new():
    form = ProductForm()
    known = categories()
    if form.validate_on_submit():
        try:
            product = services.create_product(current_user, {"sku": form.sku.data, **_product_data(form)})
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Product %(sku)s created.", sku=product.sku), "success")
            return redirect(url_for("catalog.products", q=product.sku))
    return render_form("catalog/product_form.html", form, form=form, product=None, categories=known)


@bp.route("/products/<sku>/edit", methods=["GET", "POST"])
@requires("catalog.write")
@not_tenant_route("products belong to HQ, not to a dealer")
def product_edit(sku):
    product = current_scope().get_or_404(Product, sku=sku)
    known = categories()
    form = ProductForm(obj=product)
    if request.method == "GET":
        form.tax_rate.data = str(product.tax_rate.normalize()) if product.tax_rate is not None else "0.13"
    form.sku.data = product.sku
    if form.validate_on_submit():
        try:
            services.update_product(current_user, product, _product_data(form))
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Product %(sku)s saved.", sku=product.sku), "success")
            return redirect(url_for("catalog.products", q=product.sku))
    return render_form("catalog/product_form.html", form, form=form, product=product, categories=known)


# ------------------------------------------------------------------ a build-to-order product's options


def _option_or_404(product: Product, group: str, code: str) -> ProductOption:
    if group not in OPTION_GROUPS:  # the same answer as a missing option
        raise NotFound(_("%(kind)s not found.", kind=ProductOption.__name__))
    return current_scope().get_or_404(ProductOption, product_id=product.id, group=group, code=code)


def _delta(form) -> str:
    return (form.price_delta.data or "").strip() or "0"


@bp.route("/products/<sku>/options", methods=["GET", "POST"])
@requires("catalog.write")
@not_tenant_route("products and their options belong to HQ, not to a dealer")
def product_options(sku):
    """The product's options by group (inactive ones too), and a form to add one."""
    product = current_scope().get_or_404(Product, sku=sku)
    form = OptionForm()
    if form.validate_on_submit():
        try:
            option = option_admin.create_option(
                current_user,
                product,
                form.group.data,
                form.code.data,
                form.label.data,
                form.label_en.data,
                _delta(form),
                is_default=bool(form.is_default.data),
                position=form.position.data,
            )
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(
                _("Option %(group)s %(code)s added.", group=option_group_label(option.group), code=option.code),
                "success",
            )
            return redirect(url_for("catalog.product_options", sku=product.sku))
    options = option_admin.product_options(product)
    groups = [(g, [o for o in options if o.group == g]) for g in OPTION_GROUPS]
    return render_form(
        "catalog/product_options.html", form, form=form, product=product, groups=groups, count=len(options)
    )


@bp.route("/products/<sku>/options/<group>/<code>/edit", methods=["GET", "POST"])
@requires("catalog.write")
@not_tenant_route("products and their options belong to HQ, not to a dealer")
def product_option_edit(sku, group, code):
    product = current_scope().get_or_404(Product, sku=sku)
    option = _option_or_404(product, group, code)
    form = OptionEditForm(obj=option)
    if request.method == "GET":
        form.price_delta.data = str(option.price_delta)
    if form.validate_on_submit():
        try:
            option_admin.update_option(
                current_user,
                option,
                label=form.label.data,
                label_en=form.label_en.data,
                price_delta=_delta(form),
                is_default=bool(form.is_default.data),
                position=form.position.data,
            )
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(_("Option %(group)s %(code)s saved.", group=option_group_label(group), code=option.code), "success")
            return redirect(url_for("catalog.product_options", sku=product.sku))
    return render_form("catalog/product_option_form.html", form, form=form, product=product, option=option)


@bp.route("/products/<sku>/options/<group>/<code>/deactivate", methods=["POST"])
@requires("catalog.write")
@not_tenant_route("products and their options belong to HQ, not to a dealer")
def product_option_deactivate(sku, group, code):
    product = current_scope().get_or_404(Product, sku=sku)
    option = _option_or_404(product, group, code)
    try:
        option_admin.deactivate_option(current_user, option)
    except Conflict as exc:
        flash(exc.message, "info")
    else:
        flash(
            _("Option %(group)s %(code)s deactivated: new orders cannot choose it.", group=option_group_label(group),
              code=option.code),
            "success",
        )  # fmt: skip
    return redirect(url_for("catalog.product_options", sku=product.sku))


@bp.route("/products/<sku>/options/<group>/<code>/reactivate", methods=["POST"])
@requires("catalog.write")
@not_tenant_route("products and their options belong to HQ, not to a dealer")
def product_option_reactivate(sku, group, code):
    product = current_scope().get_or_404(Product, sku=sku)
    option = _option_or_404(product, group, code)
    try:
        option_admin.update_option(current_user, option, active=True)
    except Invalid as exc:
        flash(exc.message, "warning")  # the product is built to order no more
    else:
        flash(_("Option %(group)s %(code)s is offered again.", group=option_group_label(group), code=option.code),
              "success")  # fmt: skip
    return redirect(url_for("catalog.product_options", sku=product.sku))


@bp.route("/products/import", methods=["GET", "POST"])
@requires("catalog.write")
def product_import():
    form = ProductImportForm()
    rejected: list[dict] = []
    if form.validate_on_submit():
        try:
            try:
                text = form.file.data.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise Invalid(fields={"file": [_("The file must be UTF-8 CSV.")]}) from exc
            result = services.import_products(current_user, text)
        except Invalid as exc:
            fields = dict(exc.fields or {})
            rejected = fields.pop("rows", [])
            if rejected:
                form.form_errors.append(exc.message)
            if "file" in fields:
                form.file.errors = list(form.file.errors) + fields.pop("file")
            for name, messages in fields.items():  # a row that passed parsing but not the product rules
                form.form_errors.extend(f"{name}: {m}" for m in messages)
            if not (rejected or form.file.errors or form.form_errors):
                form.form_errors.append(exc.message)
        else:
            flash(
                _(
                    "Imported: %(created)s products created, %(updated)s updated.",
                    created=result["created"],
                    updated=result["updated"],
                ),
                "success",
            )
            return redirect(url_for("catalog.products"))
    return render_form("catalog/product_import.html", form, form=form, rejected=rejected, columns=PRODUCT_COLUMNS)


# ------------------------------------------------------------------ price lists


PRICE_LIST_FILTERS = ("q", "kind", "active")


# §16: HQ's roles keep HQ's lists (`prices.manage`), a distributor's admin its own for its sub-dealers (`sales.manage`)
KEEPERS = ("prices.manage", "sales.manage")


@bp.route("/price-lists")
@requires(*KEEPERS)
def price_lists():
    seller = services.seller_of(current_user)  # a sub-dealer keeps none (403)
    filters = {k: request.args.get(k) or None for k in PRICE_LIST_FILTERS}
    stmt = current_scope().select(PriceList).order_by(PriceList.active.desc(), PriceList.id.desc())
    if filters["q"]:
        stmt = stmt.where(func.lower(PriceList.name).like(f"%{filters['q'].strip().lower()}%"))
    if filters["kind"] in ("all", "tier", "region", "dealer"):
        stmt = stmt.where(PriceList.scope_kind == filters["kind"])
    if _flag("active") is not None:
        stmt = stmt.where(PriceList.active.is_(_flag("active")))
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        items = db.session.execute(stmt).unique().scalars().all()
        services.mark_floors(items)
        header = ["id", "name", "scope", "valid_from", "valid_to", "priority", "active", "rules", "seller",
                  "rules_below_floor"]  # fmt: skip
        rows = [
            [p.id, p.name, p.scope, p.valid_from, p.valid_to, p.priority, p.active, len(p.rules),
             p.seller.code if p.seller_id else "", sum(1 for r in p.rules if r.below_floor_skus)]
            for p in items
        ]  # fmt: skip
        return export_response(fmt, "price-lists", header, rows)
    page = list_page(stmt)
    services.mark_floors(page["items"])
    return render_template(
        "catalog/price_lists.html", page=page, filters=filters, today=today(), seller=seller
    )


def _text(value) -> str:
    return (value or "").strip()


def _rules_from(form: PriceListForm) -> tuple[list[dict], list[int], dict[int, list[str]]]:
    """The non-blank rows of the rules table, parsed; with each rule's row number and the rows' own errors."""
    rules, rows, errors = [], [], {}
    for row_no, entry in enumerate(form.rules.entries):
        f = entry.form
        if f.is_blank():
            continue
        problems = []
        rule = {"sku": _text(f.sku.data) or None, "category": _text(f.category.data) or None, "min_qty": 1}
        if _text(f.min_qty.data):
            try:
                rule["min_qty"] = int(_text(f.min_qty.data))
            except ValueError:
                problems.append(_("The minimum quantity is a whole number."))
        try:
            rule["unit_price"] = parse_money(f.unit_price.data) if _text(f.unit_price.data) else None
        except ValueError as exc:
            problems.append(str(exc))
        rule["discount_pct"] = None
        if _text(f.discount_pct.data):
            try:
                pct = Decimal(_text(f.discount_pct.data).rstrip("%"))
                if not pct.is_finite() or pct.as_tuple().exponent < -3:
                    raise InvalidOperation
                rule["discount_pct"] = pct
            except (InvalidOperation, ValueError):
                problems.append(_("A discount from 0 to 100 percent."))
        if problems:
            errors[row_no] = problems
            continue
        rules.append(rule)
        rows.append(row_no)
    return rules, rows, errors


def _price_list_page(price_list: PriceList | None):
    seller = services.seller_of(current_user)  # whose lists the caller keeps (a sub-dealer: none, 403)
    read_only = price_list is not None and price_list.seller_id != (seller.id if seller else None)
    if read_only and request.method == "POST":
        services.check_list_keeper(current_user, price_list)  # HQ sees a distributor's lists, never changes them
    # read before any change is pending
    context = {
        "scope_choices": services.scope_choices(current_scope(), seller),
        "categories": categories(),
        "seller": seller,
        "read_only": read_only,
        "floor_rows": {},
    }
    if request.method == "GET":
        data = {"rules": [{} for _i in range(5)]}
        if price_list is not None:
            data = {
                "name": price_list.name,
                "scope": price_list.scope,
                "valid_from": price_list.valid_from,
                "valid_to": price_list.valid_to,
                "priority": price_list.priority,
                "active": price_list.active,
                "rules": [
                    {
                        "sku": r.sku or "",
                        "category": r.category or "",
                        "min_qty": str(r.min_qty),
                        "unit_price": str(r.unit_price) if r.unit_price is not None else "",
                        "discount_pct": format(r.discount_pct.normalize(), "f") if r.discount_pct is not None else "",
                    }
                    for r in price_list.rules
                ]
                + [{} for _i in range(5)],
            }
            services.mark_floors([price_list])  # the rows below HQ's floor, marked (a distributor's list)
            context["floor_rows"] = {i: r.below_floor_skus for i, r in enumerate(price_list.rules)
                                     if r.below_floor_skus}  # fmt: skip
        form = PriceListForm(data=data)
    else:
        form = PriceListForm()
    row_errors: dict[int, list[str]] = {}
    if form.validate_on_submit():
        rules, rows, row_errors = _rules_from(form)
        try:
            if row_errors:
                raise Invalid(fields={})
            data = {
                "name": form.name.data.strip(),
                "scope": form.scope.data.strip(),
                "valid_from": form.valid_from.data,
                "valid_to": form.valid_to.data,
                "priority": form.priority.data,
                "active": bool(form.active.data),
                "rules": rules,
            }
            saved = services.save_price_list(current_user, data, price_list, seller=seller)
        except Invalid as exc:
            fields = dict(exc.fields or {})
            for key in [k for k in fields if k.startswith("rules.")]:
                row_errors.setdefault(rows[int(key.split(".")[1])], []).extend(fields.pop(key))
            form.form_errors.extend(fields.pop("rules", []))
            if fields:
                apply_errors(form, Invalid(exc.message, fields=fields))
            if row_errors:
                form.form_errors.append(_("Correct the marked rules."))
        else:
            flash(_("Price list %(name)s saved.", name=saved.name), "success")
            return redirect(url_for("catalog.price_lists"))
    return render_form(
        "catalog/price_list_form.html",
        form,
        form=form,
        price_list=price_list,
        row_errors=row_errors,
        **context,
    )


@bp.route("/price-lists/new", methods=["GET", "POST"])
@requires(*KEEPERS)
def price_list_new():
    return _price_list_page(None)


@bp.route("/price-lists/<int:price_list_id>/edit", methods=["GET", "POST"])
@requires(*KEEPERS)
@tenant_route("price_list")
def price_list_edit(price_list_id):
    return _price_list_page(current_scope().get_or_404(PriceList, id=price_list_id))


@bp.route("/price-lists/preview")
@requires("prices.manage")
def price_preview():
    scope = current_scope()
    form = PricePreviewForm(formdata=request.args if request.args else None)
    if not request.args:
        form.on.data = today()
    result = None
    if request.args and form.validate():
        dealer = scope.first(Dealer, code=form.dealer.data.strip())
        product = scope.first(Product, sku=form.sku.data.strip())
        if dealer is None:
            form.dealer.errors = [_("Unknown dealer.")]
        if product is None:
            form.sku.errors = [_("Unknown SKU %(sku)s.", sku=form.sku.data.strip())]
        if dealer is not None and product is not None:
            on = form.on.data = form.on.data or today()
            qty = form.qty.data
            candidates = pricing.candidate_lists(dealer, on)
            resolved = pricing.resolve_with(candidates, product, qty)
            per_list = []
            for pl, rank in sorted(candidates, key=lambda c: (c[1], c[0].priority), reverse=True):
                best = pricing.resolve_with([(pl, rank)], product, qty)
                if best.rule is not None:
                    per_list.append({"price_list": pl, "resolved": best})
            result = {
                "dealer": dealer,
                "product": product,
                "on": on,
                "qty": qty,
                "resolved": resolved,
                "amounts": pricing.price_line(resolved.unit_price, qty, product.tax_rate),
                "per_list": per_list,
            }
    dealers = db.session.execute(scope.select(Dealer).order_by(Dealer.code).limit(2000)).unique().scalars().all()
    skus = db.session.execute(scope.select(Product).order_by(Product.sku).limit(2000)).unique().scalars().all()
    return render_form("catalog/price_preview.html", form, form=form, result=result, dealers=dealers, products=skus)


# ------------------------------------------------------------------ a dealer's own prices


def _qty_arg() -> int:
    try:
        return min(100000, max(1, int(request.args.get("qty", 1))))
    except ValueError:
        return 1


@bp.route("/dealers/<code>/prices")
@requires("prices.read")
@tenant_route("dealer")
def prices(code):
    dealer = dealer_or_404(code)
    qty = _qty_arg()
    on = parse_date_arg("date", today())
    q = (request.args.get("q") or "").strip().lower()
    category = request.args.get("category") or None
    items = dealer_prices(dealer, None, qty, on)
    # the category filter's choices: a dealer's scope sees the active products, every one of which is priced here
    # (no statement of their own); HQ's sees the inactive ones' categories too
    choices = sorted({i["product"].category for i in items}) if not current_scope().is_hq else categories()
    if q:
        items = [
            i
            for i in items
            if q in i["sku"].lower() or q in i["name"].lower() or q in (i["product"].name_en or "").lower()
        ]
    if category:
        items = [i for i in items if i["product"].category == category]
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        header = [
            "sku",
            "name",
            "name_en",
            "category",
            "category_name",
            "unit",
            "quantity",
            "date",
            "unit_price",
            "list_price",
            "price_list",
            "scope",
            "priority",
            "min_qty",
            "rule",
        ]
        rows = []
        for i in items:
            rule = i["rule"] or {}
            how = f"-{rule['discount_pct']}%" if "discount_pct" in rule else rule.get("unit_price", "")
            p = i["product"]
            rows.append(
                [
                    i["sku"],
                    p.name,
                    p.name_en,
                    p.category,
                    category_label(p.category),
                    p.unit,
                    qty,
                    on,
                    i["unit_price"],
                    i["list_price"],
                    rule.get("price_list", ""),
                    rule.get("scope", ""),
                    rule.get("priority", ""),
                    rule.get("min_qty", ""),
                    how,
                ]
            )
        return export_response(fmt, f"prices-{dealer.code}-{on}", header, rows)
    page_no, per_page = page_args(50)
    pages = max(1, -(-len(items) // per_page))
    page = {
        "items": items[(page_no - 1) * per_page : page_no * per_page],
        "page": page_no,
        "per_page": per_page,
        "total": len(items),
        "pages": pages,
    }
    return render_template(
        "catalog/dealer_prices.html",
        dealer=dealer,
        page=page,
        qty=qty,
        on=on,
        q=request.args.get("q") or "",
        category=category,
        categories=choices,
    )


# ------------------------------------------------------------------ categories and their names


@bp.route("/categories")
@requires("catalog.write")
def category_list():
    """Every category with its names in both languages and how many products carry it."""
    counts = dict(db.session.execute(select(Product.category, func.count()).group_by(Product.category)).all())
    items = db.session.execute(current_scope().select(Category).order_by(Category.code)).scalars().all()
    return render_template("catalog/categories.html", items=items, counts=counts)


@bp.route("/categories/<code>/edit", methods=["GET", "POST"])
@requires("catalog.write")
@not_tenant_route("categories are the whole channel's catalogue, not a dealer's")
def category_edit(code):
    category = current_scope().get_or_404(Category, code=code)
    form = CategoryForm(obj=category)
    if form.validate_on_submit():
        try:
            services.update_category(current_user, category, {"name": form.name.data, "name_en": form.name_en.data})
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            forget_category_names()
            flash(_("Category %(code)s saved.", code=category.code), "success")
            return redirect(url_for("catalog.category_list"))
    count = db.session.execute(select(func.count()).select_from(Product).where(Product.category == code)).scalar_one()
    return render_form("catalog/category_form.html", form, form=form, category=category, count=count)
